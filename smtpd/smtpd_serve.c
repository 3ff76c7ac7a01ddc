/*
 * smtpd_serve.c: an smtpd process that serves several sessions, one after
 * another (smtpd_process_uses > 1; docs/design-notes.md, "Reusing smtpd").
 *
 * sessiond forks it, without exec, for one listener; it chroots and drops
 * to smtpd_user here, once, before any client's byte is read, exactly as a
 * per-connection smtpd does (smtpd_run.c). Then it waits on its control
 * socket for a record 'C' (session id, client address) carrying two
 * descriptors, the connection and the session's enqueue link; places them
 * on fds 0/1 and 3; runs the session (smtpd_session(), the code every
 * smtpd runs); puts /dev/null back on 0, 1 and 3 (so the client and
 * enqueue see the end now, not at the next session); wipes the session's
 * state; and answers 'D' with the id (docs/protocols.md, "sessiond ->
 * reused smtpd").
 *
 * Fds: on entry 0/1 /dev/null, 2 stderr, 3 the control socket
 * (SOCK_SEQPACKET to sessiond). Moved here to 4, with /dev/null on 3 and a
 * spare /dev/null on 5 (the chroot has none to open). Received descriptors
 * are close-on-exec and land above 5; none outlives its session.
 *
 * Ends: EOF on the control socket (sessiond retires it: its uses are done,
 * it was idle smtpd_process_idle_seconds, or the configuration changed)
 * returns 0; a bad record returns 1; a session that ended in trouble (its
 * exit code not 0: the queue gone) returns that code before answering,
 * so sessiond learns of the session's end from the exit, as for a
 * per-connection smtpd.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "fdpass.h"
#include "frame.h"
#include "log.h"
#include "priv.h"
#include "smtpd.h"

#define SERVE_CTL	4
#define SERVE_NULL	5
#define SERVE_REC_MAX	(FRAME_HDR + 128)	/* 'C' id client */

/* /dev/null back on the session's fds: the connection and the enqueue
 * link are closed with it. */
static int
serve_clear(void)
{
	if (dup2(SERVE_NULL, 0) == -1 || dup2(SERVE_NULL, 1) == -1 ||
	    dup2(SERVE_NULL, 3) == -1)
		return -1;
	return 0;
}

int
smtpd_serve(struct conf *conf, enum listener listener)
{
	struct buf	 pay = BUF_INIT, out = BUF_INIT;
	char		 rec[SERVE_REC_MAX], ip[64];
	const char	*f[2];
	size_t		 len;
	int		 fds[2], n, code = 0;

	if (dup2(3, SERVE_CTL) == -1 || dup2(0, 3) == -1 ||
	    dup2(0, SERVE_NULL) == -1)
		fatal_errno("placing the control socket");
	signal(SIGPIPE, SIG_IGN);	/* a vanished peer is EPIPE */
	if (priv_drop(conf->smtpd_user, conf->smtpd_chroot_directory) == -1)
		fatal("cannot drop privileges to %s", conf->smtpd_user);
	for (;;) {
		n = fd_recv_fds(SERVE_CTL, rec, sizeof(rec), &len, fds, 2);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0 && len == 0)
			break;			/* retired */
		if (n != 2 || frame_datagram(rec, len, 'C', &pay, f, 2) ==
		    -1) {
			while (n > 0)
				close(fds[--n]);
			log_warn("a bad record from sessiond");
			code = 1;
			break;
		}
		if (dup2(fds[0], 0) == -1 || dup2(fds[0], 1) == -1 ||
		    dup2(fds[1], 3) == -1)
			fatal_errno("placing session %s", f[0]);
		close(fds[0]);
		close(fds[1]);
		smtpd_client_ip(listener, f[1], ip, sizeof(ip));
		code = smtpd_session(conf, listener, ip, 1);
		if (serve_clear() == -1)
			fatal_errno("closing session %s", f[0]);
		if (code != 0)
			break;
		buf_reset(&out);
		if (frame_put_fields(&out, 'D', f[0], NULL) == -1 ||
		    fd_send_rec(SERVE_CTL, -1, out.data, out.len, 0) == -1) {
			code = 1;
			break;
		}
	}
	buf_free(&pay);
	buf_free(&out);
	return code;
}
