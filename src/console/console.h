/*
 * console.h - the admin console's server side: its embedded files at
 * /admin, sign-in to a session cookie, and the session cookie as a
 * credential of the API.
 *
 * The console is a static single-page application (src/console/assets/,
 * embedded at build time, see assets.h) that talks to the ordinary JSON
 * API. This module serves its files with strict security headers, owns
 * the sessions (sessions.h) and answers, for the route table in api/,
 * whether a request carrying the session cookie is authenticated and, for
 * a state-changing method, whether it passes the CSRF check:
 *   - X-CSRF-Token equals the session's CSRF token (a page on another
 *     origin can neither read it nor set custom headers without CORS,
 *     which Pictor never grants on these paths);
 *   - Origin, when present, is this server's; Sec-Fetch-Site is not
 *     "cross-site".
 * The cookie is SameSite=Strict as well, so a cross-site request does not
 * carry it in the first place; the checks above are the second wall.
 */
#ifndef PX_CONSOLE_H
#define PX_CONSOLE_H

#include "access/tokens.h"
#include "console/sessions.h"

#define PX_CONSOLE_COOKIE "pictor_session"
#define PX_CONSOLE_CSRF_HEADER "X-CSRF-Token"

/* The Content-Security-Policy of every console response. */
#define PX_CONSOLE_CSP                                                        \
	"default-src 'self'; script-src 'self'; style-src 'self'; "           \
	"img-src 'self'; connect-src 'self'; font-src 'self'; "               \
	"object-src 'none'; base-uri 'none'; form-action 'self'; "            \
	"frame-ancestors 'none'"

struct px_req;
struct px_console;

struct px_console_opts {
	bool enabled;            /* --console; off: every path answers 404 */
	struct px_kv *kv;        /* kept open by the caller */
	struct px_tokens *tokens;
	const char *admin_token; /* copied (through the sessions) */
	int64_t session_ttl_us;  /* --console-session-ttl */
	/* The server's public URL (borrowed; read on each request, so it
	 * may be filled in once the port is known): its origin is this
	 * server's origin, and an https:// URL makes cookies Secure. */
	const char *public_url;
};

int px_console_new(const struct px_console_opts *o, struct px_console **out,
		   struct px_errbuf *eb);
void px_console_free(struct px_console *c); /* accepts NULL */

/* Answer GET /admin/<name> (name NULL or "": index.html) from the
 * embedded files: ETag, 304, gzip when accepted, security headers; 404
 * when the console is off or there is no such file. */
void px_console_asset(struct px_console *c, struct px_req *r,
		      const char *name);

/* Answer /admin/api/session: POST signs in ({"token": ...}), GET shows
 * the session, DELETE signs out. */
void px_console_session(struct px_console *c, struct px_req *r);

/*
 * Authenticate a request by its session cookie (the caller does so only
 * when there is no Authorization header). 0: authenticated, the token's
 * scopes in *scopes and the request's principal set. PX_ENOTFOUND: no
 * session cookie (or the console is off). PX_EINVAL with code
 * "unauthorized" (the cookie names no live session) or "csrf_failed" (a
 * state-changing method that fails the CSRF check). Other errors: store
 * failures.
 */
int px_console_authenticate(struct px_console *c, struct px_req *r,
			    uint32_t *scopes, struct px_errbuf *eb);

/* --- pure parts, exposed for the tests --- */

/* The value of cookie name in a Cookie header into out: 0, PX_ENOTFOUND,
 * or PX_ETOOBIG when it does not fit. The first occurrence wins. */
int px_cookie_find(const char *header, const char *name, char *out, size_t n);

/* Is origin (an Origin header) this server's: the origin of public_url,
 * or http:// or https:// followed by host (the Host header)? "null" and
 * anything else are not. */
bool px_console_origin_ok(const char *origin, const char *host,
			  const char *public_url);

/* Does an Accept-Encoding header (NULL: absent) accept gzip? q=0 refuses;
 * "*" counts unless gzip is named. */
bool px_console_accepts_gzip(const char *accept_encoding);

/* Does an If-None-Match header list etag (a quoted strong tag)? Weak
 * comparison, as RFC 9110 asks for If-None-Match; "*" matches. */
bool px_console_etag_match(const char *if_none_match, const char *etag);

/* The Content-Type of a file by its name's extension. */
const char *px_console_ctype(const char *name);

/* The checks a state-changing request authenticated by cookie passes:
 * csrf (X-CSRF-Token, may be NULL) equals want in constant time, origin
 * (may be NULL) is this server's and fetch_site (Sec-Fetch-Site, may be
 * NULL) is not "cross-site". */
bool px_console_csrf_ok(const char *csrf, const char *want,
			const char *origin, const char *fetch_site,
			const char *host, const char *public_url);

/* Is method one that may change state (anything but GET, HEAD,
 * OPTIONS)? */
bool px_console_unsafe_method(const char *method);

#endif
