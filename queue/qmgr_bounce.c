/*
 * qmgr_bounce.c: delivery status notifications (RFC 3461, RFC 3464), made
 * by qmgr when a message's pass ends (qmgr_msg.c msg_done()).
 *
 * qmgr_bounce_pass() looks at every recipient's outcome in state/ID:
 *   - a message older than queue_lifetime_seconds has its deferred
 *     recipients fail for good, 4.4.7 "delivery time expired" (RFC 3463),
 *     recorded in state/ID like any outcome;
 *   - a recipient failed (D) -> "failed", unless its NOTIFY (RFC 3461 4.1)
 *     said NEVER or left FAILURE out; no NOTIFY means FAILURE;
 *   - delivered (K) with NOTIFY=SUCCESS -> "delivered" (RFC 3461 4.1: an
 *     MTA that delivers locally reports "delivered");
 *   - still deferred (Z), delay_warning_seconds on, the message older than
 *     that, NOTIFY absent or with DELAY, and no warning sent yet for this
 *     message -> "delayed" (once per message).
 * Those recipients go into one report (common/dsn.c) for the message,
 * queued through DESIGN.md's commit protocol (tmp/, fsync, rename into
 * new/, fsync new/) with the null sender (RFC 5321 4.5.5) and the original
 * sender as its only recipient. Only after that commit are the 'N' records
 * (qstate.h) appended that say "reported": a crash before them makes the
 * report again (at-least-once), never loses it.
 *
 * The null sender is never reported to (RFC 3464 2, RFC 5321 4.5.5): a
 * client's null-sender message that fails is dropped with a log line. One
 * of our own reports (queue file 'N' 1) that fails goes once to
 * postmaster as a double bounce ('N' 2); that one failing is dropped with
 * a log line.
 *
 * Returns 0 when the message may go on (removed or deferred as its
 * statuses say), -1 when a report could not be queued: the caller defers
 * the message and the next pass tries again.
 */
#include <sys/stat.h>
#include <sys/time.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "buf.h"
#include "dsn.h"
#include "log.h"
#include "qfile.h"
#include "qstate.h"
#include "spool.h"
#include "qmgr.h"

/* With no RET= (RFC 3461 4.3 leaves it to us) the whole original comes
 * back when it is at most this big, else its headers (Postfix's
 * bounce_size_limit is the same 50000). */
#define BOUNCE_FULL_MAX	50000
/* RFC 5321 4.5.1: every domain has a postmaster; the bare name is ours. */
#define BOUNCE_POSTMASTER "postmaster"
#define EXPIRED_CODE	"4.4.7"

static int	 notify_has(const char *notify, const char *word);
static int	 bounce_commit(struct qmgr *, const struct qenv *orig,
		    const char *to, int notice, const struct dsn_rcpt *,
		    size_t n, int fd, long long now, char *newid,
		    size_t newidsz);

/* RFC 3461 4.1: NOTIFY is NEVER or a list; "" (absent) means FAILURE,
 * and DELAY at the MTA's choice: ours, when warnings are on. */
static int
notify_has(const char *notify, const char *word)
{
	size_t	 n = strlen(word);
	const char *p;

	if (notify[0] == '\0')
		return strcmp(word, "FAILURE") == 0 ||
		    strcmp(word, "DELAY") == 0;
	for (p = notify; (p = strstr(p, word)) != NULL; p += n)
		if ((p == notify || p[-1] == ',') &&
		    (p[n] == '\0' || p[n] == ','))
			return 1;
	return 0;
}

/*
 * Write and commit the report. fd is the original queue file (read for
 * its message). 0 with newid set, or -1 (logged) with nothing left in
 * tmp/ or new/.
 */
static int
bounce_commit(struct qmgr *q, const struct qenv *orig, const char *to,
    int notice, const struct dsn_rcpt *rc, size_t n, int fd, long long now,
    char *newid, size_t newidsz)
{
	char		 tmp[PATH_MAX], path[PATH_MAX];
	struct qenv	 env;
	struct qfile_writer w;
	struct dsn_report r;
	struct buf	 text, msg;
	struct timeval	 tv;
	struct stat	 st;
	size_t		 want, got;
	ssize_t		 k;
	int		 tfd = -1, begun = 0, e, i;

	qenv_init(&env);
	buf_init(&text, 0);
	buf_init(&msg, 0);
	tmp[0] = '\0';

	/* The original's message: whole or its headers (RET=, 4.3). */
	memset(&r, 0, sizeof(r));
	r.full = strcmp(orig->ret, "FULL") == 0 ||
	    (orig->ret[0] == '\0' && orig->msg_len <= BOUNCE_FULL_MAX);
	want = (size_t)orig->msg_len;
	if (!r.full && want > 256 * 1024)
		want = 256 * 1024;	/* headers are within this, or cut */
	if (buf_reserve(&msg, want) == -1)
		goto fail;
	for (got = 0; got < want; got += (size_t)k) {
		k = pread(fd, msg.data + got, want - got,
		    orig->msg_off + (off_t)got);
		if (k == -1 && errno == EINTR) {
			k = 0;
			continue;
		}
		if (k <= 0) {
			if (k == 0)
				errno = EIO;
			goto fail;
		}
	}
	msg.len = got;

	if (gettimeofday(&tv, NULL) == -1)
		goto fail;
	if (snprintf(tmp, sizeof(tmp), "%s/%lld.%06ld.%ld.%08x", SPOOL_TMP,
	    (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(),
	    arc4random()) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		tmp[0] = '\0';
		goto fail;
	}
	if ((tfd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC,
	    0600)) == -1) {
		tmp[0] = '\0';
		goto fail;
	}
	if (fstat(tfd, &st) == -1 ||
	    spool_id_make(env.id, sizeof(env.id), &tv, st.st_ino) == -1)
		goto fail;
	env.arrival = (long long)tv.tv_sec;
	strlcpy(env.helo, q->conf.hostname, sizeof(env.helo));
	strlcpy(env.proto, "LOCAL", sizeof(env.proto));
	env.sender[0] = '\0';		/* RFC 5321 4.5.5, RFC 3464 2 */
	strlcpy(env.body, r.full ? orig->body : "7BIT", sizeof(env.body));
	env.smtputf8 = orig->smtputf8;
	env.notice = notice;
	if (qenv_add_rcpt(&env, to) == -1)
		goto fail;

	r.id = env.id;
	r.orig_id = orig->id;
	r.hostname = q->conf.hostname;
	r.to = to;
	r.envid = orig->envid;
	r.arrival = orig->arrival;
	r.now = now;
	r.retry_until = orig->arrival + q->conf.queue_lifetime_seconds;
	r.eightbit = strcmp(orig->body, "8BITMIME") == 0;
	r.orig = msg.data != NULL ? msg.data : "";
	r.orig_len = msg.len;
	if (dsn_format(&text, &r, rc, n) == -1)
		goto fail;

	begun = 1;
	if (qfile_begin(&w, tfd, &env) == -1 ||
	    qfile_body(&w, text.data, text.len) == -1 ||
	    qfile_finish(&w) == -1 || fsync(tfd) == -1)
		goto fail;
	i = tfd;
	tfd = -1;
	if (close(i) == -1)
		goto fail;
	if (spool_path(path, sizeof(path), SPOOL_NEW, env.id) == -1 ||
	    rename(tmp, path) == -1)
		goto fail;
	tmp[0] = '\0';
	/* DESIGN.md: the rename is not durable until new/ is fsync'd. */
	if (spool_fsync_dir(SPOOL_NEW) == -1) {
		e = errno;
		if (unlink(path) == -1)
			log_warn_errno("%s: cannot withdraw %s", orig->id, path);
		errno = e;
		goto fail;
	}
	strlcpy(newid, env.id, newidsz);
	qfile_writer_free(&w);
	qenv_free(&env);
	buf_free(&text);
	buf_free(&msg);
	spool_trigger();	/* our own FIFO: the next loop scans new/ */
	return 0;
fail:
	e = errno;
	log_warn_errno("%s: cannot queue the delivery status notification",
	    orig->id);
	if (tfd != -1)
		close(tfd);
	if (tmp[0] != '\0')
		(void)unlink(tmp);
	if (begun)
		qfile_writer_free(&w);
	qenv_free(&env);
	buf_free(&text);
	buf_free(&msg);
	errno = e;
	return -1;
}

int
qmgr_bounce_pass(struct qmgr *q, struct qmsg *m)
{
	char		 path[PATH_MAX], newid[SPOOL_ID_MAX + 1];
	char		 exptext[QSTATE_TEXT_MAX];
	struct qenv	 env;
	struct qstate_rcpt *st = NULL;
	struct dsn_rcpt	*rc = NULL;
	struct buf	 err = BUF_INIT, rec = BUF_INIT;
	unsigned char	*mark = NULL;
	const char	*to, *notify;
	long long	 now = (long long)time(NULL), age;
	size_t		 i, n = 0;
	int		 fd = -1, rv = -1, warned = 0, notice, rr;
	char		 kind;

	qenv_init(&env);
	age = now - m->arrival;
	if (spool_path(path, sizeof(path), SPOOL_ACTIVE, m->id) == -1 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn_errno("%s: open %s", m->id, path);
		goto out;
	}
	if ((rr = qfile_read(fd, &env, &err)) != QFILE_OK ||
	    env.nrcpt != m->nrcpt) {
		log_warn("%s: cannot read the queue file again for its "
		    "reports%s%s", m->id, rr == QFILE_CORRUPT ? ": " : "",
		    rr == QFILE_CORRUPT ? buf_str(&err) : "");
		goto out;
	}

	/* Expiry first: its failures are reported in this same pass. */
	if (age >= q->conf.queue_lifetime_seconds) {
		for (i = 0; i < m->nrcpt; i++)
			if (m->status[i] == 'Z' && qstate_put(&rec, i, 'D',
			    EXPIRED_CODE, "delivery time expired") == -1)
				fatal("%s: state record too large", m->id);
		if (rec.len > 0) {
			if (qstate_append(m->id, &rec) == -1) {
				log_warn_errno("%s: cannot record expiry",
				    m->id);
				goto out;
			}
			for (i = 0; i < m->nrcpt; i++)
				if (m->status[i] == 'Z') {
					m->status[i] = 'D';
					log_info("%s: to=<%s>, relay=none, "
					    "delay=%lld, status=expired "
					    "(%s delivery time expired)",
					    m->id, env.rcpt[i], age,
					    EXPIRED_CODE);
				}
			buf_reset(&rec);
		}
	}

	st = qmgr_xcalloc(m->nrcpt, sizeof(*st));
	if (qstate_read(m->id, st, m->nrcpt) == -1) {
		log_warn_errno("%s: read %s/%s", m->id, SPOOL_STATE, m->id);
		goto out;
	}
	for (i = 0; i < m->nrcpt; i++)
		if (st[i].notified & QSTATE_N_DELAY)
			warned = 1;

	/* Which recipients this report names, and how. */
	mark = qmgr_xcalloc(m->nrcpt, 1);
	rc = qmgr_xcalloc(m->nrcpt, sizeof(*rc));
	for (i = 0; i < m->nrcpt; i++) {
		notify = env.dsn != NULL ? env.dsn[i].notify : "";
		kind = 0;
		if (m->status[i] == 'D' && !(st[i].notified & QSTATE_N_FAIL))
			kind = notify_has(notify, "FAILURE") ? DSN_FAILED : 'F';
		else if (m->status[i] == 'K' &&
		    !(st[i].notified & QSTATE_N_SUCCESS) &&
		    notify_has(notify, "SUCCESS") && notify[0] != '\0')
			kind = DSN_DELIVERED;
		else if (m->status[i] == 'Z' && !warned &&
		    q->conf.delay_warning_seconds > 0 &&
		    age >= q->conf.delay_warning_seconds &&
		    notify_has(notify, "DELAY"))
			kind = DSN_DELAYED;
		if (kind == 0)
			continue;
		/* 'F': NOTIFY without FAILURE; marked, never reported. */
		mark[i] = (unsigned char)kind;
		if (kind == 'F')
			continue;
		rc[n].final = env.rcpt[i];
		rc[n].orcpt = env.dsn != NULL ? env.dsn[i].orcpt : "";
		rc[n].action = kind;
		if (kind == DSN_DELIVERED) {
			rc[n].code = "2.0.0";
			rc[n].text = st[i].status == 'K' ? st[i].text :
			    "delivered";
		} else if (st[i].status == m->status[i]) {
			rc[n].code = st[i].code;
			rc[n].text = st[i].text;
			rc[n].mta = st[i].mta;
		} else {
			/* not recorded this pass (a full disk) */
			rc[n].code = kind == DSN_FAILED ? "5.0.0" : "4.0.0";
			rc[n].text = "";
		}
		if (strcmp(rc[n].code, EXPIRED_CODE) == 0 &&
		    kind == DSN_FAILED) {
			strlcpy(exptext, "delivery time expired",
			    sizeof(exptext));
			rc[n].text = exptext;
		}
		n++;
	}

	if (n > 0) {
		/* Delays and successes are never worth a report to the null
		 * sender; failures only for our own first reports. */
		if (env.sender[0] != '\0') {
			to = env.sender;
			notice = QFILE_NOTICE_BOUNCE;
		} else if (env.notice == QFILE_NOTICE_BOUNCE) {
			to = BOUNCE_POSTMASTER;
			notice = QFILE_NOTICE_DOUBLE;
			for (i = 0; i < n; i++)
				if (rc[i].action != DSN_FAILED)
					rc[i--] = rc[--n];
		} else {
			to = NULL;
			notice = 0;
		}
		if (to == NULL || n == 0) {
			for (i = 0; i < m->nrcpt; i++)
				if (mark[i] == DSN_FAILED)
					break;
			if (i < m->nrcpt)
				log_info("%s: undeliverable %sbounce dropped",
				    m->id, env.notice == QFILE_NOTICE_DOUBLE ?
				    "double " : "");
		} else {
			if (bounce_commit(q, &env, to, notice, rc, n, fd, now,
			    newid, sizeof(newid)) == -1)
				goto out;
			log_info("%s: sender %s notification: %s",
			    m->id, n > 0 && rc[0].action == DSN_DELIVERED ?
			    "delivery" : rc[0].action == DSN_DELAYED ?
			    "delay" : "non-delivery", newid);
		}
	}

	/* Reported (or decided not to be): say so, after the commit. */
	for (i = 0; i < m->nrcpt; i++)
		if (mark[i] != 0 && qstate_put_notice(&rec, i,
		    mark[i] == DSN_DELIVERED ? 'S' : mark[i] == DSN_DELAYED ?
		    'W' : 'F') == -1)
			fatal("%s: state record too large", m->id);
	if (rec.len > 0 && qstate_append(m->id, &rec) == -1)
		/* The report is queued; at worst it is made again. */
		log_warn_errno("%s: cannot record that a report was sent",
		    m->id);
	rv = 0;
out:
	if (fd != -1)
		close(fd);
	free(mark);
	free(rc);
	free(st);
	qenv_free(&env);
	buf_free(&err);
	buf_free(&rec);
	return rv;
}
