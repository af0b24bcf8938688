/*
 * test_notify.c - readiness reaches a service manager's socket, and is a
 * no-op without one.
 */
#include "core/notify.c"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "t.h"

static void run(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char buf[256];
	ssize_t n;
	int fd;

	T_CASE("no manager: nothing sent, no error") {
		unsetenv("NOTIFY_SOCKET");
		T_EQ(px_notify("READY=1"), 0);
	}
	T_CASE("READY=1 arrives as one datagram") {
		snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/pictor-notify-%d",
			 (int)getpid());
		unlink(sa.sun_path);
		fd = socket(AF_UNIX, SOCK_DGRAM, 0);
		T_OK(fd >= 0);
		T_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		setenv("NOTIFY_SOCKET", sa.sun_path, 1);
		T_EQ(px_notify("READY=1\nSTATUS=serving"), 1);
		n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		T_EQ(n, 22);
		buf[n > 0 ? n : 0] = '\0';
		T_STREQ(buf, "READY=1\nSTATUS=serving");
		/* sd_notify(0, ...) leaves the variable for later calls */
		T_EQ(px_notify("STOPPING=1"), 1);
		close(fd);
		unlink(sa.sun_path);
		unsetenv("NOTIFY_SOCKET");
	}
}
