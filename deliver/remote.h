/*
 * remote.h: rspawn(8)'s built-in SMTP client, what its files share.
 *
 *   remote_job.c      the 'T' request: parsed and checked to the last byte
 *                     (hosts, recipients), and written again after rspawn
 *                     took the dead hosts out
 *   remote_session.c  one SMTP transaction for a job: hosts in order,
 *                     greeting, EHLO/HELO, STARTTLS, MAIL/RCPT (pipelined
 *                     when offered), DATA, outcome per recipient; a
 *                     connection kept for the next job (RSET first)
 *   remote_child.c    the forked child's life: jobs in, 'R' and 'E'
 *                     records out, idle between jobs
 *   rspawn.c          main(): the spawner, the pool of idle connections,
 *                     the memory of dead hosts
 * The records are docs/protocols.md's ("qmgr -> rspawn"); between rspawn
 * and a child the same 'T', 'R' and 'E' travel, plus 'I' (child: idle,
 * connected to ADDRESS PORT) and 'X' (child: that connection is gone),
 * docs/design-notes.md, "rspawn".
 */
#ifndef POSTERN_REMOTE_H
#define POSTERN_REMOTE_H

#include <sys/types.h>
#include <netinet/in.h>
#include "addr.h"
#include "buf.h"
#include "io.h"
#include "smtp_reply.h"
#include "spool.h"
#include "xtext.h"

#define REMOTE_ID_MAX		64	/* qmgr's request id, echoed back */
#define REMOTE_DEST_MAX		256	/* a domain, or a route */
#define REMOTE_HOSTS_MAX	100	/* lines of a 'T' hosts field */
#define REMOTE_HOST_MAX		(ADDR_DOMAIN_MAX + 1)
#define REMOTE_ADDR_MAX		INET6_ADDRSTRLEN
#define REMOTE_CODE_MAX		SMTP_ENHANCED_MAX
#define REMOTE_TEXT_MAX		SMTP_REPLY_TEXT_MAX	/* 1000 and NUL */

struct remote_host {
	unsigned	 pref;
	unsigned	 port;
	char		 name[REMOTE_HOST_MAX];
	char		 addr[REMOTE_ADDR_MAX];	/* numeric */
};

struct remote_rcpt {
	char		 addr[ADDR_TEXT_MAX];
	char		 notify[DSN_NOTIFY_MAX];	/* "" none */
	char		 orcpt[DSN_ORCPT_MAX + 1];	/* "" none */
};

struct remote_job {
	char		 id[REMOTE_ID_MAX];
	char		 qid[SPOOL_ID_MAX + 1];
	char		 dest[REMOTE_DEST_MAX];
	char		 policy[16];	/* none, may, encrypt, verify */
	size_t		 nhosts;
	struct remote_host *hosts;
	size_t		 nrcpt;
	struct remote_rcpt *rcpt;
};

/* One recipient's outcome: docs/protocols.md's 'R' fields. status 0:
 * none yet. */
struct remote_result {
	char		 status;
	char		 code[REMOTE_CODE_MAX];
	char		 text[REMOTE_TEXT_MAX];
	char		 mta[REMOTE_HOST_MAX];	/* "" when no server said it */
};

/* The six fields of a 'T' (id, queue ID, destination, policy, hosts,
 * recipients) into job. 0; or -1 with the reason in err, and job->nrcpt
 * set when the recipients can each be answered (the number of lines of
 * the recipients field, even when one is malformed), 0 when not. At most
 * rcpt_limit recipients. The caller frees job in every case. */
int	 remote_job_parse(const char *const f[6], size_t rcpt_limit,
	    struct remote_job *, struct buf *err);
void	 remote_job_free(struct remote_job *);
/* Append the hosts field for job's hosts (the dead ones taken out). */
int	 remote_job_hosts(const struct remote_job *, struct buf *out);
/* The recipients field, as parsed (for a 'T' written again). */
int	 remote_job_rcpts(const struct remote_job *, struct buf *out);
/* "ADDRESS SP PORT" into addr and port: 0 or -1. */
int	 remote_addr_port(const char *s, size_t len, char *addr, size_t addrsz,
	    unsigned *port);
/* Fill r ('\0'-safe, cut to fit), text with control bytes made '?'. */
void	 remote_result_set(struct remote_result *, char status,
	    const char *code, const char *mta, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));

struct ssl_ctx_st;
struct conf;

/* A connection kept between jobs (fd -1: none). */
struct remote_conn {
	int		 fd;
	struct io	 io;
	int		 ext;		/* SMTP_EXT_* of the last EHLO */
	unsigned long long size;	/* SIZE's limit; 0 none */
	int		 tls;
	struct remote_host host;
};

struct remote_ctx {
	const struct conf *conf;
	struct ssl_ctx_st *tls;
	struct remote_conn conn;
	struct buf	 dead;		/* "ADDRESS PORT" lines of this job */
	const char	*qid;		/* the job's, for logs */
};

void	 remote_ctx_init(struct remote_ctx *, const struct conf *,
	    struct ssl_ctx_st *);
/* Deliver the message of queue file qf for job: one transaction, an
 * outcome for each recipient in res (job->nrcpt entries). Keeps the
 * connection in ctx->conn when it is fit for another transaction. */
void	 remote_deliver(struct remote_ctx *, const struct remote_job *, int qf,
	    struct remote_result *res);
/* QUIT (best effort, briefly) and close the kept connection. */
void	 remote_conn_close(struct remote_ctx *, int quit);

/* The child's life (never returns): sock is its end of the socketpair
 * with rspawn. */
void	 remote_child(int sock, const struct conf *, struct ssl_ctx_st *)
	    __attribute__((noreturn));

#endif
