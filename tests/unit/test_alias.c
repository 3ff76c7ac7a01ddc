/*
 * test_alias.c: the aliases table's parser (common/alias.c): target lists
 * with quotes and every target kind, the NUL-separated value, the errors
 * of alias_build() with their file:line, and :include: files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bsd/string.h>

#include "alias.h"
#include "buf.h"
#include "table.h"
#include "harness.h"

static char	 dir[] = "/tmp/test_alias.XXXXXX";
static char	 src[PATH_MAX], dst[PATH_MAX];

/* Parse list; return its targets joined by '|' for comparison ("" on error). */
static const char *
parse(const char *list)
{
	static char	 out[4096];
	struct buf	 b = BUF_INIT;
	const char	*why;
	size_t		 i;

	out[0] = '\0';
	if (alias_list_parse(list, &b, &why) == -1) {
		strlcpy(out, "ERR ", sizeof(out));
		strlcat(out, why, sizeof(out));
	} else {
		for (i = 0; i < b.len && i < sizeof(out) - 1; i++)
			out[i] = b.data[i] == '\0' ? ';' : b.data[i];
		out[i] = '\0';
	}
	buf_free(&b);
	return out;
}

static void
put(const char *path, const char *text)
{
	FILE	*f;

	if ((f = fopen(path, "w")) == NULL || fputs(text, f) == EOF ||
	    fclose(f) != 0) {
		perror(path);
		exit(2);
	}
}

/* Build text; return the error ("" on success). */
static const char *
build(const char *text)
{
	static char	 out[1024];
	struct buf	 err = BUF_INIT;

	put(src, text);
	out[0] = '\0';
	if (alias_build(src, dst, &err) == -1)
		strlcpy(out, buf_str(&err) + strlen(src), sizeof(out));
	buf_free(&err);
	return out;
}

int
main(void)
{
	struct table	 t;
	struct buf	 v = BUF_INIT, err = BUF_INIT;
	char		 inc[PATH_MAX];

	if (mkdtemp(dir) == NULL)
		return 2;
	snprintf(src, sizeof(src), "%s/aliases", dir);
	snprintf(dst, sizeof(dst), "%s/aliases.cdb", dir);
	snprintf(inc, sizeof(inc), "%s/list", dir);

	CHECK_STR(parse("a, B@Example.org ,c"), "a;B@Example.org;c;");
	CHECK_STR(parse("Bob"), "bob;");
	CHECK_STR(parse("\"|/bin/x a, b\""), "|/bin/x a, b;");
	CHECK_STR(parse("|  /bin/x"), "|/bin/x;");
	CHECK_STR(parse("/var/mail/x, \\Bob"), "/var/mail/x;\\bob;");
	CHECK_STR(parse(":include: /etc/l"), ":include:/etc/l;");
	CHECK_STR(parse("<u@example.org>"), "u@example.org;");
	CHECK_STR(parse("a,,b,"), "a;b;");
	CHECK(strncmp(parse(":include:rel"), "ERR include of a relative", 25)
	    == 0);
	CHECK(strncmp(parse("\"open"), "ERR unterminated", 16) == 0);
	CHECK(strncmp(parse("|"), "ERR empty command", 17) == 0);
	CHECK(strncmp(parse("/var/mail/"), "ERR a file target names", 23) == 0);
	CHECK(strncmp(parse("a b"), "ERR bad local name", 18) == 0);
	CHECK(strncmp(parse("x@"), "ERR bad address", 15) == 0);
	CHECK(strncmp(parse("\"a\tb\""), "ERR control", 11) == 0);

	/* '#' only starts a comment line: "y # x" is not a name */
	CHECK(strncmp(build("# c\n\"Staff\": a,\n  b\n\tc\nx: y # x\n"),
	    ":5: alias 'x': bad local name", 29) == 0);
	CHECK_STR(build("# c\n\"Staff\": a,\n  b\n\tc\n\nroot: \\root\n"), "");
	memset(&t, 0, sizeof(t));
	t.fd = -1;
	strlcpy(t.path, dst, sizeof(t.path));
	CHECK(table_lookup(&t, "staff", &v) == 1);
	CHECK(v.len == 6 && memcmp(v.data, "a\0b\0c\0", 6) == 0);
	CHECK(table_lookup(&t, "root", &v) == 1);
	table_close(&t);
	CHECK_STR(build("a: b\nnocolon\n"), ":2: not \"name: targets\" (no ':')");
	CHECK_STR(build(" a: b\n"), ":1: continuation line without an alias "
	    "above it");
	CHECK_STR(build("a: b\nA: c\n"), ":2: duplicate alias 'a'");
	CHECK_STR(build("a@b: c\n"), ":1: alias name 'a@b' has an '@': aliases "
	    "are local names (use the virtual table for addresses)");
	CHECK_STR(build("a:\n"), ":1: alias 'a' has no target");
	CHECK_STR(build("x: y\na: b,\n  :include:l\n"), ":2: alias 'a': "
	    "include of a relative path (\":include:\" needs an absolute path)");

	put(inc, "# members\nann, bob\n\n  |/bin/cat\n");
	buf_reset(&v);
	CHECK(alias_include_read(inc, &v, &err) == 0);
	CHECK(v.len == 18 && memcmp(v.data, "ann\0bob\0|/bin/cat\0", 18) == 0);
	buf_reset(&v);
	put(inc, "ann\n\"bad\n");
	CHECK(alias_include_read(inc, &v, &err) == -2);
	CHECK(strstr(buf_str(&err), "list:2: unterminated quote") != NULL);
	CHECK(alias_include_read("rel/x", &v, &err) == -2);
	CHECK(alias_include_read("/nonexistent/x", &v, &err) == -1);
	CHECK(alias_include_read(dir, &v, &err) == -2);	/* a directory */

	buf_free(&v);
	buf_free(&err);
	unlink(src);
	unlink(dst);
	unlink(inc);
	rmdir(dir);
	return harness_done();
}
