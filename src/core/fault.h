/*
 * fault.h - test-only fault injection for the wrapper layers of the
 * stores (px_blob_put, px_kv_commit), as SQLite injects faults in one
 * place: a wrapper asks before calling its backend whether this call
 * fails, and counts the calls that went through.
 *
 * A fault is armed with an rc and a count: the call after `after` more
 * successful ones fails with rc. One shot: it disarms when it fires.
 * Thread-safe; a mutex is cheap next to the I/O the wrappers do.
 */
#ifndef PX_FAULT_H
#define PX_FAULT_H

#include "core/common.h"

#include <pthread.h>

struct px_fault {
	pthread_mutex_t lock;
	int rc; /* 0: disarmed */
	unsigned after;
};

#define PX_FAULT_INIT {PTHREAD_MUTEX_INITIALIZER, 0, 0}

/* Arm f (rc 0 disarms it). */
void px_fault_arm(struct px_fault *f, int rc, unsigned after);

/* The rc this call fails with (the fault then disarms), or 0 to let it
 * through. */
int px_fault_take(struct px_fault *f);

/* Count one successful call towards an armed fault. */
void px_fault_count(struct px_fault *f);

#endif
