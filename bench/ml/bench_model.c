/*
 * bench_model.c - time the nsfwjs model on Pictor's engine.
 *
 * Usage: bench_model MODELS_DIR INPUT_DIR ITERATIONS
 * INPUT_DIR holds 224x224 packed RGB files (*.rgb). Prints key=value lines:
 * single-threaded latency per image over every input (one context, one
 * OpenMP thread), the throughput of two workers sharing the model, load
 * time, and memory: the loaded model's resident set growth next to the
 * float32 size of its weights. bench/ml/run.sh builds and runs it.
 */
#include "core/common.h"
#include "ml/ml.h"
#include "ml/nsfw.h"

#include <dirent.h>
#include <malloc.h>
#include <time.h>

#define NPIX (224 * 224 * 3)

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Resident set size in bytes, from /proc/self/statm. */
static size_t rss(void)
{
	unsigned long pages = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%lu %lu", &pages, &res) != 2)
			res = 0;
		fclose(f);
	}
	return res * 4096;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct px_ml_model *m = NULL;
	struct px_ml_ctx *c = NULL;
	struct px_errbuf eb = {0};
	uint8_t *imgs = NULL;
	double *lat = NULL, t0, load_ms, ms2;
	size_t rss0, rss1, rss2, rss_load;
	int nimg = 0, iters, i, k, n;
	struct dirent *de;
	float s[5];
	DIR *d;

	if (argc != 4) {
		fprintf(stderr, "usage: %s MODELS_DIR INPUT_DIR ITERATIONS\n",
			argv[0]);
		return 2;
	}
	iters = atoi(argv[3]);
	if (iters < 1)
		iters = 1;
	d = opendir(argv[2]);
	if (!d) {
		perror(argv[2]);
		return 1;
	}
	while ((de = readdir(d))) {
		char path[4096];
		FILE *f;
		size_t len = strlen(de->d_name);

		if (len < 5 || strcmp(de->d_name + len - 4, ".rgb"))
			continue;
		imgs = realloc(imgs, (size_t)(nimg + 1) * NPIX);
		snprintf(path, sizeof(path), "%s/%s", argv[2], de->d_name);
		f = fopen(path, "rb");
		if (!imgs || !f ||
		    fread(imgs + (size_t)nimg * NPIX, 1, NPIX, f) != NPIX) {
			fprintf(stderr, "cannot read %s\n", path);
			return 1;
		}
		fclose(f);
		nimg++;
	}
	closedir(d);
	if (!nimg) {
		fprintf(stderr, "no .rgb inputs in %s\n", argv[2]);
		return 1;
	}

	rss0 = rss();
	t0 = now_ms();
	if (px_nsfw_open(argv[1], &m, &eb)) {
		fprintf(stderr, "load: %s\n", eb.msg);
		return 1;
	}
	load_ms = now_ms() - t0;
	rss_load = rss() - rss0;
	/* what stays once the allocator hands back load-time garbage */
	malloc_trim(0);
	printf("rss_model_load_trimmed_bytes=%zu\n", rss() - rss0);
	rss1 = rss();
	if (px_ml_ctx_new(m, &c, &eb) || px_nsfw_scores(c, imgs, s, &eb)) {
		fprintf(stderr, "run: %s\n", eb.msg);
		return 1;
	}
	rss2 = rss();

	/* warm every input once, then time iters passes over all of them */
	for (k = 0; k < nimg; k++)
		px_nsfw_scores(c, imgs + (size_t)k * NPIX, s, &eb);
	n = iters * nimg;
	lat = malloc((size_t)n * sizeof(*lat));
	if (!lat)
		return 1;
	for (i = 0; i < n; i++) {
		t0 = now_ms();
		if (px_nsfw_scores(c, imgs + (size_t)(i % nimg) * NPIX, s,
				   &eb)) {
			fprintf(stderr, "run: %s\n", eb.msg);
			return 1;
		}
		lat[i] = now_ms() - t0;
	}
	qsort(lat, (size_t)n, sizeof(*lat), cmp);
	{
		double sum = 0;

		for (i = 0; i < n; i++)
			sum += lat[i];
		printf("c_images=%d\nc_runs=%d\n", nimg, n);
		printf("c_ms_per_image_mean=%.3f\n", sum / n);
		printf("c_ms_per_image_median=%.3f\n", lat[n / 2]);
		printf("c_ms_per_image_min=%.3f\n", lat[0]);
		printf("c_ms_per_image_p90=%.3f\n", lat[n * 9 / 10]);
	}
	if (px_ml_bench(m, PX_MAX(iters * nimg / 2, 10), 2, &ms2, &eb)) {
		fprintf(stderr, "bench: %s\n", eb.msg);
		return 1;
	}
	printf("c_ms_per_image_2workers=%.3f\n", ms2);
	{
		/* one worker with two OpenMP threads, for comparison */
		struct px_ml_opts o;
		struct px_ml_model *m2 = NULL;
		char dir[4096];

		px_ml_opts_init(&o);
		o.nthreads = 2;
		snprintf(dir, sizeof(dir), "%s/%s", argv[1], PX_NSFW_MODEL);
		malloc_trim(0);
		rss1 = rss();
		if (px_ml_model_load(dir, &o, &m2, &eb)) {
			fprintf(stderr, "load: %s\n", eb.msg);
			return 1;
		}
		/* a second model: oneDNN's one-time costs are paid already */
		malloc_trim(0);
		printf("rss_second_model_load_bytes=%zu\n", rss() - rss1);
		if (
		    px_ml_bench(m2, PX_MAX(iters * nimg / 2, 10), 1, &ms2,
				&eb)) {
			fprintf(stderr, "bench: %s\n", eb.msg);
			return 1;
		}
		printf("c_ms_per_image_1worker_2threads=%.3f\n", ms2);
		px_ml_model_free(m2);
	}
	printf("c_load_ms=%.1f\n", load_ms);
	printf("c_steps=%d\n", px_ml_model_nsteps(m));
	printf("model_gflop=%.3f\n", px_ml_model_flops(m) / 1e9);
	printf("weights_f32_bytes=%zu\n", px_ml_model_weight_bytes(m));
	printf("model_resident_bytes=%zu\n", px_ml_model_resident_bytes(m));
	printf("rss_model_load_bytes=%zu\n", rss_load);
	printf("ctx_arena_bytes=%zu\n", px_ml_model_arena_bytes(m));
	printf("rss_ctx_first_run_bytes=%zu\n", rss2 > rss1 ? rss2 - rss1 : 0);
	px_ml_ctx_free(c);
	px_ml_model_free(m);
	free(lat);
	free(imgs);
	return 0;
}
