/*
 * migrate_cli.c - `pictor migrate`: move an installation to other stores
 * (docs/OPERATIONS.md, "Moving up").
 *
 * The source is what the usual settings name (--data, --blob, --meta;
 * by default the data directory's files and LMDB); the target is
 * --to-blob and --to-meta, with --to-data for a target that is itself a
 * data directory. The source's data directory is locked for the whole
 * run, as fsck --repair locks it: a daemon serving from it would keep
 * writing records the copy might miss, so migrate refuses to start beside
 * one, and a daemon refuses to start while migrate runs.
 */
#include "catalog/maint.h"
#include "core/log.h"
#include "migrate/migrate.h"

#include <fcntl.h>
#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
	EXIT_DONE = 0,     /* complete and verified */
	EXIT_PROBLEMS = 1, /* ran to the end; damaged, conflicting or
			    * mismatched entries left the target incomplete */
	EXIT_USAGE = 2,
	EXIT_BUSY = 3,     /* a daemon or tool holds a data directory */
	EXIT_FAILED = 4,   /* a store failed; running again resumes */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pictor migrate --to-blob URL --to-meta URL [--to-data DIR]\n"
		"                      [--json] [--verbose] [--jobs N] [--batch N]\n"
		"                      [--rate N]\n"
		"                      [--data DIR] [options]\n\n"
		"Copy an installation into other stores: every original and every\n"
		"record, index, job, token and setting key, typically from the data\n"
		"directory (files + LMDB) into S3 + PostgreSQL. Each original is\n"
		"written create-only and read back and checked against its SHA-256;\n"
		"every key is compared with the target's at the end. An interrupted\n"
		"run is finished by running the same command again: what is already\n"
		"in the target is checked, not copied twice. The server must be\n"
		"stopped: migrate locks the data directory.\n\n"
		"  --to-blob URL   the target blob store: s3://BUCKET[/PREFIX]?endpoint=\n"
		"                  URL&region=R&path_style=1, or file (--to-data)\n"
		"  --to-meta URL   the target metadata store: postgres://... (any libpq\n"
		"                  URI), or lmdb (in --to-data)\n"
		"  --to-data DIR   the target's data directory, for file or lmdb\n"
		"                  targets; secrets.json is copied there if absent\n"
		"  --json          print the summary as one JSON object\n"
		"  --verbose       one line per original and per batch of keys\n"
		"                  (stderr; without it a progress line every 10 s)\n"
		"  --jobs N        originals copied at once (default 4, at most 64)\n"
		"  --batch N       keys per write transaction (default 512)\n"
		"  --rate N        at most N operations per second (an original copied\n"
		"                  or checked, a batch of keys), to spare a busy store\n"
		"                  (default: no limit)\n"
		"and every option of \"pictor serve\" naming the source (--data,\n"
		"--blob, --meta, --config). S3 credentials as for serve.\n\n"
		"Exit status: 0 the target is complete and verified; 1 the copy ran\n"
		"but left problems, listed on stderr (an original damaged in the\n"
		"source, a target key or original holding other bytes, a mismatch\n"
		"at the final comparison); 2 usage; 3 the data directory is in use\n"
		"(stop the server); 4 a store failed (run again to resume).\n");
}

struct opts {
	const char *to_blob, *to_meta, *to_data;
	bool json, verbose;
	struct px_migrate_opts m;
};

static const char *const own_flags[] = {"--to-blob", "--to-meta", "--to-data",
					"--json", "--verbose", "--batch",
					"--rate", "--jobs", NULL};

static int parse_num(const char *flag, const char *v, double lo, double hi,
		     double *out)
{
	char *end;
	double d = strtod(v, &end);

	if (!*v || *end || !(d >= lo && d <= hi)) {
		fprintf(stderr, "pictor: %s needs a number from %g to %g\n", flag,
			lo, hi);
		return PX_EINVAL;
	}
	*out = d;
	return 0;
}

/* Take migrate's own flags out of argv; the rest goes to args. */
static int take_flags(int argc, char **argv, struct opts *o, char **args,
		      int *nargs, int max)
{
	*nargs = 0;
	for (int i = 0; i < argc; i++) {
		size_t n = strcspn(argv[i], "=");
		const char *v = NULL;
		double d;
		int f = -1;

		for (int k = 0; own_flags[k]; k++)
			if (strlen(own_flags[k]) == n &&
			    !strncmp(argv[i], own_flags[k], n))
				f = k;
		if (f < 0) {
			if (*nargs >= max)
				return PX_EINVAL;
			args[(*nargs)++] = argv[i];
			continue;
		}
		if (f == 3 || f == 4) {
			if (argv[i][n] == '=') {
				fprintf(stderr, "pictor: %s takes no value\n",
					own_flags[f]);
				return PX_EINVAL;
			}
			*(f == 3 ? &o->json : &o->verbose) = true;
			continue;
		}
		if (argv[i][n] == '=')
			v = argv[i] + n + 1;
		else if (i + 1 < argc)
			v = argv[++i];
		if (!v || !*v) {
			fprintf(stderr, "pictor: %s needs a value\n", own_flags[f]);
			return PX_EINVAL;
		}
		if (f == 0)
			o->to_blob = v;
		else if (f == 1)
			o->to_meta = v;
		else if (f == 2)
			o->to_data = v;
		else if (f == 5) {
			if (parse_num("--batch", v, 1, 100000, &d))
				return PX_EINVAL;
			o->m.batch = (unsigned)d;
		} else if (f == 6) {
			if (parse_num("--rate", v, 0.01, 1e9, &d))
				return PX_EINVAL;
			o->m.rate = d;
		} else {
			if (parse_num("--jobs", v, 1, 64, &d))
				return PX_EINVAL;
			o->m.jobs = (unsigned)d;
		}
	}
	return 0;
}

/* Called from the copying threads: one fprintf per line (stdio locks the
 * stream for each call). */
static void report(void *ctx, const char *kind, const char *what,
		   const char *detail)
{
	const struct opts *o = ctx;
	bool problem = strcmp(kind, "copied") && strcmp(kind, "present") &&
		       strcmp(kind, "committed") && strcmp(kind, "progress");

	if (problem || o->verbose || !strcmp(kind, "progress"))
		fprintf(stderr, "migrate: %s %s%s%s\n", kind, what,
			*detail ? " " : "", detail);
}

/* Same directory (after resolving links), or both absent and equal. */
static bool same_dir(const char *a, const char *b)
{
	char ra[4096], rb[4096];

	if (realpath(a, ra) && realpath(b, rb))
		return !strcmp(ra, rb);
	return !strcmp(a, b);
}

/* Copy <from>/secrets.json to <to>/secrets.json unless <to> has one, so a
 * daemon on the target signs URLs with the same keys. */
static int copy_secrets(const char *from, const char *to,
			struct px_errbuf *eb)
{
	char src[4096], dst[4096], chunk[65536];
	int in = -1, out = -1, rc = 0;
	ssize_t n;

	snprintf(src, sizeof(src), "%s/secrets.json", from);
	snprintf(dst, sizeof(dst), "%s/secrets.json", to);
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return 0; /* a data directory no daemon ever started */
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		rc = errno == EEXIST ? 0
				     : px_errf(eb, PX_EIO, "cannot create \"%s\": %s",
					       dst, strerror(errno));
		goto out;
	}
	while ((n = read(in, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || write(out, chunk, (size_t)n) != n) {
			rc = px_errf(eb, PX_EIO, "cannot copy \"%s\": %s", src,
				     strerror(errno));
			break;
		}
	}
	if (!rc && fsync(out))
		rc = px_errf(eb, PX_EIO, "cannot write \"%s\": %s", dst,
			     strerror(errno));
	if (rc)
		unlink(dst);
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return rc;
}

static void print_summary(const struct opts *o, const struct px_migrate_stats *s,
			  bool complete)
{
	if (o->json) {
		json_t *j = json_pack(
			"{s:b,s:f,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I},"
			"s:{s:I,s:I,s:I,s:I,s:I},s:I,s:I}",
			"complete", complete, "seconds", s->seconds,
			"originals", "total", (json_int_t)s->originals, "bytes",
			(json_int_t)s->original_bytes, "copied",
			(json_int_t)s->copied, "copied_bytes",
			(json_int_t)s->copied_bytes, "present",
			(json_int_t)s->present, "present_bytes",
			(json_int_t)s->present_bytes, "damaged",
			(json_int_t)s->damaged, "keys", "total",
			(json_int_t)s->keys, "bytes", (json_int_t)s->key_bytes,
			"copied", (json_int_t)s->keys_copied, "present",
			(json_int_t)s->keys_present, "extra", (json_int_t)s->extra,
			"conflicts", (json_int_t)s->conflicts, "mismatched",
			(json_int_t)s->mismatched);
		char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;

		if (text)
			printf("%s\n", text);
		free(text);
		json_decref(j);
		return;
	}
	printf("migrate: %s in %.2f s\n"
	       "  originals: %llu (%llu bytes): %llu copied (%llu bytes), "
	       "%llu already present (%llu bytes), %llu damaged\n"
	       "  keys: %llu (%llu bytes): %llu copied, %llu already present, "
	       "%llu extra in the target\n"
	       "  conflicts: %llu, mismatched: %llu\n",
	       complete ? "complete, every original and key verified"
			: "INCOMPLETE (see the lines above)",
	       s->seconds, (unsigned long long)s->originals,
	       (unsigned long long)s->original_bytes,
	       (unsigned long long)s->copied, (unsigned long long)s->copied_bytes,
	       (unsigned long long)s->present,
	       (unsigned long long)s->present_bytes,
	       (unsigned long long)s->damaged, (unsigned long long)s->keys,
	       (unsigned long long)s->key_bytes,
	       (unsigned long long)s->keys_copied,
	       (unsigned long long)s->keys_present,
	       (unsigned long long)s->extra, (unsigned long long)s->conflicts,
	       (unsigned long long)s->mismatched);
}

/* Refuse a target that is the source itself. */
static int check_target(const struct px_config *src,
			const struct px_config *dst, struct px_errbuf *eb)
{
	bool same = same_dir(src->data, dst->data);
	bool blob_same = px_stores_blob_is_file(src) && px_stores_blob_is_file(dst)
				 ? same
				 : !px_stores_blob_is_file(src) &&
					   !px_stores_blob_is_file(dst) &&
					   !strcmp(src->blob, dst->blob);
	bool meta_same = px_kv_meta_is_lmdb(src->meta) &&
					 px_kv_meta_is_lmdb(dst->meta)
				 ? same
				 : !px_kv_meta_is_lmdb(src->meta) &&
					   !px_kv_meta_is_lmdb(dst->meta) &&
					   !strcmp(src->meta, dst->meta);

	if (blob_same || meta_same)
		return px_errf(eb, PX_EINVAL,
			       "the target %s store is the source's; name "
			       "another with --to-%s%s",
			       blob_same ? "blob" : "metadata",
			       blob_same ? "blob" : "meta",
			       same ? " or --to-data" : "");
	return px_stores_check(dst, eb);
}

int px_migrate_cli(int argc, char **argv)
{
	struct opts o = {0};
	struct px_config cfg, tcfg;
	struct px_stores from = {0}, to = {0};
	struct px_migrate_stats st;
	struct px_errbuf eb = {0};
	const char *rest[1];
	char *args[64], path[4096];
	int nargs = 0, nrest = 0, rc = EXIT_USAGE, lock = -1, tlock = -1, lrc;
	bool loaded = false, complete;
	struct stat sb;

	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return EXIT_DONE;
		}
	o.m.report = report;
	o.m.jobs = 4;
	o.m.progress_us = 10 * 1000000; /* a line every 10 s of a long run */
	o.m.ctx = &o;
	if (take_flags(argc, argv, &o, args, &nargs, (int)PX_ARRAY_LEN(args)))
		return EXIT_USAGE;
	loaded = true;
	if (px_config_load_cmd(&cfg, nargs, args, own_flags, rest, &nrest, &eb)) {
		fprintf(stderr, "pictor: %s\n", eb.msg);
		goto out;
	}
	if (nrest) {
		fprintf(stderr, "pictor: migrate takes no arguments (\"%s\")\n",
			rest[0]);
		goto out;
	}
	if (!o.to_blob || !o.to_meta) {
		fprintf(stderr, "pictor: migrate needs --to-blob and --to-meta "
				"(see pictor migrate --help)\n");
		goto out;
	}
	/* the target: the same settings with its own stores (borrowed
	 * strings; tcfg is never released) */
	tcfg = cfg;
	tcfg.blob = (char *)o.to_blob;
	tcfg.meta = (char *)o.to_meta;
	tcfg.data = (char *)(o.to_data ? o.to_data : cfg.data);
	if (check_target(&cfg, &tcfg, &eb)) {
		fprintf(stderr, "pictor: migrate: %s\n", eb.msg);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/meta/data.mdb", cfg.data);
	if (px_kv_meta_is_lmdb(cfg.meta) && stat(path, &sb)) {
		fprintf(stderr, "pictor: \"%s\" is not a Pictor data directory "
				"(no %s)\n", cfg.data, path);
		rc = EXIT_FAILED;
		goto out;
	}
	rc = EXIT_FAILED;
	if ((lrc = px_datadir_lock(cfg.data, &lock, &eb)) ||
	    (!same_dir(cfg.data, tcfg.data) &&
	     (lrc = px_datadir_lock(tcfg.data, &tlock, &eb)))) {
		fprintf(stderr, "pictor: migrate: %s\n", eb.msg);
		if (lrc == PX_EBUSY)
			rc = EXIT_BUSY;
		goto out;
	}
	if (px_stores_open(&cfg, 0, &from, &eb)) {
		fprintf(stderr, "pictor: migrate: source %s\n", eb.msg);
		goto out;
	}
	if (px_stores_open(&tcfg, 0, &to, &eb)) {
		fprintf(stderr, "pictor: migrate: target %s\n", eb.msg);
		goto out;
	}
	if (px_migrate_run(&from, &to, &o.m, &st, &eb)) {
		fprintf(stderr, "pictor: migrate: %s (run again to resume)\n",
			eb.msg);
		goto out;
	}
	if (tlock >= 0 && copy_secrets(cfg.data, tcfg.data, &eb)) {
		fprintf(stderr, "pictor: migrate: %s\n", eb.msg);
		goto out;
	}
	complete = !st.damaged && !st.conflicts && !st.mismatched;
	print_summary(&o, &st, complete);
	rc = complete ? EXIT_DONE : EXIT_PROBLEMS;
out:
	px_stores_close(&to);
	px_stores_close(&from);
	px_datadir_unlock(tlock);
	px_datadir_unlock(lock);
	if (loaded)
		px_config_release(&cfg);
	return rc;
}
