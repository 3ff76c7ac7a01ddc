/*
 * test_sendmail_headers.c: sendmail/headers.c, the header block and the
 * RFC 5322 address lists of sendmail -t (RFC 2821 appendix B): folding,
 * groups, comments, quoted display names, encoded words, repeated fields,
 * Resent-* left alone, unqualified names, bad addresses.
 */
#include <stdio.h>
#include <string.h>
#include <bsd/string.h>

#include "harness.h"
#include "../../sendmail/sendmail.h"

/* The -t recipients of msg, joined by blanks; "ERR" on an error. */
static const char *
rcpts(const char *msg)
{
	static char	 out[2048];
	struct headers	 hs;
	struct alist	 l;
	struct buf	 bad = BUF_INIT;
	const char	*why;
	size_t		 body, i;

	headers_init(&hs);
	alist_init(&l);
	out[0] = '\0';
	if (headers_parse(&hs, msg, strlen(msg), &body) == -1 ||
	    headers_recipients(&hs, "mx.test", &l, &bad, &why) == -1)
		snprintf(out, sizeof(out), "ERR");
	else
		for (i = 0; i < l.n; i++) {
			if (i > 0)
				strlcat(out, " ", sizeof(out));
			strlcat(out, l.a[i], sizeof(out));
		}
	alist_free(&l);
	headers_free(&hs);
	buf_free(&bad);
	return out;
}

int
main(void)
{
	struct headers	 hs;
	struct buf	 v = BUF_INIT;
	size_t		 body;
	const char	*m;

	CHECK_STR(rcpts("To: a@x.test\n\nbody\n"), "a@x.test");
	CHECK_STR(rcpts("To: Alice <a@x.test>, \"Bob, B.\" <b@y.test>\n\n"),
	    "a@x.test b@y.test");
	CHECK_STR(rcpts("To: a@x.test (Alice (the) \\) one)\n\n"), "a@x.test");
	CHECK_STR(rcpts("To: =?UTF-8?B?w6lsb2k=?= <e@x.test>\n\n"),
	    "e@x.test");
	/* folding */
	CHECK_STR(rcpts("To: a@x.test,\n b@x.test,\n\tc@x.test\nCc: d@x.test\n"
	    "\n"), "a@x.test b@x.test c@x.test d@x.test");
	/* groups: members are recipients; an empty group adds nobody */
	CHECK_STR(rcpts("To: friends: a@x.test, B <b@x.test>;, c@x.test\n\n"),
	    "a@x.test b@x.test c@x.test");
	CHECK_STR(rcpts("To: undisclosed-recipients:;\nBcc: z@x.test\n\n"),
	    "z@x.test");
	/* repeated fields, duplicates once, unqualified names, quoted local */
	CHECK_STR(rcpts("To: a@x.test\nTo: bob\ncc: A@x.test\nBCC: a@x.test\n\n"),
	    "a@x.test bob@mx.test A@x.test");
	CHECK_STR(rcpts("To: \"john doe\"@x.test\n\n"), "\"john doe\"@x.test");
	/* a source route is reduced to its mailbox */
	CHECK_STR(rcpts("To: <@r.test,@s.test:a@x.test>\n\n"), "a@x.test");
	/* Resent-* and other fields give no recipients */
	CHECK_STR(rcpts("Resent-To: r@x.test\nFrom: f@x.test\nTo: t@x.test\n\n"),
	    "t@x.test");
	/* the body is not headers */
	CHECK_STR(rcpts("Subject: s\n\nTo: no@x.test\n"), "");
	CHECK_STR(rcpts("not a header\nTo: no@x.test\n"), "");
	/* bad ones are errors, not guesses */
	CHECK_STR(rcpts("To: John Smith\n\n"), "ERR");
	CHECK_STR(rcpts("To: <a@x.test\n\n"), "ERR");
	CHECK_STR(rcpts("To: \"open <a@x.test>\n\n"), "ERR");
	CHECK_STR(rcpts("To: a@x.test (open\n\n"), "ERR");
	CHECK_STR(rcpts("To: <;touch /tmp/x;>\n\n"), "ERR");

	/* the block: body offset, folds kept, removal, adding */
	m = "To: a@x.test\nSubject: one\n two\nBcc: b@x.test\nbcc: c@x\n\nbody\n";
	headers_init(&hs);
	CHECK(headers_parse(&hs, m, strlen(m), &body) == 0);
	CHECK(strcmp(m + body, "body\n") == 0);
	CHECK(hs.n == 4);
	CHECK_STR(hs.h[1].text, "Subject: one\n two");
	headers_value(&hs, 1, &v);
	CHECK_STR(buf_str(&v), " one  two");
	CHECK(headers_remove(&hs, "BCC") == 2);
	CHECK(hs.n == 2 && !headers_has(&hs, "Bcc") && headers_has(&hs, "to"));
	CHECK(headers_add(&hs, "Bcc:") == 0 && headers_has(&hs, "Bcc"));
	CHECK(headers_add(&hs, "no colon") == -1);
	headers_free(&hs);
	/* no empty line: EOF ends the block; CRLF input */
	m = "To: a@x.test\r\nSubject: s\r\n";
	headers_init(&hs);
	CHECK(headers_parse(&hs, m, strlen(m), &body) == 0 &&
	    body == strlen(m) && hs.n == 2);
	headers_free(&hs);
	m = "Subject: s\r\n\r\nb";
	headers_init(&hs);
	CHECK(headers_parse(&hs, m, strlen(m), &body) == 0 &&
	    strcmp(m + body, "b") == 0);
	headers_free(&hs);
	buf_free(&v);
	return harness_done();
}
