/*
 * kv_pg.c - the PostgreSQL metadata backend; the only file that sees
 * libpq-fe.h.
 *
 * The store is one table, pictor_kv (k bytea PRIMARY KEY, v bytea), in
 * whatever schema the connection's search_path selects. bytea compares
 * with memcmp and then length, which is exactly kv.h's key order, so a
 * prefix scan is an index range scan. A second table, pictor_schema, holds
 * the schema version: open() creates both on an empty database, migrates
 * an older one, and refuses one newer than this build knows.
 *
 * Guarantees, the same as LMDB's when several processes or nodes share one
 * database (docs/ARCHITECTURE.md says why each holds):
 *  - One writer at a time: begin(write) opens a READ COMMITTED transaction
 *    and takes a transaction-scoped advisory lock whose key names this
 *    table (pg_advisory_xact_lock), so a second writer on any node waits
 *    in begin(). Every statement after the lock reads a fresh snapshot
 *    that includes every earlier writer's commit (PostgreSQL makes a
 *    commit visible before it releases the committer's locks), and no
 *    other writer can commit until this one ends: writers never conflict,
 *    so there are no serialization failures to retry mid-transaction.
 *  - Readers never block and see one instant: a REPEATABLE READ READ ONLY
 *    transaction whose snapshot is taken inside begin(), as LMDB's is.
 *  - commit() returning 0 means PostgreSQL reported the COMMIT done, which
 *    with synchronous_commit on (forced for Pictor's sessions) means the
 *    WAL is flushed.
 * Scans read the range in pages of scan_batch rows (prepared statements,
 * `k >= $1 AND k < $2 ORDER BY k LIMIT n`), so a large scan never holds
 * more than one page; the transaction's snapshot keeps the pages
 * consistent with each other.
 *
 * Connections: a pool of up to max_conns libpq connections, opened on
 * demand. A transaction borrows one for its whole life, so a thread never
 * shares a connection. A connection found broken (PostgreSQL restarted,
 * network cut) is closed when its transaction ends and reopened by the
 * next begin(), which also retries a begin that failed on a dead pooled
 * connection: a restart costs the transactions in flight, never the
 * process. Every wait has a deadline: connect_timeout, statement_timeout,
 * lock_timeout and a bounded wait for a free connection.
 */
#include "meta/kv.h"
#include "core/log.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>

/* The schema version this build writes; it opens versions 1..this. */
#define SCHEMA_VERSION 1

/* High 32 bits of every advisory-lock key Pictor takes ("PICT"); the low
 * 32 bits are the kv table's OID, or 0 for schema migration. */
#define LOCK_CLASS 0x50494354LL

#define DEFAULT_CONNS 8
#define MAX_CONNS 1024
#define CONN_WAIT_SEC 10 /* longest begin() waits for a free connection */
#define BEGIN_TRIES 3    /* attempts of a begin() on broken connections */
#define MAX_KEY 511

/* Rows per scan page, and how long begin() waits for a free connection:
 * variables so the unit test can make pages small and waits short. */
static int scan_batch = 128;
static int conn_wait_sec = CONN_WAIT_SEC;

struct pg_slot {
	PGconn *conn; /* NULL until opened, or after it broke */
	bool busy;    /* borrowed by a transaction */
};

struct pg_kv {
	struct px_kv base;
	char *conninfo; /* the libpq URI or key=value string, as given */
	long long write_lock; /* advisory-lock key of the writer */
	pthread_mutex_t lock; /* guards slots, nslots, max_conns */
	pthread_cond_t freed;
	struct pg_slot *slots;
	int nslots, max_conns;
	pthread_mutex_t health_lock; /* guards health_conn */
	PGconn *health_conn;
	char channel[32]; /* LISTEN/NOTIFY channel: "pictor_<table oid>" */
	/* the listener thread (listen()) */
	pthread_t listener;
	bool listening;
	atomic_bool stopping;
	px_kv_notify_fn notify_fn;
	void *notify_ctx;
	PGconn *listen_conn; /* handed from listen() to the thread */
};

struct pg_txn {
	struct px_kv_txn base;
	struct pg_slot *slot;
	bool rdonly;
	bool failed; /* a statement failed: PostgreSQL aborted the txn */
};

/* Statements every connection prepares once (PREPARE in one round trip).
 * Scan pages: fwd/fwd_open read up from $1 (below the prefix end $2 or
 * unbounded); rev_le/rev_lt/rev_open read down from $1 (inclusive,
 * exclusive, unbounded) to the prefix $2 (or $1 for rev_open). */
static const char prepare_sql[] =
	"PREPARE px_get(bytea) AS SELECT v FROM pictor_kv WHERE k = $1;"
	"PREPARE px_put(bytea, bytea) AS INSERT INTO pictor_kv (k, v) "
	"VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v;"
	"PREPARE px_putnx(bytea, bytea) AS INSERT INTO pictor_kv (k, v) "
	"VALUES ($1, $2) ON CONFLICT (k) DO NOTHING;"
	"PREPARE px_del(bytea) AS DELETE FROM pictor_kv WHERE k = $1;"
	"PREPARE px_fwd(bytea, bytea, int) AS SELECT k, v FROM pictor_kv "
	"WHERE k >= $1 AND k < $2 ORDER BY k LIMIT $3;"
	"PREPARE px_fwd_open(bytea, int) AS SELECT k, v FROM pictor_kv "
	"WHERE k >= $1 ORDER BY k LIMIT $2;"
	"PREPARE px_rev_le(bytea, bytea, int) AS SELECT k, v FROM pictor_kv "
	"WHERE k <= $1 AND k >= $2 ORDER BY k DESC LIMIT $3;"
	"PREPARE px_rev_lt(bytea, bytea, int) AS SELECT k, v FROM pictor_kv "
	"WHERE k < $1 AND k >= $2 ORDER BY k DESC LIMIT $3;"
	"PREPARE px_rev_open(bytea, int) AS SELECT k, v FROM pictor_kv "
	"WHERE k >= $1 ORDER BY k DESC LIMIT $2;";

/* Session settings: durable commits and a deadline on every wait. */
static const char session_sql[] =
	"SET synchronous_commit = on;"
	"SET statement_timeout = '30s';"
	"SET lock_timeout = '30s';"
	"SET idle_in_transaction_session_timeout = '10min';";

/* Drop PostgreSQL's notices ("relation already exists, skipping"). */
static void quiet(void *arg, const char *msg)
{
}

/* Copy libpq's message into eb without its trailing newline. */
static int conn_err(struct px_errbuf *eb, int rc, const char *what,
		    const char *msg)
{
	size_t n = strlen(msg);

	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		n--;
	return px_errc(eb, rc, "storage_unavailable",
		       "metadata store (postgres): %s: %.*s", what, (int)n,
		       msg);
}

/*
 * Map a failed statement to a px_err. Lost connections and server
 * shutdowns are "storage_unavailable" (503 to a client); lock timeouts,
 * serialization failures and deadlocks are PX_EBUSY.
 */
static int res_err(PGconn *conn, PGresult *res, struct px_errbuf *eb,
		   const char *what)
{
	const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorMessage(res) : "";

	if (!msg || !*msg)
		msg = PQerrorMessage(conn);
	if (PQstatus(conn) == CONNECTION_BAD || !st || !strncmp(st, "08", 2) ||
	    !strncmp(st, "57P", 3))
		return conn_err(eb, PX_EIO, what, msg);
	if (!strcmp(st, "40001") || !strcmp(st, "40P01") ||
	    !strcmp(st, "55P03") || !strcmp(st, "57014"))
		return conn_err(eb, PX_EBUSY, what, msg);
	if (!strcmp(st, "54000"))
		return px_errf(eb, PX_ETOOBIG, "metadata store (postgres): %s: %s",
			       what, msg);
	return px_errf(eb, PX_EIO, "metadata store (postgres): %s: %s", what,
		       msg);
}

/* Run sql (one or more statements); 0 when the last one succeeded. */
static int exec_ok(PGconn *conn, const char *sql, struct px_errbuf *eb,
		   const char *what)
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType s = PQresultStatus(res);
	int rc = 0;

	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
		rc = res_err(conn, res, eb, what);
	PQclear(res);
	return rc;
}

/* Open a connection with Pictor's defaults under the caller's settings. */
static int dial(const char *conninfo, const char *timeout, PGconn **out,
		struct px_errbuf *eb)
{
	/* Later entries override earlier ones: the defaults come first so
	 * the URI may change them (libpq's expand_dbname rule). */
	const char *const keys[] = {"connect_timeout", "application_name",
				    "keepalives_idle", "keepalives_interval",
				    "keepalives_count", "dbname", NULL};
	const char *const vals[] = {timeout, "pictor", "10", "5", "3",
				    conninfo, NULL};
	PGconn *conn = PQconnectdbParams(keys, vals, 1);
	int rc;

	*out = NULL;
	if (!conn)
		return px_errf(eb, PX_ENOMEM, "out of memory");
	if (PQstatus(conn) != CONNECTION_OK) {
		rc = conn_err(eb, PX_EIO, "connect", PQerrorMessage(conn));
		PQfinish(conn);
		return rc;
	}
	PQsetNoticeProcessor(conn, quiet, NULL);
	*out = conn;
	return 0;
}

/* dial, then the session settings and prepared statements. */
static int connect_slot(struct pg_kv *kv, PGconn **out, struct px_errbuf *eb)
{
	PGconn *conn;
	int rc = dial(kv->conninfo, "5", &conn, eb);

	if (rc)
		return rc;
	if ((rc = exec_ok(conn, session_sql, eb, "session settings")) ||
	    (rc = exec_ok(conn, prepare_sql, eb, "prepare"))) {
		PQfinish(conn);
		return rc;
	}
	*out = conn;
	return 0;
}

/* Take a free slot, waiting up to CONN_WAIT_SEC; PX_EBUSY if none frees. */
static int borrow(struct pg_kv *kv, struct pg_slot **out,
		  struct px_errbuf *eb)
{
	struct pg_slot *pick = NULL;
	struct timespec until;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += conn_wait_sec;
	pthread_mutex_lock(&kv->lock);
	while (!pick) {
		/* prefer an open connection; else a slot to open one in */
		for (int i = 0; i < kv->max_conns && i < kv->nslots; i++) {
			struct pg_slot *s = &kv->slots[i];

			if (!s->busy && (s->conn || !pick))
				pick = s;
			if (pick && pick->conn)
				break;
		}
		if (!pick && kv->nslots < kv->max_conns)
			pick = &kv->slots[kv->nslots++];
		if (pick)
			break;
		if (pthread_cond_timedwait(&kv->freed, &kv->lock, &until) ==
		    ETIMEDOUT) {
			rc = px_errc(eb, PX_EBUSY, "storage_unavailable",
				     "metadata store (postgres): all %d "
				     "connections busy for %d s",
				     kv->max_conns, conn_wait_sec);
			break;
		}
	}
	if (pick)
		pick->busy = true;
	pthread_mutex_unlock(&kv->lock);
	*out = pick;
	return rc;
}

/* Return a slot; a connection that is not idle and healthy is closed. */
static void give_back(struct pg_kv *kv, struct pg_slot *s)
{
	if (s->conn && (PQstatus(s->conn) != CONNECTION_OK ||
			PQtransactionStatus(s->conn) != PQTRANS_IDLE)) {
		PQfinish(s->conn);
		s->conn = NULL;
	}
	pthread_mutex_lock(&kv->lock);
	s->busy = false;
	pthread_cond_signal(&kv->freed);
	pthread_mutex_unlock(&kv->lock);
}

static void pg_close(struct px_kv *base)
{
	struct pg_kv *kv = (struct pg_kv *)base;

	if (!kv)
		return;
	if (kv->listening) {
		atomic_store(&kv->stopping, true);
		pthread_join(kv->listener, NULL);
	}
	for (int i = 0; i < kv->nslots; i++)
		if (kv->slots[i].conn)
			PQfinish(kv->slots[i].conn);
	if (kv->health_conn)
		PQfinish(kv->health_conn);
	pthread_mutex_destroy(&kv->lock);
	pthread_cond_destroy(&kv->freed);
	pthread_mutex_destroy(&kv->health_lock);
	free(kv->slots);
	free(kv->conninfo);
	free(kv);
}

/* The single integer of a one-row result, or -1. */
static long long scalar(PGconn *conn, const char *sql, struct px_errbuf *eb,
			int *rc)
{
	PGresult *res = PQexec(conn, sql);
	long long v = -1;

	*rc = 0;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		*rc = res_err(conn, res, eb, "schema");
	else if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return v;
}

/*
 * Create or migrate the schema, one process at a time (an advisory lock
 * of its own, since the table whose OID keys the writer lock may not
 * exist yet), then learn the writer's lock key.
 */
static int migrate(struct pg_kv *kv, PGconn *conn, struct px_errbuf *eb)
{
	char sql[160];
	long long have, oid;
	int rc;

	snprintf(sql, sizeof(sql),
		 "BEGIN; SELECT pg_advisory_xact_lock(%lld)", LOCK_CLASS << 32);
	if ((rc = exec_ok(conn, sql, eb, "schema lock")))
		goto out;
	have = scalar(conn,
		      "SELECT CASE WHEN to_regclass('pictor_schema') IS NULL "
		      "THEN 0 ELSE 1 END",
		      eb, &rc);
	if (rc)
		goto out;
	if (have) {
		have = scalar(conn, "SELECT max(version) FROM pictor_schema",
			      eb, &rc);
		if (rc)
			goto out;
	}
	if (have > SCHEMA_VERSION) {
		rc = px_errc(eb, PX_EUNSUPPORTED, "schema_too_new",
			     "metadata store (postgres): schema version %lld "
			     "is newer than this pictor knows (%d); run a "
			     "pictor at least as new as the one that wrote it",
			     have, SCHEMA_VERSION);
		goto out;
	}
	if (have < 1 &&
	    (rc = exec_ok(conn,
			  "CREATE TABLE IF NOT EXISTS pictor_schema "
			  "(version integer NOT NULL);"
			  "CREATE TABLE IF NOT EXISTS pictor_kv "
			  "(k bytea PRIMARY KEY, v bytea NOT NULL);"
			  "DELETE FROM pictor_schema;"
			  "INSERT INTO pictor_schema (version) VALUES (1)",
			  eb, "create schema")))
		goto out;
	/* Later versions migrate here, one step at a time:
	 * if (have < 2) { ALTER ...; UPDATE pictor_schema SET version = 2 } */
	oid = scalar(conn, "SELECT 'pictor_kv'::regclass::oid::bigint", eb,
		     &rc);
	if (rc)
		goto out;
	kv->write_lock = (LOCK_CLASS << 32) | (oid & 0xffffffffLL);
	/* Channels are database-wide: the table's OID keeps stores in
	 * different schemas of one database apart. */
	snprintf(kv->channel, sizeof(kv->channel), "pictor_%lld", oid);
	rc = exec_ok(conn, "COMMIT", eb, "schema commit");
out:
	if (rc && PQtransactionStatus(conn) != PQTRANS_IDLE)
		PQclear(PQexec(conn, "ROLLBACK"));
	return rc;
}

static int pg_open(const char *location, uint64_t map_size,
		   struct px_kv **out, struct px_errbuf *eb)
{
	struct pg_kv *kv = NULL;
	PGconn *conn = NULL;
	int rc = 0;

	*out = NULL;
	if (!location || !*location)
		return px_errf(eb, PX_EINVAL,
			       "the postgres store needs a connection URI");
	kv = calloc(1, sizeof(*kv));
	if (!kv || !(kv->conninfo = strdup(location)) ||
	    !(kv->slots = calloc(MAX_CONNS, sizeof(*kv->slots)))) {
		if (kv)
			free(kv->conninfo);
		free(kv);
		return px_errf(eb, PX_ENOMEM, "out of memory");
	}
	kv->base.ops = &px_kv_pg_ops;
	kv->max_conns = DEFAULT_CONNS;
	pthread_mutex_init(&kv->lock, NULL);
	pthread_cond_init(&kv->freed, NULL);
	pthread_mutex_init(&kv->health_lock, NULL);
	if ((rc = dial(location, "5", &conn, eb)) ||
	    (rc = exec_ok(conn, session_sql, eb, "session settings")) ||
	    (rc = migrate(kv, conn, eb)))
		goto out;
out:
	if (conn)
		PQfinish(conn);
	if (rc) {
		pg_close(&kv->base);
		return rc;
	}
	*out = &kv->base;
	return 0;
}

static int pg_set_conns(struct px_kv *base, int n)
{
	struct pg_kv *kv = (struct pg_kv *)base;

	if (n < 1 || n > MAX_CONNS)
		return PX_EINVAL;
	pthread_mutex_lock(&kv->lock);
	kv->max_conns = n;
	pthread_mutex_unlock(&kv->lock);
	return 0;
}

/*
 * Start the transaction on the slot's connection, (re)connecting first
 * when it has none. Retrying on a fresh connection is safe: nothing of
 * this transaction has happened yet.
 */
static int start_txn(struct pg_kv *kv, struct pg_txn *t, struct px_errbuf *eb)
{
	char sql[200];
	int rc = 0;

	if (t->rdonly)
		/* SELECT 1 takes the snapshot now, as LMDB's begin does */
		snprintf(sql, sizeof(sql),
			 "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"
			 "SELECT 1");
	else
		snprintf(sql, sizeof(sql),
			 "BEGIN ISOLATION LEVEL READ COMMITTED;"
			 "SELECT pg_advisory_xact_lock(%lld)",
			 kv->write_lock);
	for (int i = 0; i < BEGIN_TRIES; i++) {
		struct pg_slot *s = t->slot;
		PGresult *res;
		const char *st;
		bool again;

		if (s->conn && PQstatus(s->conn) != CONNECTION_OK) {
			PQfinish(s->conn);
			s->conn = NULL;
		}
		if (!s->conn && (rc = connect_slot(kv, &s->conn, eb)))
			return rc; /* the server is down: no point retrying */
		res = PQexec(s->conn, sql);
		if (PQresultStatus(res) == PGRES_TUPLES_OK) {
			PQclear(res);
			return 0;
		}
		rc = res_err(s->conn, res, eb, "begin");
		/* a dead pooled connection, or a serialization failure or
		 * deadlock with a session outside Pictor: try again */
		st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		again = PQstatus(s->conn) != CONNECTION_OK ||
			(st && (!strcmp(st, "40001") || !strcmp(st, "40P01")));
		PQclear(res);
		if (PQtransactionStatus(s->conn) != PQTRANS_IDLE)
			PQclear(PQexec(s->conn, "ROLLBACK"));
		if (!again)
			break;
	}
	return rc;
}

static int pg_begin(struct px_kv *base, int flags, struct px_kv_txn **out,
		    struct px_errbuf *eb)
{
	struct pg_kv *kv = (struct pg_kv *)base;
	struct pg_txn *t = calloc(1, sizeof(*t));
	int rc;

	*out = NULL;
	if (!t)
		return px_errf(eb, PX_ENOMEM, "out of memory");
	t->base.kv = base;
	t->rdonly = flags & PX_KV_RDONLY;
	if ((rc = borrow(kv, &t->slot, eb)))
		goto out;
	rc = start_txn(kv, t, eb);
out:
	if (rc) {
		if (t->slot)
			give_back(kv, t->slot);
		free(t);
		return rc;
	}
	*out = &t->base;
	return 0;
}

/* End the transaction with sql ("COMMIT" or "ROLLBACK") and free it. */
static int finish(struct pg_txn *t, const char *sql, struct px_errbuf *eb)
{
	struct pg_kv *kv = (struct pg_kv *)t->base.kv;
	PGconn *conn = t->slot->conn;
	PGresult *res = PQexec(conn, sql);
	int rc = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = res_err(conn, res, eb, sql);
	/* COMMIT of an aborted transaction answers ROLLBACK, not an error */
	else if (strcmp(PQcmdStatus(res), sql) != 0)
		rc = px_errf(eb, PX_EIO, "metadata store (postgres): %s "
			     "ended in %s", sql, PQcmdStatus(res));
	PQclear(res);
	give_back(kv, t->slot);
	free(t);
	return rc;
}

static int pg_commit(struct px_kv_txn *base, struct px_errbuf *eb)
{
	struct pg_txn *t = (struct pg_txn *)base;

	if (t->failed) {
		finish(t, "ROLLBACK", NULL);
		return px_errf(eb, PX_EIO, "metadata store (postgres): the "
			       "transaction failed earlier and was rolled back");
	}
	return finish(t, "COMMIT", eb);
}

static void pg_abort(struct px_kv_txn *base)
{
	finish((struct pg_txn *)base, "ROLLBACK", NULL);
}

/*
 * Run a prepared statement with binary bytea parameters (and, for scans,
 * a text LIMIT as the last one) and binary results. On failure the
 * transaction is marked failed and NULL returned, detail in eb.
 */
static PGresult *exec_stmt(struct pg_txn *t, const char *stmt, int n,
		     const char *const *vals, const int *lens,
		     ExecStatusType want, struct px_errbuf *eb, int *rc)
{
	int fmts[3];
	PGconn *conn = t->slot->conn;
	PGresult *res;

	*rc = 0;
	if (t->failed) {
		*rc = px_errf(eb, PX_EIO, "metadata store (postgres): the "
			      "transaction failed earlier");
		return NULL;
	}
	for (int i = 0; i < n; i++)
		fmts[i] = lens[i] >= 0; /* bytea binary; a LIMIT as text */
	res = PQexecPrepared(conn, stmt, n, vals, lens, fmts, 1);
	if (PQresultStatus(res) != want) {
		*rc = res_err(conn, res, eb, stmt + 3);
		t->failed = true;
		PQclear(res);
		return NULL;
	}
	return res;
}

static int pg_get(struct px_kv_txn *base, const void *key, size_t nkey,
		  struct px_buf *out, struct px_errbuf *eb)
{
	struct pg_txn *t = (struct pg_txn *)base;
	const char *vals[] = {key};
	int lens[] = {(int)nkey}, rc, nv;
	PGresult *res;

	res = exec_stmt(t, "px_get", 1, vals, lens, PGRES_TUPLES_OK, eb, &rc);
	if (!res)
		return rc;
	if (PQntuples(res) == 0) {
		rc = px_errf(eb, PX_ENOTFOUND, "key not found");
	} else {
		nv = PQgetlength(res, 0, 0);
		rc = px_buf_add(out, PQgetvalue(res, 0, 0), (size_t)nv);
		if (rc)
			rc = px_errf(eb, rc, "value of %d bytes does not fit",
				     nv);
	}
	PQclear(res);
	return rc;
}

/* A command's row count: 1 or 0 for Pictor's single-key statements. */
static int affected(PGresult *res)
{
	return atoi(PQcmdTuples(res));
}

static int pg_put(struct px_kv_txn *base, const void *key, size_t nkey,
		  const void *val, size_t nval, int flags,
		  struct px_errbuf *eb)
{
	struct pg_txn *t = (struct pg_txn *)base;
	const char *vals[] = {key, val ? val : ""};
	int lens[] = {(int)nkey, (int)nval}, rc;
	PGresult *res;

	if (t->rdonly)
		return px_errf(eb, PX_EINVAL, "put in a read-only transaction");
	if (nval > INT32_MAX)
		return px_errf(eb, PX_ETOOBIG, "value of %zu bytes", nval);
	res = exec_stmt(t, flags & PX_KV_NOOVERWRITE ? "px_putnx" : "px_put", 2,
		  vals, lens, PGRES_COMMAND_OK, eb, &rc);
	if (!res)
		return rc;
	if (affected(res) == 0)
		rc = px_errf(eb, PX_EEXIST, "key exists");
	PQclear(res);
	return rc;
}

static int pg_del(struct px_kv_txn *base, const void *key, size_t nkey,
		  struct px_errbuf *eb)
{
	struct pg_txn *t = (struct pg_txn *)base;
	const char *vals[] = {key};
	int lens[] = {(int)nkey}, rc;
	PGresult *res;

	if (t->rdonly)
		return px_errf(eb, PX_EINVAL, "del in a read-only transaction");
	res = exec_stmt(t, "px_del", 1, vals, lens, PGRES_COMMAND_OK, eb, &rc);
	if (!res)
		return rc;
	if (affected(res) == 0)
		rc = px_errf(eb, PX_ENOTFOUND, "key not found");
	PQclear(res);
	return rc;
}

/* One scan page: statement, its two bounds (b may be unused) and LIMIT. */
static PGresult *page(struct pg_txn *t, const char *stmt, const void *a,
		      size_t na, const void *b, size_t nb, struct px_errbuf *eb,
		      int *rc)
{
	char limit[16];
	const char *vals[3] = {a, b, limit};
	int lens[3] = {(int)na, (int)nb, -1};
	bool two = b != NULL;

	snprintf(limit, sizeof(limit), "%d", scan_batch);
	if (!two) {
		vals[1] = limit;
		lens[1] = -1;
	}
	return exec_stmt(t, stmt, two ? 3 : 2, vals, lens, PGRES_TUPLES_OK, eb, rc);
}

/*
 * Forward: pages from max(prefix, start) up to the prefix end; each next
 * page starts at the last key plus a zero byte, the smallest key above
 * it. Reverse: the first page from start (inclusive) or the prefix end
 * (exclusive) down to the prefix; each next page strictly below the last
 * key. The callback may change the transaction between pages: each page
 * is a fresh query, so it sees those changes as LMDB's cursor would.
 */
static int pg_scan(struct px_kv_txn *base, const void *prefix, size_t nprefix,
		   const void *start, size_t nstart, int flags,
		   px_kv_scan_fn fn, void *ctx, struct px_errbuf *eb)
{
	struct pg_txn *t = (struct pg_txn *)base;
	unsigned char end[MAX_KEY], last[MAX_KEY + 1];
	size_t nend = 0, nlast = 0;
	bool reverse = flags & PX_KV_REVERSE;
	bool bounded = px_kv_prefix_end(prefix, nprefix, end, &nend);
	const char *p = prefix ? prefix : "";
	const void *from;
	size_t nfrom;
	const char *stmt;
	PGresult *res;
	int rc = 0, n;

	if (nprefix > MAX_KEY || (start && nstart > INT32_MAX))
		return 0;
	if (!reverse) {
		bool past = start && px_kv_keycmp(start, nstart, p, nprefix) > 0;

		from = past ? start : (const void *)p;
		nfrom = past ? nstart : nprefix;
		stmt = bounded ? "px_fwd" : "px_fwd_open";
	} else if (start && (!bounded ||
			     px_kv_keycmp(start, nstart, end, nend) < 0)) {
		from = start;
		nfrom = nstart;
		stmt = "px_rev_le";
	} else if (bounded) {
		from = end;
		nfrom = nend;
		stmt = "px_rev_lt";
	} else {
		from = p;
		nfrom = nprefix;
		stmt = "px_rev_open";
	}
	for (;;) {
		if (!reverse)
			res = page(t, stmt, from, nfrom, bounded ? end : NULL,
				   nend, eb, &rc);
		else if (strcmp(stmt, "px_rev_open") == 0)
			res = page(t, stmt, from, nfrom, NULL, 0, eb, &rc);
		else
			res = page(t, stmt, from, nfrom, p, nprefix, eb, &rc);
		if (!res)
			return rc;
		n = PQntuples(res);
		for (int i = 0; i < n && rc == 0; i++) {
			const char *k = PQgetvalue(res, i, 0);
			size_t nk = (size_t)PQgetlength(res, i, 0);

			if (nk > MAX_KEY || nk < nprefix ||
			    (nprefix && memcmp(k, prefix, nprefix))) {
				rc = px_errf(eb, PX_ECORRUPT, "metadata store "
					     "(postgres): scan left its range");
				break;
			}
			memcpy(last, k, nk);
			nlast = nk;
			rc = fn(ctx, k, nk, PQgetvalue(res, i, 1),
				(size_t)PQgetlength(res, i, 1));
		}
		PQclear(res);
		if (rc || n < scan_batch)
			break;
		if (!reverse)
			last[nlast++] = 0;
		else
			stmt = "px_rev_lt"; /* strictly below the last key */
		from = last;
		nfrom = nlast;
	}
	return rc > 0 ? 0 : rc;
}

/*
 * A dedicated connection, so readiness reports the server even when the
 * pool is exhausted, and answers within its 2 s connect timeout when the
 * server is gone.
 */
static int pg_health(struct px_kv *base, struct px_errbuf *eb)
{
	struct pg_kv *kv = (struct pg_kv *)base;
	int rc = 0;

	pthread_mutex_lock(&kv->health_lock);
	for (int i = 0; i < 2; i++) {
		if (kv->health_conn &&
		    PQstatus(kv->health_conn) != CONNECTION_OK) {
			PQfinish(kv->health_conn);
			kv->health_conn = NULL;
		}
		if (!kv->health_conn &&
		    (rc = dial(kv->conninfo, "2", &kv->health_conn, eb)))
			break;
		rc = exec_ok(kv->health_conn, "SELECT 1", eb, "health");
		if (rc == 0 || PQstatus(kv->health_conn) == CONNECTION_OK)
			break; /* retry only a connection that broke */
	}
	pthread_mutex_unlock(&kv->health_lock);
	return rc;
}

/* NOTIFY inside the write transaction: PostgreSQL sends it at COMMIT,
 * and drops it on ROLLBACK. */
static int pg_notify(struct px_kv_txn *base, const char *payload,
		     struct px_errbuf *eb)
{
	struct pg_txn *t = (struct pg_txn *)base;
	struct pg_kv *kv = (struct pg_kv *)base->kv;
	const char *vals[2] = {kv->channel, payload};
	PGresult *res;
	int rc = 0;

	if (t->rdonly)
		return px_errf(eb, PX_EINVAL, "notify in a read-only transaction");
	if (t->failed)
		return px_errf(eb, PX_EIO, "metadata store (postgres): the "
			       "transaction failed earlier");
	res = PQexecParams(t->slot->conn, "SELECT pg_notify($1, $2)", 2, NULL,
			   vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = res_err(t->slot->conn, res, eb, "notify");
		t->failed = true;
	}
	PQclear(res);
	return rc;
}

/*
 * The listener: its own connection, LISTENing on the store's channel.
 * It wakes every LISTEN_TICK_MS to notice close(), and asks the server
 * for a round trip every LISTEN_PING_MS so a server that went away is
 * noticed within a fraction of a second, not at the TCP keepalive; each
 * round trip that succeeds is reported as a heartbeat (payload ""),
 * after the messages that arrived before it. A broken connection is
 * reported at once (NULL), reopened (every LISTEN_RETRY_MS while the
 * server is down), and reported again when it is back, since messages
 * sent meanwhile are gone.
 */
#define LISTEN_TICK_MS 100
#define LISTEN_PING_MS 250
#define LISTEN_RETRY_MS 500

static PGconn *listen_connect(struct pg_kv *kv)
{
	char sql[96];
	PGconn *conn;

	if (dial(kv->conninfo, "2", &conn, NULL))
		return NULL;
	snprintf(sql, sizeof(sql), "SET statement_timeout = '5s'; LISTEN %s",
		 kv->channel);
	if (exec_ok(conn, sql, NULL, "listen")) {
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

static void *listener(void *arg)
{
	struct pg_kv *kv = arg;
	PGconn *conn = kv->listen_conn;
	bool lost = !conn; /* messages may have been missed */
	int64_t last_ping = px_mono_us();

	if (conn)
		kv->notify_fn(kv->notify_ctx, "");
	while (!atomic_load(&kv->stopping)) {
		struct pollfd pfd;
		PGnotify *n;
		bool beat = false;

		if (!conn) {
			if (!(conn = listen_connect(kv))) {
				lost = true;
				poll(NULL, 0, LISTEN_RETRY_MS);
				continue;
			}
			if (lost)
				kv->notify_fn(kv->notify_ctx, NULL);
			lost = false;
			last_ping = px_mono_us();
			beat = true;
		}
		pfd.fd = PQsocket(conn);
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, LISTEN_TICK_MS) < 0 && errno != EINTR)
			goto broken;
		if (px_mono_us() - last_ping >= LISTEN_PING_MS * 1000LL) {
			/* PQexec keeps notifications that arrive meanwhile */
			if (exec_ok(conn, "SELECT 1", NULL, "listen ping"))
				goto broken;
			last_ping = px_mono_us();
			beat = true;
		} else if (!PQconsumeInput(conn)) {
			goto broken;
		}
		while ((n = PQnotifies(conn))) {
			kv->notify_fn(kv->notify_ctx, n->extra);
			PQfreemem(n);
		}
		if (beat)
			kv->notify_fn(kv->notify_ctx, "");
		continue;
broken:
		px_logf(PX_LOG_WARN, "metadata store (postgres): listener "
			"connection lost; reconnecting");
		PQfinish(conn);
		conn = NULL;
		/* at once: node-local caches stop answering now */
		kv->notify_fn(kv->notify_ctx, NULL);
		lost = true;
	}
	if (conn)
		PQfinish(conn);
	return NULL;
}

static int pg_listen(struct px_kv *base, px_kv_notify_fn fn, void *ctx,
		     struct px_errbuf *eb)
{
	struct pg_kv *kv = (struct pg_kv *)base;

	if (kv->listening)
		return px_errf(eb, PX_EINVAL, "the store is listening already");
	kv->notify_fn = fn;
	kv->notify_ctx = ctx;
	atomic_store(&kv->stopping, false);
	/* Listening when this returns: a message committed from now on is
	 * heard (or, if the server is down now, the loss is reported). */
	kv->listen_conn = listen_connect(kv);
	if (pthread_create(&kv->listener, NULL, listener, kv)) {
		if (kv->listen_conn)
			PQfinish(kv->listen_conn);
		return px_errf(eb, PX_EINTERNAL,
			       "cannot start the store's listener");
	}
	kv->listening = true;
	return 0;
}

const struct px_kv_ops px_kv_pg_ops = {
	.name = "pg",
	.open = pg_open,
	.close = pg_close,
	.begin = pg_begin,
	.commit = pg_commit,
	.abort = pg_abort,
	.get = pg_get,
	.put = pg_put,
	.del = pg_del,
	.scan = pg_scan,
	.health = pg_health,
	.snapshot = NULL, /* pg_dump does that job (docs/DEPLOY.md) */
	.set_conns = pg_set_conns,
	.notify = pg_notify,
	.listen = pg_listen,
};

static char version_text[32];

static void format_version(void)
{
	int v = PQlibVersion(); /* e.g. 150018 */

	snprintf(version_text, sizeof(version_text), "%d.%d", v / 10000,
		 v % 10000);
}

const char *px_kv_pg_version(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, format_version);
	return version_text;
}
