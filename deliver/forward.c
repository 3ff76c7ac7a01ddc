/*
 * forward.c: ~/.forward for lspawn's child (forward.h).
 *
 * Called only after the child has dropped to the recipient's uid, gid and
 * groups: the file is opened with the user's own rights, so no symbolic
 * link or hard link can make Postern read, as root, a file the user could
 * not read. Checked on the open descriptor (no race between a check and
 * the open), as sendmail and Postfix's local(8) check:
 *   - the home directory: not group- or world-writable (someone else could
 *     put a .forward there);
 *   - .forward: not a symbolic link (O_NOFOLLOW), a regular file, owned by
 *     the user, not group- or world-writable, at most FORWARD_FILE_MAX
 *     bytes;
 *   - its text: the aliases syntax (common/alias.c), without ":include:",
 *     which would let a user make Postern read any file the user can name
 *     under someone else's rights later in the chain.
 * A .forward that fails a check is ignored with a warning and the mail
 * goes to the mailbox, as Postfix does: the user's mistake should neither
 * bounce nor hold the user's mail. Only an I/O error that may pass (EIO,
 * ENOMEM...) defers (Z 4.3.0).
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "alias.h"
#include "buf.h"
#include "frame.h"
#include "log.h"
#include "forward.h"
#include "outcome.h"

/* A missing or closed home or .forward: simply none. */
static int
forward_absent(int err)
{
	return err == ENOENT || err == ENOTDIR;
}

/* Join the NUL-ended targets with '\n', refusing ":include:". 0 or -1. */
static int
forward_join(const struct buf *list, struct buf *out, const char **why)
{
	const char	*p = list->data, *end = list->data + list->len;
	size_t		 n;

	buf_reset(out);
	while (p < end) {
		n = strlen(p);
		if (strncmp(p, ALIAS_INCLUDE_PREFIX,
		    strlen(ALIAS_INCLUDE_PREFIX)) == 0) {
			*why = "\":include:\" is not allowed there";
			return -1;
		}
		if ((out->len > 0 && buf_addc(out, '\n') == -1) ||
		    buf_add(out, p, n) == -1) {
			*why = "too many targets";
			return -1;
		}
		p += n + 1;
	}
	if (!alias_forward_valid(out->data, out->len)) {
		*why = "targets too long or malformed";
		return -1;
	}
	return 0;
}

enum forward_rc
forward_read(const char *home, uid_t uid, const char *user, const char *qid,
    struct buf *targets, struct outcome *o)
{
	struct stat	 st;
	struct buf	 list = BUF_INIT, err = BUF_INIT;
	const char	*why = NULL;
	enum forward_rc	 rc = FORWARD_NONE;
	int		 dfd, fd = -1, r;

	if ((dfd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		/* No home (or one the user may not enter): no .forward;
		 * the mailbox delivery says what is wrong, if anything. */
		if (forward_absent(errno) || errno == EACCES)
			return FORWARD_NONE;
		outcome_set(o, 'Z', "4.3.0", "home directory %s: %s", home,
		    strerror(errno));
		return FORWARD_FAIL;
	}
	fd = openat(dfd, ".forward", O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd == -1) {
		if (forward_absent(errno))
			goto out;
		if (errno == ELOOP)
			why = "a symbolic link";
		else if (errno == EACCES)
			why = "not readable by its user";
		else {
			outcome_set(o, 'Z', "4.3.0", "%s/.forward: %s", home,
			    strerror(errno));
			rc = FORWARD_FAIL;
		}
		goto out;
	}
	/* Only now, when there is a .forward to ignore, is a bad home
	 * worth a warning. */
	if (fstat(dfd, &st) == -1 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		why = "in a group- or world-writable home directory";
		goto out;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		why = "not a regular file";
		goto out;
	}
	if (st.st_uid != uid) {
		why = "not owned by its user";
		goto out;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		why = "group- or world-writable";
		goto out;
	}
	if (st.st_size > FORWARD_FILE_MAX) {
		why = "larger than 64 KiB";
		goto out;
	}
	buf_init(&list, FORWARD_TEXT_MAX);
	buf_init(&err, 1024);
	r = alias_fd_read(fd, "~/.forward", &list, &err);
	fd = -1;			/* closed by alias_fd_read() */
	if (r == -1) {
		outcome_set(o, 'Z', "4.3.0", "%s/.forward: %s", home,
		    strerror(errno));
		rc = FORWARD_FAIL;
		goto out;
	}
	if (r == -2) {
		log_warn("%s: %s/.forward of %s ignored (%s): mail goes to "
		    "the mailbox", qid, home, user, buf_str(&err));
		goto out;
	}
	if (list.len == 0)		/* comments only: no forwarding */
		goto out;
	buf_init(targets, FORWARD_TEXT_MAX);
	if (forward_join(&list, targets, &why) == -1)
		goto out;
	rc = FORWARD_FOUND;
out:
	if (why != NULL)
		log_warn("%s: %s/.forward of %s ignored (%s): mail goes to "
		    "the mailbox", qid, home, user, why);
	if (fd != -1)
		close(fd);
	close(dfd);
	buf_free(&list);
	buf_free(&err);
	return rc;
}

int
forward_write(int fd, const struct buf *targets)
{
	struct buf	 b = BUF_INIT;
	char		 status[2] = { FORWARD_STATUS, '\0' };
	size_t		 off = 0;
	ssize_t		 n;
	int		 rc = -1;

	buf_init(&b, FRAME_HDR + FRAME_MAX);
	if (frame_put_fields(&b, 'O', status, FORWARD_CODE,
	    buf_str(targets), (char *)NULL) == -1)
		goto out;
	while (off < b.len) {
		n = write(fd, b.data + off, b.len - off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		off += (size_t)n;
	}
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

int
forward_parse(const char *p, size_t len, struct buf *targets)
{
	struct buf	 payload = BUF_INIT;
	const char	*f[3], *pl;
	size_t		 plen, used;
	int		 type, rc = 0;

	if (frame_parse(p, len, &type, &pl, &plen, &used) != 1 ||
	    type != 'O' || used != len || plen > FRAME_MAX)
		return 0;
	buf_init(&payload, FRAME_MAX);
	if (buf_set(&payload, pl, plen) == -1 ||
	    frame_fields(&payload, f, 3) == -1)
		goto out;
	if (f[0][0] != FORWARD_STATUS || f[0][1] != '\0' ||
	    strcmp(f[1], FORWARD_CODE) != 0 ||
	    !alias_forward_valid(f[2], strlen(f[2])))
		goto out;
	if (buf_set(targets, f[2], strlen(f[2])) == -1)
		goto out;
	rc = 1;
out:
	buf_free(&payload);
	return rc;
}
