/*
 * policy.h - the moderation policy: ordered rules over class scores.
 *
 * Written as text so it travels through a flag, an environment variable or
 * the configuration file alike:
 *
 *   block-explicit=block: porn>=0.85 | hentai>=0.85;
 *   flag-suggestive=flag: sexy>=0.6 | porn>=0.4
 *
 * Rules are tried in order; the first whose condition holds decides. A
 * condition is alternatives joined by '|', each a conjunction of
 * comparisons joined by '&' (class op number, op one of >= > <= <).
 * When no rule matches the image is approved by the implicit rule
 * "default". A rule without "name=" is named after its position.
 */
#ifndef PX_POLICY_H
#define PX_POLICY_H

#include "core/common.h"

#define PX_POLICY_MAX_RULES 32
#define PX_POLICY_MAX_TERMS 16
#define PX_POLICY_MAX_CLASSES 16

enum px_verdict {
	PX_VERDICT_APPROVE = 0,
	PX_VERDICT_FLAG,
	PX_VERDICT_BLOCK,
};

struct px_policy_term {
	int cls;  /* index into the class names */
	int op;   /* '>', 'G' (>=), '<', 'L' (<=) */
	double value;
	bool and_next; /* joined to the next term with '&' */
};

struct px_policy_rule {
	char name[64];
	enum px_verdict action;
	struct px_policy_term terms[PX_POLICY_MAX_TERMS];
	int nterms;
};

struct px_policy {
	struct px_policy_rule rules[PX_POLICY_MAX_RULES];
	int nrules;
};

/* The default policy text (see docs/MODERATION.md for why). */
extern const char px_policy_default[];

/* Parse text against class names (lowercase, e.g. "porn"). PX_EINVAL
 * with a message naming the offending part. */
int px_policy_parse(const char *text, const char *const *classes,
		    int nclasses, struct px_policy *p, struct px_errbuf *eb);

/* Apply p to scores; *rule receives the deciding rule's name (static
 * storage inside p, or "default"). */
enum px_verdict px_policy_eval(const struct px_policy *p, const float *scores,
			       const char **rule);

/* "approve", "flag", "block". */
const char *px_verdict_name(enum px_verdict v);

/* The record status a verdict gives: "approved", "flagged", "blocked". */
const char *px_verdict_status(enum px_verdict v);

#endif
