/*
 * fault.c - test-only fault injection for the stores' wrappers (see
 * fault.h).
 */
#include "core/fault.h"

void px_fault_arm(struct px_fault *f, int rc, unsigned after)
{
	pthread_mutex_lock(&f->lock);
	f->rc = rc;
	f->after = after;
	pthread_mutex_unlock(&f->lock);
}

int px_fault_take(struct px_fault *f)
{
	int rc = 0;

	pthread_mutex_lock(&f->lock);
	if (f->rc && f->after == 0) {
		rc = f->rc;
		f->rc = 0;
	}
	pthread_mutex_unlock(&f->lock);
	return rc;
}

void px_fault_count(struct px_fault *f)
{
	pthread_mutex_lock(&f->lock);
	if (f->rc && f->after > 0)
		f->after--;
	pthread_mutex_unlock(&f->lock);
}
