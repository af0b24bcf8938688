/*
 * console.c - /admin: the console's embedded files, sign-in and sign-out,
 * and the session cookie as an API credential (see console.h).
 *
 * Files are answered from the table the build generated (assets.h),
 * without a copy: the bytes live in the binary for the whole run. Each
 * file has two representations (as is, gzip) with their own strong
 * ETags, computed once at start-up; both are revalidated on every load
 * (Cache-Control: no-cache), so a new binary's console is picked up at
 * once and an unchanged one costs a 304.
 */
#include "console/console.h"
#include "console/assets.h"
#include "core/crypto.h"
#include "core/log.h"
#include "http/http.h"

#include <jansson.h>
#include <strings.h>

struct asset {
	const struct px_console_asset *a;
	const char *ctype;
	char etag[40];    /* "\"<32 hex>\"" */
	char etag_gz[44]; /* "\"<32 hex>-gz\"" */
};

struct px_console {
	bool enabled;
	const char *public_url;
	struct px_sessions *sessions;
	struct asset *assets;
	size_t nassets;
};

/* ---- pure parts ---- */

static bool is_ows(char ch)
{
	return ch == ' ' || ch == '\t';
}

int px_cookie_find(const char *h, const char *name, char *out, size_t n)
{
	size_t nname = strlen(name);

	if (!h)
		return PX_ENOTFOUND;
	while (*h) {
		const char *pair, *eq, *end;

		while (*h == ';' || is_ows(*h))
			h++;
		pair = h;
		end = strchr(pair, ';');
		if (!end)
			end = pair + strlen(pair);
		h = end;
		eq = memchr(pair, '=', (size_t)(end - pair));
		if (!eq || (size_t)(eq - pair) != nname ||
		    memcmp(pair, name, nname))
			continue;
		eq++;
		while (end > eq && is_ows(end[-1]))
			end--;
		/* A quoted value (RFC 6265 allows DQUOTE cookie-octets DQUOTE). */
		if (end - eq >= 2 && *eq == '"' && end[-1] == '"') {
			eq++;
			end--;
		}
		if ((size_t)(end - eq) >= n)
			return PX_ETOOBIG;
		memcpy(out, eq, (size_t)(end - eq));
		out[end - eq] = '\0';
		return 0;
	}
	return PX_ENOTFOUND;
}

/* The length of the origin part of url (scheme://host[:port]); 0 if url
 * is not http(s). */
static size_t origin_len(const char *url)
{
	const char *p;

	if (!strncasecmp(url, "http://", 7))
		p = url + 7;
	else if (!strncasecmp(url, "https://", 8))
		p = url + 8;
	else
		return 0;
	p += strcspn(p, "/?#");
	return (size_t)(p - url);
}

bool px_console_origin_ok(const char *origin, const char *host,
			  const char *public_url)
{
	size_t n;

	if (!origin || !origin[0])
		return false;
	if (public_url && (n = origin_len(public_url)) > 0 &&
	    strlen(origin) == n && !strncasecmp(origin, public_url, n))
		return true;
	if (!host || !host[0] || strpbrk(host, "/@ \t,"))
		return false;
	if (!strncasecmp(origin, "http://", 7))
		return !strcasecmp(origin + 7, host);
	if (!strncasecmp(origin, "https://", 8))
		return !strcasecmp(origin + 8, host);
	return false;
}

/* The q value of one Accept-Encoding element's parameters (after the
 * coding); 1 when absent, 0 for a malformed one. */
static double qvalue(const char *p, const char *end)
{
	while (p < end) {
		while (p < end && (*p == ';' || is_ows(*p)))
			p++;
		if (end - p >= 2 && (*p == 'q' || *p == 'Q') && p[1] == '=') {
			char num[8];
			size_t k = 0;

			p += 2;
			while (p < end && k < sizeof(num) - 1 &&
			       ((*p >= '0' && *p <= '9') || *p == '.'))
				num[k++] = *p++;
			num[k] = '\0';
			return k ? strtod(num, NULL) : 0;
		}
		while (p < end && *p != ';')
			p++;
	}
	return 1;
}

bool px_console_accepts_gzip(const char *h)
{
	int gzip = -1, star = -1; /* -1: not named; else 0 or 1 */

	if (!h)
		return false;
	while (*h) {
		const char *el, *end, *tok_end;
		size_t ntok;
		int ok;

		while (*h == ',' || is_ows(*h))
			h++;
		if (!*h)
			break;
		el = h;
		end = strchr(el, ',');
		if (!end)
			end = el + strlen(el);
		h = end;
		tok_end = el;
		while (tok_end < end && *tok_end != ';' && !is_ows(*tok_end))
			tok_end++;
		ntok = (size_t)(tok_end - el);
		ok = qvalue(tok_end, end) > 0;
		if ((ntok == 4 && !strncasecmp(el, "gzip", 4)) ||
		    (ntok == 6 && !strncasecmp(el, "x-gzip", 6)))
			gzip = gzip == 1 ? 1 : ok;
		else if (ntok == 1 && *el == '*')
			star = ok;
	}
	return gzip >= 0 ? gzip == 1 : star == 1;
}

bool px_console_etag_match(const char *h, const char *etag)
{
	size_t n = strlen(etag);

	if (!h)
		return false;
	while (*h) {
		const char *t;

		while (*h == ',' || is_ows(*h))
			h++;
		if (*h == '*')
			return true;
		if (!strncmp(h, "W/", 2))
			h += 2;
		if (*h != '"')
			return false;
		t = strchr(h + 1, '"');
		if (!t)
			return false;
		if ((size_t)(t + 1 - h) == n && !memcmp(h, etag, n))
			return true;
		h = t + 1;
	}
	return false;
}

const char *px_console_ctype(const char *name)
{
	static const struct {
		const char *ext, *ctype;
	} map[] = {
		{".html", "text/html; charset=utf-8"},
		{".js", "text/javascript; charset=utf-8"},
		{".mjs", "text/javascript; charset=utf-8"},
		{".css", "text/css; charset=utf-8"},
		{".json", "application/json"},
		{".map", "application/json"},
		{".webmanifest", "application/manifest+json"},
		{".svg", "image/svg+xml"},
		{".png", "image/png"},
		{".jpg", "image/jpeg"},
		{".webp", "image/webp"},
		{".avif", "image/avif"},
		{".ico", "image/vnd.microsoft.icon"},
		{".woff2", "font/woff2"},
		{".txt", "text/plain; charset=utf-8"},
	};
	const char *dot = strrchr(name, '.');

	if (dot)
		for (size_t i = 0; i < PX_ARRAY_LEN(map); i++)
			if (!strcasecmp(dot, map[i].ext))
				return map[i].ctype;
	return "application/octet-stream";
}

bool px_console_unsafe_method(const char *m)
{
	return strcmp(m, "GET") && strcmp(m, "HEAD") && strcmp(m, "OPTIONS");
}

bool px_console_csrf_ok(const char *csrf, const char *want,
			const char *origin, const char *fetch_site,
			const char *host, const char *public_url)
{
	if (!csrf || !want || !want[0] || !px_ct_streq(csrf, want))
		return false;
	if (origin && !px_console_origin_ok(origin, host, public_url))
		return false;
	if (fetch_site && !strcasecmp(fetch_site, "cross-site"))
		return false;
	return true;
}

/* ---- the module ---- */

int px_console_new(const struct px_console_opts *o, struct px_console **out,
		   struct px_errbuf *eb)
{
	struct px_console *c = calloc(1, sizeof(*c));
	char hex[PX_SHA256_HEX_LEN + 1];
	int rc = PX_ENOMEM;

	*out = NULL;
	if (!c)
		return px_errf(eb, PX_ENOMEM, "out of memory");
	c->enabled = o->enabled;
	c->public_url = o->public_url;
	c->assets = calloc(px_console_assets_n + 1, sizeof(*c->assets));
	if (!c->assets)
		goto fail;
	for (size_t i = 0; i < px_console_assets_n; i++) {
		struct asset *as = &c->assets[c->nassets++];

		as->a = &px_console_assets[i];
		as->ctype = px_console_ctype(as->a->name);
		if ((rc = px_sha256_hex(as->a->data, as->a->n, hex)))
			goto fail;
		snprintf(as->etag, sizeof(as->etag), "\"%.32s\"", hex);
		snprintf(as->etag_gz, sizeof(as->etag_gz), "\"%.32s-gz\"", hex);
	}
	if ((rc = px_sessions_new(o->kv, o->tokens, o->admin_token,
				  o->session_ttl_us, &c->sessions)))
		goto fail;
	*out = c;
	return 0;
fail:
	px_console_free(c);
	return px_errf(eb, rc, "console: cannot start");
}

void px_console_free(struct px_console *c)
{
	if (!c)
		return;
	px_sessions_free(c->sessions);
	free(c->assets);
	free(c);
}

static void security_headers(struct px_req *r)
{
	px_resp_header(r, "Content-Security-Policy", PX_CONSOLE_CSP);
	px_resp_header(r, "X-Content-Type-Options", "nosniff");
	px_resp_header(r, "X-Frame-Options", "DENY");
	px_resp_header(r, "Referrer-Policy", "no-referrer");
}

static void no_release(void *cls)
{
	(void)cls;
}

void px_console_asset(struct px_console *c, struct px_req *r,
		      const char *name)
{
	const struct asset *as = NULL;
	const char *etag;
	bool gz;

	security_headers(r);
	if (!c || !c->enabled) {
		px_resp_error(r, 404, "not_found", "the console is off (--console)");
		return;
	}
	if (!name || !name[0])
		name = "index.html";
	for (size_t i = 0; i < c->nassets; i++)
		if (!strcmp(c->assets[i].a->name, name))
			as = &c->assets[i];
	if (!as) {
		px_resp_error(r, 404, "not_found", "no console file \"%.100s\"",
			      name);
		return;
	}
	/* gzip only where it is accepted and smaller. */
	gz = as->a->ngz < as->a->n &&
	     px_console_accepts_gzip(px_req_header(r, "Accept-Encoding"));
	etag = gz ? as->etag_gz : as->etag;
	px_resp_header(r, "ETag", etag);
	px_resp_header(r, "Cache-Control", "no-cache");
	px_resp_header(r, "Vary", "Accept-Encoding");
	if (px_console_etag_match(px_req_header(r, "If-None-Match"), etag)) {
		px_resp_empty(r, 304);
		return;
	}
	if (gz) {
		px_resp_header(r, "Content-Encoding", "gzip");
		px_resp_shared(r, 200, as->ctype, as->a->gz, as->a->ngz,
			       no_release, NULL);
	} else {
		px_resp_shared(r, 200, as->ctype, as->a->data, as->a->n,
			       no_release, NULL);
	}
}

static bool client_of(struct px_req *r, struct px_ip *ip)
{
	char text[PX_IP_TEXT_MAX];

	return px_req_client_ip(r, text, sizeof(text)) == 0 &&
	       px_ip_parse(text, ip) == 0;
}

static bool secure(const struct px_console *c)
{
	return c->public_url && !strncasecmp(c->public_url, "https://", 8);
}

static void set_cookie(struct px_console *c, struct px_req *r,
		       const char *value, long max_age)
{
	char h[256];

	snprintf(h, sizeof(h),
		 PX_CONSOLE_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; "
		 "Max-Age=%ld%s",
		 value, max_age, secure(c) ? "; Secure" : "");
	px_resp_header(r, "Set-Cookie", h);
}

/* The session as the API shows it: the success envelope's result. */
static void answer_session(struct px_req *r, int status,
			   const struct px_session *ss)
{
	char when[32];
	struct px_buf b;

	px_time_format(ss->expires_us, when);
	px_buf_init(&b, 0);
	px_buf_adds(&b, "{\"success\":true,\"errors\":[],\"messages\":[],"
			"\"result\":{\"csrf_token\":");
	px_json_quote(&b, ss->csrf);
	px_buf_adds(&b, ",\"scopes\":");
	px_scope_json(ss->scopes, &b);
	px_buf_adds(&b, ",\"token_id\":");
	px_json_quote(&b, ss->token_id);
	px_buf_adds(&b, ",\"token_name\":");
	px_json_quote(&b, ss->token_name);
	px_buf_adds(&b, ",\"expires_at\":");
	px_json_quote(&b, when);
	px_buf_adds(&b, "}}\n");
	px_resp_buf(r, status, "application/json", &b);
}

/* A sign-in or sign-out must come from this server's own pages. */
static bool same_origin_request(struct px_console *c, struct px_req *r)
{
	const char *origin = px_req_header(r, "Origin");
	const char *site = px_req_header(r, "Sec-Fetch-Site");

	if (site && !strcasecmp(site, "cross-site"))
		return false;
	return !origin || px_console_origin_ok(origin, px_req_header(r, "Host"),
					       c->public_url);
}

static void sign_in(struct px_console *c, struct px_req *r)
{
	const struct px_buf *body = px_req_body(r);
	char secret[PX_SESSION_SECRET_LEN + 1];
	struct px_errbuf eb = {0};
	struct px_session ss;
	struct px_ip ip;
	json_t *o = NULL;
	const char *tok;
	int64_t now = px_wall_us();
	int rc;

	if (!same_origin_request(c, r)) {
		px_resp_error(r, 403, "csrf_failed",
			      "sign-in is accepted from this server's own pages only");
		return;
	}
	if (body->len > 4096 ||
	    !(o = json_loadb((const char *)body->data, body->len,
			     JSON_REJECT_DUPLICATES, NULL)) ||
	    !json_is_object(o)) {
		px_resp_error(r, 400, "invalid_request",
			      "the body must be a JSON object {\"token\": \"...\"}");
		goto out;
	}
	tok = json_string_value(json_object_get(o, "token"));
	if (!tok || !tok[0] || strlen(tok) > 512) {
		px_resp_error(r, 400, "invalid_request",
			      "\"token\" must be an API token");
		goto out;
	}
	rc = px_sessions_create(c->sessions, tok, client_of(r, &ip) ? &ip : NULL,
				now, secret, &ss, &eb);
	if (rc) {
		if (rc == PX_EINVAL)
			px_resp_error(r, 401, "invalid_token", "%s", eb.msg);
		else if (rc == PX_ETOOBIG)
			px_resp_error(r, 503, "too_many_sessions", "%s", eb.msg);
		else
			px_resp_error(r, 503, "storage_unavailable", "%s", eb.msg);
		goto out;
	}
	px_req_set_principal(r, ss.token_id, ss.token_name);
	set_cookie(c, r, secret,
		   (long)((ss.expires_us - now + 999999) / 1000000));
	answer_session(r, 200, &ss);
	memset(secret, 0, sizeof(secret));
out:
	json_decref(o);
}

/* The session of the request's cookie: 0, PX_ENOTFOUND (no cookie), or a
 * check's error (eb). secret receives the cookie's value. */
static int session_of(struct px_console *c, struct px_req *r,
		      char secret[PX_SESSION_SECRET_LEN + 1],
		      struct px_session *ss, struct px_errbuf *eb)
{
	struct px_ip ip;
	int rc = px_cookie_find(px_req_header(r, "Cookie"), PX_CONSOLE_COOKIE,
				secret, PX_SESSION_SECRET_LEN + 1);

	if (rc == PX_ENOTFOUND)
		return rc;
	if (rc)
		return px_errc(eb, PX_EINVAL, "not_signed_in", "no valid session");
	return px_sessions_check(c->sessions, secret,
				 client_of(r, &ip) ? &ip : NULL, px_wall_us(),
				 ss, eb);
}

void px_console_session(struct px_console *c, struct px_req *r)
{
	char secret[PX_SESSION_SECRET_LEN + 1];
	struct px_errbuf eb = {0};
	const char *m = px_req_method(r);
	struct px_session ss;
	int rc;

	security_headers(r);
	px_resp_header(r, "Cache-Control", "no-store");
	if (!c || !c->enabled) {
		px_resp_error(r, 404, "not_found", "the console is off (--console)");
		return;
	}
	if (!strcmp(m, "POST")) {
		sign_in(c, r);
		return;
	}
	rc = session_of(c, r, secret, &ss, &eb);
	if (rc == PX_ENOTFOUND || rc == PX_EINVAL) {
		if (rc == PX_EINVAL)
			set_cookie(c, r, "", 0);
		px_resp_error(r, 401, "not_signed_in", "%s",
			      rc == PX_ENOTFOUND ? "not signed in" : eb.msg);
		return;
	}
	if (rc) {
		px_resp_error(r, 503, "storage_unavailable", "%s", eb.msg);
		return;
	}
	px_req_set_principal(r, ss.token_id, ss.token_name);
	if (strcmp(m, "DELETE")) {
		answer_session(r, 200, &ss);
		return;
	}
	if (!px_console_csrf_ok(px_req_header(r, PX_CONSOLE_CSRF_HEADER), ss.csrf,
				px_req_header(r, "Origin"),
				px_req_header(r, "Sec-Fetch-Site"),
				px_req_header(r, "Host"), c->public_url)) {
		px_resp_error(r, 403, "csrf_failed",
			      "sign-out needs the session's " PX_CONSOLE_CSRF_HEADER
			      " header, from this server's own pages");
		return;
	}
	rc = px_sessions_revoke(c->sessions, secret, &eb);
	if (rc && rc != PX_ENOTFOUND) {
		px_resp_error(r, 503, "storage_unavailable", "%s", eb.msg);
		return;
	}
	set_cookie(c, r, "", 0);
	{
		static const char ok[] = "{\"success\":true,\"errors\":[],"
					 "\"messages\":[],\"result\":null}\n";

		px_resp_bytes(r, 200, "application/json", (void *)ok,
			      sizeof(ok) - 1, false);
	}
}

int px_console_authenticate(struct px_console *c, struct px_req *r,
			    uint32_t *scopes, struct px_errbuf *eb)
{
	char secret[PX_SESSION_SECRET_LEN + 1];
	struct px_errbuf seb = {0};
	struct px_session ss;
	int rc;

	*scopes = 0;
	if (!c || !c->enabled)
		return PX_ENOTFOUND;
	rc = session_of(c, r, secret, &ss, &seb);
	memset(secret, 0, sizeof(secret));
	if (rc == PX_ENOTFOUND)
		return rc;
	if (rc == PX_EINVAL)
		return px_errc(eb, rc, "unauthorized", "%s", seb.msg);
	if (rc)
		return px_errf(eb, rc, "%s", seb.msg);
	if (px_console_unsafe_method(px_req_method(r)) &&
	    !px_console_csrf_ok(px_req_header(r, PX_CONSOLE_CSRF_HEADER), ss.csrf,
				px_req_header(r, "Origin"),
				px_req_header(r, "Sec-Fetch-Site"),
				px_req_header(r, "Host"), c->public_url))
		return px_errc(eb, PX_EINVAL, "csrf_failed",
			       "a call authenticated by the console's cookie "
			       "needs its " PX_CONSOLE_CSRF_HEADER
			       " header and this server's Origin");
	*scopes = ss.scopes;
	return px_req_set_principal(r, ss.token_id, ss.token_name);
}
