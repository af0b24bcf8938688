/*
 * deliver.c - GET/HEAD /img/{id}/{variant}: the delivery path.
 *
 * Everything cheap happens on the network thread: record lookup,
 * signature check, option parsing, format negotiation, ETag and the 304
 * answer. Only the render (read original, transform, encode) goes to the
 * worker pool.
 */
#include "api/app.h"
#include "core/crypto.h"
#include "delivery/options.h"
#include "delivery/sign.h"

#include <time.h>

struct render {
	struct px_xform x;
	char sha256[PX_SHA256_HEX_LEN + 1];
	char etag[40];
	char cache_control[64];
	bool vary;
};

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void common_headers(struct px_req *r, const struct render *rd)
{
	px_resp_header(r, "ETag", rd->etag);
	px_resp_header(r, "Cache-Control", rd->cache_control);
	if (rd->vary)
		px_resp_header(r, "Vary", "Accept");
}

static void render_work(void *app, struct px_req *r)
{
	struct px_app *a = app;
	struct render *rd = px_req_data(r);
	struct px_errbuf eb = {0};
	struct px_image_info info;
	struct px_buf orig, out;
	int64_t t0 = mono_us();
	int rc;

	px_buf_init(&orig, 0);
	px_buf_init(&out, 0);
	rc = px_blob_get(a->blobs, rd->sha256, &orig, &eb);
	if (!rc)
		rc = px_image_transform(orig.data, orig.len, &rd->x, &a->lim, &out,
					&info, &eb);
	if (rc) {
		px_app_fail(r, rc, &eb);
		goto out;
	}
	common_headers(r, rd);
	px_resp_buf(r, 200, px_fmt_mime(info.format), &out);
	atomic_fetch_add(&a->n_renders, 1);
	atomic_fetch_add(&a->render_us, (unsigned long long)(mono_us() - t0));
out:
	px_buf_release(&orig);
	px_buf_release(&out);
}

/* Does If-None-Match list etag (or "*")? */
static bool etag_matches(const char *inm, const char *etag)
{
	size_t n = strlen(etag);

	if (!inm)
		return false;
	for (const char *p = inm; *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '*')
			return true;
		if (!strncmp(p, "W/", 2))
			p += 2;
		if (!strncmp(p, etag, n) &&
		    (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
			return true;
		p += strcspn(p, ",");
	}
	return false;
}

/* Check the signature if the image needs one or one was given. On
 * success *exp is the expiry (0 when the URL is unsigned). */
static bool check_signature(struct px_app *a, struct px_req *r,
			    const struct px_image_rec *rec, int64_t *exp)
{
	const char *e = px_req_query_raw(r, "exp");
	const char *s = px_req_query_raw(r, "sig");
	struct px_errbuf eb = {0};

	*exp = 0;
	if (!rec->require_signed && !e && !s)
		return true;
	if (px_sign_verify(a->cfg->signing_keys, a->cfg->n_signing_keys,
			   px_req_path(r), e, s, (int64_t)time(NULL), exp, &eb)) {
		px_resp_error(r, 403, eb.code, "%s", eb.msg);
		return false;
	}
	return true;
}

void px_api_deliver(struct px_app *a, struct px_req *r, const char *rest)
{
	char id[PX_ID_MAX + 1], variant[1024], hex[PX_SHA256_HEX_LEN + 1];
	struct px_image_rec rec;
	struct px_errbuf eb = {0};
	struct render *rd = NULL;
	const char *slash, *spec;
	struct px_opts o;
	struct px_buf key;
	int64_t exp;
	int rc;

	memset(&rec, 0, sizeof(rec));
	px_buf_init(&key, 4096);
	slash = strchr(rest, '/');
	if (!slash || (size_t)(slash - rest) > PX_ID_MAX ||
	    px_url_decode(rest, (size_t)(slash - rest), id, sizeof(id))) {
		px_resp_error(r, 404, "not_found",
			      "use /img/{id}/{variant or options}");
		goto out;
	}
	if (px_url_decode(slash + 1, strlen(slash + 1), variant,
			  sizeof(variant)) || !variant[0] || strchr(variant, '/')) {
		px_resp_error(r, 404, "variant_not_found", "no such variant");
		goto out;
	}
	if ((rc = px_catalog_get(a->cat, id, &rec, &eb))) {
		px_app_fail(r, rc, &eb);
		goto out;
	}
	if (!check_signature(a, r, &rec, &exp))
		goto out;
	if (strcmp(rec.status, "approved")) {
		/* Pending, flagged and blocked images are never public. */
		px_resp_header(r, "Cache-Control", "no-store");
		px_resp_error(r, 403, "not_approved",
			      "image \"%s\" is %s and not delivered", id,
			      rec.status);
		goto out;
	}

	px_opts_init(&o);
	if (px_opts_is_inline(variant)) {
		spec = variant;
	} else if (!(spec = px_config_variant(a->cfg, variant))) {
		px_resp_error(r, 404, "variant_not_found",
			      "no variant named \"%.64s\"", variant);
		goto out;
	}
	if ((rc = px_opts_parse(spec, &o, &eb))) {
		px_app_fail(r, rc, &eb);
		goto out;
	}

	rd = calloc(1, sizeof(*rd));
	if (!rd) {
		px_resp_error(r, 500, "internal_error", "out of memory");
		goto out;
	}
	px_opts_resolve(&o, px_fmt_parse(rec.format), rec.alpha, rec.frames,
			px_req_header(r, "Accept"), &rd->x, &rd->vary);
	px_strlcpy(rd->sha256, rec.sha256, sizeof(rd->sha256));

	/* The ETag covers the original, the canonical options and the
	 * negotiated format, so equal variants share one. */
	px_buf_adds(&key, rec.sha256);
	px_buf_adds(&key, "|");
	px_opts_canonical(&o, &key);
	px_buf_addf(&key, "|%s", px_fmt_name(rd->x.format));
	px_sha256_hex(key.data, key.len, hex);
	snprintf(rd->etag, sizeof(rd->etag), "\"%.32s\"", hex);
	if (exp)
		snprintf(rd->cache_control, sizeof(rd->cache_control),
			 "public, max-age=%lld",
			 (long long)PX_MAX(exp - (int64_t)time(NULL), 0));
	else
		snprintf(rd->cache_control, sizeof(rd->cache_control),
			 "public, max-age=31536000, immutable");

	if (etag_matches(px_req_header(r, "If-None-Match"), rd->etag)) {
		common_headers(r, rd);
		px_resp_empty(r, 304);
		atomic_fetch_add(&a->n_not_modified, 1);
		goto out;
	}
	px_req_set_data(r, rd, free);
	rd = NULL;
	if (px_req_defer(r, render_work)) {
		atomic_fetch_add(&a->n_overloaded, 1);
		px_resp_header(r, "Retry-After", "1");
		px_resp_error(r, 503, "overloaded",
			      "all image workers are busy; retry later");
	}
out:
	free(rd);
	px_buf_release(&key);
	px_image_rec_release(&rec);
}
