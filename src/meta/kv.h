/*
 * kv.h - the metadata store: an ordered key/value store with transactions.
 *
 * Records (images, variants, jobs) and their indexes live here. Keys are
 * byte strings compared with memcmp order; values are opaque bytes.
 * Backends follow the SQLite-VFS pattern of blob.h: a `const struct
 * px_kv_ops` table, an instance whose first member points at it, and thin
 * px_kv_*() wrappers that all callers use.
 *
 * Transactions: any number of read-only transactions may run at once; one
 * writer at a time (a second begin(write) waits). commit() is durable when
 * it returns 0. Values returned by get/scan are copied into caller buffers,
 * so nothing borrowed outlives the transaction.
 */
#ifndef PX_KV_H
#define PX_KV_H

#include "core/buf.h"

struct px_kv;
struct px_kv_txn;

#define PX_KV_RDONLY 1

/* put() flag: fail with PX_EEXIST instead of overwriting. */
#define PX_KV_NOOVERWRITE 1

/* scan() flag: iterate in descending key order. */
#define PX_KV_REVERSE 1

/*
 * scan() callback: key and value are valid only during the call.
 * Return 0 to continue, 1 to stop cleanly, negative to abort with that rc.
 */
typedef int (*px_kv_scan_fn)(void *ctx, const void *key, size_t nkey,
			     const void *val, size_t nval);

/*
 * listen() callback, called on the store's listener thread: payload is one
 * message another process (or this one) sent with notify() and committed,
 * in commit order; NULL means messages may have been lost (reported when
 * the listener's connection breaks and again when it is reopened): assume
 * anything may have changed. An empty payload ("", which notify() never
 * sends) is a heartbeat: the connection just completed a round trip with
 * the server, and every message received before it was delivered.
 */
typedef void (*px_kv_notify_fn)(void *ctx, const char *payload);

struct px_kv_ops {
	const char *name; /* "lmdb", "mem", "pg" */
	/* Open a store at location (a directory for lmdb, a libpq
	 * connection URI for pg; ignored for mem).
	 * map_size is the most the store may grow to, in bytes (0: default). */
	int (*open)(const char *location, uint64_t map_size, struct px_kv **out,
		    struct px_errbuf *eb);
	void (*close)(struct px_kv *kv);
	int (*begin)(struct px_kv *kv, int flags, struct px_kv_txn **out,
		     struct px_errbuf *eb);
	int (*commit)(struct px_kv_txn *txn, struct px_errbuf *eb);
	void (*abort)(struct px_kv_txn *txn);
	/* Append the value to out (out is not cleared); PX_ENOTFOUND. */
	int (*get)(struct px_kv_txn *txn, const void *key, size_t nkey,
		   struct px_buf *out, struct px_errbuf *eb);
	int (*put)(struct px_kv_txn *txn, const void *key, size_t nkey,
		   const void *val, size_t nval, int flags,
		   struct px_errbuf *eb);
	/* PX_ENOTFOUND if the key is absent. */
	int (*del)(struct px_kv_txn *txn, const void *key, size_t nkey,
		   struct px_errbuf *eb);
	/*
	 * Visit keys that start with prefix, beginning at start (inclusive)
	 * or, when start is NULL, at the first (or last, with REVERSE) key
	 * of the prefix. With REVERSE, start is the upper bound (inclusive).
	 */
	int (*scan)(struct px_kv_txn *txn, const void *prefix, size_t nprefix,
		    const void *start, size_t nstart, int flags,
		    px_kv_scan_fn fn, void *ctx, struct px_errbuf *eb);
	int (*health)(struct px_kv *kv, struct px_errbuf *eb);
	/*
	 * Write a consistent, compacted copy of the store at location into
	 * the existing directory dest (which must hold no store yet), as of
	 * one instant. The store may be open and written by another process
	 * meanwhile: the copy opens it read-only and takes no writer lock.
	 * NULL for backends that keep nothing on disk (mem).
	 */
	int (*snapshot)(const char *location, const char *dest,
			struct px_errbuf *eb);
	/* Most connections the store may hold open (one per concurrent
	 * transaction); NULL for backends without connections. */
	int (*set_conns)(struct px_kv *kv, int n);
	/*
	 * Stores that several processes (nodes) share. NULL for the
	 * others, which one process owns (lmdb, mem).
	 * notify(): send payload (text, at most PX_KV_NOTIFY_MAX bytes) to
	 * every listener of this store when the write transaction txn
	 * commits; nothing is sent if it aborts.
	 * listen(): start delivering every committed payload, from any
	 * process, to fn on a thread of the store's own until close();
	 * once per store. Every payload committed after it returns is
	 * delivered, or its loss reported (fn with NULL).
	 */
	int (*notify)(struct px_kv_txn *txn, const char *payload,
		      struct px_errbuf *eb);
	int (*listen)(struct px_kv *kv, px_kv_notify_fn fn, void *ctx,
		      struct px_errbuf *eb);
};

#define PX_KV_NOTIFY_MAX 4000

struct px_kv {
	const struct px_kv_ops *ops; /* first member, always */
};

struct px_kv_after;

struct px_kv_txn {
	struct px_kv *kv; /* first member, always */
	struct px_kv_after *after; /* px_kv_after_commit(); backends leave
				      it alone (zeroed at begin) */
};

extern const struct px_kv_ops px_kv_lmdb_ops;
extern const struct px_kv_ops px_kv_mem_ops;
extern const struct px_kv_ops px_kv_pg_ops;

/* LMDB's version text, e.g. "LMDB 0.9.24: (July 24, 2019)". */
const char *px_kv_lmdb_version(void);

/* libpq's version text, e.g. "15.18". */
const char *px_kv_pg_version(void);

/* Find a backend by name; NULL if unknown. */
const struct px_kv_ops *px_kv_find(const char *name);

/* True when meta (the "meta" setting) names the embedded LMDB store;
 * anything else is a PostgreSQL connection string for pg. */
bool px_kv_meta_is_lmdb(const char *meta);

/* Wrappers every caller uses; semantics as in the ops table. */
int px_kv_open(const struct px_kv_ops *ops, const char *location,
	       uint64_t map_size, struct px_kv **out, struct px_errbuf *eb);
void px_kv_close(struct px_kv *kv); /* accepts NULL */
int px_kv_begin(struct px_kv *kv, int flags, struct px_kv_txn **out,
		struct px_errbuf *eb);
int px_kv_commit(struct px_kv_txn *txn, struct px_errbuf *eb);
void px_kv_abort(struct px_kv_txn *txn); /* accepts NULL */
int px_kv_get(struct px_kv_txn *txn, const void *key, size_t nkey,
	      struct px_buf *out, struct px_errbuf *eb);
int px_kv_put(struct px_kv_txn *txn, const void *key, size_t nkey,
	      const void *val, size_t nval, int flags, struct px_errbuf *eb);
int px_kv_del(struct px_kv_txn *txn, const void *key, size_t nkey,
	      struct px_errbuf *eb);
int px_kv_scan(struct px_kv_txn *txn, const void *prefix, size_t nprefix,
	       const void *start, size_t nstart, int flags, px_kv_scan_fn fn,
	       void *ctx, struct px_errbuf *eb);
int px_kv_health(struct px_kv *kv, struct px_errbuf *eb);
/* Size the connection pool of a client-server backend to n concurrent
 * transactions (the daemon's threads); 0 and a no-op for the others. */
int px_kv_set_conns(struct px_kv *kv, int n);
/* True when several processes may share the store at once (it has
 * notify/listen): background work then needs leases, and node-local
 * caches need the store's messages. */
bool px_kv_shared(const struct px_kv *kv);
/* PX_EUNSUPPORTED on a store that is not shared; semantics as in the
 * ops table. */
int px_kv_notify(struct px_kv_txn *txn, const char *payload,
		 struct px_errbuf *eb);
int px_kv_listen(struct px_kv *kv, px_kv_notify_fn fn, void *ctx,
		 struct px_errbuf *eb);
/*
 * Call fn(ctx, arg) on this thread once the commit of the write
 * transaction txn has been attempted, whatever its outcome (a COMMIT
 * whose answer was lost may still have happened); never after abort().
 * arg is copied. For node-local caches of what txn changes (watch.c).
 */
int px_kv_after_commit(struct px_kv_txn *txn,
		       void (*fn)(void *ctx, const char *arg), void *ctx,
		       const char *arg, struct px_errbuf *eb);
/* PX_EUNSUPPORTED when the backend has no snapshot. */
int px_kv_snapshot(const struct px_kv_ops *ops, const char *location,
		   const char *dest, struct px_errbuf *eb);

/* String-key conveniences over the wrappers above. */
int px_kv_gets(struct px_kv_txn *txn, const char *key, struct px_buf *out,
	       struct px_errbuf *eb);
int px_kv_puts(struct px_kv_txn *txn, const char *key, const void *val,
	       size_t nval, int flags, struct px_errbuf *eb);
int px_kv_dels(struct px_kv_txn *txn, const char *key, struct px_errbuf *eb);

/*
 * Helpers the backends share. px_kv_keycmp(): memcmp order, shorter first
 * on a tie (the order every backend keeps). px_kv_prefix_end(): the
 * smallest key above every key that starts with prefix, written to out
 * (room for nprefix bytes); false when there is none (an empty or
 * all-0xff prefix), i.e. the prefix range runs to the end.
 */
int px_kv_keycmp(const void *a, size_t na, const void *b, size_t nb);
bool px_kv_prefix_end(const void *prefix, size_t nprefix, unsigned char *out,
		      size_t *nout);

/* Test-only fault injection: the next commit() fails with rc after
 * `after` more successful commits. Reset with rc 0. */
void px_kv_fault_commit(int rc, unsigned after);

#endif
