/*
 * watch.h - changes made by other nodes, for the caches of this one.
 *
 * When several nodes share one metadata store (px_kv_shared: PostgreSQL),
 * every catalog write that node-local state may depend on also sends a
 * message through the store (px_kv_notify, inside the write transaction,
 * so it goes out at commit and never for a rollback):
 *   image <id> <sha256>   a record was deleted, decided on (moderation),
 *                         or its metadata or requireSignedURLs changed
 *   variant <name>        a managed variant was created, changed, removed
 *   purge sha <sha256> | purge variant <name> | purge all
 *                         a result-cache purge asked of one node
 *   outbox                a webhook event was queued
 *   job                   a classification job was queued
 * Each message starts with the sending node's id; a node ignores its own
 * (it has acted already). Watchers get them in commit order on the
 * store's listener thread, and a PX_CHANGE_LOST when messages may have
 * been missed (the listener's connection broke): anything may have
 * changed. With a store that is not shared, nothing is sent or received.
 */
#ifndef PX_CATALOG_WATCH_H
#define PX_CATALOG_WATCH_H

#include "catalog/catalog.h"

enum px_change_kind {
	PX_CHANGE_LOST = 1,
	PX_CHANGE_IMAGE,
	PX_CHANGE_VARIANT,
	PX_CHANGE_PURGE,
	PX_CHANGE_OUTBOX,
	PX_CHANGE_JOB,
};

struct px_change {
	enum px_change_kind kind;
	const char *id;      /* IMAGE */
	const char *sha256;  /* IMAGE; PURGE of one original */
	const char *variant; /* VARIANT; PURGE of one variant */
	bool everything;     /* PURGE of everything */
};

typedef void (*px_change_fn)(void *ctx, const struct px_change *ch);

/* Call fn with every change another node commits from now on (at most
 * 8 watchers). 0 and nothing else when the store is not shared. */
int px_catalog_watch(struct px_catalog *c, px_change_fn fn, void *ctx,
		     struct px_errbuf *eb);

/* Stop calling every watcher (before they are freed); a call under way
 * ends first. The store keeps listening until it is closed. Accepts
 * NULL. */
void px_catalog_unwatch(struct px_catalog *c);

/* Tell the other nodes to purge (their result caches) what this node
 * purged: originals by SHA-256, variants by name, or everything. A no-op
 * when the store is not shared. */
int px_catalog_purge_announce(struct px_catalog *c, const char *const *sha256,
			      size_t nsha, const char *const *variants,
			      size_t nvar, bool everything,
			      struct px_errbuf *eb);

/* True when the catalog's store is shared by several nodes. */
bool px_catalog_shared(struct px_catalog *c);

/*
 * Keep image records and managed variants in a node-local cache of at
 * most max_bytes (recache.h), kept fresh by the messages above: the
 * daemon calls it before px_catalog_watch. Lookups are answered from it
 * only while the listener's heartbeats are current (within 1 s); it is
 * emptied whenever messages may have been lost. Metrics
 * pictor_record_cache_* go to metrics (may be NULL). 0 and nothing else
 * when the store is not shared or max_bytes is 0.
 */
struct px_metrics;
int px_catalog_record_cache(struct px_catalog *c, size_t max_bytes,
			    struct px_metrics *metrics, struct px_errbuf *eb);

/*
 * The purges announced since number after (the last one this node saw),
 * oldest first, to fn (kind PX_CHANGE_PURGE), for a node that was down
 * while they were sent; *last gets the newest number (0: none yet).
 * Every purge is numbered and kept in the store (the last 1000).
 * PX_ENOTFOUND when after is older than what is kept or newer than the
 * newest (another store): the caller must assume anything was purged.
 * 0 with *last 0 when the store is not shared.
 */
int px_catalog_purge_log(struct px_catalog *c, uint64_t after,
			 px_change_fn fn, void *ctx, uint64_t *last,
			 struct px_errbuf *eb);

/*
 * Decode one message (payload is changed in place: fields are cut out of
 * it). The sender's node id goes to *node. PX_EINVAL for anything
 * malformed.
 */
int px_change_parse(char *payload, const char **node, struct px_change *out);

#endif
