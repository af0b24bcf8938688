/*
 * test_guard.c - client identity, token buckets (on a clock the test
 * drives), the bucket table's memory bound, rate specs, rules, hotlink.
 */
#include "guard/guard.h"
#include "guard/rules.h"
#include "core/log.h"
#include "core/crypto.h"

#include "t.h"

static struct px_ip ip(const char *s)
{
	struct px_ip a;

	memset(&a, 0, sizeof(a));
	if (px_hop_parse(s, strlen(s), &a))
		fprintf(stderr, "bad test address %s\n", s);
	return a;
}

static const char *resolve(const char *peer, const char *fwd, const char *xff,
			   const char *trusted)
{
	static char out[64];
	struct px_cidr t[PX_MAX_TRUSTED];
	struct px_ip p = ip(peer), c, key;
	int n = 0;

	if (px_cidr_list_parse(trusted, t, PX_MAX_TRUSTED, &n, NULL))
		return "bad trusted list";
	px_client_resolve(&p, fwd, xff, t, n, &c);
	px_client_key(&c, &key);
	px_client_key_format(&key, out, sizeof(out));
	return out;
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kib = strtol(line + 6, NULL, 10);
	fclose(f);
	return kib;
}

static const char *hdrs[8][2];

static const char *fake_header(void *ctx, const char *name)
{
	(void)ctx;
	for (int i = 0; i < 8 && hdrs[i][0]; i++)
		if (!strcasecmp(hdrs[i][0], name))
			return hdrs[i][1];
	return NULL;
}

static const char *match(struct px_rules *rs, const char *client,
			 const char *method, const char *path)
{
	struct px_ip c = ip(client);
	struct px_rule_input in = {&c, method, path, fake_header, NULL};
	struct px_rule *r = px_rules_match(rs, &in);

	return r ? r->name : "none";
}

static void run(void)
{
	struct px_errbuf eb = {0};

	T_CASE("hops as proxies write them, client keys") {
		char out[64];
		struct px_ip a;

		T_EQ(px_hop_parse("192.0.2.1", 9, &a), 0);
		T_EQ(a.family, 4);
		T_EQ(px_hop_parse("192.0.2.1:8080", 14, &a), 0);
		T_EQ(a.family, 4);
		T_EQ(px_hop_parse("[2001:db8::1]:443", 17, &a), 0);
		T_EQ(a.family, 6);
		T_EQ(px_hop_parse("[2001:db8::1]", 13, &a), 0);
		T_EQ(px_hop_parse("2001:db8::1", 11, &a), 0);
		T_EQ(px_hop_parse("::ffff:192.0.2.1", 16, &a), 0);
		T_EQ(a.family, 4); /* mapped forms count as the IPv4 address */
		T_EQ(px_hop_parse("unknown", 7, &a), PX_EINVAL);
		T_EQ(px_hop_parse("_hidden", 7, &a), PX_EINVAL);
		T_EQ(px_hop_parse("1.2.3", 5, &a), PX_EINVAL);
		T_EQ(px_hop_parse("1.2.3.4:", 8, &a), PX_EINVAL);
		T_EQ(px_hop_parse("1.2.3.4:99999999", 16, &a), PX_EINVAL);
		T_EQ(px_hop_parse("[::1", 4, &a), PX_EINVAL);
		T_EQ(px_hop_parse("[1.2.3.4]", 9, &a), PX_EINVAL);
		T_EQ(px_hop_parse("[::1]x", 6, &a), PX_EINVAL);
		T_EQ(px_hop_parse("1.2.3.4\0", 8, &a), PX_EINVAL);
		T_EQ(px_hop_parse("", 0, &a), PX_EINVAL);
		a = ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd");
		px_client_key(&a, &a);
		px_client_key_format(&a, out, sizeof(out));
		T_STREQ(out, "2001:db8:1:2::/64");
		a = ip("192.0.2.200");
		px_client_key(&a, &a);
		px_client_key_format(&a, out, sizeof(out));
		T_STREQ(out, "192.0.2.200");
	}

	T_CASE("client identity: peers, trusted proxies, chains") {
		/* untrusted peer: spoofed headers are ignored */
		T_STREQ(resolve("203.0.113.7", NULL, "1.2.3.4", ""), "203.0.113.7");
		T_STREQ(resolve("203.0.113.7", "for=1.2.3.4", "1.2.3.4",
				"10.0.0.0/8"), "203.0.113.7");
		/* trusted peer, one hop */
		T_STREQ(resolve("10.0.0.2", NULL, "198.51.100.9", "10.0.0.0/8"),
			"198.51.100.9");
		/* several hops: the right-most untrusted one, not the left-most
		 * (which the client wrote itself) */
		T_STREQ(resolve("10.0.0.2", NULL,
				"6.6.6.6, 198.51.100.9, 10.0.0.7", "10.0.0.0/8"),
			"198.51.100.9");
		/* several header lines arrive joined */
		T_STREQ(resolve("10.0.0.2", NULL, "6.6.6.6,198.51.100.9",
				"10.0.0.0/8"), "198.51.100.9");
		/* every hop trusted: the left-most */
		T_STREQ(resolve("10.0.0.2", NULL, "10.9.9.9, 10.0.0.7",
				"10.0.0.0/8"), "10.9.9.9");
		/* a malformed hop stops the walk at the last trusted address */
		T_STREQ(resolve("10.0.0.2", NULL, "198.51.100.9, garbage",
				"10.0.0.0/8"), "10.0.0.2");
		T_STREQ(resolve("10.0.0.2", NULL, "198.51.100.9, 10.0.0.5, unknown",
				"10.0.0.0/8"), "10.0.0.2");
		T_STREQ(resolve("10.0.0.2", NULL, "198.51.100.9,,10.0.0.5",
				"10.0.0.0/8"), "10.0.0.5");
		T_STREQ(resolve("10.0.0.2", NULL, "", "10.0.0.0/8"), "10.0.0.2");
		T_STREQ(resolve("10.0.0.2", NULL, ",,,", "10.0.0.0/8"), "10.0.0.2");
		/* ports on hops */
		T_STREQ(resolve("10.0.0.2", NULL, "198.51.100.9:5555",
				"10.0.0.0/8"), "198.51.100.9");
		/* Forwarded wins over X-Forwarded-For */
		T_STREQ(resolve("10.0.0.2",
				"for=192.0.2.60;proto=http;by=203.0.113.43, for=\"[2001:db8:cafe::17]:4711\"",
				"6.6.6.6", "10.0.0.0/8"),
			"2001:db8:cafe::/64");
		T_STREQ(resolve("10.0.0.2", "For=\"192.0.2.60\"", NULL, "10.0.0.0/8"),
			"192.0.2.60");
		T_STREQ(resolve("10.0.0.2", "for=unknown", NULL, "10.0.0.0/8"),
			"10.0.0.2");
		T_STREQ(resolve("10.0.0.2", "proto=https", NULL, "10.0.0.0/8"),
			"10.0.0.2");
		T_STREQ(resolve("10.0.0.2", "for=\"192.0.2.60", NULL, "10.0.0.0/8"),
			"10.0.0.2");
		/* IPv6 clients are grouped by /64 */
		T_STREQ(resolve("::1", NULL, "2001:db8:1:2::99", "::1/128"),
			"2001:db8:1:2::/64");
		T_STREQ(resolve("2001:db8:1:2:3:4:5:6", NULL, NULL, ""),
			"2001:db8:1:2::/64");
	}

	T_CASE("trusted-proxies list errors") {
		struct px_cidr t[PX_MAX_TRUSTED];
		int n;

		T_EQ(px_cidr_list_parse("10.0.0.0/8, ::1 ,", t, PX_MAX_TRUSTED, &n, &eb), 0);
		T_EQ(n, 2);
		T_EQ(px_cidr_list_parse("10.0.0.0/8,nonsense", t, PX_MAX_TRUSTED, &n, &eb),
		     PX_EINVAL);
		T_OK(strstr(eb.msg, "nonsense") != NULL);
	}

	T_CASE("rate specs") {
		struct px_rate r[PX_NCLASSES];

		memcpy(r, px_rate_defaults, sizeof(r));
		T_EQ(px_rates_parse("render=5/s:20, hit=120/m:10", r, &eb), 0);
		T_OK(r[PX_CLASS_RENDER].rate == 5 && r[PX_CLASS_RENDER].burst == 20);
		T_OK(r[PX_CLASS_HIT].rate == 2 && r[PX_CLASS_HIT].burst == 10);
		T_OK(r[PX_CLASS_API].rate == px_rate_defaults[PX_CLASS_API].rate);
		T_EQ(px_rates_parse("api=0/s:1", r, &eb), 0);
		T_OK(r[PX_CLASS_API].rate == 0);
		T_EQ(px_rates_parse("bogus=1/s:1", r, &eb), PX_EINVAL);
		T_EQ(px_rates_parse("api=1:1", r, &eb), PX_EINVAL);
		T_EQ(px_rates_parse("api=1/s", r, &eb), PX_EINVAL);
		T_EQ(px_rates_parse("api=1/s:0", r, &eb), PX_EINVAL);
		T_EQ(px_rates_parse("api=-1/s:4", r, &eb), PX_EINVAL);
		T_EQ(px_rates_parse("api=nan/s:4", r, &eb), PX_EINVAL);
		T_EQ(px_rates_parse("api=1/s:4x", r, &eb), PX_EINVAL);
	}

	T_CASE("token bucket: burst, refusal, refill on a driven clock") {
		struct px_limiter *l;
		struct px_rate r = {2, 5}; /* 2 a second, bursts of 5 */
		struct px_ip a = ip("192.0.2.1"), b = ip("192.0.2.2");
		struct px_take t;
		uint64_t now = 1000000;
		int ok = 0;

		T_EQ(px_limiter_new(1024, &l), 0);
		for (int i = 0; i < 5; i++) {
			px_limiter_take(l, &a, 0, &r, now, &t);
			ok += t.ok;
		}
		T_EQ(ok, 5);
		px_limiter_take(l, &a, 0, &r, now, &t);
		T_OK(!t.ok);
		/* one token in 500 ms */
		T_OK(t.retry_ms > 499 && t.retry_ms <= 500.5);
		/* other clients and other classes are untouched */
		px_limiter_take(l, &b, 0, &r, now, &t);
		T_OK(t.ok);
		px_limiter_take(l, &a, 1, &r, now, &t);
		T_OK(t.ok);
		/* 499 ms later: still refused; at 500 ms: one token */
		px_limiter_take(l, &a, 0, &r, now + 499, &t);
		T_OK(!t.ok);
		px_limiter_take(l, &a, 0, &r, now + 500, &t);
		T_OK(t.ok);
		px_limiter_take(l, &a, 0, &r, now + 500, &t);
		T_OK(!t.ok);
		/* after 10 s the bucket is full again, never more than burst */
		ok = 0;
		for (int i = 0; i < 10; i++) {
			px_limiter_take(l, &a, 0, &r, now + 10500, &t);
			ok += t.ok;
		}
		T_EQ(ok, 5);
		/* a refund gives one back */
		px_limiter_refund(l, &a, 0, &r, now + 10500);
		px_limiter_take(l, &a, 0, &r, now + 10500, &t);
		T_OK(t.ok);
		/* a client at the rate is never refused */
		ok = 0;
		for (int i = 0; i < 200; i++) {
			px_limiter_take(l, &b, 2, &r, now + 500 * (uint64_t)i, &t);
			ok += t.ok;
		}
		T_EQ(ok, 200);
		/* sweeping drops refilled buckets only */
		{
			struct px_rate rates[3] = {r, r, r};

			T_OK(px_limiter_count(l) == 4);
			px_limiter_take(l, &a, 0, &r, now + 20000, &t);
			for (int i = 0; i < PX_LIMITER_SHARDS; i++)
				px_limiter_sweep(l, rates, 3, now + 20000);
			T_OK(px_limiter_count(l) == 1); /* a/0 just spent a token */
			for (int i = 0; i < PX_LIMITER_SHARDS; i++)
				px_limiter_sweep(l, rates, 3, now + 40000);
			T_OK(px_limiter_count(l) == 0);
		}
		px_limiter_free(l);
	}

	T_CASE("1,000,000 clients: bounded memory and table size") {
		struct px_limiter *l;
		struct px_rate r = {1, 10};
		struct px_take t;
		long before, after;
		unsigned refused = 0;

		before = rss_kib();
		T_EQ(px_limiter_new(1u << 20, &l), 0);
		for (uint32_t i = 0; i < 1000000; i++) {
			struct px_ip a = {4, {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8),
					      (uint8_t)i}};

			px_limiter_take(l, &a, PX_CLASS_RENDER, &r, 5000, &t);
			refused += !t.ok;
		}
		after = rss_kib();
		fprintf(stderr, "1M clients: RSS %ld -> %ld KiB (+%ld KiB), %zu buckets\n",
			before, after, after - before, px_limiter_count(l));
		T_EQ(refused, 0u);
		T_OK(px_limiter_count(l) == 1000000);
		T_OK(after - before < 64 * 1024);
		/* twice as many again: the table stays at its bound */
		for (uint32_t i = 0; i < 2000000; i++) {
			struct px_ip a = {4, {11 + (uint8_t)(i >> 24), (uint8_t)(i >> 16),
					      (uint8_t)(i >> 8), (uint8_t)i}};

			px_limiter_take(l, &a, PX_CLASS_RENDER, &r, 6000, &t);
		}
		T_OK(px_limiter_count(l) <= (1u << 20));
		T_OK(rss_kib() - before < 64 * 1024);
		px_limiter_free(l);
	}

	T_CASE("rules: parse every action and term") {
		struct px_rules *rs = NULL;
		const char *text =
			"# comment line\n"
			"\n"
			"no-agent=deny: path=/v1/ & !ua   # trailing comment\n"
			"office=allow: ip=10.0.0.0/8 | ip=2001:db8::/32\n"
			"scrapers=limit 1/s:5: ua~python-requests | ua~\"Scrapy Bot\"\n"
			"blur=deny: option=blur & !header=Authorization\n"
			"deny: method=DELETE & path=/v1/images/x\n"
			"tools=deny: ua~\"/^(curl|wget)\\//\" & path=/v1/\n";

		T_EQ(px_rules_parse(text, &rs, &eb), 0);
		T_OK(rs && rs->n == 6);
		if (rs && rs->n == 6) {
			T_STREQ(rs->a[0].name, "no-agent");
			T_EQ(rs->a[0].line, 3);
			T_EQ(rs->a[1].action, PX_RULE_ALLOW);
			T_EQ(rs->a[2].action, PX_RULE_LIMIT);
			T_OK(rs->a[2].rate.rate == 1 && rs->a[2].rate.burst == 5);
			T_STREQ(rs->a[4].name, "line-7");

			memset(hdrs, 0, sizeof(hdrs));
			T_STREQ(match(rs, "192.0.2.1", "GET", "/v1/images"), "no-agent");
			T_STREQ(match(rs, "10.1.1.1", "GET", "/img/x/public"), "office");
			T_STREQ(match(rs, "2001:db8::5", "GET", "/img/x/public"), "office");
			T_STREQ(match(rs, "192.0.2.1", "GET", "/img/x/w=10,blur=5"), "blur");
			T_STREQ(match(rs, "192.0.2.1", "GET", "/cdn-cgi/image/blur=5/x"), "blur");
			T_STREQ(match(rs, "192.0.2.1", "GET", "/img/x/w=10,blurx=5"), "none");
			hdrs[0][0] = "User-Agent";
			hdrs[0][1] = "my python-requests/2.31";
			T_STREQ(match(rs, "192.0.2.1", "GET", "/v1/images"), "scrapers");
			hdrs[0][1] = "scrapy bot 1.0";
			T_STREQ(match(rs, "192.0.2.1", "GET", "/img/x/public"), "scrapers");
			hdrs[0][1] = "Mozilla/5.0";
			T_STREQ(match(rs, "192.0.2.1", "GET", "/v1/images"), "none");
			T_STREQ(match(rs, "192.0.2.1", "DELETE", "/v1/images/x"), "line-7");
			/* the expression is anchored and case-insensitive */
			hdrs[0][1] = "Curl/8.5.0";
			T_STREQ(match(rs, "192.0.2.1", "GET", "/v1/stats"), "tools");
			hdrs[0][1] = "Wget/1.21";
			T_STREQ(match(rs, "192.0.2.1", "GET", "/v1/stats"), "tools");
			hdrs[0][1] = "libcurl-agent/1.0";
			T_STREQ(match(rs, "192.0.2.1", "GET", "/v1/stats"), "none");
			hdrs[0][1] = "curl";
			T_STREQ(match(rs, "192.0.2.1", "GET", "/v1/stats"), "none");
			hdrs[1][0] = "Authorization";
			hdrs[1][1] = "Bearer x";
			T_STREQ(match(rs, "192.0.2.1", "GET", "/img/x/w=10,blur=5"), "none");
		}
		px_rules_free(rs);
	}

	T_CASE("rules: errors name the line") {
		static const struct {
			const char *text, *want;
		} bad[] = {
			{"ok=deny: ua\nnonsense\n", "line 2"},
			{"x=explode: ua", "action"},
			{"x=deny: ip=300.1.1.1/8", "not an address"},
			{"x=deny: ip=10.1.2.3/8", "not an address"},
			{"x=deny: color=red", "unknown term"},
			{"x=deny: ua &", "unknown term"},
			{"x=deny: ua~\"open", "unterminated"},
			{"x=limit fast: ua", "RATE/s:BURST"},
			{"x=deny: ua\nx=allow: ua", "already used on line 1"},
			{"x=deny: path=", "empty value"},
			{"x=deny: ua ua", "expected"},
			{"x=deny: ua~/a(b/", "not a regular expression"},
			{"x=deny: ua~//", "empty regular expression"},
			/* a rule with a compiled expression, then a failure */
			{"x=deny: ua~/ok/ & ua~/(/", "line 1"},
			{"x=deny: ua~/ok/\ny=deny: ua~/fine/ & ua~/[/", "line 2"},
		};

		for (size_t i = 0; i < PX_ARRAY_LEN(bad); i++) {
			struct px_rules *rs = NULL;

			memset(&eb, 0, sizeof(eb));
			T_EQ(px_rules_parse(bad[i].text, &rs, &eb), PX_EINVAL);
			T_OK(rs == NULL);
			if (!strstr(eb.msg, bad[i].want))
				fprintf(stderr, "rule error \"%s\" lacks \"%s\"\n",
					eb.msg, bad[i].want);
			T_OK(strstr(eb.msg, bad[i].want) != NULL);
		}
	}

	T_CASE("hotlink matrix") {
		static const struct {
			const char *allow;
			bool require;
			const char *referer;
			int status;
		} m[] = {
			{"example.com,*.cdn.example.net", false, "https://example.com/page", 0},
			{"example.com,*.cdn.example.net", false, "https://EXAMPLE.com:8443/x", 0},
			{"example.com,*.cdn.example.net", false, "https://a.cdn.example.net/", 0},
			{"example.com,*.cdn.example.net", false, "https://a.b.cdn.example.net/", 0},
			{"example.com,*.cdn.example.net", false, "https://cdn.example.net/", 403},
			{"example.com,*.cdn.example.net", false, "https://www.example.com/", 403},
			{"example.com,*.cdn.example.net", false, "https://evil.com/", 403},
			{"example.com,*.cdn.example.net", false, "https://example.com.evil.com/", 403},
			{"example.com,*.cdn.example.net", false, "https://user@evil.com/", 403},
			{"example.com,*.cdn.example.net", false, "https://example.com@evil.com/", 403},
			{"example.com,*.cdn.example.net", false, "not a url", 403},
			{"example.com,*.cdn.example.net", false, "://example.com", 403},
			{"example.com,*.cdn.example.net", false, NULL, 0},
			{"example.com,*.cdn.example.net", false, "", 0},
			{"example.com,*.cdn.example.net", true, NULL, 403},
			{"example.com", true, "https://example.com/", 0},
			{"", false, "https://evil.com/", 0},
			{"", true, NULL, 403},
			{"", true, "https://anything.org/", 0},
		};

		for (size_t i = 0; i < PX_ARRAY_LEN(m); i++) {
			struct px_guard_opts o = {.hotlink_allow = m[i].allow,
						  .hotlink_require_referer = m[i].require,
						  .max_clients = 64};
			struct px_guard_answer ans;
			struct px_guard *g;

			T_EQ(px_guard_new(&o, &g, &eb), 0);
			px_guard_hotlink(g, m[i].referer, &ans);
			if (ans.status != m[i].status)
				fprintf(stderr, "hotlink %zu: %s / %s -> %d\n", i,
					m[i].allow, m[i].referer ? m[i].referer : "(none)",
					ans.status);
			T_EQ(ans.status, m[i].status);
			if (ans.status)
				T_STREQ(ans.code, "hotlink_denied");
			px_guard_free(g);
			/* a variant's own rule, under a guard without one */
			o.hotlink_allow = NULL;
			o.hotlink_require_referer = false;
			T_EQ(px_guard_new(&o, &g, &eb), 0);
			px_guard_hotlink(g, m[i].referer, &ans);
			T_EQ(ans.status, 0);
			px_guard_hotlink_rule(g, m[i].referer, m[i].allow,
					      m[i].require, &ans);
			T_EQ(ans.status, m[i].status);
			px_guard_free(g);
		}
		{
			struct px_guard_opts o = {.hotlink_allow = "exa mple.com"};
			struct px_guard *g;

			T_EQ(px_guard_new(&o, &g, &eb), PX_EINVAL);
			T_EQ(px_guard_hotlink_parse("exa mple.com", &eb), PX_EINVAL);
			T_EQ(px_guard_hotlink_parse("*.a.org, b.net", &eb), 0);
			T_EQ(px_guard_hotlink_parse(NULL, &eb), 0);
		}
	}

	T_CASE("guard: classes, refund, rule classes, 429 headers") {
		struct px_guard_opts o = {.rate_limits = "render=1/s:2,hit=1/s:1",
					  .max_clients = 64,
					  .trusted_proxies = "127.0.0.1"};
		struct px_guard_req q = {.method = "GET", .path = "/img/a/w=1",
					 .header = fake_header};
		struct px_guard_ticket t;
		struct px_guard_answer ans;
		struct px_guard *g;

		memset(hdrs, 0, sizeof(hdrs));
		T_EQ(px_guard_new(&o, &g, &eb), 0);
		q.peer = ip("127.0.0.1");
		q.xff = "198.51.100.1";
		memset(&t, 0, sizeof(t));
		px_guard_admit(g, &q, PX_CLASS_HIT, 1000, &t, &ans);
		T_EQ(ans.status, 0);
		T_STREQ(t.client_text, "198.51.100.1");
		/* it needs a worker: hit is given back, render taken */
		px_guard_recharge(g, &t, PX_CLASS_RENDER, 1000, &ans);
		T_EQ(ans.status, 0);
		memset(&t, 0, sizeof(t));
		px_guard_admit(g, &q, PX_CLASS_HIT, 1000, &t, &ans);
		T_EQ(ans.status, 0); /* the hit token came back */
		px_guard_recharge(g, &t, PX_CLASS_RENDER, 1000, &ans);
		T_EQ(ans.status, 0);
		memset(&t, 0, sizeof(t));
		px_guard_admit(g, &q, PX_CLASS_HIT, 1000, &t, &ans);
		px_guard_recharge(g, &t, PX_CLASS_RENDER, 1000, &ans);
		T_EQ(ans.status, 429);
		T_STREQ(ans.code, "rate_limited");
		T_STREQ(ans.reason, "limit:render");
		T_STREQ(ans.retry_after, "1");
		T_STREQ(ans.policy, "\"render\";q=2;w=2");
		T_STREQ(ans.ratelimit, "\"render\";r=0;t=1");
		px_guard_free(g);
	}

	T_CASE("JSON quoting never emits invalid UTF-8") {
		static const struct {
			const char *in, *want;
		} q[] = {
			{"plain", "\"plain\""},
			{"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""},
			{"/img/\xff\xfe/public", "\"/img/\\ufffd\\ufffd/public\""},
			{"\xc0\xaf", "\"\\ufffd\\ufffd\""},          /* overlong '/' */
			{"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""}, /* surrogate */
			{"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* > U+10FFFF */
			{"cut \xe2\x82", "\"cut \\ufffd\\ufffd\""},
			{"q\"\\\n", "\"q\\\"\\\\\\u000a\""},
		};

		for (size_t i = 0; i < PX_ARRAY_LEN(q); i++) {
			struct px_buf b;

			px_buf_init(&b, 0);
			T_EQ(px_json_quote(&b, q[i].in), 0);
			T_OK(b.len == strlen(q[i].want) && !memcmp(b.data, q[i].want, b.len));
			if (b.len != strlen(q[i].want) || memcmp(b.data, q[i].want, b.len))
				fprintf(stderr, "quote %zu: got %.*s\n", i, (int)b.len, (const char *)b.data);
			px_buf_release(&b);
		}
	}

	T_CASE("secret strength: 128 bits or more") {
		char hex[65];

		T_OK(px_secret_bits("") == 0);
		T_OK(px_secret_bits("x") < 8);
		T_OK(px_secret_bits("password") < 64);
		T_OK(px_secret_bits("sekrit-token") < 128);
		T_OK(px_secret_bits("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") < 64);
		T_OK(px_secret_bits("abcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabc") < 64);
		/* 16 random alphanumerics: about 95 bits, not enough */
		T_OK(px_secret_bits("q7Xw2LpR9mKc4VzT") < 128);
		T_OK(px_secret_bits("0f3a9c2b7e1d4f6a8b0c5e2d9a7f3b1c") >= 128);
		T_OK(px_secret_bits("N2l6ZmM0ZDEtYjhlOC00MTIzLWE5") >= 128);
		for (int i = 0; i < 50; i++) {
			T_EQ(px_random_hex(hex, 16), 0); /* 128 random bits */
			T_OK(px_secret_bits(hex) >= 128);
		}
	}

	T_CASE("per-token buckets") {
		struct px_guard_opts o = {.token_rate_limits = "api=1/s:2",
					  .max_clients = 64};
		struct px_guard_req q = {.method = "GET", .path = "/v1/images",
					 .header = fake_header};
		struct px_guard_ticket t;
		struct px_guard_answer ans;
		struct px_guard *g;
		int refused = 0;

		memset(hdrs, 0, sizeof(hdrs));
		T_EQ(px_guard_new(&o, &g, &eb), 0);
		/* the same token from three addresses shares one bucket */
		for (int i = 0; i < 3; i++) {
			char a[32];

			snprintf(a, sizeof(a), "192.0.2.%d", i + 1);
			q.peer = ip(a);
			memset(&t, 0, sizeof(t));
			px_guard_admit(g, &q, PX_CLASS_NONE, 5000, &t, &ans);
			T_EQ(ans.status, 0);
			px_guard_charge_token(g, &t, "tok-1", PX_CLASS_API, 5000, &ans);
			refused += ans.status == 429;
		}
		T_EQ(refused, 1);
		T_STREQ(ans.code, "rate_limited");
		T_OK(strstr(ans.msg, "from this token") != NULL);
		T_STREQ(ans.reason, "limit:token-api");
		T_STREQ(ans.retry_after, "1");
		/* another token has its own */
		px_guard_charge_token(g, &t, "tok-2", PX_CLASS_API, 5000, &ans);
		T_EQ(ans.status, 0);
		/* refilled at the configured rate */
		px_guard_charge_token(g, &t, "tok-1", PX_CLASS_API, 6000, &ans);
		T_EQ(ans.status, 0);
		px_guard_charge_token(g, &t, "tok-1", PX_CLASS_API, 6000, &ans);
		T_EQ(ans.status, 429);
		/* uploads: the default, 100 in a burst */
		for (int i = 0; i < 100; i++) {
			px_guard_charge_token(g, &t, "tok-1", PX_CLASS_UPLOAD, 6000, &ans);
			T_EQ(ans.status, 0);
		}
		px_guard_charge_token(g, &t, "tok-1", PX_CLASS_UPLOAD, 6000, &ans);
		T_EQ(ans.status, 429);
		/* a rule's allow skips token limits too */
		t.allowed = true;
		px_guard_charge_token(g, &t, "tok-1", PX_CLASS_API, 6000, &ans);
		T_EQ(ans.status, 0);
		px_guard_free(g);
		{
			struct px_guard_opts bad = {.token_rate_limits = "api=fast"};

			T_EQ(px_guard_new(&bad, &g, &eb), PX_EINVAL);
			T_OK(strstr(eb.msg, "token-rate-limit") != NULL);
		}
	}
}
