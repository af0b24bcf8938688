/*
 * fuzz_srcset.c - libFuzzer target for the srcset helper's widths list
 * (the "widths" query value and `pictor srcset --widths`) and its path
 * segment encoder. The first two bytes pick the original's width, the
 * rest is the list. Oracle: an accepted list is 1 to 16 strictly
 * ascending widths from 1 to the original; a refusal says
 * invalid_request; an encoded segment holds only unreserved characters,
 * the option punctuation and well-formed %XX escapes.
 */
#include "api/srcset.c"

#include <ctype.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct px_errbuf eb = {0};
	int w[SRCSET_MAX_WIDTHS], n = 0, original;
	struct px_buf seg;
	char *text;

	if (size < 2)
		return 0;
	original = 1 + ((data[0] << 8 | data[1]) % 9000);
	text = malloc(size - 1);
	if (!text)
		return 0;
	memcpy(text, data + 2, size - 2);
	text[size - 2] = '\0';
	if (parse_widths(text, original, w, &n, &eb) == 0) {
		if (n < 1 || n > SRCSET_MAX_WIDTHS)
			abort();
		for (int i = 0; i < n; i++)
			if (w[i] < 1 || w[i] > original || (i && w[i] <= w[i - 1]))
				abort();
	} else if (!eb.code || strcmp(eb.code, "invalid_request")) {
		abort();
	}
	px_buf_init(&seg, 0);
	px_api_add_segment(&seg, text);
	px_buf_add(&seg, "", 1);
	for (const char *p = (const char *)seg.data; *p; p++) {
		if (*p == '%') {
			if (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]))
				abort();
			p += 2;
		} else if (!isalnum((unsigned char)*p) && !strchr(",=;.-_~:", *p)) {
			abort();
		}
	}
	px_buf_release(&seg);
	free(text);
	return 0;
}
