/*
 * app.h - the application: routes HTTP requests to the images API, the
 * delivery path and the health and metrics endpoints.
 *
 * One struct px_app lives for the whole process; handlers share it
 * read-only except for the atomic counters.
 */
#ifndef PX_APP_H
#define PX_APP_H

#include <stdatomic.h>

#include "access/tokens.h"
#include "api/route.h"
#include "catalog/catalog.h"
#include "catalog/hashlist.h"
#include "catalog/variants.h"
#include "core/config.h"
#include "core/metrics.h"
#include "http/http.h"
#include "image/image.h"
#include "moderation/moderation.h"

struct json_t; /* jansson's, for the JSON helpers below */
struct px_cache;
struct px_console;
struct px_guard;

/* Events per second over the last minute: a ring of one-second slots
 * (api/stats.c). */
#define PX_RATE_SLOTS 64
struct px_per_second {
	_Atomic int64_t stamp[PX_RATE_SLOTS]; /* the second a slot counts */
	atomic_ullong count[PX_RATE_SLOTS];
	atomic_ullong total;
};

struct px_app {
	const struct px_config *cfg;
	struct px_catalog *cat;    /* records, variants, blobs: the one
				      owner of persistent state */
	struct px_pool *pool;
	struct px_image_limits lim;
	struct px_moderation *mod; /* NULL with moderation off */
	struct px_faces *faces;    /* NULL without a face model */
	struct px_tokens *tokens;  /* scoped API tokens */
	struct px_cache *cache;    /* rendered variants (cache/cache.h) */
	struct px_keys *keys;      /* the signing keys (delivery/keys.h) */
	struct px_drafts *drafts;  /* direct upload URLs */
	struct px_guard *guard;    /* NULL: no protection (tests) */
	struct px_fetcher *fetch;  /* upload from a URL */
	struct px_console *console; /* /admin and its sessions (console/) */
	bool mod_async, mod_quarantine;
	bool pdq_off; /* --pdq off: uploads are not hashed */
	char public_url[512];
	atomic_bool draining;
	int64_t started_mono_s;       /* px_app_metrics_init's time */
	struct px_per_second delivery_rate; /* delivery answers (GET /v1/stats) */

	/* Prometheus metrics: the registry (owned) and the application's
	 * families on it (see px_app_metrics_init). */
	struct px_metrics *metrics;
	struct {
		struct px_metric *requests, *responses, *duration;
		struct px_metric *uploads, *upload_rejects, *upload_seconds,
			*upload_bytes;
		struct px_metric *renders, *render_seconds, *queue_wait;
		struct px_metric *render_timeouts;
		struct px_metric *renders_cancelled;
		struct px_metric *not_modified, *overloaded;
		struct px_metric *classified, *flagged, *blocked;
	} m;
};

/* Create a->metrics and register the application's families; other
 * modules register theirs on a->metrics after this. */
int px_app_metrics_init(struct px_app *a);

/* The px_http_opts completion callback: counts the response and observes
 * its latency by route class and status. */
void px_app_completed(void *app, struct px_req *req);

/* The px_handler_fn given to the HTTP server; app is a struct px_app. */
void px_app_handle(void *app, struct px_req *req);

/* Answer with the success envelope around result (a JSON text). */
int px_app_ok(struct px_req *r, int status, const char *result_json);

/* Answer with the success envelope around result, which is taken
 * (a NULL result answers 500: the caller ran out of memory). */
void px_app_ok_json(struct px_req *r, int status, struct json_t *result);

/* Read per_page (1-1000, default 100) and continuation_token from the
 * query. On a bad value answers 400 and returns false. */
bool px_app_page_args(struct px_req *r, int *per_page, char *token,
		      size_t ntoken);

/* Answer {"images": arr, "continuation_token": next or null}; arr is
 * taken. */
void px_app_ok_page(struct px_req *r, struct json_t *arr, const char *next);

/* The route table (static; n rows), for `pictor routes` and the tests. */
const struct px_route *px_app_routes(size_t *n);
/* The row that handles path for method bit (PX_M_*), its captures in c;
 * NULL when none does, with *allowed the methods the path's owning
 * pattern answers (0: no route at all). */
const struct px_route *px_app_route_find(struct px_app *a, const char *path,
					 unsigned bit, struct px_call *c,
					 unsigned *allowed);

/* The route table as JSON (an array of {methods, path, scope}) or as a
 * Markdown table (markdown set), appended to out. */
int px_app_routes_dump(struct px_buf *out, bool markdown);

/* Who is calling, for the audit log: the authenticated token's id, and
 * name (when non-NULL, a name the caller states, such as a reviewer's)
 * or the token's own name; "anonymous" before authentication. */
void px_api_actor(struct px_app *a, struct px_req *r, const char *name,
		  struct px_actor *out);

/* Record a change made outside the catalog's own operations (tokens,
 * variants) in the audit log, with the calling token as actor; before and
 * after are JSON texts or NULL. Logs and returns the error on failure. */
int px_app_audit(struct px_app *a, struct px_req *r, const char *action,
		 const struct json_t *before, const struct json_t *after);

/* Answer a px_errbuf failure with the status its code implies. */
void px_app_fail(struct px_req *r, int rc, const struct px_errbuf *eb);

/* Fields an upload takes from a direct upload's draft instead of its
 * body (borrowed). */
struct px_upload_preset {
	const char *id;
	const char *meta; /* JSON object text */
	bool require_signed;
};

/* Worker: the one upload pipeline (fields, sniffing, limits, full decode,
 * moderation, durable store) and its answer; pre may be NULL. */
void px_api_upload_run(struct px_app *a, struct px_req *r,
		       const struct px_upload_preset *pre);

/* Check metadata (a JSON object of at most 1 KiB); its compact form in
 * *out (caller frees). PX_EINVAL with code "invalid_metadata". */
int px_api_meta_check(const char *text, size_t n, char **out,
		      struct px_errbuf *eb);

/* direct.c: true if an open direct upload reserves id. */
bool px_api_draft_reserved(struct px_app *a, const char *id);
/* direct.c: answer GET /v1/images/{id} for an open draft; false (and no
 * answer) when there is none. */
bool px_api_draft_answer(struct px_app *a, struct px_req *r, const char *id);

/* Handlers, one file per resource; each is a row of the route table
 * (app.c), which has checked the caller's scope before the call. */
void px_api_image_list(struct px_app *a, struct px_req *r,
		       const struct px_call *c);
void px_api_image_upload(struct px_app *a, struct px_req *r,
			 const struct px_call *c);
void px_api_image_get(struct px_app *a, struct px_req *r,
		      const struct px_call *c);
void px_api_image_patch(struct px_app *a, struct px_req *r,
			const struct px_call *c);
void px_api_image_delete(struct px_app *a, struct px_req *r,
			 const struct px_call *c);
void px_api_image_blob(struct px_app *a, struct px_req *r,
		       const struct px_call *c);
void px_api_variant_list(struct px_app *a, struct px_req *r,
			 const struct px_call *c);
void px_api_variant_create(struct px_app *a, struct px_req *r,
			   const struct px_call *c);
void px_api_variant_get(struct px_app *a, struct px_req *r,
			const struct px_call *c);
void px_api_variant_patch(struct px_app *a, struct px_req *r,
			  const struct px_call *c);
void px_api_variant_delete(struct px_app *a, struct px_req *r,
			   const struct px_call *c);
void px_api_moderation_queue(struct px_app *a, struct px_req *r,
			     const struct px_call *c);
void px_api_moderation_policy(struct px_app *a, struct px_req *r,
			      const struct px_call *c);
void px_api_reclassify_create(struct px_app *a, struct px_req *r,
			      const struct px_call *c);
void px_api_reclassify_list(struct px_app *a, struct px_req *r,
			    const struct px_call *c);
void px_api_reclassify_get(struct px_app *a, struct px_req *r,
			   const struct px_call *c);
void px_api_reclassify_cancel(struct px_app *a, struct px_req *r,
			      const struct px_call *c);
/* Let re-classification jobs run, with the hash lists in their judgement
 * and cached variants dropped when a status changes. Call once the cache
 * is open. */
void px_api_moderation_attach(struct px_app *a);
void px_api_webhook_dead(struct px_app *a, struct px_req *r,
			 const struct px_call *c);
void px_api_webhook_retry(struct px_app *a, struct px_req *r,
			  const struct px_call *c);
void px_api_audit_list(struct px_app *a, struct px_req *r,
		       const struct px_call *c);
void px_api_audit_export(struct px_app *a, struct px_req *r,
			 const struct px_call *c);
void px_api_moderation_review(struct px_app *a, struct px_req *r,
			      const struct px_call *c);
void px_api_direct_create(struct px_app *a, struct px_req *r,
			   const struct px_call *c);
void px_api_direct_upload(struct px_app *a, struct px_req *r,
			  const struct px_call *c);
void px_api_direct_preflight(struct px_app *a, struct px_req *r,
			     const struct px_call *c);
void px_api_token_create(struct px_app *a, struct px_req *r,
			 const struct px_call *c);
void px_api_token_list(struct px_app *a, struct px_req *r,
		       const struct px_call *c);
void px_api_token_revoke(struct px_app *a, struct px_req *r,
			 const struct px_call *c);
/* The Cloudflare path family (cloudflare.c): list v1 and v2, stats,
 * signing keys, and the /{account_hash}/{id}/{variant} delivery form. */
void px_api_cf_list_v1(struct px_app *a, struct px_req *r,
		       const struct px_call *c);
void px_api_cf_list_v2(struct px_app *a, struct px_req *r,
		       const struct px_call *c);
void px_api_cf_stats(struct px_app *a, struct px_req *r,
		     const struct px_call *c);
void px_api_keys_list(struct px_app *a, struct px_req *r,
		      const struct px_call *c);
void px_api_keys_put(struct px_app *a, struct px_req *r,
		     const struct px_call *c);
void px_api_keys_delete(struct px_app *a, struct px_req *r,
			const struct px_call *c);
void px_api_cf_deliver(struct px_app *a, struct px_req *r,
		       const struct px_call *c);

/* Does the matched row's {account_id} / {account_hash} capture name this
 * server's account (--account-id: any when unset; --account-hash: the
 * form is off when unset)? A row that fails does not match. */
bool px_api_cf_bound(struct px_app *a, const struct px_call *c);

/* The delivery URL of an image's variant, as records list it:
 * <public_url>/<account_hash>/<id>/<variant> with --account-hash (the
 * imagedelivery.net form Cloudflare lists), else <public_url>/img/... */
void px_api_variant_url(struct px_app *a, const char *id, const char *variant,
			char *out, size_t n);

/* The metrics route class of a request on Cloudflare's paths ("upload",
 * "images", "variants", "delivery" for /{account_hash}/...), or NULL for
 * any other path. */
const char *px_api_cf_route_class(struct px_app *a, struct px_req *r);

/* True on the /accounts/... path family, where Cloudflare's status codes
 * apply (an upload answers 200, not 201). */
bool px_api_cf_dialect(struct px_req *r);
/* Protection (protect.c, over src/guard/). px_app_admit is the HTTP
 * server's admit hook; px_app_charge moves a delivery to class cls
 * (enum px_class) and px_app_hotlink checks its Referer (under the
 * managed variant's own rule when it has one): each answers
 * the refusal and returns false. */
void px_app_admit(void *app, struct px_req *r);
/* The server's hook for a request it refused from its headers (a body
 * announced over the limit): counted with the admit refusals. */
void px_app_refused_early(void *app, struct px_req *r);
bool px_app_charge(struct px_app *a, struct px_req *r, int cls);
bool px_app_hotlink(struct px_app *a, struct px_req *r,
		    const struct px_variant *v); /* v: a managed variant's
						    own rule, or NULL */
void px_app_conn_dropped(void *app, const uint8_t peer[16], const char *phase);
/* Register the connection metrics of the server *hp will point to
 * (read at scrape time; 0 while *hp is NULL). */
void px_app_conn_metrics(struct px_app *a, struct px_http *const *hp);
void px_app_tick(void *app);
/* Schedule a render fairly: its client's flow, its cost from the target
 * box (tw x th, 0: from the original ow x oh) times frames; the render
 * may be pushed out of a full queue (its deferred function checks
 * px_req_cancelled()). A cost over --max-output-cost answers 422
 * too_expensive and returns false. */
bool px_app_render_sched(struct px_app *a, struct px_req *r, int tw, int th,
			 int ow, int oh, int frames);
/* The class a request waited for a worker in, for the queue-wait
 * metric: "render", "upload", "api" or "other". */
const char *px_app_queue_class(struct px_req *r);
/*
 * A delivery of an image the caller may not see: missing (status NULL;
 * rc and eb from the catalog) or not approved (status "pending",
 * "flagged", "blocked"). An anonymous caller gets one answer whatever
 * the reason (--unavailable-status, code not_available) and the reason
 * goes to the access log; a caller with a valid token or console
 * session gets the reason. Errors other than a missing record are
 * answered as they are.
 */
void px_app_unavailable(struct px_app *a, struct px_req *r, const char *id,
			const char *status, int rc, struct px_errbuf *eb);
/* Register the protection metrics that read the worker pool. */
void px_app_protect_metrics(struct px_app *a);

/* Does the request carry a valid token (admin or scoped)? Sets the
 * request's principal. */
bool px_app_authenticated(struct px_app *a, struct px_req *r);
/* The route table's scope check (need: enum px_scope); answers 401 or
 * 403 and returns false when the caller lacks it. */
bool px_app_permitted(struct px_app *a, struct px_req *r, int need);

/* The delivery path; path is the whole request path. */
void px_api_deliver(struct px_app *a, struct px_req *r, const char *path);

/* GET /v1/stats (stats.c); px_api_stats_delivery counts one delivery
 * answer for its rate. */
void px_api_stats(struct px_app *a, struct px_req *r, const struct px_call *c);
void px_api_stats_delivery(struct px_app *a);

/* A delivery target of an image (url.c): a named variant or canonical
 * options, as one path segment, and whether the variant waives signing. */
struct px_api_target {
	char segment[1024];
	bool never_signed;
};
/* variant (a managed or configured name) or else options (an option
 * string, canonicalised); PX_ENOTFOUND "variant_not_found", PX_EINVAL
 * "invalid_option" or "flexible_variants_disabled". */
int px_api_target_resolve(struct px_app *a, const char *variant,
			  const char *options, struct px_api_target *t,
			  struct px_errbuf *eb);
/* Append s to b percent-encoded as a URL path segment (option strings
 * keep , = ; . - _ ~ : as they are). */
void px_api_add_segment(struct px_buf *b, const char *s);
/* "/img/<id>/<segment>" into out, signed to expire ttl_s from now when
 * delivery would ask for a signature (*exp_s: the expiry, 0 unsigned).
 * PX_ETOOBIG, or PX_ENOTFOUND without a signing key. */
int px_api_target_url(struct px_app *a, const struct px_image_rec *rec,
		      const struct px_api_target *t, int64_t ttl_s,
		      char *out, size_t nout, int64_t *exp_s);
/* The answer of GET /v1/images/{id}/url and `pictor url`: {"url",
 * "expires_at", "signed"} into *out (the caller's); variant, options and
 * ttl_text (seconds) may be NULL. Errors carry the API's code. */
int px_url_build(struct px_app *a, const char *id, const char *variant,
		 const char *options, const char *ttl_text, struct json_t **out,
		 struct px_errbuf *eb);
/* `pictor url ID [--variant NAME | --options OPTS] [--ttl S]`. */
int px_url_cli(int argc, char **argv);

/*
 * The application of a CLI twin of a read-only endpoint (cli_app.c): the
 * data directory check, the signing keys and the metadata store, opened
 * into a (calloc'ed by the caller) from cfg as serve would. 0 on success;
 * 1 when the reason is already printed; -1 when eb holds it.
 * px_cli_app_close frees a and closes the stores (either may be unopened).
 */
struct px_stores;
int px_cli_app_open(struct px_app *a, struct px_config *cfg,
		    struct px_stores *stores, struct px_errbuf *eb);
void px_cli_app_close(struct px_app *a, struct px_stores *stores);

/* A CLI twin of a read-only endpoint, for px_cli_app_run(). */
struct px_cli_twin {
	const char *name;          /* "url", for messages */
	const char *example;       /* "pictor url ID --variant thumbnail" */
	const char *const *flags;  /* its own flags, each with a value;
				    * NULL-terminated, PX_CLI_FLAGS_MAX at most */
	void (*usage)(FILE *f);
	/* The answer for image id; val[i] is flags[i]'s value or NULL. A
	 * new reference in *out, or an error in eb. */
	int (*build)(struct px_app *a, const char *id, const char *const *val,
		     struct json_t **out, struct px_errbuf *eb);
};
#define PX_CLI_FLAGS_MAX 8

/* Run `pictor <name> ID [own flags] [serve options]` (argv after the
 * name): --help, the own flags taken out (--flag VALUE or --flag=VALUE),
 * the rest read as serve reads its settings, the application opened by
 * px_cli_app_open(), build's answer printed as compact JSON. The exit
 * status: 0 printed, 1 the request failed, 2 usage. */
int px_cli_app_run(const struct px_cli_twin *t, int argc, char **argv);
/* GET /v1/images/{id}/url */
void px_api_image_url(struct px_app *a, struct px_req *r,
		      const struct px_call *c);

/* The admin console (api/console.c over src/console/). */
void px_api_console_index(struct px_app *a, struct px_req *r,
			  const struct px_call *c);
void px_api_console_file(struct px_app *a, struct px_req *r,
			 const struct px_call *c);
void px_api_console_session(struct px_app *a, struct px_req *r,
			    const struct px_call *c);

/* Open the result cache configured in a->cfg into a->cache. */
int px_api_cache_open(struct px_app *a, struct px_errbuf *eb);
/* POST /v1/cache/purge. */
void px_api_cache_purge(struct px_app *a, struct px_req *r,
			const struct px_call *c);
/* Drop an image's cached variants (it was deleted, blocked or now needs
 * signed URLs; reason says which) and tell a CDN in front with a
 * cache.purge webhook event. */
void px_api_cache_purge_image(struct px_app *a, const struct px_image_rec *rec,
			      const char *reason);
/* The same for a named variant whose options changed or which was
 * deleted. */
void px_api_cache_purge_variant(struct px_app *a, const char *name,
				const char *reason);

/* Set the ETag header to the record's (for If-Match on reviews). */
void px_api_rec_etag(struct px_req *r, const struct px_image_rec *rec);

/* Hash lists and near-duplicates (hashlists.c). */
void px_api_hashlist_list(struct px_app *a, struct px_req *r,
			  const struct px_call *c);
void px_api_hashlist_create(struct px_app *a, struct px_req *r,
			    const struct px_call *c);
void px_api_hashlist_get(struct px_app *a, struct px_req *r,
			 const struct px_call *c);
void px_api_hashlist_delete(struct px_app *a, struct px_req *r,
			    const struct px_call *c);
void px_api_hashlist_import(struct px_app *a, struct px_req *r,
			    const struct px_call *c);
/* GET /v1/images/{id}/srcset (api/srcset.c) */
void px_api_image_srcset(struct px_app *a, struct px_req *r,
			 const struct px_call *c);
void px_api_image_similar(struct px_app *a, struct px_req *r,
			  const struct px_call *c);

/* The upload hook: PDQ-hash an upload into rec (pdq, pdq_quality) and
 * match it against the hash lists. A hash that cannot be made is logged
 * and left empty; a failure to read the lists is returned. */
struct px_api_pdq_hit {
	struct px_hashlist_hit m; /* m.action 0: no list matched */
	char rule[80];            /* "hashlist:<name>" */
};
int px_api_pdq_upload(struct px_app *a, const void *data, size_t n,
		      struct px_image_rec *rec, struct px_api_pdq_hit *hit,
		      struct px_errbuf *eb);
/* Merge a match into a moderation result (res zeroed when moderation is
 * off): the stronger verdict wins, the match is kept under "hashlist" in
 * res->json, and res->rule points into hit when the list decided. */
int px_api_pdq_fold(const struct px_api_pdq_hit *hit,
		    struct px_mod_result *res);

/* Faces for delivery (api/faces.c): the record's boxes into x for
 * gravity=face and redact=, and, when x uses them, a digest of them on
 * the cache key (new faces for the same bytes are a new variant). */
struct px_rec_faces;
struct px_buf;
void px_api_faces_xform(const struct px_rec_faces *f, struct px_xform *x);
void px_api_faces_key(const struct px_rec_faces *f, const struct px_xform *x,
		      struct px_buf *key);
/* The upload hook: detect rec's faces (logged and left unknown when
 * detection fails: an upload never fails for it). */
void px_api_faces_upload(struct px_app *a, const void *data, size_t n,
			 struct px_image_rec *rec);

/* The record as the API shows it (a new JSON object reference). */
struct json_t *px_api_rec_json(struct px_app *a, const struct px_image_rec *rec);
/* The same with the managed variants' names given (from
 * px_api_managed_variants, read once for a whole listing; NULL: none). */
struct json_t *px_api_rec_json_with(struct px_app *a,
				    const struct px_image_rec *rec,
				    const struct json_t *managed);
/* GET /v1/images/{id}/thumbnail (thumbnail.c). */
void px_api_image_thumbnail(struct px_app *a, struct px_req *r,
			    const struct px_call *c);
/* The console grid's thumbnail of a stored upload into the result cache
 * (--console-thumbnails upload; best effort, on the upload's worker). */
void px_api_thumbnail_prerender(struct px_app *a,
				const struct px_image_rec *rec,
				const void *data, size_t n);
/* The managed variants' names not shadowed by a configured one (a new
 * JSON array reference, or NULL when out of memory). */
struct json_t *px_api_managed_variants(struct px_app *a);

#endif
