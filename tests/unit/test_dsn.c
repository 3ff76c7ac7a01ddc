/*
 * test_dsn.c: common/dsn.c: the RFC 3464 report's header and its three
 * parts; ENVID and ORCPT decoded from xtext; RET=HDRS keeping only the
 * original's header; agent text with CR/LF that cannot start a line.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dsn.h"
#include "harness.h"

static int
has(const struct buf *b, const char *s)
{
	return memmem(b->data, b->len, s, strlen(s)) != NULL;
}

int
main(void)
{
	static const char orig[] = "Received: x\nSubject: hi\n\nsecret body\n";
	struct dsn_report r;
	struct dsn_rcpt	 rc[2];
	struct buf	 b = BUF_INIT;

	memset(&r, 0, sizeof(r));
	r.id = "AAAA";
	r.orig_id = "BBBB";
	r.hostname = "mx.test";
	r.to = "s@example.org";
	r.envid = "env+3Done";
	r.arrival = 1000000000;
	r.now = 1000000100;
	r.orig = orig;
	r.orig_len = sizeof(orig) - 1;
	memset(rc, 0, sizeof(rc));
	rc[0].final = "a@mx.test";
	rc[0].orcpt = "rfc822;orig+2Bx@example.org";
	rc[0].action = DSN_FAILED;
	rc[0].code = "5.1.1";
	rc[0].text = "no\r\nSubject: forged\nBcc: x";
	rc[1].final = "b@mx.test";
	rc[1].orcpt = "";
	rc[1].action = DSN_DELIVERED;
	rc[1].code = "2.0.0";
	rc[1].text = "delivered to maildir";

	CHECK(dsn_format(&b, &r, rc, 2) == 0);
	CHECK(buf_addc(&b, '\0') == 0);
	CHECK(strncmp(b.data, "From: MAILER-DAEMON@mx.test", 27) == 0);
	CHECK(has(&b, "\nTo: <s@example.org>\n"));
	CHECK(has(&b, "\nSubject: Undelivered Mail Returned to Sender\n"));
	CHECK(has(&b, "\nAuto-Submitted: auto-replied\n"));
	CHECK(has(&b, "\nMessage-ID: <AAAA@mx.test>\n"));
	CHECK(has(&b, "report-type=delivery-status"));
	CHECK(has(&b, "\nReporting-MTA: dns; mx.test\n"));
	CHECK(has(&b, "\nX-Postern-Queue-ID: BBBB\n"));
	CHECK(has(&b, "\nOriginal-Envelope-Id: env=one\n"));
	CHECK(has(&b, "\nOriginal-Recipient: rfc822;orig+x@example.org\n"));
	CHECK(has(&b, "\nFinal-Recipient: rfc822; a@mx.test\nAction: failed\n"
	    "Status: 5.1.1\n"));
	CHECK(has(&b, "\nAction: delivered\nStatus: 2.0.0\n"));
	/* the agent's CR/LF never start a header line of their own */
	CHECK(!has(&b, "\nSubject: forged"));
	CHECK(!has(&b, "\nBcc:"));
	CHECK(has(&b, "Diagnostic-Code: x-unix; no  Subject: forged Bcc: x\n"));
	/* a local agent's failure names no remote MTA */
	CHECK(!has(&b, "Remote-MTA:"));
	/* RET=HDRS (full 0): the header and its blank line, no body */
	CHECK(has(&b, "Content-Type: text/rfc822-headers\n\nReceived: x\n"
	    "Subject: hi\n\n"));
	CHECK(!has(&b, "secret body"));
	CHECK(has(&b, "\n--AAAA/mx.test--\n"));

	/* a remote server's reply: Remote-MTA and an smtp diagnostic
	 * (RFC 3464 2.3.5, 2.3.6), its CR/LF flattened */
	buf_reset(&b);
	rc[0].mta = "mx1.example.org\nX-Evil: 1";
	rc[0].text = "550 5.1.1 <a@mx.test>: Recipient address rejected";
	CHECK(dsn_format(&b, &r, rc, 1) == 0);
	CHECK(buf_addc(&b, '\0') == 0);
	CHECK(has(&b, "\nRemote-MTA: dns; mx1.example.org X-Evil: 1\n"));
	CHECK(!has(&b, "\nX-Evil"));
	CHECK(has(&b, "\nDiagnostic-Code: smtp; 550 5.1.1 <a@mx.test>: "
	    "Recipient address rejected\n"));
	rc[0].mta = NULL;

	buf_reset(&b);
	r.full = 1;
	rc[0].action = DSN_DELAYED;
	rc[0].code = "4.2.0";
	r.retry_until = 1000432000;
	CHECK(dsn_format(&b, &r, rc, 1) == 0);
	CHECK(buf_addc(&b, '\0') == 0);
	CHECK(has(&b, "\nSubject: Delayed Mail (still being retried)\n"));
	CHECK(has(&b, "\nAction: delayed\n"));
	CHECK(has(&b, "\nWill-Retry-Until: "));
	CHECK(has(&b, "Content-Type: message/rfc822\n\nReceived: x\n"));
	CHECK(has(&b, "secret body"));

	buf_free(&b);
	return harness_done();
}
