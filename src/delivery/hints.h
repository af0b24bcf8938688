/*
 * hints.h - width=auto: an output width chosen from the request's client
 * hints, as Cloudflare's width=auto chooses it.
 *
 * Pure functions over header values; the delivery path reads the headers,
 * calls px_hints_auto_width() and puts the result in the ETag and the
 * result-cache key (the URL, and so its signature, keeps "width=auto").
 * docs/RESPONSIVE.md gives the rules, the width steps and why.
 */
#ifndef PX_HINTS_H
#define PX_HINTS_H

#include "core/common.h"

/* The hint headers, in the order they are consulted. */
enum px_hint {
	PX_HINT_SEC_CH_WIDTH = 0, /* device px */
	PX_HINT_WIDTH,            /* device px (legacy name) */
	PX_HINT_SEC_CH_VIEWPORT_WIDTH, /* CSS px */
	PX_HINT_VIEWPORT_WIDTH,   /* CSS px (legacy name) */
	PX_HINT_SEC_CH_DPR,
	PX_HINT_DPR,
	PX_HINT_SEC_CH_UA_MOBILE, /* the device class (delivery/device.h) */
	PX_HINT_USER_AGENT,       /* the device class without the hint */
	PX_HINT_COUNT,
};

/* Header name of a hint ("Sec-CH-Width", ...). */
const char *px_hint_name(enum px_hint h);

/* What browsers are asked to send, and which of those to retry without. */
#define PX_HINTS_ACCEPT_CH "Sec-CH-DPR, Sec-CH-Width, Sec-CH-Viewport-Width"
#define PX_HINTS_CRITICAL_CH "Sec-CH-DPR, Sec-CH-Viewport-Width"

/* Widths width=auto rounds up to, ascending. */
extern const int px_width_steps[];
extern const size_t px_width_nsteps;

/* The smallest step >= w; the largest step for anything above it. */
int px_width_step(int w);

/* Where an automatic width came from. */
enum px_auto_source {
	PX_AUTO_FROM_WIDTH,    /* Sec-CH-Width or Width */
	PX_AUTO_FROM_VIEWPORT, /* a viewport width times the DPR */
	PX_AUTO_FROM_DEVICE,   /* no usable width hint: the device class */
};

struct px_auto_width {
	int width;  /* the output width: a step, or the original's width */
	int wanted; /* device pixels the hints asked for (0 without a width hint) */
	double dpr; /* the DPR applied (1 unless a viewport width was used) */
	enum px_auto_source source;
	int device; /* enum px_device, for PX_AUTO_FROM_DEVICE */
	unsigned vary; /* bit (1 << enum px_hint) per header consulted */
};

/*
 * Choose the width for width=auto. hint[i] is the value of header i, or
 * NULL when absent (borrowed). A width hint wins over a viewport hint;
 * within each pair the Sec-CH- name wins; a malformed value counts as
 * absent. A viewport width is multiplied by the DPR (1 when no usable
 * DPR hint). With no usable width or viewport hint the width is the
 * device class's (px_device_auto_width()). The result is rounded up to a step and never exceeds
 * original (> 0), the image's width. Never fails.
 */
void px_hints_auto_width(const char *const hint[PX_HINT_COUNT], int original,
			 struct px_auto_width *out);

/* "Sec-CH-Width, Width" for the bits in vary; "" for none. Truncates to
 * size (always terminated). */
void px_hints_vary(unsigned vary, char *out, size_t size);

/* Parse a hint value: a width (integer 1-100000) or a DPR (decimal,
 * 0 < dpr <= 10), with optional surrounding spaces. false if malformed. */
bool px_hint_parse_width(const char *v, int *out);
bool px_hint_parse_dpr(const char *v, double *out);

#endif
