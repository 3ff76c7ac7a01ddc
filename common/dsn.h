/*
 * dsn.h: delivery status notifications (RFC 3464) as message text.
 *
 * dsn_format() writes a whole report message (header and MIME body, LF
 * line endings) into a buf: multipart/report; report-type=delivery-status
 * (RFC 6522, was RFC 3462) with a human-readable part, the
 * message/delivery-status part and the original (headers or whole).
 * qmgr (queue/qmgr_bounce.c) queues what it returns; nothing here does
 * I/O. Every value that came from a client or an agent is either a
 * checked address or text with CR, LF and other controls replaced, so no
 * input can start a header line of its own.
 */
#ifndef POSTERN_DSN_H
#define POSTERN_DSN_H

#include <stddef.h>
#include "buf.h"

/* Action (RFC 3464 2.3.3) of one recipient in a report. */
enum { DSN_FAILED = 'f', DSN_DELAYED = 'w', DSN_DELIVERED = 'd' };

struct dsn_rcpt {
	const char	*final;		/* the recipient address */
	const char	*orcpt;		/* as stored ("rfc822;XTEXT") or "" */
	int		 action;	/* DSN_FAILED, ... */
	const char	*code;		/* RFC 3463 enhanced code */
	const char	*text;		/* the agent's text */
	const char	*mta;		/* the remote server that gave text;
					 * NULL or "" for none */
};

struct dsn_report {
	const char	*id;		/* the report's queue ID */
	const char	*orig_id;	/* the original's queue ID */
	const char	*hostname;	/* Reporting-MTA, MAILER-DAEMON@ */
	const char	*to;		/* the report's recipient */
	const char	*envid;		/* stored xtext, "" none */
	long long	 arrival;	/* of the original */
	long long	 now;		/* Last-Attempt-Date, Date: */
	long long	 retry_until;	/* for delayed: Will-Retry-Until */
	int		 full;		/* message/rfc822, else headers */
	int		 eightbit;	/* the original is 8BITMIME */
	const char	*orig;		/* the original message */
	size_t		 orig_len;
};

/* The whole report into out. 0, or -1 (EMSGSIZE from the buf). */
int	 dsn_format(struct buf *out, const struct dsn_report *,
	    const struct dsn_rcpt *, size_t n);
/* RFC 5322 3.3 date-time of t, local time, into out. */
void	 dsn_date(char *out, size_t outsz, long long t);

#endif
