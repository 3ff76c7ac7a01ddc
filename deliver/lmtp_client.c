/*
 * lmtp_client.c: the client side of one LMTP transaction (RFC 2033), for
 * lmtp(8), the delivery agent that hands a message to an LMTP server such
 * as Dovecot's instead of writing the Maildir itself.
 *
 * Called by lmtp.c after it has parsed its arguments; runs as the
 * recipient. One recipient per transaction, so the one reply after the
 * final dot (RFC 2033 4.2: one per accepted RCPT) is the outcome. Every
 * wait has a deadline (common/io.c), every reply line is bounded and
 * checked (no CR, LF or control byte of the server's ever reaches our
 * outcome text, the state file or a bounce), and every failure, ours or the
 * server's, ends as exactly one struct outcome: nothing here exits.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <bsd/string.h>

#include "buf.h"
#include "io.h"
#include "lmtp_client.h"
#include "outcome.h"

/* Flush DATA to the socket in pieces of about this size: memory stays
 * bounded whatever the message size, and each piece has its own deadline. */
#define LMTP_FLUSH_AT	65536
/* QUIT is a courtesy (the outcome is known by then): do not wait long. */
#define LMTP_QUIT_MS	2000

int
lmtp_dest_parse(const char *s, struct lmtp_dest *d)
{
	const char *h, *colon, *port;
	size_t hlen;

	memset(d, 0, sizeof(*d));
	if (strlcpy(d->name, s, sizeof(d->name)) >= sizeof(d->name))
		return -1;
	if (strncmp(s, "unix:", 5) == 0) {
		d->unix_socket = 1;
		/* Absolute: the agent's cwd is the recipient's home. */
		if (s[5] != '/' ||
		    strlcpy(d->path, s + 5, sizeof(d->path)) >= sizeof(d->path))
			return -1;
		return 0;
	}
	if (strncmp(s, "inet:", 5) != 0)
		return -1;
	h = s + 5;
	if (*h == '[') {
		const char *rb = strchr(h, ']');

		if (rb == NULL || rb[1] != ':')
			return -1;
		h++;
		hlen = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		if ((colon = strrchr(h, ':')) == NULL)
			return -1;
		hlen = (size_t)(colon - h);
		if (memchr(h, ':', hlen) != NULL)
			return -1;	/* an IPv6 address needs its brackets */
	}
	if (hlen == 0 || hlen >= sizeof(d->host))
		return -1;
	memcpy(d->host, h, hlen);
	d->host[hlen] = '\0';
	port = colon + 1;
	if (port[0] == '\0' || strlen(port) > 5 ||
	    strspn(port, "0123456789") != strlen(port) || atoi(port) < 1 ||
	    atoi(port) > 65535)
		return -1;
	strlcpy(d->port, port, sizeof(d->port));
	return 0;
}

/* The keyword of one LHLO line, case-insensitive (RFC 5321 4.1.1.1). */
static int
lmtp_ext(const char *text, size_t len)
{
	static const struct { const char *kw; int bit; } kws[] = {
		{ "8BITMIME", LMTP_EXT_8BITMIME },
		{ "SMTPUTF8", LMTP_EXT_SMTPUTF8 },
	};
	size_t i, n;

	for (i = 0; i < sizeof(kws) / sizeof(kws[0]); i++) {
		n = strlen(kws[i].kw);
		if (len >= n && strncasecmp(text, kws[i].kw, n) == 0 &&
		    (len == n || text[n] == ' '))
			return kws[i].bit;
	}
	return 0;
}

int
lmtp_reply_read(struct io *io, struct lmtp_reply *r)
{
	struct buf line = BUF_INIT;
	size_t len, tlen = 0, i;
	const char *p;
	int n, rc, code, last = 0, ret = LMTP_READ_BAD;

	r->code = 0;
	r->ext = 0;
	r->text[0] = '\0';
	buf_init(&line, LMTP_LINE_MAX + 1);
	for (n = 0; n < LMTP_LINES_MAX && !last; n++) {
		rc = io_getline(io, &line, LMTP_LINE_MAX);
		if (rc == IO_LINE_LONG)
			goto out;
		if (rc != IO_LINE_OK) {
			if (rc != IO_LINE_ERR)
				errno = ECONNRESET;	/* EOF: the server left */
			ret = LMTP_READ_IO;
			goto out;
		}
		p = line.data;
		len = line.len - 1;		/* the LF */
		/* RFC 5321 2.3.8: CRLF; a bare LF is tolerated, a CR
		 * anywhere else is not (below). */
		if (len > 0 && p[len - 1] == '\r')
			len--;
		/* RFC 5321 4.2: three digits, then a blank (last line), a
		 * hyphen (more follow), or nothing. */
		if (len < 3 || p[0] < '1' || p[0] > '5' || p[1] < '0' ||
		    p[1] > '9' || p[2] < '0' || p[2] > '9')
			goto out;
		code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
		if (n > 0 && code != r->code)
			goto out;
		r->code = code;
		if (len > 3 && p[3] != ' ' && p[3] != '-')
			goto out;
		last = len == 3 || p[3] == ' ';
		p += 4;
		len = len > 4 ? len - 4 : 0;
		/* The text goes into logs, the state file and bounces: a
		 * control byte in it is refused, not repaired. */
		for (i = 0; i < len; i++)
			if (((unsigned char)p[i] < 0x20 && p[i] != '\t') ||
			    p[i] == 0x7f)
				goto out;
		r->ext |= lmtp_ext(p, len);
		/* Keep what fits; a cut text is still the server's text. */
		if (len > 0 && tlen + 2 < sizeof(r->text)) {
			if (tlen > 0)
				r->text[tlen++] = ' ';
			if (len > sizeof(r->text) - 1 - tlen)
				len = sizeof(r->text) - 1 - tlen;
			memcpy(r->text + tlen, p, len);
			tlen += len;
			r->text[tlen] = '\0';
		}
	}
	if (last)
		ret = LMTP_READ_OK;
out:
	buf_free(&line);
	return ret;
}

/* RFC 3463 2 at the start of text: "c.sss.ddd" then a blank or the end. */
static int
lmtp_enhanced(const char *text, char status, char *code, size_t codesz)
{
	size_t n = strcspn(text, " ");

	if (n == 0 || n >= codesz)
		return 0;
	memcpy(code, text, n);
	code[n] = '\0';
	return outcome_code_valid(status, code);
}

void
lmtp_reply_outcome(const struct lmtp_reply *r, const char *dest,
    const char *cmd, struct outcome *o)
{
	char code[OUTCOME_CODE_MAX];
	char status;

	switch (r->code / 100) {
	case 2: status = 'K'; break;
	case 4: status = 'Z'; break;
	case 5: status = 'D'; break;
	default:
		outcome_set(o, 'Z', "4.5.0", "%s sent an unexpected reply: "
		    "%d %s (in reply to %s)", dest, r->code, r->text, cmd);
		return;
	}
	/* RFC 2034: the server's own code is more precise than ours;
	 * without one, the class alone (RFC 3463 3.1: X.0.0). */
	if (!lmtp_enhanced(r->text, status, code, sizeof(code)))
		snprintf(code, sizeof(code), "%c.0.0", r->code / 100 + '0');
	outcome_set(o, status, code, "%s said: %d %s (in reply to %s)", dest,
	    r->code, r->text, cmd);
}

int
lmtp_data_send(struct io *io, int fd, off_t size)
{
	char in[16384], *p, *end, *nl;
	off_t left = size;
	ssize_t n;
	int bol = 1;		/* at the beginning of a line */

	while (left > 0) {
		n = read(fd, in, left < (off_t)sizeof(in) ? (size_t)left :
		    sizeof(in));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -2;
		left -= n;
		for (p = in, end = in + n; p < end; p = nl + 1) {
			/* RFC 5321 4.5.2: a line that starts with a dot gets
			 * another, so that only ".CRLF" ends the data. */
			if (bol && *p == '.' && io_write(io, ".", 1) == -1)
				return -1;
			if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
				if (io_write(io, p, (size_t)(end - p)) == -1)
					return -1;
				bol = 0;
				break;
			}
			/* RFC 2033 4.2 after RFC 5321 2.3.8: CRLF on the wire;
			 * the queue keeps LF. */
			if (io_write(io, p, (size_t)(nl - p)) == -1 ||
			    io_write(io, "\r\n", 2) == -1)
				return -1;
			bol = 1;
		}
		if (io->out.len >= LMTP_FLUSH_AT && io_flush(io) == -1)
			return -1;
	}
	if (!bol && io_write(io, "\r\n", 2) == -1)
		return -1;
	if (io_write(io, ".\r\n", 3) == -1 || io_flush(io) == -1)
		return -1;
	return 0;
}

static long long
lmtp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A non-blocking connect bounded by deadline. 0, or -1 with errno. */
static int
lmtp_connect_one(int fd, const struct sockaddr *sa, socklen_t salen,
    long long deadline)
{
	struct pollfd pfd;
	socklen_t elen = sizeof(int);
	long long left;
	int err = 0, r;

	if (connect(fd, sa, salen) == 0)
		return 0;
	if (errno != EINPROGRESS && errno != EINTR)
		return -1;
	for (;;) {
		left = deadline - lmtp_now_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		r = poll(&pfd, 1, (int)left);
		if (r == 1)
			break;
		if (r == -1 && errno != EINTR)
			return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == -1)
		return -1;
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

/* A connected socket, or -1 with o set (RFC 3463 4.4.1: no answer). */
static int
lmtp_connect(const struct lmtp_dest *d, int timeout_ms, struct outcome *o)
{
	long long deadline = lmtp_now_ms() + timeout_ms;
	struct addrinfo hints, *res, *ai;
	struct sockaddr_un sun;
	int fd, gai, saved = ECONNREFUSED;

	if (d->unix_socket) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		strlcpy(sun.sun_path, d->path, sizeof(sun.sun_path));
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
		if (fd != -1 && lmtp_connect_one(fd, (struct sockaddr *)&sun,
		    sizeof(sun), deadline) == 0)
			return fd;
		saved = errno;
		if (fd != -1)
			close(fd);
		outcome_set(o, 'Z', "4.4.1", "cannot connect to %s: %s",
		    d->name, strerror(saved));
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((gai = getaddrinfo(d->host, d->port, &hints, &res)) != 0) {
		outcome_set(o, 'Z', "4.4.3", "cannot resolve %s: %s", d->name,
		    gai_strerror(gai));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol);
		if (fd == -1) {
			saved = errno;
			continue;
		}
		if (lmtp_connect_one(fd, ai->ai_addr, ai->ai_addrlen,
		    deadline) == 0) {
			freeaddrinfo(res);
			return fd;
		}
		saved = errno;
		close(fd);
	}
	freeaddrinfo(res);
	outcome_set(o, 'Z', "4.4.1", "cannot connect to %s: %s", d->name,
	    strerror(saved));
	return -1;
}

/*
 * Send what is buffered (the command), read the reply. 0, or -1 with o
 * set: a lost connection or a timeout is RFC 3463 4.4.2 (bad connection),
 * a reply that is not one is 4.5.0 (protocol error); both are retried.
 */
static int
lmtp_step(struct io *io, const struct lmtp_dest *d, const char *cmd,
    struct lmtp_reply *r, struct outcome *o)
{
	int rc;

	if (io_flush(io) == -1) {
		outcome_set(o, 'Z', "4.4.2", "lost connection with %s while "
		    "sending %s: %s", d->name, cmd, errno == ETIMEDOUT ?
		    "timed out" : strerror(errno));
		return -1;
	}
	rc = lmtp_reply_read(io, r);
	if (rc == LMTP_READ_IO) {
		outcome_set(o, 'Z', "4.4.2", "lost connection with %s in reply "
		    "to %s: %s", d->name, cmd, errno == ETIMEDOUT ?
		    "timed out" : strerror(errno));
		return -1;
	}
	if (rc == LMTP_READ_BAD) {
		outcome_set(o, 'Z', "4.5.0", "%s sent a malformed reply to %s",
		    d->name, cmd);
		return -1;
	}
	return 0;
}

/* Bytes that may go between angle brackets in MAIL or RCPT: the queue
 * checked the address already; this keeps a CR or LF of a broken caller
 * from ever becoming a second command. */
static int
lmtp_addr_ok(const char *a, int *eight)
{
	for (; *a != '\0'; a++) {
		if ((unsigned char)*a < 0x20 || *a == 0x7f || *a == '<' ||
		    *a == '>')
			return 0;
		if ((unsigned char)*a >= 0x80)
			*eight = 1;
	}
	return 1;
}

static void
lmtp_quit(struct io *io)
{
	struct lmtp_reply r;

	io->timeout_ms = LMTP_QUIT_MS;
	if (io_puts(io, "QUIT\r\n") == 0 && io_flush(io) == 0)
		(void)lmtp_reply_read(io, &r);
}

void
lmtp_deliver(const struct lmtp_dest *d, int timeout_ms, int fd, off_t size,
    const char *helo, const char *sender, const char *rcpt,
    struct outcome *o)
{
	struct lmtp_reply r;
	struct io io;
	const char *step = "the greeting";
	int s, utf8 = 0, rc;

	if (!lmtp_addr_ok(sender, &utf8)) {
		outcome_set(o, 'D', "5.1.7", "bad sender address syntax");
		return;
	}
	if (!lmtp_addr_ok(rcpt, &utf8)) {
		outcome_set(o, 'D', "5.1.3", "bad recipient address syntax");
		return;
	}
	if ((s = lmtp_connect(d, timeout_ms, o)) == -1)
		return;
	io_init(&io, s, timeout_ms, 2 * LMTP_LINE_MAX);

	/* RFC 2033 4.1: greeting, then LHLO (never HELO or EHLO). A refusal
	 * here is about the server, not this message: it is retried even
	 * when it says 5xx, so a misconfigured Dovecot bounces nothing. */
	if (lmtp_step(&io, d, step, &r, o) == -1)
		goto done;
	if (r.code / 100 == 2) {
		step = "LHLO";
		io_printf(&io, "LHLO %s\r\n", helo);
		if (lmtp_step(&io, d, step, &r, o) == -1)
			goto done;
	}
	if (r.code / 100 != 2) {
		lmtp_reply_outcome(&r, d->name, step, o);
		if (o->status == 'D' || o->status == 'K') {
			o->status = 'Z';
			o->code[0] = '4';
		}
		goto quit;
	}
	/* RFC 6531 3.4: an address beyond ASCII needs SMTPUTF8 of the
	 * server; one without will never take it. */
	if (utf8 && !(r.ext & LMTP_EXT_SMTPUTF8)) {
		outcome_set(o, 'D', "5.6.7", "%s does not support SMTPUTF8, "
		    "which the address needs", d->name);
		goto quit;
	}
	/* RFC 6152: we do not know the body is 7-bit, so say 8BITMIME when
	 * the server takes it; Dovecot stores the bytes either way. */
	io_printf(&io, "MAIL FROM:<%s>%s%s\r\n", sender,
	    (r.ext & LMTP_EXT_8BITMIME) ? " BODY=8BITMIME" : "",
	    utf8 ? " SMTPUTF8" : "");
	if (lmtp_step(&io, d, "MAIL FROM", &r, o) == -1)
		goto done;
	if (r.code / 100 != 2) {
		lmtp_reply_outcome(&r, d->name, "MAIL FROM", o);
		goto quit;
	}
	io_printf(&io, "RCPT TO:<%s>\r\n", rcpt);
	if (lmtp_step(&io, d, "RCPT TO", &r, o) == -1)
		goto done;
	if (r.code / 100 != 2) {
		lmtp_reply_outcome(&r, d->name, "RCPT TO", o);
		goto quit;
	}
	io_puts(&io, "DATA\r\n");
	if (lmtp_step(&io, d, "DATA", &r, o) == -1)
		goto done;
	if (r.code != 354) {
		lmtp_reply_outcome(&r, d->name, "DATA", o);
		if (o->status == 'K')	/* 2xx to DATA: not LMTP */
			outcome_set(o, 'Z', "4.5.0", "%s sent an unexpected "
			    "reply: %d %s (in reply to DATA)", d->name, r.code,
			    r.text);
		goto quit;
	}
	rc = lmtp_data_send(&io, fd, size);
	if (rc == -2) {
		/* No final dot went out: closing now makes the server
		 * drop the partial message (RFC 5321 4.1.1.4). */
		outcome_set(o, 'Z', "4.3.0", "cannot read the message");
		goto done;
	}
	if (rc == -1) {
		outcome_set(o, 'Z', "4.4.2", "lost connection with %s while "
		    "sending the message: %s", d->name, errno == ETIMEDOUT ?
		    "timed out" : strerror(errno));
		goto done;
	}
	/* RFC 2033 4.2: one reply per accepted RCPT; we sent one. A lost
	 * connection here is retried, so the message may arrive twice: at
	 * least once, never lost (DESIGN.md). */
	if (lmtp_step(&io, d, "end of DATA", &r, o) == -1)
		goto done;
	lmtp_reply_outcome(&r, d->name, "end of DATA", o);
quit:
	lmtp_quit(&io);
done:
	io_free(&io);
	close(s);
}
