/*
 * stats.c - GET /v1/stats: the numbers of the console's overview, cheap
 * to answer with any number of images.
 *
 *   count              Cloudflare's stats shape: current images, allowed
 *   status             images by status, from the counts the catalog
 *                      keeps in every change's transaction
 *   uploads_per_hour   24 clock hours, oldest first, the last the current
 *                      one, from per-hour counts kept the same way
 *   delivery           delivery answers since start, per second over the
 *                      last minute, and the result cache's hit ratio
 *   moderation         verdicts given since start (the metrics registry)
 *
 * The per-second rate comes from a ring of one-second buckets that every
 * delivery answer bumps (px_api_stats_delivery, from px_app_completed).
 */
#include "api/app.h"
#include "cache/cache.h"

#include <jansson.h>

#define CF_ALLOWED 9007199254740991LL /* Cloudflare's "no limit" */
#define RATE_WINDOW 60

void px_api_stats_delivery(struct px_app *a)
{
	struct px_per_second *rt = &a->delivery_rate;
	int64_t sec = px_mono_us() / 1000000;
	unsigned i = (unsigned)(sec % PX_RATE_SLOTS);
	int64_t seen = atomic_load(&rt->stamp[i]);

	atomic_fetch_add(&rt->total, 1);
	/* A slot last used a lap ago starts again from zero. Two threads
	 * racing here may lose a count: good enough for a rate on a chart. */
	if (seen != sec && atomic_compare_exchange_strong(&rt->stamp[i], &seen, sec))
		atomic_store(&rt->count[i], 0);
	atomic_fetch_add(&rt->count[i], 1);
}

/* Answers per second over the last RATE_WINDOW complete seconds (fewer
 * just after start). */
static double delivery_rate(struct px_app *a)
{
	struct px_per_second *rt = &a->delivery_rate;
	int64_t now = px_mono_us() / 1000000, from = now - RATE_WINDOW;
	uint64_t n = 0;

	if (a->started_mono_s > from)
		from = a->started_mono_s;
	if (now <= from)
		return 0;
	for (int64_t s = from; s < now; s++) {
		unsigned i = (unsigned)(s % PX_RATE_SLOTS);

		if (atomic_load(&rt->stamp[i]) == s)
			n += atomic_load(&rt->count[i]);
	}
	return (double)n / (double)(now - from);
}

/* Hits over lookups: each lookup tries memory first (when it is on),
 * then disk. */
static double hit_ratio(struct px_app *a)
{
	struct px_cache_stats s;
	uint64_t lookups, hits;

	if (!a->cache)
		return 0;
	px_cache_stats(a->cache, &s);
	hits = s.hits[PX_CACHE_MEMORY] + s.hits[PX_CACHE_DISK];
	lookups = s.hits[PX_CACHE_MEMORY] + s.misses[PX_CACHE_MEMORY];
	if (!lookups)
		lookups = s.hits[PX_CACHE_DISK] + s.misses[PX_CACHE_DISK];
	return lookups ? (double)hits / (double)lookups : 0;
}

void px_api_stats(struct px_app *a, struct px_req *r, const struct px_call *c)
{
	struct px_catalog_counts n;
	struct px_errbuf eb = {0};
	uint64_t hours[24];
	double classified, flagged, blocked;
	json_t *per_hour;
	int rc;

	if ((rc = px_catalog_counts(a->cat, &n, &eb)) ||
	    (rc = px_catalog_uploads_hourly(a->cat, px_wall_us(), 24, hours, &eb))) {
		px_app_fail(r, rc, &eb);
		return;
	}
	per_hour = json_array();
	for (int i = 0; i < 24; i++)
		json_array_append_new(per_hour, json_integer((json_int_t)hours[i]));
	classified = px_metric_value(a->m.classified);
	flagged = px_metric_value(a->m.flagged);
	blocked = px_metric_value(a->m.blocked);
	px_app_ok_json(
		r, 200,
		json_pack("{s:{s:I,s:I},s:{s:I,s:I,s:I,s:I},s:o,"
			  "s:{s:I,s:f,s:f},s:{s:I,s:I,s:I}}",
			  "count", "current", (json_int_t)n.total, "allowed",
			  (json_int_t)CF_ALLOWED,
			  "status", "approved", (json_int_t)n.approved, "flagged",
			  (json_int_t)n.flagged, "blocked", (json_int_t)n.blocked,
			  "pending", (json_int_t)n.pending,
			  "uploads_per_hour", per_hour,
			  "delivery", "requests_total",
			  (json_int_t)atomic_load(&a->delivery_rate.total),
			  "requests_per_second", delivery_rate(a),
			  "cache_hit_ratio", hit_ratio(a),
			  "moderation", "approved",
			  (json_int_t)PX_MAX(classified - flagged - blocked, 0),
			  "flagged", (json_int_t)flagged, "blocked",
			  (json_int_t)blocked));
}
