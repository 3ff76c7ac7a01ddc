/*
 * fork.h: fork() for a process with signal handlers (master, sessiond).
 */
#ifndef POSTERN_FORK_H
#define POSTERN_FORK_H

#include <sys/types.h>

/* fork() with every signal blocked; the child sets SIGCHLD, SIGTERM,
 * SIGINT, SIGHUP and SIGPIPE back to their defaults before it unblocks, so
 * no handler of the parent ever runs in it (a signal between fork() and
 * exec() would otherwise write to the parent's self-pipe). Returns like
 * fork(). */
pid_t	 fork_quiet(void);

#endif
