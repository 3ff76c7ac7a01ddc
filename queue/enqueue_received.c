/*
 * enqueue_received.c: our Received: trace line, the first bytes of every
 * message enqueue writes (RFC 5321 4.4: an SMTP server MUST prepend one).
 *
 * Called by enqueue.c at 'B', once the queue ID is known. Layout, with LF
 * line endings as in the rest of the queue file:
 *
 *   Received: from HELO ([CLIENTIP])     (local: "from local (LOGIN, uid N)")
 *   	by HOSTNAME (Postern) with PROTO id QID
 *   	for <RCPT>; DATE
 *
 * - "([CLIENTIP])" is the TCP-info of RFC 5321 4.4: an address literal,
 *   "[IPv6:...]" for IPv6 (RFC 5321 4.1.3); left out for a local
 *   submission (client "").
 * - "for <RCPT>" only when there is exactly one recipient: RFC 2821 7.2 and
 *   appendix B, a Received: line must not reveal the other recipients of a
 *   message (Bcc). Without it the "; DATE" follows the id.
 * - DATE is RFC 5322 3.3 date-time with a four-digit year (a two-digit
 *   year is obsolete syntax, RFC 5322 4.3), local time with its numeric
 *   offset, in the C locale (enqueue never calls setlocale(), so day and
 *   month names are the English ones RFC 5322 requires).
 *
 * Every value here was checked before it reached the envelope
 * (enqueue_check.c, addr_parse_mailbox()), so none can hold CR, LF or NUL;
 * the longest possible line stays well under RFC 5322 2.1.1's 998 octets.
 * Returns 0, or -1 (the buffer's limit, errno EMSGSIZE; or a date that
 * cannot be formatted, errno EINVAL).
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "enqueue.h"

int
enqueue_received(struct buf *out, const struct qenv *env,
    const char *hostname, time_t when)
{
	struct tm	 tm;
	char		 date[64], who[ADDR_LOCAL_MAX + 32];

	if (localtime_r(&when, &tm) == NULL || strftime(date, sizeof(date),
	    "%a, %d %b %Y %H:%M:%S %z", &tm) == 0) {
		errno = EINVAL;
		return -1;
	}
	/* A local submission: the user master read from the socket
	 * (SO_PEERCRED) instead of a HELO name nobody checked. */
	if (local_who(who, sizeof(who)) != NULL) {
		if (buf_addf(out, "Received: from local (%s)", who) == -1)
			return -1;
	} else if (buf_addf(out, "Received: from %s", env->helo) == -1)
		return -1;
	if (env->client[0] != '\0' && buf_addf(out, " ([%s%s])",
	    strchr(env->client, ':') != NULL ? "IPv6:" : "", env->client) == -1)
		return -1;
	if (buf_addf(out, "\n\tby %s (Postern) with %s id %s", hostname,
	    env->proto, env->id) == -1)
		return -1;
	if (env->nrcpt == 1 && buf_addf(out, "\n\tfor <%s>", env->rcpt[0]) == -1)
		return -1;
	return buf_addf(out, "; %s\n", date);
}
