/*
 * check_table.c: "postern check" parses each table as "postern makemap"
 * would, without touching the table in use.
 *
 * The only faithful parse is makemap's own compiler, so the table is
 * compiled into a private directory (mkdtemp under /tmp, mode 0700) and the
 * result thrown away: CONFDIR and its .cdb files are never written, and a
 * new table format (aliases has its own, common/alias.c) is checked by the
 * code that will compile it. Keep the choice of compiler below the same as
 * cmd_makemap()'s.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alias.h"
#include "buf.h"
#include "route.h"
#include "table.h"
#include "postern.h"

/* The compiler of each table: aliases has the /etc/aliases format
 * (common/alias.c); routes and tls_policy have their values checked
 * (common/route.c); the rest are plain "key value" tables. */
int
table_compile(const char *name, const char *src, const char *dst,
    struct buf *err)
{
	if (strcmp(name, "aliases") == 0)
		return alias_build(src, dst, err);
	if (strcmp(name, "routes") == 0)
		return table_build_checked(src, dst, route_check, err);
	if (strcmp(name, "tls_policy") == 0)
		return table_build_checked(src, dst, tls_policy_check, err);
	return table_build(src, dst, err);
}

int
check_table_parse(const char *name, const char *src, struct buf *err)
{
	char	 dir[] = "/tmp/postern-check.XXXXXX";
	char	 dst[PATH_MAX];
	int	 rc;

	if (mkdtemp(dir) == NULL) {
		(void)buf_setf(err, "mkdtemp %s: %s", dir, strerror(errno));
		return -1;
	}
	if ((size_t)snprintf(dst, sizeof(dst), "%s/%s.cdb", dir, name) >=
	    sizeof(dst)) {
		(void)buf_setf(err, "%s: name too long", src);
		rmdir(dir);
		return -1;
	}
	rc = table_compile(name, src, dst, err);
	(void)unlink(dst);
	(void)rmdir(dir);
	return rc;
}
