/*
 * fuzz_dns.c: libFuzzer harness for resolve/dns.c, the DNS answer parser
 * of resolve(8), and for what mx.c and answer.c make of its results.
 *
 * Input: one byte of options, then a packet as a DNS server (or anyone
 * who can spoof one) might send it. The low two bits choose the question
 * it is read as the answer to (MX, A or AAAA of "example.org"), bit 2 a
 * CNAME count already used. Then the same packet is every answer a fake
 * server gives mx_resolve() for "example.org" (the hosts' lookups see it
 * as an answer to another question).
 *
 * Properties:
 *  - dns_parse() returns a status it knows, and fills no more than its
 *    arrays hold; every MX host kept is "" (the null MX) or a host name;
 *    the name the records belong to is a host name; CNAME hops stay
 *    within DNS_CNAME_MAX; an OK answer has a record of the type asked;
 *  - the same bytes read twice give the same result;
 *  - an answer mx_resolve() builds is K with 1 to limit lines, each
 *    "PREF SP HOST SP ADDRESS SP 25", or Z/D with no line at all.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "../../resolve/answer.h"
#include "../../resolve/dns.h"
#include "../../resolve/lookup.h"
#include "../../resolve/mx.h"
#include "buf.h"
#include "fuzz.h"

static const uint8_t	*pkt;
static size_t		 pktlen;

static int
fake_send(void *arg, const char *name, int type, unsigned char *ans,
    size_t size)
{
	(void)arg;
	(void)name;
	(void)type;
	if (pktlen > size)
		return -1;
	memcpy(ans, pkt, pktlen);
	return (int)pktlen;
}

static void
check_result(const struct dns_result *r, int qtype)
{
	size_t i;

	FUZZ_CHECK(r->status >= DNS_OK && r->status <= DNS_LOOP);
	FUZZ_CHECK(r->why != NULL);
	FUZZ_CHECK(r->nmx <= DNS_MX_MAX && r->naddr <= DNS_ADDR_MAX);
	FUZZ_CHECK(r->nmx + r->nbadmx <= r->nmxrr);
	FUZZ_CHECK(r->cnames <= DNS_CNAME_MAX);
	FUZZ_CHECK(dns_hostname_valid(r->name));
	for (i = 0; i < r->nmx; i++)
		FUZZ_CHECK(r->mx[i].host[0] == '\0' ||
		    dns_hostname_valid(r->mx[i].host));
	for (i = 0; i < r->naddr; i++)
		FUZZ_CHECK(r->addr[i].family ==
		    (qtype == DNS_T_A ? AF_INET : AF_INET6));
	if (r->status == DNS_OK)
		FUZZ_CHECK(qtype == DNS_T_MX ? r->nmxrr > 0 : r->naddr > 0);
	if (r->status != DNS_OK)
		FUZZ_CHECK(r->nmx == 0 && r->naddr == 0);
}

static void
check_answer(const struct answer *a)
{
	struct buf	 out = BUF_INIT;
	const char	*p;
	size_t		 lines = 0;

	FUZZ_CHECK(a->status == 'K' || a->status == 'Z' || a->status == 'D');
	buf_init(&out, 0);
	FUZZ_CHECK(answer_format(a, "25", &out) == 0);
	if (a->status != 'K') {
		FUZZ_CHECK(out.len == 0);
		buf_free(&out);
		return;
	}
	FUZZ_CHECK(a->n >= 1 && a->n <= a->limit);
	for (p = buf_str(&out); *p != '\0'; lines++) {
		char pref[8], host[DNS_NAME_MAX + 1], addr[64], port[8];
		const char *nl = strchr(p, '\n');
		char line[512];
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		unsigned char bin[16];

		FUZZ_CHECK(n < sizeof(line));
		memcpy(line, p, n);
		line[n] = '\0';
		FUZZ_CHECK(sscanf(line, "%7s %253s %63s %7s", pref, host, addr,
		    port) == 4);
		FUZZ_CHECK(strcmp(port, "25") == 0);
		FUZZ_CHECK(dns_hostname_valid(host));
		FUZZ_CHECK(inet_pton(AF_INET, addr, bin) == 1 ||
		    inet_pton(AF_INET6, addr, bin) == 1);
		p += n + (nl != NULL);
	}
	FUZZ_CHECK(lines == a->n);
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int types[4] = { DNS_T_MX, DNS_T_A, DNS_T_AAAA,
	    DNS_T_MX };
	static struct dns_result r1, r2;
	static struct lookup lk;
	static struct answer a;
	int qtype;
	unsigned cnames;

	if (size < 1)
		return 0;
	qtype = types[data[0] & 3];
	cnames = data[0] & 4 ? 3 : 0;
	pkt = data + 1;
	pktlen = size - 1;

	dns_parse(pkt, pktlen, "example.org", qtype, cnames, &r1);
	check_result(&r1, qtype);
	dns_parse(pkt, pktlen, "example.org", qtype, cnames, &r2);
	FUZZ_CHECK(r1.status == r2.status && r1.ttl == r2.ttl &&
	    r1.nmx == r2.nmx && r1.naddr == r2.naddr &&
	    strcmp(r1.name, r2.name) == 0 &&
	    memcmp(r1.mx, r2.mx, r1.nmx * sizeof(r1.mx[0])) == 0 &&
	    memcmp(r1.addr, r2.addr, r1.naddr * sizeof(r1.addr[0])) == 0);

	memset(&lk, 0, sizeof(lk));
	lk.send = fake_send;
	answer_init(&a, ANSWER_IPV4 | ANSWER_IPV6, 1 + (data[0] >> 4));
	mx_resolve(&lk, "me.example.net", data[0] & 8 ? 'a' : 'm',
	    "example.org", &a);
	check_answer(&a);
	return 0;
}
