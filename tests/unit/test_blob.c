/*
 * test_blob.c - the blob store through its wrappers, on every backend.
 *
 * Each case runs once per backend (fs in a fresh mkdtemp directory, mem);
 * fs-only cases look at the on-disk layout that blob_fs.c documents.
 */
#include "store/blob.h"

#include "t.h"

#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#define NTHREAD 4

struct env {
	const struct px_blob_ops *ops;
	char dir[64];  /* mkdtemp parent, removed at the end */
	char path[80]; /* the store directory inside it */
	struct px_blob_store *s;
};

/* A valid, distinct blob name per seed (not a real digest: no need). */
static void hexname(char *out, unsigned seed)
{
	for (unsigned i = 0; i < 8; i++)
		snprintf(out + 8 * i, 9, "%08x",
			 seed * 2654435761u + i * 40503u);
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 31 + seed);
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	return remove(path);
}

static void env_open(struct env *e, const struct px_blob_ops *ops)
{
	memset(e, 0, sizeof(*e));
	e->ops = ops;
	snprintf(e->dir, sizeof(e->dir), "/tmp/pxblob-XXXXXX");
	T_OK(mkdtemp(e->dir) != NULL);
	snprintf(e->path, sizeof(e->path), "%s/store", e->dir);
	T_EQ(px_blob_open(ops, e->path, &e->s, NULL), 0);
}

static void env_close(struct env *e)
{
	px_blob_close(e->s);
	nftw(e->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_roundtrip(struct env *e)
{
	char hex[65], hex2[65];
	unsigned char data[1000];
	struct px_errbuf eb = {0};
	struct px_buf b;
	uint64_t size = 0;

	hexname(hex, 1);
	hexname(hex2, 2);
	fill(data, sizeof(data), 1);
	T_EQ(px_blob_health(e->s, &eb), 0);
	T_EQ(px_blob_put(e->s, hex, data, sizeof(data), &eb), 0);
	T_EQ(px_blob_stat(e->s, hex, &size, &eb), 0);
	T_EQ(size, sizeof(data));

	/* get appends to what the buffer holds */
	px_buf_init(&b, 0);
	px_buf_adds(&b, "xy");
	T_EQ(px_blob_get(e->s, hex, &b, &eb), 0);
	T_EQ(b.len, 2 + sizeof(data));
	T_OK(memcmp(b.data, "xy", 2) == 0);
	T_OK(memcmp(b.data + 2, data, sizeof(data)) == 0);
	T_EQ(b.data[b.len], 0);
	px_buf_release(&b);

	/* idempotent: the second put changes nothing */
	T_EQ(px_blob_put(e->s, hex, data, sizeof(data), &eb), 0);
	T_EQ(px_blob_get(e->s, hex, &b, &eb), 0);
	T_EQ(b.len, sizeof(data));
	px_buf_release(&b);

	/* a buffer too small for the blob is left as it was */
	px_buf_init(&b, 100);
	px_buf_adds(&b, "keep");
	T_EQ(px_blob_get(e->s, hex, &b, &eb), PX_ETOOBIG);
	T_EQ(b.len, 4);
	px_buf_release(&b);

	/* empty blob */
	T_EQ(px_blob_put(e->s, hex2, "", 0, &eb), 0);
	T_EQ(px_blob_stat(e->s, hex2, &size, &eb), 0);
	T_EQ(size, 0);
	px_buf_init(&b, 0);
	T_EQ(px_blob_get(e->s, hex2, &b, &eb), 0);
	T_EQ(b.len, 0);
	px_buf_release(&b);

	T_EQ(px_blob_del(e->s, hex, &eb), 0);
	T_EQ(px_blob_del(e->s, hex, &eb), PX_ENOTFOUND);
	T_EQ(px_blob_get(e->s, hex, &b, &eb), PX_ENOTFOUND);
	T_EQ(px_blob_stat(e->s, hex, &size, &eb), PX_ENOTFOUND);
	T_EQ(px_blob_del(e->s, hex2, &eb), 0);
	px_buf_release(&b);
}

struct seen {
	char names[64][65];
	int n, stop_at, ret;
};

static int collect(void *ctx, const char *hex)
{
	struct seen *s = ctx;

	if (s->n < 64)
		memcpy(s->names[s->n], hex, 65);
	s->n++;
	return s->stop_at && s->n >= s->stop_at ? s->ret : 0;
}

static bool seen_has(const struct seen *s, const char *hex)
{
	for (int i = 0; i < s->n && i < 64; i++)
		if (strcmp(s->names[i], hex) == 0)
			return true;
	return false;
}

static void test_list(struct env *e)
{
	struct seen *s = calloc(1, sizeof(*s));
	char hex[65];
	bool all = true;

	for (unsigned i = 0; i < 5; i++) {
		hexname(hex, 100 + i);
		T_EQ(px_blob_put(e->s, hex, hex, 64, NULL), 0);
	}
	T_EQ(px_blob_list(e->s, collect, s, NULL), 0);
	T_EQ(s->n, 5);
	for (unsigned i = 0; i < 5; i++) {
		hexname(hex, 100 + i);
		all = all && seen_has(s, hex);
	}
	T_OK(all);

	/* fn > 0 stops cleanly, fn < 0 is passed back */
	memset(s, 0, sizeof(*s));
	s->stop_at = 2;
	s->ret = 1;
	T_EQ(px_blob_list(e->s, collect, s, NULL), 0);
	T_EQ(s->n, 2);
	memset(s, 0, sizeof(*s));
	s->stop_at = 1;
	s->ret = PX_EBUSY;
	T_EQ(px_blob_list(e->s, collect, s, NULL), PX_EBUSY);
	T_EQ(s->n, 1);

	for (unsigned i = 0; i < 5; i++) {
		hexname(hex, 100 + i);
		T_EQ(px_blob_del(e->s, hex, NULL), 0);
	}
	memset(s, 0, sizeof(*s));
	T_EQ(px_blob_list(e->s, collect, s, NULL), 0);
	T_EQ(s->n, 0);
	free(s);
}

static void test_invalid_names(struct env *e)
{
	static const char *const bad[] = {
		"",
		"abc",
		/* 63 and 65 digits */
		"000000000000000000000000000000000000000000000000000000000000000",
		"00000000000000000000000000000000000000000000000000000000000000000",
		/* uppercase, non-hex, path tricks */
		"ABCDEF0000000000000000000000000000000000000000000000000000000000",
		"g000000000000000000000000000000000000000000000000000000000000000",
		"../0000000000000000000000000000000000000000000000000000000000000",
		"00/00/0000000000000000000000000000000000000000000000000000000000",
	};
	struct px_errbuf eb = {0};
	struct px_buf b;
	uint64_t size;

	px_buf_init(&b, 0);
	for (size_t i = 0; i < PX_ARRAY_LEN(bad); i++) {
		T_OK(!px_blob_valid_name(bad[i]));
		T_EQ(px_blob_put(e->s, bad[i], "x", 1, &eb), PX_EINVAL);
		T_EQ(px_blob_get(e->s, bad[i], &b, &eb), PX_EINVAL);
		T_EQ(px_blob_del(e->s, bad[i], &eb), PX_EINVAL);
		T_EQ(px_blob_stat(e->s, bad[i], &size, &eb), PX_EINVAL);
	}
	T_OK(!px_blob_valid_name(NULL));
	T_EQ(px_blob_put(e->s, NULL, "x", 1, &eb), PX_EINVAL);
	T_STREQ(eb.code, "bad_blob_name");
	T_OK(px_blob_valid_name("0123456789abcdef0123456789abcdef"
				"0123456789abcdef0123456789abcdef"));
	T_EQ(b.len, 0);
	px_buf_release(&b);
}

struct put_job {
	struct px_blob_store *s;
	const char *hex;
	const unsigned char *data;
	size_t n;
	pthread_barrier_t *go;
	int rc;
};

static void *put_thread(void *arg)
{
	struct put_job *j = arg;

	pthread_barrier_wait(j->go);
	j->rc = px_blob_put(j->s, j->hex, j->data, j->n, NULL);
	return NULL;
}

/* Several threads storing the same blob at once all succeed, intact. */
static void test_concurrent_put(struct env *e)
{
	size_t n = 256 * 1024;
	unsigned char *data = malloc(n);
	struct put_job job[NTHREAD];
	pthread_t th[NTHREAD];
	pthread_barrier_t go;
	char hex[65];
	struct px_buf b;
	int bad = 0;

	for (unsigned round = 0; round < 8; round++) {
		hexname(hex, 500 + round);
		fill(data, n, round);
		pthread_barrier_init(&go, NULL, NTHREAD);
		for (int i = 0; i < NTHREAD; i++) {
			job[i] = (struct put_job){e->s, hex, data, n, &go, -99};
			pthread_create(&th[i], NULL, put_thread, &job[i]);
		}
		for (int i = 0; i < NTHREAD; i++) {
			pthread_join(th[i], NULL);
			bad += job[i].rc != 0;
		}
		pthread_barrier_destroy(&go);
		px_buf_init(&b, 0);
		T_EQ(px_blob_get(e->s, hex, &b, NULL), 0);
		T_OK(b.len == n && memcmp(b.data, data, n) == 0);
		px_buf_release(&b);
		T_EQ(px_blob_del(e->s, hex, NULL), 0);
	}
	T_EQ(bad, 0);
	free(data);
}

static void test_fault(struct env *e)
{
	char a[65], b[65], c[65];
	struct px_errbuf eb = {0};
	uint64_t size;

	hexname(a, 700);
	hexname(b, 701);
	hexname(c, 702);
	px_blob_fault_put(PX_EIO, 1);
	T_EQ(px_blob_put(e->s, "bad", "x", 1, &eb), PX_EINVAL); /* no count */
	T_EQ(px_blob_put(e->s, a, "a", 1, &eb), 0);
	T_EQ(px_blob_put(e->s, b, "b", 1, &eb), PX_EIO);
	T_EQ(px_blob_stat(e->s, b, &size, &eb), PX_ENOTFOUND);
	T_EQ(px_blob_put(e->s, c, "c", 1, &eb), 0); /* one shot */

	px_blob_fault_put(PX_ENOMEM, 0);
	px_blob_fault_put(0, 0); /* reset */
	T_EQ(px_blob_put(e->s, b, "b", 1, &eb), 0);
	T_EQ(px_blob_stat(e->s, b, &size, &eb), 0);
	T_EQ(size, 1);
	px_blob_del(e->s, a, NULL);
	px_blob_del(e->s, b, NULL);
	px_blob_del(e->s, c, NULL);
}

static void test_recover_mem(struct env *e)
{
	unsigned n = 99;

	T_EQ(px_blob_recover(e->s, &n, NULL), 0);
	T_EQ(n, 0);
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static void touch(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs("junk", f);
		fclose(f);
	}
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

/* fs only: the documented layout, junk skipped, recovery, reopening. */
static void test_fs_layout(struct env *e)
{
	char hex[65], path[300], tmpdir[120];
	struct seen *s = calloc(1, sizeof(*s));
	struct px_blob_store *bad = NULL;
	struct px_errbuf eb = {0};
	struct stat st;
	unsigned n = 0;
	struct px_buf b;

	hexname(hex, 900);
	T_EQ(px_blob_put(e->s, hex, "hello", 5, NULL), 0);
	snprintf(path, sizeof(path), "%s/blobs/%.2s/%.2s/%s", e->path, hex,
		 hex + 2, hex);
	T_OK(stat(path, &st) == 0 && st.st_size == 5);
	T_EQ(st.st_mode & 0600, 0600);
	snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", e->path);
	T_EQ(count_entries(tmpdir), 0); /* no temp file left behind */

	/* junk in the tree is not listed */
	snprintf(path, sizeof(path), "%s/blobs/zz", e->path);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/blobs/%.2s/%.2s/notahex", e->path,
		 hex, hex + 2);
	touch(path);
	snprintf(path, sizeof(path), "%s/blobs/%.2s/%.2s/%s.tmp", e->path, hex,
		 hex + 2, hex);
	touch(path);
	/* a valid name in the wrong shard */
	snprintf(path, sizeof(path), "%s/blobs/%.2s/%.2s/ffff%.60s", e->path,
		 hex, hex + 2, hex + 4);
	touch(path);
	T_EQ(px_blob_list(e->s, collect, s, NULL), 0);
	T_EQ(s->n, 1);
	T_OK(strcmp(s->names[0], hex) == 0);

	/* recover removes planted temp files, nothing else */
	snprintf(path, sizeof(path), "%s/0-0-0.tmp", tmpdir);
	touch(path);
	snprintf(path, sizeof(path), "%s/stray", tmpdir);
	touch(path);
	T_EQ(px_blob_recover(e->s, &n, NULL), 0);
	T_EQ(n, 2);
	T_EQ(count_entries(tmpdir), 0);
	T_OK(!exists(path));
	T_EQ(px_blob_recover(e->s, &n, NULL), 0);
	T_EQ(n, 0);

	/* the blob outlives the store handle */
	px_blob_close(e->s);
	e->s = NULL;
	T_EQ(px_blob_open(&px_blob_fs_ops, e->path, &e->s, NULL), 0);
	px_buf_init(&b, 0);
	T_EQ(px_blob_get(e->s, hex, &b, NULL), 0);
	T_OK(b.len == 5 && memcmp(b.data, "hello", 5) == 0);
	px_buf_release(&b);
	T_EQ(px_blob_health(e->s, NULL), 0);

	/* a store cannot open on a file */
	snprintf(path, sizeof(path), "%s/blobs/%.2s/%.2s/notahex", e->path,
		 hex, hex + 2);
	T_EQ(px_blob_open(&px_blob_fs_ops, path, &bad, &eb), PX_EIO);
	T_OK(bad == NULL && eb.msg[0] != '\0');
	free(s);
}

static void run(void)
{
	const struct px_blob_ops *ops[] = {&px_blob_fs_ops, &px_blob_mem_ops};
	struct env e;

	T_CASE("find")
	{
		T_OK(px_blob_find("fs") == &px_blob_fs_ops);
		T_OK(px_blob_find("mem") == &px_blob_mem_ops);
		T_OK(px_blob_find("s3") == &px_blob_s3_ops);
		T_OK(px_blob_find("gcs") == NULL);
		T_OK(px_blob_find(NULL) == NULL);
		px_blob_close(NULL);
	}
	T_CASE("names: add, sort, has") {
		struct px_blob_names l = {0};
		char hex[65];
		bool sorted = true;

		T_OK(!px_blob_names_has(&l, "x")); /* empty, NULL array */
		px_blob_names_sort(&l);
		for (unsigned i = 0; i < 300; i++) { /* past one growth */
			hexname(hex, 1000 - i);
			T_EQ(px_blob_names_collect(&l, hex), 0);
		}
		T_EQ(l.n, 300u);
		px_blob_names_sort(&l);
		for (size_t i = 1; i < l.n; i++)
			sorted = sorted && strcmp(l.a[i - 1], l.a[i]) < 0;
		T_OK(sorted);
		hexname(hex, 701);
		T_OK(px_blob_names_has(&l, hex));
		hexname(hex, 700);
		T_OK(!px_blob_names_has(&l, hex));
		px_blob_names_release(&l);
		T_OK(l.a == NULL && l.n == 0 && l.cap == 0);
	}
	for (size_t i = 0; i < PX_ARRAY_LEN(ops); i++) {
		bool fs = ops[i] == &px_blob_fs_ops;

		env_open(&e, ops[i]);
		T_CASE(fs ? "fs roundtrip" : "mem roundtrip")
			test_roundtrip(&e);
		T_CASE(fs ? "fs list" : "mem list") test_list(&e);
		T_CASE(fs ? "fs names" : "mem names") test_invalid_names(&e);
		T_CASE(fs ? "fs concurrent" : "mem concurrent")
			test_concurrent_put(&e);
		T_CASE(fs ? "fs fault" : "mem fault") test_fault(&e);
		if (fs)
			T_CASE("fs layout") test_fs_layout(&e);
		else
			T_CASE("mem recover") test_recover_mem(&e);
		env_close(&e);
	}
}
