/*
 * tokens.c - /v1/tokens: scoped API tokens (state owned by access/tokens.c).
 *
 *   POST   /v1/tokens       {"name", "scopes": [...], "expires_on" |
 *                            "expires_in", "allowed_cidrs": [...]}
 *                           -> 201, the token and its "value" (shown once)
 *   GET    /v1/tokens       {"tokens": [...]} (never a secret)
 *   DELETE /v1/tokens/{id}  revokes at once
 *
 * A caller can grant only scopes it holds itself, so tokens:write alone
 * cannot mint an admin token. Creation and revocation go to the audit
 * log with the calling token as actor (never a secret).
 */
#include "api/app.h"

#include <jansson.h>

#define MAX_LIFETIME_S (10LL * 366 * 24 * 3600)

static int parse_scopes(json_t *arr, uint32_t *bits, struct px_errbuf *eb)
{
	size_t i;
	json_t *v;

	*bits = 0;
	if (!json_is_array(arr) || !json_array_size(arr))
		return px_errc(eb, PX_EINVAL, "invalid_request",
			       "\"scopes\" must be a non-empty array of scope names");
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);
		enum px_scope sc = s ? px_scope_parse(s, json_string_length(v))
				     : PX_SCOPE_UNSET;

		if (sc == PX_SCOPE_UNSET)
			return px_errc(eb, PX_EINVAL, "invalid_scope",
				       "unknown scope \"%.64s\"", s ? s : "?");
		*bits |= PX_SCOPE_BIT(sc);
	}
	return 0;
}

static int parse_expiry(json_t *o, int64_t now, int64_t *exp,
			struct px_errbuf *eb)
{
	json_t *on = json_object_get(o, "expires_on");
	json_t *in = json_object_get(o, "expires_in");

	*exp = 0;
	if (on && in && !json_is_null(on) && !json_is_null(in))
		return px_errc(eb, PX_EINVAL, "invalid_request",
			       "give expires_on or expires_in, not both");
	if (in && !json_is_null(in)) {
		if (!json_is_integer(in) || json_integer_value(in) < 1 ||
		    json_integer_value(in) > MAX_LIFETIME_S)
			return px_errc(eb, PX_EINVAL, "invalid_request",
				       "expires_in must be whole seconds, 1 to %lld",
				       MAX_LIFETIME_S);
		*exp = now + (int64_t)json_integer_value(in) * 1000000;
	} else if (on && !json_is_null(on)) {
		if (!json_is_string(on) ||
		    px_time_parse(json_string_value(on), exp))
			return px_errc(eb, PX_EINVAL, "invalid_request",
				       "expires_on must be a UTC time such as 2030-01-01T00:00:00Z");
		if (*exp <= now || *exp - now > MAX_LIFETIME_S * 1000000)
			return px_errc(eb, PX_EINVAL, "invalid_request",
				       "expires_on must be in the future, within 10 years");
	}
	return 0;
}

static int parse_cidrs(json_t *arr, struct px_token *t, struct px_errbuf *eb)
{
	size_t i;
	json_t *v;

	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return px_errc(eb, PX_EINVAL, "invalid_request",
			       "\"allowed_cidrs\" must be an array such as [\"10.0.0.0/8\"]");
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);

		if (t->n_cidrs == PX_TOKEN_CIDRS_MAX)
			return px_errc(eb, PX_EINVAL, "invalid_request",
				       "at most %d address ranges", PX_TOKEN_CIDRS_MAX);
		if (!s || px_cidr_parse(s, json_string_length(v),
					&t->cidrs[t->n_cidrs]))
			return px_errc(eb, PX_EINVAL, "invalid_cidr",
				       "\"%.64s\" is not an address range such as 10.0.0.0/8",
				       s ? s : "?");
		t->n_cidrs++;
	}
	return 0;
}

void px_api_token_create(struct px_app *a, struct px_req *r,
			 const struct px_call *c)
{
	const struct px_buf *body = px_req_body(r);
	char secret[PX_TOKEN_SECRET_LEN + 1];
	struct px_errbuf eb = {0};
	struct px_token t;
	const char *name;
	json_t *o, *out;
	int rc;

	memset(&t, 0, sizeof(t));
	o = json_loadb((const char *)body->data, body->len,
		       JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o)) {
		px_resp_error(r, 400, "invalid_request",
			      "the body must be a JSON object");
		goto out;
	}
	name = json_string_value(json_object_get(o, "name"));
	if (!name || !*name || strlen(name) > PX_TOKEN_NAME_MAX) {
		px_resp_error(r, 400, "invalid_request",
			      "\"name\" must be a string of 1 to %d bytes",
			      PX_TOKEN_NAME_MAX);
		goto out;
	}
	px_strlcpy(t.name, name, sizeof(t.name));
	if ((rc = parse_scopes(json_object_get(o, "scopes"), &t.scopes, &eb)) ||
	    (rc = parse_expiry(o, px_wall_us(), &t.expires_us, &eb)) ||
	    (rc = parse_cidrs(json_object_get(o, "allowed_cidrs"), &t, &eb))) {
		px_app_fail(r, rc, &eb);
		goto out;
	}
	/* No granting what one does not hold. */
	for (int s = PX_SCOPE_IMAGES_READ; s < PX_SCOPE_COUNT; s++) {
		if ((t.scopes & PX_SCOPE_BIT(s)) &&
		    !px_scope_allows(c->scopes, (enum px_scope)s)) {
			px_resp_error(r, 403, "insufficient_scope",
				      "a token cannot grant the scope \"%s\", which it lacks",
				      px_scope_name((enum px_scope)s));
			goto out;
		}
	}
	if ((rc = px_tokens_create(a->tokens, &t, secret, &eb))) {
		px_app_fail(r, rc, &eb);
		goto out;
	}
	out = px_token_json(&t);
	/* Every change is audited: a token whose creation cannot be recorded
	 * is withdrawn again and never shown. */
	if (!out || px_app_audit(a, r, "token.create", NULL, out)) {
		px_tokens_revoke(a->tokens, t.id, NULL);
		json_decref(out);
		px_resp_error(r, 500, "internal_error",
			      "the token could not be recorded");
		goto out;
	}
	json_object_set_new(out, "value", json_string(secret));
	px_app_ok_json(r, 201, out);
	memset(secret, 0, sizeof(secret));
out:
	json_decref(o);
}

static int list_one(void *ctx, const struct px_token *t)
{
	json_t *o = px_token_json(t);

	if (!o)
		return PX_ENOMEM;
	json_array_append_new(ctx, o);
	return 0;
}

void px_api_token_list(struct px_app *a, struct px_req *r,
		       const struct px_call *c)
{
	struct px_errbuf eb = {0};
	json_t *arr = json_array();
	int rc;

	if ((rc = px_tokens_list(a->tokens, list_one, arr, &eb))) {
		json_decref(arr);
		px_app_fail(r, rc, &eb);
		return;
	}
	px_app_ok_json(r, 200, json_pack("{s:o}", "tokens", arr));
}

void px_api_token_revoke(struct px_app *a, struct px_req *r,
			 const struct px_call *c)
{
	char id[PX_TOKEN_ID_LEN + 1];
	struct px_errbuf eb = {0};
	int rc;

	if (px_call_arg(c, "id", id, sizeof(id))) {
		px_resp_error(r, 404, "not_found", "no such token");
		return;
	}
	json_t *gone = json_pack("{s:s}", "id", id);

	if ((rc = px_tokens_revoke(a->tokens, id, &eb))) {
		px_app_fail(r, rc, &eb);
		json_decref(gone);
		return;
	}
	px_app_audit(a, r, "token.revoke", gone, NULL);
	px_app_ok_json(r, 200, gone);
}
