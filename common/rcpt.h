/*
 * rcpt.h: who is a recipient here. The one place that decides it: enqueue
 * asks at RCPT time (so nothing is accepted only to bounce later) and qmgr
 * asks again at delivery time (tables may have changed).
 *
 * For user@domain ("base" below is the local part without its +detail:
 * the part from the first recipient_delimiter character on is cut, when
 * that character is not the first; recipient_delimiter "" turns it off):
 *   1. domain must be in the "domains" table (value "local" or "virtual"),
 *      or empty (<postmaster>) which means local; else RCPT_REMOTE;
 *   2. the "virtual" table maps the whole lowercased address, else
 *      base@domain, to a mailbox path relative to virtual_mailbox_base (a
 *      Maildir when it ends in '/'; checked: relative, no "..", no empty
 *      component) -> RCPT_VIRTUAL;
 *   3. for a "local" domain, the lowercased local part, else its base, is
 *      a name in the "aliases" table -> RCPT_ALIAS (.alias: the name found;
 *      qmgr expands it at delivery time, queue/qmgr_alias.c);
 *   4. for a "local" domain, the lowercased local part, else its base,
 *      names a system user (getpwnam) whose uid is not 0 -> RCPT_USER;
 *   5. the "virtual" table's catch-all key "@domain" -> RCPT_VIRTUAL;
 *   6. postmaster (any case) in a local domain, or <postmaster>, is
 *      RCPT_ALIAS "postmaster" even with no alias or user by that name:
 *      RFC 5321 4.5.1 says it must be accepted; qmgr defers it, loudly,
 *      until the operator gives it somewhere to go;
 *   7. else RCPT_UNKNOWN. A table or passwd read error is RCPT_TEMPFAIL.
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
	RCPT_ALIAS,		/* a name in the aliases table: .alias */
	RCPT_REMOTE,		/* not ours */
	RCPT_UNKNOWN,		/* ours, but nobody by that name */
	RCPT_TEMPFAIL		/* could not tell now (errno) */
};

struct rcpt_route {
	enum rcpt_kind	 kind;
	char		 user[64];
	char		 mailbox[PATH_MAX];
	char		 alias[ADDR_LOCAL_MAX + 1];
};

struct rcpt_tables {
	struct table	 domains;
	struct table	 virtual;
	struct table	 aliases;
	const struct conf *conf;	/* recipient_delimiter; the caller's,
					 * so a reloaded config is seen */
};

void	 rcpt_tables_init(struct rcpt_tables *, const struct conf *);
void	 rcpt_tables_close(struct rcpt_tables *);
/* Fills route->kind and what goes with it; returns route->kind. */
enum rcpt_kind rcpt_resolve(struct rcpt_tables *, const struct addr *,
	    struct rcpt_route *);
/* A system user by that name (no aliases): RCPT_USER, RCPT_UNKNOWN or
 * RCPT_TEMPFAIL. For an alias's "\user" target. */
enum rcpt_kind rcpt_resolve_user(const char *name, struct rcpt_route *);
/* A virtual mailbox path is safe (relative, no "..", no "//"): 1 or 0. */
int	 rcpt_mailbox_valid(const char *);

#endif
