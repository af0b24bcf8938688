/*
 * thumbnail.c - GET /v1/images/{id}/thumbnail: the small square picture
 * the console's images grid shows, for an image of any moderation status,
 * to a caller holding images:read (the same caller may already read the
 * original through /v1/images/{id}/blob).
 *
 * One fixed rendering (PX_THUMB_OPTIONS: 240x240 cover, WebP, first frame,
 * no metadata) kept in the result cache under a key of its own (the
 * options' canonical text with a "|thumbnail" suffix, so it never answers
 * a public delivery and a placeholder never answers it). With
 * --console-thumbnails upload (the default) the upload renders it on the
 * worker already holding the bytes, before answering, so the grid's first
 * screen after an upload is answered from the cache (not for a pending
 * upload in async refuse mode, whose original a block would drop); with
 * lazy it is rendered at its first request, on the worker pool. Deleting
 * the image purges it with the image's other cached variants (same
 * SHA-256); a tombstone (blocked, original dropped) answers 404 and
 * purges what the cache still holds.
 *
 * Answers carry a strong ETag (the key's digest) and
 * "Cache-Control: private, max-age=3600": the bytes of one id never
 * change, but access does, so shared caches keep nothing.
 */
#include "api/app.h"
#include "cache/cache.h"
#include "catalog/catalog.h"
#include "delivery/options.h"

#include <string.h>

#define PX_THUMB_OPTIONS \
	"width=240,height=240,fit=cover,format=webp,quality=75,anim=false,metadata=none"
#define THUMB_CACHE_CONTROL "private, max-age=3600"

struct thumb {
	char id[PX_ID_MAX + 1];
	char sha256[PX_SHA256_HEX_LEN + 1];
	char etag[40];
	struct px_xform x;
	struct px_cache_key key;
};

/* The transform, cache key and ETag for an original. */
static int thumb_make(struct px_app *a, const char *sha256, int width,
		      int height, const char *format, bool alpha,
		      struct thumb *t, struct px_errbuf *eb)
{
	struct px_image_info in = {
		.width = width, .height = height, .frames = 1,
		.format = px_fmt_parse(format), .has_alpha = alpha,
		.orientation = 1,
	};
	struct px_opts o;
	struct px_buf text;
	bool vary;
	int rc;

	px_opts_init(&o);
	if ((rc = px_opts_parse(PX_THUMB_OPTIONS, &o, eb)))
		return rc;
	px_opts_resolve(&o, &in, "image/webp", (int)a->cfg->max_output, &t->x,
			&vary);
	px_buf_init(&text, 256);
	rc = px_opts_canonical(&o, &text);
	if (!rc)
		rc = px_buf_addf(&text, "|%s|thumbnail",
				 px_fmt_name(t->x.format));
	if (!rc)
		rc = px_cache_key_make(&t->key, sha256, (const char *)text.data,
				       NULL);
	px_buf_release(&text);
	if (rc)
		return px_errc(eb, rc, "internal_error",
			       "the thumbnail key could not be made");
	px_strlcpy(t->sha256, sha256, sizeof(t->sha256));
	snprintf(t->etag, sizeof(t->etag), "\"%.32s\"", t->key.hex);
	return 0;
}

/* Render into the cache; the item (one reference) goes to *out when
 * out is non-NULL. */
static int thumb_render(struct px_app *a, struct thumb *t, const void *data,
			size_t n, struct px_cache_item **out,
			struct px_errbuf *eb)
{
	struct px_image_info info;
	struct px_cache_item *it;
	struct px_buf enc;
	int rc;

	px_buf_init(&enc, 0);
	rc = px_image_transform(data, n, &t->x, &a->lim, &enc, &info, eb);
	if (rc)
		goto out;
	it = px_cache_item_new(200, px_fmt_mime(info.format), enc.data,
			       enc.len);
	if (!it) {
		rc = px_errc(eb, PX_ENOMEM, "internal_error", "out of memory");
		goto out;
	}
	if (px_cache_enabled(a->cache))
		px_cache_land(a->cache, &t->key, it, true);
	if (out)
		*out = it;
	else
		px_cache_item_unref(it);
out:
	px_buf_release(&enc);
	return rc;
}

void px_api_thumbnail_prerender(struct px_app *a, const struct px_image_rec *rec,
				const void *data, size_t n)
{
	struct px_errbuf eb = {0};
	struct thumb *t;

	if (!a->cfg->console || a->cfg->console_thumbnails == PX_CFG_THUMBS_LAZY ||
	    !px_cache_enabled(a->cache) || !rec->sha256[0])
		return;
	/* A pending image that a block would reduce to a tombstone (async
	 * refuse mode) keeps no rendition of its own. */
	if (!strcmp(rec->status, "pending") && !a->mod_quarantine)
		return;
	t = calloc(1, sizeof(*t));
	if (!t)
		return;
	/* Best effort: a failure here is a render at the first request. */
	if (thumb_make(a, rec->sha256, rec->width, rec->height, rec->format,
		       rec->alpha, t, &eb) == 0)
		thumb_render(a, t, data, n, NULL, &eb);
	free(t);
}

static void answer(struct px_req *r, const struct thumb *t, const char *cs)
{
	px_resp_header(r, "ETag", t->etag);
	px_resp_header(r, "Cache-Control", THUMB_CACHE_CONTROL);
	px_resp_header(r, "Cache-Status", cs);
}

static void render_work(void *app, struct px_req *r)
{
	struct px_app *a = app;
	struct thumb *t = px_req_data(r);
	struct px_errbuf eb = {0};
	struct px_cache_item *it = NULL;
	struct px_buf orig;
	int rc;

	px_buf_init(&orig, 0);
	rc = px_catalog_original(a->cat, t->sha256, &orig, &eb);
	if (!rc)
		rc = thumb_render(a, t, orig.data, orig.len, &it, &eb);
	if (rc) {
		px_app_fail(r, rc, &eb);
	} else {
		answer(r, t, "pictor; fwd=uri-miss; stored");
		px_resp_shared(r, 200, it->ctype, it->data, it->len,
			       px_cache_item_unref, it);
	}
	px_buf_release(&orig);
}

/* A blocked image whose original was dropped (async refuse mode) has no
 * thumbnail either, whatever the cache still holds: 404 as /blob answers.
 * True when it has answered. */
static bool tombstone(struct px_app *a, struct px_req *r, const char *id)
{
	struct px_errbuf eb = {0};
	struct px_image_rec full;
	bool gone;
	int rc;

	memset(&full, 0, sizeof(full));
	rc = px_catalog_get(a->cat, id, &full, &eb);
	gone = !rc && full.original_deleted;
	if (gone) /* a thumbnail rendered while it was pending */
		px_api_cache_purge_image(a, &full, "tombstone");
	px_image_rec_release(&full);
	if (rc)
		px_app_fail(r, rc, &eb);
	else if (gone)
		px_resp_error(r, 404, "original_deleted",
			      "image \"%s\" was blocked and its original deleted",
			      id);
	return rc || gone;
}

void px_api_image_thumbnail(struct px_app *a, struct px_req *r,
			    const struct px_call *c)
{
	char id[PX_ID_MAX + 1];
	const char *inm;
	struct px_image_brief rec;
	struct px_errbuf eb = {0};
	struct px_cache_hit h;
	struct thumb *t = NULL;
	int rc;

	memset(&rec, 0, sizeof(rec));
	if (px_call_arg(c, "id", id, sizeof(id))) {
		px_resp_error(r, 404, "not_found", "image not found");
		return;
	}
	if ((rc = px_catalog_brief(a->cat, id, &rec, &eb))) {
		px_app_fail(r, rc, &eb);
		return;
	}
	if (!strcmp(rec.status, "corrupt")) {
		px_resp_error(r, 410, "corrupt",
			      "the original of image \"%s\" is damaged", id);
		return;
	}
	if (!strcmp(rec.status, "blocked") && tombstone(a, r, id))
		return;
	t = calloc(1, sizeof(*t));
	if (!t) {
		px_resp_error(r, 500, "internal_error", "out of memory");
		return;
	}
	px_strlcpy(t->id, rec.id, sizeof(t->id));
	if ((rc = thumb_make(a, rec.sha256, rec.width, rec.height, rec.format,
			     rec.alpha, t, &eb))) {
		px_app_fail(r, rc, &eb);
		goto out;
	}
	inm = px_req_header(r, "If-None-Match");
	if (inm && strstr(inm, t->etag)) {
		answer(r, t, "pictor; fwd=bypass");
		px_resp_empty(r, 304);
		goto out;
	}
	if (px_cache_enabled(a->cache) && px_cache_get(a->cache, &t->key, &h) == 0) {
		answer(r, t, "pictor; hit");
		if (h.tier == PX_CACHE_MEMORY) {
			struct px_cache_item *it = h.item;

			h.item = NULL;
			px_resp_shared(r, 200, it->ctype, it->data, it->len,
				       px_cache_item_unref, it);
		} else {
			px_resp_fd(r, 200, h.ctype, h.fd, h.off, h.len);
			h.fd = -1;
		}
		px_cache_hit_release(&h);
		goto out;
	}
	px_req_set_data(r, t, free);
	t = NULL;
	if (px_req_defer(r, render_work)) {
		px_resp_header(r, "Retry-After", "1");
		px_resp_error(r, 503, "overloaded",
			      "all image workers are busy; retry later");
	}
out:
	free(t);
}
