/*
 * backup.c - online backup of a data directory, and restore from one.
 *
 * A backup has the shape of a data directory (meta/data.mdb, blobs/,
 * secrets.json), so restoring is copying it back with every original
 * checked. Taking one while the daemon serves rests on two facts:
 *
 *  - px_kv_snapshot() copies the metadata as of one instant T without
 *    stopping the writer (an LMDB read transaction, compacted copy).
 *  - Originals are immutable and named by their SHA-256, and catalog.c
 *    stores an original before the commit that references it and removes
 *    it only after the commit that drops the last reference. So every
 *    original the snapshot references existed at T; if one is missing
 *    when we come to copy it, its last record was deleted after T.
 *
 * Records whose original vanished that way are deleted from the copy
 * through the catalog (as the daemon deleted them), which leaves the copy
 * exactly consistent. Each original is hashed as it is copied, so a
 * backup never carries damaged bytes silently.
 *
 * Order of a backup into DEST:
 *   1. snapshot into DEST/meta.new/ (cleared first: a crash leaves junk)
 *   2. copy the originals it references that DEST lacks, hash-checked
 *   3. drop records whose original vanished; fsync the snapshot
 *   4. rename DEST/meta.new/data.mdb over DEST/meta/data.mdb, fsync
 *   5. prune originals no record uses; copy secrets.json
 * Until step 4 the previous backup in DEST is complete and untouched
 * (step 2 only adds originals).
 */
#include "catalog/maint.h"
#include "core/crypto.h"

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_LEN 4096
#define MAP_SIZE ((uint64_t)16 << 30) /* as the daemon opens it */

/* The audit log's name for deletions the backup mirrors. */
static const struct px_actor backup_actor = {"backup", "pictor backup"};

/* Test-only: called between the snapshot and the copy of originals, so a
 * unit test can delete images at the moment the race would. */
static void (*after_snapshot_hook)(void *ctx);
static void *after_snapshot_ctx;

static int path_of(char *out, const char *dir, const char *name,
		   struct px_errbuf *eb)
{
	if ((size_t)snprintf(out, PATH_LEN, "%s/%s", dir, name) >= PATH_LEN)
		return px_errf(eb, PX_EINVAL, "path \"%s/%s\" too long", dir, name);
	return 0;
}

static int mkdir_p1(const char *path, struct px_errbuf *eb)
{
	if (mkdir(path, 0700) && errno != EEXIST)
		return px_errf(eb, PX_EIO, "cannot create \"%s\": %s", path,
			       strerror(errno));
	return 0;
}

static int fsync_path(const char *path, int flags, struct px_errbuf *eb)
{
	int fd = open(path, flags | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return px_errf(eb, PX_EIO, "cannot open \"%s\": %s", path,
			       strerror(errno));
	if (fsync(fd))
		rc = px_errf(eb, PX_EIO, "cannot fsync \"%s\": %s", path,
			     strerror(errno));
	close(fd);
	return rc;
}

/* Copy a small file durably: to dst.tmp, fsync, rename, fsync the dir. */
static int copy_file(const char *src, const char *dst, const char *dstdir,
		     mode_t mode, struct px_errbuf *eb)
{
	char tmp[PATH_LEN + 8], chunk[65536];
	int in = -1, out = -1, rc = 0;
	ssize_t n;

	snprintf(tmp, sizeof(tmp), "%s.tmp", dst);
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		rc = px_errf(eb, errno == ENOENT ? PX_ENOTFOUND : PX_EIO,
			     "cannot open \"%s\": %s", src, strerror(errno));
		goto out;
	}
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (out < 0) {
		rc = px_errf(eb, PX_EIO, "cannot create \"%s\": %s", tmp,
			     strerror(errno));
		goto out;
	}
	while ((n = read(in, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || write(out, chunk, (size_t)n) != n) {
			rc = px_errf(eb, PX_EIO, "cannot copy \"%s\": %s", src,
				     strerror(errno));
			goto out;
		}
	}
	if (fchmod(out, mode) || fsync(out)) {
		rc = px_errf(eb, PX_EIO, "cannot write \"%s\": %s", tmp,
			     strerror(errno));
		goto out;
	}
	close(out);
	out = -1;
	if (rename(tmp, dst)) {
		rc = px_errf(eb, PX_EIO, "cannot rename \"%s\": %s", tmp,
			     strerror(errno));
		goto out;
	}
	rc = fsync_path(dstdir, O_RDONLY | O_DIRECTORY, eb);
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (rc)
		unlink(tmp);
	return rc;
}

/* Remove LMDB's files from a staging directory, then the directory. */
static void clear_env_dir(const char *dir)
{
	char p[PATH_LEN];

	if (path_of(p, dir, "data.mdb", NULL) == 0)
		unlink(p);
	if (path_of(p, dir, "lock.mdb", NULL) == 0)
		unlink(p);
	rmdir(dir);
}

static int scan_ref(void *arg, const void *key, size_t nkey, const void *val,
		    size_t nval)
{
	char hex[PX_SHA256_HEX_LEN + 1];

	if (nkey != 8 + PX_SHA256_HEX_LEN)
		return 0; /* fsck reports malformed keys */
	memcpy(hex, (const char *)key + 8, PX_SHA256_HEX_LEN);
	hex[PX_SHA256_HEX_LEN] = '\0';
	return px_blob_names_add(arg, hex);
}

/* Every digest the store's records reference (blobref/ keys), sorted. */
static int referenced(struct px_kv *kv, struct px_blob_names *out,
		      struct px_errbuf *eb)
{
	struct px_kv_txn *txn;
	int rc;

	if ((rc = px_kv_begin(kv, PX_KV_RDONLY, &txn, eb)))
		return rc;
	rc = px_kv_scan(txn, "blobref/", 8, NULL, 0, 0, scan_ref, out, eb);
	px_kv_abort(txn);
	if (rc == PX_ENOMEM)
		px_errf(eb, rc, "out of memory");
	px_blob_names_sort(out);
	return rc;
}

/*
 * Copy one original from src to dst unless dst has it. PX_ENOTFOUND when
 * src lacks it; PX_ECORRUPT when its bytes do not hash to its name.
 */
static int copy_original(struct px_blob_store *src, struct px_blob_store *dst,
			 const char *hex, struct px_buf *data,
			 struct px_backup_stats *st, struct px_errbuf *eb)
{
	char got[PX_SHA256_HEX_LEN + 1];
	uint64_t size;
	int rc;

	if (px_blob_stat(dst, hex, &size, NULL) == 0) {
		st->skipped++;
		st->skipped_bytes += size;
		return 0;
	}
	data->len = 0;
	if ((rc = px_blob_get(src, hex, data, eb)))
		return rc;
	if ((rc = px_sha256_hex(data->data, data->len, got)))
		return px_errf(eb, rc, "cannot hash \"%s\"", hex);
	if (strcmp(got, hex))
		return px_errc(eb, PX_ECORRUPT, "checksum_mismatch",
			       "original %s is damaged: its bytes hash to %s "
			       "(run pictor fsck)", hex, got);
	if ((rc = px_blob_put(dst, hex, data->data, data->len, eb)))
		return rc;
	st->copied++;
	st->copied_bytes += data->len;
	return 0;
}

struct drop_state {
	struct px_blob_names *gone; /* sorted */
	char (*idv)[PX_ID_MAX + 1]; /* ids of records to drop */
	size_t nid, cid;
	int rc;
};

static int scan_gone(void *arg, const void *key, size_t nkey,
		     const void *val, size_t nval)
{
	struct drop_state *d = arg;
	json_t *o = json_loadb(val, nval, 0, NULL);
	const char *sha = json_string_value(json_object_get(o, "sha256"));
	const char *id = json_string_value(json_object_get(o, "id"));
	int rc = 0;

	if (sha && id && strlen(id) <= PX_ID_MAX &&
	    px_blob_names_has(d->gone, sha)) {
		if (d->nid == d->cid) {
			size_t c = d->cid ? d->cid * 2 : 16;
			void *p = realloc(d->idv, c * sizeof(*d->idv));

			if (!p) {
				rc = PX_ENOMEM;
				goto out;
			}
			d->idv = p;
			d->cid = c;
		}
		px_strlcpy(d->idv[d->nid++], id, PX_ID_MAX + 1);
	}
out:
	json_decref(o);
	return rc;
}

/* Delete, through the catalog, every record naming a vanished original. */
static int drop_vanished(struct px_blob_store *blobs, struct px_kv *kv,
			 struct px_blob_names *gone, struct px_backup_stats *st,
			 struct px_errbuf *eb)
{
	struct drop_state d;
	struct px_catalog *cat = NULL;
	struct px_kv_txn *txn;
	int rc;

	memset(&d, 0, sizeof(d));
	if (!gone->n)
		return 0;
	d.gone = gone; /* sorted */
	if ((rc = px_kv_begin(kv, PX_KV_RDONLY, &txn, eb)))
		return rc;
	rc = px_kv_scan(txn, "img/", 4, NULL, 0, 0, scan_gone, &d, eb);
	px_kv_abort(txn);
	if (rc)
		goto out;
	if ((rc = px_catalog_new(blobs, kv, &cat)))
		goto out;
	for (size_t i = 0; i < d.nid; i++) {
		fprintf(stderr, "pictor: image \"%s\" was deleted while the "
				"backup ran; it is not in this backup\n", d.idv[i]);
		rc = px_catalog_delete(cat, d.idv[i], &backup_actor, eb);
		if (rc && rc != PX_ENOTFOUND)
			goto out;
		rc = 0;
		st->dropped++;
	}
out:
	px_catalog_free(cat);
	free(d.idv);
	return rc;
}

struct status_scan {
	struct px_blob_names bad, good; /* digests of corrupt / other records */
};

static int scan_status(void *arg, const void *key, size_t nkey,
		       const void *val, size_t nval)
{
	struct status_scan *ss = arg;
	json_t *o = json_loadb(val, nval, 0, NULL);
	const char *sha = json_string_value(json_object_get(o, "sha256"));
	const char *status = json_string_value(json_object_get(o, "status"));
	int rc = 0;

	if (sha && status && px_blob_valid_name(sha))
		rc = px_blob_names_add(strcmp(status, "corrupt") ? &ss->good
								   : &ss->bad,
				       sha);
	json_decref(o);
	return rc;
}

/*
 * Digests named only by records already marked corrupt (by fsck): their
 * originals are known to be missing or damaged, so a backup or restore
 * carries the records without them instead of failing. Sorted.
 */
static int corrupt_only(struct px_kv *kv, struct px_blob_names *out,
			struct px_errbuf *eb)
{
	struct status_scan ss;
	struct px_kv_txn *txn;
	int rc;

	memset(&ss, 0, sizeof(ss));
	if ((rc = px_kv_begin(kv, PX_KV_RDONLY, &txn, eb)))
		return rc;
	rc = px_kv_scan(txn, "img/", 4, NULL, 0, 0, scan_status, &ss, eb);
	px_kv_abort(txn);
	px_blob_names_sort(&ss.good);
	for (size_t i = 0; !rc && i < ss.bad.n; i++)
		if (!px_blob_names_has(&ss.good, ss.bad.a[i]))
			rc = px_blob_names_add(out, ss.bad.a[i]);
	px_blob_names_sort(out);
	px_blob_names_release(&ss.bad);
	px_blob_names_release(&ss.good);
	return rc == PX_ENOMEM ? px_errf(eb, rc, "out of memory") : rc;
}

static int count_rec(void *ctx, const void *key, size_t nkey, const void *val,
		     size_t nval)
{
	(*(uint64_t *)ctx)++;
	return 0;
}

static int count_records(struct px_kv *kv, uint64_t *n, struct px_errbuf *eb)
{
	struct px_kv_txn *txn;
	int rc;

	*n = 0;
	if ((rc = px_kv_begin(kv, PX_KV_RDONLY, &txn, eb)))
		return rc;
	rc = px_kv_scan(txn, "img/", 4, NULL, 0, 0, count_rec, n, eb);
	px_kv_abort(txn);
	return rc;
}

/*
 * Copy every original kv references from src to dst. Missing ones go to
 * gone when gone is non-NULL (backup), and are an error otherwise
 * (restore); either way except for originals of corrupt-marked records. Returns the first error; later originals are still tried,
 * so one damaged original does not stop the rest from being saved.
 */
static int copy_all(struct px_kv *kv, struct px_blob_store *src,
		    struct px_blob_store *dst, struct px_blob_names *gone,
		    struct px_backup_stats *st, struct px_errbuf *eb)
{
	struct px_blob_names refs = {0}, bad = {0};
	struct px_buf data;
	int rc, first = 0;

	px_buf_init(&data, 0);
	if ((rc = referenced(kv, &refs, eb)) || (rc = corrupt_only(kv, &bad, eb)))
		goto out;
	st->originals = refs.n;
	for (size_t i = 0; i < refs.n; i++) {
		struct px_errbuf one = {0};

		rc = copy_original(src, dst, refs.a[i], &data, st, &one);
		if ((rc == PX_ENOTFOUND || rc == PX_ECORRUPT) &&
		    px_blob_names_has(&bad, refs.a[i])) {
			rc = 0;
			continue;
		}
		if (rc == PX_ENOTFOUND && gone) {
			if ((rc = px_blob_names_add(gone, refs.a[i])))
				break;
			continue;
		}
		if (rc == PX_ENOTFOUND)
			px_errf(&one, rc, "original %s is missing from the backup",
				refs.a[i]);
		if (rc) {
			fprintf(stderr, "pictor: %s\n", one.msg);
			if (!first) {
				first = rc;
				if (eb)
					*eb = one;
			}
		}
	}
	if (!rc)
		rc = first;
out:
	px_buf_release(&data);
	px_blob_names_release(&refs);
	px_blob_names_release(&bad);
	return rc;
}

/*
 * An original the snapshot references was missing when we came to copy
 * it. If the daemon deleted its last record after the snapshot, the live
 * store no longer references it; if the live store still does, the data
 * directory itself is damaged and the backup must say so, not quietly
 * leave the image out. A second snapshot tells the two apart.
 */
static int check_vanished(const char *live, const char *dest,
			  struct px_blob_names *gone, struct px_errbuf *eb)
{
	char dir[PATH_LEN];
	struct px_kv *kv = NULL;
	struct px_blob_names now = {0};
	int rc;

	if (!gone->n)
		return 0;
	if ((rc = path_of(dir, dest, "meta.check", eb)))
		return rc;
	clear_env_dir(dir);
	if ((rc = mkdir_p1(dir, eb)) ||
	    (rc = px_kv_snapshot(&px_kv_lmdb_ops, live, dir, eb)) ||
	    (rc = px_kv_open(&px_kv_lmdb_ops, dir, MAP_SIZE, &kv, eb)) ||
	    (rc = referenced(kv, &now, eb)))
		goto out;
	for (size_t i = 0; i < gone->n; i++) {
		if (!px_blob_names_has(&now, gone->a[i]))
			continue;
		rc = px_errc(eb, PX_ENOTFOUND, "missing_original",
			     "original %s is missing from the data directory "
			     "though records use it (run pictor fsck)",
			     gone->a[i]);
		break;
	}
out:
	px_kv_close(kv);
	clear_env_dir(dir);
	px_blob_names_release(&now);
	return rc;
}

int px_backup_run(const char *data, const char *dest,
		  struct px_backup_stats *st, struct px_errbuf *eb)
{
	char live[PATH_LEN], stage[PATH_LEN], meta[PATH_LEN], p1[PATH_LEN],
		p2[PATH_LEN];
	struct px_blob_store *src = NULL, *dst = NULL;
	struct px_kv *kv = NULL;
	struct px_catalog *cat = NULL;
	struct px_blob_names gone = {0};
	struct stat sb;
	unsigned tmp_removed, pruned;
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = path_of(live, data, "meta", eb)) ||
	    (rc = path_of(stage, dest, "meta.new", eb)) ||
	    (rc = path_of(meta, dest, "meta", eb)) ||
	    (rc = path_of(p1, live, "data.mdb", eb)))
		return rc;
	if (stat(p1, &sb))
		return px_errf(eb, PX_ENOTFOUND,
			       "\"%s\" is not a Pictor data directory (no %s)",
			       data, p1);

	/* 1. the snapshot, into a clean staging directory */
	if ((rc = mkdir_p1(dest, eb)))
		goto out;
	clear_env_dir(stage);
	if ((rc = mkdir_p1(stage, eb)) || (rc = mkdir_p1(meta, eb)))
		goto out;
	if ((rc = px_kv_snapshot(&px_kv_lmdb_ops, live, stage, eb)))
		goto out;
	if (after_snapshot_hook)
		after_snapshot_hook(after_snapshot_ctx);

	/* 2. originals (the source store is only read: no recovery) */
	if ((rc = px_blob_open(&px_blob_fs_ops, data, &src, eb)) ||
	    (rc = px_blob_open(&px_blob_fs_ops, dest, &dst, eb)) ||
	    (rc = px_kv_open(&px_kv_lmdb_ops, stage, MAP_SIZE, &kv, eb)))
		goto out;
	if ((rc = copy_all(kv, src, dst, &gone, st, eb)))
		goto out;

	/* 3. records deleted while we copied */
	px_blob_names_sort(&gone);
	if ((rc = check_vanished(live, dest, &gone, eb)) ||
	    (rc = drop_vanished(dst, kv, &gone, st, eb)))
		goto out;
	if ((rc = count_records(kv, &st->records, eb)))
		goto out;
	px_kv_close(kv);
	kv = NULL;

	/* 4. the new snapshot replaces the old one */
	if ((rc = path_of(p1, stage, "data.mdb", eb)) ||
	    (rc = path_of(p2, meta, "data.mdb", eb)))
		goto out;
	if ((rc = fsync_path(p1, O_RDONLY, eb)))
		goto out;
	if (rename(p1, p2)) {
		rc = px_errf(eb, PX_EIO, "cannot rename \"%s\": %s", p1,
			     strerror(errno));
		goto out;
	}
	if ((rc = fsync_path(meta, O_RDONLY | O_DIRECTORY, eb)))
		goto out;
	clear_env_dir(stage);

	/* 5. prune, then the secrets that sign URLs to these images */
	if ((rc = px_kv_open(&px_kv_lmdb_ops, meta, MAP_SIZE, &kv, eb)) ||
	    (rc = px_catalog_new(dst, kv, &cat)) ||
	    (rc = px_catalog_recover(cat, &tmp_removed, &pruned, eb)))
		goto out;
	st->pruned = pruned;
	if ((rc = path_of(p1, data, "secrets.json", eb)) ||
	    (rc = path_of(p2, dest, "secrets.json", eb)))
		goto out;
	rc = copy_file(p1, p2, dest, 0600, eb);
	if (rc == PX_ENOTFOUND) /* a daemon that never started has none */
		rc = 0;
out:
	px_catalog_free(cat);
	px_kv_close(kv);
	px_blob_close(src);
	px_blob_close(dst);
	px_blob_names_release(&gone);
	return rc;
}

/* True if dir is absent or holds nothing but our lock file. */
static bool empty_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool empty = true;

	if (!d)
		return errno == ENOENT;
	while (empty && (e = readdir(d)))
		empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
			!strcmp(e->d_name, "pictor.lock");
	closedir(d);
	return empty;
}

int px_restore_run(const char *from, const char *data,
		   struct px_backup_stats *st, struct px_errbuf *eb)
{
	char p1[PATH_LEN], p2[PATH_LEN], meta[PATH_LEN];
	struct px_blob_store *src = NULL, *dst = NULL;
	struct px_kv *kv = NULL;
	struct stat sb;
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = path_of(p1, from, "meta/data.mdb", eb)) ||
	    (rc = path_of(meta, data, "meta", eb)) ||
	    (rc = path_of(p2, meta, "data.mdb", eb)))
		return rc;
	if (stat(p1, &sb))
		return px_errf(eb, PX_ENOTFOUND, "\"%s\" holds no backup (no %s)",
			       from, p1);
	if (!empty_dir(data))
		return px_errf(eb, PX_EEXIST,
			       "\"%s\" is not empty; restore builds a new data "
			       "directory", data);
	if ((rc = mkdir_p1(data, eb)) || (rc = mkdir_p1(meta, eb)))
		goto out;
	/* Nothing writes a backup: a plain copy of the file is exact. */
	if ((rc = copy_file(p1, p2, meta, 0600, eb)))
		goto out;
	if ((rc = px_blob_open(&px_blob_fs_ops, from, &src, eb)) ||
	    (rc = px_blob_open(&px_blob_fs_ops, data, &dst, eb)) ||
	    (rc = px_kv_open(&px_kv_lmdb_ops, meta, MAP_SIZE, &kv, eb)))
		goto out;
	if ((rc = copy_all(kv, src, dst, NULL, st, eb)))
		goto out;
	if ((rc = count_records(kv, &st->records, eb)))
		goto out;
	if ((rc = path_of(p1, from, "secrets.json", eb)) ||
	    (rc = path_of(p2, data, "secrets.json", eb)))
		goto out;
	rc = copy_file(p1, p2, data, 0600, eb);
	if (rc == PX_ENOTFOUND)
		rc = 0;
out:
	px_kv_close(kv);
	px_blob_close(src);
	px_blob_close(dst);
	return rc;
}
