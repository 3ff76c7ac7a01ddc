/*
 * local.c: the local submission socket, sendmail(8)'s way in.
 *
 * local_open() binds a Unix stream socket at local_submit_socket (default
 * SPOOL/submit) with mode 0666: any local user may connect, which is the
 * point. A stale socket left by an earlier master is removed first;
 * anything else at that path is an error (we never unlink a file we did
 * not make). The socket is a listener of kind "local" in master's poll
 * loop.
 *
 * local_accept(): for each connection, the kernel says who is at the other
 * end (SO_PEERCRED: the uid of the process that called connect()); that
 * uid, and nothing the client says, is handed to enqueue as "-u UID", and
 * smtpd gets "-l local". A client whose credentials cannot be read is
 * closed. Local sessions count against smtpd_max_sessions, not against the
 * per-address limits (there is no address).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bsd/string.h>

#include "log.h"
#include "submit.h"
#include "master.h"

#define LOCAL_BACKLOG	64
#define ACCEPT_BURST	32

void
local_open(struct master *m)
{
	struct sockaddr_un sun;
	struct stat	 st;
	struct listener	*v;
	char		 path[PATH_MAX];
	int		 fd;
	mode_t		 old;

	if (submit_socket_path(m->conf, path, sizeof(path)) == -1)
		fatal("local_submit_socket: path too long for a Unix socket");
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			fatal("%s exists and is not a socket: not removed",
			    path);
		if (unlink(path) == -1)
			fatal_errno("unlink %s", path);
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		fatal_errno("local submission socket");
	/* Made 0666 from the start: no moment with other permissions. */
	old = umask(0);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal_errno("bind %s", path);
	umask(old);
	if (chmod(path, 0666) == -1)
		fatal_errno("chmod %s", path);
	if (listen(fd, LOCAL_BACKLOG) == -1)
		fatal_errno("listen on %s", path);
	if ((v = reallocarray(m->lfd, m->nlfd + 1, sizeof(*v))) == NULL)
		fatal_errno("reallocarray");
	m->lfd = v;
	m->lfd[m->nlfd].fd = fd;
	m->lfd[m->nlfd].kind = "local";
	m->nlfd++;
	strlcpy(m->local_path, path, sizeof(m->local_path));
	if (m->listen_text[0] != '\0')
		strlcat(m->listen_text, ", ", sizeof(m->listen_text));
	strlcat(m->listen_text, path, sizeof(m->listen_text));
	strlcat(m->listen_text, " (local)", sizeof(m->listen_text));
}

void
local_accept(struct master *m, const struct listener *l)
{
	static const char busy[] = "421 4.3.2 Error: too many sessions, "
	    "try again later\r\n";
	struct ucred	 cred;
	socklen_t	 cl;
	char		 uid[32];
	int		 conn, i;

	for (i = 0; i < ACCEPT_BURST; i++) {
		conn = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
		if (conn == -1) {
			accept_failed(m, m->local_path);
			return;
		}
		cl = sizeof(cred);
		if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &cl) ==
		    -1 || cl != sizeof(cred)) {
			log_warn_errno("SO_PEERCRED on %s", m->local_path);
			close(conn);
			continue;
		}
		snprintf(uid, sizeof(uid), "%lu", (unsigned long)cred.uid);
		if (m->nsess >= (size_t)m->conf->smtpd_max_sessions) {
			log_warn("too many sessions (%d): refused local uid %s",
			    m->conf->smtpd_max_sessions, uid);
			(void)!send(conn, busy, strlen(busy), MSG_DONTWAIT |
			    MSG_NOSIGNAL);
			close(conn);
			continue;
		}
		session_start(m, conn, "local", l->kind, -1, uid);
	}
}
