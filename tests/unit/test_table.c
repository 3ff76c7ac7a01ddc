/*
 * test_table.c: table_build() and table_lookup() on files in a temporary
 * directory: text format, errors with file:line, the old table kept on
 * error, a rebuilt table seen by an open handle, a missing table empty, an
 * over-long value refused, the source's permissions carried over.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bsd/string.h>

#include "conf.h"
#include "table.h"
#include "harness.h"

static char	 dir[] = "/tmp/test_table.XXXXXX";
static char	 src[PATH_MAX], dst[PATH_MAX];

static void
write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
}

static void
put(const char *text)
{
	write_file(src, text, strlen(text));
}

/* Files in dir whose name holds ".tmp.": none may be left behind. */
static int
count_tmp(void)
{
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, ".tmp.") != NULL)
			n++;
	closedir(d);
	return n;
}

static void
remove_dir(void)
{
	DIR		*d;
	struct dirent	*e;
	char		 path[PATH_MAX];

	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static void
test_build(struct table *t)
{
	struct buf	 err = BUF_INIT, val = BUF_INIT;

	put("# comment\n"
	    "\n"
	    "Example.ORG   local\n"
	    "   # indented comment\n"
	    "virt.example\tvirtual   \n"
	    "spaced key with several words  \r\n"
	    "  lead value\n");
	CHECK(table_build(src, dst, &err) == 0);
	CHECK(count_tmp() == 0);
	CHECK(table_lookup(t, "example.org", &val) == 1);
	CHECK_STR(buf_str(&val), "local");
	CHECK(table_lookup(t, "Example.ORG", &val) == 0);  /* keys lowered */
	CHECK(table_lookup(t, "virt.example", &val) == 1);
	CHECK_STR(buf_str(&val), "virtual");
	CHECK(table_lookup(t, "spaced", &val) == 1);
	CHECK_STR(buf_str(&val), "key with several words");
	CHECK(table_lookup(t, "lead", &val) == 1);
	CHECK_STR(buf_str(&val), "value");
	CHECK(table_lookup(t, "nothere", &val) == 0);
	CHECK(table_lookup(t, "", &val) == 0);
	buf_free(&err);
	buf_free(&val);
}

static void
expect_error(const char *text, size_t len, const char *want)
{
	struct buf	 err = BUF_INIT;
	char		 full[PATH_MAX + 128];

	write_file(src, text, len);
	CHECK(table_build(src, dst, &err) == -1);
	snprintf(full, sizeof(full), "%s%s", src, want);
	CHECK_STR(buf_str(&err), full);
	CHECK(count_tmp() == 0);
	buf_free(&err);
}

static void
test_errors(struct table *t)
{
	struct buf	 val = BUF_INIT, err = BUF_INIT;
	char		 line[5000];

	expect_error("a 1\nb\n", 6, ":2: missing value for key 'b'");
	expect_error("a 1\nb   \n", 8, ":2: missing value for key 'b'");
	expect_error("a 1\nA 2\n", 8, ":2: duplicate key 'a'");
	expect_error("a 1\nb x\0y\n", 10, ":2: NUL byte in line");
	memset(line, 'x', sizeof(line));
	memcpy(line, "k ", 2);
	line[4097] = '\n';
	expect_error(line, 4098, ":1: line too long (more than 4096 bytes)");
	/* 4096 bytes exactly is fine */
	line[4096] = '\n';
	write_file(src, line, 4097);
	CHECK(table_build(src, dst, &err) == 0);
	CHECK(table_lookup(t, "k", &val) == 1);
	CHECK(val.len == 4094);

	/* After all those errors the last good table is still there. */
	put("example.org local\n");
	CHECK(table_build(src, dst, &err) == 0);
	expect_error("example.org virtual\nexample.org local\n", 38,
	    ":2: duplicate key 'example.org'");
	CHECK(table_lookup(t, "example.org", &val) == 1);
	CHECK_STR(buf_str(&val), "local");

	/* A missing source. */
	CHECK(table_build("/nonexistent/table", dst, &err) == -1);
	CHECK_STR(buf_str(&err),
	    "/nonexistent/table: No such file or directory");
	buf_free(&val);
	buf_free(&err);
}

static void
test_reopen(struct table *t)
{
	struct buf	 err = BUF_INIT, val = BUF_INIT;

	put("key one\n");
	CHECK(table_build(src, dst, &err) == 0);
	CHECK(table_lookup(t, "key", &val) == 1);
	CHECK_STR(buf_str(&val), "one");
	/* Rebuilt in place: the same handle sees the new table. */
	put("key two\nother three\n");
	CHECK(table_build(src, dst, &err) == 0);
	CHECK(table_lookup(t, "key", &val) == 1);
	CHECK_STR(buf_str(&val), "two");
	CHECK(table_lookup(t, "other", &val) == 1);
	/* Removed: an empty table, no error. */
	CHECK(unlink(dst) == 0);
	CHECK(table_lookup(t, "key", &val) == 0);
	CHECK(t->fd == -1);
	/* Back again. */
	put("key four\n");
	CHECK(table_build(src, dst, &err) == 0);
	CHECK(table_lookup(t, "key", &val) == 1);
	CHECK_STR(buf_str(&val), "four");
	buf_free(&err);
	buf_free(&val);
}

/* A .cdb not made by table_build: a value over TABLE_VALUE_MAX, and a file
 * that is not a cdb at all. */
static void
test_bad_files(struct table *t)
{
	struct cdb_make	 cm;
	struct buf	 val = BUF_INIT;
	static char	 big[TABLE_VALUE_MAX + 2];
	int		 fd;

	memset(big, 'v', sizeof(big) - 1);
	CHECK((fd = open(dst, O_RDWR | O_CREAT | O_TRUNC, 0644)) != -1);
	CHECK(cdb_make_start(&cm, fd) == 0);
	CHECK(cdb_make_add(&cm, "big", 3, big, TABLE_VALUE_MAX + 1) == 0);
	CHECK(cdb_make_add(&cm, "max", 3, big, TABLE_VALUE_MAX) == 0);
	CHECK(cdb_make_finish(&cm) == 0);
	close(fd);
	errno = 0;
	CHECK(table_lookup(t, "big", &val) == -1);
	CHECK(errno == EMSGSIZE);
	CHECK(table_lookup(t, "max", &val) == 1);
	CHECK(val.len == TABLE_VALUE_MAX);

	unlink(dst);
	write_file(dst, "xx", 2);
	CHECK(table_lookup(t, "max", &val) == -1);

	/* Unreadable path (a directory component that is a file). */
	table_close(t);
	strlcpy(t->path, src, sizeof(t->path));
	strlcat(t->path, "/x.cdb", sizeof(t->path));
	CHECK(table_lookup(t, "max", &val) == -1);
	CHECK(errno == ENOTDIR);
	buf_free(&val);
}

static void
test_mode(void)
{
	struct buf	 err = BUF_INIT;
	struct stat	 st;

	put("user $6$hash\n");
	CHECK(chmod(src, 0600) == 0);
	CHECK(table_build(src, dst, &err) == 0);
	CHECK(stat(dst, &st) == 0);
	CHECK((st.st_mode & 0777) == 0600);
	CHECK(chmod(src, 0644) == 0);
	CHECK(table_build(src, dst, &err) == 0);
	CHECK(stat(dst, &st) == 0);
	CHECK((st.st_mode & 0777) == 0644);
	buf_free(&err);
}

int
main(void)
{
	struct conf	 conf;
	struct table	 t;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	memset(&conf, 0, sizeof(conf));
	strlcpy(conf.confdir, dir, sizeof(conf.confdir));
	snprintf(src, sizeof(src), "%s/domains", dir);
	snprintf(dst, sizeof(dst), "%s/domains.cdb", dir);

	table_init(&t, &conf, "domains");
	CHECK_STR(t.path, dst);
	CHECK(t.fd == -1);
	{
		struct buf val = BUF_INIT;

		CHECK(table_lookup(&t, "x", &val) == 0);  /* no table yet */
		buf_free(&val);
	}
	test_build(&t);
	test_errors(&t);
	test_reopen(&t);
	test_mode();
	test_bad_files(&t);
	table_close(&t);
	table_close(&t);	/* twice is harmless */

	remove_dir();
	return harness_done();
}
