/*
 * spawner.h: what the long-running spawners (lspawn, rspawn) and resolve
 * share: the start (options, config), the signals through a self-pipe,
 * the control socket from master, and the first descriptors.
 *
 * The handlers only set a flag and write a byte to the self-pipe, whose
 * read end the spawner polls: all the work happens in its loop, where no
 * async-signal-safety rule can be broken. SIGPIPE is ignored: a reply to
 * a peer that went away is an EPIPE, not death. Failures of the
 * environment are fatal().
 */
#ifndef POSTERN_SPAWNER_H
#define POSTERN_SPAWNER_H

#include <signal.h>
#include <time.h>

extern volatile sig_atomic_t spawner_got_chld, spawner_got_hup,
	    spawner_got_term;

/* Install the handlers (SIGCHLD, SIGHUP, SIGTERM); the self-pipe's read
 * end, to poll. */
int	 spawner_signals(void);
/* Empty the self-pipe (after poll() said it is readable, or anyway). */
void	 spawner_drain(void);
/* In a forked child: close the self-pipe. */
void	 spawner_child(void);
/* The monotonic clock, for the spawners' deadlines. */
struct timespec spawner_now(void);
/* O_NONBLOCK and FD_CLOEXEC. */
void	 spawner_nonblock(int fd);
/* fds 0-2 open (on /dev/null when they were not): otherwise a socket or a
 * queue file could become one of them, and a child's dup2() onto 0 and 1
 * would clobber it. */
void	 spawner_stdfds(void);
struct conf;
/* The start every spawner and resolve share: fds 0-2 open, syslog as
 * name, "-c confdir" parsed (anything else: usage on stderr, exit 64) and
 * postern.conf loaded into c (fatal when it is bad). Returns confdir, for
 * the reloads. */
const char *spawner_start(int argc, char *argv[], const char *name,
	    struct conf *c);
/* One message of master's control socket ctl: the new peer socket (tag
 * 'P'), non-blocking; -1 for any other tag (logged, closed). Exits 0 when
 * master is gone (EOF). */
int	 spawner_control(int ctl);

#endif
