/*
 * enqueue_spool.c: enqueue's writes to the spool: the free-space check at
 * 'M', the tmp/ file at 'B', and the commit protocol at 'F'.
 *
 * The commit protocol is DESIGN.md's, step for step (see "The spool"):
 *   1. open(tmp/NAME, O_CREAT|O_EXCL); write the whole file; fsync(fd);
 *      check close();
 *   2. rename(tmp/NAME, new/ID); fsync(new/);
 *   3. only then may smtpd answer 250.
 * Any failure on the way unlinks what exists, so nothing that was not
 * promised with a 250 stays in the spool. The cwd is the spool directory
 * (master set it), so every path is relative.
 *
 * Functions return 0 (or 1 for "yes") on success and -1 with errno on
 * failure, after cleaning up; enqueue_write_reply() turns that errno into
 * the SMTP reply smtpd relays.
 */
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bsd/stdlib.h>

#include "enqueue.h"
#include "log.h"
#include "spool.h"

/*
 * 1 when the spool's file system has room for queue_minfree_bytes plus the
 * declared size (RFC 1870: refusing at MAIL is cheaper for everyone than at
 * the end of DATA), else 0. A statvfs() failure is logged and lets the mail
 * in: the write itself will then fail with the right reply.
 */
int
enqueue_space_ok(long long minfree, long long size)
{
	struct statvfs		 vfs;
	unsigned long long	 avail, need;

	if (statvfs(".", &vfs) == -1) {
		log_warn_errno("statvfs spool directory");
		return 1;
	}
	if (__builtin_mul_overflow((unsigned long long)vfs.f_bavail,
	    (unsigned long long)vfs.f_frsize, &avail))
		avail = ~0ULL;
	if (minfree < 0)
		minfree = 0;
	if (size < 0)
		size = 0;
	if (__builtin_add_overflow((unsigned long long)minfree,
	    (unsigned long long)size, &need))
		need = ~0ULL;
	return avail >= need;
}

/*
 * 'B': create tmp/<sec>.<usec>.<pid>.<random> (O_EXCL: never someone
 * else's file), name the message after its inode and arrival time
 * (spool_id_make), write the envelope and our Received: line. On failure
 * -1 with errno; the caller calls enqueue_tmp_discard().
 */
int
enqueue_tmp_open(struct txn *t, const char *hostname)
{
	struct stat	 st;
	struct buf	 rcvd = BUF_INIT;
	const char	*step;
	int		 e;

	step = "clock";
	if (gettimeofday(&t->arrival, NULL) == -1)
		goto fail;
	step = "create";
	if (snprintf(t->tmp, sizeof(t->tmp), "%s/%lld.%06ld.%ld.%08x",
	    SPOOL_TMP, (long long)t->arrival.tv_sec,
	    (long)t->arrival.tv_usec, (long)getpid(), arc4random()) >=
	    (int)sizeof(t->tmp)) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	t->fd = open(t->tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (t->fd == -1)
		goto fail;
	step = "stat";
	if (fstat(t->fd, &st) == -1)
		goto fail;
	step = "make queue ID for";
	if (spool_id_make(t->env.id, sizeof(t->env.id), &t->arrival,
	    st.st_ino) == -1)
		goto fail;
	t->env.arrival = (long long)t->arrival.tv_sec;

	/* qfile_begin() initialises the writer; begun from here on, so that
	 * enqueue_tmp_discard() frees whatever it allocated. */
	t->begun = 1;
	step = "write envelope to";
	if (qfile_begin(&t->w, t->fd, &t->env) == -1)
		goto fail;
	step = "write Received: line to";
	if (enqueue_received(&rcvd, &t->env, hostname,
	    (time_t)t->arrival.tv_sec) == -1 ||
	    qfile_body(&t->w, rcvd.data, rcvd.len) == -1)
		goto fail;
	buf_free(&rcvd);
	return 0;
fail:
	e = errno;
	log_warn_errno("%s %s", step, t->tmp[0] != '\0' ? t->tmp : SPOOL_TMP);
	if (t->fd == -1)
		t->tmp[0] = '\0';	/* never created: maybe someone else's */
	buf_free(&rcvd);
	errno = e;
	return -1;
}

/* Close and unlink the tmp/ file, if any, and forget the writer. errno is
 * kept, so a caller may still report the failure that led here. */
void
enqueue_tmp_discard(struct txn *t)
{
	int	 e = errno;

	if (t->fd != -1) {
		(void)close(t->fd);
		t->fd = -1;
	}
	if (t->tmp[0] != '\0') {
		if (unlink(t->tmp) == -1 && errno != ENOENT)
			log_warn_errno("unlink %s", t->tmp);
		t->tmp[0] = '\0';
	}
	if (t->begun) {
		qfile_writer_free(&t->w);
		t->begun = 0;
	}
	t->written = 0;
	t->werr = 0;
	errno = e;
}

/*
 * 'F': DESIGN.md's commit protocol. 0 when new/ID is durable (and only
 * then may the caller answer K); -1 with errno after removing every trace.
 */
int
enqueue_commit(struct txn *t)
{
	char	 newpath[PATH_MAX];
	int	 fd, e;

	if (spool_path(newpath, sizeof(newpath), SPOOL_NEW, t->env.id) == -1) {
		errno = EINVAL;
		goto fail;
	}
	if (qfile_finish(&t->w) == -1)
		goto fail;
	if (fsync(t->fd) == -1)
		goto fail;
	/* close() can report a deferred write error (NFS, quotas): a file
	 * whose close failed is not known to be on disk. */
	fd = t->fd;
	t->fd = -1;
	if (close(fd) == -1)
		goto fail;
	if (rename(t->tmp, newpath) == -1)
		goto fail;
	t->tmp[0] = '\0';
	/* Without this fsync a crash could lose the rename, and with it a
	 * message we answered 250 for (qmail, Postfix and OpenSMTPD skip it). */
	if (spool_fsync_dir(SPOOL_NEW) == -1) {
		e = errno;
		log_warn_errno("%s: fsync %s", t->env.id, SPOOL_NEW);
		/* Not promised: take it back, or it would be delivered after a
		 * 451. Should qmgr have taken it already, say so. */
		if (unlink(newpath) == -1)
			log_warn_errno("%s: cannot withdraw %s; it may be "
			    "delivered although the client was told to retry",
			    t->env.id, newpath);
		else
			(void)spool_fsync_dir(SPOOL_NEW);
		errno = e;
		goto fail;
	}
	/* The writer is freed by the caller's reset, after it has read
	 * w.msg_len for its log line. */
	return 0;
fail:
	e = errno;
	if (t->tmp[0] != '\0')
		log_warn_errno("%s: commit %s", t->env.id, t->tmp);
	enqueue_tmp_discard(t);
	errno = e;
	return -1;
}

/* The reply for a failed write, by its errno (docs/protocols.md). */
const char *
enqueue_write_reply(int err)
{
	switch (err) {
	case ENOSPC:
	case EDQUOT:
		return "452 4.3.1 Insufficient system storage";
	case EFBIG:
		/* RFC 5321 4.5.3.1.10 and RFC 3463 5.3.4 */
		return "552 5.3.4 Error: message file too big";
	default:
		return "451 4.3.0 Error: queue file write error";
	}
}
