/*
 * qmgr_scan.c: the queue manager's view of the spool directories.
 *
 * qmgr_recover() runs once at start: tmp/ emptied on an instance's first
 * start (-i) of the files older than this qmgr (otherwise a file in tmp/ may
 * be a message being written: master forks qmgr before it hands any
 * connection on, but sessiond's enqueue can reach its first DATA before
 * this qmgr reaches this scan, so "older than our fork" is the test),
 * active/ moved back to new/ (a previous qmgr was working on those: their
 * recipients without a recorded outcome are simply delivered again), and
 * state/ files whose queue file is gone removed (qmgr unlinks the queue
 * file first, so a crash in between leaves such orphans).
 *
 * qmgr_scan_new() and qmgr_scan_deferred() take messages into active/ until
 * qmgr_message_active_limit is reached, then set q->backlog so the main loop
 * scans again when room is made. A deferred file's mtime is its next attempt
 * time (qmgr_retry.c sets it); the deferred scan takes the files due now and
 * remembers the earliest time among the others in q->next_due.
 *
 * A name that is not a queue ID is never parsed: it goes to corrupt/, where
 * nothing is ever deleted (DESIGN.md: the spool). Errors are warnings: a scan
 * that fails is tried again at the next rescan.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"
#include "qmgr.h"

static int	 path_join(char *out, size_t sz, const char *dir,
		    const char *name);
static int	 dot_name(const char *);
static int	 exists_somewhere(const char *id);
static int	 at_limit(struct qmgr *);

static int
path_join(char *out, size_t sz, const char *dir, const char *name)
{
	int	 n;

	n = snprintf(out, sz, "%s/%s", dir, name);
	return n < 0 || (size_t)n >= sz ? -1 : 0;
}

static int
dot_name(const char *s)
{
	return strcmp(s, ".") == 0 || strcmp(s, "..") == 0;
}

/* Is the queue file of id in any directory where it still has a future? */
static int
exists_somewhere(const char *id)
{
	static const char *const dirs[] = { SPOOL_NEW, SPOOL_ACTIVE,
	    SPOOL_DEFERRED, SPOOL_HOLD };
	char	 path[PATH_MAX];
	size_t	 i;
	struct stat st;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (spool_path(path, sizeof(path), dirs[i], id) == -1)
			return 1;	/* cannot tell: keep the state */
		if (lstat(path, &st) == 0 || errno != ENOENT)
			return 1;
	}
	return 0;
}

static int
at_limit(struct qmgr *q)
{
	if (q->nactive < (size_t)q->conf.qmgr_message_active_limit)
		return 0;
	q->backlog = 1;
	return 1;
}

/*
 * Move dir/name to corrupt/name, never over an existing file: link() fails
 * with EEXIST where rename() would silently replace evidence. A clash gets a
 * ".N" suffix. Nothing in corrupt/ is ever deleted by Postern.
 */
void
qmgr_corrupt(const char *dir, const char *name, const char *why)
{
	char	 from[PATH_MAX], to[PATH_MAX], sfx[PATH_MAX];
	int	 i;

	if (path_join(from, sizeof(from), dir, name) == -1 ||
	    path_join(to, sizeof(to), SPOOL_CORRUPT, name) == -1) {
		log_warn("%s/%s: name too long to move to %s/", dir, name,
		    SPOOL_CORRUPT);
		return;
	}
	for (i = 0; i < 10; i++) {
		if (i > 0 && (snprintf(sfx, sizeof(sfx), "%s.%d", to, i) < 0 ||
		    strlen(sfx) <= strlen(to)))
			break;
		if (link(from, i == 0 ? to : sfx) == 0) {
			if (unlink(from) == -1)
				log_warn_errno("unlink %s", from);
			log_warn("%s: corrupt queue file moved to %s/: %s",
			    name, SPOOL_CORRUPT, why);
			return;
		}
		if (errno != EEXIST)
			break;
	}
	log_warn_errno("%s: cannot move %s to %s/ (%s)", name, from,
	    SPOOL_CORRUPT, why);
}

/*
 * When master forked us, on the wall clock, rounded down (to the kernel's
 * clock tick): /proc/self/stat's starttime is in ticks since boot. 0 when
 * it cannot be read (then tmp/ is left alone: a stale file there costs
 * only its space, a removed live one costs a message).
 */
static time_t
qmgr_forked_at(void)
{
	struct timespec	 real, boot;
	char		 buf[1024], *p;
	unsigned long long ticks;
	long		 hz = sysconf(_SC_CLK_TCK);
	FILE		*f;
	size_t		 n;
	int		 i;

	if (hz <= 0 || (f = fopen("/proc/self/stat", "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return 0;
	/* After "pid (comm)": state is field 3, starttime field 22. */
	for (i = 2; i < 22 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p + 1, "%llu", &ticks) != 1)
		return 0;
	clock_gettime(CLOCK_REALTIME, &real);
	clock_gettime(CLOCK_BOOTTIME, &boot);
	return real.tv_sec - boot.tv_sec + (time_t)(ticks / (unsigned long)hz) -
	    1;
}

void
qmgr_recover(struct qmgr *q, int initial)
{
	struct stat	 st;
	time_t		 forked = initial ? qmgr_forked_at() : 0;
	char		 from[PATH_MAX], to[PATH_MAX];
	DIR		*d;
	struct dirent	*de;
	size_t		 moved = 0, orphans = 0;

	if (initial) {
		if ((d = opendir(SPOOL_TMP)) == NULL)
			log_warn_errno("opendir %s", SPOOL_TMP);
		else {
			while ((de = readdir(d)) != NULL) {
				if (dot_name(de->d_name) ||
				    path_join(from, sizeof(from), SPOOL_TMP,
				    de->d_name) == -1)
					continue;
				/* A file of this instance's enqueue. */
				if (lstat(from, &st) == -1 ||
				    st.st_mtime >= forked)
					continue;
				if (unlink(from) == -1)
					log_warn_errno("unlink %s", from);
			}
			closedir(d);
		}
	}

	if ((d = opendir(SPOOL_ACTIVE)) == NULL)
		fatal_errno("opendir %s", SPOOL_ACTIVE);
	while ((de = readdir(d)) != NULL) {
		if (dot_name(de->d_name) ||
		    path_join(from, sizeof(from), SPOOL_ACTIVE,
		    de->d_name) == -1 ||
		    path_join(to, sizeof(to), SPOOL_NEW, de->d_name) == -1)
			continue;
		if (rename(from, to) == -1)
			log_warn_errno("rename %s %s", from, to);
		else
			moved++;
	}
	closedir(d);

	qmgr_control_recover();
	if ((d = opendir(SPOOL_STATE)) == NULL)
		log_warn_errno("opendir %s", SPOOL_STATE);
	else {
		while ((de = readdir(d)) != NULL) {
			if (!spool_id_valid(de->d_name) ||
			    exists_somewhere(de->d_name) ||
			    spool_path(from, sizeof(from), SPOOL_STATE,
			    de->d_name) == -1)
				continue;
			if (unlink(from) == -1)
				log_warn_errno("unlink %s", from);
			else
				orphans++;
		}
		closedir(d);
	}
	if (moved > 0 || orphans > 0)
		log_info("recovered: %zu message(s) from %s/ back to %s/, "
		    "%zu orphan state file(s) removed", moved, SPOOL_ACTIVE,
		    SPOOL_NEW, orphans);
	(void)q;
}

void
qmgr_scan_new(struct qmgr *q)
{
	DIR		*d;
	struct dirent	*de;

	if (at_limit(q))
		return;
	if ((d = opendir(SPOOL_NEW)) == NULL) {
		log_warn_errno("opendir %s", SPOOL_NEW);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (dot_name(de->d_name))
			continue;
		if (!spool_id_valid(de->d_name)) {
			qmgr_corrupt(SPOOL_NEW, de->d_name,
			    "name is not a queue ID");
			continue;
		}
		if (at_limit(q))
			break;
		qmgr_msg_take(q, SPOOL_NEW, de->d_name);
	}
	closedir(d);
}

void
qmgr_scan_deferred(struct qmgr *q, time_t now)
{
	char		 path[PATH_MAX];
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;

	/* Recomputed below from the files still waiting. */
	q->next_due = 0;
	if ((d = opendir(SPOOL_DEFERRED)) == NULL) {
		log_warn_errno("opendir %s", SPOOL_DEFERRED);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (dot_name(de->d_name))
			continue;
		if (!spool_id_valid(de->d_name)) {
			qmgr_corrupt(SPOOL_DEFERRED, de->d_name,
			    "name is not a queue ID");
			continue;
		}
		if (spool_path(path, sizeof(path), SPOOL_DEFERRED,
		    de->d_name) == -1 || stat(path, &st) == -1)
			continue;	/* gone meanwhile (postern delete) */
		if (st.st_mtime > now) {
			if (q->next_due == 0 || st.st_mtime < q->next_due)
				q->next_due = st.st_mtime;
			continue;
		}
		/* Due; once at the limit, the rest wait for q->backlog. */
		if (at_limit(q))
			break;
		qmgr_msg_take(q, SPOOL_DEFERRED, de->d_name);
	}
	closedir(d);
}
