/*
 * sessiond: forks the smtpd + enqueue pair of every SMTP session, without
 * exec.
 *
 * Job: master accepts every connection (it alone holds the listeners and
 * applies the session cap and the per-client limits) and hands each one
 * over to sessiond; sessiond forks the session's two processes from its
 * own address space, where the libraries are already relocated, the config
 * is parsed and the TLS context (certificate and key) is built: a session
 * costs two fork()s and no execve() (docs/design-notes.md, "Sessions are
 * forked, not exec'd"). It tells master when a session has ended (both
 * halves reaped), so master's counts stay exact. The tables are not opened
 * here: the enqueue child opens them, so a rebuilt table is seen by the
 * next session. postern.conf is checked (stat) before every session and
 * re-read when it changed, so a new session sees the file as it is, as an
 * exec'd enqueue would; SIGHUP re-reads it and the certificate and key.
 *
 * Privileges: runs as root (it must be able to become both users and to
 * chroot), never reads a byte from the network, and opens nothing per
 * session but a socketpair. Each child gives up everything of sessiond's
 * before it runs session code: closefrom() leaves it exactly the fds below
 * (never the control socket, never another session's connection), its
 * syslog connection is reopened under its own name, and then:
 *   enqueue child: queue_user, cwd the spool (inherited from master), no
 *     chroot; runs enqueue_run() (queue/enqueue.c), the code of the
 *     standalone enqueue program;
 *   smtpd child: chroot smtpd_chroot_directory and smtpd_user, before a
 *     byte from the client is read; runs smtpd_run() (smtpd/smtpd_run.c).
 * sessiond makes itself a process group leader: master signals the group
 * to stop every session at once (SIGTERM, then SIGKILL), as it used to
 * signal each pid.
 *
 * Pipes (docs/protocols.md, "master <-> sessiond"):
 *   fd 3  SOCK_SEQPACKET to master. In: one datagram per connection, a
 *         frame 'S' with fields id, kind, client address, uid ("" but for
 *         a local submission) and the connection as SCM_RIGHTS. Out: 'X'
 *         with the id once both halves of that session have been reaped.
 *   fd 0/1 /dev/null, fd 2 stderr (the foreground log), as master gives.
 *   Each session: smtpd fd 0/1 the connection, fd 3 its end of a new
 *   socketpair; enqueue fd 3 the other end, fd 0/1 /dev/null.
 *
 * Usage: sessiond -c CONFDIR. Exit: 0 when master closes fd 3 or after
 * SIGTERM once its sessions are gone; 64 usage; 75 (fatal) a bad config at
 * start.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
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
	pid_t		 smtpd;		/* 0 once reaped (or never forked) */
	pid_t		 enqueue;	/* same */
};

static struct conf	*conf;		/* the running configuration */
static char		 confdir[PATH_MAX];
static struct stat	 conf_st;	/* postern.conf when conf was read */
static struct stat	 passwd_st;	/* /etc/passwd when users were */
static struct sess	*sess;		/* live sessions, unordered */
static size_t		 nsess, capsess;
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

static void
conf_stat(struct stat *st)
{
	char	 path[PATH_MAX];

	memset(st, 0, sizeof(*st));
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", confdir,
	    CONF_NAME) < sizeof(path))
		(void)stat(path, st);
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
	users_check(1);
	/* A changed zone, for the children (smtpd_run() does not stat it). */
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
 * rest; LOG_NDELAY connects the new one before any chroot). */
static void
child_setup(int fd, const char *name)
{
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
 * optimisation 3). Nothing of ours is registered with atexit(); stdio is
 * flushed here. A sanitizer build keeps exit(): LeakSanitizer runs there.
 */
static void __attribute__((noreturn))
session_exit(int code)
{
#ifdef __SANITIZE_ADDRESS__
	exit(code);
#else
	fflush(NULL);
	_exit(code);
#endif
}

/* One connection: the pair. conn is closed here. */
static void
session_start(int conn, const char *id, const char *kind,
    const char *client, const char *uid)
{
	enum listener	 l;
	struct sess	*v, *s;
	int		 pair[2], dn;
	pid_t		 enq, smtpd = 0;

	if (nsess == capsess) {
		capsess = capsess == 0 ? 16 : capsess * 2;
		if ((v = reallocarray(sess, capsess, sizeof(*v))) == NULL)
			fatal_errno("session table");
		sess = v;
	}
	s = &sess[nsess++];
	memset(s, 0, sizeof(*s));
	strlcpy(s->id, id, sizeof(s->id));
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
	if ((enq = fork_quiet()) == 0) {
		child_setup(pair[1], "enqueue");
		if ((dn = open("/dev/null", O_RDWR)) == -1 ||
		    dup2(dn, 0) == -1 || dup2(dn, 1) == -1)
			fatal_errno("/dev/null");
		if (dn > 2)
			close(dn);
		{
			const char *t[] = { "-a", client, uid[0] != '\0' ?
			    "-u" : NULL, uid, NULL };
			proctitle("enqueue", t);
		}
		if (priv_is_root())
			priv_drop(conf->queue_user, NULL);
		enqueue_quick_exit = 1;
		enqueue_run(conf, 3, client, uid[0] != '\0' ? uid : NULL);
	}
	if (enq != -1 && (smtpd = fork_quiet()) == 0) {
		if (dup2(conn, 0) == -1 || dup2(conn, 1) == -1)
			_exit(75);
		child_setup(pair[0], "smtpd");
		{
			const char *t[] = { "-l", kind, NULL };
			proctitle("smtpd", t);
		}
		session_exit(smtpd_run(conf, l));
	}
	if (enq == -1 || smtpd == -1) {
		log_warn_errno("fork for a session from %s", client[0] != '\0' ?
		    client : "local");
		if (enq > 0)
			kill(enq, SIGTERM);
		smtpd = 0;
	}
	close(pair[0]);
	close(pair[1]);
	close(conn);
	s->enqueue = enq > 0 ? enq : 0;
	s->smtpd = smtpd;
	log_debug("session %s from %s: smtpd %ld, enqueue %ld", id,
	    client[0] != '\0' ? client : "local", (long)smtpd, (long)enq);
	if (s->enqueue == 0)
		session_end(s);
}

/* Every datagram master has sent. EOF: master is gone, and so are we. */
static void
ctl_read(void)
{
	struct buf	 pay = BUF_INIT;
	char		 rec[REC_MAX];
	const char	*p, *f[4];
	size_t		 len, plen, used;
	int		 fd, type;

	for (;;) {
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
		if (fd < 0 || frame_parse(rec, len, &type, &p, &plen,
		    &used) != 1 || used != len || type != 'S' ||
		    buf_set(&pay, p, plen) == -1 ||
		    frame_fields(&pay, f, 4) == -1) {
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
	size_t	 i;
	int	 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < nsess; i++)
			if (sess[i].smtpd == pid || sess[i].enqueue == pid)
				break;
		if (i == nsess)
			continue;
		if (WIFSIGNALED(status) && !stopping) {
			snprintf(how, sizeof(how), "signal %d (%s)%s",
			    WTERMSIG(status), strsignal(WTERMSIG(status)),
			    WCOREDUMP(status) ? ", core dumped" : "");
			log_warn("%s (pid %ld) ended: %s", sess[i].smtpd == pid ?
			    "smtpd" : "enqueue", (long)pid, how);
		}
		if (sess[i].smtpd == pid)
			sess[i].smtpd = 0;
		else
			sess[i].enqueue = 0;
		if (sess[i].smtpd == 0 && sess[i].enqueue == 0)
			session_end(&sess[i]);
	}
}

int
main(int argc, char *argv[])
{
	struct sigaction sa;
	struct pollfd	 pfd[2];
	struct buf	 err = BUF_INIT;
	unsigned char	 sig[64];
	ssize_t		 n, i;
	int		 ch;
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
	 * changes) and the time zone (smtpd_run() then only checks that it
	 * is loaded). */
	users_check(1);
	(void)getgrgid(0);
	endpwent();
	endgrent();
	tzset();
	if (fcntl(CTL_FD, F_SETFL, O_NONBLOCK) == -1)
		fatal_errno("fcntl");

	if (pipe2(sigpipe, O_NONBLOCK | O_CLOEXEC) == -1)
		fatal_errno("pipe");
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	for (i = 0; i < (ssize_t)(sizeof(sigs) / sizeof(sigs[0])); i++)
		if (sigaction(sigs[i], &sa, NULL) == -1)
			fatal_errno("sigaction");
	signal(SIGPIPE, SIG_IGN);

	pfd[0].fd = sigpipe[0];
	pfd[0].events = POLLIN;
	pfd[1].fd = CTL_FD;
	pfd[1].events = POLLIN;
	for (;;) {
		if (stopping && nsess == 0)
			exit(0);
		if (poll(pfd, stopping ? 1 : 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			fatal_errno("poll");
		}
		if (pfd[0].revents & POLLIN)
			while ((n = read(sigpipe[0], sig, sizeof(sig))) > 0)
				for (i = 0; i < n; i++) {
					if (sig[i] == SIGCHLD)
						reap();
					else if (sig[i] == SIGHUP)
						reload(1);
					else if (sig[i] == SIGTERM)
						stopping = 1;
				}
		if (!stopping && (pfd[1].revents & (POLLIN | POLLHUP)))
			ctl_read();
	}
}
