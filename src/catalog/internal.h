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

/* Counts by status and upload hour (stats.c): add delta to the counts
 * of a record with status, uploaded at uploaded_us, inside txn; called
 * wherever a status's review-queue keys are written. */
int px_catalog_count_adjust(struct px_kv_txn *txn, const char *status,
			    int64_t uploaded_us, int delta,
			    struct px_errbuf *eb);
/* Mark the counts for a rebuild from the records (after a repair that
 * changed records behind the catalog's operations). */
int px_catalog_counts_forget(struct px_kv_txn *txn, struct px_errbuf *eb);

#endif
