/*
 * ctxpool.c - a fixed set of execution contexts for one model, shared by
 * the threads that run it (see ml.h). Each context holds its own arena,
 * so a worker takes one for the length of a run and gives it back; a
 * worker that finds none out waits for one.
 */
#include "ml/ml.h"

#include <pthread.h>

struct px_ml_ctxpool {
	pthread_mutex_t lock;
	pthread_cond_t ctx_free;
	struct px_ml_ctx **ctxs; /* [0, navail) are in the pool */
	int nctx, navail;
};

int px_ml_ctxpool_new(struct px_ml_model *m, int n,
		      struct px_ml_ctxpool **out, struct px_errbuf *eb)
{
	struct px_ml_ctxpool *p;
	int rc = PX_ENOMEM;

	*out = NULL;
	if (!(p = calloc(1, sizeof(*p))))
		return PX_ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->ctx_free, NULL);
	p->nctx = PX_MAX(n, 1);
	if (!(p->ctxs = calloc((size_t)p->nctx, sizeof(*p->ctxs))))
		goto fail;
	for (int i = 0; i < p->nctx; i++) {
		if ((rc = px_ml_ctx_new(m, &p->ctxs[i], eb)))
			goto fail;
		p->navail++;
	}
	*out = p;
	return 0;
fail:
	px_ml_ctxpool_free(p);
	return rc;
}

void px_ml_ctxpool_free(struct px_ml_ctxpool *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->nctx && p->ctxs; i++)
		px_ml_ctx_free(p->ctxs[i]);
	free(p->ctxs);
	pthread_cond_destroy(&p->ctx_free);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

struct px_ml_ctx *px_ml_ctxpool_take(struct px_ml_ctxpool *p)
{
	struct px_ml_ctx *c;

	pthread_mutex_lock(&p->lock);
	while (!p->navail)
		pthread_cond_wait(&p->ctx_free, &p->lock);
	c = p->ctxs[--p->navail];
	pthread_mutex_unlock(&p->lock);
	return c;
}

void px_ml_ctxpool_give(struct px_ml_ctxpool *p, struct px_ml_ctx *c)
{
	pthread_mutex_lock(&p->lock);
	p->ctxs[p->navail++] = c;
	pthread_cond_signal(&p->ctx_free);
	pthread_mutex_unlock(&p->lock);
}
