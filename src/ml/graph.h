/*
 * graph.h - internals of the inference engine, shared by src/ml/ only.
 *
 * Loading turns model.json into nodes (model.c), then a planner walks the
 * nodes in topological order and asks each node's operator (the ops table
 * in ops.c) to plan it: infer output shapes, create values, and emit steps.
 * A step whose inputs are all constant and that runs on plain memory is
 * executed at once (constant folding) instead of being kept. The steps left
 * form the program a px_ml_ctx executes; values either live in the model
 * (constants, reordered weights) or get an offset in the context's arena
 * (plan.c packs them by lifetime).
 *
 * Values have a TF shape (NHWC for images) and one of two layouts: plain
 * (row-major in TF order) or dnnl (4-D only: an oneDNN memory descriptor
 * over NCHW logical dims, whatever blocking oneDNN picked). Operators that
 * need plain data ask px_ml_plain(), which inserts a reorder when needed.
 */
#ifndef PX_ML_GRAPH_H
#define PX_ML_GRAPH_H

#include <oneapi/dnnl/dnnl.h>

#include <jansson.h>

#include "core/buf.h"
#include "ml/ml.h"

#define PX_ML_MAX_OUT 4          /* outputs of one node */
#define PX_ML_MAX_ARGS 8         /* oneDNN arguments of one step */
#define PX_ML_MAX_ELEMS (1u << 30) /* elements of one tensor */
#define PX_ML_ALIGN 64

enum px_ml_dtype { PX_ML_F32 = 0, PX_ML_I32, PX_ML_BOOL };

enum px_ml_layout { PX_ML_PLAIN = 0, PX_ML_DNNL };

struct px_ml_val {
	int node; /* producing node, -1 for values the planner made */
	enum px_ml_dtype dtype;
	int rank;
	int64_t dims[PX_ML_MAX_RANK];
	size_t nelem;
	size_t nbytes;            /* storage bytes (the md size for dnnl) */
	enum px_ml_layout layout;
	dnnl_memory_desc_t md;    /* valid for PX_ML_DNNL */
	void *cdata;              /* constant data (owned), else NULL */
	bool cmapped;             /* cdata came from px_ml_map */
	int alias;                /* value whose storage this one shares, -1 */
	int plain;                /* cached plain copy of a dnnl value, -1 */
	bool used;                /* read or written by a kept step */
	bool output;              /* a graph output: lives to the end */
	int def, last;            /* first and last step touching it */
	size_t off;               /* arena offset */
};

struct px_ml_step;
struct px_ml_exec;

typedef int (*px_ml_kernel_fn)(const struct px_ml_step *s,
			       struct px_ml_exec *x);

struct px_ml_arg {
	int kind; /* DNNL_ARG_* */
	int val;
	dnnl_memory_desc_t md;
};

struct px_ml_step {
	int node;           /* for error messages; -1 if none */
	px_ml_kernel_fn run; /* plain kernel, or px_ml_run_dnnl */
	int nin, nout;
	int *in;            /* value ids read (owned) */
	int out[PX_ML_MAX_OUT];
	dnnl_primitive_t prim; /* oneDNN steps; owned */
	int nargs;
	struct px_ml_arg args[PX_ML_MAX_ARGS];
	size_t scratch;     /* scratchpad bytes */
	dnnl_memory_desc_t scratch_md;
	void *params;       /* kernel parameters (owned, free()d) */
};

/* Runtime view of a context or of the folding planner. */
struct px_ml_exec {
	const struct px_ml_step *steps; /* to index dargs */
	void **ptr;                 /* per value: its data */
	dnnl_stream_t stream;
	dnnl_exec_arg_t **dargs;    /* per step: bound oneDNN arguments */
};

struct px_ml_input {
	int node, idx; /* producing node and its output index */
};

struct px_ml_node {
	char *name;
	const char *opname;     /* the ops table's name (static) */
	const struct px_ml_op *op;
	json_t *attr;           /* borrowed from the document while loading */
	int nin;
	struct px_ml_input *in; /* data inputs (control inputs dropped) */
	int nout;
	int out[PX_ML_MAX_OUT]; /* value ids, filled by the planner */
	int weight;             /* Const: index into the decoded weights */
	int uses[PX_ML_MAX_OUT]; /* consumers not yet planned (+1 if output) */
	bool needed;
};

struct px_ml_weight {
	char *name;
	enum px_ml_dtype dtype;
	int rank;
	int64_t dims[PX_ML_MAX_RANK];
	size_t nelem;
	void *data; /* decoded (owned until a Const value takes it) */
	bool mapped; /* data came from px_ml_map */
};

struct px_ml_model {
	_Atomic int refs;
	dnnl_engine_t engine;

	int nnodes;
	struct px_ml_node *nodes;
	int nweights;
	struct px_ml_weight *weights;

	int nvals, capvals;
	struct px_ml_val *vals;
	int nsteps, capsteps;
	struct px_ml_step *steps;

	int in_node;         /* the placeholder node */
	int noutref;         /* outputs as node references, before planning */
	struct px_ml_input outref[PX_ML_MAX_OUT];
	int input;           /* value id of the placeholder */
	int noutputs;
	int outputs[PX_ML_MAX_OUT];
	size_t arena_bytes;
	size_t scratch_bytes;
	size_t weight_bytes;   /* decoded manifest bytes */
	size_t resident_bytes; /* constant data kept */
	int nthreads;          /* OpenMP threads of every run */
	void (*omp_set)(int);  /* libgomp's, when oneDNN brought it */
	int (*omp_get)(void);
	size_t max_arena;      /* from the options */
	size_t max_weights;
	double flops, max_flops; /* per run: planned so far, and the limit */
	int64_t input_dims[PX_ML_MAX_RANK];
};

/* Planner state for one load. */
struct px_ml_plan {
	struct px_ml_model *m;
	dnnl_stream_t stream; /* for load-time reorders */
	struct px_errbuf *eb;
};

/*
 * The ops table. plan() plans node n: it reads inputs with px_ml_in(),
 * creates outputs with px_ml_val_new() and sets node->out, and emits steps.
 * It returns 0 or a negative px_err with eb naming the node.
 */
struct px_ml_op {
	const char *name;
	int (*plan)(struct px_ml_plan *p, struct px_ml_node *n);
	int nout; /* outputs the node has */
};

/* Find an operator by TF name; NULL if unsupported. */
const struct px_ml_op *px_ml_op_find(const char *name);

/* Planners of the oneDNN-backed operators (ops_dnnl.c). */
int px_ml_plan_conv(struct px_ml_plan *p, struct px_ml_node *n);
int px_ml_plan_pool(struct px_ml_plan *p, struct px_ml_node *n);
int px_ml_plan_matmul(struct px_ml_plan *p, struct px_ml_node *n);
/* Try to plan AddV2 node n as conv(...) + acc, done in place by the
 * convolution producing `conv` (a oneDNN sum post-op); *fused says if it
 * happened, in which case n->out[0] is set. */
int px_ml_fuse_sum(struct px_ml_plan *p, struct px_ml_node *n, int acc,
		   int conv, bool *fused);
/* Try to plan Relu (or Relu6) node n on x as one more post-op of the
 * convolution that wrote x with a fused sum; *fused says if it happened,
 * in which case n->out[0] is x. */
int px_ml_fuse_act(struct px_ml_plan *p, struct px_ml_node *n, int x,
		   bool relu6, bool *fused);

/* --- planner helpers (plan.c) --- */

static inline struct px_ml_val *px_ml_v(struct px_ml_plan *p, int id)
{
	return &p->m->vals[id];
}

/* Follow aliases to the value that owns storage. */
int px_ml_root(const struct px_ml_model *m, int id);
/* Constant data of value id (through aliases), or NULL. */
void *px_ml_cdata(const struct px_ml_model *m, int id);

/* Value of input i of node n; PX_EINVAL naming the node if missing. */
int px_ml_in(struct px_ml_plan *p, const struct px_ml_node *n, int i, int *id);
/* Require exactly (or at least, when atleast) k inputs. */
int px_ml_want_inputs(struct px_ml_plan *p, const struct px_ml_node *n, int k,
		      bool atleast);

/* New plain value with the given shape; checks element limits. */
int px_ml_val_new(struct px_ml_plan *p, int node, enum px_ml_dtype dt,
		  int rank, const int64_t *dims, int *id);
/* New dnnl-layout value (4-D TF shape NHWC, md over NCHW dims). */
int px_ml_val_new_md(struct px_ml_plan *p, int node, const int64_t *nhwc,
		     const dnnl_memory_desc_t *md, int *id);
/* New value sharing src's storage with a different shape (same nelem). */
int px_ml_val_alias(struct px_ml_plan *p, int node, int src, int rank,
		    const int64_t *dims, int *id);

/* A plain version of value id (inserting a reorder for dnnl layouts). */
int px_ml_plain(struct px_ml_plan *p, int node, int id, int *out);
/* The NCHW-dims memory descriptor of a 4-D f32 value as it is stored. */
int px_ml_md_of(struct px_ml_plan *p, int id, dnnl_memory_desc_t *md);
/* A version of 4-D value id stored as md (inserting a reorder if needed). */
int px_ml_to_md(struct px_ml_plan *p, int node, int id,
		const dnnl_memory_desc_t *md, int *out);
/* Reorder constant value id (plain, described by src) into md, returning a
 * new constant value. */
int px_ml_const_reorder(struct px_ml_plan *p, int node, int id,
			const dnnl_memory_desc_t *src,
			const dnnl_memory_desc_t *md, int *out);

/* Append a step (copied; takes ownership of in and params). A step whose
 * kernel is plain and whose inputs are all constant is run now and its
 * outputs become constants (folding). */
int px_ml_emit(struct px_ml_plan *p, struct px_ml_step *s);
/* Build a oneDNN step from a primitive descriptor (takes ownership of pd
 * in all cases). */
int px_ml_emit_dnnl(struct px_ml_plan *p, int node, dnnl_primitive_desc_t pd,
		    const struct px_ml_arg *args, int nargs);

/* Set the calling thread's OpenMP thread count to m's; returns the old
 * count for px_ml_omp_leave. */
int px_ml_omp_enter(const struct px_ml_model *m);
void px_ml_omp_leave(const struct px_ml_model *m, int saved);

/* The kernel that runs oneDNN steps. */
int px_ml_run_dnnl(const struct px_ml_step *s, struct px_ml_exec *x);

/* Plan the whole model (after model.c built nodes and weights). */
int px_ml_plan_model(struct px_ml_model *m, struct px_errbuf *eb);

/* Account for the arithmetic of a step; PX_ELIMIT past the limit. */
int px_ml_add_flops(struct px_ml_plan *p, const struct px_ml_node *n,
		    double flops);

/* Error helper: message prefixed with the node's op and name. */
int px_ml_node_err(struct px_ml_plan *p, const struct px_ml_node *n, int rc,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Name of a dnnl status, for messages. */
const char *px_ml_dnnl_str(dnnl_status_t st);

/* Checked size arithmetic: false on overflow. */
static inline bool px_ml_mul(size_t a, size_t b, size_t *r)
{
	return !__builtin_mul_overflow(a, b, r);
}
static inline bool px_ml_add(size_t a, size_t b, size_t *r)
{
	return !__builtin_add_overflow(a, b, r);
}

/* --- attributes in TF.js JSON encoding (attr.c) --- */

/* attr[name].s, base64-decoded into out (NUL-terminated); PX_ENOTFOUND
 * when absent, PX_EINVAL when malformed or longer than cap-1. */
int px_ml_attr_str(const json_t *attr, const char *name, char *out,
		   size_t cap);
/* attr[name].i; def when absent. */
int px_ml_attr_int(const json_t *attr, const char *name, int64_t def,
		   int64_t *out);
/* attr[name].f; def when absent. */
int px_ml_attr_float(const json_t *attr, const char *name, double def,
		     double *out);
/* attr[name].b; def when absent. */
int px_ml_attr_bool(const json_t *attr, const char *name, bool def, bool *out);
/* attr[name].list.i into out (at most max); *n = count (0 if absent). */
int px_ml_attr_ints(const json_t *attr, const char *name, int64_t *out,
		    int max, int *n);
/* attr[name].list.s, each base64-decoded into out[i] (cap bytes each). */
int px_ml_attr_strs(const json_t *attr, const char *name, char (*out)[32],
		    int max, int *n);
/* attr[name].shape: rank (-1 for unknown rank) and dims. */
int px_ml_attr_shape(const json_t *attr, const char *name, int *rank,
		     int64_t *dims);
/* attr[name].type as a dtype; PX_ENOTFOUND when absent, PX_EUNSUPPORTED
 * for dtypes the engine has no use for. */
int px_ml_attr_type(const json_t *attr, const char *name,
		    enum px_ml_dtype *out);

/* A JSON integer or a string holding one (TF.js writes int64 as strings). */
int px_ml_json_int(const json_t *j, int64_t *out);
/* A JSON number, or "NaN"/"Infinity"/"-Infinity". */
int px_ml_json_num(const json_t *j, double *out);
/* Decode standard base64 (padding optional); PX_EINVAL if malformed. */
int px_ml_base64(const char *in, size_t n, unsigned char *out, size_t cap,
		 size_t *len);

/*
 * Memory for decoded weights. Large blocks are mapped directly so that the
 * ones planning drops (the TF-layout copies of reordered weights) go back
 * to the system instead of pinning the heap: *mapped says which it was.
 */
void *px_ml_alloc_const(size_t n, bool *mapped);
void px_ml_free_const(void *p, size_t n, bool mapped);

/* IEEE half to float, exactly. */
float px_ml_half(uint16_t h);

#endif
