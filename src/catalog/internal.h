/*
 * internal.h - the catalog's stores, for the catalog's own files only.
 *
 * Everything under src/catalog/ reads the key layout of catalog.h
 * directly; nothing outside it includes this header. Other modules call
 * the operations of catalog.h, variants.h, hashlist.h and maint.h.
 */
#ifndef PX_CATALOG_INTERNAL_H
#define PX_CATALOG_INTERNAL_H

#include "catalog/catalog.h"

/* The stores given to px_catalog_new (borrowed). */
struct px_kv *px_catalog_kv(struct px_catalog *c);
struct px_blob_store *px_catalog_blobs(struct px_catalog *c);
/* The memory copy of the index under prefix (mihmem.h), NULL for an
 * unknown prefix. */
struct px_mihmem *px_catalog_mihmem(struct px_catalog *c, const char *prefix);

/* Counts by status and upload hour (stats.c): add delta to the counts
 * of a record with status, uploaded at uploaded_us, inside txn; called
 * wherever a status's review-queue keys are written. */
int px_catalog_count_adjust(struct px_kv_txn *txn, const char *status,
			    int64_t uploaded_us, int delta,
			    struct px_errbuf *eb);
/* Mark the counts for a rebuild from the records (after a repair that
 * changed records behind the catalog's operations). */
int px_catalog_counts_forget(struct px_kv_txn *txn, struct px_errbuf *eb);

/* Claims on background work (lease.c, lease.h), one set per catalog. */
struct px_leases;
int px_leases_new(struct px_kv *kv, struct px_leases **out);
void px_leases_free(struct px_leases *l); /* accepts NULL */
struct px_leases *px_catalog_leases(struct px_catalog *c);
void px_lease_job_key(char *k, size_t n, const char *id);
void px_lease_outbox_key(char *k, size_t n, uint64_t seq);
/* Inside txn: 0 when the claim key is this node's (or leases are off),
 * else PX_EBUSY with code "lease_lost". */
int px_lease_check_in(struct px_leases *l, struct px_kv_txn *txn,
		      const char *key, struct px_errbuf *eb);
/* Inside txn: remove the claim key whoever holds it (no-op when off). */
int px_lease_end_in(struct px_leases *l, struct px_kv_txn *txn,
		    const char *key, struct px_errbuf *eb);
/* After the commit that ended a claim: stop renewing it. */
void px_lease_forget(struct px_leases *l, const char *key);
/* Claim key in a write transaction of its own: owed(txn, arg) says
 * whether the work still exists (0, else its rc, e.g. PX_ENOTFOUND);
 * then PX_EBUSY ("claimed") for another node's unexpired claim, else the
 * claim is written (over an expired one) and renewed from then on. 0 at
 * once when leases are off. */
int px_lease_claim(struct px_leases *l, const char *key,
		   int (*owed)(struct px_kv_txn *txn, const void *arg,
			       struct px_errbuf *eb),
		   const void *arg, struct px_errbuf *eb);
/* Whether this node holds (and renews) the claim key. */
bool px_lease_held(struct px_leases *l, const char *key);

/* The node-local record cache (recache.h), NULL when off; set takes
 * rc and frees the one before (set it before requests run: a lookup
 * under way keeps using the old one). */
struct px_recache;
struct px_recache *px_catalog_recache(struct px_catalog *c);
void px_catalog_set_recache(struct px_catalog *c, struct px_recache *rc);

/*
 * The value of key (appended to out), from the record cache when it has
 * it, else read in a read-only transaction of its own and kept there.
 * cache_absent: PX_ENOTFOUND is kept too (only for keys whose creation
 * is announced, watch.h). PX_ENOTFOUND with no message in eb.
 */
int px_catalog_cached_get(struct px_catalog *c, const char *key,
			  bool cache_absent, struct px_buf *out,
			  struct px_errbuf *eb);

/* Inside the write transaction txn: send "<node> " + the formatted text
 * to the other nodes at commit (watch.h); 0 and nothing sent when the
 * store is not shared. */
int px_watch_announce_in(struct px_catalog *c, struct px_kv_txn *txn,
			 struct px_errbuf *eb, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
