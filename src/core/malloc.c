/*
 * malloc.c - allocator settings (see malloc.h).
 */
#include "core/malloc.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

void px_malloc_tune(void)
{
#ifdef __GLIBC__
	mallopt(M_ARENA_MAX, 2);
	/* Setting the threshold also turns off its dynamic adjustment. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
}
