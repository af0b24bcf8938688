/*
 * test_migrate.c - px_migrate_run over the in-memory stores: a full copy,
 * a second run that copies nothing, runs cut short by a failed write of
 * an original (one thread and four) or of a batch of keys and then
 * finished, conflicts and
 * extra keys in the target, an original damaged in the source, and the
 * printable form of keys in messages.
 */
#include "migrate/migrate.c"

#include "t.h"

struct stores2 {
	struct px_stores a, b;
};

static void open2(struct stores2 *s)
{
	memset(s, 0, sizeof(*s));
	px_blob_open(&px_blob_mem_ops, NULL, &s->a.blobs, NULL);
	px_blob_open(&px_blob_mem_ops, NULL, &s->b.blobs, NULL);
	px_kv_open(&px_kv_mem_ops, NULL, 0, &s->a.kv, NULL);
	px_kv_open(&px_kv_mem_ops, NULL, 0, &s->b.kv, NULL);
}

static void close2(struct stores2 *s)
{
	px_stores_close(&s->a);
	px_stores_close(&s->b);
}

static void put_blob(struct px_blob_store *b, const char *text, char *hex)
{
	px_sha256_hex(text, strlen(text), hex);
	px_blob_put(b, hex, text, strlen(text), NULL);
}

static void put_key(struct px_kv *kv, const void *k, size_t nk, const char *v)
{
	struct px_kv_txn *t;

	px_kv_begin(kv, 0, &t, NULL);
	px_kv_put(t, k, nk, v, strlen(v), 0, NULL);
	px_kv_commit(t, NULL);
}

/* n keys "k/00000".."k/(n-1)" with values "v<i>", in one transaction. */
static void fill_keys(struct px_kv *kv, int n)
{
	struct px_kv_txn *t;
	char k[32], v[32];

	px_kv_begin(kv, 0, &t, NULL);
	for (int i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "k/%05d", i);
		snprintf(v, sizeof(v), "v%d", i);
		px_kv_puts(t, k, v, strlen(v), 0, NULL);
	}
	px_kv_commit(t, NULL);
}

/* The value of key in kv as a string ("" when absent). */
static const char *value(struct px_kv *kv, const void *k, size_t nk)
{
	static char out[128];
	struct px_kv_txn *t;
	struct px_buf b;

	out[0] = '\0';
	px_buf_init(&b, 0);
	px_kv_begin(kv, PX_KV_RDONLY, &t, NULL);
	if (px_kv_get(t, k, nk, &b, NULL) == 0)
		snprintf(out, sizeof(out), "%.*s", (int)b.len, (char *)b.data);
	px_kv_abort(t);
	px_buf_release(&b);
	return out;
}

struct seen {
	int conflict, mismatch, damaged, committed, copied, progress;
	char last[256];
};

static void tally(void *ctx, const char *kind, const char *what,
		  const char *detail)
{
	struct seen *s = ctx;

	if (!strcmp(kind, "conflict"))
		s->conflict++;
	else if (!strcmp(kind, "mismatch"))
		s->mismatch++;
	else if (!strcmp(kind, "damaged"))
		s->damaged++;
	else if (!strcmp(kind, "committed"))
		s->committed++;
	else if (!strcmp(kind, "copied"))
		s->copied++;
	else if (!strcmp(kind, "progress"))
		s->progress++;
	if (strcmp(kind, "copied") && strcmp(kind, "committed") &&
	    strcmp(kind, "present") && strcmp(kind, "progress"))
		snprintf(s->last, sizeof(s->last), "%s", what);
}

static void run(void)
{
	struct px_errbuf eb = {0};
	struct px_migrate_stats st;
	char h1[65], h2[65], h3[65];

	T_CASE("empty source") {
		struct stores2 s;

		open2(&s);
		T_EQ(px_migrate_run(&s.a, &s.b, NULL, &st, &eb), 0);
		T_EQ(st.originals, 0);
		T_EQ(st.keys, 0);
		T_EQ(px_migrate_run(&s.a, NULL, NULL, &st, &eb), PX_EINVAL);
		close2(&s);
	}

	T_CASE("full copy, then a second run copies nothing") {
		struct stores2 s;
		struct seen seen = {0};
		struct px_migrate_opts o = {.batch = 64, .report = tally,
					    .ctx = &seen};
		unsigned char odd[MAX_KEY];

		open2(&s);
		put_blob(s.a.blobs, "one", h1);
		put_blob(s.a.blobs, "two!", h2);
		put_blob(s.a.blobs, "three", h3);
		fill_keys(s.a.kv, 1000);
		/* keys that sort around the others: 0xff bytes, the longest */
		memset(odd, 0xff, sizeof(odd));
		put_key(s.a.kv, odd, sizeof(odd), "last");
		put_key(s.a.kv, "\x01", 1, "first");
		T_EQ(px_migrate_run(&s.a, &s.b, &o, &st, &eb), 0);
		T_EQ(st.originals, 3);
		T_EQ(st.copied, 3);
		T_EQ(st.copied_bytes, 12);
		T_EQ(st.original_bytes, 12);
		T_EQ(st.keys, 1002);
		T_EQ(st.keys_copied, 1002);
		T_EQ(st.keys_present, 0);
		T_EQ(st.conflicts + st.mismatched + st.extra + st.damaged, 0);
		T_EQ(seen.committed, 16); /* ceil(1002 / 64) */
		T_EQ(seen.copied, 3);
		T_STREQ(value(s.b.kv, "k/00999", 7), "v999");
		T_STREQ(value(s.b.kv, odd, sizeof(odd)), "last");
		T_STREQ(value(s.b.kv, "\x01", 1), "first");
		{
			struct px_buf b;

			px_buf_init(&b, 0);
			T_EQ(px_blob_get(s.b.blobs, h2, &b, NULL), 0);
			T_OK(b.len == 4 && !memcmp(b.data, "two!", 4));
			px_buf_release(&b);
		}
		memset(&seen, 0, sizeof(seen));
		T_EQ(px_migrate_run(&s.a, &s.b, &o, &st, &eb), 0);
		T_EQ(st.copied, 0);
		T_EQ(st.present, 3);
		T_EQ(st.present_bytes, 12);
		T_EQ(st.keys_copied, 0);
		T_EQ(st.keys_present, 1002);
		T_EQ(seen.committed, 0);
		close2(&s);
	}

	T_CASE("a run cut short by a failed write is finished by the next") {
		struct stores2 s;
		struct px_migrate_opts o = {.batch = 10};

		open2(&s);
		put_blob(s.a.blobs, "one", h1);
		put_blob(s.a.blobs, "two!", h2);
		put_blob(s.a.blobs, "three", h3);
		fill_keys(s.a.kv, 95);
		/* the second original's write fails */
		px_blob_fault_put(PX_EIO, 1);
		T_EQ(px_migrate_run(&s.a, &s.b, &o, &st, &eb), PX_EIO);
		px_blob_fault_put(0, 0);
		T_EQ(st.copied, 1);
		T_EQ(st.keys_copied, 0); /* no record before its original */
		/* then the third batch of keys fails */
		px_kv_fault_commit(PX_EIO, 2);
		T_EQ(px_migrate_run(&s.a, &s.b, &o, &st, &eb), PX_EIO);
		px_kv_fault_commit(0, 0);
		T_EQ(st.present, 1);
		T_EQ(st.copied, 2);
		T_EQ(st.keys_copied, 20);
		T_STREQ(value(s.b.kv, "k/00019", 7), "v19");
		T_STREQ(value(s.b.kv, "k/00020", 7), "");
		T_EQ(px_migrate_run(&s.a, &s.b, &o, &st, &eb), 0);
		T_EQ(st.present, 3);
		T_EQ(st.copied, 0);
		T_EQ(st.keys_present, 20);
		T_EQ(st.keys_copied, 75);
		T_EQ(st.conflicts + st.mismatched + st.extra, 0);
		close2(&s);
	}

	T_CASE("conflicts and extra keys are reported and left alone") {
		struct stores2 s;
		struct seen seen = {0};
		struct px_migrate_opts o = {.batch = 4, .report = tally,
					    .ctx = &seen};

		open2(&s);
		fill_keys(s.a.kv, 10);
		put_key(s.b.kv, "k/00003", 7, "theirs");
		put_key(s.b.kv, "a", 1, "before all");
		put_key(s.b.kv, "k/00004x", 8, "between");
		put_key(s.b.kv, "z", 1, "after all");
		T_EQ(px_migrate_run(&s.a, &s.b, &o, &st, &eb), 0);
		T_EQ(st.keys, 10);
		T_EQ(st.keys_copied, 9);
		T_EQ(st.conflicts, 1);
		T_EQ(st.extra, 3);
		T_EQ(st.mismatched, 1); /* the final comparison sees it too */
		T_EQ(seen.conflict, 1);
		T_EQ(seen.mismatch, 1);
		T_STREQ(seen.last, "k/00003");
		T_STREQ(value(s.b.kv, "k/00003", 7), "theirs");
		close2(&s);
	}

	T_CASE("an original damaged in the source is reported, not copied") {
		struct stores2 s;
		struct seen seen = {0};
		struct px_migrate_opts o = {.report = tally, .ctx = &seen};
		char wrong[65];
		uint64_t size;

		open2(&s);
		put_blob(s.a.blobs, "good", h1);
		px_sha256_hex("other bytes", 11, wrong);
		px_blob_put(s.a.blobs, wrong, "rotten", 6, NULL);
		/* and a target original whose bytes are wrong */
		put_blob(s.a.blobs, "three", h3);
		px_blob_put(s.b.blobs, h3, "not three", 9, NULL);
		T_EQ(px_migrate_run(&s.a, &s.b, &o, &st, &eb), 0);
		T_EQ(st.originals, 3);
		T_EQ(st.copied, 1);
		T_EQ(st.damaged, 1);
		T_EQ(st.conflicts, 1);
		T_EQ(seen.damaged, 1);
		T_EQ(px_blob_stat(s.b.blobs, wrong, &size, NULL), PX_ENOTFOUND);
		close2(&s);
	}

	T_CASE("four threads copy originals; a failed write stops them, the next run finishes") {
		struct stores2 s;
		struct px_migrate_opts o = {.jobs = 4};
		char hex[65], text[32];
		uint64_t first;

		open2(&s);
		for (int i = 0; i < 40; i++) {
			snprintf(text, sizeof(text), "original %d", i);
			put_blob(s.a.blobs, text, hex);
		}
		fill_keys(s.a.kv, 5);
		px_blob_fault_put(PX_EIO, 10);
		T_EQ(px_migrate_run(&s.a, &s.b, &o, &st, &eb), PX_EIO);
		px_blob_fault_put(0, 0);
		first = st.copied;
		T_OK(first >= 10 && first < 40);
		T_EQ(st.keys_copied, 0);
		T_EQ(px_migrate_run(&s.a, &s.b, &o, &st, &eb), 0);
		T_EQ(st.originals, 40);
		T_EQ(st.present, first);
		T_EQ(st.copied, 40 - first);
		T_EQ(st.keys_copied, 5);
		T_EQ(st.conflicts + st.mismatched + st.damaged, 0);
		close2(&s);
	}

	T_CASE("progress lines, as often as asked") {
		struct stores2 s;
		struct seen seen = {0};
		struct px_migrate_opts o = {.batch = 2, .rate = 200,
					    .progress_us = 1, .report = tally,
					    .ctx = &seen};

		open2(&s);
		put_blob(s.a.blobs, "one", h1);
		put_blob(s.a.blobs, "two!", h2);
		fill_keys(s.a.kv, 6);
		/* paced at 5 ms an operation, so each is past the 1 us */
		T_EQ(px_migrate_run(&s.a, &s.b, &o, &st, &eb), 0);
		T_EQ(seen.progress, 2 + 3); /* each original, each key batch */
		memset(&seen, 0, sizeof(seen));
		o.progress_us = 0;
		T_EQ(px_migrate_run(&s.a, &s.b, &o, &st, &eb), 0);
		T_EQ(seen.progress, 0);
		close2(&s);
	}

	T_CASE("keys in messages") {
		char out[KEY_TEXT];

		key_text("img/\x01\\z", 7, out, sizeof(out));
		T_STREQ(out, "img/\\x01\\x5cz");
		key_text("", 0, out, sizeof(out));
		T_STREQ(out, "");
	}

	T_CASE("pacing waits for the rate") {
		struct px_migrate_opts o = {.rate = 50};
		int64_t t0 = px_mono_us();

		pace(&o, t0, 5); /* the 5th write at 50/s: 100 ms after t0 */
		T_OK(px_mono_us() - t0 >= 100000);
		o.rate = 0;
		pace(&o, t0, 1000000); /* no limit: no wait */
	}
}
