/*
 * daemon.c: master -d, and the pid file.
 *
 * daemon_begin() forks. The parent stays behind only to learn the outcome:
 * the child's stderr is a pipe back to it until daemon_ready(), so a fatal()
 * during set-up (bad config, address in use, already running) reaches the
 * operator's terminal and the parent exits 1; a NUL byte on the pipe says
 * the listeners are bound and the pid file written, and the parent exits 0.
 * That is what makes "postern start" report failure honestly.
 *
 * The pid file is locked (fcntl F_SETLK, a write lock on the whole file) for
 * the whole life of master: the lock, not the file's existence, says that
 * master runs, so a stale file left by a crash never blocks a start, and
 * "postern status" asks the lock (F_GETLK) who holds it.
 */
#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bsd/string.h>

#include "log.h"
#include "master.h"

static void
devnull_to(int fd)
{
	int	 n;

	if ((n = open("/dev/null", O_RDWR)) == -1)
		fatal_errno("/dev/null");
	if (n != fd) {
		dup2(n, fd);
		close(n);
	}
}

/* The parent: copy what the child says to our stderr until the NUL of
 * readiness (exit 0) or EOF (the child died: exit 1). */
static void __attribute__((noreturn))
daemon_wait(int rfd, pid_t pid)
{
	char	 b[512], *nul;
	ssize_t	 n;
	int	 status;

	for (;;) {
		n = read(rfd, b, sizeof(b));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if ((nul = memchr(b, '\0', (size_t)n)) != NULL) {
			(void)!write(STDERR_FILENO, b, (size_t)(nul - b));
			_exit(0);
		}
		(void)!write(STDERR_FILENO, b, (size_t)n);
	}
	waitpid(pid, &status, 0);
	_exit(1);
}

void
daemon_begin(void)
{
	int	 p[2];
	pid_t	 pid;

	if (pipe2(p, O_CLOEXEC) == -1)
		fatal_errno("pipe");
	if ((pid = fork()) == -1)
		fatal_errno("fork");
	if (pid > 0) {
		close(p[1]);
		daemon_wait(p[0], pid);
	}
	close(p[0]);
	if (setsid() == -1)
		fatal_errno("setsid");
	devnull_to(STDIN_FILENO);
	devnull_to(STDOUT_FILENO);
	if (dup2(p[1], STDERR_FILENO) == -1)
		fatal_errno("dup2");
	close(p[1]);
}

void
daemon_ready(void)
{
	char	 nul = '\0';

	(void)!write(STDERR_FILENO, &nul, 1);
	log_init("master", 0);
	devnull_to(STDERR_FILENO);
}

/* Who holds the lock on fd: that pid, or 0 when nobody (or unknown). */
static pid_t
pidfile_holder(int fd)
{
	struct flock	 fl;
	char		 b[32];
	ssize_t		 n;
	long		 v;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK &&
	    fl.l_pid > 0)
		return fl.l_pid;
	/* Another pid namespace: the file's contents are all we have. */
	if ((n = pread(fd, b, sizeof(b) - 1, 0)) <= 0)
		return 0;
	b[n] = '\0';
	v = strtol(b, NULL, 10);
	return v > 0 ? (pid_t)v : 0;
}

/*
 * Open and lock pid_file. Held by somebody else: fatal, whatever the mode.
 * Cannot be opened: fatal when required (-d), a warning in the foreground.
 */
void
pidfile_lock(struct master *m, int required)
{
	struct flock	 fl;
	const char	*path = m->conf->pid_file;

	m->pidfd = -1;
	if (*path == '\0')
		return;
	m->pidfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (m->pidfd == -1) {
		if (required)
			fatal_errno("pid file %s", path);
		log_warn_errno("pid file %s not written", path);
		return;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(m->pidfd, F_SETLK, &fl) == -1) {
		if (errno == EAGAIN || errno == EACCES)
			fatal("already running (pid %ld; pid file %s)",
			    (long)pidfile_holder(m->pidfd), path);
		fatal_errno("lock %s", path);
	}
	strlcpy(m->pidpath, path, sizeof(m->pidpath));
}

void
pidfile_write(struct master *m)
{
	char	 b[32];
	int	 n;

	if (m->pidfd == -1)
		return;
	n = snprintf(b, sizeof(b), "%ld\n", (long)getpid());
	if (ftruncate(m->pidfd, 0) == -1 ||
	    pwrite(m->pidfd, b, (size_t)n, 0) != n)
		fatal_errno("write %s", m->pidpath);
}

/* Unlink while still holding the lock, so no starting master can lock a
 * file that is about to vanish. */
void
pidfile_remove(struct master *m)
{
	if (m->pidfd == -1)
		return;
	if (unlink(m->pidpath) == -1 && errno != ENOENT)
		log_warn_errno("unlink %s", m->pidpath);
	close(m->pidfd);
	m->pidfd = -1;
}
