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

#define PX_MAX_KEYS 16
#define PX_MAX_NAMED_VARIANTS 128

struct px_named_variant {
	char *name;
	char *options;
};

struct px_config {
	char *config_file;
	char *listen;
	char *data;
	char *public_url;
	char *log_level;
	char *admin_token;
	char *signing_keys_csv; /* as given; split into signing_keys */
	long workers;
	long queue;
	long http_threads;
	long max_upload_bytes;
	long upload_memory;
	long max_pixels;
	long max_side;
	long max_frames;
	long conn_timeout;
	long per_ip_conns;
	long conn_memory;
	long drain_timeout;
	long scrub_rate; /* bytes/s; 0: no background scrub */
	long max_output;
	char *trusted_proxies; /* CIDR list whose forwarded headers count */
	char *rate_limits;     /* CLASS=RATE/s:BURST,... */
	long max_clients;      /* rate-limit buckets held */
	long max_conns;
	long header_timeout;
	long min_send_rate;
	char *hotlink_allow;   /* HOST,*.HOST,... */
	char *hotlink_require_referer; /* "on" or "off" */
	char *rules_file;
	char *flexible_variants;  /* "on" or "off" */
	char *flexible_options;   /* allow-list; empty: every option */
	char *moderation;         /* "on" or "off" */
	char *moderation_mode;    /* "sync" or "async" */
	char *moderation_blocked; /* "refuse" or "quarantine" */
	char *moderation_policy;  /* rules text (moderation/policy.h) */
	char *moderation_preprocess; /* "default" or "nsfwjs" */
	char *moderation_placeholder; /* "on": blurred stand-in, not 403 */
	char *cors_origins;      /* direct upload: allowed browser origins */
	char *fetch_allow;       /* upload from URL: CIDRs let through */
	char *fetch_deny;        /* upload from URL: CIDRs added to the deny list */
	long fetch_timeout;
	char *models;
	char *webhook_url;
	char *webhook_secret;
	long moderation_frames;   /* frames classified in full per image */
	long audit_retention_days; /* 0: keep the audit log forever */
	long cache_memory;  /* bytes; 0: no memory tier */
	long cache_disk;    /* bytes; 0: no disk tier */
	char *cache_policy; /* "sieve" or "lru" */
	long browser_ttl;   /* seconds in Cache-Control max-age */
	char *account_id;   /* NULL: /accounts/{any}/images/... */
	char *account_hash; /* NULL: no /{account_hash}/{id}/{variant} form */

	char *signing_keys[PX_MAX_KEYS];
	int n_signing_keys;
	struct px_named_variant variants[PX_MAX_NAMED_VARIANTS];
	int n_variants;
};

/*
 * Fill cfg from defaults, file, environment and argv (flags only; argv[0]
 * is not skipped, so pass the arguments after the subcommand). Positional
 * arguments are returned in *rest (borrowed pointers into argv, at most
 * *nrest on entry; the count on exit). Unknown flags fail with a message.
 */
int px_config_load(struct px_config *cfg, int argc, char **argv,
		   const char **rest, int *nrest, struct px_errbuf *eb);

/* Read <data>/secrets.json, creating it (mode 0600) with a fresh admin
 * token and signing key if absent; values already set in cfg win.
 * *created is set when the file was written now. */
int px_config_secrets(struct px_config *cfg, bool create, bool *created,
		      struct px_errbuf *eb);

/* Path of the secrets file for cfg, into out. */
void px_config_secrets_path(const struct px_config *cfg, char *out, size_t n);

/* The configuration as JSON with secrets masked, appended to out. */
int px_config_dump(const struct px_config *cfg, struct px_buf *out);

/* Describe every flag, one per line, for --help output. */
void px_config_usage(FILE *f);

void px_config_release(struct px_config *cfg);

/* Named variant options, or NULL. */
const char *px_config_variant(const struct px_config *cfg, const char *name);

#endif
