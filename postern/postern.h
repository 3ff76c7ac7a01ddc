/*
 * postern.h: the operator command's modules.
 *
 *   postern.c  main(): -c CONFDIR, the command table, usage
 *   control.c  run, start, stop, status, reload (master and its pid file)
 *   setup.c    setup: system users, the spool, the chroot, virtual base
 *   makemap.c  makemap NAME, newaliases, check [-v]
 *   queue.c    queue (the listing; options shared with queue_ops.c)
 *   queue_ops.c flush, hold, release, delete, requeue
 *
 * Every command returns its exit status (sysexits.h; status follows the LSB
 * init-script convention: 3 means "not running").
 */
#ifndef POSTERN_POSTERN_H
#define POSTERN_POSTERN_H

#include "conf.h"

/* postern.c */
void	 conf_load_or_exit(struct conf *, const char *confdir);
void	 say(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 complain(const char *, ...) __attribute__((format(printf, 1, 2)));

/* control.c */
int	 cmd_run(const char *confdir, int argc, char **argv);
int	 cmd_start(const char *confdir, int argc, char **argv);
int	 cmd_stop(const char *confdir, int argc, char **argv);
int	 cmd_status(const char *confdir, int argc, char **argv);
int	 cmd_reload(const char *confdir, int argc, char **argv);

/* setup.c */
int	 cmd_setup(const char *confdir, int argc, char **argv);

/* makemap.c */
int	 cmd_makemap(const char *confdir, int argc, char **argv);
int	 cmd_newaliases(const char *confdir, int argc, char **argv);
int	 cmd_check(const char *confdir, int argc, char **argv);

/* check_table.c: parse a table as makemap would; 0, or -1 with
 * "file:line: what" in err. */
int	 check_table_parse(const char *name, const char *src, struct buf *err);
int	 table_compile(const char *name, const char *src, const char *dst,
	    struct buf *err);

/* queue.c, queue_ops.c */
int	 cmd_queue(const char *confdir, int argc, char **argv);
int	 cmd_flush(const char *confdir, int argc, char **argv);
int	 cmd_hold(const char *confdir, int argc, char **argv);
int	 cmd_release(const char *confdir, int argc, char **argv);
int	 cmd_delete(const char *confdir, int argc, char **argv);
int	 cmd_requeue(const char *confdir, int argc, char **argv);

#endif
