/*
 * keys.h - the URL-signing keys: one owner for the named keys that
 * delivery verifies with and the keys API lists, creates, rotates and
 * deletes (Cloudflare Images' /v1/keys).
 *
 * The keys live in the secrets file (<data>/secrets.json): "signing_keys"
 * holds the values in order (the first signs, as `pictor sign` uses it)
 * and "signing_key_names" their names. A change is written to a temporary
 * file, synced and renamed over the old one before it takes effect in
 * memory, so a 2xx from the keys API means the change survives a crash,
 * and the next request verifies with it. Keys given by --signing-keys (or
 * PICTOR_SIGNING_KEYS, or the configuration file) pin the set: the API
 * then lists them but refuses changes, since the next start would undo
 * them.
 */
#ifndef PX_KEYS_H
#define PX_KEYS_H

#include "core/buf.h"

/* Cloudflare allows two signing keys per account: room for a new one
 * while the old one still verifies. Creating a third is refused. */
#define PX_KEYS_LIMIT 2
#define PX_KEY_NAME_MAX 64

struct px_keys;

/*
 * Open the key set: values[0..n) as the configuration loaded them (n >=
 * 1), named from the secrets file at path ("default", "key-2", ... where
 * it names none). pinned: the values came from flags or the environment,
 * not the file; changes are refused. *out is freed with px_keys_free.
 */
int px_keys_open(const char *path, char *const *values, int n, bool pinned,
		 struct px_keys **out, struct px_errbuf *eb);
void px_keys_free(struct px_keys *k); /* accepts NULL */

/* True for [A-Za-z0-9_-]{1,64}. */
bool px_keys_valid_name(const char *name);

/* Append {"keys":[{"name":...,"value":...},...]} (values in full, as
 * Cloudflare shows them) to out. */
int px_keys_json(struct px_keys *k, struct px_buf *out);

/*
 * Create the key name with a fresh random value, or give an existing one
 * a new value (rotation). *created tells which. PX_ELIMIT (code
 * "too_many_keys") past PX_KEYS_LIMIT, PX_EBUSY ("keys_pinned") when
 * pinned, PX_EIO when the file cannot be written (nothing changed).
 */
int px_keys_put(struct px_keys *k, const char *name, bool *created,
		struct px_errbuf *eb);

/* Remove a key; removing the last one creates a new "default" key, as
 * Cloudflare does. PX_ENOTFOUND ("key_not_found"), PX_EBUSY, PX_EIO. */
int px_keys_del(struct px_keys *k, const char *name, struct px_errbuf *eb);

/* px_sign_url with the first current key (the one `pictor sign` uses):
 * "path?exp=E&sig=S" into out. PX_ENOTFOUND without keys, PX_ETOOBIG. */
int px_keys_sign(struct px_keys *k, const char *path, int64_t exp, char *out,
		 size_t nout);

/* px_sign_verify against every current key (see delivery/sign.h). */
int px_keys_verify(struct px_keys *k, const char *path, const char *exp,
		   const char *sig, int64_t now, int64_t *exp_out,
		   struct px_errbuf *eb);

#endif
