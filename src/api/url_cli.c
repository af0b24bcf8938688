/*
 * url_cli.c - `pictor url ID`: the CLI twin of GET /v1/images/{id}/url.
 * px_cli_app_run opens the metadata store (LMDB lets it run beside a
 * serving daemon) and the signing keys as `serve` would, and prints
 * px_url_build's answer, the same JSON as the endpoint's "result".
 */
#include "api/app.h"

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

static int build(struct px_app *a, const char *id, const char *const *val,
		 json_t **out, struct px_errbuf *eb)
{
	return px_url_build(a, id, val[0], val[1], val[2], out, eb);
}

int px_url_cli(int argc, char **argv)
{
	static const struct px_cli_twin twin = {
		"url", "pictor url ID --variant thumbnail", own_flags, usage,
		build};

	return px_cli_app_run(&twin, argc, argv);
}
