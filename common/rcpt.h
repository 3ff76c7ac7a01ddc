/*
 * rcpt.h: who is a recipient here. The one place that decides it: enqueue
 * asks at RCPT time (so nothing is accepted only to bounce later) and qmgr
 * asks again at delivery time (tables may have changed).
 *
 * For user@domain:
 *   1. domain must be in the "domains" table (value "local" or "virtual"),
 *      or empty (<postmaster>) which means local; else RCPT_REMOTE;
 *   2. the "virtual" table maps the whole lowercased address to a mailbox
 *      path relative to virtual_mailbox_base (a Maildir when it ends in '/';
 *      checked: relative, no "..", no empty component) -> RCPT_VIRTUAL;
 *   3. for a "local" domain, the lowercased local part names a system user
 *      (getpwnam) whose uid is not 0 -> RCPT_USER;
 *   4. else RCPT_UNKNOWN. A table or passwd read error is RCPT_TEMPFAIL.
 */
#ifndef POSTERN_RCPT_H
#define POSTERN_RCPT_H

#include <limits.h>
#include "addr.h"
#include "table.h"

struct conf;

enum rcpt_kind {
	RCPT_USER,		/* a system user: .user */
	RCPT_VIRTUAL,		/* a virtual mailbox: .mailbox */
	RCPT_REMOTE,		/* not ours */
	RCPT_UNKNOWN,		/* ours, but nobody by that name */
	RCPT_TEMPFAIL		/* could not tell now (errno) */
};

struct rcpt_route {
	enum rcpt_kind	 kind;
	char		 user[64];
	char		 mailbox[PATH_MAX];
};

struct rcpt_tables {
	struct table	 domains;
	struct table	 virtual;
};

void	 rcpt_tables_init(struct rcpt_tables *, const struct conf *);
void	 rcpt_tables_close(struct rcpt_tables *);
/* Fills route->kind and what goes with it; returns route->kind. */
enum rcpt_kind rcpt_resolve(struct rcpt_tables *, const struct addr *,
	    struct rcpt_route *);
/* A virtual mailbox path is safe (relative, no "..", no "//"): 1 or 0. */
int	 rcpt_mailbox_valid(const char *);

#endif
