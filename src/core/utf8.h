/*
 * utf8.h - UTF-8 checks for text that ends up in JSON: names clients
 * give (filenames), cut to a byte limit without splitting a character.
 */
#ifndef PX_UTF8_H
#define PX_UTF8_H

#include "core/common.h"

/* Is s[0..n) well-formed UTF-8 (no overlong forms, surrogates, code
 * points past U+10FFFF, stray or missing continuation bytes)? */
bool px_utf8_valid(const char *s, size_t n);

/* The longest prefix of s[0..n), at most max bytes, that does not end
 * inside a character (s is assumed well-formed). */
size_t px_utf8_cut(const char *s, size_t n, size_t max);

/* Copy s into out (size nout > 0), cut on a character boundary;
 * PX_EINVAL (out then empty) if s is not well-formed UTF-8. Returns
 * PX_ETOOBIG, the copy made, when s had to be cut. */
int px_utf8_copy(char *out, size_t nout, const char *s);

#endif
