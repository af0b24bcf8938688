/*
 * route.c - matching request paths against the route table's patterns.
 *
 * Pure string work on the raw (still percent-encoded) path: a capture
 * never spans a "/", so an encoded "%2F" stays inside its segment and is
 * only decoded, and refused, by px_call_arg().
 */
#include "api/route.h"
#include "http/http.h"

static const struct {
	unsigned bit;
	const char *name;
} methods[] = {
	{PX_M_GET, "GET"},     {PX_M_POST, "POST"},     {PX_M_PUT, "PUT"},
	{PX_M_PATCH, "PATCH"}, {PX_M_DELETE, "DELETE"}, {PX_M_OPTIONS, "OPTIONS"},
};

unsigned px_route_method_bit(const char *m)
{
	if (!strcmp(m, "HEAD"))
		return PX_M_GET;
	for (size_t i = 0; i < PX_ARRAY_LEN(methods); i++)
		if (!strcmp(m, methods[i].name))
			return methods[i].bit;
	return 0;
}

void px_route_allow(unsigned bits, char *out, size_t n)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < PX_ARRAY_LEN(methods); i++) {
		if (!(bits & methods[i].bit))
			continue;
		len += (size_t)snprintf(out + PX_MIN(len, n - 1),
					n - PX_MIN(len, n - 1), "%s%s",
					len ? ", " : "", methods[i].name);
		if (methods[i].bit == PX_M_GET)
			len += (size_t)snprintf(out + PX_MIN(len, n - 1),
						n - PX_MIN(len, n - 1), ", HEAD");
	}
}

/* Length of the segment starting at s (up to "/" or the end). */
static size_t seglen(const char *s, const char *end)
{
	const char *p = s;

	while (p < end && *p != '/')
		p++;
	return (size_t)(p - s);
}

bool px_route_match(const char *pattern, const char *path, struct px_call *c)
{
	const char *p = pattern, *s = path, *end = path + strlen(path);

	c->nargs = 0;
	if (end - path > 1 && end[-1] == '/')
		end--;
	while (*p) {
		size_t np, ns;

		if (*p != '/' || s >= end || *s != '/')
			return false;
		p++;
		s++;
		np = seglen(p, p + strlen(p));
		ns = seglen(s, end);
		if (np >= 2 && p[0] == '{' && p[np - 1] == '}') {
			bool rest = p[np - 2] == '*';

			if (c->nargs == PX_ROUTE_MAX_ARGS)
				return false;
			if (rest)
				ns = (size_t)(end - s);
			if (!ns)
				return false;
			c->args[c->nargs].name = p + 1;
			c->args[c->nargs].nname = np - 2 - rest;
			c->args[c->nargs].val = s;
			c->args[c->nargs].nval = ns;
			c->args[c->nargs].rest = rest;
			c->nargs++;
		} else if (np != ns || memcmp(p, s, np)) {
			return false;
		}
		p += np;
		s += ns;
	}
	return s == end;
}

int px_call_arg(const struct px_call *c, const char *name, char *out, size_t n)
{
	size_t len = strlen(name);
	int rc;

	for (int i = 0; i < c->nargs; i++) {
		if (c->args[i].nname != len || memcmp(c->args[i].name, name, len))
			continue;
		size_t pct = 0;

		rc = px_url_decode(c->args[i].val, c->args[i].nval, out, n);
		if (rc)
			return rc;
		for (size_t j = 0; j < c->args[i].nval; j++)
			pct += c->args[i].val[j] == '%';
		/* A decoded NUL would cut the value short: refuse it. */
		if (strlen(out) != c->args[i].nval - 2 * pct)
			return PX_EINVAL;
		return !c->args[i].rest && strchr(out, '/') ? PX_EINVAL : 0;
	}
	return PX_ENOTFOUND;
}

static bool pattern_ok(const char *p)
{
	if (*p != '/')
		return false;
	if (!strcmp(p, "/"))
		return true;
	while (*p) {
		size_t np;

		if (*p++ != '/')
			return false;
		np = seglen(p, p + strlen(p));
		if (!np)
			return false; /* no empty segments */
		if (p[0] == '{') {
			if (np < 3 || p[np - 1] != '}')
				return false;
			if (p[np - 2] == '*' && p[np] != '\0')
				return false; /* a rest capture comes last */
		}
		p += np;
	}
	return true;
}

int px_route_check(const struct px_route *t, size_t n, struct px_errbuf *eb)
{
	for (size_t i = 0; i < n; i++) {
		const struct px_route *r = &t[i];

		if (!r->pattern || !pattern_ok(r->pattern))
			return px_errf(eb, PX_EINVAL, "route %zu: bad pattern \"%s\"",
				       i, r->pattern ? r->pattern : "(null)");
		if (!r->methods)
			return px_errf(eb, PX_EINVAL, "route \"%s\": no methods",
				       r->pattern);
		if (r->scope <= PX_SCOPE_UNSET || r->scope >= PX_SCOPE_COUNT)
			return px_errf(eb, PX_EINVAL, "route \"%s\": no scope",
				       r->pattern);
		if (!r->fn)
			return px_errf(eb, PX_EINVAL, "route \"%s\": no handler",
				       r->pattern);
	}
	return 0;
}
