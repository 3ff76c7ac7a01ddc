/*
 * test_smtpd_proto.c: smtpd/proto.c, the with-protocol names of RFC 3848
 * and RFC 6531 from the session's EHLO, TLS, AUTH and SMTPUTF8 state.
 */
#include <string.h>
#include <bsd/string.h>

#include "../../smtpd/smtpd.h"
#include "harness.h"

static const char *
proto(int esmtp, int tls, const char *user, int utf8)
{
	static struct session s;

	memset(&s, 0, sizeof(s));
	s.esmtp = esmtp;
	s.tls = tls;
	strlcpy(s.auth_user, user, sizeof(s.auth_user));
	s.utf8 = utf8;
	return session_proto(&s);
}

int
main(void)
{
	CHECK_STR(proto(0, 0, "", 0), "SMTP");
	CHECK_STR(proto(0, 1, "", 0), "SMTP");	/* HELO after STARTTLS */
	CHECK_STR(proto(1, 0, "", 0), "ESMTP");
	CHECK_STR(proto(1, 1, "", 0), "ESMTPS");
	CHECK_STR(proto(1, 0, "bob", 0), "ESMTPA");
	CHECK_STR(proto(1, 1, "bob", 0), "ESMTPSA");
	CHECK_STR(proto(1, 0, "", 1), "UTF8SMTP");
	CHECK_STR(proto(1, 1, "", 1), "UTF8SMTPS");
	CHECK_STR(proto(1, 0, "bob", 1), "UTF8SMTPA");
	CHECK_STR(proto(1, 1, "bob", 1), "UTF8SMTPSA");
	return harness_done();
}
