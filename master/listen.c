/*
 * listen.c: bind every item of smtpd_listen, submission_listen (RFC 6409)
 * and smtps_listen (RFC 8314 implicit TLS); each socket remembers its kind,
 * which smtpd is told with -l. An empty list is no listener of that kind;
 * smtps_listen needs tls_cert_file (conf.c refuses the file otherwise).
 *
 * An item is "addr:port" or "[v6addr]:port"; items are separated by blanks
 * or commas. Addresses are numeric (no DNS at start-up: a listener must not
 * depend on the resolver). Each socket gets SO_REUSEADDR (a restart must not
 * wait for TIME_WAIT), IPV6_V6ONLY for v6 (so "[::]:25" and "0.0.0.0:25"
 * can both be listed), O_NONBLOCK (a client that resets between poll and
 * accept must not block the loop) and O_CLOEXEC (children get only what
 * they are given). Any failure is fatal and names the address: master
 * without a listener has no job.
 *
 * The backlog is smtpd_max_sessions, at least LISTEN_BACKLOG (the kernel
 * caps it at net.core.somaxconn), as Postfix sizes its own by the process
 * limit: a burst of as many clients as may be served at once must fit in
 * the accept queue. When it overflows, Linux drops the client's ACK (and,
 * with SYN cookies, forgets the connection), and an SMTP client, which
 * waits for the server to speak first, sits on a connection that never
 * gets a greeting. Fixed until a restart, like the listeners.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bsd/string.h>

#include "log.h"
#include "master.h"

#define LISTEN_BACKLOG	256
#define LISTEN_SEP	" \t,"

/* Split "addr:port" / "[addr]:port" in place. 0 or -1. */
static int
listen_split(char *item, char **host, char **port)
{
	char	*p;

	if (item[0] == '[') {
		if ((p = strchr(item, ']')) == NULL || p[1] != ':')
			return -1;
		*p = '\0';
		*host = item + 1;
		*port = p + 2;
	} else {
		if ((p = strrchr(item, ':')) == NULL)
			return -1;
		*p = '\0';
		*host = item;
		*port = p + 1;
	}
	return **host == '\0' || **port == '\0' ? -1 : 0;
}

static int
listen_bind(const char *item, const char *host, const char *port,
    int backlog)
{
	struct addrinfo	 hints, *ai;
	int		 fd, on = 1, e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	if ((e = getaddrinfo(host, port, &hints, &ai)) != 0)
		fatal("listen on %s: %s", item, gai_strerror(e));
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1)
		fatal_errno("listen on %s: socket", item);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		fatal_errno("listen on %s: SO_REUSEADDR", item);
	if (ai->ai_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1)
		fatal_errno("listen on %s: IPV6_V6ONLY", item);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1)
		fatal_errno("listen on %s: bind", item);
	if (listen(fd, backlog) == -1)
		fatal_errno("listen on %s", item);
	freeaddrinfo(ai);
	return fd;
}

/* Bind every item of list (the value of key), as listeners of kind. */
static void
listen_list(struct master *m, const char *key, const char *list_in,
    const char *kind)
{
	char	 list[1024], item[128];
	char	*tok, *save = NULL, *host, *port;
	struct listener *v;

	strlcpy(list, list_in, sizeof(list));
	for (tok = strtok_r(list, LISTEN_SEP, &save); tok != NULL;
	    tok = strtok_r(NULL, LISTEN_SEP, &save)) {
		strlcpy(item, tok, sizeof(item));
		if (strlen(tok) >= sizeof(item) ||
		    listen_split(item, &host, &port) == -1)
			fatal("%s: bad item \"%s\" (want addr:port "
			    "or [v6addr]:port)", key, tok);
		if ((v = reallocarray(m->lfd, m->nlfd + 1, sizeof(*v))) ==
		    NULL)
			fatal_errno("reallocarray");
		m->lfd = v;
		m->lfd[m->nlfd].fd = listen_bind(tok, host, port,
		    m->conf->smtpd_max_sessions > LISTEN_BACKLOG ?
		    m->conf->smtpd_max_sessions : LISTEN_BACKLOG);
		m->lfd[m->nlfd].kind = kind;
		m->nlfd++;
		if (m->listen_text[0] != '\0')
			strlcat(m->listen_text, ", ", sizeof(m->listen_text));
		strlcat(m->listen_text, tok, sizeof(m->listen_text));
		if (strcmp(kind, "smtp") != 0) {
			strlcat(m->listen_text, " (", sizeof(m->listen_text));
			strlcat(m->listen_text, kind, sizeof(m->listen_text));
			strlcat(m->listen_text, ")", sizeof(m->listen_text));
		}
	}
}

void
listen_open(struct master *m)
{
	const struct conf *c = m->conf;

	strlcpy(m->listen, c->smtpd_listen, sizeof(m->listen));
	strlcpy(m->listen_sub, c->submission_listen, sizeof(m->listen_sub));
	strlcpy(m->listen_smtps, c->smtps_listen, sizeof(m->listen_smtps));
	listen_list(m, "smtpd_listen", m->listen, "smtp");
	listen_list(m, "submission_listen", m->listen_sub, "submission");
	listen_list(m, "smtps_listen", m->listen_smtps, "smtps");
	if (m->nlfd == 0)
		fatal("smtpd_listen, submission_listen and smtps_listen are "
		    "empty: nothing to listen on");
	local_open(m);		/* local.c: sendmail's socket */
}

void
listen_close(struct master *m)
{
	size_t	 i;

	for (i = 0; i < m->nlfd; i++)
		close(m->lfd[i].fd);
	m->nlfd = 0;
}
