/*
 * test_faces.c - the geometry of gravity=face, zoom and redact=faces
 * (image/facecrop.c), their options, and the record's "faces" array.
 */
#include "catalog/catalog.h"
#include "catalog/reclass.h"
#include "moderation/reclass.h"
#include "delivery/options.h"
#include "image/image.h"
#include "t.h"
#include "t_file.h"

#include <jansson.h>
#include <math.h>

static const struct px_image_limits lim = {100000000ULL, 16384, 500};

static int load(const char *name, struct px_buf *b)
{
	char path[1024];

	snprintf(path, sizeof(path), "tests/data/inputs/%s", name);
	return t_load(path, b);
}

/* Variance of the luma-ish sum of channels over a rectangle of packed
 * RGB w pixels wide. */
static double variance(const unsigned char *p, int w, int x, int y, int rw,
		       int rh)
{
	double s = 0, s2 = 0;
	long n = 0;

	for (int j = y; j < y + rh; j++)
		for (int i = x; i < x + rw; i++) {
			const unsigned char *q = p + ((size_t)j * w + i) * 3;
			double v = q[0] + q[1] + q[2];

			s += v;
			s2 += v * v;
			n++;
		}
	return n ? s2 / n - (s / n) * (s / n) : 0;
}

static double mean_diff(const unsigned char *a, const unsigned char *b,
			int w, int x, int y, int rw, int rh)
{
	double d = 0;
	long n = 0;

	for (int j = y; j < y + rh; j++)
		for (int i = x; i < x + rw; i++)
			for (int c = 0; c < 3; c++, n++)
				d += fabs((double)a[((size_t)j * w + i) * 3 + c] -
					  b[((size_t)j * w + i) * 3 + c]);
	return n ? d / n : 0;
}

/* redact= on a real photo, through the whole transform: the padded box
 * loses its detail, the rest of the picture is untouched. The EXIF
 * orientation 6 file checks that boxes count in upright pixels. */
static void redact_case(const char *name, enum px_redact how)
{
	struct px_buf in, out, a, b;
	struct px_errbuf eb = {0};
	struct px_xform x;
	int w, h, w2, h2, bx, by, bw, bh;

	px_buf_init(&out, 0);
	px_buf_init(&a, 0);
	px_buf_init(&b, 0);
	T_EQ(load(name, &in), 0);
	T_EQ(px_image_rgb_full(in.data, in.len, &lim, &a, &w, &h, &eb), 0);
	bx = w / 3;
	by = h / 4;
	bw = w / 5;
	bh = h / 5;
	px_xform_init(&x);
	x.format = PX_FMT_PNG;
	x.redact = how;
	x.faces_known = true;
	x.nfaces = 1;
	x.faces[0] = (struct px_image_box){(float)bx, (float)by, (float)bw,
					   (float)bh};
	T_EQ(px_image_transform(in.data, in.len, &x, &lim, &out, NULL, &eb), 0);
	T_EQ(px_image_rgb_full(out.data, out.len, &lim, &b, &w2, &h2, &eb), 0);
	T_OK(w2 == w && h2 == h);
	if (w2 == w && h2 == h && a.len == b.len) {
		double v0 = variance(a.data, w, bx, by, bw, bh);
		double v1 = variance(b.data, w, bx, by, bw, bh);

		if (how == PX_REDACT_BLUR)
			T_OK(v1 < v0 * 0.1);
		else
			T_OK(v1 < v0 * 0.8);
		/* far from the box: the same pixels */
		T_OK(mean_diff(a.data, b.data, w, 0, h * 3 / 4, w, h / 4) < 0.5);
	}
	px_buf_release(&in);
	px_buf_release(&out);
	px_buf_release(&a);
	px_buf_release(&b);
}

/* gravity=face renders what a trim to the computed window renders. */
static void face_crop_case(const char *name, double zoom)
{
	struct px_buf in, o1, o2;
	struct px_errbuf eb = {0};
	struct px_image_info info;
	struct px_xform x, y;
	struct px_image_box box;
	int r[4];

	px_buf_init(&o1, 0);
	px_buf_init(&o2, 0);
	T_EQ(load(name, &in), 0);
	T_EQ(px_image_probe(in.data, in.len, &lim, &info, &eb), 0);
	box = (struct px_image_box){info.width * 0.6f, info.height * 0.5f,
				    info.width * 0.1f, info.height * 0.1f};
	px_xform_init(&x);
	x.format = PX_FMT_PNG;
	x.width = 64;
	x.height = 48;
	x.fit = PX_FIT_COVER;
	x.gravity = PX_GRAVITY_FACE;
	x.zoom = zoom;
	x.faces_known = true;
	x.nfaces = 1;
	x.faces[0] = box;
	T_OK(px_face_crop(info.width, info.height, 64.0 / 48, zoom, &box, 1, 0,
			  0, r));
	y = x;
	y.gravity = PX_GRAVITY_CENTER;
	y.nfaces = 0;
	y.trim[0] = r[1];
	y.trim[3] = r[0];
	y.trim[1] = info.width - r[0] - r[2];
	y.trim[2] = info.height - r[1] - r[3];
	T_EQ(px_image_transform(in.data, in.len, &x, &lim, &o1, &info, &eb), 0);
	T_OK(info.width == 64 && info.height == 48);
	T_EQ(px_image_transform(in.data, in.len, &y, &lim, &o2, NULL, &eb), 0);
	T_OK(o1.len == o2.len && !memcmp(o1.data, o2.data, o1.len));
	/* faces looked for, none found: the centre, as gravity=center */
	x.nfaces = 0;
	y = x;
	y.gravity = PX_GRAVITY_CENTER;
	px_buf_release(&o1);
	px_buf_release(&o2);
	px_buf_init(&o1, 0);
	px_buf_init(&o2, 0);
	T_EQ(px_image_transform(in.data, in.len, &x, &lim, &o1, NULL, &eb), 0);
	T_EQ(px_image_transform(in.data, in.len, &y, &lim, &o2, NULL, &eb), 0);
	T_OK(o1.len == o2.len && !memcmp(o1.data, o2.data, o1.len));
	px_buf_release(&in);
	px_buf_release(&o1);
	px_buf_release(&o2);
}

static bool crop_is(int w, int h, double aspect, double zoom,
		    const struct px_image_box *b, int n, int minw, int minh,
		    int l, int t, int cw, int ch)
{
	int r[4] = {-1, -1, -1, -1};

	if (!px_face_crop(w, h, aspect, zoom, b, n, minw, minh, r)) {
		fprintf(stderr, "  no crop\n");
		return false;
	}
	if (r[0] == l && r[1] == t && r[2] == cw && r[3] == ch)
		return true;
	fprintf(stderr, "  got %d,%d %dx%d want %d,%d %dx%d\n", r[0], r[1],
		r[2], r[3], l, t, cw, ch);
	return false;
}

/* The window holds the box, lies in the image and has the aspect. */
static bool holds(int w, int h, double aspect, double zoom,
		  struct px_image_box b)
{
	int r[4];

	if (!px_face_crop(w, h, aspect, zoom, &b, 1, 0, 0, r))
		return false;
	return r[0] >= 0 && r[1] >= 0 && r[0] + r[2] <= w && r[1] + r[3] <= h &&
	       r[0] <= b.x && r[1] <= b.y && r[0] + r[2] >= b.x + b.w &&
	       r[1] + r[3] >= b.y + b.h &&
	       fabs((double)r[2] / r[3] - aspect) < 0.02 * aspect;
}

static void run(void)
{
	struct px_image_box one = {100, 100, 50, 50};
	struct px_image_box two[2] = {{100, 100, 50, 50}, {400, 200, 100, 100}};

	T_CASE("zoom 0 takes the largest window, zoom 1 the face") {
		T_OK(crop_is(1000, 500, 1, 0, &one, 1, 0, 0, 0, 0, 500, 500));
		T_OK(crop_is(1000, 500, 1, 1, &one, 1, 0, 0, 100, 100, 50, 50));
		/* halfway between 500 and 50 */
		T_OK(crop_is(1000, 500, 1, 0.5, &one, 1, 0, 0, 0, 0, 275, 275));
		T_OK(crop_is(1000, 500, 1, 0.9, &one, 1, 0, 0, 78, 78, 95, 95));
	}
	T_CASE("the window is centred on the faces, clamped at the edges") {
		struct px_image_box edge = {950, 400, 50, 50};
		struct px_image_box mid = {475, 225, 50, 50};

		T_OK(crop_is(1000, 500, 1, 0.5, &edge, 1, 0, 0, 725, 225, 275, 275));
		T_OK(crop_is(1000, 500, 1, 0, &edge, 1, 0, 0, 500, 0, 500, 500));
		T_OK(crop_is(1000, 500, 1, 0.5, &mid, 1, 0, 0, 363, 113, 275, 275));
	}
	T_CASE("several faces: their union") {
		/* union 100,100 - 500,300: 400 wide, so 400x400 at aspect 1 */
		T_OK(crop_is(1000, 500, 1, 1, two, 2, 0, 0, 100, 0, 400, 400));
		/* aspect 2: 400x200 holds the union exactly */
		T_OK(crop_is(1000, 500, 2, 1, two, 2, 0, 0, 100, 100, 400, 200));
	}
	T_CASE("aspect wider than the image, and the fit=crop floor") {
		/* 500x1000 portrait, 2:1 window: at most 500x250 */
		T_OK(crop_is(500, 1000, 2, 0, &one, 1, 0, 0, 0, 0, 500, 250));
		/* never under 200x100 (fit=crop of a 200x100 output) */
		T_OK(crop_is(1000, 500, 2, 1, &one, 1, 200, 100, 25, 75, 200, 100));
		/* a floor larger than the image stops at the image */
		T_OK(crop_is(300, 300, 1, 1, &one, 1, 1000, 1000, 0, 0, 300, 300));
	}
	T_CASE("every zoom holds the face box") {
		struct px_image_box boxes[] = {
			{0, 0, 30, 40}, {970, 460, 30, 40}, {10, 300, 200, 150},
			{600, 20, 5, 5}, {0, 0, 1000, 500},
		};
		double aspects[] = {1, 0.5, 2, 16.0 / 9};

		for (size_t i = 0; i < sizeof(boxes) / sizeof(boxes[0]); i++)
			for (size_t k = 0; k < 4; k++)
				for (double z = 0; z <= 1.0001; z += 0.25) {
					/* a box wider than the aspect allows
					 * cannot be held: skip those */
					double need = fmax(boxes[i].w,
							   boxes[i].h * aspects[k]);
					double maxw = fmin(1000, 500 * aspects[k]);

					if (need > maxw + 0.5)
						continue;
					T_OK(holds(1000, 500, aspects[k], z, boxes[i]));
				}
	}
	T_CASE("boxes outside the image, none, or nonsense") {
		struct px_image_box out = {2000, 2000, 10, 10};
		struct px_image_box half = {-25, -25, 50, 50};
		struct px_image_box nan_box = {NAN, 0, 10, 10};
		int r[4];

		T_OK(!px_face_crop(1000, 500, 1, 1, &out, 1, 0, 0, r));
		T_OK(!px_face_crop(1000, 500, 1, 1, &one, 0, 0, 0, r));
		T_OK(!px_face_crop(1000, 500, 1, 1, &nan_box, 1, 0, 0, r));
		T_OK(!px_face_crop(0, 500, 1, 1, &one, 1, 0, 0, r));
		/* clipped to 0,0 25x25 */
		T_OK(crop_is(1000, 500, 1, 1, &half, 1, 0, 0, 0, 0, 25, 25));
		/* a zoom out of range is clamped, NaN is 0 */
		T_OK(crop_is(1000, 500, 1, 7, &one, 1, 0, 0, 100, 100, 50, 50));
		T_OK(crop_is(1000, 500, 1, NAN, &one, 1, 0, 0, 0, 0, 500, 500));
	}
	T_CASE("redact box: padded by the margin, clipped") {
		struct px_image_box corner = {0, 0, 50, 50};
		struct px_image_box out = {-100, 0, 50, 50};
		int r[4];

		T_OK(px_redact_rect(1000, 500, &one, r));
		T_OK(r[0] == 90 && r[1] == 90 && r[2] == 70 && r[3] == 70);
		T_OK(px_redact_rect(1000, 500, &corner, r));
		T_OK(r[0] == 0 && r[1] == 0 && r[2] == 60 && r[3] == 60);
		T_OK(!px_redact_rect(1000, 500, &out, r));
	}
	T_CASE("options: gravity=face, zoom and redact, canonical") {
		struct px_opts o;
		struct px_errbuf eb = {0};
		struct px_buf b;

		px_opts_init(&o);
		T_EQ(px_opts_parse("redact=faces,zoom=0.5,g=face,w=100,h=100,fit=cover",
				   &o, &eb), 0);
		T_EQ(o.x.gravity, PX_GRAVITY_FACE);
		T_EQ(o.x.redact, PX_REDACT_BLUR);
		px_buf_init(&b, 0);
		px_opts_canonical(&o, &b);
		px_buf_add(&b, "", 1);
		T_STREQ((const char *)b.data,
			"width=100,height=100,fit=cover,gravity=face,zoom=0.5,redact=faces");
		px_buf_release(&b);
		px_opts_init(&o);
		T_EQ(px_opts_parse("redact=faces-pixelate", &o, &eb), 0);
		T_EQ(o.x.redact, PX_REDACT_PIXELATE);
		/* a later gravity replaces face */
		px_opts_init(&o);
		T_EQ(px_opts_parse("g=face,g=left", &o, &eb), 0);
		T_EQ(o.x.gravity, PX_GRAVITY_LEFT);
		T_OK(!o.face);
		px_opts_init(&o);
		T_EQ(px_opts_parse("redact=eyes", &o, &eb), PX_EINVAL);
		T_STREQ(eb.code, "invalid_option");
	}
	T_CASE("redact=faces blurs the padded box, leaves the rest") {
		struct px_errbuf eb = {0};

		T_EQ(px_image_init("test_faces", &eb), 0);
		redact_case("rgb.jpg", PX_REDACT_BLUR);
		redact_case("exif-orientation-6.jpg", PX_REDACT_BLUR);
		redact_case("rgb.jpg", PX_REDACT_PIXELATE);
	}
	T_CASE("gravity=face crops the window px_face_crop gives") {
		face_crop_case("rgb.jpg", 0);
		face_crop_case("rgb.jpg", 0.7);
		face_crop_case("exif-orientation-6.jpg", 1);
	}
	T_CASE("reclassify: the faces filter") {
		struct px_reclass_filter f;
		struct px_image_rec r;
		struct px_errbuf eb = {0};

		memset(&r, 0, sizeof(r));
		T_EQ(px_reclass_parse("{\"faces\":true}", 14, &f, &eb), 0);
		T_OK(f.faces);
		T_OK(px_reclass_match(&f, &r, "m", "p"));
		r.faces.known = true; /* looked at, none found */
		T_OK(!px_reclass_match(&f, &r, "m", "p"));
		T_EQ(px_reclass_parse("{\"faces\":1}", 11, &f, &eb), PX_EINVAL);
	}
	T_CASE("the record's faces: whole pixels rounded outwards") {
		struct px_rec_faces f = {.known = true, .n = 2}, g;
		const char *pre =
			"[{\"x\":10,\"y\":20,\"w\":31,\"h\":42,\"score\":0.987";
		json_t *j;
		char *text;

		f.a[0] = (struct px_rec_face){10.4f, 20.6f, 30.2f, 40.5f, 0.98765f};
		f.a[1] = (struct px_rec_face){1, 2, 3, 4, 0.5f};
		j = px_rec_faces_json(&f);
		text = json_dumps(j, JSON_COMPACT);
		T_OK(text && !strncmp(text, pre, strlen(pre)));
		T_OK(fabs(json_real_value(json_object_get(json_array_get(j, 0),
							  "score")) - 0.9876) < 1e-9);
		px_rec_faces_parse(j, &g);
		T_OK(g.known && g.n == 2 && g.a[0].x == 10 && g.a[0].w == 31);
		free(text);
		json_decref(j);
		/* unknown: no array; malformed entries are skipped */
		f.known = false;
		T_OK(px_rec_faces_json(&f) == NULL);
		px_rec_faces_parse(NULL, &g);
		T_OK(!g.known);
		j = json_loads("[{\"x\":1},{\"x\":1,\"y\":1,\"w\":-2,\"h\":3},"
			       "{\"x\":1,\"y\":1,\"w\":2,\"h\":3}]", 0, NULL);
		px_rec_faces_parse(j, &g);
		T_OK(g.known && g.n == 1 && g.a[0].score == 0);
		json_decref(j);
		j = json_array();
		px_rec_faces_parse(j, &g);
		T_OK(g.known && g.n == 0);
		json_decref(j);
	}
}
