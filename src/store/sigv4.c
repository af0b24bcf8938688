/*
 * sigv4.c - AWS Signature Version 4 (see sigv4.h), over core/crypto.
 *
 * The canonical request is
 *
 *     METHOD \n URI \n QUERY \n HEADERS \n SIGNED-HEADERS \n PAYLOAD-HASH
 *
 * where URI is the path encoded once (S3 rules), QUERY the encoded
 * name=value pairs sorted by name then value, HEADERS one
 * "lowercase-name:trimmed value\n" line per distinct name in byte order
 * (repeated names joined with ',' in the order given, runs of spaces in a
 * value collapsed to one) and SIGNED-HEADERS those names joined with ';'.
 */
#include "store/sigv4.h"

#include "core/crypto.h"

#include <ctype.h>
#include <time.h>

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

int px_sigv4_uri_encode(struct px_buf *out, const char *s, size_t n,
			bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		unsigned char c = (unsigned char)s[i];

		if (unreserved(c) || (keep_slash && c == '/')) {
			rc = px_buf_add(out, &c, 1);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};

			rc = px_buf_add(out, e, 3);
		}
	}
	return rc;
}

/* A header or parameter after encoding, ready to sort. */
struct item {
	char *name;
	char *value;
	size_t order; /* position given, so equal names keep their order */
};

static int cmp_header(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int cmp_param(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

static void free_items(struct item *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(a[i].name);
		free(a[i].value);
	}
}

static bool token_char(unsigned char c)
{
	return c > 32 && c < 127 && !strchr("()<>@,;:\\\"/[]?={}", c);
}

/* Lowercase copy of a header name; NULL if empty or not an HTTP token. */
static char *header_name(const char *s)
{
	size_t n = strlen(s);
	char *z;

	if (n == 0)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!token_char((unsigned char)s[i]))
			return NULL;
	z = malloc(n + 1);
	if (!z)
		return NULL;
	for (size_t i = 0; i <= n; i++)
		z[i] = (char)tolower((unsigned char)s[i]);
	return z;
}

/* Value trimmed at both ends, inner runs of spaces and tabs made one
 * space. An empty string for NULL. */
static char *header_value(const char *s)
{
	size_t n = s ? strlen(s) : 0, j = 0;
	char *z = malloc(n + 1);
	bool space = false;

	if (!z)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == ' ' || c == '\t') {
			space = j > 0;
			continue;
		}
		if (space)
			z[j++] = ' ';
		space = false;
		z[j++] = c;
	}
	z[j] = '\0';
	return z;
}

static char *encoded(const char *s, bool keep_slash)
{
	struct px_buf b;
	char nul = '\0';

	px_buf_init(&b, 0);
	if (px_sigv4_uri_encode(&b, s ? s : "", s ? strlen(s) : 0,
				keep_slash) ||
	    px_buf_add(&b, &nul, 1)) {
		px_buf_release(&b);
		return NULL;
	}
	return (char *)px_buf_detach(&b, NULL);
}

/* Append "a;b;c" (the signed headers) from sorted items. */
static int add_signed_names(struct px_buf *out, const struct item *h,
			    size_t n)
{
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		if (i > 0 && strcmp(h[i].name, h[i - 1].name) == 0)
			continue;
		if (i > 0)
			rc = px_buf_adds(out, ";");
		if (rc == 0)
			rc = px_buf_adds(out, h[i].name);
	}
	return rc;
}

/* Sort and encode r's headers into h (n of them); caller frees. */
static int prepare_headers(const struct px_sigv4_request *r, struct item *h,
			   struct px_errbuf *eb)
{
	for (size_t i = 0; i < r->nheaders; i++) {
		h[i].order = i;
		h[i].name = header_name(r->headers[i].name);
		if (!h[i].name)
			return px_errf(eb, PX_EINVAL,
				       "bad header name \"%.64s\" to sign",
				       r->headers[i].name);
		if (r->headers[i].value &&
		    strpbrk(r->headers[i].value, "\r\n"))
			return px_errf(eb, PX_EINVAL,
				       "line break in header \"%.64s\"",
				       r->headers[i].name);
		h[i].value = header_value(r->headers[i].value);
		if (!h[i].value)
			return PX_ENOMEM;
	}
	qsort(h, r->nheaders, sizeof(*h), cmp_header);
	return 0;
}

static int canonical(const struct px_sigv4_request *r, struct px_buf *out,
		     struct px_buf *signed_names, struct px_errbuf *eb)
{
	struct item h[PX_SIGV4_MAX_HEADERS] = {{0}};
	struct item q[PX_SIGV4_MAX_PARAMS] = {{0}};
	const char *path = r->path && *r->path ? r->path : "/";
	int rc;

	if (r->nheaders > PX_SIGV4_MAX_HEADERS ||
	    r->nquery > PX_SIGV4_MAX_PARAMS)
		return px_errf(eb, PX_EINVAL, "too many headers or parameters "
					      "to sign");
	rc = prepare_headers(r, h, eb);
	for (size_t i = 0; i < r->nquery && rc == 0; i++) {
		q[i].name = encoded(r->query[i].name, false);
		q[i].value = encoded(r->query[i].value, false);
		if (!q[i].name || !q[i].value)
			rc = PX_ENOMEM;
	}
	if (rc)
		goto out;
	qsort(q, r->nquery, sizeof(*q), cmp_param);

	rc = px_buf_addf(out, "%s\n", r->method);
	if (rc == 0)
		rc = px_sigv4_uri_encode(out, path, strlen(path), true);
	if (rc == 0)
		rc = px_buf_adds(out, "\n");
	for (size_t i = 0; i < r->nquery && rc == 0; i++)
		rc = px_buf_addf(out, "%s%s=%s", i ? "&" : "", q[i].name,
				 q[i].value);
	if (rc == 0)
		rc = px_buf_adds(out, "\n");
	for (size_t i = 0; i < r->nheaders && rc == 0; i++) {
		bool same = i > 0 && strcmp(h[i].name, h[i - 1].name) == 0;
		bool last = i + 1 == r->nheaders ||
			    strcmp(h[i].name, h[i + 1].name) != 0;

		if (same)
			rc = px_buf_addf(out, ",%s", h[i].value);
		else
			rc = px_buf_addf(out, "%s:%s", h[i].name, h[i].value);
		if (rc == 0 && last)
			rc = px_buf_adds(out, "\n");
	}
	if (rc == 0)
		rc = px_buf_adds(out, "\n");
	if (rc == 0)
		rc = add_signed_names(out, h, r->nheaders);
	if (rc == 0 && signed_names)
		rc = add_signed_names(signed_names, h, r->nheaders);
	if (rc == 0)
		rc = px_buf_addf(out, "\n%s", r->payload_hash);
out:
	free_items(h, r->nheaders);
	free_items(q, r->nquery);
	return rc;
}

int px_sigv4_canonical_request(const struct px_sigv4_request *r,
			       struct px_buf *out, struct px_errbuf *eb)
{
	return canonical(r, out, NULL, eb);
}

int px_sigv4_string_to_sign(const char *amz_date, const char *region,
			    const char *service, const char *creq_hash,
			    struct px_buf *out)
{
	return px_buf_addf(out, "AWS4-HMAC-SHA256\n%s\n%.8s/%s/%s/aws4_request\n%s",
			   amz_date, amz_date, region, service, creq_hash);
}

int px_sigv4_signing_key(const char *secret, const char *date8,
			 const char *region, const char *service,
			 unsigned char key[32])
{
	struct px_buf k;
	unsigned char a[32], b[32];
	int rc;

	px_buf_init(&k, 0);
	rc = px_buf_addf(&k, "AWS4%s", secret);
	if (rc)
		goto out;
	rc = px_hmac_sha256(k.data, k.len, date8, 8, a);
	if (rc == 0)
		rc = px_hmac_sha256(a, 32, region, strlen(region), b);
	if (rc == 0)
		rc = px_hmac_sha256(b, 32, service, strlen(service), a);
	if (rc == 0)
		rc = px_hmac_sha256(a, 32, "aws4_request", 12, key);
out:
	if (k.data)
		memset(k.data, 0, k.len);
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	px_buf_release(&k);
	return rc;
}

int px_sigv4_authorization(const struct px_sigv4_request *r,
			   const struct px_sigv4_cred *c, const char *amz_date,
			   struct px_buf *out, struct px_errbuf *eb)
{
	struct px_buf creq, names, sts;
	char hash[PX_SHA256_HEX_LEN + 1], sig[PX_SHA256_HEX_LEN + 1];
	unsigned char key[32];
	int rc;

	px_buf_init(&creq, 0);
	px_buf_init(&names, 0);
	px_buf_init(&sts, 0);
	if (!amz_date || strlen(amz_date) != PX_SIGV4_DATE_LEN) {
		rc = px_errf(eb, PX_EINVAL, "bad x-amz-date \"%.32s\"",
			     amz_date ? amz_date : "");
		goto out;
	}
	rc = canonical(r, &creq, &names, eb);
	if (rc == 0)
		rc = px_sha256_hex(creq.data, creq.len, hash);
	if (rc == 0)
		rc = px_sigv4_string_to_sign(amz_date, c->region, c->service,
					     hash, &sts);
	if (rc == 0)
		rc = px_sigv4_signing_key(c->secret_key, amz_date, c->region,
					  c->service, key);
	if (rc == 0)
		rc = px_hmac_sha256_hex(key, sizeof(key), sts.data, sts.len,
					sig);
	if (rc == 0)
		rc = px_buf_addf(out,
				 "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/"
				 "aws4_request, SignedHeaders=%.*s, "
				 "Signature=%s",
				 c->access_key, amz_date, c->region,
				 c->service, (int)names.len,
				 (const char *)names.data, sig);
	memset(key, 0, sizeof(key));
out:
	px_buf_release(&creq);
	px_buf_release(&names);
	px_buf_release(&sts);
	return rc;
}

int px_sigv4_sign_s3(const char *method, const char *path,
		     const struct px_sigv4_pair *query, size_t nquery,
		     const struct px_sigv4_pair *headers, size_t nheaders,
		     const char *payload_hash, const struct px_sigv4_cred *c,
		     const char *amz_date, struct px_buf *out,
		     struct px_errbuf *eb)
{
	struct px_sigv4_pair h[PX_SIGV4_MAX_HEADERS];
	struct px_sigv4_request r = {
		.method = method,
		.path = path,
		.query = query,
		.nquery = nquery,
		.headers = h,
		.payload_hash = payload_hash,
	};
	size_t n = 0;
	int rc;

	if (nheaders + 3 > PX_SIGV4_MAX_HEADERS)
		return px_errf(eb, PX_EINVAL, "too many headers to sign");
	for (size_t i = 0; i < nheaders; i++)
		h[n++] = headers[i];
	h[n++] = (struct px_sigv4_pair){"x-amz-content-sha256", payload_hash};
	h[n++] = (struct px_sigv4_pair){"x-amz-date", amz_date};
	if (c->session_token && *c->session_token)
		h[n++] = (struct px_sigv4_pair){"x-amz-security-token",
						c->session_token};
	r.nheaders = n;
	rc = 0;
	for (size_t i = nheaders; i < n && rc == 0; i++)
		rc = px_buf_addf(out, "%s: %s\n", h[i].name, h[i].value);
	if (rc == 0)
		rc = px_buf_adds(out, "authorization: ");
	if (rc == 0)
		rc = px_sigv4_authorization(&r, c, amz_date, out, eb);
	if (rc == 0)
		rc = px_buf_adds(out, "\n");
	return rc;
}

void px_sigv4_date(int64_t t, char out[PX_SIGV4_DATE_LEN + 1])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, PX_SIGV4_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm);
}
