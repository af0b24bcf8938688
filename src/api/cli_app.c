/*
 * cli_app.c - the application a CLI twin of a read-only endpoint runs
 * (`pictor url`, `pictor srcset`): opened from the settings as `serve`
 * would open it, beside a running server (LMDB allows that), with the
 * signing keys and the metadata store only; no original is read.
 * px_cli_app_run is the whole command around an endpoint's build
 * function: flags, settings, the application, the JSON printed.
 */
#include "api/app.h"
#include "catalog/stores.h"
#include "delivery/keys.h"

#include <jansson.h>
#include <sys/stat.h>

int px_cli_app_open(struct px_app *a, struct px_config *cfg,
		    struct px_stores *stores, struct px_errbuf *eb)
{
	struct stat sb;
	char path[4096];
	bool created;

	/* With LMDB the records live in the data directory: say so plainly
	 * when it is not one (PostgreSQL keeps them elsewhere). */
	snprintf(path, sizeof(path), "%s/meta/data.mdb", cfg->data);
	if ((!cfg->meta || !strcmp(cfg->meta, "lmdb")) && stat(path, &sb)) {
		fprintf(stderr, "pictor: \"%s\" is not a Pictor data directory "
				"(pass the server's with --data DIR)\n", cfg->data);
		return 1;
	}
	/* The keys as serve reads them: secrets.json, or pinned by flags
	 * or the environment. */
	if (px_config_secrets(cfg, false, &created, eb)) {
		fprintf(stderr, "pictor: %s\n", eb->msg);
		return 1;
	}
	px_config_secrets_path(cfg, path, sizeof(path));
	if (px_keys_open(path, cfg->signing_keys, cfg->n_signing_keys,
			 cfg->signing_keys_csv != NULL, &a->keys, eb))
		return -1;
	/* Records and variants only: no original is read. */
	if (px_stores_open(cfg, PX_STORES_META_ONLY, stores, eb))
		return -1;
	if (px_catalog_new(stores->blobs, stores->kv, &a->cat)) {
		px_errf(eb, PX_ENOMEM, "out of memory");
		return -1;
	}
	a->cfg = cfg;
	return 0;
}

void px_cli_app_close(struct px_app *a, struct px_stores *stores)
{
	if (a) {
		px_catalog_free(a->cat);
		px_keys_free(a->keys);
		free(a);
	}
	px_stores_close(stores);
}

/* Take the command's own flags out of argv into val; the rest goes to
 * args for the configuration. PX_EINVAL (printed) for a missing value. */
static int take_flags(const struct px_cli_twin *t, int argc, char **argv,
		      const char **val, char **args, int *nargs)
{
	for (int i = 0; i < argc; i++) {
		size_t n = strcspn(argv[i], "=");
		int f;

		for (f = 0; t->flags[f]; f++)
			if (strlen(t->flags[f]) == n &&
			    !strncmp(argv[i], t->flags[f], n))
				break;
		if (!t->flags[f]) {
			args[(*nargs)++] = argv[i];
		} else if (argv[i][n] == '=') {
			val[f] = argv[i] + n + 1;
		} else if (i + 1 < argc) {
			val[f] = argv[++i];
		} else {
			fprintf(stderr, "pictor: %s needs a value\n", argv[i]);
			return PX_EINVAL;
		}
	}
	return 0;
}

int px_cli_app_run(const struct px_cli_twin *t, int argc, char **argv)
{
	const char *val[PX_CLI_FLAGS_MAX + 1] = {0};
	struct px_errbuf eb = {0};
	struct px_config cfg;
	struct px_app *a = NULL;
	struct px_stores stores = {0};
	const char *rest[2];
	char **args;
	int nargs = 0, nrest = 2, rc = 2, open_rc;
	bool loaded = false;
	json_t *res = NULL;
	char *text;

	for (int f = 0; t->flags[f]; f++)
		if (f == PX_CLI_FLAGS_MAX)
			PX_BUG("a CLI twin with more than PX_CLI_FLAGS_MAX flags");
	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			t->usage(stdout);
			return 0;
		}
	args = calloc((size_t)argc + 1, sizeof(*args));
	a = calloc(1, sizeof(*a));
	if (!args || !a) {
		rc = 1;
		goto out;
	}
	if (take_flags(t, argc, argv, val, args, &nargs))
		goto out;
	if (px_config_load_cmd(&cfg, nargs, args, t->flags, rest, &nrest, &eb)) {
		fprintf(stderr, "pictor: %s\n", eb.msg);
		if (!strncmp(eb.msg, "unknown option", 14))
			fprintf(stderr, "Run \"pictor %s --help\" for its options.\n",
				t->name);
		px_config_release(&cfg);
		goto out;
	}
	loaded = true;
	if (nrest != 1) {
		fprintf(stderr, "pictor: %s needs one image ID, e.g. %s\n",
			t->name, t->example);
		goto out;
	}
	rc = 1;
	if ((open_rc = px_cli_app_open(a, &cfg, &stores, &eb)) > 0)
		goto out;
	if (open_rc || t->build(a, rest[0], val, &res, &eb))
		goto fail;
	text = json_dumps(res, JSON_COMPACT);
	if (!text)
		goto out;
	printf("%s\n", text);
	free(text);
	rc = 0;
	goto out;
fail:
	if (eb.code)
		fprintf(stderr, "pictor: %s (%s)\n", eb.msg, eb.code);
	else
		fprintf(stderr, "pictor: %s\n", eb.msg);
out:
	json_decref(res);
	px_cli_app_close(a, &stores);
	if (loaded)
		px_config_release(&cfg);
	free(args);
	return rc;
}
