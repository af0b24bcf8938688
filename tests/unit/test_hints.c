/*
 * test_hints.c - width=auto from client hints: each hint alone, the
 * precedence between them, DPR, missing and malformed values, the width
 * steps, the cap at the original, and the Vary list.
 */
#include "t.h"

#include <stdarg.h>

#include "delivery/hints.c"

#define ORIG 4000 /* an original wider than every step */

/* Resolve with hints given as name/value pairs, NULL-terminated. */
static struct px_auto_width aw_of(int original, ...)
{
	const char *hint[PX_HINT_COUNT] = {0};
	struct px_auto_width aw;
	va_list ap;
	const char *name;

	va_start(ap, original);
	while ((name = va_arg(ap, const char *))) {
		const char *value = va_arg(ap, const char *);

		for (int i = 0; i < PX_HINT_COUNT; i++)
			if (!strcmp(name, names[i]))
				hint[i] = value;
	}
	va_end(ap);
	px_hints_auto_width(hint, original, &aw);
	return aw;
}

static const char *vary_of(struct px_auto_width aw)
{
	static char buf[160];

	px_hints_vary(aw.vary, buf, sizeof(buf));
	return buf;
}

static void run(void)
{
	struct px_auto_width aw;

	T_CASE("steps: rounded up, capped at the largest") {
		T_EQ(px_width_step(1), 320);
		T_EQ(px_width_step(320), 320);
		T_EQ(px_width_step(321), 480);
		T_EQ(px_width_step(767), 768);
		T_EQ(px_width_step(1081), 1200);
		T_EQ(px_width_step(3840), 3840);
		T_EQ(px_width_step(9000), 3840);
		for (size_t i = 1; i < px_width_nsteps; i++) {
			T_OK(px_width_steps[i] > px_width_steps[i - 1]);
			/* no response more than 1.5x what was asked for */
			T_OK(px_width_steps[i] * 2 <= px_width_steps[i - 1] * 3);
		}
	}

	T_CASE("each width header alone") {
		aw = aw_of(ORIG, "Sec-CH-Width", "600", NULL);
		T_EQ(aw.width, 640);
		T_EQ(aw.source, PX_AUTO_FROM_WIDTH);
		T_STREQ(vary_of(aw), "Sec-CH-Width");
		aw = aw_of(ORIG, "Width", "700", NULL);
		T_EQ(aw.width, 768);
		T_STREQ(vary_of(aw), "Sec-CH-Width, Width");
		aw = aw_of(ORIG, "Sec-CH-Viewport-Width", "390", NULL);
		T_EQ(aw.width, 480);
		T_EQ(aw.source, PX_AUTO_FROM_VIEWPORT);
		T_STREQ(vary_of(aw), "Sec-CH-Width, Width, Sec-CH-Viewport-Width, Sec-CH-DPR, DPR");
		aw = aw_of(ORIG, "Viewport-Width", "1000", NULL);
		T_EQ(aw.width, 1200);
		T_STREQ(vary_of(aw), "Sec-CH-Width, Width, Sec-CH-Viewport-Width, Viewport-Width, Sec-CH-DPR, DPR");
	}

	T_CASE("DPR multiplies viewport widths only") {
		aw = aw_of(ORIG, "Sec-CH-Viewport-Width", "412", "Sec-CH-DPR", "2.625", NULL);
		T_EQ(aw.wanted, 1082); /* 1081.5 rounded up */
		T_EQ(aw.width, 1200);
		T_STREQ(vary_of(aw), "Sec-CH-Width, Width, Sec-CH-Viewport-Width, Sec-CH-DPR");
		aw = aw_of(ORIG, "Sec-CH-Viewport-Width", "800", "DPR", "2", NULL);
		T_EQ(aw.width, 1920);
		aw = aw_of(ORIG, "Viewport-Width", "320", "Sec-CH-DPR", "3", NULL);
		T_EQ(aw.width, 960);
		/* Width hints are device pixels already */
		aw = aw_of(ORIG, "Sec-CH-Width", "600", "Sec-CH-DPR", "2", NULL);
		T_EQ(aw.width, 640);
		T_STREQ(vary_of(aw), "Sec-CH-Width");
		/* DPR alone says nothing about the width */
		aw = aw_of(ORIG, "Sec-CH-DPR", "2", NULL);
		T_EQ(aw.source, PX_AUTO_FROM_DEVICE);
		T_EQ(aw.width, 960);
	}

	T_CASE("precedence: width over viewport, Sec-CH over legacy") {
		aw = aw_of(ORIG, "Sec-CH-Width", "300", "Width", "2000",
			   "Sec-CH-Viewport-Width", "1900", NULL);
		T_EQ(aw.width, 320);
		aw = aw_of(ORIG, "Width", "500", "Sec-CH-Viewport-Width", "1900", NULL);
		T_EQ(aw.width, 640);
		aw = aw_of(ORIG, "Sec-CH-Viewport-Width", "500", "Viewport-Width", "1900", NULL);
		T_EQ(aw.width, 640);
		aw = aw_of(ORIG, "Sec-CH-Viewport-Width", "500", "Sec-CH-DPR", "1",
			   "DPR", "3", NULL);
		T_EQ(aw.width, 640);
	}

	T_CASE("no width hint: the device class's size, varying on what was looked at") {
		aw = aw_of(ORIG, NULL);
		T_EQ(aw.source, PX_AUTO_FROM_DEVICE);
		T_EQ(aw.width, 960);
		T_EQ(aw.wanted, 0);
		T_STREQ(vary_of(aw), "Sec-CH-Width, Width, Sec-CH-Viewport-Width, Viewport-Width, Sec-CH-UA-Mobile, User-Agent");
		aw = aw_of(ORIG, "Sec-CH-UA-Mobile", "?1", NULL);
		T_EQ(aw.width, 320);
		T_STREQ(vary_of(aw), "Sec-CH-Width, Width, Sec-CH-Viewport-Width, Viewport-Width, Sec-CH-UA-Mobile");
		aw = aw_of(ORIG, "User-Agent", "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) Mobile/15E148", NULL);
		T_EQ(aw.width, 768);
		aw = aw_of(ORIG, "User-Agent", "Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile Safari/537.36", NULL);
		T_EQ(aw.width, 320);
		aw = aw_of(ORIG, "Sec-CH-UA-Mobile", "?0", "User-Agent", "Mozilla/5.0 (iPhone) Mobile", NULL);
		T_EQ(aw.width, 960);
	}

	T_CASE("malformed hints count as absent") {
		static const char *bad[] = {"", " ", "0", "-5", "+5", "12px", "1e3",
					    "0x10", "100001", "99999999999999999999",
					    "5 5", "abc", "1.5"};

		for (size_t i = 0; i < PX_ARRAY_LEN(bad); i++) {
			aw = aw_of(ORIG, "Sec-CH-Width", bad[i], NULL);
			T_EQ(aw.source, PX_AUTO_FROM_DEVICE);
			aw = aw_of(ORIG, "Sec-CH-Width", bad[i], "Width", "500", NULL);
			T_EQ(aw.width, 640);
		}
		aw = aw_of(ORIG, "Sec-CH-Width", " 500\t", NULL);
		T_EQ(aw.width, 640); /* surrounding whitespace is fine */
		/* a bad DPR: the legacy one, then 1 */
		aw = aw_of(ORIG, "Sec-CH-Viewport-Width", "500", "Sec-CH-DPR", "two",
			   "DPR", "2", NULL);
		T_EQ(aw.width, 1200);
		static const char *bad_dpr[] = {"0", "0.0", "-1", "11", "2.", ".5",
						"1..5", "2x", "nan", "inf", ""};

		for (size_t i = 0; i < PX_ARRAY_LEN(bad_dpr); i++) {
			aw = aw_of(ORIG, "Sec-CH-Viewport-Width", "500", "Sec-CH-DPR",
				   bad_dpr[i], NULL);
			T_EQ(aw.width, 640);
			T_EQ(aw.dpr, 1.0);
		}
		double d;

		T_OK(px_hint_parse_dpr("0.5", &d) && d == 0.5);
		T_OK(px_hint_parse_dpr("10", &d) && d == 10);
	}

	T_CASE("never above the original") {
		aw = aw_of(500, "Sec-CH-Width", "3000", NULL);
		T_EQ(aw.width, 500);
		aw = aw_of(500, "Sec-CH-Width", "450", NULL);
		T_EQ(aw.width, 480);
		aw = aw_of(481, "Sec-CH-Width", "481", NULL);
		T_EQ(aw.width, 481);
		aw = aw_of(300, NULL);
		T_EQ(aw.width, 300);
		aw = aw_of(ORIG, "Sec-CH-Width", "99999", NULL);
		T_EQ(aw.width, 3840);
	}

	T_CASE("vary text truncates safely") {
		char small[10];

		px_hints_vary((1u << PX_HINT_COUNT) - 1, small, sizeof(small));
		T_EQ(strlen(small), sizeof(small) - 1);
		px_hints_vary(0, small, sizeof(small));
		T_STREQ(small, "");
	}
}
