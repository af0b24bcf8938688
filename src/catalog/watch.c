/*
 * watch.c - the catalog's messages to other nodes, and their delivery to
 * this node's watchers (watch.h).
 *
 * A message is text: "<node> <kind> [<arg>...]", fields separated by one
 * space (ids, digests and variant names hold no spaces). The catalog
 * writes them with px_watch_announce_in() inside the write transaction of
 * the change; the store delivers them to every node's listener in commit
 * order.
 *
 * The node's record cache (recache.h) lives by the same messages: the
 * key a message names ("img/<id>" for image, "var/<name>" for variant)
 * is forgotten when another node's message arrives, and when this
 * node's own change has committed (an after-commit callback registered
 * with the message); heartbeats keep it answering, a lost stream
 * empties it.
 */
#include "catalog/internal.h"
#include "catalog/lease.h"
#include "catalog/recache.h"
#include "catalog/watch.h"
#include "core/log.h"
#include "core/metrics.h"

#include <pthread.h>
#include <stdarg.h>

#define WATCHERS_MAX 8

struct watcher {
	px_change_fn fn;
	void *ctx;
};

/* One per process: a catalog's store listens once, and a process runs
 * one catalog with watchers (the daemon's). */
static struct {
	pthread_mutex_t lock;
	struct px_catalog *cat; /* NULL once unwatched: the store's thread
				   may outlive the catalog */
	bool listening;
	char node[96]; /* the catalog's node id, to skip our own messages */
	struct watcher w[WATCHERS_MAX];
	int n;
} watch = {PTHREAD_MUTEX_INITIALIZER, NULL, false, "", {{0}}, 0};

/* The record-cache key a change names into key; false for none. */
static bool change_key(const struct px_change *ch, char *key, size_t n)
{
	if (ch->kind == PX_CHANGE_IMAGE)
		return snprintf(key, n, "img/%s", ch->id) < (int)n;
	if (ch->kind == PX_CHANGE_VARIANT)
		return snprintf(key, n, "var/%s", ch->variant) < (int)n;
	return false;
}

static void forget_after(void *ctx, const char *key)
{
	px_recache_forget(ctx, key);
}

/* This node's message msg, about to be sent in txn: the key it names
 * leaves the record cache once txn has committed. */
static int forget_own(struct px_catalog *c, struct px_kv_txn *txn,
		      const char *msg, struct px_errbuf *eb)
{
	struct px_recache *rc = px_catalog_recache(c);
	char copy[PX_KV_NOTIFY_MAX + 1], key[PX_KV_NOTIFY_MAX + 8];
	struct px_change ch;
	const char *node;

	if (!rc)
		return 0;
	px_strlcpy(copy, msg, sizeof(copy));
	if (px_change_parse(copy, &node, &ch) ||
	    !change_key(&ch, key, sizeof(key)))
		return 0;
	return px_kv_after_commit(txn, forget_after, rc, key, eb);
}

int px_watch_announce_in(struct px_catalog *c, struct px_kv_txn *txn,
			 struct px_errbuf *eb, const char *fmt, ...)
{
	char msg[PX_KV_NOTIFY_MAX + 1];
	va_list ap;
	int n, rc;

	if (!px_kv_shared(px_catalog_kv(c)))
		return 0;
	n = snprintf(msg, sizeof(msg), "%s ", px_catalog_node(c));
	va_start(ap, fmt);
	n += vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(msg))
		return px_errf(eb, PX_ETOOBIG, "message too long");
	if ((rc = forget_own(c, txn, msg, eb)))
		return rc;
	return px_kv_notify(txn, msg, eb);
}

/* The next space-separated field of *p, or NULL. */
static char *field(char **p)
{
	char *s = *p, *e;

	if (!s || !*s)
		return NULL;
	e = strchr(s, ' ');
	if (e) {
		*e = '\0';
		*p = e + 1;
	} else {
		*p = s + strlen(s);
	}
	return *s ? s : NULL;
}

static bool is_sha(const char *s)
{
	return s && strlen(s) == PX_SHA256_HEX_LEN &&
	       strspn(s, "0123456789abcdef") == PX_SHA256_HEX_LEN;
}

int px_change_parse(char *payload, const char **node, struct px_change *out)
{
	char *p = payload, *kind, *a, *b;

	memset(out, 0, sizeof(*out));
	*node = field(&p);
	kind = field(&p);
	if (!*node || !kind)
		return PX_EINVAL;
	a = field(&p);
	b = field(&p);
	if (field(&p))
		return PX_EINVAL; /* more than this build knows */
	if (!strcmp(kind, "image") && a && px_catalog_valid_id(a) &&
	    is_sha(b)) {
		out->kind = PX_CHANGE_IMAGE;
		out->id = a;
		out->sha256 = b;
	} else if (!strcmp(kind, "variant") && a && !b) {
		out->kind = PX_CHANGE_VARIANT;
		out->variant = a;
	} else if (!strcmp(kind, "purge") && a && !strcmp(a, "sha") &&
		   is_sha(b)) {
		out->kind = PX_CHANGE_PURGE;
		out->sha256 = b;
	} else if (!strcmp(kind, "purge") && a && !strcmp(a, "variant") && b) {
		out->kind = PX_CHANGE_PURGE;
		out->variant = b;
	} else if (!strcmp(kind, "purge") && a && !strcmp(a, "all") && !b) {
		out->kind = PX_CHANGE_PURGE;
		out->everything = true;
	} else if (!strcmp(kind, "outbox") && !a) {
		out->kind = PX_CHANGE_OUTBOX;
	} else if (!strcmp(kind, "job") && !a) {
		out->kind = PX_CHANGE_JOB;
	} else {
		return PX_EINVAL;
	}
	return 0;
}

void px_catalog_unwatch(struct px_catalog *c)
{
	pthread_mutex_lock(&watch.lock);
	if (c && watch.cat == c) {
		watch.n = 0;
		watch.cat = NULL;
	}
	pthread_mutex_unlock(&watch.lock);
}

/*
 * The store's listener thread. Watchers are called under the lock, so
 * px_catalog_unwatch() waits for a call under way and none comes after.
 */
static void on_message(void *ctx, const char *payload)
{
	struct px_change ch;
	const char *node = NULL;
	char *copy = NULL, key[PX_KV_NOTIFY_MAX + 8];
	struct px_recache *rc;
	bool ok = true;

	(void)ctx;
	memset(&ch, 0, sizeof(ch));
	if (payload && !*payload) {
		/* a heartbeat: the stream is current */
		pthread_mutex_lock(&watch.lock);
		if (watch.cat && (rc = px_catalog_recache(watch.cat)))
			px_recache_heartbeat(rc, px_mono_us());
		pthread_mutex_unlock(&watch.lock);
		return;
	}
	if (!payload) {
		ch.kind = PX_CHANGE_LOST;
		px_logf(PX_LOG_WARN, "messages from other nodes may have been "
			"missed: node-local caches are dropped");
	} else if (!(copy = strdup(payload))) {
		return;
	} else if (px_change_parse(copy, &node, &ch)) {
		px_logf(PX_LOG_WARN, "ignored a message from another node: "
			"\"%.80s\"", payload);
		ok = false;
	}
	pthread_mutex_lock(&watch.lock);
	/* the record cache hears this node's messages too: its own changes
	 * were forgotten at commit already, once more does no harm */
	if (ok && watch.cat && (rc = px_catalog_recache(watch.cat))) {
		if (ch.kind == PX_CHANGE_LOST)
			px_recache_lost(rc);
		else if (change_key(&ch, key, sizeof(key)))
			px_recache_forget(rc, key);
	}
	if (ok && watch.cat && (!node || strcmp(node, watch.node)))
		for (int i = 0; i < watch.n; i++)
			watch.w[i].fn(watch.w[i].ctx, &ch);
	pthread_mutex_unlock(&watch.lock);
	free(copy);
}

int px_catalog_watch(struct px_catalog *c, px_change_fn fn, void *ctx,
		     struct px_errbuf *eb)
{
	int rc = 0;

	if (!px_kv_shared(px_catalog_kv(c)))
		return 0;
	pthread_mutex_lock(&watch.lock);
	if ((watch.cat && watch.cat != c) || (!watch.cat && watch.listening)) {
		rc = px_errf(eb, PX_EINVAL, "another catalog is watched");
		goto out;
	}
	if (watch.n == WATCHERS_MAX) {
		rc = px_errf(eb, PX_ETOOBIG, "too many watchers");
		goto out;
	}
	watch.w[watch.n].fn = fn;
	watch.w[watch.n].ctx = ctx;
	watch.n++;
	if (!watch.cat) {
		px_strlcpy(watch.node, px_catalog_node(c), sizeof(watch.node));
		watch.cat = c;
		if ((rc = px_kv_listen(px_catalog_kv(c), on_message, NULL,
				       eb))) {
			watch.n--;
			watch.cat = NULL;
			goto out;
		}
		watch.listening = true;
	}
out:
	pthread_mutex_unlock(&watch.lock);
	return rc;
}

/*
 * The purge log: every announced purge is also kept, numbered, under
 * plog/<16 hex seq> ("purge sha <hex>", "purge variant <name>", "purge
 * all"), the last number in plogseq; the oldest entries beyond
 * PLOG_KEEP are removed as new ones come. A node that was down replays
 * what it missed from the number it saw last (px_catalog_purge_log).
 */
#define PLOG_KEEP 1000

static void plog_key(char *k, size_t n, uint64_t seq)
{
	snprintf(k, n, "plog/%016llx", (unsigned long long)seq);
}

static int plog_seq(struct px_kv_txn *txn, uint64_t *seq,
		    struct px_errbuf *eb)
{
	struct px_buf b;
	int rc;

	*seq = 0;
	px_buf_init(&b, 32);
	rc = px_kv_gets(txn, "plogseq", &b, eb);
	if (rc == PX_ENOTFOUND) {
		rc = 0;
	} else if (!rc) {
		char num[24];

		snprintf(num, sizeof(num), "%.*s", (int)b.len, (char *)b.data);
		*seq = strtoull(num, NULL, 10);
	}
	px_buf_release(&b);
	return rc;
}

/* Announce one purge and log it as number ++*seq. */
static int purge_one(struct px_catalog *c, struct px_kv_txn *txn,
		     uint64_t *seq, struct px_errbuf *eb, const char *what,
		     const char *arg)
{
	char msg[PX_KV_NOTIFY_MAX + 1], key[32];
	int rc;

	snprintf(msg, sizeof(msg), "purge %s%s%s", what, arg ? " " : "",
		 arg ? arg : "");
	if ((rc = px_watch_announce_in(c, txn, eb, "%s", msg)))
		return rc;
	plog_key(key, sizeof(key), ++*seq);
	if ((rc = px_kv_puts(txn, key, msg, strlen(msg), 0, eb)))
		return rc;
	if (*seq <= PLOG_KEEP)
		return 0;
	plog_key(key, sizeof(key), *seq - PLOG_KEEP);
	rc = px_kv_dels(txn, key, eb);
	return rc == PX_ENOTFOUND ? 0 : rc;
}

int px_catalog_purge_announce(struct px_catalog *c, const char *const *sha256,
			      size_t nsha, const char *const *variants,
			      size_t nvar, bool everything,
			      struct px_errbuf *eb)
{
	struct px_kv_txn *txn;
	char num[24];
	uint64_t seq;
	int rc = 0;

	if (!px_kv_shared(px_catalog_kv(c)))
		return 0;
	if ((rc = px_kv_begin(px_catalog_kv(c), 0, &txn, eb)))
		return rc;
	if ((rc = plog_seq(txn, &seq, eb)))
		goto out;
	if (everything)
		rc = purge_one(c, txn, &seq, eb, "all", NULL);
	for (size_t i = 0; i < nsha && !rc; i++)
		rc = purge_one(c, txn, &seq, eb, "sha", sha256[i]);
	for (size_t i = 0; i < nvar && !rc; i++)
		rc = purge_one(c, txn, &seq, eb, "variant", variants[i]);
	if (rc)
		goto out;
	snprintf(num, sizeof(num), "%llu", (unsigned long long)seq);
	if ((rc = px_kv_puts(txn, "plogseq", num, strlen(num), 0, eb)))
		goto out;
	return px_kv_commit(txn, eb);
out:
	px_kv_abort(txn);
	return rc;
}

struct replay {
	px_change_fn fn;
	void *ctx;
};

static int replay_one(void *arg, const void *key, size_t nkey,
		      const void *val, size_t nval)
{
	struct replay *r = arg;
	char text[PX_KV_NOTIFY_MAX + 8];
	struct px_change ch;
	const char *node;

	(void)key;
	(void)nkey;
	if (nval > PX_KV_NOTIFY_MAX)
		return 0;
	snprintf(text, sizeof(text), "log %.*s", (int)nval, (const char *)val);
	if (r->fn && px_change_parse(text, &node, &ch) == 0 &&
	    ch.kind == PX_CHANGE_PURGE)
		r->fn(r->ctx, &ch);
	return 0;
}

int px_catalog_purge_log(struct px_catalog *c, uint64_t after,
			 px_change_fn fn, void *ctx, uint64_t *last,
			 struct px_errbuf *eb)
{
	struct replay r = {fn, ctx};
	struct px_kv_txn *txn;
	char start[32];
	int rc;

	*last = 0;
	if (!px_kv_shared(px_catalog_kv(c)))
		return 0;
	if ((rc = px_kv_begin(px_catalog_kv(c), PX_KV_RDONLY, &txn, eb)))
		return rc;
	if ((rc = plog_seq(txn, last, eb)))
		goto out;
	if (after > *last || (*last > PLOG_KEEP && after < *last - PLOG_KEEP)) {
		/* from another installation, or older than the log keeps */
		rc = PX_ENOTFOUND;
		goto out;
	}
	plog_key(start, sizeof(start), after + 1);
	rc = px_kv_scan(txn, "plog/", 5, start, strlen(start), 0, replay_one,
			&r, eb);
out:
	px_kv_abort(txn);
	return rc < 0 ? rc : 0;
}

int px_catalog_cached_get(struct px_catalog *c, const char *key,
			  bool cache_absent, struct px_buf *out,
			  struct px_errbuf *eb)
{
	struct px_recache *rc = px_catalog_recache(c);
	struct px_recache_ticket t;
	struct px_kv_txn *txn;
	bool absent;
	int r;

	/* the ticket is taken before the read: an invalidation that comes
	 * while the read is under way keeps its result out */
	if (rc && px_recache_get(rc, key, px_mono_us(), out, &absent, &t))
		return absent ? PX_ENOTFOUND : 0;
	if ((r = px_kv_begin(px_catalog_kv(c), PX_KV_RDONLY, &txn, eb)))
		return r;
	r = px_kv_gets(txn, key, out, eb);
	px_kv_abort(txn);
	if (rc && (r == 0 || (r == PX_ENOTFOUND && cache_absent)))
		px_recache_put(rc, key, r ? NULL : out->data, r ? 0 : out->len,
			       &t, px_mono_us());
	return r;
}

static double stat_of(struct px_catalog *c, int which)
{
	struct px_recache_stats st;

	px_recache_stats(px_catalog_recache(c), &st);
	switch (which) {
	case 0: return (double)st.hits;
	case 1: return (double)st.misses;
	case 2: return (double)st.bypassed;
	case 3: return (double)st.invalidations;
	case 4: return (double)st.evictions;
	case 5: return (double)st.entries;
	default: return (double)st.bytes;
	}
}

static double m_hits(void *c) { return stat_of(c, 0); }
static double m_misses(void *c) { return stat_of(c, 1); }
static double m_bypassed(void *c) { return stat_of(c, 2); }
static double m_invalidations(void *c) { return stat_of(c, 3); }
static double m_evictions(void *c) { return stat_of(c, 4); }
static double m_entries(void *c) { return stat_of(c, 5); }
static double m_bytes(void *c) { return stat_of(c, 6); }
static double m_live(void *c)
{
	return px_recache_live(px_catalog_recache(c), px_mono_us());
}

int px_catalog_record_cache(struct px_catalog *c, size_t max_bytes,
			    struct px_metrics *metrics, struct px_errbuf *eb)
{
	struct px_recache *rc = NULL;
	int r;

	if (!px_kv_shared(px_catalog_kv(c)) || !max_bytes)
		return 0;
	if ((r = px_recache_new(max_bytes, 0, &rc)))
		return px_errf(eb, r, "cannot make the record cache");
	/* not live until the listener's next heartbeat */
	pthread_mutex_lock(&watch.lock);
	px_catalog_set_recache(c, rc);
	pthread_mutex_unlock(&watch.lock);
	if (!metrics)
		return 0;
	px_metrics_counter_fn(metrics, "pictor_record_cache_hits_total",
			      "records and variants answered from this node's "
			      "record cache", m_hits, c);
	px_metrics_counter_fn(metrics, "pictor_record_cache_misses_total",
			      "record cache lookups read from the store",
			      m_misses, c);
	px_metrics_counter_fn(metrics, "pictor_record_cache_bypassed_total",
			      "lookups read from the store because the change "
			      "stream was not current", m_bypassed, c);
	px_metrics_counter_fn(metrics,
			      "pictor_record_cache_invalidations_total",
			      "keys forgotten on a change, and drops of "
			      "everything", m_invalidations, c);
	px_metrics_counter_fn(metrics, "pictor_record_cache_evictions_total",
			      "entries dropped for room", m_evictions, c);
	px_metrics_gauge_fn(metrics, "pictor_record_cache_entries",
			    "entries in the record cache", m_entries, c);
	px_metrics_gauge_fn(metrics, "pictor_record_cache_bytes",
			    "bytes held by the record cache", m_bytes, c);
	px_metrics_gauge_fn(metrics, "pictor_record_cache_live",
			    "1 while the change stream is current and the "
			    "record cache answers", m_live, c);
	return 0;
}

bool px_catalog_shared(struct px_catalog *c)
{
	return px_kv_shared(px_catalog_kv(c));
}
