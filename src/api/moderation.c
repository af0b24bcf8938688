/*
 * moderation.c - the review API: the queue of images awaiting a person,
 * and the decision that approves or blocks one.
 *
 *   GET  /v1/moderation/queue?status=flagged&per_page=&continuation_token=
 *   POST /v1/images/{id}/moderation  {"action":"approve"|"block",
 *                                     "note":"...", "reviewer":"..."}
 */
#include "api/app.h"

#include <jansson.h>

struct queue_ctx {
	struct px_app *a;
	json_t *arr;
};

static int queue_one(void *ctx, const struct px_image_rec *rec)
{
	struct queue_ctx *q = ctx;
	json_t *o = px_api_rec_json(q->a, rec);

	if (!o)
		return PX_ENOMEM;
	json_array_append_new(q->arr, o);
	return 0;
}

void px_api_moderation_queue(struct px_app *a, struct px_req *r)
{
	char status[16] = "flagged", token[256] = "", next[256], num[16];
	struct queue_ctx q = {a, json_array()};
	struct px_errbuf eb = {0};
	long per_page = 100;
	char *end, *text;
	json_t *res;
	int rc;

	rc = px_req_query(r, "status", status, sizeof(status));
	if (rc && rc != PX_ENOTFOUND) {
		px_resp_error(r, 400, "invalid_request",
			      "status must be pending, flagged or blocked");
		goto out;
	}
	if (px_req_query(r, "per_page", num, sizeof(num)) == 0) {
		per_page = strtol(num, &end, 10);
		if (*end || per_page < 1 || per_page > 1000) {
			px_resp_error(r, 400, "invalid_request",
				      "per_page must be from 1 to 1000");
			goto out;
		}
	}
	rc = px_req_query(r, "continuation_token", token, sizeof(token));
	if (rc && rc != PX_ENOTFOUND) {
		px_resp_error(r, 400, "invalid_continuation_token",
			      "continuation_token is malformed");
		goto out;
	}
	rc = px_catalog_queue(a->cat, status, token, (int)per_page, queue_one,
			      &q, next, sizeof(next), &eb);
	if (rc) {
		px_app_fail(r, rc, &eb);
		goto out;
	}
	res = json_pack("{s:O,s:o}", "images", q.arr, "continuation_token",
			next[0] ? json_string(next) : json_null());
	text = res ? json_dumps(res, JSON_COMPACT) : NULL;
	if (text)
		px_app_ok(r, 200, text);
	else
		px_resp_error(r, 500, "internal_error", "out of memory");
	free(text);
	json_decref(res);
out:
	json_decref(q.arr);
}

void px_api_moderation_review(struct px_app *a, struct px_req *r,
			      const char *id)
{
	const struct px_buf *body = px_req_body(r);
	struct px_errbuf eb = {0};
	struct px_image_rec rec;
	const char *action, *note, *who;
	json_t *o, *rj;
	char *text;
	int rc;

	memset(&rec, 0, sizeof(rec));
	o = json_loadb((const char *)body->data, body->len,
		       JSON_REJECT_DUPLICATES, NULL);
	action = json_string_value(json_object_get(o, "action"));
	note = json_string_value(json_object_get(o, "note"));
	who = json_string_value(json_object_get(o, "reviewer"));
	if (!o || !json_is_object(o) || !action) {
		px_resp_error(r, 400, "invalid_request",
			      "the body must be {\"action\": \"approve\"|\"block\", \"note\": \"...\"}");
		goto out;
	}
	if ((note && strlen(note) > 2000) || (who && strlen(who) > 128)) {
		px_resp_error(r, 400, "invalid_request",
			      "note is limited to 2000 bytes, reviewer to 128");
		goto out;
	}
	rc = px_moderation_review(a->mod, a->cat, id, action, note,
				  who ? who : "admin", &rec, &eb);
	if (rc) {
		px_app_fail(r, rc, &eb);
		goto out;
	}
	rj = px_api_rec_json(a, &rec);
	text = rj ? json_dumps(rj, JSON_COMPACT) : NULL;
	if (text)
		px_app_ok(r, 200, text);
	else
		px_resp_error(r, 500, "internal_error", "out of memory");
	free(text);
	json_decref(rj);
out:
	json_decref(o);
	px_image_rec_release(&rec);
}
