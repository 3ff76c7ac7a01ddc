/*
 * maildir.c: the Maildir writer (cr.yp.to/proto/maildir.html) shared by
 * lspawn's built-in agent and local(8).
 *
 * The order of the steps is the whole point, and follows the spool's own
 * commit (DESIGN.md): create tmp/NAME exclusively, write, fsync, check
 * close(), link() it into new/ (a link never replaces a file that is there,
 * where rename() would silently overwrite another message), unlink tmp/NAME,
 * fsync new/. A crash before the link leaves a stray tmp/ file and no mail
 * (qmgr still has no outcome, so the message is delivered again); a crash
 * after it leaves the mail in new/, perhaps delivered twice: at-least-once,
 * never lost.
 *
 * The caller runs as the recipient and its cwd is anything: every path is
 * built from the absolute maildir path.
 */
#include <sys/stat.h>
#include <sys/time.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bsd/string.h>

#include "addr.h"
#include "spool.h"
#include "maildir.h"

#define MAILDIR_COPY_BUF	(256 * 1024)	/* big writes, few syscalls */
#define MAILDIR_NAME_TRIES	5		/* EEXIST means a clash, retry */

static unsigned long maildir_counter;	/* Q part: names within one process */

/*
 * A unique name: "SECONDS.M<usec>P<pid>Q<n>.HOST". '/' would be a path
 * separator and ':' starts the flags of a name in cur/, so the maildir
 * spec writes them as octal escapes. The host part is cut so that the name
 * stays within NAME_MAX.
 */
static int
maildir_name(char *out, size_t outsz, const char *hostname)
{
	struct timeval tv;
	size_t len, max;
	int n;

	gettimeofday(&tv, NULL);
	n = snprintf(out, outsz, "%lld.M%06ldP%ldQ%lu.", (long long)tv.tv_sec,
	    (long)tv.tv_usec, (long)getpid(), ++maildir_counter);
	if (n < 0 || (size_t)n >= outsz)
		return -1;
	len = (size_t)n;
	max = outsz - 1 < NAME_MAX ? outsz - 1 : NAME_MAX;
	for (; *hostname != '\0'; hostname++) {
		const char *esc = NULL;

		if (*hostname == '/')
			esc = "\\057";
		else if (*hostname == ':')
			esc = "\\072";
		if (len + (esc ? 4 : 1) > max)
			break;
		if (esc) {
			memcpy(out + len, esc, 4);
			len += 4;
		} else
			out[len++] = *hostname;
	}
	out[len] = '\0';
	return 0;
}

/* Create the Maildir and its three folders; the parent must exist: a
 * missing home directory is the operator's to fix, not ours to invent. */
static int
maildir_make(const char *dir)
{
	static const char *const sub[] = { "tmp", "new", "cur" };
	char path[PATH_MAX];
	size_t i;
	int n;

	char *slash;
	int made = 0;

	if (mkdir(dir, 0700) == -1) {
		if (errno != EEXIST)
			return -1;
	} else {
		/* The new name must outlive a power loss like the mail in it
		 * will: fsync new/ alone does not keep new/ itself (the
		 * power-loss model, tests/faults/, lost a 'K' mail here). */
		n = snprintf(path, sizeof(path), "%s", dir);
		if (n < 0 || (size_t)n >= sizeof(path) ||
		    (slash = strrchr(path, '/')) == NULL) {
			errno = ENAMETOOLONG;
			return -1;
		}
		slash[slash == path ? 1 : 0] = '\0';
		if (spool_fsync_dir(path) == -1)
			return -1;
	}
	for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		n = snprintf(path, sizeof(path), "%s/%s", dir, sub[i]);
		if (n < 0 || (size_t)n >= sizeof(path)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (mkdir(path, 0700) == 0)
			made = 1;
		else if (errno != EEXIST)
			return -1;
	}
	/* The same for tmp/, new/ and cur/ in the Maildir. */
	if (made && spool_fsync_dir(dir) == -1)
		return -1;
	return 0;
}

static int
maildir_writeall(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Copy exactly size bytes from in to out. copy_file_range() first: the
 * bytes never cross into user space, and on one file system (the usual case
 * of /var/spool and /home on a small server) the kernel may share extents.
 * It refuses pipes and, on most kernels, other file systems; then a plain
 * read/write loop takes over from where it stopped (both calls move the
 * file offsets). -1 with errno; *shortp set when in ended early.
 */
static int
maildir_copy(int in, int out, off_t size, int *shortp)
{
	char *b = NULL;
	off_t left = size;
	ssize_t n;
	size_t want;
	int use_cfr = 1;

	*shortp = 0;
	while (left > 0 && use_cfr) {
		want = left > (1 << 30) ? (size_t)1 << 30 : (size_t)left;
		n = copy_file_range(in, NULL, out, NULL, want, 0);
		if (n > 0) {
			left -= n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == ENOSPC || errno == EDQUOT ||
		    errno == EIO || errno == EFBIG))
			return -1;
		/* 0 (EOF, or a file system that cannot say) or any other
		 * refusal: read() gives the definite answer. */
		use_cfr = 0;
	}
	if (left > 0 && (b = malloc(MAILDIR_COPY_BUF)) == NULL)
		return -1;
	while (left > 0) {
		want = left > MAILDIR_COPY_BUF ? MAILDIR_COPY_BUF :
		    (size_t)left;
		n = read(in, b, want);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0) {
			*shortp = 1;
			errno = EPIPE;
			goto fail;
		}
		if (maildir_writeall(out, b, (size_t)n) == -1)
			goto fail;
		left -= n;
	}
	free(b);
	return 0;
fail:
	free(b);
	return -1;
}

/* An address with a control character would forge a header line. */
static int
maildir_addr_clean(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static void
maildir_fail(struct outcome *o, const char *dir, int err)
{
	if (err == ENOSPC || err == EDQUOT)
		outcome_set(o, 'Z', "4.2.2", "mailbox full");
	else
		outcome_set(o, 'Z', "4.3.0", "maildir %s: %s", dir,
		    strerror(err));
}

int
maildir_deliver(int msgfd, off_t size, const char *sender,
    const char *recipient, const char *maildir, const char *hostname,
    struct outcome *o)
{
	char dir[PATH_MAX], name[NAME_MAX + 1], tmp[PATH_MAX], new[PATH_MAX];
	char hdr[2 * ADDR_TEXT_MAX + 64];
	size_t dlen, hlen;
	int fd = -1, n, tries, err, isshort, made = 0;

	if (!maildir_addr_clean(sender) || !maildir_addr_clean(recipient)) {
		outcome_set(o, 'D', "5.3.0",
		    "envelope address holds a control character");
		return -1;
	}
	n = snprintf(hdr, sizeof(hdr), "Return-Path: <%s>\nDelivered-To: <%s>\n",
	    sender, recipient);
	if (n < 0 || (size_t)n >= sizeof(hdr)) {
		outcome_set(o, 'D', "5.3.0", "envelope address too long");
		return -1;
	}
	hlen = (size_t)n;
	/* Trailing slashes name the same directory; dropping them keeps the
	 * paths below (and the messages) tidy. */
	dlen = strlcpy(dir, maildir, sizeof(dir));
	if (dlen >= sizeof(dir) || dir[0] != '/') {
		outcome_set(o, 'Z', "4.3.0", "maildir %s: %s", maildir,
		    dir[0] != '/' ? "not an absolute path" :
		    strerror(ENAMETOOLONG));
		return -1;
	}
	while (dlen > 1 && dir[dlen - 1] == '/')
		dir[--dlen] = '\0';

	/* Fast path: the Maildir exists and the first name is free. */
	for (tries = 0; fd == -1; tries++) {
		if (maildir_name(name, sizeof(name), hostname) == -1 ||
		    (n = snprintf(tmp, sizeof(tmp), "%s/tmp/%s", dir, name)) < 0 ||
		    (size_t)n >= sizeof(tmp)) {
			maildir_fail(o, dir, ENAMETOOLONG);
			return -1;
		}
		fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
		if (fd != -1)
			break;
		err = errno;
		if (err == ENOENT && !made) {
			made = 1;
			if (maildir_make(dir) == -1) {
				maildir_fail(o, dir, errno);
				return -1;
			}
		} else if (err != EEXIST || tries + 1 >= MAILDIR_NAME_TRIES) {
			maildir_fail(o, dir, err);
			return -1;
		}
	}

	isshort = 0;
	if (maildir_writeall(fd, hdr, hlen) == -1 ||
	    maildir_copy(msgfd, fd, size, &isshort) == -1) {
		err = errno;
		close(fd);
		unlink(tmp);
		if (isshort)
			outcome_set(o, 'Z', "4.3.0", "short message");
		else
			maildir_fail(o, dir, err);
		return -1;
	}
	if (fsync(fd) == -1) {
		err = errno;
		close(fd);
		unlink(tmp);
		maildir_fail(o, dir, err);
		return -1;
	}
	/* close() can report a delayed write error (NFS, quotas). */
	if (close(fd) == -1) {
		err = errno;
		unlink(tmp);
		maildir_fail(o, dir, err);
		return -1;
	}

	/* link(), never rename(): a clash must fail, not replace a mail. */
	for (tries = 0;; tries++) {
		n = snprintf(new, sizeof(new), "%s/new/%s", dir, name);
		if (n < 0 || (size_t)n >= sizeof(new)) {
			err = ENAMETOOLONG;
			break;
		}
		if (link(tmp, new) == 0) {
			err = 0;
			break;
		}
		err = errno;
		if (err == ENOENT && !made) {
			/* tmp/ was there but new/ is missing. */
			made = 1;
			if (maildir_make(dir) == -1) {
				err = errno;
				break;
			}
			continue;
		}
		if (err != EEXIST || tries + 1 >= MAILDIR_NAME_TRIES ||
		    maildir_name(name, sizeof(name), hostname) == -1)
			break;
	}
	unlink(tmp);
	if (err != 0) {
		maildir_fail(o, dir, err);
		return -1;
	}
	/* The link is only durable once the directory is: until then a crash
	 * could lose the mail we are about to report delivered. The file
	 * stays in new/ on failure; the retry may deliver it twice. */
	n = snprintf(new, sizeof(new), "%s/new", dir);
	if (n < 0 || (size_t)n >= sizeof(new) || spool_fsync_dir(new) == -1) {
		maildir_fail(o, dir, errno);
		return -1;
	}
	outcome_set(o, 'K', "2.0.0", "delivered to maildir");
	return 0;
}
