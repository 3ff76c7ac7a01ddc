/*
 * qstate.h: state/ID, the append-only log of per-recipient outcomes.
 *
 * Each outcome is one 'O' record (frame.h) of 4 fields:
 *   recipient index (decimal, into the queue file's 'R' records),
 *   status letter: K delivered, D failed for good, Z failed for now,
 *   enhanced status code ("2.0.0"), the text (the agent's or remote's reply),
 *   and, for a reply from a remote server, a fifth field: that server's
 *   host name (RFC 3464 Remote-MTA).
 * All outcomes of one delivery attempt are appended with one write() and one
 * fsync() before qmgr acts on them. A torn record at the end (a crash in the
 * middle of the write) is ignored on read: that outcome was not promised and
 * the recipient is tried again (delivery is at-least-once).
 *
 * A second record type, 'N' with 2 fields (recipient index, kind letter),
 * says that the report (RFC 3464) a recipient's outcome called for has
 * been queued (or deliberately not made): 'F' failure, 'S' success, 'W' a
 * delay warning. qmgr appends it only after the report is committed in
 * new/, so a crash in between makes the report again, never loses it.
 */
#ifndef POSTERN_QSTATE_H
#define POSTERN_QSTATE_H

#include <stddef.h>
#include "buf.h"

#define QSTATE_TEXT_MAX	1024

struct qstate_rcpt {
	char	 status;		/* 0 (no outcome yet), 'K', 'D', 'Z' */
	char	 code[16];
	char	 text[QSTATE_TEXT_MAX];
	char	 mta[256];		/* "" unless a remote server replied */
	unsigned char notified;		/* QSTATE_N_* reports already queued */
};

#define QSTATE_N_FAIL		0x01	/* 'F' */
#define QSTATE_N_SUCCESS	0x02	/* 'S' */
#define QSTATE_N_DELAY		0x04	/* 'W' */

/* Append one outcome record to buf (no I/O). Text is truncated to
 * QSTATE_TEXT_MAX and CR/LF/NUL in it are replaced by blanks. */
int	 qstate_put(struct buf *, size_t index, char status, const char *code,
	    const char *text);
/* The same with the remote MTA's host name ("" gives the 4-field form). */
int	 qstate_put_remote(struct buf *, size_t index, char status,
	    const char *code, const char *text, const char *mta);
/* Append one 'N' record (kind 'F', 'S' or 'W') to buf (no I/O). */
int	 qstate_put_notice(struct buf *, size_t index, char kind);
/* Append buf to state/ID, fsync (and state/, when the file is new).
 * 0 or -1 (errno). */
int	 qstate_append(const char *id, const struct buf *);
/* Read state/ID into r[0..n-1] (last outcome per recipient wins).
 * 0 (a missing file is no outcomes), -1 I/O error; records naming an index
 * >= n or malformed are skipped with a warning. */
int	 qstate_read(const char *id, struct qstate_rcpt *r, size_t n);

#endif
