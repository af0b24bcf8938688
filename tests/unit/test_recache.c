/*
 * test_recache.c - the node-local record cache (catalog/recache.h): when
 * it answers (heartbeats), what invalidation keeps out (tickets), its
 * bounds, and a race of readers against a writer that must never hand
 * out a value older than the last change forgotten before the lookup.
 * Also the kv after-commit callbacks the catalog invalidates with.
 */
#include "catalog/recache.h"
#include "meta/kv.h"

#include <pthread.h>
#include <stdatomic.h>

#include "t.h"

#define SEC 1000000LL

static bool get_s(struct px_recache *rc, const char *key, int64_t now,
		  char *val, size_t nval, bool *absent,
		  struct px_recache_ticket *t)
{
	struct px_buf b;
	bool hit;

	px_buf_init(&b, 0);
	hit = px_recache_get(rc, key, now, &b, absent, t);
	snprintf(val, nval, "%.*s", (int)b.len, b.data ? (char *)b.data : "");
	px_buf_release(&b);
	return hit;
}

static void put_s(struct px_recache *rc, const char *key, const char *val,
		  const struct px_recache_ticket *t, int64_t now)
{
	px_recache_put(rc, key, val, val ? strlen(val) : 0, t, now);
}

static void test_live(void)
{
	struct px_recache *rc = NULL;
	struct px_recache_ticket t;
	struct px_recache_stats st;
	char v[64];
	bool absent;

	T_EQ(px_recache_new(0, 0, &rc), PX_EINVAL);
	T_EQ(px_recache_new(1 << 20, 0, &rc), 0);
	/* no heartbeat yet: nothing is kept or answered */
	T_OK(!get_s(rc, "img/a", 10, v, sizeof(v), &absent, &t));
	put_s(rc, "img/a", "A1", &t, 10);
	px_recache_heartbeat(rc, 20);
	T_OK(!get_s(rc, "img/a", 30, v, sizeof(v), &absent, &t));
	put_s(rc, "img/a", "A1", &t, 30);
	T_OK(get_s(rc, "img/a", 40, v, sizeof(v), &absent, &t));
	T_STREQ(v, "A1");
	T_OK(!absent);
	/* an absence is an answer too */
	T_OK(!get_s(rc, "var/x", 40, v, sizeof(v), &absent, &t));
	put_s(rc, "var/x", NULL, &t, 40);
	T_OK(get_s(rc, "var/x", 50, v, sizeof(v), &absent, &t));
	T_OK(absent);
	T_STREQ(v, "");
	/* past the bound without a heartbeat: bypassed, not dropped yet */
	T_OK(!get_s(rc, "img/a", 20 + PX_RECACHE_LIVE_US, v, sizeof(v),
		    &absent, &t));
	px_recache_stats(rc, &st);
	T_EQ(st.entries, 2);
	T_EQ(st.bypassed, 2);
	T_EQ(st.hits, 2);
	/* a heartbeat after that silence drops everything */
	px_recache_heartbeat(rc, 2 * SEC);
	T_OK(!get_s(rc, "img/a", 2 * SEC + 1, v, sizeof(v), &absent, &t));
	px_recache_stats(rc, &st);
	T_EQ(st.entries, 0);
	/* heartbeats in time keep entries */
	put_s(rc, "img/a", "A2", &t, 2 * SEC + 2);
	px_recache_heartbeat(rc, 2 * SEC + SEC / 4);
	px_recache_heartbeat(rc, 2 * SEC + SEC / 2);
	T_OK(get_s(rc, "img/a", 2 * SEC + SEC, v, sizeof(v), &absent, &t));
	T_STREQ(v, "A2");
	/* a lost stream: dropped and not answering until a heartbeat */
	px_recache_lost(rc);
	T_OK(!get_s(rc, "img/a", 2 * SEC + SEC, v, sizeof(v), &absent, &t));
	put_s(rc, "img/a", "A2", &t, 2 * SEC + SEC);
	px_recache_heartbeat(rc, 3 * SEC + 1);
	T_OK(!get_s(rc, "img/a", 3 * SEC + 2, v, sizeof(v), &absent, &t));
	px_recache_free(rc);
	px_recache_free(NULL);
}

static void test_tickets(void)
{
	struct px_recache *rc = NULL;
	struct px_recache_ticket t, t2;
	char v[64];
	bool absent;

	T_EQ(px_recache_new(1 << 20, 0, &rc), 0);
	px_recache_heartbeat(rc, 1);
	/* a read that began before a change is not kept after it */
	T_OK(!get_s(rc, "img/a", 2, v, sizeof(v), &absent, &t));
	px_recache_forget(rc, "img/a");
	put_s(rc, "img/a", "old", &t, 3);
	T_OK(!get_s(rc, "img/a", 4, v, sizeof(v), &absent, &t));
	/* a read that began after it is */
	put_s(rc, "img/a", "new", &t, 5);
	T_OK(get_s(rc, "img/a", 6, v, sizeof(v), &absent, &t2));
	T_STREQ(v, "new");
	/* a forget removes the entry */
	px_recache_forget(rc, "img/a");
	T_OK(!get_s(rc, "img/a", 7, v, sizeof(v), &absent, &t));
	/* a ticket from before a loss is refused, even once live again */
	px_recache_lost(rc);
	px_recache_heartbeat(rc, 8);
	put_s(rc, "img/a", "stale", &t, 9);
	T_OK(!get_s(rc, "img/a", 10, v, sizeof(v), &absent, &t));
	/* another key's change leaves other groups alone */
	T_OK(!get_s(rc, "img/b", 11, v, sizeof(v), &absent, &t2));
	px_recache_forget(rc, "img/zzz-unrelated-1");
	put_s(rc, "img/a", "A", &t, 12);
	put_s(rc, "img/b", "B", &t2, 12);
	T_OK(get_s(rc, "img/b", 13, v, sizeof(v), &absent, &t2) ||
	     /* the unrelated key may share b's group: then b was refused */
	     !get_s(rc, "img/b", 13, v, sizeof(v), &absent, &t2));
	T_OK(get_s(rc, "img/a", 13, v, sizeof(v), &absent, &t));
	/* a put replaces */
	put_s(rc, "img/a", "A+", &t, 14);
	T_OK(get_s(rc, "img/a", 15, v, sizeof(v), &absent, &t));
	T_STREQ(v, "A+");
	px_recache_free(rc);
}

static void test_bounds(void)
{
	struct px_recache *rc = NULL;
	struct px_recache_ticket t;
	struct px_recache_stats st;
	char key[32], v[64], big[4096];
	bool absent;
	int kept = 0;

	/* 16 shards of 4 entries each */
	T_EQ(px_recache_new(1 << 20, 64, &rc), 0);
	px_recache_heartbeat(rc, 1);
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "img/k%d", i);
		get_s(rc, key, 2, v, sizeof(v), &absent, &t);
		put_s(rc, key, "v", &t, 2);
		/* k0 is used all along: never the least recent */
		get_s(rc, "img/k0", 2, v, sizeof(v), &absent, &t);
	}
	px_recache_stats(rc, &st);
	T_OK(st.entries <= 64);
	T_OK(st.entries >= 16);
	T_OK(st.evictions >= 1000 - 64);
	T_OK(get_s(rc, "img/k0", 3, v, sizeof(v), &absent, &t));
	T_OK(get_s(rc, "img/k999", 3, v, sizeof(v), &absent, &t));
	px_recache_free(rc);

	/* bytes: 16 shards of 8 KiB; 4 KiB values, two or fewer a shard */
	T_EQ(px_recache_new(128 << 10, 100000, &rc), 0);
	px_recache_heartbeat(rc, 1);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (int i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "img/b%d", i);
		get_s(rc, key, 2, v, sizeof(v), &absent, &t);
		put_s(rc, key, big, &t, 2);
	}
	px_recache_stats(rc, &st);
	T_OK(st.bytes <= 128 << 10);
	T_OK(st.entries <= 32);
	for (int i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "img/b%d", i);
		kept += get_s(rc, key, 3, v, sizeof(v), &absent, &t);
	}
	T_EQ(kept, (int)st.entries);
	px_recache_free(rc);

	/* a value over a shard's share is never kept */
	T_EQ(px_recache_new(16 << 10, 0, &rc), 0);
	px_recache_heartbeat(rc, 1);
	get_s(rc, "img/huge", 2, v, sizeof(v), &absent, &t);
	put_s(rc, "img/huge", big, &t, 2);
	T_OK(!get_s(rc, "img/huge", 3, v, sizeof(v), &absent, &t));
	px_recache_free(rc);
}

/* Readers against a writer: the "store" holds a version number; the
 * writer bumps it, then forgets the key, then publishes the version as
 * forgotten. A hit must never be older than what was forgotten before
 * the lookup began. */
static struct {
	struct px_recache *rc;
	atomic_long stored, forgotten;
	atomic_bool stop;
	atomic_long stale, hits;
} race;

static void *reader(void *arg)
{
	char key[32];

	(void)arg;
	while (!atomic_load(&race.stop)) {
		for (int k = 0; k < 4; k++) {
			struct px_recache_ticket t;
			struct px_buf b;
			long before = atomic_load(&race.forgotten), got;
			bool absent;
			char num[32];

			snprintf(key, sizeof(key), "img/r%d", k);
			px_buf_init(&b, 0);
			if (px_recache_get(race.rc, key, 5, &b, &absent, &t)) {
				snprintf(num, sizeof(num), "%.*s", (int)b.len,
					 (char *)b.data);
				got = atol(num);
				if (got < before)
					atomic_fetch_add(&race.stale, 1);
				atomic_fetch_add(&race.hits, 1);
			} else {
				got = atomic_load(&race.stored);
				snprintf(num, sizeof(num), "%ld", got);
				px_recache_put(race.rc, key, num, strlen(num),
					       &t, 5);
			}
			px_buf_release(&b);
		}
	}
	return NULL;
}

static void test_race(void)
{
	pthread_t th[3];
	char key[32];

	T_EQ(px_recache_new(1 << 20, 0, &race.rc), 0);
	px_recache_heartbeat(race.rc, 1);
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, reader, NULL);
	for (long v = 1; v <= 20000; v++) {
		/* one version for all four keys, as one commit */
		atomic_store(&race.stored, v);
		for (int k = 0; k < 4; k++) {
			snprintf(key, sizeof(key), "img/r%d", k);
			px_recache_forget(race.rc, key);
		}
		atomic_store(&race.forgotten, v);
		if (v % 5000 == 0) {
			px_recache_lost(race.rc);
			px_recache_heartbeat(race.rc, 2);
		}
	}
	atomic_store(&race.stop, true);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	T_EQ(atomic_load(&race.stale), 0);
	T_OK(atomic_load(&race.hits) > 0);
	px_recache_free(race.rc);
}

/* kv after-commit callbacks: after a commit, in order; never after an
 * abort or an injected fault. */
static char ran[128];

static void note(void *ctx, const char *arg)
{
	(void)ctx;
	snprintf(ran + strlen(ran), sizeof(ran) - strlen(ran), "%s%s",
		 ran[0] ? "," : "", arg);
}

static void test_after_commit(void)
{
	struct px_kv *kv = NULL;
	struct px_kv_txn *txn;

	T_EQ(px_kv_open(&px_kv_mem_ops, NULL, 0, &kv, NULL), 0);
	if (!kv)
		return;
	T_EQ(px_kv_begin(kv, 0, &txn, NULL), 0);
	T_EQ(px_kv_puts(txn, "a", "1", 1, 0, NULL), 0);
	T_EQ(px_kv_after_commit(txn, note, NULL, "one", NULL), 0);
	T_EQ(px_kv_after_commit(txn, note, NULL, "two", NULL), 0);
	T_STREQ(ran, "");
	T_EQ(px_kv_commit(txn, NULL), 0);
	T_STREQ(ran, "one,two");
	T_EQ(px_kv_begin(kv, 0, &txn, NULL), 0);
	T_EQ(px_kv_after_commit(txn, note, NULL, "aborted", NULL), 0);
	px_kv_abort(txn);
	T_STREQ(ran, "one,two");
	px_kv_fault_commit(PX_EIO, 0);
	T_EQ(px_kv_begin(kv, 0, &txn, NULL), 0);
	T_EQ(px_kv_after_commit(txn, note, NULL, "faulted", NULL), 0);
	T_EQ(px_kv_commit(txn, NULL), PX_EIO);
	T_STREQ(ran, "one,two");
	px_kv_close(kv);
}

static void run(void)
{
	T_CASE("recache live") test_live();
	T_CASE("recache tickets") test_tickets();
	T_CASE("recache bounds") test_bounds();
	T_CASE("recache race") test_race();
	T_CASE("kv after commit") test_after_commit();
}
