/*
 * test_delivery.c - option parsing, canonical form, negotiation, signing.
 */
#include "delivery/options.h"
#include "delivery/sign.h"

#include "t.h"

static int parse(const char *s, struct px_opts *o, struct px_errbuf *eb)
{
	px_opts_init(o);
	memset(eb, 0, sizeof(*eb));
	return px_opts_parse(s, o, eb);
}

static void canon(const char *s, char *out, size_t n)
{
	struct px_opts o;
	struct px_errbuf eb;
	struct px_buf b;

	px_buf_init(&b, 0);
	parse(s, &o, &eb);
	px_opts_canonical(&o, &b);
	snprintf(out, n, "%s", b.data ? (char *)b.data : "");
	px_buf_release(&b);
}

static void run(void)
{
	struct px_opts o;
	struct px_errbuf eb;
	struct px_xform x;
	char a[256], b[256];
	bool vary;

	T_CASE("parse aliases") {
		T_EQ(parse("w=400,h=300,fit=cover,q=75,f=auto", &o, &eb), 0);
		T_EQ(o.width, 400);
		T_EQ(o.height, 300);
		T_EQ(o.fit, PX_FIT_COVER);
		T_EQ(o.quality, 75);
		T_EQ(o.format, PX_OUT_AUTO);
		T_EQ(parse("width=10,height=20,gravity=0.3x0.7,dpr=2,metadata=none,anim=false,background=%23fff", &o, &eb), PX_EINVAL);
		T_EQ(parse("width=10,height=20,gravity=0.3x0.7,dpr=2,metadata=none,anim=false,background=#fff", &o, &eb), 0);
		T_EQ(o.gravity, PX_GRAVITY_POINT);
		T_OK(o.gx > 0.29 && o.gx < 0.31 && o.gy > 0.69 && o.gy < 0.71);
		T_EQ(o.metadata, PX_META_NONE);
		T_EQ(o.anim, false);
		T_EQ(o.background[0], 255);
		T_EQ(parse("background=#11223380", &o, &eb), 0);
		T_EQ(o.background[3], 0x80);
	}
	T_CASE("invalid options name the option") {
		static const struct {
			const char *s, *name;
		} bad[] = {
			{"w=0", "width"},        {"w=abc", "width"},
			{"w=8193", "width"},     {"h=-1", "height"},
			{"q=101", "quality"},    {"q=0", "quality"},
			{"fit=bogus", "fit"},    {"dpr=4", "dpr"},
			{"dpr=0.5", "dpr"},      {"f=bmp", "format"},
			{"g=2x2", "gravity"},    {"g=nowhere", "gravity"},
			{"background=red", "background"},
			{"metadata=all", "metadata"}, {"anim=maybe", "anim"},
			{"foo=1", "foo"},        {"w=1e3", "width"},
			{"w= 5", "width"},
		};
		for (size_t i = 0; i < PX_ARRAY_LEN(bad); i++) {
			T_EQ(parse(bad[i].s, &o, &eb), PX_EINVAL);
			T_STREQ(eb.code, "invalid_option");
			T_OK(strstr(eb.msg, bad[i].name) != NULL);
		}
		T_EQ(parse("w=1,,h=2", &o, &eb), PX_EINVAL);
		T_EQ(parse("w", &o, &eb), PX_EINVAL);
	}
	T_CASE("canonical form ignores order, aliases and defaults") {
		canon("w=400,h=300", a, sizeof(a));
		canon("height=300,width=400", b, sizeof(b));
		T_STREQ(a, b);
		canon("w=400,fit=scale-down,metadata=copyright,anim=true,dpr=1", b,
		      sizeof(b));
		canon("w=400", a, sizeof(a));
		T_STREQ(a, b);
		canon("w=400,f=webp", b, sizeof(b));
		T_OK(strcmp(a, b) != 0);
		T_OK(px_opts_is_inline("w=1"));
		T_OK(!px_opts_is_inline("thumbnail"));
	}
	T_CASE("format negotiation") {
		parse("f=auto,w=100,dpr=2", &o, &eb);
		px_opts_resolve(&o, PX_FMT_JPEG, false, 1, "image/avif,image/webp,*/*", &x, &vary);
		T_EQ(x.format, PX_FMT_AVIF);
		T_EQ(x.width, 200);
		T_OK(vary);
		px_opts_resolve(&o, PX_FMT_JPEG, false, 1, "image/webp,*/*", &x, &vary);
		T_EQ(x.format, PX_FMT_WEBP);
		px_opts_resolve(&o, PX_FMT_JPEG, false, 1, "image/avif;q=0,image/webp", &x, &vary);
		T_EQ(x.format, PX_FMT_WEBP);
		px_opts_resolve(&o, PX_FMT_JPEG, false, 1, "*/*", &x, &vary);
		T_EQ(x.format, PX_FMT_JPEG);
		px_opts_resolve(&o, PX_FMT_PNG, true, 1, NULL, &x, &vary);
		T_EQ(x.format, PX_FMT_PNG);
		parse("w=100", &o, &eb);
		px_opts_resolve(&o, PX_FMT_GIF, false, 1, "image/webp", &x, &vary);
		T_EQ(x.format, PX_FMT_GIF);
		T_OK(!vary);
		px_opts_resolve(&o, PX_FMT_HEIC, false, 1, "image/webp", &x, &vary);
		T_EQ(x.format, PX_FMT_JPEG);
		parse("f=auto", &o, &eb);
		px_opts_resolve(&o, PX_FMT_GIF, false, 12, "image/avif,image/webp", &x, &vary);
		T_EQ(x.format, PX_FMT_WEBP);
		px_opts_resolve(&o, PX_FMT_GIF, false, 12, "*/*", &x, &vary);
		T_EQ(x.format, PX_FMT_GIF);
		parse("f=auto,anim=false", &o, &eb);
		px_opts_resolve(&o, PX_FMT_GIF, false, 12, "image/avif", &x, &vary);
		T_EQ(x.format, PX_FMT_AVIF);
	}
	T_CASE("cloudflare signature vector") {
		char *keys[] = {"example-signing-key"};
		char out[512];
		int64_t exp;

		T_EQ(px_sign_url("example-signing-key",
				 "/cheeW4oKsx5ljh8e8BoL2A/bc27a117-9509-446b-8c69-c81bfeac0a01/mobile",
				 1631289275, out, sizeof(out)), 0);
		T_STREQ(out, "/cheeW4oKsx5ljh8e8BoL2A/bc27a117-9509-446b-8c69-c81bfeac0a01/mobile"
			     "?exp=1631289275&sig=4b715c36545beca2c56e6eb22bcaff6491e66eaeb526747311d6e19962217666");
		memset(&eb, 0, sizeof(eb));
		T_EQ(px_sign_verify(keys, 1,
				    "/cheeW4oKsx5ljh8e8BoL2A/bc27a117-9509-446b-8c69-c81bfeac0a01/mobile",
				    "1631289275",
				    "4b715c36545beca2c56e6eb22bcaff6491e66eaeb526747311d6e19962217666",
				    1631289000, &exp, &eb), 0);
		T_EQ(exp, 1631289275);
		T_EQ(px_sign_verify(keys, 1, "/x", "1631289275",
				    "4b715c36545beca2c56e6eb22bcaff6491e66eaeb526747311d6e19962217666",
				    1631289000, &exp, &eb), PX_EINVAL);
		T_STREQ(eb.code, "invalid_signature");
		T_EQ(px_sign_verify(keys, 1,
				    "/cheeW4oKsx5ljh8e8BoL2A/bc27a117-9509-446b-8c69-c81bfeac0a01/mobile",
				    "1631289275",
				    "4b715c36545beca2c56e6eb22bcaff6491e66eaeb526747311d6e19962217666",
				    1631289275, &exp, &eb), PX_EINVAL);
		T_STREQ(eb.code, "expired");
		T_EQ(px_sign_verify(keys, 1, "/x", NULL, NULL, 0, &exp, &eb), PX_EINVAL);
		T_STREQ(eb.code, "signature_required");
		T_EQ(px_sign_verify(keys, 1, "/x", "12x", "00", 0, &exp, &eb), PX_EINVAL);
		T_STREQ(eb.code, "invalid_signature");
	}
	T_CASE("rotation: any key verifies") {
		char *keys[] = {"new", "old"};
		char url[256], *q, *e, *s;
		int64_t exp;

		px_sign_url("old", "/img/a/public", 4000000000LL, url, sizeof(url));
		q = strchr(url, '?');
		*q = '\0';
		e = q + 5;
		s = strstr(e, "&sig=");
		*s = '\0';
		s += 5;
		T_EQ(px_sign_verify(keys, 2, url, e, s, 0, &exp, &eb), 0);
		T_EQ(px_sign_verify(keys, 1, url, e, s, 0, &exp, &eb), PX_EINVAL);
	}
}
