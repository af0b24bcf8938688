/*
 * hashlists.c - known images and near-duplicates, over PDQ hashes.
 *
 *   POST   /v1/hashlists                 {"name","action","threshold"}
 *   GET    /v1/hashlists                 every list
 *   GET    /v1/hashlists/{name}          one list
 *   POST   /v1/hashlists/{name}/hashes   hex lines or CSV (hashtext.h)
 *   DELETE /v1/hashlists/{name}
 *   GET    /v1/images/{id}/similar?distance=N&limit=M
 *
 * and the upload hook: px_api_pdq_upload() hashes the upload and matches
 * it against the lists; px_api_pdq_fold() merges a match into the
 * moderation result, so a listed image takes the same path as a policy
 * decision (block refused or quarantined, flag queued for review, a
 * webhook event either way). The lists live in catalog/hashlist.c, the
 * similarity index in catalog/mih.c.
 */
#include "api/app.h"
#include "catalog/hashlist.h"
#include "core/log.h"
#include "hash/hashtext.h"

#include <jansson.h>

#define SIMILAR_DEFAULT_DISTANCE 10
#define SIMILAR_DEFAULT_LIMIT 50
#define SIMILAR_MAX_LIMIT 1000

int px_api_pdq_upload(struct px_app *a, const void *data, size_t n,
		      struct px_image_rec *rec, struct px_api_pdq_hit *hit,
		      struct px_errbuf *eb)
{
	struct px_pdq_result r;
	struct px_errbuf heb = {0};
	int rc;

	memset(hit, 0, sizeof(*hit));
	if (a->pdq_off)
		return 0;
	/* The upload decoded already; a hash that still cannot be made is
	 * logged and the image stored without one. */
	if (px_pdq_image(data, n, &r, &heb)) {
		px_logf(PX_LOG_WARN, "no PDQ hash for an upload: %s", heb.msg);
		return 0;
	}
	px_pdq_hex(&r.dih[PX_PDQ_ORIGINAL], rec->pdq);
	rec->pdq_quality = r.quality;
	if ((rc = px_hashlist_match(a->cat, &r, &hit->m, eb)))
		return rc;
	if (hit->m.action)
		snprintf(hit->rule, sizeof(hit->rule), "hashlist:%s",
			 hit->m.list);
	return 0;
}

int px_api_pdq_fold(const struct px_api_pdq_hit *hit,
		    struct px_mod_result *res)
{
	enum px_verdict v;
	json_t *o, *h;
	char *text;

	if (!hit->m.action)
		return 0;
	v = hit->m.action == PX_HL_BLOCK ? PX_VERDICT_BLOCK : PX_VERDICT_FLAG;
	o = res->json ? json_loads(res->json, 0, NULL) : NULL;
	if (!o)
		o = json_object();
	h = json_pack("{s:s,s:s,s:i,s:s,s:s}", "list", hit->m.list, "action",
		      px_hl_action_name(hit->m.action), "distance",
		      hit->m.distance, "orientation",
		      px_pdq_dih_name(hit->m.orientation), "hash", hit->m.hash);
	if (!o || !h) {
		json_decref(o);
		json_decref(h);
		return PX_ENOMEM;
	}
	json_object_set_new(o, "hashlist", h);
	/* The stronger decision wins; a listed image is never approved. */
	if (v > res->verdict) {
		res->verdict = v;
		res->rule = hit->rule;
		json_object_set_new(o, "verdict",
				    json_string(px_verdict_name(res->verdict)));
		json_object_set_new(o, "rule", json_string(hit->rule));
	}
	text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
	json_decref(o);
	if (!text)
		return PX_ENOMEM;
	free(res->json);
	res->json = text;
	return 0;
}

/* --- /v1/hashlists --- */

static json_t *list_json(const struct px_hashlist *l)
{
	char when[40];
	time_t secs = (time_t)(l->created_us / 1000000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_pack("{s:s,s:s,s:i,s:s,s:I}", "name", l->name, "action",
			 px_hl_action_name(l->action), "threshold",
			 l->threshold, "created", when, "count",
			 (json_int_t)l->count);
}

static int list_one(void *ctx, const struct px_hashlist *l)
{
	json_t *o = list_json(l);

	if (!o)
		return PX_ENOMEM;
	json_array_append_new(ctx, o);
	return 0;
}

static void lists(struct px_app *a, struct px_req *r)
{
	struct px_errbuf eb = {0};
	json_t *arr = json_array();
	int rc;

	if (!arr) {
		px_app_ok_json(r, 200, NULL);
		return;
	}
	if ((rc = px_hashlist_list(a->cat, list_one, arr, &eb))) {
		json_decref(arr);
		px_app_fail(r, rc, &eb);
		return;
	}
	px_app_ok_json(r, 200, json_pack("{s:o}", "hashlists", arr));
}

static void create(struct px_app *a, struct px_req *r)
{
	const struct px_buf *body = px_req_body(r);
	struct px_errbuf eb = {0};
	struct px_hashlist l;
	const char *name, *action;
	json_t *o, *t;
	int rc;

	memset(&l, 0, sizeof(l));
	o = json_loadb((const char *)body->data, body->len,
		       JSON_REJECT_DUPLICATES, NULL);
	name = json_string_value(json_object_get(o, "name"));
	action = json_string_value(json_object_get(o, "action"));
	t = json_object_get(o, "threshold");
	if (!json_is_object(o) || !name || !action ||
	    (t && !json_is_integer(t))) {
		px_resp_error(r, 400, "invalid_request",
			      "the body must be {\"name\": \"...\", \"action\": \"block\"|\"flag\", \"threshold\": 0-%d}",
			      PX_HASHLIST_THRESHOLD_MAX);
		goto out;
	}
	if (strlen(name) > PX_HASHLIST_NAME_MAX) {
		px_resp_error(r, 400, "invalid_request",
			      "a hash list name matches [A-Za-z0-9._-]{1,64}");
		goto out;
	}
	px_strlcpy(l.name, name, sizeof(l.name));
	l.action = px_hl_action_parse(action);
	l.threshold = PX_PDQ_MATCH_DISTANCE;
	if (t) {
		json_int_t v = json_integer_value(t);

		l.threshold = v < 0 || v > PX_HASHLIST_THRESHOLD_MAX ? -1 : (int)v;
	}
	if ((rc = px_hashlist_create(a->cat, &l, &eb))) {
		px_app_fail(r, rc, &eb);
	} else {
		json_t *after = list_json(&l);

		px_app_audit(a, r, "hashlist.create", NULL, after);
		px_app_ok_json(r, 201, after);
	}
out:
	json_decref(o);
}

struct import {
	struct px_pdq *a;
	size_t n, cap;
};

static int import_one(void *ctx, const struct px_pdq *h, int line)
{
	struct import *im = ctx;

	if (im->n == im->cap) {
		size_t cap = im->cap ? im->cap * 2 : 1024;
		struct px_pdq *p = realloc(im->a, cap * sizeof(*p));

		if (!p)
			return PX_ENOMEM;
		im->a = p;
		im->cap = cap;
	}
	im->a[im->n++] = *h;
	return 0;
}

/* The {name} capture, or a 404 answer and false. */
static bool list_name(struct px_req *r, const struct px_call *c,
		      char name[PX_HASHLIST_NAME_MAX + 1])
{
	if (px_call_arg(c, "name", name, PX_HASHLIST_NAME_MAX + 1) ||
	    !px_hashlist_valid_name(name)) {
		px_resp_error(r, 404, "not_found", "hash list not found");
		return false;
	}
	return true;
}

/* Worker: an import may hold hundreds of thousands of hashes. The name
 * was checked before deferring and is kept on the request. */
static void import_work(void *app, struct px_req *r)
{
	struct px_app *a = app;
	const struct px_buf *body = px_req_body(r);
	const char *name = px_req_data(r);
	struct px_errbuf eb = {0};
	struct import im = {0};
	struct px_hashlist l;
	size_t added = 0;
	json_t *o;
	int rc;

	if ((rc = px_hashtext_parse((const char *)body->data, body->len,
				    import_one, &im, &eb)))
		goto out;
	if ((rc = px_hashlist_add(a->cat, name, im.a, im.n, &added, &l, &eb)))
		goto out;
	o = list_json(&l);
	if (o) {
		json_object_set_new(o, "added", json_integer((json_int_t)added));
		json_object_set_new(o, "read", json_integer((json_int_t)im.n));
		px_app_audit(a, r, "hashlist.import", NULL, o);
	}
	px_app_ok_json(r, 200, o);
out:
	if (rc)
		px_app_fail(r, rc, &eb);
	free(im.a);
}

void px_api_hashlist_list(struct px_app *a, struct px_req *r,
			  const struct px_call *c)
{
	lists(a, r);
}

void px_api_hashlist_create(struct px_app *a, struct px_req *r,
			    const struct px_call *c)
{
	create(a, r);
}

void px_api_hashlist_get(struct px_app *a, struct px_req *r,
			 const struct px_call *c)
{
	char name[PX_HASHLIST_NAME_MAX + 1];
	struct px_errbuf eb = {0};
	struct px_hashlist l;
	int rc;

	if (!list_name(r, c, name))
		return;
	if ((rc = px_hashlist_get(a->cat, name, &l, &eb)))
		px_app_fail(r, rc, &eb);
	else
		px_app_ok_json(r, 200, list_json(&l));
}

void px_api_hashlist_delete(struct px_app *a, struct px_req *r,
			    const struct px_call *c)
{
	char name[PX_HASHLIST_NAME_MAX + 1];
	struct px_errbuf eb = {0};
	struct px_hashlist l;
	int rc;

	if (!list_name(r, c, name))
		return;
	if ((rc = px_hashlist_get(a->cat, name, &l, &eb)) ||
	    (rc = px_hashlist_delete(a->cat, name, &eb))) {
		px_app_fail(r, rc, &eb);
		return;
	}
	{
		json_t *before = list_json(&l);

		px_app_audit(a, r, "hashlist.delete", before, NULL);
		json_decref(before);
	}
	px_app_ok(r, 200, "{}");
}

void px_api_hashlist_import(struct px_app *a, struct px_req *r,
			    const struct px_call *c)
{
	char name[PX_HASHLIST_NAME_MAX + 1], *keep;

	if (!list_name(r, c, name))
		return;
	if (!(keep = strdup(name))) {
		px_resp_error(r, 500, "internal_error", "out of memory");
		return;
	}
	px_req_set_data(r, keep, free);
	if (px_req_defer(r, import_work)) {
		px_metric_add(a->m.overloaded, 1);
		px_resp_header(r, "Retry-After", "1");
		px_resp_error(r, 503, "overloaded",
			      "all workers are busy; retry later");
	}
}

/* --- /v1/images/{id}/similar --- */

/* A query integer in [lo, hi], or def when absent; -1 when bad. */
static int query_int(struct px_req *r, const char *name, int def, int lo,
		     int hi)
{
	char v[16], *end;
	long x;
	int rc = px_req_query(r, name, v, sizeof(v));

	if (rc == PX_ENOTFOUND)
		return def;
	if (rc || !v[0])
		return -1;
	x = strtol(v, &end, 10);
	return *end || x < lo || x > hi ? -1 : (int)x;
}

void px_api_image_similar(struct px_app *a, struct px_req *r,
			  const struct px_call *c)
{
	char id[PX_ID_MAX + 1];
	struct px_errbuf eb = {0};
	struct px_mih_near *near = NULL;
	struct px_image_rec rec;
	struct px_pdq q;
	int dist, limit, n = 0, rc;
	json_t *arr = NULL;

	memset(&rec, 0, sizeof(rec));
	if (px_call_arg(c, "id", id, sizeof(id))) {
		px_resp_error(r, 404, "not_found", "image not found");
		return;
	}
	dist = query_int(r, "distance", SIMILAR_DEFAULT_DISTANCE, 0,
			 PX_MIH_MAX_DISTANCE);
	limit = query_int(r, "limit", SIMILAR_DEFAULT_LIMIT, 1,
			  SIMILAR_MAX_LIMIT);
	if (dist < 0 || limit < 0) {
		px_resp_error(r, 400, "invalid_request",
			      "distance must be 0-%d and limit 1-%d",
			      PX_MIH_MAX_DISTANCE, SIMILAR_MAX_LIMIT);
		return;
	}
	if ((rc = px_catalog_get(a->cat, id, &rec, &eb)))
		goto out;
	if (!rec.pdq[0] || px_pdq_parse(rec.pdq, strlen(rec.pdq), &q)) {
		rc = px_errc(&eb, PX_EINVAL, "no_hash",
			     "image \"%s\" has no PDQ hash (uploaded before hashing existed)",
			     id);
		goto out;
	}
	if (!(near = calloc((size_t)limit, sizeof(*near))) ||
	    !(arr = json_array())) {
		rc = PX_ENOMEM;
		goto out;
	}
	if ((rc = px_catalog_similar(a->cat, &q, dist, id, near, limit, &n, &eb)))
		goto out;
	for (int i = 0; i < n; i++) {
		struct px_image_rec other;
		json_t *o;

		memset(&other, 0, sizeof(other));
		/* Index and records are written together; a miss here is a
		 * delete that committed after the search read the index. */
		if (px_catalog_get(a->cat, near[i].id, &other, NULL) == 0 &&
		    (o = px_api_rec_json(a, &other))) {
			json_object_set_new(o, "distance",
					    json_integer(near[i].distance));
			json_array_append_new(arr, o);
		}
		px_image_rec_release(&other);
	}
	px_app_ok_json(r, 200, json_pack("{s:s,s:i,s:o}", "id", id, "distance",
					 dist, "images", arr));
	arr = NULL;
out:
	if (rc)
		px_app_fail(r, rc, &eb);
	json_decref(arr);
	free(near);
	px_image_rec_release(&rec);
}
