/*
 * fsck.c - check a catalog against its originals, and repair what can be
 * repaired without guessing.
 *
 * The whole key space is read in one read transaction into sorted arrays
 * (records by id, reference counts by digest), so each cross-check is a
 * binary search and the check sees one consistent state. Originals are
 * then read once per distinct digest and hashed. The truth fsck repairs
 * towards is the set of records: reference counts, the time index, the
 * review queue and the job keys are all derived from records (as
 * catalog.c writes them), so they are rewritten to match; an original no
 * record names is an orphan; a record whose original is missing or does
 * not hash to its name cannot be fixed here and is marked "corrupt" via
 * px_catalog_moderate, which also drops its queue and job keys.
 *
 * The key layout is the one catalog.h documents; the audit log's entries
 * are checked only for their index (auditix/ keys naming an entry).
 */
#include "catalog/internal.h"
#include "catalog/maint.h"
#include "core/crypto.h"

#include <jansson.h>

/* The audit log's name for the records fsck marks corrupt. */
static const struct px_actor fsck_actor = {"fsck", "pictor fsck"};

struct frec {
	char id[PX_ID_MAX + 1];
	char sha[PX_SHA256_HEX_LEN + 1];
	char status[16];
	int64_t us;
	uint64_t bytes;
	bool has_ix, has_mq, has_job;
	bool damaged;
	bool tombstone; /* original_deleted: no bytes, no reference */
};

struct fref {
	char sha[PX_SHA256_HEX_LEN + 1];
	long count; /* -1: the value does not parse */
	bool seen;  /* some record names the digest */
};

/* A key to put (val "") or delete, collected for the repair commit. */
struct fkey {
	char key[PX_ID_MAX + 64];
	bool put;
};

struct fsck {
	struct px_catalog *cat;
	struct px_blob_store *blobs;
	struct px_kv *kv;
	bool repair;
	px_fsck_fn fn;
	void *ctx;
	struct px_fsck_stats *st;
	struct frec *recs;
	size_t nrecs, crecs;
	struct fref *refs;
	size_t nrefs, crefs;
	struct fkey *keys;
	size_t nkeys, ckeys;
	int rc; /* first allocation failure inside a scan callback */
};

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
	void *q;
	size_t c;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : 64;
	q = realloc(*p, c * size);
	if (!q)
		return PX_ENOMEM;
	*p = q;
	*cap = c;
	return 0;
}

static void report(struct fsck *f, const char *kind, const char *id,
		   const char *sha, bool problem, bool repaired,
		   const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static void report(struct fsck *f, const char *kind, const char *id,
		   const char *sha, bool problem, bool repaired,
		   const char *fmt, ...)
{
	struct px_fsck_finding fi;
	char detail[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	fi.kind = kind;
	fi.id = id ? id : "";
	fi.sha256 = sha ? sha : "";
	fi.detail = detail;
	fi.problem = problem;
	fi.repaired = repaired;
	if (problem)
		f->st->problems++;
	if (repaired)
		f->st->repaired++;
	if (f->fn)
		f->fn(f->ctx, &fi);
}

static int add_key(struct fsck *f, bool put, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int add_key(struct fsck *f, bool put, const char *fmt, ...)
{
	va_list ap;

	if (grow((void **)&f->keys, &f->ckeys, f->nkeys, sizeof(*f->keys)))
		return PX_ENOMEM;
	va_start(ap, fmt);
	vsnprintf(f->keys[f->nkeys].key, sizeof(f->keys[0].key), fmt, ap);
	va_end(ap);
	f->keys[f->nkeys++].put = put;
	return 0;
}

static int by_id(const void *a, const void *b)
{
	return strcmp(((const struct frec *)a)->id, ((const struct frec *)b)->id);
}

static int by_sha(const void *a, const void *b)
{
	const struct frec *x = a, *y = b;
	int c = strcmp(x->sha, y->sha);

	return c ? c : strcmp(x->id, y->id);
}

static int ref_cmp(const void *a, const void *b)
{
	return strcmp(((const struct fref *)a)->sha, ((const struct fref *)b)->sha);
}

/* The record with this id; recs must be sorted by id. */
static struct frec *find_rec(struct fsck *f, const char *id)
{
	struct frec k;

	px_strlcpy(k.id, id, sizeof(k.id));
	return f->nrecs ? bsearch(&k, f->recs, f->nrecs, sizeof(*f->recs), by_id)
			: NULL;
}

static struct fref *find_ref(struct fsck *f, const char *sha)
{
	struct fref k;

	px_strlcpy(k.sha, sha, sizeof(k.sha));
	return f->nrefs ? bsearch(&k, f->refs, f->nrefs, sizeof(*f->refs), ref_cmp)
			: NULL;
}

/* Copy a key into a NUL-terminated string; false if it does not fit. */
static bool key_str(char *out, size_t n, const void *key, size_t nkey)
{
	if (nkey >= n)
		return false;
	memcpy(out, key, nkey);
	out[nkey] = '\0';
	return true;
}

static int scan_rec(void *arg, const void *key, size_t nkey, const void *val,
		    size_t nval)
{
	struct fsck *f = arg;
	char k[PX_ID_MAX + 16];
	struct frec *r;
	json_t *o;
	const char *sha, *id, *status;

	if (!key_str(k, sizeof(k), key, nkey) || !px_catalog_valid_id(k + 4)) {
		report(f, "bad_record", "", "", true, false,
		       "key of %zu bytes is not img/<id>", nkey);
		return 0;
	}
	o = json_loadb(val, nval, 0, NULL);
	sha = json_string_value(json_object_get(o, "sha256"));
	id = json_string_value(json_object_get(o, "id"));
	status = json_string_value(json_object_get(o, "status"));
	if (!json_is_object(o) || !sha || !px_blob_valid_name(sha) || !id ||
	    strcmp(id, k + 4) || !status ||
	    !json_is_integer(json_object_get(o, "bytes")) ||
	    !json_is_integer(json_object_get(o, "uploaded_us"))) {
		report(f, "bad_record", k + 4, "", true, false,
		       "record does not decode");
		json_decref(o);
		return 0;
	}
	if (grow((void **)&f->recs, &f->crecs, f->nrecs, sizeof(*f->recs))) {
		json_decref(o);
		return f->rc = PX_ENOMEM;
	}
	r = &f->recs[f->nrecs++];
	memset(r, 0, sizeof(*r));
	px_strlcpy(r->id, id, sizeof(r->id));
	px_strlcpy(r->sha, sha, sizeof(r->sha));
	px_strlcpy(r->status, status, sizeof(r->status));
	r->us = json_integer_value(json_object_get(o, "uploaded_us"));
	r->bytes = (uint64_t)json_integer_value(json_object_get(o, "bytes"));
	r->tombstone = json_is_true(json_object_get(o, "original_deleted"));
	json_decref(o);
	return 0;
}

static int scan_ref(void *arg, const void *key, size_t nkey, const void *val,
		    size_t nval)
{
	struct fsck *f = arg;
	char k[96], v[32];
	struct fref *r;

	if (!key_str(k, sizeof(k), key, nkey) || !px_blob_valid_name(k + 8)) {
		report(f, "wrong_refcount", "", "", true, false,
		       "malformed reference key");
		return 0;
	}
	if (grow((void **)&f->refs, &f->crefs, f->nrefs, sizeof(*f->refs)))
		return f->rc = PX_ENOMEM;
	r = &f->refs[f->nrefs++];
	r->seen = false;
	px_strlcpy(r->sha, k + 8, sizeof(r->sha));
	r->count = key_str(v, sizeof(v), val, nval) ? strtol(v, NULL, 10) : -1;
	return 0;
}

static bool queued(const char *status)
{
	return !strcmp(status, "pending") || !strcmp(status, "flagged") ||
	       !strcmp(status, "blocked");
}

/*
 * Split "<prefix><16 hex>/<id>" into its time and id; false when the key
 * has another shape.
 */
static bool split_key(const char *k, size_t nprefix, int64_t *us,
		      const char **id)
{
	unsigned long long v;
	char *end;

	if (strlen(k) < nprefix + 18 || k[nprefix + 16] != '/')
		return false;
	v = strtoull(k + nprefix, &end, 16);
	if (end != k + nprefix + 16)
		return false;
	*us = (int64_t)v;
	*id = k + nprefix + 17;
	return true;
}

/* Keys collected in the read pass and checked once records are sorted. */
struct idx {
	char key[PX_ID_MAX + 64];
};

struct idx_list {
	struct idx *a;
	size_t n, cap;
};

static int scan_idx(void *arg, const void *key, size_t nkey, const void *val,
		    size_t nval)
{
	struct idx_list *l = arg;

	if (grow((void **)&l->a, &l->cap, l->n, sizeof(*l->a)))
		return PX_ENOMEM;
	if (!key_str(l->a[l->n].key, sizeof(l->a[0].key), key, nkey))
		snprintf(l->a[l->n].key, sizeof(l->a[0].key), "(long key)");
	l->n++;
	return 0;
}

static int scan_outbox(void *arg, const void *key, size_t nkey,
		       const void *val, size_t nval)
{
	struct fsck *f = arg;
	json_t *o = json_loadb(val, nval, 0, NULL);
	char k[96];

	if (!json_is_object(o)) {
		key_str(k, sizeof(k), key, PX_MIN(nkey, sizeof(k) - 1));
		report(f, "bad_outbox", "", "", true, false,
		       "event \"%s\" is not a JSON object", k);
	}
	json_decref(o);
	return 0;
}

/* Time index: ix/t/<hex>/<id> for each record, nothing else. */
static int check_ix(struct fsck *f, struct idx_list *ix)
{
	for (size_t i = 0; i < ix->n; i++) {
		const char *id;
		struct frec *r;
		int64_t us;

		if (!split_key(ix->a[i].key, 5, &us, &id) ||
		    !(r = find_rec(f, id)) || r->us != us) {
			report(f, "dangling_index", split_key(ix->a[i].key, 5, &us, &id) ? id : "",
			       "", true, f->repair, "index key \"%s\" names no record",
			       ix->a[i].key);
			if (f->repair && add_key(f, false, "%s", ix->a[i].key))
				return PX_ENOMEM;
			continue;
		}
		r->has_ix = true;
	}
	for (size_t i = 0; i < f->nrecs; i++) {
		struct frec *r = &f->recs[i];

		if (r->has_ix)
			continue;
		report(f, "missing_index", r->id, r->sha, true, f->repair,
		       "record is not in the time index");
		if (f->repair && add_key(f, true, "ix/t/%016llx/%s",
					 (unsigned long long)r->us, r->id))
			return PX_ENOMEM;
	}
	return 0;
}

/* Review queue mq/<status>/<hex>/<id> and jobs job/<hex>/<id>. */
static int check_queues(struct fsck *f, struct idx_list *mq,
			struct idx_list *jobs)
{
	for (size_t i = 0; i < mq->n; i++) {
		const char *k = mq->a[i].key, *slash = strchr(k + 3, '/'), *id;
		char status[16];
		struct frec *r = NULL;
		int64_t us;

		if (slash && (size_t)(slash - (k + 3)) < sizeof(status)) {
			snprintf(status, sizeof(status), "%.*s",
				 (int)(slash - (k + 3)), k + 3);
			if (split_key(k, (size_t)(slash + 1 - k), &us, &id) &&
			    (r = find_rec(f, id)) &&
			    (r->us != us || strcmp(r->status, status)))
				r = NULL;
		}
		if (!r) {
			report(f, "stale_queue", "", "", true, f->repair,
			       "queue key \"%s\" does not match a record", k);
			if (f->repair && add_key(f, false, "%s", k))
				return PX_ENOMEM;
			continue;
		}
		r->has_mq = true;
	}
	for (size_t i = 0; i < jobs->n; i++) {
		const char *k = jobs->a[i].key, *id;
		struct frec *r = NULL;
		int64_t us;

		if (split_key(k, 4, &us, &id) && (r = find_rec(f, id)) &&
		    (r->us != us || strcmp(r->status, "pending")))
			r = NULL;
		if (!r) {
			report(f, "stale_job", "", "", true, f->repair,
			       "job key \"%s\" does not match a pending record", k);
			if (f->repair && add_key(f, false, "%s", k))
				return PX_ENOMEM;
			continue;
		}
		r->has_job = true;
	}
	for (size_t i = 0; i < f->nrecs; i++) {
		struct frec *r = &f->recs[i];
		unsigned long long us = (unsigned long long)r->us;

		if (queued(r->status) && !r->has_mq) {
			report(f, "missing_queue", r->id, r->sha, true, f->repair,
			       "%s record is not in the review queue", r->status);
			if (f->repair &&
			    add_key(f, true, "mq/%s/%016llx/%s", r->status, us, r->id))
				return PX_ENOMEM;
		}
		if (!strcmp(r->status, "pending") && !r->has_job) {
			report(f, "missing_job", r->id, r->sha, true, f->repair,
			       "pending record has no classification job");
			if (f->repair &&
			    add_key(f, true, "job/%016llx/%s", us, r->id))
				return PX_ENOMEM;
		}
	}
	return 0;
}

/*
 * Originals: read each distinct digest once (records sorted by digest)
 * and compare length and hash with every record that names it.
 */
static int check_originals(struct fsck *f, struct px_errbuf *eb)
{
	struct px_buf data;
	int rc = 0;

	px_buf_init(&data, 0);
	for (size_t i = 0, j; i < f->nrecs; i = j) {
		char hex[PX_SHA256_HEX_LEN + 1];
		const char *kind = NULL;
		struct px_errbuf geb = {0};

		size_t live = 0;

		for (j = i + 1; j < f->nrecs && !strcmp(f->recs[j].sha, f->recs[i].sha); j++)
			;
		for (size_t k = i; k < j; k++)
			live += !f->recs[k].tombstone;
		if (!live)
			continue; /* tombstones only: no bytes expected */
		data.len = 0;
		rc = px_blob_get(f->blobs, f->recs[i].sha, &data, &geb);
		if (rc == PX_ENOTFOUND) {
			kind = "missing_original";
		} else if (rc == PX_ECORRUPT) {
			/* a store that checks what it reads (S3) refuses bytes
			 * that do not hash to their name */
			kind = "checksum_mismatch";
			snprintf(hex, sizeof(hex), "something else");
		} else if (rc) {
			rc = px_errf(eb, rc, "%s", geb.msg);
			goto out;
		} else {
			f->st->originals++;
			f->st->bytes += data.len;
			if ((rc = px_sha256_hex(data.data, data.len, hex)))
				goto out;
			if (strcmp(hex, f->recs[i].sha))
				kind = "checksum_mismatch";
		}
		rc = 0;
		for (size_t k = i; k < j; k++) {
			struct frec *r = &f->recs[k];
			const char *why = kind;

			if (r->tombstone)
				continue;
			if (!why && r->bytes != data.len)
				why = "length_mismatch";
			if (!strcmp(r->status, "corrupt")) {
				f->st->corrupt++;
				report(f, "corrupt", r->id, r->sha, false, false,
				       "marked corrupt; not served");
				continue;
			}
			if (!why)
				continue;
			r->damaged = true;
			if (!strcmp(why, "missing_original"))
				report(f, why, r->id, r->sha, true, f->repair,
				       "original is missing%s",
				       f->repair ? "; marked corrupt" : "");
			else if (!strcmp(why, "checksum_mismatch"))
				report(f, why, r->id, r->sha, true, f->repair,
				       "original hashes to %s%s", hex,
				       f->repair ? "; marked corrupt" : "");
			else
				report(f, why, r->id, r->sha, true, f->repair,
				       "original has %zu bytes, record says %llu%s",
				       data.len, (unsigned long long)r->bytes,
				       f->repair ? "; marked corrupt" : "");
		}
	}
out:
	px_buf_release(&data);
	return rc;
}

/* Reference counts: one per record naming the digest, no others. */
static int check_refs(struct fsck *f)
{
	for (size_t i = 0, j; i < f->nrecs; i = j) {
		struct fref *ref = find_ref(f, f->recs[i].sha);
		long want;

		for (j = i + 1; j < f->nrecs && !strcmp(f->recs[j].sha, f->recs[i].sha); j++)
			;
		want = 0;
		for (size_t k = i; k < j; k++)
			want += !f->recs[k].tombstone;
		if (!want)
			continue; /* an unseen reference is reported below */
		if (ref)
			ref->seen = true;
		if (ref && ref->count == want)
			continue;
		report(f, "wrong_refcount", f->recs[i].id, f->recs[i].sha, true,
		       f->repair, "reference count %ld, %ld record%s name%s it",
		       ref ? ref->count : 0L, want, want == 1 ? "" : "s",
		       want == 1 ? "s" : "");
		if (f->repair && add_key(f, true, "blobref/%s=%ld", f->recs[i].sha, want))
			return PX_ENOMEM;
	}
	for (size_t i = 0; i < f->nrefs; i++) {
		if (f->refs[i].seen)
			continue;
		report(f, "wrong_refcount", "", f->refs[i].sha, true, f->repair,
		       "reference count %ld, no record names it",
		       f->refs[i].count);
		if (f->repair && add_key(f, false, "blobref/%s", f->refs[i].sha))
			return PX_ENOMEM;
	}
	return 0;
}

struct orphan_state {
	struct fsck *f;
	char (*a)[PX_SHA256_HEX_LEN + 1];
	size_t n, cap;
};

static int list_blob(void *arg, const char *hex)
{
	struct orphan_state *o = arg;

	if (grow((void **)&o->a, &o->cap, o->n, sizeof(*o->a)))
		return o->f->rc = PX_ENOMEM;
	memcpy(o->a[o->n++], hex, PX_SHA256_HEX_LEN + 1);
	return 0;
}

static int check_orphans(struct fsck *f, struct px_errbuf *eb)
{
	struct orphan_state o = {f, NULL, 0, 0};
	struct frec k;
	int rc;

	/* Collect first: removing while the backend walks its directories
	 * would change what it walks. */
	rc = px_blob_list(f->blobs, list_blob, &o, eb);
	if (!rc)
		rc = f->rc;
	for (size_t i = 0; !rc && i < o.n; i++) {
		size_t lo = 0, hi = f->nrecs;

		px_strlcpy(k.sha, o.a[i], sizeof(k.sha));
		while (lo < hi) { /* first record with sha >= k.sha */
			size_t mid = (lo + hi) / 2;

			if (strcmp(f->recs[mid].sha, k.sha) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < f->nrecs && !strcmp(f->recs[lo].sha, k.sha))
			continue;
		report(f, "orphan", "", o.a[i], true, f->repair,
		       "no record names this original%s",
		       f->repair ? "; removed" : "");
		if (f->repair)
			px_blob_del(f->blobs, o.a[i], NULL);
	}
	free(o.a);
	return rc;
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct idx *)a)->key, ((const struct idx *)b)->key);
}

/* Audit index: auditix/<image>/<entry> names an existing audit/<entry>
 * (the entries outlive their image; retention removes both keys). */
static int check_audit(struct fsck *f, struct idx_list *audit,
		       struct idx_list *auditix)
{
	if (audit->n)
		qsort(audit->a, audit->n, sizeof(*audit->a), key_cmp);
	for (size_t i = 0; i < auditix->n; i++) {
		const char *k = auditix->a[i].key, *entry = strrchr(k, '/');
		struct idx want;

		snprintf(want.key, sizeof(want.key), "audit/%s", entry ? entry + 1 : "");
		if (entry && audit->n &&
		    bsearch(&want, audit->a, audit->n, sizeof(*audit->a), key_cmp))
			continue;
		report(f, "dangling_audit_index", "", "", true, f->repair,
		       "audit index key \"%s\" names no entry", k);
		if (f->repair && add_key(f, false, "%s", k))
			return PX_ENOMEM;
	}
	return 0;
}

/* Write the collected key fixes in one transaction. */
static int apply_keys(struct fsck *f, struct px_errbuf *eb)
{
	struct px_kv_txn *txn = NULL;
	int rc;

	if (!f->nkeys)
		return 0;
	if ((rc = px_kv_begin(f->kv, 0, &txn, eb)))
		return rc;
	for (size_t i = 0; i < f->nkeys; i++) {
		char *k = f->keys[i].key, *eq = strchr(k, '=');

		if (!f->keys[i].put) {
			rc = px_kv_dels(txn, k, eb);
			if (rc == PX_ENOTFOUND)
				rc = 0;
		} else if (eq) { /* "blobref/<sha>=<count>" */
			*eq = '\0';
			rc = px_kv_puts(txn, k, eq + 1, strlen(eq + 1), 0, eb);
		} else {
			rc = px_kv_puts(txn, k, "", 0, 0, eb);
		}
		if (rc)
			goto out;
	}
	/* Records changed behind the catalog: its counts are rebuilt. */
	if ((rc = px_catalog_counts_forget(txn, eb)))
		goto out;
	rc = px_kv_commit(txn, eb);
	txn = NULL;
out:
	px_kv_abort(txn);
	return rc;
}

/* Mark damaged records corrupt through the catalog. */
static int mark_corrupt(struct fsck *f, struct px_errbuf *eb)
{
	struct px_catalog *cat = f->cat;
	char audit[160];
	int rc = 0;

	for (size_t i = 0; i < f->nrecs && !rc; i++) {
		if (!f->recs[i].damaged)
			continue;
		snprintf(audit, sizeof(audit),
			 "{\"action\":\"corrupt\",\"by\":\"fsck\",\"at\":%lld}",
			 (long long)(px_wall_us() / 1000000));
		{
			struct px_decision d = {.status = "corrupt",
						.review = audit,
						.who = &fsck_actor};

			rc = px_catalog_moderate(cat, f->recs[i].id, &d, NULL, eb);
		}
	}
	return rc;
}

int px_catalog_fsck(struct px_catalog *cat, bool repair, px_fsck_fn fn,
		    void *ctx, struct px_fsck_stats *stats,
		    struct px_errbuf *eb)
{
	struct fsck f;
	struct idx_list ix = {0}, mq = {0}, jobs = {0}, audit = {0}, auditix = {0};
	struct px_kv_txn *txn = NULL;
	int rc;

	memset(&f, 0, sizeof(f));
	memset(stats, 0, sizeof(*stats));
	f.cat = cat;
	f.blobs = px_catalog_blobs(cat);
	f.kv = px_catalog_kv(cat);
	f.repair = repair;
	f.fn = fn;
	f.ctx = ctx;
	f.st = stats;

	if ((rc = px_kv_begin(f.kv, PX_KV_RDONLY, &txn, eb)))
		goto out;
	if ((rc = px_kv_scan(txn, "img/", 4, NULL, 0, 0, scan_rec, &f, eb)) ||
	    (rc = px_kv_scan(txn, "blobref/", 8, NULL, 0, 0, scan_ref, &f, eb)) ||
	    (rc = px_kv_scan(txn, "ix/t/", 5, NULL, 0, 0, scan_idx, &ix, eb)) ||
	    (rc = px_kv_scan(txn, "mq/", 3, NULL, 0, 0, scan_idx, &mq, eb)) ||
	    (rc = px_kv_scan(txn, "job/", 4, NULL, 0, 0, scan_idx, &jobs, eb)) ||
	    (rc = px_kv_scan(txn, "outbox/", 7, NULL, 0, 0, scan_outbox, &f, eb)) ||
	    (rc = px_kv_scan(txn, "audit/", 6, NULL, 0, 0, scan_idx, &audit, eb)) ||
	    (rc = px_kv_scan(txn, "auditix/", 8, NULL, 0, 0, scan_idx, &auditix, eb)))
		goto out;
	px_kv_abort(txn);
	txn = NULL;
	stats->records = f.nrecs;

	if (f.nrecs)
		qsort(f.recs, f.nrecs, sizeof(*f.recs), by_id);
	if (f.nrefs)
		qsort(f.refs, f.nrefs, sizeof(*f.refs), ref_cmp);
	if ((rc = check_ix(&f, &ix)) || (rc = check_queues(&f, &mq, &jobs)) ||
	    (rc = check_audit(&f, &audit, &auditix)))
		goto out;
	if (f.nrecs)
		qsort(f.recs, f.nrecs, sizeof(*f.recs), by_sha);
	if ((rc = check_originals(&f, eb)) || (rc = check_refs(&f)))
		goto out;
	if ((rc = check_orphans(&f, eb)))
		goto out;
	if (repair) {
		/* Key fixes first: marking a record corrupt rewrites its
		 * queue keys, which must already match the record. */
		if ((rc = apply_keys(&f, eb)) || (rc = mark_corrupt(&f, eb)))
			goto out;
	}
out:
	if (rc == PX_ENOMEM && eb && !eb->msg[0])
		px_errf(eb, rc, "out of memory");
	px_kv_abort(txn);
	free(f.recs);
	free(f.refs);
	free(f.keys);
	free(ix.a);
	free(mq.a);
	free(jobs.a);
	free(audit.a);
	free(auditix.a);
	return rc;
}
