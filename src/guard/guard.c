/*
 * guard.c - the protection policy: client identity, rate limits per
 * class, rules and hotlink checks, and their counters (see guard.h).
 *
 * The rules are swapped whole on reload under a read-write lock; every
 * request holds the read side only while matching and charging.
 */
#include "guard/guard.h"
#include "guard/rules.h"
#include "core/log.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>

#define MAX_HOTLINK 32
#define WARN_SLOTS 4096
#define WARN_EVERY_MS 10000

/*
 * Defaults, per client (docs/SECURITY.md): a page of thumbnails is tens
 * of cached hits at once; renders cost a worker each; uploads are rare.
 */
const struct px_rate px_rate_defaults[PX_NCLASSES] = {
	[PX_CLASS_UPLOAD] = {2, 20},
	[PX_CLASS_API] = {20, 100},
	[PX_CLASS_RENDER] = {10, 100},
	[PX_CLASS_HIT] = {200, 1000},
};

/*
 * A scoped token is one integration, usually a backend: more than one
 * anonymous client, still bounded so a leaked or runaway token cannot
 * hold the workers. The admin token is not limited.
 */
const struct px_rate px_token_rate_defaults[PX_NCLASSES] = {
	[PX_CLASS_UPLOAD] = {10, 100},
	[PX_CLASS_API] = {100, 1000},
};

/* Token buckets have classes of their own, past every rule class. */
#define TOKEN_CLASS(cls) (PX_GUARD_MAX_CLASSES + (cls))
#define NRATES (PX_GUARD_MAX_CLASSES + PX_NCLASSES)

static const char *class_names[PX_NCLASSES] = {"upload", "api", "render",
					       "hit"};

struct warn_slot {
	uint8_t key[16];
	uint64_t last_ms;
};

struct px_guard {
	struct px_cidr trusted[PX_MAX_TRUSTED];
	int ntrusted;
	char *rules_file;
	char hotlink[MAX_HOTLINK][128];
	int nhotlink;
	bool hotlink_on, require_referer;
	struct px_limiter *lim;

	pthread_rwlock_t lock; /* guards rules, rates beyond the built-in */
	struct px_rules *rules;
	struct px_rate rates[NRATES]; /* built-in, rule, token classes */
	int nrates;                   /* built-in and rule classes in use */

	struct px_metric *limited, *rule_hits, *hotlink_denied, *early;

	pthread_mutex_t warn_lock;
	struct warn_slot warn[WARN_SLOTS];
};

const char *px_class_name(int cls)
{
	return cls >= 0 && cls < PX_NCLASSES ? class_names[cls] : "none";
}

int px_rate_parse(const char *s, size_t n, struct px_rate *r)
{
	char text[64], *end, *colon;
	double rate, burst, per = 1;

	if (!n || n >= sizeof(text))
		return PX_EINVAL;
	memcpy(text, s, n);
	text[n] = '\0';
	errno = 0;
	rate = strtod(text, &end);
	if (errno || end == text || !isfinite(rate) || rate < 0 || rate > 1e6)
		return PX_EINVAL;
	if (!strncmp(end, "/s", 2)) {
		end += 2;
	} else if (!strncmp(end, "/m", 2)) {
		per = 60;
		end += 2;
	} else {
		return PX_EINVAL;
	}
	if (*end != ':')
		return PX_EINVAL;
	colon = end;
	burst = strtod(colon + 1, &end);
	if (errno || end == colon + 1 || *end || !isfinite(burst) ||
	    burst < 1 || burst > 1e7)
		return PX_EINVAL;
	r->rate = rate / per;
	r->burst = floor(burst);
	return 0;
}

int px_rates_parse(const char *spec, struct px_rate *rates,
		   struct px_errbuf *eb)
{
	const char *p = spec;

	while (p && *p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		const char *eq = memchr(p, '=', n);
		int cls = -1;

		while (n && *p == ' ') {
			p++;
			n--;
		}
		if (n) {
			for (int i = 0; eq && i < PX_NCLASSES; i++)
				if ((size_t)(eq - p) == strlen(class_names[i]) &&
				    !strncmp(p, class_names[i], (size_t)(eq - p)))
					cls = i;
			if (cls < 0)
				return px_errf(eb, PX_EINVAL,
					       "rate limit \"%.*s\": want CLASS=RATE/s:BURST, "
					       "CLASS one of upload, api, render, hit",
					       (int)PX_MIN(n, 64), p);
			if (px_rate_parse(eq + 1, n - (size_t)(eq - p) - 1,
					  &rates[cls]))
				return px_errf(eb, PX_EINVAL,
					       "rate limit \"%.*s\": want RATE/s:BURST "
					       "(RATE/m for per minute; RATE 0: no limit; BURST >= 1)",
					       (int)PX_MIN(n, 64), p);
		}
		p = comma ? comma + 1 : NULL;
	}
	return 0;
}

/* A HOST,*.HOST list into hosts[] (lowercased), *n of them. */
static int parse_hosts(const char *csv, char (*hosts)[128], int *nhosts,
		       struct px_errbuf *eb)
{
	const char *p = csv;

	while (p && *p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);

		while (n && *p == ' ') {
			p++;
			n--;
		}
		while (n && p[n - 1] == ' ')
			n--;
		if (n) {
			if (*nhosts == MAX_HOTLINK || n >= sizeof(hosts[0]))
				return px_errf(eb, PX_EINVAL,
					       "hotlink-allow: at most %d hosts of under 128 bytes",
					       MAX_HOTLINK);
			for (size_t i = 0; i < n; i++) {
				char c = p[i];

				if (!(isalnum((unsigned char)c) || c == '-' || c == '.' ||
				      (c == '*' && i == 0 && n > 2 && p[1] == '.')))
					return px_errf(eb, PX_EINVAL,
						       "hotlink-allow: \"%.*s\" is not HOST or *.HOST",
						       (int)PX_MIN(n, 64), p);
				hosts[*nhosts][i] = (char)tolower((unsigned char)c);
			}
			hosts[*nhosts][n] = '\0';
			(*nhosts)++;
		}
		p = comma ? comma + 1 : NULL;
	}
	return 0;
}

/* Install rs (taken) and its classes; the caller holds the write lock
 * or is the only thread. */
static int install_rules(struct px_guard *g, struct px_rules *rs,
			 struct px_errbuf *eb)
{
	int n = PX_NCLASSES;

	for (int i = 0; rs && i < rs->n; i++)
		if (rs->a[i].action == PX_RULE_LIMIT && ++n > PX_GUARD_MAX_CLASSES) {
			px_rules_free(rs);
			return px_errf(eb, PX_EINVAL,
				       "rules line %d: at most %d limit rules",
				       rs->a[i].line,
				       PX_GUARD_MAX_CLASSES - PX_NCLASSES);
		}
	n = PX_NCLASSES;
	/* unused rule classes at 0: their old buckets are swept away */
	memset(&g->rates[PX_NCLASSES], 0,
	       (PX_GUARD_MAX_CLASSES - PX_NCLASSES) * sizeof(g->rates[0]));
	for (int i = 0; rs && i < rs->n; i++)
		if (rs->a[i].action == PX_RULE_LIMIT) {
			g->rates[n] = rs->a[i].rate;
			n++;
		}
	g->nrates = n;
	px_rules_free(g->rules);
	g->rules = rs;
	return 0;
}

static double clients_tracked(void *arg)
{
	struct px_guard *g = arg;

	return (double)px_limiter_count(g->lim);
}

int px_guard_new(const struct px_guard_opts *o, struct px_guard **out,
		 struct px_errbuf *eb)
{
	struct px_guard *g;
	struct px_rules *rs = NULL;
	int rc;

	*out = NULL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return PX_ENOMEM;
	pthread_rwlock_init(&g->lock, NULL);
	pthread_mutex_init(&g->warn_lock, NULL);
	memcpy(g->rates, px_rate_defaults, sizeof(px_rate_defaults));
	g->nrates = PX_NCLASSES;
	if ((rc = px_cidr_list_parse(o->trusted_proxies ? o->trusted_proxies : "",
				     g->trusted, PX_MAX_TRUSTED, &g->ntrusted,
				     eb))) {
		char m[sizeof(eb->msg)];

		px_strlcpy(m, eb->msg, sizeof(m));
		px_errf(eb, rc, "trusted-proxies: %s", m);
		goto fail;
	}
	if ((rc = px_rates_parse(o->rate_limits, g->rates, eb)))
		goto fail;
	{
		struct px_rate tr[PX_NCLASSES];

		memcpy(tr, px_token_rate_defaults, sizeof(tr));
		if ((rc = px_rates_parse(o->token_rate_limits, tr, eb))) {
			char m[sizeof(eb->msg)];

			px_strlcpy(m, eb->msg, sizeof(m));
			px_errf(eb, rc, "token-rate-limit: %s", m);
			goto fail;
		}
		for (int i = 0; i < PX_NCLASSES; i++)
			g->rates[TOKEN_CLASS(i)] = tr[i];
	}
	if ((rc = parse_hosts(o->hotlink_allow, g->hotlink, &g->nhotlink, eb)))
		goto fail;
	g->require_referer = o->hotlink_require_referer;
	g->hotlink_on = g->nhotlink > 0 || g->require_referer;
	if ((rc = px_limiter_new(o->max_clients ? o->max_clients : 1u << 20,
				 &g->lim)))
		goto fail;
	if (o->rules_file && *o->rules_file) {
		g->rules_file = strdup(o->rules_file);
		if (!g->rules_file) {
			rc = PX_ENOMEM;
			goto fail;
		}
		if ((rc = px_rules_load(g->rules_file, &rs, eb)) ||
		    (rc = install_rules(g, rs, eb)))
			goto fail;
	}
	if (o->metrics) {
		struct px_metrics *m = o->metrics;

		g->limited = px_metrics_counter(m, "pictor_ratelimited_total",
			"requests refused with 429, by class", "class");
		g->rule_hits = px_metrics_counter(m, "pictor_rule_hits_total",
			"requests matched by each rule of the rules file", "rule");
		g->hotlink_denied = px_metrics_counter(m, "pictor_hotlink_denied_total",
			"deliveries refused for their Referer", NULL);
		g->early = px_metrics_counter(m, "pictor_refused_before_body_total",
			"requests refused from their headers, body unread", NULL);
		px_metrics_gauge_fn(m, "pictor_clients_tracked",
			"rate-limit buckets held (one per client and class in use)",
			clients_tracked, g);
		for (int i = 0; i < PX_NCLASSES; i++)
			px_metric_add(g->limited, 0, class_names[i]);
	}
	*out = g;
	return 0;
fail:
	px_guard_free(g);
	return rc;
}

void px_guard_free(struct px_guard *g)
{
	if (!g)
		return;
	px_limiter_free(g->lim);
	px_rules_free(g->rules);
	pthread_rwlock_destroy(&g->lock);
	pthread_mutex_destroy(&g->warn_lock);
	free(g->rules_file);
	free(g);
}

int px_guard_reload(struct px_guard *g, struct px_errbuf *eb)
{
	struct px_rules *rs = NULL;
	int rc;

	if (!g->rules_file)
		return 0;
	if ((rc = px_rules_load(g->rules_file, &rs, eb)))
		return rc;
	pthread_rwlock_wrlock(&g->lock);
	rc = install_rules(g, rs, eb);
	pthread_rwlock_unlock(&g->lock);
	return rc;
}

static void ceil_secs(char *out, size_t n, double ms)
{
	snprintf(out, n, "%.0f", PX_MAX(1.0, ceil(ms / 1000.0)));
}

/* Take a token of class cls from key's bucket (the lock held); fill ans
 * on a refusal. */
static void charge_key(struct px_guard *g, const struct px_ip *key, int cls,
		       const char *name, const char *who, uint64_t now_ms,
		       struct px_guard_answer *ans)
{
	const struct px_rate *r = &g->rates[cls];
	struct px_take res;

	px_limiter_take(g->lim, key, cls, r, now_ms, &res);
	if (res.ok)
		return;
	px_metric_add(g->limited, 1, name);
	ans->status = 429;
	ans->code = "rate_limited";
	snprintf(ans->msg, sizeof(ans->msg),
		 "too many \"%s\" requests from this %s: %g a second, bursts of %g",
		 name, who, r->rate, r->burst);
	snprintf(ans->reason, sizeof(ans->reason), "limit:%s", name);
	ceil_secs(ans->retry_after, sizeof(ans->retry_after), res.retry_ms);
	snprintf(ans->policy, sizeof(ans->policy), "\"%s\";q=%.0f;w=%.0f", name,
		 r->burst, PX_MAX(1.0, ceil(r->burst / r->rate)));
	snprintf(ans->ratelimit, sizeof(ans->ratelimit), "\"%s\";r=0;t=%s", name,
		 ans->retry_after);
}

static void charge(struct px_guard *g, struct px_guard_ticket *t, int cls,
		   const char *name, uint64_t now_ms,
		   struct px_guard_answer *ans)
{
	charge_key(g, &t->client, cls, name, "client", now_ms, ans);
}

/* A token's bucket key: a hash of its id, in the space of client keys
 * (the class numbers keep the two apart). */
static void token_key(const char *id, struct px_ip *key)
{
	uint64_t h1 = 1469598103934665603ULL, h2 = 0x9e3779b97f4a7c15ULL;

	for (const char *p = id; *p; p++) {
		h1 = (h1 ^ (uint8_t)*p) * 1099511628211ULL;
		h2 = (h2 ^ (uint8_t)*p) * 0x100000001b3ULL + 0x7f;
	}
	memset(key, 0, sizeof(*key));
	key->family = 6;
	memcpy(key->b, &h1, 8);
	memcpy(key->b + 8, &h2, 8);
}

void px_guard_charge_token(struct px_guard *g, struct px_guard_ticket *t,
			   const char *token_id, int cls, uint64_t now_ms,
			   struct px_guard_answer *ans)
{
	struct px_ip key;
	char name[24];

	memset(ans, 0, sizeof(*ans));
	if (t->allowed || (cls != PX_CLASS_UPLOAD && cls != PX_CLASS_API) ||
	    g->rates[TOKEN_CLASS(cls)].rate <= 0)
		return;
	token_key(token_id, &key);
	snprintf(name, sizeof(name), "token-%s", class_names[cls]);
	pthread_rwlock_rdlock(&g->lock);
	charge_key(g, &key, TOKEN_CLASS(cls), name, "token", now_ms, ans);
	pthread_rwlock_unlock(&g->lock);
	if (ans->status)
		snprintf(ans->reason, sizeof(ans->reason), "limit:%s", name);
}

void px_guard_admit(struct px_guard *g, const struct px_guard_req *q,
		    int cls, uint64_t now_ms, struct px_guard_ticket *t,
		    struct px_guard_answer *ans)
{
	struct px_ip client;
	struct px_rule *rule;
	int rule_cls = -1;

	memset(ans, 0, sizeof(*ans));
	t->rule_class = -1;
	t->charged = -1;
	px_client_resolve(&q->peer, q->forwarded, q->xff, g->trusted,
			  g->ntrusted, &client);
	px_client_key(&client, &t->client);
	px_client_key_format(&t->client, t->client_text, sizeof(t->client_text));
	t->admitted = true;

	pthread_rwlock_rdlock(&g->lock);
	{
		struct px_rule_input in = {
			.client = &client, .method = q->method, .path = q->path,
			.header = q->header, .ctx = q->ctx,
		};

		rule = px_rules_match(g->rules, &in);
	}
	if (rule)
		px_metric_add(g->rule_hits, 1, rule->name);
	if (rule && rule->action == PX_RULE_DENY) {
		ans->status = 403;
		ans->code = "forbidden_by_rule";
		snprintf(ans->msg, sizeof(ans->msg),
			 "refused by rule \"%s\" (rules line %d)", rule->name,
			 rule->line);
		snprintf(ans->reason, sizeof(ans->reason), "rule:%s:%d",
			 rule->name, rule->line);
		goto out;
	}
	if (rule && rule->action == PX_RULE_ALLOW) {
		t->allowed = true;
		goto out;
	}
	if (rule && rule->action == PX_RULE_LIMIT) {
		rule_cls = PX_NCLASSES;
		for (struct px_rule *r = g->rules->a; r != rule; r++)
			rule_cls += r->action == PX_RULE_LIMIT;
		t->rule_class = rule_cls;
	}
	if (rule_cls >= 0) {
		charge(g, t, rule_cls, rule->name, now_ms, ans);
		if (ans->status)
			snprintf(ans->reason, sizeof(ans->reason), "rule:%s:%d",
				 rule->name, rule->line);
	} else if (cls != PX_CLASS_NONE) {
		charge(g, t, cls, class_names[cls], now_ms, ans);
		t->charged = cls;
	}
out:
	pthread_rwlock_unlock(&g->lock);
}

void px_guard_recharge(struct px_guard *g, struct px_guard_ticket *t,
		       int cls, uint64_t now_ms, struct px_guard_answer *ans)
{
	memset(ans, 0, sizeof(*ans));
	/* allowed by a rule, or charged to a rule's class: nothing more */
	if (!t->admitted || t->allowed || t->rule_class >= 0 || t->charged == cls)
		return;
	pthread_rwlock_rdlock(&g->lock);
	if (t->charged >= 0)
		px_limiter_refund(g->lim, &t->client, t->charged,
				  &g->rates[t->charged], now_ms);
	charge(g, t, cls, class_names[cls], now_ms, ans);
	t->charged = cls;
	pthread_rwlock_unlock(&g->lock);
}

/* The host of a Referer URL, lowercased, without port or userinfo. */
static int referer_host(const char *ref, char *out, size_t n)
{
	const char *p = strstr(ref, "://"), *e;
	size_t len;

	if (!p || p == ref)
		return PX_EINVAL;
	for (const char *s = ref; s < p; s++)
		if (!isalpha((unsigned char)*s) && *s != '+' && *s != '-' && *s != '.')
			return PX_EINVAL;
	p += 3;
	e = p + strcspn(p, "/?#");
	{
		const char *at = memchr(p, '@', (size_t)(e - p));

		if (at)
			p = at + 1;
	}
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(e - p));

		if (!close)
			return PX_EINVAL;
		e = close + 1;
	} else {
		const char *colon = memchr(p, ':', (size_t)(e - p));

		if (colon)
			e = colon;
	}
	len = (size_t)(e - p);
	if (!len || len >= n)
		return PX_EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];

		if (!(isalnum((unsigned char)c) || c == '-' || c == '.' ||
		      c == '[' || c == ']' || c == ':'))
			return PX_EINVAL;
		out[i] = (char)tolower((unsigned char)c);
	}
	out[len] = '\0';
	return 0;
}

static bool host_allowed(char (*hosts)[128], int nhosts, const char *host)
{
	size_t hn = strlen(host);

	for (int i = 0; i < nhosts; i++) {
		const char *pat = hosts[i];

		if (pat[0] == '*') {
			/* "*.example.com": any subdomain, not the apex */
			size_t pn = strlen(pat + 1);

			if (hn > pn && !strcmp(host + hn - pn, pat + 1))
				return true;
		} else if (!strcmp(host, pat)) {
			return true;
		}
	}
	return false;
}

/* The Referer against a host list (none: any site) and the need for
 * one. */
static void hotlink_check(struct px_guard *g, const char *referer,
			  char (*hosts)[128], int nhosts, bool require_referer,
			  struct px_guard_answer *ans)
{
	char host[256];

	if (!referer || !*referer) {
		if (!require_referer)
			return;
		snprintf(ans->msg, sizeof(ans->msg),
			 "images are delivered only to pages of allowed sites; "
			 "this request has no Referer");
	} else if (referer_host(referer, host, sizeof(host))) {
		snprintf(ans->msg, sizeof(ans->msg), "the Referer is not a URL");
	} else if (nhosts && !host_allowed(hosts, nhosts, host)) {
		snprintf(ans->msg, sizeof(ans->msg),
			 "images may not be embedded by \"%.100s\"", host);
	} else {
		return;
	}
	px_metric_add(g->hotlink_denied, 1);
	ans->status = 403;
	ans->code = "hotlink_denied";
	snprintf(ans->reason, sizeof(ans->reason), "hotlink");
}

void px_guard_hotlink(struct px_guard *g, const char *referer,
		      struct px_guard_answer *ans)
{
	memset(ans, 0, sizeof(*ans));
	if (g->hotlink_on)
		hotlink_check(g, referer, g->hotlink, g->nhotlink,
			      g->require_referer, ans);
}

int px_guard_hotlink_parse(const char *allow, struct px_errbuf *eb)
{
	char hosts[MAX_HOTLINK][128];
	int n = 0;

	return parse_hosts(allow, hosts, &n, eb);
}

void px_guard_hotlink_rule(struct px_guard *g, const char *referer,
			   const char *allow, bool require_referer,
			   struct px_guard_answer *ans)
{
	char hosts[MAX_HOTLINK][128];
	struct px_errbuf eb = {0};
	int n = 0;

	memset(ans, 0, sizeof(*ans));
	if (parse_hosts(allow, hosts, &n, &eb)) {
		/* checked when stored: a list that no longer parses
		 * allows nothing rather than everything */
		n = 1;
		hosts[0][0] = '\0';
	}
	hotlink_check(g, referer, hosts, n, require_referer, ans);
}

void px_guard_count_early(struct px_guard *g)
{
	px_metric_add(g->early, 1);
}

void px_guard_tick(struct px_guard *g, uint64_t now_ms)
{
	pthread_rwlock_rdlock(&g->lock);
	/* a full pass over the shards every few seconds */
	for (int i = 0; i < 8; i++)
		px_limiter_sweep(g->lim, g->rates, NRATES, now_ms);
	pthread_rwlock_unlock(&g->lock);
}

bool px_guard_warn_due(struct px_guard *g, const struct px_ip *client,
		       uint64_t now_ms)
{
	uint64_t h = 1469598103934665603ULL;
	struct warn_slot *s;
	uint8_t k[16];
	bool due;

	px_client_key_bytes(client, k);
	for (int i = 0; i < 16; i++)
		h = (h ^ k[i]) * 1099511628211ULL;
	s = &g->warn[h % WARN_SLOTS];
	pthread_mutex_lock(&g->warn_lock);
	due = memcmp(s->key, k, 16) || !s->last_ms ||
	      now_ms - s->last_ms >= WARN_EVERY_MS;
	if (due) {
		memcpy(s->key, k, 16);
		s->last_ms = now_ms ? now_ms : 1;
	}
	pthread_mutex_unlock(&g->warn_lock);
	return due;
}
