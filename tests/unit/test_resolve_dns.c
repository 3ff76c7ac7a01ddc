/*
 * test_resolve_dns.c: resolve/dns.c and resolve/literal.c against answer
 * packets made by hand (dnspkt.h): each record type, TTLs (the smallest,
 * CNAMEs included; a negative answer's from its SOA, RFC 2308), CNAME
 * chains and loops, names that are not host names, and broken packets of
 * every kind, which must end in a status and never in a crash (every
 * prefix of a good packet is read too). Then the host name rule and the
 * domain literals.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <bsd/string.h>

#include "../../resolve/dns.h"
#include "../../resolve/literal.h"
#include "harness.h"
#include "dnspkt.h"

static struct dns_result r;

static enum dns_status
parse(const struct pkt *p, const char *qname, int qtype)
{
	return dns_parse(p->b, p->len, qname, qtype, 0, &r);
}

static void
test_mx(void)
{
	struct pkt p;

	pkt_start(&p, "example.org", DNS_T_MX, 0);
	pkt_mx(&p, "example.org", 3600, 20, "mx2.example.org");
	pkt_mx(&p, "EXAMPLE.org", 300, 10, "mx1.example.org");
	pkt_mx(&p, "other.example", 5, 5, "nope.example.org");	/* not ours */
	CHECK(parse(&p, "example.org", DNS_T_MX) == DNS_OK);
	CHECK(r.nmx == 2 && r.nmxrr == 2 && r.nbadmx == 0);
	CHECK(r.mx[0].pref == 20);
	CHECK_STR(r.mx[0].host, "mx2.example.org");
	CHECK(r.mx[1].pref == 10);
	CHECK_STR(r.mx[1].host, "mx1.example.org");
	CHECK(r.ttl == 300);	/* the smallest of the RRset */
	CHECK_STR(r.name, "example.org");
	/* The question is matched without regard to case (RFC 4343). */
	CHECK(parse(&p, "Example.ORG", DNS_T_MX) == DNS_OK);

	/* A null MX (RFC 7505): the root as target, kept as "". */
	pkt_start(&p, "example.org", DNS_T_MX, 0);
	pkt_mx(&p, "example.org", 86400, 0, "");
	CHECK(parse(&p, "example.org", DNS_T_MX) == DNS_OK);
	CHECK(r.nmx == 1 && r.nmxrr == 1);
	CHECK_STR(r.mx[0].host, "");
	CHECK(r.mx[0].pref == 0);
}

static void
test_bad_targets(void)
{
	struct pkt p;
	static const unsigned char dotlabel[] = {
		0, 10, 7, 'm', 'x', '.', 'e', 'v', 'i', 'l', 3, 'o', 'r', 'g', 0
	};

	pkt_start(&p, "example.org", DNS_T_MX, 0);
	pkt_mx(&p, "example.org", 60, 10, "bad_host.example.org");
	pkt_mx(&p, "example.org", 60, 10, "192.0.2.1");	/* an address */
	pkt_mx(&p, "example.org", 60, 10, "-x.example.org");
	pkt_mx(&p, "example.org", 60, 10, "x-.example.org");
	pkt_rr(&p, "example.org", DNS_T_MX, 60, dotlabel, sizeof(dotlabel));
	pkt_mx(&p, "example.org", 60, 20, "good.example.org");
	CHECK(parse(&p, "example.org", DNS_T_MX) == DNS_OK);
	CHECK(r.nmxrr == 6);
	CHECK(r.nbadmx == 5);
	CHECK(r.nmx == 1);
	CHECK_STR(r.mx[0].host, "good.example.org");

	/* A label of 64 bytes cannot be written (the length byte's top
	 * bits would say "pointer"); one of 63 is a host name's. */
	{
		char l63[200];

		memset(l63, 'a', 63);
		strlcpy(l63 + 63, ".example.org", sizeof(l63) - 63);
		pkt_start(&p, "example.org", DNS_T_MX, 0);
		pkt_mx(&p, "example.org", 60, 10, l63);
		CHECK(parse(&p, "example.org", DNS_T_MX) == DNS_OK);
		CHECK(r.nmx == 1);
	}
}

static void
test_addresses(void)
{
	struct pkt p;
	unsigned char want[16];

	pkt_start(&p, "mx1.example.org", DNS_T_AAAA, 0);
	pkt_a(&p, "mx1.example.org", 100, "2001:db8::10");
	pkt_a(&p, "mx1.example.org", 50, "2001:db8::11");
	CHECK(parse(&p, "mx1.example.org", DNS_T_AAAA) == DNS_OK);
	CHECK(r.naddr == 2 && r.ttl == 50);
	inet_pton(AF_INET6, "2001:db8::11", want);
	CHECK(r.addr[1].family == AF_INET6 &&
	    memcmp(r.addr[1].a, want, 16) == 0);

	pkt_start(&p, "mx1.example.org", DNS_T_A, 0);
	pkt_a(&p, "mx1.example.org", 100, "192.0.2.10");
	CHECK(parse(&p, "mx1.example.org", DNS_T_A) == DNS_OK);
	inet_pton(AF_INET, "192.0.2.10", want);
	CHECK(r.naddr == 1 && r.addr[0].family == AF_INET &&
	    memcmp(r.addr[0].a, want, 4) == 0);

	/* An A record of 5 bytes is a broken packet. */
	pkt_start(&p, "mx1.example.org", DNS_T_A, 0);
	pkt_rr(&p, "mx1.example.org", DNS_T_A, 100, "\1\2\3\4\5", 5);
	CHECK(parse(&p, "mx1.example.org", DNS_T_A) == DNS_MALFORMED);

	/* RFC 2181 8: a TTL with its top bit set counts as 0. */
	pkt_start(&p, "mx1.example.org", DNS_T_A, 0);
	pkt_a(&p, "mx1.example.org", 0x80000010U, "192.0.2.10");
	CHECK(parse(&p, "mx1.example.org", DNS_T_A) == DNS_OK);
	CHECK(r.ttl == 0);

	/* More addresses than DNS_ADDR_MAX: the rest are left out. */
	{
		int i;
		char a[32];

		pkt_start(&p, "big.example.org", DNS_T_A, 0);
		for (i = 0; i < DNS_ADDR_MAX + 20; i++) {
			snprintf(a, sizeof(a), "10.0.%d.%d", i / 250, i % 250);
			pkt_a(&p, "big.example.org", 60, a);
		}
		CHECK(parse(&p, "big.example.org", DNS_T_A) == DNS_OK);
		CHECK(r.naddr == DNS_ADDR_MAX);
	}
}

static void
test_negative(void)
{
	struct pkt p;

	pkt_start(&p, "nx.example.org", DNS_T_MX, 3);
	pkt_soa(&p, "example.org", 3600, 900);
	CHECK(parse(&p, "nx.example.org", DNS_T_MX) == DNS_NXDOMAIN);
	CHECK(r.soa == 1 && r.ttl == 900);

	pkt_start(&p, "nx.example.org", DNS_T_MX, 3);
	pkt_soa(&p, "example.org", 120, 900);	/* the SOA's own TTL */
	CHECK(parse(&p, "nx.example.org", DNS_T_MX) == DNS_NXDOMAIN);
	CHECK(r.ttl == 120);

	pkt_start(&p, "nx.example.org", DNS_T_MX, 3);
	CHECK(parse(&p, "nx.example.org", DNS_T_MX) == DNS_NXDOMAIN);
	CHECK(r.soa == 0);

	pkt_start(&p, "example.org", DNS_T_MX, 0);
	pkt_soa(&p, "example.org", 3600, 300);
	CHECK(parse(&p, "example.org", DNS_T_MX) == DNS_NODATA);
	CHECK(r.soa == 1 && r.ttl == 300);

	/* Other types at the name are not ours: still NODATA. */
	pkt_start(&p, "example.org", DNS_T_MX, 0);
	pkt_a(&p, "example.org", 60, "192.0.2.1");
	CHECK(parse(&p, "example.org", DNS_T_MX) == DNS_NODATA);

	/* A broken SOA is a broken packet. */
	pkt_start(&p, "nx.example.org", DNS_T_MX, 3);
	p.auth = 1;
	pkt_rr(&p, "example.org", DNS_T_SOA, 60, "\0\0\0\0", 4);
	CHECK(parse(&p, "nx.example.org", DNS_T_MX) == DNS_MALFORMED);
}

static void
test_rcodes(void)
{
	struct pkt p;

	pkt_start(&p, "example.org", DNS_T_MX, 2);
	CHECK(parse(&p, "example.org", DNS_T_MX) == DNS_TEMP);
	CHECK(strstr(r.why, "SERVFAIL") != NULL);
	pkt_start(&p, "example.org", DNS_T_MX, 5);
	CHECK(parse(&p, "example.org", DNS_T_MX) == DNS_TEMP);
	CHECK(strstr(r.why, "REFUSED") != NULL);
	pkt_start(&p, "example.org", DNS_T_MX, 1);
	CHECK(parse(&p, "example.org", DNS_T_MX) == DNS_TEMP);

	/* Truncated (TC): never read as complete. */
	pkt_start(&p, "example.org", DNS_T_MX, 0);
	pkt_mx(&p, "example.org", 60, 10, "mx1.example.org");
	p.b[2] |= 0x02;
	CHECK(parse(&p, "example.org", DNS_T_MX) == DNS_TEMP);

	/* A query (QR 0) is not an answer. */
	pkt_start(&p, "example.org", DNS_T_MX, 0);
	p.b[2] &= 0x7f;
	CHECK(parse(&p, "example.org", DNS_T_MX) == DNS_MALFORMED);

	/* An answer to another question. */
	pkt_start(&p, "example.net", DNS_T_MX, 0);
	pkt_mx(&p, "example.org", 60, 10, "mx1.example.org");
	CHECK(parse(&p, "example.org", DNS_T_MX) == DNS_MALFORMED);
	pkt_start(&p, "example.org", DNS_T_A, 0);
	CHECK(parse(&p, "example.org", DNS_T_MX) == DNS_MALFORMED);
	pkt_start(&p, "example.org", DNS_T_MX, 0);
	p.b[5] = 0;	/* no question */
	CHECK(parse(&p, "example.org", DNS_T_MX) == DNS_MALFORMED);
	p.b[5] = 2;	/* two */
	CHECK(parse(&p, "example.org", DNS_T_MX) == DNS_MALFORMED);

	/* An answer count that promises more records than there are. */
	pkt_start(&p, "example.org", DNS_T_MX, 0);
	pkt_mx(&p, "example.org", 60, 10, "mx1.example.org");
	p.b[7] = 2;
	CHECK(parse(&p, "example.org", DNS_T_MX) == DNS_MALFORMED);
}

static void
test_cname(void)
{
	struct pkt p;
	char a[32], b[32];
	int i;

	/* A chain, out of order, with the records at its end. */
	pkt_start(&p, "www.example.org", DNS_T_A, 0);
	pkt_a(&p, "web.example.net", 300, "192.0.2.80");
	pkt_cname(&p, "alias.example.com", 60, "web.example.net");
	pkt_cname(&p, "www.example.org", 3600, "alias.example.com");
	CHECK(parse(&p, "www.example.org", DNS_T_A) == DNS_OK);
	CHECK_STR(r.name, "web.example.net");
	CHECK(r.cnames == 2 && r.naddr == 1);
	CHECK(r.ttl == 60);	/* the CNAME's TTL counts */

	/* The chain's end is not in the packet: ask again for it. */
	pkt_start(&p, "www.example.org", DNS_T_A, 0);
	pkt_cname(&p, "www.example.org", 3600, "web.example.net");
	CHECK(parse(&p, "www.example.org", DNS_T_A) == DNS_CNAME);
	CHECK_STR(r.name, "web.example.net");
	/* ... unless a SOA says it has nothing of that type. */
	pkt_soa(&p, "example.net", 3600, 30);
	CHECK(parse(&p, "www.example.org", DNS_T_A) == DNS_NODATA);
	CHECK(r.ttl == 30);

	/* A loop in one packet. */
	pkt_start(&p, "a.example.org", DNS_T_MX, 0);
	pkt_cname(&p, "a.example.org", 60, "b.example.org");
	pkt_cname(&p, "b.example.org", 60, "a.example.org");
	CHECK(parse(&p, "a.example.org", DNS_T_MX) == DNS_LOOP);

	/* DNS_CNAME_MAX hops are followed, one more is a loop. */
	pkt_start(&p, "c0.example.org", DNS_T_A, 0);
	for (i = 0; i < DNS_CNAME_MAX; i++) {
		snprintf(a, sizeof(a), "c%d.example.org", i);
		snprintf(b, sizeof(b), "c%d.example.org", i + 1);
		pkt_cname(&p, a, 60, b);
	}
	pkt_a(&p, b, 60, "192.0.2.1");
	CHECK(parse(&p, "c0.example.org", DNS_T_A) == DNS_OK);
	CHECK(r.cnames == DNS_CNAME_MAX);
	/* Hops of earlier packets count too. */
	CHECK(dns_parse(p.b, p.len, "c0.example.org", DNS_T_A, 1, &r) ==
	    DNS_LOOP);

	/* A CNAME whose target is not a host name. */
	pkt_start(&p, "www.example.org", DNS_T_A, 0);
	pkt_cname(&p, "www.example.org", 60, "under_score.example.org");
	CHECK(parse(&p, "www.example.org", DNS_T_A) == DNS_BADNAME);
	pkt_start(&p, "www.example.org", DNS_T_A, 0);
	pkt_cname(&p, "www.example.org", 60, "");
	CHECK(parse(&p, "www.example.org", DNS_T_A) == DNS_BADNAME);
}

/* Pointers: backwards works, forwards, to itself and in a loop do not. */
static void
test_compression(void)
{
	struct pkt p;
	size_t qoff = 12;

	/* MX target "mx1" + pointer to the question name. */
	pkt_start(&p, "example.org", DNS_T_MX, 0);
	pkt_byte(&p, 0xc0);
	pkt_byte(&p, (unsigned)qoff);	/* owner: the question's name */
	pkt_16(&p, DNS_T_MX);
	pkt_16(&p, 1);
	pkt_32(&p, 60);
	pkt_16(&p, 2 + 4 + 2);
	pkt_16(&p, 10);
	pkt_byte(&p, 3);
	pkt_raw(&p, "mx1", 3);
	pkt_byte(&p, 0xc0);
	pkt_byte(&p, (unsigned)qoff);
	p.b[7] = 1;
	CHECK(parse(&p, "example.org", DNS_T_MX) == DNS_OK);
	CHECK(r.nmx == 1);
	CHECK_STR(r.mx[0].host, "mx1.example.org");

	/* The same, the target's pointer aimed at itself. */
	p.b[p.len - 1] = (unsigned char)(p.len - 2);
	CHECK(parse(&p, "example.org", DNS_T_MX) == DNS_MALFORMED);
	/* ... and forwards, past the end. */
	p.b[p.len - 1] = 0xff;
	CHECK(parse(&p, "example.org", DNS_T_MX) == DNS_MALFORMED);

	/* Two pointers that point at each other. */
	pkt_start(&p, "example.org", DNS_T_MX, 0);
	{
		size_t at = p.len;

		pkt_byte(&p, 0xc0);
		pkt_byte(&p, (unsigned)(at + 2));
		pkt_byte(&p, 0xc0);
		pkt_byte(&p, (unsigned)at);
		pkt_16(&p, DNS_T_MX);
		pkt_16(&p, 1);
		pkt_32(&p, 60);
		pkt_16(&p, 0);
		p.b[7] = 1;
		CHECK(parse(&p, "example.org", DNS_T_MX) == DNS_MALFORMED);
	}

	/* A label type of 0x40 (RFC 6891's extended labels, gone). */
	pkt_start(&p, "example.org", DNS_T_MX, 0);
	pkt_byte(&p, 0x41);
	pkt_byte(&p, 'x');
	pkt_byte(&p, 0);
	p.b[7] = 1;
	CHECK(parse(&p, "example.org", DNS_T_MX) == DNS_MALFORMED);
}

/* A name longer than 255 octets on the wire is malformed. */
static void
test_long_name(void)
{
	struct pkt p;
	char name[400];
	size_t i;

	/* Five labels of 50 and "org": 258 characters, 260 on the wire. */
	for (i = 0; i < 5; i++) {
		memset(name + i * 51, 'a', 50);
		name[i * 51 + 50] = '.';
	}
	strlcpy(name + 255, "org", sizeof(name) - 255);
	pkt_start(&p, "example.org", DNS_T_MX, 0);
	pkt_mx(&p, "example.org", 60, 10, name);
	CHECK(parse(&p, "example.org", DNS_T_MX) == DNS_MALFORMED);
}

/* Every prefix and every single-byte change of a good packet: a status,
 * never a crash (ASan watches), and only the whole packet is DNS_OK. */
static void
test_damage(void)
{
	struct pkt p, q;
	size_t n, i;
	int oks = 0, b;

	pkt_start(&p, "www.example.org", DNS_T_MX, 0);
	pkt_cname(&p, "www.example.org", 60, "example.org");
	pkt_mx(&p, "example.org", 60, 10, "mx1.example.org");
	pkt_mx(&p, "example.org", 60, 20, "mx2.example.org");
	pkt_soa(&p, "example.org", 60, 60);
	for (n = 0; n < p.len; n++) {
		struct dns_result *x = malloc(sizeof(*x));

		/* An exact-size copy, so ASan sees a read past its end. */
		unsigned char *c = malloc(n ? n : 1);

		memcpy(c, p.b, n);
		if (dns_parse(c, n, "www.example.org", DNS_T_MX, 0, x) ==
		    DNS_OK)
			oks++;
		free(c);
		free(x);
	}
	CHECK(oks == 0);
	CHECK(parse(&p, "www.example.org", DNS_T_MX) == DNS_OK);
	for (i = 0; i < p.len; i++)
		for (b = 0; b < 8; b++) {
			q = p;
			q.b[i] ^= (unsigned char)(1 << b);
			(void)dns_parse(q.b, q.len, "www.example.org",
			    DNS_T_MX, 0, &r);
			CHECK(r.nmx <= DNS_MX_MAX && r.naddr <= DNS_ADDR_MAX);
		}
}

static void
test_hostname(void)
{
	char s[300];

	CHECK(dns_hostname_valid("example.org"));
	CHECK(dns_hostname_valid("MX1.Example.ORG"));
	CHECK(dns_hostname_valid("localhost"));
	CHECK(dns_hostname_valid("xn--bcher-kva.example"));
	CHECK(dns_hostname_valid("3com.com"));
	CHECK(dns_hostname_valid("a-b.c0"));
	CHECK(!dns_hostname_valid(""));
	CHECK(!dns_hostname_valid("example.org."));
	CHECK(!dns_hostname_valid(".example.org"));
	CHECK(!dns_hostname_valid("a..b"));
	CHECK(!dns_hostname_valid("-a.org"));
	CHECK(!dns_hostname_valid("a-.org"));
	CHECK(!dns_hostname_valid("a_b.org"));
	CHECK(!dns_hostname_valid("exa mple.org"));
	CHECK(!dns_hostname_valid("192.0.2.1"));
	CHECK(!dns_hostname_valid("a.123"));
	CHECK(!dns_hostname_valid("b\xc3\xbc" "cher.example"));
	CHECK(!dns_hostname_valid("[192.0.2.1]"));
	memset(s, 'a', 64);
	strlcpy(s + 64, ".org", sizeof(s) - 64);
	CHECK(!dns_hostname_valid(s));		/* a label of 64 */
	memmove(s, s + 1, strlen(s));		/* a label of 63 */
	CHECK(dns_hostname_valid(s));
	/* 253 characters is the most; 254 is one too many. */
	memset(s, 0, sizeof(s));
	for (size_t i = 0; i < 253; i++)
		s[i] = i % 50 == 49 ? '.' : 'a';
	CHECK(strlen(s) == 253 && dns_hostname_valid(s));
	s[253] = 'a';
	CHECK(!dns_hostname_valid(s));
}

static void
test_literal(void)
{
	struct dns_addr a;
	unsigned char want[16];

	CHECK(literal_parse("example.org", &a) == 0);
	CHECK(literal_parse("", &a) == 0);
	CHECK(literal_parse("[192.0.2.1]", &a) == 1);
	inet_pton(AF_INET, "192.0.2.1", want);
	CHECK(a.family == AF_INET && memcmp(a.a, want, 4) == 0);
	CHECK(literal_parse("[IPv6:2001:db8::1]", &a) == 1);
	inet_pton(AF_INET6, "2001:db8::1", want);
	CHECK(a.family == AF_INET6 && memcmp(a.a, want, 16) == 0);
	CHECK(literal_parse("[ipv6:::1]", &a) == 1);
	CHECK(literal_parse("[IPv6:::ffff:192.0.2.1]", &a) == 1);
	CHECK(literal_parse("[300.0.2.1]", &a) == -1);
	CHECK(literal_parse("[1.2.3]", &a) == -1);
	CHECK(literal_parse("[01.2.3.4]", &a) == -1);
	CHECK(literal_parse("[192.0.2.1", &a) == -1);
	CHECK(literal_parse("[]", &a) == -1);
	CHECK(literal_parse("[", &a) == -1);
	CHECK(literal_parse("[2001:db8::1]", &a) == -1);	/* no tag */
	CHECK(literal_parse("[IPv6:192.0.2.1]", &a) == -1);
	CHECK(literal_parse("[IPv6:fe80::1%eth0]", &a) == -1);
	CHECK(literal_parse("[x-tag:text]", &a) == -1);
	CHECK(literal_parse("[192.0.2.1]x", &a) == -1);
	CHECK(literal_parse("[192.0.2.1 ]", &a) == -1);
}

int
main(void)
{
	test_mx();
	test_bad_targets();
	test_addresses();
	test_negative();
	test_rcodes();
	test_cname();
	test_compression();
	test_long_name();
	test_damage();
	test_hostname();
	test_literal();
	return harness_done();
}
