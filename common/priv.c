/*
 * priv.c: giving up root, for good (see priv.h).
 *
 * Called once near the top of smtpd, enqueue, qmgr, remote (priv_drop) and
 * in lspawn's child for each recipient (priv_drop_uid), after everything that
 * needs root is open. The user is looked up before any chroot, since the
 * jail has no passwd file.
 *
 * Every failure to drop is fatal(): a process that meant to lose root and
 * could not must not go on with it. After the change we check that it took
 * (all three uids and gids, and that uid/gid 0 cannot be had back), because
 * set*id calls have failed silently before (the RLIMIT_NPROC setuid bug).
 *
 * Not root to begin with (a developer's "make run"): nothing changes, one
 * line is logged, and the call returns 0.
 */
#include <errno.h>
#include <limits.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/types.h>
#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "log.h"
#include "priv.h"

/* Users remembered by priv_remember(): sessiond's queue_user and
 * smtpd_user. */
#define PRIV_KNOWN_MAX	4
static struct {
	char	 name[64];
	uid_t	 uid;
	gid_t	 gid;
} known[PRIV_KNOWN_MAX];
static size_t	 nknown;

int
priv_is_root(void)
{
	return geteuid() == 0;
}

int
priv_lookup(const char *user, uid_t *uid, gid_t *gid)
{
	struct passwd	*pw;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		/* glibc reports "no such user" as any of these, or 0. */
		if (errno == ENOENT || errno == ESRCH || errno == EBADF ||
		    errno == EPERM)
			errno = 0;
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

int
priv_remember(const char *user)
{
	uid_t	 uid;
	gid_t	 gid;
	size_t	 i;

	if (strlen(user) >= sizeof(known[0].name) ||
	    priv_lookup(user, &uid, &gid) == -1)
		return -1;
	for (i = 0; i < nknown; i++)
		if (strcmp(known[i].name, user) == 0)
			break;
	if (i == PRIV_KNOWN_MAX)
		return 0;	/* not kept: priv_drop() looks it up */
	strlcpy(known[i].name, user, sizeof(known[i].name));
	known[i].uid = uid;
	known[i].gid = gid;
	if (i == nknown)
		nknown++;
	return 0;
}

void
priv_forget(void)
{
	nknown = 0;
}

static void
not_root(const char *user, const char *chroot_dir)
{
	static int	 said;

	if (said)
		return;
	said = 1;
	log_info("not running as root: no uid change or chroot "
	    "(would be user %s, chroot %s)", user,
	    chroot_dir != NULL && *chroot_dir != '\0' ? chroot_dir : "none");
}

/* setresgid/setresuid to the target and check that it holds. */
static void
priv_set(uid_t uid, gid_t gid, const char *who)
{
	uid_t	 ru, eu, su;
	gid_t	 rg, eg, sg;

	/* gid first: once the uid is gone, changing gids is not allowed. */
	if (setresgid(gid, gid, gid) == -1)
		fatal_errno("%s: setresgid(%lu)", who, (unsigned long)gid);
	if (setresuid(uid, uid, uid) == -1)
		fatal_errno("%s: setresuid(%lu)", who, (unsigned long)uid);
	if (getresuid(&ru, &eu, &su) == -1 || getresgid(&rg, &eg, &sg) == -1)
		fatal_errno("%s: getresuid", who);
	if (ru != uid || eu != uid || su != uid ||
	    rg != gid || eg != gid || sg != gid)
		fatal("%s: uid/gid change did not take", who);
	if (uid != 0 && (setuid(0) != -1 || seteuid(0) != -1))
		fatal("%s: uid 0 could be regained after dropping", who);
	if (uid != 0 && gid != 0 && (setgid(0) != -1 || setegid(0) != -1))
		fatal("%s: gid 0 could be regained after dropping", who);
}

int
priv_drop(const char *user, const char *chroot_dir)
{
	struct passwd	*pw;
	uid_t		 uid;
	gid_t		 gid;
	size_t		 i;

	if (!priv_is_root()) {
		not_root(user, chroot_dir);
		return 0;
	}
	for (i = 0; i < nknown; i++)
		if (strcmp(known[i].name, user) == 0)
			break;
	if (i < nknown) {
		uid = known[i].uid;
		gid = known[i].gid;
		goto found;
	}
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		if (errno == 0 || errno == ENOENT || errno == ESRCH ||
		    errno == EBADF || errno == EPERM)
			fatal("user %s: no such user", user);
		fatal_errno("user %s: getpwnam", user);
	}
	uid = pw->pw_uid;
	gid = pw->pw_gid;
found:
	if (uid == 0)
		fatal("user %s has uid 0: refusing to run as root", user);

	if (chroot_dir != NULL && *chroot_dir != '\0') {
		/* chdir first, chroot("."), then chdir("/"): no moment where
		 * the cwd is outside the jail. */
		if (chdir(chroot_dir) == -1)
			fatal_errno("chdir %s", chroot_dir);
		if (chroot(".") == -1)
			fatal_errno("chroot %s", chroot_dir);
		if (chdir("/") == -1)
			fatal_errno("chdir / in %s", chroot_dir);
	}
	/* Only the primary group: a daemon user needs no others, and
	 * initgroups() would read /etc/group, absent in the jail. */
	if (setgroups(1, &gid) == -1)
		fatal_errno("user %s: setgroups", user);
	priv_set(uid, gid, user);
	return 0;
}

int
priv_drop_uid(uid_t uid, gid_t gid, const char *name)
{
	return priv_drop_uid_extra(uid, gid, name, 0);
}

/*
 * Drop to a recipient: uid, gid, the recipient's supplementary groups (a
 * Maildir or a program may rely on them, as in the user's own login), and
 * when extra is not 0 one more group: the group that owns
 * the mail spool directory (Debian's /var/mail is root:mail 2775). The
 * built-in mbox writer needs it to create a missing mailbox and its
 * dotlock there, as Debian's setgid-mail delivery programs do; it is only
 * asked for the built-in writer, never for a program a user controls.
 */
int
priv_drop_uid_extra(uid_t uid, gid_t gid, const char *name, gid_t extra)
{
	gid_t	*groups;
	int	 n;

	if (uid == 0)
		fatal("refusing to run a delivery as uid 0 (%s)",
		    name != NULL ? name : "?");
	if (!priv_is_root()) {
		not_root(name != NULL ? name : "?", "");
		return 0;
	}
	if (name != NULL && *name != '\0') {
		if (initgroups(name, gid) == -1)
			fatal_errno("user %s: initgroups", name);
	} else if (setgroups(1, &gid) == -1)
		fatal_errno("uid %lu: setgroups", (unsigned long)uid);
	if (extra != 0) {
		/* Sized by the kernel's answer: NGROUPS_MAX is 65536 on Linux,
		 * too much to put on every delivery child's stack. */
		if ((n = getgroups(0, NULL)) == -1 ||
		    (groups = reallocarray(NULL, (size_t)n + 1,
		    sizeof(*groups))) == NULL ||
		    (n = getgroups(n, groups)) == -1)
			fatal_errno("getgroups");
		groups[n++] = extra;
		if (setgroups((size_t)n, groups) == -1)
			fatal_errno("setgroups");
		free(groups);
	}
	priv_set(uid, gid, name != NULL && *name != '\0' ? name : "?");
	return 0;
}

int
priv_drop_uid_groups(uid_t uid, gid_t gid, const char *name,
    const gid_t *groups, size_t ngroups, gid_t extra)
{
	gid_t	*all;
	size_t	 n = ngroups;

	if (uid == 0)
		fatal("refusing to run a delivery as uid 0 (%s)",
		    name != NULL ? name : "?");
	if (!priv_is_root()) {
		not_root(name != NULL ? name : "?", "");
		return 0;
	}
	/* An empty list would keep root's own supplementary groups. */
	if (ngroups == 0) {
		groups = &gid;
		n = 1;
	}
	if ((all = reallocarray(NULL, n + 1, sizeof(*all))) == NULL)
		fatal_errno("setgroups");
	memcpy(all, groups, n * sizeof(*all));
	if (extra != 0)
		all[n++] = extra;
	if (setgroups(n, all) == -1)
		fatal_errno("uid %lu: setgroups", (unsigned long)uid);
	free(all);
	priv_set(uid, gid, name != NULL && *name != '\0' ? name : "?");
	return 0;
}
