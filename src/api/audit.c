/*
 * audit.c - the audit API: who changed what, when, kept after deletion.
 *
 *   GET /v1/audit?image=&actor=&since=&per_page=&continuation_token=
 *   GET /v1/audit/export?image=&actor=&since=    (JSON lines)
 *
 * since is an RFC 3339 time (2026-01-02T03:04:05Z) or unix seconds.
 */
#include "api/app.h"
#include "core/timefmt.h"

#include <jansson.h>

#define EXPORT_MAX (64u << 20) /* bytes of JSON lines in one answer */

void px_api_actor(struct px_app *a, struct px_req *r, const char *name,
		  struct px_actor *out)
{
	const char *id = px_req_principal_id(r);
	const char *own = px_req_principal_name(r);

	(void)a;
	memset(out, 0, sizeof(*out));
	px_strlcpy(out->id, id ? id : "anonymous", sizeof(out->id));
	px_strlcpy(out->name, name && *name ? name : own ? own : out->id,
		   sizeof(out->name));
}

/* Unix seconds, or an RFC 3339 UTC time. */
static int parse_since(const char *s, int64_t *us)
{
	char *e;
	long long v;

	if (!*s)
		return PX_EINVAL;
	v = strtoll(s, &e, 10);
	if (!*e && v >= 0 && v < 100000000000LL) {
		*us = (int64_t)v * 1000000;
		return 0;
	}
	return px_time_parse(s, us);
}

/* image, actor, since from the query; answers 400 and returns false on a
 * bad value. */
static bool filter_args(struct px_req *r, struct px_audit_filter *f,
			char *image, char *actor)
{
	char since[64];
	int rc;

	memset(f, 0, sizeof(*f));
	rc = px_req_query(r, "image", image, PX_ID_MAX + 1);
	if (rc == 0 && !px_catalog_valid_id(image))
		rc = PX_EINVAL;
	if (rc && rc != PX_ENOTFOUND) {
		px_resp_error(r, 400, "invalid_request",
			      "image must be an image id");
		return false;
	}
	f->image = rc ? NULL : image;
	rc = px_req_query(r, "actor", actor, 129);
	if (rc && rc != PX_ENOTFOUND) {
		px_resp_error(r, 400, "invalid_request",
			      "actor is limited to 128 bytes");
		return false;
	}
	f->actor = rc ? NULL : actor;
	rc = px_req_query(r, "since", since, sizeof(since));
	if (rc == 0)
		rc = parse_since(since, &f->since_us);
	if (rc && rc != PX_ENOTFOUND) {
		px_resp_error(r, 400, "invalid_request",
			      "since must be an RFC 3339 UTC time or unix seconds");
		return false;
	}
	return true;
}

static int add_entry(void *ctx, const char *json, size_t n)
{
	json_t *o = json_loadb(json, n, 0, NULL);

	if (!o)
		return PX_ECORRUPT;
	return json_array_append_new(ctx, o) ? PX_ENOMEM : 0;
}

static int add_line(void *ctx, const char *json, size_t n)
{
	struct px_buf *b = ctx;

	if (b->len + n + 1 > EXPORT_MAX)
		return 1;
	if (px_buf_add(b, json, n) || px_buf_add(b, "\n", 1))
		return PX_ENOMEM;
	return 0;
}

static void list(struct px_app *a, struct px_req *r)
{
	char image[PX_ID_MAX + 1], actor[129], token[256], next[64];
	struct px_audit_filter f;
	struct px_errbuf eb = {0};
	int per_page, rc;
	json_t *arr;

	if (!filter_args(r, &f, image, actor) ||
	    !px_app_page_args(r, &per_page, token, sizeof(token)))
		return;
	arr = json_array();
	rc = px_catalog_audit_list(a->cat, &f, token, per_page, add_entry, arr,
				   next, sizeof(next), &eb);
	if (rc) {
		json_decref(arr);
		px_app_fail(r, rc, &eb);
		return;
	}
	px_app_ok_json(r, 200, json_pack("{s:o,s:o}", "entries", arr,
					  "continuation_token",
					  next[0] ? json_string(next) : json_null()));
}

static void export(struct px_app *a, struct px_req *r)
{
	char image[PX_ID_MAX + 1], actor[129], next[64];
	struct px_audit_filter f;
	struct px_errbuf eb = {0};
	struct px_buf b;
	int rc;

	if (!filter_args(r, &f, image, actor))
		return;
	px_buf_init(&b, 0);
	rc = px_catalog_audit_list(a->cat, &f, NULL, INT32_MAX, add_line, &b,
				   next, sizeof(next), &eb);
	if (rc) {
		px_buf_release(&b);
		px_app_fail(r, rc, &eb);
		return;
	}
	px_resp_buf(r, 200, "application/x-ndjson", &b);
}

void px_api_audit_list(struct px_app *a, struct px_req *r,
		       const struct px_call *c)
{
	list(a, r);
}

void px_api_audit_export(struct px_app *a, struct px_req *r,
			 const struct px_call *c)
{
	export(a, r);
}
