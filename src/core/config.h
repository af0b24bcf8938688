/*
 * config.h - the effective configuration: defaults, then a JSON file,
 * then PICTOR_* environment variables, then command-line flags.
 *
 * One table in config.c describes every setting once (flag, environment
 * name, file key, type, default), so the three sources cannot drift.
 * A loaded struct px_config is immutable and shared read-only.
 */
#ifndef PX_CONFIG_H
#define PX_CONFIG_H

#include "core/buf.h"
#include "core/log.h"

#define PX_MAX_KEYS 16
#define PX_MAX_NAMED_VARIANTS 128
#define PX_CONFIG_MAX_OPTS 96 /* rows of the settings table */

struct px_named_variant {
	char *name;
	char *options;
	char *origin; /* "default" or "FILE:LINE" */
};

/* Settings with a fixed set of values are parsed once into these. */
enum px_mod_mode { PX_MOD_SYNC, PX_MOD_ASYNC };
enum px_mod_blocked { PX_MOD_REFUSE, PX_MOD_QUARANTINE };
enum px_mod_preprocess { PX_MOD_PREPROCESS_DEFAULT, PX_MOD_PREPROCESS_NSFWJS };
enum px_cfg_cache_policy { PX_CFG_CACHE_SIEVE, PX_CFG_CACHE_LRU };
enum px_cfg_console_thumbs { PX_CFG_THUMBS_UPLOAD, PX_CFG_THUMBS_LAZY };

struct px_config {
	char *config_file;
	char *listen;
	char *data;
	char *meta; /* "lmdb" or a PostgreSQL connection URI */
	char *blob; /* "file" or an s3:// location (store/s3loc.h) */
	char *s3_access_key_id; /* NULL: AWS_ACCESS_KEY_ID */
	char *s3_secret_access_key; /* NULL: AWS_SECRET_ACCESS_KEY */
	char *s3_session_token; /* NULL: AWS_SESSION_TOKEN */
	char *public_url;
	enum px_log_level log_level;
	char *admin_token;
	char *signing_keys_csv; /* as given; split into signing_keys */
	long workers;
	long queue;
	long http_threads;
	long max_upload_bytes; /* sizes in bytes ("32M" accepted) */
	long upload_memory;
	long max_pixels;
	long max_side;
	long max_frames;
	long conn_timeout; /* durations in seconds ("2m" accepted) */
	long per_ip_conns;
	long conn_memory;
	long drain_timeout;
	long scrub_rate; /* bytes/s; 0: no background scrub */
	long scrub_interval; /* seconds from one pass's start to the next's */
	long max_output;
	long max_output_cost; /* output pixels x frames of one render */
	long render_timeout;  /* seconds one render may take; 0: unbounded */
	long refusal_delay_ms; /* a 429 is held back this long; 0: sent at once */
	char *trusted_proxies; /* CIDR list whose forwarded headers count */
	char *rate_limits;     /* CLASS=RATE/s:BURST,... */
	char *token_rate_limits; /* the same, per scoped token */
	long max_clients;      /* rate-limit buckets held */
	long queue_per_client; /* image jobs one client may have waiting */
	long client_workers;   /* workers one network may hold; -1: all but one */
	long max_conns;
	long header_timeout;
	long min_send_rate;
	long send_memory;     /* response bytes held for slow readers */
	char *hotlink_allow;   /* HOST,*.HOST,... */
	bool hotlink_require_referer;
	char *rules_file;
	bool flexible_variants;   /* options in URLs allowed */
	char *flexible_options;   /* allow-list; empty: every option */
	bool moderation;          /* classify uploads */
	bool pdq;                 /* PDQ-hash uploads (hash lists, similar) */
	enum px_mod_mode moderation_mode;
	enum px_mod_blocked moderation_blocked;
	char *moderation_policy;  /* rules text (moderation/policy.h) */
	enum px_mod_preprocess moderation_preprocess;
	bool moderation_placeholder; /* blurred stand-in, not 403 */
	long unavailable_status; /* anonymous answer for unavailable images */
	char *cors_origins;      /* direct upload: allowed browser origins */
	char *fetch_allow;       /* upload from URL: CIDRs let through */
	char *fetch_deny;        /* upload from URL: CIDRs added to the deny list */
	long fetch_timeout;
	char *models;
	char *webhook_url;
	char *webhook_secret;
	long webhook_timeout;     /* seconds per webhook POST */
	long lease_time;          /* seconds a claim on background work lasts */
	long webhook_attempts;    /* attempts before a dead letter */
	long moderation_frames;   /* frames classified in full per image */
	long reclassify_share;    /* percent of one core for reclassify jobs */
	long audit_retention_days; /* 0: keep the audit log forever */
	long cache_memory;  /* bytes; 0: no memory tier */
	long record_cache;  /* bytes of records kept when meta is remote */
	long cache_disk;    /* bytes; 0: no disk tier */
	enum px_cfg_cache_policy cache_policy;
	long cache_wait;    /* seconds a coalesced request waits */
	long browser_ttl;   /* seconds in Cache-Control max-age */
	long malloc_arenas; /* glibc malloc arenas; 0: glibc's default */
	char *account_id;   /* NULL: /accounts/{any}/images/... */
	char *account_hash; /* NULL: no /{account_hash}/{id}/{variant} form */
	bool console;             /* the admin console at /admin */
	long console_session_ttl; /* seconds a console session lasts */
	enum px_cfg_console_thumbs console_thumbnails; /* grid thumbnails */

	char *signing_keys[PX_MAX_KEYS];
	int n_signing_keys;
	struct px_named_variant variants[PX_MAX_NAMED_VARIANTS];
	int n_variants;

	/* Where each setting came from, by table row: "default",
	 * "FILE:LINE", "env PICTOR_X" or "flag --x" (owned). */
	char *origin[PX_CONFIG_MAX_OPTS];
};

/*
 * Fill cfg from defaults, file, environment and argv (flags only; argv[0]
 * is not skipped, so pass the arguments after the subcommand). Positional
 * arguments are returned in *rest (borrowed pointers into argv, at most
 * *nrest on entry; the count on exit).
 *
 * Nothing unknown passes silently: an unknown file key, PICTOR_* variable
 * or flag, and a value of the wrong form, fail with PX_EINVAL and a
 * message naming the setting as the user wrote it (FILE:LINE and key,
 * variable or flag) and, for a likely typo, the nearest known name.
 * Booleans take true/false/on/off/yes/no/1/0 (and JSON booleans); sizes
 * take K, M, G, T suffixes (binary); durations s, m, h, d.
 * On failure cfg still needs px_config_release().
 */
int px_config_load(struct px_config *cfg, int argc, char **argv,
		   const char **rest, int *nrest, struct px_errbuf *eb);

/* The same, where the command takes flags of its own besides the
 * settings (already removed from argv): cmd_flags (NULL-terminated, with
 * their "--") are offered as suggestions for unknown flags. */
int px_config_load_cmd(struct px_config *cfg, int argc, char **argv,
		       const char *const *cmd_flags, const char **rest,
		       int *nrest, struct px_errbuf *eb);

/* Where the setting with file key (or flag name) came from: "default",
 * "FILE:LINE", "env PICTOR_X" or "flag --x"; NULL for an unknown key. */
const char *px_config_origin(const struct px_config *cfg, const char *key);

/* How the user changes a setting, for error messages:
 * "--listen, PICTOR_LISTEN or \"listen\" in the configuration file". */
void px_config_how(const char *key, char *out, size_t n);

/* Set a string setting to a value derived at start-up (resolved
 * defaults such as the public URL); the origin is kept. */
int px_config_set_str(struct px_config *cfg, const char *key,
		      const char *value);

/* Create the data directory and any missing parents (mode 0700). */
int px_config_make_data(const struct px_config *cfg, struct px_errbuf *eb);


/* Read <data>/secrets.json, creating it (mode 0600) with a fresh admin
 * token and signing key if absent; values already set in cfg win.
 * *created is set when the file was written now. */
int px_config_secrets(struct px_config *cfg, bool create, bool *created,
		      struct px_errbuf *eb);

/* Path of the secrets file for cfg, into out. */
void px_config_secrets_path(const struct px_config *cfg, char *out, size_t n);

/* The configuration as JSON with secrets masked, appended to out. */
int px_config_dump(const struct px_config *cfg, struct px_buf *out);

/* One line per setting, "ORIGIN<TAB>key=value" (as git config
 * --show-origin), secrets masked, appended to out. */
int px_config_dump_origins(const struct px_config *cfg, struct px_buf *out);

/* Describe every flag, one per line, for --help output. */
void px_config_usage(FILE *f);

void px_config_release(struct px_config *cfg);

/* Named variant options, or NULL. */
const char *px_config_variant(const struct px_config *cfg, const char *name);

#endif
