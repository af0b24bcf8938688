/*
 * test_srcset.c - the pure parts of the srcset helper (api/srcset.c):
 * the widths list (sorted, distinct, capped at the original, the
 * width=auto steps by default, every malformed form refused, at most 16)
 * and the path segment encoding of canonical option strings (api/url.c).
 */
#include "t.h"

#include "api/srcset.c"

/* parse_widths into a string "w1 w2 ..." or "ERR <code>". */
static const char *widths(const char *s, int original)
{
	static char out[256];
	struct px_errbuf eb = {0};
	int w[SRCSET_MAX_WIDTHS], n = -1;
	size_t len = 0;

	if (parse_widths(s, original, w, &n, &eb)) {
		snprintf(out, sizeof(out), "ERR %s", eb.code ? eb.code : "?");
		return out;
	}
	out[0] = '\0';
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%d",
					i ? " " : "", w[i]);
	return out;
}

static const char *segment(const char *s)
{
	static char out[512];
	struct px_buf b;

	px_buf_init(&b, 0);
	px_api_add_segment(&b, s);
	px_buf_add(&b, "", 1);
	snprintf(out, sizeof(out), "%s", (const char *)b.data);
	px_buf_release(&b);
	return out;
}

static void run(void)
{
	T_CASE("sorted, distinct, capped at the original") {
		T_STREQ(widths("640,320,1280,320", 4000), "320 640 1280");
		T_STREQ(widths("640,320,1280", 1000), "320 640 1000");
		T_STREQ(widths("1200,3000,2000", 1000), "1000");
		T_STREQ(widths("1", 1), "1");
		T_STREQ(widths("0320", 4000), "320");
		T_STREQ(widths("8192", 9000), "8192");
	}
	T_CASE("default: the width=auto steps up to the original") {
		T_STREQ(widths(NULL, 1000), "320 480 640 768 960 1000");
		T_STREQ(widths(NULL, 100), "100");
		T_STREQ(widths(NULL, 5000), "320 480 640 768 960 1200 1440 1920 2560 3840");
	}
	T_CASE("malformed lists are refused") {
		static const char *const bad[] = {
			"", ",", "320,", ",320", "320,,640", " 320", "320 ", "+320",
			"-320", "0", "320px", "3.5", "abc", "320;640", "1e3",
			"99999999999999999999", "8193",
		};

		for (size_t i = 0; i < PX_ARRAY_LEN(bad); i++)
			T_STREQ(widths(bad[i], 4000), "ERR invalid_request");
	}
	T_CASE("at most 16 widths") {
		T_STREQ(widths("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", 4000),
			"1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16");
		T_STREQ(widths("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", 4000),
			"ERR invalid_request");
	}
	T_CASE("path segments keep option punctuation, encode the rest") {
		T_STREQ(segment("width=320,fit=cover"), "width=320,fit=cover");
		T_STREQ(segment("background=#ffffffff"), "background=%23ffffffff");
		T_STREQ(segment("a/b?c d"), "a%2Fb%3Fc%20d");
		T_STREQ(segment("x;y.z-_~:"), "x;y.z-_~:");
	}
}
