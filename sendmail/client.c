/*
 * client.c: sendmail(8)'s SMTP client, on master's local socket.
 *
 * Called by sendmail.c for each submission: client_open() (connect, the
 * 220), client_cmd() per command, client_write() for the message, and
 * client_exit_code() to turn the reply that ended things into a sysexits.h
 * code. One command at a time (no PIPELINING: the peer is on this host).
 * Every read waits at most CLIENT_TIMEOUT_MS. -v copies the dialogue to
 * stderr ("<<< " for what we send, ">>> " for the replies).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include <bsd/string.h>

#include "buf.h"
#include "sendmail.h"

#define CLIENT_TIMEOUT_MS	(10 * 60 * 1000)	/* RFC 5321 4.5.3.2.6 */

int
client_open(struct client *c, const char *path, int verbose)
{
	struct sockaddr_un sun;
	int	 code;

	memset(c, 0, sizeof(*c));
	c->verbose = verbose;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		fprintf(stderr, "sendmail: socket: %s\n", strerror(errno));
		return EX_OSERR;
	}
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		/* No queue to fall back on without privilege: the caller
		 * must try again (EX_TEMPFAIL), as with a full spool. */
		fprintf(stderr, "sendmail: cannot connect to %s: %s (is "
		    "Postern running?)\n", path, strerror(errno));
		close(c->fd);
		c->fd = -1;
		return EX_TEMPFAIL;
	}
	if ((code = client_reply(c)) != 220) {
		fprintf(stderr, "sendmail: no greeting from %s: %s\n", path,
		    c->reply);
		return code == -1 ? EX_TEMPFAIL : client_exit_code(code,
		    c->reply);
	}
	return 0;
}

int
client_write(struct client *c, const char *p, size_t n)
{
	ssize_t	 w;

	while (n > 0) {
		if ((w = send(c->fd, p, n, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(c->reply, sizeof(c->reply), "write: %s",
			    strerror(errno));
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One line (without CRLF) into line; 0, or -1. */
static int
client_line(struct client *c, char *line, size_t linesz)
{
	struct pollfd	 pfd;
	char		*nl, tmp[4096];
	ssize_t		 r;
	size_t		 n;

	while (c->in.len == 0 ||
	    (nl = memchr(c->in.data, '\n', c->in.len)) == NULL) {
		if (c->in.len > 8192) {
			strlcpy(c->reply, "reply line too long", sizeof(c->reply));
			return -1;
		}
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, CLIENT_TIMEOUT_MS) == 0) {
			strlcpy(c->reply, "timeout", sizeof(c->reply));
			return -1;
		}
		r = read(c->fd, tmp, sizeof(tmp));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(c->reply, sizeof(c->reply), "connection "
			    "lost%s%s", r == 0 ? "" : ": ",
			    r == 0 ? "" : strerror(errno));
			return -1;
		}
		if (buf_add(&c->in, tmp, (size_t)r) == -1) {
			strlcpy(c->reply, "out of memory", sizeof(c->reply));
			return -1;
		}
	}
	n = (size_t)(nl - c->in.data);
	if (n > 0 && c->in.data[n - 1] == '\r')
		n--;
	if (n >= linesz)
		n = linesz - 1;
	memcpy(line, c->in.data, n);
	line[n] = '\0';
	buf_consume(&c->in, (size_t)(nl - c->in.data) + 1);
	return 0;
}

int
client_reply(struct client *c)
{
	char	 line[sizeof(c->reply) - 16];

	do {
		if (client_line(c, line, sizeof(line)) == -1)
			return -1;
		if (c->verbose)
			fprintf(stderr, ">>> %s\n", line);
		if (strlen(line) < 3 || line[0] < '2' || line[0] > '5' ||
		    line[1] < '0' || line[1] > '9' || line[2] < '0' ||
		    line[2] > '9' || (line[3] != '\0' && line[3] != ' ' &&
		    line[3] != '-')) {
			snprintf(c->reply, sizeof(c->reply), "bad reply: %s",
			    line);
			return -1;
		}
	} while (line[3] == '-');
	strlcpy(c->reply, line, sizeof(c->reply));
	c->code = atoi(line);
	return c->code;
}

int
client_cmd(struct client *c, const char *fmt, ...)
{
	struct buf	 b = BUF_INIT;
	va_list		 ap;
	int		 r;

	va_start(ap, fmt);
	r = buf_vaddf(&b, fmt, ap);
	va_end(ap);
	if (r == -1) {
		strlcpy(c->reply, "out of memory", sizeof(c->reply));
		return -1;
	}
	if (c->verbose)
		fprintf(stderr, "<<< %s\n", buf_str(&b));
	r = buf_adds(&b, "\r\n") == -1 || client_write(c, b.data, b.len) ==
	    -1 ? -1 : client_reply(c);
	buf_free(&b);
	return r;
}

void
client_close(struct client *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	buf_free(&c->in);
}

int
client_exit_code(int code, const char *reply)
{
	const char	*e = reply;

	if (code >= 200 && code < 400)
		return EX_OK;
	if (code >= 400 && code < 500)
		return EX_TEMPFAIL;
	if (code < 500 || code > 599)
		return EX_PROTOCOL;
	/* RFC 3463: the enhanced code after the reply code, if any. */
	if (strlen(e) > 4 && e[4] == '5' && e[5] == '.')
		e += 6;
	else
		e = "";
	if (strncmp(e, "1.1", 3) == 0 || strncmp(e, "1.6", 3) == 0)
		return EX_NOUSER;		/* no such mailbox */
	if (strncmp(e, "1.2", 3) == 0)
		return EX_NOHOST;
	if (strncmp(e, "1.", 2) == 0 || strncmp(e, "6.", 2) == 0 ||
	    strncmp(e, "3.4", 3) == 0 || code == 501 || code == 553)
		return EX_DATAERR;		/* bad address, bad message */
	if (strncmp(e, "7.", 2) == 0)
		return EX_NOPERM;		/* policy */
	if (strncmp(e, "5.", 2) == 0 || code == 500 || code == 502 ||
	    code == 503)
		return EX_PROTOCOL;
	return EX_UNAVAILABLE;
}
