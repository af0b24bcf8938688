/*
 * pool.h - a fixed pool of worker threads with a bounded wait queue.
 *
 * All image work (decode, transform, encode, classify) runs here, never on
 * the network threads. When every worker is busy and the queue is full,
 * px_pool_submit() refuses at once with PX_EBUSY so the caller can answer
 * 503 instead of piling up memory.
 */
#ifndef PX_POOL_H
#define PX_POOL_H

#include "core/common.h"

struct px_pool;

typedef void (*px_pool_fn)(void *arg);

/* Start nthreads workers with room for max_queued waiting jobs. */
int px_pool_new(int nthreads, int max_queued, struct px_pool **out);

/* Queue fn(arg); PX_EBUSY when the queue is full, PX_EINVAL after
 * shutdown began. The job owns arg from here on. */
int px_pool_submit(struct px_pool *p, px_pool_fn fn, void *arg);

/* Jobs waiting plus jobs running. */
int px_pool_load(struct px_pool *p);

/* Stop accepting jobs, wait for queued and running ones to finish, join
 * the threads and free the pool. Accepts NULL. */
void px_pool_free(struct px_pool *p);

/* Number of online CPUs, at least 1. */
int px_cpu_count(void);

#endif
