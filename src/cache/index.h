/*
 * index.h - a byte-bounded set of cache entries and its eviction policy.
 *
 * Both cache tiers keep one: the memory tier's entries carry the bytes,
 * the disk tier's only the size of a file. The index is a hash table over
 * the key digest plus one queue, and the policy decides which entry leaves
 * when an insert would pass the byte budget:
 *
 *   SIEVE (the default): new entries go in at the head; a hit only sets
 *   the entry's visited bit. To evict, a hand walks from the tail toward
 *   the head, clearing visited bits, and removes the first entry it finds
 *   unvisited; the hand stays where it stopped. An entry requested once
 *   is removed the first time the hand reaches it, while popular entries
 *   keep their place without being moved.
 *   LRU (for comparison in the benchmark): a hit moves the entry to the
 *   head; eviction takes the tail.
 *
 * Not thread-safe: the owning tier holds its lock around every call.
 * Removed entries are handed back in a list (linked through ->next) so the
 * caller can release their payloads after dropping the lock.
 */
#ifndef PX_CACHE_INDEX_H
#define PX_CACHE_INDEX_H

#include "core/common.h"

enum px_cache_policy { PX_CACHE_SIEVE, PX_CACHE_LRU };

struct px_cache_ent {
	uint8_t hash[32];              /* the key digest */
	char sha256[PX_SHA256_HEX_LEN + 1]; /* the original's, for purges */
	char tag[9];                   /* variant-name tag, "-" for options */
	uint64_t cost;                 /* bytes counted against the budget */
	void *payload;                 /* owned by the tier */
	bool visited;
	struct px_cache_ent *prev, *next; /* queue: prev toward the tail */
	struct px_cache_ent *hnext;
};

struct px_cache_index {
	enum px_cache_policy policy;
	uint64_t cap, used;
	size_t count, nbuckets;
	struct px_cache_ent **buckets;
	struct px_cache_ent *head, *tail, *hand;
	uint64_t evictions;
};

/* An empty index holding at most cap bytes. PX_ENOMEM. */
int px_cache_index_init(struct px_cache_index *ix, uint64_t cap,
			enum px_cache_policy policy);
/* Entries still present are handed to release(ent) (may be NULL). */
void px_cache_index_release(struct px_cache_index *ix,
			    void (*release)(struct px_cache_ent *));

/* The entry for hash or NULL; counts as an access for the policy. */
struct px_cache_ent *px_cache_index_get(struct px_cache_index *ix,
					const uint8_t hash[32]);
/* The entry for hash or NULL, without touching the policy. */
struct px_cache_ent *px_cache_index_peek(struct px_cache_index *ix,
					 const uint8_t hash[32]);

/*
 * Insert ent (taken; no entry with its hash may be present). Entries are
 * evicted until it fits; they are appended to *victims. PX_ETOOBIG when
 * ent alone is over the budget: nothing changes and ent stays the
 * caller's.
 */
int px_cache_index_put(struct px_cache_index *ix, struct px_cache_ent *ent,
		       struct px_cache_ent **victims);

/* Unlink ent (it stays the caller's). */
void px_cache_index_remove(struct px_cache_index *ix, struct px_cache_ent *ent);

/* Move every entry for which match(ctx, ent) is true to *victims;
 * returns how many. */
size_t px_cache_index_purge(struct px_cache_index *ix,
			    bool (*match)(void *ctx,
					  const struct px_cache_ent *ent),
			    void *ctx, struct px_cache_ent **victims);

#endif
