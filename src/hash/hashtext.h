/*
 * hashtext.h - the text forms hash lists are imported in.
 *
 * One hash a line, either bare hex or a CSV/TSV row (the output of
 * Meta's pdq-photo-hasher, a ThreatExchange export, a spreadsheet): the
 * hash is the first field of exactly 64 hex digits. Fields are separated
 * by commas, semicolons, tabs or spaces and may be double-quoted. Blank
 * lines and lines starting with '#' are skipped; a first line without a
 * hash is a header and skipped too. Any later line without one is an
 * error naming the line, so a wrong file is refused rather than half
 * imported. CRLF line ends are accepted.
 */
#ifndef PX_HASHTEXT_H
#define PX_HASHTEXT_H

#include "hash/pdq.h"

/* fn receives each hash and its 1-based line number; a nonzero return
 * stops the parse and is returned. */
typedef int (*px_hashtext_fn)(void *ctx, const struct px_pdq *h, int line);

/* Parse n bytes of text (need not be NUL-terminated). Errors:
 * "invalid_hash_list" (PX_EINVAL) with the line number. */
int px_hashtext_parse(const char *text, size_t n, px_hashtext_fn fn,
		      void *ctx, struct px_errbuf *eb);

#endif
