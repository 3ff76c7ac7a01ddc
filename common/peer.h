/*
 * peer.h: a long-running child's connection to qmgr (lspawn, resolve).
 *
 * master starts the child with fd 3, one end of a SOCK_STREAM socketpair
 * to qmgr, and fd 4, a control socket. When qmgr is restarted, the new end
 * arrives on fd 4 (SCM_RIGHTS, tag 'P') and replaces the old one; EOF on
 * fd 4 means master is gone, and the child exits 0 (docs/protocols.md,
 * "qmgr -> lspawn" and "qmgr -> resolve").
 *
 * The connection is non-blocking. Bytes in gather in `in` until a record
 * is whole; records out queue in `out`, bounded (a qmgr that does not read
 * is dropped rather than let it grow) and written when poll() allows. A
 * record of the wrong type or field count, EOF, or an error drops the
 * connection, logged: nothing half-understood is acted on, and the child
 * waits for the next connection on fd 4. gen changes with every
 * connection, so that an answer meant for one that is gone can be told
 * apart (and dropped: qmgr asks again on the new one).
 */
#ifndef POSTERN_PEER_H
#define POSTERN_PEER_H

#include <poll.h>
#include <stddef.h>

#include "buf.h"

#define PEER_FD		3	/* qmgr, as master starts the child */
#define PEER_CTL_FD	4	/* master's control socket */

struct peer {
	int		 fd;	/* -1 between connections */
	unsigned	 gen;	/* bumped whenever fd changes */
	struct buf	 in, out;
};

/* Take fd 3 when it is open (else wait for one on fd 4); fd 4 must be
 * open (fatal). out_max bounds the answers qmgr has not read. */
void	 peer_init(struct peer *, size_t out_max);
/* Close the connection, logging why; a no-op between connections. */
void	 peer_drop(struct peer *, const char *why);
/* Fill in a pollfd for the connection (fd -1 is ignored by poll()). */
void	 peer_pollfd(const struct peer *, struct pollfd *);
/* After poll(): write what is queued (POLLOUT), read what came (POLLIN,
 * POLLHUP, POLLERR). */
void	 peer_event(struct peer *, short revents);
/* Write what is queued, as far as the socket takes it. */
void	 peer_flush(struct peer *);
/* The next whole record from qmgr: 1 with its n fields in f (pointing
 * into payload; peer_consume(used) once it is handled), 0 when there is
 * none yet, -1 when it is not a record of this type with n fields (the
 * connection is dropped, and the log says which). */
int	 peer_next(struct peer *, int type, struct buf *payload,
	    const char **f, size_t n, size_t *used);
void	 peer_consume(struct peer *, size_t used);
/* fd 4 is readable: a new connection, or master gone (exit 0). */
void	 peer_control(struct peer *);

#endif
