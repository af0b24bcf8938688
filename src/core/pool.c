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
 * Renders cannot be interrupted, so fair order alone does not help a
 * newcomer when every worker is busy with one flood: it waits for a
 * whole render. Flows belong to groups (a client's network); while any
 * other group has submitted work in the last `window_ms`, a group's
 * flows are passed over once the group runs `share` jobs (all workers
 * but one by default). A group alone still uses every worker.
 *
 * Bounds: at most max_queued jobs wait in all, at most flow_cap in one
 * flow. When the whole queue is full, a job from a group holding none,
 * or two fewer than the biggest group, pushes out the newest job of that
 * group's biggest flow (which is cancelled); within one group the same
 * holds between flows. So clients cannot fill the queue against a
 * newcomer, nor a network of clients against another network.
 * Jobs, flows, groups and their indexes live in arrays sized at creation.
 */
#include "core/pool.h"
#include "core/malloc.h"

#include <pthread.h>
#include <unistd.h>

#define NIL UINT32_MAX

struct job {
	px_pool_fn fn, cancel;
	void *arg;
	uint64_t cost;
	uint32_t next;  /* next job of the flow, or of the free list */
	uint32_t group; /* its flow's group, or NIL */
	bool held;      /* passed over for its group's share */
};

/* A group exists while it has jobs waiting or running. */
struct group {
	uint64_t key;
	uint32_t queued, running;
	uint32_t hnext; /* index chain, or free list */
};

/* A group that submitted work lately. */
struct seen {
	uint64_t key;
	int64_t ms;
};

#define NSEEN 8

struct flow {
	uint64_t key;
	uint64_t deficit;
	uint32_t head, tail, n; /* its jobs, oldest first */
	uint32_t ring_next, ring_prev;
	uint32_t hnext; /* index chain */
	uint32_t group; /* or NIL for flow 0 */
	bool turn;      /* its turn has started (credit added) */
};

/* A worker that leaves the pool idle trims the heaps (px_malloc_trim) at
 * most this often; the daemon's periodic trim catches the rest. */
#define IDLE_TRIM_MS 1000

struct px_pool {
	pthread_mutex_t lock;
	pthread_cond_t has_job;
	struct job *jobs;
	struct flow *flows;
	struct group *groups;
	uint32_t *index;  /* flow key hash -> flow, chained through hnext */
	uint32_t *gindex; /* group key hash -> group */
	uint32_t cap, flow_cap, index_mask, gcap, gindex_mask;
	uint32_t free_jobs, free_flows, free_groups;
	uint32_t ring; /* flow whose turn it is, or NIL */
	int count, running, nflows;
	uint64_t quantum;
	uint32_t share;    /* running jobs a group may hold; 0: no limit */
	int64_t window_ms; /* how long another group's work counts */
	struct seen seen[NSEEN];
	uint64_t held;
	int64_t trimmed_ms; /* when the last worker to go idle trimmed */
	bool stopping;
	int nthreads;
	pthread_t *threads;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The clock; tests replace it. */
static int64_t (*pool_now_ms)(void) = mono_ms;

static uint32_t mix(uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return (uint32_t)key;
}

static uint32_t index_of(const struct px_pool *p, uint64_t key)
{
	return mix(key) & p->index_mask;
}

static uint64_t group_key(uint64_t flow)
{
	return flow >> 32 ? flow >> 32 : flow;
}

/* The group of key, added if new (there is always a free one: a group
 * exists only while it has jobs waiting or running). */
static uint32_t group_get(struct px_pool *p, uint64_t key)
{
	uint32_t h = mix(key) & p->gindex_mask, i;

	for (i = p->gindex[h]; i != NIL; i = p->groups[i].hnext)
		if (p->groups[i].key == key)
			return i;
	i = p->free_groups;
	p->free_groups = p->groups[i].hnext;
	p->groups[i] = (struct group){key, 0, 0, p->gindex[h]};
	p->gindex[h] = i;
	return i;
}

/* Drop group i if it holds nothing any more. */
static void group_put(struct px_pool *p, uint32_t i)
{
	struct group *g = &p->groups[i];
	uint32_t *link;

	if (g->queued || g->running)
		return;
	link = &p->gindex[mix(g->key) & p->gindex_mask];
	while (*link != i)
		link = &p->groups[*link].hnext;
	*link = g->hnext;
	g->hnext = p->free_groups;
	p->free_groups = i;
}

/* Note that group key submitted work at now. */
static void group_seen(struct px_pool *p, uint64_t key, int64_t now)
{
	struct seen *slot = &p->seen[0];

	for (int i = 0; i < NSEEN; i++) {
		if (p->seen[i].key == key) {
			slot = &p->seen[i];
			break;
		}
		if (p->seen[i].ms < slot->ms)
			slot = &p->seen[i];
	}
	slot->key = key;
	slot->ms = now;
}

/* Is flow f passed over: its group runs its share while another group
 * has work lately? */
static bool capped(const struct px_pool *p, const struct flow *f, int64_t now)
{
	const struct group *g;

	if (f->group == NIL || !p->share || p->stopping)
		return false;
	g = &p->groups[f->group];
	if (g->running < p->share)
		return false;
	for (int i = 0; i < NSEEN; i++)
		if (p->seen[i].key && p->seen[i].key != g->key &&
		    now - p->seen[i].ms < p->window_ms)
			return true;
	return false;
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
	f->group = key ? group_get(p, group_key(key)) : NIL;
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

/* The next job by deficit round robin among flows not passed over (the
 * lock is held); false when there is none. */
static bool take(struct px_pool *p, int64_t now, struct job *out)
{
	int passes = 0, neligible = 0;
	uint32_t i;

	if (p->ring == NIL)
		return false;
	i = p->ring;
	do {
		struct flow *f = &p->flows[i];

		if (capped(p, f, now))
			p->jobs[f->head].held = true;
		else
			neligible++;
		i = f->ring_next;
	} while (i != p->ring);
	if (!neligible)
		return false;
	for (;;) {
		struct flow *f = &p->flows[p->ring];
		struct job *j = &p->jobs[f->head];

		if (capped(p, f, now)) {
			p->ring = f->ring_next;
			continue;
		}
		if (!f->turn) {
			f->deficit += p->quantum;
			f->turn = true;
		}
		if (j->cost <= f->deficit) {
			uint32_t ji = f->head;

			*out = *j;
			p->held += j->held;
			f->deficit -= j->cost;
			f->head = j->next;
			j->next = p->free_jobs;
			p->free_jobs = ji;
			p->count--;
			if (f->group != NIL) {
				p->groups[f->group].queued--;
				p->groups[f->group].running++;
			}
			if (!--f->n)
				flow_remove(p, f);
			return true;
		}
		/* Its credit does not cover the next job: end its turn. */
		f->turn = false;
		p->ring = f->ring_next;
		if (++passes > neligible) {
			/* Nobody could run after a whole round: give every
			 * flow that may run the rounds the closest one still
			 * needs, less the one its next turn adds. */
			uint64_t k = UINT64_MAX;

			i = p->ring;
			do {
				struct flow *g = &p->flows[i];
				uint64_t need = p->jobs[g->head].cost - g->deficit;

				if (!capped(p, g, now))
					k = PX_MIN(k, (need + p->quantum - 1) / p->quantum);
				i = g->ring_next;
			} while (i != p->ring);
			i = p->ring;
			do {
				if (!capped(p, &p->flows[i], now))
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
		if (p->count && take(p, pool_now_ms(), &j)) {
			p->running++;
			pthread_mutex_unlock(&p->lock);
			j.fn(j.arg);
			pthread_mutex_lock(&p->lock);
			p->running--;
			if (j.group != NIL) {
				p->groups[j.group].running--;
				group_put(p, j.group);
			}
			/* a group's share freed: a passed-over job may run */
			if (p->count)
				pthread_cond_broadcast(&p->has_job);
			if (!p->count && !p->running &&
			    mono_ms() - p->trimmed_ms >= IDLE_TRIM_MS) {
				/* The last job of a burst: renders leave
				 * hundreds of MB free in the heaps; give it
				 * back now rather than at the next periodic
				 * trim. */
				p->trimmed_ms = mono_ms();
				pthread_mutex_unlock(&p->lock);
				px_malloc_trim();
				pthread_mutex_lock(&p->lock);
			}
			continue;
		}
		if (!p->count && p->stopping)
			break;
		if (p->count) {
			/* Every waiting job is passed over; look again when
			 * another group's activity may have aged out. */
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&p->has_job, &p->lock, &ts);
		} else {
			pthread_cond_wait(&p->has_job, &p->lock);
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void resolve_share(struct px_pool *p, int n)
{
	if (n < 0)
		n = p->nthreads - 1;
	p->share = n > 0 && n < p->nthreads ? (uint32_t)n : 0;
}

int px_pool_new(int nthreads, int max_queued, struct px_pool **out)
{
	struct px_pool *p;
	uint32_t nb = 1, gb = 1;

	*out = NULL;
	if (nthreads < 1 || max_queued < 0)
		return PX_EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return PX_ENOMEM;
	/* Room for the waiting jobs only; a job leaves when a worker takes
	 * it, so capacity is max_queued (at least one slot so an idle
	 * worker can be handed a job). A group lives while it has a job
	 * waiting or running. */
	p->cap = max_queued > 0 ? (uint32_t)max_queued : 1;
	p->gcap = p->cap + (uint32_t)nthreads;
	p->flow_cap = p->cap;
	p->quantum = PX_POOL_QUANTUM;
	p->window_ms = 10000;
	while (nb < 2 * p->cap)
		nb <<= 1;
	while (gb < 2 * p->gcap)
		gb <<= 1;
	p->index_mask = nb - 1;
	p->gindex_mask = gb - 1;
	p->jobs = calloc(p->cap, sizeof(*p->jobs));
	p->flows = calloc(p->cap, sizeof(*p->flows));
	p->groups = calloc(p->gcap, sizeof(*p->groups));
	p->index = malloc(nb * sizeof(*p->index));
	p->gindex = malloc(gb * sizeof(*p->gindex));
	p->threads = calloc((size_t)nthreads, sizeof(*p->threads));
	if (!p->jobs || !p->flows || !p->groups || !p->index || !p->gindex ||
	    !p->threads) {
		free(p->jobs);
		free(p->flows);
		free(p->groups);
		free(p->index);
		free(p->gindex);
		free(p->threads);
		free(p);
		return PX_ENOMEM;
	}
	for (uint32_t i = 0; i < p->cap; i++) {
		p->jobs[i].next = i + 1 < p->cap ? i + 1 : NIL;
		p->flows[i].hnext = i + 1 < p->cap ? i + 1 : NIL;
	}
	for (uint32_t i = 0; i < p->gcap; i++)
		p->groups[i].hnext = i + 1 < p->gcap ? i + 1 : NIL;
	for (uint32_t i = 0; i < nb; i++)
		p->index[i] = NIL;
	for (uint32_t i = 0; i < gb; i++)
		p->gindex[i] = NIL;
	p->ring = NIL;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->has_job, NULL);
	pthread_mutex_lock(&p->lock);
	for (int i = 0; i < nthreads; i++) {
		if (pthread_create(&p->threads[i], NULL, worker, p))
			break;
		p->nthreads++;
	}
	resolve_share(p, -1);
	pthread_mutex_unlock(&p->lock);
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

void px_pool_set_share(struct px_pool *p, int n, int64_t window_ms)
{
	pthread_mutex_lock(&p->lock);
	resolve_share(p, n);
	p->window_ms = window_ms;
	pthread_cond_broadcast(&p->has_job);
	pthread_mutex_unlock(&p->lock);
}

/* The biggest flow of group gi other than mine (any group if gi is
 * NIL), or NULL. */
static struct flow *biggest_flow(struct px_pool *p, uint32_t gi,
				 const struct flow *mine)
{
	struct flow *big = NULL;
	uint32_t i = p->ring;

	do {
		struct flow *f = &p->flows[i];

		if (f != mine && f->group != NIL && (gi == NIL || f->group == gi) &&
		    (!big || f->n > big->n))
			big = f;
		i = f->ring_next;
	} while (i != p->ring);
	return big;
}

/*
 * Make room for a job of flow key (mine: its flow, or NULL) in a full
 * queue: drop the newest job of the biggest flow of the group holding
 * the most, if that group holds two more than mine (or mine none); else
 * of the biggest flow of my own group on the same terms between flows.
 * Only a job that can be cancelled is dropped; it is returned for
 * cancelling outside the lock.
 */
static bool push_out(struct px_pool *p, uint64_t key, struct flow *mine,
		     struct job *dropped)
{
	uint64_t gk = group_key(key);
	uint32_t gmine = 0, gmine_i = NIL, mine_n = mine ? mine->n : 0, i, prev;
	struct group *gbig = NULL;
	struct flow *big = NULL;

	i = p->ring;
	do {
		struct flow *f = &p->flows[i];

		if (f->group != NIL) {
			struct group *g = &p->groups[f->group];

			if (g->key == gk) {
				gmine = g->queued;
				gmine_i = f->group;
			} else if (!gbig || g->queued > gbig->queued) {
				gbig = g;
			}
		}
		i = f->ring_next;
	} while (i != p->ring);
	if (gbig && (gbig->queued > gmine + 1 || !gmine)) {
		big = biggest_flow(p, (uint32_t)(gbig - p->groups), NULL);
	} else if (gmine_i != NIL) {
		big = biggest_flow(p, gmine_i, mine);
		if (big && big->n <= mine_n + 1 && mine_n)
			big = NULL;
	}
	if (!big || !p->jobs[big->tail].cancel)
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
	p->groups[big->group].queued--;
	if (!--big->n) {
		uint32_t gi = big->group;

		flow_remove(p, big);
		group_put(p, gi);
	}
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
	if (flow)
		group_seen(p, group_key(flow), pool_now_ms());
	if (flow && f && f->n >= p->flow_cap) {
		rc = PX_EBUSY;
		goto out;
	}
	if ((uint32_t)p->count == p->cap) {
		/* only jobs that can be pushed out may push others out */
		if (!cancel || !flow || p->ring == NIL ||
		    !(have_dropped = push_out(p, flow, f, &dropped))) {
			rc = PX_EBUSY;
			goto out;
		}
		f = flow_find(p, flow); /* push_out may have removed it */
	}
	if (!f)
		f = flow_add(p, flow);
	ji = p->free_jobs;
	p->free_jobs = p->jobs[ji].next;
	p->jobs[ji] = (struct job){fn, cancel, arg, PX_MAX(cost, 1), NIL, f->group,
				   false};
	if (f->tail == NIL)
		f->head = ji;
	else
		p->jobs[f->tail].next = ji;
	f->tail = ji;
	f->n++;
	if (f->group != NIL)
		p->groups[f->group].queued++;
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

uint64_t px_pool_held(struct px_pool *p)
{
	uint64_t n;

	pthread_mutex_lock(&p->lock);
	n = p->held;
	pthread_mutex_unlock(&p->lock);
	return n;
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
	free(p->groups);
	free(p->index);
	free(p->gindex);
	free(p);
}

int px_cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}
