/*
 * nsfw.c - the nsfwjs classifier: model checks, input scaling, and the
 * nsfwjs-compatible bilinear resize.
 */
#include "ml/nsfw.h"

#include <math.h>

#define NPIX (PX_NSFW_SIZE * PX_NSFW_SIZE * 3)

static const char *const classes[PX_NSFW_CLASSES] = {
	"Drawing", "Hentai", "Neutral", "Porn", "Sexy",
};

const char *px_nsfw_class_name(int i)
{
	return i >= 0 && i < PX_NSFW_CLASSES ? classes[i] : "?";
}

bool px_nsfw_locate(const char *models_dir, char *dir, size_t n)
{
	return px_ml_locate(models_dir, PX_NSFW_MODEL, dir, n);
}

int px_nsfw_open(const char *models_dir, struct px_ml_model **out,
		 struct px_errbuf *eb)
{
	struct px_ml_model *m = NULL;
	int64_t d[PX_ML_MAX_RANK];
	char dir[4096];
	int rc;

	*out = NULL;
	rc = px_ml_model_find(models_dir, PX_NSFW_MODEL, "classifier model", dir,
			      sizeof(dir), &m, eb);
	if (rc)
		return rc;
	if (px_ml_model_input_shape(m, d) != 4 || d[0] != 1 ||
	    d[1] != PX_NSFW_SIZE || d[2] != PX_NSFW_SIZE || d[3] != 3 ||
	    px_ml_model_output_size(m, 0) != PX_NSFW_CLASSES) {
		px_ml_model_free(m);
		return px_errf(eb, PX_EINVAL,
			       "'%s' is not the nsfwjs classifier (input "
			       "must be 1x224x224x3, output 5 classes)",
			       dir);
	}
	*out = m;
	return 0;
}

int px_nsfw_scores_f32(struct px_ml_ctx *ctx, const float *in224,
		       float scores[PX_NSFW_CLASSES], struct px_errbuf *eb)
{
	return px_ml_run(ctx, in224, NPIX, scores, PX_NSFW_CLASSES, eb);
}

int px_nsfw_scores(struct px_ml_ctx *ctx, const uint8_t *rgb224,
		   float scores[PX_NSFW_CLASSES], struct px_errbuf *eb)
{
	float *in = malloc(NPIX * sizeof(*in));
	size_t i;
	int rc;

	if (!in)
		return PX_ENOMEM;
	/* TF.js divides in float32: correctly rounded v / 255 */
	for (i = 0; i < NPIX; i++)
		in[i] = (float)rgb224[i] / 255.0f;
	rc = px_nsfw_scores_f32(ctx, in, scores, eb);
	free(in);
	return rc;
}

/*
 * TF.js's CPU resizeBilinear with alignCorners and no half-pixel centres:
 * source = out_index * (in-1)/(out-1), corners floor/ceil clamped to the
 * image, lerp along x on both rows then along y, in double, stored as
 * float32, on inputs already divided by 255 in float32.
 */
int px_nsfw_resize_bilinear_aligned(const uint8_t *rgb, int w, int h,
				    float *out224)
{
	const int n = PX_NSFW_SIZE;
	double ry, rx;
	int r, c, d;

	if (w < 1 || h < 1 || w > 65535 || h > 65535)
		return PX_EINVAL;
	ry = (double)(h - 1) / (n - 1);
	rx = (double)(w - 1) / (n - 1);
	for (r = 0; r < n; r++) {
		double fy = ry * r;
		int y0 = (int)floor(fy), y1 = (int)ceil(fy);
		double dy;

		if (y0 < 0)
			y0 = 0;
		if (y1 > h - 1)
			y1 = h - 1;
		dy = fy - y0;
		for (c = 0; c < n; c++) {
			double fx = rx * c;
			int x0 = (int)floor(fx), x1 = (int)ceil(fx);
			const uint8_t *tl, *tr, *bl, *br;
			double dx;

			if (x0 < 0)
				x0 = 0;
			if (x1 > w - 1)
				x1 = w - 1;
			dx = fx - x0;
			tl = rgb + ((size_t)y0 * (size_t)w + (size_t)x0) * 3;
			tr = rgb + ((size_t)y0 * (size_t)w + (size_t)x1) * 3;
			bl = rgb + ((size_t)y1 * (size_t)w + (size_t)x0) * 3;
			br = rgb + ((size_t)y1 * (size_t)w + (size_t)x1) * 3;
			for (d = 0; d < 3; d++) {
				double a = (float)tl[d] / 255.0f;
				double b = (float)tr[d] / 255.0f;
				double e = (float)bl[d] / 255.0f;
				double f = (float)br[d] / 255.0f;
				double top = a + (b - a) * dx;
				double bot = e + (f - e) * dx;

				out224[((size_t)r * n + (size_t)c) * 3 +
				       (size_t)d] = (float)(top + (bot - top) * dy);
			}
		}
	}
	return 0;
}
