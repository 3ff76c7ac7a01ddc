/*
 * maildir.h: deliver one message into a Maildir (qmail's format: tmp/,
 * new/, cur/), durably: nothing is in new/ before its bytes are on disk.
 *
 * Called by lspawn's built-in agent and by local(8), both already running
 * as the recipient (never as root). The message is read from msgfd at its
 * current offset (a queue file positioned at its 'M' record, or a pipe).
 */
#ifndef POSTERN_MAILDIR_H
#define POSTERN_MAILDIR_H

#include <sys/types.h>
#include "outcome.h"

/*
 * Write "Return-Path: <sender>\nDelivered-To: <recipient>\n" and exactly
 * size bytes from msgfd into a new file of the Maildir at the absolute path
 * maildir (created, with tmp/ new/ cur/, when missing; its parent must
 * exist). hostname goes into the file name. Returns 0 with o = K 2.0.0, or
 * -1 with o = Z (4.2.2 mailbox full, 4.3.0 anything else, "short message"
 * when msgfd ends early) or D 5.3.0 for an envelope address holding a
 * control character. Nothing is left in tmp/ either way.
 */
int	 maildir_deliver(int msgfd, off_t size, const char *sender,
	    const char *recipient, const char *maildir, const char *hostname,
	    struct outcome *o);

#endif
