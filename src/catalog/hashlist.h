/*
 * hashlist.h - lists of known PDQ hashes and what an upload matching one
 * gets (block or flag), kept in the metadata store.
 *
 * This file owns the keys below; everyone else goes through these
 * operations.
 *
 *   hl/<name>             -> the list (JSON: name, action, threshold,
 *                            created_us, count)
 *   hle/<name>/<hash 32B> -> "" (membership, for listing and deletion)
 *   hx/...                -> the multi-index over every list's hashes
 *                            (mih.h), tag = list name
 *
 * Matching (px_hashlist_match) checks an upload's hash in all eight
 * orientations against every list, each list with its own threshold;
 * hashes of quality under PX_PDQ_MIN_QUALITY are never matched.
 */
#ifndef PX_HASHLIST_H
#define PX_HASHLIST_H

#include "catalog/catalog.h"
#include "catalog/mih.h"

#define PX_HASHLIST_NAME_MAX 64
#define PX_HASHLIST_THRESHOLD_MAX 63

enum px_hl_action {
	PX_HL_FLAG = 1,
	PX_HL_BLOCK = 2, /* ordered: the stronger action is larger */
};

struct px_hashlist {
	char name[PX_HASHLIST_NAME_MAX + 1];
	enum px_hl_action action;
	int threshold; /* 0..PX_HASHLIST_THRESHOLD_MAX, default 31 */
	int64_t created_us;
	uint64_t count;
};

/* "block"/"flag" and back; parse returns 0 for an unknown name. */
const char *px_hl_action_name(enum px_hl_action a);
enum px_hl_action px_hl_action_parse(const char *z);

/* True if name matches [A-Za-z0-9._-]{1,64}. */
bool px_hashlist_valid_name(const char *name);

/* Create an empty list. "already_exists" (PX_EEXIST), "invalid_request"
 * (PX_EINVAL) for a bad name, action or threshold. created_us and count
 * are filled in. */
int px_hashlist_create(struct px_catalog *c, struct px_hashlist *l,
		       struct px_errbuf *eb);

/* One list. "not_found" (PX_ENOTFOUND). */
int px_hashlist_get(struct px_catalog *c, const char *name,
		    struct px_hashlist *l, struct px_errbuf *eb);

/* Every list in name order. */
int px_hashlist_list(struct px_catalog *c,
		     int (*fn)(void *ctx, const struct px_hashlist *l),
		     void *ctx, struct px_errbuf *eb);

/* Add n hashes in one transaction; duplicates are skipped. *added gets
 * the number new to the list; l (may be NULL) the updated list. */
int px_hashlist_add(struct px_catalog *c, const char *name,
		    const struct px_pdq *h, size_t n, size_t *added,
		    struct px_hashlist *l, struct px_errbuf *eb);

/* Remove a list and all its hashes. "not_found" (PX_ENOTFOUND). */
int px_hashlist_delete(struct px_catalog *c, const char *name,
		       struct px_errbuf *eb);

/* The strongest match of an upload: the list with the strongest action
 * and, among those, the nearest hash. */
struct px_hashlist_hit {
	char list[PX_HASHLIST_NAME_MAX + 1];
	enum px_hl_action action; /* 0: no match */
	int distance;
	enum px_pdq_dih orientation; /* which of the upload's variants */
	char hash[PX_PDQ_HEX_LEN + 1]; /* the list's hash that matched */
};

/* hit->action is 0 when nothing matched (or quality is too low). */
int px_hashlist_match(struct px_catalog *c, const struct px_pdq_result *r,
		      struct px_hashlist_hit *hit, struct px_errbuf *eb);

/* The orientation's name: "original", "rotate90", ... */
const char *px_pdq_dih_name(enum px_pdq_dih d);

#endif
