/*
 * log.h: one line per event, to syslog (LOG_MAIL) or to stderr.
 *
 * log_init() is called once at the top of every main(). In the foreground
 * (the "run" mode of master and everything it starts) lines go to stderr as
 * "progname[pid]: text"; otherwise to syslog with LOG_PID. openlog() is done
 * with LOG_NDELAY so that a process that chroots afterwards keeps its
 * connection to /dev/log.
 *
 * Lines about a message start with its queue ID: "QID: to=<a>, status=sent".
 *
 * fatal(): the environment is wrong (missing file, bad config, no memory);
 *          the operator must act. Logs and exits with EX_TEMPFAIL (75) unless
 *          fatal_exit_code was changed by the program.
 * panic(): an invariant of the code is broken (a bug); logs which one and
 *          abort()s so a core is left.
 */
#ifndef POSTERN_LOG_H
#define POSTERN_LOG_H

#include <stdarg.h>

extern int	fatal_exit_code;

void	log_init(const char *progname, int to_stderr);
int	log_to_stderr(void);		/* what log_init() chose */
const char *log_progname(void);
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	panic(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
/* like fatal()/log_warn() with ": strerror(errno)" appended */
void	fatal_errno(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	log_warn_errno(const char *, ...)
	    __attribute__((format(printf, 1, 2)));

/*
 * The environment variable by which master tells its children to log to
 * stderr (set to "1") when it runs in the foreground.
 */
#define LOG_STDERR_ENV	"POSTERN_LOG_STDERR"

#endif
