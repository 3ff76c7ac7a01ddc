/*
 * auth.c: the AUTH command (RFC 4954), mechanisms PLAIN (RFC 4616) and
 * LOGIN (draft-murchison-sasl-login), on the submission and smtps
 * listeners only, and only over TLS.
 *
 * Called from smtpd.c's dispatch switch. smtpd only runs the exchange and
 * decodes the base64 (common/base64.c); it never sees a password hash and
 * decides nothing: the login and password go to enqueue in a 'U' record
 * (docs/protocols.md), enqueue checks them against the passwd table
 * outside the chroot, remembers the login itself for relaying and the
 * senders table, and answers K or E (a 535 only after
 * smtpd_auth_failure_delay_seconds). s->auth_user is set on K and is used
 * here only for the state machine and the Received: protocol name.
 *
 * Why never in the clear: RFC 4954 4 and RFC 8314 ask that a password not
 * travel unencrypted, so AUTH is neither advertised nor accepted before TLS
 * is up; on the MX listener (port 25) it is not offered at all, as users
 * submit on 587/465 (RFC 6409).
 *
 * Every buffer that held the password (the decoded response, the client's
 * line, the 'U' record in the pipe buffer) is zeroed with explicit_bzero()
 * as soon as the record is sent.
 */
#include <string.h>
#include <strings.h>
#include <bsd/string.h>

#include "base64.h"
#include "log.h"
#include "smtpd.h"

/* A decoded response: RFC 4616 limits each of authzid, authcid and passwd
 * to 255 octets; two NULs between them. */
#define AUTH_DECODED_MAX	(3 * 255 + 2)

enum auth_read { AUTH_READ_OK, AUTH_READ_CANCEL, AUTH_READ_BAD,
	AUTH_READ_LONG, AUTH_READ_GONE };

/* Zero what a line of the client held (the base64 of a secret), including
 * what the input buffer keeps past its length. */
static void
auth_wipe(struct session *s)
{
	if (s->line.data != NULL)
		explicit_bzero(s->line.data, s->line.cap);
	s->line.len = 0;
	/* io_getline() consumed the line by moving the rest down: the
	 * bytes past in.len are stale copies. */
	if (s->cin.in.data != NULL && s->cin.in.cap > s->cin.in.len + 1)
		explicit_bzero(s->cin.in.data + s->cin.in.len + 1,
		    s->cin.in.cap - s->cin.in.len - 1);
}

/* Decode a response (an initial response, or a line after a 334).
 * "=" is the empty response (RFC 4954 4); "*" cancels. */
static enum auth_read
auth_decode(const char *text, unsigned char *out, size_t outsz, size_t *len)
{
	long	 n;

	*len = 0;
	if (strcmp(text, "*") == 0)
		return AUTH_READ_CANCEL;
	if (strcmp(text, "=") == 0)
		return AUTH_READ_OK;
	if ((n = base64_decode(text, strlen(text), out, outsz)) == -1)
		return AUTH_READ_BAD;
	*len = (size_t)n;
	return AUTH_READ_OK;
}

/* Send the 334 challenge and read the client's answer line. */
static enum auth_read
auth_challenge(struct session *s, const char *challenge, unsigned char *out,
    size_t outsz, size_t *len)
{
	size_t	 max = s->line.max;
	int	 r;

	reply_nocount(s, "334 %s", challenge);
	if (io_flush(&s->cout) == -1)
		return AUTH_READ_GONE;
	r = io_getline(&s->cin, &s->line, max);
	if (r == IO_LINE_LONG) {
		auth_wipe(s);
		return AUTH_READ_LONG;
	}
	if (r != IO_LINE_OK) {
		auth_wipe(s);
		return AUTH_READ_GONE;
	}
	/* The same checks as a command line: no NUL, no stray CR. */
	if (cmd_line_check(&s->line) != VERB_UNKNOWN) {
		auth_wipe(s);
		return AUTH_READ_BAD;
	}
	r = auth_decode(s->line.data, out, outsz, len);
	auth_wipe(s);
	return r;
}

/* A decoded PLAIN response: authzid NUL authcid NUL passwd (RFC 4616 2).
 * Only authzid "" or equal to authcid: we act for nobody else. */
static int
auth_plain_split(unsigned char *d, size_t len, const char **login,
    const char **pass)
{
	unsigned char	*a, *b;

	if ((a = memchr(d, '\0', len)) == NULL)
		return -1;
	if ((b = memchr(a + 1, '\0', len - (size_t)(a + 1 - d))) == NULL)
		return -1;
	if (memchr(b + 1, '\0', len - (size_t)(b + 1 - d)) != NULL)
		return -1;
	d[len] = '\0';
	*login = (const char *)a + 1;
	*pass = (const char *)b + 1;
	if (a != d && strcmp((const char *)d, *login) != 0)
		return -1;
	return (*login)[0] == '\0' ? -1 : 0;
}

/* Say why the exchange ended early. 1 if it did, 0 to go on. */
static int
auth_read_failed(struct session *s, enum auth_read r)
{
	switch (r) {
	case AUTH_READ_OK:
		return 0;
	case AUTH_READ_CANCEL:
		/* RFC 4954 4: "*" cancels, 501. */
		reply(s, "501 5.0.0 Authentication aborted");
		break;
	case AUTH_READ_BAD:
		reply(s, "501 5.5.2 Cannot decode response");
		break;
	case AUTH_READ_LONG:
		/* RFC 4954 6: 500 5.5.6 for an over-long line. */
		reply(s, "500 5.5.6 Authentication exchange line is too long");
		break;
	case AUTH_READ_GONE:
		log_info("lost connection after AUTH from [%s]", s->ip);
		s->quit = 1;
		break;
	}
	return 1;
}

/* The 'U' round trip; the record's bytes are zeroed when it is sent. */
static void
auth_verify(struct session *s, const char *login, const char *pass)
{
	const char	*f[2];
	int		 r;

	f[0] = login;
	f[1] = pass;
	r = enqueue_ask(s, 'U', f, 2);
	if (s->queue.out.data != NULL)
		explicit_bzero(s->queue.out.data, s->queue.out.cap);
	if (r == -1) {
		session_queue_gone(s, 0);
		return;
	}
	if (r == 'E') {
		reply(s, "%s", s->qtext);
		return;
	}
	strlcpy(s->auth_user, login, sizeof(s->auth_user));
	log_info("auth: login=%s from [%s]", s->auth_user, s->ip);
	reply(s, "235 2.7.0 Authentication successful");
}

/* AUTH is offered now: a submission or smtps session over TLS. */
int
auth_offered(const struct session *s)
{
	return s->listener != LISTEN_SMTP && s->listener != LISTEN_LOCAL &&
	    s->tls;
}

void
smtpd_auth(struct session *s, const struct smtpd_cmd *cmd)
{
	unsigned char	 user[AUTH_DECODED_MAX + 1], pass[AUTH_DECODED_MAX + 1];
	char		 mech[32], *sp;
	const char	*initial = NULL, *login, *password;
	size_t		 ulen = 0, plen = 0;
	enum auth_read	 r;

	s->last = "AUTH";	/* cmd points into the line we wipe */
	/* Local: enqueue knows the user from SO_PEERCRED already. */
	if (s->listener == LISTEN_SMTP || s->listener == LISTEN_LOCAL) {
		reply(s, "503 5.5.1 Error: authentication not enabled");
		return;
	}
	if (!s->tls) {
		/* RFC 3207 4, RFC 4954 4: no password in the clear. */
		reply(s, "530 5.7.0 Must issue a STARTTLS command first");
		return;
	}
	if (!s->esmtp) {
		reply(s, "503 5.5.1 Error: send EHLO first");
		return;
	}
	/* RFC 4954 4: once per session, never inside a transaction. */
	if (s->auth_user[0] != '\0') {
		reply(s, "503 5.5.1 Error: already authenticated");
		return;
	}
	if (s->in_mail) {
		reply(s, "503 5.5.1 Error: MAIL transaction in progress");
		return;
	}
	if (strlcpy(mech, cmd->args, sizeof(mech)) >= sizeof(mech) &&
	    strchr(cmd->args, ' ') == NULL) {
		reply(s, "504 5.5.4 Unrecognized authentication type");
		return;
	}
	if ((sp = strchr(mech, ' ')) != NULL) {
		*sp = '\0';
		initial = strchr(cmd->args, ' ') + 1;
	}
	if (mech[0] == '\0') {
		reply(s, "501 5.5.4 Syntax: AUTH mechanism");
		return;
	}

	if (strcasecmp(mech, "PLAIN") == 0) {
		/* RFC 4954 4: no initial response, an empty "334 ". */
		if (initial != NULL)
			r = auth_decode(initial, user, AUTH_DECODED_MAX, &ulen);
		else
			r = auth_challenge(s, "", user, AUTH_DECODED_MAX,
			    &ulen);
		auth_wipe(s);
		if (auth_read_failed(s, r))
			goto out;
		if (auth_plain_split(user, ulen, &login, &password) == -1) {
			reply(s, "501 5.5.2 Invalid PLAIN response");
			goto out;
		}
		auth_verify(s, login, password);
	} else if (strcasecmp(mech, "LOGIN") == 0) {
		/* "Username:" and "Password:", base64; an initial
		 * response is the user name. */
		if (initial != NULL)
			r = auth_decode(initial, user, AUTH_DECODED_MAX, &ulen);
		else
			r = auth_challenge(s, "VXNlcm5hbWU6", user,
			    AUTH_DECODED_MAX, &ulen);
		auth_wipe(s);
		if (auth_read_failed(s, r))
			goto out;
		r = auth_challenge(s, "UGFzc3dvcmQ6", pass, AUTH_DECODED_MAX,
		    &plen);
		if (auth_read_failed(s, r))
			goto out;
		user[ulen] = '\0';
		pass[plen] = '\0';
		/* A NUL inside would cut the field: such a name or password
		 * is not one anybody has. */
		if (ulen == 0 || strlen((char *)user) != ulen ||
		    strlen((char *)pass) != plen) {
			reply(s, "501 5.5.2 Invalid LOGIN response");
			goto out;
		}
		auth_verify(s, (const char *)user, (const char *)pass);
	} else
		reply(s, "504 5.5.4 Unrecognized authentication type");
out:
	explicit_bzero(user, sizeof(user));
	explicit_bzero(pass, sizeof(pass));
}
