/*
 * dsn.c: the text of a delivery status notification (see dsn.h).
 *
 * Shape (RFC 3464 2, RFC 6522 3): the header (From MAILER-DAEMON, To the
 * original sender, Subject, Date, Message-ID, Auto-Submitted of RFC 3834
 * 5, MIME-Version), then three body parts: text/plain for people,
 * message/delivery-status with one per-message group and one group per
 * recipient, and the original as text/rfc822-headers or message/rfc822.
 * The boundary holds the report's queue ID, which no original can
 * contain on a line of its own with the leading "--" (queue IDs are
 * unique, and made after the original was written).
 *
 * Callers give checked addresses; free texts (the agents' diagnostics)
 * pass through text_clean(), which keeps each one on its header line.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <bsd/string.h>

#include "dsn.h"
#include "xtext.h"

/* RFC 5322 2.1.1: 998 octets a line; a diagnostic is cut well before. */
#define DSN_TEXT_MAX	700

void
dsn_date(char *out, size_t outsz, long long t)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	if (localtime_r(&tt, &tm) == NULL || strftime(out, outsz,
	    "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		strlcpy(out, "Thu, 01 Jan 1970 00:00:00 +0000", outsz);
}

/* Printable ASCII (and UTF-8 bytes) only; every control byte a blank,
 * so neither a CR nor an LF from an agent or a peer can end the line. */
static void
text_clean(char *out, size_t outsz, const char *in)
{
	size_t	 i;

	strlcpy(out, in, outsz);
	if (strlen(out) > DSN_TEXT_MAX)
		out[DSN_TEXT_MAX] = '\0';
	for (i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < ' ' || out[i] == 0x7f)
			out[i] = ' ';
}

static const char *
action_word(int a)
{
	return a == DSN_FAILED ? "failed" : a == DSN_DELAYED ? "delayed" :
	    "delivered";
}

/* Headers only: up to and including the blank line (or all of it). */
static size_t
headers_len(const char *m, size_t n)
{
	const char	*p;

	if (n >= 1 && m[0] == '\n')
		return 1;
	p = memmem(m, n, "\n\n", 2);
	return p == NULL ? n : (size_t)(p - m) + 2;
}

int
dsn_format(struct buf *out, const struct dsn_report *r,
    const struct dsn_rcpt *rc, size_t n)
{
	char		 date[64], arr[64], text[DSN_TEXT_MAX + 1];
	char		 dec[DSN_ORCPT_MAX + 1];
	const char	*subject, *colon, *mta;
	size_t		 i, olen;
	int		 any_failed = 0, any_delayed = 0, e = 0;

	for (i = 0; i < n; i++) {
		any_failed |= rc[i].action == DSN_FAILED;
		any_delayed |= rc[i].action == DSN_DELAYED;
	}
	subject = any_failed ? "Undelivered Mail Returned to Sender" :
	    any_delayed ? "Delayed Mail (still being retried)" :
	    "Successful Mail Delivery Report";
	dsn_date(date, sizeof(date), r->now);
	dsn_date(arr, sizeof(arr), r->arrival);

	/* RFC 3834 5: Auto-Submitted: auto-replied, so responders and
	 * vacation programs do not answer a report. */
	e |= buf_addf(out, "From: MAILER-DAEMON@%s (Mail Delivery System)\n"
	    "To: <%s>\nSubject: %s\nDate: %s\nMessage-ID: <%s@%s>\n"
	    "Auto-Submitted: auto-replied\nMIME-Version: 1.0\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\n"
	    "\tboundary=\"%s/%s\"\n"
	    "Content-Transfer-Encoding: %s\n\n"
	    "This is a MIME-encapsulated message.\n\n",
	    r->hostname, r->to, subject, date, r->id, r->hostname, r->id,
	    r->hostname, r->full && r->eightbit ? "8bit" : "7bit");

	/* 1: for people (RFC 6522 3: the first part is human-readable). */
	e |= buf_addf(out, "--%s/%s\nContent-Description: Notification\n"
	    "Content-Type: text/plain; charset=us-ascii\n\n"
	    "This is the mail system at host %s.\n\n", r->id, r->hostname,
	    r->hostname);
	if (any_failed)
		e |= buf_adds(out, "I'm sorry to have to inform you that your "
		    "message could not\nbe delivered to one or more "
		    "recipients. It's attached below.\n\n");
	else if (any_delayed)
		e |= buf_adds(out, "Your message could not be delivered yet "
		    "to one or more recipients.\nThe mail system will keep "
		    "trying; you need not send it again.\n\n");
	else
		e |= buf_adds(out, "Your message was successfully delivered "
		    "to the destination(s)\nlisted below.\n\n");
	for (i = 0; i < n; i++) {
		text_clean(text, sizeof(text), rc[i].text);
		e |= buf_addf(out, "<%s>: %s (%s %s)\n", rc[i].final,
		    action_word(rc[i].action), rc[i].code, text);
	}

	/* 2: RFC 3464 2.2 per-message fields, then 2.3 per recipient. */
	e |= buf_addf(out, "\n--%s/%s\nContent-Description: Delivery report\n"
	    "Content-Type: message/delivery-status\n\n"
	    "Reporting-MTA: dns; %s\nX-Postern-Queue-ID: %s\n",
	    r->id, r->hostname, r->hostname, r->orig_id);
	/* RFC 3461 4.4: ENVID comes back decoded, as Original-Envelope-Id
	 * (RFC 3464 2.2.1); it is printable ASCII (checked on enqueue). */
	if (r->envid[0] != '\0' && xtext_decode(r->envid, strlen(r->envid),
	    dec, sizeof(dec), NULL) == 0)
		e |= buf_addf(out, "Original-Envelope-Id: %s\n", dec);
	e |= buf_addf(out, "Arrival-Date: %s\n", arr);
	for (i = 0; i < n; i++) {
		e |= buf_adds(out, "\n");
		/* RFC 3464 2.3.1: ORCPT's addr-type and value; an rfc822
		 * value is decoded from its xtext (RFC 3461 4.2). */
		if (rc[i].orcpt[0] != '\0' &&
		    (colon = strchr(rc[i].orcpt, ';')) != NULL) {
			if (strncmp(rc[i].orcpt, "rfc822;", 7) == 0 &&
			    xtext_decode(colon + 1, strlen(colon + 1), dec,
			    sizeof(dec), NULL) == 0)
				e |= buf_addf(out,
				    "Original-Recipient: rfc822;%s\n", dec);
			else
				e |= buf_addf(out, "Original-Recipient: %s\n",
				    rc[i].orcpt);
		}
		e |= buf_addf(out, "Final-Recipient: rfc822; %s\n"
		    "Action: %s\nStatus: %s\n", rc[i].final,
		    action_word(rc[i].action), rc[i].code);
		/* RFC 3464 2.3.5, 2.3.6: a remote server's reply is quoted
		 * as "smtp" and names the server; Postfix's "x-unix" for a
		 * local agent or a failure decided here. */
		mta = rc[i].mta != NULL ? rc[i].mta : "";
		text_clean(text, sizeof(text), mta);
		if (text[0] != '\0')
			e |= buf_addf(out, "Remote-MTA: dns; %s\n", text);
		text_clean(text, sizeof(text), rc[i].text);
		if (text[0] != '\0')
			e |= buf_addf(out, "Diagnostic-Code: %s; %s\n",
			    mta[0] != '\0' ? "smtp" : "x-unix", text);
		e |= buf_addf(out, "Last-Attempt-Date: %s\n", date);
		if (rc[i].action == DSN_DELAYED && r->retry_until > 0) {
			dsn_date(arr, sizeof(arr), r->retry_until);
			e |= buf_addf(out, "Will-Retry-Until: %s\n", arr);
		}
	}

	/* 3: the original, as RET= asked (RFC 3461 4.3, RFC 3464 2). */
	olen = r->full ? r->orig_len : headers_len(r->orig, r->orig_len);
	e |= buf_addf(out, "\n--%s/%s\nContent-Description: %s\n"
	    "Content-Type: %s\n%s\n", r->id, r->hostname,
	    r->full ? "Undelivered Message" : "Undelivered Message Headers",
	    r->full ? "message/rfc822" : "text/rfc822-headers",
	    r->full && r->eightbit ? "Content-Transfer-Encoding: 8bit\n" : "");
	e |= buf_add(out, r->orig, olen);
	if (olen > 0 && r->orig[olen - 1] != '\n')
		e |= buf_adds(out, "\n");
	e |= buf_addf(out, "\n--%s/%s--\n", r->id, r->hostname);
	return e ? -1 : 0;
}
