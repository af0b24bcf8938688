/*
 * audit.c - the append-only audit log of every state change.
 *
 * Entries live under "audit/<16 hex µs>-<8 hex random>" (that suffix is
 * the entry's id and the pagination token), so a scan is chronological
 * and "since" is a seek. A second key "auditix/<image>/<entry id>" lists
 * one image's history without a full scan. Neither is touched when the
 * image is deleted: the history outlives the record; only retention
 * (px_catalog_audit_prune) removes entries, oldest first.
 */
#include "catalog/audit.h"
#include "catalog/internal.h"
#include "core/crypto.h"

#include <jansson.h>

#define ENTRY_ID_LEN (16 + 1 + 8)
#define SCAN_MAX 100000 /* entries looked at per page with an actor filter */

const struct px_actor px_actor_system = {"system", "pictor"};

static void iso_us(int64_t us, char *out, size_t n)
{
	time_t secs = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + strlen(out), n - strlen(out), ".%06dZ",
		 (int)(us % 1000000));
}

/* A JSON text as a value; text that does not parse is kept as a string. */
static json_t *json_or_null(const char *text)
{
	json_t *v;

	if (!text)
		return json_null();
	v = json_loads(text, JSON_DECODE_ANY, NULL);
	return v ? v : json_string(text);
}

int px_audit_put(struct px_kv_txn *txn, const struct px_audit_change *ch,
		 struct px_errbuf *eb)
{
	const struct px_actor *who = ch->who ? ch->who : &px_actor_system;
	char id[ENTRY_ID_LEN + 1], rnd[9], when[40], key[PX_ID_MAX + 64];
	int64_t now = px_wall_us();
	char *text = NULL;
	json_t *o;
	int rc;

	px_random_hex(rnd, 4);
	snprintf(id, sizeof(id), "%016llx-%s", (unsigned long long)now, rnd);
	iso_us(now, when, sizeof(when));
	o = json_pack("{s:s,s:s,s:o,s:s,s:{s:s,s:s},s:o,s:o,s:o}", "id", id,
		      "at", when, "image",
		      ch->image ? json_string(ch->image) : json_null(), "action",
		      ch->action, "actor", "id", who->id, "name", who->name,
		      "before", json_or_null(ch->before), "after",
		      json_or_null(ch->after), "note",
		      ch->note && *ch->note ? json_string(ch->note) : json_null());
	if (!o || !(text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)))) {
		rc = PX_ENOMEM;
		goto out;
	}
	snprintf(key, sizeof(key), "audit/%s", id);
	if ((rc = px_kv_puts(txn, key, text, strlen(text), 0, eb)))
		goto out;
	if (ch->image) {
		snprintf(key, sizeof(key), "auditix/%s/%s", ch->image, id);
		rc = px_kv_puts(txn, key, "", 0, 0, eb);
	}
out:
	free(text);
	json_decref(o);
	return rc;
}

int px_catalog_audit(struct px_catalog *c, const char *image,
		     const char *action, const struct px_actor *who,
		     const char *before, const char *after, const char *note,
		     struct px_errbuf *eb)
{
	struct px_audit_change ch = {image, action, who, before, after, note};
	struct px_kv_txn *txn;
	int rc;

	if (image && !px_catalog_valid_id(image))
		return px_errc(eb, PX_EINVAL, "invalid_id", "bad image id");
	if ((rc = px_kv_begin(px_catalog_kv(c), 0, &txn, eb)))
		return rc;
	if ((rc = px_audit_put(txn, &ch, eb))) {
		px_kv_abort(txn);
		return rc;
	}
	return px_kv_commit(txn, eb);
}

static bool valid_entry_id(const char *t)
{
	if (strlen(t) != ENTRY_ID_LEN || t[16] != '-')
		return false;
	for (int i = 0; i < ENTRY_ID_LEN; i++)
		if (i != 16 && !((t[i] >= '0' && t[i] <= '9') ||
				 (t[i] >= 'a' && t[i] <= 'f')))
			return false;
	return true;
}

struct alist {
	struct px_kv_txn *txn;
	const struct px_audit_filter *f;
	size_t nprefix;
	const char *skip;
	int limit, count, seen;
	px_catalog_audit_fn fn;
	void *ctx;
	char last[ENTRY_ID_LEN + 1];
	bool more;
	struct px_errbuf *eb;
};

static bool actor_matches(const char *text, size_t n, const char *actor)
{
	json_t *o = json_loadb(text, n, 0, NULL);
	json_t *a = json_object_get(o, "actor");
	const char *id = json_string_value(json_object_get(a, "id"));
	const char *name = json_string_value(json_object_get(a, "name"));
	bool ok = (id && !strcmp(id, actor)) || (name && !strcmp(name, actor));

	json_decref(o);
	return ok;
}

static int alist_one(void *arg, const void *key, size_t nkey, const void *val,
		     size_t nval)
{
	struct alist *st = arg;
	char id[ENTRY_ID_LEN + 1], k[ENTRY_ID_LEN + 8];
	struct px_buf b;
	const char *text = val;
	size_t ntext = nval;
	int rc = 0;

	if (nkey != st->nprefix + ENTRY_ID_LEN)
		return 0;
	memcpy(id, (const char *)key + st->nprefix, ENTRY_ID_LEN);
	id[ENTRY_ID_LEN] = '\0';
	if (st->skip && !strcmp(id, st->skip))
		return 0;
	if (st->count == st->limit) {
		st->more = true;
		return 1;
	}
	if (++st->seen > SCAN_MAX) {
		/* Stop with a token, so a sparse filter pages on. */
		st->more = true;
		return 1;
	}
	px_buf_init(&b, 0);
	if (st->f->image) {
		snprintf(k, sizeof(k), "audit/%s", id);
		if ((rc = px_kv_gets(st->txn, k, &b, st->eb))) {
			px_buf_release(&b);
			return rc == PX_ENOTFOUND ? 0 : rc; /* pruned */
		}
		text = (const char *)b.data;
		ntext = b.len;
	}
	px_strlcpy(st->last, id, sizeof(st->last));
	if (!st->f->actor || actor_matches(text, ntext, st->f->actor)) {
		st->count++;
		rc = st->fn(st->ctx, text, ntext);
		if (rc)
			rc = rc < 0 ? rc : 1;
	}
	px_buf_release(&b);
	return rc;
}

int px_catalog_audit_list(struct px_catalog *c, const struct px_audit_filter *f,
			  const char *token, int limit, px_catalog_audit_fn fn,
			  void *ctx, char *next, size_t nnext,
			  struct px_errbuf *eb)
{
	static const struct px_audit_filter none = {0};
	char prefix[PX_ID_MAX + 16], start[PX_ID_MAX + 64];
	struct alist st;
	size_t nstart = 0;
	int rc;

	if (!f)
		f = &none;
	memset(&st, 0, sizeof(st));
	st.f = f;
	st.limit = limit;
	st.fn = fn;
	st.ctx = ctx;
	st.eb = eb;
	*next = '\0';
	if (f->image && !px_catalog_valid_id(f->image))
		return px_errc(eb, PX_EINVAL, "invalid_request",
			       "image is not a valid image id");
	if (f->image)
		snprintf(prefix, sizeof(prefix), "auditix/%s/", f->image);
	else
		snprintf(prefix, sizeof(prefix), "audit/");
	st.nprefix = strlen(prefix);
	if (token && *token) {
		if (!valid_entry_id(token))
			return px_errc(eb, PX_EINVAL, "invalid_continuation_token",
				       "continuation_token is malformed");
		snprintf(start, sizeof(start), "%s%s", prefix, token);
		st.skip = token;
		nstart = strlen(start);
	}
	if (f->since_us > 0) {
		char since[PX_ID_MAX + 64];

		snprintf(since, sizeof(since), "%s%016llx", prefix,
			 (unsigned long long)f->since_us);
		if (!nstart || strcmp(since, start) > 0) {
			memcpy(start, since, strlen(since) + 1);
			nstart = strlen(start);
		}
	}
	if ((rc = px_kv_begin(px_catalog_kv(c), PX_KV_RDONLY, &st.txn, eb)))
		return rc;
	rc = px_kv_scan(st.txn, prefix, st.nprefix, nstart ? start : NULL,
			nstart, 0, alist_one, &st, eb);
	px_kv_abort(st.txn);
	if (rc < 0)
		return rc;
	if (st.more && st.last[0] && nnext > ENTRY_ID_LEN)
		memcpy(next, st.last, ENTRY_ID_LEN + 1);
	return 0;
}

struct prune {
	char keys[256][PX_ID_MAX + 48];
	int n;
	char cutoff[17];
};

static int prune_one(void *arg, const void *key, size_t nkey, const void *val,
		     size_t nval)
{
	struct prune *p = arg;
	const char *k = key;
	json_t *o;
	const char *image;

	if (nkey != 6 + ENTRY_ID_LEN || memcmp(k + 6, p->cutoff, 16) >= 0)
		return 1; /* sorted: the rest is newer */
	if (p->n + 2 > (int)PX_ARRAY_LEN(p->keys))
		return 1;
	snprintf(p->keys[p->n++], sizeof(p->keys[0]), "%.*s", (int)nkey, k);
	o = json_loadb(val, nval, 0, NULL);
	image = json_string_value(json_object_get(o, "image"));
	if (image && px_catalog_valid_id(image))
		snprintf(p->keys[p->n++], sizeof(p->keys[0]), "auditix/%s/%.*s",
			 image, ENTRY_ID_LEN, k + 6);
	json_decref(o);
	return 0;
}

int px_catalog_audit_prune(struct px_catalog *c, int64_t before_us,
			   unsigned *removed, struct px_errbuf *eb)
{
	struct prune *p = malloc(sizeof(*p));
	struct px_kv_txn *txn = NULL;
	int rc = 0;

	*removed = 0;
	if (!p)
		return PX_ENOMEM;
	snprintf(p->cutoff, sizeof(p->cutoff), "%016llx",
		 (unsigned long long)(before_us > 0 ? before_us : 0));
	/* In batches, so a large backlog never makes one huge transaction. */
	for (;;) {
		p->n = 0;
		if ((rc = px_kv_begin(px_catalog_kv(c), 0, &txn, eb)))
			break;
		rc = px_kv_scan(txn, "audit/", 6, NULL, 0, 0, prune_one, p, eb);
		for (int i = 0; rc >= 0 && i < p->n; i++) {
			int r = px_kv_dels(txn, p->keys[i], eb);

			if (r && r != PX_ENOTFOUND)
				rc = r;
			else if (!strncmp(p->keys[i], "audit/", 6))
				(*removed)++;
		}
		if (rc < 0) {
			px_kv_abort(txn);
			break;
		}
		if ((rc = px_kv_commit(txn, eb)) || p->n == 0)
			break;
	}
	free(p);
	return rc < 0 ? rc : 0;
}
