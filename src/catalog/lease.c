/*
 * lease.c - claims on background work and their renewal (lease.h).
 *
 * The claims this node holds are listed in memory; a renewal thread,
 * started with the first claim, rewrites their expiries every third of
 * the lease length in one write transaction, and drops from the list any
 * claim it finds gone or another node's (a stall longer than the lease
 * let someone take the work over: completion will then be refused).
 */
#include "catalog/internal.h"
#include "catalog/brief.h"
#include "catalog/lease.h"
#include "core/crypto.h"
#include "core/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#define KEY_MAX (PX_ID_MAX + 16)

struct px_leases {
	struct px_kv *kv;
	bool on;
	int64_t ttl_us;
	char node[96];
	pthread_mutex_t lock; /* guards keys, nkeys, started, stopping */
	pthread_cond_t wake;
	char (*keys)[KEY_MAX];
	size_t nkeys, cap;
	bool started, stopping;
	pthread_t thread;
	atomic_ullong claimed, taken_over, busy, lost;
};

int px_leases_new(struct px_kv *kv, struct px_leases **out)
{
	struct px_leases *l = calloc(1, sizeof(*l));
	char host[64] = "", rnd[9];

	*out = NULL;
	if (!l)
		return PX_ENOMEM;
	l->kv = kv;
	l->on = px_kv_shared(kv);
	l->ttl_us = PX_LEASE_DEFAULT_US;
	if (gethostname(host, sizeof(host) - 1) || !host[0])
		px_strlcpy(host, "node", sizeof(host));
	for (char *p = host; *p; p++)
		if (*p == ' ')
			*p = '_';
	if (px_random_hex(rnd, (sizeof(rnd) - 1) / 2))
		px_strlcpy(rnd, "0", sizeof(rnd));
	snprintf(l->node, sizeof(l->node), "%s-%ld-%s", host, (long)getpid(),
		 rnd);
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->wake, NULL);
	*out = l;
	return 0;
}

void px_leases_free(struct px_leases *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	l->stopping = true;
	pthread_cond_signal(&l->wake);
	pthread_mutex_unlock(&l->lock);
	if (l->started)
		pthread_join(l->thread, NULL);
	pthread_cond_destroy(&l->wake);
	pthread_mutex_destroy(&l->lock);
	free(l->keys);
	free(l);
}

void px_lease_job_key(char *k, size_t n, const char *id)
{
	snprintf(k, n, "lease/job/%s", id);
}

void px_lease_outbox_key(char *k, size_t n, uint64_t seq)
{
	snprintf(k, n, "lease/outbox/%016llx", (unsigned long long)seq);
}

/* A claim's value: node id and expiry. false when malformed. */
static bool parse(const struct px_buf *b, char *node, size_t nnode,
		  int64_t *expiry)
{
	const char *sp = b->len ? memchr(b->data, ' ', b->len) : NULL;
	size_t n;
	char num[24];

	if (!sp)
		return false;
	n = (size_t)(sp - (const char *)b->data);
	if (n == 0 || n >= nnode || b->len - n - 1 >= sizeof(num))
		return false;
	memcpy(node, b->data, n);
	node[n] = '\0';
	memcpy(num, sp + 1, b->len - n - 1);
	num[b->len - n - 1] = '\0';
	*expiry = strtoll(num, NULL, 10);
	return true;
}

static int write_claim(struct px_leases *l, struct px_kv_txn *txn,
		       const char *key, struct px_errbuf *eb)
{
	char val[160];

	snprintf(val, sizeof(val), "%s %lld", l->node,
		 (long long)(px_wall_us() + l->ttl_us));
	return px_kv_puts(txn, key, val, strlen(val), 0, eb);
}

/* Whose claim key is in txn: 1 this node's, 0 absent, -1 another's
 * (unexpired when *live). */
static int holder(struct px_leases *l, struct px_kv_txn *txn, const char *key,
		  bool *live, struct px_errbuf *eb, int *rc)
{
	char node[96];
	int64_t expiry = 0;
	struct px_buf b;
	int who = 0;

	*live = false;
	px_buf_init(&b, 64);
	*rc = px_kv_gets(txn, key, &b, eb);
	if (*rc == PX_ENOTFOUND) {
		*rc = 0;
	} else if (!*rc) {
		if (!parse(&b, node, sizeof(node), &expiry)) {
			who = -1; /* unreadable: treat as expired */
		} else if (!strcmp(node, l->node)) {
			who = 1;
			*live = true;
		} else {
			who = -1;
			*live = expiry > px_wall_us();
		}
	}
	px_buf_release(&b);
	return who;
}

static void *renewer(void *arg);

/* Note key as held (and start the renewal thread with the first). */
static void remember(struct px_leases *l, const char *key)
{
	pthread_mutex_lock(&l->lock);
	for (size_t i = 0; i < l->nkeys; i++)
		if (!strcmp(l->keys[i], key))
			goto out;
	if (l->nkeys == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		void *p = realloc(l->keys, cap * sizeof(*l->keys));

		if (!p)
			goto out; /* unrenewed: it expires, someone redoes it */
		l->keys = p;
		l->cap = cap;
	}
	px_strlcpy(l->keys[l->nkeys++], key, KEY_MAX);
	if (!l->started && !l->stopping &&
	    pthread_create(&l->thread, NULL, renewer, l) == 0)
		l->started = true;
out:
	pthread_mutex_unlock(&l->lock);
}

void px_lease_forget(struct px_leases *l, const char *key)
{
	if (!l || !l->on)
		return;
	pthread_mutex_lock(&l->lock);
	for (size_t i = 0; i < l->nkeys; i++)
		if (!strcmp(l->keys[i], key)) {
			memmove(l->keys[i], l->keys[l->nkeys - 1], KEY_MAX);
			l->nkeys--;
			break;
		}
	pthread_mutex_unlock(&l->lock);
}

bool px_lease_held(struct px_leases *l, const char *key)
{
	bool yes = false;

	pthread_mutex_lock(&l->lock);
	for (size_t i = 0; i < l->nkeys && !yes; i++)
		yes = !strcmp(l->keys[i], key);
	pthread_mutex_unlock(&l->lock);
	return yes;
}

int px_lease_check_in(struct px_leases *l, struct px_kv_txn *txn,
		      const char *key, struct px_errbuf *eb)
{
	bool live;
	int rc;

	if (!l || !l->on)
		return 0;
	if (holder(l, txn, key, &live, eb, &rc) == 1)
		return 0;
	if (rc)
		return rc;
	atomic_fetch_add(&l->lost, 1);
	px_lease_forget(l, key);
	return px_errc(eb, PX_EBUSY, "lease_lost",
		       "the claim \"%s\" is no longer this node's", key);
}

int px_lease_end_in(struct px_leases *l, struct px_kv_txn *txn,
		    const char *key, struct px_errbuf *eb)
{
	int rc;

	if (!l || !l->on)
		return 0;
	rc = px_kv_dels(txn, key, eb);
	return rc == PX_ENOTFOUND ? 0 : rc;
}

/*
 * The claim transaction: owed(txn) says whether the work still exists
 * (0, or PX_ENOTFOUND), then the claim key decides.
 */
int px_lease_claim(struct px_leases *l, const char *key,
		   int (*owed)(struct px_kv_txn *txn, const void *arg,
			       struct px_errbuf *eb),
		   const void *arg, struct px_errbuf *eb)
{
	struct px_kv_txn *txn;
	bool live, over;
	int rc, who;

	if (!l->on)
		return 0;
	if ((rc = px_kv_begin(l->kv, 0, &txn, eb)))
		return rc;
	if ((rc = owed(txn, arg, eb)))
		goto fail;
	who = holder(l, txn, key, &live, eb, &rc);
	if (rc)
		goto fail;
	if (who == -1 && live) {
		atomic_fetch_add(&l->busy, 1);
		rc = px_errc(eb, PX_EBUSY, "claimed",
			     "\"%s\" is claimed by another node", key);
		goto fail;
	}
	over = who == -1;
	if ((rc = write_claim(l, txn, key, eb)))
		goto fail;
	if ((rc = px_kv_commit(txn, eb)))
		return rc;
	atomic_fetch_add(&l->claimed, 1);
	if (over) {
		atomic_fetch_add(&l->taken_over, 1);
		px_logf(PX_LOG_INFO, "took over the expired claim \"%s\"", key);
	}
	remember(l, key);
	return 0;
fail:
	px_kv_abort(txn);
	return rc;
}

static int job_owed(struct px_kv_txn *txn, const void *arg,
		    struct px_errbuf *eb)
{
	const char *id = arg;
	struct px_image_brief br;
	char key[PX_ID_MAX + 8];
	struct px_buf b;
	int rc;

	px_buf_init(&b, 0);
	snprintf(key, sizeof(key), "img/%s", id);
	rc = px_kv_gets(txn, key, &b, eb);
	if (!rc && (px_brief_decode(b.data, b.len, &br) ||
		    strcmp(br.status, "pending")))
		rc = PX_ENOTFOUND;
	px_buf_release(&b);
	return rc;
}

static int outbox_owed(struct px_kv_txn *txn, const void *arg,
		       struct px_errbuf *eb)
{
	char key[64];
	struct px_buf b;
	int rc;

	px_buf_init(&b, 0);
	snprintf(key, sizeof(key), "outbox/%016llx",
		 (unsigned long long)*(const uint64_t *)arg);
	rc = px_kv_gets(txn, key, &b, eb);
	px_buf_release(&b);
	return rc;
}

int px_catalog_job_claim(struct px_catalog *c, const char *id,
			 struct px_errbuf *eb)
{
	char key[KEY_MAX];

	if (!px_catalog_valid_id(id))
		return PX_ENOTFOUND;
	px_lease_job_key(key, sizeof(key), id);
	return px_lease_claim(px_catalog_leases(c), key, job_owed, id, eb);
}

int px_catalog_outbox_claim(struct px_catalog *c, uint64_t seq,
			    struct px_errbuf *eb)
{
	char key[KEY_MAX];

	px_lease_outbox_key(key, sizeof(key), seq);
	return px_lease_claim(px_catalog_leases(c), key, outbox_owed, &seq, eb);
}

void px_catalog_job_release(struct px_catalog *c, const char *id)
{
	struct px_leases *l = px_catalog_leases(c);
	struct px_kv_txn *txn;
	char key[KEY_MAX];
	bool live;
	int rc;

	if (!l->on || !px_catalog_valid_id(id))
		return;
	px_lease_job_key(key, sizeof(key), id);
	if (!px_lease_held(l, key))
		return;
	px_lease_forget(l, key);
	if (px_kv_begin(l->kv, 0, &txn, NULL))
		return; /* it expires on its own */
	if (holder(l, txn, key, &live, NULL, &rc) == 1 &&
	    px_kv_dels(txn, key, NULL) == 0) {
		px_kv_commit(txn, NULL);
		return;
	}
	px_kv_abort(txn);
}

/* One renewal pass over the claims held. */
static void renew(struct px_leases *l)
{
	char (*keys)[KEY_MAX] = NULL;
	struct px_kv_txn *txn;
	struct px_errbuf eb = {0};
	size_t n;
	int rc = 0;

	pthread_mutex_lock(&l->lock);
	n = l->nkeys;
	if (n && (keys = malloc(n * sizeof(*keys))))
		memcpy(keys, l->keys, n * sizeof(*keys));
	pthread_mutex_unlock(&l->lock);
	if (!keys)
		return;
	if ((rc = px_kv_begin(l->kv, 0, &txn, &eb)))
		goto out;
	for (size_t i = 0; i < n && !rc; i++) {
		bool live;

		if (holder(l, txn, keys[i], &live, &eb, &rc) == 1) {
			rc = write_claim(l, txn, keys[i], &eb);
			keys[i][0] = '\0';
		}
	}
	if (rc)
		px_kv_abort(txn);
	else
		rc = px_kv_commit(txn, &eb);
	if (rc)
		goto out;
	/* Claims gone (completed meanwhile) or taken over: stop renewing. */
	for (size_t i = 0; i < n; i++)
		if (keys[i][0] && px_lease_held(l, keys[i])) {
			px_lease_forget(l, keys[i]);
			px_logf(PX_LOG_DEBUG, "claim \"%s\" ended elsewhere",
				keys[i]);
		}
out:
	if (rc)
		px_logf(PX_LOG_WARN, "renewing claims: %s", eb.msg);
	free(keys);
}

static void *renewer(void *arg)
{
	struct px_leases *l = arg;
	struct timespec until;

	pthread_mutex_lock(&l->lock);
	while (!l->stopping) {
		int64_t step = l->ttl_us / 3;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += step / 1000000;
		until.tv_nsec += (step % 1000000) * 1000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&l->wake, &l->lock, &until);
		if (l->stopping)
			break;
		pthread_mutex_unlock(&l->lock);
		renew(l);
		pthread_mutex_lock(&l->lock);
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

void px_catalog_lease_config(struct px_catalog *c, int on, int64_t ttl_us)
{
	struct px_leases *l = px_catalog_leases(c);

	if (on >= 0)
		l->on = on;
	l->ttl_us = ttl_us > 0 ? ttl_us : PX_LEASE_DEFAULT_US;
}

const char *px_catalog_node(struct px_catalog *c)
{
	return px_catalog_leases(c)->node;
}

void px_catalog_lease_stats(struct px_catalog *c, struct px_lease_stats *st)
{
	struct px_leases *l = px_catalog_leases(c);

	pthread_mutex_lock(&l->lock);
	st->held = l->nkeys;
	pthread_mutex_unlock(&l->lock);
	st->claimed = atomic_load(&l->claimed);
	st->taken_over = atomic_load(&l->taken_over);
	st->busy = atomic_load(&l->busy);
	st->lost = atomic_load(&l->lost);
}
