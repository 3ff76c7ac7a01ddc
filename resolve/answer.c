/*
 * answer.c: the reply to one query and its hosts field (see answer.h).
 *
 * Called by mx.c, which decides the lines, and by resolve.c, which sends
 * them. Addresses are printed by inet_ntop(): the one numeric form, IPv6
 * compressed (RFC 5952), never with brackets.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <bsd/string.h>

#include "answer.h"

int
answer_families(const char *p)
{
	if (strcmp(p, "all") == 0)
		return ANSWER_IPV4 | ANSWER_IPV6;
	if (strcmp(p, "ipv4") == 0)
		return ANSWER_IPV4;
	if (strcmp(p, "ipv6") == 0)
		return ANSWER_IPV6;
	return 0;
}

void
answer_init(struct answer *a, int families, size_t limit)
{
	a->status = 'K';
	strlcpy(a->code, "2.0.0", sizeof(a->code));
	a->text[0] = '\0';
	a->families = families;
	a->limit = limit < ANSWER_LINES_MAX ? limit : ANSWER_LINES_MAX;
	a->n = 0;
}

int
answer_full(const struct answer *a)
{
	return a->n >= a->limit;
}

int
answer_add(struct answer *a, unsigned pref, const char *host,
    const struct dns_addr *addr)
{
	struct answer_line *l;
	int fam = addr->family == AF_INET6 ? ANSWER_IPV6 : ANSWER_IPV4;

	if ((a->families & fam) == 0 || answer_full(a) ||
	    (addr->family != AF_INET && addr->family != AF_INET6))
		return 0;
	l = &a->line[a->n++];
	l->pref = pref;
	strlcpy(l->host, host, sizeof(l->host));
	l->addr = *addr;
	return 1;
}

void
answer_set(struct answer *a, char status, const char *code,
    const char *fmt, ...)
{
	va_list ap;

	a->status = status;
	strlcpy(a->code, code, sizeof(a->code));
	va_start(ap, fmt);
	vsnprintf(a->text, sizeof(a->text), fmt, ap);
	va_end(ap);
	if (status != 'K')
		a->n = 0;
}

int
answer_format(const struct answer *a, const char *port, struct buf *out)
{
	char	 addr[INET6_ADDRSTRLEN];
	size_t	 i;

	buf_reset(out);
	if (a->status != 'K')
		return 0;
	for (i = 0; i < a->n; i++) {
		const struct answer_line *l = &a->line[i];

		if (inet_ntop(l->addr.family, l->addr.a, addr,
		    sizeof(addr)) == NULL)
			return -1;
		if (buf_addf(out, "%s%u %s %s %s", i > 0 ? "\n" : "",
		    l->pref, l->host, addr, port) == -1)
			return -1;
	}
	return 0;
}
