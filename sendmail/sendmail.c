/*
 * sendmail: the sendmail(1) interface every Unix program expects; also
 * mailq (sendmail -bp) and newaliases (sendmail -bi), by argv[0].
 *
 * Its job: take a message on stdin, build its envelope (the recipients on
 * the command line, or with -t from the To, Cc and Bcc fields as RFC 2821
 * appendix B says), add Date, Message-ID and From when missing, remove
 * Bcc, and submit it over SMTP to master's local socket. The reply that
 * ends the submission becomes the exit code (sysexits.h, sendmail(8)).
 * Nothing is queued when the exit code is not 0: all recipients or none.
 *
 * Its privileges: none. It runs as whoever calls it, is never setuid or
 * setgid, and needs no file but postern.conf (readable by all). Who the
 * user is, is not its word: master reads the peer's uid from the socket
 * (SO_PEERCRED) and enqueue sets the envelope sender from it (unless
 * sendmail_trusted_users lets the user choose, as root always may).
 *
 * Its pipes: stdin (the message; with -bs an SMTP conversation), stdout
 * (-bs replies, -bp the listing), stderr (errors; -v the dialogue), and one
 * Unix stream socket to master (local_submit_socket, default
 * SPOOL/submit). -bi and -q run "postern newaliases" and "postern flush"
 * (execv, the postern installed beside this program).
 *
 * Usage: sendmail [-t] [-f addr] [-F name] [-i|-oi] [-v] [-C confdir]
 *                 [-bm|-bs|-bp|-bi|-q] [--] [rcpt ...]
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "addr.h"
#include "base64.h"
#include "buf.h"
#include "conf.h"
#include "qlist.h"
#include "submit.h"
#include "sendmail.h"

enum mode { MODE_DELIVER, MODE_SMTP, MODE_LIST, MODE_ALIASES, MODE_FLUSH };

struct opts {
	enum mode	 mode;
	int		 extract;	/* -t */
	int		 dots_ok;	/* -i, -oi: a lone "." is data */
	int		 verbose;	/* -v */
	const char	*sender;	/* -f, -r; NULL: the user's */
	const char	*fullname;	/* -F */
	const char	*confdir;	/* -C */
};

static const char *progname = "sendmail";

static void	 die(int code, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3), noreturn));

static void
die(int code, const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static void __attribute__((noreturn))
usage(void)
{
	die(EX_USAGE, "usage: sendmail [-t] [-f addr] [-F name] [-i] [-v] "
	    "[-C confdir] [-bm|-bs|-bp|-bi|-q] [rcpt ...]");
}

/* -o values that change nothing here: error modes, delivery modes,
 * metoo. "i" is -i. */
static int
opt_o(struct opts *o, const char *v)
{
	static const char *const ignored[] = { "em", "ee", "ep", "eq", "ew",
	    "db", "dd", "di", "dq", "m", NULL };
	size_t	 i;

	if (strcmp(v, "i") == 0) {
		o->dots_ok = 1;
		return 0;
	}
	for (i = 0; ignored[i] != NULL; i++)
		if (strcmp(v, ignored[i]) == 0)
			return 0;
	return -1;
}

static int
parse_args(struct opts *o, int argc, char **argv)
{
	int	 ch;

	/* "+": options end at the first recipient (POSIX), as sendmail's. */
	while ((ch = getopt(argc, argv, "+B:b:C:F:f:h:iL:mN:no:q::R:r:tUvV:X:"))
	    != -1) {
		switch (ch) {
		case 'b':
			if (strcmp(optarg, "m") == 0)
				o->mode = MODE_DELIVER;
			else if (strcmp(optarg, "s") == 0)
				o->mode = MODE_SMTP;
			else if (strcmp(optarg, "p") == 0)
				o->mode = MODE_LIST;
			else if (strcmp(optarg, "i") == 0)
				o->mode = MODE_ALIASES;
			else
				die(EX_USAGE, "-b%s: not supported (-bm, -bs, "
				    "-bp, -bi are)", optarg);
			break;
		case 'C':
			o->confdir = optarg;
			break;
		case 'F':
			o->fullname = optarg;
			break;
		case 'f':
		case 'r':
			o->sender = optarg;
			break;
		case 'i':
			o->dots_ok = 1;
			break;
		case 'o':
			if (opt_o(o, optarg) == -1)
				die(EX_USAGE, "-o%s: not supported", optarg);
			break;
		case 'q':
			if (optarg != NULL)
				die(EX_USAGE, "-q%s: only -q (flush the queue "
				    "now) is supported", optarg);
			o->mode = MODE_FLUSH;
			break;
		case 't':
			o->extract = 1;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'B': case 'h': case 'L': case 'm': case 'N': case 'n':
		case 'R': case 'U': case 'V': case 'X':
			break;		/* harmless: accepted, ignored */
		default:
			usage();
		}
	}
	return optind;
}

/* A display name as RFC 5322 3.2.5 allows it: atoms as they are, anything
 * else ASCII as a quoted-string, non-ASCII as an RFC 2047 encoded word. */
static void
display_name(struct buf *out, const char *name)
{
	static const char atext[] = "!#$%&'*+-/=?^_`{|}~ ";
	const unsigned char *p;
	char	 enc[1024];
	int	 plain = 1, ascii = 1;

	for (p = (const unsigned char *)name; *p != '\0'; p++) {
		if (*p >= 0x80)
			ascii = 0;
		else if (*p < 0x20 || *p == 0x7f)
			return;			/* no controls in a header */
		else if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' &&
		    *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr(atext, *p) != NULL))
			plain = 0;
	}
	if (!ascii) {
		if (strlen(name) < 600 && base64_encode((const unsigned char *)
		    name, strlen(name), enc, sizeof(enc)) != -1)
			buf_addf(out, "=?UTF-8?B?%s?= ", enc);
		return;
	}
	if (plain) {
		buf_addf(out, "%s ", name);
		return;
	}
	buf_addc(out, '"');
	for (p = (const unsigned char *)name; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			buf_addc(out, '\\');
		buf_addc(out, (char)*p);
	}
	buf_adds(out, "\" ");
}

/* The message from stdin into msg, LF line endings; without -i a line
 * holding only "." ends it (the traditional rule). A leading mbox "From "
 * line is dropped. */
static void
read_message(const struct opts *o, long long limit, struct buf *msg)
{
	char	*line = NULL;
	size_t	 cap = 0, n;
	ssize_t	 len;
	int	 first = 1;

	while ((len = getline(&line, &cap, stdin)) != -1) {
		n = (size_t)len;
		if (n > 0 && line[n - 1] == '\n')
			n--;
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (!o->dots_ok && n == 1 && line[0] == '.')
			break;
		if (first && n >= 5 && strncmp(line, "From ", 5) == 0) {
			first = 0;
			continue;
		}
		first = 0;
		if (buf_add(msg, line, n) == -1 || buf_addc(msg, '\n') == -1)
			die(EX_OSERR, "out of memory");
		if ((long long)msg->len > limit)
			die(EX_DATAERR, "message too big (message_size_limit "
			    "is %lld bytes)", limit);
	}
	if (ferror(stdin))
		die(EX_IOERR, "reading the message: %s", strerror(errno));
	free(line);
}

/* Date, Message-ID, From when missing; Bcc out; an empty Bcc when no
 * destination field is left (RFC 2821 appendix B 1); with -t, Sender for
 * an untrusted user whose From is not theirs (appendix B 2). */
static void
fix_headers(const struct opts *o, const struct conf *c, struct headers *hs,
    const char *me, const char *gecos, int trusted)
{
	struct buf	 b = BUF_INIT, bad = BUF_INIT;
	struct alist	 from;
	const char	*why;
	char		 date[64];
	struct tm	 tm;
	time_t		 now = time(NULL);
	size_t		 i;

	headers_remove(hs, "Bcc");
	headers_remove(hs, "Resent-Bcc");	/* RFC 5322 3.6.6: as Bcc */
	if (!headers_has(hs, "To") && !headers_has(hs, "Cc"))
		headers_add(hs, "Bcc:");
	if (o->extract && !trusted && headers_has(hs, "From")) {
		alist_init(&from);
		for (i = 0; i < hs->n; i++)
			if (hs->h[i].namelen == 4 &&
			    strncasecmp(hs->h[i].text, "From", 4) == 0) {
				headers_value(hs, i, &b);
				(void)alist_parse(&from, buf_str(&b),
				    c->hostname, &bad, &why);
			}
		if (from.n != 1 || strcasecmp(from.a[0], me) != 0) {
			headers_remove(hs, "Sender");
			buf_setf(&b, "Sender: %s", me);
			headers_add(hs, buf_str(&b));
		}
		alist_free(&from);
	}
	if (!headers_has(hs, "From")) {
		buf_setf(&b, "From: ");
		if (gecos[0] != '\0')
			display_name(&b, gecos);
		buf_addf(&b, "%s%s%s", gecos[0] != '\0' ? "<" : "", me,
		    gecos[0] != '\0' ? ">" : "");
		headers_add(hs, buf_str(&b));
	}
	if (!headers_has(hs, "Date") && localtime_r(&now, &tm) != NULL &&
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm) > 0) {
		buf_setf(&b, "Date: %s", date);
		headers_add(hs, buf_str(&b));
	}
	if (!headers_has(hs, "Message-ID")) {
		strftime(date, sizeof(date), "%Y%m%d%H%M%S", &tm);
		buf_setf(&b, "Message-ID: <%s.%ld.%08x@%s>", date,
		    (long)getpid(), arc4random(), c->hostname);
		headers_add(hs, buf_str(&b));
	}
	buf_free(&b);
	buf_free(&bad);
}

/* The whole message as it goes after DATA: CRLF, dot-stuffed (RFC 5321
 * 4.5.2), ended by ".". */
static void
wire_message(const struct headers *hs, const char *body, size_t blen,
    struct buf *out)
{
	const char	*p, *e, *end = body + blen;
	size_t		 i;

	for (i = 0; i < hs->n; i++)
		for (p = hs->h[i].text; *p != '\0'; p = e + 1) {
			if ((e = strchr(p, '\n')) == NULL)
				e = p + strlen(p);
			buf_add(out, p, (size_t)(e - p));
			buf_adds(out, "\r\n");
			if (*e == '\0')
				break;
		}
	buf_adds(out, "\r\n");
	for (p = body; p < end; p = e + 1) {
		if ((e = memchr(p, '\n', (size_t)(end - p))) == NULL)
			e = end;
		if (*p == '.')
			buf_addc(out, '.');
		buf_add(out, p, (size_t)(e - p));
		buf_adds(out, "\r\n");
		if (e == end)
			break;
	}
	if (buf_adds(out, ".\r\n") == -1)
		die(EX_OSERR, "out of memory");
}

static int
has_8bit(const char *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			return 1;
	return 0;
}

/* One SMTP transaction; the exit code. */
static int
submit(const struct opts *o, const char *path, const char *hostname,
    const char *sender, const struct alist *rcpts, const struct buf *wire)
{
	struct client	 c;
	size_t		 i;
	int		 r, code, utf8 = has_8bit(sender, strlen(sender));

	for (i = 0; i < rcpts->n; i++)
		utf8 |= has_8bit(rcpts->a[i], strlen(rcpts->a[i]));
	if ((r = client_open(&c, path, o->verbose)) != 0)
		return r;
	if ((r = client_cmd(&c, "EHLO %s", hostname)) != 250)
		goto fail;
	r = client_cmd(&c, "MAIL FROM:<%s>%s%s", sender,
	    has_8bit(wire->data, wire->len) ? " BODY=8BITMIME" : "",
	    utf8 ? " SMTPUTF8" : "");
	if (r != 250)
		goto fail;
	for (i = 0; i < rcpts->n; i++)
		if ((r = client_cmd(&c, "RCPT TO:<%s>", rcpts->a[i])) != 250 &&
		    r != 251)
			goto fail;
	if ((r = client_cmd(&c, "DATA")) != 354)
		goto fail;
	if (o->verbose)
		fprintf(stderr, "<<< (%zu bytes of message)\n", wire->len);
	if (client_write(&c, wire->data, wire->len) == -1 ||
	    (r = client_reply(&c)) != 250)
		goto fail;
	(void)client_cmd(&c, "QUIT");
	client_close(&c);
	return EX_OK;
fail:
	/* Nothing was queued: the transaction never reached its 250. */
	fprintf(stderr, "%s: not sent: %s\n", progname, c.reply);
	code = r == -1 ? EX_TEMPFAIL : client_exit_code(r, c.reply);
	if (r != -1)
		(void)client_cmd(&c, "QUIT");
	client_close(&c);
	return code;
}

/* -bs: the caller speaks SMTP; we carry bytes both ways until either side
 * closes. enqueue still sets the sender from the socket's uid. */
static int
relay_smtp(const char *path)
{
	struct client	 c;
	struct pollfd	 pfd[2];
	char		 b[8192];
	ssize_t		 n;
	int		 r;

	if ((r = client_open(&c, path, 0)) != 0)
		return r;
	printf("%s\r\n", c.reply);	/* the greeting we consumed */
	fflush(stdout);
	pfd[0].fd = STDIN_FILENO;
	pfd[1].fd = c.fd;
	pfd[0].events = pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			if ((n = read(c.fd, b, sizeof(b))) <= 0 ||
			    write(STDOUT_FILENO, b, (size_t)n) != n)
				break;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if ((n = read(STDIN_FILENO, b, sizeof(b))) <= 0) {
				shutdown(c.fd, SHUT_WR);
				pfd[0].fd = -1;
			} else if (client_write(&c, b, (size_t)n) == -1)
				break;
		}
	}
	client_close(&c);
	return EX_OK;
}

/* mailq: the same listing as "postern queue" (common/qlist.c). The queue
 * directories are the queue user's: root and that user may read them. */
static int
list_queue(const struct conf *c)
{
	struct qlist	 l;
	time_t		 now = time(NULL);

	memset(&l, 0, sizeof(l));
	if (chdir(c->spool_directory) == -1)
		die(EX_CONFIG, "%s: %s", c->spool_directory, strerror(errno));
	if (qlist_read(&l, NULL, NULL, now) == -1) {
		if (errno == EACCES || errno == EPERM)
			die(EX_NOPERM, "the queue is readable by root and %s "
			    "only (try: sudo mailq)", c->queue_user);
		die(EX_IOERR, "reading the queue: %s", strerror(errno));
	}
	qlist_print(stdout, &l, now);
	qlist_free(&l);
	return fflush(stdout) == 0 ? EX_OK : EX_IOERR;
}

/* -bi, -q: "postern -c CONFDIR CMD", the postern beside us. */
static void __attribute__((noreturn))
run_postern(const struct conf *c, const char *cmd)
{
	char	 path[PATH_MAX], *slash;
	char	*argv[] = { (char *)"postern", (char *)"-c",
	    (char *)c->confdir, (char *)cmd, NULL };
	ssize_t	 n;

	if (strcmp(cmd, "newaliases") == 0 && access(c->confdir, W_OK) == -1)
		die(EX_NOPERM, "only root (or whoever owns %s) may rebuild "
		    "the aliases", c->confdir);
	n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (n <= 0 || (size_t)n >= sizeof(path) - 1)
		die(EX_OSERR, "readlink /proc/self/exe: %s", strerror(errno));
	path[n] = '\0';
	if ((slash = strrchr(path, '/')) == NULL)
		die(EX_OSERR, "/proc/self/exe is not a path");
	slash[1] = '\0';
	if (strlcat(path, "postern", sizeof(path)) >= sizeof(path))
		die(EX_OSERR, "path too long");
	execv(path, argv);
	die(EX_UNAVAILABLE, "%s: %s", path, strerror(errno));
}

/* The -f value: <> or "" for the null sender; otherwise a mailbox,
 * qualified with the host name when it has no domain. */
static void
sender_check(const char *in, const char *hostname, char *out, size_t outsz)
{
	struct alist	 l;
	struct buf	 s = BUF_INIT;
	const char	*why;
	size_t		 n = strlen(in);

	if (n >= 2 && in[0] == '<' && in[n - 1] == '>')
		buf_add(&s, in + 1, n - 2);
	else
		buf_adds(&s, in);
	if (buf_str(&s)[0] == '\0') {
		out[0] = '\0';
		buf_free(&s);
		return;
	}
	alist_init(&l);
	if (alist_add(&l, buf_str(&s), hostname, &why) == -1)
		die(EX_USAGE, "-f %s: not a valid address: %s", in, why);
	strlcpy(out, l.a[0], outsz);
	alist_free(&l);
	buf_free(&s);
}

/* 1 when login may choose the envelope sender (as enqueue_local.c has
 * it: root, or sendmail_trusted_users). */
static int
trusted_user(const struct conf *c, uid_t uid, const char *login)
{
	char	 list[sizeof(c->sendmail_trusted_users)], *t, *save = NULL;

	if (uid == 0)
		return 1;
	strlcpy(list, c->sendmail_trusted_users, sizeof(list));
	for (t = strtok_r(list, " \t,", &save); t != NULL;
	    t = strtok_r(NULL, " \t,", &save))
		if (strcmp(t, "*") == 0 || strcmp(t, login) == 0)
			return 1;
	return 0;
}

int
main(int argc, char *argv[])
{
	struct opts	 o;
	struct conf	 conf;
	struct buf	 err = BUF_INIT, msg = BUF_INIT, wire = BUF_INIT;
	struct buf	 bad = BUF_INIT;
	struct headers	 hs;
	struct alist	 rcpts;
	struct passwd	*pw;
	const char	*why, *base, *env;
	char		 path[PATH_MAX], me[ADDR_TEXT_MAX];
	char		 sender[ADDR_TEXT_MAX], gecos[256];
	size_t		 body;
	int		 i, first;

	memset(&o, 0, sizeof(o));
	base = strrchr(argv[0], '/') != NULL ? strrchr(argv[0], '/') + 1 :
	    argv[0];
	if (strcmp(base, "mailq") == 0) {
		progname = "mailq";
		o.mode = MODE_LIST;
	} else if (strcmp(base, "newaliases") == 0) {
		progname = "newaliases";
		o.mode = MODE_ALIASES;
	}
	first = parse_args(&o, argc, argv);
	if (o.confdir == NULL)
		o.confdir = (env = getenv("POSTERN_CONFDIR")) != NULL ? env :
		    CONFDIR_DEFAULT;
	if (conf_load(&conf, o.confdir, &err) == -1)
		die(EX_CONFIG, "%s", buf_str(&err));
	buf_free(&err);
	if (submit_socket_path(&conf, path, sizeof(path)) == -1)
		die(EX_CONFIG, "local_submit_socket: path too long");

	switch (o.mode) {
	case MODE_LIST:
		return list_queue(&conf);
	case MODE_ALIASES:
		run_postern(&conf, "newaliases");
	case MODE_FLUSH:
		run_postern(&conf, "flush");
	case MODE_SMTP:
		return relay_smtp(path);
	case MODE_DELIVER:
		break;
	}

	/* Who we are: for From:, Sender: and the default envelope sender.
	 * enqueue knows it anyway, from the kernel. */
	if ((pw = getpwuid(getuid())) == NULL)
		die(EX_NOUSER, "uid %lu has no passwd entry",
		    (unsigned long)getuid());
	if ((size_t)snprintf(me, sizeof(me), "%s@%s", pw->pw_name,
	    conf.hostname) >= sizeof(me))
		die(EX_DATAERR, "login name too long");
	strlcpy(gecos, o.fullname != NULL ? o.fullname : pw->pw_gecos != NULL ?
	    pw->pw_gecos : "", sizeof(gecos));
	if (o.fullname == NULL)
		gecos[strcspn(gecos, ",")] = '\0';	/* "Name,room,phone" */
	if (o.sender != NULL)
		sender_check(o.sender, conf.hostname, sender, sizeof(sender));
	else
		strlcpy(sender, me, sizeof(sender));

	alist_init(&rcpts);
	for (i = first; i < argc; i++)
		if (alist_parse(&rcpts, argv[i], conf.hostname, &bad, &why) ==
		    -1)
			die(EX_DATAERR, "%s: not a valid address: %s",
			    buf_str(&bad), why);
	if (!o.extract && rcpts.n == 0)
		die(EX_USAGE, "no recipients given (name them, or use -t)");

	read_message(&o, conf.message_size_limit, &msg);
	headers_init(&hs);
	if (headers_parse(&hs, buf_str(&msg), msg.len, &body) == -1)
		die(EX_OSERR, "out of memory");
	/* RFC 2821 appendix B 1: To, Cc, Bcc (groups too) before Bcc goes;
	 * recipients named on the command line are added (as Postfix). */
	if (o.extract && headers_recipients(&hs, conf.hostname, &rcpts, &bad,
	    &why) == -1)
		die(EX_DATAERR, "%s: not a valid address: %s", buf_str(&bad),
		    why);
	if (rcpts.n == 0)
		die(EX_DATAERR, "no recipients in To, Cc or Bcc (-t)");
	fix_headers(&o, &conf, &hs, me, gecos,
	    trusted_user(&conf, getuid(), pw->pw_name));
	wire_message(&hs, buf_str(&msg) + body, msg.len - body, &wire);
	i = submit(&o, path, conf.hostname, sender, &rcpts, &wire);
	headers_free(&hs);
	alist_free(&rcpts);
	buf_free(&msg);
	buf_free(&wire);
	buf_free(&bad);
	return i;
}
