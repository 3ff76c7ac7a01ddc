/*
 * remote_session.c: one SMTP transaction (RFC 5321) for one job of
 * rspawn's, the heart of the remote client.
 *
 * Called by remote_child.c, in a child of rspawn: chrooted, unprivileged,
 * with the queue file open and nothing else of the spool. The hosts of the
 * job are tried in order (docs/protocols.md, "qmgr -> rspawn"): a host
 * that refuses or times out the connection is remembered as dead (in
 * ctx->dead, for the 'E' record), one that greets with non-2xx, rejects
 * EHLO and HELO, or fails the TLS the policy requires passes to the next;
 * the last failure is every recipient's outcome when none is left. Once a
 * host took EHLO, the transaction is its: a 4xx or 5xx to MAIL or DATA is
 * every remaining recipient's outcome, a reply to RCPT that recipient's,
 * the reply after the data every accepted recipient's.
 *
 * Every wait is bounded by its RFC 5321 4.5.3.2 timeout from postern.conf
 * (struct io's deadline), every reply by common/smtp_reply.c. Nothing here
 * exits: each failure, the server's or ours, becomes an outcome.
 */
#include <sys/types.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bsd/string.h>

#include "buf.h"
#include "conf.h"
#include "connect.h"
#include "io.h"
#include "log.h"
#include "qfile.h"
#include "remote.h"
#include "smtp_data.h"
#include "smtp_reply.h"
#include "tls.h"

/* QUIT is a courtesy (the outcomes are known by then): do not wait long. */
#define REMOTE_QUIT_MS		2000
#define REMOTE_IN_MAX		(4 * SMTP_REPLY_LINE_MAX)

/* How opening a connection to one host ended. */
enum remote_open {
	OPEN_OK,		/* EHLO (or HELO) taken: the transaction */
	OPEN_DEAD,		/* no connection: the host is dead */
	OPEN_NEXT,		/* this host failed: the next one */
	OPEN_CLEAR		/* policy may, STARTTLS failed: again, in
				 * the clear */
};

static int
remote_ms(int seconds)
{
	return seconds > 2000000 ? 2000000000 : seconds * 1000;
}

void
remote_ctx_init(struct remote_ctx *c, const struct conf *conf,
    struct ssl_ctx_st *tls)
{
	memset(c, 0, sizeof(*c));
	c->conf = conf;
	c->tls = tls;
	c->conn.fd = -1;
	c->qid = "";
	buf_init(&c->dead, 0);
}

/* "NAME[ADDR]" for logs and our own texts. */
static const char *
remote_peer(const struct remote_host *h)
{
	static char s[REMOTE_HOST_MAX + REMOTE_ADDR_MAX + 4];

	snprintf(s, sizeof(s), "%s[%s]", h->name, h->addr);
	return s;
}

static const char *
remote_errno(int e)
{
	return e == ETIMEDOUT ? "timed out" : strerror(e);
}

void
remote_conn_close(struct remote_ctx *c, int quit)
{
	struct remote_conn *k = &c->conn;
	struct smtp_reply r;

	if (k->fd == -1)
		return;
	if (quit) {
		k->io.timeout_ms = REMOTE_QUIT_MS;
		buf_reset(&k->io.out);
		if (io_puts(&k->io, "QUIT\r\n") == 0 && io_flush(&k->io) == 0)
			(void)smtp_reply_read(&k->io, &r, SMTP_REPLY_SANITISE);
	}
	tls_close(&k->io, &k->io);
	io_free(&k->io);
	close(k->fd);
	k->fd = -1;
	k->tls = 0;
	k->ext = 0;
	k->size = 0;
}

/*
 * Send what is buffered, then read one reply within timeout_s. 0; or -1
 * with fail set: a lost connection or a timeout is 4.4.2, a reply that is
 * not one 4.5.0. The connection is then closed: its stream is out of step.
 */
static int
remote_cmd(struct remote_ctx *c, int timeout_s, const char *cmd,
    struct smtp_reply *r, struct remote_result *fail)
{
	struct remote_conn *k = &c->conn;
	int rc;

	k->io.timeout_ms = remote_ms(timeout_s);
	if (k->io.out.len > 0 && io_flush(&k->io) == -1) {
		remote_result_set(fail, 'Z', "4.4.2", "", "lost connection "
		    "with %s while sending %s: %s", remote_peer(&k->host), cmd,
		    remote_errno(errno));
		goto lost;
	}
	rc = smtp_reply_read(&k->io, r, SMTP_REPLY_SANITISE);
	if (rc == SMTP_REPLY_IO) {
		remote_result_set(fail, 'Z', "4.4.2", "", "lost connection "
		    "with %s while receiving the reply to %s: %s",
		    remote_peer(&k->host), cmd, remote_errno(errno));
		goto lost;
	}
	if (rc == SMTP_REPLY_BAD) {
		remote_result_set(fail, 'Z', "4.5.0", k->host.name, "%s sent "
		    "a malformed reply to %s", remote_peer(&k->host), cmd);
		goto lost;
	}
	return 0;
lost:
	log_warn("%s: %s", c->qid, fail->text);
	remote_conn_close(c, 0);
	return -1;
}

/* The outcome that reply r to cmd gives: the server's status and text,
 * its enhanced code when of the right class. A code that does not belong
 * (1xx, 3xx where a final reply is due) is a protocol error, retried. */
static void
remote_result_reply(struct remote_result *res, const struct smtp_reply *r,
    const struct remote_host *h, const char *cmd)
{
	char code[REMOTE_CODE_MAX];

	if (smtp_reply_enhanced(r, code, sizeof(code)) == -1)
		remote_result_set(res, 'Z', "4.5.0", h->name, "%s", r->text);
	else
		remote_result_set(res, smtp_reply_status(r), code, h->name,
		    "%s", r->text);
	if (res->status != 'K')
		log_info("host %s said: %s (in reply to %s)", remote_peer(h),
		    r->text, cmd);
}

/* A reply that refuses the host as a whole (greeting, HELO): never a
 * bounce, the next host or a later try may do better (Z, class 4). */
static void
remote_result_host(struct remote_result *res, const struct smtp_reply *r,
    const struct remote_host *h, const char *cmd)
{
	remote_result_reply(res, r, h, cmd);
	if (res->status != 'Z') {
		res->status = 'Z';
		res->code[0] = '4';
	}
}

static int
remote_ehlo(struct remote_ctx *c, const char *helo, struct smtp_reply *r,
    struct remote_result *fail)
{
	struct remote_conn *k = &c->conn;
	int tmo = c->conf->smtp_command_timeout_seconds;

	io_printf(&k->io, "EHLO %s\r\n", helo);
	if (remote_cmd(c, tmo, "EHLO", r, fail) == -1)
		return -1;
	if (r->code / 100 == 2) {
		k->ext = r->ext;
		k->size = r->size;
		return 0;
	}
	/* RFC 5321 3.2: a server that does not know EHLO gets HELO. */
	k->ext = 0;
	k->size = 0;
	io_printf(&k->io, "HELO %s\r\n", helo);
	if (remote_cmd(c, tmo, "HELO", r, fail) == -1)
		return -1;
	if (r->code / 100 != 2) {
		remote_result_host(fail, r, &k->host, "HELO");
		remote_conn_close(c, 1);
		return -1;
	}
	return 0;
}

/* A TLS failure (the reason already in fail): under "may" the host is
 * tried again in the clear, else the next host. */
static enum remote_open
remote_tls_fail(struct remote_ctx *c, const char *policy,
    const struct remote_result *fail)
{
	int may = strcmp(policy, "may") == 0;

	log_warn("%s: %s%s", c->qid, fail->text, may ?
	    "; trying again without TLS" : "");
	remote_conn_close(c, 0);
	return may ? OPEN_CLEAR : OPEN_NEXT;
}

/* RFC 3207: STARTTLS, the handshake, and EHLO again. */
static enum remote_open
remote_starttls(struct remote_ctx *c, const char *policy, const char *helo,
    struct remote_result *fail)
{
	struct remote_conn *k = &c->conn;
	struct smtp_reply r;
	struct buf err = BUF_INIT;
	char desc[256];
	int rc;

	io_puts(&k->io, "STARTTLS\r\n");
	if (remote_cmd(c, c->conf->smtp_command_timeout_seconds, "STARTTLS",
	    &r, fail) == -1)
		return strcmp(policy, "may") == 0 ? OPEN_CLEAR : OPEN_NEXT;
	if (r.code / 100 != 2) {
		remote_result_set(fail, 'Z', "4.7.5", k->host.name, "%s "
		    "refused STARTTLS: %s", remote_peer(&k->host), r.text);
		return remote_tls_fail(c, policy, fail);
	}
	/* CVE-2011-0411 from the client's side: whatever came with the 220
	 * was sent before TLS and must not pass for an answer after it. */
	if (io_pending(&k->io) > 0) {
		remote_result_set(fail, 'Z', "4.7.0", k->host.name, "%s sent "
		    "data after its reply to STARTTLS", remote_peer(&k->host));
		return remote_tls_fail(c, policy, fail);
	}
	buf_init(&err, 512);
	rc = tls_connect(c->tls, &k->io, k->host.name,
	    strcmp(policy, "verify") == 0,
	    remote_ms(c->conf->smtp_command_timeout_seconds), &err);
	if (rc == -1) {
		remote_result_set(fail, 'Z', "4.7.5", k->host.name, "TLS "
		    "handshake with %s failed: %s", remote_peer(&k->host),
		    buf_str(&err));
		buf_free(&err);
		return remote_tls_fail(c, policy, fail);
	}
	buf_free(&err);
	k->tls = 1;
	tls_describe(&k->io, desc, sizeof(desc));
	log_info("%s:%u: TLS %s, %s", remote_peer(&k->host), k->host.port,
	    desc, tls_verified(&k->io) ? "verified" : "not verified");
	if (remote_ehlo(c, helo, &r, fail) == -1)
		return OPEN_NEXT;
	return OPEN_OK;
}

/* Connect to h, read the greeting, EHLO, STARTTLS as the policy says. */
static enum remote_open
remote_open(struct remote_ctx *c, const struct remote_job *j,
    const struct remote_host *h, int clear, struct remote_result *fail)
{
	struct remote_conn *k = &c->conn;
	const struct conf *cf = c->conf;
	const char *helo = cf->smtp_helo_name[0] ? cf->smtp_helo_name :
	    cf->hostname;
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct smtp_reply r;
	socklen_t sl;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, h->addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)h->port);
		sl = sizeof(*sin);
	} else if (inet_pton(AF_INET6, h->addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)h->port);
		sl = sizeof(*sin6);
	} else {
		remote_result_set(fail, 'Z', "4.4.1", "", "bad address %s",
		    h->addr);
		return OPEN_NEXT;
	}
	if ((k->fd = net_connect((struct sockaddr *)&ss, sl,
	    remote_ms(cf->smtp_connect_timeout_seconds))) == -1) {
		remote_result_set(fail, 'Z', "4.4.1", "", "connect to %s:%u: "
		    "%s", remote_peer(h), h->port, remote_errno(errno));
		log_info("%s: %s", j->qid, fail->text);
		(void)buf_addf(&c->dead, "%s%s %u", c->dead.len ? "\n" : "",
		    h->addr, h->port);
		return OPEN_DEAD;
	}
	io_init(&k->io, k->fd, 0, REMOTE_IN_MAX);
	k->host = *h;
	k->tls = 0;
	if (remote_cmd(c, cf->smtp_greeting_timeout_seconds,
	    "the initial greeting", &r, fail) == -1)
		return OPEN_NEXT;
	if (r.code / 100 != 2) {
		remote_result_host(fail, &r, h, "the initial greeting");
		remote_conn_close(c, 1);
		return OPEN_NEXT;
	}
	if (remote_ehlo(c, helo, &r, fail) == -1)
		return OPEN_NEXT;
	if (strcmp(j->policy, "none") == 0 || clear)
		return OPEN_OK;
	if (!(k->ext & SMTP_EXT_STARTTLS)) {
		if (strcmp(j->policy, "may") == 0)
			return OPEN_OK;
		remote_result_set(fail, 'Z', "4.7.5", h->name, "TLS is "
		    "required, but %s does not offer STARTTLS",
		    remote_peer(h));
		log_warn("%s: %s", j->qid, fail->text);
		remote_conn_close(c, 1);
		return OPEN_NEXT;
	}
	return remote_starttls(c, j->policy, helo, fail);
}

/* A kept connection for this job: its host must be one of the job's. */
static int
remote_reuse(struct remote_ctx *c, const struct remote_job *j)
{
	struct remote_conn *k = &c->conn;
	struct remote_result fail;
	struct smtp_reply r;
	size_t i;

	if (k->fd == -1)
		return 0;
	for (i = 0; i < j->nhosts; i++)
		if (strcmp(j->hosts[i].addr, k->host.addr) == 0 &&
		    j->hosts[i].port == k->host.port)
			break;
	if (i == j->nhosts) {
		remote_conn_close(c, 1);
		return 0;
	}
	/* RFC 5321 4.1.1.5: whatever the last transaction left open. */
	io_puts(&k->io, "RSET\r\n");
	if (remote_cmd(c, c->conf->smtp_command_timeout_seconds, "RSET", &r,
	    &fail) == -1)
		return 0;
	if (r.code / 100 != 2) {
		remote_conn_close(c, 1);
		return 0;
	}
	log_info("%s: reusing the connection to %s:%u", j->qid,
	    remote_peer(&k->host), k->host.port);
	return 1;
}

static int
remote_nonascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

/* Every recipient without an outcome gets a copy of o. */
static void
remote_all(const struct remote_job *j, struct remote_result *res,
    const int *accepted, const struct remote_result *o)
{
	size_t i;

	for (i = 0; i < j->nrcpt; i++)
		if (res[i].status == 0 && (accepted == NULL || accepted[i]))
			res[i] = *o;
}

/* Log each outcome, Postfix-style. */
static void
remote_log(const struct remote_job *j, const struct remote_result *res,
    const struct remote_host *h)
{
	size_t i;

	for (i = 0; i < j->nrcpt; i++)
		log_info("%s: to=<%s>, relay=%s:%u, status=%s %s (%s)",
		    j->qid, j->rcpt[i].addr, h != NULL ? remote_peer(h) : "none",
		    h != NULL ? h->port : 0, res[i].status == 'K' ? "sent" :
		    res[i].status == 'D' ? "bounced" : "deferred",
		    res[i].code, res[i].text);
}

/* MAIL, RCPT, DATA on the connection in ctx->conn. */
static void
remote_transaction(struct remote_ctx *c, const struct remote_job *j,
    const struct qenv *env, int qf, struct remote_result *res)
{
	struct remote_conn *k = &c->conn;
	const struct conf *cf = c->conf;
	const struct remote_host h = k->host;
	struct remote_result o, skip;
	struct smtp_reply r;
	int utf8, eight, pipe_, dsn, *acc = NULL, rc;
	size_t i, naccepted = 0;

	utf8 = env->smtputf8 || remote_nonascii(env->sender);
	for (i = 0; i < j->nrcpt; i++)
		utf8 |= remote_nonascii(j->rcpt[i].addr);
	eight = strcmp(env->body, "8BITMIME") == 0;
	pipe_ = (k->ext & SMTP_EXT_PIPELINING) != 0;
	dsn = (k->ext & SMTP_EXT_DSN) != 0;

	/* What this server cannot take, whoever tries again: bounced. */
	if ((k->ext & SMTP_EXT_SIZE) && k->size > 0 &&
	    (unsigned long long)env->msg_len > k->size) {
		remote_result_set(&o, 'D', "5.3.4", h.name, "message size %lld "
		    "exceeds size limit %llu of server %s",
		    (long long)env->msg_len, k->size, remote_peer(&h));
		goto all;
	}
	if (utf8 && !(k->ext & SMTP_EXT_SMTPUTF8)) {
		remote_result_set(&o, 'D', "5.6.7", h.name, "SMTPUTF8 is "
		    "required, but was not offered by host %s",
		    remote_peer(&h));
		goto all;
	}
	if (eight && !(k->ext & SMTP_EXT_8BITMIME) &&
	    strcmp(cf->smtp_8bit_without_8bitmime, "bounce") == 0) {
		remote_result_set(&o, 'D', "5.6.3", h.name, "host %s does not "
		    "offer 8BITMIME, and the message has 8-bit content",
		    remote_peer(&h));
		goto all;
	}
	if ((acc = calloc(j->nrcpt, sizeof(*acc))) == NULL) {
		remote_result_set(&o, 'Z', "4.3.0", "", "out of memory");
		goto all;
	}

	io_printf(&k->io, "MAIL FROM:<%s>", env->sender);
	if (k->ext & SMTP_EXT_SIZE)
		io_printf(&k->io, " SIZE=%lld", (long long)env->msg_len);
	if (eight && (k->ext & SMTP_EXT_8BITMIME))
		io_puts(&k->io, " BODY=8BITMIME");
	if (utf8)
		io_puts(&k->io, " SMTPUTF8");
	if (dsn && env->ret[0] != '\0')
		io_printf(&k->io, " RET=%s", env->ret);
	if (dsn && env->envid[0] != '\0')
		io_printf(&k->io, " ENVID=%s", env->envid);
	io_puts(&k->io, "\r\n");
	/* RFC 2920 3.1: MAIL and every RCPT in one write; the replies come
	 * back in order. */
	for (i = 0; pipe_ && i < j->nrcpt; i++) {
		io_printf(&k->io, "RCPT TO:<%s>", j->rcpt[i].addr);
		if (dsn && j->rcpt[i].notify[0] != '\0')
			io_printf(&k->io, " NOTIFY=%s", j->rcpt[i].notify);
		if (dsn && j->rcpt[i].orcpt[0] != '\0')
			io_printf(&k->io, " ORCPT=%s", j->rcpt[i].orcpt);
		io_puts(&k->io, "\r\n");
	}
	if (remote_cmd(c, cf->smtp_command_timeout_seconds, "MAIL FROM", &r,
	    &o) == -1)
		goto all;
	if (r.code / 100 != 2) {
		remote_result_reply(&o, &r, &h, "MAIL FROM");
		/* The RCPT replies (503s) keep the stream in step. */
		for (i = 0; pipe_ && i < j->nrcpt; i++)
			if (remote_cmd(c, cf->smtp_command_timeout_seconds,
			    "RCPT TO", &r, &skip) == -1)
				break;
		goto all;
	}
	for (i = 0; i < j->nrcpt; i++) {
		if (!pipe_) {
			io_printf(&k->io, "RCPT TO:<%s>", j->rcpt[i].addr);
			if (dsn && j->rcpt[i].notify[0] != '\0')
				io_printf(&k->io, " NOTIFY=%s",
				    j->rcpt[i].notify);
			if (dsn && j->rcpt[i].orcpt[0] != '\0')
				io_printf(&k->io, " ORCPT=%s",
				    j->rcpt[i].orcpt);
			io_puts(&k->io, "\r\n");
		}
		if (remote_cmd(c, cf->smtp_command_timeout_seconds, "RCPT TO",
		    &r, &o) == -1)
			goto all;
		if (r.code / 100 == 2) {
			acc[i] = 1;
			naccepted++;
		} else
			remote_result_reply(&res[i], &r, &h, "RCPT TO");
	}
	if (naccepted == 0)
		goto done;	/* RSET comes before the next MAIL */

	io_puts(&k->io, "DATA\r\n");
	if (remote_cmd(c, cf->smtp_data_init_timeout_seconds, "DATA", &r,
	    &o) == -1)
		goto accepted;
	if (r.code != 354) {
		remote_result_reply(&o, &r, &h, "DATA");
		if (o.status == 'K')	/* 2xx to DATA: not SMTP */
			remote_result_set(&o, 'Z', "4.5.0", h.name, "%s",
			    r.text);
		goto accepted;
	}
	k->io.timeout_ms = remote_ms(cf->smtp_data_block_timeout_seconds);
	rc = smtp_data_send(&k->io, qf, env->msg_off, env->msg_len);
	if (rc == -2) {
		/* No final dot went out: closing now makes the server drop
		 * the partial message (RFC 5321 4.1.1.4). */
		remote_result_set(&o, 'Z', "4.3.0", "", "cannot read the "
		    "message from the queue file");
		remote_conn_close(c, 0);
		goto accepted;
	}
	if (rc == -1) {
		remote_result_set(&o, 'Z', "4.4.2", "", "lost connection with "
		    "%s while sending the message: %s", remote_peer(&h),
		    remote_errno(errno));
		log_warn("%s: %s", j->qid, o.text);
		remote_conn_close(c, 0);
		goto accepted;
	}
	/* A lost connection here is retried, so the message may arrive
	 * twice: at least once, never lost (DESIGN.md). */
	if (remote_cmd(c, cf->smtp_data_done_timeout_seconds, "end of DATA",
	    &r, &o) == -1)
		goto accepted;
	remote_result_reply(&o, &r, &h, "end of DATA");
accepted:
	remote_all(j, res, acc, &o);
	goto done;
all:
	remote_all(j, res, NULL, &o);
done:
	free(acc);
	remote_log(j, res, &h);
}

void
remote_deliver(struct remote_ctx *c, const struct remote_job *j, int qf,
    struct remote_result *res)
{
	struct remote_result fail;
	struct qenv env;
	struct buf err = BUF_INIT;
	size_t i;
	int rc, clear;

	memset(res, 0, j->nrcpt * sizeof(*res));
	buf_reset(&c->dead);
	c->qid = j->qid;
	qenv_init(&env);
	buf_init(&err, 1024);
	if ((rc = qfile_read(qf, &env, &err)) != QFILE_OK) {
		if (rc == QFILE_CORRUPT)
			log_warn("%s: corrupt queue file: %s", j->qid,
			    buf_str(&err));
		else
			log_warn_errno("%s: queue file read error", j->qid);
		remote_result_set(&fail, 'Z', "4.3.0", "", "%s",
		    rc == QFILE_CORRUPT ? "corrupt queue file" :
		    "queue file read error");
		remote_all(j, res, NULL, &fail);
		goto out;
	}
	if (remote_reuse(c, j)) {
		remote_transaction(c, j, &env, qf, res);
		goto out;
	}
	remote_result_set(&fail, 'Z', "4.4.1", "", "no host of %s to try",
	    j->dest);
	for (i = 0; i < j->nhosts; i++) {
		clear = 0;
		for (;;) {
			switch (remote_open(c, j, &j->hosts[i], clear, &fail)) {
			case OPEN_OK:
				remote_transaction(c, j, &env, qf, res);
				goto out;
			case OPEN_CLEAR:
				if (!clear) {
					clear = 1;
					continue;
				}
				break;
			case OPEN_DEAD:
			case OPEN_NEXT:
				break;
			}
			break;
		}
	}
	remote_all(j, res, NULL, &fail);
	remote_log(j, res, NULL);
out:
	qenv_free(&env);
	buf_free(&err);
}
