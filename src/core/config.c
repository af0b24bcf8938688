/*
 * config.c - configuration from defaults, file, environment and flags.
 */
#include "core/config.h"
#include "core/crypto.h"

#include <fcntl.h>
#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

enum opt_type { OPT_STR, OPT_LONG };

struct opt {
	const char *flag; /* without the leading "--" */
	const char *env;
	const char *key; /* JSON file key */
	enum opt_type type;
	size_t off;
	const char *def; /* default as text; NULL for none */
	long min, max;
	bool secret;
	const char *help;
};

#define S(f) OPT_STR, offsetof(struct px_config, f)
#define L(f) OPT_LONG, offsetof(struct px_config, f)

static const struct opt opts[] = {
	{"config", "PICTOR_CONFIG", NULL, S(config_file), NULL, 0, 0, false,
	 "JSON configuration file"},
	{"listen", "PICTOR_LISTEN", "listen", S(listen), "127.0.0.1:8080", 0, 0,
	 false, "HOST:PORT to serve on (port 0: any free port)"},
	{"data", "PICTOR_DATA", "data", S(data), "./var", 0, 0, false,
	 "data directory (blobs, records, secrets.json)"},
	{"public-url", "PICTOR_PUBLIC_URL", "public_url", S(public_url), NULL,
	 0, 0, false, "base URL used in variant links (default http://LISTEN)"},
	{"workers", "PICTOR_WORKERS", "workers", L(workers), "0", 0, 256,
	 false, "image worker threads (0: one per core)"},
	{"queue", "PICTOR_QUEUE", "queue", L(queue), "64", 0, 100000, false,
	 "image jobs that may wait for a worker"},
	{"http-threads", "PICTOR_HTTP_THREADS", "http_threads",
	 L(http_threads), "2", 1, 64, false, "network threads"},
	{"max-upload-bytes", "PICTOR_MAX_UPLOAD_BYTES", "max_upload_bytes",
	 L(max_upload_bytes), "33554432", 1, 1L << 34, false,
	 "upload body limit in bytes"},
	{"upload-memory", "PICTOR_UPLOAD_MEMORY", "upload_memory",
	 L(upload_memory), "268435456", 1, 1L << 40, false,
	 "bytes of upload bodies buffered at once, all clients"},
	{"max-pixels", "PICTOR_MAX_PIXELS", "max_pixels", L(max_pixels),
	 "100000000", 1, 1L << 40, false, "pixels per image, frames summed"},
	{"max-side", "PICTOR_MAX_SIDE", "max_side", L(max_side), "16384", 1,
	 1 << 20, false, "pixels per side"},
	{"max-frames", "PICTOR_MAX_FRAMES", "max_frames", L(max_frames), "500",
	 1, 100000, false, "frames per image"},
	{"conn-timeout", "PICTOR_CONN_TIMEOUT", "conn_timeout", L(conn_timeout),
	 "30", 1, 3600, false, "idle connection timeout, seconds"},
	{"per-ip-conns", "PICTOR_PER_IP_CONNS", "per_ip_conns", L(per_ip_conns),
	 "64", 1, 100000, false, "concurrent connections per client address"},
	{"conn-memory", "PICTOR_CONN_MEMORY", "conn_memory", L(conn_memory),
	 "65536", 8192, 1 << 24, false, "network memory per connection, bytes"},
	{"drain-timeout", "PICTOR_DRAIN_TIMEOUT", "drain_timeout",
	 L(drain_timeout), "10", 0, 3600, false,
	 "seconds SIGTERM waits for in-flight requests"},
	{"scrub-rate", "PICTOR_SCRUB_RATE", "scrub_rate", L(scrub_rate),
	 "1048576", 0, 1L << 40, false,
	 "bytes per second the background scrub re-reads originals (0: off)"},
	{"max-output", "PICTOR_MAX_OUTPUT", "max_output", L(max_output), "8192",
	 16, 16384, false, "largest output side in pixels"},
	{"trusted-proxies", "PICTOR_TRUSTED_PROXIES", "trusted_proxies",
	 S(trusted_proxies), "", 0, 0, false,
	 "CIDR ranges of proxies whose Forwarded / X-Forwarded-For count"},
	{"rate-limit", "PICTOR_RATE_LIMIT", "rate_limit", S(rate_limits), "", 0,
	 0, false,
	 "per-client limits CLASS=RATE/s:BURST (upload, api, render, hit), "
	 "comma-separated or repeated"},
	{"max-clients", "PICTOR_MAX_CLIENTS", "max_clients", L(max_clients),
	 "1048576", 64, 1L << 28, false,
	 "rate-limit buckets kept (32 bytes each; idle ones are evicted)"},
	{"max-conns", "PICTOR_MAX_CONNS", "max_conns", L(max_conns), "8192", 16,
	 1000000, false, "concurrent connections, all clients"},
	{"header-timeout", "PICTOR_HEADER_TIMEOUT", "header_timeout",
	 L(header_timeout), "10", 1, 3600, false,
	 "seconds a client has to send a request's headers"},
	{"min-send-rate", "PICTOR_MIN_SEND_RATE", "min_send_rate",
	 L(min_send_rate), "16384", 0, 1L << 30, false,
	 "bytes a second a response must average (0: no minimum)"},
	{"hotlink-allow", "PICTOR_HOTLINK_ALLOW", "hotlink_allow",
	 S(hotlink_allow), "", 0, 0, false,
	 "sites that may embed images: HOST,*.HOST,... (empty: any)"},
	{"hotlink-require-referer", "PICTOR_HOTLINK_REQUIRE_REFERER",
	 "hotlink_require_referer", S(hotlink_require_referer), "off", 0, 0,
	 false, "on: deliveries without a Referer are refused too"},
	{"rules-file", "PICTOR_RULES_FILE", "rules_file", S(rules_file), NULL,
	 0, 0, false, "request rules (deny, allow, limit); reloaded on SIGHUP"},
	{"flexible-variants", "PICTOR_FLEXIBLE_VARIANTS", "flexible_variants",
	 S(flexible_variants), "on", 0, 0, false,
	 "on: options in URLs; off: named variants only"},
	{"flexible-options", "PICTOR_FLEXIBLE_OPTIONS", "flexible_options",
	 S(flexible_options), "", 0, 0, false,
	 "options allowed in URLs, comma-separated (empty: all)"},
	{"moderation", "PICTOR_MODERATION", "moderation", S(moderation), "on",
	 0, 0, false, "classify every upload: on or off"},
	{"moderation-mode", "PICTOR_MODERATION_MODE", "moderation_mode",
	 S(moderation_mode), "sync", 0, 0, false,
	 "sync (the upload answers with the verdict) or async (202, pending)"},
	{"moderation-blocked", "PICTOR_MODERATION_BLOCKED", "moderation_blocked",
	 S(moderation_blocked), "refuse", 0, 0, false,
	 "blocked uploads: refuse (422, nothing stored) or quarantine"},
	{"moderation-policy", "PICTOR_MODERATION_POLICY", "moderation_policy",
	 S(moderation_policy), NULL, 0, 0, false,
	 "ordered rules, e.g. \"block: porn>=0.85; flag: sexy>=0.6\""},
	{"moderation-preprocess", "PICTOR_MODERATION_PREPROCESS",
	 "moderation_preprocess", S(moderation_preprocess), "default", 0, 0,
	 false, "default (antialiased resize) or nsfwjs (as nsfwjs.classify)"},
	{"moderation-placeholder", "PICTOR_MODERATION_PLACEHOLDER",
	 "moderation_placeholder", S(moderation_placeholder), "off", 0, 0, false,
	 "on: serve a heavily blurred stand-in for unapproved images"},
	{"moderation-frames", "PICTOR_MODERATION_FRAMES", "moderation_frames",
	 L(moderation_frames), "32", 1, 1000, false,
	 "frames of an animation classified; beyond: a sample plus the changes"},
	{"audit-retention-days", "PICTOR_AUDIT_RETENTION_DAYS",
	 "audit_retention_days", L(audit_retention_days), "0", 0, 36500, false,
	 "days the audit log is kept (0: forever)"},
	{"account-id", "PICTOR_ACCOUNT_ID", "account_id", S(account_id), NULL,
	 0, 0, false,
	 "account id the /accounts/{account_id}/images paths must name (default: any)"},
	{"account-hash", "PICTOR_ACCOUNT_HASH", "account_hash", S(account_hash),
	 NULL, 0, 0, false,
	 "account hash of delivery URLs /{account_hash}/{id}/{variant} (default: form off)"},
	{"cors-origins", "PICTOR_CORS_ORIGINS", "cors_origins", S(cors_origins),
	 "", 0, 0, false,
	 "origins browsers may upload from with a direct upload URL, comma-separated (empty: none)"},
	{"fetch-allow", "PICTOR_FETCH_ALLOW", "fetch_allow", S(fetch_allow), "",
	 0, 0, false,
	 "address ranges upload-from-URL may reach although denied by default, comma-separated CIDRs"},
	{"fetch-deny", "PICTOR_FETCH_DENY", "fetch_deny", S(fetch_deny), "", 0,
	 0, false, "address ranges upload-from-URL may never reach, beyond the built-in list"},
	{"fetch-timeout", "PICTOR_FETCH_TIMEOUT", "fetch_timeout",
	 L(fetch_timeout), "20", 1, 600, false,
	 "seconds an upload-from-URL fetch may take in all (connect: at most 5)"},
	{"models", "PICTOR_MODELS", "models", S(models), "./models", 0, 0,
	 false, "directory holding the classifier model (make models)"},
	{"webhook-url", "PICTOR_WEBHOOK_URL", "webhook_url", S(webhook_url),
	 NULL, 0, 0, false, "URL that receives moderation events"},
	{"webhook-secret", "PICTOR_WEBHOOK_SECRET", "webhook_secret",
	 S(webhook_secret), NULL, 0, 0, true, "HMAC key of webhook signatures"},
	{"cache-memory", "PICTOR_CACHE_MEMORY", "cache_memory", L(cache_memory),
	 "268435456", 0, 1L << 44, false,
	 "bytes of rendered variants kept in memory (0: off)"},
	{"cache-disk", "PICTOR_CACHE_DISK", "cache_disk", L(cache_disk),
	 "10737418240", 0, 1L << 50, false,
	 "bytes of rendered variants kept under DATA/cache (0: off)"},
	{"cache-policy", "PICTOR_CACHE_POLICY", "cache_policy", S(cache_policy),
	 "sieve", 0, 0, false,
	 "cache eviction: sieve, or lru (for comparison)"},
	{"browser-ttl", "PICTOR_BROWSER_TTL", "browser_ttl", L(browser_ttl),
	 "172800", 0, 31536000, false,
	 "seconds browsers and CDNs may keep a variant"},
	{"log-level", "PICTOR_LOG_LEVEL", "log_level", S(log_level), "info", 0,
	 0, false, "debug, info, warn or error"},
	{"admin-token", "PICTOR_ADMIN_TOKEN", "admin_token", S(admin_token),
	 NULL, 0, 0, true, "Bearer token of the images API"},
	{"signing-keys", "PICTOR_SIGNING_KEYS", "signing_keys",
	 S(signing_keys_csv), NULL, 0, 0, true,
	 "comma-separated URL-signing keys; the first signs"},
};

static const char *default_variants[][2] = {
	{"public", "f=auto"},
	{"thumbnail", "w=200,h=200,fit=cover,g=auto,f=auto"},
};

static char **str_field(struct px_config *c, const struct opt *o)
{
	return (char **)((char *)c + o->off);
}

static long *long_field(struct px_config *c, const struct opt *o)
{
	return (long *)((char *)c + o->off);
}

static int set_opt(struct px_config *c, const struct opt *o, const char *v,
		   const char *from, struct px_errbuf *eb)
{
	char *end;
	long n;

	if (o->type == OPT_STR) {
		char *dup = strdup(v);

		if (!dup)
			return PX_ENOMEM;
		free(*str_field(c, o));
		*str_field(c, o) = dup;
		return 0;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < o->min || n > o->max)
		return px_errf(eb, PX_EINVAL,
			       "%s: \"%s\" must be an integer from %ld to %ld",
			       from, o->flag, o->min, o->max);
	*long_field(c, o) = n;
	return 0;
}

/* Flags that add to their earlier values when given again. */
static bool is_list(const struct opt *o)
{
	return o->off == offsetof(struct px_config, rate_limits);
}

static const struct opt *find_flag(const char *name, size_t n)
{
	for (size_t i = 0; i < PX_ARRAY_LEN(opts); i++)
		if (strlen(opts[i].flag) == n && !strncmp(opts[i].flag, name, n))
			return &opts[i];
	return NULL;
}

static int add_variant(struct px_config *c, const char *name, const char *o)
{
	for (int i = 0; i < c->n_variants; i++) {
		if (!strcmp(c->variants[i].name, name)) {
			char *dup = strdup(o);

			if (!dup)
				return PX_ENOMEM;
			free(c->variants[i].options);
			c->variants[i].options = dup;
			return 0;
		}
	}
	if (c->n_variants == PX_MAX_NAMED_VARIANTS)
		return PX_ETOOBIG;
	c->variants[c->n_variants].name = strdup(name);
	c->variants[c->n_variants].options = strdup(o);
	if (!c->variants[c->n_variants].name ||
	    !c->variants[c->n_variants].options)
		return PX_ENOMEM;
	c->n_variants++;
	return 0;
}

static int load_file(struct px_config *c, const char *path,
		     struct px_errbuf *eb)
{
	json_error_t jerr;
	json_t *root, *v;
	int rc = 0;

	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return px_errf(eb, PX_EINVAL, "config \"%s\": line %d: %s",
			       path, jerr.line, jerr.text);
	if (!json_is_object(root)) {
		rc = px_errf(eb, PX_EINVAL, "config \"%s\": not a JSON object",
			     path);
		goto out;
	}
	for (size_t i = 0; i < PX_ARRAY_LEN(opts) && !rc; i++) {
		char num[32];
		const char *text;

		if (!opts[i].key || !(v = json_object_get(root, opts[i].key)))
			continue;
		if (json_is_string(v)) {
			text = json_string_value(v);
		} else if (json_is_integer(v)) {
			snprintf(num, sizeof(num), "%lld",
				 (long long)json_integer_value(v));
			text = num;
		} else if (json_is_array(v) && !strcmp(opts[i].key, "signing_keys")) {
			struct px_buf b;
			size_t j;
			json_t *e;

			px_buf_init(&b, 4096);
			json_array_foreach(v, j, e) {
				if (!json_is_string(e)) {
					px_buf_release(&b);
					rc = px_errf(eb, PX_EINVAL,
						     "config: signing_keys must hold strings");
					goto out;
				}
				if (j)
					px_buf_add(&b, ",", 1);
				px_buf_adds(&b, json_string_value(e));
			}
			rc = set_opt(c, &opts[i], b.data ? (char *)b.data : "",
				     "config", eb);
			px_buf_release(&b);
			continue;
		} else {
			rc = px_errf(eb, PX_EINVAL, "config: \"%s\" has the wrong type",
				     opts[i].key);
			goto out;
		}
		rc = set_opt(c, &opts[i], text, "config", eb);
	}
	v = json_object_get(root, "variants");
	if (!rc && v) {
		const char *name;
		json_t *o;

		if (!json_is_object(v)) {
			rc = px_errf(eb, PX_EINVAL, "config: \"variants\" must be an object");
			goto out;
		}
		json_object_foreach(v, name, o) {
			if (!json_is_string(o)) {
				rc = px_errf(eb, PX_EINVAL,
					     "config: variant \"%s\" must be an option string",
					     name);
				goto out;
			}
			rc = add_variant(c, name, json_string_value(o));
			if (rc)
				goto out;
		}
	}
out:
	json_decref(root);
	return rc;
}

static int split_keys(struct px_config *c, struct px_errbuf *eb)
{
	const char *p = c->signing_keys_csv;

	for (int i = 0; i < c->n_signing_keys; i++)
		free(c->signing_keys[i]);
	c->n_signing_keys = 0;
	while (p && *p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);

		if (n) {
			if (c->n_signing_keys == PX_MAX_KEYS)
				return px_errf(eb, PX_EINVAL,
					       "at most %d signing keys", PX_MAX_KEYS);
			c->signing_keys[c->n_signing_keys] = strndup(p, n);
			if (!c->signing_keys[c->n_signing_keys++])
				return PX_ENOMEM;
		}
		p = comma ? comma + 1 : NULL;
	}
	return 0;
}

int px_config_load(struct px_config *c, int argc, char **argv,
		   const char **rest, int *nrest, struct px_errbuf *eb)
{
	const char *cfgfile = getenv("PICTOR_CONFIG");
	bool seen[PX_ARRAY_LEN(opts)] = {false};
	int rc, max_rest = *nrest;

	memset(c, 0, sizeof(*c));
	*nrest = 0;
	for (size_t i = 0; i < PX_ARRAY_LEN(opts); i++)
		if (opts[i].def && (rc = set_opt(c, &opts[i], opts[i].def,
						 "default", eb)))
			return rc;
	for (size_t i = 0; i < PX_ARRAY_LEN(default_variants); i++)
		if ((rc = add_variant(c, default_variants[i][0],
				      default_variants[i][1])))
			return rc;

	/* The file comes first, so find --config before anything else. */
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			cfgfile = argv[i + 1];
		else if (!strncmp(argv[i], "--config=", 9))
			cfgfile = argv[i] + 9;
	}
	if (cfgfile && *cfgfile) {
		if ((rc = set_opt(c, &opts[0], cfgfile, "flag", eb)))
			return rc;
		if ((rc = load_file(c, cfgfile, eb)))
			return rc;
	}

	for (size_t i = 0; i < PX_ARRAY_LEN(opts); i++) {
		const char *v = getenv(opts[i].env);

		if (v && *v && (rc = set_opt(c, &opts[i], v, opts[i].env, eb)))
			return rc;
	}

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *eq, *val;
		const struct opt *o;

		if (strncmp(a, "--", 2) || !a[2]) {
			if (*nrest == max_rest)
				return px_errf(eb, PX_EINVAL,
					       "unexpected argument \"%s\"", a);
			rest[(*nrest)++] = a;
			continue;
		}
		eq = strchr(a, '=');
		o = find_flag(a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
		if (!o)
			return px_errf(eb, PX_EINVAL, "unknown option \"%s\"", a);
		if (eq) {
			val = eq + 1;
		} else {
			if (i + 1 >= argc)
				return px_errf(eb, PX_EINVAL,
					       "option \"--%s\" needs a value",
					       o->flag);
			val = argv[++i];
		}
		if (is_list(o) && seen[o - opts] && *str_field(c, o)) {
			/* a repeated list flag adds to the earlier ones */
			char *joined;

			if (asprintf(&joined, "%s,%s", *str_field(c, o), val) < 0)
				return PX_ENOMEM;
			rc = set_opt(c, o, joined, "flag", eb);
			free(joined);
		} else {
			rc = set_opt(c, o, val, "flag", eb);
		}
		if (rc)
			return rc;
		seen[o - opts] = true;
	}
	{
		static const struct {
			size_t off;
			const char *name, *a, *b;
		} choices[] = {
			{offsetof(struct px_config, moderation), "moderation", "on", "off"},
			{offsetof(struct px_config, flexible_variants), "flexible-variants", "on", "off"},
			{offsetof(struct px_config, moderation_placeholder), "moderation-placeholder", "on", "off"},
			{offsetof(struct px_config, moderation_mode), "moderation-mode", "sync", "async"},
			{offsetof(struct px_config, moderation_blocked), "moderation-blocked", "refuse", "quarantine"},
			{offsetof(struct px_config, moderation_preprocess), "moderation-preprocess", "default", "nsfwjs"},
			{offsetof(struct px_config, cache_policy), "cache-policy", "sieve", "lru"},
			{offsetof(struct px_config, hotlink_require_referer), "hotlink-require-referer", "on", "off"},
		};
		for (size_t i = 0; i < PX_ARRAY_LEN(choices); i++) {
			const char *v = *(char **)((char *)c + choices[i].off);

			if (strcmp(v, choices[i].a) && strcmp(v, choices[i].b))
				return px_errf(eb, PX_EINVAL,
					       "\"%s\" must be %s or %s, not \"%s\"",
					       choices[i].name, choices[i].a,
					       choices[i].b, v);
		}
	}
	if (c->webhook_url && (!c->webhook_secret || !*c->webhook_secret))
		return px_errf(eb, PX_EINVAL, "--webhook-url needs --webhook-secret");
	return split_keys(c, eb);
}

void px_config_secrets_path(const struct px_config *c, char *out, size_t n)
{
	snprintf(out, n, "%s/secrets.json", c->data);
}

static int write_secrets(const char *path, const char *token, const char *key,
			 struct px_errbuf *eb)
{
	char tmp[4096];
	struct px_buf b;
	int fd, rc = 0;

	if (strlen(path) + 5 > sizeof(tmp))
		return px_errf(eb, PX_ETOOBIG, "path too long");
	memcpy(tmp, path, strlen(path));
	memcpy(tmp + strlen(path), ".tmp", 5);
	px_buf_init(&b, 0);
	px_buf_addf(&b, "{\n  \"admin_token\": \"%s\",\n  \"signing_keys\": [\"%s\"]\n}\n",
		    token, key);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = px_errf(eb, PX_EIO, "cannot create \"%s\": %s", tmp,
			     strerror(errno));
		goto out;
	}
	if (write(fd, b.data, b.len) != (ssize_t)b.len || fsync(fd)) {
		rc = px_errf(eb, PX_EIO, "cannot write \"%s\": %s", tmp,
			     strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path)) {
		rc = px_errf(eb, PX_EIO, "cannot rename \"%s\": %s", tmp,
			     strerror(errno));
		unlink(tmp);
	}
out:
	px_buf_release(&b);
	return rc;
}

int px_config_secrets(struct px_config *c, bool create, bool *created,
		      struct px_errbuf *eb)
{
	char path[4096], token[65], key[65];
	json_error_t jerr;
	json_t *root = NULL, *v;
	int rc = 0;

	*created = false;
	px_config_secrets_path(c, path, sizeof(path));
	if (access(path, F_OK) != 0) {
		if (!create)
			return px_errf(eb, PX_ENOTFOUND,
				       "no secrets file \"%s\" (start \"pictor serve\" once to create it)",
				       path);
		if (mkdir(c->data, 0700) && errno != EEXIST)
			return px_errf(eb, PX_EIO, "cannot create \"%s\": %s",
				       c->data, strerror(errno));
		if (px_random_hex(token, 32) || px_random_hex(key, 32))
			return px_errf(eb, PX_EINTERNAL, "no randomness");
		if ((rc = write_secrets(path, token, key, eb)))
			return rc;
		*created = true;
	}
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root || !json_is_object(root)) {
		rc = px_errf(eb, PX_EINVAL, "secrets \"%s\": not a JSON object",
			     path);
		goto out;
	}
	v = json_object_get(root, "admin_token");
	if (!c->admin_token && json_is_string(v)) {
		c->admin_token = strdup(json_string_value(v));
		if (!c->admin_token) {
			rc = PX_ENOMEM;
			goto out;
		}
	}
	v = json_object_get(root, "signing_keys");
	if (!c->n_signing_keys && json_is_array(v)) {
		size_t i;
		json_t *e;

		json_array_foreach(v, i, e) {
			if (!json_is_string(e) || c->n_signing_keys == PX_MAX_KEYS)
				continue;
			c->signing_keys[c->n_signing_keys] =
				strdup(json_string_value(e));
			if (!c->signing_keys[c->n_signing_keys++]) {
				rc = PX_ENOMEM;
				goto out;
			}
		}
	}
	if (!c->admin_token || !*c->admin_token || !c->n_signing_keys)
		rc = px_errf(eb, PX_EINVAL,
			     "secrets \"%s\": needs \"admin_token\" and \"signing_keys\"",
			     path);
out:
	json_decref(root);
	return rc;
}

int px_config_dump(const struct px_config *c, struct px_buf *out)
{
	json_t *root = json_object(), *keys = json_array(), *vars = json_object();
	char *text;
	int rc = 0;

	for (size_t i = 0; i < PX_ARRAY_LEN(opts); i++) {
		const struct opt *o = &opts[i];
		const char *key = o->key ? o->key : "config";

		if (o->off == offsetof(struct px_config, signing_keys_csv))
			continue;
		if (o->type == OPT_LONG) {
			json_object_set_new(root, key, json_integer(
				*long_field((struct px_config *)c, o)));
		} else {
			const char *v = *str_field((struct px_config *)c, o);

			json_object_set_new(root, key,
					    !v ? json_null()
					       : json_string(o->secret ? "***" : v));
		}
	}
	for (int i = 0; i < c->n_signing_keys; i++)
		json_array_append_new(keys, json_string("***"));
	json_object_set_new(root, "signing_keys", keys);
	for (int i = 0; i < c->n_variants; i++)
		json_object_set_new(vars, c->variants[i].name,
				    json_string(c->variants[i].options));
	json_object_set_new(root, "variants", vars);
	text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!text)
		rc = PX_ENOMEM;
	else
		rc = px_buf_adds(out, text);
	free(text);
	json_decref(root);
	return rc;
}

void px_config_usage(FILE *f)
{
	for (size_t i = 0; i < PX_ARRAY_LEN(opts); i++) {
		char flag[64];

		snprintf(flag, sizeof(flag), "--%s %s", opts[i].flag,
			 opts[i].type == OPT_LONG ? "N" : "VALUE");
		fprintf(f, "  %-28s %s [%s%s%s]\n", flag, opts[i].help,
			opts[i].env, opts[i].def ? ", default " : "",
			opts[i].def ? opts[i].def : "");
	}
}

void px_config_release(struct px_config *c)
{
	for (size_t i = 0; i < PX_ARRAY_LEN(opts); i++)
		if (opts[i].type == OPT_STR)
			free(*str_field(c, &opts[i]));
	for (int i = 0; i < c->n_signing_keys; i++)
		free(c->signing_keys[i]);
	for (int i = 0; i < c->n_variants; i++) {
		free(c->variants[i].name);
		free(c->variants[i].options);
	}
	memset(c, 0, sizeof(*c));
}

const char *px_config_variant(const struct px_config *c, const char *name)
{
	for (int i = 0; i < c->n_variants; i++)
		if (!strcmp(c->variants[i].name, name))
			return c->variants[i].options;
	return NULL;
}
