/*
 * enqueue: the only writer of new messages into the spool.
 *
 * Job: one enqueue per SMTP session at a time, paired with that session's
 * smtpd for all of it (sessiond's workers serve many sessions in turn,
 * each from a clean state: enqueue_session()).
 * smtpd speaks SMTP to the client; enqueue decides who is a recipient here
 * (common/rcpt.c, which needs the passwd database and the tables smtpd
 * cannot reach from its chroot), writes the queue file (common/qfile.c) with
 * our Received: line first, and commits it to new/ by DESIGN.md's protocol
 * before it lets smtpd say 250. It then wakes qmgr through spool/trigger.
 *
 * Privileges: master forks it, sets the cwd to the spool directory, drops to
 * queue_user (no chroot: it needs /etc/passwd and CONFDIR's tables) and
 * execs "enqueue -c CONFDIR -a CLIENTIP" (a local submission through
 * sendmail's socket: -a "" -u UID, the uid from SO_PEERCRED; see
 * enqueue_local.c). It can write tmp/ and new/ and
 * nothing else it needs to; it never trusts smtpd, the network-facing
 * process: every value smtpd sends is checked again before it goes into an
 * envelope, and a value that fails ends the session.
 *
 * Pipes: fd 3 is a socketpair to smtpd carrying docs/protocols.md's
 * "smtpd <-> enqueue" records (M R B D F A in, K E out, one reply per
 * request except D). fd 0 and 1 are /dev/null, fd 2 is stderr. The client
 * address comes from master (-a), never from smtpd.
 *
 * Exit codes (docs/man/enqueue.8): 0 smtpd closed fd 3 or SIGTERM; 1 a
 * protocol error, a read error or timeout on fd 3, or smtpd gone; 64 bad
 * arguments; 75 (fatal) a bad config. An unfinished tmp/ file is unlinked
 * on every one of them.
 */
#include <sys/types.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "addr.h"
#include "buf.h"
#include "conf.h"
#include "frame.h"
#include "io.h"
#include "log.h"
#include "qfile.h"
#include "rcpt.h"
#include "spool.h"
#include "enqueue.h"

#define EX_USAGE_ARGS	64	/* sysexits.h EX_USAGE */

static struct conf		 conf;
static struct rcpt_tables	 tables;
static struct policy_tables	 ptables;	/* relay, access, senders */
static struct policy		 policy;	/* the session's verdicts */
static struct table		 passwd;	/* AUTH logins -> crypt(3) */
/* A pooled worker keeps its copy of the configuration and its table
 * handles from one session to the next (set_up): each lookup stat()s the
 * file and reopens a rebuilt one (common/table.c), so a session sees every
 * table as it is now, and the worker saves an open, an mmap and a munmap
 * per table per session (the munmap's TLB flush is dear on a paravirtual
 * machine). The configuration does not change under a worker: sessiond
 * retires it. */
static int			 set_up;
static struct io		 peer;
static sigset_t			 wait_mask;	/* SIGTERM let through */
static struct txn		 txn;
static char			 client[sizeof(txn.env.client)];

static void	 finish(int) __attribute__((noreturn));
static void	 protocol_error(int, const char *, ...)
		    __attribute__((format(printf, 2, 3), noreturn));
static void	 on_sigterm(int);
static int	 reply(int, const char *);
static void	 reply_ok(const char *);
static void	 reply_err(const char *);
static void	 reply_rcpt(const char *, const char *, const char *);
static int	 in_data(void);
static void	 txn_reset(void);
static void	 mail_start(const struct buf *);
static void	 rcpt_add(const struct buf *);
static void	 data_begin(const struct buf *);
static void	 data_add(const struct buf *);
static void	 data_finish(const struct buf *);
static void	 txn_abandon(const struct buf *);
static void	 auth_login(struct buf *);

/*
 * One session, on fd (smtpd's socketpair end), as the queue user with the
 * spool as cwd; c is copied at the first session, and a pooled worker of
 * sessiond passes the same one to every later session. client: the
 * numeric address master saw, or "" with uid (the local submitter's, from
 * SO_PEERCRED). Returns 0 when smtpd closed fd (the session's clean end),
 * with everything of the session closed, fd included, and freed: the
 * worker then serves the next one. Every other end (a protocol error, a
 * dead smtpd, a write error, SIGTERM) ends the process, as in the exec'd
 * program.
 */
int
enqueue_session(const struct conf *c, int fd, const char *arg_client,
    const char *arg_uid)
{
	struct buf		 rec = BUF_INIT;
	struct sigaction	 sa;
	sigset_t		 term;
	long long		 timeout_ms;
	int			 r, type;

	if (arg_client == NULL || (arg_uid != NULL && arg_client[0] != '\0'))
		enqueue_usage();
	if (!enqueue_check_client(arg_client)) {
		log_warn("-a %s: not a numeric IP address", arg_client);
		exit(EX_USAGE_ARGS);
	}
	strlcpy(client, arg_client, sizeof(client));
	/* No session writes the configuration: copied (68 KiB) at the first
	 * session only. */
	if (!set_up) {
		conf = *c;
		rcpt_tables_init(&tables, &conf);
		policy_tables_init(&ptables, &conf);
		table_init(&passwd, &conf, "passwd");
		set_up = 1;
	}
	/* -u: a local submission; the uid is master's, from SO_PEERCRED.
	 * Nothing of a previous session's submitter stays. */
	local_reset();
	if (arg_uid != NULL && local_init(arg_uid, &conf) == -1) {
		log_warn("-u %s: not a uid", arg_uid);
		exit(EX_USAGE_ARGS);
	}
	policy_init(&policy, &ptables, client);
	/* smtpd gone: a failed write (EPIPE) is handled where it happens. */
	signal(SIGPIPE, SIG_IGN);
	tzset();	/* the Received: date; before any localtime_r() */

	/*
	 * SIGTERM (master stopping) is taken only while we wait for smtpd:
	 * a record is always handled to its end, so a commit is never cut
	 * between its steps, and the handler only has to unlink tmp/. It is
	 * blocked for the session and let through by the wait itself
	 * (ppoll() with wait_mask, set on peer below), not by a
	 * sigprocmask() pair around every record read.
	 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigterm;
	sigfillset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &wait_mask);
	sigdelset(&wait_mask, SIGTERM);

	/* smtpd itself waits at most this long for the client between two
	 * records; past it smtpd is stuck, and so we never hang forever. */
	timeout_ms = ((long long)conf.smtpd_timeout_seconds +
	    conf.smtpd_data_timeout_seconds + 60) * 1000;
	if (timeout_ms > INT_MAX)
		timeout_ms = INT_MAX;
	io_init(&peer, fd, (int)timeout_ms, 2 * (FRAME_HDR + FRAME_MAX));
	peer.wait_sigmask = &wait_mask;

	memset(&txn, 0, sizeof(txn));
	txn.fd = -1;
	qenv_init(&txn.env);
	strlcpy(txn.env.client, client, sizeof(txn.env.client));

	for (;;) {
		r = frame_read(&peer, &type, &rec, 0);
		if (r == 0)
			break;
		if (r == -1) {
			log_warn_errno("read from smtpd%s",
			    in_data() ? " during DATA" : "");
			finish(1);
		}
		switch (type) {
		case 'M':
			mail_start(&rec);
			break;
		case 'R':
			rcpt_add(&rec);
			break;
		case 'B':
			data_begin(&rec);
			break;
		case 'D':
			data_add(&rec);
			break;
		case 'F':
			data_finish(&rec);
			break;
		case 'A':
			txn_abandon(&rec);
			break;
		case 'U':
			auth_login(&rec);
			break;
		default:
			protocol_error(type, "unknown record type");
		}
	}

	/* The clean end: an unfinished tmp/ file was never promised. */
	enqueue_tmp_discard(&txn);
	qenv_free(&txn.env);
	explicit_bzero(&policy, sizeof(policy));	/* the login with it */
	buf_free(&rec);
	io_free(&peer);
	close(fd);
	local_reset();
	sigprocmask(SIG_UNBLOCK, &term, NULL);
	return 0;
}

/* The exec'd program and a one-off forked child: one session, then exit. */
void
enqueue_run(const struct conf *c, int fd, const char *arg_client,
    const char *arg_uid)
{
	(void)enqueue_session(c, fd, arg_client, arg_uid);
	finish(0);
}

void
enqueue_usage(void)
{
	log_warn("usage: enqueue [-c confdir] -a client-address | "
	    "-a '' -u uid");
	exit(EX_USAGE_ARGS);
}

int	enqueue_quick_exit;

/* Every way out: an unfinished tmp/ file was never promised to anyone. */
static void
finish(int code)
{
	enqueue_tmp_discard(&txn);
	/* Forked by sessiond: _exit(), since exit() ran every library's
	 * destructors over the address space inherited from sessiond,
	 * copying pages only to drop them (bench/README.md, optimisation 3);
	 * nothing of ours is registered with atexit(). The exec'd program
	 * keeps exit(), whose destructors a test's preloaded shim may count
	 * on (tests/faults/), as does a sanitizer build (LeakSanitizer). */
#ifndef __SANITIZE_ADDRESS__
	if (enqueue_quick_exit) {
		fflush(NULL);
		_exit(code);
	}
#endif
	exit(code);
}

/* smtpd sent what it must not: it is broken or taken over. Say which
 * record was bad, keep nothing of the transaction, end the session. */
static void
protocol_error(int type, const char *fmt, ...)
{
	char	 why[256];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (isgraph((unsigned char)type))
		log_warn("protocol error from smtpd: '%c' record: %s", type, why);
	else
		log_warn("protocol error from smtpd: record type 0x%02x: %s",
		    (unsigned char)type, why);
	finish(1);
}

static void
on_sigterm(int sig)
{
	(void)sig;
	/* Only async-signal-safe calls; see main() for why txn is stable. */
	if (txn.tmp[0] != '\0')
		(void)unlink(txn.tmp);
	_exit(0);
}

static int
reply(int type, const char *text)
{
	if (frame_send_fields(&peer, type, text, (const char *)NULL) == -1 ||
	    io_flush(&peer) == -1) {
		log_warn_errno("reply to smtpd");
		return -1;
	}
	return 0;
}

static void
reply_ok(const char *text)
{
	if (reply('K', text) == -1)
		finish(1);
}

static void
reply_err(const char *line)
{
	if (reply('E', line) == -1)
		finish(1);
}

/* "550 5.1.1 <addr>: text". smtpd relays only printable ASCII, so an
 * RFC 6531 address is left out of the reply rather than mangled. */
static void
reply_rcpt(const char *code, const char *rcpt, const char *text)
{
	struct buf	 line = BUF_INIT;
	int		 r;

	if (enqueue_check_ascii(rcpt))
		r = buf_addf(&line, "%s <%s>: %s", code, rcpt, text);
	else
		r = buf_addf(&line, "%s %s", code, text);
	if (r == -1)
		fatal_errno("reply");
	reply_err(buf_str(&line));
	buf_free(&line);
}

/* From a successful 'B' to 'F' or 'A'; a 'D' write error keeps the file
 * open until then so that the rest of the message is read and dropped. */
static int
in_data(void)
{
	return txn.fd != -1;
}

static void
txn_reset(void)
{
	enqueue_tmp_discard(&txn);
	qenv_free(&txn.env);
	qenv_init(&txn.env);
	strlcpy(txn.env.client, client, sizeof(txn.env.client));
	txn.active = 0;
	txn.size = 0;
}

/* 'M' sender, body, size, helo, proto: MAIL FROM (RFC 5321 3.3). */
static void
mail_start(const struct buf *rec)
{
	const char	*f[8], *why;
	struct addr	 a;
	char		 sender[ADDR_TEXT_MAX], why_line[SMTP_LINE_MAX];
	long long	 size;

	if (frame_fields(rec, f, 8) == -1)
		protocol_error('M', "not 8 fields");
	if (in_data())
		protocol_error('M', "inside DATA");
	if (f[0][0] == '\0')
		sender[0] = '\0';	/* the null reverse-path <> */
	else if (addr_parse_mailbox(f[0], ADDR_UTF8, &a, &why) == -1)
		protocol_error('M', "sender: %s", why);
	else if (addr_format(&a, sender, sizeof(sender)) == -1)
		protocol_error('M', "sender too long");
	if (!enqueue_check_body(f[1]))
		protocol_error('M', "bad body type");
	if (!enqueue_check_size(f[2], &size))
		protocol_error('M', "bad size");
	if (!enqueue_check_helo(f[3]))
		protocol_error('M', "bad helo name");
	if (!enqueue_check_proto(f[4]))
		protocol_error('M', "bad protocol name");
	/* envid, ret, smtputf8 (RFC 3461 4.3, 4.4; RFC 6531 3.4) */
	if ((why = enqueue_check_dsn_mail(f[5], f[6], f[7], sender)) != NULL)
		protocol_error('M', "%s", why);

	if (txn.active) {
		reply_err("503 5.5.1 Error: nested MAIL command");
		return;
	}
	/* sendmail(8): the submitting user's address, unless trusted. */
	if (local_sender(sender, sizeof(sender), why_line, sizeof(why_line))) {
		reply_err(why_line);
		return;
	}
	/* The access table (client, helo, sender) and, for an
	 * authenticated session, the senders table. */
	if (policy_mail(&policy, f[3], sender, why_line, sizeof(why_line))) {
		reply_err(why_line);
		return;
	}
	if (!enqueue_space_ok(conf.queue_minfree_bytes, size)) {
		log_warn("spool file system below queue_minfree_bytes + %lld; "
		    "mail refused for now", size);
		reply_err("452 4.3.1 Insufficient system storage");
		return;
	}
	strlcpy(txn.env.sender, sender, sizeof(txn.env.sender));
	strlcpy(txn.env.body, f[1], sizeof(txn.env.body));
	strlcpy(txn.env.helo, f[3], sizeof(txn.env.helo));
	strlcpy(txn.env.proto, f[4], sizeof(txn.env.proto));
	strlcpy(txn.env.envid, f[5], sizeof(txn.env.envid));
	strlcpy(txn.env.ret, f[6], sizeof(txn.env.ret));
	txn.env.smtputf8 = f[7][0] == '1';
	txn.size = size;
	txn.active = 1;
	reply_ok("");
}

/* 'R' recipient: RCPT TO. Decided here, so nothing is accepted only to
 * bounce later (no backscatter). */
static void
rcpt_add(const struct buf *rec)
{
	const char		*f[3], *why;
	struct addr		 a;
	struct rcpt_route	 route;
	char			 rcpt[ADDR_TEXT_MAX], line[SMTP_LINE_MAX];
	size_t			 i, limit;

	if (frame_fields(rec, f, 3) == -1)
		protocol_error('R', "not 3 fields");
	if (!txn.active)
		protocol_error('R', "no transaction ('M' first)");
	if (in_data())
		protocol_error('R', "inside DATA");
	/* ADDR_POSTMASTER: RFC 5321 4.5.1, <postmaster> must be accepted. */
	if (addr_parse_mailbox(f[0], ADDR_UTF8 | ADDR_POSTMASTER, &a,
	    &why) == -1)
		protocol_error('R', "recipient: %s", why);
	if (addr_format(&a, rcpt, sizeof(rcpt)) == -1)
		protocol_error('R', "recipient too long");
	/* notify, orcpt (RFC 3461 4.1, 4.2); UTF-8 only with SMTPUTF8 */
	if ((why = enqueue_check_dsn_rcpt(rcpt, f[1], f[2],
	    txn.env.smtputf8)) != NULL)
		protocol_error('R', "%s", why);

	/* A repeated RCPT is accepted and delivered once. */
	for (i = 0; i < txn.env.nrcpt; i++)
		if (strcmp(txn.env.rcpt[i], rcpt) == 0) {
			reply_ok("");
			return;
		}
	limit = conf.smtpd_max_recipients > 0 ?
	    (size_t)conf.smtpd_max_recipients : 1;
	if (limit > QFILE_RCPT_MAX)
		limit = QFILE_RCPT_MAX;
	/* RFC 5321 4.5.3.1.10: 452 and the client sends the rest later. */
	if (txn.env.nrcpt >= limit) {
		reply_err("452 4.5.3 Error: too many recipients");
		return;
	}

	/* The access table's rcpt: keys, before anything else is asked. */
	if (policy_rcpt(&policy, rcpt, line, sizeof(line))) {
		reply_err(line);
		return;
	}
	switch (rcpt_resolve(&tables, &a, &route)) {
	case RCPT_USER:
	case RCPT_VIRTUAL:
	case RCPT_ALIAS:	/* expanded by qmgr at delivery time */
		if (enqueue_add_rcpt(&txn.env, rcpt, f[1], f[2]) == -1) {
			reply_err("452 4.5.3 Error: too many recipients");
			return;
		}
		reply_ok("");
		break;
	case RCPT_REMOTE:
		/* RFC 2821 7.7: only for the relay table's clients and for
		 * authenticated users (enqueue_policy.c). */
		if (policy_relay(&policy, rcpt, line, sizeof(line))) {
			reply_err(line);
			break;
		}
		if (enqueue_add_rcpt(&txn.env, rcpt, f[1], f[2]) == -1) {
			reply_err("452 4.5.3 Error: too many recipients");
			return;
		}
		reply_ok("");
		break;
	case RCPT_UNKNOWN:
		reply_rcpt("550 5.1.1", rcpt,
		    "Recipient address rejected: User unknown");
		break;
	case RCPT_TEMPFAIL:
	default:
		log_warn_errno("<%s>: recipient lookup failed", rcpt);
		reply_rcpt("451 4.3.0", rcpt, "Temporary lookup failure");
		break;
	}
}

/* 'B': DATA. The queue file and its Received: line exist before smtpd
 * answers 354, so a full disk is reported before the client sends. */
static void
data_begin(const struct buf *rec)
{
	int	 e;

	if (rec->len != 0)
		protocol_error('B', "has a payload");
	if (!txn.active || txn.env.nrcpt == 0)
		protocol_error('B', "no transaction or no recipient");
	if (in_data())
		protocol_error('B', "inside DATA");
	if (enqueue_tmp_open(&txn, conf.hostname) == -1) {
		e = errno;	/* logged by enqueue_tmp_open() */
		enqueue_tmp_discard(&txn);
		/* The transaction stays: the client may try DATA again. */
		reply_err(enqueue_write_reply(e));
		return;
	}
	reply_ok("");
}

/* 'D': message bytes; no reply, so a write error is kept for 'F'. */
static void
data_add(const struct buf *rec)
{
	if (!in_data())
		protocol_error('D', "outside DATA");
	if (txn.werr != 0)
		return;
	/* smtpd enforces message_size_limit (RFC 1870); this bounds what a
	 * broken smtpd can make us write. */
	if (conf.message_size_limit > 0 &&
	    txn.written + (long long)rec->len > conf.message_size_limit) {
		log_warn("%s: message exceeds message_size_limit",
		    txn.env.id);
		txn.werr = EFBIG;
		return;
	}
	if (qfile_body(&txn.w, rec->data, rec->len) == -1) {
		txn.werr = errno != 0 ? errno : EIO;
		log_warn_errno("%s: write %s", txn.env.id, txn.tmp);
		return;
	}
	txn.written += (long long)rec->len;
}

/* 'F': end of DATA. K with the queue ID only once new/ID is durable. */
static void
data_finish(const struct buf *rec)
{
	char		 id[sizeof(txn.env.id)], from[ADDR_TEXT_MAX];
	long long	 size;
	size_t		 nrcpt;
	int		 e, r;

	if (rec->len != 0)
		protocol_error('F', "has a payload");
	if (!in_data())
		protocol_error('F', "outside DATA");
	if (txn.werr != 0) {
		e = txn.werr;
		txn_reset();
		reply_err(enqueue_write_reply(e));
		return;
	}
	if (enqueue_commit(&txn) == -1) {
		e = errno;
		txn_reset();
		reply_err(enqueue_write_reply(e));
		return;
	}
	strlcpy(id, txn.env.id, sizeof(id));
	strlcpy(from, txn.env.sender, sizeof(from));
	size = (long long)txn.w.msg_len;
	nrcpt = txn.env.nrcpt;
	txn_reset();

	/* The message is safe whether or not smtpd hears this K; if it does
	 * not, the client retries and may get it twice (at-least-once). */
	r = reply('K', id);
	spool_trigger();
	log_info("%s: client=%s%s%s, from=<%s>, size=%lld, nrcpt=%zu", id,
	    client[0] != '\0' ? "[" : "", client[0] != '\0' ? client : "local",
	    client[0] != '\0' ? "]" : "", from, size, nrcpt);
	if (r == -1)
		finish(1);
}

/* 'A': RSET, or a message smtpd refused (too big, client gone). */
static void
txn_abandon(const struct buf *rec)
{
	if (rec->len != 0)
		protocol_error('A', "has a payload");
	txn_reset();
	reply_ok("");
}

/*
 * 'U' login, password: AUTH (RFC 4954) as smtpd decoded it. enqueue checks
 * and remembers the login itself, so smtpd can never claim one that was not
 * verified here. A refusal is sent only after
 * smtpd_auth_failure_delay_seconds: the sleep is ours, not smtpd's, so a
 * client gains nothing by hanging up and reconnecting. The password is
 * zeroed in the record as soon as it has been used.
 */
static void
auth_login(struct buf *rec)
{
	struct timespec	 ts;
	sigset_t	 term;
	const char	*f[2];
	char		 login[ADDR_TEXT_MAX];
	size_t		 i;
	int		 r, printable = 1;

	if (frame_fields(rec, f, 2) == -1) {
		explicit_bzero(rec->data, rec->len);
		protocol_error('U', "not 2 fields");
	}
	if (in_data() || txn.active) {
		explicit_bzero(rec->data, rec->len);
		protocol_error('U', "inside a transaction");
	}
	if (policy.login[0] != '\0') {
		explicit_bzero(rec->data, rec->len);
		reply_err("503 5.5.1 Error: already authenticated");
		return;
	}
	/* A login is printable ASCII without blanks: it goes into logs, a
	 * 553 reply and the senders table's lists. Others are just wrong. */
	for (i = 0; f[0][i] != '\0'; i++)
		if ((unsigned char)f[0][i] <= 0x20 ||
		    (unsigned char)f[0][i] >= 0x7f)
			printable = 0;
	if (i == 0 || i >= sizeof(login))
		printable = 0;
	strlcpy(login, printable ? f[0] : "(unprintable)", sizeof(login));
	addr_lower(login);
	r = printable ? enqueue_auth_verify(&passwd, login, f[1]) : 0;
	explicit_bzero(rec->data, rec->len);
	if (r == 1) {
		strlcpy(policy.login, login, sizeof(policy.login));
		log_info("authenticated: login=%s, client=[%s]", login, client);
		reply_ok("");
		return;
	}
	if (r == -1) {
		reply_err("454 4.7.0 Temporary authentication failure");
		return;
	}
	log_warn("authentication failed: login=%s, client=[%s]", login,
	    client);
	/* SIGTERM may end the wait (nothing is open: no transaction). */
	ts.tv_sec = conf.smtpd_auth_failure_delay_seconds;
	ts.tv_nsec = 0;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_UNBLOCK, &term, NULL);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	sigprocmask(SIG_BLOCK, &term, NULL);
	reply_err("535 5.7.8 Authentication credentials invalid");
}
