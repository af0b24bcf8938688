/*
 * drafts.h - direct creator uploads: the drafts behind one-time upload
 * URLs, and the one owner of their state.
 *
 * A caller with images:write asks for an upload URL; a draft reserves the
 * image id with the metadata and signing requirement chosen then, and a
 * random secret (kept as its SHA-256) makes the URL. Whoever holds the URL
 * may POST one file to it, without a token, before the draft expires.
 * Claiming is atomic: the first request turns the draft "used" in one
 * write transaction, so a second use is refused even while the first is
 * still being decoded. A used or expired draft is removed by the sweep
 * once its expiry has passed.
 *
 * kv layout: draft/<id>                  -> {"id","meta","require_signed",
 *                                            "created_us","expires_us",
 *                                            "sha256","state","creator"}
 *            draftx/<16 hex µs>/<id>     -> "" (expiry order, for the sweep)
 * Only this module reads or writes these keys.
 */
#ifndef PX_DRAFTS_H
#define PX_DRAFTS_H

#include "catalog/catalog.h"
#include "core/common.h"
#include "meta/kv.h"

#define PX_DRAFT_SECRET_LEN 64
#define PX_DRAFT_TTL_DEFAULT_S (30 * 60)
#define PX_DRAFT_TTL_MAX_S (6 * 3600)

struct px_draft {
	char id[PX_ID_MAX + 1];
	char *meta; /* JSON object text, owned; "{}" when none */
	bool require_signed;
	int64_t created_us, expires_us;
	bool used;
	char creator_id[64];    /* the token that asked for the URL */
	char creator_name[129];
	char sha256[65];        /* of the URL's secret */
};

struct px_drafts;

void px_draft_release(struct px_draft *d); /* frees meta, zeroes */

int px_drafts_new(struct px_kv *kv, struct px_drafts **out);
void px_drafts_free(struct px_drafts *ds); /* accepts NULL */

/*
 * Store a new draft. The caller fills meta (may be NULL), require_signed,
 * expires_us and creator; an empty id gets a UUIDv7. The URL secret (64
 * hex and a NUL) goes to secret. PX_EEXIST (code "already_exists") if a
 * draft holds the id. Expired drafts are swept first.
 */
int px_drafts_create(struct px_drafts *ds, struct px_draft *d,
		     char secret[PX_DRAFT_SECRET_LEN + 1], struct px_errbuf *eb);

/*
 * Claim draft id with secret at now_us: on success the draft is marked
 * used (durably) and returned in *out (caller releases). Failures, with
 * eb->code: PX_ENOTFOUND "not_found" (no such draft, or swept),
 * PX_EINVAL "invalid_upload_url" (wrong secret), PX_EEXIST
 * "upload_url_used", PX_ELIMIT "upload_url_expired".
 */
int px_drafts_claim(struct px_drafts *ds, const char *id, const char *secret,
		    int64_t now_us, struct px_draft *out, struct px_errbuf *eb);

/* Reopen a claimed draft whose upload could not start (a full queue). */
int px_drafts_unclaim(struct px_drafts *ds, const char *id,
		      struct px_errbuf *eb);

/* An open (unused, unexpired) draft, for GET /v1/images/{id}.
 * PX_ENOTFOUND otherwise. */
int px_drafts_get(struct px_drafts *ds, const char *id, int64_t now_us,
		  struct px_draft *out, struct px_errbuf *eb);

/* Remove drafts whose expiry is before now_us, at most max of them;
 * the count goes to *removed (may be NULL). */
int px_drafts_sweep(struct px_drafts *ds, int64_t now_us, int max,
		    unsigned *removed, struct px_errbuf *eb);

#endif
