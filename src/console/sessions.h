/*
 * sessions.h - admin console sessions: the one owner of their state.
 *
 * Signing in to the console exchanges an API token (the admin token or a
 * scoped one) for a session: a 256-bit random secret the browser keeps in
 * an HttpOnly cookie, plus a CSRF token the page keeps and sends back in
 * X-CSRF-Token on every state-changing call. A session carries no scopes
 * of its own: every check reads its API token again, so a session dies
 * with its token (revoked, expired, no longer allowed from the client's
 * address; for the admin token, changed) and its scopes are the token's
 * as they are now.
 *
 * The secret is stored only as its SHA-256 (as tokens are): a stolen
 * store yields no usable cookie. Sessions survive a restart; they end at
 * their expiry (the configured lifetime from sign-in, or the token's own
 * expiry if that comes first) or when revoked (sign-out).
 *
 * kv layout: sess/<sha256 hex of the secret> ->
 *   {"tid","name","admin":<sha256 of the admin token, admin sessions
 *    only>,"csrf","created_us","expires_us"}
 * Only this module reads or writes sess/ keys.
 */
#ifndef PX_SESSIONS_H
#define PX_SESSIONS_H

#include "access/tokens.h"

#define PX_SESSION_SECRET_LEN 64 /* hex of 256 random bits */
#define PX_SESSION_CSRF_LEN 64
#define PX_SESSIONS_MAX 10000
#define PX_SESSION_ADMIN_ID "admin"

struct px_session {
	char token_id[PX_TOKEN_ID_LEN + 1]; /* "admin" for the admin token */
	char token_name[PX_TOKEN_NAME_MAX + 1];
	uint32_t scopes;    /* the token's, as they are now */
	int64_t created_us;
	int64_t expires_us; /* the session's end, or the token's if sooner */
	char csrf[PX_SESSION_CSRF_LEN + 1];
};

struct px_sessions;

/* Open over a store and a token set the caller keeps open; admin_token
 * (copied; NULL: the admin token cannot sign in) is the bootstrap token;
 * ttl_us is a session's lifetime. */
int px_sessions_new(struct px_kv *kv, struct px_tokens *tokens,
		    const char *admin_token, int64_t ttl_us,
		    struct px_sessions **out);
void px_sessions_free(struct px_sessions *s); /* accepts NULL */

/*
 * Sign in with an API token presented by a client (NULL: unknown
 * address) at now_us. On success the session's secret (for the cookie,
 * PX_SESSION_SECRET_LEN chars and a NUL) goes to secret and the session
 * to *out. Expired sessions are swept first. PX_EINVAL with code
 * "invalid_token" (wrong, revoked, expired, or not allowed from client);
 * PX_ETOOBIG with code "too_many_sessions" past PX_SESSIONS_MAX; PX_EIO
 * for a store failure.
 */
int px_sessions_create(struct px_sessions *s, const char *api_token,
		       const struct px_ip *client, int64_t now_us,
		       char secret[PX_SESSION_SECRET_LEN + 1],
		       struct px_session *out, struct px_errbuf *eb);

/*
 * The session whose secret is presented, checked at now_us from client:
 * 0 and the session in *out, or PX_EINVAL with code "not_signed_in"
 * (malformed, unknown, revoked, expired, or its token no longer valid;
 * a dead session's record is removed). PX_EIO for a store failure.
 */
int px_sessions_check(struct px_sessions *s, const char *secret,
		      const struct px_ip *client, int64_t now_us,
		      struct px_session *out, struct px_errbuf *eb);

/* End a session (sign-out). PX_ENOTFOUND when there is none. */
int px_sessions_revoke(struct px_sessions *s, const char *secret,
		       struct px_errbuf *eb);

/* Remove every session that ended before now_us; the count in *removed
 * (may be NULL). */
int px_sessions_sweep(struct px_sessions *s, int64_t now_us,
		      unsigned *removed, struct px_errbuf *eb);

/* True if s is PX_SESSION_SECRET_LEN lowercase hex digits. */
bool px_session_secret_valid(const char *s);

#endif
