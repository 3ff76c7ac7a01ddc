/*
 * starttls.c: what smtpd does before and around TLS. STARTTLS (RFC 3207),
 * implicit TLS on an smtps listener (RFC 8314 3.3), and the pregreet check
 * on the others (RFC 5321 4.3.1, RFC 2920 3.1).
 *
 * Called by smtpd.c: starttls_init() in main() while still root and
 * outside the chroot (the key is root's file), starttls_pregreet() before
 * the greeting, smtpd_starttls() from the dispatch switch, starttls_end()
 * when the session is over; and by session.c's EHLO (starttls_offered()).
 * The TLS itself is common/tls.c, under the session's struct io pair.
 *
 * Errors: a certificate that does not load is logged once per session and
 * TLS is then simply not there (454 to STARTTLS, not advertised); an smtps
 * session cannot go on without it and ends. A failed handshake ends the
 * session: the client's stream is in an unknown state, and RFC 3207 4.1
 * lets us close.
 */
#include <errno.h>
#include <string.h>

#include "log.h"
#include "smtpd.h"
#include "tls.h"

static struct ssl_ctx_st	*starttls_ctx;	/* NULL: no TLS here */

void
starttls_init(const struct conf *c)
{
	struct buf	 err = BUF_INIT;

	if (starttls_ctx != NULL) {	/* sessiond's reload */
		tls_ctx_free(starttls_ctx);
		starttls_ctx = NULL;
	}
	if (c->tls_cert_file[0] == '\0')
		return;
	if ((starttls_ctx = tls_server_ctx(c, &err)) == NULL)
		log_warn("TLS not available: %s", buf_str(&err));
	buf_free(&err);
}

int
starttls_offered(const struct session *s)
{
	/* Local (a Unix socket, sendmail(8)): nothing to protect. */
	return starttls_ctx != NULL && !s->tls && s->listener != LISTEN_LOCAL;
}

/*
 * The handshake. CVE-2011-0411: whatever the client sent after the
 * STARTTLS line in the clear ("STARTTLS\r\nRSET\r\n" in one packet, or a
 * man in the middle's "MAIL FROM" injected there) is thrown away here and
 * never read as if it had come over TLS. Bytes still in the kernel go to
 * the handshake, which they break.
 */
static int
starttls_handshake(struct session *s)
{
	struct buf	 err = BUF_INIT;

	if (s->cin.in.len > 0)
		log_info("discarded %zu bytes sent before the TLS handshake "
		    "from [%s]", s->cin.in.len, s->ip);
	buf_reset(&s->cin.in);
	if (tls_accept(starttls_ctx, &s->cin, &s->cout,
	    s->conf->smtpd_timeout_seconds * 1000, &err) == -1) {
		log_info("TLS handshake failed from [%s]: %s", s->ip,
		    buf_str(&err));
		buf_free(&err);
		s->quit = 1;
		return -1;
	}
	buf_free(&err);
	s->tls = 1;
	tls_describe(&s->cin, s->tls_info, sizeof(s->tls_info));
	log_info("TLS established from [%s]: %s", s->ip, s->tls_info);
	return 0;
}

void
smtpd_starttls(struct session *s, const struct smtpd_cmd *cmd)
{
	if (s->tls) {
		reply(s, "503 5.5.1 Error: TLS already active");
		return;
	}
	if (s->listener == LISTEN_LOCAL) {
		reply(s, "502 5.5.1 Error: STARTTLS not offered here");
		return;
	}
	if (cmd->args[0] != '\0') {		/* RFC 3207 4 */
		reply(s, "501 5.5.4 Syntax: STARTTLS");
		return;
	}
	if (starttls_ctx == NULL) {		/* RFC 3207 4 */
		reply(s, "454 4.7.0 TLS not available");
		return;
	}
	/* RFC 3207 4.2: the transaction does not survive the handshake.
	 * Dropped before the 220, so a gone enqueue still gets its 451. */
	if (session_abandon(s) == -1) {
		session_queue_gone(s, 0);
		return;
	}
	reply(s, "220 2.0.0 Ready to start TLS");
	if (io_flush(&s->cout) == -1) {
		log_info("lost connection after STARTTLS from [%s]", s->ip);
		s->quit = 1;
		return;
	}
	if (starttls_handshake(s) == -1)
		return;
	/* RFC 3207 4.2: forget everything the client told us in the
	 * clear; it must say EHLO again, and gets the TLS list of
	 * extensions. */
	s->greeted = 0;
	s->esmtp = 0;
	s->helo[0] = '\0';
	s->auth_user[0] = '\0';
	s->utf8 = 0;
}

int
starttls_pregreet(struct session *s)
{
	int	 r;

	if (s->listener == LISTEN_SMTPS) {
		/* RFC 8314 3.3: the handshake comes first, then the 220. */
		if (starttls_ctx == NULL) {
			log_warn("smtps connection from [%s] closed: TLS not "
			    "available", s->ip);
			return -1;
		}
		return starttls_handshake(s);
	}
	if (s->listener == LISTEN_LOCAL)
		return 0;	/* sendmail(8): a local user, no bulk sender */
	/* RFC 5321 4.3.1: the client waits for the greeting; RFC 2920 3.1:
	 * even a pipelining one. Who talks first is a bulk sender that
	 * does not listen. smtpd_pregreet_wait_ms = 0 only looks. */
	r = io_wait_readable(&s->cin, s->conf->smtpd_pregreet_wait_ms);
	if (r == 0)
		return 0;
	if (r == 1 && (r = (int)io_fill(&s->cin)) > 0) {
		log_info("reject: CONNECT from [%s]: 554 5.7.1 client talked "
		    "before the greeting", s->ip);
		reply_nocount(s, "554 5.7.1 Error: client talked before the "
		    "greeting");
		s->quit = 1;
		return -1;
	}
	if (r == -1 && errno == ETIMEDOUT)
		return 0;
	log_info("lost connection after CONNECT from [%s]", s->ip);
	return -1;
}

void
starttls_end(struct session *s)
{
	if (s->tls)
		tls_close(&s->cin, &s->cout);
}
