/*
 * alias.c: the aliases table's text format (alias.h): the parser that
 * "postern makemap aliases" compiles with, and the reader of :include:
 * files that qmgr calls at expansion time (queue/qmgr_alias.c) and of
 * ~/.forward files, which lspawn's child reads as the user
 * (deliver/forward.c).
 *
 * Everything an operator can get wrong is an error naming the file and the
 * line, found when the table is built rather than when mail arrives: a line
 * without "name:", a name with '@' or a blank, an unterminated quote, a
 * command or file name that is empty, an :include: of a relative path (its
 * meaning would depend on the reader's cwd, the spool), a repeated name.
 * The checks here are syntax only: whether a name or a user exists is
 * decided at delivery time, against the tables current then (DESIGN.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bsd/string.h>
#include <cdb.h>

#include "addr.h"
#include "alias.h"
#include "table.h"

#define ALIAS_LINE_MAX	4096	/* as every other table (table.c) */
#define ALIAS_TARGET_MAX 1024	/* one command line or path */

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* A local name (an alias name, the user of "\user", a bare target): what
 * can stand before an '@' as a dot-string (RFC 5321 4.1.2), lowercased by
 * the caller; checked by parsing it as one. */
static int
local_name_ok(const char *s)
{
	char		 tmp[ADDR_LOCAL_MAX + 32];
	struct addr	 a;
	const char	*why;

	if (*s == '\0' || strlen(s) > ADDR_LOCAL_MAX || *s == '-')
		return 0;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s@alias.invalid", s) >=
	    sizeof(tmp))
		return 0;
	return addr_parse_mailbox(tmp, ADDR_UTF8, &a, &why) == 0 &&
	    !a.quoted;
}

/* Check one unquoted target and append it, NUL-terminated. */
static int
target_add(char *t, struct buf *out, const char **why)
{
	struct addr	 a;
	const char	*c, *w;
	size_t		 len;

	len = strlen(t);
	if (len > ALIAS_TARGET_MAX) {
		*why = "target longer than 1024 bytes";
		return -1;
	}
	/* A control character would reach a log line, a file name or argv:
	 * refused even inside quotes. */
	for (c = t; *c != '\0'; c++)
		if ((unsigned char)*c < ' ' || *c == 0x7f) {
			*why = "control character in a target";
			return -1;
		}
	if (t[0] == '|') {
		for (c = t + 1; is_blank(*c); c++)
			;
		if (*c == '\0') {
			*why = "empty command after '|'";
			return -1;
		}
		/* Stored as "|command", the blanks after the bar dropped. */
		if (buf_addc(out, '|') == -1 || buf_add(out, c,
		    strlen(c) + 1) == -1) {
			*why = "out of memory";
			return -1;
		}
		return 0;
	}
	if (t[0] == '/') {
		if (t[len - 1] == '/') {
			*why = "a file target names a directory";
			return -1;
		}
	} else if (strncmp(t, ALIAS_INCLUDE_PREFIX,
	    strlen(ALIAS_INCLUDE_PREFIX)) == 0) {
		for (c = t + strlen(ALIAS_INCLUDE_PREFIX); is_blank(*c); c++)
			;
		if (*c != '/') {
			*why = "include of a relative path (\":include:\" "
			    "needs an absolute path)";
			return -1;
		}
		if (buf_adds(out, ALIAS_INCLUDE_PREFIX) == -1 ||
		    buf_add(out, c, strlen(c) + 1) == -1) {
			*why = "out of memory";
			return -1;
		}
		return 0;
	} else if (t[0] == '\\') {
		addr_lower(t);
		if (!local_name_ok(t + 1)) {
			*why = "bad user name after '\\'";
			return -1;
		}
	} else {
		if (t[0] == '<' && t[len - 1] == '>' && len > 2) {
			t[len - 1] = '\0';
			t++;
		}
		if (strchr(t, '@') != NULL) {
			if (addr_parse_mailbox(t, ADDR_UTF8, &a, &w) == -1) {
				*why = "bad address";
				return -1;
			}
		} else {
			addr_lower(t);
			if (!local_name_ok(t)) {
				*why = "bad local name (not a dot-string of "
				    "at most 64 bytes)";
				return -1;
			}
		}
	}
	if (buf_add(out, t, strlen(t) + 1) == -1) {
		*why = "out of memory";
		return -1;
	}
	return 0;
}

int
alias_list_parse(const char *list, struct buf *out, const char **why)
{
	struct buf	 item = BUF_INIT;
	const char	*p = list;
	char		*t, *e;
	int		 quoted, rc = -1;

	for (;;) {
		/* One item up to an unquoted ',' or the end. Quotes are
		 * removed; inside them a backslash takes the next byte as
		 * it is (RFC 822 quoted-pair). */
		buf_reset(&item);
		quoted = 0;
		for (; *p != '\0' && (quoted || *p != ','); p++) {
			if (*p == '"') {
				quoted = !quoted;
				continue;
			}
			if (quoted && *p == '\\' && p[1] != '\0')
				p++;
			if (buf_addc(&item, *p) == -1) {
				*why = "out of memory";
				goto out;
			}
		}
		if (quoted) {
			*why = "unterminated quote";
			goto out;
		}
		if (buf_addc(&item, '\0') == -1) {
			*why = "out of memory";
			goto out;
		}
		for (t = item.data; is_blank(*t); t++)
			;
		e = t + strlen(t);
		while (e > t && is_blank(e[-1]))
			*--e = '\0';
		/* "a, b," is accepted, as sendmail does: empty items are
		 * skipped. */
		if (*t != '\0' && target_add(t, out, why) == -1)
			goto out;
		if (*p == '\0')
			break;
		p++;			/* the ',' */
	}
	rc = 0;
out:
	buf_free(&item);
	return rc;
}

/* getline() with the checks every table makes: no NUL, at most
 * ALIAS_LINE_MAX bytes, CR LF or LF cut. 1 line, 0 EOF, -1 err set. */
static int
line_read(FILE *f, char **line, size_t *cap, const char *src,
    unsigned long lineno, struct buf *err)
{
	ssize_t	 n;

	errno = 0;
	if ((n = getline(line, cap, f)) == -1) {
		if (ferror(f)) {
			(void)buf_setf(err, "%s: read: %s", src,
			    strerror(errno ? errno : EIO));
			return -1;
		}
		return 0;
	}
	if ((size_t)n != strlen(*line)) {
		(void)buf_setf(err, "%s:%lu: NUL byte in line", src, lineno);
		return -1;
	}
	if (n > 0 && (*line)[n - 1] == '\n')
		(*line)[--n] = '\0';
	if (n > 0 && (*line)[n - 1] == '\r')
		(*line)[--n] = '\0';
	if ((size_t)n > ALIAS_LINE_MAX) {
		(void)buf_setf(err, "%s:%lu: line too long (more than %d "
		    "bytes)", src, lineno, ALIAS_LINE_MAX);
		return -1;
	}
	return 1;
}

/* The entry gathered so far (name NUL list) into the cdb. */
static int
entry_put(struct cdb_make *cm, const struct buf *entry, const char *src,
    unsigned long lineno, struct buf *err)
{
	struct buf	 val = BUF_INIT;
	const char	*name = entry->data, *list, *why;
	int		 r, rc = -1;

	list = name + strlen(name) + 1;
	if (alias_list_parse(list, &val, &why) == -1) {
		(void)buf_setf(err, "%s:%lu: alias '%s': %s", src, lineno,
		    name, why);
		goto out;
	}
	if (val.len == 0) {
		(void)buf_setf(err, "%s:%lu: alias '%s' has no target", src,
		    lineno, name);
		goto out;
	}
	if (val.len > TABLE_VALUE_MAX) {
		(void)buf_setf(err, "%s:%lu: alias '%s': targets longer than "
		    "%d bytes in all; put them in an :include: file", src,
		    lineno, name, TABLE_VALUE_MAX);
		goto out;
	}
	r = cdb_make_put(cm, name, (unsigned)strlen(name), val.data,
	    (unsigned)val.len, CDB_PUT_INSERT);
	if (r == -1) {
		(void)buf_setf(err, "%s: write: %s", src, strerror(errno));
		goto out;
	}
	if (r > 0) {
		(void)buf_setf(err, "%s:%lu: duplicate alias '%s'", src,
		    lineno, name);
		goto out;
	}
	rc = 0;
out:
	buf_free(&val);
	return rc;
}

/* table_records_fn for the aliases table. */
static int
alias_records(FILE *f, const char *src, struct cdb_make *cm, struct buf *err)
{
	struct buf	 entry = BUF_INIT;
	unsigned long	 lineno = 0, start = 0;
	char		*line = NULL, *p, *colon, *e;
	size_t		 cap = 0;
	int		 r, rc = -1;

	while ((r = line_read(f, &line, &cap, src, ++lineno, err)) == 1) {
		for (p = line; is_blank(*p); p++)
			;
		if (*p == '\0' || *p == '#')
			continue;
		if (p != line) {
			/* A continuation: more targets for the entry above.
			 * Joined with a comma, so a line end separates
			 * targets whether or not the line above ended with
			 * one (empty items are skipped). */
			if (start == 0) {
				(void)buf_setf(err, "%s:%lu: continuation "
				    "line without an alias above it", src,
				    lineno);
				goto out;
			}
			if (buf_addc(&entry, ',') == -1 ||
			    buf_adds(&entry, p) == -1) {
				(void)buf_setf(err, "%s:%lu: out of memory",
				    src, lineno);
				goto out;
			}
			continue;
		}
		if (start != 0) {
			if (buf_addc(&entry, '\0') == -1 ||
			    entry_put(cm, &entry, src, start, err) == -1)
				goto out;
		}
		if ((colon = strchr(line, ':')) == NULL) {
			(void)buf_setf(err, "%s:%lu: not \"name: targets\" "
			    "(no ':')", src, lineno);
			goto out;
		}
		*colon = '\0';
		for (e = colon; e > line && is_blank(e[-1]); )
			*--e = '\0';
		/* "Name": quotes around a name are dropped (RFC 822). */
		if (line[0] == '"' && e - line >= 2 && e[-1] == '"') {
			e[-1] = '\0';
			memmove(line, line + 1, (size_t)(e - line) - 1);
		}
		addr_lower(line);
		if (strchr(line, '@') != NULL) {
			(void)buf_setf(err, "%s:%lu: alias name '%s' has "
			    "an '@': aliases are local names (use the "
			    "virtual table for addresses)", src, lineno, line);
			goto out;
		}
		if (!local_name_ok(line)) {
			(void)buf_setf(err, "%s:%lu: bad alias name '%s'",
			    src, lineno, line);
			goto out;
		}
		buf_reset(&entry);
		if (buf_add(&entry, line, strlen(line) + 1) == -1 ||
		    buf_adds(&entry, colon + 1) == -1) {
			(void)buf_setf(err, "%s:%lu: out of memory", src,
			    lineno);
			goto out;
		}
		start = lineno;
	}
	if (r == -1)
		goto out;
	if (start != 0 && (buf_addc(&entry, '\0') == -1 ||
	    entry_put(cm, &entry, src, start, err) == -1))
		goto out;
	rc = 0;
out:
	free(line);
	buf_free(&entry);
	return rc;
}

int
alias_build(const char *src, const char *dst, struct buf *err)
{
	return table_build_with(src, dst, alias_records, err);
}

int
alias_include_read(const char *path, struct buf *out, struct buf *err)
{
	int	 fd;

	if (path[0] != '/') {
		(void)buf_setf(err, "%s: include of a relative path", path);
		return -2;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return -1;
	return alias_fd_read(fd, path, out, err);
}

int
alias_fd_read(int fd, const char *name, struct buf *out, struct buf *err)
{
	struct stat	 st;
	unsigned long	 lineno = 0;
	const char	*why;
	char		*line = NULL, *p;
	size_t		 cap = 0;
	FILE		*f;
	int		 r, rc = -1, saved;

	/* A FIFO or a device would block or never end: regular files only,
	 * and small ones. */
	if (fstat(fd, &st) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > ALIAS_INCLUDE_MAX) {
		close(fd);
		(void)buf_setf(err, "%s: not a regular file of at most %d "
		    "bytes", name, ALIAS_INCLUDE_MAX);
		return -2;
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	while ((r = line_read(f, &line, &cap, name, ++lineno, err)) == 1) {
		for (p = line; is_blank(*p); p++)
			;
		if (*p == '\0' || *p == '#')
			continue;
		if (alias_list_parse(p, out, &why) == -1) {
			(void)buf_setf(err, "%s:%lu: %s", name, lineno, why);
			rc = -2;
			goto out;
		}
	}
	if (r == -1) {
		rc = -2;		/* err says what and where */
		goto out;
	}
	rc = 0;
out:
	free(line);
	fclose(f);
	return rc;
}

int
alias_forward_valid(const char *text, size_t len)
{
	const char	*line = text, *p;

	if (len == 0 || len > ALIAS_FORWARD_TEXT_MAX)
		return 0;
	for (p = text; p < text + len; p++) {
		if (*p == '\n') {
			if (p == line)
				return 0;	/* an empty target */
			line = p + 1;
			continue;
		}
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			return 0;
		if (p == line && (size_t)(text + len - p) >=
		    strlen(ALIAS_INCLUDE_PREFIX) && strncmp(p,
		    ALIAS_INCLUDE_PREFIX, strlen(ALIAS_INCLUDE_PREFIX)) == 0)
			return 0;
	}
	return line < text + len;	/* no empty last target */
}
