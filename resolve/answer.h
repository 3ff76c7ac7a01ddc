/*
 * answer.h: the reply to one query, and the text of its hosts field.
 *
 * An answer is the status letter, the RFC 3463 code, a text, and for 'K'
 * the lines "PREF SP HOSTNAME SP ADDRESS SP PORT" (docs/protocols.md, "qmgr
 * -> resolve, and back"). The rules that any answer obeys, whoever built
 * it, are kept here: at most resolve_address_limit lines, only the address
 * families inet_protocols allows, numeric addresses.
 */
#ifndef POSTERN_ANSWER_H
#define POSTERN_ANSWER_H

#include <stddef.h>

#include "buf.h"
#include "dns.h"

#define ANSWER_IPV4		0x01
#define ANSWER_IPV6		0x02
#define ANSWER_LINES_MAX	DNS_ADDR_MAX
#define ANSWER_TEXT_MAX		1024

struct answer_line {
	unsigned	 pref;
	char		 host[DNS_NAME_MAX + 1];	/* or a literal */
	struct dns_addr	 addr;
};

struct answer {
	char		 status;	/* 'K', 'Z' or 'D' */
	char		 code[8];	/* "2.0.0", "4.4.3", ... */
	char		 text[ANSWER_TEXT_MAX];
	int		 families;	/* ANSWER_IPV4 | ANSWER_IPV6 */
	size_t		 limit;		/* lines at most */
	size_t		 n;
	struct answer_line line[ANSWER_LINES_MAX];
};

/* inet_protocols ("all", "ipv4", "ipv6") as families; 0 for a bad one. */
int	 answer_families(const char *inet_protocols);
/* An empty 'K' answer for these families and this many lines (at most
 * ANSWER_LINES_MAX). */
void	 answer_init(struct answer *, int families, size_t limit);
/* Add a line: 1, or 0 when its family is off or the answer is full. */
int	 answer_add(struct answer *, unsigned pref, const char *host,
	    const struct dns_addr *);
int	 answer_full(const struct answer *);
/* Set the outcome; the text as printf(). The lines are kept for 'K'
 * only. */
void	 answer_set(struct answer *, char status, const char *code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The hosts field: "" unless 'K'; port is the query's. 0, or -1 when out
 * is too small (it never is with FRAME_MAX). */
int	 answer_format(const struct answer *, const char *port,
	    struct buf *out);

#endif
