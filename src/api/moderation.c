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

void px_api_moderation_queue(struct px_app *a, struct px_req *r,
			     const struct px_call *c)
{
	char status[16] = "flagged", token[256], next[256];
	struct queue_ctx q = {a, NULL};
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
	rc = px_catalog_queue(a->cat, status, token, per_page, queue_one, &q,
			      next, sizeof(next), &eb);
	if (rc) {
		json_decref(q.arr);
		px_app_fail(r, rc, &eb);
		return;
	}
	px_app_ok_page(r, q.arr, next);
}

void px_api_moderation_review(struct px_app *a, struct px_req *r,
			      const struct px_call *c)
{
	const struct px_buf *body = px_req_body(r);
	char id[PX_ID_MAX + 1];
	struct px_errbuf eb = {0};
	struct px_image_rec rec;
	struct px_actor actor;
	const char *action, *note, *who;
	json_t *o;
	int rc;

	if (px_call_arg(c, "id", id, sizeof(id))) {
		px_resp_error(r, 404, "not_found", "image not found");
		return;
	}
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
	px_api_actor(a, r, who, &actor);
	rc = px_moderation_review(a->mod, a->cat, id, action, note, &actor,
				  &rec, &eb);
	if (rc) {
		px_app_fail(r, rc, &eb);
		goto out;
	}
	if (!strcmp(rec.status, "blocked"))
		px_api_cache_purge_image(a, &rec, "block");
	px_app_ok_json(r, 200, px_api_rec_json(a, &rec));
out:
	json_decref(o);
	px_image_rec_release(&rec);
}
