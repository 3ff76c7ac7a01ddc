/*
 * alias.h: the aliases table, in the /etc/aliases format (sendmail's,
 * RFC 822 lists).
 *
 *   # comment
 *   name: target, target, ...
 *       target            (a line that starts with a blank continues the
 *                          entry above)
 *
 * A name is a local name (no '@', no blank), lowercased. A target is, after
 * its outer blanks are cut and its double quotes (if any) removed:
 *   |command          a command, run as alias_user (kind 'p')
 *   /absolute/file    a file appended to in mbox format, as alias_user ('f')
 *   :include:/path    more targets read from /path when the alias is
 *                     expanded (qmgr), in the same list syntax
 *   \user             the system user, never looked up in aliases again
 *   name, user@domain an address: expanded again (aliases, virtual, users)
 *
 * "postern makemap aliases" (and "postern newaliases") compile it with
 * alias_build(): the cdb value of a name is its targets, each ended by a
 * NUL byte, so a target can never be misread as two. Errors are
 * "file:line: why" and the old .cdb stays (table_build_with()).
 */
#ifndef POSTERN_ALIAS_H
#define POSTERN_ALIAS_H

#include "buf.h"

/* An :include: file is read whole; it holds lists, not mail: 64 KiB. */
#define ALIAS_INCLUDE_MAX	65536
#define ALIAS_INCLUDE_PREFIX	":include:"
/* A ~/.forward's targets as lspawn hands them to qmgr: '\n'-separated. */
#define ALIAS_FORWARD_TEXT_MAX	(ALIAS_INCLUDE_MAX + 1024)

/* Compile the aliases text file src into dst (a .cdb). 0 or -1 with err. */
int	 alias_build(const char *src, const char *dst, struct buf *err);

/*
 * Parse a target list ("a, |cmd, \"/x y\"") and append each target,
 * checked and NUL-terminated, to out. 0, or -1 with a reason in *why.
 */
int	 alias_list_parse(const char *list, struct buf *out, const char **why);

/*
 * Read an :include: file (absolute path) into out as NUL-terminated
 * targets. 0; -1 with errno when it cannot be read (a temporary failure);
 * -2 with "path:line: why" in err when its text is wrong.
 */
int	 alias_include_read(const char *path, struct buf *out,
	    struct buf *err);
/*
 * The same for a file already open (a ~/.forward, opened by the caller
 * with its own checks); name is for the error text. fd is closed in every
 * case. 0, -1 with errno, or -2 with err set, as alias_include_read().
 */
/*
 * 1 when text (len bytes) is a .forward's targets as lspawn sends them
 * (docs/protocols.md, status 'F'): 1 to ALIAS_FORWARD_TEXT_MAX bytes,
 * targets separated by '\n', none empty, none starting with ":include:",
 * no other control byte. Checked by both ends of the pipe.
 */
int	 alias_forward_valid(const char *text, size_t len);
int	 alias_fd_read(int fd, const char *name, struct buf *out,
	    struct buf *err);

#endif
