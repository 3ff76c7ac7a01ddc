/*
 * test_cidr.c: common/cidr.c, parsing of relay/access table keys and
 * matching of client addresses, IPv4-mapped IPv6 included.
 */
#include <string.h>

#include "cidr.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include "harness.h"

static int
ok(const char *s)
{
	struct cidr	 c;

	return cidr_parse(s, strlen(s), &c) == 0;
}

static int
in(const char *net, const char *ip)
{
	struct cidr	 n, a;

	if (cidr_parse(net, strlen(net), &n) == -1 ||
	    cidr_parse(ip, strlen(ip), &a) == -1)
		return -1;
	return cidr_match(&n, &a);
}

int
main(void)
{
	struct cidr	 c;

	CHECK(ok("127.0.0.1"));
	CHECK(ok("127.0.0.0/8"));
	CHECK(ok("0.0.0.0/0"));
	CHECK(ok("2001:db8::/32"));
	CHECK(ok("::1"));
	CHECK(ok("::/0"));
	CHECK(ok("::ffff:10.0.0.0/104"));
	CHECK(cidr_parse("192.0.2.0/24", 12, &c) == 0 && c.bits == 24 &&
	    c.family == AF_INET);
	CHECK(cidr_parse("::ffff:10.0.0.0/104", 19, &c) == 0 &&
	    c.family == AF_INET && c.bits == 8);

	CHECK(!ok(""));
	CHECK(!ok("/8"));
	CHECK(!ok("127.0.0.1/"));
	CHECK(!ok("127.0.0.1/33"));
	CHECK(!ok("127.0.0.1/-1"));
	CHECK(!ok("127.0.0.1/+8"));
	CHECK(!ok("127.0.0.1/0008"));
	CHECK(!ok("2001:db8::/129"));
	CHECK(!ok("127.1"));
	CHECK(!ok("localhost"));
	CHECK(!ok("127.0.0.1 "));
	CHECK(!ok("10.0.0.0/8/8"));
	CHECK(!ok("::ffff:10.0.0.0/64"));
	CHECK(cidr_parse("127.0.0.1\0/8", 12, &c) == -1);

	CHECK(in("127.0.0.0/8", "127.0.0.1") == 1);
	CHECK(in("127.0.0.0/8", "128.0.0.1") == 0);
	CHECK(in("192.0.2.0/24", "192.0.2.255") == 1);
	CHECK(in("192.0.2.0/24", "192.0.3.0") == 0);
	CHECK(in("192.0.2.1/24", "192.0.2.77") == 1);	/* host bits */
	CHECK(in("192.0.2.128/25", "192.0.2.127") == 0);
	CHECK(in("192.0.2.128/25", "192.0.2.200") == 1);
	CHECK(in("10.1.2.3", "10.1.2.3") == 1);
	CHECK(in("10.1.2.3", "10.1.2.4") == 0);
	CHECK(in("0.0.0.0/0", "203.0.113.9") == 1);
	CHECK(in("0.0.0.0/0", "2001:db8::1") == 0);	/* family */
	CHECK(in("::/0", "127.0.0.1") == 0);
	CHECK(in("2001:db8::/32", "2001:db8:ffff::1") == 1);
	CHECK(in("2001:db8::/32", "2001:db9::1") == 0);
	CHECK(in("2001:db8::/33", "2001:db8:8000::1") == 0);
	CHECK(in("::1", "::1") == 1);
	/* IPv4-mapped IPv6 is IPv4, on either side. */
	CHECK(in("127.0.0.0/8", "::ffff:127.0.0.1") == 1);
	CHECK(in("::ffff:127.0.0.0/104", "127.9.9.9") == 1);
	CHECK(in("::ffff:127.0.0.1", "127.0.0.1") == 1);
	CHECK(in("127.0.0.0/8", "::127.0.0.1") == 0);	/* compat: not v4 */
		{
		struct sockaddr_in	 sin;
		struct sockaddr_in6	 sin6;
		struct cidr		 a;
		const char		*bad;
		size_t			 badlen;

		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
		CHECK(cidr_from_sockaddr((struct sockaddr *)&sin, &a) == 0);
		CHECK(cidr_list_match("127.0.0.0/8 ::1", &a, NULL, NULL) == 1);
		CHECK(cidr_list_match("10.0.0.0/8, ::1", &a, NULL, NULL) == 0);
		CHECK(cidr_list_match("", &a, NULL, NULL) == 0);
		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		inet_pton(AF_INET6, "::ffff:127.0.0.2", &sin6.sin6_addr);
		CHECK(cidr_from_sockaddr((struct sockaddr *)&sin6, &a) == 0);
		CHECK(a.family == AF_INET);	/* mapped: judged as IPv4 */
		CHECK(cidr_list_match("127.0.0.0/8", &a, NULL, NULL) == 1);
		inet_pton(AF_INET6, "::1", &sin6.sin6_addr);
		CHECK(cidr_from_sockaddr((struct sockaddr *)&sin6, &a) == 0);
		CHECK(cidr_list_match("127.0.0.0/8 ::1", &a, NULL, NULL) == 1);
		CHECK(cidr_list_match("127.0.0.0/8 bogus/99 ::1", &a, &bad,
		    &badlen) == -1);
		CHECK(badlen == 8 && strncmp(bad, "bogus/99", 8) == 0);
	}
	return harness_done();
}
