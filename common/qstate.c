/*
 * qstate.c: state/ID, the append-only log of per-recipient outcomes (see
 * qstate.h and docs/protocols.md, "The state file").
 *
 * qmgr appends the outcomes of each delivery attempt and reads them back
 * when it picks a message up; "postern queue" reads them. Errors are -1
 * with errno. A malformed or out-of-range record is skipped with a warning:
 * the recipient it named has no outcome and is tried again (at-least-once).
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bsd/string.h>

#include "frame.h"
#include "log.h"
#include "qstate.h"
#include "spool.h"

#define QSTATE_FILE_MAX	((size_t)256 << 20)	/* refuse to slurp more */

int
qstate_put(struct buf *b, size_t index, char status, const char *code,
    const char *text)
{
	return qstate_put_remote(b, index, status, code, text, "");
}

int
qstate_put_remote(struct buf *b, size_t index, char status, const char *code,
    const char *text, const char *mta)
{
	char	 idx[32], st[2] = { status, '\0' };
	char	 t[QSTATE_TEXT_MAX];
	size_t	 i, n;
	int	 r;

	if ((status != 'K' && status != 'D' && status != 'Z') ||
	    strlen(code) >= sizeof(((struct qstate_rcpt *)0)->code) ||
	    strpbrk(code, "\r\n") != NULL ||
	    strlen(mta) >= sizeof(((struct qstate_rcpt *)0)->mta) ||
	    strpbrk(mta, "\r\n") != NULL) {
		errno = EINVAL;
		return -1;
	}
	r = snprintf(idx, sizeof(idx), "%zu", index);
	if (r < 0 || (size_t)r >= sizeof(idx)) {
		errno = EINVAL;
		return -1;
	}
	/* Keep room for the reader's NUL; never cut a UTF-8 sequence. */
	n = strlcpy(t, text, sizeof(t));
	if (n >= sizeof(t)) {
		n = sizeof(t) - 1;
		while (n > 0 && ((unsigned char)t[n] & 0xC0) == 0x80)
			n--;
		t[n] = '\0';
	}
	/* A log line and a bounce quote this text: one line only. */
	for (i = 0; t[i] != '\0'; i++)
		if (t[i] == '\r' || t[i] == '\n')
			t[i] = ' ';
	if (mta[0] == '\0')
		return frame_put_fields(b, 'O', idx, st, code, t,
		    (char *)NULL);
	return frame_put_fields(b, 'O', idx, st, code, t, mta, (char *)NULL);
}

int
qstate_put_notice(struct buf *b, size_t index, char kind)
{
	char	 idx[32], k[2] = { kind, '\0' };
	int	 r;

	if (kind != 'F' && kind != 'S' && kind != 'W') {
		errno = EINVAL;
		return -1;
	}
	r = snprintf(idx, sizeof(idx), "%zu", index);
	if (r < 0 || (size_t)r >= sizeof(idx)) {
		errno = EINVAL;
		return -1;
	}
	return frame_put_fields(b, 'N', idx, k, (char *)NULL);
}

/* The whole of fd into b. 0 or -1. */
static int
slurp(int fd, struct buf *b)
{
	ssize_t	 r;

	for (;;) {
		if (buf_reserve(b, 65536) == -1)
			return -1;
		r = read(fd, b->data + b->len, 65536);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			return 0;
		b->len += (size_t)r;
		b->data[b->len] = '\0';
	}
}

/* Offset just past the last whole record of b. */
static size_t
whole_records(const struct buf *b)
{
	const char	*pl;
	size_t		 off = 0, plen, used;
	int		 type;

	while (off < b->len &&
	    frame_parse(b->data + off, b->len - off, &type, &pl, &plen,
	    &used) == 1)
		off += used;
	return off;
}

/*
 * A crash in the middle of an earlier append leaves a torn record at the
 * end; appending after it would glue the new outcomes into the torn one's
 * payload. Cut it off first (only qmgr appends to a given state file).
 */
static int
qstate_cut_torn(int fd, const char *path)
{
	struct buf	 b;
	size_t		 end;
	int		 r = 0;

	buf_init(&b, QSTATE_FILE_MAX);
	if (slurp(fd, &b) == -1) {
		buf_free(&b);
		return errno == EMSGSIZE ? 0 : -1;
	}
	end = whole_records(&b);
	if (end < b.len) {
		log_warn("%s: cutting a torn record of %zu bytes at offset %zu",
		    path, b.len - end, end);
		r = ftruncate(fd, (off_t)end);
	}
	buf_free(&b);
	return r;
}

int
qstate_append(const char *id, const struct buf *b)
{
	char	 path[PATH_MAX];
	struct stat st;
	ssize_t	 n;
	int	 fd, saved, fresh;

	if (spool_path(path, sizeof(path), SPOOL_STATE, id) == -1)
		return -1;
	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	fresh = st.st_size == 0;
	if (qstate_cut_torn(fd, path) == -1)
		goto fail;
	/* One write(): the outcomes of one attempt land together or not. */
	n = write(fd, b->data, b->len);
	if (n == -1)
		goto fail;
	if ((size_t)n != b->len) {
		errno = ENOSPC;		/* a short write to a file: disk full */
		goto fail;
	}
	if (fsync(fd) == -1)
		goto fail;
	/* A file we just made (or one left empty by a crash) may not have
	 * its name on disk yet: until state/ is fsync'd, a power loss takes
	 * the whole file, and with it outcomes qmgr is about to act on (the
	 * recipients delivered again, the report made again). */
	if (fresh && spool_fsync_dir(SPOOL_STATE) == -1)
		goto fail;
	return close(fd);
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* Index: plain decimal below n. -1 if not. */
static int
parse_index(const char *s, size_t n, size_t *out)
{
	size_t	 v = 0, i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 9)
			return -1;
		v = v * 10 + (size_t)(s[i] - '0');
	}
	if (i == 0 || v >= n)
		return -1;
	*out = v;
	return 0;
}

/* A record's payload seen as a buf for frame_fields(), which only reads
 * it: no copy. */
static void
qstate_view(struct buf *rec, const char *pl, size_t plen)
{
	rec->data = (char *)(uintptr_t)pl;
	rec->len = plen;
	rec->cap = plen;
	rec->max = 0;
}

static void
qstate_apply(const char *path, const char *pl, size_t plen,
    struct qstate_rcpt *r, size_t n)
{
	struct buf	 rec;
	const char	*f[5];
	size_t		 idx;

	qstate_view(&rec, pl, plen);
	/* 4 fields, or 5 with the remote MTA that gave the reply. */
	f[4] = "";
	if ((frame_fields(&rec, f, 4) == -1 && frame_fields(&rec, f, 5) == -1) ||
	    parse_index(f[0], n, &idx) == -1 ||
	    strlen(f[1]) != 1 || strchr("KDZ", f[1][0]) == NULL ||
	    strlen(f[2]) >= sizeof(r->code) ||
	    strlen(f[3]) >= sizeof(r->text) || strlen(f[4]) >= sizeof(r->mta)) {
		log_warn("%s: skipping a malformed or out-of-range outcome",
		    path);
		return;
	}
	/* Later records are later attempts: the last one wins. */
	r[idx].status = f[1][0];
	strlcpy(r[idx].code, f[2], sizeof(r[idx].code));
	strlcpy(r[idx].text, f[3], sizeof(r[idx].text));
	strlcpy(r[idx].mta, f[4], sizeof(r[idx].mta));
}

/* 'N': a report for recipient index is queued; checked like 'O'. */
static void
qstate_apply_notice(const char *path, const char *pl, size_t plen,
    struct qstate_rcpt *r, size_t n)
{
	struct buf	 rec;
	const char	*f[2];
	size_t		 idx;

	qstate_view(&rec, pl, plen);
	if (frame_fields(&rec, f, 2) == -1 || parse_index(f[0], n, &idx) == -1 ||
	    strlen(f[1]) != 1 || strchr("FSW", f[1][0]) == NULL) {
		log_warn("%s: skipping a malformed or out-of-range notice",
		    path);
		return;
	}
	r[idx].notified |= f[1][0] == 'F' ? QSTATE_N_FAIL :
	    f[1][0] == 'S' ? QSTATE_N_SUCCESS : QSTATE_N_DELAY;
}

int
qstate_read(const char *id, struct qstate_rcpt *r, size_t n)
{
	char		 path[PATH_MAX];
	struct buf	 b;
	const char	*pl;
	size_t		 off = 0, plen, used;
	int		 fd, type, p, saved;

	memset(r, 0, n * sizeof(*r));
	if (spool_path(path, sizeof(path), SPOOL_STATE, id) == -1)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	buf_init(&b, QSTATE_FILE_MAX);
	if (slurp(fd, &b) == -1) {
		saved = errno;
		buf_free(&b);
		close(fd);
		errno = saved;
		return -1;
	}
	close(fd);
	while (off < b.len) {
		p = frame_parse(b.data + off, b.len - off, &type, &pl, &plen,
		    &used);
		if (p == 0) {
			/* A crash mid-append: that outcome was never acted
			 * on, so the recipient is simply tried again. */
			log_warn("%s: ignoring a torn record at the end", path);
			break;
		}
		if (p == -1) {
			log_warn("%s: bad record type at offset %zu", path,
			    off);
			break;
		}
		if (type == 'O')
			qstate_apply(path, pl, plen, r, n);
		else if (type == 'N')
			qstate_apply_notice(path, pl, plen, r, n);
		else
			log_warn("%s: skipping a record of type %c", path,
			    type);
		off += used;
	}
	buf_free(&b);
	return 0;
}
