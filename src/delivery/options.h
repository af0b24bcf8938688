/*
 * options.h - delivery options written as Cloudflare writes them
 * ("w=400,h=300,fit=cover,q=75,f=auto"), parsed, validated and put in a
 * canonical form so that option order, aliases and defaults never change
 * the cache key or the ETag.
 */
#ifndef PX_OPTIONS_H
#define PX_OPTIONS_H

#include "core/buf.h"
#include "image/image.h"

#define PX_OPT_MAX_SIDE 8192

/* Output format choice before negotiation. */
enum px_out {
	PX_OUT_ORIGINAL = 0, /* no f=: keep the original's format if we can */
	PX_OUT_AUTO,         /* f=auto: negotiate from Accept */
	PX_OUT_JPEG,
	PX_OUT_PNG,
	PX_OUT_WEBP,
	PX_OUT_AVIF,
};

struct px_opts {
	int width, height; /* 0 = unset; before dpr */
	enum px_fit fit;
	enum px_gravity gravity;
	double gx, gy;
	int quality; /* 0 = unset */
	enum px_out format;
	double dpr; /* 1 when unset */
	enum px_meta metadata;
	uint8_t background[4];
	bool has_background;
	bool anim;
};

void px_opts_init(struct px_opts *o);

/*
 * Parse a comma-separated option string (already percent-decoded).
 * On failure eb->code is "invalid_option" and the message names the
 * option; returns PX_EINVAL.
 */
int px_opts_parse(const char *s, struct px_opts *o, struct px_errbuf *eb);

/* True if s looks like an option string rather than a variant name. */
bool px_opts_is_inline(const char *s);

/* Canonical text of o: fixed order, defaults omitted. */
int px_opts_canonical(const struct px_opts *o, struct px_buf *out);

/*
 * Resolve o against the original image into a concrete transform.
 * accept is the request's Accept header (may be NULL); *vary is set when
 * the output depends on it. f=auto keeps an animation (frames > 1, anim
 * on) animated: WebP when accepted, else GIF.
 */
void px_opts_resolve(const struct px_opts *o, enum px_fmt original,
		     bool has_alpha, int frames, const char *accept,
		     struct px_xform *x, bool *vary);

#endif
