/*
 * dns.h: reading one DNS answer packet (RFC 1035 4), nothing else.
 *
 * Why our own parser rather than ns_initparse()/dn_expand(): resolve must
 * know, per label and on the wire, whether a name is a host name (a label
 * holding "." or a NUL byte is not, and dn_expand() would only escape it),
 * and the parser must be a pure function over a buffer so that the unit
 * tests and tests/fuzz/fuzz_dns.c can feed it any bytes at all.
 *
 * dns_parse() reads the answer to one question (qname, qtype) and fills a
 * struct dns_result. It never reads outside [pkt, pkt + len): every count,
 * length and compression pointer is checked, and a pointer must point
 * backwards, so a packet cannot make it loop. Whatever is wrong with a
 * packet ends in a status (DNS_MALFORMED, DNS_TEMP, ...), never in a crash.
 */
#ifndef POSTERN_DNS_H
#define POSTERN_DNS_H

#include <stddef.h>
#include <stdint.h>

#define DNS_NAME_MAX	253	/* a host name's text, no trailing dot */
#define DNS_MX_MAX	32	/* MX records kept from one answer */
#define DNS_ADDR_MAX	100	/* addresses kept: resolve_address_limit's
				 * ceiling in conf.c */
#define DNS_CNAME_MAX	8	/* CNAME hops followed, over every query
				 * of one lookup */
#define DNS_PACKET_MAX	65536	/* the largest answer (over TCP) */

#define DNS_T_A		1
#define DNS_T_CNAME	5
#define DNS_T_SOA	6
#define DNS_T_MX	15
#define DNS_T_AAAA	28

enum dns_status {
	DNS_OK,		/* records of qtype at r->name */
	DNS_NODATA,	/* the name exists, but has no record of qtype */
	DNS_NXDOMAIN,	/* no such name (RFC 1035 rcode 3) */
	DNS_CNAME,	/* a CNAME chain ends at r->name, whose records are
			 * not in this packet: ask again for r->name */
	DNS_TEMP,	/* SERVFAIL, REFUSED, truncated, no answer at all */
	DNS_MALFORMED,	/* not a well-formed answer to our question */
	DNS_BADNAME,	/* a CNAME target is not a host name */
	DNS_LOOP	/* more than DNS_CNAME_MAX CNAMEs: a loop, or near */
};

struct dns_mx {
	unsigned	 pref;
	char		 host[DNS_NAME_MAX + 1];	/* "": the root */
};

struct dns_addr {
	int		 family;	/* AF_INET or AF_INET6 */
	unsigned char	 a[16];		/* 4 or 16 bytes, network order */
};

struct dns_result {
	enum dns_status	 status;
	const char	*why;		/* static text for a reply, "" if OK */
	uint32_t	 ttl;		/* DNS_OK: the smallest TTL of the
					 * records used, CNAMEs included;
					 * NXDOMAIN/NODATA: the SOA's negative
					 * TTL (RFC 2308 5) when soa is set */
	int		 soa;		/* a SOA came with a negative answer */
	unsigned	 cnames;	/* CNAME hops followed */
	char		 name[DNS_NAME_MAX + 1];	/* the owner of the
					 * records, after the CNAMEs */
	size_t		 nmxrr;		/* MX records at name, every one
					 * (RFC 7505: a null MX is alone) */
	size_t		 nbadmx;	/* of which with a target that is not
					 * a host name (left out of mx[]) */
	size_t		 nmx;
	struct dns_mx	 mx[DNS_MX_MAX];	/* in packet order; a "."
					 * target kept as "" */
	size_t		 naddr;
	struct dns_addr	 addr[DNS_ADDR_MAX];	/* in packet order */
};

/* Read the answer to (qname, qtype) in pkt. Returns r->status; r is
 * always filled (r->name = qname, or the end of a CNAME chain). qname must
 * be a host name (dns_hostname_valid()). cnames is the count of CNAME hops
 * already followed by earlier queries of the same lookup. */
enum dns_status dns_parse(const unsigned char *pkt, size_t len,
	    const char *qname, int qtype, unsigned cnames,
	    struct dns_result *r);

/* A host name: LDH labels of 1 to 63 octets (RFC 1123 2.1, RFC 5321
 * 4.1.2), at most DNS_NAME_MAX octets, no trailing dot, and a last label
 * that is not all digits (so that "192.0.2.1" is never taken for a
 * name). 1 or 0. */
int	 dns_hostname_valid(const char *);

#endif
