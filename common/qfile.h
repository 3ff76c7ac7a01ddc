/*
 * qfile.h: the queue file, written once by enqueue, read by qmgr, lspawn's
 * delivery agents and "postern queue".
 *
 * Layout (docs/spool.md has the byte-level description):
 *   "POSTERN1\n"                     magic and version
 *   envelope records (frame.h format), each type at most once except 'R':
 *     'T' arrival time, decimal seconds     'I' queue ID
 *     'C' client address ("" for local)     'H' HELO/EHLO name
 *     'P' protocol (SMTP, ESMTP, ...)       'S' sender ("" = null sender)
 *     'B' body type (7BIT or 8BITMIME)
 *   then, each optional and at most once, in this order (RFC 3461, 6531):
 *     'E' DSN ENVID (xtext, as sent)        'F' DSN RET (FULL or HDRS)
 *     'U' "1": the message needs SMTPUTF8
 *     'N' "1": a report qmgr made (RFC 3464, null sender), "2": a report
 *         about such a report, sent to postmaster: never reported on
 *   then 'R' recipient (one per record), each followed by at most one
 *     'D' its DSN NOTIFY and ORCPT: two NUL-ended fields, "" for absent
 *   'M' the message (LF line endings, Received: first), length in header
 *   'Z' trailer: the message length again, decimal; must end the file
 * A file missing its trailer, with an unknown or repeated record, a bad
 * value, or bytes after the trailer is corrupt (QFILE_CORRUPT).
 */
#ifndef POSTERN_QFILE_H
#define POSTERN_QFILE_H

#include <sys/types.h>
#include "addr.h"
#include "buf.h"
#include "spool.h"
#include "xtext.h"

#define QFILE_MAGIC	"POSTERN1\n"
#define QFILE_MAGIC_LEN	9
#define QFILE_RCPT_MAX	10000

enum { QFILE_OK = 0, QFILE_CORRUPT = -1, QFILE_IOERR = -2 };
/* The 'N' record (docs/protocols.md): which reports are ours. */
enum { QFILE_NOTICE_NONE = 0, QFILE_NOTICE_BOUNCE = 1,
    QFILE_NOTICE_DOUBLE = 2 };

/* A recipient's DSN parameters (RFC 3461 4.1, 4.2), canonical
 * (xtext.h); "" when the client gave none. */
struct qrcpt_dsn {
	char		 notify[DSN_NOTIFY_MAX];
	char		 orcpt[DSN_ORCPT_MAX + 1];
};

struct qenv {
	long long	 arrival;
	char		 id[SPOOL_ID_MAX + 1];
	char		 client[64];
	char		 helo[ADDR_DOMAIN_MAX + 1];
	char		 proto[16];
	char		 sender[ADDR_TEXT_MAX];
	char		 body[16];
	char		 envid[DSN_ENVID_XTEXT_MAX + 1]; /* "" if none */
	char		 ret[8];	/* "FULL", "HDRS"; "" if none */
	int		 smtputf8;	/* RFC 6531: needs SMTPUTF8 */
	int		 notice;	/* QFILE_NOTICE_*: a report of ours */
	size_t		 nrcpt;
	char		 (*rcpt)[ADDR_TEXT_MAX];	/* nrcpt entries */
	struct qrcpt_dsn *dsn;		/* nrcpt entries, parallel to rcpt */
	off_t		 msg_off;	/* first byte of the message */
	off_t		 msg_len;
};

struct qfile_writer {
	int		 fd;
	off_t		 mhdr_off;	/* where the 'M' header is */
	off_t		 msg_len;
	struct buf	 out;		/* pending bytes, flushed in big writes */
};

void	 qenv_init(struct qenv *);
void	 qenv_free(struct qenv *);
/* Add a recipient (formatted address). -1 past QFILE_RCPT_MAX. */
int	 qenv_add_rcpt(struct qenv *, const char *);
/* Set the DSN NOTIFY and ORCPT of the last recipient added (canonical
 * values or ""). -1 EINVAL when one is not valid or there is none. */
int	 qenv_set_dsn(struct qenv *, const char *notify, const char *orcpt);

/* Write magic, envelope and the 'M' header (length patched by finish). */
int	 qfile_begin(struct qfile_writer *, int fd, const struct qenv *);
int	 qfile_body(struct qfile_writer *, const void *, size_t);
/* Flush, patch the 'M' length, write 'Z'. No fsync: the caller's job. */
int	 qfile_finish(struct qfile_writer *);
void	 qfile_writer_free(struct qfile_writer *);

/* Read and check a whole queue file's structure from fd (offset ignored,
 * pread is used). QFILE_OK with env filled, QFILE_CORRUPT with the reason in
 * err, QFILE_IOERR with errno. */
int	 qfile_read(int fd, struct qenv *, struct buf *err);

#endif
