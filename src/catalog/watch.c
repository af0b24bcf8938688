/*
 * watch.c - the catalog's messages to other nodes, and their delivery to
 * this node's watchers (watch.h).
 *
 * A message is text: "<node> <kind> [<arg>...]", fields separated by one
 * space (ids, digests and variant names hold no spaces). The catalog
 * writes them with px_watch_announce_in() inside the write transaction of
 * the change; the store delivers them to every node's listener in commit
 * order.
 */
#include "catalog/internal.h"
#include "catalog/lease.h"
#include "catalog/watch.h"
#include "core/log.h"

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

int px_watch_announce_in(struct px_catalog *c, struct px_kv_txn *txn,
			 struct px_errbuf *eb, const char *fmt, ...)
{
	char msg[PX_KV_NOTIFY_MAX + 1];
	va_list ap;
	int n;

	if (!px_kv_shared(px_catalog_kv(c)))
		return 0;
	n = snprintf(msg, sizeof(msg), "%s ", px_catalog_node(c));
	va_start(ap, fmt);
	n += vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(msg))
		return px_errf(eb, PX_ETOOBIG, "message too long");
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
	char *copy = NULL;
	bool ok = true;

	(void)ctx;
	memset(&ch, 0, sizeof(ch));
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

int px_catalog_purge_announce(struct px_catalog *c, const char *const *sha256,
			      size_t nsha, const char *const *variants,
			      size_t nvar, bool everything,
			      struct px_errbuf *eb)
{
	struct px_kv_txn *txn;
	int rc = 0;

	if (!px_kv_shared(px_catalog_kv(c)))
		return 0;
	if ((rc = px_kv_begin(px_catalog_kv(c), 0, &txn, eb)))
		return rc;
	if (everything)
		rc = px_watch_announce_in(c, txn, eb, "purge all");
	for (size_t i = 0; i < nsha && !rc; i++)
		rc = px_watch_announce_in(c, txn, eb, "purge sha %s", sha256[i]);
	for (size_t i = 0; i < nvar && !rc; i++)
		rc = px_watch_announce_in(c, txn, eb, "purge variant %s",
					  variants[i]);
	if (rc) {
		px_kv_abort(txn);
		return rc;
	}
	return px_kv_commit(txn, eb);
}
