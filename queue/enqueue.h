/*
 * enqueue.h: what the files of the enqueue program share, and nothing more.
 *
 * enqueue.c holds main() and the dispatch switch; enqueue_check.c checks
 * the values smtpd sends before they may enter an envelope;
 * enqueue_received.c builds our Received: line; enqueue_spool.c creates the
 * tmp/ file and runs the commit protocol of DESIGN.md ("The spool");
 * enqueue_auth.c checks AUTH credentials ('U'); enqueue_policy.c judges
 * the relay, access and senders tables; enqueue_local.c knows the user of
 * a local submission and fixes its envelope sender.
 * enqueue_main.c holds main(); sessiond calls enqueue_run() in the child
 * it forks for a session (no exec), and nothing else of this file.
 */
#ifndef POSTERN_ENQUEUE_H
#define POSTERN_ENQUEUE_H

#include <limits.h>
#include <sys/time.h>
#include <time.h>
#include "addr.h"
#include "buf.h"
#include "cidr.h"
#include "qfile.h"
#include "table.h"

struct conf;

/* enqueue.c: enqueue_run() is the session on fd and never returns
 * (docs/man/enqueue.8's exit codes); enqueue_session() returns 0 at the
 * session's clean end (smtpd closed fd; fd is closed, nothing of the
 * session is kept) and ends the process on any other, for sessiond's
 * pooled workers. enqueue_usage() exits 64. */
/* Set by sessiond in the child it forks: end with _exit(), not exit(). */
extern int	 enqueue_quick_exit;
int	 enqueue_session(const struct conf *, int fd, const char *client,
	    const char *uid);
void	 enqueue_run(const struct conf *, int fd, const char *client,
	    const char *uid) __attribute__((noreturn));
void	 enqueue_usage(void) __attribute__((noreturn));

/* An SMTP reply line for an 'E' record: RFC 5321 4.5.3.1.5, 512 octets
 * with the CRLF smtpd adds. */
#define SMTP_LINE_MAX	511

/*
 * One SMTP transaction, from 'M' to 'F' or 'A'. The envelope (env) is only
 * ever filled from values that enqueue_check.c or addr_parse_mailbox()
 * accepted; qfile_begin() checks them once more when it writes them.
 */
struct txn {
	int			 active;	/* 'M' accepted */
	struct qenv		 env;		/* client is set for the session */
	long long		 size;		/* declared SIZE=, 0 if none */
	/* From 'B' on: */
	int			 fd;		/* tmp/ file, -1 if none */
	char			 tmp[PATH_MAX];	/* its name, "" if none */
	struct timeval		 arrival;
	struct qfile_writer	 w;
	int			 begun;		/* w holds a buffer */
	long long		 written;	/* message bytes so far */
	int			 werr;		/* errno of the first write
						 * error, 0 if none */
};

/* enqueue_check.c: 1 if the value may go into an envelope, else 0. */
int	 enqueue_check_body(const char *);
int	 enqueue_check_size(const char *, long long *);
int	 enqueue_check_helo(const char *);
int	 enqueue_check_proto(const char *);
int	 enqueue_check_client(const char *);
int	 enqueue_check_ascii(const char *);

/* enqueue_dsn.c: the 'M' and 'R' fields of DSN and SMTPUTF8. NULL when
 * good, else why not (for the protocol error). */
const char *enqueue_check_dsn_mail(const char *envid, const char *ret,
	    const char *smtputf8, const char *sender);
const char *enqueue_check_dsn_rcpt(const char *rcpt, const char *notify,
	    const char *orcpt, int smtputf8);
/* qenv_add_rcpt() and qenv_set_dsn(): 0 or -1 (too many). */
int	 enqueue_add_rcpt(struct qenv *, const char *rcpt,
	    const char *notify, const char *orcpt);

/* enqueue_received.c: append the Received: line for env, dated when. */
int	 enqueue_received(struct buf *, const struct qenv *,
	    const char *hostname, time_t when);

/* enqueue_local.c: a local submission (-u UID, sendmail(8)).
 * local_init: -1 when arg is not a uid. local_on: -u was given.
 * local_who: "LOGIN, uid N" for the Received: line, NULL if not local.
 * local_sender: at 'M', replaces sender with LOGIN@hostname unless the
 * user may choose; 0, or 1 with the reply line (a uid with no login). */
int	 local_init(const char *arg, const struct conf *);
void	 local_reset(void);
int	 local_on(void);
const char *local_who(char *out, size_t outsz);
int	 local_sender(char *sender, size_t sendersz, char *reply,
	    size_t replysz);

/* enqueue_auth.c: 'U' (RFC 4954 AUTH): the login (lowercased) and its
 * password against the passwd table. 1 valid, 0 not, -1 table error. */
int	 enqueue_auth_verify(struct table *passwd, const char *login,
	    const char *password);

/* enqueue_policy.c: relay, access and senders tables for one session.
 * Each check returns 0 (go on) or 1 with the SMTP reply line in out. */
/* The policy's tables. A pooled worker keeps them from one session to
 * the next: every lookup stat()s the file and reopens it when it was
 * rebuilt (common/table.c), so a session sees the table as it is. */
struct policy_tables {
	struct table	 relay, access, senders;
};

struct policy {
	struct policy_tables *t;
	char		 client[64];	/* -a, "" for a local submission */
	int		 local;		/* client "" */
	struct cidr	 addr;		/* the client, parsed */
	int		 relay_ok;	/* -1 not yet known, 0, 1 */
	int		 client_verdict; /* -1 not yet known; access verdict */
	char		 client_text[256];	/* its REJECT text */
	char		 login[ADDR_TEXT_MAX];	/* verified by 'U'; "" */
};

void	 policy_tables_init(struct policy_tables *, const struct conf *);
void	 policy_tables_close(struct policy_tables *);
void	 policy_init(struct policy *, struct policy_tables *, const char *);
int	 policy_mail(struct policy *, const char *helo, const char *sender,
	    char *out, size_t outsz);
int	 policy_rcpt(struct policy *, const char *rcpt, char *out,
	    size_t outsz);
int	 policy_relay(struct policy *, const char *rcpt, char *out,
	    size_t outsz);

/* enqueue_spool.c */
int	 enqueue_space_ok(long long minfree, long long size);
int	 enqueue_tmp_open(struct txn *, const char *hostname);
void	 enqueue_tmp_discard(struct txn *);
int	 enqueue_commit(struct txn *);
const char *enqueue_write_reply(int err);

#endif
