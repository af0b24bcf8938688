/*
 * fuzz_change.c - libFuzzer target for the decoder of messages between
 * nodes (catalog/watch.h). Any session on the PostgreSQL database may
 * NOTIFY on Pictor's channel, so a payload is untrusted bytes. Oracle: an
 * accepted message has a node id and exactly the fields of its kind
 * (a valid id and a 64-hex digest for an image, one of digest, variant or
 * everything for a purge), none holding a space; and writing it out again
 * and decoding that gives the same message.
 */
#include "catalog/watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_word(const char *s)
{
	if (!s || !*s || strchr(s, ' '))
		abort();
}

static void render(const char *node, const struct px_change *c, char *out,
		   size_t n)
{
	switch (c->kind) {
	case PX_CHANGE_IMAGE:
		snprintf(out, n, "%s image %s %s", node, c->id, c->sha256);
		break;
	case PX_CHANGE_VARIANT:
		snprintf(out, n, "%s variant %s", node, c->variant);
		break;
	case PX_CHANGE_PURGE:
		if (c->everything)
			snprintf(out, n, "%s purge all", node);
		else if (c->sha256)
			snprintf(out, n, "%s purge sha %s", node, c->sha256);
		else
			snprintf(out, n, "%s purge variant %s", node, c->variant);
		break;
	case PX_CHANGE_OUTBOX:
		snprintf(out, n, "%s outbox", node);
		break;
	case PX_CHANGE_JOB:
		snprintf(out, n, "%s job", node);
		break;
	default:
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct px_change c, c2;
	const char *node, *node2;
	char *text, again[8192];

	if (size > 4000)
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (px_change_parse(text, &node, &c) == 0) {
		check_word(node);
		if (c.kind == PX_CHANGE_IMAGE) {
			check_word(c.id);
			if (!px_catalog_valid_id(c.id) || strlen(c.sha256) != 64)
				abort();
		}
		if (c.kind == PX_CHANGE_VARIANT)
			check_word(c.variant);
		if (c.kind == PX_CHANGE_PURGE &&
		    (!!c.everything + !!c.sha256 + !!c.variant) != 1)
			abort();
		render(node, &c, again, sizeof(again));
		if (px_change_parse(again, &node2, &c2) || strcmp(node, node2) ||
		    c.kind != c2.kind || c.everything != c2.everything ||
		    !c.id != !c2.id || (c.id && strcmp(c.id, c2.id)) ||
		    !c.sha256 != !c2.sha256 ||
		    (c.sha256 && strcmp(c.sha256, c2.sha256)) ||
		    !c.variant != !c2.variant ||
		    (c.variant && strcmp(c.variant, c2.variant)))
			abort();
	}
	free(text);
	return 0;
}
