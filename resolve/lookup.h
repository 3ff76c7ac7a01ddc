/*
 * lookup.h: one DNS lookup (a name and a type), from the cache or from the
 * network, with its CNAME chain followed to the end.
 *
 * The packets come from a send function: query.c's, which asks the
 * servers of resolv.conf, in resolve(8); a table of packets made by hand
 * in the unit tests. So everything above the socket is tested without a
 * network.
 *
 * A result is cached (cache.c) when it is an answer: records for their
 * smallest TTL, NXDOMAIN and NODATA for the SOA's negative TTL (RFC 2308;
 * LOOKUP_NEGATIVE_SECONDS when no SOA came), each capped at
 * cache_max_seconds. Temporary failures are never cached: the next query
 * asks again.
 */
#ifndef POSTERN_LOOKUP_H
#define POSTERN_LOOKUP_H

#include <stddef.h>
#include <time.h>

#include "cache.h"
#include "dns.h"

#define LOOKUP_NEGATIVE_SECONDS	60

/* Ask for (name, type); the answer's bytes into ans (size bytes). Its
 * length (more than size: the answer did not fit), or -1 when no server
 * answered at all. */
typedef int (*lookup_send_fn)(void *arg, const char *name, int type,
    unsigned char *ans, size_t size);

struct lookup {
	lookup_send_fn	 send;
	void		*arg;
	struct cache	*cache;			/* NULL: none */
	unsigned	 cache_max_seconds;	/* 0: nothing cached */
	time_t		 deadline;	/* monotonic seconds; 0: none. Past
					 * it nothing more is sent: the rest
					 * of the answer is a temporary
					 * failure */
	time_t		(*clock)(void);	/* NULL: CLOCK_MONOTONIC seconds */
	unsigned	 sent;		/* packets asked for, all told */
	unsigned char	 pkt[DNS_PACKET_MAX];
};

/* The seconds of CLOCK_MONOTONIC, the clock of deadline and the cache. */
time_t		 lookup_now(const struct lookup *);
/* Look (name, type) up: r filled, r->status returned. DNS_CNAME is never
 * returned: the chain's end is asked for. */
enum dns_status	 lookup_run(struct lookup *, const char *name, int type,
		    struct dns_result *r);

#endif
