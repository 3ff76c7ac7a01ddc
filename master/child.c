/*
 * child.c: the long-running children (lspawn, resolve, rspawn, qmgr), and
 * the fork/exec plumbing that every child of master goes through.
 *
 * qmgr talks to three peers, each over its own socketpair: lspawn (stream,
 * qmgr's fd 3), resolve (stream, fd 5) and rspawn (datagrams, fd 6); the
 * peer holds its end as fd 3. Every one of them also gets a control socket
 * as fd 4. When one exits it is restarted after a backoff: 1 s, doubled
 * after each quick crash (it lived less than KID_STABLE_MS), capped at
 * master_restart_max_seconds, back to 1 s once it had lived long. A
 * restarted peer gets a NEW pair; qmgr gets the other end over its control
 * socket (tag 'P' lspawn, 'R' resolve, 'S' rspawn) and drops the old one. A
 * restarted qmgr gets new pairs to all three, whose ends reach each running
 * peer with tag 'P'. While one side is down, master keeps the end made for
 * it (pending, qpending) until it starts. Sessions are never touched.
 *
 * Before resolve starts (and on reload) master copies resolv_conf_file into
 * resolve's chroot, where res_ninit() reads it (resolv_copy()).
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
	static const char *const names[KID_COUNT] = { "lspawn", "resolve",
	    "rspawn", "qmgr" };
	int	 k;

	for (k = 0; k < KID_COUNT; k++) {
		m->kid[k].name = names[k];
		m->kid[k].pid = 0;
		m->kid[k].ctl = -1;
		m->kid[k].pending = -1;
		m->kid[k].qpending = -1;
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

/* Each peer's socket type and the tag its new end has on qmgr's control
 * socket (docs/protocols.md). */
static const int	 peer_type[KID_PEERS] = { SOCK_STREAM, SOCK_STREAM,
    SOCK_SEQPACKET };
static const char	 peer_tag[KID_PEERS] = { 'P', 'R', 'S' };

static void
keep(int *slot, int fd)
{
	if (*slot != -1)
		close(*slot);
	*slot = fd;
}

/*
 * The end of peer p's pair that goes to side `to_qmgr` (1: qmgr's, 0: the
 * peer's): the one kept while that side was down, or one end of a new pair
 * whose other end goes to the other side (over its control socket when it
 * runs, kept for it when it does not).
 */
static int
child_pair(struct master *m, int p, int to_qmgr)
{
	struct kid	*peer = &m->kid[p], *q = &m->kid[KID_QMGR];
	struct kid	*other = to_qmgr ? peer : q;
	int		*mine = to_qmgr ? &peer->qpending : &peer->pending;
	int		*theirs = to_qmgr ? &peer->pending : &peer->qpending;
	char		 tag = to_qmgr ? 'P' : peer_tag[p];
	int		 sv[2], fd;

	if (*mine != -1) {
		fd = *mine;
		*mine = -1;
		return fd;
	}
	if (socketpair(AF_UNIX, peer_type[p] | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn_errno("socketpair for %s", peer->name);
		return -1;
	}
	if (other->pid > 0) {
		if (fd_send(other->ctl, sv[1], tag) == -1)
			log_warn_errno("passing the new %s socket to %s",
			    to_qmgr ? q->name : peer->name, other->name);
		close(sv[1]);
	} else
		keep(theirs, sv[1]);
	return sv[0];
}

/* Master runs as root: copy resolv_conf_file to CHROOT/etc/resolv.conf
 * (a temporary file renamed over the old one), so that resolve, chrooted,
 * reads the host's resolver configuration. A failure is logged: resolve
 * then keeps what it has, or uses the resolver's defaults. */
void
resolv_copy(struct master *m)
{
	char	 dst[PATH_MAX], tmp[PATH_MAX], b[8192];
	ssize_t	 n;
	int	 in, out, ok = 1;

	if ((size_t)snprintf(dst, sizeof(dst), "%s/etc/resolv.conf",
	    m->conf->resolve_chroot_directory) >= sizeof(dst) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.new", dst) >= sizeof(tmp)) {
		log_warn("resolve_chroot_directory too long");
		return;
	}
	if ((in = open(m->conf->resolv_conf_file, O_RDONLY | O_CLOEXEC)) ==
	    -1) {
		log_warn_errno("resolv_conf_file %s", m->conf->resolv_conf_file);
		return;
	}
	if ((out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0644)) == -1) {
		log_warn_errno("%s (run postern setup)", tmp);
		close(in);
		return;
	}
	while ((n = read(in, b, sizeof(b))) > 0)
		if (write(out, b, (size_t)n) != n) {
			ok = 0;
			break;
		}
	if (n == -1)
		ok = 0;
	if (fchmod(out, 0644) == -1 || close(out) == -1)
		ok = 0;
	close(in);
	if (!ok || rename(tmp, dst) == -1) {
		log_warn_errno("copying %s to %s", m->conf->resolv_conf_file,
		    dst);
		unlink(tmp);
	}
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
	int		 peers[KID_PEERS], ctl[2], fds[4], nfds, n = 0, p;
	pid_t		 pid;

	c->restart_ms = 0;
	for (p = 0; p < KID_PEERS; p++)
		peers[p] = -1;
	if (k == KID_QMGR) {
		for (p = 0; p < KID_PEERS; p++)
			if ((peers[p] = child_pair(m, p, 1)) == -1)
				goto fail;
	} else if ((peers[0] = child_pair(m, k, 0)) == -1)
		goto fail;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) == -1) {
		log_warn_errno("socketpair for %s", c->name);
		goto fail;
	}
	if (k == KID_RESOLVE && priv_is_root())
		resolv_copy(m);
	argv[n++] = (char *)c->name;
	argv[n++] = (char *)"-c";
	argv[n++] = m->confdir;
	if (k == KID_QMGR && !c->started_once)
		argv[n++] = (char *)"-i";	/* first start: recover spool */
	argv[n] = NULL;

	if ((pid = fork_quiet()) == 0) {
		/* qmgr: 3 lspawn, 4 control, 5 resolve, 6 rspawn; a peer:
		 * 3 qmgr, 4 control. resolve and rspawn start as root to
		 * chroot, and drop to their users themselves. */
		fds[0] = peers[0];	/* qmgr: lspawn's */
		fds[1] = ctl[1];
		nfds = 2;
		if (k == KID_QMGR) {
			fds[2] = peers[KID_RESOLVE];
			fds[3] = peers[KID_RSPAWN];
			nfds = 4;
		}
		child_place_fds(fds, nfds);
		child_devnull(1, 1);
		closefrom(3 + nfds);
		if (k == KID_QMGR && priv_is_root())
			priv_drop(m->conf->queue_user, NULL);
		child_exec(m, c->name, argv);
	}
	for (p = 0; p < KID_PEERS; p++)
		if (peers[p] != -1)
			close(peers[p]);
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
	return;
fail:
	for (p = 0; p < KID_PEERS; p++)
		if (peers[p] != -1)
			close(peers[p]);
	child_schedule(m, &m->kid[k], 0);
}

void
child_exited(struct master *m, int k, int status)
{
	struct kid	*c = &m->kid[k];
	char		 how[96];
	int		 p;

	status_text(status, how, sizeof(how));
	log_info("%s (pid %ld) exited: %s", c->name, (long)c->pid, how);
	c->pid = 0;
	close(c->ctl);
	c->ctl = -1;
	/* An end kept for the other side was paired with the one that
	 * died. */
	if (k == KID_QMGR) {
		for (p = 0; p < KID_PEERS; p++)
			keep(&m->kid[p].pending, -1);
	} else
		keep(&c->qpending, -1);
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
