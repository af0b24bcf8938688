/*
 * cache.c - the result cache as the application sees it: opening it from
 * the configuration, and POST /v1/cache/purge.
 */
#include "api/app.h"
#include "cache/cache.h"

#include <jansson.h>

int px_api_cache_open(struct px_app *a, struct px_errbuf *eb)
{
	struct px_cache_opts o;
	char dir[4096];

	memset(&o, 0, sizeof(o));
	snprintf(dir, sizeof(dir), "%s/cache", a->cfg->data);
	o.memory_bytes = (uint64_t)a->cfg->cache_memory;
	o.disk_bytes = (uint64_t)a->cfg->cache_disk;
	o.dir = dir;
	o.metrics = a->metrics;
	o.policy = strcmp(a->cfg->cache_policy, "lru") ? PX_CACHE_SIEVE
						      : PX_CACHE_LRU;
	return px_cache_new(&o, &a->cache, eb);
}
