/*
 * ops_dnnl.c - operators that run as oneDNN primitives: convolutions
 * (depthwise ones as grouped convolutions), pooling and matrix products.
 *
 * Each plan function describes the operation with format_tag_any for the
 * activations and weights, lets oneDNN pick layouts, reorders the constant
 * weights into the picked layout once (px_ml_const_reorder) and converts
 * the input activation only if its producer stored it differently. TF's
 * fused bias and activation become the primitive's bias and eltwise
 * post-ops, so a _FusedConv2D is one primitive.
 *
 * Padding follows TF: VALID pads nothing; SAME makes out = ceil(in/stride)
 * and pads pad_total = max((out-1)*stride + (k-1)*dilation + 1 - in, 0),
 * pad_before = pad_total/2 and the odd pixel after (asymmetric).
 */
#include "ml/graph.h"

enum act { ACT_NONE, ACT_RELU, ACT_RELU6, ACT_ELU, ACT_LEAKY, ACT_SIGMOID };

struct fusion {
	bool bias;
	enum act act;
	float alpha;
};

/* What a convolution step keeps to be rebuilt with a sum post-op. */
struct conv_params {
	dnnl_convolution_desc_t cd;
	struct fusion f;
	bool sum;       /* a residual add fused in (px_ml_fuse_sum) */
	enum act post;  /* an activation after that add (px_ml_fuse_act) */
};

static int node_id(struct px_ml_plan *p, const struct px_ml_node *n)
{
	return (int)(n - p->m->nodes);
}

/* Refuse outputs over the limits before oneDNN sees their shapes. */
static int check_out(struct px_ml_plan *p, struct px_ml_node *n, int rank,
		     const int64_t *d)
{
	size_t e = 1;
	int i;

	for (i = 0; i < rank; i++)
		if (d[i] < 1 || d[i] > INT32_MAX ||
		    !px_ml_mul(e, (size_t)d[i], &e) || e > PX_ML_MAX_ELEMS ||
		    e * 4 > p->m->max_arena)
			return px_ml_node_err(p, n, PX_ETOOBIG,
					      "output too large");
	return 0;
}

/* fused_ops of _FusedConv2D/_FusedMatMul/FusedDepthwiseConv2dNative. */
static int parse_fusion(struct px_ml_plan *p, struct px_ml_node *n,
			struct fusion *f, int *nextra)
{
	char ops[4][32];
	int64_t num_args;
	double alpha;
	int nops, i, rc;

	memset(f, 0, sizeof(*f));
	*nextra = 0;
	rc = px_ml_attr_strs(n->attr, "fused_ops", ops, 4, &nops);
	if (rc)
		return px_ml_node_err(p, n, rc, "bad fused_ops");
	for (i = 0; i < nops; i++) {
		if (i == 0 && !strcmp(ops[i], "BiasAdd")) {
			f->bias = true;
		} else if (i == nops - 1 && f->act == ACT_NONE &&
			   (i > 0 || nops == 1)) {
			if (!strcmp(ops[i], "Relu")) {
				f->act = ACT_RELU;
			} else if (!strcmp(ops[i], "Relu6")) {
				f->act = ACT_RELU6;
			} else if (!strcmp(ops[i], "Elu")) {
				f->act = ACT_ELU;
			} else if (!strcmp(ops[i], "Sigmoid")) {
				f->act = ACT_SIGMOID;
			} else if (!strcmp(ops[i], "LeakyRelu")) {
				rc = px_ml_attr_float(n->attr, "leakyrelu_alpha",
						      0.2, &alpha);
				if (rc)
					return px_ml_node_err(p, n, rc,
							      "bad "
							      "leakyrelu_alpha");
				f->act = ACT_LEAKY;
				f->alpha = (float)alpha;
			} else {
				goto unsupported;
			}
		} else {
			goto unsupported;
		}
	}
	*nextra = f->bias ? 1 : 0;
	rc = px_ml_attr_int(n->attr, "num_args", *nextra, &num_args);
	if (rc || num_args != *nextra)
		return px_ml_node_err(p, n, PX_EUNSUPPORTED,
				      "num_args does not match fused_ops");
	return 0;
unsupported:
	return px_ml_node_err(p, n, PX_EUNSUPPORTED,
			      "unsupported fused operation '%s'", ops[i]);
}

static dnnl_status_t append_act(dnnl_post_ops_t po, enum act a, float alpha)
{
	switch (a) {
	case ACT_RELU:
		return dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu,
						    0, 0);
	case ACT_LEAKY:
		return dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu,
						    alpha, 0);
	case ACT_RELU6:
		return dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_clip,
						    0, 6);
	case ACT_ELU:
		return dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_elu,
						    1, 0);
	case ACT_SIGMOID:
		return dnnl_post_ops_append_eltwise(
			po, 1.0f, dnnl_eltwise_logistic, 0, 0);
	case ACT_NONE:
		break;
	}
	return dnnl_success;
}

/* Post-ops: f's activation, then (with sum) dst += that, then post. */
static int post_ops(struct px_ml_plan *p, const struct fusion *f, bool sum,
		    enum act post, dnnl_primitive_attr_t *attr)
{
	dnnl_post_ops_t po = NULL;
	dnnl_status_t st = dnnl_success;

	if (dnnl_primitive_attr_create(attr) != dnnl_success)
		return px_errf(p->eb, PX_ENOMEM, "oneDNN: attr_create failed");
	st = dnnl_primitive_attr_set_scratchpad_mode(*attr,
						     dnnl_scratchpad_mode_user);
	if (st == dnnl_success && (f->act != ACT_NONE || sum || post)) {
		st = dnnl_post_ops_create(&po);
		if (st == dnnl_success)
			st = append_act(po, f->act, f->alpha);
		/* after the activation: dst = act(conv) + dst */
		if (st == dnnl_success && sum)
			st = dnnl_post_ops_append_sum(po, 1.0f);
		if (st == dnnl_success)
			st = append_act(po, post, 0);
		if (st == dnnl_success)
			st = dnnl_primitive_attr_set_post_ops(*attr, po);
		if (po)
			dnnl_post_ops_destroy(po);
	}
	if (st != dnnl_success) {
		dnnl_primitive_attr_destroy(*attr);
		*attr = NULL;
		return px_errf(p->eb, PX_EINTERNAL, "oneDNN: post-ops: %s",
			       px_ml_dnnl_str(st));
	}
	return 0;
}

/* NHWC-style list attribute [1, h, w, 1] into h, w. */
static int hw_list(struct px_ml_plan *p, struct px_ml_node *n,
		   const char *name, int64_t def, int64_t *h, int64_t *w)
{
	int64_t v[8];
	int k, rc = px_ml_attr_ints(n->attr, name, v, 8, &k);

	if (rc)
		return px_ml_node_err(p, n, rc, "bad %s", name);
	if (k == 0) {
		*h = *w = def;
		return 0;
	}
	if (k != 4 || v[0] != 1 || v[3] != 1)
		return px_ml_node_err(p, n, PX_EUNSUPPORTED,
				      "%s must be [1, h, w, 1]", name);
	if (v[1] < 1 || v[2] < 1 || v[1] > 65536 || v[2] > 65536)
		return px_ml_node_err(p, n, PX_EINVAL, "bad %s", name);
	*h = v[1];
	*w = v[2];
	return 0;
}

static int check_nhwc(struct px_ml_plan *p, struct px_ml_node *n)
{
	char fmt[16];
	int rc = px_ml_attr_str(n->attr, "data_format", fmt, sizeof(fmt));

	if (rc == PX_ENOTFOUND)
		return 0;
	if (rc)
		return px_ml_node_err(p, n, rc, "bad data_format");
	if (strcmp(fmt, "NHWC"))
		return px_ml_node_err(p, n, PX_EUNSUPPORTED,
				      "data_format '%s' (only NHWC)", fmt);
	return 0;
}

/*
 * Output size and padding of one spatial dimension, TF's way.
 * pad: "SAME", "VALID" or "EXPLICIT" (then *pl and *pr come in set).
 */
static int out_dim(const char *pad, int64_t in, int64_t k, int64_t stride,
		   int64_t dil, int64_t *out, int64_t *pl, int64_t *pr)
{
	int64_t eff = (k - 1) * dil + 1, total;

	if (!strcmp(pad, "SAME")) {
		*out = (in + stride - 1) / stride;
		total = (*out - 1) * stride + eff - in;
		if (total < 0)
			total = 0;
		*pl = total / 2;
		*pr = total - *pl;
		return 0;
	}
	if (!strcmp(pad, "VALID"))
		*pl = *pr = 0;
	else if (strcmp(pad, "EXPLICIT"))
		return PX_EUNSUPPORTED;
	if (*pl < 0 || *pr < 0 || *pl >= eff || *pr >= eff)
		return PX_EINVAL;
	if (in + *pl + *pr < eff)
		return PX_EINVAL;
	*out = (in + *pl + *pr - eff) / stride + 1;
	return 0;
}

static int padding(struct px_ml_plan *p, struct px_ml_node *n, char *pad,
		   size_t cap, int64_t *explicit_pads)
{
	int k, rc = px_ml_attr_str(n->attr, "padding", pad, cap);

	if (rc)
		return px_ml_node_err(p, n, rc == PX_ENOTFOUND ? PX_EINVAL : rc,
				      "bad padding");
	if (!strcmp(pad, "EXPLICIT")) {
		rc = px_ml_attr_ints(n->attr, "explicit_paddings",
				     explicit_pads, 8, &k);
		if (rc || k != 8 || explicit_pads[0] || explicit_pads[1] ||
		    explicit_pads[6] || explicit_pads[7])
			return px_ml_node_err(p, n, PX_EUNSUPPORTED,
					      "bad explicit_paddings");
	} else if (strcmp(pad, "SAME") && strcmp(pad, "VALID")) {
		return px_ml_node_err(p, n, PX_EUNSUPPORTED,
				      "padding '%.16s'", pad);
	}
	return 0;
}

/* A descriptor from explicit strides. */
static int md_strides(struct px_ml_plan *p, int nd, const int64_t *dims,
		      const int64_t *str, dnnl_memory_desc_t *md)
{
	dnnl_dims_t d, s;
	int i;

	for (i = 0; i < nd; i++) {
		d[i] = dims[i];
		s[i] = str[i];
	}
	if (dnnl_memory_desc_init_by_strides(md, nd, d, dnnl_f32, s) !=
	    dnnl_success)
		return px_errf(p->eb, PX_EINTERNAL,
			       "oneDNN: bad memory descriptor");
	return 0;
}

static int md_any(struct px_ml_plan *p, int nd, const int64_t *dims,
		  dnnl_memory_desc_t *md)
{
	dnnl_dims_t d;
	int i;

	for (i = 0; i < nd; i++)
		d[i] = dims[i];
	if (dnnl_memory_desc_init_by_tag(md, nd, d, dnnl_f32,
					 dnnl_format_tag_any) != dnnl_success)
		return px_errf(p->eb, PX_EINTERNAL,
			       "oneDNN: bad memory descriptor");
	return 0;
}

/* The bias: a constant float vector of length c. */
static int bias_input(struct px_ml_plan *p, struct px_ml_node *n, int i,
		      int64_t c, int *id)
{
	const struct px_ml_val *v;
	int rc = px_ml_in(p, n, i, id);

	if (rc)
		return rc;
	v = px_ml_v(p, *id);
	if (!px_ml_cdata(p->m, *id) || v->dtype != PX_ML_F32 ||
	    v->layout != PX_ML_PLAIN)
		return px_ml_node_err(p, n, PX_EUNSUPPORTED,
				      "bias must be a float32 constant");
	if (v->rank != 1 || v->dims[0] != c)
		return px_ml_node_err(p, n, PX_EINVAL,
				      "bias has %zu values, need %lld",
				      v->nelem, (long long)c);
	return 0;
}

static int pd_create(struct px_ml_plan *p, struct px_ml_node *n,
		     const void *desc, dnnl_primitive_attr_t attr,
		     dnnl_primitive_desc_t *pd)
{
	dnnl_status_t st = dnnl_primitive_desc_create(pd, desc, attr,
						      p->m->engine, NULL);

	dnnl_primitive_attr_destroy(attr);
	if (st != dnnl_success) {
		*pd = NULL;
		return px_ml_node_err(p, n,
				      st == dnnl_unimplemented ?
					      PX_EUNSUPPORTED :
					      PX_EINTERNAL,
				      "oneDNN cannot run it: %s",
				      px_ml_dnnl_str(st));
	}
	return 0;
}

/* Conv2D, _FusedConv2D, DepthwiseConv2dNative, FusedDepthwiseConv2dNative */
int px_ml_plan_conv(struct px_ml_plan *p, struct px_ml_node *n)
{
	bool depthwise = strstr(n->opname, "Depthwise") != NULL;
	bool fused = !strncmp(n->opname, "Fused", 5) || n->opname[0] == '_';
	const struct px_ml_val *xv, *fv;
	struct fusion f = {0};
	struct px_ml_arg args[4];
	dnnl_convolution_desc_t cd;
	dnnl_primitive_attr_t attr = NULL;
	dnnl_primitive_desc_t pd = NULL;
	dnnl_memory_desc_t src_any, w_any, dst_any, b_md, w_tf, smd, wmd, dmd;
	struct conv_params *cp;
	int64_t sh, sw, dh, dw, pads[8] = {0}, oh, ow, pt, pb, pl, pr;
	int64_t N, H, W, C, KH, KW, CIg, CO, G, nhwc[4];
	char pad[16];
	int x, fid, bid = -1, wid, sid, did, nextra = 0, nargs = 0, rc;
	int node = node_id(p, n);

	rc = check_nhwc(p, n);
	if (!rc && fused)
		rc = parse_fusion(p, n, &f, &nextra);
	if (!rc)
		rc = px_ml_want_inputs(p, n, 2 + nextra, false);
	if (!rc)
		rc = hw_list(p, n, "strides", 1, &sh, &sw);
	if (!rc)
		rc = hw_list(p, n, "dilations", 1, &dh, &dw);
	if (!rc)
		rc = padding(p, n, pad, sizeof(pad), pads);
	if (!rc)
		rc = px_ml_in(p, n, 0, &x);
	if (!rc)
		rc = px_ml_in(p, n, 1, &fid);
	if (rc)
		return rc;
	xv = px_ml_v(p, x);
	fv = px_ml_v(p, fid);
	if (xv->dtype != PX_ML_F32 || xv->rank != 4)
		return px_ml_node_err(p, n, PX_EINVAL,
				      "input must be a 4-D float32 tensor");
	if (fv->dtype != PX_ML_F32 || fv->rank != 4 ||
	    !px_ml_cdata(p->m, fid) || fv->layout != PX_ML_PLAIN)
		return px_ml_node_err(p, n, PX_EUNSUPPORTED,
				      "filter must be a 4-D float32 constant");
	N = xv->dims[0], H = xv->dims[1], W = xv->dims[2], C = xv->dims[3];
	KH = fv->dims[0], KW = fv->dims[1];
	if (xv->nelem == 0 || fv->nelem == 0)
		return px_ml_node_err(p, n, PX_EINVAL, "empty tensor");
	if (depthwise) {
		/* [KH, KW, C, M] is grouped-conv [KH, KW, 1, C*M], G = C */
		if (fv->dims[2] != C)
			return px_ml_node_err(p, n, PX_EINVAL,
					      "filter has %lld input channels, "
					      "input %lld",
					      (long long)fv->dims[2],
					      (long long)C);
		G = C;
		CIg = 1;
		CO = C * fv->dims[3];
	} else {
		CIg = fv->dims[2];
		CO = fv->dims[3];
		if (CIg < 1 || C % CIg)
			return px_ml_node_err(p, n, PX_EINVAL,
					      "filter has %lld input channels, "
					      "input %lld",
					      (long long)CIg, (long long)C);
		G = C / CIg;
		if (CO % G)
			return px_ml_node_err(p, n, PX_EINVAL,
					      "%lld output channels in %lld "
					      "groups",
					      (long long)CO, (long long)G);
	}
	pt = pads[2], pb = pads[3], pl = pads[4], pr = pads[5];
	if (out_dim(pad, H, KH, sh, dh, &oh, &pt, &pb) ||
	    out_dim(pad, W, KW, sw, dw, &ow, &pl, &pr))
		return px_ml_node_err(p, n, PX_EINVAL,
				      "kernel %lldx%lld does not fit input "
				      "%lldx%lld",
				      (long long)KH, (long long)KW,
				      (long long)H, (long long)W);
	nhwc[0] = N, nhwc[1] = oh, nhwc[2] = ow, nhwc[3] = CO;
	rc = check_out(p, n, 4, nhwc);
	if (!rc)
		rc = px_ml_add_flops(p, n,
				     2.0 * N * oh * ow * CO * KH * KW * CIg);
	if (rc)
		return rc;
	if (f.bias) {
		rc = bias_input(p, n, 2, CO, &bid);
		if (rc)
			return rc;
	}

	{
		int64_t sd[4] = {N, C, H, W}, dd[4] = {N, CO, oh, ow};
		int64_t COg = CO / G;

		rc = md_any(p, 4, sd, &src_any);
		if (!rc)
			rc = md_any(p, 4, dd, &dst_any);
		if (rc)
			return rc;
		if (G == 1) {
			int64_t wd[4] = {CO, CIg, KH, KW};
			int64_t ws[4] = {1, CO, KW * CIg * CO, CIg * CO};

			rc = md_any(p, 4, wd, &w_any);
			if (!rc)
				rc = md_strides(p, 4, wd, ws, &w_tf);
		} else {
			/* TF's filter index ((kh*KW + kw)*CIg + i)*CO + g*COg + o */
			int64_t wd[5] = {G, COg, CIg, KH, KW};
			int64_t ws[5] = {COg, 1, CO, KW * CIg * CO, CIg * CO};

			rc = md_any(p, 5, wd, &w_any);
			if (!rc)
				rc = md_strides(p, 5, wd, ws, &w_tf);
		}
		if (rc)
			return rc;
	}
	if (f.bias) {
		int64_t bd[1] = {CO}, bs[1] = {1};

		rc = md_strides(p, 1, bd, bs, &b_md);
		if (rc)
			return rc;
	}
	{
		dnnl_dims_t strides = {sh, sw}, dil = {dh - 1, dw - 1};
		dnnl_dims_t padl = {pt, pl}, padr = {pb, pr};

		if (dnnl_dilated_convolution_forward_desc_init(
			    &cd, dnnl_forward_inference, dnnl_convolution_direct,
			    &src_any, &w_any, f.bias ? &b_md : NULL, &dst_any,
			    strides, dil, padl, padr) != dnnl_success)
			return px_ml_node_err(p, n, PX_EUNSUPPORTED,
					      "oneDNN refuses the convolution");
	}
	rc = post_ops(p, &f, false, ACT_NONE, &attr);
	if (rc)
		return rc;
	rc = pd_create(p, n, &cd, attr, &pd);
	if (rc)
		return rc;
	smd = *dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
	wmd = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
	dmd = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);

	rc = px_ml_const_reorder(p, node, fid, &w_tf, &wmd, &wid);
	if (!rc)
		rc = px_ml_to_md(p, node, x, &smd, &sid);
	if (rc)
		goto fail;
	rc = px_ml_val_new_md(p, node, nhwc, &dmd, &did);
	if (rc)
		goto fail;
	n->out[0] = did;
	args[nargs++] = (struct px_ml_arg){DNNL_ARG_SRC, sid, smd};
	args[nargs++] = (struct px_ml_arg){DNNL_ARG_WEIGHTS, wid, wmd};
	if (f.bias)
		args[nargs++] = (struct px_ml_arg){DNNL_ARG_BIAS, bid, b_md};
	args[nargs++] = (struct px_ml_arg){DNNL_ARG_DST, did, dmd};
	rc = px_ml_emit_dnnl(p, node, pd, args, nargs);
	if (rc)
		return rc;
	/* the step is the last one: a oneDNN step never folds */
	cp = calloc(1, sizeof(*cp));
	if (!cp)
		return PX_ENOMEM;
	cp->cd = cd;
	cp->f = f;
	p->m->steps[p->m->nsteps - 1].params = cp;
	return 0;
fail:
	dnnl_primitive_desc_destroy(pd);
	return rc;
}

/* Remaining consumers of value id, over every planned node giving it. */
static int value_uses(struct px_ml_plan *p, int id)
{
	const struct px_ml_model *m = p->m;
	int i, k, u = 0;

	for (i = 0; i < m->nnodes; i++)
		for (k = 0; k < m->nodes[i].nout; k++)
			if (m->nodes[i].needed && m->nodes[i].out[k] >= 0 &&
			    px_ml_root(m, m->nodes[i].out[k]) == id)
				u += m->nodes[i].uses[k];
	return u;
}

/*
 * Recreate convolution step s with a sum post-op (sum) and an activation
 * after it (post). *ok is false, and s untouched, when oneDNN has no such
 * kernel or would change the layouts the weights were reordered for.
 */
static int rebuild(struct px_ml_plan *p, struct px_ml_step *s, bool sum,
		   enum act post, bool *ok)
{
	struct px_ml_model *m = p->m;
	struct conv_params *cp = s->params;
	const dnnl_memory_desc_t *q;
	dnnl_primitive_attr_t attr = NULL;
	dnnl_primitive_desc_t pd = NULL;
	dnnl_primitive_t prim = NULL;
	int k, rc;

	*ok = false;
	rc = post_ops(p, &cp->f, sum, post, &attr);
	if (rc)
		return rc;
	if (dnnl_primitive_desc_create(&pd, &cp->cd, attr, m->engine, NULL) !=
	    dnnl_success)
		pd = NULL;
	dnnl_primitive_attr_destroy(attr);
	if (!pd)
		return 0; /* no fused kernel: keep the plain step */
	/* the weights were reordered for the first choice: it must hold */
	for (k = 0; k < s->nargs; k++) {
		q = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md,
						 s->args[k].kind);
		if (!q || !dnnl_memory_desc_equal(q, &s->args[k].md))
			goto keep;
	}
	q = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
	if (q && dnnl_memory_desc_get_size(q) > m->max_arena)
		goto keep;
	if (dnnl_primitive_create(&prim, pd) != dnnl_success)
		goto keep;
	dnnl_primitive_destroy(s->prim);
	s->prim = prim;
	s->scratch = q ? dnnl_memory_desc_get_size(q) : 0;
	if (s->scratch)
		s->scratch_md = *q;
	cp->sum = sum;
	cp->post = post;
	*ok = true;
keep:
	dnnl_primitive_desc_destroy(pd);
	return 0;
}

int px_ml_fuse_sum(struct px_ml_plan *p, struct px_ml_node *n, int acc,
		   int conv, bool *fused)
{
	struct px_ml_model *m = p->m;
	struct px_ml_step *s;
	dnnl_memory_desc_t amd;
	int *in, i, k, ks = -1, ka = -1, rc;

	*fused = false;
	if (acc == m->input || px_ml_cdata(m, acc) || px_ml_cdata(m, conv) ||
	    m->vals[acc].alias >= 0 || m->vals[conv].alias >= 0 ||
	    m->vals[acc].rank != 4 || m->vals[acc].dtype != PX_ML_F32 ||
	    memcmp(m->vals[acc].dims, m->vals[conv].dims,
		   sizeof(m->vals[acc].dims)))
		return 0;
	for (i = 0; i < m->nvals; i++)
		if (m->vals[i].alias == acc || m->vals[i].alias == conv)
			return 0;
	/* this add must be the last reader of both */
	if (value_uses(p, acc) != 1 || value_uses(p, conv) != 1)
		return 0;
	for (i = 0; i < m->nsteps; i++) {
		for (k = 0; k < m->steps[i].nout; k++) {
			if (m->steps[i].out[k] == conv)
				ks = i;
			if (m->steps[i].out[k] == acc)
				ka = i;
		}
	}
	if (ks < 0 || ka < 0 || ka >= ks)
		return 0;
	s = &m->steps[ks];
	if (s->run != px_ml_run_dnnl || !s->params)
		return 0;
	/* nothing from the convolution on may read acc (it changes there)
	 * nor conv (it will not be written any more) */
	for (i = ks; i < m->nsteps; i++)
		for (k = 0; k < m->steps[i].nin; k++)
			if (m->steps[i].in[k] == acc ||
			    m->steps[i].in[k] == conv)
				return 0;
	rc = px_ml_md_of(p, acc, &amd);
	if (rc)
		return rc;
	if (!dnnl_memory_desc_equal(&amd, &s->args[s->nargs - 1].md))
		return 0;

	rc = rebuild(p, s, true, ACT_NONE, fused);
	if (rc || !*fused)
		return rc;
	in = realloc(s->in, (size_t)(s->nin + 1) * sizeof(*in));
	if (!in)
		return PX_ENOMEM;
	s->in = in;
	s->in[s->nin++] = acc; /* read by the sum, then written */
	s->args[s->nargs - 1].val = acc;
	s->out[0] = acc;
	n->out[0] = acc;
	return 0;
}

/*
 * Activation n on x: when x is written by a convolution with a fused
 * residual add and n is its last reader, append the activation to that
 * convolution's post-ops (dst = act(conv + dst)) so that n costs nothing.
 * BlazeFace's blocks end in AddV2 then Relu.
 */
int px_ml_fuse_act(struct px_ml_plan *p, struct px_ml_node *n, int x,
		   bool relu6, bool *fused)
{
	struct px_ml_model *m = p->m;
	struct px_ml_step *s = NULL;
	const struct conv_params *cp;
	int i, k, ks = -1, rc;

	*fused = false;
	if (m->vals[x].alias >= 0 || px_ml_cdata(m, x) ||
	    value_uses(p, x) != 1)
		return 0;
	for (i = 0; i < m->nvals; i++)
		if (m->vals[i].alias == x)
			return 0;
	for (i = 0; i < m->nsteps; i++)
		if (m->steps[i].nout == 1 && m->steps[i].out[0] == x)
			ks = i;
	if (ks < 0)
		return 0;
	s = &m->steps[ks];
	if (s->run != px_ml_run_dnnl || !s->params)
		return 0;
	cp = s->params;
	if (!cp->sum || cp->post != ACT_NONE)
		return 0;
	/* x changes in place: nothing after the convolution may read it */
	for (i = ks + 1; i < m->nsteps; i++)
		for (k = 0; k < m->steps[i].nin; k++)
			if (m->steps[i].in[k] == x)
				return 0;
	rc = rebuild(p, s, true, relu6 ? ACT_RELU6 : ACT_RELU, fused);
	if (!rc && *fused)
		n->out[0] = x;
	return rc;
}


/* AvgPool, MaxPool */
int px_ml_plan_pool(struct px_ml_plan *p, struct px_ml_node *n)
{
	bool is_max = !strcmp(n->opname, "MaxPool");
	const struct px_ml_val *xv;
	struct px_ml_arg args[2];
	dnnl_pooling_desc_t pdsc;
	dnnl_primitive_attr_t attr = NULL;
	dnnl_primitive_desc_t pd = NULL;
	dnnl_memory_desc_t smd, dst_any, dmd;
	struct fusion none = {0};
	int64_t kh, kw, sh, sw, oh, ow, pt = 0, pb = 0, pl = 0, pr = 0;
	int64_t pads[8], nhwc[4];
	char pad[16];
	int x, did, rc, node = node_id(p, n);

	rc = check_nhwc(p, n);
	if (!rc)
		rc = px_ml_want_inputs(p, n, 1, false);
	if (!rc)
		rc = hw_list(p, n, "ksize", 0, &kh, &kw);
	if (!rc)
		rc = hw_list(p, n, "strides", 0, &sh, &sw);
	if (!rc)
		rc = padding(p, n, pad, sizeof(pad), pads);
	if (!rc && (kh < 1 || sh < 1))
		rc = px_ml_node_err(p, n, PX_EINVAL, "needs ksize and strides");
	if (!rc && !strcmp(pad, "EXPLICIT"))
		rc = px_ml_node_err(p, n, PX_EUNSUPPORTED, "explicit padding");
	if (!rc)
		rc = px_ml_in(p, n, 0, &x);
	if (rc)
		return rc;
	xv = px_ml_v(p, x);
	if (xv->dtype != PX_ML_F32 || xv->rank != 4 || xv->nelem == 0)
		return px_ml_node_err(p, n, PX_EINVAL,
				      "input must be a 4-D float32 tensor");
	if (out_dim(pad, xv->dims[1], kh, sh, 1, &oh, &pt, &pb) ||
	    out_dim(pad, xv->dims[2], kw, sw, 1, &ow, &pl, &pr))
		return px_ml_node_err(p, n, PX_EINVAL,
				      "window does not fit the input");
	nhwc[0] = xv->dims[0], nhwc[1] = oh, nhwc[2] = ow,
	nhwc[3] = xv->dims[3];
	rc = check_out(p, n, 4, nhwc);
	if (!rc)
		rc = px_ml_add_flops(p, n, 1.0 * nhwc[0] * oh * ow * nhwc[3] *
						   kh * kw);
	if (!rc)
		rc = px_ml_md_of(p, x, &smd);
	if (rc)
		return rc;
	{
		int64_t dd[4] = {nhwc[0], nhwc[3], oh, ow};
		dnnl_dims_t strides = {sh, sw}, kernel = {kh, kw};
		dnnl_dims_t padl = {pt, pl}, padr = {pb, pr};

		rc = md_any(p, 4, dd, &dst_any);
		if (rc)
			return rc;
		/* TF's average ignores padded cells: exclude_padding */
		if (dnnl_pooling_forward_desc_init(
			    &pdsc, dnnl_forward_inference,
			    is_max ? dnnl_pooling_max :
				     dnnl_pooling_avg_exclude_padding,
			    &smd, &dst_any, strides, kernel, padl,
			    padr) != dnnl_success)
			return px_ml_node_err(p, n, PX_EUNSUPPORTED,
					      "oneDNN refuses the pooling");
	}
	rc = post_ops(p, &none, false, ACT_NONE, &attr);
	if (rc)
		return rc;
	rc = pd_create(p, n, &pdsc, attr, &pd);
	if (rc)
		return rc;
	dmd = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
	rc = px_ml_val_new_md(p, node, nhwc, &dmd, &did);
	if (rc) {
		dnnl_primitive_desc_destroy(pd);
		return rc;
	}
	n->out[0] = did;
	args[0] = (struct px_ml_arg){DNNL_ARG_SRC, x, smd};
	args[1] = (struct px_ml_arg){DNNL_ARG_DST, did, dmd};
	return px_ml_emit_dnnl(p, node, pd, args, 2);
}

/* MatMul, _FusedMatMul: 2-D only */
int px_ml_plan_matmul(struct px_ml_plan *p, struct px_ml_node *n)
{
	bool fused = n->opname[0] == '_';
	bool ta, tb, bconst;
	const struct px_ml_val *av, *bv;
	struct fusion f = {0};
	struct px_ml_arg args[4];
	dnnl_matmul_desc_t md;
	dnnl_primitive_attr_t attr = NULL;
	dnnl_primitive_desc_t pd = NULL;
	dnnl_memory_desc_t amd, b_tf, b_any, bmd, biasmd, dmd;
	int64_t M, K, N, dims[2];
	int a, b, bid = -1, wid, did, nextra = 0, nargs = 0, rc;
	int node = node_id(p, n);

	rc = fused ? parse_fusion(p, n, &f, &nextra) : 0;
	if (!rc)
		rc = px_ml_want_inputs(p, n, 2 + nextra, false);
	if (!rc)
		rc = px_ml_attr_bool(n->attr, "transpose_a", false, &ta);
	if (!rc)
		rc = px_ml_attr_bool(n->attr, "transpose_b", false, &tb);
	if (!rc)
		rc = px_ml_in(p, n, 0, &a);
	if (!rc)
		rc = px_ml_in(p, n, 1, &b);
	if (rc)
		return rc;
	av = px_ml_v(p, a);
	bv = px_ml_v(p, b);
	if (av->dtype != PX_ML_F32 || bv->dtype != PX_ML_F32 ||
	    av->rank != 2 || bv->rank != 2)
		return px_ml_node_err(p, n, PX_EUNSUPPORTED,
				      "only 2-D float32 operands");
	M = ta ? av->dims[1] : av->dims[0];
	K = ta ? av->dims[0] : av->dims[1];
	N = tb ? bv->dims[0] : bv->dims[1];
	if ((tb ? bv->dims[1] : bv->dims[0]) != K)
		return px_ml_node_err(p, n, PX_EINVAL,
				      "inner dimensions differ (%lld vs %lld)",
				      (long long)K,
				      (long long)(tb ? bv->dims[1] :
						       bv->dims[0]));
	if (M < 1 || K < 1 || N < 1)
		return px_ml_node_err(p, n, PX_EINVAL, "empty operand");
	dims[0] = M, dims[1] = N;
	rc = check_out(p, n, 2, dims);
	if (!rc)
		rc = px_ml_add_flops(p, n, 2.0 * M * N * K);
	if (rc)
		return rc;
	bconst = px_ml_cdata(p->m, b) != NULL;
	if (f.bias) {
		rc = bias_input(p, n, 2, N, &bid);
		if (rc)
			return rc;
	}
	{
		int64_t ad[2] = {M, K}, as[2] = {ta ? 1 : K, ta ? M : 1};
		int64_t bd[2] = {K, N}, bs[2] = {tb ? 1 : N, tb ? K : 1};
		int64_t cd[2] = {M, N}, cs[2] = {N, 1};
		int64_t zd[2] = {1, N}, zs[2] = {N, 1};

		rc = md_strides(p, 2, ad, as, &amd);
		if (!rc)
			rc = md_strides(p, 2, bd, bs, &b_tf);
		if (!rc)
			rc = md_any(p, 2, bd, &b_any);
		if (!rc)
			rc = md_strides(p, 2, cd, cs, &dmd);
		if (!rc)
			rc = md_strides(p, 2, zd, zs, &biasmd);
		if (rc)
			return rc;
	}
	if (dnnl_matmul_desc_init(&md, &amd, bconst ? &b_any : &b_tf,
				  f.bias ? &biasmd : NULL,
				  &dmd) != dnnl_success)
		return px_ml_node_err(p, n, PX_EUNSUPPORTED,
				      "oneDNN refuses the matmul");
	rc = post_ops(p, &f, false, ACT_NONE, &attr);
	if (rc)
		return rc;
	rc = pd_create(p, n, &md, attr, &pd);
	if (rc)
		return rc;
	bmd = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
	if (bconst)
		rc = px_ml_const_reorder(p, node, b, &b_tf, &bmd, &wid);
	else
		rc = px_ml_plain(p, node, b, &wid);
	if (!rc)
		rc = px_ml_plain(p, node, a, &a);
	if (!rc)
		rc = px_ml_val_new(p, node, PX_ML_F32, 2, dims, &did);
	if (rc) {
		dnnl_primitive_desc_destroy(pd);
		return rc;
	}
	n->out[0] = did;
	args[nargs++] = (struct px_ml_arg){DNNL_ARG_SRC, a, amd};
	args[nargs++] = (struct px_ml_arg){DNNL_ARG_WEIGHTS, wid, bmd};
	if (f.bias)
		args[nargs++] = (struct px_ml_arg){DNNL_ARG_BIAS, bid, biasmd};
	args[nargs++] = (struct px_ml_arg){DNNL_ARG_DST, did, dmd};
	return px_ml_emit_dnnl(p, node, pd, args, nargs);
}
