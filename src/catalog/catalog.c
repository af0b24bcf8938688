/*
 * catalog.c - image records over the kv store, originals in the blob store.
 *
 * The one writer of records, their indexes, the review queue, the job
 * queue and the webhook outbox: every change is one kv transaction that
 * also appends its audit entry (audit.c), so what the API reports, what
 * the webhook announces and what the audit shows cannot disagree.
 */
#include "catalog/audit.h"
#include "catalog/brief.h"
#include "catalog/catalog.h"
#include "catalog/internal.h"
#include "catalog/mih.h"
#include "catalog/mihmem.h"
#include "catalog/outbox.h"
#include "catalog/recache.h"
#include "core/crypto.h"
#include "core/utf8.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define NSTRIPES 64
#define TOKEN_MAX (16 + 1 + PX_ID_MAX)

struct px_catalog {
	struct px_blob_store *blobs;
	struct px_kv *kv;
	pthread_mutex_t stripes[NSTRIPES];
	unsigned search_scan; /* misses a search page looks at */
	struct px_brief_memo *briefs; /* decoded delivery briefs (brief.h) */
	struct px_leases *leases; /* claims on background work (lease.h) */
	struct px_mihmem *mih[2];     /* memory copies of pq/ and hx/ */
	/* records of a shared store (watch.c); set once, while the store's
	 * listener may already be reading it */
	_Atomic(struct px_recache *) recache;
};

void px_catalog_set_search_scan(struct px_catalog *c, unsigned n)
{
	c->search_scan = n ? n : PX_CATALOG_SEARCH_SCAN;
}

void px_image_rec_release(struct px_image_rec *rec)
{
	free(rec->meta);
	free(rec->moderation);
	free(rec->audit);
	memset(rec, 0, sizeof(*rec));
}

bool px_catalog_valid_id(const char *id)
{
	size_t n = 0;

	for (; id[n]; n++) {
		char ch = id[n];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == '~' || ch == '-'))
			return false;
	}
	return n >= 1 && n <= PX_ID_MAX;
}

int px_catalog_new(struct px_blob_store *blobs, struct px_kv *kv,
		   struct px_catalog **out)
{
	struct px_catalog *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c)
		return PX_ENOMEM;
	c->blobs = blobs;
	c->kv = kv;
	c->search_scan = PX_CATALOG_SEARCH_SCAN;
	if (px_brief_memo_new(0, 0, &c->briefs) ||
	    px_leases_new(kv, &c->leases) ||
	    px_mihmem_new(kv, PX_MIH_IMAGES, &c->mih[0]) ||
	    px_mihmem_new(kv, PX_MIH_LISTS, &c->mih[1])) {
		px_mihmem_free(c->mih[0]);
		px_leases_free(c->leases);
		px_brief_memo_free(c->briefs);
		free(c);
		return PX_ENOMEM;
	}
	for (int i = 0; i < NSTRIPES; i++)
		pthread_mutex_init(&c->stripes[i], NULL);
	*out = c;
	return 0;
}

void px_catalog_free(struct px_catalog *c)
{
	if (!c)
		return;
	for (int i = 0; i < NSTRIPES; i++)
		pthread_mutex_destroy(&c->stripes[i]);
	px_leases_free(c->leases);
	px_brief_memo_free(c->briefs);
	px_recache_free(atomic_load(&c->recache));
	px_mihmem_free(c->mih[0]);
	px_mihmem_free(c->mih[1]);
	free(c);
}

struct px_leases *px_catalog_leases(struct px_catalog *c)
{
	return c->leases;
}

/* The classification job of a record leaving "pending" goes with its
 * claim (lease.h), whichever node held it. */
static int job_lease_end(struct px_catalog *c, struct px_kv_txn *txn,
			 const struct px_image_rec *r, struct px_errbuf *eb)
{
	char key[PX_ID_MAX + 16];

	if (strcmp(r->status, "pending"))
		return 0;
	px_lease_job_key(key, sizeof(key), r->id);
	return px_lease_end_in(c->leases, txn, key, eb);
}

static pthread_mutex_t *stripe(struct px_catalog *c, const char *sha)
{
	unsigned v = 0;

	sscanf(sha, "%2x", &v);
	return &c->stripes[v % NSTRIPES];
}

/*
 * Blobs and nodes. The stripes above order an upload and a delete of the
 * same bytes in this process only; with several nodes on one store the
 * store's writer lock does it. A blob is removed only inside a write
 * transaction that finds its reference count still gone (blob_release),
 * and the upload that raises a count to 1 checks, inside its own write
 * transaction, that the blob is there, writing it again if not
 * (blob_ensure). Whichever of the two transactions comes first, the
 * other sees it: the blob stays, or is written back before the record
 * commits.
 */
static void ref_key(char *k, size_t n, const char *sha);

static void blob_release(struct px_catalog *c, const char *sha)
{
	struct px_kv_txn *txn;
	char key[80];
	struct px_buf b;

	/* not removed now: an orphan, for recovery or fsck --repair */
	if (px_kv_begin(c->kv, 0, &txn, NULL))
		return;
	px_buf_init(&b, 64);
	ref_key(key, sizeof(key), sha);
	if (px_kv_gets(txn, key, &b, NULL) == PX_ENOTFOUND)
		px_blob_del(c->blobs, sha, NULL);
	px_kv_abort(txn);
	px_buf_release(&b);
}

static int blob_ensure(struct px_catalog *c, const char *sha,
		       const void *data, size_t n, struct px_errbuf *eb)
{
	uint64_t size;
	int rc = px_blob_stat(c->blobs, sha, &size, eb);

	if (rc == PX_ENOTFOUND)
		rc = px_blob_put(c->blobs, sha, data, n, eb);
	return rc;
}

/* --- record encoding --- */

static int rec_encode(const struct px_image_rec *r, struct px_buf *out)
{
	json_t *o, *meta;
	char *text;
	int rc = 0;

	meta = json_loads(r->meta ? r->meta : "{}", 0, NULL);
	o = json_pack("{s:s,s:s,s:I,s:b,s:o,s:i,s:i,s:i,s:s,s:b,s:I,s:s,s:s}",
		      "id", r->id, "filename", r->filename, "uploaded_us",
		      (json_int_t)r->uploaded_us, "require_signed",
		      r->require_signed, "meta", meta ? meta : json_object(),
		      "width", r->width, "height", r->height, "frames",
		      r->frames, "format", r->format, "alpha", r->alpha,
		      "bytes", (json_int_t)r->bytes, "sha256", r->sha256,
		      "status", r->status);
	if (!o) /* jansson refuses text that is not UTF-8, as it should */
		return px_utf8_valid(r->filename, strlen(r->filename)) &&
		       px_utf8_valid(r->id, strlen(r->id)) ? PX_ENOMEM : PX_EINVAL;
	if (r->moderation)
		json_object_set_new(o, "moderation", json_loads(r->moderation, 0, NULL));
	if (r->audit)
		json_object_set_new(o, "audit", json_loads(r->audit, 0, NULL));
	if (r->original_deleted)
		json_object_set_new(o, "original_deleted", json_true());
	if (r->pdq[0]) {
		json_object_set_new(o, "pdq", json_string(r->pdq));
		json_object_set_new(o, "pdq_quality", json_integer(r->pdq_quality));
	}
	if (r->faces.known)
		json_object_set_new(o, "faces", px_rec_faces_json(&r->faces));
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!text)
		return PX_ENOMEM;
	rc = px_buf_adds(out, text);
	free(text);
	return rc;
}

static void copy_str(char *dst, size_t n, json_t *v)
{
	snprintf(dst, n, "%s", json_is_string(v) ? json_string_value(v) : "");
}

static int rec_decode(const void *p, size_t n, struct px_image_rec *r)
{
	json_t *o = json_loadb(p, n, 0, NULL);
	int rc = 0;

	memset(r, 0, sizeof(*r));
	if (!o || !json_is_object(o)) {
		rc = PX_ECORRUPT;
		goto out;
	}
	copy_str(r->id, sizeof(r->id), json_object_get(o, "id"));
	copy_str(r->filename, sizeof(r->filename), json_object_get(o, "filename"));
	copy_str(r->format, sizeof(r->format), json_object_get(o, "format"));
	copy_str(r->sha256, sizeof(r->sha256), json_object_get(o, "sha256"));
	copy_str(r->status, sizeof(r->status), json_object_get(o, "status"));
	copy_str(r->pdq, sizeof(r->pdq), json_object_get(o, "pdq"));
	r->pdq_quality = (int)json_integer_value(json_object_get(o, "pdq_quality"));
	r->uploaded_us = json_integer_value(json_object_get(o, "uploaded_us"));
	r->require_signed = json_is_true(json_object_get(o, "require_signed"));
	r->alpha = json_is_true(json_object_get(o, "alpha"));
	r->original_deleted = json_is_true(json_object_get(o, "original_deleted"));
	r->width = (int)json_integer_value(json_object_get(o, "width"));
	r->height = (int)json_integer_value(json_object_get(o, "height"));
	r->frames = (int)json_integer_value(json_object_get(o, "frames"));
	r->bytes = (uint64_t)json_integer_value(json_object_get(o, "bytes"));
	r->meta = json_dumps(json_object_get(o, "meta"), JSON_COMPACT);
	if (!r->meta)
		r->meta = strdup("{}");
	if (json_object_get(o, "moderation"))
		r->moderation = json_dumps(json_object_get(o, "moderation"),
					   JSON_COMPACT);
	if (json_object_get(o, "audit"))
		r->audit = json_dumps(json_object_get(o, "audit"), JSON_COMPACT);
	px_rec_faces_parse(json_object_get(o, "faces"), &r->faces);
	if (!r->meta)
		rc = PX_ENOMEM;
out:
	json_decref(o);
	return rc;
}

static void img_key(char *k, size_t n, const char *id)
{
	snprintf(k, n, "img/%s", id);
}

static void ix_key(char *k, size_t n, int64_t us, const char *id)
{
	snprintf(k, n, "ix/t/%016llx/%s", (unsigned long long)us, id);
}

static void mq_key(char *k, size_t n, const char *status, int64_t us,
		   const char *id)
{
	snprintf(k, n, "mq/%s/%016llx/%s", status, (unsigned long long)us, id);
}

static void job_key(char *k, size_t n, int64_t us, const char *id)
{
	snprintf(k, n, "job/%016llx/%s", (unsigned long long)us, id);
}

/* Statuses that wait in the review queue. */
static bool queued_status(const char *status)
{
	return !strcmp(status, "pending") || !strcmp(status, "flagged") ||
	       !strcmp(status, "blocked");
}

/* Put or remove the queue and job keys that go with a status. */
static int status_keys(struct px_kv_txn *txn, const struct px_image_rec *r,
		       bool add, struct px_errbuf *eb)
{
	char key[PX_ID_MAX + 64];
	int rc;

	/* The counts by status change with the status's keys (stats.c). */
	if ((rc = px_catalog_count_adjust(txn, r->status, r->uploaded_us,
					  add ? 1 : -1, eb)))
		return rc;
	if (queued_status(r->status)) {
		mq_key(key, sizeof(key), r->status, r->uploaded_us, r->id);
		rc = add ? px_kv_puts(txn, key, "", 0, 0, eb) : px_kv_dels(txn, key, eb);
	}
	if ((!rc || rc == PX_ENOTFOUND) && !strcmp(r->status, "pending")) {
		job_key(key, sizeof(key), r->uploaded_us, r->id);
		rc = add ? px_kv_puts(txn, key, "", 0, 0, eb) : px_kv_dels(txn, key, eb);
	}
	return rc == PX_ENOTFOUND ? 0 : rc;
}

static void ref_key(char *k, size_t n, const char *sha)
{
	snprintf(k, n, "blobref/%s", sha);
}

/* Add delta to a blob's reference count inside txn; *now gets the result. */
static int ref_add(struct px_kv_txn *txn, const char *sha, int delta,
		   long *now, struct px_errbuf *eb)
{
	char key[80], val[32];
	struct px_buf b;
	long count = 0;
	int rc;

	ref_key(key, sizeof(key), sha);
	px_buf_init(&b, 64);
	rc = px_kv_gets(txn, key, &b, eb);
	if (rc == 0)
		count = strtol((char *)b.data, NULL, 10);
	else if (rc != PX_ENOTFOUND)
		goto out;
	count += delta;
	if (count < 0)
		count = 0;
	if (count == 0) {
		rc = px_kv_dels(txn, key, eb);
		if (rc == PX_ENOTFOUND)
			rc = 0;
	} else {
		snprintf(val, sizeof(val), "%ld", count);
		rc = px_kv_puts(txn, key, val, strlen(val), 0, eb);
	}
	*now = count;
out:
	px_buf_release(&b);
	return rc;
}


int px_catalog_notify(struct px_catalog *c, const char *event,
		      struct px_errbuf *eb)
{
	struct px_kv_txn *txn;
	int rc;

	if ((rc = px_kv_begin(c->kv, 0, &txn, eb)))
		return rc;
	if ((rc = px_outbox_put(txn, event, eb)) ||
	    (rc = px_watch_announce_in(c, txn, eb, "outbox"))) {
		px_kv_abort(txn);
		return rc;
	}
	return px_kv_commit(txn, eb);
}

/* {"status":..., "sha256":..., ...} of a record, for audit entries. */
static char *rec_summary(const struct px_image_rec *r)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:I}", "status", r->status,
			      "sha256", r->sha256, "filename", r->filename,
			      "bytes", (json_int_t)r->bytes);
	json_t *m = r->moderation ? json_loads(r->moderation, 0, NULL) : NULL;
	char *text;

	if (o && json_object_get(m, "rule"))
		json_object_set(o, "rule", json_object_get(m, "rule"));
	if (o && json_object_get(m, "hashlist"))
		json_object_set(o, "hashlist", json_object_get(m, "hashlist"));
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(m);
	json_decref(o);
	return text;
}

static int audit_rec(struct px_kv_txn *txn, const struct px_image_rec *r,
		     const char *action, const struct px_actor *who,
		     bool before, struct px_errbuf *eb)
{
	char *sum = rec_summary(r);
	struct px_audit_change ch = {r->id, action, who, before ? sum : NULL,
				     before ? NULL : sum, NULL};
	int rc = sum ? px_audit_put(txn, &ch, eb) : PX_ENOMEM;

	free(sum);
	return rc;
}

int px_catalog_add(struct px_catalog *c, struct px_image_rec *rec,
		   const void *data, size_t n, const char *event,
		   const struct px_actor *who, struct px_errbuf *eb)
{
	struct px_mih_change ch = {0};
	struct px_kv_txn *txn = NULL;
	char key[PX_ID_MAX + 64];
	pthread_mutex_t *lock;
	struct px_buf val;
	long refs;
	int rc;

	px_buf_init(&val, 0);
	if (!rec->id[0] && (rc = px_uuid7(rec->id)))
		return rc;
	if ((rc = px_sha256_hex(data, n, rec->sha256)))
		return rc;
	rec->bytes = n;
	rec->uploaded_us = px_wall_us();
	if (!rec->status[0])
		snprintf(rec->status, sizeof(rec->status), "approved");

	lock = stripe(c, rec->sha256);
	pthread_mutex_lock(lock);
	if ((rc = px_blob_put(c->blobs, rec->sha256, data, n, eb)))
		goto out;
	if ((rc = rec_encode(rec, &val)))
		goto out;
	if ((rc = px_kv_begin(c->kv, 0, &txn, eb)))
		goto out;
	img_key(key, sizeof(key), rec->id);
	rc = px_kv_puts(txn, key, val.data, val.len, PX_KV_NOOVERWRITE, eb);
	if (rc == PX_EEXIST) {
		px_errc(eb, rc, "already_exists", "image \"%s\" already exists",
			rec->id);
		goto out;
	}
	if (rc)
		goto out;
	ix_key(key, sizeof(key), rec->uploaded_us, rec->id);
	if ((rc = px_kv_puts(txn, key, "", 0, 0, eb)))
		goto out;
	if ((rc = ref_add(txn, rec->sha256, +1, &refs, eb)))
		goto out;
	if (refs == 1 && (rc = blob_ensure(c, rec->sha256, data, n, eb)))
		goto out;
	if ((rc = status_keys(txn, rec, true, eb)))
		goto out;
	if (event && ((rc = px_outbox_put(txn, event, eb)) ||
		      (rc = px_watch_announce_in(c, txn, eb, "outbox"))))
		goto out;
	if (!strcmp(rec->status, "pending") &&
	    (rc = px_watch_announce_in(c, txn, eb, "job")))
		goto out;
	if ((rc = audit_rec(txn, rec, "upload", who, false, eb)))
		goto out;
	if ((rc = px_mih_image_put(txn, rec->id, rec->pdq,
				    rec->pdq_quality, &ch, eb)))
		goto out;
	rc = px_kv_commit(txn, eb);
	txn = NULL;
	if (!rc)
		px_catalog_mih_apply(c, &ch);
out:
	px_kv_abort(txn);
	/* A blob written for a record that was not committed is removed by
	 * recovery at the next start, or right here when nothing uses it. */
	if (rc)
		blob_release(c, rec->sha256);
	pthread_mutex_unlock(lock);
	px_buf_release(&val);
	return rc;
}

static int get_in(struct px_kv_txn *txn, const char *id,
		  struct px_image_rec *rec, struct px_errbuf *eb)
{
	char key[PX_ID_MAX + 8];
	struct px_buf b;
	int rc;

	px_buf_init(&b, 0);
	img_key(key, sizeof(key), id);
	rc = px_kv_gets(txn, key, &b, eb);
	if (rc == PX_ENOTFOUND)
		px_errc(eb, rc, "not_found", "image \"%s\" not found", id);
	if (!rc)
		rc = rec_decode(b.data, b.len, rec);
	px_buf_release(&b);
	return rc;
}

int px_catalog_get(struct px_catalog *c, const char *id,
		   struct px_image_rec *rec, struct px_errbuf *eb)
{
	struct px_kv_txn *txn;
	int rc;

	if (!px_catalog_valid_id(id))
		return px_errc(eb, PX_ENOTFOUND, "not_found",
			       "image \"%.64s\" not found", id);
	if ((rc = px_kv_begin(c->kv, PX_KV_RDONLY, &txn, eb)))
		return rc;
	rc = get_in(txn, id, rec, eb);
	px_kv_abort(txn);
	return rc;
}

int px_catalog_brief(struct px_catalog *c, const char *id,
		     struct px_image_brief *out, struct px_errbuf *eb)
{
	char key[PX_ID_MAX + 8];
	struct px_buf b;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!px_catalog_valid_id(id))
		return px_errc(eb, PX_ENOTFOUND, "not_found",
			       "image \"%.64s\" not found", id);
	px_buf_init(&b, 0);
	img_key(key, sizeof(key), id);
	/* from the node's record cache when the store is shared (an image
	 * id may be uploaded on another node: its absence is not kept) */
	rc = px_catalog_cached_get(c, key, false, &b, eb);
	if (rc == PX_ENOTFOUND)
		px_errc(eb, rc, "not_found", "image \"%s\" not found", id);
	else if (!rc)
		rc = px_brief_get(c->briefs, id, b.data, b.len, out);
	px_buf_release(&b);
	return rc;
}

int px_catalog_update(struct px_catalog *c, const char *id, const char *meta,
		      int require_signed, const struct px_actor *who,
		      struct px_image_rec *rec, struct px_errbuf *eb)
{
	struct px_kv_txn *txn = NULL;
	char key[PX_ID_MAX + 8];
	struct px_buf val;
	int rc;

	px_buf_init(&val, 0);
	memset(rec, 0, sizeof(*rec));
	if (!px_catalog_valid_id(id))
		return px_errc(eb, PX_ENOTFOUND, "not_found",
			       "image \"%.64s\" not found", id);
	if ((rc = px_kv_begin(c->kv, 0, &txn, eb)))
		return rc;
	if ((rc = get_in(txn, id, rec, eb)))
		goto out;
	if (meta && strcmp(meta, rec->meta ? rec->meta : "{}")) {
		struct px_audit_change ch = {id, "metadata", who, rec->meta,
					     meta, NULL};
		char *dup = strdup(meta);

		if (!dup) {
			rc = PX_ENOMEM;
			goto out;
		}
		if ((rc = px_audit_put(txn, &ch, eb))) {
			free(dup);
			goto out;
		}
		free(rec->meta);
		rec->meta = dup;
	}
	if (require_signed >= 0 && (bool)require_signed != rec->require_signed) {
		struct px_audit_change ch = {
			id, "signing", who,
			rec->require_signed ? "{\"requireSignedURLs\":true}"
					    : "{\"requireSignedURLs\":false}",
			require_signed ? "{\"requireSignedURLs\":true}"
				       : "{\"requireSignedURLs\":false}",
			NULL};

		if ((rc = px_audit_put(txn, &ch, eb)))
			goto out;
		rec->require_signed = require_signed;
	}
	if ((rc = rec_encode(rec, &val)))
		goto out;
	img_key(key, sizeof(key), id);
	if ((rc = px_kv_puts(txn, key, val.data, val.len, 0, eb)))
		goto out;
	if ((rc = px_watch_announce_in(c, txn, eb, "image %s %s", id,
				       rec->sha256)))
		goto out;
	rc = px_kv_commit(txn, eb);
	txn = NULL;
out:
	px_kv_abort(txn);
	px_buf_release(&val);
	return rc;
}

int px_catalog_delete(struct px_catalog *c, const char *id,
		      const struct px_actor *who, struct px_errbuf *eb)
{
	struct px_mih_change ch = {0};
	struct px_kv_txn *txn = NULL;
	struct px_image_rec rec;
	char key[PX_ID_MAX + 64];
	pthread_mutex_t *lock = NULL;
	long refs = 1;
	int rc;

	memset(&rec, 0, sizeof(rec));
	if ((rc = px_catalog_get(c, id, &rec, eb)))
		return rc;
	lock = stripe(c, rec.sha256);
	pthread_mutex_lock(lock);
	if ((rc = px_kv_begin(c->kv, 0, &txn, eb)))
		goto out;
	img_key(key, sizeof(key), id);
	if ((rc = px_kv_dels(txn, key, eb))) {
		if (rc == PX_ENOTFOUND)
			px_errc(eb, rc, "not_found", "image \"%s\" not found", id);
		goto out;
	}
	ix_key(key, sizeof(key), rec.uploaded_us, id);
	rc = px_kv_dels(txn, key, eb);
	if (rc && rc != PX_ENOTFOUND)
		goto out;
	/* A tombstone's bytes were released when it became one. */
	if (!rec.original_deleted &&
	    (rc = ref_add(txn, rec.sha256, -1, &refs, eb)))
		goto out;
	if ((rc = status_keys(txn, &rec, false, eb)) ||
	    (rc = job_lease_end(c, txn, &rec, eb)))
		goto out;
	if ((rc = audit_rec(txn, &rec, "delete", who, true, eb)))
		goto out;
	if ((rc = px_mih_image_del(txn, id, rec.pdq, &ch, eb)))
		goto out;
	if ((rc = px_watch_announce_in(c, txn, eb, "image %s %s", id,
				       rec.sha256)))
		goto out;
	rc = px_kv_commit(txn, eb);
	txn = NULL;
	if (!rc)
		px_catalog_mih_apply(c, &ch);
	/* Committed: the record is gone. A failure to remove the blob now
	 * only leaves an orphan that recovery removes later. */
	if (!rc && refs == 0)
		blob_release(c, rec.sha256);
out:
	px_kv_abort(txn);
	pthread_mutex_unlock(lock);
	px_image_rec_release(&rec);
	return rc;
}

int px_catalog_blob(struct px_catalog *c, const struct px_image_rec *rec,
		    struct px_buf *out, struct px_errbuf *eb)
{
	if (rec->original_deleted)
		return px_errc(eb, PX_ENOTFOUND, "original_deleted",
			       "image \"%s\" was blocked and its original deleted",
			       rec->id);
	return px_blob_get(c->blobs, rec->sha256, out, eb);
}

struct list_state {
	struct px_kv_txn *txn;
	size_t nprefix; /* key prefix before "<16 hex>/<id>" */
	const char *skip; /* the token's own key, excluded */
	const char *status; /* only records with this status, or NULL */
	const char *search; /* only records matching it (see catalog.h) */
	unsigned read, scan_max; /* records read for a search; bound */
	int limit, count;
	uint64_t offset; /* index keys passed over before the first record */
	px_catalog_list_fn fn;
	void *ctx;
	char last[TOKEN_MAX + 8];
	bool more;
	struct px_errbuf *eb;
};

/* Does id, filename or metadata (its JSON text) hold search, ASCII
 * letters compared without case? */
static bool rec_matches(const struct px_image_rec *r, const char *search)
{
	return strcasestr(r->id, search) || strcasestr(r->filename, search) ||
	       (r->meta && strcasestr(r->meta, search));
}

static int list_one(void *arg, const void *key, size_t nkey, const void *val,
		    size_t nval)
{
	struct list_state *st = arg;
	struct px_image_rec rec;
	char k[TOKEN_MAX + 16];
	const char *id;
	int rc;

	if (nkey >= sizeof(k) || nkey < st->nprefix + 18)
		return 0;
	memcpy(k, key, nkey);
	k[nkey] = '\0';
	if (st->skip && !strcmp(k, st->skip))
		return 0;
	if (st->offset) {
		/* Skipped by key alone: no record is read for them. */
		st->offset--;
		return 0;
	}
	if (st->count == st->limit) {
		st->more = true;
		return 1;
	}
	id = k + st->nprefix + 17; /* prefix + 16 hex + "/" */
	memset(&rec, 0, sizeof(rec));
	rc = get_in(st->txn, id, &rec, st->eb);
	if (rc == PX_ENOTFOUND)
		return 0; /* index without record cannot happen; be lenient */
	if (rc)
		return rc;
	if ((st->status && strcmp(rec.status, st->status)) ||
	    (st->search && !rec_matches(&rec, st->search))) {
		px_image_rec_release(&rec);
		/* A search looks at a bounded number of records per page;
		 * the token resumes after the last one looked at. */
		if (st->search && ++st->read >= st->scan_max) {
			px_strlcpy(st->last, k + st->nprefix, sizeof(st->last));
			st->more = true;
			return 1;
		}
		return 0;
	}
	rc = st->fn(st->ctx, &rec);
	px_image_rec_release(&rec);
	if (rc)
		return rc < 0 ? rc : 1;
	px_strlcpy(st->last, k + st->nprefix, sizeof(st->last));
	st->count++;
	return 0;
}

static bool valid_token(const char *t)
{
	if (strlen(t) < 18 || t[16] != '.')
		return false;
	for (int i = 0; i < 16; i++)
		if (!((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f')))
			return false;
	return px_catalog_valid_id(t + 17);
}

/* Page through index keys "<prefix><16 hex>/<id>" in either order. */
static int list_index(struct px_catalog *c, const char *prefix, int flags,
		      const char *status, const char *search,
		      const char *token, uint64_t offset,
		      int limit,
		      px_catalog_list_fn fn, void *ctx, char *next, size_t nnext,
		      struct px_errbuf *eb)
{
	struct list_state st;
	char start[TOKEN_MAX + 64];
	int rc;

	memset(&st, 0, sizeof(st));
	st.offset = offset;
	st.status = status;
	st.search = search && search[0] ? search : NULL;
	st.scan_max = c->search_scan;
	st.nprefix = strlen(prefix);
	st.limit = limit;
	st.fn = fn;
	st.ctx = ctx;
	st.eb = eb;
	*next = '\0';
	if (token && *token) {
		if (!valid_token(token))
			return px_errc(eb, PX_EINVAL, "invalid_continuation_token",
				       "continuation_token is malformed");
		snprintf(start, sizeof(start), "%s%.16s/%s", prefix, token,
			 token + 17);
		st.skip = start;
	}
	if ((rc = px_kv_begin(c->kv, PX_KV_RDONLY, &st.txn, eb)))
		return rc;
	rc = px_kv_scan(st.txn, prefix, st.nprefix, st.skip,
			st.skip ? strlen(start) : 0, flags, list_one, &st, eb);
	px_kv_abort(st.txn);
	if (rc < 0)
		return rc;
	if (st.more && st.last[0] && strlen(st.last) + 1 <= nnext) {
		/* "<hex>/<id>" prints as "<hex>.<id>": no escaping needed. */
		memcpy(next, st.last, strlen(st.last) + 1);
		next[16] = '.';
	}
	return 0;
}

int px_catalog_list(struct px_catalog *c, const char *token, int limit,
		    px_catalog_list_fn fn, void *ctx, char *next, size_t nnext,
		    struct px_errbuf *eb)
{
	return list_index(c, "ix/t/", PX_KV_REVERSE, NULL, NULL, token, 0, limit,
			  fn, ctx, next, nnext, eb);
}

int px_catalog_list_status(struct px_catalog *c, const char *status,
			   const char *token, int limit, px_catalog_list_fn fn,
			   void *ctx, char *next, size_t nnext,
			   struct px_errbuf *eb)
{
	return list_index(c, "ix/t/", PX_KV_REVERSE, status, NULL, token, 0,
			  limit, fn, ctx, next, nnext, eb);
}

int px_catalog_list_search(struct px_catalog *c, const char *status,
			   const char *search, const char *token, int limit,
			   px_catalog_list_fn fn, void *ctx, char *next,
			   size_t nnext, struct px_errbuf *eb)
{
	return list_index(c, "ix/t/", PX_KV_REVERSE, status, search, token, 0,
			  limit, fn, ctx, next, nnext, eb);
}

int px_catalog_list_ordered(struct px_catalog *c, bool oldest_first,
			    const char *token, uint64_t offset, int limit,
			    px_catalog_list_fn fn, void *ctx, char *next,
			    size_t nnext, struct px_errbuf *eb)
{
	return list_index(c, "ix/t/", oldest_first ? 0 : PX_KV_REVERSE, NULL,
			  NULL, token, offset, limit, fn, ctx, next, nnext, eb);
}

static int count_one(void *arg, const void *key, size_t nkey, const void *val,
		     size_t nval)
{
	(*(uint64_t *)arg)++;
	return 0;
}

int px_catalog_count(struct px_catalog *c, uint64_t *n, struct px_errbuf *eb)
{
	struct px_kv_txn *txn;
	int rc;

	*n = 0;
	if ((rc = px_kv_begin(c->kv, PX_KV_RDONLY, &txn, eb)))
		return rc;
	rc = px_kv_scan(txn, "ix/t/", 5, NULL, 0, 0, count_one, n, eb);
	px_kv_abort(txn);
	return rc < 0 ? rc : 0;
}

int px_catalog_queue(struct px_catalog *c, const char *status,
		     const char *token, int limit, px_catalog_list_fn fn,
		     void *ctx, char *next, size_t nnext, struct px_errbuf *eb)
{
	char prefix[32];

	if (!queued_status(status))
		return px_errc(eb, PX_EINVAL, "invalid_request",
			       "status must be pending, flagged or blocked");
	snprintf(prefix, sizeof(prefix), "mq/%s/", status);
	return list_index(c, prefix, 0, NULL, NULL, token, 0, limit, fn, ctx,
			  next, nnext, eb);
}

struct jobs_state {
	int limit, count;
	int (*fn)(void *ctx, const char *id);
	void *ctx;
};

static int job_one(void *arg, const void *key, size_t nkey, const void *val,
		   size_t nval)
{
	struct jobs_state *js = arg;
	char id[PX_ID_MAX + 1];
	size_t skip = 4 + 17; /* "job/" + 16 hex + "/" */

	if (js->count == js->limit)
		return 1;
	if (nkey <= skip || nkey - skip > PX_ID_MAX)
		return 0;
	memcpy(id, (const char *)key + skip, nkey - skip);
	id[nkey - skip] = '\0';
	js->count++;
	return js->fn(js->ctx, id) ? 1 : 0;
}

int px_catalog_jobs(struct px_catalog *c, int limit,
		    int (*fn)(void *ctx, const char *id), void *ctx,
		    struct px_errbuf *eb)
{
	struct jobs_state js = {limit, 0, fn, ctx};
	struct px_kv_txn *txn;
	int rc;

	if ((rc = px_kv_begin(c->kv, PX_KV_RDONLY, &txn, eb)))
		return rc;
	rc = px_kv_scan(txn, "job/", 4, NULL, 0, 0, job_one, &js, eb);
	px_kv_abort(txn);
	return rc < 0 ? rc : 0;
}

static int remember_decision(struct px_kv_txn *txn,
			     const struct px_image_rec *r,
			     const struct px_actor *who, struct px_errbuf *eb)
{
	char key[96], *text;
	json_t *o;
	int rc;

	if (strcmp(r->status, "approved") && strcmp(r->status, "blocked"))
		return 0;
	o = json_pack("{s:s,s:s,s:s,s:I}", "decision", r->status, "image", r->id,
		      "by", who ? who->name : px_actor_system.name, "at",
		      (json_int_t)px_wall_us());
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!text)
		return PX_ENOMEM;
	snprintf(key, sizeof(key), "cdec/%s", r->sha256);
	rc = px_kv_puts(txn, key, text, strlen(text), 0, eb);
	free(text);
	return rc;
}

int px_catalog_content_decision(struct px_catalog *c, const char *sha256,
				struct px_content_decision *out,
				struct px_errbuf *eb)
{
	struct px_kv_txn *txn;
	struct px_buf b;
	char key[96];
	json_t *o;
	int rc;

	memset(out, 0, sizeof(*out));
	px_buf_init(&b, 0);
	snprintf(key, sizeof(key), "cdec/%.64s", sha256);
	if ((rc = px_kv_begin(c->kv, PX_KV_RDONLY, &txn, eb)))
		return rc;
	rc = px_kv_gets(txn, key, &b, eb);
	px_kv_abort(txn);
	if (rc) {
		px_buf_release(&b);
		return rc;
	}
	o = json_loadb((const char *)b.data, b.len, 0, NULL);
	px_buf_release(&b);
	if (!o)
		return PX_ECORRUPT;
	copy_str(out->decision, sizeof(out->decision), json_object_get(o, "decision"));
	copy_str(out->image, sizeof(out->image), json_object_get(o, "image"));
	copy_str(out->by, sizeof(out->by), json_object_get(o, "by"));
	out->at_us = json_integer_value(json_object_get(o, "at"));
	json_decref(o);
	return 0;
}

/* A decision's entry: "review" when a person made it (audit_entry given,
 * its note copied), else "verdict" with the classifier's rule. */
static int audit_decision(struct px_kv_txn *txn, const struct px_image_rec *r,
			  const char *before, const char *moderation,
			  const char *audit_entry, const struct px_actor *who,
			  struct px_errbuf *eb)
{
	json_t *after = json_pack("{s:s}", "status", r->status);
	json_t *m = moderation ? json_loads(moderation, 0, NULL) : NULL;
	json_t *e = audit_entry ? json_loads(audit_entry, 0, NULL) : NULL;
	struct px_audit_change ch = {r->id, audit_entry ? "review" : "verdict",
				     who, before, NULL, NULL};
	char *text = NULL;
	int rc;

	if (r->original_deleted)
		json_object_set_new(after, "original_deleted", json_true());
	if (m) {
		const char *keys[] = {"rule", "verdict", "policy_version",
				      "frame"};

		for (size_t i = 0; i < PX_ARRAY_LEN(keys); i++)
			if (json_object_get(m, keys[i]))
				json_object_set(after, keys[i],
						json_object_get(m, keys[i]));
	}
	ch.note = json_string_value(json_object_get(e, "note"));
	text = after ? json_dumps(after, JSON_COMPACT) : NULL;
	ch.after = text;
	rc = text ? px_audit_put(txn, &ch, eb) : PX_ENOMEM;
	free(text);
	json_decref(after);
	json_decref(m);
	json_decref(e);
	return rc;
}

int px_catalog_etag(const struct px_image_rec *rec, char out[PX_REC_ETAG_MAX])
{
	char hex[PX_SHA256_HEX_LEN + 1];
	struct px_buf b;
	int rc;

	px_buf_init(&b, 0);
	if (!(rc = rec_encode(rec, &b)))
		rc = px_sha256_hex(b.data, b.len, hex);
	if (!rc)
		snprintf(out, PX_REC_ETAG_MAX, "\"r%.24s\"", hex);
	px_buf_release(&b);
	return rc;
}

struct jstats {
	uint64_t n;
	int64_t oldest;
};

static int jstat_one(void *arg, const void *key, size_t nkey, const void *val,
		     size_t nval)
{
	struct jstats *js = arg;

	char hex[17];

	/* "job/<16 hex µs>/<id>": the first key is the oldest upload. */
	if (js->n++ == 0 && nkey > 4 + 16) {
		memcpy(hex, (const char *)key + 4, 16);
		hex[16] = '\0';
		js->oldest = (int64_t)strtoull(hex, NULL, 16);
	}
	return 0;
}

int px_catalog_jobs_stats(struct px_catalog *c, uint64_t *n, int64_t *oldest_us,
			  struct px_errbuf *eb)
{
	struct jstats js = {0, 0};
	struct px_kv_txn *txn;
	int rc;

	*n = 0;
	*oldest_us = 0;
	if ((rc = px_kv_begin(c->kv, PX_KV_RDONLY, &txn, eb)))
		return rc;
	rc = px_kv_scan(txn, "job/", 4, NULL, 0, 0, jstat_one, &js, eb);
	px_kv_abort(txn);
	*n = js.n;
	*oldest_us = js.oldest;
	return rc < 0 ? rc : 0;
}

int px_catalog_moderate(struct px_catalog *c, const char *id,
			const struct px_decision *d, struct px_image_rec *out,
			struct px_errbuf *eb)
{
	const char *expect = d->expect, *status = d->status;
	const char *moderation = d->moderation, *audit_entry = d->review;
	const char *event = d->event;
	const struct px_actor *who = d->who;
	struct px_mih_change ch = {0};
	struct px_kv_txn *txn = NULL;
	struct px_image_rec rec;
	char key[PX_ID_MAX + 64], before[64], etag[PX_REC_ETAG_MAX];
	char before_status[16];
	pthread_mutex_t *lock = NULL;
	struct px_buf val;
	bool drop = false;
	long refs = 1;
	int rc;

	memset(&rec, 0, sizeof(rec));
	px_buf_init(&val, 0);
	if (!px_catalog_valid_id(id))
		return px_errc(eb, PX_ENOTFOUND, "not_found",
			       "image \"%.64s\" not found", id);
	if (d->drop_original) {
		/* The digest's lock keeps a concurrent upload of the same
		 * bytes from losing them; it is taken before the write
		 * transaction, as px_catalog_add does. */
		struct px_image_rec peek;

		memset(&peek, 0, sizeof(peek));
		if ((rc = px_catalog_get(c, id, &peek, eb)))
			return rc;
		lock = stripe(c, peek.sha256);
		px_image_rec_release(&peek);
		pthread_mutex_lock(lock);
	}
	if ((rc = px_kv_begin(c->kv, 0, &txn, eb)))
		goto out;
	if ((rc = get_in(txn, id, &rec, eb)))
		goto out;
	drop = d->drop_original && !rec.original_deleted &&
	       lock == stripe(c, rec.sha256);
	if (expect && strcmp(rec.status, expect)) {
		rc = px_errc(eb, PX_EBUSY, "conflict",
			     "image \"%s\" is %s, not %s", id, rec.status, expect);
		goto out;
	}
	if (d->expect_etag) {
		if ((rc = px_catalog_etag(&rec, etag)))
			goto out;
		if (strcmp(etag, d->expect_etag)) {
			rc = px_errc(eb, PX_EBUSY, "conflict",
				     "image \"%s\" changed since %s (now %s)", id,
				     d->expect_etag, etag);
			goto out;
		}
	}
	if (d->leased) {
		/* the job's completion: only while this node's claim holds */
		px_lease_job_key(key, sizeof(key), id);
		if ((rc = px_lease_check_in(c->leases, txn, key, eb)))
			goto out;
	}
	if ((rc = status_keys(txn, &rec, false, eb)))
		goto out;
	if (strcmp(status, "pending") &&
	    (rc = job_lease_end(c, txn, &rec, eb)))
		goto out;
	snprintf(before, sizeof(before), "{\"status\":\"%s\"}", rec.status);
	px_strlcpy(before_status, rec.status, sizeof(before_status));
	px_strlcpy(rec.status, status, sizeof(rec.status));
	if (drop) {
		if ((rc = ref_add(txn, rec.sha256, -1, &refs, eb)))
			goto out;
		rec.original_deleted = true;
	}
	if (d->faces && d->faces->known)
		rec.faces = *d->faces;
	if (moderation) {
		free(rec.moderation);
		if (!(rec.moderation = strdup(moderation))) {
			rc = PX_ENOMEM;
			goto out;
		}
	}
	if (audit_entry) {
		json_t *arr = rec.audit ? json_loads(rec.audit, 0, NULL) : NULL;
		json_t *entry = json_loads(audit_entry, 0, NULL);

		if (!json_is_array(arr)) {
			json_decref(arr);
			arr = json_array();
		}
		if (entry)
			json_array_append_new(arr, entry);
		free(rec.audit);
		rec.audit = json_dumps(arr, JSON_COMPACT);
		json_decref(arr);
		if (!rec.audit) {
			rc = PX_ENOMEM;
			goto out;
		}
	}
	if (d->pdq && !rec.pdq[0] && strlen(d->pdq) == PX_PDQ_HEX_LEN) {
		px_strlcpy(rec.pdq, d->pdq, sizeof(rec.pdq));
		rec.pdq_quality = d->pdq_quality;
		if ((rc = px_mih_image_put(txn, rec.id, rec.pdq,
					    rec.pdq_quality, &ch, eb)))
			goto out;
	}
	/* A pending image keeps its job; any decision drops it. */
	if ((rc = status_keys(txn, &rec, true, eb)))
		goto out;
	if ((rc = rec_encode(&rec, &val)))
		goto out;
	img_key(key, sizeof(key), id);
	if ((rc = px_kv_puts(txn, key, val.data, val.len, 0, eb)))
		goto out;
	if (event && ((rc = px_outbox_put(txn, event, eb)) ||
		      (rc = px_watch_announce_in(c, txn, eb, "outbox"))))
		goto out;
	if ((rc = px_watch_announce_in(c, txn, eb, "image %s %s", id,
				       rec.sha256)))
		goto out;
	if ((!d->audit_if_changed || strcmp(before_status, rec.status)) &&
	    (rc = audit_decision(txn, &rec, before, moderation, audit_entry,
				 who, eb)))
		goto out;
	if (d->hook && (rc = d->hook(txn, d->hook_ctx, eb)))
		goto out;
	if (audit_entry && (rc = remember_decision(txn, &rec, who, eb)))
		goto out;
	rc = px_kv_commit(txn, eb);
	txn = NULL;
	if (!rc && strcmp(before_status, "pending") == 0 &&
	    strcmp(status, "pending")) {
		px_lease_job_key(key, sizeof(key), id);
		px_lease_forget(c->leases, key);
	}
	if (!rc)
		px_catalog_mih_apply(c, &ch);
	/* Committed: the record no longer references its bytes. A failure
	 * to remove them leaves an orphan that recovery removes. */
	if (!rc && drop && refs == 0)
		blob_release(c, rec.sha256);
	if (!rc && out) {
		*out = rec;
		memset(&rec, 0, sizeof(rec));
	}
out:
	px_kv_abort(txn);
	if (lock)
		pthread_mutex_unlock(lock);
	px_buf_release(&val);
	px_image_rec_release(&rec);
	return rc;
}

struct px_kv *px_catalog_kv(struct px_catalog *c)
{
	return c->kv;
}

struct px_recache *px_catalog_recache(struct px_catalog *c)
{
	return atomic_load(&c->recache);
}

void px_catalog_set_recache(struct px_catalog *c, struct px_recache *rc)
{
	px_recache_free(atomic_exchange(&c->recache, rc));
}

struct px_mihmem *px_catalog_mihmem(struct px_catalog *c, const char *prefix)
{
	if (!strcmp(prefix, PX_MIH_IMAGES))
		return c->mih[0];
	return !strcmp(prefix, PX_MIH_LISTS) ? c->mih[1] : NULL;
}

struct px_blob_store *px_catalog_blobs(struct px_catalog *c)
{
	return c->blobs;
}

int px_catalog_original(struct px_catalog *c, const char *sha256,
			struct px_buf *out, struct px_errbuf *eb)
{
	return px_blob_get(c->blobs, sha256, out, eb);
}

int px_catalog_health(struct px_catalog *c, const char **which,
		      struct px_errbuf *eb)
{
	int rc;

	*which = NULL;
	if ((rc = px_kv_health(c->kv, eb)))
		*which = "meta";
	else if ((rc = px_blob_health(c->blobs, eb)))
		*which = "blob";
	return rc;
}

struct sweep {
	struct px_catalog *c;
	unsigned removed;
};

static int sweep_one(void *arg, const char *hex)
{
	struct sweep *s = arg;
	struct px_kv_txn *txn;
	char key[80];
	struct px_buf b;
	int rc;

	px_buf_init(&b, 64);
	ref_key(key, sizeof(key), hex);
	if (px_kv_begin(s->c->kv, PX_KV_RDONLY, &txn, NULL))
		return 0;
	rc = px_kv_gets(txn, key, &b, NULL);
	px_kv_abort(txn);
	px_buf_release(&b);
	if (rc == PX_ENOTFOUND && px_blob_del(s->c->blobs, hex, NULL) == 0)
		s->removed++;
	return 0;
}

int px_catalog_recover(struct px_catalog *c, unsigned *tmp_removed,
		       unsigned *orphans_removed, struct px_errbuf *eb)
{
	struct sweep s = {c, 0};
	int rc;

	*tmp_removed = *orphans_removed = 0;
	if ((rc = px_blob_recover(c->blobs, tmp_removed, eb)))
		return rc;
	rc = px_blob_list(c->blobs, sweep_one, &s, eb);
	*orphans_removed = s.removed;
	return rc;
}
