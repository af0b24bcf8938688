/*
 * metrics.h - a small Prometheus metrics registry: counters, gauges and
 * histograms with fixed buckets, labelled series, text exposition.
 *
 * A registry holds metric families in registration order. A family has a
 * name, a help line, a type and up to PX_METRIC_MAX_LABELS label names
 * fixed at registration; each distinct tuple of label values is a series,
 * created on first use and kept for the life of the registry. Updates are
 * lock-free atomics once a series exists, so handlers on any thread may
 * update metrics; only the first use of a new label tuple takes a lock.
 *
 * Naming follows the Prometheus conventions and is checked at
 * registration (a violation is a programmer error and aborts): counters
 * end in "_total", nothing else does; values are in base units (seconds,
 * bytes), so names say "_seconds" or "_bytes", never "_us" or "_ms".
 *
 * Who owns it: the application creates one registry (struct px_app's
 * `metrics`) and modules register their families on it at start-up.
 * Families are never freed separately; every pointer returned stays valid
 * until px_metrics_free().
 */
#ifndef PX_METRICS_H
#define PX_METRICS_H

#include "core/buf.h"

#define PX_METRIC_MAX_LABELS 4
/* Distinct label tuples per family; updates of further tuples are
 * dropped (and counted in pictor_metrics_series_dropped_total). */
#define PX_METRIC_MAX_SERIES 512
/* Label values longer than this are truncated. */
#define PX_METRIC_MAX_VALUE 64

struct px_metrics;
struct px_metric;

/* Bucket upper bounds shared by Pictor's histograms. */
extern const double px_buckets_seconds[]; /* 1 ms .. 30 s */
extern const int px_buckets_seconds_n;
extern const double px_buckets_bytes[]; /* 1 KiB .. 256 MiB, x4 */
extern const int px_buckets_bytes_n;

/* A new, empty registry; NULL when out of memory. */
struct px_metrics *px_metrics_new(void);

/* Free the registry and every family; accepts NULL. */
void px_metrics_free(struct px_metrics *m);

/*
 * Register a family. labels is a comma-separated list of label names
 * ("route,status") or NULL for none. The strings are copied. Returns the
 * family, or NULL when out of memory (updates to a NULL family are no-ops,
 * so callers need not check). A bad name or type suffix, a duplicate name
 * or bad label names abort.
 */
struct px_metric *px_metrics_counter(struct px_metrics *m, const char *name,
				     const char *help, const char *labels);
struct px_metric *px_metrics_gauge(struct px_metrics *m, const char *name,
				   const char *help, const char *labels);
/* bounds: nbounds strictly increasing upper bounds (copied); the +Inf
 * bucket is implicit. */
struct px_metric *px_metrics_histogram(struct px_metrics *m, const char *name,
				       const char *help, const char *labels,
				       const double *bounds, int nbounds);
/* A gauge without labels whose value fn(arg) computes at scrape time. */
struct px_metric *px_metrics_gauge_fn(struct px_metrics *m, const char *name,
				      const char *help, double (*fn)(void *),
				      void *arg);

/* A counter without labels whose value fn(arg) reads at scrape time (a
 * count kept elsewhere; it may reset only with the process). */
struct px_metric *px_metrics_counter_fn(struct px_metrics *m, const char *name,
					const char *help, double (*fn)(void *),
					void *arg);

/*
 * Updates. The variadic arguments are the label values (const char *),
 * exactly as many as the family has label names, in the same order.
 * A NULL family is ignored.
 */
/* Counters and gauges: add v (a counter ignores v < 0). */
void px_metric_add(struct px_metric *f, double v, ...);
/* Gauges: set to v. */
void px_metric_set(struct px_metric *f, double v, ...);
/* Histograms: count one observation of v. */
void px_metric_observe(struct px_metric *f, double v, ...);

/* The value of one series (0 if it does not exist; a histogram answers
 * its count). For tests and scrape-free checks. */
double px_metric_value(struct px_metric *f, ...);

/* Append the Prometheus text exposition (format 0.0.4) of every family. */
int px_metrics_render(struct px_metrics *m, struct px_buf *out);

/* The Content-Type of px_metrics_render's output. */
#define PX_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
