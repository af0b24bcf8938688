/*
 * fuzz_s3loc.c - libFuzzer target for the S3 blob location parser.
 * Oracles: an accepted location written back in canonical form parses to
 * the same fields, and nothing outside the whitelists reaches a field
 * (no byte that could split a URL or a header line).
 */
#include "store/s3loc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void no_bad_bytes(const char *z)
{
	for (; *z; z++)
		if ((unsigned char)*z <= ' ' || *z == '?' || *z == '#' ||
		    *z == '@' || *z == '%' || (unsigned char)*z >= 127)
			__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char s[PX_S3LOC_MAX + 2], again[2048];
	static struct px_s3loc a, b;
	struct px_errbuf eb = {0};

	if (size > PX_S3LOC_MAX + 1)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (px_s3loc_parse(s, &a, &eb))
		return 0;
	no_bad_bytes(a.bucket);
	no_bad_bytes(a.prefix);
	no_bad_bytes(a.region);
	no_bad_bytes(a.host);
	if (!a.bucket[0] || !a.host[0] || !a.region[0])
		__builtin_trap();
	snprintf(again, sizeof(again),
		 "s3://%s%s%s?endpoint=%s://%s&region=%s&path_style=%d",
		 a.bucket, a.prefix[0] ? "/" : "", a.prefix, a.scheme, a.host,
		 a.region, a.path_style);
	if (px_s3loc_parse(again, &b, &eb))
		__builtin_trap();
	if (memcmp(&a, &b, sizeof(a)) != 0)
		__builtin_trap();
	return 0;
}
