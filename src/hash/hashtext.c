/*
 * hashtext.c - hash-list import text (see hashtext.h).
 *
 * Reads the input in place, never copies a line, and bounds nothing but
 * the input itself: the caller's body limit is the limit.
 */
#include "hash/hashtext.h"

static bool is_sep(char c)
{
	return c == ',' || c == ';' || c == '\t' || c == ' ';
}

/* The first 64-hex field of line [p, e) into h. */
static bool find_hash(const char *p, const char *e, struct px_pdq *h)
{
	while (p < e) {
		const char *f, *fe;

		while (p < e && is_sep(*p))
			p++;
		f = p;
		if (p < e && *p == '"') {
			f = ++p;
			while (p < e && *p != '"')
				p++;
			fe = p;
			if (p < e)
				p++;
		} else {
			while (p < e && !is_sep(*p))
				p++;
			fe = p;
		}
		if (px_pdq_parse(f, (size_t)(fe - f), h) == 0)
			return true;
	}
	return false;
}

int px_hashtext_parse(const char *text, size_t n, px_hashtext_fn fn,
		      void *ctx, struct px_errbuf *eb)
{
	const char *p = text, *end = text + n;
	bool first = true;
	int line = 0, rc;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end, *s = p;
		struct px_pdq h;

		line++;
		p = nl ? nl + 1 : end;
		if (e > s && e[-1] == '\r')
			e--;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		if (s == e || *s == '#')
			continue;
		if (!find_hash(s, e, &h)) {
			if (first) {
				first = false;
				continue;
			}
			return px_errc(eb, PX_EINVAL, "invalid_hash_list",
				       "line %d has no PDQ hash (64 hex digits)",
				       line);
		}
		first = false;
		if ((rc = fn(ctx, &h, line)))
			return rc;
	}
	return 0;
}
