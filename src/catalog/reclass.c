/*
 * reclass.c - the durable state of re-classification jobs (reclass.h).
 *
 * The job runner (moderation/reclass.c) asks for the next images after a
 * job's cursor and reports each outcome here; every report moves the
 * cursor and the counts in the same transaction as the change it reports,
 * so after a crash the job resumes at the first image whose outcome was
 * not committed. A job's start, cancel and end are audit entries of their
 * own ("reclassify"); the verdicts it changes are audited by
 * px_catalog_moderate like any other.
 */
#include "catalog/audit.h"
#include "catalog/internal.h"
#include "catalog/reclass.h"

#include <jansson.h>

#define JOB_PREFIX "rcj/"
#define IX_PREFIX "ix/t/"

static const char *const outcome_names[PX_RC_NOUTCOMES] = {
	"unmatched", "skipped", "changed", "unchanged", "kept_reviewed",
	"failed"};
static const char *const state_names[] = {"running", "done", "canceled"};

const char *px_reclass_outcome_name(enum px_reclass_outcome o)
{
	return (unsigned)o < PX_RC_NOUTCOMES ? outcome_names[o] : "unknown";
}

const char *px_reclass_state_name(enum px_reclass_state s)
{
	return (unsigned)s < PX_ARRAY_LEN(state_names) ? state_names[s] : "unknown";
}

bool px_reclass_match(const struct px_reclass_filter *f,
		      const struct px_image_rec *rec, const char *model,
		      const char *policy_version)
{
	char rmodel[64] = "none", rpol[24] = "";
	json_t *m;

	if (f->status[0] && strcmp(f->status, rec->status))
		return false;
	if (f->before_us && rec->uploaded_us >= f->before_us)
		return false;
	if (f->after_us && rec->uploaded_us < f->after_us)
		return false;
	if (f->pdq_missing && rec->pdq[0])
		return false;
	if (f->faces && rec->faces.known)
		return false;
	if (!f->model[0] && !f->policy_version[0] && !f->stale)
		return true;
	m = rec->moderation ? json_loads(rec->moderation, 0, NULL) : NULL;
	/* A verdict without a model (a hash-list or failed classification
	 * on its own) was never classified. */
	if (json_is_string(json_object_get(m, "model")))
		px_strlcpy(rmodel, json_string_value(json_object_get(m, "model")),
			   sizeof(rmodel));
	if (json_is_string(json_object_get(m, "policy_version")))
		px_strlcpy(rpol,
			   json_string_value(json_object_get(m, "policy_version")),
			   sizeof(rpol));
	json_decref(m);
	if (f->model[0] && strcmp(f->model, rmodel))
		return false;
	if (f->policy_version[0] && strcmp(f->policy_version, rpol))
		return false;
	if (f->stale && !strcmp(rmodel, model ? model : "") &&
	    !strcmp(rpol, policy_version ? policy_version : ""))
		return false;
	return true;
}

/* --- encoding --- */

static void copy_str(char *dst, size_t n, json_t *v)
{
	snprintf(dst, n, "%s", json_is_string(v) ? json_string_value(v) : "");
}

static int job_encode(const struct px_reclass_job *j, char **out)
{
	json_t *o, *n = json_object();

	for (int i = 0; i < PX_RC_NOUTCOMES && n; i++)
		json_object_set_new(n, outcome_names[i],
				    json_integer((json_int_t)j->n[i]));
	o = json_pack("{s:s,s:s,s:{s:s,s:I,s:I,s:s,s:s,s:b,s:b},s:{s:s,s:s},"
		      "s:I,s:I,s:I,s:s,s:s,s:s,s:I,s:I,s:o}",
		      "id", j->id, "state", px_reclass_state_name(j->state),
		      "filter", "status", j->f.status, "before",
		      (json_int_t)j->f.before_us, "after",
		      (json_int_t)j->f.after_us, "model", j->f.model,
		      "policy_version", j->f.policy_version, "stale", j->f.stale,
		      "pdq_missing", j->f.pdq_missing, "by", "id", j->by.id, "name", j->by.name, "created",
		      (json_int_t)j->created_us, "updated",
		      (json_int_t)j->updated_us, "finished",
		      (json_int_t)j->finished_us, "model", j->model,
		      "policy_version", j->policy_version, "cursor", j->cursor,
		      "total", (json_int_t)j->total, "scanned",
		      (json_int_t)j->scanned, "n", n ? n : json_object());
	if (o && j->f.faces)
		json_object_set_new(json_object_get(o, "filter"), "faces",
				    json_true());
	*out = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return *out ? 0 : PX_ENOMEM;
}

static int job_decode(const void *p, size_t len, struct px_reclass_job *j)
{
	json_t *o = json_loadb(p, len, 0, NULL), *f, *n, *by;
	const char *st;

	memset(j, 0, sizeof(*j));
	if (!json_is_object(o)) {
		json_decref(o);
		return PX_ECORRUPT;
	}
	copy_str(j->id, sizeof(j->id), json_object_get(o, "id"));
	st = json_string_value(json_object_get(o, "state"));
	for (size_t i = 0; st && i < PX_ARRAY_LEN(state_names); i++)
		if (!strcmp(st, state_names[i]))
			j->state = (enum px_reclass_state)i;
	f = json_object_get(o, "filter");
	copy_str(j->f.status, sizeof(j->f.status), json_object_get(f, "status"));
	j->f.before_us = json_integer_value(json_object_get(f, "before"));
	j->f.after_us = json_integer_value(json_object_get(f, "after"));
	copy_str(j->f.model, sizeof(j->f.model), json_object_get(f, "model"));
	copy_str(j->f.policy_version, sizeof(j->f.policy_version),
		 json_object_get(f, "policy_version"));
	j->f.stale = json_is_true(json_object_get(f, "stale"));
	j->f.pdq_missing = json_is_true(json_object_get(f, "pdq_missing"));
	j->f.faces = json_is_true(json_object_get(f, "faces"));
	by = json_object_get(o, "by");
	copy_str(j->by.id, sizeof(j->by.id), json_object_get(by, "id"));
	copy_str(j->by.name, sizeof(j->by.name), json_object_get(by, "name"));
	j->created_us = json_integer_value(json_object_get(o, "created"));
	j->updated_us = json_integer_value(json_object_get(o, "updated"));
	j->finished_us = json_integer_value(json_object_get(o, "finished"));
	copy_str(j->model, sizeof(j->model), json_object_get(o, "model"));
	copy_str(j->policy_version, sizeof(j->policy_version),
		 json_object_get(o, "policy_version"));
	copy_str(j->cursor, sizeof(j->cursor), json_object_get(o, "cursor"));
	j->total = (uint64_t)json_integer_value(json_object_get(o, "total"));
	j->scanned = (uint64_t)json_integer_value(json_object_get(o, "scanned"));
	n = json_object_get(o, "n");
	for (int i = 0; i < PX_RC_NOUTCOMES; i++)
		j->n[i] = (uint64_t)json_integer_value(
			json_object_get(n, outcome_names[i]));
	json_decref(o);
	return 0;
}

static bool valid_job_id(const char *id)
{
	if (strlen(id) != 3 + 16 || strncmp(id, "rc_", 3))
		return false;
	for (int i = 3; id[i]; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return true;
}

static int job_get_in(struct px_kv_txn *txn, const char *id,
		      struct px_reclass_job *j, struct px_errbuf *eb)
{
	char key[64];
	struct px_buf b;
	int rc;

	if (!valid_job_id(id))
		return px_errc(eb, PX_ENOTFOUND, "not_found",
			       "reclassify job \"%.32s\" not found", id);
	px_buf_init(&b, 0);
	snprintf(key, sizeof(key), JOB_PREFIX "%s", id);
	rc = px_kv_gets(txn, key, &b, eb);
	if (rc == PX_ENOTFOUND)
		px_errc(eb, rc, "not_found", "reclassify job \"%s\" not found", id);
	if (!rc)
		rc = job_decode(b.data, b.len, j);
	px_buf_release(&b);
	return rc;
}

static int job_put_in(struct px_kv_txn *txn, struct px_reclass_job *j,
		      struct px_errbuf *eb)
{
	char key[64], *text;
	int rc;

	j->updated_us = px_wall_us();
	if ((rc = job_encode(j, &text)))
		return rc;
	snprintf(key, sizeof(key), JOB_PREFIX "%s", j->id);
	rc = px_kv_puts(txn, key, text, strlen(text), 0, eb);
	free(text);
	return rc;
}

/* The job's counts as an audit "after" text. */
static int audit_job(struct px_kv_txn *txn, const struct px_reclass_job *j,
		     const struct px_actor *who, const char *note,
		     struct px_errbuf *eb)
{
	struct px_audit_change ch = {NULL, "reclassify", who, NULL, NULL, note};
	json_t *o = json_loads("{}", 0, NULL), *n = json_object();
	char *text;
	int rc;

	for (int i = 0; i < PX_RC_NOUTCOMES && n; i++)
		json_object_set_new(n, outcome_names[i],
				    json_integer((json_int_t)j->n[i]));
	if (!o || !n) {
		json_decref(o);
		json_decref(n);
		return PX_ENOMEM;
	}
	json_object_set_new(o, "job", json_string(j->id));
	json_object_set_new(o, "state",
			    json_string(px_reclass_state_name(j->state)));
	json_object_set_new(o, "policy_version", json_string(j->policy_version));
	json_object_set_new(o, "model", json_string(j->model));
	json_object_set_new(o, "total", json_integer((json_int_t)j->total));
	json_object_set_new(o, "scanned", json_integer((json_int_t)j->scanned));
	json_object_set_new(o, "n", n);
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!text)
		return PX_ENOMEM;
	ch.after = text;
	rc = px_audit_put(txn, &ch, eb);
	free(text);
	return rc;
}

/* --- the running job --- */

struct find_running {
	struct px_reclass_job *j;
	bool found;
};

static int running_one(void *arg, const void *key, size_t nkey,
		       const void *val, size_t nval)
{
	struct find_running *fr = arg;
	struct px_reclass_job j;

	if (job_decode(val, nval, &j) || j.state != PX_RCJ_RUNNING)
		return 0;
	if (fr->j)
		*fr->j = j;
	fr->found = true;
	return 1;
}

static int running_in(struct px_kv_txn *txn, struct px_reclass_job *j,
		      struct px_errbuf *eb)
{
	struct find_running fr = {j, false};
	int rc = px_kv_scan(txn, JOB_PREFIX, strlen(JOB_PREFIX), NULL, 0,
			    PX_KV_REVERSE, running_one, &fr, eb);

	if (rc < 0)
		return rc;
	return fr.found ? 0 : PX_ENOTFOUND;
}

int px_reclass_running(struct px_catalog *c, struct px_reclass_job *job,
		       struct px_errbuf *eb)
{
	struct px_kv_txn *txn;
	int rc;

	if ((rc = px_kv_begin(px_catalog_kv(c), PX_KV_RDONLY, &txn, eb)))
		return rc;
	rc = running_in(txn, job, eb);
	px_kv_abort(txn);
	return rc;
}

/* Time-index keys between after_us (inclusive) and before_us (exclusive). */
struct range {
	int64_t after_us, before_us;
	uint64_t count;
	/* for px_reclass_next */
	char (*pos)[PX_RECLASS_CURSOR_MAX + 1];
	int max, n;
	const char *skip;
};

static int64_t key_us(const char *k, size_t nk)
{
	char hex[17];

	if (nk < strlen(IX_PREFIX) + 17)
		return -1;
	memcpy(hex, k + strlen(IX_PREFIX), 16);
	hex[16] = '\0';
	return (int64_t)strtoull(hex, NULL, 16);
}

static int range_one(void *arg, const void *key, size_t nkey, const void *val,
		     size_t nval)
{
	struct range *r = arg;
	size_t np = strlen(IX_PREFIX);
	int64_t us = key_us(key, nkey);

	if (us < 0)
		return 0;
	if (us >= r->before_us)
		return 1;
	if (!r->pos) {
		r->count++;
		return 0;
	}
	if (nkey - np > PX_RECLASS_CURSOR_MAX)
		return 0;
	if (r->skip && nkey - np == strlen(r->skip) &&
	    !memcmp((const char *)key + np, r->skip, nkey - np))
		return 0;
	if (r->n == r->max)
		return 1;
	memcpy(r->pos[r->n], (const char *)key + np, nkey - np);
	r->pos[r->n][nkey - np] = '\0';
	r->n++;
	return 0;
}

static int scan_range(struct px_kv_txn *txn, struct range *r,
		      const char *cursor, struct px_errbuf *eb)
{
	char start[PX_RECLASS_CURSOR_MAX + 16];

	if (cursor && *cursor)
		snprintf(start, sizeof(start), IX_PREFIX "%s", cursor);
	else
		snprintf(start, sizeof(start), IX_PREFIX "%016llx",
			 (unsigned long long)r->after_us);
	r->skip = cursor && *cursor ? cursor : NULL;
	return px_kv_scan(txn, IX_PREFIX, strlen(IX_PREFIX), start,
			  strlen(start), 0, range_one, r, eb);
}

int px_reclass_create(struct px_catalog *c, const struct px_reclass_filter *f,
		      const char *model, const char *policy_version,
		      const struct px_actor *who, struct px_reclass_job *job,
		      struct px_errbuf *eb)
{
	struct px_kv_txn *txn = NULL;
	struct range r;
	int64_t now = px_wall_us();
	int rc;

	memset(job, 0, sizeof(*job));
	if ((rc = px_kv_begin(px_catalog_kv(c), 0, &txn, eb)))
		return rc;
	rc = running_in(txn, job, eb);
	if (rc == 0) {
		rc = px_errc(eb, PX_EBUSY, "conflict",
			     "reclassify job \"%s\" is running: wait for it or cancel it",
			     job->id);
		goto out;
	}
	if (rc != PX_ENOTFOUND)
		goto out;
	memset(job, 0, sizeof(*job));
	snprintf(job->id, sizeof(job->id), "rc_%016llx", (unsigned long long)now);
	job->f = *f;
	/* Images uploaded from now on are judged by the upload path under
	 * the same model and policy: the job's range ends here. */
	if (!job->f.before_us || job->f.before_us > now)
		job->f.before_us = now;
	job->by = who ? *who : px_actor_system;
	job->created_us = now;
	px_strlcpy(job->model, model ? model : "", sizeof(job->model));
	px_strlcpy(job->policy_version, policy_version ? policy_version : "",
		   sizeof(job->policy_version));
	memset(&r, 0, sizeof(r));
	r.after_us = job->f.after_us;
	r.before_us = job->f.before_us;
	if ((rc = scan_range(txn, &r, NULL, eb)) < 0)
		goto out;
	job->total = r.count;
	if ((rc = job_put_in(txn, job, eb)))
		goto out;
	if ((rc = audit_job(txn, job, who, NULL, eb)))
		goto out;
	rc = px_kv_commit(txn, eb);
	txn = NULL;
out:
	px_kv_abort(txn);
	return rc;
}

int px_reclass_get(struct px_catalog *c, const char *id,
		   struct px_reclass_job *job, struct px_errbuf *eb)
{
	struct px_kv_txn *txn;
	int rc;

	if ((rc = px_kv_begin(px_catalog_kv(c), PX_KV_RDONLY, &txn, eb)))
		return rc;
	rc = job_get_in(txn, id, job, eb);
	px_kv_abort(txn);
	return rc;
}

struct list_ctx {
	int limit, n;
	int (*fn)(void *ctx, const struct px_reclass_job *j);
	void *ctx;
};

static int list_one(void *arg, const void *key, size_t nkey, const void *val,
		    size_t nval)
{
	struct list_ctx *l = arg;
	struct px_reclass_job j;

	if (l->n == l->limit)
		return 1;
	if (job_decode(val, nval, &j))
		return 0;
	l->n++;
	return l->fn(l->ctx, &j) ? 1 : 0;
}

int px_reclass_list(struct px_catalog *c, int limit,
		    int (*fn)(void *ctx, const struct px_reclass_job *j),
		    void *ctx, struct px_errbuf *eb)
{
	struct list_ctx l = {limit, 0, fn, ctx};
	struct px_kv_txn *txn;
	int rc;

	if ((rc = px_kv_begin(px_catalog_kv(c), PX_KV_RDONLY, &txn, eb)))
		return rc;
	rc = px_kv_scan(txn, JOB_PREFIX, strlen(JOB_PREFIX), NULL, 0,
			PX_KV_REVERSE, list_one, &l, eb);
	px_kv_abort(txn);
	return rc < 0 ? rc : 0;
}

/* The claim on running job id (lease.h): lease/rcj/<id>. */
static void lease_key(char *k, size_t n, const char *id)
{
	snprintf(k, n, "lease/rcj/%s", id);
}

static int running_owed(struct px_kv_txn *txn, const void *arg,
			struct px_errbuf *eb)
{
	struct px_reclass_job j;
	int rc = job_get_in(txn, arg, &j, eb);

	return !rc && j.state != PX_RCJ_RUNNING ? PX_ENOTFOUND : rc;
}

int px_reclass_claim(struct px_catalog *c, const char *job_id,
		     struct px_errbuf *eb)
{
	struct px_leases *l = px_catalog_leases(c);
	char key[64];

	if (!valid_job_id(job_id))
		return PX_ENOTFOUND;
	lease_key(key, sizeof(key), job_id);
	/* held: the renewal thread keeps it, and drops it once it finds it
	 * gone or another node's */
	if (px_lease_held(l, key))
		return 0;
	return px_lease_claim(l, key, running_owed, job_id, eb);
}

/* Move a running job to state, audited, in one transaction that also
 * ends its claim, whichever node holds it. */
static int end_job(struct px_catalog *c, const char *id,
		   enum px_reclass_state state, const struct px_actor *who,
		   struct px_reclass_job *job, struct px_errbuf *eb)
{
	struct px_kv_txn *txn = NULL;
	struct px_reclass_job j;
	char key[64];
	int rc;

	if ((rc = px_kv_begin(px_catalog_kv(c), 0, &txn, eb)))
		return rc;
	if ((rc = job_get_in(txn, id, &j, eb)))
		goto out;
	if (j.state != PX_RCJ_RUNNING) {
		rc = px_errc(eb, PX_EBUSY, "conflict",
			     "reclassify job \"%s\" is %s already", id,
			     px_reclass_state_name(j.state));
		goto out;
	}
	j.state = state;
	j.finished_us = px_wall_us();
	if ((rc = job_put_in(txn, &j, eb)))
		goto out;
	if ((rc = audit_job(txn, &j, who, NULL, eb)))
		goto out;
	lease_key(key, sizeof(key), id);
	if ((rc = px_lease_end_in(px_catalog_leases(c), txn, key, eb)))
		goto out;
	rc = px_kv_commit(txn, eb);
	txn = NULL;
	if (!rc)
		px_lease_forget(px_catalog_leases(c), key);
out:
	px_kv_abort(txn);
	if (job)
		*job = j;
	return rc;
}

int px_reclass_cancel(struct px_catalog *c, const char *id,
		      const struct px_actor *who, struct px_reclass_job *job,
		      struct px_errbuf *eb)
{
	memset(job, 0, sizeof(*job));
	return end_job(c, id, PX_RCJ_CANCELED, who, job, eb);
}

int px_reclass_finish(struct px_catalog *c, const char *job_id,
		      struct px_errbuf *eb)
{
	return end_job(c, job_id, PX_RCJ_DONE, NULL, NULL, eb);
}

int px_reclass_next(struct px_catalog *c, const struct px_reclass_job *job,
		    char (*pos)[PX_RECLASS_CURSOR_MAX + 1], int max,
		    struct px_errbuf *eb)
{
	struct px_kv_txn *txn;
	struct range r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.after_us = job->f.after_us;
	r.before_us = job->f.before_us;
	r.pos = pos;
	r.max = max;
	if ((rc = px_kv_begin(px_catalog_kv(c), PX_KV_RDONLY, &txn, eb)))
		return rc;
	rc = scan_range(txn, &r, job->cursor, eb);
	px_kv_abort(txn);
	return rc < 0 ? rc : r.n;
}

int px_reclass_hook(struct px_kv_txn *txn, void *arg, struct px_errbuf *eb)
{
	const struct px_reclass_stepc *s = arg;
	struct px_reclass_job j;
	int rc;

	if ((rc = job_get_in(txn, s->job_id, &j, eb)))
		return rc;
	if (j.state != PX_RCJ_RUNNING)
		return px_errc(eb, PX_EBUSY, "conflict",
			       "reclassify job \"%s\" is %s", j.id,
			       px_reclass_state_name(j.state));
	if (strcmp(j.cursor, s->prev ? s->prev : ""))
		return px_errc(eb, PX_EBUSY, "conflict",
			       "reclassify job \"%s\" moved on", j.id);
	px_strlcpy(j.cursor, s->pos, sizeof(j.cursor));
	j.scanned++;
	if ((unsigned)s->o < PX_RC_NOUTCOMES)
		j.n[s->o]++;
	return job_put_in(txn, &j, eb);
}

int px_reclass_step(struct px_catalog *c, const char *job_id,
		    const char *prev, const char *pos,
		    enum px_reclass_outcome o, struct px_errbuf *eb)
{
	struct px_reclass_stepc s = {job_id, prev, pos, o};
	struct px_kv_txn *txn;
	int rc;

	if ((rc = px_kv_begin(px_catalog_kv(c), 0, &txn, eb)))
		return rc;
	if ((rc = px_reclass_hook(txn, &s, eb))) {
		px_kv_abort(txn);
		return rc;
	}
	return px_kv_commit(txn, eb);
}
