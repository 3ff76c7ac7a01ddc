/*
 * fdpass.h: handing an open file descriptor to another process over a Unix
 * socket (SCM_RIGHTS). master uses it to reconnect qmgr and lspawn when one
 * of them is restarted, so the survivor keeps running, to hand each
 * accepted connection to sessiond with its record (fd_send_rec), and a
 * session to a reused smtpd (fd_send_fds).
 */
#ifndef POSTERN_FDPASS_H
#define POSTERN_FDPASS_H

#include <stddef.h>

/* Send fd with one byte tag. 0 or -1. */
int	 fd_send(int sock, int fd, char tag);
/* Receive: the fd, -1 on error, or -2 on EOF. *tag set. */
int	 fd_recv(int sock, char *tag);
/* One datagram (SOCK_SEQPACKET) carrying len bytes and fd (-1: none).
 * 0 or -1 with errno; flags go to sendmsg (MSG_DONTWAIT). */
int	 fd_send_rec(int sock, int fd, const void *data, size_t len,
	    int flags);
/* Receive one datagram into data (at most size bytes; *len set) and the
 * fd it carried (CLOEXEC), or -2 when it carried none. -1 on error (a
 * truncated datagram or more than one fd: EPROTO), 0 bytes is EOF. */
int	 fd_recv_rec(int sock, void *data, size_t size, size_t *len);

#define FD_PASS_MAX	4	/* descriptors in one datagram, at most */
/* The same with up to nfds descriptors (at most FD_PASS_MAX). Receive:
 * how many came (fds[] filled in order, -1 after them), or -1 (EPROTO:
 * more than nfds, all closed); 0 bytes with none is EOF. */
int	 fd_send_fds(int sock, const int *fds, size_t nfds, const void *data,
	    size_t len, int flags);
int	 fd_recv_fds(int sock, void *data, size_t size, size_t *len, int *fds,
	    size_t nfds);

#endif
