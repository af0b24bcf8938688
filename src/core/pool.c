/*
 * pool.c - worker threads over per-client queues served by deficit round
 * robin, one mutex and one condition variable.
 *
 * Every job belongs to a flow (the client that asked for it; flow 0 for
 * work of no particular client) and has a cost (output pixels for a
 * render). Flows with waiting jobs form a ring; the flow at its head
 * gains a quantum of credit when its turn starts and runs jobs while its
 * credit covers them, then goes to the back. So a client sending renders
 * as fast as it can gets its share of the workers and no more, another
 * client's render waits for at most one turn of each busy flow, and a
 * flood of huge outputs is not cheaper than a flood of thumbnails.
 *
 * Bounds: at most max_queued jobs wait in all, at most flow_cap in one
 * flow. When the whole queue is full, a job from a flow holding none, or
 * two fewer than the biggest flow, pushes out that flow's newest job
 * (which is cancelled), so clients cannot fill the queue against a
 * newcomer.
 * Jobs, flows and the flow index live in arrays sized at creation.
 */
#include "core/pool.h"

#include <pthread.h>
#include <unistd.h>

#define NIL UINT32_MAX

struct job {
	px_pool_fn fn, cancel;
	void *arg;
	uint64_t cost;
	uint32_t next; /* next job of the flow, or of the free list */
};

struct flow {
	uint64_t key;
	uint64_t deficit;
	uint32_t head, tail, n; /* its jobs, oldest first */
	uint32_t ring_next, ring_prev;
	uint32_t hnext; /* index chain */
	bool turn;      /* its turn has started (credit added) */
};

struct px_pool {
	pthread_mutex_t lock;
	pthread_cond_t has_job;
	struct job *jobs;
	struct flow *flows;
	uint32_t *index; /* flow key hash -> flow, chained through hnext */
	uint32_t cap, flow_cap, index_mask;
	uint32_t free_jobs, free_flows;
	uint32_t ring; /* flow whose turn it is, or NIL */
	int count, running, nflows;
	uint64_t quantum;
	bool stopping;
	int nthreads;
	pthread_t *threads;
};

static uint32_t index_of(const struct px_pool *p, uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return (uint32_t)key & p->index_mask;
}

static struct flow *flow_find(struct px_pool *p, uint64_t key)
{
	for (uint32_t i = p->index[index_of(p, key)]; i != NIL; i = p->flows[i].hnext)
		if (p->flows[i].key == key)
			return &p->flows[i];
	return NULL;
}

/* A new flow at the back of the ring (there is always a free one: a
 * flow exists only while it has jobs, and jobs are at most cap). */
static struct flow *flow_add(struct px_pool *p, uint64_t key)
{
	uint32_t i = p->free_flows, h = index_of(p, key);
	struct flow *f = &p->flows[i];

	p->free_flows = f->hnext;
	memset(f, 0, sizeof(*f));
	f->key = key;
	f->head = f->tail = NIL;
	f->hnext = p->index[h];
	p->index[h] = i;
	if (p->ring == NIL) {
		f->ring_next = f->ring_prev = i;
		p->ring = i;
	} else {
		struct flow *first = &p->flows[p->ring];

		f->ring_next = p->ring;
		f->ring_prev = first->ring_prev;
		p->flows[first->ring_prev].ring_next = i;
		first->ring_prev = i;
	}
	p->nflows++;
	return f;
}

static void flow_remove(struct px_pool *p, struct flow *f)
{
	uint32_t i = (uint32_t)(f - p->flows);
	uint32_t *link = &p->index[index_of(p, f->key)];

	while (*link != i)
		link = &p->flows[*link].hnext;
	*link = f->hnext;
	if (f->ring_next == i) {
		p->ring = NIL;
	} else {
		p->flows[f->ring_prev].ring_next = f->ring_next;
		p->flows[f->ring_next].ring_prev = f->ring_prev;
		if (p->ring == i)
			p->ring = f->ring_next;
	}
	f->hnext = p->free_flows;
	p->free_flows = i;
	p->nflows--;
}

/* The next job by deficit round robin; the lock is held and count > 0. */
static struct job take(struct px_pool *p)
{
	int passes = 0;

	for (;;) {
		struct flow *f = &p->flows[p->ring];
		struct job *j = &p->jobs[f->head];

		if (!f->turn) {
			f->deficit += p->quantum;
			f->turn = true;
		}
		if (j->cost <= f->deficit) {
			struct job out = *j;
			uint32_t ji = f->head;

			f->deficit -= j->cost;
			f->head = j->next;
			j->next = p->free_jobs;
			p->free_jobs = ji;
			p->count--;
			if (!--f->n)
				flow_remove(p, f);
			return out;
		}
		/* Its credit does not cover the next job: end its turn. */
		f->turn = false;
		p->ring = f->ring_next;
		if (++passes > p->nflows) {
			/* Nobody could run after a whole round: give every
			 * flow the rounds the closest one still needs, less
			 * the one its next turn adds. */
			uint64_t k = UINT64_MAX;
			uint32_t i = p->ring;

			do {
				struct flow *g = &p->flows[i];
				uint64_t need = p->jobs[g->head].cost - g->deficit;

				k = PX_MIN(k, (need + p->quantum - 1) / p->quantum);
				i = g->ring_next;
			} while (i != p->ring);
			i = p->ring;
			do {
				p->flows[i].deficit += (k - 1) * p->quantum;
				i = p->flows[i].ring_next;
			} while (i != p->ring);
			passes = 0;
		}
	}
}

static void *worker(void *arg)
{
	struct px_pool *p = arg;
	struct job j;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->count && !p->stopping)
			pthread_cond_wait(&p->has_job, &p->lock);
		if (!p->count && p->stopping)
			break;
		j = take(p);
		p->running++;
		pthread_mutex_unlock(&p->lock);
		j.fn(j.arg);
		pthread_mutex_lock(&p->lock);
		p->running--;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int px_pool_new(int nthreads, int max_queued, struct px_pool **out)
{
	struct px_pool *p;
	uint32_t nb = 1;

	*out = NULL;
	if (nthreads < 1 || max_queued < 0)
		return PX_EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return PX_ENOMEM;
	/* Room for the waiting jobs only; a job leaves when a worker takes
	 * it, so capacity is max_queued (at least one slot so an idle
	 * worker can be handed a job). */
	p->cap = max_queued > 0 ? (uint32_t)max_queued : 1;
	p->flow_cap = p->cap;
	p->quantum = PX_POOL_QUANTUM;
	while (nb < 2 * p->cap)
		nb <<= 1;
	p->index_mask = nb - 1;
	p->jobs = calloc(p->cap, sizeof(*p->jobs));
	p->flows = calloc(p->cap, sizeof(*p->flows));
	p->index = malloc(nb * sizeof(*p->index));
	p->threads = calloc((size_t)nthreads, sizeof(*p->threads));
	if (!p->jobs || !p->flows || !p->index || !p->threads) {
		free(p->jobs);
		free(p->flows);
		free(p->index);
		free(p->threads);
		free(p);
		return PX_ENOMEM;
	}
	for (uint32_t i = 0; i < p->cap; i++) {
		p->jobs[i].next = i + 1 < p->cap ? i + 1 : NIL;
		p->flows[i].hnext = i + 1 < p->cap ? i + 1 : NIL;
	}
	for (uint32_t i = 0; i < nb; i++)
		p->index[i] = NIL;
	p->ring = NIL;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->has_job, NULL);
	for (int i = 0; i < nthreads; i++) {
		if (pthread_create(&p->threads[i], NULL, worker, p))
			break;
		p->nthreads++;
	}
	if (!p->nthreads) {
		px_pool_free(p);
		return PX_EINTERNAL;
	}
	*out = p;
	return 0;
}

void px_pool_set_flow_cap(struct px_pool *p, int n)
{
	pthread_mutex_lock(&p->lock);
	p->flow_cap = n > 0 ? PX_MIN((uint32_t)n, p->cap) : p->cap;
	pthread_mutex_unlock(&p->lock);
}

/* Drop the newest job of the flow holding the most, if that evens
 * things out (it holds two more than mine, or mine has none) and the
 * job can be cancelled; it is returned for cancelling outside the
 * lock. */
static bool push_out(struct px_pool *p, uint32_t mine, struct job *dropped)
{
	struct flow *big = NULL;
	uint32_t i = p->ring, prev;

	do {
		if (!big || p->flows[i].n > big->n)
			big = &p->flows[i];
		i = p->flows[i].ring_next;
	} while (i != p->ring);
	if ((big->n <= mine + 1 && mine) || !p->jobs[big->tail].cancel)
		return false;
	/* the tail: walk from the head (flows are short: at most flow_cap) */
	prev = NIL;
	for (i = big->head; p->jobs[i].next != NIL; i = p->jobs[i].next)
		prev = i;
	*dropped = p->jobs[i];
	if (prev == NIL)
		big->head = NIL;
	else
		p->jobs[prev].next = NIL;
	big->tail = prev;
	p->jobs[i].next = p->free_jobs;
	p->free_jobs = i;
	p->count--;
	if (!--big->n)
		flow_remove(p, big);
	return true;
}

int px_pool_submit_fair(struct px_pool *p, uint64_t flow, uint64_t cost,
			px_pool_fn fn, px_pool_fn cancel, void *arg)
{
	struct job dropped = {0};
	bool have_dropped = false;
	struct flow *f;
	uint32_t ji;
	int rc = 0;

	pthread_mutex_lock(&p->lock);
	f = flow_find(p, flow);
	if (p->stopping) {
		rc = PX_EINVAL;
		goto out;
	}
	if (flow && f && f->n >= p->flow_cap) {
		rc = PX_EBUSY;
		goto out;
	}
	if ((uint32_t)p->count == p->cap) {
		/* only jobs that can be pushed out may push others out */
		if (!cancel || p->ring == NIL ||
		    !(have_dropped = push_out(p, f ? f->n : 0, &dropped))) {
			rc = PX_EBUSY;
			goto out;
		}
		f = flow_find(p, flow); /* push_out may have removed it */
	}
	if (!f)
		f = flow_add(p, flow);
	ji = p->free_jobs;
	p->free_jobs = p->jobs[ji].next;
	p->jobs[ji] = (struct job){fn, cancel, arg, PX_MAX(cost, 1), NIL};
	if (f->tail == NIL)
		f->head = ji;
	else
		p->jobs[f->tail].next = ji;
	f->tail = ji;
	f->n++;
	p->count++;
	pthread_cond_signal(&p->has_job);
out:
	pthread_mutex_unlock(&p->lock);
	if (have_dropped)
		dropped.cancel(dropped.arg);
	return rc;
}

int px_pool_submit(struct px_pool *p, px_pool_fn fn, void *arg)
{
	return px_pool_submit_fair(p, 0, PX_POOL_QUANTUM, fn, NULL, arg);
}

int px_pool_load(struct px_pool *p)
{
	int n;

	pthread_mutex_lock(&p->lock);
	n = p->count + p->running;
	pthread_mutex_unlock(&p->lock);
	return n;
}

void px_pool_free(struct px_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->has_job);
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->has_job);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p->jobs);
	free(p->flows);
	free(p->index);
	free(p);
}

int px_cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}
