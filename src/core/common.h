/*
 * common.h - first include of every Pictor source file.
 *
 * Pulls in the C library pieces every module uses and defines the few
 * macros the whole tree shares. Nothing third-party is included here.
 */
#ifndef PX_COMMON_H
#define PX_COMMON_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"

#define PX_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define PX_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PX_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Programmer errors abort; input and runtime errors never do. */
#define PX_BUG(msg)                                                            \
	do {                                                                   \
		fprintf(stderr, "pictor: bug at %s:%d: %s\n", __FILE__,        \
			__LINE__, (msg));                                      \
		abort();                                                       \
	} while (0)

#define PX_ASSERT(cond)                                                        \
	do {                                                                   \
		if (!(cond))                                                   \
			PX_BUG("assertion failed: " #cond);                    \
	} while (0)

/* Copy src into dst of size n, truncating; always NUL-terminates. */
static inline void px_strlcpy(char *dst, const char *src, size_t n)
{
	size_t len = strlen(src);

	if (!n)
		return;
	if (len >= n)
		len = n - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* Microseconds since the epoch (wall clock: for records and schedules). */
static inline int64_t px_wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Microseconds on the monotonic clock (for durations). */
static inline int64_t px_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Value of a hex digit, or -1. */
static inline int px_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Length of a hex SHA-256 digest, without the terminating NUL. */
#define PX_SHA256_HEX_LEN 64

#endif
