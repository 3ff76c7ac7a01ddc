/*
 * test_remote_reply.c: common/smtp_reply.c as the remote SMTP client uses
 * it: single and multi-line replies, lines too short for a code ("25"),
 * an empty continuation ("250-"), codes that differ, CR, LF, NUL and ESC
 * inside a line (sanitised to '?', or refused when strict), over-long
 * lines and replies, the enhanced code and its class, the status letter,
 * and the EHLO keywords (SIZE n, PIPELINING, 8BITMIME, SMTPUTF8, STARTTLS,
 * DSN, in any case, never from the first line).
 */
#include <sys/types.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "smtp_reply.h"
#include "harness.h"

/* A reply read from n bytes of wire through a pipe and struct io. */
static int
readn(const char *wire, size_t n, struct smtp_reply *r, int flags)
{
	struct io io;
	int p[2], rc;

	if (pipe(p) == -1 || write(p[1], wire, n) != (ssize_t)n)
		return -99;
	close(p[1]);
	io_init(&io, p[0], 2000, 8192);
	rc = smtp_reply_read(&io, r, flags);
	io_free(&io);
	close(p[0]);
	return rc;
}

static int
rd(const char *wire, struct smtp_reply *r)
{
	return readn(wire, strlen(wire), r, SMTP_REPLY_SANITISE);
}

static void
test_lines(void)
{
	struct smtp_reply r;

	CHECK(rd("220 mx.example ESMTP\r\n", &r) == SMTP_REPLY_OK);
	CHECK(r.code == 220 && r.lines == 1 && r.done);
	CHECK_STR(r.text, "220 mx.example ESMTP");
	CHECK(rd("250-first\r\n250-second\r\n250 last\r\n", &r) ==
	    SMTP_REPLY_OK);
	CHECK(r.code == 250 && r.lines == 3);
	CHECK_STR(r.text, "250-first 250-second 250 last");
	/* a bare code, a bare LF, an empty continuation */
	CHECK(rd("250\n", &r) == SMTP_REPLY_OK && r.code == 250);
	CHECK_STR(r.text, "250");
	CHECK(rd("250-\r\n250 ok\r\n", &r) == SMTP_REPLY_OK);
	CHECK(r.code == 250 && r.lines == 2);
	CHECK_STR(r.text, "250- 250 ok");
	CHECK(rd("354 go\r\n", &r) == SMTP_REPLY_OK && r.code == 354);
	/* shorter than a code, not a code, codes that differ */
	CHECK(rd("25\r\n", &r) == SMTP_REPLY_BAD);
	CHECK(rd("2\r\n", &r) == SMTP_REPLY_BAD);
	CHECK(rd("\r\n", &r) == SMTP_REPLY_BAD);
	CHECK(rd("250-ok\r\n25\r\n", &r) == SMTP_REPLY_BAD);
	CHECK(rd("250-a\r\n251 b\r\n", &r) == SMTP_REPLY_BAD);
	CHECK(rd("250-a\r\n550 b\r\n", &r) == SMTP_REPLY_BAD);
	CHECK(rd("250x\r\n", &r) == SMTP_REPLY_BAD);
	CHECK(rd("2a0 x\r\n", &r) == SMTP_REPLY_BAD);
	CHECK(rd("650 x\r\n", &r) == SMTP_REPLY_BAD);
	CHECK(rd("050 x\r\n", &r) == SMTP_REPLY_BAD);
	CHECK(rd(" 250 x\r\n", &r) == SMTP_REPLY_BAD);
	/* EOF before or inside a reply */
	CHECK(rd("", &r) == SMTP_REPLY_IO);
	CHECK(rd("250-more\r\n", &r) == SMTP_REPLY_IO);
	CHECK(rd("250 no end", &r) == SMTP_REPLY_IO);
}

static void
test_control_bytes(void)
{
	static const char nul[] = "550 5.1.1 a\0b\r\n";
	struct smtp_reply r;

	/* Only LF ends a line: a CR inside cannot start a second reply. */
	CHECK(rd("550 5.1.1 bad\r250 ok\r\n", &r) == SMTP_REPLY_OK);
	CHECK(r.code == 550 && r.lines == 1);
	CHECK_STR(r.text, "550 5.1.1 bad?250 ok");
	CHECK(readn(nul, sizeof(nul) - 1, &r, SMTP_REPLY_SANITISE) ==
	    SMTP_REPLY_OK);
	CHECK_STR(r.text, "550 5.1.1 a?b");
	CHECK(rd("550 x\033[2J\x7f\ty\r\n", &r) == SMTP_REPLY_OK);
	CHECK_STR(r.text, "550 x?[2J??y");
	CHECK(rd("550 x\r\r\n", &r) == SMTP_REPLY_OK);
	CHECK_STR(r.text, "550 x?");
	/* strict (lmtp): refused, a TAB excepted */
	CHECK(readn(nul, sizeof(nul) - 1, &r, SMTP_REPLY_STRICT) ==
	    SMTP_REPLY_BAD);
	CHECK(readn("550 a\rb\r\n", 9, &r, SMTP_REPLY_STRICT) ==
	    SMTP_REPLY_BAD);
	CHECK(readn("550 a\tb\r\n", 9, &r, SMTP_REPLY_STRICT) ==
	    SMTP_REPLY_OK);
	CHECK_STR(r.text, "550 a b");
	/* 8-bit text is kept as it is */
	CHECK(rd("550 caf\xc3\xa9\r\n", &r) == SMTP_REPLY_OK);
	CHECK_STR(r.text, "550 caf\xc3\xa9");
}

static void
test_bounds(void)
{
	struct smtp_reply r;
	char *big;
	size_t i, n;

	/* a line over SMTP_REPLY_LINE_MAX */
	n = SMTP_REPLY_LINE_MAX + 10;
	big = malloc(n + 1);
	memset(big, 'x', n);
	memcpy(big, "250 ", 4);
	memcpy(big + n - 2, "\r\n", 2);
	CHECK(readn(big, n, &r, SMTP_REPLY_SANITISE) == SMTP_REPLY_BAD);
	free(big);
	/* a line just under it: taken, the text cut to 1000 bytes */
	n = SMTP_REPLY_LINE_MAX;
	big = malloc(n + 1);
	memset(big, 'y', n);
	memcpy(big, "250 ", 4);
	memcpy(big + n - 2, "\r\n", 2);
	CHECK(readn(big, n, &r, SMTP_REPLY_SANITISE) == SMTP_REPLY_OK);
	CHECK(strlen(r.text) == SMTP_REPLY_TEXT_MAX - 1 && r.len ==
	    SMTP_REPLY_TEXT_MAX - 1);
	free(big);
	/* more lines than SMTP_REPLY_LINES_MAX */
	n = (SMTP_REPLY_LINES_MAX + 1) * 6;
	big = malloc(n + 1);
	for (i = 0; i < SMTP_REPLY_LINES_MAX; i++)
		memcpy(big + i * 6, "250-x\n", 6);
	memcpy(big + i * 6, "250 x\n", 6);
	CHECK(readn(big, n, &r, SMTP_REPLY_SANITISE) == SMTP_REPLY_BAD);
	free(big);
	/* a line after the last one, fed by hand */
	smtp_reply_init(&r, SMTP_REPLY_SANITISE);
	CHECK(smtp_reply_line(&r, "250 ok", 6) == SMTP_REPLY_OK && r.done);
	CHECK(smtp_reply_line(&r, "250 ok", 6) == SMTP_REPLY_BAD);
}

static void
test_enhanced(void)
{
	struct smtp_reply r;
	char code[SMTP_ENHANCED_MAX];

	CHECK(rd("550 5.1.1 <x@y>: no such user\r\n", &r) == SMTP_REPLY_OK);
	CHECK_STR(r.enhanced, "5.1.1");
	CHECK(smtp_reply_status(&r) == 'D');
	CHECK(smtp_reply_enhanced(&r, code, sizeof(code)) == 0);
	CHECK_STR(code, "5.1.1");
	CHECK(rd("451 4.7.1 greylisted\r\n", &r) == SMTP_REPLY_OK);
	CHECK(smtp_reply_status(&r) == 'Z');
	CHECK(smtp_reply_enhanced(&r, code, sizeof(code)) == 0);
	CHECK_STR(code, "4.7.1");
	CHECK(rd("250-2.0.0 first\r\n250 2.0.0 second\r\n", &r) ==
	    SMTP_REPLY_OK);
	CHECK_STR(r.enhanced, "2.0.0");
	/* none, the wrong class, too many digits, glued to text */
	CHECK(rd("550 no such user\r\n", &r) == SMTP_REPLY_OK);
	CHECK(smtp_reply_enhanced(&r, code, sizeof(code)) == 0);
	CHECK_STR(code, "5.0.0");
	CHECK(rd("550 4.1.1 confused\r\n", &r) == SMTP_REPLY_OK);
	CHECK(smtp_reply_enhanced(&r, code, sizeof(code)) == 0);
	CHECK_STR(code, "5.0.0");
	CHECK(rd("550 5.1.1234 long\r\n", &r) == SMTP_REPLY_OK);
	CHECK_STR(r.enhanced, "");
	CHECK(rd("550 5.1.1x\r\n", &r) == SMTP_REPLY_OK);
	CHECK_STR(r.enhanced, "");
	CHECK(rd("550 5.1\r\n", &r) == SMTP_REPLY_OK);
	CHECK_STR(r.enhanced, "");
	CHECK(rd("421 4.3.2\r\n", &r) == SMTP_REPLY_OK);
	CHECK_STR(r.enhanced, "4.3.2");
	/* not a final reply: no status, no code */
	CHECK(rd("354 go ahead\r\n", &r) == SMTP_REPLY_OK);
	CHECK(smtp_reply_status(&r) == 0);
	CHECK(smtp_reply_enhanced(&r, code, sizeof(code)) == -1);
	/* the code check alone */
	CHECK(smtp_code_valid('K', "2.0.0"));
	CHECK(smtp_code_valid('Z', "4.123.456"));
	CHECK(!smtp_code_valid('Z', "5.0.0"));
	CHECK(!smtp_code_valid('D', "5.0"));
	CHECK(!smtp_code_valid('D', "5.0.0 "));
	CHECK(!smtp_code_valid('X', "5.0.0"));
	CHECK(!smtp_code_valid('D', ""));
}

static void
test_ehlo(void)
{
	struct smtp_reply r;
	unsigned long long size = 99;

	CHECK(rd("250-mx.example greets you\r\n250-SIZE 35882577\r\n"
	    "250-8BITMIME\r\n250-PIPELINING\r\n250-SMTPUTF8\r\n"
	    "250-STARTTLS\r\n250-DSN\r\n250 ENHANCEDSTATUSCODES\r\n", &r) ==
	    SMTP_REPLY_OK);
	CHECK(r.ext == (SMTP_EXT_SIZE | SMTP_EXT_8BITMIME |
	    SMTP_EXT_PIPELINING | SMTP_EXT_SMTPUTF8 | SMTP_EXT_STARTTLS |
	    SMTP_EXT_DSN));
	CHECK(r.size == 35882577ULL);
	/* case-insensitive; SIZE without a number; the first line is the
	 * server's name, never a keyword */
	CHECK(rd("250-PIPELINING\r\n250-size\r\n250 starttls\r\n", &r) ==
	    SMTP_REPLY_OK);
	CHECK(r.ext == (SMTP_EXT_SIZE | SMTP_EXT_STARTTLS));
	CHECK(r.size == 0);
	/* a keyword only as a whole word */
	CHECK(rd("250-x\r\n250-8BITMIMEX\r\n250-DSNX\r\n250 XSTARTTLS\r\n",
	    &r) == SMTP_REPLY_OK);
	CHECK(r.ext == 0);
	/* SIZE with junk, or too big a number: no limit */
	CHECK(smtp_ehlo_keyword("SIZE 12x", 8, &size) == SMTP_EXT_SIZE &&
	    size == 0);
	size = 99;
	CHECK(smtp_ehlo_keyword("SIZE 99999999999999999999999", 27, &size) ==
	    SMTP_EXT_SIZE && size == 0);
	CHECK(smtp_ehlo_keyword("SIZE 0", 6, &size) == SMTP_EXT_SIZE &&
	    size == 0);
	CHECK(smtp_ehlo_keyword("SIZE 1000", 9, &size) == SMTP_EXT_SIZE &&
	    size == 1000);
	CHECK(smtp_ehlo_keyword("Pipelining", 10, NULL) ==
	    SMTP_EXT_PIPELINING);
	CHECK(smtp_ehlo_keyword("SMTPUTF8", 8, NULL) == SMTP_EXT_SMTPUTF8);
	CHECK(smtp_ehlo_keyword("AUTH PLAIN", 10, NULL) == 0);
	CHECK(smtp_ehlo_keyword("", 0, NULL) == 0);
}

int
main(void)
{
	test_lines();
	test_control_bytes();
	test_bounds();
	test_enhanced();
	test_ehlo();
	return harness_done();
}
