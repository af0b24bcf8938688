/*
 * test_lease.c - claims on background work (catalog/lease.h) between
 * "nodes": several catalogs over one in-memory store, each with a node
 * id of its own, with leases forced on; and the cross-node messages'
 * decoder (catalog/watch.h).
 */
#include "catalog/catalog.h"
#include "catalog/lease.h"
#include "catalog/reclass.h"
#include "catalog/watch.h"
#include "core/crypto.h"

#include <unistd.h>

#include "t.h"

#define TTL_US 300000 /* short: expiry is waited for */

static struct px_catalog *node(struct px_blob_store *b, struct px_kv *kv)
{
	struct px_catalog *c = NULL;

	if (px_catalog_new(b, kv, &c))
		return NULL;
	px_catalog_lease_config(c, 1, TTL_US);
	return c;
}

/* The stored claim on key: its node id into node, its expiry returned;
 * 0 when there is none. */
static int64_t claim_of(struct px_kv *kv, const char *key, char *node,
			size_t nnode)
{
	struct px_kv_txn *txn;
	struct px_buf b;
	int64_t exp = 0;

	node[0] = '\0';
	px_buf_init(&b, 0);
	if (px_kv_begin(kv, PX_KV_RDONLY, &txn, NULL))
		return 0;
	if (px_kv_gets(txn, key, &b, NULL) == 0) {
		px_buf_add(&b, "", 1);
		sscanf((char *)b.data, "%*s %lld", (long long *)&exp);
		snprintf(node, nnode, "%.*s",
			 (int)strcspn((char *)b.data, " "), (char *)b.data);
	}
	px_kv_abort(txn);
	px_buf_release(&b);
	return exp;
}

static int add_pending(struct px_catalog *c, const char *id)
{
	struct px_image_rec r;
	int rc;

	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "%s", id);
	snprintf(r.status, sizeof(r.status), "pending");
	rc = px_catalog_add(c, &r, id, strlen(id), NULL, NULL, NULL);
	px_image_rec_release(&r);
	return rc;
}

static void leases(void)
{
	struct px_blob_store *blobs = NULL;
	struct px_kv *kv = NULL;
	struct px_catalog *a, *b, *c;
	struct px_lease_stats st;
	struct px_errbuf eb = {0};
	char who[128];
	int64_t exp;

	T_EQ(px_blob_open(&px_blob_mem_ops, "", &blobs, &eb), 0);
	T_EQ(px_kv_open(&px_kv_mem_ops, "", 0, &kv, &eb), 0);

	T_CASE("off by default on a store one process owns") {
		struct px_catalog *one = NULL;

		T_EQ(px_catalog_new(blobs, kv, &one), 0);
		T_EQ(add_pending(one, "solo"), 0);
		T_EQ(px_catalog_job_claim(one, "solo", &eb), 0);
		T_EQ(claim_of(kv, "lease/job/solo", who, sizeof(who)), 0);
		px_catalog_lease_stats(one, &st);
		T_EQ(st.claimed, 0);
		T_EQ(px_catalog_delete(one, "solo", NULL, &eb), 0);
		px_catalog_free(one);
	}

	a = node(blobs, kv);
	b = node(blobs, kv);
	c = node(blobs, kv);
	T_OK(a && b && c);
	if (!a || !b || !c)
		goto out;
	T_OK(strcmp(px_catalog_node(a), px_catalog_node(b)) != 0);

	T_CASE("one node claims a job; another is refused while it lives") {
		T_EQ(add_pending(a, "j1"), 0);
		T_EQ(px_catalog_job_claim(a, "j1", &eb), 0);
		exp = claim_of(kv, "lease/job/j1", who, sizeof(who));
		T_STREQ(who, px_catalog_node(a));
		T_OK(exp > px_wall_us());
		T_EQ(px_catalog_job_claim(b, "j1", &eb), PX_EBUSY);
		T_STREQ(eb.code, "claimed");
		/* claiming again is renewing */
		T_EQ(px_catalog_job_claim(a, "j1", &eb), 0);
		px_catalog_lease_stats(a, &st);
		T_EQ(st.held, 1);
		px_catalog_lease_stats(b, &st);
		T_EQ(st.busy, 1);
		T_EQ(st.held, 0);
	}
	T_CASE("the holder renews its claim past the first expiry") {
		int64_t later = 0;

		for (int i = 0; i < 500 && later <= exp; i++) {
			usleep(10000);
			later = claim_of(kv, "lease/job/j1", who, sizeof(who));
		}
		T_OK(later > exp);
		T_STREQ(who, px_catalog_node(a));
	}
	T_CASE("a dead holder's claim is taken over once it expires") {
		px_catalog_free(a); /* no more renewals: as a SIGKILL */
		a = NULL;
		exp = claim_of(kv, "lease/job/j1", who, sizeof(who));
		while (px_wall_us() <= exp)
			usleep(20000);
		T_EQ(px_catalog_job_claim(b, "j1", &eb), 0);
		claim_of(kv, "lease/job/j1", who, sizeof(who));
		T_STREQ(who, px_catalog_node(b));
		px_catalog_lease_stats(b, &st);
		T_EQ(st.taken_over, 1);
		T_EQ(px_catalog_job_claim(c, "j1", &eb), PX_EBUSY);
	}
	T_CASE("only the holder completes the job; the claim goes with it") {
		struct px_decision d = {.expect = "pending",
					.status = "approved", .leased = true};
		struct px_image_rec r;

		T_EQ(px_catalog_moderate(c, "j1", &d, NULL, &eb), PX_EBUSY);
		T_STREQ(eb.code, "lease_lost");
		memset(&r, 0, sizeof(r));
		T_EQ(px_catalog_get(b, "j1", &r, &eb), 0);
		T_STREQ(r.status, "pending");
		px_image_rec_release(&r);
		T_EQ(px_catalog_moderate(b, "j1", &d, NULL, &eb), 0);
		T_EQ(claim_of(kv, "lease/job/j1", who, sizeof(who)), 0);
		px_catalog_lease_stats(b, &st);
		T_EQ(st.held, 0);
		T_EQ(px_catalog_job_claim(c, "j1", &eb), PX_ENOTFOUND);
	}
	T_CASE("a decision by anyone, or a delete, ends a claim") {
		struct px_decision d = {.expect = "pending",
					.status = "blocked"};

		T_EQ(add_pending(b, "j2"), 0);
		T_EQ(add_pending(b, "j3"), 0);
		T_EQ(px_catalog_job_claim(b, "j2", &eb), 0);
		T_EQ(px_catalog_job_claim(b, "j3", &eb), 0);
		T_EQ(px_catalog_moderate(c, "j2", &d, NULL, &eb), 0);
		T_EQ(claim_of(kv, "lease/job/j2", who, sizeof(who)), 0);
		T_EQ(px_catalog_delete(c, "j3", NULL, &eb), 0);
		T_EQ(claim_of(kv, "lease/job/j3", who, sizeof(who)), 0);
		T_EQ(px_catalog_job_claim(b, "nope", &eb), PX_ENOTFOUND);
	}
	T_CASE("a released job is free at once") {
		T_EQ(add_pending(b, "j4"), 0);
		T_EQ(px_catalog_job_claim(b, "j4", &eb), 0);
		px_catalog_job_release(b, "j4");
		T_EQ(claim_of(kv, "lease/job/j4", who, sizeof(who)), 0);
		T_EQ(px_catalog_job_claim(c, "j4", &eb), 0);
		px_catalog_job_release(c, "j4");
		T_EQ(px_catalog_delete(c, "j4", NULL, &eb), 0);
	}
	T_CASE("outbox: one sender at a time; a stale settle changes nothing") {
		struct px_outbox_result done = {.delivered = true};
		struct px_outbox_stats os;

		T_EQ(px_catalog_notify(b, "{\"attempts\":0,\"next_at\":0,"
					  "\"body\":{\"event\":\"x\"}}", &eb), 0);
		T_EQ(px_catalog_outbox_stats(b, &os, &eb), 0);
		T_EQ(os.depth, 1);
		done.seq = 1;
		T_EQ(px_catalog_outbox_claim(b, 1, &eb), 0);
		T_EQ(px_catalog_outbox_claim(c, 1, &eb), PX_EBUSY);
		/* c never held it: its settle is skipped */
		T_EQ(px_catalog_outbox_settle(c, &done, 1, &eb), 0);
		T_EQ(px_catalog_outbox_stats(b, &os, &eb), 0);
		T_EQ(os.depth, 1);
		T_EQ(px_catalog_outbox_settle(b, &done, 1, &eb), 0);
		T_EQ(px_catalog_outbox_stats(b, &os, &eb), 0);
		T_EQ(os.depth, 0);
		T_EQ(claim_of(kv, "lease/outbox/0000000000000001", who,
			      sizeof(who)), 0);
		T_EQ(px_catalog_outbox_claim(c, 1, &eb), PX_ENOTFOUND);
		/* claims others ended (j2, j3) leave b's list at its next
		 * renewal */
		for (int i = 0; i < 500; i++) {
			px_catalog_lease_stats(b, &st);
			if (!st.held)
				break;
			usleep(10000);
		}
		T_EQ(st.held, 0);
	}
	T_CASE("a reclassify job is run by one node, taken over after its "
	       "holder dies, and freed by its end") {
		struct px_reclass_filter f;
		struct px_reclass_job j;
		struct px_catalog *d = node(blobs, kv);
		char key[64];

		memset(&f, 0, sizeof(f));
		T_OK(d != NULL);
		T_EQ(px_reclass_create(b, &f, "m1", "p1", &px_actor_system, &j,
				       &eb), 0);
		snprintf(key, sizeof(key), "lease/rcj/%s", j.id);
		T_EQ(px_reclass_claim(d, j.id, &eb), 0);
		T_STREQ((claim_of(kv, key, who, sizeof(who)), who),
			px_catalog_node(d));
		T_EQ(px_reclass_claim(c, j.id, &eb), PX_EBUSY);
		T_EQ(px_reclass_claim(d, j.id, &eb), 0); /* held: no write */
		px_catalog_free(d); /* no more renewals: as a SIGKILL */
		exp = claim_of(kv, key, who, sizeof(who));
		while (px_wall_us() <= exp)
			usleep(20000);
		px_catalog_lease_stats(c, &st);
		T_EQ(px_reclass_claim(c, j.id, &eb), 0);
		claim_of(kv, key, who, sizeof(who));
		T_STREQ(who, px_catalog_node(c));
		{
			struct px_lease_stats st2;

			px_catalog_lease_stats(c, &st2);
			T_EQ(st2.taken_over, st.taken_over + 1);
		}
		T_EQ(px_reclass_claim(b, j.id, &eb), PX_EBUSY);
		/* canceled on another node: the claim goes with it */
		{
			struct px_reclass_job ended;

			T_EQ(px_reclass_cancel(b, j.id, &px_actor_system,
					       &ended, &eb), 0);
		}
		T_EQ(claim_of(kv, key, who, sizeof(who)), 0);
		T_EQ(px_reclass_claim(b, j.id, &eb), PX_ENOTFOUND);
		T_EQ(px_reclass_claim(c, "rc_nope", &eb), PX_ENOTFOUND);
	}
out:
	px_catalog_free(a);
	px_catalog_free(b);
	px_catalog_free(c);
	px_kv_close(kv);
	px_blob_close(blobs);
}

static void messages(void)
{
	static const char sha[] =
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	struct px_change ch;
	const char *node;
	char m[512];

	T_CASE("messages decode") {
		snprintf(m, sizeof(m), "n1 image img-1 %s", sha);
		T_EQ(px_change_parse(m, &node, &ch), 0);
		T_STREQ(node, "n1");
		T_EQ(ch.kind, PX_CHANGE_IMAGE);
		T_STREQ(ch.id, "img-1");
		T_STREQ(ch.sha256, sha);
		snprintf(m, sizeof(m), "n1 variant card");
		T_EQ(px_change_parse(m, &node, &ch), 0);
		T_EQ(ch.kind, PX_CHANGE_VARIANT);
		T_STREQ(ch.variant, "card");
		snprintf(m, sizeof(m), "n2 purge sha %s", sha);
		T_EQ(px_change_parse(m, &node, &ch), 0);
		T_EQ(ch.kind, PX_CHANGE_PURGE);
		T_STREQ(ch.sha256, sha);
		T_OK(!ch.everything && !ch.variant);
		snprintf(m, sizeof(m), "n2 purge variant card");
		T_EQ(px_change_parse(m, &node, &ch), 0);
		T_STREQ(ch.variant, "card");
		snprintf(m, sizeof(m), "n2 purge all");
		T_EQ(px_change_parse(m, &node, &ch), 0);
		T_OK(ch.everything);
		snprintf(m, sizeof(m), "n3 outbox");
		T_EQ(px_change_parse(m, &node, &ch), 0);
		T_EQ(ch.kind, PX_CHANGE_OUTBOX);
		snprintf(m, sizeof(m), "n3 job");
		T_EQ(px_change_parse(m, &node, &ch), 0);
		T_EQ(ch.kind, PX_CHANGE_JOB);
	}
	T_CASE("malformed messages are refused") {
		static const char *const bad[] = {
			"", "n1", "n1 ", "n1 nothing", "n1 image img-1",
			"n1 image img-1 abc",
			("n1 image bad/id 0123456789abcdef0123456789abcdef"
			 "0123456789abcdef0123456789abcdef"),
			"n1 variant", "n1 variant a b", "n1 purge", "n1 purge sha x",
			"n1 purge all more", "n1 outbox x", "n1 job 1 2 3",
			"n1 purge variant",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			snprintf(m, sizeof(m), "%s", bad[i]);
			T_EQ(px_change_parse(m, &node, &ch), PX_EINVAL);
		}
	}
}

/*
 * An upload and a delete of the same bytes on two nodes, interleaved at
 * the worst points through wrapped store ops: the blob store's put and
 * the kv store's commit run a hook once, when armed.
 */
static struct px_blob_ops hooked_blob;
static struct px_kv_ops hooked_kv;
static void (*blob_hook)(void);
static void (*commit_hook)(void);

static int put_hooked(struct px_blob_store *s, const char *hex,
		      const void *data, size_t n, struct px_errbuf *eb)
{
	void (*h)(void) = blob_hook;
	int rc = px_blob_mem_ops.put(s, hex, data, n, eb);

	blob_hook = NULL;
	if (h)
		h();
	return rc;
}

static int commit_hooked(struct px_kv_txn *txn, struct px_errbuf *eb)
{
	void (*h)(void) = commit_hook;
	int rc = px_kv_mem_ops.commit(txn, eb);

	commit_hook = NULL;
	if (h)
		h();
	return rc;
}

static struct px_catalog *na, *nb;
static const char bytes[] = "the same bytes on two nodes";
static int hook_rc;

/* B deletes the last record of the bytes */
static void b_deletes(void)
{
	hook_rc = px_catalog_delete(nb, "old", NULL, NULL);
}

/* A uploads the same bytes again */
static void a_uploads(void)
{
	struct px_image_rec r;

	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "new");
	hook_rc = px_catalog_add(na, &r, bytes, sizeof(bytes), NULL, NULL,
				 NULL);
	px_image_rec_release(&r);
}

static bool blob_there(struct px_blob_store *b, const char *sha)
{
	uint64_t size = 0;

	return px_blob_stat(b, sha, &size, NULL) == 0 && size == sizeof(bytes);
}

static void upload_vs_delete(void)
{
	struct px_blob_store *blobs = NULL;
	struct px_kv *kv = NULL;
	struct px_image_rec r;
	char sha[PX_SHA256_HEX_LEN + 1];

	T_EQ(px_blob_open(&px_blob_mem_ops, "", &blobs, NULL), 0);
	T_EQ(px_kv_open(&px_kv_mem_ops, "", 0, &kv, NULL), 0);
	if (!blobs || !kv)
		return;
	hooked_blob = px_blob_mem_ops;
	hooked_blob.put = put_hooked;
	blobs->ops = &hooked_blob;
	hooked_kv = px_kv_mem_ops;
	hooked_kv.commit = commit_hooked;
	kv->ops = &hooked_kv;
	T_EQ(px_catalog_new(blobs, kv, &na), 0);
	T_EQ(px_catalog_new(blobs, kv, &nb), 0);
	T_EQ(px_sha256_hex(bytes, sizeof(bytes), sha), 0);

	T_CASE("the blob goes while A uploads: A writes it back") {
		memset(&r, 0, sizeof(r));
		snprintf(r.id, sizeof(r.id), "old");
		T_EQ(px_catalog_add(nb, &r, bytes, sizeof(bytes), NULL, NULL,
				    NULL), 0);
		px_image_rec_release(&r);
		/* A's put finds the bytes there; B's delete then removes
		 * them before A's record commits */
		blob_hook = b_deletes;
		a_uploads();
		T_EQ(hook_rc, 0);
		T_OK(blob_there(blobs, sha));
		T_EQ(px_catalog_delete(na, "new", NULL, NULL), 0);
		T_OK(!blob_there(blobs, sha));
	}
	T_CASE("A's upload commits between B's delete and B's removal: "
	       "the blob stays") {
		memset(&r, 0, sizeof(r));
		snprintf(r.id, sizeof(r.id), "old");
		T_EQ(px_catalog_add(nb, &r, bytes, sizeof(bytes), NULL, NULL,
				    NULL), 0);
		px_image_rec_release(&r);
		commit_hook = a_uploads;
		T_EQ(px_catalog_delete(nb, "old", NULL, NULL), 0);
		T_EQ(hook_rc, 0);
		T_OK(blob_there(blobs, sha));
		memset(&r, 0, sizeof(r));
		T_EQ(px_catalog_get(nb, "new", &r, NULL), 0);
		px_image_rec_release(&r);
		T_EQ(px_catalog_delete(na, "new", NULL, NULL), 0);
		T_OK(!blob_there(blobs, sha));
	}
	px_catalog_free(na);
	px_catalog_free(nb);
	px_kv_close(kv);
	px_blob_close(blobs);
}

/* A memory store that says it is shared (messages go nowhere), so the
 * catalog keeps its purge log there. */
static int notify_nowhere(struct px_kv_txn *txn, const char *payload,
			  struct px_errbuf *eb)
{
	(void)txn;
	(void)payload;
	(void)eb;
	return 0;
}

static int listen_nowhere(struct px_kv *kv, px_kv_notify_fn fn, void *ctx,
			  struct px_errbuf *eb)
{
	(void)kv;
	(void)fn;
	(void)ctx;
	(void)eb;
	return 0;
}

static char replayed[8192];

static void note_purge(void *ctx, const struct px_change *ch)
{
	(void)ctx;
	snprintf(replayed + strlen(replayed), sizeof(replayed) - strlen(replayed),
		 "%s%s", replayed[0] ? "," : "",
		 ch->everything ? "all" : ch->sha256 ? ch->sha256 : ch->variant);
}

static void purge_log(void)
{
	static struct px_kv_ops shared;
	struct px_blob_store *blobs = NULL;
	struct px_kv *kv = NULL;
	struct px_catalog *c = NULL;
	const char *sha[] = {"aa00000000000000000000000000000000000000000000000000000000000000"};
	const char *var[] = {"thumb", "card"};
	uint64_t last = 0;

	T_EQ(px_blob_open(&px_blob_mem_ops, "", &blobs, NULL), 0);
	T_EQ(px_kv_open(&px_kv_mem_ops, "", 0, &kv, NULL), 0);
	if (!blobs || !kv)
		return;
	shared = px_kv_mem_ops;
	shared.notify = notify_nowhere;
	shared.listen = listen_nowhere;
	kv->ops = &shared;
	T_EQ(px_catalog_new(blobs, kv, &c), 0);
	if (!c)
		goto out;
	T_EQ(px_catalog_purge_log(c, 0, note_purge, NULL, &last, NULL), 0);
	T_EQ(last, 0);
	T_STREQ(replayed, "");
	T_EQ(px_catalog_purge_announce(c, sha, 1, var, 2, false, NULL), 0);
	T_EQ(px_catalog_purge_announce(c, NULL, 0, NULL, 0, true, NULL), 0);
	/* everything after what was seen, in order */
	T_EQ(px_catalog_purge_log(c, 0, note_purge, NULL, &last, NULL), 0);
	T_EQ(last, 4);
	T_OK(!strcmp(replayed, "aa00000000000000000000000000000000000000000000000000000000000000,thumb,card,all"));
	replayed[0] = '\0';
	T_EQ(px_catalog_purge_log(c, 2, note_purge, NULL, &last, NULL), 0);
	T_STREQ(replayed, "card,all");
	replayed[0] = '\0';
	T_EQ(px_catalog_purge_log(c, 4, note_purge, NULL, &last, NULL), 0);
	T_STREQ(replayed, "");
	/* a number the store never gave: another installation */
	T_EQ(px_catalog_purge_log(c, 5, note_purge, NULL, &last, NULL),
	     PX_ENOTFOUND);
	/* the log keeps the last 1000: older numbers cannot be replayed */
	{
		int failed = 0;

		for (int i = 0; i < 1000; i++)
			failed += px_catalog_purge_announce(c, NULL, 0, var, 1,
							    false, NULL) != 0;
		T_EQ(failed, 0);
	}
	T_EQ(px_catalog_purge_log(c, 3, note_purge, NULL, &last, NULL),
	     PX_ENOTFOUND);
	T_EQ(last, 1004);
	replayed[0] = '\0';
	T_EQ(px_catalog_purge_log(c, 1002, note_purge, NULL, &last, NULL), 0);
	T_STREQ(replayed, "thumb,thumb");
	/* the oldest number still replayable */
	replayed[0] = '\0';
	T_EQ(px_catalog_purge_log(c, 4, note_purge, NULL, &last, NULL), 0);
	T_EQ(strlen(replayed), 1000 * 6 - 1);
out:
	px_catalog_free(c);
	px_kv_close(kv);
	px_blob_close(blobs);
}

static void run(void)
{
	T_CASE("purge log") purge_log();
	T_CASE("upload against delete") upload_vs_delete();
	leases();
	messages();
}
