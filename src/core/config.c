/*
 * config.c - configuration from defaults, file, environment and flags.
 *
 * One table (opts[]) describes every setting once: flag, environment
 * variable, file key, type, default, range and help. Loading applies the
 * sources in order, records where each value came from (for `pictor config
 * --show-origin` and for error messages), and refuses anything it does not
 * know, suggesting the nearest known name, so a typo cannot silently fall
 * back to a default.
 */
#include "core/config.h"
#include "core/crypto.h"
#include "core/suggest.h"

#include <fcntl.h>
#include <limits.h>
#include <jansson.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

enum opt_type {
	OPT_STR,
	OPT_LONG,
	OPT_BOOL,    /* bool field */
	OPT_ENUM,    /* enum field; the index into choices */
	OPT_SIZE,    /* long field, bytes; K M G T suffixes */
	OPT_SECONDS, /* long field, seconds; s m h d suffixes */
};

struct opt {
	const char *flag; /* without the leading "--" */
	const char *env;
	const char *key; /* JSON file key */
	enum opt_type type;
	size_t off;
	const char *const *choices; /* OPT_ENUM: NULL-terminated */
	const char *def; /* default as text; NULL for none */
	long min, max;
	bool secret;
	const char *help;
};

/* Type and field of a row: S string, L integer, B boolean, E enum (with
 * its choices), Z size in bytes, T duration in seconds. */
#define S(f) OPT_STR, offsetof(struct px_config, f), NULL
#define L(f) OPT_LONG, offsetof(struct px_config, f), NULL
#define B(f) OPT_BOOL, offsetof(struct px_config, f), NULL
#define E(f, ch) OPT_ENUM, offsetof(struct px_config, f), ch
#define Z(f) OPT_SIZE, offsetof(struct px_config, f), NULL
#define T(f) OPT_SECONDS, offsetof(struct px_config, f), NULL

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const mod_modes[] = {"sync", "async", NULL};
static const char *const mod_blocked[] = {"refuse", "quarantine", NULL};
static const char *const mod_preprocess[] = {"default", "nsfwjs", NULL};
static const char *const cache_policies[] = {"sieve", "lru", NULL};
static const char *const console_thumbs[] = {"upload", "lazy", NULL};

static const struct opt opts[] = {
	{"config", "PICTOR_CONFIG", NULL, S(config_file), NULL, 0, 0, false,
	 "JSON configuration file"},
	{"listen", "PICTOR_LISTEN", "listen", S(listen), "127.0.0.1:8080", 0, 0,
	 false, "HOST:PORT to serve on (port 0: any free port)"},
	{"data", "PICTOR_DATA", "data", S(data), "./var", 0, 0, false,
	 "data directory (blobs, records, secrets.json)"},
	{"meta", "PICTOR_META", "meta", S(meta), "lmdb", 0, 0, false,
	 "metadata store: lmdb (in the data directory) or a PostgreSQL "
	 "connection URI, postgres://USER:PASSWORD@HOST:PORT/DB?PARAMS"},
	{"blob", "PICTOR_BLOB", "blob", S(blob), "file", 0, 0, false,
	 "where originals live: file (the data directory) or "
	 "s3://BUCKET[/PREFIX]?endpoint=URL&region=R&path_style=1"},
	{"s3-access-key-id", "PICTOR_S3_ACCESS_KEY_ID", "s3_access_key_id",
	 S(s3_access_key_id), NULL, 0, 0, true,
	 "S3 access key of --blob s3://... (default: AWS_ACCESS_KEY_ID)"},
	{"s3-secret-access-key", "PICTOR_S3_SECRET_ACCESS_KEY",
	 "s3_secret_access_key", S(s3_secret_access_key), NULL, 0, 0, true,
	 "S3 secret key of --blob s3://... (default: AWS_SECRET_ACCESS_KEY)"},
	{"s3-session-token", "PICTOR_S3_SESSION_TOKEN", "s3_session_token",
	 S(s3_session_token), NULL, 0, 0, true,
	 "S3 session token of --blob s3://... (default: AWS_SESSION_TOKEN)"},
	{"public-url", "PICTOR_PUBLIC_URL", "public_url", S(public_url), NULL,
	 0, 0, false, "base URL used in variant links (default http://LISTEN)"},
	{"workers", "PICTOR_WORKERS", "workers", L(workers), "0", 0, 256,
	 false, "image worker threads (0: one per core)"},
	{"queue", "PICTOR_QUEUE", "queue", L(queue), "64", 0, 100000, false,
	 "image jobs that may wait for a worker"},
	{"http-threads", "PICTOR_HTTP_THREADS", "http_threads",
	 L(http_threads), "2", 1, 64, false, "network threads"},
	{"max-upload-bytes", "PICTOR_MAX_UPLOAD_BYTES", "max_upload_bytes",
	 Z(max_upload_bytes), "32M", 1, 1L << 34, false,
	 "upload body limit, bytes (K, M, G suffixes)"},
	{"upload-memory", "PICTOR_UPLOAD_MEMORY", "upload_memory",
	 Z(upload_memory), "256M", 1, 1L << 40, false,
	 "bytes of upload bodies buffered at once, all clients"},
	{"max-pixels", "PICTOR_MAX_PIXELS", "max_pixels", L(max_pixels),
	 "100000000", 1, 1L << 40, false, "pixels per image, frames summed"},
	{"max-side", "PICTOR_MAX_SIDE", "max_side", L(max_side), "16384", 1,
	 1 << 20, false, "pixels per side"},
	{"max-frames", "PICTOR_MAX_FRAMES", "max_frames", L(max_frames), "500",
	 1, 100000, false, "frames per image"},
	{"conn-timeout", "PICTOR_CONN_TIMEOUT", "conn_timeout", T(conn_timeout),
	 "30s", 1, 3600, false, "idle connection timeout (s, m, h suffixes)"},
	{"per-ip-conns", "PICTOR_PER_IP_CONNS", "per_ip_conns", L(per_ip_conns),
	 "64", 1, 100000, false, "concurrent connections per client address"},
	{"conn-memory", "PICTOR_CONN_MEMORY", "conn_memory", Z(conn_memory),
	 "64K", 8192, 1 << 24, false, "network memory per connection, bytes"},
	{"drain-timeout", "PICTOR_DRAIN_TIMEOUT", "drain_timeout",
	 T(drain_timeout), "10s", 0, 3600, false,
	 "how long SIGTERM waits for in-flight requests"},
	{"scrub-rate", "PICTOR_SCRUB_RATE", "scrub_rate", Z(scrub_rate),
	 "1M", 0, 1L << 40, false,
	 "bytes per second the background scrub re-reads originals (0: off)"},
	{"scrub-interval", "PICTOR_SCRUB_INTERVAL", "scrub_interval",
	 T(scrub_interval), "1h", 1, 30L * 86400, false,
	 "least time from the start of one scrub pass to the start of the next"},
	{"max-output", "PICTOR_MAX_OUTPUT", "max_output", L(max_output), "8192",
	 16, 16384, false, "largest output side in pixels"},
	{"max-output-cost", "PICTOR_MAX_OUTPUT_COST", "max_output_cost",
	 L(max_output_cost), "50000000", 1, 1L << 40, false,
	 "output pixels times frames one render may produce"},
	{"render-timeout", "PICTOR_RENDER_TIMEOUT", "render_timeout",
	 T(render_timeout), "20s", 0, 3600, false,
	 "wall-clock time one render may take before it is stopped (0: none)"},
	{"refusal-delay-ms", "PICTOR_REFUSAL_DELAY_MS", "refusal_delay_ms",
	 L(refusal_delay_ms), "500", 0, 10000, false,
	 "milliseconds a 429 is held back before it is sent (0: at once)"},
	{"trusted-proxies", "PICTOR_TRUSTED_PROXIES", "trusted_proxies",
	 S(trusted_proxies), "", 0, 0, false,
	 "CIDR ranges of proxies whose Forwarded / X-Forwarded-For count"},
	{"rate-limit", "PICTOR_RATE_LIMIT", "rate_limit", S(rate_limits), "", 0,
	 0, false,
	 "per-client limits CLASS=RATE/s:BURST (upload, api, render, hit), "
	 "comma-separated or repeated"},
	{"token-rate-limit", "PICTOR_TOKEN_RATE_LIMIT", "token_rate_limit",
	 S(token_rate_limits), "", 0, 0, false,
	 "per-token limits of scoped tokens CLASS=RATE/s:BURST (upload, api), "
	 "comma-separated or repeated"},
	{"queue-per-client", "PICTOR_QUEUE_PER_CLIENT", "queue_per_client",
	 L(queue_per_client), "8", 1, 100000, false,
	 "image jobs one client may have waiting (the queue is shared fairly)"},
	{"client-workers", "PICTOR_CLIENT_WORKERS", "client_workers",
	 L(client_workers), "-1", -1, 256, false,
	 "image workers one client network (IPv4 /24, IPv6 /48) may hold "
	 "while another has work (-1: all but one; 0: no limit)"},
	{"max-clients", "PICTOR_MAX_CLIENTS", "max_clients", L(max_clients),
	 "1048576", 64, 1L << 28, false,
	 "rate-limit buckets kept (32 bytes each; idle ones are evicted)"},
	{"max-conns", "PICTOR_MAX_CONNS", "max_conns", L(max_conns), "8192", 16,
	 1000000, false, "concurrent connections, all clients"},
	{"header-timeout", "PICTOR_HEADER_TIMEOUT", "header_timeout",
	 T(header_timeout), "10s", 1, 3600, false,
	 "how long a client has to send a request's headers"},
	{"min-send-rate", "PICTOR_MIN_SEND_RATE", "min_send_rate",
	 Z(min_send_rate), "16K", 0, 1L << 30, false,
	 "bytes a second a body or response must move, on average and in "
	 "every header-timeout window (0: no minimum)"},
	{"send-memory", "PICTOR_SEND_MEMORY", "send_memory", Z(send_memory),
	 "256M", 0, 1L << 40, false,
	 "response bytes held in memory for clients still reading; beyond, "
	 "the slowest are cut (0: no bound)"},
	{"hotlink-allow", "PICTOR_HOTLINK_ALLOW", "hotlink_allow",
	 S(hotlink_allow), "", 0, 0, false,
	 "sites that may embed images: HOST,*.HOST,... (empty: any)"},
	{"hotlink-require-referer", "PICTOR_HOTLINK_REQUIRE_REFERER",
	 "hotlink_require_referer", B(hotlink_require_referer), "off", 0, 0,
	 false, "on: deliveries without a Referer are refused too"},
	{"rules-file", "PICTOR_RULES_FILE", "rules_file", S(rules_file), NULL,
	 0, 0, false, "request rules (deny, allow, limit); reloaded on SIGHUP"},
	{"flexible-variants", "PICTOR_FLEXIBLE_VARIANTS", "flexible_variants",
	 B(flexible_variants), "on", 0, 0, false,
	 "on: options in URLs; off: named variants only"},
	{"flexible-options", "PICTOR_FLEXIBLE_OPTIONS", "flexible_options",
	 S(flexible_options), "", 0, 0, false,
	 "options allowed in URLs, comma-separated (empty: all)"},
	{"moderation", "PICTOR_MODERATION", "moderation", B(moderation), "on",
	 0, 0, false, "classify every upload: on or off"},
	{"pdq", "PICTOR_PDQ", "pdq", B(pdq), "on", 0, 0, false,
	 "PDQ-hash uploads for hash lists and /similar: on or off (images "
	 "stored while off get one from a pdq_missing re-classification)"},
	{"moderation-mode", "PICTOR_MODERATION_MODE", "moderation_mode",
	 E(moderation_mode, mod_modes), "sync", 0, 0, false,
	 "sync (the upload answers with the verdict) or async (202, pending)"},
	{"moderation-blocked", "PICTOR_MODERATION_BLOCKED", "moderation_blocked",
	 E(moderation_blocked, mod_blocked), "refuse", 0, 0, false,
	 "blocked uploads: refuse (422, nothing stored) or quarantine"},
	{"moderation-policy", "PICTOR_MODERATION_POLICY", "moderation_policy",
	 S(moderation_policy), NULL, 0, 0, false,
	 "ordered rules \"[NAME=]ACTION: CLASS>=N [& ...] [| ...]; ...\", "
	 "e.g. \"block: porn>=0.85; flag: sexy>=0.6\" (docs/MODERATION.md)"},
	{"moderation-preprocess", "PICTOR_MODERATION_PREPROCESS",
	 "moderation_preprocess", E(moderation_preprocess, mod_preprocess),
	 "default", 0, 0, false,
	 "default (antialiased resize) or nsfwjs (as nsfwjs.classify)"},
	{"moderation-placeholder", "PICTOR_MODERATION_PLACEHOLDER",
	 "moderation_placeholder", B(moderation_placeholder), "off", 0, 0, false,
	 "on: serve a heavily blurred stand-in for unapproved images"},
	{"unavailable-status", "PICTOR_UNAVAILABLE_STATUS", "unavailable_status",
	 L(unavailable_status), "404", 403, 404, false,
	 "status of the one answer anonymous delivery gets for a missing, "
	 "pending, flagged or blocked image (403 or 404, code not_available)"},
	{"webhook-timeout", "PICTOR_WEBHOOK_TIMEOUT", "webhook_timeout",
	 L(webhook_timeout), "10", 1, 300, false,
	 "seconds a webhook POST may take before it counts as failed"},
	{"webhook-attempts", "PICTOR_WEBHOOK_ATTEMPTS", "webhook_attempts",
	 L(webhook_attempts), "12", 1, 100, false,
	 "attempts before a webhook event becomes a dead letter"},
	{"lease-time", "PICTOR_LEASE_TIME", "lease_time", L(lease_time), "30",
	 1, 3600, false,
	 "seconds a node's claim on a background job or webhook event lasts "
	 "unrenewed (nodes sharing a PostgreSQL store); renewed every third"},
	{"moderation-frames", "PICTOR_MODERATION_FRAMES", "moderation_frames",
	 L(moderation_frames), "32", 1, 1000, false,
	 "frames of an animation classified; beyond: a sample plus the changes"},
	{"reclassify-share", "PICTOR_RECLASSIFY_SHARE", "reclassify_share",
	 L(reclassify_share), "50", 1, 100, false,
	 "percent of one core a re-classification job may use"},
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
	 T(fetch_timeout), "20s", 1, 600, false,
	 "how long an upload-from-URL fetch may take in all (connect: at most 5s)"},
	{"models", "PICTOR_MODELS", "models", S(models), NULL, 0, 0, false,
	 "models directory, or one model's own directory (default: found next to the binary)"},
	{"webhook-url", "PICTOR_WEBHOOK_URL", "webhook_url", S(webhook_url),
	 NULL, 0, 0, false, "URL that receives moderation events"},
	{"webhook-secret", "PICTOR_WEBHOOK_SECRET", "webhook_secret",
	 S(webhook_secret), NULL, 0, 0, true, "HMAC key of webhook signatures"},
	{"cache-memory", "PICTOR_CACHE_MEMORY", "cache_memory", Z(cache_memory),
	 "256M", 0, 1L << 44, false,
	 "rendered variants kept in memory (0: off)"},
	{"cache-disk", "PICTOR_CACHE_DISK", "cache_disk", Z(cache_disk),
	 "10G", 0, 1L << 50, false,
	 "rendered variants kept under DATA/cache (0: off)"},
	{"record-cache", "PICTOR_RECORD_CACHE", "record_cache",
	 Z(record_cache), "64M", 0, 1L << 40, false,
	 "image records and variants kept in memory when the metadata store "
	 "is PostgreSQL (0: off)"},
	{"cache-policy", "PICTOR_CACHE_POLICY", "cache_policy",
	 E(cache_policy, cache_policies), "sieve", 0, 0, false,
	 "cache eviction: sieve, or lru (for comparison)"},
	{"cache-wait", "PICTOR_CACHE_WAIT", "cache_wait", T(cache_wait), "30s",
	 1, 3600, false,
	 "how long a request waits for a render of the same variant before 503"},
	{"browser-ttl", "PICTOR_BROWSER_TTL", "browser_ttl", T(browser_ttl),
	 "2d", 0, 31536000, false,
	 "how long browsers and CDNs may keep a variant"},
	{"malloc-arenas", "PICTOR_MALLOC_ARENAS", "malloc_arenas",
	 L(malloc_arenas), "2", 0, 64, false,
	 "malloc arenas, with a fixed mmap threshold and a trim every 10 s "
	 "and when the workers fall idle "
	 "(0: glibc's defaults)"},
	{"console", "PICTOR_CONSOLE", "console", B(console), "on", 0, 0, false,
	 "the admin console at /admin: on or off (off: 404)"},
	{"console-session-ttl", "PICTOR_CONSOLE_SESSION_TTL",
	 "console_session_ttl", T(console_session_ttl), "12h", 1, 30L * 86400,
	 false, "how long a console sign-in lasts"},
	{"console-thumbnails", "PICTOR_CONSOLE_THUMBNAILS", "console_thumbnails",
	 E(console_thumbnails, console_thumbs), "upload", 0, 0, false,
	 "the console grid's thumbnails: upload (rendered into the result "
	 "cache by the upload) or lazy (at their first request)"},
	{"log-level", "PICTOR_LOG_LEVEL", "log_level", E(log_level, log_levels),
	 "info", 0, 0, false, "debug, info, warn or error"},
	{"admin-token", "PICTOR_ADMIN_TOKEN", "admin_token", S(admin_token),
	 NULL, 0, 0, true, "Bearer token of the images API"},
	{"signing-keys", "PICTOR_SIGNING_KEYS", "signing_keys",
	 S(signing_keys_csv), NULL, 0, 0, true,
	 "comma-separated URL-signing keys; the first signs"},
};

_Static_assert(PX_ARRAY_LEN(opts) <= PX_CONFIG_MAX_OPTS,
	       "raise PX_CONFIG_MAX_OPTS");
_Static_assert(sizeof(enum px_mod_mode) == sizeof(int) &&
		       sizeof(enum px_log_level) == sizeof(int),
	       "enum settings are stored as int");

/* PICTOR_* variables that are not settings: the test and build scripts'
 * own, ignored here so a shell that runs the tests can run the daemon. */
static const char *const not_settings[] = {
	"PICTOR_BIN", "PICTOR_CORPUS", "PICTOR_TIME_SCALE", "PICTOR_KEEP_DATA",
	"PICTOR_E2E_BLOB", "PICTOR_TEST_JOB_DELAY_MS", "PICTOR_TEST_JOB_GATE",
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

static bool *bool_field(struct px_config *c, const struct opt *o)
{
	return (bool *)((char *)c + o->off);
}

static int *enum_field(struct px_config *c, const struct opt *o)
{
	return (int *)((char *)c + o->off);
}

static size_t opt_index(const struct opt *o)
{
	return (size_t)(o - opts);
}

static int set_origin(struct px_config *c, const struct opt *o,
		      const char *origin)
{
	char *dup = strdup(origin);

	if (!dup)
		return PX_ENOMEM;
	free(c->origin[opt_index(o)]);
	c->origin[opt_index(o)] = dup;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *yes[] = {"true", "on", "yes", "1"};
	static const char *no[] = {"false", "off", "no", "0"};

	for (size_t i = 0; i < PX_ARRAY_LEN(yes); i++) {
		if (!strcasecmp(v, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(v, no[i])) {
			*out = false;
			return 0;
		}
	}
	return PX_EINVAL;
}

/* A non-negative integer with an optional unit from units[] (each with
 * its multiplier); no unit means a multiplier of 1. */
struct unit {
	const char *name;
	long mult;
};

static int parse_units(const char *v, const struct unit *units, size_t nunits,
		       long *out)
{
	char *end;
	long n;

	if (*v < '0' || *v > '9')
		return PX_EINVAL;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno)
		return PX_EINVAL;
	if (!*end) {
		*out = n;
		return 0;
	}
	for (size_t i = 0; i < nunits; i++) {
		if (strcasecmp(end, units[i].name))
			continue;
		if (n > LONG_MAX / units[i].mult)
			return PX_EINVAL;
		*out = n * units[i].mult;
		return 0;
	}
	return PX_EINVAL;
}

static const struct unit size_units[] = {
	{"B", 1},
	{"K", 1L << 10}, {"KB", 1L << 10}, {"KiB", 1L << 10},
	{"M", 1L << 20}, {"MB", 1L << 20}, {"MiB", 1L << 20},
	{"G", 1L << 30}, {"GB", 1L << 30}, {"GiB", 1L << 30},
	{"T", 1L << 40}, {"TB", 1L << 40}, {"TiB", 1L << 40},
};

static const struct unit time_units[] = {
	{"s", 1}, {"m", 60}, {"min", 60}, {"h", 3600}, {"d", 86400},
};

/* n in the unit that writes it shortest: 33554432 -> "32M", 90 -> "90s". */
static void fmt_units(char *out, size_t size, long n, enum opt_type t)
{
	static const struct unit sz[] = {{"T", 1L << 40}, {"G", 1L << 30},
					 {"M", 1L << 20}, {"K", 1L << 10}};
	static const struct unit tm[] = {{"d", 86400}, {"h", 3600}, {"m", 60}};
	const struct unit *u = t == OPT_SIZE ? sz : tm;
	size_t nu = t == OPT_SIZE ? PX_ARRAY_LEN(sz) : PX_ARRAY_LEN(tm);

	for (size_t i = 0; i < nu && n; i++) {
		if (n % u[i].mult == 0) {
			snprintf(out, size, "%ld%s", n / u[i].mult, u[i].name);
			return;
		}
	}
	snprintf(out, size, "%ld%s", n, t == OPT_SECONDS ? "s" : "");
}

static void add_choices(struct px_buf *b, const char *const *ch)
{
	for (int i = 0; ch[i]; i++)
		px_buf_addf(b, "%s%s", i ? (ch[i + 1] ? ", " : " or ") : "",
			    ch[i]);
}

/*
 * Set o from text v. who names the setting as the user wrote it, for
 * errors ("--max-side", "PICTOR_MAX_SIDE", "pictor.json:3: \"max_side\"");
 * origin is what `config --show-origin` shows.
 */
static int set_opt(struct px_config *c, const struct opt *o, const char *v,
		   const char *who, const char *origin, struct px_errbuf *eb)
{
	char lo[32], hi[32];
	const char *near;
	struct px_buf b;
	long n;
	int rc;

	switch (o->type) {
	case OPT_STR: {
		char *dup = strdup(v);

		if (!dup)
			return PX_ENOMEM;
		free(*str_field(c, o));
		*str_field(c, o) = dup;
		break;
	}
	case OPT_BOOL:
		if (parse_bool(v, bool_field(c, o)))
			return px_errf(eb, PX_EINVAL,
				       "%s: \"%.64s\" is not a boolean (accepted: on, off, true, false, yes, no, 1, 0)",
				       who, v);
		break;
	case OPT_ENUM:
		for (int i = 0; o->choices[i]; i++) {
			if (!strcmp(v, o->choices[i])) {
				*enum_field(c, o) = i;
				return set_origin(c, o, origin);
			}
		}
		px_buf_init(&b, 0);
		add_choices(&b, o->choices);
		for (n = 0; o->choices[n]; n++)
			;
		near = px_suggest(v, o->choices, (size_t)n);
		rc = px_errf(eb, PX_EINVAL, "%s: \"%.64s\" is not one of %s%s%s%s",
			     who, v, b.data ? (char *)b.data : "",
			     near ? "; did you mean \"" : "", near ? near : "",
			     near ? "\"?" : "");
		px_buf_release(&b);
		return rc;
	case OPT_LONG:
	case OPT_SIZE:
	case OPT_SECONDS:
		if (o->type == OPT_LONG) {
			char *end;

			errno = 0;
			n = strtol(v, &end, 10);
			rc = errno || end == v || *end ? PX_EINVAL : 0;
		} else if (o->type == OPT_SIZE) {
			rc = parse_units(v, size_units, PX_ARRAY_LEN(size_units), &n);
		} else {
			rc = parse_units(v, time_units, PX_ARRAY_LEN(time_units), &n);
		}
		if (!rc && n >= o->min && n <= o->max) {
			*long_field(c, o) = n;
			break;
		}
		if (o->type == OPT_LONG)
			return px_errf(eb, PX_EINVAL,
				       "%s: \"%.64s\" is not an integer from %ld to %ld",
				       who, v, o->min, o->max);
		fmt_units(lo, sizeof(lo), o->min, o->type);
		fmt_units(hi, sizeof(hi), o->max, o->type);
		return px_errf(eb, PX_EINVAL,
			       o->type == OPT_SIZE
				       ? "%s: \"%.64s\" is not a size from %s to %s (bytes, or with a unit: 64K, 32M, 10G)"
				       : "%s: \"%.64s\" is not a duration from %s to %s (seconds, or with a unit: 30s, 5m, 2h, 1d)",
			       who, v, lo, hi);
	}
	return set_origin(c, o, origin);
}

/* Flags that add to their earlier values when given again. */
static bool is_list(const struct opt *o)
{
	return o->off == offsetof(struct px_config, rate_limits) ||
	       o->off == offsetof(struct px_config, token_rate_limits);
}

static const struct opt *find_opt(const char *name, size_t n, int by)
{
	for (size_t i = 0; i < PX_ARRAY_LEN(opts); i++) {
		const char *k = by == 0 ? opts[i].flag : by == 1 ? opts[i].env
							: opts[i].key;

		if (k && strlen(k) == n && !strncmp(k, name, n))
			return &opts[i];
	}
	return NULL;
}

/* "; did you mean X?" for word among the flags (by 0, with "--"), the
 * variables (1) or the file keys (2), plus extra; "" when nothing is near. */
static void did_you_mean(char *out, size_t size, const char *word, int by,
			 const char *const *extra)
{
	const char *cands[PX_CONFIG_MAX_OPTS + 32];
	char flags[PX_CONFIG_MAX_OPTS][64];
	const char *best;
	size_t n = 0;

	for (size_t i = 0; i < PX_ARRAY_LEN(opts); i++) {
		if (by == 0) {
			snprintf(flags[i], sizeof(flags[i]), "--%s", opts[i].flag);
			cands[n++] = flags[i];
		} else {
			cands[n++] = by == 1 ? opts[i].env : opts[i].key;
		}
	}
	if (by == 2)
		cands[n++] = "variants";
	for (size_t i = 0; extra && extra[i] && n < PX_ARRAY_LEN(cands); i++)
		cands[n++] = extra[i];
	best = px_suggest(word, cands, n);
	if (best)
		snprintf(out, size, "; did you mean \"%s\"?", best);
	else
		*out = '\0';
}

static int add_variant(struct px_config *c, const char *name, const char *o,
		       const char *origin)
{
	struct px_named_variant *v = NULL;

	for (int i = 0; i < c->n_variants; i++)
		if (!strcmp(c->variants[i].name, name))
			v = &c->variants[i];
	if (!v) {
		if (c->n_variants == PX_MAX_NAMED_VARIANTS)
			return PX_ETOOBIG;
		v = &c->variants[c->n_variants++];
		if (!(v->name = strdup(name)))
			return PX_ENOMEM;
	}
	free(v->options);
	free(v->origin);
	v->options = strdup(o);
	v->origin = strdup(origin);
	return v->options && v->origin ? 0 : PX_ENOMEM;
}

/*
 * The line of a key in JSON text: a key at the top level (parent NULL)
 * or inside the object that top-level key parent holds. 0 when not found.
 * jansson reports no positions for values, so the text is scanned for
 * them; the text was already parsed, so it is valid JSON.
 */
static int key_line(const char *text, size_t len, const char *parent,
		    const char *key)
{
	int depth = 0, line = 1, str_line = 0;
	bool in_parent = false;
	const char *str = NULL;
	size_t nstr = 0;

	for (size_t i = 0; i < len; i++) {
		char ch = text[i];

		if (ch == '\n')
			line++;
		if (ch == '"') {
			size_t j = i + 1;

			while (j < len && text[j] != '"')
				j += text[j] == '\\' ? 2 : 1;
			str = text + i + 1;
			nstr = j - i - 1;
			str_line = line;
			i = j;
			continue;
		}
		if (ch == ':' && str) {
			bool match = strlen(key) == nstr && !strncmp(str, key, nstr);

			if (depth == 1 && parent)
				in_parent = strlen(parent) == nstr &&
					    !strncmp(str, parent, nstr);
			if (match && ((depth == 1 && !parent) ||
				      (depth == 2 && in_parent)))
				return str_line;
		} else if (ch == '{' || ch == '[') {
			depth++;
		} else if (ch == '}' || ch == ']') {
			depth--;
		}
		if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n')
			str = NULL;
	}
	return 0;
}

static int read_text(const char *path, struct px_buf *out, struct px_errbuf *eb)
{
	char chunk[8192];
	FILE *f = fopen(path, "rb");
	size_t n;
	int rc = 0;

	if (!f)
		return px_errf(eb, PX_EINVAL, "cannot read configuration file \"%s\": %s",
			       path, strerror(errno));
	while (!rc && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = px_buf_add(out, chunk, n);
	if (rc == PX_ETOOBIG)
		rc = px_errf(eb, PX_EINVAL, "configuration file \"%s\" is over 1 MiB", path);
	else if (!rc && ferror(f))
		rc = px_errf(eb, PX_EINVAL, "cannot read configuration file \"%s\"", path);
	fclose(f);
	return rc;
}

/* The text form of a file value, into num (for numbers and booleans) or
 * as a borrowed string; NULL for a value of the wrong JSON type. */
static const char *file_text(const struct opt *o, json_t *v, char *num,
			     size_t nnum)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v) && o->type != OPT_STR && o->type != OPT_ENUM) {
		snprintf(num, nnum, "%lld", (long long)json_integer_value(v));
		return num;
	}
	if (json_is_boolean(v) && o->type == OPT_BOOL)
		return json_is_true(v) ? "true" : "false";
	return NULL;
}

static const char *json_type_name(json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a real number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

static const char *want_type(const struct opt *o)
{
	switch (o->type) {
	case OPT_BOOL: return "true or false";
	case OPT_LONG: return "an integer";
	case OPT_SIZE: return "a number of bytes or a string such as \"32M\"";
	case OPT_SECONDS: return "a number of seconds or a string such as \"30s\"";
	default: return "a string";
	}
}

static int file_keys(struct px_config *c, const char *path, const char *text,
		     size_t len, json_t *v, struct px_errbuf *eb);

static int load_file(struct px_config *c, const char *path,
		     struct px_errbuf *eb)
{
	json_error_t jerr;
	json_t *root = NULL;
	struct px_buf text;
	int rc;

	px_buf_init(&text, 1 << 20);
	if ((rc = read_text(path, &text, eb)))
		goto out;
	root = json_loadb(text.data ? (char *)text.data : "", text.len,
			  JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		rc = px_errf(eb, PX_EINVAL, "%s:%d: %s", path, jerr.line, jerr.text);
		goto out;
	}
	if (!json_is_object(root)) {
		rc = px_errf(eb, PX_EINVAL, "%s: not a JSON object", path);
		goto out;
	}
	rc = file_keys(c, path, (char *)text.data, text.len, root, eb);
out:
	json_decref(root);
	px_buf_release(&text);
	return rc;
}

static int file_variants(struct px_config *c, const char *path,
			 const char *text, size_t len, json_t *v,
			 struct px_errbuf *eb)
{
	const char *name;
	char where[4200];
	json_t *o;
	int rc;

	if (!json_is_object(v))
		return px_errf(eb, PX_EINVAL,
			       "%s:%d: \"variants\" must be an object of name: \"options\"",
			       path, key_line(text, len, NULL, "variants"));
	json_object_foreach(v, name, o) {
		snprintf(where, sizeof(where), "%s:%d", path,
			 key_line(text, len, "variants", name));
		if (!json_is_string(o))
			return px_errf(eb, PX_EINVAL,
				       "%s: variant \"%.64s\" must be an option string such as \"w=200,f=auto\", not %s",
				       where, name, json_type_name(o));
		if ((rc = add_variant(c, name, json_string_value(o), where)))
			return rc == PX_ETOOBIG
				       ? px_errf(eb, PX_EINVAL, "%s: more than %d variants",
						 where, PX_MAX_NAMED_VARIANTS)
				       : rc;
	}
	return 0;
}

static int file_keys(struct px_config *c, const char *path, const char *text,
		     size_t len, json_t *root, struct px_errbuf *eb)
{
	const char *key;
	json_t *v;
	int rc;

	json_object_foreach(root, key, v) {
		const struct opt *o = find_opt(key, strlen(key), 2);
		char where[4200], who[4300], num[32], hint[160];
		const char *t;

		snprintf(where, sizeof(where), "%s:%d", path,
			 key_line(text, len, NULL, key));
		if (!strcmp(key, "variants")) {
			if ((rc = file_variants(c, path, text, len, v, eb)))
				return rc;
			continue;
		}
		if (!o) {
			did_you_mean(hint, sizeof(hint), key, 2, NULL);
			return px_errf(eb, PX_EINVAL, "%s: unknown key \"%.64s\"%s",
				       where, key, hint);
		}
		snprintf(who, sizeof(who), "%s: \"%s\"", where, key);
		if (json_is_array(v) && !strcmp(key, "signing_keys")) {
			struct px_buf b;
			size_t j;
			json_t *e;

			px_buf_init(&b, 4096);
			json_array_foreach(v, j, e) {
				if (!json_is_string(e)) {
					px_buf_release(&b);
					return px_errf(eb, PX_EINVAL,
						       "%s: must hold strings", who);
				}
				if (j)
					px_buf_add(&b, ",", 1);
				px_buf_adds(&b, json_string_value(e));
			}
			rc = set_opt(c, o, b.data ? (char *)b.data : "", who,
				     where, eb);
			px_buf_release(&b);
			if (rc)
				return rc;
			continue;
		}
		if (!(t = file_text(o, v, num, sizeof(num))))
			return px_errf(eb, PX_EINVAL, "%s: must be %s, not %s",
				       who, want_type(o), json_type_name(v));
		if ((rc = set_opt(c, o, t, who, where, eb)))
			return rc;
	}
	return 0;
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

static int load_env(struct px_config *c, struct px_errbuf *eb)
{
	char who[128], hint[160];
	int rc;

	for (size_t i = 0; i < PX_ARRAY_LEN(opts); i++) {
		const char *v = getenv(opts[i].env);

		snprintf(who, sizeof(who), "env %s", opts[i].env);
		if (v && *v &&
		    (rc = set_opt(c, &opts[i], v, opts[i].env, who, eb)))
			return rc;
	}
	for (char **e = environ; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
		bool known = false;

		if (strncmp(*e, "PICTOR_", 7))
			continue;
		known = find_opt(*e, n, 1) != NULL;
		for (size_t i = 0; !known && i < PX_ARRAY_LEN(not_settings); i++)
			known = strlen(not_settings[i]) == n &&
				!strncmp(*e, not_settings[i], n);
		if (known)
			continue;
		snprintf(who, sizeof(who), "%.*s", (int)PX_MIN(n, 100), *e);
		did_you_mean(hint, sizeof(hint), who, 1, NULL);
		return px_errf(eb, PX_EINVAL,
			       "unknown environment variable %s%s (unset it; \"pictor serve --help\" lists the PICTOR_* settings)",
			       who, hint);
	}
	return 0;
}

static int load_flags(struct px_config *c, int argc, char **argv,
		      const char *const *cmd_flags, const char **rest,
		      int *nrest, int max_rest, struct px_errbuf *eb)
{
	bool seen[PX_ARRAY_LEN(opts)] = {false};
	char who[128], origin[140], hint[160];
	int rc;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *eq, *val;
		const struct opt *o;

		if (a[0] != '-' || !a[1]) {
			if (*nrest == max_rest)
				return px_errf(eb, PX_EINVAL,
					       "unexpected argument \"%.200s\"", a);
			rest[(*nrest)++] = a;
			continue;
		}
		eq = strchr(a, '=');
		o = a[1] == '-' ? find_opt(a + 2, eq ? (size_t)(eq - a - 2)
						     : strlen(a + 2), 0)
				: NULL;
		if (!o) {
			snprintf(who, sizeof(who), "%.*s",
				 (int)(eq ? PX_MIN(eq - a, 100) : 100), a);
			did_you_mean(hint, sizeof(hint), who, 0, cmd_flags);
			return px_errf(eb, PX_EINVAL, "unknown option \"%s\"%s",
				       who, hint);
		}
		if (eq) {
			val = eq + 1;
		} else {
			if (i + 1 >= argc)
				return px_errf(eb, PX_EINVAL,
					       "option \"--%s\" needs a value",
					       o->flag);
			val = argv[++i];
		}
		snprintf(who, sizeof(who), "--%s", o->flag);
		snprintf(origin, sizeof(origin), "flag --%s", o->flag);
		if (is_list(o) && seen[o - opts] && *str_field(c, o)) {
			/* a repeated list flag adds to the earlier ones */
			char *joined;

			if (asprintf(&joined, "%s,%s", *str_field(c, o), val) < 0)
				return PX_ENOMEM;
			rc = set_opt(c, o, joined, who, origin, eb);
			free(joined);
		} else {
			rc = set_opt(c, o, val, who, origin, eb);
		}
		if (rc)
			return rc;
		seen[o - opts] = true;
	}
	return 0;
}

/* Values that are wrong only together, or wrong in form beyond type. */
static int check(struct px_config *c, struct px_errbuf *eb)
{
	const char *colon = strrchr(c->listen, ':');
	char *end;
	long port;

	port = colon ? strtol(colon + 1, &end, 10) : -1;
	if (!colon || colon == c->listen || end == colon + 1 || *end ||
	    port < 0 || port > 65535)
		return px_errf(eb, PX_EINVAL,
			       "%s: listen \"%.200s\" is not HOST:PORT (e.g. 127.0.0.1:8080, [::1]:8080, 0.0.0.0:0)",
			       px_config_origin(c, "listen"), c->listen);
	if (!*c->data)
		return px_errf(eb, PX_EINVAL, "%s: data must not be empty",
			       px_config_origin(c, "data"));
	if (strcmp(c->meta, "lmdb") && strncmp(c->meta, "postgres://", 11) &&
	    strncmp(c->meta, "postgresql://", 13) && !strchr(c->meta, '='))
		return px_errf(eb, PX_EINVAL,
			       "%s: meta is neither lmdb nor a PostgreSQL connection URI (postgres://USER@HOST/DB)",
			       px_config_origin(c, "meta"));
	if (strcmp(c->blob, "file") && strncmp(c->blob, "s3://", 5))
		return px_errf(eb, PX_EINVAL,
			       "%s: blob \"%.200s\" is neither file nor s3://BUCKET[/PREFIX][?endpoint=URL&region=R&path_style=1]",
			       px_config_origin(c, "blob"), c->blob);
	if (c->webhook_url && (!c->webhook_secret || !*c->webhook_secret))
		return px_errf(eb, PX_EINVAL,
			       "%s: webhook_url needs webhook_secret too (--webhook-secret, PICTOR_WEBHOOK_SECRET or \"webhook_secret\" in the file)",
			       px_config_origin(c, "webhook_url"));
	return 0;
}

int px_config_load_cmd(struct px_config *c, int argc, char **argv,
		       const char *const *cmd_flags, const char **rest,
		       int *nrest, struct px_errbuf *eb)
{
	const char *cfgfile = getenv("PICTOR_CONFIG");
	const char *cfgwho = "env PICTOR_CONFIG";
	int rc, max_rest = *nrest;

	memset(c, 0, sizeof(*c));
	*nrest = 0;
	for (size_t i = 0; i < PX_ARRAY_LEN(opts); i++)
		if (opts[i].def &&
		    (rc = set_opt(c, &opts[i], opts[i].def, "default", "default", eb)))
			return rc;
	for (size_t i = 0; i < PX_ARRAY_LEN(default_variants); i++)
		if ((rc = add_variant(c, default_variants[i][0],
				      default_variants[i][1], "default")))
			return rc;

	/* The file comes first, so find --config before anything else. */
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			cfgfile = argv[i + 1], cfgwho = "flag --config";
		else if (!strncmp(argv[i], "--config=", 9))
			cfgfile = argv[i] + 9, cfgwho = "flag --config";
	}
	if (cfgfile && *cfgfile) {
		if ((rc = set_opt(c, &opts[0], cfgfile, cfgwho, cfgwho, eb)))
			return rc;
		if ((rc = load_file(c, cfgfile, eb)))
			return rc;
	}
	if ((rc = load_env(c, eb)))
		return rc;
	if ((rc = load_flags(c, argc, argv, cmd_flags, rest, nrest, max_rest, eb)))
		return rc;
	if ((rc = check(c, eb)))
		return rc;
	return split_keys(c, eb);
}

int px_config_load(struct px_config *c, int argc, char **argv,
		   const char **rest, int *nrest, struct px_errbuf *eb)
{
	return px_config_load_cmd(c, argc, argv, NULL, rest, nrest, eb);
}

const char *px_config_origin(const struct px_config *c, const char *key)
{
	const struct opt *o = find_opt(key, strlen(key), 2);

	if (!o)
		o = find_opt(key, strlen(key), 0);
	if (!o)
		return NULL;
	return c->origin[opt_index(o)] ? c->origin[opt_index(o)] : "default";
}

void px_config_how(const char *key, char *out, size_t n)
{
	const struct opt *o = find_opt(key, strlen(key), 2);

	if (!o)
		o = find_opt(key, strlen(key), 0);
	if (!o)
		snprintf(out, n, "\"%s\"", key);
	else if (!o->key)
		snprintf(out, n, "--%s or %s", o->flag, o->env);
	else
		snprintf(out, n, "--%s, %s or \"%s\" in the configuration file",
			 o->flag, o->env, o->key);
}

int px_config_set_str(struct px_config *c, const char *key, const char *value)
{
	const struct opt *o = find_opt(key, strlen(key), 2);
	char *dup;

	PX_ASSERT(o && o->type == OPT_STR);
	if (!(dup = strdup(value)))
		return PX_ENOMEM;
	free(*str_field(c, o));
	*str_field(c, o) = dup;
	return 0;
}

int px_config_make_data(const struct px_config *c, struct px_errbuf *eb)
{
	char path[4096];
	size_t n = strlen(c->data);

	if (n >= sizeof(path))
		return px_errf(eb, PX_EINVAL, "data directory path is too long");
	memcpy(path, c->data, n + 1);
	/* Each parent in turn, then the directory itself (mkdir -p). */
	for (size_t i = 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0700) && errno != EEXIST) {
			int err = errno;

			px_errf(eb, PX_EIO,
				"cannot create data directory \"%s\": \"%s\": %s "
				"(create it with \"mkdir -p %s\" as a user that may, or choose another with --data or PICTOR_DATA)",
				c->data, path, strerror(err), c->data);
			return PX_EIO;
		}
		path[i] = i == n ? '\0' : '/';
	}
	return 0;
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
			return px_errc(eb, PX_ENOTFOUND, "no_secrets",
				       "no secrets file \"%s\" (data directory from %s; "
				       "\"pictor serve\" creates it on its first start)",
				       path, px_config_origin(c, "data"));
		if ((rc = px_config_make_data(c, eb)))
			return rc;
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

/*
 * A connection string with its password masked: the PASSWORD of
 * scheme://USER:PASSWORD@HOST and the value of every "password=" (URI
 * query or key=value form).
 */
static json_t *masked_conninfo(const char *v)
{
	const char *scheme = strstr(v, "://"), *at, *colon, *p;
	struct px_buf b;
	json_t *j;

	px_buf_init(&b, 0);
	p = v;
	if (scheme && (at = strchr(scheme + 3, '@')) &&
	    (colon = memchr(scheme + 3, ':', (size_t)(at - scheme - 3)))) {
		px_buf_add(&b, v, (size_t)(colon + 1 - v));
		px_buf_adds(&b, "***");
		p = at;
	}
	while (*p) {
		const char *pw = strstr(p, "password=");
		size_t n;

		if (!pw) {
			px_buf_adds(&b, p);
			break;
		}
		px_buf_add(&b, p, (size_t)(pw + 9 - p));
		px_buf_adds(&b, "***");
		p = pw + 9;
		/* a quoted key=value value, or up to the next separator */
		if (*p == '\'') {
			for (p++; *p && *p != '\''; p++)
				if (*p == '\\' && p[1])
					p++;
			p += *p == '\'';
		} else {
			n = strcspn(p, "& ");
			p += n;
		}
	}
	j = json_stringn(b.data ? (char *)b.data : "", b.len);
	px_buf_release(&b);
	return j;
}

/* The value of row o as JSON (secrets masked). */
static json_t *opt_json(const struct px_config *c, const struct opt *o)
{
	struct px_config *m = (struct px_config *)c;
	const char *v;

	switch (o->type) {
	case OPT_LONG:
	case OPT_SIZE:
	case OPT_SECONDS:
		return json_integer(*long_field(m, o));
	case OPT_BOOL:
		return json_boolean(*bool_field(m, o));
	case OPT_ENUM:
		return json_string(o->choices[*enum_field(m, o)]);
	case OPT_STR:
		break;
	}
	v = *str_field(m, o);
	if (v && o->off == offsetof(struct px_config, meta))
		return masked_conninfo(v);
	return !v ? json_null() : json_string(o->secret ? "***" : v);
}

int px_config_dump(const struct px_config *c, struct px_buf *out)
{
	json_t *root = json_object(), *keys = json_array(), *vars = json_object();
	char *text;
	int rc = 0;

	for (size_t i = 0; i < PX_ARRAY_LEN(opts); i++) {
		const struct opt *o = &opts[i];

		if (o->off == offsetof(struct px_config, signing_keys_csv))
			continue;
		json_object_set_new(root, o->key ? o->key : "config",
				    opt_json(c, o));
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

int px_config_dump_origins(const struct px_config *c, struct px_buf *out)
{
	for (size_t i = 0; i < PX_ARRAY_LEN(opts); i++) {
		const struct opt *o = &opts[i];
		json_t *v = opt_json(c, o);
		char *text = json_dumps(v, JSON_ENCODE_ANY);

		if (o->off == offsetof(struct px_config, signing_keys_csv) &&
		    c->n_signing_keys) {
			free(text);
			text = strdup("\"***\"");
		}
		px_buf_addf(out, "%s\t%s=%s\n",
			    c->origin[i] ? c->origin[i] : "default",
			    o->key ? o->key : "config", text ? text : "null");
		free(text);
		json_decref(v);
	}
	for (int i = 0; i < c->n_variants; i++) {
		px_buf_addf(out, "%s\tvariants.%s=", c->variants[i].origin,
			    c->variants[i].name);
		px_json_quote(out, c->variants[i].options);
		px_buf_adds(out, "\n");
	}
	return out->data ? 0 : PX_ENOMEM;
}

void px_config_usage(FILE *f)
{
	for (size_t i = 0; i < PX_ARRAY_LEN(opts); i++) {
		static const char *arg[] = {"VALUE", "N", "on|off", "", "SIZE", "DURATION"};
		char flag[96], ch[64] = "";
		const struct opt *o = &opts[i];

		if (o->type == OPT_ENUM)
			for (int k = 0; o->choices[k]; k++)
				snprintf(ch + strlen(ch), sizeof(ch) - strlen(ch),
					 "%s%s", k ? "|" : "", o->choices[k]);
		snprintf(flag, sizeof(flag), "--%s %s", o->flag,
			 o->type == OPT_ENUM ? ch : arg[o->type]);
		fprintf(f, "  %-36s %s [%s%s%s]\n", flag, o->help, o->env,
			o->def ? ", default " : "", o->def ? o->def : "");
	}
}

void px_config_release(struct px_config *c)
{
	for (size_t i = 0; i < PX_ARRAY_LEN(opts); i++) {
		if (opts[i].type == OPT_STR)
			free(*str_field(c, &opts[i]));
		free(c->origin[i]);
	}
	for (int i = 0; i < c->n_signing_keys; i++)
		free(c->signing_keys[i]);
	for (int i = 0; i < c->n_variants; i++) {
		free(c->variants[i].name);
		free(c->variants[i].options);
		free(c->variants[i].origin);
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
