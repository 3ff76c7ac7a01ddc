/*
 * proto.c: the session's with-protocol name, for the 'M' record and so the
 * Received: line's "with" clause (RFC 5321 4.4).
 *
 * Called by session.c (MAIL) and anyone who logs the protocol. A pure
 * function of the session's state; it cannot fail. The names are the
 * registered ones: RFC 3848 (ESMTPS, ESMTPA, ESMTPSA) and RFC 6531 3.7.3
 * (UTF8SMTP and its S/A/SA forms). A client that said HELO speaks plain
 * "SMTP" whatever else is up: there is no registered name for HELO over
 * TLS, and TLS and AUTH are only ever offered after EHLO.
 */
#include "smtpd.h"

const char *
session_proto(const struct session *s)
{
	static const char *const names[2][4] = {
		/* !tls,!auth  tls,!auth   !tls,auth   tls,auth */
		{ "ESMTP",    "ESMTPS",    "ESMTPA",    "ESMTPSA" },
		{ "UTF8SMTP", "UTF8SMTPS", "UTF8SMTPA", "UTF8SMTPSA" }
	};

	if (!s->esmtp)
		return "SMTP";
	return names[s->utf8 ? 1 : 0][(s->tls ? 1 : 0) +
	    (s->auth_user[0] != '\0' ? 2 : 0)];
}
