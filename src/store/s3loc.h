/*
 * s3loc.h - the location of an S3 blob store, as given to --blob.
 *
 *     s3://BUCKET[/PREFIX][?endpoint=URL&region=R&path_style=1]
 *
 * A pure parser (no network, no environment) shared by blob_s3.c and its
 * tests and fuzz target. Defaults: region us-east-1, endpoint
 * https://s3.REGION.amazonaws.com, virtual-hosted addressing (path-style
 * when path_style=1, which local stores such as Ceph RGW and MinIO need;
 * always for an IP-address endpoint, and for a dotted bucket over https).
 */
#ifndef PX_S3LOC_H
#define PX_S3LOC_H

#include "core/common.h"

#define PX_S3LOC_MAX 1024 /* longest location accepted */

struct px_s3loc {
	char bucket[64];    /* 3-63 of a-z 0-9 . - */
	char prefix[256];   /* "" or "a/b" (no leading or trailing '/') */
	char region[64];    /* a-z 0-9 - */
	char scheme[8];     /* "http" or "https" */
	char host[256];     /* endpoint host[:port], as given, lowercased */
	bool path_style;
};

/* Parse z into *loc. PX_EINVAL with a message naming the part that is
 * wrong (code "bad_blob_location") on anything malformed or unknown. */
int px_s3loc_parse(const char *z, struct px_s3loc *loc, struct px_errbuf *eb);

/* The object key of a blob: "[PREFIX/]blobs/ab/cd/HEX", the same layout
 * as the data directory. out holds at least 256 + 80 bytes. */
void px_s3loc_key(const struct px_s3loc *loc, const char *hex, char *out,
		  size_t n);

/* The Host header of a request: the endpoint's host, preceded by
 * "BUCKET." for virtual-hosted addressing. */
void px_s3loc_host(const struct px_s3loc *loc, char *out, size_t n);

/* The decoded request path of key (NULL or "" for the bucket itself):
 * "/BUCKET/KEY" path-style, "/KEY" virtual-hosted. */
void px_s3loc_path(const struct px_s3loc *loc, const char *key, char *out,
		   size_t n);

#endif
