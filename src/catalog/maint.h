/*
 * maint.h - operating the catalog's data: integrity check and repair
 * (fsck.c), online backup and restore (backup.c), the background scrub
 * (scrub.c) and the data-directory lock that keeps an offline tool and
 * the daemon apart (datadir.c).
 *
 * These live beside catalog.c because they read the catalog's key layout
 * (catalog.h) directly; anything that changes a record goes through the
 * catalog's own operations (px_catalog_moderate, px_catalog_delete).
 *
 * A data directory (and a backup, which has the same shape):
 *     secrets.json          admin token and signing keys
 *     blobs/ab/cd/<sha256>  originals
 *     meta/data.mdb         the LMDB environment
 */
#ifndef PX_CATALOG_MAINT_H
#define PX_CATALOG_MAINT_H

#include "catalog/catalog.h"
#include "core/metrics.h"

/* --- data-directory lock -------------------------------------------- */

/*
 * Take the exclusive lock of a data directory (<data>/pictor.lock, an
 * flock(2) lock the kernel drops when the process dies). `pictor serve`
 * holds it for its lifetime; offline tools that write (fsck --repair,
 * restore into the directory) take it too, so they never run beside the
 * daemon. PX_EBUSY when another process holds it. *fd gets the descriptor
 * to keep open; px_datadir_unlock() closes it (accepts -1).
 */
int px_datadir_lock(const char *data, int *fd, struct px_errbuf *eb);
void px_datadir_unlock(int fd);

/* --- fsck ------------------------------------------------------------ */

/* One finding. kind is a stable word (see docs/OPERATIONS.md): e.g.
 * "missing_original", "checksum_mismatch", "length_mismatch", "orphan",
 * "wrong_refcount", "missing_index", "dangling_index", "stale_queue",
 * "missing_queue", "stale_job", "missing_job", "dangling_audit_index",
 * "bad_record", "bad_outbox",
 * and "corrupt" (informational: a record already marked corrupt).
 * id or sha256 may be "" when the finding has none. */
struct px_fsck_finding {
	const char *kind;
	const char *id;
	const char *sha256;
	const char *detail;
	bool problem;  /* false for informational lines */
	bool repaired; /* --repair fixed it */
};

typedef void (*px_fsck_fn)(void *ctx, const struct px_fsck_finding *f);

struct px_fsck_stats {
	uint64_t records, originals, bytes; /* checked */
	uint64_t problems, repaired, corrupt;
};

/*
 * Check every record against its original (present, length, SHA-256),
 * every original against a record (orphans), reference counts, the time
 * index, the review queue, classification jobs and the webhook outbox.
 * Each finding goes to fn. With repair: orphans are removed, reference
 * counts and index/queue/job keys rewritten from the records, and records
 * whose original is missing or damaged are marked "corrupt" (never
 * served again; kept for an administrator to see). The stores must not
 * be in use by another process (take px_datadir_lock first).
 * Returns 0 when the check ran (read stats->problems - stats->repaired
 * for the outcome), a negative px_err when it could not.
 */
int px_catalog_fsck(struct px_catalog *cat, bool repair, px_fsck_fn fn,
		    void *ctx, struct px_fsck_stats *stats,
		    struct px_errbuf *eb);

/* --- backup and restore --------------------------------------------- */

struct px_backup_stats {
	uint64_t records;       /* image records in the copy */
	uint64_t originals;     /* originals the copy references */
	uint64_t copied, copied_bytes;   /* originals written now */
	uint64_t skipped, skipped_bytes; /* already there (incremental) */
	uint64_t dropped;   /* records deleted while the backup ran */
	uint64_t pruned;    /* originals of earlier backups no longer used */
};

/*
 * Back up the data directory `data` into `dest` while a daemon may be
 * serving from it. The copy is of one instant T (an LMDB snapshot, taken
 * with px_kv_snapshot) plus the originals it references, each checked
 * against its SHA-256 as it is copied. An image deleted after T whose
 * original was gone before it could be copied is dropped from the copy
 * (counted in dropped): the backup then holds every image that existed
 * at T and was not deleted while the backup ran, and every original in
 * it is whole. Incremental: originals already in dest are not copied
 * again; those no record uses any more are pruned. The new snapshot
 * replaces the old one only once all its originals are in place, so an
 * interrupted backup leaves the previous one intact.
 */
int px_backup_run(const char *data, const char *dest,
		  struct px_backup_stats *st, struct px_errbuf *eb);

/*
 * Build a data directory at `data` (absent or empty) from the backup in
 * `from`: the snapshot, every original it references (checked), and the
 * secrets. The caller then checks it with px_catalog_fsck.
 */
int px_restore_run(const char *from, const char *data,
		   struct px_backup_stats *st, struct px_errbuf *eb);

/* --- scrub ----------------------------------------------------------- */

struct px_scrub;

struct px_scrub_stats {
	uint64_t bytes, originals, passes, errors;
};

/*
 * Start a thread that re-reads and re-hashes every record's original at
 * no more than rate bytes per second on average (rate 0: no scrub; *out
 * is NULL), logging each mismatch or missing original by id and counting
 * it, and starting over after each full pass, at most once every
 * interval_s seconds (a small store is not re-read in a loop). Records marked corrupt are
 * skipped. Progress and findings are registered on metrics (may be NULL):
 * pictor_scrub_{read_bytes,originals,passes,findings}_total and
 * pictor_scrub_pass_progress_ratio; the registry must not be rendered
 * after px_scrub_stop(). The catalog must outlive the scrub.
 */
int px_scrub_start(struct px_catalog *cat, uint64_t rate, long interval_s,
		   struct px_metrics *metrics, struct px_scrub **out,
		   struct px_errbuf *eb);
void px_scrub_stop(struct px_scrub *s); /* accepts NULL */
/* Counters so far (zeros for NULL). */
void px_scrub_stats(struct px_scrub *s, struct px_scrub_stats *out);

#endif
