/*
 * log.c: one line per event, to syslog (LOG_MAIL) or to stderr (see log.h).
 *
 * Called by every program. Logging never fails loudly: a line that cannot be
 * written is lost, since there is nowhere else to report it. fatal() exits
 * with fatal_exit_code (EX_TEMPFAIL by default: the operator must act, and a
 * caller such as sendmail(1)'s user retries later); panic() abort()s.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <bsd/string.h>

#include "log.h"

#define LOG_LINE_MAX	2048		/* one stderr line, LF included */

int		 fatal_exit_code = 75;	/* EX_TEMPFAIL, sysexits.h */

static const char *progname = "postern";
static int	 use_stderr = 1;	/* before log_init(): stderr */

void
log_init(const char *name, int to_stderr)
{
	const char *e;

	if (name != NULL && *name != '\0')
		progname = name;
	e = getenv(LOG_STDERR_ENV);
	use_stderr = to_stderr || (e != NULL && strcmp(e, "1") == 0);
	if (!use_stderr)
		/* LOG_NDELAY: connect to /dev/log now, before any chroot. */
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

int
log_to_stderr(void)
{
	return use_stderr;
}

const char *
log_progname(void)
{
	return progname;
}

/*
 * Format one line and emit it. Control characters become '?' so that text
 * a client chose (a HELO name, an address) cannot forge extra log lines.
 */
static void	log_emit(int, const char *, int, const char *, va_list)
		    __attribute__((format(printf, 4, 0)));

static void
log_emit(int prio, const char *prefix, int errnum, const char *fmt,
    va_list ap)
{
	/* One buffer, not one for the text and one for the line: a forked
	 * child pays a copy-on-write fault for each page of stack it
	 * reaches, and two of these took one page more. */
	char	 line[LOG_LINE_MAX];
	size_t	 start = 0, end = sizeof(line), i;
	int	 n, saved = errno;

	if (use_stderr) {
		end = sizeof(line) - 1;		/* room for the LF */
		n = snprintf(line, sizeof(line), "%s[%ld]: %s", progname,
		    (long)getpid(), prefix);
		if (n < 0 || (size_t)n >= end)
			goto out;
		start = (size_t)n;
	}
	/* Truncated text still makes one line. */
	n = vsnprintf(line + start, end - start, fmt, ap);
	if (n < 0)
		strlcpy(line + start, "(log format error)", end - start);
	if (errnum != 0) {
		strlcat(line, ": ", end);
		strlcat(line, strerror(errnum), end);
	}
	for (i = start; line[i] != '\0'; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';

	if (use_stderr) {
		line[i++] = '\n';
		/* One write(2): lines from concurrent children do not mix. */
		(void)!write(STDERR_FILENO, line, i);
	} else
		syslog(prio, "%s%s", prefix, line);
out:
	errno = saved;
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_INFO, "", 0, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_WARNING, "warning: ", 0, fmt, ap);
	va_end(ap);
}

void
log_warn_errno(const char *fmt, ...)
{
	va_list	 ap;
	int	 e = errno;

	va_start(ap, fmt);
	log_emit(LOG_WARNING, "warning: ", e, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;
	const char *e = getenv("POSTERN_DEBUG");

	if (e == NULL || strcmp(e, "1") != 0)
		return;
	va_start(ap, fmt);
	log_emit(LOG_DEBUG, "debug: ", 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, "fatal: ", 0, fmt, ap);
	va_end(ap);
	exit(fatal_exit_code);
}

void
fatal_errno(const char *fmt, ...)
{
	va_list	 ap;
	int	 e = errno;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, "fatal: ", e, fmt, ap);
	va_end(ap);
	exit(fatal_exit_code);
}

void
panic(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, "panic: ", 0, fmt, ap);
	va_end(ap);
	abort();
}
