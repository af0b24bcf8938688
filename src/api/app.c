/*
 * app.c - the route table, authentication and scopes, envelopes, health
 * and metrics.
 *
 * Every route is one row of routes[] below (methods, path pattern, scope,
 * handler); the router matches the row, checks the caller's token against
 * the row's scope, and calls the handler. Nothing else decides who may do
 * what.
 */
#include "api/app.h"
#include "console/console.h"
#include "core/crypto.h"
#include "core/log.h"

#include <jansson.h>
#include <strings.h>

int px_app_ok(struct px_req *r, int status, const char *result)
{
	struct px_buf b;

	px_buf_init(&b, 0);
	px_buf_adds(&b, "{\"success\":true,\"errors\":[],\"messages\":[],\"result\":");
	px_buf_adds(&b, result ? result : "null");
	px_buf_adds(&b, "}\n");
	return px_resp_buf(r, status, "application/json", &b);
}

void px_app_ok_json(struct px_req *r, int status, json_t *result)
{
	char *text = result ? json_dumps(result, JSON_COMPACT) : NULL;

	if (text)
		px_app_ok(r, status, text);
	else
		px_resp_error(r, 500, "internal_error", "out of memory");
	free(text);
	json_decref(result);
}

bool px_app_page_args(struct px_req *r, int *per_page, char *token,
		      size_t ntoken)
{
	char num[16], *end;
	long n;
	int rc;

	*per_page = 100;
	rc = px_req_query(r, "per_page", num, sizeof(num));
	if (rc == 0) {
		n = strtol(num, &end, 10);
		if (*end || n < 1 || n > 1000)
			rc = PX_EINVAL;
		else
			*per_page = (int)n;
	}
	if (rc && rc != PX_ENOTFOUND) {
		px_resp_error(r, 400, "invalid_request",
			      "per_page must be from 1 to 1000");
		return false;
	}
	*token = '\0';
	rc = px_req_query(r, "continuation_token", token, ntoken);
	if (rc && rc != PX_ENOTFOUND) {
		px_resp_error(r, 400, "invalid_continuation_token",
			      "continuation_token is malformed");
		return false;
	}
	return true;
}

void px_app_ok_page(struct px_req *r, json_t *arr, const char *next)
{
	px_app_ok_json(r, 200, json_pack("{s:o,s:o}", "images", arr,
					  "continuation_token",
					  next[0] ? json_string(next) : json_null()));
}

int px_app_audit(struct px_app *a, struct px_req *r, const char *action,
		 const json_t *before, const json_t *after)
{
	char *tb = before ? json_dumps(before, JSON_COMPACT) : NULL;
	char *ta = after ? json_dumps(after, JSON_COMPACT) : NULL;
	struct px_errbuf eb = {0};
	struct px_actor who;
	int rc;

	px_api_actor(a, r, NULL, &who);
	if ((before && !tb) || (after && !ta))
		rc = px_errf(&eb, PX_ENOMEM, "out of memory");
	else
		rc = px_catalog_audit(a->cat, NULL, action, &who, tb, ta, NULL, &eb);
	if (rc)
		px_logf(PX_LOG_ERROR, "audit entry \"%s\" not written: %s", action,
			eb.msg);
	free(tb);
	free(ta);
	return rc;
}

static int status_for(const char *code, int rc)
{
	static const struct {
		const char *code;
		int status;
	} map[] = {
		{"not_found", 404},
		{"too_many_variants", 409},
		{"flexible_variants_disabled", 403},
		{"variant_not_found", 404},
		{"already_exists", 409},
		{"unsupported_format", 415},
		{"too_many_pixels", 422},
		{"dimensions_too_large", 422},
		{"too_many_frames", 422},
		{"corrupt_image", 422},
		{"payload_too_large", 413},
		{"signature_required", 403},
		{"invalid_signature", 403},
		{"expired", 403},
		{"overloaded", 503},
		{"render_timeout", 503},
		{"content_blocked", 422},
		{"not_approved", 403},
		{"conflict", 409},
		{"storage_unavailable", 503},
		{"blob_store_unavailable", 503},
		{"blob_store_error", 503},
		{"too_many_tokens", 409},
		{"key_not_found", 404},
		{"too_many_keys", 409},
		{"keys_pinned", 409},
		{"invalid_upload_url", 403},
		{"upload_url_used", 409},
		{"upload_url_expired", 410},
		{"origin_not_allowed", 403},
		{"invalid_expiry", 400},
		{"url_not_allowed", 400},
		{"fetch_failed", 502},
	};

	if (code) {
		for (size_t i = 0; i < PX_ARRAY_LEN(map); i++)
			if (!strcmp(code, map[i].code))
				return map[i].status;
		if (rc == PX_EINVAL)
			return 400;
	}
	switch (rc) {
	case PX_ENOTFOUND: return 404;
	case PX_EEXIST: return 409;
	case PX_EINVAL: return 400;
	case PX_ETOOBIG: return 413;
	case PX_EUNSUPPORTED: return 415;
	case PX_ECORRUPT:
	case PX_ELIMIT: return 422;
	case PX_EBUSY: return 503;
	}
	return 500;
}

void px_app_fail(struct px_req *r, int rc, const struct px_errbuf *eb)
{
	int status = status_for(eb->code, rc);
	const char *code = eb->code;

	if (!code)
		code = status == 500 ? "internal_error"
		       : status == 404 ? "not_found"
		       : status == 400 ? "invalid_request"
				       : "internal_error";
	if (status == 500)
		px_log(PX_LOG_ERROR, eb->msg[0] ? eb->msg : px_err_name(rc),
		       NULL);
	px_resp_error(r, status, code, "%s",
		      eb->msg[0] ? eb->msg : px_err_name(rc));
}

static double worker_load(void *arg)
{
	struct px_app *a = arg;

	return a->pool ? px_pool_load(a->pool) : 0;
}

static double draining(void *arg)
{
	struct px_app *a = arg;

	return atomic_load(&a->draining) ? 1 : 0;
}

int px_app_metrics_init(struct px_app *a)
{
	struct px_metrics *m = px_metrics_new();
	const double *sec = px_buckets_seconds, *bytes = px_buckets_bytes;
	int nsec = px_buckets_seconds_n, nbytes = px_buckets_bytes_n;

	if (!m)
		return PX_ENOMEM;
	a->metrics = m;
	a->started_mono_s = px_mono_us() / 1000000;
	a->m.requests = px_metrics_counter(m, "pictor_http_requests_total",
					   "HTTP requests received", NULL);
	a->m.responses = px_metrics_counter(m, "pictor_http_responses_total",
					    "HTTP responses by status class", "class");
	a->m.duration = px_metrics_histogram(m, "pictor_http_request_duration_seconds",
					     "time from request to response, by route class and status",
					     "route,status", sec, nsec);
	a->m.uploads = px_metrics_counter(m, "pictor_uploads_total",
					  "images stored", NULL);
	a->m.upload_rejects = px_metrics_counter(m, "pictor_upload_rejects_total",
						 "uploads refused", NULL);
	a->m.upload_seconds = px_metrics_histogram(m, "pictor_upload_duration_seconds",
						   "time a worker spent validating, classifying and storing an upload",
						   NULL, sec, nsec);
	a->m.upload_bytes = px_metrics_histogram(m, "pictor_upload_size_bytes",
						 "size of uploaded image files",
						 NULL, bytes, nbytes);
	a->m.renders = px_metrics_counter(m, "pictor_renders_total",
					  "variants rendered", NULL);
	a->m.render_seconds = px_metrics_histogram(m, "pictor_render_duration_seconds",
						   "time a worker spent rendering a variant",
						   NULL, sec, nsec);
	a->m.queue_wait = px_metrics_histogram(m, "pictor_queue_wait_seconds",
					       "time a request waited for an image worker, by request class",
					       "class", sec, nsec);
	a->m.render_timeouts = px_metrics_counter(m, "pictor_render_timeouts_total",
						  "renders stopped at --render-timeout", NULL);
	a->m.renders_cancelled = px_metrics_counter(m, "pictor_renders_cancelled_total",
						    "renders stopped while running because their client hung up", NULL);
	a->m.not_modified = px_metrics_counter(m, "pictor_not_modified_total",
					       "304 answers", NULL);
	a->m.overloaded = px_metrics_counter(m, "pictor_overloaded_total",
					     "requests refused with 503 overloaded", NULL);
	a->m.classified = px_metrics_counter(m, "pictor_classified_total",
					     "uploads classified in the request", NULL);
	a->m.flagged = px_metrics_counter(m, "pictor_flagged_total",
					  "uploads flagged by the policy", NULL);
	a->m.blocked = px_metrics_counter(m, "pictor_blocked_total",
					  "uploads blocked by the policy", NULL);
	px_metrics_gauge_fn(m, "pictor_worker_load", "image jobs queued or running",
			    worker_load, a);
	px_metrics_gauge_fn(m, "pictor_draining", "1 while the server drains for shutdown",
			    draining, a);
	px_app_protect_metrics(a);
	return 0;
}

/* A small fixed set of route classes keeps the label cardinality low. */
static const char *route_class(struct px_app *a, struct px_req *r)
{
	const char *p = px_req_path(r), *cf = px_api_cf_route_class(a, r);

	if (cf)
		return cf;
	if (!strcmp(p, "/healthz") || !strcmp(p, "/readyz"))
		return "health";
	if (!strcmp(p, "/metrics"))
		return "metrics";
	if (!strcmp(p, "/v1/images") && !strcmp(px_req_method(r), "POST"))
		return "upload";
	if (!strncmp(p, "/v1/images", 10))
		return "images";
	if (!strncmp(p, "/v1/variants", 12))
		return "variants";
	if (!strncmp(p, "/v1/moderation", 14))
		return "moderation";
	if (!strncmp(p, "/img/", 5) || !strncmp(p, "/cdn-cgi/image/", 15))
		return "delivery";
	return "other";
}

void px_app_completed(void *app, struct px_req *r)
{
	struct px_app *a = app;
	int status = px_req_status(r);
	double wait = px_req_queue_seconds(r);
	char cls[4], code[8];
	const char *rc;

	if (status < 100 || status > 599)
		return;
	rc = route_class(a, r);
	snprintf(cls, sizeof(cls), "%dxx", status / 100);
	snprintf(code, sizeof(code), "%d", status);
	px_metric_add(a->m.responses, 1, cls);
	px_metric_observe(a->m.duration, px_req_seconds(r), rc, code);
	if (!strcmp(rc, "delivery"))
		px_api_stats_delivery(a);
	if (wait >= 0)
		px_metric_observe(a->m.queue_wait, wait, px_app_queue_class(r));
}

static void metrics(struct px_app *a, struct px_req *r,
		    const struct px_call *c)
{
	struct px_buf b;

	px_buf_init(&b, 0);
	if (px_metrics_render(a->metrics, &b)) {
		px_buf_release(&b);
		px_resp_error(r, 500, "internal_error", "out of memory");
		return;
	}
	px_resp_buf(r, 200, PX_METRICS_CONTENT_TYPE, &b);
}

static void readyz(struct px_app *a, struct px_req *r,
		   const struct px_call *c)
{
	struct px_errbuf eb = {0};
	const char *which;

	if (atomic_load(&a->draining)) {
		px_resp_error(r, 503, "draining", "shutting down");
		return;
	}
	if (px_catalog_health(a->cat, &which, &eb)) {
		/* which store, first, so a probe's log says where to look */
		px_resp_error(r, 503, "storage_unavailable", "%s store: %s",
			      which, eb.msg);
		return;
	}
	px_resp_bytes(r, 200, "application/json", "{\"status\":\"ready\"}\n",
		      19, false);
}

static void healthz(struct px_app *a, struct px_req *r,
		    const struct px_call *c)
{
	px_resp_bytes(r, 200, "application/json", "{\"status\":\"ok\"}\n", 16,
		      false);
}

static void deliver(struct px_app *a, struct px_req *r,
		    const struct px_call *c)
{
	px_api_deliver(a, r, px_req_path(r));
}

/*
 * The route table: every route the daemon answers, with the scope a
 * caller needs. A request is matched against the rows in order; the first
 * pattern that matches owns the path, and of the rows with that pattern
 * the one whose methods include the request's handles it; if none does,
 * 405 with Allow. Rows with {account_id} or {account_hash} captures match
 * only the configured account (px_api_cf_bound). `pictor routes`
 * prints this table and docs/API.md carries it.
 */
static const struct px_route routes[] = {
	{PX_M_GET, "/healthz", PX_SCOPE_PUBLIC, healthz,
	 "liveness"},
	{PX_M_GET, "/readyz", PX_SCOPE_PUBLIC, readyz,
	 "readiness: storage reachable, not draining"},
	{PX_M_GET, "/metrics", PX_SCOPE_PUBLIC, metrics,
	 "Prometheus metrics"},
	{PX_M_GET, "/admin", PX_SCOPE_PUBLIC, px_api_console_index,
	 "the admin console (index.html; --console)"},
	{PX_M_GET | PX_M_POST | PX_M_DELETE, "/admin/api/session",
	 PX_SCOPE_PUBLIC, px_api_console_session,
	 "console session: POST signs in with {\"token\"}, GET shows it, DELETE signs out"},
	{PX_M_GET, "/admin/{file}", PX_SCOPE_PUBLIC, px_api_console_file,
	 "the admin console's other files"},
	{PX_M_GET, "/v1/images", PX_SCOPE_IMAGES_READ, px_api_image_list,
	 "list images, newest first"},
	{PX_M_POST, "/v1/images", PX_SCOPE_IMAGES_WRITE, px_api_image_upload,
	 "upload an image"},
	{PX_M_POST, "/v1/images/direct_upload", PX_SCOPE_IMAGES_WRITE,
	 px_api_direct_create, "a one-time upload URL (direct creator upload)"},
	{PX_M_POST, "/v2/direct_upload", PX_SCOPE_IMAGES_WRITE,
	 px_api_direct_create, "the same, by Cloudflare's path"},
	{PX_M_POST, "/upload/{id}", PX_SCOPE_PUBLIC, px_api_direct_upload,
	 "the one upload a one-time URL takes (the URL is the credential)"},
	{PX_M_OPTIONS, "/upload/{id}", PX_SCOPE_PUBLIC, px_api_direct_preflight,
	 "CORS preflight for browsers (--cors-origins)"},
	{PX_M_GET, "/v1/images/{id}", PX_SCOPE_IMAGES_READ, px_api_image_get,
	 "an image's record"},
	{PX_M_PATCH, "/v1/images/{id}", PX_SCOPE_IMAGES_WRITE,
	 px_api_image_patch, "change metadata or requireSignedURLs"},
	{PX_M_DELETE, "/v1/images/{id}", PX_SCOPE_IMAGES_DELETE,
	 px_api_image_delete, "delete an image"},
	{PX_M_GET, "/v1/images/{id}/blob", PX_SCOPE_IMAGES_READ,
	 px_api_image_blob, "the original bytes"},
	{PX_M_GET, "/v1/images/{id}/thumbnail", PX_SCOPE_IMAGES_READ,
	 px_api_image_thumbnail,
	 "the console grid's 240x240 WebP thumbnail, for any moderation status"},
	{PX_M_GET, "/v1/images/{id}/srcset", PX_SCOPE_IMAGES_READ,
	 px_api_image_srcset,
	 "srcset and sizes strings for ?variant= at ?widths=, signed when needed"},
	{PX_M_GET, "/v1/images/{id}/url", PX_SCOPE_IMAGES_READ,
	 px_api_image_url,
	 "a delivery URL for ?variant= or ?options=, signed for ?ttl= seconds when needed"},
	{PX_M_GET, "/v1/images/{id}/similar", PX_SCOPE_IMAGES_READ,
	 px_api_image_similar,
	 "images whose PDQ hash is within ?distance= bits, nearest first"},
	{PX_M_POST, "/v1/images/{id}/moderation", PX_SCOPE_MODERATION_REVIEW,
	 px_api_moderation_review, "approve or block an image"},
	{PX_M_GET, "/v1/moderation/queue", PX_SCOPE_MODERATION_REVIEW,
	 px_api_moderation_queue, "images awaiting review"},
	{PX_M_GET, "/v1/moderation/policy", PX_SCOPE_MODERATION_REVIEW,
	 px_api_moderation_policy, "the moderation policy in force and its version"},
	{PX_M_POST, "/v1/moderation/reclassify", PX_SCOPE_ADMIN,
	 px_api_reclassify_create,
	 "judge existing images again under the model and policy in force (a background job)"},
	{PX_M_GET, "/v1/moderation/reclassify", PX_SCOPE_MODERATION_REVIEW,
	 px_api_reclassify_list, "re-classification jobs, newest first"},
	{PX_M_GET, "/v1/moderation/reclassify/{job}", PX_SCOPE_MODERATION_REVIEW,
	 px_api_reclassify_get, "a re-classification job: state, progress, outcomes"},
	{PX_M_POST, "/v1/moderation/reclassify/{job}/cancel", PX_SCOPE_ADMIN,
	 px_api_reclassify_cancel, "stop a running re-classification job"},
	{PX_M_GET, "/v1/webhooks/dead", PX_SCOPE_ADMIN, px_api_webhook_dead,
	 "webhook events that failed every attempt"},
	{PX_M_POST, "/v1/webhooks/dead/{id}/retry", PX_SCOPE_ADMIN,
	 px_api_webhook_retry, "queue a dead webhook event again"},
	{PX_M_GET, "/v1/audit", PX_SCOPE_ADMIN, px_api_audit_list,
	 "the audit log: who changed what, when"},
	{PX_M_GET, "/v1/audit/export", PX_SCOPE_ADMIN, px_api_audit_export,
	 "the audit log as JSON lines"},
	{PX_M_GET, "/v1/hashlists", PX_SCOPE_ADMIN, px_api_hashlist_list,
	 "hash lists of known images"},
	{PX_M_POST, "/v1/hashlists", PX_SCOPE_ADMIN, px_api_hashlist_create,
	 "create a hash list: name, action (block or flag), threshold"},
	{PX_M_GET, "/v1/hashlists/{name}", PX_SCOPE_ADMIN, px_api_hashlist_get,
	 "one hash list"},
	{PX_M_DELETE, "/v1/hashlists/{name}", PX_SCOPE_ADMIN,
	 px_api_hashlist_delete, "delete a hash list and its hashes"},
	{PX_M_POST, "/v1/hashlists/{name}/hashes", PX_SCOPE_ADMIN,
	 px_api_hashlist_import, "add PDQ hashes: hex lines or CSV"},
	{PX_M_GET, "/v1/stats", PX_SCOPE_STATS_READ, px_api_stats,
	 "counts by status, uploads per hour, delivery rate and cache hit ratio, verdicts"},
	{PX_M_GET, "/v1/variants", PX_SCOPE_IMAGES_READ, px_api_variant_list,
	 "list variants"},
	{PX_M_POST, "/v1/variants", PX_SCOPE_VARIANTS_WRITE,
	 px_api_variant_create, "create a variant"},
	{PX_M_GET, "/v1/variants/{name}", PX_SCOPE_IMAGES_READ,
	 px_api_variant_get, "one variant"},
	{PX_M_PATCH, "/v1/variants/{name}", PX_SCOPE_VARIANTS_WRITE,
	 px_api_variant_patch, "change a variant"},
	{PX_M_DELETE, "/v1/variants/{name}", PX_SCOPE_VARIANTS_WRITE,
	 px_api_variant_delete, "delete a variant"},
	{PX_M_POST, "/v1/tokens", PX_SCOPE_TOKENS_WRITE, px_api_token_create,
	 "create a scoped token; its secret is shown once"},
	{PX_M_GET, "/v1/tokens", PX_SCOPE_TOKENS_WRITE, px_api_token_list,
	 "list tokens (never their secrets)"},
	{PX_M_DELETE, "/v1/tokens/{id}", PX_SCOPE_TOKENS_WRITE,
	 px_api_token_revoke, "revoke a token"},
	{PX_M_POST, "/v1/cache/purge", PX_SCOPE_CACHE_PURGE, px_api_cache_purge,
	 "drop cached variants by image, by variant or all"},
	{PX_M_GET, "/img/{path*}", PX_SCOPE_PUBLIC, deliver,
	 "deliver a variant: /img/{id}/{variant or options}"},
	{PX_M_GET, "/cdn-cgi/image/{path*}", PX_SCOPE_PUBLIC, deliver,
	 "deliver: /cdn-cgi/image/{options}/{id}"},

	/* Cloudflare Images' own paths: the same operations, one handler
	 * each. {account_id} must name --account-id when it is set. */
	{PX_M_GET, "/accounts/{account_id}/images/v1", PX_SCOPE_IMAGES_READ,
	 px_api_cf_list_v1, "list images, oldest first, by page and per_page"},
	{PX_M_POST, "/accounts/{account_id}/images/v1", PX_SCOPE_IMAGES_WRITE,
	 px_api_image_upload, "upload an image"},
	{PX_M_GET, "/accounts/{account_id}/images/v2", PX_SCOPE_IMAGES_READ,
	 px_api_cf_list_v2,
	 "list images by continuation_token, per_page and sort_order"},
	{PX_M_POST, "/accounts/{account_id}/images/v2/direct_upload",
	 PX_SCOPE_IMAGES_WRITE, px_api_direct_create,
	 "a one-time upload URL (direct creator upload)"},
	{PX_M_GET, "/accounts/{account_id}/images/v1/stats",
	 PX_SCOPE_STATS_READ, px_api_cf_stats, "count.current and count.allowed"},
	{PX_M_GET, "/accounts/{account_id}/images/v1/keys", PX_SCOPE_ADMIN,
	 px_api_keys_list, "the signing keys, values shown"},
	{PX_M_PUT, "/accounts/{account_id}/images/v1/keys/{name}",
	 PX_SCOPE_ADMIN, px_api_keys_put, "create or rotate a signing key"},
	{PX_M_DELETE, "/accounts/{account_id}/images/v1/keys/{name}",
	 PX_SCOPE_ADMIN, px_api_keys_delete, "delete a signing key"},
	{PX_M_GET, "/accounts/{account_id}/images/v1/variants",
	 PX_SCOPE_IMAGES_READ, px_api_variant_list, "list variants"},
	{PX_M_POST, "/accounts/{account_id}/images/v1/variants",
	 PX_SCOPE_VARIANTS_WRITE, px_api_variant_create, "create a variant"},
	{PX_M_GET, "/accounts/{account_id}/images/v1/variants/{name}",
	 PX_SCOPE_IMAGES_READ, px_api_variant_get, "one variant"},
	{PX_M_PATCH, "/accounts/{account_id}/images/v1/variants/{name}",
	 PX_SCOPE_VARIANTS_WRITE, px_api_variant_patch, "change a variant"},
	{PX_M_DELETE, "/accounts/{account_id}/images/v1/variants/{name}",
	 PX_SCOPE_VARIANTS_WRITE, px_api_variant_delete, "delete a variant"},
	{PX_M_GET, "/accounts/{account_id}/images/v1/{id}", PX_SCOPE_IMAGES_READ,
	 px_api_image_get, "an image's record"},
	{PX_M_PATCH, "/accounts/{account_id}/images/v1/{id}",
	 PX_SCOPE_IMAGES_WRITE, px_api_image_patch,
	 "change metadata or requireSignedURLs"},
	{PX_M_DELETE, "/accounts/{account_id}/images/v1/{id}",
	 PX_SCOPE_IMAGES_DELETE, px_api_image_delete, "delete an image"},
	{PX_M_GET, "/accounts/{account_id}/images/v1/{id}/blob",
	 PX_SCOPE_IMAGES_READ, px_api_image_blob, "the original bytes"},

	/* imagedelivery.net's form. Last, and bound to --account-hash: with
	 * no hash configured, or another first segment, the row does not
	 * match. */
	{PX_M_GET, "/{account_hash}/{id}/{variant}", PX_SCOPE_PUBLIC,
	 px_api_cf_deliver,
	 "deliver: /{account_hash}/{id}/{variant or options} (--account-hash)"},
};

const struct px_route *px_app_routes(size_t *n)
{
	*n = PX_ARRAY_LEN(routes);
	return routes;
}

int px_app_routes_dump(struct px_buf *out, bool markdown)
{
	struct px_errbuf eb = {0};
	char allow[96];
	int rc = px_route_check(routes, PX_ARRAY_LEN(routes), &eb);

	if (rc) {
		fprintf(stderr, "pictor: %s\n", eb.msg);
		return rc;
	}
	if (markdown)
		rc = px_buf_adds(out, "| methods | path | scope | what |\n"
				      "|---|---|---|---|\n");
	else
		rc = px_buf_adds(out, "[");
	for (size_t i = 0; !rc && i < PX_ARRAY_LEN(routes); i++) {
		const struct px_route *rt = &routes[i];

		px_route_allow(rt->methods, allow, sizeof(allow));
		if (markdown) {
			rc = px_buf_addf(out, "| %s | `%s` | `%s` | %s |\n", allow,
					 rt->pattern, px_scope_name(rt->scope),
					 rt->summary ? rt->summary : "");
			continue;
		}
		/* "GET, HEAD" becomes ["GET","HEAD"] */
		px_buf_addf(out, "%s{\"methods\":[\"", i ? "," : "");
		for (const char *m = allow; *m; m++)
			if (*m == ',')
				px_buf_adds(out, "\",\"");
			else if (*m != ' ')
				px_buf_add(out, m, 1);
		px_buf_adds(out, "\"],\"path\":");
		px_json_quote(out, rt->pattern);
		rc = px_buf_addf(out, ",\"scope\":\"%s\"}",
				 px_scope_name(rt->scope));
	}
	return rc ? rc : px_buf_adds(out, markdown ? "" : "]\n");
}

/*
 * Who is calling: the bootstrap admin token (scope admin) or a scoped
 * token, both compared in constant time. On success the caller's scopes
 * land in *scopes and the request carries the token's id and name (never
 * the secret: nothing logs the Authorization header). On failure eb says
 * why: "unauthorized", "token_expired" or "address_not_allowed".
 */
static int authenticate(struct px_app *a, struct px_req *r, uint32_t *scopes,
			struct px_errbuf *eb)
{
	const char *h = px_req_header(r, "Authorization");
	char text[PX_IP_TEXT_MAX];
	struct px_ip ip, *client = NULL;
	struct px_token t;
	int rc;

	*scopes = 0;
	/* Without an Authorization header, the console's session cookie
	 * (checked for CSRF on state-changing methods) may stand in. */
	if (!h && (rc = px_console_authenticate(a->console, r, scopes, eb)) !=
			  PX_ENOTFOUND)
		return rc;
	if (!h || strncasecmp(h, "Bearer ", 7) || !h[7])
		return px_errc(eb, PX_EINVAL, "unauthorized", "no token");
	if (px_ct_streq(h + 7, a->cfg->admin_token)) {
		*scopes = PX_SCOPE_BIT(PX_SCOPE_ADMIN);
		return px_req_set_principal(r, "admin", "admin");
	}
	if (!a->tokens)
		return px_errc(eb, PX_EINVAL, "unauthorized", "not a valid token");
	if (px_req_client_ip(r, text, sizeof(text)) == 0 &&
	    px_ip_parse(text, &ip) == 0)
		client = &ip;
	if ((rc = px_tokens_check(a->tokens, h + 7, client, px_wall_us(), &t, eb)))
		return rc;
	*scopes = t.scopes;
	return px_req_set_principal(r, t.id, t.name);
}

/* The scope check every routed request passes; answers 401 or 403. */
static bool permitted(struct px_app *a, struct px_req *r, enum px_scope need,
		      uint32_t *have)
{
	struct px_errbuf eb = {0};
	char hdr[128];
	int rc;

	*have = 0;
	if (need == PX_SCOPE_PUBLIC)
		return true;
	if ((rc = authenticate(a, r, have, &eb))) {
		if (eb.code && (!strcmp(eb.code, "address_not_allowed") ||
				!strcmp(eb.code, "csrf_failed"))) {
			px_resp_error(r, 403, eb.code, "%s", eb.msg);
		} else if (rc == PX_EINVAL) {
			px_resp_header(r, "WWW-Authenticate", "Bearer");
			if (eb.code && !strcmp(eb.code, "token_expired"))
				px_resp_error(r, 401, eb.code, "%s", eb.msg);
			else
				px_resp_error(r, 401, "unauthorized",
					      "a valid \"Authorization: Bearer\" token is required");
		} else {
			px_app_fail(r, rc, &eb);
		}
		return false;
	}
	if (px_scope_allows(*have, need))
		return true;
	snprintf(hdr, sizeof(hdr),
		 "Bearer error=\"insufficient_scope\", scope=\"%s\"",
		 px_scope_name(need));
	px_resp_header(r, "WWW-Authenticate", hdr);
	px_resp_error(r, 403, "insufficient_scope",
		      "this token lacks the scope \"%s\"", px_scope_name(need));
	return false;
}

bool px_app_authenticated(struct px_app *a, struct px_req *r)
{
	struct px_errbuf eb = {0};
	uint32_t scopes;

	return authenticate(a, r, &scopes, &eb) == 0;
}

bool px_app_permitted(struct px_app *a, struct px_req *r, int need)
{
	uint32_t have;

	return permitted(a, r, (enum px_scope)need, &have);
}

const struct px_route *px_app_route_find(struct px_app *a, const char *path,
					 unsigned bit, struct px_call *c,
					 unsigned *allowed)
{
	const char *owner = NULL;

	*allowed = 0;
	for (size_t i = 0; i < PX_ARRAY_LEN(routes); i++) {
		/* The first pattern that matches owns the path: only its rows
		 * (one per method set) are tried, so /images/v1/keys is never
		 * taken for an image id by a later /images/v1/{id}. */
		if (owner && strcmp(routes[i].pattern, owner))
			continue;
		if (!px_route_match(routes[i].pattern, path, c) ||
		    !px_api_cf_bound(a, c))
			continue;
		owner = routes[i].pattern;
		if (!(routes[i].methods & bit)) {
			*allowed |= routes[i].methods;
			continue;
		}
		c->route = &routes[i];
		return &routes[i];
	}
	return NULL;
}

static void route(struct px_app *a, struct px_req *r)
{
	const char *path = px_req_path(r);
	const struct px_route *rt;
	unsigned allowed;
	char allow[96];
	struct px_call c;

	rt = px_app_route_find(a, path, px_route_method_bit(px_req_method(r)),
			       &c, &allowed);
	if (rt) {
		if (permitted(a, r, rt->scope, &c.scopes))
			rt->fn(a, r, &c);
		return;
	}
	if (!allowed) {
		px_resp_error(r, 404, "not_found", "no route for \"%.200s\"", path);
		return;
	}
	px_route_allow(allowed, allow, sizeof(allow));
	px_resp_header(r, "Allow", allow);
	px_resp_error(r, 405, "method_not_allowed", "method not allowed");
}

void px_app_handle(void *app, struct px_req *r)
{
	struct px_app *a = app;

	px_metric_add(a->m.requests, 1);
	route(a, r);
}
