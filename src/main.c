/*
 * main.c - process lifecycle and command-line dispatch.
 *
 *   pictor serve    run the daemon
 *   pictor sign     print a signed delivery URL
 *   pictor srcset   print srcset/sizes strings for an image (api/srcset_cli.c)
 *   pictor url      print a delivery URL for an image, signed when needed
 *                   (api/url_cli.c)
 *   pictor config   print the effective configuration, secrets masked
 *   pictor version  print Pictor's and every library's version
 *   pictor routes   print the route table (--json, or Markdown)
 *   pictor import-cloudflare  copy a Cloudflare Images account in
 *   pictor token    create, list or revoke scoped API tokens
 *   pictor backup   copy a data directory while the daemon serves it
 *   pictor restore  build a data directory from a backup
 *   pictor fsck     check (and repair) a data directory
 *   pictor migrate  copy an installation into other stores (migrate/)
 */
#include "api/app.h"
#include "api/srcset.h"
#include "cache/cache.h"
#include "catalog/lease.h"
#include "catalog/maint.h"
#include "catalog/mih.h"
#include "catalog/stores.h"
#include "catalog/watch.h"
#include "console/console.h"
#include "core/config.h"
#include "core/crypto.h"
#include "core/log.h"
#include "core/suggest.h"
#include "core/notify.h"
#include "core/paths.h"
#include "core/malloc.h"
#include "delivery/keys.h"
#include "delivery/options.h"
#include "migrate/cfimport.h"
#include "migrate/migrate.h"
#include "delivery/sign.h"
#include "ingest/drafts.h"
#include "guard/guard.h"
#include "ingest/fetch.h"
#include "meta/kv.h"
#include "ml/nsfw.h"
#include "moderation/faces.h"
#include "moderation/moderation.h"
#include "moderation/reclass.h"
#include "moderation/webhook.h"
#include "store/blob.h"

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PICTOR_VERSION "0.1.0"

#include "version.h" /* generated: PX_GIT_REV, PX_LIBSYSTEMD_VERSION */

static void usage_main(FILE *f)
{
	fprintf(f,
		"usage: pictor <command> [options]\n\n"
		"A self-hosted image server: upload, store, sign and serve\n"
		"resized and re-encoded images.\n\n"
		"commands:\n"
		"  serve     run the server\n"
		"  sign      print a signed delivery URL for a path\n"
		"  srcset    print srcset and sizes strings for an image\n"
		"  url       print a delivery URL for an image, signed when needed\n"
		"  classify  classify image files and apply the moderation policy\n"
		"  reclassify  judge stored images again under the current policy\n"
		"  config    print the effective configuration (secrets masked)\n"
		"  routes    print every route with its methods and scope\n"
		"  token     create, list or revoke scoped API tokens\n"
		"  backup    back up a data directory, online and incremental\n"
		"  restore   build a data directory from a backup and check it\n"
		"  fsck      check a data directory's records and originals\n"
		"  migrate   copy an installation into S3 + PostgreSQL, resumably\n"
		"  import-cloudflare  copy a Cloudflare Images account in, resumably\n"
		"  version   print the versions of Pictor and its libraries\n\n"
		"Run \"pictor <command> --help\" for a command's options.\n");
}

static void usage_serve(FILE *f)
{
	fprintf(f, "usage: pictor serve [--check] [options]\n\n"
		   "Serve the images API and the delivery path. Options may also\n"
		   "come from a JSON file (--config) and PICTOR_* variables;\n"
		   "flags win over the environment, which wins over the file.\n"
		   "Unknown options, keys and PICTOR_* variables are errors.\n"
		   "Sizes take K, M, G suffixes (32M); durations s, m, h, d (30s).\n\n"
		   "One server owns a data directory: a second \"pictor serve\" on\n"
		   "the same --data refuses to start, as do \"fsck\" and \"restore\".\n"
		   "\"pictor sign\", \"config\", \"classify\" and \"backup\" are safe\n"
		   "to run beside it.\n\n"
		   "  --check                      validate the configuration, the\n"
		   "                               policy, the variants, the model and\n"
		   "                               the data directory, then exit\n"
		   "                               (0: ok, 2: invalid)\n"
		   "options:\n");
	px_config_usage(f);
}

static void usage_version(FILE *f)
{
	fprintf(f, "usage: pictor version\n       pictor --version | -v | -V\n\n"
		   "Print the versions of Pictor, its libraries and its model.\n");
}

static void usage_config(FILE *f)
{
	fprintf(f, "usage: pictor config [--show-origin] [options]\n\n"
		   "Print the effective configuration as JSON, secrets masked:\n"
		   "what \"pictor serve\" with the same options, environment and\n"
		   "file would use, defaults resolved (workers, public URL, policy).\n"
		   "Safe to run beside a running server.\n\n"
		   "  --show-origin   one line per setting, \"ORIGIN<TAB>key=value\",\n"
		   "                  where ORIGIN is default, FILE:LINE, env VAR or\n"
		   "                  flag --NAME\n"
		   "and every option of \"pictor serve\".\n");
}

static void usage_sign(FILE *f)
{
	fprintf(f, "usage: pictor sign PATH [--ttl SECONDS | --exp UNIXTIME] [options]\n\n"
		   "Print PATH?exp=...&sig=... signed with the first configured\n"
		   "signing key (from secrets.json in --data, or --signing-keys).\n\n"
		   "  --ttl SECONDS      lifetime of the URL (default 3600)\n"
		   "  --exp UNIXTIME     absolute expiry instead of --ttl\n"
		   "  --data DIR         the server's data directory, which holds\n"
		   "                     secrets.json (default ./var)\n"
		   "and every option of \"pictor serve\". Safe to run beside a\n"
		   "running server.\n");
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

/* Load the configuration for command cmd, whose own flags (already taken
 * out of argv) are cmd_flags; on failure print why and return -1. */
static int load_config(const char *cmd, const char *const *cmd_flags,
		       struct px_config *cfg, int argc, char **argv,
		       const char **rest, int *nrest)
{
	struct px_errbuf eb = {0};

	if (px_config_load_cmd(cfg, argc, argv, cmd_flags, rest, nrest, &eb)) {
		fprintf(stderr, "pictor: %s\n", eb.msg);
		if (!strncmp(eb.msg, "unknown option", 14))
			fprintf(stderr, "Run \"pictor %s --help\" for its options.\n",
				cmd);
		px_config_release(cfg);
		return -1;
	}
	if (!cfg->models) {
		char dir[4096];

		/* found relative to the binary, wherever it is run from */
		if (px_default_models(dir, sizeof(dir)) == 0)
			cfg->models = strdup(dir);
		if (!cfg->models) {
			fprintf(stderr, "pictor: cannot locate the model directory; "
					"use --models\n");
			px_config_release(cfg);
			return -1;
		}
	}
	px_log_set_level(cfg->log_level);
	return 0;
}

/* Settings that are only wrong in the light of another module's rules:
 * the named variants, the flexible-options allow-list and the policy. */
static int check_config(const struct px_config *cfg, struct px_errbuf *eb)
{
	struct px_errbuf e = {0};
	struct px_policy pol;
	int nclass;
	const char *const *classes = px_moderation_classes(&nclass);

	for (int i = 0; i < cfg->n_variants; i++) {
		struct px_opts o;

		px_opts_init(&o);
		if (px_opts_parse(cfg->variants[i].options, &o, &e))
			return px_errf(eb, PX_EINVAL, "%s: variant \"%s\": %s",
				       cfg->variants[i].origin,
				       cfg->variants[i].name, e.msg);
	}
	if (px_opts_check_names(cfg->flexible_options, &e))
		return px_errf(eb, PX_EINVAL, "%s: flexible_options: %s",
			       px_config_origin(cfg, "flexible_options"), e.msg);
	/* A configured admin token is a password to every image: at least
	 * 128 bits (the generated one has 256). */
	if (cfg->admin_token && px_secret_bits(cfg->admin_token) < 128)
		return px_errf(eb, PX_EINVAL,
			       "%s: admin_token is too weak (about %.0f bits; at least 128 are needed, e.g. 32 random hex digits: openssl rand -hex 32)",
			       px_config_origin(cfg, "admin_token"),
			       px_secret_bits(cfg->admin_token));
	if (px_policy_parse(cfg->moderation_policy ? cfg->moderation_policy
						   : px_policy_default,
			    classes, nclass, &pol, &e))
		return px_errf(eb, PX_EINVAL,
			       "%s: moderation_policy: %s (the syntax is in \"pictor serve --help\" and docs/MODERATION.md)",
			       px_config_origin(cfg, "moderation_policy"), e.msg);
	return 0;
}

/* Fill in the values that defaults leave open, as serve uses them. */
static int resolve_config(struct px_config *cfg, bool public_url)
{
	char url[600];
	int rc = 0;

	if (!cfg->workers)
		cfg->workers = px_cpu_count();
	if (!cfg->moderation_policy)
		rc = px_config_set_str(cfg, "moderation_policy", px_policy_default);
	if (!rc && public_url && !cfg->public_url) {
		snprintf(url, sizeof(url), "http://%s", cfg->listen);
		rc = px_config_set_str(cfg, "public_url", url);
	}
	return rc;
}

static void moderation_opts(const struct px_config *cfg,
			    struct px_moderation_opts *mo, int contexts)
{
	memset(mo, 0, sizeof(*mo));
	mo->models_dir = cfg->models;
	mo->policy = cfg->moderation_policy;
	mo->preprocess = cfg->moderation_preprocess == PX_MOD_PREPROCESS_NSFWJS
				 ? PX_PREPROCESS_NSFWJS
				 : PX_PREPROCESS_DEFAULT;
	mo->contexts = contexts;
	mo->async = cfg->moderation_mode == PX_MOD_ASYNC;
	mo->refuse_blocked = cfg->moderation_blocked == PX_MOD_REFUSE;
	mo->max_frames = (int)cfg->moderation_frames;
	mo->reclassify_share = (int)cfg->reclassify_share;
	mo->webhook_url = cfg->webhook_url;
	mo->webhook_secret = cfg->webhook_secret;
	mo->webhook_timeout = cfg->webhook_timeout;
	mo->webhook_attempts = (int)cfg->webhook_attempts;
	mo->lim.max_pixels = (uint64_t)cfg->max_pixels;
	mo->lim.max_side = (int)cfg->max_side;
	mo->lim.max_frames = (int)cfg->max_frames;
}

static int read_file(const char *path, struct px_buf *out)
{
	char chunk[65536];
	FILE *f = fopen(path, "rb");
	size_t n;
	int rc = 0;

	if (!f)
		return PX_ENOTFOUND;
	while (!rc && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = px_buf_add(out, chunk, n);
	if (ferror(f))
		rc = PX_EIO;
	fclose(f);
	return rc;
}

/* A file that could not be classified: a JSON object on stdout with
 * --json (so every file has its line), a message on stderr always. */
static void classify_error(const char *file, const struct px_errbuf *eb,
			   bool json)
{
	const char *code = eb->code ? eb->code : "classification_failed";

	fprintf(stderr, "pictor: \"%s\": %s\n", file, eb->msg);
	if (json) {
		struct px_buf line;

		px_buf_init(&line, 0);
		px_buf_adds(&line, "{\"file\":");
		px_json_quote(&line, file);
		px_buf_addf(&line, ",\"error\":{\"code\":\"%s\",\"message\":", code);
		px_json_quote(&line, eb->msg);
		px_buf_adds(&line, "}}\n");
		fputs((char *)line.data, stdout);
		px_buf_release(&line);
	}
}

static const char *const classify_flags[] = {"--json", "--bench",
					      "--preprocess", NULL};

static int cmd_classify(int argc, char **argv)
{
	struct px_config cfg;
	struct px_errbuf eb = {0};
	struct px_moderation *mod = NULL;
	struct px_moderation_opts mo;
	const char *rest[256];
	char *args[64];
	int nargs = 0, nrest = PX_ARRAY_LEN(rest), rc = 1, nclass;
	long bench = 0;
	bool json = false;
	const char *const *classes = px_moderation_classes(&nclass);

	if (wants_help(argc, argv)) {
		printf("usage: pictor classify [--json] [--preprocess default|nsfwjs] "
		       "[--bench N] [--models DIR] FILE...\n\n"
		       "Classify image files with the on-board model (no server needed),\n"
		       "print the score of every class and the verdict under the\n"
		       "moderation policy (--moderation-policy, or the configured one).\n\n"
		       "  --json             one JSON object per file\n"
		       "  --preprocess P     default (antialiased resize) or nsfwjs\n"
		       "                     (bilinear with aligned corners, as nsfwjs.classify)\n"
		       "  --bench N          time N runs: the model alone on 224x224 input,\n"
		       "                     and the whole path from file to verdict\n"
		       "  --models DIR       the models directory (make models), or the\n"
		       "                     model's own directory (default ./models)\n"
		       "and every option of \"pictor serve\" (the pixel, side and frame\n"
		       "limits apply before any decode, as on upload). Safe to run\n"
		       "beside a running server.\n\n"
		       "Exit status: 0 every file approved, 1 a file flagged or blocked,\n"
		       "2 a file could not be classified (or bad usage).\n");
		return 0;
	}
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--bench") && i + 1 < argc) {
			bench = strtol(argv[++i], NULL, 10);
			if (bench < 1) {
				fprintf(stderr, "pictor: --bench needs a positive count\n");
				return 2;
			}
		} else if (!strcmp(argv[i], "--preprocess") && i + 1 < argc &&
			   nargs + 2 < (int)PX_ARRAY_LEN(args)) {
			args[nargs++] = "--moderation-preprocess";
			args[nargs++] = argv[++i];
		} else if (nargs < (int)PX_ARRAY_LEN(args)) {
			args[nargs++] = argv[i];
		}
	}
	if (load_config("classify", classify_flags, &cfg, nargs, args, rest, &nrest))
		return 2;
	if (!nrest) {
		fprintf(stderr, "pictor: classify needs at least one FILE\n");
		goto out;
	}
	{
		char dir[4200];

		if (!px_nsfw_locate(cfg.models, dir, sizeof(dir))) {
			fprintf(stderr,
				"pictor: no classifier model in \"%s\" (from %s): pass --models DIR "
				"(the models directory or the model's own), or run \"make models\" "
				"in a Pictor checkout\n",
				cfg.models, px_config_origin(&cfg, "models"));
			rc = 2;
			goto out;
		}
	}
	if (px_image_init("pictor", &eb))
		goto fail;
	moderation_opts(&cfg, &mo, 1);
	if (px_moderation_new(&mo, &mod, &eb))
		goto fail;
	rc = 0;
	for (int f = 0; f < nrest; f++) {
		struct px_mod_result res;
		struct px_buf data;
		double t0, t1;

		px_buf_init(&data, 0);
		memset(&eb, 0, sizeof(eb));
		if (read_file(rest[f], &data)) {
			px_errc(&eb, PX_EIO, "cannot_read", "cannot read \"%s\"",
				rest[f]);
			classify_error(rest[f], &eb, json);
			rc = 2;
			px_buf_release(&data);
			continue;
		}
		t0 = (double)px_mono_us() / 1e3;
		if (px_moderation_classify(mod, data.data, data.len, &res, &eb)) {
			classify_error(rest[f], &eb, json);
			rc = 2;
			px_buf_release(&data);
			continue;
		}
		if (res.verdict != PX_VERDICT_APPROVE && rc == 0)
			rc = 1;
		t1 = (double)px_mono_us() / 1e3;
		if (json) {
			struct px_buf line;

			px_buf_init(&line, 0);
			px_buf_adds(&line, "{\"file\":");
			px_json_quote(&line, rest[f]);
			px_buf_adds(&line, ",\"scores\":{");
			for (int i = 0; i < nclass; i++)
				px_buf_addf(&line, "%s\"%s\":%.6f", i ? "," : "",
					    classes[i], (double)res.scores[i]);
			px_buf_addf(&line, "},\"verdict\":\"%s\",\"rule\":",
				    px_verdict_name(res.verdict));
			px_json_quote(&line, res.rule);
			px_buf_addf(&line, ",\"model\":\"%s\",\"frame\":%d,"
				    "\"frames\":{\"total\":%d,\"checked\":%d}}\n",
				    px_moderation_model_name(), res.frame,
				    res.frames_total, res.frames_checked);
			fputs((char *)line.data, stdout);
			px_buf_release(&line);
		} else {
			printf("%s: %s (%s)", rest[f], px_verdict_name(res.verdict),
			       res.rule);
			for (int i = 0; i < nclass; i++)
				printf(" %s=%.4f", classes[i], (double)res.scores[i]);
			printf("\n");
		}
		if (bench) {
			double total = t1 - t0;

			for (long i = 1; i < bench; i++) {
				struct px_mod_result r2;

				t0 = (double)px_mono_us() / 1e3;
				px_moderation_classify(mod, data.data, data.len, &r2, &eb);
				total += (double)px_mono_us() / 1e3 - t0;
				free(r2.json);
			}
			fprintf(json ? stderr : stdout,
				"bench %s: %.2f ms per image, file to verdict (%ld runs)\n",
				rest[f], total / (double)bench, bench);
		}
		free(res.json);
		px_buf_release(&data);
	}
	if (bench) {
		/* The model alone, one context on one core. */
		struct px_ml_model *model = NULL;
		double ms;

		if (px_nsfw_open(cfg.models, &model, &eb) == 0 &&
		    px_ml_bench(model, (int)bench, 1, &ms, &eb) == 0)
			fprintf(json ? stderr : stdout,
				"bench model alone: %.2f ms per image (%ld runs)\n",
				ms, bench);
		px_ml_model_free(model);
	}
	goto out;
fail:
	fprintf(stderr, "pictor: %s\n", eb.msg);
	rc = 2;
out:
	px_moderation_free(mod);
	px_config_release(&cfg);
	return rc;
}

/*
 * Pull "--NAME VALUE" (or a bare "--NAME" when value is NULL) out of argv
 * for a subcommand; everything else goes to args for the configuration.
 * Returns false on a missing value.
 */
static bool take_flags(int argc, char **argv, const char *name,
		       const char **value, const char *bare, bool *flag,
		       char **args, int *nargs, int max)
{
	*nargs = 0;
	for (int i = 0; i < argc; i++) {
		if (name && !strcmp(argv[i], name)) {
			if (i + 1 >= argc) {
				fprintf(stderr, "pictor: %s needs a value\n", name);
				return false;
			}
			*value = argv[++i];
		} else if (bare && !strcmp(argv[i], bare)) {
			*flag = true;
		} else if (*nargs < max) {
			args[(*nargs)++] = argv[i];
		}
	}
	return true;
}

static void usage_backup(FILE *f)
{
	fprintf(f, "usage: pictor backup --to DEST [--data DIR] [options]\n\n"
		   "Copy the data directory DIR into DEST while the daemon may be\n"
		   "serving from it: a compacted snapshot of the records as of one\n"
		   "instant and every original it references, each checked against\n"
		   "its SHA-256. When DEST holds an earlier backup only the missing\n"
		   "originals are copied. Prints counts and bytes; exits non-zero on\n"
		   "any error, leaving an earlier backup in DEST intact.\n\n"
		   "  --to DEST          the backup directory (created if absent)\n"
		   "and every option of \"pictor serve\" (--data, --config).\n");
}

static void usage_restore(FILE *f)
{
	fprintf(f, "usage: pictor restore --from DEST [--data NEWDIR] [options]\n\n"
		   "Build the data directory NEWDIR (absent or empty) from the backup\n"
		   "in DEST, checking every original, then check the result as\n"
		   "\"pictor fsck\" does. Exits 0 only when NEWDIR is complete and\n"
		   "consistent.\n\n"
		   "  --from DEST        the backup directory\n"
		   "and every option of \"pictor serve\" (--data, --config).\n");
}

static void usage_fsck(FILE *f)
{
	fprintf(f, "usage: pictor fsck [--repair] [--data DIR] [options]\n\n"
		   "Check every record against its original (present, length,\n"
		   "SHA-256), every original against a record, reference counts, the\n"
		   "time index, the review queue, classification jobs and the webhook\n"
		   "outbox. One line per finding, by image id or digest. The daemon\n"
		   "must not be running on DIR.\n\n"
		   "  --repair           remove orphaned originals, rewrite counts and\n"
		   "                     index keys from the records, and mark records\n"
		   "                     whose original is missing or damaged corrupt\n"
		   "                     (answered 410, never served)\n\n"
		   "Exit status: 0 clean (or everything repaired), 1 problems remain,\n"
		   "2 usage, 4 the check could not run.\n"
		   "Takes every option of \"pictor serve\" (--data, --config).\n");
}

static void print_finding(void *ctx, const struct px_fsck_finding *f)
{
	printf("%s id=%s sha256=%s %s%s\n", f->kind, f->id[0] ? f->id : "-",
	       f->sha256[0] ? f->sha256 : "-", f->detail,
	       f->repaired ? " (repaired)" : "");
}

/* Open the stores of cfg and run fsck; the exit status of "pictor fsck". */
static int run_fsck(const struct px_config *cfg, bool repair)
{
	const char *data = cfg->data;
	struct px_errbuf eb = {0};
	struct px_stores stores = {0};
	struct px_catalog *cat = NULL;
	struct px_fsck_stats st;
	char path[4096];
	struct stat sb;
	int rc = 4;

	snprintf(path, sizeof(path), "%s/meta/data.mdb", data);
	if (px_kv_meta_is_lmdb(cfg->meta) && stat(path, &sb)) {
		fprintf(stderr, "pictor: \"%s\" is not a Pictor data directory\n",
			data);
		return 4;
	}
	if (px_stores_open(cfg, 0, &stores, &eb) ||
	    px_catalog_new(stores.blobs, stores.kv, &cat) ||
	    px_catalog_fsck(cat, repair, print_finding, NULL, &st, &eb)) {
		fprintf(stderr, "pictor: fsck: %s\n", eb.msg);
		goto out;
	}
	printf("fsck: records=%llu originals=%llu bytes=%llu problems=%llu "
	       "repaired=%llu corrupt=%llu\n",
	       (unsigned long long)st.records, (unsigned long long)st.originals,
	       (unsigned long long)st.bytes, (unsigned long long)st.problems,
	       (unsigned long long)st.repaired, (unsigned long long)st.corrupt);
	rc = st.problems > st.repaired ? 1 : 0;
out:
	px_catalog_free(cat);
	px_stores_close(&stores);
	return rc;
}

static const char *const fsck_flags[] = {"--repair", NULL};
static const char *const backup_flags[] = {"--to", NULL};
static const char *const restore_flags[] = {"--from", NULL};

static int cmd_fsck(int argc, char **argv)
{
	struct px_config cfg;
	struct px_errbuf eb = {0};
	const char *rest[1];
	char *args[64];
	int nargs, nrest = 0, rc, lock = -1;
	bool repair = false;

	if (wants_help(argc, argv)) {
		usage_fsck(stdout);
		return 0;
	}
	if (!take_flags(argc, argv, NULL, NULL, "--repair", &repair, args,
			&nargs, (int)PX_ARRAY_LEN(args)) ||
	    load_config("fsck", fsck_flags, &cfg, nargs, args, rest, &nrest))
		return 2;
	if (px_datadir_lock(cfg.data, &lock, &eb)) {
		fprintf(stderr, "pictor: %s\n", eb.msg);
		rc = 4;
	} else {
		rc = run_fsck(&cfg, repair);
	}
	px_datadir_unlock(lock);
	px_config_release(&cfg);
	return rc;
}

static void print_backup(const char *what, const struct px_backup_stats *st)
{
	printf("%s: records=%llu originals=%llu copied=%llu copied_bytes=%llu "
	       "skipped=%llu skipped_bytes=%llu dropped=%llu pruned=%llu\n",
	       what, (unsigned long long)st->records,
	       (unsigned long long)st->originals, (unsigned long long)st->copied,
	       (unsigned long long)st->copied_bytes,
	       (unsigned long long)st->skipped,
	       (unsigned long long)st->skipped_bytes,
	       (unsigned long long)st->dropped, (unsigned long long)st->pruned);
}

static int cmd_backup(int argc, char **argv)
{
	struct px_config cfg;
	struct px_errbuf eb = {0};
	struct px_backup_stats st;
	const char *rest[1], *to = NULL;
	char *args[64];
	int nargs, nrest = 0, rc = 1;

	if (wants_help(argc, argv)) {
		usage_backup(stdout);
		return 0;
	}
	if (!take_flags(argc, argv, "--to", &to, NULL, NULL, args, &nargs,
			(int)PX_ARRAY_LEN(args)) ||
	    load_config("backup", backup_flags, &cfg, nargs, args, rest, &nrest))
		return 2;
	if (!to || !*to) {
		fprintf(stderr, "pictor: backup needs --to DEST\n");
		rc = 2;
	} else if (!px_kv_meta_is_lmdb(cfg.meta)) {
		fprintf(stderr, "pictor: backup copies the embedded store; with "
			"--meta postgres back the database up with pg_dump "
			"(docs/DEPLOY.md)\n");
		rc = 2;
	} else if (!px_stores_blob_is_file(&cfg)) {
		fprintf(stderr, "pictor: backup copies a data directory's "
				"originals; with --blob %s keep the bucket's own "
				"versioning or replication (docs/DEPLOY.md)\n",
			cfg.blob);
		rc = 2;
	} else if (px_backup_run(cfg.data, to, &st, &eb)) {
		fprintf(stderr, "pictor: backup: %s\n", eb.msg);
	} else {
		print_backup("backup", &st);
		rc = 0;
	}
	px_config_release(&cfg);
	return rc;
}

static int cmd_restore(int argc, char **argv)
{
	struct px_config cfg;
	struct px_errbuf eb = {0};
	struct px_backup_stats st;
	const char *rest[1], *from = NULL;
	char *args[64];
	int nargs, nrest = 0, rc = 1, lock = -1;

	if (wants_help(argc, argv)) {
		usage_restore(stdout);
		return 0;
	}
	if (!take_flags(argc, argv, "--from", &from, NULL, NULL, args, &nargs,
			(int)PX_ARRAY_LEN(args)) ||
	    load_config("restore", restore_flags, &cfg, nargs, args, rest, &nrest))
		return 2;
	if (!from || !*from) {
		fprintf(stderr, "pictor: restore needs --from DEST\n");
		rc = 2;
	} else if (!px_kv_meta_is_lmdb(cfg.meta)) {
		fprintf(stderr, "pictor: restore writes the embedded store; "
			"with --meta postgres restore the database with "
			"pg_restore (docs/DEPLOY.md)\n");
	} else if (px_datadir_lock(cfg.data, &lock, &eb) ||
		   px_restore_run(from, cfg.data, &st, &eb)) {
		fprintf(stderr, "pictor: restore: %s\n", eb.msg);
	} else {
		print_backup("restore", &st);
		rc = run_fsck(&cfg, false) ? 1 : 0;
	}
	px_datadir_unlock(lock);
	px_config_release(&cfg);
	return rc;
}

static void usage_import(FILE *f)
{
	fprintf(f,
		"usage: pictor import-cloudflare --account-id ID --api-token-env VAR\n"
		"                                [--since TIME] [--dry-run] [--limit N]\n"
		"                                [--base-url URL] [--target URL]\n"
		"                                [--target-token-env VAR] [options]\n\n"
		"Copy a Cloudflare Images account into a running Pictor through\n"
		"Cloudflare's API: variants, then every image with the same id,\n"
		"original bytes, metadata and requireSignedURLs. Safe to run again:\n"
		"what is already there is left alone, so an interrupted run is\n"
		"finished by the next one.\n\n"
		"  --account-id ID          the Cloudflare account\n"
		"  --api-token-env VAR      environment variable holding its API token\n"
		"  --since TIME             only images uploaded since (RFC 3339 UTC or unix seconds)\n"
		"  --dry-run                show what would change, change nothing\n"
		"  --limit N                stop after importing N images\n"
		"  --base-url URL           the API (default https://api.cloudflare.com/client/v4)\n"
		"  --target URL             the Pictor to import into (default http://LISTEN)\n"
		"  --target-token-env VAR   its token (default: the admin token of --data)\n"
		"and every option of \"pictor serve\" (--data, --listen, --admin-token).\n");
}

static const char *const import_flags[] = {
	"--account-id", "--api-token-env", "--since", "--dry-run", "--limit",
	"--base-url", "--target", "--target-token-env", NULL};

static int cmd_import_cloudflare(int argc, char **argv)
{
	struct px_cfimport_opts io = {
		.base_url = "https://api.cloudflare.com/client/v4", .out = stdout};
	struct px_cfimport_stats st;
	struct px_config cfg;
	struct px_errbuf eb = {0};
	const char *rest[1], *token_env = NULL, *target_env = NULL;
	char *args[64], target[320];
	int nargs = 0, nrest = 0, rc = 2;
	bool created;

	if (wants_help(argc, argv)) {
		usage_import(stdout);
		return 0;
	}
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--dry-run")) {
			io.dry_run = true;
			continue;
		}
		if (v && !strcmp(a, "--account-id"))
			io.account_id = v;
		else if (v && !strcmp(a, "--api-token-env"))
			token_env = v;
		else if (v && !strcmp(a, "--since"))
			io.since = v;
		else if (v && !strcmp(a, "--base-url"))
			io.base_url = v;
		else if (v && !strcmp(a, "--target"))
			io.target_url = v;
		else if (v && !strcmp(a, "--target-token-env"))
			target_env = v;
		else if (v && !strcmp(a, "--limit")) {
			char *end;

			io.limit = strtol(v, &end, 10);
			if (*end || io.limit < 1) {
				fprintf(stderr, "pictor: --limit needs a positive count\n");
				return 2;
			}
		}
		else if (nargs < (int)PX_ARRAY_LEN(args)) {
			args[nargs++] = argv[i];
			continue;
		}
		i++;
	}
	if (!io.account_id || !token_env) {
		fprintf(stderr, "pictor: import-cloudflare needs --account-id and --api-token-env\n");
		return 2;
	}
	if (!(io.token = getenv(token_env)) || !*io.token) {
		fprintf(stderr, "pictor: the variable \"%s\" holds no API token\n", token_env);
		return 2;
	}
	if (load_config("import-cloudflare", import_flags, &cfg, nargs, args,
			rest, &nrest))
		return 2;
	if (!io.target_url) {
		snprintf(target, sizeof(target), "http://%s", cfg.listen);
		io.target_url = target;
	}
	if (target_env) {
		io.target_token = getenv(target_env);
	} else if (px_config_secrets(&cfg, false, &created, &eb) == 0) {
		io.target_token = cfg.admin_token;
	}
	if (!io.target_token || !*io.target_token) {
		fprintf(stderr, "pictor: no token for the target (--target-token-env, or --data with secrets.json)\n");
		goto out;
	}
	rc = px_cfimport_run(&io, &st, &eb) ? 1 : 0;
	printf("%simported %llu, updated %llu, unchanged %llu, skipped %llu, failed %llu; "
	       "variants created %llu, updated %llu, unchanged %llu%s\n",
	       io.dry_run ? "dry run: " : "", (unsigned long long)st.imported,
	       (unsigned long long)st.updated, (unsigned long long)st.unchanged,
	       (unsigned long long)st.skipped, (unsigned long long)st.failed,
	       (unsigned long long)st.variants_created,
	       (unsigned long long)st.variants_updated,
	       (unsigned long long)st.variants_unchanged,
	       st.limited ? "; stopped at --limit" : "");
	if (rc)
		fprintf(stderr, "pictor: %s\n", eb.msg);
	else if (st.failed)
		rc = 1;
out:
	px_config_release(&cfg);
	return rc;
}

struct lib_version {
	const char *name, *version;
};

/* Every library's version: one list for `pictor version` and /metrics. */
static int lib_versions(struct lib_version *v)
{
	int n = 0;

	v[n++] = (struct lib_version){"libvips", px_image_version()};
	v[n++] = (struct lib_version){"libmicrohttpd", px_http_version()};
	v[n++] = (struct lib_version){"lmdb", px_kv_lmdb_version()};
	v[n++] = (struct lib_version){"libpq", px_kv_pg_version()};
	v[n++] = (struct lib_version){"jansson", jansson_version_str()};
	v[n++] = (struct lib_version){"openssl", px_crypto_version()};
	v[n++] = (struct lib_version){"libcurl", px_webhook_curl_version()};
	v[n++] = (struct lib_version){"onednn", px_ml_version()};
	v[n++] = (struct lib_version){"libsystemd", PX_LIBSYSTEMD_VERSION};
	v[n++] = (struct lib_version){"model", px_moderation_model_name()};
	return n;
}

static int cmd_version(int argc, char **argv)
{
	struct lib_version v[16];
	int n;

	if (wants_help(argc, argv)) {
		usage_version(stdout);
		return 0;
	}
	if (argc > 0) {
		fprintf(stderr, "pictor: version takes no arguments (got \"%s\")\n"
				"Run \"pictor version --help\" for its usage.\n",
			argv[0]);
		return 2;
	}
	n = lib_versions(v);
	printf("pictor %s\n", PICTOR_VERSION);
	printf("revision %s\n", PX_GIT_REV);
	for (int i = 0; i < n; i++)
		printf("%s %s\n", v[i].name, v[i].version);
	return 0;
}

/* pictor_build_info and pictor_library_info, constant 1 (the Prometheus
 * idiom for exposing text as labels). */
static void build_metrics(struct px_metrics *m)
{
	struct px_metric *b, *l;
	struct lib_version v[16];
	int n = lib_versions(v);

	b = px_metrics_gauge(m, "pictor_build_info",
			     "always 1: the running build's version and git revision",
			     "version,revision");
	px_metric_set(b, 1, PICTOR_VERSION, PX_GIT_REV);
	l = px_metrics_gauge(m, "pictor_library_info",
			     "always 1: the version of each library linked",
			     "library,version");
	for (int i = 0; i < n; i++)
		px_metric_set(l, 1, v[i].name, v[i].version);
}

static int cmd_routes(int argc, char **argv)
{
	bool json = argc > 0 && !strcmp(argv[0], "--json");
	struct px_buf b;
	int rc;

	if (wants_help(argc, argv) || argc > 1 || (argc == 1 && !json)) {
		printf("usage: pictor routes [--json]\n\n"
		       "Print every HTTP route with its methods and the scope a\n"
		       "token needs: a Markdown table, or JSON with --json.\n");
		return wants_help(argc, argv) ? 0 : 2;
	}
	px_buf_init(&b, 0);
	rc = px_app_routes_dump(&b, !json);
	if (!rc)
		fputs((const char *)b.data, stdout);
	px_buf_release(&b);
	return rc ? 1 : 0;
}

static int cmd_config(int argc, char **argv)
{
	static const char *const flags[] = {"--show-origin", NULL};
	struct px_config cfg;
	struct px_errbuf eb = {0};
	const char *rest[1];
	char *args[128];
	int nrest = 0, nargs = 0, rc = 1;
	bool created, origins = false;
	struct px_buf b;

	if (wants_help(argc, argv)) {
		usage_config(stdout);
		return 0;
	}
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--show-origin"))
			origins = true;
		else if (nargs < (int)PX_ARRAY_LEN(args))
			args[nargs++] = argv[i];
	}
	if (load_config("config", flags, &cfg, nargs, args, rest, &nrest))
		return 2;
	if (check_config(&cfg, &eb) || resolve_config(&cfg, true)) {
		fprintf(stderr, "pictor: %s\n", eb.msg[0] ? eb.msg : "out of memory");
		px_config_release(&cfg);
		return 2;
	}
	/* Secrets are read only to show whether they are set. */
	px_config_secrets(&cfg, false, &created, &eb);
	/* The policy in force, the default one included. */
	if (!cfg.moderation_policy)
		cfg.moderation_policy = strdup(px_policy_default);
	px_buf_init(&b, 0);
	if ((origins ? px_config_dump_origins(&cfg, &b) : px_config_dump(&cfg, &b)) == 0) {
		printf("%s%s", (char *)b.data, origins ? "" : "\n");
		rc = 0;
	}
	px_buf_release(&b);
	px_config_release(&cfg);
	return rc;
}

static int cmd_sign(int argc, char **argv)
{
	struct px_config cfg;
	struct px_errbuf eb = {0};
	char *args[64], out[8192];
	const char *rest[2];
	static const char *const flags[] = {"--ttl", "--exp", NULL};
	long long ttl = 3600, exp = 0;
	int nargs = 0, nrest = 2, rc = 1;
	bool created;

	if (wants_help(argc, argv)) {
		usage_sign(stdout);
		return 0;
	}
	/* --ttl and --exp belong to this command, not to the configuration. */
	for (int i = 0; i < argc; i++) {
		if ((!strcmp(argv[i], "--ttl") || !strcmp(argv[i], "--exp")) &&
		    i + 1 < argc) {
			char *end;
			long long v = strtoll(argv[i + 1], &end, 10);

			if (*end || v <= 0) {
				fprintf(stderr, "pictor: %s needs a positive integer\n",
					argv[i]);
				return 2;
			}
			if (argv[i][2] == 't')
				ttl = v;
			else
				exp = v;
			i++;
		} else if (nargs < (int)PX_ARRAY_LEN(args)) {
			args[nargs++] = argv[i];
		}
	}
	if (load_config("sign", flags, &cfg, nargs, args, rest, &nrest))
		return 2;
	if (nrest != 1 || rest[0][0] != '/') {
		fprintf(stderr, "pictor: sign needs one PATH starting with \"/\", "
				"e.g. pictor sign /img/ID/public\n");
		goto out;
	}
	if (px_config_secrets(&cfg, false, &created, &eb)) {
		fprintf(stderr, "pictor: %s\n", eb.msg);
		if (eb.code && !strcmp(eb.code, "no_secrets"))
			fprintf(stderr, "Pass the server's data directory with --data DIR "
					"(or PICTOR_DATA), or the keys with --signing-keys.\n");
		goto out;
	}
	if (!exp)
		exp = (long long)time(NULL) + ttl;
	if (px_sign_url(cfg.signing_keys[0], rest[0], exp, out, sizeof(out))) {
		fprintf(stderr, "pictor: path too long\n");
		goto out;
	}
	printf("%s\n", out);
	rc = 0;
out:
	px_config_release(&cfg);
	return rc;
}

static void log_startup(const char *msg, const char *key, const char *val)
{
	struct px_buf f;

	px_buf_init(&f, 0);
	px_buf_addf(&f, "\"%s\":", key);
	px_json_quote(&f, val);
	px_log(PX_LOG_INFO, msg, (const char *)f.data);
	px_buf_release(&f);
}

/* Drop audit entries older than the retention period (if one is set). */
static void audit_retention(struct px_catalog *cat, const struct px_config *cfg)
{
	struct px_errbuf eb = {0};
	unsigned removed = 0;

	if (cfg->audit_retention_days <= 0)
		return;
	if (px_catalog_audit_prune(cat, px_wall_us() -
				   (int64_t)cfg->audit_retention_days * 86400 * 1000000,
				   &removed, &eb))
		px_logf(PX_LOG_WARN, "audit retention: %s", eb.msg);
	else if (removed)
		px_logf(PX_LOG_INFO, "audit retention removed %u entries", removed);
}

static int start_guard(struct px_app *a, const struct px_config *cfg,
		       struct px_errbuf *eb)
{
	struct px_guard_opts go = {
		.trusted_proxies = cfg->trusted_proxies,
		.rate_limits = cfg->rate_limits,
		.token_rate_limits = cfg->token_rate_limits,
		.hotlink_allow = cfg->hotlink_allow,
		.hotlink_require_referer = cfg->hotlink_require_referer,
		.rules_file = cfg->rules_file,
		.max_clients = (unsigned)cfg->max_clients,
		.metrics = a->metrics,
	};

	return px_guard_new(&go, &a->guard, eb);
}

static void reload_rules(struct px_guard *g)
{
	struct px_errbuf eb = {0};
	struct px_buf f;

	if (!px_guard_reload(g, &eb)) {
		px_log(PX_LOG_INFO, "rules reloaded", NULL);
		return;
	}
	px_buf_init(&f, 0);
	px_buf_adds(&f, "\"error\":");
	px_json_quote(&f, eb.msg);
	px_log(PX_LOG_ERROR, "rules not reloaded; the previous rules stay",
	       (const char *)f.data);
	px_buf_release(&f);
}

/* SIGHUP: the moderation policy again from flags, environment and the
 * configuration file; a policy that does not parse is rejected whole and
 * the running one stays. */
static void reload_policy(struct px_moderation *mod,
			  const char *const *cmd_flags, int argc, char **argv)
{
	struct px_errbuf eb = {0};
	struct px_config cfg;
	const char *rest[1], *text, *version;
	int nrest = 0;
	int64_t at;
	struct px_buf f;

	if (!mod)
		return;
	px_buf_init(&f, 0);
	if (px_config_load_cmd(&cfg, argc, argv, cmd_flags, rest, &nrest, &eb) ||
	    px_moderation_reload(mod, cfg.moderation_policy, &eb)) {
		px_buf_adds(&f, "\"error\":");
		px_json_quote(&f, eb.msg);
		px_log(PX_LOG_ERROR,
		       "moderation policy not reloaded; the previous policy stays",
		       (const char *)f.data);
	} else {
		px_moderation_policy_info(mod, &text, &version, &at);
		px_buf_adds(&f, "\"version\":");
		px_json_quote(&f, version);
		px_log(PX_LOG_INFO, "moderation policy reloaded",
		       (const char *)f.data);
	}
	px_buf_release(&f);
	px_config_release(&cfg);
}

/* Can the data directory be used: writable, or creatable under its
 * nearest existing ancestor? Nothing is created. */
static int check_data_dir(const struct px_config *cfg, struct px_errbuf *eb)
{
	char p[4096];
	struct stat st;

	px_strlcpy(p, cfg->data, sizeof(p));
	for (;;) {
		char *slash;

		if (stat(p, &st) == 0) {
			if (!S_ISDIR(st.st_mode))
				return px_errf(eb, PX_EINVAL,
					       "%s: data \"%s\": \"%s\" is not a directory",
					       px_config_origin(cfg, "data"), cfg->data, p);
			if (access(p, W_OK | X_OK))
				return px_errf(eb, PX_EINVAL,
					       "%s: data \"%s\": \"%s\" is not writable by this user",
					       px_config_origin(cfg, "data"), cfg->data, p);
			return 0;
		}
		if (errno != ENOENT)
			return px_errf(eb, PX_EINVAL, "%s: data \"%s\": %s",
				       px_config_origin(cfg, "data"), cfg->data,
				       strerror(errno));
		slash = strrchr(p, '/');
		if (!slash)
			px_strlcpy(p, ".", sizeof(p));
		else if (slash == p)
			p[1] = '\0';
		else
			*slash = '\0';
	}
}

/* serve --check: everything start-up would check, without starting. */
static int serve_check(struct px_config *cfg)
{
	struct px_errbuf eb = {0};
	struct px_moderation *mod = NULL;
	struct px_moderation_opts mo;
	bool created, secrets = true;
	int rc = 2;

	if (check_data_dir(cfg, &eb) || px_stores_check(cfg, &eb))
		goto fail;
	if (px_config_secrets(cfg, false, &created, &eb)) {
		if (!eb.code || strcmp(eb.code, "no_secrets"))
			goto fail;
		secrets = false;
	}
	if (cfg->moderation) {
		if (px_image_init("pictor", &eb))
			goto fail;
		moderation_opts(cfg, &mo, 1);
		if (px_moderation_new(&mo, &mod, &eb))
			goto fail;
	}
	printf("pictor: configuration ok\n"
	       "  listen %s, data \"%s\"%s, workers %ld, moderation %s\n",
	       cfg->listen, cfg->data,
	       secrets ? "" : " (secrets.json will be created)", cfg->workers,
	       cfg->moderation ? "on, model loaded" : "off");
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "pictor: %s\n", eb.msg);
out:
	px_moderation_free(mod);
	if (cfg->moderation)
		px_image_shutdown();
	return rc;
}

static int cmd_serve(int argc, char **argv)
{
	struct px_config cfg;
	struct px_errbuf eb = {0};
	struct px_app *app = NULL;
	struct px_http *http = NULL;
	struct px_http_opts ho;
	static const char *const flags[] = {"--check", NULL};
	const char *rest[1];
	char path[4096], addr[300], *args[128];
	unsigned tmp_removed = 0, orphans = 0;
	int nrest = 0, nargs = 0, rc = 1, sig, workers, lock = -1;
	struct px_scrub *scrub = NULL;
	struct px_stores stores = {0};
	bool created, check_only = false;
	sigset_t set;
	time_t deadline;

	if (wants_help(argc, argv)) {
		usage_serve(stdout);
		return 0;
	}
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--check"))
			check_only = true;
		else if (nargs < (int)PX_ARRAY_LEN(args))
			args[nargs++] = argv[i];
	}
	if (load_config("serve", flags, &cfg, nargs, args, rest, &nrest))
		return 2;
	if (check_config(&cfg, &eb) || resolve_config(&cfg, false)) {
		fprintf(stderr, "pictor: %s\n", eb.msg[0] ? eb.msg : "out of memory");
		px_config_release(&cfg);
		return 2;
	}
	if (check_only) {
		rc = serve_check(&cfg);
		px_config_release(&cfg);
		return rc;
	}
	/* One daemon per data directory (see catalog/datadir.c). */
	if (px_config_make_data(&cfg, &eb) ||
	    px_datadir_lock(cfg.data, &lock, &eb)) {
		fprintf(stderr, "pictor: %s\n", eb.msg);
		px_config_release(&cfg);
		return 1;
	}
	px_malloc_tune((int)cfg.malloc_arenas);

	/* Signals are taken by sigwait() below; block them before any
	 * thread starts so every thread inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	app = calloc(1, sizeof(*app));
	if (!app)
		goto out;
	{
		size_t n;
		const struct px_route *t = px_app_routes(&n);

		if (px_route_check(t, n, &eb))
			goto fail;
	}
	app->cfg = &cfg;
	if (px_app_metrics_init(app))
		goto out;
	build_metrics(app->metrics);
	app->lim.max_pixels = (uint64_t)cfg.max_pixels;
	app->lim.max_side = (int)cfg.max_side;
	app->lim.max_frames = (int)cfg.max_frames;

	if (px_image_init("pictor", &eb))
		goto fail;
	if (px_config_secrets(&cfg, true, &created, &eb))
		goto fail;
	px_config_secrets_path(&cfg, path, sizeof(path));
	log_startup(created ? "created admin token and signing key"
			    : "using admin token and signing keys",
		    "secrets", path);
	/* Keys from flags or the environment pin the set (keys.h). */
	if (px_keys_open(path, cfg.signing_keys, cfg.n_signing_keys,
			 cfg.signing_keys_csv != NULL, &app->keys, &eb))
		goto fail;

	if (px_stores_open(&cfg, 0, &stores, &eb))
		goto fail;
	log_startup("metadata store", "meta",
		    px_kv_meta_is_lmdb(cfg.meta) ? "lmdb" : "postgres");
	if (px_catalog_new(stores.blobs, stores.kv, &app->cat))
		goto fail;
	px_catalog_lease_config(app->cat, -1, (int64_t)cfg.lease_time * 1000000);
	px_catalog_mih_warm(app->cat); /* PDQ indexes into memory */
	app->pdq_off = !cfg.pdq;
	/* Tokens and drafts own keys of their own (catalog.h's layout). */
	if (px_tokens_new(stores.kv, &app->tokens) ||
	    px_drafts_new(stores.kv, &app->drafts))
		goto fail;
	/* Upload URLs that expired while the server was down. */
	px_drafts_sweep(app->drafts, px_wall_us(), 100000, NULL, NULL);
	{
		struct px_fetch_opts fo = {cfg.fetch_allow, cfg.fetch_deny,
					   cfg.fetch_timeout,
					   (size_t)cfg.max_upload_bytes};

		if (px_fetcher_new(&fo, &app->fetch, &eb))
			goto fail;
	}
	/* A bucket may be shared by several nodes: an unreferenced blob there
	 * may be another node's upload about to commit, so only the data
	 * directory is swept at start-up (fsck --repair sweeps a bucket). */
	if (px_stores_blob_is_file(&cfg) &&
	    px_catalog_recover(app->cat, &tmp_removed, &orphans, &eb))
		goto fail;
	if (tmp_removed || orphans)
		px_logf(PX_LOG_WARN,
			"recovery removed %u interrupted writes and %u unreferenced blobs",
			tmp_removed, orphans);
	audit_retention(app->cat, &cfg);
	if (px_scrub_start(app->cat, (uint64_t)cfg.scrub_rate,
			   cfg.scrub_interval,
			   app->metrics, &scrub, &eb))
		goto fail;

	workers = cfg.workers ? (int)cfg.workers : px_cpu_count();
	/* a transaction per worker and network thread, and the background
	 * threads (moderation, webhooks, scrub, sweeps) */
	px_kv_set_conns(stores.kv, workers + (int)cfg.http_threads + 8);
	/* Hash lists block with moderation off too. */
	app->mod_quarantine = cfg.moderation_blocked == PX_MOD_QUARANTINE;
	/* Faces are detected with moderation on or off, when the model is
	 * there: a context per worker and one for the background runner. */
	if (px_faces_new(cfg.models, workers + 1, &app->lim, &app->faces, &eb))
		goto fail;
	if (cfg.moderation) {
		struct px_moderation_opts mo;

		/* One context per worker, plus one for the async runner. */
		moderation_opts(&cfg, &mo, workers + 1);
		if (px_moderation_new(&mo, &app->mod, &eb))
			goto fail;
		app->mod_async = mo.async;
		px_moderation_set_faces(app->mod, app->faces);
		{
			struct px_mod_metrics mx = {app->m.classified,
						    app->m.flagged,
						    app->m.blocked};

			if (px_moderation_start(app->mod, app->cat, app->metrics,
						&mx, &eb))
				goto fail;
		}
	}
	if (start_guard(app, &cfg, &eb))
		goto fail;
	if (px_pool_new(workers, (int)cfg.queue, &app->pool)) {
		px_errf(&eb, PX_EINTERNAL, "cannot start %d workers", workers);
		goto fail;
	}
	px_pool_set_flow_cap(app->pool, (int)cfg.queue_per_client);
	px_pool_set_share(app->pool, (int)cfg.client_workers, 10000);

	if (px_api_cache_open(app, &eb))
		goto fail;
	{
		struct px_console_opts co = {
			.enabled = cfg.console,
			.kv = stores.kv,
			.tokens = app->tokens,
			.admin_token = cfg.admin_token,
			.session_ttl_us = (int64_t)cfg.console_session_ttl * 1000000,
			.public_url = app->public_url,
		};

		if (px_console_new(&co, &app->console, &eb))
			goto fail;
	}
	px_api_moderation_attach(app);

	memset(&ho, 0, sizeof(ho));
	ho.listen = cfg.listen;
	ho.threads = (int)cfg.http_threads;
	ho.conn_timeout = (int)cfg.conn_timeout;
	ho.per_ip_conns = (int)cfg.per_ip_conns;
	ho.conn_memory = (size_t)cfg.conn_memory;
	ho.max_body = (size_t)cfg.max_upload_bytes;
	ho.max_body_hint = " (max_upload_bytes; the server's operator raises it "
			   "with --max-upload-bytes or PICTOR_MAX_UPLOAD_BYTES)";
	ho.max_body_total = (size_t)PX_MAX(cfg.upload_memory, cfg.max_upload_bytes);
	ho.max_conns = (int)cfg.max_conns;
	ho.header_timeout = (int)cfg.header_timeout;
	ho.min_send_rate = cfg.min_send_rate;
	ho.max_send_memory = (size_t)cfg.send_memory;
	ho.admit = px_app_admit;
	ho.refused = px_app_refused_early;
	ho.dropped = px_app_conn_dropped;
	ho.tick = px_app_tick;
	ho.pool = app->pool;
	ho.handler = px_app_handle;
	ho.completed = px_app_completed;
	ho.app = app;
	px_app_conn_metrics(app, &http);
	if (px_http_start(&ho, &http, &eb)) {
		char why[sizeof(eb.msg)], how[256];
		const char *from = px_config_origin(&cfg, "listen");

		px_strlcpy(why, eb.msg, sizeof(why));
		px_config_how("listen", how, sizeof(how));
		px_errf(&eb, PX_EIO, "%s (the address is %s%s; change it with %s)",
			why, strcmp(from, "default") ? "set by " : "the ",
			from, how);
		goto fail;
	}
	{
		const char *colon = strrchr(cfg.listen, ':');

		snprintf(addr, sizeof(addr), "%.*s:%d",
			 (int)(colon - cfg.listen), cfg.listen,
			 px_http_port(http));
	}
	if (cfg.public_url)
		px_strlcpy(app->public_url, cfg.public_url,
			   sizeof(app->public_url));
	else
		snprintf(app->public_url, sizeof(app->public_url), "http://%s",
			 addr);
	{
		struct px_buf f;

		/* addr was checked as an IP address and port; data may hold
		 * anything, so it is quoted. */
		px_buf_init(&f, 0);
		px_buf_addf(&f, "\"addr\":\"%s\",\"workers\":%d,\"queue\":%ld,\"data\":",
			    addr, workers, cfg.queue);
		px_json_quote(&f, cfg.data);
		px_log(PX_LOG_INFO, "listening", (const char *)f.data);
		px_buf_release(&f);
	}
	px_notify("READY=1\nSTATUS=serving");

	/* Upkeep while waiting for the signal that ends the run: freed
	 * memory back to the kernel every 10 s, audit retention hourly;
	 * SIGHUP reloads the guard's rules. */
	for (int ticks = 1;; ticks++) {
		struct timespec tick = {10, 0};

		sig = sigtimedwait(&set, NULL, &tick);
		if (sig == SIGHUP) {
			px_notify("RELOADING=1");
			reload_rules(app->guard);
			reload_policy(app->mod, flags, nargs, args);
			px_notify("READY=1");
			continue;
		}
		if (sig >= 0)
			break;
		if (errno != EAGAIN)
			continue;
		px_malloc_trim();
		if (ticks % 360 == 0)
			audit_retention(app->cat, &cfg);
	}
	px_logf(PX_LOG_INFO, "signal %d: draining", sig);
	px_notify("STOPPING=1");
	atomic_store(&app->draining, true);
	deadline = time(NULL) + cfg.drain_timeout;
	/* The listener stays open while requests finish: a load balancer
	 * still reaches /readyz, sees 503 and takes this instance out before
	 * its connections are refused. Then it closes, and whatever was
	 * accepted just before gets the rest of the drain period. */
	while ((px_http_inflight(http) > 0 || px_pool_load(app->pool) > 0) &&
	       time(NULL) < deadline)
		usleep(20000);
	px_http_quiesce(http);
	px_log(PX_LOG_INFO, "listener closed", NULL);
	while ((px_http_inflight(http) > 0 || px_pool_load(app->pool) > 0) &&
	       time(NULL) < deadline)
		usleep(20000);
	if (px_http_inflight(http) > 0 || px_pool_load(app->pool) > 0) {
		/* Stores are crash-safe: leaving now loses nothing committed. */
		px_logf(PX_LOG_WARN, "drain timeout: %d requests still in flight",
			px_http_inflight(http));
		_exit(1);
	}
	px_http_stop(http);
	http = NULL;
	px_log(PX_LOG_INFO, "stopped", NULL);
	rc = 0;
	goto out;
fail:
	px_log(PX_LOG_ERROR, eb.msg[0] ? eb.msg : "start-up failed", NULL);
	rc = 1;
out:
	px_http_stop(http);
	px_scrub_stop(scrub);
	if (app) {
		px_catalog_unwatch(app->cat);
		px_pool_free(app->pool);
		px_cache_free(app->cache);
		px_moderation_free(app->mod);
		px_faces_free(app->faces);
		px_guard_free(app->guard);
		px_tokens_free(app->tokens);
		px_keys_free(app->keys);
		px_drafts_free(app->drafts);
		px_fetcher_free(app->fetch);
		px_console_free(app->console);
		px_catalog_free(app->cat);
		px_metrics_free(app->metrics);
		free(app);
	}
	px_stores_close(&stores);
	px_image_shutdown();
	px_datadir_unlock(lock);
	px_config_release(&cfg);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} cmds[] = {
		{"serve", cmd_serve},   {"sign", cmd_sign},
		{"srcset", px_srcset_cli}, {"url", px_url_cli},
		{"classify", cmd_classify}, {"config", cmd_config},
		{"reclassify", px_reclass_cli},
		{"token", px_token_cli},  {"routes", cmd_routes},
		{"import-cloudflare", cmd_import_cloudflare},
		{"backup", cmd_backup},   {"restore", cmd_restore},
		{"fsck", cmd_fsck},       {"version", cmd_version},
		{"migrate", px_migrate_cli},
	};
	const char *cmd = argc > 1 ? argv[1] : NULL;
	const char *names[PX_ARRAY_LEN(cmds) + 2], *near;

	if (!cmd || !strcmp(cmd, "--help") || !strcmp(cmd, "-h") ||
	    !strcmp(cmd, "help")) {
		usage_main(cmd ? stdout : stderr);
		return cmd ? 0 : 2;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-v") || !strcmp(cmd, "-V"))
		return cmd_version(0, NULL);
	for (size_t i = 0; i < PX_ARRAY_LEN(cmds); i++) {
		if (!strcmp(cmd, cmds[i].name))
			return cmds[i].fn(argc - 2, argv + 2);
		names[i] = cmds[i].name;
	}
	names[PX_ARRAY_LEN(cmds)] = cmd[0] == '-' ? "--help" : NULL;
	names[PX_ARRAY_LEN(cmds) + 1] = cmd[0] == '-' ? "--version" : NULL;
	near = px_suggest(cmd, names, PX_ARRAY_LEN(names));
	fprintf(stderr, "pictor: unknown %s \"%s\"", cmd[0] == '-' ? "option" : "command", cmd);
	if (near)
		fprintf(stderr, "; did you mean \"%s\"?", near);
	fprintf(stderr, "\nRun \"pictor --help\" for the list of commands.\n");
	return 2;
}
