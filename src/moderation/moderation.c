/*
 * moderation.c - the classifier, its context pool, the policy, the async
 * job runner and the review decision.
 */
#include "moderation/moderation.h"
#include "catalog/lease.h"
#include "catalog/watch.h"
#include "core/crypto.h"
#include "core/log.h"
#include "core/metrics.h"
#include "ml/nsfw.h"
#include "moderation/faces.h"
#include "moderation/reclass.h"
#include "moderation/webhook.h"

#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#define MODEL_NAME "nsfwjs-mobilenet-v2-mid@4.4.0"

static const char *const class_names[PX_NSFW_CLASSES] = {
	"drawing", "hentai", "neutral", "porn", "sexy"};

/* A parsed policy with its text and version. Never changed once made;
 * superseded ones are kept until exit (a verdict's rule name points into
 * its policy), a few kilobytes per reload. */
struct policy_ver {
	struct px_policy p;
	char *text;
	char version[24];
	int64_t loaded_us;
	struct policy_ver *prev;
};

struct px_moderation {
	struct px_moderation_opts o;
	_Atomic(struct policy_ver *) pol;
	struct px_ml_model *model;

	/* Execution contexts: one per concurrent classification. */
	struct px_ml_ctxpool *ctxs;

	/* Policy swaps, hooks and the async runner's flags, under lock. */
	pthread_mutex_t lock;

	/* Async runner. */
	struct px_catalog *cat;
	pthread_t runner;
	bool running, stopping, kicked;
	pthread_cond_t wake;
	struct px_webhook *webhook;
	struct px_mod_metrics mx;
	struct px_reclassifier *reclass;
	char *test_gate; /* PICTOR_TEST_JOB_GATE: jobs wait while it exists */
	int test_job_delay_ms; /* PICTOR_TEST_JOB_DELAY_MS: a slow job */
	struct px_reclass_hooks hooks; /* the application's (under lock) */
	struct px_faces *faces; /* borrowed; NULL: no face model */
};

void px_moderation_set_faces(struct px_moderation *m, struct px_faces *f)
{
	if (m)
		m->faces = f;
}

struct px_faces *px_moderation_faces(struct px_moderation *m)
{
	return m ? m->faces : NULL;
}

int px_moderation_policy_version(const char *text, char out[24])
{
	char hex[PX_SHA256_HEX_LEN + 1];
	int rc;

	if (!text)
		text = px_policy_default;
	if ((rc = px_sha256_hex(text, strlen(text), hex)))
		return rc;
	snprintf(out, 24, "p-%.12s", hex);
	return 0;
}

int px_moderation_reload(struct px_moderation *m, const char *text,
			 struct px_errbuf *eb)
{
	struct policy_ver *v = calloc(1, sizeof(*v));
	int rc;

	if (!v)
		return PX_ENOMEM;
	if (!text)
		text = px_policy_default;
	if ((rc = px_policy_parse(text, class_names, PX_NSFW_CLASSES, &v->p, eb)) ||
	    (rc = px_moderation_policy_version(text, v->version)) ||
	    !(v->text = strdup(text))) {
		free(v);
		return rc ? rc : PX_ENOMEM;
	}
	v->loaded_us = px_wall_us();
	pthread_mutex_lock(&m->lock);
	v->prev = atomic_load(&m->pol);
	atomic_store(&m->pol, v);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

int px_moderation_policy_info(struct px_moderation *m, const char **text,
			      const char **version, int64_t *loaded_us)
{
	struct policy_ver *v = atomic_load(&m->pol);

	*text = v->text;
	*version = v->version;
	*loaded_us = v->loaded_us;
	return v->p.nrules;
}

const char *const *px_moderation_classes(int *n)
{
	*n = PX_NSFW_CLASSES;
	return class_names;
}

const char *px_moderation_model_name(void)
{
	return MODEL_NAME;
}

const struct px_policy *px_moderation_policy(struct px_moderation *m)
{
	return &atomic_load(&m->pol)->p;
}

int px_moderation_new(const struct px_moderation_opts *o,
		      struct px_moderation **out, struct px_errbuf *eb)
{
	struct px_moderation *m;
	int rc;

	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return PX_ENOMEM;
	m->o = *o;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->wake, NULL);
	if ((rc = px_moderation_reload(m, o->policy, eb)))
		goto fail;
	rc = px_nsfw_open(o->models_dir, &m->model, eb);
	if (rc) {
		char why[sizeof(eb->msg)];

		px_strlcpy(why, eb->msg, sizeof(why));
		px_errf(eb, rc,
			"moderation is on but the classifier cannot be loaded "
			"(%s): run \"make models\" (or point --models at a "
			"directory holding %s), or start with --moderation off",
			why, PX_NSFW_MODEL);
		goto fail;
	}
	if ((rc = px_ml_ctxpool_new(m->model, o->contexts, &m->ctxs, eb)))
		goto fail;
	*out = m;
	return 0;
fail:
	px_moderation_free(m);
	return rc;
}

void px_moderation_free(struct px_moderation *m)
{
	if (!m)
		return;
	if (m->running) {
		pthread_mutex_lock(&m->lock);
		m->stopping = true;
		pthread_cond_broadcast(&m->wake);
		pthread_mutex_unlock(&m->lock);
		pthread_join(m->runner, NULL);
	}
	px_reclassifier_stop(m->reclass);
	px_webhook_stop(m->webhook);
	for (struct policy_ver *v = atomic_load(&m->pol), *prev; v; v = prev) {
		prev = v->prev;
		free(v->text);
		free(v);
	}
	px_ml_ctxpool_free(m->ctxs);
	free(m->test_gate);
	px_ml_model_free(m->model);
	pthread_cond_destroy(&m->wake);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static void iso_now(char *out, size_t n)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + strlen(out), n - strlen(out), ".%03ldZ",
		 ts.tv_nsec / 1000000L);
}

int px_moderation_frames_select(const double *change, int total, int max,
				int *idx)
{
	bool *take;
	int n = 0, nsample;

	if (total <= max) {
		for (int i = 0; i < total; i++)
			idx[i] = i;
		return total;
	}
	if (max < 2)
		max = 2;
	take = calloc((size_t)total, sizeof(*take));
	if (!take)
		return PX_ENOMEM;
	/* Half an even sample, first and last frame included... */
	nsample = PX_MAX(max / 2, 2);
	for (int i = 0; i < nsample; i++)
		take[(int)(((int64_t)i * (total - 1) + (nsample - 1) / 2) /
			   (nsample - 1))] = true;
	for (int i = 0; i < total; i++)
		n += take[i];
	/* ...and the rest where the picture changes most. */
	while (n < max) {
		int best = -1;

		for (int i = 1; i < total; i++)
			if (!take[i] && (best < 0 || change[i] > change[best]))
				best = i;
		if (best < 0)
			break;
		take[best] = true;
		n++;
	}
	n = 0;
	for (int i = 0; i < total; i++)
		if (take[i])
			idx[n++] = i;
	free(take);
	return n;
}

/* Scores of one frame (or of the still image when page < 0). */
static int score_frame(struct px_moderation *m, const void *data, size_t n,
		       int page, const uint8_t *rgb224, float *scores,
		       struct px_errbuf *eb)
{
	struct px_ml_ctx *ctx;
	struct px_buf rgb;
	float *in = NULL;
	int rc, w, h;

	px_buf_init(&rgb, 0);
	if (!rgb224 && m->o.preprocess == PX_PREPROCESS_NSFWJS) {
		rc = page < 0 ? px_image_rgb_full(data, n, &m->o.lim, &rgb, &w,
						  &h, eb)
			      : px_image_frame_rgb_full(data, n, &m->o.lim, page,
							&rgb, &w, &h, eb);
		if (rc)
			goto out;
		in = malloc(sizeof(float) * PX_NSFW_SIZE * PX_NSFW_SIZE * 3);
		if (!in) {
			rc = PX_ENOMEM;
			goto out;
		}
		if ((rc = px_nsfw_resize_bilinear_aligned(rgb.data, w, h, in)))
			goto out;
	} else if (!rgb224) {
		/* The header limits first, as in every mode. */
		if ((rc = px_image_probe(data, n, &m->o.lim, NULL, eb)))
			goto out;
		rc = px_image_rgb_resize(data, n, PX_NSFW_SIZE, PX_NSFW_SIZE,
					 &rgb, eb);
		if (rc)
			goto out;
		rgb224 = rgb.data;
	}
	ctx = px_ml_ctxpool_take(m->ctxs);
	rc = in ? px_nsfw_scores_f32(ctx, in, scores, eb)
		: px_nsfw_scores(ctx, rgb224, scores, eb);
	px_ml_ctxpool_give(m->ctxs, ctx);
out:
	free(in);
	px_buf_release(&rgb);
	return rc;
}

/* Fold one frame's scores into the result: per-class maximum, and the
 * frame whose own verdict is worst. */
static void fold_frame(struct px_moderation *m, struct px_mod_result *res,
		       int page, const float *scores)
{
	const char *rule;
	enum px_verdict v = px_policy_eval(&res->pol->p, scores, &rule);

	for (int c = 0; c < PX_NSFW_CLASSES; c++) {
		if (res->frames_checked == 0 || scores[c] > res->scores[c]) {
			res->scores[c] = scores[c];
			res->max_frame[c] = page;
		}
	}
	if (res->frames_checked == 0 || v > res->frame_verdict) {
		res->frame_verdict = v;
		res->frame = page;
	}
	res->frames_checked++;
}

/* Frames per decode in the default mode: bounds memory to this many
 * 224x224 RGB frames. */
#define FRAME_BATCH 16

static int classify_frames(struct px_moderation *m, const void *data,
			   size_t n, int total, struct px_mod_result *res,
			   struct px_errbuf *eb)
{
	const size_t fsz = (size_t)PX_NSFW_SIZE * PX_NSFW_SIZE * 3;
	double *change = NULL;
	int *idx = NULL, nidx, rc = 0;
	int max = PX_MAX(m->o.max_frames, 1);
	struct px_buf rgb;

	px_buf_init(&rgb, 0);
	idx = malloc(sizeof(*idx) * (size_t)total);
	if (!idx)
		return PX_ENOMEM;
	if (total > max) {
		if (!(change = malloc(sizeof(*change) * (size_t)total))) {
			rc = PX_ENOMEM;
			goto out;
		}
		if ((rc = px_image_frame_changes(data, n, &m->o.lim, total,
						 change, eb)))
			goto out;
	}
	nidx = px_moderation_frames_select(change, total, max, idx);
	if (nidx < 0) {
		rc = nidx;
		goto out;
	}
	for (int i = 0; i < nidx;) {
		float scores[PX_NSFW_CLASSES];
		int run = 1;

		if (m->o.preprocess == PX_PREPROCESS_NSFWJS) {
			if ((rc = score_frame(m, data, n, idx[i], NULL, scores, eb)))
				goto out;
			fold_frame(m, res, idx[i], scores);
			i++;
			continue;
		}
		/* Consecutive pages decode together. */
		while (i + run < nidx && run < FRAME_BATCH &&
		       idx[i + run] == idx[i] + run)
			run++;
		rgb.len = 0;
		if ((rc = px_image_frames_rgb(data, n, &m->o.lim, idx[i], run,
					      PX_NSFW_SIZE, PX_NSFW_SIZE, &rgb,
					      eb)))
			goto out;
		for (int k = 0; k < run; k++) {
			if ((rc = score_frame(m, data, n, idx[i + k],
					      rgb.data + k * fsz, scores, eb)))
				goto out;
			fold_frame(m, res, idx[i + k], scores);
		}
		i += run;
	}
	res->frames_total = total;
out:
	px_buf_release(&rgb);
	free(change);
	free(idx);
	return rc;
}

/* The frame to name as deciding: the worst frame on its own, or, when
 * only the combination of frames reaches the verdict, the frame holding
 * the highest score of the deciding rule's first class. */
static int deciding_frame(struct px_moderation *m,
			  const struct px_mod_result *res, int worst_frame)
{
	const struct px_policy *pol = &((const struct policy_ver *)res->pol)->p;

	for (int i = 0; i < pol->nrules; i++) {
		const struct px_policy_rule *r = &pol->rules[i];

		if (!strcmp(r->name, res->rule) && r->nterms > 0)
			return res->max_frame[r->terms[0].cls];
	}
	return worst_frame;
}

int px_moderation_classify(struct px_moderation *m, const void *data,
			   size_t n, struct px_mod_result *res,
			   struct px_errbuf *eb)
{
	json_t *o, *scores;
	char when[40];
	int rc, total = 1;

	memset(res, 0, sizeof(*res));
	/* One policy for the whole image, whatever a reload does meanwhile. */
	res->pol = atomic_load(&m->pol);
	if ((rc = px_image_pages(data, n, &total, eb)))
		return rc;
	/* Pages past the frame limit are refused on upload (animations)
	 * or never delivered (TIFF and HEIF deliver one page). */
	total = PX_MIN(total, PX_MAX(m->o.lim.max_frames, 1));
	if (total > 1) {
		if ((rc = classify_frames(m, data, n, total, res, eb)))
			return rc;
	} else {
		if ((rc = score_frame(m, data, n, -1, NULL, res->scores, eb)))
			return rc;
		res->frames_total = res->frames_checked = 1;
	}
	res->verdict = px_policy_eval(&res->pol->p, res->scores, &res->rule);
	/* The worst frame decides when it reaches the verdict alone. */
	if (total > 1 && res->verdict != PX_VERDICT_APPROVE &&
	    res->frame_verdict != res->verdict)
		res->frame = deciding_frame(m, res, res->frame);
	scores = json_object();
	for (int i = 0; i < PX_NSFW_CLASSES; i++)
		json_object_set_new(scores, class_names[i],
				    json_real((double)res->scores[i]));
	iso_now(when, sizeof(when));
	o = json_pack("{s:s,s:o,s:s,s:s,s:s,s:s,s:s,s:i,s:{s:i,s:i,s:b}}", "model",
		      MODEL_NAME, "scores", scores, "verdict",
		      px_verdict_name(res->verdict), "rule", res->rule,
		      "policy_version", res->pol->version,
		      "preprocess",
		      m->o.preprocess == PX_PREPROCESS_NSFWJS ? "nsfwjs" : "default",
		      "at", when, "frame", res->frame, "frames", "total",
		      res->frames_total, "checked", res->frames_checked,
		      "complete", res->frames_checked == res->frames_total);
	res->json = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
	json_decref(o);
	return res->json ? 0 : PX_ENOMEM;
}

int px_moderation_remembered(struct px_moderation *m, struct px_catalog *cat,
			     const void *data, size_t n,
			     struct px_mod_result *res, struct px_errbuf *eb)
{
	struct px_content_decision cd;
	char sha[PX_SHA256_HEX_LEN + 1], when[40];
	json_t *o;
	char *text;
	int rc;

	if (!m || !cat || !res->json)
		return 0;
	if ((rc = px_sha256_hex(data, n, sha)))
		return rc;
	rc = px_catalog_content_decision(cat, sha, &cd, eb);
	if (rc == PX_ENOTFOUND)
		return 0;
	if (rc)
		return rc;
	o = json_loads(res->json, 0, NULL);
	if (!o)
		return PX_ENOMEM;
	/* Safety first: a hash list that matched (block or flag) outranks a
	 * remembered approve; a remembered block outranks everything. The
	 * decision is recorded either way. */
	if (!strcmp(cd.decision, "blocked")) {
		res->verdict = PX_VERDICT_BLOCK;
		res->rule = "content_decision";
	} else if (!json_object_get(o, "hashlist")) {
		res->verdict = PX_VERDICT_APPROVE;
		res->rule = "content_decision";
	}
	{
		time_t secs = (time_t)(cd.at_us / 1000000);
		struct tm tm;

		gmtime_r(&secs, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	json_object_set_new(o, "verdict", json_string(px_verdict_name(res->verdict)));
	json_object_set_new(o, "rule", json_string(res->rule));
	json_object_set_new(o, "decision",
			    json_pack("{s:s,s:s,s:s,s:s}", "image", cd.image,
				      "decision", cd.decision, "by", cd.by, "at",
				      when));
	text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
	json_decref(o);
	if (!text)
		return PX_ENOMEM;
	free(res->json);
	res->json = text;
	return 0;
}

bool px_moderation_frames_covered(const struct px_image_rec *rec)
{
	json_t *m, *f;
	bool ok = true;

	if (!rec->moderation)
		return true;
	m = json_loads(rec->moderation, 0, NULL);
	f = json_object_get(m, "frames");
	if (f)
		ok = json_is_true(json_object_get(f, "complete"));
	json_decref(m);
	return ok;
}

/* Wrap an event body for the outbox, or NULL without a webhook. */
static char *wrap_event(json_t *body)
{
	struct px_buf b;
	char *text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(6));

	json_decref(body);
	if (!text)
		return NULL;
	px_buf_init(&b, 0);
	if (px_webhook_wrap(text, &b)) {
		px_buf_release(&b);
		free(text);
		return NULL;
	}
	free(text);
	return (char *)px_buf_detach(&b, NULL);
}

char *px_moderation_wrap(struct px_moderation *m, struct json_t *body)
{
	if (!m || !m->webhook) {
		json_decref(body);
		return NULL;
	}
	return wrap_event(body);
}

void px_reclass_attach(struct px_moderation *m, const struct px_reclass_hooks *h)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->hooks = *h;
	pthread_mutex_unlock(&m->lock);
	px_reclassifier_hooks(m->reclass, h);
}

void px_reclass_kick(struct px_moderation *m)
{
	if (m)
		px_reclassifier_kick(m->reclass);
}

char *px_moderation_event(struct px_moderation *m,
			  const struct px_image_rec *rec,
			  const struct px_mod_result *res)
{
	char when[40];

	/* Without a sender an outbox would only grow. */
	if (!m || !m->webhook || res->verdict == PX_VERDICT_APPROVE)
		return NULL;
	iso_now(when, sizeof(when));
	return wrap_event(json_pack(
		"{s:s,s:s,s:s,s:s,s:o,s:s}", "event", px_verdict_name(res->verdict),
		"id", rec->id, "status", px_verdict_status(res->verdict), "rule",
		res->rule, "moderation", json_loads(res->json, 0, NULL), "at", when));
}

void px_moderation_kick(struct px_moderation *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->kicked = true;
	pthread_cond_signal(&m->wake);
	pthread_mutex_unlock(&m->lock);
	px_webhook_kick(m->webhook);
}

void px_moderation_detect_faces(struct px_moderation *m, const char *id,
				const void *data, size_t n,
				struct px_rec_faces *out)
{
	struct px_errbuf eb = {0};

	if (px_faces_detect(m ? m->faces : NULL, data, n, out, &eb))
		px_logf(PX_LOG_WARN, "face detection on \"%s\" failed: %s", id,
			eb.msg);
}

/* A job that cannot run (say, an undecodable original) must not block
 * the queue: flag the image for a person, and say so like any verdict. */
static void classification_failed(struct px_moderation *m, const char *id,
				  const char *why)
{
	static const char mod[] =
		"{\"verdict\":\"flag\",\"rule\":\"classification_failed\"}";
	struct px_decision d = {.expect = "pending", .status = "flagged",
				.moderation = mod, .leased = true};
	char when[40];

	iso_now(when, sizeof(when));
	if (m->webhook)
		d.event = wrap_event(json_pack(
			"{s:s,s:s,s:s,s:s,s:o,s:s,s:s}", "event", "flag", "id", id,
			"status", "flagged", "rule", "classification_failed",
			"moderation", json_loads(mod, 0, NULL), "error", why, "at",
			when));
	if (px_catalog_moderate(m->cat, id, &d, NULL, NULL) == 0 && d.event)
		px_webhook_kick(m->webhook);
	free((char *)d.event);
}

/* Test-only: a claimed job waits while the file named by
 * PICTOR_TEST_JOB_GATE exists (or until shutdown), so a test decides when
 * the runner is busy instead of guessing how long a job takes. */
void px_moderation_test_gate(struct px_moderation *m)
{
	bool stop = false;

	while (m->test_gate && !stop && access(m->test_gate, F_OK) == 0) {
		poll(NULL, 0, 20);
		pthread_mutex_lock(&m->lock);
		stop = m->stopping;
		pthread_mutex_unlock(&m->lock);
	}
}

/* Classify one pending image and record the verdict. */
static int run_job(void *arg, const char *id)
{
	struct px_moderation *m = arg;
	struct px_errbuf eb = {0};
	struct px_reclass_hooks h;
	struct px_image_rec rec, hashed;
	struct px_mod_result res;
	struct px_rec_faces faces;
	struct px_buf blob;
	char *event = NULL;
	int rc;

	/* Claimed first (lease.h): another node's live claim, or a job
	 * already done elsewhere, is passed over. */
	if (px_catalog_job_claim(m->cat, id, NULL))
		return 0;
	px_moderation_test_gate(m);
	if (m->test_job_delay_ms > 0)
		poll(NULL, 0, m->test_job_delay_ms);
	memset(&rec, 0, sizeof(rec));
	memset(&hashed, 0, sizeof(hashed));
	memset(&res, 0, sizeof(res));
	px_buf_init(&blob, 0);
	pthread_mutex_lock(&m->lock);
	h = m->hooks;
	pthread_mutex_unlock(&m->lock);
	if ((rc = px_catalog_get(m->cat, id, &rec, &eb)))
		goto out;
	if ((rc = px_catalog_blob(m->cat, &rec, &blob, &eb)))
		goto out;
	if ((rc = px_moderation_classify(m, blob.data, blob.len, &res, &eb)))
		goto out;
	/* The hash lists as they are now, as a sync upload gets them: a
	 * list made or extended while the image waited still counts. */
	if (h.judge &&
	    (rc = h.judge(h.ctx, blob.data, blob.len, &hashed, &res, &eb)))
		goto out;
	px_moderation_detect_faces(m, id, blob.data, blob.len, &faces);
	if ((rc = px_moderation_remembered(m, m->cat, blob.data, blob.len,
					   &res, &eb)))
		goto out;
	px_moderation_count(m, res.verdict);
	event = px_moderation_event(m, &rec, &res);
	{
		struct px_decision d = {.expect = "pending",
					.status = px_verdict_status(res.verdict),
					.moderation = res.json, .event = event,
					.faces = &faces, .leased = true};

		if (!rec.pdq[0] && hashed.pdq[0]) {
			d.pdq = hashed.pdq;
			d.pdq_quality = hashed.pdq_quality;
		}

		/* Refuse mode, decided after the upload was accepted: the
		 * bytes go, the record stays as a tombstone with its audit. */
		d.drop_original = res.verdict == PX_VERDICT_BLOCK &&
				  m->o.refuse_blocked;

		rc = px_catalog_moderate(m->cat, id, &d, NULL, &eb);
	}
	if (!rc && event)
		px_webhook_kick(m->webhook);
out:
	if (rc && rc != PX_EBUSY) {
		px_logf(PX_LOG_WARN, "classification of \"%s\" failed: %s", id,
			eb.msg);
		classification_failed(m, id, eb.msg);
	}
	/* Whatever happened, this node is done with the claim (a no-op
	 * when the verdict's transaction ended it). */
	px_catalog_job_release(m->cat, id);
	free(event);
	free(res.json);
	px_buf_release(&blob);
	px_image_rec_release(&rec);
	return 0;
}

static void *runner(void *arg)
{
	struct px_moderation *m = arg;
	struct timespec until;

	pthread_mutex_lock(&m->lock);
	while (!m->stopping) {
		m->kicked = false;
		pthread_mutex_unlock(&m->lock);
		px_catalog_jobs(m->cat, 64, run_job, m, NULL);
		pthread_mutex_lock(&m->lock);
		if (m->stopping || m->kicked)
			continue;
		/* Jobs are also picked up on a timer, so nothing depends on
		 * every enqueue remembering to kick. */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&m->wake, &m->lock, &until);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

/* Scrape-time gauges over the catalog's queues. */
static double g_jobs(void *arg)
{
	struct px_moderation *m = arg;
	uint64_t n = 0;
	int64_t oldest = 0;

	px_catalog_jobs_stats(m->cat, &n, &oldest, NULL);
	return (double)n;
}

static double g_jobs_age(void *arg)
{
	struct px_moderation *m = arg;
	uint64_t n = 0;
	int64_t oldest = 0;

	if (px_catalog_jobs_stats(m->cat, &n, &oldest, NULL) || !n)
		return 0;
	return (double)PX_MAX(px_wall_us() - oldest, 0) / 1e6;
}

static double g_outbox(void *arg)
{
	struct px_outbox_stats st;

	return px_catalog_outbox_stats(arg, &st, NULL) ? 0 : (double)st.depth;
}

static double g_outbox_age(void *arg)
{
	struct px_outbox_stats st;

	if (px_catalog_outbox_stats(arg, &st, NULL) || !st.depth)
		return 0;
	return (double)PX_MAX(px_wall_us() - st.oldest_us, 0) / 1e6;
}

static double g_dead(void *arg)
{
	struct px_outbox_stats st;

	return px_catalog_outbox_stats(arg, &st, NULL) ? 0 : (double)st.dead;
}

static double g_failures(void *arg)
{
	uint64_t d, f;

	px_webhook_counts(arg, &d, &f);
	return (double)f;
}

static double g_delivered(void *arg)
{
	uint64_t d, f;

	px_webhook_counts(arg, &d, &f);
	return (double)d;
}

static double g_lease(void *arg, int which)
{
	struct px_lease_stats st;

	px_catalog_lease_stats(arg, &st);
	switch (which) {
	case 0: return (double)st.held;
	case 1: return (double)st.claimed;
	case 2: return (double)st.taken_over;
	default: return (double)st.lost;
	}
}

static double g_lease_held(void *arg) { return g_lease(arg, 0); }
static double g_lease_claimed(void *arg) { return g_lease(arg, 1); }
static double g_lease_taken(void *arg) { return g_lease(arg, 2); }
static double g_lease_lost(void *arg) { return g_lease(arg, 3); }

static void register_metrics(struct px_moderation *m, struct px_metrics *reg)
{
	if (!reg)
		return;
	px_metrics_gauge_fn(reg, "pictor_leases_held",
			    "claims on background work this node holds",
			    g_lease_held, m->cat);
	px_metrics_counter_fn(reg, "pictor_leases_claimed_total",
			      "claims on background work made by this node",
			      g_lease_claimed, m->cat);
	px_metrics_counter_fn(reg, "pictor_leases_taken_over_total",
			      "claims made over another node's expired claim",
			      g_lease_taken, m->cat);
	px_metrics_counter_fn(reg, "pictor_leases_lost_total",
			      "claims this node found taken over before it "
			      "finished", g_lease_lost, m->cat);
	px_metrics_gauge_fn(reg, "pictor_moderation_queue_length",
			    "images waiting for classification (async mode, recovery)",
			    g_jobs, m);
	px_metrics_gauge_fn(reg, "pictor_moderation_oldest_pending_seconds",
			    "age of the oldest image waiting for classification",
			    g_jobs_age, m);
	px_metrics_gauge_fn(reg, "pictor_webhook_outbox_depth",
			    "webhook events not yet delivered", g_outbox, m->cat);
	px_metrics_gauge_fn(reg, "pictor_webhook_outbox_oldest_seconds",
			    "age of the oldest undelivered webhook event",
			    g_outbox_age, m->cat);
	px_metrics_gauge_fn(reg, "pictor_webhook_dead_letters",
			    "webhook events that ran out of attempts", g_dead,
			    m->cat);
	px_metrics_counter_fn(reg, "pictor_webhook_failed_attempts_total",
			      "webhook POSTs that failed", g_failures,
			      m->webhook);
	px_metrics_counter_fn(reg, "pictor_webhook_delivered_events_total",
			      "webhook events delivered", g_delivered,
			      m->webhook);
}

/* The verdict counters, the same for the upload path and the runner. */
void px_moderation_count(struct px_moderation *m, enum px_verdict v)
{
	if (!m)
		return;
	px_metric_add(m->mx.classified, 1);
	if (v == PX_VERDICT_BLOCK)
		px_metric_add(m->mx.blocked, 1);
	else if (v == PX_VERDICT_FLAG)
		px_metric_add(m->mx.flagged, 1);
}

/* Work queued on another node: this node may take it (lease.h). */
static void on_change(void *ctx, const struct px_change *ch)
{
	struct px_moderation *m = ctx;

	if (ch->kind == PX_CHANGE_JOB || ch->kind == PX_CHANGE_LOST) {
		pthread_mutex_lock(&m->lock);
		m->kicked = true;
		pthread_cond_signal(&m->wake);
		pthread_mutex_unlock(&m->lock);
	}
	if (ch->kind == PX_CHANGE_OUTBOX || ch->kind == PX_CHANGE_LOST)
		px_webhook_kick(m->webhook);
}

int px_moderation_start(struct px_moderation *m, struct px_catalog *cat,
			struct px_metrics *reg, const struct px_mod_metrics *mx,
			struct px_errbuf *eb)
{
	int rc;

	const char *gate = getenv("PICTOR_TEST_JOB_GATE");
	const char *delay = getenv("PICTOR_TEST_JOB_DELAY_MS");

	m->cat = cat;
	if (mx)
		m->mx = *mx;
	if (gate && *gate && !(m->test_gate = strdup(gate)))
		return PX_ENOMEM;
	/* Test-only as well: each background job, once claimed, takes this
	 * much longer. */
	if (delay)
		m->test_job_delay_ms = (int)PX_MIN(strtol(delay, NULL, 10), 600000L);
	if (m->o.webhook_url && *m->o.webhook_url) {
		rc = px_webhook_start(cat, m->o.webhook_url,
				      m->o.webhook_secret, m->o.webhook_timeout,
				      m->o.webhook_attempts, &m->webhook, eb);
		if (rc)
			return rc;
	}
	register_metrics(m, reg);
	if ((rc = px_reclassifier_start(m, cat, m->o.reclassify_share
					? m->o.reclassify_share : 50,
					reg, &m->reclass, eb)))
		return rc;
	/* The runner also finishes jobs left by a crash in sync mode. */
	if (pthread_create(&m->runner, NULL, runner, m))
		return px_errf(eb, PX_EINTERNAL, "cannot start the job runner");
	m->running = true;
	return px_catalog_watch(cat, on_change, m, eb);
}

int px_moderation_review(struct px_moderation *m, struct px_catalog *cat,
			 const char *id, const struct px_review *rv,
			 struct px_image_rec *rec, struct px_errbuf *eb)
{
	const char *action = rv->action, *note = rv->note;
	const struct px_actor *actor = rv->who;
	struct px_mod_result res;
	const char *who = actor ? actor->name : px_actor_system.name;
	struct px_image_rec cur;
	const char *after;
	char when[40], *entry = NULL, *event = NULL;
	json_t *o;
	int rc;

	if (!strcmp(action, "approve"))
		after = "approved";
	else if (!strcmp(action, "block"))
		after = "blocked";
	else
		return px_errc(eb, PX_EINVAL, "invalid_request",
			       "action must be \"approve\" or \"block\"");
	memset(&cur, 0, sizeof(cur));
	memset(&res, 0, sizeof(res));
	if ((rc = px_catalog_get(cat, id, &cur, eb)))
		return rc;
	/* What the reviewer saw must still be what is there. */
	if (rv->expect_status && strcmp(rv->expect_status, cur.status)) {
		rc = px_errc(eb, PX_EBUSY, "conflict",
			     "image \"%s\" is %s, not %s: someone decided first",
			     id, cur.status, rv->expect_status);
		goto out;
	}
	iso_now(when, sizeof(when));
	o = json_pack("{s:s,s:s,s:s,s:s,s:s}", "who", who, "when", when,
		      "before", cur.status, "after", after, "note",
		      note ? note : "");
	entry = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (m && m->webhook)
		event = wrap_event(json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
					     "event", "review", "id", id, "before",
					     cur.status, "after", after, "who",
					     who, "note", note ? note : "", "at",
					     when));
	if (!entry) {
		rc = PX_ENOMEM;
		goto out;
	}
	/* A pending image was never classified: its scores are recorded
	 * next to the person's decision (a failure to classify does not
	 * stop the review). */
	if (m && !strcmp(cur.status, "pending") && !cur.original_deleted) {
		struct px_buf blob;
		struct px_errbuf ceb = {0};

		px_buf_init(&blob, 0);
		if (px_catalog_blob(cat, &cur, &blob, &ceb) == 0 &&
		    px_moderation_classify(m, blob.data, blob.len, &res, &ceb) == 0)
			px_moderation_count(m, res.verdict);
		px_buf_release(&blob);
	}
	/* expect = the status we read, so a concurrent decision is not
	 * silently overwritten; the ETag, when given, pins the whole record. */
	{
		struct px_decision d = {.expect = cur.status,
					.expect_etag = rv->expect_etag,
					.status = after, .moderation = res.json,
					.review = entry, .event = event,
					.who = actor};

		rc = px_catalog_moderate(cat, id, &d, rec, eb);
	}
	if (!rc && event)
		px_webhook_kick(m->webhook);
out:
	free(entry);
	free(event);
	free(res.json);
	px_image_rec_release(&cur);
	return rc;
}
