/*
 * fdpass.c: passing an open descriptor over a Unix socket (SCM_RIGHTS).
 *
 * master hands a restarted peer's new socketpair end to the survivor (qmgr
 * or lspawn) with tag 'P', and each accepted connection to sessiond with
 * its framed record in the same datagram (fd_send_rec: one sendmsg, so a
 * record never arrives without its connection or the other way round),
 * and a session's connection and enqueue link to a reused smtpd
 * (fd_send_fds, two at once). Errors are -1 with errno; a message that
 * carries more descriptors than the receiver takes is EPROTO (all are
 * closed so none leaks).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "fdpass.h"

int
fd_send_fds(int sock, const int *fds, size_t nfds, const void *data,
    size_t len, int flags)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * FD_PASS_MAX)];
	} cbuf;
	ssize_t		 r;

	if (nfds > FD_PASS_MAX) {
		errno = EINVAL;
		return -1;
	}
	memset(&msg, 0, sizeof(msg));
	memset(&cbuf, 0, sizeof(cbuf));
	iov.iov_base = (void *)data;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (nfds > 0) {
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	do
		r = sendmsg(sock, &msg, MSG_NOSIGNAL | flags);
	while (r == -1 && errno == EINTR);
	if (r == -1)
		return -1;
	if ((size_t)r != len) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

int
fd_send_rec(int sock, int fd, const void *data, size_t len, int flags)
{
	return fd_send_fds(sock, &fd, fd == -1 ? 0 : 1, data, len, flags);
}

int
fd_recv_fds(int sock, void *data, size_t size, size_t *len, int *fds,
    size_t nfds)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * FD_PASS_MAX)];
	} cbuf;
	int		 got[FD_PASS_MAX];
	size_t		 i, n, have = 0;
	ssize_t		 r;
	int		 bad = 0;

	for (i = 0; i < nfds; i++)
		fds[i] = -1;
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = data;
	iov.iov_len = size;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf.buf;
	msg.msg_controllen = sizeof(cbuf.buf);
	do
		r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (r == -1 && errno == EINTR);
	if (r == -1)
		return -1;
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (n > FD_PASS_MAX)
			n = FD_PASS_MAX;
		memcpy(got, CMSG_DATA(cm), n * sizeof(int));
		for (i = 0; i < n; i++) {
			if (have < nfds)
				fds[have++] = got[i];
			else {
				close(got[i]);
				bad = 1;
			}
		}
	}
	*len = (size_t)r;
	if (bad || (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC))) {
		for (i = 0; i < have; i++)
			close(fds[i]);
		for (i = 0; i < nfds; i++)
			fds[i] = -1;
		errno = EPROTO;
		return -1;
	}
	return (int)have;
}

int
fd_recv_rec(int sock, void *data, size_t size, size_t *len)
{
	int	 fd;

	if (fd_recv_fds(sock, data, size, len, &fd, 1) == -1)
		return -1;
	return fd == -1 ? -2 : fd;
}

/* The one-byte messages of master's control sockets: the tag says what the
 * descriptor is ('P', a new peer). Linux needs a byte of data with it. */
int
fd_send(int sock, int fd, char tag)
{
	return fd_send_rec(sock, fd, &tag, 1, 0);
}

int
fd_recv(int sock, char *tag)
{
	size_t	 len;
	int	 fd;

	if ((fd = fd_recv_rec(sock, tag, 1, &len)) == -1)
		return -1;
	if (fd == -2 && len == 0)
		return -2;			/* EOF */
	if (fd == -2 || len != 1) {		/* no descriptor with it */
		if (fd >= 0)
			close(fd);
		errno = EPROTO;
		return -1;
	}
	return fd;
}
