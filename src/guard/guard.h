/*
 * guard.h - volumetric protection: who the client is, how much it may
 * ask for, and which requests are refused outright.
 *
 * One struct px_guard lives for the process. It owns the trusted-proxy
 * list, the rate of each request class, the token-bucket table
 * (limit.h), the rules (rules.h), the hotlink allow-list and the
 * protection counters; others call its operations. It knows nothing of
 * HTTP: the caller hands it a struct px_guard_req describing a request
 * and keeps a struct px_guard_ticket per request.
 *
 * Request classes: `upload` (POST /v1/images), `api` (the rest of /v1/),
 * `render` (a delivery that needs a worker) and `hit` (a delivery
 * answered without one). Rules may add classes of their own.
 */
#ifndef PX_GUARD_H
#define PX_GUARD_H

#include "core/buf.h"
#include "core/metrics.h"
#include "guard/addr.h"
#include "guard/limit.h"

enum px_class {
	PX_CLASS_UPLOAD,
	PX_CLASS_API,
	PX_CLASS_RENDER,
	PX_CLASS_HIT,
	PX_NCLASSES,
	PX_CLASS_NONE = -1, /* never limited (health, metrics) */
};

#define PX_GUARD_MAX_CLASSES 64 /* built-in plus rule classes */

/* "upload", "api", "render", "hit". */
const char *px_class_name(int cls);

/* The built-in defaults (docs/SECURITY.md says why), per client and per
 * scoped token (only upload and api apply to tokens). */
extern const struct px_rate px_rate_defaults[PX_NCLASSES];
extern const struct px_rate px_token_rate_defaults[PX_NCLASSES];

/* Apply "CLASS=RATE/s:BURST,..." (RATE may end in /s or /m; RATE 0
 * turns the class's limit off) to rates, which holds the defaults or
 * earlier settings. PX_EINVAL naming the bad part. */
int px_rates_parse(const char *spec, struct px_rate *rates,
		   struct px_errbuf *eb);

/* Parse one "RATE/s:BURST" of n bytes. */
int px_rate_parse(const char *s, size_t n, struct px_rate *r);

struct px_guard_opts {
	const char *trusted_proxies; /* CIDR list, may be NULL */
	const char *rate_limits;     /* px_rates_parse() text, may be NULL */
	const char *token_rate_limits; /* the same, per token; may be NULL */
	const char *hotlink_allow;   /* HOST,*.HOST list, may be NULL */
	bool hotlink_require_referer;
	const char *rules_file;      /* path, may be NULL */
	unsigned max_clients;        /* bucket table size */
	struct px_metrics *metrics;  /* where to register counters; may be NULL */
};

/* What the guard is told about a request. header(ctx, name) returns a
 * header's value or NULL. */
struct px_guard_req {
	struct px_ip peer;
	const char *method;
	const char *path; /* as sent, without the query */
	const char *query_options; /* delivery option names, may be NULL */
	const char *forwarded, *xff; /* every line joined, or NULL */
	const char *(*header)(void *ctx, const char *name);
	void *ctx;
};

/* Per-request state, zeroed by the caller before px_guard_admit(). */
struct px_guard_ticket {
	struct px_ip client; /* the client key */
	char client_text[64];
	int rule_class;  /* a rule's class that replaces the request's, or -1 */
	bool allowed;    /* a rule said allow: no limits */
	bool admitted;
	int charged;     /* class charged at admission, or -1 */
};

/* A refusal, ready to be sent. */
struct px_guard_answer {
	int status;        /* 0: go on */
	const char *code;  /* "rate_limited", "forbidden_by_rule", ... */
	char msg[192];
	char reason[64];   /* for the access log: "limit:render", "rule:12" */
	char retry_after[16], policy[96], ratelimit[96]; /* headers or "" */
};

struct px_guard;

int px_guard_new(const struct px_guard_opts *o, struct px_guard **out,
		 struct px_errbuf *eb);
void px_guard_free(struct px_guard *g);

/*
 * Identify the client of q, apply the rules, and charge class cls
 * (PX_CLASS_NONE: no class; a rule's own class is still charged). Fills
 * t, and ans on a refusal (ans->status 403 or 429). now_ms is any
 * monotonic millisecond clock.
 */
void px_guard_admit(struct px_guard *g, const struct px_guard_req *q,
		    int cls, uint64_t now_ms, struct px_guard_ticket *t,
		    struct px_guard_answer *ans);

/* Charge class cls as well, giving back what admission charged (a
 * delivery that turned out to need a worker moves from hit to render).
 * ans->status is 429 on a refusal. */
void px_guard_recharge(struct px_guard *g, struct px_guard_ticket *t,
		       int cls, uint64_t now_ms, struct px_guard_answer *ans);

/*
 * Charge class cls (upload or api) to the bucket of the scoped token
 * token_id (the caller has authenticated with it), unless a rule said
 * allow for this request. Fills ans (429) on a refusal.
 */
void px_guard_charge_token(struct px_guard *g, struct px_guard_ticket *t,
			   const char *token_id, int cls, uint64_t now_ms,
			   struct px_guard_answer *ans);

/* Hotlink check of a delivery's Referer (may be NULL); ans->status 403
 * "hotlink_denied" on a refusal. */
void px_guard_hotlink(struct px_guard *g, const char *referer,
		      struct px_guard_answer *ans);

/* The same check under a rule of its own (a managed variant's) instead
 * of --hotlink-allow and --hotlink-require-referer: allow is a
 * HOST,*.HOST list (NULL or "": any site). Counted with the others. */
void px_guard_hotlink_rule(struct px_guard *g, const char *referer,
			   const char *allow, bool require_referer,
			   struct px_guard_answer *ans);

/* Check a HOST,*.HOST list as --hotlink-allow takes it: 0, or PX_EINVAL
 * with the reason in eb. */
int px_guard_hotlink_parse(const char *allow, struct px_errbuf *eb);

/* Count a request refused before its body was read. */
void px_guard_count_early(struct px_guard *g);

/* Re-read the rules file. On failure the previous rules stay and eb
 * says why (with the line number). */
int px_guard_reload(struct px_guard *g, struct px_errbuf *eb);

/* Housekeeping: evict idle buckets. Call about once a second. */
void px_guard_tick(struct px_guard *g, uint64_t now_ms);

/* Is a per-client warning due (at most one per client per 10 s, from a
 * table of fixed size)? */
bool px_guard_warn_due(struct px_guard *g, const struct px_ip *client,
		       uint64_t now_ms);

#endif
