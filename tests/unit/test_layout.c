/*
 * test_layout.c - the key layout documented in catalog.h is the one the
 * code writes: every owner of metadata keys (the catalog and its parts,
 * tokens, drafts, console sessions) does its writes on one store, and every key found
 * afterwards starts with a prefix the layout comment lists.
 */
#include "access/tokens.h"
#include "catalog/catalog.h"
#include "catalog/hashlist.h"
#include "catalog/lease.h"
#include "catalog/variants.h"
#include "console/sessions.h"
#include "ingest/drafts.h"

#include "t.h"

struct seen {
	char *doc;
	int keys, undocumented;
};

/* The part of a key that names its kind: up to the first '/', or all
 * of it (outboxseq). */
static int check_key(void *ctx, const void *key, size_t nkey, const void *val,
		     size_t nval)
{
	struct seen *s = ctx;
	const char *k = key, *slash = memchr(k, '/', nkey);
	size_t n = slash ? (size_t)(slash - k) + 1 : nkey;
	char line[80];

	s->keys++;
	/* Layout lines read " *   <prefix>": three spaces after the star. */
	snprintf(line, sizeof(line), " *   %.*s", (int)n, k);
	if (!strstr(s->doc, line)) {
		s->undocumented++;
		fprintf(stderr, "undocumented key \"%.*s\"\n", (int)nkey, k);
	}
	return 0;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (p = calloc(1, (size_t)n + 1)) &&
	    fread(p, 1, (size_t)n, f) != (size_t)n) {
		free(p);
		p = NULL;
	}
	fclose(f);
	return p;
}

static void run(void)
{
	struct px_errbuf eb = {0};
	struct px_blob_store *blobs = NULL;
	struct px_kv *kv = NULL;
	struct px_kv_txn *txn = NULL;
	struct px_catalog *c = NULL;
	struct px_tokens *ts = NULL;
	struct px_drafts *ds = NULL;
	struct px_sessions *ss = NULL;
	struct seen s = {0};

	s.doc = slurp("src/catalog/catalog.h");
	T_OK(s.doc != NULL);
	if (!s.doc)
		return;
	T_EQ(px_blob_open(&px_blob_mem_ops, "", &blobs, &eb), 0);
	T_EQ(px_kv_open(&px_kv_mem_ops, "", 0, &kv, &eb), 0);
	T_EQ(px_catalog_new(blobs, kv, &c), 0);
	T_EQ(px_tokens_new(kv, &ts), 0);
	T_EQ(px_drafts_new(kv, &ds), 0);
	T_EQ(px_sessions_new(kv, ts, "admin", 3600000000LL, &ss), 0);

	T_CASE("every owner writes") {
		struct px_image_rec r;
		struct px_variant v;
		struct px_hashlist l;
		struct px_pdq h;
		struct px_token t;
		struct px_draft d;
		char secret[PX_DRAFT_SECRET_LEN + PX_TOKEN_SECRET_LEN + 2];
		struct px_decision dec = {
			.status = "approved",
			.review = "{\"who\":\"admin\"}",
			.event = "{\"attempts\":0,\"next_at\":0,"
				 "\"body\":{\"event\":\"approve\"}}"};

		memset(&r, 0, sizeof(r));
		snprintf(r.id, sizeof(r.id), "img1");
		snprintf(r.status, sizeof(r.status), "pending");
		memset(r.pdq, 'a', 64);
		r.pdq_quality = 100;
		T_EQ(px_catalog_add(c, &r, "bytes", 5, NULL, NULL, &eb), 0);
		px_image_rec_release(&r);
		T_EQ(px_catalog_moderate(c, "img1", &dec, NULL, &eb), 0);
		T_EQ(px_catalog_notify(c, "{\"attempts\":0,\"next_at\":0,"
					  "\"body\":{\"event\":\"x\"}}", &eb), 0);
		/* one event to the dead letters */
		T_EQ(px_catalog_outbox_failed(c, 1, 9, 0, 500, true, &eb), 0);
		/* a claim on the other (lease.h) */
		px_catalog_lease_config(c, 1, 0);
		T_EQ(px_catalog_outbox_claim(c, 2, &eb), 0);

		memset(&v, 0, sizeof(v));
		snprintf(v.name, sizeof(v.name), "thumb");
		snprintf(v.text, sizeof(v.text), "w=100");
		v.options_json = "{\"width\":100}";
		T_EQ(px_catalog_variant_put(c, &v, true, &eb), 0);

		memset(&l, 0, sizeof(l));
		snprintf(l.name, sizeof(l.name), "list");
		l.action = PX_HL_FLAG;
		l.threshold = 31;
		T_EQ(px_hashlist_create(c, &l, &eb), 0);
		memset(&h, 0x5a, sizeof(h));
		T_EQ(px_hashlist_add(c, "list", &h, 1, &(size_t){0}, NULL, &eb), 0);

		memset(&t, 0, sizeof(t));
		snprintf(t.name, sizeof(t.name), "ci");
		t.scopes = 1;
		T_EQ(px_tokens_create(ts, &t, secret, &eb), 0);
		memset(&d, 0, sizeof(d));
		d.expires_us = px_wall_us() + 60000000;
		T_EQ(px_drafts_create(ds, &d, secret, &eb), 0);
		px_draft_release(&d);
		{
			char cookie[PX_SESSION_SECRET_LEN + 1];
			struct px_session sess;

			T_EQ(px_sessions_create(ss, "admin", NULL, px_wall_us(),
						cookie, &sess, &eb), 0);
		}
	}
	T_CASE("every key is in catalog.h's layout") {
		T_EQ(px_kv_begin(kv, PX_KV_RDONLY, &txn, &eb), 0);
		T_EQ(px_kv_scan(txn, "", 0, NULL, 0, 0, check_key, &s, &eb), 0);
		px_kv_abort(txn);
		/* img ix blobref cdec audit auditix outbox deadletter outboxseq
		 * pq var hl hle hx tok draft draftx sess lease, at least */
		T_OK(s.keys >= 19);
		T_EQ(s.undocumented, 0);
	}
	px_sessions_free(ss);
	px_drafts_free(ds);
	px_tokens_free(ts);
	px_catalog_free(c);
	px_kv_close(kv);
	px_blob_close(blobs);
	free(s.doc);
}
