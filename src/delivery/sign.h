/*
 * sign.h - Cloudflare's signed-URL scheme.
 *
 * A URL is signed as "?exp=UNIX&sig=HEX" where sig is the lowercase hex
 * HMAC-SHA256(key, path + "?exp=" + exp). Several keys may verify at once
 * so keys can be rotated; comparisons run in constant time.
 */
#ifndef PX_SIGN_H
#define PX_SIGN_H

#include "core/common.h"

/* Write "path?exp=E&sig=S" into out. PX_ETOOBIG if it does not fit. */
int px_sign_url(const char *key, const char *path, int64_t exp, char *out,
		size_t nout);

/*
 * Check a signature. exp and sig are the raw query values (either may be
 * NULL). Returns 0 when valid, else PX_EINVAL with eb->code set to
 * "signature_required", "invalid_signature" or "expired".
 * *exp_out receives the expiry on success.
 */
int px_sign_verify(char *const *keys, int nkeys, const char *path,
		   const char *exp, const char *sig, int64_t now,
		   int64_t *exp_out, struct px_errbuf *eb);

#endif
