/*
 * test_metrics.c - the metrics registry and its text exposition.
 */
#include "t.h"

#include "core/metrics.c"

#include <sys/wait.h>
#include <unistd.h>

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || !p[n]))
			return true;
	return false;
}

static char *render(struct px_metrics *m)
{
	struct px_buf b;

	px_buf_init(&b, 0);
	px_metrics_render(m, &b);
	return (char *)px_buf_detach(&b, NULL);
}

/* Does registering (type, name) abort? */
static bool aborts(int type, const char *name, const char *labels)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		struct px_metrics *m;

		freopen("/dev/null", "w", stderr);
		m = px_metrics_new();
		if (type == 0)
			px_metrics_counter(m, name, "h", labels);
		else if (type == 1)
			px_metrics_gauge(m, name, "h", labels);
		else
			px_metrics_histogram(m, name, "h", labels,
					     px_buckets_seconds, px_buckets_seconds_n);
		px_metrics_counter(m, "twice_total", "h", NULL);
		if (!strcmp(name, "twice_total"))
			px_metrics_counter(m, "twice_total", "h", NULL);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	return WIFSIGNALED(st);
}

static double read_double(void *arg)
{
	return *(double *)arg;
}

struct hammer {
	struct px_metric *c, *h;
};

static void *hammer(void *arg)
{
	struct hammer *hm = arg;

	for (int i = 0; i < 20000; i++) {
		px_metric_add(hm->c, 1, i % 2 ? "a" : "b");
		px_metric_observe(hm->h, 0.002);
	}
	return NULL;
}

static void run(void)
{
	T_CASE("counters, labels and gauges render with # TYPE") {
		struct px_metrics *m = px_metrics_new();
		struct px_metric *c = px_metrics_counter(m, "x_requests_total", "requests", NULL);
		struct px_metric *l = px_metrics_counter(m, "x_responses_total", "by class", "class");
		struct px_metric *g = px_metrics_gauge(m, "x_temperature", "a\\b\nc", "room,floor");
		char *t;

		t = render(m);
		T_OK(has_line(t, "# TYPE x_requests_total counter"));
		T_OK(has_line(t, "x_requests_total 0"));
		T_OK(!strstr(t, "x_responses_total{"));
		free(t);
		px_metric_add(c, 1);
		px_metric_add(c, 2);
		px_metric_add(c, -5); /* counters never go down */
		px_metric_add(l, 1, "2xx");
		px_metric_add(l, 1, "4xx");
		px_metric_add(l, 1, "2xx");
		px_metric_set(g, 21.5, "kitchen \"main\"", "1");
		px_metric_add(g, -1, "kitchen \"main\"", "1");
		px_metric_set(g, 0.1, "a\\b\nc", "2");
		t = render(m);
		T_OK(has_line(t, "x_requests_total 3"));
		T_OK(has_line(t, "x_responses_total{class=\"2xx\"} 2"));
		T_OK(has_line(t, "x_responses_total{class=\"4xx\"} 1"));
		T_OK(has_line(t, "# TYPE x_temperature gauge"));
		T_OK(has_line(t, "# HELP x_temperature a\\\\b\\nc"));
		T_OK(has_line(t, "x_temperature{room=\"kitchen \\\"main\\\"\",floor=\"1\"} 20.5"));
		T_OK(has_line(t, "x_temperature{room=\"a\\\\b\\nc\",floor=\"2\"} 0.1"));
		T_EQ(px_metric_value(l, "2xx"), 2);
		T_EQ(px_metric_value(l, "5xx"), 0);
		free(t);
		px_metrics_free(m);
	}

	T_CASE("histograms: cumulative buckets, +Inf, _sum and _count") {
		struct px_metrics *m = px_metrics_new();
		static const double b[] = {0.1, 1, 2.5};
		struct px_metric *h = px_metrics_histogram(m, "x_duration_seconds", "d", "route", b, 3);
		char *t;

		px_metric_observe(h, 0.05, "img");
		px_metric_observe(h, 0.1, "img"); /* upper bounds are inclusive */
		px_metric_observe(h, 2, "img");
		px_metric_observe(h, 100, "img");
		t = render(m);
		T_OK(has_line(t, "# TYPE x_duration_seconds histogram"));
		T_OK(has_line(t, "x_duration_seconds_bucket{route=\"img\",le=\"0.1\"} 2"));
		T_OK(has_line(t, "x_duration_seconds_bucket{route=\"img\",le=\"1\"} 2"));
		T_OK(has_line(t, "x_duration_seconds_bucket{route=\"img\",le=\"2.5\"} 3"));
		T_OK(has_line(t, "x_duration_seconds_bucket{route=\"img\",le=\"+Inf\"} 4"));
		T_OK(has_line(t, "x_duration_seconds_sum{route=\"img\"} 102.15"));
		T_OK(has_line(t, "x_duration_seconds_count{route=\"img\"} 4"));
		T_EQ(px_metric_value(h, "img"), 4);
		free(t);
		px_metrics_free(m);
	}

	T_CASE("an unlabelled histogram shows zeros; shared buckets render exactly") {
		struct px_metrics *m = px_metrics_new();
		char *t;

		px_metrics_histogram(m, "x_size_bytes", "s", NULL, px_buckets_bytes,
				     px_buckets_bytes_n);
		px_metrics_histogram(m, "x_wait_seconds", "s", NULL, px_buckets_seconds,
				     px_buckets_seconds_n);
		t = render(m);
		T_OK(has_line(t, "x_size_bytes_bucket{le=\"268435456\"} 0"));
		T_OK(has_line(t, "x_size_bytes_bucket{le=\"1024\"} 0"));
		T_OK(has_line(t, "x_wait_seconds_bucket{le=\"0.0025\"} 0"));
		T_OK(has_line(t, "x_size_bytes_count 0"));
		T_OK(has_line(t, "x_size_bytes_sum 0"));
		free(t);
		px_metrics_free(m);
	}

	T_CASE("gauge functions are read at scrape time") {
		struct px_metrics *m = px_metrics_new();
		double v = 7;
		char *t;

		px_metrics_gauge_fn(m, "x_load", "l", read_double, &v);
		/* A count kept elsewhere is a counter, read at scrape time. */
		px_metrics_counter_fn(m, "x_sent_total", "s", read_double, &v);
		v = 9;
		t = render(m);
		T_OK(has_line(t, "# TYPE x_load gauge"));
		T_OK(has_line(t, "x_load 9"));
		T_OK(has_line(t, "# TYPE x_sent_total counter"));
		T_OK(has_line(t, "x_sent_total 9"));
		free(t);
		px_metrics_free(m);
	}

	T_CASE("series past the cap are dropped and counted") {
		struct px_metrics *m = px_metrics_new();
		struct px_metric *c = px_metrics_counter(m, "x_things_total", "t", "id");
		char id[16], *t;

		for (int i = 0; i < PX_METRIC_MAX_SERIES + 3; i++) {
			snprintf(id, sizeof(id), "%d", i);
			px_metric_add(c, 1, id);
		}
		T_EQ(px_metric_value(c, "0"), 1);
		T_EQ(px_metric_value(c, "600"), 0);
		t = render(m);
		T_OK(has_line(t, "pictor_metrics_series_dropped_total 3"));
		free(t);
		px_metrics_free(m);
	}

	T_CASE("concurrent updates are not lost") {
		struct px_metrics *m = px_metrics_new();
		struct hammer hm = {
			px_metrics_counter(m, "x_hits_total", "h", "k"),
			px_metrics_histogram(m, "x_lat_seconds", "l", NULL,
					     px_buckets_seconds, px_buckets_seconds_n),
		};
		pthread_t th[4];

		for (int i = 0; i < 4; i++)
			pthread_create(&th[i], NULL, hammer, &hm);
		for (int i = 0; i < 4; i++)
			pthread_join(th[i], NULL);
		T_EQ(px_metric_value(hm.c, "a") + px_metric_value(hm.c, "b"), 80000);
		T_EQ(px_metric_value(hm.h), 80000);
		px_metrics_free(m);
	}

	T_CASE("naming conventions are enforced at registration") {
		T_OK(!aborts(0, "ok_total", NULL));
		T_OK(!aborts(2, "ok_seconds", "route,status"));
		T_OK(aborts(0, "no_suffix", NULL));
		T_OK(aborts(1, "gauge_total", NULL));
		T_OK(aborts(2, "pictor_render_us_total", NULL));
		T_OK(aborts(2, "pictor_render_ms", NULL));
		T_OK(aborts(0, "pictor_seconds_us_total", NULL));
		T_OK(aborts(0, "9bad_total", NULL));
		T_OK(aborts(0, "bad-name_total", NULL));
		T_OK(aborts(2, "lat_seconds", "le"));
		T_OK(aborts(0, "x_total", "__reserved"));
		T_OK(aborts(0, "twice_total", NULL));
	}

	T_CASE("NULL families are ignored") {
		px_metric_add(NULL, 1);
		px_metric_observe(NULL, 1);
		px_metric_set(NULL, 1);
		T_EQ(px_metric_value(NULL), 0);
		px_metrics_free(NULL);
	}
}
