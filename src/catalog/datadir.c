/*
 * datadir.c - the lock that keeps a running daemon and an offline tool
 * that writes (fsck --repair, restore) off the same data directory.
 *
 * flock(2) on <data>/pictor.lock: the kernel releases it when the holder
 * exits, however it exits, so a crash never leaves a stale lock behind.
 * Backups take no lock: they only read, and are built to run beside the
 * daemon.
 */
#include "catalog/maint.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int px_datadir_lock(const char *data, int *fd, struct px_errbuf *eb)
{
	char path[4096];

	*fd = -1;
	if (mkdir(data, 0755) && errno != EEXIST)
		return px_errf(eb, PX_EIO, "cannot create \"%s\": %s", data,
			       strerror(errno));
	if ((size_t)snprintf(path, sizeof(path), "%s/pictor.lock", data) >=
	    sizeof(path))
		return px_errf(eb, PX_EINVAL, "data directory path too long");
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*fd < 0)
		return px_errf(eb, PX_EIO, "cannot open \"%s\": %s", path,
			       strerror(errno));
	if (flock(*fd, LOCK_EX | LOCK_NB)) {
		int rc = errno == EWOULDBLOCK
				 ? px_errf(eb, PX_EBUSY,
					   "\"%s\" is in use by another pictor "
					   "process (is the daemon running?)",
					   data)
				 : px_errf(eb, PX_EIO, "cannot lock \"%s\": %s",
					   data, strerror(errno));

		close(*fd);
		*fd = -1;
		return rc;
	}
	return 0;
}

void px_datadir_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}
