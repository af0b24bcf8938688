/*
 * assets.h - the admin console's files, embedded in the binary.
 *
 * The table is generated at build time by scripts/embed-assets.c from
 * every file directly under src/console/assets/ (the Makefile rule writes
 * $(BUILD)/gen/console_assets.c). Each entry holds the bytes as they are
 * and a `gzip -9n` copy. The table ends with an entry whose name is NULL;
 * it may hold no other entry (a build without assets).
 */
#ifndef PX_CONSOLE_ASSETS_H
#define PX_CONSOLE_ASSETS_H

#include <stddef.h>

struct px_console_asset {
	const char *name; /* "index.html" */
	const unsigned char *data;
	size_t n;
	const unsigned char *gz;
	size_t ngz;
};

extern const struct px_console_asset px_console_assets[];
extern const size_t px_console_assets_n;

#endif
