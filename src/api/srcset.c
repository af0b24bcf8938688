/*
 * srcset.c - GET /v1/images/{id}/srcset?variant=NAME&widths=320,640,1280
 *
 * Ready `srcset` and `sizes` strings for templates: one delivery URL per
 * width, each the variant's options (or none) with that width, in
 * canonical form, signed with the first signing key when the image needs
 * signed URLs. Widths above the original's are served at the original's
 * width, so they collapse into one candidate. docs/RESPONSIVE.md shows the
 * HTML. `pictor srcset` (srcset_cli.c) prints the same answer through the
 * same px_srcset_build.
 */
#include "api/srcset.h"
#include "delivery/hints.h"
#include "delivery/keys.h"
#include "delivery/options.h"

#include <jansson.h>
#include <time.h>

#define SRCSET_MAX_WIDTHS 16
#define SRCSET_TTL_DEFAULT 86400
#define SRCSET_TTL_MAX (365LL * 86400)

/* "320,640,1280" into ascending, distinct widths capped at original;
 * without the argument, the width=auto steps up to the original. */
static int parse_widths(const char *s, int original, int *w, int *n,
			struct px_errbuf *eb)
{
	int cnt = 0;

	if (!s) {
		for (size_t i = 0; i < px_width_nsteps && cnt < SRCSET_MAX_WIDTHS; i++)
			w[cnt++] = PX_MIN(px_width_steps[i], original);
		goto sort;
	}
	for (const char *p = s; *p;) {
		char *end;
		long v;

		if (*p < '0' || *p > '9')
			goto bad;
		errno = 0;
		v = strtol(p, &end, 10);
		if (errno || v < 1 || v > PX_OPT_MAX_SIDE || (*end && *end != ','))
			goto bad;
		if (cnt == SRCSET_MAX_WIDTHS)
			return px_errc(eb, PX_EINVAL, "invalid_request",
				       "at most %d widths", SRCSET_MAX_WIDTHS);
		w[cnt++] = PX_MIN((int)v, original);
		p = *end ? end + 1 : end;
		if (*end && !*p)
			goto bad;
	}
	if (!cnt)
		goto bad;
sort:
	for (int i = 1; i < cnt; i++)
		for (int j = i; j > 0 && w[j - 1] > w[j]; j--) {
			int t = w[j];

			w[j] = w[j - 1];
			w[j - 1] = t;
		}
	*n = 0;
	for (int i = 0; i < cnt; i++)
		if (!*n || w[*n - 1] != w[i])
			w[(*n)++] = w[i];
	return 0;
bad:
	return px_errc(eb, PX_EINVAL, "invalid_request",
		       "\"widths\" must be a comma-separated list of integers from 1 to %d",
		       PX_OPT_MAX_SIDE);
}

int px_srcset_build(struct px_app *a, const char *id,
		    const struct px_srcset_query *q, json_t **out,
		    struct px_errbuf *eb)
{
	char url[2048];
	const char *opts_text = "";
	struct px_image_rec rec;
	struct px_variant var;
	struct px_buf path, canon, set;
	int widths[SRCSET_MAX_WIDTHS], n = 0, rc;
	bool never_signed = false, sign;
	long long ttl = SRCSET_TTL_DEFAULT;
	json_t *arr = NULL;

	*out = NULL;
	memset(&rec, 0, sizeof(rec));
	memset(&var, 0, sizeof(var));
	px_buf_init(&path, 0);
	px_buf_init(&canon, 0);
	px_buf_init(&set, 0);
	if ((rc = px_catalog_get(a->cat, id, &rec, eb)))
		goto out;
	if (q->variant) {
		if (px_catalog_variant_get(a->cat, q->variant, &var, NULL) == 0) {
			opts_text = var.text;
			never_signed = var.never_require_signed;
		} else if (!(opts_text = px_config_variant(a->cfg, q->variant))) {
			rc = px_errc(eb, PX_ENOTFOUND, "variant_not_found",
				     "no variant named \"%.64s\"", q->variant);
			goto out;
		}
	}
	if (!a->cfg->flexible_variants) {
		rc = px_errc(eb, PX_EUNSUPPORTED, "flexible_variants_disabled",
			     "a srcset needs a width per URL, and options in URLs are disabled");
		goto out;
	}
	if (q->ttl) {
		char *end;

		errno = 0;
		ttl = strtoll(q->ttl, &end, 10);
		if (errno || *end || end == q->ttl || ttl < 1 ||
		    ttl > SRCSET_TTL_MAX) {
			rc = px_errc(eb, PX_EINVAL, "invalid_request",
				     "\"ttl\" must be seconds from 1 to %lld",
				     SRCSET_TTL_MAX);
			goto out;
		}
	}
	if ((rc = parse_widths(q->widths, PX_MAX(rec.width, 1), widths, &n, eb)))
		goto out;
	sign = rec.require_signed && !never_signed;
	rc = PX_ENOMEM;
	if (!(arr = json_array()))
		goto out;
	for (int i = 0; i < n; i++) {
		struct px_opts o;

		/* the variant's options with this width, canonical */
		px_opts_init(&o);
		if ((rc = px_opts_parse(opts_text, &o, eb)))
			goto out;
		o.width_auto = false;
		o.x.width = widths[i];
		o.set |= 1; /* width, the table's first option */
		canon.len = 0;
		path.len = 0;
		px_opts_canonical(&o, &canon);
		px_buf_addf(&path, "/img/%s/", rec.id);
		px_buf_add(&canon, "", 1);
		px_api_add_segment(&path, (const char *)canon.data);
		px_buf_add(&path, "", 1);
		if (sign) {
			char signed_path[1536];

			if (px_keys_sign(a->keys, (const char *)path.data,
					 (int64_t)time(NULL) + ttl, signed_path,
					 sizeof(signed_path))) {
				rc = px_errc(eb, PX_EINTERNAL, "internal_error",
					     "no signing key to sign with");
				goto out;
			}
			snprintf(url, sizeof(url), "%s%s", a->public_url, signed_path);
		} else {
			snprintf(url, sizeof(url), "%s%s", a->public_url,
				 (const char *)path.data);
		}
		px_buf_addf(&set, "%s%s %dw", i ? ", " : "", url, widths[i]);
		json_array_append_new(arr, json_pack("{s:i,s:s}", "width",
						     widths[i], "url", url));
	}
	px_buf_add(&set, "", 1);
	*out = json_pack("{s:s,s:s,s:s,s:b,s:o}", "srcset",
			 (const char *)set.data, "sizes",
			 q->sizes ? q->sizes : "100vw", "src",
			 json_string_value(json_object_get(
				 json_array_get(arr, (size_t)(n - 1) / 2), "url")),
			 "signed", sign, "urls", arr);
	arr = NULL; /* taken by json_pack, even on failure */
	rc = *out ? 0 : px_errf(eb, PX_ENOMEM, "out of memory");
out:
	json_decref(arr);
	px_buf_release(&path);
	px_buf_release(&canon);
	px_buf_release(&set);
	px_variant_release(&var);
	px_image_rec_release(&rec);
	return rc;
}

void px_api_image_srcset(struct px_app *a, struct px_req *r,
			 const struct px_call *c)
{
	char id[PX_ID_MAX + 1], vname[PX_VARIANT_NAME_MAX + 1], wbuf[256];
	char sizes[256], ttlbuf[32];
	struct px_srcset_query q = {0};
	struct px_errbuf eb = {0};
	json_t *res;
	int rc;

	if (px_call_arg(c, "id", id, sizeof(id))) {
		px_resp_error(r, 404, "not_found", "image not found");
		return;
	}
	if (px_req_query(r, "variant", vname, sizeof(vname)) == 0)
		q.variant = vname;
	if (px_req_query(r, "widths", wbuf, sizeof(wbuf)) == 0)
		q.widths = wbuf;
	if (px_req_query(r, "sizes", sizes, sizeof(sizes)) == 0)
		q.sizes = sizes;
	if (px_req_query(r, "ttl", ttlbuf, sizeof(ttlbuf)) == 0)
		q.ttl = ttlbuf;
	if ((rc = px_srcset_build(a, id, &q, &res, &eb)))
		px_app_fail(r, rc, &eb);
	else
		px_app_ok_json(r, 200, res);
}
