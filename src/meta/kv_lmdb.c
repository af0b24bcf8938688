/*
 * kv_lmdb.c - the LMDB metadata backend; the only file that sees lmdb.h.
 *
 * One environment in the store directory, one unnamed database, keys in
 * LMDB's default order (memcmp, then shorter first), which is the order
 * kv.h promises. LMDB already gives what kv.h asks for: MVCC readers that
 * never block, one writer at a time (mdb_txn_begin blocks), and commits
 * that are durable because the environment is opened without MDB_NOSYNC.
 * MDB_NOTLS lets a read transaction be used from whatever thread picks the
 * request up; write transactions stay on the thread that began them.
 *
 * One gap in LMDB 0.9 (Debian 12 ships 0.9.24) is closed here: a read
 * transaction's begin reads the last committed txnid and then copies that
 * txnid's meta page without checking it again. If two commits land in
 * between, the second one rewrites the very meta page being copied (LMDB
 * keeps two and alternates), so the reader gets a newer or torn snapshot
 * under an older txnid, and its next transaction can see time go
 * backwards. Commits in this process bump a counter before and after
 * mdb_txn_commit; a read begin that saw the counter move by two or more
 * retries. Readers still never wait for a writer, and writers never wait
 * for readers. Other processes that write the same environment are not
 * covered; Pictor has one writing process per data directory (the
 * pictor.lock that catalog/datadir.c takes).
 */
#include "meta/kv.h"

#include <lmdb.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/stat.h>

#define DEFAULT_MAP_SIZE ((uint64_t)1 << 30)
#define MAX_READERS 256
#define MAX_KEY 511 /* MDB_MAXKEYSIZE; kv.c never passes longer keys */

struct lm_kv {
	struct px_kv base;
	MDB_env *env;
	MDB_dbi dbi;
	atomic_ulong commits; /* +1 as a commit starts, +1 as it ends */
};

struct lm_txn {
	struct px_kv_txn base;
	MDB_txn *txn;
	bool rdonly;
};

/* Map an LMDB or errno code to a px_err, with detail in eb. */
static int lm_err(struct px_errbuf *eb, int mrc, const char *what)
{
	int rc;

	switch (mrc) {
	case MDB_NOTFOUND: rc = PX_ENOTFOUND; break;
	case MDB_KEYEXIST: rc = PX_EEXIST; break;
	case MDB_MAP_FULL: rc = PX_ETOOBIG; break;
	case MDB_BAD_VALSIZE: rc = PX_EINVAL; break;
	case MDB_READERS_FULL: rc = PX_EBUSY; break;
	case EACCES: rc = PX_EINVAL; break; /* write in a read-only txn */
	case ENOMEM: rc = PX_ENOMEM; break;
	default: rc = PX_EIO; break;
	}
	return px_errf(eb, rc, "lmdb %s: %s", what, mdb_strerror(mrc));
}

static void lm_close(struct px_kv *base)
{
	struct lm_kv *kv = (struct lm_kv *)base;

	if (!kv)
		return;
	if (kv->env)
		mdb_env_close(kv->env);
	free(kv);
}

static int lm_open(const char *location, uint64_t map_size,
		   struct px_kv **out, struct px_errbuf *eb)
{
	struct lm_kv *kv = NULL;
	MDB_txn *txn = NULL;
	int rc = 0, mrc, dead;

	*out = NULL;
	if (!location || !*location)
		return px_errf(eb, PX_EINVAL, "kv store needs a directory");
	if (map_size == 0)
		map_size = DEFAULT_MAP_SIZE;
	if (map_size > SIZE_MAX)
		return px_errf(eb, PX_EINVAL, "map size too large");
	if (mkdir(location, 0700) && errno != EEXIST)
		return px_errf(eb, PX_EIO, "cannot create \"%s\": %s",
			       location, strerror(errno));
	kv = calloc(1, sizeof(*kv));
	if (!kv) {
		rc = px_errf(eb, PX_ENOMEM, "out of memory");
		goto out;
	}
	kv->base.ops = &px_kv_lmdb_ops;
	if ((mrc = mdb_env_create(&kv->env)) != 0 ||
	    (mrc = mdb_env_set_mapsize(kv->env, (size_t)map_size)) != 0 ||
	    (mrc = mdb_env_set_maxreaders(kv->env, MAX_READERS)) != 0 ||
	    (mrc = mdb_env_open(kv->env, location, MDB_NOTLS, 0600)) != 0) {
		rc = lm_err(eb, mrc, "open");
		goto out;
	}
	/* free reader slots left by processes that died mid-read */
	mdb_reader_check(kv->env, &dead);
	if ((mrc = mdb_txn_begin(kv->env, NULL, 0, &txn)) != 0 ||
	    (mrc = mdb_dbi_open(txn, NULL, 0, &kv->dbi)) != 0) {
		rc = lm_err(eb, mrc, "open database");
		goto out;
	}
	mrc = mdb_txn_commit(txn);
	txn = NULL;
	if (mrc)
		rc = lm_err(eb, mrc, "open database");
out:
	if (txn)
		mdb_txn_abort(txn);
	if (rc) {
		lm_close((struct px_kv *)kv);
		return rc;
	}
	*out = &kv->base;
	return 0;
}

/*
 * A read begin overlapped by at most one commit copied a meta page that
 * no commit was writing (see the top of the file); otherwise try again.
 */
static int begin_read(struct lm_kv *kv, MDB_txn **txn)
{
	for (unsigned tries = 0;; tries++) {
		unsigned long before = atomic_load(&kv->commits), after;
		int mrc = mdb_txn_begin(kv->env, NULL, MDB_RDONLY, txn);

		if (mrc)
			return mrc;
		after = atomic_load(&kv->commits);
		if (after - before <= 1)
			return 0;
		mdb_txn_abort(*txn);
		*txn = NULL;
		if (tries >= 8)
			sched_yield();
	}
}

static int lm_begin(struct px_kv *base, int flags, struct px_kv_txn **out,
		    struct px_errbuf *eb)
{
	struct lm_kv *kv = (struct lm_kv *)base;
	struct lm_txn *t = calloc(1, sizeof(*t));
	int mrc;

	*out = NULL;
	if (!t)
		return px_errf(eb, PX_ENOMEM, "out of memory");
	t->base.kv = base;
	t->rdonly = flags & PX_KV_RDONLY;
	if (t->rdonly)
		mrc = begin_read(kv, &t->txn);
	else
		mrc = mdb_txn_begin(kv->env, NULL, 0, &t->txn);
	if (mrc) {
		free(t);
		return lm_err(eb, mrc, "begin");
	}
	*out = &t->base;
	return 0;
}

static int lm_commit(struct px_kv_txn *base, struct px_errbuf *eb)
{
	struct lm_txn *t = (struct lm_txn *)base;
	struct lm_kv *kv = (struct lm_kv *)base->kv;
	int mrc;

	if (!t->rdonly)
		atomic_fetch_add(&kv->commits, 1);
	mrc = mdb_txn_commit(t->txn); /* frees the txn even on failure */
	if (!t->rdonly)
		atomic_fetch_add(&kv->commits, 1);
	free(t);
	return mrc ? lm_err(eb, mrc, "commit") : 0;
}

static void lm_abort(struct px_kv_txn *base)
{
	struct lm_txn *t = (struct lm_txn *)base;

	mdb_txn_abort(t->txn);
	free(t);
}

static MDB_dbi dbi_of(struct px_kv_txn *base)
{
	return ((struct lm_kv *)base->kv)->dbi;
}

static int lm_get(struct px_kv_txn *base, const void *key, size_t nkey,
		  struct px_buf *out, struct px_errbuf *eb)
{
	struct lm_txn *t = (struct lm_txn *)base;
	MDB_val k = {nkey, (void *)key}, v;
	int rc, mrc;

	mrc = mdb_get(t->txn, dbi_of(base), &k, &v);
	if (mrc)
		return lm_err(eb, mrc, "get");
	rc = px_buf_add(out, v.mv_data, v.mv_size);
	if (rc)
		return px_errf(eb, rc, "value of %zu bytes does not fit",
			       v.mv_size);
	return 0;
}

static int lm_put(struct px_kv_txn *base, const void *key, size_t nkey,
		  const void *val, size_t nval, int flags,
		  struct px_errbuf *eb)
{
	struct lm_txn *t = (struct lm_txn *)base;
	MDB_val k = {nkey, (void *)key}, v = {nval, (void *)val};
	unsigned mflags = flags & PX_KV_NOOVERWRITE ? MDB_NOOVERWRITE : 0;
	int mrc;

	mrc = mdb_put(t->txn, dbi_of(base), &k, &v, mflags);
	return mrc ? lm_err(eb, mrc, "put") : 0;
}

static int lm_del(struct px_kv_txn *base, const void *key, size_t nkey,
		  struct px_errbuf *eb)
{
	struct lm_txn *t = (struct lm_txn *)base;
	MDB_val k = {nkey, (void *)key};
	int mrc;

	mrc = mdb_del(t->txn, dbi_of(base), &k, NULL);
	return mrc ? lm_err(eb, mrc, "del") : 0;
}

static bool has_prefix(const MDB_val *k, const void *prefix, size_t nprefix)
{
	return k->mv_size >= nprefix &&
	       (nprefix == 0 || memcmp(k->mv_data, prefix, nprefix) == 0);
}

/* Put c on the last key <= x (or < x when strict). */
static int seek_back(MDB_cursor *c, const void *x, size_t nx, bool strict,
		     MDB_val *k, MDB_val *v)
{
	int mrc;

	if (nx == 0) /* no key is <= "" (LMDB rejects empty seeks anyway) */
		return MDB_NOTFOUND;
	k->mv_size = nx;
	k->mv_data = (void *)x;
	mrc = mdb_cursor_get(c, k, v, MDB_SET_RANGE);
	if (mrc == MDB_NOTFOUND) /* every key is below x */
		return mdb_cursor_get(c, k, v, MDB_LAST);
	if (mrc == 0 && (strict || px_kv_keycmp(k->mv_data, k->mv_size, x, nx) != 0))
		mrc = mdb_cursor_get(c, k, v, MDB_PREV);
	return mrc;
}

/*
 * Forward: from max(prefix, start) while keys have the prefix. Reverse:
 * from the last key <= min(start, end of the prefix range) down while
 * keys have the prefix. The first key without the prefix ends either walk:
 * the keys with a prefix are exactly the range [prefix, successor).
 */
static int lm_scan(struct px_kv_txn *base, const void *prefix, size_t nprefix,
		   const void *start, size_t nstart, int flags,
		   px_kv_scan_fn fn, void *ctx, struct px_errbuf *eb)
{
	struct lm_txn *t = (struct lm_txn *)base;
	unsigned char succ[MAX_KEY];
	MDB_cursor *c = NULL;
	MDB_val k, v;
	size_t nsucc = 0;
	bool reverse = flags & PX_KV_REVERSE;
	int rc = 0, mrc;

	if (nprefix > MAX_KEY)
		return 0;
	mrc = mdb_cursor_open(t->txn, dbi_of(base), &c);
	if (mrc)
		return lm_err(eb, mrc, "scan");
	if (!reverse) {
		if (start && px_kv_keycmp(start, nstart, prefix, nprefix) > 0) {
			k.mv_size = nstart;
			k.mv_data = (void *)start;
		} else {
			k.mv_size = nprefix;
			k.mv_data = (void *)prefix;
		}
		mrc = mdb_cursor_get(c, &k, &v,
				     k.mv_size ? MDB_SET_RANGE : MDB_FIRST);
	} else if (!px_kv_prefix_end(prefix, nprefix, succ, &nsucc)) {
		mrc = start ? seek_back(c, start, nstart, false, &k, &v)
			    : mdb_cursor_get(c, &k, &v, MDB_LAST);
	} else if (start && px_kv_keycmp(start, nstart, succ, nsucc) < 0) {
		mrc = seek_back(c, start, nstart, false, &k, &v);
	} else {
		mrc = seek_back(c, succ, nsucc, true, &k, &v);
	}
	while (mrc == 0 && has_prefix(&k, prefix, nprefix)) {
		rc = fn(ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
		if (rc)
			break;
		/* LMDB moves tracked cursors past keys the callback deleted */
		mrc = mdb_cursor_get(c, &k, &v, reverse ? MDB_PREV : MDB_NEXT);
	}
	if (rc > 0)
		rc = 0; /* a clean stop */
	else if (rc == 0 && mrc && mrc != MDB_NOTFOUND)
		rc = lm_err(eb, mrc, "scan");
	mdb_cursor_close(c);
	return rc;
}

static int lm_health(struct px_kv *base, struct px_errbuf *eb)
{
	struct lm_kv *kv = (struct lm_kv *)base;
	MDB_stat st;
	int mrc = mdb_env_stat(kv->env, &st);

	return mrc ? lm_err(eb, mrc, "stat") : 0;
}

/*
 * LMDB lets any number of processes share an environment through its lock
 * file: a reader takes a slot in the reader table there, and the writer
 * never reuses pages a live reader can see. The daemon opens the
 * environment without MDB_NOLOCK, so a second process opening it with
 * MDB_RDONLY gets a true snapshot: mdb_env_copy2 runs inside one read
 * transaction and, with MDB_CP_COMPACT, writes only the live pages,
 * renumbered, so the copy carries no free pages and no stale data. The
 * daemon keeps committing meanwhile; its file grows at most by what it
 * writes during the copy, since the reader pins the old pages.
 */
static int lm_snapshot(const char *location, const char *dest,
		       struct px_errbuf *eb)
{
	MDB_env *env = NULL;
	int rc = 0, mrc;

	if ((mrc = mdb_env_create(&env)) != 0 ||
	    (mrc = mdb_env_set_maxreaders(env, MAX_READERS)) != 0) {
		rc = lm_err(eb, mrc, "snapshot");
		goto out;
	}
	if ((mrc = mdb_env_open(env, location, MDB_RDONLY | MDB_NOTLS, 0600))) {
		rc = px_errf(eb, mrc == ENOENT ? PX_ENOTFOUND : PX_EIO,
			     "cannot open the store in \"%s\": %s", location,
			     mdb_strerror(mrc));
		goto out;
	}
	if ((mrc = mdb_env_copy2(env, dest, MDB_CP_COMPACT)) != 0)
		rc = px_errf(eb, PX_EIO, "cannot copy the store to \"%s\": %s",
			     dest, mdb_strerror(mrc));
out:
	if (env)
		mdb_env_close(env);
	return rc;
}

const struct px_kv_ops px_kv_lmdb_ops = {
	.name = "lmdb",
	.open = lm_open,
	.close = lm_close,
	.begin = lm_begin,
	.commit = lm_commit,
	.abort = lm_abort,
	.get = lm_get,
	.put = lm_put,
	.del = lm_del,
	.scan = lm_scan,
	.health = lm_health,
	.snapshot = lm_snapshot,
};

const char *px_kv_lmdb_version(void)
{
	return mdb_version(NULL, NULL, NULL);
}
