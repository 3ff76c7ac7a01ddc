/*
 * spool.c: queue IDs, spool paths and the durability helpers (see spool.h).
 *
 * Used by enqueue (IDs, commit), qmgr (paths, trigger reads) and postern.
 * Every path is relative to the spool, which is the caller's cwd. Errors are
 * -1 with errno; spool_trigger() never fails (a lost wake-up costs only
 * latency: qmgr rescans new/ on its timer).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bsd/stdlib.h>

#include "spool.h"

/* Shortest ID spool_id_valid() accepts. */
#define SPOOL_ID_MIN	15

int
spool_id_make(char *out, size_t outsz, const struct timeval *tv, ino_t ino)
{
	int	 n;

	n = snprintf(out, outsz, "%09llX%05lX%llX%04X",
	    (unsigned long long)tv->tv_sec, (unsigned long)tv->tv_usec,
	    (unsigned long long)ino, arc4random_uniform(0x10000));
	if (n < 0 || (size_t)n >= outsz || n > SPOOL_ID_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* An ID becomes a file name: only [0-9A-F], so never "..", "/" or a dot. */
int
spool_id_valid(const char *id)
{
	size_t	 i;

	for (i = 0; id[i] != '\0'; i++) {
		if (i >= SPOOL_ID_MAX)
			return 0;
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'A' && id[i] <= 'F')))
			return 0;
	}
	return i >= SPOOL_ID_MIN;
}

int
spool_path(char *out, size_t outsz, const char *dir, const char *id)
{
	int	 n;

	if (!spool_id_valid(id)) {
		errno = EINVAL;
		return -1;
	}
	n = snprintf(out, outsz, "%s/%s", dir, id);
	if (n < 0 || (size_t)n >= outsz) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* A rename is durable only once its directory is on disk (see DESIGN.md,
 * the commit protocol, step 2). */
int
spool_fsync_dir(const char *dir)
{
	int	 fd, saved;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if (fsync(fd) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return close(fd);
}

void
spool_trigger(void)
{
	int	 fd, saved = errno;
	char	 c = 'W';

	/* O_NONBLOCK: ENXIO when qmgr is not reading, EAGAIN when the FIFO
	 * is full (qmgr has wake-ups pending already); both are fine. */
	fd = open(SPOOL_TRIGGER, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd != -1) {
		(void)!write(fd, &c, 1);
		close(fd);
	}
	errno = saved;
}
