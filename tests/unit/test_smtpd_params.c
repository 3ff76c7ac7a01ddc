/*
 * test_smtpd_params.c: the MAIL and RCPT parameters of SMTPUTF8 (RFC 6531)
 * and DSN (RFC 3461) through cmd_mail_args() and cmd_rcpt_params(): what
 * is accepted and how it is kept, the 553 5.6.7 for UTF-8 without
 * SMTPUTF8, 501 for a bad or repeated value, 555 for the unknown.
 *
 * Links every smtpd file but smtpd.c, and libcommon.a. No I/O.
 */
#include <string.h>

#include "harness.h"
#include "../../smtpd/smtpd.h"

static char	 r[SMTPD_REPLY_MAX + 1];

static int
mail(const char *args, struct smtpd_path *p)
{
	r[0] = '\0';
	return cmd_mail_args(args, 1, 0, p, r, sizeof(r));
}

static int
rcpt(const char *args, int utf8, struct smtpd_path *p)
{
	r[0] = '\0';
	return cmd_rcpt_params(args, 1, utf8, p, r, sizeof(r));
}

static void
test_smtputf8(void)
{
	struct smtpd_path p;

	CHECK(mail("FROM:<a@b.example> SMTPUTF8", &p) == 0);
	CHECK(p.utf8 == 1);
	CHECK(mail("FROM:<a@b.example>", &p) == 0);
	CHECK(p.utf8 == 0);
	CHECK(mail("FROM:<j\xc3\xb6rg@b.example> SMTPUTF8", &p) == 0);
	CHECK_STR(p.text, "j\xc3\xb6rg@b.example");
	CHECK(mail("FROM:<j\xc3\xb6rg@b.example>", &p) == -1);
	CHECK_STR(r, "553 5.6.7 Error: UTF-8 address requires SMTPUTF8");
	CHECK(mail("FROM:<a@b.example> SMTPUTF8 smtputf8", &p) == -1);
	CHECK_STR(r, "501 5.5.4 Repeated SMTPUTF8 parameter");
	CHECK(mail("FROM:<a@b.example> SMTPUTF8=yes", &p) == -1);
	CHECK_STR(r, "501 5.5.4 Bad SMTPUTF8 parameter syntax");
	/* malformed UTF-8 is no address, with or without the parameter */
	CHECK(mail("FROM:<j\xc3rg@b.example> SMTPUTF8", &p) == -1);
	CHECK_STR(r, "501 5.1.7 Bad sender address syntax");

	CHECK(rcpt("TO:<j\xc3\xb6rg@virt.example>", 1, &p) == 0);
	CHECK_STR(p.text, "j\xc3\xb6rg@virt.example");
	CHECK(rcpt("TO:<j\xc3\xb6rg@virt.example>", 0, &p) == -1);
	CHECK_STR(r, "553 5.6.7 Error: UTF-8 address requires SMTPUTF8");
	CHECK(rcpt("TO:<bob@b\xc3\xa9.example>", 0, &p) == -1);
	CHECK_STR(r, "553 5.6.7 Error: UTF-8 address requires SMTPUTF8");
	CHECK(rcpt("TO:<bob@example.org>", 0, &p) == 0);
}

static void
test_mail_dsn(void)
{
	struct smtpd_path p;

	CHECK(mail("FROM:<a@b.example> RET=hdrs ENVID=QQ+2B314", &p) == 0);
	CHECK_STR(p.ret, "HDRS");
	CHECK_STR(p.envid, "QQ+2B314");
	CHECK(mail("FROM:<> ret=FULL", &p) == 0);
	CHECK_STR(p.ret, "FULL");
	CHECK_STR(p.envid, "");
	CHECK(mail("FROM:<a@b.example> RET=PARTIAL", &p) == -1);
	CHECK_STR(r, "501 5.5.4 Bad RET parameter syntax");
	CHECK(mail("FROM:<a@b.example> RET", &p) == -1);
	CHECK_STR(r, "501 5.5.4 Bad RET parameter syntax");
	CHECK(mail("FROM:<a@b.example> RET=FULL RET=FULL", &p) == -1);
	CHECK_STR(r, "501 5.5.4 Repeated RET parameter");
	CHECK(mail("FROM:<a@b.example> ENVID=a+2b", &p) == -1);
	CHECK_STR(r, "501 5.5.4 Bad ENVID parameter syntax");
	CHECK(mail("FROM:<a@b.example> ENVID=a+", &p) == -1);
	CHECK(mail("FROM:<a@b.example> ENVID=a+0D+0A", &p) == -1);
	CHECK(mail("FROM:<a@b.example> ENVID=", &p) == -1);
	CHECK_STR(r, "501 5.5.4 Syntax error in parameters");
	CHECK(mail("FROM:<a@b.example> ENVID=x ENVID=y", &p) == -1);
	CHECK_STR(r, "501 5.5.4 Repeated ENVID parameter");
	CHECK(mail("FROM:<a@b.example> ENVID=0123456789012345678901234567890"
	    "1234567890123456789012345678901234567890123456789012345678901234"
	    "567890", &p) == -1);			/* 101 octets */
	CHECK(mail("FROM:<a@b.example> NOTIFY=NEVER", &p) == -1);
	CHECK_STR(r, "555 5.5.4 Unsupported option: NOTIFY=NEVER");
	CHECK(mail("FROM:<a@b.example> X-UNKNOWN", &p) == -1);
	CHECK_STR(r, "555 5.5.4 Unsupported option: X-UNKNOWN");
}

static void
test_rcpt_dsn(void)
{
	struct smtpd_path p;

	CHECK(rcpt("TO:<bob@example.org> NOTIFY=failure,delay "
	    "ORCPT=rfc822;Bob+40@example.org", 0, &p) == 0);
	CHECK_STR(p.notify, "FAILURE,DELAY");
	CHECK_STR(p.orcpt, "rfc822;Bob+40@example.org");
	CHECK(rcpt("TO:<bob@example.org> notify=NEVER", 0, &p) == 0);
	CHECK_STR(p.notify, "NEVER");
	CHECK_STR(p.orcpt, "");
	CHECK(rcpt("TO:<bob@example.org> NOTIFY=NEVER NOTIFY=NEVER", 0,
	    &p) == -1);
	CHECK_STR(r, "501 5.5.4 Repeated NOTIFY parameter");
	CHECK(rcpt("TO:<bob@example.org> NOTIFY=NEVER,DELAY", 0, &p) == -1);
	CHECK_STR(r, "501 5.5.4 Bad NOTIFY parameter syntax");
	CHECK(rcpt("TO:<bob@example.org> NOTIFY", 0, &p) == -1);
	CHECK_STR(r, "501 5.5.4 Bad NOTIFY parameter syntax");
	CHECK(rcpt("TO:<bob@example.org> ORCPT=rfc822;a+zz", 0, &p) == -1);
	CHECK_STR(r, "501 5.5.4 Bad ORCPT parameter syntax");
	CHECK(rcpt("TO:<bob@example.org> ORCPT=bob@example.org", 0, &p) ==
	    -1);
	CHECK(rcpt("TO:<bob@example.org> ORCPT=rfc822;a@b ORCPT=rfc822;a@b",
	    0, &p) == -1);
	CHECK_STR(r, "501 5.5.4 Repeated ORCPT parameter");
	CHECK(rcpt("TO:<bob@example.org> ORCPT=utf-8;j\\x{F6}rg@b", 0,
	    &p) == 0);
	CHECK_STR(p.orcpt, "utf-8;j\\x{F6}rg@b");
	CHECK(rcpt("TO:<bob@example.org> RET=FULL", 0, &p) == -1);
	CHECK_STR(r, "555 5.5.4 Unsupported option: RET=FULL");
	/* after HELO: no parameters at all */
	CHECK(cmd_rcpt_params("TO:<bob@example.org> NOTIFY=NEVER", 0, 0, &p,
	    r, sizeof(r)) == -1);
	CHECK_STR(r, "555 5.5.4 Unsupported option: NOTIFY=NEVER");
}

int
main(void)
{
	test_smtputf8();
	test_mail_dsn();
	test_rcpt_dsn();
	return harness_done();
}
