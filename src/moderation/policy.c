/*
 * policy.c - parsing and evaluating moderation rules.
 */
#include "moderation/policy.h"

#include <ctype.h>

const char px_policy_default[] =
	"block-explicit=block: porn>=0.85 | hentai>=0.85; "
	"flag-suggestive=flag: sexy>=0.6 | porn>=0.4 | hentai>=0.4";

static const char *skip(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	return p;
}

static size_t word(const char *p)
{
	size_t n = 0;

	while (isalnum((unsigned char)p[n]) || p[n] == '_' || p[n] == '-')
		n++;
	return n;
}

/* Line and column (from 1) of offset off in text. */
static void where(const char *text, size_t off, int *line, int *col)
{
	*line = *col = 1;
	for (size_t i = 0; i < off && text[i]; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

/*
 * A threshold: digits with at most one '.', nothing else (no sign, no
 * exponent, no "nan" or "inf", which strtod would take and which would
 * make a rule that never fires), between 0 and 1. *n gets its length.
 */
static bool threshold(const char *p, double *v, size_t *n)
{
	size_t i = 0, digits = 0;
	bool dot = false;
	char buf[64];

	for (; (p[i] >= '0' && p[i] <= '9') || (p[i] == '.' && !dot); i++) {
		if (p[i] == '.')
			dot = true;
		else
			digits++;
	}
	*n = i;
	if (!digits || i >= sizeof(buf) || isalnum((unsigned char)p[i]) ||
	    p[i] == '.' || p[i] == '_')
		return false;
	memcpy(buf, p, i);
	buf[i] = '\0';
	*v = strtod(buf, NULL);
	return *v >= 0 && *v <= 1;
}

static int parse_rule(const char *orig, const char *s, size_t len, int idx,
		      const char *const *classes, int nclasses,
		      struct px_policy_rule *r, struct px_errbuf *eb)
{
	char text[512];
	const char *p, *colon, *eq;
	size_t n;

	if (len >= sizeof(text))
		return px_errf(eb, PX_EINVAL, "policy rule %d is too long", idx + 1);
	memcpy(text, s, len);
	text[len] = '\0';
	memset(r, 0, sizeof(*r));
	colon = strchr(text, ':');
	if (!colon)
		return px_errf(eb, PX_EINVAL,
			       "policy rule \"%s\" needs \"action: condition\"", text);
	p = skip(text);
	eq = memchr(p, '=', (size_t)(colon - p));
	if (eq) {
		n = word(p);
		if (!n || skip(p + n) != eq || n >= sizeof(r->name))
			return px_errf(eb, PX_EINVAL, "policy rule \"%s\": bad name", text);
		memcpy(r->name, p, n);
		p = skip(eq + 1);
	} else {
		snprintf(r->name, sizeof(r->name), "rule-%d", idx + 1);
	}
	n = word(p);
	if (n == 5 && !strncmp(p, "block", 5))
		r->action = PX_VERDICT_BLOCK;
	else if (n == 4 && !strncmp(p, "flag", 4))
		r->action = PX_VERDICT_FLAG;
	else if (n == 7 && !strncmp(p, "approve", 7))
		r->action = PX_VERDICT_APPROVE;
	else
		return px_errf(eb, PX_EINVAL,
			       "policy rule \"%s\": action must be block, flag or approve",
			       r->name);
	if (skip(p + n) != colon)
		return px_errf(eb, PX_EINVAL, "policy rule \"%s\": bad action", r->name);
	p = skip(colon + 1);
	for (;;) {
		struct px_policy_term *t;
		int cls = -1;

		if (r->nterms == PX_POLICY_MAX_TERMS)
			return px_errf(eb, PX_EINVAL,
				       "policy rule \"%s\" has too many terms", r->name);
		t = &r->terms[r->nterms];
		n = word(p);
		for (int i = 0; i < nclasses; i++)
			if (strlen(classes[i]) == n && !strncmp(p, classes[i], n))
				cls = i;
		if (cls < 0)
			return px_errf(eb, PX_EINVAL,
				       "policy rule \"%s\": unknown class \"%.*s\"",
				       r->name, (int)n, p);
		t->cls = cls;
		p = skip(p + n);
		if (p[0] == '>' && p[1] == '=') {
			t->op = 'G';
			p += 2;
		} else if (p[0] == '<' && p[1] == '=') {
			t->op = 'L';
			p += 2;
		} else if (p[0] == '>' || p[0] == '<') {
			t->op = p[0];
			p++;
		} else {
			return px_errf(eb, PX_EINVAL,
				       "policy rule \"%s\": expected >=, >, <= or <",
				       r->name);
		}
		p = skip(p);
		if (!threshold(p, &t->value, &n)) {
			int line, col;

			where(orig, (size_t)(s - orig) + (size_t)(p - text),
			      &line, &col);
			n = strcspn(p, " \t\n|&;");
			return px_errf(eb, PX_EINVAL,
				       "policy rule \"%s\": threshold \"%.*s\" at line %d, column %d is not a number from 0 to 1",
				       r->name, (int)PX_MIN(n, 32), p, line, col);
		}
		r->nterms++;
		p = skip(p + n);
		if (!*p)
			return 0;
		if (*p != '|' && *p != '&')
			return px_errf(eb, PX_EINVAL,
				       "policy rule \"%s\": expected | or & near \"%.16s\"",
				       r->name, p);
		t->and_next = *p == '&';
		p = skip(p + 1);
	}
}

int px_policy_parse(const char *text, const char *const *classes,
		    int nclasses, struct px_policy *p, struct px_errbuf *eb)
{
	const char *s = text;
	int rc;

	memset(p, 0, sizeof(*p));
	while (*(s = skip(s))) {
		size_t len = strcspn(s, ";");

		if (len) {
			if (p->nrules == PX_POLICY_MAX_RULES)
				return px_errf(eb, PX_EINVAL, "at most %d policy rules",
					       PX_POLICY_MAX_RULES);
			rc = parse_rule(text, s, len, p->nrules, classes,
					nclasses, &p->rules[p->nrules], eb);
			if (rc)
				return rc;
			p->nrules++;
		}
		s += len;
		if (*s == ';')
			s++;
	}
	return 0;
}

static bool term_holds(const struct px_policy_term *t, const float *scores)
{
	double v = scores[t->cls];

	switch (t->op) {
	case 'G': return v >= t->value;
	case '>': return v > t->value;
	case 'L': return v <= t->value;
	default: return v < t->value;
	}
}

/* Alternatives joined by '|', each a run of terms joined by '&'. */
static bool rule_holds(const struct px_policy_rule *r, const float *scores)
{
	bool all = true;

	for (int i = 0; i < r->nterms; i++) {
		all = all && term_holds(&r->terms[i], scores);
		if (!r->terms[i].and_next) {
			if (all)
				return true;
			all = true;
		}
	}
	return false;
}

enum px_verdict px_policy_eval(const struct px_policy *p, const float *scores,
			       const char **rule)
{
	for (int i = 0; i < p->nrules; i++) {
		if (rule_holds(&p->rules[i], scores)) {
			*rule = p->rules[i].name;
			return p->rules[i].action;
		}
	}
	*rule = "default";
	return PX_VERDICT_APPROVE;
}

const char *px_verdict_name(enum px_verdict v)
{
	return v == PX_VERDICT_BLOCK ? "block" : v == PX_VERDICT_FLAG ? "flag" : "approve";
}

const char *px_verdict_status(enum px_verdict v)
{
	return v == PX_VERDICT_BLOCK ? "blocked"
	       : v == PX_VERDICT_FLAG ? "flagged"
				      : "approved";
}
