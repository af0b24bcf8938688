/*
 * sessions.c - console sessions in the metadata store (see sessions.h).
 *
 * A check is one read of sess/<hash> and one of the token behind it
 * (px_tokens_get), so a revoked token ends its sessions on their next
 * request. Dead sessions found by a check are removed then; the rest are
 * swept at each sign-in, which also bounds their number.
 */
#include "console/sessions.h"
#include "core/crypto.h"

#include <jansson.h>

struct px_sessions {
	struct px_kv *kv;
	struct px_tokens *tokens;
	char admin_hash[PX_SHA256_HEX_LEN + 1]; /* "" when no admin token */
	int64_t ttl_us;
};

#define KEY_MAX (5 + PX_SHA256_HEX_LEN + 1)

int px_sessions_new(struct px_kv *kv, struct px_tokens *tokens,
		    const char *admin_token, int64_t ttl_us,
		    struct px_sessions **out)
{
	struct px_sessions *s = calloc(1, sizeof(*s));

	*out = s;
	if (!s)
		return PX_ENOMEM;
	s->kv = kv;
	s->tokens = tokens;
	s->ttl_us = ttl_us;
	if (admin_token && admin_token[0] &&
	    px_sha256_hex(admin_token, strlen(admin_token), s->admin_hash)) {
		free(s);
		*out = NULL;
		return PX_EINTERNAL;
	}
	return 0;
}

void px_sessions_free(struct px_sessions *s)
{
	free(s);
}

bool px_session_secret_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (i == PX_SESSION_SECRET_LEN ||
		    !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == PX_SESSION_SECRET_LEN;
}

static int key_of(const char *secret, char key[KEY_MAX])
{
	memcpy(key, "sess/", 5);
	return px_sha256_hex(secret, strlen(secret), key + 5);
}

static json_t *record_json(const struct px_session *ss, const char *admin)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:I}", "tid", ss->token_id,
			      "name", ss->token_name, "csrf", ss->csrf,
			      "created_us", (json_int_t)ss->created_us,
			      "expires_us", (json_int_t)ss->expires_us);

	if (o && admin && json_object_set_new(o, "admin", json_string(admin))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The stored record; admin receives the admin token's hash ("" for a
 * scoped token's session). */
static int decode(const void *p, size_t n, struct px_session *ss,
		  char admin[PX_SHA256_HEX_LEN + 1])
{
	json_t *o = json_loadb(p, n, 0, NULL);
	const char *tid, *name, *csrf, *adm;
	int rc = PX_ECORRUPT;

	memset(ss, 0, sizeof(*ss));
	admin[0] = '\0';
	if (!json_is_object(o))
		goto out;
	tid = json_string_value(json_object_get(o, "tid"));
	name = json_string_value(json_object_get(o, "name"));
	csrf = json_string_value(json_object_get(o, "csrf"));
	adm = json_string_value(json_object_get(o, "admin"));
	if (!tid || !name || !csrf || strlen(csrf) != PX_SESSION_CSRF_LEN)
		goto out;
	px_strlcpy(ss->token_id, tid, sizeof(ss->token_id));
	px_strlcpy(ss->token_name, name, sizeof(ss->token_name));
	px_strlcpy(ss->csrf, csrf, sizeof(ss->csrf));
	if (adm)
		px_strlcpy(admin, adm, PX_SHA256_HEX_LEN + 1);
	ss->created_us = json_integer_value(json_object_get(o, "created_us"));
	ss->expires_us = json_integer_value(json_object_get(o, "expires_us"));
	rc = 0;
out:
	json_decref(o);
	return rc;
}

/*
 * Is the token behind a session valid at now_us from client? Fills the
 * scopes and narrows expires_us to the token's own expiry. For the admin
 * token, admin is the hash it had at sign-in: a changed admin token ends
 * its sessions.
 */
static int token_alive(struct px_sessions *s, struct px_session *ss,
		       const char *admin, const struct px_ip *client,
		       int64_t now_us, bool *keep, struct px_errbuf *eb)
{
	struct px_errbuf teb = {0};
	struct px_token t;
	int rc;

	if (admin[0]) {
		if (!s->admin_hash[0] ||
		    !px_ct_equal(admin, s->admin_hash, PX_SHA256_HEX_LEN) ||
		    strlen(admin) != PX_SHA256_HEX_LEN)
			return px_errc(eb, PX_EINVAL, "not_signed_in",
				       "the admin token has changed");
		ss->scopes = PX_SCOPE_BIT(PX_SCOPE_ADMIN);
		return 0;
	}
	if (!s->tokens)
		return px_errc(eb, PX_EINVAL, "not_signed_in", "no such token");
	rc = px_tokens_get(s->tokens, ss->token_id, client, now_us, &t, &teb);
	*keep = rc == PX_EINVAL && teb.code &&
		!strcmp(teb.code, "address_not_allowed");
	if (rc == PX_EINVAL)
		return px_errc(eb, rc, "not_signed_in",
			       "the session's token is no longer valid: %s",
			       teb.msg);
	if (rc)
		return px_errf(eb, rc, "%s", teb.msg);
	ss->scopes = t.scopes;
	if (t.expires_us && t.expires_us < ss->expires_us)
		ss->expires_us = t.expires_us;
	return 0;
}

struct sweep_ctx {
	int64_t now_us;
	size_t live;
	char (*dead)[KEY_MAX];
	size_t ndead, cap;
};

static int sweep_one(void *ctx, const void *k, size_t nk, const void *v,
		     size_t nv)
{
	struct sweep_ctx *sc = ctx;
	char admin[PX_SHA256_HEX_LEN + 1];
	struct px_session ss;

	if (decode(v, nv, &ss, admin) == 0 && ss.expires_us > sc->now_us) {
		sc->live++;
		return 0;
	}
	if (nk >= KEY_MAX)
		return 0;
	if (sc->ndead == sc->cap) {
		size_t cap = sc->cap ? sc->cap * 2 : 64;
		char (*p)[KEY_MAX] = realloc(sc->dead, cap * KEY_MAX);

		if (!p)
			return PX_ENOMEM;
		sc->dead = p;
		sc->cap = cap;
	}
	memcpy(sc->dead[sc->ndead], k, nk);
	sc->dead[sc->ndead][nk] = '\0';
	sc->ndead++;
	return 0;
}

/* In txn (a write transaction): drop ended sessions, count the rest. */
static int sweep_txn(struct px_kv_txn *txn, int64_t now_us, size_t *live,
		     unsigned *removed, struct px_errbuf *eb)
{
	struct sweep_ctx sc = {now_us, 0, NULL, 0, 0};
	int rc;

	rc = px_kv_scan(txn, "sess/", 5, NULL, 0, 0, sweep_one, &sc, eb);
	for (size_t i = 0; !rc && i < sc.ndead; i++)
		rc = px_kv_dels(txn, sc.dead[i], eb);
	if (live)
		*live = sc.live;
	if (removed)
		*removed = (unsigned)sc.ndead;
	free(sc.dead);
	return rc;
}

int px_sessions_sweep(struct px_sessions *s, int64_t now_us,
		      unsigned *removed, struct px_errbuf *eb)
{
	struct px_kv_txn *txn;
	int rc;

	if ((rc = px_kv_begin(s->kv, 0, &txn, eb)))
		return rc;
	if ((rc = sweep_txn(txn, now_us, NULL, removed, eb))) {
		px_kv_abort(txn);
		return rc;
	}
	return px_kv_commit(txn, eb);
}

/* Which token is this, and is it valid now? Fills id, name, scopes and
 * the token's expiry (0: none); admin gets the admin token's hash. */
static int sign_in_token(struct px_sessions *s, const char *api_token,
			 const struct px_ip *client, int64_t now_us,
			 struct px_session *ss, int64_t *tok_expires,
			 char admin[PX_SHA256_HEX_LEN + 1], struct px_errbuf *eb)
{
	struct px_errbuf teb = {0};
	struct px_token t;
	char hash[PX_SHA256_HEX_LEN + 1];
	int rc;

	admin[0] = '\0';
	*tok_expires = 0;
	if (s->admin_hash[0]) {
		if (px_sha256_hex(api_token, strlen(api_token), hash))
			return px_errf(eb, PX_EINTERNAL, "hash failed");
		if (px_ct_equal(hash, s->admin_hash, PX_SHA256_HEX_LEN)) {
			px_strlcpy(ss->token_id, PX_SESSION_ADMIN_ID,
				   sizeof(ss->token_id));
			px_strlcpy(ss->token_name, "admin", sizeof(ss->token_name));
			ss->scopes = PX_SCOPE_BIT(PX_SCOPE_ADMIN);
			px_strlcpy(admin, s->admin_hash, PX_SHA256_HEX_LEN + 1);
			return 0;
		}
	}
	if (!s->tokens)
		return px_errc(eb, PX_EINVAL, "invalid_token", "not a valid token");
	rc = px_tokens_check(s->tokens, api_token, client, now_us, &t, &teb);
	if (rc == PX_EINVAL)
		return px_errc(eb, rc, "invalid_token", "%s",
			       teb.code && !strcmp(teb.code, "unauthorized")
				       ? "not a valid token"
				       : teb.msg);
	if (rc)
		return px_errf(eb, rc, "%s", teb.msg);
	px_strlcpy(ss->token_id, t.id, sizeof(ss->token_id));
	px_strlcpy(ss->token_name, t.name, sizeof(ss->token_name));
	ss->scopes = t.scopes;
	*tok_expires = t.expires_us;
	return 0;
}

int px_sessions_create(struct px_sessions *s, const char *api_token,
		       const struct px_ip *client, int64_t now_us,
		       char secret[PX_SESSION_SECRET_LEN + 1],
		       struct px_session *out, struct px_errbuf *eb)
{
	char key[KEY_MAX], admin[PX_SHA256_HEX_LEN + 1];
	struct px_kv_txn *txn = NULL;
	struct px_session ss;
	int64_t tok_expires;
	char *text = NULL;
	json_t *o = NULL;
	size_t live;
	int rc;

	memset(&ss, 0, sizeof(ss));
	memset(out, 0, sizeof(*out));
	secret[0] = '\0';
	if ((rc = sign_in_token(s, api_token, client, now_us, &ss, &tok_expires,
				admin, eb)))
		return rc;
	if ((rc = px_random_hex(secret, PX_SESSION_SECRET_LEN / 2)) ||
	    (rc = px_random_hex(ss.csrf, PX_SESSION_CSRF_LEN / 2)))
		return px_errf(eb, rc, "no randomness");
	ss.created_us = now_us;
	ss.expires_us = now_us + s->ttl_us;
	/* A session never outlives its token: the cookie's Max-Age says
	 * so too. The check would end it then anyway. */
	if (tok_expires && tok_expires < ss.expires_us)
		ss.expires_us = tok_expires;
	o = record_json(&ss, admin[0] ? admin : NULL);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (!text) {
		rc = px_errf(eb, PX_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = key_of(secret, key)))
		goto out;
	if ((rc = px_kv_begin(s->kv, 0, &txn, eb)))
		goto out;
	if ((rc = sweep_txn(txn, now_us, &live, NULL, eb)))
		goto out;
	if (live >= PX_SESSIONS_MAX) {
		rc = px_errc(eb, PX_ETOOBIG, "too_many_sessions",
			     "at most %d console sessions; sign out of some "
			     "or wait for them to expire", PX_SESSIONS_MAX);
		goto out;
	}
	if ((rc = px_kv_puts(txn, key, text, strlen(text), PX_KV_NOOVERWRITE, eb)))
		goto out;
	rc = px_kv_commit(txn, eb);
	txn = NULL;
	if (!rc)
		*out = ss;
out:
	px_kv_abort(txn);
	if (rc)
		memset(secret, 0, PX_SESSION_SECRET_LEN + 1);
	free(text);
	json_decref(o);
	return rc;
}

static void drop(struct px_sessions *s, const char *key)
{
	struct px_errbuf eb = {0};
	struct px_kv_txn *txn;

	if (px_kv_begin(s->kv, 0, &txn, &eb))
		return;
	if (px_kv_dels(txn, key, &eb))
		px_kv_abort(txn);
	else
		px_kv_commit(txn, &eb);
}

int px_sessions_check(struct px_sessions *s, const char *secret,
		      const struct px_ip *client, int64_t now_us,
		      struct px_session *out, struct px_errbuf *eb)
{
	char key[KEY_MAX], admin[PX_SHA256_HEX_LEN + 1];
	struct px_kv_txn *txn;
	struct px_buf b;
	bool keep = false;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!px_session_secret_valid(secret))
		return px_errc(eb, PX_EINVAL, "not_signed_in", "no valid session");
	if ((rc = key_of(secret, key)))
		return rc;
	px_buf_init(&b, 1 << 14);
	if ((rc = px_kv_begin(s->kv, PX_KV_RDONLY, &txn, eb)))
		goto out;
	rc = px_kv_gets(txn, key, &b, eb);
	px_kv_abort(txn);
	if (rc == PX_ENOTFOUND) {
		rc = px_errc(eb, PX_EINVAL, "not_signed_in", "no valid session");
		goto out;
	}
	if (rc)
		goto out;
	if (decode(b.data, b.len, out, admin)) {
		drop(s, key);
		rc = px_errc(eb, PX_EINVAL, "not_signed_in", "no valid session");
		goto out;
	}
	if (now_us >= out->expires_us) {
		drop(s, key);
		rc = px_errc(eb, PX_EINVAL, "not_signed_in", "the session has expired");
		goto out;
	}
	rc = token_alive(s, out, admin, client, now_us, &keep, eb);
	/* A token used from an address outside its ranges is refused
	 * there, but the session stays for the address that may use it. */
	if (rc == PX_EINVAL && !keep)
		drop(s, key);
out:
	if (rc)
		memset(out, 0, sizeof(*out));
	px_buf_release(&b);
	return rc;
}

int px_sessions_revoke(struct px_sessions *s, const char *secret,
		       struct px_errbuf *eb)
{
	char key[KEY_MAX];
	struct px_kv_txn *txn;
	int rc;

	if (!px_session_secret_valid(secret))
		return px_errc(eb, PX_ENOTFOUND, "not_signed_in", "no such session");
	if ((rc = key_of(secret, key)))
		return rc;
	if ((rc = px_kv_begin(s->kv, 0, &txn, eb)))
		return rc;
	rc = px_kv_dels(txn, key, eb);
	if (rc) {
		px_kv_abort(txn);
		if (rc == PX_ENOTFOUND)
			return px_errc(eb, rc, "not_signed_in", "no such session");
		return rc;
	}
	return px_kv_commit(txn, eb);
}
