/*
 * stores.c - open the blob and metadata stores named by the settings
 * (see stores.h).
 */
#include "catalog/stores.h"
#include "store/s3loc.h"

/* LMDB's map is address space, not disk: room for tens of millions of
 * records without a resize. */
#define LMDB_MAP_SIZE ((uint64_t)16 << 30)

bool px_stores_blob_is_file(const struct px_config *cfg)
{
	return !cfg->blob || !strcmp(cfg->blob, "file");
}

static int open_blobs(const struct px_config *cfg, struct px_stores *st,
		      struct px_errbuf *eb)
{
	struct px_blob_cred cred = {cfg->s3_access_key_id,
				    cfg->s3_secret_access_key,
				    cfg->s3_session_token};
	char msg[sizeof(eb->msg)];
	int rc;

	if (px_stores_blob_is_file(cfg))
		return px_blob_open(&px_blob_fs_ops, cfg->data, &st->blobs, eb);
	rc = px_blob_open_s3(cfg->blob, &cred, &st->blobs, eb);
	if (rc && eb) {
		memcpy(msg, eb->msg, sizeof(msg));
		snprintf(eb->msg, sizeof(eb->msg), "blob store: %.480s", msg);
	}
	return rc;
}

int px_stores_check(const struct px_config *cfg, struct px_errbuf *eb)
{
	struct px_s3loc loc;
	const char *id = cfg->s3_access_key_id, *key = cfg->s3_secret_access_key;

	if (px_stores_blob_is_file(cfg))
		return 0;
	if (px_s3loc_parse(cfg->blob, &loc, eb)) {
		char msg[sizeof(eb->msg)];

		memcpy(msg, eb->msg, sizeof(msg));
		snprintf(eb->msg, sizeof(eb->msg), "blob store: %.480s", msg);
		return PX_EINVAL;
	}
	if (!id || !*id)
		id = getenv("AWS_ACCESS_KEY_ID");
	if (!key || !*key)
		key = getenv("AWS_SECRET_ACCESS_KEY");
	if (!id || !*id || !key || !*key)
		return px_errc(eb, PX_EINVAL, "no_blob_credentials",
			       "blob store: no S3 credentials: set "
			       "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or "
			       "s3_access_key_id and s3_secret_access_key in the "
			       "configuration)");
	return 0;
}

int px_stores_open(const struct px_config *cfg, int flags,
		   struct px_stores *st, struct px_errbuf *eb)
{
	char path[4096];
	int rc;

	memset(st, 0, sizeof(*st));
	if (!(flags & PX_STORES_META_ONLY) && (rc = open_blobs(cfg, st, eb)))
		goto out;
	if (!px_kv_meta_is_lmdb(cfg->meta)) {
		/* a PostgreSQL connection string (docs/CONFIG.md) */
		rc = px_kv_open(&px_kv_pg_ops, cfg->meta, 0, &st->kv, eb);
	} else {
		snprintf(path, sizeof(path), "%s/meta", cfg->data);
		rc = px_kv_open(&px_kv_lmdb_ops, path, LMDB_MAP_SIZE, &st->kv,
				eb);
	}
out:
	if (rc)
		px_stores_close(st);
	return rc;
}

void px_stores_close(struct px_stores *st)
{
	px_kv_close(st->kv);
	px_blob_close(st->blobs);
	memset(st, 0, sizeof(*st));
}
