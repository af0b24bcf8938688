/*
 * image.c - the libvips half of the image module (sniff.c recognises
 * formats, container.c works on encoded bytes).
 *
 * Every entry point follows the same order: sniff the bytes (sniff.c),
 * refuse what is not allowed, read the header without decoding a pixel
 * and check it against the limits, and only then build a libvips
 * pipeline. Pipelines are sequential and run with one worker, so memory
 * stays near the output size; vips_thumbnail_buffer() does the heavy
 * part (shrink-on-load, colour management to sRGB), and trimming, the
 * turns (EXIF orientation, flip, rotate), fit modes, gravity, padding,
 * colour adjustments, blur, sharpen, borders, flattening and metadata
 * policy are built around it here, frame by frame for animations.
 * docs/TRANSFORMS.md describes the whole pipeline.
 *
 * libvips keeps one process-wide error buffer, so every failing call is
 * followed at once by vips_err(), which copies the text into the
 * caller's px_errbuf and clears the global buffer.
 */
#include "image/image.h"
#include "core/log.h"
#include "image/container.h"

#include <math.h>
#include <vips/vips.h>

/* The limits used when a caller passes NULL: the upload defaults. */
static const struct px_image_limits default_limits = {
	.max_pixels = 100000000ULL,
	.max_side = 16384,
	.max_frames = 500,
};

/*
 * Encoder settings, chosen from bench/transforms.sh (docs/TRANSFORMS.md
 * has the measurements). Quality 0 in a px_xform means the default here;
 * compression=fast takes every effort to its lowest.
 * - WebP effort 2: ~3x faster than 4 for 0.2-5% more bytes.
 * - AVIF effort 2 (aom speed 7): effort 3 saves 7-11% for +7-115% wall
 *   time, 4 saves 14-28% for 3.7-5.2x. Above AVIF_BIG_PIXELS per frame,
 *   effort 0 (2.3-2.6x faster again) keeps a large AVIF within seconds.
 * - PNG: zlib 6 with adaptive filtering: 14-40% smaller than no filter.
 * - JPEG: progressive (Cloudflare's "jpeg") unless baseline, optimised
 *   Huffman tables, 4:2:0 below Q 90 and 4:4:4 from 90.
 */
#define JPEG_Q_DEFAULT 85
#define WEBP_Q_DEFAULT 80
#define WEBP_EFFORT 2
#define AVIF_Q_DEFAULT 50
#define AVIF_EFFORT 2
#define AVIF_BIG_PIXELS 4200000
#define PNG_COMPRESSION 6
#define PNG_COMPRESSION_FAST 1
#define PNG_FILTER VIPS_FOREIGN_PNG_FILTER_ALL
#define QUANT_EFFORT 7 /* libimagequant, for GIF and palette PNG */

/* Copy and clear the libvips error buffer into eb, on one line. */
static int vips_err(struct px_errbuf *eb, int rc, const char *code,
		    const char *what)
{
	char *z = vips_error_buffer_copy();
	size_t n = z ? strlen(z) : 0;

	while (n > 0 && (z[n - 1] == '\n' || z[n - 1] == ' '))
		z[--n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (z[i] == '\n')
			z[i] = ' ';
	px_errc(eb, rc, code, "%s: %s", what,
		n ? z : "the decoder gave no detail");
	g_free(z);
	return rc;
}

/* libvips and glib warnings (bad EXIF, odd chunks in untrusted files)
 * would otherwise go straight to stderr and break JSON-lines logging. */
static void vips_log_handler(const gchar *domain, GLogLevelFlags level,
			     const gchar *msg, gpointer user)
{
	(void)user;
	px_logf(PX_LOG_DEBUG, "%s: %s", domain ? domain : "glib",
		msg ? msg : "");
	(void)level;
}

int px_image_init(const char *argv0, struct px_errbuf *eb)
{
	/* Every loader is blocked, then the accepted ones are let back in:
	 * an allowlist, so a new libvips build cannot add attack surface.
	 * The named blocks are belt and braces for the worst offenders. */
	static const char *aAllow[] = {
		"VipsForeignLoadJpeg", "VipsForeignLoadPng",
		"VipsForeignLoadWebp", "VipsForeignLoadNsgif",
		"VipsForeignLoadHeif", "VipsForeignLoadTiff",
	};
	static const char *aBlock[] = {
		"VipsForeignLoadSvg",	   "VipsForeignLoadPdf",
		"VipsForeignLoadMagick",   "VipsForeignLoadMatrix",
		"VipsForeignLoadCsv",	   "VipsForeignLoadFits",
		"VipsForeignLoadOpenslide", "VipsForeignLoadOpenexr",
		"VipsForeignLoadVips",	   "VipsForeignLoadRaw",
		"VipsForeignLoadAnalyze",  "VipsForeignLoadPpm",
		"VipsForeignLoadRad",	   "VipsForeignLoadMat",
		"VipsForeignLoadJp2k",	   "VipsForeignLoadJxl",
		"VipsForeignLoadGifMagick", "VipsForeignLoadNifti",
	};
	static bool started;

	if (started)
		return 0;
	if (VIPS_INIT(argv0 ? argv0 : "pictor"))
		return vips_err(eb, PX_EINTERNAL, "image_init_failed",
				"cannot start libvips");
	started = true;
	g_log_set_handler("VIPS",
			  G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE |
				  G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG,
			  vips_log_handler, NULL);
	vips_concurrency_set(1);
	vips_cache_set_max(0);
	vips_cache_set_max_mem(0);
	vips_cache_set_max_files(0);
	vips_block_untrusted_set(TRUE);
	vips_operation_block_set("VipsForeignLoad", TRUE);
	for (size_t i = 0; i < PX_ARRAY_LEN(aAllow); i++)
		vips_operation_block_set(aAllow[i], FALSE);
	for (size_t i = 0; i < PX_ARRAY_LEN(aBlock); i++)
		vips_operation_block_set(aBlock[i], TRUE);
	return 0;
}

void px_image_shutdown(void)
{
	vips_shutdown();
}

const char *px_image_version(void)
{
	return vips_version_string();
}

/* ------------------------------------------------------------------ */
/* Header reading and limits                                           */

struct hdr {
	enum px_fmt fmt;
	int width, height; /* one frame, as stored (before orientation) */
	int frames;
	int orientation;
	bool alpha;
	bool icc;   /* an embedded ICC profile: convert with it */
	bool plain; /* 8-bit sRGB or grey, no profile: pixels as output */
	bool meta;  /* libvips found EXIF, XMP, IPTC or a comment */
};

/* Any metadata libvips reads from the file, whatever the container. */
static bool has_meta_fields(VipsImage *im)
{
	gchar **azField = vips_image_get_fields(im);
	bool found = false;

	for (int i = 0; !found && azField && azField[i]; i++)
		found = strcmp(azField[i], VIPS_META_EXIF_NAME) == 0 ||
			strcmp(azField[i], VIPS_META_XMP_NAME) == 0 ||
			strcmp(azField[i], VIPS_META_IPTC_NAME) == 0 ||
			strstr(azField[i], "comment") != NULL;
	g_strfreev(azField);
	return found;
}

static bool fmt_animated(enum px_fmt f)
{
	return f == PX_FMT_GIF || f == PX_FMT_WEBP;
}

/* The loader nickname prefix each sniffed format must be read by. */
static const char *fmt_loader(enum px_fmt f)
{
	switch (f) {
	case PX_FMT_JPEG: return "jpegload";
	case PX_FMT_PNG: return "pngload";
	case PX_FMT_WEBP: return "webpload";
	case PX_FMT_GIF: return "gifload";
	case PX_FMT_AVIF:
	case PX_FMT_HEIC: return "heifload";
	case PX_FMT_TIFF: return "tiffload";
	default: return NULL;
	}
}

static int check_format(const void *data, size_t n, enum px_fmt *fmt,
			struct px_errbuf *eb)
{
	if (!data || n == 0)
		return px_errc(eb, PX_EINVAL, "empty_input", "image data is empty");
	*fmt = px_image_sniff(data, n);
	if (!px_image_format_allowed(*fmt))
		return px_errc(eb, PX_EUNSUPPORTED, "unsupported_format",
			       "format \"%s\" is not accepted (accepted: JPEG, PNG, WebP, GIF, AVIF, HEIC, TIFF)",
			       px_fmt_name(*fmt));
	return 0;
}

/* Read the header of the first frame only: libvips loaders are lazy,
 * so no pixel is decoded here whatever the header claims. */
static int read_header(const void *data, size_t n,
		       const struct px_image_limits *lim, struct hdr *h,
		       struct px_errbuf *eb)
{
	VipsImage *im = NULL;
	const char *zLoader = NULL;
	uint64_t pixels;
	int rc, pages = 1;

	if (!lim)
		lim = &default_limits;
	memset(h, 0, sizeof(*h));
	if ((rc = check_format(data, n, &h->fmt, eb)))
		return rc;
	im = vips_image_new_from_buffer(data, n, "", "access",
					VIPS_ACCESS_SEQUENTIAL, "fail_on",
					VIPS_FAIL_ON_ERROR, NULL);
	if (!im)
		return vips_err(eb, PX_ECORRUPT, "corrupt_image",
				"cannot read image header");
	if (vips_image_get_typeof(im, "vips-loader") &&
	    !vips_image_get_string(im, "vips-loader", &zLoader) &&
	    !vips_isprefix(fmt_loader(h->fmt), zLoader)) {
		rc = px_errc(eb, PX_EUNSUPPORTED, "unsupported_format",
			     "\"%s\" data read by \"%s\"", px_fmt_name(h->fmt),
			     zLoader);
		goto out;
	}
	h->width = vips_image_get_width(im);
	h->height = vips_image_get_height(im);
	/* The raw count: vips_image_get_n_pages() reports 1 for absurd
	 * values, which would let a 100000-frame GIF past max_frames. */
	if (fmt_animated(h->fmt) &&
	    vips_image_get_typeof(im, VIPS_META_N_PAGES) &&
	    vips_image_get_int(im, VIPS_META_N_PAGES, &pages))
		vips_error_clear();
	h->frames = pages > 1 ? pages : 1;
	h->orientation = vips_image_get_orientation(im);
	if (h->orientation < 1 || h->orientation > 8)
		h->orientation = 1;
	h->alpha = vips_image_hasalpha(im);
	h->icc = vips_image_get_typeof(im, VIPS_META_ICC_NAME) != 0;
	h->plain = !h->icc && im->BandFmt == VIPS_FORMAT_UCHAR &&
		   (im->Type == VIPS_INTERPRETATION_sRGB ||
		    im->Type == VIPS_INTERPRETATION_B_W);
	h->meta = has_meta_fields(im);
	if (h->width <= 0 || h->height <= 0) {
		rc = px_errc(eb, PX_ECORRUPT, "corrupt_image",
			     "image has no pixels");
		goto out;
	}

	/* Pixels first: a decompression bomb is reported as one even when
	 * it is also too wide. */
	pixels = (uint64_t)h->width * (uint64_t)h->height * (uint64_t)h->frames;
	if (pixels > lim->max_pixels) {
		rc = px_errc(eb, PX_ELIMIT, "too_many_pixels",
			     "image has %llu pixels, the limit is %llu",
			     (unsigned long long)pixels,
			     (unsigned long long)lim->max_pixels);
		goto out;
	}
	if (h->width > lim->max_side || h->height > lim->max_side) {
		rc = px_errc(eb, PX_ELIMIT, "dimensions_too_large",
			     "image is %dx%d, the limit is %d per side",
			     h->width, h->height, lim->max_side);
		goto out;
	}
	if (h->frames > lim->max_frames) {
		rc = px_errc(eb, PX_ELIMIT, "too_many_frames",
			     "image has %d frames, the limit is %d", h->frames,
			     lim->max_frames);
		goto out;
	}
	rc = 0;
out:
	g_object_unref(im);
	return rc;
}

static bool orientation_swaps(int o)
{
	return o >= 5 && o <= 8;
}

int px_image_probe(const void *data, size_t n,
		   const struct px_image_limits *lim, struct px_image_info *info,
		   struct px_errbuf *eb)
{
	struct hdr h;
	int rc = read_header(data, n, lim, &h, eb);

	if (rc)
		return rc;
	if (info) {
		bool swap = orientation_swaps(h.orientation);

		info->width = swap ? h.height : h.width;
		info->height = swap ? h.width : h.height;
		info->frames = h.frames;
		info->format = h.fmt;
		info->has_alpha = h.alpha;
		info->orientation = h.orientation;
	}
	return 0;
}

int px_image_verify(const void *data, size_t n, struct px_errbuf *eb)
{
	VipsImage *im;
	enum px_fmt fmt;
	double avg;
	int rc;

	if ((rc = check_format(data, n, &fmt, eb)))
		return rc;
	/* libnsgif decodes a GIF cut short without complaint, drawing what
	 * it has: a whole GIF ends with the 0x3B trailer (zero padding
	 * after it is tolerated). */
	if (fmt == PX_FMT_GIF) {
		const unsigned char *p = data;
		size_t i = n;

		while (i > 0 && p[i - 1] == 0)
			i--;
		if (i == 0 || p[i - 1] != 0x3B)
			return px_errc(eb, PX_ECORRUPT, "corrupt_image",
				       "gif has no trailer: truncated file");
	}
	/* fail_on=error: truncation and decoder errors fail, harmless
	 * warnings (extraneous bytes before a marker, common in camera
	 * files) do not. Every frame of an animation is decoded. */
	if (fmt_animated(fmt))
		im = vips_image_new_from_buffer(
			data, n, "", "access", VIPS_ACCESS_SEQUENTIAL,
			"fail_on", VIPS_FAIL_ON_ERROR, "n", -1, NULL);
	else
		im = vips_image_new_from_buffer(data, n, "", "access",
						VIPS_ACCESS_SEQUENTIAL,
						"fail_on", VIPS_FAIL_ON_ERROR,
						NULL);
	if (!im)
		return vips_err(eb, PX_ECORRUPT, "corrupt_image",
				"cannot read image");
	/* A sequential sink over every scanline: constant memory. */
	if (vips_avg(im, &avg, NULL))
		rc = vips_err(eb, PX_ECORRUPT, "corrupt_image",
			      "cannot decode image");
	g_object_unref(im);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Transform: options and geometry                                     */

void px_xform_init(struct px_xform *x)
{
	memset(x, 0, sizeof(*x));
	x->fit = PX_FIT_SCALE_DOWN;
	x->gravity = PX_GRAVITY_AUTO;
	x->gx = 0.5;
	x->gy = 0.5;
	x->format = PX_FMT_JPEG;
	x->metadata = PX_META_COPYRIGHT;
	x->background[0] = x->background[1] = x->background[2] = 255;
	x->background[3] = 255;
	x->anim = true;
	x->brightness = x->contrast = x->gamma = x->saturation = 1;
	x->border_color[3] = 255; /* opaque black */
}

/* Replace *cur by next, dropping our reference to the old image (next
 * holds its own reference to anything it still needs). */
static void advance(VipsImage **cur, VipsImage *next)
{
	g_object_unref(*cur);
	*cur = next;
}

static int dim(double v)
{
	double r = isfinite(v) ? floor(v + 0.5) : 1;

	if (r < 1)
		return 1;
	if (r > VIPS_MAX_COORD)
		return VIPS_MAX_COORD;
	return (int)r;
}

static int clampi(long v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : (int)v;
}

static double clampd(double v, double lo, double hi, double nan)
{
	if (!isfinite(v))
		return isnan(v) ? nan : v > 0 ? hi : lo;
	return v < lo ? lo : v > hi ? hi : v;
}

/* brightness, contrast, gamma: a factor where 0 means "unchanged" */
static double factor(double v)
{
	return isnan(v) || v <= 0 ? 1 : clampd(v, 0.01, 100, 1);
}

/*
 * One of the eight symmetries of a rectangle: flip horizontally (or not),
 * then turn clockwise by rot degrees. The EXIF orientation, flip and
 * rotate compose into one of these, applied once to output-sized frames:
 * a turn or a flip commutes with resampling, so doing it after the
 * resize gives the same pixels for far less work.
 */
struct dihedral {
	bool flip;
	int rot; /* 0, 90, 180, 270 */
};

/* What makes an image with EXIF orientation o upright (libvips'
 * vips_autorot() turns first and flips second; turned around here). */
static struct dihedral dh_orientation(int o)
{
	static const struct dihedral aO[9] = {
		{false, 0}, {false, 0}, {true, 0},  {false, 180}, {true, 180},
		{true, 270}, {false, 90}, {true, 90}, {false, 270},
	};

	return aO[o >= 1 && o <= 8 ? o : 1];
}

/* Cloudflare: flip first, then rotate. A vertical flip is a horizontal
 * one and half a turn. */
static struct dihedral dh_user(const struct px_xform *x)
{
	long r = x->rotate % 360;
	struct dihedral d;

	if (r < 0)
		r += 360;
	r = (r + 45) / 90 * 90 % 360; /* snap to a quarter turn */
	d.flip = x->flip_h != x->flip_v;
	d.rot = (int)((r + (x->flip_v ? 180 : 0)) % 360);
	return d;
}

/* a, then b (a flip reverses the sense of the turns before it) */
static struct dihedral dh_then(struct dihedral a, struct dihedral b)
{
	struct dihedral d;

	d.flip = a.flip != b.flip;
	d.rot = ((b.flip ? 360 - a.rot : a.rot) + b.rot) % 360;
	return d;
}

static struct dihedral dh_inverse(struct dihedral a)
{
	if (!a.flip)
		a.rot = (360 - a.rot) % 360;
	return a; /* a flip followed by a turn is its own inverse */
}

static bool dh_swaps(struct dihedral d)
{
	return d.rot == 90 || d.rot == 270;
}

static bool dh_identity(struct dihedral d)
{
	return !d.flip && d.rot == 0;
}

struct rect {
	int left, top, width, height;
};

/* Where the rectangle r of a w x h image lands once d is applied. */
static struct rect dh_rect(struct dihedral d, int w, int h, struct rect r)
{
	int x0 = r.left, y0 = r.top, x1 = r.left + r.width;
	int y1 = r.top + r.height, t;
	struct rect o;

	if (d.flip) {
		t = x0;
		x0 = w - x1;
		x1 = w - t;
	}
	switch (d.rot) {
	case 90: /* (x, y) -> (h - y, x) */
		o = (struct rect){h - y1, x0, y1 - y0, x1 - x0};
		break;
	case 180:
		o = (struct rect){w - x1, h - y1, x1 - x0, y1 - y0};
		break;
	case 270: /* (x, y) -> (y, w - x) */
		o = (struct rect){y0, w - x1, y1 - y0, x1 - x0};
		break;
	default:
		o = (struct rect){x0, y0, x1 - x0, y1 - y0};
		break;
	}
	return o;
}

/* The geometry of a transform, in output (upright) coordinates. */
struct geom {
	int rw, rh;   /* size to resize each frame to */
	int cw, ch;   /* crop window inside rw x rh (== rw x rh: no crop) */
	int ow, oh;   /* frame size before borders (pad box, else cw x ch) */
};

/* Cloudflare Image Resizing semantics, see enum px_fit. */
static void plan(int iw, int ih, const struct px_xform *x, struct geom *g)
{
	int w = x->width > 0 ? x->width : 0;
	int h = x->height > 0 ? x->height : 0;
	double sw = (double)w / iw, sh = (double)h / ih, s;

	if (!w && !h) {
		g->rw = iw;
		g->rh = ih;
	} else if (!w || !h) {
		/* One side given: the other follows the aspect ratio, so
		 * every fit is a plain scale; only the non-enlarging ones
		 * stop at the original size. */
		s = w ? sw : sh;
		if ((x->fit == PX_FIT_SCALE_DOWN || x->fit == PX_FIT_CROP) &&
		    s > 1)
			s = 1;
		g->rw = (w && s == sw) ? w : dim(iw * s);
		g->rh = (h && s == sh) ? h : dim(ih * s);
	} else {
		switch (x->fit) {
		case PX_FIT_SQUEEZE:
			g->rw = w;
			g->rh = h;
			break;
		case PX_FIT_COVER:
		case PX_FIT_CROP:
			s = PX_MAX(sw, sh);
			if (x->fit == PX_FIT_CROP && s > 1)
				s = 1;
			g->rw = dim(iw * s);
			g->rh = dim(ih * s);
			if (x->fit == PX_FIT_COVER) {
				g->rw = PX_MAX(g->rw, w);
				g->rh = PX_MAX(g->rh, h);
			}
			g->cw = PX_MIN(w, g->rw);
			g->ch = PX_MIN(h, g->rh);
			g->ow = g->cw;
			g->oh = g->ch;
			return;
		case PX_FIT_SCALE_DOWN:
		case PX_FIT_CONTAIN:
		case PX_FIT_PAD:
		default:
			s = PX_MIN(sw, sh);
			if (x->fit == PX_FIT_SCALE_DOWN && s > 1)
				s = 1;
			g->rw = s == sw ? w : dim(iw * s);
			g->rh = s == sh ? h : dim(ih * s);
			if (x->fit == PX_FIT_PAD) {
				g->cw = g->rw;
				g->ch = g->rh;
				g->ow = w;
				g->oh = h;
				return;
			}
			break;
		}
	}
	g->cw = g->ow = g->rw;
	g->ch = g->oh = g->rh;
}

/* Shrink the whole geometry, aspect kept, until the frame and its
 * borders fit in cap x cap. Never enlarges. */
static void cap_geom(struct geom *g, int cap, const int *b)
{
	int bw = b[1] + b[3], bh = b[0] + b[2];
	bool pad = g->ow != g->cw || g->oh != g->ch;
	double f = 1;

	if (g->ow + bw > cap)
		f = PX_MIN(f, (double)(cap - bw) / g->ow);
	if (g->oh + bh > cap)
		f = PX_MIN(f, (double)(cap - bh) / g->oh);
	if (f >= 1)
		return;
	g->rw = dim(g->rw * f);
	g->rh = dim(g->rh * f);
	g->ow = PX_MIN(dim(g->ow * f), cap - bw);
	g->oh = PX_MIN(dim(g->oh * f), cap - bh);
	g->cw = PX_MIN(PX_MIN(dim(g->cw * f), g->rw), g->ow);
	g->ch = PX_MIN(PX_MIN(dim(g->ch * f), g->rh), g->oh);
	if (!pad) {
		g->ow = g->cw;
		g->oh = g->ch;
	}
}

static bool fmt_has_alpha(enum px_fmt f)
{
	return f == PX_FMT_PNG || f == PX_FMT_WEBP || f == PX_FMT_AVIF ||
	       f == PX_FMT_GIF;
}

static bool output_format_ok(enum px_fmt f)
{
	return f == PX_FMT_JPEG || f == PX_FMT_PNG || f == PX_FMT_WEBP ||
	       f == PX_FMT_AVIF || f == PX_FMT_GIF;
}

/* Everything decided before a pixel is decoded, shared by transform and
 * describe so that the two cannot disagree. */
struct job {
	const struct px_xform *x;
	struct hdr h;
	struct dihedral orient, user, total;
	int iw, ih;        /* the original, upright */
	struct rect trim;  /* upright coordinates; the whole image if none */
	bool trimmed;
	bool face_crop;    /* trim holds the gravity=face window */
	bool redact;       /* redact= with faces to redact */
	enum px_gravity gravity; /* of the crop after the resize */
	struct geom g;     /* output axes, borders excluded */
	int border[4];     /* clamped */
	int frames;        /* output frames */
	bool anim;
	bool pad;          /* g.ow x g.oh is larger than the crop window */
	bool alpha;        /* the output has an alpha band */
	double bright, contrast, gamma, sat, sharpen, blur; /* clamped */
};

static bool job_adjusts(const struct job *j)
{
	return j->bright != 1 || j->contrast != 1 || j->gamma != 1 ||
	       j->sat != 1 || j->sharpen > 0 || j->blur > 0;
}

static bool job_bordered(const struct job *j)
{
	return j->border[0] || j->border[1] || j->border[2] || j->border[3];
}

static int check_output_size(const struct job *j,
			     const struct px_image_limits *lim,
			     struct px_errbuf *eb)
{
	const struct geom *g = &j->g;
	uint64_t fw = (uint64_t)g->ow + j->border[1] + j->border[3];
	uint64_t fh = (uint64_t)g->oh + j->border[0] + j->border[2];
	uint64_t mid = (uint64_t)g->rw * (uint64_t)g->rh * (uint64_t)j->frames;
	uint64_t end = fw * fh * (uint64_t)j->frames;

	if (PX_MAX(mid, end) > lim->max_pixels)
		return px_errc(eb, PX_ELIMIT, "too_many_pixels",
			       "output would have %llu pixels, the limit is %llu",
			       (unsigned long long)PX_MAX(mid, end),
			       (unsigned long long)lim->max_pixels);
	if (fw > (uint64_t)lim->max_side || fh > (uint64_t)lim->max_side)
		return px_errc(eb, PX_ELIMIT, "dimensions_too_large",
			       "output would be %llux%llu, the limit is %d per side",
			       (unsigned long long)fw, (unsigned long long)fh,
			       lim->max_side);
	if (j->frames > lim->max_frames)
		return px_errc(eb, PX_ELIMIT, "too_many_frames",
			       "output would have %d frames, the limit is %d",
			       j->frames, lim->max_frames);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Transform: pixels                                                   */

/* Shrink-on-load, colour-manage and resize to exactly w x h per frame,
 * in stored orientation unless upright. With an embedded profile the
 * pixels are converted with it to sRGB; a profile libvips cannot use is
 * ignored rather than failing the whole image. */
static int thumb(const void *data, size_t n, int w, int h, bool all_frames,
		 bool icc, bool upright, VipsImage **out)
{
	const char *zOpt = all_frames ? "n=-1" : "";
	void *p = (void *)data; /* thumbnail only reads it */

	if (icc) {
		if (!vips_thumbnail_buffer(p, n, out, w, "height", h, "size",
					   VIPS_SIZE_FORCE, "option_string",
					   zOpt, "no_rotate", !upright,
					   "export_profile", "srgb", NULL))
			return 0;
		vips_error_clear();
	}
	return vips_thumbnail_buffer(p, n, out, w, "height", h, "size",
				     VIPS_SIZE_FORCE, "option_string", zOpt,
				     "no_rotate", !upright, NULL);
}

/* 8-bit sRGB, at most one alpha band. */
static int to_srgb8(VipsImage **im)
{
	VipsImage *t;

	if ((*im)->Type != VIPS_INTERPRETATION_sRGB) {
		if (vips_colourspace(*im, &t, VIPS_INTERPRETATION_sRGB, NULL))
			return -1;
		advance(im, t);
	}
	if ((*im)->BandFmt != VIPS_FORMAT_UCHAR) {
		if (vips_cast(*im, &t, VIPS_FORMAT_UCHAR, NULL))
			return -1;
		advance(im, t);
	}
	if ((*im)->Bands > 4 || (*im)->Bands == 2) {
		if (vips_extract_band(*im, &t, 0, "n",
				      (*im)->Bands > 4 ? 4 : 1, NULL))
			return -1;
		advance(im, t);
	}
	return 0;
}

/* An operation on one frame; returns a new reference in *out. */
typedef int (*frame_fn)(VipsImage *in, VipsImage **out, const void *ctx);

/*
 * Run fn over every frame of a toilet-roll image (frames of page_h rows
 * stacked vertically) and stack the results again. Operations with a
 * neighbourhood (resize, blur, sharpen) and geometry (crop, pad, turn)
 * must not see two frames at once. *page_h receives the new frame height.
 */
static int map_frames(VipsImage **im, int *page_h, int frames, frame_fn fn,
		      const void *ctx)
{
	VipsImage **a = NULL, *t = NULL, *j = NULL;
	int rc = -1, i;

	a = g_new0(VipsImage *, frames);
	for (i = 0; i < frames; i++) {
		VipsImage *page = *im;
		int r;

		if (frames > 1) {
			if (vips_extract_area(*im, &page, 0, i * *page_h,
					      (*im)->Xsize, *page_h, NULL))
				goto out;
		} else {
			g_object_ref(page);
		}
		r = fn(page, &a[i], ctx);
		g_object_unref(page);
		if (r)
			goto out;
		if (i > 0 && (a[i]->Xsize != a[0]->Xsize ||
			      a[i]->Ysize != a[0]->Ysize ||
			      a[i]->Bands != a[0]->Bands)) {
			vips_error("pictor", "frame %d came out %dx%d", i,
				   a[i]->Xsize, a[i]->Ysize);
			goto out;
		}
	}
	if (frames > 1) {
		if (vips_arrayjoin(a, &j, frames, "across", 1, NULL))
			goto out;
	} else {
		j = a[0];
		g_object_ref(j);
	}
	if (vips_copy(j, &t, NULL))
		goto out;
	*page_h = a[0]->Ysize;
	vips_image_set_int(t, VIPS_META_PAGE_HEIGHT, *page_h);
	advance(im, t);
	rc = 0;
out:
	if (j)
		g_object_unref(j);
	for (i = 0; i < frames; i++)
		if (a[i])
			g_object_unref(a[i]);
	g_free(a);
	return rc;
}

/* Crop to a rectangle; the part outside the frame, if any, repeats the
 * edge pixels so that the result is always exactly r.width x r.height. */
static int fr_extract(VipsImage *in, VipsImage **out, const void *ctx)
{
	const struct rect *r = ctx;
	int l = clampi(r->left, 0, in->Xsize - 1);
	int t = clampi(r->top, 0, in->Ysize - 1);
	int w = PX_MIN(r->width, in->Xsize - l);
	int h = PX_MIN(r->height, in->Ysize - t);
	VipsImage *c;

	if (vips_extract_area(in, &c, l, t, w, h, NULL))
		return -1;
	if (w == r->width && h == r->height) {
		*out = c;
		return 0;
	}
	if (vips_embed(c, out, 0, 0, r->width, r->height, "extend",
		       VIPS_EXTEND_COPY, NULL)) {
		g_object_unref(c);
		return -1;
	}
	g_object_unref(c);
	return 0;
}

struct pad_args {
	int left, top, width, height;
	VipsArrayDouble *bg;
};

static int fr_embed(VipsImage *in, VipsImage **out, const void *ctx)
{
	const struct pad_args *p = ctx;

	return vips_embed(in, out, p->left, p->top, p->width, p->height,
			  "extend", VIPS_EXTEND_BACKGROUND, "background", p->bg,
			  NULL);
}

static int fr_dihedral(VipsImage *in, VipsImage **out, const void *ctx)
{
	const struct dihedral *d = ctx;
	VipsImage *im = in, *t;

	g_object_ref(im);
	if (d->flip) {
		if (vips_flip(im, &t, VIPS_DIRECTION_HORIZONTAL, NULL))
			goto fail;
		advance(&im, t);
	}
	if (d->rot) {
		VipsAngle a = d->rot == 90    ? VIPS_ANGLE_D90
			      : d->rot == 180 ? VIPS_ANGLE_D180
					      : VIPS_ANGLE_D270;

		if (vips_rot(im, &t, a, NULL))
			goto fail;
		advance(&im, t);
	}
	*out = im;
	return 0;
fail:
	g_object_unref(im);
	return -1;
}

/* Apply op to the colour of in, alpha premultiplied around it so that
 * transparent pixels lend no colour to their neighbours; back to 8 bits.
 * op receives a float image. */
static int premultiplied(VipsImage *in, VipsImage **out,
			 int (*op)(VipsImage *, VipsImage **, const void *),
			 const void *ctx)
{
	VipsImage *im = in, *t;

	g_object_ref(im);
	if (vips_image_hasalpha(im)) {
		if (vips_premultiply(im, &t, NULL))
			goto fail;
		advance(&im, t);
	}
	if (op(im, &t, ctx))
		goto fail;
	advance(&im, t);
	if (vips_image_hasalpha(in)) {
		if (vips_unpremultiply(im, &t, NULL))
			goto fail;
		advance(&im, t);
	}
	if (vips_cast(im, &t, VIPS_FORMAT_UCHAR, NULL))
		goto fail;
	advance(&im, t);
	*out = im;
	return 0;
fail:
	g_object_unref(im);
	return -1;
}

struct size {
	int width, height;
};

static int op_resize(VipsImage *in, VipsImage **out, const void *ctx)
{
	const struct size *s = ctx;
	struct rect r = {0, 0, s->width, s->height};
	VipsImage *t;
	int rc;

	if (vips_resize(in, &t, (double)s->width / in->Xsize, "vscale",
			(double)s->height / in->Ysize, NULL))
		return -1;
	/* vips_resize rounds; make the size exact */
	rc = fr_extract(t, out, &r);
	g_object_unref(t);
	return rc;
}

static int fr_resize(VipsImage *in, VipsImage **out, const void *ctx)
{
	return premultiplied(in, out, op_resize, ctx);
}

/* Blur radius r is a Gaussian of sigma r / 2. A wide Gaussian is done on
 * a copy shrunk so that sigma is BLUR_SIGMA_SMALL there and enlarged back:
 * a blurred image has nothing the shrink could lose, and the cost stays
 * flat instead of growing with the radius (sigma 125 direct is ~450 taps
 * per pixel and pass). */
#define BLUR_SIGMA_DIRECT 10.0
#define BLUR_SIGMA_SMALL 5.0

static int op_blur(VipsImage *in, VipsImage **out, const void *ctx)
{
	double sigma = *(const double *)ctx, f;
	struct size full = {in->Xsize, in->Ysize};
	VipsImage *s = NULL, *b = NULL;
	int rc = -1;

	if (sigma <= BLUR_SIGMA_DIRECT)
		return vips_gaussblur(in, out, sigma, NULL);
	f = sigma / BLUR_SIGMA_SMALL;
	if (vips_resize(in, &s, 1.0 / f, NULL) ||
	    vips_gaussblur(s, &b, sigma * s->Xsize / in->Xsize, NULL) ||
	    op_resize(b, out, &full))
		goto out;
	rc = 0;
out:
	if (s)
		g_object_unref(s);
	if (b)
		g_object_unref(b);
	return rc;
}

static int fr_blur(VipsImage *in, VipsImage **out, const void *ctx)
{
	return premultiplied(in, out, op_blur, ctx);
}

/*
 * Cloudflare's sharpen is 0-10, "1 recommended for downscaled images".
 * libvips' unsharp mask works on L* (alpha passes through): sigma 1,
 * flat areas (a difference under x1 = 2) left alone so noise is not
 * amplified, the jaggy-area slope m2 the strength itself, and the
 * brightening and darkening bounded (y2, y3) so that 10 is strong
 * without halos.
 */
static int fr_sharpen(VipsImage *in, VipsImage **out, const void *ctx)
{
	double s = *(const double *)ctx;
	VipsImage *t;

	if (vips_sharpen(in, &t, "sigma", 1.0, "x1", 2.0, "y2", 10.0, "y3",
			 20.0, "m1", 0.0, "m2", s, NULL))
		return -1;
	if (to_srgb8(&t)) {
		g_object_unref(t);
		return -1;
	}
	*out = t;
	return 0;
}

/* Brightness, contrast and gamma on each colour band as one table:
 * v * brightness, then (v - 128) * contrast + 128, then 255 (v/255)^gamma
 * (gamma < 1 lightens, Cloudflare's current wording). Alpha is left
 * alone. */
static int apply_levels(VipsImage **im, const struct job *j)
{
	int nb = (*im)->Bands, nc = vips_image_hasalpha(*im) ? nb - 1 : nb;
	unsigned char *a = g_malloc((size_t)256 * nb);
	VipsImage *lut, *t;
	int rc;

	for (int v = 0; v < 256; v++) {
		double f = v * j->bright;

		f = (f - 128) * j->contrast + 128;
		f = 255 * pow(PX_MAX(0.0, PX_MIN(1.0, f / 255)), j->gamma);
		for (int b = 0; b < nb; b++)
			a[v * nb + b] = b < nc ? (unsigned char)clampi(lround(f), 0, 255)
					       : (unsigned char)v;
	}
	lut = vips_image_new_from_memory_copy(a, (size_t)256 * nb, 256, 1, nb,
					      VIPS_FORMAT_UCHAR);
	g_free(a);
	if (!lut)
		return -1;
	rc = vips_maplut(*im, &t, lut, NULL);
	g_object_unref(lut);
	if (rc)
		return -1;
	advance(im, t);
	return 0;
}

/* Saturation scales chroma in CIE LCh, so 0.5 is half as colourful at
 * the same lightness and 0 is a grey of the same L*. */
static int apply_saturation(VipsImage **im, double s)
{
	double aA[4] = {1, s, 1, 1}, aB[4] = {0, 0, 0, 0};
	VipsImage *t;

	if (vips_colourspace(*im, &t, VIPS_INTERPRETATION_LCH, NULL))
		return -1;
	advance(im, t);
	if (vips_linear(*im, &t, aA, aB, (*im)->Bands, NULL))
		return -1;
	advance(im, t);
	if (vips_colourspace(*im, &t, VIPS_INTERPRETATION_sRGB, NULL))
		return -1;
	advance(im, t);
	return to_srgb8(im);
}

/* Where the crop window goes. AUTO (and FACE on an image never looked
 * at for faces) asks libvips' attention detector about the first frame (in memory: it needs random
 * access, and the image is output-sized by now) and centres the window
 * on its answer. */
static int crop_origin(VipsImage **im, int page_h, const struct px_xform *x,
		       enum px_gravity gravity, const struct geom *g,
		       int *left, int *top)
{
	int rw = (*im)->Xsize, dx = rw - g->cw, dy = page_h - g->ch;
	double fx = 0.5, fy = 0.5;

	switch (gravity) {
	case PX_GRAVITY_LEFT: fx = 0; break;
	case PX_GRAVITY_RIGHT: fx = 1; break;
	case PX_GRAVITY_TOP: fy = 0; break;
	case PX_GRAVITY_BOTTOM: fy = 1; break;
	case PX_GRAVITY_POINT:
		fx = isfinite(x->gx) ? PX_MAX(0.0, PX_MIN(1.0, x->gx)) : 0.5;
		fy = isfinite(x->gy) ? PX_MAX(0.0, PX_MIN(1.0, x->gy)) : 0.5;
		break;
	case PX_GRAVITY_AUTO:
	case PX_GRAVITY_FACE: {
		VipsImage *m, *f = NULL, *sc = NULL;
		int ax = 0, ay = 0, r;

		if (dx == 0 && dy == 0)
			break;
		if (!(m = vips_image_copy_memory(*im)))
			return -1;
		advance(im, m);
		if (vips_extract_area(m, &f, 0, 0, rw, page_h, NULL))
			return -1;
		r = vips_smartcrop(f, &sc, g->cw, g->ch, "interesting",
				   VIPS_INTERESTING_ATTENTION, "attention_x",
				   &ax, "attention_y", &ay, NULL);
		g_object_unref(f);
		if (r)
			return -1;
		g_object_unref(sc);
		*left = clampi(ax - g->cw / 2, 0, dx);
		*top = clampi(ay - g->ch / 2, 0, dy);
		return 0;
	}
	case PX_GRAVITY_CENTER:
	default:
		break;
	}
	/* The focal point as centred as the image edges allow. */
	*left = clampi(lround(fx * rw - g->cw / 2.0), 0, dx);
	*top = clampi(lround(fy * page_h - g->ch / 2.0), 0, dy);
	return 0;
}

/*
 * trim=border: the box left once a uniform border is removed, in upright
 * coordinates, found on a full-size sRGB decode of the first frame with
 * libvips' find_trim (a 3x3 median against noise, then every pixel
 * further than the tolerance from the border colour in any channel is
 * content). Without a colour, the border is the colour of the upright
 * image's top-left pixel, read by a decode that stops after that pixel's
 * row. An image that is all border, or under 3 px on a side (too small
 * for the median), is left whole.
 */
static int find_border(const void *data, size_t n, struct job *j,
		       struct px_errbuf *eb)
{
	const struct px_xform *x = j->x;
	VipsImage *im = NULL, *t;
	VipsArrayDouble *bg = NULL;
	double aBg[3], *aPx = NULL;
	struct rect r;
	int nPx = 0, keep, rc = PX_EINTERNAL;

	if (j->h.width < 3 || j->h.height < 3)
		return 0;
	if (x->trim_has_color) {
		for (int i = 0; i < 3; i++)
			aBg[i] = x->trim_color[i];
	} else {
		struct rect p = dh_rect(dh_inverse(j->orient), j->iw, j->ih,
					(struct rect){0, 0, 1, 1});

		if (thumb(data, n, j->h.width, j->h.height, false, j->h.icc,
			  false, &im))
			goto corrupt;
		if (to_srgb8(&im) ||
		    vips_extract_area(im, &t, p.left, p.top, 1, 1, NULL))
			goto fail;
		advance(&im, t);
		if (vips_getpoint(im, &aPx, &nPx, 0, 0, NULL) || nPx < 1)
			goto fail;
		for (int i = 0; i < 3; i++)
			aBg[i] = aPx[PX_MIN(i, nPx - 1)];
		g_free(aPx);
		g_object_unref(im);
		im = NULL;
	}
	if (thumb(data, n, j->h.width, j->h.height, false, j->h.icc, false,
		  &im))
		goto corrupt;
	if (to_srgb8(&im))
		goto fail;
	bg = vips_array_double_new(aBg, 3);
	if (vips_find_trim(im, &r.left, &r.top, &r.width, &r.height,
			   "threshold", clampd(x->trim_tolerance, 0, 255, 0),
			   "background", bg, NULL))
		goto fail;
	if (r.width > 0 && r.height > 0) {
		r = dh_rect(j->orient, j->h.width, j->h.height, r);
		keep = clampi(x->trim_keep, 0, PX_MAX(j->iw, j->ih));
		j->trim.left = PX_MAX(0, r.left - keep);
		j->trim.top = PX_MAX(0, r.top - keep);
		j->trim.width = PX_MIN(j->iw, r.left + r.width + keep) -
				j->trim.left;
		j->trim.height = PX_MIN(j->ih, r.top + r.height + keep) -
				 j->trim.top;
	}
	rc = 0;
	goto out;
corrupt:
	rc = vips_err(eb, PX_ECORRUPT, "corrupt_image", "cannot load image");
	goto out;
fail:
	rc = vips_err(eb, PX_EINTERNAL, "transform_failed",
		      "cannot find the border to trim");
out:
	if (bg)
		vips_area_unref(VIPS_AREA(bg));
	if (im)
		g_object_unref(im);
	return rc;
}

/* The geometry, frames and alpha of j from its xform, trim box and
 * borders. A placeholder is one frame. */
static void plan_job(struct job *j, int cap)
{
	const struct px_xform *x = j->x;
	int tw = dh_swaps(j->user) ? j->trim.height : j->trim.width;
	int th = dh_swaps(j->user) ? j->trim.width : j->trim.height;

	plan(tw, th, x, &j->g);
	cap_geom(&j->g, cap, j->border);
	j->anim = x->anim && !x->placeholder && j->h.frames > 1 &&
		  (x->format == PX_FMT_GIF || x->format == PX_FMT_WEBP);
	j->frames = j->anim ? j->h.frames : 1;
	j->pad = j->g.ow != j->g.cw || j->g.oh != j->g.ch;
	j->alpha = fmt_has_alpha(x->format) &&
		   (j->h.alpha || (j->pad && x->background[3] < 255) ||
		    (job_bordered(j) && x->border_color[3] < 255));
}

/*
 * gravity=face on an image with faces: the window around them becomes
 * the trim box (upright coordinates, inside any trim asked for), of the
 * output's aspect ratio, so the resize fills the output with it and the
 * crop after it is at most a rounding pixel (from the centre). Faces
 * looked for and none found: Cloudflare's fallback, the centre. Only
 * fits that crop (cover, crop with both sides given) have a window.
 */
static void face_window(struct job *j)
{
	const struct px_xform *x = j->x;
	struct px_image_box rel[PX_IMAGE_FACES_MAX];
	int n = PX_MIN(x->nfaces, PX_IMAGE_FACES_MAX), tw, th, r[4];
	bool swap = dh_swaps(j->user);

	j->gravity = x->gravity;
	if (x->gravity != PX_GRAVITY_FACE || !x->faces_known)
		return;
	j->gravity = PX_GRAVITY_CENTER;
	if (n <= 0 || x->width <= 0 || x->height <= 0 ||
	    (x->fit != PX_FIT_COVER && x->fit != PX_FIT_CROP))
		return;
	tw = swap ? x->height : x->width;
	th = swap ? x->width : x->height;
	for (int i = 0; i < n; i++) {
		rel[i] = x->faces[i];
		rel[i].x -= (float)j->trim.left;
		rel[i].y -= (float)j->trim.top;
	}
	if (!px_face_crop(j->trim.width, j->trim.height, (double)tw / th,
			  x->zoom, rel, n, x->fit == PX_FIT_CROP ? tw : 0,
			  x->fit == PX_FIT_CROP ? th : 0, r))
		return;
	j->trim = (struct rect){j->trim.left + r[0], j->trim.top + r[1], r[2],
				r[3]};
	j->face_crop = true;
}

/* Validate and clamp x, read the header, find the trim box, plan the
 * geometry and check it against the limits. Decodes nothing unless
 * x->trim_border. */
static int prepare(const void *data, size_t n, const struct px_xform *x,
		   const struct px_image_limits *lim, struct job *j,
		   struct px_errbuf *eb)
{
	int cap, rc;

	memset(j, 0, sizeof(*j));
	j->x = x;
	if (!output_format_ok(x->format))
		return px_errc(eb, PX_EINVAL, "unsupported_output",
			       "cannot encode \"%s\"", px_fmt_name(x->format));
	if (x->width < 0 || x->height < 0)
		return px_errc(eb, PX_EINVAL, "invalid_size",
			       "negative width or height");
	if ((rc = read_header(data, n, lim, &j->h, eb)))
		return rc;

	j->bright = factor(x->brightness);
	j->contrast = factor(x->contrast);
	j->gamma = factor(x->gamma);
	j->sat = clampd(x->saturation, 0, 100, 1);
	j->sharpen = clampd(x->sharpen, 0, 10, 0);
	j->blur = clampd(x->blur, 0, 250, 0);
	cap = x->max_output > 0 ? PX_MIN(x->max_output, VIPS_MAX_COORD) : 8192;
	for (int i = 0; i < 4; i++)
		j->border[i] = clampi(x->border[i], 0, cap / 4);

	j->orient = dh_orientation(j->h.orientation);
	j->user = dh_user(x);
	j->total = dh_then(j->orient, j->user);
	j->iw = dh_swaps(j->orient) ? j->h.height : j->h.width;
	j->ih = dh_swaps(j->orient) ? j->h.width : j->h.height;
	j->trim = (struct rect){0, 0, j->iw, j->ih};
	if (x->trim_border) {
		if ((rc = find_border(data, n, j, eb)))
			return rc;
	} else {
		int l = clampi(x->trim[3], 0, j->iw - 1);
		int r = clampi(x->trim[1], 0, j->iw - 1 - l);
		int t = clampi(x->trim[0], 0, j->ih - 1);
		int b = clampi(x->trim[2], 0, j->ih - 1 - t);

		j->trim = (struct rect){l, t, j->iw - l - r, j->ih - t - b};
	}
	j->redact = x->redact != PX_REDACT_NONE && x->nfaces > 0;
	face_window(j);
	j->trimmed = j->trim.width != j->iw || j->trim.height != j->ih;
	plan_job(j, cap);
	return check_output_size(j, lim, eb);
}

/* redact=faces on one part of a frame: a Gaussian blur wide enough to
 * leave nothing of a face (sigma half the padded box's larger side; its
 * own edge pixels extend it, so nothing outside the box bleeds in), or
 * blocks of a tenth of that side. */
static int redact_part(VipsImage *in, VipsImage **out, enum px_redact how)
{
	int side = PX_MAX(in->Xsize, in->Ysize);
	VipsImage *small = NULL, *big = NULL;
	struct rect r = {0, 0, in->Xsize, in->Ysize};
	int rc = -1, block;

	if (how != PX_REDACT_PIXELATE) {
		double sigma = PX_MAX(side / 2.0, 1.0);

		return premultiplied(in, out, op_blur, &sigma);
	}
	block = PX_MAX(side / 10, 2);
	if (vips_resize(in, &small, 1.0 / block, "kernel",
			VIPS_KERNEL_LINEAR, NULL) ||
	    vips_zoom(small, &big, block, block, NULL) ||
	    fr_extract(big, out, &r))
		goto out;
	rc = 0;
out:
	if (small)
		g_object_unref(small);
	if (big)
		g_object_unref(big);
	return rc;
}

/* Every face box of the upright original, padded, found in this frame
 * (stored orientation) and redacted in place. */
static int fr_redact(VipsImage *in, VipsImage **out, const void *ctx)
{
	const struct job *j = ctx;
	const struct px_xform *x = j->x;
	struct dihedral back = dh_inverse(j->orient);
	VipsImage *im = in, *t;

	g_object_ref(im);
	for (int i = 0; i < x->nfaces && i < PX_IMAGE_FACES_MAX; i++) {
		VipsImage *part = NULL, *done = NULL;
		struct rect u, sr;
		int b[4], rc;

		if (!px_redact_rect(j->iw, j->ih, &x->faces[i], b))
			continue;
		u = (struct rect){b[0], b[1], b[2], b[3]};
		sr = dh_rect(back, j->iw, j->ih, u);
		sr.left = clampi(sr.left, 0, im->Xsize - 1);
		sr.top = clampi(sr.top, 0, im->Ysize - 1);
		sr.width = PX_MIN(sr.width, im->Xsize - sr.left);
		sr.height = PX_MIN(sr.height, im->Ysize - sr.top);
		if (sr.width < 1 || sr.height < 1)
			continue;
		if (vips_extract_area(im, &part, sr.left, sr.top, sr.width,
				      sr.height, NULL))
			goto fail;
		rc = redact_part(part, &done, x->redact);
		g_object_unref(part);
		if (rc)
			goto fail;
		rc = vips_insert(im, done, &t, sr.left, sr.top, NULL);
		g_object_unref(done);
		if (rc)
			goto fail;
		advance(&im, t);
	}
	*out = im;
	return 0;
fail:
	g_object_unref(im);
	return -1;
}

/*
 * Decode to frames of exactly the resize size, still in stored
 * orientation (the turn comes later, on output-sized frames). Without a
 * trim, vips_thumbnail_buffer() shrinks on load and resizes. With one,
 * the box is cut from a full-size decode and then resized, frame by
 * frame: cutting a shrunk image instead would put the box edges up to
 * half an output pixel off, and shifts the whole picture by as much.
 */
static int load(const void *data, size_t n, const struct job *j,
		VipsImage **out, int *page_h)
{
	bool swap = dh_swaps(j->total);
	struct size s = {swap ? j->g.rh : j->g.rw, swap ? j->g.rw : j->g.rh};
	bool full = j->trimmed || j->redact;
	struct rect r;

	*out = NULL;
	if (thumb(data, n, full ? j->h.width : s.width,
		  full ? j->h.height : s.height, j->anim, j->h.icc, false, out))
		return -1;
	*page_h = j->anim ? vips_image_get_page_height(*out) : (*out)->Ysize;
	if (!full)
		return 0;
	/* Faces are redacted at full size, before anything moves them. */
	if (j->redact &&
	    (to_srgb8(out) || map_frames(out, page_h, j->frames, fr_redact, j)))
		return -1;
	r = dh_rect(dh_inverse(j->orient), j->iw, j->ih, j->trim);
	if (map_frames(out, page_h, j->frames, fr_extract, &r))
		return -1;
	if (r.width == s.width && r.height == s.height)
		return 0;
	return map_frames(out, page_h, j->frames, fr_resize, &s);
}

/* Add an opaque alpha band, or flatten one away onto bg. */
static int set_alpha(VipsImage **im, bool want, VipsArrayDouble *bg)
{
	VipsImage *t;

	if (want == (bool)vips_image_hasalpha(*im))
		return 0;
	if (want) {
		if (vips_bandjoin_const1(*im, &t, 255, NULL))
			return -1;
		advance(im, t);
		return 0;
	}
	if (vips_flatten(*im, &t, "background", bg, NULL))
		return -1;
	advance(im, t);
	return to_srgb8(im);
}

/* Metadata policy. Returns whether the saver should strip. The ICC
 * profile always goes (pixels are sRGB now) and so does the orientation
 * (pixels are upright). For COPYRIGHT every field but the EXIF block and
 * its Copyright tag is removed from the image (Cloudflare's meaning:
 * "discard all metadata except the EXIF copyright tag"); libvips then
 * rebuilds the EXIF block and drops every tag without a matching field,
 * GPS included. When stripping, the metadata blobs are removed from the
 * image as well: libvips 8.14.1's webpsave ignores "strip" (fixed in
 * 8.14.2), and a field that is not there cannot leak. */
static bool apply_meta(VipsImage *im, enum px_meta meta)
{
	/* Fields the encoders need for animation; never metadata. */
	static const char *aFrame[] = {
		VIPS_META_PAGE_HEIGHT, "delay", "gif-delay", "loop",
		"gif-loop", VIPS_META_N_PAGES, "vips-sequential",
	};
	static const char *aCopyright[] = {
		VIPS_META_EXIF_NAME, "exif-ifd0-Copyright",
		VIPS_META_RESOLUTION_UNIT,
	};
	gchar **azField;
	bool strip;

	vips_image_remove(im, VIPS_META_ORIENTATION);
	vips_image_remove(im, VIPS_META_ICC_NAME);
	if (meta == PX_META_KEEP)
		return false;
	strip = meta == PX_META_NONE ||
		!vips_image_get_typeof(im, VIPS_META_EXIF_NAME) ||
		!vips_image_get_typeof(im, "exif-ifd0-Copyright");
	azField = vips_image_get_fields(im);
	for (int i = 0; azField && azField[i]; i++) {
		bool keep = false;

		for (size_t k = 0; k < PX_ARRAY_LEN(aFrame); k++)
			keep = keep || strcmp(azField[i], aFrame[k]) == 0;
		for (size_t k = 0; !strip && k < PX_ARRAY_LEN(aCopyright); k++)
			keep = keep || strcmp(azField[i], aCopyright[k]) == 0;
		/* the built-in header fields (width, xres, ...) are not
		 * in the metadata table: removing them does nothing */
		if (!keep)
			vips_image_remove(im, azField[i]);
	}
	g_strfreev(azField);
	return strip;
}

static int quality(int q, int def)
{
	return q <= 0 ? def : q > 100 ? 100 : q;
}

/* Encoder settings: see the constants at the top and docs/TRANSFORMS.md. */
static int save(VipsImage *im, const struct px_xform *x, bool strip,
		void **buf, size_t *len)
{
	bool fast = x->fast;
	int q, page_h = vips_image_get_page_height(im);

	switch (x->format) {
	case PX_FMT_JPEG:
		return vips_jpegsave_buffer(
			im, buf, len, "Q", quality(x->quality, JPEG_Q_DEFAULT),
			"interlace", !x->baseline && !fast, "optimize_coding",
			!fast, "subsample_mode", VIPS_FOREIGN_SUBSAMPLE_AUTO,
			"strip", strip, NULL);
	case PX_FMT_PNG:
		/* An explicit quality allows a palette (Cloudflare); 100
		 * asks for no loss, so it stays truecolour. */
		return vips_pngsave_buffer(
			im, buf, len, "compression",
			fast ? PNG_COMPRESSION_FAST : PNG_COMPRESSION, "filter",
			fast ? VIPS_FOREIGN_PNG_FILTER_NONE : PNG_FILTER,
			"palette", x->quality > 0 && x->quality < 100, "Q",
			quality(x->quality, 100),
			"effort", fast ? 1 : QUANT_EFFORT, "strip", strip, NULL);
	case PX_FMT_WEBP:
		q = quality(x->quality, WEBP_Q_DEFAULT);
		return vips_webpsave_buffer(im, buf, len, "Q", q, "lossless",
					    q == 100, "effort",
					    fast ? 0 : WEBP_EFFORT, "strip",
					    strip, NULL);
	case PX_FMT_AVIF:
		return vips_heifsave_buffer(
			im, buf, len, "Q", quality(x->quality, AVIF_Q_DEFAULT),
			"compression", VIPS_FOREIGN_HEIF_COMPRESSION_AV1,
			"effort",
			fast || (uint64_t)im->Xsize * page_h > AVIF_BIG_PIXELS
				? 0
				: AVIF_EFFORT,
			"bitdepth", 8,
			"subsample_mode", VIPS_FOREIGN_SUBSAMPLE_AUTO, "strip",
			strip, NULL);
	case PX_FMT_GIF:
		return vips_gifsave_buffer(im, buf, len, "effort",
					   fast ? 1 : QUANT_EFFORT, "strip",
					   strip, NULL);
	default:
		vips_error("pictor", "no encoder for %s",
			   px_fmt_name(x->format));
		return -1;
	}
}

/*
 * "Never larger than needed": the original may stand in for the output
 * when the transform changes nothing (same format; upright, untrimmed,
 * unturned; resize, crop and pad all identities; no colour operation,
 * no border; every frame kept), when its pixels are what the output's
 * would be (8-bit sRGB or grey, no colour profile or gamma chunk, EXIF
 * orientation 1) and when it carries nothing the metadata policy must
 * remove (under copyright and none: no EXIF, XMP, IPTC, comment, text or
 * unknown block at all) nor anything a decoder would ignore (APNG or
 * AVIF frames, bytes after the end).
 */
static bool original_will_do(const void *data, size_t n, const struct job *j)
{
	const struct px_xform *x = j->x;
	const struct geom *g = &j->g;
	struct px_container c;

	if (x->format != j->h.fmt || !j->h.plain || j->h.orientation != 1 ||
	    j->trimmed || j->redact || !dh_identity(j->total) || job_adjusts(j) ||
	    job_bordered(j) || j->frames != j->h.frames ||
	    j->alpha != j->h.alpha)
		return false;
	if (g->rw != j->iw || g->rh != j->ih || g->ow != j->iw ||
	    g->oh != j->ih || g->cw != j->iw || g->ch != j->ih)
		return false;
	if (x->metadata != PX_META_KEEP && j->h.meta)
		return false;
	px_image_container_scan(data, n, j->h.fmt, &c);
	return c.ok && !c.colour && !c.extra &&
	       (x->metadata == PX_META_KEEP || !c.meta);
}

static void job_info(const struct job *j, struct px_image_info *oi)
{
	oi->width = j->g.ow + j->border[1] + j->border[3];
	oi->height = j->g.oh + j->border[0] + j->border[2];
	oi->frames = j->frames;
	oi->format = j->x->format;
	oi->has_alpha = j->alpha;
	oi->orientation = 1;
}

int px_image_describe(const void *data, size_t n, const struct px_xform *x,
		      const struct px_image_limits *lim,
		      struct px_image_info *in, struct px_image_info *out,
		      struct px_errbuf *eb)
{
	struct job j;
	int rc;

	if (!lim)
		lim = &default_limits;
	if ((rc = prepare(data, n, x, lim, &j, eb)))
		return rc;
	if (in) {
		in->width = j.iw;
		in->height = j.ih;
		in->frames = j.h.frames;
		in->format = j.h.fmt;
		in->has_alpha = j.h.alpha;
		in->orientation = j.h.orientation;
	}
	if (out)
		job_info(&j, out);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Render budget                                                       */

/*
 * libvips evaluates a pipeline in sinks (the encoder's, and
 * vips_image_copy_memory()'s), and between two tiles a sink emits "eval"
 * on the image marked with vips_image_set_progress(); that mark is handed
 * down to every image built from it. So the image load() returns is
 * marked, and the handler below kills the image being evaluated once the
 * deadline passes: the sink stops at the next tile and the transform
 * fails, freeing the worker. Work inside one tile (libimagequant on one
 * GIF frame, the AV1 encoder on a whole frame) finishes first. The same
 * handler asks x->abandoned (at most every PX_IMAGE_ABANDON_MS) whether
 * the answer is still wanted, and stops the render the same way when
 * it is not.
 */
struct budget {
	int64_t deadline_us; /* 0: unbounded */
	int budget_ms;
	bool expired, abandoned;
	bool (*ask)(void *arg); /* x->abandoned */
	void *ask_arg;
	int64_t asked_us;
	VipsImage *sig; /* the image "eval" is emitted on (a reference) */
	gulong id;
};

static void on_eval(VipsImage *im, VipsProgress *prog, void *arg)
{
	struct budget *b = arg;
	int64_t now = px_mono_us();

	(void)im;
	if (b->ask && now - b->asked_us >= PX_IMAGE_ABANDON_MS * 1000) {
		b->asked_us = now;
		if (b->ask(b->ask_arg)) {
			b->abandoned = true;
			vips_image_set_kill(prog->im, TRUE);
			return;
		}
	}
	if (!b->deadline_us || now < b->deadline_us)
		return;
	b->expired = true;
	vips_image_set_kill(prog->im, TRUE);
}

static void budget_start(struct budget *b, const struct px_xform *x)
{
	memset(b, 0, sizeof(*b));
	b->budget_ms = x->budget_ms;
	if (x->budget_ms > 0)
		b->deadline_us = px_mono_us() + (int64_t)x->budget_ms * 1000;
	b->ask = x->abandoned;
	b->ask_arg = x->abandoned_arg;
	b->asked_us = px_mono_us();
}

/* Watch the evaluations of im and everything built from it. */
static void budget_watch(struct budget *b, VipsImage *im)
{
	if ((!b->deadline_us && !b->ask) || b->sig)
		return;
	vips_image_set_progress(im, TRUE);
	if (!im->progress_signal)
		return;
	b->sig = g_object_ref(im->progress_signal);
	b->id = g_signal_connect(b->sig, "eval", G_CALLBACK(on_eval), b);
}

static void budget_stop(struct budget *b)
{
	if (!b->sig)
		return;
	g_signal_handler_disconnect(b->sig, b->id);
	g_object_unref(b->sig);
	b->sig = NULL;
}

/* A failure after the deadline (or once abandoned) is the budget's,
 * whatever libvips said. */
static int budget_err(const struct budget *b, struct px_errbuf *eb)
{
	vips_error_clear();
	if (b->abandoned)
		return px_errc(eb, PX_EBUSY, "client_gone",
			       "the client hung up; the render was stopped");
	return px_errc(eb, PX_EBUSY, "render_timeout",
		       "the render took longer than its budget of %d ms",
		       b->budget_ms);
}

/* The background colour as libvips arrays, without and with alpha. */
struct bgs {
	VipsArrayDouble *bg3, *bg4;
};

/*
 * Decode and build every frame up to the border: orientation, turns,
 * crop, pad, colour, sharpen and blur. On success *pim holds g.ow x g.oh
 * frames of page height *ppage_h. Returns 1 when the image cannot be
 * loaded, -1 on other failures (the libvips error buffer says why).
 */
static int build(const void *data, size_t n, const struct job *j,
		 const struct bgs *bg, struct budget *b, VipsImage **pim,
		 int *ppage_h)
{
	const struct px_xform *x = j->x;
	const struct geom *g = &j->g;
	VipsImage *im = NULL, *t;
	int page_h;

	*pim = NULL;
	if (load(data, n, j, &im, &page_h)) {
		if (im)
			g_object_unref(im);
		return 1;
	}
	budget_watch(b, im);
	if (to_srgb8(&im))
		goto fail;
	if (im->Ysize != page_h * j->frames) {
		vips_error("pictor", "frames do not stack: %d rows, %d frames",
			   im->Ysize, j->frames);
		goto fail;
	}

	/* EXIF orientation, flip and rotate in one go; turns read the
	 * frame out of order, so it is held in memory (output-sized). */
	if (!dh_identity(j->total)) {
		if (!(t = vips_image_copy_memory(im)))
			goto fail;
		advance(&im, t);
		if (map_frames(&im, &page_h, j->frames, fr_dihedral, &j->total))
			goto fail;
	}
	if (im->Xsize != g->rw || page_h != g->rh) {
		vips_error("pictor", "resized to %dx%d, planned %dx%d",
			   im->Xsize, page_h, g->rw, g->rh);
		goto fail;
	}
	if (g->cw != g->rw || g->ch != g->rh) {
		struct rect r = {0, 0, g->cw, g->ch};

		if (crop_origin(&im, page_h, x, j->gravity, g, &r.left, &r.top) ||
		    map_frames(&im, &page_h, j->frames, fr_extract, &r))
			goto fail;
	}
	if (set_alpha(&im, fmt_has_alpha(x->format) && j->h.alpha, bg->bg3))
		goto fail;
	if (j->pad) {
		struct pad_args p = {(g->ow - g->cw) / 2, (g->oh - g->ch) / 2,
				     g->ow, g->oh, NULL};

		if (j->alpha && set_alpha(&im, true, bg->bg3))
			goto fail;
		p.bg = vips_image_hasalpha(im) ? bg->bg4 : bg->bg3;
		if (map_frames(&im, &page_h, j->frames, fr_embed, &p))
			goto fail;
	}

	/* Colour, then neighbourhood operations. */
	if ((j->bright != 1 || j->contrast != 1 || j->gamma != 1) &&
	    apply_levels(&im, j))
		goto fail;
	if (j->sat != 1 && apply_saturation(&im, j->sat))
		goto fail;
	if (j->sharpen > 0 &&
	    map_frames(&im, &page_h, j->frames, fr_sharpen, &j->sharpen))
		goto fail;
	if (j->blur > 0) {
		double sigma = j->blur / 2;

		if (map_frames(&im, &page_h, j->frames, fr_blur, &sigma))
			goto fail;
	}
	*pim = im;
	*ppage_h = page_h;
	return 0;
fail:
	g_object_unref(im);
	return -1;
}

/*
 * The moderation placeholder (x->placeholder): the picture is built at
 * most PH_SIDE pixels on its long side, blurred there with a sigma of
 * PH_SIGMA pixels and only then enlarged to the planned frame. What it
 * shows is what a PH_SIDE-pixel blur shows, whatever size is asked for,
 * and the decode and blur cost the same for every size; only the final
 * enlargement and the encoder grow with the output.
 */
#define PH_SIDE 24
#define PH_SIGMA 4.0

static int build_placeholder(const void *data, size_t n, const struct job *j,
			     const struct bgs *bg, struct budget *b,
			     VipsImage **pim, int *ppage_h)
{
	const struct geom *g = &j->g;
	double f = PX_MIN(1.0, (double)PH_SIDE / PX_MAX(g->ow, g->oh));
	struct px_xform x2 = *j->x;
	struct job j2 = *j;
	struct size full = {g->ow, g->oh};
	double sigma = PH_SIGMA;
	VipsImage *im = NULL, *t;
	int page_h, cap = PX_MIN(j->x->max_output > 0 ? j->x->max_output : 8192,
				 VIPS_MAX_COORD), rc;

	/* The same picture in a box of the planned frame's shape, small. */
	x2.width = PX_MAX(1, (int)lround(g->ow * f));
	x2.height = PX_MAX(1, (int)lround(g->oh * f));
	if (x2.fit == PX_FIT_SCALE_DOWN)
		x2.fit = PX_FIT_CONTAIN;
	else if (x2.fit == PX_FIT_CROP)
		x2.fit = PX_FIT_COVER;
	j2.x = &x2;
	j2.sharpen = j2.blur = 0;
	j2.redact = false; /* nothing survives the blur; no full decode */
	memset(j2.border, 0, sizeof(j2.border));
	plan_job(&j2, cap);
	if ((rc = build(data, n, &j2, bg, b, &im, &page_h)))
		return rc;
	if (!(t = vips_image_copy_memory(im)))
		goto fail;
	advance(&im, t);
	if (map_frames(&im, &page_h, 1, fr_blur, &sigma) ||
	    map_frames(&im, &page_h, 1, fr_resize, &full))
		goto fail;
	*pim = im;
	*ppage_h = page_h;
	return 0;
fail:
	g_object_unref(im);
	return -1;
}

int px_image_transform(const void *data, size_t n, const struct px_xform *x,
		       const struct px_image_limits *lim, struct px_buf *out,
		       struct px_image_info *out_info, struct px_errbuf *eb)
{
	VipsImage *im = NULL, *t;
	VipsArrayDouble *bc = NULL;
	struct bgs bg;
	struct budget b;
	struct job j;
	struct geom *g = &j.g;
	void *enc = NULL;
	size_t nEnc = 0;
	double aBg[4], aBc[4];
	bool strip;
	int rc, page_h;

	if (!lim)
		lim = &default_limits;
	budget_start(&b, x);
	if ((rc = prepare(data, n, x, lim, &j, eb)))
		return rc;

	for (int i = 0; i < 4; i++)
		aBg[i] = x->background[i];
	bg.bg3 = vips_array_double_new(aBg, 3);
	bg.bg4 = vips_array_double_new(aBg, 4);

	rc = x->placeholder
		     ? build_placeholder(data, n, &j, &bg, &b, &im, &page_h)
		     : build(data, n, &j, &bg, &b, &im, &page_h);
	if (rc > 0) {
		rc = b.expired || b.abandoned ? budget_err(&b, eb)
			       : vips_err(eb, PX_ECORRUPT, "corrupt_image",
					  "cannot load image");
		goto out;
	}
	rc = PX_EINTERNAL;
	if (!im)
		goto fail;

	/* The border, never blurred. */
	if (job_bordered(&j)) {
		struct pad_args p = {j.border[3], j.border[0],
				     im->Xsize + j.border[1] + j.border[3],
				     page_h + j.border[0] + j.border[2], NULL};
		double a = x->border_color[3] / 255.0;

		if (j.alpha && set_alpha(&im, true, bg.bg3))
			goto fail;
		/* without alpha, the colour is seen over the background */
		for (int i = 0; i < 4; i++)
			aBc[i] = vips_image_hasalpha(im)
					 ? x->border_color[i]
					 : x->border_color[i] * a +
						   x->background[i] * (1 - a);
		bc = vips_array_double_new(aBc, vips_image_hasalpha(im) ? 4 : 3);
		p.bg = bc;
		if (map_frames(&im, &page_h, j.frames, fr_embed, &p))
			goto fail;
	}
	if (set_alpha(&im, j.alpha, bg.bg3))
		goto fail;
	if (im->Xsize != g->ow + j.border[1] + j.border[3] ||
	    page_h != g->oh + j.border[0] + j.border[2]) {
		vips_error("pictor", "came out %dx%d, planned otherwise",
			   im->Xsize, page_h);
		goto fail;
	}

	if (vips_copy(im, &t, NULL))
		goto fail;
	advance(&im, t);
	vips_image_set_int(im, VIPS_META_PAGE_HEIGHT, page_h);
	strip = apply_meta(im, x->metadata);
	if (save(im, x, strip, &enc, &nEnc))
		goto fail;
	if (nEnc > n && original_will_do(data, n, &j))
		rc = px_buf_add(out, data, n);
	else if (strip && x->format == PX_FMT_WEBP)
		rc = px_image_webp_strip(enc, nEnc, out);
	else {
		if (!strip)
			px_image_exif_drop_orientation(enc, nEnc, x->format);
		rc = px_buf_add(out, enc, nEnc);
	}
	if (rc) {
		px_errc(eb, rc, "transform_failed",
			"cannot store %zu bytes of output", nEnc);
		goto out;
	}
	if (out_info)
		job_info(&j, out_info);
	rc = 0;
	goto out;
fail:
	rc = b.expired || b.abandoned ? budget_err(&b, eb)
		       : vips_err(eb, PX_EINTERNAL, "transform_failed",
				  "cannot transform image");
out:
	budget_stop(&b);
	g_free(enc);
	if (im)
		g_object_unref(im);
	vips_area_unref(VIPS_AREA(bg.bg3));
	vips_area_unref(VIPS_AREA(bg.bg4));
	if (bc)
		vips_area_unref(VIPS_AREA(bc));
	return rc;
}

/* ------------------------------------------------------------------ */
/* Packed RGB for classifiers                                          */

/* Upright 8-bit sRGB, alpha flattened on white, exactly three bands,
 * written out as packed bytes. Consumes *im. */
static int write_rgb(VipsImage *im, struct px_buf *out, int *w, int *h,
		     struct px_errbuf *eb)
{
	static const double aWhite[3] = {255, 255, 255};
	VipsArrayDouble *white = NULL;
	VipsImage *t;
	void *mem = NULL;
	size_t sz = 0;
	int rc = PX_EINTERNAL;

	if (to_srgb8(&im))
		goto fail;
	if (vips_image_hasalpha(im)) {
		white = vips_array_double_new(aWhite, 3);
		if (vips_flatten(im, &t, "background", white, NULL))
			goto fail;
		advance(&im, t);
		if (to_srgb8(&im))
			goto fail;
	}
	if (im->Bands != 3) {
		if (vips_extract_band(im, &t, 0, "n", 3, NULL))
			goto fail;
		advance(&im, t);
	}
	if (!(mem = vips_image_write_to_memory(im, &sz)))
		goto fail;
	if (sz != (size_t)im->Xsize * (size_t)im->Ysize * 3) {
		rc = px_errc(eb, PX_EINTERNAL, "transform_failed",
			     "unexpected pixel buffer size %zu", sz);
		goto out;
	}
	if ((rc = px_buf_add(out, mem, sz))) {
		px_errc(eb, rc, "transform_failed",
			"cannot store %zu bytes of pixels", sz);
		goto out;
	}
	if (w)
		*w = im->Xsize;
	if (h)
		*h = im->Ysize;
	rc = 0;
	goto out;
fail:
	rc = vips_err(eb, PX_EINTERNAL, "transform_failed",
		      "cannot convert image to rgb");
out:
	g_free(mem);
	if (white)
		vips_area_unref(VIPS_AREA(white));
	g_object_unref(im);
	return rc;
}

int px_image_rgb_resize(const void *data, size_t n, int w, int h,
			struct px_buf *out, struct px_errbuf *eb)
{
	/* No limits here: callers classify images that were accepted (and
	 * limit-checked) on upload, and the shrink streams anyway. */
	static const struct px_image_limits unlimited = {
		.max_pixels = UINT64_MAX,
		.max_side = INT32_MAX,
		.max_frames = INT32_MAX,
	};
	VipsImage *im = NULL;
	struct hdr hd;
	int rc;

	if (w <= 0 || h <= 0 || w > VIPS_MAX_COORD || h > VIPS_MAX_COORD)
		return px_errc(eb, PX_EINVAL, "invalid_size",
			       "bad target size %dx%d", w, h);
	if ((rc = read_header(data, n, &unlimited, &hd, eb)))
		return rc;
	if (thumb(data, n, w, h, false, hd.icc, true, &im))
		return vips_err(eb, PX_ECORRUPT, "corrupt_image",
				"cannot load image");
	return write_rgb(im, out, NULL, NULL, eb);
}

int px_image_rgb_full(const void *data, size_t n,
		      const struct px_image_limits *lim, struct px_buf *out,
		      int *w, int *h, struct px_errbuf *eb)
{
	VipsImage *im = NULL;
	struct hdr hd;
	bool swap;
	int rc;

	if ((rc = read_header(data, n, lim, &hd, eb)))
		return rc;
	swap = orientation_swaps(hd.orientation);
	if (thumb(data, n, swap ? hd.height : hd.width,
		  swap ? hd.width : hd.height, false, hd.icc, true, &im))
		return vips_err(eb, PX_ECORRUPT, "corrupt_image",
				"cannot load image");
	return write_rgb(im, out, w, h, eb);
}

/* ------------------------------------------------------------------ */
/* Frames for classifiers                                              */

int px_image_pages(const void *data, size_t n, int *pages,
		   struct px_errbuf *eb)
{
	VipsImage *im;
	enum px_fmt fmt;
	int rc, v = 1;

	*pages = 1;
	if ((rc = check_format(data, n, &fmt, eb)))
		return rc;
	im = vips_image_new_from_buffer(data, n, "", "access",
					VIPS_ACCESS_SEQUENTIAL, NULL);
	if (!im)
		return vips_err(eb, PX_ECORRUPT, "corrupt_image",
				"cannot read image header");
	/* The raw count, as read_header() takes it for animations. */
	if (vips_image_get_typeof(im, VIPS_META_N_PAGES) &&
	    vips_image_get_int(im, VIPS_META_N_PAGES, &v))
		vips_error_clear();
	*pages = v > 1 ? v : 1;
	g_object_unref(im);
	return 0;
}

/* Pages [first, first + count) shrunk to w x h each, upright, as a
 * toilet roll in *out. */
static int thumb_pages(const void *data, size_t n, int first, int count,
		       int w, int h, bool icc, VipsImage **out)
{
	char opt[64];
	void *p = (void *)data;

	snprintf(opt, sizeof(opt), "page=%d,n=%d", first, count);
	if (icc) {
		if (!vips_thumbnail_buffer(p, n, out, w, "height", h, "size",
					   VIPS_SIZE_FORCE, "option_string",
					   opt, "export_profile", "srgb", NULL))
			return 0;
		vips_error_clear();
	}
	return vips_thumbnail_buffer(p, n, out, w, "height", h, "size",
				     VIPS_SIZE_FORCE, "option_string", opt,
				     NULL);
}

int px_image_frames_rgb(const void *data, size_t n,
			const struct px_image_limits *lim, int first,
			int count, int w, int h, struct px_buf *out,
			struct px_errbuf *eb)
{
	VipsImage *im = NULL;
	size_t before = out->len;
	struct hdr hd;
	int rc;

	if (w <= 0 || h <= 0 || w > 4096 || h > 4096 || first < 0 || count < 1)
		return px_errc(eb, PX_EINVAL, "invalid_size",
			       "bad frame request %dx%d, %d+%d", w, h, first,
			       count);
	if ((rc = read_header(data, n, lim, &hd, eb)))
		return rc;
	/* One decode for the run when every page has the same size; pages
	 * of different sizes (TIFF, HEIF) are taken one at a time. */
	if (!thumb_pages(data, n, first, count, w, h, hd.icc, &im) &&
	    im->Xsize == w && im->Ysize == h * count)
		return write_rgb(im, out, NULL, NULL, eb);
	if (im)
		g_object_unref(im);
	vips_error_clear();
	out->len = before;
	for (int i = 0; i < count; i++) {
		if (thumb_pages(data, n, first + i, 1, w, h, hd.icc, &im))
			return vips_err(eb, PX_ECORRUPT, "corrupt_image",
					"cannot load a frame");
		if ((rc = write_rgb(im, out, NULL, NULL, eb)))
			return rc;
	}
	return 0;
}

int px_image_frame_rgb_full(const void *data, size_t n,
			    const struct px_image_limits *lim, int page,
			    struct px_buf *out, int *w, int *h,
			    struct px_errbuf *eb)
{
	VipsImage *im = NULL, *t;
	char opt[32];
	struct hdr hd;
	int rc;

	if ((rc = read_header(data, n, lim, &hd, eb)))
		return rc;
	snprintf(opt, sizeof(opt), "page=%d", page);
	im = vips_image_new_from_buffer(data, n, opt, "access",
					VIPS_ACCESS_SEQUENTIAL, NULL);
	if (!im)
		return vips_err(eb, PX_ECORRUPT, "corrupt_image",
				"cannot load a frame");
	if (vips_autorot(im, &t, NULL)) {
		g_object_unref(im);
		return vips_err(eb, PX_ECORRUPT, "corrupt_image",
				"cannot load a frame");
	}
	g_object_unref(im);
	if ((uint64_t)t->Xsize * (uint64_t)t->Ysize >
	    (lim ? lim->max_pixels : default_limits.max_pixels)) {
		g_object_unref(t);
		return px_errc(eb, PX_ELIMIT, "too_many_pixels",
			       "frame %d is over the pixel limit", page);
	}
	return write_rgb(t, out, w, h, eb);
}

int px_image_frame_changes(const void *data, size_t n,
			   const struct px_image_limits *lim, int count,
			   double *change, struct px_errbuf *eb)
{
	enum { S = 16 };
	struct px_buf px;
	int rc;

	px_buf_init(&px, 0);
	rc = px_image_frames_rgb(data, n, lim, 0, count, S, S, &px, eb);
	if (!rc && px.len != (size_t)count * S * S * 3)
		rc = px_errc(eb, PX_EINTERNAL, "transform_failed",
			     "unexpected frame buffer size");
	for (int i = 0; !rc && i < count; i++) {
		const unsigned char *cur = px.data + (size_t)i * S * S * 3;
		double sum = 0;

		if (i == 0) {
			change[i] = 1.0;
			continue;
		}
		for (int k = 0; k < S * S * 3; k++)
			sum += abs((int)cur[k] - (int)cur[k - S * S * 3]);
		change[i] = sum / (S * S * 3 * 255.0);
	}
	px_buf_release(&px);
	return rc;
}
