/*
 * webhooks.c - dead letters of the webhook outbox.
 *
 *   GET  /v1/webhooks/dead?per_page=&continuation_token=
 *   POST /v1/webhooks/dead/{id}/retry
 *
 * A dead letter is an event that failed every attempt; a retry puts it
 * back in the outbox, due at once, with its sequence number and event id
 * unchanged (receivers de-duplicate by event id).
 */
#include "api/app.h"

#include <jansson.h>

static int dead_one(void *ctx, const struct px_outbox_event *ev)
{
	json_t *o = json_pack("{s:s,s:I,s:o,s:i,s:I,s:o}", "id", ev->id, "seq",
			      (json_int_t)ev->seq, "image",
			      ev->image[0] ? json_string(ev->image) : json_null(),
			      "attempts", ev->attempts, "last_status",
			      (json_int_t)ev->last_status, "body",
			      json_loads(ev->body, 0, NULL));

	if (!o)
		return PX_ENOMEM;
	return json_array_append_new(ctx, o) ? PX_ENOMEM : 0;
}

void px_api_webhook_dead(struct px_app *a, struct px_req *r,
			 const struct px_call *c)
{
	char token[64], next[64];
	struct px_errbuf eb = {0};
	int per_page, rc;
	json_t *arr;

	if (!px_app_page_args(r, &per_page, token, sizeof(token)))
		return;
	arr = json_array();
	rc = px_catalog_dead_list(a->cat, token, per_page, dead_one, arr, next,
				  sizeof(next), &eb);
	if (rc) {
		json_decref(arr);
		px_app_fail(r, rc, &eb);
		return;
	}
	px_app_ok_json(r, 200, json_pack("{s:o,s:o}", "events", arr,
					  "continuation_token",
					  next[0] ? json_string(next) : json_null()));
}

void px_api_webhook_retry(struct px_app *a, struct px_req *r,
			  const struct px_call *c)
{
	struct px_errbuf eb = {0};
	char id[64];
	int rc;

	if (px_call_arg(c, "id", id, sizeof(id))) {
		px_resp_error(r, 404, "not_found", "no such dead letter");
		return;
	}
	rc = px_catalog_dead_retry(a->cat, id, &eb);
	if (rc) {
		px_app_fail(r, rc, &eb);
		return;
	}
	px_moderation_kick(a->mod);
	px_app_ok_json(r, 200, json_pack("{s:s,s:s}", "id", id, "status", "queued"));
}
