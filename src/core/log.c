/*
 * log.c - JSON-lines logging.
 *
 * Lines from concurrent threads never interleave: every write(2) holds
 * whole lines, at most PIPE_BUF bytes of them when stderr is a pipe or
 * socket (a single longer line goes alone), so even a pipe shared with
 * other writers keeps them apart; up to 64 KiB into a regular file.
 *
 * One thread writes at a time. A thread with a line to log appends it to
 * the pending buffer; if no thread is writing, it becomes the writer and
 * writes until nothing is pending, otherwise it returns at once and the
 * thread already writing takes its line too. So an idle process writes
 * each line as it is logged, and a busy one (the access log of thousands
 * of requests a second) writes batches without its network threads
 * queueing on the file's lock; nothing is left pending when the last
 * logging thread returns.
 */
#include "core/log.h"

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Pending bytes past which a logging thread waits for the writer. */
#define PENDING_MAX (4u << 20)

static struct {
	pthread_mutex_t lock;
	pthread_cond_t drained;
	struct px_buf pending;
	bool writing;
	size_t chunk; /* bytes per write(2); 0: not known yet */
} out = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
	 {NULL, 0, 0, SIZE_MAX / 2}, false, 0};

/* Write p[0..n) (whole lines) in chunks of whole lines up to chunk. */
static void write_lines(const unsigned char *p, size_t n, size_t chunk)
{
	while (n) {
		size_t k = n;
		ssize_t w;

		if (k > chunk) {
			/* the last line end within chunk, else the first */
			k = chunk;
			while (k && p[k - 1] != '\n')
				k--;
			if (!k) {
				const unsigned char *nl = memchr(p, '\n', n);

				k = nl ? (size_t)(nl - p) + 1 : n;
			}
		}
		w = write(STDERR_FILENO, p, k);
		if (w <= 0)
			return; /* nowhere to log to: drop, as before */
		p += w;
		n -= (size_t)w;
	}
}

/* Log the whole lines line[0..n): see the top of the file. */
static void emit(const void *line, size_t n)
{
	struct px_buf mine;

	pthread_mutex_lock(&out.lock);
	while (out.pending.len >= PENDING_MAX && out.writing)
		pthread_cond_wait(&out.drained, &out.lock);
	if (px_buf_add(&out.pending, line, n)) {
		pthread_mutex_unlock(&out.lock);
		write_lines(line, n, SIZE_MAX); /* out of memory: this line */
		return;
	}
	if (out.writing) {
		pthread_mutex_unlock(&out.lock);
		return;
	}
	out.writing = true;
	if (!out.chunk) {
		struct stat st;

		out.chunk = fstat(STDERR_FILENO, &st) == 0 && S_ISREG(st.st_mode)
				    ? 65536 : PIPE_BUF;
	}
	while (out.pending.len) {
		mine = out.pending;
		px_buf_init(&out.pending, 0);
		pthread_mutex_unlock(&out.lock);
		write_lines(mine.data, mine.len, out.chunk);
		pthread_mutex_lock(&out.lock);
		/* keep one buffer's memory for the next batch */
		if (!out.pending.data && mine.cap <= PENDING_MAX) {
			mine.len = 0;
			out.pending = mine;
		} else {
			px_buf_release(&mine);
		}
		pthread_cond_broadcast(&out.drained);
	}
	out.writing = false;
	pthread_mutex_unlock(&out.lock);
}

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
	if (px_buf_add(&b, "}\n", 2) == 0)
		emit(b.data, b.len);
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
