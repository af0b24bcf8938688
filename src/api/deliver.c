/*
 * deliver.c - the delivery path, in two URL forms:
 *
 *   GET/HEAD /img/{id}/{variant or options}
 *   GET/HEAD /cdn-cgi/image/{options}/{id}     (Cloudflare's resizing form)
 *
 * Everything cheap happens on the network thread: record lookup, variant
 * resolution, signature check, option parsing, format negotiation, ETag,
 * the 304 answer and the cache lookup. Every check that can refuse a
 * request runs before the cache is asked, so a hit is served under the
 * same rules as a render and a block, delete or requireSignedURLs change
 * applies to the next request whatever is cached. Only the render (read
 * original, transform, encode) goes to the worker pool; concurrent misses
 * for one key wait for a single render (see cache/cache.h).
 */
#include "api/app.h"
#include "cache/cache.h"
#include "core/crypto.h"
#include "delivery/options.h"
#include "delivery/hints.h"
#include "delivery/device.h"
#include "delivery/keys.h"
#include "delivery/sign.h"
#include "guard/guard.h"

#include <jansson.h>
#include <time.h>

struct render {
	struct px_xform x;
	char id[PX_ID_MAX + 1];
	char sha256[PX_SHA256_HEX_LEN + 1];
	char etag[40];
	char cache_control[64];
	bool vary, json, redirect_on_error, placeholder;
	int width, height, frames; /* the original's, for format=json */
	bool alpha;
	char format[16];
	uint64_t bytes;
	bool cached; /* the answer goes through the result cache */
	bool client_hints; /* width=auto: ask for hints, vary on them */
	unsigned hints_vary; /* bit per enum px_hint consulted */
	struct px_cache_key key;
	struct px_cache_waiter waiter;
	struct px_app *app; /* while rendering, for render_abandoned() */
};

/*
 * The classes a delivery request falls in, known once the cache has been
 * asked: answered from the cache on the network thread, or needing a
 * render (or waiting for one) on a worker.
 */
enum deliver_class { DELIVER_HIT, DELIVER_RENDER };

/*
 * RFC 9211 Cache-Status values. Every delivery answer carries one:
 * answers the cache did not take part in (a refusal before the lookup,
 * the cache turned off) say "bypass".
 */
#define CS_HIT "pictor; hit"
#define CS_STORED "pictor; fwd=uri-miss; stored"
#define CS_MISS "pictor; fwd=uri-miss"
#define CS_COLLAPSED "pictor; fwd=uri-miss; collapsed"
#define CS_BYPASS "pictor; fwd=bypass"
/* a 304 for a variant not stored: validated without a render */
#define CS_NOT_MODIFIED "pictor; fwd=uri-miss; fwd-status=304"

/*
 * The one point where a request's class is known and nothing has been
 * spent on it yet: per-client limits by class go here. Returns false
 * when it has answered the request itself.
 */
static bool admit(struct px_app *a, struct px_req *r, enum deliver_class cls)
{
	const struct render *rd = px_req_data(r);

	if ((cls == DELIVER_RENDER && rd &&
	     !px_app_render_sched(a, r, rd->x.width, rd->x.height, rd->width,
				  rd->height, rd->x.anim ? rd->frames : 1)) ||
	    !px_app_charge(a, r, cls == DELIVER_HIT ? PX_CLASS_HIT : PX_CLASS_RENDER)) {
		/* refused before the cache could answer or render */
		px_resp_header(r, "Cache-Status", CS_BYPASS);
		return false;
	}
	return true;
}

static void common_headers(struct px_req *r, const struct render *rd)
{
	char vary[160];
	size_t n;

	px_resp_header(r, "ETag", rd->etag);
	px_resp_header(r, "Cache-Control", rd->cache_control);
	if (rd->placeholder)
		px_resp_header(r, "X-Pictor-Placeholder", "moderation");
	n = (size_t)snprintf(vary, sizeof(vary), "%s%s", rd->vary ? "Accept" : "",
			     rd->vary && rd->hints_vary ? ", " : "");
	px_hints_vary(rd->hints_vary, vary + n, sizeof(vary) - n);
	if (vary[0])
		px_resp_header(r, "Vary", vary);
	if (rd->client_hints) {
		px_resp_header(r, "Accept-CH", PX_HINTS_ACCEPT_CH);
		px_resp_header(r, "Critical-CH", PX_HINTS_CRITICAL_CH);
	}
}

/* A managed variant with per-device overrides: the options for the
 * request's device class; the class's headers join *vary. */
static const char *device_text(struct px_req *r, const struct px_variant *v,
			       unsigned *vary)
{
	bool used_ua;
	enum px_device d = px_device_classify(
		px_req_header(r, "Sec-CH-UA-Mobile"),
		px_req_header(r, "User-Agent"), &used_ua);

	*vary |= 1u << PX_HINT_SEC_CH_UA_MOBILE;
	if (used_ua)
		*vary |= 1u << PX_HINT_USER_AGENT;
	return px_variant_text_for(v, px_device_name(d));
}

/*
 * width=auto: the width from the request's client hints, never above the
 * original. The URL (and so its signature) keeps "width=auto"; the
 * chosen width goes in the ETag and the cache key.
 */
static void resolve_auto_width(struct px_req *r, const struct px_image_brief *rec,
			       int rotate, struct render *rd)
{
	const char *hint[PX_HINT_COUNT];
	struct px_auto_width aw;
	int original = rotate % 180 ? rec->height : rec->width;

	for (int i = 0; i < PX_HINT_COUNT; i++)
		hint[i] = px_req_header(r, px_hint_name((enum px_hint)i));
	px_hints_auto_width(hint, original, &aw);
	rd->x.width = PX_MIN(aw.width, rd->x.max_output);
	rd->hints_vary |= aw.vary;
	rd->client_hints = true;
}

static void land_render(struct px_app *a, struct px_req *r, struct render *rd,
			const char *mime, struct px_buf *out);

/* format=json: the original's and the output's properties; for a
 * moderation placeholder, only the stand-in's. */
static void answer_json(struct px_app *a, struct px_req *r, struct render *rd,
			const struct px_image_info *out)
{
	json_t *o = rd->placeholder
		? json_pack("{s:s,s:i,s:i,s:s,s:i,s:b}", "placeholder",
			    "moderation", "width", out->width, "height",
			    out->height, "format", px_fmt_name(out->format),
			    "frames", out->frames, "alpha", out->has_alpha)
		: json_pack(
		"{s:{s:i,s:i,s:s,s:i,s:b,s:I},s:i,s:i,s:s,s:i,s:b}", "original",
		"width", rd->width, "height", rd->height, "format", rd->format,
		"frames", rd->frames, "alpha", rd->alpha, "file_size",
		(json_int_t)rd->bytes, "width", out->width, "height", out->height,
		"format", px_fmt_name(out->format), "frames", out->frames, "alpha",
		out->has_alpha);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	struct px_buf b;

	json_decref(o);
	if (!text) {
		px_resp_error(r, 500, "internal_error", "out of memory");
		return;
	}
	if (!rd->cached) {
		px_resp_bytes(r, 200, "application/json", text, strlen(text), true);
		return;
	}
	px_buf_init(&b, 0);
	if (px_buf_adds(&b, text)) {
		px_resp_error(r, 500, "internal_error", "out of memory");
	} else {
		land_render(a, r, rd, "application/json", &b);
	}
	px_buf_release(&b);
	free(text);
}

/* Hand the leader's failed answer to the requests waiting on it. */
static void land_error(struct px_app *a, struct px_req *r, struct render *rd)
{
	struct px_cache_item *it;
	const char *loc = px_resp_header_get(r, "Location");
	const void *body;
	size_t n;

	body = px_resp_body(r, &n);
	it = px_cache_item_new(px_resp_status(r), px_resp_ctype(r), body, n);
	if (it && loc)
		px_strlcpy(it->location, loc, sizeof(it->location));
	px_cache_land(a->cache, &rd->key, it, false);
	px_cache_item_unref(it);
}

/* The leader's rendered bytes: stored, given to the waiters and sent
 * from the one shared copy. */
static void land_render(struct px_app *a, struct px_req *r, struct render *rd,
			const char *mime, struct px_buf *out)
{
	struct px_cache_item *it;
	bool stored;

	it = px_cache_item_new(200, mime, out->data, out->len);
	stored = px_cache_land(a->cache, &rd->key, it, true);
	px_resp_header(r, "Cache-Status", stored ? CS_STORED : CS_MISS);
	if (!it) {
		px_resp_buf(r, 200, mime, out);
		return;
	}
	px_resp_shared(r, 200, mime, it->data, it->len, px_cache_item_unref, it);
}

/* Asked between tiles: stop a render nobody will read, its client gone
 * and no other request waiting on it (a coalesced one still wants it). */
static bool render_abandoned(void *arg)
{
	struct px_req *r = arg;
	const struct render *rd = px_req_data(r);

	return px_req_client_gone(r) &&
	       !(rd->cached && px_cache_awaited(rd->app->cache, &rd->key));
}

static void render_work(void *app, struct px_req *r)
{
	struct px_app *a = app;
	struct render *rd = px_req_data(r);
	struct px_errbuf eb = {0};
	struct px_image_info info;
	struct px_buf orig, out;
	int64_t t0 = px_mono_us();
	int rc;

	px_buf_init(&orig, 0);
	px_buf_init(&out, 0);
	if (px_req_cancelled(r)) {
		/* pushed out of the queue, or its client left: fail fast so
		 * requests waiting on this render hear at once (this one's
		 * answer is held back like any "retry later") */
		px_req_hold(r, (int)a->cfg->refusal_delay_ms);
		px_resp_header(r, "Retry-After", "1");
		rc = px_errc(&eb, PX_EBUSY, "overloaded",
			     "the render was dropped from the queue; retry later");
	} else {
		rd->app = a;
		rd->x.abandoned = render_abandoned;
		rd->x.abandoned_arg = r;
		rc = px_catalog_original(a->cat, rd->sha256, &orig, &eb);
		/* format=json describes the output without encoding it. */
		if (!rc && rd->json)
			rc = px_image_describe(orig.data, orig.len, &rd->x,
					       &a->lim, NULL, &info, &eb);
		else if (!rc)
			rc = px_image_transform(orig.data, orig.len, &rd->x,
						&a->lim, &out, &info, &eb);
	}
	if (rc && rd->redirect_on_error) {
		/* onerror=redirect: send the client to the unresized image. */
		char loc[PX_ID_MAX + 32];

		snprintf(loc, sizeof(loc), "/img/%s/public", rd->id);
		px_resp_header(r, "Location", loc);
		px_resp_header(r, "Cache-Control", "no-store");
		px_resp_empty(r, 307);
		goto out;
	}
	if (rc) {
		if (eb.code && !strcmp(eb.code, "render_timeout")) {
			/* over --render-timeout: the worker is free again */
			px_metric_add(a->m.render_timeouts, 1);
			px_resp_header(r, "Retry-After", "5");
		} else if (eb.code && !strcmp(eb.code, "client_gone")) {
			/* stopped mid-render: nobody reads the answer (a
			 * request joining since would retry) */
			px_metric_add(a->m.renders_cancelled, 1);
			px_req_note(r, NULL, "client-gone");
			px_resp_header(r, "Retry-After", "1");
		}
		px_app_fail(r, rc, &eb);
		goto out;
	}
	common_headers(r, rd);
	if (rd->json)
		answer_json(a, r, rd, &info);
	else if (rd->cached)
		land_render(a, r, rd, px_fmt_mime(info.format), &out);
	else
		px_resp_buf(r, 200, px_fmt_mime(info.format), &out);
	if (!rd->json) {
		px_metric_add(a->m.renders, 1);
		px_metric_observe(a->m.render_seconds,
				  (double)(px_mono_us() - t0) / 1e6);
	}
out:
	if (rd->cached && px_resp_status(r) != 200) {
		px_resp_header(r, "Cache-Status", CS_MISS);
		land_error(a, r, rd);
	}
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
			    bool required, int64_t *exp)
{
	const char *e = px_req_query_raw(r, "exp");
	const char *s = px_req_query_raw(r, "sig");
	struct px_errbuf eb = {0};

	*exp = 0;
	if (!required && !e && !s)
		return true;
	if (px_keys_verify(a->keys, px_req_path(r), e, s, (int64_t)time(NULL),
			   exp, &eb)) {
		px_resp_error(r, 403, eb.code, "%s", eb.msg);
		return false;
	}
	return true;
}

/* Split the path into the id and the variant or option string, both
 * percent-decoded. */
static bool split_path(const char *path, char *id, size_t nid, char *spec,
		       size_t nspec, bool *cdn)
{
	const char *a, *b, *slash;

	*cdn = !strncmp(path, "/cdn-cgi/image/", 15);
	if (*cdn) {
		/* /cdn-cgi/image/{options}/{id} */
		a = path + 15;
		slash = strchr(a, '/');
		if (!slash)
			return false;
		b = slash + 1;
		return px_url_decode(a, (size_t)(slash - a), spec, nspec) == 0 &&
		       px_url_decode(b, strlen(b), id, nid) == 0 && *id &&
		       !strchr(id, '/') && *spec;
	}
	/* /img/{id}/{variant} */
	a = path + 5;
	slash = strchr(a, '/');
	if (!slash)
		return false;
	return px_url_decode(a, (size_t)(slash - a), id, nid) == 0 &&
	       px_url_decode(slash + 1, strlen(slash + 1), spec, nspec) == 0 &&
	       *spec && !strchr(spec, '/');
}

/*
 * Downstream lifetime: --browser-ttl, cut to the signature's expiry. Not
 * "immutable": an image's URL stays the same when it is blocked, deleted
 * or switched to signed URLs, so browsers and CDNs must come back.
 */
static void set_cache_control(struct px_app *a, struct render *rd, int64_t exp)
{
	long long ttl = (long long)a->cfg->browser_ttl;

	if (rd->placeholder) {
		snprintf(rd->cache_control, sizeof(rd->cache_control),
			 "no-store");
		return;
	}
	if (exp)
		ttl = PX_MIN(ttl, (long long)PX_MAX(exp - (int64_t)time(NULL), 0));
	snprintf(rd->cache_control, sizeof(rd->cache_control),
		 "public, max-age=%lld", ttl);
}

static void answer_overloaded(struct px_app *a, struct px_req *r)
{
	/* held back like a 429: the client waits instead of asking again
	 * at once (docs/SECURITY.md) */
	px_req_hold(r, (int)a->cfg->refusal_delay_ms);
	px_metric_add(a->m.overloaded, 1);
	px_resp_header(r, "Retry-After", "1");
	px_resp_error(r, 503, "overloaded",
		      "all image workers are busy; retry later");
}

static void start_render(struct px_app *a, struct px_req *r,
			 struct render *rd)
{
	if (px_req_defer(r, render_work) == 0)
		return;
	answer_overloaded(a, r);
	if (rd->cached) {
		px_resp_header(r, "Cache-Status", CS_MISS);
		land_error(a, r, rd);
	}
}

/* Answer from a hit; what it holds is taken. */
static void answer_hit(struct px_req *r, const struct render *rd,
		       struct px_cache_hit *h, const char *status)
{
	common_headers(r, rd);
	px_resp_header(r, "Cache-Status", status);
	if (h->tier == PX_CACHE_MEMORY) {
		struct px_cache_item *it = h->item;

		h->item = NULL;
		px_resp_shared(r, 200, it->ctype, it->data, it->len,
			       px_cache_item_unref, it);
	} else {
		px_resp_fd(r, 200, h->ctype, h->fd, h->off, h->len);
		h->fd = -1;
	}
	px_cache_hit_release(h);
}

static void park(void *req)
{
	px_req_park(req);
}

/* A coalesced request gets the leader's answer (any thread). */
static void waiter_done(struct px_cache_waiter *w, struct px_cache_item *res,
			bool timed_out)
{
	struct px_req *r = w->arg;
	const struct render *rd = px_req_data(r);

	px_resp_header(r, "Cache-Status", CS_COLLAPSED);
	if (timed_out) {
		px_resp_header(r, "Retry-After", "1");
		px_resp_error(r, 503, "render_timeout",
			      "the render this request waits for is taking too long");
	} else if (!res) {
		px_resp_error(r, 500, "internal_error", "out of memory");
	} else if (res->status == 200) {
		common_headers(r, rd);
		px_cache_item_ref(res);
		px_resp_shared(r, 200, res->ctype, res->data, res->len,
			       px_cache_item_unref, res);
	} else {
		if (res->location[0])
			px_resp_header(r, "Location", res->location);
		if (res->status == 307)
			px_resp_header(r, "Cache-Control", "no-store");
		px_resp_bytes(r, res->status, res->ctype[0] ? res->ctype : NULL,
			      res->data, res->len, false);
	}
	px_req_wake(r);
}

/* If-None-Match matched: 304, a hit when the variant is stored (the
 * answer rests on the stored one), else validated without a render. */
static void not_modified(struct px_app *a, struct px_req *r,
			 const struct render *rd)
{
	struct px_cache_hit h;
	const char *cs = CS_BYPASS;

	if (rd->cached) {
		cs = px_cache_get(a->cache, &rd->key, &h) == 0 ? CS_HIT
							      : CS_NOT_MODIFIED;
		px_cache_hit_release(&h);
	}
	common_headers(r, rd);
	px_resp_header(r, "Cache-Status", cs);
	px_resp_empty(r, 304);
	px_metric_add(a->m.not_modified, 1);
}

/* Every check has passed: answer from the cache, wait for a render of
 * the same key, or render. */
static void serve_cached(struct px_app *a, struct px_req *r, struct render *rd)
{
	struct px_cache_hit h;

	if (px_cache_get(a->cache, &rd->key, &h) == 0) {
		if (admit(a, r, DELIVER_HIT))
			answer_hit(r, rd, &h, CS_HIT);
		px_cache_hit_release(&h);
		return;
	}
	if (!admit(a, r, DELIVER_RENDER))
		return;
	rd->waiter.fn = waiter_done;
	rd->waiter.arg = r;
	switch (px_cache_join(a->cache, &rd->key, &rd->waiter, park, &h)) {
	case PX_CACHE_FOUND:
		answer_hit(r, rd, &h, CS_HIT);
		break;
	case PX_CACHE_JOINED:
		break;
	case PX_CACHE_LEAD:
		start_render(a, r, rd);
		break;
	}
}

void px_api_deliver(struct px_app *a, struct px_req *r, const char *path)
{
	char id[PX_ID_MAX + 1], spec[1024], hex[PX_SHA256_HEX_LEN + 1];
	struct px_image_brief rec;
	struct px_variant var;
	struct px_errbuf eb = {0};
	struct render *rd = NULL, *rd_owned;
	const char *opts_text;
	bool cdn, never_signed = false, managed = false, placeholder,
	     served = false;
	unsigned device_vary = 0;
	struct px_opts o;
	struct px_buf key;
	int64_t exp;
	int rc;

	memset(&rec, 0, sizeof(rec));
	memset(&var, 0, sizeof(var));
	px_buf_init(&key, 4096);
	if (!split_path(path, id, sizeof(id), spec, sizeof(spec), &cdn)) {
		px_resp_error(r, 404, "not_found",
			      "use /img/{id}/{variant or options} or "
			      "/cdn-cgi/image/{options}/{id}");
		goto out;
	}
	if ((rc = px_catalog_brief(a->cat, id, &rec, &eb))) {
		px_app_unavailable(a, r, id, NULL, rc, &eb);
		goto out;
	}

	/* A named variant (managed ones first) or inline options. */
	if (!cdn && !px_opts_is_inline(spec)) {
		if (px_catalog_variant_get(a->cat, spec, &var, NULL) == 0) {
			opts_text = var.ndevice ? device_text(r, &var, &device_vary)
						: var.text;
			never_signed = var.never_require_signed;
			managed = true;
		} else if (!(opts_text = px_config_variant(a->cfg, spec))) {
			px_resp_error(r, 404, "variant_not_found",
				      "no variant named \"%.64s\"", spec);
			goto out;
		}
	} else if (!a->cfg->flexible_variants) {
		px_resp_error(r, 403, "flexible_variants_disabled",
			      "options in URLs are disabled; use a named variant");
		goto out;
	} else {
		opts_text = spec;
	}
	px_opts_init(&o);
	if ((rc = px_opts_parse(opts_text, &o, &eb)) ||
	    (opts_text == spec &&
	     (rc = px_opts_allowed(&o, a->cfg->flexible_options, &eb)))) {
		px_app_fail(r, rc, &eb);
		goto out;
	}
	if (o.onerror_redirect && !cdn) {
		px_resp_error(r, 400, "invalid_option",
			      "option \"onerror\" is only valid on /cdn-cgi/image/");
		goto out;
	}

	if (!check_signature(a, r, rec.require_signed && !never_signed, &exp))
		goto out;
	if (!px_app_hotlink(a, r, managed ? &var : NULL))
		goto out;
	if (!strcmp(rec.status, "corrupt")) {
		/* pictor fsck found the original missing or damaged */
		px_resp_header(r, "Cache-Control", "no-store");
		px_resp_error(r, 410, "corrupt",
			      "the original of image \"%s\" is damaged", id);
		goto out;
	}
	placeholder = strcmp(rec.status, "approved") &&
		      a->cfg->moderation_placeholder;
	if (strcmp(rec.status, "approved") && !placeholder) {
		/* Pending, flagged and blocked images are never public. */
		px_app_unavailable(a, r, id, rec.status, 0, NULL);
		goto out;
	}

	rd = calloc(1, sizeof(*rd));
	if (!rd) {
		px_resp_error(r, 500, "internal_error", "out of memory");
		goto out;
	}
	{
		struct px_image_info in = {
			.width = rec.width, .height = rec.height,
			.frames = rec.frames, .format = px_fmt_parse(rec.format),
			.has_alpha = rec.alpha, .orientation = 1,
		};

		/* Only frames the verdict looked at are served. */
		if (!rec.frames_covered) {
			in.frames = 1;
			o.x.anim = false;
		}
		px_opts_resolve(&o, &in, px_req_header(r, "Accept"),
				(int)a->cfg->max_output, &rd->x, &rd->vary);
		if (o.width_auto)
			resolve_auto_width(r, &rec, o.x.rotate, rd);
	}
	px_api_faces_xform(&rec.faces, &rd->x);
	rd->hints_vary |= device_vary;
	rd->x.budget_ms = (int)(a->cfg->render_timeout * 1000);
	px_strlcpy(rd->id, rec.id, sizeof(rd->id));
	px_strlcpy(rd->sha256, rec.sha256, sizeof(rd->sha256));
	px_strlcpy(rd->format, rec.format, sizeof(rd->format));
	rd->json = o.format == PX_OUT_JSON;
	if (placeholder) {
		/* An unapproved image stands in as a blur that shows nothing
		 * of its content, the same at every size (built tiny, then
		 * enlarged), one frame, never with its metadata; no-store
		 * for browsers and CDNs, but kept in the result cache under
		 * its own key (docs/ARCHITECTURE.md, "Result cache"). */
		rd->x.placeholder = true;
		rd->x.anim = false;
		rd->x.metadata = PX_META_NONE;
		rd->placeholder = true;
	}
	rd->redirect_on_error = o.onerror_redirect;
	rd->width = rec.width;
	rd->height = rec.height;
	rd->frames = rec.frames;
	rd->alpha = rec.alpha;
	rd->bytes = rec.bytes;

	/* The ETag covers the original, the canonical options and the
	 * negotiated format, so equal variants share one. */
	px_buf_adds(&key, rec.sha256);
	px_buf_adds(&key, "|");
	px_opts_canonical(&o, &key);
	px_buf_addf(&key, "|%s%s", rd->json ? "json" : px_fmt_name(rd->x.format),
		    rd->placeholder ? "|placeholder-tiny" : "");
	if (o.width_auto)
		px_buf_addf(&key, "|auto-width=%d", rd->x.width);
	/* Served as its first frame until moderation has seen every frame:
	 * a different answer, so a different ETag and cache entry. */
	if (!rec.frames_covered && rec.frames > 1)
		px_buf_adds(&key, "|first-frame");
	/* Face-dependent output changes when the record's faces do (a
	 * detection for an older image), with the same options. */
	px_api_faces_key(&rec.faces, &rd->x, &key);
	px_sha256_hex(key.data, key.len, hex);
	snprintf(rd->etag, sizeof(rd->etag), "\"%.32s\"", hex);
	set_cache_control(a, rd, exp);
	rd->cached = px_cache_enabled(a->cache) &&
		     px_cache_key_make(&rd->key, rec.sha256,
				       (const char *)key.data + 65,
				       opts_text == spec ? NULL : spec) == 0;

	served = true;
	if (etag_matches(px_req_header(r, "If-None-Match"), rd->etag)) {
		not_modified(a, r, rd);
		goto out;
	}
	px_req_set_data(r, rd, free);
	rd_owned = rd;
	rd = NULL;
	if (rd_owned->cached) {
		serve_cached(a, r, rd_owned);
		goto out;
	}
	if (!admit(a, r, DELIVER_RENDER))
		goto out;
	px_resp_header(r, "Cache-Status", CS_BYPASS);
	start_render(a, r, rd_owned);
out:
	/* refused before the cache was asked */
	if (!served)
		px_resp_header(r, "Cache-Status", CS_BYPASS);
	free(rd);
	px_buf_release(&key);
	px_variant_release(&var);
}
