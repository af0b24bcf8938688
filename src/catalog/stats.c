/*
 * stats.c - counts of images by status and by upload hour, kept by the
 * catalog in the transaction that changes a status: what GET /v1/stats
 * reports without reading every record.
 *
 * kv layout: stat/n/<status> -> count (decimal) and stat/h/<16 hex hour
 * number> -> images uploaded in that clock hour and still held, both
 * adjusted wherever the catalog adds or removes a status's review-queue
 * keys (status_keys in catalog.c: upload, decision, delete), so a count
 * commits with the record it counts. stat/built marks the counts as
 * complete: a store written before counts existed, or repaired by fsck
 * (which removes the marker), gets them rebuilt once from the records,
 * in one write transaction, on the first read.
 */
#include "catalog/catalog.h"
#include "catalog/internal.h"

#include <jansson.h>

#define BUILT_KEY "stat/built"
#define COUNT_PREFIX "stat/n/"
#define HOUR_PREFIX "stat/h/"
#define HOUR_US 3600000000LL
#define STATUS_MAX 16

/* Add delta to the decimal count at key. */
static int add_to(struct px_kv_txn *txn, const char *key, int delta,
		  struct px_errbuf *eb)
{
	struct px_buf b;
	char val[32];
	long long n = 0;
	int rc;

	px_buf_init(&b, 32);
	rc = px_kv_gets(txn, key, &b, eb);
	if (rc == 0 && px_buf_add(&b, "", 1) == 0)
		n = strtoll((const char *)b.data, NULL, 10);
	else if (rc != PX_ENOTFOUND)
		goto out;
	n += delta;
	if (n <= 0) {
		rc = px_kv_dels(txn, key, eb);
		if (rc == PX_ENOTFOUND)
			rc = 0;
	} else {
		snprintf(val, sizeof(val), "%lld", n);
		rc = px_kv_puts(txn, key, val, strlen(val), 0, eb);
	}
out:
	px_buf_release(&b);
	return rc;
}

static void hour_key(char *k, size_t n, int64_t hour)
{
	snprintf(k, n, HOUR_PREFIX "%016llx", (unsigned long long)hour);
}

int px_catalog_count_adjust(struct px_kv_txn *txn, const char *status,
			    int64_t uploaded_us, int delta,
			    struct px_errbuf *eb)
{
	char key[sizeof(COUNT_PREFIX) + 32];
	int rc;

	if (!status[0] || strlen(status) >= STATUS_MAX)
		return 0;
	snprintf(key, sizeof(key), COUNT_PREFIX "%s", status);
	if ((rc = add_to(txn, key, delta, eb)))
		return rc;
	hour_key(key, sizeof(key), uploaded_us / HOUR_US);
	return add_to(txn, key, delta, eb);
}

int px_catalog_counts_forget(struct px_kv_txn *txn, struct px_errbuf *eb)
{
	int rc = px_kv_dels(txn, BUILT_KEY, eb);

	return rc == PX_ENOTFOUND ? 0 : rc;
}

/* A status's slot in the counts; NULL for one not reported alone. */
static uint64_t *slot(struct px_catalog_counts *c, const char *s, size_t n)
{
	static const char *const names[] = {"approved", "pending", "flagged",
					    "blocked"};
	uint64_t *slots[] = {&c->approved, &c->pending, &c->flagged,
			     &c->blocked};

	for (size_t i = 0; i < PX_ARRAY_LEN(names); i++)
		if (strlen(names[i]) == n && !memcmp(names[i], s, n))
			return slots[i];
	return &c->other;
}

static int read_count(void *ctx, const void *k, size_t nk, const void *v,
		      size_t nv)
{
	struct px_catalog_counts *c = ctx;
	char num[32];
	uint64_t n;

	if (nv >= sizeof(num))
		return 0;
	memcpy(num, v, nv);
	num[nv] = '\0';
	n = strtoull(num, NULL, 10);
	*slot(c, (const char *)k + strlen(COUNT_PREFIX),
	      nk - strlen(COUNT_PREFIX)) += n;
	c->total += n;
	return 0;
}

/* The rebuild: every record's status, counted. */
struct tally {
	char status[64][STATUS_MAX];
	uint64_t n[64];
	int used;
	int64_t *hours; /* every record's upload hour */
	size_t nhours, cap;
	bool nomem;
};

static int tally_one(void *ctx, const void *k, size_t nk, const void *v,
		     size_t nv)
{
	struct tally *t = ctx;
	json_t *o = json_loadb(v, nv, 0, NULL);
	const char *s = json_string_value(json_object_get(o, "status"));
	int i;

	if (!s || !s[0] || strlen(s) >= STATUS_MAX)
		s = "unknown";
	for (i = 0; i < t->used; i++)
		if (!strcmp(t->status[i], s))
			break;
	if (i == t->used && t->used < 64)
		px_strlcpy(t->status[t->used++], s, STATUS_MAX);
	if (i < t->used)
		t->n[i]++;
	if (t->nhours == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 1024;
		int64_t *p = realloc(t->hours, cap * sizeof(*p));

		if (!p) {
			json_decref(o);
			return PX_ENOMEM;
		}
		t->hours = p;
		t->cap = cap;
	}
	t->hours[t->nhours++] =
		json_integer_value(json_object_get(o, "uploaded_us")) / HOUR_US;
	json_decref(o);
	return 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int collect_key(void *ctx, const void *k, size_t nk, const void *v,
		       size_t nv)
{
	struct px_buf *keys = ctx;

	return px_buf_add(keys, k, nk) || px_buf_add(keys, "", 1) ? PX_ENOMEM : 0;
}

static int rebuild(struct px_kv *kv, struct px_errbuf *eb)
{
	struct px_kv_txn *txn = NULL;
	struct tally *t = calloc(1, sizeof(*t));
	struct px_buf keys, b;
	char key[64], val[32];
	int rc;

	px_buf_init(&keys, 0);
	px_buf_init(&b, 16);
	if (!t)
		return px_errf(eb, PX_ENOMEM, "out of memory");
	if ((rc = px_kv_begin(kv, 0, &txn, eb)))
		goto out;
	/* Another request may have rebuilt them meanwhile. */
	rc = px_kv_gets(txn, BUILT_KEY, &b, eb);
	if (rc != PX_ENOTFOUND)
		goto out;
	if ((rc = px_kv_scan(txn, COUNT_PREFIX, strlen(COUNT_PREFIX), NULL, 0, 0,
			     collect_key, &keys, eb)) ||
	    (rc = px_kv_scan(txn, HOUR_PREFIX, strlen(HOUR_PREFIX), NULL, 0, 0,
			     collect_key, &keys, eb)))
		goto out;
	for (size_t off = 0; off < keys.len; off += strlen((char *)keys.data + off) + 1)
		if ((rc = px_kv_dels(txn, (char *)keys.data + off, eb)))
			goto out;
	if ((rc = px_kv_scan(txn, "img/", 4, NULL, 0, 0, tally_one, t, eb)))
		goto out;
	for (int i = 0; i < t->used; i++) {
		snprintf(key, sizeof(key), COUNT_PREFIX "%s", t->status[i]);
		snprintf(val, sizeof(val), "%llu", (unsigned long long)t->n[i]);
		if ((rc = px_kv_puts(txn, key, val, strlen(val), 0, eb)))
			goto out;
	}
	if (t->nhours) /* qsort is never handed NULL */
		qsort(t->hours, t->nhours, sizeof(*t->hours), cmp_i64);
	for (size_t i = 0, j; i < t->nhours; i = j) {
		for (j = i; j < t->nhours && t->hours[j] == t->hours[i]; j++)
			;
		hour_key(key, sizeof(key), t->hours[i]);
		snprintf(val, sizeof(val), "%zu", j - i);
		if ((rc = px_kv_puts(txn, key, val, strlen(val), 0, eb)))
			goto out;
	}
	if ((rc = px_kv_puts(txn, BUILT_KEY, "1", 1, 0, eb)))
		goto out;
	rc = px_kv_commit(txn, eb);
	txn = NULL;
out:
	px_kv_abort(txn);
	px_buf_release(&keys);
	px_buf_release(&b);
	if (t)
		free(t->hours);
	free(t);
	return rc;
}

int px_catalog_counts(struct px_catalog *c, struct px_catalog_counts *out,
		      struct px_errbuf *eb)
{
	struct px_kv *kv = px_catalog_kv(c);
	struct px_kv_txn *txn;
	struct px_buf b;
	int rc, tries;

	px_buf_init(&b, 16);
	for (tries = 0; tries < 2; tries++) {
		memset(out, 0, sizeof(*out));
		if ((rc = px_kv_begin(kv, PX_KV_RDONLY, &txn, eb)))
			break;
		rc = px_kv_gets(txn, BUILT_KEY, &b, eb);
		if (rc == 0)
			rc = px_kv_scan(txn, COUNT_PREFIX, strlen(COUNT_PREFIX),
					NULL, 0, 0, read_count, out, eb);
		px_kv_abort(txn);
		if (rc != PX_ENOTFOUND)
			break;
		if ((rc = rebuild(kv, eb)))
			break;
	}
	px_buf_release(&b);
	return rc < 0 ? rc : 0;
}

struct hours {
	int64_t first_hour; /* the oldest bucket's hour number */
	int n;
	uint64_t *out;
};

static int hour_one(void *ctx, const void *k, size_t nk, const void *v,
		    size_t nv)
{
	struct hours *h = ctx;
	char text[32];
	int64_t hour;

	if (nk != strlen(HOUR_PREFIX) + 16 || nv >= sizeof(text))
		return 0;
	memcpy(text, (const char *)k + strlen(HOUR_PREFIX), 16);
	text[16] = '\0';
	hour = (int64_t)strtoull(text, NULL, 16);
	if (hour - h->first_hour >= h->n)
		return 1; /* ascending: everything after is later */
	memcpy(text, v, nv);
	text[nv] = '\0';
	if (hour >= h->first_hour)
		h->out[hour - h->first_hour] = strtoull(text, NULL, 10);
	return 0;
}

int px_catalog_uploads_hourly(struct px_catalog *c, int64_t now_us, int n,
			      uint64_t *out, struct px_errbuf *eb)
{
	struct hours h = {now_us / HOUR_US - (n - 1), n, out};
	struct px_catalog_counts counts;
	struct px_kv_txn *txn;
	char start[40];
	int rc;

	memset(out, 0, sizeof(*out) * (size_t)n);
	/* The hours are complete once the counts are (rebuilt if not). */
	if ((rc = px_catalog_counts(c, &counts, eb)))
		return rc;
	hour_key(start, sizeof(start), h.first_hour);
	if ((rc = px_kv_begin(px_catalog_kv(c), PX_KV_RDONLY, &txn, eb)))
		return rc;
	rc = px_kv_scan(txn, HOUR_PREFIX, strlen(HOUR_PREFIX), start,
			strlen(start), 0, hour_one, &h, eb);
	px_kv_abort(txn);
	return rc < 0 ? rc : 0;
}
