/*
 * sigv4.h - AWS Signature Version 4 for requests to an S3 API store.
 *
 * Pure functions over strings: no clock, no network, no environment, so
 * every step (canonical request, string to sign, signing key, the
 * Authorization header) is checked against AWS's published vectors in
 * tests/unit/test_sigv4.c. blob_s3.c is the only caller in the daemon.
 *
 * Paths follow S3's rules: the path is given decoded (as the object key
 * reads) and each byte other than A-Z a-z 0-9 - . _ ~ and '/' is
 * percent-encoded exactly once; S3 neither double-encodes nor normalises
 * "." and ".." segments. The same encoded path must go on the wire, so
 * px_sigv4_uri_encode() is exported for the caller building the URL.
 */
#ifndef PX_SIGV4_H
#define PX_SIGV4_H

#include "core/buf.h"

#define PX_SIGV4_MAX_HEADERS 32
#define PX_SIGV4_MAX_PARAMS 32
#define PX_SIGV4_DATE_LEN 16 /* "20150830T123600Z" */

/* A header or query parameter; all strings borrowed. Names of headers
 * are matched case-insensitively; query names and values are decoded. */
struct px_sigv4_pair {
	const char *name;
	const char *value;
};

struct px_sigv4_request {
	const char *method; /* "GET", "PUT", ... */
	const char *path;   /* decoded, starts with '/'; "" means "/" */
	const struct px_sigv4_pair *query;
	size_t nquery;
	/* Every header to sign, host and x-amz-date included. */
	const struct px_sigv4_pair *headers;
	size_t nheaders;
	const char *payload_hash; /* 64 hex digits of SHA-256(body) */
};

/* Credentials and scope; strings borrowed. session_token may be NULL. */
struct px_sigv4_cred {
	const char *access_key;
	const char *secret_key;
	const char *session_token;
	const char *region;
	const char *service; /* "s3" */
};

/* Append s[0..n) percent-encoded (uppercase hex) to out, leaving
 * unreserved bytes and, if keep_slash, '/' as they are. */
int px_sigv4_uri_encode(struct px_buf *out, const char *s, size_t n,
			bool keep_slash);

/* Append the canonical request to out. PX_EINVAL (with detail in eb) on
 * too many headers or parameters or a header name that is not a token. */
int px_sigv4_canonical_request(const struct px_sigv4_request *r,
			       struct px_buf *out, struct px_errbuf *eb);

/* Append the string to sign for a canonical request whose SHA-256 is
 * creq_hash (hex), signed at amz_date ("YYYYMMDDTHHMMSSZ"). */
int px_sigv4_string_to_sign(const char *amz_date, const char *region,
			    const char *service, const char *creq_hash,
			    struct px_buf *out);

/* Derive the signing key HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date8),
 * region), service), "aws4_request") into key; date8 is "YYYYMMDD". */
int px_sigv4_signing_key(const char *secret, const char *date8,
			 const char *region, const char *service,
			 unsigned char key[32]);

/* Append the value of the Authorization header for r to out. amz_date
 * must equal the x-amz-date header in r. */
int px_sigv4_authorization(const struct px_sigv4_request *r,
			   const struct px_sigv4_cred *c, const char *amz_date,
			   struct px_buf *out, struct px_errbuf *eb);

/*
 * Sign an S3 request: adds x-amz-content-sha256 (always), x-amz-date and,
 * with a session token, x-amz-security-token to the caller's headers
 * (which must include host and must not include those three), and appends
 * to out the headers to send, one "name: value\n" line each, the
 * Authorization line last.
 */
int px_sigv4_sign_s3(const char *method, const char *path,
		     const struct px_sigv4_pair *query, size_t nquery,
		     const struct px_sigv4_pair *headers, size_t nheaders,
		     const char *payload_hash, const struct px_sigv4_cred *c,
		     const char *amz_date, struct px_buf *out,
		     struct px_errbuf *eb);

/* Format t (seconds since the epoch, UTC) as "YYYYMMDDTHHMMSSZ". */
void px_sigv4_date(int64_t t, char out[PX_SIGV4_DATE_LEN + 1]);

#endif
