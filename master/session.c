/*
 * session.c: one SMTP connection = one smtpd + one enqueue, joined by a
 * socketpair that is made before either drops privilege.
 *
 * Each admitted connection goes to sessiond (handoff.c), which forks the
 * pair without exec; only while sessiond is not running does master fork
 * and exec the pair itself, as described here (the standalone programs'
 * contract, docs/protocols.md):
 *
 *   enqueue: fd 3 = pair[1]; fd 0/1 /dev/null; uid queue_user; cwd the
 *            spool; argv -a CLIENTIP (the address comes from the kernel via
 *            master, never from smtpd, which is exposed to the network)
 *   smtpd:   fd 0/1 = the connection, fd 3 = pair[0]; argv -l KIND (the
 *            listener: smtp, submission, smtps); starts as root and
 *            chroots and drops privilege itself once it has read the config
 *
 * A session is tracked by its two pids and ends when both have exited; it
 * counts against smtpd_max_sessions until then. Past the limit a client gets
 * one 421 line, written without blocking (best effort), and is closed: it
 * never costs a fork. The same goes for a client address past its own
 * limits (limits.c: smtpd_max_sessions_per_client at once,
 * smtpd_max_connections_per_minute). If the second fork fails, the first
 * half is killed.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bsd/string.h>
#include <bsd/unistd.h>

#include "fork.h"
#include "log.h"
#include "priv.h"
#include "master.h"

#define ACCEPT_BURST	32	/* accepts per wake-up, then back to poll */

/* The numeric client address; an IPv4-mapped IPv6 address as IPv4. */
static void
session_client_ip(const struct sockaddr_storage *ss, char *out, size_t n)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

	if (ss->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		if (inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], out,
		    (socklen_t)n) != NULL)
			return;
	} else if (ss->ss_family == AF_INET6) {
		if (inet_ntop(AF_INET6, &s6->sin6_addr, out, (socklen_t)n) !=
		    NULL)
			return;
	} else if (ss->ss_family == AF_INET) {
		if (inet_ntop(AF_INET, &s4->sin_addr, out, (socklen_t)n) !=
		    NULL)
			return;
	}
	strlcpy(out, "unknown", n);
}

/* One 421 line, written without blocking (best effort), and close. */
static void
session_refuse(struct master *m, int conn, const char *code,
    const char *what)
{
	char	 line[CONF_STR_MAX + 100];
	int	 n;

	n = snprintf(line, sizeof(line), "421 %s %s Error: %s\r\n",
	    code, m->conf->hostname, what);
	if (n > 0 && (size_t)n < sizeof(line))
		(void)!send(conn, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	close(conn);
}

static int
session_add(struct master *m, pid_t smtpd, pid_t enq, int slot)
{
	struct session	*v;
	size_t		 cap;

	if (m->nsess == m->capsess) {
		cap = m->capsess == 0 ? 16 : m->capsess * 2;
		if ((v = reallocarray(m->sess, cap, sizeof(*v))) == NULL)
			return -1;
		m->sess = v;
		m->capsess = cap;
	}
	m->sess[m->nsess].smtpd = smtpd;
	m->sess[m->nsess].enqueue = enq;
	m->sess[m->nsess].id = 0;
	m->sess[m->nsess].slot = slot;
	m->nsess++;
	return 0;
}

/* Fork the pair for conn. The connection and the pair are closed here;
 * the limits slot is released here unless a session now holds it. A local
 * submission (uid not NULL, local.c) gives enqueue -a "" -u UID. */
void
session_start(struct master *m, int conn, const char *ip, const char *kind,
    int slot, const char *uid)
{
	char	*eargv[] = { (char *)"enqueue", (char *)"-c", m->confdir,
	    (char *)"-a", (char *)(uid != NULL ? "" : ip), NULL, NULL, NULL };
	char	*sargv[] = { (char *)"smtpd", (char *)"-c", m->confdir,
	    (char *)"-l", (char *)kind, NULL };
	int	 pair[2];
	pid_t	 enq, smtpd = 0;

	/* The usual way: sessiond forks smtpd, no exec (handoff.c). */
	if (sessiond_handoff(m, conn, ip, kind, slot, uid) == 0)
		return;
	/* Its socket is full: a burst faster than it forks. The connection
	 * waits here and the listeners with it (their backlog holds the
	 * rest) until there is room, rather than run at an exec's price. */
	if (errno == EAGAIN && m->pend.conn == -1 &&
	    strlcpy(m->pend.ip, ip, sizeof(m->pend.ip)) < sizeof(m->pend.ip) &&
	    strlcpy(m->pend.kind, kind, sizeof(m->pend.kind)) <
	    sizeof(m->pend.kind) && strlcpy(m->pend.uid, uid != NULL ? uid :
	    "", sizeof(m->pend.uid)) < sizeof(m->pend.uid)) {
		m->pend.conn = conn;
		m->pend.slot = slot;
		m->pend.local = uid != NULL;
		return;
	}
	if (uid != NULL) {
		eargv[5] = (char *)"-u";
		eargv[6] = (char *)uid;
	}

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == -1) {
		log_warn_errno("socketpair for %s", ip);
		close(conn);
		limits_release(slot);
		return;
	}
	if ((enq = fork_quiet()) == 0) {
		child_place_fds(&pair[1], 1);
		child_devnull(1, 1);
		closefrom(4);
		if (priv_is_root())
			priv_drop(m->conf->queue_user, NULL);
		child_exec(m, "enqueue", eargv);
	}
	if (enq != -1 && (smtpd = fork_quiet()) == 0) {
		if (dup2(conn, STDIN_FILENO) == -1 ||
		    dup2(conn, STDOUT_FILENO) == -1)
			fatal_errno("dup2");
		child_place_fds(&pair[0], 1);
		closefrom(4);
		child_exec(m, "smtpd", sargv);
	}
	if (enq == -1 || smtpd == -1) {
		log_warn_errno("fork for a session from %s", ip);
		if (enq > 0)
			kill(enq, SIGTERM);
		smtpd = 0;
	}
	close(pair[0]);
	close(pair[1]);
	close(conn);
	if (enq <= 0)
		limits_release(slot);
	else if (session_add(m, smtpd, enq, slot) == -1) {
		/* Cannot track it: stop it, and reap it as unknown. */
		log_warn_errno("session table");
		limits_release(slot);
		kill(enq, SIGTERM);
		if (smtpd > 0)
			kill(smtpd, SIGTERM);
	}
	log_debug("session from %s: smtpd %ld, enqueue %ld", ip, (long)smtpd,
	    (long)enq);
}

int
accept_failed(struct master *m, const char *what)
{
	switch (errno) {
	case EAGAIN:
#if EAGAIN != EWOULDBLOCK
	case EWOULDBLOCK:
#endif
	case EINTR:
	case ECONNABORTED:
		return 1;
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
	case ENOMEM:
		/* The connection stays in the kernel's backlog and is
		 * served when the pause ends: nothing is lost. */
		if (m->accept_pause_ms == 0)
			log_warn_errno("%s: pausing new connections for %d ms",
			    what, ACCEPT_PAUSE_MS);
		m->accept_pause_ms = now_ms() + ACCEPT_PAUSE_MS;
		return 1;
	default:
		log_warn_errno("%s", what);
		return 1;
	}
}

/* sessiond's socket has room again, or sessiond is gone: the waiting
 * connection goes now (session_start() keeps it again if there is still
 * no room). */
void
session_pending(struct master *m)
{
	int	 conn = m->pend.conn;

	if (conn == -1)
		return;
	m->pend.conn = -1;
	session_start(m, conn, m->pend.ip, m->pend.kind, m->pend.slot,
	    m->pend.local ? m->pend.uid : NULL);
}

void
session_accept(struct master *m, const struct listener *l)
{
	struct sockaddr_storage ss;
	socklen_t	 sl;
	char		 ip[INET6_ADDRSTRLEN];
	int		 conn, i, slot;

	for (i = 0; i < ACCEPT_BURST && m->pend.conn == -1; i++) {
		sl = sizeof(ss);
		conn = accept4(l->fd, (struct sockaddr *)&ss, &sl,
		    SOCK_CLOEXEC);
		if (conn == -1) {
			accept_failed(m, "accept");
			return;
		}
		session_client_ip(&ss, ip, sizeof(ip));
		if (m->nsess >= (size_t)m->conf->smtpd_max_sessions) {
			log_warn("too many sessions (%d): refused %s",
			    m->conf->smtpd_max_sessions, ip);
			session_refuse(m, conn, "4.3.2",
			    "too many sessions, try again later");
			continue;
		}
		switch (limits_admit(m, &ss, &slot)) {
		case LIMITS_SESSIONS:
			log_warn("too many sessions from %s (%d at once): "
			    "refused", ip,
			    m->conf->smtpd_max_sessions_per_client);
			session_refuse(m, conn, "4.7.0",
			    "too many connections from your address");
			break;
		case LIMITS_RATE:
			log_warn("too many connections from %s (%d per "
			    "minute): refused", ip,
			    m->conf->smtpd_max_connections_per_minute);
			session_refuse(m, conn, "4.7.0", "too many "
			    "connections per minute from your address");
			break;
		case LIMITS_OK:
			session_start(m, conn, ip, l->kind, slot, NULL);
			break;
		}
	}
}

/* Cross off pid if it is half of a session: 1, else 0. */
int
session_reaped(struct master *m, pid_t pid, int status)
{
	struct session	*s;
	char		 how[96];
	size_t		 i;

	for (i = 0; i < m->nsess; i++) {
		s = &m->sess[i];
		if (s->id != 0 || (s->smtpd != pid && s->enqueue != pid))
			continue;
		if (!status_text(status, how, sizeof(how)) &&
		    WIFSIGNALED(status) && !m->stopping)
			log_warn("%s (pid %ld) ended: %s", s->smtpd == pid ?
			    "smtpd" : "enqueue", (long)pid, how);
		if (s->smtpd == pid)
			s->smtpd = 0;
		else
			s->enqueue = 0;
		if (s->smtpd == 0 && s->enqueue == 0) {
			limits_release(s->slot);
			m->sess[i] = m->sess[--m->nsess];
		}
		return 1;
	}
	return 0;
}

void
session_signal_all(struct master *m, int sig)
{
	size_t	 i;

	for (i = 0; i < m->nsess; i++) {
		if (m->sess[i].smtpd > 0)
			kill(m->sess[i].smtpd, sig);
		if (m->sess[i].enqueue > 0)
			kill(m->sess[i].enqueue, sig);
	}
}
