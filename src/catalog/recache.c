/*
 * recache.c - the node-local record cache (recache.h).
 *
 * Keys hash to one of NSHARDS shards and, within it, to one of NGEN
 * generation counters. Each shard is a chained hash table with an LRU
 * list and its own budget (a 1/NSHARDS share of the bytes and entries).
 * A forget() bumps the generation of the key's group under the shard's
 * lock; a put() compares its ticket with it under the same lock, so an
 * invalidation and an insertion of the same key are ordered one way or
 * the other, never interleaved. lost() and a late heartbeat bump the
 * epoch (an atomic) and then empty every shard.
 */
#include "catalog/recache.h"

#include <pthread.h>
#include <stdatomic.h>

#define NSHARDS 16
#define NGEN 64

struct ent {
	struct ent *hnext;       /* hash chain */
	struct ent *prev, *next; /* LRU list, most recent first */
	uint64_t hash;
	size_t nkey, nval, cost;
	bool absent;
	char data[]; /* key, NUL, value */
};

struct shard {
	pthread_mutex_t lock;
	struct ent **table;
	size_t nbuckets; /* a power of two */
	struct ent *head, *tail;
	size_t n, bytes;
	uint64_t gen[NGEN];
};

struct px_recache {
	size_t max_bytes, max_entries; /* per shard */
	atomic_uint_fast64_t epoch;
	atomic_int_fast64_t live_until; /* monotonic us; 0: not live */
	atomic_uint_fast64_t hits, misses, bypassed, invalidations,
		evictions;
	struct shard shards[NSHARDS];
};

static uint64_t hash_of(const char *key)
{
	uint64_t h = 1469598103934665603ull;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return h;
}

static struct shard *shard_of(struct px_recache *rc, uint64_t h)
{
	return &rc->shards[h % NSHARDS];
}

static unsigned gen_of(uint64_t h)
{
	return (unsigned)((h / NSHARDS) % NGEN);
}

int px_recache_new(size_t max_bytes, size_t max_entries,
		   struct px_recache **out)
{
	struct px_recache *rc;
	size_t nb = 16;

	*out = NULL;
	if (!max_bytes)
		return PX_EINVAL;
	if (!max_entries)
		max_entries = max_bytes / 256;
	if (!(rc = calloc(1, sizeof(*rc))))
		return PX_ENOMEM;
	rc->max_bytes = max_bytes / NSHARDS ? max_bytes / NSHARDS : 1;
	rc->max_entries = max_entries / NSHARDS ? max_entries / NSHARDS : 1;
	while (nb < rc->max_entries && nb < (1u << 20))
		nb <<= 1;
	for (int i = 0; i < NSHARDS; i++) {
		struct shard *s = &rc->shards[i];

		pthread_mutex_init(&s->lock, NULL);
		s->nbuckets = nb;
		if (!(s->table = calloc(nb, sizeof(*s->table)))) {
			px_recache_free(rc);
			return PX_ENOMEM;
		}
	}
	atomic_init(&rc->epoch, 1);
	atomic_init(&rc->live_until, 0);
	*out = rc;
	return 0;
}

static void unlink_ent(struct shard *s, struct ent *e)
{
	struct ent **pp = &s->table[e->hash & (s->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (e->prev)
		e->prev->next = e->next;
	else
		s->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		s->tail = e->prev;
	s->n--;
	s->bytes -= e->cost;
	free(e);
}

static void empty_shard(struct shard *s)
{
	while (s->head)
		unlink_ent(s, s->head);
}

void px_recache_free(struct px_recache *rc)
{
	if (!rc)
		return;
	for (int i = 0; i < NSHARDS; i++) {
		struct shard *s = &rc->shards[i];

		if (s->table)
			empty_shard(s);
		free(s->table);
		pthread_mutex_destroy(&s->lock);
	}
	free(rc);
}

static struct ent *find(struct shard *s, uint64_t h, const char *key)
{
	struct ent *e = s->table[h & (s->nbuckets - 1)];

	for (; e; e = e->hnext)
		if (e->hash == h && !strcmp(e->data, key))
			return e;
	return NULL;
}

static void to_front(struct shard *s, struct ent *e)
{
	if (s->head == e)
		return;
	e->prev->next = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		s->tail = e->prev;
	e->prev = NULL;
	e->next = s->head;
	s->head->prev = e;
	s->head = e;
}

static bool live(struct px_recache *rc, int64_t now_us)
{
	return now_us < atomic_load(&rc->live_until);
}

bool px_recache_get(struct px_recache *rc, const char *key, int64_t now_us,
		    struct px_buf *out, bool *absent,
		    struct px_recache_ticket *t)
{
	uint64_t h = hash_of(key);
	struct shard *s = shard_of(rc, h);
	struct ent *e;
	bool hit = false;

	*absent = false;
	pthread_mutex_lock(&s->lock);
	/* the epoch first: a lost() between the two reads then shows */
	t->epoch = atomic_load(&rc->epoch);
	t->gen = s->gen[gen_of(h)];
	if (!live(rc, now_us)) {
		pthread_mutex_unlock(&s->lock);
		atomic_fetch_add_explicit(&rc->bypassed, 1,
					  memory_order_relaxed);
		return false;
	}
	if ((e = find(s, h, key)) &&
	    (e->absent || px_buf_add(out, e->data + e->nkey + 1, e->nval) == 0)) {
		to_front(s, e);
		*absent = e->absent;
		hit = true;
	}
	pthread_mutex_unlock(&s->lock);
	atomic_fetch_add_explicit(hit ? &rc->hits : &rc->misses, 1,
				  memory_order_relaxed);
	return hit;
}

void px_recache_put(struct px_recache *rc, const char *key, const void *val,
		    size_t n, const struct px_recache_ticket *t,
		    int64_t now_us)
{
	uint64_t h = hash_of(key);
	struct shard *s = shard_of(rc, h);
	size_t nkey = strlen(key), cost;
	struct ent *e, *old;

	if (!val)
		n = 0;
	cost = sizeof(*e) + nkey + 1 + n;
	if (cost > rc->max_bytes || !live(rc, now_us))
		return;
	if (!(e = malloc(sizeof(*e) + nkey + 1 + n)))
		return;
	e->hash = h;
	e->nkey = nkey;
	e->nval = n;
	e->cost = cost;
	e->absent = !val;
	memcpy(e->data, key, nkey + 1);
	if (n)
		memcpy(e->data + nkey + 1, val, n);
	pthread_mutex_lock(&s->lock);
	if (t->epoch != atomic_load(&rc->epoch) ||
	    t->gen != s->gen[gen_of(h)]) {
		pthread_mutex_unlock(&s->lock);
		free(e);
		return;
	}
	if ((old = find(s, h, key)))
		unlink_ent(s, old);
	while (s->tail &&
	       (s->bytes + cost > rc->max_bytes || s->n + 1 > rc->max_entries)) {
		unlink_ent(s, s->tail);
		atomic_fetch_add_explicit(&rc->evictions, 1,
					  memory_order_relaxed);
	}
	e->hnext = s->table[h & (s->nbuckets - 1)];
	s->table[h & (s->nbuckets - 1)] = e;
	e->prev = NULL;
	e->next = s->head;
	if (s->head)
		s->head->prev = e;
	else
		s->tail = e;
	s->head = e;
	s->n++;
	s->bytes += cost;
	pthread_mutex_unlock(&s->lock);
}

void px_recache_forget(struct px_recache *rc, const char *key)
{
	uint64_t h = hash_of(key);
	struct shard *s = shard_of(rc, h);
	struct ent *e;

	pthread_mutex_lock(&s->lock);
	s->gen[gen_of(h)]++;
	if ((e = find(s, h, key)))
		unlink_ent(s, e);
	pthread_mutex_unlock(&s->lock);
	atomic_fetch_add_explicit(&rc->invalidations, 1, memory_order_relaxed);
}

/* A new epoch, then every shard emptied: a put holding a ticket of the
 * old epoch finds it moved whether it runs before or after its shard is
 * emptied. */
static void drop_all(struct px_recache *rc)
{
	atomic_fetch_add(&rc->epoch, 1);
	for (int i = 0; i < NSHARDS; i++) {
		pthread_mutex_lock(&rc->shards[i].lock);
		empty_shard(&rc->shards[i]);
		pthread_mutex_unlock(&rc->shards[i].lock);
	}
	atomic_fetch_add_explicit(&rc->invalidations, 1, memory_order_relaxed);
}

void px_recache_lost(struct px_recache *rc)
{
	atomic_store(&rc->live_until, 0);
	drop_all(rc);
}

void px_recache_heartbeat(struct px_recache *rc, int64_t now_us)
{
	/* Silent for longer than the bound: what was kept may have changed
	 * without a word reaching us in time. */
	if (!live(rc, now_us))
		drop_all(rc);
	atomic_store(&rc->live_until, now_us + PX_RECACHE_LIVE_US);
}

bool px_recache_live(struct px_recache *rc, int64_t now_us)
{
	return rc && live(rc, now_us);
}

void px_recache_stats(struct px_recache *rc, struct px_recache_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!rc)
		return;
	out->hits = atomic_load(&rc->hits);
	out->misses = atomic_load(&rc->misses);
	out->bypassed = atomic_load(&rc->bypassed);
	out->invalidations = atomic_load(&rc->invalidations);
	out->evictions = atomic_load(&rc->evictions);
	for (int i = 0; i < NSHARDS; i++) {
		pthread_mutex_lock(&rc->shards[i].lock);
		out->entries += rc->shards[i].n;
		out->bytes += rc->shards[i].bytes;
		pthread_mutex_unlock(&rc->shards[i].lock);
	}
}
