/*
 * connect.c: connect(2) bounded by a deadline (connect.h).
 *
 * Called by deliver/lmtp_client.c and deliver/remote_session.c. The socket
 * is non-blocking from the start: a host that drops SYNs costs
 * timeout_ms, not the kernel's two minutes; struct io polls it later.
 */
#include <sys/socket.h>
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "connect.h"
#include "io.h"

int
net_connect(const struct sockaddr *sa, socklen_t salen, int timeout_ms)
{
	long long deadline = io_now_ms() + timeout_ms, left;
	struct pollfd pfd;
	socklen_t elen = sizeof(int);
	int fd, err = 0, r;

	if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1)
		return -1;
	if (connect(fd, sa, salen) == 0)
		return fd;
	if (errno != EINPROGRESS && errno != EINTR)
		goto fail;
	for (;;) {
		if ((left = deadline - io_now_ms()) <= 0) {
			errno = ETIMEDOUT;
			goto fail;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		r = poll(&pfd, 1, (int)left);
		if (r == 1)
			break;
		if (r == -1 && errno != EINTR)
			goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == -1)
		goto fail;
	if (err != 0) {
		errno = err;
		goto fail;
	}
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}
