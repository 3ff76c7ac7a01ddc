/*
 * dns.c: reading one DNS answer packet (see dns.h).
 *
 * Called by lookup.c with the bytes res_nsend() returned, and by the unit
 * tests and the fuzzer with any bytes at all; it keeps no state. The answer
 * section is walked once to check its structure, then once per CNAME hop
 * (at most DNS_CNAME_MAX + 1 walks): records may come in any order, and a
 * packet is at most 64 KiB, so the walks are cheap and nothing is stored
 * but what the caller asked for.
 *
 * A name is decoded on the wire (RFC 1035 4.1.4): a label is a length byte
 * (at most 63) and that many bytes, a compression pointer must point
 * before every place the name has been read from so far (no loop can be
 * built), and the whole name is at most 255 octets on the wire, which is at
 * most DNS_NAME_MAX as text. A label that is not LDH makes the name "not a
 * host name": it is never compared equal to one, and never used as one.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <bsd/string.h>

#include "addr.h"
#include "dns.h"

#define DNS_HDR		12
#define DNS_C_IN	1
#define DNS_WIRE_MAX	255	/* RFC 1035 2.3.4, root byte included */

/* One resource record, as found; rdata stays in the packet. */
struct dns_rr {
	char		 owner[DNS_NAME_MAX + 1];
	int		 host;		/* owner is LDH (comparable) */
	unsigned	 type, class;
	uint32_t	 ttl;
	size_t		 rdoff, rdlen;
};

static unsigned
dns_get16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static uint32_t
dns_get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static int
dns_ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-';
}

/*
 * The name at off: its text into out ("" for the root), *ldh = 1 when
 * every label is LDH (no hyphen at either end), *end = the offset right
 * after the name where it stands. 0, or -1 when the name is malformed.
 */
static int
dns_name(const unsigned char *pkt, size_t len, size_t off,
    char out[DNS_NAME_MAX + 1], int *ldh, size_t *end)
{
	size_t	 pos = off, limit = off, n = 0, wire = 0, i, ptr;
	unsigned c;
	int	 jumped = 0;

	*ldh = 1;
	for (;;) {
		if (pos >= len)
			return -1;
		c = pkt[pos];
		if ((c & 0xc0) == 0xc0) {
			if (pos + 1 >= len)
				return -1;
			ptr = (size_t)(c & 0x3f) << 8 | pkt[pos + 1];
			if (!jumped)
				*end = pos + 2;
			jumped = 1;
			/* Strictly backwards from everywhere we have been:
			 * each jump lowers limit, so the walk ends. */
			if (ptr >= limit)
				return -1;
			limit = pos = ptr;
			continue;
		}
		if ((c & 0xc0) != 0)	/* 0x40, 0x80: obsolete label types */
			return -1;
		if (c == 0)
			break;
		/* Room for this label and the root byte after it. */
		wire += c + 1;
		if (wire + 1 > DNS_WIRE_MAX || pos + 1 + c > len)
			return -1;
		if (n > 0)
			out[n++] = '.';
		if (pkt[pos + 1] == '-' || pkt[pos + c] == '-')
			*ldh = 0;
		for (i = 0; i < c; i++) {
			unsigned char b = pkt[pos + 1 + i];

			if (!dns_ldh(b)) {
				*ldh = 0;
				b = '?';	/* never NUL, never '.' */
			}
			out[n++] = (char)b;
		}
		pos += 1 + c;
	}
	if (!jumped)
		*end = pos + 1;
	out[n] = '\0';
	return 0;
}

/* The record at *off; *off moves past it. 0 or -1 (malformed). */
static int
dns_rr_read(const unsigned char *pkt, size_t len, size_t *off,
    struct dns_rr *rr)
{
	size_t p;

	if (dns_name(pkt, len, *off, rr->owner, &rr->host, &p) == -1)
		return -1;
	if (p + 10 > len)
		return -1;
	rr->type = dns_get16(pkt + p);
	rr->class = dns_get16(pkt + p + 2);
	rr->ttl = dns_get32(pkt + p + 4);
	/* RFC 2181 8: a TTL with the top bit set counts as 0. */
	if (rr->ttl & 0x80000000U)
		rr->ttl = 0;
	rr->rdlen = dns_get16(pkt + p + 8);
	rr->rdoff = p + 10;
	if (rr->rdoff + rr->rdlen > len)
		return -1;
	*off = rr->rdoff + rr->rdlen;
	return 0;
}

/* A name that must fill the rdata from off to its end exactly. */
static int
dns_rdata_name(const unsigned char *pkt, size_t off, size_t rdend,
    char out[DNS_NAME_MAX + 1], int *ldh)
{
	size_t end;

	/* Bounded by the rdata: a pointer may only go backwards. */
	if (off >= rdend || dns_name(pkt, rdend, off, out, ldh, &end) == -1)
		return -1;
	return end == rdend ? 0 : -1;
}

static enum dns_status
dns_fail(struct dns_result *r, enum dns_status st, const char *why)
{
	r->status = st;
	r->why = why;
	r->nmx = r->nmxrr = r->nbadmx = r->naddr = 0;
	return st;
}

static const char *
dns_rcode_text(unsigned rcode)
{
	switch (rcode) {
	case 1:
		return "DNS format error (FORMERR)";
	case 2:
		return "DNS server failure (SERVFAIL)";
	case 4:
		return "query not implemented by the DNS server (NOTIMP)";
	case 5:
		return "query refused by the DNS server (REFUSED)";
	default:
		return "DNS error";
	}
}

static uint32_t
dns_min(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* The first SOA of the authority section: its negative TTL (RFC 2308 5:
 * the smaller of the SOA record's TTL and its MINIMUM field). */
static int
dns_soa(const unsigned char *pkt, size_t len, size_t off, unsigned ns,
    uint32_t *ttl)
{
	struct dns_rr	 rr;
	char		 name[DNS_NAME_MAX + 1];
	size_t		 p, end;
	unsigned	 i;
	int		 ldh;

	for (i = 0; i < ns; i++) {
		if (dns_rr_read(pkt, len, &off, &rr) == -1)
			return -1;
		if (rr.type != DNS_T_SOA || rr.class != DNS_C_IN)
			continue;
		end = rr.rdoff + rr.rdlen;
		/* mname, rname, then five 32-bit fields. */
		if (dns_name(pkt, end, rr.rdoff, name, &ldh, &p) == -1 ||
		    dns_name(pkt, end, p, name, &ldh, &p) == -1 ||
		    p + 20 != end)
			return -1;
		*ttl = dns_min(rr.ttl, dns_get32(pkt + p + 16));
		return 1;
	}
	return 0;
}

/* The CNAME at name in the answer section: 1 and its target in target,
 * 0 none, -1 malformed. */
static int
dns_cname_at(const unsigned char *pkt, size_t len, size_t off, unsigned an,
    const char *name, char target[DNS_NAME_MAX + 1], int *host,
    uint32_t *ttl)
{
	struct dns_rr	 rr;
	unsigned	 i;

	for (i = 0; i < an; i++) {
		if (dns_rr_read(pkt, len, &off, &rr) == -1)
			return -1;
		if (rr.type != DNS_T_CNAME || rr.class != DNS_C_IN ||
		    !rr.host || strcasecmp(rr.owner, name) != 0)
			continue;
		if (dns_rdata_name(pkt, rr.rdoff, rr.rdoff + rr.rdlen, target,
		    host) == -1)
			return -1;
		*host = *host && dns_hostname_valid(target);
		*ttl = rr.ttl;
		return 1;
	}
	return 0;
}

/* The records of qtype at r->name: into r, with the smallest TTL. */
static int
dns_records(const unsigned char *pkt, size_t len, size_t off, unsigned an,
    int qtype, struct dns_result *r, uint32_t *ttl)
{
	struct dns_rr	 rr;
	struct dns_mx	*mx;
	struct dns_addr	*ad;
	unsigned	 i;
	size_t		 want;
	int		 ldh, found = 0;

	for (i = 0; i < an; i++) {
		if (dns_rr_read(pkt, len, &off, &rr) == -1)
			return -1;
		if ((int)rr.type != qtype || rr.class != DNS_C_IN ||
		    !rr.host || strcasecmp(rr.owner, r->name) != 0)
			continue;
		found = 1;
		*ttl = dns_min(*ttl, rr.ttl);
		if (qtype == DNS_T_MX) {
			char host[DNS_NAME_MAX + 1];

			if (rr.rdlen < 3 || dns_rdata_name(pkt, rr.rdoff + 2,
			    rr.rdoff + rr.rdlen, host, &ldh) == -1)
				return -1;
			r->nmxrr++;
			/* "." stays (as ""): it is the null MX when alone. */
			if (host[0] != '\0' && (!ldh ||
			    !dns_hostname_valid(host))) {
				r->nbadmx++;
				continue;
			}
			if (r->nmx == DNS_MX_MAX)
				continue;
			mx = &r->mx[r->nmx++];
			mx->pref = dns_get16(pkt + rr.rdoff);
			strlcpy(mx->host, host, sizeof(mx->host));
			continue;
		}
		want = qtype == DNS_T_A ? 4 : 16;
		if (rr.rdlen != want)
			return -1;
		if (r->naddr == DNS_ADDR_MAX)
			continue;
		ad = &r->addr[r->naddr++];
		memset(ad, 0, sizeof(*ad));
		ad->family = qtype == DNS_T_A ? AF_INET : AF_INET6;
		memcpy(ad->a, pkt + rr.rdoff, want);
	}
	return found;
}

enum dns_status
dns_parse(const unsigned char *pkt, size_t len, const char *qname,
    int qtype, unsigned cnames, struct dns_result *r)
{
	struct dns_rr	 rr;
	char		 target[DNS_NAME_MAX + 1];
	unsigned	 flags, rcode, qd, an, ns, i;
	size_t		 off, ans, auth = 0;
	uint32_t	 ttl = UINT32_MAX, cttl, neg = 0;
	int		 host, rc, soa;

	r->why = "";
	r->ttl = 0;
	r->soa = 0;
	r->cnames = cnames;
	r->nmx = r->nmxrr = r->nbadmx = r->naddr = 0;
	strlcpy(r->name, qname, sizeof(r->name));
	if (qtype != DNS_T_MX && qtype != DNS_T_A && qtype != DNS_T_AAAA)
		return dns_fail(r, DNS_MALFORMED, "unsupported query type");
	if (len < DNS_HDR)
		return dns_fail(r, DNS_MALFORMED, "short DNS answer");
	flags = dns_get16(pkt + 2);
	qd = dns_get16(pkt + 4);
	an = dns_get16(pkt + 6);
	ns = dns_get16(pkt + 8);
	if ((flags & 0x8000) == 0 || (flags >> 11 & 0xf) != 0)
		return dns_fail(r, DNS_MALFORMED, "not a DNS answer");
	if (flags & 0x0200)
		return dns_fail(r, DNS_TEMP, "truncated DNS answer");
	rcode = flags & 0xf;
	if (rcode != 0 && rcode != 3)
		return dns_fail(r, DNS_TEMP, dns_rcode_text(rcode));

	/* The question must be ours (res_nsend() checks it too). */
	if (qd != 1 || dns_name(pkt, len, DNS_HDR, target, &host, &off) == -1 ||
	    off + 4 > len)
		return dns_fail(r, DNS_MALFORMED, "malformed DNS answer");
	if (!host || strcasecmp(target, qname) != 0 ||
	    (int)dns_get16(pkt + off) != qtype ||
	    dns_get16(pkt + off + 2) != DNS_C_IN)
		return dns_fail(r, DNS_MALFORMED, "DNS answer to another "
		    "question");
	ans = off + 4;

	/* Every answer and authority record must be whole, whatever we
	 * use of them: a packet that lies about one is not trusted. */
	for (off = ans, i = 0; i < an + ns; i++) {
		if (i == an)
			auth = off;
		if (dns_rr_read(pkt, len, &off, &rr) == -1)
			return dns_fail(r, DNS_MALFORMED,
			    "malformed DNS answer");
	}
	if (ns == 0)
		auth = off;
	if ((soa = dns_soa(pkt, len, auth, ns, &neg)) == -1)
		return dns_fail(r, DNS_MALFORMED, "malformed SOA record");
	r->soa = soa;

	if (rcode == 3) {
		r->status = DNS_NXDOMAIN;
		r->why = "no such domain (NXDOMAIN)";
		r->ttl = soa ? neg : 0;
		return r->status;
	}

	/* RFC 5321 5.1: a CNAME's target is processed as if it were the
	 * name asked about; RFC 1034 3.6.2: its records may follow. */
	for (;;) {
		rc = dns_cname_at(pkt, len, ans, an, r->name, target, &host,
		    &cttl);
		if (rc == -1)
			return dns_fail(r, DNS_MALFORMED, "malformed CNAME "
			    "record");
		if (rc == 0)
			break;
		if (r->cnames >= DNS_CNAME_MAX)
			return dns_fail(r, DNS_LOOP, "CNAME chain too long or "
			    "looping");
		if (!host)
			return dns_fail(r, DNS_BADNAME, "CNAME target is not "
			    "a host name");
		r->cnames++;
		ttl = dns_min(ttl, cttl);
		strlcpy(r->name, target, sizeof(r->name));
	}

	if ((rc = dns_records(pkt, len, ans, an, qtype, r, &ttl)) == -1)
		return dns_fail(r, DNS_MALFORMED, "malformed DNS record");
	if (rc == 1) {
		r->status = DNS_OK;
		r->ttl = ttl;
		return r->status;
	}
	/* The chain's end has nothing here: a SOA says that it has none
	 * (RFC 2308 2.2); without one the server did not follow the chain,
	 * and the caller asks again for the end. */
	if (r->cnames > cnames && !soa) {
		r->status = DNS_CNAME;
		r->ttl = ttl;
		return r->status;
	}
	r->status = DNS_NODATA;
	r->why = "no record of that type (NODATA)";
	r->ttl = soa ? dns_min(neg, ttl) : 0;
	return r->status;
}

int
dns_hostname_valid(const char *s)
{
	const char	*last;
	size_t		 len = strlen(s);

	if (len == 0 || len > DNS_NAME_MAX || !addr_domain_valid(s, 0, 0))
		return 0;
	last = strrchr(s, '.');
	last = last != NULL ? last + 1 : s;
	return last[strspn(last, "0123456789")] != '\0';
}
