/*
 * colors.c - CSS colour syntax for the background, border and trim options:
 * #rgb, #rgba, #rrggbb, #rrggbbaa, rgb(), rgba() and the 148 named colours
 * of CSS Color Module Level 4 (plus transparent), sorted for bsearch.
 */
#include "delivery/options.h"

#include <ctype.h>
#include <math.h>
#include <strings.h>

struct named {
	const char *name;
	uint8_t rgb[3];
};

static const struct named named_colors[] = {
	{"aliceblue", {240, 248, 255}},
	{"antiquewhite", {250, 235, 215}},
	{"aqua", {0, 255, 255}},
	{"aquamarine", {127, 255, 212}},
	{"azure", {240, 255, 255}},
	{"beige", {245, 245, 220}},
	{"bisque", {255, 228, 196}},
	{"black", {0, 0, 0}},
	{"blanchedalmond", {255, 235, 205}},
	{"blue", {0, 0, 255}},
	{"blueviolet", {138, 43, 226}},
	{"brown", {165, 42, 42}},
	{"burlywood", {222, 184, 135}},
	{"cadetblue", {95, 158, 160}},
	{"chartreuse", {127, 255, 0}},
	{"chocolate", {210, 105, 30}},
	{"coral", {255, 127, 80}},
	{"cornflowerblue", {100, 149, 237}},
	{"cornsilk", {255, 248, 220}},
	{"crimson", {220, 20, 60}},
	{"cyan", {0, 255, 255}},
	{"darkblue", {0, 0, 139}},
	{"darkcyan", {0, 139, 139}},
	{"darkgoldenrod", {184, 134, 11}},
	{"darkgray", {169, 169, 169}},
	{"darkgreen", {0, 100, 0}},
	{"darkgrey", {169, 169, 169}},
	{"darkkhaki", {189, 183, 107}},
	{"darkmagenta", {139, 0, 139}},
	{"darkolivegreen", {85, 107, 47}},
	{"darkorange", {255, 140, 0}},
	{"darkorchid", {153, 50, 204}},
	{"darkred", {139, 0, 0}},
	{"darksalmon", {233, 150, 122}},
	{"darkseagreen", {143, 188, 143}},
	{"darkslateblue", {72, 61, 139}},
	{"darkslategray", {47, 79, 79}},
	{"darkslategrey", {47, 79, 79}},
	{"darkturquoise", {0, 206, 209}},
	{"darkviolet", {148, 0, 211}},
	{"deeppink", {255, 20, 147}},
	{"deepskyblue", {0, 191, 255}},
	{"dimgray", {105, 105, 105}},
	{"dimgrey", {105, 105, 105}},
	{"dodgerblue", {30, 144, 255}},
	{"firebrick", {178, 34, 34}},
	{"floralwhite", {255, 250, 240}},
	{"forestgreen", {34, 139, 34}},
	{"fuchsia", {255, 0, 255}},
	{"gainsboro", {220, 220, 220}},
	{"ghostwhite", {248, 248, 255}},
	{"gold", {255, 215, 0}},
	{"goldenrod", {218, 165, 32}},
	{"gray", {128, 128, 128}},
	{"green", {0, 128, 0}},
	{"greenyellow", {173, 255, 47}},
	{"grey", {128, 128, 128}},
	{"honeydew", {240, 255, 240}},
	{"hotpink", {255, 105, 180}},
	{"indianred", {205, 92, 92}},
	{"indigo", {75, 0, 130}},
	{"ivory", {255, 255, 240}},
	{"khaki", {240, 230, 140}},
	{"lavender", {230, 230, 250}},
	{"lavenderblush", {255, 240, 245}},
	{"lawngreen", {124, 252, 0}},
	{"lemonchiffon", {255, 250, 205}},
	{"lightblue", {173, 216, 230}},
	{"lightcoral", {240, 128, 128}},
	{"lightcyan", {224, 255, 255}},
	{"lightgoldenrodyellow", {250, 250, 210}},
	{"lightgray", {211, 211, 211}},
	{"lightgreen", {144, 238, 144}},
	{"lightgrey", {211, 211, 211}},
	{"lightpink", {255, 182, 193}},
	{"lightsalmon", {255, 160, 122}},
	{"lightseagreen", {32, 178, 170}},
	{"lightskyblue", {135, 206, 250}},
	{"lightslategray", {119, 136, 153}},
	{"lightslategrey", {119, 136, 153}},
	{"lightsteelblue", {176, 196, 222}},
	{"lightyellow", {255, 255, 224}},
	{"lime", {0, 255, 0}},
	{"limegreen", {50, 205, 50}},
	{"linen", {250, 240, 230}},
	{"magenta", {255, 0, 255}},
	{"maroon", {128, 0, 0}},
	{"mediumaquamarine", {102, 205, 170}},
	{"mediumblue", {0, 0, 205}},
	{"mediumorchid", {186, 85, 211}},
	{"mediumpurple", {147, 112, 219}},
	{"mediumseagreen", {60, 179, 113}},
	{"mediumslateblue", {123, 104, 238}},
	{"mediumspringgreen", {0, 250, 154}},
	{"mediumturquoise", {72, 209, 204}},
	{"mediumvioletred", {199, 21, 133}},
	{"midnightblue", {25, 25, 112}},
	{"mintcream", {245, 255, 250}},
	{"mistyrose", {255, 228, 225}},
	{"moccasin", {255, 228, 181}},
	{"navajowhite", {255, 222, 173}},
	{"navy", {0, 0, 128}},
	{"oldlace", {253, 245, 230}},
	{"olive", {128, 128, 0}},
	{"olivedrab", {107, 142, 35}},
	{"orange", {255, 165, 0}},
	{"orangered", {255, 69, 0}},
	{"orchid", {218, 112, 214}},
	{"palegoldenrod", {238, 232, 170}},
	{"palegreen", {152, 251, 152}},
	{"paleturquoise", {175, 238, 238}},
	{"palevioletred", {219, 112, 147}},
	{"papayawhip", {255, 239, 213}},
	{"peachpuff", {255, 218, 185}},
	{"peru", {205, 133, 63}},
	{"pink", {255, 192, 203}},
	{"plum", {221, 160, 221}},
	{"powderblue", {176, 224, 230}},
	{"purple", {128, 0, 128}},
	{"rebeccapurple", {102, 51, 153}},
	{"red", {255, 0, 0}},
	{"rosybrown", {188, 143, 143}},
	{"royalblue", {65, 105, 225}},
	{"saddlebrown", {139, 69, 19}},
	{"salmon", {250, 128, 114}},
	{"sandybrown", {244, 164, 96}},
	{"seagreen", {46, 139, 87}},
	{"seashell", {255, 245, 238}},
	{"sienna", {160, 82, 45}},
	{"silver", {192, 192, 192}},
	{"skyblue", {135, 206, 235}},
	{"slateblue", {106, 90, 205}},
	{"slategray", {112, 128, 144}},
	{"slategrey", {112, 128, 144}},
	{"snow", {255, 250, 250}},
	{"springgreen", {0, 255, 127}},
	{"steelblue", {70, 130, 180}},
	{"tan", {210, 180, 140}},
	{"teal", {0, 128, 128}},
	{"thistle", {216, 191, 216}},
	{"tomato", {255, 99, 71}},
	{"turquoise", {64, 224, 208}},
	{"violet", {238, 130, 238}},
	{"wheat", {245, 222, 179}},
	{"white", {255, 255, 255}},
	{"whitesmoke", {245, 245, 245}},
	{"yellow", {255, 255, 0}},
	{"yellowgreen", {154, 205, 50}},
};

static int cmp_named(const void *key, const void *elem)
{
	return strcasecmp(key, ((const struct named *)elem)->name);
}

static bool parse_hex(const char *v, uint8_t rgba[4])
{
	size_t n = strlen(v);
	int d[8];

	if (n != 3 && n != 4 && n != 6 && n != 8)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((d[i] = px_hexval(v[i])) < 0)
			return false;
	rgba[3] = 255;
	if (n <= 4) {
		for (size_t i = 0; i < n; i++)
			rgba[i] = (uint8_t)(d[i] * 17);
	} else {
		for (size_t i = 0; i < n / 2; i++)
			rgba[i] = (uint8_t)(d[2 * i] * 16 + d[2 * i + 1]);
	}
	return true;
}

/* One rgb() component: 0-255 or a percentage. */
static bool parse_channel(const char **p, uint8_t *out)
{
	char *end;
	double v = strtod(*p, &end);

	if (end == *p || !isfinite(v))
		return false;
	if (*end == '%') {
		v = v * 255.0 / 100.0;
		end++;
	}
	if (v < 0 || v > 255)
		return false;
	*out = (uint8_t)lround(v);
	*p = end;
	return true;
}

/* rgb(r,g,b) / rgba(r,g,b,a) with a in 0-1 (commas or spaces, and the
 * CSS4 slash before alpha). */
static bool parse_func(const char *v, uint8_t rgba[4])
{
	const char *p = v;
	bool alpha = false;

	if (!strncasecmp(p, "rgba(", 5)) {
		p += 5;
		alpha = true;
	} else if (!strncasecmp(p, "rgb(", 4)) {
		p += 4;
	} else {
		return false;
	}
	rgba[3] = 255;
	for (int i = 0; i < 3; i++) {
		while (*p == ' ')
			p++;
		if (!parse_channel(&p, &rgba[i]))
			return false;
		while (*p == ' ')
			p++;
		if (i < 2 && *p == ',')
			p++;
	}
	if (*p == ',' || *p == '/') {
		char *end;
		double a;

		p++;
		while (*p == ' ')
			p++;
		a = strtod(p, &end);
		if (end == p || !isfinite(a))
			return false;
		if (*end == '%') {
			a /= 100;
			end++;
		}
		if (a < 0 || a > 1)
			return false;
		rgba[3] = (uint8_t)lround(a * 255);
		p = end;
		alpha = true;
	}
	(void)alpha;
	while (*p == ' ')
		p++;
	return p[0] == ')' && p[1] == '\0';
}

bool px_parse_color(const char *v, uint8_t rgba[4])
{
	const struct named *n;

	if (v[0] == '#')
		return parse_hex(v + 1, rgba);
	if (!strcasecmp(v, "transparent")) {
		memset(rgba, 0, 4);
		return true;
	}
	if (!strncasecmp(v, "rgb", 3))
		return parse_func(v, rgba);
	n = bsearch(v, named_colors, PX_ARRAY_LEN(named_colors),
		    sizeof(named_colors[0]), cmp_named);
	if (!n)
		return false;
	memcpy(rgba, n->rgb, 3);
	rgba[3] = 255;
	return true;
}
