/*
 * url_cli.c - `pictor url ID`: the CLI twin of GET /v1/images/{id}/url.
 * It opens the metadata store (LMDB lets it run beside a serving daemon)
 * and the signing keys as `serve` would, and prints px_url_build's
 * answer, the same JSON as the endpoint's "result".
 */
#include "api/app.h"
#include "catalog/stores.h"

#include <jansson.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pictor url ID [--variant NAME | --options OPTS]\n"
		"                     [--ttl SECONDS] [options]\n\n"
		"Print a delivery URL for image ID as JSON, the answer of\n"
		"GET /v1/images/ID/url: {\"url\", \"expires_at\", \"signed\"}. The URL\n"
		"is signed exactly when delivery asks for it (the image requires\n"
		"signed URLs and the variant does not waive it).\n\n"
		"  --variant NAME     a named variant (default: public)\n"
		"  --options OPTS     options instead, e.g. w=400,f=webp\n"
		"  --ttl SECONDS      lifetime of a signed URL (default 3600, at\n"
		"                     most 604800)\n"
		"  --data DIR         the server's data directory (default ./var)\n"
		"and every option of \"pictor serve\". Safe to run beside a running\n"
		"server. Exit status: 0 printed, 1 the request failed (unknown\n"
		"image or variant, bad options or ttl), 2 usage.\n");
}

static const char *const own_flags[] = {"--variant", "--options", "--ttl",
					NULL};

int px_url_cli(int argc, char **argv)
{
	const char *val[3] = {NULL, NULL, NULL};
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
	/* This command's flags (--name VALUE or --name=VALUE) out of argv;
	 * the rest goes to the configuration. */
	for (int i = 0; i < argc; i++) {
		size_t n = strcspn(argv[i], "=");
		int f;

		for (f = 0; own_flags[f]; f++)
			if (strlen(own_flags[f]) == n &&
			    !strncmp(argv[i], own_flags[f], n))
				break;
		if (!own_flags[f]) {
			args[nargs++] = argv[i];
		} else if (argv[i][n] == '=') {
			val[f] = argv[i] + n + 1;
		} else if (i + 1 < argc) {
			val[f] = argv[++i];
		} else {
			fprintf(stderr, "pictor: %s needs a value\n", argv[i]);
			goto out;
		}
	}
	if (px_config_load_cmd(&cfg, nargs, args, own_flags, rest, &nrest, &eb)) {
		fprintf(stderr, "pictor: %s\n", eb.msg);
		if (!strncmp(eb.msg, "unknown option", 14))
			fprintf(stderr, "Run \"pictor url --help\" for its options.\n");
		px_config_release(&cfg);
		goto out;
	}
	loaded = true;
	if (nrest != 1) {
		fprintf(stderr, "pictor: url needs one image ID, e.g. pictor url ID --variant thumbnail\n");
		goto out;
	}
	rc = 1;
	if ((open_rc = px_cli_app_open(a, &cfg, &stores, &eb)) > 0)
		goto out;
	if (open_rc)
		goto fail;
	if (px_url_build(a, rest[0], val[0], val[1], val[2], &res, &eb))
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
