/*
 * pipe.c: delivery to a command, for "|command" aliases (pipe.h).
 *
 * The command line is the operator's (the aliases table); the envelope
 * only ever reaches the command as environment values, never as part of
 * the line, so no sender or recipient, however odd, is ever parsed by a
 * shell. A line without shell metacharacters is split at blanks and run
 * with execve() directly: no /bin/sh between us and the program, as
 * Postfix's pipe(8) does it. Only a line that asks for a shell (a
 * redirection, a pipe, a variable, a quote, a glob...) gets "/bin/sh -c".
 *
 * The program's stdin is a private copy of the message (a memfd), with
 * Return-Path: and Delivered-To: first (Postfix's pipe flags R and D):
 * never the queue file, whose envelope names the other recipients.
 * stdout and stderr go to one pipe, of which the first PIPE_OUTPUT_MAX
 * bytes are kept: the first line becomes the reason text of a failure.
 * The program runs in a process group of its own, killed whole at the
 * timeout, and dies with us (PR_SET_PDEATHSIG) if lspawn kills us first.
 *
 * Exit status, sysexits.h (the table below). As Postfix's local(8):
 * EX_TEMPFAIL and EX_OSERR are temporary. Unlike Postfix, and like
 * sendmail, EX_IOERR and EX_CANTCREAT are temporary too: an I/O error or
 * a file that cannot be created now is most often a full or sick disk,
 * and a retry loses nothing (the message bounces at expiry if it never
 * clears). Anything else non-zero is permanent.
 */
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
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
#include <bsd/string.h>
#include <bsd/unistd.h>

#include "addr.h"
#include "pipe.h"

#define PIPE_COPY_BUF	65536
#define PIPE_SHELL	"/bin/sh"
#define PIPE_NOEXEC	127	/* the shell's "command not found" */

/* Bytes that mean something to sh(1): any of them, and the line is the
 * shell's to parse. Blanks separate words either way. */
#define PIPE_SHELL_CHARS "|&;<>()$`\\\"'*?[]{}#~=!%\n\r"

static const struct {
	int		 code;
	char		 status;
	const char	*dsn;
	const char	*text;
} pipe_exits[] = {
	{ EX_USAGE,	  'D', "5.3.0", "command line usage error" },
	{ EX_DATAERR,	  'D', "5.6.0", "data format error" },
	{ EX_NOINPUT,	  'D', "5.3.0", "cannot open input" },
	{ EX_NOUSER,	  'D', "5.1.1", "user unknown" },
	{ EX_NOHOST,	  'D', "5.1.2", "host name unknown" },
	{ EX_UNAVAILABLE, 'D', "5.3.0", "service unavailable" },
	{ EX_SOFTWARE,	  'D', "5.3.0", "internal software error" },
	{ EX_OSERR,	  'Z', "4.3.0", "system resource problem" },
	{ EX_OSFILE,	  'D', "5.3.0", "critical OS file missing" },
	{ EX_CANTCREAT,	  'Z', "4.2.0", "cannot create output file" },
	{ EX_IOERR,	  'Z', "4.3.0", "input/output error" },
	{ EX_TEMPFAIL,	  'Z', "4.3.0", "temporary failure" },
	{ EX_PROTOCOL,	  'D', "5.5.0", "remote error in protocol" },
	{ EX_NOPERM,	  'D', "5.7.0", "permission denied" },
	{ EX_CONFIG,	  'D', "5.3.5", "local configuration error" },
};

int
pipe_needs_shell(const char *command)
{
	return command[strcspn(command, PIPE_SHELL_CHARS)] != '\0';
}

/* "NAME=value" in fresh memory; NULL when out of memory. */
static char *
pipe_env(const char *name, const char *value, size_t vlen)
{
	size_t n = strlen(name) + vlen + 2;
	char *s;

	if ((s = malloc(n)) == NULL)
		return NULL;
	snprintf(s, n, "%s=%.*s", name, (int)vlen, value);
	return s;
}

/* The message, with the two delivery headers first, in a memfd at 0. */
static int
pipe_message(int msgfd, off_t size, const char *hdr, size_t hlen)
{
	char *b;
	off_t left = size;
	ssize_t n;
	int m;

	if ((m = memfd_create("postern-pipe", MFD_CLOEXEC)) == -1)
		return -1;
	if ((b = malloc(PIPE_COPY_BUF)) == NULL)
		goto fail;
	if (write(m, hdr, hlen) != (ssize_t)hlen)
		goto fail;
	while (left > 0) {
		n = read(msgfd, b, left > PIPE_COPY_BUF ? PIPE_COPY_BUF :
		    (size_t)left);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EPIPE;
			goto fail;
		}
		if (write(m, b, (size_t)n) != n)
			goto fail;
		left -= n;
	}
	free(b);
	if (lseek(m, 0, SEEK_SET) == -1) {
		close(m);
		return -1;
	}
	return m;
fail:
	free(b);
	close(m);
	return -1;
}

/* The program: never returns. Its own process group, default signals,
 * fds 0-2 only, then execve(). */
static void __attribute__((noreturn))
pipe_exec(int in, int out, char *const argv[], char *const envp[],
    const char *home)
{
	static const char *const dirs[] = { "/usr/bin/", "/bin/" };
	char path[PATH_MAX], msg[PATH_MAX + 128];
	struct sigaction sa;
	sigset_t none;
	size_t i;
	int sig, n;

	setpgid(0, 0);
	/* If lspawn kills our parent at its own deadline, go with it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	/* An ignored signal would stay ignored across execve(). */
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(in, 0) == -1 || dup2(out, 1) == -1 || dup2(out, 2) == -1)
		_exit(EX_OSERR);
	closefrom(3);
	if (chdir(home) == -1 && chdir("/") == -1)
		_exit(EX_OSERR);
	if (strchr(argv[0], '/') != NULL)
		execve(argv[0], argv, envp);
	else
		for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
			snprintf(path, sizeof(path), "%s%s", dirs[i], argv[0]);
			execve(path, argv, envp);
		}
	n = snprintf(msg, sizeof(msg), "cannot run %s: %s\n", argv[0],
	    strerror(errno));
	if (n > 0)
		(void)!write(1, msg, (size_t)n);
	_exit(PIPE_NOEXEC);
}

static long long
pipe_ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(deadline->tv_sec - now.tv_sec) * 1000 +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/* The reason: the table's text, then the program's first line. */
static void
pipe_result(int status, const char *output, struct outcome *o)
{
	char first[256];
	size_t i, n = strcspn(output, "\n");
	int code;

	if (n >= sizeof(first))
		n = sizeof(first) - 1;
	memcpy(first, output, n);
	first[n] = '\0';
	if (WIFSIGNALED(status)) {
		outcome_set(o, 'Z', "4.3.0", "command killed by signal %d%s%s",
		    WTERMSIG(status), n ? ": " : "", first);
		return;
	}
	if ((code = WEXITSTATUS(status)) == 0) {
		outcome_set(o, 'K', "2.0.0", "delivered to command");
		return;
	}
	for (i = 0; i < sizeof(pipe_exits) / sizeof(pipe_exits[0]); i++)
		if (pipe_exits[i].code == code) {
			outcome_set(o, pipe_exits[i].status, pipe_exits[i].dsn,
			    "%s (exit %d)%s%s", pipe_exits[i].text, code,
			    n ? ": " : "", first);
			return;
		}
	outcome_set(o, 'D', "5.3.0", "command failed (exit %d)%s%s", code,
	    n ? ": " : "", first);
}

int
pipe_deliver(int msgfd, off_t size, const char *sender,
    const char *recipient, const char *command, const struct pipe_how *how,
    struct outcome *o)
{
	char *argv[PIPE_ARGV_MAX + 1], *envp[16], *line = NULL, *p;
	char hdr[2 * ADDR_TEXT_MAX + 64], output[PIPE_OUTPUT_MAX + 1];
	const char *at, *local, *ext;
	size_t argc = 0, envc = 0, outlen = 0, llen, i;
	struct timespec deadline;
	struct pollfd pfd;
	long long ms;
	ssize_t n;
	pid_t pid;
	int in = -1, fds[2] = { -1, -1 }, status = 0, timedout = 0, rc = -1;

	for (p = (char *)sender; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			break;
	n = snprintf(hdr, sizeof(hdr), "Return-Path: <%s>\nDelivered-To: "
	    "<%s>\n", sender, recipient);
	if (*p != '\0' || n < 0 || (size_t)n >= sizeof(hdr)) {
		outcome_set(o, 'D', "5.3.0", "bad envelope address");
		return -1;
	}
	/* argv: the shell's, or the line's own words. */
	if ((line = strdup(command)) == NULL)
		goto oom;
	if (pipe_needs_shell(command)) {
		argv[argc++] = (char *)"sh";
		argv[argc++] = (char *)"-c";
		argv[argc++] = line;
	} else {
		for (p = strtok(line, " \t"); p != NULL; p = strtok(NULL, " \t")) {
			if (argc == PIPE_ARGV_MAX) {
				outcome_set(o, 'D', "5.3.5", "command has more "
				    "than %d words", PIPE_ARGV_MAX);
				goto out;
			}
			argv[argc++] = p;
		}
		if (argc == 0) {
			outcome_set(o, 'D', "5.3.5", "empty command");
			goto out;
		}
	}
	argv[argc] = NULL;

	/* The environment: fixed names, values from the envelope only. */
	at = strrchr(recipient, '@');
	llen = at != NULL ? (size_t)(at - recipient) : strlen(recipient);
	local = recipient;
	i = how->delimiter[0] != '\0' ? strcspn(local, how->delimiter) : llen;
	ext = i < llen ? local + i + 1 : local + llen;
	if ((envp[envc++] = strdup("PATH=/usr/bin:/bin")) == NULL ||
	    (envp[envc++] = pipe_env("HOME", how->home, strlen(how->home))) == NULL ||
	    (envp[envc++] = pipe_env("USER", how->user, strlen(how->user))) == NULL ||
	    (envp[envc++] = pipe_env("LOGNAME", how->user, strlen(how->user))) == NULL ||
	    (envp[envc++] = pipe_env("SHELL", how->shell, strlen(how->shell))) == NULL ||
	    (envp[envc++] = pipe_env("SENDER", sender, strlen(sender))) == NULL ||
	    (envp[envc++] = pipe_env("RECIPIENT", recipient, strlen(recipient))) == NULL ||
	    (envp[envc++] = pipe_env("ORIGINAL_RECIPIENT", recipient, strlen(recipient))) == NULL ||
	    (envp[envc++] = pipe_env("LOCAL", local, llen)) == NULL ||
	    (envp[envc++] = pipe_env("DOMAIN", at != NULL ? at + 1 : "",
	    at != NULL ? strlen(at + 1) : 0)) == NULL ||
	    (envp[envc++] = pipe_env("EXTENSION", ext,
	    (size_t)(local + llen - ext))) == NULL)
		goto oom;
	envp[envc] = NULL;

	if ((in = pipe_message(msgfd, size, hdr, (size_t)n)) == -1) {
		if (errno == EPIPE)
			outcome_set(o, 'Z', "4.3.0", "short message");
		else
			outcome_set(o, 'Z', "4.3.0", "message copy: %s",
			    strerror(errno));
		goto out;
	}
	if (pipe2(fds, O_CLOEXEC) == -1 || (pid = fork()) == -1) {
		outcome_set(o, 'Z', "4.3.0", "cannot start command: %s",
		    strerror(errno));
		goto out;
	}
	if (pid == 0)
		pipe_exec(in, fds[1], pipe_needs_shell(command) ?
		    (char *const[]){ (char *)PIPE_SHELL, argv[1], argv[2],
		    NULL } : argv, envp, how->home);
	setpgid(pid, pid);	/* also here: the kill must find the group */
	close(fds[1]);
	fds[1] = -1;
	close(in);
	in = -1;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += how->timeout_seconds;
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	/* Output until EOF (bounded; the rest is read and dropped so the
	 * program never blocks on a full pipe), then the exit. */
	while (fds[0] != -1 && (ms = pipe_ms_left(&deadline)) > 0) {
		char junk[4096];

		if (poll(&pfd, 1, ms > INT_MAX ? INT_MAX : (int)ms) <= 0)
			continue;
		if (outlen < PIPE_OUTPUT_MAX)
			n = read(fds[0], output + outlen,
			    PIPE_OUTPUT_MAX - outlen);
		else
			n = read(fds[0], junk, sizeof(junk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fds[0]);
			fds[0] = -1;
		} else if (outlen < PIPE_OUTPUT_MAX)
			outlen += (size_t)n;
	}
	output[outlen] = '\0';
	for (;;) {
		struct timespec pause = { 0, 10 * 1000 * 1000 };
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid || (w == -1 && errno != EINTR))
			break;
		if (pipe_ms_left(&deadline) <= 0) {
			timedout = 1;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
				;
			break;
		}
		nanosleep(&pause, NULL);
	}
	/* Whatever the program left running in its group goes too. */
	kill(-pid, SIGKILL);
	if (timedout)
		outcome_set(o, 'Z', "4.3.0", "command timed out after %d "
		    "seconds", how->timeout_seconds);
	else
		pipe_result(status, output, o);
	rc = o->status == 'K' ? 0 : -1;
	goto out;
oom:
	outcome_set(o, 'Z', "4.3.0", "out of memory");
out:
	if (in != -1)
		close(in);
	if (fds[0] != -1)
		close(fds[0]);
	if (fds[1] != -1)
		close(fds[1]);
	for (i = 0; i < envc; i++)
		free(envp[i]);
	free(line);
	return rc;
}
