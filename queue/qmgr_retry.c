/*
 * qmgr_retry.c: when a message that is not finished is tried again.
 *
 * The schedule has no table: the next attempt comes after a delay equal to
 * the message's age, clamped to [queue_retry_min_seconds,
 * queue_retry_max_seconds]. Each attempt therefore roughly doubles the age
 * at the next one (5 min, 10, 20, 40 ... with the defaults) until the delay
 * reaches the maximum, after which the message is tried every
 * queue_retry_max_seconds.
 *
 * The next attempt time is stored as the mtime of deferred/ID, so the spool
 * itself is the schedule: nothing is lost by a restart and "postern flush"
 * only needs to touch the files. The mtime is set while the file is still in
 * active/, then the file is renamed: a file in deferred/ always carries its
 * time. A failure leaves the file in active/ (back to new/ at the next
 * start) or with an old mtime (tried at the next scan): never lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "spool.h"
#include "qmgr.h"

time_t
qmgr_retry_delay(const struct conf *c, time_t now, long long arrival)
{
	long long	 age = (long long)now - arrival;

	if (age < c->queue_retry_min_seconds)
		age = c->queue_retry_min_seconds;
	if (age > c->queue_retry_max_seconds)
		age = c->queue_retry_max_seconds;
	return (time_t)age;
}

/* active/ID -> deferred/ID, next attempt at when. */
void
qmgr_retry_defer(struct qmgr *q, const char *id, time_t when)
{
	char		 from[PATH_MAX], to[PATH_MAX];
	struct timespec	 ts[2];

	if (spool_path(from, sizeof(from), SPOOL_ACTIVE, id) == -1 ||
	    spool_path(to, sizeof(to), SPOOL_DEFERRED, id) == -1)
		return;
	ts[0].tv_sec = ts[1].tv_sec = when;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (utimensat(AT_FDCWD, from, ts, 0) == -1)
		log_warn_errno("%s: cannot set the retry time of %s", id,
		    from);
	if (rename(from, to) == -1) {
		log_warn_errno("%s: rename %s %s", id, from, to);
		return;
	}
	if (q->next_due == 0 || when < q->next_due)
		q->next_due = when;
	log_info("%s: deferred, next attempt in %lld seconds", id,
	    (long long)(when - time(NULL)));
}
