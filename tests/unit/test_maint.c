/*
 * test_maint.c - fsck findings and repairs over the in-memory stores, and
 * backup/restore over LMDB + filesystem, including an image deleted in
 * the window between the snapshot and the copy of originals.
 */
#include "catalog/backup.c"

#include <unistd.h>

#include "t.h"

#define NF 64

struct findings {
	char kind[NF][32];
	char id[NF][PX_ID_MAX + 1];
	char sha[NF][PX_SHA256_HEX_LEN + 1];
	bool repaired[NF];
	int n;
};

static void collect(void *ctx, const struct px_fsck_finding *f)
{
	struct findings *fs = ctx;

	if (fs->n == NF)
		return;
	snprintf(fs->kind[fs->n], 32, "%s", f->kind);
	snprintf(fs->id[fs->n], PX_ID_MAX + 1, "%s", f->id);
	snprintf(fs->sha[fs->n], PX_SHA256_HEX_LEN + 1, "%s", f->sha256);
	fs->repaired[fs->n] = f->repaired;
	fs->n++;
}

/* Index of the finding of this kind for id (or sha), -1 if none. */
static int find(const struct findings *fs, const char *kind, const char *id,
		const char *sha)
{
	for (int i = 0; i < fs->n; i++)
		if (!strcmp(fs->kind[i], kind) && (!id || !strcmp(fs->id[i], id)) &&
		    (!sha || !strcmp(fs->sha[i], sha)))
			return i;
	return -1;
}

static void add(struct px_catalog *c, const char *id, const char *bytes,
		const char *status, char *sha_out)
{
	struct px_image_rec rec;
	struct px_errbuf eb = {0};

	memset(&rec, 0, sizeof(rec));
	snprintf(rec.id, sizeof(rec.id), "%s", id);
	snprintf(rec.status, sizeof(rec.status), "%s", status);
	rec.meta = strdup("{}");
	T_EQ(px_catalog_add(c, &rec, bytes, strlen(bytes), NULL, NULL, &eb), 0);
	if (sha_out)
		memcpy(sha_out, rec.sha256, PX_SHA256_HEX_LEN + 1);
	px_image_rec_release(&rec);
}

static void put_key(struct px_kv *kv, const char *key, const char *val)
{
	struct px_kv_txn *txn;

	T_EQ(px_kv_begin(kv, 0, &txn, NULL), 0);
	T_EQ(px_kv_puts(txn, key, val, strlen(val), 0, NULL), 0);
	T_EQ(px_kv_commit(txn, NULL), 0);
}

static int first_key(void *ctx, const void *key, size_t nkey, const void *v,
		     size_t nv)
{
	snprintf(ctx, 256, "%.*s", (int)nkey, (const char *)key);
	return 1;
}

static void del_first(struct px_kv *kv, const char *prefix)
{
	struct px_kv_txn *txn;
	char key[256] = "";

	T_EQ(px_kv_begin(kv, 0, &txn, NULL), 0);
	px_kv_scan(txn, prefix, strlen(prefix), NULL, 0, 0, first_key, key, NULL);
	T_EQ(px_kv_dels(txn, key, NULL), 0);
	T_EQ(px_kv_commit(txn, NULL), 0);
}

static void fsck_suite(void)
{
	struct px_blob_store *blobs = NULL;
	struct px_kv *kv = NULL;
	struct px_catalog *c = NULL;
	struct px_fsck_stats st;
	struct px_errbuf eb = {0};
	struct findings fs;
	struct px_image_rec rec;
	char sa[65], sb[65], sc[65], sd[65], key[128], orphan[65];

	T_EQ(px_blob_open(&px_blob_mem_ops, "", &blobs, &eb), 0);
	T_EQ(px_kv_open(&px_kv_mem_ops, "", 0, &kv, &eb), 0);
	T_EQ(px_catalog_new(blobs, kv, &c), 0);
	add(c, "a", "alpha", "approved", sa);
	add(c, "b", "bravo", "approved", sb);
	add(c, "c", "charlie", "flagged", sc);
	add(c, "d", "delta", "pending", sd);
	add(c, "e", "delta", "approved", NULL); /* shares d's original */

	T_CASE("a clean catalog passes") {
		memset(&fs, 0, sizeof(fs));
		T_EQ(px_catalog_fsck(c, false, collect, &fs, &st, &eb), 0);
		T_EQ(st.problems, 0u);
		T_EQ(st.records, 5u);
		T_EQ(st.originals, 4u);
		T_EQ(fs.n, 0);
	}

	/* The damage, one of each kind. */
	T_EQ(px_blob_del(blobs, sa, NULL), 0);
	T_EQ(px_blob_put(blobs, sa, "alphX", 5, NULL), 0); /* flipped byte */
	T_EQ(px_blob_del(blobs, sb, NULL), 0);		    /* missing */
	T_EQ(px_sha256_hex("stray", 5, orphan), 0);
	T_EQ(px_blob_put(blobs, orphan, "stray", 5, NULL), 0); /* orphan */
	snprintf(key, sizeof(key), "blobref/%s", sc);
	put_key(kv, key, "3"); /* wrong count */
	del_first(kv, "ix/t/"); /* the oldest record, "a", loses its index */
	del_first(kv, "job/");	/* "d" is pending without a job */
	put_key(kv, "mq/flagged/0000000000000001/zz", ""); /* stale queue */
	put_key(kv, "auditix/a/00000000000000ff-deadbeef", ""); /* no entry */

	T_CASE("each kind of damage is found by id") {
		memset(&fs, 0, sizeof(fs));
		T_EQ(px_catalog_fsck(c, false, collect, &fs, &st, &eb), 0);
		T_OK(find(&fs, "checksum_mismatch", "a", sa) >= 0);
		T_OK(find(&fs, "missing_original", "b", sb) >= 0);
		T_OK(find(&fs, "orphan", "", orphan) >= 0);
		T_OK(find(&fs, "wrong_refcount", "c", sc) >= 0);
		T_OK(find(&fs, "missing_index", "a", NULL) >= 0);
		T_OK(find(&fs, "missing_job", "d", NULL) >= 0);
		T_OK(find(&fs, "stale_queue", NULL, NULL) >= 0);
		T_OK(find(&fs, "dangling_audit_index", NULL, NULL) >= 0);
		T_EQ(st.problems, 8u);
		T_EQ(st.repaired, 0u);
		T_EQ(fs.n, 8);
		/* checking changed nothing */
		T_EQ(px_catalog_fsck(c, false, NULL, NULL, &st, &eb), 0);
		T_EQ(st.problems, 8u);
	}
	T_CASE("repair, then the catalog passes") {
		memset(&fs, 0, sizeof(fs));
		T_EQ(px_catalog_fsck(c, true, collect, &fs, &st, &eb), 0);
		T_EQ(st.problems, 8u);
		T_EQ(st.repaired, 8u);
		memset(&fs, 0, sizeof(fs));
		T_EQ(px_catalog_fsck(c, false, collect, &fs, &st, &eb), 0);
		T_EQ(st.problems, 0u);
		T_EQ(st.corrupt, 2u);
		T_OK(find(&fs, "corrupt", "a", NULL) >= 0);
		T_OK(find(&fs, "corrupt", "b", NULL) >= 0);
		memset(&rec, 0, sizeof(rec));
		T_EQ(px_catalog_get(c, "a", &rec, &eb), 0);
		T_STREQ(rec.status, "corrupt");
		T_OK(rec.audit && strstr(rec.audit, "\"fsck\""));
		px_image_rec_release(&rec);
		T_EQ(px_blob_stat(blobs, orphan, &(uint64_t){0}, NULL),
		     PX_ENOTFOUND);
	}
	px_catalog_free(c);
	px_kv_close(kv);
	px_blob_close(blobs);
}

/* --- backup / restore on disk --- */

struct live {
	char data[256];
	const char *victim;
};

static void open_live(const char *data, struct px_blob_store **b,
		      struct px_kv **kv, struct px_catalog **c)
{
	char meta[300];

	snprintf(meta, sizeof(meta), "%s/meta", data);
	T_EQ(px_blob_open(&px_blob_fs_ops, data, b, NULL), 0);
	T_EQ(px_kv_open(&px_kv_lmdb_ops, meta, 0, kv, NULL), 0);
	T_EQ(px_catalog_new(*b, *kv, c), 0);
}

static void close_live(struct px_blob_store *b, struct px_kv *kv,
		       struct px_catalog *c)
{
	px_catalog_free(c);
	px_kv_close(kv);
	px_blob_close(b);
}

/* The daemon deleting an image right after the snapshot was taken. */
static void delete_victim(void *ctx)
{
	struct live *l = ctx;
	struct px_blob_store *b;
	struct px_kv *kv;
	struct px_catalog *c;

	open_live(l->data, &b, &kv, &c);
	T_EQ(px_catalog_delete(c, l->victim, NULL, NULL), 0);
	close_live(b, kv, c);
}

static void original_is(const char *data, const char *id, const char *bytes)
{
	struct px_blob_store *b;
	struct px_kv *kv;
	struct px_catalog *c;
	struct px_image_rec rec;
	struct px_buf buf;

	open_live(data, &b, &kv, &c);
	memset(&rec, 0, sizeof(rec));
	px_buf_init(&buf, 0);
	T_EQ(px_catalog_get(c, id, &rec, NULL), 0);
	T_EQ(px_catalog_blob(c, &rec, &buf, NULL), 0);
	T_OK(buf.len == strlen(bytes) && !memcmp(buf.data, bytes, buf.len));
	px_buf_release(&buf);
	px_image_rec_release(&rec);
	close_live(b, kv, c);
}

static void backup_suite(void)
{
	char root[] = "/tmp/pictor-test-maint-XXXXXX", dest[300], dest2[300],
		restored[300], cmd[1024];
	struct live l;
	struct px_blob_store *b;
	struct px_kv *kv;
	struct px_catalog *c;
	struct px_backup_stats st;
	struct px_fsck_stats fst;
	struct px_errbuf eb = {0};
	char sb[65];

	T_OK(mkdtemp(root) != NULL);
	snprintf(l.data, sizeof(l.data), "%s/data", root);
	snprintf(dest, sizeof(dest), "%s/backup", root);
	snprintf(dest2, sizeof(dest2), "%s/backup2", root);
	snprintf(restored, sizeof(restored), "%s/restored", root);
	open_live(l.data, &b, &kv, &c);
	add(c, "a", "alpha", "approved", NULL);
	add(c, "b", "bravo", "approved", sb);
	add(c, "c", "charlie", "pending", NULL);
	close_live(b, kv, c);

	T_CASE("an image deleted after the snapshot is dropped, not lost") {
		l.victim = "b";
		after_snapshot_hook = delete_victim;
		after_snapshot_ctx = &l;
		T_EQ(px_backup_run(l.data, dest, &st, &eb), 0);
		after_snapshot_hook = NULL;
		T_EQ(st.dropped, 1u);
		T_EQ(st.records, 2u);
		T_EQ(st.copied, 2u);
	}
	T_CASE("restore builds a directory fsck passes, bytes intact") {
		T_EQ(px_restore_run(dest, restored, &st, &eb), 0);
		T_EQ(st.records, 2u);
		T_EQ(st.copied, 2u);
		open_live(restored, &b, &kv, &c);
		T_EQ(px_catalog_fsck(c, false, NULL, NULL, &fst, &eb), 0);
		T_EQ(fst.problems, 0u);
		T_EQ(fst.records, 2u);
		close_live(b, kv, c);
		original_is(restored, "a", "alpha");
		original_is(restored, "c", "charlie");
		/* restore never writes into a directory that holds data */
		T_EQ(px_restore_run(dest, restored, &st, &eb), PX_EEXIST);
	}
	T_CASE("incremental: only new originals are copied") {
		open_live(l.data, &b, &kv, &c);
		add(c, "d", "delta", "approved", NULL);
		close_live(b, kv, c);
		T_EQ(px_backup_run(l.data, dest, &st, &eb), 0);
		T_EQ(st.records, 3u);
		T_EQ(st.copied, 1u);
		T_EQ(st.copied_bytes, 5u);
		T_EQ(st.skipped, 2u);
		T_EQ(st.dropped, 0u);
	}
	T_CASE("an original missing from the data directory fails the backup") {
		char path[600];

		open_live(l.data, &b, &kv, &c);
		add(c, "e", "echo", "approved", sb);
		close_live(b, kv, c);
		snprintf(path, sizeof(path), "%s/blobs/%.2s/%.2s/%s", l.data, sb,
			 sb + 2, sb);
		T_EQ(unlink(path), 0);
		memset(&eb, 0, sizeof(eb));
		T_EQ(px_backup_run(l.data, dest2, &st, &eb), PX_ENOTFOUND);
		T_STREQ(eb.code, "missing_original");
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	T_EQ(system(cmd), 0);
}

static void run(void)
{
	T_CASE("a store that keeps nothing on disk has no snapshot") {
		struct px_errbuf eb = {0};

		T_EQ(px_kv_snapshot(&px_kv_mem_ops, "x", "/nonexistent", &eb),
		     PX_EUNSUPPORTED);
		T_EQ(px_kv_snapshot(&px_kv_lmdb_ops, "/nonexistent/meta",
				    "/nonexistent", &eb),
		     PX_ENOTFOUND);
	}
	fsck_suite();
	backup_suite();
}
