/*
 * paths.c - files found relative to the running binary.
 */
#include "core/paths.h"

#include <sys/stat.h>
#include <unistd.h>

int px_exe_dir(char *out, size_t n)
{
	char buf[4096];
	ssize_t len = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	char *slash;

	if (len <= 0)
		return PX_EIO;
	buf[len] = '\0';
	slash = strrchr(buf, '/');
	if (!slash)
		return PX_EIO;
	*slash = '\0';
	if ((size_t)snprintf(out, n, "%s", slash == buf ? "/" : buf) >= n)
		return PX_ETOOBIG;
	return 0;
}

int px_default_models(char *out, size_t n)
{
	static const char *const rel[] = {
		"models",		   /* checkout: ./pictor, ./models */
		"../share/pictor/models", /* installed under PREFIX */
		"../models",		   /* checkout: build-clang/pictor */
	};
	char dir[4096];
	struct stat st;
	int rc = px_exe_dir(dir, sizeof(dir));

	if (rc)
		return rc;
	for (size_t i = 0; i < PX_ARRAY_LEN(rel); i++) {
		if ((size_t)snprintf(out, n, "%s/%s", dir, rel[i]) >= n)
			return PX_ETOOBIG;
		if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
	}
	if ((size_t)snprintf(out, n, "%s/%s", dir, rel[1]) >= n)
		return PX_ETOOBIG;
	return 0;
}
