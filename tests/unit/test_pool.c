/*
 * test_pool.c - the worker pool's fair scheduling: deficit round robin
 * between flows, cost in output pixels, the per-flow cap, push-out when
 * the queue is full, between flows and between groups; a group's share
 * of the workers while another group is active. Workers are held at a
 * gate while jobs are queued, so the order in which they then run is
 * exact. The pool's clock is replaced (pool.c is included).
 */
#include "core/pool.c"

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

static int64_t fake_ms;
static int64_t fake_now(void) { return fake_ms; }

/* Wait (up to 10 s) until n jobs have noted themselves. */
static bool noted(int n)
{
	for (int i = 0; i < 10000; i++) {
		pthread_mutex_lock(&mu);
		if (norder >= n) {
			pthread_mutex_unlock(&mu);
			return true;
		}
		pthread_mutex_unlock(&mu);
		usleep(1000);
	}
	return false;
}

/* A pool of two workers with a group share of one; the first worker is
 * held at the gate by a job of flow. */
static struct px_pool *held2(uint64_t flow)
{
	struct px_pool *p;

	norder = 0;
	order[0] = '\0';
	cancelled = 0;
	started = 0;
	fake_ms = 1000000;
	pool_now_ms = fake_now;
	pthread_mutex_lock(&gate);
	if (px_pool_new(2, 16, &p))
		return NULL;
	px_pool_set_share(p, 1, 10000);
	px_pool_submit_fair(p, flow, Q, blocker, NULL, NULL);
	while (!started)
		usleep(1000);
	return p;
}

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

	T_CASE("a full queue: groups are compared first") {
		struct px_pool *p = held(4);

		/* four clients of one network fill the queue */
		for (int i = 1; i <= 4; i++)
			T_EQ(sub(p, PX_POOL_FLOW(7, i), Q, 'A'), 0);
		/* a client of another network holding none, then one */
		T_EQ(sub(p, PX_POOL_FLOW(9, 1), Q, 'B'), 0);
		T_EQ(sub(p, PX_POOL_FLOW(9, 1), Q, 'B'), 0);
		T_EQ(cancelled, 2);
		/* now 2 against 2: no */
		T_EQ(sub(p, PX_POOL_FLOW(9, 1), Q, 'B'), PX_EBUSY);
		/* another client of network 9 holding none: its network is
		 * even with 7, so it takes from its neighbour */
		T_EQ(sub(p, PX_POOL_FLOW(9, 2), Q, 'C'), 0);
		T_EQ(cancelled, 3);
		T_STREQ(order, "aab");
		/* a third network holding none gets in */
		T_EQ(sub(p, PX_POOL_FLOW(5, 1), Q, 'D'), 0);
		T_EQ(cancelled, 4);
		T_EQ(px_pool_load(p), 5);
		release(p);
		T_EQ(norder, 8);
	}

	T_CASE("within one network, flows are compared") {
		struct px_pool *p = held(4);

		for (int i = 0; i < 4; i++)
			T_EQ(sub(p, PX_POOL_FLOW(7, 1), Q, 'A'), 0);
		/* the same network, another client holding none */
		T_EQ(sub(p, PX_POOL_FLOW(7, 2), Q, 'B'), 0);
		T_EQ(cancelled, 1);
		T_EQ(sub(p, PX_POOL_FLOW(7, 2), Q, 'B'), 0); /* 3 against 1 */
		T_EQ(sub(p, PX_POOL_FLOW(7, 2), Q, 'B'), PX_EBUSY); /* 2 against 2 */
		release(p);
		T_EQ(cancelled, 2);
	}

	T_CASE("a group alone uses every worker") {
		struct px_pool *p = held2(PX_POOL_FLOW(1, 1));

		T_EQ(sub(p, PX_POOL_FLOW(1, 2), Q, 'A'), 0);
		/* the second worker runs it while the first is held */
		T_OK(noted(1));
		T_STREQ(order, "A");
		T_EQ(px_pool_held(p), 0);
		release(p);
	}

	T_CASE("a group at its share is passed over while another is active") {
		struct px_pool *p = held2(PX_POOL_FLOW(1, 1));

		T_EQ(sub(p, PX_POOL_FLOW(2, 1), Q, 'B'), 0);
		T_OK(noted(1));
		T_EQ(sub(p, PX_POOL_FLOW(1, 1), Q, 'A'), 0);
		T_EQ(sub(p, PX_POOL_FLOW(1, 2), Q, 'A'), 0);
		T_EQ(sub(p, PX_POOL_FLOW(2, 1), Q, 'B'), 0);
		/* B's second job runs; A's wait for A's running job */
		T_OK(noted(2));
		usleep(50000);
		T_STREQ(order, "BB");
		/* once B has been quiet for the window, A may use both */
		fake_ms += 10001;
		T_OK(noted(4));
		T_STREQ(order, "BBAA");
		T_EQ(px_pool_held(p), 2); /* both of A's jobs waited for the share */
		release(p);
	}

	T_CASE("flow 0 is never held back") {
		struct px_pool *p = held2(PX_POOL_FLOW(1, 1));

		T_EQ(sub(p, PX_POOL_FLOW(2, 1), Q, 'B'), 0);
		T_OK(noted(1));
		T_EQ(sub(p, 0, Q, 'N'), 0);
		T_OK(noted(2));
		T_STREQ(order, "BN");
		release(p);
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
