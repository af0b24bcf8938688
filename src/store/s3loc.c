/*
 * s3loc.c - parse s3://BUCKET[/PREFIX]?endpoint=URL&region=R&path_style=1
 * (see s3loc.h). Everything is checked against a whitelist so that what
 * reaches a URL or a signed header is exactly what was validated here.
 */
#include "store/s3loc.h"

#include <ctype.h>

static int bad(struct px_errbuf *eb, const char *fmt, const char *what)
{
	return px_errc(eb, PX_EINVAL, "bad_blob_location", fmt, what);
}

static int hexdig(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode s[0..n) into out (size cap); -1 on a bad escape, a NUL
 * or overflow. */
static int decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t j = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return -1;
			hi = hexdig((unsigned char)s[i + 1]);
			lo = hexdig((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = hi << 4 | lo;
			i += 2;
		}
		if (c == 0 || j + 1 >= cap)
			return -1;
		out[j++] = (char)c;
	}
	out[j] = '\0';
	return 0;
}

/* S3 bucket naming rules (DNS-compatible), so virtual-hosted works. */
static bool valid_bucket(const char *b)
{
	size_t n = strlen(b);

	if (n < 3 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = b[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-'))
			return false;
		if (c == '.' && (i == 0 || b[i - 1] == '.'))
			return false;
	}
	return isalnum((unsigned char)b[0]) && isalnum((unsigned char)b[n - 1]);
}

/* Prefix segments: non-empty, not "." or "..", safe characters only. */
static bool valid_prefix(const char *p)
{
	const char *seg = p;

	for (const char *s = p;; s++) {
		char c = *s;

		if (c == '/' || c == '\0') {
			size_t n = (size_t)(s - seg);

			if (n == 0 || (n == 1 && seg[0] == '.') ||
			    (n == 2 && seg[0] == '.' && seg[1] == '.'))
				return false;
			if (c == '\0')
				return true;
			seg = s + 1;
			continue;
		}
		if (!(isalnum((unsigned char)c) || strchr("-_.!*'()", c)))
			return false;
	}
}

static bool valid_region(const char *r)
{
	if (!*r)
		return false;
	for (; *r; r++)
		if (!((*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9') ||
		      *r == '-'))
			return false;
	return true;
}

/* "http[s]://host[:port][/]" into scheme and host. */
static int parse_endpoint(const char *z, struct px_s3loc *loc)
{
	const char *h, *end;
	size_t n;
	bool bracket;

	if (strncmp(z, "https://", 8) == 0) {
		strcpy(loc->scheme, "https");
		h = z + 8;
	} else if (strncmp(z, "http://", 7) == 0) {
		strcpy(loc->scheme, "http");
		h = z + 7;
	} else {
		return -1;
	}
	end = h + strcspn(h, "/");
	if (*end == '/' && end[1] != '\0')
		return -1; /* a path on the endpoint */
	n = (size_t)(end - h);
	if (n == 0 || n >= sizeof(loc->host))
		return -1;
	bracket = h[0] == '[';
	for (size_t i = 0; i < n; i++) {
		char c = h[i];

		if (isalnum((unsigned char)c) || c == '.' || c == '-' ||
		    c == ':' || (bracket && (c == '[' || c == ']')))
			continue;
		return -1;
	}
	{
		/* the port: after the last ':' past any bracket */
		const char *rb = bracket ? memchr(h, ']', n) : NULL;
		const char *hostend = rb ? rb + 1 : h + strcspn(h, ":/");
		size_t hn = (size_t)(hostend - h);

		if (bracket && !rb)
			return -1;
		if (hn == 0 || (bracket && hn < 3))
			return -1;
		if (!bracket && memchr(h, ':', hn))
			return -1;
		if (hostend < end) {
			long port = 0;

			if (*hostend != ':' || hostend + 1 == end ||
			    end - hostend > 6)
				return -1;
			for (const char *p = hostend + 1; p < end; p++) {
				if (!isdigit((unsigned char)*p))
					return -1;
				port = port * 10 + (*p - '0');
			}
			if (port < 1 || port > 65535)
				return -1;
		}
	}
	for (size_t i = 0; i < n; i++)
		loc->host[i] = (char)tolower((unsigned char)h[i]);
	loc->host[n] = '\0';
	return 0;
}

int px_s3loc_parse(const char *z, struct px_s3loc *loc, struct px_errbuf *eb)
{
	const char *p, *q;
	char val[PX_S3LOC_MAX + 1];
	bool have_endpoint = false, have_region = false, have_style = false;
	size_t n;

	memset(loc, 0, sizeof(*loc));
	if (!z || strncmp(z, "s3://", 5) != 0)
		return bad(eb, "%s must start with \"s3://\"", "blob location");
	if (strlen(z) > PX_S3LOC_MAX)
		return bad(eb, "%s is too long", "blob location");
	p = z + 5;
	n = strcspn(p, "/?");
	if (n >= sizeof(loc->bucket))
		return bad(eb, "%s: 3 to 63 of a-z 0-9 . -", "bucket name");
	memcpy(loc->bucket, p, n);
	loc->bucket[n] = '\0';
	if (!valid_bucket(loc->bucket))
		return bad(eb, "%s: 3 to 63 of a-z 0-9 . -", "bucket name");
	p += n;
	if (*p == '/') {
		p++;
		n = strcspn(p, "?");
		while (n > 0 && p[n - 1] == '/')
			n--; /* s3://b/prefix/ is s3://b/prefix */
		if (n >= sizeof(loc->prefix))
			return bad(eb, "%s is too long", "key prefix");
		memcpy(loc->prefix, p, n);
		loc->prefix[n] = '\0';
		if (n && !valid_prefix(loc->prefix))
			return bad(eb, "%s: segments of A-Z a-z 0-9 - _ . ! * ' "
				       "( ), no empty, \".\" or \"..\" ones",
				   "key prefix");
		p += strcspn(p, "?");
	}
	strcpy(loc->region, "us-east-1");
	if (*p == '?')
		p++;
	while (*p) {
		size_t nk, nv;
		const char *v;

		q = p + strcspn(p, "&");
		v = memchr(p, '=', (size_t)(q - p));
		if (!v)
			return bad(eb, "%s: expected name=value", "parameter");
		nk = (size_t)(v - p);
		v++;
		nv = (size_t)(q - v);
		if (decode(v, nv, val, sizeof(val)))
			return bad(eb, "%s: bad percent escape", "parameter");
		if (nk == 8 && memcmp(p, "endpoint", 8) == 0 &&
		    !have_endpoint) {
			have_endpoint = true;
			if (parse_endpoint(val, loc))
				return bad(eb, "%s: expected http[s]://HOST"
					       "[:PORT]",
					   "endpoint");
		} else if (nk == 6 && memcmp(p, "region", 6) == 0 &&
			   !have_region) {
			have_region = true;
			if (strlen(val) >= sizeof(loc->region) ||
			    !valid_region(val))
				return bad(eb, "%s: a-z 0-9 -", "region");
			strcpy(loc->region, val);
		} else if (nk == 10 && memcmp(p, "path_style", 10) == 0 &&
			   !have_style) {
			have_style = true;
			if (strcmp(val, "1") == 0 || strcmp(val, "true") == 0)
				loc->path_style = true;
			else if (strcmp(val, "0") && strcmp(val, "false"))
				return bad(eb, "%s: expected 1 or 0",
					   "path_style");
		} else {
			return px_errc(eb, PX_EINVAL, "bad_blob_location",
				       "unknown or repeated parameter "
				       "\"%.*s\" (expected endpoint, region, "
				       "path_style)",
				       (int)(nk > 32 ? 32 : nk), p);
		}
		p = *q ? q + 1 : q;
	}
	if (!have_endpoint) {
		strcpy(loc->scheme, "https");
		snprintf(loc->host, sizeof(loc->host), "s3.%s.amazonaws.com",
			 loc->region);
	}
	/* A bucket with dots breaks TLS name checks as a subdomain, and an
	 * address has no subdomains at all. */
	if (!loc->path_style && strchr(loc->bucket, '.') &&
	    strcmp(loc->scheme, "https") == 0)
		loc->path_style = true;
	if (loc->host[0] == '[' ||
	    loc->host[strspn(loc->host, "0123456789.")] == ':' ||
	    loc->host[strspn(loc->host, "0123456789.")] == '\0')
		loc->path_style = true;
	return 0;
}

void px_s3loc_key(const struct px_s3loc *loc, const char *hex, char *out,
		  size_t n)
{
	snprintf(out, n, "%s%sblobs/%.2s/%.2s/%s", loc->prefix,
		 loc->prefix[0] ? "/" : "", hex, hex + 2, hex);
}

void px_s3loc_host(const struct px_s3loc *loc, char *out, size_t n)
{
	if (loc->path_style)
		snprintf(out, n, "%s", loc->host);
	else
		snprintf(out, n, "%s.%s", loc->bucket, loc->host);
}

void px_s3loc_path(const struct px_s3loc *loc, const char *key, char *out,
		   size_t n)
{
	if (loc->path_style)
		snprintf(out, n, "/%s/%s", loc->bucket, key ? key : "");
	else
		snprintf(out, n, "/%s", key ? key : "");
}
