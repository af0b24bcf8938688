/*
 * srcset_cli.c - `pictor srcset ID`: the CLI twin of
 * GET /v1/images/{id}/srcset. It opens the metadata store (LMDB lets it
 * run beside a serving daemon) and signing keys as `serve` would,
 * and prints px_srcset_build's answer, the same JSON as the endpoint's
 * "result".
 */
#include "api/srcset.h"
#include "catalog/stores.h"

#include <jansson.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pictor srcset ID [--variant NAME] [--widths W1,W2,...]\n"
		"                        [--sizes SIZES] [--ttl SECONDS] [options]\n\n"
		"Print ready \"srcset\" and \"sizes\" strings for image ID as JSON,\n"
		"the answer of GET /v1/images/ID/srcset with the same options:\n"
		"{\"srcset\", \"sizes\", \"src\", \"signed\", \"urls\": [{\"width\", \"url\"}]}.\n\n"
		"  --variant NAME     the options of this variant, with each width\n"
		"  --widths LIST      widths in pixels, comma-separated, at most 16\n"
		"                     (default: the width=auto steps up to the\n"
		"                     original's width); wider than the original\n"
		"                     means the original's width\n"
		"  --sizes SIZES      the sizes attribute to pass through\n"
		"                     (default 100vw)\n"
		"  --ttl SECONDS      lifetime of signed URLs (default 86400, at\n"
		"                     most a year); URLs are signed when the image\n"
		"                     requires signed URLs\n"
		"  --data DIR         the server's data directory (default ./var)\n"
		"  --public-url URL   the URL prefix (default http:// and --listen)\n"
		"and every option of \"pictor serve\". Safe to run beside a running\n"
		"server. Exit status: 0 printed, 1 the request failed (unknown\n"
		"image or variant, bad widths or ttl), 2 usage.\n");
}

static const char *const own_flags[] = {"--variant", "--widths", "--sizes",
					"--ttl", NULL};

/* Take this command's flags (--name VALUE or --name=VALUE) out of argv
 * into q; the rest goes to the configuration. */
static int take_flags(int argc, char **argv, struct px_srcset_query *q,
		      char **args, int *nargs)
{
	for (int i = 0; i < argc; i++) {
		const char **slot = NULL, *v = NULL;
		size_t n = strcspn(argv[i], "=");

		for (int f = 0; own_flags[f]; f++)
			if (strlen(own_flags[f]) == n &&
			    !strncmp(argv[i], own_flags[f], n)) {
				slot = f == 0 ? &q->variant : f == 1 ? &q->widths
				       : f == 2 ? &q->sizes : &q->ttl;
				break;
			}
		if (!slot) {
			args[(*nargs)++] = argv[i];
			continue;
		}
		if (argv[i][n] == '=') {
			v = argv[i] + n + 1;
		} else if (i + 1 < argc) {
			v = argv[++i];
		} else {
			fprintf(stderr, "pictor: %s needs a value\n", argv[i]);
			return PX_EINVAL;
		}
		*slot = v;
	}
	return 0;
}

int px_srcset_cli(int argc, char **argv)
{
	struct px_srcset_query q = {0};
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

	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
	args = calloc((size_t)argc + 1, sizeof(*args));
	a = calloc(1, sizeof(*a));
	if (!args || !a) {
		rc = 1;
		goto out;
	}
	if (take_flags(argc, argv, &q, args, &nargs))
		goto out;
	if (px_config_load_cmd(&cfg, nargs, args, own_flags, rest, &nrest, &eb)) {
		fprintf(stderr, "pictor: %s\n", eb.msg);
		if (!strncmp(eb.msg, "unknown option", 14))
			fprintf(stderr, "Run \"pictor srcset --help\" for its options.\n");
		px_config_release(&cfg);
		goto out;
	}
	loaded = true;
	if (nrest != 1) {
		fprintf(stderr, "pictor: srcset needs one image ID, e.g. pictor srcset ID --widths 320,640\n");
		goto out;
	}
	rc = 1;
	if ((open_rc = px_cli_app_open(a, &cfg, &stores, &eb)) > 0)
		goto out;
	if (open_rc)
		goto fail;
	if (cfg.public_url)
		px_strlcpy(a->public_url, cfg.public_url, sizeof(a->public_url));
	else
		snprintf(a->public_url, sizeof(a->public_url), "http://%s",
			 cfg.listen);
	if (px_srcset_build(a, rest[0], &q, &res, &eb))
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
