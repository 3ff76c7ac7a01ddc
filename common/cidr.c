/*
 * cidr.c: parsing and matching of address prefixes (rules in cidr.h).
 *
 * Called by enqueue (queue/enqueue_policy.c) for every key of the relay
 * table and the client: keys of the access table, and for the client's own
 * address. The input is operator text from a table; anything that is not a
 * plain numeric address with an optional decimal prefix length is refused
 * (-1), never guessed at: a mistyped relay entry must not open the relay to
 * more than the operator wrote. No allocation, no logging.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "cidr.h"

int
cidr_parse(const char *s, size_t len, struct cidr *c)
{
	char		 text[INET6_ADDRSTRLEN + 4];
	const char	*slash;
	size_t		 alen, i;
	int		 bits = -1, max;

	memset(c, 0, sizeof(*c));
	if (len == 0 || memchr(s, '\0', len) != NULL)
		return -1;
	slash = memchr(s, '/', len);
	alen = slash != NULL ? (size_t)(slash - s) : len;
	if (alen == 0 || alen >= sizeof(text))
		return -1;
	memcpy(text, s, alen);
	text[alen] = '\0';
	if (slash != NULL) {
		/* 1 to 3 decimal digits, nothing else ("/+8", "/ 8", "/"). */
		i = (size_t)(slash - s) + 1;
		if (i == len || len - i > 3)
			return -1;
		for (bits = 0; i < len; i++) {
			if (s[i] < '0' || s[i] > '9')
				return -1;
			bits = bits * 10 + (s[i] - '0');
		}
	}
	if (inet_pton(AF_INET, text, c->addr) == 1) {
		c->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, text, c->addr) == 1) {
		c->family = AF_INET6;
		max = 128;
		if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)c->addr)) {
			/* ::ffff:0:0/96 is the IPv4 space: keep it as IPv4,
			 * and a prefix of it as the IPv4 prefix. */
			if (bits != -1 && bits < 96)
				return -1;
			memmove(c->addr, c->addr + 12, 4);
			memset(c->addr + 4, 0, 12);
			c->family = AF_INET;
			max = 32;
			if (bits != -1)
				bits -= 96;
		}
	} else
		return -1;
	if (bits == -1)
		bits = max;
	if (bits > max)
		return -1;
	c->bits = bits;
	return 0;
}

int
cidr_match(const struct cidr *net, const struct cidr *a)
{
	int	 full, rest;

	if (net->family != a->family)
		return 0;
	full = net->bits / 8;
	rest = net->bits % 8;
	if (memcmp(net->addr, a->addr, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	/* The top rest bits of the next byte. */
	return ((net->addr[full] ^ a->addr[full]) &
	    (unsigned char)(0xff << (8 - rest))) == 0;
}

int
cidr_from_sockaddr(const struct sockaddr *sa, struct cidr *c)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

	memset(c, 0, sizeof(*c));
	if (sa->sa_family == AF_INET) {
		memcpy(c->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		c->family = AF_INET;
		c->bits = 32;
	} else if (sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		memcpy(c->addr, s6->sin6_addr.s6_addr + 12, 4);
		c->family = AF_INET;
		c->bits = 32;
	} else if (sa->sa_family == AF_INET6) {
		memcpy(c->addr, &s6->sin6_addr, 16);
		c->family = AF_INET6;
		c->bits = 128;
	} else
		return -1;
	return 0;
}

int
cidr_list_match(const char *list, const struct cidr *a, const char **bad,
    size_t *badlen)
{
	struct cidr	 net;
	size_t		 len;
	int		 hit = 0;

	/* Every item is parsed, even after a hit, so that a bad item is
	 * found by "postern check" however the list is ordered. */
	for (;;) {
		list += strspn(list, " \t,");
		if (*list == '\0')
			break;
		len = strcspn(list, " \t,");
		if (cidr_parse(list, len, &net) == -1) {
			if (bad != NULL)
				*bad = list;
			if (badlen != NULL)
				*badlen = len;
			return -1;
		}
		if (a != NULL && cidr_match(&net, a))
			hit = 1;
		list += len;
	}
	return hit;
}
