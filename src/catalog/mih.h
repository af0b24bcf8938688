/*
 * mih.h - multi-index hashing over PDQ hashes, kept in the metadata store.
 *
 * A 256-bit hash is cut into 16 chunks of 16 bits. Each (hash, tag) entry
 * is recorded in 16 buckets, one per chunk: the bucket
 *
 *     key   <prefix> <k: 1 byte> <value of chunk k: 2 bytes, big-endian>
 *     value records of <hash: 32 bytes> <tag length: 1 byte> <tag>
 *
 * Two hashes within distance d agree to within r = floor(d / 16) bits on
 * at least one chunk, so a search reads, for each chunk, the bucket of
 * every value within r of the query's chunk: 16 point reads for d < 16,
 * 272 for d < 32, and checks the full hashes they hold. The cost grows
 * with the entries sharing a chunk value (about n / 65536 for random
 * hashes), not with n, so the index stays sublinear, survives restarts
 * and works on every kv backend. Buckets rather than one key per entry
 * keep the store compact (about 16 x (33 + tag) bytes a hash) and a probe
 * to one read.
 *
 * Users: the image index ("pq/", tag = image id; written by the catalog
 * in its add and delete transactions) and the hash lists ("hx/", tag =
 * list name; hashlist.c).
 */
#ifndef PX_MIH_H
#define PX_MIH_H

#include "catalog/catalog.h"
#include "hash/pdq.h"
#include "meta/kv.h"

#define PX_MIH_MAX_DISTANCE 64 /* radius 4 per chunk */
#define PX_MIH_TAG_MAX 128

/*
 * Each index has a generation in the store, mig/<prefix> (decimal), that
 * every change increments in its own transaction. A change also fills in
 * a px_mih_change (when given one) so the catalog can bring its in-memory
 * copy (mihmem.h) one generation on after the commit. The pointers in it
 * are borrowed from the caller's arguments: keep them alive until
 * px_catalog_mih_apply.
 */
struct px_mih_change {
	const char *prefix; /* NULL: nothing changed */
	uint64_t gen;       /* the store's generation before the change */
	bool put;
	const struct px_pdq *h;
	size_t n;
	const char *tag;         /* one tag for all ... */
	const char *const *tags; /* ... or one each */
	struct px_pdq one;       /* h for a single image's change */
};

/* The generation of prefix's index as txn sees it (0 if never written). */
int px_mih_gen(struct px_kv_txn *txn, const char *prefix, uint64_t *gen,
	       struct px_errbuf *eb);

/* Add or remove n entries (h[i], tag), each bucket read and written once
 * however many of the n land in it. Adding an entry already present adds
 * it again (callers keep their own membership); removing one that is
 * absent is not an error. */
int px_mih_put(struct px_kv_txn *txn, const char *prefix,
	       const struct px_pdq *h, size_t n, const char *tag,
	       struct px_mih_change *ch, struct px_errbuf *eb);
int px_mih_del(struct px_kv_txn *txn, const char *prefix,
	       const struct px_pdq *h, size_t n, const char *tag,
	       struct px_mih_change *ch, struct px_errbuf *eb);
/* As px_mih_put with a tag per entry (bulk loads of the image index). */
int px_mih_put_tags(struct px_kv_txn *txn, const char *prefix,
		    const struct px_pdq *h, const char *const *tags, size_t n,
		    struct px_mih_change *ch, struct px_errbuf *eb);

/* fn gets each entry within maxd of q exactly once; tag is not
 * NUL-terminated. Nonzero from fn stops the search and is returned. */
typedef int (*px_mih_fn)(void *ctx, const struct px_pdq *h, const char *tag,
			 size_t ntag, int distance);

/* maxd 0..PX_MIH_MAX_DISTANCE (PX_EINVAL otherwise). */
int px_mih_search(struct px_kv_txn *txn, const char *prefix,
		  const struct px_pdq *q, int maxd, px_mih_fn fn, void *ctx,
		  struct px_errbuf *eb);

/* The image index: the catalog calls these inside the transaction that
 * adds or removes the record; hex is the record's pdq ("" = none).
 * Hashes of quality under PX_PDQ_MIN_QUALITY are not indexed: they come
 * from flat, featureless images, which all hash alike and would pile
 * into the same buckets. */
#define PX_MIH_IMAGES "pq/"
#define PX_MIH_LISTS "hx/" /* hashlist.c's index, tag = list name */
int px_mih_image_put(struct px_kv_txn *txn, const char *id, const char *hex,
		     int quality, struct px_mih_change *ch,
		     struct px_errbuf *eb);
int px_mih_image_del(struct px_kv_txn *txn, const char *id, const char *hex,
		     struct px_mih_change *ch, struct px_errbuf *eb);

/* Images whose hash is within maxd of q, nearest first (ties by id), at
 * most max of them, not counting the image `self` (may be NULL). This
 * one reads the store's index (a peer for the benchmark and tests);
 * px_catalog_similar answers from the catalog's memory copy. */
struct px_mih_near {
	char id[PX_MIH_TAG_MAX + 1];
	int distance;
};
int px_mih_similar(struct px_kv *kv, const struct px_pdq *q, int maxd,
		   const char *self, struct px_mih_near *out, int max, int *n,
		   struct px_errbuf *eb);
/* The same search over the catalog's image index, for callers outside
 * the catalog. */
int px_catalog_similar(struct px_catalog *c, const struct px_pdq *q, int maxd,
		       const char *self, struct px_mih_near *out, int max,
		       int *n, struct px_errbuf *eb);

/* Search the catalog's index under prefix (PX_MIH_IMAGES or the lists'
 * "hx/") as px_mih_search does, from its memory copy when that is
 * current at txn's snapshot (mihmem.h). */
int px_catalog_mih_search(struct px_catalog *c, struct px_kv_txn *txn,
			  const char *prefix, const struct px_pdq *q, int maxd,
			  px_mih_fn fn, void *ctx, struct px_errbuf *eb);
/* Bring the memory copy in step with a committed change. */
void px_catalog_mih_apply(struct px_catalog *c, const struct px_mih_change *ch);
/* Build the memory copies in the background (the daemon, at start). */
void px_catalog_mih_warm(struct px_catalog *c);

#endif
