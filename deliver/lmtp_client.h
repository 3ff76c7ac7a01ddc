/*
 * lmtp_client.h: one LMTP transaction (RFC 2033) for one recipient, the
 * work of the lmtp(8) delivery agent.
 *
 * lmtp.c parses its arguments and postern.conf, then calls lmtp_deliver(),
 * which connects to lmtp_destination, speaks LHLO, MAIL, RCPT, DATA, QUIT
 * and turns the server's answer into a struct outcome (K/Z/D, the server's
 * RFC 3463 code and its text quoted). The smaller pieces are exported for
 * the unit test (tests/unit/test_lmtp_client.c): destination parsing and
 * the mapping of a reply to an outcome. Replies are read by
 * common/smtp_reply.c (strict: a control byte makes a reply bad), the
 * message is written by common/smtp_data.c, both shared with the remote
 * SMTP client.
 *
 * Nothing here exits or logs: every failure becomes an outcome, so the
 * agent always has exactly one answer for lspawn.
 */
#ifndef POSTERN_LMTP_CLIENT_H
#define POSTERN_LMTP_CLIENT_H

#include <sys/types.h>
#include <sys/un.h>
#include "io.h"
#include "outcome.h"
#include "smtp_reply.h"

struct lmtp_dest {
	int	 unix_socket;		/* 1: path; 0: host and port */
	char	 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char	 host[256];
	char	 port[8];
	char	 name[300];		/* as configured, for messages */
};

/* "unix:/path" or "inet:host:port" ("inet:[v6addr]:port"). 0 or -1. */
int	 lmtp_dest_parse(const char *, struct lmtp_dest *);
/* Map a reply to an outcome: 2xx K, 4xx Z, 5xx D, with the server's
 * enhanced code when it gave one of the right class (RFC 2034), and its
 * text quoted. Any other code is a protocol error: Z 4.5.0. */
void	 lmtp_reply_outcome(const struct smtp_reply *, const char *dest,
	    const char *cmd, struct outcome *);
/* The whole transaction. timeout_ms bounds the connect and each wait. */
void	 lmtp_deliver(const struct lmtp_dest *, int timeout_ms, int fd,
	    off_t size, const char *helo, const char *sender,
	    const char *rcpt, struct outcome *);

#endif
