/*
 * inproc.c - the in-process peer of the delivery benchmark.
 *
 * Runs the same decode-resize-encode as Pictor's workers (px_image_transform
 * on the same libvips build, same options) on N threads for a fixed time,
 * with no HTTP and no storage, and prints requests per second. bench/run.sh
 * divides Pictor's HTTP throughput by this figure.
 *
 * usage: inproc SECONDS THREADS FILE...
 */
#include "core/buf.h"
#include "core/pool.h"
#include "image/image.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

struct input {
	unsigned char *data;
	size_t n;
};

static struct input *inputs;
static int ninputs;
static double seconds;
static atomic_long done, failed;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The same mix as bench/run.sh asks Pictor for: every (image, width)
 * pair in turn, widths 320/640/1280, as WebP (the Accept header the load
 * generator sends). Each thread starts at a different pair. */
static void *worker(void *arg)
{
	static const int widths[] = {320, 640, 1280};
	struct px_image_limits lim = {100000000, 16384, 500};
	long k = (long)(uintptr_t)arg * 7919;
	double end = now() + seconds;

	while (now() < end) {
		struct px_xform x;
		struct px_buf out;
		struct px_errbuf eb = {0};
		long pair = ++k % (ninputs * 3);
		int i = (int)(pair % ninputs);

		px_xform_init(&x);
		x.width = widths[pair / ninputs];
		x.format = PX_FMT_WEBP;
		px_buf_init(&out, 0);
		if (px_image_transform(inputs[i].data, inputs[i].n, &x, &lim, &out,
				       NULL, &eb))
			atomic_fetch_add(&failed, 1);
		else
			atomic_fetch_add(&done, 1);
		px_buf_release(&out);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct px_errbuf eb = {0};
	pthread_t th[64];
	int nthreads;
	double t0;

	if (argc < 4) {
		fprintf(stderr, "usage: inproc SECONDS THREADS FILE...\n");
		return 2;
	}
	seconds = atof(argv[1]);
	nthreads = atoi(argv[2]);
	if (nthreads < 1 || nthreads > 64)
		return 2;
	if (px_image_init(argv[0], &eb)) {
		fprintf(stderr, "inproc: %s\n", eb.msg);
		return 1;
	}
	ninputs = argc - 3;
	inputs = calloc((size_t)ninputs, sizeof(*inputs));
	for (int i = 0; i < ninputs; i++) {
		FILE *f = fopen(argv[3 + i], "rb");
		struct px_buf b;
		char chunk[65536];
		size_t n;

		if (!f) {
			perror(argv[3 + i]);
			return 1;
		}
		px_buf_init(&b, 0);
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			px_buf_add(&b, chunk, n);
		fclose(f);
		inputs[i].data = px_buf_detach(&b, &inputs[i].n);
	}
	t0 = now();
	for (int i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)(i + 1));
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	printf("inproc: %.1f req/s (%ld done, %ld failed, %d threads, %.1f s)\n",
	       (double)atomic_load(&done) / (now() - t0), atomic_load(&done),
	       atomic_load(&failed), nthreads, now() - t0);
	return 0;
}
