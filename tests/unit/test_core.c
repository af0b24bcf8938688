/*
 * test_core.c - buffers, crypto, UUIDv7, the worker pool, configuration,
 * UTF-8, RFC 3339 times, fault injection.
 */
#include "core/buf.h"
#include "core/config.h"
#include "core/crypto.h"
#include "core/fault.h"
#include "core/pool.h"
#include "core/timefmt.h"
#include "core/utf8.h"

#include <pthread.h>
#include <unistd.h>

#include "t.h"

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static int done;

static void blocker(void *arg)
{
	pthread_mutex_lock(&gate);
	done++;
	pthread_mutex_unlock(&gate);
}

static void run(void)
{
	char hex[65], uuid[37], prev[37] = "";
	struct px_buf b;

	T_CASE("buf limits") {
		px_buf_init(&b, 8);
		T_EQ(px_buf_adds(&b, "12345678"), 0);
		T_EQ(px_buf_adds(&b, "9"), PX_ETOOBIG);
		T_EQ(b.len, 8u);
		T_STREQ((char *)b.data, "12345678");
		px_buf_release(&b);
		px_buf_init(&b, 0);
		T_EQ(px_buf_addf(&b, "%d-%s", 42, "x"), 0);
		T_STREQ((char *)b.data, "42-x");
		px_buf_release(&b);
	}
	T_CASE("sha256 and hmac vectors") {
		T_EQ(px_sha256_hex("abc", 3, hex), 0);
		T_STREQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
		/* RFC 4231 test case 2 */
		T_EQ(px_hmac_sha256_hex("Jefe", 4, "what do ya want for nothing?", 28, hex), 0);
		T_STREQ(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
		struct px_sha256 *h = px_sha256_new();
		px_sha256_update(h, "a", 1);
		px_sha256_update(h, "bc", 2);
		px_sha256_final_hex(h, hex);
		T_STREQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
		T_OK(px_ct_streq("abc", "abc"));
		T_OK(!px_ct_streq("abc", "abd"));
		T_OK(!px_ct_streq("abc", "abcd"));
	}
	T_CASE("uuid7 format and order") {
		int ordered = 1;

		T_EQ(px_uuid7(uuid), 0);
		T_EQ(strlen(uuid), 36u);
		T_EQ(uuid[14], '7');
		T_OK(strchr("89ab", uuid[19]) != NULL);
		for (int i = 0; i < 5000 && ordered; i++) {
			strcpy(prev, uuid);
			px_uuid7(uuid);
			ordered = strcmp(prev, uuid) < 0;
		}
		T_OK(ordered);
	}
	T_CASE("pool refuses when full") {
		struct px_pool *p;
		int busy = 0;

		pthread_mutex_lock(&gate);
		T_EQ(px_pool_new(1, 2, &p), 0);
		for (int i = 0; i < 6; i++)
			if (px_pool_submit(p, blocker, NULL) == PX_EBUSY)
				busy++;
		/* One running (once picked up) plus two waiting; the rest refused. */
		T_OK(busy >= 3 && busy <= 4);
		pthread_mutex_unlock(&gate);
		px_pool_free(p);
		T_EQ(done, 6 - busy);
	}
	T_CASE("config precedence: file < env < flag") {
		char path[] = "/tmp/pictor-cfg-XXXXXX";
		int fd = mkstemp(path);
		const char *rest[2];
		int nrest = 2;
		struct px_config c;
		struct px_errbuf eb = {0};
		char *argv1[] = {"--config", path, "--max-side", "300"};
		char *argv2[] = {"--config", path};
		char *argv3[] = {"--bogus", "1"};
		char *argv4[] = {"--max-side", "abc"};
		const char *text = "{\"max_side\": 100, \"max_frames\": 7, \"variants\": {\"tiny\": \"w=10\"}, \"signing_keys\": [\"k1\", \"k2\"]}";

		T_OK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
		close(fd);
		setenv("PICTOR_MAX_SIDE", "200", 1);
		T_EQ(px_config_load(&c, 4, argv1, rest, &nrest, &eb), 0);
		T_EQ(c.max_side, 300);
		T_EQ(c.max_frames, 7);
		T_STREQ(px_config_variant(&c, "tiny"), "w=10");
		T_STREQ(px_config_variant(&c, "public"), "f=auto");
		T_EQ(c.n_signing_keys, 2);
		px_config_release(&c);
		nrest = 2;
		T_EQ(px_config_load(&c, 2, argv2, rest, &nrest, &eb), 0);
		T_EQ(c.max_side, 200);
		px_config_release(&c);
		unsetenv("PICTOR_MAX_SIDE");
		nrest = 2;
		T_EQ(px_config_load(&c, 2, argv2, rest, &nrest, &eb), 0);
		T_EQ(c.max_side, 100);
		px_config_release(&c);
		nrest = 2;
		T_EQ(px_config_load(&c, 2, argv3, rest, &nrest, &eb), PX_EINVAL);
		T_OK(strstr(eb.msg, "--bogus") != NULL);
		px_config_release(&c);
		nrest = 2;
		T_EQ(px_config_load(&c, 2, argv4, rest, &nrest, &eb), PX_EINVAL);
		px_config_release(&c);
		unlink(path);
	}

	T_CASE("utf8: well-formed, cut on a boundary, copy") {
		char out[8];

		T_OK(px_utf8_valid("abc", 3));
		T_OK(px_utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
		T_OK(!px_utf8_valid("\xc3", 1));             /* truncated */
		T_OK(!px_utf8_valid("\xc0\xaf", 2));         /* overlong */
		T_OK(!px_utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
		T_OK(!px_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
		T_OK(!px_utf8_valid("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
		T_OK(!px_utf8_valid("\x80", 1));             /* stray */
		T_OK(!px_utf8_valid("a\xff" "b", 3));
		/* "e-acute" x3 is 6 bytes: a cut at 5 keeps 4 */
		T_EQ(px_utf8_cut("\xc3\xa9\xc3\xa9\xc3\xa9", 6, 5), 4);
		T_EQ(px_utf8_cut("\xc3\xa9\xc3\xa9\xc3\xa9", 6, 6), 6);
		T_EQ(px_utf8_cut("\xf0\x9f\x98\x80", 4, 3), 0);
		T_EQ(px_utf8_cut("abc", 3, 10), 3);
		T_EQ(px_utf8_copy(out, sizeof(out), "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"), PX_ETOOBIG);
		T_STREQ(out, "\xe2\x82\xac\xe2\x82\xac");
		T_EQ(px_utf8_copy(out, sizeof(out), "short"), 0);
		T_STREQ(out, "short");
		T_EQ(px_utf8_copy(out, sizeof(out), "a\xff"), PX_EINVAL);
		T_STREQ(out, "");
	}
	T_CASE("RFC 3339 times") {
		char out[32];
		int64_t us;

		T_EQ(px_time_parse("2030-01-01T00:00:00Z", &us), 0);
		T_EQ(us, (int64_t)1893456000 * 1000000);
		T_EQ(px_time_parse("2030-01-01T00:00:00.5Z", &us), 0);
		T_EQ(us, (int64_t)1893456000 * 1000000 + 500000);
		px_time_format(us, out);
		T_STREQ(out, "2030-01-01T00:00:00.500Z");
		T_EQ(px_time_parse("2030-01-01T00:00:00", &us), PX_EINVAL);
		T_EQ(px_time_parse("2030-01-01T00:00:00+01:00", &us), PX_EINVAL);
		T_EQ(px_time_parse("2030-01-01", &us), PX_EINVAL);
		T_EQ(px_time_parse("2030-01-01T00:00:00.Z", &us), PX_EINVAL);
		T_EQ(px_time_parse("", &us), PX_EINVAL);
		/* digits past µs are read and dropped */
		T_EQ(px_time_parse("2030-01-01T00:00:00.1234567Z", &us), 0);
		T_EQ(us, (int64_t)1893456000 * 1000000 + 123456);
		T_EQ(px_time_parse("2030-01-01T00:00:00Zjunk", &us), PX_EINVAL);
	}
	T_CASE("fault: fires after n successes, once") {
		struct px_fault f = PX_FAULT_INIT;
		int got[4];

		T_EQ(px_fault_take(&f), 0); /* disarmed */
		px_fault_arm(&f, PX_EIO, 2);
		for (int i = 0; i < 4; i++) {
			got[i] = px_fault_take(&f);
			if (!got[i])
				px_fault_count(&f);
		}
		T_EQ(got[0], 0);
		T_EQ(got[1], 0);
		T_EQ(got[2], PX_EIO);
		T_EQ(got[3], 0); /* one shot */
		px_fault_arm(&f, PX_ENOMEM, 0);
		px_fault_arm(&f, 0, 0); /* rc 0 disarms */
		T_EQ(px_fault_take(&f), 0);
	}
}
