/*
 * qmgr.h: what the queue manager's modules share (queue/qmgr*.c only).
 *
 *   qmgr.c          main: setup, signals, the poll() loop
 *   qmgr_scan.c     start-up recovery; scans of new/ and deferred/
 *   qmgr_msg.c      taking a message, routing its recipients, recording
 *                   outcomes, finishing the message
 *   qmgr_deliver.c  the job queue and the lspawn protocol ('L' out, 'O' in)
 *   qmgr_retry.c    the retry schedule: deferring a message
 *   qmgr_alias.c    expanding an alias recipient into its targets, and
 *                   a user's .forward (lspawn's 'F' answer) likewise
 *   qmgr_control.c  the operator's hold and delete requests for active/
 *   qmgr_bounce.c   expiry and the RFC 3464 reports at the end of a pass
 *   qmgr_dest.c     remote recipients: their destination (routes and
 *                   tls_policy tables) and the resolve protocol
 *   qmgr_remote.c   the rspawn protocol: batches of one message's
 *                   recipients at one destination, concurrency limits
 *
 * One struct qmgr holds the whole state of the process; every module takes a
 * pointer to it. Memory is bounded by qmgr_message_active_limit: only
 * messages in active/ are in memory, and each keeps one status byte per
 * recipient plus one small job per recipient still to be delivered.
 */
#ifndef POSTERN_QMGR_H
#define POSTERN_QMGR_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "conf.h"
#include "io.h"
#include "rcpt.h"
#include "spool.h"
#include "table.h"
#include "addr.h"

struct qmsg;

/* One recipient to hand to lspawn, or (kind 'r') to rspawn. */
struct qjob {
	struct qjob	*next;
	struct qmsg	*msg;
	uint64_t	 reqid;		/* of the last 'L' sent; 0: never sent */
	size_t		 index;		/* into the queue file's 'R' records */
	char		 kind;		/* 'u' user, 'm' user's mailbox only
					 * (no .forward), 'v' virtual, 'f'
					 * file, 'p' pipe (docs/protocols.md);
					 * 'r' remote: target is the address */
	char		*rcpt;		/* the address, for Delivered-To: */
	char		*target;	/* user, mailbox path, file, command */
	char		*as;		/* 'f', 'p': the user to run as */
	char		*fwd;		/* 'u' reached through .forward files:
					 * their users, "a\nb", for loops;
					 * NULL otherwise */
	struct qgroup	*group;		/* an alias's targets, or NULL */
};

/* A final target handed out in a group: delivered once per group. */
struct qfinal {
	char		 kind;
	char		*target;
	char		*as;		/* "" for 'u', 'm', 'v' */
};

/* The targets one alias recipient expanded to (qmgr_alias.c): their
 * outcomes fold into one for the recipient's index. */
struct qgroup {
	size_t		 pending;	/* jobs without an outcome yet */
	char		 status;	/* so far: K, or the first D, or Z */
	char		 code[16];
	char		*text;
	struct qfinal	*finals;	/* every target given a job so far */
	size_t		 nfinals;
};

struct qjobq {
	struct qjob	*head;
	struct qjob	*tail;
	size_t		 n;
};

/* Where remote recipients go: one route (mode, name, port) with one TLS
 * policy; resolved once for every recipient waiting on it. */
struct qdest {
	struct qdest	*next;
	char		 mode;		/* 'm' MX, 'a' addresses (route.h) */
	char		 name[ADDR_DOMAIN_MAX + 8];
	int		 port;
	char		 tls[8];	/* none, may, encrypt, verify */
	char		*hosts;		/* resolve's answer; NULL: none yet */
	time_t		 resolved;	/* when hosts came */
	uint64_t	 qid;		/* the query outstanding; 0: none */
	char		 fstatus;	/* Z or D: every job here fails so */
	char		 fcode[16];
	char		*ftext;
	struct qjobq	 jobs;		/* waiting for an answer or a slot */
	size_t		 active;	/* 'T' requests outstanding */
};

/* One 'T' request outstanding at rspawn: one message, one destination. */
struct qbatch {
	struct qbatch	*next;
	uint64_t	 reqid;
	struct qdest	*dest;
	size_t		 n;
	struct qjob	**jobs;
	char		*status;	/* per job: 0 until its 'R' */
	char		(*code)[16];
	char		**text;
	char		**mta;
};

/* One job's outcome, for qmgr_msg_outcomes(). */
struct qresult {
	struct qjob	*job;
	char		 status;
	const char	*code;
	const char	*text;
	const char	*mta;		/* the remote server, or "" */
	const char	*relay;		/* for the log */
};

/* One message in active/. */
struct qmsg {
	struct qmsg	*prev, *next;
	char		 id[SPOOL_ID_MAX + 1];
	long long	 arrival;
	char		*sender;	/* "" for the null sender */
	size_t		 nrcpt;
	char		*status;	/* per recipient, this pass: 0, K, Z, D */
	size_t		 pending;	/* recipients still without one */
	int		 notify_success; /* a recipient asked NOTIFY=SUCCESS */
	int		 removed;	/* its files are gone (qmgr_msg.c) */
};

/*
 * Finished messages whose queue files are unlinked but not yet on disk:
 * active/ is fsync'd once for all of them at the end of a turn of qmgr's
 * loop (qmgr_msg_sync()), and only then are their state files unlinked
 * and the lines logged that say they are done (bench/README.md,
 * optimisation 11).
 */
#define QMGR_UNSYNCED_MAX	256	/* removals per fsync, at most */
struct qunsynced {
	char		 id[QMGR_UNSYNCED_MAX][SPOOL_ID_MAX + 1];
	size_t		 n;
	struct buf	 log;		/* lines to log after it, NUL-ended */
};

struct qmgr {
	struct conf	 conf;
	struct qunsynced unsynced;
	struct rcpt_tables tables;
	struct qmsg	*msgs;		/* every message in active/ */
	size_t		 nactive;
	int		 backlog;	/* a scan stopped at the active limit */
	time_t		 next_due;	/* earliest deferred mtime known; 0 none */
	struct qjobq	 pending;	/* jobs not yet sent to lspawn */
	struct qjobq	 outstanding;	/* sent, waiting for their 'O' */
	uint64_t	 reqid;		/* last request id used */
	int		 lspawn_fd;	/* -1 while master has not given one */
	struct io	 lspawn;
	/* remote delivery */
	struct table	 routes;
	struct table	 tls_policy;
	struct qdest	*dests;
	struct qbatch	*batches;	/* outstanding at rspawn */
	size_t		 remote_active;	/* batches outstanding */
	int		 resolve_fd;	/* -1: none */
	struct io	 resolve;
	int		 rspawn_fd;	/* SOCK_SEQPACKET; -1: none */
};

/* qmgr_scan.c */
void	 qmgr_recover(struct qmgr *, int initial);
void	 qmgr_scan_new(struct qmgr *);
void	 qmgr_scan_deferred(struct qmgr *, time_t now);
void	 qmgr_corrupt(const char *dir, const char *name, const char *why);

/* qmgr_msg.c */
void	 qmgr_msg_take(struct qmgr *, const char *dir, const char *id);
void	 qmgr_msg_outcome(struct qmgr *, struct qjob *, char status,
	    const char *code, const char *text);
/* Outcomes of several jobs OF ONE MESSAGE, recorded with one write and one
 * fsync (one SMTP transaction's). The jobs are consumed. */
void	 qmgr_msg_outcomes(struct qmgr *, struct qresult *, size_t n);
/* fsync active/ once for the removals made since the last call, then
 * unlink their state files and log them (see struct qunsynced). */
void	 qmgr_msg_sync(struct qmgr *);
void	*qmgr_xcalloc(size_t n, size_t size);
char	*qmgr_xstrdup(const char *);

/* qmgr_deliver.c */
void	 qmgr_job_add(struct qmgr *, struct qjob *);
void	 qmgr_job_free(struct qjob *);
void	 qmgr_deliver_pump(struct qmgr *);
void	 qmgr_deliver_read(struct qmgr *);
void	 qmgr_deliver_attach(struct qmgr *, int fd);
void	 qmgr_deliver_lost(struct qmgr *, const char *why);
/* 1 when code is an RFC 3463 code ("d.d.d") of status's class. */
int	 qmgr_code_valid(const char *code, char status);

/* qmgr_alias.c: 1 when jobs were queued for recipient index (an alias);
 * 0 when the outcome is decided now: *status, code (16 bytes) and *text
 * (malloc'd, the caller frees it) are set. */
int	 qmgr_alias_expand(struct qmgr *, struct qmsg *, size_t index,
	    const char *rcpt, const struct rcpt_route *, char *status,
	    char *code, char **text);
/* A job of a group got its outcome: 0 when others are still out (the job
 * is freed), 1 when it was the last (the outcome to record is the
 * group's, in *status, *code, *text, valid until the job is freed). */
int	 qmgr_alias_job_done(struct qjob *, char *status, const char **code,
	    const char **text);
/* lspawn answered 'F' for job j (kind 'u'): targets ('\n'-separated, as
 * lspawn sent them) replace the job, in its group (made now if it had
 * none); or the job gets its outcome (a loop...), or goes again as 'm'
 * when the targets are unusable. j is consumed. */
void	 qmgr_alias_forward(struct qmgr *, struct qjob *, const char *targets);
/* The group and what it owns. */
void	 qmgr_group_free(struct qgroup *);

/* qmgr_dest.c */
void	 qmgr_dest_init(struct qmgr *);
void	 qmgr_remote_add(struct qmgr *, struct qjob *);	/* kind 'r' */
void	 qmgr_dest_pump(struct qmgr *);
void	 qmgr_resolve_read(struct qmgr *);
void	 qmgr_resolve_attach(struct qmgr *, int fd);
void	 qmgr_dest_release(struct qmgr *, struct qdest *);

/* qmgr_remote.c */
/* Send what may go now from d's jobs. */
void	 qmgr_remote_send(struct qmgr *, struct qdest *);
void	 qmgr_remote_read(struct qmgr *);
void	 qmgr_remote_attach(struct qmgr *, int fd);

/* qmgr_retry.c */
time_t	 qmgr_retry_delay(const struct conf *, time_t now, long long arrival);
void	 qmgr_retry_defer(struct qmgr *, const char *id, time_t when);

/* qmgr_bounce.c: expire, and queue the reports the pass calls for.
 * 0, or -1 when a report could not be queued (defer and try again). */
int	 qmgr_bounce_pass(struct qmgr *, struct qmsg *);

/* qmgr_control.c: 1 when a request moved or removed active/ID */
int	 qmgr_control_take(const char *id);
int	 qmgr_control_done(const char *id, int unfinished);
void	 qmgr_control_recover(void);

#endif
