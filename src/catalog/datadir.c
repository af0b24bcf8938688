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
		int err = errno, rc;
		char pid[24] = "";
		ssize_t got = pread(*fd, pid, sizeof(pid) - 1, 0);

		pid[got > 0 ? got : 0] = '\0';
		pid[strspn(pid, "0123456789")] = '\0';
		rc = err == EWOULDBLOCK
			     ? px_errf(eb, PX_EBUSY,
				       "data directory \"%s\" is in use by another pictor "
				       "process%s%s%s, the daemon or a tool that writes; "
				       "stop it first, or use another --data",
				       data, pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "")
			     : px_errf(eb, PX_EIO, "cannot lock \"%s\": %s",
				       data, strerror(err));

		close(*fd);
		*fd = -1;
		return rc;
	}
	/* The holder's pid, for the message above; the lock does not
	 * depend on it. */
	{
		char pid[24];
		int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());

		if (ftruncate(*fd, 0) == 0 && pwrite(*fd, pid, (size_t)n, 0) != n)
			pid[0] = '\0';
	}
	return 0;
}

void px_datadir_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}
