/*
 * resolve: the DNS helper of remote delivery.
 *
 * Job: answer qmgr's 'Q' queries (the mail exchangers of a domain, or the
 * addresses of a host) with one 'A' each: where to try, best first, or why
 * not (docs/protocols.md, "qmgr -> resolve, and back"). The rules are
 * mx.c's (RFC 5321 5.1, RFC 7505), the packets lookup.c's, dns.c's and
 * query.c's, the memory cache.c's; this file is the process around them.
 *
 * Privileges: started by master as root; opens syslog, then chroots into
 * resolve_chroot_directory and becomes resolve_user (priv_drop) before it
 * reads a byte of DNS or of qmgr. Inside, it reads /etc/resolv.conf (the
 * copy master keeps of resolv_conf_file) and nothing else. Not root (a
 * developer's "make run"): no chroot, no uid change, one log line, and the
 * machine's own /etc/resolv.conf.
 *
 * Pipes:
 *   fd 3  SOCK_STREAM socketpair to qmgr: 'Q' in, 'A' out. A record that
 *         is not a well-formed 'Q' drops the connection (logged, naming
 *         the record), as does EOF; resolve then waits on fd 4.
 *   fd 4  control socket from master: an SCM_RIGHTS message with tag 'P'
 *         is a new qmgr socket replacing fd 3; EOF means master is gone.
 * Signals: SIGTERM exits (at once, even inside a DNS wait); SIGHUP empties
 * the cache and reads /etc/resolv.conf again (postern.conf too when not
 * chrooted: inside, it cannot be reached; see resolve_reload()).
 *
 * Queries are answered one at a time, in the order they came: each costs a
 * few packets at most, answers are cached, and every query has a budget of
 * RESOLVE_QUERY_SECONDS after which the hosts not yet looked up count as
 * temporary failures. Exit: 0 (SIGTERM, master gone), 64 usage, 75
 * environment (fatal()).
 */
#include <sys/types.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "answer.h"
#include "buf.h"
#include "cache.h"
#include "conf.h"
#include "frame.h"
#include "log.h"
#include "lookup.h"
#include "mx.h"
#include "peer.h"
#include "priv.h"
#include "spawner.h"
#include "query.h"
#include "nolsan.h"

#define RESOLVE_ID_MAX		64	/* qmgr's query id, echoed back */
#define RESOLVE_NAME_MAX	1024	/* a name longer than this is a
					 * protocol error, not a D */
#define RESOLVE_OUT_MAX		((size_t)4 << 20)	/* unread answers */
#define RESOLVE_QUERY_SECONDS	30	/* DNS time per query, at most
					 * (plus the packet under way) */

static struct conf	 conf;
static const char	*confdir = CONFDIR_DEFAULT;
static struct peer	 qmgr;
static struct lookup	 lk;
static struct answer	 ans;
static int		 chrooted;	/* root at start: chroot and drop */
static int		 sigpipe_fds[2] = { -1, -1 };
static volatile sig_atomic_t got_hup, got_term;

/* Flags and a wake-up for poll(); the one exception is SIGTERM during a
 * DNS wait, which ends the process there: nothing is half done. */
static void
resolve_signal(int sig)
{
	int saved = errno;
	ssize_t n;

	if (sig == SIGTERM) {
		if (query_busy)
			_exit(0);
		got_term = 1;
	} else if (sig == SIGHUP)
		got_hup = 1;
	n = write(sigpipe_fds[1], "", 1);
	(void)n;
	errno = saved;
}

static void
resolve_signals(void)
{
	struct sigaction sa;

	if (pipe2(sigpipe_fds, O_CLOEXEC | O_NONBLOCK) == -1)
		fatal_errno("self-pipe");
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	/* An answer to a qmgr that went away must be an EPIPE, not death. */
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = resolve_signal;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* A port as qmgr writes it: 1 to 65535 in decimal, no sign, no blank. */
static int
resolve_port_valid(const char *p)
{
	size_t	 n = strlen(p);
	long	 v;

	if (n == 0 || n > 5 || strspn(p, "0123456789") != n || p[0] == '0')
		return 0;
	v = strtol(p, NULL, 10);
	return v >= 1 && v <= 65535;
}

static void
resolve_conf_apply(void)
{
	cache_free(lk.cache);
	if ((lk.cache = cache_new((size_t)conf.resolve_cache_entries)) ==
	    NULL)
		fatal("out of memory");
	lk.cache_max_seconds = (unsigned)conf.resolve_cache_max_seconds;
}

/* One 'Q': the answer goes into qmgr.out. -1: the connection is dropped. */
static int
resolve_query(const char *const f[4])
{
	const char	*id = f[0], *mode = f[1], *name = f[2], *port = f[3];
	struct buf	 hosts = BUF_INIT;
	char		 st[2];
	int		 rc = 0;

	if (strlen(id) >= RESOLVE_ID_MAX || (strcmp(mode, "m") != 0 &&
	    strcmp(mode, "a") != 0) || strlen(name) >= RESOLVE_NAME_MAX ||
	    !resolve_port_valid(port)) {
		peer_drop(&qmgr, "malformed Q record (id, mode, name or "
		    "port)");
		return -1;
	}
	answer_init(&ans, answer_families(conf.inet_protocols),
	    (size_t)conf.resolve_address_limit);
	lk.deadline = lookup_now(&lk) + RESOLVE_QUERY_SECONDS;
	mx_resolve(&lk, conf.hostname, mode[0], name, &ans);
	if (ans.status != 'K')
		log_info("%s lookup: %c %s %s", mode[0] == 'm' ? "MX" :
		    "address", ans.status, ans.code, ans.text);
	buf_init(&hosts, FRAME_MAX);
	st[0] = ans.status;
	st[1] = '\0';
	if (answer_format(&ans, port, &hosts) == -1 ||
	    frame_put_fields(&qmgr.out, 'A', id, st, ans.code, ans.text,
	    buf_str(&hosts), (char *)NULL) == -1) {
		peer_drop(&qmgr, "qmgr does not read its answers");
		rc = -1;
	}
	buf_free(&hosts);
	return rc;
}

/* Complete records from qmgr, answered in order. */
static void
resolve_qmgr_records(void)
{
	struct buf	 payload = BUF_INIT;
	const char	*f[4];
	size_t		 used;

	buf_init(&payload, FRAME_MAX);
	while (!got_term &&
	    peer_next(&qmgr, 'Q', &payload, f, 4, &used) == 1) {
		if (resolve_query(f) == -1)
			break;
		peer_consume(&qmgr, used);
		peer_flush(&qmgr);
	}
	buf_free(&payload);
}

/*
 * SIGHUP. Inside the chroot postern.conf cannot be read again (holding a
 * descriptor of its directory would be a way out of the jail): the cache
 * is emptied and /etc/resolv.conf read again, and changed keys of
 * resolve's apply when it is started again. Outside (not root), the file
 * is read as lspawn reads it.
 */
static void
resolve_reload(void)
{
	static struct conf nc;
	struct buf err = BUF_INIT;

	if (chrooted) {
		resolve_conf_apply();
		(void)query_init();
		log_info("SIGHUP: cache emptied, %s read again; postern.conf "
		    "is outside the chroot, changed keys apply when resolve "
		    "starts again", QUERY_RESOLV_CONF);
		return;
	}
	buf_init(&err, 4096);
	if (conf_load(&nc, confdir, &err) == -1)
		log_warn("%s; keeping the old configuration", buf_str(&err));
	else {
		conf = nc;
		resolve_conf_apply();
		(void)query_init();
		log_info("configuration reloaded, cache emptied");
	}
	buf_free(&err);
}

static void
resolve_loop(void)
{
	struct pollfd pfd[3];
	char drain[64];

	for (;;) {
		pfd[0].fd = sigpipe_fds[0];
		pfd[0].events = POLLIN;
		pfd[1].fd = PEER_CTL_FD;
		pfd[1].events = POLLIN;
		peer_pollfd(&qmgr, &pfd[2]);
		if (poll(pfd, 3, -1) == -1) {
			if (errno == EINTR)
				continue;
			fatal_errno("poll");
		}
		while (read(sigpipe_fds[0], drain, sizeof(drain)) > 0)
			;
		if (got_term) {
			log_info("SIGTERM, exiting");
			exit(0);
		}
		if (got_hup) {
			got_hup = 0;
			resolve_reload();
		}
		if (pfd[1].revents)
			peer_control(&qmgr);
		if (qmgr.fd != -1 && qmgr.fd == pfd[2].fd) {
			peer_event(&qmgr, pfd[2].revents);
			resolve_qmgr_records();
		}
	}
}

int
main(int argc, char *argv[])
{
	confdir = spawner_start(argc, argv, "resolve", &conf);
	peer_init(&qmgr, RESOLVE_OUT_MAX);

	/* Syslog is connected (log_init, LOG_NDELAY) and the time zone read
	 * before the chroot, which has neither /dev/log nor zoneinfo. */
	tzset();
	chrooted = priv_is_root();
	priv_drop(conf.resolve_user, conf.resolve_chroot_directory);
	if (!chrooted && strcmp(conf.resolv_conf_file, QUERY_RESOLV_CONF) != 0)
		log_info("not chrooted: glibc reads %s, not resolv_conf_file "
		    "%s", QUERY_RESOLV_CONF, conf.resolv_conf_file);
	(void)query_init();

	lk.send = query_send;
	resolve_conf_apply();
	resolve_signals();
	log_info("started, cache of %d entries for at most %d s",
	    conf.resolve_cache_entries, conf.resolve_cache_max_seconds);
	resolve_loop();
	return 0;
}
