/*
 * hashlist.c - known-hash lists in the kv store (see hashlist.h).
 */
#include "catalog/hashlist.h"
#include "catalog/internal.h"
#include "catalog/mihmem.h"

#include <jansson.h>

#define LIST_KEY_MAX (4 + PX_HASHLIST_NAME_MAX + 1 + 32)

const char *px_hl_action_name(enum px_hl_action a)
{
	return a == PX_HL_BLOCK ? "block" : a == PX_HL_FLAG ? "flag" : "none";
}

enum px_hl_action px_hl_action_parse(const char *z)
{
	if (!strcmp(z, "block"))
		return PX_HL_BLOCK;
	if (!strcmp(z, "flag"))
		return PX_HL_FLAG;
	return 0;
}

const char *px_pdq_dih_name(enum px_pdq_dih d)
{
	static const char *const names[] = {
		"original", "rotate90", "rotate180",  "rotate270",
		"flipx",    "flipy",    "flipplus1", "flipminus1",
	};

	return (unsigned)d < PX_ARRAY_LEN(names) ? names[d] : "original";
}

bool px_hashlist_valid_name(const char *name)
{
	size_t n = 0;

	for (; name[n]; n++) {
		char c = name[n];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return n >= 1 && n <= PX_HASHLIST_NAME_MAX;
}

static void list_key(char *k, size_t n, const char *name)
{
	snprintf(k, n, "hl/%s", name);
}

/* hle/<name>/ and, when h is given, the hash after it; returns length. */
static size_t entry_key(uint8_t *k, const char *name, const struct px_pdq *h)
{
	size_t n = (size_t)sprintf((char *)k, "hle/%s/", name);

	if (h) {
		px_pdq_bytes(h, k + n);
		n += 32;
	}
	return n;
}

static int encode(const struct px_hashlist *l, struct px_buf *out)
{
	json_t *o = json_pack("{s:s,s:s,s:i,s:I,s:I}", "name", l->name,
			      "action", px_hl_action_name(l->action),
			      "threshold", l->threshold, "created_us",
			      (json_int_t)l->created_us, "count",
			      (json_int_t)l->count);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	int rc = text ? px_buf_adds(out, text) : PX_ENOMEM;

	json_decref(o);
	free(text);
	return rc;
}

static int decode(const void *p, size_t n, struct px_hashlist *l)
{
	json_t *o = json_loadb(p, n, 0, NULL);
	const char *name, *action;

	memset(l, 0, sizeof(*l));
	if (!o)
		return PX_ECORRUPT;
	name = json_string_value(json_object_get(o, "name"));
	action = json_string_value(json_object_get(o, "action"));
	px_strlcpy(l->name, name ? name : "", sizeof(l->name));
	l->action = px_hl_action_parse(action ? action : "");
	l->threshold = (int)json_integer_value(json_object_get(o, "threshold"));
	l->created_us = json_integer_value(json_object_get(o, "created_us"));
	l->count = (uint64_t)json_integer_value(json_object_get(o, "count"));
	json_decref(o);
	return 0;
}

static int get_in(struct px_kv_txn *txn, const char *name,
		  struct px_hashlist *l, struct px_errbuf *eb)
{
	char key[8 + PX_HASHLIST_NAME_MAX];
	struct px_buf b;
	int rc;

	if (!px_hashlist_valid_name(name))
		return px_errc(eb, PX_ENOTFOUND, "not_found",
			       "hash list \"%.64s\" not found", name);
	px_buf_init(&b, 0);
	list_key(key, sizeof(key), name);
	rc = px_kv_gets(txn, key, &b, eb);
	if (rc == PX_ENOTFOUND)
		px_errc(eb, rc, "not_found", "hash list \"%s\" not found", name);
	if (!rc)
		rc = decode(b.data, b.len, l);
	px_buf_release(&b);
	return rc;
}

static int put_in(struct px_kv_txn *txn, const struct px_hashlist *l,
		  int flags, struct px_errbuf *eb)
{
	char key[8 + PX_HASHLIST_NAME_MAX];
	struct px_buf b;
	int rc;

	px_buf_init(&b, 0);
	list_key(key, sizeof(key), l->name);
	if (!(rc = encode(l, &b)))
		rc = px_kv_puts(txn, key, b.data, b.len, flags, eb);
	px_buf_release(&b);
	return rc;
}

int px_hashlist_create(struct px_catalog *c, struct px_hashlist *l,
		       struct px_errbuf *eb)
{
	struct px_kv_txn *txn = NULL;
	int rc;

	if (!px_hashlist_valid_name(l->name))
		return px_errc(eb, PX_EINVAL, "invalid_request",
			       "a hash list name matches [A-Za-z0-9._-]{1,64}");
	if (l->action != PX_HL_BLOCK && l->action != PX_HL_FLAG)
		return px_errc(eb, PX_EINVAL, "invalid_request",
			       "action must be \"block\" or \"flag\"");
	if (l->threshold < 0 || l->threshold > PX_HASHLIST_THRESHOLD_MAX)
		return px_errc(eb, PX_EINVAL, "invalid_request",
			       "threshold must be 0-%d",
			       PX_HASHLIST_THRESHOLD_MAX);
	l->created_us = px_wall_us();
	l->count = 0;
	if ((rc = px_kv_begin(px_catalog_kv(c), 0, &txn, eb)))
		return rc;
	rc = put_in(txn, l, PX_KV_NOOVERWRITE, eb);
	if (rc == PX_EEXIST) {
		px_errc(eb, rc, "already_exists",
			"hash list \"%s\" already exists", l->name);
		goto out;
	}
	if (rc)
		goto out;
	rc = px_kv_commit(txn, eb);
	txn = NULL;
out:
	px_kv_abort(txn);
	return rc;
}

int px_hashlist_get(struct px_catalog *c, const char *name,
		    struct px_hashlist *l,
		    struct px_errbuf *eb)
{
	struct px_kv_txn *txn;
	int rc;

	if ((rc = px_kv_begin(px_catalog_kv(c), PX_KV_RDONLY, &txn, eb)))
		return rc;
	rc = get_in(txn, name, l, eb);
	px_kv_abort(txn);
	return rc;
}

struct each {
	int (*fn)(void *ctx, const struct px_hashlist *l);
	void *ctx;
};

static int each_one(void *arg, const void *key, size_t nkey, const void *val,
		    size_t nval)
{
	struct each *e = arg;
	struct px_hashlist l;

	if (decode(val, nval, &l))
		return 0; /* skip a damaged entry rather than hide the rest */
	return e->fn(e->ctx, &l);
}

int px_hashlist_list(struct px_catalog *c,
		     int (*fn)(void *ctx, const struct px_hashlist *l),
		     void *ctx, struct px_errbuf *eb)
{
	struct each e = {fn, ctx};
	struct px_kv_txn *txn;
	int rc;

	if ((rc = px_kv_begin(px_catalog_kv(c), PX_KV_RDONLY, &txn, eb)))
		return rc;
	rc = px_kv_scan(txn, "hl/", 3, NULL, 0, 0, each_one, &e, eb);
	px_kv_abort(txn);
	return rc;
}

int px_hashlist_add(struct px_catalog *c, const char *name,
		    const struct px_pdq *h, size_t n, size_t *added,
		    struct px_hashlist *out, struct px_errbuf *eb)
{
	struct px_mih_change ch = {0};
	struct px_kv_txn *txn = NULL;
	struct px_pdq *fresh = NULL;
	struct px_hashlist l;
	uint8_t key[LIST_KEY_MAX];
	size_t nkey;
	int rc;

	*added = 0;
	if (n && !(fresh = malloc(n * sizeof(*fresh))))
		return PX_ENOMEM;
	if ((rc = px_kv_begin(px_catalog_kv(c), 0, &txn, eb)))
		goto out;
	if ((rc = get_in(txn, name, &l, eb)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		nkey = entry_key(key, name, &h[i]);
		rc = px_kv_put(txn, key, nkey, "", 0, PX_KV_NOOVERWRITE, eb);
		if (rc == PX_EEXIST)
			continue;
		if (rc)
			goto out;
		fresh[(*added)++] = h[i];
	}
	if ((rc = px_mih_put(txn, PX_MIH_LISTS, fresh, *added, l.name, &ch,
			     eb)))
		goto out;
	l.count += *added;
	if ((rc = put_in(txn, &l, 0, eb)))
		goto out;
	rc = px_kv_commit(txn, eb);
	txn = NULL;
	if (!rc)
		px_catalog_mih_apply(c, &ch);
	if (!rc && out)
		*out = l;
out:
	px_kv_abort(txn);
	free(fresh);
	if (rc)
		*added = 0;
	return rc;
}

struct hashes {
	struct px_pdq *a;
	size_t n, cap;
	size_t skip; /* the key prefix length */
};

static int collect(void *arg, const void *key, size_t nkey, const void *val,
		   size_t nval)
{
	struct hashes *hs = arg;

	if (nkey != hs->skip + 32)
		return 0;
	if (hs->n == hs->cap) {
		size_t cap = hs->cap ? hs->cap * 2 : 256;
		struct px_pdq *a = realloc(hs->a, cap * sizeof(*a));

		if (!a)
			return PX_ENOMEM;
		hs->a = a;
		hs->cap = cap;
	}
	px_pdq_from_bytes((const uint8_t *)key + hs->skip, &hs->a[hs->n++]);
	return 0;
}

int px_hashlist_delete(struct px_catalog *c, const char *name,
		       struct px_errbuf *eb)
{
	struct px_mih_change ch = {0};
	struct px_kv_txn *txn = NULL;
	struct hashes hs = {0};
	struct px_hashlist l;
	uint8_t key[LIST_KEY_MAX];
	char lkey[8 + PX_HASHLIST_NAME_MAX];
	int rc;

	if ((rc = px_kv_begin(px_catalog_kv(c), 0, &txn, eb)))
		return rc;
	if ((rc = get_in(txn, name, &l, eb)))
		goto out;
	hs.skip = entry_key(key, name, NULL);
	/* Gather first: the scan's cursor must not see its own deletions. */
	if ((rc = px_kv_scan(txn, key, hs.skip, NULL, 0, 0, collect, &hs, eb)))
		goto out;
	for (size_t i = 0; i < hs.n; i++) {
		size_t nkey = entry_key(key, name, &hs.a[i]);

		if ((rc = px_kv_del(txn, key, nkey, eb)))
			goto out;
	}
	if ((rc = px_mih_del(txn, PX_MIH_LISTS, hs.a, hs.n, name, &ch, eb)))
		goto out;
	list_key(lkey, sizeof(lkey), name);
	if ((rc = px_kv_dels(txn, lkey, eb)))
		goto out;
	rc = px_kv_commit(txn, eb);
	txn = NULL;
	if (!rc)
		px_catalog_mih_apply(c, &ch);
out:
	px_kv_abort(txn);
	free(hs.a);
	return rc;
}

/* --- matching --- */

#define MATCH_LISTS_MAX 256

struct match {
	struct px_hashlist lists[MATCH_LISTS_MAX];
	int nlists, maxt;
	enum px_pdq_dih dih;
	struct px_hashlist_hit *hit;
};

static int gather_list(void *arg, const void *key, size_t nkey,
		       const void *val, size_t nval)
{
	struct match *m = arg;
	struct px_hashlist *l = &m->lists[m->nlists];

	if (m->nlists == MATCH_LISTS_MAX)
		return 1;
	if (decode(val, nval, l) || !l->action)
		return 0;
	m->maxt = PX_MAX(m->maxt, l->threshold);
	m->nlists++;
	return 0;
}

static int match_one(void *arg, const struct px_pdq *h, const char *tag,
		     size_t ntag, int d)
{
	struct match *m = arg;
	struct px_hashlist_hit *hit = m->hit;

	for (int i = 0; i < m->nlists; i++) {
		const struct px_hashlist *l = &m->lists[i];

		if (strlen(l->name) != ntag || memcmp(l->name, tag, ntag) ||
		    d > l->threshold)
			continue;
		if (l->action > hit->action ||
		    (l->action == hit->action && d < hit->distance)) {
			px_strlcpy(hit->list, l->name, sizeof(hit->list));
			hit->action = l->action;
			hit->distance = d;
			hit->orientation = m->dih;
			px_pdq_hex(h, hit->hash);
		}
	}
	return 0;
}

int px_hashlist_match(struct px_catalog *c, const struct px_pdq_result *r,
		      struct px_hashlist_hit *hit, struct px_errbuf *eb)
{
	struct px_kv_txn *txn = NULL;
	struct match *m;
	int rc;

	memset(hit, 0, sizeof(*hit));
	if (r->quality < PX_PDQ_MIN_QUALITY)
		return 0;
	if (!(m = calloc(1, sizeof(*m))))
		return PX_ENOMEM;
	m->hit = hit;
	if ((rc = px_kv_begin(px_catalog_kv(c), PX_KV_RDONLY, &txn, eb)))
		goto out;
	if ((rc = px_kv_scan(txn, "hl/", 3, NULL, 0, 0, gather_list, m, eb)))
		goto out;
	for (int d = 0; m->nlists && d < PX_PDQ_NDIH; d++) {
		m->dih = d;
		if ((rc = px_catalog_mih_search(c, txn, PX_MIH_LISTS,
						&r->dih[d], m->maxt, match_one,
						m, eb)))
			goto out;
	}
out:
	px_kv_abort(txn);
	free(m);
	return rc;
}
