/*
 * makemap.c: "postern makemap NAME" and "postern check [-v]".
 *
 * makemap compiles CONFDIR/NAME into CONFDIR/NAME.cdb with table_build(),
 * which writes a temporary file and renames it over the old table: readers
 * (new sessions, qmgr's next lookup) see the old table or the new one,
 * never half of one. NAME is a plain file name ([a-z0-9_-]+), so nothing
 * outside CONFDIR can be named.
 *
 * "newaliases" is "makemap aliases" (the aliases table has the /etc/aliases
 * format, common/alias.c).
 *
 * check loads postern.conf exactly as master will and reports the first
 * error as "file:line: what"; it also warns about a table whose text file
 * is newer than its .cdb (edited, not yet compiled with makemap).
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "alias.h"
#include "buf.h"
#include "conf.h"
#include "table.h"
#include "postern.h"

/* DESIGN.md, "Configuration": the tables an instance may have. */
static const char *const tables[] = { "aliases", "domains", "virtual",
    "relay", "access", "routes", "tls_policy", "passwd" };

static int
map_name_ok(const char *s)
{
	size_t	 i;

	if (s[0] == '\0' || strlen(s) > NAME_MAX - 16)
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

int
cmd_makemap(const char *confdir, int argc, char **argv)
{
	struct conf	 c;
	struct buf	 err = BUF_INIT;
	char		 src[PATH_MAX], dst[PATH_MAX];

	if (argc != 2) {
		complain("usage: postern makemap NAME");
		return EX_USAGE;
	}
	if (!map_name_ok(argv[1])) {
		complain("bad table name \"%s\" (want [a-z0-9_-]+)", argv[1]);
		return EX_USAGE;
	}
	conf_load_or_exit(&c, confdir);
	if ((size_t)snprintf(src, sizeof(src), "%s/%s", c.confdir, argv[1]) >=
	    sizeof(src) || (size_t)snprintf(dst, sizeof(dst), "%s/%s.cdb",
	    c.confdir, argv[1]) >= sizeof(dst)) {
		complain("path too long: %s", c.confdir);
		return EX_USAGE;
	}
	if (table_compile(argv[1], src, dst, &err) == -1) {
		complain("%s", buf_str(&err));
		buf_free(&err);
		return 1;
	}
	buf_free(&err);
	say("built %s", dst);
	return 0;
}

/* "postern newaliases": sendmail's newaliases, "makemap aliases". */
int
cmd_newaliases(const char *confdir, int argc, char **argv)
{
	char	*av[] = { argv[0], (char *)"aliases", NULL };

	if (argc != 1) {
		complain("usage: postern newaliases");
		return EX_USAGE;
	}
	return cmd_makemap(confdir, 2, av);
}

/* A text table edited after its .cdb was built: a warning, not an error.
 * A line makemap would refuse: an error "file:line: what" (check_table.c).
 * The number of tables with an error. */
static int
check_tables(const struct conf *c)
{
	struct stat	 st, sc;
	struct buf	 err = BUF_INIT;
	char		 src[PATH_MAX], dst[PATH_MAX];
	size_t		 i;
	int		 bad = 0;

	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		if (conf_path(c, tables[i], src, sizeof(src)) == -1 ||
		    (size_t)snprintf(dst, sizeof(dst), "%s.cdb", src) >=
		    sizeof(dst) || stat(src, &st) == -1)
			continue;
		buf_reset(&err);
		if (check_table_parse(tables[i], src, &err) == -1) {
			complain("%s", buf_str(&err));
			bad++;
		}
		if (stat(dst, &sc) == -1)
			complain("warning: %s has no %s.cdb: run \"postern "
			    "makemap %s\"", src, tables[i], tables[i]);
		else if (st.st_mtime > sc.st_mtime)
			complain("warning: %s is newer than %s: run \"postern "
			    "makemap %s\"", src, dst, tables[i]);
	}
	buf_free(&err);
	return bad;
}

int
cmd_check(const char *confdir, int argc, char **argv)
{
	struct conf	 c;
	int		 verbose = 0, bad;

	if (argc == 2 && strcmp(argv[1], "-v") == 0)
		verbose = 1;
	else if (argc != 1) {
		complain("usage: postern check [-v]");
		return EX_USAGE;
	}
	conf_load_or_exit(&c, confdir);
	bad = check_tables(&c);
	if (verbose)
		conf_print(&c, STDOUT_FILENO);
	return bad > 0 ? EX_CONFIG : 0;
}
