/*
 * bench_face.c - time the BlazeFace detector on Pictor's engine.
 *
 * Usage: bench_face MODELS_DIR ITERATIONS FILE.rgb:W:H...
 * Each input is packed RGB (from tests/data/face/dump_rgb). Prints
 * key=value lines, per image, on one context with one OpenMP thread:
 * the model alone (px_ml_run on the prepared 256x256 input) and the whole
 * detector (px_face_detect: letterbox, resize, model, decoding, NMS), as
 * mean, median and minimum of wall time, and the mean CPU time of the
 * running thread. bench/face.sh builds and runs it.
 */
#include "core/common.h"
#include "ml/face.h"
#include "ml/ml.h"

#include <time.h>

#define NPIX (PX_FACE_SIZE * PX_FACE_SIZE * 3)

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* CPU time of the calling thread: what one run costs one core, less
 * inflated than wall time when other processes share the cores. */
static double cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *what, double *lat, int n)
{
	double sum = 0;
	int i;

	for (i = 0; i < n; i++)
		sum += lat[i];
	qsort(lat, (size_t)n, sizeof(*lat), cmp);
	printf("c_%s_ms_mean=%.3f\nc_%s_ms_median=%.3f\nc_%s_ms_min=%.3f\n",
	       what, sum / n, what, lat[n / 2], what, lat[0]);
}

int main(int argc, char **argv)
{
	struct px_ml_model *m = NULL;
	struct px_ml_ctx *c = NULL;
	struct px_errbuf eb = {0};
	struct px_face faces[PX_FACE_MAX];
	int iters, nimg, i, k, n, nf;
	double *lat_model, *lat_all, t, cpu_model = 0, cpu_all = 0, u;
	float *in, *out0, map[4];
	size_t n0 = 0;

	if (argc < 4) {
		fprintf(stderr, "usage: bench_face MODELS_DIR ITERATIONS FILE.rgb:W:H...\n");
		return 2;
	}
	iters = atoi(argv[2]);
	nimg = argc - 3;
	if (iters < 1)
		iters = 1;
	t = now_ms();
	if (px_face_open(argv[1], &m, &eb) || px_ml_ctx_new(m, &c, &eb)) {
		fprintf(stderr, "bench_face: %s\n", eb.msg);
		return 1;
	}
	printf("c_load_ms=%.1f\n", now_ms() - t);
	printf("c_model_flops=%.0f\n", px_ml_model_flops(m));
	in = malloc(NPIX * sizeof(*in));
	px_ml_ctx_output(c, 0, &n0);
	out0 = malloc(n0 * sizeof(*out0));
	lat_model = calloc((size_t)iters * (size_t)nimg, sizeof(double));
	lat_all = calloc((size_t)iters * (size_t)nimg, sizeof(double));
	for (k = 0; k < nimg; k++) {
		char path[4096];
		int w, h;
		size_t sz;
		uint8_t *rgb;
		FILE *f;

		if (sscanf(argv[3 + k], "%4095[^:]:%d:%d", path, &w, &h) != 3 ||
		    w < 1 || h < 1) {
			fprintf(stderr, "bench_face: bad input '%s'\n", argv[3 + k]);
			return 2;
		}
		sz = (size_t)w * (size_t)h * 3;
		rgb = malloc(sz);
		f = fopen(path, "rb");
		if (!f || fread(rgb, 1, sz, f) != sz) {
			fprintf(stderr, "bench_face: cannot read %s\n", path);
			return 1;
		}
		fclose(f);
		px_face_prepare(rgb, w, h, in, map);
		/* warm up both paths */
		for (i = 0; i < 3; i++) {
			px_ml_run(c, in, NPIX, out0, n0, &eb);
			px_face_detect(c, rgb, w, h, 0.2f, faces, PX_FACE_MAX, &nf,
				       &eb);
		}
		for (i = 0; i < iters; i++) {
			t = now_ms();
			u = cpu_ms();
			if (px_ml_run(c, in, NPIX, out0, n0, &eb)) {
				fprintf(stderr, "bench_face: %s\n", eb.msg);
				return 1;
			}
			cpu_model += cpu_ms() - u;
			lat_model[k * iters + i] = now_ms() - t;
		}
		for (i = 0; i < iters; i++) {
			t = now_ms();
			u = cpu_ms();
			if (px_face_detect(c, rgb, w, h, 0.2f, faces, PX_FACE_MAX,
					   &nf, &eb)) {
				fprintf(stderr, "bench_face: %s\n", eb.msg);
				return 1;
			}
			cpu_all += cpu_ms() - u;
			lat_all[k * iters + i] = now_ms() - t;
		}
		printf("c_faces_%d=%d\n", k, nf);
		free(rgb);
	}
	n = iters * nimg;
	printf("c_images=%d\nc_runs=%d\n", nimg, n);
	report("model", lat_model, n);
	report("detect", lat_all, n);
	printf("c_model_cpu_ms=%.3f\nc_detect_cpu_ms=%.3f\n", cpu_model / n,
	       cpu_all / n);
	free(lat_model);
	free(lat_all);
	free(in);
	free(out0);
	px_ml_ctx_free(c);
	px_ml_model_free(m);
	return 0;
}
