/*
 * lmtp_client.h: one LMTP transaction (RFC 2033) for one recipient, the
 * work of the lmtp(8) delivery agent.
 *
 * lmtp.c parses its arguments and postern.conf, then calls lmtp_deliver(),
 * which connects to lmtp_destination, speaks LHLO, MAIL, RCPT, DATA, QUIT
 * and turns the server's answer into a struct outcome (K/Z/D, the server's
 * RFC 3463 code and its text quoted). The smaller pieces are exported for
 * the unit test (tests/unit/test_lmtp_client.c): destination parsing,
 * reply reading and its mapping to an outcome, and the DATA body writer.
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

/* RFC 5321 4.5.3.1.5: a reply line is at most 512 octets with its CRLF;
 * we take twice that before calling the server broken. */
#define LMTP_LINE_MAX	1024
/* More lines than any real server sends in one reply (LHLO has ~10). */
#define LMTP_LINES_MAX	100
/* What of the text we keep: the outcome keeps less anyway. */
#define LMTP_TEXT_MAX	OUTCOME_TEXT_MAX

/* LHLO keywords we act on (RFC 6152, RFC 6531). */
#define LMTP_EXT_8BITMIME	0x01
#define LMTP_EXT_SMTPUTF8	0x02

struct lmtp_dest {
	int	 unix_socket;		/* 1: path; 0: host and port */
	char	 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char	 host[256];
	char	 port[8];
	char	 name[300];		/* as configured, for messages */
};

struct lmtp_reply {
	int	 code;			/* 3 digits, 200..599 */
	int	 ext;			/* LMTP_EXT_*, from LHLO's lines */
	char	 text[LMTP_TEXT_MAX];	/* the lines' texts, blank-joined */
};

enum lmtp_read {
	LMTP_READ_OK = 0,
	LMTP_READ_IO = -1,		/* error, timeout or EOF; errno set */
	LMTP_READ_BAD = -2		/* not a reply: syntax, control bytes,
					 * codes that differ, too long */
};

/* "unix:/path" or "inet:host:port" ("inet:[v6addr]:port"). 0 or -1. */
int	 lmtp_dest_parse(const char *, struct lmtp_dest *);
/* One (multi-line) reply. */
int	 lmtp_reply_read(struct io *, struct lmtp_reply *);
/* Map a reply to an outcome: 2xx K, 4xx Z, 5xx D, with the server's
 * enhanced code when it gave one of the right class (RFC 2034), and its
 * text quoted. Any other code is a protocol error: Z 4.5.0. */
void	 lmtp_reply_outcome(const struct lmtp_reply *, const char *dest,
	    const char *cmd, struct outcome *);
/* Copy size bytes of fd (LF line endings) to io as DATA: CRLF line
 * endings, dot-stuffed (RFC 5321 4.5.2), a CRLF added when the last line
 * has none, then the final ".". 0; -1 on a network error (errno); -2 when
 * fd gave fewer than size bytes or failed. */
int	 lmtp_data_send(struct io *, int fd, off_t size);
/* The whole transaction. timeout_ms bounds the connect and each wait. */
void	 lmtp_deliver(const struct lmtp_dest *, int timeout_ms, int fd,
	    off_t size, const char *helo, const char *sender,
	    const char *rcpt, struct outcome *);

#endif
