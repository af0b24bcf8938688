/*
 * http.h - the HTTP server: libmicrohttpd glue, request context, responses.
 *
 * Only src/http/ includes <microhttpd.h>. The server collects each request
 * (headers and a size-capped body) and hands it to one application handler
 * on a network thread. The handler answers at once (cheap work: API reads,
 * health checks) or defers the request to the worker pool with
 * px_req_defer(); the connection is then suspended and resumed when the
 * worker has filled in the response. Network threads never do image work.
 */
#ifndef PX_HTTP_H
#define PX_HTTP_H

#include "core/buf.h"
#include "core/pool.h"

struct px_req;
struct px_http;

typedef void (*px_handler_fn)(void *app, struct px_req *req);
typedef void (*px_deferred_fn)(void *app, struct px_req *req);

struct px_http_opts {
	const char *listen; /* "HOST:PORT"; port 0 picks one */
	int threads;        /* network threads */
	int conn_timeout;   /* seconds */
	int per_ip_conns;
	size_t conn_memory;
	size_t max_body;  /* request bodies over this answer 413 */
	/* How to raise max_body, appended to the 413 message (may be NULL). */
	const char *max_body_hint;
	size_t max_body_total; /* all buffered bodies; beyond: 503 */
	int max_conns;      /* all connections (0: 4096) */
	int header_timeout; /* seconds to send a request's headers (0: 10) */
	/* bytes/s a request body or response must move, on average and in
	 * every header_timeout window (0: off) */
	long min_send_rate;
	/* in-memory response bytes held by connections still sending;
	 * beyond, the slowest readers are cut (0: no bound) */
	size_t max_send_memory;
	struct px_pool *pool;
	px_handler_fn handler;
	/* Called once per request when its headers are in, before any body
	 * byte is read (may be NULL). A response it makes is sent at once
	 * and the body is never read. */
	px_handler_fn admit;
	/* A connection closed for missing its deadline (may be NULL);
	 * peer is its address, 16 bytes, IPv4 mapped. */
	void (*dropped)(void *app, const uint8_t peer[16], const char *phase);
	/* A request the server refused from its headers alone, before any
	 * body byte (a body announced over max_body; may be NULL). */
	px_handler_fn refused;
	/* Called about once a second from the watchdog (may be NULL). */
	void (*tick)(void *app);
	/* Called after each response, before the request is freed (may be
	 * NULL); the request accessors below are still valid. */
	void (*completed)(void *app, struct px_req *req);
	void *app;
};

/* Start serving. */
int px_http_start(const struct px_http_opts *o, struct px_http **out,
		  struct px_errbuf *eb);
/* The port actually bound. */
int px_http_port(struct px_http *h);
/* Stop accepting new connections (for draining). */
void px_http_quiesce(struct px_http *h);
/* Connections closed by the watchdog so far. */
unsigned long long px_http_deadline_drops(struct px_http *h);
/* Connections closed by the watchdog, by cause, and what is held now. */
struct px_http_conn_stats {
	unsigned long long deadline; /* past a phase's deadline */
	unsigned long long slow;     /* below the minimum transfer rate */
	unsigned long long memory;   /* cut to fit max_send_memory */
	unsigned long long delayed;  /* answers held back (px_req_hold) */
	size_t held;                 /* in-memory response bytes being sent */
	long open;                   /* connections open */
};
void px_http_conn_stats(struct px_http *h, struct px_http_conn_stats *st);
/* Requests received and not yet completed. */
int px_http_inflight(struct px_http *h);
/* Stop and free; accepts NULL. */
void px_http_stop(struct px_http *h);
/* libmicrohttpd's version string. */
const char *px_http_version(void);

/* --- request accessors (valid until the response completes) --- */
const char *px_req_method(struct px_req *r);
/* The path as sent, still percent-encoded, without the query. */
const char *px_req_path(struct px_req *r);
/* A header value or NULL. */
const char *px_req_header(struct px_req *r, const char *name);
/* A query argument, still percent-encoded, or NULL. */
const char *px_req_query_raw(struct px_req *r, const char *name);
/* A query argument percent-decoded into out; PX_ENOTFOUND if absent,
 * PX_ETOOBIG if it does not fit. */
int px_req_query(struct px_req *r, const char *name, char *out, size_t n);
/* Call fn with the name of every query argument, in order, until it
 * returns nonzero; returns that value (0 when all were visited). */
int px_req_query_each(struct px_req *r, int (*fn)(void *ctx, const char *name),
		      void *ctx);
/* The request body (NUL-terminated; len excludes the NUL). */
const struct px_buf *px_req_body(struct px_req *r);
const char *px_req_id(struct px_req *r);
bool px_req_is_head(struct px_req *r);
/* The response status (0 before one is set). */
int px_req_status(struct px_req *r);
/* Seconds since the request arrived. */
double px_req_seconds(struct px_req *r);
/* Seconds a deferred request waited for a worker; -1 if it was not
 * deferred or has not started. */
double px_req_queue_seconds(struct px_req *r);
/* Bytes of response body. */
size_t px_req_resp_bytes(struct px_req *r);

/* The client's IP address as text ("127.0.0.2", "::1"), into out;
 * PX_ENOTFOUND when libmicrohttpd does not know it. */
int px_req_client_ip(struct px_req *r, char *out, size_t n);

/* The authenticated caller: a token's id and name (copied; never its
 * secret). The access log names the token id. Both NULL until set. */
int px_req_set_principal(struct px_req *r, const char *id, const char *name);
const char *px_req_principal_id(struct px_req *r);
const char *px_req_principal_name(struct px_req *r);

/* Attach handler state to the request; free_fn(data) runs when the
 * request is freed. */
void px_req_set_data(struct px_req *r, void *data, void (*free_fn)(void *));
void *px_req_data(struct px_req *r);

/* A zeroed, aligned area of PX_REQ_EXT_SIZE bytes that lives as long as
 * the request: the request's protection state (api/protect.c). */
#define PX_REQ_EXT_SIZE 192
void *px_req_ext(struct px_req *r);

/* The peer's address, 16 bytes, IPv4 mapped (::ffff:a.b.c.d); false
 * (and zeros) if unknown. */
bool px_req_peer(struct px_req *r, uint8_t out[16]);

/* Every value of header name joined with ',' into out: the count of
 * lines (0: absent), or PX_ETOOBIG if they do not fit. */
int px_req_header_join(struct px_req *r, const char *name, char *out,
		       size_t n);

/* Fair scheduling of the request's deferred work (core/pool.h): flow is
 * its client (0: unchanged), cost its output pixels (0: unchanged);
 * cancellable says its deferred function checks px_req_cancelled() and
 * then answers at once, so the job may be pushed out of a full queue or
 * skipped when its client has hung up. */
void px_req_set_sched(struct px_req *r, uint64_t flow, uint64_t cost,
		      bool cancellable);
/* Was the deferred work cancelled (see px_req_set_sched)? */
bool px_req_cancelled(struct px_req *r);
/* Hold the answer built on the network thread back ms milliseconds
 * before it is sent (a refusal to a client asking faster than it may:
 * it waits instead of asking again at once). Requests with a body are
 * never held. */
void px_req_hold(struct px_req *r, int ms);
/* Has the client of a deferred request closed its end (so its answer
 * will never be read)? For the worker running the request, which may
 * ask while it works (a poll of the socket, no wait). */
bool px_req_client_gone(struct px_req *r);

/* Name the client and the limit or rule that refused the request in its
 * access-log line (either may be NULL: unchanged). */
void px_req_note(struct px_req *r, const char *client,
		 const char *refused_by);

/* --- responses; exactly one per request --- */
/* Add a response header (copied). */
int px_resp_header(struct px_req *r, const char *name, const char *value);
/* Respond with bytes (copied unless take is set: then the buffer is
 * taken and freed with free()). */
int px_resp_bytes(struct px_req *r, int status, const char *content_type,
		  void *data, size_t n, bool take);
/* Respond with a px_buf's contents, which are taken. */
int px_resp_buf(struct px_req *r, int status, const char *content_type,
		struct px_buf *b);
/* Respond with n bytes at data without copying them: release(cls) runs
 * once the server is done with them (sent, or the request dropped). */
int px_resp_shared(struct px_req *r, int status, const char *content_type,
		   const void *data, size_t n, void (*release)(void *),
		   void *cls);
/* Respond with len bytes of fd from off (sent with sendfile where the
 * platform allows); fd is taken and closed by the server. */
int px_resp_fd(struct px_req *r, int status, const char *content_type,
	       int fd, uint64_t off, uint64_t len);
/* The response set so far: status (0 for none), content type and body
 * (borrowed; NULL for shared and fd bodies). */
int px_resp_status(struct px_req *r);
const char *px_resp_ctype(struct px_req *r);
const void *px_resp_body(struct px_req *r, size_t *n);
/* A response header set so far, or NULL. */
const char *px_resp_header_get(struct px_req *r, const char *name);
/* Respond with the JSON error envelope. */
int px_resp_error(struct px_req *r, int status, const char *code,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The same with a result (a JSON text, or NULL for null) beside the
 * error, for errors that carry detail. */
int px_resp_error_result(struct px_req *r, int status, const char *code,
			 const char *result, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Respond with no body (304, 204). */
int px_resp_empty(struct px_req *r, int status);

/* Run fn(app, req) on the worker pool; the response is sent when it
 * returns. PX_EBUSY when the pool is full: the caller answers 503. */
int px_req_defer(struct px_req *r, px_deferred_fn fn);

/* Suspend the request without a worker (network thread, from the
 * handler): it stays open until px_req_wake(), which any thread may call
 * once it has set the response. */
void px_req_park(struct px_req *r);
void px_req_wake(struct px_req *r);

/* Percent-decode src into out (NUL-terminated); PX_EINVAL on a bad
 * escape, PX_ETOOBIG if it does not fit. '+' is kept as is. */
int px_url_decode(const char *src, size_t n, char *out, size_t nout);

#endif
