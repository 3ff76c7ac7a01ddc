/*
 * queue_ops.c: "postern flush", "hold", "release", "delete", "requeue".
 *
 * Each operation on a message is one rename() or unlink() in the spool,
 * which either wins or finds the file gone because qmgr took it meanwhile;
 * then we look again. qmgr owns active/: a message being delivered is never
 * touched here. For hold and delete of such a message we leave a request,
 * control/ID.hold or control/ID.delete, which qmgr carries out once the
 * outcomes of the attempt in progress are recorded (queue/qmgr_control.c,
 * docs/protocols.md "Operator requests"), and wait up to --wait seconds for
 * it to disappear. Whatever we create is given to queue_user when we run
 * as root; rename() keeps owners and modes.
 *
 *   hold     new/ or deferred/ -> hold/ (active/: request)
 *   release  hold/ -> new/, then wake qmgr
 *   delete   unlink dir/ID, then state/ID (active/: request)
 *   requeue  deferred/ -> new/, then wake qmgr: tried at once; state/ID is
 *            kept, so recipients already delivered are not delivered again
 *   flush    every deferred/ file's mtime (its next attempt time) set to
 *            now, then qmgr woken with 'F' (scan deferred/ too)
 *
 * Exit: 0; 1 a named message is not in the queue or not in a state the
 * operation applies to; 64 usage; 69 / 77 the spool cannot be entered.
 */
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "qlist.h"
#include "spool.h"
#include "postern.h"
#include "queue.h"

#define LOOK_TRIES	3	/* a message moving while we look */
#define POLL_MS		50

enum op { OP_HOLD, OP_RELEASE, OP_DELETE, OP_REQUEUE };

static const char *const op_name[] = { "hold", "release", "delete",
    "requeue" };

struct ctx {
	const struct conf *c;
	uid_t		 uid;		/* queue_user, when we are root */
	gid_t		 gid;
	int		 root;
	long long	 wait;
	int		 woke;		/* qmgr must be woken at the end */
};

/* Where is id now? SPOOL_* or NULL. active/ last: new/ and deferred/
 * files move there, so a message is not missed while qmgr takes it. */
static const char *
locate(const char *id)
{
	static const char *const dirs[] = { SPOOL_NEW, SPOOL_DEFERRED,
	    SPOOL_HOLD, SPOOL_ACTIVE };
	char		 p[PATH_MAX];
	struct stat	 st;
	size_t		 i;
	int		 t;

	/* A file leaving active/ (for deferred/, new/ or hold/) can slip
	 * past one look; three in a row would need three such races. */
	for (t = 0; t < LOOK_TRIES; t++)
		for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
			if (spool_path(p, sizeof(p), dirs[i], id) == 0 &&
			    lstat(p, &st) == 0)
				return dirs[i];
	return NULL;
}

static int
move(const char *id, const char *from, const char *to)
{
	char	 a[PATH_MAX], b[PATH_MAX];

	if (spool_path(a, sizeof(a), from, id) == -1 ||
	    spool_path(b, sizeof(b), to, id) == -1)
		return -1;
	return rename(a, b);
}

/* Queue file first, state file second, as qmgr does, with the queue
 * file's directory synced in between so that the order holds on disk
 * (tests/faults/README.md): a crash in between leaves an orphan state
 * file (removed at qmgr's start), never a queue file that forgot what was
 * delivered. When the sync fails, the state file stays for qmgr. */
static int
remove_msg(const char *id, const char *dir)
{
	char	 p[PATH_MAX];

	if (spool_path(p, sizeof(p), dir, id) == -1 || unlink(p) == -1)
		return -1;
	if (spool_fsync_dir(dir) == -1) {
		complain("%s: fsync %s: %s", id, dir, strerror(errno));
		return 0;
	}
	if (spool_path(p, sizeof(p), SPOOL_STATE, id) == 0 &&
	    unlink(p) == -1 && errno != ENOENT)
		complain("%s: %s: %s", id, p, strerror(errno));
	return 0;
}

/* One byte into the trigger FIFO: 'F' makes qmgr scan deferred/ as well
 * as new/ (docs/protocols.md). */
static void
wake_qmgr(void)
{
	int	 fd;

	fd = open(SPOOL_TRIGGER, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENXIO)
			say("qmgr is not running: it will see the queue when "
			    "it starts");
		return;
	}
	(void)!write(fd, "F", 1);
	close(fd);
}

static int
req_path(char *out, size_t sz, const char *id, enum op op)
{
	return (size_t)snprintf(out, sz, "%s/%s.%s", SPOOL_CONTROL, id,
	    op_name[op]) >= sz ? -1 : 0;
}

/* control/ID.OP, owned by queue_user (qmgr removes it). 0 or -1. */
static int
req_create(struct ctx *x, const char *id, enum op op)
{
	char	 p[PATH_MAX];
	int	 fd;

	if (mkdir(SPOOL_CONTROL, 0700) == 0) {
		/* A spool set up before control/ existed. */
		if (x->root && chown(SPOOL_CONTROL, x->uid, x->gid) == -1) {
			complain("chown %s: %s", SPOOL_CONTROL,
			    strerror(errno));
			return -1;
		}
	} else if (errno != EEXIST) {
		complain("mkdir %s: %s", SPOOL_CONTROL, strerror(errno));
		return -1;
	}
	if (req_path(p, sizeof(p), id, op) == -1)
		return -1;
	fd = open(p, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1 || (x->root && fchown(fd, x->uid, x->gid) == -1)) {
		complain("%s: %s", p, strerror(errno));
		if (fd != -1) {
			close(fd);
			unlink(p);
		}
		return -1;
	}
	close(fd);
	return 0;
}

static long long
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * id is in active/: ask qmgr, wait for the answer. 0 done or requested,
 * 1 "look again" (the message left active/ before qmgr saw the request).
 */
static int
request(struct ctx *x, const char *id, enum op op)
{
	char		 p[PATH_MAX], a[PATH_MAX];
	long long	 deadline;
	const char	*where;

	if (req_create(x, id, op) == -1 || req_path(p, sizeof(p), id, op) ==
	    -1 || spool_path(a, sizeof(a), SPOOL_ACTIVE, id) == -1)
		return 0;
	deadline = now_ms() + x->wait * 1000;
	for (;;) {
		if (access(p, F_OK) == -1 &&
		    ((where = locate(id)) == NULL ||
		    strcmp(where, SPOOL_ACTIVE) != 0)) {
			/* qmgr carried it out and removed the request (a
			 * hold of a message with nothing left to deliver is
			 * dropped, and the message removed as usual). */
			if (where == NULL)
				say("%s: %s", id, op == OP_DELETE ?
				    "deleted after the delivery in progress" :
				    "delivered meanwhile, nothing to hold");
			else if (op == OP_HOLD &&
			    strcmp(where, SPOOL_HOLD) == 0)
				say("%s: held after the delivery in progress",
				    id);
			else
				return 1;	/* look again */
			return 0;
		}
		if (access(a, F_OK) == -1) {
			/* Left active/ without seeing the request (or just
			 * before removing it): withdraw it and look again. */
			if (unlink(p) == -1 && errno == ENOENT)
				continue;	/* qmgr removed it: done */
			return 1;
		}
		if (now_ms() >= deadline)
			break;
		poll(NULL, 0, POLL_MS);
	}
	say("%s: %s requested, takes effect after the delivery in progress",
	    id, op_name[op]);
	return 0;
}

/* 0 done (or nothing to do), 1 not found or not applicable. */
static int
op_one(struct ctx *x, const char *id, enum op op)
{
	const char	*where;
	int		 asked = 0;

	for (;;) {
		if ((where = locate(id)) == NULL) {
			if (asked && op == OP_DELETE) {
				say("%s: deleted after the delivery in "
				    "progress", id);
				return 0;
			}
			complain("%s: no such message in the queue", id);
			return 1;
		}
		if (strcmp(where, SPOOL_ACTIVE) == 0) {
			if (op == OP_REQUEUE) {
				say("%s: being delivered now", id);
				return 0;
			}
			if (op == OP_RELEASE) {
				complain("%s: not on hold (being delivered)",
				    id);
				return 1;
			}
			asked = 1;
			if (request(x, id, op) == 0)
				return 0;
			continue;
		}
		switch (op) {
		case OP_HOLD:
			if (strcmp(where, SPOOL_HOLD) == 0) {
				say("%s: already on hold", id);
				return 0;
			}
			if (move(id, where, SPOOL_HOLD) == 0) {
				say("%s: held", id);
				return 0;
			}
			break;
		case OP_RELEASE:
			if (strcmp(where, SPOOL_HOLD) != 0) {
				complain("%s: not on hold (in %s/)", id, where);
				return 1;
			}
			if (move(id, SPOOL_HOLD, SPOOL_NEW) == 0) {
				say("%s: released", id);
				x->woke = 1;
				return 0;
			}
			break;
		case OP_DELETE:
			if (remove_msg(id, where) == 0) {
				say("%s: deleted", id);
				return 0;
			}
			break;
		case OP_REQUEUE:
			if (strcmp(where, SPOOL_HOLD) == 0) {
				complain("%s: on hold: \"postern release\" "
				    "it first", id);
				return 1;
			}
			if (strcmp(where, SPOOL_NEW) == 0) {
				say("%s: already waiting for delivery", id);
				x->woke = 1;
				return 0;
			}
			if (move(id, where, SPOOL_NEW) == 0) {
				say("%s: requeued", id);
				x->woke = 1;
				return 0;
			}
			break;
		}
		/* ENOENT: qmgr took it meanwhile; look again. */
		if (errno != ENOENT) {
			complain("%s: %s: %s", id, op_name[op],
			    strerror(errno));
			return 1;
		}
	}
}

static void
ctx_init(struct ctx *x, const struct conf *c, long long wait)
{
	struct passwd	*pw;

	memset(x, 0, sizeof(*x));
	x->c = c;
	x->wait = wait;
	x->root = geteuid() == 0;
	if (x->root) {
		if ((pw = getpwnam(c->queue_user)) == NULL) {
			complain("queue_user %s: no such user",
			    c->queue_user);
			exit(EX_NOUSER);
		}
		x->uid = pw->pw_uid;
		x->gid = pw->pw_gid;
	}
}

static int
run_op(const char *confdir, int argc, char **argv, enum op op)
{
	/* The queues each operation may select from with filters. */
	static const char *const sel[][5] = {
		[OP_HOLD] =    { SPOOL_NEW, SPOOL_DEFERRED, SPOOL_ACTIVE, NULL },
		[OP_RELEASE] = { SPOOL_HOLD, NULL },
		[OP_DELETE] =  { SPOOL_NEW, SPOOL_DEFERRED, SPOOL_ACTIVE,
		    SPOOL_HOLD, NULL },
		[OP_REQUEUE] = { SPOOL_DEFERRED, NULL },
	};
	struct queue_opts o;
	struct qlist	 l;
	struct conf	 c;
	struct ctx	 x;
	size_t		 i;
	int		 rc = 0, r;

	if ((r = queue_args(argc, argv, &o, 1)) != 0)
		return r;
	queue_enter(&c, confdir);
	ctx_init(&x, &c, o.wait);
	if (o.nids > 0) {
		for (i = 0; i < o.nids; i++)
			rc |= op_one(&x, o.ids[i], op);
	} else {
		if (qlist_read(&l, &o.f, sel[op], time(NULL)) == -1) {
			complain("reading %s: %s", c.spool_directory,
			    strerror(errno));
			return EX_IOERR;
		}
		if (l.n == 0)
			say("no message matched");
		for (i = 0; i < l.n; i++)
			if (!l.msg[i].corrupt)
				rc |= op_one(&x, l.msg[i].id, op);
		qlist_free(&l);
	}
	if (x.woke)
		wake_qmgr();
	return rc;
}

int
cmd_hold(const char *confdir, int argc, char **argv)
{
	return run_op(confdir, argc, argv, OP_HOLD);
}

int
cmd_release(const char *confdir, int argc, char **argv)
{
	return run_op(confdir, argc, argv, OP_RELEASE);
}

int
cmd_delete(const char *confdir, int argc, char **argv)
{
	return run_op(confdir, argc, argv, OP_DELETE);
}

int
cmd_requeue(const char *confdir, int argc, char **argv)
{
	return run_op(confdir, argc, argv, OP_REQUEUE);
}

/* Every deferred message due now: its mtime is its next attempt time
 * (docs/design-notes.md), so touching it is the whole reschedule. */
int
cmd_flush(const char *confdir, int argc, char **argv)
{
	struct timespec	 ts[2];
	struct dirent	*de;
	struct conf	 c;
	char		 p[PATH_MAX];
	size_t		 n = 0;
	DIR		*d;

	if (argc != 1) {
		complain("flush takes no arguments");
		return EX_USAGE;
	}
	queue_enter(&c, confdir);
	if ((d = opendir(SPOOL_DEFERRED)) == NULL) {
		complain("%s/%s: %s", c.spool_directory, SPOOL_DEFERRED,
		    strerror(errno));
		return EX_IOERR;
	}
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[1] = ts[0];
	while ((de = readdir(d)) != NULL) {
		if (!spool_id_valid(de->d_name) || spool_path(p, sizeof(p),
		    SPOOL_DEFERRED, de->d_name) == -1)
			continue;
		/* AT_SYMLINK_NOFOLLOW: never touch what a link points to. */
		if (utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW) == 0)
			n++;
		else if (errno != ENOENT)	/* ENOENT: qmgr took it */
			complain("%s: %s", p, strerror(errno));
	}
	closedir(d);
	wake_qmgr();
	say("flushed %zu deferred message%s", n, n == 1 ? "" : "s");
	return 0;
}
