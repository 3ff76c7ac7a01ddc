/*
 * test_smtpd_command.c: smtpd's parsing, with known inputs and the exact
 * replies expected: command lines (verbs, arguments, NUL, CR), MAIL and
 * RCPT arguments and their parameters, EHLO names, enqueue's reply texts,
 * and the DATA reader: the line state machine (dot-unstuffing, CRLF to LF,
 * the end only at CRLF.CRLF, bare CR/LF, NUL, long lines, size) alone and
 * fed through data_getline() from a pipe.
 *
 * Links every smtpd file but smtpd.c, and libcommon.a. No network, no
 * config: the functions under test are pure or take an io on a pipe.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bsd/string.h>

#include "harness.h"
#include "buf.h"
#include "io.h"
#include "../../smtpd/smtpd.h"

/* ---- command lines ---- */

static enum smtpd_verb
line_check(const char *text, size_t len, char *out, size_t outsz)
{
	struct buf	 b = BUF_INIT;
	enum smtpd_verb	 v;

	buf_add(&b, text, len);
	v = cmd_line_check(&b);
	snprintf(out, outsz, "%s", buf_str(&b));
	buf_free(&b);
	return v;
}

static void
test_line_check(void)
{
	char	 out[256];

	CHECK(line_check("NOOP\r\n", 6, out, sizeof(out)) == VERB_UNKNOWN);
	CHECK_STR(out, "NOOP");
	/* a lone LF at the end of a command is tolerated */
	CHECK(line_check("NOOP\n", 5, out, sizeof(out)) == VERB_UNKNOWN);
	CHECK_STR(out, "NOOP");
	CHECK(line_check("\r\n", 2, out, sizeof(out)) == VERB_UNKNOWN);
	CHECK_STR(out, "");
	CHECK(line_check("NO\0OP\r\n", 7, out, sizeof(out)) == VERB_NUL);
	CHECK(line_check("NOOP\rRSET\r\n", 11, out, sizeof(out)) ==
	    VERB_BADCR);
	CHECK(line_check("NOOP\r\r\n", 7, out, sizeof(out)) == VERB_BADCR);
}

static void
parse(const char *text, struct smtpd_cmd *cmd, char *store, size_t sz)
{
	snprintf(store, sz, "%s", text);
	cmd_parse(store, cmd);
}

static void
test_parse(void)
{
	struct smtpd_cmd cmd;
	char	 l[256];

	parse("EHLO mail.example.org", &cmd, l, sizeof(l));
	CHECK(cmd.verb == VERB_EHLO);
	CHECK_STR(cmd.args, "mail.example.org");
	CHECK_STR(cmd.name, "EHLO");
	parse("ehLo mail.example.org  ", &cmd, l, sizeof(l));
	CHECK(cmd.verb == VERB_EHLO);
	CHECK_STR(cmd.args, "mail.example.org");
	parse("quit", &cmd, l, sizeof(l));
	CHECK(cmd.verb == VERB_QUIT);
	CHECK_STR(cmd.args, "");
	parse("DATA ", &cmd, l, sizeof(l));
	CHECK(cmd.verb == VERB_DATA);
	CHECK_STR(cmd.args, "");
	parse("mail FROM:<a@b.c> SIZE=10", &cmd, l, sizeof(l));
	CHECK(cmd.verb == VERB_MAIL);
	CHECK_STR(cmd.args, "FROM:<a@b.c> SIZE=10");
	parse("", &cmd, l, sizeof(l));
	CHECK(cmd.verb == VERB_EMPTY);
	parse("   ", &cmd, l, sizeof(l));
	CHECK(cmd.verb == VERB_EMPTY);
	parse("MAILFROM:<a@b.c>", &cmd, l, sizeof(l));
	CHECK(cmd.verb == VERB_UNKNOWN);
	parse("HELOX a", &cmd, l, sizeof(l));
	CHECK(cmd.verb == VERB_UNKNOWN);
	parse("EHLO\ta.b", &cmd, l, sizeof(l));
	CHECK(cmd.verb == VERB_UNKNOWN);
	parse("STARTTLS", &cmd, l, sizeof(l));
	CHECK(cmd.verb == VERB_STARTTLS);
	parse("STARTTLSX", &cmd, l, sizeof(l));
	CHECK(cmd.verb == VERB_UNKNOWN);
	parse("TURN", &cmd, l, sizeof(l));
	CHECK(cmd.verb == VERB_TURN);
	parse("soml FROM:<a@b>", &cmd, l, sizeof(l));
	CHECK(cmd.verb == VERB_SOML);
	parse("Vrfy root", &cmd, l, sizeof(l));
	CHECK(cmd.verb == VERB_VRFY);
	CHECK_STR(cmd.args, "root");
}

/* ---- MAIL and RCPT arguments ---- */

#define LIMIT	10240000LL

static int
mail(const char *args, int esmtp, struct smtpd_path *p, char *r, size_t rsz)
{
	r[0] = '\0';
	return cmd_mail_args(args, esmtp, LIMIT, p, r, rsz);
}

static void
test_mail(void)
{
	struct smtpd_path p;
	char	 r[SMTPD_REPLY_MAX + 1];

	CHECK(mail("FROM:<Alice@Example.ORG>", 1, &p, r, sizeof(r)) == 0);
	CHECK_STR(p.text, "Alice@example.org");
	CHECK(p.size == 0 && p.body8 == 0);
	CHECK(mail("from:<alice@example.org>", 0, &p, r, sizeof(r)) == 0);
	/* one space after the colon, as many clients send */
	CHECK(mail("FROM: <alice@example.org>", 1, &p, r, sizeof(r)) == 0);
	CHECK_STR(p.text, "alice@example.org");
	CHECK(mail("FROM:  <alice@example.org>", 1, &p, r, sizeof(r)) == -1);
	CHECK_STR(r, "501 5.1.7 Bad sender address syntax");
	/* the null reverse-path */
	CHECK(mail("FROM:<>", 1, &p, r, sizeof(r)) == 0);
	CHECK(p.addr.null);
	CHECK_STR(p.text, "");
	/* source route accepted and dropped (RFC 5321 C) */
	CHECK(mail("FROM:<@a.example,@b.example:joe@c.example>", 1, &p, r,
	    sizeof(r)) == 0);
	CHECK_STR(p.text, "joe@c.example");
	/* quoted local part is kept quoted */
	CHECK(mail("FROM:<\"john doe\"@example.org>", 1, &p, r,
	    sizeof(r)) == 0);
	CHECK_STR(p.text, "\"john doe\"@example.org");

	CHECK(mail("<alice@example.org>", 1, &p, r, sizeof(r)) == -1);
	CHECK_STR(r, "501 5.5.4 Syntax: MAIL FROM:<address>");
	CHECK(mail("", 1, &p, r, sizeof(r)) == -1);
	CHECK_STR(r, "501 5.5.4 Syntax: MAIL FROM:<address>");
	CHECK(mail("FROM:alice@example.org", 1, &p, r, sizeof(r)) == -1);
	CHECK_STR(r, "501 5.1.7 Bad sender address syntax");
	CHECK(mail("FROM:<alice@example.org", 1, &p, r, sizeof(r)) == -1);
	CHECK_STR(r, "501 5.1.7 Bad sender address syntax");
	CHECK(mail("FROM:<alice>", 1, &p, r, sizeof(r)) == -1);
	CHECK_STR(r, "501 5.1.7 Bad sender address syntax");
	CHECK(mail("FROM:<postmaster>", 1, &p, r, sizeof(r)) == -1);
	CHECK(mail("FROM:<alice@example.org>x", 1, &p, r, sizeof(r)) == -1);
	CHECK_STR(r, "501 5.1.7 Bad sender address syntax");
	CHECK(mail("FROM:<a\x01@example.org>", 1, &p, r, sizeof(r)) == -1);

	/* parameters */
	CHECK(mail("FROM:<a@b.example> SIZE=12345", 1, &p, r, sizeof(r)) ==
	    0);
	CHECK(p.size == 12345);
	CHECK(mail("FROM:<a@b.example> size=10240000 body=8bitmime", 1, &p, r,
	    sizeof(r)) == 0);
	CHECK(p.size == LIMIT && p.body8 == 1);
	CHECK(mail("FROM:<a@b.example>  BODY=7BIT", 1, &p, r, sizeof(r)) ==
	    0);
	CHECK(p.body8 == 0);
	CHECK(mail("FROM:<a@b.example> SIZE=10240001", 1, &p, r,
	    sizeof(r)) == -1);
	CHECK_STR(r, "552 5.3.4 Message size exceeds fixed limit");
	CHECK(mail("FROM:<a@b.example> SIZE=99999999999999999999", 1, &p, r,
	    sizeof(r)) == -1);
	CHECK_STR(r, "552 5.3.4 Message size exceeds fixed limit");
	CHECK(cmd_mail_args("FROM:<a@b.example> SIZE=99999999999", 1, 0, &p,
	    r, sizeof(r)) == 0);	/* no limit */
	CHECK(mail("FROM:<a@b.example> SIZE=12x", 1, &p, r, sizeof(r)) == -1);
	CHECK_STR(r, "501 5.5.4 Bad SIZE parameter syntax");
	CHECK(mail("FROM:<a@b.example> SIZE", 1, &p, r, sizeof(r)) == -1);
	CHECK_STR(r, "501 5.5.4 Bad SIZE parameter syntax");
	CHECK(mail("FROM:<a@b.example> SIZE=1 SIZE=2", 1, &p, r,
	    sizeof(r)) == -1);
	CHECK_STR(r, "501 5.5.4 Syntax error in parameters");
	CHECK(mail("FROM:<a@b.example> BODY=BINARYMIME", 1, &p, r,
	    sizeof(r)) == -1);
	CHECK_STR(r, "555 5.5.4 Unsupported option: BODY=BINARYMIME");
	/* SMTPUTF8 and DSN are offered now (test_smtpd_params.c); after
	 * HELO they are still no parameters at all. */
	CHECK(mail("FROM:<a@b.example> SMTPUTF8", 0, &p, r, sizeof(r)) ==
	    -1);
	CHECK_STR(r, "555 5.5.4 Unsupported option: SMTPUTF8");
	CHECK(mail("FROM:<a@b.example> RET=HDRS ENVID=x", 0, &p, r,
	    sizeof(r)) == -1);
	CHECK_STR(r, "555 5.5.4 Unsupported option: RET=HDRS");
	CHECK(mail("FROM:<a@b.example> =x", 1, &p, r, sizeof(r)) == -1);
	CHECK_STR(r, "501 5.5.4 Syntax error in parameters");
	CHECK(mail("FROM:<a@b.example> X=", 1, &p, r, sizeof(r)) == -1);
	CHECK_STR(r, "501 5.5.4 Syntax error in parameters");
	CHECK(mail("FROM:<a@b.example> -X=1", 1, &p, r, sizeof(r)) == -1);
	CHECK_STR(r, "501 5.5.4 Syntax error in parameters");
	CHECK(mail("FROM:<a@b.example> X=a=b", 1, &p, r, sizeof(r)) == -1);
	CHECK_STR(r, "501 5.5.4 Syntax error in parameters");
	CHECK(mail("FROM:<a@b.example> X=\x7f", 1, &p, r, sizeof(r)) == -1);
	CHECK_STR(r, "501 5.5.4 Syntax error in parameters");
	/* no parameters after HELO (RFC 5321 4.1.1.2) */
	CHECK(mail("FROM:<a@b.example> SIZE=10", 0, &p, r, sizeof(r)) == -1);
	CHECK_STR(r, "555 5.5.4 Unsupported option: SIZE=10");
}

static void
test_rcpt(void)
{
	struct smtpd_path p;
	char	 r[SMTPD_REPLY_MAX + 1];

	CHECK(cmd_rcpt_args("TO:<Bob@Example.Org>", &p, r, sizeof(r)) == 0);
	CHECK_STR(p.text, "Bob@example.org");
	CHECK(cmd_rcpt_args("to: <bob@example.org>", &p, r, sizeof(r)) == 0);
	CHECK(cmd_rcpt_args("TO:<Postmaster>", &p, r, sizeof(r)) == 0);
	CHECK_STR(p.text, "postmaster");
	CHECK(cmd_rcpt_args("TO:<@relay.example:bob@example.org>", &p, r,
	    sizeof(r)) == 0);
	CHECK_STR(p.text, "bob@example.org");
	CHECK(cmd_rcpt_args("TO:<bob@[192.0.2.1]>", &p, r, sizeof(r)) == 0);
	CHECK(cmd_rcpt_args("TO:<>", &p, r, sizeof(r)) == -1);
	CHECK_STR(r, "501 5.1.3 Bad recipient address syntax");
	CHECK(cmd_rcpt_args("TO:<bob>", &p, r, sizeof(r)) == -1);
	CHECK_STR(r, "501 5.1.3 Bad recipient address syntax");
	CHECK(cmd_rcpt_args("TO:bob@example.org", &p, r, sizeof(r)) == -1);
	CHECK_STR(r, "501 5.1.3 Bad recipient address syntax");
	CHECK(cmd_rcpt_args("<bob@example.org>", &p, r, sizeof(r)) == -1);
	CHECK_STR(r, "501 5.5.4 Syntax: RCPT TO:<address>");
	CHECK(cmd_rcpt_args("FROM:<bob@example.org>", &p, r, sizeof(r)) ==
	    -1);
	CHECK_STR(r, "501 5.5.4 Syntax: RCPT TO:<address>");
	CHECK(cmd_rcpt_params("TO:<bob@example.org> NOTIFY=NEVER", 0, 0, &p,
	    r, sizeof(r)) == -1);
	CHECK_STR(r, "555 5.5.4 Unsupported option: NOTIFY=NEVER");
	CHECK(cmd_rcpt_args("TO:<bob@example.org> X-FOO=1", &p, r,
	    sizeof(r)) == -1);
	CHECK_STR(r, "555 5.5.4 Unsupported option: X-FOO=1");
	CHECK(cmd_rcpt_args("TO:<bob@example.org> a=\x01", &p, r,
	    sizeof(r)) == -1);
	CHECK_STR(r, "501 5.5.4 Syntax error in parameters");
	CHECK(cmd_rcpt_args("TO:<bob@example.org>\r\nRSET", &p, r,
	    sizeof(r)) == -1);
	CHECK(cmd_rcpt_args("TO:<bob\n@example.org>", &p, r, sizeof(r)) ==
	    -1);
	CHECK_STR(r, "501 5.1.3 Bad recipient address syntax");
}

static void
test_helo(void)
{
	char	 big[400];

	CHECK(cmd_helo_valid("mail.example.org"));
	CHECK(cmd_helo_valid("localhost"));
	CHECK(cmd_helo_valid("[192.0.2.1]"));
	CHECK(cmd_helo_valid("[IPv6:2001:db8::1]"));
	CHECK(cmd_helo_valid("DESKTOP_4F2.corp.example"));
	CHECK(cmd_helo_valid("my_pc"));
	CHECK(!cmd_helo_valid(""));
	CHECK(!cmd_helo_valid("a..b"));
	CHECK(!cmd_helo_valid("a b"));
	CHECK(!cmd_helo_valid("a.b."));
	CHECK(!cmd_helo_valid("-a.b"));
	CHECK(!cmd_helo_valid("[192.0.2.1"));
	CHECK(!cmd_helo_valid("[192_0.2.1]"));
	CHECK(!cmd_helo_valid("a.b;rm"));
	CHECK(!cmd_helo_valid("a\x01.b"));
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(!cmd_helo_valid(big));
	big[300] = '_';
	CHECK(!cmd_helo_valid(big));
}

static void
test_reply_text(void)
{
	char	 big[600];

	CHECK(reply_text_valid("550 5.1.1 <bob@example.org>: Recipient "
	    "address rejected: User unknown"));
	CHECK(reply_text_valid("452 4.3.1 Insufficient system storage"));
	CHECK(reply_text_valid("451 x"));
	CHECK(!reply_text_valid("250 2.0.0 Ok"));	/* E is a refusal */
	CHECK(!reply_text_valid("55 5.1.1 x"));
	CHECK(!reply_text_valid("550-5.1.1 x"));
	CHECK(!reply_text_valid("550 x\r\n250 ok"));
	CHECK(!reply_text_valid("550 x\x7f"));
	CHECK(!reply_text_valid("550 \xc3\xa9"));
	CHECK(!reply_text_valid(""));
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "550 ", 4);
	CHECK(!reply_text_valid(big));
	big[SMTPD_REPLY_MAX] = '\0';
	CHECK(reply_text_valid(big));
}

/* ---- DATA ---- */

/* Lines through the state machine alone. */
static void
test_data_line(void)
{
	struct data_state d;
	struct buf	 out = BUF_INIT;

	data_init(&d, 1000, 0);
	CHECK(data_line(&d, "Subject: x\r\n", 12, 0, &out) == 0);
	CHECK(data_line(&d, "\r\n", 2, 0, &out) == 0);
	CHECK(data_line(&d, "..hidden\r\n", 10, 0, &out) == 0);
	CHECK(data_line(&d, "..\r\n", 4, 0, &out) == 0);
	CHECK(data_line(&d, ".x\r\n", 4, 0, &out) == 0);
	CHECK(data_line(&d, ".\r\n", 3, 0, &out) == 1);
	CHECK(d.problem == DATA_OK);
	CHECK_STR(buf_str(&out), "Subject: x\n\n.hidden\n.\nx\n");
	buf_reset(&out);

	/* a bare LF line: flagged, and the ".\r\n" right after it does not
	 * end the data (SMTP smuggling, "\n.\r\n") */
	data_init(&d, 1000, 0);
	CHECK(data_line(&d, "a\n", 2, 0, &out) == 0);
	CHECK(d.problem == DATA_BARE);
	CHECK(data_line(&d, ".\r\n", 3, 0, &out) == 0);
	CHECK(data_line(&d, "MAIL FROM:<x@y.z>\r\n", 19, 0, &out) == 0);
	CHECK(data_line(&d, ".\r\n", 3, 0, &out) == 1);
	CHECK(d.problem == DATA_BARE);

	/* ".\n" never ends it */
	data_init(&d, 1000, 0);
	CHECK(data_line(&d, ".\n", 2, 0, &out) == 0);
	CHECK(d.problem == DATA_BARE);
	/* "\r.\r\n": a bare CR inside a line */
	data_init(&d, 1000, 0);
	CHECK(data_line(&d, "a\r.\r\n", 5, 0, &out) == 0);
	CHECK(d.problem == DATA_BARE);
	CHECK(data_line(&d, ".\r\n", 3, 0, &out) == 1);

	/* NUL */
	data_init(&d, 1000, 0);
	CHECK(data_line(&d, "a\0b\r\n", 5, 0, &out) == 0);
	CHECK(d.problem == DATA_NUL);
	/* the first problem is the one reported */
	CHECK(data_line(&d, "a\n", 2, 0, &out) == 0);
	CHECK(d.problem == DATA_NUL);

	/* line length: 10 octets with CRLF allowed, plus a stuffed dot */
	data_init(&d, 10, 0);
	buf_reset(&out);
	CHECK(data_line(&d, "12345678\r\n", 10, 0, &out) == 0);
	CHECK(data_line(&d, "..2345678\r\n", 11, 0, &out) == 0);
	CHECK(d.problem == DATA_OK);
	CHECK_STR(buf_str(&out), "12345678\n.2345678\n");
	CHECK(data_line(&d, "123456789\r\n", 11, 0, &out) == 0);
	CHECK(d.problem == DATA_LONG);
	data_init(&d, 10, 0);
	CHECK(data_line(&d, "\r\n", 2, 1, &out) == 0);	/* cut by reader */
	CHECK(d.problem == DATA_LONG);
	CHECK(data_line(&d, ".\r\n", 3, 0, &out) == 1);
	data_init(&d, 10, 0);
	CHECK(data_line(&d, "\n", 1, 1, &out) == 0);	/* ...bare LF end */
	CHECK(data_line(&d, ".\r\n", 3, 0, &out) == 0);

	/* size */
	data_init(&d, 1000, 10);
	buf_reset(&out);
	CHECK(data_line(&d, "1234\r\n", 6, 0, &out) == 0);
	CHECK(data_line(&d, "12\r\n", 4, 0, &out) == 0);
	CHECK(d.problem == DATA_OK);
	CHECK(data_line(&d, "1\r\n", 3, 0, &out) == 0);
	CHECK(d.problem == DATA_SIZE);
	CHECK_STR(buf_str(&out), "1234\n12\n");
	CHECK(data_line(&d, ".\r\n", 3, 0, &out) == 1);
	buf_free(&out);
}

/*
 * The reader and the state machine together on a pipe, as smtpd runs
 * them: ended is 1 when CRLF.CRLF was found (and then rest is what is left
 * in the input, i.e. the next commands), problem and the message out.
 */
struct run {
	int		 ended;
	enum data_problem problem;
	char		 msg[8192];
	char		 rest[256];
	int		 nlines;
};

static void
run_data(const char *in, size_t len, size_t limit, struct run *r)
{
	struct data_state d;
	struct io	 io;
	struct buf	 out = BUF_INIT, line = BUF_INIT;
	int		 p[2], toolong, g;

	memset(r, 0, sizeof(*r));
	if (pipe(p) == -1 || write(p[1], in, len) != (ssize_t)len)
		abort();
	close(p[1]);
	io_init(&io, p[0], 2000, 4096);
	buf_init(&line, limit + 4);
	data_init(&d, limit, 0);
	while ((g = data_getline(&io, NULL, &line, limit + 1, &toolong)) ==
	    1) {
		r->nlines++;
		if (data_line(&d, line.data, line.len, toolong, &out) == 1) {
			r->ended = 1;
			break;
		}
	}
	r->problem = d.problem;
	snprintf(r->msg, sizeof(r->msg), "%s", buf_str(&out));
	/* what follows the data: read by the command loop next */
	while (io_getline(&io, &line, 200) == IO_LINE_OK)
		strlcat(r->rest, buf_str(&line), sizeof(r->rest));
	io_free(&io);
	close(p[0]);
	buf_free(&out);
	buf_free(&line);
}

#define RUN(s, lim, r)	run_data((s), sizeof(s) - 1, (lim), (r))

static void
test_data_stream(void)
{
	struct run	 r;
	char		*big;
	size_t		 i;

	RUN("a\r\n.b\r\n\r\n.\r\nQUIT\r\n", 1000, &r);
	CHECK(r.ended && r.problem == DATA_OK);
	CHECK_STR(r.msg, "a\nb\n\n");
	CHECK_STR(r.rest, "QUIT\r\n");

	/* the smuggling forms: none of them ends the data */
	RUN("a\n.\nMAIL FROM:<x@y.z>\r\n.\r\nQUIT\r\n", 1000, &r);
	CHECK(r.ended && r.problem == DATA_BARE);
	CHECK_STR(r.rest, "QUIT\r\n");
	RUN("a\n.\r\nMAIL FROM:<x@y.z>\r\n.\r\nQUIT\r\n", 1000, &r);
	CHECK(r.ended && r.problem == DATA_BARE);
	CHECK_STR(r.rest, "QUIT\r\n");
	RUN("a\r.\r\nMAIL FROM:<x@y.z>\r\n.\r\nQUIT\r\n", 1000, &r);
	CHECK(r.ended && r.problem == DATA_BARE);
	CHECK_STR(r.rest, "QUIT\r\n");
	RUN("a\r\n.\nMAIL FROM:<x@y.z>\r\n.\r\nQUIT\r\n", 1000, &r);
	CHECK(r.ended && r.problem == DATA_BARE);
	CHECK_STR(r.rest, "QUIT\r\n");
	/* and without a proper end, no end at all */
	RUN("a\n.\n", 1000, &r);
	CHECK(!r.ended);

	/* the very first line may end it (an empty message) */
	RUN(".\r\n", 1000, &r);
	CHECK(r.ended && r.problem == DATA_OK && r.msg[0] == '\0');

	/* NUL */
	RUN("a\0b\r\n.\r\n", 1000, &r);
	CHECK(r.ended && r.problem == DATA_NUL);

	/* long lines: the reader keeps how they ended */
	big = malloc(6000);
	for (i = 0; i < 5000; i++)
		big[i] = 'x';
	memcpy(big + 5000, "\r\n.\r\nQUIT\r\n", 11);
	run_data(big, 5011, 1000, &r);
	CHECK(r.ended && r.problem == DATA_LONG);
	CHECK(r.nlines == 2);
	CHECK_STR(r.rest, "QUIT\r\n");
	memcpy(big + 5000, "\n.\r\nx\r\n.\r\n", 10);
	run_data(big, 5010, 1000, &r);
	CHECK(r.ended && r.problem == DATA_LONG);
	CHECK(r.nlines == 4);	/* "\n.\r\n" after a long line: no end */
	/* exactly at the limit: 998 + CRLF = 1000, then 1001 */
	memcpy(big + 998, "\r\n.\r\n", 5);
	run_data(big, 1003, 1000, &r);
	CHECK(r.ended && r.problem == DATA_OK && strlen(r.msg) == 999);
	memset(big, 'x', 6000);
	memcpy(big + 999, "\r\n.\r\n", 5);
	run_data(big, 1004, 1000, &r);
	CHECK(r.ended && r.problem == DATA_LONG);
	/* a long line whose CR is the last byte of one read (io.in holds
	 * 4096) and its LF the first of the next: still a CRLF ending */
	memset(big, 'x', 6000);
	memcpy(big + 4095, "\r\n.\r\nQUIT\r\n", 11);
	run_data(big, 4106, 1000, &r);
	CHECK(r.ended && r.problem == DATA_LONG && r.nlines == 2);
	CHECK_STR(r.rest, "QUIT\r\n");
	memset(big, 'x', 6000);
	/* the stuffed dot does not count towards the limit */
	big[0] = '.';
	big[1] = '.';
	memcpy(big + 1000, "\r\n.\r\n", 5);	/* 1002 with the dot */
	run_data(big, 1005, 1000, &r);
	CHECK(r.ended && r.problem == DATA_LONG);
	memset(big + 2, 'x', 1100);
	memcpy(big + 999, "\r\n.\r\n", 5);	/* 1001 with the dot: ok */
	run_data(big, 1004, 1000, &r);
	CHECK(r.ended && r.problem == DATA_OK && strlen(r.msg) == 999);
	free(big);

	/* EOF in the middle */
	RUN("a\r\nb", 1000, &r);
	CHECK(!r.ended && r.nlines == 1);
}

int
main(void)
{
	test_line_check();
	test_parse();
	test_mail();
	test_rcpt();
	test_helo();
	test_reply_text();
	test_data_line();
	test_data_stream();
	return harness_done();
}
