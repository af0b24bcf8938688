/*
 * reclass_cli.c - `pictor reclassify`: the CLI twin of
 * /v1/moderation/reclassify. It opens the metadata store (LMDB lets it
 * run beside a serving daemon) and starts, lists, shows or cancels jobs;
 * the daemon's re-classification thread finds a new job within a second
 * and works it off. The filter flags become the same request body the
 * API parses (px_reclass_parse), so both refuse the same things.
 */
#include "catalog/stores.h"
#include "moderation/reclass.h"

#include <jansson.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pictor reclassify start (--all | [--status S] [--uploaded-before T]\n"
		"                               [--uploaded-after T] [--model M]\n"
		"                               [--policy-version V] [--stale]\n"
		"                               [--pdq-missing] [--faces])\n"
		"       pictor reclassify list\n"
		"       pictor reclassify show JOB\n"
		"       pictor reclassify cancel JOB\n"
		"and --data DIR (every option of \"pictor serve\" is accepted).\n\n"
		"Judge stored images again under the model and the policy in force,\n"
		"as POST /v1/moderation/reclassify does: start writes the job into\n"
		"the data directory and a running server (moderation on) works it\n"
		"off, resuming across restarts; list, show and cancel follow it.\n"
		"Each prints jobs as JSON, one per line, as the API shows them.\n\n"
		"  --all                every image (or give filters)\n"
		"  --status S           approved, flagged or blocked\n"
		"  --uploaded-before T  RFC 3339 UTC time or unix seconds\n"
		"  --uploaded-after T   likewise (inclusive)\n"
		"  --model M            images classified by this model (none: never)\n"
		"  --policy-version V   images judged under this policy version\n"
		"  --stale              images judged by another model or policy\n"
		"  --pdq-missing        images without a PDQ hash (they get one)\n"
		"  --faces              images never looked at for faces (they get\n"
		"                       their faces detected, and are judged again)\n"
		"Exit status: 0 done, 1 refused (a job runs already, unknown job,\n"
		"bad filter), 2 usage.\n");
}

static const char *const own_flags[] = {"--all", "--status", "--uploaded-before",
					"--uploaded-after", "--model",
					"--policy-version", "--stale",
					"--pdq-missing", "--faces", NULL};

/* The filter flags as the API's body; the rest of argv goes to args. */
static int take_flags(int argc, char **argv, json_t *body, char **args,
		      int *nargs)
{
	for (int i = 0; i < argc; i++) {
		size_t n = strcspn(argv[i], "=");
		const char *v = NULL;
		int f = -1;
		char key[32];

		for (int k = 0; own_flags[k]; k++)
			if (strlen(own_flags[k]) == n && !strncmp(argv[i], own_flags[k], n))
				f = k;
		if (f < 0) {
			args[(*nargs)++] = argv[i];
			continue;
		}
		/* "--uploaded-before" -> "uploaded_before" */
		snprintf(key, sizeof(key), "%s", own_flags[f] + 2);
		for (char *p = key; *p; p++)
			if (*p == '-')
				*p = '_';
		if (f == 0 || f == 6 || f == 7 || f == 8) {
			if (argv[i][n] == '=') {
				fprintf(stderr, "pictor: %s takes no value\n", own_flags[f]);
				return PX_EINVAL;
			}
			json_object_set_new(body, key, json_true());
			continue;
		}
		if (argv[i][n] == '=')
			v = argv[i] + n + 1;
		else if (i + 1 < argc)
			v = argv[++i];
		if (!v) {
			fprintf(stderr, "pictor: %s needs a value\n", own_flags[f]);
			return PX_EINVAL;
		}
		if (f == 2 || f == 3) {
			char *end;
			long long secs = strtoll(v, &end, 10);

			if (*v && !*end) {
				json_object_set_new(body, key, json_integer(secs));
				continue;
			}
		}
		json_object_set_new(body, key, json_string(v));
	}
	return 0;
}

static int print_job(void *ctx, const struct px_reclass_job *j)
{
	json_t *o = px_reclass_job_json(j);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	if (!text)
		return PX_ENOMEM;
	printf("%s\n", text);
	free(text);
	return 0;
}

static int start(struct px_catalog *cat, const struct px_config *cfg,
		 json_t *body, struct px_errbuf *eb)
{
	struct px_reclass_filter f;
	struct px_reclass_job job;
	struct px_actor who = {"cli", ""};
	char version[24], *text;
	const char *user = getenv("USER");
	int rc;

	if (!cfg->moderation)
		return px_errf(eb, PX_EINVAL,
			       "moderation is off in these settings: nothing would work the job off");
	text = json_dumps(body, JSON_COMPACT);
	if (!text)
		return PX_ENOMEM;
	rc = px_reclass_parse(text, strlen(text), &f, eb);
	free(text);
	if (rc)
		return rc;
	snprintf(who.name, sizeof(who.name), "%s", user && *user ? user : "cli");
	if ((rc = px_moderation_policy_version(cfg->moderation_policy, version)))
		return rc;
	rc = px_reclass_create(cat, &f, px_moderation_model_name(), version, &who,
			       &job, eb);
	if (rc)
		return rc;
	return print_job(NULL, &job);
}

int px_reclass_cli(int argc, char **argv)
{
	const char *sub = argc > 0 ? argv[0] : "";
	struct px_stores stores = {0};
	struct px_catalog *cat = NULL;
	struct px_reclass_job job;
	struct px_errbuf eb = {0};
	struct px_config cfg;
	json_t *body = json_object();
	const char *rest[2];
	char **args = NULL;
	int nargs = 0, nrest = 2, rc = 2, want;
	bool loaded = false;

	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			rc = 0;
			goto out;
		}
	if (strcmp(sub, "start") && strcmp(sub, "list") && strcmp(sub, "show") &&
	    strcmp(sub, "cancel")) {
		usage(stderr);
		goto out;
	}
	args = calloc((size_t)argc + 1, sizeof(*args));
	if (!args || !body) {
		rc = 1;
		goto out;
	}
	if (!strcmp(sub, "start")) {
		if (take_flags(argc - 1, argv + 1, body, args, &nargs))
			goto out;
	} else {
		for (int i = 1; i < argc; i++)
			args[nargs++] = argv[i];
	}
	if (px_config_load_cmd(&cfg, nargs, args, own_flags, rest, &nrest, &eb)) {
		fprintf(stderr, "pictor: %s\n", eb.msg);
		if (!strncmp(eb.msg, "unknown option", 14))
			fprintf(stderr, "Run \"pictor reclassify --help\" for its options.\n");
		px_config_release(&cfg);
		goto out;
	}
	loaded = true;
	want = !strcmp(sub, "show") || !strcmp(sub, "cancel") ? 1 : 0;
	if (nrest != want) {
		usage(stderr);
		goto out;
	}
	rc = 1;
	if (px_stores_open(&cfg, PX_STORES_META_ONLY, &stores, &eb))
		goto fail;
	if (px_catalog_new(stores.blobs, stores.kv, &cat)) {
		px_errf(&eb, PX_ENOMEM, "out of memory");
		goto fail;
	}
	if (!strcmp(sub, "start")) {
		if (start(cat, &cfg, body, &eb))
			goto fail;
	} else if (!strcmp(sub, "list")) {
		if (px_reclass_list(cat, 100, print_job, NULL, &eb))
			goto fail;
	} else if (!strcmp(sub, "show")) {
		if (px_reclass_get(cat, rest[0], &job, &eb) || print_job(NULL, &job))
			goto fail;
	} else {
		struct px_actor who = {"cli", "cli"};
		const char *user = getenv("USER");

		if (user && *user)
			snprintf(who.name, sizeof(who.name), "%s", user);
		if (px_reclass_cancel(cat, rest[0], &who, &job, &eb) ||
		    print_job(NULL, &job))
			goto fail;
	}
	rc = 0;
	goto out;
fail:
	if (eb.code)
		fprintf(stderr, "pictor: %s (%s)\n", eb.msg, eb.code);
	else
		fprintf(stderr, "pictor: %s\n", eb.msg[0] ? eb.msg : "out of memory");
out:
	px_catalog_free(cat);
	px_stores_close(&stores);
	if (loaded)
		px_config_release(&cfg);
	json_decref(body);
	free(args);
	return rc;
}
