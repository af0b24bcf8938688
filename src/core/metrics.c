/*
 * metrics.c - the metrics registry and its Prometheus text exposition.
 *
 * A series keeps its value as the bits of a double in an atomic 64-bit
 * word and adds with a compare-and-swap loop (C11 has no atomic add on
 * doubles). A histogram series keeps one non-cumulative count per bucket
 * and makes them cumulative when rendered, and its _count is the sum of
 * its buckets, so a scrape never shows a count that disagrees with them.
 *
 * Series are found without a lock: a family's series array only grows,
 * and a new series is fully built before the count that publishes it is
 * stored with release order.
 */
#include "core/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>

enum type { COUNTER, GAUGE, HISTOGRAM };

struct series {
	char values[PX_METRIC_MAX_LABELS][PX_METRIC_MAX_VALUE + 1];
	atomic_uint_least64_t v; /* double bits: counter/gauge value, histogram sum */
	atomic_uint_least64_t buckets[]; /* histograms: nbounds + 1 */
};

struct px_metric {
	struct px_metric *next;
	struct px_metrics *reg;
	enum type type;
	char *name, *help;
	int nlabels;
	char *labels[PX_METRIC_MAX_LABELS];
	double *bounds;
	int nbounds;
	double (*fn)(void *);
	void *arg;
	pthread_mutex_t lock; /* serialises the creation of series */
	atomic_int nseries;
	struct series *series[PX_METRIC_MAX_SERIES];
};

struct px_metrics {
	pthread_mutex_t lock;
	struct px_metric *head, **tail;
	struct px_metric *dropped;
};

const double px_buckets_seconds[] = {0.001, 0.0025, 0.005, 0.01, 0.025,
				     0.05,  0.1,    0.25,  0.5,  1,
				     2.5,   5,      10,    30};
const int px_buckets_seconds_n = PX_ARRAY_LEN(px_buckets_seconds);
const double px_buckets_bytes[] = {1024.0,	   4096.0,	16384.0,
				   65536.0,	   262144.0,	1048576.0,
				   4194304.0,	   16777216.0,	67108864.0,
				   268435456.0};
const int px_buckets_bytes_n = PX_ARRAY_LEN(px_buckets_bytes);

static double load_d(atomic_uint_least64_t *p)
{
	uint64_t bits = atomic_load_explicit(p, memory_order_relaxed);
	double d;

	memcpy(&d, &bits, sizeof(d));
	return d;
}

static void add_d(atomic_uint_least64_t *p, double v)
{
	uint64_t old = atomic_load_explicit(p, memory_order_relaxed), nbits;
	double d;

	do {
		memcpy(&d, &old, sizeof(d));
		d += v;
		memcpy(&nbits, &d, sizeof(nbits));
	} while (!atomic_compare_exchange_weak_explicit(
		p, &old, nbits, memory_order_relaxed, memory_order_relaxed));
}

static void set_d(atomic_uint_least64_t *p, double v)
{
	uint64_t bits;

	memcpy(&bits, &v, sizeof(bits));
	atomic_store_explicit(p, bits, memory_order_relaxed);
}

/* --- registration --- */

static bool valid_name(const char *s, bool colon)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || (colon && *s == ':')))
			return false;
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

/* Base units only: no "_us", "_ms", "_kb" ... word anywhere in a name. */
static bool base_units(const char *name)
{
	static const char *bad[] = {"us", "ms", "ns", "microseconds",
				    "milliseconds", "kb", "mb", "kib", "mib"};
	const char *p = name;

	while (p && *p) {
		const char *u = strchr(p, '_');
		size_t n = u ? (size_t)(u - p) : strlen(p);

		for (size_t i = 0; i < PX_ARRAY_LEN(bad); i++)
			if (strlen(bad[i]) == n && !strncmp(p, bad[i], n))
				return false;
		p = u ? u + 1 : NULL;
	}
	return true;
}

static void check_name(struct px_metrics *m, enum type t, const char *name)
{
	if (!valid_name(name, true))
		PX_BUG("metric name is not [a-zA-Z_:][a-zA-Z0-9_:]*");
	if ((t == COUNTER) != ends_with(name, "_total"))
		PX_BUG("counters, and only counters, end in _total");
	if (!base_units(name))
		PX_BUG("metric names use base units (seconds, bytes)");
	for (struct px_metric *f = m->head; f; f = f->next)
		if (!strcmp(f->name, name))
			PX_BUG("metric registered twice");
}

static void family_free(struct px_metric *f)
{
	int n = atomic_load(&f->nseries);

	for (int i = 0; i < n; i++)
		free(f->series[i]);
	for (int i = 0; i < f->nlabels; i++)
		free(f->labels[i]);
	free(f->bounds);
	free(f->name);
	free(f->help);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static int parse_labels(struct px_metric *f, const char *labels)
{
	const char *p = labels;

	while (p && *p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);

		if (f->nlabels == PX_METRIC_MAX_LABELS)
			PX_BUG("too many metric labels");
		f->labels[f->nlabels] = strndup(p, n);
		if (!f->labels[f->nlabels])
			return PX_ENOMEM;
		if (!valid_name(f->labels[f->nlabels], false) ||
		    !strncmp(f->labels[f->nlabels], "__", 2) ||
		    (f->type == HISTOGRAM && !strcmp(f->labels[f->nlabels], "le")))
			PX_BUG("bad metric label name");
		f->nlabels++;
		p = comma ? comma + 1 : NULL;
	}
	return 0;
}

static struct px_metric *reg(struct px_metrics *m, enum type t,
			     const char *name, const char *help,
			     const char *labels, const double *bounds,
			     int nbounds)
{
	struct px_metric *f;

	if (!m)
		return NULL;
	pthread_mutex_lock(&m->lock);
	check_name(m, t, name);
	f = calloc(1, sizeof(*f));
	if (!f)
		goto out;
	pthread_mutex_init(&f->lock, NULL);
	f->reg = m;
	f->type = t;
	f->name = strdup(name);
	f->help = strdup(help ? help : "");
	if (!f->name || !f->help || parse_labels(f, labels))
		goto fail;
	if (t == HISTOGRAM) {
		if (nbounds < 1)
			PX_BUG("a histogram needs buckets");
		for (int i = 1; i < nbounds; i++)
			if (!(bounds[i] > bounds[i - 1]))
				PX_BUG("histogram buckets must increase");
		f->bounds = malloc(sizeof(double) * (size_t)nbounds);
		if (!f->bounds)
			goto fail;
		memcpy(f->bounds, bounds, sizeof(double) * (size_t)nbounds);
		f->nbounds = nbounds;
	}
	*m->tail = f;
	m->tail = &f->next;
	goto out;
fail:
	family_free(f);
	f = NULL;
out:
	pthread_mutex_unlock(&m->lock);
	return f;
}

struct px_metrics *px_metrics_new(void)
{
	struct px_metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	m->tail = &m->head;
	m->dropped = reg(m, COUNTER, "pictor_metrics_series_dropped_total",
			 "metric updates dropped: a family had too many label combinations",
			 NULL, NULL, 0);
	return m;
}

void px_metrics_free(struct px_metrics *m)
{
	struct px_metric *f, *next;

	if (!m)
		return;
	for (f = m->head; f; f = next) {
		next = f->next;
		family_free(f);
	}
	pthread_mutex_destroy(&m->lock);
	free(m);
}

struct px_metric *px_metrics_counter(struct px_metrics *m, const char *name,
				     const char *help, const char *labels)
{
	return reg(m, COUNTER, name, help, labels, NULL, 0);
}

struct px_metric *px_metrics_gauge(struct px_metrics *m, const char *name,
				   const char *help, const char *labels)
{
	return reg(m, GAUGE, name, help, labels, NULL, 0);
}

struct px_metric *px_metrics_histogram(struct px_metrics *m, const char *name,
				       const char *help, const char *labels,
				       const double *bounds, int nbounds)
{
	return reg(m, HISTOGRAM, name, help, labels, bounds, nbounds);
}

struct px_metric *px_metrics_gauge_fn(struct px_metrics *m, const char *name,
				      const char *help, double (*fn)(void *),
				      void *arg)
{
	struct px_metric *f = reg(m, GAUGE, name, help, NULL, NULL, 0);

	if (f) {
		f->fn = fn;
		f->arg = arg;
	}
	return f;
}

struct px_metric *px_metrics_counter_fn(struct px_metrics *m, const char *name,
					const char *help, double (*fn)(void *),
					void *arg)
{
	struct px_metric *f = reg(m, COUNTER, name, help, NULL, NULL, 0);

	if (f) {
		f->fn = fn;
		f->arg = arg;
	}
	return f;
}

/* --- series lookup --- */

static bool same(const struct series *s, int n, const char **vals)
{
	for (int i = 0; i < n; i++)
		if (strncmp(s->values[i], vals[i], PX_METRIC_MAX_VALUE))
			return false;
	return true;
}

static struct series *find(struct px_metric *f, int n, const char **vals)
{
	for (int i = 0; i < n; i++)
		if (same(f->series[i], f->nlabels, vals))
			return f->series[i];
	return NULL;
}

/* The series for vals, created if absent; NULL when full or out of
 * memory. create false: NULL when absent. */
static struct series *lookup(struct px_metric *f, va_list ap, bool create)
{
	const char *vals[PX_METRIC_MAX_LABELS];
	struct series *s;
	int n;

	for (int i = 0; i < f->nlabels; i++) {
		vals[i] = va_arg(ap, const char *);
		if (!vals[i])
			vals[i] = "";
	}
	n = atomic_load_explicit(&f->nseries, memory_order_acquire);
	if ((s = find(f, n, vals)) || !create)
		return s;
	pthread_mutex_lock(&f->lock);
	n = atomic_load_explicit(&f->nseries, memory_order_acquire);
	if ((s = find(f, n, vals)))
		goto out;
	if (n == PX_METRIC_MAX_SERIES)
		goto out;
	s = calloc(1, sizeof(*s) + sizeof(s->buckets[0]) *
					   (f->type == HISTOGRAM ? (size_t)f->nbounds + 1 : 0));
	if (!s)
		goto out;
	for (int i = 0; i < f->nlabels; i++)
		px_strlcpy(s->values[i], vals[i], sizeof(s->values[i]));
	f->series[n] = s;
	atomic_store_explicit(&f->nseries, n + 1, memory_order_release);
out:
	pthread_mutex_unlock(&f->lock);
	if (!s && f->reg->dropped && f != f->reg->dropped)
		px_metric_add(f->reg->dropped, 1);
	return s;
}

void px_metric_add(struct px_metric *f, double v, ...)
{
	struct series *s;
	va_list ap;

	if (!f || f->type == HISTOGRAM || (f->type == COUNTER && !(v >= 0)))
		return;
	va_start(ap, v);
	s = lookup(f, ap, true);
	va_end(ap);
	if (s)
		add_d(&s->v, v);
}

void px_metric_set(struct px_metric *f, double v, ...)
{
	struct series *s;
	va_list ap;

	if (!f || f->type != GAUGE)
		return;
	va_start(ap, v);
	s = lookup(f, ap, true);
	va_end(ap);
	if (s)
		set_d(&s->v, v);
}

void px_metric_observe(struct px_metric *f, double v, ...)
{
	struct series *s;
	va_list ap;
	int i;

	if (!f || f->type != HISTOGRAM || isnan(v))
		return;
	va_start(ap, v);
	s = lookup(f, ap, true);
	va_end(ap);
	if (!s)
		return;
	for (i = 0; i < f->nbounds && v > f->bounds[i]; i++)
		;
	atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
	add_d(&s->v, v);
}

static uint64_t hist_count(const struct px_metric *f, struct series *s)
{
	uint64_t n = 0;

	for (int i = 0; i <= f->nbounds; i++)
		n += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
	return n;
}

double px_metric_value(struct px_metric *f, ...)
{
	struct series *s;
	va_list ap;

	if (!f)
		return 0;
	if (f->fn)
		return f->fn(f->arg);
	va_start(ap, f);
	s = lookup(f, ap, false);
	va_end(ap);
	if (!s)
		return 0;
	return f->type == HISTOGRAM ? (double)hist_count(f, s) : load_d(&s->v);
}

/* --- exposition --- */

/* The shortest text that reads back as the same double. */
static void add_num(struct px_buf *b, double v)
{
	char tmp[40];

	if (isnan(v)) {
		px_buf_adds(b, "NaN");
		return;
	}
	if (isinf(v)) {
		px_buf_adds(b, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	px_buf_adds(b, tmp);
}

/* Label values escape backslash, double quote and newline; HELP text
 * escapes backslash and newline. */
static void add_escaped(struct px_buf *b, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			px_buf_adds(b, "\\\\");
		else if (*s == '\n')
			px_buf_adds(b, "\\n");
		else if (quote && *s == '"')
			px_buf_adds(b, "\\\"");
		else
			px_buf_add(b, s, 1);
	}
}

/* name{l1="v1",...[,le="x"]} */
static void add_series_name(struct px_buf *b, const struct px_metric *f,
			    const char *suffix, const struct series *s,
			    const char *le)
{
	px_buf_adds(b, f->name);
	px_buf_adds(b, suffix);
	if (!f->nlabels && !le)
		return;
	px_buf_adds(b, "{");
	for (int i = 0; i < f->nlabels; i++) {
		px_buf_addf(b, "%s%s=\"", i ? "," : "", f->labels[i]);
		add_escaped(b, s ? s->values[i] : "", true);
		px_buf_adds(b, "\"");
	}
	if (le)
		px_buf_addf(b, "%sle=\"%s\"", f->nlabels ? "," : "", le);
	px_buf_adds(b, "}");
}

static void render_series(struct px_buf *b, const struct px_metric *f,
			  struct series *s)
{
	uint64_t cum = 0;
	char le[40];

	if (f->type != HISTOGRAM) {
		add_series_name(b, f, "", s, NULL);
		px_buf_adds(b, " ");
		add_num(b, f->fn ? f->fn(f->arg) : s ? load_d(&s->v) : 0);
		px_buf_adds(b, "\n");
		return;
	}
	for (int i = 0; i <= f->nbounds; i++) {
		struct px_buf t;

		cum += s ? atomic_load_explicit(&s->buckets[i], memory_order_relaxed)
			 : 0;
		if (i < f->nbounds) {
			px_buf_init(&t, sizeof(le));
			add_num(&t, f->bounds[i]);
			px_strlcpy(le, t.data ? (char *)t.data : "0", sizeof(le));
			px_buf_release(&t);
		} else {
			px_strlcpy(le, "+Inf", sizeof(le));
		}
		add_series_name(b, f, "_bucket", s, le);
		px_buf_addf(b, " %llu\n", (unsigned long long)cum);
	}
	add_series_name(b, f, "_sum", s, NULL);
	px_buf_adds(b, " ");
	add_num(b, s ? load_d(&s->v) : 0);
	px_buf_adds(b, "\n");
	add_series_name(b, f, "_count", s, NULL);
	px_buf_addf(b, " %llu\n", (unsigned long long)cum);
}

int px_metrics_render(struct px_metrics *m, struct px_buf *out)
{
	static const char *types[] = {"counter", "gauge", "histogram"};

	pthread_mutex_lock(&m->lock);
	for (struct px_metric *f = m->head; f; f = f->next) {
		int n = atomic_load_explicit(&f->nseries, memory_order_acquire);

		px_buf_addf(out, "# HELP %s ", f->name);
		add_escaped(out, f->help, false);
		px_buf_addf(out, "\n# TYPE %s %s\n", f->name, types[f->type]);
		/* A family without labels shows its zero from the start. */
		if (!n && !f->nlabels)
			render_series(out, f, NULL);
		for (int i = 0; i < n; i++)
			render_series(out, f, f->series[i]);
	}
	pthread_mutex_unlock(&m->lock);
	return out->data ? 0 : PX_ENOMEM;
}
