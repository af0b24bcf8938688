/*
 * scrub.c - the daemon's background scrub: re-read every record's
 * original, hash it, compare with its name, at a bounded rate; start over
 * after each pass. Disks rot silently; a scrub finds it while a backup
 * still holds good bytes (ZFS and Ceph scrub for the same reason).
 *
 * The walk goes through img/ keys in pages of PAGE records, each page in
 * its own short read transaction, resuming after the last key seen, so
 * the scrub never pins old LMDB pages for long and sees uploads and
 * deletes as they happen. A record deleted between the page read and the
 * blob read shows up as a missing original; it is re-checked in a fresh
 * transaction before being reported, so deletes are not findings.
 *
 * Rate: after each original the thread sleeps until bytes/rate seconds
 * have passed since the pass began (minus time already spent), so the
 * average read rate stays under `rate` bytes per second. The sleep is a
 * timed wait on a condition variable, so stopping is immediate. Findings
 * go to the log (by id) and to the metrics; fixing is `pictor fsck
 * --repair`'s job, run with the daemon stopped.
 */
#include "catalog/internal.h"
#include "catalog/maint.h"
#include "core/crypto.h"
#include "core/log.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define PAGE 64

struct item {
	char id[PX_ID_MAX + 1];
	char sha[PX_SHA256_HEX_LEN + 1];
	uint64_t bytes;
};

struct px_scrub {
	struct px_blob_store *blobs;
	struct px_kv *kv;
	uint64_t rate;
	int64_t interval_us; /* from one pass's start to the next's */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	atomic_ullong bytes, originals, passes, errors;
	atomic_ullong pass_done, pass_total; /* records, this pass */
	struct px_metric *m_bytes, *m_originals, *m_passes, *m_errors;
};

struct page {
	struct item a[PAGE];
	int n;
	char last[PX_ID_MAX + 8]; /* last key seen, "img/<id>" */
	bool more;
};

static int page_one(void *arg, const void *key, size_t nkey, const void *val,
		    size_t nval)
{
	struct page *p = arg;
	json_t *o;
	const char *sha, *status;

	if (nkey >= sizeof(p->last))
		return 0;
	if (p->last[0] && nkey == strlen(p->last) && !memcmp(key, p->last, nkey))
		return 0; /* the resume key itself */
	if (p->n == PAGE) {
		p->more = true;
		return 1;
	}
	memcpy(p->last, key, nkey);
	p->last[nkey] = '\0';
	o = json_loadb(val, nval, 0, NULL);
	sha = json_string_value(json_object_get(o, "sha256"));
	status = json_string_value(json_object_get(o, "status"));
	/* corrupt records are known bad; undecodable ones are fsck's */
	if (sha && px_blob_valid_name(sha) && status && strcmp(status, "corrupt")) {
		struct item *it = &p->a[p->n++];

		px_strlcpy(it->id, p->last + 4, sizeof(it->id));
		px_strlcpy(it->sha, sha, sizeof(it->sha));
		it->bytes = (uint64_t)json_integer_value(json_object_get(o, "bytes"));
	}
	json_decref(o);
	return 0;
}

static int count_one(void *ctx, const void *key, size_t nkey, const void *val,
		     size_t nval)
{
	(*(uint64_t *)ctx)++;
	return 0;
}

/* Sleep until deadline (monotonic µs) or stop; true when stopping. */
static bool wait_until(struct px_scrub *s, int64_t deadline_us)
{
	struct timespec ts;
	bool stop;

	pthread_mutex_lock(&s->lock);
	while (!s->stop && px_mono_us() < deadline_us) {
		int64_t left = deadline_us - px_mono_us();

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += left / 1000000;
		ts.tv_nsec += (left % 1000000) * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&s->wake, &s->lock, &ts);
	}
	stop = s->stop;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

/* Does the record still exist and name sha? (deletes are not findings) */
static bool still_there(struct px_scrub *s, const struct item *it)
{
	struct px_kv_txn *txn;
	struct px_buf b;
	char key[PX_ID_MAX + 8];
	bool there = false;

	px_buf_init(&b, 0);
	snprintf(key, sizeof(key), "img/%s", it->id);
	if (px_kv_begin(s->kv, PX_KV_RDONLY, &txn, NULL) == 0) {
		if (px_kv_gets(txn, key, &b, NULL) == 0) {
			json_t *o = json_loadb((const char *)b.data, b.len, 0, NULL);
			const char *sha = json_string_value(json_object_get(o, "sha256"));

			there = sha && !strcmp(sha, it->sha);
			json_decref(o);
		}
		px_kv_abort(txn);
	}
	px_buf_release(&b);
	return there;
}

static void finding(struct px_scrub *s, const struct item *it,
		    const char *kind, const char *detail)
{
	struct px_buf f;

	atomic_fetch_add(&s->errors, 1);
	px_metric_add(s->m_errors, 1, kind);
	px_buf_init(&f, 0);
	px_buf_adds(&f, "\"id\":");
	px_json_quote(&f, it->id);
	px_buf_addf(&f, ",\"sha256\":\"%s\",\"finding\":\"%s\",\"detail\":",
		    it->sha, kind);
	px_json_quote(&f, detail);
	px_log(PX_LOG_WARN, "scrub: damaged original (run pictor fsck)",
	       (const char *)f.data);
	px_buf_release(&f);
}

/* Check one original; returns the bytes read. */
static uint64_t check(struct px_scrub *s, const struct item *it,
		      struct px_buf *data)
{
	char hex[PX_SHA256_HEX_LEN + 1], detail[160];
	int rc;

	data->len = 0;
	rc = px_blob_get(s->blobs, it->sha, data, NULL);
	if (rc == PX_ENOTFOUND) {
		if (still_there(s, it))
			finding(s, it, "missing_original", "original is missing");
		return 0;
	}
	if (rc == PX_ECORRUPT) {
		/* a store that checks what it reads (S3) refused the bytes */
		finding(s, it, "checksum_mismatch",
			"original does not hash to its name");
		return 0;
	}
	if (rc) {
		finding(s, it, "unreadable", "original cannot be read");
		return 0;
	}
	atomic_fetch_add(&s->originals, 1);
	atomic_fetch_add(&s->bytes, data->len);
	px_metric_add(s->m_originals, 1);
	px_metric_add(s->m_bytes, (double)data->len);
	if (px_sha256_hex(data->data, data->len, hex) == 0 &&
	    strcmp(hex, it->sha)) {
		snprintf(detail, sizeof(detail), "original hashes to %s", hex);
		finding(s, it, "checksum_mismatch", detail);
	} else if (data->len != it->bytes) {
		snprintf(detail, sizeof(detail),
			 "original has %zu bytes, record says %llu", data->len,
			 (unsigned long long)it->bytes);
		finding(s, it, "length_mismatch", detail);
	}
	return data->len;
}

static void *scrub_main(void *arg)
{
	struct px_scrub *s = arg;
	struct px_buf data;
	struct page *p = malloc(sizeof(*p));

	px_buf_init(&data, 0);
	while (p) {
		int64_t t0 = px_mono_us();
		uint64_t pass_bytes = 0, total = 0;
		struct px_kv_txn *txn;

		if (px_kv_begin(s->kv, PX_KV_RDONLY, &txn, NULL) == 0) {
			px_kv_scan(txn, "img/", 4, NULL, 0, 0, count_one, &total, NULL);
			px_kv_abort(txn);
		}
		atomic_store(&s->pass_total, total);
		atomic_store(&s->pass_done, 0);
		memset(p, 0, sizeof(*p));
		do {
			const char *start = p->last[0] ? p->last : NULL;

			p->n = 0;
			p->more = false;
			if (px_kv_begin(s->kv, PX_KV_RDONLY, &txn, NULL))
				break;
			px_kv_scan(txn, "img/", 4, start, start ? strlen(start) : 0,
				   0, page_one, p, NULL);
			px_kv_abort(txn);
			for (int i = 0; i < p->n; i++) {
				pass_bytes += check(s, &p->a[i], &data);
				atomic_fetch_add(&s->pass_done, 1);
				if (wait_until(s, t0 + (int64_t)(pass_bytes * 1000000.0 /
								 (double)s->rate)))
					goto out;
			}
		} while (p->more);
		atomic_fetch_add(&s->passes, 1);
		px_metric_add(s->m_passes, 1);
		px_logf(PX_LOG_DEBUG, "scrub pass complete: %llu records, %llu bytes, "
				     "%llu findings so far",
			(unsigned long long)total, (unsigned long long)pass_bytes,
			(unsigned long long)atomic_load(&s->errors));
		/* Rest until the interval since this pass began has passed,
		 * so a small store is not re-read over and over. */
		if (wait_until(s, PX_MAX(px_mono_us(), t0 + s->interval_us)))
			break;
	}
out:
	free(p);
	px_buf_release(&data);
	return NULL;
}

static double progress(void *arg)
{
	struct px_scrub *s = arg;
	uint64_t total = atomic_load(&s->pass_total);

	return total ? (double)atomic_load(&s->pass_done) / (double)total : 1.0;
}

int px_scrub_start(struct px_catalog *cat, uint64_t rate, long interval_s,
		   struct px_metrics *metrics, struct px_scrub **out,
		   struct px_errbuf *eb)
{
	struct px_scrub *s;

	*out = NULL;
	if (rate == 0)
		return 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return px_errf(eb, PX_ENOMEM, "out of memory");
	s->blobs = px_catalog_blobs(cat);
	s->kv = px_catalog_kv(cat);
	s->rate = rate;
	s->interval_us = (int64_t)PX_MAX(interval_s, 1L) * 1000000;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	if (metrics) {
		s->m_bytes = px_metrics_counter(metrics, "pictor_scrub_read_bytes_total",
						"bytes of originals re-read and hashed by the scrub", NULL);
		s->m_originals = px_metrics_counter(metrics, "pictor_scrub_originals_total",
						    "originals checked by the scrub", NULL);
		s->m_passes = px_metrics_counter(metrics, "pictor_scrub_passes_total",
						 "full scrub passes completed", NULL);
		s->m_errors = px_metrics_counter(metrics, "pictor_scrub_findings_total",
						 "damaged originals found by the scrub", "finding");
		px_metrics_gauge_fn(metrics, "pictor_scrub_pass_progress_ratio",
				    "fraction of records checked in the current pass",
				    progress, s);
	}
	if (pthread_create(&s->thread, NULL, scrub_main, s)) {
		pthread_mutex_destroy(&s->lock);
		pthread_cond_destroy(&s->wake);
		free(s);
		return px_errf(eb, PX_EINTERNAL, "cannot start the scrub thread");
	}
	*out = s;
	return 0;
}

void px_scrub_stop(struct px_scrub *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->wake);
	free(s);
}

void px_scrub_stats(struct px_scrub *s, struct px_scrub_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!s)
		return;
	out->bytes = atomic_load(&s->bytes);
	out->originals = atomic_load(&s->originals);
	out->passes = atomic_load(&s->passes);
	out->errors = atomic_load(&s->errors);
}
