/*
 * lspawn: the local delivery spawner.
 *
 * Job: take 'L' requests from qmgr, check each one, open the queue file,
 * and have it delivered by a process that is the recipient: a worker
 * already running as exactly that user (uid, gid, groups), reused for up
 * to local_worker_uses deliveries in turn, or else a child forked for this
 * one delivery (the external agent named by local_agent, and commands,
 * always get a fresh child). Answer each request with exactly one 'O'
 * record. Why workers, and why reusing one widens nothing: docs/
 * design-notes.md, "A delivery worker serves one user". For kind 'u' the
 * child first looks at ~/.forward, as the user (forward.c); when it
 * redirects the mail, the 'O' says 'F' and carries the targets, which
 * qmgr expands: lspawn itself never reads a .forward, nor delivers one.
 *
 * Privileges: runs as root, because it must read the spool and become any
 * local user; so it stays small, parses nothing from the network and reads
 * no message byte itself. Every child drops to the recipient's uid, gid
 * and groups (or virtual_mail_user's) before it parses the queue file;
 * lspawn never runs an agent as uid 0 (a request for root is refused).
 *
 * Pipes (docs/protocols.md, "qmgr -> lspawn" and "lspawn -> delivery
 * agent"):
 *   fd 3  socketpair to qmgr: 'L' requests in, 'O' replies out.
 *   fd 4  control socketpair to master: an SCM_RIGHTS message with tag 'P'
 *         is a new qmgr socket replacing fd 3; EOF means master is gone.
 *   one result pipe per child: the child's single 'O' record.
 *   one SOCK_SEQPACKET socketpair per worker: a 'W' request with the
 *   queue file as SCM_RIGHTS in, its 'O' record out, one at a time
 *   ("lspawn -> delivery worker").
 * Signals: SIGCHLD through a self-pipe, SIGHUP re-reads postern.conf (a bad
 * file keeps the old one) and forgets the cached users, SIGTERM exits
 * and lets the children finish.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <bsd/stdlib.h>
#include <bsd/string.h>
#include <bsd/unistd.h>

#include "addr.h"
#include "fdpass.h"
#include "buf.h"
#include "conf.h"
#include "frame.h"
#include "log.h"
#include "peer.h"
#include "spawner.h"
#include "priv.h"
#include "qfile.h"
#include "rcpt.h"
#include "spool.h"
#include "loop.h"
#include "maildir.h"
#include "mbox.h"
#include "outcome.h"
#include "forward.h"
#include "pipe.h"

#define LSPAWN_ID_MAX		64	/* qmgr's request id, echoed back */
/* A child's answer: an outcome, or a .forward's targets ('F'). */
#define LSPAWN_RESULT_MAX	(FRAME_HDR + 3 * OUTCOME_TEXT_MAX + \
				    FORWARD_TEXT_MAX)
#define LSPAWN_OUT_MAX		((size_t)4 << 20)	/* unread replies */
/* A user's passwd entry and supplementary groups are looked up in lspawn,
 * not in each child, and kept this long: initgroups() in a fresh child
 * dlopen()ed the group database's NSS modules every time, over half of a
 * delivery's CPU, and getpwnam() read /etc/passwd through stdio for every
 * request (bench/README.md, optimisation 2). A change to a user or to a
 * group's members takes effect within this many seconds, or at once on
 * SIGHUP. Only users that exist are kept: a new user is seen at once. */
#define LSPAWN_USERS_SECONDS	10
#define LSPAWN_USERS_CACHED	32	/* users; the oldest is replaced */
/* Idle delivery workers kept beyond the busy ones; the longest idle goes
 * first. Each is a small process (its pages are shared with lspawn's). */
#define LSPAWN_WORKERS_IDLE_MAX	16
/* A 'W' request: queue ID, sender, recipient, how, mailbox, made_below,
 * forward. */
#define LSPAWN_WREQ_MAX		(FRAME_HDR + SPOOL_ID_MAX + \
				    2 * ADDR_TEXT_MAX + PATH_MAX + 64)

/* How a delivery writes (docs/protocols.md, the L record's kinds). */
enum how { HOW_MAILDIR, HOW_MBOX, HOW_FILE, HOW_PIPE };

/* Who a delivery runs as and where it goes; filled before fork(). */
struct target {
	uid_t	 uid;
	gid_t	 gid;
	enum how how;
	gid_t	 spool_gid;	/* HOW_MBOX: the mail spool's group, kept
				 * as a supplementary group (0: none) */
	/* user, home, shell and groups point into the user cache below:
	 * nothing replaces an entry between the lookup and fork(), and the
	 * child has its own copy. Pointers rather than arrays, so that the
	 * per-request memset() dirties one page, not four (each page written
	 * after a fork() is a copy-on-write fault). */
	const char *user;
	const char *home;
	const char *shell;
	const char *command;	/* HOW_PIPE: the aliases table's line; it
				 * lives in the request, which the forked
				 * child still has */
	size_t	 made_below;	/* virtual: length of the base; the
				 * directories after it are created */
	int	 forward;	/* kind 'u': ~/.forward is looked at */
	const gid_t *groups;	/* supplementary groups */
	size_t	 ngroups;
	char	 maildir[PATH_MAX];	/* a Maildir, or an mbox file; last,
					 * and not cleared: snprintf() fills
					 * it */
};

/* One user, as getpwnam() and getgrouplist() gave it. */
struct user_entry {
	char		*key;		/* the name asked for; NULL: free */
	char		*name, *home, *shell;
	uid_t		 uid;
	gid_t		 gid;
	time_t		 fetched;	/* CLOCK_MONOTONIC seconds */
	gid_t		*groups;
	size_t		 ngroups;
};

/* Whom a delivery worker runs as: everything priv_drop_uid_groups() is
 * given, and the home its deliveries chdir() to and find .forward in. A
 * worker serves only requests whose identity is the same, field by field. */
struct ident {
	uid_t		 uid;
	gid_t		 gid;
	gid_t		 extra;		/* HOW_MBOX's spool group, else 0 */
	gid_t		*groups;
	size_t		 ngroups;
	char		*user, *home;
};

/* One running delivery (a child), or one delivery worker. pid 0: the slot
 * is free. A request is outstanding while res is not NULL. */
struct child {
	pid_t		 pid;
	int		 fd;		/* result pipe, or a worker's socket;
					 * -1 once at EOF or retired */
	unsigned	 gen;		/* the qmgr connection it answers */
	int		 timedout;
	struct timespec	 deadline;
	char		 id[LSPAWN_ID_MAX];
	char		 qid[SPOOL_ID_MAX + 1];
	char		 rcpt[ADDR_TEXT_MAX];
	int		 forward;	/* may answer 'F' (kind 'u') */
	int		 overflow;	/* said more than one record can hold */
	size_t		 len;
	char		*res;		/* LSPAWN_RESULT_MAX bytes, malloc'd
					 * per request: a .forward's answer
					 * is big, and the slots of an idle
					 * lspawn should not be */
	/* A worker: one socket, requests one at a time, never a command
	 * nor an external agent. */
	int		 worker;
	unsigned	 uses;		/* requests sent to it */
	unsigned	 confgen;	/* the configuration it was forked with */
	time_t		 idle_since;	/* CLOCK_MONOTONIC seconds */
	struct ident	 ident;
};

static struct conf	 conf;
static const char	*confdir = CONFDIR_DEFAULT;
static struct peer	 qmgr;
static struct child	*kids;
static struct user_entry users[LSPAWN_USERS_CACHED];
static size_t		 nkids, nrunning;
static unsigned		 confgen;	/* bumped by every reload */
static int		 sigfd = -1;	/* the self-pipe (spawner.h), to poll */

/* Queue one 'O' reply for the qmgr connection gen; a reply meant for a
 * connection that is gone is dropped (qmgr redelivers). */
static void
lspawn_reply(unsigned gen, const char *id, char status, const char *code,
    const char *text)
{
	char st[2] = { status, '\0' };

	if (qmgr.fd == -1 || gen != qmgr.gen) {
		log_info("request %s: qmgr connection gone, outcome %c %s "
		    "dropped", id, status, code);
		return;
	}
	/* qmgr forgets what it had outstanding on a dropped connection,
	 * and delivers those recipients again: at-least-once. */
	if (frame_put_fields(&qmgr.out, 'O', id, st, code, text,
	    (char *)NULL) == -1) {
		peer_drop(&qmgr, "qmgr does not read its replies");
		return;
	}
	peer_flush(&qmgr);
}

static struct child *
lspawn_slot(void)
{
	struct child *k;
	size_t i, n;

	for (i = 0; i < nkids; i++)
		if (kids[i].pid == 0)
			return &kids[i];
	n = nkids ? nkids * 2 : 8;
	if ((k = reallocarray(kids, n, sizeof(*k))) == NULL)
		return NULL;
	memset(k + nkids, 0, (n - nkids) * sizeof(*k));
	kids = k;
	i = nkids;
	nkids = n;
	return &kids[i];
}

static void
lspawn_user_forget(struct user_entry *e)
{
	free(e->key);
	free(e->name);
	free(e->home);
	free(e->shell);
	free(e->groups);
	memset(e, 0, sizeof(*e));
}

static void
lspawn_users_flush(void)
{
	size_t i;

	for (i = 0; i < LSPAWN_USERS_CACHED; i++)
		lspawn_user_forget(&users[i]);
}

/* pw's supplementary groups, from getgrouplist() here in lspawn, whose
 * NSS modules stay loaded between calls. NULL (errno set) on failure. */
static gid_t *
lspawn_grouplist(const struct passwd *pw, size_t *np)
{
	gid_t *g = NULL, *ng;
	int n = 16, want;

	/* Not root (a developer's instance): no groups to change. */
	if (geteuid() != 0) {
		*np = 0;
		return calloc(1, sizeof(*g));
	}
	for (;;) {
		if ((ng = reallocarray(g, (size_t)n, sizeof(*g))) == NULL) {
			free(g);
			return NULL;
		}
		g = ng;
		want = n;
		/* -1: the list did not fit, and n says how long it is. */
		if (getgrouplist(pw->pw_name, pw->pw_gid, g, &n) != -1)
			break;
		if (n <= want)
			n = want * 2;
		if (n > 65536) {
			free(g);
			errno = E2BIG;
			return NULL;
		}
	}
	*np = (size_t)n;
	return g;
}

/* The cached entry for name, fresh; or NULL. */
static struct user_entry *
lspawn_user_cached(const char *name, time_t now)
{
	size_t i;

	for (i = 0; i < LSPAWN_USERS_CACHED; i++)
		if (users[i].key != NULL && strcmp(users[i].key, name) == 0) {
			if (now - users[i].fetched < LSPAWN_USERS_SECONDS)
				return &users[i];
			lspawn_user_forget(&users[i]);
			return NULL;
		}
	return NULL;
}

/* Resolve a local user (kind 'u') or the virtual mail user. 0, or -1 with
 * the refusal already in o. */
static int
lspawn_user(const char *name, struct target *t, struct outcome *o)
{
	struct passwd *pw;
	struct user_entry *e, *slot;
	time_t now = spawner_now().tv_sec;
	size_t i;

	if ((e = lspawn_user_cached(name, now)) != NULL)
		goto found;
	/* getpwnam() says "no such user" with NULL and errno unchanged, and a
	 * broken database with NULL and errno set: only the first is a
	 * permanent answer. */
	errno = 0;
	if ((pw = getpwnam(name)) == NULL) {
		if (errno != 0 && errno != ENOENT && errno != ESRCH &&
		    errno != EBADF && errno != EPERM) {
			outcome_set(o, 'Z', "4.3.0",
			    "temporary passwd lookup failure");
			return -1;
		}
		outcome_set(o, 'D', "5.1.1", "no such user");
		return -1;
	}
	if (pw->pw_uid == 0) {
		outcome_set(o, 'D', "5.7.1", "refusing to deliver as root");
		return -1;
	}
	if (strlen(pw->pw_name) >= 64 || strlen(pw->pw_dir) >= PATH_MAX ||
	    strlen(pw->pw_shell) >= PATH_MAX) {
		outcome_set(o, 'D', "5.3.0", "user name or home too long");
		return -1;
	}
	/* A free slot, else the oldest. */
	slot = &users[0];
	for (i = 0; i < LSPAWN_USERS_CACHED; i++) {
		if (users[i].key == NULL) {
			slot = &users[i];
			break;
		}
		if (users[i].fetched < slot->fetched)
			slot = &users[i];
	}
	lspawn_user_forget(slot);
	slot->uid = pw->pw_uid;
	slot->gid = pw->pw_gid;
	slot->fetched = now;
	if ((slot->key = strdup(name)) == NULL ||
	    (slot->name = strdup(pw->pw_name)) == NULL ||
	    (slot->home = strdup(pw->pw_dir)) == NULL ||
	    (slot->shell = strdup(pw->pw_shell)) == NULL ||
	    (slot->groups = lspawn_grouplist(pw, &slot->ngroups)) == NULL) {
		outcome_set(o, 'Z', "4.3.0", "user %s: %s", name,
		    strerror(errno));
		lspawn_user_forget(slot);
		return -1;
	}
	e = slot;
found:
	t->user = e->name;
	t->home = e->home;
	t->shell = e->shell;
	t->uid = e->uid;
	t->gid = e->gid;
	t->groups = e->groups;
	t->ngroups = e->ngroups;
	return 0;
}

/* An alias's "as" user for kinds f and p: a real user, never root. */
static int
lspawn_as(const char *as, struct target *t, struct outcome *o)
{
	if (as[0] == '\0' || lspawn_user(as, t, o) == -1) {
		if (as[0] == '\0' || o->status == 'D')
			outcome_set(o, 'D', "5.7.1", "alias user \"%s\" is not "
			    "a usable user", as);
		return -1;
	}
	return 0;
}

/* The mail spool's group, for home_mailbox = mbox: kept by the child so
 * that it can create USER and USER.lock in Debian's root:mail 2775
 * /var/mail. Only a group-writable directory's group, never group 0. */
static gid_t
lspawn_spool_gid(void)
{
	struct stat st;

	if (stat(conf.mail_spool_directory, &st) == -1 ||
	    !S_ISDIR(st.st_mode) || (st.st_mode & S_IWGRP) == 0 ||
	    st.st_gid == 0)
		return 0;
	return st.st_gid;
}

/* Where the mail goes and as whom. 0, or -1 with the refusal in o. */
static int
lspawn_target(const char *kind, const char *target, const char *as,
    struct target *t, struct outcome *o)
{
	int n;

	t->made_below = 0;
	t->how = HOW_MAILDIR;
	t->forward = strcmp(kind, "u") == 0;
	if ((strcmp(kind, "u") == 0 || strcmp(kind, "m") == 0 ||
	    strcmp(kind, "v") == 0) && as[0] != '\0') {
		outcome_set(o, 'D', "5.3.0", "a user given for kind %s", kind);
		return -1;
	}
	/* 'm' is 'u' without ~/.forward: "\user", or a user's own name
	 * in the user's .forward. */
	if (strcmp(kind, "u") == 0 || strcmp(kind, "m") == 0) {
		if (lspawn_user(target, t, o) == -1)
			return -1;
		if (strcmp(conf.home_mailbox, "mbox") == 0) {
			t->how = HOW_MBOX;
			t->spool_gid = lspawn_spool_gid();
			n = snprintf(t->maildir, sizeof(t->maildir), "%s/%s",
			    conf.mail_spool_directory, t->user);
		} else
			n = snprintf(t->maildir, sizeof(t->maildir),
			    "%s/Maildir/", t->home);
	} else if (strcmp(kind, "v") == 0) {
		/* The path must stay below virtual_mailbox_base: checked
		 * here again, whatever qmgr's tables said. */
		if (!rcpt_mailbox_valid(target)) {
			outcome_set(o, 'D', "5.3.0", "bad virtual mailbox path");
			return -1;
		}
		if (lspawn_user(conf.virtual_mail_user, t, o) == -1)
			return -1;
		n = snprintf(t->maildir, sizeof(t->maildir), "%s/%s",
		    conf.virtual_mailbox_base, target);
		t->made_below = strlen(conf.virtual_mailbox_base);
	} else if (strcmp(kind, "f") == 0) {
		if (target[0] != '/') {
			outcome_set(o, 'D', "5.3.0", "mailbox file is not an "
			    "absolute path");
			return -1;
		}
		if (lspawn_as(as, t, o) == -1)
			return -1;
		t->how = HOW_FILE;
		n = snprintf(t->maildir, sizeof(t->maildir), "%s", target);
	} else if (strcmp(kind, "p") == 0) {
		if (target[0] == '\0' || strlen(target) >= PATH_MAX) {
			outcome_set(o, 'D', "5.3.0", "bad command");
			return -1;
		}
		if (lspawn_as(as, t, o) == -1)
			return -1;
		t->how = HOW_PIPE;
		t->command = target;
		/* Only for the checks below: a command has no mailbox. */
		n = snprintf(t->maildir, sizeof(t->maildir), "/");
	} else {
		outcome_set(o, 'D', "5.3.0", "unknown delivery kind");
		return -1;
	}
	if (n < 0 || (size_t)n >= sizeof(t->maildir)) {
		outcome_set(o, 'D', "5.3.0", "mailbox path too long");
		return -1;
	}
	if (t->maildir[0] != '/') {
		/* A relative home or base is the operator's to fix. */
		outcome_set(o, 'Z', "4.3.0", "maildir %s: not an absolute path",
		    t->maildir);
		return -1;
	}
	return 0;
}

/* The child answers lspawn itself when it fails before any agent runs:
 * a temporary failure with a reason, rather than a bare exit status. */
static void __attribute__((noreturn))
lspawn_child_fail(const char *what, int err)
{
	struct outcome o;

	if (err != 0)
		outcome_set(&o, 'Z', "4.3.0", "%s: %s", what, strerror(err));
	else
		outcome_set(&o, 'Z', "4.3.0", "%s", what);
	_exit(outcome_write(1, &o) == -1 ? 75 : 0);
}

/*
 * A virtual mailbox "example.org/info/Maildir/" below virtual_mailbox_base:
 * create example.org/ and info/ as the virtual mail user when missing, as
 * Postfix's virtual(8) does; maildir_deliver() creates the Maildir itself.
 * The path was checked by rcpt_mailbox_valid(): no "..", no empty part.
 */
static void
lspawn_make_parents(const struct target *t)
{
	char path[PATH_MAX];
	char *p, *last;

	if (t->made_below == 0)
		return;
	strlcpy(path, t->maildir, sizeof(path));
	last = path + strlen(path);
	while (last > path && last[-1] == '/')
		*--last = '\0';
	if ((last = strrchr(path, '/')) == NULL)
		return;
	/* Each '/' after the base ends a directory to make, up to and
	 * including the one before the Maildir's own name. */
	for (p = path + t->made_below + 1; p <= last; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) == -1 && errno != EEXIST)
			lspawn_child_fail(path, errno);
		*p = '/';
	}
}

/*
 * An external agent runs as the recipient: it gets a private copy of the
 * message alone, never the queue file, whose envelope names every other
 * recipient (Bcc included) and which /proc/PID/fd/0 would let it read.
 */
static void
lspawn_private_copy(off_t size)
{
	char buf[65536];
	off_t left = size;
	ssize_t n;
	int m;

	if ((m = memfd_create("postern-message", MFD_CLOEXEC)) == -1)
		lspawn_child_fail("memfd_create", errno);
	while (left > 0) {
		n = read(0, buf, left < (off_t)sizeof(buf) ? (size_t)left :
		    sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			lspawn_child_fail("queue file read", n == 0 ? EIO : errno);
		if (write(m, buf, (size_t)n) != n)
			lspawn_child_fail("message copy", errno);
		left -= n;
	}
	if (lseek(m, 0, SEEK_SET) == -1 || dup2(m, 0) == -1)
		lspawn_child_fail("message copy", errno);
	close(m);
}

/* The external agent: argv and a fixed environment, no shell. */
static void __attribute__((noreturn))
lspawn_exec(const struct target *t, const char *sender, const char *rcpt,
    off_t size)
{
	char sz[32], home[PATH_MAX + 8], user[80], logname[80];
	char esender[ADDR_TEXT_MAX + 16], ercpt[ADDR_TEXT_MAX + 16];
	char *argv[12], *envp[7];
	struct sigaction sa;

	snprintf(sz, sizeof(sz), "%lld", (long long)size);
	snprintf(home, sizeof(home), "HOME=%s", t->home);
	snprintf(user, sizeof(user), "USER=%s", t->user);
	snprintf(logname, sizeof(logname), "LOGNAME=%s", t->user);
	snprintf(esender, sizeof(esender), "SENDER=%s", sender);
	snprintf(ercpt, sizeof(ercpt), "RECIPIENT=%s", rcpt);
	/* -c: an agent such as lmtp(8) reads its own keys from
	 * postern.conf, which the recipient may read. */
	argv[0] = conf.local_agent;
	argv[1] = (char *)"-c";
	argv[2] = conf.confdir;
	argv[3] = (char *)"-f";
	argv[4] = (char *)sender;
	argv[5] = (char *)"-a";
	argv[6] = (char *)rcpt;
	argv[7] = (char *)"-d";
	argv[8] = (char *)t->maildir;
	argv[9] = (char *)"-n";
	argv[10] = sz;
	argv[11] = NULL;
	envp[0] = (char *)"PATH=/usr/bin:/bin";
	envp[1] = home;
	envp[2] = user;
	envp[3] = logname;
	envp[4] = esender;
	envp[5] = ercpt;
	envp[6] = NULL;
	/* An ignored SIGPIPE would survive execve() into the agent. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGPIPE, &sa, NULL);
	execve(conf.local_agent, argv, envp);
	lspawn_child_fail("cannot run local_agent", errno);
}

/* The built-in writers, by kind. */
static void
lspawn_deliver(const struct target *t, off_t len, const char *sender,
    const char *rcpt, struct outcome *o)
{
	struct mbox_how mh;
	struct pipe_how ph;
	int tmo = conf.local_delivery_timeout_seconds;

	switch (t->how) {
	case HOW_MAILDIR:
		maildir_deliver(0, len, sender, rcpt, t->maildir,
		    conf.hostname, o);
		break;
	case HOW_MBOX:
	case HOW_FILE:
		/* The spool's mailbox must be the user's, mode 0660 in the
		 * spool's group; an alias's file is whatever its owner
		 * made it, and new ones are 0600. */
		mh.owner = t->how == HOW_MBOX ? t->uid : (uid_t)-1;
		mh.group = t->how == HOW_MBOX && t->spool_gid != 0 ?
		    t->spool_gid : (gid_t)-1;
		mh.mode = t->how == HOW_MBOX && t->spool_gid != 0 ? 0660 :
		    0600;
		mh.dotlock = 1;
		mbox_deliver(0, len, sender, rcpt, t->maildir, &mh, o);
		break;
	case HOW_PIPE:
		ph.user = t->user;
		ph.home = t->home;
		ph.shell = t->shell;
		ph.delimiter = conf.recipient_delimiter;
		/* Our own deadline comes first, so the reason names the
		 * command rather than lspawn's blunter "agent timed out". */
		ph.timeout_seconds = tmo > 1 ? tmo - (tmo / 10 > 1 ?
		    tmo / 10 : 1) : 1;
		pipe_deliver(0, len, sender, rcpt, t->command, &ph, o);
		break;
	}
}

/*
 * A forked child becomes the delivery's user: fd 1 becomes res (the result
 * pipe, or a worker's socket), fd 0 the queue file when there is one (a
 * worker's stays /dev/null until a request brings one), nothing else of
 * lspawn's stays open. It drops privilege before anything parses the
 * queue file, so that even the parser runs as the recipient.
 */
static void
lspawn_become(int qf, int res, uid_t uid, gid_t gid, const char *user,
    const gid_t *groups, size_t ngroups, gid_t extra)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* Its own process group: a timeout kills whatever the agent
	 * started, too. */
	setpgid(0, 0);
	/* closelog() first: closefrom() would leave syslog believing in a
	 * descriptor that the Maildir file might then reuse. */
	closelog();
	if ((qf != -1 && dup2(qf, 0) == -1) || dup2(res, 1) == -1)
		_exit(75);
	closefrom(3);

	/* In a developer's instance lspawn is not root and delivers as
	 * itself; priv_drop_uid() would refuse, not skip, there. */
	if (geteuid() == 0 && priv_drop_uid_groups(uid, gid, user, groups,
	    ngroups, extra) == -1)
		_exit(75);
}

/*
 * One delivery as t, of the queue file on fd 0; the answer goes to fd 1.
 * Returns 0, or 75 when the answer could not be written. A failure before
 * any writer runs answers and _exit()s (lspawn_child_fail()): a worker
 * ends with it, which costs a fork, not a mail.
 */
static int
lspawn_delivery(const struct target *t, const char *qid, const char *sender,
    const char *rcpt)
{
	struct qenv env;
	struct buf err = BUF_INIT;
	struct outcome o;
	int rc;

	qenv_init(&env);
	buf_init(&err, 1024);
	rc = qfile_read(0, &env, &err);
	if (rc == QFILE_CORRUPT) {
		log_warn("%s: corrupt queue file: %s", qid, buf_str(&err));
		lspawn_child_fail("corrupt queue file", 0);
	}
	if (rc != QFILE_OK)
		lspawn_child_fail("queue file read error", errno);
	buf_free(&err);
	if (lseek(0, env.msg_off, SEEK_SET) == -1)
		lspawn_child_fail("queue file seek", errno);
	/* A cwd the recipient may not enter would break a .forward-style
	 * agent's relative paths; "/" always exists. */
	if (chdir(t->home) == -1 && chdir("/") == -1)
		lspawn_child_fail("chdir /", errno);

	/* Before any kind of delivery, the external agent's included: a
	 * loop is refused here, once, whoever would write the mail. */
	if (loop_check(0, env.msg_len, rcpt, &o) == -1)
		goto answer;
	/* Read as the user, never as root (forward.c); the targets go
	 * back to qmgr, which expands them as an alias's. */
	if (t->forward) {
		struct buf fw = BUF_INIT;

		switch (forward_read(t->home, t->uid, t->user, qid, &fw, &o)) {
		case FORWARD_FOUND:
			rc = forward_write(1, &fw) == -1 ? 75 : 0;
			buf_free(&fw);
			qenv_free(&env);
			return rc;
		case FORWARD_FAIL:
			buf_free(&fw);
			goto answer;
		case FORWARD_NONE:
			break;
		}
		buf_free(&fw);
	}
	lspawn_make_parents(t);
	/* local_agent takes the Maildir deliveries; mbox, files and
	 * commands are always built in (the agent protocol names a
	 * Maildir). A worker is never sent these. */
	if (conf.local_agent[0] != '\0' && t->how == HOW_MAILDIR) {
		lspawn_private_copy(env.msg_len);
		lspawn_exec(t, sender, rcpt, env.msg_len);
	}
	lspawn_deliver(t, env.msg_len, sender, rcpt, &o);
answer:
	qenv_free(&env);
	return outcome_write(1, &o) == -1 ? 75 : 0;
}

/* The child of one delivery: it answers once and ends. */
static void __attribute__((noreturn))
lspawn_child(int qf, int res, const struct target *t, const char *qid,
    const char *sender, const char *rcpt)
{
	lspawn_become(qf, res, t->uid, t->gid, t->user, t->groups, t->ngroups,
	    t->how == HOW_MBOX ? t->spool_gid : 0);
	_exit(lspawn_delivery(t, qid, sender, rcpt));
}

/*
 * A delivery worker (docs/protocols.md, "lspawn -> delivery worker"): it
 * became id's user once, then takes 'W' requests from fd 1, each with its
 * queue file, and answers each on fd 1, until lspawn closes the socket.
 * Between two deliveries nothing of the first stays open: its queue file
 * gives way to /dev/null and every other descriptor is closed.
 */
static void __attribute__((noreturn))
lspawn_worker(int sock, const struct ident *id)
{
	char rec[LSPAWN_WREQ_MAX];
	struct buf pay = BUF_INIT;
	struct target t;
	const char *f[7];
	size_t len;
	int qf, rc;

	lspawn_become(-1, sock, id->uid, id->gid, id->user, id->groups,
	    id->ngroups, id->extra);
	buf_init(&pay, sizeof(rec));
	for (;;) {
		if ((qf = fd_recv_rec(1, rec, sizeof(rec), &len)) == -1 &&
		    errno == EINTR)
			continue;
		if (qf != -1 && len == 0)
			_exit(0);	/* retired, or lspawn is gone */
		/* lspawn is trusted, but a worker runs none of what it was
		 * not made for: no command, nothing but an absolute path. */
		if (qf < 0 || frame_datagram(rec, len, 'W', &pay, f, 7) == -1 ||
		    strlen(f[3]) != 1 || f[3][0] < '0' + HOW_MAILDIR ||
		    f[3][0] > '0' + HOW_FILE || f[4][0] != '/')
			lspawn_child_fail("bad request from lspawn", 0);
		if (dup2(qf, 0) == -1)
			lspawn_child_fail("queue file", errno);
		close(qf);
		memset(&t, 0, offsetof(struct target, maildir));
		t.uid = id->uid;
		t.gid = id->gid;
		t.spool_gid = id->extra;
		t.user = id->user;
		t.home = id->home;
		t.groups = id->groups;
		t.ngroups = id->ngroups;
		t.how = (enum how)(f[3][0] - '0');
		t.made_below = strtoul(f[5], NULL, 10);
		t.forward = f[6][0] == '1';
		if (strlcpy(t.maildir, f[4], sizeof(t.maildir)) >=
		    sizeof(t.maildir))
			lspawn_child_fail("mailbox path too long", 0);
		rc = lspawn_delivery(&t, f[0], f[1], f[2]);
		if (rc != 0)
			_exit(rc);
		closelog();
		close(0);
		closefrom(3);
		if (open("/dev/null", O_RDONLY) != 0)
			_exit(75);
	}
}

/* Slot c is now the process pid, which holds theirs; ours is lspawn's
 * end of its pipe or socket. */
static void
lspawn_adopt(struct child *c, pid_t pid, int ours, int theirs)
{
	close(theirs);
	/* Also here, so a timeout right away cannot miss the group. */
	setpgid(pid, pid);
	spawner_nonblock(ours);
	memset(c, 0, sizeof(*c));
	c->pid = pid;
	c->fd = ours;
}

/* Whether a worker may take t: it was forked as t's user with this
 * configuration, and nothing that went into its privileges changed. */
static int
lspawn_ident_same(const struct ident *id, const struct target *t)
{
	gid_t extra = t->how == HOW_MBOX ? t->spool_gid : 0;

	return id->uid == t->uid && id->gid == t->gid && id->extra == extra &&
	    id->ngroups == t->ngroups &&
	    memcmp(id->groups, t->groups, t->ngroups * sizeof(gid_t)) == 0 &&
	    strcmp(id->user, t->user) == 0 && strcmp(id->home, t->home) == 0;
}

static void
lspawn_ident_free(struct ident *id)
{
	free(id->groups);
	free(id->user);
	free(id->home);
	memset(id, 0, sizeof(*id));
}

/* A worker takes no more requests; it ends at the EOF, and is reaped. */
static void
lspawn_retire(struct child *c)
{
	if (c->fd != -1) {
		close(c->fd);
		c->fd = -1;
	}
}

/* Workers that are idle, of the running configuration, not retired. */
static size_t
lspawn_workers_idle(struct child **oldest)
{
	size_t i, n = 0;

	*oldest = NULL;
	for (i = 0; i < nkids; i++) {
		struct child *c = &kids[i];

		if (c->pid == 0 || !c->worker || c->fd == -1 || c->res != NULL)
			continue;
		n++;
		if (*oldest == NULL || c->idle_since < (*oldest)->idle_since)
			*oldest = c;
	}
	return n;
}

/* An idle worker that is t's user, or a new one; NULL when t needs a child
 * of its own (a command, an external agent, workers turned off) or no
 * worker can be had (the caller forks a child instead). */
static struct child *
lspawn_worker_for(const struct target *t)
{
	struct child *c, *oldest;
	struct ident id;
	size_t i;
	int sp[2];
	pid_t pid;

	if (conf.local_worker_uses == 0 || t->how == HOW_PIPE ||
	    (t->how == HOW_MAILDIR && conf.local_agent[0] != '\0'))
		return NULL;
	for (i = 0; i < nkids; i++) {
		c = &kids[i];
		if (c->pid != 0 && c->worker && c->fd != -1 && c->res == NULL &&
		    c->confgen == confgen && lspawn_ident_same(&c->ident, t))
			return c;
	}
	/* Room for one more idle worker later: the longest idle goes. */
	if (lspawn_workers_idle(&oldest) >= LSPAWN_WORKERS_IDLE_MAX)
		lspawn_retire(oldest);
	memset(&id, 0, sizeof(id));
	id.uid = t->uid;
	id.gid = t->gid;
	id.extra = t->how == HOW_MBOX ? t->spool_gid : 0;
	id.ngroups = t->ngroups;
	if ((id.groups = reallocarray(NULL, t->ngroups + 1,
	    sizeof(gid_t))) == NULL || (id.user = strdup(t->user)) == NULL ||
	    (id.home = strdup(t->home)) == NULL) {
		lspawn_ident_free(&id);
		return NULL;
	}
	memcpy(id.groups, t->groups, t->ngroups * sizeof(gid_t));
	if ((c = lspawn_slot()) == NULL ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1) {
		lspawn_ident_free(&id);
		return NULL;
	}
	if ((pid = fork()) == -1) {
		close(sp[0]);
		close(sp[1]);
		lspawn_ident_free(&id);
		return NULL;
	}
	if (pid == 0)
		lspawn_worker(sp[1], &id);
	lspawn_adopt(c, pid, sp[0], sp[1]);
	c->worker = 1;
	c->confgen = confgen;
	c->ident = id;
	return c;
}

/* Hand one request to worker c: 0, or -1 when it could not be sent (the
 * worker is retired; the caller forks a child instead). */
static int
lspawn_worker_send(struct child *c, int qf, const struct target *t,
    const char *qid, const char *sender, const char *rcpt)
{
	struct buf rec = BUF_INIT;
	char how[2] = { (char)('0' + t->how), '\0' }, below[24];
	int rc;

	snprintf(below, sizeof(below), "%zu", t->made_below);
	buf_init(&rec, LSPAWN_WREQ_MAX);
	rc = frame_put_fields(&rec, 'W', qid, sender, rcpt, how, t->maildir,
	    below, t->forward ? "1" : "0", (char *)NULL);
	if (rc == 0)
		rc = fd_send_rec(c->fd, qf, rec.data, rec.len, MSG_DONTWAIT);
	buf_free(&rec);
	if (rc == -1) {
		log_warn("%s: to=<%s>, delivery worker pid %ld: %s; a child "
		    "of its own delivers", qid, rcpt, (long)c->pid,
		    strerror(errno));
		lspawn_retire(c);
	}
	return rc;
}

/* The request c now carries. */
static void
lspawn_start(struct child *c, char *res, int forward, const char *id,
    const char *qid, const char *rcpt)
{
	c->res = res;
	c->len = 0;
	c->overflow = 0;
	c->timedout = 0;
	c->forward = forward;
	c->gen = qmgr.gen;
	c->deadline = spawner_now();
	c->deadline.tv_sec += conf.local_delivery_timeout_seconds;
	strlcpy(c->id, id, sizeof(c->id));
	strlcpy(c->qid, qid, sizeof(c->qid));
	strlcpy(c->rcpt, rcpt, sizeof(c->rcpt));
	nrunning++;
}

/* One 'L' request: check it, then hand it to a worker or fork its
 * delivery. Every path ends in exactly one reply, now or when the
 * delivery is done. */
static void
lspawn_request(const char *const f[8])
{
	const char *id = f[0], *qid = f[1], *rcpt = f[3], *kind = f[4];
	const char *target = f[5], *sender = f[6], *as = f[7];
	struct target t;
	struct outcome o;
	struct child *c;
	char path[PATH_MAX];
	char *res;
	int qf, p[2];
	pid_t pid;

	memset(&t, 0, offsetof(struct target, maildir));
	t.maildir[0] = '\0';
	if ((size_t)conf.local_concurrency * 2 <= nrunning) {
		lspawn_reply(qmgr.gen, id, 'Z', "4.3.0", "too many deliveries");
		return;
	}
	if (!spool_id_valid(qid)) {
		lspawn_reply(qmgr.gen, id, 'D', "5.3.0", "malformed queue ID");
		return;
	}
	if (strlen(rcpt) >= ADDR_TEXT_MAX || strlen(sender) >= ADDR_TEXT_MAX) {
		lspawn_reply(qmgr.gen, id, 'D', "5.3.0", "address too long");
		return;
	}
	if (lspawn_target(kind, target, as, &t, &o) == -1) {
		log_warn("%s: to=<%s>, %s %s: %s", qid, rcpt, kind, target,
		    o.text);
		lspawn_reply(qmgr.gen, id, o.status, o.code, o.text);
		return;
	}
	if (spool_path(path, sizeof(path), SPOOL_ACTIVE, qid) == -1) {
		lspawn_reply(qmgr.gen, id, 'D', "5.3.0", "malformed queue ID");
		return;
	}
	/* Opened here, as root: the recipient could not open the spool. */
	if ((qf = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno == ENOENT)
			lspawn_reply(qmgr.gen, id, 'Z', "4.3.0",
			    "queue file missing");
		else {
			outcome_set(&o, 'Z', "4.3.0", "queue file: %s",
			    strerror(errno));
			lspawn_reply(qmgr.gen, id, o.status, o.code, o.text);
		}
		return;
	}
	if ((res = malloc(LSPAWN_RESULT_MAX)) == NULL) {
		outcome_set(&o, 'Z', "4.3.0", "cannot start delivery: %s",
		    strerror(errno));
		close(qf);
		lspawn_reply(qmgr.gen, id, o.status, o.code, o.text);
		return;
	}
	if ((c = lspawn_worker_for(&t)) != NULL &&
	    lspawn_worker_send(c, qf, &t, qid, sender, rcpt) == 0) {
		close(qf);
		c->uses++;
		lspawn_start(c, res, t.forward, id, qid, rcpt);
		return;
	}
	if ((c = lspawn_slot()) == NULL || pipe2(p, O_CLOEXEC) == -1) {
		outcome_set(&o, 'Z', "4.3.0", "cannot start delivery: %s",
		    strerror(errno));
		free(res);
		close(qf);
		lspawn_reply(qmgr.gen, id, o.status, o.code, o.text);
		return;
	}
	if ((pid = fork()) == -1) {
		outcome_set(&o, 'Z', "4.3.0", "cannot fork: %s",
		    strerror(errno));
		free(res);
		close(qf);
		close(p[0]);
		close(p[1]);
		lspawn_reply(qmgr.gen, id, o.status, o.code, o.text);
		return;
	}
	if (pid == 0)
		lspawn_child(qf, p[1], &t, qid, sender, rcpt);
	close(qf);
	lspawn_adopt(c, pid, p[0], p[1]);
	lspawn_start(c, res, t.forward, id, qid, rcpt);
}

/* Relay the answer of c's request (in c->res), or, when there is none,
 * why: failed says how the process ended. The request is done. */
static void
lspawn_answer(struct child *c, const char *failed)
{
	struct outcome o;
	struct buf fw = BUF_INIT;

	/* A .forward's targets, only where a .forward was looked at: a
	 * virtual user's agent has no business redirecting mail. */
	buf_init(&fw, FORWARD_TEXT_MAX);
	if (!c->timedout && !c->overflow && c->forward &&
	    forward_parse(c->res, c->len, &fw) == 1) {
		log_info("%s: to=<%s>, redirected by .forward", c->qid,
		    c->rcpt);
		lspawn_reply(c->gen, c->id, FORWARD_STATUS, FORWARD_CODE,
		    buf_str(&fw));
		buf_free(&fw);
		goto done;
	}
	buf_free(&fw);
	if (c->timedout)
		outcome_set(&o, 'Z', "4.3.0", "delivery agent timed out");
	else if (c->overflow || outcome_parse(c->res, c->len, &o) == -1)
		outcome_set(&o, 'Z', "4.3.0", "delivery agent failed (%s)",
		    failed);
	if (o.status != 'K')
		log_warn("%s: to=<%s>, %c %s %s", c->qid, c->rcpt, o.status,
		    o.code, o.text);
	lspawn_reply(c->gen, c->id, o.status, o.code, o.text);
done:
	free(c->res);
	c->res = NULL;
	nrunning--;
}

/* A worker's answer: one datagram, the whole record. */
static void
lspawn_worker_read(struct child *c)
{
	struct child *oldest;
	char b;
	ssize_t n;

	if (c->fd == -1)
		return;
	/* An idle worker has nothing to say: its EOF (it ended) or
	 * anything else retires it. */
	if (c->res == NULL) {
		n = recv(c->fd, &b, 1, MSG_DONTWAIT);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			return;
		lspawn_retire(c);
		return;
	}
	/* MSG_TRUNC: the datagram's own length, so that an answer too big
	 * for res is known as one. */
	n = recv(c->fd, c->res, LSPAWN_RESULT_MAX, MSG_DONTWAIT | MSG_TRUNC);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		lspawn_retire(c);	/* it is ending: reap() answers */
		return;
	}
	c->len = (size_t)n > LSPAWN_RESULT_MAX ? LSPAWN_RESULT_MAX :
	    (size_t)n;
	c->overflow = (size_t)n > LSPAWN_RESULT_MAX;
	lspawn_answer(c, "bad answer");
	c->idle_since = spawner_now().tv_sec;
	if (c->overflow || c->uses >= (unsigned)conf.local_worker_uses ||
	    c->confgen != confgen)
		lspawn_retire(c);
	else if (lspawn_workers_idle(&oldest) > LSPAWN_WORKERS_IDLE_MAX)
		lspawn_retire(oldest);
}

/* Read whatever the child has written. The buffer is bounded; the rest is
 * read and thrown away so that a chatty agent cannot block on a full
 * pipe until its timeout. */
static void
lspawn_child_read(struct child *c)
{
	char junk[4096];
	ssize_t n;

	if (c->worker) {
		lspawn_worker_read(c);
		return;
	}
	while (c->fd != -1) {
		if (c->len < LSPAWN_RESULT_MAX)
			n = read(c->fd, c->res + c->len,
			    LSPAWN_RESULT_MAX - c->len);
		else
			n = read(c->fd, junk, sizeof(junk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close(c->fd);
			c->fd = -1;
			return;
		}
		if (c->len < LSPAWN_RESULT_MAX)
			c->len += (size_t)n;
		else
			c->overflow = 1;
	}
}

/* c's process is reaped: relay its answer, or say why there is none. */
static void
lspawn_child_done(struct child *c, int status)
{
	char failed[64];

	/* What it wrote before it ended is still in the pipe or socket. */
	lspawn_child_read(c);
	if (c->fd != -1) {
		/* Someone the agent started still holds the pipe. */
		close(c->fd);
		c->fd = -1;
	}
	if (c->res != NULL) {
		if (WIFSIGNALED(status))
			snprintf(failed, sizeof(failed), "killed by signal %d",
			    WTERMSIG(status));
		else
			snprintf(failed, sizeof(failed), "exit %d",
			    WEXITSTATUS(status));
		lspawn_answer(c, failed);
	}
	lspawn_ident_free(&c->ident);
	c->pid = 0;
}

static void
lspawn_reap(void)
{
	pid_t pid;
	size_t i;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < nkids; i++)
			if (kids[i].pid == pid) {
				lspawn_child_done(&kids[i], status);
				break;
			}
	}
}

/* Kill what outlived local_delivery_timeout_seconds, retire workers idle
 * for local_worker_idle_seconds; return the poll() timeout until the next
 * deadline, -1 if none. */
static int
lspawn_deadlines(void)
{
	struct timespec now = spawner_now();
	long long ms, next = -1;
	size_t i;

	for (i = 0; i < nkids; i++) {
		struct child *c = &kids[i];

		if (c->pid == 0 || c->timedout)
			continue;
		if (c->res == NULL) {
			if (!c->worker || c->fd == -1)
				continue;
			ms = ((long long)c->idle_since +
			    conf.local_worker_idle_seconds - now.tv_sec) * 1000;
			if (ms <= 0)
				lspawn_retire(c);
			else if (next == -1 || ms < next)
				next = ms;
			continue;
		}
		ms = (long long)(c->deadline.tv_sec - now.tv_sec) * 1000 +
		    (c->deadline.tv_nsec - now.tv_nsec) / 1000000;
		if (ms <= 0) {
			log_warn("%s: to=<%s>, delivery agent timed out, "
			    "killing pid %ld", c->qid, c->rcpt, (long)c->pid);
			kill(-c->pid, SIGKILL);
			kill(c->pid, SIGKILL);
			c->timedout = 1;
			continue;
		}
		if (next == -1 || ms < next)
			next = ms;
	}
	return next > INT_MAX ? INT_MAX : (int)next;
}

/* Complete records from qmgr. A bad one ends the connection: nothing
 * half-understood is acted on. */
static void
lspawn_qmgr_records(void)
{
	struct buf payload = BUF_INIT;
	const char *f[8];
	size_t used;

	buf_init(&payload, FRAME_MAX);
	while (peer_next(&qmgr, 'L', &payload, f, 8, &used) == 1) {
		if (strlen(f[0]) >= LSPAWN_ID_MAX) {
			peer_drop(&qmgr, "request id too long");
			break;
		}
		lspawn_request(f);
		peer_consume(&qmgr, used);
	}
	buf_free(&payload);
}

static void
lspawn_reload(void)
{
	static struct conf nc;
	struct buf err = BUF_INIT;
	size_t i;

	buf_init(&err, 4096);
	/* A group change shows at once to whoever reloads to see it. */
	lspawn_users_flush();
	/* Workers keep the configuration they were forked with: the idle
	 * ones go now, the busy ones once they have answered. */
	confgen++;
	for (i = 0; i < nkids; i++)
		if (kids[i].pid != 0 && kids[i].worker && kids[i].res == NULL)
			lspawn_retire(&kids[i]);
	if (conf_load(&nc, confdir, &err) == -1)
		log_warn("%s; keeping the old configuration", buf_str(&err));
	else {
		conf = nc;
		log_info("configuration reloaded");
	}
	buf_free(&err);
}

static void
lspawn_loop(void)
{
	struct pollfd *pfd = NULL;
	size_t npfd = 0, n, i, first;
	int timeout;

	for (;;) {
		timeout = lspawn_deadlines();
		if (npfd < nkids + 3) {
			npfd = nkids + 3;
			if ((pfd = reallocarray(pfd, npfd, sizeof(*pfd))) ==
			    NULL)
				fatal("out of memory");
		}
		pfd[0].fd = sigfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = PEER_CTL_FD;
		pfd[1].events = POLLIN;
		peer_pollfd(&qmgr, &pfd[2]);
		first = 3;
		for (i = 0, n = first; i < nkids; i++, n++) {
			pfd[n].fd = kids[i].pid != 0 ? kids[i].fd : -1;
			pfd[n].events = POLLIN;
		}
		if (poll(pfd, n, timeout) == -1) {
			if (errno == EINTR)
				continue;
			fatal_errno("poll");
		}
		spawner_drain();
		if (spawner_got_term) {
			log_info("SIGTERM, exiting; deliveries under way "
			    "finish on their own");
			exit(0);
		}
		if (spawner_got_hup) {
			spawner_got_hup = 0;
			lspawn_reload();
		}
		for (i = 0; i < nkids; i++)
			if (pfd[first + i].fd != -1 && pfd[first + i].revents &&
			    kids[i].pid != 0 && kids[i].fd == pfd[first + i].fd)
				lspawn_child_read(&kids[i]);
		if (spawner_got_chld) {
			spawner_got_chld = 0;
			lspawn_reap();
		}
		if (pfd[1].revents)
			peer_control(&qmgr);
		if (qmgr.fd != -1 && qmgr.fd == pfd[2].fd) {
			peer_event(&qmgr, pfd[2].revents);
			lspawn_qmgr_records();
		}
	}
}

int
main(int argc, char *argv[])
{
	confdir = spawner_start(argc, argv, "lspawn", &conf);

	peer_init(&qmgr, LSPAWN_OUT_MAX);
	sigfd = spawner_signals();
	log_info("started, %s delivery agent",
	    conf.local_agent[0] != '\0' ? conf.local_agent : "built-in");
	lspawn_loop();
	return 0;
}
