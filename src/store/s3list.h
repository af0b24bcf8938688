/*
 * s3list.h - read one page of an S3 ListObjectsV2 answer (XML).
 *
 * A pure parser of untrusted bytes (the store's answer), shared by
 * blob_s3.c, its unit test and fuzz_s3list. It reads only what a listing
 * needs: each <Contents><Key>, <IsTruncated> and <NextContinuationToken>.
 * Element text is entity-decoded (the five predefined entities and
 * numeric references of ASCII characters); anything else in a key or
 * token, a NUL or an unterminated element is an error, never a guess.
 */
#ifndef PX_S3LIST_H
#define PX_S3LIST_H

#include "core/common.h"

#define PX_S3LIST_KEY_MAX 1024   /* S3's own limit on a key */
#define PX_S3LIST_TOKEN_MAX 1024 /* longest continuation token kept */

/* Called once per key in document order; nonzero stops the parse and is
 * returned. key is NUL-terminated and valid only during the call. */
typedef int (*px_s3list_fn)(void *ctx, const char *key);

struct px_s3list_page {
	bool truncated;                        /* more pages follow */
	char next[PX_S3LIST_TOKEN_MAX + 1];    /* their token ("" if none) */
	unsigned nkeys;
};

/* Parse xml[0..n). PX_ECORRUPT (code "bad_listing") when it is not a
 * ListBucketResult, an element is malformed, or a page says it is
 * truncated without a token. */
int px_s3list_parse(const char *xml, size_t n, px_s3list_fn fn, void *ctx,
		    struct px_s3list_page *page, struct px_errbuf *eb);

#endif
