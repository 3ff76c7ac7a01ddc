/*
 * smtpd.h: what the files of smtpd share.
 *
 * smtpd.c   main(): setup, privilege drop, the session loop and its switch
 * session.c one function per SMTP command that has more than a reply
 * command.c parsing a command line (pure functions, unit-tested)
 * data.c    reading DATA: line reader, the line state machine, the pump
 * bdat.c    CHUNKING (RFC 3030): BDAT chunks, their octet state machine
 * params.c  the SMTPUTF8 and DSN parameters of MAIL and RCPT
 * enqueue.c the request/reply round trip with enqueue on fd 3
 * reply.c   replies to the client, error counting, reply text checks
 * starttls.c STARTTLS (RFC 3207), implicit TLS (RFC 8314), pregreet
 * proto.c   the with-protocol name of the session (RFC 3848, RFC 6531)
 * auth.c    AUTH PLAIN and LOGIN (RFC 4954); enqueue checks the password
 *
 * Everything here is per session: one smtpd process serves one connection,
 * so there is exactly one struct session, owned by main().
 */
#ifndef POSTERN_SMTPD_H
#define POSTERN_SMTPD_H

#include <stddef.h>
#include "addr.h"
#include "buf.h"
#include "conf.h"
#include "io.h"
#include "xtext.h"

/* RFC 5321 4.5.3.1.5: a reply line is at most 512 octets with its CRLF. */
#define SMTPD_REPLY_MAX		510
/* 'D' records carry this much message, and at most one line more. */
#define SMTPD_DATA_CHUNK	(64 * 1024)

/* ---- command.c: parsing (no I/O, no state) ---- */

enum smtpd_verb {
	/* pseudo-verbs: what the line reader found instead of a command */
	VERB_EMPTY,		/* an empty line */
	VERB_LONG,		/* longer than smtpd_command_line_limit */
	VERB_NUL,		/* a NUL byte in the line */
	VERB_BADCR,		/* a CR that is not part of the CRLF ending */
	VERB_UNKNOWN,
	/* RFC 5321 4.1.1 */
	VERB_HELO, VERB_EHLO, VERB_MAIL, VERB_RCPT, VERB_DATA, VERB_RSET,
	VERB_NOOP, VERB_QUIT, VERB_VRFY, VERB_EXPN, VERB_HELP,
	/* RFC 2821 F.1, F.6: never offered, answered 502 */
	VERB_SEND, VERB_SAML, VERB_SOML, VERB_TURN,
	/* ESMTP: RFC 3207, RFC 4954, RFC 3030 */
	VERB_STARTTLS, VERB_AUTH, VERB_BDAT
};

/* Which listener accepted the connection (master's -l argument). */
enum listener {
	LISTEN_SMTP,		/* smtpd_listen: MX service, port 25 */
	LISTEN_SUBMISSION,	/* submission_listen: RFC 6409, port 587 */
	LISTEN_SMTPS,		/* smtps_listen: RFC 8314 implicit TLS, 465 */
	LISTEN_LOCAL		/* local_submit_socket: sendmail(8); enqueue
				 * knows the user (-u), no TLS, no AUTH */
};

struct smtpd_cmd {
	enum smtpd_verb	 verb;
	const char	*name;	/* "MAIL", for logs; "" for pseudo-verbs */
	const char	*args;	/* after the verb's SP, trailing blanks cut;
				 * "" when there is none */
};

/* MAIL FROM:<path> [SP params]  /  RCPT TO:<path> [SP params] */
struct smtpd_path {
	struct addr	 addr;
	char		 text[ADDR_TEXT_MAX];	/* addr_format()ted */
	long long	 size;		/* SIZE=, 0 if none (MAIL only) */
	int		 body8;		/* BODY=8BITMIME (MAIL only) */
	int		 utf8;		/* SMTPUTF8 (MAIL only, RFC 6531) */
	/* DSN (RFC 3461), canonical as xtext.h has them, "" if not given */
	char		 ret[8];	/* RET= (MAIL) */
	char		 envid[DSN_ENVID_XTEXT_MAX + 1];	/* ENVID= (MAIL) */
	char		 notify[DSN_NOTIFY_MAX];	/* NOTIFY= (RCPT) */
	char		 orcpt[DSN_ORCPT_MAX + 1];	/* ORCPT= (RCPT) */
};

/* Cut the line ending ("\r\n", or a lone "\n" which we tolerate at the end
 * of a command) off line, then say what is wrong with what is left:
 * VERB_NUL, VERB_BADCR, or VERB_UNKNOWN meaning "fine, parse it". */
enum smtpd_verb	 cmd_line_check(struct buf *line);
/* Split a checked line (NUL-free, no line ending) into verb and
 * arguments. The line is modified (NUL after the verb, blanks cut). */
void		 cmd_parse(char *line, struct smtpd_cmd *);
/* "FROM:<path> [params]" for MAIL. 0, or -1 with the whole reply line
 * (no CRLF) in reply. esmtp: params are allowed at all (EHLO was used);
 * size_limit: message_size_limit, 0 for none. */
int		 cmd_mail_args(const char *args, int esmtp,
		    long long size_limit, struct smtpd_path *,
		    char *reply, size_t replysz);
/* "TO:<path> [params]" for RCPT. esmtp: EHLO was used (NOTIFY=, ORCPT=
 * are allowed); utf8: the transaction's MAIL had SMTPUTF8, so a UTF-8
 * address is allowed (else 553 5.6.7). */
int		 cmd_rcpt_params(const char *args, int esmtp, int utf8,
		    struct smtpd_path *, char *reply, size_t replysz);
/* cmd_rcpt_params(args, 1, 0, ...): the fuzzer's and old tests' entry. */
int		 cmd_rcpt_args(const char *args, struct smtpd_path *,
		    char *reply, size_t replysz);
/* params.c: the MAIL and RCPT parameters of SMTPUTF8 and DSN (RFC 6531,
 * RFC 3461). 1 handled (set in p), 0 not one of these, -1 bad or
 * repeated: the reply line is in reply. val is NULL without '='. */
int		 param_mail_ext(const char *key, size_t keylen,
		    const char *val, size_t vallen, struct smtpd_path *p,
		    char *reply, size_t replysz);
int		 param_rcpt_ext(const char *key, size_t keylen,
		    const char *val, size_t vallen, struct smtpd_path *p,
		    char *reply, size_t replysz);
/* 1 when the formatted address is all ASCII (RFC 6531: else the
 * transaction needs SMTPUTF8). */
int		 param_ascii(const char *);
/* An EHLO/HELO argument: a domain or an address literal, where '_' is
 * tolerated inside labels (Windows host names). 1 valid, 0 not. */
int		 cmd_helo_valid(const char *name);

/* ---- reply.c ---- */

struct session;

/* "NNN text" to the client (buffered; see smtpd.c on PIPELINING).
 * A 4xx/5xx reply counts towards smtpd_max_errors; reaching it adds the
 * 421 and ends the session. */
void		 reply(struct session *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/* The same, without counting (421s, the 452 recipient overshoot). */
void		 reply_nocount(struct session *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/* reply() plus the "reject:" log line for MAIL, RCPT, DATA, EHLO. */
void		 reject(struct session *, const char *verb, const char *to,
		    const char *fmt, ...)
		    __attribute__((format(printf, 4, 5)));
/* 421 HOSTNAME Error: ...: the last reply of the session. */
void		 reply_close(struct session *, const char *code,
		    const char *what);
/* An SMTP reply line from enqueue that we may send as it is:
 * [45]NN SP printable ASCII, at most SMTPD_REPLY_MAX octets. 1 or 0. */
int		 reply_text_valid(const char *);

/* ---- enqueue.c ---- */

/* A reply record holds one field: an SMTP reply line or a queue ID. */
#define ENQUEUE_REPLY_MAX	1024

/* Send a request of n fields and wait for its one reply: 'K' (text in
 * s->qtext: "" or the queue ID), 'E' (s->qtext is a reply line safe to send:
 * enqueue's own, or our 451 when its was malformed), or -1: enqueue is gone
 * or broke the protocol (logged; the session must end). */
int		 enqueue_ask(struct session *, int type,
		    const char *const *f, size_t n);
/* Message bytes in a 'D' record, no reply; sent with the next request,
 * or before once SMTPD_DATA_CHUNK octets wait. 0 or -1 (enqueue gone). */
int		 enqueue_data(struct session *, const void *, size_t);
/* The same, built in place: open a 'D' record at the end of the queue's
 * output buffer and return that buffer, for the message bytes to be
 * appended; pending: how many there are; discard: drop them, the record
 * stays open; cancel: drop the record; close: finish it (none when it is
 * empty) and send as enqueue_data() does, 0 or -1 (enqueue gone). */
struct buf	*enqueue_data_open(struct session *);
size_t		 enqueue_data_pending(const struct session *);
void		 enqueue_data_discard(struct session *);
void		 enqueue_data_cancel(struct session *);
int		 enqueue_data_close(struct session *);

/* ---- data.c ---- */

enum data_problem {
	DATA_OK = 0,
	DATA_BARE,		/* bare CR or bare LF */
	DATA_NUL,		/* a NUL byte */
	DATA_LONG,		/* a line past smtpd_text_line_limit */
	DATA_SIZE		/* past message_size_limit */
};

/* The DATA line state machine: fed one line at a time, exactly as it came
 * (its LF included), it finds the end, unstuffs, converts CRLF to LF and
 * notes the first problem. */
struct data_state {
	size_t		 line_limit;	/* octets incl. CRLF, dot not counted */
	long long	 size_limit;	/* 0: none */
	long long	 size;		/* octets received so far */
	int		 crlf;		/* the previous line ended in CRLF */
	int		 normalize;	/* smtpd_bare_newline = normalize */
	enum data_problem problem;	/* the first one found */
};

void		 data_init(struct data_state *, size_t line_limit,
		    long long size_limit);
/* One line (len bytes, ending in '\n'). toolong: the reader cut the line
 * and line holds only its ending ("\r\n" or "\n"). Message bytes go to out
 * while there is no problem. 1: this was the end-of-data line; 0: not;
 * -1: out is full (the caller sized it wrong: a bug). */
int		 data_line(struct data_state *, const char *line, size_t len,
		    int toolong, struct buf *out);
/* Read one line of DATA from in into line (its LF included). A line longer
 * than max octets is read to its end and dropped: *toolong is set and line
 * holds only its ending. Before blocking, out (the client's output side)
 * is flushed, so the 354 and earlier pipelined replies go out.
 * 1 a line; 0 EOF (a partial last line is lost); -1 error (errno). */
int		 data_getline(struct io *in, struct io *out, struct buf *line,
		    size_t max, int *toolong);

enum data_result {
	DATA_DONE,		/* ended by CRLF.CRLF; see problem */
	DATA_LOST,		/* the client went away */
	DATA_TIMEOUT,		/* smtpd_data_timeout_seconds passed */
	DATA_QUEUE_GONE		/* enqueue went away while we sent */
};
/* After the 354: read the message to its end, sending 'D' records while
 * nothing is wrong. *problem says what was wrong, if anything. */
enum data_result data_receive(struct session *, enum data_problem *problem);
/* The reply line for a problem, into out. */
void		 data_problem_reply(enum data_problem, size_t line_limit,
		    char *out, size_t outsz);

/* ---- bdat.c: CHUNKING (RFC 3030) ---- */

/* The octets of one transaction's BDAT chunks, as a state machine that
 * is fed whatever piece of a chunk arrives: CRLF to LF, across chunk
 * boundaries too, and the first problem found (data.c's kinds). */
struct bdat_state {
	size_t		 line_limit;	/* octets incl. CRLF */
	long long	 size_limit;	/* 0: none */
	int		 normalize;	/* smtpd_bare_newline = normalize */
	long long	 size;		/* octets received, all chunks */
	size_t		 linelen;	/* octets of the current line */
	int		 cr;		/* the last octet was a CR, held back */
	enum data_problem problem;	/* the first one found */
};

void		 bdat_init(struct bdat_state *, size_t line_limit,
		    long long size_limit, int normalize);
/* n octets of a chunk; message bytes go to out (at most n + 1 added)
 * while there is no problem. 0, or -1 when out is full (a bug). */
int		 bdat_feed(struct bdat_state *, const char *p, size_t n,
		    struct buf *out);
/* After the LAST chunk: a CR held back is a bare CR. */
int		 bdat_end(struct bdat_state *, struct buf *out);
/* "<size> [LAST]": 0 with *size and *last; 1 the size is good but the
 * rest is not (the chunk can still be skipped); -1 no size at all. */
int		 bdat_args(const char *args, long long *size, int *last);
void		 smtpd_bdat(struct session *, const struct smtpd_cmd *);

/* ---- session.c: the commands ---- */

struct session {
	const struct conf *conf;
	struct io	 cin;		/* fd 0: client, read side */
	struct io	 cout;		/* fd 1: client, write side */
	struct io	 queue;		/* fd 3: enqueue */
	struct buf	 line;		/* the current line from the client */
	struct buf	 payload;	/* the current record from enqueue */
	size_t		 data_start;	/* the open 'D' record in queue.out */
	char		 ip[64];	/* the client, for logs */
	char		 helo[ADDR_DOMAIN_MAX + 1];
	char		 qtext[SMTPD_REPLY_MAX + 1];	/* enqueue's answer */
	const char	*last;		/* last verb, for "lost connection after" */
	int		 greeted;	/* HELO or EHLO seen */
	int		 esmtp;		/* and it was EHLO */
	int		 in_mail;	/* enqueue holds an open transaction */
	int		 rcpt_tried;	/* a RCPT came in this transaction */
	size_t		 nrcpt;		/* recipients accepted */
	size_t		 overshoot;	/* RCPTs refused for being too many */
	char		 sender[ADDR_TEXT_MAX];
	int		 errors;	/* 4xx/5xx replies so far */
	int		 quit;		/* end the session after this command */
	int		 exit_code;
	enum listener	 listener;	/* -l smtp | submission | smtps */
	int		 tls;		/* TLS is up on cin/cout */
	char		 tls_info[128];	/* e.g. "TLSv1.3 with cipher X", logs */
	char		 auth_user[ADDR_TEXT_MAX];	/* "" until AUTH */
	int		 utf8;		/* this transaction's MAIL had SMTPUTF8 */
	/* CHUNKING: this transaction's BDATs (RFC 3030) */
	int		 bdat;		/* a BDAT came: DATA is refused */
	int		 bdat_open;	/* enqueue accepted 'B' */
	char		 bdat_fail[SMTPD_REPLY_MAX + 1]; /* the reply of a
					 * failed one: every later chunk gets
					 * it, then LAST abandons */
	struct bdat_state bdat_st;
};

/* Open the session's buffers on fds 0, 1 and 3. */
void		 session_init(struct session *, const struct conf *,
		    const char *ip);
void		 session_free(struct session *);
void		 smtpd_helo(struct session *, const struct smtpd_cmd *,
		    int esmtp);
void		 smtpd_mail(struct session *, const struct smtpd_cmd *);
void		 smtpd_rcpt(struct session *, const struct smtpd_cmd *);
void		 smtpd_data(struct session *, const struct smtpd_cmd *);
/* After the message (DATA or the LAST BDAT): the reply and the commit
 * ('F'), or the refusal and 'A'. */
void		 smtpd_data_end(struct session *, enum data_result,
		    enum data_problem);
void		 smtpd_rset(struct session *, const struct smtpd_cmd *);
void		 smtpd_quit(struct session *, const struct smtpd_cmd *);
/* Drop the open transaction, telling enqueue ('A'). 0, or -1 when
 * enqueue is gone (nothing was replied: see session_queue_gone). */
int		 session_abandon(struct session *);
/* enqueue is gone: 451 for the command at hand (unless it was replied
 * already), then 421, and the session ends. */
void		 session_queue_gone(struct session *, int replied);

/* ---- smtpd_run.c ---- */

/* The session on fds 0/1 (client) and 3 (enqueue), the config, TLS and
 * the time zone already loaded: drop privilege (chroot, smtpd_user), run,
 * and return the exit code. client: the numeric address master saw, or
 * NULL to ask the socket. */
int		 smtpd_run(struct conf *, enum listener, const char *client);
/* One session on fds 0/1 and 3, privilege already dropped; its exit code.
 * again: the process serves more sessions, so this one's state is wiped
 * (smtpd_serve.c). */
int		 smtpd_session(struct conf *, enum listener, const char *ip,
		    int again);
/* The address logged and given to enqueue (smtpd_run's client). */
void		 smtpd_client_ip(enum listener, const char *client, char *ip,
		    size_t ipsz);

/* ---- smtpd_serve.c ---- */

/* A reused smtpd (smtpd_process_uses > 1): fds 0/1 /dev/null, 3 the
 * control socket to sessiond. Drops privilege, then serves one session
 * per record 'C' until EOF (docs/protocols.md, "sessiond -> reused
 * smtpd"). The exit code. */
int		 smtpd_serve(struct conf *, enum listener);
/* "smtp", "submission", "smtps", "local" to its listener: 0, or -1. */
int		 smtpd_listener(const char *, enum listener *);

/* ---- starttls.c ---- */

/* Load the certificate and key (as root, before chroot). A bad one is
 * logged; STARTTLS is then not offered, and an smtps session ends. Called
 * again (sessiond's reload), it replaces the context it made before. */
void		 starttls_init(const struct conf *);
/* EHLO offers STARTTLS: a certificate is loaded and TLS is not up. */
int		 starttls_offered(const struct session *);
void		 smtpd_starttls(struct session *, const struct smtpd_cmd *);
/* Before the greeting: the handshake on an smtps listener, the pregreet
 * check on the others. 0 go on, -1 the session is over (logged). */
int		 starttls_pregreet(struct session *);
/* close_notify at the end of the session, when TLS is up. */
void		 starttls_end(struct session *);

/* ---- auth.c: AUTH (RFC 4954) ---- */

/* EHLO offers AUTH: a submission or smtps session with TLS up. */
int		 auth_offered(const struct session *);
void		 smtpd_auth(struct session *, const struct smtpd_cmd *);

/* ---- proto.c ---- */

/* "SMTP", "ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA", "UTF8SMTP", "UTF8SMTPS",
 * "UTF8SMTPA", "UTF8SMTPSA": the 'M' record's proto, Received: "with". */
const char	*session_proto(const struct session *);

#endif
