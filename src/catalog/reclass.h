/*
 * reclass.h - re-classification jobs: their durable state in the catalog.
 *
 * A job re-judges a collection under the current model and policy. Its
 * state lives in the metadata store so that it survives a restart and
 * resumes at the image after the last one it finished:
 *
 *   rcj/<job id>  -> the job (JSON): filter, state, cursor, counts, who
 *                    started it. Job ids are "rc_<16 hex µs of creation>",
 *                    so a reverse scan lists the newest first.
 *
 * The cursor is the time-index position ("<16 hex µs>/<image id>", the
 * tail of an ix/t/ key) of the last image handled; images are visited
 * oldest first. An image's outcome and the cursor move past it are
 * recorded in one transaction: when the outcome changes the record, in
 * the record's own px_catalog_moderate() transaction (px_reclass_hook),
 * so a crash never judges an image twice nor skips one. Only this file
 * reads or writes rcj/ keys.
 */
#ifndef PX_CATALOG_RECLASS_H
#define PX_CATALOG_RECLASS_H

#include "catalog/catalog.h"

#define PX_RECLASS_ID_MAX 24
#define PX_RECLASS_CURSOR_MAX (16 + 1 + PX_ID_MAX)

/* Which images a job re-judges. Empty strings and zero times match all. */
struct px_reclass_filter {
	char status[16];         /* "approved", "flagged" or "blocked" */
	int64_t before_us;       /* uploaded strictly before */
	int64_t after_us;        /* uploaded at or after */
	char model[64];          /* classified by this model ("none": never) */
	char policy_version[24]; /* judged under this policy version */
	bool stale; /* only records whose model or policy version is not the
		       current one (never classified included) */
	bool pdq_missing; /* only records without a PDQ hash (stored before
			     Pictor hashed uploads); judging them gives them
			     one */
	bool faces; /* only records never looked at for faces (older than
		       face detection, or stored without the face model) */
};

/* What happened to one image. */
enum px_reclass_outcome {
	PX_RC_UNMATCHED = 0, /* outside the filter */
	PX_RC_SKIPPED,       /* pending (classified anyway) or a tombstone */
	PX_RC_CHANGED,       /* the status changed */
	PX_RC_UNCHANGED,     /* re-judged, same status */
	PX_RC_KEPT,          /* a person decided: scores updated, status kept */
	PX_RC_FAILED,        /* could not be classified; left as it was */
	PX_RC_NOUTCOMES
};

/* "unmatched", "skipped", ... (the metrics label and the JSON key). */
const char *px_reclass_outcome_name(enum px_reclass_outcome o);

enum px_reclass_state {
	PX_RCJ_RUNNING = 0,
	PX_RCJ_DONE,
	PX_RCJ_CANCELED,
};
const char *px_reclass_state_name(enum px_reclass_state s);

struct px_reclass_job {
	char id[PX_RECLASS_ID_MAX + 1];
	enum px_reclass_state state;
	struct px_reclass_filter f;
	struct px_actor by;
	int64_t created_us, updated_us, finished_us; /* finished: 0 while running */
	char model[64], policy_version[24]; /* in force when it started */
	char cursor[PX_RECLASS_CURSOR_MAX + 1]; /* "" before the first image */
	uint64_t total;   /* images in its time range when it started */
	uint64_t scanned; /* images visited, every outcome */
	uint64_t n[PX_RC_NOUTCOMES];
};

/*
 * True if rec falls under f. model and policy_version are the ones in
 * force (for f->stale). Pure; the time range is the caller's (the job's
 * scan covers only its range).
 */
bool px_reclass_match(const struct px_reclass_filter *f,
		      const struct px_image_rec *rec, const char *model,
		      const char *policy_version);

/*
 * Start a job over the images uploaded in f's range (and before now),
 * with the model and policy version in force. One job runs at a time: if
 * one is running, PX_EBUSY with code "conflict" and that job in *job.
 * Appends a "reclassify" audit entry (after: the filter). job receives
 * the new job.
 */
int px_reclass_create(struct px_catalog *c, const struct px_reclass_filter *f,
		      const char *model, const char *policy_version,
		      const struct px_actor *who, struct px_reclass_job *job,
		      struct px_errbuf *eb);

/* One job. PX_ENOTFOUND ("not_found"). */
int px_reclass_get(struct px_catalog *c, const char *id,
		   struct px_reclass_job *job, struct px_errbuf *eb);

/* The running job, if any: PX_ENOTFOUND when none runs. */
int px_reclass_running(struct px_catalog *c, struct px_reclass_job *job,
		       struct px_errbuf *eb);

/* Jobs newest first, at most limit; fn nonzero stops. */
int px_reclass_list(struct px_catalog *c, int limit,
		    int (*fn)(void *ctx, const struct px_reclass_job *j),
		    void *ctx, struct px_errbuf *eb);

/* Stop a running job where it is (state "canceled", audited). A job that
 * already ended: PX_EBUSY "conflict". job receives its state. */
int px_reclass_cancel(struct px_catalog *c, const char *id,
		      const struct px_actor *who, struct px_reclass_job *job,
		      struct px_errbuf *eb);

/*
 * Claim the run of job job_id for this node when several nodes share the
 * store (lease.h: lease/rcj/<id>, renewed while held, taken over once its
 * holder stopped renewing for a whole lease): 0 when it is this node's
 * (or leases are off), PX_EBUSY ("claimed") when another node works it,
 * PX_ENOTFOUND when it is no longer running. The job's end (done or
 * canceled, on any node) removes the claim. Steps stay safe without it
 * (the cursor check refuses a second node's step); the claim keeps the
 * other nodes from judging the same images for nothing.
 */
int px_reclass_claim(struct px_catalog *c, const char *job_id,
		     struct px_errbuf *eb);

/* The next at most max images of a running job after its cursor, in its
 * range: their cursor positions into pos[i] (ids follow the 17th byte).
 * Returns the count; 0 when the job has seen every image. */
int px_reclass_next(struct px_catalog *c, const struct px_reclass_job *job,
		    char (*pos)[PX_RECLASS_CURSOR_MAX + 1], int max,
		    struct px_errbuf *eb);

/*
 * Record one image's outcome and move the cursor from prev to pos, in its
 * own transaction (outcomes that change no record). PX_EBUSY ("conflict")
 * when the job is no longer running or its cursor is not at prev (someone
 * else moved it).
 */
int px_reclass_step(struct px_catalog *c, const char *job_id,
		    const char *prev, const char *pos,
		    enum px_reclass_outcome o, struct px_errbuf *eb);

/* The same step made inside another transaction: pass a struct
 * px_reclass_stepc as the px_decision's hook context and px_reclass_hook
 * as its hook, so the record change and the step commit together. */
struct px_reclass_stepc {
	const char *job_id, *prev, *pos;
	enum px_reclass_outcome o;
};
int px_reclass_hook(struct px_kv_txn *txn, void *stepc, struct px_errbuf *eb);

/* End a running job that has seen every image: "done", with a
 * "reclassify" audit entry carrying the counts. */
int px_reclass_finish(struct px_catalog *c, const char *job_id,
		      struct px_errbuf *eb);

#endif
