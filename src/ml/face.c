/*
 * face.c - BlazeFace (back-camera, 256x256) face detection on the ml
 * engine: model checks, the letterbox-and-resize preprocessing, anchor
 * decoding and non-maximum suppression.
 *
 * Every step reproduces the TF.js pipeline of @vladmandic/human 3.3's
 * detector (src/face/blazeface.ts with `square: true`), operation for
 * operation in the same precision, so that boxes agree with it to float
 * rounding: see docs/MODELS.md and tests/unit/test_face.c.
 */
#include "ml/face.h"

#include <math.h>

#define N PX_FACE_SIZE
#define NPIX (N * N * 3)
#define NREG 16     /* regressors per anchor: cx, cy, w, h, 6 landmarks */
#define NBIG 512    /* 16x16 grid, 2 anchors per cell, stride 16 */
#define NSMALL 384  /* 8x8 grid, 6 anchors per cell, stride 32 */

bool px_face_locate(const char *models_dir, char *dir, size_t n)
{
	return px_ml_locate(models_dir, PX_FACE_MODEL, dir, n);
}

/* The four outputs, found by size: the model's signature lists them in no
 * useful order (human sorts them by size too). */
struct outs {
	const float *cls_big, *cls_small, *reg_big, *reg_small;
};

static bool find_outputs(const struct px_ml_ctx *ctx, struct outs *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < 4; i++) {
		size_t n = 0;
		const float *p = px_ml_ctx_output(ctx, i, &n);

		if (!p)
			return false;
		if (n == NBIG)
			o->cls_big = p;
		else if (n == NSMALL)
			o->cls_small = p;
		else if (n == (size_t)NBIG * NREG)
			o->reg_big = p;
		else if (n == (size_t)NSMALL * NREG)
			o->reg_small = p;
	}
	return o->cls_big && o->cls_small && o->reg_big && o->reg_small &&
	       !px_ml_ctx_output(ctx, 4, &(size_t){0});
}

int px_face_open(const char *models_dir, struct px_ml_model **out,
		 struct px_errbuf *eb)
{
	static const size_t want[4] = {NBIG, NSMALL, (size_t)NBIG * NREG,
				       (size_t)NSMALL * NREG};
	struct px_ml_model *m = NULL;
	int64_t d[PX_ML_MAX_RANK];
	bool seen[4] = {false};
	char dir[4096];
	int rc, i, k;

	*out = NULL;
	rc = px_ml_model_find(models_dir, PX_FACE_MODEL, "face model", dir,
			      sizeof(dir), &m, eb);
	if (rc)
		return rc;
	rc = px_ml_model_input_shape(m, d) == 4 && d[0] == 1 && d[1] == N &&
	     d[2] == N && d[3] == 3 && px_ml_model_noutputs(m) == 4;
	for (i = 0; rc && i < 4; i++) {
		size_t n = px_ml_model_output_size(m, i);

		for (k = 0; k < 4 && (seen[k] || n != want[k]); k++)
			;
		if (k == 4)
			rc = 0;
		else
			seen[k] = true;
	}
	if (!rc) {
		px_ml_model_free(m);
		return px_errf(eb, PX_EINVAL,
			       "'%s' is not the BlazeFace back model (input "
			       "must be 1x256x256x3, outputs 512 and 384 "
			       "anchors of 1 score and 16 regressors)",
			       dir);
	}
	*out = m;
	return 0;
}

/*
 * TF.js's CPU resizeBilinear without corner alignment or half-pixel
 * centres, on the image padded to a square with zeros: source = out_index
 * * in/out, corners floor/ceil clamped to the padded image, lerp along x
 * on both rows then along y, in double, stored as float32; then / 127.5
 * and - 1 in float32, as two TF.js operations round them.
 */
int px_face_prepare(const uint8_t *rgb, int w, int h, float *in256,
		    float map[4])
{
	int side, padx, pady, pw, ph, r, c, d;
	double ry, rx;

	if (w < 1 || h < 1 || w > 65535 || h > 65535)
		return PX_EINVAL;
	side = w > h ? w : h;
	padx = (side - w) / 2;
	pady = (side - h) / 2;
	pw = w + 2 * padx;
	ph = h + 2 * pady;
	ry = (double)ph / N;
	rx = (double)pw / N;
	for (r = 0; r < N; r++) {
		double fy = ry * r;
		int y0 = (int)floor(fy), y1 = (int)ceil(fy);
		double dy;

		if (y0 < 0)
			y0 = 0;
		if (y1 > ph - 1)
			y1 = ph - 1;
		dy = fy - y0;
		y0 -= pady;
		y1 -= pady;
		for (c = 0; c < N; c++) {
			double fx = rx * c;
			int x0 = (int)floor(fx), x1 = (int)ceil(fx);
			static const uint8_t black[3];
			const uint8_t *tl, *tr, *bl, *br;
			double dx;

			if (x0 < 0)
				x0 = 0;
			if (x1 > pw - 1)
				x1 = pw - 1;
			dx = fx - x0;
			x0 -= padx;
			x1 -= padx;
#define PX(yy, xx)                                                             \
	((yy) >= 0 && (yy) < h && (xx) >= 0 && (xx) < w                        \
		 ? rgb + ((size_t)(yy) * (size_t)w + (size_t)(xx)) * 3         \
		 : black)
			tl = PX(y0, x0);
			tr = PX(y0, x1);
			bl = PX(y1, x0);
			br = PX(y1, x1);
#undef PX
			for (d = 0; d < 3; d++) {
				double top = tl[d] + (double)(tr[d] - tl[d]) * dx;
				double bot = bl[d] + (double)(br[d] - bl[d]) * dx;
				float v = (float)(top + (bot - top) * dy);

				in256[((size_t)r * N + (size_t)c) * 3 +
				      (size_t)d] = v / 127.5f - 1.0f;
			}
		}
	}
	map[0] = (float)pw / N;
	map[1] = (float)ph / N;
	map[2] = (float)padx;
	map[3] = (float)pady;
	return 0;
}

/* Anchor i's centre in model pixels: 16x16 cells of stride 16 with two
 * anchors each, then 8x8 cells of stride 32 with six. */
static void anchor(int i, float *ax, float *ay)
{
	int cell, stride, grid;

	if (i < NBIG) {
		cell = i / 2;
		stride = 16;
		grid = 16;
	} else {
		cell = (i - NBIG) / 6;
		stride = 32;
		grid = 8;
	}
	*ax = (float)stride * ((float)(cell % grid) + 0.5f);
	*ay = (float)stride * ((float)(cell / grid) + 0.5f);
}

struct cand {
	float score;
	int idx;
};

/* Best score first; equal scores keep the lower anchor first (TF.js). */
static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	return x->idx - y->idx;
}

/* TF.js's intersectionOverUnion, in double, boxes as x1, y1, x2, y2. */
static double iou(const float *a, const float *b)
{
	double ax0 = fmin(a[0], a[2]), ax1 = fmax(a[0], a[2]);
	double ay0 = fmin(a[1], a[3]), ay1 = fmax(a[1], a[3]);
	double bx0 = fmin(b[0], b[2]), bx1 = fmax(b[0], b[2]);
	double by0 = fmin(b[1], b[3]), by1 = fmax(b[1], b[3]);
	double aa = (ay1 - ay0) * (ax1 - ax0), ab = (by1 - by0) * (bx1 - bx0);
	double inter;

	if (aa <= 0 || ab <= 0)
		return 0;
	inter = fmax(fmin(ay1, by1) - fmax(ay0, by0), 0.0) *
		fmax(fmin(ax1, bx1) - fmax(ax0, bx0), 0.0);
	return inter / (aa + ab - inter);
}

/*
 * Decode the last run's outputs into faces in model pixels: box centre =
 * regressor offset + anchor, corners = centre -/+ size / 2 (float32, as
 * human's chain of TF.js ops rounds it: its divisions and products by 256
 * and 2 are exact), score = sigmoid(logit) in double stored as float32,
 * then hard NMS (a candidate overlapping a kept face with IoU >= 0.1 is
 * dropped), best first.
 */
static int decode(const struct px_ml_ctx *ctx, float min_score,
		  struct px_face *out, int max, int *n, struct px_errbuf *eb)
{
	float boxes[PX_FACE_ANCHORS][4];
	struct cand c[PX_FACE_ANCHORS];
	int kept[PX_FACE_ANCHORS];
	struct outs o;
	int i, j, nc = 0, nk = 0;

	*n = 0;
	if (!find_outputs(ctx, &o))
		return px_errf(eb, PX_EINTERNAL,
			       "the face model's outputs are not the "
			       "BlazeFace ones");
	for (i = 0; i < PX_FACE_ANCHORS; i++) {
		bool big = i < NBIG;
		float logit = big ? o.cls_big[i] : o.cls_small[i - NBIG];
		const float *reg = big ? o.reg_big + (size_t)i * NREG
				       : o.reg_small + (size_t)(i - NBIG) * NREG;
		float s = (float)(1.0 / (1.0 + exp(-(double)logit)));
		float ax, ay, cx, cy, hw, hh;

		if (!(s >= min_score))
			continue;
		anchor(i, &ax, &ay);
		cx = reg[0] + ax;
		cy = reg[1] + ay;
		hw = reg[2] / 2.0f;
		hh = reg[3] / 2.0f;
		boxes[i][0] = cx - hw;
		boxes[i][1] = cy - hh;
		boxes[i][2] = cx + hw;
		boxes[i][3] = cy + hh;
		c[nc].score = s;
		c[nc].idx = i;
		nc++;
	}
	qsort(c, (size_t)nc, sizeof(c[0]), cand_cmp);
	for (i = 0; i < nc && nk < max; i++) {
		const float *b = boxes[c[i].idx];

		for (j = nk - 1; j >= 0; j--)
			if (iou(b, boxes[kept[j]]) >= PX_FACE_IOU)
				break;
		if (j >= 0)
			continue;
		kept[nk] = c[i].idx;
		out[nk].x = b[0];
		out[nk].y = b[1];
		out[nk].w = b[2] - b[0];
		out[nk].h = b[3] - b[1];
		out[nk].score = c[i].score;
		nk++;
	}
	*n = nk;
	return 0;
}

static int run_model(struct px_ml_ctx *ctx, const float *in256,
	       struct px_errbuf *eb)
{
	size_t n0 = 0;
	float *o0;
	int rc;

	if (!px_ml_ctx_output(ctx, 0, &n0))
		return px_errf(eb, PX_EINTERNAL, "the face model has no output");
	o0 = malloc(n0 * sizeof(*o0));
	if (!o0)
		return PX_ENOMEM;
	rc = px_ml_run(ctx, in256, NPIX, o0, n0, eb);
	free(o0);
	return rc;
}

int px_face_detect_f32(struct px_ml_ctx *ctx, const float *in256,
		       float min_score, struct px_face *out, int max, int *n,
		       struct px_errbuf *eb)
{
	int rc;

	*n = 0;
	if (max < 0)
		return px_errf(eb, PX_EINVAL, "negative face count");
	rc = run_model(ctx, in256, eb);
	if (rc)
		return rc;
	return decode(ctx, min_score, out, max, n, eb);
}

int px_face_detect(struct px_ml_ctx *ctx, const uint8_t *rgb, int w, int h,
		   float min_score, struct px_face *out, int max, int *n,
		   struct px_errbuf *eb)
{
	float map[4], *in;
	int rc, i;

	*n = 0;
	in = malloc(NPIX * sizeof(*in));
	if (!in)
		return PX_ENOMEM;
	rc = px_face_prepare(rgb, w, h, in, map);
	if (rc) {
		rc = px_errf(eb, rc, "bad image size %dx%d", w, h);
		goto out;
	}
	rc = px_face_detect_f32(ctx, in, min_score, out, max, n, eb);
	if (rc)
		goto out;
	/* model pixels -> padded image pixels -> input pixels */
	for (i = 0; i < *n; i++) {
		out[i].x = out[i].x * map[0] - map[2];
		out[i].y = out[i].y * map[1] - map[3];
		out[i].w *= map[0];
		out[i].h *= map[1];
	}
out:
	free(in);
	return rc;
}
