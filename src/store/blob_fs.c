/*
 * blob_fs.c - the filesystem blob backend.
 *
 * Layout under the store directory:
 *
 *     blobs/ab/cd/abcd...   one file per blob, sharded by its first 4 digits
 *     tmp/<random>.tmp      writes in progress (and leftovers of crashes)
 *
 * put() writes the bytes to tmp/, fsyncs them, renames the file into its
 * shard and fsyncs the shard directory: a blob is either absent or whole,
 * and once put() returns 0 it survives a crash. rename(2) replaces
 * atomically, so two threads putting the same blob both succeed and leave
 * identical bytes behind. There is no lock: every call works on its own
 * descriptors, relative to directory fds opened once by open().
 *
 * A new shard directory is only durable once its parent is fsynced. The
 * thread that loses a mkdir race cannot know whether the winner has done
 * that yet, so `synced` remembers per shard whether some thread has: the
 * first put into a shard (per process) pays for the parent fsync, later
 * ones skip it.
 */
#include "store/blob.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NSHARD1 256	 /* blobs/ab */
#define NSHARD2 65536 /* blobs/ab/cd */

struct fs_store {
	struct px_blob_store base;
	int root;  /* the store directory */
	int blobs; /* root/blobs */
	int tmp;   /* root/tmp */
	/* [0, NSHARD1): blobs/ab durable; then blobs/ab/cd durable */
	atomic_uchar synced[NSHARD1 + NSHARD2];
};

static atomic_uint tmp_seq;

static int hexval(char c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

/* "ab/cd/abcd..." for a valid name; buf holds 6 + 64 + 1 chars. */
static void blob_path(char *buf, const char *hex)
{
	snprintf(buf, 72, "%.2s/%.2s/%s", hex, hex + 2, hex);
}

static int fsync_dir(int dirfd, const char *path, struct px_errbuf *eb)
{
	int fd, rc = 0;

	fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return px_errf(eb, PX_EIO, "cannot open directory \"%s\": %s",
			       path, strerror(errno));
	if (fsync(fd))
		rc = px_errf(eb, PX_EIO, "cannot fsync directory \"%s\": %s",
			     path, strerror(errno));
	close(fd);
	return rc;
}

/* Create dirfd/path if needed and make its entry in parent durable. */
static int mkdir_durable(int dirfd, const char *path, const char *parent,
			 atomic_uchar *synced, struct px_errbuf *eb)
{
	int rc;

	if (atomic_load(synced))
		return 0;
	if (mkdirat(dirfd, path, 0755) && errno != EEXIST)
		return px_errf(eb, PX_EIO, "cannot create \"%s\": %s", path,
			       strerror(errno));
	rc = fsync_dir(dirfd, parent, eb);
	if (rc == 0)
		atomic_store(synced, 1);
	return rc;
}

/* Make sure blobs/ab/cd exists and is durable. */
static int ensure_shard(struct fs_store *s, const char *hex,
			struct px_errbuf *eb)
{
	char ab[3], abcd[6];
	unsigned i1 = (unsigned)(hexval(hex[0]) << 4 | hexval(hex[1]));
	unsigned i2 = (unsigned)(hexval(hex[2]) << 4 | hexval(hex[3]));
	int rc;

	snprintf(ab, sizeof(ab), "%.2s", hex);
	snprintf(abcd, sizeof(abcd), "%.2s/%.2s", hex, hex + 2);
	rc = mkdir_durable(s->blobs, ab, ".", &s->synced[i1], eb);
	if (rc == 0)
		rc = mkdir_durable(s->blobs, abcd, ab,
				   &s->synced[NSHARD1 + (i1 << 8 | i2)], eb);
	return rc;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Write data to a new file in tmp/ and fsync it; its name goes in name
 * (40 bytes). On failure nothing is left behind.
 */
static int write_tmp(struct fs_store *s, const void *data, size_t n,
		     char *name, struct px_errbuf *eb)
{
	struct timespec ts;
	int fd = -1, rc = 0, tries;

	/* pid + clock + counter is unique enough; O_EXCL catches the rest */
	for (tries = 0; fd < 0; tries++) {
		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(name, 40, "%x-%lx-%x.tmp", (unsigned)getpid(),
			 (unsigned long)ts.tv_nsec ^ (unsigned long)ts.tv_sec,
			 atomic_fetch_add(&tmp_seq, 1));
		fd = openat(s->tmp, name,
			    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0 && (errno != EEXIST || tries == 16))
			return px_errf(eb, PX_EIO,
				       "cannot create temporary file: %s",
				       strerror(errno));
	}
	if (write_all(fd, data, n)) {
		rc = px_errf(eb, PX_EIO, "cannot write temporary file: %s",
			     strerror(errno));
		goto out;
	}
	if (fsync(fd)) {
		rc = px_errf(eb, PX_EIO, "cannot fsync temporary file: %s",
			     strerror(errno));
		goto out;
	}
out:
	if (close(fd) && rc == 0)
		rc = px_errf(eb, PX_EIO, "cannot close temporary file: %s",
			     strerror(errno));
	if (rc)
		unlinkat(s->tmp, name, 0);
	return rc;
}

/* Open dirfd/path (creating it when absent); *made says if we did. */
static int open_dir(int dirfd, const char *path, bool *made, int *out,
		    struct px_errbuf *eb)
{
	*made = mkdirat(dirfd, path, 0755) == 0;
	if (!*made && errno != EEXIST)
		return px_errf(eb, PX_EIO, "cannot create \"%s\": %s", path,
			       strerror(errno));
	*out = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*out < 0)
		return px_errf(eb, PX_EIO, "cannot open \"%s\": %s", path,
			       strerror(errno));
	return 0;
}

static void fs_close(struct px_blob_store *base)
{
	struct fs_store *s = (struct fs_store *)base;

	if (!s)
		return;
	if (s->root >= 0)
		close(s->root);
	if (s->blobs >= 0)
		close(s->blobs);
	if (s->tmp >= 0)
		close(s->tmp);
	free(s);
}

static int fs_open(const char *location, struct px_blob_store **out,
		   struct px_errbuf *eb)
{
	struct fs_store *s = NULL;
	char *parent = NULL, *slash;
	bool made, made_blobs, made_tmp;
	int rc;

	*out = NULL;
	if (!location || !*location)
		return px_errf(eb, PX_EINVAL, "blob store needs a directory");
	s = calloc(1, sizeof(*s));
	parent = strdup(location);
	if (!s || !parent) {
		rc = px_errf(eb, PX_ENOMEM, "out of memory");
		goto out;
	}
	s->base.ops = &px_blob_fs_ops;
	s->root = s->blobs = s->tmp = -1;
	rc = open_dir(AT_FDCWD, location, &made, &s->root, eb);
	if (rc)
		goto out;
	if (made) {
		/* a new store directory must survive a crash too */
		for (slash = parent + strlen(parent) - 1;
		     slash > parent && *slash == '/'; slash--)
			*slash = '\0';
		slash = strrchr(parent, '/');
		if (slash)
			slash[slash == parent] = '\0'; /* keep "/" itself */
		rc = fsync_dir(AT_FDCWD, slash ? parent : ".", eb);
		if (rc)
			goto out;
	}
	rc = open_dir(s->root, "blobs", &made_blobs, &s->blobs, eb);
	if (rc == 0)
		rc = open_dir(s->root, "tmp", &made_tmp, &s->tmp, eb);
	if (rc == 0 && (made_blobs || made_tmp))
		rc = fsync_dir(s->root, ".", eb);
out:
	free(parent);
	if (rc) {
		fs_close((struct px_blob_store *)s);
		return rc;
	}
	*out = &s->base;
	return 0;
}

static int fs_put(struct px_blob_store *base, const char *hex,
		  const void *data, size_t n, struct px_errbuf *eb)
{
	struct fs_store *s = (struct fs_store *)base;
	char path[72], shard[6], tmpname[40];
	struct stat st;
	bool have_tmp = false;
	int rc;

	blob_path(path, hex);
	snprintf(shard, sizeof(shard), "%.5s", path);
	if (fstatat(s->blobs, path, &st, 0) == 0) {
		/*
		 * Already there, but the thread that renamed it may not have
		 * fsynced the directories yet: do it rather than assume.
		 */
		rc = ensure_shard(s, hex, eb);
		if (rc == 0)
			rc = fsync_dir(s->blobs, shard, eb);
		goto out;
	}
	if (errno != ENOENT && errno != ENOTDIR) {
		rc = px_errf(eb, PX_EIO, "cannot stat blob \"%s\": %s", hex,
			     strerror(errno));
		goto out;
	}
	rc = write_tmp(s, data, n, tmpname, eb);
	if (rc)
		goto out;
	have_tmp = true;
	rc = ensure_shard(s, hex, eb);
	if (rc)
		goto out;
	if (renameat(s->tmp, tmpname, s->blobs, path)) {
		rc = px_errf(eb, PX_EIO, "cannot rename blob \"%s\": %s", hex,
			     strerror(errno));
		goto out;
	}
	have_tmp = false;
	rc = fsync_dir(s->blobs, shard, eb);
out:
	if (have_tmp)
		unlinkat(s->tmp, tmpname, 0);
	return rc;
}

static int fs_get(struct px_blob_store *base, const char *hex,
		  struct px_buf *out, struct px_errbuf *eb)
{
	struct fs_store *s = (struct fs_store *)base;
	char path[72];
	struct stat st;
	size_t n, got = 0;
	int fd, rc = 0;

	blob_path(path, hex);
	fd = openat(s->blobs, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return px_errf(eb, PX_ENOTFOUND, "no blob \"%s\"", hex);
		return px_errf(eb, PX_EIO, "cannot open blob \"%s\": %s", hex,
			       strerror(errno));
	}
	if (fstat(fd, &st)) {
		rc = px_errf(eb, PX_EIO, "cannot stat blob \"%s\": %s", hex,
			     strerror(errno));
		goto out;
	}
	n = (size_t)st.st_size;
	rc = (uint64_t)st.st_size > SIZE_MAX / 2 ? PX_ETOOBIG
						 : px_buf_reserve(out, n);
	if (rc) {
		rc = px_errf(eb, rc, "blob \"%s\" (%lld bytes) does not fit",
			     hex, (long long)st.st_size);
		goto out;
	}
	/* read straight into the reserved tail; len moves only on success */
	while (got < n) {
		ssize_t r = read(fd, out->data + out->len + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = px_errf(eb, PX_EIO, "cannot read blob \"%s\": %s",
				     hex, r ? strerror(errno) : "short file");
			goto out;
		}
		got += (size_t)r;
	}
	out->len += n;
	out->data[out->len] = '\0';
out:
	close(fd);
	return rc;
}

static int fs_del(struct px_blob_store *base, const char *hex,
		  struct px_errbuf *eb)
{
	struct fs_store *s = (struct fs_store *)base;
	char path[72], shard[6];

	blob_path(path, hex);
	snprintf(shard, sizeof(shard), "%.5s", path);
	if (unlinkat(s->blobs, path, 0)) {
		if (errno == ENOENT || errno == ENOTDIR)
			return px_errf(eb, PX_ENOTFOUND, "no blob \"%s\"", hex);
		return px_errf(eb, PX_EIO, "cannot remove blob \"%s\": %s",
			       hex, strerror(errno));
	}
	/* Shard directories stay: removing them would race with put(). */
	return fsync_dir(s->blobs, shard, eb);
}

static int fs_stat(struct px_blob_store *base, const char *hex,
		   uint64_t *size, struct px_errbuf *eb)
{
	struct fs_store *s = (struct fs_store *)base;
	char path[72];
	struct stat st;

	blob_path(path, hex);
	if (fstatat(s->blobs, path, &st, 0)) {
		if (errno == ENOENT || errno == ENOTDIR)
			return px_errf(eb, PX_ENOTFOUND, "no blob \"%s\"", hex);
		return px_errf(eb, PX_EIO, "cannot stat blob \"%s\": %s", hex,
			       strerror(errno));
	}
	*size = (uint64_t)st.st_size;
	return 0;
}

/* Open dirfd/name as a directory stream; NULL with errno on failure. */
static DIR *open_stream(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d)
		close(fd);
	return d;
}

/* Next entry of d, or NULL at the end (*err set on a read error). */
static struct dirent *next_entry(DIR *d, int *err)
{
	struct dirent *e;

	errno = 0;
	e = readdir(d);
	if (!e && errno)
		*err = errno;
	return e;
}

/* A shard directory name: two lowercase hex digits. */
static bool is_hex2(const char *z)
{
	return z[0] && z[1] && !z[2] && strchr("0123456789abcdef", z[0]) &&
	       strchr("0123456789abcdef", z[1]);
}

/*
 * Walk blobs/ab/cd/. Anything that is not a valid name in its right shard
 * is skipped: get() could never reach it. fn > 0 stops the walk with 0,
 * fn < 0 stops it with that rc.
 */
static int fs_list(struct px_blob_store *base, px_blob_list_fn fn, void *ctx,
		   struct px_errbuf *eb)
{
	struct fs_store *s = (struct fs_store *)base;
	DIR *d1 = NULL, *d2 = NULL, *d3 = NULL;
	struct dirent *e1, *e2, *e3;
	int err = 0, rc = 0, r;

	d1 = open_stream(s->blobs, ".");
	if (!d1) {
		err = errno;
		goto out;
	}
	while (!err && (e1 = next_entry(d1, &err)) != NULL) {
		if (!is_hex2(e1->d_name) ||
		    !(d2 = open_stream(dirfd(d1), e1->d_name)))
			continue; /* junk, or vanished since readdir */
		while (!err && (e2 = next_entry(d2, &err)) != NULL) {
			if (!is_hex2(e2->d_name) ||
			    !(d3 = open_stream(dirfd(d2), e2->d_name)))
				continue;
			while (!err && (e3 = next_entry(d3, &err)) != NULL) {
				const char *z = e3->d_name;

				if (!px_blob_valid_name(z) ||
				    memcmp(z, e1->d_name, 2) ||
				    memcmp(z + 2, e2->d_name, 2))
					continue;
				r = fn(ctx, z);
				if (r) {
					rc = r < 0 ? r : 0;
					goto out;
				}
			}
			closedir(d3);
			d3 = NULL;
		}
		closedir(d2);
		d2 = NULL;
	}
out:
	if (err)
		rc = px_errf(eb, PX_EIO, "cannot list blobs: %s",
			     strerror(err));
	if (d3)
		closedir(d3);
	if (d2)
		closedir(d2);
	if (d1)
		closedir(d1);
	return rc;
}

/*
 * Remove every file in tmp/. Only for startup: a put() running at the
 * same time would lose its temporary file and fail.
 */
static int fs_recover(struct px_blob_store *base, unsigned *n,
		      struct px_errbuf *eb)
{
	struct fs_store *s = (struct fs_store *)base;
	struct dirent *e;
	DIR *d;
	int err = 0, rc = 0;

	*n = 0;
	d = open_stream(s->tmp, ".");
	if (!d)
		return px_errf(eb, PX_EIO, "cannot open tmp directory: %s",
			       strerror(errno));
	while (!err && (e = next_entry(d, &err)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			(*n)++;
		else if (errno != ENOENT && errno != EISDIR && errno != EPERM)
			err = errno; /* a directory is not ours to remove */
	}
	if (err)
		rc = px_errf(eb, PX_EIO, "cannot clean tmp directory: %s",
			     strerror(err));
	else if (*n)
		rc = fsync_dir(s->tmp, ".", eb);
	closedir(d);
	return rc;
}

static int fs_health(struct px_blob_store *base, struct px_errbuf *eb)
{
	struct fs_store *s = (struct fs_store *)base;
	static const char *const dirs[] = {"blobs", "tmp"};

	for (size_t i = 0; i < PX_ARRAY_LEN(dirs); i++)
		if (faccessat(s->root, dirs[i], R_OK | W_OK | X_OK, 0))
			return px_errf(eb, PX_EIO, "blob directory \"%s\": %s",
				       dirs[i], strerror(errno));
	return 0;
}

const struct px_blob_ops px_blob_fs_ops = {
	.name = "fs",
	.open = fs_open,
	.close = fs_close,
	.put = fs_put,
	.get = fs_get,
	.del = fs_del,
	.stat = fs_stat,
	.list = fs_list,
	.recover = fs_recover,
	.health = fs_health,
};
