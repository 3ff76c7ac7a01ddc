/*
 * query.h: asking the name servers of /etc/resolv.conf, with glibc's
 * resolver (res_nmkquery + res_nsend).
 *
 * Why glibc's resolver: it is already in every process (no dependency to
 * install, audit or keep patched: docs/design-notes.md says why not
 * c-ares), it reads resolv.conf as every other program on the machine
 * does (servers, "options timeout: attempts: rotate"), retries over TCP
 * when an answer is truncated, and checks that an answer matches its
 * query (id, question, server). It is synchronous, which suits resolve: it
 * answers one query at a time, each lookup bounded by the resolver's
 * timeout and attempts and each query by the budget of resolve.c, and
 * answers are cached (cache.c), so a slow server delays what is behind it
 * for seconds once per TTL, not for every message.
 *
 * Why res_nsend() rather than res_nquery(): res_nquery() returns -1 for
 * NXDOMAIN and NODATA and loses the packet, whose SOA says how long the
 * negative answer may be cached (RFC 2308).
 *
 * The file read is always "/etc/resolv.conf" of the root the process has:
 * in its chroot that is the copy master keeps of resolv_conf_file; glibc
 * cannot be pointed at another path. It is read again (res_ninit) when its
 * inode, size or mtime changed, looked at at most once a second.
 */
#ifndef POSTERN_QUERY_H
#define POSTERN_QUERY_H

#include <signal.h>
#include <stddef.h>

#define QUERY_RESOLV_CONF	"/etc/resolv.conf"
#define QUERY_ANSWER_MAX	65536	/* the largest DNS message, over TCP */

/* 1 while res_nsend() waits: a SIGTERM then may _exit() at once, since
 * nothing of ours is half done. */
extern volatile sig_atomic_t query_busy;

/* Read /etc/resolv.conf (res_ninit). 0, or -1 logged. */
int	 query_init(void);
/* lookup_send_fn: one query, the answer into ans. */
int	 query_send(void *arg, const char *name, int type, unsigned char *ans,
	    size_t size);

#endif
