/*
 * multipart.h - a parser for multipart/form-data bodies (RFC 7578).
 *
 * Parses a whole body held in memory; the parts point into it (borrowed,
 * valid while the body lives). Untrusted input: every length is checked,
 * and there is a libFuzzer target in tests/fuzz/.
 */
#ifndef PX_MULTIPART_H
#define PX_MULTIPART_H

#include "core/common.h"

#define PX_MP_MAX_PARTS 16

struct px_mp_part {
	char name[64];
	char filename[256]; /* cut on a character boundary */
	bool has_filename;
	bool filename_bad;  /* the whole value was not well-formed UTF-8 */
	const unsigned char *data;
	size_t len;
};

struct px_multipart {
	struct px_mp_part parts[PX_MP_MAX_PARTS];
	int nparts;
};

/* Extract the boundary from a Content-Type value into out. PX_EINVAL if
 * the type is not multipart/form-data or has no usable boundary. */
int px_mp_boundary(const char *content_type, char *out, size_t nout);

/* Parse body. PX_EINVAL (with a message in eb) on malformed input. */
int px_mp_parse(const void *body, size_t n, const char *boundary,
		struct px_multipart *mp, struct px_errbuf *eb);

/* The first part named name, or NULL. */
const struct px_mp_part *px_mp_get(const struct px_multipart *mp,
				   const char *name);

#endif
