/*
 * malloc.h - allocator settings for a long-running daemon.
 *
 * glibc's malloc gives each thread that contends an arena of its own (up
 * to 8 per core) and raises its mmap threshold after every large free, so
 * the multi-megabyte buffers of decoding and encoding end up carved out of
 * many heaps that fragment and are never returned: RSS creeps for hours.
 * Two arenas, a fixed 128 KiB threshold (large buffers are mmapped and
 * given back whole on free) and trimming (periodic, and when the
 * workers fall idle) keep it flat;
 * docs/TESTING.md has the numbers.
 */
#ifndef PX_MALLOC_H
#define PX_MALLOC_H

/* Apply the settings with at most arenas arenas (0: leave glibc's
 * defaults, and make px_malloc_trim a no-op); call before any thread
 * starts. A no-op off glibc. */
void px_malloc_tune(int arenas);

/* Give free memory at the top of the heaps and inside them back to the
 * kernel; the daemon calls it every few seconds from its main thread,
 * and the worker pool when its last job ends (at most once a second),
 * so RSS falls back after a burst of heavy renders. */
void px_malloc_trim(void);

#endif
