/*
 * reclass.c - the re-classification thread and the request that starts a
 * job (reclass.h). The job's state is the catalog's (catalog/reclass.c);
 * this file only judges images and reports each outcome there.
 */
#include "moderation/reclass.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/timefmt.h"

#include <jansson.h>
#include <pthread.h>
#include <time.h>

/* Images read ahead of the cursor per pass. */
#define BATCH 16

struct px_reclassifier {
	struct px_moderation *m;
	struct px_catalog *cat;
	int share; /* percent of one core */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping, kicked, attached;
	struct px_reclass_hooks hooks;
	struct px_metric *outcomes;
};

/* --- the request --- */

static int time_field(json_t *v, const char *name, int64_t *us,
		      struct px_errbuf *eb)
{
	if (json_is_integer(v) && json_integer_value(v) > 0 &&
	    json_integer_value(v) < 100000000000LL) {
		*us = (int64_t)json_integer_value(v) * 1000000;
		return 0;
	}
	if (json_is_string(v) && px_time_parse(json_string_value(v), us) == 0 &&
	    *us > 0)
		return 0;
	return px_errc(eb, PX_EINVAL, "invalid_request",
		       "field \"%s\" must be an RFC 3339 UTC time (2026-01-02T03:04:05Z) or unix seconds",
		       name);
}

static int string_field(json_t *v, const char *name, char *out, size_t n,
			struct px_errbuf *eb)
{
	if (!json_is_string(v) || !*json_string_value(v) ||
	    strlen(json_string_value(v)) >= n)
		return px_errc(eb, PX_EINVAL, "invalid_request",
			       "field \"%s\" must be a string of 1 to %zu bytes",
			       name, n - 1);
	px_strlcpy(out, json_string_value(v), n);
	return 0;
}

int px_reclass_parse(const char *body, size_t n, struct px_reclass_filter *f,
		     struct px_errbuf *eb)
{
	static const char usage[] =
		"the body must be a JSON object: {\"all\": true} or any of status, "
		"uploaded_before, uploaded_after, model, policy_version, stale, pdq_missing, faces";
	json_t *o, *v;
	const char *key;
	int rc = 0, nfields = 0;

	memset(f, 0, sizeof(*f));
	o = json_loadb(body, n, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return px_errc(eb, PX_EINVAL, "invalid_request", "%s", usage);
	}
	json_object_foreach(o, key, v) {
		nfields++;
		if (!strcmp(key, "all")) {
			if (!json_is_true(v))
				rc = px_errc(eb, PX_EINVAL, "invalid_request",
					     "field \"all\" must be true (or leave it out and filter)");
		} else if (!strcmp(key, "status")) {
			rc = string_field(v, key, f->status, sizeof(f->status), eb);
			if (!rc && strcmp(f->status, "approved") &&
			    strcmp(f->status, "flagged") &&
			    strcmp(f->status, "blocked"))
				rc = px_errc(eb, PX_EINVAL, "invalid_request",
					     "field \"status\" must be approved, flagged or blocked (pending images are classified anyway)");
		} else if (!strcmp(key, "uploaded_before")) {
			rc = time_field(v, key, &f->before_us, eb);
		} else if (!strcmp(key, "uploaded_after")) {
			rc = time_field(v, key, &f->after_us, eb);
		} else if (!strcmp(key, "model")) {
			rc = string_field(v, key, f->model, sizeof(f->model), eb);
		} else if (!strcmp(key, "policy_version")) {
			rc = string_field(v, key, f->policy_version,
					  sizeof(f->policy_version), eb);
		} else if (!strcmp(key, "stale")) {
			if (!json_is_boolean(v))
				rc = px_errc(eb, PX_EINVAL, "invalid_request",
					     "field \"stale\" must be true or false");
			f->stale = json_is_true(v);
		} else if (!strcmp(key, "pdq_missing")) {
			if (!json_is_boolean(v))
				rc = px_errc(eb, PX_EINVAL, "invalid_request",
					     "field \"pdq_missing\" must be true or false");
			f->pdq_missing = json_is_true(v);
		} else if (!strcmp(key, "faces")) {
			if (!json_is_boolean(v))
				rc = px_errc(eb, PX_EINVAL, "invalid_request",
					     "field \"faces\" must be true or false");
			f->faces = json_is_true(v);
		} else {
			rc = px_errc(eb, PX_EINVAL, "invalid_request",
				     "unknown field \"%.64s\" (all, status, uploaded_before, uploaded_after, model, policy_version, stale, pdq_missing, faces)",
				     key);
		}
		if (rc)
			break;
	}
	json_decref(o);
	if (rc)
		return rc;
	if (!nfields)
		return px_errc(eb, PX_EINVAL, "invalid_request",
			       "say which images: {\"all\": true} or a filter (status, uploaded_before, uploaded_after, model, policy_version, stale, pdq_missing, faces)");
	if (f->before_us && f->after_us && f->after_us >= f->before_us)
		return px_errc(eb, PX_EINVAL, "invalid_request",
			       "field \"uploaded_after\" must be before \"uploaded_before\"");
	return 0;
}

static json_t *time_or_null(int64_t us)
{
	char t[32];

	if (!us)
		return json_null();
	px_time_format(us, t);
	return json_string(t);
}

static json_t *str_or_null(const char *s)
{
	return *s ? json_string(s) : json_null();
}

json_t *px_reclass_job_json(const struct px_reclass_job *j)
{
	json_t *o, *n = json_object();
	uint64_t left = j->total > j->scanned ? j->total - j->scanned : 0;

	for (int i = 0; i < PX_RC_NOUTCOMES && n; i++)
		json_object_set_new(n, px_reclass_outcome_name(i),
				    json_integer((json_int_t)j->n[i]));
	if (j->state != PX_RCJ_RUNNING)
		left = 0;
	o = json_pack("{s:s,s:s,s:{s:o,s:o,s:o,s:o,s:o,s:b,s:b},s:{s:s,s:s},"
		      "s:o,s:o,s:o,s:s,s:s,s:{s:I,s:I,s:I},s:o}",
		      "id", j->id, "state", px_reclass_state_name(j->state),
		      "filter", "status", str_or_null(j->f.status),
		      "uploaded_before", time_or_null(j->f.before_us),
		      "uploaded_after", time_or_null(j->f.after_us), "model",
		      str_or_null(j->f.model), "policy_version",
		      str_or_null(j->f.policy_version), "stale", j->f.stale,
		      "pdq_missing", j->f.pdq_missing, "created_by", "id", j->by.id, "name", j->by.name,
		      "created", time_or_null(j->created_us), "updated",
		      time_or_null(j->updated_us), "finished",
		      time_or_null(j->finished_us), "model", j->model,
		      "policy_version", j->policy_version, "progress", "total",
		      (json_int_t)j->total, "scanned", (json_int_t)j->scanned,
		      "remaining", (json_int_t)left, "outcomes",
		      n ? n : json_object());
	if (o)
		json_object_set_new(json_object_get(o, "filter"), "faces",
				    json_boolean(j->f.faces));
	return o;
}

/* --- the thread --- */

static bool reviewed(const struct px_image_rec *rec)
{
	json_t *a = rec->audit ? json_loads(rec->audit, 0, NULL) : NULL;
	bool yes = json_array_size(a) > 0;

	json_decref(a);
	return yes;
}

/* The webhook event of a changed status (NULL without a webhook). */
static char *change_event(struct px_reclassifier *r, const char *job,
			  const struct px_image_rec *rec, const char *before,
			  const struct px_mod_result *res)
{
	char when[32];

	px_time_format(px_wall_us(), when);
	return px_moderation_wrap(
		r->m, json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:s,s:s}", "event",
				px_verdict_name(res->verdict), "id", rec->id,
				"status", px_verdict_status(res->verdict),
				"before", before, "rule", res->rule ? res->rule : "",
				"moderation", json_loads(res->json, 0, NULL),
				"reclassify", job, "at", when));
}

/*
 * Judge the image at pos (a cursor position) for job and record the
 * outcome, moving the cursor from prev. PX_EBUSY when the job was
 * canceled or the record changed under us (the image is tried again on
 * the next pass).
 */
static int judge_one(struct px_reclassifier *r, const struct px_reclass_job *job,
		     const char *prev, const char *pos,
		     enum px_reclass_outcome *outcome, struct px_errbuf *eb)
{
	const char *id = pos + 17, *model, *pver;
	struct px_reclass_stepc step = {job->id, prev, pos, PX_RC_SKIPPED};
	char etag[PX_REC_ETAG_MAX], before[16];
	struct px_errbuf ceb = {0};
	struct px_image_rec rec, out, hashed;
	struct px_mod_result res;
	struct px_rec_faces faces;
	struct px_buf blob;
	char *event = NULL;
	int64_t at;
	bool kept;
	int rc;

	memset(&rec, 0, sizeof(rec));
	memset(&out, 0, sizeof(out));
	memset(&hashed, 0, sizeof(hashed));
	memset(&res, 0, sizeof(res));
	px_buf_init(&blob, 0);
	px_moderation_policy_info(r->m, &(const char *){NULL}, &pver, &at);
	model = px_moderation_model_name();
	rc = px_catalog_get(r->cat, id, &rec, eb);
	if (rc == PX_ENOTFOUND)
		goto step; /* deleted since the job read ahead */
	if (rc)
		goto out;
	if (!px_reclass_match(&job->f, &rec, model, pver)) {
		step.o = PX_RC_UNMATCHED;
		goto step;
	}
	if (!strcmp(rec.status, "pending") || rec.original_deleted ||
	    (strcmp(rec.status, "approved") && strcmp(rec.status, "flagged") &&
	     strcmp(rec.status, "blocked")))
		goto step;
	/* A store that does not answer (an object store's outage) is not
	 * the image's fault: the job waits and tries the same image again. */
	rc = px_catalog_blob(r->cat, &rec, &blob, &ceb);
	if (rc && rc != PX_ENOTFOUND && rc != PX_ECORRUPT) {
		rc = px_errf(eb, PX_EIO, "image \"%s\": %s", id, ceb.msg);
		goto out;
	}
	/* An image that cannot be judged keeps its verdict: the job says
	 * so in its counts and the log names it. */
	step.o = PX_RC_FAILED;
	if (rc ||
	    (rc = px_moderation_classify(r->m, blob.data, blob.len, &res, &ceb)) ||
	    (r->hooks.judge &&
	     (rc = r->hooks.judge(r->hooks.ctx, blob.data, blob.len, &hashed,
				  &res, &ceb))) ||
	    (rc = px_moderation_remembered(r->m, r->cat, blob.data, blob.len,
					   &res, &ceb))) {
		px_logf(PX_LOG_WARN, "reclassify %s: image \"%s\" left as it was: %s",
			job->id, id, ceb.msg);
		goto step;
	}
	/* Faces are detected once: an image that has them keeps them. */
	memset(&faces, 0, sizeof(faces));
	if (!rec.faces.known)
		px_moderation_detect_faces(r->m, id, blob.data, blob.len, &faces);
	if ((rc = px_catalog_etag(&rec, etag)))
		goto out;
	px_strlcpy(before, rec.status, sizeof(before));
	kept = reviewed(&rec);
	if (kept)
		step.o = PX_RC_KEPT;
	else if (strcmp(before, px_verdict_status(res.verdict)))
		step.o = PX_RC_CHANGED;
	else
		step.o = PX_RC_UNCHANGED;
	if (step.o == PX_RC_CHANGED)
		event = change_event(r, job->id, &rec, before, &res);
	{
		struct px_decision d = {
			.expect_etag = etag,
			.status = kept ? before : px_verdict_status(res.verdict),
			.moderation = res.json, .event = event,
			.faces = &faces,
			.audit_if_changed = true, .hook = px_reclass_hook,
			.hook_ctx = &step};

		/* Images stored before PDQ existed get their hash here. */
		if (!rec.pdq[0] && hashed.pdq[0]) {
			d.pdq = hashed.pdq;
			d.pdq_quality = hashed.pdq_quality;
		}

		rc = px_catalog_moderate(r->cat, id, &d, &out, eb);
	}
	if (rc)
		goto out;
	*outcome = step.o;
	if (step.o == PX_RC_CHANGED) {
		if (event)
			px_moderation_kick(r->m);
		if (r->hooks.changed)
			r->hooks.changed(r->hooks.ctx, &out);
	}
	goto out;
step:
	*outcome = step.o;
	rc = px_reclass_step(r->cat, job->id, prev, pos, step.o, eb);
out:
	free(event);
	free(res.json);
	px_buf_release(&blob);
	px_image_rec_release(&rec);
	px_image_rec_release(&out);
	return rc;
}

/* Hold off while the application's workers have requests, polling every
 * 20 ms, at most PX_RECLASS_YIELD_MAX_US; false when stopping. */
static bool yield(struct px_reclassifier *r)
{
	int64_t until = px_mono_us() + PX_RECLASS_YIELD_MAX_US;
	struct timespec ts;
	bool go;

	pthread_mutex_lock(&r->lock);
	while (!r->stopping && r->hooks.busy && r->hooks.busy(r->hooks.ctx) &&
	       px_mono_us() < until) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&r->wake, &r->lock, &ts);
	}
	go = !r->stopping;
	pthread_mutex_unlock(&r->lock);
	return go;
}

/* Sleep so that work took at most share percent of the time; false when
 * stopping. */
static bool throttle(struct px_reclassifier *r, int64_t work_us)
{
	/* Capped, so one slow image does not park the job for minutes. */
	int64_t idle = PX_MIN(work_us * (100 - r->share) / r->share,
			      (int64_t)30 * 1000000);
	struct timespec until;
	bool go;

	pthread_mutex_lock(&r->lock);
	if (idle > 0 && !r->stopping) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += idle / 1000000;
		until.tv_nsec += (long)(idle % 1000000) * 1000;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!r->stopping &&
		       pthread_cond_timedwait(&r->wake, &r->lock, &until) == 0)
			;
	}
	go = !r->stopping;
	pthread_mutex_unlock(&r->lock);
	return go;
}

/* One pass: the next images of the running job. False when there is
 * nothing to do. */
static bool pass(struct px_reclassifier *r)
{
	char (*pos)[PX_RECLASS_CURSOR_MAX + 1] = NULL;
	struct px_errbuf eb = {0};
	struct px_reclass_job job;
	char prev[PX_RECLASS_CURSOR_MAX + 1];
	bool more = false;
	int n, rc;

	if (px_reclass_running(r->cat, &job, NULL))
		return false;
	/* One node works a job at a time (its claim); the others look
	 * again on the timer and take over when the claim expires. */
	if ((rc = px_reclass_claim(r->cat, job.id, &eb))) {
		if (rc != PX_EBUSY && rc != PX_ENOTFOUND)
			px_logf(PX_LOG_WARN, "reclassify %s: %s", job.id,
				eb.msg);
		return false;
	}
	px_moderation_test_gate(r->m);
	pos = calloc(BATCH, sizeof(*pos));
	if (!pos)
		return false;
	n = px_reclass_next(r->cat, &job, pos, BATCH, &eb);
	if (n == 0) {
		if ((rc = px_reclass_finish(r->cat, job.id, &eb)) == 0)
			px_logf(PX_LOG_INFO, "reclassify %s done: %llu images, %llu changed",
				job.id, (unsigned long long)job.scanned,
				(unsigned long long)job.n[PX_RC_CHANGED]);
		goto out;
	}
	if (n < 0) {
		px_logf(PX_LOG_WARN, "reclassify %s: %s", job.id, eb.msg);
		goto out;
	}
	px_strlcpy(prev, job.cursor, sizeof(prev));
	for (int i = 0; i < n; i++) {
		enum px_reclass_outcome o = PX_RC_SKIPPED;
		int64_t t0;

		if (!yield(r))
			goto out;
		t0 = px_mono_us();
		rc = judge_one(r, &job, prev, pos[i], &o, &eb);
		if (rc == PX_EBUSY)
			break; /* canceled, or the record changed: re-read */
		if (rc) {
			/* A store failing: the timer tries again in a second. */
			px_logf(PX_LOG_WARN, "reclassify %s: %s", job.id, eb.msg);
			goto out;
		}
		px_metric_add(r->outcomes, 1, px_reclass_outcome_name(o));
		px_strlcpy(prev, pos[i], sizeof(prev));
		if (!throttle(r, px_mono_us() - t0))
			goto out;
	}
	more = true;
out:
	free(pos);
	return more;
}

static void *run(void *arg)
{
	struct px_reclassifier *r = arg;
	struct timespec until;

	pthread_mutex_lock(&r->lock);
	while (!r->stopping) {
		bool more = false;

		if (r->attached) {
			r->kicked = false;
			pthread_mutex_unlock(&r->lock);
			more = pass(r);
			pthread_mutex_lock(&r->lock);
		}
		if (r->stopping || r->kicked || more)
			continue;
		/* A job written while nobody listened (the CLI) is found on
		 * the timer. */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&r->wake, &r->lock, &until);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static double g_remaining(void *arg)
{
	struct px_reclassifier *r = arg;
	struct px_reclass_job j;

	if (px_reclass_running(r->cat, &j, NULL))
		return 0;
	return j.total > j.scanned ? (double)(j.total - j.scanned) : 0;
}

int px_reclassifier_start(struct px_moderation *m, struct px_catalog *cat,
			  int share, struct px_metrics *reg,
			  struct px_reclassifier **out, struct px_errbuf *eb)
{
	struct px_reclassifier *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r)
		return PX_ENOMEM;
	r->m = m;
	r->cat = cat;
	r->share = share < 1 ? 1 : share > 100 ? 100 : share;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->wake, NULL);
	if (reg) {
		r->outcomes = px_metrics_counter(reg, "pictor_reclassify_images_total",
						 "images visited by re-classification jobs, by outcome",
						 "outcome");
		px_metrics_gauge_fn(reg, "pictor_reclassify_remaining",
				    "images the running re-classification job has yet to visit",
				    g_remaining, r);
	}
	if (pthread_create(&r->thread, NULL, run, r)) {
		pthread_cond_destroy(&r->wake);
		pthread_mutex_destroy(&r->lock);
		free(r);
		return px_errf(eb, PX_EINTERNAL, "cannot start the reclassify thread");
	}
	*out = r;
	return 0;
}

void px_reclassifier_stop(struct px_reclassifier *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	pthread_cond_broadcast(&r->wake);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

void px_reclassifier_kick(struct px_reclassifier *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->kicked = true;
	pthread_cond_broadcast(&r->wake);
	pthread_mutex_unlock(&r->lock);
}

void px_reclassifier_hooks(struct px_reclassifier *r,
			   const struct px_reclass_hooks *h)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	if (h)
		r->hooks = *h;
	r->attached = true;
	r->kicked = true;
	pthread_cond_broadcast(&r->wake);
	pthread_mutex_unlock(&r->lock);
}
