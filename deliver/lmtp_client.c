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
#include "connect.h"
#include "io.h"
#include "lmtp_client.h"
#include "outcome.h"
#include "smtp_data.h"
#include "smtp_reply.h"

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

void
lmtp_reply_outcome(const struct smtp_reply *r, const char *dest,
    const char *cmd, struct outcome *o)
{
	char code[OUTCOME_CODE_MAX];

	if (smtp_reply_enhanced(r, code, sizeof(code)) == -1) {
		outcome_set(o, 'Z', "4.5.0", "%s sent an unexpected reply: "
		    "%s (in reply to %s)", dest, r->text, cmd);
		return;
	}
	outcome_set(o, smtp_reply_status(r), code, "%s said: %s (in reply "
	    "to %s)", dest, r->text, cmd);
}

/* A connected socket, or -1 with o set (RFC 3463 4.4.1: no answer). */
static int
lmtp_connect(const struct lmtp_dest *d, int timeout_ms, struct outcome *o)
{
	struct addrinfo hints, *res, *ai;
	struct sockaddr_un sun;
	int fd, gai, saved = ECONNREFUSED;

	if (d->unix_socket) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		strlcpy(sun.sun_path, d->path, sizeof(sun.sun_path));
		if ((fd = net_connect((struct sockaddr *)&sun, sizeof(sun),
		    timeout_ms)) != -1)
			return fd;
		saved = errno;
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
		/* Each address gets the whole timeout: one that drops
		 * SYNs must not take the next one's chance. */
		if ((fd = net_connect(ai->ai_addr, ai->ai_addrlen,
		    timeout_ms)) != -1) {
			freeaddrinfo(res);
			return fd;
		}
		saved = errno;
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
    struct smtp_reply *r, struct outcome *o)
{
	int rc;

	if (io_flush(io) == -1) {
		outcome_set(o, 'Z', "4.4.2", "lost connection with %s while "
		    "sending %s: %s", d->name, cmd, errno == ETIMEDOUT ?
		    "timed out" : strerror(errno));
		return -1;
	}
	rc = smtp_reply_read(io, r, SMTP_REPLY_STRICT);
	if (rc == SMTP_REPLY_IO) {
		outcome_set(o, 'Z', "4.4.2", "lost connection with %s in reply "
		    "to %s: %s", d->name, cmd, errno == ETIMEDOUT ?
		    "timed out" : strerror(errno));
		return -1;
	}
	if (rc == SMTP_REPLY_BAD) {
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
	struct smtp_reply r;

	io->timeout_ms = LMTP_QUIT_MS;
	if (io_puts(io, "QUIT\r\n") == 0 && io_flush(io) == 0)
		(void)smtp_reply_read(io, &r, SMTP_REPLY_STRICT);
}

void
lmtp_deliver(const struct lmtp_dest *d, int timeout_ms, int fd, off_t size,
    const char *helo, const char *sender, const char *rcpt,
    struct outcome *o)
{
	struct smtp_reply r;
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
	io_init(&io, s, timeout_ms, 2 * SMTP_REPLY_LINE_MAX);

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
	if (utf8 && !(r.ext & SMTP_EXT_SMTPUTF8)) {
		outcome_set(o, 'D', "5.6.7", "%s does not support SMTPUTF8, "
		    "which the address needs", d->name);
		goto quit;
	}
	/* RFC 6152: we do not know the body is 7-bit, so say 8BITMIME when
	 * the server takes it; Dovecot stores the bytes either way. */
	io_printf(&io, "MAIL FROM:<%s>%s%s\r\n", sender,
	    (r.ext & SMTP_EXT_8BITMIME) ? " BODY=8BITMIME" : "",
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
			    "reply: %s (in reply to DATA)", d->name, r.text);
		goto quit;
	}
	rc = smtp_data_send(&io, fd, -1, size);
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
