/*
 * scope.c - scope names and the one rule that says whether a set of
 * scopes allows a route.
 */
#include "access/scope.h"
#include "core/buf.h"

static const char *const names[PX_SCOPE_COUNT] = {
	[PX_SCOPE_UNSET] = "unset",
	[PX_SCOPE_PUBLIC] = "public",
	[PX_SCOPE_IMAGES_READ] = "images:read",
	[PX_SCOPE_IMAGES_WRITE] = "images:write",
	[PX_SCOPE_IMAGES_DELETE] = "images:delete",
	[PX_SCOPE_VARIANTS_WRITE] = "variants:write",
	[PX_SCOPE_MODERATION_REVIEW] = "moderation:review",
	[PX_SCOPE_CACHE_PURGE] = "cache:purge",
	[PX_SCOPE_TOKENS_WRITE] = "tokens:write",
	[PX_SCOPE_STATS_READ] = "stats:read",
	[PX_SCOPE_ADMIN] = "admin",
};

const char *px_scope_name(enum px_scope s)
{
	if ((int)s < 0 || s >= PX_SCOPE_COUNT)
		return "unset";
	return names[s];
}

enum px_scope px_scope_parse(const char *name, size_t n)
{
	for (int s = PX_SCOPE_IMAGES_READ; s < PX_SCOPE_COUNT; s++)
		if (strlen(names[s]) == n && !memcmp(names[s], name, n))
			return (enum px_scope)s;
	return PX_SCOPE_UNSET;
}

bool px_scope_allows(uint32_t have, enum px_scope need)
{
	if (need == PX_SCOPE_PUBLIC)
		return true;
	if (need <= PX_SCOPE_PUBLIC || need >= PX_SCOPE_COUNT)
		return false; /* an unset scope allows nobody */
	return (have & PX_SCOPE_BIT(PX_SCOPE_ADMIN)) ||
	       (have & PX_SCOPE_BIT(need));
}

int px_scope_json(uint32_t bits, struct px_buf *out)
{
	bool first = true;
	int rc = px_buf_adds(out, "[");

	for (int s = PX_SCOPE_IMAGES_READ; !rc && s < PX_SCOPE_COUNT; s++) {
		if (!(bits & PX_SCOPE_BIT(s)))
			continue;
		rc = px_buf_addf(out, "%s\"%s\"", first ? "" : ",", names[s]);
		first = false;
	}
	return rc ? rc : px_buf_adds(out, "]");
}
