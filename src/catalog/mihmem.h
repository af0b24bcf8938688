/*
 * mihmem.h - the in-memory copy of a multi-index (mih.h), for the
 * catalog's own files only.
 *
 * The kv store stays the durable source; this is a node-local copy that
 * answers searches without a store read per probe. Per chunk k and chunk
 * value v it keeps a compact array of entry numbers (one block per chunk
 * at build time, exact size; a bucket that grows later moves to its own
 * allocation), and per entry the hash and an interned tag. A search
 * probes the same buckets as the store's index and checks each candidate
 * with four 64-bit popcounts.
 *
 * Keeping in step: every write transaction that changes an index also
 * increments the index's generation in the store (mig/<prefix>, mih.c)
 * and notes the generation it found (struct px_mih_change). After the
 * commit, px_mihmem_apply applies the change to the copy only if the copy
 * was at exactly that generation, and then moves it one on. A search
 * reads the store's generation in its own read transaction and uses the
 * copy only when the two agree; otherwise (a change committed by another
 * node on a shared PostgreSQL store, or a copy not built yet) it searches
 * the store's index, which is always right, and asks for a rebuild, which
 * runs on a background thread from a read snapshot and is swapped in
 * when it is newer than the copy.
 */
#ifndef PX_CATALOG_MIHMEM_H
#define PX_CATALOG_MIHMEM_H

#include "catalog/mih.h"

struct px_mihmem;

/* A copy of the index under prefix in kv (both borrowed; prefix a string
 * literal). Nothing is read until the first px_mihmem_warm or search. */
int px_mihmem_new(struct px_kv *kv, const char *prefix, struct px_mihmem **out);
/* Stops and joins a rebuild in progress. Accepts NULL. */
void px_mihmem_free(struct px_mihmem *m);

/* Start a build in the background if the copy is not current. */
void px_mihmem_warm(struct px_mihmem *m);

/* Apply a committed change (see above); ch may be NULL or empty. */
void px_mihmem_apply(struct px_mihmem *m, const struct px_mih_change *ch);

/* px_mih_search over the copy when it is at the store generation seen
 * in txn, else over the store (and a rebuild is requested). fn runs
 * under the copy's read lock: it must not call back into the index. */
int px_mihmem_search(struct px_mihmem *m, struct px_kv_txn *txn,
		     const struct px_pdq *q, int maxd, px_mih_fn fn, void *ctx,
		     struct px_errbuf *eb);

/* What the copy holds now, for metrics and the benchmark. */
struct px_mihmem_stats {
	bool ready;
	uint64_t gen, entries, bytes; /* bytes: heap held by the copy */
	int64_t build_us;             /* the last build */
	uint64_t builds, store_searches;
};
void px_mihmem_stats(struct px_mihmem *m, struct px_mihmem_stats *st);

/* Build synchronously now (the benchmark and tests; the daemon uses
 * px_mihmem_warm). */
int px_mihmem_build(struct px_mihmem *m, struct px_errbuf *eb);

#endif
