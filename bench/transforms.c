/*
 * transforms.c - the encoder settings of docs/TRANSFORMS.md, measured.
 *
 * For each photo: decode and resize once (vips_thumbnail, as the
 * transform does) to each width asked for, hold the pixels in memory,
 * then encode them with every setting src/image/image.c chooses between
 * (AVIF effort 0-4, WebP effort 0-6, JPEG baseline/progressive/fast,
 * PNG levels) RUNS times. Prints the median wall time, the median CPU
 * time (the encoders may use threads of their own) and the bytes.
 *
 * A benchmark, not part of the server: it calls libvips directly with the
 * very arguments of image.c's save(), so that only the encoder is timed.
 *
 * usage: transforms [-r RUNS] [-w WIDTH,...] [-f avif,webp,jpeg,png,gif] FILE...
 */
#include <vips/vips.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

enum kind { K_AVIF, K_WEBP, K_JPEG, K_PNG, K_GIF };

struct setting {
	enum kind kind;
	const char *zName;
	int effort; /* AVIF/WebP effort, PNG compression, GIF effort */
	int flags;  /* JPEG: 1 progressive, 2 optimize; PNG: filters */
};

static const struct setting aSet[] = {
	{K_AVIF, "avif effort 0", 0, 0},   {K_AVIF, "avif effort 1", 1, 0},
	{K_AVIF, "avif effort 2", 2, 0},   {K_AVIF, "avif effort 3", 3, 0},
	{K_AVIF, "avif effort 4", 4, 0},   {K_WEBP, "webp effort 0", 0, 0},
	{K_WEBP, "webp effort 1", 1, 0},   {K_WEBP, "webp effort 2", 2, 0},
	{K_WEBP, "webp effort 3", 3, 0},   {K_WEBP, "webp effort 4", 4, 0},
	{K_WEBP, "webp effort 5", 5, 0},   {K_WEBP, "webp effort 6", 6, 0},
	{K_JPEG, "jpeg baseline (fast)", 0, 0},
	{K_JPEG, "jpeg baseline optimised", 0, 2},
	{K_JPEG, "jpeg progressive", 0, 3},
	{K_PNG, "png level 1 (fast)", 1, 0},
	{K_PNG, "png level 6", 6, 0},
	{K_PNG, "png level 6 filter sub", 6, 2},
	{K_PNG, "png level 6 filter paeth", 6, 3},
	{K_PNG, "png level 6 filter all", 6, 1},
	{K_GIF, "gif effort 1 (fast)", 1, 0},
	{K_GIF, "gif effort 4", 4, 0},
	{K_GIF, "gif effort 7", 7, 0},
};

static int encode(VipsImage *im, const struct setting *s, void **buf,
		  size_t *len)
{
	switch (s->kind) {
	case K_AVIF:
		return vips_heifsave_buffer(
			im, buf, len, "Q", 50, "compression",
			VIPS_FOREIGN_HEIF_COMPRESSION_AV1, "effort", s->effort,
			"bitdepth", 8, "subsample_mode",
			VIPS_FOREIGN_SUBSAMPLE_AUTO, "strip", TRUE, NULL);
	case K_WEBP:
		return vips_webpsave_buffer(im, buf, len, "Q", 80, "effort",
					    s->effort, "strip", TRUE, NULL);
	case K_JPEG:
		return vips_jpegsave_buffer(
			im, buf, len, "Q", 85, "interlace", (s->flags & 1) != 0,
			"optimize_coding", (s->flags & 2) != 0,
			"subsample_mode", VIPS_FOREIGN_SUBSAMPLE_AUTO, "strip",
			TRUE, NULL);
	case K_PNG:
		return vips_pngsave_buffer(
			im, buf, len, "compression", s->effort, "filter",
			s->flags == 1	? VIPS_FOREIGN_PNG_FILTER_ALL
			: s->flags == 2 ? VIPS_FOREIGN_PNG_FILTER_SUB
			: s->flags == 3 ? VIPS_FOREIGN_PNG_FILTER_PAETH
					: VIPS_FOREIGN_PNG_FILTER_NONE,
			"strip", TRUE, NULL);
	case K_GIF:
		return vips_gifsave_buffer(im, buf, len, "effort", s->effort,
					   "strip", TRUE, NULL);
	}
	return -1;
}

static bool wanted(const char *zKinds, enum kind k)
{
	static const char *aName[] = {"avif", "webp", "jpeg", "png", "gif"};

	return !zKinds || strstr(zKinds, aName[k]) != NULL;
}

int main(int argc, char **argv)
{
	const char *zWidths = "1280", *zKinds = NULL;
	int runs = 3, i;

	if (VIPS_INIT(argv[0]))
		vips_error_exit(NULL);
	/* as the server runs a pipeline: one libvips worker */
	vips_concurrency_set(1);
	vips_cache_set_max(0);
	for (i = 1; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "-r") == 0)
			runs = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "-w") == 0)
			zWidths = argv[i + 1];
		else if (strcmp(argv[i], "-f") == 0)
			zKinds = argv[i + 1];
	}
	if (i >= argc || runs < 1 || runs > 50) {
		fprintf(stderr, "usage: transforms [-r RUNS] [-w W,...] "
				"[-f avif,webp,...] FILE...\n");
		return 2;
	}
	printf("%-28s %-6s %-24s %9s %9s %9s\n", "file", "size", "setting",
	       "wall ms", "cpu ms", "bytes");
	for (; i < argc; i++) {
		const char *zBase = strrchr(argv[i], '/');
		char *zW = g_strdup(zWidths), *zSave = NULL;

		zBase = zBase ? zBase + 1 : argv[i];
		for (char *w = strtok_r(zW, ",", &zSave); w;
		     w = strtok_r(NULL, ",", &zSave)) {
			VipsImage *t, *im;
			char zSize[32];

			if (vips_thumbnail(argv[i], &t, atoi(w), NULL))
				vips_error_exit(NULL);
			if (!(im = vips_image_copy_memory(t)))
				vips_error_exit(NULL);
			g_object_unref(t);
			snprintf(zSize, sizeof(zSize), "%dx%d", im->Xsize,
				 im->Ysize);
			for (size_t k = 0; k < sizeof(aSet) / sizeof(aSet[0]);
			     k++) {
				double aWall[50], aCpu[50];
				size_t len = 0;

				if (!wanted(zKinds, aSet[k].kind))
					continue;
				for (int r = 0; r < runs; r++) {
					double w0 = clock_s(CLOCK_MONOTONIC);
					double c0 = clock_s(
						CLOCK_PROCESS_CPUTIME_ID);
					void *buf = NULL;

					if (encode(im, &aSet[k], &buf, &len))
						vips_error_exit(NULL);
					aWall[r] = clock_s(CLOCK_MONOTONIC) - w0;
					aCpu[r] = clock_s(
						CLOCK_PROCESS_CPUTIME_ID) - c0;
					g_free(buf);
				}
				qsort(aWall, runs, sizeof(double), cmp);
				qsort(aCpu, runs, sizeof(double), cmp);
				printf("%-28s %-6s %-24s %9.1f %9.1f %9zu\n",
				       zBase, zSize, aSet[k].zName,
				       aWall[runs / 2] * 1e3,
				       aCpu[runs / 2] * 1e3, len);
				fflush(stdout);
			}
			g_object_unref(im);
		}
		g_free(zW);
	}
	vips_shutdown();
	return 0;
}
