/*
 * buf.h - a growable byte buffer with a hard maximum (after curl's dynbuf).
 *
 * The buffer always keeps a NUL after its contents so text can be used as a
 * C string. A buffer whose max is 0 has no limit beyond SIZE_MAX / 2.
 */
#ifndef PX_BUF_H
#define PX_BUF_H

#include "core/common.h"

struct px_buf {
	unsigned char *data; /* owned; NULL until the first append */
	size_t len;
	size_t cap;
	size_t max; /* appends past this fail with PX_ETOOBIG */
};

/* Initialise an empty buffer; max of 0 means no explicit limit. */
void px_buf_init(struct px_buf *b, size_t max);

/* Free the contents and reset to empty (max is kept). */
void px_buf_release(struct px_buf *b);

/* Append n bytes; PX_ETOOBIG past max, PX_ENOMEM on allocation failure. */
int px_buf_add(struct px_buf *b, const void *p, size_t n);

/* Append a C string. */
int px_buf_adds(struct px_buf *b, const char *s);

/* Append printf-style formatted text. */
int px_buf_addf(struct px_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Make room for n more bytes without changing len. */
int px_buf_reserve(struct px_buf *b, size_t n);

/* Take ownership of the contents; the buffer is left empty. The caller
 * frees the result with free(). Returns NULL for an empty buffer. */
unsigned char *px_buf_detach(struct px_buf *b, size_t *len);

#endif
