/*
 * test_route.c - the route matcher, and the application's route table
 * walked row by row: every row has a scope, methods, a handler and a
 * pattern the matcher accepts; no row is shadowed by an earlier one.
 */
#include "api/route.c"
#include "access/scope.c"
#include "api/app.h"
#include "t.h"

static bool m(const char *pattern, const char *path)
{
	struct px_call c;

	return px_route_match(pattern, path, &c);
}

static void matcher(void)
{
	struct px_call c;
	char out[64];

	T_CASE("literal") {
		T_OK(m("/healthz", "/healthz"));
		T_OK(m("/healthz", "/healthz/"));
		T_OK(!m("/healthz", "/healthz//"));
		T_OK(!m("/healthz", "/healthzz"));
		T_OK(!m("/healthz", "/health"));
		T_OK(!m("/healthz", "healthz"));
		T_OK(!m("/healthz", ""));
		T_OK(m("/v1/images", "/v1/images/"));
		T_OK(!m("/v1/images", "/v1/images/x"));
		T_OK(m("/", "/"));
	}
	T_CASE("one segment") {
		T_OK(px_route_match("/v1/images/{id}", "/v1/images/abc", &c));
		T_EQ(c.nargs, 1);
		T_OK(px_call_arg(&c, "id", out, sizeof(out)) == 0);
		T_STREQ(out, "abc");
		T_EQ(px_call_arg(&c, "name", out, sizeof(out)), PX_ENOTFOUND);
		T_OK(!m("/v1/images/{id}", "/v1/images/"));
		T_OK(!m("/v1/images/{id}", "/v1/images"));
		T_OK(!m("/v1/images/{id}", "/v1/images/a/b"));
		T_OK(m("/v1/images/{id}/blob", "/v1/images/a/blob"));
		T_OK(!m("/v1/images/{id}/blob", "/v1/images/a/blobs"));
		T_OK(!m("/v1/images/{id}/blob", "/v1/images//blob"));
	}
	T_CASE("decoding") {
		T_OK(px_route_match("/v1/images/{id}", "/v1/images/a%2Eb", &c));
		T_OK(px_call_arg(&c, "id", out, sizeof(out)) == 0);
		T_STREQ(out, "a.b");
		T_OK(px_route_match("/v1/images/{id}", "/v1/images/a%2Fb", &c));
		T_EQ(px_call_arg(&c, "id", out, sizeof(out)), PX_EINVAL);
		T_OK(px_route_match("/v1/images/{id}", "/v1/images/a%00b", &c));
		T_EQ(px_call_arg(&c, "id", out, sizeof(out)), PX_EINVAL);
		T_OK(px_route_match("/v1/images/{id}", "/v1/images/a%zz", &c));
		T_EQ(px_call_arg(&c, "id", out, sizeof(out)), PX_EINVAL);
		T_OK(px_route_match("/v1/images/{id}", "/v1/images/aaaaaaaa", &c));
		T_EQ(px_call_arg(&c, "id", out, 4), PX_ETOOBIG);
	}
	T_CASE("two families, one handler's captures") {
		T_OK(px_route_match("/accounts/{account_id}/images/v1/{id}",
				    "/accounts/acc1/images/v1/img9", &c));
		T_EQ(c.nargs, 2);
		T_OK(px_call_arg(&c, "account_id", out, sizeof(out)) == 0);
		T_STREQ(out, "acc1");
		T_OK(px_call_arg(&c, "id", out, sizeof(out)) == 0);
		T_STREQ(out, "img9");
	}
	T_CASE("rest capture") {
		T_OK(px_route_match("/img/{path*}", "/img/a/b/c", &c));
		T_OK(px_call_arg(&c, "path", out, sizeof(out)) == 0);
		T_STREQ(out, "a/b/c");
		T_OK(!m("/img/{path*}", "/img/"));
		T_OK(!m("/img/{path*}", "/img"));
		T_OK(m("/img/{path*}", "/img/x"));
	}
	T_CASE("methods") {
		T_EQ(px_route_method_bit("HEAD"), (unsigned)PX_M_GET);
		T_EQ(px_route_method_bit("GET"), (unsigned)PX_M_GET);
		T_EQ(px_route_method_bit("DELETE"), (unsigned)PX_M_DELETE);
		T_EQ(px_route_method_bit("get"), 0u);
		T_EQ(px_route_method_bit("BREW"), 0u);
		px_route_allow(PX_M_GET | PX_M_POST, out, sizeof(out));
		T_STREQ(out, "GET, HEAD, POST");
		px_route_allow(PX_M_PATCH | PX_M_DELETE, out, sizeof(out));
		T_STREQ(out, "PATCH, DELETE");
		px_route_allow(PX_M_GET | PX_M_POST | PX_M_DELETE, out, 8);
		T_EQ(strlen(out), 7u);
	}
}

static void dummy(struct px_app *a, struct px_req *r, const struct px_call *c)
{
}

static void checker(void)
{
	struct px_errbuf eb = {0};
	const struct px_route good[] = {
		{PX_M_GET, "/a/{id}", PX_SCOPE_PUBLIC, dummy, ""},
		{PX_M_GET, "/b/{rest*}", PX_SCOPE_ADMIN, dummy, ""},
	};
	const struct px_route unset[] = {{PX_M_GET, "/a", 0, dummy, ""}};
	const struct px_route nometh[] = {{0, "/a", PX_SCOPE_ADMIN, dummy, ""}};
	const struct px_route nofn[] = {{PX_M_GET, "/a", PX_SCOPE_ADMIN, NULL, ""}};
	const char *bad[] = {"", "a", "/a//b", "/a/", "/{", "/{}", "/{x*}/y",
			     "/a/{id"};

	T_CASE("px_route_check") {
		T_EQ(px_route_check(good, PX_ARRAY_LEN(good), &eb), 0);
		T_EQ(px_route_check(unset, 1, &eb), PX_EINVAL);
		T_OK(strstr(eb.msg, "no scope") != NULL);
		T_EQ(px_route_check(nometh, 1, &eb), PX_EINVAL);
		T_EQ(px_route_check(nofn, 1, &eb), PX_EINVAL);
		for (size_t i = 0; i < PX_ARRAY_LEN(bad); i++) {
			const struct px_route t = {PX_M_GET, bad[i], PX_SCOPE_ADMIN,
						   dummy, ""};

			T_EQ(px_route_check(&t, 1, &eb), PX_EINVAL);
		}
	}
}

/* A concrete path for a pattern: each capture replaced by "x". */
static void instantiate(const char *pattern, char *out, size_t n)
{
	size_t j = 0;

	for (const char *p = pattern; *p && j + 2 < n;) {
		if (*p == '{') {
			out[j++] = 'x';
			p = strchr(p, '}') + 1;
		} else {
			out[j++] = *p++;
		}
	}
	out[j] = '\0';
}

static void table(void)
{
	struct px_errbuf eb = {0};
	size_t n;
	const struct px_route *t = px_app_routes(&n);
	char path[256];
	struct px_call c;

	T_CASE("the application's table passes the check") {
		T_OK(n > 10);
		T_EQ(px_route_check(t, n, &eb), 0);
		if (eb.msg[0])
			fprintf(stderr, "%s\n", eb.msg);
	}
	T_CASE("every row is reachable: no earlier row takes its path and method") {
		for (size_t i = 0; i < n; i++) {
			instantiate(t[i].pattern, path, sizeof(path));
			T_OK(px_route_match(t[i].pattern, path, &c));
			for (size_t j = 0; j < i; j++) {
				/* The first matching pattern owns the path: an
				 * earlier row with another pattern shadows whatever
				 * its methods; one with the same pattern only by
				 * sharing a method. */
				bool same = !strcmp(t[j].pattern, t[i].pattern);
				bool shadow = (!same || (t[j].methods & t[i].methods)) &&
					      px_route_match(t[j].pattern, path, &c);

				if (shadow)
					fprintf(stderr, "row %zu %s shadowed by %s\n",
						i, t[i].pattern, t[j].pattern);
				T_OK(!shadow);
			}
		}
	}
	T_CASE("only health, metrics, delivery, upload URLs and the console "
	       "(whose session endpoint authenticates itself) are public") {
		for (size_t i = 0; i < n; i++) {
			if (t[i].scope != PX_SCOPE_PUBLIC)
				continue;
			T_OK(!strncmp(t[i].pattern, "/healthz", 8) ||
			     !strncmp(t[i].pattern, "/readyz", 7) ||
			     !strncmp(t[i].pattern, "/metrics", 8) ||
			     !strncmp(t[i].pattern, "/upload/", 8) ||
			     !strncmp(t[i].pattern, "/img/", 5) ||
			     !strncmp(t[i].pattern, "/cdn-cgi/", 9) ||
			     !strcmp(t[i].pattern, "/admin") ||
			     !strcmp(t[i].pattern, "/admin/{file}") ||
			     !strcmp(t[i].pattern, "/admin/api/session") ||
			     !strcmp(t[i].pattern, "/{account_hash}/{id}/{variant}"));
		}
	}
}

static void scopes(void)
{
	T_CASE("scope names round-trip") {
		for (int s = PX_SCOPE_IMAGES_READ; s < PX_SCOPE_COUNT; s++) {
			const char *name = px_scope_name((enum px_scope)s);

			T_EQ(px_scope_parse(name, strlen(name)), (enum px_scope)s);
		}
		T_EQ(px_scope_parse("public", 6), PX_SCOPE_UNSET);
		T_EQ(px_scope_parse("unset", 5), PX_SCOPE_UNSET);
		T_EQ(px_scope_parse("images:rea", 10), PX_SCOPE_UNSET);
		T_EQ(px_scope_parse("images:read", 10), PX_SCOPE_UNSET);
	}
	T_CASE("px_scope_allows") {
		uint32_t rd = PX_SCOPE_BIT(PX_SCOPE_IMAGES_READ);

		T_OK(px_scope_allows(0, PX_SCOPE_PUBLIC));
		T_OK(!px_scope_allows(0, PX_SCOPE_IMAGES_READ));
		T_OK(px_scope_allows(rd, PX_SCOPE_IMAGES_READ));
		T_OK(!px_scope_allows(rd, PX_SCOPE_IMAGES_WRITE));
		T_OK(px_scope_allows(PX_SCOPE_BIT(PX_SCOPE_ADMIN), PX_SCOPE_TOKENS_WRITE));
		T_OK(!px_scope_allows(PX_SCOPE_BIT(PX_SCOPE_ADMIN), PX_SCOPE_UNSET));
		T_OK(!px_scope_allows(0xffffffffu, PX_SCOPE_UNSET));
	}
}

/* Rows bound to the configured account: {account_id} and {account_hash}. */
static void bound(void)
{
	struct px_config cfg;
	struct px_app a;
	struct px_call c;

	memset(&cfg, 0, sizeof(cfg));
	memset(&a, 0, sizeof(a));
	a.cfg = &cfg;
	T_CASE("without --account-hash the delivery form never matches") {
		T_OK(px_route_match("/{account_hash}/{id}/{variant}", "/H/x/y", &c));
		T_OK(!px_api_cf_bound(&a, &c));
	}
	T_CASE("without --account-id any account matches") {
		T_OK(px_route_match("/accounts/{account_id}/images/v1", "/accounts/zz/images/v1", &c));
		T_OK(px_api_cf_bound(&a, &c));
		T_OK(px_route_match("/v1/images/{id}", "/v1/images/x", &c));
		T_OK(px_api_cf_bound(&a, &c));
	}
	cfg.account_hash = "H-h_1";
	cfg.account_id = "acc";
	T_CASE("only the configured values match") {
		T_OK(px_route_match("/{account_hash}/{id}/{variant}", "/H-h_1/x/y", &c));
		T_OK(px_api_cf_bound(&a, &c));
		T_OK(px_route_match("/{account_hash}/{id}/{variant}", "/H-h_2/x/y", &c));
		T_OK(!px_api_cf_bound(&a, &c));
		T_OK(px_route_match("/{account_hash}/{id}/{variant}", "/H-h_1x/x/y", &c));
		T_OK(!px_api_cf_bound(&a, &c));
		T_OK(px_route_match("/accounts/{account_id}/images/v1", "/accounts/acc/images/v1", &c));
		T_OK(px_api_cf_bound(&a, &c));
		T_OK(px_route_match("/accounts/{account_id}/images/v1", "/accounts/ac%63/images/v1", &c));
		T_OK(px_api_cf_bound(&a, &c)); /* compared decoded */
		T_OK(px_route_match("/accounts/{account_id}/images/v1", "/accounts/other/images/v1", &c));
		T_OK(!px_api_cf_bound(&a, &c));
		T_OK(px_route_match("/accounts/{account_id}/images/v1", "/accounts/a%00cc/images/v1", &c));
		T_OK(!px_api_cf_bound(&a, &c));
	}
}

static void run(void)
{
	matcher();
	checker();
	table();
	scopes();
	bound();
}
