/*
 * spool.h: the spool's layout, queue IDs and the durability helpers.
 *
 * Every program that touches the spool runs with the spool directory as its
 * cwd, so every path here is relative ("new/ID"). See docs/spool.md.
 */
#ifndef POSTERN_SPOOL_H
#define POSTERN_SPOOL_H

#include <sys/stat.h>
#include <sys/time.h>
#include <stddef.h>

#define SPOOL_TMP	"tmp"
#define SPOOL_NEW	"new"
#define SPOOL_ACTIVE	"active"
#define SPOOL_DEFERRED	"deferred"
#define SPOOL_HOLD	"hold"
#define SPOOL_CORRUPT	"corrupt"
#define SPOOL_STATE	"state"
/* operator requests for messages in active/ (docs/protocols.md) */
#define SPOOL_CONTROL	"control"
#define SPOOL_TRIGGER	"trigger"

#define SPOOL_ID_MAX	40

/*
 * A queue ID: arrival seconds (9 hex digits), microseconds (5), the inode of
 * the queue file (hex, any length), 4 random hex digits: unique while the
 * file exists (no two live files share an inode), across restarts and clock
 * steps (the random part), and short enough to log. Only [0-9A-F].
 */
int	 spool_id_make(char *out, size_t outsz, const struct timeval *,
	    ino_t ino);
int	 spool_id_valid(const char *id);	/* 1 if well-formed */
/* "dir/id" into out; -1 if it does not fit or id is not valid. */
int	 spool_path(char *out, size_t outsz, const char *dir, const char *id);
/* open(dir, O_DIRECTORY) + fsync + close. 0 or -1. */
int	 spool_fsync_dir(const char *dir);
/* Wake qmgr: one byte into the trigger FIFO, non-blocking; a missing
 * reader is not an error (qmgr rescans on its timer). */
void	 spool_trigger(void);

#endif
