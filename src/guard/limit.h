/*
 * limit.h - token buckets per client and request class, in a sharded
 * table of bounded size.
 *
 * A bucket holds up to `burst` tokens and gains `rate` tokens a second;
 * a request takes one or is refused. A bucket that has refilled to its
 * burst carries no information (a new bucket starts full), so it can be
 * dropped at any time without changing any answer: that is how idle
 * clients are evicted. When a shard is full of non-idle buckets, the
 * least recently used of a small sample is dropped (its client gets a
 * fresh, full bucket: the table never grows past its bound, and an
 * attacker with more addresses than the table has room for can only
 * hand itself full buckets, never drain anyone else's).
 *
 * Each entry is 32 bytes; a table for max_entries preallocates its
 * arrays with calloc (pages are touched only when used), so RSS grows
 * with the number of live entries up to about 36 bytes each.
 *
 * Time is passed in by the caller (milliseconds on any monotonic clock),
 * so tests drive the clock themselves.
 */
#ifndef PX_GUARD_LIMIT_H
#define PX_GUARD_LIMIT_H

#include "guard/addr.h"

struct px_rate {
	double rate;  /* tokens a second; 0: this class is not limited */
	double burst; /* bucket size, at least 1 */
};

/* The outcome of px_limiter_take(). */
struct px_take {
	bool ok;
	double remaining;  /* tokens left after this request */
	double retry_ms;   /* when refused: until one token is back */
	double reset_ms;   /* until the bucket is full again */
};

struct px_limiter;

/* A table with room for max_entries buckets (at least 64). */
int px_limiter_new(unsigned max_entries, struct px_limiter **out);
void px_limiter_free(struct px_limiter *l);

/* Take one token from the bucket of (key, cls) at now_ms. cls is any
 * number below 256 that names a class; r its rate. */
void px_limiter_take(struct px_limiter *l, const struct px_ip *key, int cls,
		     const struct px_rate *r, uint64_t now_ms,
		     struct px_take *res);

/* Give one token back (a request that turned out to belong to another
 * class). */
void px_limiter_refund(struct px_limiter *l, const struct px_ip *key,
		       int cls, const struct px_rate *r, uint64_t now_ms);

/* Drop the buckets of one shard (the next in turn) that have refilled;
 * rates[cls] gives each class's rate (classes beyond nrates are kept).
 * Call it regularly; a full pass takes PX_LIMITER_SHARDS calls. */
void px_limiter_sweep(struct px_limiter *l, const struct px_rate *rates,
		      int nrates, uint64_t now_ms);

#define PX_LIMITER_SHARDS 64

/* Buckets held. */
size_t px_limiter_count(struct px_limiter *l);

#endif
