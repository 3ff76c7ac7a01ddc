/*
 * master: the parent of every Postern process.
 *
 * Job: read postern.conf, bind the SMTP listeners (smtpd_listen,
 * submission_listen, smtps_listen) and the local submission socket
 * (local_submit_socket, for sendmail; local.c), refuse clients past their per-address
 * limits (limits.c), start and supervise the long-running children
 * (lspawn, resolve, rspawn, qmgr, sessiond) with restart backoff, and
 * hand each accepted
 * connection to sessiond, which forks the pair smtpd + enqueue joined by a
 * socketpair without exec (while sessiond is down, master forks and execs
 * the pair itself).
 * SIGTERM/SIGINT stop everything; SIGHUP re-reads the configuration (a bad
 * file is refused and the running one kept) and is passed on to every
 * child; resolv_conf_file is copied into resolve's chroot again.
 *
 * Privileges: runs as root and never drops (it must bind port 25 and start
 * lspawn, which stays root). It reads nothing from the network: a client's
 * bytes go straight to smtpd's fd 0/1. Started by a normal user (a
 * developer's "postern run"), everything works the same without uid changes
 * or chroot, and that is logged once.
 *
 * Pipes (see docs/protocols.md, "master -> every child"):
 *   lspawn, resolve, rspawn: fd 3 = the socketpair each shares with qmgr,
 *     fd 4 = a control socket whose other end master keeps; qmgr: fd 3, 5
 *     and 6 = its ends of those pairs, fd 4 = control. A restarted child's
 *     new ends are passed to the survivors over their control sockets
 *     (SCM_RIGHTS, tags in child.c).
 *   sessiond: fd 3 = a SOCK_SEQPACKET socketpair: 'S' records with the
 *     connection (SCM_RIGHTS) out, 'X' (session over) in; its own process
 *     group, which stopping signals whole.
 *   smtpd (exec'd only while sessiond is down): fd 0/1 = the client
 *     connection, fd 3 = its enqueue socketpair,
 *     -l smtp|submission|smtps = the listener it came in on.
 *   enqueue: fd 3 = the other end; -a CLIENTIP tells it the client address.
 *   signals arrive through a self-pipe, read in the poll loop.
 *
 * Usage: master -c CONFDIR [-f | -d]
 *   -f  foreground: log to stderr, children too (POSTERN_LOG_STDERR=1)
 *   -d  daemon: detach; the caller's process exits 0 once listeners are
 *       bound and the pid file is written, else 1 with the error
 *   neither: stay attached (for a service manager), log to syslog
 * Exit: 0 after a clean stop; 64 usage; 78 bad configuration; 75 other
 * start-up failures (fatal()).
 */
#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
#include <bsd/string.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "priv.h"
#include "master.h"

#define STOP_WAIT_MS	10000	/* children get this long after SIGTERM */
#define STOP_TICK_MS	50

static struct master	*the_master;	/* for the signal handler only */

long long
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
usage(void)
{
	fprintf(stderr, "usage: master -c confdir [-f | -d]\n");
	exit(EX_USAGE);
}

/* One byte per signal; a full pipe already holds a wake-up. */
static void
on_signal(int sig)
{
	unsigned char	 c = (unsigned char)sig;
	int		 saved = errno;

	if (the_master != NULL)
		(void)!write(the_master->sigpipe[1], &c, 1);
	errno = saved;
}

static void
signals_setup(struct master *m)
{
	struct sigaction sa;
	int		 i;
	static const int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP };

	if (pipe2(m->sigpipe, O_NONBLOCK | O_CLOEXEC) == -1)
		fatal_errno("pipe");
	the_master = m;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	for (i = 0; i < (int)(sizeof(sigs) / sizeof(sigs[0])); i++)
		if (sigaction(sigs[i], &sa, NULL) == -1)
			fatal_errno("sigaction");
	/* A client that hangs up before our 421 must not kill master. */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/* The directory of our own executable: smtpd, enqueue, qmgr and lspawn are
 * its siblings. */
static void
libexec_find(struct master *m)
{
	static const char *const progs[] = { "sessiond", "smtpd", "enqueue",
	    "qmgr", "lspawn" };
	char		 path[PATH_MAX], *slash;
	ssize_t		 n;
	size_t		 i;

	n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (n <= 0 || (size_t)n >= sizeof(path) - 1)
		fatal_errno("readlink /proc/self/exe");
	path[n] = '\0';
	if ((slash = strrchr(path, '/')) == NULL)
		fatal("/proc/self/exe is not a path: %s", path);
	*slash = '\0';
	strlcpy(m->libexec, path, sizeof(m->libexec));
	for (i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", m->libexec,
		    progs[i]) >= sizeof(path))
			fatal("libexec path too long: %s", m->libexec);
		if (access(path, X_OK) == -1)
			fatal_errno("%s", path);
	}
}

static void
setup(struct master *m, const char *confdir)
{
	struct buf	 err = BUF_INIT;

	if ((m->conf = calloc(1, sizeof(*m->conf))) == NULL)
		fatal_errno("calloc");
	if (conf_load(m->conf, confdir, &err) == -1) {
		log_warn("%s", buf_str(&err));
		exit(EX_CONFIG);
	}
	buf_free(&err);
	strlcpy(m->confdir, m->conf->confdir, sizeof(m->confdir));
	strlcpy(m->spool, m->conf->spool_directory, sizeof(m->spool));
	libexec_find(m);
	if (chdir(m->spool) == -1)
		fatal_errno("chdir %s (run \"postern setup\")", m->spool);
	if (!priv_is_root())
		log_info("not running as root: uid changes and chroot are "
		    "skipped");
	pidfile_lock(m, !m->foreground);
	listen_open(m);
	signals_setup(m);
	child_init(m);
	pidfile_write(m);
}

/* Reap every exited child: a long-running one is restarted later, a
 * session half is crossed off. */
static void
master_reap(struct master *m)
{
	pid_t	 pid;
	int	 status, k;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (m->sd.pid > 0 && pid == m->sd.pid)
			sessiond_exited(m, status);
		else if ((k = child_find(m, pid)) >= 0)
			child_exited(m, k, status);
		else if (!session_reaped(m, pid, status))
			log_debug("reaped unknown child %ld", (long)pid);
	}
}

/*
 * SIGHUP: a new configuration, or the old one kept. New sessions see the
 * new limits (smtpd and enqueue read the file themselves); the listeners and
 * the spool are fixed until a restart.
 */
static void
master_reload(struct master *m)
{
	struct conf	*c;
	struct buf	 err = BUF_INIT;
	int		 k;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn_errno("reload refused: calloc");
		return;
	}
	if (conf_load(c, m->confdir, &err) == -1) {
		log_warn("reload refused: %s; keeping the running "
		    "configuration", buf_str(&err));
		buf_free(&err);
		free(c);
		return;
	}
	buf_free(&err);
	if (strcmp(c->smtpd_listen, m->listen) != 0 ||
	    strcmp(c->submission_listen, m->listen_sub) != 0 ||
	    strcmp(c->smtps_listen, m->listen_smtps) != 0)
		log_warn("smtpd_listen, submission_listen or smtps_listen "
		    "changed: restart postern to listen there; still "
		    "listening on %s", m->listen_text);
	if (strcmp(c->spool_directory, m->spool) != 0)
		log_warn("spool_directory changed (%s): restart postern to "
		    "use it; still using %s", c->spool_directory, m->spool);
	free(m->conf);
	m->conf = c;
	if (priv_is_root())
		resolv_copy(m);		/* resolve re-reads it when it changed */
	for (k = 0; k < KID_COUNT; k++)
		if (m->kid[k].pid > 0)
			kill(m->kid[k].pid, SIGHUP);
	if (m->sd.pid > 0)
		kill(m->sd.pid, SIGHUP);	/* its config and certificate */
	log_info("reloaded %s/%s", m->confdir, CONF_NAME);
}

static int
children_left(struct master *m)
{
	int	 k;

	for (k = 0; k < KID_COUNT; k++)
		if (m->kid[k].pid > 0)
			return 1;
	return m->sd.pid > 0 || m->nsess > 0;
}

/* SIGTERM/SIGINT: stop accepting, ask every child to stop, give them
 * STOP_WAIT_MS, then kill what is left. Never returns. */
static void
master_stop(struct master *m, int sig)
{
	long long	 deadline;

	log_info("stopping (signal %d)", sig);
	m->stopping = 1;
	listen_close(m);
	child_signal_all(m, SIGTERM);
	session_signal_all(m, SIGTERM);
	deadline = now_ms() + STOP_WAIT_MS;
	for (;;) {
		master_reap(m);
		if (!children_left(m) || now_ms() >= deadline)
			break;
		poll(NULL, 0, STOP_TICK_MS);
	}
	if (children_left(m)) {
		log_warn("children still running after %d s: killing them",
		    STOP_WAIT_MS / 1000);
		child_signal_all(m, SIGKILL);
		session_signal_all(m, SIGKILL);
		deadline = now_ms() + 1000;
		while (children_left(m) && now_ms() < deadline) {
			master_reap(m);
			poll(NULL, 0, 10);
		}
	}
	pidfile_remove(m);
	log_info("stopped");
	exit(0);
}

/* Drain the self-pipe and act on each signal. */
static void
master_signals(struct master *m)
{
	unsigned char	 sig[64];
	ssize_t		 n, i;

	while ((n = read(m->sigpipe[0], sig, sizeof(sig))) > 0)
		for (i = 0; i < n; i++)
			switch (sig[i]) {
			case SIGCHLD:
				master_reap(m);
				break;
			case SIGTERM:
			case SIGINT:
				master_stop(m, sig[i]);
				break;
			case SIGHUP:
				master_reload(m);
				break;
			default:
				break;
			}
}

/*
 * The loop: the self-pipe first (slot 0), then one slot per listener; the
 * poll timeout is the next restart that is due.
 */
static void
master_loop(struct master *m)
{
	struct pollfd	*pfd;
	size_t		 i, n = m->nlfd + 1;

	/* One more slot, last: sessiond's control socket (-1: ignored). */
	if ((pfd = reallocarray(NULL, n + 1, sizeof(*pfd))) == NULL)
		fatal_errno("reallocarray");
	pfd[0].fd = m->sigpipe[0];
	pfd[0].events = POLLIN;
	for (i = 0; i < m->nlfd; i++) {
		pfd[i + 1].fd = m->lfd[i].fd;
		pfd[i + 1].events = POLLIN;
	}
	pfd[n].events = POLLIN;
	for (;;) {
		int	 timeout = child_timeout(m);
		long long now = now_ms();

		/* Out of fds or memory: leave the listeners alone for a
		 * while (poll() skips negative fds) instead of spinning. */
		if (m->accept_pause_ms != 0 && now >= m->accept_pause_ms)
			m->accept_pause_ms = 0;
		/* A connection waiting for room at sessiond: it goes first,
		 * the listeners wait (and exec it if sessiond is gone). */
		if (m->pend.conn != -1 && m->sd.ctl == -1)
			session_pending(m);
		for (i = 0; i < m->nlfd; i++)
			pfd[i + 1].fd = m->accept_pause_ms != 0 ||
			    m->pend.conn != -1 ? -1 : m->lfd[i].fd;
		if (m->accept_pause_ms != 0 && (timeout == -1 ||
		    m->accept_pause_ms - now < timeout))
			timeout = (int)(m->accept_pause_ms - now);
		pfd[n].fd = m->sd.ctl;
		pfd[n].events = POLLIN | (m->pend.conn != -1 ? POLLOUT : 0);
		pfd[n].revents = 0;
		if (poll(pfd, n + 1, timeout) == -1) {
			if (errno == EINTR)
				continue;
			fatal_errno("poll");
		}
		if (pfd[0].revents & POLLIN)
			master_signals(m);
		if (pfd[n].revents != 0 && m->sd.ctl != -1)
			sessiond_read(m);
		if (pfd[n].revents & (POLLOUT | POLLERR | POLLHUP))
			session_pending(m);
		for (i = 1; i < n; i++)
			if ((pfd[i].revents & POLLIN) &&
			    strcmp(m->lfd[i - 1].kind, "local") == 0)
				local_accept(m, &m->lfd[i - 1]);
			else if (pfd[i].revents & POLLIN)
				session_accept(m, &m->lfd[i - 1]);
		child_timers(m);
	}
}

int
main(int argc, char *argv[])
{
	struct master	 m;
	const char	*confdir = NULL;
	int		 ch, daemonize = 0, k;

	memset(&m, 0, sizeof(m));
	m.pend.conn = -1;
	log_init("master", 1);
	while ((ch = getopt(argc, argv, "c:df")) != -1)
		switch (ch) {
		case 'c':
			confdir = optarg;
			break;
		case 'd':
			daemonize = 1;
			break;
		case 'f':
			m.foreground = 1;
			break;
		default:
			usage();
		}
	if (confdir == NULL || argc != optind || (daemonize && m.foreground))
		usage();

	if (daemonize)
		daemon_begin();		/* stderr goes to our caller for now */
	else if (!m.foreground)
		log_init("master", 0);
	setup(&m, confdir);
	if (daemonize)
		daemon_ready();
	log_info("starting (confdir %s, listening on %s)", m.confdir,
	    m.listen_text);
	for (k = 0; k < KID_COUNT; k++)
		child_start(&m, k);
	sessiond_start(&m);
	master_loop(&m);
	return 0;
}
