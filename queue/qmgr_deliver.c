/*
 * qmgr_deliver.c: the job queue and qmgr's side of the lspawn protocol
 * (docs/protocols.md "qmgr -> lspawn").
 *
 * Jobs wait in q->pending in the order their messages were taken; at most
 * local_concurrency of them are outstanding at lspawn ('L' sent, no 'O'
 * yet). Request ids are a counter, fresh for every send, so a late reply can
 * never be mistaken for the answer to a later request.
 *
 * When the lspawn socket fails (EOF, an error, a record that breaks the
 * protocol) it is closed and every outstanding job goes back to the front of
 * the queue; they are sent again, in the same order, on the socket master
 * hands over next (qmgr_deliver_attach). A job lspawn finished but whose 'O'
 * was lost is thus delivered twice: at-least-once, by design.
 *
 * Every 'O' is checked to the last byte (type, four fields, a request id we
 * sent, a status letter: K, Z, D, or F for a .forward's targets, handed to
 * qmgr_alias.c). A malformed enhanced code is replaced by the
 * generic one of its status instead of dropping the peer, so one bad reply
 * cannot make a job that is re-sent for ever.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "frame.h"
#include "io.h"
#include "log.h"
#include "qmgr.h"

/* A write to lspawn waits at most this long: outstanding requests are a few
 * KB and fit the socket buffer, so a longer wait means lspawn is stuck. */
#define DELIVER_WRITE_TIMEOUT_MS 30000
/* Input buffer ceiling: one whole record plus the start of the next. */
#define DELIVER_IN_MAX	(2 * (FRAME_MAX + FRAME_HDR))

static void	 jobq_push(struct qjobq *, struct qjob *);
static struct qjob *jobq_pop(struct qjobq *);
static struct qjob *jobq_take_reqid(struct qjobq *, uint64_t);
static void	 requeue_outstanding(struct qmgr *);
static int	 job_send(struct qmgr *, struct qjob *);
static int	 reply_handle(struct qmgr *, const struct buf *payload);

static void
jobq_push(struct qjobq *jq, struct qjob *j)
{
	j->next = NULL;
	if (jq->tail != NULL)
		jq->tail->next = j;
	else
		jq->head = j;
	jq->tail = j;
	jq->n++;
}

static struct qjob *
jobq_pop(struct qjobq *jq)
{
	struct qjob	*j;

	if ((j = jq->head) == NULL)
		return NULL;
	if ((jq->head = j->next) == NULL)
		jq->tail = NULL;
	jq->n--;
	j->next = NULL;
	return j;
}

/* Outstanding jobs number at most local_concurrency: a walk is cheap. */
static struct qjob *
jobq_take_reqid(struct qjobq *jq, uint64_t reqid)
{
	struct qjob	*j, *prev = NULL;

	for (j = jq->head; j != NULL; prev = j, j = j->next) {
		if (j->reqid != reqid)
			continue;
		if (prev != NULL)
			prev->next = j->next;
		else
			jq->head = j->next;
		if (jq->tail == j)
			jq->tail = prev;
		jq->n--;
		j->next = NULL;
		return j;
	}
	return NULL;
}

/* Local jobs wait here for lspawn; remote ones at their destination. */
void
qmgr_job_add(struct qmgr *q, struct qjob *j)
{
	if (j->kind == 'r')
		qmgr_remote_add(q, j);
	else
		jobq_push(&q->pending, j);
}

void
qmgr_job_free(struct qjob *j)
{
	free(j->rcpt);
	free(j->target);
	free(j->as);
	free(j->fwd);
	/* The group goes with its last job (qmgr_alias_job_done()). */
	if (j->group != NULL && j->group->pending == 0)
		qmgr_group_free(j->group);
	free(j);
}

/* Outstanding jobs go back in front of the pending ones, order kept. */
static void
requeue_outstanding(struct qmgr *q)
{
	struct qjob	*j;

	if (q->outstanding.head == NULL)
		return;
	for (j = q->outstanding.head; j != NULL; j = j->next)
		j->reqid = 0;
	q->outstanding.tail->next = q->pending.head;
	if (q->pending.tail == NULL)
		q->pending.tail = q->outstanding.tail;
	q->pending.head = q->outstanding.head;
	q->pending.n += q->outstanding.n;
	q->outstanding.head = q->outstanding.tail = NULL;
	q->outstanding.n = 0;
}

void
qmgr_deliver_lost(struct qmgr *q, const char *why)
{
	if (q->lspawn_fd == -1)
		return;
	log_warn("lspawn connection lost (%s); %zu request(s) will be sent "
	    "again when master reconnects it", why, q->outstanding.n);
	close(q->lspawn_fd);
	io_free(&q->lspawn);
	q->lspawn_fd = -1;
	requeue_outstanding(q);
}

/* A new socket from master (or fd 3 at start): replaces the old one. */
void
qmgr_deliver_attach(struct qmgr *q, int fd)
{
	if (q->lspawn_fd != -1) {
		close(q->lspawn_fd);
		io_free(&q->lspawn);
	}
	requeue_outstanding(q);
	q->lspawn_fd = fd;
	io_init(&q->lspawn, fd, DELIVER_WRITE_TIMEOUT_MS, DELIVER_IN_MAX);
	if (q->pending.n > 0)
		log_info("lspawn connected; %zu request(s) to send",
		    q->pending.n);
}

/* Fields: request id, queue ID, recipient index, recipient, kind, target,
 * sender, as. Buffered only; qmgr_deliver_pump() flushes. */
static int
job_send(struct qmgr *q, struct qjob *j)
{
	char	 rid[24], idx[24], kind[2];

	j->reqid = ++q->reqid;
	snprintf(rid, sizeof(rid), "%llu", (unsigned long long)j->reqid);
	snprintf(idx, sizeof(idx), "%zu", j->index);
	kind[0] = j->kind;
	kind[1] = '\0';
	return frame_send_fields(&q->lspawn, 'L', rid, j->msg->id, idx,
	    j->rcpt, kind, j->target, j->msg->sender,
	    j->as != NULL ? j->as : "", (char *)NULL);
}

void
qmgr_deliver_pump(struct qmgr *q)
{
	struct qjob	*j;
	size_t		 sent = 0;

	if (q->lspawn_fd == -1)
		return;
	while (q->pending.n > 0 &&
	    q->outstanding.n < (size_t)q->conf.local_concurrency) {
		j = jobq_pop(&q->pending);
		if (job_send(q, j) == -1) {
			/* Cannot happen (fields are bounded far below
			 * FRAME_MAX); if it does, retry later, not now. */
			log_warn_errno("%s: cannot frame the request for <%s>",
			    j->msg->id, j->rcpt);
			qmgr_msg_outcome(q, j, 'Z', "4.3.0",
			    "cannot frame the delivery request");
			continue;
		}
		jobq_push(&q->outstanding, j);
		sent++;
	}
	if (sent > 0 && io_flush(&q->lspawn) == -1)
		qmgr_deliver_lost(q, strerror(errno));
}

/* 1 when code is "d.d.d" (RFC 3463: class 1 digit, subject and detail
 * 1-3 digits) with the class of status; 0 otherwise. */
int
qmgr_code_valid(const char *code, char status)
{
	const char	*p = code;
	int		 part, n;

	if (code[0] != (status == 'K' ? '2' : status == 'Z' ? '4' : '5'))
		return 0;
	for (part = 0; part < 3; part++) {
		for (n = 0; isdigit((unsigned char)*p); p++)
			n++;
		if (n < 1 || n > 3 || (part == 0 && n != 1))
			return 0;
		if (part < 2 && *p++ != '.')
			return 0;
	}
	return *p == '\0';
}

/* One 'O' payload. 0, or -1 when it breaks the protocol. */
static int
reply_handle(struct qmgr *q, const struct buf *payload)
{
	const char	*f[4], *code;
	char		*end;
	unsigned long long reqid;
	struct qjob	*j;
	char		 status;

	if (frame_fields(payload, f, 4) == -1) {
		log_warn("lspawn: 'O' record without exactly 4 fields");
		return -1;
	}
	if (!isdigit((unsigned char)f[0][0]) ||
	    (errno = 0, reqid = strtoull(f[0], &end, 10), *end != '\0') ||
	    errno != 0) {
		log_warn("lspawn: bad request id in 'O' record");
		return -1;
	}
	if (strlen(f[1]) != 1 || strchr("KZDF", f[1][0]) == NULL) {
		log_warn("lspawn: bad status in 'O' record");
		return -1;
	}
	status = f[1][0];
	if ((j = jobq_take_reqid(&q->outstanding, reqid)) == NULL) {
		log_warn("lspawn: reply to unknown request %llu, ignored",
		    reqid);
		return 0;
	}
	if (status == 'F') {
		/* Not an outcome: the user's .forward, to expand. */
		qmgr_alias_forward(q, j, f[3]);
		return 0;
	}
	code = f[2];
	if (!qmgr_code_valid(code, status)) {
		log_warn("%s: lspawn sent a bad status code for <%s>",
		    j->msg->id, j->rcpt);
		code = status == 'K' ? "2.0.0" : status == 'Z' ? "4.0.0" :
		    "5.0.0";
	}
	qmgr_msg_outcome(q, j, status, code, f[3]);
	return 0;
}

/* lspawn's socket is readable: take in what is there, act on each whole
 * record, keep a partial one for the next turn. */
void
qmgr_deliver_read(struct qmgr *q)
{
	struct buf	 payload = BUF_INIT;
	const char	*p;
	size_t		 plen, used;
	ssize_t		 n;
	int		 type, rc;
	char		 why[64];

	n = io_fill(&q->lspawn);
	if (n == -1) {
		qmgr_deliver_lost(q, strerror(errno));
		return;
	}
	for (;;) {
		if (q->lspawn.in.len >= FRAME_HDR) {
			const unsigned char *h =
			    (const unsigned char *)q->lspawn.in.data;
			uint32_t len = (uint32_t)h[1] << 24 |
			    (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];

			if (h[0] != 'O') {
				snprintf(why, sizeof(why),
				    "unexpected record type 0x%02x", h[0]);
				qmgr_deliver_lost(q, why);
				break;
			}
			if (len > FRAME_MAX) {
				qmgr_deliver_lost(q, "record too long");
				break;
			}
		}
		rc = q->lspawn.in.len < FRAME_HDR ? 0 :
		    frame_parse(q->lspawn.in.data, q->lspawn.in.len, &type,
		    &p, &plen, &used);
		if (rc == 0) {
			if (n == 0)
				qmgr_deliver_lost(q, q->lspawn.in.len > 0 ?
				    "EOF inside a record" : "EOF");
			break;
		}
		if (rc == -1) {
			qmgr_deliver_lost(q, "bad record");
			break;
		}
		if (buf_set(&payload, p, plen) == -1)
			fatal("out of memory");
		buf_consume(&q->lspawn.in, used);
		if (reply_handle(q, &payload) == -1) {
			qmgr_deliver_lost(q, "bad 'O' record");
			break;
		}
	}
	buf_free(&payload);
}
