/*
 * priv.h: giving up root, for good.
 *
 * priv_drop() looks the user up, optionally chroots (chdir, chroot, chdir
 * "/"), then setgroups/initgroups, setresgid, setresuid, and verifies that
 * neither uid nor gid 0 can be regained; any failure is fatal(): a process
 * that cannot drop must not go on. The user is looked up before chroot, so
 * the passwd database need not exist inside the jail.
 *
 * When the process is not root to begin with (a developer's "make run"),
 * nothing changes: the call logs once that uid changes and chroot are skipped
 * and returns 0. Callers must not treat that as an error.
 */
#ifndef POSTERN_PRIV_H
#define POSTERN_PRIV_H

#include <sys/types.h>

int	 priv_is_root(void);
/* Drop to user (by name), chrooting into dir first if dir is non-empty. */
int	 priv_drop(const char *user, const char *chroot_dir);
/* Drop to a uid/gid (lspawn's child for a recipient); name is used for
 * initgroups(). uid 0 is refused (fatal). */
int	 priv_drop_uid(uid_t uid, gid_t gid, const char *name);
/* The same, plus the supplementary group extra (0: none; root's group
 * is never added): the mail spool's group for the built-in mbox writer. */
int	 priv_drop_uid_extra(uid_t uid, gid_t gid, const char *name,
	    gid_t extra);
/* The same with the supplementary groups given (a list the caller looked
 * up with getgrouplist() before fork(): the child then never reads the
 * group database, whose NSS modules cost a dlopen() per process), plus
 * extra as above. */
int	 priv_drop_uid_groups(uid_t uid, gid_t gid, const char *name,
	    const gid_t *groups, size_t ngroups, gid_t extra);
/* Remember user's uid and gid (looked up now) for priv_drop(), which then
 * skips getpwnam(): sessiond resolves its two users once and its forked
 * children inherit the answer. -1 (errno 0: no such user) when the lookup
 * fails; priv_drop() then looks the user up itself. priv_forget() drops
 * what was remembered. */
int	 priv_remember(const char *user);
void	 priv_forget(void);
/* Look a user up: 0 and uid/gid set, -1 no such user (errno 0) or error. */
int	 priv_lookup(const char *user, uid_t *uid, gid_t *gid);

#endif
