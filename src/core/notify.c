/*
 * notify.c - sd_notify(3) through libsystemd; the only file that includes
 * a systemd header. libsystemd0 is on every Debian system with systemd,
 * and its sd_notify handles the details (abstract sockets, credentials)
 * that a hand-written datagram would have to get right.
 */
#include "core/notify.h"

#include <systemd/sd-daemon.h>

int px_notify(const char *state)
{
	int r = sd_notify(0, state);

	return r < 0 ? PX_EIO : r > 0 ? 1 : 0;
}
