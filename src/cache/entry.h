/*
 * entry.h - the disk tier's file format, pure functions only.
 *
 *   0   "PXCACHE1"            magic
 *   8   u32 header length H   (little-endian; the body starts at H)
 *   12  u32 status            (200: only renders are stored)
 *   16  u64 body length
 *   24  64 hex digits         SHA-256 of bytes 88..H then of the body
 *   88  u16 key length, key, u8 content-type length, content type
 *   H   body
 *
 * A file is valid only if its size is exactly H + body length, the
 * strings fit in the header and the checksum matches: a torn write, a
 * truncation or a flipped bit anywhere after the fixed part is caught,
 * and a damaged fixed part breaks the size or checksum test.
 */
#ifndef PX_CACHE_ENTRY_H
#define PX_CACHE_ENTRY_H

#include "cache/cache.h"
#include "core/buf.h"

#define PX_CACHE_ENTRY_FIXED 88
#define PX_CACHE_ENTRY_HMAX (PX_CACHE_ENTRY_FIXED + 2 + PX_CACHE_KEY_MAX + 1 + 64)

struct px_cache_entry {
	uint32_t hlen;
	uint32_t status;
	uint64_t blen;
	char sum[PX_SHA256_HEX_LEN + 1];
	char key[PX_CACHE_KEY_MAX];
	char ctype[64];
};

/* Append the header for key, ctype and body to out. PX_ETOOBIG when the
 * key or content type is too long. */
int px_cache_entry_format(const char *key, const char *ctype,
			  const void *body, size_t n, struct px_buf *out);

/* Parse the header at the start of a file of total size fsize, of which
 * the first n bytes are in buf. PX_ECORRUPT when it is not a valid
 * header or does not match the size. */
int px_cache_entry_parse(const uint8_t *buf, size_t n, uint64_t fsize,
			 struct px_cache_entry *e);

/* Check the checksum over a whole file already parsed into e. */
bool px_cache_entry_verify(const uint8_t *file, size_t n,
			   const struct px_cache_entry *e);

#endif
