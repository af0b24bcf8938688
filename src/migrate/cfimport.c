/*
 * cfimport.c - Cloudflare Images account to Pictor, over both HTTP APIs.
 *
 * One curl handle does every request in turn (the walk is sequential:
 * simple to resume, gentle on both sides). Responses are read whole into
 * a buffer with a hard ceiling; JSON answers are checked for Cloudflare's
 * envelope. See cfimport.h for the walk and why it is idempotent.
 */
#include "migrate/cfimport.h"
#include "core/buf.h"
#include "core/timefmt.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <jansson.h>

#define LIST_PAGE 100
#define MAX_ANSWER ((size_t)1 << 30) /* an original, or a list page */

struct ctx {
	const struct px_cfimport_opts *o;
	struct px_cfimport_stats *st;
	CURL *curl;
	int64_t since_us;
	char src[2048]; /* <base>/accounts/<account>/images */
};

struct sink {
	struct px_buf *b;
	bool toobig;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;

	if (s->b->len + size * n > MAX_ANSWER) {
		s->toobig = true;
		return 0;
	}
	return px_buf_add(s->b, p, size * n) ? 0 : size * n;
}

/*
 * One request. body (JSON, may be NULL) or mime (may be NULL) is sent;
 * the answer lands in out and its status in *status. A transport failure
 * is PX_EIO with the reason in eb; any HTTP status is a success here.
 */
static int http(struct ctx *c, const char *method, const char *url,
		const char *token, const char *body, curl_mime *mime,
		long *status, struct px_buf *out, struct px_errbuf *eb)
{
	struct curl_slist *hdrs = NULL;
	struct sink s = {out, false};
	char auth[1024];
	CURLcode cc;

	out->len = 0;
	*status = 0;
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	hdrs = curl_slist_append(hdrs, auth);
	if (body)
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 300L);
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "pictor-import-cloudflare");
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &s);
	if (body) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	if (mime)
		curl_easy_setopt(c->curl, CURLOPT_MIMEPOST, mime);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(c->curl, CURLOPT_NOBODY, 1L);
	cc = curl_easy_perform(c->curl);
	curl_slist_free_all(hdrs);
	if (s.toobig)
		return px_errf(eb, PX_ETOOBIG, "%s %s: answer over %zu bytes",
			       method, url, MAX_ANSWER);
	if (cc != CURLE_OK)
		return px_errf(eb, PX_EIO, "%s %s: %s", method, url,
			       curl_easy_strerror(cc));
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
	return 0;
}

/* The "result" of a successful envelope (a new reference), or NULL with
 * the first error's message in eb. */
static json_t *result_of(const struct px_buf *b, long status, const char *what,
			 struct px_errbuf *eb)
{
	json_t *root = json_loadb((const char *)b->data, b->len, 0, NULL);
	json_t *res = json_object_get(root, "result");
	json_t *err = json_array_get(json_object_get(root, "errors"), 0);
	const char *msg = json_string_value(json_object_get(err, "message"));

	if (status / 100 == 2 && json_is_true(json_object_get(root, "success")) &&
	    res) {
		json_incref(res);
		json_decref(root);
		return res;
	}
	px_errf(eb, PX_EIO, "%s: HTTP %ld%s%s", what, status, msg ? ": " : "",
		msg ? msg : "");
	json_decref(root);
	return NULL;
}

/* A path segment, percent-encoded, appended to url. */
static void add_seg(struct ctx *c, char *url, size_t n, const char *seg)
{
	char *e = curl_easy_escape(c->curl, seg, 0);
	size_t len = strlen(url);

	snprintf(url + len, n - len, "/%s", e ? e : "");
	curl_free(e);
}

static void say(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->o->out)
		return;
	va_start(ap, fmt);
	vfprintf(c->o->out, fmt, ap);
	va_end(ap);
	fputc('\n', c->o->out);
	fflush(c->o->out);
}

/* Both JSON values as compact text compare equal. */
static bool same_json(json_t *a, json_t *b)
{
	return json_equal(a, b);
}

static int sync_variant(struct ctx *c, const char *name, json_t *v,
			struct px_errbuf *eb)
{
	json_t *opts = json_object_get(v, "options");
	json_t *nrs = json_object_get(v, "neverRequireSignedURLs");
	json_t *have = NULL, *body = NULL;
	struct px_buf b;
	char url[4096];
	char *text = NULL;
	long status;
	int rc;

	/* Only managed variants travel: options as an object. */
	if (!json_is_object(opts))
		return 0;
	px_buf_init(&b, 0);
	snprintf(url, sizeof(url), "%s/v1/variants", c->o->target_url);
	add_seg(c, url, sizeof(url), name);
	if ((rc = http(c, "GET", url, c->o->target_token, NULL, NULL, &status,
		       &b, eb)))
		goto out;
	if (status == 200) {
		json_t *res = result_of(&b, status, url, eb);

		have = json_incref(json_object_get(res, "variant"));
		json_decref(res);
		if (same_json(json_object_get(have, "options"), opts) &&
		    json_is_true(json_object_get(have, "neverRequireSignedURLs")) ==
			    json_is_true(nrs)) {
			c->st->variants_unchanged++;
			goto out;
		}
	} else if (status != 404) {
		json_decref(result_of(&b, status, url, eb));
		rc = PX_EIO;
		goto out;
	}
	body = json_pack("{s:s,s:O,s:b}", "id", name, "options", opts,
			 "neverRequireSignedURLs", json_is_true(nrs));
	if (have)
		json_object_del(body, "id");
	text = json_dumps(body, JSON_COMPACT);
	say(c, "%s variant %s", have ? "update" : "create", name);
	if (have)
		c->st->variants_updated++;
	else
		c->st->variants_created++;
	if (c->o->dry_run)
		goto out;
	if (!have)
		snprintf(url, sizeof(url), "%s/v1/variants", c->o->target_url);
	if ((rc = http(c, have ? "PATCH" : "POST", url, c->o->target_token, text,
		       NULL, &status, &b, eb)))
		goto out;
	if (status != 200) {
		json_decref(result_of(&b, status, url, eb));
		rc = PX_EIO;
	}
out:
	free(text);
	json_decref(body);
	json_decref(have);
	px_buf_release(&b);
	return rc;
}

static int sync_variants(struct ctx *c, struct px_errbuf *eb)
{
	char url[4096];
	struct px_buf b;
	json_t *res = NULL, *v;
	const char *name;
	long status;
	int rc;

	px_buf_init(&b, 0);
	snprintf(url, sizeof(url), "%s/v1/variants", c->src);
	if ((rc = http(c, "GET", url, c->o->token, NULL, NULL, &status, &b, eb)))
		goto out;
	if (!(res = result_of(&b, status, "listing the account's variants", eb))) {
		rc = PX_EIO;
		goto out;
	}
	json_object_foreach(json_object_get(res, "variants"), name, v) {
		if ((rc = sync_variant(c, name, v, eb)))
			goto out;
	}
out:
	json_decref(res);
	px_buf_release(&b);
	return rc;
}

/* Upload one image to the target: the source's original, same fields. */
static int import_one(struct ctx *c, json_t *img, const char *id,
		      struct px_errbuf *eb)
{
	const char *filename = json_string_value(json_object_get(img, "filename"));
	json_t *meta = json_object_get(img, "meta");
	bool req = json_is_true(json_object_get(img, "requireSignedURLs"));
	char url[4096], *metatext = NULL;
	curl_mime *mime = NULL;
	curl_mimepart *part;
	struct px_buf blob, ans;
	long status;
	int rc;

	px_buf_init(&blob, 0);
	px_buf_init(&ans, 0);
	snprintf(url, sizeof(url), "%s/v1", c->src);
	add_seg(c, url, sizeof(url), id);
	px_strlcpy(url + strlen(url), "/blob", sizeof(url) - strlen(url));
	if ((rc = http(c, "GET", url, c->o->token, NULL, NULL, &status, &blob, eb)))
		goto out;
	if (status != 200) {
		rc = px_errf(eb, PX_EIO, "GET %s: HTTP %ld", url, status);
		goto out;
	}
	metatext = json_dumps(json_is_object(meta) ? meta : json_object(),
			      JSON_COMPACT);
	mime = curl_mime_init(c->curl);
	part = curl_mime_addpart(mime);
	curl_mime_name(part, "file");
	curl_mime_data(part, (const char *)blob.data, blob.len);
	curl_mime_filename(part, filename && *filename ? filename : id);
	part = curl_mime_addpart(mime);
	curl_mime_name(part, "id");
	curl_mime_data(part, id, CURL_ZERO_TERMINATED);
	part = curl_mime_addpart(mime);
	curl_mime_name(part, "metadata");
	curl_mime_data(part, metatext ? metatext : "{}", CURL_ZERO_TERMINATED);
	part = curl_mime_addpart(mime);
	curl_mime_name(part, "requireSignedURLs");
	curl_mime_data(part, req ? "true" : "false", CURL_ZERO_TERMINATED);
	snprintf(url, sizeof(url), "%s/v1/images", c->o->target_url);
	if ((rc = http(c, "POST", url, c->o->target_token, NULL, mime, &status,
		       &ans, eb)))
		goto out;
	if (status / 100 != 2) {
		json_decref(result_of(&ans, status, id, eb));
		rc = PX_EIO;
	}
out:
	curl_mime_free(mime);
	free(metatext);
	px_buf_release(&blob);
	px_buf_release(&ans);
	return rc;
}

/* Bring the target's copy of metadata and requireSignedURLs in line. */
static int update_one(struct ctx *c, json_t *img, json_t *have, const char *id,
		      bool *changed, struct px_errbuf *eb)
{
	json_t *meta = json_object_get(img, "meta");
	bool req = json_is_true(json_object_get(img, "requireSignedURLs"));
	json_t *body;
	char url[4096], *text;
	struct px_buf ans;
	long status;
	int rc = 0;

	if (!json_is_object(meta))
		meta = NULL;
	*changed = !(meta ? same_json(meta, json_object_get(have, "meta"))
			  : json_object_size(json_object_get(have, "meta")) == 0) ||
		   req != json_is_true(json_object_get(have, "requireSignedURLs"));
	if (!*changed || c->o->dry_run)
		return 0;
	body = json_pack("{s:O,s:b}", "metadata", meta ? meta : json_object(),
			 "requireSignedURLs", req);
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	px_buf_init(&ans, 0);
	snprintf(url, sizeof(url), "%s/v1/images", c->o->target_url);
	add_seg(c, url, sizeof(url), id);
	rc = http(c, "PATCH", url, c->o->target_token, text, NULL, &status, &ans,
		  eb);
	if (!rc && status != 200) {
		json_decref(result_of(&ans, status, id, eb));
		rc = PX_EIO;
	}
	free(text);
	px_buf_release(&ans);
	return rc;
}

static int uploaded_us(json_t *img, int64_t *us)
{
	const char *t = json_string_value(json_object_get(img, "uploaded"));

	return t ? px_time_parse(t, us) : PX_EINVAL;
}

/* One image of the listing; per-image failures are counted, not fatal. */
static void sync_image(struct ctx *c, json_t *img)
{
	const char *id = json_string_value(json_object_get(img, "id"));
	struct px_errbuf eb = {0};
	struct px_buf b;
	char url[4096];
	int64_t up;
	long status;
	bool changed;
	int rc;

	c->st->images++;
	if (!id) {
		c->st->failed++;
		say(c, "fail (an image without an id)");
		return;
	}
	if (c->since_us && (uploaded_us(img, &up) || up < c->since_us)) {
		c->st->skipped++;
		return;
	}
	px_buf_init(&b, 0);
	snprintf(url, sizeof(url), "%s/v1/images", c->o->target_url);
	add_seg(c, url, sizeof(url), id);
	rc = http(c, "GET", url, c->o->target_token, NULL, NULL, &status, &b, &eb);
	if (!rc && status == 200) {
		json_t *have = result_of(&b, status, id, &eb);

		rc = have ? update_one(c, img, have, id, &changed, &eb) : PX_EIO;
		json_decref(have);
		if (!rc && changed) {
			c->st->updated++;
			say(c, "update %s", id);
		} else if (!rc) {
			c->st->unchanged++;
		}
	} else if (!rc && status == 404) {
		if (c->o->limit && (long)c->st->imported >= c->o->limit) {
			c->st->limited = true;
			goto out;
		}
		say(c, "import %s", id);
		rc = c->o->dry_run ? 0 : import_one(c, img, id, &eb);
		if (!rc)
			c->st->imported++;
	} else if (!rc) {
		json_decref(result_of(&b, status, id, &eb));
		rc = PX_EIO;
	}
	if (rc) {
		c->st->failed++;
		say(c, "fail %s: %s", id, eb.msg);
	}
out:
	px_buf_release(&b);
}

static int walk_images(struct ctx *c, struct px_errbuf *eb)
{
	char url[4096], *tok = NULL;
	struct px_buf b;
	json_t *res = NULL, *img;
	long status;
	size_t i;
	int rc = 0;

	px_buf_init(&b, 0);
	do {
		snprintf(url, sizeof(url), "%s/v2?per_page=%d&sort_order=asc",
			 c->src, LIST_PAGE);
		if (tok) {
			char *e = curl_easy_escape(c->curl, tok, 0);

			snprintf(url + strlen(url), sizeof(url) - strlen(url),
				 "&continuation_token=%s", e ? e : "");
			curl_free(e);
		}
		if ((rc = http(c, "GET", url, c->o->token, NULL, NULL, &status,
			       &b, eb)))
			break;
		json_decref(res);
		if (!(res = result_of(&b, status, "listing the account's images", eb))) {
			rc = PX_EIO;
			break;
		}
		json_array_foreach(json_object_get(res, "images"), i, img) {
			sync_image(c, img);
			if (c->st->limited)
				goto out;
		}
		free(tok);
		tok = json_string_value(json_object_get(res, "continuation_token"))
			      ? strdup(json_string_value(
					json_object_get(res, "continuation_token")))
			      : NULL;
	} while (tok && *tok);
out:
	free(tok);
	json_decref(res);
	px_buf_release(&b);
	return rc;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_setup(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int px_cfimport_run(const struct px_cfimport_opts *o,
		    struct px_cfimport_stats *st, struct px_errbuf *eb)
{
	struct ctx c = {o, st, NULL, 0, ""};
	char *acct;
	int rc;

	memset(st, 0, sizeof(*st));
	if (!o->base_url || !o->account_id || !*o->account_id || !o->token ||
	    !o->target_url || !o->target_token)
		return px_errf(eb, PX_EINVAL, "import needs a base URL, an account id, "
					      "a source token and a target");
	if (o->since && px_time_parse(o->since, &c.since_us)) {
		char *end;
		long long s = strtoll(o->since, &end, 10);

		if (*end || end == o->since || s < 0)
			return px_errf(eb, PX_EINVAL,
				       "--since \"%s\": use RFC 3339 UTC or unix seconds",
				       o->since);
		c.since_us = (int64_t)s * 1000000;
	}
	pthread_once(&curl_once, curl_setup);
	if (!(c.curl = curl_easy_init()))
		return px_errf(eb, PX_EINTERNAL, "curl_easy_init failed");
	acct = curl_easy_escape(c.curl, o->account_id, 0);
	snprintf(c.src, sizeof(c.src), "%s/accounts/%s/images", o->base_url,
		 acct ? acct : "");
	curl_free(acct);
	rc = sync_variants(&c, eb);
	if (!rc)
		rc = walk_images(&c, eb);
	curl_easy_cleanup(c.curl);
	return rc;
}
