/*
 * mih.c - multi-index hashing over the kv store (see mih.h).
 */
#include "catalog/internal.h"
#include "catalog/mih.h"
#include "catalog/mihmem.h"

#define REC_MIN 33 /* hash + tag length */

/* prefix | k | chunk; returns the length. */
static size_t bucket_key(uint8_t *k, const char *prefix, int idx, uint16_t v)
{
	size_t n = strlen(prefix);

	memcpy(k, prefix, n);
	k[n] = (uint8_t)idx;
	k[n + 1] = (uint8_t)(v >> 8);
	k[n + 2] = (uint8_t)v;
	return n + 3;
}

/* Next record of a bucket at *off; false at the end or on a torn one. */
static bool next_rec(const struct px_buf *b, size_t *off, const uint8_t **hash,
		     const char **tag, size_t *ntag)
{
	const uint8_t *p = b->data + *off;
	size_t left = b->len - *off;

	if (left < REC_MIN || left < (size_t)REC_MIN + p[32])
		return false;
	*hash = p;
	*ntag = p[32];
	*tag = (const char *)p + REC_MIN;
	*off += REC_MIN + p[32];
	return true;
}

struct sort_ctx {
	const struct px_pdq *h;
	int k;
};

static _Thread_local struct sort_ctx sort_by;

static int cmp_chunk(const void *x, const void *y)
{
	uint16_t a = sort_by.h[*(const uint32_t *)x].w[sort_by.k];
	uint16_t b = sort_by.h[*(const uint32_t *)y].w[sort_by.k];

	return (a > b) - (a < b);
}

/* The entries of one update: hashes and their tags (tags[i], or one tag
 * for all when tags is NULL). */
struct entries {
	const struct px_pdq *h;
	const char *const *tags;
	const char *tag;
};

static const char *tag_of(const struct entries *e, uint32_t i)
{
	return e->tags ? e->tags[i] : e->tag;
}

/* Rewrite the bucket in key: keep its records except the entries
 * order[0..cnt) for del, then append those for put. */
static int update_bucket(struct px_kv_txn *txn, const uint8_t *key,
			 size_t nkey, const struct entries *e,
			 const uint32_t *order, size_t cnt, bool put,
			 struct px_errbuf *eb)
{
	const struct px_pdq *h = e->h;
	struct px_buf old, out;
	size_t off = 0;
	const uint8_t *rh;
	const char *rt;
	size_t nrt;
	uint8_t hb[32];
	int rc;

	px_buf_init(&old, 0);
	px_buf_init(&out, 0);
	rc = px_kv_get(txn, key, nkey, &old, eb);
	if (rc && rc != PX_ENOTFOUND)
		goto out;
	rc = 0;
	while (next_rec(&old, &off, &rh, &rt, &nrt)) {
		bool drop = false;

		for (size_t i = 0; !put && !drop && i < cnt; i++) {
			const char *tag = tag_of(e, order[i]);

			px_pdq_bytes(&h[order[i]], hb);
			drop = nrt == strlen(tag) && !memcmp(rt, tag, nrt) &&
			       !memcmp(rh, hb, 32);
		}
		if (!drop && (rc = px_buf_add(&out, rh, REC_MIN + nrt)))
			goto out;
	}
	for (size_t i = 0; put && i < cnt; i++) {
		const char *tag = tag_of(e, order[i]);
		size_t ntag = strlen(tag);
		uint8_t n8 = (uint8_t)ntag;

		px_pdq_bytes(&h[order[i]], hb);
		if ((rc = px_buf_add(&out, hb, 32)) ||
		    (rc = px_buf_add(&out, &n8, 1)) ||
		    (rc = px_buf_add(&out, tag, ntag)))
			goto out;
	}
	if (out.len == old.len && !put)
		goto out; /* nothing of ours was there */
	if (out.len)
		rc = px_kv_put(txn, key, nkey, out.data, out.len, 0, eb);
	else if (old.len)
		rc = px_kv_del(txn, key, nkey, eb);
out:
	px_buf_release(&old);
	px_buf_release(&out);
	return rc;
}

static size_t gen_key(char *k, size_t nk, const char *prefix)
{
	return (size_t)snprintf(k, nk, "mig/%s", prefix);
}

int px_mih_gen(struct px_kv_txn *txn, const char *prefix, uint64_t *gen,
	       struct px_errbuf *eb)
{
	char key[32], text[24];
	struct px_buf b;
	int rc;

	*gen = 0;
	gen_key(key, sizeof(key), prefix);
	px_buf_init(&b, 0);
	rc = px_kv_gets(txn, key, &b, eb);
	if (rc == PX_ENOTFOUND)
		rc = 0;
	else if (!rc) {
		snprintf(text, sizeof(text), "%.*s", (int)PX_MIN(b.len, 20),
			 (const char *)b.data);
		*gen = strtoull(text, NULL, 10);
	}
	px_buf_release(&b);
	return rc;
}

/* Move the generation on and note the change for the memory copy. */
static int note_change(struct px_kv_txn *txn, const char *prefix,
		       const struct entries *e, size_t n, bool put,
		       struct px_mih_change *ch, struct px_errbuf *eb)
{
	char key[32], text[24];
	uint64_t g;
	int rc;

	if ((rc = px_mih_gen(txn, prefix, &g, eb)))
		return rc;
	gen_key(key, sizeof(key), prefix);
	snprintf(text, sizeof(text), "%llu", (unsigned long long)(g + 1));
	if ((rc = px_kv_puts(txn, key, text, strlen(text), 0, eb)))
		return rc;
	if (ch) {
		ch->prefix = prefix;
		ch->gen = g;
		ch->put = put;
		if (e->h != &ch->one)
			ch->h = e->h;
		ch->n = n;
		ch->tag = e->tag;
		ch->tags = e->tags;
	}
	return 0;
}

static int update(struct px_kv_txn *txn, const char *prefix,
		  const struct entries *e, size_t n, bool put,
		  struct px_mih_change *ch, struct px_errbuf *eb)
{
	const struct px_pdq *h = e->h;
	uint32_t *order;
	uint8_t key[32];
	int rc = 0;

	if (strlen(prefix) > 16)
		return px_errf(eb, PX_EINVAL, "index prefix too long");
	for (size_t i = 0; i < n; i++) {
		size_t ntag = strlen(tag_of(e, (uint32_t)i));

		if (!ntag || ntag > PX_MIH_TAG_MAX)
			return px_errf(eb, PX_EINVAL, "bad index tag");
		if (!e->tags)
			break;
	}
	if (!n)
		return 0;
	if (n > UINT32_MAX || !(order = malloc(n * sizeof(*order))))
		return PX_ENOMEM;
	for (int k = 0; !rc && k < PX_PDQ_CHUNKS; k++) {
		for (size_t i = 0; i < n; i++)
			order[i] = (uint32_t)i;
		if (n > 1) {
			sort_by = (struct sort_ctx){h, k};
			qsort(order, n, sizeof(*order), cmp_chunk);
		}
		/* One read and one write per bucket touched. */
		for (size_t i = 0; !rc && i < n;) {
			uint16_t v = h[order[i]].w[k];
			size_t j = i;

			while (j < n && h[order[j]].w[k] == v)
				j++;
			rc = update_bucket(txn, key, bucket_key(key, prefix, k, v),
					   e, order + i, j - i, put, eb);
			i = j;
		}
	}
	free(order);
	if (!rc)
		rc = note_change(txn, prefix, e, n, put, ch, eb);
	return rc;
}

int px_mih_put(struct px_kv_txn *txn, const char *prefix,
	       const struct px_pdq *h, size_t n, const char *tag,
	       struct px_mih_change *ch, struct px_errbuf *eb)
{
	struct entries e = {h, NULL, tag};

	return update(txn, prefix, &e, n, true, ch, eb);
}

int px_mih_put_tags(struct px_kv_txn *txn, const char *prefix,
		    const struct px_pdq *h, const char *const *tags, size_t n,
		    struct px_mih_change *ch, struct px_errbuf *eb)
{
	struct entries e = {h, tags, NULL};

	return update(txn, prefix, &e, n, true, ch, eb);
}

int px_mih_del(struct px_kv_txn *txn, const char *prefix,
	       const struct px_pdq *h, size_t n, const char *tag,
	       struct px_mih_change *ch, struct px_errbuf *eb)
{
	struct entries e = {h, NULL, tag};

	return update(txn, prefix, &e, n, false, ch, eb);
}

struct search {
	struct px_kv_txn *txn;
	const char *prefix;
	const struct px_pdq *q;
	int maxd, r, chunk;
	px_mih_fn fn;
	void *ctx;
	struct px_errbuf *eb;
	struct px_buf b;
};

static int probe(void *arg, uint16_t v)
{
	struct search *s = arg;
	const uint8_t *rh;
	const char *rt;
	size_t nrt, off = 0;
	uint8_t key[32];
	int rc;

	s->b.len = 0;
	rc = px_kv_get(s->txn, key, bucket_key(key, s->prefix, s->chunk, v),
		       &s->b, s->eb);
	if (rc)
		return rc == PX_ENOTFOUND ? 0 : rc;
	while (next_rec(&s->b, &off, &rh, &rt, &nrt)) {
		struct px_pdq h;
		bool seen = false;
		int d;

		px_pdq_from_bytes(rh, &h);
		/* Reported already through an earlier chunk within r. */
		for (int j = 0; !seen && j < s->chunk; j++)
			seen = __builtin_popcount((unsigned)(h.w[j] ^
							     s->q->w[j])) <= s->r;
		if (seen || (d = px_pdq_distance(&h, s->q)) > s->maxd)
			continue;
		if ((rc = s->fn(s->ctx, &h, rt, nrt, d)))
			return rc;
	}
	return 0;
}

int px_mih_search(struct px_kv_txn *txn, const char *prefix,
		  const struct px_pdq *q, int maxd, px_mih_fn fn, void *ctx,
		  struct px_errbuf *eb)
{
	struct search s = {txn, prefix, q, maxd, maxd / PX_PDQ_CHUNKS, 0,
			   fn, ctx, eb, {0}};
	int rc = 0;

	if (maxd < 0 || maxd > PX_MIH_MAX_DISTANCE || strlen(prefix) > 16)
		return px_errc(eb, PX_EINVAL, "invalid_distance",
			       "distance must be 0-%d", PX_MIH_MAX_DISTANCE);
	px_buf_init(&s.b, 0);
	for (s.chunk = 0; !rc && s.chunk < PX_PDQ_CHUNKS; s.chunk++)
		rc = px_pdq_probe(q->w[s.chunk], s.r, probe, &s);
	px_buf_release(&s.b);
	return rc;
}

/* A single image's change keeps its hash in ch->one. */
static int image_update(struct px_kv_txn *txn, const char *id,
			const char *hex, bool put, struct px_mih_change *ch,
			struct px_errbuf *eb)
{
	struct px_pdq local, *h = ch ? &ch->one : &local;
	struct entries e = {h, NULL, id};

	if (px_pdq_parse(hex, strlen(hex), h))
		return 0;
	if (ch)
		ch->h = h;
	return update(txn, PX_MIH_IMAGES, &e, 1, put, ch, eb);
}

int px_mih_image_put(struct px_kv_txn *txn, const char *id, const char *hex,
		     int quality, struct px_mih_change *ch,
		     struct px_errbuf *eb)
{
	if (!hex || !*hex || quality < PX_PDQ_MIN_QUALITY)
		return 0;
	return image_update(txn, id, hex, true, ch, eb);
}

int px_mih_image_del(struct px_kv_txn *txn, const char *id, const char *hex,
		     struct px_mih_change *ch, struct px_errbuf *eb)
{
	if (!hex || !*hex)
		return 0;
	return image_update(txn, id, hex, false, ch, eb);
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

/* The search of px_mih_similar through one of the two paths. */
static int similar(struct px_kv *kv, struct px_mihmem *mem,
		   const struct px_pdq *q, int maxd, const char *self,
		   struct px_mih_near *out, int max, int *n,
		   struct px_errbuf *eb)
{
	struct near_set ns = {self, NULL, 0, 0};
	struct px_kv_txn *txn = NULL;
	int rc;

	*n = 0;
	if ((rc = px_kv_begin(kv, PX_KV_RDONLY, &txn, eb)))
		return rc;
	if (mem)
		rc = px_mihmem_search(mem, txn, q, maxd, near_one, &ns, eb);
	else
		rc = px_mih_search(txn, PX_MIH_IMAGES, q, maxd, near_one, &ns,
				   eb);
	px_kv_abort(txn);
	if (rc)
		goto out;
	if (ns.n)
		qsort(ns.a, ns.n, sizeof(*ns.a), near_cmp);
	*n = (int)PX_MIN(ns.n, (size_t)max);
	if (*n)
		memcpy(out, ns.a, sizeof(*out) * (size_t)*n);
out:
	free(ns.a);
	return rc;
}

int px_catalog_similar(struct px_catalog *c, const struct px_pdq *q, int maxd,
		       const char *self, struct px_mih_near *out, int max,
		       int *n, struct px_errbuf *eb)
{
	return similar(px_catalog_kv(c), px_catalog_mihmem(c, PX_MIH_IMAGES),
		       q, maxd, self, out, max, n, eb);
}

int px_catalog_mih_search(struct px_catalog *c, struct px_kv_txn *txn,
			  const char *prefix, const struct px_pdq *q, int maxd,
			  px_mih_fn fn, void *ctx, struct px_errbuf *eb)
{
	struct px_mihmem *mem = px_catalog_mihmem(c, prefix);

	if (!mem)
		return px_mih_search(txn, prefix, q, maxd, fn, ctx, eb);
	return px_mihmem_search(mem, txn, q, maxd, fn, ctx, eb);
}

void px_catalog_mih_apply(struct px_catalog *c, const struct px_mih_change *ch)
{
	if (ch && ch->prefix)
		px_mihmem_apply(px_catalog_mihmem(c, ch->prefix), ch);
}

void px_catalog_mih_warm(struct px_catalog *c)
{
	px_mihmem_warm(px_catalog_mihmem(c, PX_MIH_IMAGES));
	px_mihmem_warm(px_catalog_mihmem(c, PX_MIH_LISTS));
}

int px_mih_similar(struct px_kv *kv, const struct px_pdq *q, int maxd,
		   const char *self, struct px_mih_near *out, int max, int *n,
		   struct px_errbuf *eb)
{
	return similar(kv, NULL, q, maxd, self, out, max, n, eb);
}
