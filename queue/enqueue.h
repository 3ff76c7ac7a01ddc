/*
 * enqueue.h: what the files of the enqueue program share, and nothing more.
 *
 * enqueue.c holds main() and the dispatch switch; enqueue_check.c checks
 * the values smtpd sends before they may enter an envelope;
 * enqueue_received.c builds our Received: line; enqueue_spool.c creates the
 * tmp/ file and runs the commit protocol of DESIGN.md ("The spool").
 * Nothing here is used by any other program.
 */
#ifndef POSTERN_ENQUEUE_H
#define POSTERN_ENQUEUE_H

#include <limits.h>
#include <sys/time.h>
#include <time.h>
#include "buf.h"
#include "qfile.h"

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

/* enqueue_received.c: append the Received: line for env, dated when. */
int	 enqueue_received(struct buf *, const struct qenv *,
	    const char *hostname, time_t when);

/* enqueue_spool.c */
int	 enqueue_space_ok(long long minfree, long long size);
int	 enqueue_tmp_open(struct txn *, const char *hostname);
void	 enqueue_tmp_discard(struct txn *);
int	 enqueue_commit(struct txn *);
const char *enqueue_write_reply(int err);

#endif
