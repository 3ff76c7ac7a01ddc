/*
 * mbox.h: append one message to an mbox file (the "mboxrd" flavour), with
 * fcntl locking and, where the directory allows, a dotlock.
 *
 * Called by lspawn's child, already running as the recipient (or as an
 * alias's alias_user for a "/file" alias), for home_mailbox = mbox and for
 * kind 'f' deliveries.
 */
#ifndef POSTERN_MBOX_H
#define POSTERN_MBOX_H

#include <sys/types.h>
#include "outcome.h"

/* How long to wait for another writer's fcntl lock or dotlock. */
#define MBOX_LOCK_WAIT_SECONDS	60
/* A dotlock older than this is left over from a crash: removed. */
#define MBOX_DOTLOCK_STALE_SECONDS 300

/* How mbox_deliver() treats the file. */
struct mbox_how {
	uid_t	 owner;		/* an existing file must be this user's */
	gid_t	 group;		/* a new file's group (-1: the default) */
	mode_t	 mode;		/* a new file's mode: 0600, or 0660 in the
				 * mail spool */
	int	 dotlock;	/* 1: also take PATH.lock if the directory
				 * is writable */
};

/*
 * Append "From SENDER DATE\n", "Return-Path: <sender>\n",
 * "Delivered-To: <recipient>\n" and the size bytes at msgfd's offset to the
 * file at the absolute path (created when missing), quoting body lines
 * that start with ">*From " with one more '>', and ending with an empty
 * line; then fsync. On any error the file is cut back to its old size.
 * 0 with o = K 2.0.0, or -1 with o = Z 4.2.2 (ENOSPC, EDQUOT, EFBIG),
 * Z 4.2.0 (locked by someone else for too long), Z 4.3.0 (anything else)
 * or D 5.3.0 (an envelope address with a control character; a path that
 * is not a regular file of ours).
 */
int	 mbox_deliver(int msgfd, off_t size, const char *sender,
	    const char *recipient, const char *path, const struct mbox_how *,
	    struct outcome *o);

#endif
