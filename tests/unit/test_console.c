/*
 * test_console.c - the console's pure parts (cookie, Origin,
 * Accept-Encoding and If-None-Match parsing, the CSRF rule, content
 * types) and its sessions over the in-memory store: sign-in with the
 * admin and a scoped token, expiry, revocation of the token and of the
 * session, a changed admin token, the sweep.
 */
#include "console/assets.h"
#include "console/console.h"
#include "core/crypto.h"
#include "t.h"

static char buf[128];

static const char *cookie(const char *h, const char *name)
{
	int rc = px_cookie_find(h, name, buf, sizeof(buf));

	return rc == 0 ? buf : rc == PX_ETOOBIG ? "<too big>" : NULL;
}

static void pure(void)
{
	T_CASE("cookie header") {
		T_STREQ(cookie("pictor_session=abc", "pictor_session"), "abc");
		T_STREQ(cookie("a=1; pictor_session=abc; b=2", "pictor_session"), "abc");
		T_STREQ(cookie("a=1;pictor_session=abc ;b=2", "pictor_session"), "abc");
		T_STREQ(cookie("x_pictor_session=no; pictor_session=yes", "pictor_session"), "yes");
		T_STREQ(cookie("pictor_session=\"q\"", "pictor_session"), "q");
		T_STREQ(cookie("pictor_session=first; pictor_session=second", "pictor_session"), "first");
		T_STREQ(cookie("pictor_session=", "pictor_session"), "");
		T_OK(cookie("pictor_sessionx=1; pictor_sessio=2", "pictor_session") == NULL);
		T_OK(cookie("", "pictor_session") == NULL);
		T_OK(cookie(NULL, "pictor_session") == NULL);
		T_OK(cookie(";;; ;", "pictor_session") == NULL);
		T_OK(cookie("pictor_session", "pictor_session") == NULL);
		memset(buf, 'a', sizeof(buf));
		{
			char big[400];

			snprintf(big, sizeof(big), "pictor_session=%0200d", 7);
			T_STREQ(cookie(big, "pictor_session"), "<too big>");
		}
	}
	T_CASE("origin is this server's") {
		T_OK(px_console_origin_ok("http://127.0.0.1:8080", "127.0.0.1:8080", NULL));
		T_OK(px_console_origin_ok("https://img.example", "img.example", NULL));
		T_OK(px_console_origin_ok("HTTP://IMG.example", "img.example", NULL));
		T_OK(px_console_origin_ok("https://img.example", "10.0.0.1:8080",
					  "https://img.example/base"));
		T_OK(px_console_origin_ok("https://img.example:8443", "x",
					  "https://img.example:8443"));
		T_OK(!px_console_origin_ok("https://img.example", "10.0.0.1:8080",
					   "https://img.example:8443"));
		T_OK(!px_console_origin_ok("http://evil.example", "127.0.0.1:8080", NULL));
		T_OK(!px_console_origin_ok("http://127.0.0.1:8081", "127.0.0.1:8080", NULL));
		T_OK(!px_console_origin_ok("null", "127.0.0.1:8080", NULL));
		T_OK(!px_console_origin_ok("", "127.0.0.1:8080", NULL));
		T_OK(!px_console_origin_ok(NULL, "127.0.0.1:8080", NULL));
		T_OK(!px_console_origin_ok("http://127.0.0.1:8080", NULL, NULL));
		T_OK(!px_console_origin_ok("http://127.0.0.1:8080/", "127.0.0.1:8080", NULL));
		T_OK(!px_console_origin_ok("ftp://127.0.0.1:8080", "127.0.0.1:8080", NULL));
		T_OK(!px_console_origin_ok("http://a@b", "a@b", NULL));
		T_OK(!px_console_origin_ok("https://img.example.evil", "x",
					   "https://img.example"));
	}
	T_CASE("accept-encoding") {
		T_OK(px_console_accepts_gzip("gzip"));
		T_OK(px_console_accepts_gzip("gzip, deflate, br"));
		T_OK(px_console_accepts_gzip("br;q=1.0, GZIP;q=0.5"));
		T_OK(px_console_accepts_gzip("x-gzip"));
		T_OK(px_console_accepts_gzip("*"));
		T_OK(px_console_accepts_gzip("identity, *;q=0.1"));
		T_OK(!px_console_accepts_gzip(NULL));
		T_OK(!px_console_accepts_gzip(""));
		T_OK(!px_console_accepts_gzip("identity"));
		T_OK(!px_console_accepts_gzip("br, deflate"));
		T_OK(!px_console_accepts_gzip("gzip;q=0"));
		T_OK(!px_console_accepts_gzip("gzip;q=0.000"));
		T_OK(!px_console_accepts_gzip("*;q=0"));
		T_OK(!px_console_accepts_gzip("gzip;q=0, *"));
		T_OK(!px_console_accepts_gzip("gzipx"));
		T_OK(px_console_accepts_gzip("gzip ; q=0.2"));
	}
	T_CASE("if-none-match") {
		T_OK(px_console_etag_match("\"abc\"", "\"abc\""));
		T_OK(px_console_etag_match("W/\"abc\"", "\"abc\""));
		T_OK(px_console_etag_match("\"x\", \"abc\"", "\"abc\""));
		T_OK(px_console_etag_match("*", "\"abc\""));
		T_OK(!px_console_etag_match("\"abc-gz\"", "\"abc\""));
		T_OK(!px_console_etag_match("\"ab\"", "\"abc\""));
		T_OK(!px_console_etag_match("abc", "\"abc\""));
		T_OK(!px_console_etag_match("\"abc", "\"abc\""));
		T_OK(!px_console_etag_match("", "\"abc\""));
		T_OK(!px_console_etag_match(NULL, "\"abc\""));
	}
	T_CASE("content types") {
		T_STREQ(px_console_ctype("index.html"), "text/html; charset=utf-8");
		T_STREQ(px_console_ctype("app.js"), "text/javascript; charset=utf-8");
		T_STREQ(px_console_ctype("app.css"), "text/css; charset=utf-8");
		T_STREQ(px_console_ctype("logo.svg"), "image/svg+xml");
		T_STREQ(px_console_ctype("README"), "application/octet-stream");
		T_STREQ(px_console_ctype("x.exe"), "application/octet-stream");
	}
	T_CASE("csrf rule") {
		const char *want = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
		const char *host = "127.0.0.1:8080";

		T_OK(px_console_csrf_ok(want, want, NULL, NULL, host, NULL));
		T_OK(px_console_csrf_ok(want, want, "http://127.0.0.1:8080", "same-origin", host, NULL));
		T_OK(!px_console_csrf_ok(NULL, want, NULL, NULL, host, NULL));
		T_OK(!px_console_csrf_ok("", want, NULL, NULL, host, NULL));
		T_OK(!px_console_csrf_ok("0123", want, NULL, NULL, host, NULL));
		T_OK(!px_console_csrf_ok(want, "", NULL, NULL, host, NULL));
		T_OK(!px_console_csrf_ok(want, want, "http://evil.example", NULL, host, NULL));
		T_OK(!px_console_csrf_ok(want, want, "null", NULL, host, NULL));
		T_OK(!px_console_csrf_ok(want, want, NULL, "cross-site", host, NULL));
		T_OK(px_console_unsafe_method("POST"));
		T_OK(px_console_unsafe_method("PATCH"));
		T_OK(px_console_unsafe_method("DELETE"));
		T_OK(px_console_unsafe_method("PUT"));
		T_OK(!px_console_unsafe_method("GET"));
		T_OK(!px_console_unsafe_method("HEAD"));
	}
	T_CASE("the embedded table ends with a NULL name") {
		T_OK(px_console_assets[px_console_assets_n].name == NULL);
		for (size_t i = 0; i < px_console_assets_n; i++) {
			T_OK(px_console_assets[i].name != NULL);
			/* a gzip stream: magic, deflate, no name (-n) */
			T_OK(px_console_assets[i].ngz >= 18);
			T_EQ(px_console_assets[i].gz[0], 0x1f);
			T_EQ(px_console_assets[i].gz[1], 0x8b);
			T_EQ(px_console_assets[i].gz[3] & 0x08, 0);
		}
	}
}

static struct px_ip ip(const char *s)
{
	struct px_ip a;

	if (px_ip_parse(s, &a))
		abort();
	return a;
}

static void sessions(void)
{
	const char *admin = "admin-token-for-the-test";
	const int64_t ttl = 3600LL * 1000000, now = px_wall_us();
	struct px_errbuf eb = {0};
	struct px_kv *kv = NULL;
	struct px_tokens *ts = NULL;
	struct px_sessions *s = NULL, *s2 = NULL;
	struct px_session ss, got;
	struct px_token t;
	char secret[PX_SESSION_SECRET_LEN + 1], sec2[PX_SESSION_SECRET_LEN + 1],
		tok[PX_TOKEN_SECRET_LEN + 1];
	struct px_ip two = ip("127.0.0.2"), three = ip("127.0.0.3");
	unsigned removed;

	T_EQ(px_kv_open(&px_kv_mem_ops, "", 0, &kv, &eb), 0);
	T_EQ(px_tokens_new(kv, &ts), 0);
	T_EQ(px_sessions_new(kv, ts, admin, ttl, &s), 0);

	T_CASE("the admin token signs in") {
		T_EQ(px_sessions_create(s, admin, NULL, now, secret, &ss, &eb), 0);
		T_OK(px_session_secret_valid(secret));
		T_STREQ(ss.token_id, "admin");
		T_EQ(ss.scopes, PX_SCOPE_BIT(PX_SCOPE_ADMIN));
		T_EQ(ss.expires_us, now + ttl);
		T_EQ(strlen(ss.csrf), (size_t)PX_SESSION_CSRF_LEN);
		T_EQ(px_sessions_check(s, secret, NULL, now + 1, &got, &eb), 0);
		T_STREQ(got.csrf, ss.csrf);
		T_EQ(got.scopes, PX_SCOPE_BIT(PX_SCOPE_ADMIN));
	}
	T_CASE("a second sign-in is another session") {
		T_EQ(px_sessions_create(s, admin, NULL, now, sec2, &got, &eb), 0);
		T_OK(strcmp(sec2, secret) != 0);
		T_OK(strcmp(got.csrf, ss.csrf) != 0);
	}
	T_CASE("the store holds the hash, never the secret") {
		struct px_kv_txn *txn;
		struct px_buf b;
		char key[80], hex[PX_SHA256_HEX_LEN + 1];

		px_sha256_hex(secret, strlen(secret), hex);
		snprintf(key, sizeof(key), "sess/%s", hex);
		px_buf_init(&b, 0);
		T_EQ(px_kv_begin(kv, PX_KV_RDONLY, &txn, &eb), 0);
		T_EQ(px_kv_gets(txn, key, &b, &eb), 0);
		snprintf(key, sizeof(key), "sess/%s", secret);
		T_EQ(px_kv_gets(txn, key, &b, &eb), PX_ENOTFOUND);
		px_kv_abort(txn);
		px_buf_add(&b, "", 1);
		T_OK(strstr((char *)b.data, secret) == NULL);
		px_buf_release(&b);
	}
	T_CASE("wrong tokens do not sign in") {
		T_EQ(px_sessions_create(s, "admin-token-for-the-tesT", NULL, now,
					sec2, &got, &eb), PX_EINVAL);
		T_STREQ(eb.code, "invalid_token");
		T_EQ(sec2[0], '\0');
		T_EQ(px_sessions_create(s, "", NULL, now, sec2, &got, &eb), PX_EINVAL);
		T_EQ(px_sessions_create(s, "pxt_0123456789abcdef_00", NULL, now,
					sec2, &got, &eb), PX_EINVAL);
	}
	T_CASE("malformed and unknown secrets") {
		char other[PX_SESSION_SECRET_LEN + 1];

		T_EQ(px_sessions_check(s, "", NULL, now, &got, &eb), PX_EINVAL);
		T_STREQ(eb.code, "not_signed_in");
		T_EQ(px_sessions_check(s, "abc", NULL, now, &got, &eb), PX_EINVAL);
		memcpy(other, secret, sizeof(other));
		other[0] = other[0] == 'a' ? 'b' : 'a';
		T_EQ(px_sessions_check(s, other, NULL, now, &got, &eb), PX_EINVAL);
		other[0] = 'A'; /* upper case is not the form */
		T_OK(!px_session_secret_valid(other));
		T_EQ(got.scopes, 0u);
	}
	T_CASE("a session expires") {
		T_EQ(px_sessions_check(s, secret, NULL, now + ttl - 1, &got, &eb), 0);
		T_EQ(px_sessions_check(s, secret, NULL, now + ttl, &got, &eb), PX_EINVAL);
		T_STREQ(eb.code, "not_signed_in");
		/* and its record is gone: earlier times do not revive it */
		T_EQ(px_sessions_check(s, secret, NULL, now, &got, &eb), PX_EINVAL);
	}
	T_CASE("a changed admin token ends the admin's sessions") {
		T_EQ(px_sessions_create(s, admin, NULL, now, secret, &ss, &eb), 0);
		T_EQ(px_sessions_new(kv, ts, "another admin token", ttl, &s2), 0);
		T_EQ(px_sessions_check(s2, secret, NULL, now, &got, &eb), PX_EINVAL);
		T_EQ(px_sessions_check(s, secret, NULL, now, &got, &eb), PX_EINVAL);
		px_sessions_free(s2);
		s2 = NULL;
	}
	T_CASE("sign-out revokes") {
		T_EQ(px_sessions_create(s, admin, NULL, now, secret, &ss, &eb), 0);
		T_EQ(px_sessions_revoke(s, secret, &eb), 0);
		T_EQ(px_sessions_check(s, secret, NULL, now, &got, &eb), PX_EINVAL);
		T_EQ(px_sessions_revoke(s, secret, &eb), PX_ENOTFOUND);
		T_EQ(px_sessions_revoke(s, "nope", &eb), PX_ENOTFOUND);
	}
	T_CASE("a scoped token's session has its scopes and dies with it") {
		memset(&t, 0, sizeof(t));
		snprintf(t.name, sizeof(t.name), "reviewer");
		t.scopes = PX_SCOPE_BIT(PX_SCOPE_IMAGES_READ) |
			   PX_SCOPE_BIT(PX_SCOPE_MODERATION_REVIEW);
		T_EQ(px_tokens_create(ts, &t, tok, &eb), 0);
		T_EQ(px_sessions_create(s, tok, NULL, now, secret, &ss, &eb), 0);
		T_STREQ(ss.token_id, t.id);
		T_STREQ(ss.token_name, "reviewer");
		T_EQ(ss.scopes, t.scopes);
		T_EQ(px_sessions_check(s, secret, NULL, now, &got, &eb), 0);
		T_EQ(got.scopes, t.scopes);
		T_EQ(px_tokens_revoke(ts, t.id, &eb), 0);
		T_EQ(px_sessions_check(s, secret, NULL, now, &got, &eb), PX_EINVAL);
		T_STREQ(eb.code, "not_signed_in");
		T_EQ(px_sessions_create(s, tok, NULL, now, secret, &ss, &eb), PX_EINVAL);
		T_STREQ(eb.code, "invalid_token");
	}
	T_CASE("a token's expiry bounds its session") {
		memset(&t, 0, sizeof(t));
		snprintf(t.name, sizeof(t.name), "short");
		t.scopes = PX_SCOPE_BIT(PX_SCOPE_IMAGES_READ);
		t.expires_us = now + 60 * 1000000LL;
		T_EQ(px_tokens_create(ts, &t, tok, &eb), 0);
		T_EQ(px_sessions_create(s, tok, NULL, now, secret, &ss, &eb), 0);
		T_EQ(ss.expires_us, t.expires_us);
		T_EQ(px_sessions_check(s, secret, NULL, t.expires_us - 1, &got, &eb), 0);
		T_EQ(px_sessions_check(s, secret, NULL, t.expires_us, &got, &eb), PX_EINVAL);
		T_EQ(px_sessions_create(s, tok, NULL, t.expires_us, secret, &ss, &eb),
		     PX_EINVAL);
	}
	T_CASE("a token's address ranges hold for its sessions") {
		memset(&t, 0, sizeof(t));
		snprintf(t.name, sizeof(t.name), "ranged");
		t.scopes = PX_SCOPE_BIT(PX_SCOPE_IMAGES_READ);
		T_EQ(px_cidr_parse("127.0.0.2/32", 12, &t.cidrs[0]), 0);
		t.n_cidrs = 1;
		T_EQ(px_tokens_create(ts, &t, tok, &eb), 0);
		T_EQ(px_sessions_create(s, tok, &three, now, secret, &ss, &eb), PX_EINVAL);
		T_EQ(px_sessions_create(s, tok, &two, now, secret, &ss, &eb), 0);
		T_EQ(px_sessions_check(s, secret, &three, now, &got, &eb), PX_EINVAL);
		/* refused there, but still valid where the token may be used */
		T_EQ(px_sessions_check(s, secret, &two, now, &got, &eb), 0);
	}
	T_CASE("the sweep removes ended sessions") {
		T_EQ(px_sessions_sweep(s, now + ttl + 1, &removed, &eb), 0);
		T_OK(removed >= 2);
		T_EQ(px_sessions_sweep(s, now + ttl + 1, &removed, &eb), 0);
		T_EQ(removed, 0u);
	}
	T_CASE("no admin token configured: only scoped tokens") {
		T_EQ(px_sessions_new(kv, ts, NULL, ttl, &s2), 0);
		T_EQ(px_sessions_create(s2, "", NULL, now, secret, &ss, &eb), PX_EINVAL);
		T_EQ(px_sessions_create(s2, admin, NULL, now, secret, &ss, &eb), PX_EINVAL);
		px_sessions_free(s2);
	}
	px_sessions_free(s);
	px_tokens_free(ts);
	px_kv_close(kv);
}

static void run(void)
{
	pure();
	sessions();
}
