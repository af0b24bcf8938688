/*
 * protect.c - the guard (src/guard/) applied to HTTP requests.
 *
 * px_app_admit() runs when a request's headers are in, before its body
 * is read: it names the client, applies the rules and charges the
 * request's class, and refuses an upload without a valid token. The
 * delivery path then calls px_app_charge() where it learns that a
 * request needs a worker (render) and px_app_hotlink() for the Referer.
 * The per-request state lives in the request's ext area.
 */
#include "api/app.h"
#include "core/log.h"
#include "access/scope.h"
#include "core/pool.h"
#include "guard/guard.h"

_Static_assert(sizeof(struct px_guard_ticket) <= PX_REQ_EXT_SIZE,
	       "the ticket fits the request's ext area");

/* The peer as a px_ip (IPv4-mapped unwrapped). */
static void peer_ip(const uint8_t b[16], struct px_ip *ip)
{
	ip->family = 6;
	memcpy(ip->b, b, 16);
	px_ip_unmap(ip);
}

static const char *header_cb(void *ctx, const char *name)
{
	return px_req_header(ctx, name);
}

static void answer(struct px_app *a, struct px_req *r,
		   const struct px_guard_answer *ans)
{
	/* A client over its limit waits for its 429 rather than asking
	 * again at once: a flood on kept-alive connections then costs a
	 * few answers a second, not thousands (docs/SECURITY.md). */
	if (ans->status == 429)
		px_req_hold(r, (int)a->cfg->refusal_delay_ms);
	if (ans->retry_after[0])
		px_resp_header(r, "Retry-After", ans->retry_after);
	if (ans->policy[0])
		px_resp_header(r, "RateLimit-Policy", ans->policy);
	if (ans->ratelimit[0])
		px_resp_header(r, "RateLimit", ans->ratelimit);
	px_req_note(r, NULL, ans->reason);
	px_resp_error(r, ans->status, ans->code, "%s", ans->msg);
}

static uint32_t hash_key(const struct px_ip *key)
{
	uint8_t b[16];
	uint64_t h = 1469598103934665603ULL;

	px_client_key_bytes(key, b);
	for (int i = 0; i < 16; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	h ^= h >> 32;
	return (uint32_t)h ? (uint32_t)h : 1;
}

/* The client's flow in the worker pool: its network's hash over its
 * own, never 0 in either half (see PX_POOL_FLOW). */
static uint64_t flow_of(const struct px_ip *key)
{
	struct px_ip net;

	px_client_network(key, &net);
	return PX_POOL_FLOW(hash_key(&net), hash_key(key));
}

/* Cloudflare's upload path: /accounts/{account_id}/images/v1 */
static bool cf_upload(const char *path)
{
	const char *rest;

	if (strncmp(path, "/accounts/", 10))
		return false;
	rest = strchr(path + 10, '/');
	return rest && rest > path + 10 && !strcmp(rest, "/images/v1");
}

static int class_of(const char *method, const char *path)
{
	if (!strncmp(path, "/img/", 5) || !strncmp(path, "/cdn-cgi/image/", 15))
		return PX_CLASS_HIT;
	if (!strncmp(path, "/v1/images", 10) &&
	    (path[10] == '\0' || path[10] == '?') && !strcmp(method, "POST"))
		return PX_CLASS_UPLOAD;
	if (!strcmp(method, "POST") && cf_upload(path))
		return PX_CLASS_UPLOAD;
	/* A one-time upload URL: an upload by whoever holds it, limited
	 * per client like any anonymous upload. */
	if (!strncmp(path, "/upload/", 8) && !strcmp(method, "POST"))
		return PX_CLASS_UPLOAD;
	/* The console's sign-in is limited like any API call. */
	if (!strncmp(path, "/v1/", 4) || !strncmp(path, "/admin/api/", 11))
		return PX_CLASS_API;
	return PX_CLASS_NONE;
}

const char *px_app_queue_class(struct px_req *r)
{
	switch (class_of(px_req_method(r), px_req_path(r))) {
	case PX_CLASS_HIT:
		return "render"; /* a delivery that waited needed a worker */
	case PX_CLASS_UPLOAD:
		return "upload";
	case PX_CLASS_API:
		return "api";
	default:
		return "other";
	}
}

void px_app_unavailable(struct px_app *a, struct px_req *r, const char *id,
			const char *status, int rc, struct px_errbuf *eb)
{
	char note[48];

	if (!status && rc != PX_ENOTFOUND) {
		px_app_fail(r, rc, eb);
		return;
	}
	px_resp_header(r, "Cache-Control", "no-store");
	if (px_app_authenticated(a, r)) {
		if (!status)
			px_app_fail(r, rc, eb);
		else
			px_resp_error(r, 403, "not_approved",
				      "image \"%s\" is %s and not delivered", id,
				      status);
		return;
	}
	/* The same bytes for every reason: only the log tells them apart. */
	snprintf(note, sizeof(note), "unavailable:%s", status ? status : "missing");
	px_req_note(r, NULL, note);
	px_resp_error(r, (int)a->cfg->unavailable_status, "not_available",
		      "image \"%s\" is not available", id);
}

static double share_held(void *arg)
{
	struct px_app *a = arg;

	return a->pool ? (double)px_pool_held(a->pool) : 0;
}

void px_app_protect_metrics(struct px_app *a)
{
	px_metrics_counter_fn(a->metrics, "pictor_worker_share_held_total",
			      "image jobs that waited while a worker was free, "
			      "their network holding its share (--client-workers)",
			      share_held, a);
}

/*
 * A request that may carry a body (POST, PUT, PATCH, DELETE) to a route
 * that needs a token: authenticated, and its scope checked, from the
 * headers, so a caller without one gets its 401 or 403 before any body
 * byte is read or any budget reserved. Public rows (the console's
 * sign-in, a one-time upload URL, which is its own credential) and
 * paths no row takes are left to the router. Returns false when it has
 * answered.
 */
static bool auth_before_body(struct px_app *a, struct px_req *r)
{
	unsigned bit = px_route_method_bit(px_req_method(r)), allowed;
	const struct px_route *rt;
	struct px_call c;

	if (!(bit & (PX_M_POST | PX_M_PUT | PX_M_PATCH | PX_M_DELETE)))
		return true;
	rt = px_app_route_find(a, px_req_path(r), bit, &c, &allowed);
	if (!rt || rt->scope == PX_SCOPE_PUBLIC ||
	    px_app_permitted(a, r, rt->scope))
		return true;
	if (a->guard)
		px_guard_count_early(a->guard);
	px_req_note(r, NULL, "auth");
	return false;
}

void px_app_admit(void *app, struct px_req *r)
{
	struct px_app *a = app;
	struct px_guard_ticket *t = px_req_ext(r);
	struct px_guard_answer ans;
	char fwd[2048], xff[2048];
	uint8_t peer[16];
	bool upload;
	int cls, token_cls = -1;
	struct px_guard_req q = {
		.method = px_req_method(r),
		.path = px_req_path(r),
		.header = header_cb,
		.ctx = r,
	};

	if (!a->guard) {
		auth_before_body(a, r);
		return;
	}
	px_req_peer(r, peer);
	peer_ip(peer, &q.peer);
	/* A chain too long to hold is ignored: the peer is the client. */
	if (px_req_header_join(r, "Forwarded", fwd, sizeof(fwd)) > 0)
		q.forwarded = fwd;
	if (px_req_header_join(r, "X-Forwarded-For", xff, sizeof(xff)) > 0)
		q.xff = xff;
	cls = class_of(q.method, q.path);
	upload = cls == PX_CLASS_UPLOAD;
	/* Callers with a valid token are known: their API calls and uploads
	 * are limited per token, not per address (rules still apply); the
	 * admin token is not limited. */
	if ((cls == PX_CLASS_API || cls == PX_CLASS_UPLOAD) &&
	    px_app_authenticated(a, r)) {
		token_cls = cls;
		cls = PX_CLASS_NONE;
	}
	px_guard_admit(a->guard, &q, cls, (uint64_t)(px_mono_us() / 1000), t,
		       &ans);
	if (!ans.status && token_cls >= 0 && px_req_principal_id(r) &&
	    strcmp(px_req_principal_id(r), "admin"))
		px_guard_charge_token(a->guard, t, px_req_principal_id(r),
				      token_cls, (uint64_t)(px_mono_us() / 1000),
				      &ans);
	px_req_note(r, t->client_text, NULL);
	px_req_set_sched(r, flow_of(&t->client), 0, false);
	if (ans.status) {
		if (upload)
			px_guard_count_early(a->guard);
		answer(a, r, &ans);
		return;
	}
	auth_before_body(a, r);
}

void px_app_refused_early(void *app, struct px_req *r)
{
	struct px_app *a = app;

	if (a->guard)
		px_guard_count_early(a->guard);
	px_req_note(r, NULL, "body-size");
}

bool px_app_render_sched(struct px_app *a, struct px_req *r, int tw, int th,
			 int ow, int oh, int frames)
{
	double w = tw, h = th, cost;

	/* the output's size, roughly: one side given keeps the aspect */
	if (ow < 1 || oh < 1)
		ow = oh = 1;
	if (!tw && !th) {
		w = ow;
		h = oh;
	} else if (!th) {
		h = w * oh / ow;
	} else if (!tw) {
		w = h * ow / oh;
	}
	cost = PX_MAX(w * h * PX_MAX(frames, 1), 1.0);
	if (a->cfg->max_output_cost > 0 && cost > (double)a->cfg->max_output_cost) {
		px_req_note(r, NULL, "cost");
		px_resp_error(r, 422, "too_expensive",
			      "the output would be %.0f pixels (times frames); the limit is %ld",
			      cost, a->cfg->max_output_cost);
		return false;
	}
	px_req_set_sched(r, 0, (uint64_t)cost, true);
	return true;
}

bool px_app_charge(struct px_app *a, struct px_req *r, int cls)
{
	struct px_guard_answer ans;

	if (!a->guard)
		return true;
	px_guard_recharge(a->guard, px_req_ext(r), cls,
			  (uint64_t)(px_mono_us() / 1000), &ans);
	if (!ans.status)
		return true;
	answer(a, r, &ans);
	return false;
}

bool px_app_hotlink(struct px_app *a, struct px_req *r,
		    const struct px_variant *v)
{
	const char *referer = px_req_header(r, "Referer");
	struct px_guard_answer ans;

	if (!a->guard || (v && v->hotlink == PX_VARIANT_HOTLINK_OFF))
		return true;
	if (v && v->hotlink == PX_VARIANT_HOTLINK_OWN)
		px_guard_hotlink_rule(a->guard, referer, v->hotlink_allow,
				      v->hotlink_require_referer, &ans);
	else
		px_guard_hotlink(a->guard, referer, &ans);
	if (!ans.status)
		return true;
	answer(a, r, &ans);
	return false;
}

void px_app_conn_dropped(void *app, const uint8_t peer[16], const char *phase)
{
	struct px_app *a = app;
	struct px_ip ip;
	char text[64], fields[160];
	const char *msg = "connection closed at its deadline";

	peer_ip(peer, &ip);
	if (a->guard &&
	    !px_guard_warn_due(a->guard, &ip, (uint64_t)(px_mono_us() / 1000)))
		return;
	px_ip_format(&ip, text, sizeof(text));
	snprintf(fields, sizeof(fields),
		 "\"remote\":\"%s\",\"phase\":\"%s\",\"source\":\"watchdog\"", text,
		 phase);
	if (strstr(phase, "-rate"))
		msg = "connection closed below the minimum transfer rate";
	else if (strstr(phase, "-memory"))
		msg = "connection closed: responses held for slow readers over --send-memory";
	px_log(PX_LOG_WARN, msg, fields);
}

static double conn_stat(struct px_http *const *hp, int which)
{
	struct px_http_conn_stats st;

	px_http_conn_stats(*hp, &st);
	switch (which) {
	case 0:
		return (double)st.deadline;
	case 1:
		return (double)st.slow;
	case 2:
		return (double)st.memory;
	case 3:
		return (double)st.held;
	case 5:
		return (double)st.delayed;
	default:
		return (double)st.open;
	}
}

static double conn_deadline(void *hp) { return conn_stat(hp, 0); }
static double conn_slow(void *hp) { return conn_stat(hp, 1); }
static double conn_memory(void *hp) { return conn_stat(hp, 2); }
static double conn_held(void *hp) { return conn_stat(hp, 3); }
static double conn_open(void *hp) { return conn_stat(hp, 4); }
static double conn_delayed(void *hp) { return conn_stat(hp, 5); }

void px_app_conn_metrics(struct px_app *a, struct px_http *const *hp)
{
	px_metrics_counter_fn(a->metrics, "pictor_conn_deadline_closed_total",
			      "connections closed for missing a deadline "
			      "(--header-timeout, and a body or response at "
			      "--min-send-rate on average)",
			      conn_deadline, (void *)hp);
	px_metrics_counter_fn(a->metrics, "pictor_conn_slow_closed_total",
			      "connections closed for moving fewer than "
			      "--min-send-rate bytes a second over a "
			      "--header-timeout window",
			      conn_slow, (void *)hp);
	px_metrics_counter_fn(a->metrics, "pictor_conn_memory_closed_total",
			      "slow readers cut while responses held in memory "
			      "were over --send-memory",
			      conn_memory, (void *)hp);
	px_metrics_gauge_fn(a->metrics, "pictor_send_memory_bytes",
			    "in-memory response bytes held by connections "
			    "still sending them",
			    conn_held, (void *)hp);
	px_metrics_counter_fn(a->metrics, "pictor_refusals_delayed_total",
			      "429 and delivery 503 answers held back "
			      "--refusal-delay-ms before they were sent",
			      conn_delayed, (void *)hp);
	px_metrics_gauge_fn(a->metrics, "pictor_connections_open",
			    "connections open", conn_open, (void *)hp);
}

void px_app_tick(void *app)
{
	struct px_app *a = app;

	if (a->guard)
		px_guard_tick(a->guard, (uint64_t)(px_mono_us() / 1000));
}
