/*
 * kv_mem.c - the in-memory metadata backend, for unit tests.
 *
 * The store is an immutable, refcounted snapshot: a sorted array of
 * pointers to refcounted entries. A reader pins the current snapshot and
 * never blocks. A writer waits for the previous one to finish, then on its
 * first change copies the array (not the entries) and edits the copy;
 * commit publishes the copy, abort drops it. Readers therefore never see
 * uncommitted data, and an abort costs nothing to undo. Copying the array
 * per write transaction is O(n), which is fine at unit-test sizes.
 */
#include "meta/kv.h"

#include <pthread.h>
#include <stdatomic.h>

#define MAX_KEY 511 /* kv.c never passes longer keys or prefixes */

struct ent {
	atomic_uint ref;
	size_t nkey, nval;
	unsigned char b[]; /* key, then value */
};

struct snap {
	atomic_uint ref;
	size_t n, cap;
	struct ent **a; /* sorted by keycmp */
};

struct mem_kv {
	struct px_kv base;
	pthread_mutex_t lock; /* guards cur and writing */
	pthread_cond_t idle;  /* signalled when a writer finishes */
	struct snap *cur;     /* the committed state; holds one ref */
	bool writing;
};

struct mem_txn {
	struct px_kv_txn base;
	struct snap *snap; /* what the txn began from; pinned */
	struct snap *work; /* a writer's private copy, made on first change */
	bool rdonly;
};

static void ent_unref(struct ent *e)
{
	if (atomic_fetch_sub(&e->ref, 1) == 1)
		free(e);
}

static void snap_unref(struct snap *s)
{
	if (!s || atomic_fetch_sub(&s->ref, 1) != 1)
		return;
	for (size_t i = 0; i < s->n; i++)
		ent_unref(s->a[i]);
	free(s->a);
	free(s);
}

/* Index of the first key >= key (or > key when strict). */
static size_t bound(const struct snap *s, const void *key, size_t nkey,
		    bool strict)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = px_kv_keycmp(s->a[mid]->b, s->a[mid]->nkey, key, nkey);

		if (c < 0 || (strict && c == 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Index of key, or s->n when absent. */
static size_t find(const struct snap *s, const void *key, size_t nkey)
{
	size_t i = bound(s, key, nkey, false);

	if (i < s->n && px_kv_keycmp(s->a[i]->b, s->a[i]->nkey, key, nkey) == 0)
		return i;
	return s->n;
}

static struct snap *view(struct mem_txn *t)
{
	return t->work ? t->work : t->snap;
}

static int mem_open(const char *location, uint64_t map_size,
		    struct px_kv **out, struct px_errbuf *eb)
{
	struct mem_kv *kv = calloc(1, sizeof(*kv));

	*out = NULL;
	if (!kv || !(kv->cur = calloc(1, sizeof(*kv->cur)))) {
		free(kv);
		return px_errf(eb, PX_ENOMEM, "out of memory");
	}
	kv->base.ops = &px_kv_mem_ops;
	atomic_init(&kv->cur->ref, 1);
	pthread_mutex_init(&kv->lock, NULL);
	pthread_cond_init(&kv->idle, NULL);
	*out = &kv->base;
	return 0;
}

static void mem_close(struct px_kv *base)
{
	struct mem_kv *kv = (struct mem_kv *)base;

	if (!kv)
		return;
	snap_unref(kv->cur);
	pthread_cond_destroy(&kv->idle);
	pthread_mutex_destroy(&kv->lock);
	free(kv);
}

static int mem_begin(struct px_kv *base, int flags, struct px_kv_txn **out,
		     struct px_errbuf *eb)
{
	struct mem_kv *kv = (struct mem_kv *)base;
	struct mem_txn *t = calloc(1, sizeof(*t));

	*out = NULL;
	if (!t)
		return px_errf(eb, PX_ENOMEM, "out of memory");
	t->base.kv = base;
	t->rdonly = flags & PX_KV_RDONLY;
	pthread_mutex_lock(&kv->lock);
	while (!t->rdonly && kv->writing)
		pthread_cond_wait(&kv->idle, &kv->lock);
	if (!t->rdonly)
		kv->writing = true;
	t->snap = kv->cur;
	atomic_fetch_add(&t->snap->ref, 1);
	pthread_mutex_unlock(&kv->lock);
	*out = &t->base;
	return 0;
}

/* End a transaction, publishing its changes when commit is set. */
static void finish(struct mem_txn *t, bool commit)
{
	struct mem_kv *kv = (struct mem_kv *)t->base.kv;
	struct snap *old = NULL;

	if (!t->rdonly) {
		pthread_mutex_lock(&kv->lock);
		if (commit && t->work) {
			old = kv->cur; /* == t->snap: writers are serial */
			kv->cur = t->work;
			t->work = NULL;
		}
		kv->writing = false;
		pthread_cond_signal(&kv->idle);
		pthread_mutex_unlock(&kv->lock);
	}
	snap_unref(old);
	snap_unref(t->work);
	snap_unref(t->snap);
	free(t);
}

static int mem_commit(struct px_kv_txn *base, struct px_errbuf *eb)
{
	finish((struct mem_txn *)base, true);
	return 0;
}

static void mem_abort(struct px_kv_txn *base)
{
	finish((struct mem_txn *)base, false);
}

static int mem_get(struct px_kv_txn *base, const void *key, size_t nkey,
		   struct px_buf *out, struct px_errbuf *eb)
{
	struct snap *s = view((struct mem_txn *)base);
	size_t i = find(s, key, nkey);
	int rc;

	if (i == s->n)
		return px_errf(eb, PX_ENOTFOUND, "key not found");
	rc = px_buf_add(out, s->a[i]->b + nkey, s->a[i]->nval);
	if (rc)
		return px_errf(eb, rc, "value of %zu bytes does not fit",
			       s->a[i]->nval);
	return 0;
}

/* The writer's private array, copied from its snapshot on first use. */
static int writable(struct mem_txn *t, size_t extra, struct px_errbuf *eb)
{
	struct snap *s = t->work, *from = t->snap;
	struct ent **a;
	size_t cap;

	if (t->rdonly)
		return px_errf(eb, PX_EINVAL, "write in a read-only txn");
	if (s && s->n + extra <= s->cap)
		return 0;
	cap = PX_MAX(16, 2 * ((s ? s->n : from->n) + extra));
	a = malloc(cap * sizeof(*a));
	if (!a)
		return px_errf(eb, PX_ENOMEM, "out of memory");
	if (s) { /* just growing our own copy */
		memcpy(a, s->a, s->n * sizeof(*a));
		free(s->a);
	} else {
		if (!(s = calloc(1, sizeof(*s)))) {
			free(a);
			return px_errf(eb, PX_ENOMEM, "out of memory");
		}
		atomic_init(&s->ref, 1);
		s->n = from->n;
		for (size_t i = 0; i < from->n; i++) {
			a[i] = from->a[i];
			atomic_fetch_add(&a[i]->ref, 1);
		}
		t->work = s;
	}
	s->a = a;
	s->cap = cap;
	return 0;
}

static int mem_put(struct px_kv_txn *base, const void *key, size_t nkey,
		   const void *val, size_t nval, int flags,
		   struct px_errbuf *eb)
{
	struct mem_txn *t = (struct mem_txn *)base;
	struct snap *s;
	struct ent *e;
	size_t i;
	bool found;
	int rc = writable(t, 1, eb);

	if (rc)
		return rc;
	s = t->work;
	i = bound(s, key, nkey, false);
	found = i < s->n && px_kv_keycmp(s->a[i]->b, s->a[i]->nkey, key, nkey) == 0;
	if (found && (flags & PX_KV_NOOVERWRITE))
		return px_errf(eb, PX_EEXIST, "key exists");
	e = malloc(sizeof(*e) + nkey + nval);
	if (!e)
		return px_errf(eb, PX_ENOMEM, "out of memory");
	atomic_init(&e->ref, 1);
	e->nkey = nkey;
	e->nval = nval;
	memcpy(e->b, key, nkey);
	if (nval)
		memcpy(e->b + nkey, val, nval);
	if (found) {
		ent_unref(s->a[i]);
	} else {
		memmove(s->a + i + 1, s->a + i, (s->n - i) * sizeof(*s->a));
		s->n++;
	}
	s->a[i] = e;
	return 0;
}

static int mem_del(struct px_kv_txn *base, const void *key, size_t nkey,
		   struct px_errbuf *eb)
{
	struct mem_txn *t = (struct mem_txn *)base;
	struct snap *s;
	size_t i;
	int rc;

	if (t->rdonly)
		return px_errf(eb, PX_EINVAL, "write in a read-only txn");
	s = view(t);
	i = find(s, key, nkey);
	if (i == s->n)
		return px_errf(eb, PX_ENOTFOUND, "key not found");
	rc = writable(t, 0, eb); /* only now: a miss copies nothing */
	if (rc)
		return rc;
	s = t->work;
	ent_unref(s->a[i]);
	memmove(s->a + i, s->a + i + 1, (s->n - i - 1) * sizeof(*s->a));
	s->n--;
	return 0;
}

static bool has_prefix(const struct ent *e, const void *prefix,
		       size_t nprefix)
{
	return e->nkey >= nprefix &&
	       (nprefix == 0 || memcmp(e->b, prefix, nprefix) == 0);
}

/*
 * Same walk as kv_lmdb.c, on array indexes. After every callback the
 * position is found again from a copy of the last key, so a callback may
 * put or del in this transaction (even replacing the array) mid-scan.
 */
static int mem_scan(struct px_kv_txn *base, const void *prefix,
		    size_t nprefix, const void *start, size_t nstart,
		    int flags, px_kv_scan_fn fn, void *ctx,
		    struct px_errbuf *eb)
{
	struct mem_txn *t = (struct mem_txn *)base;
	bool reverse = flags & PX_KV_REVERSE;
	unsigned char last[MAX_KEY], succ[MAX_KEY];
	struct snap *s = view(t);
	struct ent *e;
	size_t i, nlast, nsucc = 0;
	int rc = 0;

	if (nprefix > MAX_KEY)
		return 0;
	if (!reverse) {
		if (start && px_kv_keycmp(start, nstart, prefix, nprefix) > 0)
			i = bound(s, start, nstart, false);
		else
			i = bound(s, prefix, nprefix, false);
	} else if (!px_kv_prefix_end(prefix, nprefix, succ, &nsucc)) {
		i = start ? bound(s, start, nstart, true) : s->n;
	} else if (start && px_kv_keycmp(start, nstart, succ, nsucc) < 0) {
		i = bound(s, start, nstart, true); /* one past the last <= */
	} else {
		i = bound(s, succ, nsucc, false); /* one past the last < */
	}
	while (reverse ? i > 0 : i < s->n) {
		e = s->a[reverse ? i - 1 : i];
		if (!has_prefix(e, prefix, nprefix))
			break;
		PX_ASSERT(e->nkey <= sizeof(last));
		nlast = e->nkey;
		memcpy(last, e->b, nlast);
		rc = fn(ctx, e->b, e->nkey, e->b + e->nkey, e->nval);
		if (rc)
			break;
		s = view(t);
		i = reverse ? bound(s, last, nlast, false)
			    : bound(s, last, nlast, true);
	}
	return rc > 0 ? 0 : rc;
}

static int mem_health(struct px_kv *base, struct px_errbuf *eb)
{
	return 0;
}

const struct px_kv_ops px_kv_mem_ops = {
	.name = "mem",
	.open = mem_open,
	.close = mem_close,
	.begin = mem_begin,
	.commit = mem_commit,
	.abort = mem_abort,
	.get = mem_get,
	.put = mem_put,
	.del = mem_del,
	.scan = mem_scan,
	.health = mem_health,
};
