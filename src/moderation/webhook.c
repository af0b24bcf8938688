/*
 * webhook.c - the outbox sender: one thread, libcurl, exponential backoff.
 *
 * The outbox belongs to the catalog; this thread reads it and settles
 * each event through the catalog's operations, never the kv store.
 */
#include "moderation/webhook.h"
#include "catalog/lease.h"
#include "core/crypto.h"
#include "core/log.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

struct px_webhook {
	struct px_catalog *cat;
	atomic_ullong delivered, failures;
	long timeout;
	int max_attempts;
	char *url, *secret;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping, kicked;
	CURL *curl;
};


int px_webhook_wrap(const char *body, struct px_buf *out)
{
	json_t *b = json_loads(body, 0, NULL);
	json_t *o;
	char *text;
	int rc;

	if (!b)
		return PX_EINVAL;
	o = json_pack("{s:i,s:I,s:o}", "attempts", 0, "next_at", (json_int_t)0,
		      "body", b);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!text)
		return PX_ENOMEM;
	rc = px_buf_adds(out, text);
	free(text);
	return rc;
}

int px_webhook_signature(const char *secret, long long ts, const char *body,
			 size_t nbody, char *out, size_t nout)
{
	char hex[PX_SHA256_HEX_LEN + 1], prefix[32];
	struct px_buf msg;
	int rc;

	px_buf_init(&msg, 0);
	snprintf(prefix, sizeof(prefix), "%lld.", ts);
	px_buf_adds(&msg, prefix);
	px_buf_add(&msg, body, nbody);
	rc = px_hmac_sha256_hex(secret, strlen(secret), msg.data, msg.len, hex);
	px_buf_release(&msg);
	if (!rc && (size_t)snprintf(out, nout, "sha256=%s", hex) >= nout)
		rc = PX_ETOOBIG;
	return rc;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	return size * n;
}

/* POST body; returns the HTTP status, or 0 on a transport error. */
static long post(struct px_webhook *w, const char *body)
{
	char sig[128], h1[64], h2[160];
	struct curl_slist *hdrs = NULL;
	long long ts = (long long)time(NULL);
	long status = 0;

	px_webhook_signature(w->secret, ts, body, strlen(body), sig, sizeof(sig));
	snprintf(h1, sizeof(h1), "X-Pictor-Timestamp: %lld", ts);
	snprintf(h2, sizeof(h2), "X-Pictor-Signature: %s", sig);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, h1);
	hdrs = curl_slist_append(hdrs, h2);
	curl_easy_reset(w->curl);
	curl_easy_setopt(w->curl, CURLOPT_URL, w->url);
	curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(w->curl, CURLOPT_TIMEOUT, w->timeout);
	curl_easy_setopt(w->curl, CURLOPT_CONNECTTIMEOUT, PX_MIN(w->timeout, 5L));
	curl_easy_setopt(w->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(w->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(w->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(w->curl, CURLOPT_USERAGENT, "pictor-webhook");
	if (curl_easy_perform(w->curl) == CURLE_OK)
		curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	return status;
}

/*
 * One pass over the outbox in commit order. An event is held back while
 * an earlier event about the same image is still undelivered (failed or
 * not yet due): receivers then see each image's events in commit order,
 * and a failing event delays only its own image. Returns µs until the
 * next event is due (the sender sleeps that long unless kicked).
 */
#define HELD_MAX 4096
#define SLACK_US 500000
#define SETTLE_MAX 256 /* attempts per pass, settled in one write */
#define CLAIM_RETRY_US 1000000 /* look again at events another node holds */

struct pass {
	struct px_webhook *w;
	char (*held)[PX_ID_MAX + 1];
	int nheld;
	int64_t wait;
	bool posted;
	struct px_outbox_result *res; /* settled together after the pass */
	int nres;
};

static bool is_held(const struct pass *p, const char *image)
{
	for (int i = 0; i < p->nheld; i++)
		if (!strcmp(p->held[i], image))
			return true;
	return false;
}

static void hold(struct pass *p, const char *image)
{
	if (image[0] && p->nheld < HELD_MAX && !is_held(p, image))
		px_strlcpy(p->held[p->nheld++], image, sizeof(p->held[0]));
}

static int64_t backoff_us(int attempts)
{
	int64_t b = (int64_t)2000000 << PX_MIN(attempts - 1, 11);

	return PX_MIN(b, 3600 * 1000000LL);
}

static int try_one(void *arg, const struct px_outbox_event *ev)
{
	struct pass *p = arg;
	struct px_webhook *w = p->w;
	struct px_outbox_result *r;
	int64_t now = px_wall_us();
	long status;
	int attempts;

	if (ev->image[0] && is_held(p, ev->image))
		return 0;
	if (ev->next_at_us > now || !ev->body) {
		p->wait = PX_MIN(p->wait, ev->next_at_us - now);
		hold(p, ev->image);
		return 0;
	}
	/* Claimed first (lease.h): with several nodes on one store, one
	 * node posts an event at a time; another node's claim holds the
	 * event's image back here until it is settled or expires. */
	switch (px_catalog_outbox_claim(w->cat, ev->seq, NULL)) {
	case 0:
		break;
	case PX_ENOTFOUND: /* settled by another node meanwhile */
		return 0;
	default:
		p->wait = PX_MIN(p->wait, CLAIM_RETRY_US);
		hold(p, ev->image);
		return 0;
	}
	status = post(w, ev->body);
	r = &p->res[p->nres++];
	memset(r, 0, sizeof(*r));
	r->seq = ev->seq;
	if (status >= 200 && status < 300) {
		p->posted = true;
		r->delivered = true;
		atomic_fetch_add(&w->delivered, 1);
		return p->nres == SETTLE_MAX;
	}
	/* The backoff runs from the end of the attempt: a receiver that
	 * hangs until the timeout still gets its pause. */
	attempts = ev->attempts + 1;
	now = px_wall_us();
	atomic_fetch_add(&w->failures, 1);
	px_logf(PX_LOG_WARN, "webhook %s attempt %d failed with status %ld",
		ev->id, attempts, status);
	r->attempts = attempts;
	r->next_at_us = now + backoff_us(attempts);
	r->status = status;
	r->dead = attempts >= w->max_attempts;
	if (!r->dead) {
		p->wait = PX_MIN(p->wait, backoff_us(attempts));
		hold(p, ev->image);
	} else {
		p->posted = true; /* its image's later events are free now */
	}
	return p->nres == SETTLE_MAX;
}

static int64_t drain(struct px_webhook *w)
{
	struct pass p = {w, NULL, 0, 60 * 1000000LL, false, NULL, 0};
	struct px_errbuf eb = {0};

	p.held = malloc(sizeof(*p.held) * HELD_MAX);
	p.res = malloc(sizeof(*p.res) * SETTLE_MAX);
	if (!p.held || !p.res) {
		free(p.held);
		free(p.res);
		return 1000000;
	}
	if (px_catalog_outbox_scan(w->cat, px_wall_us(), 100000, try_one, &p,
				   &eb)) {
		px_logf(PX_LOG_WARN, "webhook outbox: %s", eb.msg);
		p.wait = 1000000;
	}
	if (px_catalog_outbox_settle(w->cat, p.res, p.nres, &eb))
		px_logf(PX_LOG_WARN, "webhook outbox: %s", eb.msg);
	if (p.nres == SETTLE_MAX)
		p.posted = true; /* stopped early: go on at once */
	free(p.held);
	free(p.res);
	/* Deliveries may have released later events of their images (a
	 * failure releases nothing, so it needs no second pass). A
	 * short slack lets events due close together share one pass: an
	 * attempt may come a little after its time, never before. */
	return p.posted ? 0 : p.wait + SLACK_US;
}

static void *sender(void *arg)
{
	struct px_webhook *w = arg;

	pthread_mutex_lock(&w->lock);
	while (!w->stopping) {
		int64_t wait;
		struct timespec until;

		w->kicked = false;
		pthread_mutex_unlock(&w->lock);
		wait = drain(w);
		pthread_mutex_lock(&w->lock);
		if (w->stopping || w->kicked || wait == 0)
			continue;
		/* Asleep until the next event is due or a new one is queued:
		 * no work while waiting, however many events fail. */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += wait / 1000000;
		until.tv_nsec += (wait % 1000000) * 1000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&w->wake, &w->lock, &until);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int px_webhook_start(struct px_catalog *cat, const char *url,
		     const char *secret, long timeout, int max_attempts,
		     struct px_webhook **out, struct px_errbuf *eb)
{
	struct px_webhook *w;

	*out = NULL;
	pthread_once(&curl_once, curl_init_once);
	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
		return px_errf(eb, PX_EINVAL, "webhook url \"%s\" must be http or https",
			       url);
	if (!secret || !*secret)
		return px_errf(eb, PX_EINVAL, "webhooks need a secret");
	w = calloc(1, sizeof(*w));
	if (!w)
		return PX_ENOMEM;
	w->cat = cat;
	w->timeout = timeout > 0 ? timeout : 10;
	w->max_attempts = max_attempts > 0 ? max_attempts : PX_WEBHOOK_MAX_ATTEMPTS;
	w->url = strdup(url);
	w->secret = strdup(secret);
	w->curl = curl_easy_init();
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	if (!w->url || !w->secret || !w->curl ||
	    pthread_create(&w->thread, NULL, sender, w)) {
		curl_easy_cleanup(w->curl);
		free(w->url);
		free(w->secret);
		free(w);
		return px_errf(eb, PX_EINTERNAL, "cannot start the webhook sender");
	}
	*out = w;
	return 0;
}

void px_webhook_kick(struct px_webhook *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->kicked = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

void px_webhook_stop(struct px_webhook *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	curl_easy_cleanup(w->curl);
	free(w->url);
	free(w->secret);
	free(w);
}

void px_webhook_counts(struct px_webhook *w, uint64_t *delivered,
		       uint64_t *failures)
{
	*delivered = w ? atomic_load(&w->delivered) : 0;
	*failures = w ? atomic_load(&w->failures) : 0;
}

const char *px_webhook_curl_version(void)
{
	return curl_version();
}
