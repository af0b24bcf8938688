/*
 * route.h - the route table's types and its path matcher.
 *
 * Every HTTP route of the application is one row of the table in app.c:
 * the methods it answers, a path pattern, the scope a caller needs and
 * the handler. Patterns are literal segments and named captures:
 *
 *   /v1/images/{id}/blob      {id} matches one non-empty segment
 *   /img/{rest*}              {name*} matches the rest (one or more
 *                             segments); it must come last
 *
 * The same handler may sit on several rows (one operation reached from
 * two path families, such as /v1/... and /accounts/{account_id}/...);
 * handlers read captures by name, so they do not care which row matched.
 */
#ifndef PX_ROUTE_H
#define PX_ROUTE_H

#include "access/scope.h"

/* Method bits. GET also answers HEAD. */
enum {
	PX_M_GET = 1 << 0,
	PX_M_POST = 1 << 1,
	PX_M_PUT = 1 << 2,
	PX_M_PATCH = 1 << 3,
	PX_M_DELETE = 1 << 4,
	PX_M_OPTIONS = 1 << 5,
};

#define PX_ROUTE_MAX_ARGS 6

struct px_app;
struct px_req;
struct px_call;

typedef void (*px_route_fn)(struct px_app *a, struct px_req *r,
			    const struct px_call *c);

struct px_route {
	unsigned methods;    /* PX_M_* bits */
	const char *pattern;
	enum px_scope scope; /* PX_SCOPE_PUBLIC for routes without a token */
	px_route_fn fn;
	const char *summary; /* one line for docs/API.md */
};

/* One matched request: the row and its captures (pointers into the
 * request path, still percent-encoded, valid while the request is). */
struct px_call {
	const struct px_route *route;
	uint32_t scopes; /* the caller's (PX_SCOPE_BIT()s); 0 on public rows */
	int nargs;
	struct {
		const char *name;
		size_t nname;
		const char *val;
		size_t nval;
		bool rest; /* a {name*} capture: may hold "/" */
	} args[PX_ROUTE_MAX_ARGS];
};

/* Match path against pattern; on a match fill c's captures and return
 * true. A single trailing "/" on path is ignored. */
bool px_route_match(const char *pattern, const char *path, struct px_call *c);

/* The method bit for a method name (HEAD counts as GET); 0 if unknown. */
unsigned px_route_method_bit(const char *method);

/* "GET, HEAD, POST" for the bits in methods, into out. */
void px_route_allow(unsigned methods, char *out, size_t n);

/*
 * Capture name percent-decoded into out (NUL-terminated). PX_ENOTFOUND if
 * the row has no such capture, PX_ETOOBIG if it does not fit, PX_EINVAL
 * for a bad escape, a decoded NUL, or a decoded "/" in a one-segment
 * capture.
 */
int px_call_arg(const struct px_call *c, const char *name, char *out,
		size_t n);

/* Check a route table: every row has methods, a scope other than
 * PX_SCOPE_UNSET, a handler and a well-formed pattern. The first bad row
 * is described in eb; PX_EINVAL. */
int px_route_check(const struct px_route *t, size_t n, struct px_errbuf *eb);

#endif
