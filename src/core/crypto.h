/*
 * crypto.h - hashing, MACs and randomness, wrapping OpenSSL's libcrypto.
 *
 * This file pair is the only place that includes OpenSSL headers.
 */
#ifndef PX_CRYPTO_H
#define PX_CRYPTO_H

#include "core/common.h"

/* Incremental SHA-256; the context is opaque and heap-allocated. */
struct px_sha256;
struct px_sha256 *px_sha256_new(void); /* NULL on allocation failure */
void px_sha256_update(struct px_sha256 *h, const void *p, size_t n);
/* Write 64 lowercase hex digits and a NUL into hex, then free h. */
void px_sha256_final_hex(struct px_sha256 *h, char hex[PX_SHA256_HEX_LEN + 1]);
void px_sha256_free(struct px_sha256 *h); /* accepts NULL */

/* One-shot SHA-256 as lowercase hex. */
int px_sha256_hex(const void *p, size_t n, char hex[PX_SHA256_HEX_LEN + 1]);

/* HMAC-SHA256(key, msg) as 64 lowercase hex digits. */
int px_hmac_sha256_hex(const void *key, size_t nkey, const void *msg,
		       size_t nmsg, char hex[PX_SHA256_HEX_LEN + 1]);

/* HMAC-SHA256(key, msg) as 32 raw bytes into out (for chained MACs such
 * as a SigV4 signing key). PX_EINTERNAL if libcrypto fails. */
int px_hmac_sha256(const void *key, size_t nkey, const void *msg, size_t nmsg,
		   unsigned char out[32]);

/* Compare n bytes in time independent of where they differ. */
bool px_ct_equal(const void *a, const void *b, size_t n);

/* Compare two C strings; time depends only on their lengths. */
bool px_ct_streq(const char *a, const char *b);

/* Fill p with n cryptographically strong random bytes. */
int px_random(void *p, size_t n);

/* n random bytes as 2n lowercase hex digits plus NUL into out. */
int px_random_hex(char *out, size_t n);

/*
 * An estimate of the bits of entropy of a secret typed by a person or a
 * script: its length times log2 of the alphabet its character classes
 * span (lowercase 26, uppercase 26, digits 10, other printable ASCII
 * 33, other bytes 128). A string of fewer than 8 distinct characters,
 * or one whose most frequent character is more than a quarter of it,
 * counts as its distinct characters only. 32 random hex digits give
 * 128; "password" 38; "aaaa...a" almost nothing.
 */
double px_secret_bits(const char *s);

/* A UUIDv7 (RFC 9562) from the current time, 36 chars plus NUL.
 * Monotonic within the process even when the clock stands still. */
int px_uuid7(char out[37]);

/* OpenSSL's version text, e.g. "OpenSSL 3.0.11 19 Sep 2023". */
const char *px_crypto_version(void);

#endif
