/*
 * handoff.c: sessiond, the process that forks every session's smtpd and
 * enqueue without exec (sessiond/sessiond.c), seen from master.
 *
 * master starts it like lspawn and qmgr (fork_quiet, exec, restart with
 * child_schedule()'s backoff) with fd 3 = one end of a SOCK_SEQPACKET
 * socketpair, and makes it a process group leader so that stopping can
 * signal every session at once. master keeps accepting: the limits, the
 * session cap and the 421s are decided here before anything is handed
 * over. Each admitted connection goes to sessiond as one datagram: the
 * frame 'S' (id, kind, client address, uid) with the connection as
 * SCM_RIGHTS (docs/protocols.md, "master <-> sessiond"). The session is
 * counted under its id until sessiond sends 'X' with that id.
 *
 * When sessiond is not running (restarting after a crash) the caller
 * falls back to exec'ing the pair as before: a session is never refused
 * because sessiond is down. When its socket is full, the caller keeps the
 * connection until there is room (session.c), listeners paused. When sessiond exits, the
 * sessions it had forked are forgotten (their slots released): they run on
 * to their end, unsupervised, and master cannot signal them any more.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bsd/string.h>
#include <bsd/unistd.h>

#include "buf.h"
#include "fdpass.h"
#include "frame.h"
#include "fork.h"
#include "log.h"
#include "master.h"

#define REC_MAX		(FRAME_HDR + 64)	/* an 'X' record */

void
sessiond_start(struct master *m)
{
	struct kid	*c = &m->sd;
	char		*argv[] = { (char *)"sessiond", (char *)"-c",
	    m->confdir, NULL };
	int		 ctl[2];
	pid_t		 pid;

	c->restart_ms = 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) ==
	    -1) {
		log_warn_errno("socketpair for sessiond");
		child_schedule(m, c, 0);
		return;
	}
	if ((pid = fork_quiet()) == 0) {
		child_place_fds(&ctl[1], 1);
		child_devnull(1, 1);
		closefrom(4);
		(void)setpgid(0, 0);
		child_exec(m, "sessiond", argv);
	}
	close(ctl[1]);
	if (pid == -1) {
		log_warn_errno("fork sessiond");
		close(ctl[0]);
		child_schedule(m, c, 0);
		return;
	}
	/* Both sides set the group, so a signal to it never races. */
	(void)setpgid(pid, pid);
	if (fcntl(ctl[0], F_SETFL, O_NONBLOCK) == -1)
		log_warn_errno("fcntl");
	c->pid = pid;
	c->ctl = ctl[0];
	c->started_once = 1;
	c->started_ms = now_ms();
	log_info("started sessiond (pid %ld)", (long)pid);
}

/* Forget the sessions of a sessiond that is gone. */
static void
sessiond_forget(struct master *m)
{
	size_t	 i, n = 0;

	for (i = 0; i < m->nsess; ) {
		if (m->sess[i].id == 0) {
			i++;
			continue;
		}
		limits_release(m->sess[i].slot);
		m->sess[i] = m->sess[--m->nsess];
		n++;
	}
	if (n > 0 && !m->stopping)
		log_warn("sessiond gone: %zu session(s) it forked run on "
		    "unsupervised", n);
}

void
sessiond_exited(struct master *m, int status)
{
	struct kid	*c = &m->sd;
	char		 how[96];

	status_text(status, how, sizeof(how));
	log_info("sessiond (pid %ld) exited: %s", (long)c->pid, how);
	/* 'X' records still queued are read first: those sessions ended. */
	if (c->ctl != -1)
		sessiond_read(m);
	c->pid = 0;
	if (c->ctl != -1)
		close(c->ctl);
	c->ctl = -1;
	sessiond_forget(m);
	if (!m->stopping)
		child_schedule(m, c, now_ms() - c->started_ms);
}

int
sessiond_handoff(struct master *m, int conn, const char *ip,
    const char *kind, int slot, const char *uid)
{
	struct buf	 rec = BUF_INIT;
	struct session	*v;
	char		 id[24];
	size_t		 cap;
	int		 r, e;

	if (m->sd.pid <= 0 || m->sd.ctl == -1) {
		errno = ESRCH;
		return -1;
	}
	if (m->nsess == m->capsess) {
		cap = m->capsess == 0 ? 16 : m->capsess * 2;
		if ((v = reallocarray(m->sess, cap, sizeof(*v))) == NULL)
			return -1;
		m->sess = v;
		m->capsess = cap;
	}
	if (++m->next_id == 0)
		m->next_id = 1;
	snprintf(id, sizeof(id), "%lu", m->next_id);
	r = frame_put_fields(&rec, 'S', id, kind, uid != NULL ? "" : ip,
	    uid != NULL ? uid : "", NULL);
	if (r == 0)
		r = fd_send_rec(m->sd.ctl, conn, rec.data, rec.len,
		    MSG_DONTWAIT);
	if (r == -1) {
		e = errno;
		if (e != EAGAIN && e != EWOULDBLOCK)
			log_warn_errno("handing a session from %s to sessiond",
			    ip);
		buf_free(&rec);
		errno = e == EWOULDBLOCK ? EAGAIN : e;
		return -1;
	}
	buf_free(&rec);
	close(conn);
	m->sess[m->nsess].smtpd = 0;
	m->sess[m->nsess].enqueue = 0;
	m->sess[m->nsess].id = m->next_id;
	m->sess[m->nsess].slot = slot;
	m->nsess++;
	return 0;
}

void
sessiond_read(struct master *m)
{
	struct buf	 pay = BUF_INIT;
	char		 rec[REC_MAX];
	const char	*f[1];
	unsigned long	 id;
	size_t		 len, i;
	int		 fd;

	for (;;) {
		fd = fd_recv_rec(m->sd.ctl, rec, sizeof(rec), &len);
		if (fd == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn_errno("reading from sessiond");
			break;
		}
		if (fd >= 0) {		/* sessiond never sends one */
			close(fd);
			continue;
		}
		if (len == 0) {		/* EOF: its exit is reaped */
			close(m->sd.ctl);
			m->sd.ctl = -1;
			break;
		}
		if (frame_datagram(rec, len, 'X', &pay, f, 1) == -1) {
			log_warn("a bad record from sessiond: ignored");
			continue;
		}
		id = strtoul(f[0], NULL, 10);
		for (i = 0; i < m->nsess; i++)
			if (m->sess[i].id != 0 && m->sess[i].id == id) {
				limits_release(m->sess[i].slot);
				m->sess[i] = m->sess[--m->nsess];
				break;
			}
	}
	buf_free(&pay);
}
