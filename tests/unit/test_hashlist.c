/*
 * test_hashlist.c - the multi-index (catalog/mih.c) against a brute-force
 * scan, the hash lists (catalog/hashlist.c) and the import text parser
 * (hash/hashtext.c), over the in-memory and LMDB kv backends.
 */
#include "catalog/hashlist.h"
#include "catalog/mihmem.h"
#include "hash/hashtext.h"

#include "t.h"

#include <unistd.h>

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint16_t rnd16(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint16_t)(rng >> 24);
}

static void random_hash(struct px_pdq *h)
{
	for (int i = 0; i < PX_PDQ_WORDS; i++)
		h->w[i] = rnd16();
}

/* h with exactly d random bits flipped. */
static void near_hash(const struct px_pdq *h, int d, struct px_pdq *out)
{
	*out = *h;
	while (px_pdq_distance(h, out) < d) {
		int b = rnd16() % 256;

		out->w[b / 16] ^= (uint16_t)(1u << (b % 16));
	}
}

#define N 600

struct found {
	int n, dup;
	uint8_t seen[N];
};

static int found_one(void *ctx, const struct px_pdq *h, const char *tag,
		     size_t ntag, int d)
{
	struct found *f = ctx;
	char z[16];
	int i;

	if (ntag >= sizeof(z))
		return 0;
	memcpy(z, tag, ntag);
	z[ntag] = '\0';
	if ((i = atoi(z)) < 0 || i >= N)
		return 0;
	if (f->seen[i]++)
		f->dup++;
	f->n++;
	return 0;
}

static int count_one(void *ctx, const struct px_pdq *h, const char *tag,
		     size_t ntag, int d)
{
	struct found *f = ctx;

	f->n += ntag == 4 && !memcmp(tag, "bulk", 4);
	return 0;
}

/* Every entry within d found exactly once, nothing farther. */
static void t_mih(const struct px_kv_ops *ops, const char *loc)
{
	static struct px_pdq hs[N];
	struct px_errbuf eb = {0};
	struct px_kv *kv = NULL;
	struct px_kv_txn *txn = NULL;
	char tag[16];

	T_CASE("mih: open") T_EQ(px_kv_open(ops, loc, 0, &kv, &eb), 0);
	if (!kv)
		return;
	random_hash(&hs[0]);
	for (int i = 1; i < N; i++) {
		/* Clusters around a few centres at every distance up to 70. */
		if (i % 50 == 0)
			random_hash(&hs[i]);
		else
			near_hash(&hs[i - i % 50], (i * 7) % 71, &hs[i]);
	}
	T_EQ(px_kv_begin(kv, 0, &txn, &eb), 0);
	for (int i = 0; i < N; i++) {
		snprintf(tag, sizeof(tag), "%d", i);
		T_EQ(px_mih_put(txn, "t/", &hs[i], 1, tag, NULL, &eb), 0);
	}
	T_EQ(px_kv_commit(txn, &eb), 0);
	T_EQ(px_kv_begin(kv, PX_KV_RDONLY, &txn, &eb), 0);
	for (int q = 0; q < N; q += 37) {
		for (int d = 0; d <= PX_MIH_MAX_DISTANCE; d += 9) {
			struct found f;
			int want = 0;

			memset(&f, 0, sizeof(f));
			for (int i = 0; i < N; i++)
				want += px_pdq_distance(&hs[i], &hs[q]) <= d;
			T_CASE("mih: same as brute force, no duplicates")
			{
				T_EQ(px_mih_search(txn, "t/", &hs[q], d, found_one,
						   &f, &eb), 0);
				T_EQ(f.n, want);
				T_EQ(f.dup, 0);
			}
		}
	}
	T_CASE("mih: distance out of range")
	{
		struct found f = {0};

		T_EQ(px_mih_search(txn, "t/", &hs[0], 65, found_one, &f, &eb),
		     PX_EINVAL);
	}
	px_kv_abort(txn);
	/* Removing one entry's keys removes it from every search. */
	T_EQ(px_kv_begin(kv, 0, &txn, &eb), 0);
	T_EQ(px_mih_del(txn, "t/", &hs[1], 1, "1", NULL, &eb), 0);
	T_EQ(px_mih_del(txn, "t/", &hs[1], 1, "1", NULL, &eb), 0); /* absent: fine */
	T_EQ(px_kv_commit(txn, &eb), 0);
	T_EQ(px_kv_begin(kv, PX_KV_RDONLY, &txn, &eb), 0);
	T_CASE("mih: deleted entry gone")
	{
		struct found f;

		memset(&f, 0, sizeof(f));
		T_EQ(px_mih_search(txn, "t/", &hs[1], 0, found_one, &f, &eb), 0);
		T_EQ(f.seen[1], 0);
	}
	px_kv_abort(txn);
	/* Many entries in one call (shared buckets read and written once),
	 * then all removed again. */
	T_EQ(px_kv_begin(kv, 0, &txn, &eb), 0);
	T_CASE("mih: bulk put and delete")
	{
		struct found f;
		int want = 0;

		T_EQ(px_mih_put(txn, "u/", hs, N, "bulk", NULL, &eb), 0);
		for (int i = 0; i < N; i++)
			want += px_pdq_distance(&hs[i], &hs[50]) <= 40;
		memset(&f, 0, sizeof(f));
		T_EQ(px_mih_search(txn, "u/", &hs[50], 40, count_one, &f, &eb), 0);
		T_EQ(f.n, want);
		T_EQ(px_mih_del(txn, "u/", hs, N, "bulk", NULL, &eb), 0);
		memset(&f, 0, sizeof(f));
		T_EQ(px_mih_search(txn, "u/", &hs[50], 64, count_one, &f, &eb), 0);
		T_EQ(f.n, 0);
	}
	T_EQ(px_kv_commit(txn, &eb), 0);
	px_kv_close(kv);
}

/* The memory copy answers as the store does, follows changes applied
 * after commit, and falls back to the store when a change it did not see
 * (another node's) moved the generation on. */
static void t_mihmem(void)
{
	static struct px_pdq hs[N];
	struct px_errbuf eb = {0};
	struct px_mihmem_stats st;
	struct px_mih_change ch;
	struct px_mihmem *m = NULL;
	struct px_kv *kv = NULL;
	struct px_kv_txn *txn = NULL;
	char tags[N][12];
	const char *tp[N];
	struct found fm, fs;

	T_EQ(px_kv_open(&px_kv_mem_ops, NULL, 0, &kv, &eb), 0);
	T_EQ(px_mihmem_new(kv, "m/", &m), 0);
	random_hash(&hs[0]);
	for (int i = 0; i < N; i++) {
		if (i % 40 == 0)
			random_hash(&hs[i]);
		else
			near_hash(&hs[i - i % 40], (i * 11) % 67, &hs[i]);
		snprintf(tags[i], sizeof(tags[i]), "%d", i);
		tp[i] = tags[i];
	}
	/* The first half before the build, the rest applied after it. */
	T_EQ(px_kv_begin(kv, 0, &txn, &eb), 0);
	T_EQ(px_mih_put_tags(txn, "m/", hs, tp, N / 2, NULL, &eb), 0);
	T_EQ(px_kv_commit(txn, &eb), 0);
	T_EQ(px_mihmem_build(m, &eb), 0);
	px_mihmem_stats(m, &st);
	T_CASE("mihmem: built from the store")
	{
		T_OK(st.ready);
		T_EQ((int)st.entries, N / 2);
		T_EQ((int)st.gen, 1);
		T_OK(st.bytes > 16u * 65536 * 16);
	}
	memset(&ch, 0, sizeof(ch));
	T_EQ(px_kv_begin(kv, 0, &txn, &eb), 0);
	T_EQ(px_mih_put_tags(txn, "m/", hs + N / 2, tp + N / 2, N - N / 2, &ch,
			     &eb), 0);
	T_EQ(px_kv_commit(txn, &eb), 0);
	px_mihmem_apply(m, &ch);
	T_CASE("mihmem: every query as the store answers it, without the store")
	{
		for (int q = 0; q < N; q += 7) {
			for (int d = 0; d <= 64; d += 9) {
				memset(&fm, 0, sizeof(fm));
				memset(&fs, 0, sizeof(fs));
				T_EQ(px_kv_begin(kv, PX_KV_RDONLY, &txn, &eb), 0);
				T_EQ(px_mihmem_search(m, txn, &hs[q], d, found_one,
						      &fm, &eb), 0);
				T_EQ(px_mih_search(txn, "m/", &hs[q], d, found_one,
						   &fs, &eb), 0);
				px_kv_abort(txn);
				T_EQ(fm.n, fs.n);
				T_EQ(fm.dup, 0);
				T_OK(!memcmp(fm.seen, fs.seen, sizeof(fm.seen)));
			}
		}
		px_mihmem_stats(m, &st);
		T_EQ((int)st.store_searches, 0);
		T_EQ((int)st.entries, N);
	}
	T_CASE("mihmem: a delete applied after commit")
	{
		memset(&ch, 0, sizeof(ch));
		T_EQ(px_kv_begin(kv, 0, &txn, &eb), 0);
		T_EQ(px_mih_del(txn, "m/", &hs[3], 1, "3", &ch, &eb), 0);
		T_EQ(px_kv_commit(txn, &eb), 0);
		px_mihmem_apply(m, &ch);
		memset(&fm, 0, sizeof(fm));
		T_EQ(px_kv_begin(kv, PX_KV_RDONLY, &txn, &eb), 0);
		T_EQ(px_mihmem_search(m, txn, &hs[3], 0, found_one, &fm, &eb), 0);
		px_kv_abort(txn);
		T_EQ(fm.seen[3], 0);
		px_mihmem_stats(m, &st);
		T_EQ((int)st.store_searches, 0);
		T_EQ((int)st.entries, N - 1);
	}
	T_CASE("mihmem: a change it did not see sends searches to the store")
	{
		T_EQ(px_kv_begin(kv, 0, &txn, &eb), 0);
		T_EQ(px_mih_del(txn, "m/", &hs[5], 1, "5", NULL, &eb), 0);
		T_EQ(px_kv_commit(txn, &eb), 0);
		memset(&fm, 0, sizeof(fm));
		T_EQ(px_kv_begin(kv, PX_KV_RDONLY, &txn, &eb), 0);
		T_EQ(px_mihmem_search(m, txn, &hs[5], 0, found_one, &fm, &eb), 0);
		px_kv_abort(txn);
		T_EQ(fm.seen[5], 0);
		px_mihmem_stats(m, &st);
		T_EQ((int)st.store_searches, 1);
		T_EQ(px_mihmem_build(m, &eb), 0); /* as the background does */
		px_mihmem_stats(m, &st);
		T_EQ((int)st.entries, N - 2);
		T_EQ((int)st.gen, 4);
	}
	px_mihmem_free(m);
	/* A copy built from one entry (its slots trimmed to fit) grows. */
	T_EQ(px_mihmem_new(kv, "o/", &m), 0);
	T_EQ(px_kv_begin(kv, 0, &txn, &eb), 0);
	T_EQ(px_mih_put(txn, "o/", hs, 1, "0", NULL, &eb), 0);
	T_EQ(px_kv_commit(txn, &eb), 0);
	T_EQ(px_mihmem_build(m, &eb), 0);
	memset(&ch, 0, sizeof(ch));
	T_EQ(px_kv_begin(kv, 0, &txn, &eb), 0);
	T_EQ(px_mih_put_tags(txn, "o/", hs + 1, tp + 1, 40, &ch, &eb), 0);
	T_EQ(px_kv_commit(txn, &eb), 0);
	px_mihmem_apply(m, &ch);
	px_mihmem_stats(m, &st);
	T_CASE("mihmem: grows after a build from one entry") T_EQ((int)st.entries, 41);
	px_mihmem_free(m);
	px_kv_close(kv);
}

static void t_similar(void)
{
	struct px_errbuf eb = {0};
	struct px_kv *kv = NULL;
	struct px_kv_txn *txn;
	struct px_pdq a, b, c, far;
	struct px_mih_near out[4];
	char hex[PX_PDQ_HEX_LEN + 1];
	int n = 0;

	T_EQ(px_kv_open(&px_kv_mem_ops, NULL, 0, &kv, &eb), 0);
	random_hash(&a);
	near_hash(&a, 5, &b);
	near_hash(&a, 3, &c);
	near_hash(&a, 90, &far);
	T_EQ(px_kv_begin(kv, 0, &txn, &eb), 0);
	px_pdq_hex(&a, hex);
	T_EQ(px_mih_image_put(txn, "img-a", hex, 100, NULL, &eb), 0);
	{
		/* Two at once, a tag each, as a bulk load writes them. */
		struct px_pdq two[2] = {b, c};
		const char *tags[2] = {"img-b", "img-c"};

		T_EQ(px_mih_put_tags(txn, PX_MIH_IMAGES, two, tags, 2, NULL, &eb), 0);
	}
	px_pdq_hex(&far, hex);
	T_EQ(px_mih_image_put(txn, "img-far", hex, 100, NULL, &eb), 0);
	T_EQ(px_mih_image_put(txn, "img-none", "", 100, NULL, &eb), 0);
	px_pdq_hex(&a, hex);
	T_EQ(px_mih_image_put(txn, "img-flat", hex, 49, NULL, &eb), 0); /* not indexed */
	T_EQ(px_kv_commit(txn, &eb), 0);
	T_CASE("similar: nearest first, self excluded, limit")
	{
		T_EQ(px_mih_similar(kv, &a, 31, "img-a", out, 4, &n, &eb), 0);
		T_EQ(n, 2);
		T_STREQ(out[0].id, "img-c");
		T_EQ(out[0].distance, 3);
		T_STREQ(out[1].id, "img-b");
		T_EQ(px_mih_similar(kv, &a, 31, NULL, out, 1, &n, &eb), 0);
		T_EQ(n, 1);
		T_STREQ(out[0].id, "img-a");
		T_EQ(px_mih_similar(kv, &a, 4, "img-a", out, 4, &n, &eb), 0);
		T_EQ(n, 1);
		/* Nothing near: an empty answer (nothing to sort). */
		T_EQ(px_mih_similar(kv, &a, 0, "img-a", out, 4, &n, &eb), 0);
		T_EQ(n, 0);
	}
	px_kv_close(kv);
}

static void t_lists(void)
{
	struct px_errbuf eb = {0};
	struct px_kv *kv = NULL;
	struct px_blob_store *blobs = NULL;
	struct px_catalog *cat = NULL;
	struct px_hashlist l, got;
	struct px_hashlist_hit hit;
	struct px_pdq_result r;
	struct px_pdq h[3];
	size_t added = 0;

	T_EQ(px_kv_open(&px_kv_mem_ops, NULL, 0, &kv, &eb), 0);
	T_EQ(px_blob_open(&px_blob_mem_ops, "", &blobs, &eb), 0);
	T_EQ(px_catalog_new(blobs, kv, &cat), 0);
	memset(&l, 0, sizeof(l));
	T_CASE("lists: create and refuse")
	{
		strcpy(l.name, "abuse");
		l.action = PX_HL_FLAG;
		l.threshold = 31;
		T_EQ(px_hashlist_create(cat, &l, &eb), 0);
		T_EQ(px_hashlist_create(cat, &l, &eb), PX_EEXIST);
		T_STREQ(eb.code, "already_exists");
		strcpy(l.name, "bad/name");
		T_EQ(px_hashlist_create(cat, &l, &eb), PX_EINVAL);
		strcpy(l.name, "x");
		l.threshold = 64;
		T_EQ(px_hashlist_create(cat, &l, &eb), PX_EINVAL);
		l.threshold = 10;
		l.action = 0;
		T_EQ(px_hashlist_create(cat, &l, &eb), PX_EINVAL);
		strcpy(l.name, "strict");
		l.action = PX_HL_BLOCK;
		T_EQ(px_hashlist_create(cat, &l, &eb), 0);
	}
	random_hash(&h[0]);
	random_hash(&h[1]);
	h[2] = h[0];
	T_CASE("lists: add skips duplicates")
	{
		T_EQ(px_hashlist_add(cat, "abuse", h, 3, &added, &got, &eb), 0);
		T_EQ(added, 2);
		T_EQ(got.count, 2);
		T_EQ(px_hashlist_add(cat, "strict", h, 1, &added, NULL, &eb), 0);
		T_EQ(px_hashlist_add(cat, "nope", h, 1, &added, NULL, &eb),
		     PX_ENOTFOUND);
		T_EQ(px_hashlist_get(cat, "abuse", &got, &eb), 0);
		T_EQ(got.count, 2);
		T_EQ(got.action, PX_HL_FLAG);
	}
	memset(&r, 0, sizeof(r));
	r.quality = 90;
	for (int d = 0; d < PX_PDQ_NDIH; d++)
		random_hash(&r.dih[d]);
	T_CASE("lists: match per threshold, strongest action wins")
	{
		/* The upload's rotate90 variant is 20 bits from h[0]: within
		 * "abuse" (31) but not "strict" (10). */
		near_hash(&h[0], 20, &r.dih[PX_PDQ_ROTATE90]);
		T_EQ(px_hashlist_match(cat, &r, &hit, &eb), 0);
		T_EQ(hit.action, PX_HL_FLAG);
		T_STREQ(hit.list, "abuse");
		T_EQ(hit.distance, 20);
		T_EQ(hit.orientation, PX_PDQ_ROTATE90);
		/* 8 bits: both lists match; block beats flag. */
		near_hash(&h[0], 8, &r.dih[PX_PDQ_FLIPX]);
		T_EQ(px_hashlist_match(cat, &r, &hit, &eb), 0);
		T_EQ(hit.action, PX_HL_BLOCK);
		T_STREQ(hit.list, "strict");
		T_EQ(hit.distance, 8);
		T_EQ(hit.orientation, PX_PDQ_FLIPX);
		r.quality = 49;
		T_EQ(px_hashlist_match(cat, &r, &hit, &eb), 0);
		T_EQ(hit.action, 0);
		r.quality = 90;
	}
	T_CASE("lists: delete removes the list and its index")
	{
		T_EQ(px_hashlist_delete(cat, "strict", &eb), 0);
		T_EQ(px_hashlist_delete(cat, "strict", &eb), PX_ENOTFOUND);
		T_EQ(px_hashlist_match(cat, &r, &hit, &eb), 0);
		T_EQ(hit.action, PX_HL_FLAG);
		T_EQ(px_hashlist_delete(cat, "abuse", &eb), 0);
		T_EQ(px_hashlist_match(cat, &r, &hit, &eb), 0);
		T_EQ(hit.action, 0);
	}
	px_catalog_free(cat);
	px_blob_close(blobs);
	px_kv_close(kv);
}

struct parsed {
	int n, lines[8];
	struct px_pdq h[8];
};

static int parsed_one(void *ctx, const struct px_pdq *h, int line)
{
	struct parsed *p = ctx;

	if (p->n < 8) {
		p->h[p->n] = *h;
		p->lines[p->n] = line;
	}
	p->n++;
	return 0;
}

static void t_text(void)
{
	const char *h1 =
		"d8f8f0cce0f4a84f0e370a22028f67f0b36e2ed596623e1d33e6b39c4e9c9b22";
	struct px_errbuf eb = {0};
	struct parsed p;
	struct px_pdq want;
	char text[1024];

	px_pdq_parse(h1, 64, &want);
	T_CASE("text: hex lines, comments, CRLF, blanks")
	{
		memset(&p, 0, sizeof(p));
		snprintf(text, sizeof(text), "# c\r\n\n  %s\r\n%s", h1, h1);
		T_EQ(px_hashtext_parse(text, strlen(text), parsed_one, &p, &eb), 0);
		T_EQ(p.n, 2);
		T_EQ(p.lines[0], 3);
		T_EQ(p.lines[1], 4);
		T_EQ(px_pdq_distance(&p.h[0], &want), 0);
	}
	T_CASE("text: CSV with header, quotes, hash in any column")
	{
		memset(&p, 0, sizeof(p));
		snprintf(text, sizeof(text),
			 "id;pdq;quality\n1;\"%s\";100\n%s,100,a b.jpg\n2\t%s\n",
			 h1, h1, h1);
		T_EQ(px_hashtext_parse(text, strlen(text), parsed_one, &p, &eb), 0);
		T_EQ(p.n, 3);
		T_EQ(px_pdq_distance(&p.h[2], &want), 0);
	}
	T_CASE("text: a later line without a hash is an error naming it")
	{
		memset(&p, 0, sizeof(p));
		snprintf(text, sizeof(text), "%s\n%.63s\n", h1, h1);
		T_EQ(px_hashtext_parse(text, strlen(text), parsed_one, &p, &eb),
		     PX_EINVAL);
		T_STREQ(eb.code, "invalid_hash_list");
		T_OK(strstr(eb.msg, "line 2") != NULL);
		memset(&p, 0, sizeof(p));
		snprintf(text, sizeof(text), "%sff\n", h1);
		T_EQ(px_hashtext_parse(text, strlen(text), parsed_one, &p, &eb),
		     0); /* a lone header-like line */
		T_EQ(p.n, 0);
		T_EQ(px_hashtext_parse("", 0, parsed_one, &p, &eb), 0);
	}
}

static void run(void)
{
	char dir[] = "/tmp/pictor-test-hashlist-XXXXXX";

	t_text();
	t_mih(&px_kv_mem_ops, NULL);
	if (mkdtemp(dir)) {
		t_mih(&px_kv_lmdb_ops, dir);
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd))
			fprintf(stderr, "cannot remove %s\n", dir);
	}
	t_mihmem();
	t_similar();
	t_lists();
}
