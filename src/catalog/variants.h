/*
 * variants.h - managed variants: named option sets stored in the metadata
 * store, as Cloudflare Images' /variants API keeps them.
 *
 * kv layout: var/<name> -> {"id", "options": {...}, "text": "w=..,h=..",
 *                           "neverRequireSignedURLs": bool,
 *                           "devices": {"mobile": {...}, ...},
 *                           "deviceText": {"mobile": "w=..", ...}}
 * A device override's text is the options merged with the override (the
 * API computes it); delivery picks it by the request's device class.
 * Changes take effect at once: delivery reads the store on each request.
 * These operations are the only readers and writers of var/.
 */
#ifndef PX_VARIANTS_H
#define PX_VARIANTS_H

#include "catalog/catalog.h"

#define PX_VARIANTS_MAX 100
#define PX_VARIANT_NAME_MAX 99

#define PX_VARIANT_DEVICES 3 /* mobile, tablet, desktop */

struct px_variant_device {
	char name[16];   /* the device class */
	char text[1024]; /* the merged options as an option string */
};

struct px_variant {
	char name[PX_VARIANT_NAME_MAX + 1];
	char text[1024];   /* the options as an option string */
	char *options_json; /* the options object as given (owned) */
	bool never_require_signed;
	/* Hotlink rule of the variant: GLOBAL follows --hotlink-allow and
	 * --hotlink-require-referer, OFF allows any Referer, OWN applies
	 * hotlink_allow (a HOST,*.HOST list; "": any site) and
	 * hotlink_require_referer instead. */
	enum { PX_VARIANT_HOTLINK_GLOBAL = 0, PX_VARIANT_HOTLINK_OFF,
	       PX_VARIANT_HOTLINK_OWN } hotlink;
	char hotlink_allow[1024];
	bool hotlink_require_referer;
	char *devices_json; /* the "devices" object as given (owned; NULL: none) */
	struct px_variant_device device[PX_VARIANT_DEVICES];
	int ndevice;
};

/* The option string for a device class: its override's text, else the
 * variant's (borrowed from v). */
const char *px_variant_text_for(const struct px_variant *v, const char *device);

void px_variant_release(struct px_variant *v);

/* True for [A-Za-z0-9_-]{1,99} that is not an option string. */
bool px_variant_valid_name(const char *name);

/* Read one; PX_ENOTFOUND. */
int px_catalog_variant_get(struct px_catalog *c, const char *name, struct px_variant *v,
		   struct px_errbuf *eb);

/* Create (create = true: PX_EEXIST if present, PX_ETOOBIG past
 * PX_VARIANTS_MAX) or replace (create = false: PX_ENOTFOUND if absent). */
int px_catalog_variant_put(struct px_catalog *c, const struct px_variant *v,
			   bool create, struct px_errbuf *eb);

/* PX_ENOTFOUND if absent. */
int px_catalog_variant_del(struct px_catalog *c, const char *name,
			   struct px_errbuf *eb);

/* Every variant in name order; fn returns nonzero to stop. */
int px_catalog_variant_list(struct px_catalog *c,
			    int (*fn)(void *ctx, const struct px_variant *v),
			    void *ctx, struct px_errbuf *eb);

#endif
