/*
 * image.c - the libvips half of the image module (sniff.c is the other).
 *
 * Every entry point follows the same order: sniff the bytes (sniff.c),
 * refuse what is not allowed, read the header without decoding a pixel
 * and check it against the limits, and only then build a libvips
 * pipeline. Pipelines are sequential and run with one worker, so memory
 * stays near the output size; vips_thumbnail_buffer() does the heavy
 * part (shrink-on-load, colour management to sRGB, EXIF auto-rotate),
 * and the fit modes, gravity, padding, flattening and metadata policy
 * are built around it here.
 *
 * libvips keeps one process-wide error buffer, so every failing call is
 * followed at once by vips_err(), which copies the text into the
 * caller's px_errbuf and clears the global buffer.
 */
#include "image/image.h"
#include "core/log.h"

#include <math.h>
#include <vips/vips.h>

/* The limits used when a caller passes NULL: the upload defaults. */
static const struct px_image_limits default_limits = {
	.max_pixels = 100000000ULL,
	.max_side = 16384,
	.max_frames = 500,
};

/* Encoder settings. Quality 0 in a px_xform means the default here.
 * AVIF effort 2 (aom speed 7) costs about 0.9 s of CPU for a 2 MP
 * photo; effort 4 costs about 6 s, which no request can wait for. */
#define JPEG_Q_DEFAULT 85
#define WEBP_Q_DEFAULT 80
#define WEBP_EFFORT 4
#define AVIF_Q_DEFAULT 50
#define AVIF_EFFORT 2
#define PNG_COMPRESSION 6

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
	bool icc; /* an embedded ICC profile: convert with it */
};

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
			       "format \"%s\" is not accepted",
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
/* Transform                                                           */

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
}

/* Replace *cur by next, dropping our reference to the old image (next
 * holds its own reference to anything it still needs). */
static void advance(VipsImage **cur, VipsImage *next)
{
	g_object_unref(*cur);
	*cur = next;
}

/* The geometry of a transform, in output (upright) coordinates. */
struct geom {
	int rw, rh;   /* size to resize each frame to */
	int cw, ch;   /* crop window inside rw x rh (== rw x rh: no crop) */
	int ow, oh;   /* final frame size (pad box, else cw x ch) */
};

static int dim(double v)
{
	long r = lround(v);

	if (r < 1)
		return 1;
	if (r > VIPS_MAX_COORD)
		return VIPS_MAX_COORD;
	return (int)r;
}

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

static int check_output_size(const struct geom *g, int frames,
			     const struct px_image_limits *lim,
			     struct px_errbuf *eb)
{
	uint64_t mid = (uint64_t)g->rw * (uint64_t)g->rh * (uint64_t)frames;
	uint64_t end = (uint64_t)g->ow * (uint64_t)g->oh * (uint64_t)frames;

	if (PX_MAX(mid, end) > lim->max_pixels)
		return px_errc(eb, PX_ELIMIT, "too_many_pixels",
			       "output would have %llu pixels, the limit is %llu",
			       (unsigned long long)PX_MAX(mid, end),
			       (unsigned long long)lim->max_pixels);
	if (g->ow > lim->max_side || g->oh > lim->max_side)
		return px_errc(eb, PX_ELIMIT, "dimensions_too_large",
			       "output would be %dx%d, the limit is %d per side",
			       g->ow, g->oh, lim->max_side);
	return 0;
}

/* Shrink-on-load, colour-manage, auto-rotate and resize to exactly
 * rw x rh per frame. With an embedded profile the pixels are converted
 * with it to sRGB; a profile libvips cannot use is ignored rather than
 * failing the whole image. */
static int thumb(const void *data, size_t n, int rw, int rh, bool all_frames,
		 bool icc, VipsImage **out)
{
	const char *zOpt = all_frames ? "n=-1" : "";
	void *p = (void *)data; /* thumbnail only reads it */

	if (icc) {
		if (!vips_thumbnail_buffer(p, n, out, rw, "height", rh, "size",
					   VIPS_SIZE_FORCE, "option_string",
					   zOpt, "export_profile", "srgb", NULL))
			return 0;
		vips_error_clear();
	}
	return vips_thumbnail_buffer(p, n, out, rw, "height", rh, "size",
				     VIPS_SIZE_FORCE, "option_string", zOpt,
				     NULL);
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

enum frame_op { OP_EXTRACT, OP_EMBED };

/* Crop (OP_EXTRACT: w x h at left, top) or pad (OP_EMBED: to w x h with
 * the image at left, top) every frame of a toilet-roll image. */
static int map_frames(VipsImage **im, int page_h, int frames, enum frame_op op,
		      int left, int top, int w, int h, VipsArrayDouble *bg)
{
	VipsImage **a = NULL, *t = NULL, *j = NULL;
	int rc = -1, i;

	a = g_new0(VipsImage *, frames);
	for (i = 0; i < frames; i++) {
		VipsImage *page = *im;
		int r;

		if (frames > 1) {
			if (vips_extract_area(*im, &page, 0, i * page_h,
					      (*im)->Xsize, page_h, NULL))
				goto out;
		} else {
			g_object_ref(page);
		}
		if (op == OP_EXTRACT)
			r = vips_extract_area(page, &a[i], left, top, w, h,
					      NULL);
		else
			r = vips_embed(page, &a[i], left, top, w, h, "extend",
				       VIPS_EXTEND_BACKGROUND, "background", bg,
				       NULL);
		g_object_unref(page);
		if (r)
			goto out;
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
	vips_image_set_int(t, VIPS_META_PAGE_HEIGHT, h);
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

static int clampi(long v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : (int)v;
}

/* Where the crop window goes. AUTO asks libvips' attention detector
 * about the first frame (in memory: it needs random access, and the
 * image is output-sized by now) and centres the window on its answer. */
static int crop_origin(VipsImage **im, int page_h, const struct px_xform *x,
		       const struct geom *g, int *left, int *top)
{
	int rw = (*im)->Xsize, dx = rw - g->cw, dy = page_h - g->ch;
	double fx = 0.5, fy = 0.5;

	switch (x->gravity) {
	case PX_GRAVITY_LEFT: fx = 0; break;
	case PX_GRAVITY_RIGHT: fx = 1; break;
	case PX_GRAVITY_TOP: fy = 0; break;
	case PX_GRAVITY_BOTTOM: fy = 1; break;
	case PX_GRAVITY_POINT:
		fx = isfinite(x->gx) ? PX_MAX(0.0, PX_MIN(1.0, x->gx)) : 0.5;
		fy = isfinite(x->gy) ? PX_MAX(0.0, PX_MIN(1.0, x->gy)) : 0.5;
		break;
	case PX_GRAVITY_AUTO: {
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

static bool fmt_has_alpha(enum px_fmt f)
{
	return f == PX_FMT_PNG || f == PX_FMT_WEBP || f == PX_FMT_AVIF ||
	       f == PX_FMT_GIF;
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

/*
 * libvips rebuilds EXIF on save and always writes Orientation (1 once the
 * field is gone). The pixels are upright, so the tag is dropped from the
 * encoded IFD0 in place: the entries after it move up one slot, the
 * count drops by one, and 12 dead bytes are left behind, which TIFF
 * allows. Offsets are from the TIFF header, so nothing else moves.
 */
static unsigned rd16(const unsigned char *p, bool le)
{
	return le ? (unsigned)(p[0] | p[1] << 8) : (unsigned)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const unsigned char *p, bool le)
{
	return le ? ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
		     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24)
		  : ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		     (uint32_t)p[2] << 8 | (uint32_t)p[3]);
}

static void wr32be(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static bool tiff_drop_orientation(unsigned char *t, size_t n)
{
	bool le;
	uint32_t off;
	unsigned cnt;

	if (n < 8 || !(memcmp(t, "II*\0", 4) == 0 || memcmp(t, "MM\0*", 4) == 0))
		return false;
	le = t[0] == 'I';
	off = rd32(t + 4, le);
	if (off < 8 || off > n || n - off < 2)
		return false;
	cnt = rd16(t + off, le);
	if ((size_t)cnt * 12 + 6 > n - off)
		return false;
	for (unsigned i = 0; i < cnt; i++) {
		unsigned char *e = t + off + 2 + 12 * i;

		if (rd16(e, le) != 0x0112)
			continue;
		/* the later entries and the next-IFD offset move up */
		memmove(e, e + 12, (size_t)(cnt - i - 1) * 12 + 4);
		cnt--;
		t[off] = le ? cnt & 0xFF : cnt >> 8;
		t[off + 1] = le ? cnt >> 8 : cnt & 0xFF;
		memset(t + off + 2 + 12 * cnt + 4, 0, 12);
		return true;
	}
	return false;
}

static uint32_t crc32_png(const unsigned char *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
	}
	return c ^ 0xFFFFFFFFu;
}

static void exif_drop_orientation(unsigned char *p, size_t n, enum px_fmt f)
{
	size_t i;

	switch (f) {
	case PX_FMT_JPEG:
		for (i = 2; i + 4 <= n && p[i] == 0xFF;) {
			size_t l = (size_t)p[i + 2] << 8 | p[i + 3];

			if (p[i + 1] == 0xDA || l < 2 || l > n - i - 2)
				return;
			if (p[i + 1] == 0xE1 && l >= 16 &&
			    memcmp(p + i + 4, "Exif\0\0", 6) == 0)
				tiff_drop_orientation(p + i + 10, l - 8);
			i += 2 + l;
		}
		return;
	case PX_FMT_PNG:
		for (i = 8; i + 12 <= n;) {
			uint32_t l = rd32(p + i, false);

			if (l > n - i - 12)
				return;
			if (memcmp(p + i + 4, "eXIf", 4) == 0 &&
			    tiff_drop_orientation(p + i + 8, l))
				wr32be(p + i + 8 + l, crc32_png(p + i + 4, l + 4));
			i += 12 + (size_t)l;
		}
		return;
	case PX_FMT_WEBP:
		for (i = 12; i + 8 <= n;) {
			uint32_t l = rd32(p + i + 4, true);

			if (l > n - i - 8)
				return;
			if (memcmp(p + i, "EXIF", 4) == 0) {
				unsigned char *t = p + i + 8;
				size_t tn = l;

				if (tn >= 6 && memcmp(t, "Exif\0\0", 6) == 0) {
					t += 6;
					tn -= 6;
				}
				tiff_drop_orientation(t, tn);
			}
			i += 8 + (size_t)l + (l & 1);
		}
		return;
	case PX_FMT_AVIF:
		/* The Exif item sits uncompressed in mdat behind libheif's
		 * 4-byte header offset; ten bytes of signature cannot turn
		 * up by chance, and the IFD is checked before any change. */
		for (i = 0; i + 14 <= n; i++)
			if (p[i] == 'E' && memcmp(p + i, "Exif\0\0", 6) == 0 &&
			    tiff_drop_orientation(p + i + 6, n - i - 6))
				return;
		return;
	default:
		return;
	}
}

/*
 * Append a WebP to out without its metadata chunks. libvips 8.14.1's
 * webpsave ignores "strip" and always writes a freshly made EXIF block
 * (orientation, resolution); a stripped image must carry none. The
 * chunks are copied whole, the RIFF size is fixed and the VP8X flags
 * for ICC, EXIF and XMP are cleared.
 */
static int webp_strip(const unsigned char *p, size_t n, struct px_buf *out)
{
	size_t start = out->len, i;
	unsigned char *d;
	int rc;

	if (n < 12 || memcmp(p, "RIFF", 4) != 0 || memcmp(p + 8, "WEBP", 4))
		return px_buf_add(out, p, n);
	if ((rc = px_buf_add(out, p, 12)))
		return rc;
	for (i = 12; i + 8 <= n;) {
		uint32_t l = rd32(p + i + 4, true);
		size_t whole = 8 + (size_t)l + (l & 1);

		if (whole > n - i)
			whole = n - i; /* libvips wrote it: trust, but clamp */
		if (memcmp(p + i, "EXIF", 4) != 0 &&
		    memcmp(p + i, "XMP ", 4) != 0 &&
		    memcmp(p + i, "ICCP", 4) != 0 &&
		    (rc = px_buf_add(out, p + i, whole))) {
			out->len = start; /* nothing partial */
			if (out->data)
				out->data[start] = '\0';
			return rc;
		}
		i += whole;
	}
	d = out->data + start;
	if (out->len - start >= 21 && memcmp(d + 12, "VP8X", 4) == 0)
		d[20] &= (unsigned char)~(0x20 | 0x08 | 0x04);
	i = out->len - start - 8;
	d[4] = i & 0xFF;
	d[5] = (i >> 8) & 0xFF;
	d[6] = (i >> 16) & 0xFF;
	d[7] = (i >> 24) & 0xFF;
	return 0;
}

static int quality(int q, int def)
{
	return q <= 0 ? def : q > 100 ? 100 : q;
}

static int save(VipsImage *im, const struct px_xform *x, bool strip,
		void **buf, size_t *len)
{
	switch (x->format) {
	case PX_FMT_JPEG:
		return vips_jpegsave_buffer(
			im, buf, len, "Q", quality(x->quality, JPEG_Q_DEFAULT),
			"interlace", TRUE, "optimize_coding", TRUE, "strip",
			strip, NULL);
	case PX_FMT_PNG:
		return vips_pngsave_buffer(im, buf, len, "compression",
					   PNG_COMPRESSION, "strip", strip,
					   NULL);
	case PX_FMT_WEBP:
		return vips_webpsave_buffer(
			im, buf, len, "Q", quality(x->quality, WEBP_Q_DEFAULT),
			"effort", WEBP_EFFORT, "strip", strip, NULL);
	case PX_FMT_AVIF:
		return vips_heifsave_buffer(
			im, buf, len, "Q", quality(x->quality, AVIF_Q_DEFAULT),
			"compression", VIPS_FOREIGN_HEIF_COMPRESSION_AV1,
			"effort", AVIF_EFFORT, "strip", strip, NULL);
	case PX_FMT_GIF:
		return vips_gifsave_buffer(im, buf, len, "strip", strip, NULL);
	default:
		vips_error("pictor", "no encoder for %s",
			   px_fmt_name(x->format));
		return -1;
	}
}

static bool output_format_ok(enum px_fmt f)
{
	return f == PX_FMT_JPEG || f == PX_FMT_PNG || f == PX_FMT_WEBP ||
	       f == PX_FMT_AVIF || f == PX_FMT_GIF;
}

int px_image_transform(const void *data, size_t n, const struct px_xform *x,
		       const struct px_image_limits *lim, struct px_buf *out,
		       struct px_image_info *out_info, struct px_errbuf *eb)
{
	VipsImage *im = NULL, *t;
	VipsArrayDouble *bg3 = NULL, *bg4 = NULL;
	struct hdr h;
	struct geom g;
	void *enc = NULL;
	size_t nEnc = 0;
	double aBg[4];
	bool anim, swap, strip;
	int rc, iw, ih, frames, page_h;

	if (!lim)
		lim = &default_limits;
	if (!output_format_ok(x->format))
		return px_errc(eb, PX_EINVAL, "unsupported_output",
			       "cannot encode \"%s\"", px_fmt_name(x->format));
	if (x->width < 0 || x->height < 0)
		return px_errc(eb, PX_EINVAL, "invalid_size",
			       "negative width or height");
	if ((rc = read_header(data, n, lim, &h, eb)))
		return rc;
	swap = orientation_swaps(h.orientation);
	iw = swap ? h.height : h.width;
	ih = swap ? h.width : h.height;
	/* libvips rotates a whole toilet roll at once, which would scramble
	 * the frames: an animation that needs rotating keeps frame one. */
	anim = x->anim && h.frames > 1 && h.orientation == 1 &&
	       (x->format == PX_FMT_GIF || x->format == PX_FMT_WEBP);
	frames = anim ? h.frames : 1;
	memset(&g, 0, sizeof(g));
	plan(iw, ih, x, &g);
	if ((rc = check_output_size(&g, frames, lim, eb)))
		return rc;

	for (int i = 0; i < 4; i++)
		aBg[i] = x->background[i];
	bg3 = vips_array_double_new(aBg, 3);
	bg4 = vips_array_double_new(aBg, 4);

	if (thumb(data, n, g.rw, g.rh, anim, h.icc, &im)) {
		rc = vips_err(eb, PX_ECORRUPT, "corrupt_image",
			      "cannot load image");
		goto out;
	}
	rc = PX_EINTERNAL;
	if (to_srgb8(&im))
		goto fail;
	page_h = anim ? vips_image_get_page_height(im) : im->Ysize;
	if (im->Ysize != page_h * frames) {
		vips_error("pictor", "frames do not stack: %d rows, %d frames",
			   im->Ysize, frames);
		goto fail;
	}
	/* Resize rounding can be a pixel off what was planned; the crop
	 * window must stay inside what we actually got. */
	g.cw = PX_MIN(g.cw, im->Xsize);
	g.ch = PX_MIN(g.ch, page_h);
	if (g.cw != im->Xsize || g.ch != page_h) {
		int left = 0, top = 0;

		if (crop_origin(&im, page_h, x, &g, &left, &top) ||
		    map_frames(&im, page_h, frames, OP_EXTRACT, left, top,
			       g.cw, g.ch, NULL))
			goto fail;
		page_h = g.ch;
	}
	if (x->format == PX_FMT_JPEG && vips_image_hasalpha(im)) {
		if (vips_flatten(im, &t, "background", bg3, NULL))
			goto fail;
		advance(&im, t);
		if (to_srgb8(&im))
			goto fail;
	}
	if (g.ow != im->Xsize || g.oh != page_h) {
		bool alpha = fmt_has_alpha(x->format) &&
			     (vips_image_hasalpha(im) || x->background[3] < 255);

		if (alpha && !vips_image_hasalpha(im)) {
			if (vips_bandjoin_const1(im, &t, 255, NULL))
				goto fail;
			advance(&im, t);
		}
		if (g.ow < im->Xsize || g.oh < page_h) {
			vips_error("pictor", "pad box smaller than image");
			goto fail;
		}
		if (map_frames(&im, page_h, frames, OP_EMBED,
			       (g.ow - im->Xsize) / 2, (g.oh - page_h) / 2,
			       g.ow, g.oh, alpha ? bg4 : bg3))
			goto fail;
		page_h = g.oh;
	}

	if (vips_copy(im, &t, NULL))
		goto fail;
	advance(&im, t);
	vips_image_set_int(im, VIPS_META_PAGE_HEIGHT, page_h);
	strip = apply_meta(im, x->metadata);
	if (save(im, x, strip, &enc, &nEnc))
		goto fail;
	if (!strip)
		exif_drop_orientation(enc, nEnc, x->format);
	if (strip && x->format == PX_FMT_WEBP)
		rc = webp_strip(enc, nEnc, out);
	else
		rc = px_buf_add(out, enc, nEnc);
	if (rc) {
		px_errc(eb, rc, "transform_failed",
			"cannot store %zu bytes of output", nEnc);
		goto out;
	}
	if (out_info) {
		out_info->width = im->Xsize;
		out_info->height = page_h;
		out_info->frames = im->Ysize / page_h;
		out_info->format = x->format;
		out_info->has_alpha = vips_image_hasalpha(im) &&
				      fmt_has_alpha(x->format);
		out_info->orientation = 1;
	}
	rc = 0;
	goto out;
fail:
	rc = vips_err(eb, PX_EINTERNAL, "transform_failed",
		      "cannot transform image");
out:
	g_free(enc);
	if (im)
		g_object_unref(im);
	vips_area_unref(VIPS_AREA(bg3));
	vips_area_unref(VIPS_AREA(bg4));
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
	if (thumb(data, n, w, h, false, hd.icc, &im))
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
		  swap ? hd.width : hd.height, false, hd.icc, &im))
		return vips_err(eb, PX_ECORRUPT, "corrupt_image",
				"cannot load image");
	return write_rgb(im, out, w, h, eb);
}
