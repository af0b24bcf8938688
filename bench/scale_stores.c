/*
 * scale_stores.c - the store operations behind bench/scale.mjs's requests,
 * timed one at a time: what a request on S3 + PostgreSQL pays the stores
 * that the embedded defaults (files + LMDB) do not.
 *
 * usage: scale_stores N BLOB_BYTES DATA_DIR S3_LOCATION PG_URI
 *
 * For each pair (fs vs S3, LMDB vs PostgreSQL), N rounds of:
 *   blob: put of BLOB_BYTES fresh bytes (an upload's original), stat, get
 *         (verified by length and SHA-256: an uncached render's read);
 *   kv:   a write transaction putting one 1 KB record and committing (an
 *         upload's commit holds several keys, but one round of locking
 *         and a durable commit), and a read transaction with one get (a
 *         record read before a delivery).
 * Prints the mean milliseconds of each operation per backend. The stores
 * are opened through the same px_blob_* / px_kv_* calls the daemon makes.
 */
#include "core/crypto.h"
#include "meta/kv.h"
#include "store/blob.h"

#include <time.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

struct blob_t {
	double put, stat, get;
};

static int time_blobs(struct px_blob_store *s, int n, size_t size,
		      struct blob_t *t)
{
	unsigned char *data = malloc(size);
	char hex[PX_SHA256_HEX_LEN + 1];
	struct px_errbuf eb = {0};
	struct px_buf out;
	uint64_t sz;
	double t0;
	int rc = 0;

	memset(t, 0, sizeof(*t));
	px_buf_init(&out, 0);
	if (!data)
		return PX_ENOMEM;
	for (int i = 0; i < n && !rc; i++) {
		if ((rc = px_random(data, size)) ||
		    (rc = px_sha256_hex(data, size, hex)))
			break;
		t0 = now_ms();
		rc = px_blob_put(s, hex, data, size, &eb);
		t->put += now_ms() - t0;
		t0 = now_ms();
		if (!rc)
			rc = px_blob_stat(s, hex, &sz, &eb);
		t->stat += now_ms() - t0;
		out.len = 0;
		t0 = now_ms();
		if (!rc)
			rc = px_blob_get(s, hex, &out, &eb);
		t->get += now_ms() - t0;
		if (!rc)
			px_blob_del(s, hex, &eb);
	}
	if (rc)
		fprintf(stderr, "scale_stores: blob %s: %s\n", s->ops->name,
			eb.msg);
	t->put /= n;
	t->stat /= n;
	t->get /= n;
	px_buf_release(&out);
	free(data);
	return rc;
}

struct kv_t {
	double write, read;
};

static int time_kv(struct px_kv *kv, int n, struct kv_t *t)
{
	char key[64], val[1024];
	struct px_errbuf eb = {0};
	struct px_kv_txn *txn;
	struct px_buf out;
	double t0;
	int rc = 0;

	memset(t, 0, sizeof(*t));
	memset(val, 'r', sizeof(val));
	px_buf_init(&out, 0);
	for (int i = 0; i < n && !rc; i++) {
		snprintf(key, sizeof(key), "bench/%08d", i);
		t0 = now_ms();
		if (!(rc = px_kv_begin(kv, 0, &txn, &eb))) {
			rc = px_kv_puts(txn, key, val, sizeof(val), 0, &eb);
			if (rc)
				px_kv_abort(txn);
			else
				rc = px_kv_commit(txn, &eb);
		}
		t->write += now_ms() - t0;
		out.len = 0;
		t0 = now_ms();
		if (!rc && !(rc = px_kv_begin(kv, PX_KV_RDONLY, &txn, &eb))) {
			rc = px_kv_gets(txn, key, &out, &eb);
			px_kv_abort(txn);
		}
		t->read += now_ms() - t0;
	}
	/* leave nothing behind */
	if (!rc && !px_kv_begin(kv, 0, &txn, NULL)) {
		for (int i = 0; i < n; i++) {
			snprintf(key, sizeof(key), "bench/%08d", i);
			px_kv_dels(txn, key, NULL);
		}
		px_kv_commit(txn, NULL);
	}
	if (rc)
		fprintf(stderr, "scale_stores: kv %s: %s\n", kv->ops->name, eb.msg);
	t->write /= n;
	t->read /= n;
	px_buf_release(&out);
	return rc;
}

int main(int argc, char **argv)
{
	struct px_blob_store *fs = NULL, *s3 = NULL;
	struct px_kv *lm = NULL, *pg = NULL;
	struct px_errbuf eb = {0};
	struct blob_t bf, bs;
	struct kv_t kl, kp;
	char path[4096];
	int n, rc = 1;
	size_t size;

	if (argc != 6) {
		fprintf(stderr, "usage: scale_stores N BLOB_BYTES DATA_DIR "
				"S3_LOCATION PG_URI\n");
		return 2;
	}
	n = atoi(argv[1]);
	size = (size_t)atol(argv[2]);
	if (n < 1 || size < 1)
		return 2;
	snprintf(path, sizeof(path), "%s/meta", argv[3]);
	if (px_blob_open(&px_blob_fs_ops, argv[3], &fs, &eb) ||
	    px_blob_open_s3(argv[4], NULL, &s3, &eb) ||
	    px_kv_open(&px_kv_lmdb_ops, path, (uint64_t)1 << 30, &lm, &eb) ||
	    px_kv_open(&px_kv_pg_ops, argv[5], 0, &pg, &eb)) {
		fprintf(stderr, "scale_stores: %s\n", eb.msg);
		goto out;
	}
	if (time_blobs(fs, n, size, &bf) || time_blobs(s3, n, size, &bs) ||
	    time_kv(lm, n, &kl) || time_kv(pg, n, &kp))
		goto out;
	printf("store operations, one at a time, mean ms over %d (blob %zu bytes):\n",
	       n, size);
	printf("  %-28s %9s %9s %7s\n", "operation", "embedded", "s3+pg", "ratio");
	printf("  %-28s %9.3f %9.3f %7.1f\n", "blob put (upload)", bf.put, bs.put,
	       bs.put / bf.put);
	printf("  %-28s %9.3f %9.3f %7.1f\n", "blob stat", bf.stat, bs.stat,
	       bs.stat / bf.stat);
	printf("  %-28s %9.3f %9.3f %7.1f\n", "blob get, verified (render)",
	       bf.get, bs.get, bs.get / bf.get);
	printf("  %-28s %9.3f %9.3f %7.1f\n", "kv write txn + commit", kl.write,
	       kp.write, kp.write / kl.write);
	printf("  %-28s %9.3f %9.3f %7.1f\n", "kv read txn + get", kl.read,
	       kp.read, kp.read / kl.read);
	rc = 0;
out:
	px_blob_close(fs);
	px_blob_close(s3);
	px_kv_close(lm);
	px_kv_close(pg);
	return rc;
}
