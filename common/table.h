/*
 * table.h: read-only lookups in the cdb tables of CONFDIR (tinycdb).
 *
 * A table NAME is the file CONFDIR/NAME.cdb, built from the text file
 * CONFDIR/NAME by "postern makemap NAME" (table_build()). Keys are stored
 * lowercased; callers look up lowercased keys.
 *
 * A long-running reader (qmgr) keeps its handle: every lookup stat()s the
 * file and reopens it when its inode or mtime changed, so a rebuilt table
 * (written to a temporary name and renamed over the old one) is seen at the
 * next lookup without a restart. A missing .cdb file is an empty table.
 */
#ifndef POSTERN_TABLE_H
#define POSTERN_TABLE_H

#include <limits.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>
#include <cdb.h>
#include "buf.h"

struct conf;

struct table {
	char		 path[PATH_MAX];	/* CONFDIR/NAME.cdb */
	int		 fd;			/* -1: not open */
	struct cdb	 cdb;
	dev_t		 dev;
	ino_t		 ino;
	struct timespec	 mtime;
};

#define TABLE_VALUE_MAX	4096

/* path = CONFDIR/name.cdb; opens nothing yet. */
void	 table_init(struct table *, const struct conf *, const char *name);
/* 1: found, value set (NUL-terminated); 0: not found or no table;
 * -1: the table could not be read (errno), the caller answers "try later". */
int	 table_lookup(struct table *, const char *key, struct buf *value);
void	 table_close(struct table *);
/*
 * Call fn(arg, key, value) for every record, in the order of the text
 * file (key and value NUL-terminated; a key or value holding a NUL is cut
 * there). For tables whose keys are patterns, not exact strings (CIDR
 * prefixes). 1: done; 0: no table; -1: the table could not be read, or fn
 * returned -1 (errno is then fn's).
 */
typedef int (*table_scan_fn)(void *arg, const char *key, const char *value);
int	 table_scan(struct table *, table_scan_fn, void *arg);

/*
 * Compile the text table src into dst (a .cdb) through dst.tmp.PID, fsync and
 * rename. Text format: one "key value" per line (key, blanks, the rest of the
 * line is the value); '#' comment lines and blank lines skipped; keys
 * lowercased; a line without a value, an over-long line or a repeated key is
 * an error "src:line: why" in err, and dst is left as it was. 0 or -1.
 */
int	 table_build(const char *src, const char *dst, struct buf *err);
/* table_build() with every record's value checked by check(), which
 * returns 0 or -1 with *why (routes, tls_policy: common/route.c). */
typedef int (*table_check_fn)(const char *key, const char *value,
	    const char **why);
int	 table_build_checked(const char *src, const char *dst, table_check_fn,
	    struct buf *err);
/* The same with another text format: records() reads src and puts each
 * record into the cdb being made, 0 or -1 with "src:line: why" in err
 * (common/alias.c for the aliases table). */
typedef int (*table_records_fn)(FILE *, const char *src, struct cdb_make *,
	    struct buf *err);
int	 table_build_with(const char *src, const char *dst, table_records_fn,
	    struct buf *err);

#endif
