/*
 * multipart.c - multipart/form-data parsing over an in-memory body.
 */
#include "api/multipart.h"
#include "core/utf8.h"

#include <strings.h>

int px_mp_boundary(const char *ct, char *out, size_t nout)
{
	const char *b;
	size_t n;

	if (!ct || strncasecmp(ct, "multipart/form-data", 19))
		return PX_EINVAL;
	b = strcasestr(ct, "boundary=");
	if (!b)
		return PX_EINVAL;
	b += 9;
	if (*b == '"') {
		const char *q = strchr(++b, '"');

		if (!q)
			return PX_EINVAL;
		n = (size_t)(q - b);
	} else {
		n = strcspn(b, "; \t");
	}
	/* RFC 2046: 1 to 70 characters. */
	if (n == 0 || n > 70 || n >= nout)
		return PX_EINVAL;
	memcpy(out, b, n);
	out[n] = '\0';
	return 0;
}

static const unsigned char *find(const unsigned char *h, size_t nh,
				 const char *needle, size_t nn)
{
	return memmem(h, nh, needle, nn);
}

/* Copy a parameter (name="value") of a Content-Disposition line. */
/* The quoted value of key= in a Content-Disposition line, cut to nout
 * on a character boundary; *bad (may be NULL) says whether the whole
 * value was well-formed UTF-8. */
static bool disp_param(const char *line, size_t n, const char *key, char *out,
		       size_t nout, bool *bad)
{
	size_t nk = strlen(key);

	for (size_t i = 0; i + nk + 2 <= n; i++) {
		const char *q;
		size_t len;

		if ((i && line[i - 1] != ' ' && line[i - 1] != ';') ||
		    strncasecmp(line + i, key, nk) || line[i + nk] != '=')
			continue;
		if (line[i + nk + 1] != '"')
			continue;
		q = memchr(line + i + nk + 2, '"', n - (i + nk + 2));
		if (!q)
			return false;
		len = (size_t)(q - (line + i + nk + 2));
		if (bad)
			*bad = !px_utf8_valid(line + i + nk + 2, len);
		len = px_utf8_cut(line + i + nk + 2, len, nout - 1);
		memcpy(out, line + i + nk + 2, len);
		out[len] = '\0';
		return true;
	}
	return false;
}

static int parse_headers(const unsigned char *p, size_t n,
			 struct px_mp_part *part, struct px_errbuf *eb)
{
	bool named = false;

	while (n) {
		const unsigned char *eol = find(p, n, "\r\n", 2);
		size_t len = eol ? (size_t)(eol - p) : n;

		if (len > 19 &&
		    !strncasecmp((const char *)p, "content-disposition:", 20)) {
			named = disp_param((const char *)p, len, "name",
					   part->name, sizeof(part->name), NULL);
			part->has_filename = disp_param(
				(const char *)p, len, "filename",
				part->filename, sizeof(part->filename),
				&part->filename_bad);
		}
		if (!eol)
			break;
		p += len + 2;
		n -= len + 2;
	}
	if (!named)
		return px_errc(eb, PX_EINVAL, "invalid_request",
			       "multipart part without a name");
	return 0;
}

int px_mp_parse(const void *body, size_t n, const char *boundary,
		struct px_multipart *mp, struct px_errbuf *eb)
{
	const unsigned char *p = body, *end = p + n;
	char delim[80];
	size_t nd;

	memset(mp, 0, sizeof(*mp));
	nd = (size_t)snprintf(delim, sizeof(delim), "--%s", boundary);
	if (nd >= sizeof(delim))
		return px_errc(eb, PX_EINVAL, "invalid_request", "boundary too long");
	/* The first delimiter may be preceded by a preamble. */
	if (n >= nd && !memcmp(p, delim, nd)) {
		p += nd;
	} else {
		const unsigned char *f = find(p, n, delim, nd);

		/* Require CRLF before a delimiter that is not at the start. */
		if (!f || f < p + 2 || f[-2] != '\r' || f[-1] != '\n')
			return px_errc(eb, PX_EINVAL, "invalid_request",
				       "multipart body has no boundary");
		p = f + nd;
	}
	for (;;) {
		const unsigned char *hdr_end, *next;
		struct px_mp_part *part;

		if ((size_t)(end - p) >= 2 && p[0] == '-' && p[1] == '-')
			return mp->nparts ? 0
					  : px_errc(eb, PX_EINVAL, "invalid_request",
						    "multipart body has no parts");
		/* Skip transport padding, then the CRLF after the delimiter. */
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if ((size_t)(end - p) < 2 || p[0] != '\r' || p[1] != '\n')
			return px_errc(eb, PX_EINVAL, "invalid_request",
				       "malformed multipart delimiter");
		p += 2;
		if (mp->nparts == PX_MP_MAX_PARTS)
			return px_errc(eb, PX_EINVAL, "invalid_request",
				       "too many multipart parts");
		part = &mp->parts[mp->nparts];
		hdr_end = find(p, (size_t)(end - p), "\r\n\r\n", 4);
		if (!hdr_end)
			return px_errc(eb, PX_EINVAL, "invalid_request",
				       "unterminated multipart headers");
		if (parse_headers(p, (size_t)(hdr_end - p), part, eb))
			return PX_EINVAL;
		p = hdr_end + 4;
		/* The body ends at CRLF + delimiter. */
		{
			char crlf_delim[84];
			size_t nc = (size_t)snprintf(crlf_delim, sizeof(crlf_delim),
						     "\r\n%s", delim);

			next = find(p, (size_t)(end - p), crlf_delim, nc);
			if (!next)
				return px_errc(eb, PX_EINVAL, "invalid_request",
					       "unterminated multipart part");
			part->data = p;
			part->len = (size_t)(next - p);
			p = next + nc;
		}
		mp->nparts++;
	}
}

const struct px_mp_part *px_mp_get(const struct px_multipart *mp,
				   const char *name)
{
	for (int i = 0; i < mp->nparts; i++)
		if (!strcmp(mp->parts[i].name, name))
			return &mp->parts[i];
	return NULL;
}
