/*
 * srcset.h - ready `srcset` and `sizes` strings for an image: the one code
 * path behind GET /v1/images/{id}/srcset and `pictor srcset`.
 */
#ifndef PX_API_SRCSET_H
#define PX_API_SRCSET_H

#include "api/app.h"

/* The request's options, as text (query values or CLI arguments);
 * borrowed. NULL means absent. */
struct px_srcset_query {
	const char *variant; /* a managed or configured variant's name */
	const char *widths;  /* "320,640,1280"; absent: the width=auto steps
			      * up to the original's width */
	const char *sizes;   /* passed through; absent: "100vw" */
	const char *ttl;     /* lifetime of signed URLs in seconds, 1 to a
			      * year; absent: 86400 */
};

/*
 * Build the answer for image id: {"srcset", "sizes", "src", "signed",
 * "urls": [{"width", "url"}]} into *out (the caller's reference). Uses
 * a->cat (records, variants), a->cfg (configured variants, the flexible
 * switch), a->keys (when the image needs signed URLs) and a->public_url.
 * On failure *out is NULL and eb carries the API's error code
 * (not_found, variant_not_found, flexible_variants_disabled,
 * invalid_request, internal_error) for px_app_fail.
 */
int px_srcset_build(struct px_app *a, const char *id,
		    const struct px_srcset_query *q, struct json_t **out,
		    struct px_errbuf *eb);

/* `pictor srcset ID [--variant NAME] [--widths LIST] [--sizes S]
 * [--ttl SECONDS] [serve options]`: prints px_srcset_build's JSON.
 * Exit status 0, 1 (the API would answer an error), 2 (usage). */
int px_srcset_cli(int argc, char **argv);

#endif
