/*
 * keys.c - the named URL-signing keys, kept in the secrets file.
 *
 * Readers (every signed delivery) take a read lock and verify against
 * the current array; writers (the keys API) are serialised by a mutex,
 * write the new set to the file first and swap it in under the write
 * lock only once the rename is durable. See keys.h for the contract.
 */
#include "delivery/keys.h"
#include "core/crypto.h"
#include "core/log.h"
#include "delivery/sign.h"

#include <ctype.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_KEYS 16 /* as the configuration allows (PX_MAX_KEYS) */

struct key {
	char name[PX_KEY_NAME_MAX + 1];
	char *value;
};

struct keyset {
	struct key a[MAX_KEYS];
	int n;
};

struct px_keys {
	char *path;
	bool pinned;
	pthread_mutex_t write; /* one change at a time, file and memory */
	pthread_rwlock_t lock; /* guards cur */
	struct keyset cur;
};

static void set_release(struct keyset *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->a[i].value);
	s->n = 0;
}

static int set_copy(struct keyset *dst, const struct keyset *src)
{
	dst->n = 0;
	for (int i = 0; i < src->n; i++) {
		dst->a[i] = src->a[i];
		dst->a[i].value = strdup(src->a[i].value);
		if (!dst->a[i].value) {
			set_release(dst);
			return PX_ENOMEM;
		}
		dst->n++;
	}
	return 0;
}

static int set_find(const struct keyset *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->a[i].name, name))
			return i;
	return -1;
}

bool px_keys_valid_name(const char *name)
{
	size_t n = strlen(name);

	if (!n || n > PX_KEY_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' &&
		    name[i] != '-')
			return false;
	return true;
}

static void default_name(int i, char *out, size_t n)
{
	if (i == 0)
		snprintf(out, n, "default");
	else
		snprintf(out, n, "key-%d", i + 1);
}

/* Write the set into the secrets file, keeping its other members. */
static int persist(struct px_keys *k, const struct keyset *s,
		   struct px_errbuf *eb)
{
	char tmp[4096], dir[4096], *text = NULL, *slash;
	json_t *root, *vals = json_array(), *names = json_array();
	int fd = -1, rc = 0;
	size_t len;

	root = json_load_file(k->path, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(root)) {
		json_decref(root);
		root = json_object();
	}
	for (int i = 0; i < s->n; i++) {
		json_array_append_new(vals, json_string(s->a[i].value));
		json_array_append_new(names, json_string(s->a[i].name));
	}
	json_object_set_new(root, "signing_keys", vals);
	json_object_set_new(root, "signing_key_names", names);
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text)
		return PX_ENOMEM;
	len = strlen(text);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", k->path) >= sizeof(tmp)) {
		rc = px_errf(eb, PX_ETOOBIG, "path too long");
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = px_errf(eb, PX_EIO, "cannot create \"%s\": %s", tmp,
			     strerror(errno));
		goto out;
	}
	if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
	    fsync(fd)) {
		rc = px_errf(eb, PX_EIO, "cannot write \"%s\": %s", tmp,
			     strerror(errno));
		unlink(tmp);
		goto out;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, k->path)) {
		rc = px_errf(eb, PX_EIO, "cannot rename \"%s\": %s", tmp,
			     strerror(errno));
		unlink(tmp);
		goto out;
	}
	/* The rename itself is durable once the directory is synced. */
	px_strlcpy(dir, k->path, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && fsync(fd))
		rc = px_errf(eb, PX_EIO, "cannot sync \"%s\": %s", dir,
			     strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	free(text);
	return rc;
}

int px_keys_open(const char *path, char *const *values, int n, bool pinned,
		 struct px_keys **out, struct px_errbuf *eb)
{
	struct px_keys *k;
	json_t *root = NULL, *names;
	int rc = 0;

	*out = NULL;
	if (n < 1)
		return px_errf(eb, PX_EINVAL, "no signing keys");
	if (!(k = calloc(1, sizeof(*k))))
		return PX_ENOMEM;
	pthread_mutex_init(&k->write, NULL);
	pthread_rwlock_init(&k->lock, NULL);
	k->pinned = pinned;
	if (!(k->path = strdup(path))) {
		rc = PX_ENOMEM;
		goto out;
	}
	/* Names are read from the file only when its values are the ones
	 * in use; pinned keys get the default names. */
	if (!pinned)
		root = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
	names = json_object_get(root, "signing_key_names");
	for (int i = 0; i < n && i < MAX_KEYS; i++) {
		const char *nm = json_string_value(json_array_get(names, (size_t)i));
		struct key *e = &k->cur.a[i];

		if (nm && px_keys_valid_name(nm) && set_find(&k->cur, nm) < 0)
			px_strlcpy(e->name, nm, sizeof(e->name));
		else
			default_name(i, e->name, sizeof(e->name));
		for (int j = 1; set_find(&k->cur, e->name) >= 0; j++)
			snprintf(e->name, sizeof(e->name), "key-%d", i + 1 + j * 100);
		if (!(e->value = strdup(values[i]))) {
			rc = PX_ENOMEM;
			goto out;
		}
		k->cur.n++;
	}
	*out = k;
	k = NULL;
out:
	json_decref(root);
	px_keys_free(k);
	return rc;
}

void px_keys_free(struct px_keys *k)
{
	if (!k)
		return;
	set_release(&k->cur);
	pthread_mutex_destroy(&k->write);
	pthread_rwlock_destroy(&k->lock);
	free(k->path);
	free(k);
}

int px_keys_json(struct px_keys *k, struct px_buf *out)
{
	int rc;

	pthread_rwlock_rdlock(&k->lock);
	rc = px_buf_adds(out, "{\"keys\":[");
	for (int i = 0; !rc && i < k->cur.n; i++) {
		px_buf_adds(out, i ? ",{\"name\":" : "{\"name\":");
		px_json_quote(out, k->cur.a[i].name);
		px_buf_adds(out, ",\"value\":");
		px_json_quote(out, k->cur.a[i].value);
		rc = px_buf_adds(out, "}");
	}
	pthread_rwlock_unlock(&k->lock);
	return rc ? rc : px_buf_adds(out, "]}");
}

/* Make next durable, then make it current (taking its contents). */
static int commit(struct px_keys *k, struct keyset *next, struct px_errbuf *eb)
{
	struct keyset old;
	int rc = persist(k, next, eb);

	if (rc)
		return rc;
	pthread_rwlock_wrlock(&k->lock);
	old = k->cur;
	k->cur = *next;
	pthread_rwlock_unlock(&k->lock);
	*next = old; /* released by the caller */
	return 0;
}

static int fresh_value(char **out)
{
	char hex[65];

	if (px_random_hex(hex, 32))
		return PX_EINTERNAL;
	return (*out = strdup(hex)) ? 0 : PX_ENOMEM;
}

int px_keys_put(struct px_keys *k, const char *name, bool *created,
		struct px_errbuf *eb)
{
	struct keyset next = {0};
	char *value = NULL;
	int rc, i;

	*created = false;
	if (!px_keys_valid_name(name))
		return px_errc(eb, PX_EINVAL, "invalid_key_name",
			       "key names must match [A-Za-z0-9_-]{1,64}");
	if (k->pinned)
		return px_errc(eb, PX_EBUSY, "keys_pinned",
			       "signing keys are set by --signing-keys or PICTOR_SIGNING_KEYS; "
			       "keep them in secrets.json to manage them through the API");
	pthread_mutex_lock(&k->write);
	/* Only this writer changes cur, so reading it without the rwlock
	 * is safe here. */
	if ((rc = set_copy(&next, &k->cur)) || (rc = fresh_value(&value)))
		goto out;
	i = set_find(&next, name);
	if (i >= 0) {
		free(next.a[i].value);
		next.a[i].value = value;
	} else if (next.n >= PX_KEYS_LIMIT) {
		rc = px_errc(eb, PX_ELIMIT, "too_many_keys",
			     "at most %d signing keys; delete one first",
			     PX_KEYS_LIMIT);
		goto out;
	} else {
		px_strlcpy(next.a[next.n].name, name, sizeof(next.a[0].name));
		next.a[next.n++].value = value;
		*created = true;
	}
	value = NULL;
	rc = commit(k, &next, eb);
out:
	pthread_mutex_unlock(&k->write);
	free(value);
	set_release(&next);
	return rc;
}

int px_keys_del(struct px_keys *k, const char *name, struct px_errbuf *eb)
{
	struct keyset next = {0};
	int rc, i;

	if (k->pinned)
		return px_errc(eb, PX_EBUSY, "keys_pinned",
			       "signing keys are set by --signing-keys or PICTOR_SIGNING_KEYS; "
			       "keep them in secrets.json to manage them through the API");
	pthread_mutex_lock(&k->write);
	if ((rc = set_copy(&next, &k->cur)))
		goto out;
	i = set_find(&next, name);
	if (i < 0) {
		rc = px_errc(eb, PX_ENOTFOUND, "key_not_found",
			     "no signing key \"%.64s\"", name);
		goto out;
	}
	free(next.a[i].value);
	memmove(&next.a[i], &next.a[i + 1],
		(size_t)(next.n - i - 1) * sizeof(next.a[0]));
	next.n--;
	if (!next.n) {
		/* Never without a key: a new default one takes its place. */
		snprintf(next.a[0].name, sizeof(next.a[0].name), "default");
		if ((rc = fresh_value(&next.a[0].value)))
			goto out;
		next.n = 1;
	}
	rc = commit(k, &next, eb);
out:
	pthread_mutex_unlock(&k->write);
	set_release(&next);
	return rc;
}

int px_keys_verify(struct px_keys *k, const char *path, const char *exp,
		   const char *sig, int64_t now, int64_t *exp_out,
		   struct px_errbuf *eb)
{
	char *vals[MAX_KEYS];
	int rc;

	pthread_rwlock_rdlock(&k->lock);
	for (int i = 0; i < k->cur.n; i++)
		vals[i] = k->cur.a[i].value;
	rc = px_sign_verify(vals, k->cur.n, path, exp, sig, now, exp_out, eb);
	pthread_rwlock_unlock(&k->lock);
	return rc;
}

int px_keys_sign(struct px_keys *k, const char *path, int64_t exp, char *out,
		 size_t nout)
{
	int rc = PX_ENOTFOUND;

	pthread_rwlock_rdlock(&k->lock);
	if (k->cur.n)
		rc = px_sign_url(k->cur.a[0].value, path, exp, out, nout);
	pthread_rwlock_unlock(&k->lock);
	return rc;
}
