/*
 * s3list.c - one page of a ListObjectsV2 answer (see s3list.h).
 *
 * Not an XML parser: S3's listing is a flat, machine-written document,
 * and only three elements matter. Each is found by its exact tag and its
 * text decoded into a bounded buffer; tags are matched only at element
 * boundaries, so a key can never be mistaken for markup (its '<' arrives
 * as "&lt;").
 */
#include "store/s3list.h"

static int bad(struct px_errbuf *eb, const char *what)
{
	return px_errc(eb, PX_ECORRUPT, "bad_listing",
		       "s3 listing: %s", what);
}

/* Find needle in [p, end); NULL if absent. */
static const char *find(const char *p, const char *end, const char *needle)
{
	size_t n = strlen(needle);

	for (; p && (size_t)(end - p) >= n; p++) {
		p = memchr(p, needle[0], (size_t)(end - p) - n + 1);
		if (!p)
			return NULL;
		if (memcmp(p, needle, n) == 0)
			return p;
	}
	return NULL;
}

/* Decode the text p[0..n) into out (cap bytes with the NUL). -1 on an
 * unknown entity, a byte below 0x20, a '<', or overflow. */
static int decode(const char *p, size_t n, char *out, size_t cap)
{
	static const struct {
		const char *name;
		char c;
	} ent[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'},
		   {"quot;", '"'}, {"apos;", '\''}};
	size_t j = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '&') {
			size_t k, rest = n - i - 1;
			bool ok = false;

			for (k = 0; k < PX_ARRAY_LEN(ent); k++) {
				size_t m = strlen(ent[k].name);

				if (rest >= m && !memcmp(p + i + 1, ent[k].name, m)) {
					c = (unsigned char)ent[k].c;
					i += m;
					ok = true;
					break;
				}
			}
			if (!ok && rest >= 3 && p[i + 1] == '#') {
				/* &#NN; or &#xNN; of a printable ASCII byte */
				unsigned long v = 0;
				size_t d = i + 2, start;
				bool hex = d < n && p[d] == 'x';

				d += hex;
				start = d;
				while (d < n && d - start < 6 &&
				       ((p[d] >= '0' && p[d] <= '9') ||
					(hex && ((p[d] >= 'a' && p[d] <= 'f') ||
						 (p[d] >= 'A' && p[d] <= 'F'))))) {
					int dv = p[d] <= '9' ? p[d] - '0'
						 : (p[d] | 0x20) - 'a' + 10;

					v = v * (hex ? 16 : 10) + (unsigned long)dv;
					d++;
				}
				if (d > start && d < n && p[d] == ';' &&
				    v >= 0x20 && v < 0x7f) {
					c = (unsigned char)v;
					i = d;
					ok = true;
				}
			}
			if (!ok)
				return -1;
		} else if (c < 0x20 || c == '<') {
			return -1;
		}
		if (j + 1 >= cap)
			return -1;
		out[j++] = (char)c;
	}
	out[j] = '\0';
	return 0;
}

/* The text of <tag>...</tag> starting at *p (inside [*p, end)), decoded
 * into out; *p moves past the close tag. 1 when there is none, -1 when
 * malformed. */
static int element(const char **p, const char *end, const char *tag,
		   char *out, size_t cap)
{
	char open[40], close[40];
	const char *a, *b;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	a = find(*p, end, open);
	if (!a)
		return 1;
	a += strlen(open);
	b = find(a, end, close);
	if (!b)
		return -1;
	if (decode(a, (size_t)(b - a), out, cap))
		return -1;
	*p = b + strlen(close);
	return 0;
}

int px_s3list_parse(const char *xml, size_t n, px_s3list_fn fn, void *ctx,
		    struct px_s3list_page *page, struct px_errbuf *eb)
{
	const char *end = xml + n, *p, *q, *c;
	char key[PX_S3LIST_KEY_MAX + 1], flag[8];
	int rc;

	memset(page, 0, sizeof(*page));
	if (memchr(xml, '\0', n))
		return bad(eb, "a NUL byte");
	p = find(xml, end, "<ListBucketResult");
	if (!p)
		return bad(eb, "no ListBucketResult");
	/* Each <Contents> holds one <Key>; read keys only inside them so an
	 * <Owner> or a <CommonPrefixes> can never pass for one. */
	for (c = p; (c = find(c, end, "<Contents>")); ) {
		const char *ce = find(c, end, "</Contents>");

		if (!ce)
			return bad(eb, "an unterminated Contents");
		q = c;
		rc = element(&q, ce, "Key", key, sizeof(key));
		if (rc)
			return bad(eb, rc < 0 ? "a malformed Key"
					      : "a Contents without a Key");
		page->nkeys++;
		if ((rc = fn(ctx, key)))
			return rc;
		c = ce + 11;
	}
	q = p;
	rc = element(&q, end, "IsTruncated", flag, sizeof(flag));
	if (rc < 0)
		return bad(eb, "a malformed IsTruncated");
	page->truncated = rc == 0 && !strcmp(flag, "true");
	q = p;
	rc = element(&q, end, "NextContinuationToken", page->next,
		     sizeof(page->next));
	if (rc < 0)
		return bad(eb, "a malformed NextContinuationToken");
	if (page->truncated && !page->next[0])
		return bad(eb, "truncated without a NextContinuationToken");
	return 0;
}
