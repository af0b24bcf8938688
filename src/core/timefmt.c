/*
 * timefmt.c - RFC 3339 UTC times (see timefmt.h). strptime reads the
 * date and clock, the fraction and the "Z" are checked by hand: glibc's
 * strptime has no conversion for either.
 */
#include "core/timefmt.h"

#include <time.h>

int px_time_parse(const char *s, int64_t *us)
{
	struct tm tm;
	const char *p;
	long frac = 0, scale = 1000000;
	time_t secs;

	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return PX_EINVAL;
	if (*p == '.') {
		p++;
		if (!(*p >= '0' && *p <= '9'))
			return PX_EINVAL;
		for (; *p >= '0' && *p <= '9'; p++)
			if (scale > 1) {
				scale /= 10;
				frac += (*p - '0') * scale;
			}
	}
	if (strcmp(p, "Z"))
		return PX_EINVAL;
	secs = timegm(&tm);
	if (secs == (time_t)-1)
		return PX_EINVAL;
	*us = (int64_t)secs * 1000000 + frac;
	return 0;
}

void px_time_format(int64_t us, char out[32])
{
	time_t secs = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + strlen(out), 32 - strlen(out), ".%03dZ",
		 (int)(us / 1000 % 1000));
}
