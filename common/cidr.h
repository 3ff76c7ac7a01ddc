/*
 * cidr.h: IPv4 and IPv6 addresses and prefixes (RFC 4632, RFC 4291 2.3),
 * for the relay table and the access table's client: keys.
 *
 * A prefix is written "192.0.2.0/24" or "2001:db8::/32"; a bare address is
 * a prefix of 32 or 128 bits. An IPv4-mapped IPv6 address (::ffff:a.b.c.d,
 * RFC 4291 2.5.5.2; what a dual-stack socket shows for an IPv4 client) is
 * stored as the IPv4 address it is, on both sides, so "127.0.0.0/8" matches
 * a client seen as ::ffff:127.0.0.1. Host bits set below the prefix are
 * ignored (192.0.2.1/24 is 192.0.2.0/24). Numeric only, nothing resolved.
 */
#ifndef POSTERN_CIDR_H
#define POSTERN_CIDR_H

#include <stddef.h>
#include <sys/socket.h>

struct cidr {
	int		 family;	/* AF_INET or AF_INET6 */
	unsigned char	 addr[16];	/* network order; 4 used for IPv4 */
	int		 bits;		/* prefix length */
};

/* Parse "addr" or "addr/bits" (len bytes at s; no blanks). 0 or -1. */
int	 cidr_parse(const char *s, size_t len, struct cidr *);
/* Does the address a (a prefix of full length) fall inside net? 1 or 0. */
int	 cidr_match(const struct cidr *net, const struct cidr *a);
/* A socket address as a host (/32 or /128; IPv4-mapped IPv6 as IPv4).
 * 0, or -1 for another family. */
int	 cidr_from_sockaddr(const struct sockaddr *, struct cidr *);
/* list: CIDR items separated by blanks or commas (a config value).
 * 1 if a is in one of them, 0 if not; -1 if an item does not parse, with
 * *bad and *badlen naming it (either may be NULL). */
int	 cidr_list_match(const char *list, const struct cidr *a,
	    const char **bad, size_t *badlen);

#endif
