/*
 * fuzz_rules.c - libFuzzer target for the rules file parser.
 *
 * The input is parsed as a rules file; a set that parses is matched
 * against a fixed request. Oracle: every rule's line number lies within
 * the text and names are unique.
 */
#include "guard/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *header(void *ctx, const char *name)
{
	(void)ctx;
	return !strcmp(name, "User-Agent") ? "Mozilla/5.0 python-requests" : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct px_errbuf eb = {0};
	struct px_rules *rs = NULL;
	struct px_ip client;
	char *text;
	int lines = 1;

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (size_t i = 0; i < size; i++)
		lines += text[i] == '\n';
	if (px_rules_parse(text, &rs, &eb) == 0) {
		struct px_rule_input in = {&client, "GET", "/img/abc/w=10,blur=3",
					   header, NULL};

		px_ip_parse("192.0.2.1", &client);
		for (int i = 0; i < rs->n; i++) {
			if (rs->a[i].line < 1 || rs->a[i].line > lines)
				abort();
			for (int j = 0; j < i; j++)
				if (!strcmp(rs->a[i].name, rs->a[j].name))
					abort();
		}
		px_rules_match(rs, &in);
		px_rules_free(rs);
	}
	free(text);
	return 0;
}
