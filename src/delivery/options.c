/*
 * options.c - parsing and canonical form of delivery options.
 *
 * One table lists every option once: its canonical name, its alias, how to
 * parse a value and how to print a non-default one. Parsing, allow-lists
 * and the canonical form all walk the same table, in the table's order.
 */
#include "delivery/options.h"
#include "core/suggest.h"

#include <math.h>
#include <strings.h>

struct opt {
	const char *name, *alias;
	/* 0 on success, -1 for a bad value. */
	int (*parse)(struct px_opts *o, const char *v);
	/* Append ",name=value" when o differs from the default d. */
	void (*print)(const struct px_opts *o, const struct px_opts *d,
		      struct px_buf *b, const char *name);
	/* What a value may be, for the error message of a bad one. */
	const char *accepts;
};

static const char *fit_names[] = {"scale-down", "contain", "cover",
				  "crop", "pad", "squeeze"};
static const char *grav_names[] = {"auto", "center", "left",
				   "right", "top", "bottom"};
static const char *fmt_names[] = {"", "auto", "jpeg", "png", "webp",
				  "avif", "gif", "baseline-jpeg", "json"};
static const char *meta_names[] = {"copyright", "keep", "none"};

static const struct {
	const char *name;
	int q;
} quality_names[] = {
	{"high", 90}, {"medium-high", 80}, {"medium-low", 65}, {"low", 45},
};

void px_opts_init(struct px_opts *o)
{
	memset(o, 0, sizeof(*o));
	px_xform_init(&o->x);
	o->x.format = PX_FMT_UNKNOWN;
	o->dpr = 1;
	o->format = PX_OUT_ORIGINAL;
}

static int lookup(const char *v, const char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (names[i][0] && !strcmp(v, names[i]))
			return (int)i;
	return -1;
}

static bool parse_long(const char *v, long lo, long hi, long *out)
{
	char *end;
	long n;

	if (!*v || *v == '+' || *v == ' ')
		return false;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || n < lo || n > hi)
		return false;
	*out = n;
	return true;
}

static bool parse_num(const char *v, double lo, double hi, double *out)
{
	char *end;
	double d;

	if (!*v || *v == '+' || *v == ' ' || !strpbrk(v, "0123456789") ||
	    strpbrk(v, "xXpPnNiI"))
		return false;
	errno = 0;
	d = strtod(v, &end);
	if (errno || *end || !isfinite(d) || d < lo || d > hi)
		return false;
	*out = d;
	return true;
}

/* --- parsers, one per option --- */

static int p_width(struct px_opts *o, const char *v)
{
	long n;

	if (!strcmp(v, "auto")) {
		/* resolved per request from client hints (delivery/hints.h) */
		o->width_auto = true;
		o->x.width = 0;
		return 0;
	}
	if (!parse_long(v, 1, PX_OPT_MAX_SIDE, &n))
		return -1;
	o->x.width = (int)n;
	o->width_auto = false;
	return 0;
}

static int p_height(struct px_opts *o, const char *v)
{
	long n;

	if (!parse_long(v, 1, PX_OPT_MAX_SIDE, &n))
		return -1;
	o->x.height = (int)n;
	return 0;
}

static int p_dpr(struct px_opts *o, const char *v)
{
	return parse_num(v, 1, 3, &o->dpr) ? 0 : -1;
}

static int p_fit(struct px_opts *o, const char *v)
{
	int i = lookup(v, fit_names, PX_ARRAY_LEN(fit_names));

	if (i < 0)
		return -1;
	o->x.fit = (enum px_fit)i;
	return 0;
}

static int p_gravity(struct px_opts *o, const char *v)
{
	char a[32], b[32];
	const char *x;
	int i;

	o->face = false;
	if ((i = lookup(v, grav_names, PX_ARRAY_LEN(grav_names))) >= 0) {
		o->x.gravity = (enum px_gravity)i;
		return 0;
	}
	if (!strcmp(v, "face")) {
		/* Around the faces of the record (delivery fills them in);
		 * by attention when the image was never looked at. */
		o->x.gravity = PX_GRAVITY_FACE;
		o->face = true;
		return 0;
	}
	x = strchr(v, 'x');
	if (!x || (size_t)(x - v) >= sizeof(a) || strlen(x + 1) >= sizeof(b))
		return -1;
	memcpy(a, v, (size_t)(x - v));
	a[x - v] = '\0';
	strcpy(b, x + 1);
	if (!parse_num(a, 0, 1, &o->x.gx) || !parse_num(b, 0, 1, &o->x.gy))
		return -1;
	o->x.gravity = PX_GRAVITY_POINT;
	return 0;
}

static int p_zoom(struct px_opts *o, const char *v)
{
	return parse_num(v, 0, 1, &o->x.zoom) ? 0 : -1;
}

static int p_quality(struct px_opts *o, const char *v)
{
	long n;

	for (size_t i = 0; i < PX_ARRAY_LEN(quality_names); i++) {
		if (!strcmp(v, quality_names[i].name)) {
			o->x.quality = quality_names[i].q;
			return 0;
		}
	}
	if (!parse_long(v, 1, 100, &n))
		return -1;
	o->x.quality = (int)n;
	return 0;
}

static int p_format(struct px_opts *o, const char *v)
{
	int i;

	if (!strcmp(v, "jpg"))
		v = "jpeg";
	if ((i = lookup(v, fmt_names, PX_ARRAY_LEN(fmt_names))) < 0)
		return -1;
	o->format = (enum px_out)i;
	return 0;
}

static int p_metadata(struct px_opts *o, const char *v)
{
	int i = lookup(v, meta_names, PX_ARRAY_LEN(meta_names));

	if (i < 0)
		return -1;
	o->x.metadata = (enum px_meta)i;
	return 0;
}

static int p_background(struct px_opts *o, const char *v)
{
	if (!px_parse_color(v, o->x.background))
		return -1;
	o->has_background = true;
	return 0;
}

static int p_anim(struct px_opts *o, const char *v)
{
	if (!strcmp(v, "true") || !strcmp(v, "1"))
		o->x.anim = true;
	else if (!strcmp(v, "false") || !strcmp(v, "0"))
		o->x.anim = false;
	else
		return -1;
	return 0;
}

static int p_blur(struct px_opts *o, const char *v)
{
	return parse_num(v, 0, 250, &o->x.blur) ? 0 : -1;
}

static int p_sharpen(struct px_opts *o, const char *v)
{
	return parse_num(v, 0, 10, &o->x.sharpen) ? 0 : -1;
}

static int p_brightness(struct px_opts *o, const char *v)
{
	return parse_num(v, 0, 10, &o->x.brightness) ? 0 : -1;
}

static int p_contrast(struct px_opts *o, const char *v)
{
	return parse_num(v, 0, 10, &o->x.contrast) ? 0 : -1;
}

static int p_gamma(struct px_opts *o, const char *v)
{
	return parse_num(v, 0.01, 10, &o->x.gamma) ? 0 : -1;
}

static int p_saturation(struct px_opts *o, const char *v)
{
	return parse_num(v, 0, 10, &o->x.saturation) ? 0 : -1;
}

static int p_rotate(struct px_opts *o, const char *v)
{
	long n;

	if (!parse_long(v, 0, 270, &n) || n % 90)
		return -1;
	o->x.rotate = (int)n;
	return 0;
}

static int p_flip(struct px_opts *o, const char *v)
{
	o->x.flip_h = strchr(v, 'h') != NULL;
	o->x.flip_v = strchr(v, 'v') != NULL;
	if (strcmp(v, "h") && strcmp(v, "v") && strcmp(v, "hv") &&
	    strcmp(v, "vh"))
		return -1;
	return 0;
}

/* "top;right;bottom;left", each 0-max, into out[4]. */
static int parse_sides(const char *v, long max, int out[4])
{
	const char *p = v;

	for (int i = 0; i < 4; i++) {
		char part[16];
		size_t n = strcspn(p, ";");
		long px;

		if (n >= sizeof(part))
			return -1;
		memcpy(part, p, n);
		part[n] = '\0';
		if (!parse_long(part, 0, max, &px))
			return -1;
		out[i] = (int)px;
		p += n;
		if (i < 3 && *p++ != ';')
			return -1;
	}
	return *p ? -1 : 0;
}

/* trim=top;right;bottom;left in px, or trim=border. */
static int p_trim(struct px_opts *o, const char *v)
{
	if (!strcmp(v, "border")) {
		o->x.trim_border = true;
		return 0;
	}
	return parse_sides(v, PX_OPT_MAX_SIDE * 2, o->x.trim);
}

static int trim_side(struct px_opts *o, const char *v, int side)
{
	long px;

	if (!parse_long(v, 0, PX_OPT_MAX_SIDE * 2, &px))
		return -1;
	o->x.trim[side] = (int)px;
	return 0;
}

static int p_trim_top(struct px_opts *o, const char *v) { return trim_side(o, v, 0); }
static int p_trim_right(struct px_opts *o, const char *v) { return trim_side(o, v, 1); }
static int p_trim_bottom(struct px_opts *o, const char *v) { return trim_side(o, v, 2); }
static int p_trim_left(struct px_opts *o, const char *v) { return trim_side(o, v, 3); }

/* trim.width / trim.height: the size kept after trim.left / trim.top;
 * turned into right and bottom trims once the image's size is known. */
static int p_trim_width(struct px_opts *o, const char *v)
{
	long n;

	if (!parse_long(v, 1, PX_OPT_MAX_SIDE * 2, &n))
		return -1;
	o->trim_width = (int)n;
	return 0;
}

static int p_trim_height(struct px_opts *o, const char *v)
{
	long n;

	if (!parse_long(v, 1, PX_OPT_MAX_SIDE * 2, &n))
		return -1;
	o->trim_height = (int)n;
	return 0;
}


static int p_trim_color(struct px_opts *o, const char *v)
{
	if (!px_parse_color(v, o->x.trim_color))
		return -1;
	o->x.trim_has_color = true;
	o->x.trim_border = true;
	return 0;
}

static int p_trim_tolerance(struct px_opts *o, const char *v)
{
	o->x.trim_border = true;
	return parse_num(v, 0, 255, &o->x.trim_tolerance) ? 0 : -1;
}

static int p_trim_keep(struct px_opts *o, const char *v)
{
	long n;

	if (!parse_long(v, 0, PX_OPT_MAX_SIDE, &n))
		return -1;
	o->x.trim_keep = (int)n;
	o->x.trim_border = true;
	return 0;
}

static int border_px(struct px_opts *o, const char *v, int from, int to)
{
	long n;

	if (!parse_long(v, 0, 1000, &n))
		return -1;
	for (int i = from; i <= to; i++)
		o->x.border[i] = (int)n;
	return 0;
}

static int p_border_width(struct px_opts *o, const char *v) { return border_px(o, v, 0, 3); }
static int p_border_top(struct px_opts *o, const char *v) { return border_px(o, v, 0, 0); }
static int p_border_right(struct px_opts *o, const char *v) { return border_px(o, v, 1, 1); }
static int p_border_bottom(struct px_opts *o, const char *v) { return border_px(o, v, 2, 2); }
static int p_border_left(struct px_opts *o, const char *v) { return border_px(o, v, 3, 3); }

static int p_border_color(struct px_opts *o, const char *v)
{
	return px_parse_color(v, o->x.border_color) ? 0 : -1;
}

static int p_compression(struct px_opts *o, const char *v)
{
	if (strcmp(v, "fast"))
		return -1;
	o->x.fast = true;
	return 0;
}

/* redact=faces (a Gaussian blur), redact=faces-pixelate: a Pictor
 * extension, see docs/TRANSFORMS.md. */
static int p_redact(struct px_opts *o, const char *v)
{
	if (!strcmp(v, "faces") || !strcmp(v, "faces-blur"))
		o->x.redact = PX_REDACT_BLUR;
	else if (!strcmp(v, "faces-pixelate"))
		o->x.redact = PX_REDACT_PIXELATE;
	else if (!strcmp(v, "none"))
		o->x.redact = PX_REDACT_NONE;
	else
		return -1;
	return 0;
}

static int p_onerror(struct px_opts *o, const char *v)
{
	if (strcmp(v, "redirect"))
		return -1;
	o->onerror_redirect = true;
	return 0;
}

/* --- printers: canonical "name=value" for non-default values --- */

static void sep(struct px_buf *b)
{
	if (b->len)
		px_buf_add(b, ",", 1);
}

static void put_int(struct px_buf *b, const char *name, int v, int d)
{
	if (v != d) {
		sep(b);
		px_buf_addf(b, "%s=%d", name, v);
	}
}

static void put_num(struct px_buf *b, const char *name, double v, double d)
{
	if (v != d) {
		sep(b);
		px_buf_addf(b, "%s=%.6g", name, v);
	}
}

static void put_str(struct px_buf *b, const char *name, const char *v)
{
	sep(b);
	px_buf_addf(b, "%s=%s", name, v);
}

static void put_color(struct px_buf *b, const char *name, const uint8_t *c)
{
	sep(b);
	px_buf_addf(b, "%s=#%02x%02x%02x%02x", name, c[0], c[1], c[2], c[3]);
}

static void w_width(const struct px_opts *o, const struct px_opts *d, struct px_buf *b, const char *n)
{
	if (o->width_auto)
		put_str(b, n, "auto");
	else
		put_int(b, n, o->x.width, d->x.width);
}
static void w_height(const struct px_opts *o, const struct px_opts *d, struct px_buf *b, const char *n) { put_int(b, n, o->x.height, d->x.height); }
static void w_dpr(const struct px_opts *o, const struct px_opts *d, struct px_buf *b, const char *n) { put_num(b, n, o->dpr, d->dpr); }
static void w_blur(const struct px_opts *o, const struct px_opts *d, struct px_buf *b, const char *n) { put_num(b, n, o->x.blur, d->x.blur); }
static void w_sharpen(const struct px_opts *o, const struct px_opts *d, struct px_buf *b, const char *n) { put_num(b, n, o->x.sharpen, d->x.sharpen); }
static void w_brightness(const struct px_opts *o, const struct px_opts *d, struct px_buf *b, const char *n) { put_num(b, n, o->x.brightness, d->x.brightness); }
static void w_contrast(const struct px_opts *o, const struct px_opts *d, struct px_buf *b, const char *n) { put_num(b, n, o->x.contrast, d->x.contrast); }
static void w_gamma(const struct px_opts *o, const struct px_opts *d, struct px_buf *b, const char *n) { put_num(b, n, o->x.gamma, d->x.gamma); }
static void w_saturation(const struct px_opts *o, const struct px_opts *d, struct px_buf *b, const char *n) { put_num(b, n, o->x.saturation, d->x.saturation); }
static void w_rotate(const struct px_opts *o, const struct px_opts *d, struct px_buf *b, const char *n) { put_int(b, n, o->x.rotate, d->x.rotate); }
static void w_quality(const struct px_opts *o, const struct px_opts *d, struct px_buf *b, const char *n) { put_int(b, n, o->x.quality, d->x.quality); }

static void w_fit(const struct px_opts *o, const struct px_opts *d, struct px_buf *b, const char *n)
{
	if (o->x.fit != d->x.fit)
		put_str(b, n, fit_names[o->x.fit]);
}

static void w_gravity(const struct px_opts *o, const struct px_opts *d, struct px_buf *b, const char *n)
{
	if (o->face) {
		put_str(b, n, "face");
	} else if (o->x.gravity == PX_GRAVITY_POINT) {
		sep(b);
		px_buf_addf(b, "%s=%.6gx%.6g", n, o->x.gx, o->x.gy);
	} else if (o->x.gravity != d->x.gravity) {
		put_str(b, n, grav_names[o->x.gravity]);
	}
}

static void w_zoom(const struct px_opts *o, const struct px_opts *d, struct px_buf *b, const char *n)
{
	put_num(b, n, o->x.zoom, d->x.zoom);
}

static void w_format(const struct px_opts *o, const struct px_opts *d, struct px_buf *b, const char *n)
{
	if (o->format != d->format)
		put_str(b, n, fmt_names[o->format]);
}

static void w_metadata(const struct px_opts *o, const struct px_opts *d, struct px_buf *b, const char *n)
{
	if (o->x.metadata != d->x.metadata)
		put_str(b, n, meta_names[o->x.metadata]);
}

static void w_background(const struct px_opts *o, const struct px_opts *d, struct px_buf *b, const char *n)
{
	if (o->has_background)
		put_color(b, n, o->x.background);
}

static void w_anim(const struct px_opts *o, const struct px_opts *d, struct px_buf *b, const char *n)
{
	if (!o->x.anim)
		put_str(b, n, "false");
}

static void w_flip(const struct px_opts *o, const struct px_opts *d, struct px_buf *b, const char *n)
{
	if (o->x.flip_h || o->x.flip_v)
		put_str(b, n, o->x.flip_h && o->x.flip_v ? "hv" : o->x.flip_h ? "h" : "v");
}

static void w_trim(const struct px_opts *o, const struct px_opts *d, struct px_buf *b, const char *n)
{
	const int *t = o->x.trim;

	if (t[0] || t[1] || t[2] || t[3]) {
		sep(b);
		px_buf_addf(b, "%s=%d;%d;%d;%d", n, t[0], t[1], t[2], t[3]);
	}
}

static void w_trim_size(const struct px_opts *o, const struct px_opts *d, struct px_buf *b, const char *n)
{
	put_int(b, "trim.width", o->trim_width, 0);
	put_int(b, "trim.height", o->trim_height, 0);
}

static void w_trim_border(const struct px_opts *o, const struct px_opts *d, struct px_buf *b, const char *n)
{
	if (!o->x.trim_border)
		return;
	sep(b);
	px_buf_adds(b, "trim=border");
	if (o->x.trim_has_color)
		put_color(b, "trim.border.color", o->x.trim_color);
	put_num(b, "trim.border.tolerance", o->x.trim_tolerance, 0);
	put_int(b, "trim.border.keep", o->x.trim_keep, 0);
}

static void w_border(const struct px_opts *o, const struct px_opts *d, struct px_buf *b, const char *n)
{
	const int *w = o->x.border;

	if (!(w[0] || w[1] || w[2] || w[3]))
		return;
	sep(b);
	px_buf_addf(b, "border=%d;%d;%d;%d", w[0], w[1], w[2], w[3]);
	put_color(b, "border.color", o->x.border_color);
}

static void w_compression(const struct px_opts *o, const struct px_opts *d, struct px_buf *b, const char *n)
{
	if (o->x.fast)
		put_str(b, n, "fast");
}

static void w_onerror(const struct px_opts *o, const struct px_opts *d, struct px_buf *b, const char *n)
{
	if (o->onerror_redirect)
		put_str(b, n, "redirect");
}

static void w_redact(const struct px_opts *o, const struct px_opts *d, struct px_buf *b, const char *n)
{
	if (o->x.redact == PX_REDACT_BLUR)
		put_str(b, n, "faces");
	else if (o->x.redact == PX_REDACT_PIXELATE)
		put_str(b, n, "faces-pixelate");
}

static void w_none(const struct px_opts *o, const struct px_opts *d, struct px_buf *b, const char *n)
{
}

/* Canonical order; each option prints under its first name. */
static const struct opt opts[] = {
	{"width", "w", p_width, w_width,
	 "an integer from 1 to 8192, or auto"},
	{"height", "h", p_height, w_height,
	 "an integer from 1 to 8192"},
	{"dpr", NULL, p_dpr, w_dpr,
	 "a number from 1 to 3"},
	{"fit", NULL, p_fit, w_fit,
	 "scale-down, contain, cover, crop, pad or squeeze"},
	{"gravity", "g", p_gravity, w_gravity,
	 "auto, face, center, left, right, top, bottom, or XxY with X and Y from 0 to 1 (e.g. 0.5x0.2)"},
	{"zoom", "face-zoom", p_zoom, w_zoom,
	 "a number from 0 to 1"},
	{"trim", NULL, p_trim, w_trim,
	 "border, or top;right;bottom;left in pixels (each 0 to 16384)"},
	{"trim.top", NULL, p_trim_top, w_none,
	 "an integer from 0 to 16384"},
	{"trim.right", NULL, p_trim_right, w_none,
	 "an integer from 0 to 16384"},
	{"trim.bottom", NULL, p_trim_bottom, w_none,
	 "an integer from 0 to 16384"},
	{"trim.left", NULL, p_trim_left, w_none,
	 "an integer from 0 to 16384"},
	{"trim.width", NULL, p_trim_width, w_trim_size,
	 "an integer from 1 to 16384"},
	{"trim.height", NULL, p_trim_height, w_none,
	 "an integer from 1 to 16384"},
	{"trim.border.color", NULL, p_trim_color, w_trim_border,
	 "a CSS colour (#rgb, #rrggbb, #rrggbbaa, rgb(), rgba(), a name, transparent)"},
	{"trim.border.tolerance", NULL, p_trim_tolerance, w_none,
	 "a number from 0 to 255"},
	{"trim.border.keep", NULL, p_trim_keep, w_none,
	 "an integer from 0 to 8192"},
	{"flip", NULL, p_flip, w_flip,
	 "h, v or hv"},
	{"rotate", NULL, p_rotate, w_rotate,
	 "0, 90, 180 or 270"},
	{"brightness", NULL, p_brightness, w_brightness,
	 "a number from 0 to 10"},
	{"contrast", NULL, p_contrast, w_contrast,
	 "a number from 0 to 10"},
	{"gamma", NULL, p_gamma, w_gamma,
	 "a number from 0.01 to 10"},
	{"saturation", NULL, p_saturation, w_saturation,
	 "a number from 0 to 10"},
	{"sharpen", NULL, p_sharpen, w_sharpen,
	 "a number from 0 to 10"},
	{"blur", NULL, p_blur, w_blur,
	 "a number from 0 to 250"},
	{"border.width", NULL, p_border_width, w_border,
	 "an integer from 0 to 1000"},
	{"border.top", NULL, p_border_top, w_none,
	 "an integer from 0 to 1000"},
	{"border.right", NULL, p_border_right, w_none,
	 "an integer from 0 to 1000"},
	{"border.bottom", NULL, p_border_bottom, w_none,
	 "an integer from 0 to 1000"},
	{"border.left", NULL, p_border_left, w_none,
	 "an integer from 0 to 1000"},
	{"border.color", NULL, p_border_color, w_none,
	 "a CSS colour (#rgb, #rrggbb, #rrggbbaa, rgb(), rgba(), a name, transparent)"},
	{"background", NULL, p_background, w_background,
	 "a CSS colour (#rgb, #rrggbb, #rrggbbaa, rgb(), rgba(), a name, transparent)"},
	{"quality", "q", p_quality, w_quality,
	 "an integer from 1 to 100, or high, medium-high, medium-low or low"},
	{"format", "f", p_format, w_format,
	 "auto, avif, webp, jpeg (or jpg), baseline-jpeg, png, gif or json"},
	{"compression", NULL, p_compression, w_compression,
	 "fast"},
	{"anim", NULL, p_anim, w_anim,
	 "true, false, 1 or 0"},
	{"metadata", NULL, p_metadata, w_metadata,
	 "keep, copyright or none"},
	{"onerror", NULL, p_onerror, w_onerror,
	 "redirect"},
	/* Pictor's own, after Cloudflare's (the canonical form of every
	 * option string without it is unchanged). */
	{"redact", NULL, p_redact, w_redact,
	 "faces, faces-blur, faces-pixelate or none"},
};

/* "border=T;R;B;L" is how the canonical form writes per-side borders;
 * accept it as input too so canonical strings parse back. */
static int p_border(struct px_opts *o, const char *v)
{
	return parse_sides(v, 1000, o->x.border);
}

static int find_opt(const char *k)
{
	for (size_t i = 0; i < PX_ARRAY_LEN(opts); i++)
		if (!strcmp(k, opts[i].name) ||
		    (opts[i].alias && !strcmp(k, opts[i].alias)))
			return (int)i;
	return -1;
}

/* "; did you mean \"width\"?" for a near option name, or "". */
static void near_option(char *out, size_t size, const char *word)
{
	const char *cands[2 * PX_ARRAY_LEN(opts) + 1];
	const char *best;
	size_t n = 0;

	for (size_t i = 0; i < PX_ARRAY_LEN(opts); i++) {
		cands[n++] = opts[i].name;
		cands[n++] = opts[i].alias;
	}
	cands[n++] = "border";
	best = px_suggest(word, cands, n);
	if (best)
		snprintf(out, size, "; did you mean \"%s\"?", best);
	else
		*out = '\0';
}

/* Length of the next item: up to a comma outside parentheses, so
 * background=rgba(0,0,0,0.5) stays whole. */
static size_t item_len(const char *p)
{
	int depth = 0;
	size_t n = 0;

	for (; p[n] && (p[n] != ',' || depth > 0); n++) {
		if (p[n] == '(')
			depth++;
		else if (p[n] == ')' && depth > 0)
			depth--;
	}
	return n;
}

int px_opts_parse(const char *s, struct px_opts *o, struct px_errbuf *eb)
{
	char item[256];
	const char *p = s;

	while (*p) {
		size_t n = item_len(p);
		char *eq;
		int i, bad;

		if (n == 0 || n >= sizeof(item))
			return px_errc(eb, PX_EINVAL, "invalid_option",
				       "malformed option list \"%.64s\"", s);
		memcpy(item, p, n);
		item[n] = '\0';
		eq = strchr(item, '=');
		if (!eq)
			return px_errc(eb, PX_EINVAL, "invalid_option",
				       "option \"%.64s\" has no value", item);
		*eq = '\0';
		if (!strcmp(item, "border")) {
			i = find_opt("border.width");
			bad = p_border(o, eq + 1);
		} else if ((i = find_opt(item)) < 0) {
			char hint[96];

			near_option(hint, sizeof(hint), item);
			return px_errc(eb, PX_EINVAL, "invalid_option",
				       "unknown option \"%.64s\"%s", item, hint);
		} else {
			bad = opts[i].parse(o, eq + 1);
		}
		if (bad)
			return px_errc(eb, PX_EINVAL, "invalid_option",
				       "invalid value \"%.64s\" for option \"%s\": expected %s",
				       eq + 1,
				       strcmp(item, "border") ? opts[i].name : "border",
				       strcmp(item, "border")
					       ? opts[i].accepts
					       : "an integer from 0 to 1000, or top;right;bottom;left");
		o->set |= UINT64_C(1) << i;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

int px_opts_check_names(const char *list, struct px_errbuf *eb)
{
	char name[64], hint[96];

	for (const char *p = list; p && *p;) {
		size_t n = strcspn(p, ",");

		if (n >= sizeof(name) || !n)
			return px_errc(eb, PX_EINVAL, "invalid_option",
				       "malformed option list \"%.64s\"", list);
		memcpy(name, p, n);
		name[n] = '\0';
		if (find_opt(name) < 0 && strcmp(name, "border")) {
			near_option(hint, sizeof(hint), name);
			return px_errc(eb, PX_EINVAL, "invalid_option",
				       "unknown option \"%s\"%s", name, hint);
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

bool px_opts_is_inline(const char *s)
{
	return strchr(s, '=') != NULL;
}

int px_opts_allowed(const struct px_opts *o, const char *allow,
		    struct px_errbuf *eb)
{
	if (!allow || !*allow)
		return 0;
	for (size_t i = 0; i < PX_ARRAY_LEN(opts); i++) {
		const char *p = allow;
		bool ok = false;

		if (!(o->set & (UINT64_C(1) << i)))
			continue;
		while (*p && !ok) {
			size_t n = strcspn(p, ",");

			ok = (strlen(opts[i].name) == n &&
			      !strncmp(p, opts[i].name, n)) ||
			     (opts[i].alias && strlen(opts[i].alias) == n &&
			      !strncmp(p, opts[i].alias, n));
			p += n;
			if (*p == ',')
				p++;
		}
		if (!ok)
			return px_errc(eb, PX_EINVAL, "invalid_option",
				       "option \"%s\" is not allowed in flexible variants",
				       opts[i].name);
	}
	return 0;
}

int px_opts_canonical(const struct px_opts *o, struct px_buf *out)
{
	struct px_opts d;
	struct px_buf b;
	int rc;

	px_opts_init(&d);
	px_buf_init(&b, 0);
	for (size_t i = 0; i < PX_ARRAY_LEN(opts); i++)
		opts[i].print(o, &d, &b, opts[i].name);
	rc = b.len ? px_buf_add(out, b.data, b.len) : 0;
	px_buf_release(&b);
	return rc;
}

/* Does an Accept header list a media type with a non-zero q? */
static bool accepts(const char *accept, const char *type)
{
	size_t ntype = strlen(type);

	for (const char *p = accept; *p;) {
		size_t len = strcspn(p, ",");
		const char *e = p, *end = p + len;
		size_t n;

		while (e < end && *e == ' ')
			e++;
		n = strcspn(e, ";,");
		while (n && e[n - 1] == ' ')
			n--;
		if (n == ntype && !strncasecmp(e, type, n)) {
			const char *q = strstr(e, ";q=");

			if (!q || q >= end)
				q = strstr(e, "; q=");
			if (q && q < end)
				return strtod(strchr(q, '=') + 1, NULL) > 0;
			return true;
		}
		p = *end ? end + 1 : end;
	}
	return false;
}

static int scale(int v, double dpr, int cap)
{
	return v ? PX_MIN((int)lround(v * dpr), cap) : 0;
}

void px_opts_resolve(const struct px_opts *o, const struct px_image_info *in,
		     const char *accept, int max_output, struct px_xform *x,
		     bool *vary)
{
	int cap = max_output > 0 ? max_output : PX_OPT_MAX_SIDE;
	enum px_fmt original = in->format;
	bool has_alpha = in->has_alpha;
	int frames = in->frames;
	enum px_out f = o->format;

	*x = o->x;
	*vary = false;
	if (o->trim_width)
		x->trim[1] = PX_MAX(in->width - x->trim[3] - o->trim_width, 0);
	if (o->trim_height)
		x->trim[2] = PX_MAX(in->height - x->trim[0] - o->trim_height, 0);
	x->width = scale(o->x.width, o->dpr, cap);
	x->height = scale(o->x.height, o->dpr, cap);
	for (int i = 0; i < 4; i++)
		x->border[i] = scale(o->x.border[i], o->dpr, cap);
	x->max_output = cap;
	/* format=json describes what the same URL without it serves: the
	 * format option is then absent, so the original's format is kept. */
	if (f == PX_OUT_JSON)
		f = PX_OUT_ORIGINAL;
	switch (f) {
	case PX_OUT_JPEG: x->format = PX_FMT_JPEG; break;
	case PX_OUT_BASELINE_JPEG:
		x->format = PX_FMT_JPEG;
		x->baseline = true;
		break;
	case PX_OUT_PNG: x->format = PX_FMT_PNG; break;
	case PX_OUT_WEBP: x->format = PX_FMT_WEBP; break;
	case PX_OUT_AVIF: x->format = PX_FMT_AVIF; break;
	case PX_OUT_GIF: x->format = PX_FMT_GIF; break;
	case PX_OUT_JSON:
	case PX_OUT_AUTO:
		*vary = true;
		if (frames > 1 && o->x.anim)
			x->format = accept && accepts(accept, "image/webp")
					    ? PX_FMT_WEBP
					    : PX_FMT_GIF;
		else if (accept && accepts(accept, "image/avif"))
			x->format = PX_FMT_AVIF;
		else if (accept && accepts(accept, "image/webp"))
			x->format = PX_FMT_WEBP;
		else
			x->format = has_alpha ? PX_FMT_PNG : PX_FMT_JPEG;
		break;
	case PX_OUT_ORIGINAL:
		switch (original) {
		case PX_FMT_JPEG: case PX_FMT_PNG: case PX_FMT_WEBP:
		case PX_FMT_GIF: case PX_FMT_AVIF:
			x->format = original;
			break;
		default:
			x->format = has_alpha ? PX_FMT_PNG : PX_FMT_JPEG;
		}
		break;
	}
}
