/*
 * options.h - delivery options written as Cloudflare writes them
 * ("w=400,h=300,fit=cover,q=75,f=auto"), parsed, validated and put in a
 * canonical form so that option order, aliases and defaults never change
 * the cache key or the ETag.
 *
 * The whole vocabulary of Cloudflare Image Resizing is accepted with its
 * names, aliases and ranges; docs/TRANSFORMS.md lists it with an example
 * per option and the order in which the operations run.
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
	PX_OUT_GIF,
	PX_OUT_BASELINE_JPEG,
	PX_OUT_JSON, /* describe the output instead of encoding it */
};

struct px_opts {
	/*
	 * Pixel operations as the image module takes them, with sizes
	 * (width, height, trim, border) before dpr and format unset.
	 */
	struct px_xform x;
	double dpr; /* 1 when unset */
	enum px_out format;
	int trim_width, trim_height; /* trim.width / trim.height; 0 = unset */
	bool has_background;
	bool face;             /* gravity=face (x.gravity PX_GRAVITY_FACE) */
	bool onerror_redirect; /* onerror=redirect (the /cdn-cgi form) */
	bool width_auto;       /* width=auto: x.width comes from client hints */
	uint64_t set; /* bit per option present, in table order */
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

/*
 * Check the options present in o against an allow-list of option names
 * (canonical or alias, comma-separated; NULL or "" allows everything).
 * PX_EINVAL with "invalid_option" naming the first option not allowed.
 */
int px_opts_allowed(const struct px_opts *o, const char *allow,
		    struct px_errbuf *eb);

/* Check a comma-separated list of option names (canonical or alias),
 * as the flexible_options setting holds; PX_EINVAL naming the first
 * unknown one and the nearest known name. */
int px_opts_check_names(const char *list, struct px_errbuf *eb);

/* Canonical text of o: fixed order, canonical names, defaults omitted. */
int px_opts_canonical(const struct px_opts *o, struct px_buf *out);

/*
 * Resolve o against the original image (in: its upright width and height,
 * format, frames and alpha) into a concrete transform.
 * accept is the request's Accept header (may be NULL); *vary is set when
 * the output depends on it. f=auto keeps an animation (frames > 1, anim
 * on) animated: WebP when accepted, else GIF. For f=json, x->format is
 * what the same options without f=json give: the original's format (or
 * PNG/JPEG when it cannot be written).
 * max_output caps each output side (0: PX_OPT_MAX_SIDE).
 */
void px_opts_resolve(const struct px_opts *o, const struct px_image_info *in,
		     const char *accept, int max_output, struct px_xform *x,
		     bool *vary);

/* Parse a CSS colour (#rgb, #rgba, #rrggbb, #rrggbbaa, rgb(), rgba(),
 * a CSS named colour, transparent) into RGBA. */
bool px_parse_color(const char *v, uint8_t rgba[4]);

#endif
