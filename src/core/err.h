/*
 * err.h - Pictor's error codes.
 *
 * Functions return 0 on success or a negative enum px_err. Human-readable
 * detail travels separately, in a caller-owned struct px_errbuf, never in a
 * global.
 */
#ifndef PX_ERR_H
#define PX_ERR_H

#include <stddef.h>

enum px_err {
	PX_OK = 0,
	PX_ENOMEM = -1,     /* allocation failed */
	PX_EIO = -2,        /* storage or system call failed */
	PX_ENOTFOUND = -3,  /* no such key, blob or record */
	PX_EEXIST = -4,     /* key already present */
	PX_EINVAL = -5,     /* malformed input */
	PX_ETOOBIG = -6,    /* a size limit was exceeded */
	PX_EUNSUPPORTED = -7, /* format or feature not allowed */
	PX_ECORRUPT = -8,   /* input could not be decoded */
	PX_ELIMIT = -9,     /* pixel, dimension or frame limit exceeded */
	PX_EBUSY = -10,     /* queue full or resource busy */
	PX_EINTERNAL = -11, /* unexpected failure in a library */
};

/*
 * Caller-owned error detail: a stable machine-readable code for API
 * answers (a static string such as "too_many_pixels", or NULL) and a
 * human message.
 */
struct px_errbuf {
	const char *code;
	char msg[512];
};

/* Name of an error code, e.g. "ENOTFOUND". Never NULL. */
const char *px_err_name(int rc);

/* Format a message into eb (if eb is non-NULL); returns rc unchanged. */
int px_errf(struct px_errbuf *eb, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* As px_errf, and set eb->code to code (a static string). */
int px_errc(struct px_errbuf *eb, int rc, const char *code, const char *fmt,
	    ...) __attribute__((format(printf, 4, 5)));

#endif
