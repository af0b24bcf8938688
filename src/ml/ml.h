/*
 * ml.h - Pictor's on-board inference engine for TensorFlow.js graph models.
 *
 * A model directory holds model.json (the graph and its weights manifest)
 * and the weight shards it names. Loading parses and checks every byte
 * (all of it is untrusted), decodes quantised weights, plans the graph once
 * (topological order, constant folding, oneDNN primitives with weights
 * reordered to the layouts oneDNN picks, activation buffers packed into one
 * arena) and leaves an immutable struct px_ml_model.
 *
 * Threading: a loaded model is read-only and may be shared by any number of
 * threads. Each worker owns a struct px_ml_ctx (activation arena, oneDNN
 * stream, scratchpad) and runs it on one thread at a time. Nothing in this
 * module keeps global mutable state. See docs/ML.md for the OpenMP policy.
 *
 * The engine runs batch 1: a placeholder dimension of -1 in the batch
 * position becomes 1.
 */
#ifndef PX_ML_H
#define PX_ML_H

#include "core/buf.h"

#define PX_ML_MAX_RANK 6

struct px_ml_model;
struct px_ml_ctx;

/* Limits applied while loading untrusted models. */
struct px_ml_opts {
	size_t max_json_bytes;   /* model.json size; default 32 MiB */
	size_t max_weight_bytes; /* decoded weights in memory; default 1 GiB */
	size_t max_arena_bytes;  /* activations of one context; default 1 GiB */
	int max_nodes;           /* graph nodes; default 20000 */
	double max_flops;        /* arithmetic of one run; default 1e12 */
	/* OpenMP threads each run uses inside oneDNN; default 1, which suits
	 * a server whose workers already fill the cores. Fixed at load:
	 * oneDNN sizes its work partitions when primitives are created. */
	int nthreads;
	/* Replaces unknown (-1) input dimensions other than the batch; 0 keeps
	 * the model's value. Needed only for models with free H/W. */
	int64_t input_dims[PX_ML_MAX_RANK];
};

/* Fill o with the defaults above. */
void px_ml_opts_init(struct px_ml_opts *o);

/*
 * Where weight shards come from. read() appends the whole shard named
 * path (a manifest path, not yet checked) to out, which carries the byte
 * limit; it returns 0 or a negative px_err with detail in eb.
 */
struct px_ml_shards {
	int (*read)(void *arg, const char *path, struct px_buf *out,
		    struct px_errbuf *eb);
	void *arg;
};

/*
 * Where the model called name is for models_dir, which is either a models
 * root (holding name/model.json) or the model's own directory (holding
 * model.json): that directory into dir. False when neither holds a
 * model.json (dir then names the root's subdirectory).
 */
bool px_ml_locate(const char *models_dir, const char *name, char *dir,
		  size_t n);

/*
 * Load dir/model.json and its shards (paths must be plain file names in
 * dir). opts may be NULL for defaults. On success *out holds a model with
 * one reference. Errors: PX_ENOTFOUND/PX_EIO (files), PX_EINVAL/
 * PX_ECORRUPT (malformed JSON, graph or weights), PX_EUNSUPPORTED (an
 * operator, attribute or dtype this engine does not run; eb names the
 * operator and the node), PX_ETOOBIG (a limit), PX_ENOMEM, PX_EINTERNAL
 * (oneDNN refused a primitive).
 */
int px_ml_model_load(const char *dir, const struct px_ml_opts *opts,
		     struct px_ml_model **out, struct px_errbuf *eb);

/*
 * The model called name for models_dir, found as px_ml_locate finds it
 * (its directory into dir, of size n) and loaded with default options.
 * PX_ENOTFOUND when neither place holds one, eb naming what ("face
 * model") and both places looked; PX_EINVAL when models_dir is too long
 * for dir; otherwise px_ml_model_load's errors.
 */
int px_ml_model_find(const char *models_dir, const char *name,
		     const char *what, char *dir, size_t n,
		     struct px_ml_model **out, struct px_errbuf *eb);

/*
 * As px_ml_model_load, from memory: json is model.json; weights is the
 * concatenation of every weight group's shards in manifest order (the
 * shard boundaries do not matter). Both are borrowed for the call only.
 */
int px_ml_model_load_mem(const void *json, size_t njson, const void *weights,
			 size_t nweights, const struct px_ml_opts *opts,
			 struct px_ml_model **out, struct px_errbuf *eb);

/* As px_ml_model_load, with shards from a caller-supplied reader. */
int px_ml_model_load_json(const void *json, size_t njson,
			  const struct px_ml_shards *shards,
			  const struct px_ml_opts *opts,
			  struct px_ml_model **out, struct px_errbuf *eb);

/* Take another reference; returns m. */
struct px_ml_model *px_ml_model_ref(struct px_ml_model *m);

/* Drop a reference; the last one frees the model. Accepts NULL. */
void px_ml_model_free(struct px_ml_model *m);

/* Shape of the (single) input, batch included; returns the rank. */
int px_ml_model_input_shape(const struct px_ml_model *m,
			    int64_t dims[PX_ML_MAX_RANK]);
/* Number of float elements of the input. */
size_t px_ml_model_input_size(const struct px_ml_model *m);

/* Number of outputs (signature order, else graph sinks in node order). */
int px_ml_model_noutputs(const struct px_ml_model *m);
/* Shape of output i; returns the rank, or PX_EINVAL for a bad i. */
int px_ml_model_output_shape(const struct px_ml_model *m, int i,
			     int64_t dims[PX_ML_MAX_RANK]);
/* Number of float elements of output i (0 for a bad i). */
size_t px_ml_model_output_size(const struct px_ml_model *m, int i);

/* Bytes the weights manifest describes once decoded to their dtype (what
 * a float32 model of the same weights would hold). */
size_t px_ml_model_weight_bytes(const struct px_ml_model *m);
/* Bytes the loaded model keeps: reordered weights and folded constants. */
size_t px_ml_model_resident_bytes(const struct px_ml_model *m);
/* Floating-point operations of one run (convolutions and matmuls, a
 * multiply-add counting two). */
double px_ml_model_flops(const struct px_ml_model *m);
/* Number of planned execution steps (primitives and kernels). */
int px_ml_model_nsteps(const struct px_ml_model *m);
/* Bytes of the activation arena each context allocates. */
size_t px_ml_model_arena_bytes(const struct px_ml_model *m);

/*
 * A worker's execution context for m (which it references): activation
 * arena, scratchpad, oneDNN stream. Use it from one thread at a time.
 */
int px_ml_ctx_new(struct px_ml_model *m, struct px_ml_ctx **out,
		  struct px_errbuf *eb);
/* Accepts NULL. */
void px_ml_ctx_free(struct px_ml_ctx *c);

/*
 * A fixed set of max(n, 1) contexts for m (ctxpool.c), for a model
 * several workers run at once. px_ml_ctxpool_new: PX_ENOMEM or
 * px_ml_ctx_new's errors. take lends a context, waiting while all are
 * lent; give returns it. free (accepts NULL) wants every context given
 * back. Each context holds its own reference to m.
 */
struct px_ml_ctxpool;
int px_ml_ctxpool_new(struct px_ml_model *m, int n,
		      struct px_ml_ctxpool **out, struct px_errbuf *eb);
void px_ml_ctxpool_free(struct px_ml_ctxpool *p);
struct px_ml_ctx *px_ml_ctxpool_take(struct px_ml_ctxpool *p);
void px_ml_ctxpool_give(struct px_ml_ctxpool *p, struct px_ml_ctx *c);

/*
 * Run the model: input holds n floats (exactly px_ml_model_input_size, in
 * the model's layout, e.g. NHWC), output receives output 0 (nout must be
 * its exact size). Not reentrant on one context. PX_EINVAL on a size
 * mismatch, PX_EINTERNAL if oneDNN fails.
 */
int px_ml_run(struct px_ml_ctx *c, const float *input, size_t n,
	      float *output, size_t nout, struct px_errbuf *eb);

/* Output i of the last px_ml_run, valid until the next run; *n receives its
 * size. NULL for a bad i. */
const float *px_ml_ctx_output(const struct px_ml_ctx *c, int i, size_t *n);

/*
 * Benchmark: nworkers threads, each with its own context, run m
 * `iterations` times each on a deterministic input (after two warm-up
 * runs). *ms_per_run receives wall time divided by all runs done, i.e.
 * the throughput cost of one image (with nworkers = 1, the latency).
 */
int px_ml_bench(struct px_ml_model *m, int iterations, int nworkers,
		double *ms_per_run, struct px_errbuf *eb);

/* The version of the oneDNN library the engine runs on, e.g. "2.6.3". */
const char *px_ml_version(void);

#endif
