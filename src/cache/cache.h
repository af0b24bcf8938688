/*
 * cache.h - the result cache: rendered variants kept in memory and on
 * disk, one lookup over both, and request coalescing.
 *
 * A key names one rendered answer: the original's SHA-256, the canonical
 * options with the negotiated output format (the ETag's input) and, for a
 * named variant, its name. Everything that decides whether a request may
 * be served (record, moderation status, signature, expiry, variant,
 * allow-lists) is checked by the caller before it looks here; the cache
 * only answers "which bytes", never "may I".
 *
 * Memory tier: immutable, reference-counted items; a hit hands out a
 * reference that the HTTP response releases when it is sent, so hits copy
 * nothing. Disk tier: one file per entry under <dir>/<sha[0:2]>/<sha>/,
 * written to a temp file and renamed; a header carries key, content type,
 * length and a SHA-256 checksum, checked on every read (see entry.h).
 * Eviction in both tiers: see index.h.
 *
 * Coalescing: the first miss for a key leads (renders, then lands its
 * result); misses for the same key meanwhile join as waiters and are
 * called back with the leader's result, or with timed_out after the wait
 * bound. All functions are thread-safe.
 */
#ifndef PX_CACHE_H
#define PX_CACHE_H

#include <stdatomic.h>

#include "cache/index.h"
#include "core/common.h"
#include "core/metrics.h"

#define PX_CACHE_KEY_MAX 1536

/* A rendered answer, or the error a render ended in. Immutable once
 * made; shared by reference. */
struct px_cache_item {
	atomic_int refs;
	int status;          /* 200, or the failed render's status */
	char ctype[64];
	char location[512];  /* a 307's target, else "" */
	size_t len;
	unsigned char data[];
};

/* A new item holding a copy of data, one reference; NULL on ENOMEM. */
struct px_cache_item *px_cache_item_new(int status, const char *ctype,
					const void *data, size_t len);
void px_cache_item_ref(struct px_cache_item *it);
/* Drop a reference (void * so it can be a release callback); NULL ok. */
void px_cache_item_unref(void *it);

struct px_cache_key {
	uint8_t hash[32];
	char hex[PX_SHA256_HEX_LEN + 1];
	char sha256[PX_SHA256_HEX_LEN + 1];
	char tag[9]; /* 8 hex digits of the variant name's digest, or "-" */
	char text[PX_CACHE_KEY_MAX];
};

/* Key for the original sha256, the canonical options-and-format text,
 * and the variant name (NULL for options in the URL). PX_ETOOBIG. */
int px_cache_key_make(struct px_cache_key *k, const char *sha256,
		      const char *canonical, const char *variant);
/* The tag a variant name gets in keys. */
void px_cache_variant_tag(const char *variant, char tag[9]);

struct px_cache_opts {
	uint64_t memory_bytes; /* 0: no memory tier */
	uint64_t disk_bytes;   /* 0: no disk tier */
	const char *dir;       /* the disk tier's directory */
	enum px_cache_policy policy;
	int wait_ms;           /* how long a coalesced request waits */
	/* Registry the cache registers its families on (may be NULL):
	 * pictor_cache_requests_total{tier,result},
	 * pictor_cache_coalesced_total, pictor_cache_wait_timeouts_total,
	 * pictor_cache_bytes{tier}, pictor_cache_entries{tier},
	 * pictor_cache_evictions_total{tier}. */
	struct px_metrics *metrics;
};

struct px_cache;

int px_cache_new(const struct px_cache_opts *o, struct px_cache **out,
		 struct px_errbuf *eb);
void px_cache_free(struct px_cache *c); /* accepts NULL */
/* True when at least one tier is on. */
bool px_cache_enabled(const struct px_cache *c);

enum px_cache_tier { PX_CACHE_MEMORY = 1, PX_CACHE_DISK };

struct px_cache_hit {
	enum px_cache_tier tier;
	/* Memory: the item (one reference, the caller's). */
	struct px_cache_item *item;
	/* Disk: fd (the caller's) positioned by off, len bytes, ctype. */
	int fd;
	uint64_t off, len;
	char ctype[64];
};

/* Look k up in memory, then on disk (a disk hit is also copied to
 * memory). 0 on a hit, PX_ENOTFOUND on a miss. */
int px_cache_get(struct px_cache *c, const struct px_cache_key *k,
		 struct px_cache_hit *h);
/* Release what a hit still holds. */
void px_cache_hit_release(struct px_cache_hit *h);

/* --- coalescing --- */
struct px_cache_waiter {
	/* Called once, from a worker or the timer thread: res is the
	 * leader's result (borrowed; take a reference to keep it), or NULL
	 * with timed_out set, or NULL when the leader ran out of memory. */
	void (*fn)(struct px_cache_waiter *w, struct px_cache_item *res,
		   bool timed_out);
	void *arg;
	/* private */
	struct px_cache_waiter *next;
	int64_t deadline_us;
};

enum px_cache_join { PX_CACHE_LEAD = 1, PX_CACHE_JOINED, PX_CACHE_FOUND };

/*
 * After a miss: become the leader for k (PX_CACHE_LEAD: render, then call
 * px_cache_land exactly once), or join the render under way
 * (PX_CACHE_JOINED: park(w->arg) has been called under the lock, before
 * any callback can run, and w->fn will be called exactly once), or find
 * that a render just landed (PX_CACHE_FOUND: *h holds the hit).
 */
enum px_cache_join px_cache_join(struct px_cache *c,
				 const struct px_cache_key *k,
				 struct px_cache_waiter *w,
				 void (*park)(void *arg),
				 struct px_cache_hit *h);

/* Does a request wait (joined, not timed out) on the render of k? */
bool px_cache_awaited(struct px_cache *c, const struct px_cache_key *k);

/* The leader's result: a 200 item is stored in both tiers when store is
 * set; every waiter gets res (may be NULL: out of memory). Returns true
 * if res was stored in at least one tier. */
bool px_cache_land(struct px_cache *c, const struct px_cache_key *k,
		   struct px_cache_item *res, bool store);

/* --- purge --- */
struct px_cache_purge {
	const char *const *sha256; /* originals */
	size_t n_sha256;
	const char *const *variants; /* variant names */
	size_t n_variants;
	bool everything;
};

/* Remove every matching entry from both tiers; the count removed goes to
 * *removed (may be NULL). The one entry point for purges, local or sent
 * by another node. */
int px_cache_purge(struct px_cache *c, const struct px_cache_purge *p,
		   uint64_t *removed, struct px_errbuf *eb);

struct px_cache_stats {
	uint64_t hits[3], misses[3]; /* by px_cache_tier */
	uint64_t bytes[3], entries[3], evictions[3];
	uint64_t coalesced, timeouts;
};

void px_cache_stats(struct px_cache *c, struct px_cache_stats *s);

#endif
