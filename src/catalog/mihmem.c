/*
 * mihmem.c - the in-memory copy of a multi-index (see mihmem.h).
 *
 * One copy (struct idx) holds:
 *   slots   per entry: the hash as four 64-bit words and a tag number;
 *           free slots are chained through h[0]
 *   buckets per (chunk k, value v): the slot numbers of the entries whose
 *           chunk k is v; at build time every bucket of a chunk points
 *           into one exact-size block, a bucket that outgrows its room
 *           later gets its own allocation
 *   tags    interned (a list name is shared by all its hashes), counted,
 *           found through an open-addressing table
 * A copy is built whole from the store by a background thread and
 * swapped in under the write lock; changes after that are applied in
 * place (px_mihmem_apply).
 */
#include "catalog/internal.h"
#include "catalog/mihmem.h"
#include "core/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define NVAL 65536u
#define NBUCKETS (PX_PDQ_CHUNKS * NVAL)
#define POOLED 0x80000000u /* in cap: a points into the chunk's block */
#define DEAD UINT32_MAX    /* slot tag of a free slot */
#define HT_TOMB UINT32_MAX
#define REBUILD_DELAY_MS 100
#define PREFETCH 8 /* slots asked for ahead of the candidate checked */

struct bucket {
	uint32_t *a;
	uint32_t n, cap;
};

struct slot {
	uint64_t h[4];
	uint32_t tag;
};

struct tagent {
	char *z;
	uint32_t len, refs, hash; /* refs 0: free, chained through hash */
};

struct idx {
	uint64_t gen;
	struct bucket *b; /* NBUCKETS */
	uint32_t *block[PX_PDQ_CHUNKS];
	struct slot *s;
	uint32_t ns, caps, free_slot;
	uint64_t live;
	struct tagent *t;
	uint32_t nt, capt, free_tag;
	uint32_t *ht; /* tag number + 1; 0 empty; HT_TOMB removed */
	uint32_t htcap, htused;
};

struct px_mihmem {
	struct px_kv *kv;
	const char *prefix;
	pthread_rwlock_t lock;
	struct idx *cur; /* NULL until the first build */
	int64_t build_us;
	atomic_uint_fast64_t builds, store_searches;

	pthread_mutex_t bl; /* the builder thread's state */
	pthread_cond_t bc;
	pthread_t th;
	bool running, want, joinable;
	atomic_bool stopping;
};

/* --- hashes as words --- */

static void to_words(const struct px_pdq *p, uint64_t h[4])
{
	for (int i = 0; i < 4; i++)
		h[i] = (uint64_t)p->w[4 * i] | (uint64_t)p->w[4 * i + 1] << 16 |
		       (uint64_t)p->w[4 * i + 2] << 32 |
		       (uint64_t)p->w[4 * i + 3] << 48;
}

static void from_words(const uint64_t h[4], struct px_pdq *p)
{
	for (int k = 0; k < PX_PDQ_CHUNKS; k++)
		p->w[k] = (uint16_t)(h[k >> 2] >> ((k & 3) * 16));
}

static inline uint32_t chunk(const uint64_t h[4], int k)
{
	return (uint32_t)(h[k >> 2] >> ((k & 3) * 16)) & 0xffff;
}

static inline int distance(const uint64_t a[4], const uint64_t b[4])
{
	return __builtin_popcountll(a[0] ^ b[0]) +
	       __builtin_popcountll(a[1] ^ b[1]) +
	       __builtin_popcountll(a[2] ^ b[2]) +
	       __builtin_popcountll(a[3] ^ b[3]);
}

/* --- tags --- */

static uint32_t str_hash(const char *z, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)z[i]) * 16777619u;
	return h;
}

static int ht_grow(struct idx *x)
{
	uint32_t cap = x->htcap ? x->htcap * 2 : 64, *ht;

	/* Rehash the live tags; tombstones go. */
	while (cap / 2 < x->nt)
		cap *= 2;
	if (!(ht = calloc(cap, sizeof(*ht))))
		return PX_ENOMEM;
	for (uint32_t i = 0; i < x->nt; i++) {
		uint32_t j;

		if (!x->t[i].refs)
			continue;
		for (j = x->t[i].hash & (cap - 1); ht[j]; j = (j + 1) & (cap - 1))
			;
		ht[j] = i + 1;
	}
	free(x->ht);
	x->ht = ht;
	x->htcap = cap;
	x->htused = 0;
	for (uint32_t i = 0; i < x->nt; i++)
		x->htused += x->t[i].refs > 0;
	return 0;
}

/* The table position of tag z, or of the empty cell where it would go. */
static uint32_t ht_find(const struct idx *x, const char *z, size_t n,
			uint32_t h, bool *found)
{
	uint32_t j = h & (x->htcap - 1), tomb = UINT32_MAX;

	for (;; j = (j + 1) & (x->htcap - 1)) {
		uint32_t v = x->ht[j];

		if (!v) {
			*found = false;
			return tomb != UINT32_MAX ? tomb : j;
		}
		if (v == HT_TOMB) {
			if (tomb == UINT32_MAX)
				tomb = j;
			continue;
		}
		if (x->t[v - 1].hash == h && x->t[v - 1].len == n &&
		    !memcmp(x->t[v - 1].z, z, n)) {
			*found = true;
			return j;
		}
	}
}

/* The number of tag z, added with one reference or given one more. */
static int tag_ref(struct idx *x, const char *z, uint32_t *out)
{
	size_t n = strlen(z);
	uint32_t h = str_hash(z, n), j, id;
	bool found;

	if ((x->htused + 1) * 2 > x->htcap && ht_grow(x))
		return PX_ENOMEM;
	j = ht_find(x, z, n, h, &found);
	if (found) {
		id = x->ht[j] - 1;
		x->t[id].refs++;
		*out = id;
		return 0;
	}
	if (x->free_tag != UINT32_MAX) {
		id = x->free_tag;
		x->free_tag = x->t[id].hash;
	} else {
		if (x->nt == x->capt) {
			uint32_t cap = x->capt ? x->capt * 2 : 16;
			struct tagent *t = realloc(x->t, cap * sizeof(*t));

			if (!t)
				return PX_ENOMEM;
			x->t = t;
			x->capt = cap;
		}
		id = x->nt++;
	}
	if (!(x->t[id].z = strdup(z))) {
		x->t[id] = (struct tagent){NULL, 0, 0, x->free_tag};
		x->free_tag = id;
		return PX_ENOMEM;
	}
	x->t[id].len = (uint32_t)n;
	x->t[id].refs = 1;
	x->t[id].hash = h;
	if (!x->ht[j])
		x->htused++;
	x->ht[j] = id + 1;
	*out = id;
	return 0;
}

static void tag_unref(struct idx *x, uint32_t id)
{
	struct tagent *t = &x->t[id];
	uint32_t j;
	bool found;

	if (--t->refs)
		return;
	j = ht_find(x, t->z, t->len, t->hash, &found);
	if (found)
		x->ht[j] = HT_TOMB;
	free(t->z);
	t->z = NULL;
	t->hash = x->free_tag;
	x->free_tag = id;
}

/* Tag number of z if interned, else UINT32_MAX. */
static uint32_t tag_lookup(const struct idx *x, const char *z)
{
	size_t n = strlen(z);
	bool found;
	uint32_t j;

	if (!x->htcap)
		return UINT32_MAX;
	j = ht_find(x, z, n, str_hash(z, n), &found);
	return found ? x->ht[j] - 1 : UINT32_MAX;
}

/* --- a copy --- */

static void idx_free(struct idx *x)
{
	if (!x)
		return;
	if (x->b) {
		for (uint32_t i = 0; i < NBUCKETS; i++)
			if (!(x->b[i].cap & POOLED))
				free(x->b[i].a);
		free(x->b);
	}
	for (int k = 0; k < PX_PDQ_CHUNKS; k++)
		free(x->block[k]);
	for (uint32_t i = 0; i < x->nt; i++)
		free(x->t[i].z);
	free(x->t);
	free(x->ht);
	free(x->s);
	free(x);
}

static struct idx *idx_new(void)
{
	struct idx *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	x->free_slot = UINT32_MAX;
	x->free_tag = UINT32_MAX;
	if (!(x->b = calloc(NBUCKETS, sizeof(*x->b)))) {
		free(x);
		return NULL;
	}
	return x;
}

/* A slot for (h, tag); not yet in any bucket. */
static int slot_new(struct idx *x, const uint64_t h[4], const char *tag,
		    uint32_t *out)
{
	uint32_t id, t;
	int rc;

	if ((rc = tag_ref(x, tag, &t)))
		return rc;
	if (x->free_slot != UINT32_MAX) {
		id = x->free_slot;
		x->free_slot = (uint32_t)x->s[id].h[0];
	} else {
		if (x->ns == x->caps) {
			uint32_t cap = x->caps < 1024 ? 1024 : x->caps + x->caps / 2;
			struct slot *s;

			if (x->caps > UINT32_MAX / 2 ||
			    !(s = realloc(x->s, (size_t)cap * sizeof(*s)))) {
				tag_unref(x, t);
				return PX_ENOMEM;
			}
			x->s = s;
			x->caps = cap;
		}
		id = x->ns++;
	}
	memcpy(x->s[id].h, h, sizeof(x->s[id].h));
	x->s[id].tag = t;
	x->live++;
	*out = id;
	return 0;
}

static void slot_free(struct idx *x, uint32_t id)
{
	tag_unref(x, x->s[id].tag);
	x->s[id].tag = DEAD;
	x->s[id].h[0] = x->free_slot;
	x->free_slot = id;
	x->live--;
}

static int bucket_push(struct bucket *b, uint32_t id)
{
	uint32_t cap = b->cap & ~POOLED;

	if (b->n == cap) {
		uint32_t ncap = cap < 4 ? 4 : cap * 2;
		uint32_t *a = malloc((size_t)ncap * sizeof(*a));

		if (!a)
			return PX_ENOMEM;
		if (b->n)
			memcpy(a, b->a, (size_t)b->n * sizeof(*a));
		if (!(b->cap & POOLED))
			free(b->a);
		b->a = a;
		b->cap = ncap;
	}
	b->a[b->n++] = id;
	return 0;
}

static void bucket_drop(struct bucket *b, uint32_t id)
{
	for (uint32_t i = 0; i < b->n; i++) {
		if (b->a[i] == id) {
			b->a[i] = b->a[--b->n];
			return;
		}
	}
}

static int entry_put(struct idx *x, const uint64_t h[4], const char *tag)
{
	uint32_t id;
	int rc, k;

	if ((rc = slot_new(x, h, tag, &id)))
		return rc;
	for (k = 0; k < PX_PDQ_CHUNKS; k++)
		if ((rc = bucket_push(&x->b[k * NVAL + chunk(h, k)], id)))
			break;
	if (rc) {
		while (k-- > 0)
			bucket_drop(&x->b[k * NVAL + chunk(h, k)], id);
		slot_free(x, id);
	}
	return rc;
}

static void entry_del(struct idx *x, const uint64_t h[4], const char *tag)
{
	uint32_t t = tag_lookup(x, tag);
	const struct bucket *b0 = &x->b[chunk(h, 0)];

	if (t == UINT32_MAX)
		return;
	for (uint32_t i = 0; i < b0->n; i++) {
		uint32_t id = b0->a[i];

		if (x->s[id].tag != t || memcmp(x->s[id].h, h, 32))
			continue;
		for (int k = 0; k < PX_PDQ_CHUNKS; k++)
			bucket_drop(&x->b[k * NVAL + chunk(h, k)], id);
		slot_free(x, id);
		return;
	}
}

/* --- building from the store --- */

struct loader {
	struct idx *x;
	struct px_mihmem *m;
	int rc;
};

/* One bucket of chunk 0: every entry is in exactly one of them. */
static int load_bucket(void *arg, const void *key, size_t nkey,
		       const void *val, size_t nval)
{
	struct loader *ld = arg;
	const uint8_t *p = val;
	char tag[PX_MIH_TAG_MAX + 1];
	size_t off = 0;

	(void)key;
	(void)nkey;
	if (atomic_load(&ld->m->stopping))
		return 1;
	while (nval - off >= 33 && nval - off >= 33u + p[off + 32]) {
		struct px_pdq q;
		uint64_t h[4];
		uint32_t id;
		size_t nt = p[off + 32];

		px_pdq_from_bytes(p + off, &q);
		to_words(&q, h);
		memcpy(tag, p + off + 33, nt);
		tag[nt] = '\0';
		off += 33 + nt;
		if (!nt || memchr(tag, '\0', nt))
			continue; /* not something mih.c writes */
		if ((ld->rc = slot_new(ld->x, h, tag, &id)))
			return ld->rc;
	}
	return 0;
}

/* Lay the slots out in exact-size blocks, one per chunk. */
static int layout(struct idx *x)
{
	if (x->ns && x->ns < x->caps) {
		struct slot *s = realloc(x->s, (size_t)x->ns * sizeof(*s));

		if (s) {
			x->s = s;
			x->caps = x->ns;
		}
	}
	for (int k = 0; k < PX_PDQ_CHUNKS; k++) {
		struct bucket *b = &x->b[k * NVAL];
		uint32_t *block, pos = 0;

		for (uint32_t i = 0; i < x->ns; i++)
			b[chunk(x->s[i].h, k)].cap++;
		if (x->ns && !(block = malloc((size_t)x->ns * sizeof(*block))))
			return PX_ENOMEM;
		if (!x->ns)
			continue;
		x->block[k] = block;
		for (uint32_t v = 0; v < NVAL; v++) {
			b[v].a = block + pos;
			pos += b[v].cap;
			b[v].cap |= POOLED;
		}
		for (uint32_t i = 0; i < x->ns; i++) {
			struct bucket *bb = &b[chunk(x->s[i].h, k)];

			bb->a[bb->n++] = i;
		}
	}
	return 0;
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int px_mihmem_build(struct px_mihmem *m, struct px_errbuf *eb)
{
	struct loader ld = {NULL, m, 0};
	struct px_kv_txn *txn = NULL;
	struct idx *old = NULL;
	uint8_t key[24];
	size_t nkey = strlen(m->prefix);
	int64_t t0 = now_us();
	uint64_t g;
	int rc;

	if ((rc = px_kv_begin(m->kv, PX_KV_RDONLY, &txn, eb)))
		return rc;
	if ((rc = px_mih_gen(txn, m->prefix, &g, eb)))
		goto out;
	pthread_rwlock_rdlock(&m->lock);
	rc = m->cur && m->cur->gen == g ? 1 : 0;
	pthread_rwlock_unlock(&m->lock);
	if (rc) {
		rc = 0; /* current already */
		goto out;
	}
	if (!(ld.x = idx_new())) {
		rc = PX_ENOMEM;
		goto out;
	}
	ld.x->gen = g;
	memcpy(key, m->prefix, nkey);
	key[nkey++] = 0; /* chunk 0 */
	rc = px_kv_scan(txn, key, nkey, NULL, 0, 0, load_bucket, &ld, eb);
	px_kv_abort(txn);
	txn = NULL;
	if (!rc && ld.rc)
		rc = ld.rc;
	if (!rc && atomic_load(&m->stopping))
		rc = PX_EBUSY;
	if (rc || (rc = layout(ld.x)))
		goto out;
	pthread_rwlock_wrlock(&m->lock);
	if (!m->cur || m->cur->gen < ld.x->gen) {
		old = m->cur;
		m->cur = ld.x;
		ld.x = NULL;
		m->build_us = now_us() - t0;
		atomic_fetch_add(&m->builds, 1);
	}
	pthread_rwlock_unlock(&m->lock);
out:
	px_kv_abort(txn);
	idx_free(old);
	idx_free(ld.x);
	if (rc == PX_ENOMEM)
		px_errf(eb, rc, "out of memory building the index \"%s\"",
			m->prefix);
	return rc;
}

static void *builder(void *arg)
{
	struct px_mihmem *m = arg;

	pthread_mutex_lock(&m->bl);
	while (m->want && !atomic_load(&m->stopping)) {
		struct px_errbuf eb = {0};
		bool had;

		m->want = false;
		pthread_rwlock_rdlock(&m->lock);
		had = m->cur != NULL;
		pthread_rwlock_unlock(&m->lock);
		if (had) {
			/* A change committed here may be a moment from being
			 * applied: give it the time before reading it all. */
			struct timespec until;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += REBUILD_DELAY_MS * 1000000L;
			until.tv_sec += until.tv_nsec / 1000000000L;
			until.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&m->bc, &m->bl, &until);
			if (atomic_load(&m->stopping))
				break;
		}
		pthread_mutex_unlock(&m->bl);
		if (px_mihmem_build(m, &eb) && !atomic_load(&m->stopping))
			px_logf(PX_LOG_WARN, "index \"%s\" not built: %s",
				m->prefix, eb.msg);
		pthread_mutex_lock(&m->bl);
	}
	m->running = false;
	pthread_mutex_unlock(&m->bl);
	return NULL;
}

static void request_build(struct px_mihmem *m)
{
	pthread_mutex_lock(&m->bl);
	m->want = true;
	if (!m->running && !atomic_load(&m->stopping)) {
		if (m->joinable)
			pthread_join(m->th, NULL); /* finished: returns at once */
		m->joinable = false;
		if (pthread_create(&m->th, NULL, builder, m) == 0)
			m->running = m->joinable = true;
	}
	pthread_mutex_unlock(&m->bl);
}

int px_mihmem_new(struct px_kv *kv, const char *prefix, struct px_mihmem **out)
{
	struct px_mihmem *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (!m)
		return PX_ENOMEM;
	m->kv = kv;
	m->prefix = prefix;
	pthread_rwlock_init(&m->lock, NULL);
	pthread_mutex_init(&m->bl, NULL);
	pthread_cond_init(&m->bc, NULL);
	atomic_init(&m->stopping, false);
	atomic_init(&m->builds, 0);
	atomic_init(&m->store_searches, 0);
	*out = m;
	return 0;
}

void px_mihmem_free(struct px_mihmem *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->bl);
	atomic_store(&m->stopping, true);
	pthread_cond_broadcast(&m->bc);
	pthread_mutex_unlock(&m->bl);
	if (m->joinable)
		pthread_join(m->th, NULL);
	idx_free(m->cur);
	pthread_cond_destroy(&m->bc);
	pthread_mutex_destroy(&m->bl);
	pthread_rwlock_destroy(&m->lock);
	free(m);
}

void px_mihmem_warm(struct px_mihmem *m)
{
	if (m)
		request_build(m);
}

void px_mihmem_apply(struct px_mihmem *m, const struct px_mih_change *ch)
{
	int rc = 0;

	if (!m || !ch || !ch->prefix)
		return;
	pthread_rwlock_wrlock(&m->lock);
	if (m->cur && m->cur->gen == ch->gen) {
		for (size_t i = 0; !rc && i < ch->n; i++) {
			const char *tag = ch->tags ? ch->tags[i] : ch->tag;
			uint64_t h[4];

			to_words(&ch->h[i], h);
			if (ch->put)
				rc = entry_put(m->cur, h, tag);
			else
				entry_del(m->cur, h, tag);
		}
		if (rc) {
			/* Out of memory part way: searches go to the store
			 * until a rebuild succeeds. */
			idx_free(m->cur);
			m->cur = NULL;
		} else {
			m->cur->gen = ch->gen + 1;
		}
	}
	/* Otherwise the copy was behind already; the next search notices. */
	pthread_rwlock_unlock(&m->lock);
}

/* --- searching --- */

struct probe {
	const struct idx *x;
	uint64_t q[4];
	int maxd, r, k;
	px_mih_fn fn;
	void *ctx;
};

static int probe_bucket(void *arg, uint16_t v)
{
	struct probe *p = arg;
	const struct bucket *b = &p->x->b[p->k * NVAL + v];

	/* Candidates are scattered over the slots: ask for a few ahead so
	 * the cache misses overlap instead of queueing one behind another. */
	for (uint32_t i = 0; i < b->n && i < PREFETCH; i++)
		__builtin_prefetch(&p->x->s[b->a[i]]);
	for (uint32_t i = 0; i < b->n; i++) {
		const struct slot *s = &p->x->s[b->a[i]];
		const struct tagent *t;
		struct px_pdq h;
		bool seen = false;
		int d, rc;

		if (i + PREFETCH < b->n)
			__builtin_prefetch(&p->x->s[b->a[i + PREFETCH]]);
		d = distance(s->h, p->q);
		if (d > p->maxd)
			continue;
		/* Reported already through an earlier chunk within r. */
		for (int j = 0; !seen && j < p->k; j++)
			seen = __builtin_popcount(chunk(s->h, j) ^
						  chunk(p->q, j)) <= p->r;
		if (seen)
			continue;
		t = &p->x->t[s->tag];
		from_words(s->h, &h);
		if ((rc = p->fn(p->ctx, &h, t->z, t->len, d)))
			return rc;
	}
	return 0;
}

int px_mihmem_search(struct px_mihmem *m, struct px_kv_txn *txn,
		     const struct px_pdq *q, int maxd, px_mih_fn fn, void *ctx,
		     struct px_errbuf *eb)
{
	uint64_t g;
	int rc;

	if (maxd < 0 || maxd > PX_MIH_MAX_DISTANCE)
		return px_errc(eb, PX_EINVAL, "invalid_distance",
			       "distance must be 0-%d", PX_MIH_MAX_DISTANCE);
	if ((rc = px_mih_gen(txn, m->prefix, &g, eb)))
		return rc;
	pthread_rwlock_rdlock(&m->lock);
	if (m->cur && m->cur->gen == g) {
		struct probe p = {m->cur, {0}, maxd, maxd / PX_PDQ_CHUNKS, 0,
				  fn, ctx};

		to_words(q, p.q);
		for (p.k = 0; !rc && p.k < PX_PDQ_CHUNKS; p.k++)
			rc = px_pdq_probe(q->w[p.k], p.r, probe_bucket, &p);
		pthread_rwlock_unlock(&m->lock);
		return rc;
	}
	pthread_rwlock_unlock(&m->lock);
	request_build(m);
	atomic_fetch_add(&m->store_searches, 1);
	return px_mih_search(txn, m->prefix, q, maxd, fn, ctx, eb);
}

void px_mihmem_stats(struct px_mihmem *m, struct px_mihmem_stats *st)
{
	const struct idx *x;

	memset(st, 0, sizeof(*st));
	pthread_rwlock_rdlock(&m->lock);
	if ((x = m->cur)) {
		uint64_t bytes = sizeof(*x) + (uint64_t)NBUCKETS * sizeof(*x->b) +
				 (uint64_t)x->caps * sizeof(*x->s) +
				 (uint64_t)x->capt * sizeof(*x->t) +
				 (uint64_t)x->htcap * sizeof(*x->ht);

		for (int k = 0; k < PX_PDQ_CHUNKS; k++)
			bytes += x->block[k] ? (uint64_t)x->ns * 4 : 0;
		for (uint32_t i = 0; i < NBUCKETS; i++)
			if (!(x->b[i].cap & POOLED))
				bytes += (uint64_t)x->b[i].cap * 4;
		for (uint32_t i = 0; i < x->nt; i++)
			bytes += x->t[i].z ? x->t[i].len + 1 : 0;
		st->ready = true;
		st->gen = x->gen;
		st->entries = x->live;
		st->bytes = bytes;
	}
	st->build_us = m->build_us;
	pthread_rwlock_unlock(&m->lock);
	st->builds = atomic_load(&m->builds);
	st->store_searches = atomic_load(&m->store_searches);
}
