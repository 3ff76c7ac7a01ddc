/*
 * fdpass.c: passing an open descriptor over a Unix socket (SCM_RIGHTS).
 *
 * master hands a restarted peer's new socketpair end to the survivor (qmgr
 * or lspawn) with tag 'P', and each accepted connection to sessiond with
 * its framed record in the same datagram (fd_send_rec: one sendmsg, so a
 * record never arrives without its connection or the other way round). Errors are -1 with errno; a message that carries
 * no descriptor, or more than one, is EPROTO (extras are closed so none
 * leaks).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "fdpass.h"

int
fd_send_rec(int sock, int fd, const void *data, size_t len, int flags)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	ssize_t		 r;

	memset(&msg, 0, sizeof(msg));
	memset(&cbuf, 0, sizeof(cbuf));
	iov.iov_base = (void *)data;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (fd != -1) {
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = sizeof(cbuf.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
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
fd_recv_rec(int sock, void *data, size_t size, size_t *len)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * 4)];
	} cbuf;
	int		 fds[4], fd = -2, extra = 0;
	size_t		 i, n;
	ssize_t		 r;

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
		if (n > 4)
			n = 4;
		memcpy(fds, CMSG_DATA(cm), n * sizeof(int));
		for (i = 0; i < n; i++) {
			if (fd == -2)
				fd = fds[i];
			else {
				close(fds[i]);
				extra = 1;
			}
		}
	}
	*len = (size_t)r;
	if (extra || (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC))) {
		if (fd >= 0)
			close(fd);
		errno = EPROTO;
		return -1;
	}
	return fd;
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
