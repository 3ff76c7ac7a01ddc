/*
 * smtp_reply.h: reading an SMTP (or LMTP) server's reply, as a client.
 *
 * Used by the remote SMTP client (deliver/remote_session.c) and by lmtp(8)
 * (deliver/lmtp_client.c). A reply is one or more lines "CODE-text" ending
 * with "CODE text" or a bare "CODE" (RFC 5321 4.2). The parser is fed one
 * line at a time (smtp_reply_line(), pure, for the unit tests and the
 * fuzzer) or reads the lines itself from a struct io (smtp_reply_read()).
 *
 * What a server may send is bounded and checked (the CVE-2020-8794
 * lesson: OpenSMTPD's client read past a reply line shorter than 4 bytes):
 *   - a line shorter than 3 bytes, or whose first 3 bytes are not a code
 *     200..599 (1xx and 3xx are codes too: 354), or whose 4th byte is not
 *     a blank or a hyphen, is not a reply: SMTP_REPLY_BAD;
 *   - every line of one reply must carry the same code;
 *   - a line longer than SMTP_REPLY_LINE_MAX, or more than
 *     SMTP_REPLY_LINES_MAX lines, is not a reply either;
 *   - a byte below 0x20 or 0x7f inside a line (a CR that is not the
 *     line's end, a NUL, an escape) becomes '?' in the text we keep
 *     (SMTP_REPLY_SANITISE), or makes the reply BAD (SMTP_REPLY_STRICT,
 *     what lmtp(8) wants). Only LF ends a line, so a CR cannot start a
 *     second reply inside one line.
 * The text kept is the whole reply, every line with its code, joined with
 * one blank, cut at SMTP_REPLY_TEXT_MAX - 1 bytes: what goes into the 'R'
 * record, the state file and a bounce, never anything else.
 *
 * EHLO keywords (RFC 5321 4.1.1.1, case-insensitive) are collected from
 * every line but the first: SIZE [n], PIPELINING, 8BITMIME, SMTPUTF8,
 * STARTTLS, DSN.
 */
#ifndef POSTERN_SMTP_REPLY_H
#define POSTERN_SMTP_REPLY_H

#include <stddef.h>
#include "io.h"

/* RFC 5321 4.5.3.1.5: a reply line is at most 512 octets with its CRLF;
 * we take twice that before calling the server broken. */
#define SMTP_REPLY_LINE_MAX	1024
/* More lines than any real server sends in one reply (EHLO has ~15). */
#define SMTP_REPLY_LINES_MAX	100
/* docs/protocols.md, the 'R' record: at most 1000 bytes of text. */
#define SMTP_REPLY_TEXT_MAX	1001
#define SMTP_ENHANCED_MAX	16	/* "5.123.456" and room */

#define SMTP_EXT_8BITMIME	0x01	/* RFC 6152 */
#define SMTP_EXT_SMTPUTF8	0x02	/* RFC 6531 */
#define SMTP_EXT_PIPELINING	0x04	/* RFC 2920 */
#define SMTP_EXT_STARTTLS	0x08	/* RFC 3207 */
#define SMTP_EXT_DSN		0x10	/* RFC 3461 */
#define SMTP_EXT_SIZE		0x20	/* RFC 1870; the limit in size */

enum { SMTP_REPLY_SANITISE = 0, SMTP_REPLY_STRICT = 1 };

enum smtp_reply_rc {
	SMTP_REPLY_OK = 0,
	SMTP_REPLY_IO = -1,	/* error, timeout or EOF; errno set */
	SMTP_REPLY_BAD = -2	/* not a reply: syntax, codes that differ,
				 * too long, control bytes when strict */
};

struct smtp_reply {
	int	 code;			/* 3 digits, 100..599; 0 before any */
	int	 lines;			/* lines taken so far */
	int	 done;			/* the last line was seen */
	int	 flags;			/* SMTP_REPLY_SANITISE or _STRICT */
	int	 ext;			/* SMTP_EXT_*, from lines 2 and on */
	unsigned long long size;	/* SIZE's number; 0: none declared */
	size_t	 len;			/* of text */
	char	 text[SMTP_REPLY_TEXT_MAX];	/* "550 5.1.1 no such user" */
	char	 enhanced[SMTP_ENHANCED_MAX];	/* the first line's RFC 3463
						 * code, "" if it has none */
};

void	 smtp_reply_init(struct smtp_reply *, int flags);
/* Take one line (without its LF; a CR before it is allowed). SMTP_REPLY_OK
 * (r->done says whether it was the last), or SMTP_REPLY_BAD. A line after
 * the last one is BAD. */
int	 smtp_reply_line(struct smtp_reply *, const char *line, size_t len);
/* Read lines from io until the reply is complete. */
int	 smtp_reply_read(struct io *, struct smtp_reply *, int flags);
/* The EHLO keyword of one line's text (after "250-"): the SMTP_EXT_* bit,
 * and for SIZE the number into *size (0 when absent or not a number). */
int	 smtp_ehlo_keyword(const char *text, size_t len,
	    unsigned long long *size);
/* K, Z or D for a 2xx, 4xx or 5xx reply; 0 for any other code. */
char	 smtp_reply_status(const struct smtp_reply *);
/* The RFC 3463 code for the reply, into code: the server's own when it
 * gave one of the reply's class, else "X.0.0". 0, or -1 for a code that
 * is not 2xx, 4xx or 5xx. */
int	 smtp_reply_enhanced(const struct smtp_reply *, char *code,
	    size_t codesz);
/* An RFC 3463 code "class.subject.detail" whose class matches status
 * (K 2, Z 4, D 5). 1 or 0. */
int	 smtp_code_valid(char status, const char *code);

#endif
