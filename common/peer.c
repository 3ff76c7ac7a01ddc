/*
 * peer.c: a long-running child's connection to qmgr (see peer.h).
 *
 * Called by lspawn and resolve, which own what the records mean; this
 * file owns the socket: framing, bounds, replacement and the log lines
 * that say why a connection ended.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdpass.h"
#include "frame.h"
#include "log.h"
#include "peer.h"
#include "spawner.h"

void
peer_init(struct peer *p, size_t out_max)
{
	p->fd = -1;
	p->gen = 0;
	buf_init(&p->in, FRAME_HDR + FRAME_MAX);
	buf_init(&p->out, out_max);
	/* fd 4 stays blocking: poll() says when a message is there, and
	 * fd_recv() must not see EAGAIN. */
	if (fcntl(PEER_CTL_FD, F_SETFD, FD_CLOEXEC) == -1)
		fatal("fd 4 (control socket from master) is not open");
	if (fcntl(PEER_FD, F_GETFD) != -1) {
		spawner_nonblock(PEER_FD);
		p->fd = PEER_FD;
	} else
		log_warn("fd 3 (qmgr) is not open; waiting for one on fd 4");
}

void
peer_drop(struct peer *p, const char *why)
{
	if (p->fd != -1) {
		log_warn("qmgr connection dropped: %s", why);
		close(p->fd);
	}
	p->fd = -1;
	p->gen++;
	buf_reset(&p->in);
	buf_reset(&p->out);
}

void
peer_pollfd(const struct peer *p, struct pollfd *pfd)
{
	pfd->fd = p->fd;
	pfd->events = POLLIN | (p->out.len > 0 ? POLLOUT : 0);
	pfd->revents = 0;
}

void
peer_flush(struct peer *p)
{
	ssize_t n;

	while (p->fd != -1 && p->out.len > 0) {
		n = write(p->fd, p->out.data, p->out.len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;	/* poll() waits for POLLOUT */
			peer_drop(p, strerror(errno));
			return;
		}
		buf_consume(&p->out, (size_t)n);
	}
}

static void
peer_read(struct peer *p)
{
	char b[16384];
	ssize_t n;

	n = read(p->fd, b, sizeof(b));
	if (n == -1) {
		if (errno != EINTR && errno != EAGAIN)
			peer_drop(p, strerror(errno));
		return;
	}
	if (n == 0) {
		peer_drop(p, "qmgr closed the connection");
		return;
	}
	if (buf_add(&p->in, b, (size_t)n) == -1)
		peer_drop(p, "record too long");
}

void
peer_event(struct peer *p, short revents)
{
	if (p->fd == -1 || revents == 0)
		return;
	if (revents & POLLOUT)
		peer_flush(p);
	if (p->fd != -1 && (revents & (POLLIN | POLLHUP | POLLERR)))
		peer_read(p);
}

int
peer_next(struct peer *p, int type, struct buf *payload, const char **f,
    size_t n, size_t *used)
{
	const unsigned char	*u = (const unsigned char *)p->in.data;
	const char		*pl;
	char			 why[64];
	size_t			 plen;
	int			 t, r;

	if (p->fd == -1 || p->in.len == 0)
		return 0;
	/* Refused from its header: never buffered up to its end. */
	if (p->in.len >= FRAME_HDR && ((size_t)u[1] << 24 |
	    (size_t)u[2] << 16 | (size_t)u[3] << 8 | u[4]) > FRAME_MAX) {
		peer_drop(p, "record too long");
		return -1;
	}
	r = frame_parse(p->in.data, p->in.len, &t, &pl, &plen, used);
	if (r == 0)
		return 0;
	if (r == -1 || t != type) {
		peer_drop(p, "unexpected record type");
		return -1;
	}
	if (buf_set(payload, pl, plen) == -1 ||
	    frame_fields(payload, f, n) == -1) {
		snprintf(why, sizeof(why), "malformed %c record (not %zu "
		    "fields)", type, n);
		peer_drop(p, why);
		return -1;
	}
	return 1;
}

void
peer_consume(struct peer *p, size_t used)
{
	/* A reply that failed may have dropped the connection, and its
	 * buffer with it. */
	if (p->fd != -1)
		buf_consume(&p->in, used);
}

void
peer_control(struct peer *p)
{
	int fd;

	/* master's new end for us (tag 'P'), non-blocking; EOF exits. */
	if ((fd = spawner_control(PEER_CTL_FD)) == -1)
		return;
	if (p->fd != -1)
		peer_drop(p, "replaced by a new qmgr socket");
	p->fd = fd;
	p->gen++;
	log_info("new qmgr connection");
}
