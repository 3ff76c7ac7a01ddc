/*
 * table.c: cdb lookup tables (tinycdb): reading them, and building them.
 *
 * Readers: enqueue and qmgr through rcpt.c, smtpd before its chroot, local
 * for aliases. Builder: "postern makemap" (table_build()).
 *
 * A reader keeps one struct table per table for its whole life. Each lookup
 * stat()s the path and reopens the file when it is another file than the one
 * open (device, inode or mtime changed): table_build() renames a complete new
 * file over the old one, so a reader sees either the old table or the new
 * one, never half of one, and sees the new one at its next lookup without a
 * restart. A missing file is an empty table (a fresh install has none).
 *
 * table_lookup() returns 1 / 0, or -1 with errno when the table cannot be
 * read: the caller must answer "try again later", never "no such user".
 * table_build() returns 0, or -1 with "file:line: why" in err; on any error
 * the old .cdb is left as it was and the temporary file is removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bsd/string.h>

#include "addr.h"
#include "conf.h"
#include "table.h"

#define TABLE_LINE_MAX	4096

void
table_init(struct table *t, const struct conf *conf, const char *name)
{
	char	 file[PATH_MAX];

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	/* A name too long leaves path empty: every lookup then fails with
	 * ENAMETOOLONG rather than reading some other file. */
	if (strlcpy(file, name, sizeof(file)) >= sizeof(file) ||
	    strlcat(file, ".cdb", sizeof(file)) >= sizeof(file) ||
	    conf_path(conf, file, t->path, sizeof(t->path)) == -1)
		t->path[0] = '\0';
}

void
table_close(struct table *t)
{
	if (t->fd != -1) {
		cdb_free(&t->cdb);
		close(t->fd);
		t->fd = -1;
	}
}

static int
same_file(const struct table *t, const struct stat *st)
{
	return t->dev == st->st_dev && t->ino == st->st_ino &&
	    t->mtime.tv_sec == st->st_mtim.tv_sec &&
	    t->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* Open the file now at t->path. 1 open, 0 no file, -1 error. */
static int
table_open(struct table *t)
{
	struct stat	 st;
	int		 fd, saved;

	if ((fd = open(t->path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	/* fstat, not the stat before: the file may have been replaced in
	 * between, and what counts is the file we hold. */
	if (fstat(fd, &st) == -1 || cdb_init(&t->cdb, fd) == -1) {
		saved = errno;
		close(fd);
		errno = saved ? saved : EPROTO;
		return -1;
	}
	t->fd = fd;
	t->dev = st.st_dev;
	t->ino = st.st_ino;
	t->mtime = st.st_mtim;
	return 1;
}

/* Make t hold the file now at t->path. 1 open, 0 no table, -1 error. */
static int
table_refresh(struct table *t)
{
	struct stat	 st;

	if (t->path[0] == '\0') {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (stat(t->path, &st) == -1) {
		if (errno != ENOENT)
			return -1;
		table_close(t);
		return 0;
	}
	if (t->fd != -1 && !same_file(t, &st))
		table_close(t);
	if (t->fd == -1)
		return table_open(t);
	return 1;
}

int
table_lookup(struct table *t, const char *key, struct buf *value)
{
	const void	*data;
	size_t		 klen = strlen(key);
	unsigned	 vlen;
	int		 r;

	if ((r = table_refresh(t)) != 1)
		return r;
	if (klen > TABLE_LINE_MAX) {
		/* No key that long was ever stored. */
		return 0;
	}
	if ((r = cdb_find(&t->cdb, key, (unsigned)klen)) < 0) {
		errno = EPROTO;		/* a corrupt file */
		return -1;
	}
	if (r == 0)
		return 0;
	vlen = cdb_datalen(&t->cdb);
	if (vlen > TABLE_VALUE_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if ((data = cdb_getdata(&t->cdb)) == NULL) {
		errno = EPROTO;
		return -1;
	}
	if (buf_set(value, data, vlen) == -1)
		return -1;
	return 1;
}

int
table_scan(struct table *t, table_scan_fn fn, void *arg)
{
	struct buf	 key = BUF_INIT, val = BUF_INIT;
	unsigned	 pos;
	int		 r, rc = -1;

	if ((r = table_refresh(t)) != 1)
		return r;
	cdb_seqinit(&pos, &t->cdb);
	while ((r = cdb_seqnext(&pos, &t->cdb)) > 0) {
		unsigned	 klen = cdb_keylen(&t->cdb);
		unsigned	 vlen = cdb_datalen(&t->cdb);

		if (klen > TABLE_LINE_MAX || vlen > TABLE_VALUE_MAX) {
			errno = EMSGSIZE;
			goto out;
		}
		/* cdb_read copies, so a short or corrupt file is an error
		 * here and not a read past the end of a mapping. */
		buf_reset(&key);
		buf_reset(&val);
		if (buf_reserve(&key, klen) == -1 ||
		    buf_reserve(&val, vlen) == -1)
			goto out;
		if (cdb_read(&t->cdb, key.data, klen, cdb_keypos(&t->cdb)) ==
		    -1 || cdb_read(&t->cdb, val.data, vlen,
		    cdb_datapos(&t->cdb)) == -1) {
			errno = EPROTO;
			goto out;
		}
		key.data[klen] = '\0';
		val.data[vlen] = '\0';
		key.len = klen;
		val.len = vlen;
		if (fn(arg, key.data, val.data) == -1)
			goto out;
	}
	if (r < 0) {
		errno = EPROTO;
		goto out;
	}
	rc = 1;
out:
	buf_free(&key);
	buf_free(&val);
	return rc;
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* table_build_checked()'s checker while it runs; NULL otherwise. */
static table_check_fn build_check;

/* Read src line by line into the cdb being made. 0 or -1 with err. */
static int
build_records(FILE *f, const char *src, struct cdb_make *cm, struct buf *err)
{
	unsigned long	 lineno = 0;
	char		*line = NULL;
	size_t		 cap = 0;
	ssize_t		 n;
	const char	*why;
	int		 rc = -1, r;

	errno = 0;
	while ((n = getline(&line, &cap, f)) != -1) {
		char	*key, *value, *e;

		lineno++;
		if ((size_t)n != strlen(line)) {
			(void)buf_setf(err, "%s:%lu: NUL byte in line", src, lineno);
			goto out;
		}
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if ((size_t)n > TABLE_LINE_MAX) {
			(void)buf_setf(err, "%s:%lu: line too long (more than %d "
			    "bytes)", src, lineno, TABLE_LINE_MAX);
			goto out;
		}
		for (key = line; is_blank(*key); key++)
			;
		if (*key == '\0' || *key == '#')
			continue;
		for (e = key; *e != '\0' && !is_blank(*e); e++)
			;
		value = e;
		while (is_blank(*value))
			value++;
		*e = '\0';
		e = value + strlen(value);
		while (e > value && is_blank(e[-1]))
			*--e = '\0';
		if (*value == '\0') {
			(void)buf_setf(err, "%s:%lu: missing value for key '%s'",
			    src, lineno, key);
			goto out;
		}
		addr_lower(key);
		if (build_check != NULL && build_check(key, value, &why) ==
		    -1) {
			(void)buf_setf(err, "%s:%lu: %s: %s", src, lineno, key,
			    why);
			goto out;
		}
		r = cdb_make_put(cm, key, (unsigned)strlen(key), value,
		    (unsigned)strlen(value), CDB_PUT_INSERT);
		if (r == -1) {
			(void)buf_setf(err, "%s: write: %s", src, strerror(errno));
			goto out;
		}
		if (r > 0) {
			(void)buf_setf(err, "%s:%lu: duplicate key '%s'", src,
			    lineno, key);
			goto out;
		}
	}
	if (ferror(f)) {
		(void)buf_setf(err, "%s: read: %s", src, strerror(errno ? errno : EIO));
		goto out;
	}
	rc = 0;
out:
	free(line);
	return rc;
}

/* fsync the directory holding path, so the rename in it is on disk. */
static int
fsync_dir_of(const char *path)
{
	char	 dir[PATH_MAX];
	int	 fd, rc, saved;

	if (strlcpy(dir, path, sizeof(dir)) >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

int
table_build(const char *src, const char *dst, struct buf *err)
{
	return table_build_with(src, dst, build_records, err);
}

int
table_build_checked(const char *src, const char *dst, table_check_fn check,
    struct buf *err)
{
	int	 rc;

	build_check = check;
	rc = table_build_with(src, dst, build_records, err);
	build_check = NULL;
	return rc;
}

/* The file handling of every build (temporary file, permissions, fsync,
 * rename); records() reads the text format, which differs per table
 * (aliases: common/alias.c). */
int
table_build_with(const char *src, const char *dst, table_records_fn records,
    struct buf *err)
{
	struct cdb_make	 cm;
	struct stat	 st;
	char		 tmp[PATH_MAX];
	FILE		*f;
	int		 fd = -1, made = 0, rc = -1;

	if ((f = fopen(src, "re")) == NULL) {
		(void)buf_setf(err, "%s: %s", src, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) == -1) {
		(void)buf_setf(err, "%s: %s", src, strerror(errno));
		goto out;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", dst,
	    (long)getpid()) >= sizeof(tmp)) {
		(void)buf_setf(err, "%s: %s", dst, strerror(ENAMETOOLONG));
		goto out;
	}
	/* O_RDWR: tinycdb reads earlier records back to find duplicates. */
	if ((fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) ==
	    -1) {
		(void)buf_setf(err, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	made = 1;
	/* The table gets its source's permissions (a "passwd" table of
	 * crypt(3) hashes is as private as its text), not the umask's. */
	if (fchmod(fd, st.st_mode & 0666) == -1) {
		(void)buf_setf(err, "%s: chmod: %s", tmp, strerror(errno));
		goto out;
	}
	/* And its owner and group when root builds it: passwd.cdb must stay
	 * readable by queue_user's group (postern setup), not become root's
	 * alone. */
	if (geteuid() == 0 && fchown(fd, st.st_uid, st.st_gid) == -1) {
		(void)buf_setf(err, "%s: chown: %s", tmp, strerror(errno));
		goto out;
	}
	if (cdb_make_start(&cm, fd) == -1) {
		(void)buf_setf(err, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (records(f, src, &cm, err) == -1) {
		(void)cdb_make_finish(&cm);	/* frees its memory */
		goto out;
	}
	if (cdb_make_finish(&cm) == -1) {
		(void)buf_setf(err, "%s: write: %s", tmp, strerror(errno));
		goto out;
	}
	if (fsync(fd) == -1) {
		(void)buf_setf(err, "%s: fsync: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) == -1) {
		fd = -1;
		(void)buf_setf(err, "%s: close: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, dst) == -1) {
		(void)buf_setf(err, "%s: rename to %s: %s", tmp, dst,
		    strerror(errno));
		goto out;
	}
	made = 0;
	if (fsync_dir_of(dst) == -1) {
		(void)buf_setf(err, "%s: fsync of its directory: %s", dst,
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	if (made)
		unlink(tmp);
	fclose(f);
	return rc;
}
