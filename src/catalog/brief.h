/*
 * brief.h - the catalog's memo of decoded delivery briefs (internal to
 * src/catalog/; callers use px_catalog_brief() in catalog.h).
 *
 * Every delivery request needs a handful of a record's fields, and
 * decoding the whole stored JSON (metadata, moderation detail, audit
 * trail) for each one cost more than the rest of a cache hit. The memo
 * keeps, per slot, the exact bytes a brief was decoded from: a lookup
 * compares the bytes just read from the kv store with them, so any
 * change to a record (a block, a delete and re-add, a PATCH) is a
 * different byte string and is decoded afresh. Nothing is invalidated
 * and nothing can be stale.
 */
#ifndef PX_CATALOG_BRIEF_H
#define PX_CATALOG_BRIEF_H

#include "catalog/catalog.h"

struct px_brief_memo;

/* A memo of nslots slots (0: the default, 1024); entries over max_bytes
 * of stored record (0: 8 KiB) are decoded each time, never kept. */
int px_brief_memo_new(unsigned nslots, size_t max_bytes,
		      struct px_brief_memo **out);
void px_brief_memo_free(struct px_brief_memo *m); /* accepts NULL */

/*
 * The brief of the record stored as raw[0..n) under id: from the memo
 * when the same bytes were decoded before, else decoded (and kept).
 * m may be NULL (always decode). PX_ECORRUPT when raw is not a record.
 */
int px_brief_get(struct px_brief_memo *m, const char *id, const void *raw,
		 size_t n, struct px_image_brief *out);

/* Decode without the memo (what px_brief_get does on a miss). */
int px_brief_decode(const void *raw, size_t n, struct px_image_brief *out);

/* Lookups answered from the memo and decodes, for tests. */
void px_brief_memo_stats(struct px_brief_memo *m, unsigned long long *hits,
			 unsigned long long *decodes);

#endif
