/*
 * test_lmtp_client.c: deliver/lmtp_client.c, the LMTP client of lmtp(8):
 * destination syntax, reply reading (multi-line, malformed, control bytes,
 * over-long), reply -> outcome mapping (RFC 2033 codes and RFC 3463
 * enhanced codes), dot-stuffing with CRLF, and whole transactions against
 * a scripted server on a Unix socket (accepted, 4xx, 5xx at RCPT, a server
 * that hangs up, no server at all).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bsd/string.h>

#include "io.h"
#include "smtp_data.h"
#include "smtp_reply.h"
#include "../../deliver/lmtp_client.h"
#include "../../deliver/outcome.h"
#include "harness.h"

/* A reply read from what a pipe holds. */
static int
read_reply(const char *wire, struct smtp_reply *r)
{
	struct io io;
	int p[2], rc;

	if (pipe(p) == -1)
		return -99;
	if (write(p[1], wire, strlen(wire)) != (ssize_t)strlen(wire))
		return -99;
	close(p[1]);
	io_init(&io, p[0], 2000, 4096);
	rc = smtp_reply_read(&io, r, SMTP_REPLY_STRICT);
	io_free(&io);
	close(p[0]);
	return rc;
}

static void
test_dest(void)
{
	struct lmtp_dest d;

	CHECK(lmtp_dest_parse("unix:/run/dovecot/lmtp", &d) == 0);
	CHECK(d.unix_socket && strcmp(d.path, "/run/dovecot/lmtp") == 0);
	CHECK(lmtp_dest_parse("inet:127.0.0.1:24", &d) == 0);
	CHECK(!d.unix_socket);
	CHECK_STR(d.host, "127.0.0.1");
	CHECK_STR(d.port, "24");
	CHECK(lmtp_dest_parse("inet:[::1]:2424", &d) == 0);
	CHECK_STR(d.host, "::1");
	CHECK(lmtp_dest_parse("inet:mail.example:24", &d) == 0);
	CHECK(lmtp_dest_parse("unix:relative/path", &d) == -1);
	CHECK(lmtp_dest_parse("/run/dovecot/lmtp", &d) == -1);
	CHECK(lmtp_dest_parse("inet:127.0.0.1", &d) == -1);
	CHECK(lmtp_dest_parse("inet:127.0.0.1:0", &d) == -1);
	CHECK(lmtp_dest_parse("inet:127.0.0.1:65536", &d) == -1);
	CHECK(lmtp_dest_parse("inet:127.0.0.1:2x", &d) == -1);
	CHECK(lmtp_dest_parse("inet::24", &d) == -1);
	CHECK(lmtp_dest_parse("inet:::1:24", &d) == -1);
	CHECK(lmtp_dest_parse("tcp:127.0.0.1:24", &d) == -1);
}

static void
test_reply(void)
{
	struct smtp_reply r;
	char big[3000];

	CHECK(read_reply("220 host LMTP ready\r\n", &r) == SMTP_REPLY_OK);
	CHECK(r.code == 220);
	CHECK_STR(r.text, "220 host LMTP ready");
	CHECK(read_reply("250-host\r\n250-8BITMIME\r\n250-smtputf8\r\n"
	    "250 PIPELINING\r\n", &r) == SMTP_REPLY_OK);
	CHECK(r.code == 250);
	CHECK(r.ext == (SMTP_EXT_8BITMIME | SMTP_EXT_SMTPUTF8 |
	    SMTP_EXT_PIPELINING));
	CHECK_STR(r.text, "250-host 250-8BITMIME 250-smtputf8 250 PIPELINING");
	CHECK(read_reply("250\n", &r) == SMTP_REPLY_OK && r.code == 250);
	CHECK(read_reply("250-8BITMIMEX\r\n250 x\r\n", &r) == SMTP_REPLY_OK &&
	    r.ext == 0);
	/* codes that differ, no separator, letters, a CR inside, NUL, ESC */
	CHECK(read_reply("250-a\r\n251 b\r\n", &r) == SMTP_REPLY_BAD);
	CHECK(read_reply("250x\r\n", &r) == SMTP_REPLY_BAD);
	CHECK(read_reply("2a0 x\r\n", &r) == SMTP_REPLY_BAD);
	CHECK(read_reply("650 x\r\n", &r) == SMTP_REPLY_BAD);
	CHECK(read_reply("25\r\n", &r) == SMTP_REPLY_BAD);
	CHECK(read_reply("550 a\rRCPT TO:<x>\r\n", &r) == SMTP_REPLY_BAD);
	CHECK(read_reply("550 a\033[2J\r\n", &r) == SMTP_REPLY_BAD);
	{
		static const char nul[] = "550 a\0b\r\n";
		struct io io;
		int p[2];

		CHECK(pipe(p) == 0);
		CHECK(write(p[1], nul, sizeof(nul) - 1) ==
		    (ssize_t)sizeof(nul) - 1);
		close(p[1]);
		io_init(&io, p[0], 2000, 4096);
		CHECK(smtp_reply_read(&io, &r, SMTP_REPLY_STRICT) == SMTP_REPLY_BAD);
		io_free(&io);
		close(p[0]);
	}
	/* too long a line */
	memset(big, 'x', sizeof(big));
	memcpy(big, "250 ", 4);
	strlcpy(big + sizeof(big) - 3, "\r\n", 3);
	CHECK(read_reply(big, &r) == SMTP_REPLY_BAD);
	/* EOF inside a reply, or before one */
	CHECK(read_reply("250-more\r\n", &r) == SMTP_REPLY_IO);
	CHECK(read_reply("", &r) == SMTP_REPLY_IO);
	CHECK(read_reply("250 no end", &r) == SMTP_REPLY_IO);
}

/* A one-line reply, parsed. */
static void
set_reply(struct smtp_reply *r, const char *line)
{
	smtp_reply_init(r, SMTP_REPLY_STRICT);
	CHECK(smtp_reply_line(r, line, strlen(line)) == SMTP_REPLY_OK);
}

static void
test_outcome(void)
{
	struct smtp_reply r;
	struct outcome o;

	set_reply(&r, "250 2.0.0 <x@y> abc Saved");
	lmtp_reply_outcome(&r, "unix:/s", "end of DATA", &o);
	CHECK(o.status == 'K');
	CHECK_STR(o.code, "2.0.0");
	CHECK_STR(o.text, "unix:/s said: 250 2.0.0 <x@y> abc Saved (in reply "
	    "to end of DATA)");
	set_reply(&r, "451 4.2.2 Mailbox is full");
	lmtp_reply_outcome(&r, "d", "end of DATA", &o);
	CHECK(o.status == 'Z');
	CHECK_STR(o.code, "4.2.2");
	set_reply(&r, "550 5.1.1 <nobody@x> User doesn't exist");
	lmtp_reply_outcome(&r, "d", "RCPT TO", &o);
	CHECK(o.status == 'D');
	CHECK_STR(o.code, "5.1.1");
	CHECK(strstr(o.text, "User doesn't exist (in reply to RCPT TO)"));
	/* no enhanced code, or one of the wrong class: ours, by class */
	set_reply(&r, "550 no such user");
	lmtp_reply_outcome(&r, "d", "RCPT TO", &o);
	CHECK_STR(o.code, "5.0.0");
	set_reply(&r, "550 4.1.1 confused");
	lmtp_reply_outcome(&r, "d", "RCPT TO", &o);
	CHECK(o.status == 'D');
	CHECK_STR(o.code, "5.0.0");
	set_reply(&r, "550 5.1.1234 too long");
	lmtp_reply_outcome(&r, "d", "RCPT TO", &o);
	CHECK_STR(o.code, "5.0.0");
	/* a 3xx where a final reply belongs: retried, not bounced */
	set_reply(&r, "354 go ahead");
	lmtp_reply_outcome(&r, "d", "end of DATA", &o);
	CHECK(o.status == 'Z');
	CHECK_STR(o.code, "4.5.0");
}

/* The DATA that smtp_data_send() writes for msg (common/smtp_data.c). */
static void
check_data(const char *msg, const char *want)
{
	char out[4096];
	struct io io;
	int m[2], s[2];
	ssize_t n;

	CHECK(pipe(m) == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
	CHECK(write(m[1], msg, strlen(msg)) == (ssize_t)strlen(msg));
	close(m[1]);
	io_init(&io, s[0], 2000, 4096);
	CHECK(smtp_data_send(&io, m[0], -1, (off_t)strlen(msg)) == 0);
	io_free(&io);
	close(s[0]);
	n = read(s[1], out, sizeof(out) - 1);
	out[n > 0 ? n : 0] = '\0';
	CHECK_STR(out, want);
	close(s[1]);
	close(m[0]);
}

static void
test_data(void)
{
	struct io io;
	int m[2], s[2];

	check_data("Subject: x\n\nbody\n", "Subject: x\r\n\r\nbody\r\n.\r\n");
	check_data(".\n..x\nmid.dle\n.", "..\r\n...x\r\nmid.dle\r\n..\r\n.\r\n");
	check_data("no final newline", "no final newline\r\n.\r\n");
	check_data("", ".\r\n");
	/* fewer bytes than announced: -2, and no final dot */
	CHECK(pipe(m) == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
	CHECK(write(m[1], "short\n", 6) == 6);
	close(m[1]);
	io_init(&io, s[0], 2000, 4096);
	CHECK(smtp_data_send(&io, m[0], -1, 100) == -2);
	io_free(&io);
	close(s[0]);
	close(s[1]);
	close(m[0]);
}

/*
 * A scripted LMTP server on a Unix socket: answers greeting, LHLO, MAIL,
 * RCPT, DATA and end of DATA from replies[] (NULL: hang up instead), and
 * writes what it received to the pipe tr.
 */
static void
server(int ls, const char *const replies[6], int tr)
{
	char buf[8192];
	size_t len = 0;
	int c, step = 0, indata = 0;
	ssize_t n;

	if ((c = accept(ls, NULL, NULL)) == -1)
		_exit(1);
	if (replies[0] == NULL)
		_exit(0);
	if (write(c, replies[0], strlen(replies[0])) == -1)
		_exit(1);
	step = 1;
	for (;;) {
		char *nl;

		n = read(c, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		if (write(tr, buf + len, (size_t)n) == -1)
			_exit(1);
		len += (size_t)n;
		while ((nl = memchr(buf, '\n', len)) != NULL) {
			size_t l = (size_t)(nl - buf) + 1;
			const char *rep = NULL;

			if (indata) {
				if (l == 3 && buf[0] == '.') {
					indata = 0;
					rep = replies[5];
				}
			} else if (strncmp(buf, "QUIT", 4) == 0)
				rep = "221 bye\r\n";
			else if (step < 5) {
				rep = replies[step];
				if (step == 4 && rep != NULL &&
				    strncmp(rep, "354", 3) == 0)
					indata = 1;
				step++;
			}
			memmove(buf, buf + l, len - l);
			len -= l;
			if ((indata || rep != NULL) && rep == NULL)
				continue;
			if (rep == NULL)
				_exit(0);
			if (write(c, rep, strlen(rep)) == -1)
				_exit(1);
		}
	}
	_exit(0);
}

static void
transaction(const char *const replies[6], const char *msg, struct outcome *o,
    char *transcript, size_t tsz)
{
	char path[] = "/tmp/test_lmtp.XXXXXX";
	struct sockaddr_un sun;
	struct lmtp_dest d;
	int ls, m[2], tr[2];
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	CHECK(mkdtemp(path) != NULL);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/lmtp", path);
	ls = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(bind(ls, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	CHECK(listen(ls, 1) == 0);
	CHECK(pipe(tr) == 0 && pipe(m) == 0);
	if ((pid = fork()) == 0) {
		close(tr[0]);
		server(ls, replies, tr[1]);
	}
	close(tr[1]);
	close(ls);
	CHECK(write(m[1], msg, strlen(msg)) == (ssize_t)strlen(msg));
	close(m[1]);
	CHECK(lmtp_dest_parse("unix:", &d) == -1);
	{
		char dest[200];

		snprintf(dest, sizeof(dest), "unix:%s", sun.sun_path);
		CHECK(lmtp_dest_parse(dest, &d) == 0);
	}
	lmtp_deliver(&d, 2000, m[0], (off_t)strlen(msg), "mx.test",
	    "a@b.test", "u@mx.test", o);
	close(m[0]);
	while (got + 1 < tsz && (n = read(tr[0], transcript + got,
	    tsz - 1 - got)) > 0)
		got += (size_t)n;
	transcript[got] = '\0';
	close(tr[0]);
	waitpid(pid, NULL, 0);
	unlink(sun.sun_path);
	rmdir(path);
}

static void
test_transactions(void)
{
	const char *const ok[6] = { "220 lmtp ready\r\n",
	    "250-lmtp\r\n250-8BITMIME\r\n250 PIPELINING\r\n",
	    "250 2.1.0 OK\r\n", "250 2.1.5 OK\r\n",
	    "354 OK\r\n", "250 2.0.0 <u@mx.test> Saved\r\n" };
	const char *const temp[6] = { ok[0], ok[1], ok[2], ok[3], ok[4],
	    "451 4.2.0 <u@mx.test> try later\r\n" };
	const char *const norcpt[6] = { ok[0], ok[1], ok[2],
	    "550 5.1.1 <u@mx.test> User doesn't exist: u@mx.test\r\n", NULL,
	    NULL };
	const char *const badgreet[6] = { "554 5.3.2 go away\r\n", NULL, NULL,
	    NULL, NULL, NULL };
	const char *const hangup[6] = { ok[0], ok[1], ok[2], ok[3], ok[4],
	    NULL };
	char t[8192];
	struct outcome o;
	struct lmtp_dest d;

	transaction(ok, "Subject: hi\n\n.dot\n", &o, t, sizeof(t));
	CHECK(o.status == 'K');
	CHECK_STR(o.code, "2.0.0");
	CHECK(strstr(o.text, "Saved (in reply to end of DATA)") != NULL);
	CHECK(strncmp(t, "LHLO mx.test\r\nMAIL FROM:<a@b.test> BODY=8BITMIME"
	    "\r\nRCPT TO:<u@mx.test>\r\nDATA\r\nSubject: hi\r\n\r\n..dot\r\n"
	    ".\r\nQUIT\r\n", 200) == 0);

	transaction(temp, "x\n", &o, t, sizeof(t));
	CHECK(o.status == 'Z');
	CHECK_STR(o.code, "4.2.0");
	CHECK(strstr(o.text, "451 4.2.0 <u@mx.test> try later") != NULL);

	transaction(norcpt, "x\n", &o, t, sizeof(t));
	CHECK(o.status == 'D');
	CHECK_STR(o.code, "5.1.1");
	CHECK(strstr(o.text, "User doesn't exist") != NULL);
	CHECK(strstr(t, "DATA") == NULL);

	/* a 5xx greeting is about the server: deferred, never bounced */
	transaction(badgreet, "x\n", &o, t, sizeof(t));
	CHECK(o.status == 'Z');
	CHECK_STR(o.code, "4.3.2");
	CHECK(strstr(o.text, "554 5.3.2 go away") != NULL);

	transaction(hangup, "x\n", &o, t, sizeof(t));
	CHECK(o.status == 'Z');
	CHECK_STR(o.code, "4.4.2");

	/* nobody listening */
	CHECK(lmtp_dest_parse("unix:/nonexistent/lmtp", &d) == 0);
	lmtp_deliver(&d, 2000, 0, 0, "mx.test", "", "u@mx.test", &o);
	CHECK(o.status == 'Z');
	CHECK_STR(o.code, "4.4.1");
	CHECK(strstr(o.text, "cannot connect to unix:/nonexistent/lmtp") !=
	    NULL);

	/* an address with a line break never becomes a command */
	lmtp_deliver(&d, 2000, 0, 0, "mx.test", "", "u@x\r\nDATA", &o);
	CHECK(o.status == 'D');
	CHECK_STR(o.code, "5.1.3");
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_dest();
	test_reply();
	test_outcome();
	test_data();
	test_transactions();
	return harness_done();
}
