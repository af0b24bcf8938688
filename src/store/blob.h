/*
 * blob.h - the blob store: original image bytes, content-addressed.
 *
 * In the style of SQLite's VFS: a backend is a `const struct px_blob_ops`
 * table; an open store is a struct whose first member points at its ops.
 * Callers never reach a backend directly: they call the px_blob_*()
 * wrappers below, which is where tracing and fault injection live.
 *
 * Blobs are named by the lowercase hex SHA-256 of their bytes (64 chars).
 * put() is durable when it returns 0: a crash afterwards never loses the
 * blob, and a crash during it never leaves a visible partial blob.
 * Reference counting is the metadata layer's job, not the blob store's.
 */
#ifndef PX_BLOB_H
#define PX_BLOB_H

#include "core/buf.h"

struct px_blob_store;

/* Called once per stored blob by list(); return nonzero to stop early. */
typedef int (*px_blob_list_fn)(void *ctx, const char *hex);

struct px_blob_ops {
	const char *name; /* "fs", "mem", later "s3" */
	/* Open a store at location (a directory for fs; ignored for mem). */
	int (*open)(const char *location, struct px_blob_store **out,
		    struct px_errbuf *eb);
	void (*close)(struct px_blob_store *s);
	/* Store n bytes under hex; PX_OK if it already exists. Durable. */
	int (*put)(struct px_blob_store *s, const char *hex, const void *data,
		   size_t n, struct px_errbuf *eb);
	/* Append the blob's bytes to out; PX_ENOTFOUND if absent. */
	int (*get)(struct px_blob_store *s, const char *hex, struct px_buf *out,
		   struct px_errbuf *eb);
	/* Remove a blob; PX_ENOTFOUND if absent. */
	int (*del)(struct px_blob_store *s, const char *hex,
		   struct px_errbuf *eb);
	/* Size of a blob; PX_ENOTFOUND if absent. */
	int (*stat)(struct px_blob_store *s, const char *hex, uint64_t *size,
		    struct px_errbuf *eb);
	/* Call fn for every stored blob (order unspecified). */
	int (*list)(struct px_blob_store *s, px_blob_list_fn fn, void *ctx,
		    struct px_errbuf *eb);
	/* Remove leftovers of interrupted writes; returns count via *n. */
	int (*recover)(struct px_blob_store *s, unsigned *n,
		       struct px_errbuf *eb);
	/* 0 when the store can serve reads and writes. */
	int (*health)(struct px_blob_store *s, struct px_errbuf *eb);
};

struct px_blob_store {
	const struct px_blob_ops *ops; /* first member, always */
};

extern const struct px_blob_ops px_blob_fs_ops;
extern const struct px_blob_ops px_blob_mem_ops;
/* An S3 API store; location "s3://BUCKET[/PREFIX]?endpoint=&region=&path_style="
 * (store/s3loc.h), credentials from the AWS_* environment variables. */
extern const struct px_blob_ops px_blob_s3_ops;

/* S3 credentials; a NULL or empty field is read from its AWS_* variable
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN). */
struct px_blob_cred {
	const char *access_key, *secret_key, *session_token;
};

/* Open an S3 store with explicit credentials (cred may be NULL: all from
 * the environment). Copies what it keeps. PX_EINVAL with code
 * "bad_blob_location" or "no_blob_credentials". */
int px_blob_open_s3(const char *location, const struct px_blob_cred *cred,
		    struct px_blob_store **out, struct px_errbuf *eb);

/* Find a backend by name; NULL if unknown. */
const struct px_blob_ops *px_blob_find(const char *name);

/* Wrappers every caller uses. hex must be 64 lowercase hex chars;
 * anything else is PX_EINVAL (never reaches the backend). */
int px_blob_open(const struct px_blob_ops *ops, const char *location,
		 struct px_blob_store **out, struct px_errbuf *eb);
void px_blob_close(struct px_blob_store *s); /* accepts NULL */
int px_blob_put(struct px_blob_store *s, const char *hex, const void *data,
		size_t n, struct px_errbuf *eb);
int px_blob_get(struct px_blob_store *s, const char *hex, struct px_buf *out,
		struct px_errbuf *eb);
int px_blob_del(struct px_blob_store *s, const char *hex,
		struct px_errbuf *eb);
int px_blob_stat(struct px_blob_store *s, const char *hex, uint64_t *size,
		 struct px_errbuf *eb);
int px_blob_list(struct px_blob_store *s, px_blob_list_fn fn, void *ctx,
		 struct px_errbuf *eb);
int px_blob_recover(struct px_blob_store *s, unsigned *n,
		    struct px_errbuf *eb);
int px_blob_health(struct px_blob_store *s, struct px_errbuf *eb);

/* True if hex is 64 lowercase hex digits. */
bool px_blob_valid_name(const char *hex);

/*
 * A list of blob names, as px_blob_list() or a scan of records hands them
 * out: add, sort once, then look names up. Embedded, zeroed to start
 * ({0}); px_blob_names_release() frees the array.
 */
struct px_blob_names {
	char (*a)[PX_SHA256_HEX_LEN + 1]; /* n names, each NUL-terminated */
	size_t n, cap;
};

/* Append a copy of hex (64 chars at most are kept); PX_ENOMEM. */
int px_blob_names_add(struct px_blob_names *l, const char *hex);

/* px_blob_names_add() as a px_blob_list_fn: ctx is the list. */
int px_blob_names_collect(void *ctx, const char *hex);

/* Sort the names into strcmp order, for px_blob_names_has(). */
void px_blob_names_sort(struct px_blob_names *l);

/* Is hex in the list, which is sorted? An empty list holds nothing. */
bool px_blob_names_has(const struct px_blob_names *l, const char *hex);

/* Free the array; the list is empty afterwards. */
void px_blob_names_release(struct px_blob_names *l);

/*
 * Test-only fault injection: when set, the next put() fails with rc after
 * `after` more successful calls (0 = the very next one). Reset with rc 0.
 */
void px_blob_fault_put(int rc, unsigned after);

#endif
