/*
 * image.h - everything Pictor does to pixels, behind one small interface.
 *
 * This module is the only place that includes <vips/vips.h>. It sniffs
 * formats from content, reads headers under limits before any decode,
 * decodes whole images to prove them sound, and runs the delivery
 * transform (resize, crop, pad, encode). All functions are thread-safe
 * once px_image_init() has returned; every libvips error is copied into
 * the caller's px_errbuf and the global libvips buffer cleared at once.
 */
#ifndef PX_IMAGE_H
#define PX_IMAGE_H

#include "core/buf.h"

enum px_fmt {
	PX_FMT_UNKNOWN = 0,
	PX_FMT_JPEG,
	PX_FMT_PNG,
	PX_FMT_WEBP,
	PX_FMT_GIF,
	PX_FMT_AVIF,
	PX_FMT_HEIC,
	PX_FMT_TIFF,
	PX_FMT_SVG, /* recognised only to be refused */
	PX_FMT_PDF, /* recognised only to be refused */
};

/* "jpeg", "png", "webp", "gif", "avif", "heic", "tiff", "svg", "pdf",
 * "unknown". Never NULL. */
const char *px_fmt_name(enum px_fmt f);
/* "image/jpeg" etc.; "application/octet-stream" for unknown. */
const char *px_fmt_mime(enum px_fmt f);
/* Parse a name as px_fmt_name() prints it ("jpg" too); UNKNOWN if none. */
enum px_fmt px_fmt_parse(const char *name);

struct px_image_limits {
	uint64_t max_pixels; /* width * height summed over all frames */
	int max_side;        /* width and height (of one frame) */
	int max_frames;
};

struct px_image_info {
	int width, height; /* one frame, after EXIF orientation */
	int frames;        /* 1 for still images */
	enum px_fmt format;
	bool has_alpha;
	int orientation; /* EXIF orientation 1-8, 1 when absent */
};

/* Start libvips: concurrency 1, operation cache off, untrusted loaders
 * blocked (vips_block_untrusted_set where available). Call once. */
int px_image_init(const char *argv0, struct px_errbuf *eb);
void px_image_shutdown(void);
/* libvips version string, e.g. "8.14.1". */
const char *px_image_version(void);

/* Recognise a format from its first bytes only. */
enum px_fmt px_image_sniff(const void *data, size_t n);

/* True for formats accepted on upload (JPEG PNG WebP GIF AVIF HEIC TIFF). */
bool px_image_format_allowed(enum px_fmt f);

/*
 * Read the header only (no pixel decode) and check it against lim.
 * Errors (eb->code): "unsupported_format" (PX_EUNSUPPORTED),
 * "dimensions_too_large", "too_many_pixels", "too_many_frames"
 * (PX_ELIMIT), "corrupt_image" (PX_ECORRUPT).
 */
int px_image_probe(const void *data, size_t n, const struct px_image_limits *lim,
		   struct px_image_info *info, struct px_errbuf *eb);

/* Decode every pixel of every frame once, in constant memory; fails with
 * "corrupt_image" (PX_ECORRUPT) on truncated or damaged data. */
int px_image_verify(const void *data, size_t n, struct px_errbuf *eb);

enum px_fit {
	PX_FIT_SCALE_DOWN = 0, /* contain, never enlarge (the default) */
	PX_FIT_CONTAIN,        /* fit inside w x h, keep aspect */
	PX_FIT_COVER,          /* fill w x h exactly, crop the overflow */
	PX_FIT_CROP,           /* as cover, but never enlarge */
	PX_FIT_PAD,            /* contain, then pad to w x h with background */
	PX_FIT_SQUEEZE,        /* stretch to w x h exactly */
};

enum px_gravity {
	PX_GRAVITY_AUTO = 0, /* libvips attention */
	PX_GRAVITY_CENTER,
	PX_GRAVITY_LEFT,
	PX_GRAVITY_RIGHT,
	PX_GRAVITY_TOP,
	PX_GRAVITY_BOTTOM,
	PX_GRAVITY_POINT, /* gx, gy in [0,1] */
	PX_GRAVITY_FACE,  /* the union of px_xform.faces; see px_face_crop */
};

/* A face box in pixels of the upright original (EXIF orientation
 * applied), top-left origin. */
#define PX_IMAGE_FACES_MAX 32
struct px_image_box {
	float x, y, w, h;
};

/* redact=: what is done to every face box before resizing. */
enum px_redact {
	PX_REDACT_NONE = 0,
	PX_REDACT_BLUR,     /* a Gaussian blur of the padded box */
	PX_REDACT_PIXELATE, /* blocks of about a tenth of the box */
};

/*
 * gravity=face: the crop window, in a w x h image, of aspect ratio
 * aspect (width / height) around the union of the n boxes, as
 * Cloudflare describes zoom: at 0 the largest window of that aspect in
 * the image (as much background as possible), at 1 the smallest that
 * holds the union (as close to the faces as the aspect allows), linear
 * in between; never smaller than minw x minh (fit=crop never enlarges)
 * nor larger than the image. The window is centred on the union and
 * shifted back inside the image at the edges. Boxes are clipped to the
 * image first. out receives left, top, width, height (each >= 1).
 * False, out untouched, when no box has an area inside the image.
 */
bool px_face_crop(int w, int h, double aspect, double zoom,
		  const struct px_image_box *boxes, int n, int minw, int minh,
		  int out[4]);

/* redact=faces: the box b padded by PX_REDACT_MARGIN of its size on each
 * side and clipped to a w x h image; false when nothing is left. */
#define PX_REDACT_MARGIN 0.2
bool px_redact_rect(int w, int h, const struct px_image_box *b, int out[4]);

enum px_meta {
	PX_META_COPYRIGHT = 0, /* keep only copyright (EXIF Copyright/Artist) */
	PX_META_KEEP,          /* keep everything but the orientation tag */
	PX_META_NONE,          /* strip everything */
};

/*
 * A fully resolved transform: delivery has already applied dpr, defaults
 * and format negotiation, so nothing here is "auto" but gravity. Every
 * number is clamped again here (docs/TRANSFORMS.md gives the ranges), so
 * no value can crash or stall a transform. The order of operations is
 * Cloudflare's, see docs/TRANSFORMS.md:
 *
 *   EXIF orientation, trim, flip, rotate, resize (fit, gravity, pad),
 *   brightness, contrast, gamma, saturation, sharpen, blur, border,
 *   encode.
 *
 * Geometrically everything before the resize is done in upright
 * coordinates of the original: trim boxes are counted on the image as it
 * is shown, and width/height refer to the axes after rotation.
 */
struct px_xform {
	int width, height; /* target box in pixels; 0 = unconstrained */
	enum px_fit fit;
	enum px_gravity gravity;
	double gx, gy;      /* for PX_GRAVITY_POINT */
	int quality;        /* 1-100; 0 = the format's default. PNG with a
			       quality under 100 is quantised to a
			       palette; WebP at 100 is lossless
			       (Cloudflare's rules) */
	enum px_fmt format; /* JPEG PNG WEBP AVIF GIF */
	enum px_meta metadata;
	uint8_t background[4]; /* RGBA used for pad and alpha flattening */
	bool anim;             /* keep all frames where the format can */

	/* Before resizing, in this order: trim, flip, rotate. */
	int trim[4];          /* px cut from top, right, bottom, left; a side
				 is cut to leave at least one pixel */
	bool trim_border;     /* trim a uniform border (trim=border); when
				 set, trim[] is ignored */
	bool trim_has_color;  /* border colour given; else the top-left pixel */
	uint8_t trim_color[4]; /* RGB compared; A unused */
	double trim_tolerance; /* 0-255 per-channel distance; 0 = exact */
	int trim_keep;        /* px of the border to keep on each side */
	bool flip_h, flip_v;
	int rotate;           /* 0, 90, 180, 270 clockwise (others snap to
				 the nearest multiple of 90) */

	/* After resizing, in this order. 1 = unchanged for the four; 0 or
	 * less means unchanged for brightness, contrast and gamma
	 * (Cloudflare: "0 is ignored"); saturation 0 is greyscale. */
	double brightness, contrast, gamma, saturation; /* each <= 100 */
	double sharpen;      /* 0-10; 0 = off */
	double blur;         /* 0-250 radius; 0 = off */
	int border[4];       /* px added top, right, bottom, left; each side
				 at most a quarter of the output cap */
	uint8_t border_color[4]; /* RGBA, default opaque black; blended
				    on background where the output
				    format has no alpha */

	/* Encoding. */
	bool baseline;  /* JPEG: baseline instead of progressive */
	bool fast;      /* compression=fast: lowest encoder effort */
	int max_output; /* cap per output side, borders included; 0 = 8192 */
	double zoom;    /* 0-1 with face gravity; 0 = unset */

	/* Faces of the original, from its record (delivery fills them in;
	 * nothing is detected here). faces_known false: never detected,
	 * and gravity=face is attention as before; known with none found:
	 * gravity=face crops from the centre (Cloudflare's fallback). */
	bool faces_known;
	int nfaces;
	struct px_image_box faces[PX_IMAGE_FACES_MAX];
	enum px_redact redact; /* before trim and resize, in original pixels */

	int budget_ms;    /* wall-clock time px_image_transform() may take
			     before it stops with "render_timeout"
			     (PX_EBUSY); 0 = unbounded. Work inside one
			     tile (one GIF frame's palette, one AV1
			     frame) finishes first */
	/* Asked between tiles, at most every PX_IMAGE_ABANDON_MS: true
	 * stops px_image_transform() with "client_gone" (PX_EBUSY), the
	 * answer no longer wanted. NULL: never asked. Called on the
	 * rendering thread. */
	bool (*abandoned)(void *arg);
	void *abandoned_arg;
	bool placeholder; /* the moderation stand-in: the picture built at
			     most 24 px on its long side, blurred there
			     and enlarged to the planned size; one
			     frame; blur and sharpen ignored */
};

#define PX_IMAGE_ABANDON_MS 20

/* Set x to defaults: no resize, scale-down, auto gravity, JPEG, white
 * background, the four colour factors 1, opaque black borders of 0 px,
 * progressive, output cap 8192. */
void px_xform_init(struct px_xform *x);

/*
 * Decode, orient, transform and encode. Output is 8-bit sRGB; EXIF
 * orientation and embedded ICC profiles are applied; metadata follows
 * x->metadata. The encoded bytes are appended to out; out_info (may be
 * NULL) describes them. lim (NULL: the upload defaults) bounds the input
 * and the output alike: pixels over all frames, side and frame count.
 *
 * When the transform changes nothing (same format, same size, no pixel
 * operation, every frame kept), the original is 8-bit sRGB without a
 * colour profile, carries nothing x->metadata must remove and the
 * re-encode came out larger, the original bytes are appended instead
 * (docs/TRANSFORMS.md, "Never larger than needed").
 *
 * Errors: those of px_image_probe(), "invalid_size" and
 * "unsupported_output" (PX_EINVAL), output over a limit (PX_ELIMIT),
 * "corrupt_image" (PX_ECORRUPT), "transform_failed" (PX_EINTERNAL).
 */
int px_image_transform(const void *data, size_t n, const struct px_xform *x,
		       const struct px_image_limits *lim, struct px_buf *out,
		       struct px_image_info *out_info, struct px_errbuf *eb);

/*
 * format=json: what px_image_transform() would produce, without
 * encoding. in (may be NULL) receives the original as px_image_probe()
 * reports it; out (may be NULL) the output's width and height (borders
 * included), frames, format and alpha. Only the header is read, except
 * for x->trim_border, whose box needs one pass over the pixels. Fails
 * exactly when px_image_transform() would fail before decoding, with the
 * same errors.
 */
int px_image_describe(const void *data, size_t n, const struct px_xform *x,
		      const struct px_image_limits *lim,
		      struct px_image_info *in, struct px_image_info *out,
		      struct px_errbuf *eb);

/*
 * For classifiers: decode to packed 8-bit sRGB RGB (alpha flattened on
 * white), orientation applied.
 * - px_image_rgb_resize: shrink-on-load then an antialiased resize to
 *   exactly w x h (aspect not kept, nothing cropped).
 * - px_image_rgb_full: the whole image at full size; *w and *h receive it.
 * out receives w*h*3 bytes.
 */
int px_image_rgb_resize(const void *data, size_t n, int w, int h,
			struct px_buf *out, struct px_errbuf *eb);
int px_image_rgb_full(const void *data, size_t n,
		      const struct px_image_limits *lim, struct px_buf *out,
		      int *w, int *h, struct px_errbuf *eb);

/*
 * Frames of animated and multi-page images, for classifiers, so that no
 * frame escapes moderation. Pages are what the loader counts: frames of
 * a GIF or WebP, pages of a TIFF, top-level images of a HEIF or AVIF.
 * - px_image_pages: the count, from the header only.
 * - px_image_frames_rgb: pages [first, first + count) as packed RGB,
 *   each shrunk to exactly w x h as px_image_rgb_resize does, appended
 *   to out in page order (count * w * h * 3 bytes).
 * - px_image_frame_rgb_full: one page at full size (*w, *h receive it).
 * - px_image_frame_changes: change[i] in [0, 1], the mean difference of
 *   page i from page i - 1 on a 16x16 thumbnail (change[0] is 1), over
 *   pages [0, count): where the picture changes most.
 * lim (NULL: the upload defaults) is checked against the header first.
 */
int px_image_pages(const void *data, size_t n, int *pages,
		   struct px_errbuf *eb);
int px_image_frames_rgb(const void *data, size_t n,
			const struct px_image_limits *lim, int first,
			int count, int w, int h, struct px_buf *out,
			struct px_errbuf *eb);
int px_image_frame_rgb_full(const void *data, size_t n,
			    const struct px_image_limits *lim, int page,
			    struct px_buf *out, int *w, int *h,
			    struct px_errbuf *eb);
int px_image_frame_changes(const void *data, size_t n,
			   const struct px_image_limits *lim, int count,
			   double *change, struct px_errbuf *eb);

#endif
