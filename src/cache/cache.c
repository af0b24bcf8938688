/*
 * cache.c - the two cache tiers, the lookup over both, coalescing and
 * purges (see cache.h for the contract, index.h for eviction and entry.h
 * for the disk format).
 *
 * Locks: mem_lock guards the memory index, disk_lock the disk index,
 * fl_lock the list of renders in flight. fl_lock may be held while
 * taking either tier lock (a join looks the key up once more under it),
 * never the other way round. Payloads leave the indexes in victim lists
 * and are released after the lock is dropped.
 *
 * Disk tier start-up: a background thread lists the directory (names and
 * sizes only, no entry is read) into the index and evicts down to the
 * budget. Until it is done a lookup that the index does not know yet
 * still tries the file, so a restart serves disk hits at once.
 */
#include "cache/cache.h"
#include "cache/entry.h"
#include "core/crypto.h"
#include "core/log.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

/* Disk entries larger than this are never read back (nor written). */
#define DISK_ENTRY_MAX ((uint64_t)256 << 20)

struct flight {
	uint8_t hash[32];
	struct px_cache_waiter *waiters;
	struct flight *next;
};

struct px_cache {
	struct px_cache_opts o;
	char *dir;

	pthread_mutex_t mem_lock;
	struct px_cache_index mem;
	bool mem_on;

	pthread_mutex_t disk_lock;
	struct px_cache_index disk;
	bool disk_on;
	bool scanned; /* under disk_lock */
	pthread_cond_t scanned_cond;
	pthread_t scanner;
	bool scanner_started;

	pthread_mutex_t fl_lock;
	pthread_cond_t fl_cond;
	struct flight *flights;
	pthread_t timer;
	bool timer_started, stopping;

	atomic_ullong hits[3], misses[3], coalesced, timeouts;
	struct {
		struct px_metric *requests, *coalesced, *timeouts, *bytes,
			*entries, *evictions;
	} m;
	uint64_t evictions_reported[3]; /* under the tier's lock */
};

static const char *tier_name[] = {"", "memory", "disk"};

/* Bring the tier's gauges and eviction counter up to date; called with
 * the tier's lock held after every change to its index. */
static void account(struct px_cache *c, enum px_cache_tier t,
		    const struct px_cache_index *ix)
{
	px_metric_set(c->m.bytes, (double)ix->used, tier_name[t]);
	px_metric_set(c->m.entries, (double)ix->count, tier_name[t]);
	if (ix->evictions > c->evictions_reported[t]) {
		px_metric_add(c->m.evictions,
			      (double)(ix->evictions - c->evictions_reported[t]),
			      tier_name[t]);
		c->evictions_reported[t] = ix->evictions;
	}
}

static void count_request(struct px_cache *c, enum px_cache_tier t, bool hit)
{
	atomic_fetch_add(hit ? &c->hits[t] : &c->misses[t], 1);
	px_metric_add(c->m.requests, 1, tier_name[t], hit ? "hit" : "miss");
}

/* ---------------------------------------------------------------- items */

struct px_cache_item *px_cache_item_new(int status, const char *ctype,
					const void *data, size_t len)
{
	struct px_cache_item *it = malloc(sizeof(*it) + len);

	if (!it)
		return NULL;
	atomic_init(&it->refs, 1);
	it->status = status;
	px_strlcpy(it->ctype, ctype ? ctype : "", sizeof(it->ctype));
	it->location[0] = '\0';
	it->len = len;
	if (len)
		memcpy(it->data, data, len);
	return it;
}

void px_cache_item_ref(struct px_cache_item *it)
{
	atomic_fetch_add(&it->refs, 1);
}

void px_cache_item_unref(void *p)
{
	struct px_cache_item *it = p;

	if (it && atomic_fetch_sub(&it->refs, 1) == 1)
		free(it);
}

/* ----------------------------------------------------------------- keys */

static void hex_to_bytes(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)(px_hexval(hex[2 * i]) << 4 |
				   px_hexval(hex[2 * i + 1]));
}

static void bytes_to_hex(const uint8_t *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void px_cache_variant_tag(const char *variant, char tag[9])
{
	char hex[PX_SHA256_HEX_LEN + 1];

	if (!variant) {
		strcpy(tag, "-");
		return;
	}
	px_sha256_hex(variant, strlen(variant), hex);
	memcpy(tag, hex, 8);
	tag[8] = '\0';
}

int px_cache_key_make(struct px_cache_key *k, const char *sha256,
		      const char *canonical, const char *variant)
{
	int n;

	memset(k, 0, sizeof(*k));
	if (strlen(sha256) != PX_SHA256_HEX_LEN)
		return PX_EINVAL;
	n = snprintf(k->text, sizeof(k->text), "%s|%s|%s", sha256, canonical,
		     variant ? variant : "");
	if (n < 0 || (size_t)n >= sizeof(k->text))
		return PX_ETOOBIG;
	px_strlcpy(k->sha256, sha256, sizeof(k->sha256));
	px_cache_variant_tag(variant, k->tag);
	px_sha256_hex(k->text, (size_t)n, k->hex);
	hex_to_bytes(k->hex, k->hash, 32);
	return 0;
}

static struct px_cache_ent *ent_new(const struct px_cache_key *k,
				    uint64_t cost, void *payload)
{
	struct px_cache_ent *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	memcpy(e->hash, k->hash, 32);
	px_strlcpy(e->sha256, k->sha256, sizeof(e->sha256));
	px_strlcpy(e->tag, k->tag, sizeof(e->tag));
	e->cost = cost;
	e->payload = payload;
	return e;
}

/* ---------------------------------------------------------- memory tier */

static void mem_free_victims(struct px_cache_ent *v)
{
	struct px_cache_ent *next;

	for (; v; v = next) {
		next = v->next;
		px_cache_item_unref(v->payload);
		free(v);
	}
}

static void mem_release_ent(struct px_cache_ent *e)
{
	px_cache_item_unref(e->payload);
	free(e);
}

static void disk_release_ent(struct px_cache_ent *e)
{
	free(e);
}

static struct px_cache_item *mem_get(struct px_cache *c,
				     const struct px_cache_key *k)
{
	struct px_cache_item *it = NULL;
	struct px_cache_ent *e;

	pthread_mutex_lock(&c->mem_lock);
	e = px_cache_index_get(&c->mem, k->hash);
	if (e) {
		it = e->payload;
		px_cache_item_ref(it);
	}
	pthread_mutex_unlock(&c->mem_lock);
	return it;
}

/* Store it (a reference is taken) under k; true if it is stored. */
static bool mem_put(struct px_cache *c, const struct px_cache_key *k,
		    struct px_cache_item *it)
{
	struct px_cache_ent *e, *old, *victims = NULL;
	bool stored = false;

	e = ent_new(k, sizeof(*it) + it->len + sizeof(*e), it);
	if (!e)
		return false;
	px_cache_item_ref(it);
	pthread_mutex_lock(&c->mem_lock);
	if ((old = px_cache_index_peek(&c->mem, k->hash))) {
		px_cache_index_remove(&c->mem, old);
		old->next = victims;
		victims = old;
	}
	if (px_cache_index_put(&c->mem, e, &victims) == 0)
		stored = true;
	account(c, PX_CACHE_MEMORY, &c->mem);
	pthread_mutex_unlock(&c->mem_lock);
	if (!stored)
		mem_release_ent(e);
	mem_free_victims(victims);
	return stored;
}

/* ------------------------------------------------------------ disk tier */

/* <dir>/<sha[0:2]>/<sha>/<key hex>.<tag> */
static void disk_path(const struct px_cache *c, const char *sha256,
		      const char *hex, const char *tag, char *out, size_t n)
{
	snprintf(out, n, "%s/%.2s/%s/%s.%s", c->dir, sha256, sha256, hex, tag);
}

static void ent_path(const struct px_cache *c, const struct px_cache_ent *e,
		     char *out, size_t n)
{
	char hex[PX_SHA256_HEX_LEN + 1];

	bytes_to_hex(e->hash, 32, hex);
	disk_path(c, e->sha256, hex, e->tag, out, n);
}

static void disk_free_victims(struct px_cache *c, struct px_cache_ent *v)
{
	struct px_cache_ent *next;
	char path[4096];

	for (; v; v = next) {
		next = v->next;
		ent_path(c, v, path, sizeof(path));
		unlink(path);
		free(v);
	}
}

/* Account for a file of size bytes under k (replacing what was known). */
static void disk_index(struct px_cache *c, const struct px_cache_key *k,
		       uint64_t size)
{
	struct px_cache_ent *e, *old, *victims = NULL;

	if (!(e = ent_new(k, size, NULL)))
		return;
	pthread_mutex_lock(&c->disk_lock);
	if ((old = px_cache_index_peek(&c->disk, k->hash))) {
		/* The same file was replaced: only its size changes. */
		px_cache_index_remove(&c->disk, old);
		free(old);
	}
	if (px_cache_index_put(&c->disk, e, &victims)) {
		free(e);
		e = NULL;
	}
	account(c, PX_CACHE_DISK, &c->disk);
	pthread_mutex_unlock(&c->disk_lock);
	disk_free_victims(c, victims);
	if (!e) {
		char path[4096];

		disk_path(c, k->sha256, k->hex, k->tag, path, sizeof(path));
		unlink(path);
	}
}

static void disk_forget(struct px_cache *c, const struct px_cache_key *k)
{
	struct px_cache_ent *e;

	pthread_mutex_lock(&c->disk_lock);
	if ((e = px_cache_index_peek(&c->disk, k->hash))) {
		px_cache_index_remove(&c->disk, e);
		free(e);
	}
	account(c, PX_CACHE_DISK, &c->disk);
	pthread_mutex_unlock(&c->disk_lock);
}

static int read_all(int fd, uint8_t *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, p + got, n - got, (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return PX_EIO;
		got += (size_t)r;
	}
	return 0;
}

/*
 * Read, check and (when memory is on) promote the entry for k. A file
 * that fails any check is removed: a miss, never served.
 */
static int disk_get(struct px_cache *c, const struct px_cache_key *k,
		    struct px_cache_hit *h)
{
	struct px_cache_entry *e = NULL;
	struct px_cache_item *it = NULL;
	char path[4096];
	uint8_t *file = NULL;
	bool known, scanned, bad = false;
	struct stat st;
	int fd = -1, rc = PX_ENOTFOUND;

	pthread_mutex_lock(&c->disk_lock);
	known = px_cache_index_get(&c->disk, k->hash) != NULL;
	scanned = c->scanned;
	pthread_mutex_unlock(&c->disk_lock);
	if (!known && scanned)
		return PX_ENOTFOUND;
	disk_path(c, k->sha256, k->hex, k->tag, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		/* Removed behind the index's back: stop counting it. */
		if (known && errno == ENOENT)
			disk_forget(c, k);
		goto out;
	}
	bad = true;
	if (fstat(fd, &st) || (uint64_t)st.st_size > DISK_ENTRY_MAX ||
	    st.st_size < PX_CACHE_ENTRY_FIXED)
		goto out;
	if (!(file = malloc((size_t)st.st_size)) ||
	    !(e = malloc(sizeof(*e)))) {
		bad = false;
		goto out;
	}
	if (read_all(fd, file, (size_t)st.st_size) ||
	    px_cache_entry_parse(file, (size_t)st.st_size,
				 (uint64_t)st.st_size, e) ||
	    strcmp(e->key, k->text) ||
	    !px_cache_entry_verify(file, (size_t)st.st_size, e))
		goto out;
	bad = false;
	if (!known)
		disk_index(c, k, (uint64_t)st.st_size);
	if (c->mem_on &&
	    (it = px_cache_item_new(200, e->ctype, file + e->hlen,
				    (size_t)e->blen))) {
		mem_put(c, k, it);
		px_cache_item_unref(it);
	}
	h->tier = PX_CACHE_DISK;
	h->fd = fd;
	h->off = e->hlen;
	h->len = e->blen;
	px_strlcpy(h->ctype, e->ctype, sizeof(h->ctype));
	fd = -1;
	rc = 0;
out:
	if (bad) {
		px_logf(PX_LOG_WARN, "cache: removed damaged entry %s", k->hex);
		unlink(path);
		disk_forget(c, k);
	}
	if (fd >= 0)
		close(fd);
	free(file);
	free(e);
	return rc;
}

static int mkdir_p2(const struct px_cache *c, const char *sha256)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%.2s", c->dir, sha256);
	if (mkdir(path, 0755) && errno != EEXIST)
		return PX_EIO;
	snprintf(path, sizeof(path), "%s/%.2s/%s", c->dir, sha256, sha256);
	if (mkdir(path, 0755) && errno != EEXIST)
		return PX_EIO;
	return 0;
}

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return PX_EIO;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Write the entry to a temp file and rename it into place: readers see
 * the old file, the new one or none, never a partial one. No fsync: a
 * file the kernel had not written when the machine stopped fails its
 * checksum and is dropped, which is all a cache needs.
 */
static void disk_put(struct px_cache *c, const struct px_cache_key *k,
		     const struct px_cache_item *it)
{
	char tmp[4096], path[4096], rnd[17];
	struct px_buf hdr;
	int fd = -1;
	bool ok = false;

	if (it->len > DISK_ENTRY_MAX)
		return;
	px_buf_init(&hdr, 0);
	px_random_hex(rnd, 8);
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s.tmp", c->dir, rnd);
	disk_path(c, k->sha256, k->hex, k->tag, path, sizeof(path));
	if (px_cache_entry_format(k->text, it->ctype, it->data, it->len, &hdr) ||
	    mkdir_p2(c, k->sha256))
		goto out;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		goto out;
	if (write_all(fd, hdr.data, hdr.len) ||
	    write_all(fd, it->data, it->len))
		goto out;
	if (close(fd)) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path))
		goto out;
	ok = true;
	disk_index(c, k, hdr.len + it->len);
out:
	if (fd >= 0)
		close(fd);
	if (!ok) {
		unlink(tmp);
		px_logf(PX_LOG_WARN, "cache: cannot write entry %s: %s", k->hex,
			strerror(errno));
	}
	px_buf_release(&hdr);
}

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!s[i] || px_hexval(s[i]) < 0 || (s[i] >= 'A' && s[i] <= 'F'))
			return false;
	return true;
}

/* Index one file found by the scan; anything that is not an entry name
 * is removed. */
static void scan_file(struct px_cache *c, int dfd, const char *sha256,
		      const char *name)
{
	struct px_cache_key k;
	const char *dot = strchr(name, '.');
	struct px_cache_ent *e, *victims = NULL;
	struct stat st;

	if (!dot || dot - name != PX_SHA256_HEX_LEN || !is_hex(name, 64) ||
	    !(strcmp(dot + 1, "-") == 0 ||
	      (strlen(dot + 1) == 8 && is_hex(dot + 1, 8)))) {
		unlinkat(dfd, name, 0);
		return;
	}
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
		return;
	memset(&k, 0, sizeof(k));
	memcpy(k.hex, name, 64);
	hex_to_bytes(k.hex, k.hash, 32);
	px_strlcpy(k.sha256, sha256, sizeof(k.sha256));
	px_strlcpy(k.tag, dot + 1, sizeof(k.tag));
	if (!(e = ent_new(&k, (uint64_t)st.st_size, NULL)))
		return;
	pthread_mutex_lock(&c->disk_lock);
	if (px_cache_index_peek(&c->disk, k.hash) ||
	    px_cache_index_put(&c->disk, e, &victims)) {
		free(e);
		e = NULL;
	}
	account(c, PX_CACHE_DISK, &c->disk);
	pthread_mutex_unlock(&c->disk_lock);
	disk_free_victims(c, victims);
	if (!e && (uint64_t)st.st_size > c->o.disk_bytes)
		unlinkat(dfd, name, 0);
}

static void scan_dir(struct px_cache *c, const char *sub, const char *sha256)
{
	char path[4096];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", c->dir, sub);
	if (!(d = opendir(path)))
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (sha256) {
			scan_file(c, dirfd(d), sha256, de->d_name);
		} else if (strlen(sub) == 2 && strlen(de->d_name) == 64 &&
			   is_hex(de->d_name, 64) &&
			   !strncmp(de->d_name, sub, 2)) {
			char next[128];

			snprintf(next, sizeof(next), "%.2s/%.64s", sub, de->d_name);
			scan_dir(c, next, de->d_name);
		}
	}
	closedir(d);
}

static void *scanner_main(void *arg)
{
	struct px_cache *c = arg;
	struct dirent *de;
	DIR *d = opendir(c->dir);

	while (d && (de = readdir(d))) {
		pthread_mutex_lock(&c->fl_lock);
		bool stop = c->stopping;
		pthread_mutex_unlock(&c->fl_lock);

		if (stop)
			break;
		if (strlen(de->d_name) == 2 && is_hex(de->d_name, 2))
			scan_dir(c, de->d_name, NULL);
	}
	if (d)
		closedir(d);
	pthread_mutex_lock(&c->disk_lock);
	c->scanned = true;
	pthread_cond_broadcast(&c->scanned_cond);
	pthread_mutex_unlock(&c->disk_lock);
	return NULL;
}

/* Remove files left by writes that never reached their rename. */
static void clear_tmp(struct px_cache *c)
{
	char path[4096];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/tmp", c->dir);
	if (!(d = opendir(path)))
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}

/* --------------------------------------------------------------- lookup */

static int lookup(struct px_cache *c, const struct px_cache_key *k,
		  struct px_cache_hit *h, bool count)
{
	memset(h, 0, sizeof(*h));
	h->fd = -1;
	if (c->mem_on) {
		if ((h->item = mem_get(c, k))) {
			h->tier = PX_CACHE_MEMORY;
			count_request(c, PX_CACHE_MEMORY, true);
			return 0;
		}
		if (count)
			count_request(c, PX_CACHE_MEMORY, false);
	}
	if (c->disk_on) {
		if (disk_get(c, k, h) == 0) {
			count_request(c, PX_CACHE_DISK, true);
			return 0;
		}
		if (count)
			count_request(c, PX_CACHE_DISK, false);
	}
	return PX_ENOTFOUND;
}

int px_cache_get(struct px_cache *c, const struct px_cache_key *k,
		 struct px_cache_hit *h)
{
	return lookup(c, k, h, true);
}

void px_cache_hit_release(struct px_cache_hit *h)
{
	px_cache_item_unref(h->item);
	h->item = NULL;
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
}

/* ----------------------------------------------------------- coalescing */

static struct flight **find_flight(struct px_cache *c, const uint8_t *hash)
{
	struct flight **pp = &c->flights;

	while (*pp && memcmp((*pp)->hash, hash, 32))
		pp = &(*pp)->next;
	return pp;
}

enum px_cache_join px_cache_join(struct px_cache *c,
				 const struct px_cache_key *k,
				 struct px_cache_waiter *w,
				 void (*park)(void *arg),
				 struct px_cache_hit *h)
{
	enum px_cache_join res;
	struct flight **pp, *f;

	memset(h, 0, sizeof(*h));
	h->fd = -1;
	pthread_mutex_lock(&c->fl_lock);
	pp = find_flight(c, k->hash);
	if ((f = *pp)) {
		park(w->arg);
		w->next = f->waiters;
		f->waiters = w;
		w->deadline_us = px_mono_us() + (int64_t)c->o.wait_ms * 1000;
		atomic_fetch_add(&c->coalesced, 1);
		px_metric_add(c->m.coalesced, 1);
		res = PX_CACHE_JOINED;
	} else if (lookup(c, k, h, false) == 0) {
		res = PX_CACHE_FOUND;
	} else if ((f = calloc(1, sizeof(*f)))) {
		memcpy(f->hash, k->hash, 32);
		f->next = c->flights;
		c->flights = f;
		res = PX_CACHE_LEAD;
	} else {
		/* No memory to coordinate: render alone. */
		res = PX_CACHE_LEAD;
	}
	pthread_mutex_unlock(&c->fl_lock);
	return res;
}

bool px_cache_awaited(struct px_cache *c, const struct px_cache_key *k)
{
	struct flight *f;
	bool any;

	pthread_mutex_lock(&c->fl_lock);
	f = *find_flight(c, k->hash);
	any = f && f->waiters;
	pthread_mutex_unlock(&c->fl_lock);
	return any;
}

bool px_cache_land(struct px_cache *c, const struct px_cache_key *k,
		   struct px_cache_item *res, bool store)
{
	struct px_cache_waiter *w, *next;
	struct flight **pp, *f;
	bool stored = false;

	if (store && res && res->status == 200) {
		if (c->mem_on)
			stored |= mem_put(c, k, res);
		if (c->disk_on) {
			disk_put(c, k, res);
			stored = true;
		}
	}
	pthread_mutex_lock(&c->fl_lock);
	pp = find_flight(c, k->hash);
	f = *pp;
	if (f)
		*pp = f->next;
	pthread_mutex_unlock(&c->fl_lock);
	if (!f)
		return stored;
	for (w = f->waiters; w; w = next) {
		next = w->next;
		w->fn(w, res, false);
	}
	free(f);
	return stored;
}

/* Answer waiters whose deadline passed; the render goes on. */
static void *timer_main(void *arg)
{
	struct px_cache *c = arg;

	pthread_mutex_lock(&c->fl_lock);
	while (!c->stopping) {
		struct px_cache_waiter *late = NULL, *w, *next;
		struct timespec ts;
		int64_t now = px_mono_us();

		for (struct flight *f = c->flights; f; f = f->next) {
			struct px_cache_waiter **pp = &f->waiters;

			while ((w = *pp)) {
				if (w->deadline_us <= now) {
					*pp = w->next;
					w->next = late;
					late = w;
				} else {
					pp = &w->next;
				}
			}
		}
		pthread_mutex_unlock(&c->fl_lock);
		for (w = late; w; w = next) {
			next = w->next;
			atomic_fetch_add(&c->timeouts, 1);
			px_metric_add(c->m.timeouts, 1);
			w->fn(w, NULL, true);
		}
		pthread_mutex_lock(&c->fl_lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (!c->stopping)
			pthread_cond_timedwait(&c->fl_cond, &c->fl_lock, &ts);
	}
	pthread_mutex_unlock(&c->fl_lock);
	return NULL;
}

/* ---------------------------------------------------------------- purge */

static bool purge_match(void *ctx, const struct px_cache_ent *e)
{
	const struct px_cache_purge *p = ctx;

	if (p->everything)
		return true;
	for (size_t i = 0; i < p->n_sha256; i++)
		if (!strcmp(p->sha256[i], e->sha256))
			return true;
	for (size_t i = 0; i < p->n_variants; i++) {
		char tag[9];

		px_cache_variant_tag(p->variants[i], tag);
		if (!strcmp(tag, e->tag))
			return true;
	}
	return false;
}

int px_cache_purge(struct px_cache *c, const struct px_cache_purge *p,
		   uint64_t *removed, struct px_errbuf *eb)
{
	struct px_cache_ent *victims = NULL;
	size_t n = 0;

	if (c->mem_on) {
		pthread_mutex_lock(&c->mem_lock);
		n += px_cache_index_purge(&c->mem, purge_match, (void *)p,
					  &victims);
		account(c, PX_CACHE_MEMORY, &c->mem);
		pthread_mutex_unlock(&c->mem_lock);
		mem_free_victims(victims);
		victims = NULL;
	}
	if (c->disk_on) {
		/* The index must know every file before it can be asked. */
		pthread_mutex_lock(&c->disk_lock);
		while (!c->scanned)
			pthread_cond_wait(&c->scanned_cond, &c->disk_lock);
		n += px_cache_index_purge(&c->disk, purge_match, (void *)p,
					  &victims);
		account(c, PX_CACHE_DISK, &c->disk);
		pthread_mutex_unlock(&c->disk_lock);
		disk_free_victims(c, victims);
	}
	if (removed)
		*removed = n;
	return 0;
}

/* ------------------------------------------------------------ lifecycle */

bool px_cache_enabled(const struct px_cache *c)
{
	return c && (c->mem_on || c->disk_on);
}

void px_cache_stats(struct px_cache *c, struct px_cache_stats *s)
{
	memset(s, 0, sizeof(*s));
	for (int t = PX_CACHE_MEMORY; t <= PX_CACHE_DISK; t++) {
		s->hits[t] = atomic_load(&c->hits[t]);
		s->misses[t] = atomic_load(&c->misses[t]);
	}
	pthread_mutex_lock(&c->mem_lock);
	s->bytes[PX_CACHE_MEMORY] = c->mem.used;
	s->entries[PX_CACHE_MEMORY] = c->mem.count;
	s->evictions[PX_CACHE_MEMORY] = c->mem.evictions;
	pthread_mutex_unlock(&c->mem_lock);
	pthread_mutex_lock(&c->disk_lock);
	s->bytes[PX_CACHE_DISK] = c->disk.used;
	s->entries[PX_CACHE_DISK] = c->disk.count;
	s->evictions[PX_CACHE_DISK] = c->disk.evictions;
	pthread_mutex_unlock(&c->disk_lock);
	s->coalesced = atomic_load(&c->coalesced);
	s->timeouts = atomic_load(&c->timeouts);
}

static void register_metrics(struct px_cache *c, struct px_metrics *m)
{
	if (!m)
		return;
	c->m.requests = px_metrics_counter(m, "pictor_cache_requests_total",
					   "result cache lookups by tier and result",
					   "tier,result");
	c->m.coalesced = px_metrics_counter(m, "pictor_cache_coalesced_total",
					    "requests that waited for a render another request started",
					    NULL);
	c->m.timeouts = px_metrics_counter(m, "pictor_cache_wait_timeouts_total",
					   "coalesced requests answered 503 after the wait bound",
					   NULL);
	c->m.bytes = px_metrics_gauge(m, "pictor_cache_bytes",
				      "bytes held by each cache tier", "tier");
	c->m.entries = px_metrics_gauge(m, "pictor_cache_entries",
					"entries held by each cache tier", "tier");
	c->m.evictions = px_metrics_counter(m, "pictor_cache_evictions_total",
					    "entries evicted to keep each tier within its budget",
					    "tier");
	for (int t = PX_CACHE_MEMORY; t <= PX_CACHE_DISK; t++) {
		/* Every series exists from the start, at zero. */
		px_metric_add(c->m.requests, 0, tier_name[t], "hit");
		px_metric_add(c->m.requests, 0, tier_name[t], "miss");
		px_metric_set(c->m.bytes, 0, tier_name[t]);
		px_metric_set(c->m.entries, 0, tier_name[t]);
		px_metric_add(c->m.evictions, 0, tier_name[t]);
	}
}

int px_cache_new(const struct px_cache_opts *o, struct px_cache **out,
		 struct px_errbuf *eb)
{
	struct px_cache *c = calloc(1, sizeof(*c));
	char path[4096];
	int rc = PX_ENOMEM;

	*out = NULL;
	if (!c)
		return PX_ENOMEM;
	c->o = *o;
	if (c->o.wait_ms <= 0)
		c->o.wait_ms = 30000;
	pthread_mutex_init(&c->mem_lock, NULL);
	pthread_mutex_init(&c->disk_lock, NULL);
	pthread_mutex_init(&c->fl_lock, NULL);
	pthread_cond_init(&c->fl_cond, NULL);
	pthread_cond_init(&c->scanned_cond, NULL);
	c->scanned = true;
	c->mem_on = o->memory_bytes > 0;
	register_metrics(c, o->metrics);
	c->disk_on = o->disk_bytes > 0 && o->dir;
	if (px_cache_index_init(&c->mem, o->memory_bytes, o->policy) ||
	    px_cache_index_init(&c->disk, o->disk_bytes, o->policy))
		goto fail;
	if (c->disk_on) {
		if (!(c->dir = strdup(o->dir)))
			goto fail;
		snprintf(path, sizeof(path), "%s/tmp", c->dir);
		if ((mkdir(c->dir, 0755) && errno != EEXIST) ||
		    (mkdir(path, 0755) && errno != EEXIST)) {
			rc = px_errf(eb, PX_EIO, "cache directory \"%s\": %s",
				     c->dir, strerror(errno));
			goto fail;
		}
		clear_tmp(c);
		c->scanned = false;
		if (pthread_create(&c->scanner, NULL, scanner_main, c)) {
			rc = px_errf(eb, PX_EINTERNAL, "cannot start cache scan");
			c->scanned = true;
			goto fail;
		}
		c->scanner_started = true;
	}
	if (pthread_create(&c->timer, NULL, timer_main, c)) {
		rc = px_errf(eb, PX_EINTERNAL, "cannot start cache timer");
		goto fail;
	}
	c->timer_started = true;
	*out = c;
	return 0;
fail:
	px_cache_free(c);
	return rc;
}

void px_cache_free(struct px_cache *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->fl_lock);
	c->stopping = true;
	pthread_cond_broadcast(&c->fl_cond);
	pthread_mutex_unlock(&c->fl_lock);
	if (c->timer_started)
		pthread_join(c->timer, NULL);
	if (c->scanner_started)
		pthread_join(c->scanner, NULL);
	while (c->flights) {
		struct flight *f = c->flights;

		c->flights = f->next;
		free(f);
	}
	px_cache_index_release(&c->mem, mem_release_ent);
	px_cache_index_release(&c->disk, disk_release_ent);
	pthread_mutex_destroy(&c->mem_lock);
	pthread_mutex_destroy(&c->disk_lock);
	pthread_mutex_destroy(&c->fl_lock);
	pthread_cond_destroy(&c->fl_cond);
	pthread_cond_destroy(&c->scanned_cond);
	free(c->dir);
	free(c);
}
