/*
 * cloudflare.c - the parts of Cloudflare Images' API that Pictor's own
 * /v1 paths do not already answer, for the /accounts/{account_id}/images
 * path family (rows of the route table in app.c; the other operations of
 * that family are the /v1 handlers on a second row):
 *
 *   GET  .../images/v1?page=&per_page=          page-numbered list
 *   GET  .../images/v2?continuation_token=&per_page=&sort_order=
 *   GET  .../images/v1/stats                    {"count":{"current","allowed"}}
 *   GET/PUT/DELETE .../images/v1/keys[/{name}]  signing keys
 *
 * and the delivery form /{account_hash}/{id}/{variant} that
 * imagedelivery.net URLs use. The envelope, field names and limits are
 * Cloudflare's (docs/API.md).
 */
#include "api/app.h"
#include "core/log.h"
#include "delivery/keys.h"

#include <jansson.h>

/* Cloudflare's per_page range and default for both list versions. */
#define CF_PER_PAGE_MIN 10
#define CF_PER_PAGE_MAX 10000
#define CF_PER_PAGE_DEF 1000
/* Pictor sets no image limit: stats report the largest exact JSON
 * integer as the allowance. */
#define CF_ALLOWED 9007199254740991LL

bool px_api_cf_bound(struct px_app *a, const struct px_call *c)
{
	char val[256];
	int rc;

	rc = px_call_arg(c, "account_id", val, sizeof(val));
	if (rc != PX_ENOTFOUND &&
	    (rc || (a->cfg->account_id && strcmp(val, a->cfg->account_id))))
		return false;
	rc = px_call_arg(c, "account_hash", val, sizeof(val));
	if (rc != PX_ENOTFOUND &&
	    (rc || !a->cfg->account_hash || strcmp(val, a->cfg->account_hash)))
		return false;
	return true;
}

void px_api_variant_url(struct px_app *a, const char *id, const char *variant,
			char *out, size_t n)
{
	if (a->cfg->account_hash)
		snprintf(out, n, "%s/%s/%s/%s", a->public_url, a->cfg->account_hash,
			 id, variant);
	else
		snprintf(out, n, "%s/img/%s/%s", a->public_url, id, variant);
}

const char *px_api_cf_route_class(struct px_app *a, struct px_req *r)
{
	const char *p = px_req_path(r), *h = a->cfg->account_hash, *rest;
	size_t nh = h ? strlen(h) : 0;

	if (h && p[0] == '/' && !strncmp(p + 1, h, nh) && p[1 + nh] == '/')
		return "delivery";
	if (strncmp(p, "/accounts/", 10))
		return NULL;
	rest = strchr(p + 10, '/');
	if (!rest || strncmp(rest, "/images/", 8))
		return "other";
	rest += 8;
	if (!strcmp(rest, "v1") && !strcmp(px_req_method(r), "POST"))
		return "upload";
	if (!strncmp(rest, "v1/variants", 11))
		return "variants";
	return "images";
}

bool px_api_cf_dialect(struct px_req *r)
{
	return !strncmp(px_req_path(r), "/accounts/", 10);
}

/* An integer query parameter in [min, max], def when absent. */
static bool query_long(struct px_req *r, const char *name, long min, long max,
		       long def, long *out)
{
	char num[24], *end;
	long v;
	int rc = px_req_query(r, name, num, sizeof(num));

	*out = def;
	if (rc == PX_ENOTFOUND)
		return true;
	errno = 0;
	v = rc ? 0 : strtol(num, &end, 10);
	if (rc || errno || end == num || *end || v < min || v > max) {
		px_resp_error(r, 400, "invalid_request",
			      "%s must be an integer from %ld to %ld", name, min,
			      max);
		return false;
	}
	*out = v;
	return true;
}

struct list_ctx {
	struct px_app *a;
	json_t *arr;
	json_t *managed; /* managed variant names, read once per listing */
};

static int list_one(void *ctx, const struct px_image_rec *rec)
{
	struct list_ctx *lc = ctx;
	json_t *o = px_api_rec_json_with(lc->a, rec, lc->managed);

	if (!o)
		return PX_ENOMEM;
	json_array_append_new(lc->arr, o);
	return 0;
}

void px_api_cf_list_v1(struct px_app *a, struct px_req *r,
		       const struct px_call *c)
{
	struct list_ctx lc = {a, NULL, NULL};
	struct px_errbuf eb = {0};
	long page, per_page;
	char next[256];
	int rc;

	if (!query_long(r, "page", 1, 1000000000L, 1, &page) ||
	    !query_long(r, "per_page", CF_PER_PAGE_MIN, CF_PER_PAGE_MAX,
			CF_PER_PAGE_DEF, &per_page))
		return;
	/* Oldest first: new uploads land after the last page, so the
	 * page numbers of a walk in progress keep their contents. */
	lc.arr = json_array();
	lc.managed = px_api_managed_variants(a);
	rc = px_catalog_list_ordered(a->cat, true, NULL,
				     (uint64_t)(page - 1) * (uint64_t)per_page,
				     (int)per_page, list_one, &lc, next,
				     sizeof(next), &eb);
	json_decref(lc.managed);
	if (rc) {
		json_decref(lc.arr);
		px_app_fail(r, rc, &eb);
		return;
	}
	px_app_ok_json(r, 200, json_pack("{s:o}", "images", lc.arr));
}

void px_api_cf_list_v2(struct px_app *a, struct px_req *r,
		       const struct px_call *c)
{
	struct list_ctx lc = {a, NULL, NULL};
	struct px_errbuf eb = {0};
	char token[256], next[256], order[8];
	bool asc = false;
	long per_page;
	int rc;

	if (!query_long(r, "per_page", CF_PER_PAGE_MIN, CF_PER_PAGE_MAX,
			CF_PER_PAGE_DEF, &per_page))
		return;
	rc = px_req_query(r, "sort_order", order, sizeof(order));
	if (rc == 0 && (!strcmp(order, "asc") || !strcmp(order, "desc")))
		asc = !strcmp(order, "asc");
	else if (rc != PX_ENOTFOUND) {
		px_resp_error(r, 400, "invalid_request",
			      "sort_order must be asc or desc");
		return;
	}
	token[0] = '\0';
	rc = px_req_query(r, "continuation_token", token, sizeof(token));
	if (rc && rc != PX_ENOTFOUND) {
		px_resp_error(r, 400, "invalid_continuation_token",
			      "continuation_token is malformed");
		return;
	}
	lc.arr = json_array();
	lc.managed = px_api_managed_variants(a);
	rc = px_catalog_list_ordered(a->cat, asc, token, 0, (int)per_page,
				     list_one, &lc, next, sizeof(next), &eb);
	json_decref(lc.managed);
	if (rc) {
		json_decref(lc.arr);
		px_app_fail(r, rc, &eb);
		return;
	}
	px_app_ok_page(r, lc.arr, next);
}

void px_api_cf_stats(struct px_app *a, struct px_req *r,
		     const struct px_call *c)
{
	struct px_errbuf eb = {0};
	uint64_t n;
	int rc = px_catalog_count(a->cat, &n, &eb);

	if (rc) {
		px_app_fail(r, rc, &eb);
		return;
	}
	px_app_ok_json(r, 200, json_pack("{s:{s:I,s:I}}", "count", "current",
					  (json_int_t)n, "allowed",
					  (json_int_t)CF_ALLOWED));
}

static void answer_keys(struct px_app *a, struct px_req *r)
{
	struct px_buf b;

	px_buf_init(&b, 0);
	if (px_keys_json(a->keys, &b) || px_buf_add(&b, "", 1))
		px_resp_error(r, 500, "internal_error", "out of memory");
	else
		px_app_ok(r, 200, (const char *)b.data);
	px_buf_release(&b);
}

/* The {name} capture, or a 404 answer and false. */
static bool key_name(struct px_req *r, const struct px_call *c,
		     char name[PX_KEY_NAME_MAX + 1])
{
	int rc = px_call_arg(c, "name", name, PX_KEY_NAME_MAX + 1);

	if (rc || !px_keys_valid_name(name)) {
		px_resp_error(r, 400, "invalid_key_name",
			      "key names must match [A-Za-z0-9_-]{1,64}");
		return false;
	}
	return true;
}

/* Key changes go to the audit log by name; values never do. */
static void audit_key(struct px_app *a, struct px_req *r, const char *action,
		      const char *name)
{
	struct px_errbuf eb = {0};
	struct px_actor who;
	char note[PX_KEY_NAME_MAX + 16];

	snprintf(note, sizeof(note), "key \"%s\"", name);
	px_api_actor(a, r, NULL, &who);
	if (px_catalog_audit(a->cat, NULL, action, &who, NULL, NULL, note, &eb))
		px_logf(PX_LOG_WARN, "audit of %s: %s", action, eb.msg);
}

void px_api_keys_list(struct px_app *a, struct px_req *r,
		      const struct px_call *c)
{
	answer_keys(a, r);
}

void px_api_keys_put(struct px_app *a, struct px_req *r,
		     const struct px_call *c)
{
	char name[PX_KEY_NAME_MAX + 1];
	struct px_errbuf eb = {0};
	bool created;
	int rc;

	if (!key_name(r, c, name))
		return;
	if ((rc = px_keys_put(a->keys, name, &created, &eb))) {
		px_app_fail(r, rc, &eb);
		return;
	}
	audit_key(a, r, created ? "key_create" : "key_rotate", name);
	answer_keys(a, r);
}

void px_api_keys_delete(struct px_app *a, struct px_req *r,
			const struct px_call *c)
{
	char name[PX_KEY_NAME_MAX + 1];
	struct px_errbuf eb = {0};
	int rc;

	if (!key_name(r, c, name))
		return;
	if ((rc = px_keys_del(a->keys, name, &eb))) {
		px_app_fail(r, rc, &eb);
		return;
	}
	audit_key(a, r, "key_delete", name);
	answer_keys(a, r);
}

void px_api_cf_deliver(struct px_app *a, struct px_req *r,
		       const struct px_call *c)
{
	/* The row matched only the configured hash (px_api_cf_bound); the
	 * rest is /img/{id}/{variant}. Signatures are still checked over the
	 * request's own path, which is what Cloudflare signs. */
	const char *rest = px_req_path(r) + 1 + strcspn(px_req_path(r) + 1, "/");
	char path[2048];

	if ((size_t)snprintf(path, sizeof(path), "/img%s", rest) >= sizeof(path)) {
		px_resp_error(r, 414, "uri_too_long", "the path is too long");
		return;
	}
	px_api_deliver(a, r, path);
}
