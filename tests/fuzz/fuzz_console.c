/*
 * fuzz_console.c - libFuzzer target for the console's header parsers:
 * Cookie, Accept-Encoding, If-None-Match and Origin.
 *
 * The input is one header value for all four. Oracles: a cookie value
 * found is a substring of the header, without ';' and within the buffer;
 * an If-None-Match holding an ETag verbatim (as the only element) always
 * matches it; an Origin is ours only if it is http(s):// and the Host.
 */
#include "console/console.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, val[80], etag[96];
	int rc;

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	rc = px_cookie_find(text, PX_CONSOLE_COOKIE, val, sizeof(val));
	if (rc == 0 && (strlen(val) >= sizeof(val) || strchr(val, ';') ||
			!strstr(text, val)))
		abort();
	px_console_accepts_gzip(text);
	px_console_etag_match(text, "\"0123abcd\"");
	if (strlen(text) < 80 && !strchr(text, '"')) {
		snprintf(etag, sizeof(etag), "\"%s\"", text);
		if (!px_console_etag_match(etag, etag))
			abort();
	}
	if (px_console_origin_ok(text, "127.0.0.1:8080", NULL) &&
	    strcmp(text + (strncmp(text, "https", 5) ? 7 : 8), "127.0.0.1:8080") &&
	    strcasecmp(text + (strncasecmp(text, "https", 5) ? 7 : 8), "127.0.0.1:8080"))
		abort();
	px_console_origin_ok(text, text, text);
	free(text);
	return 0;
}
