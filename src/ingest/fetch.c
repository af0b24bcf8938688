/*
 * fetch.c - upload from a URL with libcurl, pinned to checked addresses
 * (see fetch.h for the steps and why each is there).
 */
#include "ingest/fetch.h"
#include "ingest/url.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <pthread.h>
#include <sys/socket.h>

struct px_fetcher {
	struct px_cidr allow[PX_FETCH_RANGES_MAX], deny[PX_FETCH_RANGES_MAX];
	int nallow, ndeny;
	long timeout_s;
	size_t max_bytes;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int px_fetcher_new(const struct px_fetch_opts *o, struct px_fetcher **out,
		   struct px_errbuf *eb)
{
	struct px_fetcher *f = calloc(1, sizeof(*f));
	int rc;

	*out = NULL;
	if (!f)
		return PX_ENOMEM;
	if ((rc = px_cidr_list_parse(o->allow_csv, f->allow, PX_FETCH_RANGES_MAX,
				     &f->nallow, eb)) ||
	    (rc = px_cidr_list_parse(o->deny_csv, f->deny, PX_FETCH_RANGES_MAX,
				     &f->ndeny, eb))) {
		free(f);
		return rc;
	}
	f->timeout_s = o->timeout_s > 0 ? o->timeout_s : 20;
	f->max_bytes = o->max_bytes;
	pthread_once(&curl_once, curl_init);
	*out = f;
	return 0;
}

void px_fetcher_free(struct px_fetcher *f)
{
	free(f);
}

const char *px_fetcher_check(const struct px_fetcher *f, const struct px_ip *ip0)
{
	struct px_ip ip = *ip0;

	/* An address that carries IPv4 is judged as that IPv4 address, so an
	 * IPv6 range in --fetch-allow never lets ::ffff:127.0.0.1 through. */
	px_ip_unmap(&ip);
	if (px_cidr_list_contains(f->deny, f->ndeny, &ip))
		return "denied";
	if (px_cidr_list_contains(f->allow, f->nallow, &ip))
		return NULL;
	return px_ip_classify(&ip);
}

static bool same_ip(const struct px_ip *a0, const struct px_ip *b0)
{
	struct px_ip a = *a0, b = *b0;

	px_ip_unmap(&a);
	px_ip_unmap(&b);
	return a.family == b.family &&
	       !memcmp(a.b, b.b, a.family == 4 ? 4 : 16);
}

static bool from_sockaddr(const struct sockaddr *sa, struct px_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (sa->sa_family == AF_INET) {
		ip->family = 4;
		memcpy(ip->b, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		ip->family = 6;
		memcpy(ip->b, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return true;
	}
	return false;
}

/* The one hop in flight: what curl may connect to and what it got. */
struct hop {
	const struct px_fetcher *f;
	struct px_ip pinned;
	bool blocked;    /* the socket callback refused an address */
	bool too_big;
	struct px_buf *body;
	size_t start;    /* body length before this hop */
};

/* Every connection curl opens passes here: only the pinned, checked
 * address gets a socket. */
static curl_socket_t open_socket(void *ctx, curlsocktype purpose,
				 struct curl_sockaddr *a)
{
	struct hop *h = ctx;
	struct px_ip ip;

	if (purpose != CURLSOCKTYPE_IPCXN || !from_sockaddr(&a->addr, &ip) ||
	    !same_ip(&ip, &h->pinned) || px_fetcher_check(h->f, &ip)) {
		h->blocked = true;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype, a->protocol);
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct hop *h = ctx;
	size_t len = size * n;

	if (h->body->len - h->start + len > h->f->max_bytes) {
		h->too_big = true;
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	}
	return px_buf_add(h->body, p, len) ? 0 : len;
}

/* Resolve u's host once and check every address; the first goes to
 * *pinned. */
static int resolve(const struct px_fetcher *f, const struct px_url *u,
		   struct px_ip *pinned, struct px_errbuf *eb)
{
	struct addrinfo hints, *res = NULL, *ai;
	const char *why;
	char text[PX_IP_TEXT_MAX];
	int n = 0, rc = 0;

	if (u->host_is_ip) {
		*pinned = u->ip;
		if ((why = px_fetcher_check(f, pinned)))
			return px_errc(eb, PX_EINVAL, "url_not_allowed",
				       "url not allowed (%s): %s is not a public address",
				       why, u->host);
		return 0;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(u->host, NULL, &hints, &res) || !res)
		return px_errc(eb, PX_EIO, "fetch_failed",
			       "fetch failed: cannot resolve \"%s\"", u->host);
	for (ai = res; ai; ai = ai->ai_next) {
		struct px_ip ip;

		if (!from_sockaddr(ai->ai_addr, &ip))
			continue;
		if ((why = px_fetcher_check(f, &ip))) {
			px_ip_format(&ip, text, sizeof(text));
			rc = px_errc(eb, PX_EINVAL, "url_not_allowed",
				     "url not allowed (%s): \"%s\" resolves to %s",
				     why, u->host, text);
			break;
		}
		if (!n++)
			*pinned = ip;
	}
	freeaddrinfo(res);
	if (!rc && !n)
		rc = px_errc(eb, PX_EIO, "fetch_failed",
			     "fetch failed: no address for \"%s\"", u->host);
	return rc;
}

/* One request: u pinned to its checked address. *status gets the HTTP
 * status; a redirect's target lands in next (empty when none). */
static int one_hop(struct px_fetcher *f, const struct px_url *u,
		   int64_t deadline_us, struct px_buf *body, long *status,
		   char *next, size_t nnext, struct px_errbuf *eb)
{
	struct hop h = {.f = f, .body = body, .start = body->len};
	struct curl_slist *pin = NULL;
	char text[PX_IP_TEXT_MAX], entry[600];
	int64_t left_ms = (deadline_us - px_mono_us()) / 1000;
	const char *loc = NULL;
	CURLcode cc;
	CURL *c = NULL;
	int rc;

	*status = 0;
	next[0] = '\0';
	if (left_ms <= 0)
		return px_errc(eb, PX_EIO, "fetch_failed", "fetch failed: timed out");
	if ((rc = resolve(f, u, &h.pinned, eb)))
		return rc;
	if (!(c = curl_easy_init()))
		return px_errf(eb, PX_ENOMEM, "cannot start libcurl");
	if (!u->host_is_ip) {
		px_ip_format(&h.pinned, text, sizeof(text));
		snprintf(entry, sizeof(entry), "%s:%d:%s%s%s", u->host, u->port,
			 h.pinned.family == 6 ? "[" : "", text,
			 h.pinned.family == 6 ? "]" : "");
		if (!(pin = curl_slist_append(NULL, entry))) {
			rc = PX_ENOMEM;
			goto out;
		}
		curl_easy_setopt(c, CURLOPT_RESOLVE, pin);
	}
	curl_easy_setopt(c, CURLOPT_URL, u->canonical);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)left_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)PX_MIN(left_ms, 5000));
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)f->max_bytes);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &h);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "Pictor (upload from URL)");
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, NULL);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (h.blocked) {
		rc = px_errc(eb, PX_EINVAL, "url_not_allowed",
			     "url not allowed (pinned): a connection to an unchecked address was refused");
	} else if (h.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		rc = px_errc(eb, PX_ETOOBIG, "payload_too_large",
			     "the image at the URL is over the limit of %zu bytes",
			     f->max_bytes);
	} else if (cc == CURLE_OPERATION_TIMEDOUT) {
		rc = px_errc(eb, PX_EIO, "fetch_failed", "fetch failed: timed out");
	} else if (cc != CURLE_OK) {
		rc = px_errc(eb, PX_EIO, "fetch_failed", "fetch failed: %s",
			     curl_easy_strerror(cc));
	} else if (*status >= 300 && *status < 400 &&
		   curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK &&
		   loc) {
		px_strlcpy(next, loc, nnext);
		body->len = h.start; /* a redirect's body is not the image */
	}
out:
	curl_slist_free_all(pin);
	curl_easy_cleanup(c);
	return rc;
}

int px_fetch(struct px_fetcher *f, const char *url, struct px_buf *body,
	     char filename[128], struct px_errbuf *eb)
{
	int64_t deadline = px_mono_us() + (int64_t)f->timeout_s * 1000000;
	char *cur = strdup(url), *next = malloc(PX_URL_MAX + 1);
	struct px_url *u = malloc(sizeof(*u));
	long status = 0;
	int rc = PX_ENOMEM;

	filename[0] = '\0';
	if (!cur || !next || !u)
		goto out;
	for (int hop = 0;; hop++) {
		if ((rc = px_url_parse(cur, u, eb)))
			goto out;
		if ((rc = one_hop(f, u, deadline, body, &status, next,
				  PX_URL_MAX + 1, eb)))
			goto out;
		if (!next[0])
			break;
		if (hop == PX_FETCH_REDIRECTS) {
			rc = px_errc(eb, PX_EIO, "fetch_failed",
				     "fetch failed: more than %d redirects",
				     PX_FETCH_REDIRECTS);
			goto out;
		}
		free(cur);
		if (!(cur = strdup(next))) {
			rc = PX_ENOMEM;
			goto out;
		}
	}
	if (status < 200 || status > 299) {
		rc = px_errc(eb, PX_EIO, "fetch_failed",
			     "fetch failed: the server answered %ld", status);
		goto out;
	}
	px_strlcpy(filename, u->filename, 128);
	rc = 0;
out:
	free(cur);
	free(next);
	free(u);
	return rc;
}
