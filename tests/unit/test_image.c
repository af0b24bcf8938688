/*
 * test_image.c - the image module against the shared test inputs
 * (tests/data/inputs, expectations from tests/data/README.md).
 *
 * Tests see libvips only through image.h: outputs are checked by probing
 * them again and by reading the few container bytes that matter (JPEG
 * segments, the EXIF IFD0, the PNG IHDR).
 */
#include "image/image.h"
#include "image/container.h"

#include "t.h"
#include "t_file.h"

#include <math.h>
#include <pthread.h>
#include <time.h>

static const struct px_image_limits lim_default = {100000000ULL, 16384, 500};

static const char *data_dir(void)
{
	const char *z = getenv("PX_TEST_DATA");

	return z && *z ? z : "tests/data/inputs";
}

static int load(const char *name, struct px_buf *b)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", data_dir(), name);
	return t_load(path, b);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- container peeking -------------------------------------------- */

static unsigned rd16(const unsigned char *p, int le)
{
	return le ? (unsigned)(p[0] | p[1] << 8) : (unsigned)(p[0] << 8 | p[1]);
}

static unsigned long rd32(const unsigned char *p, int le)
{
	return le ? ((unsigned long)p[0] | (unsigned long)p[1] << 8 |
		     (unsigned long)p[2] << 16 | (unsigned long)p[3] << 24)
		  : ((unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 |
		     (unsigned long)p[2] << 8 | (unsigned long)p[3]);
}

/* The TIFF block of a JPEG's Exif APP1 segment, or NULL. */
static const unsigned char *jpeg_exif(const unsigned char *p, size_t n,
				      size_t *len)
{
	size_t i = 2;

	if (n < 4 || p[0] != 0xFF || p[1] != 0xD8)
		return NULL;
	while (i + 4 <= n && p[i] == 0xFF) {
		unsigned m = p[i + 1];
		size_t l = (size_t)p[i + 2] << 8 | p[i + 3];

		if (m == 0xDA || m == 0xD9)
			break;
		if (m == 0xE1 && l >= 16 && i + 2 + l <= n &&
		    memcmp(p + i + 4, "Exif\0\0", 6) == 0) {
			*len = l - 8;
			return p + i + 10;
		}
		i += 2 + l;
	}
	return NULL;
}

/* Number of components in a JPEG's frame header, or -1. */
static int jpeg_components(const unsigned char *p, size_t n)
{
	size_t i = 2;

	while (i + 10 <= n && p[i] == 0xFF) {
		unsigned m = p[i + 1];
		size_t l = (size_t)p[i + 2] << 8 | p[i + 3];

		if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 &&
		    m != 0xCC)
			return p[i + 9];
		if (m == 0xDA || m == 0xD9)
			break;
		i += 2 + l;
	}
	return -1;
}

/* Value of an IFD0 tag (its first short/long), -1 when absent. */
static long tiff_ifd0(const unsigned char *t, size_t n, unsigned tag)
{
	int le;
	unsigned long off;
	unsigned cnt;

	if (!t || n < 8)
		return -1;
	le = t[0] == 'I';
	off = rd32(t + 4, le);
	if (off + 2 > n)
		return -1;
	cnt = rd16(t + off, le);
	for (unsigned i = 0; i < cnt; i++) {
		const unsigned char *e = t + off + 2 + 12 * i;

		if (off + 2 + 12 * (i + 1) > n)
			break;
		if (rd16(e, le) == tag)
			return rd16(e + 2, le) == 3 ? (long)rd16(e + 8, le)
						    : (long)rd32(e + 8, le);
	}
	return -1;
}

/* The first EXIF TIFF block anywhere in an encoded file (libexif always
 * puts IFD0 at offset 8), or NULL. */
static const unsigned char *find_tiff(const struct px_buf *b, size_t *len)
{
	for (size_t i = 0; i + 8 <= b->len; i++) {
		const unsigned char *p = b->data + i;

		if (memcmp(p, "II*\0\x08\0\0\0", 8) == 0 ||
		    memcmp(p, "MM\0*\0\0\0\x08", 8) == 0) {
			*len = b->len - i;
			return p;
		}
	}
	return NULL;
}

static bool has_bytes(const struct px_buf *b, const char *z)
{
	size_t k = strlen(z);

	for (size_t i = 0; i + k <= b->len; i++)
		if (memcmp(b->data + i, z, k) == 0)
			return true;
	return false;
}

/* ---- helpers around the API --------------------------------------- */

static int xform(const char *name, const struct px_xform *x, struct px_buf *out,
		 struct px_image_info *oi, struct px_errbuf *eb)
{
	struct px_buf in;
	int rc;

	px_buf_init(out, 0);
	if (load(name, &in))
		return -100;
	rc = px_image_transform(in.data, in.len, x, &lim_default, out, oi, eb);
	px_buf_release(&in);
	return rc;
}

static void box(struct px_xform *x, int w, int h, enum px_fit fit)
{
	px_xform_init(x);
	x->width = w;
	x->height = h;
	x->fit = fit;
}

/* Transform rgb.jpg (320x320) and check the output size. */
static void check_size(int w, int h, enum px_fit fit, int ew, int eh)
{
	struct px_xform x;
	struct px_buf out;
	struct px_image_info oi, pi;
	struct px_errbuf eb = {0};
	int rc;

	box(&x, w, h, fit);
	rc = xform("rgb.jpg", &x, &out, &oi, &eb);
	T_EQ(rc, 0);
	if (rc) {
		fprintf(stderr, "  %dx%d fit %d: %s\n", w, h, fit, eb.msg);
		return;
	}
	T_EQ(oi.width, ew);
	T_EQ(oi.height, eh);
	if (oi.width != ew || oi.height != eh)
		fprintf(stderr, "  %dx%d fit %d: got %dx%d want %dx%d\n", w, h,
			fit, oi.width, oi.height, ew, eh);
	T_EQ(px_image_probe(out.data, out.len, &lim_default, &pi, &eb), 0);
	T_EQ(pi.width, ew);
	T_EQ(pi.height, eh);
	px_buf_release(&out);
}

/* ---- cases ---------------------------------------------------------- */

struct expect {
	const char *name;
	int rc;
	const char *code;
	enum px_fmt fmt;
	int w, h, frames;
	bool alpha;
};

static const struct expect table[] = {
	{"rgb.jpg", 0, NULL, PX_FMT_JPEG, 320, 320, 1, false},
	{"progressive.jpg", 0, NULL, PX_FMT_JPEG, 320, 320, 1, false},
	{"cmyk.jpg", 0, NULL, PX_FMT_JPEG, 320, 320, 1, false},
	{"png16.png", 0, NULL, PX_FMT_PNG, 320, 320, 1, false},
	{"gray-alpha.png", 0, NULL, PX_FMT_PNG, 320, 320, 1, true},
	{"interlaced.png", 0, NULL, PX_FMT_PNG, 320, 320, 1, false},
	{"lossy.webp", 0, NULL, PX_FMT_WEBP, 320, 320, 1, false},
	{"image.avif", 0, NULL, PX_FMT_AVIF, 320, 320, 1, false},
	{"image.heic", 0, NULL, PX_FMT_HEIC, 320, 320, 1, false},
	{"image.tif", 0, NULL, PX_FMT_TIFF, 320, 320, 1, false},
	{"exif-orientation-6.jpg", 0, NULL, PX_FMT_JPEG, 320, 320, 1, false},
	{"exif-gps.jpg", 0, NULL, PX_FMT_JPEG, 320, 320, 1, false},
	{"animated-12-frames.gif", 0, NULL, PX_FMT_GIF, 32, 32, 12, false},
	{"animated.webp", 0, NULL, PX_FMT_WEBP, 32, 32, 12, false},
	{"truncated.jpg", 0, NULL, PX_FMT_JPEG, 320, 320, 1, false},
	{"bomb-png-30000x30000.png", PX_ELIMIT, "too_many_pixels", 0, 0, 0, 0,
	 false},
	{"sof-65000x65000.jpg", PX_ELIMIT, "too_many_pixels", 0, 0, 0, 0,
	 false},
	{"wide-20000x1.png", PX_ELIMIT, "dimensions_too_large", 0, 0, 0, 0,
	 false},
	{"zero-bytes.jpg", PX_EINVAL, "empty_input", 0, 0, 0, 0, false},
	{"text-as-jpg.jpg", PX_EUNSUPPORTED, "unsupported_format", 0, 0, 0, 0,
	 false},
	{"svg-with-script.svg", PX_EUNSUPPORTED, "unsupported_format", 0, 0, 0,
	 0, false},
	{"fake-pdf.pdf", PX_EUNSUPPORTED, "unsupported_format", 0, 0, 0, 0,
	 false},
};

static void test_names(void)
{
	T_CASE("names")
	{
		T_STREQ(px_fmt_name(PX_FMT_JPEG), "jpeg");
		T_STREQ(px_fmt_name(PX_FMT_AVIF), "avif");
		T_STREQ(px_fmt_name((enum px_fmt)99), "unknown");
		T_STREQ(px_fmt_mime(PX_FMT_WEBP), "image/webp");
		T_STREQ(px_fmt_mime(PX_FMT_UNKNOWN), "application/octet-stream");
		T_EQ(px_fmt_parse("jpg"), PX_FMT_JPEG);
		T_EQ(px_fmt_parse("jpeg"), PX_FMT_JPEG);
		T_EQ(px_fmt_parse("gif"), PX_FMT_GIF);
		T_EQ(px_fmt_parse("bmp"), PX_FMT_UNKNOWN);
		T_EQ(px_fmt_parse(NULL), PX_FMT_UNKNOWN);
		for (int f = PX_FMT_UNKNOWN; f <= PX_FMT_PDF; f++)
			T_EQ((int)px_fmt_parse(px_fmt_name((enum px_fmt)f)), f);
		T_OK(px_image_format_allowed(PX_FMT_HEIC));
		T_OK(px_image_format_allowed(PX_FMT_TIFF));
		T_OK(!px_image_format_allowed(PX_FMT_SVG));
		T_OK(!px_image_format_allowed(PX_FMT_PDF));
		T_OK(!px_image_format_allowed(PX_FMT_UNKNOWN));
		T_OK(px_image_version() && px_image_version()[0] == '8');
	}
}

static void test_sniff(void)
{
	static const struct {
		const char *name;
		enum px_fmt fmt;
	} aFile[] = {
		{"rgb.jpg", PX_FMT_JPEG},
		{"png16.png", PX_FMT_PNG},
		{"animated-12-frames.gif", PX_FMT_GIF},
		{"lossy.webp", PX_FMT_WEBP},
		{"image.avif", PX_FMT_AVIF},
		{"image.heic", PX_FMT_HEIC},
		{"image.tif", PX_FMT_TIFF},
		{"svg-with-script.svg", PX_FMT_SVG},
		{"fake-pdf.pdf", PX_FMT_PDF},
		{"text-as-jpg.jpg", PX_FMT_UNKNOWN},
		{"zero-bytes.jpg", PX_FMT_UNKNOWN},
	};

	T_CASE("sniff")
	{
		for (size_t i = 0; i < sizeof(aFile) / sizeof(aFile[0]); i++) {
			struct px_buf b;

			T_EQ(load(aFile[i].name, &b), 0);
			T_EQ(px_image_sniff(b.data, b.len), aFile[i].fmt);
			px_buf_release(&b);
		}
		T_EQ(px_image_sniff("\xEF\xBB\xBF \n<?xml version", 19),
		     PX_FMT_SVG);
		T_EQ(px_image_sniff("\xFF\xD8", 2), PX_FMT_UNKNOWN);
		T_EQ(px_image_sniff("MM\0*", 4), PX_FMT_TIFF);
		T_EQ(px_image_sniff(NULL, 0), PX_FMT_UNKNOWN);
		/* avif in the compatible brands wins over a heif major brand */
		T_EQ(px_image_sniff("\0\0\0\x18" "ftypmif1\0\0\0\0mif1avif", 24),
		     PX_FMT_AVIF);
		T_EQ(px_image_sniff("\0\0\0\x14" "ftypmif1\0\0\0\0mif1", 20),
		     PX_FMT_HEIC);
		T_EQ(px_image_sniff("\0\0\0\x14" "ftypisom\0\0\0\0mp41", 20),
		     PX_FMT_UNKNOWN);
	}
}

static void test_probe_table(void)
{
	T_CASE("probe every input")
	{
		for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
			const struct expect *e = &table[i];
			struct px_image_info info = {0};
			struct px_errbuf eb = {0};
			struct px_buf b;
			double t0;
			int rc;

			T_EQ(load(e->name, &b), 0);
			t0 = now();
			rc = px_image_probe(b.data, b.len, &lim_default, &info,
					    &eb);
			T_OK(now() - t0 < 1.0); /* header only, never a decode */
			T_EQ(rc, e->rc);
			if (rc != e->rc)
				fprintf(stderr, "  %s: rc %d (%s) %s\n", e->name,
					rc, eb.code ? eb.code : "-", eb.msg);
			if (e->rc) {
				T_STREQ(eb.code, e->code);
				T_OK(eb.msg[0] != '\0');
			} else {
				T_EQ(info.format, e->fmt);
				T_EQ(info.width, e->w);
				T_EQ(info.height, e->h);
				T_EQ(info.frames, e->frames);
				T_EQ(info.has_alpha, e->alpha);
			}
			px_buf_release(&b);
		}
	}
	T_CASE("probe limits")
	{
		struct px_image_limits tight = {1000, 16384, 500};
		struct px_image_limits few = {100000000ULL, 16384, 5};
		struct px_image_limits narrow = {100000000ULL, 100, 500};
		struct px_image_info info;
		struct px_errbuf eb = {0};
		struct px_buf b;

		T_EQ(load("animated-12-frames.gif", &b), 0);
		T_EQ(px_image_probe(b.data, b.len, &few, &info, &eb), PX_ELIMIT);
		T_STREQ(eb.code, "too_many_frames");
		/* 32x32x12 = 12288 pixels over all frames */
		T_EQ(px_image_probe(b.data, b.len, &tight, &info, &eb),
		     PX_ELIMIT);
		T_STREQ(eb.code, "too_many_pixels");
		px_buf_release(&b);
		T_EQ(load("rgb.jpg", &b), 0);
		T_EQ(px_image_probe(b.data, b.len, &narrow, &info, &eb),
		     PX_ELIMIT);
		T_STREQ(eb.code, "dimensions_too_large");
		/* NULL limits mean the defaults */
		T_EQ(px_image_probe(b.data, b.len, NULL, &info, &eb), 0);
		/* cut short inside the header */
		T_EQ(px_image_probe(b.data, 40, &lim_default, &info, &eb),
		     PX_ECORRUPT);
		T_STREQ(eb.code, "corrupt_image");
		px_buf_release(&b);
		T_EQ(load("exif-orientation-6.jpg", &b), 0);
		T_EQ(px_image_probe(b.data, b.len, NULL, &info, &eb), 0);
		T_EQ(info.orientation, 6);
		px_buf_release(&b);
		T_EQ(load("rgb.jpg", &b), 0);
		T_EQ(px_image_probe(b.data, b.len, NULL, &info, &eb), 0);
		T_EQ(info.orientation, 1);
		px_buf_release(&b);
	}
}

static void test_verify(void)
{
	T_CASE("verify")
	{
		for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
			const struct expect *e = &table[i];
			struct px_errbuf eb = {0};
			struct px_buf b;
			int rc;

			if (e->rc || strcmp(e->name, "truncated.jpg") == 0)
				continue;
			T_EQ(load(e->name, &b), 0);
			rc = px_image_verify(b.data, b.len, &eb);
			T_EQ(rc, 0);
			if (rc)
				fprintf(stderr, "  %s: %s\n", e->name, eb.msg);
			px_buf_release(&b);
		}
	}
	T_CASE("verify truncated")
	{
		struct px_errbuf eb = {0};
		struct px_buf b;

		T_EQ(load("truncated.jpg", &b), 0);
		T_EQ(px_image_verify(b.data, b.len, &eb), PX_ECORRUPT);
		T_STREQ(eb.code, "corrupt_image");
		T_OK(eb.msg[0] != '\0');
		px_buf_release(&b);
		T_EQ(load("text-as-jpg.jpg", &b), 0);
		T_EQ(px_image_verify(b.data, b.len, &eb), PX_EUNSUPPORTED);
		px_buf_release(&b);
		/* other formats cut short: the header may pass, the decode
		 * must not */
		static const struct {
			const char *name;
			size_t keep;
		} aCut[] = {
			{"progressive.jpg", 20000},
			{"interlaced.png", 5000},
			{"png16.png", 300000},
			{"animated-12-frames.gif", 5000},
			{"lossy.webp", 5000},
			{"image.avif", 12000},
			{"image.heic", 3000},
			{"image.tif", 150000},
		};
		for (size_t i = 0; i < sizeof(aCut) / sizeof(aCut[0]); i++) {
			T_EQ(load(aCut[i].name, &b), 0);
			T_OK(b.len > aCut[i].keep);
			T_EQ(px_image_verify(b.data, aCut[i].keep, &eb),
			     PX_ECORRUPT);
			T_STREQ(eb.code, "corrupt_image");
			px_buf_release(&b);
		}
	}
}

static void test_fit(void)
{
	T_CASE("fit into 200x100")
	{
		check_size(200, 100, PX_FIT_SCALE_DOWN, 100, 100);
		check_size(200, 100, PX_FIT_CONTAIN, 100, 100);
		check_size(200, 100, PX_FIT_COVER, 200, 100);
		check_size(200, 100, PX_FIT_CROP, 200, 100);
		check_size(200, 100, PX_FIT_PAD, 200, 100);
		check_size(200, 100, PX_FIT_SQUEEZE, 200, 100);
	}
	T_CASE("fit into 640x480")
	{
		check_size(640, 480, PX_FIT_SCALE_DOWN, 320, 320);
		check_size(640, 480, PX_FIT_CONTAIN, 480, 480);
		check_size(640, 480, PX_FIT_COVER, 640, 480);
		check_size(640, 480, PX_FIT_CROP, 320, 320);
		check_size(640, 480, PX_FIT_PAD, 640, 480);
		check_size(640, 480, PX_FIT_SQUEEZE, 640, 480);
	}
	T_CASE("fit into 200x400")
	{
		/* crop: shrinks and crops, but the 320 rows are not enlarged */
		check_size(200, 400, PX_FIT_CROP, 200, 320);
		check_size(200, 400, PX_FIT_COVER, 200, 400);
		check_size(200, 400, PX_FIT_SCALE_DOWN, 200, 200);
		check_size(200, 400, PX_FIT_PAD, 200, 400);
	}
	T_CASE("one side only")
	{
		for (int f = PX_FIT_SCALE_DOWN; f <= PX_FIT_SQUEEZE; f++) {
			check_size(160, 0, (enum px_fit)f, 160, 160);
			check_size(0, 80, (enum px_fit)f, 80, 80);
		}
		check_size(640, 0, PX_FIT_SCALE_DOWN, 320, 320);
		check_size(640, 0, PX_FIT_CROP, 320, 320);
		check_size(640, 0, PX_FIT_CONTAIN, 640, 640);
		check_size(0, 480, PX_FIT_COVER, 480, 480);
		check_size(0, 0, PX_FIT_COVER, 320, 320);
	}
}

/* A 320x160 JPEG with no metadata, made from rgb.jpg. */
static int make_wide(struct px_buf *out)
{
	struct px_xform x;
	struct px_errbuf eb = {0};

	box(&x, 320, 160, PX_FIT_SQUEEZE);
	x.metadata = PX_META_NONE;
	return xform("rgb.jpg", &x, out, NULL, &eb);
}

static void test_aspect_and_gravity(void)
{
	T_CASE("aspect of a wide image")
	{
		struct px_buf wide, out;
		struct px_xform x;
		struct px_image_info oi;
		struct px_errbuf eb = {0};

		T_EQ(make_wide(&wide), 0);
		px_buf_init(&out, 0);
		box(&x, 100, 0, PX_FIT_SCALE_DOWN);
		T_EQ(px_image_transform(wide.data, wide.len, &x, NULL, &out, &oi,
					&eb), 0);
		T_EQ(oi.width, 100);
		T_EQ(oi.height, 50);
		px_buf_release(&out);
		box(&x, 100, 100, PX_FIT_CONTAIN);
		T_EQ(px_image_transform(wide.data, wide.len, &x, NULL, &out, &oi,
					&eb), 0);
		T_EQ(oi.width, 100);
		T_EQ(oi.height, 50);
		px_buf_release(&out);
		box(&x, 100, 100, PX_FIT_COVER);
		T_EQ(px_image_transform(wide.data, wide.len, &x, NULL, &out, &oi,
					&eb), 0);
		T_EQ(oi.width, 100);
		T_EQ(oi.height, 100);
		px_buf_release(&out);
		box(&x, 0, 40, PX_FIT_CROP);
		T_EQ(px_image_transform(wide.data, wide.len, &x, NULL, &out, &oi,
					&eb), 0);
		T_EQ(oi.width, 80);
		T_EQ(oi.height, 40);
		px_buf_release(&out);
		px_buf_release(&wide);
	}
	T_CASE("gravity")
	{
		/* cover 320x320 into 100x320: the crop is horizontal only */
		static const struct {
			enum px_gravity g;
			double gx;
		} aG[] = {
			{PX_GRAVITY_LEFT, 0},	 {PX_GRAVITY_RIGHT, 0},
			{PX_GRAVITY_CENTER, 0},	 {PX_GRAVITY_POINT, 0},
			{PX_GRAVITY_POINT, 1},	 {PX_GRAVITY_POINT, 0.5},
			{PX_GRAVITY_AUTO, 0},
		};
		struct px_buf a[7];
		struct px_errbuf eb = {0};
		struct px_image_info oi;

		for (int i = 0; i < 7; i++) {
			struct px_xform x;

			box(&x, 100, 320, PX_FIT_COVER);
			x.format = PX_FMT_PNG;
			x.gravity = aG[i].g;
			x.gx = aG[i].gx;
			x.gy = 0.5;
			T_EQ(xform("rgb.jpg", &x, &a[i], &oi, &eb), 0);
			T_EQ(oi.width, 100);
			T_EQ(oi.height, 320);
		}
#define SAME(i, j) (a[i].len == a[j].len && memcmp(a[i].data, a[j].data, a[i].len) == 0)
		T_OK(!SAME(0, 1));
		T_OK(!SAME(0, 2));
		T_OK(SAME(0, 3)); /* point x=0 is left */
		T_OK(SAME(1, 4)); /* point x=1 is right */
		T_OK(SAME(2, 5)); /* point x=0.5 is centre */
		T_OK(a[6].len > 0);
#undef SAME
		for (int i = 0; i < 7; i++)
			px_buf_release(&a[i]);
	}
}

/* Build rgb-derived 320x160 JPEG with an EXIF orientation 6 tag. */
static int make_oriented(struct px_buf *out)
{
	static const unsigned char app1[] = {
		0xFF, 0xE1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0, 0,
		/* TIFF header, IFD0 at 8 */
		'I', 'I', 0x2A, 0x00, 0x08, 0x00, 0x00, 0x00,
		/* one entry: Orientation SHORT 1 = 6 */
		0x01, 0x00, 0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00,
		0x06, 0x00, 0x00, 0x00,
		/* no next IFD */
		0x00, 0x00, 0x00, 0x00,
	};
	struct px_buf wide;
	int rc;

	if ((rc = make_wide(&wide)))
		return rc;
	px_buf_init(out, 0);
	rc = px_buf_add(out, wide.data, 2);
	rc = rc ? rc : px_buf_add(out, app1, sizeof(app1));
	rc = rc ? rc : px_buf_add(out, wide.data + 2, wide.len - 2);
	px_buf_release(&wide);
	return rc;
}

static void test_orientation(void)
{
	T_CASE("orientation 6")
	{
		struct px_buf src, out, rgbU, rgbS, wide;
		struct px_image_info info, oi;
		struct px_errbuf eb = {0};
		int w = 0, h = 0, ws = 0, hs = 0;
		size_t diff = 0, len;

		T_EQ(make_oriented(&src), 0);
		T_EQ(px_image_probe(src.data, src.len, NULL, &info, &eb), 0);
		T_EQ(info.orientation, 6);
		T_EQ(info.width, 160); /* stored 320x160, shown 160x320 */
		T_EQ(info.height, 320);
		for (int m = PX_META_COPYRIGHT; m <= PX_META_NONE; m++) {
			struct px_xform x;
			const unsigned char *t;

			px_xform_init(&x);
			x.metadata = (enum px_meta)m;
			px_buf_init(&out, 0);
			T_EQ(px_image_transform(src.data, src.len, &x, NULL, &out,
						&oi, &eb), 0);
			T_EQ(oi.width, 160);
			T_EQ(oi.height, 320);
			t = jpeg_exif(out.data, out.len, &len);
			/* no tag that would rotate the upright pixels again */
			T_OK(!t || tiff_ifd0(t, len, 0x0112) == -1);
			T_EQ(px_image_probe(out.data, out.len, NULL, &info, &eb),
			     0);
			T_EQ(info.orientation, 1);
			T_EQ(info.width, 160);
			px_buf_release(&out);
		}
		/* pixel for pixel: shown (x, y) is stored (y, 159 - x) */
		px_buf_init(&rgbU, 0);
		px_buf_init(&rgbS, 0);
		T_EQ(px_image_rgb_full(src.data, src.len, NULL, &rgbU, &w, &h,
				       &eb), 0);
		T_EQ(w, 160);
		T_EQ(h, 320);
		T_EQ(make_wide(&wide), 0);
		T_EQ(px_image_rgb_full(wide.data, wide.len, NULL, &rgbS, &ws,
				       &hs, &eb), 0);
		T_EQ(ws, 320);
		T_EQ(hs, 160);
		if (w == 160 && h == 320 && ws == 320 && hs == 160) {
			for (int y = 0; y < h; y++)
				for (int x = 0; x < w; x++)
					for (int c = 0; c < 3; c++) {
						int u = rgbU.data[(y * w + x) * 3 + c];
						int s = rgbS.data[((159 - x) * ws + y) * 3 + c];

						diff += (size_t)abs(u - s);
					}
			T_OK(diff / (size_t)(w * h * 3) < 2);
		}
		px_buf_release(&wide);
		px_buf_release(&rgbU);
		px_buf_release(&rgbS);
		px_buf_release(&src);
	}
}

static void test_metadata(void)
{
	T_CASE("gps and copyright")
	{
		struct px_buf out;
		struct px_xform x;
		struct px_errbuf eb = {0};
		const unsigned char *t;
		size_t len = 0;

		/* COPYRIGHT: only Copyright stays; Artist and GPS go */
		px_xform_init(&x);
		x.width = 100;
		T_EQ(xform("exif-gps.jpg", &x, &out, NULL, &eb), 0);
		t = jpeg_exif(out.data, out.len, &len);
		T_OK(t != NULL);
		T_EQ(tiff_ifd0(t, len, 0x8825), -1); /* GPS IFD pointer */
		T_EQ(tiff_ifd0(t, len, 0x013B), -1); /* Artist */
		T_OK(tiff_ifd0(t, len, 0x8298) != -1); /* Copyright */
		T_OK(!has_bytes(&out, "Test Artist"));
		T_OK(has_bytes(&out, "CC0 test"));
		T_EQ(tiff_ifd0(t, len, 0x0112), -1);
		px_buf_release(&out);

		/* NONE: nothing at all */
		x.metadata = PX_META_NONE;
		T_EQ(xform("exif-gps.jpg", &x, &out, NULL, &eb), 0);
		T_OK(jpeg_exif(out.data, out.len, &len) == NULL);
		T_OK(!has_bytes(&out, "Test Artist"));
		T_OK(!has_bytes(&out, "Exif"));
		px_buf_release(&out);

		/* KEEP: GPS survives */
		x.metadata = PX_META_KEEP;
		T_EQ(xform("exif-gps.jpg", &x, &out, NULL, &eb), 0);
		t = jpeg_exif(out.data, out.len, &len);
		T_OK(t != NULL);
		T_OK(tiff_ifd0(t, len, 0x8825) != -1);
		T_OK(has_bytes(&out, "Test Artist"));
		px_buf_release(&out);

		/* and in the other containers that carry EXIF */
		static const enum px_fmt aF[] = {PX_FMT_WEBP, PX_FMT_PNG,
						 PX_FMT_AVIF};
		for (size_t i = 0; i < 3; i++) {
			x.format = aF[i];
			x.metadata = PX_META_COPYRIGHT;
			T_EQ(xform("exif-gps.jpg", &x, &out, NULL, &eb), 0);
			t = find_tiff(&out, &len);
			T_OK(t != NULL);
			T_EQ(tiff_ifd0(t, len, 0x8825), -1);
			T_OK(tiff_ifd0(t, len, 0x8298) != -1);
			T_EQ(tiff_ifd0(t, len, 0x0112), -1);
			T_OK(has_bytes(&out, "CC0 test"));
			T_OK(!has_bytes(&out, "GPS"));
			px_buf_release(&out);
			x.metadata = PX_META_NONE;
			T_EQ(xform("exif-gps.jpg", &x, &out, NULL, &eb), 0);
			T_OK(find_tiff(&out, &len) == NULL);
			T_OK(!has_bytes(&out, "CC0 test"));
			T_OK(!has_bytes(&out, "Test Artist"));
			px_buf_release(&out);
			x.metadata = PX_META_KEEP;
			T_EQ(xform("exif-gps.jpg", &x, &out, NULL, &eb), 0);
			t = find_tiff(&out, &len);
			T_OK(t != NULL);
			T_OK(tiff_ifd0(t, len, 0x8825) != -1);
			T_EQ(tiff_ifd0(t, len, 0x0112), -1);
			px_buf_release(&out);
			/* a photo without copyright: no EXIF at all */
			x.metadata = PX_META_COPYRIGHT;
			T_EQ(xform("lossy.webp", &x, &out, NULL, &eb), 0);
			T_OK(find_tiff(&out, &len) == NULL);
			px_buf_release(&out);
		}

		/* an image without copyright keeps no EXIF under COPYRIGHT */
		px_xform_init(&x);
		T_EQ(xform("progressive.jpg", &x, &out, NULL, &eb), 0);
		T_OK(jpeg_exif(out.data, out.len, &len) == NULL);
		px_buf_release(&out);
	}
}

static void test_colour(void)
{
	T_CASE("png16 to 8 bit")
	{
		struct px_buf out;
		struct px_xform x;
		struct px_errbuf eb = {0};

		px_xform_init(&x);
		x.format = PX_FMT_PNG;
		T_EQ(xform("png16.png", &x, &out, NULL, &eb), 0);
		T_OK(out.len > 26 && memcmp(out.data + 12, "IHDR", 4) == 0);
		T_EQ(out.data[24], 8); /* bit depth */
		T_EQ(out.data[25], 2); /* colour type RGB */
		px_buf_release(&out);
	}
	T_CASE("cmyk to srgb")
	{
		struct px_buf out, rgb;
		struct px_xform x;
		struct px_image_info pi;
		struct px_errbuf eb = {0};
		double sum = 0;
		int w, h;

		px_xform_init(&x);
		T_EQ(xform("cmyk.jpg", &x, &out, NULL, &eb), 0);
		T_EQ(jpeg_components(out.data, out.len), 3);
		T_EQ(px_image_probe(out.data, out.len, NULL, &pi, &eb), 0);
		T_EQ(pi.format, PX_FMT_JPEG);
		T_OK(!pi.has_alpha);
		/* the CMYK profile must not ride along with sRGB pixels */
		T_OK(!has_bytes(&out, "ICC_PROFILE"));
		/* mean colour as converted with the embedded profile
		 * (126.8 from vips icc_transform); a naive inversion is
		 * far off */
		px_buf_init(&rgb, 0);
		T_EQ(px_image_rgb_full(out.data, out.len, NULL, &rgb, &w, &h,
				       &eb), 0);
		for (size_t i = 0; i < rgb.len; i++)
			sum += rgb.data[i];
		T_OK(rgb.len && fabs(sum / rgb.len - 126.8) < 3);
		px_buf_release(&rgb);
		px_buf_release(&out);
	}
	T_CASE("alpha")
	{
		struct px_buf out;
		struct px_xform x;
		struct px_image_info oi, pi;
		struct px_errbuf eb = {0};

		px_xform_init(&x);
		T_EQ(xform("gray-alpha.png", &x, &out, &oi, &eb), 0);
		T_OK(!oi.has_alpha);
		T_EQ(px_image_probe(out.data, out.len, NULL, &pi, &eb), 0);
		T_EQ(pi.format, PX_FMT_JPEG);
		T_OK(!pi.has_alpha);
		px_buf_release(&out);
		static const enum px_fmt aF[] = {PX_FMT_PNG, PX_FMT_WEBP,
						 PX_FMT_AVIF};
		for (size_t i = 0; i < 3; i++) {
			x.format = aF[i];
			T_EQ(xform("gray-alpha.png", &x, &out, &oi, &eb), 0);
			T_OK(oi.has_alpha);
			T_EQ(px_image_probe(out.data, out.len, NULL, &pi, &eb),
			     0);
			T_EQ(pi.format, aF[i]);
			T_OK(pi.has_alpha);
			px_buf_release(&out);
		}
	}
	T_CASE("pad background")
	{
		struct px_buf out;
		struct px_xform x;
		struct px_image_info oi;
		struct px_errbuf eb = {0};

		box(&x, 400, 200, PX_FIT_PAD);
		x.format = PX_FMT_PNG;
		x.background[3] = 0;
		T_EQ(xform("rgb.jpg", &x, &out, &oi, &eb), 0);
		T_EQ(oi.width, 400);
		T_EQ(oi.height, 200);
		T_OK(oi.has_alpha);
		px_buf_release(&out);
		x.background[3] = 255;
		T_EQ(xform("rgb.jpg", &x, &out, &oi, &eb), 0);
		T_OK(!oi.has_alpha);
		px_buf_release(&out);
		x.format = PX_FMT_JPEG;
		x.background[3] = 0;
		T_EQ(xform("gray-alpha.png", &x, &out, &oi, &eb), 0);
		T_OK(!oi.has_alpha);
		T_EQ(oi.width, 400);
		px_buf_release(&out);
	}
}

static void test_formats_and_anim(void)
{
	T_CASE("every output format")
	{
		static const enum px_fmt aF[] = {PX_FMT_JPEG, PX_FMT_PNG,
						 PX_FMT_WEBP, PX_FMT_AVIF,
						 PX_FMT_GIF};
		for (size_t i = 0; i < 5; i++) {
			struct px_buf out;
			struct px_xform x;
			struct px_image_info oi, pi;
			struct px_errbuf eb = {0};

			box(&x, 200, 0, PX_FIT_SCALE_DOWN);
			x.format = aF[i];
			T_EQ(xform("rgb.jpg", &x, &out, &oi, &eb), 0);
			T_EQ(px_image_sniff(out.data, out.len), aF[i]);
			T_EQ(oi.format, aF[i]);
			T_EQ(px_image_probe(out.data, out.len, NULL, &pi, &eb),
			     0);
			T_EQ(pi.width, 200);
			T_EQ(pi.height, 200);
			T_EQ(px_image_verify(out.data, out.len, &eb), 0);
			px_buf_release(&out);
		}
	}
	T_CASE("every accepted input")
	{
		for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
			struct px_buf out;
			struct px_xform x;
			struct px_errbuf eb = {0};
			int rc;

			if (table[i].rc || strcmp(table[i].name, "truncated.jpg") == 0)
				continue;
			box(&x, 64, 64, PX_FIT_COVER);
			x.format = PX_FMT_WEBP;
			rc = xform(table[i].name, &x, &out, NULL, &eb);
			T_EQ(rc, 0);
			if (rc)
				fprintf(stderr, "  %s: %s\n", table[i].name, eb.msg);
			px_buf_release(&out);
		}
	}
	T_CASE("animation")
	{
		static const struct {
			const char *src;
			enum px_fmt fmt;
			bool anim;
			int w, frames;
		} aC[] = {
			{"animated-12-frames.gif", PX_FMT_WEBP, true, 0, 12},
			{"animated-12-frames.gif", PX_FMT_WEBP, false, 0, 1},
			{"animated-12-frames.gif", PX_FMT_GIF, true, 16, 12},
			{"animated-12-frames.gif", PX_FMT_PNG, true, 0, 1},
			{"animated.webp", PX_FMT_GIF, true, 0, 12},
			{"animated.webp", PX_FMT_WEBP, true, 64, 12},
			{"animated.webp", PX_FMT_JPEG, true, 0, 1},
		};
		for (size_t i = 0; i < sizeof(aC) / sizeof(aC[0]); i++) {
			struct px_buf out;
			struct px_xform x;
			struct px_image_info oi, pi;
			struct px_errbuf eb = {0};
			int want = aC[i].w ? aC[i].w : 32;

			box(&x, aC[i].w, 0, PX_FIT_CONTAIN);
			x.format = aC[i].fmt;
			x.anim = aC[i].anim;
			T_EQ(xform(aC[i].src, &x, &out, &oi, &eb), 0);
			T_EQ(oi.frames, aC[i].frames);
			T_EQ(oi.width, want);
			T_EQ(oi.height, want);
			T_EQ(px_image_probe(out.data, out.len, NULL, &pi, &eb),
			     0);
			T_EQ(pi.frames, aC[i].frames);
			T_EQ(pi.width, want);
			T_EQ(pi.height, want);
			px_buf_release(&out);
		}
	}
	T_CASE("animated crop and pad")
	{
		struct px_buf out;
		struct px_xform x;
		struct px_image_info oi, pi;
		struct px_errbuf eb = {0};

		static const enum px_gravity aG[] = {PX_GRAVITY_AUTO,
						     PX_GRAVITY_LEFT};
		for (int i = 0; i < 2; i++) {
			box(&x, 20, 10, PX_FIT_COVER);
			x.gravity = aG[i];
			x.format = PX_FMT_WEBP;
			T_EQ(xform("animated-12-frames.gif", &x, &out, &oi, &eb),
			     0);
			T_EQ(oi.frames, 12);
			T_EQ(oi.width, 20);
			T_EQ(oi.height, 10);
			T_EQ(px_image_probe(out.data, out.len, NULL, &pi, &eb),
			     0);
			T_EQ(pi.frames, 12);
			T_EQ(pi.height, 10);
			px_buf_release(&out);
		}
		box(&x, 64, 40, PX_FIT_PAD);
		x.format = PX_FMT_GIF;
		T_EQ(xform("animated.webp", &x, &out, &oi, &eb), 0);
		T_EQ(oi.frames, 12);
		T_EQ(oi.width, 64);
		T_EQ(oi.height, 40);
		T_EQ(px_image_probe(out.data, out.len, NULL, &pi, &eb), 0);
		T_EQ(pi.frames, 12);
		px_buf_release(&out);
	}
}

static void test_refusals(void)
{
	T_CASE("transform refusals")
	{
		static const struct {
			const char *name;
			int rc;
			const char *code;
		} aR[] = {
			{"bomb-png-30000x30000.png", PX_ELIMIT, "too_many_pixels"},
			{"sof-65000x65000.jpg", PX_ELIMIT, "too_many_pixels"},
			{"wide-20000x1.png", PX_ELIMIT, "dimensions_too_large"},
			{"text-as-jpg.jpg", PX_EUNSUPPORTED, "unsupported_format"},
			{"svg-with-script.svg", PX_EUNSUPPORTED,
			 "unsupported_format"},
			{"fake-pdf.pdf", PX_EUNSUPPORTED, "unsupported_format"},
			{"zero-bytes.jpg", PX_EINVAL, "empty_input"},
		};
		for (size_t i = 0; i < sizeof(aR) / sizeof(aR[0]); i++) {
			struct px_buf out;
			struct px_xform x;
			struct px_errbuf eb = {0};
			double t0 = now();

			px_xform_init(&x);
			x.width = 100;
			T_EQ(xform(aR[i].name, &x, &out, NULL, &eb), aR[i].rc);
			T_STREQ(eb.code, aR[i].code);
			T_EQ(out.len, 0);
			T_OK(now() - t0 < 1.0);
			px_buf_release(&out);
		}
	}
	T_CASE("output limits and bad requests")
	{
		struct px_buf out;
		struct px_xform x;
		struct px_errbuf eb = {0};

		/* past the output cap (lifted here), the limits refuse */
		box(&x, 20000, 10, PX_FIT_SQUEEZE);
		x.max_output = 30000;
		T_EQ(xform("rgb.jpg", &x, &out, NULL, &eb), PX_ELIMIT);
		T_STREQ(eb.code, "dimensions_too_large");
		px_buf_release(&out);
		box(&x, 16000, 1, PX_FIT_COVER);
		x.max_output = 16000;
		T_EQ(xform("rgb.jpg", &x, &out, NULL, &eb), PX_ELIMIT);
		T_STREQ(eb.code, "too_many_pixels");
		px_buf_release(&out);
		box(&x, 100, 0, PX_FIT_CONTAIN);
		x.format = PX_FMT_HEIC;
		T_EQ(xform("rgb.jpg", &x, &out, NULL, &eb), PX_EINVAL);
		px_buf_release(&out);
		box(&x, -5, 0, PX_FIT_CONTAIN);
		T_EQ(xform("rgb.jpg", &x, &out, NULL, &eb), PX_EINVAL);
		px_buf_release(&out);
		/* a truncated file still transforms or fails cleanly */
		box(&x, 100, 0, PX_FIT_CONTAIN);
		int rc = xform("truncated.jpg", &x, &out, NULL, &eb);
		T_OK(rc == 0 || rc == PX_ECORRUPT || rc == PX_EINTERNAL);
		px_buf_release(&out);
	}
}

static void test_rgb(void)
{
	T_CASE("rgb_resize")
	{
		static const char *aName[] = {"rgb.jpg", "gray-alpha.png",
					      "cmyk.jpg", "png16.png",
					      "animated-12-frames.gif",
					      "image.heic"};
		for (size_t i = 0; i < 6; i++) {
			struct px_buf in, out;
			struct px_errbuf eb = {0};

			T_EQ(load(aName[i], &in), 0);
			px_buf_init(&out, 0);
			T_EQ(px_image_rgb_resize(in.data, in.len, 64, 48, &out,
						 &eb), 0);
			T_EQ(out.len, (size_t)64 * 48 * 3);
			px_buf_release(&out);
			px_buf_release(&in);
		}
		struct px_buf in, out;
		struct px_errbuf eb = {0};
		int w = 0, h = 0;

		T_EQ(load("gray-alpha.png", &in), 0);
		px_buf_init(&out, 0);
		T_EQ(px_image_rgb_full(in.data, in.len, NULL, &out, &w, &h, &eb),
		     0);
		T_EQ(w, 320);
		T_EQ(h, 320);
		T_EQ(out.len, (size_t)320 * 320 * 3);
		px_buf_release(&out);
		T_EQ(px_image_rgb_resize(in.data, in.len, 0, 10, &out, &eb),
		     PX_EINVAL);
		px_buf_release(&in);
		T_EQ(load("bomb-png-30000x30000.png", &in), 0);
		T_EQ(px_image_rgb_full(in.data, in.len, NULL, &out, &w, &h, &eb),
		     PX_ELIMIT);
		px_buf_release(&in);
	}
}

struct job {
	enum px_fmt fmt;
	struct px_buf in;
	struct px_buf want;
	int bad;
};

static void *worker(void *p)
{
	struct job *j = p;

	for (int i = 0; i < 4; i++) {
		struct px_xform x;
		struct px_buf out;
		struct px_errbuf eb = {0};

		box(&x, 120, 90, PX_FIT_COVER);
		x.gravity = PX_GRAVITY_AUTO;
		x.format = j->fmt;
		px_buf_init(&out, 0);
		if (px_image_transform(j->in.data, j->in.len, &x, NULL, &out,
				       NULL, &eb) ||
		    out.len != j->want.len ||
		    memcmp(out.data, j->want.data, out.len) != 0)
			j->bad++;
		px_buf_release(&out);
	}
	return NULL;
}

static void test_threads(void)
{
	T_CASE("concurrent transforms")
	{
		static const enum px_fmt aF[] = {PX_FMT_JPEG, PX_FMT_PNG,
						 PX_FMT_WEBP, PX_FMT_GIF};
		struct job aJob[4];
		pthread_t aT[4];

		for (int i = 0; i < 4; i++) {
			struct px_xform x;
			struct px_errbuf eb = {0};

			aJob[i].fmt = aF[i];
			aJob[i].bad = 0;
			T_EQ(load(i & 1 ? "exif-gps.jpg" : "gray-alpha.png",
				  &aJob[i].in), 0);
			box(&x, 120, 90, PX_FIT_COVER);
			x.format = aF[i];
			px_buf_init(&aJob[i].want, 0);
			T_EQ(px_image_transform(aJob[i].in.data, aJob[i].in.len,
						&x, NULL, &aJob[i].want, NULL,
						&eb), 0);
		}
		for (int i = 0; i < 4; i++)
			T_EQ(pthread_create(&aT[i], NULL, worker, &aJob[i]), 0);
		for (int i = 0; i < 4; i++) {
			pthread_join(aT[i], NULL);
			T_EQ(aJob[i].bad, 0);
			px_buf_release(&aJob[i].in);
			px_buf_release(&aJob[i].want);
		}
	}
}

/* ---- generated inputs --------------------------------------------- */

static void put32be(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint32_t crc_update(uint32_t c, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
	}
	return c;
}

static int png_chunk(struct px_buf *b, const char *type,
		     const unsigned char *d, size_t n)
{
	unsigned char h[8], t[4];
	uint32_t c = 0xFFFFFFFFu;
	int rc;

	put32be(h, (uint32_t)n);
	memcpy(h + 4, type, 4);
	c = crc_update(c, h + 4, 4);
	c = crc_update(c, d, n);
	put32be(t, c ^ 0xFFFFFFFFu);
	rc = px_buf_add(b, h, 8);
	rc = rc ? rc : (n ? px_buf_add(b, d, n) : 0);
	return rc ? rc : px_buf_add(b, t, 4);
}

/*
 * A PNG of w x h pixels with ch channels (1 grey, 2 grey+alpha, 3 RGB,
 * 4 RGBA) of depth 8 or 16 bits (16: big-endian samples in px), written
 * with stored (uncompressed) deflate blocks so that no zlib is needed.
 */
static int make_png(struct px_buf *out, const unsigned char *px, int w, int h,
		    int ch, int depth)
{
	static const unsigned char aType[5] = {0, 0, 4, 2, 6};
	size_t row = (size_t)w * ch * (depth / 8), nRaw = (row + 1) * h, i;
	unsigned char ihdr[13], *raw = malloc(nRaw);
	struct px_buf z;
	uint32_t a = 1, b = 0;
	int rc;

	px_buf_init(out, 0);
	px_buf_init(&z, 0);
	if (!raw)
		return -1;
	for (int y = 0; y < h; y++) {
		raw[y * (row + 1)] = 0;
		memcpy(raw + y * (row + 1) + 1, px + y * row, row);
	}
	put32be(ihdr, (uint32_t)w);
	put32be(ihdr + 4, (uint32_t)h);
	ihdr[8] = (unsigned char)depth;
	ihdr[9] = aType[ch];
	ihdr[10] = ihdr[11] = ihdr[12] = 0;
	rc = px_buf_add(&z, "\x78\x01", 2);
	for (i = 0; !rc && i < nRaw;) {
		size_t l = nRaw - i > 65535 ? 65535 : nRaw - i;
		unsigned char bh[5] = {i + l == nRaw, l & 0xFF, l >> 8,
				       ~l & 0xFF, (~l >> 8) & 0xFF};

		rc = px_buf_add(&z, bh, 5);
		rc = rc ? rc : px_buf_add(&z, raw + i, l);
		i += l;
	}
	for (i = 0; i < nRaw; i++) {
		a = (a + raw[i]) % 65521;
		b = (b + a) % 65521;
	}
	{
		unsigned char ad[4];

		put32be(ad, b << 16 | a);
		rc = rc ? rc : px_buf_add(&z, ad, 4);
	}
	rc = rc ? rc : px_buf_add(out, "\x89PNG\r\n\x1a\n", 8);
	rc = rc ? rc : png_chunk(out, "IHDR", ihdr, 13);
	rc = rc ? rc : png_chunk(out, "IDAT", z.data, z.len);
	rc = rc ? rc : png_chunk(out, "IEND", NULL, 0);
	px_buf_release(&z);
	free(raw);
	return rc;
}

/* 64x48 RGB, one colour per quadrant: red, green / blue, white. */
static const unsigned char aQuad[4][3] = {
	{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};

static int make_quad(struct px_buf *out)
{
	unsigned char px[64 * 48 * 3];

	for (int y = 0; y < 48; y++)
		for (int x = 0; x < 64; x++)
			memcpy(px + (y * 64 + x) * 3,
			       aQuad[(y >= 24) * 2 + (x >= 32)], 3);
	return make_png(out, px, 64, 48, 3, 8);
}

/* 100x80 RGB: a border of (10, 200, 30), 12 px on top, 5 right, 20 at
 * the bottom and 7 left, around a pattern; noise adds up to +-noise to
 * the border. */
static int make_bordered(struct px_buf *out, int noise)
{
	unsigned char px[100 * 80 * 3];
	unsigned s = 12345;

	for (int y = 0; y < 80; y++)
		for (int x = 0; x < 100; x++) {
			unsigned char *p = px + (y * 100 + x) * 3;
			bool in = y >= 12 && y < 60 && x >= 7 && x < 95;
			int d = 0;

			if (noise) {
				s = s * 1103515245u + 12345u;
				d = (int)((s >> 16) % (2 * noise + 1)) - noise;
			}
			p[0] = in ? (unsigned char)(x * 2) : (unsigned char)(10 + d);
			p[1] = in ? (unsigned char)(y * 3) : (unsigned char)(200 + d);
			p[2] = in ? 128 : (unsigned char)(30 + d);
		}
	return make_png(out, px, 100, 80, 3, 8);
}

static int make_flat(struct px_buf *out, int w, int h, int r, int g, int b)
{
	unsigned char *px = malloc((size_t)w * h * 3);
	int rc;

	if (!px)
		return -1;
	for (int i = 0; i < w * h; i++) {
		px[i * 3] = (unsigned char)r;
		px[i * 3 + 1] = (unsigned char)g;
		px[i * 3 + 2] = (unsigned char)b;
	}
	rc = make_png(out, px, w, h, 3, 8);
	free(px);
	return rc;
}

/* Transform bytes in and decode the result to packed RGB. */
static int xform_rgb(const struct px_buf *in, const struct px_xform *x,
		     struct px_buf *rgb, int *w, int *h,
		     struct px_image_info *oi)
{
	struct px_buf out;
	struct px_errbuf eb = {0};
	int rc;

	px_buf_init(&out, 0);
	px_buf_init(rgb, 0);
	rc = px_image_transform(in->data, in->len, x, NULL, &out, oi, &eb);
	if (rc)
		fprintf(stderr, "  transform: %s\n", eb.msg);
	if (!rc)
		rc = px_image_rgb_full(out.data, out.len, NULL, rgb, w, h, &eb);
	px_buf_release(&out);
	return rc;
}

static const unsigned char *pix(const struct px_buf *rgb, int w, int x, int y)
{
	return rgb->data + ((size_t)y * w + x) * 3;
}

static bool near(const unsigned char *p, const unsigned char *q, int tol)
{
	for (int c = 0; c < 3; c++)
		if (abs((int)p[c] - (int)q[c]) > tol)
			return false;
	return true;
}

/* The JPEG frame type: 0xC0 baseline, 0xC2 progressive, -1 none. */
static int jpeg_sof(const struct px_buf *b)
{
	size_t i = 2;

	while (i + 4 <= b->len && b->data[i] == 0xFF) {
		unsigned m = b->data[i + 1];

		if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 &&
		    m != 0xCC)
			return (int)m;
		if (m == 0xDA)
			break;
		i += 2 + ((size_t)b->data[i + 2] << 8 | b->data[i + 3]);
	}
	return -1;
}

/* GIF frame delays (centiseconds) from the graphic control extensions,
 * and the NETSCAPE loop count (-1 when absent). Returns the frames. */
static int gif_timing(const struct px_buf *b, int *aDelay, int max, int *loop)
{
	int n = 0;

	*loop = -1;
	for (size_t i = 0; i + 8 <= b->len; i++) {
		const unsigned char *p = b->data + i;

		if (p[0] == 0x21 && p[1] == 0xF9 && p[2] == 4 && n < max)
			aDelay[n++] = p[4] | p[5] << 8;
		if (i + 19 <= b->len && p[0] == 0x21 && p[1] == 0xFF &&
		    p[2] == 11 && memcmp(p + 3, "NETSCAPE2.0", 11) == 0)
			*loop = p[16] | p[17] << 8;
	}
	return n;
}

/* WebP frame durations (ms) and loop count from ANMF and ANIM. */
static int webp_timing(const struct px_buf *b, int *aDelay, int max, int *loop)
{
	int n = 0;

	*loop = -1;
	for (size_t i = 12; i + 8 <= b->len;) {
		const unsigned char *p = b->data + i;
		size_t l = rd32(p + 4, 1);

		if (memcmp(p, "ANIM", 4) == 0 && l >= 6)
			*loop = p[12] | p[13] << 8;
		if (memcmp(p, "ANMF", 4) == 0 && l >= 16 && n < max)
			aDelay[n++] = p[20] | p[21] << 8 | p[22] << 16;
		i += 8 + l + (l & 1);
	}
	return n;
}

/* ---- new transform options ---------------------------------------- */

/* Transform rgb.jpg with x and check the output is ew x eh, both as the
 * transform reports it and as the encoded bytes say; label names the
 * case in a failure message. */
static void expect_dims(const struct px_xform *x, int ew, int eh,
			const char *label, size_t i)
{
	struct px_image_info oi, pi;
	struct px_errbuf eb = {0};
	struct px_buf out;

	T_EQ(xform("rgb.jpg", x, &out, &oi, &eb), 0);
	T_EQ(oi.width, ew);
	T_EQ(oi.height, eh);
	T_EQ(px_image_probe(out.data, out.len, NULL, &pi, &eb), 0);
	T_EQ(pi.width, ew);
	T_EQ(pi.height, eh);
	if (oi.width != ew || oi.height != eh)
		fprintf(stderr, "  %s %zu: %dx%d\n", label, i, oi.width,
			oi.height);
	px_buf_release(&out);
}

static void test_geometry_ops(void)
{
	T_CASE("trim, rotate and border sizes")
	{
		static const struct {
			int w, h, rot, t[4], b[4], ew, eh;
			enum px_fit fit;
		} aC[] = {
			/* rgb.jpg is 320x320 */
			{0, 0, 0, {10, 20, 30, 40}, {0}, 260, 280, 0},
			{100, 0, 0, {10, 20, 30, 40}, {0}, 100, 108, 0},
			{0, 0, 90, {10, 20, 30, 40}, {0}, 280, 260, 0},
			{0, 100, 90, {10, 20, 30, 40}, {0}, 108, 100, 0},
			{100, 0, 0, {0}, {5, 6, 7, 8}, 114, 112, 0},
			{100, 50, 270, {0, 0, 0, 160}, {1, 2, 3, 4}, 106, 54,
			 PX_FIT_COVER},
			{200, 100, 0, {0}, {2, 2, 2, 2}, 204, 104, PX_FIT_PAD},
			/* a trim larger than the image leaves one pixel */
			{0, 0, 0, {1000, 1000, 1000, 1000}, {0}, 1, 1, 0},
			/* enlarging a trimmed box */
			{200, 0, 180, {100, 100, 100, 100}, {0}, 200, 200,
			 PX_FIT_CONTAIN},
		};
		for (size_t i = 0; i < sizeof(aC) / sizeof(aC[0]); i++) {
			struct px_xform x;

			box(&x, aC[i].w, aC[i].h, aC[i].fit);
			x.rotate = aC[i].rot;
			memcpy(x.trim, aC[i].t, sizeof(x.trim));
			memcpy(x.border, aC[i].b, sizeof(x.border));
			expect_dims(&x, aC[i].ew, aC[i].eh, "case", i);
		}
	}
	T_CASE("flip and rotate pixels")
	{
		/* quadrants red, green / blue, white; after each operation
		 * the corner colours must move where the operation says */
		static const struct {
			bool h, v;
			int rot, w, h2;
			int tl, tr, bl, br; /* quadrant index at each corner */
		} aC[] = {
			{false, false, 0, 64, 48, 0, 1, 2, 3},
			{true, false, 0, 64, 48, 1, 0, 3, 2},
			{false, true, 0, 64, 48, 2, 3, 0, 1},
			{true, true, 0, 64, 48, 3, 2, 1, 0},
			{false, false, 90, 48, 64, 2, 0, 3, 1},
			{false, false, 180, 64, 48, 3, 2, 1, 0},
			{false, false, 270, 48, 64, 1, 3, 0, 2},
			/* flip first, then rotate (Cloudflare's order) */
			{true, false, 90, 48, 64, 3, 1, 2, 0},
			{false, true, 90, 48, 64, 0, 2, 1, 3},
			{false, false, -90, 48, 64, 1, 3, 0, 2},
		};
		struct px_buf src, rgb;
		int w, h;

		T_EQ(make_quad(&src), 0);
		for (size_t i = 0; i < sizeof(aC) / sizeof(aC[0]); i++) {
			struct px_xform x;

			px_xform_init(&x);
			x.format = PX_FMT_PNG;
			x.flip_h = aC[i].h;
			x.flip_v = aC[i].v;
			x.rotate = aC[i].rot;
			T_EQ(xform_rgb(&src, &x, &rgb, &w, &h, NULL), 0);
			T_EQ(w, aC[i].w);
			T_EQ(h, aC[i].h2);
			if (w == aC[i].w && h == aC[i].h2) {
				T_OK(near(pix(&rgb, w, 2, 2), aQuad[aC[i].tl], 2));
				T_OK(near(pix(&rgb, w, w - 3, 2), aQuad[aC[i].tr], 2));
				T_OK(near(pix(&rgb, w, 2, h - 3), aQuad[aC[i].bl], 2));
				T_OK(near(pix(&rgb, w, w - 3, h - 3),
					  aQuad[aC[i].br], 2));
			}
			px_buf_release(&rgb);
		}
		px_buf_release(&src);
	}
}

/* Oriented JPEG of the 320x160 wide image with EXIF orientation o. */
static int make_oriented_n(struct px_buf *out, int o)
{
	unsigned char app1[] = {
		0xFF, 0xE1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0, 0,
		'I', 'I', 0x2A, 0x00, 0x08, 0x00, 0x00, 0x00,
		0x01, 0x00, 0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00,
		(unsigned char)o, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00,
	};
	struct px_buf wide;
	int rc;

	if ((rc = make_wide(&wide)))
		return rc;
	px_buf_init(out, 0);
	rc = px_buf_add(out, wide.data, 2);
	rc = rc ? rc : px_buf_add(out, app1, sizeof(app1));
	rc = rc ? rc : px_buf_add(out, wide.data + 2, wide.len - 2);
	px_buf_release(&wide);
	return rc;
}

/* Reference flip-then-rotate of packed RGB, done by hand. */
static void ref_turn(const unsigned char *in, int w, int h, bool fh, bool fv,
		     int rot, unsigned char *out, int *ow, int *oh)
{
	rot = ((rot % 360) + 360) % 360;
	*ow = rot % 180 ? h : w;
	*oh = rot % 180 ? w : h;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			int sx = fh ? w - 1 - x : x, sy = fv ? h - 1 - y : y;
			int dx, dy;

			switch (rot) {
			case 90: dx = h - 1 - y; dy = x; break;
			case 180: dx = w - 1 - x; dy = h - 1 - y; break;
			case 270: dx = y; dy = w - 1 - x; break;
			default: dx = x; dy = y; break;
			}
			memcpy(out + ((size_t)dy * *ow + dx) * 3,
			       in + ((size_t)sy * w + sx) * 3, 3);
		}
}

static void test_orientation_compose(void)
{
	T_CASE("orientation, flip and rotate compose")
	{
		size_t worst = 0;

		for (int o = 1; o <= 8; o++) {
			struct px_buf src, up;
			struct px_errbuf eb = {0};
			int uw = 0, uh = 0;

			T_EQ(make_oriented_n(&src, o), 0);
			/* the upright reference: libvips' own autorotate */
			px_buf_init(&up, 0);
			T_EQ(px_image_rgb_full(src.data, src.len, NULL, &up, &uw,
					       &uh, &eb), 0);
			T_EQ(uw * uh, 320 * 160);
			for (int f = 0; f < 4; f++)
				for (int r = 0; r < 360; r += 90) {
					struct px_xform x;
					struct px_buf rgb;
					unsigned char *ref = malloc(up.len);
					int w = 0, h = 0, rw, rh;
					size_t diff = 0;

					px_xform_init(&x);
					x.format = PX_FMT_PNG;
					x.flip_h = f & 1;
					x.flip_v = f & 2;
					x.rotate = r;
					T_EQ(xform_rgb(&src, &x, &rgb, &w, &h, NULL),
					     0);
					ref_turn(up.data, uw, uh, f & 1, f & 2, r, ref,
						 &rw, &rh);
					T_EQ(w, rw);
					T_EQ(h, rh);
					if (w == rw && h == rh && rgb.len == up.len)
						for (size_t i = 0; i < up.len; i++)
							diff += (size_t)abs(rgb.data[i] - ref[i]);
					else
						diff = 255 * up.len;
					worst = PX_MAX(worst, diff / up.len);
					if (diff / up.len > 1)
						fprintf(stderr, "  o %d f %d r %d: %zu\n",
							o, f, r, diff / up.len);
					free(ref);
					px_buf_release(&rgb);
				}
			/* trim counts in upright coordinates */
			{
				struct px_xform x;
				struct px_buf rgb;
				int w = 0, h = 0;
				size_t diff = 0;

				px_xform_init(&x);
				x.format = PX_FMT_PNG;
				x.trim[0] = 10;
				x.trim[1] = 20;
				x.trim[2] = 30;
				x.trim[3] = 40;
				T_EQ(xform_rgb(&src, &x, &rgb, &w, &h, NULL), 0);
				T_EQ(w, uw - 60);
				T_EQ(h, uh - 40);
				if (w == uw - 60 && h == uh - 40) {
					for (int y = 0; y < h; y++)
						for (int k = 0; k < w * 3; k++)
							diff += (size_t)abs(
								rgb.data[(size_t)y * w * 3 + k] -
								up.data[((size_t)(y + 10) * uw + 40) * 3 + k]);
					T_OK(diff / rgb.len < 2);
				}
				px_buf_release(&rgb);
			}
			px_buf_release(&up);
			px_buf_release(&src);
		}
		T_OK(worst <= 1);
	}
}

static double mean_of(const struct px_buf *rgb)
{
	double s = 0;

	for (size_t i = 0; i < rgb->len; i++)
		s += rgb->data[i];
	return rgb->len ? s / rgb->len : 0;
}

static double variance_of(const struct px_buf *rgb)
{
	double m = mean_of(rgb), s = 0;

	for (size_t i = 0; i < rgb->len; i++)
		s += (rgb->data[i] - m) * (rgb->data[i] - m);
	return rgb->len ? s / rgb->len : 0;
}

/* Mean absolute horizontal second difference: edge energy. */
static double edges_of(const struct px_buf *rgb, int w, int h)
{
	double s = 0;

	for (int y = 0; y < h; y++)
		for (int x = 1; x + 1 < w; x++)
			for (int c = 0; c < 3; c++)
				s += fabs(2.0 * pix(rgb, w, x, y)[c] -
					  pix(rgb, w, x - 1, y)[c] -
					  pix(rgb, w, x + 1, y)[c]);
	return s / ((double)w * h * 3);
}

static void test_colour_ops(void)
{
	T_CASE("brightness, contrast, gamma on a flat grey")
	{
		static const struct {
			double b, c, g;
			int want;
		} aC[] = {
			{1, 1, 1, 100},	  {0.5, 1, 1, 50},  {2, 1, 1, 200},
			{1, 2, 1, 72},	  {1, 0.5, 1, 114}, {1, 1, 0.5, 160},
			{1, 1, 2, 39},	  {0, 0, 0, 100}, /* 0 is ignored */
			{0.8, 2, 1, 32},  /* brightness first: 80, then contrast */
			{0.5, 2, 1, 0},   /* (50 - 128) * 2 + 128 < 0 */
		};
		struct px_buf src, rgb;
		int w, h;

		T_EQ(make_flat(&src, 16, 16, 100, 100, 100), 0);
		for (size_t i = 0; i < sizeof(aC) / sizeof(aC[0]); i++) {
			struct px_xform x;

			px_xform_init(&x);
			x.format = PX_FMT_PNG;
			x.brightness = aC[i].b;
			x.contrast = aC[i].c;
			x.gamma = aC[i].g;
			T_EQ(xform_rgb(&src, &x, &rgb, &w, &h, NULL), 0);
			T_OK(fabs(mean_of(&rgb) - aC[i].want) <= 1);
			if (fabs(mean_of(&rgb) - aC[i].want) > 1)
				fprintf(stderr, "  b %g c %g g %g: %g\n", aC[i].b,
					aC[i].c, aC[i].g, mean_of(&rgb));
			px_buf_release(&rgb);
		}
		px_buf_release(&src);
	}
	T_CASE("saturation")
	{
		struct px_buf src, rgb, half;
		struct px_xform x;
		int w, h, bad = 0;
		double c0 = 0, c1 = 0;

		T_EQ(load("rgb.jpg", &src), 0);
		px_xform_init(&x);
		x.format = PX_FMT_PNG;
		x.saturation = 0;
		T_EQ(xform_rgb(&src, &x, &rgb, &w, &h, NULL), 0);
		for (size_t i = 0; i + 2 < rgb.len; i += 3)
			bad += abs(rgb.data[i] - rgb.data[i + 1]) > 1 ||
			       abs(rgb.data[i] - rgb.data[i + 2]) > 1;
		T_EQ(bad, 0);
		T_OK(rgb.len == (size_t)320 * 320 * 3);
		px_buf_release(&rgb);
		/* half the saturation: less chroma, same lightness */
		x.saturation = 1;
		T_EQ(xform_rgb(&src, &x, &rgb, &w, &h, NULL), 0);
		x.saturation = 0.5;
		T_EQ(xform_rgb(&src, &x, &half, &w, &h, NULL), 0);
		for (size_t i = 0; i + 2 < rgb.len && i + 2 < half.len; i += 3) {
			c0 += PX_MAX(PX_MAX(rgb.data[i], rgb.data[i + 1]), rgb.data[i + 2]) -
			      PX_MIN(PX_MIN(rgb.data[i], rgb.data[i + 1]), rgb.data[i + 2]);
			c1 += PX_MAX(PX_MAX(half.data[i], half.data[i + 1]), half.data[i + 2]) -
			      PX_MIN(PX_MIN(half.data[i], half.data[i + 1]), half.data[i + 2]);
		}
		T_OK(c1 < 0.7 * c0 && c1 > 0.3 * c0);
		T_OK(fabs(mean_of(&rgb) - mean_of(&half)) < 8);
		px_buf_release(&rgb);
		px_buf_release(&half);
		px_buf_release(&src);
	}
	T_CASE("blur and sharpen")
	{
		struct px_buf src, a, b, c;
		struct px_xform x;
		int w, h;

		T_EQ(load("rgb.jpg", &src), 0);
		px_xform_init(&x);
		x.format = PX_FMT_PNG;
		T_EQ(xform_rgb(&src, &x, &a, &w, &h, NULL), 0);
		x.blur = 10;
		T_EQ(xform_rgb(&src, &x, &b, &w, &h, NULL), 0);
		x.blur = 250; /* the shrink-blur-enlarge path */
		T_EQ(xform_rgb(&src, &x, &c, &w, &h, NULL), 0);
		T_EQ(w, 320);
		T_EQ(h, 320);
		T_OK(variance_of(&b) < variance_of(&a));
		T_OK(variance_of(&c) < variance_of(&b));
		T_OK(edges_of(&b, w, h) < 0.5 * edges_of(&a, w, h));
		T_OK(fabs(mean_of(&c) - mean_of(&a)) < 10);
		px_buf_release(&b);
		px_buf_release(&c);
		x.blur = 0;
		x.sharpen = 5;
		T_EQ(xform_rgb(&src, &x, &b, &w, &h, NULL), 0);
		T_OK(edges_of(&b, w, h) > 1.2 * edges_of(&a, w, h));
		T_OK(fabs(mean_of(&b) - mean_of(&a)) < 3);
		px_buf_release(&b);
		px_buf_release(&a);
		px_buf_release(&src);
	}
	T_CASE("blur keeps alpha clean")
	{
		struct px_buf out;
		struct px_xform x;
		struct px_image_info oi;
		struct px_errbuf eb = {0};

		px_xform_init(&x);
		x.format = PX_FMT_PNG;
		x.blur = 30;
		x.sharpen = 1;
		x.saturation = 0.5;
		x.brightness = 1.2;
		T_EQ(xform("gray-alpha.png", &x, &out, &oi, &eb), 0);
		T_OK(oi.has_alpha);
		px_buf_release(&out);
	}
}

static void test_trim_border(void)
{
	T_CASE("trim=border")
	{
		static const struct {
			int noise, keep;
			bool color;
			double tol;
			int ew, eh;
		} aC[] = {
			{0, 0, false, 0, 88, 48},
			{0, 3, false, 0, 94, 54},
			{0, 0, true, 0, 88, 48},
			{0, 100, false, 0, 100, 80}, /* keep everything */
			{3, 0, true, 10, 88, 48},    /* noise within tolerance */
		};
		for (size_t i = 0; i < sizeof(aC) / sizeof(aC[0]); i++) {
			struct px_buf src, rgb;
			struct px_xform x;
			struct px_image_info oi;
			int w = 0, h = 0;

			T_EQ(make_bordered(&src, aC[i].noise), 0);
			px_xform_init(&x);
			x.format = PX_FMT_PNG;
			x.trim_border = true;
			x.trim_keep = aC[i].keep;
			x.trim_tolerance = aC[i].tol;
			x.trim_has_color = aC[i].color;
			x.trim_color[0] = 10;
			x.trim_color[1] = 200;
			x.trim_color[2] = 30;
			T_EQ(xform_rgb(&src, &x, &rgb, &w, &h, &oi), 0);
			T_EQ(w, aC[i].ew);
			T_EQ(h, aC[i].eh);
			if (w != aC[i].ew || h != aC[i].eh)
				fprintf(stderr, "  case %zu: %dx%d\n", i, w, h);
			if (aC[i].keep == 3 && w == 94 && h == 54) {
				static const unsigned char bc[3] = {10, 200, 30};

				/* the kept border, then the content */
				T_OK(near(pix(&rgb, w, 0, 0), bc, 0));
				T_OK(near(pix(&rgb, w, 2, 2), bc, 0));
				T_OK(!near(pix(&rgb, w, 3, 3), bc, 20));
				T_OK(near(pix(&rgb, w, w - 1, h - 1), bc, 0));
			}
			px_buf_release(&rgb);
			px_buf_release(&src);
		}
		/* a different colour given: nothing matches, nothing goes */
		struct px_buf src, rgb;
		struct px_xform x;
		int w, h;

		T_EQ(make_bordered(&src, 0), 0);
		px_xform_init(&x);
		x.format = PX_FMT_PNG;
		x.trim_border = true;
		x.trim_has_color = true;
		T_EQ(xform_rgb(&src, &x, &rgb, &w, &h, NULL), 0);
		T_EQ(w, 100);
		T_EQ(h, 80);
		px_buf_release(&rgb);
		/* a flat image is all border: left whole */
		px_buf_release(&src);
		T_EQ(make_flat(&src, 30, 20, 9, 9, 9), 0);
		x.trim_has_color = false;
		T_EQ(xform_rgb(&src, &x, &rgb, &w, &h, NULL), 0);
		T_EQ(w, 30);
		T_EQ(h, 20);
		px_buf_release(&rgb);
		px_buf_release(&src);
	}
}

static void test_anim_ops(void)
{
	T_CASE("animation through rotate, trim and border")
	{
		static const enum px_fmt aF[] = {PX_FMT_GIF, PX_FMT_WEBP};
		static const char *aSrc[] = {"animated-12-frames.gif",
					     "animated.webp"};

		for (size_t s = 0; s < 2; s++)
			for (size_t f = 0; f < 2; f++) {
				struct px_xform x;
				struct px_buf out;
				struct px_image_info oi, pi;
				struct px_errbuf eb = {0};
				int aD[64], loop, nD;

				box(&x, 0, 0, PX_FIT_CONTAIN);
				x.format = aF[f];
				x.rotate = 90;
				x.flip_h = true;
				x.trim[0] = 2;
				x.trim[1] = 4;
				x.trim[2] = 6;
				x.trim[3] = 8;
				x.border[0] = x.border[1] = 1;
				x.border[2] = x.border[3] = 3;
				x.border_color[3] = 255;
				x.brightness = 1.1;
				x.blur = 1;
				T_EQ(xform(aSrc[s], &x, &out, &oi, &eb), 0);
				/* 32x32 trimmed to 20x24, turned to 24x20 */
				T_EQ(oi.frames, 12);
				T_EQ(oi.width, 24 + 4);
				T_EQ(oi.height, 20 + 4);
				T_EQ(px_image_probe(out.data, out.len, NULL, &pi,
						    &eb), 0);
				T_EQ(pi.frames, 12);
				T_EQ(pi.width, 28);
				T_EQ(pi.height, 24);
				T_EQ(px_image_verify(out.data, out.len, &eb), 0);
				if (aF[f] == PX_FMT_GIF) {
					nD = gif_timing(&out, aD, 64, &loop);
					T_EQ(nD, 12);
					for (int i = 0; i < nD; i++)
						T_EQ(aD[i], 4); /* 40 ms */
				} else {
					nD = webp_timing(&out, aD, 64, &loop);
					T_EQ(nD, 12);
					for (int i = 0; i < nD; i++)
						T_EQ(aD[i], 40);
				}
				T_EQ(loop, 0);
				px_buf_release(&out);
				/* enlarging a trimmed box, frame by frame */
				x.width = 64;
				x.border[0] = x.border[1] = x.border[2] =
					x.border[3] = 0;
				T_EQ(xform(aSrc[s], &x, &out, &oi, &eb), 0);
				T_EQ(oi.frames, 12);
				T_EQ(oi.width, 64);
				T_EQ(oi.height, 53);
				T_EQ(px_image_probe(out.data, out.len, NULL, &pi,
						    &eb), 0);
				T_EQ(pi.frames, 12);
				px_buf_release(&out);
			}
		/* AVIF and anim=false take the first frame */
		struct px_xform x;
		struct px_buf out;
		struct px_image_info oi;
		struct px_errbuf eb = {0};

		box(&x, 16, 0, PX_FIT_CONTAIN);
		x.format = PX_FMT_AVIF;
		T_EQ(xform("animated.webp", &x, &out, &oi, &eb), 0);
		T_EQ(oi.frames, 1);
		px_buf_release(&out);
		x.format = PX_FMT_GIF;
		x.anim = false;
		T_EQ(xform("animated.webp", &x, &out, &oi, &eb), 0);
		T_EQ(oi.frames, 1);
		px_buf_release(&out);
		/* the frame limit applies to the output */
		struct px_image_limits few = {100000000ULL, 16384, 12};
		struct px_buf in;

		T_EQ(load("animated-12-frames.gif", &in), 0);
		x.anim = true;
		x.border[0] = 1000;
		px_buf_init(&out, 0);
		T_EQ(px_image_transform(in.data, in.len, &x, &few, &out, &oi,
					&eb), 0);
		T_EQ(oi.frames, 12);
		px_buf_release(&out);
		few.max_pixels = 12 * 16 * 16 + 100;
		T_EQ(px_image_transform(in.data, in.len, &x, &few, &out, &oi,
					&eb), PX_ELIMIT);
		T_STREQ(eb.code, "too_many_pixels");
		px_buf_release(&out);
		px_buf_release(&in);
	}
}

static void test_encoding(void)
{
	T_CASE("baseline and progressive jpeg")
	{
		struct px_xform x;
		struct px_buf out;
		struct px_errbuf eb = {0};

		box(&x, 100, 0, PX_FIT_SCALE_DOWN);
		T_EQ(xform("rgb.jpg", &x, &out, NULL, &eb), 0);
		T_EQ(jpeg_sof(&out), 0xC2);
		px_buf_release(&out);
		x.baseline = true;
		T_EQ(xform("rgb.jpg", &x, &out, NULL, &eb), 0);
		T_EQ(jpeg_sof(&out), 0xC0);
		px_buf_release(&out);
		x.baseline = false;
		x.fast = true; /* lowest effort: sequential, no optimisation */
		T_EQ(xform("rgb.jpg", &x, &out, NULL, &eb), 0);
		T_EQ(jpeg_sof(&out), 0xC0);
		px_buf_release(&out);
	}
	T_CASE("compression=fast in every format")
	{
		static const enum px_fmt aF[] = {PX_FMT_JPEG, PX_FMT_PNG,
						 PX_FMT_WEBP, PX_FMT_AVIF,
						 PX_FMT_GIF};
		for (size_t i = 0; i < 5; i++) {
			struct px_xform x;
			struct px_buf out;
			struct px_image_info pi;
			struct px_errbuf eb = {0};

			box(&x, 120, 0, PX_FIT_SCALE_DOWN);
			x.format = aF[i];
			x.fast = true;
			T_EQ(xform("rgb.jpg", &x, &out, NULL, &eb), 0);
			T_EQ(px_image_probe(out.data, out.len, NULL, &pi, &eb), 0);
			T_EQ(pi.format, aF[i]);
			T_EQ(pi.width, 120);
			px_buf_release(&out);
		}
	}
	T_CASE("quality rules of webp and png")
	{
		struct px_xform x;
		struct px_buf out;
		struct px_errbuf eb = {0};

		box(&x, 100, 0, PX_FIT_SCALE_DOWN);
		x.format = PX_FMT_WEBP;
		x.quality = 100;
		T_EQ(xform("rgb.jpg", &x, &out, NULL, &eb), 0);
		T_OK(has_bytes(&out, "VP8L")); /* lossless */
		px_buf_release(&out);
		x.quality = 90;
		T_EQ(xform("rgb.jpg", &x, &out, NULL, &eb), 0);
		T_OK(!has_bytes(&out, "VP8L"));
		px_buf_release(&out);
		x.format = PX_FMT_PNG;
		x.quality = 60; /* an explicit quality: palette */
		T_EQ(xform("rgb.jpg", &x, &out, NULL, &eb), 0);
		T_OK(out.len > 26 && out.data[25] == 3);
		px_buf_release(&out);
		x.quality = 100; /* no loss asked for: truecolour */
		T_EQ(xform("rgb.jpg", &x, &out, NULL, &eb), 0);
		T_OK(out.len > 26 && out.data[25] == 2);
		px_buf_release(&out);
		x.quality = 0;
		T_EQ(xform("rgb.jpg", &x, &out, NULL, &eb), 0);
		T_OK(out.len > 26 && out.data[25] == 2);
		px_buf_release(&out);
	}
	T_CASE("output cap")
	{
		static const struct {
			int w, h, cap, b;
			enum px_fit fit;
			int ew, eh;
		} aC[] = {
			{640, 0, 300, 0, PX_FIT_CONTAIN, 300, 300},
			{640, 0, 300, 10, PX_FIT_CONTAIN, 300, 300},
			{20000, 10, 0, 0, PX_FIT_SQUEEZE, 8192, 4},
			{1000, 500, 600, 0, PX_FIT_PAD, 600, 300},
			{1000, 500, 600, 0, PX_FIT_COVER, 600, 300},
			{0, 0, 100, 0, PX_FIT_SCALE_DOWN, 100, 100},
			{0, 0, 8, 100, PX_FIT_SCALE_DOWN, 8, 8},
			{0, 0, -5, 0, PX_FIT_SCALE_DOWN, 320, 320},
		};
		for (size_t i = 0; i < sizeof(aC) / sizeof(aC[0]); i++) {
			struct px_xform x;

			box(&x, aC[i].w, aC[i].h, aC[i].fit);
			x.max_output = aC[i].cap;
			for (int k = 0; k < 4; k++)
				x.border[k] = aC[i].b;
			expect_dims(&x, aC[i].ew, aC[i].eh, "cap case", i);
		}
	}
	T_CASE("upscaling only where the fit calls for it")
	{
		check_size(640, 640, PX_FIT_SCALE_DOWN, 320, 320);
		check_size(640, 640, PX_FIT_CROP, 320, 320);
		check_size(640, 640, PX_FIT_CONTAIN, 640, 640);
		check_size(640, 640, PX_FIT_COVER, 640, 640);
		check_size(640, 640, PX_FIT_PAD, 640, 640);
		check_size(640, 500, PX_FIT_SQUEEZE, 640, 500);
	}
}

static bool same_bytes(const struct px_buf *a, const struct px_buf *b)
{
	return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

static void test_original_bytes(void)
{
	T_CASE("original bytes when the re-encode would be larger")
	{
		struct px_buf in, out;
		struct px_xform x;
		struct px_image_info oi;
		struct px_errbuf eb = {0};

		T_EQ(load("rgb.jpg", &in), 0); /* baseline, no metadata */
		px_xform_init(&x);
		x.quality = 100;
		T_EQ(xform("rgb.jpg", &x, &out, &oi, &eb), 0);
		T_OK(same_bytes(&in, &out));
		T_EQ(oi.width, 320);
		T_EQ(oi.format, PX_FMT_JPEG);
		px_buf_release(&out);
		x.metadata = PX_META_NONE;
		T_EQ(xform("rgb.jpg", &x, &out, &oi, &eb), 0);
		T_OK(same_bytes(&in, &out));
		px_buf_release(&out);
		/* a smaller re-encode wins */
		x.quality = 30;
		T_EQ(xform("rgb.jpg", &x, &out, &oi, &eb), 0);
		T_OK(!same_bytes(&in, &out) && out.len < in.len);
		px_buf_release(&out);
		/* anything that changes pixels or format re-encodes */
		x.quality = 100;
		x.flip_h = true;
		T_EQ(xform("rgb.jpg", &x, &out, &oi, &eb), 0);
		T_OK(!same_bytes(&in, &out));
		px_buf_release(&out);
		x.flip_h = false;
		x.border[0] = 1;
		T_EQ(xform("rgb.jpg", &x, &out, &oi, &eb), 0);
		T_OK(!same_bytes(&in, &out));
		px_buf_release(&out);
		x.border[0] = 0;
		x.gamma = 1.5;
		T_EQ(xform("rgb.jpg", &x, &out, &oi, &eb), 0);
		T_OK(!same_bytes(&in, &out));
		px_buf_release(&out);
		x.gamma = 1;
		x.format = PX_FMT_PNG;
		T_EQ(xform("rgb.jpg", &x, &out, &oi, &eb), 0);
		T_EQ(px_image_sniff(out.data, out.len), PX_FMT_PNG);
		px_buf_release(&out);
		px_buf_release(&in);

		/* metadata the policy must remove keeps the re-encode */
		px_xform_init(&x);
		x.quality = 100;
		T_EQ(load("exif-gps.jpg", &in), 0);
		T_EQ(xform("exif-gps.jpg", &x, &out, &oi, &eb), 0);
		T_OK(!same_bytes(&in, &out));
		T_OK(!has_bytes(&out, "GPS"));
		px_buf_release(&out);
		px_buf_release(&in);
		/* a colour profile keeps it too */
		x.format = PX_FMT_PNG;
		T_EQ(load("interlaced.png", &in), 0);
		T_EQ(xform("interlaced.png", &x, &out, &oi, &eb), 0);
		T_OK(!same_bytes(&in, &out));
		px_buf_release(&out);
		px_buf_release(&in);
		/* a comment, fine under keep, not under copyright */
		T_EQ(load("gray-alpha.png", &in), 0);
		T_EQ(xform("gray-alpha.png", &x, &out, &oi, &eb), 0);
		T_OK(!same_bytes(&in, &out));
		T_OK(!has_bytes(&out, "Photoshop"));
		px_buf_release(&out);
		x.metadata = PX_META_KEEP;
		T_EQ(xform("gray-alpha.png", &x, &out, &oi, &eb), 0);
		T_OK(same_bytes(&in, &out));
		T_OK(oi.has_alpha);
		px_buf_release(&out);
		px_buf_release(&in);
		/* 16 bits is not what the output would be */
		T_EQ(load("png16.png", &in), 0);
		T_EQ(xform("png16.png", &x, &out, &oi, &eb), 0);
		T_OK(!same_bytes(&in, &out));
		T_EQ(out.data[24], 8);
		px_buf_release(&out);
		px_buf_release(&in);
	}
}

/* A 128-byte ICC v2 header and a matrix/TRC display profile around it:
 * the colorants (D50-adapted, s15Fixed16) and one TRC for all channels,
 * 'para' type 3 (sRGB-shaped) when gamma is 0, else a plain power. */
static int make_icc(struct px_buf *out, const int32_t aCol[3][3], double gamma)
{
	static const char *aTag[] = {"desc", "wtpt", "rXYZ", "gXYZ", "bXYZ",
				     "rTRC", "gTRC", "bTRC"};
	unsigned char p[1024];
	size_t n = 128 + 4 + 8 * 12, off[8], len[8];
	int32_t xyz[4][3];

	memset(p, 0, sizeof(p));
	/* desc: textDescriptionType, "test" */
	off[0] = n;
	memcpy(p + n, "desc", 4);
	put32be(p + n + 8, 5);
	memcpy(p + n + 12, "test", 5);
	len[0] = 12 + 5 + 4 + 4 + 2 + 1 + 67;
	n += (len[0] + 3) & ~(size_t)3;
	xyz[0][0] = 63190; /* D50: 0.9642 1.0 0.8249 */
	xyz[0][1] = 65536;
	xyz[0][2] = 54061;
	for (int c = 0; c < 3; c++)
		memcpy(xyz[c + 1], aCol[c], sizeof(xyz[0]));
	for (int t = 0; t < 4; t++) {
		off[1 + t] = n;
		len[1 + t] = 20;
		memcpy(p + n, "XYZ ", 4);
		for (int k = 0; k < 3; k++)
			put32be(p + n + 8 + 4 * k, (uint32_t)xyz[t][k]);
		n += 20;
	}
	off[5] = off[6] = off[7] = n;
	if (gamma > 0) {
		len[5] = 14;
		memcpy(p + n, "curv", 4);
		put32be(p + n + 8, 1);
		p[n + 12] = (unsigned char)gamma;
		p[n + 13] = (unsigned char)lround((gamma - (int)gamma) * 256);
	} else {
		static const double aPara[5] = {2.4, 1 / 1.055, 0.055 / 1.055,
						1 / 12.92, 0.04045};

		len[5] = 12 + 20;
		memcpy(p + n, "para", 4);
		p[n + 9] = 3;
		for (int k = 0; k < 5; k++)
			put32be(p + n + 12 + 4 * k,
				(uint32_t)lround(aPara[k] * 65536));
	}
	len[6] = len[7] = len[5];
	n += (len[5] + 3) & ~(size_t)3;
	put32be(p, (uint32_t)n);
	put32be(p + 8, 0x02100000);
	memcpy(p + 12, "mntrRGB XYZ ", 12);
	memcpy(p + 36, "acsp", 4);
	put32be(p + 68, 63190);
	put32be(p + 72, 65536);
	put32be(p + 76, 54061);
	put32be(p + 128, 8);
	for (int t = 0; t < 8; t++) {
		memcpy(p + 132 + 12 * t, aTag[t], 4);
		put32be(p + 136 + 12 * t, (uint32_t)off[t]);
		put32be(p + 140 + 12 * t, (uint32_t)len[t]);
	}
	px_buf_init(out, 0);
	return px_buf_add(out, p, n);
}

/* A flat JPEG of colour rgb carrying profile icc (APP2 ICC_PROFILE). */
static int make_tagged_jpeg(struct px_buf *out, const struct px_buf *icc,
			    int r, int g, int b)
{
	struct px_buf png, jpg;
	struct px_xform x;
	struct px_errbuf eb = {0};
	unsigned char app2[18] = {0xFF, 0xE2, 0, 0, 'I', 'C', 'C', '_', 'P',
				  'R', 'O', 'F', 'I', 'L', 'E', 0, 1, 1};
	size_t l = 16 + icc->len;
	int rc;

	if ((rc = make_flat(&png, 64, 64, r, g, b)))
		return rc;
	px_xform_init(&x);
	x.quality = 100;
	x.metadata = PX_META_NONE;
	px_buf_init(&jpg, 0);
	rc = px_image_transform(png.data, png.len, &x, NULL, &jpg, NULL, &eb);
	px_buf_release(&png);
	if (rc)
		return rc;
	app2[2] = (unsigned char)(l >> 8);
	app2[3] = (unsigned char)l;
	px_buf_init(out, 0);
	rc = px_buf_add(out, jpg.data, 2);
	rc = rc ? rc : px_buf_add(out, app2, sizeof(app2));
	rc = rc ? rc : px_buf_add(out, icc->data, icc->len);
	rc = rc ? rc : px_buf_add(out, jpg.data + 2, jpg.len - 2);
	px_buf_release(&jpg);
	return rc;
}

static void test_colour_management(void)
{
	T_CASE("display p3 and adobe rgb to srgb")
	{
		/* colorants from the primaries, Bradford-adapted to D50 */
		static const int32_t aP3[3][3] = {{33759, 15807, -69},
						  {19135, 45367, 2745},
						  {10296, 4363, 51385}};
		static const int32_t aAdobe[3][3] = {{39960, 20389, 1276},
						     {13453, 41004, 3989},
						     {9777, 4143, 48795}};
		/* (200, 100, 50) in each space, converted by hand:
		 * linearise, to XYZ, to linear sRGB, encode */
		static const struct {
			const int32_t (*col)[3];
			double gamma;
			unsigned char want[3];
		} aC[] = {
			{aP3, 0, {215, 93, 31}},
			{aAdobe, 563.0 / 256, {227, 100, 42}},
		};
		for (size_t i = 0; i < 2; i++) {
			struct px_buf icc, src, rgb;
			struct px_xform x;
			struct px_image_info oi;
			int w, h;

			T_EQ(make_icc(&icc, aC[i].col, aC[i].gamma), 0);
			T_EQ(make_tagged_jpeg(&src, &icc, 200, 100, 50), 0);
			static const enum px_fmt aF[] = {PX_FMT_PNG, PX_FMT_JPEG,
							 PX_FMT_WEBP};
			for (size_t f = 0; f < 3; f++) {
				px_xform_init(&x);
				x.format = aF[f];
				x.quality = 100;
				x.width = 32;
				T_EQ(xform_rgb(&src, &x, &rgb, &w, &h, &oi), 0);
				T_OK(rgb.len > 0 &&
				     near(pix(&rgb, w, w / 2, h / 2), aC[i].want, 3));
				if (rgb.len && !near(pix(&rgb, w, w / 2, h / 2),
						     aC[i].want, 3)) {
					const unsigned char *p =
						pix(&rgb, w, w / 2, h / 2);

					fprintf(stderr, "  icc %zu fmt %zu: %d %d %d\n",
						i, f, p[0], p[1], p[2]);
				}
				px_buf_release(&rgb);
			}
			px_buf_release(&src);
			px_buf_release(&icc);
		}
	}
	T_CASE("16 bits to 8 without banding")
	{
		/* a 16-bit grey ramp over 1024 columns: every 8-bit level
		 * must appear, in order, one step at a time */
		unsigned char *px = malloc(1024 * 4 * 6);
		struct px_buf src, rgb;
		struct px_xform x;
		int w, h, steps = 0, back = 0, levels = 0;
		bool seen[256] = {false};

		for (int y = 0; y < 4; y++)
			for (int i = 0; i < 1024; i++)
				for (int c = 0; c < 3; c++) {
					unsigned v = (unsigned)i * 65535 / 1023;

					px[(y * 1024 + i) * 6 + c * 2] = v >> 8;
					px[(y * 1024 + i) * 6 + c * 2 + 1] = v & 0xFF;
				}
		T_EQ(make_png(&src, px, 1024, 4, 3, 16), 0);
		free(px);
		px_xform_init(&x);
		x.format = PX_FMT_PNG;
		T_EQ(xform_rgb(&src, &x, &rgb, &w, &h, NULL), 0);
		T_EQ(w, 1024);
		for (int i = 0; w == 1024 && i < 1024; i++) {
			int v = pix(&rgb, w, i, 1)[0];

			if (i > 0) {
				int d = v - pix(&rgb, w, i - 1, 1)[0];

				steps += d > 1;
				back += d < 0;
			}
			if (!seen[v])
				levels++;
			seen[v] = true;
		}
		T_EQ(steps, 0);
		T_EQ(back, 0);
		T_EQ(levels, 256);
		px_buf_release(&rgb);
		px_buf_release(&src);
	}
}

static void test_describe(void)
{
	T_CASE("describe agrees with transform")
	{
		static const char *aName[] = {
			"rgb.jpg", "gray-alpha.png", "cmyk.jpg", "png16.png",
			"exif-orientation-6.jpg", "animated-12-frames.gif",
			"animated.webp", "image.heic", "lossy.webp"};
		struct xcase {
			int w, h;
			enum px_fit fit;
			enum px_fmt fmt;
			int rot, trim, border;
			uint8_t bga, bca;
			bool tb, anim;
		} aX[] = {
			{0, 0, PX_FIT_SCALE_DOWN, PX_FMT_JPEG, 0, 0, 0, 255, 255, false, true},
			{100, 60, PX_FIT_PAD, PX_FMT_PNG, 90, 0, 0, 0, 255, false, true},
			{100, 60, PX_FIT_COVER, PX_FMT_WEBP, 270, 5, 2, 255, 0, false, true},
			{500, 0, PX_FIT_CONTAIN, PX_FMT_GIF, 180, 3, 0, 255, 255, false, true},
			{40, 40, PX_FIT_CROP, PX_FMT_AVIF, 0, 0, 1, 255, 128, false, true},
			{64, 0, PX_FIT_SQUEEZE, PX_FMT_WEBP, 90, 0, 0, 255, 255, true, false},
			{0, 30, PX_FIT_SCALE_DOWN, PX_FMT_PNG, 0, 1, 4, 0, 0, true, true},
		};
		for (size_t i = 0; i < sizeof(aName) / sizeof(aName[0]); i++) {
			struct px_buf in;

			T_EQ(load(aName[i], &in), 0);
			for (size_t k = 0; k < sizeof(aX) / sizeof(aX[0]); k++) {
				struct px_xform x;
				struct px_buf out;
				struct px_image_info di, dout, oi, pi, pr;
				struct px_errbuf eb = {0};
				int rc;

				box(&x, aX[k].w, aX[k].h, aX[k].fit);
				x.format = aX[k].fmt;
				x.rotate = aX[k].rot;
				for (int s = 0; s < 4; s++) {
					x.trim[s] = aX[k].trim * (s + 1);
					x.border[s] = aX[k].border;
				}
				x.background[3] = aX[k].bga;
				x.border_color[3] = aX[k].bca;
				x.trim_border = aX[k].tb;
				x.anim = aX[k].anim;
				rc = px_image_describe(in.data, in.len, &x, NULL,
						       &di, &dout, &eb);
				T_EQ(rc, 0);
				px_buf_init(&out, 0);
				T_EQ(px_image_transform(in.data, in.len, &x, NULL,
							&out, &oi, &eb), 0);
				T_EQ(px_image_probe(in.data, in.len, NULL, &pr,
						    &eb), 0);
				T_EQ(px_image_probe(out.data, out.len, NULL, &pi,
						    &eb), 0);
				T_EQ(di.width, pr.width);
				T_EQ(di.height, pr.height);
				T_EQ(di.frames, pr.frames);
				T_EQ(di.format, pr.format);
				T_EQ(di.has_alpha, pr.has_alpha);
				T_EQ(di.orientation, pr.orientation);
				T_EQ(dout.width, oi.width);
				T_EQ(dout.height, oi.height);
				T_EQ(dout.frames, oi.frames);
				T_EQ(dout.format, oi.format);
				T_EQ(dout.has_alpha, oi.has_alpha);
				T_EQ(dout.width, pi.width);
				T_EQ(dout.height, pi.height);
				T_EQ(dout.frames, pi.frames);
				T_EQ(dout.format, pi.format);
				/* a WebP or AVIF with an all-opaque alpha band
				 * may be written without one */
				if (pi.format != PX_FMT_WEBP &&
				    pi.format != PX_FMT_AVIF &&
				    pi.format != PX_FMT_GIF)
					T_EQ(dout.has_alpha, pi.has_alpha);
				if (dout.width != pi.width ||
				    dout.height != pi.height ||
				    dout.frames != pi.frames ||
				    dout.has_alpha != oi.has_alpha)
					fprintf(stderr,
						"  %s case %zu: described %dx%d/%d/%d, "
						"got %dx%d/%d/%d\n",
						aName[i], k, dout.width, dout.height,
						dout.frames, dout.has_alpha, pi.width,
						pi.height, pi.frames, oi.has_alpha);
				px_buf_release(&out);
			}
			px_buf_release(&in);
		}
		/* the same refusals, before any decode */
		struct px_xform x;
		struct px_image_info a, b;
		struct px_errbuf eb = {0};
		struct px_buf in;

		T_EQ(load("bomb-png-30000x30000.png", &in), 0);
		px_xform_init(&x);
		T_EQ(px_image_describe(in.data, in.len, &x, NULL, &a, &b, &eb),
		     PX_ELIMIT);
		px_buf_release(&in);
		T_EQ(load("rgb.jpg", &in), 0);
		x.format = PX_FMT_HEIC;
		T_EQ(px_image_describe(in.data, in.len, &x, NULL, NULL, NULL,
				       &eb), PX_EINVAL);
		px_buf_release(&in);
	}
}

static void test_container_scan(void)
{
	T_CASE("what an original carries")
	{
		static const struct {
			const char *name;
			enum px_fmt fmt;
			bool ok, meta, colour, extra;
		} aC[] = {
			{"rgb.jpg", PX_FMT_JPEG, true, false, false, false},
			{"progressive.jpg", PX_FMT_JPEG, true, true, true, false},
			{"exif-gps.jpg", PX_FMT_JPEG, true, true, false, false},
			{"cmyk.jpg", PX_FMT_JPEG, true, true, true, false},
			{"truncated.jpg", PX_FMT_JPEG, false, false, false, false},
			{"interlaced.png", PX_FMT_PNG, true, true, true, false},
			{"gray-alpha.png", PX_FMT_PNG, true, true, false, false},
			{"animated-12-frames.gif", PX_FMT_GIF, true, false, false,
			 false},
			{"animated.webp", PX_FMT_WEBP, true, true, false, false},
			{"lossy.webp", PX_FMT_WEBP, true, true, true, false},
			{"image.avif", PX_FMT_AVIF, true, true, true, false},
		};
		for (size_t i = 0; i < sizeof(aC) / sizeof(aC[0]); i++) {
			struct px_container c;
			struct px_buf b;

			T_EQ(load(aC[i].name, &b), 0);
			px_image_container_scan(b.data, b.len, aC[i].fmt, &c);
			T_EQ(c.ok, aC[i].ok);
			if (c.ok != aC[i].ok)
				fprintf(stderr, "  %s: ok %d\n", aC[i].name, c.ok);
			if (aC[i].ok) {
				T_EQ(c.meta, aC[i].meta);
				T_EQ(c.colour, aC[i].colour);
				T_EQ(c.extra, aC[i].extra);
				if (c.meta != aC[i].meta || c.colour != aC[i].colour)
					fprintf(stderr, "  %s: meta %d colour %d\n",
						aC[i].name, c.meta, c.colour);
			}
			/* bytes after the end, and any prefix, are safe */
			if (!px_buf_add(&b, "trailer", 7)) {
				px_image_container_scan(b.data, b.len, aC[i].fmt, &c);
				T_OK(!c.ok || c.extra);
			}
			for (size_t k = 0; k < b.len; k += 1 + b.len / 97)
				px_image_container_scan(b.data, k, aC[i].fmt, &c);
			px_buf_release(&b);
		}
	}
}

static void test_extremes(void)
{
	T_CASE("extreme and nonsense options")
	{
		struct px_buf in;

		T_EQ(load("rgb.jpg", &in), 0);
		for (int k = 0; k < 12; k++) {
			struct px_xform x;
			struct px_buf out;
			struct px_image_info oi;
			struct px_errbuf eb = {0};
			int rc;

			px_xform_init(&x);
			x.format = (enum px_fmt)(PX_FMT_JPEG + k % 5);
			switch (k) {
			case 0: x.brightness = NAN; x.contrast = INFINITY;
				x.gamma = -3; x.saturation = NAN; break;
			case 1: x.blur = 1e9; x.sharpen = 1e9; break;
			case 2: x.blur = -5; x.sharpen = NAN; x.rotate = -450; break;
			case 3: x.trim[0] = -7; x.trim[1] = INT32_MAX;
				x.trim[2] = INT32_MIN; break;
			case 4: x.border[0] = INT32_MAX; x.border[1] = -1;
				x.max_output = INT32_MAX; break;
			case 5: x.max_output = 1; x.width = 8000;
				x.height = 8000; x.fit = PX_FIT_PAD; break;
			case 6: x.trim_border = true; x.trim_tolerance = NAN;
				x.trim_keep = INT32_MAX; break;
			case 7: x.trim_border = true; x.trim_tolerance = 1e30;
				x.trim_keep = -9; break;
			case 8: x.gravity = PX_GRAVITY_FACE; x.zoom = NAN;
				x.width = 50; x.height = 200; x.fit = PX_FIT_COVER;
				break;
			case 9: x.gravity = PX_GRAVITY_POINT; x.gx = NAN;
				x.gy = -INFINITY; x.width = 50; x.height = 200;
				x.fit = PX_FIT_CROP; break;
			case 10: x.saturation = 1e12; x.brightness = 1e-300;
				x.gamma = 1e300; break;
			case 11: x.quality = 1000; x.rotate = 45; x.fast = true;
				x.baseline = true; break;
			}
			px_buf_init(&out, 0);
			rc = px_image_transform(in.data, in.len, &x, NULL, &out,
						&oi, &eb);
			/* a border of INT32_MAX under a cap of INT32_MAX is
			 * still clamped, then refused by the limits */
			T_OK(rc == 0 || (k == 4 && rc == PX_ELIMIT));
			if (rc && k != 4)
				fprintf(stderr, "  extreme %d: %s\n", k, eb.msg);
			if (!rc)
				T_EQ(px_image_verify(out.data, out.len, &eb), 0);
			px_buf_release(&out);
		}
		px_buf_release(&in);
	}
	T_CASE("every operation on tiny images")
	{
		static const int aSize[][2] = {{1, 1}, {2, 3}, {3, 1}};

		for (size_t i = 0; i < 3; i++) {
			struct px_buf src;

			T_EQ(make_flat(&src, aSize[i][0], aSize[i][1], 10, 200, 30),
			     0);
			for (int k = 0; k < 4; k++) {
				struct px_xform x;
				struct px_buf out;
				struct px_image_info oi, d;
				struct px_errbuf eb = {0};

				px_xform_init(&x);
				x.format = (enum px_fmt)(PX_FMT_JPEG + k);
				x.blur = k & 1 ? 250 : 3;
				x.sharpen = 10;
				x.saturation = 0;
				x.gamma = 2;
				x.rotate = 90 * k;
				x.flip_v = true;
				x.trim_border = k & 2;
				x.trim[1] = 5;
				x.border[k] = 2;
				x.width = k * 3;
				x.height = 2;
				x.fit = (enum px_fit)(k + 2);
				px_buf_init(&out, 0);
				T_EQ(px_image_transform(src.data, src.len, &x, NULL,
							&out, &oi, &eb), 0);
				if (eb.msg[0])
					fprintf(stderr, "  tiny %zu/%d: %s\n", i, k,
						eb.msg);
				T_EQ(px_image_describe(src.data, src.len, &x, NULL,
						       NULL, &d, &eb), 0);
				T_EQ(d.width, oi.width);
				T_EQ(d.height, oi.height);
				px_buf_release(&out);
			}
			px_buf_release(&src);
		}
	}
}

static bool gone_on_second(void *arg)
{
	return ++*(int *)arg == 2;
}

static bool never_gone(void *arg)
{
	(void)arg;
	return false;
}

/* The render budget stops a long transform; the placeholder has the
 * planned size and one frame, whatever the options. */
static void test_budget_and_placeholder(void)
{
	T_CASE("a transform over its budget stops with render_timeout")
	{
		struct px_buf in, out;
		struct px_xform x;
		struct px_errbuf eb = {0};

		T_EQ(load("rgb.jpg", &in), 0);
		px_xform_init(&x);
		x.width = x.height = 7000;
		x.fit = PX_FIT_SQUEEZE;
		x.blur = 250;
		x.format = PX_FMT_PNG;
		x.budget_ms = 20;
		px_buf_init(&out, 0);
		T_EQ(px_image_transform(in.data, in.len, &x, NULL, &out, NULL,
					&eb),
		     PX_EBUSY);
		T_STREQ(eb.code, "render_timeout");
		T_EQ(out.len, 0);
		/* a budget that is not reached changes nothing */
		x.width = x.height = 64;
		x.budget_ms = 600000;
		T_EQ(px_image_transform(in.data, in.len, &x, NULL, &out, NULL,
					&eb),
		     0);
		px_buf_release(&out);
		px_buf_release(&in);
	}
	T_CASE("an abandoned transform stops with client_gone")
	{
		struct px_buf in, out;
		struct px_xform x;
		struct px_errbuf eb = {0};
		int asked = 0;

		T_EQ(load("rgb.jpg", &in), 0);
		px_xform_init(&x);
		x.width = x.height = 7000;
		x.fit = PX_FIT_SQUEEZE;
		x.blur = 250;
		x.format = PX_FMT_PNG;
		/* no budget: only the question stops it, asked again until
		 * it says yes */
		x.abandoned = gone_on_second;
		x.abandoned_arg = &asked;
		px_buf_init(&out, 0);
		T_EQ(px_image_transform(in.data, in.len, &x, NULL, &out, NULL,
					&eb),
		     PX_EBUSY);
		T_STREQ(eb.code, "client_gone");
		T_EQ(asked, 2);
		T_EQ(out.len, 0);
		/* a render still wanted is not stopped */
		x.width = x.height = 64;
		x.abandoned = never_gone;
		T_EQ(px_image_transform(in.data, in.len, &x, NULL, &out, NULL,
					&eb),
		     0);
		T_OK(out.len > 0);
		px_buf_release(&out);
		px_buf_release(&in);
	}
	T_CASE("placeholders keep the planned size and give one frame")
	{
		static const char *aName[] = {"rgb.jpg", "gray-alpha.png",
					      "animated-12-frames.gif"};

		for (size_t i = 0; i < PX_ARRAY_LEN(aName); i++) {
			struct px_buf in;

			T_EQ(load(aName[i], &in), 0);
			for (int k = 0; k < 5; k++) {
				struct px_xform x;
				struct px_buf out;
				struct px_image_info oi, d, p;
				struct px_errbuf eb = {0};

				px_xform_init(&x);
				x.placeholder = true;
				x.format = k & 1 ? PX_FMT_PNG : PX_FMT_GIF;
				x.width = k * 700 + 1;
				x.height = k == 2 ? 0 : 300;
				x.fit = (enum px_fit)(k % 6);
				x.border[1] = k == 3 ? 9 : 0;
				x.background[3] = k == 4 ? 0 : 255;
				x.rotate = k == 1 ? 90 : 0;
				px_buf_init(&out, 0);
				T_EQ(px_image_describe(in.data, in.len, &x, NULL,
						       NULL, &d, &eb),
				     0);
				T_EQ(px_image_transform(in.data, in.len, &x,
							NULL, &out, &oi, &eb),
				     0);
				T_EQ(px_image_probe(out.data, out.len, NULL, &p,
						    &eb),
				     0);
				T_EQ(p.width, d.width);
				T_EQ(p.height, d.height);
				T_EQ(p.frames, 1);
				T_EQ(oi.frames, 1);
				px_buf_release(&out);
			}
			px_buf_release(&in);
		}
	}
}

static void run(void)
{
	struct px_errbuf eb = {0};

	if (px_image_init("test_image", &eb)) {
		fprintf(stderr, "px_image_init: %s\n", eb.msg);
		T_OK(0);
		return;
	}
	test_names();
	test_sniff();
	test_probe_table();
	test_verify();
	test_fit();
	test_aspect_and_gravity();
	test_orientation();
	test_metadata();
	test_colour();
	test_formats_and_anim();
	test_refusals();
	test_rgb();
	test_threads();
	test_geometry_ops();
	test_orientation_compose();
	test_colour_ops();
	test_trim_border();
	test_anim_ops();
	test_encoding();
	test_original_bytes();
	test_colour_management();
	test_describe();
	test_container_scan();
	test_extremes();
	test_budget_and_placeholder();
	px_image_shutdown();
}
