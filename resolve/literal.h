/*
 * literal.h: a domain literal, "[192.0.2.1]" or "[IPv6:2001:db8::1]"
 * (RFC 5321 4.1.3), as a destination: its address, no DNS asked.
 */
#ifndef POSTERN_LITERAL_H
#define POSTERN_LITERAL_H

#include "dns.h"

/* 1: a literal, *addr set; 0: not a literal (no '[' first); -1: a
 * malformed literal, or a general one ("[tag:text]") we cannot reach. */
int	 literal_parse(const char *name, struct dns_addr *addr);

#endif
