/*
 * log.h - JSON-lines logging to stderr.
 *
 * Every line is one JSON object with "ts", "level" and "msg", followed by
 * the caller's extra fields. Callers must never pass secrets (tokens,
 * signatures) in either.
 */
#ifndef PX_LOG_H
#define PX_LOG_H

#include "core/buf.h"

enum px_log_level { PX_LOG_DEBUG, PX_LOG_INFO, PX_LOG_WARN, PX_LOG_ERROR };

/* Lines below this level are dropped. Default: PX_LOG_INFO. */
void px_log_set_level(enum px_log_level lvl);

/* Would a line at lvl be written? Lets callers skip building it. */
bool px_log_enabled(enum px_log_level lvl);

/* Parse "debug", "info", "warn" or "error"; PX_EINVAL otherwise. */
int px_log_parse_level(const char *s, enum px_log_level *out);

/*
 * Log msg with extra fields. fields is either NULL or the inside of a JSON
 * object, already escaped (e.g. "\"path\":\"/x\",\"status\":200").
 */
void px_log(enum px_log_level lvl, const char *msg, const char *fields);

/* printf-style convenience: the formatted text becomes "msg". */
void px_logf(enum px_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Append s to b as a JSON string literal, quotes included; bytes that
 * are not valid UTF-8 become U+FFFD, so the result is always valid JSON. */
int px_json_quote(struct px_buf *b, const char *s);

#endif
