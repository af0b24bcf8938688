/*
 * tokens.h - scoped API tokens: the one owner of their state.
 *
 * A token has an id, a name, a set of scopes, an optional expiry and
 * optional client address ranges. Its secret is shown once, at creation,
 * and stored only as its SHA-256: the secret is 256 random bits, so a
 * fast hash is enough and a stolen store yields no usable token.
 *
 * Secret format: "pxt_" <16 hex: the id> "_" <64 hex: random>. The id in
 * the secret finds the record in one read; the hash is compared in
 * constant time. Every request reads the record, so revocation and expiry
 * take effect on the next request.
 *
 * kv layout: tok/<id> -> {"id","name","scopes":[...],"created_us",
 *                         "expires_us","cidrs":[...],"sha256"}
 * Only this module reads or writes tok/ keys.
 */
#ifndef PX_TOKENS_H
#define PX_TOKENS_H

#include "access/scope.h"
#include "core/netaddr.h"
#include "core/timefmt.h"
#include "meta/kv.h"

#define PX_TOKEN_ID_LEN 16
#define PX_TOKEN_NAME_MAX 128
#define PX_TOKEN_CIDRS_MAX 16
#define PX_TOKEN_SECRET_LEN (4 + PX_TOKEN_ID_LEN + 1 + 64)
#define PX_TOKENS_MAX 10000

struct px_token {
	char id[PX_TOKEN_ID_LEN + 1];
	char name[PX_TOKEN_NAME_MAX + 1];
	uint32_t scopes;     /* PX_SCOPE_BIT()s */
	int64_t created_us;
	int64_t expires_us;  /* 0: never */
	struct px_cidr cidrs[PX_TOKEN_CIDRS_MAX];
	int n_cidrs;         /* 0: any client address */
};

struct px_tokens;
struct json_t;

/* Open over a store the caller keeps open for the module's lifetime. */
int px_tokens_new(struct px_kv *kv, struct px_tokens **out);
void px_tokens_free(struct px_tokens *ts); /* accepts NULL */

/*
 * Store a new token. The caller fills name, scopes (at least one),
 * expires_us and cidrs; id and created_us are filled in here and the
 * secret (PX_TOKEN_SECRET_LEN chars and a NUL) goes to secret, which the
 * caller shows once and forgets. PX_EINVAL for a bad name or no scopes,
 * PX_ETOOBIG past PX_TOKENS_MAX.
 */
int px_tokens_create(struct px_tokens *ts, struct px_token *t,
		     char secret[PX_TOKEN_SECRET_LEN + 1], struct px_errbuf *eb);

/* Every token in id order (creation order: ids are time-ordered);
 * fn returns nonzero to stop. */
int px_tokens_list(struct px_tokens *ts,
		   int (*fn)(void *ctx, const struct px_token *t), void *ctx,
		   struct px_errbuf *eb);

/* Delete a token; it stops working at once. PX_ENOTFOUND. */
int px_tokens_revoke(struct px_tokens *ts, const char *id,
		     struct px_errbuf *eb);

/*
 * Check a presented secret at time now_us from client (NULL: unknown).
 * 0 and the token in *out when it is valid there. Otherwise PX_EINVAL
 * with eb->code "unauthorized" (malformed, unknown, revoked, wrong),
 * "token_expired", or "address_not_allowed" (a valid token used from an
 * address outside its ranges); PX_EIO for a store failure.
 */
int px_tokens_check(struct px_tokens *ts, const char *secret,
		    const struct px_ip *client, int64_t now_us,
		    struct px_token *out, struct px_errbuf *eb);

/* The token with id as px_tokens_check would find it at now_us from
 * client, without the secret: for a caller that proved the secret
 * earlier (a console session). The same errors. */
int px_tokens_get(struct px_tokens *ts, const char *id,
		  const struct px_ip *client, int64_t now_us,
		  struct px_token *out, struct px_errbuf *eb);

/* The token as the API shows it (never the secret or its hash): id,
 * name, scopes, created_on, expires_on (null: never), allowed_cidrs.
 * A new reference; NULL when out of memory. */
struct json_t *px_token_json(const struct px_token *t);

/* `pictor token create|list|revoke` (argv after "token"); the exit
 * status. */
int px_token_cli(int argc, char **argv);

#endif
