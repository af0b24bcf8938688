/*
 * webhook.c - the outbox sender: one thread, libcurl, exponential backoff.
 */
#include "moderation/webhook.h"
#include "core/crypto.h"
#include "core/log.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <time.h>

#define BATCH 32

struct px_webhook {
	struct px_kv *kv;
	char *url, *secret;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping, kicked;
	CURL *curl;
};

struct item {
	char key[96];
	char *value;
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
	curl_easy_setopt(w->curl, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(w->curl, CURLOPT_CONNECTTIMEOUT, 5L);
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

struct batch {
	struct item items[BATCH];
	int n;
};

static int collect(void *arg, const void *key, size_t nkey, const void *val,
		   size_t nval)
{
	struct batch *b = arg;
	struct item *it;

	if (b->n == BATCH)
		return 1;
	if (nkey >= sizeof(it->key))
		return 0;
	it = &b->items[b->n];
	memcpy(it->key, key, nkey);
	it->key[nkey] = '\0';
	it->value = strndup(val, nval);
	if (it->value)
		b->n++;
	return 0;
}

/* Write (or delete, when value is NULL) one key in its own transaction. */
static void store(struct px_kv *kv, const char *del_key, const char *put_key,
		  const char *value)
{
	struct px_kv_txn *txn;
	struct px_errbuf eb = {0};

	if (px_kv_begin(kv, 0, &txn, &eb))
		return;
	if (del_key)
		px_kv_dels(txn, del_key, &eb);
	if (put_key && value)
		px_kv_puts(txn, put_key, value, strlen(value), 0, &eb);
	if (px_kv_commit(txn, &eb))
		px_logf(PX_LOG_WARN, "webhook outbox: %s", eb.msg);
}

/* Try every due event once; returns µs until the next one is due. */
static int64_t drain(struct px_webhook *w)
{
	struct batch b = {.n = 0};
	struct px_kv_txn *txn;
	int64_t now = px_wall_us(), wait = 60 * 1000000LL;

	if (px_kv_begin(w->kv, PX_KV_RDONLY, &txn, NULL))
		return 1000000;
	px_kv_scan(txn, "outbox/", 7, NULL, 0, 0, collect, &b, NULL);
	px_kv_abort(txn);
	for (int i = 0; i < b.n; i++) {
		json_t *o = json_loads(b.items[i].value, 0, NULL);
		json_int_t attempts = json_integer_value(json_object_get(o, "attempts"));
		json_int_t next_at = json_integer_value(json_object_get(o, "next_at"));
		char *body = json_dumps(json_object_get(o, "body"), JSON_COMPACT);
		long status;

		if (!o || !body) {
			store(w->kv, b.items[i].key, NULL, NULL);
		} else if (next_at > now) {
			wait = PX_MIN(wait, next_at - now);
		} else if ((status = post(w, body)) >= 200 && status < 300) {
			store(w->kv, b.items[i].key, NULL, NULL);
		} else {
			int64_t backoff = (int64_t)2000000 << PX_MIN(attempts, 11);
			char *text, key[128];

			backoff = PX_MIN(backoff, 3600 * 1000000LL);
			attempts++;
			json_object_set_new(o, "attempts", json_integer(attempts));
			json_object_set_new(o, "next_at", json_integer(now + backoff));
			json_object_set_new(o, "last_status", json_integer(status));
			text = json_dumps(o, JSON_COMPACT);
			px_logf(PX_LOG_WARN, "webhook attempt %lld failed with status %ld",
				(long long)attempts, status);
			if (attempts >= PX_WEBHOOK_MAX_ATTEMPTS) {
				snprintf(key, sizeof(key), "deadletter/%s",
					 b.items[i].key + 7);
				store(w->kv, b.items[i].key, key, text);
			} else {
				store(w->kv, NULL, b.items[i].key, text);
				wait = PX_MIN(wait, backoff);
			}
			free(text);
		}
		free(body);
		json_decref(o);
		free(b.items[i].value);
	}
	return b.n == BATCH ? 0 : wait;
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

int px_webhook_start(struct px_kv *kv, const char *url, const char *secret,
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
	w->kv = kv;
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

const char *px_webhook_curl_version(void)
{
	return curl_version();
}
