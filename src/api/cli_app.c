/*
 * cli_app.c - the application a CLI twin of a read-only endpoint runs
 * (`pictor url`, `pictor srcset`): opened from the settings as `serve`
 * would open it, beside a running server (LMDB allows that), with the
 * signing keys and the metadata store only; no original is read.
 */
#include "api/app.h"
#include "catalog/stores.h"
#include "delivery/keys.h"

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
