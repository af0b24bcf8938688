/*
 * options.c - parsing and canonical form of delivery options.
 */
#include "delivery/options.h"

#include <math.h>
#include <strings.h>

void px_opts_init(struct px_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->fit = PX_FIT_SCALE_DOWN;
	o->gravity = PX_GRAVITY_AUTO;
	o->format = PX_OUT_ORIGINAL;
	o->dpr = 1;
	o->metadata = PX_META_COPYRIGHT;
	o->background[0] = o->background[1] = o->background[2] = 255;
	o->background[3] = 255;
	o->anim = true;
}

static const char *fit_names[] = {"scale-down", "contain", "cover",
				  "crop", "pad"};
static const char *grav_names[] = {"auto", "center", "left",
				   "right", "top", "bottom"};
static const char *fmt_names[] = {"", "auto", "jpeg", "png", "webp", "avif"};
static const char *meta_names[] = {"copyright", "keep", "none"};

static int lookup(const char *v, const char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (names[i][0] && !strcmp(v, names[i]))
			return (int)i;
	return -1;
}

static bool parse_int(const char *v, long lo, long hi, long *out)
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

	if (!*v || *v == '+' || *v == ' ')
		return false;
	errno = 0;
	d = strtod(v, &end);
	if (errno || *end || !isfinite(d) || d < lo || d > hi)
		return false;
	*out = d;
	return true;
}

static int hexdig(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool parse_color(const char *v, uint8_t rgba[4])
{
	size_t n = strlen(v);
	int d[8];

	if (v[0] != '#' || (n != 4 && n != 7 && n != 9))
		return false;
	for (size_t i = 1; i < n; i++)
		if ((d[i - 1] = hexdig(v[i])) < 0)
			return false;
	if (n == 4) {
		for (int i = 0; i < 3; i++)
			rgba[i] = (uint8_t)(d[i] * 17);
		rgba[3] = 255;
	} else {
		for (int i = 0; i < 3; i++)
			rgba[i] = (uint8_t)(d[2 * i] * 16 + d[2 * i + 1]);
		rgba[3] = n == 9 ? (uint8_t)(d[6] * 16 + d[7]) : 255;
	}
	return true;
}

static int bad(struct px_errbuf *eb, const char *name, const char *v)
{
	return px_errc(eb, PX_EINVAL, "invalid_option",
		       "invalid value \"%.64s\" for option \"%s\"", v, name);
}

static int set_one(struct px_opts *o, const char *k, const char *v,
		   struct px_errbuf *eb)
{
	long n;
	int i;

	if (!strcmp(k, "width") || !strcmp(k, "w")) {
		if (!parse_int(v, 1, PX_OPT_MAX_SIDE, &n))
			return bad(eb, "width", v);
		o->width = (int)n;
	} else if (!strcmp(k, "height") || !strcmp(k, "h")) {
		if (!parse_int(v, 1, PX_OPT_MAX_SIDE, &n))
			return bad(eb, "height", v);
		o->height = (int)n;
	} else if (!strcmp(k, "fit")) {
		if ((i = lookup(v, fit_names, PX_ARRAY_LEN(fit_names))) < 0)
			return bad(eb, "fit", v);
		o->fit = (enum px_fit)i;
	} else if (!strcmp(k, "gravity") || !strcmp(k, "g")) {
		const char *x = strchr(v, 'x');

		if ((i = lookup(v, grav_names, PX_ARRAY_LEN(grav_names))) >= 0) {
			o->gravity = (enum px_gravity)i;
		} else {
			char a[32], b[32];

			if (!x || (size_t)(x - v) >= sizeof(a) || strlen(x + 1) >= sizeof(b))
				return bad(eb, "gravity", v);
			memcpy(a, v, (size_t)(x - v));
			a[x - v] = '\0';
			strcpy(b, x + 1);
			if (!parse_num(a, 0, 1, &o->gx) || !parse_num(b, 0, 1, &o->gy))
				return bad(eb, "gravity", v);
			o->gravity = PX_GRAVITY_POINT;
		}
	} else if (!strcmp(k, "quality") || !strcmp(k, "q")) {
		if (!parse_int(v, 1, 100, &n))
			return bad(eb, "quality", v);
		o->quality = (int)n;
	} else if (!strcmp(k, "format") || !strcmp(k, "f")) {
		if (!strcmp(v, "jpg"))
			v = "jpeg";
		if ((i = lookup(v, fmt_names, PX_ARRAY_LEN(fmt_names))) < 0)
			return bad(eb, "format", v);
		o->format = (enum px_out)i;
	} else if (!strcmp(k, "dpr")) {
		if (!parse_num(v, 1, 3, &o->dpr))
			return bad(eb, "dpr", v);
	} else if (!strcmp(k, "metadata")) {
		if ((i = lookup(v, meta_names, PX_ARRAY_LEN(meta_names))) < 0)
			return bad(eb, "metadata", v);
		o->metadata = (enum px_meta)i;
	} else if (!strcmp(k, "background")) {
		if (!parse_color(v, o->background))
			return bad(eb, "background", v);
		o->has_background = true;
	} else if (!strcmp(k, "anim")) {
		if (!strcmp(v, "true"))
			o->anim = true;
		else if (!strcmp(v, "false"))
			o->anim = false;
		else
			return bad(eb, "anim", v);
	} else {
		return px_errc(eb, PX_EINVAL, "invalid_option",
			       "unknown option \"%.64s\"", k);
	}
	return 0;
}

int px_opts_parse(const char *s, struct px_opts *o, struct px_errbuf *eb)
{
	char item[256];
	const char *p = s;
	int rc;

	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		char *eq;

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
		if ((rc = set_one(o, item, eq + 1, eb)))
			return rc;
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

int px_opts_canonical(const struct px_opts *o, struct px_buf *out)
{
	struct px_opts d;
	size_t start = out->len;
	int rc = 0;

#define SEP (out->len > start ? "," : "")
	px_opts_init(&d);
	if (o->width)
		rc |= px_buf_addf(out, "%sw=%d", SEP, o->width);
	if (o->height)
		rc |= px_buf_addf(out, "%sh=%d", SEP, o->height);
	if (o->fit != d.fit)
		rc |= px_buf_addf(out, "%sfit=%s", SEP, fit_names[o->fit]);
	if (o->gravity == PX_GRAVITY_POINT)
		rc |= px_buf_addf(out, "%sg=%gx%g", SEP, o->gx, o->gy);
	else if (o->gravity != d.gravity)
		rc |= px_buf_addf(out, "%sg=%s", SEP, grav_names[o->gravity]);
	if (o->quality)
		rc |= px_buf_addf(out, "%sq=%d", SEP, o->quality);
	if (o->format != d.format)
		rc |= px_buf_addf(out, "%sf=%s", SEP, fmt_names[o->format]);
	if (o->dpr != 1)
		rc |= px_buf_addf(out, "%sdpr=%g", SEP, o->dpr);
	if (o->metadata != d.metadata)
		rc |= px_buf_addf(out, "%smetadata=%s", SEP,
				  meta_names[o->metadata]);
	if (o->has_background)
		rc |= px_buf_addf(out, "%sbackground=#%02x%02x%02x%02x", SEP,
				  o->background[0], o->background[1],
				  o->background[2], o->background[3]);
	if (!o->anim)
		rc |= px_buf_addf(out, "%sanim=false", SEP);
#undef SEP
	return rc ? PX_ENOMEM : 0;
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

void px_opts_resolve(const struct px_opts *o, enum px_fmt original,
		     bool has_alpha, int frames, const char *accept,
		     struct px_xform *x, bool *vary)
{
	px_xform_init(x);
	*vary = false;
	x->width = o->width ? (int)lround(o->width * o->dpr) : 0;
	x->height = o->height ? (int)lround(o->height * o->dpr) : 0;
	x->width = PX_MIN(x->width, PX_OPT_MAX_SIDE);
	x->height = PX_MIN(x->height, PX_OPT_MAX_SIDE);
	x->fit = o->fit;
	x->gravity = o->gravity;
	x->gx = o->gx;
	x->gy = o->gy;
	x->quality = o->quality;
	x->metadata = o->metadata;
	memcpy(x->background, o->background, 4);
	x->anim = o->anim;
	switch (o->format) {
	case PX_OUT_JPEG: x->format = PX_FMT_JPEG; break;
	case PX_OUT_PNG: x->format = PX_FMT_PNG; break;
	case PX_OUT_WEBP: x->format = PX_FMT_WEBP; break;
	case PX_OUT_AVIF: x->format = PX_FMT_AVIF; break;
	case PX_OUT_AUTO:
		*vary = true;
		if (frames > 1 && o->anim)
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
