/*
 * outbox.c - the webhook outbox and its dead letters.
 *
 * kv layout:  outbox/<16 hex seq>     -> pending event (JSON)
 *             deadletter/<16 hex seq> -> event that ran out of attempts
 *             outboxseq               -> the last sequence number given
 *
 * The sequence number is taken and stored in the writing transaction, and
 * kv writers are serialised, so sequence order is commit order: the scan
 * order of "outbox/" is the order receivers must apply events in. Each
 * event's body carries "seq" and "event_id" ("evt_<16 hex seq>"), which
 * stay the same across retries and a dead-letter retry, so receivers can
 * order and de-duplicate. The value around the body holds the delivery
 * state: attempts, next_at (µs), created (µs), last_status, image.
 */
#include "catalog/outbox.h"
#include "catalog/internal.h"

#include <jansson.h>

#define SEQ_KEY "outboxseq"

static int next_seq(struct px_kv_txn *txn, uint64_t *seq, struct px_errbuf *eb)
{
	struct px_buf b;
	char val[32];
	int rc;

	px_buf_init(&b, 32);
	rc = px_kv_gets(txn, SEQ_KEY, &b, eb);
	*seq = rc == 0 ? strtoull((char *)b.data, NULL, 10) + 1 : 1;
	px_buf_release(&b);
	if (rc && rc != PX_ENOTFOUND)
		return rc;
	snprintf(val, sizeof(val), "%llu", (unsigned long long)*seq);
	return px_kv_puts(txn, SEQ_KEY, val, strlen(val), 0, eb);
}

int px_outbox_put(struct px_kv_txn *txn, const char *event,
		  struct px_errbuf *eb)
{
	json_t *o = json_loads(event, 0, NULL), *body;
	char key[64], id[32], *text = NULL;
	uint64_t seq;
	int rc;

	body = json_object_get(o, "body");
	if (!json_is_object(body)) {
		json_decref(o);
		return px_errf(eb, PX_EINVAL, "outbox event without a body");
	}
	if ((rc = next_seq(txn, &seq, eb)))
		goto out;
	snprintf(id, sizeof(id), "evt_%016llx", (unsigned long long)seq);
	json_object_set_new(body, "seq", json_integer((json_int_t)seq));
	json_object_set_new(body, "event_id", json_string(id));
	json_object_set_new(o, "seq", json_integer((json_int_t)seq));
	json_object_set_new(o, "created", json_integer(px_wall_us()));
	if (json_is_string(json_object_get(body, "id")))
		json_object_set(o, "image", json_object_get(body, "id"));
	if (!(text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)))) {
		rc = PX_ENOMEM;
		goto out;
	}
	snprintf(key, sizeof(key), "outbox/%016llx", (unsigned long long)seq);
	rc = px_kv_puts(txn, key, text, strlen(text), 0, eb);
out:
	free(text);
	json_decref(o);
	return rc;
}

/* body is left NULL for an event not due before due_us (0: always). */
static int decode(const char *key, size_t nprefix, const void *val,
		  size_t nval, int64_t due_us, struct px_outbox_event *ev)
{
	json_t *o = json_loadb(val, nval, 0, NULL);
	const char *image;

	memset(ev, 0, sizeof(*ev));
	if (!json_is_object(o)) {
		json_decref(o);
		return PX_ECORRUPT;
	}
	ev->seq = strtoull(key + nprefix, NULL, 16);
	snprintf(ev->id, sizeof(ev->id), "evt_%016llx",
		 (unsigned long long)ev->seq);
	image = json_string_value(json_object_get(o, "image"));
	if (image)
		px_strlcpy(ev->image, image, sizeof(ev->image));
	ev->attempts = (int)json_integer_value(json_object_get(o, "attempts"));
	ev->next_at_us = json_integer_value(json_object_get(o, "next_at"));
	ev->created_us = json_integer_value(json_object_get(o, "created"));
	ev->last_status = (long)json_integer_value(json_object_get(o, "last_status"));
	if (due_us && ev->next_at_us > due_us) {
		json_decref(o);
		return 0;
	}
	ev->body = json_dumps(json_object_get(o, "body"),
			      JSON_COMPACT | JSON_REAL_PRECISION(6));
	json_decref(o);
	return ev->body ? 0 : PX_ENOMEM;
}

struct oscan {
	size_t nprefix;
	int64_t due_us;
	int limit, count;
	px_outbox_fn fn;
	void *ctx;
	char last[32];
};

static int oscan_one(void *arg, const void *key, size_t nkey, const void *val,
		     size_t nval)
{
	struct oscan *st = arg;
	struct px_outbox_event ev;
	char k[64];
	int rc;

	if (nkey >= sizeof(k) || nkey != st->nprefix + 16)
		return 0;
	if (st->count == st->limit)
		return 1;
	memcpy(k, key, nkey);
	k[nkey] = '\0';
	if (decode(k, st->nprefix, val, nval, st->due_us, &ev))
		return 0; /* fsck reports it */
	st->count++;
	snprintf(st->last, sizeof(st->last), "%s", ev.id);
	rc = st->fn(st->ctx, &ev);
	free(ev.body);
	return rc ? (rc < 0 ? rc : 1) : 0;
}

static int scan(struct px_catalog *c, const char *prefix, const char *after,
		int64_t due_us, int limit, px_outbox_fn fn, void *ctx,
		char *next, size_t nnext, struct px_errbuf *eb)
{
	struct oscan st = {strlen(prefix), due_us, limit, 0, fn, ctx, ""};
	struct px_kv_txn *txn;
	char start[64];
	size_t nstart = 0;
	int rc;

	if (after && *after) {
		if (strncmp(after, "evt_", 4) || strlen(after) != 20 ||
		    strspn(after + 4, "0123456789abcdef") != 16)
			return px_errc(eb, PX_EINVAL, "invalid_continuation_token",
				       "continuation_token is malformed");
		/* The key after the token's: its hex plus one. */
		snprintf(start, sizeof(start), "%s%016llx", prefix,
			 strtoull(after + 4, NULL, 16) + 1);
		nstart = strlen(start);
	}
	if ((rc = px_kv_begin(px_catalog_kv(c), PX_KV_RDONLY, &txn, eb)))
		return rc;
	rc = px_kv_scan(txn, prefix, st.nprefix, nstart ? start : NULL, nstart,
			0, oscan_one, &st, eb);
	px_kv_abort(txn);
	if (next)
		*next = '\0';
	if (rc < 0)
		return rc;
	if (next && st.count == limit && st.last[0])
		px_strlcpy(next, st.last, nnext);
	return 0;
}

int px_catalog_outbox_scan(struct px_catalog *c, int64_t due_us, int limit,
			   px_outbox_fn fn, void *ctx, struct px_errbuf *eb)
{
	return scan(c, "outbox/", NULL, due_us, limit, fn, ctx, NULL, 0, eb);
}

int px_catalog_dead_list(struct px_catalog *c, const char *token, int limit,
			 px_outbox_fn fn, void *ctx, char *next, size_t nnext,
			 struct px_errbuf *eb)
{
	return scan(c, "deadletter/", token, 0, limit, fn, ctx, next, nnext,
		    eb);
}

/* Rewrite (or move, or with to NULL remove) one event inside txn. */
static int update_in(struct px_kv_txn *txn, const char *from, const char *to,
		     int attempts, int64_t next_at, long status,
		     struct px_errbuf *eb)
{
	struct px_buf b;
	json_t *o = NULL;
	char *text = NULL;
	int rc;

	px_buf_init(&b, 0);
	if ((rc = px_kv_gets(txn, from, &b, eb))) {
		if (rc == PX_ENOTFOUND)
			px_errc(eb, rc, "not_found", "no event \"%s\"", from);
		goto out;
	}
	if (!to) {
		rc = px_kv_dels(txn, from, eb);
		goto out;
	}
	o = json_loadb((const char *)b.data, b.len, 0, NULL);
	if (!o) {
		rc = PX_ECORRUPT;
		goto out;
	}
	json_object_set_new(o, "attempts", json_integer(attempts));
	json_object_set_new(o, "next_at", json_integer(next_at));
	if (status >= 0)
		json_object_set_new(o, "last_status", json_integer(status));
	if (!(text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)))) {
		rc = PX_ENOMEM;
		goto out;
	}
	if (strcmp(from, to) && (rc = px_kv_dels(txn, from, eb)))
		goto out;
	rc = px_kv_puts(txn, to, text, strlen(text), 0, eb);
out:
	free(text);
	json_decref(o);
	px_buf_release(&b);
	return rc;
}

static int update(struct px_catalog *c, const char *from, const char *to,
		  int attempts, int64_t next_at, long status,
		  struct px_errbuf *eb)
{
	struct px_kv_txn *txn;
	int rc;

	if ((rc = px_kv_begin(px_catalog_kv(c), 0, &txn, eb)))
		return rc;
	if ((rc = update_in(txn, from, to, attempts, next_at, status, eb))) {
		px_kv_abort(txn);
		return rc;
	}
	return px_kv_commit(txn, eb);
}

int px_catalog_outbox_settle(struct px_catalog *c,
			     const struct px_outbox_result *a, int n,
			     struct px_errbuf *eb)
{
	struct px_kv_txn *txn;
	int rc;

	if (n <= 0)
		return 0;
	if ((rc = px_kv_begin(px_catalog_kv(c), 0, &txn, eb)))
		return rc;
	for (int i = 0; i < n; i++) {
		char from[64], to[64], lease[64];

		/* Settled only while this node's claim holds (lease.h): a
		 * claim taken over means another node now delivers it. */
		px_lease_outbox_key(lease, sizeof(lease), a[i].seq);
		rc = px_lease_check_in(px_catalog_leases(c), txn, lease, eb);
		if (rc == PX_EBUSY)
			continue;
		if (rc || (rc = px_lease_end_in(px_catalog_leases(c), txn,
						 lease, eb))) {
			px_kv_abort(txn);
			return rc;
		}
		snprintf(from, sizeof(from), "outbox/%016llx",
			 (unsigned long long)a[i].seq);
		snprintf(to, sizeof(to), "%s/%016llx",
			 a[i].dead ? "deadletter" : "outbox",
			 (unsigned long long)a[i].seq);
		rc = update_in(txn, from, a[i].delivered ? NULL : to,
			       a[i].attempts, a[i].next_at_us, a[i].status, eb);
		if (rc == PX_ENOTFOUND)
			rc = 0; /* settled meanwhile (a retry through the API) */
		if (rc) {
			px_kv_abort(txn);
			return rc;
		}
	}
	if ((rc = px_kv_commit(txn, eb)))
		return rc;
	for (int i = 0; i < n; i++) {
		char lease[64];

		px_lease_outbox_key(lease, sizeof(lease), a[i].seq);
		px_lease_forget(px_catalog_leases(c), lease);
	}
	return 0;
}

int px_catalog_outbox_done(struct px_catalog *c, uint64_t seq,
			   struct px_errbuf *eb)
{
	char key[64];

	snprintf(key, sizeof(key), "outbox/%016llx", (unsigned long long)seq);
	return update(c, key, NULL, 0, 0, -1, eb);
}

int px_catalog_outbox_failed(struct px_catalog *c, uint64_t seq, int attempts,
			     int64_t next_at_us, long status, bool dead,
			     struct px_errbuf *eb)
{
	char from[64], to[64];

	snprintf(from, sizeof(from), "outbox/%016llx", (unsigned long long)seq);
	snprintf(to, sizeof(to), "%s/%016llx", dead ? "deadletter" : "outbox",
		 (unsigned long long)seq);
	return update(c, from, to, attempts, next_at_us, status, eb);
}

int px_catalog_dead_retry(struct px_catalog *c, const char *id,
			  struct px_errbuf *eb)
{
	char from[64], to[64];

	if (strncmp(id, "evt_", 4) || strlen(id) != 20 ||
	    strspn(id + 4, "0123456789abcdef") != 16)
		return px_errc(eb, PX_ENOTFOUND, "not_found",
			       "no dead letter \"%.40s\"", id);
	snprintf(from, sizeof(from), "deadletter/%s", id + 4);
	snprintf(to, sizeof(to), "outbox/%s", id + 4);
	return update(c, from, to, 0, 0, -1, eb);
}

struct stats_scan {
	uint64_t n;
	int64_t oldest;
};

static int count_one(void *arg, const void *key, size_t nkey, const void *val,
		     size_t nval)
{
	struct stats_scan *s = arg;

	if (s->n++ == 0) {
		/* The first in sequence order is the oldest. */
		json_t *o = json_loadb(val, nval, 0, NULL);

		s->oldest = json_integer_value(json_object_get(o, "created"));
		json_decref(o);
	}
	return 0;
}

int px_catalog_outbox_stats(struct px_catalog *c, struct px_outbox_stats *st,
			    struct px_errbuf *eb)
{
	struct stats_scan a = {0, 0}, d = {0, 0};
	struct px_kv_txn *txn;
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = px_kv_begin(px_catalog_kv(c), PX_KV_RDONLY, &txn, eb)))
		return rc;
	rc = px_kv_scan(txn, "outbox/", 7, NULL, 0, 0, count_one, &a, eb);
	if (rc >= 0)
		rc = px_kv_scan(txn, "deadletter/", 11, NULL, 0, 0, count_one,
				&d, eb);
	px_kv_abort(txn);
	st->depth = a.n;
	st->dead = d.n;
	st->oldest_us = a.n ? a.oldest : 0;
	return rc < 0 ? rc : 0;
}
