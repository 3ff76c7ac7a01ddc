/*
 * qlist.h: the queue as an operator sees it, for "postern queue" and the
 * queue operations (postern/queue*.c) and for "sendmail -bp" / mailq.
 *
 * qlist_read() walks new/, active/, deferred/, hold/ and corrupt/ of the
 * spool (the caller's cwd, as for every spool user: spool.h), reads each
 * queue file with qfile_read() and its state/ID with qstate_read(), and
 * keeps the messages a filter selects. It only reads: a file that moves or
 * vanishes while it looks (qmgr at work) is skipped, never an error. A file
 * that does not parse is listed with corrupt set and the reason, and never
 * moved: that is qmgr's job.
 *
 * qlist_print() writes a mailq-like listing, qlist_print_json() a JSON
 * array (docs/man/postern.8 lists the fields). Both take "now" so that ages
 * are computed once.
 */
#ifndef POSTERN_QLIST_H
#define POSTERN_QLIST_H

#include <stdio.h>
#include <sys/types.h>
#include <time.h>
#include "qstate.h"
#include "spool.h"

struct qlist_rcpt {
	char		*addr;
	char		 status;	/* 0 pending, 'K', 'D', 'Z' (qstate.h) */
	char		 code[16];
	char		*text;		/* "" when no outcome yet */
};

struct qlist_msg {
	char		 id[SPOOL_ID_MAX + 16];	/* corrupt/ names may be longer */
	const char	*queue;		/* SPOOL_NEW, SPOOL_ACTIVE, ... */
	int		 corrupt;	/* did not parse: only id, queue, size,
					   mtime and reason are set */
	char		*reason;	/* why corrupt; NULL otherwise */
	long long	 size;		/* the message's bytes (file's if corrupt) */
	long long	 arrival;	/* the envelope's 'T' (mtime if corrupt) */
	time_t		 mtime;		/* in deferred/: the next attempt time */
	char		*sender;	/* "" for the null sender */
	size_t		 nrcpt;
	struct qlist_rcpt *rcpt;
};

struct qlist {
	struct qlist_msg *msg;
	size_t		 n, cap;
};

/* Every field is optional (NULL / -1 = no condition); all that are set
 * must hold (AND). Address and domain comparisons ignore case. */
struct qlist_filter {
	const char	*sender;	/* exact; "<>" or "" is the null sender */
	const char	*rcpt;		/* exact, any recipient */
	const char	*domain;	/* any recipient's domain */
	const char	*error;		/* substring of any recipient's last
					   outcome text or code */
	long long	 older;		/* age >= older seconds */
	long long	 younger;	/* age < younger seconds */
};

void	 qlist_filter_init(struct qlist_filter *);
/* Does any condition look at the envelope (so a corrupt file cannot
 * match)? */
int	 qlist_filter_envelope(const struct qlist_filter *);
int	 qlist_match(const struct qlist_filter *, const struct qlist_msg *,
	    time_t now);

/* Read the spool (cwd) into l, keeping what f selects (f may be NULL).
 * dirs: NULL for every queue, or a NULL-ended list of SPOOL_* names.
 * 0, or -1 with errno when a directory could not be read. */
int	 qlist_read(struct qlist *l, const struct qlist_filter *f,
	    const char *const *dirs, time_t now);
/* One message by ID, wherever it is: 1 found (m filled), 0 nowhere,
 * -1 error. */
int	 qlist_find(const char *id, struct qlist_msg *m);
void	 qlist_msg_free(struct qlist_msg *);
void	 qlist_free(struct qlist *);

/* qlist_print.c */
void	 qlist_print(FILE *, const struct qlist *, time_t now);
void	 qlist_print_json(FILE *, const struct qlist *, time_t now);

#endif
