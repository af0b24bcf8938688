/*
 * blob_s3.c - the blob backend on an S3 API object store (AWS S3, R2,
 * Ceph RGW, MinIO), over libcurl. The only file that includes curl.h in
 * store/.
 *
 * Keys mirror the data directory: "[PREFIX/]blobs/ab/cd/<sha256>", so a
 * directory tree copied with any S3 tool is already a valid store. Every
 * request is signed with SigV4 (sigv4.c) and always carries
 * x-amz-content-sha256.
 *
 *   put   PUT with If-None-Match: * (create-only); 412 means the same
 *         bytes are already there, which is success for content-addressed
 *         names. A store that ignores the condition overwrites with
 *         identical bytes: also fine.
 *   get   GET, then the length is checked against Content-Length and the
 *         SHA-256 against the name: a mismatch is PX_ECORRUPT, never data.
 *   del   HEAD then DELETE (S3's DELETE answers 204 for absent keys, the
 *         ops contract wants PX_ENOTFOUND).
 *   stat  HEAD.
 *   health HEAD on the bucket.
 *   list  ListObjectsV2 over "[PREFIX/]blobs/", page by page (s3list.c
 *         reads the XML); keys that are not a blob's are passed over.
 *   recover nothing to do: an S3 PUT is atomic.
 *
 * Each operation has a deadline (REQUEST_BUDGET_MS; HEALTH_BUDGET_MS for
 * the readiness probe) that covers every
 * attempt and every wait; each attempt has a connect timeout and the
 * rest of the budget as its own. 5xx, 429 and network errors are retried
 * a bounded number of times with full jitter backoff. Easy handles are
 * kept on a free list so their connections are reused across requests;
 * it holds more handles than there are worker threads, so each worker
 * finds a warm connection.
 *
 * Credentials are given to px_blob_open_s3() (the settings) or, for any
 * field not given, come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
 * and the optional AWS_SESSION_TOKEN, read once at open.
 */
#include "store/blob.h"

#include "core/crypto.h"
#include "store/s3list.h"
#include "store/s3loc.h"
#include "store/sigv4.h"

#include <curl/curl.h>
#include <pthread.h>
#include <time.h>

#define NIDLE 64		/* easy handles kept for reuse (>= workers) */
#define ATTEMPTS 4		/* tries per request */
#define BACKOFF_MS 50		/* first retry waits up to this */
#define BACKOFF_MAX_MS 1000	/* no single wait is longer */
#define CONNECT_TIMEOUT_MS 3000
#define REQUEST_BUDGET_MS 30000	/* one operation, all attempts included */
#define HEALTH_BUDGET_MS 5000	/* a readiness probe answers sooner */
#define MIN_ATTEMPT_MS 200	/* not worth starting an attempt with less */
#define MAX_BLOB (1u << 30)	/* a GET never buffers more than this */
#define MAX_LISTING (16u << 20)	/* one ListObjectsV2 page */

struct s3_store {
	struct px_blob_store base;
	struct px_s3loc loc;
	char host[320]; /* Host header value */
	char *access_key, *secret_key, *session_token;
	pthread_mutex_t lock; /* guards idle[] */
	CURL *idle[NIDLE];
	unsigned nidle;
};

/* One request and what came back. */
struct s3_req {
	const char *method;
	const char *key; /* NULL for the bucket */
	const struct px_sigv4_pair *query; /* sorted by name */
	size_t nquery;
	const void *body;
	size_t nbody;
	bool create_only;
	int budget_ms; /* 0: REQUEST_BUDGET_MS */
	/* results */
	long status;
	struct px_buf *out; /* GET body, or NULL */
	curl_off_t length;  /* Content-Length, -1 if none */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static char *dup_env(const char *name)
{
	const char *z = getenv(name);

	return z && *z ? strdup(z) : NULL;
}

static CURL *handle_get(struct s3_store *s)
{
	CURL *c = NULL;

	pthread_mutex_lock(&s->lock);
	if (s->nidle > 0)
		c = s->idle[--s->nidle];
	pthread_mutex_unlock(&s->lock);
	return c ? c : curl_easy_init();
}

static void handle_put(struct s3_store *s, CURL *c)
{
	curl_easy_reset(c); /* keeps the connection cache */
	pthread_mutex_lock(&s->lock);
	if (s->nidle < NIDLE) {
		s->idle[s->nidle++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	if (c)
		curl_easy_cleanup(c);
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct px_buf *b = ctx;

	if (px_buf_add(b, p, size * n))
		return 0; /* past the cap: curl fails the transfer */
	return size * n;
}

static size_t on_discard(char *p, size_t size, size_t n, void *ctx)
{
	return size * n;
}

/* Full jitter: a random wait in [0, min(cap, base * 2^attempt)). */
static void backoff(unsigned attempt)
{
	unsigned ceil_ms = BACKOFF_MS << attempt, r = 0;
	struct timespec ts;

	if (ceil_ms > BACKOFF_MAX_MS)
		ceil_ms = BACKOFF_MAX_MS;
	px_random(&r, sizeof(r));
	r %= ceil_ms;
	ts.tv_sec = r / 1000;
	ts.tv_nsec = (long)(r % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

static bool retryable(CURLcode cc, long status)
{
	if (cc != CURLE_OK)
		return cc != CURLE_WRITE_ERROR; /* a full buffer stays full */
	return status >= 500 || status == 429;
}

/* The signed header list for one attempt; NULL on failure. */
static struct curl_slist *sign(struct s3_store *s, struct s3_req *r,
			       const char *path, const char *payload_hash,
			       struct px_errbuf *eb)
{
	struct px_sigv4_cred cred = {s->access_key, s->secret_key,
				     s->session_token, s->loc.region, "s3"};
	struct px_sigv4_pair h[2] = {{"host", s->host}};
	size_t nh = 1;
	char date[PX_SIGV4_DATE_LEN + 1], line[400];
	struct curl_slist *list = NULL, *t;
	struct px_buf b;
	char *z, *nl;

	if (r->create_only)
		h[nh++] = (struct px_sigv4_pair){"if-none-match", "*"};
	px_sigv4_date((int64_t)time(NULL), date);
	px_buf_init(&b, 0);
	if (px_sigv4_sign_s3(r->method, path, r->query, r->nquery, h, nh,
			     payload_hash,
			     &cred, date, &b, eb) ||
	    px_buf_add(&b, "", 1))
		goto fail;
	for (size_t i = 0; i < nh; i++) {
		snprintf(line, sizeof(line), "%s: %s", h[i].name, h[i].value);
		if (!(t = curl_slist_append(list, line)))
			goto fail;
		list = t;
	}
	/* curl adds these unless told not to; S3 does not want them */
	if (!(t = curl_slist_append(list, "Expect:")))
		goto fail;
	list = t;
	if (!(t = curl_slist_append(list, "Content-Type:")))
		goto fail;
	list = t;
	for (z = (char *)b.data; *z; z = nl + 1) {
		nl = strchr(z, '\n');
		if (!nl)
			break;
		*nl = '\0';
		if (!(t = curl_slist_append(list, z)))
			goto fail;
		list = t;
	}
	px_buf_release(&b);
	return list;
fail:
	px_buf_release(&b);
	curl_slist_free_all(list);
	return NULL;
}

/*
 * Run r with retries. 0 once any HTTP answer that is not retryable came
 * back (r->status says which), PX_EIO when every attempt failed.
 */
static int perform(struct s3_store *s, struct s3_req *r, struct px_errbuf *eb)
{
	char key_path[700], url[1400], payload_hash[PX_SHA256_HEX_LEN + 1];
	struct px_buf enc, body;
	CURLcode cc = CURLE_OK;
	long status = 0;
	int64_t deadline;
	int rc;

	px_buf_init(&enc, 0);
	px_buf_init(&body, r->out && r->out->max ? r->out->max : MAX_BLOB);
	px_s3loc_path(&s->loc, r->key, key_path, sizeof(key_path));
	rc = px_sigv4_uri_encode(&enc, key_path, strlen(key_path), true);
	if (rc == 0)
		rc = px_buf_add(&enc, "", 1);
	if (rc == 0)
		rc = px_sha256_hex(r->body ? r->body : "", r->nbody,
				   payload_hash);
	if (rc)
		goto out;
	for (size_t i = 0; rc == 0 && i < r->nquery; i++) {
		enc.len--; /* over the NUL */
		rc = px_buf_adds(&enc, i ? "&" : "?");
		if (rc == 0)
			rc = px_sigv4_uri_encode(&enc, r->query[i].name,
						 strlen(r->query[i].name), false);
		if (rc == 0)
			rc = px_buf_adds(&enc, "=");
		if (rc == 0)
			rc = px_sigv4_uri_encode(&enc, r->query[i].value,
						 strlen(r->query[i].value),
						 false);
		if (rc == 0)
			rc = px_buf_add(&enc, "", 1);
	}
	if (rc)
		goto out;
	if ((size_t)snprintf(url, sizeof(url), "%s://%s%s", s->loc.scheme,
			     s->host, (char *)enc.data) >= sizeof(url)) {
		rc = px_errf(eb, PX_EINVAL, "s3 request URL too long");
		goto out;
	}

	deadline = px_mono_us() +
		   (int64_t)(r->budget_ms ? r->budget_ms : REQUEST_BUDGET_MS) * 1000;
	for (unsigned attempt = 0; attempt < ATTEMPTS; attempt++) {
		CURL *c;
		struct curl_slist *hdr;
		curl_off_t len = -1;
		int64_t left_ms;

		if (attempt > 0)
			backoff(attempt - 1);
		/* The whole operation keeps to its budget: a store that is
		 * slow rather than down still costs a bounded time. */
		left_ms = (deadline - px_mono_us()) / 1000;
		if (left_ms < MIN_ATTEMPT_MS) {
			if (attempt == 0)
				left_ms = MIN_ATTEMPT_MS;
			else
				break;
		}
		c = handle_get(s);
		if (!c) {
			rc = px_errf(eb, PX_ENOMEM, "cannot start a request");
			goto out;
		}
		hdr = sign(s, r, key_path, payload_hash, eb);
		if (!hdr) {
			handle_put(s, c);
			rc = px_errf(eb, PX_EINTERNAL, "cannot sign request");
			goto out;
		}
		px_buf_release(&body);
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
				 (long)PX_MIN(CONNECT_TIMEOUT_MS, left_ms));
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)left_ms);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
		if (strcmp(r->method, "HEAD") == 0) {
			curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
		} else if (strcmp(r->method, "PUT") == 0) {
			curl_easy_setopt(c, CURLOPT_POSTFIELDS,
					 r->body ? r->body : "");
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
					 (curl_off_t)r->nbody);
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
		} else if (strcmp(r->method, "GET") != 0) {
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
		}
		if (r->out && strcmp(r->method, "GET") == 0) {
			curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
			curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
		} else {
			curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_discard);
		}
		cc = curl_easy_perform(c);
		status = 0;
		if (cc == CURLE_OK) {
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
			curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
					  &len);
		}
		curl_slist_free_all(hdr);
		handle_put(s, c);
		r->status = status;
		r->length = len;
		if (!retryable(cc, status))
			break;
	}
	if (cc != CURLE_OK) {
		rc = px_errc(eb, cc == CURLE_WRITE_ERROR ? PX_ETOOBIG : PX_EIO,
			     cc == CURLE_WRITE_ERROR ? "blob_too_big"
						     : "blob_store_unavailable",
			     "s3 %s \"%s\": %s", r->method, url,
			     curl_easy_strerror(cc));
		goto out;
	}
	if (retryable(cc, status)) {
		rc = px_errc(eb, PX_EIO, "blob_store_unavailable",
			     "s3 %s \"%s\": HTTP %ld, retries exhausted",
			     r->method, url, status);
		goto out;
	}
	if (r->out && status == 200)
		rc = px_buf_add(r->out, body.data, body.len);
	if (rc == 0 && r->out && status == 200 && r->length >= 0 &&
	    (uint64_t)r->length != body.len)
		rc = px_errf(eb, PX_ECORRUPT, "s3 GET \"%s\": %zu bytes of %lld",
			     url, body.len, (long long)r->length);
out:
	px_buf_release(&enc);
	px_buf_release(&body);
	return rc;
}

static int unexpected(struct px_errbuf *eb, const struct s3_req *r,
		      const char *hex)
{
	return px_errc(eb, PX_EIO, "blob_store_error",
		       "s3 %s of \"%s\" answered HTTP %ld", r->method,
		       hex ? hex : "(bucket)", r->status);
}

static char *dup_cred(const char *given, const char *env)
{
	return given && *given ? strdup(given) : dup_env(env);
}

int px_blob_open_s3(const char *location, const struct px_blob_cred *cred,
		    struct px_blob_store **out, struct px_errbuf *eb)
{
	static const struct px_blob_cred none;
	struct s3_store *s = calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (!s)
		return px_errf(eb, PX_ENOMEM, "out of memory");
	s->base.ops = &px_blob_s3_ops;
	pthread_mutex_init(&s->lock, NULL);
	rc = px_s3loc_parse(location, &s->loc, eb);
	if (rc)
		goto fail;
	px_s3loc_host(&s->loc, s->host, sizeof(s->host));
	if (!cred)
		cred = &none;
	s->access_key = dup_cred(cred->access_key, "AWS_ACCESS_KEY_ID");
	s->secret_key = dup_cred(cred->secret_key, "AWS_SECRET_ACCESS_KEY");
	s->session_token = dup_cred(cred->session_token, "AWS_SESSION_TOKEN");
	if (!s->access_key || !s->secret_key) {
		rc = px_errc(eb, PX_EINVAL, "no_blob_credentials",
			     "no S3 credentials: set AWS_ACCESS_KEY_ID and "
			     "AWS_SECRET_ACCESS_KEY (or s3_access_key_id and "
			     "s3_secret_access_key in the configuration)");
		goto fail;
	}
	pthread_once(&curl_once, curl_init_once);
	*out = &s->base;
	return 0;
fail:
	s->base.ops->close(&s->base);
	return rc;
}

static int s3_open(const char *location, struct px_blob_store **out,
		   struct px_errbuf *eb)
{
	return px_blob_open_s3(location, NULL, out, eb);
}

static void wipe_free(char *z)
{
	if (z) {
		memset(z, 0, strlen(z));
		free(z);
	}
}

static void s3_close(struct px_blob_store *base)
{
	struct s3_store *s = (struct s3_store *)base;

	if (!s)
		return;
	for (unsigned i = 0; i < s->nidle; i++)
		curl_easy_cleanup(s->idle[i]);
	wipe_free(s->access_key);
	wipe_free(s->secret_key);
	wipe_free(s->session_token);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int s3_put(struct px_blob_store *base, const char *hex,
		  const void *data, size_t n, struct px_errbuf *eb)
{
	struct s3_store *s = (struct s3_store *)base;
	char key[400];
	struct s3_req r = {.method = "PUT", .key = key, .body = data,
			   .nbody = n, .create_only = true};
	int rc;

	px_s3loc_key(&s->loc, hex, key, sizeof(key));
	rc = perform(s, &r, eb);
	if (rc)
		return rc;
	/* 412: already there (content-addressed, so the same bytes) */
	if (r.status == 200 || r.status == 201 || r.status == 204 ||
	    r.status == 412)
		return 0;
	return unexpected(eb, &r, hex);
}

static int s3_get(struct px_blob_store *base, const char *hex,
		  struct px_buf *out, struct px_errbuf *eb)
{
	struct s3_store *s = (struct s3_store *)base;
	char key[400], got[PX_SHA256_HEX_LEN + 1];
	struct px_buf tmp;
	struct s3_req r = {.method = "GET", .key = key, .out = &tmp};
	int rc;

	px_buf_init(&tmp, out->max ? out->max - out->len : MAX_BLOB);
	px_s3loc_key(&s->loc, hex, key, sizeof(key));
	rc = perform(s, &r, eb);
	if (rc)
		goto out;
	if (r.status == 404) {
		rc = px_errc(eb, PX_ENOTFOUND, "blob_not_found",
			     "no blob \"%s\"", hex);
		goto out;
	}
	if (r.status != 200) {
		rc = unexpected(eb, &r, hex);
		goto out;
	}
	rc = px_sha256_hex(tmp.data ? (void *)tmp.data : "", tmp.len, got);
	if (rc == 0 && strcmp(got, hex) != 0)
		rc = px_errc(eb, PX_ECORRUPT, "blob_corrupt",
			     "blob \"%s\" read back with SHA-256 %s", hex,
			     got);
	if (rc == 0)
		rc = px_buf_add(out, tmp.data, tmp.len);
out:
	px_buf_release(&tmp);
	return rc;
}

static int s3_stat(struct px_blob_store *base, const char *hex,
		   uint64_t *size, struct px_errbuf *eb)
{
	struct s3_store *s = (struct s3_store *)base;
	char key[400];
	struct s3_req r = {.method = "HEAD", .key = key};
	int rc;

	px_s3loc_key(&s->loc, hex, key, sizeof(key));
	rc = perform(s, &r, eb);
	if (rc)
		return rc;
	if (r.status == 404)
		return px_errc(eb, PX_ENOTFOUND, "blob_not_found",
			       "no blob \"%s\"", hex);
	if (r.status != 200 || r.length < 0)
		return unexpected(eb, &r, hex);
	*size = (uint64_t)r.length;
	return 0;
}

static int s3_del(struct px_blob_store *base, const char *hex,
		  struct px_errbuf *eb)
{
	struct s3_store *s = (struct s3_store *)base;
	char key[400];
	struct s3_req r = {.method = "DELETE", .key = key};
	uint64_t size;
	int rc;

	rc = s3_stat(base, hex, &size, eb);
	if (rc)
		return rc;
	px_s3loc_key(&s->loc, hex, key, sizeof(key));
	rc = perform(s, &r, eb);
	if (rc)
		return rc;
	if (r.status == 204 || r.status == 200 || r.status == 404)
		return 0;
	return unexpected(eb, &r, hex);
}

struct list_ctx {
	const struct px_s3loc *loc;
	px_blob_list_fn fn;
	void *ctx;
	int stop; /* fn's nonzero answer */
};

/* A key is a blob's only if it is exactly where put() writes that name. */
static int list_key(void *arg, const char *key)
{
	struct list_ctx *lc = arg;
	const char *hex = strrchr(key, '/');
	char want[400];

	if (!hex || !px_blob_valid_name(++hex))
		return 0;
	px_s3loc_key(lc->loc, hex, want, sizeof(want));
	if (strcmp(want, key) != 0)
		return 0;
	lc->stop = lc->fn(lc->ctx, hex);
	return lc->stop ? 1 : 0;
}

static int s3_list(struct px_blob_store *base, px_blob_list_fn fn, void *ctx,
		   struct px_errbuf *eb)
{
	struct s3_store *s = (struct s3_store *)base;
	struct list_ctx lc = {&s->loc, fn, ctx, 0};
	struct px_s3list_page page;
	char prefix[320], token[PX_S3LIST_TOKEN_MAX + 1] = "";
	struct px_buf body;
	int rc = 0;

	snprintf(prefix, sizeof(prefix), "%s%sblobs/", s->loc.prefix,
		 s->loc.prefix[0] ? "/" : "");
	px_buf_init(&body, MAX_LISTING);
	do {
		/* sorted by name, as SigV4's canonical query wants */
		struct px_sigv4_pair q[3] = {{"continuation-token", token},
					     {"list-type", "2"},
					     {"prefix", prefix}};
		struct s3_req r = {.method = "GET", .key = NULL,
				   .query = token[0] ? q : q + 1,
				   .nquery = token[0] ? 3 : 2, .out = &body};

		px_buf_release(&body);
		px_buf_init(&body, MAX_LISTING);
		if ((rc = perform(s, &r, eb)))
			break;
		if (r.status != 200) {
			rc = unexpected(eb, &r, NULL);
			break;
		}
		rc = px_s3list_parse(body.data ? (const char *)body.data : "",
				     body.len, list_key, &lc, &page, eb);
		if (rc || lc.stop)
			break;
		snprintf(token, sizeof(token), "%s", page.next);
	} while (page.truncated);
	px_buf_release(&body);
	return lc.stop ? 0 : rc;
}

static int s3_recover(struct px_blob_store *base, unsigned *n,
		      struct px_errbuf *eb)
{
	*n = 0; /* an S3 PUT is atomic: no partial writes to clean */
	return 0;
}

static int s3_health(struct px_blob_store *base, struct px_errbuf *eb)
{
	struct s3_store *s = (struct s3_store *)base;
	struct s3_req r = {.method = "HEAD", .key = NULL,
			   .budget_ms = HEALTH_BUDGET_MS};
	int rc;

	rc = perform(s, &r, eb);
	if (rc)
		return rc;
	if (r.status != 200)
		return px_errc(eb, PX_EIO, "blob_store_error",
			       "s3 bucket \"%s\" answered HTTP %ld",
			       s->loc.bucket, r.status);
	return 0;
}

const struct px_blob_ops px_blob_s3_ops = {
	.name = "s3",
	.open = s3_open,
	.close = s3_close,
	.put = s3_put,
	.get = s3_get,
	.del = s3_del,
	.stat = s3_stat,
	.list = s3_list,
	.recover = s3_recover,
	.health = s3_health,
};
