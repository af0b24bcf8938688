/*
 * ops.c - the operator table and the operators that run as plain C.
 *
 * Each TF operator name maps to a plan function (and the number of outputs
 * its node has). Plan functions check attributes and input shapes, create
 * output values and emit steps; the steps' kernels below run on plain
 * row-major float32 data, which also lets px_ml_emit() fold them when
 * every input is constant. Heavy operators (convolutions, pooling, matrix
 * products) live in ops_dnnl.c. To support a new operator, write its plan
 * function (and kernel) and add a row to the table at the end of this file.
 */
#include "ml/graph.h"

#include <math.h>

/* --- shared helpers --- */

static int new_step(struct px_ml_step *s, int node, px_ml_kernel_fn run,
		    int nin, void *params)
{
	memset(s, 0, sizeof(*s));
	s->node = node;
	s->run = run;
	s->nin = nin;
	s->params = params;
	s->in = calloc((size_t)nin + 1, sizeof(*s->in));
	if (!s->in) {
		free(params);
		return PX_ENOMEM;
	}
	return 0;
}

static int node_id(struct px_ml_plan *p, const struct px_ml_node *n)
{
	return (int)(n - p->m->nodes);
}

/* Input i as a plain float32 value. */
static int plain_f32(struct px_ml_plan *p, struct px_ml_node *n, int i,
		     int *id)
{
	int rc = px_ml_in(p, n, i, id);

	if (rc)
		return rc;
	if (px_ml_v(p, *id)->dtype != PX_ML_F32)
		return px_ml_node_err(p, n, PX_EUNSUPPORTED,
				      "input %d is not float32", i);
	return px_ml_plain(p, node_id(p, n), *id, id);
}

/* --- Placeholder, Const, Identity, Squeeze, Reshape --- */

static int plan_placeholder(struct px_ml_plan *p, struct px_ml_node *n)
{
	struct px_ml_model *m = p->m;
	enum px_ml_dtype dt = PX_ML_F32;
	int64_t dims[PX_ML_MAX_RANK];
	int rank, i, rc;

	if (m->input >= 0)
		return px_ml_node_err(p, n, PX_EUNSUPPORTED,
				      "a second input (only one is supported)");
	rc = px_ml_attr_type(n->attr, "dtype", &dt);
	if (rc && rc != PX_ENOTFOUND)
		return px_ml_node_err(p, n, rc, "bad dtype");
	if (dt != PX_ML_F32)
		return px_ml_node_err(p, n, PX_EUNSUPPORTED,
				      "input is not float32");
	rc = px_ml_attr_shape(n->attr, "shape", &rank, dims);
	if (rc == PX_ENOTFOUND)
		rank = -1;
	else if (rc)
		return px_ml_node_err(p, n, rc, "bad shape");
	if (rank < 0) {
		/* unknown rank: the caller must say it all */
		for (rank = 0; rank < PX_ML_MAX_RANK && m->input_dims[rank] > 0;
		     rank++)
			dims[rank] = m->input_dims[rank];
		if (!rank)
			return px_ml_node_err(p, n, PX_EUNSUPPORTED,
					      "input of unknown rank");
	}
	for (i = 0; i < rank; i++) {
		if (dims[i] >= 0)
			continue;
		if (m->input_dims[i] > 0)
			dims[i] = m->input_dims[i];
		else if (i == 0)
			dims[i] = 1; /* batch */
		else
			return px_ml_node_err(p, n, PX_EUNSUPPORTED,
					      "input dimension %d is unknown",
					      i);
	}
	rc = px_ml_val_new(p, node_id(p, n), PX_ML_F32, rank, dims, &n->out[0]);
	if (rc)
		return rc;
	m->input = n->out[0];
	m->in_node = node_id(p, n);
	return 0;
}

static int plan_const(struct px_ml_plan *p, struct px_ml_node *n)
{
	struct px_ml_weight *w;
	int rc;

	if (n->weight < 0)
		return px_ml_node_err(p, n, PX_EINVAL,
				      "no weight of that name in the manifest");
	w = &p->m->weights[n->weight];
	rc = px_ml_val_new(p, node_id(p, n), w->dtype, w->rank, w->dims,
			   &n->out[0]);
	if (rc)
		return rc;
	px_ml_v(p, n->out[0])->cdata = w->data;
	px_ml_v(p, n->out[0])->cmapped = w->mapped;
	w->data = NULL;
	return 0;
}

static int plan_identity(struct px_ml_plan *p, struct px_ml_node *n)
{
	int rc = px_ml_want_inputs(p, n, 1, false);

	if (rc)
		return rc;
	return px_ml_in(p, n, 0, &n->out[0]);
}

static int plan_squeeze(struct px_ml_plan *p, struct px_ml_node *n)
{
	int64_t axes[PX_ML_MAX_RANK], dims[PX_ML_MAX_RANK];
	bool drop[PX_ML_MAX_RANK] = {false};
	const struct px_ml_val *v;
	int naxes, rank = 0, i, id, rc;

	rc = px_ml_want_inputs(p, n, 1, false);
	if (rc)
		return rc;
	rc = px_ml_in(p, n, 0, &id);
	if (rc)
		return rc;
	if (px_ml_v(p, id)->layout != PX_ML_PLAIN) {
		rc = px_ml_plain(p, node_id(p, n), id, &id);
		if (rc)
			return rc;
	}
	rc = px_ml_attr_ints(n->attr, "squeeze_dims", axes, PX_ML_MAX_RANK,
			     &naxes);
	if (!rc && !naxes)
		rc = px_ml_attr_ints(n->attr, "axis", axes, PX_ML_MAX_RANK,
				     &naxes);
	if (rc)
		return px_ml_node_err(p, n, rc, "bad squeeze_dims");
	v = px_ml_v(p, id);
	for (i = 0; i < naxes; i++) {
		int64_t a = axes[i] < 0 ? axes[i] + v->rank : axes[i];

		if (a < 0 || a >= v->rank || v->dims[a] != 1)
			return px_ml_node_err(p, n, PX_EINVAL,
					      "cannot squeeze dimension %lld",
					      (long long)axes[i]);
		drop[a] = true;
	}
	for (i = 0; i < v->rank; i++)
		if (!(naxes ? drop[i] : v->dims[i] == 1))
			dims[rank++] = v->dims[i];
	return px_ml_val_alias(p, node_id(p, n), id, rank, dims, &n->out[0]);
}

static int plan_reshape(struct px_ml_plan *p, struct px_ml_node *n)
{
	int64_t dims[PX_ML_MAX_RANK];
	const struct px_ml_val *v, *sv;
	const int32_t *shape;
	size_t known = 1;
	int id, sid, rank, i, unknown = -1, rc;

	rc = px_ml_want_inputs(p, n, 2, false);
	if (!rc)
		rc = px_ml_in(p, n, 0, &id);
	if (!rc)
		rc = px_ml_in(p, n, 1, &sid);
	if (rc)
		return rc;
	sv = px_ml_v(p, sid);
	shape = px_ml_cdata(p->m, sid);
	if (!shape || sv->dtype != PX_ML_I32 || sv->rank != 1 ||
	    sv->nelem > PX_ML_MAX_RANK)
		return px_ml_node_err(p, n, PX_EUNSUPPORTED,
				      "shape must be a constant int32 vector "
				      "of at most %d values",
				      PX_ML_MAX_RANK);
	if (px_ml_v(p, id)->layout != PX_ML_PLAIN) {
		rc = px_ml_plain(p, node_id(p, n), id, &id);
		if (rc)
			return rc;
	}
	v = px_ml_v(p, id);
	rank = (int)sv->nelem;
	for (i = 0; i < rank; i++) {
		dims[i] = shape[i];
		if (shape[i] == -1 && unknown < 0) {
			unknown = i;
			continue;
		}
		if (shape[i] < 0 ||
		    !px_ml_mul(known, (size_t)shape[i], &known))
			return px_ml_node_err(p, n, PX_EINVAL, "bad shape");
	}
	if (unknown >= 0) {
		if (!known || v->nelem % known)
			return px_ml_node_err(p, n, PX_EINVAL,
					      "shape does not divide %zu "
					      "elements",
					      v->nelem);
		dims[unknown] = (int64_t)(v->nelem / known);
		known = v->nelem;
	}
	if (known != v->nelem)
		return px_ml_node_err(p, n, PX_EINVAL,
				      "shape holds %zu elements, input %zu",
				      known, v->nelem);
	return px_ml_val_alias(p, node_id(p, n), id, rank, dims, &n->out[0]);
}

/* --- element-wise binary operators with NumPy broadcasting --- */

enum binop { B_ADD, B_SUB, B_MUL, B_DIV, B_MAX, B_MIN };

struct binp {
	enum binop op;
	int rank;
	int64_t dims[PX_ML_MAX_RANK];
	int64_t sa[PX_ML_MAX_RANK], sb[PX_ML_MAX_RANK]; /* 0 = broadcast */
	size_t n;
	int mode; /* 0 flat, 1 a scalar, 2 b scalar, 3 general */
};

static inline float binf(enum binop op, float a, float b)
{
	switch (op) {
	case B_ADD: return a + b;
	case B_SUB: return a - b;
	case B_MUL: return a * b;
	case B_DIV: return a / b;
	case B_MAX: return a > b || isnan(a) ? a : b;
	case B_MIN: return a < b || isnan(a) ? a : b;
	}
	return 0;
}

/* One loop per operator so the compiler vectorises the common cases. */
#define BIN_LOOP(EXPR)                                                         \
	for (i = 0; i < n; i++) {                                              \
		float x = a[mode == 1 ? 0 : i], y = b[mode == 2 ? 0 : i];      \
		o[i] = (EXPR);                                                 \
	}

static void bin_flat(enum binop op, int mode, size_t n, const float *a,
		     const float *b, float *o)
{
	size_t i;

	switch (op) {
	case B_ADD: BIN_LOOP(x + y); break;
	case B_SUB: BIN_LOOP(x - y); break;
	case B_MUL: BIN_LOOP(x * y); break;
	case B_DIV: BIN_LOOP(x / y); break;
	case B_MAX: BIN_LOOP(binf(B_MAX, x, y)); break;
	case B_MIN: BIN_LOOP(binf(B_MIN, x, y)); break;
	}
}

static int run_binary(const struct px_ml_step *s, struct px_ml_exec *x)
{
	const struct binp *bp = s->params;
	const float *a = x->ptr[s->in[0]], *b = x->ptr[s->in[1]];
	float *o = x->ptr[s->out[0]];
	int64_t c[PX_ML_MAX_RANK] = {0}, inner, k;
	size_t ia = 0, ib = 0, done = 0;
	int r = bp->rank, d;

	if (!bp->n)
		return 0;
	if (bp->mode != 3) {
		bin_flat(bp->op, bp->mode, bp->n, a, b, o);
		return 0;
	}
	inner = bp->dims[r - 1];
	for (;;) {
		int64_t ea = bp->sa[r - 1], eb = bp->sb[r - 1];

		for (k = 0; k < inner; k++)
			o[done + (size_t)k] = binf(bp->op, a[ia + (size_t)(k * ea)],
						   b[ib + (size_t)(k * eb)]);
		done += (size_t)inner;
		for (d = r - 2; d >= 0; d--) {
			ia += (size_t)bp->sa[d];
			ib += (size_t)bp->sb[d];
			if (++c[d] < bp->dims[d])
				break;
			ia -= (size_t)(bp->sa[d] * bp->dims[d]);
			ib -= (size_t)(bp->sb[d] * bp->dims[d]);
			c[d] = 0;
		}
		if (d < 0)
			break;
	}
	return 0;
}

/* Row-major strides of v aligned right to rank r, 0 where broadcast. */
static void bstrides(const struct px_ml_val *v, int r, int64_t *st)
{
	int64_t acc = 1;
	int i, off = r - v->rank;

	for (i = r - 1; i >= 0; i--) {
		int j = i - off;

		if (j < 0 || v->dims[j] == 1) {
			st[i] = 0;
		} else {
			st[i] = acc;
		}
		if (j >= 0)
			acc *= v->dims[j];
	}
}

static int plan_binary_op(struct px_ml_plan *p, struct px_ml_node *n,
			  enum binop op)
{
	const struct px_ml_val *va, *vb;
	struct px_ml_step s;
	struct binp *bp;
	int a, b, r, i, rc, node = node_id(p, n);

	rc = px_ml_want_inputs(p, n, 2, false);
	if (!rc)
		rc = px_ml_in(p, n, 0, &a);
	if (!rc)
		rc = px_ml_in(p, n, 1, &b);
	if (rc)
		return rc;
	va = px_ml_v(p, a);
	vb = px_ml_v(p, b);
	if (va->dtype != PX_ML_F32 || vb->dtype != PX_ML_F32)
		return px_ml_node_err(p, n, PX_EUNSUPPORTED,
				      "only float32 is supported");
	/* a residual connection: let the convolution add it in place */
	if (op == B_ADD && a != b) {
		bool fused = false;

		rc = px_ml_fuse_sum(p, n, a, b, &fused);
		if (!rc && !fused)
			rc = px_ml_fuse_sum(p, n, b, a, &fused);
		if (rc || fused)
			return rc;
		va = px_ml_v(p, a);
		vb = px_ml_v(p, b);
	}
	bp = calloc(1, sizeof(*bp));
	if (!bp)
		return PX_ENOMEM;
	bp->op = op;

	/* Same shape, same oneDNN blocking: work on the stored bytes, padding
	 * included, which stays zero for every operator but division. */
	if (va->layout == PX_ML_DNNL && vb->layout == PX_ML_DNNL &&
	    op != B_DIV && dnnl_memory_desc_equal(&va->md, &vb->md) &&
	    !memcmp(va->dims, vb->dims, sizeof(va->dims))) {
		dnnl_memory_desc_t md = va->md;
		int64_t dims[4];

		memcpy(dims, va->dims, sizeof(dims));
		bp->n = va->nbytes / sizeof(float);
		bp->mode = 0;
		rc = px_ml_val_new_md(p, node, dims, &md, &n->out[0]);
		if (rc)
			goto fail;
		goto emit;
	}
	rc = px_ml_plain(p, node, a, &a);
	if (!rc)
		rc = px_ml_plain(p, node, b, &b);
	if (rc)
		goto fail;
	va = px_ml_v(p, a);
	vb = px_ml_v(p, b);
	r = PX_MAX(va->rank, vb->rank);
	bp->rank = r;
	for (i = 0; i < r; i++) {
		int ja = i - (r - va->rank), jb = i - (r - vb->rank);
		int64_t da = ja >= 0 ? va->dims[ja] : 1;
		int64_t db = jb >= 0 ? vb->dims[jb] : 1;

		if (da != db && da != 1 && db != 1) {
			rc = px_ml_node_err(p, n, PX_EINVAL,
					    "shapes do not broadcast (dim %d: "
					    "%lld vs %lld)",
					    i, (long long)da, (long long)db);
			goto fail;
		}
		bp->dims[i] = da == 1 ? db : da;
	}
	rc = px_ml_val_new(p, node, PX_ML_F32, r, bp->dims, &n->out[0]);
	if (rc)
		goto fail;
	va = px_ml_v(p, a);
	vb = px_ml_v(p, b);
	bp->n = px_ml_v(p, n->out[0])->nelem;
	if (va->nelem == bp->n && vb->nelem == bp->n)
		bp->mode = 0;
	else if (va->nelem == 1)
		bp->mode = 1;
	else if (vb->nelem == 1)
		bp->mode = 2;
	else
		bp->mode = 3;
	bstrides(va, r, bp->sa);
	bstrides(vb, r, bp->sb);
emit:
	rc = new_step(&s, node, run_binary, 2, bp);
	if (rc)
		return rc;
	s.in[0] = a;
	s.in[1] = b;
	s.nout = 1;
	s.out[0] = n->out[0];
	return px_ml_emit(p, &s);
fail:
	free(bp);
	return rc;
}

static int plan_add(struct px_ml_plan *p, struct px_ml_node *n)
{
	return plan_binary_op(p, n, B_ADD);
}
static int plan_sub(struct px_ml_plan *p, struct px_ml_node *n)
{
	return plan_binary_op(p, n, B_SUB);
}
static int plan_mul(struct px_ml_plan *p, struct px_ml_node *n)
{
	return plan_binary_op(p, n, B_MUL);
}
static int plan_div(struct px_ml_plan *p, struct px_ml_node *n)
{
	return plan_binary_op(p, n, B_DIV);
}
static int plan_max(struct px_ml_plan *p, struct px_ml_node *n)
{
	return plan_binary_op(p, n, B_MAX);
}
static int plan_min(struct px_ml_plan *p, struct px_ml_node *n)
{
	return plan_binary_op(p, n, B_MIN);
}

/* --- element-wise unary operators --- */

enum unop { U_RELU, U_RELU6, U_SIGMOID, U_TANH };

struct unp {
	enum unop op;
	size_t n;
};

static int run_unary(const struct px_ml_step *s, struct px_ml_exec *x)
{
	const struct unp *up = s->params;
	const float *restrict a = x->ptr[s->in[0]];
	float *restrict o = x->ptr[s->out[0]];
	size_t i;

	switch (up->op) {
	case U_RELU:
		for (i = 0; i < up->n; i++)
			o[i] = a[i] > 0 ? a[i] : 0;
		break;
	case U_RELU6:
		for (i = 0; i < up->n; i++)
			o[i] = a[i] > 0 ? (a[i] < 6 ? a[i] : 6) : 0;
		break;
	case U_SIGMOID:
		for (i = 0; i < up->n; i++)
			o[i] = 1.0f / (1.0f + expf(-a[i]));
		break;
	case U_TANH:
		for (i = 0; i < up->n; i++)
			o[i] = tanhf(a[i]);
		break;
	}
	return 0;
}

static int plan_unary_op(struct px_ml_plan *p, struct px_ml_node *n,
			 enum unop op)
{
	const struct px_ml_val *v;
	struct px_ml_step s;
	struct unp *up;
	int a, rc, node = node_id(p, n);

	rc = px_ml_want_inputs(p, n, 1, false);
	if (!rc)
		rc = px_ml_in(p, n, 0, &a);
	if (rc)
		return rc;
	v = px_ml_v(p, a);
	if (v->dtype != PX_ML_F32)
		return px_ml_node_err(p, n, PX_EUNSUPPORTED,
				      "only float32 is supported");
	if (op == U_RELU || op == U_RELU6) {
		bool fused = false;

		rc = px_ml_fuse_act(p, n, a, op == U_RELU6, &fused);
		if (rc || fused)
			return rc;
		v = px_ml_v(p, a);
	}
	if (v->layout == PX_ML_DNNL && op != U_SIGMOID) {
		/* f(0) == 0: blocked padding stays zero */
		dnnl_memory_desc_t md = v->md;
		int64_t dims[4];

		memcpy(dims, v->dims, sizeof(dims));
		rc = px_ml_val_new_md(p, node, dims, &md, &n->out[0]);
	} else {
		rc = px_ml_plain(p, node, a, &a);
		if (rc)
			return rc;
		v = px_ml_v(p, a);
		rc = px_ml_val_new(p, node, PX_ML_F32, v->rank, v->dims,
				   &n->out[0]);
	}
	if (rc)
		return rc;
	up = calloc(1, sizeof(*up));
	if (!up)
		return PX_ENOMEM;
	up->op = op;
	up->n = px_ml_v(p, n->out[0])->nbytes / sizeof(float);
	rc = new_step(&s, node, run_unary, 1, up);
	if (rc)
		return rc;
	s.in[0] = a;
	s.nout = 1;
	s.out[0] = n->out[0];
	return px_ml_emit(p, &s);
}

static int plan_relu(struct px_ml_plan *p, struct px_ml_node *n)
{
	return plan_unary_op(p, n, U_RELU);
}
static int plan_relu6(struct px_ml_plan *p, struct px_ml_node *n)
{
	return plan_unary_op(p, n, U_RELU6);
}
static int plan_sigmoid(struct px_ml_plan *p, struct px_ml_node *n)
{
	return plan_unary_op(p, n, U_SIGMOID);
}
static int plan_tanh(struct px_ml_plan *p, struct px_ml_node *n)
{
	return plan_unary_op(p, n, U_TANH);
}

/* --- Softmax over the last axis --- */

struct softp {
	size_t outer, inner;
};

static int run_softmax(const struct px_ml_step *s, struct px_ml_exec *x)
{
	const struct softp *sp = s->params;
	const float *a = x->ptr[s->in[0]];
	float *o = x->ptr[s->out[0]];
	size_t r, i;

	for (r = 0; r < sp->outer; r++) {
		const float *row = a + r * sp->inner;
		float *out = o + r * sp->inner, mx = -INFINITY, sum = 0;

		for (i = 0; i < sp->inner; i++)
			mx = row[i] > mx ? row[i] : mx;
		for (i = 0; i < sp->inner; i++) {
			out[i] = expf(row[i] - mx);
			sum += out[i];
		}
		for (i = 0; i < sp->inner; i++)
			out[i] /= sum;
	}
	return 0;
}

static int plan_softmax(struct px_ml_plan *p, struct px_ml_node *n)
{
	const struct px_ml_val *v;
	struct px_ml_step s;
	struct softp *sp;
	int a, rc, node = node_id(p, n);

	rc = px_ml_want_inputs(p, n, 1, false);
	if (!rc)
		rc = plain_f32(p, n, 0, &a);
	if (rc)
		return rc;
	v = px_ml_v(p, a);
	if (v->rank < 1)
		return px_ml_node_err(p, n, PX_EINVAL, "scalar input");
	rc = px_ml_val_new(p, node, PX_ML_F32, v->rank, v->dims, &n->out[0]);
	if (rc)
		return rc;
	sp = calloc(1, sizeof(*sp));
	if (!sp)
		return PX_ENOMEM;
	v = px_ml_v(p, a);
	sp->inner = (size_t)v->dims[v->rank - 1];
	sp->outer = sp->inner ? v->nelem / sp->inner : 0;
	rc = new_step(&s, node, run_softmax, 1, sp);
	if (rc)
		return rc;
	s.in[0] = a;
	s.nout = 1;
	s.out[0] = n->out[0];
	return px_ml_emit(p, &s);
}

/* --- Pad / PadV2: constant padding of a plain tensor --- */

struct padp {
	int rank;
	int64_t idims[PX_ML_MAX_RANK], odims[PX_ML_MAX_RANK];
	int64_t before[PX_ML_MAX_RANK];
	float value;
	size_t n; /* output elements */
};

/* Copy the input rows (innermost dimension) into an output prefilled with
 * the constant, walking the outer dimensions like an odometer. */
static int run_pad(const struct px_ml_step *s, struct px_ml_exec *x)
{
	const struct padp *pp = s->params;
	const float *a = x->ptr[s->in[0]];
	float *o = x->ptr[s->out[0]];
	int64_t c[PX_ML_MAX_RANK] = {0}, ostride[PX_ML_MAX_RANK];
	int64_t inner = pp->idims[pp->rank - 1];
	size_t i, irow = 0;
	int r = pp->rank, d;

	for (i = 0; i < pp->n; i++)
		o[i] = pp->value;
	if (!inner)
		return 0;
	ostride[r - 1] = 1;
	for (d = r - 2; d >= 0; d--)
		ostride[d] = ostride[d + 1] * pp->odims[d + 1];
	for (d = 0; d < r; d++)
		if (!pp->idims[d])
			return 0;
	for (;;) {
		int64_t off = 0;

		for (d = 0; d < r; d++)
			off += (c[d] + pp->before[d]) * ostride[d];
		memcpy(o + off, a + irow, (size_t)inner * sizeof(float));
		irow += (size_t)inner;
		for (d = r - 2; d >= 0; d--) {
			if (++c[d] < pp->idims[d])
				break;
			c[d] = 0;
		}
		if (d < 0)
			break;
	}
	return 0;
}

static int plan_pad(struct px_ml_plan *p, struct px_ml_node *n)
{
	const struct px_ml_val *v, *pv;
	const int32_t *pads;
	struct px_ml_step s;
	struct padp *pp;
	int a, pid, i, rc, node = node_id(p, n);
	bool v2 = !strcmp(n->opname, "PadV2");

	rc = px_ml_want_inputs(p, n, v2 ? 3 : 2, false);
	if (!rc)
		rc = plain_f32(p, n, 0, &a);
	if (!rc)
		rc = px_ml_in(p, n, 1, &pid);
	if (rc)
		return rc;
	pp = calloc(1, sizeof(*pp));
	if (!pp)
		return PX_ENOMEM;
	if (v2) {
		const float *cv;
		int cid;

		rc = px_ml_in(p, n, 2, &cid);
		if (rc)
			goto fail;
		cv = px_ml_cdata(p->m, cid);
		if (!cv || px_ml_v(p, cid)->dtype != PX_ML_F32 ||
		    px_ml_v(p, cid)->nelem != 1) {
			rc = px_ml_node_err(p, n, PX_EUNSUPPORTED,
					    "constant_values must be a "
					    "constant float32 scalar");
			goto fail;
		}
		pp->value = cv[0];
	}
	v = px_ml_v(p, a);
	pv = px_ml_v(p, pid);
	pads = px_ml_cdata(p->m, pid);
	if (!pads || pv->dtype != PX_ML_I32 || pv->rank != 2 ||
	    pv->dims[0] != v->rank || pv->dims[1] != 2 || v->rank < 1) {
		rc = px_ml_node_err(p, n, PX_EUNSUPPORTED,
				    "paddings must be a constant int32 "
				    "[rank, 2] matrix for a tensor of rank "
				    "at least 1");
		goto fail;
	}
	pp->rank = v->rank;
	for (i = 0; i < v->rank; i++) {
		int32_t b = pads[2 * i], e = pads[2 * i + 1];

		if (b < 0 || e < 0 || v->dims[i] + b + e > INT32_MAX) {
			rc = px_ml_node_err(p, n, PX_EINVAL,
					    "bad paddings for dimension %d",
					    i);
			goto fail;
		}
		pp->idims[i] = v->dims[i];
		pp->before[i] = b;
		pp->odims[i] = v->dims[i] + b + e;
	}
	rc = px_ml_val_new(p, node, PX_ML_F32, pp->rank, pp->odims,
			   &n->out[0]);
	if (rc)
		goto fail;
	pp->n = px_ml_v(p, n->out[0])->nelem;
	rc = new_step(&s, node, run_pad, 1, pp);
	if (rc)
		return rc;
	s.in[0] = a;
	s.nout = 1;
	s.out[0] = n->out[0];
	return px_ml_emit(p, &s);
fail:
	free(pp);
	return rc;
}

/* --- the table --- */

static const struct px_ml_op ops[] = {
	{"Placeholder", plan_placeholder, 1},
	{"Const", plan_const, 1},
	{"Identity", plan_identity, 1},
	{"StopGradient", plan_identity, 1},
	{"Snapshot", plan_identity, 1},
	{"Squeeze", plan_squeeze, 1},
	{"Reshape", plan_reshape, 1},
	{"Add", plan_add, 1},
	{"AddV2", plan_add, 1},
	{"Sub", plan_sub, 1},
	{"Mul", plan_mul, 1},
	{"RealDiv", plan_div, 1},
	{"Maximum", plan_max, 1},
	{"Minimum", plan_min, 1},
	{"Relu", plan_relu, 1},
	{"Relu6", plan_relu6, 1},
	{"Sigmoid", plan_sigmoid, 1},
	{"Tanh", plan_tanh, 1},
	{"Softmax", plan_softmax, 1},
	{"Pad", plan_pad, 1},
	{"PadV2", plan_pad, 1},
	{"Conv2D", px_ml_plan_conv, 1},
	{"_FusedConv2D", px_ml_plan_conv, 1},
	{"DepthwiseConv2dNative", px_ml_plan_conv, 1},
	{"FusedDepthwiseConv2dNative", px_ml_plan_conv, 1},
	{"AvgPool", px_ml_plan_pool, 1},
	{"MaxPool", px_ml_plan_pool, 1},
	{"MatMul", px_ml_plan_matmul, 1},
	{"_FusedMatMul", px_ml_plan_matmul, 1},
};

const struct px_ml_op *px_ml_op_find(const char *name)
{
	size_t i;

	for (i = 0; i < PX_ARRAY_LEN(ops); i++)
		if (!strcmp(ops[i].name, name))
			return &ops[i];
	return NULL;
}
