/*
 * test_keys.c - the signing-key owner: names, create, rotate, the limit,
 * delete (and the new default after the last), durability in the secrets
 * file, pinned keys, verification with the current set.
 */
#include "delivery/keys.c"
#include "delivery/sign.h"
#include "t.h"

#include <jansson.h>

static char dir[] = "/tmp/pictor-test-keys-XXXXXX";
static char path[256];

static void write_file(const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

static json_t *load(void)
{
	return json_load_file(path, 0, NULL);
}

/* The value of key name in the set, or NULL. */
static const char *value_of(struct px_keys *k, const char *name)
{
	int i = set_find(&k->cur, name);

	return i < 0 ? NULL : k->cur.a[i].value;
}

static bool verifies(struct px_keys *k, const char *key)
{
	char url[512];
	const char *q;
	char exp[32], sig[80];
	int64_t e;
	struct px_errbuf eb = {0};

	px_sign_url(key, "/img/a/public", 2000000000, url, sizeof(url));
	q = strstr(url, "?exp=") + 5;
	snprintf(exp, sizeof(exp), "%.*s", (int)(strchr(q, '&') - q), q);
	snprintf(sig, sizeof(sig), "%s", strstr(url, "sig=") + 4);
	return px_keys_verify(k, "/img/a/public", exp, sig, 1000, &e, &eb) == 0;
}

static void run(void)
{
	struct px_errbuf eb = {0};
	struct px_keys *k = NULL;
	char *vals[] = {"v-one", "v-two", "v-three"};
	char first[80], second[80];
	bool created;
	json_t *j;

	T_OK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/secrets.json", dir);

	T_CASE("names") {
		T_OK(px_keys_valid_name("default"));
		T_OK(px_keys_valid_name("key_2-b"));
		T_OK(!px_keys_valid_name(""));
		T_OK(!px_keys_valid_name("a.b"));
		T_OK(!px_keys_valid_name("a/b"));
	}
	T_CASE("open names keys from the file, defaults otherwise") {
		write_file("{\"admin_token\":\"t\",\"signing_keys\":[\"v-one\",\"v-two\"],"
			   "\"signing_key_names\":[\"main\"]}");
		T_EQ(px_keys_open(path, vals, 2, false, &k, &eb), 0);
		T_STREQ(value_of(k, "main"), "v-one");
		T_STREQ(value_of(k, "key-2"), "v-two");
		T_OK(verifies(k, "v-one") && verifies(k, "v-two"));
		T_OK(!verifies(k, "v-three"));
		px_keys_free(k);
		k = NULL;
	}
	T_CASE("create, limit, rotate: written to the file before use") {
		write_file("{\"admin_token\":\"t\",\"signing_keys\":[\"v-one\"]}");
		T_EQ(px_keys_open(path, vals, 1, false, &k, &eb), 0);
		T_STREQ(value_of(k, "default"), "v-one");
		T_EQ(px_keys_put(k, "second", &created, &eb), 0);
		T_OK(created);
		snprintf(second, sizeof(second), "%s", value_of(k, "second"));
		T_EQ(strlen(second), 64);
		T_OK(verifies(k, second));
		T_EQ(px_keys_put(k, "third", &created, &eb), PX_ELIMIT);
		T_STREQ(eb.code, "too_many_keys");
		T_EQ(px_keys_put(k, "default", &created, &eb), 0);
		T_OK(!created);
		T_OK(!verifies(k, "v-one"));
		snprintf(first, sizeof(first), "%s", value_of(k, "default"));
		j = load();
		T_STREQ(json_string_value(json_object_get(j, "admin_token")), "t");
		T_STREQ(json_string_value(json_array_get(json_object_get(j, "signing_keys"), 0)), first);
		T_STREQ(json_string_value(json_array_get(json_object_get(j, "signing_keys"), 1)), second);
		T_STREQ(json_string_value(json_array_get(json_object_get(j, "signing_key_names"), 1)), "second");
		json_decref(j);
		T_EQ(px_keys_put(k, "bad name", &created, &eb), PX_EINVAL);
	}
	T_CASE("delete; the last delete leaves a new default key") {
		T_EQ(px_keys_del(k, "nope", &eb), PX_ENOTFOUND);
		T_STREQ(eb.code, "key_not_found");
		T_EQ(px_keys_del(k, "default", &eb), 0);
		T_OK(!verifies(k, first));
		T_OK(verifies(k, second));
		T_EQ(px_keys_del(k, "second", &eb), 0);
		T_EQ(k->cur.n, 1);
		T_STREQ(k->cur.a[0].name, "default");
		T_OK(!verifies(k, second));
		T_EQ(strlen(k->cur.a[0].value), 64);
		{
			struct px_buf b;

			px_buf_init(&b, 0);
			T_EQ(px_keys_json(k, &b), 0);
			px_buf_add(&b, "", 1);
			T_OK(strstr((char *)b.data, "{\"keys\":[{\"name\":\"default\",\"value\":\"") ==
			     (char *)b.data);
			px_buf_release(&b);
		}
		px_keys_free(k);
		k = NULL;
	}
	T_CASE("pinned keys refuse changes and keep the file") {
		write_file("{\"admin_token\":\"t\",\"signing_keys\":[\"file-key\"]}");
		T_EQ(px_keys_open(path, vals, 3, true, &k, &eb), 0);
		T_STREQ(value_of(k, "default"), "v-one");
		T_STREQ(value_of(k, "key-3"), "v-three");
		T_EQ(px_keys_put(k, "x", &created, &eb), PX_EBUSY);
		T_STREQ(eb.code, "keys_pinned");
		T_EQ(px_keys_del(k, "default", &eb), PX_EBUSY);
		j = load();
		T_STREQ(json_string_value(json_array_get(json_object_get(j, "signing_keys"), 0)), "file-key");
		json_decref(j);
		px_keys_free(k);
		k = NULL;
	}
	T_CASE("a file that cannot be written changes nothing") {
		char bad[300];

		snprintf(bad, sizeof(bad), "%s/missing-dir/secrets.json", dir);
		T_EQ(px_keys_open(bad, vals, 1, false, &k, &eb), 0);
		T_EQ(px_keys_put(k, "second", &created, &eb), PX_EIO);
		T_EQ(k->cur.n, 1);
		T_OK(verifies(k, "v-one"));
		px_keys_free(k);
	}
	unlink(path);
	rmdir(dir);
}
