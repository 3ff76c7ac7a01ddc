/*
 * smtpd_run.c: one SMTP session, from the privilege drop to the last
 * reply; the whole of smtpd once its arguments and config are read.
 *
 * Called by smtpd.c's main() (the standalone program master execs when
 * sessiond is not running, or a developer drives by hand) and by
 * sessiond's session child (sessiond/sessiond.c), forked without exec.
 * Either way the caller has loaded the config, the TLS context
 * (starttls_init(), as root: the key is root's file) and the time zone
 * (for syslog(); there is no zoneinfo in the chroot), and placed the fds:
 * 0/1 the client, 2 stderr, 3 the enqueue socketpair, nothing else.
 * smtpd_run() then chroots and drops to smtpd_user before it reads a byte
 * from the client (priv_drop()), and returns the exit code.
 * smtpd_session() is the session itself, also run once per connection by
 * a reused smtpd (smtpd_serve.c), which drops privilege once before its
 * first.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bsd/string.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "priv.h"
#include "smtpd.h"

/* Past this many bytes of unsent replies, send them even if more
 * pipelined commands are waiting: a client that never reads must not make
 * us buffer without end. */
#define SMTPD_OUT_HIGH	(16 * 1024)

/* The client's address as a bare numeric string; "unknown" when fd 0 is
 * not an IP socket (a developer driving smtpd through a pipe). */
static void
peer_address(char *out, size_t outsz)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_in sin;
	socklen_t len = sizeof(ss);

	strlcpy(out, "unknown", outsz);
	if (getpeername(0, (struct sockaddr *)&ss, &len) == -1 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
		return;
	/* An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d;
	 * log it as the IPv4 address it is. */
	if (ss.ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		memcpy(&sin.sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
		memcpy(&ss, &sin, sizeof(sin));
		len = sizeof(sin);
	}
	if (getnameinfo((struct sockaddr *)&ss, len, out, outsz, NULL, 0,
	    NI_NUMERICHOST) != 0)
		strlcpy(out, "unknown", outsz);
}

/*
 * The next command. RFC 2920 (PIPELINING): replies wait in the output
 * buffer while more complete commands are already buffered, and go out
 * before we block reading, so a pipelined burst gets its replies in one
 * write. -1: the session is over (EOF, error, or timeout, answered here).
 */
static int
read_command(struct session *s, struct smtpd_cmd *cmd)
{
	size_t	 limit = (size_t)s->conf->smtpd_command_line_limit;
	int	 r;

	if ((s->cin.in.len == 0 ||
	    memchr(s->cin.in.data, '\n', s->cin.in.len) == NULL ||
	    s->cout.out.len > SMTPD_OUT_HIGH) && io_flush(&s->cout) == -1) {
		log_info("lost connection after %s from [%s]", s->last, s->ip);
		return -1;
	}
	/* RFC 5321 4.5.3.1.4: 512 octets with the CRLF. */
	r = io_getline(&s->cin, &s->line, limit);
	switch (r) {
	case IO_LINE_OK:
		break;
	case IO_LINE_LONG:
		cmd->verb = VERB_LONG;
		cmd->name = "";
		cmd->args = "";
		return 0;
	case IO_LINE_ERR:
		if (errno == ETIMEDOUT) {
			reply_close(s, "4.4.2", "timeout exceeded");
			return -1;
		}
		/* FALLTHROUGH */
	default:		/* EOF, at or inside a line */
		log_info("lost connection after %s from [%s]", s->last, s->ip);
		return -1;
	}
	if ((cmd->verb = cmd_line_check(&s->line)) != VERB_UNKNOWN) {
		cmd->name = "";
		cmd->args = "";
		return 0;
	}
	cmd_parse(s->line.data, cmd);
	if (cmd->name[0] != '\0')
		s->last = cmd->name;
	return 0;
}

/* The session: the greeting, then one command at a time. */
static void
session_run(struct session *s)
{
	struct smtpd_cmd cmd;

	if (starttls_pregreet(s) == -1) {
		io_flush(&s->cout);	/* the 554, if any */
		return;
	}
	reply(s, "220 %s ESMTP Postern", s->conf->hostname);
	while (!s->quit && read_command(s, &cmd) == 0) {
		switch (cmd.verb) {
		case VERB_HELO:
			smtpd_helo(s, &cmd, 0);
			break;
		case VERB_EHLO:
			smtpd_helo(s, &cmd, 1);
			break;
		case VERB_MAIL:
			smtpd_mail(s, &cmd);
			break;
		case VERB_RCPT:
			smtpd_rcpt(s, &cmd);
			break;
		case VERB_DATA:
			smtpd_data(s, &cmd);
			break;
		case VERB_RSET:
			smtpd_rset(s, &cmd);
			break;
		case VERB_QUIT:
			smtpd_quit(s, &cmd);
			break;
		case VERB_NOOP:
			reply(s, "250 2.0.0 Ok");
			break;
		case VERB_VRFY:
			/* RFC 2821 7.3, RFC 5321 3.5.3: never 250 for a
			 * name we did not look up. */
			reply(s, "252 2.5.2 Cannot VRFY user, but will "
			    "accept message and attempt delivery");
			break;
		case VERB_EXPN:
			reply(s, "502 5.5.1 EXPN not available");
			break;
		case VERB_HELP:
			reply(s, "214 2.0.0 See "
			    "https://www.rfc-editor.org/rfc/rfc5321");
			break;
		case VERB_STARTTLS:
			smtpd_starttls(s, &cmd);
			break;
		case VERB_AUTH:
			smtpd_auth(s, &cmd);
			break;
		case VERB_BDAT:		/* RFC 3030 */
			smtpd_bdat(s, &cmd);
			break;
		case VERB_SEND:
		case VERB_SAML:
		case VERB_SOML:
		case VERB_TURN:
			/* RFC 2821 F.1, F.6: obsolete, never offered. */
			reply(s, "502 5.5.1 Error: command not implemented");
			break;
		case VERB_LONG:
			reply(s, "500 5.5.2 Error: line too long");
			break;
		case VERB_NUL:
			reply(s, "500 5.5.2 Error: NUL in command");
			break;
		case VERB_EMPTY:
		case VERB_BADCR:
			reply(s, "500 5.5.2 Error: bad syntax");
			break;
		case VERB_UNKNOWN:
			reply(s, "500 5.5.2 Error: command not recognized");
			break;
		}
	}
	/* The last replies (221, 421) go out before we close. */
	io_flush(&s->cout);
}

int
smtpd_listener(const char *name, enum listener *l)
{
	if (strcmp(name, "smtp") == 0)
		*l = LISTEN_SMTP;
	else if (strcmp(name, "submission") == 0)
		*l = LISTEN_SUBMISSION;
	else if (strcmp(name, "smtps") == 0)
		*l = LISTEN_SMTPS;
	else if (strcmp(name, "local") == 0)
		*l = LISTEN_LOCAL;
	else
		return -1;
	return 0;
}

/* The client's address for the logs and enqueue: master's string, as
 * sessiond was given it (asking the socket again cost a forked child a
 * syscall and the pages of libc it ran), "local" for a local submission,
 * or the socket's own when there is neither. */
void
smtpd_client_ip(enum listener listener, const char *client, char *ip,
    size_t ipsz)
{
	if (listener == LISTEN_LOCAL)
		strlcpy(ip, "local", ipsz);
	else if (client != NULL && client[0] != '\0')
		strlcpy(ip, client, ipsz);
	else
		peer_address(ip, ipsz);
}

int
smtpd_session(struct conf *conf, enum listener listener, const char *ip,
    int again)
{
	struct session	 s;
	int		 code;

	session_init(&s, conf, ip);
	s.listener = listener;
	log_info("connect from [%s]", s.ip);
	session_run(&s);
	starttls_end(&s);
	log_info("disconnect from [%s]", s.ip);
	code = s.exit_code;
	/* A process that serves another session after this one wipes this
	 * one first: its buffers (AUTH secrets, message text) and the
	 * struct (sender, AUTH user). One that ends does not: wiping only
	 * copied sessiond's pages (copy-on-write) to clear them. */
	if (again) {
		session_free(&s);
		explicit_bzero(&s, sizeof(s));
	}
	return code;
}

int
smtpd_run(struct conf *conf, enum listener listener, const char *client)
{
	char		 ip[64];

	if (fcntl(3, F_GETFD) == -1)
		fatal("fd 3 (the enqueue socketpair) is not open");
	smtpd_client_ip(listener, client, ip, sizeof(ip));
	signal(SIGPIPE, SIG_IGN);	/* a vanished peer is EPIPE */

	/* Nothing from the client has been read yet, and nothing will be
	 * until we are nobody in an empty directory. */
	if (priv_drop(conf->smtpd_user, conf->smtpd_chroot_directory) == -1)
		fatal("cannot drop privileges to %s", conf->smtpd_user);
	return smtpd_session(conf, listener, ip, 0);
}
