/*
 * test_xtext.c: common/xtext.c: xtext decoding (RFC 3461 4) and the DSN
 * values built on it (ENVID, RET, NOTIFY, ORCPT), their canonical forms,
 * and every way a value can be malformed.
 */
#include <string.h>

#include "harness.h"
#include "xtext.h"

static int
dec(const char *s, char *out, size_t outsz)
{
	return xtext_decode(s, strlen(s), out, outsz, NULL);
}

static void
test_decode(void)
{
	char	 out[64];
	size_t	 len;

	CHECK(xtext_decode("a+2Bb+3Dc", 9, out, sizeof(out), &len) == 0);
	CHECK_STR(out, "a+b=c");
	CHECK(len == 5);
	CHECK(dec("", out, sizeof(out)) == 0 && out[0] == '\0');
	CHECK(dec("!~", out, sizeof(out)) == 0);
	CHECK(dec("a+2b", out, sizeof(out)) == -1);	/* lower-case hex */
	CHECK(dec("a+2", out, sizeof(out)) == -1);	/* cut short */
	CHECK(dec("a+", out, sizeof(out)) == -1);
	CHECK(dec("a+G0", out, sizeof(out)) == -1);
	CHECK(dec("a=b", out, sizeof(out)) == -1);	/* "=" never */
	CHECK(dec("a b", out, sizeof(out)) == -1);	/* blank */
	CHECK(dec("a\x7f", out, sizeof(out)) == -1);
	CHECK(dec("a\xc3\xa9", out, sizeof(out)) == -1);
	CHECK(dec("a+00", out, sizeof(out)) == -1);	/* NUL */
	CHECK(dec("+0D+0A", out, sizeof(out)) == 0);	/* decodes; the
							 * callers refuse */
	CHECK(dec("abcd", out, 4) == -1);		/* no room */
	CHECK(dec("abc", out, 4) == 0);
}

static void
test_envid(void)
{
	char	 big[400];

	CHECK(dsn_envid_valid("QQ314159", 8) == 1);
	CHECK(dsn_envid_valid("a+2Bb", 5) == 1);
	CHECK(dsn_envid_valid("", 0) == 0);
	CHECK(dsn_envid_valid("a+20b", 5) == 0);	/* decoded blank */
	CHECK(dsn_envid_valid("a+0Ab", 5) == 0);	/* decoded LF */
	CHECK(dsn_envid_valid("a+C3", 4) == 0);	/* decoded 8-bit */
	/* All of it: the 101-byte case reads byte 100 (valgrind saw it
	 * uninitialised when only 100 were set). */
	memset(big, 'x', sizeof(big));
	CHECK(dsn_envid_valid(big, 100) == 1);
	CHECK(dsn_envid_valid(big, 101) == 0);	/* RFC 3461 4.4: 100 */
	CHECK(dsn_envid_stored_valid("abc") == 1);
	CHECK(dsn_envid_stored_valid("ab=c") == 0);
}

static void
test_ret(void)
{
	char	 out[8];

	CHECK(dsn_ret_canon("hdrs", 4, out, sizeof(out)) == 0);
	CHECK_STR(out, "HDRS");
	CHECK(dsn_ret_canon("Full", 4, out, sizeof(out)) == 0);
	CHECK_STR(out, "FULL");
	CHECK(dsn_ret_canon("FULLX", 5, out, sizeof(out)) == -1);
	CHECK(dsn_ret_canon("", 0, out, sizeof(out)) == -1);
	CHECK(dsn_ret_valid("FULL") == 1);
	CHECK(dsn_ret_valid("full") == 0);		/* not canonical */
	CHECK(dsn_ret_valid("") == 0);
}

static int
notify(const char *s, char *out)
{
	return dsn_notify_canon(s, strlen(s), out, DSN_NOTIFY_MAX);
}

static void
test_notify(void)
{
	char	 out[DSN_NOTIFY_MAX];

	CHECK(notify("NEVER", out) == 0);
	CHECK_STR(out, "NEVER");
	CHECK(notify("delay,success", out) == 0);
	CHECK_STR(out, "SUCCESS,DELAY");
	CHECK(notify("FAILURE,DELAY,SUCCESS", out) == 0);
	CHECK_STR(out, "SUCCESS,FAILURE,DELAY");
	CHECK(notify("failure", out) == 0);
	CHECK_STR(out, "FAILURE");
	CHECK(notify("NEVER,SUCCESS", out) == -1);	/* RFC 3461 4.1 */
	CHECK(notify("SUCCESS,NEVER", out) == -1);
	CHECK(notify("NEVER,NEVER", out) == -1);
	CHECK(notify("SUCCESS,SUCCESS", out) == -1);	/* repeated */
	CHECK(notify("SUCCESS,", out) == -1);		/* empty element */
	CHECK(notify(",SUCCESS", out) == -1);
	CHECK(notify("", out) == -1);
	CHECK(notify("SOMETIMES", out) == -1);
	CHECK(dsn_notify_valid("SUCCESS,DELAY") == 1);
	CHECK(dsn_notify_valid("DELAY,SUCCESS") == 0);	/* order */
	CHECK(dsn_notify_valid("success") == 0);
	CHECK(dsn_notify_valid("") == 0);
}

static int
orcpt(const char *s, char *out)
{
	return dsn_orcpt_canon(s, strlen(s), out, DSN_ORCPT_MAX + 1);
}

static void
test_orcpt(void)
{
	char	 out[DSN_ORCPT_MAX + 1], big[DSN_ORCPT_MAX + 16];

	CHECK(orcpt("rfc822;bob@example.org", out) == 0);
	CHECK_STR(out, "rfc822;bob@example.org");
	CHECK(orcpt("RFC822;Bob+2Bx@Example.org", out) == 0);
	CHECK_STR(out, "rfc822;Bob+2Bx@Example.org");	/* type lowered */
	CHECK(orcpt("rfc822;+22john+20doe+22@example.org", out) == 0);
	CHECK(orcpt("UTF-8;j\\x{F6}rg@example.org", out) == 0);
	CHECK_STR(out, "utf-8;j\\x{F6}rg@example.org");
	CHECK(orcpt("utf-8;\\x{1F600}@example.org", out) == 0);
	CHECK(orcpt("utf-8;a\\x{D800}@example.org", out) == -1); /* surrogate */
	CHECK(orcpt("utf-8;a\\x{110000}@x", out) == -1);
	CHECK(orcpt("utf-8;a\\x{F}@x", out) == -1);	/* one digit */
	CHECK(orcpt("utf-8;a\\x{F6@x", out) == -1);	/* unclosed */
	CHECK(orcpt("utf-8;a\\y@x", out) == -1);
	CHECK(orcpt("utf-8;a+2B@x", out) == -1);	/* no "+" there */
	CHECK(orcpt("rfc822;", out) == -1);
	CHECK(orcpt("rfc822", out) == -1);
	CHECK(orcpt("x400;bob", out) == -1);
	CHECK(orcpt(";bob@example.org", out) == -1);
	CHECK(orcpt("rfc822;bob+0D+0A@example.org", out) == -1);
	CHECK(orcpt("rfc822;bob+2@example.org", out) == -1);
	CHECK(orcpt("rfc822;bob=x@example.org", out) == -1);
	memcpy(big, "rfc822;", 7);
	memset(big + 7, 'a', DSN_ORCPT_MAX - 7);
	big[DSN_ORCPT_MAX] = '\0';
	CHECK(orcpt(big, out) == 0);
	big[DSN_ORCPT_MAX] = 'a';
	big[DSN_ORCPT_MAX + 1] = '\0';
	CHECK(orcpt(big, out) == -1);
	CHECK(dsn_orcpt_valid("rfc822;bob@example.org") == 1);
	CHECK(dsn_orcpt_valid("RFC822;bob@example.org") == 0);
	CHECK(dsn_orcpt_valid("") == 0);
}

int
main(void)
{
	test_decode();
	test_envid();
	test_ret();
	test_notify();
	test_orcpt();
	return harness_done();
}
