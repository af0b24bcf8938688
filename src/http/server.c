/*
 * server.c - libmicrohttpd in thread-pool + epoll mode.
 *
 * Life of a request: the first access-handler call allocates a struct
 * px_req and rejects an announced body over the limit (413 before the body
 * is read); later calls append body chunks up to the limit; the final call
 * hands the request to the application handler. A handler that defers
 * suspends the connection; the worker fills in the response and resumes
 * it, and the next access-handler call queues the response. The completion
 * callback writes the access-log line and frees the request.
 */
#include "http/http.h"
#include "core/crypto.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <strings.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <linux/tcp.h> /* TCP_INFO, tcpi_bytes_acked */
#include <time.h>
#include <unistd.h>

enum req_state { REQ_BODY, REQ_DEFERRED, REQ_READY, REQ_SENT };

/*
 * One per TCP connection, for the watchdog: libmicrohttpd's timeout
 * counts idle time only, so a client sending a header byte every few
 * seconds, or reading its answer a few bytes at a time, would hold the
 * connection for ever. The watchdog shuts down the socket of a
 * connection past its deadline; libmicrohttpd then sees the close and
 * cleans up as usual. The fd is valid while the entry is listed: it is
 * removed in the CLOSED notification, which comes before the close.
 */
struct conn {
	int fd;
	uint8_t peer[16];
	int64_t deadline_us; /* 0: none (a request is being worked on) */
	const char *phase;   /* "headers", "body", "request" or "response" */
	/* The transfer rate, checked once a window in the "body" and
	 * "response" phases: bytes moved (body bytes received, response
	 * bytes the peer acknowledged) at the start of the window. */
	bool rated;
	uint64_t mark;
	int64_t mark_us;
	uint64_t start;   /* bytes moved when the response was queued */
	int64_t start_us;
	size_t held;      /* in-memory response bytes this connection holds */
	bool cut;         /* shut down by the watchdog, not yet closed */
	atomic_ullong rx; /* body bytes received so far */
	struct conn *prev, *next;
};

struct hdr {
	char *name, *value;
	struct hdr *next;
};

struct px_req {
	struct px_http *h;
	struct MHD_Connection *conn;
	const char *method;
	char *path;
	char id[33];
	char client[56];     /* the client as the application named it */
	char err_code[48];   /* the error envelope's code, for the access log */
	char refused_by[64]; /* the limit or rule that refused, for the log */
	_Alignas(max_align_t) unsigned char ext[PX_REQ_EXT_SIZE];
	struct px_buf body;
	bool too_big, no_room;
	size_t reserved; /* bytes counted against the body budget */
	enum req_state state;
	struct timespec start;
	int64_t deferred_us, started_us; /* px_mono_us(); 0: not deferred */
	px_deferred_fn deferred;
	char *principal_id, *principal_name;
	void *udata;
	void (*free_udata)(void *);

	/* The response, built by the handler or the worker. */
	int status;
	char *ctype;
	void *data;
	size_t n;
	struct hdr *headers;
	/* A shared body (px_resp_shared) or a file body (px_resp_fd). */
	const void *shared;
	void (*release)(void *);
	void *release_cls;
	int fd;
	uint64_t fd_off;
	/* Set when the handler suspended the connection in this call. */
	bool suspended_now;
	uint64_t flow, cost; /* fair scheduling (px_req_set_sched) */
	bool cancellable, cancelled;
	int hold_ms;           /* px_req_hold */
	int64_t hold_until_us; /* while held: when to send */
	struct px_req *hold_next;
};

struct px_http {
	struct MHD_Daemon *d;
	struct px_http_opts o;
	atomic_int inflight;
	atomic_size_t body_bytes; /* buffered request bodies, all requests */
	int port;

	pthread_mutex_t conns_lock;
	struct conn *conns;
	pthread_t watchdog;
	bool watchdog_on;
	atomic_bool stopping;
	atomic_ullong n_deadline, n_framing, n_slow, n_memory, n_delayed;
	size_t held; /* sum of conn.held (conns_lock) */
	struct px_req *holds; /* answers held back (conns_lock) */
};

/* Keep the path and query percent-encoded: signatures are computed over
 * the bytes the client sent, and we decode where a value is used. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	return strlen(s);
}

int px_url_decode(const char *src, size_t n, char *out, size_t nout)
{
	size_t j = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)src[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return PX_EINVAL;
			hi = px_hexval(src[i + 1]);
			lo = px_hexval(src[i + 2]);
			if (hi < 0 || lo < 0)
				return PX_EINVAL;
			c = hi * 16 + lo;
			i += 2;
		}
		if (j + 1 >= nout)
			return PX_ETOOBIG;
		out[j++] = (char)c;
	}
	if (!nout)
		return PX_ETOOBIG;
	out[j] = '\0';
	return 0;
}

const char *px_req_method(struct px_req *r) { return r->method; }
const char *px_req_path(struct px_req *r) { return r->path; }
const struct px_buf *px_req_body(struct px_req *r) { return &r->body; }
const char *px_req_id(struct px_req *r) { return r->id; }

void px_req_set_data(struct px_req *r, void *data, void (*free_fn)(void *))
{
	r->udata = data;
	r->free_udata = free_fn;
}

void *px_req_data(struct px_req *r) { return r->udata; }

int px_req_set_principal(struct px_req *r, const char *id, const char *name)
{
	char *i = strdup(id), *n = strdup(name);

	if (!i || !n) {
		free(i);
		free(n);
		return PX_ENOMEM;
	}
	free(r->principal_id);
	free(r->principal_name);
	r->principal_id = i;
	r->principal_name = n;
	return 0;
}

const char *px_req_principal_id(struct px_req *r) { return r->principal_id; }
const char *px_req_principal_name(struct px_req *r) { return r->principal_name; }

static int client_ip(struct MHD_Connection *c, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	if (sa && sa->sa_family == AF_INET &&
	    inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out,
		      (socklen_t)n))
		return 0;
	if (sa && sa->sa_family == AF_INET6 &&
	    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr,
		      out, (socklen_t)n))
		return 0;
	return PX_ENOTFOUND;
}

int px_req_client_ip(struct px_req *r, char *out, size_t n)
{
	return client_ip(r->conn, out, n);
}

void *px_req_ext(struct px_req *r) { return r->ext; }

void px_req_note(struct px_req *r, const char *client, const char *refused_by)
{
	if (client)
		px_strlcpy(r->client, client, sizeof(r->client));
	if (refused_by)
		px_strlcpy(r->refused_by, refused_by, sizeof(r->refused_by));
}

static bool sockaddr_peer(const struct sockaddr *sa, uint8_t out[16])
{
	static const uint8_t v4map[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (sa && sa->sa_family == AF_INET) {
		memcpy(out, v4map, 12);
		memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return true;
	}
	if (sa && sa->sa_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return true;
	}
	memset(out, 0, 16);
	return false;
}

bool px_req_peer(struct px_req *r, uint8_t out[16])
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	return sockaddr_peer(ci ? ci->client_addr : NULL, out);
}

struct join {
	const char *name;
	char *out;
	size_t n, len;
	int count;
	bool overflow;
};

static enum MHD_Result join_one(void *cls, enum MHD_ValueKind kind,
				const char *key, const char *value)
{
	struct join *j = cls;
	size_t vn;

	if (strcasecmp(key, j->name) || !value)
		return MHD_YES;
	vn = strlen(value);
	if (j->len + vn + 2 >= j->n) {
		j->overflow = true;
		return MHD_NO;
	}
	if (j->count++) {
		j->out[j->len++] = ',';
	}
	memcpy(j->out + j->len, value, vn);
	j->len += vn;
	j->out[j->len] = '\0';
	return MHD_YES;
}

int px_req_header_join(struct px_req *r, const char *name, char *out,
		       size_t n)
{
	struct join j = {name, out, n, 0, 0, false};

	if (!n)
		return PX_ETOOBIG;
	out[0] = '\0';
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, join_one, &j);
	if (j.overflow)
		return PX_ETOOBIG;
	return j.count;
}

bool px_req_is_head(struct px_req *r)
{
	return !strcmp(r->method, "HEAD");
}

int px_req_status(struct px_req *r) { return r->status; }
size_t px_req_resp_bytes(struct px_req *r) { return r->n; }

double px_req_seconds(struct px_req *r)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - r->start.tv_sec) +
	       (double)(now.tv_nsec - r->start.tv_nsec) / 1e9;
}

double px_req_queue_seconds(struct px_req *r)
{
	if (!r->deferred_us || !r->started_us)
		return -1;
	return (double)(r->started_us - r->deferred_us) / 1e6;
}

const char *px_req_header(struct px_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *px_req_query_raw(struct px_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct query_each {
	int (*fn)(void *ctx, const char *name);
	void *ctx;
	int rc;
};

static enum MHD_Result query_one(void *cls, enum MHD_ValueKind kind,
				 const char *key, const char *value)
{
	struct query_each *q = cls;

	(void)kind;
	(void)value;
	q->rc = q->fn(q->ctx, key);
	return q->rc ? MHD_NO : MHD_YES;
}

int px_req_query_each(struct px_req *r, int (*fn)(void *ctx, const char *name),
		      void *ctx)
{
	struct query_each q = {fn, ctx, 0};

	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_one, &q);
	return q.rc;
}

int px_req_query(struct px_req *r, const char *name, char *out, size_t n)
{
	const char *v = px_req_query_raw(r, name);

	if (!v)
		return PX_ENOTFOUND;
	return px_url_decode(v, strlen(v), out, n);
}

int px_resp_header(struct px_req *r, const char *name, const char *value)
{
	struct hdr *h = calloc(1, sizeof(*h));

	if (!h)
		return PX_ENOMEM;
	h->name = strdup(name);
	h->value = strdup(value);
	if (!h->name || !h->value) {
		free(h->name);
		free(h->value);
		free(h);
		return PX_ENOMEM;
	}
	h->next = r->headers;
	r->headers = h;
	return 0;
}

static void clear_response(struct px_req *r)
{
	free(r->data);
	free(r->ctype);
	if (r->release)
		r->release(r->release_cls);
	if (r->fd >= 0)
		close(r->fd);
	r->data = NULL;
	r->ctype = NULL;
	r->n = 0;
	r->shared = NULL;
	r->release = NULL;
	r->fd = -1;
}

int px_resp_bytes(struct px_req *r, int status, const char *content_type,
		  void *data, size_t n, bool take)
{
	clear_response(r);
	r->status = status;
	r->err_code[0] = '\0';
	r->ctype = content_type ? strdup(content_type) : NULL;
	if (take) {
		r->data = data;
	} else if (n) {
		r->data = malloc(n);
		if (!r->data)
			return PX_ENOMEM;
		memcpy(r->data, data, n);
	}
	r->n = n;
	return 0;
}

int px_resp_shared(struct px_req *r, int status, const char *content_type,
		   const void *data, size_t n, void (*release)(void *),
		   void *cls)
{
	clear_response(r);
	r->status = status;
	r->ctype = content_type ? strdup(content_type) : NULL;
	r->shared = data;
	r->n = n;
	r->release = release;
	r->release_cls = cls;
	return 0;
}

int px_resp_fd(struct px_req *r, int status, const char *content_type,
	       int fd, uint64_t off, uint64_t len)
{
	clear_response(r);
	r->status = status;
	r->ctype = content_type ? strdup(content_type) : NULL;
	r->fd = fd;
	r->fd_off = off;
	r->n = (size_t)len;
	return 0;
}

int px_resp_status(struct px_req *r) { return r->status; }
const char *px_resp_ctype(struct px_req *r) { return r->ctype; }

const void *px_resp_body(struct px_req *r, size_t *n)
{
	*n = r->data ? r->n : 0;
	return r->data;
}

const char *px_resp_header_get(struct px_req *r, const char *name)
{
	for (struct hdr *h = r->headers; h; h = h->next)
		if (!strcasecmp(h->name, name))
			return h->value;
	return NULL;
}

int px_resp_buf(struct px_req *r, int status, const char *content_type,
		struct px_buf *b)
{
	size_t n;
	unsigned char *p = px_buf_detach(b, &n);

	return px_resp_bytes(r, status, content_type, p, n, true);
}

int px_resp_empty(struct px_req *r, int status)
{
	return px_resp_bytes(r, status, NULL, NULL, 0, false);
}

static int resp_error(struct px_req *r, int status, const char *code,
		      const char *result, const char *msg)
{
	struct px_buf b;
	int rc;

	px_buf_init(&b, 0);
	px_buf_adds(&b, "{\"success\":false,\"errors\":[{\"code\":");
	px_json_quote(&b, code);
	px_buf_adds(&b, ",\"message\":");
	px_json_quote(&b, msg);
	px_buf_adds(&b, "}],\"messages\":[],\"result\":");
	px_buf_adds(&b, result ? result : "null");
	px_buf_adds(&b, "}\n");
	rc = px_resp_buf(r, status, "application/json", &b);
	px_strlcpy(r->err_code, code, sizeof(r->err_code));
	return rc;
}

static __attribute__((format(printf, 5, 0))) int
resp_errorv(struct px_req *r, int status, const char *code,
	    const char *result, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	return resp_error(r, status, code, result, msg);
}

int px_resp_error(struct px_req *r, int status, const char *code,
		  const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = resp_errorv(r, status, code, NULL, fmt, ap);
	va_end(ap);
	return rc;
}

int px_resp_error_result(struct px_req *r, int status, const char *code,
			 const char *result, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = resp_errorv(r, status, code, result, fmt, ap);
	va_end(ap);
	return rc;
}

static struct conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* Bytes the peer has acknowledged on fd; false if the kernel cannot say. */
static bool acked_bytes(int fd, uint64_t *out)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) ||
	    len < offsetof(struct tcp_info, tcpi_bytes_acked) +
			  sizeof(ti.tcpi_bytes_acked))
		return false;
	*out = ti.tcpi_bytes_acked;
	return true;
}

/* Bytes moved so far in k's phase (conns_lock held). */
static bool moved(const struct conn *k, uint64_t *out)
{
	if (!strcmp(k->phase, "body")) {
		*out = atomic_load(&k->rx);
		return true;
	}
	return acked_bytes(k->fd, out);
}

/*
 * Responses under this size go to the kernel's send buffer at once:
 * neither their rate nor the memory they hold is worth a system call.
 */
#define RATED_MIN ((size_t)64 << 10)

/*
 * Enter a phase: a deadline us from now (0: none); with rate, the
 * transfer rate is also checked once a window ("body" counts bytes
 * received, "response" bytes acknowledged); held is the in-memory
 * response the connection now holds (counted against max_send_memory).
 */
static void set_phase(struct px_http *h, struct MHD_Connection *c, int64_t us,
		      const char *phase, size_t held, bool rate)
{
	struct conn *k = conn_of(c);
	int64_t now = px_mono_us();

	if (!k)
		return;
	pthread_mutex_lock(&h->conns_lock);
	k->deadline_us = us ? now + us : 0;
	k->phase = phase;
	h->held -= k->held;
	k->held = held;
	h->held += held;
	k->rated = rate && h->o.min_send_rate > 0;
	if (k->rated || held) {
		if (!moved(k, &k->mark))
			k->rated = false;
		k->mark_us = k->start_us = now;
		k->start = k->mark;
	}
	pthread_mutex_unlock(&h->conns_lock);
}

/* Give the connection of c a deadline us from now (0: none). */
static void set_deadline(struct px_http *h, struct MHD_Connection *c,
			 int64_t us, const char *phase)
{
	set_phase(h, c, us, phase, 0, false);
}

/* Time a response of n bytes may take: the grace period plus n at the
 * minimum send rate. */
static int64_t send_budget_us(const struct px_http *h, size_t n)
{
	int64_t us = (int64_t)h->o.header_timeout * 1000000;

	if (h->o.min_send_rate > 0)
		us += (int64_t)((double)n * 1e6 / (double)h->o.min_send_rate);
	return us;
}

/* Queue the response the handler or worker built. */
static enum MHD_Result send_response(struct px_req *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	/* a file body holds no memory; a shared or owned buffer does */
	bool big = r->n >= RATED_MIN && !px_req_is_head(r);
	size_t held = big && (r->release || (r->fd < 0 && r->data)) ? r->n : 0;

	if (r->release) {
		resp = MHD_create_response_from_buffer_with_free_callback_cls(
			r->n, (void *)r->shared, r->release, r->release_cls);
		if (resp)
			r->release = NULL; /* now the response's to release */
	} else if (r->fd >= 0) {
		resp = MHD_create_response_from_fd_at_offset64(r->n, r->fd,
							       r->fd_off);
		if (resp)
			r->fd = -1; /* closed with the response */
	} else {
		resp = MHD_create_response_from_buffer(r->n, r->data,
						       MHD_RESPMEM_MUST_FREE);
		if (resp)
			r->data = NULL; /* now owned by the response */
	}
	if (!resp)
		return MHD_NO;
	if (r->ctype)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					r->ctype);
	for (struct hdr *h = r->headers; h; h = h->next)
		MHD_add_response_header(resp, h->name, h->value);
	MHD_add_response_header(resp, "X-Request-Id", r->id);
	set_phase(r->h, r->conn,
		  r->h->o.min_send_rate > 0 ? send_budget_us(r->h, r->n) : 0,
		  "response", held, big);
	ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	r->state = REQ_SENT;
	return ret;
}

void px_req_set_sched(struct px_req *r, uint64_t flow, uint64_t cost,
		      bool cancellable)
{
	if (flow)
		r->flow = flow;
	if (cost)
		r->cost = cost;
	r->cancellable = r->cancellable || cancellable;
}

bool px_req_cancelled(struct px_req *r) { return r->cancelled; }

bool px_req_client_gone(struct px_req *r)
{
	struct conn *k = conn_of(r->conn);
	struct pollfd pfd;

	if (!k || k->fd < 0)
		return false;
	pfd.fd = k->fd;
	pfd.events = POLLRDHUP;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) == 1 &&
	       (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

void px_req_hold(struct px_req *r, int ms)
{
	r->hold_ms = ms;
}

/* May r's answer be held back (px_req_hold)? Only without a body (a
 * body would have to be read meanwhile), and not once the server stops. */
static bool holdable(struct px_http *h, struct px_req *r)
{
	return r->hold_ms > 0 && h->watchdog_on && !atomic_load(&h->stopping) &&
	       !MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
					    MHD_HTTP_HEADER_CONTENT_LENGTH) &&
	       !MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
					    MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

/* List r, whose connection is suspended, for the watchdog to resume
 * when its hold ends; false (not listed) once stopping began, when the
 * watchdog's last sweep may be over. */
static bool hold_list(struct px_http *h, struct px_req *r)
{
	bool held = false;

	r->state = REQ_DEFERRED;
	r->hold_until_us = px_mono_us() + (int64_t)r->hold_ms * 1000;
	pthread_mutex_lock(&h->conns_lock);
	if (!atomic_load(&h->stopping)) {
		r->hold_next = h->holds;
		h->holds = r;
		held = true;
	}
	pthread_mutex_unlock(&h->conns_lock);
	if (held)
		atomic_fetch_add(&h->n_delayed, 1);
	return held;
}

/*
 * Hold the answer built on a network thread back r->hold_ms: the
 * connection is suspended and the watchdog resumes it when the time is
 * up, so a held answer costs no thread. Returns false when the answer
 * is to be sent now.
 */
static bool hold(struct px_http *h, struct px_req *r)
{
	if (!holdable(h, r))
		return false;
	/* Suspended before it is listed, so the watchdog never resumes a
	 * connection not yet suspended. */
	MHD_suspend_connection(r->conn);
	if (!hold_list(h, r)) {
		r->state = REQ_READY;
		MHD_resume_connection(r->conn);
	}
	return true;
}

/* Send the answers held until now (all of them with all set). */
static void release_holds(struct px_http *h, int64_t now, bool all)
{
	struct px_req *due = NULL, **pp, *r;

	pthread_mutex_lock(&h->conns_lock);
	for (pp = &h->holds; (r = *pp);) {
		if (all || now >= r->hold_until_us) {
			*pp = r->hold_next;
			r->hold_next = due;
			due = r;
		} else {
			pp = &r->hold_next;
		}
	}
	pthread_mutex_unlock(&h->conns_lock);
	while ((r = due)) {
		due = r->hold_next;
		r->state = REQ_READY;
		MHD_resume_connection(r->conn);
	}
}

/* The answer built on a network thread: held back, or queued now. */
static enum MHD_Result answer(struct px_http *h, struct px_req *r)
{
	return hold(h, r) ? MHD_YES : send_response(r);
}

static void run_deferred(void *arg)
{
	struct px_req *r = arg;

	/* A client that hung up while its job waited: a cancellable job
	 * runs in its cancelled form (it answers at once, and anything
	 * waiting on it hears so), the work is not done. */
	if (r->cancellable && !r->cancelled && px_req_client_gone(r)) {
		r->cancelled = true;
		px_req_note(r, NULL, "client-gone");
	}
	r->started_us = px_mono_us();
	r->deferred(r->h->o.app, r);
	if (!r->status)
		px_resp_error(r, 500, "internal_error", "no response");
	/* a refusal (a job pushed out of the queue) may be held back; the
	 * connection is suspended already */
	if (holdable(r->h, r) && hold_list(r->h, r))
		return;
	r->state = REQ_READY;
	MHD_resume_connection(r->conn);
}

/* Pushed out of the queue by a client holding fewer jobs. */
static void cancel_deferred(void *arg)
{
	struct px_req *r = arg;

	r->cancelled = true;
	px_req_note(r, NULL, "pushed-out");
	run_deferred(r);
}

int px_req_defer(struct px_req *r, px_deferred_fn fn)
{
	int rc;

	r->deferred = fn;
	r->state = REQ_DEFERRED;
	r->deferred_us = px_mono_us();
	/* Suspend before submitting so a fast worker never resumes a
	 * connection that is not yet suspended. */
	MHD_suspend_connection(r->conn);
	rc = px_pool_submit_fair(r->h->o.pool, r->flow,
				 r->cost ? r->cost : PX_POOL_QUANTUM, run_deferred,
				 r->cancellable ? cancel_deferred : NULL, r);
	if (rc) {
		r->state = REQ_BODY;
		MHD_resume_connection(r->conn);
	} else {
		r->suspended_now = true;
	}
	return rc;
}

void px_req_park(struct px_req *r)
{
	r->state = REQ_DEFERRED;
	r->suspended_now = true;
	MHD_suspend_connection(r->conn);
}

void px_req_wake(struct px_req *r)
{
	if (!r->status)
		px_resp_error(r, 500, "internal_error", "no response");
	r->state = REQ_READY;
	MHD_resume_connection(r->conn);
}

static bool valid_request_id(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'z') ||
		      (s[n] >= 'A' && s[n] <= 'Z') || s[n] == '-'))
			return false;
	return n >= 8 && n <= 32;
}

/*
 * A fresh request id: 16 random bytes in hex, taken from a per-thread
 * pool filled 1 KiB at a time, so the CSPRNG (and its locks) is asked
 * once per 64 requests rather than once per request.
 */
static void new_request_id(char out[33])
{
	static const char hex[] = "0123456789abcdef";
	static _Thread_local unsigned char pool[1024];
	static _Thread_local size_t used = sizeof(pool);

	if (used + 16 > sizeof(pool)) {
		if (px_random(pool, sizeof(pool))) {
			px_random_hex(out, 16);
			return;
		}
		used = 0;
	}
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[pool[used + i] >> 4];
		out[2 * i + 1] = hex[pool[used + i] & 15];
	}
	out[32] = '\0';
	/* spent bytes are not kept */
	memset(pool + used, 0, 16);
	used += 16;
}

static struct px_req *req_new(struct px_http *h, struct MHD_Connection *c,
			      const char *url, const char *method)
{
	struct px_req *r = calloc(1, sizeof(*r));
	const char *rid;

	if (!r)
		return NULL;
	r->h = h;
	r->conn = c;
	r->method = method;
	r->fd = -1;
	r->path = strdup(url);
	if (!r->path) {
		free(r);
		return NULL;
	}
	px_buf_init(&r->body, h->o.max_body);
	clock_gettime(CLOCK_MONOTONIC, &r->start);
	rid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
	if (rid && valid_request_id(rid))
		snprintf(r->id, sizeof(r->id), "%s", rid);
	else
		new_request_id(r->id);
	return r;
}

static void req_free(struct px_req *r)
{
	struct hdr *h, *next;

	for (h = r->headers; h; h = next) {
		next = h->next;
		free(h->name);
		free(h->value);
		free(h);
	}
	if (r->free_udata)
		r->free_udata(r->udata);
	clear_response(r);
	px_buf_release(&r->body);
	free(r->principal_id);
	free(r->principal_name);
	free(r->path);
	free(r);
}

/* Bodies over the limit but under this are read and discarded so the
 * client reliably sees its 413 (see on_request). */
static uint64_t drain_limit(const struct px_http *h)
{
	return PX_MAX((uint64_t)8 << 20, 2 * (uint64_t)h->o.max_body);
}

/* Count n more body bytes against the process-wide budget. */
static bool reserve(struct px_http *h, struct px_req *r, size_t n)
{
	size_t before = atomic_fetch_add(&h->body_bytes, n);

	if (before + n > h->o.max_body_total) {
		atomic_fetch_sub(&h->body_bytes, n);
		return false;
	}
	r->reserved += n;
	return true;
}

struct framing {
	int n_cl, n_te;
	bool bad_te, bad_name, nul;
};

/* An RFC 9110 token: what a header name must be. libmicrohttpd keeps a
 * blank before the colon as part of the name, so this catches it. */
static bool token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!(((*s | 0x20) >= 'a' && (*s | 0x20) <= 'z') ||
		      (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s)))
			return false;
	return true;
}

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind,
				     const char *key, const char *value)
{
	struct framing *f = cls;

	if (kind == MHD_GET_ARGUMENT_KIND) {
		/* values are still percent-encoded (no_unescape) */
		if ((value && strstr(value, "%00")) || strstr(key, "%00"))
			f->nul = true;
		return MHD_YES;
	}
	if (!token(key))
		f->bad_name = true;
	if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
		f->n_cl++;
	} else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
		f->n_te++;
		if (!value || strcasecmp(value, "chunked"))
			f->bad_te = true;
	}
	return MHD_YES;
}

/*
 * Framing a proxy in front might read differently from us is refused
 * with 400 and the connection closed (RFC 9112 section 6.3): several
 * Content-Length or Transfer-Encoding headers, both at once, a transfer
 * coding other than chunked. libmicrohttpd's strict mode (see
 * px_http_start) refuses the malformed lines before we see them. A NUL
 * (%00) anywhere in the path or query is refused too: every layer
 * below stops reading at it.
 */
static bool check_framing(struct px_req *r, const char *url)
{
	struct framing f = {0};
	const char *why = NULL;

	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_framing, &f);
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, count_framing,
				  &f);
	if (f.bad_name)
		why = "a header name that is not a token (a blank before the colon?)";
	else if (f.n_cl > 1)
		why = "more than one Content-Length header";
	else if (f.n_te > 1 || f.bad_te)
		why = "Transfer-Encoding other than a single \"chunked\"";
	else if (f.n_cl && f.n_te)
		why = "both Content-Length and Transfer-Encoding";
	if (why) {
		atomic_fetch_add(&r->h->n_framing, 1);
		px_req_note(r, NULL, "framing");
		px_resp_header(r, "Connection", "close");
		px_resp_error(r, 400, "bad_framing", "%s", why);
		return false;
	}
	if (f.nul || strcasestr(url, "%00")) {
		px_req_note(r, NULL, "nul");
		px_resp_error(r, 400, "invalid_request",
			      "a NUL byte (%%00) is not allowed in a path or query");
		return false;
	}
	return true;
}

/*
 * A request with a body: it must arrive within the header timeout plus
 * its length at the minimum rate, and at that rate in every window.
 */
static void body_phase(struct px_http *h, struct px_req *r, const char *cl)
{
	const char *te = MHD_lookup_connection_value(
		r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	uint64_t n = cl ? strtoull(cl, NULL, 10) : 0;

	if (!n && !te)
		return;
	if (!cl)
		n = h->o.max_body;
	if (h->o.min_send_rate > 0)
		set_phase(h, r->conn, send_budget_us(h, (size_t)n), "body", 0,
			  true);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct px_http *h = cls;
	struct px_req *r = *con_cls;

	if (!r) {
		const char *cl;

		r = req_new(h, c, url, method);
		if (!r)
			return MHD_NO;
		*con_cls = r;
		atomic_fetch_add(&h->inflight, 1);
		/* The headers are in: no header deadline while we work. */
		set_deadline(h, c, 0, "request");
		if (!check_framing(r, url))
			return send_response(r);
		/* Refusals from the headers alone (rate limits, rules, a
		 * missing token on an upload) come before any body byte is
		 * accepted or any budget reserved. */
		if (h->o.admit) {
			h->o.admit(h->o.app, r);
			if (r->status) {
				if (MHD_lookup_connection_value(
					    c, MHD_HEADER_KIND,
					    MHD_HTTP_HEADER_CONTENT_LENGTH) ||
				    MHD_lookup_connection_value(
					    c, MHD_HEADER_KIND,
					    MHD_HTTP_HEADER_TRANSFER_ENCODING))
					px_resp_header(r, "Connection", "close");
				return answer(h, r);
			}
		}
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > h->o.max_body) {
			const char *expect = MHD_lookup_connection_value(
				c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);

			/*
			 * A client that waits for "100 Continue" gets the 413
			 * before it sends a byte. One that sends at once would
			 * often see its connection reset before it reads an
			 * early answer, so a body of moderate size is read and
			 * thrown away (never buffered) and answered at its end;
			 * beyond that the answer comes at once.
			 */
			if ((expect && !strcasecmp(expect, "100-continue")) ||
			    strtoull(cl, NULL, 10) > drain_limit(h)) {
				px_resp_error(r, 413, "payload_too_large",
					      "body of %s bytes is over the limit of %zu bytes%s",
					      cl, h->o.max_body,
					      h->o.max_body_hint ? h->o.max_body_hint : "");
				if (h->o.refused)
					h->o.refused(h->o.app, r);
				return send_response(r);
			}
			r->too_big = true;
			body_phase(h, r, cl);
			return MHD_YES;
		}
		/* An announced body is counted at once, so a burst of large
		 * uploads is refused before any of it is buffered. */
		if (cl && !reserve(h, r, strtoull(cl, NULL, 10))) {
			px_resp_header(r, "Retry-After", "1");
			px_resp_error(r, 503, "overloaded",
				      "too many uploads in progress; retry later");
			return send_response(r);
		}
		body_phase(h, r, cl);
		return MHD_YES;
	}
	if (r->state == REQ_SENT) {
		/* The early 413: drop whatever body still arrives. */
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size) {
		struct conn *k = conn_of(c);

		if (k)
			atomic_fetch_add(&k->rx, *upload_size);
		if (r->too_big || r->no_room) {
			/* discard */
		} else if (r->body.len + *upload_size > r->reserved &&
			   !reserve(h, r, r->body.len + *upload_size - r->reserved)) {
			r->no_room = true;
			px_buf_release(&r->body);
		} else if (px_buf_add(&r->body, upload, *upload_size) ==
			   PX_ETOOBIG) {
			r->too_big = true;
			px_buf_release(&r->body);
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->state == REQ_READY)
		return send_response(r);
	if (r->state == REQ_DEFERRED)
		return MHD_YES; /* spurious call while suspended */
	/* The body is in: no deadline while we work. */
	set_deadline(h, c, 0, "request");
	if (r->too_big) {
		px_resp_error(r, 413, "payload_too_large",
			      "body is over the limit of %zu bytes%s",
			      h->o.max_body,
			      h->o.max_body_hint ? h->o.max_body_hint : "");
		return send_response(r);
	}
	if (r->no_room) {
		px_resp_header(r, "Retry-After", "1");
		px_resp_error(r, 503, "overloaded",
			      "too many uploads in progress; retry later");
		return send_response(r);
	}
	h->o.handler(h->o.app, r);
	/* Suspended here: whoever resumes it may already have set the
	 * state, so only this flag (set on this thread) is trusted. */
	if (r->suspended_now) {
		r->suspended_now = false;
		return MHD_YES;
	}
	if (!r->status)
		px_resp_error(r, 500, "internal_error", "no response");
	return answer(h, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct px_http *h = cls;
	struct px_req *r = *con_cls;
	char addr[INET6_ADDRSTRLEN];
	struct timespec now;
	struct px_buf f;
	double ms;

	if (!r)
		return;
	if (!px_log_enabled(PX_LOG_INFO))
		goto done;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (double)(now.tv_sec - r->start.tv_sec) * 1e3 +
	     (double)(now.tv_nsec - r->start.tv_nsec) / 1e6;
	if (client_ip(c, addr, sizeof(addr)))
		snprintf(addr, sizeof(addr), "-");
	/* The path only: query strings may carry signatures and tokens. */
	px_buf_init(&f, 8192);
	px_buf_adds(&f, "\"request_id\":");
	px_json_quote(&f, r->id);
	px_buf_adds(&f, ",\"method\":");
	px_json_quote(&f, r->method);
	px_buf_adds(&f, ",\"path\":");
	px_json_quote(&f, r->path);
	px_buf_addf(&f, ",\"status\":%d,\"bytes\":%zu,\"ms\":%.2f,\"remote\":",
		    r->status, r->n, ms);
	px_json_quote(&f, addr);
	if (r->principal_id) {
		px_buf_adds(&f, ",\"token\":");
		px_json_quote(&f, r->principal_id);
	}
	if (r->client[0] && strcmp(r->client, addr)) {
		px_buf_adds(&f, ",\"client\":");
		px_json_quote(&f, r->client);
	}
	if (r->refused_by[0]) {
		px_buf_adds(&f, ",\"refused_by\":");
		px_json_quote(&f, r->refused_by);
	}
	/* Why a request failed, and who asked (truncated: the header is
	 * the client's to fill). */
	if (r->err_code[0] && (r->status < 200 || r->status > 299)) {
		px_buf_adds(&f, ",\"error\":");
		px_json_quote(&f, r->err_code);
	}
	{
		const char *ua = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_USER_AGENT);
		char cut[129];

		if (ua) {
			size_t n;

			px_strlcpy(cut, ua, sizeof(cut));
			/* never half a UTF-8 sequence */
			n = strlen(cut);
			if (ua[n]) {
				while (n && ((unsigned char)cut[n - 1] & 0xC0) == 0x80)
					n--;
				if (n && (unsigned char)cut[n - 1] >= 0xC0)
					n--;
				cut[n] = '\0';
			}
			px_buf_adds(&f, ",\"ua\":");
			px_json_quote(&f, cut);
		}
	}
	if (r->deferred_us && r->started_us)
		px_buf_addf(&f, ",\"wait_ms\":%.2f",
			    (double)(r->started_us - r->deferred_us) / 1e3);
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		px_buf_addf(&f, ",\"aborted\":%d", (int)toe);
	px_log(PX_LOG_INFO, "request", (const char *)f.data);
	px_buf_release(&f);
done:
	atomic_fetch_sub(&h->body_bytes, r->reserved);
	if (h->o.completed)
		h->o.completed(h->o.app, r);
	req_free(r);
	*con_cls = NULL;
	atomic_fetch_sub(&h->inflight, 1);
	/* Waiting for the next request on a kept-alive connection counts
	 * as reading headers. */
	set_deadline(h, c, (int64_t)h->o.header_timeout * 1000000, "headers");
}

static void on_connection(void *cls, struct MHD_Connection *c,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct px_http *h = cls;
	struct conn *k = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fd, *ad;

		k = calloc(1, sizeof(*k));
		if (!k)
			return;
		fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		ad = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		k->fd = fd ? fd->connect_fd : -1;
		sockaddr_peer(ad ? ad->client_addr : NULL, k->peer);
		k->deadline_us = px_mono_us() + (int64_t)h->o.header_timeout * 1000000;
		k->phase = "headers";
		pthread_mutex_lock(&h->conns_lock);
		k->next = h->conns;
		if (h->conns)
			h->conns->prev = k;
		h->conns = k;
		pthread_mutex_unlock(&h->conns_lock);
		*socket_context = k;
		return;
	}
	if (!k)
		return;
	pthread_mutex_lock(&h->conns_lock);
	h->held -= k->held;
	if (k->prev)
		k->prev->next = k->next;
	else
		h->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	pthread_mutex_unlock(&h->conns_lock);
	free(k);
	*socket_context = NULL;
}

struct dropped {
	uint8_t peer[16];
	const char *why;
};

/* Shut k down (conns_lock held); libmicrohttpd sees the close and
 * cleans up as usual. */
static void cut(struct conn *k, atomic_ullong *counter, struct dropped *d,
		int *nd, int max, const char *why)
{
	/* A reader cut mid-response gets a reset, not a FIN behind the
	 * queued bytes: the kernel drops what it still holds for it at
	 * once. Other phases close gently (a kept-alive client may be
	 * about to reuse the connection). */
	struct linger lg = {1, 0};

	if (!strcmp(k->phase, "response"))
		setsockopt(k->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	shutdown(k->fd, SHUT_RDWR);
	k->deadline_us = 0;
	k->rated = false;
	k->cut = true;
	atomic_fetch_add(counter, 1);
	if (*nd < max) {
		memcpy(d[*nd].peer, k->peer, 16);
		d[(*nd)++].why = why;
	}
}

/*
 * Over max_send_memory: cut the connections holding in-memory responses
 * for at least a second, the slowest readers first, until the rest fit
 * (conns_lock held).
 */
static void trim_held(struct px_http *h, int64_t now, struct dropped *d,
		      int *nd, int max)
{
	size_t live = 0;

	for (struct conn *k = h->conns; k; k = k->next)
		if (!k->cut)
			live += k->held;
	while (live > h->o.max_send_memory) {
		struct conn *worst = NULL;
		double worst_rate = 0;

		for (struct conn *k = h->conns; k; k = k->next) {
			uint64_t b;
			double rate;

			if (k->cut || !k->held || k->fd < 0 ||
			    now - k->start_us < 1000000)
				continue;
			if (!acked_bytes(k->fd, &b) || b < k->start)
				b = k->start;
			rate = (double)(b - k->start) * 1e6 /
			       (double)(now - k->start_us);
			if (!worst || rate < worst_rate) {
				worst = k;
				worst_rate = rate;
			}
		}
		if (!worst)
			break;
		live -= worst->held;
		cut(worst, &h->n_memory, d, nd, max, "response-memory");
	}
}

/*
 * Close connections past their deadline or below the minimum transfer
 * rate over a window (the header timeout), and the slowest readers
 * while responses held in memory are over their budget; once a second,
 * the application's tick.
 */
static void *watchdog(void *arg)
{
	struct px_http *h = arg;
	int64_t next_tick = 0;
	int64_t window = (int64_t)h->o.header_timeout * 1000000;
	uint64_t need = (uint64_t)((double)h->o.min_send_rate *
				   (double)h->o.header_timeout);

	while (!atomic_load(&h->stopping)) {
		struct dropped dropped[16];
		int nd = 0, max = (int)PX_ARRAY_LEN(dropped);
		int64_t now = px_mono_us();

		pthread_mutex_lock(&h->conns_lock);
		for (struct conn *k = h->conns; k; k = k->next) {
			uint64_t b;

			if (k->fd < 0 || k->cut)
				continue;
			if (k->deadline_us && now >= k->deadline_us) {
				cut(k, &h->n_deadline, dropped, &nd, max, k->phase);
				continue;
			}
			if (!k->rated || now - k->mark_us < window ||
			    !moved(k, &b))
				continue;
			if (b - k->mark < need) {
				cut(k, &h->n_slow, dropped, &nd, max,
				    !strcmp(k->phase, "body") ? "body-rate"
							      : "response-rate");
				continue;
			}
			k->mark = b;
			k->mark_us = now;
		}
		if (h->o.max_send_memory && h->held > h->o.max_send_memory)
			trim_held(h, now, dropped, &nd, max);
		pthread_mutex_unlock(&h->conns_lock);
		for (int i = 0; i < nd && h->o.dropped; i++)
			h->o.dropped(h->o.app, dropped[i].peer, dropped[i].why);
		release_holds(h, now, false);
		if (now >= next_tick) {
			if (h->o.tick)
				h->o.tick(h->o.app);
			next_tick = now + 1000000;
		}
		usleep(100000);
	}
	/* Nothing is held once stopping is set (see hold()). */
	release_holds(h, 0, true);
	return NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	/* At most 10 lines a second: a flood of broken connections must
	 * not become a flood of log lines. */
	static atomic_llong window;
	static atomic_int in_window, suppressed;
	long long sec = px_mono_us() / 1000000;
	char msg[1024];

	if (atomic_exchange(&window, sec) != sec) {
		int n = atomic_exchange(&suppressed, 0);

		atomic_store(&in_window, 0);
		if (n)
			px_logf(PX_LOG_WARN, "%d libmicrohttpd messages suppressed", n);
	}
	if (atomic_fetch_add(&in_window, 1) >= 10) {
		atomic_fetch_add(&suppressed, 1);
		return;
	}

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	px_log(PX_LOG_WARN, msg, "\"source\":\"libmicrohttpd\"");
}

static int parse_listen(const char *s, struct sockaddr_storage *ss,
			socklen_t *len, struct px_errbuf *eb)
{
	const char *colon = strrchr(s, ':');
	char host[256];
	char *end;
	long port;

	memset(ss, 0, sizeof(*ss));
	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return px_errf(eb, PX_EINVAL, "listen \"%s\" is not HOST:PORT", s);
	port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 0 || port > 65535)
		return px_errf(eb, PX_EINVAL, "listen \"%s\": bad port", s);
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

		host[strlen(host) - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
			return px_errf(eb, PX_EINVAL, "listen \"%s\": bad address", s);
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

		if (!strcmp(host, "localhost"))
			strcpy(host, "127.0.0.1");
		if (!*host)
			strcpy(host, "0.0.0.0");
		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return px_errf(eb, PX_EINVAL, "listen \"%s\": bad address", s);
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*len = sizeof(*a4);
	}
	return 0;
}

/* Room for max_conns sockets plus the stores and models: raise the
 * soft descriptor limit towards the hard one. */
static void raise_fd_limit(int max_conns)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)(max_conns > 0 ? max_conns : 4096) + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? want : PX_MIN(want, rl.rlim_max);
	setrlimit(RLIMIT_NOFILE, &rl);
}

int px_http_start(const struct px_http_opts *o, struct px_http **out,
		  struct px_errbuf *eb)
{
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *di;
	struct px_http *h;
	socklen_t len;
	unsigned flags;
	int rc;

	*out = NULL;
	if ((rc = parse_listen(o->listen, &ss, &len, eb)))
		return rc;
	h = calloc(1, sizeof(*h));
	if (!h)
		return PX_ENOMEM;
	h->o = *o;
	if (h->o.header_timeout <= 0)
		h->o.header_timeout = 10;
	pthread_mutex_init(&h->conns_lock, NULL);
	raise_fd_limit(o->max_conns);
	flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
		MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->d = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, h,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)o->threads,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->conn_timeout,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)o->per_ip_conns,
		MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)(o->max_conns > 0 ? o->max_conns : 4096),
		/* 0.9.75 (Debian bookworm) has no stricter setting: it still
		 * takes bare LF and folded lines (docs/SECURITY.md) */
		MHD_OPTION_STRICT_FOR_CLIENT, 1,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, o->conn_memory,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
		MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, h, MHD_OPTION_END);
	if (!h->d) {
		pthread_mutex_destroy(&h->conns_lock);
		free(h);
		return px_errf(eb, PX_EIO, "cannot listen on \"%s\": %s",
			       o->listen, strerror(errno));
	}
	h->watchdog_on = pthread_create(&h->watchdog, NULL, watchdog, h) == 0;
	di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = di ? di->port : 0;
	*out = h;
	return 0;
}

int px_http_port(struct px_http *h)
{
	return h->port;
}

void px_http_quiesce(struct px_http *h)
{
	MHD_socket s = MHD_quiesce_daemon(h->d);

	if (s != MHD_INVALID_SOCKET)
		close(s);
}

unsigned long long px_http_deadline_drops(struct px_http *h)
{
	return atomic_load(&h->n_deadline);
}

void px_http_conn_stats(struct px_http *h, struct px_http_conn_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!h)
		return;
	st->deadline = atomic_load(&h->n_deadline);
	st->slow = atomic_load(&h->n_slow);
	st->memory = atomic_load(&h->n_memory);
	st->delayed = atomic_load(&h->n_delayed);
	pthread_mutex_lock(&h->conns_lock);
	st->held = h->held;
	for (struct conn *k = h->conns; k; k = k->next)
		st->open++;
	pthread_mutex_unlock(&h->conns_lock);
}

int px_http_inflight(struct px_http *h)
{
	return atomic_load(&h->inflight);
}

void px_http_stop(struct px_http *h)
{
	if (!h)
		return;
	atomic_store(&h->stopping, true);
	if (h->watchdog_on)
		pthread_join(h->watchdog, NULL);
	MHD_stop_daemon(h->d);
	pthread_mutex_destroy(&h->conns_lock);
	free(h);
}

const char *px_http_version(void)
{
	return MHD_get_version();
}
