/*
 * fuzz_headers.c: libFuzzer harness for sendmail/headers.c, the header
 * block of "sendmail -t" (DESIGN.md: the envelope from To, Cc and Bcc,
 * groups included; Bcc removed; an empty Bcc: when no destination field
 * remains).
 *
 * Input: a message as sendmail reads it (LF line endings, any bytes). It is
 * split with headers_parse(), its recipients taken with
 * headers_recipients(), and then sendmail's own Bcc step is done (the lines
 * of sendmail.c that call headers_remove() and headers_add()).
 *
 * Properties:
 *  - the body offset lies inside the input; no more fields than lines;
 *  - recipients are bounded (each costs at least one input byte), fit
 *    ADDR_TEXT_MAX, appear once each, and each re-parses with
 *    addr_parse_mailbox() (ADDR_UTF8, as alist_add() parses them): what
 *    goes into RCPT TO is an address smtpd will take;
 *  - a failure says why;
 *  - the message written out (fields, the empty line, the body) has no
 *    Bcc: or Resent-Bcc: field with content, read back with the same
 *    parser, which also finds the same fields again: a Bcc address never
 *    reaches the recipients.
 */
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "buf.h"
#include "fuzz.h"
#include "../../sendmail/sendmail.h"

#define FUZZ_DOMAIN	"fuzz.test"

/* Is field text (as stored) a Bcc or Resent-Bcc with something after the
 * colon other than blanks? */
static int
bcc_with_content(const struct hdr *h)
{
	const char	*p;

	if (!((h->namelen == 3 && strncasecmp(h->text, "Bcc", 3) == 0) ||
	    (h->namelen == 10 && strncasecmp(h->text, "Resent-Bcc", 10) == 0)))
		return 0;
	p = strchr(h->text, ':');
	FUZZ_CHECK(p != NULL);
	for (p++; *p != '\0'; p++)
		if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			return 1;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct headers	 hs, again;
	struct alist	 rcpts;
	struct buf	 bad = BUF_INIT, out = BUF_INIT;
	struct addr	 a;
	const char	*msg = (const char *)data, *why;
	size_t		 body = 0, body2 = 0, i, j, lines;
	int		 r;

	headers_init(&hs);
	alist_init(&rcpts);
	if (headers_parse(&hs, msg, size, &body) == -1)
		goto out;	/* ENOMEM only */
	FUZZ_CHECK(body <= size);
	for (lines = 1, i = 0; i < size; i++)
		lines += msg[i] == '\n';
	FUZZ_CHECK(hs.n <= lines);

	why = NULL;
	r = headers_recipients(&hs, FUZZ_DOMAIN, &rcpts, &bad, &why);
	if (r == 0) {
		FUZZ_CHECK(rcpts.n <= size);
		for (i = 0; i < rcpts.n; i++) {
			FUZZ_CHECK(strlen(rcpts.a[i]) < ADDR_TEXT_MAX);
			why = NULL;
			if (addr_parse_mailbox(rcpts.a[i], ADDR_UTF8, &a,
			    &why) != 0) {
				fprintf(stderr, "recipient [%s]: %s\n",
				    rcpts.a[i], why);
				FUZZ_CHECK(!"recipient re-parses");
			}
			for (j = 0; j < i; j++)
				FUZZ_CHECK(strcmp(rcpts.a[i], rcpts.a[j]) != 0);
		}
	} else
		FUZZ_CHECK(why != NULL && *why != '\0');

	/* sendmail.c's Bcc step, then the message as it is sent. */
	headers_remove(&hs, "Bcc");
	headers_remove(&hs, "Resent-Bcc");
	if (!headers_has(&hs, "To") && !headers_has(&hs, "Cc") &&
	    headers_add(&hs, "Bcc:") == -1)
		goto out;
	for (i = 0; i < hs.n; i++) {
		FUZZ_CHECK(!bcc_with_content(&hs.h[i]));
		if (buf_adds(&out, hs.h[i].text) == -1 ||
		    buf_add(&out, "\n", 1) == -1)
			goto out;
	}
	if (buf_add(&out, "\n", 1) == -1 ||
	    buf_add(&out, msg + body, size - body) == -1)
		goto out;
	headers_init(&again);
	if (headers_parse(&again, out.data, out.len, &body2) == 0) {
		FUZZ_CHECK(again.n == hs.n);
		for (i = 0; i < again.n; i++) {
			FUZZ_CHECK(!bcc_with_content(&again.h[i]));
			FUZZ_CHECK(strcmp(again.h[i].text, hs.h[i].text) == 0);
		}
	}
	headers_free(&again);
out:
	headers_free(&hs);
	alist_free(&rcpts);
	buf_free(&bad);
	buf_free(&out);
	return 0;
}
