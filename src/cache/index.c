/*
 * index.c - the cache index: hash table, queue, SIEVE and LRU eviction.
 * See index.h for the policy; this file is pure (no locks, no I/O).
 */
#include "cache/index.h"

static size_t bucket_of(const struct px_cache_index *ix, const uint8_t *h)
{
	uint64_t v;

	memcpy(&v, h, sizeof(v));
	return (size_t)(v & (ix->nbuckets - 1));
}

int px_cache_index_init(struct px_cache_index *ix, uint64_t cap,
			enum px_cache_policy policy)
{
	memset(ix, 0, sizeof(*ix));
	ix->policy = policy;
	ix->cap = cap;
	ix->nbuckets = 256;
	ix->buckets = calloc(ix->nbuckets, sizeof(*ix->buckets));
	return ix->buckets ? 0 : PX_ENOMEM;
}

void px_cache_index_release(struct px_cache_index *ix,
			    void (*release)(struct px_cache_ent *))
{
	struct px_cache_ent *e, *next;

	for (e = ix->head; e; e = next) {
		next = e->prev;
		if (release)
			release(e);
	}
	free(ix->buckets);
	memset(ix, 0, sizeof(*ix));
}

/* Double the table when it is fuller than one entry a bucket; on
 * allocation failure the table just stays as it is. */
static void grow(struct px_cache_index *ix)
{
	size_t n = ix->nbuckets * 2;
	struct px_cache_ent **b = calloc(n, sizeof(*b));

	if (!b)
		return;
	for (size_t i = 0; i < ix->nbuckets; i++) {
		struct px_cache_ent *e, *next;

		for (e = ix->buckets[i]; e; e = next) {
			uint64_t v;

			next = e->hnext;
			memcpy(&v, e->hash, sizeof(v));
			e->hnext = b[v & (n - 1)];
			b[v & (n - 1)] = e;
		}
	}
	free(ix->buckets);
	ix->buckets = b;
	ix->nbuckets = n;
}

struct px_cache_ent *px_cache_index_peek(struct px_cache_index *ix,
					 const uint8_t hash[32])
{
	struct px_cache_ent *e = ix->buckets[bucket_of(ix, hash)];

	while (e && memcmp(e->hash, hash, 32))
		e = e->hnext;
	return e;
}

/* Queue: head is the newest end; prev points toward the tail. */
static void queue_unlink(struct px_cache_index *ix, struct px_cache_ent *e)
{
	if (ix->hand == e)
		ix->hand = e->next; /* toward the head, as the hand moves */
	if (e->next)
		e->next->prev = e->prev;
	else
		ix->head = e->prev;
	if (e->prev)
		e->prev->next = e->next;
	else
		ix->tail = e->next;
	e->prev = e->next = NULL;
}

static void queue_push_head(struct px_cache_index *ix, struct px_cache_ent *e)
{
	e->next = NULL;
	e->prev = ix->head;
	if (ix->head)
		ix->head->next = e;
	else
		ix->tail = e;
	ix->head = e;
}

struct px_cache_ent *px_cache_index_get(struct px_cache_index *ix,
					const uint8_t hash[32])
{
	struct px_cache_ent *e = px_cache_index_peek(ix, hash);

	if (!e)
		return NULL;
	if (ix->policy == PX_CACHE_LRU) {
		queue_unlink(ix, e);
		queue_push_head(ix, e);
	} else {
		e->visited = true;
	}
	return e;
}

void px_cache_index_remove(struct px_cache_index *ix, struct px_cache_ent *e)
{
	struct px_cache_ent **pp = &ix->buckets[bucket_of(ix, e->hash)];

	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (!*pp)
		PX_BUG("cache entry not in its index");
	*pp = e->hnext;
	e->hnext = NULL;
	queue_unlink(ix, e);
	ix->used -= e->cost;
	ix->count--;
}

/* The entry the policy gives up next (the index is not empty). */
static struct px_cache_ent *victim(struct px_cache_index *ix)
{
	struct px_cache_ent *p;

	if (ix->policy == PX_CACHE_LRU)
		return ix->tail;
	p = ix->hand ? ix->hand : ix->tail;
	while (p->visited) {
		p->visited = false;
		p = p->next ? p->next : ix->tail;
	}
	ix->hand = p; /* removing p moves the hand to the next newer one */
	return p;
}

static void push_victim(struct px_cache_ent **victims, struct px_cache_ent *e)
{
	e->next = *victims;
	*victims = e;
}

int px_cache_index_put(struct px_cache_index *ix, struct px_cache_ent *ent,
		       struct px_cache_ent **victims)
{
	size_t b;

	if (ent->cost > ix->cap)
		return PX_ETOOBIG;
	if (px_cache_index_peek(ix, ent->hash))
		PX_BUG("cache entry inserted twice");
	while (ix->used + ent->cost > ix->cap) {
		struct px_cache_ent *v = victim(ix);

		px_cache_index_remove(ix, v);
		ix->evictions++;
		push_victim(victims, v);
	}
	if (ix->count >= ix->nbuckets)
		grow(ix);
	ent->visited = false;
	b = bucket_of(ix, ent->hash);
	ent->hnext = ix->buckets[b];
	ix->buckets[b] = ent;
	queue_push_head(ix, ent);
	ix->used += ent->cost;
	ix->count++;
	return 0;
}

size_t px_cache_index_purge(struct px_cache_index *ix,
			    bool (*match)(void *ctx,
					  const struct px_cache_ent *ent),
			    void *ctx, struct px_cache_ent **victims)
{
	struct px_cache_ent *e = ix->head, *older;
	size_t n = 0;

	for (; e; e = older) {
		older = e->prev;
		if (match(ctx, e)) {
			px_cache_index_remove(ix, e);
			push_victim(victims, e);
			n++;
		}
	}
	return n;
}
