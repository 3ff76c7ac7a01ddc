/*
 * qmgr_scan.c: the queue manager's view of the spool directories.
 *
 * qmgr_recover() runs once at start: tmp/ emptied on an instance's first
 * start (-i: no enqueue can be running yet; otherwise a file in tmp/ may be a
 * message being written), active/ moved back to new/ (a previous qmgr was
 * working on those: their recipients without a recorded outcome are simply
 * delivered again), and state/ files whose queue file is gone removed (qmgr
 * unlinks the queue file first, so a crash in between leaves such orphans).
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

void
qmgr_recover(struct qmgr *q, int initial)
{
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
