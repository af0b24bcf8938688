/*
 * test_tokens.c - scoped tokens over the in-memory store: create, check
 * (hash, expiry, client range), list, revoke.
 */
#include "access/tokens.h"
#include "core/crypto.h"
#include "t.h"

#include <jansson.h>

static struct px_ip ip(const char *s)
{
	struct px_ip a;

	if (px_ip_parse(s, &a))
		abort();
	return a;
}

static int count_cb(void *ctx, const struct px_token *t)
{
	(*(int *)ctx)++;
	return 0;
}

static void run(void)
{
	struct px_errbuf eb = {0};
	struct px_kv *kv = NULL;
	struct px_tokens *ts = NULL;
	struct px_token t, got;
	char secret[PX_TOKEN_SECRET_LEN + 1], bad[PX_TOKEN_SECRET_LEN + 1];
	struct px_ip two = ip("127.0.0.2"), three = ip("127.0.0.3"),
		     mapped = ip("::ffff:127.0.0.2");
	int64_t now = px_wall_us();
	int n = 0;

	T_EQ(px_kv_open(&px_kv_mem_ops, "", 0, &kv, &eb), 0);
	T_EQ(px_tokens_new(kv, &ts), 0);

	T_CASE("create refuses a token without name or scopes") {
		memset(&t, 0, sizeof(t));
		t.scopes = PX_SCOPE_BIT(PX_SCOPE_IMAGES_READ);
		T_EQ(px_tokens_create(ts, &t, secret, &eb), PX_EINVAL);
		snprintf(t.name, sizeof(t.name), "n");
		t.scopes = 0;
		T_EQ(px_tokens_create(ts, &t, secret, &eb), PX_EINVAL);
		T_EQ(secret[0], '\0');
	}
	T_CASE("create and check") {
		memset(&t, 0, sizeof(t));
		snprintf(t.name, sizeof(t.name), "reader");
		t.scopes = PX_SCOPE_BIT(PX_SCOPE_IMAGES_READ);
		T_EQ(px_tokens_create(ts, &t, secret, &eb), 0);
		T_EQ(strlen(secret), (size_t)PX_TOKEN_SECRET_LEN);
		T_OK(!strncmp(secret, "pxt_", 4));
		T_OK(!strncmp(secret + 4, t.id, PX_TOKEN_ID_LEN));
		T_EQ(px_tokens_check(ts, secret, NULL, now, &got, &eb), 0);
		T_STREQ(got.name, "reader");
		T_EQ(got.scopes, t.scopes);
		T_STREQ(got.id, t.id);
	}
	T_CASE("wrong secrets") {
		const char *forms[] = {"", "pxt_", "admin", "pxt_0123456789abcdef_"};

		memcpy(bad, secret, sizeof(bad));
		bad[PX_TOKEN_SECRET_LEN - 1] ^= 1;
		T_EQ(px_tokens_check(ts, bad, NULL, now, &got, &eb), PX_EINVAL);
		T_STREQ(eb.code, "unauthorized");
		T_EQ(got.scopes, 0u);
		memcpy(bad, secret, sizeof(bad));
		bad[6] = bad[6] == '0' ? '1' : '0'; /* another id */
		T_EQ(px_tokens_check(ts, bad, NULL, now, &got, &eb), PX_EINVAL);
		for (size_t i = 0; i < PX_ARRAY_LEN(forms); i++)
			T_EQ(px_tokens_check(ts, forms[i], NULL, now, &got, &eb), PX_EINVAL);
	}
	T_CASE("the store holds the hash, not the secret") {
		struct px_kv_txn *txn;
		struct px_buf b;
		char key[32], hash[PX_SHA256_HEX_LEN + 1];

		px_buf_init(&b, 0);
		snprintf(key, sizeof(key), "tok/%s", t.id);
		T_EQ(px_kv_begin(kv, PX_KV_RDONLY, &txn, &eb), 0);
		T_EQ(px_kv_gets(txn, key, &b, &eb), 0);
		px_kv_abort(txn);
		T_OK(!strstr((char *)b.data, secret + 21));
		px_sha256_hex(secret, strlen(secret), hash);
		T_OK(strstr((char *)b.data, hash) != NULL);
		px_buf_release(&b);
	}
	T_CASE("expiry") {
		memset(&t, 0, sizeof(t));
		snprintf(t.name, sizeof(t.name), "brief");
		t.scopes = PX_SCOPE_BIT(PX_SCOPE_ADMIN);
		t.expires_us = now + 1000000;
		T_EQ(px_tokens_create(ts, &t, secret, &eb), 0);
		T_EQ(px_tokens_check(ts, secret, NULL, now, &got, &eb), 0);
		T_EQ(px_tokens_check(ts, secret, NULL, now + 999999, &got, &eb), 0);
		T_EQ(px_tokens_check(ts, secret, NULL, now + 1000000, &got, &eb), PX_EINVAL);
		T_STREQ(eb.code, "token_expired");
	}
	T_CASE("client ranges") {
		memset(&t, 0, sizeof(t));
		snprintf(t.name, sizeof(t.name), "ranged");
		t.scopes = PX_SCOPE_BIT(PX_SCOPE_IMAGES_READ);
		T_EQ(px_cidr_list_parse("127.0.0.2/32, 10.0.0.0/8", t.cidrs,
					PX_TOKEN_CIDRS_MAX, &t.n_cidrs, &eb), 0);
		T_EQ(px_tokens_create(ts, &t, secret, &eb), 0);
		T_EQ(px_tokens_check(ts, secret, &two, now, &got, &eb), 0);
		T_EQ(got.n_cidrs, 2);
		T_EQ(px_tokens_check(ts, secret, &mapped, now, &got, &eb), 0);
		T_EQ(px_tokens_check(ts, secret, &three, now, &got, &eb), PX_EINVAL);
		T_STREQ(eb.code, "address_not_allowed");
		T_EQ(px_tokens_check(ts, secret, NULL, now, &got, &eb), PX_EINVAL);
	}
	T_CASE("list and revoke") {
		T_EQ(px_tokens_list(ts, count_cb, &n, &eb), 0);
		T_EQ(n, 3);
		T_EQ(px_tokens_revoke(ts, t.id, &eb), 0);
		T_EQ(px_tokens_check(ts, secret, &two, now, &got, &eb), PX_EINVAL);
		T_STREQ(eb.code, "unauthorized");
		T_EQ(px_tokens_revoke(ts, t.id, &eb), PX_ENOTFOUND);
		T_EQ(px_tokens_revoke(ts, "../../x", &eb), PX_ENOTFOUND);
		n = 0;
		T_EQ(px_tokens_list(ts, count_cb, &n, &eb), 0);
		T_EQ(n, 2);
	}
	T_CASE("json never carries the secret or hash") {
		json_t *o = px_token_json(&t);
		char *text = json_dumps(o, JSON_COMPACT);

		T_OK(text && !strstr(text, "sha256") && !strstr(text, "value"));
		T_OK(strstr(text, "\"allowed_cidrs\":[\"127.0.0.2/32\",\"10.0.0.0/8\"]") != NULL);
		free(text);
		json_decref(o);
	}
	px_tokens_free(ts);
	px_kv_close(kv);
}
