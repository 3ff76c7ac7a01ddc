/*
 * forward.h: a user's ~/.forward, read by lspawn's child after it has
 * become the user, and the 'F' answer that carries its targets to qmgr
 * (docs/protocols.md, "qmgr -> lspawn"; docs/tables.md, ".forward").
 *
 * The child never delivers what a .forward redirects: it answers 'F' with
 * the targets, one per line, and qmgr expands them as it expands an alias
 * (queue/qmgr_alias.c). An unsafe or unreadable-by-syntax .forward is
 * ignored with a warning, and the mail goes to the mailbox.
 */
#ifndef POSTERN_FORWARD_H
#define POSTERN_FORWARD_H

#include <sys/types.h>
#include <stddef.h>

#include "alias.h"
#include "buf.h"
#include "outcome.h"

/* The .forward file, and the targets' text in the 'F' record: an
 * :include: file's bound, so a .forward is as big as a list can be. */
#define FORWARD_FILE_MAX	ALIAS_INCLUDE_MAX
#define FORWARD_TEXT_MAX	ALIAS_FORWARD_TEXT_MAX
#define FORWARD_STATUS		'F'
#define FORWARD_CODE		"2.0.0"

enum forward_rc {
	FORWARD_NONE,		/* none, or ignored: deliver to the mailbox */
	FORWARD_FOUND,		/* targets in the buffer */
	FORWARD_FAIL		/* a temporary failure, in the outcome */
};

/*
 * Read home/.forward as the user uid (the caller has dropped to it).
 * user and qid are for the log. FORWARD_FOUND: targets (alias.h syntax,
 * ":include:" refused) separated by '\n' in *targets.
 */
enum forward_rc forward_read(const char *home, uid_t uid, const char *user,
	    const char *qid, struct buf *targets, struct outcome *o);
/* Write the 'F' answer (an 'O' record: "F", FORWARD_CODE, targets). */
int	 forward_write(int fd, const struct buf *targets);
/* 1 when p..len is exactly one 'F' answer with valid targets
 * (alias_forward_valid()), which are then copied to *targets; 0 when it is
 * something else. */
int	 forward_parse(const char *p, size_t len, struct buf *targets);

#endif
