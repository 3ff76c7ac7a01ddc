/*
 * test_remote_job.c: deliver/remote_job.c, the 'T' request of qmgr:
 * hosts (preference, name, numeric address, port), recipients (numbered
 * in order, DSN values canonical, no byte that could end an SMTP command),
 * the other fields, how much of a bad request can still be answered, and
 * the fields written again after rspawn took the dead hosts out.
 */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "../../deliver/remote.h"
#include "harness.h"

#define QID	"0123456789ABCDEF"

static int
parse(const char *hosts, const char *rcpts, struct remote_job *j)
{
	const char *f[6] = { "r1", QID, "example.org", "may", hosts, rcpts };
	struct buf err = BUF_INIT;
	int rc;

	buf_init(&err, 256);
	rc = remote_job_parse(f, 50, j, &err);
	buf_free(&err);
	return rc;
}

static void
test_good(void)
{
	struct remote_job j;
	struct buf b = BUF_INIT;

	CHECK(parse("10 mx1.example.org 192.0.2.10 25\n"
	    "10 mx1.example.org 2001:db8::10 25\n20 mx2.example.org "
	    "192.0.2.20 2525", "0\ta@example.org\t\t\n"
	    "1\tb@example.org\tSUCCESS,FAILURE\trfc822;b@example.org", &j) == 0);
	CHECK(j.nhosts == 3 && j.nrcpt == 2);
	CHECK(j.hosts[1].pref == 10 && j.hosts[2].port == 2525);
	CHECK_STR(j.hosts[1].addr, "2001:db8::10");
	CHECK_STR(j.hosts[2].name, "mx2.example.org");
	CHECK_STR(j.rcpt[1].notify, "SUCCESS,FAILURE");
	CHECK_STR(j.rcpt[1].orcpt, "rfc822;b@example.org");
	CHECK_STR(j.id, "r1");
	CHECK_STR(j.policy, "may");
	/* written again, the first host taken out */
	j.hosts[0] = j.hosts[2];
	j.nhosts = 2;
	buf_init(&b, 0);
	CHECK(remote_job_hosts(&j, &b) == 0);
	CHECK_STR(buf_str(&b), "20 mx2.example.org 192.0.2.20 2525\n"
	    "10 mx1.example.org 2001:db8::10 25");
	buf_reset(&b);
	CHECK(remote_job_rcpts(&j, &b) == 0);
	CHECK_STR(buf_str(&b), "0\ta@example.org\t\t\n"
	    "1\tb@example.org\tSUCCESS,FAILURE\trfc822;b@example.org");
	buf_free(&b);
	remote_job_free(&j);
	/* a domain literal as the host name */
	CHECK(parse("0 [192.0.2.1] 192.0.2.1 25", "0\ta@[192.0.2.1]\t\t", &j) ==
	    0);
	remote_job_free(&j);
}

static void
test_bad(void)
{
	static const char *badhosts[] = {
		"", "10 mx 192.0.2.1", "10 mx 192.0.2.1 0", "10 mx 192.0.2.1 65536",
		"10 mx host.name 25", "x mx 192.0.2.1 25", "10 mx 192.0.2.1 25\n",
		"10 mx 192.0.2.1 25\n\n10 mx 192.0.2.2 25", "10 m\rx 192.0.2.1 25",
		"10  mx 192.0.2.1 25", "10 mx 192.0.2.1 25 extra",
		"123456 mx 192.0.2.1 25", "10 mx 192.0.2.1 2x5",
	};
	static const char *badrcpts[] = {
		"1\ta@x\t\t", "0\ta@x\t\t\n0\tb@x\t\t", "0\ta@x\t\t\t",
		"0\ta@x\t", "0\t\t\t", "0\ta@x\r\nDATA\t\t", "0\ta@x>\t\t",
		"0\t<a@x\t\t", "0\ta@x\tsometimes\t", "0\ta@x\t\tnot-an-orcpt",
		"0\ta@x\tNEVER,SUCCESS\t", "x\ta@x\t\t",
	};
	const char *f[6];
	struct remote_job j;
	struct buf err = BUF_INIT;
	size_t i;
	char many[50 * 16 + 64];

	for (i = 0; i < sizeof(badhosts) / sizeof(badhosts[0]); i++) {
		CHECK(parse(badhosts[i], "0\ta@x\t\t\n1\tb@x\t\t", &j) == -1);
		CHECK(j.nrcpt == 2);	/* each can still be answered */
		remote_job_free(&j);
	}
	for (i = 0; i < sizeof(badrcpts) / sizeof(badrcpts[0]); i++) {
		CHECK(parse("10 mx 192.0.2.1 25", badrcpts[i], &j) == -1);
		CHECK(j.nrcpt >= 1);	/* its lines can be answered */
		remote_job_free(&j);
	}
	/* no recipients, or too many: nothing to answer */
	CHECK(parse("10 mx 192.0.2.1 25", "", &j) == -1 && j.nrcpt == 0);
	remote_job_free(&j);
	many[0] = '\0';
	for (i = 0; i < 51; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many),
		    "%s%zu\ta@x\t\t", i ? "\n" : "", i);
	CHECK(parse("10 mx 192.0.2.1 25", many, &j) == -1 && j.nrcpt == 0);
	remote_job_free(&j);
	/* the other fields */
	buf_init(&err, 256);
	f[0] = "r1"; f[1] = QID; f[2] = "example.org"; f[3] = "may";
	f[4] = "10 mx 192.0.2.1 25"; f[5] = "0\ta@x\t\t";
	CHECK(remote_job_parse(f, 50, &j, &err) == 0);
	remote_job_free(&j);
	f[3] = "sometimes";
	CHECK(remote_job_parse(f, 50, &j, &err) == -1 && j.nrcpt == 1);
	CHECK_STR(buf_str(&err), "bad TLS policy");
	remote_job_free(&j);
	f[3] = "verify"; f[1] = "../etc/passwd";
	CHECK(remote_job_parse(f, 50, &j, &err) == -1 && j.nrcpt == 1);
	remote_job_free(&j);
	f[1] = QID; f[2] = "a b";
	CHECK(remote_job_parse(f, 50, &j, &err) == -1);
	remote_job_free(&j);
	f[2] = "";
	CHECK(remote_job_parse(f, 50, &j, &err) == -1);
	remote_job_free(&j);
	f[2] = "x"; f[0] = "";
	CHECK(remote_job_parse(f, 50, &j, &err) == -1);
	remote_job_free(&j);
	buf_free(&err);
}

static void
test_result(void)
{
	struct remote_result r;
	char addr[64];
	unsigned port;

	remote_result_set(&r, 'D', "5.1.1", "mx", "a\r\nb\001%s", "");
	CHECK_STR(r.text, "a??b?");
	remote_result_set(&r, 'Z', "4.0.0", "", "%s", "");
	CHECK_STR(r.text, "(no text)");
	CHECK(remote_addr_port("192.0.2.1 25", 12, addr, sizeof(addr),
	    &port) == 0 && port == 25);
	CHECK(remote_addr_port("::1 2525", 8, addr, sizeof(addr), &port) ==
	    0 && port == 2525);
	CHECK_STR(addr, "::1");
	CHECK(remote_addr_port("192.0.2.1", 9, addr, sizeof(addr), &port) ==
	    -1);
	CHECK(remote_addr_port("x 25", 4, addr, sizeof(addr), &port) == -1);
	CHECK(remote_addr_port("192.0.2.1 0", 11, addr, sizeof(addr), &port) ==
	    -1);
}

int
main(void)
{
	test_good();
	test_bad();
	test_result();
	return harness_done();
}
