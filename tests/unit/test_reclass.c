/*
 * test_reclass.c - re-classification jobs: the request parser, the filter,
 * and the job's durable state over the in-memory stores (cursor, counts,
 * one job at a time, cancel, a step in a record's own transaction).
 */
#include "moderation/reclass.h"

#include "t.h"

static void add(struct px_catalog *c, const char *id, const char *status,
		const char *moderation)
{
	struct px_image_rec rec;
	struct px_errbuf eb = {0};

	memset(&rec, 0, sizeof(rec));
	snprintf(rec.id, sizeof(rec.id), "%s", id);
	snprintf(rec.status, sizeof(rec.status), "%s", status);
	rec.meta = strdup("{}");
	rec.moderation = moderation ? strdup(moderation) : NULL;
	T_EQ(px_catalog_add(c, &rec, id, strlen(id), NULL, NULL, &eb), 0);
	px_image_rec_release(&rec);
}

struct first {
	char id[PX_RECLASS_ID_MAX + 1];
	int n;
};

static int list_fn(void *ctx, const struct px_reclass_job *j)
{
	struct first *l = ctx;

	if (!l->n++)
		px_strlcpy(l->id, j->id, sizeof(l->id));
	return 0;
}

static int parse(const char *body, struct px_reclass_filter *f,
		 struct px_errbuf *eb)
{
	memset(eb, 0, sizeof(*eb));
	return px_reclass_parse(body, strlen(body), f, eb);
}

static void run(void)
{
	struct px_reclass_filter f;
	struct px_errbuf eb = {0};

	T_CASE("request: all, filters, and what answers 400") {
		T_EQ(parse("{\"all\":true}", &f, &eb), 0);
		T_EQ(f.status[0], '\0');
		T_EQ(parse("{\"status\":\"flagged\",\"uploaded_after\":\"2026-01-02T03:04:05Z\","
			   "\"uploaded_before\":1800000000,\"model\":\"m@1\","
			   "\"policy_version\":\"p-1\",\"stale\":true,\"pdq_missing\":true}", &f, &eb), 0);
		T_STREQ(f.status, "flagged");
		T_EQ(f.after_us, (int64_t)1767323045 * 1000000);
		T_EQ(f.before_us, (int64_t)1800000000 * 1000000);
		T_STREQ(f.model, "m@1");
		T_STREQ(f.policy_version, "p-1");
		T_OK(f.stale);
		T_OK(f.pdq_missing);
		const char *bad[] = {"", "{}", "[]", "{\"all\":1}", "{\"status\":\"pending\"}",
				     "{\"pdq_missing\":\"yes\"}",
				     "{\"status\":\"\"}", "{\"x\":1}", "{\"stale\":1}",
				     "{\"uploaded_after\":\"2026-01-02\"}",
				     "{\"uploaded_after\":-5}", "{\"all\":true,\"all\":true}",
				     "{\"model\":\"0123456789012345678901234567890123456789012345678901234567890123456789\"}",
				     "{\"uploaded_after\":20,\"uploaded_before\":10}"};
		for (size_t i = 0; i < PX_ARRAY_LEN(bad); i++) {
			T_EQ(parse(bad[i], &f, &eb), PX_EINVAL);
			T_STREQ(eb.code, "invalid_request");
		}
	}
	T_CASE("filter: status, time, model, policy version, stale") {
		struct px_image_rec rec;

		memset(&rec, 0, sizeof(rec));
		memset(&f, 0, sizeof(f));
		snprintf(rec.status, sizeof(rec.status), "approved");
		rec.uploaded_us = 100;
		T_OK(px_reclass_match(&f, &rec, "m@2", "p-2"));
		f.stale = true; /* never classified counts as stale */
		T_OK(px_reclass_match(&f, &rec, "m@2", "p-2"));
		rec.moderation = "{\"model\":\"m@2\",\"policy_version\":\"p-2\"}";
		T_OK(!px_reclass_match(&f, &rec, "m@2", "p-2"));
		T_OK(px_reclass_match(&f, &rec, "m@2", "p-3"));
		T_OK(px_reclass_match(&f, &rec, "m@3", "p-2"));
		f.stale = false;
		snprintf(f.model, sizeof(f.model), "m@1");
		T_OK(!px_reclass_match(&f, &rec, "m@2", "p-2"));
		snprintf(f.model, sizeof(f.model), "m@2");
		T_OK(px_reclass_match(&f, &rec, "m@2", "p-2"));
		snprintf(f.policy_version, sizeof(f.policy_version), "p-1");
		T_OK(!px_reclass_match(&f, &rec, "m@2", "p-2"));
		memset(&f, 0, sizeof(f));
		snprintf(f.model, sizeof(f.model), "none");
		T_OK(!px_reclass_match(&f, &rec, "m@2", "p-2"));
		rec.moderation = NULL;
		T_OK(px_reclass_match(&f, &rec, "m@2", "p-2"));
		memset(&f, 0, sizeof(f));
		snprintf(f.status, sizeof(f.status), "flagged");
		T_OK(!px_reclass_match(&f, &rec, "m", "p"));
		memset(&f, 0, sizeof(f));
		f.after_us = 101;
		T_OK(!px_reclass_match(&f, &rec, "m", "p"));
		f.after_us = 100;
		f.before_us = 100;
		T_OK(!px_reclass_match(&f, &rec, "m", "p"));
		f.before_us = 101;
		T_OK(px_reclass_match(&f, &rec, "m", "p"));
		f.pdq_missing = true; /* images stored before PDQ */
		T_OK(px_reclass_match(&f, &rec, "m", "p"));
		snprintf(rec.pdq, sizeof(rec.pdq), "%064d", 0);
		T_OK(!px_reclass_match(&f, &rec, "m", "p"));
	}

	struct px_blob_store *blobs = NULL;
	struct px_kv *kv = NULL;
	struct px_catalog *c = NULL;
	struct px_reclass_job j, k;
	char pos[4][PX_RECLASS_CURSOR_MAX + 1];

	T_EQ(px_blob_open(&px_blob_mem_ops, NULL, &blobs, &eb), 0);
	T_EQ(px_kv_open(&px_kv_mem_ops, NULL, 0, &kv, &eb), 0);
	T_EQ(px_catalog_new(blobs, kv, &c), 0);
	add(c, "a", "approved", NULL);
	add(c, "b", "flagged", NULL);
	add(c, "c", "approved", NULL);

	T_CASE("a job: total, cursor, counts, one at a time, done") {
		memset(&f, 0, sizeof(f));
		T_EQ(px_reclass_create(c, &f, "m@1", "p-1", NULL, &j, &eb), 0);
		T_EQ(j.total, 3u);
		T_EQ(j.state, PX_RCJ_RUNNING);
		T_OK(j.f.before_us > 0);
		T_EQ(px_reclass_create(c, &f, "m@1", "p-1", NULL, &k, &eb), PX_EBUSY);
		T_STREQ(k.id, j.id);
		T_EQ(px_reclass_next(c, &j, pos, 2, &eb), 2);
		T_STREQ(pos[0] + 17, "a");
		T_STREQ(pos[1] + 17, "b");
		T_EQ(px_reclass_step(c, j.id, "", pos[0], PX_RC_UNCHANGED, &eb), 0);
		/* A step from a stale position changes nothing. */
		T_EQ(px_reclass_step(c, j.id, "", pos[0], PX_RC_UNCHANGED, &eb), PX_EBUSY);
		/* The step of b rides on b's own decision. */
		{
			struct px_reclass_stepc s = {j.id, pos[0], pos[1], PX_RC_CHANGED};
			struct px_decision d = {.status = "blocked",
						.audit_if_changed = true,
						.hook = px_reclass_hook,
						.hook_ctx = &s};
			struct px_image_rec rec;

			memset(&rec, 0, sizeof(rec));
			T_EQ(px_catalog_moderate(c, "b", &d, &rec, &eb), 0);
			T_STREQ(rec.status, "blocked");
			px_image_rec_release(&rec);
			/* Replayed (the same position): the whole decision
			 * is refused, the record untouched. */
			d.status = "approved";
			T_EQ(px_catalog_moderate(c, "b", &d, NULL, &eb), PX_EBUSY);
			T_EQ(px_catalog_get(c, "b", &rec, &eb), 0);
			T_STREQ(rec.status, "blocked");
			px_image_rec_release(&rec);
		}
		/* What a restart reads: the job resumes after b. */
		T_EQ(px_reclass_running(c, &k, &eb), 0);
		T_STREQ(k.cursor, pos[1]);
		T_EQ(k.scanned, 2u);
		T_EQ(k.n[PX_RC_UNCHANGED], 1u);
		T_EQ(k.n[PX_RC_CHANGED], 1u);
		T_EQ(px_reclass_next(c, &k, pos, 4, &eb), 1);
		T_STREQ(pos[0] + 17, "c");
		T_EQ(px_reclass_step(c, j.id, k.cursor, pos[0], PX_RC_UNMATCHED, &eb), 0);
		T_EQ(px_reclass_get(c, j.id, &k, &eb), 0);
		T_EQ(px_reclass_next(c, &k, pos, 4, &eb), 0);
		T_EQ(px_reclass_finish(c, j.id, &eb), 0);
		T_EQ(px_reclass_get(c, j.id, &k, &eb), 0);
		T_EQ(k.state, PX_RCJ_DONE);
		T_OK(k.finished_us > 0);
		T_EQ(px_reclass_running(c, &k, &eb), PX_ENOTFOUND);
	}
	T_CASE("cancel; a canceled job takes no more steps") {
		struct px_actor who = {"tok_1", "ops"};

		memset(&f, 0, sizeof(f));
		f.after_us = 1; /* a range: still every image */
		T_EQ(px_reclass_create(c, &f, "m@1", "p-1", &who, &j, &eb), 0);
		T_STREQ(j.by.name, "ops");
		T_EQ(px_reclass_next(c, &j, pos, 1, &eb), 1);
		T_EQ(px_reclass_cancel(c, j.id, &who, &k, &eb), 0);
		T_EQ(k.state, PX_RCJ_CANCELED);
		T_EQ(px_reclass_step(c, j.id, "", pos[0], PX_RC_UNCHANGED, &eb), PX_EBUSY);
		T_EQ(px_reclass_cancel(c, j.id, &who, &k, &eb), PX_EBUSY);
		T_EQ(px_reclass_get(c, "rc_0000000000000000", &k, &eb), PX_ENOTFOUND);
		T_EQ(px_reclass_get(c, "../x", &k, &eb), PX_ENOTFOUND);
	}
	T_CASE("newest first") {
		struct first l = {"", 0};

		T_EQ(px_reclass_list(c, 10, list_fn, &l, &eb), 0);
		T_EQ(l.n, 2);
		T_STREQ(l.id, j.id);
	}
	px_catalog_free(c);
	px_kv_close(kv);
	px_blob_close(blobs);
}
