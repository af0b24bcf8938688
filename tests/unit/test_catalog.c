/*
 * test_catalog.c - records and blobs together, over the in-memory
 * backends and over LMDB + filesystem, including injected failures.
 */
#include "catalog/brief.h"
#include "catalog/catalog.h"
#include "moderation/moderation.h"

#include <unistd.h>

#include "t.h"

struct names {
	char ids[64][PX_ID_MAX + 1];
	int n;
};

static int collect(void *ctx, const struct px_image_rec *rec)
{
	struct names *nm = ctx;

	if (nm->n < 64)
		snprintf(nm->ids[nm->n++], PX_ID_MAX + 1, "%s", rec->id);
	return 0;
}

static int count_blobs(void *ctx, const char *hex)
{
	(*(int *)ctx)++;
	return 0;
}

static int count_job(void *ctx, const char *id)
{
	(*(int *)ctx)++;
	return 0;
}

static int nblobs(struct px_blob_store *b)
{
	int n = 0;

	px_blob_list(b, count_blobs, &n, NULL);
	return n;
}

static void add(struct px_catalog *c, const char *id, const char *bytes,
		int expect)
{
	struct px_image_rec rec;
	struct px_errbuf eb = {0};

	memset(&rec, 0, sizeof(rec));
	snprintf(rec.id, sizeof(rec.id), "%s", id);
	rec.meta = strdup("{\"k\":1}");
	snprintf(rec.format, sizeof(rec.format), "jpeg");
	T_EQ(px_catalog_add(c, &rec, bytes, strlen(bytes), NULL, NULL, &eb), expect);
	px_image_rec_release(&rec);
}

struct ob_seen {
	int n;
	uint64_t seq[8];
	int attempts[8];
	char image[8][16];
	char body[8][160];
};

static int ob_collect(void *ctx, const struct px_outbox_event *ev)
{
	struct ob_seen *ob = ctx;

	if (ob->n < 8) {
		ob->seq[ob->n] = ev->seq;
		ob->attempts[ob->n] = ev->attempts;
		px_strlcpy(ob->image[ob->n], ev->image, sizeof(ob->image[0]));
		snprintf(ob->body[ob->n], sizeof(ob->body[0]), "%s",
			 ev->body ? ev->body : "");
	}
	ob->n++;
	return 0;
}

struct audit_seen {
	int n;
	char action[16][16];
};

static int audit_collect(void *ctx, const char *json, size_t n)
{
	struct audit_seen *as = ctx;
	const char *p = strstr(json, "\"action\":\"");

	(void)n;
	if (as->n < 16 && p)
		sscanf(p + 10, "%15[a-z]", as->action[as->n]);
	as->n++;
	return 0;
}

static void suite(const struct px_blob_ops *bops, const struct px_kv_ops *kops,
		  const char *dir)
{
	struct px_blob_store *blobs = NULL;
	struct px_kv *kv = NULL;
	struct px_catalog *c = NULL;
	struct px_image_rec rec;
	struct px_errbuf eb = {0};
	struct names nm;
	char next[256], path[512];
	unsigned tmp, orphans;

	snprintf(path, sizeof(path), "%s/meta", dir);
	T_EQ(px_blob_open(bops, dir, &blobs, &eb), 0);
	T_EQ(px_kv_open(kops, path, 0, &kv, &eb), 0);
	T_EQ(px_catalog_new(blobs, kv, &c), 0);

	T_CASE("add, get, duplicate id") {
		add(c, "a", "bytes-1", 0);
		add(c, "b", "bytes-2", 0);
		add(c, "a", "bytes-3", PX_EEXIST);
		/* The refused upload's unique bytes are not left behind. */
		T_EQ(nblobs(blobs), 2);
		memset(&rec, 0, sizeof(rec));
		T_EQ(px_catalog_get(c, "a", &rec, &eb), 0);
		T_STREQ(rec.meta, "{\"k\":1}");
		T_EQ(rec.bytes, 7u);
		T_STREQ(rec.status, "approved");
		px_image_rec_release(&rec);
		T_EQ(px_catalog_get(c, "zzz", &rec, &eb), PX_ENOTFOUND);
		T_STREQ(eb.code, "not_found");
		T_EQ(px_catalog_get(c, "bad/id", &rec, &eb), PX_ENOTFOUND);
	}
	T_CASE("generated ids are time-ordered") {
		struct px_image_rec r1, r2;

		memset(&r1, 0, sizeof(r1));
		memset(&r2, 0, sizeof(r2));
		T_EQ(px_catalog_add(c, &r1, "g1", 2, NULL, NULL, &eb), 0);
		T_EQ(px_catalog_add(c, &r2, "g2", 2, NULL, NULL, &eb), 0);
		T_EQ(strlen(r1.id), 36u);
		T_OK(strcmp(r1.id, r2.id) < 0);
		T_EQ(px_catalog_delete(c, r1.id, NULL, &eb), 0);
		T_EQ(px_catalog_delete(c, r2.id, NULL, &eb), 0);
	}
	T_CASE("identical bytes stored once, removed with the last user") {
		add(c, "c", "bytes-1", 0);
		T_EQ(nblobs(blobs), 2);
		T_EQ(px_catalog_delete(c, "a", NULL, &eb), 0);
		T_EQ(nblobs(blobs), 2);
		T_EQ(px_catalog_delete(c, "c", NULL, &eb), 0);
		T_EQ(nblobs(blobs), 1);
		T_EQ(px_catalog_delete(c, "c", NULL, &eb), PX_ENOTFOUND);
	}
	T_CASE("update") {
		memset(&rec, 0, sizeof(rec));
		T_EQ(px_catalog_update(c, "b", "{\"x\":2}", 1, NULL, &rec, &eb), 0);
		T_STREQ(rec.meta, "{\"x\":2}");
		T_OK(rec.require_signed);
		px_image_rec_release(&rec);
		T_EQ(px_catalog_update(c, "b", NULL, -1, NULL, &rec, &eb), 0);
		T_STREQ(rec.meta, "{\"x\":2}");
		px_image_rec_release(&rec);
		T_EQ(px_catalog_update(c, "nope", NULL, 0, NULL, &rec, &eb), PX_ENOTFOUND);
	}
	T_CASE("brief follows every change to the record") {
		struct px_image_brief br;

		T_EQ(px_catalog_brief(c, "b", &br, &eb), 0);
		T_STREQ(br.id, "b");
		T_STREQ(br.status, "approved");
		T_EQ(br.bytes, 7u);
		T_OK(br.require_signed);
		T_OK(br.frames_covered);
		T_EQ(px_catalog_brief(c, "b", &br, &eb), 0); /* from the memo */
		T_OK(br.require_signed);
		memset(&rec, 0, sizeof(rec));
		T_EQ(px_catalog_update(c, "b", NULL, 0, NULL, &rec, &eb), 0);
		px_image_rec_release(&rec);
		T_EQ(px_catalog_brief(c, "b", &br, &eb), 0);
		T_OK(!br.require_signed);
		T_EQ(px_catalog_brief(c, "zzz", &br, &eb), PX_ENOTFOUND);
		T_STREQ(eb.code, "not_found");
		T_EQ(px_catalog_brief(c, "bad/id", &br, &eb), PX_ENOTFOUND);
	}
	T_CASE("list newest first with tokens, stable under inserts") {
		char id[16], tok[256];
		int seen = 0;

		for (int i = 0; i < 10; i++) {
			snprintf(id, sizeof(id), "p%02d", i);
			char bytes[32];
			snprintf(bytes, sizeof(bytes), "page-%d", i);
			add(c, id, bytes, 0);
			usleep(1000);
		}
		memset(&nm, 0, sizeof(nm));
		T_EQ(px_catalog_list(c, NULL, 4, collect, &nm, next, sizeof(next), &eb), 0);
		T_EQ(nm.n, 4);
		T_STREQ(nm.ids[0], "p09");
		T_STREQ(nm.ids[3], "p06");
		T_OK(next[0] != '\0');
		add(c, "newer", "newer-bytes", 0);
		snprintf(tok, sizeof(tok), "%s", next);
		memset(&nm, 0, sizeof(nm));
		T_EQ(px_catalog_list(c, tok, 4, collect, &nm, next, sizeof(next), &eb), 0);
		T_EQ(nm.n, 4);
		T_STREQ(nm.ids[0], "p05");
		snprintf(tok, sizeof(tok), "%s", next);
		memset(&nm, 0, sizeof(nm));
		T_EQ(px_catalog_list(c, tok, 100, collect, &nm, next, sizeof(next), &eb), 0);
		T_STREQ(nm.ids[0], "p01");
		T_STREQ(nm.ids[nm.n - 1], "b");
		T_STREQ(next, "");
		seen = nm.n;
		T_EQ(seen, 3);
		T_EQ(px_catalog_list(c, "garbage", 4, collect, &nm, next, sizeof(next), &eb), PX_EINVAL);
		T_STREQ(eb.code, "invalid_continuation_token");
	}
	T_CASE("oldest first, by offset or token; count") {
		struct names all, part;
		uint64_t total = 0;
		char tok[256];

		memset(&all, 0, sizeof(all));
		T_EQ(px_catalog_count(c, &total, &eb), 0);
		T_EQ(px_catalog_list_ordered(c, true, NULL, 0, 64, collect, &all,
					     next, sizeof(next), &eb), 0);
		T_EQ((uint64_t)all.n, total);
		T_OK(all.n >= 12);
		T_STREQ(all.ids[all.n - 1], "newer");
		T_STREQ(all.ids[all.n - 2], "p09");
		memset(&part, 0, sizeof(part));
		T_EQ(px_catalog_list_ordered(c, true, NULL, 2, 3, collect, &part,
					     next, sizeof(next), &eb), 0);
		T_EQ(part.n, 3);
		T_STREQ(part.ids[0], all.ids[2]);
		T_STREQ(part.ids[2], all.ids[4]);
		T_OK(next[0] != '\0');
		snprintf(tok, sizeof(tok), "%s", next);
		memset(&part, 0, sizeof(part));
		T_EQ(px_catalog_list_ordered(c, true, tok, 0, 2, collect, &part,
					     next, sizeof(next), &eb), 0);
		T_STREQ(part.ids[0], all.ids[5]);
		T_STREQ(part.ids[1], all.ids[6]);
		memset(&part, 0, sizeof(part));
		T_EQ(px_catalog_list_ordered(c, true, NULL, (uint64_t)all.n, 5,
					     collect, &part, next, sizeof(next), &eb), 0);
		T_EQ(part.n, 0);
		T_STREQ(next, "");
		memset(&part, 0, sizeof(part));
		T_EQ(px_catalog_list_ordered(c, false, NULL, 1, 1, collect, &part,
					     next, sizeof(next), &eb), 0);
		T_STREQ(part.ids[0], "p09");
	}
	T_CASE("a failed blob write leaves no record") {
		px_blob_fault_put(PX_EIO, 0);
		add(c, "fail1", "fault-bytes-1", PX_EIO);
		px_blob_fault_put(0, 0);
		T_EQ(px_catalog_get(c, "fail1", &rec, &eb), PX_ENOTFOUND);
	}
	T_CASE("a failed commit leaves no record and no blob") {
		int before = nblobs(blobs);

		px_kv_fault_commit(PX_EIO, 0);
		add(c, "fail2", "fault-bytes-2", PX_EIO);
		px_kv_fault_commit(0, 0);
		T_EQ(px_catalog_get(c, "fail2", &rec, &eb), PX_ENOTFOUND);
		T_EQ(nblobs(blobs), before);
	}
	T_CASE("recovery removes unreferenced blobs only") {
		int before = nblobs(blobs);

		/* An orphan: a blob whose record never committed. */
		T_EQ(px_blob_put(blobs, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
				 "x", 1, &eb), 0);
		T_EQ(px_catalog_recover(c, &tmp, &orphans, &eb), 0);
		T_EQ(orphans, 1u);
		T_EQ(nblobs(blobs), before);
		memset(&rec, 0, sizeof(rec));
		T_EQ(px_catalog_get(c, "b", &rec, &eb), 0);
		struct px_buf bb;
		px_buf_init(&bb, 0);
		T_EQ(px_catalog_blob(c, &rec, &bb, &eb), 0);
		T_OK(bb.len == 7 && !memcmp(bb.data, "bytes-2", 7));
		px_buf_release(&bb);
		px_image_rec_release(&rec);
	}
	T_CASE("outbox: commit order, settling, dead letters") {
		struct ob_seen ob;
		struct px_outbox_stats st;
		struct px_outbox_result res[2];
		char tok[64];

		for (int i = 0; i < 3; i++) {
			char ev[128];

			snprintf(ev, sizeof(ev),
				 "{\"attempts\":0,\"next_at\":0,\"body\":{\"event\":\"x\",\"id\":\"img%d\"}}", i);
			T_EQ(px_catalog_notify(c, ev, &eb), 0);
		}
		T_EQ(px_catalog_notify(c, "{\"event\":\"unwrapped\"}", &eb), PX_EINVAL);
		memset(&ob, 0, sizeof(ob));
		T_EQ(px_catalog_outbox_scan(c, 0, 100, ob_collect, &ob, &eb), 0);
		T_EQ(ob.n, 3);
		T_OK(ob.seq[1] == ob.seq[0] + 1 && ob.seq[2] == ob.seq[1] + 1);
		T_STREQ(ob.image[2], "img2");
		T_OK(strstr(ob.body[0], "\"event_id\":\"evt_") != NULL);
		memset(res, 0, sizeof(res));
		res[0].seq = ob.seq[0];
		res[0].delivered = true;
		res[1].seq = ob.seq[1];
		res[1].dead = true;
		res[1].attempts = 12;
		res[1].status = 500;
		T_EQ(px_catalog_outbox_settle(c, res, 2, &eb), 0);
		T_EQ(px_catalog_outbox_stats(c, &st, &eb), 0);
		T_EQ(st.depth, 1u);
		T_EQ(st.dead, 1u);
		memset(&ob, 0, sizeof(ob));
		T_EQ(px_catalog_dead_list(c, NULL, 10, ob_collect, &ob, tok, sizeof(tok), &eb), 0);
		T_EQ(ob.n, 1);
		T_EQ(ob.attempts[0], 12);
		snprintf(tok, sizeof(tok), "evt_%016llx", (unsigned long long)ob.seq[0]);
		T_EQ(px_catalog_dead_retry(c, tok, &eb), 0);
		T_EQ(px_catalog_dead_retry(c, tok, &eb), PX_ENOTFOUND);
		memset(&ob, 0, sizeof(ob));
		T_EQ(px_catalog_outbox_scan(c, 0, 100, ob_collect, &ob, &eb), 0);
		T_EQ(ob.n, 2);
		T_EQ(ob.attempts[0], 0);
		/* Not due: no body decoded. */
		res[0].seq = ob.seq[0];
		res[0].delivered = false;
		res[0].dead = false;
		res[0].attempts = 1;
		res[0].next_at_us = px_wall_us() + 60000000;
		T_EQ(px_catalog_outbox_settle(c, res, 1, &eb), 0);
		memset(&ob, 0, sizeof(ob));
		T_EQ(px_catalog_outbox_scan(c, px_wall_us(), 100, ob_collect, &ob, &eb), 0);
		T_EQ(ob.n, 2);
		T_OK(ob.body[0][0] == '\0');
		T_OK(ob.body[1][0] == '{');
		res[0].seq = ob.seq[0];
		res[0].delivered = true;
		res[1].seq = ob.seq[1];
		res[1].delivered = true;
		T_EQ(px_catalog_outbox_settle(c, res, 2, &eb), 0);
	}
	T_CASE("a tombstone: the original dropped, the record kept") {
		struct px_image_rec r1, r2, got;
		struct px_decision d = {.expect = "pending", .status = "blocked",
					.drop_original = true};
		struct px_buf b;

		memset(&r1, 0, sizeof(r1));
		memset(&r2, 0, sizeof(r2));
		snprintf(r1.id, sizeof(r1.id), "tomb1");
		snprintf(r1.status, sizeof(r1.status), "pending");
		snprintf(r2.id, sizeof(r2.id), "tomb2");
		snprintf(r2.status, sizeof(r2.status), "pending");
		T_EQ(px_catalog_add(c, &r1, "tomb-bytes", 10, NULL, NULL, &eb), 0);
		T_EQ(px_catalog_add(c, &r2, "tomb-bytes", 10, NULL, NULL, &eb), 0);
		/* Another record holds the bytes: they stay. */
		T_EQ(px_catalog_moderate(c, "tomb1", &d, &got, &eb), 0);
		T_OK(got.original_deleted);
		px_buf_init(&b, 0);
		T_EQ(px_catalog_blob(c, &got, &b, &eb), PX_ENOTFOUND);
		T_STREQ(eb.code, "original_deleted");
		T_EQ(px_catalog_blob(c, &r2, &b, &eb), 0);
		px_image_rec_release(&got);
		/* The last holder goes: so do the bytes. */
		T_EQ(px_catalog_moderate(c, "tomb2", &d, NULL, &eb), 0);
		b.len = 0;
		T_EQ(px_blob_get(blobs, r2.sha256, &b, &eb), PX_ENOTFOUND);
		/* Twice is harmless; delete does not drop a reference again. */
		d.expect = NULL;
		T_EQ(px_catalog_moderate(c, "tomb2", &d, NULL, &eb), 0);
		T_EQ(px_catalog_delete(c, "tomb1", NULL, &eb), 0);
		T_EQ(px_catalog_delete(c, "tomb2", NULL, &eb), 0);
		px_buf_release(&b);
		px_image_rec_release(&r1);
		px_image_rec_release(&r2);
	}
	T_CASE("moderation: queue, jobs, audit, outbox") {
		struct px_image_rec r;
		struct names q;
		int njobs = 0;

		memset(&r, 0, sizeof(r));
		snprintf(r.id, sizeof(r.id), "mod1");
		snprintf(r.status, sizeof(r.status), "pending");
		T_EQ(px_catalog_add(c, &r, "mod-bytes", 9, NULL, NULL, &eb), 0);
		px_image_rec_release(&r);
		T_EQ(px_catalog_jobs(c, 10, count_job, &njobs, &eb), 0);
		T_EQ(njobs, 1);
		memset(&q, 0, sizeof(q));
		T_EQ(px_catalog_queue(c, "pending", NULL, 10, collect, &q, next, sizeof(next), &eb), 0);
		T_EQ(q.n, 1);
		struct px_actor who = {"tok-1", "rev-1"};

		struct px_decision d1 = {.expect = "pending", .status = "flagged",
					 .moderation = "{\"rule\":\"r\"}",
					 .event = "{\"attempts\":0,\"next_at\":0,\"body\":{\"event\":\"flag\",\"id\":\"mod1\"}}"};
		struct px_decision d2 = {.expect = "pending", .status = "approved"};
		struct px_decision d3 = {.expect = "flagged", .status = "approved",
					 .review = "{\"who\":\"admin\",\"note\":\"ok\"}",
					 .who = &who};
		char etag[PX_REC_ETAG_MAX], etag2[PX_REC_ETAG_MAX];

		T_EQ(px_catalog_moderate(c, "mod1", &d1, &r, &eb), 0);
		T_EQ(px_catalog_etag(&r, etag), 0);
		T_STREQ(r.status, "flagged");
		px_image_rec_release(&r);
		njobs = 0;
		T_EQ(px_catalog_jobs(c, 10, count_job, &njobs, &eb), 0);
		T_EQ(njobs, 0);
		memset(&q, 0, sizeof(q));
		T_EQ(px_catalog_queue(c, "pending", NULL, 10, collect, &q, next, sizeof(next), &eb), 0);
		T_EQ(q.n, 0);
		T_EQ(px_catalog_queue(c, "flagged", NULL, 10, collect, &q, next, sizeof(next), &eb), 0);
		T_EQ(q.n, 1);
		/* A decision on a stale status is refused. */
		T_EQ(px_catalog_moderate(c, "mod1", &d2, NULL, &eb), PX_EBUSY);
		T_STREQ(eb.code, "conflict");
		/* A stale ETag is refused too, the current one accepted. */
		d3.expect_etag = "\"r000000\"";
		T_EQ(px_catalog_moderate(c, "mod1", &d3, NULL, &eb), PX_EBUSY);
		d3.expect_etag = etag;
		T_EQ(px_catalog_moderate(c, "mod1", &d3, &r, &eb), 0);
		T_EQ(px_catalog_etag(&r, etag2), 0);
		T_OK(strcmp(etag, etag2) != 0);
		{
			struct px_content_decision cd;

			T_EQ(px_catalog_content_decision(c, r.sha256, &cd, &eb), 0);
			T_STREQ(cd.decision, "approved");
			T_STREQ(cd.image, "mod1");
			T_STREQ(cd.by, "rev-1");
			T_EQ(px_catalog_content_decision(c, "00", &cd, &eb), PX_ENOTFOUND);
		}
		T_STREQ(r.moderation, "{\"rule\":\"r\"}");
		T_STREQ(r.audit, "[{\"who\":\"admin\",\"note\":\"ok\"}]");
		px_image_rec_release(&r);
		memset(&q, 0, sizeof(q));
		T_EQ(px_catalog_queue(c, "flagged", NULL, 10, collect, &q, next, sizeof(next), &eb), 0);
		T_EQ(q.n, 0);
		T_EQ(px_catalog_queue(c, "approved", NULL, 10, collect, &q, next, sizeof(next), &eb), PX_EINVAL);
		T_EQ(px_catalog_delete(c, "mod1", NULL, &eb), 0);

		/* The history outlives the record, in order, with actors. */
		{
			struct px_audit_filter f = {.image = "mod1"};
			struct audit_seen as;
			char tok[64];

			memset(&as, 0, sizeof(as));
			T_EQ(px_catalog_audit_list(c, &f, NULL, 100, audit_collect,
						   &as, next, sizeof(next), &eb), 0);
			T_EQ(as.n, 4);
			T_STREQ(as.action[0], "upload");
			T_STREQ(as.action[1], "verdict");
			T_STREQ(as.action[2], "review");
			T_STREQ(as.action[3], "delete");
			T_STREQ(next, "");
			f.actor = "rev-1";
			memset(&as, 0, sizeof(as));
			T_EQ(px_catalog_audit_list(c, &f, NULL, 100, audit_collect,
						   &as, next, sizeof(next), &eb), 0);
			T_EQ(as.n, 1);
			T_STREQ(as.action[0], "review");
			/* Pages of one, then the end. */
			f.actor = NULL;
			memset(&as, 0, sizeof(as));
			T_EQ(px_catalog_audit_list(c, &f, NULL, 1, audit_collect,
						   &as, tok, sizeof(tok), &eb), 0);
			T_EQ(as.n, 1);
			T_OK(tok[0] != '\0');
			T_EQ(px_catalog_audit_list(c, &f, tok, 3, audit_collect,
						   &as, next, sizeof(next), &eb), 0);
			T_EQ(as.n, 4);
			T_STREQ(as.action[3], "delete");
			T_EQ(px_catalog_audit_list(c, &f, "zz", 3, audit_collect,
						   &as, next, sizeof(next), &eb), PX_EINVAL);
			/* Retention removes everything older than now. */
			unsigned removed = 0;
			T_EQ(px_catalog_audit_prune(c, px_wall_us() + 1, &removed, &eb), 0);
			T_OK(removed >= 4);
			memset(&as, 0, sizeof(as));
			T_EQ(px_catalog_audit_list(c, NULL, NULL, 100, audit_collect,
						   &as, next, sizeof(next), &eb), 0);
			T_EQ(as.n, 0);
		}
	}
	px_catalog_free(c);
	px_kv_close(kv);
	px_blob_close(blobs);
}

static int count_match(void *ctx, const struct px_image_rec *rec)
{
	(*(int *)ctx)++;
	return 0;
}

/* Counts by status, their rebuild, uploads per hour and search. */
static void stats_suite(void)
{
	struct px_errbuf eb = {0};
	struct px_blob_store *blobs = NULL;
	struct px_kv *kv = NULL;
	struct px_catalog *c = NULL;
	struct px_catalog_counts n;
	struct px_kv_txn *txn;
	uint64_t hours[24];
	char next[256], body[32];
	int found;

	T_EQ(px_blob_open(&px_blob_mem_ops, "", &blobs, &eb), 0);
	T_EQ(px_kv_open(&px_kv_mem_ops, "", 0, &kv, &eb), 0);
	T_EQ(px_catalog_new(blobs, kv, &c), 0);
	T_CASE("counts follow uploads, decisions and deletes") {
		struct px_decision d = {.status = "flagged"};

		T_EQ(px_catalog_counts(c, &n, &eb), 0);
		T_EQ(n.total, 0u);
		add(c, "a", "aaa", 0);
		add(c, "b", "bbb", 0);
		add(c, "c", "ccc", 0);
		T_EQ(px_catalog_moderate(c, "b", &d, NULL, &eb), 0);
		T_EQ(px_catalog_counts(c, &n, &eb), 0);
		T_EQ(n.total, 3u);
		T_EQ(n.approved, 2u);
		T_EQ(n.flagged, 1u);
		T_EQ(n.blocked + n.pending + n.other, 0u);
		d.status = "blocked";
		T_EQ(px_catalog_moderate(c, "b", &d, NULL, &eb), 0);
		T_EQ(px_catalog_delete(c, "a", NULL, &eb), 0);
		T_EQ(px_catalog_counts(c, &n, &eb), 0);
		T_EQ(n.total, 2u);
		T_EQ(n.approved, 1u);
		T_EQ(n.flagged, 0u);
		T_EQ(n.blocked, 1u);
	}
	T_CASE("counts without their marker are rebuilt from the records") {
		T_EQ(px_kv_begin(kv, 0, &txn, &eb), 0);
		T_EQ(px_kv_puts(txn, "stat/n/approved", "99", 2, 0, &eb), 0);
		T_EQ(px_kv_puts(txn, "stat/n/weird", "5", 1, 0, &eb), 0);
		{
			char hk[40];

			snprintf(hk, sizeof(hk), "stat/h/%016llx",
				 (unsigned long long)(px_wall_us() / 3600000000LL));
			T_EQ(px_kv_puts(txn, hk, "99", 2, 0, &eb), 0);
		}
		T_EQ(px_kv_dels(txn, "stat/built", &eb), 0);
		T_EQ(px_kv_commit(txn, &eb), 0);
		T_EQ(px_catalog_counts(c, &n, &eb), 0);
		T_EQ(n.total, 2u);
		T_EQ(n.approved, 1u);
		T_EQ(n.blocked, 1u);
		T_EQ(n.other, 0u);
	}
	T_CASE("uploads per hour from the time index") {
		int64_t now = px_wall_us();

		T_EQ(px_catalog_uploads_hourly(c, now, 24, hours, &eb), 0);
		T_EQ(hours[23], 2u);
		for (int i = 0; i < 23; i++)
			T_EQ(hours[i], 0u);
		/* an hour later they are in the second-last bucket */
		T_EQ(px_catalog_uploads_hourly(c, now + 3600000000LL, 24, hours, &eb), 0);
		T_EQ(hours[22], 2u);
		T_EQ(hours[23], 0u);
		/* a day later, gone; an hour earlier, not yet there */
		T_EQ(px_catalog_uploads_hourly(c, now + 25 * 3600000000LL, 24, hours, &eb), 0);
		T_EQ(hours[0] + hours[23], 0u);
		T_EQ(px_catalog_uploads_hourly(c, now - 3600000000LL, 24, hours, &eb), 0);
		T_EQ(hours[23], 0u);
	}
	T_CASE("search: id, filename, metadata, without case; a bounded scan") {
		found = 0;
		T_EQ(px_catalog_list_search(c, NULL, "\"K\"", NULL, 100, count_match,
					    &found, next, sizeof(next), &eb), 0);
		T_EQ(found, 2);
		found = 0;
		T_EQ(px_catalog_list_search(c, "blocked", "k", NULL, 100, count_match,
					    &found, next, sizeof(next), &eb), 0);
		T_EQ(found, 1);
		found = 0;
		T_EQ(px_catalog_list_search(c, NULL, "C", NULL, 100, count_match,
					    &found, next, sizeof(next), &eb), 0);
		T_EQ(found, 1); /* id "c" */
		T_EQ(next[0], '\0');
		/* past the scan bound with no match: an empty page and a token */
		px_catalog_set_search_scan(c, 50);
		for (int i = 0; i < 55; i++) {
			char id[32];

			snprintf(id, sizeof(id), "n%05d", i);
			snprintf(body, sizeof(body), "bytes %d", i);
			add(c, id, body, 0);
		}
		found = 0;
		T_EQ(px_catalog_list_search(c, NULL, "zzz", NULL, 5, count_match,
					    &found, next, sizeof(next), &eb), 0);
		T_EQ(found, 0);
		T_OK(next[0] != '\0');
		{
			char tok[256];

			memcpy(tok, next, sizeof(tok));
			T_EQ(px_catalog_list_search(c, NULL, "zzz", tok, 5, count_match,
						    &found, next, sizeof(next), &eb), 0);
			T_EQ(found, 0);
			T_EQ(next[0], '\0');
			/* a match after the bound is found on the next page */
			T_EQ(px_catalog_list_search(c, NULL, "C", NULL, 5, count_match,
						    &found, next, sizeof(next), &eb), 0);
			T_EQ(found, 0);
			memcpy(tok, next, sizeof(tok));
			T_EQ(px_catalog_list_search(c, NULL, "C", tok, 5, count_match,
						    &found, next, sizeof(next), &eb), 0);
			T_EQ(found, 1);
		}
	}
	px_catalog_free(c);
	px_kv_close(kv);
	px_blob_close(blobs);
}

/* The memo on its own: exact bytes or a fresh decode. */
static void brief_memo(void)
{
	static const char *r1 = "{\"id\":\"x\",\"sha256\":\"ab\",\"status\":\"approved\","
		"\"format\":\"gif\",\"width\":4,\"height\":3,\"frames\":9,\"bytes\":99,"
		"\"alpha\":true,\"require_signed\":false,\"meta\":{},"
		"\"moderation\":{\"frames\":{\"total\":9,\"complete\":false}}}";
	static const char *r2 = "{\"id\":\"x\",\"sha256\":\"ab\",\"status\":\"blocked\","
		"\"format\":\"gif\",\"width\":4,\"height\":3,\"frames\":9,\"bytes\":99}";
	static const char *r3 = "{\"id\":\"y\",\"status\":\"approved\"}";
	struct px_brief_memo *m = NULL;
	struct px_image_brief b;
	unsigned long long hits, decodes;

	T_CASE("brief memo: a hit needs the same bytes") {
		T_EQ(px_brief_memo_new(1, 0, &m), 0);
		T_EQ(px_brief_get(m, "x", r1, strlen(r1), &b), 0);
		T_STREQ(b.status, "approved");
		T_STREQ(b.format, "gif");
		T_EQ(b.frames, 9);
		T_EQ(b.bytes, 99u);
		T_OK(b.alpha);
		T_OK(!b.frames_covered);
		T_EQ(px_brief_get(m, "x", r1, strlen(r1), &b), 0);
		px_brief_memo_stats(m, &hits, &decodes);
		T_EQ(hits, 1u);
		T_EQ(decodes, 1u);
		/* same id, new bytes: decoded again */
		T_EQ(px_brief_get(m, "x", r2, strlen(r2), &b), 0);
		T_STREQ(b.status, "blocked");
		T_OK(b.frames_covered);
		/* another id in the one slot */
		T_EQ(px_brief_get(m, "y", r3, strlen(r3), &b), 0);
		T_STREQ(b.id, "y");
		T_EQ(px_brief_get(m, "x", r2, strlen(r2), &b), 0);
		T_STREQ(b.status, "blocked");
		px_brief_memo_stats(m, &hits, &decodes);
		T_EQ(hits, 1u);
		T_EQ(decodes, 4u);
		/* bytes stored under another id are never a hit */
		T_EQ(px_brief_get(m, "z", r2, strlen(r2), &b), 0);
		T_STREQ(b.id, "x");
		T_EQ(px_brief_get(m, "x", "nope", 4, &b), PX_ECORRUPT);
		px_brief_memo_free(m);
	}
	T_CASE("brief memo: large records are decoded, not kept") {
		T_EQ(px_brief_memo_new(4, 16, &m), 0);
		T_EQ(px_brief_get(m, "x", r1, strlen(r1), &b), 0);
		T_EQ(px_brief_get(m, "x", r1, strlen(r1), &b), 0);
		px_brief_memo_stats(m, &hits, &decodes);
		T_EQ(hits, 0u);
		T_EQ(decodes, 2u);
		px_brief_memo_free(m);
		T_EQ(px_brief_get(NULL, "x", r2, strlen(r2), &b), 0);
		T_STREQ(b.status, "blocked");
	}
	T_CASE("brief frames_covered is px_moderation_frames_covered") {
		static const char *mods[] = {
			NULL, "{}", "{\"frames\":{\"complete\":true}}",
			"{\"frames\":{\"complete\":false}}", "{\"frames\":{}}",
			"{\"frames\":{\"complete\":1}}",
		};

		for (size_t i = 0; i < PX_ARRAY_LEN(mods); i++) {
			struct px_image_rec rec = {.moderation = (char *)mods[i]};
			char raw[256];

			snprintf(raw, sizeof(raw), "{\"id\":\"x\"%s%s}",
				 mods[i] ? ",\"moderation\":" : "",
				 mods[i] ? mods[i] : "");
			T_EQ(px_brief_decode(raw, strlen(raw), &b), 0);
			T_EQ(b.frames_covered, px_moderation_frames_covered(&rec));
		}
	}
}

static void run(void)
{
	stats_suite();

	char dir[] = "/tmp/pictor-test-catalog-XXXXXX";
	char cmd[256];

	brief_memo();
	suite(&px_blob_mem_ops, &px_kv_mem_ops, "mem");
	if (!mkdtemp(dir)) {
		T_OK(!"mkdtemp");
		return;
	}
	suite(&px_blob_fs_ops, &px_kv_lmdb_ops, dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	T_EQ(system(cmd), 0);
}
