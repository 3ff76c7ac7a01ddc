/*
 * remote_job.c: the 'T' request of qmgr (docs/protocols.md, "qmgr ->
 * rspawn"), parsed and checked to the last byte.
 *
 * Called by rspawn.c for every request from qmgr (a bad one is answered
 * Z 4.3.0 per recipient, or logged and dropped when not even the
 * recipients can be read), and by remote_child.c for the same request
 * written again by rspawn. Nothing from a request reaches the network
 * unchecked: an address with a control byte, a blank, '<' or '>' could
 * otherwise become a second SMTP command (remote_session.c writes them
 * between angle brackets).
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "addr.h"
#include "buf.h"
#include "remote.h"
#include "spool.h"
#include "xtext.h"

/* A decimal number of 1 to 5 digits, at most max. -1 if not. */
static long
remote_number(const char *s, size_t len, long max)
{
	long n = 0;
	size_t i;

	if (len == 0 || len > 5)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (s[i] - '0');
	}
	return n <= max ? n : -1;
}

/* Copy len bytes into a string of size sz: -1 if they do not fit. */
static int
remote_copy(char *dst, size_t sz, const char *s, size_t len)
{
	if (len >= sz)
		return -1;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

int
remote_addr_port(const char *s, size_t len, char *addr, size_t addrsz,
    unsigned *port)
{
	const char *sp = memchr(s, ' ', len);
	unsigned char bin[sizeof(struct in6_addr)];
	long p;

	if (sp == NULL || remote_copy(addr, addrsz, s, (size_t)(sp - s)) ||
	    (p = remote_number(sp + 1, len - (size_t)(sp - s) - 1, 65535)) < 1)
		return -1;
	if (inet_pton(AF_INET, addr, bin) != 1 &&
	    inet_pton(AF_INET6, addr, bin) != 1)
		return -1;
	*port = (unsigned)p;
	return 0;
}

/* "PREF SP HOSTNAME SP ADDRESS SP PORT" (resolve's 'A' hosts). */
static int
remote_host_parse(const char *s, size_t len, struct remote_host *h)
{
	const char *sp1, *sp2;
	long pref;

	if ((sp1 = memchr(s, ' ', len)) == NULL ||
	    (pref = remote_number(s, (size_t)(sp1 - s), 65535)) < 0)
		return -1;
	sp1++;
	if ((sp2 = memchr(sp1, ' ', len - (size_t)(sp1 - s))) == NULL ||
	    remote_copy(h->name, sizeof(h->name), sp1, (size_t)(sp2 - sp1)) ||
	    !addr_domain_valid(h->name, 1, 0))
		return -1;
	sp2++;
	h->pref = (unsigned)pref;
	return remote_addr_port(sp2, len - (size_t)(sp2 - s), h->addr,
	    sizeof(h->addr), &h->port);
}

/* An address we will write between angle brackets: printable, no blank
 * (a quoted local part may hold one: still one token), no '<' or '>'. */
static int
remote_rcpt_addr_ok(const char *a)
{
	for (; *a != '\0'; a++)
		if ((unsigned char)*a < 0x20 || *a == 0x7f || *a == '<' ||
		    *a == '>')
			return 0;
	return 1;
}

/* "N TAB ADDRESS TAB NOTIFY TAB ORCPT", N the line's own index. */
static int
remote_rcpt_parse(const char *s, size_t len, size_t index,
    struct remote_rcpt *r)
{
	const char *t[4], *end = s + len, *p = s;
	size_t tl[4], i;
	long n;

	for (i = 0; i < 4; i++) {
		const char *tab = i < 3 ? memchr(p, '\t', (size_t)(end - p)) :
		    NULL;

		if (i < 3 && tab == NULL)
			return -1;
		t[i] = p;
		tl[i] = (size_t)((i < 3 ? tab : end) - p);
		p = i < 3 ? tab + 1 : end;
	}
	if (memchr(t[3], '\t', tl[3]) != NULL)
		return -1;
	if ((n = remote_number(t[0], tl[0], 99999)) < 0 || (size_t)n != index)
		return -1;
	if (tl[1] == 0 || remote_copy(r->addr, sizeof(r->addr), t[1], tl[1]) ||
	    strlen(r->addr) != tl[1] || !remote_rcpt_addr_ok(r->addr) ||
	    remote_copy(r->notify, sizeof(r->notify), t[2], tl[2]) ||
	    remote_copy(r->orcpt, sizeof(r->orcpt), t[3], tl[3]))
		return -1;
	if ((r->notify[0] != '\0' && !dsn_notify_valid(r->notify)) ||
	    (r->orcpt[0] != '\0' && !dsn_orcpt_valid(r->orcpt)))
		return -1;
	return 0;
}

/* Split s into LF-separated lines and hand each to fn; a trailing LF or
 * an empty line is an error. The count, or -1. */
static long
remote_lines(const char *s, size_t max, void *arr, size_t elsz,
    int (*fn)(const char *, size_t, size_t, void *))
{
	const char *p = s, *nl;
	size_t n = 0, len;

	if (*s == '\0')
		return 0;
	for (;;) {
		nl = strchr(p, '\n');
		len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		if (len == 0 || n >= max ||
		    fn(p, len, n, (char *)arr + n * elsz) == -1)
			return -1;
		n++;
		if (nl == NULL)
			return (long)n;
		p = nl + 1;
	}
}

static int
remote_host_fn(const char *s, size_t len, size_t i, void *el)
{
	return remote_host_parse(s, len, el);
}

static int
remote_rcpt_fn(const char *s, size_t len, size_t i, void *el)
{
	return remote_rcpt_parse(s, len, i, el);
}

/* Count the lines of s (1 for a non-empty string without LF). */
static size_t
remote_count(const char *s)
{
	size_t n = *s != '\0';

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

int
remote_job_parse(const char *const f[6], size_t rcpt_limit,
    struct remote_job *j, struct buf *err)
{
	size_t nr = remote_count(f[5]), nh = remote_count(f[4]);
	long n;

	memset(j, 0, sizeof(*j));
	/* The recipients first: with them, every other error can be
	 * answered per recipient. */
	if (nr == 0 || nr > rcpt_limit) {
		buf_setf(err, "%zu recipients (1 to %zu allowed)", nr,
		    rcpt_limit);
		return -1;
	}
	if ((j->rcpt = reallocarray(NULL, nr, sizeof(*j->rcpt))) == NULL ||
	    (j->hosts = reallocarray(NULL, nh ? nh : 1,
	    sizeof(*j->hosts))) == NULL) {
		buf_setf(err, "out of memory");
		goto fail;
	}
	/* A malformed list still has its lines: qmgr numbered them, so
	 * each can be answered by its number. */
	j->nrcpt = nr;
	if ((n = remote_lines(f[5], nr, j->rcpt, sizeof(*j->rcpt),
	    remote_rcpt_fn)) < 0 || (size_t)n != nr) {
		buf_setf(err, "malformed recipient list");
		return -1;
	}
	if (strlcpy(j->id, f[0], sizeof(j->id)) >= sizeof(j->id) ||
	    j->id[0] == '\0') {
		buf_setf(err, "bad request id");
		return -1;
	}
	if (!spool_id_valid(f[1])) {
		buf_setf(err, "malformed queue ID");
		return -1;
	}
	strlcpy(j->qid, f[1], sizeof(j->qid));
	if (f[2][0] == '\0' || strlcpy(j->dest, f[2], sizeof(j->dest)) >=
	    sizeof(j->dest) || !remote_rcpt_addr_ok(j->dest) ||
	    strchr(j->dest, ' ') != NULL) {
		buf_setf(err, "bad destination");
		return -1;
	}
	if (strcmp(f[3], "none") != 0 && strcmp(f[3], "may") != 0 &&
	    strcmp(f[3], "encrypt") != 0 && strcmp(f[3], "verify") != 0) {
		buf_setf(err, "bad TLS policy");
		return -1;
	}
	strlcpy(j->policy, f[3], sizeof(j->policy));
	if (nh == 0 || nh > REMOTE_HOSTS_MAX ||
	    (n = remote_lines(f[4], nh, j->hosts, sizeof(*j->hosts),
	    remote_host_fn)) < 0 || (size_t)n != nh) {
		buf_setf(err, "malformed host list");
		return -1;
	}
	j->nhosts = nh;
	return 0;
fail:
	remote_job_free(j);
	return -1;
}

void
remote_job_free(struct remote_job *j)
{
	free(j->hosts);
	free(j->rcpt);
	j->hosts = NULL;
	j->rcpt = NULL;
	j->nhosts = j->nrcpt = 0;
}

int
remote_job_hosts(const struct remote_job *j, struct buf *out)
{
	size_t i;

	for (i = 0; i < j->nhosts; i++)
		if (buf_addf(out, "%s%u %s %s %u", i ? "\n" : "",
		    j->hosts[i].pref, j->hosts[i].name, j->hosts[i].addr,
		    j->hosts[i].port) == -1)
			return -1;
	return 0;
}

int
remote_job_rcpts(const struct remote_job *j, struct buf *out)
{
	size_t i;

	for (i = 0; i < j->nrcpt; i++)
		if (buf_addf(out, "%s%zu\t%s\t%s\t%s", i ? "\n" : "", i,
		    j->rcpt[i].addr, j->rcpt[i].notify, j->rcpt[i].orcpt) == -1)
			return -1;
	return 0;
}

void
remote_result_set(struct remote_result *r, char status, const char *code,
    const char *mta, const char *fmt, ...)
{
	va_list ap;
	char *p;

	r->status = status;
	strlcpy(r->code, code, sizeof(r->code));
	strlcpy(r->mta, mta, sizeof(r->mta));
	va_start(ap, fmt);
	(void)vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
	for (p = r->text; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (r->text[0] == '\0')
		strlcpy(r->text, "(no text)", sizeof(r->text));
}
