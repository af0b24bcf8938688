/*
 * fuzz_policy.c - libFuzzer target for the moderation policy parser.
 *
 * The input is taken as policy text. Oracle: a policy that parses has at
 * most PX_POLICY_MAX_RULES rules, each with at least one term, every
 * threshold a finite number in [0, 1] and every class index in range, and
 * evaluating it on any scores returns one of the three verdicts; a text
 * that does not parse leaves a message.
 */
#include "moderation/policy.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *classes[] = {"drawing", "hentai", "neutral", "porn",
					"sexy"};
	static const float probes[][5] = {
		{0, 0, 0, 0, 0}, {1, 1, 1, 1, 1}, {0.5f, 0.1f, 0.2f, 0.9f, 0.3f}};
	struct px_errbuf eb = {0};
	struct px_policy pol;
	const char *rule;
	char *text;
	int rc;

	if (size > 8192)
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	rc = px_policy_parse(text, classes, 5, &pol, &eb);
	if (rc) {
		if (rc != PX_EINVAL || !eb.msg[0])
			abort();
		free(text);
		return 0;
	}
	if (pol.nrules < 0 || pol.nrules > PX_POLICY_MAX_RULES)
		abort();
	for (int i = 0; i < pol.nrules; i++) {
		const struct px_policy_rule *r = &pol.rules[i];

		if (r->nterms < 1 || r->nterms > PX_POLICY_MAX_TERMS || !r->name[0])
			abort();
		for (int k = 0; k < r->nterms; k++) {
			double v = r->terms[k].value;

			if (!isfinite(v) || v < 0 || v > 1 ||
			    r->terms[k].cls < 0 || r->terms[k].cls >= 5)
				abort();
		}
	}
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		enum px_verdict v = px_policy_eval(&pol, probes[i], &rule);

		if ((v != PX_VERDICT_APPROVE && v != PX_VERDICT_FLAG &&
		     v != PX_VERDICT_BLOCK) || !rule)
			abort();
	}
	free(text);
	return 0;
}
