/*
 * fuzz_image_probe.c - libFuzzer target for the upload gate: sniff and
 * header probe under small limits, then the full decode of whatever the
 * probe accepts, then small transforms of small accepted images, as an
 * upload followed by first deliveries would run them: a crop with colour
 * conversion and encode, and one with the pre- and post-resize operations
 * (trim=border, flip, rotate, blur, colour factors, border) whose output
 * must be what px_image_describe() announced.
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
	struct px_image_info info, din, dout, oi;
	struct px_xform x;
	struct px_buf out;
	uint8_t k;

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

	/* The new operations, chosen by the input's last byte so that the
	 * fuzzer reaches every combination. */
	k = size ? data[size - 1] : 0;
	px_xform_init(&x);
	x.width = 8 + k % 24;
	x.fit = (enum px_fit)(k % 6);
	x.height = k & 1 ? 10 : 0;
	x.format = k & 2 ? PX_FMT_WEBP : PX_FMT_JPEG;
	x.trim_border = k & 4;
	x.trim_tolerance = k % 40;
	x.trim_keep = k % 3;
	x.trim[0] = k % 5;
	x.trim[3] = k % 7;
	x.flip_h = k & 8;
	x.flip_v = k & 16;
	x.rotate = 90 * (k % 4);
	x.blur = k & 32 ? 3 : 0;
	x.sharpen = k & 64 ? 2 : 0;
	x.saturation = (k % 3) / 2.0;
	x.gamma = k & 128 ? 0.5 : 1;
	x.border[k % 4] = 1 + k % 3;
	x.border_color[3] = k & 1 ? 255 : 0;
	x.background[3] = k & 2 ? 0 : 255;
	x.max_output = 64;
	px_buf_init(&out, 1 << 24);
	if (!px_image_transform(data, size, &x, &lim, &out, &oi, &eb)) {
		/* format=json must announce exactly what was made */
		if (px_image_describe(data, size, &x, &lim, &din, &dout, &eb) ||
		    dout.width != oi.width || dout.height != oi.height ||
		    dout.frames != oi.frames || dout.has_alpha != oi.has_alpha ||
		    oi.width > 64 || oi.height > 64)
			abort();
	}
	px_buf_release(&out);
	return 0;
}
