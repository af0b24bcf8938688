/*
 * container.h - byte-level work on encoded files, private to src/image/.
 *
 * libvips writes and reads pixels; what it leaves in or around them is
 * handled here: the EXIF orientation tag it always rewrites, the WebP
 * metadata chunks that 8.14.1 writes even when asked to strip, and the
 * walk over an original's blocks that tells whether the original can be
 * served as it is (image.c, "never larger than needed").
 */
#ifndef PX_IMAGE_CONTAINER_H
#define PX_IMAGE_CONTAINER_H

#include "image/image.h"

/* Drop the Orientation tag from the EXIF block of an encoded JPEG, PNG,
 * WebP or AVIF in place (the pixels are upright). Never grows or moves
 * anything; leaves the bytes alone when they do not parse. */
void px_image_exif_drop_orientation(unsigned char *p, size_t n, enum px_fmt f);

/* Append the WebP p to out without its EXIF, XMP and ICCP chunks, with
 * the RIFF size and the VP8X flags fixed. Non-WebP bytes are appended
 * unchanged. Returns 0 or PX_ENOMEM (out unchanged). */
int px_image_webp_strip(const unsigned char *p, size_t n, struct px_buf *out);

/* What an original carries besides its pixels. */
struct px_container {
	bool ok;     /* every block was walked: the file is well formed */
	bool meta;   /* EXIF, XMP, IPTC, comments, text, thumbnails or
			blocks we do not know */
	bool colour; /* an ICC profile, gamma or chromaticities */
	bool extra;  /* content the decoder ignores: APNG or AVIF frames,
			GIF plain text, bytes after the end marker */
};

/* Walk the blocks of a JPEG, PNG, WebP, GIF or AVIF file. Formats it
 * does not know leave c->ok false. Reads only; any input is safe. */
void px_image_container_scan(const void *data, size_t n, enum px_fmt f,
			     struct px_container *c);

#endif
