/*
 * rules.c - parsing and matching the rules file (see rules.h).
 *
 * A file is parsed whole into a new rule set; any error rejects it with
 * its line number, so a reload either swaps in a complete set or keeps
 * the old one.
 */
#include "guard/rules.h"
#include "guard/guard.h"

#include <ctype.h>
#include <regex.h>
#include <strings.h>

#define MAX_FILE (1 << 20)

static const char *skip(const char *p)
{
	while (*p == ' ' || *p == '\t')
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

/* A value: quoted, or up to a blank, '&', '|' or the end. */
static int value(const char **pp, char *out, size_t nout)
{
	const char *p = *pp;
	size_t n = 0;

	if (*p == '"') {
		p++;
		while (*p && *p != '"') {
			if (n + 1 >= nout)
				return PX_ETOOBIG;
			out[n++] = *p++;
		}
		if (*p != '"')
			return PX_EINVAL;
		p++;
	} else {
		while (*p && *p != ' ' && *p != '\t' && *p != '&' && *p != '|') {
			if (n + 1 >= nout)
				return PX_ETOOBIG;
			out[n++] = *p++;
		}
	}
	out[n] = '\0';
	*pp = p;
	return 0;
}

/* ua~/REGEX/: compile the expression between the slashes. */
static int compile_re(struct px_rule_term *t, struct px_errbuf *eb, int line)
{
	char text[sizeof(t->value)], why[96];
	size_t n = strlen(t->value) - 2;
	regex_t *re;
	int rc;

	if (!n)
		return px_errf(eb, PX_EINVAL,
			       "rules line %d: empty regular expression after \"ua~\"",
			       line);
	memcpy(text, t->value + 1, n);
	text[n] = '\0';
	re = malloc(sizeof(*re));
	if (!re)
		return PX_ENOMEM;
	if ((rc = regcomp(re, text, REG_EXTENDED | REG_ICASE | REG_NOSUB))) {
		regerror(rc, re, why, sizeof(why));
		free(re);
		return px_errf(eb, PX_EINVAL,
			       "rules line %d: \"%s\" is not a regular expression: %s",
			       line, text, why);
	}
	t->kind = PX_TERM_UA_RE;
	t->re = re;
	return 0;
}

static int parse_term(const char **pp, struct px_rule_term *t,
		      struct px_errbuf *eb, int line)
{
	static const struct {
		const char *name;
		char sep; /* '=', '~' or 0 (no value) */
		enum px_term_kind kind;
	} kinds[] = {
		{"ip", '=', PX_TERM_IP},         {"method", '=', PX_TERM_METHOD},
		{"path", '=', PX_TERM_PATH},     {"ua", '~', PX_TERM_UA_HAS},
		{"ua", 0, PX_TERM_UA},           {"header", '=', PX_TERM_HEADER},
		{"option", '=', PX_TERM_OPTION},
	};
	const char *p = skip(*pp);
	size_t n;
	int rc;

	memset(t, 0, sizeof(*t));
	if (*p == '!') {
		t->neg = true;
		p = skip(p + 1);
	}
	n = word(p);
	for (size_t i = 0; i < PX_ARRAY_LEN(kinds); i++) {
		if (strlen(kinds[i].name) != n || strncmp(p, kinds[i].name, n))
			continue;
		if (kinds[i].sep && p[n] != kinds[i].sep)
			continue;
		if (!kinds[i].sep && (p[n] == '=' || p[n] == '~'))
			continue;
		t->kind = kinds[i].kind;
		p += n + (kinds[i].sep ? 1 : 0);
		if (kinds[i].sep) {
			if ((rc = value(&p, t->value, sizeof(t->value))))
				return px_errf(eb, PX_EINVAL,
					       "rules line %d: %s value after \"%s\"",
					       line,
					       rc == PX_ETOOBIG ? "too long a"
								: "unterminated",
					       kinds[i].name);
			if (!t->value[0])
				return px_errf(eb, PX_EINVAL,
					       "rules line %d: empty value after \"%s%c\"",
					       line, kinds[i].name, kinds[i].sep);
			if (t->kind == PX_TERM_UA_HAS && t->value[0] == '/' &&
			    strlen(t->value) >= 2 &&
			    t->value[strlen(t->value) - 1] == '/' &&
			    (rc = compile_re(t, eb, line)))
				return rc;
			if (t->kind == PX_TERM_IP &&
			    px_cidr_parse(t->value, strlen(t->value), &t->cidr))
				return px_errf(eb, PX_EINVAL,
					       "rules line %d: \"%s\" is not an address or CIDR range",
					       line, t->value);
		}
		*pp = p;
		return 0;
	}
	return px_errf(eb, PX_EINVAL,
		       "rules line %d: unknown term \"%.*s\" (ip=, method=, path=, ua~, ua~/REGEX/, ua, header=, option=)",
		       line, (int)PX_MIN(strcspn(p, " \t&|"), 40), p);
}

static int parse_line(const char *text, int line, struct px_rule *r,
		      struct px_errbuf *eb)
{
	const char *p = skip(text), *colon = NULL, *eq;
	size_t n;

	memset(r, 0, sizeof(*r));
	r->line = line;
	for (const char *q = p; *q; q++)
		if (*q == ':' && (q[1] == ' ' || q[1] == '\t' || !q[1])) {
			colon = q;
			break;
		}
	if (!colon)
		return px_errf(eb, PX_EINVAL,
			       "rules line %d: needs \"action: condition\"", line);
	eq = memchr(p, '=', (size_t)(colon - p));
	n = word(p);
	if (eq && skip(p + n) == eq) {
		if (!n || n >= sizeof(r->name))
			return px_errf(eb, PX_EINVAL, "rules line %d: bad name", line);
		memcpy(r->name, p, n);
		p = skip(eq + 1);
	} else {
		snprintf(r->name, sizeof(r->name), "line-%d", line);
	}
	n = word(p);
	if (n == 4 && !strncmp(p, "deny", 4)) {
		r->action = PX_RULE_DENY;
	} else if (n == 5 && !strncmp(p, "allow", 5)) {
		r->action = PX_RULE_ALLOW;
	} else if (n == 5 && !strncmp(p, "limit", 5)) {
		const char *s = skip(p + 5), *e = colon;

		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		r->action = PX_RULE_LIMIT;
		if (px_rate_parse(s, (size_t)(e - s), &r->rate) || r->rate.rate <= 0)
			return px_errf(eb, PX_EINVAL,
				       "rules line %d: \"limit\" needs RATE/s:BURST",
				       line);
		n = (size_t)(e - p);
	} else {
		return px_errf(eb, PX_EINVAL,
			       "rules line %d: action must be deny, allow or limit",
			       line);
	}
	if (skip(p + n) != colon)
		return px_errf(eb, PX_EINVAL,
			       "rules line %d: unexpected text before ':'", line);
	p = colon + 1;
	for (;;) {
		struct px_rule_term *t;
		int rc;

		if (r->nterms == PX_RULE_MAX_TERMS)
			return px_errf(eb, PX_EINVAL,
				       "rules line %d: more than %d terms", line,
				       PX_RULE_MAX_TERMS);
		t = &r->terms[r->nterms++];
		if ((rc = parse_term(&p, t, eb, line)))
			return rc;
		p = skip(p);
		if (*p == '&') {
			t->and_next = true;
			p++;
		} else if (*p == '|') {
			p++;
		} else if (!*p) {
			break;
		} else {
			return px_errf(eb, PX_EINVAL,
				       "rules line %d: expected '&', '|' or the end at \"%.20s\"",
				       line, p);
		}
	}
	return 0;
}

int px_rules_parse(const char *text, struct px_rules **out,
		   struct px_errbuf *eb)
{
	struct px_rules *rs;
	const char *p = text;
	char buf[2048];
	int line = 0, rc = 0;

	*out = NULL;
	rs = calloc(1, sizeof(*rs));
	if (!rs || !(rs->a = calloc(PX_RULES_MAX, sizeof(*rs->a)))) {
		free(rs);
		return PX_ENOMEM;
	}
	while (*p) {
		size_t n = strcspn(p, "\n");
		char *hash;

		line++;
		if (n >= sizeof(buf)) {
			rc = px_errf(eb, PX_EINVAL, "rules line %d: too long", line);
			goto out;
		}
		memcpy(buf, p, n);
		buf[n] = '\0';
		p += n + (p[n] == '\n');
		if (n && buf[n - 1] == '\r')
			buf[n - 1] = '\0';
		/* '#' starts a comment unless inside quotes */
		for (hash = buf; *hash; hash++) {
			if (*hash == '"') {
				char *close = strchr(hash + 1, '"');

				if (!close)
					break;
				hash = close;
			} else if (*hash == '#') {
				*hash = '\0';
				break;
			}
		}
		if (!*skip(buf))
			continue;
		if (rs->n == PX_RULES_MAX) {
			rc = px_errf(eb, PX_EINVAL, "rules line %d: more than %d rules",
				     line, PX_RULES_MAX);
			goto out;
		}
		if ((rc = parse_line(buf, line, &rs->a[rs->n], eb)))
			goto out;
		for (int i = 0; i < rs->n; i++)
			if (!strcmp(rs->a[i].name, rs->a[rs->n].name)) {
				rc = px_errf(eb, PX_EINVAL,
					     "rules line %d: name \"%s\" already used on line %d",
					     line, rs->a[i].name, rs->a[i].line);
				goto out;
			}
		rs->n++;
	}
out:
	if (rc) {
		px_rules_free(rs);
		return rc;
	}
	*out = rs;
	return 0;
}

int px_rules_load(const char *path, struct px_rules **out,
		  struct px_errbuf *eb)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	size_t n;
	int rc;

	*out = NULL;
	if (!f)
		return px_errf(eb, PX_EIO, "rules file \"%s\": %s", path,
			       strerror(errno));
	text = malloc(MAX_FILE + 1);
	if (!text) {
		rc = PX_ENOMEM;
		goto out;
	}
	n = fread(text, 1, MAX_FILE + 1, f);
	if (n > MAX_FILE) {
		rc = px_errf(eb, PX_ETOOBIG, "rules file \"%s\" is over 1 MiB", path);
		goto out;
	}
	text[n] = '\0';
	if (memchr(text, '\0', n)) {
		rc = px_errf(eb, PX_EINVAL, "rules file \"%s\" holds a NUL byte",
			     path);
		goto out;
	}
	rc = px_rules_parse(text, out, eb);
out:
	free(text);
	fclose(f);
	return rc;
}

/* Does the delivery option string in path name option opt? The option
 * string is the last segment of /img/ID/OPTIONS or the third of
 * /cdn-cgi/image/OPTIONS/ID. */
static bool has_option(const char *path, const char *opt)
{
	const char *s, *e;
	size_t n = strlen(opt);

	if (!strncmp(path, "/cdn-cgi/image/", 15)) {
		s = path + 15;
		e = strchr(s, '/');
		if (!e)
			return false;
	} else if (!strncmp(path, "/img/", 5)) {
		s = strchr(path + 5, '/');
		if (!s)
			return false;
		s++;
		e = s + strlen(s);
	} else {
		return false;
	}
	while (s < e) {
		const char *comma = memchr(s, ',', (size_t)(e - s));
		const char *end = comma ? comma : e;

		if ((size_t)(end - s) > n && !strncmp(s, opt, n) && s[n] == '=')
			return true;
		s = comma ? comma + 1 : e;
	}
	return false;
}

static bool term_holds(const struct px_rule_term *t,
		       const struct px_rule_input *in)
{
	const char *ua;
	bool v = false;

	switch (t->kind) {
	case PX_TERM_IP:
		v = px_cidr_contains(&t->cidr, in->client);
		break;
	case PX_TERM_METHOD:
		v = !strcmp(in->method, t->value);
		break;
	case PX_TERM_PATH:
		v = !strncmp(in->path, t->value, strlen(t->value));
		break;
	case PX_TERM_UA_HAS:
		ua = in->header(in->ctx, "User-Agent");
		v = ua && strcasestr(ua, t->value);
		break;
	case PX_TERM_UA_RE:
		ua = in->header(in->ctx, "User-Agent");
		v = ua && !regexec(t->re, ua, 0, NULL, 0);
		break;
	case PX_TERM_UA:
		ua = in->header(in->ctx, "User-Agent");
		v = ua && *ua;
		break;
	case PX_TERM_HEADER:
		v = in->header(in->ctx, t->value) != NULL;
		break;
	case PX_TERM_OPTION:
		v = has_option(in->path, t->value);
		break;
	}
	return t->neg ? !v : v;
}

static bool rule_holds(const struct px_rule *r, const struct px_rule_input *in)
{
	bool conj = true;

	for (int i = 0; i < r->nterms; i++) {
		conj = conj && term_holds(&r->terms[i], in);
		if (!r->terms[i].and_next) {
			if (conj)
				return true;
			conj = true;
		}
	}
	return false;
}

struct px_rule *px_rules_match(struct px_rules *rs,
			       const struct px_rule_input *in)
{
	if (!rs)
		return NULL;
	for (int i = 0; i < rs->n; i++)
		if (rule_holds(&rs->a[i], in))
			return &rs->a[i];
	return NULL;
}

void px_rules_free(struct px_rules *rs)
{
	if (!rs)
		return;
	/* every slot: a rule that failed to parse may hold expressions */
	for (int i = 0; rs->a && i < PX_RULES_MAX; i++)
		for (int j = 0; j < PX_RULE_MAX_TERMS; j++)
			if (rs->a[i].terms[j].re) {
				regfree(rs->a[i].terms[j].re);
				free(rs->a[i].terms[j].re);
			}
	free(rs->a);
	free(rs);
}
