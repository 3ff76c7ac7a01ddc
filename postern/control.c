/*
 * control.c: run, start, stop, status, reload.
 *
 * master holds a write lock on pid_file for its whole life (fcntl F_SETLK);
 * the holder of that lock, asked with F_GETLK, is the running master. A
 * pid file without a lock is stale (a crash) and means "not running": no
 * signal is ever sent to a pid merely read from a file.
 *
 * master lives in PREFIX/libexec/postern, found from our own executable
 * (PREFIX/sbin/postern), so an instance installed anywhere runs its own
 * programs.
 */
#include <sys/types.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "postern.h"

#define STOP_WAIT_MS	30000
#define STOP_TICK_MS	100

/* PREFIX/libexec/postern/master from PREFIX/sbin/postern. */
static void
master_path(char *out, size_t outsz)
{
	char	 self[PATH_MAX], *slash;
	ssize_t	 n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0 || (size_t)n >= sizeof(self) - 1) {
		complain("readlink /proc/self/exe: %s", strerror(errno));
		exit(EX_OSERR);
	}
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) != NULL)
		*slash = '\0';
	if ((size_t)snprintf(out, outsz, "%s/../libexec/postern/master",
	    self) >= outsz) {
		complain("path too long: %s", self);
		exit(EX_SOFTWARE);
	}
}

static int __attribute__((noreturn))
master_exec(const char *confdir, const char *mode)
{
	char	 path[PATH_MAX];
	char	*argv[] = { (char *)"master", (char *)"-c", (char *)confdir,
	    (char *)mode, NULL };

	master_path(path, sizeof(path));
	execv(path, argv);
	complain("%s: %s", path, strerror(errno));
	exit(EX_UNAVAILABLE);
}

/* The pid of the running master, or 0. */
static pid_t
master_pid(const struct conf *c)
{
	struct flock	 fl;
	char		 b[32];
	ssize_t		 n;
	long		 v;
	int		 fd;

	if (c->pid_file[0] == '\0' ||
	    (fd = open(c->pid_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return 0;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_GETLK, &fl) == -1 || fl.l_type == F_UNLCK) {
		close(fd);
		return 0;
	}
	if (fl.l_pid > 0) {
		close(fd);
		return fl.l_pid;
	}
	/* Locked from another pid namespace: trust the file's contents. */
	n = pread(fd, b, sizeof(b) - 1, 0);
	close(fd);
	if (n <= 0)
		return 0;
	b[n] = '\0';
	v = strtol(b, NULL, 10);
	return v > 0 ? (pid_t)v : 0;
}

static int
signal_master(pid_t pid, int sig)
{
	if (kill(pid, sig) == 0)
		return 0;
	complain("cannot signal master (pid %ld): %s", (long)pid,
	    strerror(errno));
	return errno == EPERM ? EX_NOPERM : EX_UNAVAILABLE;
}

static void
no_args(int argc, const char *cmd)
{
	if (argc != 1) {
		complain("%s takes no arguments", cmd);
		exit(EX_USAGE);
	}
}

int
cmd_run(const char *confdir, int argc, char **argv)
{
	no_args(argc, argv[0]);
	master_exec(confdir, "-f");
}

/* master -d exits 0 only once it listens and has written its pid file. */
int
cmd_start(const char *confdir, int argc, char **argv)
{
	no_args(argc, argv[0]);
	master_exec(confdir, "-d");
}

int
cmd_stop(const char *confdir, int argc, char **argv)
{
	struct conf	 c;
	pid_t		 pid;
	int		 r, waited;

	no_args(argc, argv[0]);
	conf_load_or_exit(&c, confdir);
	if ((pid = master_pid(&c)) == 0) {
		say("postern is not running");
		return 0;
	}
	if ((r = signal_master(pid, SIGTERM)) != 0)
		return r;
	/* master waits up to 10 s for its children, then kills them. */
	for (waited = 0; waited < STOP_WAIT_MS; waited += STOP_TICK_MS) {
		if (master_pid(&c) != pid)
			break;
		poll(NULL, 0, STOP_TICK_MS);
	}
	if (master_pid(&c) == pid) {
		complain("master (pid %ld) did not stop within %d s",
		    (long)pid, STOP_WAIT_MS / 1000);
		return EX_TEMPFAIL;
	}
	say("postern stopped");
	return 0;
}

int
cmd_status(const char *confdir, int argc, char **argv)
{
	struct conf	 c;
	pid_t		 pid;

	no_args(argc, argv[0]);
	conf_load_or_exit(&c, confdir);
	if ((pid = master_pid(&c)) == 0) {
		say("postern is not running");
		return 3;	/* LSB: program is not running */
	}
	say("postern is running (pid %ld)", (long)pid);
	return 0;
}

/* A bad file is refused here, before master is bothered; master checks
 * again itself and keeps its running config if the file broke since. */
int
cmd_reload(const char *confdir, int argc, char **argv)
{
	struct conf	 c;
	pid_t		 pid;
	int		 r;

	no_args(argc, argv[0]);
	conf_load_or_exit(&c, confdir);
	if ((pid = master_pid(&c)) == 0) {
		complain("postern is not running");
		return EX_UNAVAILABLE;
	}
	if ((r = signal_master(pid, SIGHUP)) != 0)
		return r;
	say("postern reloading (pid %ld)", (long)pid);
	return 0;
}
