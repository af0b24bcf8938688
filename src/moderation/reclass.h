/*
 * reclass.h - re-classification: judge an existing collection again under
 * the model and policy in force.
 *
 * A job (its durable state: catalog/reclass.h) is worked off by one
 * background thread of the moderation module, one image at a time, oldest
 * first. Each image is judged as an upload is (every frame, the hash
 * lists, decisions remembered by content); a changed status is written
 * with px_catalog_moderate like any verdict, so it is audited and sent to
 * the webhook, and the job's cursor moves in that same transaction. A
 * person's decision stands: reviewed images get the new scores, not a new
 * status. The thread works at most --reclassify-share percent of the
 * time, sleeping in proportion to the work done, so uploads and delivery
 * keep the cores.
 */
#ifndef PX_MOD_RECLASS_H
#define PX_MOD_RECLASS_H

#include "catalog/reclass.h"
#include "moderation/moderation.h"

/* The longest a job yields to busy workers before its next image. */
#define PX_RECLASS_YIELD_MAX_US 5000000

struct json_t;
struct px_metrics;
struct px_reclassifier;

/*
 * Parse a request body (a JSON object) into f: "all": true, or any of
 * "status" (approved, flagged, blocked), "uploaded_before" and
 * "uploaded_after" (RFC 3339 UTC or unix seconds), "model" (a model name,
 * "none": never classified), "policy_version", "stale" (true: only
 * records judged by another model or policy version). At least one field
 * is required. PX_EINVAL with code "invalid_request" naming the field.
 */
int px_reclass_parse(const char *body, size_t n, struct px_reclass_filter *f,
		     struct px_errbuf *eb);

/* A job as the API shows it (a new reference; NULL when out of memory). */
struct json_t *px_reclass_job_json(const struct px_reclass_job *j);

/* What the application adds to a judgement and wants to hear of. */
struct px_reclass_hooks {
	/* Fold further verdicts (the hash lists) into res, and put the
	 * image's PDQ hash in hashed->pdq and pdq_quality (left empty when
	 * none can be made); may be NULL. Used by re-classification (which
	 * also fills in a missing hash) and by the async job runner. */
	int (*judge)(void *ctx, const void *data, size_t n,
		     struct px_image_rec *hashed, struct px_mod_result *res,
		     struct px_errbuf *eb);
	/* rec's status changed (drop cached variants); may be NULL. */
	void (*changed)(void *ctx, const struct px_image_rec *rec);
	/* True while requests are waiting for or using the image workers:
	 * the job then holds off (up to PX_RECLASS_YIELD_MAX_US per image,
	 * so a server that is never idle still sees its job finish); may be
	 * NULL. */
	bool (*busy)(void *ctx);
	void *ctx;
};

/* Start the thread over cat (internal to the moderation module; it waits
 * for px_reclass_attach before its first job). share: percent of one
 * core, 1-100. Counts outcomes in pictor_reclassify_images_total. */
int px_reclassifier_start(struct px_moderation *m, struct px_catalog *cat,
			  int share, struct px_metrics *reg,
			  struct px_reclassifier **out, struct px_errbuf *eb);
void px_reclassifier_stop(struct px_reclassifier *r); /* accepts NULL */
void px_reclassifier_kick(struct px_reclassifier *r); /* accepts NULL */
void px_reclassifier_hooks(struct px_reclassifier *r,
			   const struct px_reclass_hooks *h);

/* Set the hooks and let jobs run (a job left running by a restart
 * resumes now). Accepts m == NULL. */
void px_reclass_attach(struct px_moderation *m, const struct px_reclass_hooks *h);

/* Wake the thread (after a job was created). Accepts NULL. */
void px_reclass_kick(struct px_moderation *m);

/* `pictor reclassify` (argv after "reclassify"); the exit status. */
int px_reclass_cli(int argc, char **argv);

#endif
