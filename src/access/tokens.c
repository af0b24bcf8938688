/*
 * tokens.c - scoped API tokens in the metadata store (see tokens.h).
 *
 * The record holds the SHA-256 of the secret, never the secret. A check
 * is one read transaction: parse the id out of the presented secret, read
 * tok/<id>, compare hashes in constant time, then expiry and client range.
 */
#include "access/tokens.h"
#include "core/crypto.h"

#include <jansson.h>

struct px_tokens {
	struct px_kv *kv;
};

int px_tokens_new(struct px_kv *kv, struct px_tokens **out)
{
	struct px_tokens *ts = calloc(1, sizeof(*ts));

	*out = ts;
	if (!ts)
		return PX_ENOMEM;
	ts->kv = kv;
	return 0;
}

void px_tokens_free(struct px_tokens *ts)
{
	free(ts);
}

static void key_of(const char *id, char key[PX_TOKEN_ID_LEN + 8])
{
	snprintf(key, PX_TOKEN_ID_LEN + 8, "tok/%s", id);
}

static bool valid_id(const char *s, size_t n)
{
	if (n != PX_TOKEN_ID_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* The stored form: the public fields plus the hash. */
static json_t *record_json(const struct px_token *t, const char *hash)
{
	json_t *o = json_object(), *sc = json_array(), *cidrs = json_array();
	char text[PX_IP_TEXT_MAX + 8];

	if (!o || !sc || !cidrs)
		goto fail;
	for (int s = PX_SCOPE_IMAGES_READ; s < PX_SCOPE_COUNT; s++)
		if (t->scopes & PX_SCOPE_BIT(s))
			json_array_append_new(sc, json_string(px_scope_name(s)));
	for (int i = 0; i < t->n_cidrs; i++) {
		px_ip_format(&t->cidrs[i].ip, text, PX_IP_TEXT_MAX);
		snprintf(text + strlen(text), 8, "/%d", t->cidrs[i].bits);
		json_array_append_new(cidrs, json_string(text));
	}
	json_object_set_new(o, "id", json_string(t->id));
	json_object_set_new(o, "name", json_string(t->name));
	json_object_set_new(o, "scopes", sc);
	json_object_set_new(o, "created_us", json_integer(t->created_us));
	json_object_set_new(o, "expires_us", json_integer(t->expires_us));
	json_object_set_new(o, "cidrs", cidrs);
	if (hash)
		json_object_set_new(o, "sha256", json_string(hash));
	return o;
fail:
	json_decref(o);
	json_decref(sc);
	json_decref(cidrs);
	return NULL;
}

/* Read a stored record; hash (may be NULL) receives the secret's hash. */
static int decode(const void *p, size_t n, struct px_token *t,
		  char hash[PX_SHA256_HEX_LEN + 1])
{
	json_t *o = json_loadb(p, n, 0, NULL), *v;
	size_t i;
	int rc = PX_ECORRUPT;

	memset(t, 0, sizeof(*t));
	if (!json_is_object(o))
		goto out;
	px_strlcpy(t->id, json_string_value(json_object_get(o, "id")) ?: "",
		   sizeof(t->id));
	px_strlcpy(t->name, json_string_value(json_object_get(o, "name")) ?: "",
		   sizeof(t->name));
	t->created_us = json_integer_value(json_object_get(o, "created_us"));
	t->expires_us = json_integer_value(json_object_get(o, "expires_us"));
	json_array_foreach(json_object_get(o, "scopes"), i, v) {
		const char *s = json_string_value(v);
		enum px_scope sc = s ? px_scope_parse(s, strlen(s)) : PX_SCOPE_UNSET;

		if (sc != PX_SCOPE_UNSET)
			t->scopes |= PX_SCOPE_BIT(sc);
	}
	json_array_foreach(json_object_get(o, "cidrs"), i, v) {
		const char *s = json_string_value(v);

		if (!s || t->n_cidrs == PX_TOKEN_CIDRS_MAX ||
		    px_cidr_parse(s, strlen(s), &t->cidrs[t->n_cidrs]))
			goto out;
		t->n_cidrs++;
	}
	if (hash)
		px_strlcpy(hash,
			   json_string_value(json_object_get(o, "sha256")) ?: "",
			   PX_SHA256_HEX_LEN + 1);
	rc = 0;
out:
	json_decref(o);
	return rc;
}

static int count_one(void *ctx, const void *k, size_t nk, const void *v,
		     size_t nv)
{
	(*(size_t *)ctx)++;
	return 0;
}

int px_tokens_create(struct px_tokens *ts, struct px_token *t,
		     char secret[PX_TOKEN_SECRET_LEN + 1], struct px_errbuf *eb)
{
	char key[PX_TOKEN_ID_LEN + 8], hash[PX_SHA256_HEX_LEN + 1],
		rnd[65], uuid[37];
	struct px_kv_txn *txn = NULL;
	size_t count = 0;
	char *text = NULL;
	json_t *o = NULL;
	int rc;

	secret[0] = '\0';
	if (!t->name[0])
		return px_errc(eb, PX_EINVAL, "invalid_request",
			       "a token needs a name");
	if (!t->scopes)
		return px_errc(eb, PX_EINVAL, "invalid_request",
			       "a token needs at least one scope");
	/* The id: the time-ordered half of a UUIDv7, so listing is in
	 * creation order, and random enough not to collide in practice. */
	if ((rc = px_uuid7(uuid)) || (rc = px_random_hex(rnd, 32)))
		return px_errf(eb, rc, "no randomness");
	snprintf(t->id, sizeof(t->id), "%.8s%.4s%.4s", uuid, uuid + 9, uuid + 14);
	t->created_us = px_wall_us();
	snprintf(secret, PX_TOKEN_SECRET_LEN + 1, "pxt_%s_%s", t->id, rnd);
	if ((rc = px_sha256_hex(secret, strlen(secret), hash)))
		goto out;
	o = record_json(t, hash);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (!text) {
		rc = PX_ENOMEM;
		goto out;
	}
	key_of(t->id, key);
	if ((rc = px_kv_begin(ts->kv, 0, &txn, eb)))
		goto out;
	if ((rc = px_kv_scan(txn, "tok/", 4, NULL, 0, 0, count_one, &count, eb)))
		goto out;
	if (count >= PX_TOKENS_MAX) {
		rc = px_errc(eb, PX_ETOOBIG, "too_many_tokens",
			     "at most %d tokens; revoke some first", PX_TOKENS_MAX);
		goto out;
	}
	if ((rc = px_kv_puts(txn, key, text, strlen(text), PX_KV_NOOVERWRITE, eb)))
		goto out;
	rc = px_kv_commit(txn, eb);
	txn = NULL;
out:
	px_kv_abort(txn);
	if (rc)
		memset(secret, 0, PX_TOKEN_SECRET_LEN + 1);
	free(text);
	json_decref(o);
	return rc;
}

struct list_ctx {
	int (*fn)(void *ctx, const struct px_token *t);
	void *ctx;
};

static int list_one(void *ctx, const void *k, size_t nk, const void *v,
		    size_t nv)
{
	struct list_ctx *lc = ctx;
	struct px_token t;
	int rc = decode(v, nv, &t, NULL);

	if (rc)
		return rc;
	return lc->fn(lc->ctx, &t) ? 1 : 0;
}

int px_tokens_list(struct px_tokens *ts,
		   int (*fn)(void *ctx, const struct px_token *t), void *ctx,
		   struct px_errbuf *eb)
{
	struct list_ctx lc = {fn, ctx};
	struct px_kv_txn *txn;
	int rc;

	if ((rc = px_kv_begin(ts->kv, PX_KV_RDONLY, &txn, eb)))
		return rc;
	rc = px_kv_scan(txn, "tok/", 4, NULL, 0, 0, list_one, &lc, eb);
	px_kv_abort(txn);
	return rc;
}

int px_tokens_revoke(struct px_tokens *ts, const char *id,
		     struct px_errbuf *eb)
{
	char key[PX_TOKEN_ID_LEN + 8];
	struct px_kv_txn *txn;
	int rc;

	if (!valid_id(id, strlen(id)))
		return px_errc(eb, PX_ENOTFOUND, "not_found", "no token \"%.64s\"",
			       id);
	key_of(id, key);
	if ((rc = px_kv_begin(ts->kv, 0, &txn, eb)))
		return rc;
	rc = px_kv_dels(txn, key, eb);
	if (rc == PX_ENOTFOUND) {
		px_kv_abort(txn);
		return px_errc(eb, rc, "not_found", "no token \"%s\"", id);
	}
	if (rc) {
		px_kv_abort(txn);
		return rc;
	}
	return px_kv_commit(txn, eb);
}

/* Read tok/<id> into *out and the secret's hash into want; then check
 * expiry and client range at now_us. */
static int load_valid(struct px_tokens *ts, const char *id,
		      const struct px_ip *client, int64_t now_us,
		      struct px_token *out, char want[PX_SHA256_HEX_LEN + 1],
		      struct px_errbuf *eb)
{
	char key[PX_TOKEN_ID_LEN + 8];
	struct px_kv_txn *txn;
	struct px_buf b;
	int rc;

	want[0] = '\0';
	key_of(id, key);
	px_buf_init(&b, 1 << 16);
	if ((rc = px_kv_begin(ts->kv, PX_KV_RDONLY, &txn, eb)))
		goto out;
	rc = px_kv_gets(txn, key, &b, eb);
	px_kv_abort(txn);
	if (rc == PX_ENOTFOUND) {
		rc = px_errc(eb, PX_EINVAL, "unauthorized", "not a valid token");
		goto out;
	}
	if (rc || (rc = decode(b.data, b.len, out, want)))
		goto out;
	if (out->expires_us && now_us >= out->expires_us) {
		rc = px_errc(eb, PX_EINVAL, "token_expired", "the token has expired");
		goto out;
	}
	if (out->n_cidrs &&
	    (!client || !px_cidr_list_contains(out->cidrs, out->n_cidrs, client))) {
		rc = px_errc(eb, PX_EINVAL, "address_not_allowed",
			     "the token may not be used from this address");
		goto out;
	}
out:
	px_buf_release(&b);
	return rc;
}

int px_tokens_check(struct px_tokens *ts, const char *secret,
		    const struct px_ip *client, int64_t now_us,
		    struct px_token *out, struct px_errbuf *eb)
{
	char id[PX_TOKEN_ID_LEN + 1], want[PX_SHA256_HEX_LEN + 1],
		got[PX_SHA256_HEX_LEN + 1];
	int rc;

	memset(out, 0, sizeof(*out));
	if (strlen(secret) != PX_TOKEN_SECRET_LEN || memcmp(secret, "pxt_", 4) ||
	    secret[4 + PX_TOKEN_ID_LEN] != '_' ||
	    !valid_id(secret + 4, PX_TOKEN_ID_LEN))
		return px_errc(eb, PX_EINVAL, "unauthorized", "not a valid token");
	memcpy(id, secret + 4, PX_TOKEN_ID_LEN);
	id[PX_TOKEN_ID_LEN] = '\0';
	/* The hash is compared before expiry and range are reported, so
	 * only the holder of the secret learns them; load_valid checks
	 * them first, so its verdict waits for the comparison. */
	rc = load_valid(ts, id, client, now_us, out, want, eb);
	if (rc && rc != PX_EINVAL)
		goto out;
	if (!want[0] && rc)
		goto out;
	if (px_sha256_hex(secret, strlen(secret), got)) {
		rc = PX_EINTERNAL;
		goto out;
	}
	if (strlen(want) != PX_SHA256_HEX_LEN ||
	    !px_ct_equal(want, got, PX_SHA256_HEX_LEN))
		rc = px_errc(eb, PX_EINVAL, "unauthorized", "not a valid token");
out:
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

int px_tokens_get(struct px_tokens *ts, const char *id,
		  const struct px_ip *client, int64_t now_us,
		  struct px_token *out, struct px_errbuf *eb)
{
	char want[PX_SHA256_HEX_LEN + 1];
	int rc;

	memset(out, 0, sizeof(*out));
	if (!valid_id(id, strlen(id)))
		return px_errc(eb, PX_EINVAL, "unauthorized", "not a valid token");
	rc = load_valid(ts, id, client, now_us, out, want, eb);
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

json_t *px_token_json(const struct px_token *t)
{
	json_t *o = record_json(t, NULL), *c;
	char when[32];

	if (!o)
		return NULL;
	c = json_object_get(o, "cidrs");
	json_object_set(o, "allowed_cidrs", c);
	json_object_del(o, "cidrs");
	json_object_del(o, "created_us");
	json_object_del(o, "expires_us");
	px_time_format(t->created_us, when);
	json_object_set_new(o, "created_on", json_string(when));
	if (t->expires_us) {
		px_time_format(t->expires_us, when);
		json_object_set_new(o, "expires_on", json_string(when));
	} else {
		json_object_set_new(o, "expires_on", json_null());
	}
	return o;
}
