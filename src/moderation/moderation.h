/*
 * moderation.h - classify every upload and apply the policy to it.
 *
 * Owns the classifier model (shared, read-only), a pool of execution
 * contexts (one per concurrent caller), the parsed policy, the background
 * thread that works off the durable classification jobs in async mode, and
 * the webhook sender. Callers: the upload path (sync mode), the review API,
 * and `pictor classify`.
 */
#ifndef PX_MODERATION_H
#define PX_MODERATION_H

#include "catalog/catalog.h"
#include "image/image.h"
#include "moderation/policy.h"

enum px_preprocess {
	PX_PREPROCESS_DEFAULT = 0, /* shrink-on-load + antialiased resize */
	PX_PREPROCESS_NSFWJS,      /* nsfwjs.classify(): aligned bilinear */
};

struct px_moderation_opts {
	const char *models_dir;
	const char *policy; /* rules text; NULL: px_policy_default */
	enum px_preprocess preprocess;
	int contexts;        /* concurrent classifications */
	int max_frames;      /* frames classified in full; beyond: a sample */
	bool async;          /* classify in the background */
	bool refuse_blocked; /* refuse mode: a background block deletes the
				original and keeps a tombstone record */
	const char *webhook_url, *webhook_secret; /* both or neither */
	long webhook_timeout; /* seconds per POST; 0: 10 */
	int webhook_attempts; /* before a dead letter; 0: 12 */
	int reclassify_share; /* percent of one core a reclassify job may
				 use; 0: 50 */
	struct px_image_limits lim;
};

struct px_moderation;
struct policy_ver;

/* A classification: scores by class, verdict, deciding rule, and the JSON
 * object kept on the record (owned; free with free()). */
struct px_mod_result {
	float scores[8]; /* per class, the maximum over the frames checked */
	enum px_verdict verdict;
	const char *rule; /* points into the policy */
	char *json;
	int frames_total, frames_checked;
	int frame;               /* the frame that decided */
	enum px_verdict frame_verdict; /* that frame's verdict on its own */
	int max_frame[8];        /* per class, the frame of the maximum */
	const struct policy_ver *pol; /* the policy applied (internal) */
};

/* Load the model and parse the policy. Fails (naming `make models` and
 * the way to turn moderation off) when the model cannot be loaded. */
int px_moderation_new(const struct px_moderation_opts *o,
		      struct px_moderation **out, struct px_errbuf *eb);
void px_moderation_free(struct px_moderation *m); /* accepts NULL */

struct px_metrics;
struct px_metric;

/* The verdict counters the application registered (may be NULL). */
struct px_mod_metrics {
	struct px_metric *classified, *flagged, *blocked;
};

/* Start the async job runner and the webhook sender over cat; register
 * the queue and outbox gauges on reg (may be NULL) and count verdicts of
 * the background runner on mx (may be NULL). */
int px_moderation_start(struct px_moderation *m, struct px_catalog *cat,
			struct px_metrics *reg, const struct px_mod_metrics *mx,
			struct px_errbuf *eb);

/* Count one verdict on the counters given to px_moderation_start (the
 * upload path and the background runner alike). Accepts NULL. */
void px_moderation_count(struct px_moderation *m, enum px_verdict v);

/*
 * Classify encoded image bytes and apply the policy. Animated and
 * multi-page images are classified frame by frame: every frame up to
 * o->max_frames, beyond that half an even sample (first and last frame
 * included) and half the frames that differ most from the one before.
 * The scores are the per-class maximum over those frames; res->frame
 * names the frame that decided. The record's moderation object carries
 * "frame" and "frames": {"total", "checked", "complete"}.
 */
int px_moderation_classify(struct px_moderation *m, const void *data,
			   size_t n, struct px_mod_result *res,
			   struct px_errbuf *eb);

/* An outbox value for an automatic decision on rec (owned; free()).
 * NULL when the verdict needs no event (approve) or there is no webhook. */
char *px_moderation_event(struct px_moderation *m,
			  const struct px_image_rec *rec,
			  const struct px_mod_result *res);

/* Wrap an event body (taken) for the outbox; NULL without a webhook. */
struct json_t;
char *px_moderation_wrap(struct px_moderation *m, struct json_t *body);

/* Pick at most max of total frames as described above, given change[i]
 * (how much frame i differs from i - 1; may be NULL when total <= max).
 * idx receives ascending frame numbers; returns their count or
 * PX_ENOMEM. */
int px_moderation_frames_select(const double *change, int total, int max,
				int *idx);

/* False when rec's verdict did not look at every frame: delivery then
 * serves the first frame only (always checked), never the animation. */
bool px_moderation_frames_covered(const struct px_image_rec *rec);

/*
 * Apply a remembered review of these exact bytes (px_catalog_content_
 * decision) to a classification: a block becomes verdict block, an
 * approve verdict approve, both with rule "content_decision" and a
 * "decision" object (image, decision, by, at) on res->json. Safety
 * first: a hash-list match already folded into res (its "hashlist"
 * object) is not lowered by a remembered approve; the decision is still
 * recorded beside it. Returns 0 whether or not there was one.
 */
int px_moderation_remembered(struct px_moderation *m, struct px_catalog *cat,
			     const void *data, size_t n,
			     struct px_mod_result *res, struct px_errbuf *eb);

/* The face detector the job runner and reclassify jobs use for the
 * images they judge (borrowed; NULL: none). Before px_moderation_start. */
struct px_faces;
void px_moderation_set_faces(struct px_moderation *m, struct px_faces *f);
struct px_faces *px_moderation_faces(struct px_moderation *m);
/* The faces of image id's bytes into out; a failure is logged and
 * leaves out unknown (a verdict never waits on faces). */
void px_moderation_detect_faces(struct px_moderation *m, const char *id,
				const void *data, size_t n,
				struct px_rec_faces *out);

/* Wake the job runner (after an async upload). Accepts NULL. */
void px_moderation_kick(struct px_moderation *m);

/* Test-only: wait while the file named by PICTOR_TEST_JOB_GATE exists
 * (or until shutdown); returns at once without it. Claimed background
 * work (a classification job, a re-classification run) waits here so a
 * test decides when a node is busy with it. */
void px_moderation_test_gate(struct px_moderation *m);

/* A reviewer's decision, for px_moderation_review. */
struct px_review {
	const char *action; /* "approve" or "block" */
	const char *note;   /* may be NULL */
	const struct px_actor *who; /* who->name is what the record shows */
	const char *expect_status;  /* the status the reviewer saw, or NULL */
	const char *expect_etag;    /* the record ETag they saw, or NULL */
};

/*
 * Apply a review: appends the record's audit entry (who, when, before,
 * after, note), the audit log entry and a "review" webhook event,
 * atomically. A decision on a stale view (expect_status or expect_etag
 * no longer matching, or a concurrent decision) changes nothing and
 * fails with PX_EBUSY, code "conflict". rec receives the updated record.
 */
int px_moderation_review(struct px_moderation *m, struct px_catalog *cat,
			 const char *id, const struct px_review *rv,
			 struct px_image_rec *rec, struct px_errbuf *eb);

/*
 * Replace the policy with text (NULL: the default) if it parses; else keep
 * the current one and fail with the parser's message. Verdicts carry the
 * version of the policy that made them ("policy_version": "p-<12 hex of
 * SHA-256(text)>"). Safe while classifications run.
 */
int px_moderation_reload(struct px_moderation *m, const char *text,
			 struct px_errbuf *eb);

/* The version of policy text (NULL: the default), "p-" and 12 hex
 * digits of its SHA-256, into out. */
int px_moderation_policy_version(const char *text, char out[24]);

/* The active policy: its text, version and load time (borrowed, valid
 * until px_moderation_free). Returns the number of rules. */
int px_moderation_policy_info(struct px_moderation *m, const char **text,
			      const char **version, int64_t *loaded_us);

/* Class names in model output order, lowercase ("drawing", ...). */
const char *const *px_moderation_classes(int *n);
/* "nsfwjs-mobilenet-v2-mid@4.4.0". */
const char *px_moderation_model_name(void);
/* "approve" etc. for a policy text, for `pictor classify`. */
const struct px_policy *px_moderation_policy(struct px_moderation *m);

#endif
