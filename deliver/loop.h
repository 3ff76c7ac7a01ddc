/*
 * loop.h: mail loop detection before a local delivery (RFC 5321 6.3).
 *
 * Called by lspawn's child, already running as the recipient, for every
 * kind of delivery (Maildir, mbox, file, pipe, external agent) before a byte
 * is written anywhere.
 */
#ifndef POSTERN_LOOP_H
#define POSTERN_LOOP_H

#include <sys/types.h>
#include "outcome.h"

/* At most this many header bytes are read; a header section longer than
 * this is only checked as far as here. */
#define LOOP_HEADER_MAX		(256 * 1024)
/* More Received: lines than this is a loop (RFC 5321 6.3: "a simple
 * counting of the number of Received: header fields"; Postfix's
 * hopcount_limit is 50, sendmail's MaxHopCount 25; we allow 100). */
#define LOOP_RECEIVED_MAX	100

/*
 * Look at the header section of the size-byte message at msgfd's current
 * offset (read with pread(): the offset does not move). 0 when it may be
 * delivered; -1 with o = D 5.4.6 when it holds "Delivered-To: recipient"
 * (case-insensitive, angle brackets and blanks ignored) or more than
 * LOOP_RECEIVED_MAX Received: lines; -1 with o = Z 4.3.0 on a read error.
 */
int	 loop_check(int msgfd, off_t size, const char *recipient,
	    struct outcome *o);

#endif
