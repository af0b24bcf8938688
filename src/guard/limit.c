/*
 * limit.c - the sharded token-bucket table (see limit.h).
 *
 * Each shard is a chained hash table over a fixed array of entries, under
 * its own mutex: the chains are 32-bit indexes (0 ends a chain), free
 * slots form a list through the same field, and never-used slots are
 * handed out from a high-water mark so untouched pages stay unmapped.
 * The hash is seeded at random so clients cannot aim at one chain.
 */
#include "guard/limit.h"
#include "core/crypto.h"

#include <pthread.h>
#include <stdatomic.h>

struct ent {
	uint8_t key[16]; /* px_client_key_bytes() */
	uint32_t next;   /* index + 1 of the next in chain or free list */
	uint32_t last;   /* ms of the last refill (truncated clock) */
	float tokens;
	uint8_t cls;
	uint8_t pad[3];
};

_Static_assert(sizeof(struct ent) == 32, "a bucket is 32 bytes");

struct shard {
	pthread_mutex_t lock;
	uint32_t *heads; /* index + 1, 0: empty */
	struct ent *ents;
	uint32_t cap, mask, count, hw, free_list, hand;
};

struct px_limiter {
	uint64_t seed[2];
	struct shard shards[PX_LIMITER_SHARDS];
	atomic_uint sweep_next;
	atomic_size_t count;
};

static uint64_t fmix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static uint64_t hash(const struct px_limiter *l, const uint8_t k[16],
		     int cls)
{
	uint64_t a, b;

	memcpy(&a, k, 8);
	memcpy(&b, k + 8, 8);
	return fmix(fmix(a ^ l->seed[0]) ^ b ^ l->seed[1] ^
		    ((uint64_t)cls << 56));
}

int px_limiter_new(unsigned max_entries, struct px_limiter **out)
{
	struct px_limiter *l;
	uint32_t per, nb = 1;

	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return PX_ENOMEM;
	if (px_random(l->seed, sizeof(l->seed))) {
		free(l);
		return PX_EINTERNAL;
	}
	per = PX_MAX(max_entries / PX_LIMITER_SHARDS, 1u);
	while (nb < per)
		nb <<= 1;
	for (int i = 0; i < PX_LIMITER_SHARDS; i++) {
		struct shard *s = &l->shards[i];

		pthread_mutex_init(&s->lock, NULL);
		s->cap = per;
		s->mask = nb - 1;
		s->heads = calloc(nb, sizeof(*s->heads));
		s->ents = calloc(per, sizeof(*s->ents));
		if (!s->heads || !s->ents) {
			px_limiter_free(l);
			return PX_ENOMEM;
		}
	}
	*out = l;
	return 0;
}

void px_limiter_free(struct px_limiter *l)
{
	if (!l)
		return;
	for (int i = 0; i < PX_LIMITER_SHARDS; i++) {
		pthread_mutex_destroy(&l->shards[i].lock);
		free(l->shards[i].heads);
		free(l->shards[i].ents);
	}
	free(l);
}

static struct shard *shard_of(struct px_limiter *l, uint64_t h)
{
	return &l->shards[h >> 58];
}

/* Unlink entry idx (0-based) from its chain and free its slot. */
static void drop(struct px_limiter *l, struct shard *s, uint32_t idx)
{
	struct ent *e = &s->ents[idx];
	uint32_t *link = &s->heads[hash(l, e->key, e->cls) & s->mask];

	while (*link && *link != idx + 1)
		link = &s->ents[*link - 1].next;
	if (*link)
		*link = e->next;
	memset(e, 0, sizeof(*e));
	e->cls = 0xff; /* marks a free slot for the sweep */
	e->next = s->free_list;
	s->free_list = idx + 1;
	s->count--;
	atomic_fetch_sub(&l->count, 1);
}

/* Room for one more entry: a free slot, a fresh one, or the least
 * recently refilled of a sample of 16. */
static uint32_t alloc_slot(struct px_limiter *l, struct shard *s,
			   uint32_t now)
{
	uint32_t idx;

	if (s->free_list) {
		idx = s->free_list - 1;
		s->free_list = s->ents[idx].next;
		return idx;
	}
	if (s->hw < s->cap)
		return s->hw++;
	{
		uint32_t victim = s->hand % s->cap, oldest = 0;

		for (int i = 0; i < 16; i++) {
			uint32_t j = (s->hand + (uint32_t)i) % s->cap;
			uint32_t age = now - s->ents[j].last;

			if (age >= oldest) {
				oldest = age;
				victim = j;
			}
		}
		s->hand = (s->hand + 16) % s->cap;
		drop(l, s, victim);
	}
	idx = s->free_list - 1;
	s->free_list = s->ents[idx].next;
	return idx;
}

static struct ent *find(struct shard *s, uint64_t h, const uint8_t key[16],
			int cls)
{
	for (uint32_t i = s->heads[h & s->mask]; i; i = s->ents[i - 1].next) {
		struct ent *e = &s->ents[i - 1];

		if (e->cls == cls && !memcmp(e->key, key, 16))
			return e;
	}
	return NULL;
}

static void refill(struct ent *e, const struct px_rate *r, uint32_t now)
{
	double t = e->tokens + (double)(uint32_t)(now - e->last) * r->rate / 1000.0;

	e->tokens = (float)PX_MIN(t, r->burst);
	e->last = now;
}

void px_limiter_take(struct px_limiter *l, const struct px_ip *key, int cls,
		     const struct px_rate *r, uint64_t now_ms,
		     struct px_take *res)
{
	uint8_t k[16];
	uint64_t h;
	struct shard *s;
	uint32_t now = (uint32_t)now_ms;
	struct ent *e;

	memset(res, 0, sizeof(*res));
	if (r->rate <= 0) {
		res->ok = true;
		res->remaining = r->burst;
		return;
	}
	px_client_key_bytes(key, k);
	h = hash(l, k, cls);
	s = shard_of(l, h);
	pthread_mutex_lock(&s->lock);
	e = find(s, h, k, cls);
	if (!e) {
		uint32_t idx = alloc_slot(l, s, now);

		e = &s->ents[idx];
		memcpy(e->key, k, 16);
		e->cls = (uint8_t)cls;
		e->tokens = (float)r->burst;
		e->last = now;
		e->next = s->heads[h & s->mask];
		s->heads[h & s->mask] = idx + 1;
		s->count++;
		atomic_fetch_add(&l->count, 1);
	} else {
		refill(e, r, now);
	}
	if (e->tokens >= 1.0f) {
		e->tokens -= 1.0f;
		res->ok = true;
	} else {
		res->retry_ms = (1.0 - e->tokens) * 1000.0 / r->rate;
	}
	res->remaining = e->tokens;
	res->reset_ms = (r->burst - e->tokens) * 1000.0 / r->rate;
	pthread_mutex_unlock(&s->lock);
}

void px_limiter_refund(struct px_limiter *l, const struct px_ip *key,
		       int cls, const struct px_rate *r, uint64_t now_ms)
{
	uint8_t k[16];
	uint64_t h;
	struct shard *s;
	struct ent *e;

	if (r->rate <= 0)
		return;
	px_client_key_bytes(key, k);
	h = hash(l, k, cls);
	s = shard_of(l, h);
	pthread_mutex_lock(&s->lock);
	e = find(s, h, k, cls);
	if (e) {
		refill(e, r, (uint32_t)now_ms);
		e->tokens = (float)PX_MIN((double)e->tokens + 1.0, r->burst);
	}
	pthread_mutex_unlock(&s->lock);
}

void px_limiter_sweep(struct px_limiter *l, const struct px_rate *rates,
		      int nrates, uint64_t now_ms)
{
	unsigned i = atomic_fetch_add(&l->sweep_next, 1) % PX_LIMITER_SHARDS;
	struct shard *s = &l->shards[i];
	uint32_t now = (uint32_t)now_ms;

	pthread_mutex_lock(&s->lock);
	for (uint32_t j = 0; j < s->hw; j++) {
		struct ent *e = &s->ents[j];

		if (e->cls >= nrates)
			continue; /* free slot (0xff) or an unknown class */
		if (rates[e->cls].rate <= 0) {
			drop(l, s, j);
			continue;
		}
		refill(e, &rates[e->cls], now);
		if ((double)e->tokens >= rates[e->cls].burst)
			drop(l, s, j);
	}
	pthread_mutex_unlock(&s->lock);
}

size_t px_limiter_count(struct px_limiter *l)
{
	return atomic_load(&l->count);
}
