/*
 * test_fetch.c - the URL parser of upload-from-URL and the fetch policy
 * (deny list, --fetch-allow, --fetch-deny) as pure functions: what host a
 * URL names, what address it means, and whether it may be reached.
 */
#include "ingest/fetch.h"
#include "ingest/url.h"
#include "t.h"

/* "refused:<reason>" / "denied:<class>" / "host:<host>" / "ip:<addr>". */
static void verdict(const struct px_fetcher *f, const char *url, char *out,
		    size_t n)
{
	struct px_errbuf eb = {0};
	struct px_url u;
	const char *why;

	if (px_url_parse(url, &u, &eb)) {
		const char *open = strchr(eb.msg, '('), *close = strchr(eb.msg, ')');

		snprintf(out, n, "refused:%.*s", open && close ? (int)(close - open - 1) : 0,
			 open ? open + 1 : "");
		return;
	}
	if (!u.host_is_ip) {
		snprintf(out, n, "host:%s:%d", u.host, u.port);
		return;
	}
	why = px_fetcher_check(f, &u.ip);
	if (why)
		snprintf(out, n, "denied:%s", why);
	else
		snprintf(out, n, "ip:%s:%d", u.host, u.port);
}

static void urls(struct px_fetcher *f)
{
	static const struct {
		const char *url, *want;
	} cases[] = {
		/* schemes and shape */
		{"http://example.com/a.jpg", "host:example.com:80"},
		{"https://example.com/a.jpg", "host:example.com:443"},
		{"HTTP://Example.COM:8080/x", "host:example.com:8080"},
		{"http://example.com", "host:example.com:80"},
		{"http://example.com:/x", "host:example.com:80"},
		{"http://example.com?x=1", "host:example.com:80"},
		{"http://example.com#frag", "host:example.com:80"},
		{"http://images_cdn.example.com/x", "host:images_cdn.example.com:80"},
		{"ftp://example.com/a.jpg", "refused:scheme"},
		{"file:///etc/passwd", "refused:scheme"},
		{"gopher://127.0.0.1:25/", "refused:scheme"},
		{"dict://127.0.0.1:11211/", "refused:scheme"},
		{"javascript:alert(1)", "refused:scheme"},
		{"//example.com/x", "refused:scheme"},
		{"http:/example.com", "refused:scheme"},
		{"example.com/a.jpg", "refused:scheme"},
		{"", "refused:malformed"},
		{"http://", "refused:malformed"},
		{"http:///x", "refused:malformed"},
		{"http://:80/", "refused:malformed"},
		{"http://exa mple.com/", "refused:malformed"},
		{"http://example.com/a b", "refused:malformed"},
		{"http://example.com/\x01", "refused:malformed"},
		{"http://ex\xc3\xa4mple.com/", "refused:malformed"},
		{"http://example.com:0/", "refused:malformed"},
		{"http://example.com:65536/", "refused:malformed"},
		{"http://example.com:123456/", "refused:malformed"},
		{"http://example.com:8o/", "refused:malformed"},
		{"http://example..com/", "refused:malformed"},
		{"http://.example.com/", "refused:malformed"},
		{"http://127.0.0.1\\@example.com/", "refused:malformed"},
		{"http://example.com\\@127.0.0.1/", "refused:malformed"},
		{"http://example.com\\.127.0.0.1/", "refused:malformed"},
		{"http://127.0.0.1%2f@example.com/", "refused:malformed"},
		{"http://%31%32%37.0.0.1/", "refused:malformed"},
		/* credentials */
		{"http://user@example.com/", "refused:credentials"},
		{"http://user:pw@example.com/", "refused:credentials"},
		{"http://example.com@127.0.0.1/", "refused:credentials"},
		{"http://:@example.com/", "refused:credentials"},
		/* literal addresses in every spelling */
		{"http://127.0.0.1/", "denied:loopback"},
		{"http://127.0.0.6:8080/x", "denied:loopback"},
		{"http://2130706438/", "denied:loopback"},
		{"http://0177.0.0.06/", "denied:loopback"},
		{"http://0x7f000006/", "denied:loopback"},
		{"http://0x7f.0.0.6/", "denied:loopback"},
		{"http://127.6/", "denied:loopback"},
		{"http://127.0.6/", "denied:loopback"},
		{"http://127.0.0.6./", "denied:loopback"},
		{"http://0/", "denied:unspecified"},
		{"http://0.0.0.0:80/", "denied:unspecified"},
		{"http://169.254.169.254/latest/meta-data/", "denied:link_local"},
		{"http://2852039166/", "denied:link_local"},
		{"http://0xa9.0xfe.0xa9.0xfe/", "denied:link_local"},
		{"http://10.0.0.1/", "denied:private"},
		{"http://012.1/", "denied:private"},
		{"http://172.16.5.4/", "denied:private"},
		{"http://192.168.1.1/", "denied:private"},
		{"http://100.64.0.1/", "denied:cgnat"},
		{"http://224.0.0.1/", "denied:multicast"},
		{"http://255.255.255.255/", "denied:broadcast"},
		{"http://[::1]/", "denied:loopback"},
		{"http://[::1]:8080/", "denied:loopback"},
		{"http://[0:0:0:0:0:0:0:1]/", "denied:loopback"},
		{"http://[::]/", "denied:unspecified"},
		{"http://[::ffff:127.0.0.6]/", "denied:loopback"},
		{"http://[::ffff:7f00:6]/", "denied:loopback"},
		{"http://[::127.0.0.6]/", "denied:loopback"},
		{"http://[::ffff:169.254.169.254]/", "denied:link_local"},
		{"http://[fd00::1]/", "denied:unique_local"},
		{"http://[fe80::1]/", "denied:link_local"},
		{"http://[fe80::1%25eth0]/", "refused:malformed"},
		{"http://[64:ff9b::7f00:6]/", "denied:nat64"},
		{"http://[::1/", "refused:malformed"},
		{"http://[127.0.0.1]/", "refused:invalid_address"},
		{"http://[::1]x/", "refused:malformed"},
		/* hosts that end in a number must be IPv4 */
		{"http://127.0.0.1.6/", "refused:invalid_address"},
		{"http://256.1.1.1/", "refused:invalid_address"},
		{"http://08.0.0.1/", "refused:invalid_address"},
		{"http://example.0x7f/", "refused:invalid_address"},
		{"http://4294967296/", "refused:invalid_address"},
		{"http://1.2.3.4.5/", "refused:invalid_address"},
		{"http://example.123/", "refused:invalid_address"},
		{"http://123.example/", "host:123.example:80"},
		/* the allowed range and the deny override */
		{"http://127.0.0.5:9000/a.jpg", "ip:127.0.0.5:9000"},
		{"http://2130706437:9000/", "ip:127.0.0.5:9000"},
		{"http://[::ffff:127.0.0.5]/", "ip:::ffff:127.0.0.5:80"},
		{"http://8.8.8.8/", "ip:8.8.8.8:80"},
		{"http://1.1.1.1/", "denied:denied"},
		{"http://[2606:4700::1111]/", "ip:2606:4700::1111:80"},
	};
	char got[512];

	T_CASE("url table") {
		for (size_t i = 0; i < PX_ARRAY_LEN(cases); i++) {
			verdict(f, cases[i].url, got, sizeof(got));
			if (strcmp(got, cases[i].want))
				fprintf(stderr, "  \"%s\": %s, want %s\n", cases[i].url,
					got, cases[i].want);
			T_STREQ(got, cases[i].want);
		}
		T_OK(PX_ARRAY_LEN(cases) >= 60);
	}
}

static void canonical(void)
{
	struct px_errbuf eb = {0};
	struct px_url u;

	T_CASE("the URL libcurl gets spells the checked address plainly") {
		T_EQ(px_url_parse("http://0x7f.5:9/p/q.jpg?a=1#frag", &u, &eb), 0);
		T_STREQ(u.canonical, "http://127.0.0.5:9/p/q.jpg?a=1");
		T_STREQ(u.filename, "q.jpg");
		T_EQ(px_url_parse("https://[::FFFF:127.0.0.5]", &u, &eb), 0);
		T_STREQ(u.canonical, "https://[::ffff:127.0.0.5]:443/");
		T_EQ(px_url_parse("http://Example.COM?x", &u, &eb), 0);
		T_STREQ(u.canonical, "http://example.com:80/?x");
		T_STREQ(u.filename, "");
		T_EQ(px_url_parse("http://h/dir/", &u, &eb), 0);
		T_STREQ(u.filename, "");
	}
}

static void run(void)
{
	struct px_fetch_opts o = {"127.0.0.5/32, 1.1.1.0/24", "1.1.1.1/32", 5, 1000};
	struct px_fetch_opts all6 = {"::/0", "", 5, 1000};
	struct px_fetch_opts bad = {"127.0.0.5/8", "", 5, 1000};
	struct px_errbuf eb = {0};
	struct px_fetcher *f = NULL, *g = NULL;

	T_CASE("ranges are checked once, at start-up") {
		T_EQ(px_fetcher_new(&bad, &g, &eb), PX_EINVAL);
		T_OK(g == NULL);
		T_OK(strstr(eb.msg, "127.0.0.5/8") != NULL);
	}
	T_EQ(px_fetcher_new(&o, &f, &eb), 0);
	urls(f);
	T_CASE("an IPv6 range never lets IPv4 carried in IPv6 through") {
		char got[512];

		T_EQ(px_fetcher_new(&all6, &g, &eb), 0);
		verdict(g, "http://[fd00::1]:81/", got, sizeof(got));
		T_STREQ(got, "ip:fd00::1:81");
		verdict(g, "http://[::ffff:10.0.0.1]/", got, sizeof(got));
		T_STREQ(got, "denied:private");
		verdict(g, "http://[::127.0.0.1]/", got, sizeof(got));
		T_STREQ(got, "denied:loopback");
		verdict(g, "http://127.0.0.1/", got, sizeof(got));
		T_STREQ(got, "denied:loopback");
		px_fetcher_free(g);
	}
	canonical();
	px_fetcher_free(f);
}
