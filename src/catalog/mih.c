/*
 * mih.c - multi-index hashing over the kv store (see mih.h).
 */
#include "catalog/mih.h"

#define KEY_MAX (16 + 3 + 32 + PX_MIH_TAG_MAX)

/* prefix | k | chunk; returns the length. */
static size_t chunk_prefix(uint8_t *k, const char *prefix, int idx,
			   uint16_t v)
{
	size_t n = strlen(prefix);

	memcpy(k, prefix, n);
	k[n] = (uint8_t)idx;
	k[n + 1] = (uint8_t)(v >> 8);
	k[n + 2] = (uint8_t)v;
	return n + 3;
}

static int keys(struct px_kv_txn *txn, const char *prefix,
		const struct px_pdq *h, const char *tag, bool put,
		struct px_errbuf *eb)
{
	uint8_t k[KEY_MAX];
	size_t ntag = strlen(tag), n;
	int rc;

	if (strlen(prefix) > 16 || ntag > PX_MIH_TAG_MAX)
		return px_errf(eb, PX_EINVAL, "index key too long");
	for (int i = 0; i < PX_PDQ_CHUNKS; i++) {
		n = chunk_prefix(k, prefix, i, h->w[i]);
		px_pdq_bytes(h, k + n);
		memcpy(k + n + 32, tag, ntag);
		n += 32 + ntag;
		rc = put ? px_kv_put(txn, k, n, "", 0, 0, eb)
			 : px_kv_del(txn, k, n, eb);
		if (rc && !(rc == PX_ENOTFOUND && !put))
			return rc;
	}
	return 0;
}

int px_mih_put(struct px_kv_txn *txn, const char *prefix,
	       const struct px_pdq *h, const char *tag, struct px_errbuf *eb)
{
	return keys(txn, prefix, h, tag, true, eb);
}

int px_mih_del(struct px_kv_txn *txn, const char *prefix,
	       const struct px_pdq *h, const char *tag, struct px_errbuf *eb)
{
	return keys(txn, prefix, h, tag, false, eb);
}

struct search {
	struct px_kv_txn *txn;
	const char *prefix;
	const struct px_pdq *q;
	int maxd, r, chunk;
	px_mih_fn fn;
	void *ctx;
	struct px_errbuf *eb;
	size_t nprefix;
	int stop; /* fn's nonzero answer */
};

static int candidate(void *arg, const void *key, size_t nkey,
		     const void *val, size_t nval)
{
	struct search *s = arg;
	const uint8_t *k = key;
	struct px_pdq h;
	int d, rc;

	if (nkey < s->nprefix + 32)
		return 0; /* not ours: a shorter key under the prefix */
	px_pdq_from_bytes(k + s->nprefix, &h);
	/* Reported already from an earlier chunk that was within r. */
	for (int j = 0; j < s->chunk; j++)
		if (__builtin_popcount((unsigned)(h.w[j] ^ s->q->w[j])) <= s->r)
			return 0;
	d = px_pdq_distance(&h, s->q);
	if (d > s->maxd)
		return 0;
	rc = s->fn(s->ctx, &h, (const char *)k + s->nprefix + 32,
		   nkey - s->nprefix - 32, d);
	if (rc)
		s->stop = rc;
	return rc < 0 ? rc : rc ? 1 : 0;
}

static int probe(void *arg, uint16_t v)
{
	struct search *s = arg;
	uint8_t k[32];
	int rc;

	s->nprefix = chunk_prefix(k, s->prefix, s->chunk, v);
	rc = px_kv_scan(s->txn, k, s->nprefix, NULL, 0, 0, candidate, s,
			s->eb);
	/* A clean stop inside the scan still ends the whole search. */
	return rc ? rc : s->stop;
}

int px_mih_search(struct px_kv_txn *txn, const char *prefix,
		  const struct px_pdq *q, int maxd, px_mih_fn fn, void *ctx,
		  struct px_errbuf *eb)
{
	struct search s = {txn, prefix, q, maxd, maxd / PX_PDQ_CHUNKS, 0,
			   fn, ctx, eb, 0, 0};
	int rc;

	if (maxd < 0 || maxd > PX_MIH_MAX_DISTANCE || strlen(prefix) > 16)
		return px_errc(eb, PX_EINVAL, "invalid_distance",
			       "distance must be 0-%d", PX_MIH_MAX_DISTANCE);
	for (s.chunk = 0; s.chunk < PX_PDQ_CHUNKS; s.chunk++)
		if ((rc = px_pdq_probe(q->w[s.chunk], s.r, probe, &s)))
			return rc;
	return 0;
}

int px_mih_image_put(struct px_kv_txn *txn, const char *id, const char *hex,
		     struct px_errbuf *eb)
{
	struct px_pdq h;

	if (!hex || !*hex || px_pdq_parse(hex, strlen(hex), &h))
		return 0;
	return px_mih_put(txn, PX_MIH_IMAGES, &h, id, eb);
}

int px_mih_image_del(struct px_kv_txn *txn, const char *id, const char *hex,
		     struct px_errbuf *eb)
{
	struct px_pdq h;

	if (!hex || !*hex || px_pdq_parse(hex, strlen(hex), &h))
		return 0;
	return px_mih_del(txn, PX_MIH_IMAGES, &h, id, eb);
}

struct near_set {
	const char *self;
	struct px_mih_near *a;
	size_t n, cap;
};

#define NEAR_MAX 100000 /* candidates kept before sorting */

static int near_one(void *arg, const struct px_pdq *h, const char *tag,
		    size_t ntag, int d)
{
	struct near_set *ns = arg;

	if (ntag > PX_MIH_TAG_MAX ||
	    (ns->self && strlen(ns->self) == ntag && !memcmp(ns->self, tag, ntag)))
		return 0;
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? ns->cap * 2 : 64;
		struct px_mih_near *a;

		if (ns->n >= NEAR_MAX)
			return 0;
		if (!(a = realloc(ns->a, cap * sizeof(*a))))
			return PX_ENOMEM;
		ns->a = a;
		ns->cap = cap;
	}
	memcpy(ns->a[ns->n].id, tag, ntag);
	ns->a[ns->n].id[ntag] = '\0';
	ns->a[ns->n].distance = d;
	ns->n++;
	return 0;
}

static int near_cmp(const void *x, const void *y)
{
	const struct px_mih_near *a = x, *b = y;

	if (a->distance != b->distance)
		return a->distance - b->distance;
	return strcmp(a->id, b->id);
}

int px_mih_similar(struct px_kv *kv, const struct px_pdq *q, int maxd,
		   const char *self, struct px_mih_near *out, int max, int *n,
		   struct px_errbuf *eb)
{
	struct near_set ns = {self, NULL, 0, 0};
	struct px_kv_txn *txn = NULL;
	int rc;

	*n = 0;
	if ((rc = px_kv_begin(kv, PX_KV_RDONLY, &txn, eb)))
		return rc;
	rc = px_mih_search(txn, PX_MIH_IMAGES, q, maxd, near_one, &ns, eb);
	px_kv_abort(txn);
	if (rc)
		goto out;
	qsort(ns.a, ns.n, sizeof(*ns.a), near_cmp);
	*n = (int)PX_MIN(ns.n, (size_t)max);
	if (*n)
		memcpy(out, ns.a, sizeof(*out) * (size_t)*n);
out:
	free(ns.a);
	return rc;
}
