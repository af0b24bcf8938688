/*
 * catalog.h - image records and their original bytes, kept consistent.
 *
 * The catalog is the one place that writes to both stores. It owns the
 * ordering that makes a 2xx durable and a crash harmless:
 *   add:    blob put (durable) -> one kv transaction: record, time index,
 *           blob reference count -> commit.
 *   delete: one kv transaction removing record and index and dropping the
 *           reference -> commit -> blob removed when no record uses it.
 * A crash between the steps leaves at worst an unreferenced blob, which
 * px_catalog_recover() removes at start-up; never a record without its
 * blob. Per-digest locks keep a concurrent add and delete of the same
 * bytes from racing.
 *
 * The catalog owns persistent state: no module outside src/catalog/
 * reads or writes the stores (catalog/internal.h keeps them private);
 * everyone else calls the operations declared here, in variants.h,
 * hashlist.h, mih.h and maint.h. The stores themselves are opened once,
 * from the settings, by catalog/stores.h.
 *
 * The metadata store's whole key layout, by owner (keep it true: a new
 * prefix is added here first; docs/ARCHITECTURE.md points here).
 *
 *  catalog/catalog.c
 *   img/<id>                     -> record (JSON)
 *   ix/t/<16 hex µs>/<id>        -> "" (newest-first listing)
 *   blobref/<sha256>             -> reference count (decimal)
 *   mq/<status>/<16 hex µs>/<id> -> "" (review queue: pending, flagged
 *                                   and blocked images)
 *   job/<16 hex µs>/<id>         -> "" (classification still owed;
 *                                   exists exactly while pending)
 *   cdec/<sha256>                -> the last review decision on those
 *                                   bytes (px_catalog_content_decision)
 *  catalog/lease.c (claims on background work, lease.h)
 *   lease/job/<id>               -> "<node> <expiry µs>": the node
 *                                   classifying that pending image
 *   lease/outbox/<16 hex seq>    -> the same for a webhook event
 *   lease/rcj/<job id>           -> the same for the run of a
 *                                   re-classification job
 *  catalog/watch.c (only on a store several nodes share)
 *   plog/<16 hex seq>            -> an announced result-cache purge
 *                                   ("purge sha|variant <x>", "purge
 *                                   all"), the last 1000 kept
 *   plogseq                      -> the last purge's number (decimal)
 *  catalog/outbox.c (written in the transaction of the decision)
 *   outbox/<16 hex seq>          -> pending webhook event (JSON)
 *   deadletter/<16 hex seq>      -> event that ran out of attempts
 *   outboxseq                    -> the last sequence number given
 *  catalog/audit.c (written in the transaction of the change)
 *   audit/<16 hex µs>-<rand>     -> audit entry (JSON); kept after delete
 *   auditix/<id>/<entry id>      -> "" (an image's entries)
 *  catalog/mih.c
 *   pq/<k><chunk>                -> PDQ similarity index of images,
 *                                   written in the record's add/delete
 *                                   transaction (mih.h)
 *   mig/<index prefix>           -> generation of pq/ or hx/ (decimal),
 *                                   moved on by every change to it
 *  catalog/reclass.c
 *   rcj/<job id>                 -> re-classification job: filter,
 *                                   position and counts (reclass.h)
 *  catalog/variants.c
 *   var/<name>                   -> managed variant (variants.h)
 *  catalog/hashlist.c
 *   hl/<name>                    -> hash list (hashlist.h)
 *   hle/<name>/<hash 32 bytes>   -> "" (list membership)
 *   hx/<k><chunk>                -> the lists' multi-index (mih.h)
 *  access/tokens.c (its own owner, handed the kv store at start-up)
 *   tok/<token id>               -> API token (hash of the secret, scopes)
 *  ingest/drafts.c (its own owner, handed the kv store at start-up)
 *   draft/<id>                   -> direct-upload URL not yet used
 *   draftx/<16 hex µs>/<id>      -> "" (drafts by expiry, for the sweep)
 *  catalog/stats.c
 *   stat/n/<status>              -> images with that status (decimal),
 *                                   changed in the transaction that
 *                                   changes a status
 *   stat/h/<16 hex hour number>  -> images uploaded in that clock hour
 *                                   and still held, the same way
 *   stat/built                   -> "1" once the counts are complete
 *                                   (removed by fsck repairs: rebuilt)
 *  console/sessions.c (its own owner, handed the kv store at start-up)
 *   sess/<sha256 of the cookie>  -> admin console session (token id,
 *                                   CSRF token, expiry)
 *
 * The blob store holds one object per distinct original, named by the
 * lowercase hex SHA-256 of its bytes (store/blob.h); blobref/ counts the
 * records that use it. Only the catalog reads or writes it.
 */
#ifndef PX_CATALOG_H
#define PX_CATALOG_H

#include "core/buf.h"
#include "meta/kv.h"
#include "store/blob.h"

#define PX_ID_MAX 128

struct px_catalog;

/*
 * Who made a change, as the audit log records it: the API token's id and
 * a display name (a reviewer's stated name, the token's label). Callers
 * fill it from the authenticated request; NULL means Pictor itself
 * (px_actor_system: classification, recovery, retention).
 */
struct px_actor {
	char id[64];
	char name[128];
};
extern const struct px_actor px_actor_system;

/*
 * Faces found in an image, detected once (at upload, or by a
 * reclassify job for older images): boxes in pixels of the upright
 * original (EXIF orientation applied), top-left origin, with the
 * detector's score. known is false when no detection ran (no face
 * model, or not yet); known with n == 0 means none was found. Stored
 * as the record's "faces" array (catalog/faces.c).
 */
#define PX_FACES_MAX 32
struct px_rec_face {
	float x, y, w, h, score;
};
struct px_rec_faces {
	bool known;
	int n;
	struct px_rec_face a[PX_FACES_MAX];
};

/* The faces as a JSON array ([{"x","y","w","h","score"}], whole pixels
 * rounded outwards, scores to four places); NULL when !f->known. A new
 * reference. */
struct json_t;
struct json_t *px_rec_faces_json(const struct px_rec_faces *f);
/* Read such an array into f (known; at most PX_FACES_MAX, malformed
 * entries skipped); v NULL or not an array: f unknown. */
void px_rec_faces_parse(const struct json_t *v, struct px_rec_faces *f);

struct px_image_rec {
	char id[PX_ID_MAX + 1];
	char filename[256];
	int64_t uploaded_us; /* µs since the epoch */
	bool require_signed;
	char *meta; /* JSON object text, owned; "{}" when none */
	int width, height, frames;
	char format[16];
	bool alpha;
	uint64_t bytes;
	char sha256[PX_SHA256_HEX_LEN + 1];
	char status[16]; /* pending, approved, flagged, blocked */
	char *moderation; /* JSON object text or NULL: scores, model, rule */
	char *audit;      /* JSON array text or NULL: review decisions */
	char pdq[65];     /* PDQ hash (64 hex), "" when not computed; kept
			     in the similarity index (catalog/mih.h) */
	int pdq_quality;  /* 0-100 */
	bool original_deleted; /* a tombstone: blocked in async refuse mode,
				  its bytes removed, the record and audit kept */
	struct px_rec_faces faces;
};

/* Free rec->meta and zero the record. */
void px_image_rec_release(struct px_image_rec *rec);

/* True if id matches [A-Za-z0-9._~-]{1,128}. */
bool px_catalog_valid_id(const char *id);

/* Open over stores the caller keeps open for the catalog's lifetime. */
int px_catalog_new(struct px_blob_store *blobs, struct px_kv *kv,
		   struct px_catalog **out);
void px_catalog_free(struct px_catalog *c); /* accepts NULL */

/*
 * Store data and rec durably. rec->id empty: a UUIDv7 is generated into
 * it. rec->sha256, uploaded_us and bytes are filled in here. A "pending"
 * status also queues a classification job; event (may be NULL) goes to
 * the webhook outbox in the same transaction. PX_EEXIST if the id is
 * taken.
 */
int px_catalog_add(struct px_catalog *c, struct px_image_rec *rec,
		   const void *data, size_t n, const char *event,
		   const struct px_actor *who, struct px_errbuf *eb);

/* Read a record into rec (caller releases). PX_ENOTFOUND. */
int px_catalog_get(struct px_catalog *c, const char *id,
		   struct px_image_rec *rec, struct px_errbuf *eb);

/*
 * What delivery reads of a record on every request, without decoding its
 * metadata, moderation detail or audit trail. Decoded briefs are kept in
 * a memo keyed by the record's exact stored bytes (catalog/brief.h), so a
 * change to the record is seen by the next call. PX_ENOTFOUND.
 */
struct px_image_brief {
	char id[PX_ID_MAX + 1];
	char sha256[PX_SHA256_HEX_LEN + 1];
	char status[16];
	char format[16];
	int width, height, frames;
	bool alpha, require_signed;
	/* moderation looked at every frame (or recorded no frame count):
	 * the rule of px_moderation_frames_covered() */
	bool frames_covered;
	uint64_t bytes;
	struct px_rec_faces faces; /* for gravity=face and redact=faces */
};
int px_catalog_brief(struct px_catalog *c, const char *id,
		     struct px_image_brief *out, struct px_errbuf *eb);

/* Replace metadata (if meta non-NULL) and/or require_signed (if >= 0);
 * the updated record lands in rec. Audited as "metadata" and "signing"
 * (only what changed). PX_ENOTFOUND. */
int px_catalog_update(struct px_catalog *c, const char *id, const char *meta,
		      int require_signed, const struct px_actor *who,
		      struct px_image_rec *rec, struct px_errbuf *eb);

/* Remove a record and, when unused, its blob; the audit log keeps the
 * image's history and a "delete" entry. PX_ENOTFOUND. */
int px_catalog_delete(struct px_catalog *c, const char *id,
		      const struct px_actor *who, struct px_errbuf *eb);

/* The original bytes of a record, appended to out. */
int px_catalog_blob(struct px_catalog *c, const struct px_image_rec *rec,
		    struct px_buf *out, struct px_errbuf *eb);

typedef int (*px_catalog_list_fn)(void *ctx, const struct px_image_rec *rec);

/*
 * Newest first, at most limit records after the position in token (NULL or
 * "" for the start). The token of the next page goes into next (empty when
 * there is none). A token is stable while uploads happen: new images sort
 * before it. PX_EINVAL for a malformed token.
 */
int px_catalog_list(struct px_catalog *c, const char *token, int limit,
		    px_catalog_list_fn fn, void *ctx, char *next, size_t nnext,
		    struct px_errbuf *eb);

/* A moderation decision, for px_catalog_moderate. */
struct px_decision {
	const char *expect;      /* status the decider saw, or NULL */
	const char *expect_etag; /* the record's ETag the decider saw, or NULL */
	const char *status;      /* the new status */
	const char *moderation;  /* JSON object: replaces the record's, or NULL */
	const char *review;      /* JSON object: appended to the record's
				    audit array (a person's decision), or NULL */
	const char *event;       /* webhook outbox value, or NULL */
	const struct px_rec_faces *faces; /* replaces the record's faces
					     when known, or NULL */
	const struct px_actor *who; /* NULL: Pictor itself */
	bool drop_original;      /* remove the original bytes (when no other
				    record uses them); the record stays as a
				    tombstone (original_deleted) */
	bool leased;             /* the completion of the image's claimed
				    classification job (lease.h): refused
				    with PX_EBUSY "lease_lost" unless the
				    claim is still this node's */
	bool audit_if_changed;   /* audit only a change of status (a
				    re-judgement that confirms the status
				    updates the scores silently) */
	/* Called inside the decision's transaction once the record is
	 * written, for catalog files that keep state in step with it
	 * (reclass.c); nonzero aborts the whole decision. May be NULL. */
	int (*hook)(struct px_kv_txn *txn, void *ctx, struct px_errbuf *eb);
	void *hook_ctx;
	/* A PDQ hash (64 hex) for a record that has none, stored and put in
	 * the similarity index with the decision (images stored before
	 * uploads were hashed), or NULL. Ignored when the record has one. */
	const char *pdq;
	int pdq_quality;
};

/* As px_catalog_list, only records whose status is status (NULL: all). */
int px_catalog_list_status(struct px_catalog *c, const char *status,
			   const char *token, int limit, px_catalog_list_fn fn,
			   void *ctx, char *next, size_t nnext,
			   struct px_errbuf *eb);

/*
 * As px_catalog_list_status, only records whose id, filename or metadata
 * (its JSON text) contain search (ASCII letters without regard to case;
 * NULL or "": all). A page looks at no more than PX_CATALOG_SEARCH_SCAN
 * records that do not match: it may then hold fewer than limit (even
 * none) with a token in next that resumes the search.
 */
#define PX_CATALOG_SEARCH_SCAN 10000
/* Another bound (0: the default), for tests. */
void px_catalog_set_search_scan(struct px_catalog *c, unsigned n);
int px_catalog_list_search(struct px_catalog *c, const char *status,
			   const char *search, const char *token, int limit,
			   px_catalog_list_fn fn, void *ctx, char *next,
			   size_t nnext, struct px_errbuf *eb);

/* Images by status, from counts the catalog keeps in the transaction of
 * every change (no record is read): total, the four statuses, and any
 * other (corrupt). */
struct px_catalog_counts {
	uint64_t total, approved, pending, flagged, blocked, other;
};
int px_catalog_counts(struct px_catalog *c, struct px_catalog_counts *out,
		      struct px_errbuf *eb);

/* Uploads of each of the n clock hours up to now_us, oldest first (the
 * last is the current hour), of the images still held: n counters kept
 * like the counts by status. */
int px_catalog_uploads_hourly(struct px_catalog *c, int64_t now_us, int n,
			      uint64_t *out, struct px_errbuf *eb);

/*
 * The same listing in either order (oldest_first: ascending upload time),
 * passing over the first offset entries after the token without reading
 * them (page-numbered listings). Appending uploads never moves an entry of
 * an oldest-first listing, so its pages stay stable while uploads happen.
 */
int px_catalog_list_ordered(struct px_catalog *c, bool oldest_first,
			    const char *token, uint64_t offset, int limit,
			    px_catalog_list_fn fn, void *ctx, char *next,
			    size_t nnext, struct px_errbuf *eb);

/* How many images the catalog holds (one pass over the time index). */
int px_catalog_count(struct px_catalog *c, uint64_t *n, struct px_errbuf *eb);

/*
 * Record a moderation decision in one transaction: set status and, when
 * given, the moderation object and a review entry; keep the review queue
 * in step; drop the image's classification job; queue the event in the
 * webhook outbox; append the audit log entry ("review" with a review,
 * else "verdict"). If d->expect or d->expect_etag is set and the record
 * no longer matches, nothing changes: PX_EBUSY with code "conflict"
 * (someone decided first). The updated record lands in rec (may be NULL).
 */
int px_catalog_moderate(struct px_catalog *c, const char *id,
			const struct px_decision *d, struct px_image_rec *rec,
			struct px_errbuf *eb);

/*
 * Decisions remembered by content: a review that approves or blocks an
 * image also records, in the same transaction, that decision for its
 * SHA-256 (kv "cdec/<sha256>"), so identical bytes uploaded later get the
 * same answer. The latest review of those bytes wins. PX_ENOTFOUND when
 * the bytes were never reviewed.
 */
struct px_content_decision {
	char decision[16];          /* "approved" or "blocked" */
	char image[PX_ID_MAX + 1];  /* the image the review was about */
	char by[128];               /* the reviewer */
	int64_t at_us;
};
int px_catalog_content_decision(struct px_catalog *c, const char *sha256,
				struct px_content_decision *out,
				struct px_errbuf *eb);

/* The record's ETag (a quoted string, for If-Match), into out. It changes
 * whenever anything on the record changes. */
#define PX_REC_ETAG_MAX 40
int px_catalog_etag(const struct px_image_rec *rec, char out[PX_REC_ETAG_MAX]);

/* Queue a webhook event on its own (a decision with no record to go
 * with, such as a refused upload). Durable when it returns 0. */
int px_catalog_notify(struct px_catalog *c, const char *event,
		      struct px_errbuf *eb);

/* Ids of images whose classification is owed, oldest first, at most
 * limit; fn returns nonzero to stop. */
int px_catalog_jobs(struct px_catalog *c, int limit,
		    int (*fn)(void *ctx, const char *id), void *ctx,
		    struct px_errbuf *eb);

/* How many classification jobs wait, and the upload time of the oldest
 * (µs; 0 when none). */
int px_catalog_jobs_stats(struct px_catalog *c, uint64_t *n, int64_t *oldest_us,
			  struct px_errbuf *eb);

/* The review queue for one status ("pending", "flagged", "blocked"),
 * oldest first, with the same token scheme as px_catalog_list. */
int px_catalog_queue(struct px_catalog *c, const char *status,
		     const char *token, int limit, px_catalog_list_fn fn,
		     void *ctx, char *next, size_t nnext, struct px_errbuf *eb);

/*
 * Audit log. Every catalog operation above appends its own entry in the
 * transaction that makes the change ("upload", "verdict", "review",
 * "metadata", "signing", "delete"). px_catalog_audit appends one more,
 * on its own, for changes made elsewhere (say, a signing key rotation);
 * image may be NULL, before/after are JSON texts or NULL, note may be
 * NULL. Durable when it returns 0.
 */
int px_catalog_audit(struct px_catalog *c, const char *image,
		     const char *action, const struct px_actor *who,
		     const char *before, const char *after, const char *note,
		     struct px_errbuf *eb);

/* Filters for px_catalog_audit_list; NULL or 0 for none. actor matches
 * the actor's id or name. */
struct px_audit_filter {
	const char *image;
	const char *actor;
	int64_t since_us;
};

/* fn receives each entry as a JSON object text; nonzero stops. */
typedef int (*px_catalog_audit_fn)(void *ctx, const char *json, size_t n);

/* Oldest first, at most limit entries after token (an entry id, NULL or
 * "" for the start); next receives the token of the next page (empty at
 * the end). PX_EINVAL for a malformed token. */
int px_catalog_audit_list(struct px_catalog *c, const struct px_audit_filter *f,
			  const char *token, int limit, px_catalog_audit_fn fn,
			  void *ctx, char *next, size_t nnext,
			  struct px_errbuf *eb);

/* Remove entries older than before_us (retention); count in *removed. */
int px_catalog_audit_prune(struct px_catalog *c, int64_t before_us,
			   unsigned *removed, struct px_errbuf *eb);

/*
 * The webhook outbox (see outbox.c for the layout). Events are queued by
 * the operations above in the transaction of the decision they report,
 * numbered in commit order. The sender reads and settles them here.
 */
struct px_outbox_event {
	uint64_t seq;         /* commit order, from 1, never reused */
	char id[32];          /* "evt_<16 hex seq>", stable */
	char image[PX_ID_MAX + 1]; /* the image it is about, or "" */
	int attempts;
	int64_t next_at_us;   /* not before (wall clock); 0: now */
	int64_t created_us;
	long last_status;     /* of the last attempt; 0: transport error */
	char *body;           /* the JSON POSTed (borrowed during fn); NULL
				 when not due by the scan's due_us */
};
typedef int (*px_outbox_fn)(void *ctx, const struct px_outbox_event *ev);

/* Pending events in commit order, at most limit; fn nonzero stops. The
 * body is decoded only for events due by due_us (0: all). */
int px_catalog_outbox_scan(struct px_catalog *c, int64_t due_us, int limit,
			   px_outbox_fn fn, void *ctx, struct px_errbuf *eb);
/* Delivered: remove it. */
int px_catalog_outbox_done(struct px_catalog *c, uint64_t seq,
			   struct px_errbuf *eb);
/* A failed attempt: store attempts, the next time and the status; dead
 * moves it to the dead letters. */
int px_catalog_outbox_failed(struct px_catalog *c, uint64_t seq, int attempts,
			     int64_t next_at_us, long status, bool dead,
			     struct px_errbuf *eb);
/* The outcome of attempts, recorded in one transaction (one durable
 * write per pass of the sender, however many events it tried). */
struct px_outbox_result {
	uint64_t seq;
	bool delivered;      /* remove it */
	bool dead;           /* else: move to the dead letters */
	int attempts;
	int64_t next_at_us;
	long status;
};
int px_catalog_outbox_settle(struct px_catalog *c,
			     const struct px_outbox_result *a, int n,
			     struct px_errbuf *eb);

/* Dead letters in sequence order, paged by event id. */
int px_catalog_dead_list(struct px_catalog *c, const char *token, int limit,
			 px_outbox_fn fn, void *ctx, char *next, size_t nnext,
			 struct px_errbuf *eb);
/* Put a dead letter back in the outbox, due now, attempts reset; same
 * seq and id. PX_ENOTFOUND ("not_found"). */
int px_catalog_dead_retry(struct px_catalog *c, const char *id,
			  struct px_errbuf *eb);

struct px_outbox_stats {
	uint64_t depth, dead;
	int64_t oldest_us; /* created time of the oldest pending; 0: none */
};
int px_catalog_outbox_stats(struct px_catalog *c, struct px_outbox_stats *st,
			    struct px_errbuf *eb);

/*
 * The original bytes with this SHA-256 (64 lowercase hex), appended to
 * out, whatever record uses them: delivery holds the digest, not the
 * record. PX_ENOTFOUND when absent; PX_EIO when the blob store
 * cannot be reached.
 */
int px_catalog_original(struct px_catalog *c, const char *sha256,
			struct px_buf *out, struct px_errbuf *eb);

/*
 * 0 when both stores can serve reads and writes. Otherwise the failing
 * store's name ("meta" or "blob") goes to *which and its error to eb.
 */
int px_catalog_health(struct px_catalog *c, const char **which,
		      struct px_errbuf *eb);

/* Start-up repair: remove interrupted blob writes and blobs no record
 * references. Counts go to *tmp_removed and *orphans_removed. */
int px_catalog_recover(struct px_catalog *c, unsigned *tmp_removed,
		       unsigned *orphans_removed, struct px_errbuf *eb);

#endif
