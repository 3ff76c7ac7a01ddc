/*
 * remote_child.c: the life of one child of rspawn.
 *
 * Forked by rspawn.c (no exec: chrooted and unprivileged already, the TLS
 * context and postern.conf loaded) with one end of a SOCK_SEQPACKET
 * socketpair. It takes a 'T' (with the queue file's descriptor), runs the
 * transaction (remote_session.c), and answers with one 'R' per recipient
 * and an 'E', each one datagram, so no record is ever torn. Then, when the
 * connection is fit for another transaction and smtp_connection_reuse_seconds
 * is not 0, it says 'I' (idle, with the address and port) and waits: for
 * another 'T', or for EOF, by which rspawn says the idle time is over (QUIT,
 * exit). A server that speaks or hangs up while we are idle (a 421 on its
 * own timeout) ends the connection; the child says 'X' and still waits,
 * since rspawn may have sent a 'T' already: that one is delivered on a new
 * connection.
 *
 * Exit status: 0 after EOF from rspawn or a job without a connection to
 * keep; 1 when rspawn sent what it should not have (rspawn then answers
 * the job's recipients itself, Z 4.3.0).
 */
#include <sys/socket.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "fdpass.h"
#include "frame.h"
#include "log.h"
#include "remote.h"

static void
remote_child_send(int sock, struct buf *b)
{
	if (fd_send_rec(sock, -1, b->data, b->len, MSG_NOSIGNAL) == -1)
		_exit(0);	/* rspawn is gone: nobody to answer */
	buf_reset(b);
}

static void
remote_child_answer(int sock, struct remote_ctx *c, const struct remote_job *j,
    const struct remote_result *res)
{
	struct buf b = BUF_INIT;
	char n[24], st[2] = { 0, 0 };
	size_t i;

	buf_init(&b, FRAME_HDR + FRAME_MAX);
	for (i = 0; i < j->nrcpt; i++) {
		snprintf(n, sizeof(n), "%zu", i);
		st[0] = res[i].status;
		if (frame_put_fields(&b, 'R', j->id, n, st, res[i].code,
		    res[i].text, res[i].mta, (char *)NULL) == -1)
			_exit(1);
		remote_child_send(sock, &b);
	}
	if (frame_put_fields(&b, 'E', j->id, buf_str(&c->dead),
	    (char *)NULL) == -1)
		_exit(1);
	remote_child_send(sock, &b);
	if (c->conn.fd != -1 && c->conf->smtp_connection_reuse_seconds > 0) {
		snprintf(n, sizeof(n), "%u", c->conn.host.port);
		if (frame_put_fields(&b, 'I', c->conn.host.addr, n,
		    (char *)NULL) == -1)
			_exit(1);
		remote_child_send(sock, &b);
	} else {
		remote_conn_close(c, 1);
		_exit(0);
	}
	buf_free(&b);
}

/* One datagram from rspawn: a 'T' and its queue file. */
static void
remote_child_job(int sock, struct remote_ctx *c, const char *dg, size_t len,
    int qf)
{
	struct buf payload = BUF_INIT, err = BUF_INIT;
	struct remote_job j;
	struct remote_result *res;
	const char *f[6], *pl;
	size_t plen, used;
	int type;

	buf_init(&payload, FRAME_MAX);
	buf_init(&err, 256);
	if (qf < 0 || frame_parse(dg, len, &type, &pl, &plen, &used) != 1 ||
	    used != len || type != 'T' || buf_set(&payload, pl, plen) == -1 ||
	    frame_fields(&payload, f, 6) == -1 ||
	    remote_job_parse(f, (size_t)c->conf->smtp_recipient_limit, &j,
	    &err) == -1) {
		log_warn("bad request from rspawn: %s", buf_str(&err));
		_exit(1);
	}
	if ((res = calloc(j.nrcpt, sizeof(*res))) == NULL)
		_exit(1);
	remote_deliver(c, &j, qf, res);
	close(qf);
	remote_child_answer(sock, c, &j, res);
	free(res);
	remote_job_free(&j);
	buf_free(&payload);
	buf_free(&err);
}

void
remote_child(int sock, const struct conf *conf, struct ssl_ctx_st *tls)
{
	struct remote_ctx c;
	struct buf junk = BUF_INIT;
	struct pollfd pfd[2];
	size_t len;
	char *dg;
	int qf;

	remote_ctx_init(&c, conf, tls);
	if ((dg = malloc(FRAME_HDR + FRAME_MAX)) == NULL)
		_exit(1);
	for (;;) {
		pfd[0].fd = sock;
		pfd[0].events = POLLIN;
		pfd[1].fd = c.conn.fd;
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		if (c.conn.fd != -1 && pfd[1].revents) {
			/* Idle, and the server spoke or left: the stream
			 * is no longer one we can use. */
			log_info("%s:%u closed the idle connection",
			    c.conn.host.addr, c.conn.host.port);
			remote_conn_close(&c, 0);
			buf_init(&junk, 64);
			if (frame_put(&junk, 'X', "", 0) == 0)
				remote_child_send(sock, &junk);
			buf_free(&junk);
		}
		if (!pfd[0].revents)
			continue;
		qf = fd_recv_rec(sock, dg, FRAME_HDR + FRAME_MAX, &len);
		if (qf == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			_exit(1);
		}
		if (qf == -2 && len == 0) {
			/* rspawn: the idle time is over, or it is gone. */
			remote_conn_close(&c, 1);
			_exit(0);
		}
		remote_child_job(sock, &c, dg, len, qf);
	}
}
