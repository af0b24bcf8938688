/*
 * fuzz_hints.c - libFuzzer target for the client-hint values width=auto
 * reads and the device classifier. The input is split at '\n' into up to
 * eight header values (width hints, Sec-CH-UA-Mobile, User-Agent), in
 * the order of enum px_hint (an empty line is an absent header).
 * Oracle: the width is a step or the original's width, never above the
 * original; a parsed width or DPR is in its documented range; the
 * device class is one of the three.
 */
#include "delivery/hints.h"
#include "delivery/device.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *hint[PX_HINT_COUNT] = {0};
	struct px_auto_width aw;
	char *text, *p, vary[160];
	int original, n = 0, w;
	double d;
	bool step = false;

	if (size < 2)
		return 0;
	original = 1 + ((data[0] << 8 | data[1]) % 9000);
	text = malloc(size - 1);
	if (!text)
		return 0;
	memcpy(text, data + 2, size - 2);
	text[size - 2] = '\0';
	for (p = text; p && n < PX_HINT_COUNT; n++) {
		char *nl = strchr(p, '\n');

		if (nl)
			*nl = '\0';
		hint[n] = *p ? p : NULL;
		p = nl ? nl + 1 : NULL;
	}
	for (int i = 0; i < PX_HINT_COUNT; i++) {
		if (px_hint_parse_width(hint[i], &w) && (w < 1 || w > 100000))
			abort();
		if (px_hint_parse_dpr(hint[i], &d) && !(d > 0 && d <= 10))
			abort();
	}
	px_hints_auto_width(hint, original, &aw);
	if ((unsigned)px_device_from_ua(hint[PX_HINT_USER_AGENT]) >= PX_DEVICE_COUNT)
		abort();
	for (size_t i = 0; i < px_width_nsteps; i++)
		step |= aw.width == px_width_steps[i];
	if (aw.width < 1 || aw.width > original || (!step && aw.width != original))
		abort();
	px_hints_vary(aw.vary, vary, sizeof(vary));
	if (strlen(vary) >= sizeof(vary))
		abort();
	free(text);
	return 0;
}
