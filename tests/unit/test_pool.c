/*
 * test_pool.c - the worker pool's fair scheduling: deficit round robin
 * between flows, cost in output pixels, the per-flow cap, push-out when
 * the queue is full. One worker, held at a gate while jobs are queued,
 * so the order in which they then run is exact.
 */
#include "core/pool.h"

#include <pthread.h>
#include <unistd.h>

#include "t.h"

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char order[64];
static int norder, cancelled;
static volatile int started;

static void blocker(void *arg)
{
	(void)arg;
	started = 1;
	pthread_mutex_lock(&gate);
	pthread_mutex_unlock(&gate);
}

static void note(void *arg)
{
	pthread_mutex_lock(&mu);
	order[norder++] = (char)(intptr_t)arg;
	order[norder] = '\0';
	pthread_mutex_unlock(&mu);
}

static void cancel(void *arg)
{
	pthread_mutex_lock(&mu);
	cancelled++;
	order[norder++] = (char)((intptr_t)arg | 0x20); /* lower case */
	order[norder] = '\0';
	pthread_mutex_unlock(&mu);
}

/* A pool of one worker, busy at the gate until release(). */
static struct px_pool *held(int queue)
{
	struct px_pool *p;

	norder = 0;
	order[0] = '\0';
	cancelled = 0;
	started = 0;
	pthread_mutex_lock(&gate);
	if (px_pool_new(1, queue, &p))
		return NULL;
	px_pool_submit(p, blocker, NULL);
	while (!started)
		usleep(1000);
	return p;
}

static void release(struct px_pool *p)
{
	pthread_mutex_unlock(&gate);
	px_pool_free(p); /* runs what is queued, then joins */
}

#define Q PX_POOL_QUANTUM

static int sub(struct px_pool *p, uint64_t flow, uint64_t cost, char c)
{
	return px_pool_submit_fair(p, flow, cost, note, cancel, (void *)(intptr_t)c);
}

static void run(void)
{
	T_CASE("round robin between a flood and a single request") {
		struct px_pool *p = held(16);

		for (int i = 0; i < 6; i++)
			T_EQ(sub(p, 1, Q, 'A'), 0);
		T_EQ(sub(p, 2, Q, 'B'), 0);
		T_EQ(sub(p, 2, Q, 'B'), 0);
		release(p);
		/* the late client's jobs run second and fourth, not last */
		T_STREQ(order, "ABABAAAA");
	}

	T_CASE("cost counts: a big output waits its turns") {
		struct px_pool *p = held(16);

		T_EQ(sub(p, 1, 4 * Q, 'A'), 0);
		T_EQ(sub(p, 1, 4 * Q, 'A'), 0);
		for (int i = 0; i < 4; i++)
			T_EQ(sub(p, 2, Q, 'B'), 0);
		release(p);
		T_STREQ(order, "BBBABA");
	}

	T_CASE("three flows share evenly") {
		struct px_pool *p = held(32);

		for (int i = 0; i < 4; i++) {
			T_EQ(sub(p, 7, Q, 'X'), 0);
			T_EQ(sub(p, 8, Q / 2, 'Y'), 0);
			T_EQ(sub(p, 8, Q / 2, 'Y'), 0);
		}
		T_EQ(sub(p, 9, Q, 'Z'), 0);
		release(p);
		/* Y's jobs cost half: two per turn */
		T_STREQ(order, "XYYZXYYXYYXYY");
	}

	T_CASE("per-flow cap") {
		struct px_pool *p = held(16);

		px_pool_set_flow_cap(p, 2);
		T_EQ(sub(p, 1, Q, 'A'), 0);
		T_EQ(sub(p, 1, Q, 'A'), 0);
		T_EQ(sub(p, 1, Q, 'A'), PX_EBUSY);
		T_EQ(sub(p, 2, Q, 'B'), 0);
		/* flow 0 (no client) is not capped */
		for (int i = 0; i < 5; i++)
			T_EQ(sub(p, 0, Q, 'N'), 0);
		release(p);
		T_EQ(norder, 8);
	}

	T_CASE("a full queue: a smaller flow pushes out the biggest's newest job") {
		struct px_pool *p = held(4);

		for (int i = 0; i < 4; i++)
			T_EQ(sub(p, 1, Q, 'A'), 0);
		T_EQ(sub(p, 2, Q, 'B'), 0); /* pushes out one A */
		T_EQ(cancelled, 1);
		T_EQ(sub(p, 3, Q, 'C'), 0); /* and another */
		T_EQ(cancelled, 2);
		T_EQ(sub(p, 3, Q, 'C'), PX_EBUSY); /* C has 1, A has 2: no */
		T_EQ(sub(p, 2, Q, 'B'), PX_EBUSY);
		/* jobs without a cancel function are never pushed out */
		T_EQ(px_pool_submit(p, note, (void *)(intptr_t)'N'), PX_EBUSY);
		T_EQ(px_pool_load(p), 5);
		release(p);
		T_STREQ(order, "aaABCA");
	}

	T_CASE("plain submit still refuses when full") {
		struct px_pool *p = held(2);
		int busy = 0;

		for (int i = 0; i < 5; i++)
			busy += px_pool_submit(p, note, (void *)(intptr_t)'N') == PX_EBUSY;
		T_EQ(busy, 3);
		release(p);
		T_EQ(norder, 2);
	}
}
