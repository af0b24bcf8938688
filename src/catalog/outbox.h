/*
 * outbox.h - the webhook outbox inside the catalog (catalog files only).
 *
 * px_outbox_put() is called by catalog operations inside the transaction
 * that makes the change the event reports. Everyone else uses the
 * px_catalog_outbox_*() operations of catalog.h.
 */
#ifndef PX_CATALOG_OUTBOX_H
#define PX_CATALOG_OUTBOX_H

#include "catalog/catalog.h"

/* Queue event (a px_webhook_wrap() value) inside txn, giving it the next
 * sequence number and its event id. */
int px_outbox_put(struct px_kv_txn *txn, const char *event,
		  struct px_errbuf *eb);

#endif
