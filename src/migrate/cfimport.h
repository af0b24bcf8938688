/*
 * cfimport.h - `pictor import-cloudflare`: copy a Cloudflare Images
 * account into a running Pictor, through Cloudflare's own API on one side
 * and Pictor's images API on the other.
 *
 * The walk: the account's variants (created or brought in line on the
 * target), then every image by the v2 list, oldest first; for each, the
 * target's record decides: absent, the original is fetched (.../blob) and
 * uploaded with the same id, metadata and requireSignedURLs; present, its
 * metadata and requireSignedURLs are patched if they differ; else nothing.
 * So a run that is interrupted is finished by running it again, and a run
 * over an imported account changes nothing. Uploads go through the
 * target's normal path (validation, moderation, durability: a 2xx there
 * is durable). Cloudflare never lets an id's bytes change, so bytes are
 * compared only when an image is imported, never on a second run.
 *
 * libcurl is used by this module alone (besides the webhook sender).
 */
#ifndef PX_CFIMPORT_H
#define PX_CFIMPORT_H

#include "core/common.h"

struct px_cfimport_opts {
	const char *base_url;     /* Cloudflare API base, ".../client/v4" */
	const char *account_id;
	const char *token;        /* Bearer token of the source */
	const char *target_url;   /* Pictor's base URL */
	const char *target_token; /* Bearer token of the target */
	const char *since;        /* RFC 3339 UTC or unix seconds: images
				   * uploaded before are skipped; NULL: all */
	long limit;               /* stop after this many imports; 0: none */
	bool dry_run;             /* read both sides, change nothing */
	FILE *out;                /* one line per change, then a summary */
};

struct px_cfimport_stats {
	uint64_t images, imported, updated, unchanged, skipped, failed;
	uint64_t variants_created, variants_updated, variants_unchanged;
	bool limited; /* stopped at opts->limit */
};

/*
 * Run the import. Per-image failures are counted in stats->failed and the
 * walk goes on; a failure to list either side ends it with a negative
 * px_err and the reason in eb.
 */
int px_cfimport_run(const struct px_cfimport_opts *o,
		    struct px_cfimport_stats *stats, struct px_errbuf *eb);

#endif
