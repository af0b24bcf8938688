/*
 * test_cache.c - the result cache: eviction policies (SIEVE and LRU),
 * the disk entry format, and the two tiers with coalescing and purges
 * through the public interface.
 */
#include "cache/cache.c"
#include "cache/entry.c"
#include "cache/index.c"

#include "t.h"

#include <ftw.h>

static struct px_cache_ent *mk(unsigned id, uint64_t cost)
{
	struct px_cache_ent *e = calloc(1, sizeof(*e));

	memcpy(e->hash, &id, sizeof(id));
	snprintf(e->sha256, sizeof(e->sha256), "%064u", id % 3);
	strcpy(e->tag, id % 2 ? "-" : "abcdef01");
	e->cost = cost;
	return e;
}

static uint8_t *hid(unsigned id)
{
	static uint8_t h[32];

	memset(h, 0, sizeof(h));
	memcpy(h, &id, sizeof(id));
	return h;
}

static bool has(struct px_cache_index *ix, unsigned id)
{
	return px_cache_index_peek(ix, hid(id)) != NULL;
}

static unsigned free_list(struct px_cache_ent *v, unsigned *first)
{
	unsigned n = 0;

	while (v) {
		struct px_cache_ent *next = v->next;

		if (first && n == 0)
			memcpy(first, v->hash, sizeof(*first));
		free(v);
		v = next;
		n++;
	}
	return n;
}

static void put(struct px_cache_index *ix, unsigned id, uint64_t cost,
		unsigned *evicted, unsigned *victim)
{
	struct px_cache_ent *v = NULL, *e = mk(id, cost);

	if (px_cache_index_put(ix, e, &v))
		free(e);
	*evicted += free_list(v, victim);
}

static void free_ent(struct px_cache_ent *e)
{
	free(e);
}

/* A deterministic Zipf(s=1) sampler over n keys. */
struct zipf {
	double *cdf;
	unsigned n;
	uint64_t state;
};

static void zipf_init(struct zipf *z, unsigned n)
{
	double sum = 0;

	z->cdf = malloc(n * sizeof(double));
	z->n = n;
	z->state = 88172645463325252ull;
	for (unsigned i = 0; i < n; i++)
		sum += 1.0 / (i + 1);
	for (unsigned i = 0, acc = 0; i < n; i++, acc++) {
		(void)acc;
		z->cdf[i] = (i ? z->cdf[i - 1] : 0) + 1.0 / (i + 1) / sum;
	}
}

static unsigned zipf_next(struct zipf *z)
{
	double u;
	unsigned lo = 0, hi = z->n - 1;

	z->state ^= z->state << 13;
	z->state ^= z->state >> 7;
	z->state ^= z->state << 17;
	u = (double)(z->state >> 11) / 9007199254740992.0;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (z->cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static double hit_ratio(enum px_cache_policy p, unsigned nkeys, unsigned cap,
			unsigned nreq, bool scans)
{
	struct px_cache_index ix;
	struct zipf z;
	unsigned hits = 0, ev = 0, v, scan_id = 1000000;

	px_cache_index_init(&ix, cap, p);
	zipf_init(&z, nkeys);
	for (unsigned i = 0; i < nreq; i++) {
		unsigned id = zipf_next(&z) + 1;

		if (px_cache_index_get(&ix, hid(id)))
			hits++;
		else
			put(&ix, id, 1, &ev, &v);
		/* One-hit wonders between the popular requests. */
		if (scans && i % 2 == 0 && !px_cache_index_get(&ix, hid(scan_id)))
			put(&ix, scan_id++, 1, &ev, &v);
	}
	px_cache_index_release(&ix, free_ent);
	free(z.cdf);
	return (double)hits / nreq;
}

static void test_index(void)
{
	T_CASE("sieve: a visited entry survives the hand, the next one goes")
	{
		struct px_cache_index ix;
		unsigned ev = 0, v = 0;

		px_cache_index_init(&ix, 3, PX_CACHE_SIEVE);
		put(&ix, 1, 1, &ev, &v);
		put(&ix, 2, 1, &ev, &v);
		put(&ix, 3, 1, &ev, &v);
		T_OK(px_cache_index_get(&ix, hid(1)) != NULL);
		put(&ix, 4, 1, &ev, &v);
		T_EQ(ev, 1u);
		T_EQ(v, 2u); /* 1 was visited: its bit is cleared, 2 goes */
		T_OK(has(&ix, 1) && !has(&ix, 2) && has(&ix, 3) && has(&ix, 4));
		/* The hand stayed at 3: it goes next, not 1 again. */
		put(&ix, 5, 1, &ev, &v);
		T_EQ(v, 3u);
		/* The hand goes on toward the head; 1, behind it now, stays
		 * until the hand wraps round. */
		put(&ix, 6, 1, &ev, &v);
		T_EQ(v, 4u);
		T_OK(has(&ix, 1));
		T_EQ(ix.evictions, 3u);
		/* With the hand at the head it wraps to the tail: 1 goes. */
		ix.hand = NULL;
		put(&ix, 7, 1, &ev, &v);
		T_EQ(v, 1u);
		px_cache_index_release(&ix, free_ent);
	}
	T_CASE("lru: a hit moves to the head, the tail goes")
	{
		struct px_cache_index ix;
		unsigned ev = 0, v = 0;

		px_cache_index_init(&ix, 3, PX_CACHE_LRU);
		put(&ix, 1, 1, &ev, &v);
		put(&ix, 2, 1, &ev, &v);
		put(&ix, 3, 1, &ev, &v);
		px_cache_index_get(&ix, hid(1));
		put(&ix, 4, 1, &ev, &v);
		T_EQ(v, 2u);
		put(&ix, 5, 1, &ev, &v);
		T_EQ(v, 3u);
		put(&ix, 6, 1, &ev, &v);
		T_EQ(v, 1u);
		px_cache_index_release(&ix, free_ent);
	}
	T_CASE("the byte budget holds with entries of every size")
	{
		struct px_cache_index ix;
		unsigned ev = 0, v, over = 0;
		uint64_t seed = 7;

		px_cache_index_init(&ix, 10000, PX_CACHE_SIEVE);
		for (unsigned i = 1; i <= 5000; i++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			put(&ix, i, 1 + (seed >> 33) % 3000, &ev, &v);
			if (i % 3 == 0)
				px_cache_index_get(&ix, hid(i - 1));
			over += ix.used > ix.cap;
		}
		T_EQ(over, 0u);
		T_OK(ix.count > 2 && ev > 1000);
		/* one entry over the whole budget is refused */
		{
			struct px_cache_ent *big = mk(99999, 10001), *vl = NULL;

			T_EQ(px_cache_index_put(&ix, big, &vl), PX_ETOOBIG);
			T_OK(vl == NULL);
			free(big);
		}
		px_cache_index_release(&ix, free_ent);
	}
	T_CASE("purge removes the matching entries only")
	{
		struct px_cache_index ix;
		struct px_cache_ent *vl = NULL;
		unsigned ev = 0, v;
		char sha0[65];

		snprintf(sha0, sizeof(sha0), "%064u", 0);
		px_cache_index_init(&ix, 100, PX_CACHE_SIEVE);
		for (unsigned i = 1; i <= 9; i++)
			put(&ix, i, 1, &ev, &v);
		{
			const char *list[] = {sha0};
			struct px_cache_purge p = {.sha256 = list, .n_sha256 = 1};

			/* ids 3, 6, 9 have sha "0..0" */
			T_EQ(px_cache_index_purge(&ix, purge_match, &p, &vl), 3u);
		}
		T_EQ(free_list(vl, NULL), 3u);
		T_OK(!has(&ix, 3) && !has(&ix, 6) && !has(&ix, 9) && has(&ix, 1));
		T_EQ(ix.count, 6u);
		T_EQ(ix.used, 6u);
		px_cache_index_release(&ix, free_ent);
	}
	T_CASE("zipf: sieve keeps more hits than lru, most with one-hit wonders")
	{
		double s = hit_ratio(PX_CACHE_SIEVE, 1000, 200, 100000, false);
		double l = hit_ratio(PX_CACHE_LRU, 1000, 200, 100000, false);
		double ss = hit_ratio(PX_CACHE_SIEVE, 1000, 200, 100000, true);
		double ls = hit_ratio(PX_CACHE_LRU, 1000, 200, 100000, true);

		printf("zipf 1000 keys, cache 200: sieve %.3f lru %.3f; "
		       "with one-hit wonders: sieve %.3f lru %.3f\n",
		       s, l, ss, ls);
		T_OK(s > l);
		T_OK(ss > ls + 0.05);
	}
}

static void test_entry(void)
{
	const char *key = "aaaa|w=1|webp|", *body = "0123456789abcdef";
	struct px_cache_entry e;
	struct px_buf f;

	px_buf_init(&f, 0);
	T_CASE("format, parse and verify round-trip")
	{
		T_EQ(px_cache_entry_format(key, "image/webp", body, 16, &f), 0);
		px_buf_add(&f, body, 16);
		T_EQ(px_cache_entry_parse(f.data, f.len, f.len, &e), 0);
		T_STREQ(e.key, key);
		T_STREQ(e.ctype, "image/webp");
		T_EQ(e.blen, 16u);
		T_EQ(e.hlen + 16, f.len);
		T_OK(px_cache_entry_verify(f.data, f.len, &e));
	}
	T_CASE("truncation and extension are caught by the size")
	{
		T_EQ(px_cache_entry_parse(f.data, f.len, f.len - 1, &e), PX_ECORRUPT);
		T_EQ(px_cache_entry_parse(f.data, f.len, f.len + 1, &e), PX_ECORRUPT);
		T_EQ(px_cache_entry_parse(f.data, 40, 40, &e), PX_ECORRUPT);
	}
	T_CASE("a flipped bit anywhere is caught")
	{
		unsigned caught = 0;

		for (size_t i = 0; i < f.len; i++) {
			f.data[i] ^= 0x10;
			if (px_cache_entry_parse(f.data, f.len, f.len, &e) ||
			    !px_cache_entry_verify(f.data, f.len, &e) ||
			    strcmp(e.key, key) || strcmp(e.ctype, "image/webp"))
				caught++;
			f.data[i] ^= 0x10;
		}
		/* Bytes 12..15 (status) and 20..23 (high length) are caught by
		 * the range checks; every byte counts. */
		T_EQ(caught, (unsigned)f.len);
	}
	px_buf_release(&f);
}

/* --- the cache through its interface --- */

static int rm_cb(const char *p, const struct stat *st, int flag,
		 struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static struct px_cache *open_cache(const char *dir, uint64_t mem,
				   uint64_t disk, int wait_ms)
{
	struct px_cache_opts o = {.memory_bytes = mem, .disk_bytes = disk,
				  .dir = dir, .wait_ms = wait_ms};
	struct px_errbuf eb = {0};
	struct px_cache *c = NULL;

	px_cache_new(&o, &c, &eb);
	return c;
}

static void wait_scan(struct px_cache *c)
{
	pthread_mutex_lock(&c->disk_lock);
	while (!c->scanned)
		pthread_cond_wait(&c->scanned_cond, &c->disk_lock);
	pthread_mutex_unlock(&c->disk_lock);
}

static void mkkey(struct px_cache_key *k, unsigned img, unsigned v)
{
	char sha[65], canon[32];

	snprintf(sha, sizeof(sha), "%064u", img);
	snprintf(canon, sizeof(canon), "w=%u|webp", v);
	px_cache_key_make(k, sha, canon, NULL);
}

static void store(struct px_cache *c, unsigned img, unsigned v, size_t n)
{
	struct px_cache_key k;
	struct px_cache_hit h;
	struct px_cache_item *it;
	unsigned char *b = malloc(n);

	memset(b, (int)(img * 7 + v), n);
	mkkey(&k, img, v);
	T_EQ(px_cache_join(c, &k, NULL, NULL, &h), PX_CACHE_LEAD);
	it = px_cache_item_new(200, "image/webp", b, n);
	px_cache_land(c, &k, it, true);
	px_cache_item_unref(it);
	free(b);
}

struct waited {
	struct px_cache_waiter w;
	int parked, called, status;
	bool timed_out;
	size_t len;
};

static void on_park(void *arg)
{
	((struct waited *)arg)->parked++;
}

static void on_done(struct px_cache_waiter *w, struct px_cache_item *res,
		    bool timed_out)
{
	struct waited *x = w->arg;

	x->called++;
	x->timed_out = timed_out;
	x->status = res ? res->status : 0;
	x->len = res ? res->len : 0;
}

static void test_tiers(void)
{
	char dir[] = "/tmp/pictor-test-cache-XXXXXX";
	struct px_cache_key k;
	struct px_cache_hit h;
	struct px_cache *c;

	if (!mkdtemp(dir))
		return;
	T_CASE("memory hit, then a disk hit after a restart")
	{
		c = open_cache(dir, 1 << 20, 1 << 20, 0);
		T_OK(c != NULL);
		store(c, 1, 1, 1000);
		mkkey(&k, 1, 1);
		T_EQ(px_cache_get(c, &k, &h), 0);
		T_EQ(h.tier, PX_CACHE_MEMORY);
		T_EQ(h.item->len, 1000u);
		px_cache_hit_release(&h);
		px_cache_free(c);

		c = open_cache(dir, 1 << 20, 1 << 20, 0);
		T_EQ(px_cache_get(c, &k, &h), 0);
		T_EQ(h.tier, PX_CACHE_DISK);
		T_EQ(h.len, 1000u);
		T_STREQ(h.ctype, "image/webp");
		px_cache_hit_release(&h);
		/* promoted */
		T_EQ(px_cache_get(c, &k, &h), 0);
		T_EQ(h.tier, PX_CACHE_MEMORY);
		px_cache_hit_release(&h);
		px_cache_free(c);
	}
	T_CASE("a file removed behind the index is a miss and is no longer counted")
	{
		struct px_cache_stats s0, s1;
		char path[4096];

		c = open_cache(dir, 0, 1 << 20, 0);
		wait_scan(c);
		store(c, 7, 1, 500);
		mkkey(&k, 7, 1);
		px_cache_stats(c, &s0);
		disk_path(c, k.sha256, k.hex, k.tag, path, sizeof(path));
		T_EQ(unlink(path), 0);
		T_EQ(px_cache_get(c, &k, &h), PX_ENOTFOUND);
		px_cache_stats(c, &s1);
		T_EQ(s1.entries[PX_CACHE_DISK] + 1, s0.entries[PX_CACHE_DISK]);
		T_EQ(s1.bytes[PX_CACHE_DISK] + 500 + PX_CACHE_ENTRY_FIXED + 3 +
			     strlen(k.text) + strlen("image/webp"),
		     s0.bytes[PX_CACHE_DISK]);
		px_cache_free(c);
	}
	T_CASE("the disk budget holds across a restart with a smaller one")
	{
		struct px_cache_stats s;

		c = open_cache(dir, 0, 100000, 0);
		for (unsigned i = 0; i < 40; i++)
			store(c, 2, i, 2000);
		wait_scan(c);
		px_cache_stats(c, &s);
		T_OK(s.bytes[PX_CACHE_DISK] <= 100000);
		T_OK(s.entries[PX_CACHE_DISK] >= 40);
		px_cache_free(c);
		c = open_cache(dir, 0, 30000, 0);
		wait_scan(c);
		px_cache_stats(c, &s);
		T_OK(s.bytes[PX_CACHE_DISK] <= 30000);
		T_OK(s.entries[PX_CACHE_DISK] > 5);
		T_OK(s.evictions[PX_CACHE_DISK] > 20);
		px_cache_free(c);
	}
	T_CASE("coalescing: waiters get the leader's result once")
	{
		struct waited a = {0}, b = {0};
		struct px_cache_item *it;

		c = open_cache(dir, 1 << 20, 0, 0);
		mkkey(&k, 3, 1);
		a.w.fn = b.w.fn = on_done;
		a.w.arg = &a;
		b.w.arg = &b;
		T_EQ(px_cache_join(c, &k, NULL, NULL, &h), PX_CACHE_LEAD);
		T_EQ(px_cache_join(c, &k, &a.w, on_park, &h), PX_CACHE_JOINED);
		T_EQ(px_cache_join(c, &k, &b.w, on_park, &h), PX_CACHE_JOINED);
		T_EQ(a.parked + b.parked, 2);
		T_EQ(a.called + b.called, 0);
		it = px_cache_item_new(422, "application/json", "{}", 2);
		T_OK(!px_cache_land(c, &k, it, true)); /* errors are not stored */
		px_cache_item_unref(it);
		T_EQ(a.called, 1);
		T_EQ(b.called, 1);
		T_EQ(a.status, 422);
		T_EQ(px_cache_get(c, &k, &h), PX_ENOTFOUND);
		/* a later render that works: stored, and a late joiner finds it */
		T_EQ(px_cache_join(c, &k, NULL, NULL, &h), PX_CACHE_LEAD);
		it = px_cache_item_new(200, "image/png", "png!", 4);
		T_OK(px_cache_land(c, &k, it, true));
		px_cache_item_unref(it);
		T_EQ(px_cache_join(c, &k, &a.w, on_park, &h), PX_CACHE_FOUND);
		T_EQ(h.item->len, 4u);
		px_cache_hit_release(&h);
		T_EQ(a.called, 1);
		px_cache_free(c);
	}
	T_CASE("a waiter whose render is stuck is answered after the bound")
	{
		struct waited a = {0};

		c = open_cache(dir, 1 << 20, 0, 50);
		mkkey(&k, 4, 1);
		a.w.fn = on_done;
		a.w.arg = &a;
		T_EQ(px_cache_join(c, &k, NULL, NULL, &h), PX_CACHE_LEAD);
		T_EQ(px_cache_join(c, &k, &a.w, on_park, &h), PX_CACHE_JOINED);
		for (int i = 0; i < 200 && !a.called; i++)
			usleep(10000);
		T_EQ(a.called, 1);
		T_OK(a.timed_out);
		px_cache_land(c, &k, NULL, true); /* nobody is left to call */
		T_EQ(a.called, 1);
		px_cache_free(c);
	}
	T_CASE("purge by image, by variant and everything, both tiers")
	{
		struct px_cache_stats s;
		struct px_cache_key kv;
		char sha5[65];
		const char *shas[] = {sha5}, *vars[] = {"thumb"};
		uint64_t n = 0;

		c = open_cache(dir, 1 << 20, 1 << 20, 0);
		wait_scan(c);
		{
			struct px_cache_purge all = {.everything = true};

			px_cache_purge(c, &all, NULL, NULL);
		}
		store(c, 5, 1, 100);
		store(c, 5, 2, 100);
		store(c, 6, 1, 100);
		snprintf(sha5, sizeof(sha5), "%064u", 6);
		px_cache_key_make(&kv, sha5, "w=9|webp", "thumb");
		T_EQ(px_cache_join(c, &kv, NULL, NULL, &h), PX_CACHE_LEAD);
		{
			struct px_cache_item *it = px_cache_item_new(200, "x/y", "z", 1);

			px_cache_land(c, &kv, it, true);
			px_cache_item_unref(it);
		}
		snprintf(sha5, sizeof(sha5), "%064u", 5);
		{
			struct px_cache_purge p = {.sha256 = shas, .n_sha256 = 1};

			T_EQ(px_cache_purge(c, &p, &n, NULL), 0);
			T_EQ(n, 4u); /* two entries, two tiers */
		}
		mkkey(&k, 5, 1);
		T_EQ(px_cache_get(c, &k, &h), PX_ENOTFOUND);
		mkkey(&k, 6, 1);
		T_EQ(px_cache_get(c, &k, &h), 0);
		px_cache_hit_release(&h);
		{
			struct px_cache_purge p = {.variants = vars, .n_variants = 1};

			T_EQ(px_cache_purge(c, &p, &n, NULL), 0);
			T_EQ(n, 2u);
		}
		T_EQ(px_cache_get(c, &kv, &h), PX_ENOTFOUND);
		{
			struct px_cache_purge p = {.everything = true};

			T_EQ(px_cache_purge(c, &p, &n, NULL), 0);
			T_EQ(n, 2u);
		}
		px_cache_stats(c, &s);
		T_EQ(s.bytes[PX_CACHE_MEMORY] + s.bytes[PX_CACHE_DISK], 0u);
		px_cache_free(c);
	}
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void run(void)
{
	test_index();
	test_entry();
	test_tiers();
}
