/*
 * test_drafts.c - direct-upload drafts over the memory store: one claim
 * per URL, wrong secrets, expiry, unclaim, the sweep, what get shows.
 */
#include "ingest/drafts.h"
#include "t.h"

static void run(void)
{
	struct px_errbuf eb = {0};
	struct px_kv *kv = NULL;
	struct px_drafts *ds = NULL;
	struct px_draft d, got;
	char secret[PX_DRAFT_SECRET_LEN + 1], bad[PX_DRAFT_SECRET_LEN + 1];
	int64_t now = px_wall_us();
	unsigned removed;

	T_EQ(px_kv_open(&px_kv_mem_ops, "", 0, &kv, &eb), 0);
	T_EQ(px_drafts_new(kv, &ds), 0);
	memset(&d, 0, sizeof(d));
	memset(&got, 0, sizeof(got));

	T_CASE("create with a generated id") {
		d.expires_us = now + 60000000;
		d.meta = strdup("{\"a\":1}");
		T_EQ(px_drafts_create(ds, &d, secret, &eb), 0);
		T_EQ(strlen(d.id), 36u);
		T_EQ(strlen(secret), (size_t)PX_DRAFT_SECRET_LEN);
		T_EQ(px_drafts_get(ds, d.id, now, &got, &eb), 0);
		T_STREQ(got.meta, "{\"a\":1}");
		px_draft_release(&got);
	}
	T_CASE("wrong secrets spend nothing") {
		memcpy(bad, secret, sizeof(bad));
		bad[0] = bad[0] == 'a' ? 'b' : 'a';
		T_EQ(px_drafts_claim(ds, d.id, bad, now, &got, &eb), PX_EINVAL);
		T_STREQ(eb.code, "invalid_upload_url");
		T_EQ(px_drafts_claim(ds, d.id, "", now, &got, &eb), PX_EINVAL);
		T_EQ(px_drafts_claim(ds, "nope", secret, now, &got, &eb), PX_ENOTFOUND);
	}
	T_CASE("one claim, then used") {
		T_EQ(px_drafts_claim(ds, d.id, secret, now, &got, &eb), 0);
		T_OK(got.used);
		px_draft_release(&got);
		T_EQ(px_drafts_claim(ds, d.id, secret, now, &got, &eb), PX_EEXIST);
		T_STREQ(eb.code, "upload_url_used");
		T_EQ(px_drafts_get(ds, d.id, now, &got, &eb), PX_ENOTFOUND);
		T_EQ(px_drafts_unclaim(ds, d.id, &eb), 0);
		T_EQ(px_drafts_claim(ds, d.id, secret, now, &got, &eb), 0);
		px_draft_release(&got);
	}
	T_CASE("an id is reserved once") {
		struct px_draft e;

		memset(&e, 0, sizeof(e));
		px_strlcpy(e.id, d.id, sizeof(e.id));
		e.expires_us = now + 1000000;
		T_EQ(px_drafts_create(ds, &e, bad, &eb), PX_EEXIST);
		T_STREQ(eb.code, "already_exists");
		px_draft_release(&e);
	}
	T_CASE("expiry and the sweep") {
		struct px_draft e;

		memset(&e, 0, sizeof(e));
		px_strlcpy(e.id, "soon", sizeof(e.id));
		e.expires_us = now + 1000;
		T_EQ(px_drafts_create(ds, &e, secret, &eb), 0);
		T_EQ(px_drafts_get(ds, "soon", now, &got, &eb), 0);
		px_draft_release(&got);
		T_EQ(px_drafts_get(ds, "soon", now + 1000, &got, &eb), PX_ENOTFOUND);
		T_EQ(px_drafts_claim(ds, "soon", secret, now + 1000, &got, &eb), PX_ELIMIT);
		T_STREQ(eb.code, "upload_url_expired");
		T_EQ(px_drafts_sweep(ds, now + 2000, 10, &removed, &eb), 0);
		T_EQ(removed, 1u);
		T_EQ(px_drafts_claim(ds, "soon", secret, now + 1000, &got, &eb), PX_ENOTFOUND);
		T_EQ(px_drafts_sweep(ds, now + 120000000, 10, &removed, &eb), 0);
		T_EQ(removed, 1u);
		T_EQ(px_drafts_sweep(ds, now + 120000000, 10, &removed, &eb), 0);
		T_EQ(removed, 0u);
		px_draft_release(&e);
	}
	px_draft_release(&d);
	px_drafts_free(ds);
	px_kv_close(kv);
}
