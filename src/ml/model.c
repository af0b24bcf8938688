/*
 * model.c - reading a TF.js graph model: model.json, weight shards, nodes.
 *
 * The JSON document is parsed with jansson, nodes are checked (unique
 * names, known operators, inputs that name existing nodes), weights are
 * read group by group (a group is the concatenation of its shards) and
 * decoded to float32/int32 with the quantisation the manifest states.
 * Planning (plan.c) then turns nodes into an executable program; the JSON
 * document is dropped before load returns.
 */
#include "ml/graph.h"

#include <dlfcn.h>
#include <math.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_NAME 4096   /* bytes of a node or weight name */
#define MAX_NODE_IN 4096 /* inputs of one node */
#define MAX_PATHS 4096   /* shards in one group */

void px_ml_opts_init(struct px_ml_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_json_bytes = 32u << 20;
	o->max_weight_bytes = (size_t)1 << 30;
	o->max_arena_bytes = (size_t)1 << 30;
	o->max_nodes = 20000;
	o->nthreads = 1;
	o->max_flops = 1e12;
}

/* --- name lookup: open addressing over node indices --- */

struct names {
	int *slot; /* node index + 1, 0 = empty */
	size_t mask;
};

static uint64_t hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	while (n--) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ull;
	}
	return h;
}

static int names_init(struct names *t, int n)
{
	size_t cap = 16;

	while (cap < (size_t)n * 2)
		cap *= 2;
	t->slot = calloc(cap, sizeof(*t->slot));
	t->mask = cap - 1;
	return t->slot ? 0 : PX_ENOMEM;
}

/* Index of node named s[0..n), or -1. */
static int names_get(const struct names *t, const struct px_ml_model *m,
		     const char *s, size_t n)
{
	size_t i = hash(s, n) & t->mask;

	for (; t->slot[i]; i = (i + 1) & t->mask) {
		const char *z = m->nodes[t->slot[i] - 1].name;

		if (strlen(z) == n && !memcmp(z, s, n))
			return t->slot[i] - 1;
	}
	return -1;
}

/* Insert node idx; false if its name is taken. */
static bool names_put(struct names *t, const struct px_ml_model *m, int idx)
{
	const char *z = m->nodes[idx].name;
	size_t n = strlen(z), i;

	if (names_get(t, m, z, n) >= 0)
		return false;
	for (i = hash(z, n) & t->mask; t->slot[i]; i = (i + 1) & t->mask)
		;
	t->slot[i] = idx + 1;
	return true;
}

/* --- nodes --- */

static int json_name(const json_t *j, char **out)
{
	size_t n;

	if (!json_is_string(j))
		return PX_EINVAL;
	n = json_string_length(j);
	if (n == 0 || n > MAX_NAME || strlen(json_string_value(j)) != n)
		return PX_EINVAL;
	*out = strdup(json_string_value(j));
	return *out ? 0 : PX_ENOMEM;
}

/* Parse "name", "name:3" or "^name" (a control input: *ctl set). */
static int parse_ref(const char *s, size_t *namelen, int *idx, bool *ctl)
{
	const char *colon;
	size_t n = strlen(s);

	*ctl = false;
	*idx = 0;
	if (*s == '^') {
		*ctl = true;
		s++;
		n--;
	}
	colon = memchr(s, ':', n);
	if (colon) {
		const char *d = colon + 1;
		long v = 0;

		if (!*d || strlen(d) > 4)
			return PX_EINVAL;
		for (; *d; d++) {
			if (*d < '0' || *d > '9')
				return PX_EINVAL;
			v = v * 10 + (*d - '0');
		}
		*idx = (int)v;
		n = (size_t)(colon - s);
	}
	if (n == 0)
		return PX_EINVAL;
	*namelen = n;
	return 0;
}

static int read_nodes(struct px_ml_model *m, const json_t *jnodes,
		      const struct px_ml_opts *o, struct px_errbuf *eb)
{
	struct names names = {0};
	size_t i, k;
	int rc = 0;

	if (!json_is_array(jnodes))
		return px_errf(eb, PX_EINVAL,
			       "model.json: modelTopology.node is not an array");
	if (json_array_size(jnodes) == 0)
		return px_errf(eb, PX_EINVAL, "model.json: graph has no nodes");
	if (json_array_size(jnodes) > (size_t)o->max_nodes)
		return px_errf(eb, PX_ETOOBIG,
			       "model.json: %zu nodes (limit %d)",
			       json_array_size(jnodes), o->max_nodes);
	m->nodes = calloc(json_array_size(jnodes), sizeof(*m->nodes));
	if (!m->nodes)
		return PX_ENOMEM;

	/* pass 1: names, operators, attributes */
	for (i = 0; i < json_array_size(jnodes); i++) {
		const json_t *jn = json_array_get(jnodes, i), *op, *attr;
		struct px_ml_node *n = &m->nodes[i];

		n->weight = -1;
		if (!json_is_object(jn))
			return px_errf(eb, PX_EINVAL,
				       "model.json: node %zu is not an object",
				       i);
		rc = json_name(json_object_get(jn, "name"), &n->name);
		if (rc == PX_ENOMEM)
			return rc;
		if (rc)
			return px_errf(eb, PX_EINVAL,
				       "model.json: node %zu has no valid name",
				       i);
		m->nnodes++;
		op = json_object_get(jn, "op");
		if (!json_is_string(op) || json_string_length(op) > 128)
			return px_errf(eb, PX_EINVAL,
				       "model.json: node '%.200s' has no valid op",
				       n->name);
		n->op = px_ml_op_find(json_string_value(op));
		if (!n->op)
			return px_errc(eb, PX_EUNSUPPORTED, "unsupported_op",
				       "unsupported operator '%.64s' in node "
				       "'%.200s'",
				       json_string_value(op), n->name);
		/* the table's copy outlives the JSON document */
		n->opname = n->op->name;
		n->nout = n->op->nout;
		attr = json_object_get(jn, "attr");
		if (attr && !json_is_object(attr))
			return px_errf(eb, PX_EINVAL,
				       "model.json: node '%.200s': attr is not "
				       "an object",
				       n->name);
		n->attr = (json_t *)attr;
	}
	rc = names_init(&names, m->nnodes);
	if (rc)
		goto out;
	for (i = 0; i < (size_t)m->nnodes; i++) {
		if (!names_put(&names, m, (int)i)) {
			rc = px_errf(eb, PX_EINVAL,
				     "model.json: duplicate node name '%.200s'",
				     m->nodes[i].name);
			goto out;
		}
	}

	/* pass 2: inputs */
	for (i = 0; i < (size_t)m->nnodes; i++) {
		const json_t *ji = json_object_get(json_array_get(jnodes, i),
						   "input");
		struct px_ml_node *n = &m->nodes[i];

		if (!ji)
			continue;
		if (!json_is_array(ji) || json_array_size(ji) > MAX_NODE_IN) {
			rc = px_errf(eb, PX_EINVAL,
				     "model.json: node '%.200s': bad input list",
				     n->name);
			goto out;
		}
		n->in = calloc(json_array_size(ji) + 1, sizeof(*n->in));
		if (!n->in) {
			rc = PX_ENOMEM;
			goto out;
		}
		for (k = 0; k < json_array_size(ji); k++) {
			const json_t *js = json_array_get(ji, k);
			const char *s;
			size_t len;
			int idx, src;
			bool ctl;

			if (!json_is_string(js) ||
			    strlen(json_string_value(js)) !=
				    json_string_length(js) ||
			    parse_ref(json_string_value(js), &len, &idx,
				      &ctl)) {
				rc = px_errf(eb, PX_EINVAL,
					     "model.json: node '%.200s': "
					     "malformed input %zu",
					     n->name, k);
				goto out;
			}
			s = json_string_value(js);
			if (ctl)
				s++;
			src = names_get(&names, m, s, len);
			if (src < 0) {
				rc = px_errf(eb, PX_EINVAL,
					     "model.json: node '%.200s': input "
					     "'%.200s' names no node",
					     n->name, json_string_value(js));
				goto out;
			}
			if (ctl)
				continue; /* control edges order nothing here */
			if (idx >= m->nodes[src].nout) {
				rc = px_errf(eb, PX_EINVAL,
					     "model.json: node '%.200s': input "
					     "'%.200s' refers to a missing output",
					     n->name, json_string_value(js));
				goto out;
			}
			n->in[n->nin].node = src;
			n->in[n->nin].idx = idx;
			n->nin++;
		}
	}
out:
	free(names.slot);
	return rc;
}

/* --- outputs and input --- */

static const json_t *signature(const json_t *root)
{
	const json_t *s = json_object_get(root, "signature");

	if (!json_is_object(s)) {
		const json_t *u = json_object_get(root, "userDefinedMetadata");

		s = json_is_object(u) ? json_object_get(u, "signature") : NULL;
	}
	return json_is_object(s) ? s : NULL;
}

static int find_outputs(struct px_ml_model *m, const json_t *root,
			struct px_errbuf *eb)
{
	const json_t *sig = signature(root), *outs, *v;
	bool *consumed = NULL;
	const char *key;
	int i, k, rc = 0;

	outs = sig ? json_object_get(sig, "outputs") : NULL;
	if (json_is_object(outs) && json_object_size(outs) > 0) {
		json_object_foreach((json_t *)outs, key, v)
		{
			const json_t *nm = json_object_get(v, "name");
			const char *s = json_is_string(nm) ?
						json_string_value(nm) :
						key;
			size_t len;
			int idx, node = -1;
			bool ctl;

			if (m->noutref == PX_ML_MAX_OUT)
				return px_errf(eb, PX_EUNSUPPORTED,
					       "model.json: more than %d "
					       "outputs",
					       PX_ML_MAX_OUT);
			if (parse_ref(s, &len, &idx, &ctl) || ctl)
				return px_errf(eb, PX_EINVAL,
					       "model.json: malformed signature "
					       "output '%.200s'",
					       s);
			for (k = 0; k < m->nnodes; k++) {
				if (strlen(m->nodes[k].name) == len &&
				    !memcmp(m->nodes[k].name, s, len)) {
					node = k;
					break;
				}
			}
			if (node < 0 || idx >= m->nodes[node].nout)
				return px_errf(eb, PX_EINVAL,
					       "model.json: signature output "
					       "'%.200s' names no node output",
					       s);
			m->outref[m->noutref].node = node;
			m->outref[m->noutref].idx = idx;
			m->noutref++;
		}
		return 0;
	}

	/* no signature: every non-constant node nobody consumes */
	consumed = calloc((size_t)m->nnodes, sizeof(*consumed));
	if (!consumed)
		return PX_ENOMEM;
	for (i = 0; i < m->nnodes; i++)
		for (k = 0; k < m->nodes[i].nin; k++)
			consumed[m->nodes[i].in[k].node] = true;
	for (i = 0; i < m->nnodes; i++) {
		if (consumed[i] || !strcmp(m->nodes[i].opname, "Const") ||
		    !strcmp(m->nodes[i].opname, "Placeholder"))
			continue;
		if (m->noutref == PX_ML_MAX_OUT) {
			rc = px_errf(eb, PX_EUNSUPPORTED,
				     "model.json: more than %d outputs",
				     PX_ML_MAX_OUT);
			goto out;
		}
		m->outref[m->noutref].node = i;
		m->outref[m->noutref].idx = 0;
		m->noutref++;
	}
	if (!m->noutref)
		rc = px_errf(eb, PX_EINVAL, "model.json: graph has no output");
out:
	free(consumed);
	return rc;
}

/* --- weights --- */

struct wsrc {
	const struct px_ml_shards *shards; /* or NULL: memory below */
	const unsigned char *mem;
	size_t nmem, pos;
};

enum qkind { Q_NONE, Q_U8, Q_U16, Q_F16 };

struct wspec {
	const char *name;
	enum px_ml_dtype dtype;
	enum qkind q;
	double min, scale;
	int rank;
	int64_t dims[PX_ML_MAX_RANK];
	size_t nelem, nbytes;
};

static size_t dtype_size(enum px_ml_dtype d)
{
	return d == PX_ML_BOOL ? 1 : 4;
}

static int parse_wspec(const json_t *jw, struct wspec *w, struct px_errbuf *eb)
{
	const json_t *jshape, *jq;
	const char *dt;
	size_t i, esize;

	memset(w, 0, sizeof(*w));
	if (!json_is_object(jw) || !json_is_string(json_object_get(jw, "name")))
		return px_errf(eb, PX_EINVAL,
			       "model.json: weight entry without a name");
	w->name = json_string_value(json_object_get(jw, "name"));
	if (!*w->name || strlen(w->name) > MAX_NAME)
		return px_errf(eb, PX_EINVAL, "model.json: bad weight name");
	dt = json_string_value(json_object_get(jw, "dtype"));
	if (!dt)
		dt = "float32";
	if (!strcmp(dt, "float32"))
		w->dtype = PX_ML_F32;
	else if (!strcmp(dt, "int32"))
		w->dtype = PX_ML_I32;
	else if (!strcmp(dt, "bool"))
		w->dtype = PX_ML_BOOL;
	else
		return px_errf(eb, PX_EUNSUPPORTED,
			       "model.json: weight '%.200s' has unsupported "
			       "dtype '%.32s'",
			       w->name, dt);
	jshape = json_object_get(jw, "shape");
	if (!json_is_array(jshape) || json_array_size(jshape) > PX_ML_MAX_RANK)
		return px_errf(eb, PX_EINVAL,
			       "model.json: weight '%.200s' has a bad shape",
			       w->name);
	w->rank = (int)json_array_size(jshape);
	w->nelem = 1;
	for (i = 0; i < json_array_size(jshape); i++) {
		int64_t d;

		if (px_ml_json_int(json_array_get(jshape, i), &d) || d < 0 ||
		    d > INT32_MAX || !px_ml_mul(w->nelem, (size_t)d, &w->nelem) ||
		    w->nelem > PX_ML_MAX_ELEMS)
			return px_errf(eb, PX_EINVAL,
				       "model.json: weight '%.200s' has a bad "
				       "shape",
				       w->name);
		w->dims[i] = d;
	}
	esize = dtype_size(w->dtype);
	jq = json_object_get(jw, "quantization");
	if (jq) {
		const char *qd = json_string_value(json_object_get(jq, "dtype"));

		if (!json_is_object(jq) || !qd)
			return px_errf(eb, PX_EINVAL,
				       "model.json: weight '%.200s': bad "
				       "quantization",
				       w->name);
		if (!strcmp(qd, "uint8")) {
			w->q = Q_U8;
			esize = 1;
		} else if (!strcmp(qd, "uint16")) {
			w->q = Q_U16;
			esize = 2;
		} else if (!strcmp(qd, "float16")) {
			w->q = Q_F16;
			esize = 2;
		} else {
			return px_errf(eb, PX_EUNSUPPORTED,
				       "model.json: weight '%.200s': "
				       "unsupported quantization '%.32s'",
				       w->name, qd);
		}
		if (w->dtype == PX_ML_BOOL ||
		    (w->q == Q_F16 && w->dtype != PX_ML_F32))
			return px_errf(eb, PX_EUNSUPPORTED,
				       "model.json: weight '%.200s': %s cannot "
				       "be quantised as %s",
				       w->name, dt, qd);
		if (w->q != Q_F16) {
			if (px_ml_json_num(json_object_get(jq, "min"),
					   &w->min) ||
			    px_ml_json_num(json_object_get(jq, "scale"),
					   &w->scale) ||
			    !isfinite(w->min) || !isfinite(w->scale))
				return px_errf(eb, PX_EINVAL,
					       "model.json: weight '%.200s': "
					       "bad quantization min/scale",
					       w->name);
		}
	}
	if (!px_ml_mul(w->nelem, esize, &w->nbytes))
		return px_errf(eb, PX_EINVAL, "model.json: weight too large");
	return 0;
}

#define MAP_MIN (256u << 10)

void *px_ml_alloc_const(size_t n, bool *mapped)
{
	void *p;

	*mapped = false;
	if (n < MAP_MIN)
		return malloc(n ? n : 1);
	p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	*mapped = true;
	return p;
}

void px_ml_free_const(void *p, size_t n, bool mapped)
{
	if (mapped)
		munmap(p, n);
	else
		free(p);
}

static int decode_weight(const struct wspec *w, const unsigned char *p,
			 struct px_ml_weight *out)
{
	size_t i, n = w->nelem;
	void *data = px_ml_alloc_const(n * dtype_size(w->dtype), &out->mapped);

	if (!data)
		return PX_ENOMEM;
	if (w->dtype == PX_ML_BOOL) {
		unsigned char *d = data;

		for (i = 0; i < n; i++)
			d[i] = p[i] ? 1 : 0;
	} else if (w->q == Q_NONE) {
		memcpy(data, p, n * 4); /* little-endian host, as TF.js */
	} else if (w->q == Q_F16) {
		float *d = data;

		for (i = 0; i < n; i++)
			d[i] = px_ml_half((uint16_t)(p[2 * i] |
						     p[2 * i + 1] << 8));
	} else {
		/* TF.js dequantises in double and stores float32 (int32
		 * weights are rounded) */
		for (i = 0; i < n; i++) {
			unsigned v = w->q == Q_U8 ?
					     p[i] :
					     (unsigned)(p[2 * i] |
							p[2 * i + 1] << 8);
			double x = v * w->scale + w->min;

			if (w->dtype == PX_ML_F32) {
				((float *)data)[i] = (float)x;
			} else {
				x = round(x);
				if (!(x >= INT32_MIN && x <= INT32_MAX))
					x = 0;
				((int32_t *)data)[i] = (int32_t)x;
			}
		}
	}
	out->data = data;
	return 0;
}

/* Plain file name only: the manifest must not reach outside the dir. */
static bool safe_path(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 255 || s[0] == '.')
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

static int read_group(struct px_ml_model *m, const json_t *jg, int gi,
		      struct wsrc *src, struct px_errbuf *eb)
{
	const json_t *jpaths, *jweights;
	struct wspec *specs = NULL;
	struct px_buf buf;
	const unsigned char *bytes;
	size_t i, need = 0, off = 0, nw;
	int rc = 0;

	px_buf_init(&buf, m->max_weights);
	if (!json_is_object(jg))
		return px_errf(eb, PX_EINVAL,
			       "model.json: weightsManifest[%d] is not an "
			       "object",
			       gi);
	jpaths = json_object_get(jg, "paths");
	jweights = json_object_get(jg, "weights");
	if (!json_is_array(jpaths) || !json_is_array(jweights) ||
	    json_array_size(jpaths) > MAX_PATHS)
		return px_errf(eb, PX_EINVAL,
			       "model.json: weightsManifest[%d] needs paths "
			       "and weights arrays",
			       gi);
	nw = json_array_size(jweights);
	if (nw > (size_t)INT32_MAX - (size_t)m->nweights)
		return px_errf(eb, PX_ETOOBIG, "model.json: too many weights");
	specs = calloc(nw + 1, sizeof(*specs));
	if (!specs)
		return PX_ENOMEM;
	for (i = 0; i < nw; i++) {
		size_t dec;

		rc = parse_wspec(json_array_get(jweights, i), &specs[i], eb);
		if (rc)
			goto out;
		dec = specs[i].nelem * dtype_size(specs[i].dtype);
		if (!px_ml_add(need, specs[i].nbytes, &need) ||
		    !px_ml_add(m->weight_bytes, dec, &m->weight_bytes) ||
		    m->weight_bytes > m->max_weights) {
			rc = px_errf(eb, PX_ETOOBIG,
				     "model.json: weights exceed %zu bytes",
				     m->max_weights);
			goto out;
		}
	}

	if (!src->shards) {
		if (need > src->nmem - src->pos) {
			rc = px_errf(eb, PX_ECORRUPT,
				     "weights: group %d needs %zu bytes, %zu "
				     "left",
				     gi, need, src->nmem - src->pos);
			goto out;
		}
		/* NULL + 0 is undefined in C: an empty group reads nothing */
		bytes = src->mem ? src->mem + src->pos : NULL;
		src->pos += need;
	} else {
		for (i = 0; i < json_array_size(jpaths); i++) {
			const char *path =
				json_string_value(json_array_get(jpaths, i));

			if (!path || !safe_path(path) ||
			    strlen(path) !=
				    json_string_length(json_array_get(jpaths, i))) {
				rc = px_errf(eb, PX_EINVAL,
					     "model.json: weight path %zu of "
					     "group %d is not a plain file name",
					     i, gi);
				goto out;
			}
			rc = src->shards->read(src->shards->arg, path, &buf, eb);
			if (rc)
				goto out;
		}
		if (buf.len != need) {
			rc = px_errf(eb, PX_ECORRUPT,
				     "weights: group %d has %zu bytes, the "
				     "manifest describes %zu",
				     gi, buf.len, need);
			goto out;
		}
		bytes = buf.data;
	}
	if (!bytes) {
		static const unsigned char none[1];

		if (need)
			PX_BUG("weight bytes missing");
		bytes = none; /* every weight is empty */
	}

	for (i = 0; i < nw; i++) {
		struct px_ml_weight *w = &m->weights[m->nweights];
		int k;

		for (k = 0; k < m->nweights; k++) {
			if (!strcmp(m->weights[k].name, specs[i].name)) {
				rc = px_errf(eb, PX_EINVAL,
					     "model.json: duplicate weight "
					     "'%.200s'",
					     specs[i].name);
				goto out;
			}
		}
		w->name = strdup(specs[i].name);
		if (!w->name) {
			rc = PX_ENOMEM;
			goto out;
		}
		m->nweights++;
		w->dtype = specs[i].dtype;
		w->rank = specs[i].rank;
		memcpy(w->dims, specs[i].dims, sizeof(w->dims));
		w->nelem = specs[i].nelem;
		rc = decode_weight(&specs[i], bytes + off, w);
		if (rc)
			goto out;
		off += specs[i].nbytes;
	}
out:
	free(specs);
	px_buf_release(&buf);
	return rc;
}

static int read_weights(struct px_ml_model *m, const json_t *root,
			struct wsrc *src, struct px_errbuf *eb)
{
	const json_t *man = json_object_get(root, "weightsManifest");
	struct names names = {0};
	size_t i, total = 0;
	int rc = 0, k;

	if (!man)
		man = json_object_get(json_object_get(root, "modelTopology"),
				      "weightsManifest");
	if (man && !json_is_array(man))
		return px_errf(eb, PX_EINVAL,
			       "model.json: weightsManifest is not an array");
	for (i = 0; man && i < json_array_size(man); i++) {
		const json_t *w = json_object_get(json_array_get(man, i),
						  "weights");

		total += json_is_array(w) ? json_array_size(w) : 0;
	}
	if (total > (size_t)m->max_weights / 4 + 1)
		return px_errf(eb, PX_ETOOBIG,
			       "model.json: too many weights");
	m->weights = calloc(total + 1, sizeof(*m->weights));
	if (!m->weights)
		return PX_ENOMEM;
	for (i = 0; man && i < json_array_size(man); i++) {
		rc = read_group(m, json_array_get(man, i), (int)i, src, eb);
		if (rc)
			return rc;
	}
	if (!src->shards && src->pos != src->nmem)
		return px_errf(eb, PX_ECORRUPT,
			       "weights: %zu bytes past the manifest",
			       src->nmem - src->pos);

	/* bind Const nodes to their weights */
	rc = names_init(&names, m->nnodes);
	if (rc)
		return rc;
	for (k = 0; k < m->nnodes; k++)
		names_put(&names, m, k);
	for (k = 0; k < m->nweights; k++) {
		const char *z = m->weights[k].name;
		int n = names_get(&names, m, z, strlen(z));

		if (n >= 0 && !strcmp(m->nodes[n].opname, "Const"))
			m->nodes[n].weight = k;
	}
	free(names.slot);
	return 0;
}

/* --- load --- */

static struct px_ml_model *model_new(const struct px_ml_opts *o)
{
	struct px_ml_model *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	atomic_init(&m->refs, 1);
	m->input = -1;
	m->in_node = -1;
	m->max_arena = o->max_arena_bytes;
	m->max_weights = o->max_weight_bytes;
	m->nthreads = o->nthreads > 0 ? o->nthreads : 1;
	m->max_flops = o->max_flops > 0 ? o->max_flops : 1e12;
	/* oneDNN already loaded libgomp; looking it up keeps -lgomp off the
	 * link line (and a non-OpenMP oneDNN simply has no such symbols) */
	*(void **)&m->omp_set = dlsym(RTLD_DEFAULT, "omp_set_num_threads");
	*(void **)&m->omp_get = dlsym(RTLD_DEFAULT, "omp_get_max_threads");
	memcpy(m->input_dims, o->input_dims, sizeof(m->input_dims));
	return m;
}

static void model_destroy(struct px_ml_model *m)
{
	int i;

	for (i = 0; i < m->nsteps; i++) {
		if (m->steps[i].prim)
			dnnl_primitive_destroy(m->steps[i].prim);
		free(m->steps[i].in);
		free(m->steps[i].params);
	}
	free(m->steps);
	for (i = 0; i < m->nvals; i++)
		if (m->vals[i].cdata)
			px_ml_free_const(m->vals[i].cdata, m->vals[i].nbytes,
					 m->vals[i].cmapped);
	free(m->vals);
	for (i = 0; i < m->nnodes; i++) {
		free(m->nodes[i].name);
		free(m->nodes[i].in);
	}
	free(m->nodes);
	for (i = 0; i < m->nweights; i++) {
		free(m->weights[i].name);
		if (m->weights[i].data)
			px_ml_free_const(m->weights[i].data,
					 m->weights[i].nelem *
						 dtype_size(m->weights[i].dtype),
					 m->weights[i].mapped);
	}
	free(m->weights);
	if (m->engine)
		dnnl_engine_destroy(m->engine);
	free(m);
}

static int load(const void *json, size_t njson, struct wsrc *src,
		const struct px_ml_opts *opts, struct px_ml_model **out,
		struct px_errbuf *eb)
{
	struct px_ml_opts defaults;
	struct px_ml_model *m = NULL;
	json_t *root = NULL;
	json_error_t jerr;
	const json_t *topo, *fmt;
	dnnl_status_t st;
	int rc, saved, i;

	*out = NULL;
	if (!opts) {
		px_ml_opts_init(&defaults);
		opts = &defaults;
	}
	if (njson > opts->max_json_bytes)
		return px_errf(eb, PX_ETOOBIG,
			       "model.json: %zu bytes (limit %zu)", njson,
			       opts->max_json_bytes);
	m = model_new(opts);
	if (!m)
		return PX_ENOMEM;
	root = json_loadb(json, njson, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		rc = px_errf(eb, PX_EINVAL, "model.json: line %d: %s",
			     jerr.line, jerr.text);
		goto out;
	}
	if (!json_is_object(root)) {
		rc = px_errf(eb, PX_EINVAL, "model.json: not a JSON object");
		goto out;
	}
	fmt = json_object_get(root, "format");
	if (fmt && (!json_is_string(fmt) ||
		    strcmp(json_string_value(fmt), "graph-model"))) {
		rc = px_errf(eb, PX_EUNSUPPORTED,
			     "model.json: format is not 'graph-model'");
		goto out;
	}
	topo = json_object_get(root, "modelTopology");
	if (!json_is_object(topo)) {
		rc = px_errf(eb, PX_EINVAL,
			     "model.json: no modelTopology object");
		goto out;
	}
	rc = read_nodes(m, json_object_get(topo, "node"), opts, eb);
	if (rc)
		goto out;
	rc = find_outputs(m, root, eb);
	if (rc)
		goto out;
	rc = read_weights(m, root, src, eb);
	if (rc)
		goto out;
	st = dnnl_engine_create(&m->engine, dnnl_cpu, 0);
	if (st != dnnl_success) {
		m->engine = NULL;
		rc = px_errf(eb, PX_EINTERNAL, "oneDNN: no CPU engine (%s)",
			     px_ml_dnnl_str(st));
		goto out;
	}
	saved = px_ml_omp_enter(m);
	rc = px_ml_plan_model(m, eb);
	px_ml_omp_leave(m, saved);
	if (rc)
		goto out;
	for (i = 0; i < m->nnodes; i++)
		m->nodes[i].attr = NULL; /* the document goes away below */
	*out = m;
	m = NULL;
out:
	if (m)
		model_destroy(m);
	json_decref(root);
	return rc;
}

int px_ml_model_load_mem(const void *json, size_t njson, const void *weights,
			 size_t nweights, const struct px_ml_opts *opts,
			 struct px_ml_model **out, struct px_errbuf *eb)
{
	struct wsrc src = {.mem = weights, .nmem = weights ? nweights : 0};

	return load(json, njson, &src, opts, out, eb);
}

int px_ml_model_load_json(const void *json, size_t njson,
			  const struct px_ml_shards *shards,
			  const struct px_ml_opts *opts,
			  struct px_ml_model **out, struct px_errbuf *eb)
{
	struct wsrc src = {.shards = shards};

	if (!shards || !shards->read)
		PX_BUG("px_ml_model_load_json without a shard reader");
	return load(json, njson, &src, opts, out, eb);
}

/* Append the file dir/name to b (whose max applies). */
static int read_file(const char *dir, const char *name, struct px_buf *b,
		     struct px_errbuf *eb)
{
	char path[4096];
	unsigned char chunk[65536];
	FILE *f;
	size_t n;
	int rc = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path))
		return px_errf(eb, PX_EINVAL, "model path too long");
	f = fopen(path, "rb");
	if (!f)
		return px_errf(eb, errno == ENOENT ? PX_ENOTFOUND : PX_EIO,
			       "cannot open '%s': %s", path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		rc = px_buf_add(b, chunk, n);
		if (rc) {
			rc = px_errf(eb, rc, "'%s': %s", path,
				     rc == PX_ETOOBIG ? "larger than the limit" :
							"out of memory");
			goto out;
		}
	}
	if (ferror(f))
		rc = px_errf(eb, PX_EIO, "cannot read '%s'", path);
out:
	fclose(f);
	return rc;
}

static int dir_read(void *arg, const char *path, struct px_buf *out,
		    struct px_errbuf *eb)
{
	return read_file(arg, path, out, eb);
}

bool px_ml_locate(const char *models_dir, const char *name, char *dir,
		  size_t n)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/model.json", models_dir);
	if (access(path, F_OK) == 0) {
		snprintf(dir, n, "%s", models_dir);
		return true;
	}
	snprintf(dir, n, "%s/%s", models_dir, name);
	snprintf(path, sizeof(path), "%s/model.json", dir);
	return access(path, F_OK) == 0;
}

int px_ml_model_find(const char *models_dir, const char *name,
		     const char *what, char *dir, size_t n,
		     struct px_ml_model **out, struct px_errbuf *eb)
{
	int rc;

	*out = NULL;
	if (strlen(models_dir) + strlen(name) + 17 > n)
		return px_errf(eb, PX_EINVAL, "models directory name too long");
	px_ml_locate(models_dir, name, dir, n);
	rc = px_ml_model_load(dir, NULL, out, eb);
	if (rc == PX_ENOTFOUND)
		return px_errf(eb, rc,
			       "no %s in \"%s\" (looked for \"%s/model.json\" and \"%s/%s/model.json\")",
			       what, models_dir, models_dir, models_dir, name);
	return rc;
}

int px_ml_model_load(const char *dir, const struct px_ml_opts *opts,
		     struct px_ml_model **out, struct px_errbuf *eb)
{
	struct px_ml_opts defaults;
	struct px_ml_shards shards = {dir_read, (void *)dir};
	struct px_buf json;
	int rc;

	*out = NULL;
	if (!opts) {
		px_ml_opts_init(&defaults);
		opts = &defaults;
	}
	px_buf_init(&json, opts->max_json_bytes);
	rc = read_file(dir, "model.json", &json, eb);
	if (rc)
		goto out;
	rc = px_ml_model_load_json(json.data, json.len, &shards, opts, out,
				   eb);
out:
	px_buf_release(&json);
	return rc;
}

struct px_ml_model *px_ml_model_ref(struct px_ml_model *m)
{
	atomic_fetch_add(&m->refs, 1);
	return m;
}

void px_ml_model_free(struct px_ml_model *m)
{
	if (m && atomic_fetch_sub(&m->refs, 1) == 1)
		model_destroy(m);
}

/* --- getters --- */

int px_ml_model_input_shape(const struct px_ml_model *m,
			    int64_t dims[PX_ML_MAX_RANK])
{
	const struct px_ml_val *v = &m->vals[m->input];

	memcpy(dims, v->dims, sizeof(int64_t) * PX_ML_MAX_RANK);
	return v->rank;
}

size_t px_ml_model_input_size(const struct px_ml_model *m)
{
	return m->vals[m->input].nelem;
}

int px_ml_model_noutputs(const struct px_ml_model *m)
{
	return m->noutputs;
}

int px_ml_model_output_shape(const struct px_ml_model *m, int i,
			     int64_t dims[PX_ML_MAX_RANK])
{
	const struct px_ml_val *v;

	if (i < 0 || i >= m->noutputs)
		return PX_EINVAL;
	v = &m->vals[m->outputs[i]];
	memcpy(dims, v->dims, sizeof(int64_t) * PX_ML_MAX_RANK);
	return v->rank;
}

size_t px_ml_model_output_size(const struct px_ml_model *m, int i)
{
	if (i < 0 || i >= m->noutputs)
		return 0;
	return m->vals[m->outputs[i]].nelem;
}

size_t px_ml_model_weight_bytes(const struct px_ml_model *m)
{
	return m->weight_bytes;
}

size_t px_ml_model_resident_bytes(const struct px_ml_model *m)
{
	return m->resident_bytes;
}

double px_ml_model_flops(const struct px_ml_model *m)
{
	return m->flops;
}

int px_ml_model_nsteps(const struct px_ml_model *m)
{
	return m->nsteps;
}

size_t px_ml_model_arena_bytes(const struct px_ml_model *m)
{
	return m->arena_bytes;
}
