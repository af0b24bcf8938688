/*
 * dump_rgb.c - decode images to packed 8-bit RGB exactly as Pictor does
 * (px_image_rgb_full), for make-golden.sh: `dump_rgb OUTDIR FILE...`
 * writes OUTDIR/<basename>.rgb and prints "<basename> <w> <h>" per file.
 */
#include "core/common.h"
#include "core/buf.h"
#include "image/image.h"

#include <libgen.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	struct px_errbuf eb = {0};
	int i;

	if (argc < 3 || px_image_init(argv[0], &eb)) {
		fprintf(stderr, "usage: dump_rgb OUTDIR FILE... %s\n", eb.msg);
		return 2;
	}
	for (i = 2; i < argc; i++) {
		struct px_buf in, out;
		char chunk[65536], path[4096], *base;
		FILE *f = fopen(argv[i], "rb");
		size_t n;
		int w, h;

		if (!f) {
			perror(argv[i]);
			return 1;
		}
		px_buf_init(&in, 0);
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			px_buf_add(&in, chunk, n);
		fclose(f);
		px_buf_init(&out, (size_t)1 << 30);
		if (px_image_rgb_full(in.data, in.len, NULL, &out, &w, &h,
				      &eb)) {
			fprintf(stderr, "%s: %s\n", argv[i], eb.msg);
			return 1;
		}
		base = basename(argv[i]);
		snprintf(path, sizeof(path), "%s/%s.rgb", argv[1], base);
		f = fopen(path, "wb");
		if (!f || fwrite(out.data, 1, out.len, f) != out.len ||
		    fclose(f)) {
			perror(path);
			return 1;
		}
		printf("%s %d %d\n", base, w, h);
		px_buf_release(&in);
		px_buf_release(&out);
	}
	px_image_shutdown();
	return 0;
}
