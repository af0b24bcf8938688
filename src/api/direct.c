/*
 * direct.c - direct creator uploads, as Cloudflare Images has them:
 *
 *   POST /v1/images/direct_upload, /v2/direct_upload  (images:write)
 *        id, metadata, requireSignedURLs, expiry (multipart form, JSON
 *        or empty) -> {"id", "uploadURL"}
 *   POST    /upload/{id}?token=...   one multipart upload, no API token
 *   OPTIONS /upload/{id}             CORS preflight
 *
 * The draft (ingest/drafts.c) reserves the id; the upload URL carries a
 * secret only its hash is kept of. The upload runs the one upload
 * pipeline (px_api_upload_run) with the draft's fields. Browsers may use
 * the URL from the origins in --cors-origins; a request from any other
 * origin is refused before the URL is spent.
 */
#include "api/app.h"
#include "api/multipart.h"
#include "core/log.h"
#include "ingest/drafts.h"

#include <jansson.h>
#include <strings.h>

#define FIELD_MAX 2048

/* True if origin is in the comma-separated list ("*" allows any). */
static bool origin_allowed(const char *list, const char *origin)
{
	size_t no = strlen(origin);
	const char *p = list ? list : "";

	while (*p) {
		size_t n = strcspn(p, ",");
		const char *q = p;
		size_t m = n;

		while (m && *q == ' ') {
			q++;
			m--;
		}
		while (m && q[m - 1] == ' ')
			m--;
		if ((m == 1 && *q == '*') ||
		    (m == no && !strncasecmp(q, origin, no)))
			return true;
		p += n + (p[n] == ',');
	}
	return false;
}

/* CORS for the upload URL. No Origin header (not a browser): true. An
 * allowed origin: the headers are added, true. Otherwise 403, false. */
static bool cors(struct px_app *a, struct px_req *r)
{
	const char *origin = px_req_header(r, "Origin");

	if (!origin)
		return true;
	if (!origin_allowed(a->cfg->cors_origins, origin)) {
		px_resp_error(r, 403, "origin_not_allowed",
			      "uploads from the origin \"%.200s\" are not allowed (--cors-origins)",
			      origin);
		return false;
	}
	px_resp_header(r, "Access-Control-Allow-Origin", origin);
	px_resp_header(r, "Vary", "Origin");
	return true;
}

struct fields {
	char id[PX_ID_MAX + 1];
	char *meta;
	bool require_signed;
	char expiry[64];
};

static int take(struct fields *f, const char *name, const char *v, size_t n,
		struct px_errbuf *eb)
{
	if (!strcmp(name, "id")) {
		if (!n || n > PX_ID_MAX)
			goto bad_id;
		memcpy(f->id, v, n);
		f->id[n] = '\0';
		if (strlen(f->id) != n || !px_catalog_valid_id(f->id))
			goto bad_id;
	} else if (!strcmp(name, "metadata")) {
		free(f->meta);
		f->meta = NULL;
		return px_api_meta_check(v, n, &f->meta, eb);
	} else if (!strcmp(name, "requireSignedURLs")) {
		if (n == 4 && !strncasecmp(v, "true", 4))
			f->require_signed = true;
		else if (n == 5 && !strncasecmp(v, "false", 5))
			f->require_signed = false;
		else
			return px_errc(eb, PX_EINVAL, "invalid_request",
				       "requireSignedURLs must be true or false");
	} else if (!strcmp(name, "expiry")) {
		if (n >= sizeof(f->expiry))
			return px_errc(eb, PX_EINVAL, "invalid_expiry",
				       "expiry must be a UTC time such as 2030-01-01T00:00:00Z");
		memcpy(f->expiry, v, n);
		f->expiry[n] = '\0';
	} else {
		return px_errc(eb, PX_EINVAL, "invalid_request",
			       "unknown field \"%.64s\": use id, metadata, requireSignedURLs, expiry",
			       name);
	}
	return 0;
bad_id:
	return px_errc(eb, PX_EINVAL, "invalid_id",
		       "custom ids must match [A-Za-z0-9._~-]{1,128}");
}

/* The request's fields from a multipart form, a JSON object or nothing. */
static int read_fields(struct px_req *r, struct fields *f, struct px_errbuf *eb)
{
	const struct px_buf *body = px_req_body(r);
	const char *ct = px_req_header(r, "Content-Type");
	char boundary[80];
	int rc;

	if (!body->len)
		return 0;
	if (px_mp_boundary(ct, boundary, sizeof(boundary)) == 0) {
		struct px_multipart mp;

		if ((rc = px_mp_parse(body->data, body->len, boundary, &mp, eb)))
			return rc;
		for (int i = 0; i < mp.nparts; i++)
			if ((rc = take(f, mp.parts[i].name,
				       (const char *)mp.parts[i].data,
				       mp.parts[i].len, eb)))
				return rc;
		return 0;
	}
	{
		json_t *o = json_loadb((const char *)body->data, body->len,
				       JSON_REJECT_DUPLICATES, NULL), *v;
		const char *key;

		if (!json_is_object(o)) {
			json_decref(o);
			return px_errc(eb, PX_EINVAL, "invalid_request",
				       "send a multipart form or a JSON object");
		}
		rc = 0;
		json_object_foreach(o, key, v) {
			char *text = json_is_string(v)
					     ? strdup(json_string_value(v))
					     : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

			if (!text) {
				rc = PX_ENOMEM;
				break;
			}
			/* A string holding JSON (as forms send it) or the
			 * object itself are both fine for metadata. */
			rc = take(f, key, text, strlen(text), eb);
			free(text);
			if (rc)
				break;
		}
		json_decref(o);
		return rc;
	}
}

void px_api_direct_create(struct px_app *a, struct px_req *r,
			  const struct px_call *c)
{
	char secret[PX_DRAFT_SECRET_LEN + 1], when[32];
	struct px_errbuf eb = {0};
	struct px_image_rec rec;
	struct px_draft d;
	struct fields f;
	struct px_buf url;
	int64_t now = px_wall_us(), exp;
	json_t *out = NULL;
	int rc;

	memset(&f, 0, sizeof(f));
	memset(&d, 0, sizeof(d));
	memset(&rec, 0, sizeof(rec));
	px_buf_init(&url, 0);
	if ((rc = read_fields(r, &f, &eb)))
		goto fail;
	exp = now + (int64_t)PX_DRAFT_TTL_DEFAULT_S * 1000000;
	if (f.expiry[0] &&
	    (px_time_parse(f.expiry, &exp) || exp <= now ||
	     exp > now + (int64_t)PX_DRAFT_TTL_MAX_S * 1000000)) {
		rc = px_errc(&eb, PX_EINVAL, "invalid_expiry",
			     "expiry must be a UTC time in the future and at most 6 hours away");
		goto fail;
	}
	if (f.id[0] && px_catalog_get(a->cat, f.id, &rec, NULL) == 0) {
		rc = px_errc(&eb, PX_EEXIST, "already_exists",
			     "an image with the id \"%s\" exists", f.id);
		goto fail;
	}
	px_strlcpy(d.id, f.id, sizeof(d.id));
	d.meta = f.meta;
	f.meta = NULL;
	d.require_signed = f.require_signed;
	d.expires_us = exp;
	px_strlcpy(d.creator_id, px_req_principal_id(r) ?: "", sizeof(d.creator_id));
	px_strlcpy(d.creator_name, px_req_principal_name(r) ?: "",
		   sizeof(d.creator_name));
	if ((rc = px_drafts_create(a->drafts, &d, secret, &eb)))
		goto fail;
	px_buf_addf(&url, "%s/upload/%s?token=%s", a->public_url, d.id, secret);
	memset(secret, 0, sizeof(secret));
	px_time_format(d.expires_us, when);
	out = json_pack("{s:s,s:s,s:b,s:s}", "id", d.id, "expiry", when,
			"requireSignedURLs", d.require_signed, "meta", d.meta);
	px_app_audit(a, r, "direct_upload", NULL, out);
	json_decref(out);
	px_app_ok_json(r, 200, json_pack("{s:s,s:s}", "id", d.id, "uploadURL",
					 (const char *)url.data));
	goto out;
fail:
	px_app_fail(r, rc, &eb);
out:
	px_buf_release(&url);
	px_image_rec_release(&rec);
	px_draft_release(&d);
	free(f.meta);
}

static void preset_free(void *p)
{
	struct px_draft *d = p;

	px_draft_release(d);
	free(d);
}

static void direct_work(void *app, struct px_req *r)
{
	struct px_draft *d = px_req_data(r);
	struct px_upload_preset pre = {d->id, d->meta, d->require_signed};

	px_api_upload_run(app, r, &pre);
}

void px_api_direct_upload(struct px_app *a, struct px_req *r,
			  const struct px_call *c)
{
	char id[PX_ID_MAX + 1], token[PX_DRAFT_SECRET_LEN + 2], boundary[80];
	struct px_errbuf eb = {0};
	struct px_draft *d = NULL;
	int rc;

	if (!cors(a, r))
		return;
	if (px_call_arg(c, "id", id, sizeof(id))) {
		px_resp_error(r, 404, "not_found", "no upload URL like that");
		return;
	}
	/* Checks that cost nothing come before the URL is spent. */
	if (px_mp_boundary(px_req_header(r, "Content-Type"), boundary,
			   sizeof(boundary))) {
		px_resp_error(r, 400, "invalid_request",
			      "send the image as multipart/form-data with a \"file\" part");
		return;
	}
	if (px_req_query(r, "token", token, sizeof(token))) {
		px_resp_error(r, 403, "invalid_upload_url",
			      "the upload URL is not valid (altered or incomplete)");
		return;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		px_resp_error(r, 500, "internal_error", "out of memory");
		return;
	}
	if ((rc = px_drafts_claim(a->drafts, id, token, px_wall_us(), d, &eb))) {
		free(d);
		px_app_fail(r, rc, &eb);
		return;
	}
	memset(token, 0, sizeof(token));
	/* The change is the creator's, who handed out the URL. */
	px_req_set_principal(r, d->creator_id[0] ? d->creator_id : "anonymous",
			     d->creator_name[0] ? d->creator_name : "direct upload");
	px_req_set_data(r, d, preset_free);
	if (px_req_defer(r, direct_work)) {
		px_drafts_unclaim(a->drafts, id, NULL);
		px_metric_add(a->m.overloaded, 1);
		px_resp_header(r, "Retry-After", "1");
		px_resp_error(r, 503, "overloaded",
			      "all image workers are busy; retry later");
	}
}

void px_api_direct_preflight(struct px_app *a, struct px_req *r,
			     const struct px_call *c)
{
	if (!px_req_header(r, "Origin")) {
		px_resp_error(r, 400, "invalid_request",
			      "a CORS preflight needs an Origin header");
		return;
	}
	if (!cors(a, r))
		return;
	px_resp_header(r, "Access-Control-Allow-Methods", "POST");
	px_resp_header(r, "Access-Control-Allow-Headers", "Content-Type");
	px_resp_header(r, "Access-Control-Max-Age", "600");
	px_resp_empty(r, 204);
}

bool px_api_draft_reserved(struct px_app *a, const char *id)
{
	struct px_draft d;

	if (px_drafts_get(a->drafts, id, px_wall_us(), &d, NULL))
		return false;
	px_draft_release(&d);
	return true;
}

bool px_api_draft_answer(struct px_app *a, struct px_req *r, const char *id)
{
	char when[32], up[32];
	struct px_draft d;
	json_t *meta;

	if (px_drafts_get(a->drafts, id, px_wall_us(), &d, NULL))
		return false;
	px_time_format(d.expires_us, when);
	px_time_format(d.created_us, up);
	meta = json_loads(d.meta, 0, NULL);
	px_app_ok_json(r, 200,
		       json_pack("{s:s,s:b,s:s,s:s,s:b,s:o,s:[]}", "id", d.id,
				 "draft", true, "uploaded", up, "expiry", when,
				 "requireSignedURLs", d.require_signed, "meta",
				 meta ? meta : json_object(), "variants"));
	px_draft_release(&d);
	return true;
}
