/*
 * url.c - delivery URLs made by the server: GET /v1/images/{id}/url
 * (?variant=NAME or ?options=OPTS, ?ttl=SECONDS) and the thumbnail_url of
 * a listing (?thumbnail=). A URL is signed with the first signing key
 * (delivery/keys.h, over delivery/sign.c) exactly when delivery would
 * ask for a signature: the image requires signed URLs and the variant
 * does not waive it. URLs are paths ("/img/..."), for pages served by
 * this server (the admin console) and clients that know its address.
 */
#include "api/app.h"
#include "access/tokens.h"
#include "delivery/keys.h"
#include "delivery/options.h"

#include <jansson.h>
#include <time.h>

#define URL_TTL_DEFAULT 3600
#define URL_TTL_MAX (7LL * 86400)

void px_api_add_segment(struct px_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr(",=;.-_~:", c))
			px_buf_add(b, s, 1);
		else
			px_buf_addf(b, "%%%02X", c);
	}
}

int px_api_target_resolve(struct px_app *a, const char *variant,
			  const char *options, struct px_api_target *t,
			  struct px_errbuf *eb)
{
	struct px_variant var;
	struct px_opts o;
	struct px_buf canon;
	int rc;

	memset(t, 0, sizeof(*t));
	if (variant && variant[0]) {
		memset(&var, 0, sizeof(var));
		if (px_catalog_variant_get(a->cat, variant, &var, NULL) == 0) {
			t->never_signed = var.never_require_signed;
			px_variant_release(&var);
		} else if (!px_config_variant(a->cfg, variant)) {
			return px_errc(eb, PX_ENOTFOUND, "variant_not_found",
				       "no variant named \"%.64s\"", variant);
		}
		if (strlen(variant) >= sizeof(t->segment))
			return px_errc(eb, PX_EINVAL, "invalid_request",
				       "variant name too long");
		px_strlcpy(t->segment, variant, sizeof(t->segment));
		return 0;
	}
	if (!a->cfg->flexible_variants)
		return px_errc(eb, PX_EINVAL, "flexible_variants_disabled",
			       "options in URLs are disabled (--flexible-variants off); "
			       "ask for a named variant");
	px_opts_init(&o);
	if ((rc = px_opts_parse(options, &o, eb)))
		return rc;
	px_buf_init(&canon, 0);
	if ((rc = px_opts_canonical(&o, &canon)) || (rc = px_buf_add(&canon, "", 1)))
		goto out;
	if (canon.len <= 1) {
		rc = px_errc(eb, PX_EINVAL, "invalid_option",
			     "no options given");
		goto out;
	}
	if (canon.len > sizeof(t->segment)) {
		rc = px_errc(eb, PX_EINVAL, "invalid_option", "options too long");
		goto out;
	}
	px_strlcpy(t->segment, (const char *)canon.data, sizeof(t->segment));
out:
	px_buf_release(&canon);
	return rc;
}

int px_api_target_url(struct px_app *a, const struct px_image_rec *rec,
		      const struct px_api_target *t, int64_t ttl_s,
		      char *out, size_t nout, int64_t *exp_s)
{
	struct px_buf path;
	int rc = 0;

	*exp_s = 0;
	px_buf_init(&path, 0);
	px_buf_addf(&path, "/img/%s/", rec->id);
	px_api_add_segment(&path, t->segment);
	if ((rc = px_buf_add(&path, "", 1)))
		goto out;
	if (rec->require_signed && !t->never_signed) {
		*exp_s = (int64_t)time(NULL) + ttl_s;
		rc = px_keys_sign(a->keys, (const char *)path.data, *exp_s, out,
				  nout);
	} else if (path.len > nout) {
		rc = PX_ETOOBIG;
	} else {
		memcpy(out, path.data, path.len);
	}
out:
	px_buf_release(&path);
	return rc;
}

int px_url_build(struct px_app *a, const char *id, const char *variant,
		 const char *options, const char *ttl_text, json_t **out,
		 struct px_errbuf *eb)
{
	struct px_image_rec rec;
	struct px_api_target t;
	long long ttl = URL_TTL_DEFAULT;
	char url[2048], when[32];
	int64_t exp;
	int rc;

	*out = NULL;
	memset(&rec, 0, sizeof(rec));
	if (variant && options)
		return px_errc(eb, PX_EINVAL, "invalid_request",
			       "give \"variant\" or \"options\", not both");
	if (ttl_text) {
		char *end;

		ttl = strtoll(ttl_text, &end, 10);
		if (*end || end == ttl_text || ttl < 1 || ttl > URL_TTL_MAX)
			return px_errc(eb, PX_EINVAL, "invalid_request",
				       "\"ttl\" must be seconds from 1 to %lld (7 days)",
				       URL_TTL_MAX);
	}
	if ((rc = px_catalog_get(a->cat, id, &rec, eb)))
		return rc;
	/* Neither: the "public" variant, as Cloudflare's URLs default to. */
	if ((rc = px_api_target_resolve(a, options ? NULL : variant ? variant : "public",
					options, &t, eb)))
		goto out;
	if (px_api_target_url(a, &rec, &t, ttl, url, sizeof(url), &exp)) {
		rc = px_errc(eb, PX_EINTERNAL, "internal_error",
			     "no signing key to sign with");
		goto out;
	}
	if (exp) {
		px_time_format(exp * 1000000, when);
		*out = json_pack("{s:s,s:s,s:b}", "url", url, "expires_at", when,
				 "signed", 1);
	} else {
		*out = json_pack("{s:s,s:n,s:b}", "url", url, "expires_at",
				 "signed", 0);
	}
	if (!*out)
		rc = px_errf(eb, PX_ENOMEM, "out of memory");
out:
	px_image_rec_release(&rec);
	return rc;
}

void px_api_image_url(struct px_app *a, struct px_req *r,
		      const struct px_call *c)
{
	char id[PX_ID_MAX + 1], vname[PX_VARIANT_NAME_MAX + 2], opts[1024];
	char ttl[32];
	struct px_errbuf eb = {0};
	bool has_v, has_o, has_t;
	json_t *res;
	int rc;

	if (px_call_arg(c, "id", id, sizeof(id))) {
		px_resp_error(r, 404, "not_found", "image not found");
		return;
	}
	has_v = px_req_query(r, "variant", vname, sizeof(vname)) == 0;
	has_o = px_req_query(r, "options", opts, sizeof(opts)) == 0;
	has_t = px_req_query(r, "ttl", ttl, sizeof(ttl)) == 0;
	if (!has_t && px_req_query_raw(r, "ttl")) {
		/* present but too long for any valid number */
		px_strlcpy(ttl, "x", sizeof(ttl));
		has_t = true;
	}
	rc = px_url_build(a, id, has_v ? vname : NULL, has_o ? opts : NULL,
			  has_t ? ttl : NULL, &res, &eb);
	if (rc)
		px_app_fail(r, rc, &eb);
	else
		px_app_ok_json(r, 200, res);
}
