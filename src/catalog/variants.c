/*
 * variants.c - managed variants in the metadata store.
 */
#include "catalog/internal.h"
#include "catalog/variants.h"

#include <jansson.h>

void px_variant_release(struct px_variant *v)
{
	free(v->options_json);
	free(v->devices_json);
	memset(v, 0, sizeof(*v));
}

bool px_variant_valid_name(const char *name)
{
	size_t n = 0;

	for (; name[n]; n++) {
		char c = name[n];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return n >= 1 && n <= PX_VARIANT_NAME_MAX;
}

static int decode_devices(json_t *o, struct px_variant *v)
{
	json_t *dev = json_object_get(o, "devices");
	json_t *texts = json_object_get(o, "deviceText");
	const char *name;
	json_t *t;

	if (!json_is_object(dev) || !json_object_size(dev))
		return 0;
	if (!(v->devices_json = json_dumps(dev, JSON_COMPACT)))
		return PX_ENOMEM;
	json_object_foreach(texts, name, t) {
		struct px_variant_device *d;

		if (v->ndevice >= PX_VARIANT_DEVICES || !json_is_string(t))
			return PX_ECORRUPT;
		d = &v->device[v->ndevice++];
		px_strlcpy(d->name, name, sizeof(d->name));
		px_strlcpy(d->text, json_string_value(t), sizeof(d->text));
	}
	return 0;
}

/* "hotlink": absent or null, false, or {"allow":"H,*.H","requireReferer":b}. */
static void decode_hotlink(json_t *h, struct px_variant *v)
{
	if (json_is_false(h)) {
		v->hotlink = PX_VARIANT_HOTLINK_OFF;
	} else if (json_is_object(h)) {
		v->hotlink = PX_VARIANT_HOTLINK_OWN;
		px_strlcpy(v->hotlink_allow,
			   json_string_value(json_object_get(h, "allow")) ?: "",
			   sizeof(v->hotlink_allow));
		v->hotlink_require_referer =
			json_is_true(json_object_get(h, "requireReferer"));
	}
}

const char *px_variant_text_for(const struct px_variant *v, const char *device)
{
	for (int i = 0; i < v->ndevice; i++)
		if (!strcmp(v->device[i].name, device))
			return v->device[i].text;
	return v->text;
}

static int decode(const void *p, size_t n, struct px_variant *v)
{
	json_t *o = json_loadb(p, n, 0, NULL);
	int rc = 0;

	memset(v, 0, sizeof(*v));
	if (!json_is_object(o)) {
		rc = PX_ECORRUPT;
		goto out;
	}
	px_strlcpy(v->name, json_string_value(json_object_get(o, "id")) ?: "",
		   sizeof(v->name));
	px_strlcpy(v->text, json_string_value(json_object_get(o, "text")) ?: "",
		   sizeof(v->text));
	v->never_require_signed =
		json_is_true(json_object_get(o, "neverRequireSignedURLs"));
	v->options_json = json_dumps(json_object_get(o, "options"), JSON_COMPACT);
	if (!v->options_json)
		v->options_json = strdup("{}");
	if (!v->options_json)
		rc = PX_ENOMEM;
	if (!rc)
		rc = decode_devices(o, v);
	if (!rc)
		decode_hotlink(json_object_get(o, "hotlink"), v);
out:
	json_decref(o);
	return rc;
}

int px_catalog_variant_get(struct px_catalog *c, const char *name,
			   struct px_variant *v, struct px_errbuf *eb)
{
	char key[PX_VARIANT_NAME_MAX + 8];
	struct px_buf b;
	int rc;

	memset(v, 0, sizeof(*v));
	if (!px_variant_valid_name(name))
		return PX_ENOTFOUND;
	snprintf(key, sizeof(key), "var/%s", name);
	px_buf_init(&b, 0);
	/* every creation announces "variant <name>": absence may be kept */
	rc = px_catalog_cached_get(c, key, true, &b, eb);
	if (!rc)
		rc = decode(b.data, b.len, v);
	px_buf_release(&b);
	return rc;
}

static int count_one(void *ctx, const void *k, size_t nk, const void *v,
		     size_t nv)
{
	(*(int *)ctx)++;
	return 0;
}

int px_catalog_variant_put(struct px_catalog *c, const struct px_variant *v,
			   bool create, struct px_errbuf *eb)
{
	struct px_kv_txn *txn = NULL;
	char key[PX_VARIANT_NAME_MAX + 8], *text = NULL;
	json_t *o;
	struct px_buf cur;
	int rc, n = 0;

	px_buf_init(&cur, 0);
	snprintf(key, sizeof(key), "var/%s", v->name);
	o = json_pack("{s:s,s:o,s:s,s:b}", "id", v->name, "options",
		      json_loads(v->options_json ? v->options_json : "{}", 0, NULL)
			      ?: json_object(),
		      "text", v->text, "neverRequireSignedURLs",
		      v->never_require_signed);
	if (o && v->hotlink == PX_VARIANT_HOTLINK_OFF)
		json_object_set_new(o, "hotlink", json_false());
	else if (o && v->hotlink == PX_VARIANT_HOTLINK_OWN)
		json_object_set_new(o, "hotlink",
				    json_pack("{s:s,s:b}", "allow",
					      v->hotlink_allow, "requireReferer",
					      v->hotlink_require_referer));
	if (o && v->ndevice) {
		json_t *texts = json_object();

		for (int i = 0; i < v->ndevice; i++)
			json_object_set_new(texts, v->device[i].name,
					    json_string(v->device[i].text));
		json_object_set_new(o, "devices",
				    json_loads(v->devices_json ? v->devices_json
							       : "{}", 0, NULL)
					    ?: json_object());
		json_object_set_new(o, "deviceText", texts);
	}
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!text)
		return PX_ENOMEM;
	if ((rc = px_kv_begin(px_catalog_kv(c), 0, &txn, eb)))
		goto out;
	rc = px_kv_gets(txn, key, &cur, eb);
	if (create && rc == 0) {
		rc = px_errc(eb, PX_EEXIST, "already_exists",
			     "variant \"%s\" already exists", v->name);
		goto out;
	}
	if (!create && rc == PX_ENOTFOUND) {
		px_errc(eb, rc, "variant_not_found", "no variant \"%s\"", v->name);
		goto out;
	}
	if (rc && rc != PX_ENOTFOUND)
		goto out;
	if (create) {
		rc = px_kv_scan(txn, "var/", 4, NULL, 0, 0, count_one, &n, eb);
		if (rc < 0)
			goto out;
		if (n >= PX_VARIANTS_MAX) {
			rc = px_errc(eb, PX_ETOOBIG, "too_many_variants",
				     "at most %d variants", PX_VARIANTS_MAX);
			goto out;
		}
	}
	if ((rc = px_kv_puts(txn, key, text, strlen(text), 0, eb)) ||
	    (rc = px_watch_announce_in(c, txn, eb, "variant %s", v->name)))
		goto out;
	rc = px_kv_commit(txn, eb);
	txn = NULL;
out:
	px_kv_abort(txn);
	px_buf_release(&cur);
	free(text);
	return rc;
}

int px_catalog_variant_del(struct px_catalog *c, const char *name,
			   struct px_errbuf *eb)
{
	struct px_kv_txn *txn;
	char key[PX_VARIANT_NAME_MAX + 8];
	int rc;

	if (!px_variant_valid_name(name))
		return px_errc(eb, PX_ENOTFOUND, "variant_not_found",
			       "no such variant");
	snprintf(key, sizeof(key), "var/%s", name);
	if ((rc = px_kv_begin(px_catalog_kv(c), 0, &txn, eb)))
		return rc;
	rc = px_kv_dels(txn, key, eb);
	if (!rc)
		rc = px_watch_announce_in(c, txn, eb, "variant %s", name);
	if (rc) {
		px_kv_abort(txn);
		if (rc == PX_ENOTFOUND)
			px_errc(eb, rc, "variant_not_found", "no variant \"%s\"", name);
		return rc;
	}
	return px_kv_commit(txn, eb);
}

struct list_ctx {
	int (*fn)(void *ctx, const struct px_variant *v);
	void *ctx;
};

static int list_one(void *arg, const void *k, size_t nk, const void *val,
		    size_t nv)
{
	struct list_ctx *lc = arg;
	struct px_variant v;
	int rc;

	if (decode(val, nv, &v))
		return 0;
	rc = lc->fn(lc->ctx, &v);
	px_variant_release(&v);
	return rc ? 1 : 0;
}

int px_catalog_variant_list(struct px_catalog *c,
			    int (*fn)(void *ctx, const struct px_variant *v),
			    void *ctx, struct px_errbuf *eb)
{
	struct list_ctx lc = {fn, ctx};
	struct px_kv_txn *txn;
	int rc;

	if ((rc = px_kv_begin(px_catalog_kv(c), PX_KV_RDONLY, &txn, eb)))
		return rc;
	rc = px_kv_scan(txn, "var/", 4, NULL, 0, 0, list_one, &lc, eb);
	px_kv_abort(txn);
	return rc < 0 ? rc : 0;
}
