/*
 * drafts.c - direct-upload drafts in the metadata store (see drafts.h).
 */
#include "ingest/drafts.h"
#include "core/crypto.h"

#include <jansson.h>

struct px_drafts {
	struct px_kv *kv;
};

void px_draft_release(struct px_draft *d)
{
	free(d->meta);
	memset(d, 0, sizeof(*d));
}

int px_drafts_new(struct px_kv *kv, struct px_drafts **out)
{
	struct px_drafts *ds = calloc(1, sizeof(*ds));

	*out = ds;
	if (!ds)
		return PX_ENOMEM;
	ds->kv = kv;
	return 0;
}

void px_drafts_free(struct px_drafts *ds)
{
	free(ds);
}

static void rec_key(const char *id, char *key, size_t n)
{
	snprintf(key, n, "draft/%s", id);
}

static void exp_key(const struct px_draft *d, char *key, size_t n)
{
	snprintf(key, n, "draftx/%016llx/%s", (unsigned long long)d->expires_us,
		 d->id);
}

static char *encode(const struct px_draft *d)
{
	json_t *meta = json_loads(d->meta ? d->meta : "{}", 0, NULL);
	json_t *o = json_pack("{s:s,s:o,s:b,s:I,s:I,s:s,s:s,s:{s:s,s:s}}",
			      "id", d->id, "meta", meta ? meta : json_object(),
			      "require_signed", d->require_signed, "created_us",
			      (json_int_t)d->created_us, "expires_us",
			      (json_int_t)d->expires_us, "sha256", d->sha256,
			      "state", d->used ? "used" : "open", "creator",
			      "id", d->creator_id, "name", d->creator_name);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return text;
}

static int decode(const void *p, size_t n, struct px_draft *d)
{
	json_t *o = json_loadb(p, n, 0, NULL), *cr;
	int rc = PX_ECORRUPT;

	memset(d, 0, sizeof(*d));
	if (!json_is_object(o))
		goto out;
	px_strlcpy(d->id, json_string_value(json_object_get(o, "id")) ?: "",
		   sizeof(d->id));
	d->meta = json_dumps(json_object_get(o, "meta"), JSON_COMPACT);
	d->require_signed = json_is_true(json_object_get(o, "require_signed"));
	d->created_us = json_integer_value(json_object_get(o, "created_us"));
	d->expires_us = json_integer_value(json_object_get(o, "expires_us"));
	px_strlcpy(d->sha256,
		   json_string_value(json_object_get(o, "sha256")) ?: "",
		   sizeof(d->sha256));
	d->used = !strcmp(json_string_value(json_object_get(o, "state")) ?: "",
			  "used");
	cr = json_object_get(o, "creator");
	px_strlcpy(d->creator_id,
		   json_string_value(json_object_get(cr, "id")) ?: "",
		   sizeof(d->creator_id));
	px_strlcpy(d->creator_name,
		   json_string_value(json_object_get(cr, "name")) ?: "",
		   sizeof(d->creator_name));
	rc = d->meta ? 0 : PX_ENOMEM;
out:
	json_decref(o);
	return rc;
}

static int get_in(struct px_kv_txn *txn, const char *id, struct px_draft *d,
		  struct px_errbuf *eb)
{
	char key[PX_ID_MAX + 16];
	struct px_buf b;
	int rc;

	rec_key(id, key, sizeof(key));
	px_buf_init(&b, 1 << 16);
	rc = px_kv_gets(txn, key, &b, eb);
	if (!rc)
		rc = decode(b.data, b.len, d);
	px_buf_release(&b);
	return rc;
}

/* Write d (record and expiry index) in txn. */
static int put_in(struct px_kv_txn *txn, const struct px_draft *d, int flags,
		  struct px_errbuf *eb)
{
	char key[PX_ID_MAX + 40], *text = encode(d);
	int rc;

	if (!text)
		return PX_ENOMEM;
	rec_key(d->id, key, sizeof(key));
	rc = px_kv_puts(txn, key, text, strlen(text), flags, eb);
	free(text);
	if (rc)
		return rc;
	exp_key(d, key, sizeof(key));
	return px_kv_puts(txn, key, "", 0, 0, eb);
}

struct sweep {
	char key[PX_ID_MAX + 40];
	int64_t now;
	int max, n;
	char (*ids)[PX_ID_MAX + 1];
	int64_t *exps;
};

static int sweep_one(void *ctx, const void *k, size_t nk, const void *v,
		     size_t nv)
{
	struct sweep *s = ctx;
	const char *p = (const char *)k + 7; /* "draftx/" */
	unsigned long long exp;
	size_t nid;

	if (nk < 7 + 17 + 1 || s->n == s->max)
		return 1;
	if (sscanf(p, "%16llx", &exp) != 1 || (int64_t)exp >= s->now)
		return 1; /* in expiry order: the rest are later */
	nid = nk - 7 - 17;
	if (nid > PX_ID_MAX)
		return 0;
	memcpy(s->ids[s->n], p + 17, nid);
	s->ids[s->n][nid] = '\0';
	s->exps[s->n] = (int64_t)exp;
	s->n++;
	return 0;
}

int px_drafts_sweep(struct px_drafts *ds, int64_t now_us, int max,
		    unsigned *removed, struct px_errbuf *eb)
{
	struct sweep s = {.now = now_us, .max = max};
	struct px_kv_txn *txn = NULL;
	int rc;

	if (removed)
		*removed = 0;
	s.ids = calloc((size_t)max, sizeof(*s.ids));
	s.exps = calloc((size_t)max, sizeof(*s.exps));
	if (!s.ids || !s.exps) {
		rc = PX_ENOMEM;
		goto out;
	}
	if ((rc = px_kv_begin(ds->kv, 0, &txn, eb)))
		goto out;
	if ((rc = px_kv_scan(txn, "draftx/", 7, NULL, 0, 0, sweep_one, &s, eb)))
		goto out;
	for (int i = 0; i < s.n; i++) {
		snprintf(s.key, sizeof(s.key), "draftx/%016llx/%s",
			 (unsigned long long)s.exps[i], s.ids[i]);
		if ((rc = px_kv_dels(txn, s.key, eb)))
			goto out;
		rec_key(s.ids[i], s.key, sizeof(s.key));
		rc = px_kv_dels(txn, s.key, eb);
		if (rc && rc != PX_ENOTFOUND)
			goto out;
		rc = 0;
	}
	if (s.n) {
		rc = px_kv_commit(txn, eb);
		txn = NULL;
	}
	if (!rc && removed)
		*removed = (unsigned)s.n;
out:
	px_kv_abort(txn);
	free(s.ids);
	free(s.exps);
	return rc;
}

int px_drafts_create(struct px_drafts *ds, struct px_draft *d,
		     char secret[PX_DRAFT_SECRET_LEN + 1], struct px_errbuf *eb)
{
	struct px_kv_txn *txn = NULL;
	int rc;

	secret[0] = '\0';
	px_drafts_sweep(ds, px_wall_us(), 64, NULL, NULL);
	if (!d->id[0] && (rc = px_uuid7(d->id)))
		return px_errf(eb, rc, "no randomness");
	if (!d->meta && !(d->meta = strdup("{}")))
		return PX_ENOMEM;
	if ((rc = px_random_hex(secret, PX_DRAFT_SECRET_LEN / 2)) ||
	    (rc = px_sha256_hex(secret, PX_DRAFT_SECRET_LEN, d->sha256)))
		goto out;
	d->created_us = px_wall_us();
	d->used = false;
	if ((rc = px_kv_begin(ds->kv, 0, &txn, eb)))
		goto out;
	rc = put_in(txn, d, PX_KV_NOOVERWRITE, eb);
	if (rc == PX_EEXIST)
		rc = px_errc(eb, rc, "already_exists",
			     "an upload URL already reserves the id \"%s\"", d->id);
	if (rc)
		goto out;
	rc = px_kv_commit(txn, eb);
	txn = NULL;
out:
	px_kv_abort(txn);
	if (rc)
		memset(secret, 0, PX_DRAFT_SECRET_LEN + 1);
	return rc;
}

int px_drafts_claim(struct px_drafts *ds, const char *id, const char *secret,
		    int64_t now_us, struct px_draft *out, struct px_errbuf *eb)
{
	char got[PX_SHA256_HEX_LEN + 1];
	struct px_kv_txn *txn = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = px_kv_begin(ds->kv, 0, &txn, eb)))
		return rc;
	rc = get_in(txn, id, out, eb);
	if (rc == PX_ENOTFOUND) {
		rc = px_errc(eb, rc, "not_found",
			     "no upload URL for \"%.128s\" (unknown or expired)", id);
		goto out;
	}
	if (rc)
		goto out;
	/* The secret first: without it nothing about the draft is told. */
	if (strlen(secret) != PX_DRAFT_SECRET_LEN ||
	    px_sha256_hex(secret, PX_DRAFT_SECRET_LEN, got) ||
	    strlen(out->sha256) != PX_SHA256_HEX_LEN ||
	    !px_ct_equal(got, out->sha256, PX_SHA256_HEX_LEN)) {
		rc = px_errc(eb, PX_EINVAL, "invalid_upload_url",
			     "the upload URL is not valid (altered or incomplete)");
		goto out;
	}
	if (out->used) {
		rc = px_errc(eb, PX_EEXIST, "upload_url_used",
			     "the upload URL has been used; ask for a new one");
		goto out;
	}
	if (now_us >= out->expires_us) {
		rc = px_errc(eb, PX_ELIMIT, "upload_url_expired",
			     "the upload URL has expired; ask for a new one");
		goto out;
	}
	out->used = true;
	if ((rc = put_in(txn, out, 0, eb)))
		goto out;
	rc = px_kv_commit(txn, eb);
	txn = NULL;
out:
	px_kv_abort(txn);
	if (rc)
		px_draft_release(out);
	return rc;
}

int px_drafts_unclaim(struct px_drafts *ds, const char *id,
		      struct px_errbuf *eb)
{
	struct px_kv_txn *txn = NULL;
	struct px_draft d;
	int rc;

	memset(&d, 0, sizeof(d));
	if ((rc = px_kv_begin(ds->kv, 0, &txn, eb)))
		return rc;
	if ((rc = get_in(txn, id, &d, eb)))
		goto out;
	d.used = false;
	if ((rc = put_in(txn, &d, 0, eb)))
		goto out;
	rc = px_kv_commit(txn, eb);
	txn = NULL;
out:
	px_kv_abort(txn);
	px_draft_release(&d);
	return rc;
}

int px_drafts_get(struct px_drafts *ds, const char *id, int64_t now_us,
		  struct px_draft *out, struct px_errbuf *eb)
{
	struct px_kv_txn *txn;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = px_kv_begin(ds->kv, PX_KV_RDONLY, &txn, eb)))
		return rc;
	rc = get_in(txn, id, out, eb);
	px_kv_abort(txn);
	if (!rc && (out->used || now_us >= out->expires_us)) {
		px_draft_release(out);
		rc = PX_ENOTFOUND;
	}
	return rc;
}
