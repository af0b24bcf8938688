/*
 * hints.c - width=auto from client hints (see hints.h and
 * docs/RESPONSIVE.md).
 *
 * Width hints are in device pixels and used as they are; viewport hints
 * are in CSS pixels and multiplied by the DPR. The result is rounded up
 * to one of a few steps so that the result cache holds a handful of
 * entries per image and options, not one per device model.
 */
#include "delivery/hints.h"
#include "delivery/device.h"

#include <math.h>

static const char *names[PX_HINT_COUNT] = {
	"Sec-CH-Width", "Width", "Sec-CH-Viewport-Width", "Viewport-Width",
	"Sec-CH-DPR", "DPR", "Sec-CH-UA-Mobile", "User-Agent",
};

/*
 * Cloudflare's four width=auto sizes (320 mobile, 768 tablet, 960
 * desktop, 1200 large desktop) plus the common 1x/2x/3x screen widths
 * between and above them: neighbours differ by at most 1.5x, so a
 * response is never more than 1.5x the width asked for.
 */
const int px_width_steps[] = {320, 480, 640, 768, 960, 1200,
			      1440, 1920, 2560, 3840};
const size_t px_width_nsteps = PX_ARRAY_LEN(px_width_steps);

#define HINT_WIDTH_MAX 100000
#define HINT_DPR_MAX 10.0

const char *px_hint_name(enum px_hint h)
{
	return (unsigned)h < PX_HINT_COUNT ? names[h] : "";
}

int px_width_step(int w)
{
	for (size_t i = 0; i < px_width_nsteps; i++)
		if (w <= px_width_steps[i])
			return px_width_steps[i];
	return px_width_steps[px_width_nsteps - 1];
}

/* The value between optional spaces and tabs, as [*b, *e). */
static bool trimmed(const char *v, const char **b, const char **e)
{
	if (!v)
		return false;
	while (*v == ' ' || *v == '\t')
		v++;
	*b = v;
	*e = v + strlen(v);
	while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
		(*e)--;
	return *e > *b;
}

bool px_hint_parse_width(const char *v, int *out)
{
	const char *b, *e;
	long n = 0;

	if (!trimmed(v, &b, &e))
		return false;
	for (const char *p = b; p < e; p++) {
		if (*p < '0' || *p > '9')
			return false;
		n = n * 10 + (*p - '0');
		if (n > HINT_WIDTH_MAX)
			return false;
	}
	if (n < 1)
		return false;
	*out = (int)n;
	return true;
}

bool px_hint_parse_dpr(const char *v, double *out)
{
	const char *b, *e;
	double d = 0, scale = 1;
	bool dot = false, digits = false;

	if (!trimmed(v, &b, &e))
		return false;
	/* A structured-field decimal: digits, optionally "." and digits. */
	for (const char *p = b; p < e; p++) {
		if (*p == '.' && !dot && digits) {
			dot = true;
			continue;
		}
		if (*p < '0' || *p > '9' || (p - b) > 16)
			return false;
		digits = true;
		if (dot) {
			scale /= 10;
			d += (*p - '0') * scale;
		} else {
			d = d * 10 + (*p - '0');
		}
	}
	if (!digits || e[-1] == '.' || d <= 0 || d > HINT_DPR_MAX)
		return false;
	*out = d;
	return true;
}

/* The first usable width among hints a and b; both are consulted until
 * one is usable. */
static bool pick_width(const char *const hint[], enum px_hint a,
		       enum px_hint b, unsigned *vary, int *w)
{
	*vary |= 1u << a;
	if (px_hint_parse_width(hint[a], w))
		return true;
	*vary |= 1u << b;
	return px_hint_parse_width(hint[b], w);
}

void px_hints_auto_width(const char *const hint[PX_HINT_COUNT], int original,
			 struct px_auto_width *out)
{
	int w;

	memset(out, 0, sizeof(*out));
	out->dpr = 1;
	if (pick_width(hint, PX_HINT_SEC_CH_WIDTH, PX_HINT_WIDTH, &out->vary,
		       &w)) {
		out->source = PX_AUTO_FROM_WIDTH;
		out->wanted = w;
	} else if (pick_width(hint, PX_HINT_SEC_CH_VIEWPORT_WIDTH,
			      PX_HINT_VIEWPORT_WIDTH, &out->vary, &w)) {
		double dpr = 1;

		out->vary |= 1u << PX_HINT_SEC_CH_DPR;
		if (!px_hint_parse_dpr(hint[PX_HINT_SEC_CH_DPR], &dpr)) {
			out->vary |= 1u << PX_HINT_DPR;
			if (!px_hint_parse_dpr(hint[PX_HINT_DPR], &dpr))
				dpr = 1;
		}
		out->source = PX_AUTO_FROM_VIEWPORT;
		out->dpr = dpr;
		/* a device pixel partly covered still needs an image pixel */
		out->wanted = (int)PX_MIN(ceil(w * dpr - 1e-9),
					  (double)HINT_WIDTH_MAX);
	} else {
		/* Cloudflare's sizes by device type, as without hints */
		bool used_ua;

		out->source = PX_AUTO_FROM_DEVICE;
		out->device = px_device_classify(hint[PX_HINT_SEC_CH_UA_MOBILE],
						 hint[PX_HINT_USER_AGENT],
						 &used_ua);
		out->vary |= 1u << PX_HINT_SEC_CH_UA_MOBILE;
		if (used_ua)
			out->vary |= 1u << PX_HINT_USER_AGENT;
	}
	out->width = px_width_step(out->wanted ? out->wanted
					       : px_device_auto_width(out->device));
	if (original > 0 && out->width > original)
		out->width = original;
}

void px_hints_vary(unsigned vary, char *out, size_t size)
{
	size_t n = 0;

	if (!size)
		return;
	out[0] = '\0';
	for (int i = 0; i < PX_HINT_COUNT; i++) {
		if (!(vary & (1u << i)))
			continue;
		n += (size_t)snprintf(out + PX_MIN(n, size - 1),
				      size - PX_MIN(n, size - 1), "%s%s",
				      n ? ", " : "", names[i]);
	}
}
