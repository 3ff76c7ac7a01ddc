/*
 * crashshim.c: an LD_PRELOAD library that crashes a program at a chosen
 * durability-relevant system call, and can make that crash look like a
 * power loss. Used by tests/integration/test_powerloss.py; see
 * tests/faults/README.md for the model and what it cannot cover.
 *
 *   POSTERN_CRASH_AT=N       the Nth counted call is not performed: the
 *                            process is killed (SIGKILL) in its place. The
 *                            calls before it all happened, so running
 *                            N = 1, 2, 3, ... crashes "after each system
 *                            call in turn"; N = (calls made) + 1 crashes
 *                            at exit, after the last one. Unset or 0:
 *                            count only.
 *   POSTERN_CRASH_MODE=kill  (default) a process crash: whatever the
 *                            program handed the kernel stays.
 *                    =power  a power loss: before the kill, undo what a
 *                            machine that lost power may not have kept
 *                            (the data written to a file since its last
 *                            fsync, and every directory change not yet
 *                            followed by an fsync of that directory).
 *   POSTERN_CRASH_COUNT_FD=F at exit, write "calls N\n" to fd F (how many
 *                            counted calls a full run makes).
 *   POSTERN_CRASH_STASH=DIR  (power) a directory on the same file system
 *                            as the files the program removes: each
 *                            unlink first links the file there, so that
 *                            the power loss can bring it back when its
 *                            directory was not fsync'd after the unlink.
 *                            Unset: an unlink is taken as kept at once.
 *
 * Counted: open/open64/openat/openat64/creat with O_CREAT, write, writev,
 * pwrite/pwrite64, fsync, fdatasync, close, rename/renameat/renameat2,
 * link/linkat, unlink/unlinkat, mkdir/mkdirat: the calls through which a
 * program puts something on disk or tells someone it has (a write to a
 * socket or pipe is where a promise is made, so it counts too).
 *
 * Only calls that go through the dynamic symbol table are seen: stdio's
 * own writes inside libc and raw syscall(2) are not, which is fine for
 * Postern (its durable writes are plain write/pwrite on fds).
 *
 * The library calls the real functions through dlsym(RTLD_NEXT) and keeps
 * its bookkeeping in fixed tables (no malloc: it may run inside anything).
 * It is built without sanitizers, also for the ASan build, which then
 * needs ASAN_OPTIONS=verify_asan_link_order=0.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHIM_FILES	64	/* regular files written, tracked for power */
#define SHIM_OPS	256	/* directory changes not yet fsync'd */
#define SHIM_FD_BASE	900	/* our dups live up here, out of the way */

/* One file with data written since its last fsync. */
struct shim_file {
	dev_t	 dev;
	ino_t	 ino;
	int	 fd;		/* our own dup, to truncate it at the crash */
	off_t	 durable;	/* length at the last fsync (or when first
				 * seen: what was there is taken as kept) */
	int	 dirty;
};

/* One directory change, undone at a power loss until its directory (the
 * one that holds the new name) has been fsync'd. */
struct shim_op {
	char	 kind;		/* 'c' create, 'r' rename, 'l' link, 'm' mkdir,
				 * 'u' unlink */
	dev_t	 pdev;		/* the directory whose fsync makes it kept */
	ino_t	 pino;
	ino_t	 ino;		/* the inode the new name refers to (unlink:
				 * the one removed) */
	char	 path[PATH_MAX];	/* the new name, absolute (unlink: the
					 * name removed) */
	char	 from[PATH_MAX];	/* rename: the old name; unlink: the
					 * stash link that keeps the inode */
	int	 done;		/* fsync'd: kept */
};

static long		 crash_at;
static long		 calls;
static int		 power;
static int		 count_fd = -1;
static const char	*stash;		/* POSTERN_CRASH_STASH */
static long		 nstash;
static struct shim_file	 files[SHIM_FILES];
static size_t		 nfiles;
static struct shim_op	 ops[SHIM_OPS];
static size_t		 nops;
static int		 inside;	/* our own calls are not counted */

#define REAL(name) real_##name
#define DECLARE_REAL(ret, name, ...)					\
	static ret (*real_##name)(__VA_ARGS__)
DECLARE_REAL(int, open, const char *, int, ...);
DECLARE_REAL(int, openat, int, const char *, int, ...);
DECLARE_REAL(ssize_t, write, int, const void *, size_t);
DECLARE_REAL(ssize_t, writev, int, const struct iovec *, int);
DECLARE_REAL(ssize_t, pwrite, int, const void *, size_t, off_t);
DECLARE_REAL(int, fsync, int);
DECLARE_REAL(int, fdatasync, int);
DECLARE_REAL(int, close, int);
DECLARE_REAL(int, renameat2, int, const char *, int, const char *,
    unsigned int);
DECLARE_REAL(int, linkat, int, const char *, int, const char *, int);
DECLARE_REAL(int, unlinkat, int, const char *, int);
DECLARE_REAL(int, mkdirat, int, const char *, mode_t);

static void	*shim_sym(const char *);
static void	 shim_count(const char *, const char *);
static void	 shim_init(void) __attribute__((constructor));
static void	 shim_fini(void) __attribute__((destructor));

static void *
shim_sym(const char *name)
{
	void	*p = dlsym(RTLD_NEXT, name);

	if (p == NULL) {
		static const char msg[] = "crashshim: missing libc symbol\n";
		(void)!write(2, msg, sizeof(msg) - 1);
		_exit(127);
	}
	return p;
}

static void
shim_init(void)
{
	const char	*s;

	real_open = shim_sym("open");
	real_openat = shim_sym("openat");
	real_write = shim_sym("write");
	real_writev = shim_sym("writev");
	real_pwrite = shim_sym("pwrite");
	real_fsync = shim_sym("fsync");
	real_fdatasync = shim_sym("fdatasync");
	real_close = shim_sym("close");
	real_renameat2 = shim_sym("renameat2");
	real_linkat = shim_sym("linkat");
	real_unlinkat = shim_sym("unlinkat");
	real_mkdirat = shim_sym("mkdirat");
	if ((s = getenv("POSTERN_CRASH_AT")) != NULL)
		crash_at = strtol(s, NULL, 10);
	if ((s = getenv("POSTERN_CRASH_MODE")) != NULL &&
	    strcmp(s, "power") == 0)
		power = 1;
	if ((s = getenv("POSTERN_CRASH_COUNT_FD")) != NULL)
		count_fd = (int)strtol(s, NULL, 10);
	if ((s = getenv("POSTERN_CRASH_STASH")) != NULL && s[0] == '/')
		stash = s;
}

static void
shim_fini(void)
{
	char	 line[64];
	int	 n;

	/* N = calls + 1: the power goes right after the program's last call,
	 * as it exits: what it promised must be on disk by then. */
	if (crash_at == calls + 1)
		shim_count("exit", NULL);
	if (count_fd < 0)
		return;
	n = snprintf(line, sizeof(line), "calls %ld\n", calls);
	if (n > 0)
		(void)!real_write(count_fd, line, (size_t)n);
}

/* dirfd + path, as an absolute path (for undoing it after a chdir too). */
static int
shim_abs(int dirfd, const char *path, char *out, size_t outsz)
{
	char	 base[PATH_MAX], link[64];
	ssize_t	 n;
	int	 r;

	if (path[0] == '/')
		r = snprintf(out, outsz, "%s", path);
	else {
		if (dirfd == AT_FDCWD) {
			if (getcwd(base, sizeof(base)) == NULL)
				return -1;
		} else {
			snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
			if ((n = readlink(link, base, sizeof(base) - 1)) < 0)
				return -1;
			base[n] = '\0';
		}
		r = snprintf(out, outsz, "%s/%s", base, path);
	}
	return r < 0 || (size_t)r >= outsz ? -1 : 0;
}

/* Record a directory change to path (absolute), in the directory that
 * holds it. Called after the change succeeded; an unlink's inode is found
 * at its stash link (from), the others' at the new name. */
static void
shim_op_add(char kind, const char *path, const char *from)
{
	struct shim_op	*op;
	struct stat	 st, pst;
	char		 parent[PATH_MAX], *slash;

	if (!power || nops == SHIM_OPS)
		return;
	op = &ops[nops];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	snprintf(op->path, sizeof(op->path), "%s", path);
	if (from != NULL)
		snprintf(op->from, sizeof(op->from), "%s", from);
	snprintf(parent, sizeof(parent), "%s", path);
	if ((slash = strrchr(parent, '/')) == NULL)
		return;
	if (slash == parent)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (lstat(kind == 'u' ? from : path, &st) == -1 ||
	    stat(parent, &pst) == -1)
		return;
	op->ino = st.st_ino;
	op->pdev = pst.st_dev;
	op->pino = pst.st_ino;
	nops++;
}

static struct shim_file *
shim_file_find(const struct stat *st)
{
	size_t	 i;

	for (i = 0; i < nfiles; i++)
		if (files[i].dev == st->st_dev && files[i].ino == st->st_ino)
			return &files[i];
	return NULL;
}

/* Before a write to fd: remember how long the file was, so the power loss
 * can cut what follows. `fresh` for a file we saw created empty. */
static void
shim_file_track(int fd, int fresh)
{
	struct shim_file	*f;
	struct stat		 st;

	if (!power || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		return;
	if ((f = shim_file_find(&st)) == NULL) {
		if (nfiles == SHIM_FILES)
			return;
		f = &files[nfiles];
		f->fd = fcntl(fd, F_DUPFD_CLOEXEC, SHIM_FD_BASE);
		if (f->fd == -1)
			return;
		nfiles++;
		f->dev = st.st_dev;
		f->ino = st.st_ino;
		f->durable = fresh ? 0 : st.st_size;
	}
	if (!fresh)
		f->dirty = 1;
}

/* fsync(fd): a file's data is kept to its length now; a directory's
 * pending changes are kept. */
static void
shim_synced(int fd)
{
	struct shim_file	*f;
	struct stat		 st;
	size_t			 i;

	if (!power || fstat(fd, &st) == -1)
		return;
	if (S_ISDIR(st.st_mode)) {
		for (i = 0; i < nops; i++)
			if (ops[i].pdev == st.st_dev && ops[i].pino == st.st_ino)
				ops[i].done = 1;
	} else if ((f = shim_file_find(&st)) != NULL) {
		f->durable = st.st_size;
		f->dirty = 0;
	}
}

/* Is path still the inode the change made? (Undo nothing else.) */
static int
shim_same(const char *path, ino_t ino)
{
	struct stat	 st;

	return lstat(path, &st) == 0 && st.st_ino == ino;
}

/* What a power loss takes: unsynced data first, then the unsynced
 * directory changes, newest first. */
static void
shim_power_loss(void)
{
	char	 lost[PATH_MAX];
	size_t	 i;

	struct stat	 st;

	for (i = 0; i < nfiles; i++) {
		if (!files[i].dirty)
			continue;
		/* closefrom() may have taken our dup, and the number been
		 * reused: cut only the file we meant. */
		if (fstat(files[i].fd, &st) == 0 &&
		    st.st_dev == files[i].dev && st.st_ino == files[i].ino)
			(void)!ftruncate(files[i].fd, files[i].durable);
		else {
			static const char msg[] =
			    "crashshim: lost a tracked file, not cut\n";
			(void)!real_write(2, msg, sizeof(msg) - 1);
		}
	}
	for (i = nops; i-- > 0;) {
		struct shim_op	*op = &ops[i];

		if (op->done)
			continue;
		if (op->kind == 'u') {
			/* The name comes back, unless a kept change has
			 * taken it since. */
			if (lstat(op->path, &st) == -1 && errno == ENOENT &&
			    shim_same(op->from, op->ino))
				(void)real_renameat2(AT_FDCWD, op->from,
				    AT_FDCWD, op->path, 0);
			continue;
		}
		if (!shim_same(op->path, op->ino))
			continue;
		switch (op->kind) {
		case 'c':
		case 'l':
			(void)real_unlinkat(AT_FDCWD, op->path, 0);
			break;
		case 'r':
			(void)real_renameat2(AT_FDCWD, op->path, AT_FDCWD,
			    op->from, 0);
			break;
		case 'm':
			/* A lost directory entry takes its whole subtree
			 * with it: move it aside where no reader looks. */
			if (rmdir(op->path) == -1 && snprintf(lost,
			    sizeof(lost), "%s.crashshim-lost", op->path) <
			    (int)sizeof(lost))
				(void)real_renameat2(AT_FDCWD, op->path,
				    AT_FDCWD, lost, 0);
			break;
		}
	}
}

/* Count one call; at the chosen one, crash in its place. */
static void
shim_count(const char *what, const char *arg)
{
	char	 msg[PATH_MAX + 128];
	int	 n;

	if (inside)
		return;
	calls++;
	if (crash_at <= 0 || calls < crash_at)
		return;
	inside = 1;
	n = snprintf(msg, sizeof(msg), "crashshim: %s at call %ld: %s%s%s\n",
	    power ? "power loss" : "crash", calls, what, arg ? " " : "",
	    arg ? arg : "");
	if (n > 0)
		(void)!real_write(2, msg, (size_t)n < sizeof(msg) ? (size_t)n :
		    sizeof(msg) - 1);
	if (power)
		shim_power_loss();
	raise(SIGKILL);
	_exit(137);
}

static int
shim_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	char	 abs[PATH_MAX];
	int	 fd, existed = 0;

	if (!(flags & O_CREAT))
		return real_openat(dirfd, path, flags, mode);
	shim_count("open(O_CREAT)", path);
	if (power && !(flags & O_EXCL)) {
		struct stat	 st;

		existed = fstatat(dirfd, path, &st, 0) == 0;
	}
	if ((fd = real_openat(dirfd, path, flags, mode)) == -1)
		return -1;
	if (power && !existed && shim_abs(dirfd, path, abs, sizeof(abs)) == 0) {
		shim_op_add('c', abs, NULL);
		shim_file_track(fd, 1);
	}
	return fd;
}

int
open(const char *path, int flags, ...)
{
	va_list	 ap;
	mode_t	 mode = 0;

	if (flags & (O_CREAT | __O_TMPFILE)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	return shim_openat(AT_FDCWD, path, flags, mode);
}

int
open64(const char *path, int flags, ...)
{
	va_list	 ap;
	mode_t	 mode = 0;

	if (flags & (O_CREAT | __O_TMPFILE)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	return shim_openat(AT_FDCWD, path, flags, mode);
}

int
openat(int dirfd, const char *path, int flags, ...)
{
	va_list	 ap;
	mode_t	 mode = 0;

	if (flags & (O_CREAT | __O_TMPFILE)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	return shim_openat(dirfd, path, flags, mode);
}

int
openat64(int dirfd, const char *path, int flags, ...)
{
	va_list	 ap;
	mode_t	 mode = 0;

	if (flags & (O_CREAT | __O_TMPFILE)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	return shim_openat(dirfd, path, flags, mode);
}

int
creat(const char *path, mode_t mode)
{
	return shim_openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

ssize_t
write(int fd, const void *p, size_t n)
{
	shim_count("write", NULL);
	shim_file_track(fd, 0);
	return real_write(fd, p, n);
}

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
	shim_count("writev", NULL);
	shim_file_track(fd, 0);
	return real_writev(fd, iov, cnt);
}

ssize_t
pwrite(int fd, const void *p, size_t n, off_t off)
{
	shim_count("pwrite", NULL);
	shim_file_track(fd, 0);
	return real_pwrite(fd, p, n, off);
}

ssize_t
pwrite64(int fd, const void *p, size_t n, off_t off)
{
	return pwrite(fd, p, n, off);
}

int
fsync(int fd)
{
	int	 r;

	shim_count("fsync", NULL);
	if ((r = real_fsync(fd)) == 0)
		shim_synced(fd);
	return r;
}

int
fdatasync(int fd)
{
	int	 r;

	shim_count("fdatasync", NULL);
	/* The data, and the size that reaches it: for this model the
	 * same as fsync (fdatasync skips only timestamps). */
	if ((r = real_fdatasync(fd)) == 0)
		shim_synced(fd);
	return r;
}

int
close(int fd)
{
	shim_count("close", NULL);
	return real_close(fd);
}

int
renameat2(int ofd, const char *from, int nfd, const char *to,
    unsigned int flags)
{
	char	 afrom[PATH_MAX], ato[PATH_MAX];
	int	 r, ok;

	shim_count("rename", to);
	ok = power && shim_abs(ofd, from, afrom, sizeof(afrom)) == 0 &&
	    shim_abs(nfd, to, ato, sizeof(ato)) == 0;
	if ((r = real_renameat2(ofd, from, nfd, to, flags)) == 0 && ok)
		shim_op_add('r', ato, afrom);
	return r;
}

int
renameat(int ofd, const char *from, int nfd, const char *to)
{
	return renameat2(ofd, from, nfd, to, 0);
}

int
rename(const char *from, const char *to)
{
	return renameat2(AT_FDCWD, from, AT_FDCWD, to, 0);
}

int
linkat(int ofd, const char *from, int nfd, const char *to, int flags)
{
	char	 ato[PATH_MAX];
	int	 r;

	shim_count("link", to);
	if ((r = real_linkat(ofd, from, nfd, to, flags)) == 0 && power &&
	    shim_abs(nfd, to, ato, sizeof(ato)) == 0)
		shim_op_add('l', ato, NULL);
	return r;
}

int
link(const char *from, const char *to)
{
	return linkat(AT_FDCWD, from, AT_FDCWD, to, 0);
}

/* An unlink can be undone only while the inode has another name: with
 * POSTERN_CRASH_STASH, a link in the stash made just before (not counted).
 * Without it, or for a directory, the unlink is taken as kept at once. */
int
unlinkat(int dirfd, const char *path, int flags)
{
	char	 abs[PATH_MAX], kept[PATH_MAX];
	int	 r, stashed = 0;

	shim_count("unlink", path);
	if (power && stash != NULL && !(flags & AT_REMOVEDIR) &&
	    shim_abs(dirfd, path, abs, sizeof(abs)) == 0 &&
	    snprintf(kept, sizeof(kept), "%s/%ld.%ld", stash, (long)getpid(),
	    nstash++) < (int)sizeof(kept))
		stashed = real_linkat(dirfd, path, AT_FDCWD, kept, 0) == 0;
	r = real_unlinkat(dirfd, path, flags);
	if (stashed) {
		if (r == 0)
			shim_op_add('u', abs, kept);
		else
			(void)real_unlinkat(AT_FDCWD, kept, 0);
	}
	return r;
}

int
unlink(const char *path)
{
	return unlinkat(AT_FDCWD, path, 0);
}

int
mkdirat(int dirfd, const char *path, mode_t mode)
{
	char	 abs[PATH_MAX];
	int	 r;

	shim_count("mkdir", path);
	if ((r = real_mkdirat(dirfd, path, mode)) == 0 && power &&
	    shim_abs(dirfd, path, abs, sizeof(abs)) == 0)
		shim_op_add('m', abs, NULL);
	return r;
}

int
mkdir(const char *path, mode_t mode)
{
	return mkdirat(AT_FDCWD, path, mode);
}
