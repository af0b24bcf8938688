/*
 * bench_pdq.c - hash-list lookups and near-duplicate search over PDQ
 * hashes at scale, in the LMDB metadata store, against a linear scan of
 * the same hashes in memory (the peer) in the same run.
 *
 *   bench_pdq <dir> [n] [queries]
 *
 * Loads n random hashes (default 1,000,000) into a hash list and n more
 * into the image similarity index, then times:
 *   lookup  px_hashlist_match: an upload's 8 orientations against every
 *           list at the default threshold 31 (half the queries planted
 *           within 20 bits of a listed hash, half random), and the search
 *           for one hash at 31;
 *   similar px_mih_similar at distance 10 (half planted within 8 bits);
 * and the linear scan doing the same work. Prints p50/p99 of each, the
 * ratios, load rates, the size of the LMDB file after each index and the
 * process's peak RSS. Random hashes are the worst case for multi-index
 * hashing's buckets only through their count (about n / 65536 a chunk
 * value); real hash sets cluster more.
 */
#include "catalog/hashlist.h"

#include <sys/resource.h>
#include <sys/stat.h>

static uint64_t rng = 0x243f6a8885a308d3ULL;

static uint16_t rnd16(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint16_t)(rng >> 20);
}

static void random_hash(struct px_pdq *h)
{
	for (int i = 0; i < PX_PDQ_WORDS; i++)
		h->w[i] = rnd16();
}

static void near_hash(const struct px_pdq *h, int d, struct px_pdq *out)
{
	*out = *h;
	while (px_pdq_distance(h, out) < d) {
		int b = rnd16() % 256;

		out->w[b / 16] ^= (uint16_t)(1u << (b % 16));
	}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static void pct(const char *what, int64_t *us, int n, double *p50)
{
	qsort(us, (size_t)n, sizeof(*us), cmp_i64);
	*p50 = us[n / 2] / 1000.0;
	printf("%-34s p50 %8.3f ms   p99 %8.3f ms\n", what, us[n / 2] / 1000.0,
	       us[n * 99 / 100] / 1000.0);
}

static double file_mb(const char *dir)
{
	char path[1024];
	struct stat st;

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	return stat(path, &st) ? 0 : st.st_blocks * 512.0 / 1e6;
}

static int die(const char *what, const struct px_errbuf *eb)
{
	fprintf(stderr, "bench_pdq: %s: %s\n", what, eb->msg);
	return 1;
}


static int count_hit(void *ctx, const struct px_pdq *h, const char *tag,
		     size_t ntag, int d)
{
	++*(int *)ctx;
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : NULL;
	int n = argc > 2 ? atoi(argv[2]) : 1000000;
	int nq = argc > 3 ? atoi(argv[3]) : 400;
	struct px_errbuf eb = {0};
	struct px_kv *kv = NULL;
	struct px_blob_store *blobs = NULL;
	struct px_catalog *cat = NULL;
	struct px_hashlist l = {0};
	struct px_pdq *list, *imgs;
	struct px_mih_near near[64];
	int64_t *t_idx, *t_lin, t0;
	double p_idx, p_lin, mb_list, mb_all;
	struct rusage ru;
	size_t added;
	int found = 0, nn;

	if (!dir || n <= 0 || nq <= 0) {
		fprintf(stderr, "usage: bench_pdq <dir> [n] [queries]\n");
		return 2;
	}
	list = malloc(sizeof(*list) * (size_t)n);
	imgs = malloc(sizeof(*imgs) * (size_t)n);
	t_idx = malloc(sizeof(*t_idx) * (size_t)nq);
	t_lin = malloc(sizeof(*t_lin) * (size_t)nq);
	if (!list || !imgs || !t_idx || !t_lin)
		return 1;
	if (px_kv_open(&px_kv_lmdb_ops, dir, (uint64_t)16 << 30, &kv, &eb) ||
	    px_blob_open(&px_blob_mem_ops, "", &blobs, &eb) ||
	    px_catalog_new(blobs, kv, &cat))
		return die("open", &eb);
	strcpy(l.name, "bench");
	l.action = PX_HL_FLAG;
	l.threshold = PX_PDQ_MATCH_DISTANCE;
	if (px_hashlist_create(cat, &l, &eb))
		return die("create", &eb);

	/* One import of n hashes (one transaction, as POST .../hashes). */
	for (int i = 0; i < n; i++)
		random_hash(&list[i]);
	t0 = px_mono_us();
	if (px_hashlist_add(cat, "bench", list, (size_t)n, &added, NULL, &eb))
		return die("add", &eb);
	printf("imported %d list hashes in one transaction: %.1f s (%.0f/s)\n",
	       n, (px_mono_us() - t0) / 1e6, n / ((px_mono_us() - t0) / 1e6));
	mb_list = file_mb(dir);

	/* The image index, bulk-loaded in one transaction (uploads add one
	 * image a transaction; timed separately below). */
	{
		struct px_kv_txn *txn;
		char *ids = malloc((size_t)n * 16);
		const char **tags = malloc(sizeof(*tags) * (size_t)n);

		if (!ids || !tags)
			return 1;
		for (int i = 0; i < n; i++) {
			random_hash(&imgs[i]);
			snprintf(ids + (size_t)i * 16, 16, "img-%08d", i);
			tags[i] = ids + (size_t)i * 16;
		}
		t0 = px_mono_us();
		if (px_kv_begin(kv, 0, &txn, &eb) ||
		    px_mih_put_tags(txn, PX_MIH_IMAGES, imgs, tags, (size_t)n,
				    &eb) ||
		    px_kv_commit(txn, &eb))
			return die("image index", &eb);
		printf("loaded %d image hashes in one transaction: %.1f s\n", n,
		       (px_mono_us() - t0) / 1e6);
		free(tags);
		free(ids);
	}
	/* Uploads: one image a transaction into the loaded index. */
	for (int q = 0; q < nq; q++) {
		struct px_kv_txn *txn;
		char id[32], hex[PX_PDQ_HEX_LEN + 1];
		struct px_pdq h;

		random_hash(&h);
		px_pdq_hex(&h, hex);
		snprintf(id, sizeof(id), "new-%06d", q);
		t0 = px_mono_us();
		if (px_kv_begin(kv, 0, &txn, &eb) ||
		    px_mih_image_put(txn, id, hex, 100, &eb) ||
		    px_kv_commit(txn, &eb))
			return die("upload", &eb);
		t_idx[q] = px_mono_us() - t0;
	}
	pct("index one upload (put + commit)", t_idx, nq, &p_idx);
	mb_all = file_mb(dir);

	/* Lookups: an upload's 8 orientations against the lists. */
	for (int q = 0; q < nq; q++) {
		struct px_pdq_result r;
		struct px_hashlist_hit hit;

		r.quality = 100;
		for (int d = 0; d < PX_PDQ_NDIH; d++)
			random_hash(&r.dih[d]);
		if (q % 2)
			near_hash(&list[rnd16() * 7919 % n], 20,
				  &r.dih[q % PX_PDQ_NDIH]);
		t0 = px_mono_us();
		if (px_hashlist_match(cat, &r, &hit, &eb))
			return die("match", &eb);
		t_idx[q] = px_mono_us() - t0;
		found += hit.action != 0;
		t0 = px_mono_us();
		{
			int best = 999;

			for (int d = 0; d < PX_PDQ_NDIH; d++)
				for (int i = 0; i < n; i++) {
					int x = px_pdq_distance(&list[i], &r.dih[d]);

					if (x < best)
						best = x;
				}
			found += best <= PX_PDQ_MATCH_DISTANCE ? 1000000 : 0;
		}
		t_lin[q] = px_mono_us() - t0;
	}
	printf("lookups: %d of %d matched (index), %d (linear)\n",
	       found % 1000000, nq, found / 1000000);
	pct("lookup at 31, 8 orientations (mih)", t_idx, nq, &p_idx);
	pct("lookup at 31, linear scan (peer)", t_lin, nq, &p_lin);
	printf("lookup p50 ratio linear/mih: %.1fx\n", p_lin / p_idx);

	/* One hash at 31 (a lookup of one orientation). */
	for (int q = 0; q < nq; q++) {
		struct px_kv_txn *txn;
		struct px_pdq h;
		int hits = 0;

		random_hash(&h);
		if (q % 2)
			near_hash(&list[rnd16() * 7919 % n], 20, &h);
		t0 = px_mono_us();
		if (px_kv_begin(kv, PX_KV_RDONLY, &txn, &eb) ||
		    px_mih_search(txn, "hx/", &h, PX_PDQ_MATCH_DISTANCE,
				  count_hit, &hits, &eb))
			return die("search", &eb);
		px_kv_abort(txn);
		t_idx[q] = px_mono_us() - t0;
		t0 = px_mono_us();
		for (int i = 0; i < n; i++)
			hits += px_pdq_distance(&list[i], &h) <= PX_PDQ_MATCH_DISTANCE;
		t_lin[q] = px_mono_us() - t0;
	}
	pct("lookup at 31, one hash (mih)", t_idx, nq, &p_idx);
	pct("lookup at 31, one hash, linear scan", t_lin, nq, &p_lin);
	printf("one-hash lookup p50 ratio linear/mih: %.1fx\n", p_lin / p_idx);

	found = 0;
	for (int q = 0; q < nq; q++) {
		struct px_pdq h;

		random_hash(&h);
		if (q % 2)
			near_hash(&imgs[rnd16() * 7919 % n], 8, &h);
		t0 = px_mono_us();
		if (px_mih_similar(kv, &h, 10, NULL, near, 64, &nn, &eb))
			return die("similar", &eb);
		t_idx[q] = px_mono_us() - t0;
		found += nn > 0;
		t0 = px_mono_us();
		for (int i = 0; i < n; i++)
			found += px_pdq_distance(&imgs[i], &h) <= 10 ? 1000000 : 0;
		t_lin[q] = px_mono_us() - t0;
	}
	printf("similar: %d of %d found something (index), %d (linear)\n",
	       found % 1000000, nq, found / 1000000);
	pct("similar at 10 (mih)", t_idx, nq, &p_idx);
	pct("similar at 10, linear scan (peer)", t_lin, nq, &p_lin);
	printf("similar p50 ratio linear/mih: %.1fx\n", p_lin / p_idx);

	getrusage(RUSAGE_SELF, &ru);
	printf("LMDB file: %.0f MB with the list index, %.0f MB with both "
	       "(%.0f bytes a hash)\n", mb_list, mb_all, mb_list * 1e6 / n);
	printf("in-memory hashes for the peer: %.0f MB; peak RSS %.0f MB\n",
	       2.0 * n * sizeof(struct px_pdq) / 1e6, ru.ru_maxrss / 1024.0);
	px_catalog_free(cat);
	px_blob_close(blobs);
	px_kv_close(kv);
	return 0;
}
