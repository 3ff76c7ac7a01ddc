/*
 * rspawn: the remote delivery spawner, rspawn(8).
 *
 * Job: take 'T' requests from qmgr (docs/protocols.md, "qmgr -> rspawn"),
 * check each one, take the hosts that recently did not answer out of it,
 * and hand it to a child that runs the SMTP transaction (remote_child.c,
 * remote_session.c): a child idle on a connection to one of the request's
 * hosts when there is one (connection reuse), else a new one, forked
 * without exec. The children's 'R' and 'E' records are checked and relayed
 * to qmgr; a child that dies before it answered every recipient leaves
 * them Z 4.3.0, answered here. Every request ends with one 'R' per
 * recipient and one 'E', or, when not even its recipients can be read, a
 * log line.
 *
 * Privileges: started by master as root; loads postern.conf, opens syslog,
 * builds the TLS client context with the CA bundle, then chroots into
 * remote_chroot_directory and becomes remote_user before it reads a byte
 * from qmgr. Its children are forked, so they are chrooted and
 * unprivileged too: the network-facing code never runs as root nor sees
 * the file system (docs/design-notes.md, "rspawn").
 *
 * Pipes:
 *   fd 3  SOCK_SEQPACKET socketpair to qmgr: one record per datagram, the
 *         queue file's descriptor with each 'T'.
 *   fd 4  control socketpair to master: tag 'P' is a new qmgr socket that
 *         replaces fd 3; EOF means master is gone.
 *   one SOCK_SEQPACKET socketpair per child: 'T' (and the fd) to it; 'R',
 *         'E', 'I' (idle on ADDRESS PORT), 'X' (that connection is gone)
 *         from it; EOF from us ends an idle child.
 * Signals: SIGCHLD through a self-pipe; SIGTERM exits (idle children see
 * EOF and QUIT, busy ones finish); SIGHUP is logged: postern.conf is
 * outside the chroot, so rspawn is restarted to take a new one.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "buf.h"
#include "conf.h"
#include "fdpass.h"
#include "fork.h"
#include "frame.h"
#include "log.h"
#include "priv.h"
#include "remote.h"
#include "smtp_reply.h"
#include "spawner.h"
#include "tls.h"
#include "nolsan.h"	/* rspawn and its clients end in the chroot */

#define RSPAWN_QMGR_FD		3
#define RSPAWN_CTL_FD		4
#define RSPAWN_OUT_MAX		((size_t)4 << 20)	/* unsent replies */
#define RSPAWN_DG_MAX		(FRAME_HDR + FRAME_MAX)
#define RSPAWN_DEAD_MAX		4096	/* addresses remembered */

/* One child. The slot is free when pid is 0 (reaped) and sock is -1. */
struct child {
	pid_t		 pid;
	int		 sock;		/* -1 once closed */
	int		 busy;		/* a job sent, its 'E' not yet in */
	int		 idle;		/* said 'I': may take a job */
	unsigned	 gen;		/* the qmgr connection it answers */
	unsigned long	 seq;		/* when it went idle: oldest first */
	struct timespec	 idle_until;
	char		 id[REMOTE_ID_MAX];
	char		 qid[SPOOL_ID_MAX + 1];
	char		 dest[REMOTE_DEST_MAX];
	char		 policy[16];
	char		 addr[REMOTE_ADDR_MAX];	/* idle on this */
	unsigned	 port;
	size_t		 nrcpt;
	unsigned char	*answered;	/* nrcpt flags */
};

/* An address that did not answer, until when. */
struct dead {
	char		 addr[REMOTE_ADDR_MAX];
	unsigned	 port;
	time_t		 until;		/* CLOCK_MONOTONIC seconds */
};

static struct conf	 conf;
static const char	*confdir = CONFDIR_DEFAULT;
static struct ssl_ctx_st *tls;
static int		 qfd = -1;
static unsigned		 qgen;
static struct buf	 qout;
static struct child	*kids;
static size_t		 nkids;
static struct dead	*dead;
static size_t		 ndead;
static unsigned long	 idle_seq;
static char		*dg;		/* one datagram */
static int		 sigfd = -1;	/* the self-pipe, to poll */

/* Forget the qmgr connection: qmgr sends what it had outstanding again
 * on its next one (at-least-once). */
static void
rspawn_qmgr_drop(const char *why)
{
	if (qfd != -1) {
		log_warn("qmgr connection dropped: %s", why);
		close(qfd);
	}
	qfd = -1;
	qgen++;
	buf_reset(&qout);
}

/* Each record in qout goes as one datagram. */
static void
rspawn_qmgr_flush(void)
{
	const unsigned char *u;
	size_t len;
	ssize_t n;

	while (qfd != -1 && qout.len >= FRAME_HDR) {
		u = (const unsigned char *)qout.data;
		len = FRAME_HDR + ((size_t)u[1] << 24 | (size_t)u[2] << 16 |
		    (size_t)u[3] << 8 | u[4]);
		if (len > qout.len)
			panic("rspawn: torn record in the qmgr queue");
		n = send(qfd, qout.data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;	/* poll() waits for POLLOUT */
			rspawn_qmgr_drop(strerror(errno));
			return;
		}
		buf_consume(&qout, len);
	}
}

/* Queue a record for qmgr connection gen; one for a connection that is
 * gone is dropped (qmgr sends the request again). */
static void
rspawn_qmgr_put(unsigned gen, int type, const char *const *f, size_t n)
{
	if (qfd == -1 || gen != qgen) {
		log_info("request %s: qmgr connection gone, %c dropped", f[0],
		    type);
		return;
	}
	if (frame_put_fieldv(&qout, type, f, n) == -1) {
		rspawn_qmgr_drop("qmgr does not read its replies");
		return;
	}
	rspawn_qmgr_flush();
}

/* Answer every recipient not yet answered with one outcome, then 'E'. */
static void
rspawn_finish(unsigned gen, const char *id, size_t nrcpt,
    const unsigned char *answered, char status, const char *code,
    const char *text, const char *deadlist)
{
	char n[24], st[2] = { status, '\0' };
	const char *f[6];
	size_t i;

	for (i = 0; i < nrcpt; i++) {
		if (answered != NULL && answered[i])
			continue;
		snprintf(n, sizeof(n), "%zu", i);
		f[0] = id; f[1] = n; f[2] = st; f[3] = code; f[4] = text;
		f[5] = "";
		rspawn_qmgr_put(gen, 'R', f, 6);
	}
	f[0] = id;
	f[1] = deadlist;
	rspawn_qmgr_put(gen, 'E', f, 2);
}

/* 1 if addr:port did not answer within smtp_dead_host_seconds. */
static int
rspawn_dead(const char *addr, unsigned port)
{
	time_t now = spawner_now().tv_sec;
	size_t i;

	for (i = 0; i < ndead; ) {
		if (dead[i].until <= now) {
			dead[i] = dead[--ndead];
			continue;
		}
		if (dead[i].port == port && strcmp(dead[i].addr, addr) == 0)
			return 1;
		i++;
	}
	return 0;
}

static void
rspawn_dead_add(const char *addr, unsigned port)
{
	struct dead *d;

	if (conf.smtp_dead_host_seconds == 0 || rspawn_dead(addr, port))
		return;
	if (ndead >= RSPAWN_DEAD_MAX)
		return;
	if ((d = reallocarray(dead, ndead + 1, sizeof(*d))) == NULL)
		return;
	dead = d;
	strlcpy(dead[ndead].addr, addr, sizeof(dead[ndead].addr));
	dead[ndead].port = port;
	dead[ndead].until = spawner_now().tv_sec + conf.smtp_dead_host_seconds;
	ndead++;
}

/* A child's end: its socket closed (it exits when it sees EOF); a job it
 * had not finished is answered here. */
static void
rspawn_child_close(struct child *c, const char *why)
{
	if (c->busy) {
		log_warn("%s: delivery process %ld ended early: %s", c->qid,
		    (long)c->pid, why);
		rspawn_finish(c->gen, c->id, c->nrcpt, c->answered, 'Z',
		    "4.3.0", "delivery process failed", "");
	}
	if (c->sock != -1)
		close(c->sock);
	c->sock = -1;
	c->busy = c->idle = 0;
	free(c->answered);
	c->answered = NULL;
}

/* A child that broke the protocol: it is killed, its job answered. */
static void
rspawn_child_bad(struct child *c, const char *why)
{
	if (c->pid > 0)
		kill(c->pid, SIGKILL);
	rspawn_child_close(c, why);
}

/* An 'R' from a child: checked field by field, then relayed as it is. */
static int
rspawn_child_R(struct child *c, const char *const f[6])
{
	char *end;
	unsigned long n;
	size_t i, tl = strlen(f[4]);

	errno = 0;
	n = strtoul(f[1], &end, 10);
	if (strcmp(f[0], c->id) != 0 || f[1][0] < '0' || f[1][0] > '9' ||
	    *end != '\0' || errno != 0 || n >= c->nrcpt || c->answered[n] ||
	    strlen(f[2]) != 1 || !smtp_code_valid(f[2][0], f[3]) ||
	    tl == 0 || tl >= REMOTE_TEXT_MAX || strlen(f[5]) >= REMOTE_HOST_MAX)
		return -1;
	for (i = 0; i < tl; i++)
		if ((unsigned char)f[4][i] < 0x20 || f[4][i] == 0x7f)
			return -1;
	c->answered[n] = 1;
	rspawn_qmgr_put(c->gen, 'R', f, 6);
	return 0;
}

/* An 'E': the dead hosts remembered, anyone unanswered answered. */
static int
rspawn_child_E(struct child *c, const char *const f[2])
{
	char addr[REMOTE_ADDR_MAX];
	const char *p, *nl;
	unsigned port;
	size_t len;

	if (strcmp(f[0], c->id) != 0)
		return -1;
	for (p = f[1]; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		if (remote_addr_port(p, len, addr, sizeof(addr), &port) == -1)
			return -1;
		rspawn_dead_add(addr, port);
		if (nl == NULL)
			break;
	}
	c->busy = 0;
	rspawn_finish(c->gen, c->id, c->nrcpt, c->answered, 'Z', "4.3.0",
	    "delivery process gave no outcome", f[1]);
	free(c->answered);
	c->answered = NULL;
	return 0;
}

/* An 'I': idle on ADDRESS PORT, may take the next job there. */
static int
rspawn_child_I(struct child *c, const char *const f[2])
{
	char s[REMOTE_ADDR_MAX + 8];

	if (c->busy || snprintf(s, sizeof(s), "%s %s", f[0], f[1]) >=
	    (int)sizeof(s) || remote_addr_port(s, strlen(s), c->addr,
	    sizeof(c->addr), &c->port) == -1)
		return -1;
	c->idle = 1;
	c->seq = ++idle_seq;
	c->idle_until = spawner_now();
	c->idle_until.tv_sec += conf.smtp_connection_reuse_seconds;
	return 0;
}

static void
rspawn_child_record(struct child *c, size_t len, int fd)
{
	struct buf payload = BUF_INIT;
	const char *f[6], *pl;
	size_t plen, used;
	int type, rc = -1;

	if (fd >= 0) {
		close(fd);
		rspawn_child_bad(c, "a descriptor from the child");
		return;
	}
	buf_init(&payload, FRAME_MAX);
	if (frame_parse(dg, len, &type, &pl, &plen, &used) != 1 ||
	    used != len || buf_set(&payload, pl, plen) == -1)
		goto out;
	switch (type) {
	case 'R':
		if (c->busy && frame_fields(&payload, f, 6) == 0)
			rc = rspawn_child_R(c, f);
		break;
	case 'E':
		if (c->busy && frame_fields(&payload, f, 2) == 0)
			rc = rspawn_child_E(c, f);
		break;
	case 'I':
		if (frame_fields(&payload, f, 2) == 0)
			rc = rspawn_child_I(c, f);
		break;
	case 'X':
		rc = frame_fields(&payload, f, 0);
		/* Idle: let it go. Busy: it was sent a job already, which
		 * it delivers on a new connection. */
		if (rc == 0 && c->idle)
			rspawn_child_close(c, "idle connection closed");
		break;
	}
out:
	buf_free(&payload);
	if (rc == -1)
		rspawn_child_bad(c, "malformed record from the child");
}

static void
rspawn_child_read(struct child *c)
{
	size_t len;
	int fd;

	while (c->sock != -1) {
		fd = fd_recv_rec(c->sock, dg, RSPAWN_DG_MAX, &len);
		if (fd == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				rspawn_child_bad(c, strerror(errno));
			return;
		}
		if (fd == -2 && len == 0) {
			rspawn_child_close(c, "it exited");
			return;
		}
		rspawn_child_record(c, len, fd);
	}
}

static void
rspawn_reap(void)
{
	pid_t pid;
	size_t i;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < nkids; i++) {
			if (kids[i].pid != pid)
				continue;
			/* Its last records are still in the socket: EOF
			 * comes after them, and rspawn_child_read() sees
			 * both. */
			if (WIFSIGNALED(status))
				log_warn("delivery process %ld killed by "
				    "signal %d", (long)pid, WTERMSIG(status));
			kids[i].pid = 0;
			break;
		}
	}
}

static size_t
rspawn_live(void)
{
	size_t i, n = 0;

	for (i = 0; i < nkids; i++)
		n += kids[i].sock != -1;
	return n;
}

/* A free slot and a new child in it, or NULL. qf is closed in the child. */
static struct child *
rspawn_fork(int qf)
{
	struct child *c = NULL, *k;
	size_t i, n;
	pid_t pid;
	int sv[2];

	for (i = 0; i < nkids; i++)
		if (kids[i].pid == 0 && kids[i].sock == -1) {
			c = &kids[i];
			break;
		}
	if (c == NULL) {
		n = nkids ? nkids * 2 : 8;
		if ((k = reallocarray(kids, n, sizeof(*k))) == NULL)
			return NULL;
		memset(k + nkids, 0, (n - nkids) * sizeof(*k));
		for (i = nkids; i < n; i++)
			k[i].sock = -1;
		kids = k;
		c = &kids[nkids];
		nkids = n;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		return NULL;
	if ((pid = fork_quiet()) == -1) {
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	if (pid == 0) {
		/* Nothing of rspawn's stays open but syslog's socket: a
		 * sibling's socket held here would hide its EOF. */
		signal(SIGPIPE, SIG_IGN);
		close(sv[0]);
		close(qf);
		if (qfd != -1)
			close(qfd);
		close(RSPAWN_CTL_FD);
		spawner_child();
		for (i = 0; i < nkids; i++)
			if (kids[i].sock != -1)
				close(kids[i].sock);
		remote_child(sv[1], &conf, tls);
	}
	close(sv[1]);
	spawner_nonblock(sv[0]);
	memset(c, 0, sizeof(*c));
	c->pid = pid;
	c->sock = sv[0];
	return c;
}

/* Hand job (its hosts filtered) and qf to child c. 0, or -1 with c
 * closed and the job answered. */
static int
rspawn_dispatch(struct child *c, const struct remote_job *j, int qf)
{
	struct buf hosts = BUF_INIT, rcpts = BUF_INIT, rec = BUF_INIT;
	int rc = -1;

	buf_init(&hosts, FRAME_MAX);
	buf_init(&rcpts, FRAME_MAX);
	buf_init(&rec, RSPAWN_DG_MAX);
	if ((c->answered = calloc(j->nrcpt, 1)) == NULL ||
	    remote_job_hosts(j, &hosts) == -1 ||
	    remote_job_rcpts(j, &rcpts) == -1 ||
	    frame_put_fields(&rec, 'T', j->id, j->qid, j->dest, j->policy,
	    buf_str(&hosts), buf_str(&rcpts), (char *)NULL) == -1) {
		/* The child has no job: it goes, the request is answered. */
		rspawn_finish(qgen, j->id, j->nrcpt, NULL, 'Z', "4.3.0",
		    "cannot start a delivery process", "");
		rspawn_child_close(c, "");
		goto out;
	}
	c->busy = 1;
	c->idle = 0;
	c->gen = qgen;
	c->nrcpt = j->nrcpt;
	strlcpy(c->id, j->id, sizeof(c->id));
	strlcpy(c->qid, j->qid, sizeof(c->qid));
	strlcpy(c->dest, j->dest, sizeof(c->dest));
	strlcpy(c->policy, j->policy, sizeof(c->policy));
	if (fd_send_rec(c->sock, qf, rec.data, rec.len,
	    MSG_DONTWAIT | MSG_NOSIGNAL) == -1) {
		rspawn_child_bad(c, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	buf_free(&hosts);
	buf_free(&rcpts);
	buf_free(&rec);
	return rc;
}

/* The child idle on one of job's hosts, for the same destination and
 * policy, or NULL. */
static struct child *
rspawn_idle_match(const struct remote_job *j)
{
	size_t i, h;

	for (i = 0; i < nkids; i++) {
		struct child *c = &kids[i];

		if (!c->idle || c->sock == -1 || strcmp(c->dest, j->dest) != 0 ||
		    strcmp(c->policy, j->policy) != 0)
			continue;
		for (h = 0; h < j->nhosts; h++)
			if (j->hosts[h].port == c->port &&
			    strcmp(j->hosts[h].addr, c->addr) == 0)
				return c;
	}
	return NULL;
}

/* Room for one more child: the oldest idle one goes when there is none. */
static int
rspawn_room(void)
{
	size_t max = (size_t)conf.remote_concurrency * 2, i;
	struct child *old = NULL;

	if (rspawn_live() < max)
		return 1;
	for (i = 0; i < nkids; i++)
		if (kids[i].idle && kids[i].sock != -1 &&
		    (old == NULL || kids[i].seq < old->seq))
			old = &kids[i];
	if (old == NULL)
		return 0;
	rspawn_child_close(old, "");
	return 1;
}

/* The dead hosts out of j; the ones taken out into out. */
static void
rspawn_filter(struct remote_job *j, struct buf *out)
{
	size_t i, k = 0;

	for (i = 0; i < j->nhosts; i++) {
		if (rspawn_dead(j->hosts[i].addr, j->hosts[i].port)) {
			(void)buf_addf(out, "%s%s %u", out->len ? "\n" : "",
			    j->hosts[i].addr, j->hosts[i].port);
			continue;
		}
		j->hosts[k++] = j->hosts[i];
	}
	j->nhosts = k;
}

/* One 'T' datagram of len bytes in dg, with qf (-2: none). */
static void
rspawn_request(size_t len, int qf)
{
	struct buf payload = BUF_INIT, err = BUF_INIT, skipped = BUF_INIT;
	struct remote_job j;
	struct child *c;
	const char *f[6], *pl;
	size_t plen, used;
	int type;

	memset(&j, 0, sizeof(j));
	buf_init(&payload, FRAME_MAX);
	buf_init(&err, 256);
	buf_init(&skipped, FRAME_MAX);
	if (frame_parse(dg, len, &type, &pl, &plen, &used) != 1 ||
	    used != len || type != 'T' || buf_set(&payload, pl, plen) == -1 ||
	    frame_fields(&payload, f, 6) == -1) {
		log_warn("qmgr sent a datagram that is not a T record; "
		    "dropped");
		goto out;
	}
	if (f[0][0] == '\0' || strlen(f[0]) >= REMOTE_ID_MAX) {
		log_warn("qmgr sent a request with a bad id; dropped");
		goto out;
	}
	if (remote_job_parse(f, (size_t)conf.smtp_recipient_limit, &j,
	    &err) == -1) {
		log_warn("request %s: %s", f[0], buf_str(&err));
		if (j.nrcpt > 0)
			rspawn_finish(qgen, f[0], j.nrcpt, NULL, 'Z', "4.3.0",
			    "malformed delivery request", "");
		goto out;
	}
	if (qf < 0) {
		log_warn("%s: request %s came without its queue file", j.qid,
		    j.id);
		rspawn_finish(qgen, j.id, j.nrcpt, NULL, 'Z', "4.3.0",
		    "queue file not passed", "");
		goto out;
	}
	rspawn_filter(&j, &skipped);
	if (j.nhosts == 0) {
		log_info("%s: every host of %s recently unreachable", j.qid,
		    j.dest);
		rspawn_finish(qgen, j.id, j.nrcpt, NULL, 'Z', "4.4.1",
		    "every host of the destination is recently unreachable",
		    buf_str(&skipped));
		goto out;
	}
	if ((c = rspawn_idle_match(&j)) == NULL) {
		if (!rspawn_room()) {
			rspawn_finish(qgen, j.id, j.nrcpt, NULL, 'Z', "4.3.0",
			    "too many deliveries", "");
			goto out;
		}
		if ((c = rspawn_fork(qf)) == NULL) {
			log_warn_errno("%s: cannot start a delivery process",
			    j.qid);
			rspawn_finish(qgen, j.id, j.nrcpt, NULL, 'Z', "4.3.0",
			    "cannot start a delivery process", "");
			goto out;
		}
	}
	(void)rspawn_dispatch(c, &j, qf);
out:
	if (qf >= 0)
		close(qf);
	remote_job_free(&j);
	buf_free(&payload);
	buf_free(&err);
	buf_free(&skipped);
}

static void
rspawn_qmgr_read(void)
{
	size_t len;
	int fd;

	while (qfd != -1) {
		fd = fd_recv_rec(qfd, dg, RSPAWN_DG_MAX, &len);
		if (fd == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			if (errno == EPROTO) {
				log_warn("qmgr sent a truncated datagram or "
				    "several descriptors; dropped");
				continue;
			}
			rspawn_qmgr_drop(strerror(errno));
			return;
		}
		if (fd == -2 && len == 0) {
			rspawn_qmgr_drop("qmgr closed the connection");
			return;
		}
		rspawn_request(len, fd);
	}
}

static void
rspawn_control(void)
{
	int fd;

	if ((fd = spawner_control(RSPAWN_CTL_FD)) == -1)
		return;
	if (qfd != -1)
		rspawn_qmgr_drop("replaced by a new qmgr socket");
	qfd = fd;
	qgen++;
	log_info("new qmgr connection");
}

/* Close the idle children past smtp_connection_reuse_seconds; the poll()
 * timeout until the next one, -1 if none. */
static int
rspawn_idle_timeouts(void)
{
	struct timespec now = spawner_now();
	long long ms, next = -1;
	size_t i;

	for (i = 0; i < nkids; i++) {
		struct child *c = &kids[i];

		if (!c->idle || c->sock == -1)
			continue;
		ms = (long long)(c->idle_until.tv_sec - now.tv_sec) * 1000 +
		    (c->idle_until.tv_nsec - now.tv_nsec) / 1000000;
		if (ms <= 0) {
			rspawn_child_close(c, "");
			continue;
		}
		if (next == -1 || ms < next)
			next = ms;
	}
	return next > INT_MAX ? INT_MAX : (int)next;
}

static void
rspawn_loop(void)
{
	struct pollfd *pfd = NULL;
	size_t npfd = 0, n, i;
	int timeout;

	for (;;) {
		timeout = rspawn_idle_timeouts();
		if (npfd < nkids + 3) {
			npfd = nkids + 3;
			if ((pfd = reallocarray(pfd, npfd, sizeof(*pfd))) ==
			    NULL)
				fatal("out of memory");
		}
		pfd[0].fd = sigfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = RSPAWN_CTL_FD;
		pfd[1].events = POLLIN;
		pfd[2].fd = qfd;
		pfd[2].events = POLLIN | (qout.len > 0 ? POLLOUT : 0);
		for (i = 0, n = 3; i < nkids; i++, n++) {
			pfd[n].fd = kids[i].sock;
			pfd[n].events = POLLIN;
			pfd[n].revents = 0;
		}
		if (poll(pfd, n, timeout) == -1) {
			if (errno == EINTR)
				continue;
			fatal_errno("poll");
		}
		spawner_drain();
		if (spawner_got_term) {
			log_info("SIGTERM, exiting; deliveries under way "
			    "finish on their own");
			exit(0);
		}
		if (spawner_got_hup) {
			spawner_got_hup = 0;
			log_info("SIGHUP: postern.conf is outside the chroot; "
			    "restart rspawn to take a new one");
		}
		for (i = 0; i < nkids; i++)
			if (pfd[3 + i].fd != -1 && pfd[3 + i].revents &&
			    kids[i].sock == pfd[3 + i].fd)
				rspawn_child_read(&kids[i]);
		if (spawner_got_chld) {
			spawner_got_chld = 0;
			rspawn_reap();
		}
		if (pfd[1].revents)
			rspawn_control();
		if (qfd != -1 && qfd == pfd[2].fd && pfd[2].revents) {
			if (pfd[2].revents & POLLOUT)
				rspawn_qmgr_flush();
			if (qfd != -1 &&
			    (pfd[2].revents & (POLLIN | POLLHUP | POLLERR)))
				rspawn_qmgr_read();
		}
	}
}

int
main(int argc, char *argv[])
{
	struct buf err = BUF_INIT, warn = BUF_INIT;

	confdir = spawner_start(argc, argv, "rspawn", &conf);
	buf_init(&err, 4096);
	buf_init(&warn, 4096);
	if (fcntl(RSPAWN_CTL_FD, F_SETFD, FD_CLOEXEC) == -1)
		fatal("fd 4 (control socket from master) is not open");
	/* The CA bundle is read now, as root and outside the chroot. */
	if ((tls = tls_client_ctx(conf.tls_ca_file, &warn, &err)) == NULL)
		fatal("TLS client context: %s", buf_str(&err));
	if (warn.len > 0)
		log_warn("%s: TLS policy \"verify\" will always fail",
		    buf_str(&warn));
	buf_free(&err);
	buf_free(&warn);
	priv_drop(conf.remote_user, conf.remote_chroot_directory);

	if ((dg = malloc(RSPAWN_DG_MAX)) == NULL)
		fatal("out of memory");
	buf_init(&qout, RSPAWN_OUT_MAX);
	if (fcntl(RSPAWN_QMGR_FD, F_GETFD) != -1) {
		spawner_nonblock(RSPAWN_QMGR_FD);
		qfd = RSPAWN_QMGR_FD;
	} else
		log_warn("fd 3 (qmgr) is not open; waiting for one on fd 4");
	sigfd = spawner_signals();
	log_info("started");
	rspawn_loop();
	return 0;
}
