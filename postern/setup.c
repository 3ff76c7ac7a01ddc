/*
 * setup.c: "postern setup", which makes an instance's file system and users
 * what Postern expects. Idempotent: run it again after an upgrade or a
 * mistake, and it creates what is missing and puts owners and modes back.
 *
 *   users        smtpd_user, queue_user, virtual_mail_user, resolve_user,
 *                remote_user: system users
 *                with their own group, no home, no shell (useradd, run with
 *                execve and an argv: a name never meets a shell)
 *   spool        root:root 0755; tmp new active deferred hold corrupt state
 *                control
 *                queue_user 0700; trigger a FIFO, queue_user 0600
 *   chroot       smtpd_chroot_directory root:root 0755, should be empty;
 *                remote_chroot_directory likewise (rspawn's);
 *                resolve_chroot_directory root:root 0755 with etc/ in it
 *                (master copies resolv_conf_file to etc/resolv.conf)
 *   virtual      virtual_mailbox_base virtual_mail_user 0700
 *   passwd       CONFDIR/passwd and passwd.cdb (AUTH hashes), when there:
 *                root, group queue_user's, 0640
 *
 * Missing parents are created root:root 0755. Nothing is followed through a
 * symbolic link: every directory is opened with O_NOFOLLOW and changed with
 * fchown/fchmod, so a link planted in the spool cannot make root chown
 * something else. A non-FIFO where the trigger belongs is an error and is
 * left alone for the operator to look at.
 *
 * Not root: the directories are created owned by the caller (a developer's
 * instance), users and ownership are skipped, and that is said.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include <bsd/string.h>

#include "conf.h"
#include "spool.h"
#include "postern.h"

#define USERADD	"/usr/sbin/useradd"

struct owner {
	uid_t	 uid;
	gid_t	 gid;
};

static int	 setup_root;	/* running as root: users and chown */
static int	 setup_rc;	/* the first failure's exit status */

/* "what path: strerror(errno)", and remember rc. */
static void
setup_fail(int rc, const char *what, const char *path)
{
	complain("%s %s: %s", what, path, strerror(errno));
	if (setup_rc == 0)
		setup_rc = rc;
}

/* A user name useradd cannot mistake for an option. */
static int
user_name_ok(const char *s)
{
	size_t	 i;

	if (s[0] == '\0' || s[0] == '-' || strlen(s) > 32)
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || s[i] == '-' || s[i] == '.'))
			return 0;
	return 1;
}

static void
user_create(const char *name)
{
	char	*argv[12];
	char	*env[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	int	 n = 0, status;
	pid_t	 pid;

	if (getpwnam(name) != NULL)
		return;
	if (!user_name_ok(name)) {
		complain("bad user name \"%s\" in the configuration", name);
		if (setup_rc == 0)
			setup_rc = EX_CONFIG;
		return;
	}
	argv[n++] = (char *)"useradd";
	argv[n++] = (char *)"--system";
	if (getgrnam(name) == NULL)
		argv[n++] = (char *)"--user-group";
	else {
		/* A group of that name is left from before: join it. */
		argv[n++] = (char *)"--gid";
		argv[n++] = (char *)name;
	}
	argv[n++] = (char *)"--no-create-home";
	argv[n++] = (char *)"--home-dir";
	argv[n++] = (char *)"/nonexistent";
	argv[n++] = (char *)"--shell";
	argv[n++] = (char *)"/usr/sbin/nologin";
	argv[n++] = (char *)name;
	argv[n] = NULL;
	fflush(stdout);
	if ((pid = fork()) == -1) {
		setup_fail(EX_OSERR, "fork for", USERADD);
		return;
	}
	if (pid == 0) {
		execve(USERADD, argv, env);
		fprintf(stderr, "postern: %s: %s\n", USERADD, strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			setup_fail(EX_OSERR, "waitpid", USERADD);
			return;
		}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		complain("%s %s failed", USERADD, name);
		if (setup_rc == 0)
			setup_rc = EX_UNAVAILABLE;
		return;
	}
	say("created user %s", name);
}

static struct owner
owner_of(const char *user)
{
	struct owner	 o = { getuid(), getgid() };
	struct passwd	*pw;

	if (!setup_root)
		return o;
	if (user == NULL) {
		o.uid = 0;
		o.gid = 0;
	} else if ((pw = getpwnam(user)) != NULL) {
		o.uid = pw->pw_uid;
		o.gid = pw->pw_gid;
	} else {
		complain("no user %s: its directories stay root's", user);
		if (setup_rc == 0)
			setup_rc = EX_NOUSER;
		o.uid = 0;
		o.gid = 0;
	}
	return o;
}

/* Set owner (root only) and mode through an fd that is no symlink. */
static void
fix_fd(int fd, const char *path, struct owner o, mode_t mode)
{
	if (setup_root && fchown(fd, o.uid, o.gid) == -1)
		setup_fail(EX_CANTCREAT, "chown", path);
	if (fchmod(fd, mode) == -1)
		setup_fail(EX_CANTCREAT, "chmod", path);
}

/* mkdir -p for the parents of path, 0755, owned by whoever we are. */
static void
parents_make(const char *path)
{
	char	 p[PATH_MAX], *s;

	strlcpy(p, path, sizeof(p));
	for (s = p + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		if (mkdir(p, 0755) == 0)
			say("created %s", p);
		*s = '/';
	}
}

static void
dir_make(const char *path, struct owner o, mode_t mode)
{
	int	 fd;

	parents_make(path);
	if (mkdir(path, mode) == 0)
		say("created %s", path);
	else if (errno != EEXIST) {
		setup_fail(EX_CANTCREAT, "mkdir", path);
		return;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		setup_fail(EX_CANTCREAT, "directory (no symlink)", path);
		return;
	}
	fix_fd(fd, path, o, mode);
	close(fd);
}

/* The FIFO enqueue writes to and qmgr reads: opening it O_NONBLOCK for
 * reading never blocks, and O_NOFOLLOW refuses a link. */
static void
fifo_make(const char *path, struct owner o)
{
	struct stat	 st;
	int		 fd;

	if (lstat(path, &st) == -1) {
		if (errno != ENOENT || mkfifo(path, 0600) == -1) {
			setup_fail(EX_CANTCREAT, "mkfifo", path);
			return;
		}
		say("created %s", path);
	} else if (!S_ISFIFO(st.st_mode)) {
		complain("%s is not a FIFO; remove it and run setup again",
		    path);
		if (setup_rc == 0)
			setup_rc = EX_CANTCREAT;
		return;
	}
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		setup_fail(EX_CANTCREAT, "open", path);
		return;
	}
	fix_fd(fd, path, o, 0600);
	close(fd);
}

static void
chroot_check_empty(const char *path)
{
	DIR		*d;
	struct dirent	*e;

	if ((d = opendir(path)) == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			complain("warning: %s is not empty (%s): smtpd's chroot "
			    "should hold nothing", path, e->d_name);
			break;
		}
	closedir(d);
}

/*
 * CONFDIR/passwd and passwd.cdb hold the SMTP AUTH hashes
 * (docs/tables.md): root's, group queue_user's (enqueue reads them as
 * queue_user), 0640, never world-readable. Left alone when absent.
 */
static void
secret_fix(const struct conf *c, const char *name, struct owner queue)
{
	struct owner	 o = { 0, queue.gid };
	char		 p[PATH_MAX];
	int		 fd;

	if (conf_path(c, name, p, sizeof(p)) == -1)
		return;
	fd = open(p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		if (errno != ENOENT)
			setup_fail(EX_CANTCREAT, "open (no symlink)", p);
		return;
	}
	if (!setup_root)
		o = owner_of(NULL);	/* the caller's: chown skipped */
	fix_fd(fd, p, o, 0640);
	close(fd);
}

int
cmd_setup(const char *confdir, int argc, char **argv)
{
	static const char *const subdirs[] = { SPOOL_TMP, SPOOL_NEW,
	    SPOOL_ACTIVE, SPOOL_DEFERRED, SPOOL_HOLD, SPOOL_CORRUPT,
	    SPOOL_STATE, SPOOL_CONTROL };
	struct conf	 c;
	struct owner	 root, queue, vmail;
	char		 p[PATH_MAX];
	size_t		 i;

	if (argc != 1) {
		complain("setup takes no arguments");
		return EX_USAGE;
	}
	conf_load_or_exit(&c, confdir);
	setup_root = geteuid() == 0;
	umask(022);
	if (setup_root) {
		user_create(c.smtpd_user);
		user_create(c.queue_user);
		user_create(c.virtual_mail_user);
		user_create(c.resolve_user);
		user_create(c.remote_user);
	}
	root = owner_of(NULL);
	queue = owner_of(c.queue_user);
	vmail = owner_of(c.virtual_mail_user);

	dir_make(c.spool_directory, root, 0755);
	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		if ((size_t)snprintf(p, sizeof(p), "%s/%s", c.spool_directory,
		    subdirs[i]) >= sizeof(p)) {
			complain("spool_directory too long");
			return EX_CONFIG;
		}
		dir_make(p, queue, 0700);
	}
	if ((size_t)snprintf(p, sizeof(p), "%s/%s", c.spool_directory,
	    SPOOL_TRIGGER) >= sizeof(p)) {
		complain("spool_directory too long");
		return EX_CONFIG;
	}
	fifo_make(p, queue);
	dir_make(c.smtpd_chroot_directory, root, 0755);
	chroot_check_empty(c.smtpd_chroot_directory);
	dir_make(c.remote_chroot_directory, root, 0755);
	chroot_check_empty(c.remote_chroot_directory);
	dir_make(c.resolve_chroot_directory, root, 0755);
	if ((size_t)snprintf(p, sizeof(p), "%s/etc",
	    c.resolve_chroot_directory) >= sizeof(p)) {
		complain("resolve_chroot_directory too long");
		return EX_CONFIG;
	}
	dir_make(p, root, 0755);
	dir_make(c.virtual_mailbox_base, vmail, 0700);
	secret_fix(&c, "passwd", queue);
	secret_fix(&c, "passwd.cdb", queue);

	if (!setup_root)
		say("not root: system users and ownership skipped; the "
		    "directories belong to you");
	if (setup_rc == 0)
		say("setup done for %s", c.confdir);
	return setup_rc;
}
