/*
 * variants.c - /v1/variants, as Cloudflare Images' variants API:
 *
 *   POST   /v1/variants        {"id", "options": {...}, "neverRequireSignedURLs",
 *                                "devices": {"mobile": {...}, "tablet": {...}}}
 *   GET    /v1/variants        {"variants": {"name": {...}, ...}}
 *   GET    /v1/variants/{id}   {"variant": {...}}
 *   PATCH  /v1/variants/{id}   {"options": {...}, "neverRequireSignedURLs"}
 *
 * Both take "hotlink": null (the server's rule), false (any Referer) or
 * {"allow": [HOST, *.HOST, ...], "requireReferer": bool}.
 *   DELETE /v1/variants/{id}
 *
 * Options are validated with the delivery option parser, so a variant
 * that is stored is one that renders. Variants from the configuration
 * file are listed too (read-only, "source": "config").
 */
#include "api/app.h"
#include "delivery/options.h"
#include "delivery/device.h"
#include "guard/guard.h"

#include <jansson.h>

/* The options object as an option string ("width=1366,fit=cover"). */
static int options_text(json_t *opts, char *out, size_t n,
			struct px_errbuf *eb)
{
	const char *key;
	json_t *v;
	size_t len = 0;

	out[0] = '\0';
	if (!json_is_object(opts) || !json_object_size(opts))
		return px_errc(eb, PX_EINVAL, "invalid_request",
			       "\"options\" must be a non-empty object");
	json_object_foreach(opts, key, v) {
		char val[256];
		int w;

		if (json_is_string(v))
			px_strlcpy(val, json_string_value(v), sizeof(val));
		else if (json_is_integer(v))
			snprintf(val, sizeof(val), "%lld",
				 (long long)json_integer_value(v));
		else if (json_is_real(v))
			snprintf(val, sizeof(val), "%.6g", json_real_value(v));
		else if (json_is_boolean(v))
			snprintf(val, sizeof(val), "%s",
				 json_is_true(v) ? "true" : "false");
		else
			return px_errc(eb, PX_EINVAL, "invalid_option",
				       "invalid value for option \"%.64s\"", key);
		if (strchr(val, ',') || strchr(key, ',') || strchr(key, '='))
			return px_errc(eb, PX_EINVAL, "invalid_option",
				       "invalid value for option \"%.64s\"", key);
		w = snprintf(out + len, n - len, "%s%s=%s", len ? "," : "", key, val);
		if (w < 0 || (size_t)w >= n - len)
			return px_errc(eb, PX_EINVAL, "invalid_request",
				       "options are too long");
		len += (size_t)w;
	}
	return 0;
}

/* The variant's "hotlink" as the API shows it: false, or the rule with
 * "allow" as an array of hosts. */
static json_t *hotlink_json(const struct px_variant *v)
{
	const char *p = v->hotlink_allow;
	json_t *allow;

	if (v->hotlink == PX_VARIANT_HOTLINK_OFF)
		return json_false();
	allow = json_array();
	while (allow && *p) {
		size_t n = strcspn(p, ",");

		json_array_append_new(allow, json_stringn(p, n));
		p += n + (p[n] == ',');
	}
	return json_pack("{s:o*,s:b}", "allow", allow, "requireReferer",
			 v->hotlink_require_referer);
}

/*
 * "hotlink": null (the server's rule), false (any Referer) or
 * {"allow": ["example.com", "*.example.org"], "requireReferer": true},
 * both members optional (no "allow": any site).
 */
static int set_hotlink(struct px_variant *v, json_t *h, struct px_errbuf *eb)
{
	struct px_errbuf bad = {0};
	json_t *allow, *req, *e;
	size_t i, len = 0;

	v->hotlink = PX_VARIANT_HOTLINK_GLOBAL;
	v->hotlink_allow[0] = '\0';
	v->hotlink_require_referer = false;
	if (json_is_null(h))
		return 0;
	if (json_is_false(h)) {
		v->hotlink = PX_VARIANT_HOTLINK_OFF;
		return 0;
	}
	allow = json_object_get(h, "allow");
	req = json_object_get(h, "requireReferer");
	if (!json_is_object(h) || json_object_size(h) != (size_t)!!allow + !!req ||
	    (allow && !json_is_array(allow)) || (req && !json_is_boolean(req)))
		return px_errc(eb, PX_EINVAL, "invalid_request",
			       "\"hotlink\" must be null, false or {\"allow\": [HOST or *.HOST, ...], \"requireReferer\": true or false}");
	json_array_foreach(allow, i, e) {
		const char *z = json_string_value(e);
		int w;

		if (!z || !*z || strchr(z, ','))
			return px_errc(eb, PX_EINVAL, "invalid_request",
				       "\"hotlink.allow\" holds host names");
		w = snprintf(v->hotlink_allow + len, sizeof(v->hotlink_allow) - len,
			     "%s%s", len ? "," : "", z);
		if (w < 0 || (size_t)w >= sizeof(v->hotlink_allow) - len)
			return px_errc(eb, PX_EINVAL, "invalid_request",
				       "\"hotlink.allow\" is too long");
		len += (size_t)w;
	}
	if (px_guard_hotlink_parse(v->hotlink_allow, &bad))
		return px_errc(eb, PX_EINVAL, "invalid_request", "%s", bad.msg);
	v->hotlink = PX_VARIANT_HOTLINK_OWN;
	v->hotlink_require_referer = json_is_true(req);
	return 0;
}

static json_t *variant_json(const struct px_variant *v)
{
	json_t *o = json_pack("{s:s,s:o,s:b}", "id", v->name, "options",
			      json_loads(v->options_json ? v->options_json : "{}",
					 0, NULL) ?: json_object(),
			      "neverRequireSignedURLs", v->never_require_signed);

	if (o && v->devices_json)
		json_object_set_new(o, "devices",
				    json_loads(v->devices_json, 0, NULL) ?: json_object());
	if (o && v->hotlink != PX_VARIANT_HOTLINK_GLOBAL)
		json_object_set_new(o, "hotlink", hotlink_json(v));
	return o;
}

/*
 * Per-device overrides: each is merged over the options and must parse as
 * they do. devices is the body's "devices" (NULL or null or {}: none).
 */
static int set_devices(struct px_variant *v, json_t *devices,
		       struct px_errbuf *eb)
{
	json_t *base = NULL, *merged = NULL, *val;
	const char *name;
	struct px_opts o;
	int rc = 0;

	v->ndevice = 0;
	free(v->devices_json);
	v->devices_json = NULL;
	if (!devices || json_is_null(devices) ||
	    (json_is_object(devices) && !json_object_size(devices)))
		return 0;
	if (!json_is_object(devices))
		return px_errc(eb, PX_EINVAL, "invalid_request",
			       "\"devices\" must be an object of mobile, tablet or desktop overrides");
	base = json_loads(v->options_json ? v->options_json : "{}", 0, NULL);
	json_object_foreach(devices, name, val) {
		struct px_variant_device *d;

		if (px_device_parse(name) < 0) {
			rc = px_errc(eb, PX_EINVAL, "invalid_request",
				     "unknown device class \"%.32s\" in \"devices\": expected mobile, tablet or desktop",
				     name);
			goto out;
		}
		if (!json_is_object(val) || !json_object_size(val)) {
			rc = px_errc(eb, PX_EINVAL, "invalid_request",
				     "\"devices.%s\" must be a non-empty object of options",
				     name);
			goto out;
		}
		json_decref(merged);
		merged = base ? json_deep_copy(base) : json_object();
		if (!merged || json_object_update(merged, val)) {
			rc = PX_ENOMEM;
			goto out;
		}
		d = &v->device[v->ndevice++];
		px_strlcpy(d->name, name, sizeof(d->name));
		if ((rc = options_text(merged, d->text, sizeof(d->text), eb)))
			goto out;
		px_opts_init(&o);
		if ((rc = px_opts_parse(d->text, &o, eb)))
			goto out;
	}
	if (!(v->devices_json = json_dumps(devices, JSON_COMPACT)))
		rc = PX_ENOMEM;
out:
	json_decref(base);
	json_decref(merged);
	return rc;
}

static void answer(struct px_req *r, int status, const char *key, json_t *val)
{
	px_app_ok_json(r, status, json_pack("{s:o}", key, val));
}

/* Fill v from a request body; name comes from the body on create. */
static int from_body(struct px_req *r, struct px_variant *v, bool create,
		     struct px_errbuf *eb)
{
	const struct px_buf *body = px_req_body(r);
	struct px_opts o;
	json_t *root, *opts, *nrs, *devices, *kept = NULL;
	int rc = 0;

	root = json_loadb((const char *)body->data, body->len,
			  JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(root)) {
		rc = px_errc(eb, PX_EINVAL, "invalid_request",
			     "the body must be a JSON object");
		goto out;
	}
	if (create) {
		const char *id = json_string_value(json_object_get(root, "id"));

		if (!id || !px_variant_valid_name(id)) {
			rc = px_errc(eb, PX_EINVAL, "invalid_id",
				     "variant ids must match [A-Za-z0-9_-]{1,99}");
			goto out;
		}
		px_strlcpy(v->name, id, sizeof(v->name));
	}
	opts = json_object_get(root, "options");
	if (opts || create) {
		if ((rc = options_text(opts, v->text, sizeof(v->text), eb)))
			goto out;
		px_opts_init(&o);
		if ((rc = px_opts_parse(v->text, &o, eb)))
			goto out;
		free(v->options_json);
		v->options_json = json_dumps(opts, JSON_COMPACT);
	}
	/* overrides merge over the options, so new options remake them */
	devices = json_object_get(root, "devices");
	if (!devices && opts && v->devices_json)
		devices = kept = json_loads(v->devices_json, 0, NULL);
	if ((devices || create) && (rc = set_devices(v, devices, eb)))
		goto out;
	nrs = json_object_get(root, "neverRequireSignedURLs");
	if (nrs && !json_is_boolean(nrs)) {
		rc = px_errc(eb, PX_EINVAL, "invalid_request",
			     "neverRequireSignedURLs must be true or false");
		goto out;
	}
	if (nrs)
		v->never_require_signed = json_is_true(nrs);
	if (json_object_get(root, "hotlink") &&
	    (rc = set_hotlink(v, json_object_get(root, "hotlink"), eb)))
		goto out;
out:
	json_decref(kept);
	json_decref(root);
	return rc;
}

struct list_ctx {
	json_t *all;
};

static int list_one(void *ctx, const struct px_variant *v)
{
	struct list_ctx *lc = ctx;

	json_object_set_new(lc->all, v->name, variant_json(v));
	return 0;
}

static void list(struct px_app *a, struct px_req *r)
{
	struct list_ctx lc = {json_object()};
	struct px_errbuf eb = {0};
	int rc;

	for (int i = 0; i < a->cfg->n_variants; i++)
		json_object_set_new(lc.all, a->cfg->variants[i].name,
				    json_pack("{s:s,s:s,s:b,s:s}", "id",
					      a->cfg->variants[i].name, "options",
					      a->cfg->variants[i].options,
					      "neverRequireSignedURLs", 0,
					      "source", "config"));
	rc = px_catalog_variant_list(a->cat, list_one, &lc, &eb);
	if (rc) {
		json_decref(lc.all);
		px_app_fail(r, rc, &eb);
		return;
	}
	answer(r, 200, "variants", lc.all);
}

/* Answer with the variant after recording the change in the audit log. */
static void answer_audited(struct px_app *a, struct px_req *r,
			   const char *action, json_t *before,
			   const struct px_variant *v)
{
	json_t *after = variant_json(v);

	px_app_audit(a, r, action, before, after);
	answer(r, 200, "variant", after);
}

/* The {name} capture, or a 404 answer and false. */
static bool variant_name(struct px_req *r, const struct px_call *c,
			 char name[PX_VARIANT_NAME_MAX + 1])
{
	if (px_call_arg(c, "name", name, PX_VARIANT_NAME_MAX + 1) ||
	    !px_variant_valid_name(name)) {
		px_resp_error(r, 404, "variant_not_found", "no such variant");
		return false;
	}
	return true;
}

void px_api_variant_list(struct px_app *a, struct px_req *r,
			 const struct px_call *c)
{
	list(a, r);
}

void px_api_variant_create(struct px_app *a, struct px_req *r,
			   const struct px_call *c)
{
	struct px_errbuf eb = {0};
	struct px_variant v;
	int rc;

	memset(&v, 0, sizeof(v));
	if ((rc = from_body(r, &v, true, &eb)) ||
	    (rc = px_catalog_variant_put(a->cat, &v, true, &eb)))
		px_app_fail(r, rc, &eb);
	else
		answer_audited(a, r, "variant.create", NULL, &v);
	px_variant_release(&v);
}

void px_api_variant_get(struct px_app *a, struct px_req *r,
			const struct px_call *c)
{
	char name[PX_VARIANT_NAME_MAX + 1];
	struct px_errbuf eb = {0};
	struct px_variant v;
	int rc;

	if (!variant_name(r, c, name))
		return;
	memset(&v, 0, sizeof(v));
	rc = px_catalog_variant_get(a->cat, name, &v, &eb);
	if (rc == PX_ENOTFOUND)
		px_resp_error(r, 404, "variant_not_found", "no variant \"%s\"",
			      name);
	else if (rc)
		px_app_fail(r, rc, &eb);
	else
		answer(r, 200, "variant", variant_json(&v));
	px_variant_release(&v);
}

void px_api_variant_patch(struct px_app *a, struct px_req *r,
			  const struct px_call *c)
{
	char name[PX_VARIANT_NAME_MAX + 1];
	struct px_errbuf eb = {0};
	struct px_variant v;
	int rc;

	if (!variant_name(r, c, name))
		return;
	json_t *before = NULL;

	memset(&v, 0, sizeof(v));
	rc = px_catalog_variant_get(a->cat, name, &v, &eb);
	if (rc == PX_ENOTFOUND)
		px_errc(&eb, rc, "variant_not_found", "no variant \"%s\"", name);
	if (!rc) {
		before = variant_json(&v);
		rc = from_body(r, &v, false, &eb);
	}
	if (!rc)
		rc = px_catalog_variant_put(a->cat, &v, false, &eb);
	if (rc) {
		px_app_fail(r, rc, &eb);
	} else {
		px_api_cache_purge_variant(a, v.name, "variant_update");
		answer_audited(a, r, "variant.update", before, &v);
	}
	json_decref(before);
	px_variant_release(&v);
}

void px_api_variant_delete(struct px_app *a, struct px_req *r,
			   const struct px_call *c)
{
	char name[PX_VARIANT_NAME_MAX + 1];
	struct px_errbuf eb = {0};
	int rc;

	struct px_variant v;
	json_t *before = NULL;

	if (!variant_name(r, c, name))
		return;
	memset(&v, 0, sizeof(v));
	if (px_catalog_variant_get(a->cat, name, &v, NULL) == 0)
		before = variant_json(&v);
	px_variant_release(&v);
	if ((rc = px_catalog_variant_del(a->cat, name, &eb))) {
		px_app_fail(r, rc, &eb);
	} else {
		px_app_audit(a, r, "variant.delete", before, NULL);
		px_api_cache_purge_variant(a, name, "variant_delete");
		px_app_ok(r, 200, "{}");
	}
	json_decref(before);
}
