/*
 * t_file.h - a data file read whole into a px_buf, for the unit tests
 * that read photos, hashes or model files (kept apart from t.h, which
 * needs nothing of the project).
 */
#ifndef PX_T_FILE_H
#define PX_T_FILE_H

#include "core/buf.h"

/* b (initialised here) gets the bytes of path. -1 when it cannot be
 * opened (said on stderr), else px_buf_add's result. */
static inline int t_load(const char *path, struct px_buf *b)
{
	unsigned char chunk[65536];
	size_t got;
	FILE *f;
	int rc = 0;

	px_buf_init(b, 0);
	if (!(f = fopen(path, "rb"))) {
		fprintf(stderr, "cannot open \"%s\"\n", path);
		return -1;
	}
	while (!rc && (got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = px_buf_add(b, chunk, got);
	fclose(f);
	return rc;
}

#endif
