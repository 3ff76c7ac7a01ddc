/*
 * qmgr_control.c: the operator's requests for messages qmgr owns.
 *
 * "postern hold" and "postern delete" act on a message in new/, deferred/
 * or hold/ themselves, with one rename() or unlink() that either wins or
 * finds the file gone (qmgr took it). A message in active/ is qmgr's: a
 * delivery is running and its outcomes are not recorded yet, so postern
 * leaves a request instead, an empty file control/ID.hold or
 * control/ID.delete (docs/protocols.md, "Operator requests"), and qmgr
 * carries it out at the next point where it alone decides where the file
 * goes:
 *
 *   qmgr_control_done()  when the pass ends (every outcome recorded):
 *                        delete wins over hold; hold of a message with no
 *                        recipient left to try is moot (it is removed as
 *                        usual)
 *   qmgr_control_take()  right after a message is moved into active/: a
 *                        request that came too late for the previous pass
 *                        (or before a restart) is not lost
 *   qmgr_control_recover()  at start: requests whose message is not in
 *                        new/ or deferred/ (gone, or held already) are
 *                        removed, like orphan state files
 *
 * The request file is removed after the action, so "postern" can wait for
 * it to disappear. Errors are warnings: a request not carried out stays
 * and is tried at the message's next pass.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bsd/string.h>

#include "log.h"
#include "spool.h"
#include "qmgr.h"

enum { REQ_NONE, REQ_HOLD, REQ_DELETE };

static int
req_path(char *out, size_t sz, const char *id, const char *what)
{
	int	 n;

	n = snprintf(out, sz, "%s/%s.%s", SPOOL_CONTROL, id, what);
	return n < 0 || (size_t)n >= sz ? -1 : 0;
}

static int
req_exists(const char *id, const char *what)
{
	char	 p[PATH_MAX];

	return req_path(p, sizeof(p), id, what) == 0 && access(p, F_OK) == 0;
}

static void
req_remove(const char *id, const char *what)
{
	char	 p[PATH_MAX];

	if (req_path(p, sizeof(p), id, what) == 0 && unlink(p) == -1 &&
	    errno != ENOENT)
		log_warn_errno("%s: unlink %s", id, p);
}

static int
req_pending(const char *id)
{
	if (req_exists(id, "delete"))
		return REQ_DELETE;
	if (req_exists(id, "hold"))
		return REQ_HOLD;
	return REQ_NONE;
}

/* active/ID is ours: carry out req. 1 done (the file left active/). */
static int
req_apply(const char *id, int req)
{
	char	 from[PATH_MAX], to[PATH_MAX];

	if (spool_path(from, sizeof(from), SPOOL_ACTIVE, id) == -1)
		return 0;
	if (req == REQ_DELETE) {
		/* Queue file first, state second, active/ synced in
		 * between (qmgr_msg.c, msg_done()). */
		if (unlink(from) == -1) {
			log_warn_errno("%s: unlink %s", id, from);
			return 0;
		}
		if (spool_fsync_dir(SPOOL_ACTIVE) == -1)
			log_warn_errno("%s: fsync %s", id, SPOOL_ACTIVE);
		else if (spool_path(to, sizeof(to), SPOOL_STATE, id) == 0 &&
		    unlink(to) == -1 && errno != ENOENT)
			log_warn_errno("%s: unlink %s", id, to);
		log_info("%s: removed by the operator (postern delete)", id);
		req_remove(id, "delete");
		req_remove(id, "hold");
		return 1;
	}
	if (spool_path(to, sizeof(to), SPOOL_HOLD, id) == -1)
		return 0;
	if (rename(from, to) == -1) {
		log_warn_errno("%s: rename %s %s", id, from, to);
		return 0;
	}
	log_info("%s: held by the operator (postern hold)", id);
	req_remove(id, "hold");
	return 1;
}

int
qmgr_control_take(const char *id)
{
	int	 req;

	if ((req = req_pending(id)) == REQ_NONE)
		return 0;
	return req_apply(id, req);
}

int
qmgr_control_done(const char *id, int unfinished)
{
	int	 req;

	if ((req = req_pending(id)) == REQ_NONE)
		return 0;
	if (req == REQ_HOLD && !unfinished) {
		/* Every recipient has its final outcome: nothing to hold,
		 * the message is removed as usual. */
		req_remove(id, "hold");
		return 0;
	}
	return req_apply(id, req);
}

void
qmgr_control_recover(void)
{
	char		 id[SPOOL_ID_MAX + 1], p[PATH_MAX], *dot;
	DIR		*d;
	struct dirent	*de;
	const char	*dirs[] = { SPOOL_NEW, SPOOL_DEFERRED };
	size_t		 i;
	int		 found;

	if ((d = opendir(SPOOL_CONTROL)) == NULL)
		return;		/* a spool from before "postern setup" made it */
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		strlcpy(id, de->d_name, sizeof(id));
		if ((dot = strchr(id, '.')) != NULL)
			*dot = '\0';
		found = 0;
		for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && !found; i++)
			found = spool_id_valid(id) &&
			    spool_path(p, sizeof(p), dirs[i], id) == 0 &&
			    access(p, F_OK) == 0;
		if (found)
			continue;	/* qmgr_control_take() will see it */
		if ((size_t)snprintf(p, sizeof(p), "%s/%s", SPOOL_CONTROL,
		    de->d_name) < sizeof(p) && unlink(p) == 0)
			log_info("removed a stale operator request %s", p);
	}
	closedir(d);
}
