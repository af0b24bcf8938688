/*
 * rules.h - the rules file: a small web application firewall.
 *
 * One rule a line, in the moderation policy's style
 * (`name=action: condition`); '#' starts a comment:
 *
 *   no-agent=deny: path=/v1/ & !ua
 *   office=allow: ip=10.0.0.0/8 | ip=2001:db8::/32
 *   scrapers=limit 1/s:5: ua~python-requests | ua~scrapy
 *   no-blur-flood=deny: option=blur & !header=Authorization
 *
 * Actions: `deny` (403 forbidden_by_rule), `allow` (no rate limits),
 * `limit RATE/s:BURST` (the request is charged to a class of its own,
 * named after the rule, with that rate). The action ends at the first
 * ':' followed by a blank. A condition is alternatives joined by '|',
 * each a conjunction of terms joined by '&'; a term may be negated
 * with '!'. Terms:
 *
 *   ip=CIDR          the client address is in the range
 *   method=NAME      the request method (exact, case-sensitive)
 *   path=PREFIX      the path as sent starts with PREFIX
 *   ua~TEXT          the User-Agent contains TEXT (case-insensitive)
 *   ua~/REGEX/       the User-Agent matches the POSIX extended regular
 *                    expression (case-insensitive; quote it to hold
 *                    blanks, '&' or '|': ua~"/^(curl|wget)\//")
 *   ua               a non-empty User-Agent is present
 *   header=NAME      the request carries the header
 *   option=NAME      the delivery option string names the option
 *
 * Values may be double-quoted to hold blanks, '&' or '|'. The first
 * rule that matches decides; none matching changes nothing. A rule
 * without "name=" is named after its line ("line-7").
 */
#ifndef PX_GUARD_RULES_H
#define PX_GUARD_RULES_H

#include "guard/addr.h"
#include "guard/limit.h"

#define PX_RULES_MAX 256
#define PX_RULE_MAX_TERMS 16

enum px_rule_action { PX_RULE_DENY, PX_RULE_ALLOW, PX_RULE_LIMIT };

enum px_term_kind {
	PX_TERM_IP,
	PX_TERM_METHOD,
	PX_TERM_PATH,
	PX_TERM_UA_HAS,
	PX_TERM_UA_RE,
	PX_TERM_UA,
	PX_TERM_HEADER,
	PX_TERM_OPTION,
};

struct px_rule_term {
	enum px_term_kind kind;
	bool neg;
	bool and_next; /* joined to the next term with '&' */
	struct px_cidr cidr;
	char value[96];
	void *re; /* PX_TERM_UA_RE: the compiled expression (a regex_t) */
};

struct px_rule {
	char name[48];
	int line;
	enum px_rule_action action;
	struct px_rate rate; /* PX_RULE_LIMIT */
	struct px_rule_term terms[PX_RULE_MAX_TERMS];
	int nterms;
};

struct px_rules {
	struct px_rule *a;
	int n;
};

/* What a rule may look at. header(ctx, name) returns a value or NULL. */
struct px_rule_input {
	const struct px_ip *client;
	const char *method, *path;
	const char *(*header)(void *ctx, const char *name);
	void *ctx;
};

/* Parse text (NUL-terminated) into a new rule set. PX_EINVAL with the
 * line number and the reason in eb; nothing is kept then. */
int px_rules_parse(const char *text, struct px_rules **out,
		   struct px_errbuf *eb);

/* Read and parse a file (at most 1 MiB). */
int px_rules_load(const char *path, struct px_rules **out,
		  struct px_errbuf *eb);

/* The first rule matching in, or NULL. */
struct px_rule *px_rules_match(struct px_rules *rs,
			       const struct px_rule_input *in);

void px_rules_free(struct px_rules *rs);

#endif
