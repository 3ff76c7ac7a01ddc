/*
 * qmgr_remote.c: qmgr's side of the rspawn protocol (docs/protocols.md,
 * "qmgr -> rspawn").
 *
 * A batch is one 'T': recipients of ONE message at ONE destination, at most
 * smtp_recipient_limit of them, so that one SMTP transaction carries them
 * and its outcomes are recorded with one write and one fsync. At most
 * remote_concurrency batches are outstanding in all, and at most
 * remote_destination_concurrency per destination. The queue file goes to
 * rspawn as a descriptor opened read-only here: the SMTP client never sees
 * a spool path and could not open one from its chroot anyway.
 *
 * When the rspawn socket fails, every outstanding batch's jobs go back to
 * the front of their destination and are sent again on the socket master
 * hands over next: a transaction rspawn finished but whose replies were
 * lost is delivered twice (at-least-once, DESIGN.md).
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bsd/string.h>

#include "buf.h"
#include "fdpass.h"
#include "frame.h"
#include "log.h"
#include "qfile.h"
#include "spool.h"
#include "qmgr.h"

/* A send to rspawn waits at most this long (SO_SNDTIMEO). */
#define RSPAWN_SEND_TIMEOUT_S	30

static void	 batch_free(struct qbatch *);
static void	 rspawn_lost(struct qmgr *, const char *why);
static void	 batch_finish(struct qmgr *, struct qbatch *, const char *dead);

static void
batch_free(struct qbatch *b)
{
	size_t	 i;

	for (i = 0; i < b->n; i++) {
		free(b->text[i]);
		free(b->mta[i]);
	}
	free(b->jobs);
	free(b->status);
	free(b->code);
	free(b->text);
	free(b->mta);
	free(b);
}

/* Take up to limit jobs of the first job's message out of d's queue. */
static struct qbatch *
batch_take(struct qmgr *q, struct qdest *d)
{
	struct qbatch	*b;
	struct qjob	*j, *prev = NULL, *next;
	struct qmsg	*m = d->jobs.head->msg;
	size_t		 limit = (size_t)q->conf.smtp_recipient_limit;

	b = qmgr_xcalloc(1, sizeof(*b));
	b->jobs = qmgr_xcalloc(limit, sizeof(*b->jobs));
	for (j = d->jobs.head; j != NULL && b->n < limit; j = next) {
		next = j->next;
		if (j->msg != m) {
			prev = j;
			continue;
		}
		if (prev != NULL)
			prev->next = next;
		else
			d->jobs.head = next;
		if (d->jobs.tail == j)
			d->jobs.tail = prev;
		d->jobs.n--;
		j->next = NULL;
		b->jobs[b->n++] = j;
	}
	b->dest = d;
	b->status = qmgr_xcalloc(b->n, 1);
	b->code = qmgr_xcalloc(b->n, sizeof(*b->code));
	b->text = qmgr_xcalloc(b->n, sizeof(*b->text));
	b->mta = qmgr_xcalloc(b->n, sizeof(*b->mta));
	return b;
}

/* The batch's jobs back at the front of their destination, in order. */
static void
batch_requeue(struct qbatch *b)
{
	struct qdest	*d = b->dest;
	size_t		 i;

	for (i = b->n; i-- > 0;) {
		b->jobs[i]->next = d->jobs.head;
		d->jobs.head = b->jobs[i];
		if (d->jobs.tail == NULL)
			d->jobs.tail = b->jobs[i];
		d->jobs.n++;
		free(b->text[i]);
		free(b->mta[i]);
		b->text[i] = b->mta[i] = NULL;
	}
	b->n = 0;
}

/* The 'T' of batch b with the queue file's fd. 0, or -1: the batch is
 * to be failed (*why) or, when why is NULL, rspawn is lost. */
static int
batch_send(struct qmgr *q, struct qbatch *b, const char **why)
{
	char		 path[PATH_MAX], rid[24];
	struct buf	 rcpts = BUF_INIT, rec = BUF_INIT, err = BUF_INIT;
	struct qenv	 env;
	const struct qrcpt_dsn *dsn;
	struct qmsg	*m = b->jobs[0]->msg;
	size_t		 i;
	int		 fd = -1, rc = -1;

	*why = NULL;
	qenv_init(&env);
	if (spool_path(path, sizeof(path), SPOOL_ACTIVE, m->id) == -1 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn_errno("%s: open %s", m->id, path);
		*why = "cannot open the queue file";
		goto out;
	}
	/* The DSN parameters of each recipient (an alias's targets carry
	 * their recipient's: RFC 3461 5.2.7). */
	if (qfile_read(fd, &env, &err) != QFILE_OK ||
	    env.nrcpt != m->nrcpt) {
		log_warn("%s: cannot read the queue file again: %s", m->id,
		    buf_str(&err));
		*why = "cannot read the queue file";
		goto out;
	}
	for (i = 0; i < b->n; i++) {
		dsn = env.dsn != NULL ? &env.dsn[b->jobs[i]->index] : NULL;
		/* Addresses never hold TAB or LF (common/addr.c). */
		if (strpbrk(b->jobs[i]->target, "\t\n") != NULL) {
			*why = "address holds a control character";
			goto out;
		}
		if (buf_addf(&rcpts, "%s%zu\t%s\t%s\t%s", i > 0 ? "\n" : "",
		    i, b->jobs[i]->target, dsn != NULL ? dsn->notify : "",
		    dsn != NULL ? dsn->orcpt : "") == -1)
			fatal("out of memory");
	}
	b->reqid = ++q->reqid;
	snprintf(rid, sizeof(rid), "%llu", (unsigned long long)b->reqid);
	if (frame_put_fields(&rec, 'T', rid, m->id, b->dest->name,
	    b->dest->tls, b->dest->hosts, buf_str(&rcpts), (char *)NULL) ==
	    -1) {
		*why = "cannot frame the delivery request";
		goto out;
	}
	if (fd_send_rec(q->rspawn_fd, fd, rec.data, rec.len, 0) == -1) {
		rspawn_lost(q, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	qenv_free(&env);
	buf_free(&rcpts);
	buf_free(&rec);
	buf_free(&err);
	return rc;
}

void
qmgr_remote_send(struct qmgr *q, struct qdest *d)
{
	struct qbatch	*b;
	const char	*why;
	size_t		 i;

	while (d->jobs.n > 0 && q->rspawn_fd != -1 &&
	    d->active < (size_t)q->conf.remote_destination_concurrency &&
	    q->remote_active < (size_t)q->conf.remote_concurrency) {
		b = batch_take(q, d);
		if (batch_send(q, b, &why) == -1) {
			if (why == NULL) {	/* rspawn lost: later */
				batch_requeue(b);
				batch_free(b);
				return;
			}
			for (i = 0; i < b->n; i++) {
				b->status[i] = 'Z';
				strlcpy(b->code[i], "4.3.0",
				    sizeof(b->code[i]));
				b->text[i] = qmgr_xstrdup(why);
			}
			d->active++;
			q->remote_active++;
			batch_finish(q, b, "");
			continue;
		}
		d->active++;
		q->remote_active++;
		b->next = q->batches;
		q->batches = b;
		/* One answer, one transaction: the next asks resolve again
		 * (qmgr_dest.c), for a fresh order of equal MX hosts. */
		free(d->hosts);
		d->hosts = NULL;
		return;
	}
}

static void
rspawn_lost(struct qmgr *q, const char *why)
{
	struct qbatch	*b;
	size_t		 n = 0;

	if (q->rspawn_fd == -1)
		return;
	while ((b = q->batches) != NULL) {
		q->batches = b->next;
		b->dest->active--;
		q->remote_active--;
		batch_requeue(b);
		batch_free(b);
		n++;
	}
	log_warn("rspawn connection lost (%s); %zu request(s) will be sent "
	    "again when master reconnects it", why, n);
	close(q->rspawn_fd);
	q->rspawn_fd = -1;
}

void
qmgr_remote_attach(struct qmgr *q, int fd)
{
	struct timeval	 tv = { RSPAWN_SEND_TIMEOUT_S, 0 };

	if (q->rspawn_fd != -1) {
		/* Whatever was outstanding on the old socket goes again. */
		rspawn_lost(q, "replaced by master");
	}
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)
		log_warn_errno("rspawn socket: SO_SNDTIMEO");
	q->rspawn_fd = fd;
}

/* Every recipient of b has its outcome (or is given one now): record them
 * all with one write, release the slot. */
static void
batch_finish(struct qmgr *q, struct qbatch *b, const char *dead)
{
	struct qresult	*r;
	struct qdest	*d = b->dest;
	size_t		 i;

	if (dead[0] != '\0')
		log_info("%s: hosts that did not answer: %s",
		    b->jobs[0]->msg->id, dead);
	r = qmgr_xcalloc(b->n, sizeof(*r));
	for (i = 0; i < b->n; i++) {
		r[i].job = b->jobs[i];
		if (b->status[i] == 0) {
			r[i].status = 'Z';
			r[i].code = "4.3.0";
			r[i].text = "rspawn gave no outcome for this "
			    "recipient";
			r[i].mta = "";
		} else {
			r[i].status = b->status[i];
			r[i].code = b->code[i];
			r[i].text = b->text[i];
			r[i].mta = b->mta[i] != NULL ? b->mta[i] : "";
		}
		r[i].relay = r[i].mta[0] != '\0' ? r[i].mta : d->name;
	}
	d->active--;
	q->remote_active--;
	if (b->n > 0)
		qmgr_msg_outcomes(q, r, b->n);
	free(r);
	batch_free(b);			/* its texts; the jobs were consumed */
}

static struct qbatch *
batch_find(struct qmgr *q, unsigned long long reqid, int unlink)
{
	struct qbatch	**pp, *b;

	for (pp = &q->batches; (b = *pp) != NULL; pp = &b->next)
		if (b->reqid == reqid) {
			if (unlink)
				*pp = b->next;
			return b;
		}
	return NULL;
}

static int
parse_id(const char *s, unsigned long long *out)
{
	char	*end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return isdigit((unsigned char)s[0]) && *end == '\0' && errno == 0 ?
	    0 : -1;
}

/* One datagram: an 'R' or an 'E'. 0, or -1 protocol error. */
static int
record_handle(struct qmgr *q, int type, const struct buf *payload)
{
	const char	*f[6];
	unsigned long long reqid, idx;
	struct qbatch	*b;
	const char	*code;

	if (type == 'E') {
		if (frame_fields(payload, f, 2) == -1 ||
		    parse_id(f[0], &reqid) == -1) {
			log_warn("rspawn: malformed 'E' record");
			return -1;
		}
		if ((b = batch_find(q, reqid, 1)) == NULL) {
			log_warn("rspawn: 'E' for unknown request %llu", reqid);
			return 0;
		}
		batch_finish(q, b, f[1]);
		return 0;
	}
	if (frame_fields(payload, f, 6) == -1 || parse_id(f[0], &reqid) ==
	    -1 || parse_id(f[1], &idx) == -1 || strlen(f[2]) != 1 ||
	    strchr("KZD", f[2][0]) == NULL) {
		log_warn("rspawn: malformed 'R' record");
		return -1;
	}
	if ((b = batch_find(q, reqid, 0)) == NULL) {
		log_warn("rspawn: 'R' for unknown request %llu", reqid);
		return 0;
	}
	if (idx >= b->n || b->status[idx] != 0) {
		log_warn("rspawn: 'R' for recipient %llu of request %llu: "
		    "none such, or answered twice", idx, reqid);
		return 0;
	}
	code = f[3];
	if (!qmgr_code_valid(code, f[2][0]))
		code = f[2][0] == 'K' ? "2.0.0" : f[2][0] == 'Z' ? "4.0.0" :
		    "5.0.0";
	b->status[idx] = f[2][0];
	strlcpy(b->code[idx], code, sizeof(b->code[idx]));
	b->text[idx] = qmgr_xstrdup(f[4]);
	b->mta[idx] = qmgr_xstrdup(f[5]);
	return 0;
}

/* rspawn's socket is readable: every datagram there, one record each. */
void
qmgr_remote_read(struct qmgr *q)
{
	static char	 dgram[FRAME_HDR + FRAME_MAX];
	struct pollfd	 pfd;
	struct buf	 payload = BUF_INIT;
	const char	*p;
	size_t		 len, plen, used;
	int		 fd, type;

	do {
		fd = fd_recv_rec(q->rspawn_fd, dgram, sizeof(dgram), &len);
		if (fd >= 0) {
			close(fd);
			rspawn_lost(q, "a descriptor from rspawn");
			break;
		}
		if (fd == -1) {
			rspawn_lost(q, strerror(errno));
			break;
		}
		if (len == 0) {
			rspawn_lost(q, "EOF");
			break;
		}
		if (frame_parse(dgram, len, &type, &p, &plen, &used) != 1 ||
		    used != len || (type != 'R' && type != 'E')) {
			rspawn_lost(q, "a datagram that is not one R or E "
			    "record");
			break;
		}
		if (buf_set(&payload, p, plen) == -1)
			fatal("out of memory");
		if (record_handle(q, type, &payload) == -1) {
			rspawn_lost(q, "bad record");
			break;
		}
		pfd.fd = q->rspawn_fd;
		pfd.events = POLLIN;
	} while (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN));
	buf_free(&payload);
}
