/*
 * utf8.c - well-formedness and character-boundary cuts (see utf8.h).
 */
#include "core/utf8.h"

/* Length of the well-formed sequence at p (of n bytes left), or 0. */
static size_t seq_len(const unsigned char *p, size_t n)
{
	unsigned c = p[0], cp;
	size_t len;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		return 0;
	return len;
}

bool px_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		size_t len = seq_len(p + i, n - i);

		if (!len)
			return false;
		i += len;
	}
	return true;
}

size_t px_utf8_cut(const char *s, size_t n, size_t max)
{
	size_t len = PX_MIN(n, max);

	while (len && len < n && ((unsigned char)s[len] & 0xC0) == 0x80)
		len--;
	return len;
}

int px_utf8_copy(char *out, size_t nout, const char *s)
{
	size_t n = strlen(s), len;

	if (!px_utf8_valid(s, n)) {
		out[0] = '\0';
		return PX_EINVAL;
	}
	len = px_utf8_cut(s, n, nout - 1);
	memcpy(out, s, len);
	out[len] = '\0';
	return len < n ? PX_ETOOBIG : 0;
}
