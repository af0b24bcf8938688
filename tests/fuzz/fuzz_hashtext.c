/*
 * fuzz_hashtext.c - libFuzzer target for the hash-list import parser.
 *
 * Oracle: every hash reported is spelled, in either case, on the line
 * it is reported for, and line numbers only grow.
 */
#include "hash/hashtext.h"

#include <ctype.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	const char *lower; /* the input lower-cased */
	size_t n;
	int last;
};

static int one(void *arg, const struct px_pdq *h, int line)
{
	struct ctx *c = arg;
	char hex[PX_PDQ_HEX_LEN + 1];
	const char *p = c->lower, *e = c->lower + c->n, *nl;

	if (line <= c->last)
		__builtin_trap();
	c->last = line;
	for (int i = 1; i < line; i++) {
		if (!(nl = memchr(p, '\n', (size_t)(e - p))))
			__builtin_trap();
		p = nl + 1;
	}
	nl = memchr(p, '\n', (size_t)(e - p));
	px_pdq_hex(h, hex);
	if (!memmem(p, (size_t)((nl ? nl : e) - p), hex, PX_PDQ_HEX_LEN))
		__builtin_trap();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct px_errbuf eb = {0};
	struct ctx c = {0};
	char *lower = malloc(size ? size : 1);

	if (!lower)
		return 0;
	for (size_t i = 0; i < size; i++)
		lower[i] = (char)tolower(data[i]);
	c.lower = lower;
	c.n = size;
	px_hashtext_parse((const char *)data, size, one, &c, &eb);
	free(lower);
	return 0;
}
