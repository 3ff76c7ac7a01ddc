/*
 * master.h: the state of the master process, shared by its modules.
 *
 *   master.c   main(): arguments, setup, the poll loop and its dispatch
 *   daemon.c   -d: detach, report readiness to the parent; the pid file
 *   listen.c   smtpd_listen, submission_listen, smtps_listen bound
 *   limits.c   per-client-address limits: sessions at once, connections
 *              per minute (a fixed-size table)
 *   child.c    the long-running children (lspawn, qmgr): start, backoff,
 *              restart, reconnect the survivor; the fork/exec plumbing
 *   session.c  each accepted connection: to sessiond, or (when it is
 *              not running) one exec'd smtpd + enqueue pair
 *   handoff.c  sessiond: start, restart with backoff, the connections
 *              handed to it and the sessions it reports ended
 *   local.c    the local submission socket (sendmail): SO_PEERCRED
 *
 * master is small on purpose: it forks for every connection, and fork's cost
 * grows with the parent's mapped memory. Everything variable-sized is
 * allocated to fit; nothing big is static.
 */
#ifndef POSTERN_MASTER_H
#define POSTERN_MASTER_H

#include <sys/types.h>
#include <sys/socket.h>
#include <limits.h>

#include "conf.h"

/* The long-running children, in start order: qmgr's peers first, so qmgr
 * finds them ready. Each peer shares one socketpair with qmgr (child.c). */
enum { KID_LSPAWN, KID_RESOLVE, KID_RSPAWN, KID_QMGR, KID_COUNT };
#define KID_PEERS	KID_QMGR	/* the kids before it are qmgr's peers */

struct kid {
	const char	*name;		/* "lspawn", "resolve", ... */
	pid_t		 pid;		/* 0: not running */
	int		 ctl;		/* master's end of fd 4; -1 */
	int		 pending;	/* a peer's end kept for it while it is
					 * down and qmgr runs; -1 */
	int		 qpending;	/* a peer's: qmgr's end of its pair,
					 * kept while qmgr is down; -1 */
	int		 started_once;	/* qmgr gets -i only the first time */
	long long	 started_ms;	/* monotonic, when forked */
	long long	 restart_ms;	/* monotonic, when due; 0: not due */
	int		 backoff;	/* seconds for the next quick crash */
};

struct session {
	pid_t		 smtpd;		/* 0 once exited (or sessiond's) */
	pid_t		 enqueue;	/* 0 once exited (or sessiond's) */
	unsigned long	 id;		/* sessiond's session; 0: exec'd */
	int		 slot;		/* limits.c's entry for the client;
					 * -1: not counted */
};

/* A listening socket, and its kind: smtpd's -l argument. */
struct listener {
	int		 fd;
	const char	*kind;		/* "smtp", "submission", "smtps",
					 * "local" (local.c) */
};

struct master {
	struct conf	*conf;		/* the running configuration */
	char		 confdir[PATH_MAX];	/* absolute, as conf has it */
	char		 libexec[PATH_MAX];	/* where our siblings live */
	char		 spool[PATH_MAX];	/* cwd; fixed until restart */
	char		 listen[1024];		/* smtpd_listen when bound */
	char		 listen_sub[1024];	/* submission_listen, same */
	char		 listen_smtps[1024];	/* smtps_listen, same */
	char		 local_path[PATH_MAX];	/* the local submission
						 * socket, once bound */
	char		 listen_text[3200];	/* "A, B (submission)" for
						 * the log */
	int		 foreground;
	int		 stopping;	/* SIGTERM seen: restart nothing */

	struct listener	*lfd;		/* listening sockets */
	size_t		 nlfd;

	int		 sigpipe[2];	/* self-pipe: signal numbers */
	int		 pidfd;		/* pid file, locked; -1 */
	char		 pidpath[PATH_MAX];	/* "" when none was written */

	struct kid	 kid[KID_COUNT];
	struct kid	 sd;		/* sessiond; ctl: SOCK_SEQPACKET */
	unsigned long	 next_id;	/* the last session id given out */

	struct session	*sess;		/* live sessions, unordered */
	size_t		 nsess, capsess;
	long long	 accept_pause_ms;	/* listeners ignored until then
						 * (out of fds or memory) */
	/* A connection sessiond's socket had no room for (session.c): the
	 * listeners wait until it is handed over; conn -1 when none. */
	struct {
		int	 conn;
		int	 slot;
		char	 ip[64];
		char	 kind[16];
		char	 uid[24];
		int	 local;		/* uid is set */
	}		 pend;
};

/* master.c */
long long	 now_ms(void);
/* accept() failed: 1 if the caller should stop for now. A lack of fds or
 * memory pauses every listener for ACCEPT_PAUSE_MS (logged once), since
 * the listener stays readable and polling it again would only spin. */
int		 accept_failed(struct master *, const char *what);
#define ACCEPT_PAUSE_MS	1000

/* daemon.c */
void	 daemon_begin(void);
void	 daemon_ready(void);
void	 pidfile_lock(struct master *, int required);
void	 pidfile_write(struct master *);
void	 pidfile_remove(struct master *);

/* listen.c */
void	 listen_open(struct master *);
void	 listen_close(struct master *);

/* child.c */
void	 child_init(struct master *);
void	 resolv_copy(struct master *);
void	 child_start(struct master *, int which);
void	 child_exited(struct master *, int which, int status);
int	 child_find(const struct master *, pid_t);
int	 child_timeout(const struct master *);
void	 child_timers(struct master *);
void	 child_signal_all(struct master *, int sig);
void	 child_exec(struct master *, const char *prog, char *const argv[])
	    __attribute__((noreturn));
void	 child_place_fds(const int *fds, int n);
void	 child_devnull(int std_in, int std_out);
int	 status_text(int status, char *out, size_t outsz);
void	 child_schedule(struct master *, struct kid *, long long lived_ms);

/* handoff.c */
void	 sessiond_start(struct master *);
void	 sessiond_exited(struct master *, int status);
/* Hand conn over (closed here on success): 0, or -1 and the caller runs
 * the session itself: errno EAGAIN when sessiond's socket is full (not
 * logged), ESRCH when sessiond is not running. */
int	 sessiond_handoff(struct master *, int conn, const char *ip,
	    const char *kind, int slot, const char *uid);
/* The 'X' records sessiond has sent: those sessions are over. */
void	 sessiond_read(struct master *);

/* limits.c */
enum limits_verdict { LIMITS_OK, LIMITS_SESSIONS, LIMITS_RATE };
/* A new connection from the address in ss: counted, and the verdict.
 * LIMITS_OK: *slot is the entry to release when the session ends (-1
 * when the table had no room: not counted, let in). */
enum limits_verdict limits_admit(const struct master *,
	    const struct sockaddr_storage *, int *slot);
void	 limits_release(int slot);

/* session.c */
void	 session_accept(struct master *, const struct listener *);
int	 session_reaped(struct master *, pid_t, int status);
void	 session_signal_all(struct master *, int sig);
/* Hand conn to sessiond, or keep it in m->pend while sessiond's socket
 * is full, or fork + exec the pair for it; conn is closed (or kept)
 * here. uid: the local submitter's (enqueue -a "" -u UID), NULL for a
 * network client. */
void	 session_start(struct master *, int conn, const char *ip,
	    const char *kind, int slot, const char *uid);
/* Try m->pend again (sessiond's socket writable, or sessiond gone). */
void	 session_pending(struct master *);

/* local.c */
void	 local_open(struct master *);
void	 local_accept(struct master *, const struct listener *);

#endif
