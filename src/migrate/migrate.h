/*
 * migrate.h - copy one installation's stores into another pair of stores
 * (`pictor migrate`): typically the embedded data directory (files +
 * LMDB) into S3 + PostgreSQL, but any pair of blob and metadata backends.
 *
 * The copy is below the key layout: every original the source blob store
 * lists, byte for byte, and every key of the metadata store with its value
 * exactly, through the px_blob_* and px_kv_* operations only, so it needs
 * no knowledge of which module owns which key, and a new backend is
 * migrated to or from with no change here.
 *
 * Order and restart: originals first, then keys in key order, in write
 * transactions of `batch` keys. An original is written create-only and
 * read back and hashed before it counts; a key already in the target with
 * the same value is left alone. So a run interrupted anywhere (SIGKILL
 * included) is finished by running it again: nothing is copied twice,
 * nothing is lost, and a record never reaches the target before its
 * original. A target key holding a different value is a conflict: it is
 * reported and never overwritten. Finally every source key is compared
 * with the target's.
 */
#ifndef PX_MIGRATE_H
#define PX_MIGRATE_H

#include "catalog/stores.h"

struct px_migrate_stats {
	uint64_t originals, original_bytes; /* in the source */
	uint64_t copied, copied_bytes;      /* originals written now */
	uint64_t present, present_bytes;    /* already in the target */
	uint64_t damaged;   /* source originals whose bytes do not match */
	uint64_t keys, key_bytes;           /* in the source (key + value) */
	uint64_t keys_copied, keys_present;
	uint64_t conflicts; /* target keys with another value (left alone) */
	uint64_t extra;     /* target keys the source lacks (left alone) */
	uint64_t mismatched; /* keys the final comparison found different */
	double seconds;
};

/* One line of progress or one finding: kind is a stable word
 * ("copied", "present", "damaged", "committed", "conflict",
 * "mismatch", "progress"); what names the original or key (printable
 * form), or the phase ("originals", "keys") for "progress". */
typedef void (*px_migrate_fn)(void *ctx, const char *kind, const char *what,
			      const char *detail);

struct px_migrate_opts {
	unsigned batch;  /* keys per write transaction (0: 512) */
	unsigned jobs;   /* originals copied at once (0: 1; at most 64);
			  * report() is then called from several threads */
	double rate;     /* at most this many operations (an original
			  * copied or checked, a batch of keys) per
			  * second; 0: no limit */
	int64_t progress_us; /* a "progress" report this often (0: none) */
	px_migrate_fn report; /* may be NULL */
	void *ctx;
};

/*
 * Copy from into to as described above. Returns 0 when the copy ran to
 * the end (then the target is complete exactly when st->damaged,
 * st->conflicts and st->mismatched are all 0), a negative px_err when it
 * could not (a store failed; running again resumes).
 */
int px_migrate_run(const struct px_stores *from, const struct px_stores *to,
		   const struct px_migrate_opts *opts,
		   struct px_migrate_stats *st, struct px_errbuf *eb);

/* `pictor migrate` (migrate_cli.c). */
int px_migrate_cli(int argc, char **argv);

#endif
