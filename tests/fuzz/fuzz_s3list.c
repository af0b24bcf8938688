/*
 * fuzz_s3list.c - libFuzzer target for the ListObjectsV2 page reader.
 * Oracles: every key handed on is a NUL-terminated string of at most
 * PX_S3LIST_KEY_MAX bytes with no control byte (so a key can never
 * split a line or hide a NUL), a truncated page always names its next
 * token, the count matches the calls, and a failure is always
 * PX_ECORRUPT with its code.
 */
#include "store/s3list.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check_key(void *ctx, const char *key)
{
	size_t n = strlen(key);

	if (n > PX_S3LIST_KEY_MAX)
		__builtin_trap();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)key[i] < 0x20)
			__builtin_trap();
	(*(unsigned *)ctx)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct px_s3list_page pg;
	struct px_errbuf eb = {0};
	unsigned n = 0;
	int rc;

	rc = px_s3list_parse((const char *)data, size, check_key, &n, &pg, &eb);
	if (rc == 0) {
		if (pg.truncated && !pg.next[0])
			__builtin_trap();
		if (pg.nkeys != n)
			__builtin_trap();
	} else if (rc != PX_ECORRUPT || !eb.code ||
		   strcmp(eb.code, "bad_listing") != 0) {
		__builtin_trap();
	}
	return 0;
}
