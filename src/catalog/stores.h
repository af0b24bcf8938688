/*
 * stores.h - the two stores behind a catalog, opened from the settings.
 *
 * The blob store (originals: the data directory, or an S3 bucket with
 * --blob s3://...) and the metadata store (records and every other key
 * of catalog.h's layout) are chosen here, once, for every
 * command that needs them (serve, fsck, token, migrate): the rest of the program
 * never names a backend. The catalog borrows both; the modules that own
 * keys of their own in the metadata store (access/tokens.c, ingest/
 * drafts.c) are handed st->kv at start-up and touch nothing else.
 */
#ifndef PX_CATALOG_STORES_H
#define PX_CATALOG_STORES_H

#include "core/config.h"
#include "meta/kv.h"
#include "store/blob.h"

struct px_stores {
	struct px_blob_store *blobs; /* NULL with PX_STORES_META_ONLY */
	struct px_kv *kv;
};

/* px_stores_open flag: open the metadata store only. */
#define PX_STORES_META_ONLY 1

/* Open the stores cfg names (the data directory's by default). On
 * failure nothing stays open and eb says which store failed. */
int px_stores_open(const struct px_config *cfg, int flags,
		   struct px_stores *st, struct px_errbuf *eb);

/* Check the settings that name the stores without opening them (no
 * network): a malformed --blob location, or S3 without credentials,
 * fails here with the message start-up would give. */
int px_stores_check(const struct px_config *cfg, struct px_errbuf *eb);

/* True when originals live in the data directory (--blob file). */
bool px_stores_blob_is_file(const struct px_config *cfg);

/* Close both (either may be NULL) and zero st. */
void px_stores_close(struct px_stores *st);

#endif
