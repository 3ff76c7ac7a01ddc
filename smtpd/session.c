/*
 * session.c: the SMTP commands that change the session's state: EHLO/HELO,
 * MAIL, RCPT, DATA, RSET, QUIT; and the session's buffers.
 *
 * Called from the dispatch switch in smtpd.c, one function per command.
 * The state is small: greeted (and how), whether enqueue holds an open
 * transaction, the sender, how many recipients it took. Every question
 * about a recipient and every byte of a message goes to enqueue (fd 3):
 * smtpd sits in an empty chroot and could not answer them itself.
 *
 * Each function sends exactly one final reply (two when the session ends:
 * the reply, then the 421). When enqueue is gone the command gets a 451,
 * the session a 421, and smtpd exits: without a queue it can promise
 * nothing.
 */
#include <stdio.h>
#include <string.h>
#include <bsd/string.h>

#include "frame.h"
#include "log.h"
#include "smtpd.h"
#include "spool.h"

/* One reply record from enqueue, the most there ever is to read: nothing
 * is pipelined on fd 3. The read buffer is as big as this allows (io.c
 * reads up to 8 KiB at once); this small, malloc() finds it in the thread
 * cache, not among the free chunks of sessiond's heap, where a forked
 * smtpd pays a copy-on-write fault for each page it writes. */
#define SESSION_QUEUE_IN_MAX	(FRAME_HDR + ENQUEUE_REPLY_MAX)

void
session_init(struct session *s, const struct conf *conf, const char *ip)
{
	size_t	 in_max, line_max;

	memset(s, 0, sizeof(*s));
	s->conf = conf;
	strlcpy(s->ip, ip, sizeof(s->ip));
	s->last = "CONNECT";
	s->exit_code = 0;
	line_max = (size_t)conf->smtpd_command_line_limit;
	if (line_max < (size_t)conf->smtpd_text_line_limit + 1)
		line_max = (size_t)conf->smtpd_text_line_limit + 1;
	line_max += 2;
	/* Room for a burst of pipelined commands (RFC 2920): the buffer
	 * only grows as far as the client fills it, and no further. */
	in_max = 2 * line_max + 8192;
	io_init(&s->cin, 0, conf->smtpd_timeout_seconds * 1000, in_max);
	io_init(&s->cout, 1, conf->smtpd_timeout_seconds * 1000, 0);
	io_init(&s->queue, 3, conf->smtpd_timeout_seconds * 1000,
	    SESSION_QUEUE_IN_MAX);
	buf_init(&s->line, line_max);
	buf_init(&s->payload, SESSION_QUEUE_IN_MAX);
}

void
session_free(struct session *s)
{
	io_free(&s->cin);
	io_free(&s->cout);
	io_free(&s->queue);
	buf_free(&s->line);
	buf_free(&s->payload);
}

void
session_queue_gone(struct session *s, int replied)
{
	if (!replied)
		reply_nocount(s, "451 4.3.0 Error: queue unavailable");
	reply_close(s, "4.3.0", "queue unavailable");
	s->in_mail = 0;
	s->exit_code = 75;	/* EX_TEMPFAIL: the operator should look */
}

static void
session_clear(struct session *s)
{
	s->in_mail = 0;
	s->rcpt_tried = 0;
	s->nrcpt = 0;
	s->overshoot = 0;
	s->sender[0] = '\0';
	s->utf8 = 0;
	s->bdat = 0;
	s->bdat_open = 0;
	s->bdat_fail[0] = '\0';
}

int
session_abandon(struct session *s)
{
	int	 r;

	if (!s->in_mail)
		return 0;
	r = enqueue_ask(s, 'A', NULL, 0);
	session_clear(s);
	if (r == -1)
		return -1;
	if (r != 'K')
		log_warn("enqueue: refused 'A': %s", s->qtext);
	return 0;
}

void
smtpd_helo(struct session *s, const struct smtpd_cmd *cmd, int esmtp)
{
	const char *verb = esmtp ? "EHLO" : "HELO";

	if (cmd->args[0] == '\0') {
		reply(s, "501 5.5.4 Syntax: %s hostname", verb);
		return;
	}
	if (!cmd_helo_valid(cmd->args)) {
		reject(s, verb, NULL, "501 5.5.4 Invalid %s hostname", verb);
		return;
	}
	/* RFC 5321 4.1.4: EHLO in the middle of a transaction resets it. */
	if (session_abandon(s) == -1) {
		session_queue_gone(s, 0);
		return;
	}
	strlcpy(s->helo, cmd->args, sizeof(s->helo));
	s->greeted = 1;
	s->esmtp = esmtp;
	if (!esmtp) {
		reply(s, "250 %s", s->conf->hostname);
		return;
	}
	/* RFC 5321 4.1.1.1; what we offer and nothing else: no TURN, no
	 * ETRN, no DSN, no VRFY promises. */
	reply(s, "250-%s", s->conf->hostname);
	reply(s, "250-PIPELINING");			/* RFC 2920 */
	reply(s, "250-SIZE %lld", s->conf->message_size_limit); /* 1870 */
	reply(s, "250-8BITMIME");			/* RFC 6152 */
	reply(s, "250-SMTPUTF8");			/* RFC 6531 */
	reply(s, "250-CHUNKING");			/* RFC 3030 */
	reply(s, "250-DSN");				/* RFC 3461 */
	if (starttls_offered(s))
		reply(s, "250-STARTTLS");		/* RFC 3207 */
	if (auth_offered(s))
		reply(s, "250-AUTH PLAIN LOGIN");	/* RFC 4954 */
	reply(s, "250 ENHANCEDSTATUSCODES");		/* RFC 2034 */
}

void
smtpd_mail(struct session *s, const struct smtpd_cmd *cmd)
{
	struct smtpd_path mp;
	char	 err[SMTPD_REPLY_MAX + 1], size[32];
	const char *f[8];
	int	 r;

	if (!s->greeted) {
		reply(s, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (s->in_mail) {
		reply(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	/* RFC 6409 4.3: submission is for authenticated users. */
	if (s->listener != LISTEN_SMTP && s->listener != LISTEN_LOCAL &&
	    s->auth_user[0] == '\0') {
		reject(s, "MAIL", NULL, "530 5.7.0 Authentication required");
		return;
	}
	if (cmd_mail_args(cmd->args, s->esmtp, s->conf->message_size_limit,
	    &mp, err, sizeof(err)) == -1) {
		reject(s, "MAIL", NULL, "%s", err);
		return;
	}
	snprintf(size, sizeof(size), "%lld", mp.size);
	f[0] = mp.text;
	f[1] = mp.body8 ? "8BITMIME" : "7BIT";
	f[2] = size;
	f[3] = s->helo;
	/* session_proto() says UTF8SMTP* for an SMTPUTF8 transaction. */
	s->utf8 = mp.utf8;
	f[4] = session_proto(s);
	/* RFC 3461 4.3, 4.4, RFC 6531 3.4: kept for the queue file. */
	f[5] = mp.envid;
	f[6] = mp.ret;
	f[7] = mp.utf8 ? "1" : "0";
	if ((r = enqueue_ask(s, 'M', f, 8)) == -1) {
		session_queue_gone(s, 0);
		return;
	}
	if (r == 'E') {
		/* in_mail for a moment, only so that reject() logs from=<>;
		 * enqueue started no transaction. */
		strlcpy(s->sender, mp.text, sizeof(s->sender));
		s->in_mail = 1;
		reject(s, "MAIL", NULL, "%s", s->qtext);
		session_clear(s);
		return;
	}
	session_clear(s);
	s->in_mail = 1;
	s->utf8 = mp.utf8;
	strlcpy(s->sender, mp.text, sizeof(s->sender));
	reply(s, "250 2.1.0 Ok");
}

void
smtpd_rcpt(struct session *s, const struct smtpd_cmd *cmd)
{
	struct smtpd_path rp;
	char	 err[SMTPD_REPLY_MAX + 1];
	const char *f[3];
	int	 r;

	if (!s->in_mail) {
		reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	s->rcpt_tried = 1;
	if (cmd_rcpt_params(cmd->args, s->esmtp, s->utf8, &rp, err,
	    sizeof(err)) == -1) {
		reject(s, "RCPT", NULL, "%s", err);
		return;
	}
	/* RFC 5321 4.5.3.1.8: 452, and the client sends the rest in
	 * another transaction. A pipelining client may well send more than
	 * we take, so these do not count as errors until it overshoots by
	 * as many again (then it is not a client that will ever stop). */
	if (s->nrcpt >= (size_t)s->conf->smtpd_max_recipients) {
		if (s->overshoot++ < (size_t)s->conf->smtpd_max_recipients)
			reply_nocount(s, "452 4.5.3 Error: too many "
			    "recipients");
		else
			reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	f[0] = rp.text;
	f[1] = rp.notify;	/* RFC 3461 4.1, 4.2 */
	f[2] = rp.orcpt;
	if ((r = enqueue_ask(s, 'R', f, 3)) == -1) {
		session_queue_gone(s, 0);
		return;
	}
	if (r == 'E') {
		reject(s, "RCPT", rp.text, "%s", s->qtext);
		return;
	}
	s->nrcpt++;
	reply(s, "250 2.1.5 Ok");
}

/* After the data: the reply, the log line, the end of the transaction.
 * Also bdat.c's, after the LAST chunk. */
void
smtpd_data_end(struct session *s, enum data_result res,
    enum data_problem problem)
{
	char	 text[SMTPD_REPLY_MAX + 1];
	const char *id;
	int	 r;

	switch (res) {
	case DATA_LOST:
		/* enqueue sees our EOF and drops its tmp/ file. */
		log_info("lost connection after DATA from [%s]", s->ip);
		s->quit = 1;
		return;
	case DATA_TIMEOUT:
		reply_close(s, "4.4.2", "timeout exceeded");
		return;
	case DATA_QUEUE_GONE:
		session_queue_gone(s, 0);
		return;
	case DATA_DONE:
		break;
	}
	if (problem != DATA_OK) {
		data_problem_reply(problem,
		    (size_t)s->conf->smtpd_text_line_limit, text,
		    sizeof(text));
		reject(s, "DATA", NULL, "%s", text);
		if (session_abandon(s) == -1)
			session_queue_gone(s, 1);
		return;
	}
	if ((r = enqueue_ask(s, 'F', NULL, 0)) == -1) {
		/* Outcome unknown: enqueue may have committed (rename, fsync)
		 * and died before its answer reached us. A 451 here was a 4xx
		 * for a message then delivered, against DESIGN.md's invariant
		 * (found by tests/integration/test_torture.py). Close without
		 * a reply: the at-least-once window, which the client cannot
		 * tell from a broken connection, and retries. */
		log_warn("enqueue gone after the final dot from [%s]: "
		    "closing without a reply", s->ip);
		s->in_mail = 0;
		s->quit = 1;
		s->exit_code = 75;
		return;
	}
	if (r == 'E') {
		reject(s, "DATA", NULL, "%s", s->qtext);
		session_clear(s);	/* enqueue dropped it (protocols.md) */
		return;
	}
	/* The message is safe on disk now: 250 whatever the ID looks
	 * like, but only a well-formed ID is echoed or logged. */
	id = s->qtext;
	if (spool_id_valid(id)) {
		log_info("%s: client=[%s]", id, s->ip);
		reply(s, "250 2.0.0 Ok: queued as %s", id);
	} else {
		log_warn("enqueue: malformed queue ID after 'F'");
		reply(s, "250 2.0.0 Ok: queued");
	}
	session_clear(s);
}

void
smtpd_data(struct session *s, const struct smtpd_cmd *cmd)
{
	enum data_problem problem;
	enum data_result res;
	int	 r;

	if (!s->in_mail || !s->rcpt_tried) {
		reply(s, "503 5.5.1 Error: need RCPT command");
		return;
	}
	/* RFC 3030 2: a transaction's message goes by DATA or by BDAT,
	 * never by both. */
	if (s->bdat) {
		reply(s, "503 5.5.1 Error: DATA after BDAT");
		return;
	}
	if (s->nrcpt == 0) {
		/* RFC 5321 3.3: 554 when every RCPT was refused. */
		reject(s, "DATA", NULL, "554 5.5.1 Error: no valid recipients");
		return;
	}
	if (cmd->args[0] != '\0') {
		reply(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	if ((r = enqueue_ask(s, 'B', NULL, 0)) == -1) {
		session_queue_gone(s, 0);
		return;
	}
	if (r == 'E') {
		/* enqueue keeps the transaction (protocols.md): the client
		 * may try DATA again, or RSET. */
		reject(s, "DATA", NULL, "%s", s->qtext);
		return;
	}
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
	res = data_receive(s, &problem);
	smtpd_data_end(s, res, problem);
}

void
smtpd_rset(struct session *s, const struct smtpd_cmd *cmd)
{
	/* RFC 5321 4.1.1.5: no parameters. */
	if (cmd->args[0] != '\0') {
		reply(s, "501 5.5.4 Syntax: RSET");
		return;
	}
	if (session_abandon(s) == -1) {
		session_queue_gone(s, 0);
		return;
	}
	reply(s, "250 2.0.0 Ok");
}

void
smtpd_quit(struct session *s, const struct smtpd_cmd *cmd)
{
	/* RFC 5321 4.1.1.10: no parameters; but a client that says QUIT
	 * wants to go, so it goes either way. */
	reply(s, "221 2.0.0 Bye");
	s->quit = 1;
}
