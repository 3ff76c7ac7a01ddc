/*
 * child.c: the long-running children (lspawn, qmgr), and the fork/exec
 * plumbing that every child of master goes through.
 *
 * lspawn and qmgr share one socketpair (each holds an end as fd 3). When one
 * of them exits it is restarted after a backoff: 1 s, doubled after each
 * quick crash (it lived less than KID_STABLE_MS), capped at
 * master_restart_max_seconds, back to 1 s once it had lived long. The
 * restarted child gets a NEW socketpair end; the survivor gets the other end
 * over its control socket (fd 4, fd_send tag 'P') and drops its old one.
 * While both are down, the first to start makes the pair and master keeps
 * the other end ("pending") for the second. Sessions are never touched.
 *
 * Every child is forked with all signals blocked, so no handler of master's
 * runs in it before the defaults are back; it gets exactly the fds it is
 * given, PATH=/usr/bin:/bin and POSTERN_LOG_STDERR=1 in the foreground, and
 * nothing else of master's environment.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bsd/string.h>
#include <bsd/unistd.h>

#include "fdpass.h"
#include "fork.h"
#include "log.h"
#include "priv.h"
#include "master.h"

#define KID_STABLE_MS	60000	/* lived this long: not a quick crash */
#define FD_HIGH		10	/* scratch fds while placing 3, 4 */

void
child_init(struct master *m)
{
	static const char *const names[KID_COUNT] = { "lspawn", "qmgr" };
	int	 k;

	for (k = 0; k < KID_COUNT; k++) {
		m->kid[k].name = names[k];
		m->kid[k].pid = 0;
		m->kid[k].ctl = -1;
		m->kid[k].pending = -1;
		m->kid[k].backoff = 1;
	}
	m->sd.name = "sessiond";
	m->sd.ctl = -1;
	m->sd.pending = -1;
	m->sd.backoff = 1;
}

/*
 * In a child: put fds[i] on 3 + i, whatever numbers they had (one of them
 * may already sit on 3 or 4). They are first copied above FD_HIGH so that
 * no dup2 clobbers a source still to be moved; dup2 clears FD_CLOEXEC.
 */
void
child_place_fds(const int *fds, int n)
{
	int	 hi[4], i;

	if (n > 4)
		panic("child_place_fds: %d fds", n);
	for (i = 0; i < n; i++)
		if ((hi[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, FD_HIGH)) == -1)
			fatal_errno("F_DUPFD");
	for (i = 0; i < n; i++)
		if (dup2(hi[i], 3 + i) == -1)
			fatal_errno("dup2");
}

/* In a child: fd 0 and/or 1 from /dev/null. */
void
child_devnull(int std_in, int std_out)
{
	int	 fd;

	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		fatal_errno("/dev/null");
	if ((std_in && dup2(fd, STDIN_FILENO) == -1) ||
	    (std_out && dup2(fd, STDOUT_FILENO) == -1))
		fatal_errno("dup2 /dev/null");
	if (fd > STDERR_FILENO)
		close(fd);
}

/* In a child: execve libexec/prog; the cwd (the spool) is inherited. */
void
child_exec(struct master *m, const char *prog, char *const argv[])
{
	char	 path[PATH_MAX];
	char	*env[3];
	int	 n = 0;

	env[n++] = (char *)"PATH=/usr/bin:/bin";
	if (m->foreground)
		env[n++] = (char *)LOG_STDERR_ENV "=1";
	env[n] = NULL;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", m->libexec, prog) >=
	    sizeof(path)) {
		log_warn("libexec path too long for %s", prog);
		_exit(127);
	}
	execve(path, argv, env);
	log_warn_errno("execve %s", path);
	_exit(127);
}

/* "exit status N" / "signal N" into out; returns 1 for a clean exit 0. */
int
status_text(int status, char *out, size_t outsz)
{
	if (WIFEXITED(status))
		snprintf(out, outsz, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, outsz, "signal %d (%s)%s", WTERMSIG(status),
		    strsignal(WTERMSIG(status)),
		    WCOREDUMP(status) ? ", core dumped" : "");
	else
		snprintf(out, outsz, "status 0x%x", status);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/*
 * The peer end for kid k: the one kept while k was down, or one end of a
 * new pair whose other end goes to the partner (over its control socket
 * when it runs, kept as its pending end when it does not).
 */
static int
child_peer(struct master *m, int k)
{
	struct kid	*other = &m->kid[1 - k];
	int		 p[2], fd;

	if (m->kid[k].pending != -1) {
		fd = m->kid[k].pending;
		m->kid[k].pending = -1;
		return fd;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) == -1) {
		log_warn_errno("socketpair for %s", m->kid[k].name);
		return -1;
	}
	if (other->pid > 0) {
		if (fd_send(other->ctl, p[1], 'P') == -1)
			log_warn_errno("passing the new %s socket to %s",
			    m->kid[k].name, other->name);
		close(p[1]);
	} else {
		if (other->pending != -1)
			close(other->pending);
		other->pending = p[1];
	}
	return p[0];
}

void
child_schedule(struct master *m, struct kid *c, long long lived_ms)
{
	int		 max = m->conf->master_restart_max_seconds, wait;

	if (max < 1)
		max = 1;
	if (lived_ms >= KID_STABLE_MS)
		c->backoff = 1;
	wait = c->backoff < max ? c->backoff : max;
	c->backoff = wait * 2 < max ? wait * 2 : max;
	c->restart_ms = now_ms() + (long long)wait * 1000;
	log_info("restarting %s in %d s", c->name, wait);
}

void
child_start(struct master *m, int k)
{
	struct kid	*c = &m->kid[k];
	char		*argv[6];
	int		 peer, ctl[2], fds[2], n = 0;
	pid_t		 pid;

	c->restart_ms = 0;
	if ((peer = child_peer(m, k)) == -1) {
		child_schedule(m, &m->kid[k], 0);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) == -1) {
		log_warn_errno("socketpair for %s", c->name);
		close(peer);
		child_schedule(m, &m->kid[k], 0);
		return;
	}
	argv[n++] = (char *)c->name;
	argv[n++] = (char *)"-c";
	argv[n++] = m->confdir;
	if (k == KID_QMGR && !c->started_once)
		argv[n++] = (char *)"-i";	/* first start: recover spool */
	argv[n] = NULL;

	if ((pid = fork_quiet()) == 0) {
		fds[0] = peer;
		fds[1] = ctl[1];
		child_place_fds(fds, 2);
		child_devnull(1, 1);
		closefrom(5);
		if (k == KID_QMGR && priv_is_root())
			priv_drop(m->conf->queue_user, NULL);
		child_exec(m, c->name, argv);
	}
	close(peer);
	close(ctl[1]);
	if (pid == -1) {
		log_warn_errno("fork %s", c->name);
		close(ctl[0]);
		child_schedule(m, &m->kid[k], 0);
		return;
	}
	c->pid = pid;
	c->ctl = ctl[0];
	c->started_once = 1;
	c->started_ms = now_ms();
	log_info("started %s (pid %ld)", c->name, (long)pid);
}

void
child_exited(struct master *m, int k, int status)
{
	struct kid	*c = &m->kid[k];
	struct kid	*other = &m->kid[1 - k];
	char		 how[96];

	status_text(status, how, sizeof(how));
	log_info("%s (pid %ld) exited: %s", c->name, (long)c->pid, how);
	c->pid = 0;
	close(c->ctl);
	c->ctl = -1;
	/* An end kept for the partner was paired with the one that died. */
	if (other->pending != -1) {
		close(other->pending);
		other->pending = -1;
	}
	if (!m->stopping)
		child_schedule(m, &m->kid[k], now_ms() - c->started_ms);
}

int
child_find(const struct master *m, pid_t pid)
{
	int	 k;

	for (k = 0; k < KID_COUNT; k++)
		if (m->kid[k].pid == pid)
			return k;
	return -1;
}

/* Milliseconds until the next restart is due: poll()'s timeout, -1 none. */
int
child_timeout(const struct master *m)
{
	const struct kid *c;
	long long	 now = now_ms(), t = -1, d;
	int		 k;

	for (k = 0; k <= KID_COUNT; k++) {
		c = k < KID_COUNT ? &m->kid[k] : &m->sd;
		if (c->restart_ms == 0)
			continue;
		d = c->restart_ms - now;
		if (d < 0)
			d = 0;
		if (t == -1 || d < t)
			t = d;
	}
	return (int)t;
}

void
child_timers(struct master *m)
{
	long long	 now = now_ms();
	int		 k;

	for (k = 0; k < KID_COUNT; k++)
		if (m->kid[k].restart_ms != 0 && now >= m->kid[k].restart_ms &&
		    m->kid[k].pid == 0)
			child_start(m, k);
	if (m->sd.restart_ms != 0 && now >= m->sd.restart_ms && m->sd.pid == 0)
		sessiond_start(m);
}

void
child_signal_all(struct master *m, int sig)
{
	int	 k;

	for (k = 0; k < KID_COUNT; k++) {
		m->kid[k].restart_ms = 0;
		if (m->kid[k].pid > 0)
			kill(m->kid[k].pid, sig);
	}
	/* sessiond's group: sessiond and every session it forked. */
	m->sd.restart_ms = 0;
	if (m->sd.pid > 0)
		kill(-m->sd.pid, sig);
}
