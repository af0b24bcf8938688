/*
 * scope.h - what a caller may do: the scopes a token carries and a route
 * requires.
 *
 * Scopes are a closed set, kept as bits of a uint32_t. PX_SCOPE_PUBLIC is
 * not a scope a token can hold: it marks the routes that need no token
 * (health, delivery, one-time upload URLs). PX_SCOPE_UNSET is the zero
 * value, so a route row that forgets its scope is caught by the tests
 * that walk the route table rather than silently made public.
 */
#ifndef PX_SCOPE_H
#define PX_SCOPE_H

#include "core/common.h"

enum px_scope {
	PX_SCOPE_UNSET = 0,
	PX_SCOPE_PUBLIC,
	PX_SCOPE_IMAGES_READ,
	PX_SCOPE_IMAGES_WRITE,
	PX_SCOPE_IMAGES_DELETE,
	PX_SCOPE_VARIANTS_WRITE,
	PX_SCOPE_MODERATION_REVIEW,
	PX_SCOPE_CACHE_PURGE,
	PX_SCOPE_TOKENS_WRITE,
	PX_SCOPE_STATS_READ,
	PX_SCOPE_ADMIN, /* every scope */
	PX_SCOPE_COUNT
};

#define PX_SCOPE_BIT(s) ((uint32_t)1 << (s))

/* The scope's name ("images:read", "public", "unset"); never NULL. */
const char *px_scope_name(enum px_scope s);

/* The grantable scope named by the n bytes at name (not "public" or
 * "unset"); PX_SCOPE_UNSET when there is none. */
enum px_scope px_scope_parse(const char *name, size_t n);

/* True if a caller holding the scope bits in have may use a route that
 * requires need: public routes always, "admin" holders always. */
bool px_scope_allows(uint32_t have, enum px_scope need);

/* Append the names of the scopes in bits to out as a JSON array. */
struct px_buf;
int px_scope_json(uint32_t bits, struct px_buf *out);

#endif
