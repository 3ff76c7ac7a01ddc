/*
 * fuzz_table.c: libFuzzer harness for the table text parsers,
 * table_build() (common/table.c: "key value" lines) and alias_build()
 * (common/alias.c: the /etc/aliases format), which "postern makemap"
 * runs on files an operator (or a careless script) wrote.
 *
 * Input: one byte choosing the parser (low bit: 0 table, 1 aliases), then
 * the text file. It is written to a private temporary directory and
 * compiled to a .cdb there, as makemap would.
 *
 * Properties:
 *  - on success the .cdb exists, is a valid cdb (tinycdb walks it to its
 *    end), and every key in it is lowercased (table.h: callers look up
 *    lowercased keys, so an upper-case key would be a record nobody finds)
 *    and non-empty; for aliases, every value is a list of NUL-ended
 *    targets (alias.h);
 *  - on failure the error begins with the source path and names a line,
 *    "file:line: why" (DESIGN.md: an error naming the file and line), or
 *    is an I/O error "file: why"; the old .cdb is left as it was.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cdb.h>

#include "alias.h"
#include "buf.h"
#include "fuzz.h"
#include "table.h"

static char	 dir[] = "/tmp/fuzz_table.XXXXXX";
static char	 src[64], dst[64];

static void
setup(void)
{
	if (src[0] != '\0')
		return;
	FUZZ_CHECK(mkdtemp(dir) != NULL);
	snprintf(src, sizeof(src), "%s/table", dir);
	snprintf(dst, sizeof(dst), "%s/table.cdb", dir);
}

/* Walk every record of dst: keys lowercased and non-empty; aliases'
 * values NUL-ended. */
static void
check_cdb(int aliases)
{
	struct cdb	 c;
	unsigned	 pos, i;
	const char	*k, *v;
	int		 fd;

	FUZZ_CHECK((fd = open(dst, O_RDONLY | O_CLOEXEC)) != -1);
	FUZZ_CHECK(cdb_init(&c, fd) == 0);
	cdb_seqinit(&pos, &c);
	while (cdb_seqnext(&pos, &c) > 0) {
		k = cdb_getkey(&c);
		v = cdb_getdata(&c);
		FUZZ_CHECK(k != NULL && v != NULL);
		FUZZ_CHECK(cdb_keylen(&c) > 0);
		for (i = 0; i < cdb_keylen(&c); i++)
			FUZZ_CHECK(!(k[i] >= 'A' && k[i] <= 'Z'));
		if (aliases)
			FUZZ_CHECK(cdb_datalen(&c) > 0 &&
			    v[cdb_datalen(&c) - 1] == '\0');
		else
			FUZZ_CHECK(cdb_datalen(&c) > 0);
	}
	cdb_free(&c);
	close(fd);
}

/* "src:LINE: why" with LINE decimal; or "src: why" (read or write). */
static void
check_error(const struct buf *err)
{
	const char	*e = buf_str(err), *p;
	size_t		 n = strlen(src);

	if (strncmp(e, src, n) != 0) {
		fprintf(stderr, "error [%s] does not name %s\n", e, src);
		FUZZ_CHECK(!"error names the file");
	}
	p = e + n;
	if (p[0] == ':' && p[1] >= '0' && p[1] <= '9') {
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
		FUZZ_CHECK(p[0] == ':' && p[1] == ' ' && p[2] != '\0');
	} else {
		/* Only I/O failures name no line. */
		FUZZ_CHECK(p[0] == ':' && p[1] == ' ');
		if (strstr(p, "read") == NULL && strstr(p, "write") == NULL) {
			fprintf(stderr, "error [%s] names no line\n", e);
			FUZZ_CHECK(!"error names the line");
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf	 err = BUF_INIT;
	struct stat	 before, after;
	int		 fd, aliases, r;

	if (size < 1)
		return 0;
	setup();
	aliases = data[0] & 1;
	FUZZ_CHECK((fd = open(src, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) != -1);
	FUZZ_CHECK(write(fd, data + 1, size - 1) == (ssize_t)(size - 1));
	close(fd);
	/* A previous .cdb, so that "left as it was" can be seen. */
	fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FUZZ_CHECK(fd != -1 && write(fd, "old", 3) == 3);
	close(fd);
	FUZZ_CHECK(stat(dst, &before) == 0);

	r = aliases ? alias_build(src, dst, &err) : table_build(src, dst, &err);
	if (r == 0)
		check_cdb(aliases);
	else {
		FUZZ_CHECK(r == -1 && err.len > 0);
		check_error(&err);
		FUZZ_CHECK(stat(dst, &after) == 0);
		FUZZ_CHECK(after.st_ino == before.st_ino && after.st_size == 3);
	}
	buf_free(&err);
	return 0;
}
