/*
 * test_kv.c - the metadata store through its wrappers, on every backend.
 *
 * Each case runs once per backend (lmdb in a fresh mkdtemp directory,
 * mem, and pg when PICTOR_TEST_PG names a PostgreSQL database, as
 * tests/pg/run.sh does); lmdb and pg are reopened to check that commits
 * are durable, lmdb is opened small to check the map-full error.
 */
#include "meta/kv.h"

#include "t.h"

#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A string literal as (pointer, length): embedded NULs count. */
#define K(s) (s), (sizeof(s) - 1)

struct env {
	const struct px_kv_ops *ops;
	char dir[64];  /* mkdtemp parent, removed at the end */
	char path[80]; /* the store directory inside it */
	const char *loc; /* what the store is opened at: path, or a URI */
	struct px_kv *kv;
};

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	return remove(path);
}

static int del_visited(void *ctx, const void *key, size_t nkey,
		       const void *val, size_t nval)
{
	return px_kv_del(ctx, key, nkey, NULL);
}

/* Empty a database left by an earlier run. */
static void wipe(struct px_kv *kv)
{
	struct px_kv_txn *t;

	T_EQ(px_kv_begin(kv, 0, &t, NULL), 0);
	T_EQ(px_kv_scan(t, NULL, 0, NULL, 0, 0, del_visited, t, NULL), 0);
	T_EQ(px_kv_commit(t, NULL), 0);
}

static void env_open(struct env *e, const struct px_kv_ops *ops)
{
	memset(e, 0, sizeof(*e));
	e->ops = ops;
	snprintf(e->dir, sizeof(e->dir), "/tmp/pxkv-XXXXXX");
	T_OK(mkdtemp(e->dir) != NULL);
	snprintf(e->path, sizeof(e->path), "%s/db", e->dir);
	e->loc = ops == &px_kv_pg_ops ? getenv("PICTOR_TEST_PG") : e->path;
	T_EQ(px_kv_open(ops, e->loc, 0, &e->kv, NULL), 0);
	if (e->kv && ops == &px_kv_pg_ops)
		wipe(e->kv);
}

static void env_close(struct env *e)
{
	px_kv_close(e->kv);
	nftw(e->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Write one key in its own transaction. */
static int put1(struct px_kv *kv, const void *k, size_t nk, const char *v)
{
	struct px_kv_txn *t;
	int rc = px_kv_begin(kv, 0, &t, NULL);

	if (rc)
		return rc;
	rc = px_kv_put(t, k, nk, v, strlen(v), 0, NULL);
	if (rc) {
		px_kv_abort(t);
		return rc;
	}
	return px_kv_commit(t, NULL);
}

/* Read a key in its own read-only transaction; "" when absent. */
static const char *get1(struct px_kv *kv, const char *k, char *out,
			size_t nout)
{
	struct px_kv_txn *t;
	struct px_buf b;

	out[0] = '\0';
	px_buf_init(&b, 0);
	if (px_kv_begin(kv, PX_KV_RDONLY, &t, NULL) == 0) {
		if (px_kv_gets(t, k, &b, NULL) == 0)
			snprintf(out, nout, "%s", b.len ? (char *)b.data : "");
		px_kv_abort(t);
	}
	px_buf_release(&b);
	return out;
}

static void test_basic(struct env *e)
{
	struct px_kv_txn *t, *r;
	struct px_errbuf eb = {0};
	char key[512], tmp[64];
	struct px_buf b;

	T_EQ(px_kv_health(e->kv, &eb), 0);
	T_EQ(px_kv_begin(e->kv, 0, &t, &eb), 0);
	T_EQ(px_kv_puts(t, "img/1", "one", 3, 0, &eb), 0);
	T_EQ(px_kv_puts(t, "img/2", "two", 3, 0, &eb), 0);
	T_EQ(px_kv_put(t, K("nul\0key"), K("v\0v"), 0, &eb), 0);
	T_EQ(px_kv_puts(t, "empty", NULL, 0, 0, &eb), 0);

	/* a writer sees its own writes; get appends */
	px_buf_init(&b, 0);
	px_buf_adds(&b, ">");
	T_EQ(px_kv_gets(t, "img/1", &b, &eb), 0);
	T_OK(b.len == 4 && memcmp(b.data, ">one", 4) == 0);
	px_buf_release(&b);
	T_EQ(px_kv_commit(t, &eb), 0);

	T_EQ(px_kv_begin(e->kv, PX_KV_RDONLY, &r, &eb), 0);
	T_EQ(px_kv_gets(r, "img/2", &b, &eb), 0);
	T_OK(b.len == 3 && memcmp(b.data, "two", 3) == 0);
	px_buf_release(&b);
	T_EQ(px_kv_get(r, K("nul\0key"), &b, &eb), 0);
	T_OK(b.len == 3 && memcmp(b.data, "v\0v", 3) == 0);
	px_buf_release(&b);
	T_EQ(px_kv_gets(r, "empty", &b, &eb), 0);
	T_EQ(b.len, 0);
	T_EQ(px_kv_gets(r, "nul", &b, &eb), PX_ENOTFOUND);
	T_EQ(px_kv_gets(r, "img/", &b, &eb), PX_ENOTFOUND);
	px_buf_release(&b);

	/* too small a buffer */
	px_buf_init(&b, 2);
	T_EQ(px_kv_gets(r, "img/1", &b, &eb), PX_ETOOBIG);
	T_EQ(b.len, 0);
	px_buf_release(&b);

	/* no writes in a read-only transaction */
	T_EQ(px_kv_puts(r, "x", "x", 1, 0, &eb), PX_EINVAL);
	T_EQ(px_kv_dels(r, "img/1", &eb), PX_EINVAL);
	T_EQ(px_kv_commit(r, &eb), 0);

	/* delete */
	T_EQ(px_kv_begin(e->kv, 0, &t, &eb), 0);
	T_EQ(px_kv_dels(t, "img/1", &eb), 0);
	T_EQ(px_kv_dels(t, "img/1", &eb), PX_ENOTFOUND);
	T_EQ(px_kv_dels(t, "nope", &eb), PX_ENOTFOUND);
	T_EQ(px_kv_gets(t, "img/1", &b, &eb), PX_ENOTFOUND);
	T_EQ(px_kv_commit(t, &eb), 0);
	T_STREQ(get1(e->kv, "img/1", tmp, sizeof(tmp)), "");
	T_STREQ(get1(e->kv, "img/2", tmp, sizeof(tmp)), "two");

	/* key limits: 1..511 bytes */
	memset(key, 'k', sizeof(key));
	T_EQ(px_kv_begin(e->kv, 0, &t, &eb), 0);
	T_EQ(px_kv_put(t, key, 0, "v", 1, 0, &eb), PX_EINVAL);
	T_STREQ(eb.code, "bad_key");
	T_EQ(px_kv_put(t, key, 512, "v", 1, 0, &eb), PX_EINVAL);
	T_EQ(px_kv_get(t, key, 512, &b, &eb), PX_EINVAL);
	T_EQ(px_kv_put(t, key, 511, "v", 1, 0, &eb), 0);
	T_EQ(px_kv_get(t, key, 511, &b, &eb), 0);
	T_EQ(px_kv_puts(t, NULL, "v", 1, 0, &eb), PX_EINVAL);
	T_EQ(px_kv_put(t, "k", 1, "v", 1, 7, &eb), PX_EINVAL);
	T_EQ(px_kv_del(t, key, 511, &eb), 0);
	T_EQ(px_kv_commit(t, &eb), 0);
	T_EQ(px_kv_begin(e->kv, 2, &t, &eb), PX_EINVAL);
	T_OK(t == NULL);
	px_buf_release(&b);

	T_EQ(px_kv_begin(e->kv, 0, &t, &eb), 0);
	px_kv_dels(t, "img/2", NULL);
	px_kv_del(t, K("nul\0key"), NULL);
	px_kv_dels(t, "empty", NULL);
	T_EQ(px_kv_commit(t, &eb), 0);
}

static void test_nooverwrite_abort(struct env *e)
{
	struct px_kv_txn *t, *r;
	struct px_errbuf eb = {0};
	struct px_buf b;
	char tmp[64];

	T_EQ(put1(e->kv, K("k"), "first"), 0);
	T_EQ(px_kv_begin(e->kv, 0, &t, &eb), 0);
	T_EQ(px_kv_puts(t, "k", "second", 6, PX_KV_NOOVERWRITE, &eb),
	     PX_EEXIST);
	T_EQ(px_kv_puts(t, "k2", "new", 3, PX_KV_NOOVERWRITE, &eb), 0);
	T_EQ(px_kv_commit(t, &eb), 0);
	T_STREQ(get1(e->kv, "k", tmp, sizeof(tmp)), "first");
	T_STREQ(get1(e->kv, "k2", tmp, sizeof(tmp)), "new");
	T_EQ(put1(e->kv, K("k"), "third"), 0); /* plain put overwrites */
	T_STREQ(get1(e->kv, "k", tmp, sizeof(tmp)), "third");

	/* abort discards everything, and a reader never saw it */
	T_EQ(px_kv_begin(e->kv, PX_KV_RDONLY, &r, &eb), 0);
	T_EQ(px_kv_begin(e->kv, 0, &t, &eb), 0);
	T_EQ(px_kv_puts(t, "k", "aborted", 7, 0, &eb), 0);
	T_EQ(px_kv_puts(t, "k3", "aborted", 7, 0, &eb), 0);
	T_EQ(px_kv_dels(t, "k2", &eb), 0);
	px_kv_abort(t);
	px_kv_abort(NULL);
	T_STREQ(get1(e->kv, "k", tmp, sizeof(tmp)), "third");
	T_STREQ(get1(e->kv, "k2", tmp, sizeof(tmp)), "new");
	T_STREQ(get1(e->kv, "k3", tmp, sizeof(tmp)), "");

	/* a reader keeps its snapshot while a writer commits */
	T_EQ(put1(e->kv, K("k3"), "later"), 0);
	px_buf_init(&b, 0);
	T_EQ(px_kv_gets(r, "k3", &b, &eb), PX_ENOTFOUND);
	T_EQ(px_kv_gets(r, "k", &b, &eb), 0);
	T_OK(b.len == 5 && memcmp(b.data, "third", 5) == 0);
	px_buf_release(&b);
	px_kv_abort(r);
	T_STREQ(get1(e->kv, "k3", tmp, sizeof(tmp)), "later");

	T_EQ(px_kv_begin(e->kv, 0, &t, &eb), 0);
	T_EQ(px_kv_dels(t, "k", &eb), 0);
	T_EQ(px_kv_dels(t, "k2", &eb), 0);
	T_EQ(px_kv_dels(t, "k3", &eb), 0);
	T_EQ(px_kv_commit(t, &eb), 0);
}

/* Keys in scan order; values are unused. */
static const struct {
	const char *z;
	size_t n;
} scan_keys[] = {
	{K("a")},	{K("a\0")},   {K("a\1")}, {K("ab")},
	{K("abc")},	{K("a\xff")}, {K("a\xff\xff")},
	{K("b")},	{K("\xff")},  {K("\xff\xff")},
};

struct col {
	struct px_buf b;
	int n, stop_at, ret;
	struct px_kv_txn *del_in; /* delete each key visited, in this txn */
};

/* Append the key, printable, '|'-separated, to c->b. */
static int collect(void *ctx, const void *key, size_t nkey, const void *val,
		   size_t nval)
{
	struct col *c = ctx;
	const unsigned char *p = key;

	if (c->n++)
		px_buf_add(&c->b, "|", 1);
	for (size_t i = 0; i < nkey; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			px_buf_add(&c->b, &p[i], 1);
		else
			px_buf_addf(&c->b, "\\x%02x", p[i]);
	}
	if (c->del_in) {
		char side[600];

		/* a change elsewhere too, so the writer's data moves */
		side[0] = 'z';
		memcpy(side + 1, key, nkey);
		if (px_kv_put(c->del_in, side, nkey + 1, "s", 1, 0, NULL) ||
		    px_kv_del(c->del_in, key, nkey, NULL))
			return PX_EINTERNAL;
	}
	return c->stop_at && c->n >= c->stop_at ? c->ret : 0;
}

static char scan_out[2048];

/* Run one scan; returns the keys seen, or "rc=N" on failure. */
static const char *scan(struct px_kv_txn *t, const char *p, size_t np,
			const char *s, size_t ns, int flags)
{
	struct col c = {0};
	int rc;

	px_buf_init(&c.b, 0);
	rc = px_kv_scan(t, p, np, s, ns, flags, collect, &c, NULL);
	if (rc)
		snprintf(scan_out, sizeof(scan_out), "rc=%d", rc);
	else
		snprintf(scan_out, sizeof(scan_out), "%s",
			 c.b.len ? (char *)c.b.data : "");
	px_buf_release(&c.b);
	return scan_out;
}

#define FWD 0
#define REV PX_KV_REVERSE
#define ALL_A "a|a\\x00|a\\x01|ab|abc|a\\xff|a\\xff\\xff"
#define ALL_A_REV "a\\xff\\xff|a\\xff|abc|ab|a\\x01|a\\x00|a"

static void test_scan(struct env *e)
{
	struct px_kv_txn *t, *r;
	struct col c = {0};
	char big[600];

	T_EQ(px_kv_begin(e->kv, 0, &t, NULL), 0);
	/* insert out of order */
	for (size_t i = PX_ARRAY_LEN(scan_keys); i-- > 0;)
		T_EQ(px_kv_put(t, scan_keys[i].z, scan_keys[i].n, "v", 1, 0,
			       NULL),
		     0);
	T_EQ(px_kv_commit(t, NULL), 0);
	T_EQ(px_kv_begin(e->kv, PX_KV_RDONLY, &r, NULL), 0);

	/* whole prefix range, both ways */
	T_STREQ(scan(r, K("a"), NULL, 0, FWD), ALL_A);
	T_STREQ(scan(r, K("a"), NULL, 0, REV), ALL_A_REV);
	T_STREQ(scan(r, K("ab"), NULL, 0, FWD), "ab|abc");
	T_STREQ(scan(r, K("ab"), NULL, 0, REV), "abc|ab");
	T_STREQ(scan(r, NULL, 0, NULL, 0, FWD),
		ALL_A "|b|\\xff|\\xff\\xff");
	T_STREQ(scan(r, "", 0, NULL, 0, REV),
		"\\xff\\xff|\\xff|b|" ALL_A_REV);

	/* a prefix that other keys extend with 0xff bytes */
	T_STREQ(scan(r, K("a\xff"), NULL, 0, FWD), "a\\xff|a\\xff\\xff");
	T_STREQ(scan(r, K("a\xff"), NULL, 0, REV), "a\\xff\\xff|a\\xff");
	T_STREQ(scan(r, K("a\xff\xff"), NULL, 0, REV), "a\\xff\\xff");
	T_STREQ(scan(r, K("\xff"), NULL, 0, FWD), "\\xff|\\xff\\xff");
	T_STREQ(scan(r, K("\xff"), NULL, 0, REV), "\\xff\\xff|\\xff");
	T_STREQ(scan(r, K("\xff"), K("\xff"), REV), "\\xff");
	T_STREQ(scan(r, K("\xff\xff\xff"), NULL, 0, REV), "");

	/* start: present, absent, equal to the prefix */
	T_STREQ(scan(r, K("a"), K("a\1"), FWD),
		"a\\x01|ab|abc|a\\xff|a\\xff\\xff");
	T_STREQ(scan(r, K("a"), K("aa"), FWD), "ab|abc|a\\xff|a\\xff\\xff");
	T_STREQ(scan(r, K("a"), K("ab"), REV), "ab|a\\x01|a\\x00|a");
	T_STREQ(scan(r, K("a"), K("aa"), REV), "a\\x01|a\\x00|a");
	T_STREQ(scan(r, K("a"), K("a"), REV), "a");
	T_STREQ(scan(r, K("a"), K("a"), FWD), ALL_A);
	T_STREQ(scan(r, K("a"), K("a\xff\xff"), REV), ALL_A_REV);
	T_STREQ(scan(r, K("a"), K("a\xff"), REV),
		"a\\xff|abc|ab|a\\x01|a\\x00|a");

	/* start past the end of the prefix range, and of the data */
	T_STREQ(scan(r, K("a"), K("b"), FWD), "");
	T_STREQ(scan(r, K("a"), K("a\xff\xff\xff"), FWD), "");
	T_STREQ(scan(r, K("a"), K("b"), REV), ALL_A_REV);
	T_STREQ(scan(r, K("a"), K("zzz"), REV), ALL_A_REV);
	T_STREQ(scan(r, NULL, 0, K("zzz"), REV), "b|" ALL_A_REV);
	T_STREQ(scan(r, NULL, 0, K("\xff\xff\xff"), FWD), "");
	T_STREQ(scan(r, NULL, 0, K("\xff\xff\xff"), REV),
		"\\xff\\xff|\\xff|b|" ALL_A_REV);

	/* start before the prefix range */
	T_STREQ(scan(r, K("b"), K("a"), FWD), "b");
	T_STREQ(scan(r, K("b"), K("a"), REV), "");
	T_STREQ(scan(r, K("a"), "", 0, FWD), ALL_A);
	T_STREQ(scan(r, K("a"), "", 0, REV), "");

	/* start longer than any key may be */
	memset(big, 'a', sizeof(big));
	T_STREQ(scan(r, NULL, 0, big, sizeof(big), FWD),
		"ab|abc|a\\xff|a\\xff\\xff|b|\\xff|\\xff\\xff");
	T_STREQ(scan(r, NULL, 0, big, sizeof(big), REV), "a\\x01|a\\x00|a");

	/* empty ranges */
	T_STREQ(scan(r, K("c"), NULL, 0, FWD), "");
	T_STREQ(scan(r, K("c"), NULL, 0, REV), "");
	T_STREQ(scan(r, K("ac"), NULL, 0, REV), "");
	T_STREQ(scan(r, K("abd"), NULL, 0, FWD), "");
	T_STREQ(scan(r, K("abcd"), NULL, 0, FWD), "");
	T_STREQ(scan(r, K("abcd"), NULL, 0, REV), "");
	T_STREQ(scan(r, K("0"), NULL, 0, REV), "");
	T_STREQ(scan(r, K("\x01"), NULL, 0, FWD), "");
	T_STREQ(scan(r, big, sizeof(big), NULL, 0, FWD), "");

	/* early stop: 1 is clean, negative is passed back */
	px_buf_init(&c.b, 0);
	c.stop_at = 2;
	c.ret = 1;
	T_EQ(px_kv_scan(r, K("a"), NULL, 0, FWD, collect, &c, NULL), 0);
	T_EQ(c.n, 2);
	T_STREQ((char *)c.b.data, "a|a\\x00");
	px_buf_release(&c.b);
	c = (struct col){.stop_at = 3, .ret = PX_EBUSY};
	px_buf_init(&c.b, 0);
	T_EQ(px_kv_scan(r, K("a"), NULL, 0, REV, collect, &c, NULL), PX_EBUSY);
	T_EQ(c.n, 3);
	px_buf_release(&c.b);
	T_EQ(px_kv_scan(r, K("a"), NULL, 0, 4, collect, &c, NULL), PX_EINVAL);
	px_kv_abort(r);

	/* a writer's scan sees its own changes */
	T_EQ(px_kv_begin(e->kv, 0, &t, NULL), 0);
	T_EQ(px_kv_put(t, K("a0"), "v", 1, 0, NULL), 0);
	T_EQ(px_kv_del(t, K("abc"), NULL), 0);
	T_STREQ(scan(t, K("a"), K("a\1"), FWD),
		"a\\x01|a0|ab|a\\xff|a\\xff\\xff");
	px_kv_abort(t);

	/* the callback may delete (and put) while scanning, both ways */
	for (int dir = 0; dir < 2; dir++) {
		T_EQ(px_kv_begin(e->kv, 0, &t, NULL), 0);
		c = (struct col){.del_in = t};
		px_buf_init(&c.b, 0);
		T_EQ(px_kv_scan(t, K("a"), NULL, 0, dir ? REV : FWD, collect,
				&c, NULL),
		     0);
		T_STREQ((char *)c.b.data, dir ? ALL_A_REV : ALL_A);
		px_buf_release(&c.b);
		T_STREQ(scan(t, K("a"), NULL, 0, FWD), "");
		T_STREQ(scan(t, K("za"), NULL, 0, FWD),
			"za|za\\x00|za\\x01|zab|zabc|za\\xff|za\\xff\\xff");
		px_kv_abort(t);
	}

	/* nothing of that was committed */
	T_EQ(px_kv_begin(e->kv, 0, &t, NULL), 0);
	T_STREQ(scan(t, K("a"), NULL, 0, FWD), ALL_A);
	T_STREQ(scan(t, K("z"), NULL, 0, FWD), "");
	for (size_t i = 0; i < PX_ARRAY_LEN(scan_keys); i++)
		T_EQ(px_kv_del(t, scan_keys[i].z, scan_keys[i].n, NULL), 0);
	T_EQ(px_kv_commit(t, NULL), 0);
}

static void test_fault(struct env *e)
{
	struct px_kv_txn *t;
	struct px_errbuf eb = {0};
	char tmp[64];

	px_kv_fault_commit(PX_EIO, 0);
	T_EQ(px_kv_begin(e->kv, 0, &t, &eb), 0);
	T_EQ(px_kv_puts(t, "f1", "x", 1, 0, &eb), 0);
	T_EQ(px_kv_commit(t, &eb), PX_EIO);
	T_STREQ(get1(e->kv, "f1", tmp, sizeof(tmp)), "");

	/* after one good commit; then disarmed */
	px_kv_fault_commit(PX_EBUSY, 1);
	T_EQ(put1(e->kv, K("f2"), "2"), 0);
	T_EQ(put1(e->kv, K("f3"), "3"), PX_EBUSY);
	T_EQ(put1(e->kv, K("f4"), "4"), 0);
	T_STREQ(get1(e->kv, "f2", tmp, sizeof(tmp)), "2");
	T_STREQ(get1(e->kv, "f3", tmp, sizeof(tmp)), "");
	T_STREQ(get1(e->kv, "f4", tmp, sizeof(tmp)), "4");

	/* the store is still writable: the aborted writer let go */
	px_kv_fault_commit(PX_EIO, 0);
	px_kv_fault_commit(0, 0);
	T_EQ(put1(e->kv, K("f3"), "3"), 0);
	T_STREQ(get1(e->kv, "f3", tmp, sizeof(tmp)), "3");

	T_EQ(px_kv_begin(e->kv, 0, &t, &eb), 0);
	px_kv_dels(t, "f2", NULL);
	px_kv_dels(t, "f3", NULL);
	px_kv_dels(t, "f4", NULL);
	T_EQ(px_kv_commit(t, &eb), 0);
}

#define NREADER 4
#define NCOMMIT 300

struct shared {
	struct px_kv *kv;
	atomic_int done, bad, reads;
	atomic_int began; /* for the second-writer case */
};

static uint64_t load_u64(struct px_kv_txn *t, const char *k, int *rc)
{
	struct px_buf b;
	uint64_t v = 0;

	px_buf_init(&b, 0);
	*rc = px_kv_gets(t, k, &b, NULL);
	if (*rc == 0 && b.len == sizeof(v))
		memcpy(&v, b.data, sizeof(v));
	else if (*rc == 0)
		*rc = PX_ECORRUPT;
	px_buf_release(&b);
	return v;
}

/* x and y are written together: a reader must never see them differ. */
static void *reader(void *arg)
{
	struct shared *sh = arg;
	uint64_t last = 0, x, y;
	struct px_kv_txn *t;
	int rx, ry;

	while (!atomic_load(&sh->done)) {
		if (px_kv_begin(sh->kv, PX_KV_RDONLY, &t, NULL)) {
			atomic_fetch_add(&sh->bad, 1);
			break;
		}
		x = load_u64(t, "x", &rx);
		y = load_u64(t, "y", &ry);
		if (rx != ry || (rx == 0 && (x != y || x < last)) ||
		    (rx && rx != PX_ENOTFOUND))
			atomic_fetch_add(&sh->bad, 1);
		if (rx == 0)
			last = x;
		atomic_fetch_add(&sh->reads, 1);
		if (atomic_load(&sh->reads) % 2)
			px_kv_abort(t);
		else if (px_kv_commit(t, NULL))
			atomic_fetch_add(&sh->bad, 1);
	}
	return NULL;
}

static void *writer(void *arg)
{
	struct shared *sh = arg;
	struct px_kv_txn *t;

	for (uint64_t i = 1; i <= NCOMMIT; i++) {
		if (px_kv_begin(sh->kv, 0, &t, NULL) ||
		    px_kv_puts(t, "x", &i, sizeof(i), 0, NULL) ||
		    px_kv_puts(t, "y", &i, sizeof(i), 0, NULL) ||
		    px_kv_commit(t, NULL)) {
			atomic_fetch_add(&sh->bad, 1);
			break;
		}
	}
	atomic_store(&sh->done, 1);
	return NULL;
}

static void *second_writer(void *arg)
{
	struct shared *sh = arg;
	struct px_kv_txn *t;

	if (px_kv_begin(sh->kv, 0, &t, NULL) == 0) {
		atomic_store(&sh->began, 1);
		px_kv_puts(t, "w2", "2", 1, 0, NULL);
		if (px_kv_commit(t, NULL))
			atomic_fetch_add(&sh->bad, 1);
	}
	return NULL;
}

static void test_concurrency(struct env *e)
{
	struct shared sh = {.kv = e->kv};
	pthread_t rt[NREADER], wt;
	struct px_kv_txn *t;
	struct timespec pause = {0, 100 * 1000 * 1000};
	int rc;
	char tmp[64];

	for (int i = 0; i < NREADER; i++)
		pthread_create(&rt[i], NULL, reader, &sh);
	pthread_create(&wt, NULL, writer, &sh);
	pthread_join(wt, NULL);
	for (int i = 0; i < NREADER; i++)
		pthread_join(rt[i], NULL);
	T_EQ(atomic_load(&sh.bad), 0);
	T_OK(atomic_load(&sh.reads) > 0);
	T_EQ(px_kv_begin(e->kv, PX_KV_RDONLY, &t, NULL), 0);
	T_EQ(load_u64(t, "x", &rc), NCOMMIT);
	T_EQ(rc, 0);
	px_kv_abort(t);

	/* one writer at a time: a second begin waits for the first */
	T_EQ(px_kv_begin(e->kv, 0, &t, NULL), 0);
	atomic_store(&sh.began, 0);
	pthread_create(&wt, NULL, second_writer, &sh);
	nanosleep(&pause, NULL);
	T_EQ(atomic_load(&sh.began), 0);
	T_EQ(px_kv_puts(t, "w1", "1", 1, 0, NULL), 0);
	T_EQ(px_kv_commit(t, NULL), 0);
	pthread_join(wt, NULL);
	T_EQ(atomic_load(&sh.began), 1);
	T_STREQ(get1(e->kv, "w1", tmp, sizeof(tmp)), "1");
	T_STREQ(get1(e->kv, "w2", tmp, sizeof(tmp)), "2");
}

/* lmdb and pg: commits survive close and reopen; aborts do not. */
static void test_durable(struct env *e)
{
	struct px_kv_txn *t;
	char tmp[64];

	T_EQ(put1(e->kv, K("durable"), "yes"), 0);
	T_EQ(px_kv_begin(e->kv, 0, &t, NULL), 0);
	T_EQ(px_kv_puts(t, "gone", "no", 2, 0, NULL), 0);
	px_kv_abort(t);
	px_kv_close(e->kv);
	e->kv = NULL;
	T_EQ(px_kv_open(e->ops, e->loc, 0, &e->kv, NULL), 0);
	T_STREQ(get1(e->kv, "durable", tmp, sizeof(tmp)), "yes");
	T_STREQ(get1(e->kv, "gone", tmp, sizeof(tmp)), "");
	T_STREQ(get1(e->kv, "w1", tmp, sizeof(tmp)), "1");
	T_EQ(px_kv_health(e->kv, NULL), 0);
}

/* lmdb only: a full map is PX_ETOOBIG; bad locations fail cleanly. */
static void test_lmdb_limits(struct env *e)
{
	char path[120], key[16], val[2048];
	struct px_errbuf eb = {0};
	struct px_kv *small = NULL, *bad = NULL;
	struct px_kv_txn *t;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/small", e->dir);
	T_EQ(px_kv_open(&px_kv_lmdb_ops, path, 64 * 1024, &small, &eb), 0);
	memset(val, 'v', sizeof(val));
	T_EQ(px_kv_begin(small, 0, &t, &eb), 0);
	for (int i = 0; i < 1000 && rc == 0; i++) {
		snprintf(key, sizeof(key), "k%04d", i);
		rc = px_kv_puts(t, key, val, sizeof(val), 0, &eb);
	}
	T_EQ(rc, PX_ETOOBIG);
	px_kv_abort(t);
	px_kv_close(small);

	snprintf(path, sizeof(path), "%s/no/such/dir", e->dir);
	T_EQ(px_kv_open(&px_kv_lmdb_ops, path, 0, &bad, &eb), PX_EIO);
	T_OK(bad == NULL);
	T_EQ(px_kv_open(&px_kv_lmdb_ops, NULL, 0, &bad, &eb), PX_EINVAL);
	T_EQ(px_kv_open(NULL, path, 0, &bad, &eb), PX_EINVAL);
}

static void run(void)
{
	const struct px_kv_ops *ops[] = {&px_kv_lmdb_ops, &px_kv_mem_ops,
					 &px_kv_pg_ops};
	struct env e;

	T_CASE("find")
	{
		T_OK(px_kv_find("lmdb") == &px_kv_lmdb_ops);
		T_OK(px_kv_find("mem") == &px_kv_mem_ops);
		T_OK(px_kv_find("pg") == &px_kv_pg_ops);
		T_OK(px_kv_find("postgres") == NULL);
		T_OK(px_kv_find(NULL) == NULL);
		px_kv_close(NULL);
	}
	for (size_t i = 0; i < PX_ARRAY_LEN(ops); i++) {
		const char *n = ops[i]->name;
		char name[64];

		if (ops[i] == &px_kv_pg_ops && !getenv("PICTOR_TEST_PG")) {
			printf("pg: skipped (PICTOR_TEST_PG unset; make pg "
			       "runs it)\n");
			continue;
		}
		env_open(&e, ops[i]);
		if (!e.kv) {
			env_close(&e);
			continue;
		}
#define NAMED(what) (snprintf(name, sizeof(name), "%s " what, n), name)
		T_CASE(NAMED("basic")) test_basic(&e);
		T_CASE(NAMED("nooverwrite/abort")) test_nooverwrite_abort(&e);
		T_CASE(NAMED("scan")) test_scan(&e);
		T_CASE(NAMED("fault")) test_fault(&e);
		T_CASE(NAMED("concurrency")) test_concurrency(&e);
		if (ops[i] != &px_kv_mem_ops)
			T_CASE(NAMED("durable")) test_durable(&e);
		if (ops[i] == &px_kv_lmdb_ops)
			T_CASE(NAMED("limits")) test_lmdb_limits(&e);
#undef NAMED
		env_close(&e);
	}
}
