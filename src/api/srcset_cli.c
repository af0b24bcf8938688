/*
 * srcset_cli.c - `pictor srcset ID`: the CLI twin of
 * GET /v1/images/{id}/srcset. px_cli_app_run opens the metadata store
 * (LMDB lets it run beside a serving daemon) and signing keys as `serve`
 * would, and prints px_srcset_build's answer, the same JSON as the
 * endpoint's "result".
 */
#include "api/srcset.h"

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

/* The public URL prefix as serve sets it, then px_srcset_build. */
static int build(struct px_app *a, const char *id, const char *const *val,
		 json_t **out, struct px_errbuf *eb)
{
	const struct px_srcset_query q = {val[0], val[1], val[2], val[3]};

	if (a->cfg->public_url)
		px_strlcpy(a->public_url, a->cfg->public_url,
			   sizeof(a->public_url));
	else
		snprintf(a->public_url, sizeof(a->public_url), "http://%s",
			 a->cfg->listen);
	return px_srcset_build(a, id, &q, out, eb);
}

int px_srcset_cli(int argc, char **argv)
{
	static const struct px_cli_twin twin = {
		"srcset", "pictor srcset ID --widths 320,640", own_flags, usage,
		build};

	return px_cli_app_run(&twin, argc, argv);
}
