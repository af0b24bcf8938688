/*
 * pool.h - a fixed pool of worker threads with a bounded wait queue,
 * shared fairly between clients.
 *
 * All image work (decode, transform, encode, classify) runs here, never on
 * the network threads. When every worker is busy and the queue is full,
 * px_pool_submit() refuses at once with PX_EBUSY so the caller can answer
 * 503 instead of piling up memory.
 *
 * Waiting jobs are kept per flow (a client) and served by deficit round
 * robin on their cost (see pool.c): a client flooding the pool gets its
 * share of the workers, not the whole queue. Flows belong to groups (a
 * client's network): while another group is active, one group holds at
 * most its share of the workers, so a newcomer finds one free instead
 * of waiting for a render it cannot interrupt.
 */
#ifndef PX_POOL_H
#define PX_POOL_H

#include "core/common.h"

struct px_pool;

typedef void (*px_pool_fn)(void *arg);

/* Start nthreads workers with room for max_queued waiting jobs. */
int px_pool_new(int nthreads, int max_queued, struct px_pool **out);

/* Credit a flow gains per turn, in cost units (a 256x256 output). */
#define PX_POOL_QUANTUM 65536

/* Queue fn(arg); PX_EBUSY when the queue is full, PX_EINVAL after
 * shutdown began. The job owns arg from here on. Runs as flow 0 at the
 * cost of one quantum. */
int px_pool_submit(struct px_pool *p, px_pool_fn fn, void *arg);

/* A flow key: the high half names its group (a client's network), the
 * low half the client in it. A key whose high half is 0 is a group of
 * its own. */
#define PX_POOL_FLOW(group, client) \
	(((uint64_t)(uint32_t)(group) << 32) | (uint32_t)(client))

/*
 * Queue fn(arg) for flow (a client key; 0: no client, not capped) at
 * cost (output pixels for a render; at least 1). PX_EBUSY when the flow
 * already has its cap of waiting jobs, or the queue is full and no
 * bigger flow can give up a job. cancel (may be NULL: the job is never
 * pushed out and pushes none out) is called instead of fn, from the
 * submitting thread of a later job, when this job is pushed out to make
 * room for a flow holding none or two fewer; it then owns arg.
 */
int px_pool_submit_fair(struct px_pool *p, uint64_t flow, uint64_t cost,
			px_pool_fn fn, px_pool_fn cancel, void *arg);

/* At most n jobs of one flow (other than flow 0) wait at a time (n <= 0
 * or over the queue: the whole queue). */
void px_pool_set_flow_cap(struct px_pool *p, int n);

/*
 * At most n workers run jobs of one group while another group has
 * submitted work in the last window_ms (n < 0: all workers but one;
 * 0 or n >= workers: no limit). A group alone uses every worker; once
 * another appears, a worker stays free for it. Flow 0 is never limited.
 * The default is (-1, 10000).
 */
void px_pool_set_share(struct px_pool *p, int n, int64_t window_ms);

/* Jobs that waited, since start, while a worker was free, because their
 * group held its share (px_pool_set_share). */
uint64_t px_pool_held(struct px_pool *p);

/* Jobs waiting plus jobs running. */
int px_pool_load(struct px_pool *p);

/* Stop accepting jobs, wait for queued and running ones to finish, join
 * the threads and free the pool. Accepts NULL. */
void px_pool_free(struct px_pool *p);

/* Number of online CPUs, at least 1. */
int px_cpu_count(void);

#endif
