/*
 * cache.c - the result cache as the application sees it: opening it from
 * the configuration, and POST /v1/cache/purge.
 */
#include "api/app.h"
#include "cache/cache.h"
#include "catalog/watch.h"
#include "moderation/webhook.h"

#include <jansson.h>
#include <time.h>

/*
 * Another node changed something this node's result cache may hold
 * renders of. Entries are keyed by the original's SHA-256 and the
 * resolved options, so a change to a record (a block, a delete, a
 * signing switch) or a variant can never make this node serve other
 * bytes under a key (delivery reads the record and variant from the
 * store on every request, before the cache); these purges keep what
 * the other node removed from lingering here, as the same change made
 * on this node does. A lost message stream drops everything.
 */
static void on_change(void *ctx, const struct px_change *ch)
{
	struct px_cache *cache = ctx;
	struct px_cache_purge p = {0};
	const char *one[1];

	switch (ch->kind) {
	case PX_CHANGE_IMAGE:
	case PX_CHANGE_PURGE:
		if (ch->everything) {
			p.everything = true;
		} else if (ch->sha256) {
			one[0] = ch->sha256;
			p.sha256 = one;
			p.n_sha256 = 1;
		} else if (ch->variant) {
			one[0] = ch->variant;
			p.variants = one;
			p.n_variants = 1;
		}
		break;
	case PX_CHANGE_VARIANT:
		one[0] = ch->variant;
		p.variants = one;
		p.n_variants = 1;
		break;
	case PX_CHANGE_LOST:
		p.everything = true;
		break;
	default:
		return;
	}
	px_cache_purge(cache, &p, NULL, NULL);
}

/*
 * Purges announced while this node was down were never heard; the disk
 * tier may hold what they removed elsewhere. They are replayed from the
 * store's purge log, from the number this data directory saw last (kept
 * in DATA/purge-seq, written after each replay): listening has begun
 * already, so a purge is either in the log read here or heard, perhaps
 * both (applying one twice drops a little more). Without that number, or
 * when the log no longer reaches back to it, everything is dropped.
 */
static void replay_purges(struct px_app *a)
{
	struct px_cache_purge all = {.everything = true};
	char path[4096], num[32] = "", tmp[4120];
	unsigned long long after = 0;
	uint64_t last = 0;
	bool known = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/purge-seq", a->cfg->data);
	if ((f = fopen(path, "r"))) {
		known = fgets(num, sizeof(num), f) &&
			sscanf(num, "%llu", &after) == 1;
		fclose(f);
	}
	if (!known ||
	    px_catalog_purge_log(a->cat, after, on_change, a->cache, &last,
				 NULL)) {
		px_cache_purge(a->cache, &all, NULL, NULL);
		if (px_catalog_purge_log(a->cat, UINT64_MAX, NULL, NULL, &last,
					 NULL) != PX_ENOTFOUND)
			return; /* the store failed: try at the next start */
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (!(f = fopen(tmp, "w")))
		return;
	fprintf(f, "%llu\n", (unsigned long long)last);
	if (fclose(f) == 0)
		rename(tmp, path);
	else
		remove(tmp);
}

int px_api_cache_open(struct px_app *a, struct px_errbuf *eb)
{
	struct px_cache_opts o;
	char dir[4096];
	int rc;

	memset(&o, 0, sizeof(o));
	snprintf(dir, sizeof(dir), "%s/cache", a->cfg->data);
	o.memory_bytes = (uint64_t)a->cfg->cache_memory;
	o.disk_bytes = (uint64_t)a->cfg->cache_disk;
	o.dir = dir;
	o.metrics = a->metrics;
	o.wait_ms = (int)(a->cfg->cache_wait * 1000);
	o.policy = a->cfg->cache_policy == PX_CFG_CACHE_LRU ? PX_CACHE_LRU
							    : PX_CACHE_SIEVE;
	if ((rc = px_cache_new(&o, &a->cache, eb)))
		return rc;
	/* Nodes sharing a store keep records near and drop what the others
	 * change (watch.h). */
	if ((rc = px_catalog_record_cache(a->cat, (size_t)a->cfg->record_cache,
					  a->metrics, eb)) ||
	    (rc = px_catalog_watch(a->cat, on_change, a->cache, eb)))
		return rc;
	if (px_catalog_shared(a->cat))
		replay_purges(a);
	return 0;
}

#define PURGE_LIST_MAX 100

/* Every named variant: the configured ones and the managed ones. */
static int add_variant_url(void *ctx, const struct px_variant *v)
{
	json_t **pair = ctx; /* [urls array, base string] */

	json_array_append_new(pair[0],
			      json_sprintf("%s%s", json_string_value(pair[1]),
					   v->name));
	return 0;
}

static void add_image_urls(struct px_app *a, json_t *urls, json_t *patterns,
			   const char *id)
{
	json_t *pair[2] = {urls, json_sprintf("%s/img/%s/", a->public_url, id)};

	for (int i = 0; i < a->cfg->n_variants; i++)
		json_array_append_new(urls, json_sprintf("%s/img/%s/%s",
							 a->public_url, id,
							 a->cfg->variants[i].name));
	px_catalog_variant_list(a->cat, add_variant_url, pair, NULL);
	json_array_append_new(patterns, json_sprintf("%s/img/%s/*",
						     a->public_url, id));
	json_array_append_new(patterns, json_sprintf("%s/cdn-cgi/image/*/%s",
						     a->public_url, id));
	json_decref(pair[1]);
}

/*
 * Queue the cache.purge webhook event: the URLs a CDN in front should
 * drop. Only when webhooks are on (the sender runs with moderation).
 */
static void notify_purge(struct px_app *a, const char *reason, json_t *ids,
			 json_t *variants, bool everything, uint64_t removed)
{
	json_t *urls = json_array(), *patterns = json_array(), *v, *body;
	struct px_buf b;
	char when[32], *text;
	struct tm tm;
	time_t now = time(NULL);
	size_t i;

	if (!a->mod || !a->cfg->webhook_url || !*a->cfg->webhook_url)
		goto out;
	json_array_foreach(ids, i, v)
		add_image_urls(a, urls, patterns, json_string_value(v));
	json_array_foreach(variants, i, v)
		json_array_append_new(patterns,
				      json_sprintf("%s/img/*/%s", a->public_url,
						   json_string_value(v)));
	if (everything)
		json_array_append_new(patterns,
				      json_sprintf("%s/*", a->public_url));
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	body = json_pack("{s:s,s:s,s:s,s:O,s:O,s:b,s:I,s:O,s:O}", "event",
			 "cache.purge", "reason", reason, "at", when, "images",
			 ids, "variants", variants, "everything", everything,
			 "removed", (json_int_t)removed, "urls", urls,
			 "patterns", patterns);
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	px_buf_init(&b, 0);
	if (text && px_webhook_wrap(text, &b) == 0 &&
	    px_catalog_notify(a->cat, (const char *)b.data, NULL) == 0)
		px_moderation_kick(a->mod);
	free(text);
	px_buf_release(&b);
out:
	json_decref(urls);
	json_decref(patterns);
}

void px_api_cache_purge_image(struct px_app *a, const struct px_image_rec *rec,
			      const char *reason)
{
	const char *sha[] = {rec->sha256};
	struct px_cache_purge p = {.sha256 = sha, .n_sha256 = 1};
	json_t *ids = json_pack("[s]", rec->id), *none = json_array();
	uint64_t removed = 0;

	if (a->cache)
		px_cache_purge(a->cache, &p, &removed, NULL);
	notify_purge(a, reason, ids, none, false, removed);
	json_decref(ids);
	json_decref(none);
}

void px_api_cache_purge_variant(struct px_app *a, const char *name,
				const char *reason)
{
	const char *names[] = {name};
	struct px_cache_purge p = {.variants = names, .n_variants = 1};
	json_t *vars = json_pack("[s]", name), *none = json_array();
	uint64_t removed = 0;

	if (a->cache)
		px_cache_purge(a->cache, &p, &removed, NULL);
	notify_purge(a, reason, none, vars, false, removed);
	json_decref(vars);
	json_decref(none);
}

/* A JSON array of at most PURGE_LIST_MAX strings, or absent. */
static bool string_list(json_t *o, const char *key, json_t **out)
{
	json_t *v = json_object_get(o, key), *e;
	size_t i;

	*out = v;
	if (!v)
		return true;
	if (!json_is_array(v) || json_array_size(v) > PURGE_LIST_MAX)
		return false;
	json_array_foreach(v, i, e)
		if (!json_is_string(e) || !json_string_length(e))
			return false;
	return true;
}

/*
 * POST /v1/cache/purge {"images": [ids]} | {"variants": [names]} |
 * {"everything": true}; the keys may be combined.
 */
void px_api_cache_purge(struct px_app *a, struct px_req *r,
			const struct px_call *c)
{
	const struct px_buf *body = px_req_body(r);
	const char **shas = NULL, **names = NULL;
	json_t *o, *ids = NULL, *vars = NULL, *ev, *none = json_array(), *v;
	struct px_image_rec rec;
	struct px_errbuf eb = {0};
	struct px_cache_purge p = {0};
	uint64_t removed = 0;
	size_t i;

	(void)c;
	memset(&rec, 0, sizeof(rec));
	o = json_loadb(body->data ? (const char *)body->data : "", body->len, 0,
		       NULL);
	ev = json_object_get(o, "everything");
	if (!json_is_object(o) || !string_list(o, "images", &ids) ||
	    !string_list(o, "variants", &vars) ||
	    (ev && !json_is_boolean(ev)) ||
	    (!json_array_size(ids) && !json_array_size(vars) &&
	     !json_is_true(ev))) {
		px_resp_error(r, 400, "invalid_request",
			      "the body must be {\"images\": [ids]}, "
			      "{\"variants\": [names]} or {\"everything\": true} "
			      "(lists of 1 to %d)", PURGE_LIST_MAX);
		goto out;
	}
	shas = calloc(json_array_size(ids) + 1, sizeof(*shas));
	names = calloc(json_array_size(vars) + 1, sizeof(*names));
	if (!shas || !names) {
		px_resp_error(r, 500, "internal_error", "out of memory");
		goto out;
	}
	json_array_foreach(ids, i, v) {
		int rc = px_catalog_get(a->cat, json_string_value(v), &rec, &eb);

		if (rc) {
			px_app_fail(r, rc, &eb);
			goto out;
		}
		shas[i] = strdup(rec.sha256);
		px_image_rec_release(&rec);
		if (!shas[i]) {
			px_resp_error(r, 500, "internal_error", "out of memory");
			goto out;
		}
	}
	json_array_foreach(vars, i, v)
		names[i] = json_string_value(v);
	p.sha256 = shas;
	p.n_sha256 = json_array_size(ids);
	p.variants = names;
	p.n_variants = json_array_size(vars);
	p.everything = json_is_true(ev);
	if (a->cache)
		px_cache_purge(a->cache, &p, &removed, NULL);
	/* the other nodes' caches too (watch.h) */
	{
		int rc = px_catalog_purge_announce(a->cat, p.sha256,
						   p.n_sha256, p.variants,
						   p.n_variants, p.everything,
						   &eb);

		if (rc) {
			px_app_fail(r, rc, &eb);
			goto out;
		}
	}
	notify_purge(a, "purge", ids ? ids : none, vars ? vars : none,
		     p.everything, removed);
	px_app_ok_json(r, 200, json_pack("{s:I}", "removed", (json_int_t)removed));
out:
	if (shas)
		for (i = 0; shas[i]; i++)
			free((char *)shas[i]);
	free(shas);
	free(names);
	json_decref(o);
	json_decref(none);
}
