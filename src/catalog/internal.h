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

#endif
