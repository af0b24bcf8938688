/*
 * kv.c - the px_kv_*() wrappers every caller goes through.
 *
 * Arguments are checked here once, so backends (kv_lmdb.c, kv_mem.c) see
 * only keys they can store and behave alike. This is also the place for
 * tracing and for the test-only fault injection of px_kv_fault_commit().
 *
 * Rules the header leaves implicit, shared by every backend:
 *  - commit() always ends the transaction, whether it succeeds or not
 *    (as in LMDB); abort() ends it without writing anything.
 *  - Keys are 1..PX_KV_MAX_KEY bytes (LMDB's limit, the smallest of any
 *    backend); anything else is PX_EINVAL. A scan prefix longer than that
 *    matches nothing.
 *  - put() and del() in a read-only transaction are PX_EINVAL.
 *  - A write transaction belongs to the thread that began it (LMDB ties
 *    its writer lock to that thread); a thread must not begin a second
 *    write transaction while it holds one.
 *  - scan() callbacks may put() and del() in the write transaction they
 *    are scanning; key and value pointers die at the first such change.
 */
#include "meta/kv.h"

#include "core/fault.h"

#define PX_KV_MAX_KEY 511

static const struct px_kv_ops *const backends[] = {
	&px_kv_lmdb_ops,
	&px_kv_mem_ops,
	&px_kv_pg_ops,
};

/* Armed by px_kv_fault_commit(). Read-only commits count too: the
 * wrapper cannot tell the two kinds apart. */
static struct px_fault fault = PX_FAULT_INIT;

void px_kv_fault_commit(int rc, unsigned after)
{
	px_fault_arm(&fault, rc, after);
}

static int check_key(const void *key, size_t nkey, struct px_errbuf *eb)
{
	if (!key || nkey == 0 || nkey > PX_KV_MAX_KEY)
		return px_errc(eb, PX_EINVAL, "bad_key",
			       "key length %zu is not within 1..%d",
			       key ? nkey : 0, PX_KV_MAX_KEY);
	return 0;
}

int px_kv_keycmp(const void *a, size_t na, const void *b, size_t nb)
{
	int c = na && nb ? memcmp(a, b, PX_MIN(na, nb)) : 0;

	return c ? c : (na > nb) - (na < nb);
}

/* Drop trailing 0xff bytes and increment the last one. */
bool px_kv_prefix_end(const void *prefix, size_t nprefix, unsigned char *out,
		      size_t *nout)
{
	if (nprefix)
		memcpy(out, prefix, nprefix);
	while (nprefix > 0 && out[nprefix - 1] == 0xff)
		nprefix--;
	if (nprefix == 0)
		return false;
	out[nprefix - 1]++;
	*nout = nprefix;
	return true;
}

const struct px_kv_ops *px_kv_find(const char *name)
{
	for (size_t i = 0; name && i < PX_ARRAY_LEN(backends); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

int px_kv_open(const struct px_kv_ops *ops, const char *location,
	       uint64_t map_size, struct px_kv **out, struct px_errbuf *eb)
{
	*out = NULL;
	if (!ops)
		return px_errf(eb, PX_EINVAL, "no kv backend");
	return ops->open(location, map_size, out, eb);
}

bool px_kv_meta_is_lmdb(const char *meta)
{
	return !meta || !strcmp(meta, "lmdb");
}

void px_kv_close(struct px_kv *kv)
{
	if (kv)
		kv->ops->close(kv);
}

int px_kv_begin(struct px_kv *kv, int flags, struct px_kv_txn **out,
		struct px_errbuf *eb)
{
	*out = NULL;
	if (flags & ~PX_KV_RDONLY)
		return px_errf(eb, PX_EINVAL, "bad transaction flags %#x",
			       (unsigned)flags);
	return kv->ops->begin(kv, flags, out, eb);
}

struct px_kv_after {
	struct px_kv_after *next;
	void (*fn)(void *ctx, const char *arg);
	void *ctx;
	char arg[];
};

int px_kv_after_commit(struct px_kv_txn *txn,
		       void (*fn)(void *ctx, const char *arg), void *ctx,
		       const char *arg, struct px_errbuf *eb)
{
	size_t n = strlen(arg);
	struct px_kv_after *a = malloc(sizeof(*a) + n + 1), **pp;

	if (!a)
		return px_errf(eb, PX_ENOMEM, "out of memory");
	a->next = NULL;
	a->fn = fn;
	a->ctx = ctx;
	memcpy(a->arg, arg, n + 1);
	for (pp = &txn->after; *pp; pp = &(*pp)->next)
		; /* kept in order of registration */
	*pp = a;
	return 0;
}

/* Run (or just free, with run false) the callbacks taken off a txn. */
static void after_run(struct px_kv_after *a, bool run)
{
	while (a) {
		struct px_kv_after *next = a->next;

		if (run)
			a->fn(a->ctx, a->arg);
		free(a);
		a = next;
	}
}

int px_kv_commit(struct px_kv_txn *txn, struct px_errbuf *eb)
{
	struct px_kv_after *after = txn->after; /* commit frees txn */
	int rc = px_fault_take(&fault);

	txn->after = NULL;
	if (rc) {
		/* the real transaction must leave no trace */
		txn->kv->ops->abort(txn);
		after_run(after, false);
		return px_errf(eb, rc, "injected commit fault");
	}
	rc = txn->kv->ops->commit(txn, eb);
	if (rc == 0)
		px_fault_count(&fault);
	after_run(after, true);
	return rc;
}

void px_kv_abort(struct px_kv_txn *txn)
{
	struct px_kv_after *after;

	if (!txn)
		return;
	after = txn->after;
	txn->after = NULL;
	txn->kv->ops->abort(txn);
	after_run(after, false);
}

int px_kv_get(struct px_kv_txn *txn, const void *key, size_t nkey,
	      struct px_buf *out, struct px_errbuf *eb)
{
	int rc = check_key(key, nkey, eb);

	return rc ? rc : txn->kv->ops->get(txn, key, nkey, out, eb);
}

int px_kv_put(struct px_kv_txn *txn, const void *key, size_t nkey,
	      const void *val, size_t nval, int flags, struct px_errbuf *eb)
{
	int rc = check_key(key, nkey, eb);

	if (rc)
		return rc;
	if ((flags & ~PX_KV_NOOVERWRITE) || (!val && nval))
		return px_errf(eb, PX_EINVAL, "bad put arguments");
	return txn->kv->ops->put(txn, key, nkey, val, nval, flags, eb);
}

int px_kv_del(struct px_kv_txn *txn, const void *key, size_t nkey,
	      struct px_errbuf *eb)
{
	int rc = check_key(key, nkey, eb);

	return rc ? rc : txn->kv->ops->del(txn, key, nkey, eb);
}

int px_kv_scan(struct px_kv_txn *txn, const void *prefix, size_t nprefix,
	       const void *start, size_t nstart, int flags, px_kv_scan_fn fn,
	       void *ctx, struct px_errbuf *eb)
{
	if ((flags & ~PX_KV_REVERSE) || (!prefix && nprefix) ||
	    (!start && nstart))
		return px_errf(eb, PX_EINVAL, "bad scan arguments");
	if (nprefix > PX_KV_MAX_KEY)
		return 0; /* no key can have it */
	return txn->kv->ops->scan(txn, prefix, nprefix, start, nstart, flags,
				  fn, ctx, eb);
}

int px_kv_health(struct px_kv *kv, struct px_errbuf *eb)
{
	return kv->ops->health(kv, eb);
}

int px_kv_set_conns(struct px_kv *kv, int n)
{
	return kv->ops->set_conns ? kv->ops->set_conns(kv, n) : 0;
}

bool px_kv_shared(const struct px_kv *kv)
{
	return kv && kv->ops->notify && kv->ops->listen;
}

int px_kv_notify(struct px_kv_txn *txn, const char *payload,
		 struct px_errbuf *eb)
{
	if (!px_kv_shared(txn->kv))
		return px_errf(eb, PX_EUNSUPPORTED,
			       "the %s store has no messages",
			       txn->kv->ops->name);
	if (!payload || !*payload || strlen(payload) > PX_KV_NOTIFY_MAX)
		return px_errf(eb, PX_EINVAL, "a message is 1..%d bytes",
			       PX_KV_NOTIFY_MAX);
	return txn->kv->ops->notify(txn, payload, eb);
}

int px_kv_listen(struct px_kv *kv, px_kv_notify_fn fn, void *ctx,
		 struct px_errbuf *eb)
{
	if (!px_kv_shared(kv))
		return px_errf(eb, PX_EUNSUPPORTED,
			       "the %s store has no messages", kv->ops->name);
	return kv->ops->listen(kv, fn, ctx, eb);
}

int px_kv_snapshot(const struct px_kv_ops *ops, const char *location,
		   const char *dest, struct px_errbuf *eb)
{
	if (!ops || !location || !dest)
		return px_errf(eb, PX_EINVAL, "bad snapshot arguments");
	if (!ops->snapshot)
		return px_errf(eb, PX_EUNSUPPORTED,
			       "the %s store cannot take snapshots", ops->name);
	return ops->snapshot(location, dest, eb);
}

int px_kv_gets(struct px_kv_txn *txn, const char *key, struct px_buf *out,
	       struct px_errbuf *eb)
{
	return px_kv_get(txn, key, key ? strlen(key) : 0, out, eb);
}

int px_kv_puts(struct px_kv_txn *txn, const char *key, const void *val,
	       size_t nval, int flags, struct px_errbuf *eb)
{
	return px_kv_put(txn, key, key ? strlen(key) : 0, val, nval, flags, eb);
}

int px_kv_dels(struct px_kv_txn *txn, const char *key, struct px_errbuf *eb)
{
	return px_kv_del(txn, key, key ? strlen(key) : 0, eb);
}
