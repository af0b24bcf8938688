/*
 * buf.c - growable byte buffer with a hard maximum.
 */
#include "core/buf.h"

#include <stdarg.h>

void px_buf_init(struct px_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max ? max : SIZE_MAX / 2;
}

void px_buf_release(struct px_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

int px_buf_reserve(struct px_buf *b, size_t n)
{
	size_t want, cap;
	unsigned char *p;

	if (n > b->max || b->len > b->max - n)
		return PX_ETOOBIG;
	want = b->len + n + 1;
	if (want <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < want)
		cap = cap > SIZE_MAX / 4 ? want : cap * 2;
	p = realloc(b->data, cap);
	if (!p)
		return PX_ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int px_buf_add(struct px_buf *b, const void *p, size_t n)
{
	int rc = px_buf_reserve(b, n);

	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int px_buf_adds(struct px_buf *b, const char *s)
{
	return px_buf_add(b, s, strlen(s));
}

int px_buf_addf(struct px_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return PX_EINVAL;
	rc = px_buf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

unsigned char *px_buf_detach(struct px_buf *b, size_t *len)
{
	unsigned char *p = b->data;

	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}
