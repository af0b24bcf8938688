/*
 * lease.h - expiring claims on background work, so that several nodes
 * sharing one metadata store do each piece of it once.
 *
 * Three kinds of work are claimed: an image's classification job, one
 * webhook outbox event, and the run of a re-classification job
 * (px_reclass_claim, reclass.h). A claim is a kv write transaction that
 * finds the work still owed and no unexpired claim by another node, and
 * records
 *   lease/job/<id>              -> "<node id> <expiry, wall-clock µs>"
 *   lease/outbox/<16 hex seq>   -> the same
 *   lease/rcj/<job id>          -> the same
 * A node renews the claims it holds every third of the lease length, so a
 * live node keeps its work however long it takes; a node that dies (even
 * by SIGKILL) stops renewing, and once the expiry passes any other node
 * may take the work over. Completion (the verdict, the settled event)
 * happens only while the claim is still this node's, in the transaction
 * that removes it: work is finished at most once, and started again only
 * after its holder went silent for a whole lease.
 *
 * Leases are on when the metadata store is shared (px_kv_shared: the
 * PostgreSQL backend). With LMDB one process owns the store, claims would
 * only cost writes, and every operation here answers "yours" at once.
 * Expiries are wall-clock times: nodes' clocks must agree to well within
 * a lease (NTP), docs/ARCHITECTURE.md says so.
 */
#ifndef PX_CATALOG_LEASE_H
#define PX_CATALOG_LEASE_H

#include "catalog/catalog.h"

#define PX_LEASE_DEFAULT_US (30 * 1000000LL)

/* Lease length ttl_us (0: PX_LEASE_DEFAULT_US). on: 1 writes claims, 0
 * does not, -1 keeps the default (px_kv_shared of the catalog's store);
 * call before any claim. */
void px_catalog_lease_config(struct px_catalog *c, int on, int64_t ttl_us);

/* This process's node id in claims ("<host>-<pid>-<8 hex>"). */
const char *px_catalog_node(struct px_catalog *c);

/*
 * Claim the classification job of image id (0: it is this node's now, or
 * leases are off), PX_EBUSY when another node's claim has not expired,
 * PX_ENOTFOUND when the image is no longer pending. Completion is a
 * px_catalog_moderate() with d->leased set.
 */
int px_catalog_job_claim(struct px_catalog *c, const char *id,
			 struct px_errbuf *eb);

/* The same for outbox event seq (PX_ENOTFOUND: settled meanwhile).
 * Completion is px_catalog_outbox_settle(), which skips events whose
 * claim was lost. */
int px_catalog_outbox_claim(struct px_catalog *c, uint64_t seq,
			    struct px_errbuf *eb);

/* Give a job's claim back unfinished (stop renewing it and remove it if
 * it is still this node's). A no-op for a claim not held. */
void px_catalog_job_release(struct px_catalog *c, const char *id);

struct px_lease_stats {
	uint64_t held;       /* claims this node holds now */
	uint64_t claimed;    /* claims made since start */
	uint64_t taken_over; /* of those, over another node's expired claim */
	uint64_t busy;       /* claims refused: another node holds the work */
	uint64_t lost;       /* claims found taken over at renewal or
				completion */
};
void px_catalog_lease_stats(struct px_catalog *c, struct px_lease_stats *st);

#endif
