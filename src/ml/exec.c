/*
 * exec.c - execution contexts: one per worker, many runs each.
 *
 * A context owns what a run writes: the activation arena laid out by the
 * planner, one oneDNN scratchpad sized for the hungriest primitive, a
 * oneDNN stream, and the oneDNN memory objects that bind each step's
 * arguments to arena offsets or to the model's constant weights. The model
 * is only read, so any number of contexts may run one model at once.
 *
 * Threads: Debian's oneDNN is built on OpenMP. Its kernels split work for
 * the thread count current when the primitive is created and open parallel
 * regions of that size when run, so the count is a load option (default
 * 1): loading and every px_ml_run set the calling thread's OpenMP count
 * (omp_set_num_threads changes only the calling thread's ICV) and restore
 * it after. W single-threaded workers then use W cores, not W x cores.
 */
#include "ml/graph.h"

#include <pthread.h>
#include <time.h>

struct px_ml_ctx {
	struct px_ml_model *m; /* referenced */
	unsigned char *arena;
	unsigned char *scratch;
	dnnl_stream_t stream;
	void **ptr;                 /* per value */
	dnnl_exec_arg_t **dargs;    /* per step, NULL for plain kernels */
	dnnl_memory_t *mems;        /* every memory object, to destroy */
	int nmems;
};

int px_ml_omp_enter(const struct px_ml_model *m)
{
	int saved = 0;

	if (m->omp_set && m->omp_get) {
		saved = m->omp_get();
		if (saved != m->nthreads)
			m->omp_set(m->nthreads);
	}
	return saved;
}

void px_ml_omp_leave(const struct px_ml_model *m, int saved)
{
	if (m->omp_set && m->omp_get && saved != m->nthreads)
		m->omp_set(saved);
}

int px_ml_run_dnnl(const struct px_ml_step *s, struct px_ml_exec *x)
{
	dnnl_exec_arg_t *a = x->dargs[s - x->steps];
	int n = s->nargs + (s->scratch ? 1 : 0);

	if (dnnl_primitive_execute(s->prim, x->stream, n, a) != dnnl_success)
		return PX_EINTERNAL;
	return 0;
}

static void *align_alloc(size_t n)
{
	size_t sz = (n + PX_ML_ALIGN - 1) / PX_ML_ALIGN * PX_ML_ALIGN;
	void *p = aligned_alloc(PX_ML_ALIGN, sz ? sz : PX_ML_ALIGN);

	if (p)
		memset(p, 0, sz ? sz : PX_ML_ALIGN);
	return p;
}

static int new_mem(struct px_ml_ctx *c, const dnnl_memory_desc_t *md,
		   void *data, dnnl_memory_t *out)
{
	if (dnnl_memory_create(out, md, c->m->engine, data) != dnnl_success)
		return PX_EINTERNAL;
	c->mems[c->nmems++] = *out;
	return 0;
}

void px_ml_ctx_free(struct px_ml_ctx *c)
{
	int i;

	if (!c)
		return;
	for (i = 0; i < c->nmems; i++)
		dnnl_memory_destroy(c->mems[i]);
	free(c->mems);
	if (c->dargs)
		for (i = 0; i < c->m->nsteps; i++)
			free(c->dargs[i]);
	free(c->dargs);
	free(c->ptr);
	if (c->stream)
		dnnl_stream_destroy(c->stream);
	free(c->arena);
	free(c->scratch);
	px_ml_model_free(c->m);
	free(c);
}

int px_ml_ctx_new(struct px_ml_model *m, struct px_ml_ctx **out,
		  struct px_errbuf *eb)
{
	struct px_ml_ctx *c;
	int i, k, nmems = 0, rc = PX_ENOMEM;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return PX_ENOMEM;
	c->m = px_ml_model_ref(m);
	c->arena = align_alloc(m->arena_bytes);
	c->scratch = align_alloc(m->scratch_bytes);
	c->ptr = calloc((size_t)m->nvals + 1, sizeof(*c->ptr));
	c->dargs = calloc((size_t)m->nsteps + 1, sizeof(*c->dargs));
	for (i = 0; i < m->nsteps; i++)
		nmems += m->steps[i].nargs + 1;
	c->mems = calloc((size_t)nmems + 1, sizeof(*c->mems));
	if (!c->arena || !c->scratch || !c->ptr || !c->dargs || !c->mems)
		goto out;
	for (i = 0; i < m->nvals; i++) {
		int r = px_ml_root(m, i);
		const struct px_ml_val *v = &m->vals[r];

		if (!m->vals[i].used)
			continue;
		c->ptr[i] = v->cdata ? v->cdata : c->arena + v->off;
	}
	if (dnnl_stream_create(&c->stream, m->engine,
			       dnnl_stream_default_flags) != dnnl_success) {
		c->stream = NULL;
		rc = px_errf(eb, PX_EINTERNAL, "oneDNN: cannot create stream");
		goto out;
	}
	for (i = 0; i < m->nsteps; i++) {
		const struct px_ml_step *s = &m->steps[i];
		dnnl_exec_arg_t *a;

		if (s->run != px_ml_run_dnnl)
			continue;
		a = calloc((size_t)s->nargs + 1, sizeof(*a));
		if (!a) {
			rc = PX_ENOMEM;
			goto out;
		}
		c->dargs[i] = a;
		for (k = 0; k < s->nargs; k++) {
			a[k].arg = s->args[k].kind;
			rc = new_mem(c, &s->args[k].md, c->ptr[s->args[k].val],
				     &a[k].memory);
			if (rc)
				goto fail;
		}
		if (s->scratch) {
			a[k].arg = DNNL_ARG_SCRATCHPAD;
			rc = new_mem(c, &s->scratch_md, c->scratch,
				     &a[k].memory);
			if (rc)
				goto fail;
		}
	}
	*out = c;
	return 0;
fail:
	px_errf(eb, rc, "oneDNN: cannot create memory objects");
out:
	px_ml_ctx_free(c);
	return rc;
}

int px_ml_run(struct px_ml_ctx *c, const float *input, size_t n,
	      float *output, size_t nout, struct px_errbuf *eb)
{
	const struct px_ml_model *m = c->m;
	struct px_ml_exec x;
	int i, rc = 0, saved = 0;

	if (n != m->vals[m->input].nelem)
		return px_errf(eb, PX_EINVAL,
			       "input has %zu values, the model takes %zu", n,
			       m->vals[m->input].nelem);
	if (nout != m->vals[m->outputs[0]].nelem)
		return px_errf(eb, PX_EINVAL,
			       "output has room for %zu values, the model "
			       "gives %zu",
			       nout, m->vals[m->outputs[0]].nelem);
	saved = px_ml_omp_enter(m);
	memcpy(c->ptr[m->input], input, n * sizeof(float));
	x.steps = m->steps;
	x.ptr = c->ptr;
	x.stream = c->stream;
	x.dargs = c->dargs;
	for (i = 0; i < m->nsteps; i++) {
		const struct px_ml_step *s = &m->steps[i];

		rc = s->run(s, &x);
		if (rc) {
			const struct px_ml_node *nd =
				s->node >= 0 ? &m->nodes[s->node] : NULL;

			rc = px_errf(eb, rc, "step %d (%s '%s') failed: %s", i,
				     nd ? nd->opname : "?",
				     nd ? nd->name : "?", px_err_name(rc));
			goto out;
		}
	}
	if (dnnl_stream_wait(c->stream) != dnnl_success) {
		rc = px_errf(eb, PX_EINTERNAL, "oneDNN: stream wait failed");
		goto out;
	}
	memcpy(output, c->ptr[m->outputs[0]], nout * sizeof(float));
out:
	px_ml_omp_leave(m, saved);
	return rc;
}

const float *px_ml_ctx_output(const struct px_ml_ctx *c, int i, size_t *n)
{
	if (i < 0 || i >= c->m->noutputs)
		return NULL;
	*n = c->m->vals[c->m->outputs[i]].nelem;
	return c->ptr[c->m->outputs[i]];
}

/* Workers warm up, report ready, and wait for the gate to open. */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int ready;
	bool open, abort;
};

struct bench {
	struct px_ml_model *m;
	int iterations;
	struct gate *g;
	int rc;
	struct px_errbuf eb;
};

static void *bench_worker(void *arg)
{
	struct bench *b = arg;
	struct px_ml_ctx *c = NULL;
	size_t nin = px_ml_model_input_size(b->m);
	size_t nout = px_ml_model_output_size(b->m, 0);
	float *in = malloc(nin * sizeof(*in) + 1);
	float *outv = malloc(nout * sizeof(*outv) + 1);
	size_t i;
	int k, rc = 0;
	bool go;

	if (!in || !outv)
		rc = PX_ENOMEM;
	for (i = 0; !rc && i < nin; i++)
		in[i] = (float)((i * 7919) % 256) / 255.0f;
	if (!rc)
		rc = px_ml_ctx_new(b->m, &c, &b->eb);
	for (k = 0; !rc && k < 2; k++)
		rc = px_ml_run(c, in, nin, outv, nout, &b->eb);
	pthread_mutex_lock(&b->g->mu);
	b->g->ready++;
	pthread_cond_broadcast(&b->g->cv);
	while (!b->g->open)
		pthread_cond_wait(&b->g->cv, &b->g->mu);
	go = !b->g->abort;
	pthread_mutex_unlock(&b->g->mu);
	for (k = 0; go && !rc && k < b->iterations; k++)
		rc = px_ml_run(c, in, nin, outv, nout, &b->eb);
	b->rc = rc;
	px_ml_ctx_free(c);
	free(in);
	free(outv);
	return NULL;
}

int px_ml_bench(struct px_ml_model *m, int iterations, int nworkers,
		double *ms_per_run, struct px_errbuf *eb)
{
	struct gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
			 0, false, false};
	struct bench *b = NULL;
	pthread_t *tid = NULL;
	double t0;
	int i, started = 0, rc = 0;

	if (iterations < 1 || nworkers < 1 || nworkers > 256)
		return px_errf(eb, PX_EINVAL,
			       "iterations and workers must be positive");
	b = calloc((size_t)nworkers, sizeof(*b));
	tid = calloc((size_t)nworkers, sizeof(*tid));
	if (!b || !tid) {
		rc = PX_ENOMEM;
		goto out;
	}
	for (i = 0; i < nworkers; i++) {
		b[i].m = m;
		b[i].iterations = iterations;
		b[i].g = &g;
		if (pthread_create(&tid[i], NULL, bench_worker, &b[i])) {
			rc = px_errf(eb, PX_EINTERNAL, "cannot start a thread");
			break;
		}
		started++;
	}
	pthread_mutex_lock(&g.mu);
	while (g.ready < started)
		pthread_cond_wait(&g.cv, &g.mu);
	g.open = true;
	g.abort = rc != 0;
	pthread_cond_broadcast(&g.cv);
	pthread_mutex_unlock(&g.mu);
	t0 = (double)px_mono_us() / 1e3;
	for (i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	if (!rc)
		*ms_per_run = ((double)px_mono_us() / 1e3 - t0) / ((double)iterations * nworkers);
	for (i = 0; i < started; i++) {
		if (!rc && b[i].rc) {
			rc = b[i].rc;
			if (eb)
				*eb = b[i].eb;
		}
	}
out:
	free(b);
	free(tid);
	return rc;
}
