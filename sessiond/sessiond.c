/*
 * sessiond: forks the smtpd of every SMTP session, without exec, and keeps
 * the enqueue workers that serve the sessions' queue half.
 *
 * Job: master accepts every connection (it alone holds the listeners and
 * applies the session cap and the per-client limits) and hands each one
 * over to sessiond; sessiond forks the session's smtpd from its own
 * address space, where the libraries are already relocated, the config is
 * parsed and the TLS context (certificate and key) is built: no execve()
 * (docs/design-notes.md, "Sessions are forked, not exec'd"). The enqueue
 * half is a worker that serves one session at a time, up to WORKER_USES
 * in turn, handed the session when smtpd first writes to it (design-notes,
 * "enqueue is a pooled worker; smtpd is not"). sessiond tells master when
 * a session has ended (smtpd reaped, enqueue half done), so master's
 * counts stay exact. The tables are not opened here but in the worker,
 * which checks each one's file at every lookup, so a rebuilt table is seen
 * at once.
 * postern.conf is checked (stat) before every session and re-read when it
 * changed, and workers forked before the change are retired, so a new
 * session sees the file as an exec'd pair would; SIGHUP re-reads it and
 * the certificate and key.
 *
 * Privileges: runs as root (it must be able to become both users and to
 * chroot), never reads a byte from the network (it only peeks whether
 * smtpd has written to the queue), and opens nothing per session but a
 * socketpair. Each child gives up everything of sessiond's before it runs
 * session code: closefrom() leaves it exactly the fds below (never the
 * control socket, never another session's connection), its syslog
 * connection is reopened under its own name, and then:
 *   enqueue worker: queue_user for good, cwd the spool (inherited from
 *     master), no chroot; runs enqueue_session() (queue/enqueue.c), the
 *     code of the standalone enqueue program, once per session;
 *   smtpd child: chroot smtpd_chroot_directory and smtpd_user, before a
 *     byte from the client is read; runs smtpd_run() (smtpd/smtpd_run.c).
 * sessiond makes itself a process group leader: master signals the group
 * to stop every session at once (SIGTERM, then SIGKILL), as it used to
 * signal each pid.
 *
 * Pipes (docs/protocols.md, "master <-> sessiond", "sessiond -> enqueue
 * workers"):
 *   fd 3  SOCK_SEQPACKET to master. In: one datagram per connection, a
 *         frame 'S' with fields id, kind, client address, uid ("" but for
 *         a local submission) and the connection as SCM_RIGHTS. Out: 'X'
 *         with the id once the session has ended.
 *   fd 0/1 /dev/null, fd 2 stderr (the foreground log), as master gives.
 *   Each session: smtpd fd 0/1 the connection, fd 3 its end of a new
 *   socketpair, whose other end sessiond holds until smtpd's first
 *   request. Each worker: a SOCK_SEQPACKET socketpair ('S' id, client,
 *   uid + the session's end in; 'X' id out), its fd 3, and fd 0/1
 *   /dev/null.
 *
 * Usage: sessiond -c CONFDIR. Exit: 0 when master closes fd 3 or after
 * SIGTERM once its sessions are gone; 64 usage; 75 (fatal) a bad config at
 * start.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <bsd/string.h>
#include <bsd/unistd.h>

#include "buf.h"
#include "conf.h"
#include "fdpass.h"
#include "frame.h"
#include "fork.h"
#include "io.h"
#include "log.h"
#include "priv.h"
#include "../smtpd/smtpd.h"
#include "../queue/enqueue.h"
#include "nolsan.h"

#define EX_USAGE	64
#define CTL_FD		3
#define REC_MAX		(FRAME_HDR + 512)	/* an 'S' record, with room */

struct sess {
	char		 id[24];	/* master's, echoed in 'X' */
	char		 client[64];	/* enqueue's -a */
	char		 uid[24];	/* enqueue's -u, "" */
	pid_t		 smtpd;		/* 0 once reaped (or never forked) */
	int		 held;		/* enqueue's end, until smtpd's first
					 * request; -1 */
	pid_t		 enqueue;	/* the worker serving it; 0 */
};

/*
 * The enqueue workers: each serves one session at a time, many in turn
 * (WORKER_USES), so a session forks only its smtpd (bench/README.md,
 * optimisation 4). A worker is handed a session's socketpair end only
 * when smtpd first writes to it (MAIL or AUTH): a session that never gets
 * that far costs no enqueue at all.
 */
#define WORKER_USES	100	/* sessions, then a fresh process */
#define WORKER_IDLE_MAX	16	/* idle ones kept for the next sessions */

struct worker {
	pid_t		 pid;
	int		 fd;		/* SOCK_SEQPACKET to it; -1 retired */
	unsigned	 uses;
	unsigned	 gen;		/* the configuration it was forked with */
	int		 busy;
};

/*
 * Reused smtpd processes, when smtpd_process_uses > 1 (docs/design-notes.md,
 * "Reusing smtpd"): each serves one listener, one session at a time, up to
 * smtpd_process_uses in turn (smtpd/smtpd_serve.c), and is handed each
 * session's connection and enqueue link over its control socket. sessiond
 * retires one (closes the socket: it reads EOF and exits) when its uses
 * are done, when it has been idle smtpd_process_idle_seconds, when the
 * configuration changed, or beyond SPROC_IDLE_MAX idle ones; it never
 * ends on its own while idle, so a session is never handed to a process
 * that is just leaving.
 */
#define SPROC_IDLE_MAX	32

struct sproc {
	pid_t		 pid;
	int		 fd;		/* SOCK_SEQPACKET to it; -1 retired */
	enum listener	 l;
	unsigned	 uses;
	unsigned	 gen;
	int		 busy;
	long long	 idle_ms;	/* when its last session ended */
};

static struct conf	*conf;		/* the running configuration */
static char		 confdir[PATH_MAX];
static char		 conf_file[PATH_MAX];	/* its postern.conf; "" too
						 * long */
static struct stat	 conf_st;	/* postern.conf when conf was read */
static struct stat	 passwd_st;	/* /etc/passwd when users were */
static struct sess	*sess;		/* live sessions, unordered */
static size_t		 nsess, capsess;
static struct worker	*workers;	/* unordered */
static size_t		 nworkers, capworkers;
static struct sproc	*sprocs;	/* unordered */
static size_t		 nsprocs, capsprocs;
static unsigned		 gen;		/* of conf and the users */
static int		 sigpipe[2];
static int		 stopping;

static void	users_check(int);

static void
usage(void)
{
	fprintf(stderr, "usage: sessiond -c confdir\n");
	exit(EX_USAGE);
}

static void
on_signal(int sig)
{
	unsigned char	 c = (unsigned char)sig;
	int		 saved = errno;

	(void)!write(sigpipe[1], &c, 1);
	errno = saved;
}

/* conf_file is made once, in main(): a PATH_MAX buffer on the stack at
 * each session reached a page of stack more, copied (copy-on-write) while
 * a child shared it. */
static void
conf_stat(struct stat *st)
{
	memset(st, 0, sizeof(*st));
	if (conf_file[0] != '\0')
		(void)stat(conf_file, st);
}

/* Read postern.conf (and the certificate) again; a bad file keeps the
 * running configuration, as master does. */
static void
reload(int tls)
{
	struct conf	*c;
	struct buf	 err = BUF_INIT;

	conf_stat(&conf_st);
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn_errno("reload: calloc");
		return;
	}
	if (conf_load(c, confdir, &err) == -1) {
		log_warn("reload refused: %s; keeping the running "
		    "configuration", buf_str(&err));
		buf_free(&err);
		free(c);
		return;
	}
	buf_free(&err);
	if (tls || strcmp(c->tls_cert_file, conf->tls_cert_file) != 0 ||
	    strcmp(c->tls_key_file, conf->tls_key_file) != 0)
		starttls_init(c);
	free(conf);
	conf = c;
	gen++;		/* idle workers hold the old one: retired */
	users_check(1);
	/* A changed zone, for the children (smtpd_run() does not load it). */
	tzset();
}

/* The same fields changed: the file is not the one that was read. */
static int
stat_changed(const struct stat *a, const struct stat *b)
{
	return a->st_ino != b->st_ino || a->st_dev != b->st_dev ||
	    a->st_size != b->st_size ||
	    a->st_mtim.tv_sec != b->st_mtim.tv_sec ||
	    a->st_mtim.tv_nsec != b->st_mtim.tv_nsec ||
	    a->st_ctim.tv_sec != b->st_ctim.tv_sec ||
	    a->st_ctim.tv_nsec != b->st_ctim.tv_nsec;
}

/*
 * queue_user and smtpd_user, looked up here and inherited by every child:
 * getpwnam() in each child (priv_drop) read /etc/passwd through stdio for
 * each of the two, about a tenth of a session's CPU (bench/README.md,
 * optimisation 3). Looked up again when /etc/passwd changed (one stat()
 * per session) or the configuration was re-read, so that a child still
 * sees the users as an exec'd one would; a user that is not found is not
 * remembered, and the child's own getpwnam() says so.
 */
static void
users_check(int force)
{
	struct stat	 st;

	memset(&st, 0, sizeof(st));
	(void)stat("/etc/passwd", &st);
	if (!force && !stat_changed(&st, &passwd_st))
		return;
	passwd_st = st;
	gen++;
	priv_forget();
	(void)priv_remember(conf->queue_user);
	(void)priv_remember(conf->smtpd_user);
	endpwent();
}

/* postern.conf changed since it was read: read it now, so that this
 * session sees the file as an exec'd smtpd and enqueue would have. */
static void
conf_check(void)
{
	struct stat	 st;

	conf_stat(&st);
	if (stat_changed(&st, &conf_st))
		reload(0);
	users_check(0);
}

/* In a child: fd becomes 3, every other fd above 2 is closed, and the
 * log is reopened under name (the old syslog socket is closed with the
 * rest; LOG_NDELAY connects the new one before any chroot). Logging to
 * stderr, there is no syslog socket: closelog() would only write libc's
 * pages (two copy-on-write faults) to note that. */
static void
child_setup(int fd, const char *name)
{
	if (!log_to_stderr())
		closelog();
	if (dup2(fd, 3) == -1)		/* fd > 3: sessiond's are 0-5 */
		_exit(75);
	closefrom(4);
	log_init(name, 0);
	prctl(PR_SET_NAME, name, 0, 0, 0);	/* ps, and the tests, see it */
}

/*
 * In a child: /proc/PID/cmdline (ps, the tests) shows the program and the
 * arguments that tell sessions apart, "smtpd -l KIND" or "enqueue -a
 * ADDR", not sessiond's line. The classic setproctitle: sessiond's own
 * argv area is overwritten, its length fixed by the kernel; the name is
 * padded with blanks, and what does not fit is left out.
 */
static char	*title_area;	/* argv[0] */
static size_t	 title_len;	/* argv[0] to the last argument's NUL,
				 * included */

static void
proctitle(const char *name, const char *const *args)
{
	size_t	 tail = 0, i, n;

	if (title_area == NULL)
		return;
	for (i = 0; args[i] != NULL; i++)
		tail += 1 + strlen(args[i]);
	tail++;				/* the last NUL */
	if (strlen(name) + tail > title_len)
		tail = 1, args = (const char *const[]){ NULL };
	memset(title_area, ' ', title_len);
	memcpy(title_area, name, strlen(name));
	n = title_len - tail;
	for (i = 0; args[i] != NULL; i++) {
		title_area[n++] = '\0';
		memcpy(title_area + n, args[i], strlen(args[i]));
		n += strlen(args[i]);
	}
	title_area[n] = '\0';
}

static void
session_end(struct sess *s)
{
	struct buf	 out = BUF_INIT;

	struct pollfd	 pfd = { CTL_FD, POLLOUT, 0 };
	int		 r, tries = 0;

	/* fd 3 is non-blocking; a full socket (master busy accepting) is
	 * waited for, a while: a lost 'X' would hold the client's slot. */
	if ((r = frame_put_fields(&out, 'X', s->id, NULL)) == 0)
		while ((r = fd_send_rec(CTL_FD, -1, out.data, out.len, 0)) ==
		    -1 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    tries++ < 50)
			(void)poll(&pfd, 1, 100);
	if (r == -1)
		log_warn_errno("telling master session %s ended", s->id);
	buf_free(&out);
	*s = sess[--nsess];
}

/*
 * The end of a forked smtpd: exit() ran the libraries' destructors
 * (_dl_fini) over sessiond's inherited address space, copying pages only
 * to throw them away: an eighth of a session's CPU (bench/README.md,
 * optimisation 3). Nothing of ours is registered with atexit(), and
 * nothing is left in stdio to flush: the session code writes only to
 * stderr, which is unbuffered (fflush(NULL) took every stream's lock, one
 * more page of libc's copied). A sanitizer build keeps exit():
 * LeakSanitizer runs there.
 */
static void __attribute__((noreturn))
session_exit(int code)
{
#ifdef __SANITIZE_ADDRESS__
	exit(code);
#else
	_exit(code);
#endif
}

/* /dev/null on fds 0 and 1 of a child that has no connection. */
static void
child_devnull(void)
{
	int	 dn;

	if ((dn = open("/dev/null", O_RDWR)) == -1 ||
	    dup2(dn, 0) == -1 || dup2(dn, 1) == -1)
		fatal_errno("/dev/null");
	if (dn > 2)
		close(dn);
}

/*
 * A worker's life (docs/protocols.md, "sessiond -> enqueue workers"): the
 * queue user for good, then one session after another, each arriving as a
 * record 'S' (id, client, uid) with smtpd's socketpair end, each answered
 * with 'X' id once smtpd has closed it. enqueue_session() holds the
 * session code of the standalone program and ends this process on every
 * other way out (a protocol error, a dead smtpd, SIGTERM). EOF from
 * sessiond (retired, or sessiond gone) ends it too.
 */
static void __attribute__((noreturn))
worker_main(int ctl)
{
	static const char *const idle[] = { "idle", NULL };
	struct buf	 pay = BUF_INIT, out = BUF_INIT;
	char		 rec[REC_MAX];
	const char	*f[3];
	size_t		 len;
	int		 fd;

	child_setup(ctl, "enqueue");
	child_devnull();
	proctitle("enqueue", idle);
	if (priv_is_root())
		priv_drop(conf->queue_user, NULL);
	enqueue_quick_exit = 1;
	for (;;) {
		fd = fd_recv_rec(3, rec, sizeof(rec), &len);
		if (fd == -1 && errno == EINTR)
			continue;
		if (fd == -2 && len == 0)
			session_exit(0);
		if (fd < 0 || frame_datagram(rec, len, 'S', &pay, f, 3) == -1) {
			log_warn("a bad record from sessiond");
			session_exit(1);
		}
		{
			const char *t[] = { "-a", f[1], f[2][0] != '\0' ?
			    "-u" : NULL, f[2], NULL };
			proctitle("enqueue", t);
		}
		(void)enqueue_session(conf, fd, f[1], f[2][0] != '\0' ?
		    f[2] : NULL);
		buf_reset(&out);
		if (frame_put_fields(&out, 'X', f[0], NULL) == -1 ||
		    fd_send_rec(3, -1, out.data, out.len, 0) == -1)
			session_exit(1);
		proctitle("enqueue", idle);
	}
}

/* A child with a SOCK_SEQPACKET socket to us: 0 in the child (*fd its
 * end), its pid in sessiond (*fd ours, non-blocking), -1 on failure. */
static pid_t
ctl_fork(int *fd)
{
	int	 sp[2];
	pid_t	 pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1)
		return -1;
	if ((pid = fork_quiet()) == 0) {
		*fd = sp[1];
		return 0;
	}
	close(sp[1]);
	if (pid == -1 || fcntl(sp[0], F_SETFL, O_NONBLOCK) == -1) {
		close(sp[0]);
		return -1;
	}
	*fd = sp[0];
	return pid;
}

static struct worker *
worker_spawn(void)
{
	struct worker	*v, *w;
	int		 fd;
	pid_t		 pid;

	if (nworkers == capworkers) {
		capworkers = capworkers == 0 ? 16 : capworkers * 2;
		if ((v = reallocarray(workers, capworkers,
		    sizeof(*v))) == NULL)
			fatal_errno("worker table");
		workers = v;
	}
	if ((pid = ctl_fork(&fd)) == 0)
		worker_main(fd);
	if (pid == -1)
		return NULL;
	w = &workers[nworkers++];
	memset(w, 0, sizeof(*w));
	w->pid = pid;
	w->fd = fd;
	w->gen = gen;
	return w;
}

/* Closing its socket ends a worker or a reused smtpd (EOF); its entry
 * stays until it is reaped. */
static void
ctl_retire(int *fd, int *busy)
{
	if (*fd != -1)
		close(*fd);
	*fd = -1;
	*busy = 0;
}

static void
worker_retire(struct worker *w)
{
	ctl_retire(&w->fd, &w->busy);
}

/* An idle worker of the running configuration; older ones retire. */
static struct worker *
worker_idle(void)
{
	size_t	 i;

	for (i = 0; i < nworkers; i++) {
		if (workers[i].fd == -1 || workers[i].busy)
			continue;
		if (workers[i].gen != gen) {
			worker_retire(&workers[i]);
			continue;
		}
		return &workers[i];
	}
	return NULL;
}

static size_t
workers_idle(void)
{
	size_t	 i, n = 0;

	for (i = 0; i < nworkers; i++)
		if (workers[i].fd != -1 && !workers[i].busy)
			n++;
	return n;
}

static void
session_check_end(struct sess *s)
{
	if (s->smtpd == 0 && s->held == -1 && s->enqueue == 0)
		session_end(s);
}

/* smtpd's first request waits in the socket: a worker takes the session
 * over. None to be had (fork failed): smtpd reads EOF and says 421. */
static void
session_dispatch(struct sess *s)
{
	struct buf	 out = BUF_INIT;
	struct worker	*w;
	int		 tries;

	if (frame_put_fields(&out, 'S', s->id, s->client, s->uid,
	    NULL) == -1)
		fatal_errno("session record");
	for (tries = 0; tries < 4; tries++) {
		if ((w = worker_idle()) == NULL && (w = worker_spawn()) == NULL)
			break;
		if (fd_send_rec(w->fd, s->held, out.data, out.len,
		    MSG_DONTWAIT) == 0) {
			w->busy = 1;
			s->enqueue = w->pid;
			close(s->held);
			s->held = -1;
			buf_free(&out);
			return;
		}
		worker_retire(w);	/* gone, or stuck: not this one */
	}
	log_warn_errno("no enqueue for session %s from %s", s->id,
	    s->client[0] != '\0' ? s->client : "local");
	buf_free(&out);
	close(s->held);
	s->held = -1;
	session_check_end(s);
}

/* The held end of session s is readable: a request, or EOF (smtpd ended
 * without one). */
static void
held_ready(struct sess *s)
{
	char	 c;
	ssize_t	 n;

	n = recv(s->held, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if (n == 1) {
		session_dispatch(s);
		return;
	}
	close(s->held);
	s->held = -1;
	session_check_end(s);
}

/* A worker said 'X': its session's enqueue is done, and it is free. One
 * record per wake-up: a worker serves one session at a time, so at most
 * one 'X' waits (and after it perhaps EOF, which the next poll() shows);
 * reading on to EAGAIN cost a recvmsg() per session. */
static void
worker_read(struct worker *w)
{
	struct buf	 pay = BUF_INIT;
	char		 rec[REC_MAX];
	const char	*f[1];
	size_t		 len, i;
	int		 fd;

	fd = fd_recv_rec(w->fd, rec, sizeof(rec), &len);
	if (fd == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (fd >= 0)
		close(fd);	/* a worker sends none */
	if (fd == -1 || (fd == -2 && len == 0) ||
	    frame_datagram(rec, len, 'X', &pay, f, 1) == -1 || !w->busy) {
		worker_retire(w);	/* it ends; reap() tidies */
		goto done;
	}
	for (i = 0; i < nsess; i++)
		if (sess[i].enqueue == w->pid && strcmp(sess[i].id, f[0]) == 0)
			break;
	w->busy = 0;
	w->uses++;
	if (i < nsess) {
		sess[i].enqueue = 0;
		session_check_end(&sess[i]);
	}
	if (w->uses >= WORKER_USES || w->gen != gen || stopping ||
	    workers_idle() > WORKER_IDLE_MAX)
		worker_retire(w);
done:
	buf_free(&pay);
}

/* A reused smtpd's life: smtpd_serve() until sessiond retires it. */
static void __attribute__((noreturn))
sproc_main(int ctl, enum listener l, const char *kind)
{
	child_setup(ctl, "smtpd");
	child_devnull();
	{
		const char *t[] = { "-l", kind, NULL };
		proctitle("smtpd", t);
	}
	session_exit(smtpd_serve(conf, l));
}

static struct sproc *
sproc_spawn(enum listener l, const char *kind)
{
	struct sproc	*v, *p;
	int		 fd;
	pid_t		 pid;

	if (nsprocs == capsprocs) {
		capsprocs = capsprocs == 0 ? 16 : capsprocs * 2;
		if ((v = reallocarray(sprocs, capsprocs, sizeof(*v))) == NULL)
			fatal_errno("smtpd table");
		sprocs = v;
	}
	if ((pid = ctl_fork(&fd)) == 0)
		sproc_main(fd, l, kind);
	if (pid == -1)
		return NULL;
	p = &sprocs[nsprocs++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->fd = fd;
	p->l = l;
	p->gen = gen;
	return p;
}

static void
sproc_retire(struct sproc *p)
{
	ctl_retire(&p->fd, &p->busy);
}

static size_t
sprocs_idle(void)
{
	size_t	 i, n = 0;

	for (i = 0; i < nsprocs; i++)
		if (sprocs[i].fd != -1 && !sprocs[i].busy)
			n++;
	return n;
}

/* An idle smtpd of listener l and the running configuration. */
static struct sproc *
sproc_idle(enum listener l)
{
	size_t	 i;

	for (i = 0; i < nsprocs; i++) {
		if (sprocs[i].fd == -1 || sprocs[i].busy || sprocs[i].l != l)
			continue;
		if (sprocs[i].gen != gen) {
			sproc_retire(&sprocs[i]);
			continue;
		}
		return &sprocs[i];
	}
	return NULL;
}

/* Session s to a reused smtpd: 'C' with the connection and smtpd's end of
 * the enqueue link. 0, or -1 when no process could take it. */
static int
sproc_hand(struct sess *s, enum listener l, const char *kind, int conn,
    int link)
{
	struct buf	 out = BUF_INIT;
	struct sproc	*p;
	int		 fds[2] = { conn, link }, tries;

	if (frame_put_fields(&out, 'C', s->id, s->client, NULL) == -1)
		fatal_errno("session record");
	for (tries = 0; tries < 4; tries++) {
		if ((p = sproc_idle(l)) == NULL &&
		    (p = sproc_spawn(l, kind)) == NULL)
			break;
		if (fd_send_fds(p->fd, fds, 2, out.data, out.len,
		    MSG_DONTWAIT) == 0) {
			p->busy = 1;
			p->uses++;
			s->smtpd = p->pid;
			buf_free(&out);
			return 0;
		}
		sproc_retire(p);	/* gone, or stuck: not this one */
	}
	buf_free(&out);
	return -1;
}

/* A reused smtpd said 'D': its session is over, and it is free. EOF or
 * anything else: it is leaving (reap() ends its session, if any). */
static void
sproc_read(struct sproc *p)
{
	struct buf	 pay = BUF_INIT;
	char		 rec[REC_MAX];
	const char	*f[1];
	size_t		 len, i;
	int		 fd;

	fd = fd_recv_rec(p->fd, rec, sizeof(rec), &len);
	if (fd == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (fd >= 0)
		close(fd);	/* it sends none */
	if (fd == -1 || (fd == -2 && len == 0) ||
	    frame_datagram(rec, len, 'D', &pay, f, 1) == -1 || !p->busy) {
		sproc_retire(p);
		goto done;
	}
	for (i = 0; i < nsess; i++)
		if (sess[i].smtpd == p->pid && strcmp(sess[i].id, f[0]) == 0)
			break;
	p->busy = 0;
	p->idle_ms = io_now_ms();
	if (i < nsess) {
		sess[i].smtpd = 0;
		session_check_end(&sess[i]);
	}
	if (p->uses >= (unsigned)conf->smtpd_process_uses || p->gen != gen ||
	    stopping || sprocs_idle() > SPROC_IDLE_MAX)
		sproc_retire(p);
done:
	buf_free(&pay);
}

/* Idle ones past smtpd_process_idle_seconds retire; the milliseconds
 * until the next one would, or -1. */
static int
sprocs_expire(void)
{
	long long	 now = io_now_ms(), left, next = -1;
	long long	 idle = (long long)conf->smtpd_process_idle_seconds * 1000;
	size_t		 i;

	for (i = 0; i < nsprocs; i++) {
		if (sprocs[i].fd == -1 || sprocs[i].busy)
			continue;
		if (sprocs[i].gen != gen || stopping ||
		    (left = sprocs[i].idle_ms + idle - now) <= 0) {
			sproc_retire(&sprocs[i]);
			continue;
		}
		if (next == -1 || left < next)
			next = left;
	}
	return next > INT_MAX ? INT_MAX : (int)next;
}

/* One connection: smtpd now, enqueue when smtpd first needs it. conn is
 * closed here. */
static void
session_start(int conn, const char *id, const char *kind,
    const char *client, const char *uid)
{
	enum listener	 l;
	struct sess	*v, *s;
	int		 pair[2], r;
	pid_t		 smtpd;

	if (nsess == capsess) {
		capsess = capsess == 0 ? 16 : capsess * 2;
		if ((v = reallocarray(sess, capsess, sizeof(*v))) == NULL)
			fatal_errno("session table");
		sess = v;
	}
	s = &sess[nsess++];
	memset(s, 0, sizeof(*s));
	s->held = -1;
	strlcpy(s->id, id, sizeof(s->id));
	strlcpy(s->client, client, sizeof(s->client));
	strlcpy(s->uid, uid, sizeof(s->uid));
	if (smtpd_listener(kind, &l) == -1) {
		log_warn("session %s: unknown listener %s", id, kind);
		close(conn);
		session_end(s);
		return;
	}
	conf_check();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == -1) {
		log_warn_errno("socketpair for %s", client);
		close(conn);
		session_end(s);
		return;
	}
	if (conf->smtpd_process_uses > 1) {
		r = sproc_hand(s, l, kind, conn, pair[0]);
		close(pair[0]);
		close(conn);
		if (r == -1) {
			log_warn_errno("no smtpd for a session from %s",
			    client[0] != '\0' ? client : "local");
			close(pair[1]);
			session_end(s);
			return;
		}
		s->held = pair[1];
		return;
	}
	if ((smtpd = fork_quiet()) == 0) {
		if (dup2(conn, 0) == -1 || dup2(conn, 1) == -1)
			_exit(75);
		child_setup(pair[0], "smtpd");
		{
			const char *t[] = { "-l", kind, NULL };
			proctitle("smtpd", t);
		}
		session_exit(smtpd_run(conf, l, client));
	}
	close(pair[0]);
	close(conn);
	if (smtpd == -1) {
		log_warn_errno("fork for a session from %s", client[0] != '\0' ?
		    client : "local");
		close(pair[1]);
		session_end(s);
		return;
	}
	s->smtpd = smtpd;
	s->held = pair[1];
	log_debug("session %s from %s: smtpd %ld", id,
	    client[0] != '\0' ? client : "local", (long)smtpd);
}

/*
 * The datagrams master has sent, at most SESSION_BURST of them: then the
 * main loop reaps and reads the workers before more are started. Reading
 * on to EAGAIN, a steady stream of short sessions kept sessiond forking
 * for seconds without reaping one, and master, which counts a session
 * until its 'X', refused clients as "too many sessions" with ten of them
 * connected (tests/integration/test_session_limits.py).
 * EOF: master is gone, and so are we.
 */
#define SESSION_BURST	8

static void
ctl_read(void)
{
	struct buf	 pay = BUF_INIT;
	char		 rec[REC_MAX];
	const char	*f[4];
	size_t		 len;
	int		 fd, n;

	for (n = 0; n < SESSION_BURST; n++) {
		fd = fd_recv_rec(CTL_FD, rec, sizeof(rec), &len);
		if (fd == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (fd == -1) {
			log_warn_errno("reading from master");
			break;
		}
		if (len == 0 && fd == -2) {
			log_info("master closed the control socket");
			exit(0);
		}
		if (fd < 0 || frame_datagram(rec, len, 'S', &pay, f, 4) == -1) {
			log_warn("a bad record from master: ignored");
			if (fd >= 0)
				close(fd);
			continue;
		}
		session_start(fd, f[0], f[1], f[2], f[3]);
	}
	buf_free(&pay);
}

static void
reap(void)
{
	char	 how[96];
	pid_t	 pid;
	size_t	 i, w, p;
	int	 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (p = 0; p < nsprocs; p++)
			if (sprocs[p].pid == pid) {
				sproc_retire(&sprocs[p]);
				sprocs[p] = sprocs[--nsprocs];
				break;
			}
		for (w = 0; w < nworkers; w++)
			if (workers[w].pid == pid)
				break;
		for (i = 0; i < nsess; i++)
			if (sess[i].smtpd == pid || sess[i].enqueue == pid)
				break;
		if (WIFSIGNALED(status) && !stopping &&
		    (i < nsess || w < nworkers)) {
			snprintf(how, sizeof(how), "signal %d (%s)%s",
			    WTERMSIG(status), strsignal(WTERMSIG(status)),
			    WCOREDUMP(status) ? ", core dumped" : "");
			log_warn("%s (pid %ld) ended: %s", w < nworkers ?
			    "enqueue" : "smtpd", (long)pid, how);
		}
		if (w < nworkers) {
			worker_retire(&workers[w]);
			workers[w] = workers[--nworkers];
		}
		if (i == nsess)
			continue;
		if (sess[i].smtpd == pid)
			sess[i].smtpd = 0;
		else
			sess[i].enqueue = 0;
		session_check_end(&sess[i]);
	}
}

/*
 * What to poll: the self-pipe, master (unless stopping), every worker,
 * every reused smtpd and every session's held end. Rebuilt each round; the handlers look their
 * object up by fd again, and every read is non-blocking, so an event of
 * an fd closed (and reused) earlier in the round costs one EAGAIN.
 */
static struct pollfd *
poll_set(size_t *n)
{
	static struct pollfd	*pfd;
	static size_t		 cap;
	struct pollfd		*v;
	size_t			 i, want = 2 + nworkers + nsprocs + nsess;

	if (want > cap) {
		if ((v = reallocarray(pfd, want, sizeof(*v))) == NULL)
			fatal_errno("poll set");
		pfd = v;
		cap = want;
	}
	*n = 0;
	pfd[(*n)++] = (struct pollfd){ sigpipe[0], POLLIN, 0 };
	pfd[(*n)++] = (struct pollfd){ stopping ? -1 : CTL_FD, POLLIN, 0 };
	for (i = 0; i < nworkers; i++)
		if (workers[i].fd != -1)
			pfd[(*n)++] = (struct pollfd){ workers[i].fd, POLLIN, 0 };
	for (i = 0; i < nsprocs; i++)
		if (sprocs[i].fd != -1)
			pfd[(*n)++] = (struct pollfd){ sprocs[i].fd, POLLIN, 0 };
	for (i = 0; i < nsess; i++)
		if (sess[i].held != -1)
			pfd[(*n)++] = (struct pollfd){ sess[i].held, POLLIN, 0 };
	return pfd;
}

/* The signals on_signal() wrote down. A read short of the buffer emptied
 * the pipe: no second read only to hear EAGAIN (a signal after it wakes
 * poll() again). */
static void
sig_read(void)
{
	unsigned char	 sig[64];
	ssize_t		 n, i;

	do {
		if ((n = read(sigpipe[0], sig, sizeof(sig))) <= 0)
			return;
		for (i = 0; i < n; i++) {
			if (sig[i] == SIGCHLD)
				reap();
			else if (sig[i] == SIGHUP)
				reload(1);
			else if (sig[i] == SIGTERM)
				stopping = 1;
		}
	} while (n == (ssize_t)sizeof(sig));
}

static void
fd_ready(int fd)
{
	size_t	 i;

	for (i = 0; i < nworkers; i++)
		if (workers[i].fd == fd) {
			worker_read(&workers[i]);
			return;
		}
	for (i = 0; i < nsprocs; i++)
		if (sprocs[i].fd == fd) {
			sproc_read(&sprocs[i]);
			return;
		}
	for (i = 0; i < nsess; i++)
		if (sess[i].held == fd) {
			held_ready(&sess[i]);
			return;
		}
}

/* Every session holds one fd here until its smtpd's first request: the
 * default soft limit (1024) would cap the sessions below what master
 * admits. */
static void
nofile_raise(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
main(int argc, char *argv[])
{
	struct sigaction sa;
	struct pollfd	*pfd;
	struct buf	 err = BUF_INIT;
	size_t		 npfd, k, i;
	int		 ch, timeout;
	static const int sigs[] = { SIGCHLD, SIGTERM, SIGHUP };

	log_init("sessiond", 0);
	while ((ch = getopt(argc, argv, "c:")) != -1)
		switch (ch) {
		case 'c':
			strlcpy(confdir, optarg, sizeof(confdir));
			break;
		default:
			usage();
		}
	if (confdir[0] == '\0' || optind != argc)
		usage();
	if ((size_t)snprintf(conf_file, sizeof(conf_file), "%s/%s", confdir,
	    CONF_NAME) >= sizeof(conf_file))
		conf_file[0] = '\0';
	title_area = argv[0];
	title_len = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) + 1 -
	    argv[0]);
	if (fcntl(CTL_FD, F_GETFD) == -1)
		fatal("fd 3 (master's control socket) is not open");
	/* Master signals our group to stop every session (see above). */
	(void)setpgid(0, 0);
	/* No OpenSSL clean-up at exit: each child would spend its last
	 * milliseconds freeing (and so copying) sessiond's pages only to
	 * exit; the kernel frees them anyway. */
	OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
	conf_stat(&conf_st);
	if ((conf = calloc(1, sizeof(*conf))) == NULL)
		fatal_errno("calloc");
	if (conf_load(conf, confdir, &err) == -1)
		fatal("%s", buf_str(&err));
	buf_free(&err);
	/* Once, as root: every smtpd child inherits the context. */
	starttls_init(conf);
	/* Work every child would repeat, done once here: the NSS modules
	 * (priv_drop's user and group look-ups dlopen them), the two users
	 * themselves (users_check(): looked up again when /etc/passwd
	 * changes) and the time zone (syslog()'s time stamps in the
	 * children; smtpd_run() leaves it to its caller). */
	users_check(1);
	(void)getgrgid(0);
	endpwent();
	endgrent();
	tzset();
	if (fcntl(CTL_FD, F_SETFL, O_NONBLOCK) == -1)
		fatal_errno("fcntl");
	nofile_raise();

	if (pipe2(sigpipe, O_NONBLOCK | O_CLOEXEC) == -1)
		fatal_errno("pipe");
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL) == -1)
			fatal_errno("sigaction");
	signal(SIGPIPE, SIG_IGN);

	for (;;) {
		if (stopping && nsess == 0)
			exit(0);
		/* Before the set is made: an expired smtpd's fd is closed. */
		timeout = sprocs_expire();
		pfd = poll_set(&npfd);
		if (poll(pfd, npfd, timeout) == -1) {
			if (errno == EINTR)
				continue;
			fatal_errno("poll");
		}
		if (pfd[0].revents & POLLIN)
			sig_read();
		/* Workers, smtpds and held ends first: ctl_read() makes new
		 * fds. */
		for (k = 2; k < npfd; k++)
			if (pfd[k].revents != 0)
				fd_ready(pfd[k].fd);
		if (!stopping && (pfd[1].revents & (POLLIN | POLLHUP)))
			ctl_read();
	}
}
