/*
 * floor: the least a server can do per message and still keep Postern's
 * promise that a 250 survives a power loss. bench.py runs it beside
 * Postern and Postfix, on the same port setup and the same Maildir work,
 * so that each run says how far the machine itself lets any such MTA go
 * (bench/README.md, "The floor"). Not part of Postern; never installed.
 *
 * PROCS processes, forked once, accept() on one loopback port and speak
 * just enough SMTP for smtp-source: every command gets a 250, DATA a 354,
 * and the final dot is answered only when the message is on disk the way
 * Postern's commit puts it there (written to spool/tmp/, fsync'd, renamed
 * into spool/new/, spool/new/ fsync'd). When the session ends, each of its
 * messages is read back and delivered the way Postern's Maildir delivery
 * does it (Maildir/tmp/, fsync'd, renamed into Maildir/new/, Maildir/new/
 * fsync'd), and its spool file unlinked. Nothing else: no checks, no
 * headers added, no dot-unstuffing, no logging, no second process, no
 * privilege dropped. Postern's work beyond this is the price of what it
 * does that this does not.
 *
 * Runs as whoever starts it, in the foreground, until SIGTERM; DIR is
 * created with spool/{tmp,new} and Maildir/{tmp,new,cur} inside.
 *
 *	floor PORT DIR PROCS
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "io.h"
#include "log.h"
#include "spool.h"

#define FLOOR_PROCS_MAX		256
#define FLOOR_LINE_MAX		1000	/* RFC 5321's text line */
#define FLOOR_MESSAGE_MAX	(10 * 1024 * 1024)
#define FLOOR_SESSION_MAX	100	/* messages kept for after a session */
#define FLOOR_TIMEOUT_MS	60000

#define NDIRS(a)	(sizeof(a) / sizeof((a)[0]))

static const char *const spooldirs[] = { "spool", "spool/tmp", "spool/new" };
static const char *const maildirs[] = { "Maildir", "Maildir/tmp",
    "Maildir/new", "Maildir/cur" };
static unsigned long	 seq;	/* names: this process's pid and a count */

static int
make_dirs(const char *const *dirs, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (mkdir(dirs[i], 0700) == -1 && errno != EEXIST)
			return -1;
	return 0;
}

/* tmpdir/name -> newdir/name, durable before it returns 0. */
static int
put_durable(const char *tmpdir, const char *newdir, const char *name,
    const struct buf *b)
{
	char		 tmp[PATH_MAX], dst[PATH_MAX];
	struct io	 f;
	int		 fd, rc;

	if (snprintf(tmp, sizeof(tmp), "%s/%s", tmpdir, name) >=
	    (int)sizeof(tmp) || snprintf(dst, sizeof(dst), "%s/%s", newdir,
	    name) >= (int)sizeof(dst))
		return -1;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1)
		return -1;
	io_init(&f, fd, -1, 0);
	f.nosock = 1;
	rc = io_write(&f, buf_str(b), b->len) == -1 || io_flush(&f) == -1 ||
	    fsync(fd) == -1 ? -1 : 0;
	io_free(&f);
	if (close(fd) == -1)
		rc = -1;
	if (rc == -1 || rename(tmp, dst) == -1) {
		(void)unlink(tmp);
		return -1;
	}
	return spool_fsync_dir(newdir);
}

/* The spool file named id into the Maildir; then the spool file goes. */
static void
deliver(const char *id, struct buf *b)
{
	char	 path[PATH_MAX], name[128];
	ssize_t	 n;
	int	 fd;

	buf_reset(b);
	if (snprintf(path, sizeof(path), "spool/new/%s", id) >=
	    (int)sizeof(path) || (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		fatal_errno("%s: open", path);
	for (;;) {
		if (buf_reserve(b, 8192) == -1)
			fatal_errno("%s: read", path);
		if ((n = read(fd, b->data + b->len, 8192)) == -1)
			fatal_errno("%s: read", path);
		if (n == 0)
			break;
		b->len += (size_t)n;
	}
	close(fd);
	(void)snprintf(name, sizeof(name), "%lld.%s.floor",
	    (long long)time(NULL), id);
	/* The bench empties the Maildir between runs by removing it, as
	 * a Maildir delivery agent would, it is made again. */
	if (put_durable("Maildir/tmp", "Maildir/new", name, b) == -1 &&
	    (errno != ENOENT || make_dirs(maildirs, NDIRS(maildirs)) == -1 ||
	    put_durable("Maildir/tmp", "Maildir/new", name, b) == -1))
		fatal_errno("%s: delivery", id);
	if (unlink(path) == -1)
		fatal_errno("%s: unlink", path);
}

/* One message's text up to its dot into body; 0, or -1 when the session
 * is over (EOF, error, timeout). A message longer than FLOOR_MESSAGE_MAX
 * (or with a line longer than FLOOR_LINE_MAX) is read to its dot and
 * thrown away, and *toolong says so. */
static int
read_data(struct io *io, struct buf *line, struct buf *body, int *toolong)
{
	int	 r;

	buf_reset(body);
	*toolong = 0;
	for (;;) {
		r = io_getline(io, line, FLOOR_LINE_MAX);
		if (r == IO_LINE_EOF || r == IO_LINE_ERR || r == IO_LINE_PARTIAL)
			return -1;
		if (line->len == 3 && memcmp(line->data, ".\r\n", 3) == 0)
			return 0;
		if (r == IO_LINE_LONG ||
		    body->len + line->len > FLOOR_MESSAGE_MAX)
			*toolong = 1;
		else if (buf_add(body, line->data, line->len) == -1)
			fatal_errno("message text");
	}
}

static void
session(int fd)
{
	struct io	 io;
	struct buf	 line = BUF_INIT, body = BUF_INIT;
	char		 ids[FLOOR_SESSION_MAX][64];
	size_t		 n = 0, i;
	int		 r, toolong;

	io_init(&io, fd, FLOOR_TIMEOUT_MS, 2 * FLOOR_LINE_MAX);
	/* FLOOR_MESSAGE_MAX is read_data()'s limit; the buffer has room
	 * past it for deliver()'s reads of 8 KiB at a time. */
	buf_init(&body, FLOOR_MESSAGE_MAX + 8192);
	io_puts(&io, "220 floor ESMTP\r\n");
	while (io_flush(&io) == 0) {
		r = io_getline(&io, &line, FLOOR_LINE_MAX);
		if (r == IO_LINE_EOF || r == IO_LINE_ERR || r == IO_LINE_PARTIAL)
			break;
		if (r == IO_LINE_LONG)
			io_puts(&io, "500 line too long\r\n");
		else if (strncasecmp(line.data, "QUIT", 4) == 0) {
			io_puts(&io, "221 bye\r\n");
			(void)io_flush(&io);
			break;
		} else if (strncasecmp(line.data, "DATA", 4) != 0)
			io_puts(&io, "250 ok\r\n");
		else {
			io_puts(&io, "354 go\r\n");
			if (io_flush(&io) == -1 ||
			    read_data(&io, &line, &body, &toolong) == -1)
				break;
			(void)snprintf(ids[n], sizeof(ids[n]), "%ld.%lu",
			    (long)getpid(), seq++);
			if (toolong)
				io_puts(&io, "552 too long\r\n");
			else if (n == FLOOR_SESSION_MAX ||
			    put_durable("spool/tmp", "spool/new", ids[n],
			    &body) == -1)
				io_puts(&io, "451 not queued\r\n");
			else {
				io_puts(&io, "250 queued\r\n");
				n++;
			}
		}
	}
	io_free(&io);
	close(fd);
	for (i = 0; i < n; i++)
		deliver(ids[i], &body);
	buf_free(&line);
	buf_free(&body);
}

static void
serve(int lfd, const sigset_t *unblocked)
{
	int	 fd;

	signal(SIGTERM, SIG_DFL);
	sigprocmask(SIG_SETMASK, unblocked, NULL);
	for (;;) {
		if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fatal_errno("accept");
		}
		session(fd);
	}
}

static volatile sig_atomic_t	 stop;

static void
on_term(int sig)
{
	stop = 1;
}

int
main(int argc, char *argv[])
{
	static pid_t		 kids[FLOOR_PROCS_MAX];
	struct sockaddr_in	 sin;
	struct sigaction	 sa;
	sigset_t		 term, old;
	long			 port, procs, i;
	int			 lfd, one = 1;
	char			*end;

	log_init("floor", 1);
	if (argc != 4)
		fatal("usage: floor PORT DIR PROCS");
	port = strtol(argv[1], &end, 10);
	if (*end != '\0' || port < 1 || port > 65535)
		fatal("%s: not a port", argv[1]);
	procs = strtol(argv[3], &end, 10);
	if (*end != '\0' || procs < 1 || procs > FLOOR_PROCS_MAX)
		fatal("%s: not a process count (1 to %d)", argv[3],
		    FLOOR_PROCS_MAX);
	if (mkdir(argv[2], 0700) == -1 && errno != EEXIST)
		fatal_errno("%s: mkdir", argv[2]);
	if (chdir(argv[2]) == -1)
		fatal_errno("%s: chdir", argv[2]);
	if (make_dirs(spooldirs, NDIRS(spooldirs)) == -1 ||
	    make_dirs(maildirs, NDIRS(maildirs)) == -1)
		fatal_errno("%s: mkdir", argv[2]);

	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal_errno("socket");
	(void)setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 1024) == -1)
		fatal_errno("127.0.0.1:%ld", port);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Blocked but while waiting for it: no SIGTERM is missed between
	 * the test of stop and the wait. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &old);
	for (i = 0; i < procs; i++) {
		if ((kids[i] = fork()) == -1)
			fatal_errno("fork");
		if (kids[i] == 0)
			serve(lfd, &old);
	}
	while (!stop)
		sigsuspend(&old);
	for (i = 0; i < procs; i++)
		kill(kids[i], SIGTERM);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	return 0;
}
