/*
 * moderation.c - the classifier, its context pool, the policy, the async
 * job runner and the review decision.
 */
#include "moderation/moderation.h"
#include "core/log.h"
#include "ml/nsfw.h"
#include "moderation/webhook.h"

#include <jansson.h>
#include <pthread.h>
#include <time.h>

#define MODEL_NAME "nsfwjs-mobilenet-v2-mid@4.4.0"

static const char *const class_names[PX_NSFW_CLASSES] = {
	"drawing", "hentai", "neutral", "porn", "sexy"};

struct px_moderation {
	struct px_moderation_opts o;
	struct px_policy policy;
	struct px_ml_model *model;

	/* Execution contexts: one per concurrent classification. */
	pthread_mutex_t lock;
	pthread_cond_t ctx_free;
	struct px_ml_ctx **ctxs;
	int nctx, navail;

	/* Async runner. */
	struct px_catalog *cat;
	pthread_t runner;
	bool running, stopping, kicked;
	pthread_cond_t wake;
	struct px_webhook *webhook;
};

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
	return &m->policy;
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
	pthread_cond_init(&m->ctx_free, NULL);
	pthread_cond_init(&m->wake, NULL);
	rc = px_policy_parse(o->policy ? o->policy : px_policy_default,
			     class_names, PX_NSFW_CLASSES, &m->policy, eb);
	if (rc)
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
	m->nctx = PX_MAX(o->contexts, 1);
	m->ctxs = calloc((size_t)m->nctx, sizeof(*m->ctxs));
	if (!m->ctxs) {
		rc = PX_ENOMEM;
		goto fail;
	}
	for (int i = 0; i < m->nctx; i++) {
		if ((rc = px_ml_ctx_new(m->model, &m->ctxs[i], eb)))
			goto fail;
		m->navail++;
	}
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
	px_webhook_stop(m->webhook);
	for (int i = 0; i < m->nctx && m->ctxs; i++)
		px_ml_ctx_free(m->ctxs[i]);
	free(m->ctxs);
	px_ml_model_free(m->model);
	pthread_cond_destroy(&m->wake);
	pthread_cond_destroy(&m->ctx_free);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static struct px_ml_ctx *ctx_take(struct px_moderation *m)
{
	struct px_ml_ctx *c;

	pthread_mutex_lock(&m->lock);
	while (!m->navail)
		pthread_cond_wait(&m->ctx_free, &m->lock);
	c = m->ctxs[--m->navail];
	pthread_mutex_unlock(&m->lock);
	return c;
}

static void ctx_give(struct px_moderation *m, struct px_ml_ctx *c)
{
	pthread_mutex_lock(&m->lock);
	m->ctxs[m->navail++] = c;
	pthread_cond_signal(&m->ctx_free);
	pthread_mutex_unlock(&m->lock);
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

int px_moderation_classify(struct px_moderation *m, const void *data,
			   size_t n, struct px_mod_result *res,
			   struct px_errbuf *eb)
{
	struct px_ml_ctx *ctx = NULL;
	struct px_buf rgb;
	float *in = NULL;
	json_t *o, *scores;
	char when[40];
	int rc, w, h;

	memset(res, 0, sizeof(*res));
	px_buf_init(&rgb, 0);
	if (m->o.preprocess == PX_PREPROCESS_NSFWJS) {
		rc = px_image_rgb_full(data, n, &m->o.lim, &rgb, &w, &h, eb);
		if (rc)
			goto out;
		in = malloc(sizeof(float) * PX_NSFW_SIZE * PX_NSFW_SIZE * 3);
		if (!in) {
			rc = PX_ENOMEM;
			goto out;
		}
		if ((rc = px_nsfw_resize_bilinear_aligned(rgb.data, w, h, in)))
			goto out;
	} else {
		rc = px_image_rgb_resize(data, n, PX_NSFW_SIZE, PX_NSFW_SIZE,
					 &rgb, eb);
		if (rc)
			goto out;
	}
	ctx = ctx_take(m);
	rc = in ? px_nsfw_scores_f32(ctx, in, res->scores, eb)
		: px_nsfw_scores(ctx, rgb.data, res->scores, eb);
	ctx_give(m, ctx);
	if (rc)
		goto out;
	res->verdict = px_policy_eval(&m->policy, res->scores, &res->rule);
	scores = json_object();
	for (int i = 0; i < PX_NSFW_CLASSES; i++)
		json_object_set_new(scores, class_names[i],
				    json_real((double)res->scores[i]));
	iso_now(when, sizeof(when));
	o = json_pack("{s:s,s:o,s:s,s:s,s:s,s:s}", "model", MODEL_NAME,
		      "scores", scores, "verdict", px_verdict_name(res->verdict),
		      "rule", res->rule, "preprocess",
		      m->o.preprocess == PX_PREPROCESS_NSFWJS ? "nsfwjs" : "default",
		      "at", when);
	res->json = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
	json_decref(o);
	if (!res->json)
		rc = PX_ENOMEM;
out:
	free(in);
	px_buf_release(&rgb);
	return rc;
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

/* Classify one pending image and record the verdict. */
static int run_job(void *arg, const char *id)
{
	struct px_moderation *m = arg;
	struct px_errbuf eb = {0};
	struct px_image_rec rec;
	struct px_mod_result res;
	struct px_buf blob;
	char *event = NULL;
	int rc;

	memset(&rec, 0, sizeof(rec));
	memset(&res, 0, sizeof(res));
	px_buf_init(&blob, 0);
	if ((rc = px_catalog_get(m->cat, id, &rec, &eb)))
		goto out;
	if ((rc = px_catalog_blob(m->cat, &rec, &blob, &eb)))
		goto out;
	if ((rc = px_moderation_classify(m, blob.data, blob.len, &res, &eb)))
		goto out;
	event = px_moderation_event(m, &rec, &res);
	rc = px_catalog_moderate(m->cat, id, "pending",
				 px_verdict_status(res.verdict), res.json, NULL,
				 event, NULL, NULL, &eb);
	if (!rc && event)
		px_webhook_kick(m->webhook);
out:
	if (rc && rc != PX_EBUSY) {
		/* A job that cannot run (say, an undecodable original) must
		 * not block the queue: flag the image for a person. */
		px_logf(PX_LOG_WARN, "classification of \"%s\" failed: %s", id,
			eb.msg);
		px_catalog_moderate(m->cat, id, "pending", "flagged",
				    "{\"verdict\":\"flag\",\"rule\":\"classification_failed\"}",
				    NULL, NULL, NULL, NULL, NULL);
	}
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

int px_moderation_start(struct px_moderation *m, struct px_catalog *cat,
			struct px_errbuf *eb)
{
	int rc;

	m->cat = cat;
	if (m->o.webhook_url && *m->o.webhook_url) {
		rc = px_webhook_start(px_catalog_kv(cat), m->o.webhook_url,
				      m->o.webhook_secret, &m->webhook, eb);
		if (rc)
			return rc;
	}
	/* The runner also finishes jobs left by a crash in sync mode. */
	if (pthread_create(&m->runner, NULL, runner, m))
		return px_errf(eb, PX_EINTERNAL, "cannot start the job runner");
	m->running = true;
	return 0;
}

int px_moderation_review(struct px_moderation *m, struct px_catalog *cat,
			 const char *id, const char *action, const char *note,
			 const struct px_actor *actor, struct px_image_rec *rec,
			 struct px_errbuf *eb)
{
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
	if ((rc = px_catalog_get(cat, id, &cur, eb)))
		return rc;
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
	/* expect = the status we read, so a concurrent decision is not
	 * silently overwritten. */
	rc = px_catalog_moderate(cat, id, cur.status, after, NULL, entry, event,
				 actor, rec, eb);
	if (!rc && event)
		px_webhook_kick(m->webhook);
out:
	free(entry);
	free(event);
	px_image_rec_release(&cur);
	return rc;
}
