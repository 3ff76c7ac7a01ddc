/*
 * dnspkt.h: DNS answer packets made by hand, for test_resolve_*.c.
 *
 * A packet is built in order: pkt_start() (header and question), then the
 * answer records, then the authority records (pkt_auth = 1); each adder
 * bumps the right count in the header. Names are written uncompressed,
 * label by label, so a test controls every byte; "" is the root. A label
 * may hold any byte (a "." inside one is written with pkt_raw()).
 */
#ifndef POSTERN_DNSPKT_H
#define POSTERN_DNSPKT_H

#include <sys/socket.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

struct pkt {
	unsigned char	 b[8192];
	size_t		 len;
	int		 auth;		/* adding to the authority section */
};

static void
pkt_byte(struct pkt *p, unsigned v)
{
	if (p->len < sizeof(p->b))
		p->b[p->len++] = (unsigned char)v;
}

static void
pkt_16(struct pkt *p, unsigned v)
{
	pkt_byte(p, v >> 8 & 0xff);
	pkt_byte(p, v & 0xff);
}

static void
pkt_32(struct pkt *p, uint32_t v)
{
	pkt_16(p, v >> 16);
	pkt_16(p, v & 0xffff);
}

static void
pkt_raw(struct pkt *p, const void *v, size_t n)
{
	const unsigned char *u = v;

	while (n-- > 0)
		pkt_byte(p, *u++);
}

/* "a.b.c" as labels, then the root byte. */
static void
pkt_name(struct pkt *p, const char *name)
{
	const char *s = name, *dot;

	while (*s != '\0') {
		dot = strchr(s, '.');
		size_t n = dot ? (size_t)(dot - s) : strlen(s);
		pkt_byte(p, (unsigned)n);
		pkt_raw(p, s, n);
		s += n;
		if (*s == '.')
			s++;
	}
	pkt_byte(p, 0);
}

static void
pkt_count(struct pkt *p, int off)
{
	unsigned v = (unsigned)p->b[off] << 8 | p->b[off + 1];

	v++;
	p->b[off] = (unsigned char)(v >> 8);
	p->b[off + 1] = (unsigned char)v;
}

/* Header (QR, RD, RA, rcode) and the question. */
static void
pkt_start(struct pkt *p, const char *qname, unsigned qtype, unsigned rcode)
{
	memset(p, 0, sizeof(*p));
	pkt_16(p, 0x1234);
	pkt_16(p, 0x8180 | (rcode & 0xf));
	pkt_16(p, 1);
	pkt_16(p, 0);
	pkt_16(p, 0);
	pkt_16(p, 0);
	pkt_name(p, qname);
	pkt_16(p, qtype);
	pkt_16(p, 1);
}

/* The owner, type, class IN, ttl; the caller writes rdlength + rdata. */
static void
pkt_rr_head(struct pkt *p, const char *owner, unsigned type, uint32_t ttl)
{
	pkt_count(p, p->auth ? 8 : 6);
	pkt_name(p, owner);
	pkt_16(p, type);
	pkt_16(p, 1);
	pkt_32(p, ttl);
}

static void
pkt_rr(struct pkt *p, const char *owner, unsigned type, uint32_t ttl,
    const void *rdata, size_t rdlen)
{
	pkt_rr_head(p, owner, type, ttl);
	pkt_16(p, (unsigned)rdlen);
	pkt_raw(p, rdata, rdlen);
}

static void
pkt_mx(struct pkt *p, const char *owner, uint32_t ttl, unsigned pref,
    const char *host)
{
	struct pkt rd;

	memset(&rd, 0, sizeof(rd));
	pkt_16(&rd, pref);
	pkt_name(&rd, host);
	pkt_rr(p, owner, 15, ttl, rd.b, rd.len);
}

static void
pkt_cname(struct pkt *p, const char *owner, uint32_t ttl, const char *target)
{
	struct pkt rd;

	memset(&rd, 0, sizeof(rd));
	pkt_name(&rd, target);
	pkt_rr(p, owner, 5, ttl, rd.b, rd.len);
}

static void
pkt_a(struct pkt *p, const char *owner, uint32_t ttl, const char *text)
{
	unsigned char a[16];

	if (strchr(text, ':') != NULL) {
		inet_pton(AF_INET6, text, a);
		pkt_rr(p, owner, 28, ttl, a, 16);
	} else {
		inet_pton(AF_INET, text, a);
		pkt_rr(p, owner, 1, ttl, a, 4);
	}
}

/* A SOA in the authority section: negative TTL min(ttl, minimum). */
static void
pkt_soa(struct pkt *p, const char *owner, uint32_t ttl, uint32_t minimum)
{
	struct pkt rd;

	memset(&rd, 0, sizeof(rd));
	pkt_name(&rd, "ns.example.org");
	pkt_name(&rd, "hostmaster.example.org");
	pkt_32(&rd, 2026010101);
	pkt_32(&rd, 3600);
	pkt_32(&rd, 600);
	pkt_32(&rd, 86400);
	pkt_32(&rd, minimum);
	p->auth = 1;
	pkt_rr(p, owner, 6, ttl, rd.b, rd.len);
}

#endif
