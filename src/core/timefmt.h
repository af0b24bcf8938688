/*
 * timefmt.h - RFC 3339 UTC times, the one form Pictor reads and writes
 * times in (token expiry, audit and reclassify filters, import cursors,
 * the API's *_on fields). Times inside the daemon are µs since the epoch.
 */
#ifndef PX_TIMEFMT_H
#define PX_TIMEFMT_H

#include "core/common.h"

/* Parse an RFC 3339 UTC time ("2026-11-28T10:00:00Z", optional
 * fraction of one or more digits, µs kept) into µs since the epoch;
 * PX_EINVAL for any other form or offset. */
int px_time_parse(const char *s, int64_t *us);

/* µs since the epoch as "2026-11-28T10:00:00.000Z" into out[32]. */
void px_time_format(int64_t us, char out[32]);

#endif
