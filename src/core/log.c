/*
 * log.c - JSON-lines logging. One write(2) per line so lines from
 * concurrent threads never interleave.
 */
#include "core/log.h"

#include <stdarg.h>
#include <time.h>
#include <unistd.h>

static enum px_log_level min_level = PX_LOG_INFO;

void px_log_set_level(enum px_log_level lvl)
{
	min_level = lvl;
}

bool px_log_enabled(enum px_log_level lvl)
{
	return lvl >= min_level;
}

int px_log_parse_level(const char *s, enum px_log_level *out)
{
	static const char *names[] = {"debug", "info", "warn", "error"};

	for (size_t i = 0; i < PX_ARRAY_LEN(names); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum px_log_level)i;
			return 0;
		}
	}
	return PX_EINVAL;
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0 if it is not one
 * (stray continuation, overlong form, surrogate, beyond U+10FFFF,
 * truncated). */
static int utf8_len(const unsigned char *p)
{
	unsigned c = p[0], cp;
	int n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	for (int i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0; /* also stops at the NUL */
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

int px_json_quote(struct px_buf *b, const char *s)
{
	int rc = px_buf_add(b, "\"", 1);

	for (const unsigned char *p = (const unsigned char *)s; !rc && *p;) {
		int n = utf8_len(p);

		if (*p == '"' || *p == '\\')
			rc = px_buf_addf(b, "\\%c", *p);
		else if (*p < 0x20)
			rc = px_buf_addf(b, "\\u%04x", *p);
		else if (!n)
			/* bytes that are not UTF-8 would make the line invalid
			 * JSON: each becomes U+FFFD */
			rc = px_buf_adds(b, "\\ufffd");
		else
			rc = px_buf_add(b, p, (size_t)n);
		p += n ? n : 1;
	}
	return rc ? rc : px_buf_add(b, "\"", 1);
}

void px_log(enum px_log_level lvl, const char *msg, const char *fields)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	struct px_buf b;
	struct timespec ts;
	struct tm tm;
	char when[64];
	ssize_t w;

	if (lvl < min_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	px_buf_init(&b, 64 * 1024);
	px_buf_addf(&b, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":", when,
		    ts.tv_nsec / 1000000L, names[lvl]);
	px_json_quote(&b, msg ? msg : "");
	if (fields && *fields) {
		px_buf_add(&b, ",", 1);
		px_buf_adds(&b, fields);
	}
	if (px_buf_add(&b, "}\n", 2) == 0) {
		w = write(STDERR_FILENO, b.data, b.len);
		(void)w;
	}
	px_buf_release(&b);
}

void px_logf(enum px_log_level lvl, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (lvl < min_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	px_log(lvl, msg, NULL);
}
