/*
 * malloc.h - allocator settings for a long-running daemon.
 *
 * glibc's malloc gives each thread that contends an arena of its own (up
 * to 8 per core) and raises its mmap threshold after every large free, so
 * the multi-megabyte buffers of decoding and encoding end up carved out of
 * many heaps that fragment and are never returned: RSS creeps for hours.
 * Two arenas and a fixed 128 KiB threshold (large buffers are mmapped and
 * given back whole on free) keep it flat; docs/TESTING.md has the numbers.
 */
#ifndef PX_MALLOC_H
#define PX_MALLOC_H

/* Apply the settings; call before any thread starts. A no-op off glibc. */
void px_malloc_tune(void);

#endif
