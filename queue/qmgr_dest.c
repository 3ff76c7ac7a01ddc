/*
 * qmgr_dest.c: where remote recipients go, and qmgr's side of the resolve
 * protocol (docs/protocols.md, "qmgr -> resolve").
 *
 * A remote job (kind 'r') joins the destination of its domain: the routes
 * table's entry (common/route.c: the domain, ".parent", "*") or the domain's
 * own MX, with the tls_policy table's level (or smtp_tls_security_level).
 * One destination is asked of resolve once for all the jobs waiting on it,
 * and its answer serves one transaction (qmgr_remote.c): resolve caches for
 * the TTL itself, so asking again costs a pipe round trip, not DNS, and
 * each answer comes with equal preferences shuffled anew, which spreads
 * transactions over equal MX hosts (RFC 5321 5.1).
 *
 * Nothing is decided while a job is added: qmgr_remote_add() runs inside a
 * message's routing, where an outcome could finish the message under its
 * caller's feet. A route that cannot be used, and resolve's Z or D, mark the
 * destination failed; qmgr_dest_pump() then gives every job waiting there
 * that outcome, one write per message.
 *
 * When the resolve socket fails every query is asked again on the socket
 * master hands over next: a query has no effect but its answer.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bsd/string.h>

#include "buf.h"
#include "frame.h"
#include "io.h"
#include "log.h"
#include "route.h"
#include "qmgr.h"

#define RESOLVE_WRITE_TIMEOUT_MS 30000
#define RESOLVE_IN_MAX		(2 * (FRAME_MAX + FRAME_HDR))

static void	 dest_fail(struct qdest *, char status, const char *code,
		    const char *text);
static void	 dest_query(struct qmgr *, struct qdest *);
static void	 dest_drain_failed(struct qmgr *, struct qdest *);
static void	 resolve_lost(struct qmgr *, const char *why);
static int	 answer_handle(struct qmgr *, const struct buf *);

void
qmgr_dest_init(struct qmgr *q)
{
	table_init(&q->routes, &q->conf, "routes");
	table_init(&q->tls_policy, &q->conf, "tls_policy");
	q->resolve_fd = -1;
	q->rspawn_fd = -1;
}

static void
dest_fail(struct qdest *d, char status, const char *code, const char *text)
{
	d->fstatus = status;
	strlcpy(d->fcode, code, sizeof(d->fcode));
	free(d->ftext);
	d->ftext = qmgr_xstrdup(text);
}

/* The destination a job's domain routes to, found or made. A route or
 * table that cannot be used gives a destination of its own, failed. */
static struct qdest *
dest_for(struct qmgr *q, const char *domain)
{
	struct buf	 v = BUF_INIT;
	struct route	 r;
	struct qdest	*d;
	const char	*why = NULL;
	char		 tls[8];
	char		 fstatus = 0, ftext[512] = "";
	int		 rc;

	route_default(domain, &r);
	if ((rc = route_lookup(&q->routes, domain, &v)) == -1) {
		fstatus = 'Z';
		snprintf(ftext, sizeof(ftext), "cannot read the routes table "
		    "(%s)", strerror(errno));
	} else if (rc == 1 && route_parse(buf_str(&v), &r, &why) == -1) {
		/* makemap checks values; a table built otherwise */
		fstatus = 'Z';
		snprintf(ftext, sizeof(ftext), "routes entry for %s: %s",
		    domain, why);
		route_default(domain, &r);
	}
	strlcpy(tls, q->conf.smtp_tls_security_level, sizeof(tls));
	if ((rc = route_lookup(&q->tls_policy, domain, &v)) == -1) {
		fstatus = 'Z';
		snprintf(ftext, sizeof(ftext), "cannot read the tls_policy "
		    "table (%s)", strerror(errno));
	} else if (rc == 1) {
		if (tls_policy_check("*", buf_str(&v), &why) == -1) {
			fstatus = 'Z';
			snprintf(ftext, sizeof(ftext), "tls_policy entry for "
			    "%s: %s", domain, why);
		} else
			strlcpy(tls, buf_str(&v), sizeof(tls));
	}
	buf_free(&v);

	if (fstatus == 0)
		for (d = q->dests; d != NULL; d = d->next)
			if (d->fstatus == 0 && d->mode == r.mode &&
			    d->port == r.port && strcmp(d->tls, tls) == 0 &&
			    strcasecmp(d->name, r.name) == 0)
				return d;
	d = qmgr_xcalloc(1, sizeof(*d));
	d->mode = r.mode;
	strlcpy(d->name, r.name, sizeof(d->name));
	d->port = r.port;
	strlcpy(d->tls, tls, sizeof(d->tls));
	if (fstatus != 0) {
		log_warn("%s", ftext);
		dest_fail(d, fstatus, "4.3.5", ftext);
	}
	d->next = q->dests;
	q->dests = d;
	return d;
}

void
qmgr_remote_add(struct qmgr *q, struct qjob *j)
{
	struct qdest	*d;
	const char	*at;

	at = strrchr(j->target, '@');
	d = dest_for(q, at != NULL ? at + 1 : "");
	j->next = NULL;
	if (d->jobs.tail != NULL)
		d->jobs.tail->next = j;
	else
		d->jobs.head = j;
	d->jobs.tail = j;
	d->jobs.n++;
}

/* The destination is no longer needed: no jobs, nothing outstanding. */
void
qmgr_dest_release(struct qmgr *q, struct qdest *d)
{
	struct qdest	**pp;

	if (d->jobs.n > 0 || d->active > 0 || d->qid != 0)
		return;
	for (pp = &q->dests; *pp != NULL; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	free(d->hosts);
	free(d->ftext);
	free(d);
}

static void
dest_query(struct qmgr *q, struct qdest *d)
{
	char	 qid[24], mode[2] = { d->mode, '\0' }, port[8];

	d->qid = ++q->reqid;
	snprintf(qid, sizeof(qid), "%llu", (unsigned long long)d->qid);
	snprintf(port, sizeof(port), "%d", d->port);
	if (frame_send_fields(&q->resolve, 'Q', qid, mode, d->name, port,
	    (char *)NULL) == -1) {
		/* Bounded fields: cannot happen. */
		d->qid = 0;
		dest_fail(d, 'Z', "4.3.0", "cannot frame the DNS query");
	}
}

/* Every job waiting on a failed destination gets its outcome, one write
 * per message (jobs of one message are next to each other, mostly). */
static void
dest_drain_failed(struct qmgr *q, struct qdest *d)
{
	struct qresult	*r;
	struct qjob	*j;
	size_t		 n = 0, cap;

	cap = d->jobs.n;
	r = qmgr_xcalloc(cap, sizeof(*r));
	while ((j = d->jobs.head) != NULL) {
		d->jobs.head = j->next;
		if (d->jobs.head == NULL)
			d->jobs.tail = NULL;
		d->jobs.n--;
		j->next = NULL;
		if (n > 0 && r[n - 1].job->msg != j->msg) {
			qmgr_msg_outcomes(q, r, n);
			n = 0;
		}
		r[n].job = j;
		r[n].status = d->fstatus;
		r[n].code = d->fcode;
		r[n].text = d->ftext;
		r[n].mta = "";
		r[n].relay = "none";
		n++;
	}
	if (n > 0)
		qmgr_msg_outcomes(q, r, n);
	free(r);
}

/* Ask, send and fail what can be now. A failed destination is drained
 * (which may finish messages); the list is walked again after it because
 * finishing a message can add jobs (its report) to any destination. */
void
qmgr_dest_pump(struct qmgr *q)
{
	struct qdest	*d, *next;
	int		 again, queried = 0;

	do {
		again = 0;
		for (d = q->dests; d != NULL; d = next) {
			next = d->next;
			if (d->fstatus != 0 && d->jobs.n > 0) {
				dest_drain_failed(q, d);
				again = 1;
				break;
			}
			/* Send first: a transaction spends its answer, and
			 * the jobs left ask at once for the next one. */
			if (d->hosts != NULL && d->jobs.n > 0)
				qmgr_remote_send(q, d);
			if (d->fstatus == 0 && d->jobs.n > 0 &&
			    d->hosts == NULL && d->qid == 0 &&
			    q->resolve_fd != -1) {
				dest_query(q, d);
				queried = 1;
			}
			qmgr_dest_release(q, d);
		}
	} while (again);
	if (queried && io_flush(&q->resolve) == -1)
		resolve_lost(q, strerror(errno));
}

static void
resolve_lost(struct qmgr *q, const char *why)
{
	struct qdest	*d;
	size_t		 n = 0;

	if (q->resolve_fd == -1)
		return;
	for (d = q->dests; d != NULL; d = d->next)
		if (d->qid != 0) {
			d->qid = 0;
			n++;
		}
	log_warn("resolve connection lost (%s); %zu quer%s will be asked "
	    "again when master reconnects it", why, n, n == 1 ? "y" : "ies");
	close(q->resolve_fd);
	io_free(&q->resolve);
	q->resolve_fd = -1;
}

void
qmgr_resolve_attach(struct qmgr *q, int fd)
{
	struct qdest	*d;

	if (q->resolve_fd != -1) {
		close(q->resolve_fd);
		io_free(&q->resolve);
	}
	for (d = q->dests; d != NULL; d = d->next)
		d->qid = 0;		/* asked again by the next pump */
	q->resolve_fd = fd;
	io_init(&q->resolve, fd, RESOLVE_WRITE_TIMEOUT_MS, RESOLVE_IN_MAX);
}

/* A host list as the protocol says: lines "PREF HOST ADDR PORT" of
 * printable ASCII, at most FRAME_MAX. 1 good, 0 not. */
static int
hosts_valid(const char *h)
{
	const char	*p;
	int		 blanks = 0;

	if (*h == '\0')
		return 0;
	for (p = h; *p != '\0'; p++) {
		if (*p == '\n') {
			if (blanks != 3 || p[1] == '\0')
				return 0;
			blanks = 0;
		} else if (*p == ' ')
			blanks++;
		else if (!isgraph((unsigned char)*p))
			return 0;
	}
	return blanks == 3;
}

/* One 'A': query id, status, code, text, hosts. 0, or -1 protocol error. */
static int
answer_handle(struct qmgr *q, const struct buf *payload)
{
	const char	*f[5];
	struct qdest	*d;
	unsigned long long qid;
	char		*end;

	if (frame_fields(payload, f, 5) == -1) {
		log_warn("resolve: 'A' record without exactly 5 fields");
		return -1;
	}
	errno = 0;
	qid = strtoull(f[0], &end, 10);
	if (!isdigit((unsigned char)f[0][0]) || *end != '\0' || errno != 0 ||
	    strlen(f[1]) != 1 || strchr("KZD", f[1][0]) == NULL) {
		log_warn("resolve: bad query id or status in 'A' record");
		return -1;
	}
	for (d = q->dests; d != NULL; d = d->next)
		if (d->qid == qid)
			break;
	if (d == NULL) {
		log_warn("resolve: answer to unknown query %llu, ignored", qid);
		return 0;
	}
	d->qid = 0;
	if (f[1][0] == 'K') {
		if (!hosts_valid(f[4])) {
			log_warn("resolve: malformed host list for %s",
			    d->name);
			dest_fail(d, 'Z', "4.4.3", "malformed answer from "
			    "resolve");
			return 0;
		}
		free(d->hosts);
		d->hosts = qmgr_xstrdup(f[4]);
		d->resolved = time(NULL);
		return 0;
	}
	if ((f[1][0] == 'Z' && f[2][0] != '4') ||
	    (f[1][0] == 'D' && f[2][0] != '5') || strlen(f[2]) > 15)
		dest_fail(d, f[1][0], f[1][0] == 'Z' ? "4.4.3" : "5.4.4",
		    f[3]);
	else
		dest_fail(d, f[1][0], f[2], f[3]);
	return 0;
}

void
qmgr_resolve_read(struct qmgr *q)
{
	struct buf	 payload = BUF_INIT;
	const char	*p;
	size_t		 plen, used;
	ssize_t		 n;
	int		 type, rc;

	if ((n = io_fill(&q->resolve)) == -1) {
		resolve_lost(q, strerror(errno));
		return;
	}
	for (;;) {
		rc = q->resolve.in.len < FRAME_HDR ? 0 :
		    frame_parse(q->resolve.in.data, q->resolve.in.len, &type,
		    &p, &plen, &used);
		if (rc == 0 && q->resolve.in.len >= FRAME_HDR &&
		    q->resolve.in.len >= RESOLVE_IN_MAX / 2)
			rc = -1;	/* a record longer than FRAME_MAX */
		if (rc == 0) {
			if (n == 0)
				resolve_lost(q, "EOF");
			break;
		}
		if (rc == -1 || type != 'A') {
			resolve_lost(q, "bad record");
			break;
		}
		if (buf_set(&payload, p, plen) == -1)
			fatal("out of memory");
		buf_consume(&q->resolve.in, used);
		if (answer_handle(q, &payload) == -1) {
			resolve_lost(q, "bad 'A' record");
			break;
		}
	}
	buf_free(&payload);
}
