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

static void resolve(const struct px_opts *o, enum px_fmt f, bool alpha,
		    int frames, const char *accept, int cap, struct px_xform *x,
		    bool *vary)
{
	struct px_image_info in = {400, 200, frames, f, alpha, 1};

	px_opts_resolve(o, &in, accept, cap, x, vary);
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
		T_EQ(o.x.width, 400);
		T_EQ(o.x.height, 300);
		T_EQ(o.x.fit, PX_FIT_COVER);
		T_EQ(o.x.quality, 75);
		T_EQ(o.format, PX_OUT_AUTO);
		T_EQ(parse("width=10,height=20,gravity=0.3x0.7,dpr=2,metadata=none,anim=false,background=%23fff", &o, &eb), PX_EINVAL);
		T_EQ(parse("width=10,height=20,gravity=0.3x0.7,dpr=2,metadata=none,anim=false,background=#fff", &o, &eb), 0);
		T_EQ(o.x.gravity, PX_GRAVITY_POINT);
		T_OK(o.x.gx > 0.29 && o.x.gx < 0.31 && o.x.gy > 0.69 && o.x.gy < 0.71);
		T_EQ(o.x.metadata, PX_META_NONE);
		T_EQ(o.x.anim, false);
		T_EQ(o.x.background[0], 255);
		T_EQ(parse("background=#11223380", &o, &eb), 0);
		T_EQ(o.x.background[3], 0x80);
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
			{"background=notacolor", "background"},
			{"background=rgb(1,2)", "background"},
			{"blur=251", "blur"}, {"blur=-1", "blur"},
			{"sharpen=11", "sharpen"}, {"brightness=x", "brightness"},
			{"contrast=-1", "contrast"}, {"gamma=0", "gamma"},
			{"saturation=11", "saturation"}, {"rotate=45", "rotate"},
			{"rotate=360", "rotate"}, {"flip=x", "flip"},
			{"trim=1;2;3", "trim"}, {"trim=a;b;c;d", "trim"},
			{"trim.top=-1", "trim.top"}, {"trim.border.color=zz", "trim.border.color"},
			{"trim.border.tolerance=300", "trim.border.tolerance"},
			{"trim.border.keep=-2", "trim.border.keep"},
			{"border.width=-1", "border.width"}, {"border.color=nope", "border.color"},
			{"border=1;2", "border"}, {"compression=slow", "compression"},
			{"onerror=ignore", "onerror"}, {"zoom=2", "zoom"},
			{"q=best", "quality"}, {"f=tiff", "format"}, {"fit=fill", "fit"},
			{"dpr=nan", "dpr"}, {"w=inf", "width"}, {"sharpen=0x1", "sharpen"},
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
	T_CASE("the whole Cloudflare vocabulary parses") {
		T_EQ(parse("fit=squeeze,g=face,zoom=0.5,q=medium-high,f=baseline-jpeg,"
			   "blur=20,sharpen=2.5,brightness=1.2,contrast=0.8,gamma=1.5,"
			   "saturation=0,rotate=90,flip=hv,trim=1;2;3;4,border.width=5,"
			   "border.color=red,compression=fast,onerror=redirect,"
			   "background=rgba(0,0,255,0.5)", &o, &eb), 0);
		T_EQ(o.x.fit, PX_FIT_SQUEEZE);
		T_OK(o.face);
		T_EQ(o.x.quality, 80);
		T_EQ(o.format, PX_OUT_BASELINE_JPEG);
		T_EQ(o.x.rotate, 90);
		T_OK(o.x.flip_h && o.x.flip_v);
		T_EQ(o.x.trim[0], 1);
		T_EQ(o.x.trim[3], 4);
		T_EQ(o.x.border[2], 5);
		T_EQ(o.x.border_color[0], 255);
		T_OK(o.x.fast);
		T_OK(o.onerror_redirect);
		T_EQ(o.x.background[2], 255);
		T_EQ(o.x.background[3], 128);
		T_EQ(parse("trim=border,trim.border.color=#fff,trim.border.tolerance=10,trim.border.keep=2", &o, &eb), 0);
		T_OK(o.x.trim_border && o.x.trim_has_color);
		T_EQ(o.x.trim_keep, 2);
		T_EQ(parse("f=json", &o, &eb), 0);
		T_EQ(o.format, PX_OUT_JSON);
		T_EQ(parse("f=gif,anim=false,q=low", &o, &eb), 0);
		T_EQ(o.x.quality, 45);
	}
	T_CASE("css colours") {
		uint8_t c[4];

		T_OK(px_parse_color("red", c) && c[0] == 255 && c[1] == 0 && c[3] == 255);
		T_OK(px_parse_color("RebeccaPurple", c) && c[0] == 102 && c[1] == 51 && c[2] == 153);
		T_OK(px_parse_color("transparent", c) && c[3] == 0);
		T_OK(px_parse_color("#abc", c) && c[0] == 0xaa && c[2] == 0xcc);
		T_OK(px_parse_color("#abcd", c) && c[3] == 0xdd);
		T_OK(px_parse_color("rgb(10, 20, 30)", c) && c[1] == 20);
		T_OK(px_parse_color("rgb(100%,0%,50%)", c) && c[0] == 255 && c[2] == 128);
		T_OK(px_parse_color("rgba(1,2,3,0)", c) && c[3] == 0);
		T_OK(!px_parse_color("rgb(300,0,0)", c));
		T_OK(!px_parse_color("#12345", c));
		T_OK(!px_parse_color("rgb(1,2,3", c));
	}
	T_CASE("canonical round trip and allow-lists") {
		struct px_opts o2;
		struct px_buf c1, c2;

		T_EQ(parse("trim.top=5,trim.left=7,border.top=3,border.color=blue,flip=vh,blur=3,q=high,g=face", &o, &eb), 0);
		px_buf_init(&c1, 0);
		px_buf_init(&c2, 0);
		px_opts_canonical(&o, &c1);
		T_EQ(parse((char *)c1.data, &o2, &eb), 0);
		px_opts_canonical(&o2, &c2);
		T_STREQ((char *)c1.data, (char *)c2.data);
		T_OK(strstr((char *)c1.data, "trim=5;0;0;7") != NULL);
		T_OK(strstr((char *)c1.data, "gravity=face") != NULL);
		px_buf_release(&c1);
		px_buf_release(&c2);
		canon("sharpen=1,blur=2", a, sizeof(a));
		canon("blur=2.0,sharpen=1.00", b, sizeof(b));
		T_STREQ(a, b);
		T_EQ(parse("w=10,h=20,f=webp", &o, &eb), 0);
		T_EQ(px_opts_allowed(&o, "width,height,format", &eb), 0);
		T_EQ(px_opts_allowed(&o, "w,h,f", &eb), 0);
		T_EQ(px_opts_allowed(&o, "", &eb), 0);
		T_EQ(px_opts_allowed(&o, "width,format", &eb), PX_EINVAL);
		T_OK(strstr(eb.msg, "height") != NULL);
	}
	T_CASE("trim.width and trim.height become right and bottom trims") {
		T_EQ(parse("trim.left=10,trim.top=20,trim.width=300,trim.height=100", &o, &eb), 0);
		resolve(&o, PX_FMT_JPEG, false, 1, NULL, 0, &x, &vary);
		T_EQ(x.trim[0], 20);
		T_EQ(x.trim[3], 10);
		T_EQ(x.trim[1], 90);
		T_EQ(x.trim[2], 80);
		T_EQ(parse("trim.width=0", &o, &eb), PX_EINVAL);
		T_OK(strstr(eb.msg, "trim.width") != NULL);
	}
	T_CASE("dpr scales sizes and borders, capped") {
		parse("w=5000,border.width=4,dpr=2", &o, &eb);
		resolve(&o, PX_FMT_JPEG, false, 1, NULL, 8192, &x, &vary);
		T_EQ(x.width, 8192);
		T_EQ(x.border[1], 8);
		resolve(&o, PX_FMT_JPEG, false, 1, NULL, 1000, &x, &vary);
		T_EQ(x.width, 1000);
		T_EQ(x.max_output, 1000);
	}
	T_CASE("format negotiation") {
		parse("f=auto,w=100,dpr=2", &o, &eb);
		resolve(&o, PX_FMT_JPEG, false, 1, "image/avif,image/webp,*/*", 0, &x, &vary);
		T_EQ(x.format, PX_FMT_AVIF);
		T_EQ(x.width, 200);
		T_OK(vary);
		resolve(&o, PX_FMT_JPEG, false, 1, "image/webp,*/*", 0, &x, &vary);
		T_EQ(x.format, PX_FMT_WEBP);
		resolve(&o, PX_FMT_JPEG, false, 1, "image/avif;q=0,image/webp", 0, &x, &vary);
		T_EQ(x.format, PX_FMT_WEBP);
		resolve(&o, PX_FMT_JPEG, false, 1, "*/*", 0, &x, &vary);
		T_EQ(x.format, PX_FMT_JPEG);
		resolve(&o, PX_FMT_PNG, true, 1, NULL, 0, &x, &vary);
		T_EQ(x.format, PX_FMT_PNG);
		parse("w=100", &o, &eb);
		resolve(&o, PX_FMT_GIF, false, 1, "image/webp", 0, &x, &vary);
		T_EQ(x.format, PX_FMT_GIF);
		T_OK(!vary);
		resolve(&o, PX_FMT_HEIC, false, 1, "image/webp", 0, &x, &vary);
		T_EQ(x.format, PX_FMT_JPEG);
		parse("f=auto", &o, &eb);
		resolve(&o, PX_FMT_GIF, false, 12, "image/avif,image/webp", 0, &x, &vary);
		T_EQ(x.format, PX_FMT_WEBP);
		resolve(&o, PX_FMT_GIF, false, 12, "*/*", 0, &x, &vary);
		T_EQ(x.format, PX_FMT_GIF);
		parse("f=auto,anim=false", &o, &eb);
		resolve(&o, PX_FMT_GIF, false, 12, "image/avif", 0, &x, &vary);
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
