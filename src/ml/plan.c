/*
 * plan.c - turning checked nodes into a program: values, steps, folding,
 * layout conversions and the activation arena.
 *
 * The planner visits the nodes the outputs need in topological order and
 * calls each operator's plan(). Steps are appended through px_ml_emit(),
 * which folds a plain kernel whose inputs are all constant by running it
 * on the spot. Afterwards every runtime value that owns storage gets an
 * arena offset: values whose step intervals overlap never share bytes,
 * the rest are packed greedily, largest first (the TFLite arena planner's
 * strategy), so peak memory stays a small multiple of the largest
 * activation.
 */
#include "ml/graph.h"

#include <stdarg.h>

const char *px_ml_dnnl_str(dnnl_status_t st)
{
	switch (st) {
	case dnnl_success: return "success";
	case dnnl_out_of_memory: return "out of memory";
	case dnnl_invalid_arguments: return "invalid arguments";
	case dnnl_unimplemented: return "unimplemented";
	case dnnl_iterator_ends: return "iterator ends";
	case dnnl_runtime_error: return "runtime error";
	case dnnl_not_required: return "not required";
	}
	return "unknown status";
}

int px_ml_node_err(struct px_ml_plan *p, const struct px_ml_node *n, int rc,
		   const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!n)
		return px_errf(p->eb, rc, "%s", msg);
	return px_errf(p->eb, rc, "%.64s node '%.200s': %s", n->opname,
		       n->name, msg);
}

int px_ml_add_flops(struct px_ml_plan *p, const struct px_ml_node *n,
		    double flops)
{
	p->m->flops += flops;
	if (p->m->flops > p->m->max_flops)
		return px_ml_node_err(p, n, PX_ELIMIT,
				      "the model needs more than %.3g "
				      "operations per run",
				      p->m->max_flops);
	return 0;
}

int px_ml_root(const struct px_ml_model *m, int id)
{
	return m->vals[id].alias >= 0 ? m->vals[id].alias : id;
}

void *px_ml_cdata(const struct px_ml_model *m, int id)
{
	return m->vals[px_ml_root(m, id)].cdata;
}

int px_ml_in(struct px_ml_plan *p, const struct px_ml_node *n, int i, int *id)
{
	const struct px_ml_node *src;

	if (i < 0 || i >= n->nin)
		return px_ml_node_err(p, n, PX_EINVAL, "missing input %d", i);
	src = &p->m->nodes[n->in[i].node];
	if (n->in[i].idx >= src->nout || src->out[n->in[i].idx] < 0)
		return px_ml_node_err(p, n, PX_EINVAL,
				      "input %d has no value", i);
	*id = src->out[n->in[i].idx];
	return 0;
}

int px_ml_want_inputs(struct px_ml_plan *p, const struct px_ml_node *n, int k,
		      bool atleast)
{
	if (n->nin == k || (atleast && n->nin > k))
		return 0;
	return px_ml_node_err(p, n, PX_EINVAL, "needs %s%d inputs, has %d",
			      atleast ? "at least " : "", k, n->nin);
}

/* --- values --- */

static size_t dt_size(enum px_ml_dtype d)
{
	return d == PX_ML_BOOL ? 1 : 4;
}

static int val_push(struct px_ml_plan *p, int *id)
{
	struct px_ml_model *m = p->m;
	struct px_ml_val *v;

	if (m->nvals == m->capvals) {
		int cap = m->capvals ? m->capvals * 2 : 256;

		if (cap > 1 << 24)
			return px_errf(p->eb, PX_ETOOBIG, "too many values");
		v = realloc(m->vals, (size_t)cap * sizeof(*v));
		if (!v)
			return PX_ENOMEM;
		m->vals = v;
		m->capvals = cap;
	}
	v = &m->vals[m->nvals];
	memset(v, 0, sizeof(*v));
	v->node = -1;
	v->alias = -1;
	v->plain = -1;
	v->def = -1;
	v->last = -1;
	*id = m->nvals++;
	return 0;
}

static int set_shape(struct px_ml_plan *p, struct px_ml_val *v, int rank,
		     const int64_t *dims)
{
	size_t n = 1;
	int i;

	if (rank < 0 || rank > PX_ML_MAX_RANK)
		return px_errf(p->eb, PX_EUNSUPPORTED, "rank %d tensor", rank);
	for (i = 0; i < rank; i++) {
		if (dims[i] < 0 || dims[i] > INT32_MAX ||
		    !px_ml_mul(n, (size_t)dims[i], &n) || n > PX_ML_MAX_ELEMS)
			return px_errf(p->eb, PX_ETOOBIG,
				       "tensor shape out of range");
		v->dims[i] = dims[i];
	}
	v->rank = rank;
	v->nelem = n;
	return 0;
}

/*
 * dims may point into the value table itself (an operator whose output
 * has its input's shape passes v->dims), and val_push may move that
 * table: copy the shape first.
 */
int px_ml_val_new(struct px_ml_plan *p, int node, enum px_ml_dtype dt,
		  int rank, const int64_t *dims, int *id)
{
	int64_t shape[PX_ML_MAX_RANK];
	struct px_ml_val *v;
	int rc;

	if (rank < 0 || rank > PX_ML_MAX_RANK)
		return px_errf(p->eb, PX_EUNSUPPORTED, "rank %d tensor", rank);
	if (rank)
		memcpy(shape, dims, (size_t)rank * sizeof(*shape));
	rc = val_push(p, id);
	if (rc)
		return rc;
	v = &p->m->vals[*id];
	v->node = node;
	v->dtype = dt;
	rc = set_shape(p, v, rank, shape);
	if (rc)
		return rc;
	v->nbytes = v->nelem * dt_size(dt);
	if (v->nbytes > p->m->max_arena)
		return px_errf(p->eb, PX_ETOOBIG,
			       "a %zu-byte tensor exceeds the arena limit",
			       v->nbytes);
	return 0;
}

/* oneDNN dims {N,C,H,W} with the strides of TF's NHWC row-major order. */
static int nhwc_md(const int64_t *d, dnnl_memory_desc_t *md)
{
	dnnl_dims_t dims = {d[0], d[3], d[1], d[2]};
	dnnl_dims_t str = {d[1] * d[2] * d[3], 1, d[2] * d[3], d[3]};

	return dnnl_memory_desc_init_by_strides(md, 4, dims, dnnl_f32, str) ==
			       dnnl_success ?
		       0 :
		       PX_EINTERNAL;
}

int px_ml_val_new_md(struct px_ml_plan *p, int node, const int64_t *nhwc,
		     const dnnl_memory_desc_t *md, int *id)
{
	dnnl_memory_desc_t plain;
	struct px_ml_val *v;
	int rc = px_ml_val_new(p, node, PX_ML_F32, 4, nhwc, id);

	if (rc)
		return rc;
	v = &p->m->vals[*id];
	rc = nhwc_md(nhwc, &plain);
	if (rc)
		return px_errf(p->eb, rc, "oneDNN: bad tensor descriptor");
	if (dnnl_memory_desc_equal(&plain, md))
		return 0; /* oneDNN picked TF's own layout */
	v->layout = PX_ML_DNNL;
	v->md = *md;
	v->nbytes = dnnl_memory_desc_get_size(md);
	if (v->nbytes < v->nelem * 4 || v->nbytes > p->m->max_arena)
		return px_errf(p->eb, PX_ETOOBIG,
			       "a %zu-byte tensor exceeds the arena limit",
			       v->nbytes);
	return 0;
}

int px_ml_val_alias(struct px_ml_plan *p, int node, int src, int rank,
		    const int64_t *dims, int *id)
{
	struct px_ml_val *v, *s;
	int rc, root = px_ml_root(p->m, src);

	if (p->m->vals[src].layout != PX_ML_PLAIN)
		PX_BUG("alias of a non-plain value");
	rc = val_push(p, id);
	if (rc)
		return rc;
	v = &p->m->vals[*id];
	s = &p->m->vals[src];
	v->node = node;
	v->dtype = s->dtype;
	v->alias = root;
	rc = set_shape(p, v, rank, dims);
	if (rc)
		return rc;
	v->nbytes = v->nelem * dt_size(v->dtype);
	if (v->nelem != s->nelem)
		PX_BUG("alias changes the element count");
	return 0;
}

int px_ml_md_of(struct px_ml_plan *p, int id, dnnl_memory_desc_t *md)
{
	const struct px_ml_val *v = &p->m->vals[id];

	if (v->rank != 4 || v->dtype != PX_ML_F32)
		PX_BUG("px_ml_md_of on a non-4-D value");
	if (v->layout == PX_ML_DNNL) {
		*md = v->md;
		return 0;
	}
	if (nhwc_md(v->dims, md))
		return px_errf(p->eb, PX_EINTERNAL,
			       "oneDNN: bad tensor descriptor");
	return 0;
}

/* A oneDNN attribute with a user-managed scratchpad: the context owns it,
 * so primitives stay reentrant across contexts. */
static int attr_new(struct px_ml_plan *p, dnnl_primitive_attr_t *a)
{
	if (dnnl_primitive_attr_create(a) != dnnl_success)
		return px_errf(p->eb, PX_ENOMEM, "oneDNN: attr_create failed");
	if (dnnl_primitive_attr_set_scratchpad_mode(
		    *a, dnnl_scratchpad_mode_user) != dnnl_success) {
		dnnl_primitive_attr_destroy(*a);
		return px_errf(p->eb, PX_EINTERNAL,
			       "oneDNN: cannot set scratchpad mode");
	}
	return 0;
}

static int reorder_pd(struct px_ml_plan *p, const dnnl_memory_desc_t *src,
		      const dnnl_memory_desc_t *dst, dnnl_primitive_desc_t *pd)
{
	dnnl_primitive_attr_t a;
	dnnl_status_t st;
	int rc = attr_new(p, &a);

	if (rc)
		return rc;
	st = dnnl_reorder_primitive_desc_create(pd, src, p->m->engine, dst,
						p->m->engine, a);
	dnnl_primitive_attr_destroy(a);
	if (st != dnnl_success)
		return px_errf(p->eb, PX_EINTERNAL, "oneDNN: reorder: %s",
			       px_ml_dnnl_str(st));
	return 0;
}

static int emit_reorder(struct px_ml_plan *p, int node, int src,
			const dnnl_memory_desc_t *smd, int dst,
			const dnnl_memory_desc_t *dmd)
{
	struct px_ml_arg args[2];
	dnnl_primitive_desc_t pd;
	int rc = reorder_pd(p, smd, dmd, &pd);

	if (rc)
		return rc;
	args[0].kind = DNNL_ARG_FROM;
	args[0].val = src;
	args[0].md = *smd;
	args[1].kind = DNNL_ARG_TO;
	args[1].val = dst;
	args[1].md = *dmd;
	return px_ml_emit_dnnl(p, node, pd, args, 2);
}

int px_ml_plain(struct px_ml_plan *p, int node, int id, int *out)
{
	struct px_ml_val *v = &p->m->vals[id];
	dnnl_memory_desc_t smd, dmd;
	int64_t dims[4];
	int rc, nid;

	if (v->layout == PX_ML_PLAIN) {
		*out = id;
		return 0;
	}
	if (v->plain >= 0) {
		*out = v->plain;
		return 0;
	}
	smd = v->md;
	memcpy(dims, v->dims, sizeof(dims));
	rc = px_ml_val_new(p, node, PX_ML_F32, 4, dims, &nid);
	if (rc)
		return rc;
	rc = nhwc_md(dims, &dmd);
	if (rc)
		return px_errf(p->eb, rc, "oneDNN: bad tensor descriptor");
	rc = emit_reorder(p, node, id, &smd, nid, &dmd);
	if (rc)
		return rc;
	p->m->vals[id].plain = nid;
	*out = nid;
	return 0;
}

int px_ml_to_md(struct px_ml_plan *p, int node, int id,
		const dnnl_memory_desc_t *md, int *out)
{
	dnnl_memory_desc_t cur;
	int64_t dims[4];
	int rc, nid;

	rc = px_ml_md_of(p, id, &cur);
	if (rc)
		return rc;
	if (dnnl_memory_desc_equal(&cur, md)) {
		*out = id;
		return 0;
	}
	memcpy(dims, p->m->vals[id].dims, sizeof(dims));
	rc = px_ml_val_new_md(p, node, dims, md, &nid);
	if (rc)
		return rc;
	rc = emit_reorder(p, node, id, &cur, nid, md);
	if (rc)
		return rc;
	*out = nid;
	return 0;
}

int px_ml_const_reorder(struct px_ml_plan *p, int node, int id,
			const dnnl_memory_desc_t *src,
			const dnnl_memory_desc_t *md, int *out)
{
	dnnl_primitive_desc_t pd = NULL;
	dnnl_primitive_t prim = NULL;
	dnnl_memory_t ms = NULL, md_mem = NULL;
	dnnl_exec_arg_t args[3];
	dnnl_memory_desc_t spmd;
	const dnnl_memory_desc_t *q;
	struct px_ml_val *v;
	void *scratch = NULL;
	dnnl_memory_t msp = NULL;
	size_t size, spsz = 0;
	int rc, nid, nargs = 2;

	if (dnnl_memory_desc_get_size(src) > p->m->vals[id].nbytes)
		PX_BUG("constant smaller than its descriptor");
	size = dnnl_memory_desc_get_size(md);
	if (size == 0 || size > p->m->max_weights)
		return px_errf(p->eb, PX_ETOOBIG, "reordered weights too big");
	rc = val_push(p, &nid);
	if (rc)
		return rc;
	v = &p->m->vals[nid];
	v->node = node;
	v->dtype = PX_ML_F32;
	v->layout = PX_ML_DNNL;
	v->md = *md;
	v->nbytes = size;
	v->cdata = aligned_alloc(PX_ML_ALIGN, (size + PX_ML_ALIGN - 1) /
						      PX_ML_ALIGN * PX_ML_ALIGN);
	if (!v->cdata)
		return PX_ENOMEM;
	memset(v->cdata, 0, size);
	rc = reorder_pd(p, src, md, &pd);
	if (rc)
		goto out;
	q = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
	if (q && (spsz = dnnl_memory_desc_get_size(q)) > 0) {
		spmd = *q;
		scratch = malloc(spsz);
		if (!scratch) {
			rc = PX_ENOMEM;
			goto out;
		}
	}
	rc = PX_EINTERNAL;
	if (dnnl_primitive_create(&prim, pd) != dnnl_success ||
	    dnnl_memory_create(&ms, src, p->m->engine,
			       px_ml_cdata(p->m, id)) != dnnl_success ||
	    dnnl_memory_create(&md_mem, md, p->m->engine,
			       p->m->vals[nid].cdata) != dnnl_success)
		goto out;
	if (spsz && dnnl_memory_create(&msp, &spmd, p->m->engine, scratch) !=
			    dnnl_success)
		goto out;
	args[0].arg = DNNL_ARG_FROM;
	args[0].memory = ms;
	args[1].arg = DNNL_ARG_TO;
	args[1].memory = md_mem;
	if (msp) {
		args[2].arg = DNNL_ARG_SCRATCHPAD;
		args[2].memory = msp;
		nargs = 3;
	}
	if (dnnl_primitive_execute(prim, p->stream, nargs, args) !=
		    dnnl_success ||
	    dnnl_stream_wait(p->stream) != dnnl_success)
		goto out;
	*out = nid;
	rc = 0;
out:
	if (rc == PX_EINTERNAL)
		px_errf(p->eb, rc, "oneDNN: weight reorder failed");
	dnnl_memory_destroy(ms);
	dnnl_memory_destroy(md_mem);
	dnnl_memory_destroy(msp);
	if (prim)
		dnnl_primitive_destroy(prim);
	if (pd)
		dnnl_primitive_desc_destroy(pd);
	free(scratch);
	return rc;
}

/* --- steps --- */

static void step_release(struct px_ml_step *s)
{
	if (s->prim)
		dnnl_primitive_destroy(s->prim);
	free(s->in);
	free(s->params);
	s->prim = NULL;
	s->in = NULL;
	s->params = NULL;
}

/* Run a plain kernel over constants now; its outputs become constants. */
static int fold(struct px_ml_plan *p, struct px_ml_step *s)
{
	struct px_ml_model *m = p->m;
	struct px_ml_exec x = {0};
	int i, rc = 0;

	x.ptr = calloc((size_t)m->nvals, sizeof(*x.ptr));
	if (!x.ptr)
		return PX_ENOMEM;
	for (i = 0; i < m->nvals; i++)
		x.ptr[i] = px_ml_cdata(m, i);
	for (i = 0; i < s->nout; i++) {
		struct px_ml_val *v = &m->vals[s->out[i]];

		if (v->alias >= 0 || v->cdata)
			PX_BUG("folding into an alias or a constant");
		v->cdata = calloc(v->nbytes ? v->nbytes : 1, 1);
		if (!v->cdata) {
			rc = PX_ENOMEM;
			goto out;
		}
		x.ptr[s->out[i]] = v->cdata;
	}
	rc = s->run(s, &x);
	if (rc)
		rc = px_ml_node_err(p, s->node >= 0 ? &m->nodes[s->node] : NULL,
				    rc, "constant folding failed");
out:
	free(x.ptr);
	return rc;
}

int px_ml_emit(struct px_ml_plan *p, struct px_ml_step *s)
{
	struct px_ml_model *m = p->m;
	bool folds = s->run != px_ml_run_dnnl;
	int i, rc;

	for (i = 0; folds && i < s->nin; i++)
		folds = px_ml_cdata(m, s->in[i]) != NULL;
	if (folds) {
		rc = fold(p, s);
		step_release(s);
		return rc;
	}
	if (m->nsteps == m->capsteps) {
		int cap = m->capsteps ? m->capsteps * 2 : 64;
		struct px_ml_step *n;

		if (cap > 1 << 22) {
			step_release(s);
			return px_errf(p->eb, PX_ETOOBIG, "too many steps");
		}
		n = realloc(m->steps, (size_t)cap * sizeof(*n));
		if (!n) {
			step_release(s);
			return PX_ENOMEM;
		}
		m->steps = n;
		m->capsteps = cap;
	}
	m->steps[m->nsteps++] = *s;
	return 0;
}

int px_ml_emit_dnnl(struct px_ml_plan *p, int node, dnnl_primitive_desc_t pd,
		    const struct px_ml_arg *args, int nargs)
{
	struct px_ml_step s;
	const dnnl_memory_desc_t *q;
	int i, rc = 0;

	memset(&s, 0, sizeof(s));
	s.node = node;
	s.run = px_ml_run_dnnl;
	if (nargs > PX_ML_MAX_ARGS)
		PX_BUG("too many oneDNN arguments");
	q = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
	if (q) {
		s.scratch = dnnl_memory_desc_get_size(q);
		s.scratch_md = *q;
	}
	if (s.scratch > p->m->max_arena) {
		rc = px_errf(p->eb, PX_ETOOBIG, "oneDNN scratchpad too big");
		goto out;
	}
	s.in = calloc((size_t)nargs, sizeof(*s.in));
	if (!s.in) {
		rc = PX_ENOMEM;
		goto out;
	}
	for (i = 0; i < nargs; i++) {
		s.args[i] = args[i];
		if (args[i].kind == DNNL_ARG_DST || args[i].kind == DNNL_ARG_TO)
			s.out[s.nout++] = args[i].val;
		else
			s.in[s.nin++] = args[i].val;
	}
	s.nargs = nargs;
	if (dnnl_primitive_create(&s.prim, pd) != dnnl_success) {
		s.prim = NULL;
		free(s.in);
		rc = px_errf(p->eb, PX_EINTERNAL,
			     "oneDNN: cannot create primitive");
		goto out;
	}
	rc = px_ml_emit(p, &s);
out:
	dnnl_primitive_desc_destroy(pd);
	return rc;
}

/* --- the whole model --- */

/* Kahn's algorithm over data edges; order receives node indices. */
static int topo_order(struct px_ml_plan *p, int *order)
{
	struct px_ml_model *m = p->m;
	int *indeg = NULL, *start = NULL, *users = NULL, *fill = NULL;
	int i, k, head = 0, tail = 0, nedges = 0, rc = 0;

	indeg = calloc((size_t)m->nnodes, sizeof(int));
	start = calloc((size_t)m->nnodes + 1, sizeof(int));
	fill = calloc((size_t)m->nnodes, sizeof(int));
	for (i = 0; i < m->nnodes; i++)
		nedges += m->nodes[i].nin;
	users = calloc((size_t)nedges + 1, sizeof(int));
	if (!indeg || !start || !fill || !users) {
		rc = PX_ENOMEM;
		goto out;
	}
	for (i = 0; i < m->nnodes; i++) {
		indeg[i] = m->nodes[i].nin;
		for (k = 0; k < m->nodes[i].nin; k++)
			start[m->nodes[i].in[k].node + 1]++;
	}
	for (i = 0; i < m->nnodes; i++)
		start[i + 1] += start[i];
	for (i = 0; i < m->nnodes; i++)
		for (k = 0; k < m->nodes[i].nin; k++) {
			int s = m->nodes[i].in[k].node;

			users[start[s] + fill[s]++] = i;
		}
	for (i = 0; i < m->nnodes; i++)
		if (!indeg[i])
			order[tail++] = i;
	while (head < tail) {
		int n = order[head++];

		for (k = start[n]; k < start[n + 1]; k++)
			if (--indeg[users[k]] == 0)
				order[tail++] = users[k];
	}
	if (tail != m->nnodes) {
		for (i = 0; i < m->nnodes && !indeg[i]; i++)
			;
		rc = px_errf(p->eb, PX_EINVAL,
			     "model.json: the graph has a cycle through node "
			     "'%.200s'",
			     m->nodes[i < m->nnodes ? i : 0].name);
	}
out:
	free(indeg);
	free(start);
	free(fill);
	free(users);
	return rc;
}

/* Mark what the outputs need, walking inputs backwards from them. */
static int mark_needed(struct px_ml_model *m)
{
	int *stack = malloc(((size_t)m->nnodes + 1) * sizeof(int));
	int sp = 0, i, k;

	if (!stack)
		return PX_ENOMEM;
	for (i = 0; i < m->noutref; i++) {
		int n = m->outref[i].node;

		if (!m->nodes[n].needed) {
			m->nodes[n].needed = true;
			stack[sp++] = n;
		}
	}
	while (sp) {
		struct px_ml_node *n = &m->nodes[stack[--sp]];

		for (k = 0; k < n->nin; k++) {
			int s = n->in[k].node;

			if (!m->nodes[s].needed) {
				m->nodes[s].needed = true;
				stack[sp++] = s;
			}
		}
	}
	free(stack);
	return 0;
}

static void touch(struct px_ml_model *m, int id, int step)
{
	struct px_ml_val *v = &m->vals[px_ml_root(m, id)];

	m->vals[id].used = true;
	v->used = true;
	if (v->cdata)
		return;
	if (v->def < 0 || step < v->def)
		v->def = step;
	if (step > v->last)
		v->last = step;
}

struct slot {
	int id;
	size_t off, size;
};

static int by_size(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;

	if (x->size != y->size)
		return x->size < y->size ? 1 : -1;
	return x->id - y->id;
}

static int by_off(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;

	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	return 0;
}

/* Greedy by size: place each value at the lowest offset that does not
 * overlap a placed value alive at the same time. */
static int assign_arena(struct px_ml_plan *p)
{
	struct px_ml_model *m = p->m;
	struct slot *sl = NULL, *conf = NULL;
	int i, k, n = 0, rc = 0;

	sl = calloc((size_t)m->nvals + 1, sizeof(*sl));
	conf = calloc((size_t)m->nvals + 1, sizeof(*conf));
	if (!sl || !conf) {
		rc = PX_ENOMEM;
		goto out;
	}
	for (i = 0; i < m->nvals; i++) {
		struct px_ml_val *v = &m->vals[i];

		if (v->alias >= 0 || v->cdata || !v->used)
			continue;
		sl[n].id = i;
		sl[n].size = (v->nbytes + PX_ML_ALIGN - 1) / PX_ML_ALIGN *
			     PX_ML_ALIGN;
		if (!sl[n].size)
			sl[n].size = PX_ML_ALIGN;
		n++;
	}
	qsort(sl, (size_t)n, sizeof(*sl), by_size);
	m->arena_bytes = 0;
	for (i = 0; i < n; i++) {
		struct px_ml_val *v = &m->vals[sl[i].id];
		size_t off = 0;
		int nc = 0;

		/* the placed values alive at the same time, by offset */
		for (k = 0; k < i; k++) {
			const struct px_ml_val *w = &m->vals[sl[k].id];

			if (w->last < v->def || v->last < w->def)
				continue;
			conf[nc++] = sl[k];
		}
		qsort(conf, (size_t)nc, sizeof(*conf), by_off);
		for (k = 0; k < nc; k++) {
			if (off + sl[i].size <= conf[k].off)
				break;
			off = PX_MAX(off, conf[k].off + conf[k].size);
		}
		sl[i].off = off;
		v->off = off;
		if (off + sl[i].size > m->arena_bytes)
			m->arena_bytes = off + sl[i].size;
		if (m->arena_bytes > m->max_arena) {
			rc = px_errf(p->eb, PX_ETOOBIG,
				     "activations need more than %zu bytes",
				     m->max_arena);
			goto out;
		}
	}
out:
	free(sl);
	free(conf);
	return rc;
}

static int finish(struct px_ml_plan *p)
{
	struct px_ml_model *m = p->m;
	int i, k, end = m->nsteps;

	for (i = 0; i < m->nsteps; i++) {
		const struct px_ml_step *s = &m->steps[i];

		for (k = 0; k < s->nin; k++)
			touch(m, s->in[k], i);
		for (k = 0; k < s->nout; k++)
			touch(m, s->out[k], i);
		if (s->scratch > m->scratch_bytes)
			m->scratch_bytes = s->scratch;
	}
	/* the input is written before step 0, outputs read after the last */
	touch(m, m->input, 0);
	for (i = 0; i < m->noutputs; i++)
		touch(m, m->outputs[i], end);

	/* constants no step reads were only inputs to planning */
	m->resident_bytes = 0;
	for (i = 0; i < m->nvals; i++) {
		struct px_ml_val *v = &m->vals[i];

		if (!v->cdata)
			continue;
		if (!v->used) {
			px_ml_free_const(v->cdata, v->nbytes, v->cmapped);
			v->cdata = NULL;
			continue;
		}
		m->resident_bytes += v->nbytes;
	}
	/* a dropped constant may still be aliased by a planned-away value:
	 * nothing reads it, so nothing dereferences it */
	return assign_arena(p);
}

int px_ml_plan_model(struct px_ml_model *m, struct px_errbuf *eb)
{
	struct px_ml_plan p = {.m = m, .eb = eb};
	int *order = NULL;
	int i, k, rc;

	if (dnnl_stream_create(&p.stream, m->engine, dnnl_stream_default_flags) !=
	    dnnl_success)
		return px_errf(eb, PX_EINTERNAL, "oneDNN: cannot create stream");
	order = malloc((size_t)m->nnodes * sizeof(*order));
	if (!order) {
		rc = PX_ENOMEM;
		goto out;
	}
	rc = topo_order(&p, order);
	if (rc)
		goto out;
	rc = mark_needed(m);
	if (rc)
		goto out;
	for (i = 0; i < m->nnodes; i++)
		for (k = 0; k < PX_ML_MAX_OUT; k++)
			m->nodes[i].out[k] = -1;
	/* remaining consumers of each node output: in-place fusions may
	 * overwrite a value only once nothing else will read it */
	for (i = 0; i < m->nnodes; i++) {
		const struct px_ml_node *n = &m->nodes[i];

		for (k = 0; n->needed && k < n->nin; k++)
			m->nodes[n->in[k].node].uses[n->in[k].idx]++;
	}
	for (i = 0; i < m->noutref; i++)
		m->nodes[m->outref[i].node].uses[m->outref[i].idx]++;
	for (i = 0; i < m->nnodes; i++) {
		struct px_ml_node *n = &m->nodes[order[i]];

		if (!n->needed)
			continue;
		rc = n->op->plan(&p, n);
		if (rc)
			goto out;
		for (k = 0; k < n->nout; k++)
			if (n->out[k] < 0)
				PX_BUG("operator left an output unplanned");
		for (k = 0; k < n->nin; k++)
			m->nodes[n->in[k].node].uses[n->in[k].idx]--;
	}
	if (m->input < 0) {
		rc = px_errf(eb, PX_EINVAL, "model.json: the outputs depend on "
					    "no Placeholder");
		goto out;
	}
	for (i = 0; i < m->noutref; i++) {
		const struct px_ml_node *n = &m->nodes[m->outref[i].node];
		int id = n->out[m->outref[i].idx];

		if (m->vals[id].dtype != PX_ML_F32) {
			rc = px_errf(eb, PX_EUNSUPPORTED,
				     "output '%.200s' is not float32", n->name);
			goto out;
		}
		rc = px_ml_plain(&p, m->outref[i].node, id, &id);
		if (rc)
			goto out;
		m->outputs[m->noutputs++] = id;
	}
	rc = finish(&p);
out:
	free(order);
	dnnl_stream_destroy(p.stream);
	return rc;
}
