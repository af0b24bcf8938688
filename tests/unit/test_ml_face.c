/*
 * test_ml_face.c - the BlazeFace detector (src/ml/face.c): the installed
 * model files, anchors, NMS, preprocessing, and the whole pipeline against
 * TF.js's on real photos.
 *
 * The model comes from $PICTOR_MODELS (default "models", `make models`);
 * the photos from $PICTOR_CORPUS (default "build/corpus", `make corpus`);
 * the TF.js reference outputs from tests/data/face (README.md there says
 * how they were made).
 */
#include "core/buf.h"
#include "core/crypto.h"
#include "image/image.h"
#include "ml/face.c"

#include <jansson.h>
#include <math.h>

#include "t.h"

#define DATA "tests/data/face"

static const char *models_dir(void)
{
	const char *d = getenv("PICTOR_MODELS");

	return d && *d ? d : "models";
}

static const char *corpus_dir(void)
{
	const char *d = getenv("PICTOR_CORPUS");

	return d && *d ? d : "build/corpus";
}

static bool slurp(const char *path, struct px_buf *b)
{
	char chunk[65536];
	FILE *f = fopen(path, "rb");
	size_t n;

	px_buf_init(b, 0);
	if (!f)
		return false;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		px_buf_add(b, chunk, n);
	fclose(f);
	return true;
}

static void test_model_files(void)
{
	char line[256], path[1024];
	FILE *f = fopen(DATA "/blazeface-back.sha256", "r");

	T_CASE("face model files match the recorded sha256")
	{
		int nfiles = 0;

		T_OK(f != NULL);
		while (f && fgets(line, sizeof(line), f)) {
			char want[65], name[128], got[PX_SHA256_HEX_LEN + 1];
			struct px_buf b;

			if (sscanf(line, "%64s %127s", want, name) != 2)
				continue;
			snprintf(path, sizeof(path), "%s/%s/%s", models_dir(),
				 PX_FACE_MODEL, name);
			T_OK(slurp(path, &b));
			T_EQ(px_sha256_hex(b.data, b.len, got), 0);
			if (strcmp(got, want))
				fprintf(stderr, "  %s: sha256 %s\n", path, got);
			T_STREQ(got, want);
			px_buf_release(&b);
			nfiles++;
		}
		T_EQ(nfiles, 3);
	}
	if (f)
		fclose(f);
}

static void test_anchors(void)
{
	float ax, ay;

	T_CASE("anchors: 16x16 cells of stride 16 twice, then 8x8 of 32 six times")
	{
		anchor(0, &ax, &ay);
		T_OK(ax == 8 && ay == 8);
		anchor(1, &ax, &ay);
		T_OK(ax == 8 && ay == 8);
		anchor(2, &ax, &ay);
		T_OK(ax == 24 && ay == 8);
		anchor(511, &ax, &ay);
		T_OK(ax == 248 && ay == 248);
		anchor(512, &ax, &ay);
		T_OK(ax == 16 && ay == 16);
		anchor(517, &ax, &ay);
		T_OK(ax == 16 && ay == 16);
		anchor(518, &ax, &ay);
		T_OK(ax == 48 && ay == 16);
		anchor(895, &ax, &ay);
		T_OK(ax == 240 && ay == 240);
	}
	T_CASE("iou as TF.js computes it, corner order free")
	{
		const float a[4] = {0, 0, 10, 10}, b[4] = {5, 0, 15, 10};
		const float b2[4] = {15, 10, 5, 0}, z[4] = {1, 1, 1, 5};

		T_OK(fabs(iou(a, b) - 50.0 / 150.0) < 1e-12);
		T_OK(fabs(iou(a, b2) - 50.0 / 150.0) < 1e-12);
		T_OK(iou(a, z) == 0);
	}
}

static void test_prepare(void)
{
	T_CASE("prepare: letterbox and TF.js bilinear, no corner alignment")
	{
		/* 2x1 white: side 2, pady = floor((2 - 1) / 2) = 0 rows each
		 * side, so the padded image stays 2x1 (human's tf.pad does the
		 * same for an odd difference) and is stretched. */
		uint8_t px[6] = {255, 255, 255, 255, 255, 255};
		float *in = malloc(NPIX * sizeof(float)), map[4];

		T_EQ(px_face_prepare(px, 2, 1, in, map), 0);
		T_OK(map[0] == 2.0f / 256 && map[1] == 1.0f / 256);
		T_OK(map[2] == 0 && map[3] == 0);
		T_OK(in[0] == 1.0f && in[NPIX - 1] == 1.0f);
		T_EQ(px_face_prepare(px, 0, 1, in, map), PX_EINVAL);
		T_EQ(px_face_prepare(px, 70000, 1, in, map), PX_EINVAL);
		free(in);
	}
	T_CASE("prepare: 1x3 column pads one black column each side")
	{
		uint8_t px[9] = {255, 255, 255, 255, 255, 255, 255, 255, 255};
		float *in = malloc(NPIX * sizeof(float)), map[4];

		T_EQ(px_face_prepare(px, 1, 3, in, map), 0);
		T_OK(map[0] == 3.0f / 256 && map[1] == 3.0f / 256);
		T_OK(map[2] == 1 && map[3] == 0);
		/* x source = c * 3/256: c = 0 is the black pad (-1); c = 100
		 * is 300/256, 44/256 of the way from the white column to the
		 * right pad; c = 255 lies in the right pad */
		T_OK(in[0] == -1.0f);
		T_OK(in[(128 * 256 + 100) * 3] ==
		     211.171875f / 127.5f - 1.0f);
		T_OK(in[(128 * 256 + 255) * 3] == -1.0f);
		free(in);
	}
}

/* Decode a corpus photo to packed RGB as the server does. */
static uint8_t *corpus_rgb(const char *file, int *w, int *h)
{
	struct px_errbuf eb = {0};
	struct px_buf b, out;
	char path[1024];
	int rc;

	snprintf(path, sizeof(path), "%s/%s", corpus_dir(), file);
	if (!slurp(path, &b)) {
		fprintf(stderr, "  cannot read %s (run `make corpus`)\n", path);
		return NULL;
	}
	px_buf_init(&out, (size_t)1 << 30);
	rc = px_image_rgb_full(b.data, b.len, NULL, &out, w, h, &eb);
	px_buf_release(&b);
	if (rc) {
		fprintf(stderr, "  %s: %s\n", path, eb.msg);
		px_buf_release(&out);
		return NULL;
	}
	return out.data;
}

static void test_detect(void)
{
	struct px_ml_model *m = NULL;
	struct px_ml_ctx *c = NULL;
	struct px_errbuf eb = {0};
	struct px_face f[PX_FACE_MAX];
	uint8_t *rgb = NULL;
	int w = 0, h = 0, n = -1, rc;

	T_CASE("face model loads and checks its shapes")
	{
		rc = px_face_open(models_dir(), &m, &eb);
		if (rc)
			fprintf(stderr, "  cannot load the face model from '%s': "
				"%s (run `make models`)\n", models_dir(), eb.msg);
		T_EQ(rc, 0);
		T_OK(!m || px_ml_ctx_new(m, &c, &eb) == 0);
	}
	T_CASE("a missing model names both places looked at")
	{
		struct px_ml_model *none = NULL;

		T_EQ(px_face_open("/nonexistent", &none, &eb), PX_ENOTFOUND);
		T_OK(strstr(eb.msg, "blazeface-back/model.json") != NULL);
		T_OK(none == NULL);
	}
	if (!c)
		goto out;
	T_CASE("astronaut: one face, on Eileen Collins's face")
	{
		rgb = corpus_rgb("astronaut.png", &w, &h);
		T_OK(rgb != NULL);
		if (rgb) {
			T_EQ(px_face_detect(c, rgb, w, h, 0.5f, f, PX_FACE_MAX,
					    &n, &eb), 0);
			T_EQ(n, 1);
			/* by eye: brow to chin about y 80..180, x 175..275 */
			T_OK(n >= 1 && f[0].x > 160 && f[0].x < 190 &&
			     f[0].y > 60 && f[0].y < 95 && f[0].w > 85 &&
			     f[0].w < 125 && f[0].score > 0.8f);
		}
	}
	T_CASE("max 0 finds nothing, bad sizes are refused")
	{
		T_EQ(px_face_detect(c, rgb ? rgb : (const uint8_t *)"", 1, 1,
				    0.5f, f, 0, &n, &eb), 0);
		T_EQ(n, 0);
		T_EQ(px_face_detect(c, (const uint8_t *)"", 0, 5, 0.5f, f,
				    PX_FACE_MAX, &n, &eb), PX_EINVAL);
		T_EQ(n, 0);
	}
out:
	free(rgb);
	px_ml_ctx_free(c);
	px_ml_model_free(m);
}

/* --- against TF.js (tests/data/face/expected.json, make-golden.sh) --- */

struct photo {
	const char *file;
	uint8_t *rgb;
	int w, h;
};

static struct photo photos[] = {
	{"astronaut.png", NULL, 0, 0},
	{"grace_hopper.jpg", NULL, 0, 0},
	{"mona.png", NULL, 0, 0},
};
#define NPHOTOS (sizeof(photos) / sizeof(photos[0]))

static struct photo *photo(const char *file)
{
	size_t i;

	for (i = 0; i < NPHOTOS; i++)
		if (!strcmp(photos[i].file, file))
			return photos[i].rgb ? &photos[i] : NULL;
	return NULL;
}

/* The collage of tests/data/face/cases.mjs: several faces of different
 * sizes, each photo subsampled by an integer step, on mid grey. */
#define COL_W 1000
#define COL_H 640
static const struct {
	const char *file;
	int step, x, y;
} pieces[] = {
	{"astronaut.png", 1, 0, 0},    {"grace_hopper.jpg", 2, 530, 10},
	{"mona.png", 2, 760, 0},       {"grace_hopper.jpg", 3, 520, 420},
	{"astronaut.png", 2, 720, 384},
};

static uint8_t *collage(void)
{
	uint8_t *rgb = malloc((size_t)COL_W * COL_H * 3);
	size_t k;

	memset(rgb, 96, (size_t)COL_W * COL_H * 3);
	for (k = 0; k < sizeof(pieces) / sizeof(pieces[0]); k++) {
		const struct photo *p = photo(pieces[k].file);
		int st = pieces[k].step, pw, ph, x, y, c;

		if (!p) {
			free(rgb);
			return NULL;
		}
		pw = (p->w + st - 1) / st;
		ph = (p->h + st - 1) / st;
		for (y = 0; y < ph && pieces[k].y + y < COL_H; y++)
			for (x = 0; x < pw && pieces[k].x + x < COL_W; x++)
				for (c = 0; c < 3; c++)
					rgb[((size_t)(pieces[k].y + y) * COL_W +
					     (size_t)(pieces[k].x + x)) * 3 + (size_t)c] =
						p->rgb[((size_t)(y * st) * (size_t)p->w +
							(size_t)(x * st)) * 3 + (size_t)c];
	}
	return rgb;
}

static double jnum(const json_t *a, size_t i)
{
	return json_number_value(json_array_get(a, i));
}

static void test_raw(struct px_ml_ctx *c, const json_t *raw)
{
	size_t i;
	double worst = 0;

	T_CASE("raw outputs within 1e-4 of TF.js on 256x256 crops")
	{
		T_EQ(json_array_size(raw), 3);
		for (i = 0; i < json_array_size(raw); i++) {
			const json_t *r = json_array_get(raw, i);
			const struct photo *p = photo(json_string_value(
				json_object_get(r, "file")));
			int x0 = (int)json_integer_value(json_object_get(r, "x0"));
			int y0 = (int)json_integer_value(json_object_get(r, "y0"));
			const char *data = json_string_value(json_object_get(r, "data"));
			float *in = malloc(NPIX * sizeof(float)), map[4];
			uint8_t *crop = malloc(NPIX);
			char path[512];
			struct px_buf want;
			struct outs o;
			double err = 0;
			int y, k;

			T_OK(p != NULL && data != NULL);
			snprintf(path, sizeof(path), DATA "/%s", data ? data : "");
			T_OK(slurp(path, &want));
			T_EQ(want.len, (size_t)PX_FACE_ANCHORS * 17 * 4);
			if (!p || want.len != (size_t)PX_FACE_ANCHORS * 17 * 4) {
				free(in);
				free(crop);
				px_buf_release(&want);
				continue;
			}
			for (y = 0; y < N; y++)
				memcpy(crop + (size_t)y * N * 3,
				       p->rgb + ((size_t)(y0 + y) * (size_t)p->w +
						 (size_t)x0) * 3,
				       (size_t)N * 3);
			T_EQ(px_face_prepare(crop, N, N, in, map), 0);
			T_EQ(run_model(c, in, NULL), 0);
			T_OK(find_outputs(c, &o));
			{
				const float *got[4] = {o.cls_big, o.cls_small,
						       o.reg_big, o.reg_small};
				const size_t cnt[4] = {NBIG, NSMALL, NBIG * NREG,
						       NSMALL * NREG};
				const float *w = (const float *)want.data;

				for (k = 0; k < 4; k++) {
					size_t j;

					for (j = 0; j < cnt[k]; j++) {
						double d = fabs((double)got[k][j] - w[j]);

						if (!(d <= err))
							err = d;
					}
					w += cnt[k];
				}
			}
			if (!(err <= 1e-4))
				fprintf(stderr, "  %s: max abs error %.3g\n",
					p->file, err);
			T_OK(err <= 1e-4);
			if (err > worst)
				worst = err;
			free(in);
			free(crop);
			px_buf_release(&want);
		}
	}
	printf("face raw outputs: 3 crops x %d values, max abs error %.2g\n",
	       PX_FACE_ANCHORS * 17, worst);
}

static void test_boxes(struct px_ml_ctx *c, const json_t *cases,
		       double min_score, int max)
{
	double worst_model = 0, worst_score = 0;
	int nfaces = 0;
	size_t i;

	T_CASE("faces within 2 model px of TF.js's, same count and order")
	{
		T_EQ(json_array_size(cases), 4);
		for (i = 0; i < json_array_size(cases); i++) {
			const json_t *cs = json_array_get(cases, i);
			const char *name = json_string_value(json_object_get(cs, "name"));
			const json_t *faces = json_object_get(cs, "faces");
			const struct photo *p = name ? photo(name) : NULL;
			uint8_t *own = NULL;
			const uint8_t *rgb;
			struct px_face fm[PX_FACE_MAX], fi[PX_FACE_MAX];
			float *in = malloc(NPIX * sizeof(float)), map[4];
			int w, h, n = -1, ni = -1, k;

			if (name && !strcmp(name, "collage")) {
				rgb = own = collage();
				w = COL_W;
				h = COL_H;
			} else {
				rgb = p ? p->rgb : NULL;
				w = p ? p->w : 0;
				h = p ? p->h : 0;
			}
			T_OK(rgb != NULL);
			if (!rgb) {
				free(in);
				continue;
			}
			T_EQ(w, json_integer_value(json_object_get(cs, "w")));
			T_EQ(h, json_integer_value(json_object_get(cs, "h")));
			T_EQ(px_face_prepare(rgb, w, h, in, map), 0);
			T_EQ(px_face_detect_f32(c, in, (float)min_score, fm, max,
						&n, NULL), 0);
			T_EQ(px_face_detect(c, rgb, w, h, (float)min_score, fi,
					    max, &ni, NULL), 0);
			T_EQ(n, ni);
			if (n != (int)json_array_size(faces))
				fprintf(stderr, "  %s: %d faces, TF.js %zu\n", name,
					n, json_array_size(faces));
			T_EQ(n, (int)json_array_size(faces));
			for (k = 0; k < n && k < (int)json_array_size(faces); k++) {
				const json_t *f = json_array_get(faces, (size_t)k);
				const json_t *mb = json_object_get(f, "model");
				const json_t *ib = json_object_get(f, "box");
				double s = json_number_value(json_object_get(f, "score"));
				double d[4] = {
					fabs(fm[k].x - jnum(mb, 0)),
					fabs(fm[k].y - jnum(mb, 1)),
					fabs(fm[k].x + fm[k].w - jnum(mb, 2)),
					fabs(fm[k].y + fm[k].h - jnum(mb, 3)),
				};
				double di[4] = {
					fabs(fi[k].x - jnum(ib, 0)),
					fabs(fi[k].y - jnum(ib, 1)),
					fabs(fi[k].w - jnum(ib, 2)),
					fabs(fi[k].h - jnum(ib, 3)),
				};
				int j;

				for (j = 0; j < 4; j++) {
					T_OK(d[j] <= 2);
					/* 2 model px, scaled to the input */
					T_OK(di[j] <= 2 * map[j % 2] + 1e-3);
					if (d[j] > worst_model)
						worst_model = d[j];
				}
				T_OK(fabs(fm[k].score - s) <= 1e-3);
				T_OK(fi[k].score == fm[k].score);
				if (fabs(fm[k].score - s) > worst_score)
					worst_score = fabs(fm[k].score - s);
				nfaces++;
			}
			free(own);
			free(in);
		}
	}
	printf("face boxes: 4 images, %d faces, max corner error %.2g model px, "
	       "max score error %.2g\n",
	       nfaces, worst_model, worst_score);
}

static void test_golden(void)
{
	struct px_ml_model *m = NULL;
	struct px_ml_ctx *c = NULL;
	struct px_errbuf eb = {0};
	json_error_t jerr;
	json_t *root;
	size_t i;

	root = json_load_file(DATA "/expected.json", 0, &jerr);
	T_CASE("golden file and photos")
	{
		T_OK(root != NULL);
		for (i = 0; i < NPHOTOS; i++) {
			photos[i].rgb = corpus_rgb(photos[i].file, &photos[i].w,
						   &photos[i].h);
			T_OK(photos[i].rgb != NULL);
		}
		T_EQ(px_face_open(models_dir(), &m, &eb), 0);
		T_OK(!m || px_ml_ctx_new(m, &c, &eb) == 0);
	}
	if (root && c) {
		test_raw(c, json_object_get(root, "raw"));
		test_boxes(c, json_object_get(root, "cases"),
			   json_number_value(json_object_get(root, "min_score")),
			   (int)json_integer_value(json_object_get(root, "max")));
	}
	for (i = 0; i < NPHOTOS; i++) {
		free(photos[i].rgb);
		photos[i].rgb = NULL;
	}
	json_decref(root);
	px_ml_ctx_free(c);
	px_ml_model_free(m);
}

static void run(void)
{
	struct px_errbuf eb = {0};

	if (px_image_init("test_ml_face", &eb)) {
		fprintf(stderr, "px_image_init: %s\n", eb.msg);
		exit(1);
	}
	test_model_files();
	test_anchors();
	test_prepare();
	test_detect();
	test_golden();
	px_image_shutdown();
}
