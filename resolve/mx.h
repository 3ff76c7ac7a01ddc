/*
 * mx.h: where mail for a domain goes (RFC 5321 5.1), or where a host is.
 *
 * mx_resolve() answers one query of qmgr's: mode 'm' the mail exchangers
 * of a domain, mode 'a' the addresses of one host (a route's), either of
 * them possibly a domain literal. It asks lookup.c for what it needs and
 * fills an answer (answer.c) whose lines are in the order qmgr tries them.
 * self is our own hostname, for the loop-back rule.
 */
#ifndef POSTERN_MX_H
#define POSTERN_MX_H

#include "answer.h"
#include "lookup.h"

/* a must be answer_init()'d; it ends with its status set. */
void	 mx_resolve(struct lookup *, const char *self, int mode,
	    const char *name, struct answer *a);
/* Sort MX records by preference and shuffle each run of equal ones
 * (arc4random): the order hosts are tried in. */
void	 mx_order(struct dns_mx *mx, size_t n);
/* The loop-back rule: when a record names self, drop it and every record
 * of the same or a worse preference. Returns the count left. mx must be
 * sorted (mx_order()). */
size_t	 mx_loopback(struct dns_mx *mx, size_t n, const char *self);

#endif
