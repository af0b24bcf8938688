/*
 * fuzz_image_probe.c - libFuzzer target for the upload gate: sniff and
 * header probe under small limits, then the full decode of whatever the
 * probe accepts, then a tiny transform of small accepted images (crop,
 * colour conversion, encode), as an upload followed by a first delivery
 * would run them.
 *
 * Seeds: tests/fuzz/corpus/image_probe (small files from tests/data).
 */
#include "image/image.h"

static const struct px_image_limits lim = {
	.max_pixels = 4000000ULL,
	.max_side = 4096,
	.max_frames = 64,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool started;
	struct px_errbuf eb = {0};
	struct px_image_info info;
	struct px_xform x;
	struct px_buf out;

	if (!started) {
		if (px_image_init("fuzz_image_probe", &eb))
			abort();
		started = true;
	}
	(void)px_image_sniff(data, size);
	if (px_image_probe(data, size, &lim, &info, &eb))
		return 0;
	if (info.width <= 0 || info.height <= 0 || info.frames < 1)
		abort(); /* a probe that passes must describe an image */
	if (px_image_verify(data, size, &eb))
		return 0;
	if ((uint64_t)info.width * info.height * info.frames > 250000)
		return 0;
	px_xform_init(&x);
	x.width = 16;
	x.height = 12;
	x.fit = PX_FIT_COVER;
	x.format = info.frames > 1 ? PX_FMT_GIF : PX_FMT_PNG;
	px_buf_init(&out, 1 << 24);
	(void)px_image_transform(data, size, &x, &lim, &out, NULL, &eb);
	px_buf_release(&out);
	return 0;
}
