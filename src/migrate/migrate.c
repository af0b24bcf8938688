/*
 * migrate.c - copy every original and every metadata key from one pair
 * of stores into another (see migrate.h for the guarantees).
 *
 * Originals: the source's list, sorted, each one read, hashed against its
 * name, written create-only to the target and read back and hashed again.
 * One already in the target is read back and hashed too (an earlier run
 * wrote it), never rewritten. `jobs` threads copy originals at once (an
 * S3 store is latency-bound: each original is a HEAD, a PUT and a GET).
 *
 * Keys: the source is read in key order, `batch` keys at a time; the
 * target's keys in the same range are read alongside and the two merged:
 * a key the target lacks is written (all of a batch in one transaction),
 * one it has with the same value is counted present, one with another
 * value is a conflict and left alone. Target keys between the source's
 * are counted as extra. A second merge pass, writing nothing, then checks
 * that every source key is in the target with its exact value.
 */
#include "migrate/migrate.h"
#include "core/crypto.h"

#include <pthread.h>
#include <time.h>

#define DEFAULT_BATCH 512
#define BATCH_BYTES ((size_t)8 << 20) /* a batch stops growing past this */
#define MAX_KEY 511 /* the longest key any backend takes (kv.c) */
#define KEY_TEXT (4 * MAX_KEY + 1) /* a key in key_text() form */
#define MAX_JOBS 64

/* A key (bytes) in printable form for messages: \xHH for the rest. */
static void key_text(const void *key, size_t n, char *out, size_t cap)
{
	const unsigned char *k = key;
	size_t o = 0;

	for (size_t i = 0; i < n && o + 5 < cap; i++) {
		if (k[i] >= 0x20 && k[i] < 0x7f && k[i] != '\\')
			out[o++] = (char)k[i];
		else
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", k[i]);
	}
	out[o] = '\0';
}

static void report(const struct px_migrate_opts *o, const char *kind,
		   const char *what, const char *detail)
{
	if (o->report)
		o->report(o->ctx, kind, what, detail);
}

/* Keep operations (an original copied or checked, a batch of keys) at
 * or under opts->rate per second: the n-th waits until n / rate seconds
 * after t0. */
static void pace(const struct px_migrate_opts *o, int64_t t0, uint64_t n)
{
	int64_t due, now = px_mono_us();
	struct timespec ts;

	if (o->rate <= 0)
		return;
	due = t0 + (int64_t)((double)n * 1e6 / o->rate);
	if (due <= now)
		return;
	ts.tv_sec = (time_t)((due - now) / 1000000);
	ts.tv_nsec = (long)((due - now) % 1000000) * 1000;
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Every opts->progress_us, a "progress" line: what is done so far in
 * phase ("originals" of total, or "keys"). *last is when the previous
 * line went out (callers of the originals phase hold their lock). */
static void progress(const struct px_migrate_opts *o, int64_t *last,
		     const char *phase, const struct px_migrate_stats *st)
{
	int64_t now = px_mono_us();
	char detail[160];

	if (o->progress_us <= 0 || now - *last < o->progress_us)
		return;
	*last = now;
	if (!strcmp(phase, "originals"))
		snprintf(detail, sizeof(detail),
			 "%llu of %llu done (%llu copied, %llu present, %llu bytes)",
			 (unsigned long long)(st->copied + st->present +
					      st->damaged + st->conflicts +
					      st->mismatched),
			 (unsigned long long)st->originals,
			 (unsigned long long)st->copied,
			 (unsigned long long)st->present,
			 (unsigned long long)st->original_bytes);
	else
		snprintf(detail, sizeof(detail),
			 "%llu done (%llu copied, %llu present)",
			 (unsigned long long)st->keys,
			 (unsigned long long)st->keys_copied,
			 (unsigned long long)st->keys_present);
	report(o, "progress", phase, detail);
}

/* --- originals -------------------------------------------------------- */

/* Read hex from s into data and check it hashes to its name. */
static int get_checked(struct px_blob_store *s, const char *hex,
		       struct px_buf *data, struct px_errbuf *eb)
{
	char got[PX_SHA256_HEX_LEN + 1];
	int rc;

	data->len = 0;
	if ((rc = px_blob_get(s, hex, data, eb)))
		return rc;
	if ((rc = px_sha256_hex(data->data, data->len, got)))
		return px_errf(eb, rc, "cannot hash %s", hex);
	if (strcmp(got, hex))
		return px_errc(eb, PX_ECORRUPT, "checksum_mismatch",
			       "its bytes hash to %s", got);
	return 0;
}

/* One original. Returns 0 when it is (now) in the target and checked,
 * or when it was counted as damaged or conflicting; a negative px_err
 * when a store failed. */
static int copy_original(const struct px_stores *from,
			 const struct px_stores *to, const char *hex,
			 struct px_buf *data, const struct px_migrate_opts *o,
			 struct px_migrate_stats *st, struct px_errbuf *eb)
{
	struct px_errbuf one = {0};
	char detail[600];
	uint64_t size;
	int rc;

	rc = px_blob_stat(to->blobs, hex, &size, &one);
	if (rc == 0) {
		/* written by an earlier run (or the same image uploaded to
		 * the target already): check it, never rewrite it */
		rc = get_checked(to->blobs, hex, data, &one);
		if (rc == PX_ECORRUPT) {
			snprintf(detail, sizeof(detail), "in the target: %s",
				 one.msg);
			report(o, "conflict", hex, detail);
			st->conflicts++;
			return 0;
		}
		if (rc)
			return px_errf(eb, rc, "original %s in the target: %s",
				       hex, one.msg);
		st->present++;
		st->present_bytes += data->len;
		st->original_bytes += data->len;
		report(o, "present", hex, "");
		return 0;
	}
	if (rc != PX_ENOTFOUND)
		return px_errf(eb, rc, "original %s in the target: %s", hex,
			       one.msg);
	rc = get_checked(from->blobs, hex, data, &one);
	if (rc == PX_ECORRUPT || rc == PX_ENOTFOUND) {
		snprintf(detail, sizeof(detail), "in the source: %s (run "
			 "pictor fsck)", one.msg);
		report(o, "damaged", hex, detail);
		st->damaged++;
		return 0;
	}
	if (rc)
		return px_errf(eb, rc, "original %s in the source: %s", hex,
			       one.msg);
	st->original_bytes += data->len;
	if ((rc = px_blob_put(to->blobs, hex, data->data, data->len, &one)))
		return px_errf(eb, rc, "writing original %s: %s", hex, one.msg);
	size = data->len;
	/* read back what the target now holds */
	rc = get_checked(to->blobs, hex, data, &one);
	if (rc == 0 && data->len != size)
		rc = px_errf(&one, PX_ECORRUPT, "length %zu, not %llu",
			     data->len, (unsigned long long)size);
	if (rc == PX_ECORRUPT || rc == PX_ENOTFOUND) {
		snprintf(detail, sizeof(detail), "read back from the target: %s",
			 one.msg);
		report(o, "mismatch", hex, detail);
		st->mismatched++;
		return 0;
	}
	if (rc)
		return px_errf(eb, rc, "reading back original %s: %s", hex,
			       one.msg);
	st->copied++;
	st->copied_bytes += size;
	snprintf(detail, sizeof(detail), "%llu bytes", (unsigned long long)size);
	report(o, "copied", hex, detail);
	return 0;
}

/* The originals, shared by the copying threads. */
struct orig_run {
	const struct px_stores *from, *to;
	const struct px_migrate_opts *o;
	const struct px_blob_names *l;
	int64_t t0, last_progress;
	uint64_t *writes;
	struct px_migrate_stats *st;
	pthread_mutex_t lock; /* guards st, *writes, next, rc, eb */
	size_t next;
	int rc;
	struct px_errbuf eb;
};

static void add_stats(struct px_migrate_stats *to,
		      const struct px_migrate_stats *d)
{
	to->original_bytes += d->original_bytes;
	to->copied += d->copied;
	to->copied_bytes += d->copied_bytes;
	to->present += d->present;
	to->present_bytes += d->present_bytes;
	to->damaged += d->damaged;
	to->conflicts += d->conflicts;
	to->mismatched += d->mismatched;
}

/* One copying thread: take the next original until none is left or a
 * store failed. */
static void *orig_worker(void *arg)
{
	struct orig_run *r = arg;
	struct px_buf data;

	px_buf_init(&data, 0);
	for (;;) {
		struct px_migrate_stats d = {0};
		struct px_errbuf one = {0};
		uint64_t w = 0;
		size_t i;
		int rc;

		pthread_mutex_lock(&r->lock);
		i = r->next++;
		rc = r->rc;
		if (!rc && i < r->l->n)
			w = ++*r->writes;
		pthread_mutex_unlock(&r->lock);
		if (rc || i >= r->l->n)
			break;
		pace(r->o, r->t0, w);
		rc = copy_original(r->from, r->to, r->l->a[i], &data, r->o, &d,
				   &one);
		pthread_mutex_lock(&r->lock);
		add_stats(r->st, &d);
		progress(r->o, &r->last_progress, "originals", r->st);
		if (rc && !r->rc) {
			r->rc = rc;
			r->eb = one;
		}
		pthread_mutex_unlock(&r->lock);
	}
	px_buf_release(&data);
	return NULL;
}

static int copy_originals(const struct px_stores *from,
			  const struct px_stores *to,
			  const struct px_migrate_opts *o, int64_t t0,
			  uint64_t *writes, struct px_migrate_stats *st,
			  struct px_errbuf *eb)
{
	struct px_blob_names l = {0};
	struct orig_run r;
	pthread_t th[MAX_JOBS];
	unsigned jobs = o->jobs ? o->jobs : 1, started = 0;
	int rc;

	if (jobs > MAX_JOBS)
		jobs = MAX_JOBS;
	rc = px_blob_list(from->blobs, px_blob_names_collect, &l, eb);
	if (rc == PX_ENOMEM)
		px_errf(eb, rc, "out of memory listing originals");
	if (rc)
		goto out;
	px_blob_names_sort(&l);
	st->originals = l.n;
	memset(&r, 0, sizeof(r));
	r.from = from;
	r.to = to;
	r.o = o;
	r.l = &l;
	r.t0 = t0;
	r.last_progress = px_mono_us();
	r.writes = writes;
	r.st = st;
	pthread_mutex_init(&r.lock, NULL);
	/* this thread is the first worker */
	for (; started + 1 < jobs && started + 1 < l.n; started++)
		if (pthread_create(&th[started], NULL, orig_worker, &r))
			break;
	orig_worker(&r);
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&r.lock);
	if ((rc = r.rc) && eb)
		*eb = r.eb;
out:
	px_blob_names_release(&l);
	return rc;
}

/* --- keys ------------------------------------------------------------- */

struct kv_item {
	size_t koff, nkey, voff, nval;
};

/* Keys and values in key order, their bytes in one buffer. */
struct kv_batch {
	struct px_buf bytes;
	struct kv_item *it;
	size_t n, cap;
};

static const void *bkey(const struct kv_batch *b, size_t i)
{
	return b->bytes.data + b->it[i].koff;
}

static const void *bval(const struct kv_batch *b, size_t i)
{
	return b->bytes.data + b->it[i].voff;
}

static int batch_push(struct kv_batch *b, const void *key, size_t nkey,
		      const void *val, size_t nval)
{
	struct kv_item *e;
	int rc;

	if (b->n == b->cap) {
		size_t c = b->cap ? b->cap * 2 : 64;
		void *p = realloc(b->it, c * sizeof(*b->it));

		if (!p)
			return PX_ENOMEM;
		b->it = p;
		b->cap = c;
	}
	e = &b->it[b->n];
	e->koff = b->bytes.len;
	e->nkey = nkey;
	if ((rc = px_buf_add(&b->bytes, key, nkey)))
		return rc;
	e->voff = b->bytes.len;
	e->nval = nval;
	if (nval && (rc = px_buf_add(&b->bytes, val, nval)))
		return rc;
	b->n++;
	return 0;
}

/* Keys after `after` (exclusive; NULL: from the first) up to hi
 * (inclusive; NULL: no bound), at most max keys (0: no limit). */
struct range {
	struct kv_batch *b;
	const void *after, *hi;
	size_t nafter, nhi, max;
};

static int range_fn(void *arg, const void *key, size_t nkey, const void *val,
		    size_t nval)
{
	struct range *r = arg;

	if (r->after && px_kv_keycmp(key, nkey, r->after, r->nafter) <= 0)
		return 0;
	if (r->hi && px_kv_keycmp(key, nkey, r->hi, r->nhi) > 0)
		return 1;
	if (r->max && (r->b->n >= r->max || r->b->bytes.len >= BATCH_BYTES))
		return 1;
	return batch_push(r->b, key, nkey, val, nval);
}

static int read_range(struct px_kv *kv, struct range *r, struct px_errbuf *eb)
{
	struct px_kv_txn *txn;
	int rc;

	r->b->n = 0;
	r->b->bytes.len = 0;
	if ((rc = px_kv_begin(kv, PX_KV_RDONLY, &txn, eb)))
		return rc;
	rc = px_kv_scan(txn, "", 0, r->after, r->after ? r->nafter : 0, 0,
			range_fn, r, eb);
	px_kv_abort(txn);
	if (rc == PX_ENOMEM || rc == PX_ETOOBIG)
		px_errf(eb, rc, "out of memory reading keys");
	return rc;
}

/*
 * Merge one batch of source keys with the target's keys in the same range.
 * copy: write what the target lacks (one transaction), count conflicts
 * and extras. Otherwise (the final comparison): count every difference as
 * a mismatch.
 */
static int merge(const struct px_stores *to, const struct kv_batch *src,
		 const struct kv_batch *dst, bool copy,
		 const struct px_migrate_opts *o, struct px_migrate_stats *st,
		 struct px_errbuf *eb)
{
	struct px_kv_txn *txn = NULL;
	char what[KEY_TEXT];
	size_t j = 0;
	uint64_t written = 0;
	int rc = 0;

	for (size_t i = 0; i < src->n; i++) {
		const struct kv_item *s = &src->it[i];
		int c = 1;

		while (j < dst->n &&
		       (c = px_kv_keycmp(bkey(dst, j), dst->it[j].nkey,
					 bkey(src, i), s->nkey)) < 0) {
			if (copy)
				st->extra++;
			j++;
		}
		if (copy) {
			st->keys++;
			st->key_bytes += s->nkey + s->nval;
		}
		if (j < dst->n && c == 0) {
			bool same = dst->it[j].nval == s->nval &&
				    (!s->nval ||
				     !memcmp(bval(dst, j), bval(src, i), s->nval));

			j++;
			if (same) {
				if (copy)
					st->keys_present++;
				continue;
			}
			key_text(bkey(src, i), s->nkey, what, sizeof(what));
			report(o, copy ? "conflict" : "mismatch", what,
			       "the target holds another value");
			if (copy)
				st->conflicts++;
			else
				st->mismatched++;
			continue;
		}
		if (!copy) {
			key_text(bkey(src, i), s->nkey, what, sizeof(what));
			report(o, "mismatch", what, "missing from the target");
			st->mismatched++;
			continue;
		}
		if (!txn && (rc = px_kv_begin(to->kv, 0, &txn, eb)))
			goto out;
		if ((rc = px_kv_put(txn, bkey(src, i), s->nkey, bval(src, i),
				    s->nval, PX_KV_NOOVERWRITE, eb)))
			goto out;
		written++;
	}
	if (copy)
		st->extra += dst->n - j;
	if (txn) {
		rc = px_kv_commit(txn, eb);
		txn = NULL;
		if (rc)
			goto out;
		st->keys_copied += written;
		key_text(bkey(src, src->n - 1), src->it[src->n - 1].nkey, what,
			 sizeof(what));
		{
			char detail[64];

			snprintf(detail, sizeof(detail), "%llu keys",
				 (unsigned long long)written);
			report(o, "committed", what, detail);
		}
	}
out:
	px_kv_abort(txn);
	return rc;
}

/* One pass over every source key (see merge()). */
static int key_pass(const struct px_stores *from, const struct px_stores *to,
		    bool copy, const struct px_migrate_opts *o, int64_t t0,
		    uint64_t *writes, struct px_migrate_stats *st,
		    struct px_errbuf *eb)
{
	struct kv_batch src = {0}, dst = {0};
	unsigned char prev[MAX_KEY];
	size_t nprev = 0;
	bool have_prev = false;
	int64_t last_progress = px_mono_us();
	int rc;

	px_buf_init(&src.bytes, 0);
	px_buf_init(&dst.bytes, 0);
	for (;;) {
		struct range rs = {&src, have_prev ? prev : NULL, NULL, nprev, 0,
				   o->batch ? o->batch : DEFAULT_BATCH};
		struct range rd = {&dst, have_prev ? prev : NULL, NULL, nprev, 0,
				   0};

		if ((rc = read_range(from->kv, &rs, eb)))
			goto out;
		if (src.n) {
			rd.hi = bkey(&src, src.n - 1);
			rd.nhi = src.it[src.n - 1].nkey;
		}
		if ((rc = read_range(to->kv, &rd, eb)))
			goto out;
		if (!src.n) { /* the target's keys past the source's last */
			if (copy)
				st->extra += dst.n;
			break;
		}
		pace(o, t0, ++*writes);
		if ((rc = merge(to, &src, &dst, copy, o, st, eb)))
			goto out;
		if (copy)
			progress(o, &last_progress, "keys", st);
		nprev = src.it[src.n - 1].nkey;
		if (nprev > sizeof(prev)) {
			rc = px_errf(eb, PX_EINVAL, "key too long");
			goto out;
		}
		memcpy(prev, bkey(&src, src.n - 1), nprev);
		have_prev = true;
	}
out:
	px_buf_release(&src.bytes);
	px_buf_release(&dst.bytes);
	free(src.it);
	free(dst.it);
	return rc;
}

int px_migrate_run(const struct px_stores *from, const struct px_stores *to,
		   const struct px_migrate_opts *opts,
		   struct px_migrate_stats *st, struct px_errbuf *eb)
{
	static const struct px_migrate_opts none;
	const struct px_migrate_opts *o = opts ? opts : &none;
	int64_t t0 = px_mono_us();
	uint64_t writes = 0;
	int rc;

	memset(st, 0, sizeof(*st));
	if (!from || !to || !from->blobs || !from->kv || !to->blobs || !to->kv)
		return px_errf(eb, PX_EINVAL, "migrate needs both stores of "
				   "the source and of the target");
	/* originals before the records that name them */
	if ((rc = copy_originals(from, to, o, t0, &writes, st, eb)) ||
	    (rc = key_pass(from, to, true, o, t0, &writes, st, eb)) ||
	    (rc = key_pass(from, to, false, o, t0, &writes, st, eb)))
		goto out;
out:
	st->seconds = (double)(px_mono_us() - t0) / 1e6;
	return rc;
}
