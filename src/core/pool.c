/*
 * pool.c - worker threads over a ring buffer of jobs, one mutex and two
 * condition variables.
 */
#include "core/pool.h"

#include <pthread.h>
#include <unistd.h>

struct job {
	px_pool_fn fn;
	void *arg;
};

struct px_pool {
	pthread_mutex_t lock;
	pthread_cond_t has_job;
	struct job *ring;
	int cap, head, count; /* ring capacity, first job, jobs waiting */
	int running;
	bool stopping;
	int nthreads;
	pthread_t *threads;
};

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
		j = p->ring[p->head];
		p->head = (p->head + 1) % p->cap;
		p->count--;
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

	*out = NULL;
	if (nthreads < 1 || max_queued < 0)
		return PX_EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return PX_ENOMEM;
	/* The ring holds the waiting jobs only; a job leaves it when a
	 * worker takes it, so capacity is max_queued (at least one slot so
	 * an idle worker can be handed a job). */
	p->cap = max_queued > 0 ? max_queued : 1;
	p->ring = calloc((size_t)p->cap, sizeof(*p->ring));
	p->threads = calloc((size_t)nthreads, sizeof(*p->threads));
	if (!p->ring || !p->threads) {
		free(p->ring);
		free(p->threads);
		free(p);
		return PX_ENOMEM;
	}
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

int px_pool_submit(struct px_pool *p, px_pool_fn fn, void *arg)
{
	int rc = 0;

	pthread_mutex_lock(&p->lock);
	if (p->stopping) {
		rc = PX_EINVAL;
	} else if (p->count == p->cap) {
		rc = PX_EBUSY;
	} else {
		p->ring[(p->head + p->count) % p->cap] = (struct job){fn, arg};
		p->count++;
		pthread_cond_signal(&p->has_job);
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
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
	free(p->ring);
	free(p);
}

int px_cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}
