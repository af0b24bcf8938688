/*
 * suggest.c - nearest-word suggestions (optimal string alignment
 * distance, the Damerau-Levenshtein variant git's help.c also uses).
 */
#include "core/suggest.h"

#include <ctype.h>
#include <strings.h>

#define MAXW 64

int px_edit_distance(const char *a, const char *b)
{
	int d[MAXW + 1][MAXW + 1];
	size_t n = strlen(a), m = strlen(b);

	if (n > MAXW || m > MAXW)
		return 1000;
	for (size_t i = 0; i <= n; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= n; i++) {
		for (size_t j = 1; j <= m; j++) {
			int ca = tolower((unsigned char)a[i - 1]);
			int cb = tolower((unsigned char)b[j - 1]);
			int v = d[i - 1][j - 1] + (ca != cb);

			v = PX_MIN(v, d[i - 1][j] + 1);
			v = PX_MIN(v, d[i][j - 1] + 1);
			if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == cb)
				v = PX_MIN(v, d[i - 2][j - 2] + 1);
			d[i][j] = v;
		}
	}
	return d[n][m];
}

const char *px_suggest(const char *word, const char *const *cands, size_t n)
{
	size_t len = strlen(word);
	int limit = len <= 4 ? 1 : len <= 8 ? 2 : (int)(len / 3);
	const char *best = NULL;
	int bestd = limit + 1;

	for (size_t i = 0; i < n; i++) {
		int dist;

		if (!cands[i])
			continue;
		dist = px_edit_distance(word, cands[i]);
		if (dist < bestd) {
			bestd = dist;
			best = cands[i];
		}
	}
	if (best || len < 3)
		return best;
	/* A unique prefix ("--max-upload" for "--max-upload-bytes"). */
	for (size_t i = 0; i < n; i++) {
		if (!cands[i] || strncasecmp(cands[i], word, len))
			continue;
		if (best)
			return NULL;
		best = cands[i];
	}
	return best;
}
