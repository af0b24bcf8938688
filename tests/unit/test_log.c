/*
 * test_log.c - log lines from concurrent threads: every line arrives
 * whole, once, in each thread's order, into a pipe and into a file.
 */
#include "core/log.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "t.h"

#define THREADS 4
#define LINES 3000

static void *logger(void *arg)
{
	int t = (int)(intptr_t)arg;
	static char pad[6001];
	char msg[7000];

	memset(pad, 'x', sizeof(pad) - 1);
	for (int i = 0; i < LINES; i++) {
		/* now and then a line longer than PIPE_BUF */
		snprintf(msg, sizeof(msg), "t%d-%d-%s", t, i,
			 i % 500 == 7 ? pad : "");
		px_log(PX_LOG_INFO, msg, "\"k\":1");
	}
	return NULL;
}

struct sink {
	int fd;
	struct px_buf got;
};

static void *drain(void *arg)
{
	struct sink *s = arg;
	char chunk[65536];
	ssize_t n;

	while ((n = read(s->fd, chunk, sizeof(chunk))) > 0)
		px_buf_add(&s->got, chunk, (size_t)n);
	return NULL;
}

/* Every line whole and each thread's lines in order. */
static void check_lines(const struct px_buf *b)
{
	int next[THREADS] = {0}, lines = 0, bad = 0;
	const char *p = (const char *)b->data, *end = p + b->len;

	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		int t = -1, i = -1;
		const char *m;

		if (!nl)
			break;
		lines++;
		m = strstr(p, "\"msg\":\"t");
		if (strncmp(p, "{\"ts\":\"", 7) || nl[-1] != '}' || !m || m > nl ||
		    sscanf(m, "\"msg\":\"t%d-%d-", &t, &i) != 2 || t < 0 ||
		    t >= THREADS || i != next[t])
			bad++;
		else
			next[t]++;
		p = nl + 1;
	}
	T_EQ(lines, THREADS * LINES);
	T_EQ(bad, 0);
	for (int t = 0; t < THREADS; t++)
		T_EQ(next[t], LINES);
}

static void run_into(int fd)
{
	pthread_t th[THREADS];
	int saved = dup(STDERR_FILENO);

	dup2(fd, STDERR_FILENO);
	for (int t = 0; t < THREADS; t++)
		pthread_create(&th[t], NULL, logger, (void *)(intptr_t)t);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	dup2(saved, STDERR_FILENO);
	close(saved);
}

static void run(void)
{
	T_CASE("level filter") {
		px_log_set_level(PX_LOG_WARN);
		T_OK(!px_log_enabled(PX_LOG_INFO));
		T_OK(px_log_enabled(PX_LOG_ERROR));
		px_log_set_level(PX_LOG_INFO);
		T_OK(px_log_enabled(PX_LOG_INFO));
		T_OK(!px_log_enabled(PX_LOG_DEBUG));
	}
	T_CASE("concurrent lines into a pipe: whole, once, in order") {
		struct sink s = {.fd = -1};
		pthread_t rd;
		int p[2];

		px_buf_init(&s.got, 0);
		T_EQ(pipe(p), 0);
		s.fd = p[0];
		pthread_create(&rd, NULL, drain, &s);
		run_into(p[1]);
		close(p[1]);
		pthread_join(rd, NULL);
		close(p[0]);
		check_lines(&s.got);
		px_buf_release(&s.got);
	}
	T_CASE("concurrent lines into a file: whole, once, in order") {
		char path[] = "/tmp/pictor-test-log-XXXXXX";
		int fd = mkstemp(path);
		struct sink s = {.fd = -1};

		T_OK(fd >= 0);
		px_buf_init(&s.got, 0);
		run_into(fd);
		s.fd = open(path, O_RDONLY);
		drain(&s);
		close(s.fd);
		close(fd);
		unlink(path);
		check_lines(&s.got);
		px_buf_release(&s.got);
	}
}
