/*
 * qmgr.c: the queue manager. Picks up committed messages from new/ and
 * deferred/, moves each into active/, routes its recipients (common/rcpt.c),
 * hands local deliveries to lspawn and remote ones, once resolve has found
 * their hosts, to rspawn; records every outcome in state/ID before acting
 * on it, and then removes the message or defers it with a retry time.
 *
 * Privileges: runs as queue_user (master drops it there before exec), no
 * chroot; cwd is the spool directory, so every path it touches is relative.
 *
 * Pipes (set up by master, docs/protocols.md):
 *   fd 3  socketpair to lspawn: 'L' requests out, 'O' outcomes in
 *   fd 4  control socketpair to master: an SCM_RIGHTS message carries a
 *         new socket after master restarted a peer: tag 'P' lspawn's, 'R'
 *         resolve's, 'S' rspawn's; EOF means master is gone: exit 0
 *   fd 5  socketpair to resolve: 'Q' queries out, 'A' answers in
 *   fd 6  SOCK_SEQPACKET to rspawn: 'T' requests (with the queue file's
 *         fd) out, 'R' and 'E' in
 *   spool/trigger  FIFO: any byte means "look at new/ now"
 *
 * Usage: qmgr -c CONFDIR [-i]   (-i: first start of the instance, no session
 * can be running, so tmp/ is emptied)
 *
 * Shape: setup, then one ppoll() loop that dispatches on which descriptor is
 * ready. Signals are blocked outside ppoll(), so a SIGTERM or SIGHUP is seen
 * at the next loop turn and never lost between a check and the wait.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bsd/string.h>

#include "buf.h"
#include "conf.h"
#include "fdpass.h"
#include "log.h"
#include "spool.h"
#include "qmgr.h"

#define QMGR_LSPAWN_FD	3
#define QMGR_CONTROL_FD	4
#define QMGR_RESOLVE_FD	5
#define QMGR_RSPAWN_FD	6

static volatile sig_atomic_t got_term, got_hup;

static void	 usage(void) __attribute__((noreturn));
static void	 on_signal(int);
static void	 signals_setup(sigset_t *waitmask);
static void	 conf_reload(struct qmgr *, const char *confdir);
static int	 trigger_open(void);
static int	 trigger_drain(int fd);
static void	 control_read(struct qmgr *);
static long long now_ms(void);

static void
usage(void)
{
	fprintf(stderr, "usage: qmgr -c confdir [-i]\n");
	exit(64);			/* EX_USAGE */
}

static void
on_signal(int sig)
{
	if (sig == SIGTERM)
		got_term = 1;
	else if (sig == SIGHUP)
		got_hup = 1;
}

/*
 * Block SIGTERM and SIGHUP except inside ppoll(): a signal that arrives while
 * we work is delivered when the loop next waits, which then returns EINTR at
 * once. No SA_RESTART, for the same reason.
 */
static void
signals_setup(sigset_t *waitmask)
{
	struct sigaction sa;
	sigset_t	 block;

	signal(SIGPIPE, SIG_IGN);	/* a dead lspawn is EPIPE, not death */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGHUP, &sa, NULL) == -1)
		fatal_errno("sigaction");
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &block, waitmask) == -1)
		fatal_errno("sigprocmask");
	sigdelset(waitmask, SIGTERM);
	sigdelset(waitmask, SIGHUP);
}

/* SIGHUP: a bad file is refused and the running config kept. The spool
 * directory stays our cwd whatever the new file says: only a restart moves
 * the spool. Tables reopen by themselves when rebuilt (table.h). */
static void
conf_reload(struct qmgr *q, const char *confdir)
{
	struct conf	*c;
	struct buf	 err = BUF_INIT;

	c = qmgr_xcalloc(1, sizeof(*c));
	if (conf_load(c, confdir, &err) == -1)
		log_warn("reload refused, keeping the running config: %s",
		    buf_str(&err));
	else {
		q->conf = *c;
		log_info("configuration reloaded");
	}
	free(c);
	buf_free(&err);
}

/*
 * O_RDWR: we hold a writer ourselves, so the FIFO never reports EOF (and
 * poll() never spins on POLLHUP) when enqueue processes come and go. A
 * missing trigger only costs latency (the rescan timer still runs), so it
 * is a warning, not a reason to stop delivering.
 */
static int
trigger_open(void)
{
	struct stat	 st;
	int		 fd;

	fd = open(SPOOL_TRIGGER, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		log_warn_errno("cannot open %s, relying on the rescan timer",
		    SPOOL_TRIGGER);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISFIFO(st.st_mode)) {
		log_warn("%s is not a FIFO, relying on the rescan timer",
		    SPOOL_TRIGGER);
		close(fd);
		return -1;
	}
	return fd;
}

/* Many wake-ups make one scan: read until the FIFO is empty. 1 when a
 * byte was 'F' ("postern flush": deferred/ files are due now), so the
 * deferred scan runs too; enqueue's 'W' costs only a scan of new/. */
static int
trigger_drain(int fd)
{
	char	 buf[256];
	ssize_t	 n;
	int	 flush = 0;

	do {
		n = read(fd, buf, sizeof(buf));
		if (n > 0 && memchr(buf, 'F', (size_t)n) != NULL)
			flush = 1;
	} while (n > 0 || (n == -1 && errno == EINTR));
	return flush;
}

/* fd 4: master hands over a new peer socket, or has gone away. */
static void
control_read(struct qmgr *q)
{
	char	 tag = 0;
	int	 fd;

	fd = fd_recv(QMGR_CONTROL_FD, &tag);
	if (fd == -2) {
		qmgr_msg_sync(q);
		log_info("master closed the control socket, exiting");
		exit(0);
	}
	if (fd == -1) {
		if (errno == EBADF || errno == ENOTSOCK)
			fatal_errno("control socket");
		log_warn_errno("control socket: bad message");
		return;
	}
	switch (tag) {
	case 'P':
		qmgr_deliver_attach(q, fd);
		break;
	case 'R':
		qmgr_resolve_attach(q, fd);
		break;
	case 'S':
		qmgr_remote_attach(q, fd);
		break;
	default:
		log_warn("control socket: unknown tag 0x%02x, ignored",
		    (unsigned char)tag);
		close(fd);
	}
}

static long long
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
main(int argc, char *argv[])
{
	static struct qmgr q;		/* static: large, and zeroed */
	struct buf	 err = BUF_INIT;
	struct pollfd	 pfd[5];
	sigset_t	 waitmask;
	struct timespec	 ts;
	const char	*confdir = NULL;
	long long	 ms, wake;
	time_t		 now, next_rescan;
	int		 ch, initial = 0, trig, scan_new, n, i;
	int		 ilsp, ictl, itrig, ires, irsp;

	log_init("qmgr", 0);
	while ((ch = getopt(argc, argv, "c:i")) != -1) {
		switch (ch) {
		case 'c':
			confdir = optarg;
			break;
		case 'i':
			initial = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || confdir == NULL)
		usage();
	if (conf_load(&q.conf, confdir, &err) == -1)
		fatal("%s", buf_str(&err));
	buf_free(&err);
	signals_setup(&waitmask);

	/* master's contract: fd 3 and fd 4 are open, cwd is the spool. */
	if (fcntl(QMGR_CONTROL_FD, F_GETFD) == -1)
		fatal("fd %d (control socket from master) is not open",
		    QMGR_CONTROL_FD);
	if (access(SPOOL_ACTIVE, W_OK) == -1 || access(SPOOL_NEW, W_OK) == -1)
		fatal_errno("cwd is not a writable spool (%s/, %s/)",
		    SPOOL_NEW, SPOOL_ACTIVE);
	q.lspawn_fd = -1;
	if (fcntl(QMGR_LSPAWN_FD, F_GETFD) != -1)
		qmgr_deliver_attach(&q, QMGR_LSPAWN_FD);
	else
		log_warn("fd %d (lspawn) is not open; waiting for master",
		    QMGR_LSPAWN_FD);
	qmgr_dest_init(&q);
	if (fcntl(QMGR_RESOLVE_FD, F_GETFD) != -1)
		qmgr_resolve_attach(&q, QMGR_RESOLVE_FD);
	if (fcntl(QMGR_RSPAWN_FD, F_GETFD) != -1)
		qmgr_remote_attach(&q, QMGR_RSPAWN_FD);

	qmgr_recover(&q, initial);
	trig = trigger_open();
	rcpt_tables_init(&q.tables, &q.conf);
	log_info("started%s", initial ? " (initial)" : "");

	now = time(NULL);
	next_rescan = now;		/* first turn scans everything */
	scan_new = 1;
	for (;;) {
		if (got_term) {
			/* active/ goes back to new/ at the next start. */
			log_info("SIGTERM, exiting");
			exit(0);
		}
		if (got_hup) {
			got_hup = 0;
			conf_reload(&q, confdir);
		}

		now = time(NULL);
		if (now >= next_rescan) {
			scan_new = 1;
			q.next_due = now;	/* forces the deferred scan */
			next_rescan = now + q.conf.qmgr_rescan_seconds;
		}
		if (q.backlog && q.nactive <
		    (size_t)q.conf.qmgr_message_active_limit) {
			/* room again after a scan stopped at the limit */
			q.backlog = 0;
			scan_new = 1;
			q.next_due = now;
		}
		if (scan_new) {
			scan_new = 0;
			qmgr_scan_new(&q);
		}
		if (q.next_due != 0 && q.next_due <= now)
			qmgr_scan_deferred(&q, now);
		qmgr_deliver_pump(&q);
		qmgr_dest_pump(&q);

		n = 0;
		ictl = n;
		pfd[n].fd = QMGR_CONTROL_FD;
		pfd[n++].events = POLLIN;
		ilsp = itrig = ires = irsp = -1;
		if (q.lspawn_fd != -1) {
			ilsp = n;
			pfd[n].fd = q.lspawn_fd;
			pfd[n++].events = POLLIN;
		}
		if (q.resolve_fd != -1) {
			ires = n;
			pfd[n].fd = q.resolve_fd;
			pfd[n++].events = POLLIN;
		}
		if (q.rspawn_fd != -1) {
			irsp = n;
			pfd[n].fd = q.rspawn_fd;
			pfd[n++].events = POLLIN;
		}
		if (trig != -1) {
			itrig = n;
			pfd[n].fd = trig;
			pfd[n++].events = POLLIN;
		}
		for (i = 0; i < n; i++)
			pfd[i].revents = 0;

		/* Sleep until the next rescan or the earliest deferred
		 * message falls due, whichever is first; never 0 for ever. */
		wake = (long long)next_rescan * 1000;
		if (q.next_due != 0 && (long long)q.next_due * 1000 < wake)
			wake = (long long)q.next_due * 1000;
		ms = wake - now_ms();
		if (ms < 0)
			ms = 0;
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (ms % 1000) * 1000000;
		/* This turn's removals, on disk before qmgr sleeps. */
		qmgr_msg_sync(&q);
		if (ppoll(pfd, n, &ts, &waitmask) == -1) {
			if (errno == EINTR)
				continue;
			fatal_errno("ppoll");
		}

		if (pfd[ictl].revents != 0)
			control_read(&q);
		if (ilsp != -1 && pfd[ilsp].revents != 0 &&
		    q.lspawn_fd == pfd[ilsp].fd)
			qmgr_deliver_read(&q);
		if (ires != -1 && pfd[ires].revents != 0 &&
		    q.resolve_fd == pfd[ires].fd)
			qmgr_resolve_read(&q);
		if (irsp != -1 && pfd[irsp].revents != 0 &&
		    q.rspawn_fd == pfd[irsp].fd)
			qmgr_remote_read(&q);
		if (itrig != -1 && pfd[itrig].revents != 0) {
			if (trigger_drain(trig))
				q.next_due = time(NULL);
			scan_new = 1;
		}
	}
}
