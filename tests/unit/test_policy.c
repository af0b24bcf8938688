/*
 * test_policy.c - moderation rules: parsing, evaluation, errors.
 */
#include "moderation/policy.h"

#include "t.h"

static const char *classes[] = {"drawing", "hentai", "neutral", "porn", "sexy"};

static void run(void)
{
	struct px_policy p;
	struct px_errbuf eb = {0};
	const char *rule;

	T_CASE("default policy") {
		float clean[] = {0.1f, 0.01f, 0.85f, 0.02f, 0.02f};
		float explicit_[] = {0, 0.05f, 0.02f, 0.9f, 0.03f};
		float suggestive[] = {0, 0.05f, 0.3f, 0.05f, 0.6f};
		float edge[] = {0, 0.05f, 0.3f, 0.3999f, 0.2f};

		T_EQ(px_policy_parse(px_policy_default, classes, 5, &p, &eb), 0);
		T_EQ(p.nrules, 2);
		T_EQ(px_policy_eval(&p, clean, &rule), PX_VERDICT_APPROVE);
		T_STREQ(rule, "default");
		T_EQ(px_policy_eval(&p, explicit_, &rule), PX_VERDICT_BLOCK);
		T_STREQ(rule, "block-explicit");
		T_EQ(px_policy_eval(&p, suggestive, &rule), PX_VERDICT_FLAG);
		T_STREQ(rule, "flag-suggestive");
		T_EQ(px_policy_eval(&p, edge, &rule), PX_VERDICT_APPROVE);
	}
	T_CASE("and binds tighter than or; unnamed rules") {
		float a[] = {0.5f, 0, 0, 0.5f, 0};
		float b[] = {0.5f, 0, 0, 0.1f, 0};
		float c[] = {0, 0, 0, 0, 0.95f};

		T_EQ(px_policy_parse("flag: drawing>0.4 & porn>=0.5 | sexy>0.9; approve: neutral<1",
				     classes, 5, &p, &eb), 0);
		T_EQ(px_policy_eval(&p, a, &rule), PX_VERDICT_FLAG);
		T_STREQ(rule, "rule-1");
		T_EQ(px_policy_eval(&p, b, &rule), PX_VERDICT_APPROVE);
		T_STREQ(rule, "rule-2");
		T_EQ(px_policy_eval(&p, c, &rule), PX_VERDICT_FLAG);
	}
	T_CASE("errors") {
		static const char *bad[] = {
			"block porn>=0.5", "nuke: porn>=0.5", "block: gore>=0.5",
			"block: porn=0.5", "block: porn>=1.5", "block: porn>=0.5 ^ sexy>0.1",
			"block: porn>=", "bad name=block: porn>0.1",
		};
		for (size_t i = 0; i < PX_ARRAY_LEN(bad); i++)
			T_EQ(px_policy_parse(bad[i], classes, 5, &p, &eb), PX_EINVAL);
		T_EQ(px_policy_parse("", classes, 5, &p, &eb), 0);
		T_EQ(p.nrules, 0);
	}
	T_CASE("thresholds: NaN, infinities, out of range refused with line and column") {
		static const struct {
			const char *text, *msg;
		} bad[] = {
			{"blk=block: drawing>=nan", "threshold \"nan\" at line 1, column 21"},
			{"b=block: drawing>=inf", "\"inf\" at line 1, column 19"},
			{"b=block: drawing>=-inf", "\"-inf\""},
			{"b=block: drawing>=infinity", "\"infinity\""},
			{"b=block: drawing>=NAN", "\"NAN\""},
			{"a=flag: porn>0.5;\n  b=block: drawing>=1.5", "\"1.5\" at line 2, column 21"},
			{"b=block: drawing>=-0.1", "\"-0.1\""},
			{"b=block: drawing>=1e-1", "\"1e-1\""},
			{"b=block: drawing>=0x1", "\"0x1\""},
			{"b=block: drawing>=.", "\".\""},
			{"b=block: drawing>=0.5.5", "\"0.5.5\""},
			{"b=block: drawing>=", "at line 1, column 19"},
		};
		float s[5] = {0.5f, 0, 0, 0, 0};

		for (size_t i = 0; i < PX_ARRAY_LEN(bad); i++) {
			memset(&eb, 0, sizeof(eb));
			T_EQ(px_policy_parse(bad[i].text, classes, 5, &p, &eb), PX_EINVAL);
			T_OK(strstr(eb.msg, bad[i].msg) != NULL);
			if (!strstr(eb.msg, bad[i].msg))
				printf("  %s -> %s\n", bad[i].text, eb.msg);
		}
		T_EQ(px_policy_parse("b=block: drawing>=0.5 | porn > .25 ; c=flag: sexy>=1. & hentai<=0",
				     classes, 5, &p, &eb), 0);
		T_EQ(p.rules[0].terms[1].value, 0.25);
		T_EQ(p.rules[1].terms[0].value, 1.0);
		T_EQ(px_policy_eval(&p, s, &rule), PX_VERDICT_BLOCK);
	}
}
