/*
 * mbox.c: the mbox writer (mbox.h), for home_mailbox = mbox and for
 * "/file" aliases (kind 'f').
 *
 * Format: "mboxrd" (the one format from which a reader gets back exactly
 * what was written): each message starts with "From SENDER DATE" (DATE as
 * asctime(3), local time; MAILER-DAEMON for the null sender), every line
 * that matches ">*From " gets one more '>', and the message ends with an
 * empty line. Python's mailbox.mbox, mutt and Dovecot read it.
 *
 * Locking, as Debian's mail spool wants it: fcntl(F_SETLKW) always, and
 * a dotlock (PATH.lock made with O_EXCL) when we can create files in the
 * directory (in /var/mail, because lspawn gave us the spool's group).
 * Both wait at most MBOX_LOCK_WAIT_SECONDS; a dotlock older than
 * MBOX_DOTLOCK_STALE_SECONDS is a crash's leftover and is removed. The
 * locks are per file, so one user's stuck mailbox holds up nobody else.
 *
 * Durability and atomicity: the old size is noted under the lock, the
 * message appended (O_APPEND) and fsync'd; any error, ENOSPC included,
 * cuts the file back to the old size with ftruncate(), so a reader never
 * sees half a message and the retry does not leave a duplicate fragment.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bsd/string.h>

#include "addr.h"
#include "mbox.h"

#define MBOX_BUF	(256 * 1024)

/* The output side: a buffer in front of the file. */
struct mbox_out {
	int	 fd;
	size_t	 len;
	int	 last;		/* the last byte written, -1 before any */
	char	 b[MBOX_BUF];
};

static volatile sig_atomic_t mbox_alarmed;

static void
mbox_alarm(int sig)
{
	(void)sig;
	mbox_alarmed = 1;
}

static int
mbox_flush(struct mbox_out *w)
{
	const char *p = w->b;
	size_t left = w->len;
	ssize_t n;

	while (left > 0) {
		n = write(w->fd, p, left);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		left -= (size_t)n;
	}
	w->len = 0;
	return 0;
}

static int
mbox_put(struct mbox_out *w, const char *p, size_t len)
{
	size_t k;

	while (len > 0) {
		if (w->len == sizeof(w->b) && mbox_flush(w) == -1)
			return -1;
		k = sizeof(w->b) - w->len;
		if (k > len)
			k = len;
		memcpy(w->b + w->len, p, k);
		w->len += k;
		w->last = (unsigned char)p[k - 1];
		p += k;
		len -= k;
	}
	return 0;
}

static int
mbox_putc(struct mbox_out *w, char c)
{
	return mbox_put(w, &c, 1);
}

/*
 * Copy size bytes from in, quoting ">*From " at the start of a line. At a
 * line start the '>'s are only counted and "From " matched as far as it
 * goes, so a line of any length, split anywhere between reads, is quoted
 * exactly when it must be. -1 with errno (EPIPE: in ended early).
 */
static int
mbox_copy(int in, off_t size, struct mbox_out *w)
{
	static const char from[] = "From ";
	char *b;
	off_t left = size;
	size_t gt = 0, fm = 0, i;
	ssize_t n;
	int bol = 1, rc = -1;

	if ((b = malloc(MBOX_BUF)) == NULL)
		return -1;
	while (left > 0) {
		n = read(in, b, left > MBOX_BUF ? MBOX_BUF : (size_t)left);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EPIPE;
			goto out;
		}
		left -= n;
		for (i = 0; i < (size_t)n; i++) {
			char c = b[i];

			if (!bol) {
				if (mbox_putc(w, c) == -1)
					goto out;
				bol = c == '\n';
				continue;
			}
			if (fm == 0 && c == '>') {
				gt++;
				continue;
			}
			if (c == from[fm] && ++fm < sizeof(from) - 1)
				continue;
			/* Decided. ">*From ": one more '>' than it had;
			 * anything else: what was held back, then c. */
			if (fm == sizeof(from) - 1)
				gt++;
			for (; gt > 0; gt--)
				if (mbox_putc(w, '>') == -1)
					goto out;
			if (fm == sizeof(from) - 1) {
				if (mbox_put(w, from, fm) == -1)
					goto out;
				bol = 0;
			} else {
				if ((fm > 0 && mbox_put(w, from, fm) == -1) ||
				    mbox_putc(w, c) == -1)
					goto out;
				bol = c == '\n';
			}
			fm = 0;
		}
	}
	/* A last line that was still undecided is not a From_ line. */
	for (; gt > 0; gt--)
		if (mbox_putc(w, '>') == -1)
			goto out;
	if (fm > 0 && mbox_put(w, from, fm) == -1)
		goto out;
	rc = 0;
out:
	free(b);
	return rc;
}

/* fcntl write lock on the whole file, waiting until deadline. */
static int
mbox_fcntl_lock(int fd, time_t deadline)
{
	struct sigaction sa, old;
	struct flock fl;
	time_t now = time(NULL);
	int rc, err;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_SETLK, &fl) == 0)
		return 0;
	if (errno != EACCES && errno != EAGAIN)
		return -1;
	/* Someone holds it: wait, but not for ever. SIGALRM without
	 * SA_RESTART makes F_SETLKW return EINTR at the deadline. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = mbox_alarm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old);
	mbox_alarmed = 0;
	alarm(deadline > now ? (unsigned)(deadline - now) : 1);
	rc = fcntl(fd, F_SETLKW, &fl);
	err = errno;
	alarm(0);
	sigaction(SIGALRM, &old, NULL);
	if (rc == -1 && err == EINTR && mbox_alarmed)
		err = EWOULDBLOCK;
	errno = err;
	return rc;
}

/* PATH.lock, created exclusively; 1 taken, 0 the directory does not let
 * us (not an error: fcntl is the lock then), -1 with errno. */
static int
mbox_dotlock(const char *lock, time_t deadline)
{
	struct timespec pause = { 0, 200 * 1000 * 1000 };
	struct stat st;
	int fd;

	for (;;) {
		fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (fd != -1) {
			close(fd);
			return 1;
		}
		if (errno == EACCES || errno == EPERM || errno == EROFS)
			return 0;
		if (errno != EEXIST)
			return -1;
		if (lstat(lock, &st) == 0 &&
		    time(NULL) - st.st_mtime > MBOX_DOTLOCK_STALE_SECONDS) {
			/* A crash's leftover; whoever made it is gone. */
			unlink(lock);
			continue;
		}
		if (time(NULL) >= deadline) {
			errno = EWOULDBLOCK;
			return -1;
		}
		nanosleep(&pause, NULL);
	}
}

static void
mbox_fail(struct outcome *o, const char *path, int err)
{
	if (err == ENOSPC || err == EDQUOT || err == EFBIG)
		outcome_set(o, 'Z', "4.2.2", "mailbox full");
	else if (err == EWOULDBLOCK)
		outcome_set(o, 'Z', "4.2.0", "mailbox %s is locked", path);
	else
		outcome_set(o, 'Z', "4.3.0", "mailbox %s: %s", path,
		    strerror(err));
}

/* Open (or create) the mailbox for appending; read too, for the check
 * that the last message ends with an empty line. */
static int
mbox_open(const char *path, const struct mbox_how *how)
{
	int fd, tries;

	for (tries = 0; tries < 2; tries++) {
		fd = open(path, O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
		if (fd != -1 || errno != ENOENT)
			return fd;
		fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd == -1) {
			if (errno == EEXIST)
				continue;	/* made meanwhile: open it */
			return -1;
		}
		/* The spool's group and 0660, as Debian's mail readers
		 * expect; fchmod, because the umask is not ours to trust. */
		if ((how->group != (gid_t)-1 &&
		    fchown(fd, (uid_t)-1, how->group) == -1) ||
		    fchmod(fd, how->mode) == -1) {
			close(fd);
			return -1;
		}
		return fd;
	}
	errno = EEXIST;
	return -1;
}

/* An address in the From_ line: one word, no control characters. */
static void
mbox_from_line(char *out, size_t outsz, const char *sender)
{
	char date[64], who[ADDR_TEXT_MAX];
	struct tm tm;
	time_t now = time(NULL);
	size_t i;

	strlcpy(who, sender[0] != '\0' ? sender : "MAILER-DAEMON",
	    sizeof(who));
	for (i = 0; who[i] != '\0'; i++)
		if ((unsigned char)who[i] <= ' ' || who[i] == 0x7f)
			who[i] = '_';
	/* asctime(3)'s layout, without its newline. */
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
	snprintf(out, outsz, "From %s %s\n", who, date);
}

static int
mbox_addr_clean(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int
mbox_deliver(int msgfd, off_t size, const char *sender,
    const char *recipient, const char *path, const struct mbox_how *how,
    struct outcome *o)
{
	char lock[PATH_MAX], dir[PATH_MAX], line[ADDR_TEXT_MAX + 80];
	char hdr[2 * ADDR_TEXT_MAX + 64], tail[2];
	struct mbox_out *w = NULL;
	struct stat st;
	time_t deadline = time(NULL) + MBOX_LOCK_WAIT_SECONDS;
	off_t old = -1;
	char *slash;
	int fd = -1, locked = 0, err, n;

	if (!mbox_addr_clean(sender) || !mbox_addr_clean(recipient)) {
		outcome_set(o, 'D', "5.3.0",
		    "envelope address holds a control character");
		return -1;
	}
	/* The bit bucket of every aliases file: nothing to write or lock. */
	if (strcmp(path, "/dev/null") == 0) {
		outcome_set(o, 'K', "2.0.0", "discarded (/dev/null)");
		return 0;
	}
	n = snprintf(hdr, sizeof(hdr), "Return-Path: <%s>\nDelivered-To: "
	    "<%s>\n", sender, recipient);
	if (path[0] != '/' || n < 0 || (size_t)n >= sizeof(hdr) ||
	    snprintf(lock, sizeof(lock), "%s.lock", path) >= (int)sizeof(lock)) {
		outcome_set(o, 'D', "5.3.0", "bad mailbox path or address");
		return -1;
	}
	if ((fd = mbox_open(path, how)) == -1) {
		mbox_fail(o, path, errno);
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		mbox_fail(o, path, errno);
		goto fail;
	}
	/* A link would let the file's owner have us write elsewhere. */
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
		outcome_set(o, 'D', "5.3.0", "mailbox %s is not a regular "
		    "file with one link", path);
		goto fail;
	}
	if (how->owner != (uid_t)-1 && st.st_uid != how->owner) {
		outcome_set(o, 'Z', "4.3.0", "mailbox %s is not owned by "
		    "the recipient", path);
		goto fail;
	}
	if (mbox_fcntl_lock(fd, deadline) == -1) {
		mbox_fail(o, path, errno);
		goto fail;
	}
	if (how->dotlock) {
		strlcpy(dir, path, sizeof(dir));
		slash = strrchr(dir, '/');
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
		/* Only where the directory lets us: elsewhere fcntl alone. */
		if (access(dir, W_OK) == 0) {
			if ((locked = mbox_dotlock(lock, deadline)) == -1) {
				locked = 0;
				mbox_fail(o, path, errno);
				goto fail;
			}
		}
	}
	/* The size under the lock: what we cut back to on failure. */
	if (fstat(fd, &st) == -1) {
		mbox_fail(o, path, errno);
		goto fail;
	}
	old = st.st_size;
	if ((w = malloc(sizeof(*w))) == NULL) {
		mbox_fail(o, path, errno);
		goto fail;
	}
	w->fd = fd;
	w->len = 0;
	w->last = -1;
	/* A From_ line needs an empty line before it; a file someone left
	 * without one gets it here. */
	if (old > 0) {
		size_t k = old >= 2 ? 2 : 1;

		if (pread(fd, tail, k, old - (off_t)k) != (ssize_t)k) {
			mbox_fail(o, path, errno);
			goto fail;
		}
		if (tail[k - 1] != '\n')
			mbox_put(w, "\n\n", 2);
		else if (k == 2 && tail[0] != '\n')
			mbox_putc(w, '\n');
	}
	mbox_from_line(line, sizeof(line), sender);
	if (mbox_put(w, line, strlen(line)) == -1 ||
	    mbox_put(w, hdr, (size_t)n) == -1 ||
	    mbox_copy(msgfd, size, w) == -1 ||
	    (w->last != '\n' && mbox_putc(w, '\n') == -1) ||
	    mbox_putc(w, '\n') == -1 || mbox_flush(w) == -1 ||
	    fsync(fd) == -1) {
		err = errno;
		if (err == EPIPE)
			outcome_set(o, 'Z', "4.3.0", "short message");
		else
			mbox_fail(o, path, err);
		goto fail;
	}
	if (locked)
		unlink(lock);
	/* close() can report a delayed write error (NFS, quotas); the
	 * bytes are fsync'd, so a late error here is only logged upstream. */
	if (close(fd) == -1) {
		mbox_fail(o, path, errno);
		free(w);
		return -1;
	}
	free(w);
	outcome_set(o, 'K', "2.0.0", "delivered to mailbox");
	return 0;
fail:
	if (old != -1 && ftruncate(fd, old) == 0)
		(void)fsync(fd);
	if (locked)
		unlink(lock);
	close(fd);
	free(w);
	return -1;
}
