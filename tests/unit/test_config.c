/*
 * test_config.c - the settings table: value forms, unknown names with
 * suggestions, origins, the key-line scanner, creating the data directory.
 */
#include "t.h"

#include "core/config.c"


static char tmpdir[] = "/tmp/pictor-tcfg-XXXXXX";

/* Write text to a file in tmpdir; returns its path (never freed). */
static const char *file_with(const char *name, const char *text)
{
	char *path = malloc(256);
	FILE *f;

	snprintf(path, 256, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

/* Load with argv; returns the px_config_load result, message in eb. */
static int load(struct px_config *c, struct px_errbuf *eb, int argc,
		const char **argv)
{
	const char *rest[4];
	int nrest = 4;

	memset(eb, 0, sizeof(*eb));
	return px_config_load(c, argc, (char **)argv, rest, &nrest, eb);
}

static bool has(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}

static void run(void)
{
	struct px_config c;
	struct px_errbuf eb;

	T_OK(mkdtemp(tmpdir) != NULL);

	T_CASE("suggestions") {
		const char *flags[] = {"--data", "--listen", "--max-upload-bytes", "--models"};
		const char *words[] = {"serve", "sign", "config", "classify", "version"};

		T_EQ(px_edit_distance("widht", "width"), 1);
		T_EQ(px_edit_distance("", "abc"), 3);
		T_EQ(px_edit_distance("DATA", "data"), 0);
		T_STREQ(px_suggest("--dta", flags, 4), "--data");
		T_STREQ(px_suggest("--max-upload", flags, 4), "--max-upload-bytes");
		T_STREQ(px_suggest("srve", words, 5), "serve");
		T_STREQ(px_suggest("confgi", words, 5), "config");
		T_OK(px_suggest("frobnicate", words, 5) == NULL);
		T_OK(px_suggest("--m", flags, 4) == NULL); /* too short to guess */
	}

	T_CASE("value forms: sizes, durations, booleans, enums") {
		const char *a1[] = {"--max-upload-bytes", "32M", "--upload-memory", "1G",
				    "--conn-memory", "64KiB", "--conn-timeout", "2m",
				    "--drain-timeout", "0", "--moderation", "off",
				    "--flexible-variants", "TRUE", "--moderation-placeholder", "yes",
				    "--moderation-mode", "async", "--log-level", "warn"};
		const char *a2[] = {"--max-upload-bytes=10G"};

		T_EQ(load(&c, &eb, 20, a1), 0);
		T_EQ(c.max_upload_bytes, 32L << 20);
		T_EQ(c.upload_memory, 1L << 30);
		T_EQ(c.conn_memory, 64L << 10);
		T_EQ(c.conn_timeout, 120);
		T_EQ(c.drain_timeout, 0);
		T_EQ(c.moderation, false);
		T_EQ(c.flexible_variants, true);
		T_EQ(c.moderation_placeholder, true);
		T_EQ(c.moderation_mode, PX_MOD_ASYNC);
		T_EQ(c.log_level, PX_LOG_WARN);
		px_config_release(&c);
		T_EQ(load(&c, &eb, 1, a2), 0);
		T_EQ(c.max_upload_bytes, 10L << 30);
		px_config_release(&c);
	}

	T_CASE("bad values name the setting and the accepted forms") {
		static const struct {
			const char *flag, *value, *want[2];
		} bad[] = {
			{"--max-upload-bytes", "32X", {"--max-upload-bytes", "32M"}},
			{"--max-upload-bytes", "99T", {"from 1 to 16G", NULL}},
			{"--max-upload-bytes", "-1", {"size", NULL}},
			{"--conn-timeout", "2y", {"--conn-timeout", "30s"}},
			{"--conn-timeout", "2d", {"from 1s to 1h", NULL}},
			{"--moderation", "maybe", {"not a boolean", "on, off"}},
			{"--moderation-mode", "asnc", {"sync or async", "did you mean \"async\""}},
			{"--workers", "-3", {"integer from 0 to 256", NULL}},
			{"--listen", "localhost", {"HOST:PORT", NULL}},
			{"--listen", "1.2.3.4:99999", {"HOST:PORT", NULL}},
		};

		for (size_t i = 0; i < PX_ARRAY_LEN(bad); i++) {
			const char *a[] = {bad[i].flag, bad[i].value};

			T_EQ(load(&c, &eb, 2, a), PX_EINVAL);
			for (int k = 0; k < 2; k++)
				if (bad[i].want[k] && !has(eb.msg, bad[i].want[k])) {
					T_OK(!"message lacks an expected part");
					fprintf(stderr, "  %s %s: %s\n", bad[i].flag,
						bad[i].value, eb.msg);
				}
			px_config_release(&c);
		}
	}

	T_CASE("unknown flags, keys and variables fail with a suggestion") {
		const char *a1[] = {"--dta", "x"};
		const char *a2[] = {"-d", "x"};
		const char *a3[] = {"--config", file_with("typo.json",
			"{\n  \"listen\": \"127.0.0.1:0\",\n  \"dta\": \"/srv/images\"\n}\n")};

		T_EQ(load(&c, &eb, 2, a1), PX_EINVAL);
		T_OK(has(eb.msg, "unknown option \"--dta\"; did you mean \"--data\"?"));
		px_config_release(&c);
		T_EQ(load(&c, &eb, 2, a2), PX_EINVAL);
		T_OK(has(eb.msg, "unknown option \"-d\""));
		px_config_release(&c);
		T_EQ(load(&c, &eb, 2, a3), PX_EINVAL);
		T_OK(has(eb.msg, "typo.json:3: unknown key \"dta\"; did you mean \"data\"?"));
		px_config_release(&c);
		setenv("PICTOR_MAX_SIDES", "10", 1);
		T_EQ(load(&c, &eb, 0, NULL), PX_EINVAL);
		T_OK(has(eb.msg, "PICTOR_MAX_SIDES; did you mean \"PICTOR_MAX_SIDE\"?"));
		px_config_release(&c);
		unsetenv("PICTOR_MAX_SIDES");
		setenv("PICTOR_CORPUS", "x", 1); /* the test scripts' own */
		T_EQ(load(&c, &eb, 0, NULL), 0);
		px_config_release(&c);
		unsetenv("PICTOR_CORPUS");
	}

	T_CASE("file values: JSON types, lines of errors, variants") {
		const char *text = "{\n"
				   "  \"max_upload_bytes\": \"8M\",\n"
				   "  \"conn_timeout\": 45,\n"
				   "  \"moderation\": false,\n"
				   "  \"variants\": {\n"
				   "    \"tiny\": \"w=10\",\n"
				   "    \"big\": \"w=1000\"\n"
				   "  }\n"
				   "}\n";
		const char *a[] = {"--config", file_with("ok.json", text)};
		const char *b1[] = {"--config", file_with("b1.json", "{\"queue\": true}")};
		const char *b2[] = {"--config", file_with("b2.json", "{\n\"listen\": 8080}")};
		const char *b3[] = {"--config", file_with("b3.json", "{\"variants\": {\"x\": 1}}")};
		char want[300];

		T_EQ(load(&c, &eb, 2, a), 0);
		T_EQ(c.max_upload_bytes, 8L << 20);
		T_EQ(c.conn_timeout, 45);
		T_EQ(c.moderation, false);
		snprintf(want, sizeof(want), "%s:2", a[1]);
		T_STREQ(px_config_origin(&c, "max_upload_bytes"), want);
		snprintf(want, sizeof(want), "%s:7", a[1]);
		T_STREQ(c.variants[3].origin, want);
		T_STREQ(c.variants[3].name, "big");
		T_STREQ(px_config_origin(&c, "queue"), "default");
		T_STREQ(px_config_origin(&c, "config"), "flag --config");
		px_config_release(&c);
		T_EQ(load(&c, &eb, 2, b1), PX_EINVAL);
		T_OK(has(eb.msg, "\"queue\": must be an integer, not a boolean"));
		px_config_release(&c);
		T_EQ(load(&c, &eb, 2, b2), PX_EINVAL);
		T_OK(has(eb.msg, "b2.json:2: \"listen\": must be a string"));
		px_config_release(&c);
		T_EQ(load(&c, &eb, 2, b3), PX_EINVAL);
		T_OK(has(eb.msg, "variant \"x\" must be an option string"));
		px_config_release(&c);
	}

	T_CASE("origins: default < file < env < flag") {
		const char *path = file_with("o.json", "{\"queue\": 5, \"max_side\": 100}");
		const char *a[] = {"--config", path, "--max-frames", "9"};
		char want[300];

		setenv("PICTOR_MAX_SIDE", "200", 1);
		T_EQ(load(&c, &eb, 4, a), 0);
		snprintf(want, sizeof(want), "%s:1", path);
		T_STREQ(px_config_origin(&c, "queue"), want);
		T_STREQ(px_config_origin(&c, "max_side"), "env PICTOR_MAX_SIDE");
		T_STREQ(px_config_origin(&c, "max_frames"), "flag --max-frames");
		T_STREQ(px_config_origin(&c, "listen"), "default");
		T_OK(px_config_origin(&c, "nope") == NULL);
		px_config_release(&c);
		unsetenv("PICTOR_MAX_SIDE");
	}

	T_CASE("key_line finds top-level and nested keys, not values") {
		const char *t = "{\"a\": \"data\",\n \"data\": {\"x\": 1,\n\"y\": \"x\"},\n"
				"\"s\": \"q\\\"data\\\": 1\", \"z\": [\"data\"]}";

		T_EQ(key_line(t, strlen(t), NULL, "data"), 2);
		T_EQ(key_line(t, strlen(t), NULL, "x"), 0);
		T_EQ(key_line(t, strlen(t), "data", "y"), 3);
		T_EQ(key_line(t, strlen(t), NULL, "z"), 4);
		T_EQ(key_line(t, strlen(t), NULL, "nope"), 0);
	}

	T_CASE("show-origin dump masks secrets") {
		const char *a[] = {"--admin-token", "sekrit-token", "--signing-keys", "k1,k2"};
		struct px_buf b;

		T_EQ(load(&c, &eb, 4, a), 0);
		px_buf_init(&b, 0);
		T_EQ(px_config_dump_origins(&c, &b), 0);
		T_OK(!has((char *)b.data, "sekrit"));
		T_OK(!has((char *)b.data, "k1"));
		T_OK(has((char *)b.data, "flag --admin-token\tadmin_token=\"***\"\n"));
		T_OK(has((char *)b.data, "flag --signing-keys\tsigning_keys=\"***\"\n"));
		T_OK(has((char *)b.data, "default\tvariants.public=\"f=auto\"\n"));
		px_buf_release(&b);
		px_config_release(&c);
	}

	T_CASE("the data directory: parents created, or the error says how") {
		char data[300], cmd[400];
		const char *a[] = {"--data", data};
		struct stat st;

		snprintf(data, sizeof(data), "%s/p/q/r", tmpdir);
		T_EQ(load(&c, &eb, 2, a), 0);
		T_EQ(px_config_make_data(&c, &eb), 0);
		T_OK(stat(data, &st) == 0 && S_ISDIR(st.st_mode));
		T_EQ(px_config_make_data(&c, &eb), 0); /* again: fine */
		px_config_release(&c);
		snprintf(data, sizeof(data), "%s/ok.json/sub", tmpdir);
		T_EQ(load(&c, &eb, 2, a), 0);
		T_EQ(px_config_make_data(&c, &eb), PX_EIO);
		T_OK(has(eb.msg, "mkdir -p"));
		T_OK(has(eb.msg, "--data"));
		px_config_release(&c);
		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		T_OK(system(cmd) == 0);
	}
}
