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
}
