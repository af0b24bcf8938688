/*
 * moderation.c - the review API: the queue of images awaiting a person,
 * and the decision that approves or blocks one.
 *
 *   GET  /v1/moderation/queue?status=flagged&per_page=&continuation_token=
 *   POST /v1/images/{id}/moderation  {"action":"approve"|"block",
 *                                     "note":"...", "reviewer":"..."}
 *   GET  /v1/moderation/policy
 *   POST /v1/moderation/reclassify   {"all": true} or filters: a job
 *   GET  /v1/moderation/reclassify[/{job}]
 *   POST /v1/moderation/reclassify/{job}/cancel
 */
#include "api/app.h"
#include "core/log.h"
#include "moderation/reclass.h"

#include <jansson.h>

struct queue_ctx {
	struct px_app *a;
	json_t *arr;
	json_t *managed; /* managed variant names, read once per listing */
};

static int queue_one(void *ctx, const struct px_image_rec *rec)
{
	struct queue_ctx *q = ctx;
	json_t *o = px_api_rec_json_with(q->a, rec, q->managed);

	if (!o)
		return PX_ENOMEM;
	json_array_append_new(q->arr, o);
	return 0;
}

void px_api_moderation_queue(struct px_app *a, struct px_req *r,
			     const struct px_call *c)
{
	char status[16] = "flagged", token[256], next[256];
	struct queue_ctx q = {a, NULL, NULL};
	struct px_errbuf eb = {0};
	int per_page, rc;

	rc = px_req_query(r, "status", status, sizeof(status));
	if (rc && rc != PX_ENOTFOUND) {
		px_resp_error(r, 400, "invalid_request",
			      "status must be pending, flagged or blocked");
		return;
	}
	if (!px_app_page_args(r, &per_page, token, sizeof(token)))
		return;
	q.arr = json_array();
	q.managed = px_api_managed_variants(a);
	rc = px_catalog_queue(a->cat, status, token, per_page, queue_one, &q,
			      next, sizeof(next), &eb);
	json_decref(q.managed);
	if (rc) {
		json_decref(q.arr);
		px_app_fail(r, rc, &eb);
		return;
	}
	px_app_ok_page(r, q.arr, next);
}

/* The current record with a 409: the reviewer sees what won. */
static void conflict(struct px_app *a, struct px_req *r, const char *id,
		     const struct px_errbuf *eb)
{
	struct px_image_rec cur;
	json_t *o = NULL;
	char *text = NULL;
	struct px_buf b;

	memset(&cur, 0, sizeof(cur));
	if (px_catalog_get(a->cat, id, &cur, NULL) ||
	    !(o = px_api_rec_json(a, &cur)) ||
	    !(text = json_dumps(o, JSON_COMPACT))) {
		px_app_fail(r, PX_EBUSY, eb);
		goto out;
	}
	px_buf_init(&b, 0);
	px_buf_adds(&b, "{\"success\":false,\"errors\":[{\"code\":\"conflict\",\"message\":");
	px_json_quote(&b, eb->msg);
	px_buf_adds(&b, "}],\"messages\":[],\"result\":");
	px_buf_adds(&b, text);
	px_buf_adds(&b, "}\n");
	px_api_rec_etag(r, &cur);
	px_resp_buf(r, 409, "application/json", &b);
out:
	free(text);
	json_decref(o);
	px_image_rec_release(&cur);
}

/* A string field or absent; anything else answers 400 naming it. */
static bool string_field(struct px_req *r, json_t *o, const char *name,
			 size_t max, const char **out)
{
	json_t *v = json_object_get(o, name);

	*out = NULL;
	if (!v)
		return true;
	if (!json_is_string(v)) {
		px_resp_error(r, 400, "invalid_request",
			      "field \"%s\" must be a string", name);
		return false;
	}
	if (strlen(json_string_value(v)) > max) {
		px_resp_error(r, 400, "invalid_request",
			      "field \"%s\" is limited to %zu bytes", name, max);
		return false;
	}
	*out = json_string_value(v);
	return true;
}

void px_api_moderation_review(struct px_app *a, struct px_req *r,
			      const struct px_call *c)
{
	static const char *const fields[] = {"action", "note", "reviewer",
					     "expected_status"};
	const struct px_buf *body = px_req_body(r);
	char id[PX_ID_MAX + 1];
	struct px_errbuf eb = {0};
	struct px_image_rec rec;
	struct px_actor actor;
	struct px_review rv;
	const char *who, *key;
	json_t *o, *v;
	int rc;

	if (px_call_arg(c, "id", id, sizeof(id))) {
		px_resp_error(r, 404, "not_found", "image not found");
		return;
	}
	memset(&rec, 0, sizeof(rec));
	memset(&rv, 0, sizeof(rv));
	o = json_loadb((const char *)body->data, body->len,
		       JSON_REJECT_DUPLICATES, NULL);
	if (!o || !json_is_object(o)) {
		px_resp_error(r, 400, "invalid_request",
			      "the body must be {\"action\": \"approve\"|\"block\", \"note\": \"...\"}");
		goto out;
	}
	json_object_foreach(o, key, v) {
		bool known = false;

		for (size_t i = 0; i < PX_ARRAY_LEN(fields); i++)
			known |= !strcmp(key, fields[i]);
		if (!known) {
			px_resp_error(r, 400, "invalid_request",
				      "unknown field \"%.64s\" (action, note, reviewer, expected_status)",
				      key);
			goto out;
		}
	}
	if (!string_field(r, o, "action", 16, &rv.action) ||
	    !string_field(r, o, "note", 2000, &rv.note) ||
	    !string_field(r, o, "reviewer", 128, &who) ||
	    !string_field(r, o, "expected_status", 16, &rv.expect_status))
		goto out;
	if (!rv.action) {
		px_resp_error(r, 400, "invalid_request",
			      "field \"action\" is required: \"approve\" or \"block\"");
		goto out;
	}
	rv.expect_etag = px_req_header(r, "If-Match");
	if (rv.expect_etag && !strcmp(rv.expect_etag, "*"))
		rv.expect_etag = NULL;
	px_api_actor(a, r, who, &actor);
	rv.who = &actor;
	rc = px_moderation_review(a->mod, a->cat, id, &rv, &rec, &eb);
	if (rc == PX_EBUSY && eb.code && !strcmp(eb.code, "conflict")) {
		conflict(a, r, id, &eb);
		goto out;
	}
	if (rc) {
		px_app_fail(r, rc, &eb);
		goto out;
	}
	if (!strcmp(rec.status, "blocked"))
		px_api_cache_purge_image(a, &rec, "block");
	px_api_rec_etag(r, &rec);
	px_app_ok_json(r, 200, px_api_rec_json(a, &rec));
out:
	json_decref(o);
	px_image_rec_release(&rec);
}

/* GET /v1/moderation/policy: the policy in force, as SIGHUP left it. */
void px_api_moderation_policy(struct px_app *a, struct px_req *r,
			      const struct px_call *c)
{
	const char *text, *version;
	char when[40];
	int64_t at;
	time_t secs;
	struct tm tm;
	int nrules;

	if (!a->mod) {
		px_app_ok_json(r, 200, json_pack("{s:b}", "moderation", 0));
		return;
	}
	nrules = px_moderation_policy_info(a->mod, &text, &version, &at);
	secs = (time_t)(at / 1000000);
	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	px_app_ok_json(r, 200, json_pack("{s:b,s:s,s:s,s:i,s:s}", "moderation", 1,
					  "version", version, "text", text,
					  "rules", nrules, "loaded", when));
}

/* --- re-classification jobs --- */

static int reclass_judge(void *ctx, const void *data, size_t n,
			 struct px_image_rec *hashed, struct px_mod_result *res,
			 struct px_errbuf *eb)
{
	struct px_api_pdq_hit hit;
	int rc;

	if ((rc = px_api_pdq_upload(ctx, data, n, hashed, &hit, eb)))
		return rc;
	return px_api_pdq_fold(&hit, res);
}

static void reclass_changed(void *ctx, const struct px_image_rec *rec)
{
	if (strcmp(rec->status, "approved"))
		px_api_cache_purge_image(ctx, rec, "reclassify");
}

static bool reclass_busy(void *ctx)
{
	struct px_app *a = ctx;

	return a->pool && px_pool_load(a->pool) > 0;
}

void px_api_moderation_attach(struct px_app *a)
{
	struct px_reclass_hooks h = {reclass_judge, reclass_changed, reclass_busy,
				     a};

	px_reclass_attach(a->mod, &h);
}

static bool reclass_on(struct px_app *a, struct px_req *r)
{
	if (a->mod)
		return true;
	px_resp_error(r, 409, "moderation_off",
		      "moderation is off (--moderation off): there is nothing to re-classify with");
	return false;
}

static void job_answer(struct px_req *r, int status,
		       const struct px_reclass_job *j)
{
	char loc[80];

	snprintf(loc, sizeof(loc), "/v1/moderation/reclassify/%s", j->id);
	px_resp_header(r, "Location", loc);
	px_app_ok_json(r, status, px_reclass_job_json(j));
}

void px_api_reclassify_create(struct px_app *a, struct px_req *r,
			      const struct px_call *c)
{
	const struct px_buf *body = px_req_body(r);
	struct px_reclass_filter f;
	struct px_reclass_job job;
	struct px_errbuf eb = {0};
	const char *text, *version;
	struct px_actor who;
	int64_t at;
	int rc;

	if (!reclass_on(a, r))
		return;
	if ((rc = px_reclass_parse((const char *)body->data, body->len, &f, &eb))) {
		px_app_fail(r, rc, &eb);
		return;
	}
	px_moderation_policy_info(a->mod, &text, &version, &at);
	px_api_actor(a, r, NULL, &who);
	rc = px_reclass_create(a->cat, &f, px_moderation_model_name(), version,
			       &who, &job, &eb);
	if (rc) {
		px_app_fail(r, rc, &eb);
		return;
	}
	px_reclass_kick(a->mod);
	job_answer(r, 202, &job);
}

static int list_job(void *ctx, const struct px_reclass_job *j)
{
	json_t *o = px_reclass_job_json(j);

	if (!o)
		return PX_ENOMEM;
	json_array_append_new(ctx, o);
	return 0;
}

void px_api_reclassify_list(struct px_app *a, struct px_req *r,
			    const struct px_call *c)
{
	struct px_errbuf eb = {0};
	json_t *arr = json_array();
	int rc;

	if (!arr) {
		px_app_fail(r, PX_ENOMEM, &eb);
		return;
	}
	if ((rc = px_reclass_list(a->cat, 100, list_job, arr, &eb))) {
		json_decref(arr);
		px_app_fail(r, rc, &eb);
		return;
	}
	px_app_ok_json(r, 200, json_pack("{s:o}", "jobs", arr));
}

void px_api_reclassify_get(struct px_app *a, struct px_req *r,
			   const struct px_call *c)
{
	struct px_reclass_job job;
	struct px_errbuf eb = {0};
	char id[64];
	int rc;

	if (px_call_arg(c, "job", id, sizeof(id))) {
		px_resp_error(r, 404, "not_found", "reclassify job not found");
		return;
	}
	if ((rc = px_reclass_get(a->cat, id, &job, &eb))) {
		px_app_fail(r, rc, &eb);
		return;
	}
	px_app_ok_json(r, 200, px_reclass_job_json(&job));
}

void px_api_reclassify_cancel(struct px_app *a, struct px_req *r,
			      const struct px_call *c)
{
	struct px_reclass_job job;
	struct px_errbuf eb = {0};
	struct px_actor who;
	char id[64];
	int rc;

	if (px_call_arg(c, "job", id, sizeof(id))) {
		px_resp_error(r, 404, "not_found", "reclassify job not found");
		return;
	}
	px_api_actor(a, r, NULL, &who);
	if ((rc = px_reclass_cancel(a->cat, id, &who, &job, &eb))) {
		px_app_fail(r, rc, &eb);
		return;
	}
	px_reclass_kick(a->mod);
	px_app_ok_json(r, 200, px_reclass_job_json(&job));
}
