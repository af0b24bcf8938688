/*
 * recache.h - the node-local record cache (internal to src/catalog/).
 *
 * When the metadata store is remote (PostgreSQL, shared by several
 * nodes), every delivery would otherwise pay a round trip for the image
 * record and another for a managed variant. This cache keeps the stored
 * bytes of such keys ("img/<id>", "var/<name>", and the absence of a
 * variant) in memory, bounded in entries and bytes, least recently used
 * first out.
 *
 * It is only as fresh as the store's change stream (watch.h) makes it:
 *  - forget(key) on every change another node announces and, after the
 *    commit, on every change this node makes (watch.c does both);
 *  - lost() when the stream may have missed messages: everything goes,
 *    and nothing is answered until the next heartbeat;
 *  - heartbeat(now) each time the listener proved its connection with a
 *    round trip; entries are answered only within PX_RECACHE_LIVE_US of
 *    the last one, and a heartbeat after a longer silence first drops
 *    everything (messages may have been delayed or lost meanwhile).
 * A read that races an invalidation cannot leave a stale entry behind:
 * get() hands out a ticket (the cache's epoch and the generation of the
 * key's group) before the caller reads the store, and put() keeps the
 * value only if neither moved since. forget() and lost() move them.
 *
 * Thread-safe: 16 shards, one mutex each, held for a lookup or an
 * insertion only; reads of the store happen outside any lock.
 */
#ifndef PX_CATALOG_RECACHE_H
#define PX_CATALOG_RECACHE_H

#include "core/common.h"
#include "core/buf.h"

/* Longest an entry is answered after the last heartbeat: the staleness
 * bound when the listener's connection dies silently. */
#define PX_RECACHE_LIVE_US 1000000

struct px_recache;

struct px_recache_ticket {
	uint64_t epoch;
	uint64_t gen;
};

/* A cache of at most max_bytes (entry overhead included) and max_entries
 * (0: max_bytes / 256). PX_EINVAL for max_bytes 0. */
int px_recache_new(size_t max_bytes, size_t max_entries,
		   struct px_recache **out);
void px_recache_free(struct px_recache *rc); /* accepts NULL */

/*
 * Look key up at time now_us (monotonic). A hit appends the stored value
 * to out and returns true; *absent says it is a remembered absence
 * (nothing appended). A miss (also: not live) returns false. Either way
 * *t is the ticket for a put() after the caller reads the store.
 */
bool px_recache_get(struct px_recache *rc, const char *key, int64_t now_us,
		    struct px_buf *out, bool *absent,
		    struct px_recache_ticket *t);

/* Keep val[0..n) (val NULL: the key is absent) under key, unless the
 * key was invalidated since t was handed out, the cache is not live, or
 * the entry alone is over a shard's budget. */
void px_recache_put(struct px_recache *rc, const char *key, const void *val,
		    size_t n, const struct px_recache_ticket *t,
		    int64_t now_us);

/* The key changed: drop it, and refuse puts of reads that began before. */
void px_recache_forget(struct px_recache *rc, const char *key);

/* Messages may have been lost: drop everything, answer nothing until the
 * next heartbeat. */
void px_recache_lost(struct px_recache *rc);

/* The change stream is connected and current as of now_us. */
void px_recache_heartbeat(struct px_recache *rc, int64_t now_us);

/* Whether lookups are answered at now_us (heartbeats current). */
bool px_recache_live(struct px_recache *rc, int64_t now_us);

struct px_recache_stats {
	uint64_t hits, misses, bypassed; /* bypassed: not live */
	uint64_t invalidations;          /* forgets and drops of all */
	uint64_t evictions;              /* for room */
	uint64_t entries, bytes;
};
void px_recache_stats(struct px_recache *rc, struct px_recache_stats *out);

#endif
