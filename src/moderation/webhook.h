/*
 * webhook.h - delivery of moderation events to the operator's URL.
 *
 * Events are written to the outbox (kv keys "outbox/...") in the same
 * transaction as the decision they report, so none is lost in a crash. A
 * sender thread POSTs each one as JSON with
 *   X-Pictor-Timestamp: <unix seconds>
 *   X-Pictor-Signature: sha256=<hex HMAC-SHA256(secret, timestamp "." body)>
 * and removes it on a 2xx answer. Failures are retried with exponential
 * backoff counted from the end of the failed attempt (2 s doubling, capped
 * at one hour); after PX_WEBHOOK_MAX_ATTEMPTS an event becomes a dead
 * letter. Events about one image go out in commit order: an undelivered
 * event holds back the later events of its image only. Between attempts
 * the thread sleeps until the next event is due or a new one is queued.
 * Uploads never wait for any of this.
 *
 * Only this module includes <curl/curl.h>.
 */
#ifndef PX_WEBHOOK_H
#define PX_WEBHOOK_H

#include "catalog/catalog.h"
#include "core/buf.h"

#define PX_WEBHOOK_MAX_ATTEMPTS 12

struct px_webhook;

/* Start the sender over cat's outbox for url (http or https) signing
 * with secret; each POST may take timeout seconds (0: 10); an event
 * becomes a dead letter after max_attempts (0: PX_WEBHOOK_MAX_ATTEMPTS). */
int px_webhook_start(struct px_catalog *cat, const char *url,
		     const char *secret, long timeout, int max_attempts,
		     struct px_webhook **out, struct px_errbuf *eb);

/* Events delivered and attempts failed since start (0 for NULL). */
void px_webhook_counts(struct px_webhook *w, uint64_t *delivered,
		       uint64_t *failures);

/* Wake the sender now (after an event was queued). Accepts NULL. */
void px_webhook_kick(struct px_webhook *w);

/* Stop the thread (the in-flight POST finishes or times out) and free.
 * Accepts NULL. */
void px_webhook_stop(struct px_webhook *w);

/* Wrap an event body (a JSON text) as an outbox value, into out. */
int px_webhook_wrap(const char *body, struct px_buf *out);

/* The signature header value for body at timestamp ts, into out. */
int px_webhook_signature(const char *secret, long long ts, const char *body,
			 size_t nbody, char *out, size_t nout);

/* libcurl's version text. */
const char *px_webhook_curl_version(void);

#endif
