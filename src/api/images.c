/*
 * images.c - the images API: /v1/images, shaped after Cloudflare Images.
 *
 * Reads answer on the network thread (one LMDB read transaction each).
 * Uploads are deferred to the worker pool because they decode the image.
 */
#include "api/app.h"
#include "core/utf8.h"
#include "api/multipart.h"
#include "core/crypto.h"
#include "core/log.h"
#include "ingest/fetch.h"

#include <jansson.h>
#include <strings.h>
#include <time.h>

#define META_MAX 1024

/* Managed variants join the configured ones (a name in both is listed
 * once). Their names are read once per answer and reused for every
 * record of a listing. */
struct managed_names {
	struct px_app *a;
	json_t *names;
};

static int add_variant_name(void *ctx, const struct px_variant *v)
{
	struct managed_names *mn = ctx;

	if (!px_config_variant(mn->a->cfg, v->name))
		json_array_append_new(mn->names, json_string(v->name));
	return 0;
}

json_t *px_api_managed_variants(struct px_app *a)
{
	struct managed_names mn = {a, json_array()};

	if (mn.names)
		px_catalog_variant_list(a->cat, add_variant_name, &mn, NULL);
	return mn.names;
}

void px_api_rec_etag(struct px_req *r, const struct px_image_rec *rec)
{
	char etag[PX_REC_ETAG_MAX];

	if (px_catalog_etag(rec, etag) == 0)
		px_resp_header(r, "ETag", etag);
}

json_t *px_api_rec_json(struct px_app *a, const struct px_image_rec *rec)
{
	json_t *managed = px_api_managed_variants(a);
	json_t *o = px_api_rec_json_with(a, rec, managed);

	json_decref(managed);
	return o;
}

json_t *px_api_rec_json_with(struct px_app *a, const struct px_image_rec *rec,
			     const json_t *managed)
{
	char etag[PX_REC_ETAG_MAX];
	char when[64], url[1024];
	time_t secs = (time_t)(rec->uploaded_us / 1000000);
	json_t *o, *variants, *meta;
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + strlen(when), sizeof(when) - strlen(when), ".%03dZ",
		 (int)(rec->uploaded_us / 1000 % 1000));
	variants = json_array();
	for (int i = 0; i < a->cfg->n_variants; i++) {
		px_api_variant_url(a, rec->id, a->cfg->variants[i].name, url,
				   sizeof(url));
		json_array_append_new(variants, json_string(url));
	}
	for (size_t i = 0; managed && i < json_array_size(managed); i++) {
		px_api_variant_url(a, rec->id,
				   json_string_value(json_array_get(managed, i)),
				   url, sizeof(url));
		json_array_append_new(variants, json_string(url));
	}
	meta = json_loads(rec->meta ? rec->meta : "{}", 0, NULL);
	o = json_pack("{s:s,s:s,s:s,s:b,s:o,s:o,s:i,s:i,s:s,s:I,s:s,s:i,s:b,s:s}",
		      "id", rec->id, "filename", rec->filename, "uploaded", when,
		      "requireSignedURLs", rec->require_signed, "meta",
		      meta ? meta : json_object(), "variants", variants, "width",
		      rec->width, "height", rec->height, "format", rec->format,
		      "bytes", (json_int_t)rec->bytes, "sha256", rec->sha256,
		      "frames", rec->frames, "alpha", rec->alpha, "status",
		      rec->status);
	if (o && rec->original_deleted)
		json_object_set_new(o, "original_deleted", json_true());
	if (o && px_catalog_etag(rec, etag) == 0)
		json_object_set_new(o, "etag", json_string(etag));
	if (o && rec->moderation)
		json_object_set_new(o, "moderation",
				    json_loads(rec->moderation, 0, NULL));
	if (o && rec->audit)
		json_object_set_new(o, "audit", json_loads(rec->audit, 0, NULL));
	if (o && rec->pdq[0]) {
		json_object_set_new(o, "pdq", json_string(rec->pdq));
		json_object_set_new(o, "pdq_quality", json_integer(rec->pdq_quality));
	}
	if (o && rec->faces.known)
		json_object_set_new(o, "faces", px_rec_faces_json(&rec->faces));
	return o;
}

static void answer_rec(struct px_app *a, struct px_req *r, int status,
		       const struct px_image_rec *rec)
{
	px_api_rec_etag(r, rec);
	px_app_ok_json(r, status, px_api_rec_json(a, rec));
}

/* Validate a metadata JSON text; on success *out is its compact form. */
static int check_meta(const char *text, size_t n, char **out,
		      struct px_errbuf *eb)
{
	json_t *o;

	*out = NULL;
	if (n > META_MAX)
		return px_errc(eb, PX_EINVAL, "invalid_metadata",
			       "metadata is %zu bytes, over the limit of %d", n,
			       META_MAX);
	o = json_loadb(text, n, JSON_REJECT_DUPLICATES, NULL);
	if (!o || !json_is_object(o)) {
		json_decref(o);
		return px_errc(eb, PX_EINVAL, "invalid_metadata",
			       "metadata must be a JSON object");
	}
	*out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return *out ? 0 : PX_ENOMEM;
}

static int parse_bool(const char *v, size_t n, bool *out)
{
	if (n == 4 && !strncasecmp(v, "true", 4))
		*out = true;
	else if (n == 5 && !strncasecmp(v, "false", 5))
		*out = false;
	else if (n == 1 && (*v == '1' || *v == '0'))
		*out = *v == '1';
	else
		return PX_EINVAL;
	return 0;
}

struct upload {
	const unsigned char *data;
	size_t n;
	char *url;              /* upload from a URL: fetched into fetched */
	struct px_buf fetched;
	char id[PX_ID_MAX + 1];
	char filename[256];
	char *meta;
	bool require_signed;
};

/* A "url" part: upload from that URL instead of a file. */
static int url_part(const struct px_multipart *mp, struct upload *u,
		    struct px_errbuf *eb)
{
	const struct px_mp_part *p = px_mp_get(mp, "url");

	if (!p)
		return 0;
	if (px_mp_get(mp, "file"))
		return px_errc(eb, PX_EINVAL, "invalid_request",
			       "send a \"file\" or a \"url\", not both");
	if (!p->len || p->len > 4096 || memchr(p->data, '\0', p->len))
		return px_errc(eb, PX_EINVAL, "url_not_allowed",
			       "url not allowed (malformed): empty or over 4096 bytes");
	u->url = strndup((const char *)p->data, p->len);
	return u->url ? 0 : PX_ENOMEM;
}

/* A filename must be well-formed UTF-8 (it goes into JSON); a long one
 * is cut on a character boundary. */
static int bad_filename(struct px_errbuf *eb)
{
	return px_errc(eb, PX_EINVAL, "invalid_filename",
		       "the filename is not well-formed UTF-8");
}

/* A JSON body: {"url", "id", "metadata", "requireSignedURLs"}. */
static int json_fields(const struct px_buf *body, struct upload *u,
		       struct px_errbuf *eb)
{
	json_t *o = json_loadb((const char *)body->data, body->len,
			       JSON_REJECT_DUPLICATES, NULL), *v;
	const char *key;
	int rc = 0;

	if (!json_is_object(o)) {
		rc = px_errc(eb, PX_EINVAL, "invalid_request",
			     "a JSON upload is an object with a \"url\"");
		goto out;
	}
	json_object_foreach(o, key, v) {
		if (!strcmp(key, "url") && json_is_string(v) &&
		    json_string_length(v) && json_string_length(v) <= 4096 &&
		    !memchr(json_string_value(v), '\0', json_string_length(v))) {
			if (!(u->url = strdup(json_string_value(v))))
				rc = PX_ENOMEM;
		} else if (!strcmp(key, "url")) {
			rc = px_errc(eb, PX_EINVAL, "url_not_allowed",
				     "url not allowed (malformed): a string of 1 to 4096 bytes");
		} else if (!strcmp(key, "id") && json_is_string(v) &&
			   json_string_length(v) <= PX_ID_MAX) {
			px_strlcpy(u->id, json_string_value(v), sizeof(u->id));
			if (!px_catalog_valid_id(u->id))
				rc = px_errc(eb, PX_EINVAL, "invalid_id",
					     "custom ids must match [A-Za-z0-9._~-]{1,128}");
		} else if (!strcmp(key, "id")) {
			rc = px_errc(eb, PX_EINVAL, "invalid_id",
				     "custom ids must match [A-Za-z0-9._~-]{1,128}");
		} else if (!strcmp(key, "metadata")) {
			char *text = json_is_string(v)
					     ? strdup(json_string_value(v))
					     : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

			rc = text ? check_meta(text, strlen(text), &u->meta, eb)
				  : PX_ENOMEM;
			free(text);
		} else if (!strcmp(key, "requireSignedURLs") && json_is_boolean(v)) {
			u->require_signed = json_is_true(v);
		} else if (!strcmp(key, "requireSignedURLs") && json_is_string(v)) {
			if (parse_bool(json_string_value(v), json_string_length(v),
				       &u->require_signed))
				rc = px_errc(eb, PX_EINVAL, "invalid_request",
					     "requireSignedURLs must be true or false");
		} else {
			rc = px_errc(eb, PX_EINVAL, "invalid_request",
				     "unknown or malformed field \"%.64s\"", key);
		}
		if (rc)
			break;
	}
	if (!rc && !u->url)
		rc = px_errc(eb, PX_EINVAL, "invalid_request",
			     "a JSON upload needs a \"url\"");
out:
	json_decref(o);
	return rc;
}

/* Upload from a URL: fetch it (ingest/fetch.c) and take the bytes as if
 * they had been uploaded. */
static int fetch_url(struct px_app *a, struct upload *u, struct px_errbuf *eb)
{
	char name[128];
	int rc;

	if (!a->fetch)
		return px_errc(eb, PX_EINVAL, "url_not_allowed",
			       "upload from a URL is not available");
	px_buf_init(&u->fetched, 0);
	if ((rc = px_fetch(a->fetch, u->url, &u->fetched, name, eb)))
		return rc;
	u->data = u->fetched.data;
	u->n = u->fetched.len;
	if (!u->filename[0] &&
	    px_utf8_copy(u->filename, sizeof(u->filename), name) == PX_EINVAL)
		return bad_filename(eb);
	if (!u->n)
		return px_errc(eb, PX_EINVAL, "empty_body",
			       "the URL answered with an empty body");
	return 0;
}

/* Gather the upload's fields from a multipart body or the query string. */
static int upload_fields(struct px_req *r, struct upload *u,
			 struct px_errbuf *eb)
{
	const struct px_buf *body = px_req_body(r);
	const char *ct = px_req_header(r, "Content-Type");
	char boundary[80], tmp[META_MAX * 3 + 1];
	int rc;

	if (px_mp_boundary(ct, boundary, sizeof(boundary)) == 0) {
		struct px_multipart mp;
		const struct px_mp_part *p;

		if ((rc = px_mp_parse(body->data, body->len, boundary, &mp, eb)))
			return rc;
		if ((rc = url_part(&mp, u, eb)))
			return rc;
		if (!(p = px_mp_get(&mp, "file")) && !u->url)
			return px_errc(eb, PX_EINVAL, "invalid_request",
				       "multipart upload needs a \"file\" or \"url\" part");
		if (p) {
			u->data = p->data;
			u->n = p->len;
			if (p->filename_bad)
				return bad_filename(eb);
			snprintf(u->filename, sizeof(u->filename), "%s", p->filename);
		}
		if ((p = px_mp_get(&mp, "id"))) {
			if (!p->len || p->len > PX_ID_MAX)
				goto bad_id;
			memcpy(u->id, p->data, p->len);
			u->id[p->len] = '\0';
		}
		if ((p = px_mp_get(&mp, "metadata")) &&
		    (rc = check_meta((const char *)p->data, p->len, &u->meta, eb)))
			return rc;
		if ((p = px_mp_get(&mp, "requireSignedURLs")) &&
		    parse_bool((const char *)p->data, p->len, &u->require_signed))
			return px_errc(eb, PX_EINVAL, "invalid_request",
				       "requireSignedURLs must be true or false");
	} else if (ct && !strncasecmp(ct, "multipart/", 10)) {
		return px_errc(eb, PX_EINVAL, "invalid_request",
			       "multipart body without a usable boundary");
	} else if (ct && !strncasecmp(ct, "application/json", 16)) {
		if ((rc = json_fields(body, u, eb)))
			return rc;
	} else {
		u->data = body->data;
		u->n = body->len;
		rc = px_req_query(r, "id", tmp, sizeof(tmp));
		if (rc == 0) {
			if (strlen(tmp) > PX_ID_MAX)
				goto bad_id;
			strcpy(u->id, tmp);
		} else if (rc != PX_ENOTFOUND) {
			goto bad_id;
		}
		if (px_req_query(r, "filename", tmp, sizeof(tmp)) == 0 &&
		    px_utf8_copy(u->filename, sizeof(u->filename), tmp) == PX_EINVAL)
			return bad_filename(eb);
		rc = px_req_query(r, "metadata", tmp, sizeof(tmp));
		if (rc == PX_ETOOBIG || rc == PX_EINVAL)
			return px_errc(eb, PX_EINVAL, "invalid_metadata",
				       "metadata must be a JSON object of at most %d bytes",
				       META_MAX);
		if (rc == 0 && (rc = check_meta(tmp, strlen(tmp), &u->meta, eb)))
			return rc;
		if (px_req_query(r, "requireSignedURLs", tmp, sizeof(tmp)) == 0 &&
		    parse_bool(tmp, strlen(tmp), &u->require_signed))
			return px_errc(eb, PX_EINVAL, "invalid_request",
				       "requireSignedURLs must be true or false");
	}
	if (u->id[0] && !px_catalog_valid_id(u->id))
		goto bad_id;
	if (!u->n && !u->url)
		return px_errc(eb, PX_EINVAL, "empty_body",
			       "the upload is empty: send the image bytes");
	return 0;
bad_id:
	return px_errc(eb, PX_EINVAL, "invalid_id",
		       "custom ids must match [A-Za-z0-9._~-]{1,128}");
}

/* A direct upload's draft decides the id, metadata and signing. */
static int apply_preset(struct upload *u, const struct px_upload_preset *pre)
{
	free(u->meta);
	u->meta = strdup(pre->meta ? pre->meta : "{}");
	px_strlcpy(u->id, pre->id, sizeof(u->id));
	u->require_signed = pre->require_signed;
	return u->meta ? 0 : PX_ENOMEM;
}

/* Worker: validate, decode once, store. */
/*
 * 422 content_blocked for an upload the policy blocked under refuse, with
 * the verdict's scores and rule as its result ({"moderation": {"scores",
 * "verdict", "rule"}}) so the uploader sees why. A hash-list match's
 * detail is left out: the rule names the list, nothing more.
 */
static void fail_blocked(struct px_req *r, const struct px_errbuf *eb,
			 const char *mod_json)
{
	json_t *m = mod_json ? json_loads(mod_json, 0, NULL) : NULL;
	json_t *o = NULL;
	char *text = NULL;

	if (m)
		o = json_pack("{s:{s:O*,s:O*,s:O*}}", "moderation", "scores",
			      json_object_get(m, "scores"), "verdict",
			      json_object_get(m, "verdict"), "rule",
			      json_object_get(m, "rule"));
	if (o)
		text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
	px_resp_error_result(r, 422, "content_blocked", text, "%s", eb->msg);
	free(text);
	json_decref(o);
	json_decref(m);
}

void px_api_upload_run(struct px_app *a, struct px_req *r,
		       const struct px_upload_preset *pre)
{
	struct px_errbuf eb = {0};
	struct px_image_info info;
	struct px_image_rec rec;
	struct px_mod_result res;
	struct px_api_pdq_hit hit;
	struct upload u;
	struct px_actor who;
	int64_t t0 = px_mono_us();
	char loc[PX_ID_MAX + 16], *event = NULL;
	bool refused = false; /* blocked under refuse: the 422 has scores */
	int rc, status = 201;

	memset(&u, 0, sizeof(u));
	memset(&rec, 0, sizeof(rec));
	memset(&res, 0, sizeof(res));
	if ((rc = upload_fields(r, &u, &eb)))
		goto out;
	if (pre && u.url) {
		rc = px_errc(&eb, PX_EINVAL, "invalid_request",
			     "an upload URL takes a file, not a url");
		goto out;
	}
	if (pre && (rc = apply_preset(&u, pre)))
		goto out;
	if (!pre && u.id[0] && px_api_draft_reserved(a, u.id)) {
		rc = px_errc(&eb, PX_EEXIST, "already_exists",
			     "an upload URL reserves the id \"%s\"", u.id);
		goto out;
	}
	if (u.url && (rc = fetch_url(a, &u, &eb)))
		goto out;
	if ((rc = px_image_probe(u.data, u.n, &a->lim, &info, &eb)))
		goto out;
	if ((rc = px_image_verify(u.data, u.n, &eb)))
		goto out;
	snprintf(rec.id, sizeof(rec.id), "%s", u.id);
	snprintf(rec.filename, sizeof(rec.filename), "%s", u.filename);
	rec.meta = u.meta ? u.meta : strdup("{}");
	u.meta = NULL;
	rec.require_signed = u.require_signed;
	rec.width = info.width;
	rec.height = info.height;
	rec.frames = info.frames;
	rec.alpha = info.has_alpha;
	snprintf(rec.format, sizeof(rec.format), "%s", px_fmt_name(info.format));
	if (!rec.meta) {
		rc = PX_ENOMEM;
		goto out;
	}
	/* The id is known before storing so events can name it. */
	if (!rec.id[0] && (rc = px_uuid7(rec.id)))
		goto out;
	/* PDQ hash into the record; a hash-list match decides at once. */
	if ((rc = px_api_pdq_upload(a, u.data, u.n, &rec, &hit, &eb)))
		goto out;
	if (a->mod && a->mod_async && !hit.m.action) {
		/* Classified in the background from a durable job. */
		snprintf(rec.status, sizeof(rec.status), "pending");
		status = 202;
	} else if (a->mod || hit.m.action) {
		if (a->mod && !a->mod_async) {
			if ((rc = px_moderation_classify(a->mod, u.data, u.n,
							 &res, &eb)))
				goto out;
			px_metric_add(a->m.classified, 1);
		}
		if ((rc = px_api_pdq_fold(&hit, &res)))
			goto out;
		/* A review of these exact bytes decides (moderation.h). */
		if ((rc = px_moderation_remembered(a->mod, a->cat, u.data, u.n,
						   &res, &eb)))
			goto out;
		if (res.verdict == PX_VERDICT_BLOCK) {
			px_metric_add(a->m.blocked, 1);
			if (!a->mod_quarantine) {
				/* Nothing is stored, but the operator still
				 * hears of the attempt. */
				snprintf(rec.status, sizeof(rec.status), "blocked");
				event = px_moderation_event(a->mod, &rec, &res);
				if (event &&
				    px_catalog_notify(a->cat, event, NULL) == 0)
					px_moderation_kick(a->mod);
				rc = px_errc(&eb, PX_EINVAL, "content_blocked",
					     "the image was blocked by the moderation policy (rule \"%s\")",
					     res.rule);
				refused = true;
				goto out;
			}
		} else if (res.verdict == PX_VERDICT_FLAG) {
			px_metric_add(a->m.flagged, 1);
		}
		snprintf(rec.status, sizeof(rec.status), "%s",
			 px_verdict_status(res.verdict));
		event = px_moderation_event(a->mod, &rec, &res);
		rec.moderation = res.json;
		res.json = NULL;
	}
	/* Faces where classification runs: here unless a background job
	 * classifies the upload (it detects them too). */
	if (strcmp(rec.status, "pending"))
		px_api_faces_upload(a, u.data, u.n, &rec);
	px_api_actor(a, r, NULL, &who);
	if ((rc = px_catalog_add(a->cat, &rec, u.data, u.n, event, &who, &eb)))
		goto out;
	px_api_thumbnail_prerender(a, &rec, u.data, u.n);
	if (status == 202 || event)
		px_moderation_kick(a->mod);
	/* Cloudflare's upload answers 200 where Pictor's answers 201. */
	if (status == 201 && px_api_cf_dialect(r))
		status = 200;
	snprintf(loc, sizeof(loc), "/v1/images/%s", rec.id);
	px_resp_header(r, "Location", loc);
	answer_rec(a, r, status, &rec);
	px_metric_add(a->m.uploads, 1);
	px_metric_observe(a->m.upload_seconds, (double)(px_mono_us() - t0) / 1e6);
out:
	if (u.data)
		px_metric_observe(a->m.upload_bytes, (double)u.n);
	if (rc) {
		px_metric_add(a->m.upload_rejects, 1);
		if (refused)
			fail_blocked(r, &eb, res.json);
		else
			px_app_fail(r, rc, &eb);
	}
	free(u.meta);
	free(u.url);
	px_buf_release(&u.fetched);
	free(event);
	free(res.json);
	px_image_rec_release(&rec);
}

static void upload_work(void *app, struct px_req *r)
{
	px_api_upload_run(app, r, NULL);
}

int px_api_meta_check(const char *text, size_t n, char **out,
		      struct px_errbuf *eb)
{
	return check_meta(text, n, out, eb);
}

struct list_ctx {
	struct px_app *a;
	json_t *arr;
	const struct px_api_target *thumb; /* ?thumbnail=, or NULL */
	json_t *managed; /* managed variant names, read once per listing */
};

/* Signed thumbnails in a listing live an hour. */
#define THUMB_TTL 3600

static int list_one(void *ctx, const struct px_image_rec *rec)
{
	struct list_ctx *lc = ctx;
	json_t *o = px_api_rec_json_with(lc->a, rec, lc->managed);
	char url[2048];
	int64_t exp;

	if (!o)
		return PX_ENOMEM;
	if (lc->thumb && px_api_target_url(lc->a, rec, lc->thumb, THUMB_TTL, url,
					   sizeof(url), &exp) == 0)
		json_object_set_new(o, "thumbnail_url", json_string(url));
	json_array_append_new(lc->arr, o);
	return 0;
}

/* Query parameters GET /v1/images understands; any other answers 400. */
static int list_param(void *ctx, const char *name)
{
	static const char *const known[] = {"per_page", "continuation_token",
					    "status", "search", "thumbnail"};
	struct px_req *r = ctx;

	for (size_t i = 0; i < PX_ARRAY_LEN(known); i++)
		if (!strcmp(name, known[i]))
			return 0;
	px_resp_error(r, 400, "invalid_request",
		      "unknown list filter \"%.64s\" (per_page, continuation_token, status, search, thumbnail)",
		      name);
	return 1;
}

static void list(struct px_app *a, struct px_req *r)
{
	char token[256], next[256], status[16], search[256], thumb[1024];
	struct list_ctx lc = {a, NULL, NULL, NULL};
	struct px_errbuf eb = {0};
	struct px_api_target t;
	int per_page, rc;

	if (px_req_query_each(r, list_param, r))
		return;
	if (!px_app_page_args(r, &per_page, token, sizeof(token)))
		return;
	rc = px_req_query(r, "status", status, sizeof(status));
	if (rc == 0 && strcmp(status, "pending") && strcmp(status, "approved") &&
	    strcmp(status, "flagged") && strcmp(status, "blocked"))
		rc = PX_EINVAL;
	if (rc && rc != PX_ENOTFOUND) {
		px_resp_error(r, 400, "invalid_request",
			      "status must be pending, approved, flagged or blocked");
		return;
	}
	/* search: a substring of id, filename or metadata; thumbnail: a
	 * variant name or options, giving each record a thumbnail_url. */
	search[0] = '\0';
	if (px_req_query(r, "search", search, sizeof(search)) == PX_ETOOBIG) {
		px_resp_error(r, 400, "invalid_request",
			      "search is limited to %zu bytes", sizeof(search) - 1);
		return;
	}
	if (px_req_query(r, "thumbnail", thumb, sizeof(thumb)) == 0) {
		int trc = px_api_target_resolve(a, strchr(thumb, '=') ? NULL : thumb,
						thumb, &t, &eb);

		if (trc) {
			px_app_fail(r, trc, &eb);
			return;
		}
		lc.thumb = &t;
	}
	lc.arr = json_array();
	lc.managed = px_api_managed_variants(a);
	rc = px_catalog_list_search(a->cat, rc ? NULL : status, search, token,
				    per_page, list_one, &lc, next, sizeof(next),
				    &eb);
	json_decref(lc.managed);
	if (rc) {
		json_decref(lc.arr);
		px_app_fail(r, rc, &eb);
		return;
	}
	px_app_ok_page(r, lc.arr, next);
}

static void patch(struct px_app *a, struct px_req *r, const char *id)
{
	const struct px_buf *body = px_req_body(r);
	struct px_errbuf eb = {0};
	struct px_image_rec rec;
	struct px_actor who;
	char *meta = NULL;
	const char *key;
	int require = -1, rc;
	json_t *o, *v;

	memset(&rec, 0, sizeof(rec));
	o = json_loadb((const char *)body->data, body->len,
		       JSON_REJECT_DUPLICATES, NULL);
	if (!o || !json_is_object(o)) {
		px_resp_error(r, 400, "invalid_request",
			      "the body must be a JSON object");
		goto out;
	}
	json_object_foreach(o, key, v) {
		if (strcmp(key, "metadata") && strcmp(key, "requireSignedURLs")) {
			px_resp_error(r, 400, "invalid_request",
				      "field \"%.64s\" cannot be patched (only metadata and requireSignedURLs; status changes through POST /v1/images/{id}/moderation)",
				      key);
			goto out;
		}
	}
	if ((v = json_object_get(o, "metadata"))) {
		char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

		rc = text ? check_meta(text, strlen(text), &meta, &eb) : PX_ENOMEM;
		free(text);
		if (rc) {
			px_app_fail(r, rc, &eb);
			goto out;
		}
	}
	if ((v = json_object_get(o, "requireSignedURLs"))) {
		if (!json_is_boolean(v)) {
			px_resp_error(r, 400, "invalid_request",
				      "requireSignedURLs must be true or false");
			goto out;
		}
		require = json_is_true(v);
	}
	px_api_actor(a, r, NULL, &who);
	rc = px_catalog_update(a->cat, id, meta, require, &who, &rec, &eb);
	if (rc) {
		px_app_fail(r, rc, &eb);
	} else {
		if (require == 1)
			px_api_cache_purge_image(a, &rec, "require_signed");
		answer_rec(a, r, 200, &rec);
	}
out:
	json_decref(o);
	free(meta);
	px_image_rec_release(&rec);
}

static void blob(struct px_app *a, struct px_req *r, const char *id)
{
	struct px_errbuf eb = {0};
	struct px_image_rec rec;
	struct px_buf b;
	int rc;

	memset(&rec, 0, sizeof(rec));
	px_buf_init(&b, 0);
	rc = px_catalog_get(a->cat, id, &rec, &eb);
	if (!rc && !strcmp(rec.status, "corrupt")) {
		/* pictor fsck found the original missing or damaged */
		px_resp_error(r, 410, "corrupt",
			      "the original of image \"%s\" is damaged", id);
		goto out;
	}
	if (!rc)
		rc = px_catalog_blob(a->cat, &rec, &b, &eb);
	if (rc)
		px_app_fail(r, rc, &eb);
	else
		px_resp_buf(r, 200, px_fmt_mime(px_fmt_parse(rec.format)), &b);
out:
	px_buf_release(&b);
	px_image_rec_release(&rec);
}

/* The {id} capture, or a 404 answer and false. */
static bool image_id(struct px_req *r, const struct px_call *c,
		     char id[PX_ID_MAX + 1])
{
	if (px_call_arg(c, "id", id, PX_ID_MAX + 1)) {
		px_resp_error(r, 404, "not_found", "image not found");
		return false;
	}
	return true;
}

void px_api_image_list(struct px_app *a, struct px_req *r,
		       const struct px_call *c)
{
	list(a, r);
}

void px_api_image_upload(struct px_app *a, struct px_req *r,
			 const struct px_call *c)
{
	if (px_req_defer(r, upload_work)) {
		px_metric_add(a->m.overloaded, 1);
		px_resp_header(r, "Retry-After", "1");
		px_resp_error(r, 503, "overloaded",
			      "all image workers are busy; retry later");
	}
}

void px_api_image_get(struct px_app *a, struct px_req *r,
		      const struct px_call *c)
{
	struct px_errbuf eb = {0};
	struct px_image_rec rec;
	char id[PX_ID_MAX + 1];
	int rc;

	if (!image_id(r, c, id))
		return;
	memset(&rec, 0, sizeof(rec));
	rc = px_catalog_get(a->cat, id, &rec, &eb);
	if (rc == PX_ENOTFOUND && px_api_draft_answer(a, r, id))
		rc = 0; /* an open direct upload: {"id", "draft": true} */
	else if (rc)
		px_app_fail(r, rc, &eb);
	else
		answer_rec(a, r, 200, &rec);
	px_image_rec_release(&rec);
}

void px_api_image_patch(struct px_app *a, struct px_req *r,
			const struct px_call *c)
{
	char id[PX_ID_MAX + 1];

	if (image_id(r, c, id))
		patch(a, r, id);
}

void px_api_image_delete(struct px_app *a, struct px_req *r,
			 const struct px_call *c)
{
	struct px_image_rec rec;
	bool known;
	struct px_errbuf eb = {0};
	struct px_actor who;
	char id[PX_ID_MAX + 1];
	int rc;

	if (!image_id(r, c, id))
		return;
	px_api_actor(a, r, NULL, &who);
	/* The digest, to drop the cached variants once it is gone. */
	memset(&rec, 0, sizeof(rec));
	known = px_catalog_get(a->cat, id, &rec, &eb) == 0;
	rc = px_catalog_delete(a->cat, id, &who, &eb);
	if (rc) {
		px_app_fail(r, rc, &eb);
	} else {
		if (known)
			px_api_cache_purge_image(a, &rec, "delete");
		px_app_ok(r, 200, "{}");
	}
	px_image_rec_release(&rec);
}

void px_api_image_blob(struct px_app *a, struct px_req *r,
		       const struct px_call *c)
{
	char id[PX_ID_MAX + 1];

	if (image_id(r, c, id))
		blob(a, r, id);
}
