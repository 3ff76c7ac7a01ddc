/*
 * queue.h: what "postern queue" (queue.c) and the queue operations
 * (queue_ops.c) share: the selection options and entering the spool.
 */
#ifndef POSTERN_QUEUE_H
#define POSTERN_QUEUE_H

#include <stddef.h>
#include "conf.h"
#include "qlist.h"

/* How long an operation on a message being delivered waits for qmgr to
 * carry it out before it reports "requested" (--wait). */
#define QUEUE_WAIT_DEFAULT	10

struct queue_opts {
	struct qlist_filter f;
	int		 nfilters;	/* filters and --all given */
	int		 json;		/* queue: --json */
	int		 all;		/* operations: --all */
	long long	 wait;		/* operations: --wait SECONDS */
	char		**ids;		/* the queue IDs named */
	size_t		 nids;
};

/* Parse argv (argv[0] is the command); ops: an operation, not "queue".
 * 0 or an exit status (the complaint is printed). */
int	 queue_args(int argc, char **argv, struct queue_opts *, int ops);
/* conf_load_or_exit(), then chdir to the spool; exits on failure. */
void	 queue_enter(struct conf *, const char *confdir);

#endif
