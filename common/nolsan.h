/*
 * nolsan.h: included ONCE by the main file of each program that ends its
 * life inside a chroot (smtpd, sessiond's session children, resolve,
 * rspawn and its clients). There is no /proc in the jail, and
 * LeakSanitizer, which reads /proc/PID/task at exit, would die with an
 * error of its own instead of checking anything. Leaks in those programs'
 * code are found by the unit tests, which run outside any chroot. The
 * hook must be defined in the executable itself, hence a header.
 */
#ifndef POSTERN_NOLSAN_H
#define POSTERN_NOLSAN_H

#ifdef __SANITIZE_ADDRESS__
const char *__lsan_default_options(void);
const char *
__lsan_default_options(void)
{
	return "detect_leaks=0";
}
#endif

#endif
