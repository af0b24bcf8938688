/*
 * test_kv_pg.c - what the PostgreSQL backend adds to test_kv's cases:
 * schema creation and version refusal, scans in small pages against a
 * writer in another process, one writer at a time across processes, and
 * connections that die under it. Needs a server: PICTOR_TEST_PG names the
 * database (tests/pg/run.sh starts one); without it the file skips.
 *
 * It includes kv_pg.c to shrink the scan page and the pool's wait; the
 * cases run in a schema of their own so they never meet test_kv's keys.
 */
#include "../../src/meta/kv_pg.c"

#include "t.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#define K(s) (s), (sizeof(s) - 1)

static char uri[1024];

/* A direct connection for what Pictor never does itself. */
static PGconn *admin(void)
{
	PGconn *c = PQconnectdb(getenv("PICTOR_TEST_PG"));

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "admin connection: %s", PQerrorMessage(c));
		exit(1);
	}
	PQsetNoticeProcessor(c, quiet, NULL);
	return c;
}

static void sql(PGconn *c, const char *q)
{
	PGresult *r = PQexec(c, q);

	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK)
		fprintf(stderr, "%s: %s", q, PQerrorMessage(c));
	PQclear(r);
}

static int put1(struct px_kv *kv, const char *k, const void *v, size_t n)
{
	struct px_kv_txn *t;
	int rc = px_kv_begin(kv, 0, &t, NULL);

	if (rc)
		return rc;
	if ((rc = px_kv_puts(t, k, v, n, 0, NULL))) {
		px_kv_abort(t);
		return rc;
	}
	return px_kv_commit(t, NULL);
}

static void test_schema(PGconn *a)
{
	struct px_errbuf eb = {0};
	struct px_kv *kv = NULL;
	PGresult *r;

	/* an empty schema gets both tables and version 1 */
	T_EQ(px_kv_open(&px_kv_pg_ops, uri, 0, &kv, &eb), 0);
	r = PQexec(a, "SELECT version FROM kvpg.pictor_schema");
	T_OK(PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "1"));
	PQclear(r);
	px_kv_close(kv);
	kv = NULL;

	/* reopening an existing one changes nothing */
	T_EQ(px_kv_open(&px_kv_pg_ops, uri, 0, &kv, &eb), 0);
	T_EQ(put1(kv, "s", "1", 1), 0);
	px_kv_close(kv);
	kv = NULL;

	/* a newer schema is refused with a clear error */
	sql(a, "UPDATE kvpg.pictor_schema SET version = 99");
	T_EQ(px_kv_open(&px_kv_pg_ops, uri, 0, &kv, &eb), PX_EUNSUPPORTED);
	T_OK(kv == NULL);
	T_STREQ(eb.code, "schema_too_new");
	T_OK(strstr(eb.msg, "schema version 99 is newer") != NULL);
	sql(a, "UPDATE kvpg.pictor_schema SET version = 1");

	/* nothing listening: a clean error, not a hang */
	T_EQ(px_kv_open(&px_kv_pg_ops, "postgresql://pictor@127.0.0.1:1/x",
			0, &kv, &eb),
	     PX_EIO);
	T_STREQ(eb.code, "storage_unavailable");
	T_EQ(px_kv_open(&px_kv_pg_ops, "", 0, &kv, &eb), PX_EINVAL);
}

/* Fork a child running fn(kv of its own, arg); returns its pid. */
static pid_t child(void (*fn)(struct px_kv *, int *), int *fds)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct px_kv *kv = NULL;

		/* the parent's connections stay untouched: _exit, no close */
		if (px_kv_open(&px_kv_pg_ops, uri, 0, &kv, NULL))
			_exit(3);
		fn(kv, fds);
		px_kv_close(kv);
		_exit(0);
	}
	return pid;
}

static int wait_child(pid_t pid)
{
	int st = 0;

	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

/* Child: on each byte from fds[0], commit a batch of changes to the
 * scanned range, then answer on fds[3]. */
static void meddler(struct px_kv *kv, int *fds)
{
	char c, key[32];
	struct px_kv_txn *t;
	int round = 0;

	close(fds[1]); /* so the parent's close ends the loop */
	close(fds[2]);
	while (read(fds[0], &c, 1) == 1) {
		if (px_kv_begin(kv, 0, &t, NULL))
			_exit(4);
		for (int i = 0; i < 30; i++) {
			snprintf(key, sizeof(key), "p/%02d%c", i, 'a' + round);
			px_kv_puts(t, key, "new", 3, 0, NULL);
		}
		px_kv_puts(t, "p/", "new", 3, 0, NULL);
		px_kv_puts(t, "p/99", "new", 3, 0, NULL);
		for (int i = 0; i < 30; i += 3) {
			snprintf(key, sizeof(key), "p/%02d", i);
			px_kv_dels(t, key, NULL);
		}
		if (px_kv_commit(t, NULL))
			_exit(5);
		round++;
		if (write(fds[3], "k", 1) != 1)
			_exit(6);
	}
}

struct pager {
	struct px_buf b;
	int n, poke_every;
	int *fds;
};

static int record(void *ctx, const void *key, size_t nkey, const void *val,
		  size_t nval)
{
	struct pager *p = ctx;
	char c;

	px_buf_add(&p->b, key, nkey);
	px_buf_add(&p->b, "|", 1);
	/* let the other process commit in the middle of the scan */
	if (p->poke_every && ++p->n % p->poke_every == 0) {
		if (write(p->fds[1], "go", 1) != 1 || read(p->fds[2], &c, 1) != 1)
			return PX_EIO;
	}
	return 0;
}

static char *expect(bool reverse, int from)
{
	static char out[512];
	size_t n = 0;

	out[0] = '\0';
	for (int k = 0; k < 30; k++) {
		int i = reverse ? 29 - k : k;

		if (reverse ? i <= from : i >= from)
			n += (size_t)snprintf(out + n, sizeof(out) - n,
					      "p/%02d|", i);
	}
	return out;
}

static void test_paging(void)
{
	struct px_kv *kv = NULL;
	struct px_kv_txn *t, *r;
	struct pager p = {0};
	int fds[4], up[2], down[2];
	char key[16];
	pid_t pid;

	T_EQ(px_kv_open(&px_kv_pg_ops, uri, 0, &kv, NULL), 0);
	if (!kv)
		return;
	T_EQ(px_kv_begin(kv, 0, &t, NULL), 0);
	for (int i = 0; i < 30; i++) {
		snprintf(key, sizeof(key), "p/%02d", i);
		T_EQ(px_kv_puts(t, key, "v", 1, 0, NULL), 0);
	}
	T_EQ(px_kv_commit(t, NULL), 0);

	T_OK(pipe(up) == 0 && pipe(down) == 0);
	fds[0] = up[0];
	fds[1] = up[1];
	fds[2] = down[0];
	fds[3] = down[1];
	pid = child(meddler, fds);

	scan_batch = 4; /* 30 keys: eight pages, seven writes in between */
	p.fds = fds;
	p.poke_every = 4;
	px_buf_init(&p.b, 0);
	T_EQ(px_kv_begin(kv, PX_KV_RDONLY, &r, NULL), 0);
	T_EQ(px_kv_scan(r, K("p/"), NULL, 0, 0, record, &p, NULL), 0);
	px_buf_add(&p.b, "", 1);
	T_STREQ((char *)p.b.data, expect(false, 0));
	px_buf_release(&p.b);
	px_buf_init(&p.b, 0);
	T_EQ(px_kv_scan(r, K("p/"), NULL, 0, PX_KV_REVERSE, record, &p, NULL),
	     0);
	px_buf_add(&p.b, "", 1);
	T_STREQ((char *)p.b.data, expect(true, 29));
	px_buf_release(&p.b);
	/* from a start key, both ways, in pages of one */
	scan_batch = 1;
	p.poke_every = 0;
	px_buf_init(&p.b, 0);
	T_EQ(px_kv_scan(r, K("p/"), K("p/17"), 0, record, &p, NULL), 0);
	px_buf_add(&p.b, "", 1);
	T_STREQ((char *)p.b.data, expect(false, 17));
	px_buf_release(&p.b);
	px_buf_init(&p.b, 0);
	T_EQ(px_kv_scan(r, K("p/"), K("p/17x"), PX_KV_REVERSE, record, &p,
			NULL),
	     0);
	px_buf_add(&p.b, "", 1);
	T_STREQ((char *)p.b.data, expect(true, 17));
	px_buf_release(&p.b);
	px_kv_abort(r);
	scan_batch = 128;

	close(up[1]);
	T_EQ(wait_child(pid), 0);
	close(up[0]);
	close(down[0]);
	close(down[1]);

	/* the writes were real: a new reader sees them */
	T_EQ(px_kv_begin(kv, PX_KV_RDONLY, &r, NULL), 0);
	p = (struct pager){0};
	px_buf_init(&p.b, 0);
	T_EQ(px_kv_scan(r, K("p/9"), NULL, 0, 0, record, &p, NULL), 0);
	px_buf_add(&p.b, "", 1);
	T_STREQ((char *)p.b.data, "p/99|");
	px_buf_release(&p.b);
	px_kv_abort(r);
	px_kv_close(kv);
}

#define NBUMP 150

/* Read-modify-write of "n" in NBUMP write transactions. */
static void bumper(struct px_kv *kv, int *fds)
{
	for (int i = 0; i < NBUMP; i++) {
		struct px_kv_txn *t;
		struct px_buf b;
		uint64_t n = 0;

		px_buf_init(&b, 0);
		if (px_kv_begin(kv, 0, &t, NULL))
			_exit(4);
		if (px_kv_gets(t, "n", &b, NULL) == 0 && b.len == sizeof(n))
			memcpy(&n, b.data, sizeof(n));
		n++;
		px_buf_release(&b);
		if (px_kv_puts(t, "n", &n, sizeof(n), 0, NULL) ||
		    px_kv_commit(t, NULL))
			_exit(5);
	}
}

/* Begin a write, tell the parent, commit. */
static void second(struct px_kv *kv, int *fds)
{
	struct px_kv_txn *t;

	if (px_kv_begin(kv, 0, &t, NULL))
		_exit(4);
	if (write(fds[1], "b", 1) != 1)
		_exit(6);
	px_kv_puts(t, "w2", "2", 1, 0, NULL);
	if (px_kv_commit(t, NULL))
		_exit(5);
}

static void test_writers(void)
{
	struct px_kv *kv = NULL;
	struct px_kv_txn *t;
	struct px_buf b;
	struct pollfd pf;
	uint64_t n = 0;
	int fds[4] = {-1, -1, -1, -1}, p[2];
	pid_t a, c;

	T_EQ(px_kv_open(&px_kv_pg_ops, uri, 0, &kv, NULL), 0);
	if (!kv)
		return;
	/* lost updates would show if two processes ever wrote at once */
	a = child(bumper, fds);
	c = child(bumper, fds);
	T_EQ(wait_child(a), 0);
	T_EQ(wait_child(c), 0);
	px_buf_init(&b, 0);
	T_EQ(px_kv_begin(kv, PX_KV_RDONLY, &t, NULL), 0);
	T_EQ(px_kv_gets(t, "n", &b, NULL), 0);
	if (b.len == sizeof(n))
		memcpy(&n, b.data, sizeof(n));
	T_EQ(n, 2 * NBUMP);
	px_kv_abort(t);
	px_buf_release(&b);

	/* a writer in another process waits in begin() for ours */
	T_OK(pipe(p) == 0);
	fds[1] = p[1];
	T_EQ(px_kv_begin(kv, 0, &t, NULL), 0);
	a = child(second, fds);
	pf = (struct pollfd){.fd = p[0], .events = POLLIN};
	T_EQ(poll(&pf, 1, 500), 0); /* it has not begun while we write */
	T_EQ(px_kv_puts(t, "w1", "1", 1, 0, NULL), 0);
	T_EQ(px_kv_commit(t, NULL), 0);
	T_EQ(poll(&pf, 1, 30000), 1);
	T_EQ(wait_child(a), 0);
	close(p[0]);
	close(p[1]);
	px_kv_close(kv);
}

/* Kill every connection of this store from the server side. */
static void cut(PGconn *a)
{
	sql(a, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
	       "WHERE application_name = 'pictor_kvpg'");
}

static void test_reconnect(PGconn *a)
{
	struct px_errbuf eb = {0};
	struct px_kv *kv = NULL;
	struct px_kv_txn *t, *t2, *t3;
	struct px_buf b;

	T_EQ(px_kv_open(&px_kv_pg_ops, uri, 0, &kv, NULL), 0);
	if (!kv)
		return;
	T_EQ(put1(kv, "r", "1", 1), 0);
	T_EQ(px_kv_health(kv, &eb), 0);

	/* a transaction in flight when its connection dies fails cleanly */
	T_EQ(px_kv_begin(kv, 0, &t, NULL), 0);
	cut(a);
	T_EQ(px_kv_puts(t, "r", "2", 1, 0, &eb), PX_EIO);
	T_STREQ(eb.code, "storage_unavailable");
	T_EQ(px_kv_commit(t, &eb), PX_EIO);

	/* the next ones reconnect: pooled connections died too */
	cut(a);
	px_buf_init(&b, 0);
	T_EQ(px_kv_begin(kv, PX_KV_RDONLY, &t, &eb), 0);
	T_EQ(px_kv_gets(t, "r", &b, &eb), 0);
	T_OK(b.len == 1 && b.data[0] == '1');
	px_kv_abort(t);
	px_buf_release(&b);
	T_EQ(put1(kv, "r", "3", 1), 0);
	T_EQ(px_kv_health(kv, &eb), 0);

	/* a full pool makes begin() wait, then fail, never hang */
	T_EQ(px_kv_set_conns(kv, 2), 0);
	conn_wait_sec = 1;
	T_EQ(px_kv_begin(kv, PX_KV_RDONLY, &t, &eb), 0);
	T_EQ(px_kv_begin(kv, PX_KV_RDONLY, &t2, &eb), 0);
	T_EQ(px_kv_begin(kv, PX_KV_RDONLY, &t3, &eb), PX_EBUSY);
	T_STREQ(eb.code, "storage_unavailable");
	px_kv_abort(t2);
	T_EQ(px_kv_begin(kv, PX_KV_RDONLY, &t3, &eb), 0);
	px_kv_abort(t3);
	px_kv_abort(t);
	conn_wait_sec = CONN_WAIT_SEC;
	T_EQ(px_kv_set_conns(kv, 0), PX_EINVAL);
	px_kv_close(kv);
}

/* What the listener delivered: payloads joined by ",", "LOST" for NULL;
 * heartbeats ("") counted apart. */
static struct {
	pthread_mutex_t lock;
	char text[256];
	int beats;
} heard = {PTHREAD_MUTEX_INITIALIZER, "", 0};

static void hear(void *ctx, const char *payload)
{
	pthread_mutex_lock(&heard.lock);
	if (payload && !*payload) {
		heard.beats++;
		pthread_mutex_unlock(&heard.lock);
		return;
	}
	snprintf(heard.text + strlen(heard.text),
		 sizeof(heard.text) - strlen(heard.text), "%s%s",
		 heard.text[0] ? "," : "", payload ? payload : "LOST");
	pthread_mutex_unlock(&heard.lock);
}

/* Wait (10 s at most) for more than n heartbeats. */
static bool beats_over(int n)
{
	bool ok = false;

	for (int i = 0; i < 1000 && !ok; i++) {
		pthread_mutex_lock(&heard.lock);
		ok = heard.beats > n;
		pthread_mutex_unlock(&heard.lock);
		if (!ok)
			poll(NULL, 0, 10);
	}
	return ok;
}

/* Wait (10 s at most) until the listener has heard want. */
static bool heard_is(const char *want)
{
	bool ok = false;

	for (int i = 0; i < 1000 && !ok; i++) {
		pthread_mutex_lock(&heard.lock);
		ok = !strcmp(heard.text, want);
		pthread_mutex_unlock(&heard.lock);
		if (!ok)
			poll(NULL, 0, 10);
	}
	return ok;
}

static int say(struct px_kv *kv, const char *msg, bool commit)
{
	struct px_kv_txn *t;
	int rc = px_kv_begin(kv, 0, &t, NULL);

	if (rc)
		return rc;
	if ((rc = px_kv_puts(t, "m", msg, strlen(msg), 0, NULL)) ||
	    (rc = px_kv_notify(t, msg, NULL))) {
		px_kv_abort(t);
		return rc;
	}
	if (!commit) {
		px_kv_abort(t);
		return 0;
	}
	return px_kv_commit(t, NULL);
}

static void test_messages(PGconn *a)
{
	struct px_errbuf eb = {0};
	struct px_kv *kv = NULL, *kv2 = NULL;
	struct px_kv_txn *t;
	int beats;

	T_EQ(px_kv_open(&px_kv_pg_ops, uri, 0, &kv, NULL), 0);
	T_EQ(px_kv_open(&px_kv_pg_ops, uri, 0, &kv2, NULL), 0);
	if (!kv || !kv2)
		goto out;
	T_OK(px_kv_shared(kv));
	T_EQ(px_kv_listen(kv2, hear, NULL, &eb), 0);
	T_EQ(px_kv_listen(kv2, hear, NULL, &eb), PX_EINVAL);
	/* sent at commit, in commit order; never for a rollback */
	T_EQ(say(kv, "one", true), 0);
	T_EQ(say(kv, "gone", false), 0);
	T_EQ(say(kv, "two", true), 0);
	T_OK(heard_is("one,two"));
	T_EQ(px_kv_begin(kv, PX_KV_RDONLY, &t, &eb), 0);
	T_EQ(px_kv_notify(t, "ro", &eb), PX_EINVAL);
	px_kv_abort(t);
	/* heartbeats while connected, a round trip every 250 ms */
	pthread_mutex_lock(&heard.lock);
	beats = heard.beats;
	pthread_mutex_unlock(&heard.lock);
	T_OK(beats >= 1);
	T_OK(beats_over(beats + 1));
	/* a listener cut off says so at once and again when it is back
	 * (what was sent in between is gone), beats again, and hears on */
	cut(a);
	T_OK(heard_is("one,two,LOST,LOST"));
	pthread_mutex_lock(&heard.lock);
	beats = heard.beats;
	pthread_mutex_unlock(&heard.lock);
	T_OK(beats_over(beats));
	T_EQ(say(kv, "three", true), 0);
	T_OK(heard_is("one,two,LOST,LOST,three"));
out:
	px_kv_close(kv2);
	px_kv_close(kv);
}

static void run(void)
{
	const char *base = getenv("PICTOR_TEST_PG");
	PGconn *a;

	if (!base || !*base) {
		printf("test_kv_pg: skipped (PICTOR_TEST_PG unset; make pg "
		       "runs it)\n");
		T_OK(1);
		return;
	}
	/* a name of its own, so cut() kills no other client's sessions */
	snprintf(uri, sizeof(uri),
		 "%s%soptions=-csearch_path%%3Dkvpg&application_name=pictor_kvpg",
		 base, strchr(base, '?') ? "&" : "?");
	a = admin();
	sql(a, "DROP SCHEMA IF EXISTS kvpg CASCADE");
	sql(a, "CREATE SCHEMA kvpg");
	T_CASE("pg schema") test_schema(a);
	T_CASE("pg paging") test_paging();
	T_CASE("pg writers") test_writers();
	T_CASE("pg reconnect") test_reconnect(a);
	T_CASE("pg messages") test_messages(a);
	sql(a, "DROP SCHEMA kvpg CASCADE");
	PQfinish(a);
}
