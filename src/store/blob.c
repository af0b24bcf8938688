/*
 * blob.c - the px_blob_*() wrappers every caller goes through.
 *
 * Backends (blob_fs.c, blob_mem.c, blob_s3.c) trust their arguments: names are checked
 * here, once, so a malformed name never reaches a path or a bucket. This is
 * also the one place for tracing and for the test-only fault injection of
 * px_blob_fault_put(), so every backend gets both for free.
 */
#include "store/blob.h"

#include "core/fault.h"

static const struct px_blob_ops *const backends[] = {
	&px_blob_fs_ops,
	&px_blob_mem_ops,
	&px_blob_s3_ops,
};

/* Armed by px_blob_fault_put(). */
static struct px_fault fault = PX_FAULT_INIT;

void px_blob_fault_put(int rc, unsigned after)
{
	px_fault_arm(&fault, rc, after);
}

bool px_blob_valid_name(const char *hex)
{
	size_t i;

	if (!hex)
		return false;
	for (i = 0; i < PX_SHA256_HEX_LEN; i++) {
		char c = hex[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false; /* also stops at a short string's NUL */
	}
	return hex[i] == '\0';
}

int px_blob_names_add(struct px_blob_names *l, const char *hex)
{
	if (l->n == l->cap) {
		size_t c = l->cap ? l->cap * 2 : 256;
		void *p = realloc(l->a, c * sizeof(*l->a));

		if (!p)
			return PX_ENOMEM;
		l->a = p;
		l->cap = c;
	}
	px_strlcpy(l->a[l->n++], hex, sizeof(*l->a));
	return 0;
}

int px_blob_names_collect(void *ctx, const char *hex)
{
	return px_blob_names_add(ctx, hex);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

void px_blob_names_sort(struct px_blob_names *l)
{
	if (l->n) /* qsort wants a non-NULL array even for none */
		qsort(l->a, l->n, sizeof(*l->a), name_cmp);
}

bool px_blob_names_has(const struct px_blob_names *l, const char *hex)
{
	return l->n && bsearch(hex, l->a, l->n, sizeof(*l->a), name_cmp);
}

void px_blob_names_release(struct px_blob_names *l)
{
	free(l->a);
	memset(l, 0, sizeof(*l));
}

static int bad_name(struct px_errbuf *eb, const char *hex)
{
	return px_errc(eb, PX_EINVAL, "bad_blob_name",
		       "invalid blob name \"%.80s\"", hex ? hex : "(null)");
}

const struct px_blob_ops *px_blob_find(const char *name)
{
	for (size_t i = 0; name && i < PX_ARRAY_LEN(backends); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

int px_blob_open(const struct px_blob_ops *ops, const char *location,
		 struct px_blob_store **out, struct px_errbuf *eb)
{
	*out = NULL;
	if (!ops)
		return px_errf(eb, PX_EINVAL, "no blob backend");
	return ops->open(location, out, eb);
}

void px_blob_close(struct px_blob_store *s)
{
	if (s)
		s->ops->close(s);
}

int px_blob_put(struct px_blob_store *s, const char *hex, const void *data,
		size_t n, struct px_errbuf *eb)
{
	int rc;

	if (!px_blob_valid_name(hex))
		return bad_name(eb, hex);
	if (!data && n)
		return px_errf(eb, PX_EINVAL, "no data for blob \"%s\"", hex);
	rc = px_fault_take(&fault);
	if (rc)
		return px_errf(eb, rc, "injected fault in put of \"%s\"", hex);
	rc = s->ops->put(s, hex, data, n, eb);
	if (rc == 0)
		px_fault_count(&fault);
	return rc;
}

int px_blob_get(struct px_blob_store *s, const char *hex, struct px_buf *out,
		struct px_errbuf *eb)
{
	if (!px_blob_valid_name(hex))
		return bad_name(eb, hex);
	return s->ops->get(s, hex, out, eb);
}

int px_blob_del(struct px_blob_store *s, const char *hex,
		struct px_errbuf *eb)
{
	if (!px_blob_valid_name(hex))
		return bad_name(eb, hex);
	return s->ops->del(s, hex, eb);
}

int px_blob_stat(struct px_blob_store *s, const char *hex, uint64_t *size,
		 struct px_errbuf *eb)
{
	if (!px_blob_valid_name(hex))
		return bad_name(eb, hex);
	return s->ops->stat(s, hex, size, eb);
}

int px_blob_list(struct px_blob_store *s, px_blob_list_fn fn, void *ctx,
		 struct px_errbuf *eb)
{
	return s->ops->list(s, fn, ctx, eb);
}

int px_blob_recover(struct px_blob_store *s, unsigned *n,
		    struct px_errbuf *eb)
{
	*n = 0;
	return s->ops->recover(s, n, eb);
}

int px_blob_health(struct px_blob_store *s, struct px_errbuf *eb)
{
	return s->ops->health(s, eb);
}
