/*
 * qmgr_msg.c: one message's pass through the queue manager.
 *
 * qmgr_msg_take() moves dir/ID into active/, reads and checks the queue file
 * (common/qfile.c), reads state/ID to skip recipients already done (K or D
 * from an earlier pass), routes the others (common/rcpt.c, asked again now
 * because tables may have changed since RCPT time), records the outcomes it
 * can decide alone (unknown user, lookup failure) in one write and
 * one fsync, and queues a job for each local, virtual or remote delivery
 * (remote ones wait at their destination, qmgr_dest.c).
 *
 * qmgr_msg_outcome() records lspawn's answer for one recipient in state/ID
 * before acting on it (DESIGN.md invariants: at-least-once). When every
 * recipient has an outcome in this pass the message is finished: removed
 * when all are K or D, deferred (qmgr_retry.c) when any is Z; first
 * qmgr_bounce.c expires it when too old and queues its reports.
 *
 * Failures here are never fatal: a corrupt file goes to corrupt/, an I/O
 * error defers the message by queue_retry_min_seconds. Only memory
 * exhaustion is fatal (the environment).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bsd/string.h>

#include "addr.h"
#include "buf.h"
#include "log.h"
#include "qfile.h"
#include "qstate.h"
#include "rcpt.h"
#include "spool.h"
#include "qmgr.h"

/* Outcomes qmgr decides without lspawn. */
enum { LOCAL_NONE, LOCAL_UNKNOWN, LOCAL_TEMPFAIL,
    LOCAL_BADADDR, LOCAL_UNRECORDED, LOCAL_ALIAS };
#define UNRECORDED_CODE	"4.3.0"
#define UNRECORDED_TEXT	"outcome could not be recorded in state/"

struct outcome {
	char		 status;
	const char	*relay;
	const char	*code;
	const char	*text;
};

/* LOCAL_ALIAS: an alias whose outcome qmgr_alias.c decided at once (a
 * loop, nothing deliverable); its own code and text. */
struct alias_outcome {
	struct outcome	 o;
	char		 code[16];
	char		*text;
};

static const struct outcome local_outcome[] = {
	[LOCAL_UNKNOWN] =  { 'D', "local", "5.1.1", "user unknown" },
	[LOCAL_TEMPFAIL] = { 'Z', "local", "4.3.0",
	    "temporary lookup failure" },
	/* qfile_read() checked the syntax already; this is the belt. */
	[LOCAL_BADADDR] =  { 'D', "local", "5.1.3",
	    "bad recipient address syntax" },
	/* qstate_append() failed (a full disk): nothing was promised. */
	[LOCAL_UNRECORDED] = { 'Z', "local", UNRECORDED_CODE,
	    UNRECORDED_TEXT },
};

static void	 msg_log(const struct qmsg *, const char *rcpt,
		    const char *relay, char status, const char *code,
		    const char *text, struct buf *later);
static int	 msg_route(struct qmgr *, struct qmsg *, size_t index,
		    const char *rcpt, struct alias_outcome *);
static void	 msg_done(struct qmgr *, struct qmsg *);
static int	 msg_remove(struct qmgr *, struct qmsg *);
static int	 msg_may_report(const struct qmgr *, const struct qmsg *);
static void	 msg_free(struct qmgr *, struct qmsg *);

void *
qmgr_xcalloc(size_t n, size_t size)
{
	void	*p;

	if ((p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size)) == NULL)
		fatal("out of memory");
	return p;
}

char *
qmgr_xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		fatal("out of memory");
	return p;
}

/* "ID: to=<rcpt>, relay=R, delay=N, status=sent (2.0.0 text)".
 * log.c turns control characters into '?', so agent text is safe here.
 * With later, the line waits there for qmgr_msg_sync(). */
static void
msg_log(const struct qmsg *m, const char *rcpt, const char *relay,
    char status, const char *code, const char *text, struct buf *later)
{
	const char	*word;
	long long	 delay;

	word = status == 'K' ? "sent" : status == 'D' ? "bounced" :
	    "deferred";
	delay = (long long)time(NULL) - m->arrival;
	if (delay < 0)
		delay = 0;
#define MSG_LOG_FMT "%s: to=<%s>, relay=%s, delay=%lld, status=%s (%s %s)"
	if (later == NULL)
		log_info(MSG_LOG_FMT, m->id, rcpt, relay, delay, word, code,
		    text);
	else if (buf_addf(later, MSG_LOG_FMT, m->id, rcpt, relay, delay,
	    word, code, text) == -1 || buf_addc(later, '\0') == -1)
		fatal("out of memory");
#undef MSG_LOG_FMT
}

/*
 * Route recipient index: queue a job (returns LOCAL_NONE) or name the
 * outcome decided here.
 */
static int
msg_route(struct qmgr *q, struct qmsg *m, size_t index, const char *rcpt,
    struct alias_outcome *ao)
{
	struct rcpt_route route;
	struct addr	 a;
	struct qjob	*j;
	const char	*why;

	if (addr_parse_mailbox(rcpt, ADDR_UTF8 | ADDR_POSTMASTER, &a,
	    &why) == -1)
		return LOCAL_BADADDR;
	memset(&route, 0, sizeof(route));
	switch (rcpt_resolve(&q->tables, &a, &route)) {
	case RCPT_USER:
	case RCPT_VIRTUAL:
		break;
	case RCPT_ALIAS:
		/* Expanded now, against the tables as they are now. */
		if (qmgr_alias_expand(q, m, index, rcpt, &route,
		    &ao->o.status, ao->code, &ao->text) == 1)
			return LOCAL_NONE;
		ao->o.relay = "local";
		ao->o.code = ao->code;
		ao->o.text = ao->text;
		return LOCAL_ALIAS;
	case RCPT_UNKNOWN:
		return LOCAL_UNKNOWN;
	case RCPT_REMOTE:
		break;
	case RCPT_TEMPFAIL:
	default:
		return LOCAL_TEMPFAIL;
	}
	j = qmgr_xcalloc(1, sizeof(*j));
	j->msg = m;
	j->index = index;
	j->rcpt = qmgr_xstrdup(rcpt);
	if (route.kind == RCPT_REMOTE) {
		/* qmgr_dest.c: by its domain's route, through rspawn */
		j->kind = 'r';
		j->target = qmgr_xstrdup(rcpt);
	} else if (route.kind == RCPT_USER) {
		j->kind = 'u';
		j->target = qmgr_xstrdup(route.user);
	} else {
		j->kind = 'v';
		j->target = qmgr_xstrdup(route.mailbox);
	}
	qmgr_job_add(q, j);
	return LOCAL_NONE;
}

void
qmgr_msg_take(struct qmgr *q, const char *dir, const char *id)
{
	char		 from[PATH_MAX], path[PATH_MAX];
	struct qenv	 env;
	struct buf	 err = BUF_INIT, batch = BUF_INIT;
	struct qstate_rcpt *st = NULL;
	unsigned char	*local = NULL;
	struct alias_outcome *ao = NULL;
	struct qmsg	*m;
	size_t		 i;
	int		 fd, rc, saved;

	if (spool_path(from, sizeof(from), dir, id) == -1 ||
	    spool_path(path, sizeof(path), SPOOL_ACTIVE, id) == -1)
		return;
	if (rename(from, path) == -1) {
		/* ENOENT: moved away meanwhile ("postern hold", delete). */
		if (errno != ENOENT)
			log_warn_errno("%s: rename %s %s", id, from, path);
		return;
	}
	/* An operator's hold or delete that missed the last pass. */
	if (qmgr_control_take(id))
		return;

	qenv_init(&env);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn_errno("%s: open %s", id, path);
		goto ioerr;
	}
	rc = qfile_read(fd, &env, &err);
	saved = errno;
	close(fd);
	if (rc == QFILE_CORRUPT) {
		qmgr_corrupt(SPOOL_ACTIVE, id, buf_str(&err));
		goto out;
	}
	if (rc != QFILE_OK) {
		errno = saved;
		log_warn_errno("%s: read %s", id, path);
		goto ioerr;
	}
	if (strcmp(env.id, id) != 0)
		log_warn("%s: queue file names itself %s", id, env.id);

	st = qmgr_xcalloc(env.nrcpt, sizeof(*st));
	if (qstate_read(id, st, env.nrcpt) == -1) {
		log_warn_errno("%s: read %s/%s", id, SPOOL_STATE, id);
		goto ioerr;
	}

	m = qmgr_xcalloc(1, sizeof(*m));
	strlcpy(m->id, id, sizeof(m->id));
	m->arrival = env.arrival;
	m->sender = qmgr_xstrdup(env.sender);
	m->nrcpt = env.nrcpt;
	m->status = qmgr_xcalloc(env.nrcpt, 1);
	/* Whether a delivery can call for a report (qmgr_bounce.c): known
	 * now, so a pass that only delivered never reads the file again. */
	for (i = 0; i < env.nrcpt && env.dsn != NULL; i++)
		if (strstr(env.dsn[i].notify, "SUCCESS") != NULL)
			m->notify_success = 1;
	m->next = q->msgs;
	if (q->msgs != NULL)
		q->msgs->prev = m;
	q->msgs = m;
	q->nactive++;

	/* Route first, then record what was decided here in one write. */
	local = qmgr_xcalloc(env.nrcpt, 1);
	ao = qmgr_xcalloc(env.nrcpt, sizeof(*ao));
#define OUTCOME(i) (local[i] == LOCAL_ALIAS ? &ao[i].o : \
	    &local_outcome[local[i]])
	for (i = 0; i < env.nrcpt; i++) {
		if (st[i].status == 'K' || st[i].status == 'D') {
			m->status[i] = st[i].status;	/* an earlier pass */
			continue;
		}
		m->pending++;
		local[i] = (unsigned char)msg_route(q, m, i, env.rcpt[i],
		    &ao[i]);
		if (local[i] != LOCAL_NONE &&
		    qstate_put(&batch, i, OUTCOME(i)->status,
		    OUTCOME(i)->code, OUTCOME(i)->text) == -1)
			fatal("%s: state record too large", id);
	}
	if (batch.len > 0 && qstate_append(id, &batch) == -1) {
		/* Not recorded, not promised: this pass counts them as Z,
		 * the next pass decides again. */
		log_warn_errno("%s: cannot record outcomes in %s/%s, "
		    "retrying later", id, SPOOL_STATE, id);
		for (i = 0; i < env.nrcpt; i++)
			if (local[i] != LOCAL_NONE)
				local[i] = LOCAL_UNRECORDED;
	}
	for (i = 0; i < env.nrcpt; i++) {
		if (local[i] == LOCAL_NONE)
			continue;
		m->status[i] = OUTCOME(i)->status;
		m->pending--;
		msg_log(m, env.rcpt[i], OUTCOME(i)->relay, m->status[i],
		    OUTCOME(i)->code, OUTCOME(i)->text, NULL);
	}
#undef OUTCOME
	if (m->pending == 0)
		msg_done(q, m);
	goto out;

ioerr:
	/* Leave the file alone for a while: a full disk or a flaky device
	 * is not helped by trying again at once. */
	qmgr_retry_defer(q, id,
	    time(NULL) + q->conf.queue_retry_min_seconds);
out:
	if (ao != NULL)
		for (i = 0; i < env.nrcpt; i++)
			free(ao[i].text);
	free(ao);
	free(local);
	free(st);
	qenv_free(&env);
	buf_free(&err);
	buf_free(&batch);
}

void
qmgr_msg_outcome(struct qmgr *q, struct qjob *j, char status,
    const char *code, const char *text)
{
	struct qresult	 r;

	r.job = j;
	r.status = status;
	r.code = code;
	r.text = text;
	r.mta = "";
	r.relay = "local";
	qmgr_msg_outcomes(q, &r, 1);
}

/* 1 when outcomes r[0..n) finish the message and no recipient of this
 * pass has anything but K: no report, no retry, only the removal left. */
static int
msg_all_delivered(const struct qmsg *m, const struct qresult *r,
    const unsigned char *final, size_t n)
{
	size_t	 i;

	if (m->pending != n || m->notify_success)
		return 0;
	for (i = 0; i < n; i++)
		if (!final[i] || r[i].status != 'K')
			return 0;
	for (i = 0; i < m->nrcpt; i++)
		if (m->status[i] != 0 && m->status[i] != 'K')
			return 0;
	return 1;
}

void
qmgr_msg_outcomes(struct qmgr *q, struct qresult *r, size_t n)
{
	struct qmsg	*m = r[0].job->msg;
	struct buf	 rec = BUF_INIT;
	unsigned char	*final;
	const char	*text;
	size_t		 i;
	int		 failed = 0;

	final = qmgr_xcalloc(n, 1);
	for (i = 0; i < n; i++) {
		if (r[i].job->msg != m)
			panic("%s: outcomes of two messages in one batch",
			    m->id);
		/* One target of an alias: the recipient's outcome waits
		 * for the others (qmgr_alias.c folds them into one). */
		text = r[i].text;
		if (r[i].job->group != NULL &&
		    qmgr_alias_job_done(r[i].job, &r[i].status, &r[i].code,
		    &r[i].text) == 0)
			continue;
		/* A folded outcome is another target's: not this server's. */
		if (r[i].text != text)
			r[i].mta = "";
		final[i] = 1;
		if (m->status[r[i].job->index] != 0)
			panic("%s: recipient %zu has two outcomes in one pass",
			    m->id, r[i].job->index);
		if (qstate_put_remote(&rec, r[i].job->index, r[i].status,
		    r[i].code, r[i].text, r[i].mta) == -1)
			failed = 1;
	}
	/*
	 * The last outcomes of the message, every one a delivery nobody asked
	 * to hear of: removing the queue file (synced) records them all, so
	 * they are not written to the state file first (one fsync instead of
	 * three; bench/README.md, optimisation 5). A crash before the removal
	 * is on disk delivers them again, as a crash before the record's
	 * fsync would; so they are logged only once it is (qmgr_msg_sync()).
	 * An operator's request is carried out first.
	 */
	if (msg_all_delivered(m, r, final, n) && !failed &&
	    (qmgr_control_done(m->id, 0) != 0 || msg_remove(q, m) == 0))
		m->removed = 1;
	/* One write, one fsync: the outcomes of one attempt together. */
	else if (rec.len > 0 && (failed ||
	    qstate_append(m->id, &rec) == -1)) {
		log_warn_errno("%s: cannot record %zu outcome(s), will "
		    "deliver again", m->id, n);
		for (i = 0; i < n; i++) {
			r[i].status = 'Z';
			r[i].code = UNRECORDED_CODE;
			r[i].text = UNRECORDED_TEXT;
		}
	}
	buf_free(&rec);
	for (i = 0; i < n; i++) {
		if (!final[i])
			continue;	/* its group freed it */
		msg_log(m, r[i].job->rcpt, r[i].relay, r[i].status,
		    r[i].code, r[i].text, m->removed ? &q->unsynced.log : NULL);
		m->status[r[i].job->index] = r[i].status;
		m->pending--;
		qmgr_job_free(r[i].job);
	}
	free(final);
	if (m->pending == 0)
		msg_done(q, m);
}

/*
 * Every recipient has an outcome in this pass. Removal order: queue file
 * first, state file second; a crash in between leaves an orphan state file,
 * which qmgr_recover() removes, never a queue file without its state.
 * The order must hold on disk too, so active/ is fsync'd between the two:
 * otherwise a power loss can keep the state file's removal and lose the
 * queue file's, and the message comes back with no outcome recorded.
 */
static void
msg_done(struct qmgr *q, struct qmsg *m)
{
	size_t	 i;
	time_t	 now, when, mark;
	int	 unreported;

	if (m->removed) {	/* by qmgr_msg_outcomes() already */
		msg_free(q, m);
		return;
	}
	/* Expiry and reports (qmgr_bounce.c) before the message may leave:
	 * a report not yet queued keeps the message here. Only a pass that
	 * can call for one pays for reading the files again. */
	unreported = msg_may_report(q, m) && qmgr_bounce_pass(q, m) == -1;
	for (i = 0; i < m->nrcpt; i++)
		if (m->status[i] == 'Z')
			break;
	/* Outcomes are recorded: now an operator's hold or delete of this
	 * message (qmgr_control.c) can be carried out without a race. */
	if (qmgr_control_done(m->id, i < m->nrcpt || unreported)) {
		/* held or removed there */
	} else if (unreported) {
		qmgr_retry_defer(q, m->id,
		    time(NULL) + q->conf.queue_retry_min_seconds);
	} else if (i < m->nrcpt) {
		now = time(NULL);
		when = now + qmgr_retry_delay(&q->conf, now, m->arrival);
		/* Never sleep past the expiry or the delay warning: both are
		 * decided at the end of a pass. */
		mark = (time_t)(m->arrival + q->conf.queue_lifetime_seconds);
		if (mark < when)
			when = mark > now ? mark : now + 1;
		mark = (time_t)(m->arrival + q->conf.delay_warning_seconds);
		if (q->conf.delay_warning_seconds > 0 && mark > now &&
		    mark < when)
			when = mark;
		qmgr_retry_defer(q, m->id, when);
	} else
		(void)msg_remove(q, m);
	msg_free(q, m);
}

/*
 * Every recipient has its final outcome. Removal order: queue file first,
 * state file second; a crash in between leaves an orphan state file,
 * which qmgr_recover() removes, never a queue file without its state.
 * The order must hold on disk too, so active/ is fsync'd between the two:
 * otherwise a power loss can keep the state file's removal and lose the
 * queue file's, and the message comes back with no outcome recorded.
 * That fsync is qmgr_msg_sync()'s, one for every removal of a turn of
 * qmgr's loop (group commit): until then the message may come back
 * after a power loss, with its state file, so nothing that says it is
 * done is logged before. 0 once the queue file is unlinked; -1 (logged)
 * when it could not be.
 */
static int
msg_remove(struct qmgr *q, struct qmsg *m)
{
	struct qunsynced *u = &q->unsynced;
	char		 path[PATH_MAX];

	if (spool_path(path, sizeof(path), SPOOL_ACTIVE, m->id) == -1)
		return -1;
	if (unlink(path) == -1) {
		log_warn_errno("%s: unlink %s", m->id, path);
		return -1;
	}
	if (u->n == QMGR_UNSYNCED_MAX)
		qmgr_msg_sync(q);
	strlcpy(u->id[u->n++], m->id, sizeof(u->id[0]));
	return 0;
}

void
qmgr_msg_sync(struct qmgr *q)
{
	struct qunsynced *u = &q->unsynced;
	char		 path[PATH_MAX];
	size_t		 i, off;
	int		 synced;

	if (u->n == 0 && u->log.len == 0)
		return;
	/* Not synced: keep the state files, orphans that the next start
	 * removes. The lines are still true of the deliveries. */
	synced = u->n == 0 || spool_fsync_dir(SPOOL_ACTIVE) == 0;
	if (!synced)
		log_warn_errno("fsync %s (%zu removal(s))", SPOOL_ACTIVE,
		    u->n);
	for (off = 0; off < u->log.len; off += strlen(u->log.data + off) + 1)
		log_info("%s", u->log.data + off);
	buf_reset(&u->log);
	for (i = 0; i < u->n; i++) {
		if (synced && spool_path(path, sizeof(path), SPOOL_STATE,
		    u->id[i]) == 0 && unlink(path) == -1 && errno != ENOENT)
			log_warn_errno("%s: unlink %s", u->id[i], path);
		log_info("%s: removed", u->id[i]);
	}
	u->n = 0;
}

/* 1 when this pass's outcomes may call for a report or an expiry: a
 * failure, a success someone asked to hear of, or a deferral of a
 * message old enough to warn about or to expire. */
static int
msg_may_report(const struct qmgr *q, const struct qmsg *m)
{
	long long	 age = (long long)time(NULL) - m->arrival;
	size_t		 i;

	for (i = 0; i < m->nrcpt; i++) {
		if (m->status[i] == 'D' ||
		    (m->status[i] == 'K' && m->notify_success))
			return 1;
		if (m->status[i] == 'Z' &&
		    (age >= q->conf.queue_lifetime_seconds ||
		    (q->conf.delay_warning_seconds > 0 &&
		    age >= q->conf.delay_warning_seconds)))
			return 1;
	}
	return 0;
}

static void
msg_free(struct qmgr *q, struct qmsg *m)
{
	if (m->prev != NULL)
		m->prev->next = m->next;
	else
		q->msgs = m->next;
	if (m->next != NULL)
		m->next->prev = m->prev;
	q->nactive--;
	free(m->sender);
	free(m->status);
	free(m);
}
