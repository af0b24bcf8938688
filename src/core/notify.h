/*
 * notify.h - readiness and status for the service manager (systemd's
 * sd_notify protocol): READY=1 once the daemon listens, RELOADING=1 /
 * READY=1 around a SIGHUP reload, STOPPING=1 when the drain begins.
 * Without $NOTIFY_SOCKET (not started by systemd) every call is a no-op.
 */
#ifndef PX_NOTIFY_H
#define PX_NOTIFY_H

#include "core/common.h"

/* Send state (e.g. "READY=1\nSTATUS=listening") to the service manager.
 * Returns 1 when sent, 0 when there is no manager to tell, PX_EIO when
 * sending failed (never fatal for the caller). */
int px_notify(const char *state);

#endif
