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
	px_image_shutdown();
}
