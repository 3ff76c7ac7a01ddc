/*
 * loop.c: is this message going round in circles? (loop.h)
 *
 * Two signs, as qmail and Postfix look for them: our own Delivered-To:
 * line for this very recipient already in the header (the message was
 * delivered here and came back, through a forward or an alias that points
 * outwards), and a Received: count no honest path reaches. Either is a
 * permanent failure, 5.4.6 (RFC 3463: routing loop detected), so the
 * sender hears of it once instead of the loop going on.
 *
 * Only the header section is read, and at most LOOP_HEADER_MAX bytes of it:
 * a body line "Delivered-To: x" is text, not a header, and a huge message
 * costs no more than a small one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "loop.h"

/* The header field name at line (length len) is name, colon after it
 * (RFC 5322 2.2: optional blanks before the colon are obsolete syntax but
 * still seen). Returns the value's start, or NULL. */
static const char *
loop_field(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name), i;

	if (len < n + 1 || strncasecmp(line, name, n) != 0)
		return NULL;
	for (i = n; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	if (i >= len || line[i] != ':')
		return NULL;
	return line + i + 1;
}

/* A Delivered-To: value (one line; folding is not worth following for a
 * value we wrote ourselves on one line) names the recipient? */
static int
loop_same_rcpt(const char *v, const char *end, const char *rcpt)
{
	size_t rlen = strlen(rcpt);

	while (v < end && (*v == ' ' || *v == '\t' || *v == '<'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t' ||
	    end[-1] == '>' || end[-1] == '\r'))
		end--;
	return (size_t)(end - v) == rlen && rlen > 0 &&
	    strncasecmp(v, rcpt, rlen) == 0;
}

int
loop_check(int msgfd, off_t size, const char *recipient, struct outcome *o)
{
	const char *p, *end, *nl, *v;
	char *h;
	off_t off;
	size_t want, got = 0;
	ssize_t n;
	int received = 0, rc = 0;

	if ((off = lseek(msgfd, 0, SEEK_CUR)) == -1) {
		outcome_set(o, 'Z', "4.3.0", "message seek: %s",
		    strerror(errno));
		return -1;
	}
	want = size < LOOP_HEADER_MAX ? (size_t)size : LOOP_HEADER_MAX;
	if ((h = malloc(want + 1)) == NULL) {
		outcome_set(o, 'Z', "4.3.0", "out of memory");
		return -1;
	}
	while (got < want) {
		n = pread(msgfd, h + got, want - got, off + (off_t)got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			outcome_set(o, 'Z', "4.3.0", "message read: %s",
			    n == 0 ? "short message" : strerror(errno));
			free(h);
			return -1;
		}
		got += (size_t)n;
	}
	for (p = h, end = h + got; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		/* An empty line ends the header section (RFC 5322 2.1). */
		if (nl == p || (nl == p + 1 && *p == '\r'))
			break;
		if (loop_field(p, (size_t)(nl - p), "Received") != NULL &&
		    ++received > LOOP_RECEIVED_MAX) {
			outcome_set(o, 'D', "5.4.6", "mail forwarding loop "
			    "for <%s>: too many hops", recipient);
			rc = -1;
			break;
		}
		if ((v = loop_field(p, (size_t)(nl - p), "Delivered-To")) !=
		    NULL && loop_same_rcpt(v, nl, recipient)) {
			outcome_set(o, 'D', "5.4.6", "mail forwarding loop "
			    "for <%s>", recipient);
			rc = -1;
			break;
		}
	}
	free(h);
	return rc;
}
