/*
 * blob_mem.c - the in-memory blob backend, for unit tests.
 *
 * A hash table of copies under one mutex. Nothing survives close(), there
 * is never anything to recover, and list() calls back without the lock
 * held, so a callback may use the store.
 */
#include "store/blob.h"

#include <pthread.h>

#define NBUCKET 256

struct mem_blob {
	struct mem_blob *next;
	size_t n;
	char hex[PX_SHA256_HEX_LEN + 1];
	unsigned char data[];
};

struct mem_store {
	struct px_blob_store base;
	pthread_mutex_t lock;
	size_t count;
	struct mem_blob *bucket[NBUCKET];
};

static unsigned hexval(char c)
{
	return c <= '9' ? (unsigned)(c - '0') : (unsigned)(c - 'a' + 10);
}

/* Names are uniform hex, so any two digits make a fine hash. */
static struct mem_blob **slot(struct mem_store *s, const char *hex)
{
	unsigned h = hexval(hex[62]) << 4 | hexval(hex[63]);
	struct mem_blob **pp = &s->bucket[h];

	while (*pp && strcmp((*pp)->hex, hex) != 0)
		pp = &(*pp)->next;
	return pp; /* *pp is the blob, or NULL where it would go */
}

static int mem_open(const char *location, struct px_blob_store **out,
		    struct px_errbuf *eb)
{
	struct mem_store *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return px_errf(eb, PX_ENOMEM, "out of memory");
	s->base.ops = &px_blob_mem_ops;
	pthread_mutex_init(&s->lock, NULL);
	*out = &s->base;
	return 0;
}

static void mem_close(struct px_blob_store *base)
{
	struct mem_store *s = (struct mem_store *)base;

	if (!s)
		return;
	for (size_t i = 0; i < NBUCKET; i++) {
		while (s->bucket[i]) {
			struct mem_blob *b = s->bucket[i];

			s->bucket[i] = b->next;
			free(b);
		}
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int mem_put(struct px_blob_store *base, const char *hex,
		   const void *data, size_t n, struct px_errbuf *eb)
{
	struct mem_store *s = (struct mem_store *)base;
	struct mem_blob *b, **pp;

	/* copy outside the lock; a lost race just frees the copy */
	b = malloc(sizeof(*b) + n);
	if (!b)
		return px_errf(eb, PX_ENOMEM, "out of memory");
	b->next = NULL;
	b->n = n;
	memcpy(b->hex, hex, sizeof(b->hex));
	if (n)
		memcpy(b->data, data, n);
	pthread_mutex_lock(&s->lock);
	pp = slot(s, hex);
	if (!*pp) {
		*pp = b;
		s->count++;
		b = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	free(b);
	return 0;
}

static int mem_get(struct px_blob_store *base, const char *hex,
		   struct px_buf *out, struct px_errbuf *eb)
{
	struct mem_store *s = (struct mem_store *)base;
	struct mem_blob *b;
	int rc;

	pthread_mutex_lock(&s->lock);
	b = *slot(s, hex);
	if (!b)
		rc = px_errf(eb, PX_ENOTFOUND, "no blob \"%s\"", hex);
	else if ((rc = px_buf_add(out, b->data, b->n)) != 0)
		px_errf(eb, rc, "blob \"%s\" (%zu bytes) does not fit", hex,
			b->n);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int mem_del(struct px_blob_store *base, const char *hex,
		   struct px_errbuf *eb)
{
	struct mem_store *s = (struct mem_store *)base;
	struct mem_blob *b, **pp;

	pthread_mutex_lock(&s->lock);
	pp = slot(s, hex);
	b = *pp;
	if (b) {
		*pp = b->next;
		s->count--;
	}
	pthread_mutex_unlock(&s->lock);
	if (!b)
		return px_errf(eb, PX_ENOTFOUND, "no blob \"%s\"", hex);
	free(b);
	return 0;
}

static int mem_stat(struct px_blob_store *base, const char *hex,
		    uint64_t *size, struct px_errbuf *eb)
{
	struct mem_store *s = (struct mem_store *)base;
	struct mem_blob *b;

	pthread_mutex_lock(&s->lock);
	b = *slot(s, hex);
	if (b)
		*size = b->n;
	pthread_mutex_unlock(&s->lock);
	return b ? 0 : px_errf(eb, PX_ENOTFOUND, "no blob \"%s\"", hex);
}

/* Snapshot the names, then call fn unlocked: fn > 0 stops with 0. */
static int mem_list(struct px_blob_store *base, px_blob_list_fn fn, void *ctx,
		    struct px_errbuf *eb)
{
	struct mem_store *s = (struct mem_store *)base;
	char(*names)[PX_SHA256_HEX_LEN + 1] = NULL;
	size_t n = 0;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	if (s->count && !(names = malloc(s->count * sizeof(*names)))) {
		pthread_mutex_unlock(&s->lock);
		return px_errf(eb, PX_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < NBUCKET; i++)
		for (struct mem_blob *b = s->bucket[i]; b; b = b->next)
			memcpy(names[n++], b->hex, sizeof(*names));
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = fn(ctx, names[i]);
	free(names);
	return rc < 0 ? rc : 0;
}

static int mem_recover(struct px_blob_store *base, unsigned *n,
		       struct px_errbuf *eb)
{
	*n = 0; /* memory has no half-written blobs */
	return 0;
}

static int mem_health(struct px_blob_store *base, struct px_errbuf *eb)
{
	return 0;
}

const struct px_blob_ops px_blob_mem_ops = {
	.name = "mem",
	.open = mem_open,
	.close = mem_close,
	.put = mem_put,
	.get = mem_get,
	.del = mem_del,
	.stat = mem_stat,
	.list = mem_list,
	.recover = mem_recover,
	.health = mem_health,
};
