/*
 * test_image.c - the image module against the shared test inputs
 * (tests/data/inputs, expectations from tests/data/README.md).
 *
 * Tests see libvips only through image.h: outputs are checked by probing
 * them again and by reading the few container bytes that matter (JPEG
 * segments, the EXIF IFD0, the PNG IHDR).
 */
#include "image/image.h"

#include "t.h"

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
	unsigned char chunk[65536];
	size_t got;
	FILE *f;
	int rc = 0;

	px_buf_init(b, 0);
	snprintf(path, sizeof(path), "%s/%s", data_dir(), name);
	if (!(f = fopen(path, "rb"))) {
		fprintf(stderr, "cannot open \"%s\"\n", path);
		return -1;
	}
	while (!rc && (got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = px_buf_add(b, chunk, got);
	fclose(f);
	return rc;
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

		box(&x, 20000, 10, PX_FIT_SQUEEZE);
		T_EQ(xform("rgb.jpg", &x, &out, NULL, &eb), PX_ELIMIT);
		T_STREQ(eb.code, "dimensions_too_large");
		px_buf_release(&out);
		box(&x, 16000, 1, PX_FIT_COVER);
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
	px_image_shutdown();
}
