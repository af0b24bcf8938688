/*
 * audit.h - the catalog's append-only audit log, inside the catalog.
 *
 * Only the catalog's own files include this one: the log is written in the same kv
 * transaction as the change it records, so no change is committed without
 * its entry and no entry describes a change that was rolled back. Others
 * use the px_catalog_audit*() operations in catalog.h.
 */
#ifndef PX_CATALOG_AUDIT_H
#define PX_CATALOG_AUDIT_H

#include "catalog/catalog.h"

/* One entry. before/after are JSON texts or NULL; note may be NULL. */
struct px_audit_change {
	const char *image;
	const char *action; /* "upload", "verdict", "review", ... */
	const struct px_actor *who; /* NULL: px_actor_system */
	const char *before, *after;
	const char *note;
};

/* Append ch to the log inside txn (a write transaction). */
int px_audit_put(struct px_kv_txn *txn, const struct px_audit_change *ch,
		 struct px_errbuf *eb);

#endif
