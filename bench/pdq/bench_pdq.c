/*
 * bench_pdq.c - hash-list lookups and near-duplicate search over PDQ
 * hashes at scale: the catalog's in-memory multi-index (mihmem.h) against
 * the store's index and a linear scan of the same hashes, in one run.
 *
 *   bench_pdq <dir> [n] [queries]
 *
 * Loads n random hashes (default 1,000,000) into a hash list and n more
 * into the image similarity index in LMDB, builds the memory copies as a
 * start-up does (time, bytes held, RSS delta), then times p50/p99 of:
 *   one hash at 31 against the list: random queries and near-duplicates
 *           of listed hashes (4-16 bits flipped); the store's index and a
 *           linear scan for the ratios;
 *   px_hashlist_match: an upload's 8 orientations against every list,
 *           random and with one orientation a near-duplicate;
 *   px_catalog_similar at 10: random and near-duplicates (1-8 bits);
 *   indexing one upload (store transaction + memory apply).
 * Random hashes are the worst case for multi-index hashing only through
 * their count (about n / 65536 a chunk value); real hash sets cluster.
 */
#include "catalog/hashlist.h"
#include "catalog/internal.h"
#include "catalog/mihmem.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

/* This thread's CPU time: what a lookup costs without the waits for a
 * core that a loaded machine adds to the wall time. */
static int64_t cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
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

/* Resident set now, from /proc/self/statm. */
static double rss_mb(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, res = 0;

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &res) != 2)
			res = 0;
		fclose(f);
	}
	return res * (double)sysconf(_SC_PAGESIZE) / 1e6;
}

/* Wall and CPU percentiles side by side. */
static void pct2(const char *what, int64_t *us, int64_t *cpu, int n,
		 double *p50)
{
	pct(what, us, n, p50);
	qsort(cpu, (size_t)n, sizeof(*cpu), cmp_i64);
	printf("%-34s p50 %8.3f ms   p99 %8.3f ms   (CPU time)\n", "",
	       cpu[n / 2] / 1000.0, cpu[n * 99 / 100] / 1000.0);
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
	struct px_mih_near near_out[64];
	int64_t *t_idx, *t_lin, *t_cpu, t0, c0;
	double p_idx, p_lin, p_kv, mb_list, mb_all, rss0;
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
	t_cpu = malloc(sizeof(*t_cpu) * (size_t)nq);
	if (!list || !imgs || !t_idx || !t_lin || !t_cpu)
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
				    NULL, &eb) ||
		    px_kv_commit(txn, &eb))
			return die("image index", &eb);
		printf("loaded %d image hashes in one transaction: %.1f s\n", n,
		       (px_mono_us() - t0) / 1e6);
		free(tags);
		free(ids);
	}
	mb_all = file_mb(dir);

	/* The old path, for the ratio: each probe a store read. */
	{
		int ns = nq / 8 > 0 ? nq / 8 : 1;

		for (int q = 0; q < ns; q++) {
			struct px_kv_txn *txn;
			struct px_pdq h;
			int hits = 0;

			random_hash(&h);
			t0 = px_mono_us();
			if (px_kv_begin(kv, PX_KV_RDONLY, &txn, &eb) ||
			    px_mih_search(txn, PX_MIH_LISTS, &h,
					  PX_PDQ_MATCH_DISTANCE, count_hit,
					  &hits, &eb))
				return die("search", &eb);
			px_kv_abort(txn);
			t_lin[q] = px_mono_us() - t0;
		}
		pct("lookup at 31, one hash (kv store)", t_lin, ns, &p_kv);
	}

	/* Start-up: both memory copies built from the store. */
	rss0 = rss_mb();
	for (int i = 0; i < 2; i++) {
		const char *pre = i ? PX_MIH_LISTS : PX_MIH_IMAGES;
		struct px_mihmem *m = px_catalog_mihmem(cat, pre);
		struct px_mihmem_stats st;

		t0 = px_mono_us();
		if (px_mihmem_build(m, &eb))
			return die("build", &eb);
		px_mihmem_stats(m, &st);
		printf("memory index %s: %llu entries built in %.2f s, "
		       "%.1f MB held (%.0f bytes a hash)\n", pre,
		       (unsigned long long)st.entries,
		       (px_mono_us() - t0) / 1e6, st.bytes / 1e6,
		       (double)st.bytes / (double)st.entries);
	}
	printf("RSS: %.0f MB before the builds, %.0f MB after (delta %.0f MB "
	       "for both indexes)\n", rss0, rss_mb(), rss_mb() - rss0);

	/* One hash at 31: random queries, then near-duplicates of listed
	 * hashes (4-16 bits flipped), through the catalog (memory copy). */
	for (int near = 0; near < 2; near++) {
		int hits = 0;

		for (int q = 0; q < nq; q++) {
			struct px_kv_txn *txn;
			struct px_pdq h;

			random_hash(&h);
			if (near)
				near_hash(&list[rnd16() * 7919 % n],
					  4 + rnd16() % 13, &h);
			t0 = px_mono_us();
			c0 = cpu_us();
			if (px_kv_begin(kv, PX_KV_RDONLY, &txn, &eb) ||
			    px_catalog_mih_search(cat, txn, PX_MIH_LISTS, &h,
						  PX_PDQ_MATCH_DISTANCE,
						  count_hit, &hits, &eb))
				return die("search", &eb);
			px_kv_abort(txn);
			t_cpu[q] = cpu_us() - c0;
			t_idx[q] = px_mono_us() - t0;
		}
		printf("  %d hits over %d queries\n", hits, nq);
		pct2(near ? "lookup at 31, near-duplicate (mem)"
			  : "lookup at 31, random (mem)", t_idx, t_cpu, nq,
		     &p_idx);
		if (!near)
			printf("one-hash lookup p50 ratio kv store/memory: "
			       "%.0fx\n", p_kv / p_idx);
	}
	/* The linear scan peer for one hash. */
	for (int q = 0; q < nq / 4; q++) {
		struct px_pdq h;
		int hits = 0;

		random_hash(&h);
		t0 = px_mono_us();
		for (int i = 0; i < n; i++)
			hits += px_pdq_distance(&list[i], &h) <= PX_PDQ_MATCH_DISTANCE;
		t_lin[q] = px_mono_us() - t0 + (hits > n);
	}
	pct("lookup at 31, linear scan (peer)", t_lin, nq / 4, &p_lin);
	printf("one-hash lookup p50 ratio linear/memory: %.0fx\n", p_lin / p_idx);

	/* An upload's match: 8 orientations against every list. */
	for (int near = 0; near < 2; near++) {
		found = 0;
		for (int q = 0; q < nq; q++) {
			struct px_pdq_result r;
			struct px_hashlist_hit hit;

			r.quality = 100;
			for (int d = 0; d < PX_PDQ_NDIH; d++)
				random_hash(&r.dih[d]);
			if (near)
				near_hash(&list[rnd16() * 7919 % n],
					  4 + rnd16() % 13, &r.dih[q % PX_PDQ_NDIH]);
			t0 = px_mono_us();
			c0 = cpu_us();
			if (px_hashlist_match(cat, &r, &hit, &eb))
				return die("match", &eb);
			t_cpu[q] = cpu_us() - c0;
			t_idx[q] = px_mono_us() - t0;
			found += hit.action != 0;
		}
		printf("  %d of %d uploads matched\n", found, nq);
		pct2(near ? "match, 8 orientations, near-dup" :
			    "match, 8 orientations, random", t_idx, t_cpu, nq,
		     &p_idx);
	}

	/* Similar at 10. */
	for (int near = 0; near < 2; near++) {
		found = 0;
		for (int q = 0; q < nq; q++) {
			struct px_pdq h;

			random_hash(&h);
			if (near)
				near_hash(&imgs[rnd16() * 7919 % n],
					  1 + rnd16() % 8, &h);
			t0 = px_mono_us();
			c0 = cpu_us();
			if (px_catalog_similar(cat, &h, 10, NULL, near_out, 64,
					       &nn, &eb))
				return die("similar", &eb);
			t_cpu[q] = cpu_us() - c0;
			t_idx[q] = px_mono_us() - t0;
			found += nn > 0;
		}
		printf("  %d of %d found something\n", found, nq);
		pct2(near ? "similar at 10, near-dup (mem)" :
			    "similar at 10, random (mem)", t_idx, t_cpu, nq,
		     &p_idx);
	}

	/* Uploads: one image a transaction, applied to the memory copy. */
	for (int q = 0; q < nq; q++) {
		struct px_mih_change ch = {0};
		struct px_kv_txn *txn;
		char id[32], hex[PX_PDQ_HEX_LEN + 1];
		struct px_pdq h;

		random_hash(&h);
		px_pdq_hex(&h, hex);
		snprintf(id, sizeof(id), "new-%06d", q);
		t0 = px_mono_us();
		if (px_kv_begin(kv, 0, &txn, &eb) ||
		    px_mih_image_put(txn, id, hex, 100, &ch, &eb) ||
		    px_kv_commit(txn, &eb))
			return die("upload", &eb);
		px_catalog_mih_apply(cat, &ch);
		t_idx[q] = px_mono_us() - t0;
	}
	pct("index one upload (store + memory)", t_idx, nq, &p_idx);
	{
		struct px_mihmem_stats st;

		px_mihmem_stats(px_catalog_mihmem(cat, PX_MIH_IMAGES), &st);
		printf("image index after uploads: %llu entries, %llu searches "
		       "sent to the store\n", (unsigned long long)st.entries,
		       (unsigned long long)st.store_searches);
	}

	getrusage(RUSAGE_SELF, &ru);
	printf("LMDB file: %.0f MB with the list index, %.0f MB with both "
	       "(%.0f bytes a hash)\n", mb_list, mb_all, mb_list * 1e6 / n);
	printf("peak RSS %.0f MB (includes the peer's %.0f MB of hashes)\n",
	       ru.ru_maxrss / 1024.0, 2.0 * n * sizeof(struct px_pdq) / 1e6);
	px_catalog_free(cat);
	px_blob_close(blobs);
	px_kv_close(kv);
	return 0;
}
