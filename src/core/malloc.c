/*
 * malloc.c - allocator settings (see malloc.h).
 */
#include "core/malloc.h"
#include "core/common.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

static bool tuned;

void px_malloc_tune(int arenas)
{
#ifdef __GLIBC__
	if (arenas <= 0)
		return;
	mallopt(M_ARENA_MAX, arenas);
	/* Setting the threshold also turns off its dynamic adjustment. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	tuned = true;
#else
	(void)arenas;
#endif
}

void px_malloc_trim(void)
{
#ifdef __GLIBC__
	if (tuned)
		malloc_trim(0);
#endif
}
