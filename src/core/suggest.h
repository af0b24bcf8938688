/*
 * suggest.h - "did you mean ...?": the nearest of a set of known words.
 *
 * Used wherever a user-typed name is checked against a fixed vocabulary:
 * command-line flags and commands, configuration keys, environment
 * variables, URL options.
 */
#ifndef PX_SUGGEST_H
#define PX_SUGGEST_H

#include "core/common.h"

/* Edit distance between a and b (insertions, deletions, substitutions
 * and transpositions of neighbours, each costing 1; ASCII case ignored).
 * Words longer than 64 bytes compare as far apart. */
int px_edit_distance(const char *a, const char *b);

/*
 * The candidate nearest to word, or NULL when none is near enough to be
 * a plausible typo (distance at most 1 for words of up to 4 letters, 2 up
 * to 8, else a third of the length); failing that, the one candidate that
 * word (3 letters or more) is a prefix of. cands holds n strings (NULL entries
 * are skipped); the result points into it.
 */
const char *px_suggest(const char *word, const char *const *cands, size_t n);

#endif
