/*
 * route.h: where mail for a remote domain goes (docs/tables.md, "routes").
 *
 * A route value is "[host]:port", "[host]", "host:port" or "host". The
 * brackets say "this host, no MX lookup" (Postfix's convention); without
 * them the host's own MX records are used. host may be an address literal,
 * "[192.0.2.5]" or "[IPv6:2001:db8::1]" (or "[2001:db8::1]"). qmgr turns
 * the route into resolve's query (docs/protocols.md, "qmgr -> resolve"):
 * mode 'm' or 'a', a name and a port.
 *
 * The same lookup order serves the routes and tls_policy tables: the domain
 * itself, then ".parent" for each parent domain, then "*".
 */
#ifndef POSTERN_ROUTE_H
#define POSTERN_ROUTE_H

#include "addr.h"
#include "buf.h"
#include "table.h"

struct route {
	char	 mode;				/* 'm' MX, 'a' addresses */
	char	 name[ADDR_DOMAIN_MAX + 8];	/* host, or "[literal]" */
	int	 port;
};

/* The route of a domain with no table entry: its MX, port 25. */
void	 route_default(const char *domain, struct route *);
/* Parse a value. 0, or -1 with *why. */
int	 route_parse(const char *value, struct route *, const char **why);
/* makemap's checks of one record (table_build_checked()). */
int	 route_check(const char *key, const char *value, const char **why);
int	 tls_policy_check(const char *key, const char *value,
	    const char **why);
/* Look domain up in t: itself, ".parent" ..., "*". 1 found (value set),
 * 0 not found, -1 the table could not be read. */
int	 route_lookup(struct table *, const char *domain, struct buf *value);

#endif
