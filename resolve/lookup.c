/*
 * lookup.c: one DNS lookup, cached, its CNAME chain followed (see lookup.h).
 *
 * Called by mx.c for every MX, AAAA and A it needs. A chain that one
 * answer does not finish (the server gave the CNAME but not the records of
 * its target) is followed by asking for the target, and the hops of every
 * packet count against DNS_CNAME_MAX together, so that a chain split over
 * many answers cannot loop either. The result is cached under the name
 * that was asked for, with the smallest TTL of the whole chain.
 */
#include <stdint.h>
#include <time.h>
#include <bsd/string.h>

#include "lookup.h"

time_t
lookup_now(const struct lookup *lk)
{
	struct timespec ts;

	if (lk->clock != NULL)
		return lk->clock();
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* How long r may be kept: 0 for what must be asked again. */
static unsigned
lookup_ttl(const struct lookup *lk, const struct dns_result *r)
{
	uint32_t ttl;

	switch (r->status) {
	case DNS_OK:
		ttl = r->ttl;
		break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		ttl = r->soa ? r->ttl : LOOKUP_NEGATIVE_SECONDS;
		break;
	default:
		return 0;
	}
	return ttl < lk->cache_max_seconds ? ttl : lk->cache_max_seconds;
}

static enum dns_status
lookup_fail(struct dns_result *r, const char *name, const char *why)
{
	r->status = DNS_TEMP;
	r->why = why;
	r->ttl = 0;
	r->nmx = r->nmxrr = r->nbadmx = r->naddr = 0;
	strlcpy(r->name, name, sizeof(r->name));
	return r->status;
}

enum dns_status
lookup_run(struct lookup *lk, const char *name, int type,
    struct dns_result *r)
{
	char		 cur[DNS_NAME_MAX + 1];
	unsigned	 cnames = 0;
	uint32_t	 chain_ttl = UINT32_MAX;
	int		 n;

	if (cache_get(lk->cache, type, name, lookup_now(lk), r))
		return r->status;
	strlcpy(cur, name, sizeof(cur));
	for (;;) {
		if (lk->deadline != 0 && lookup_now(lk) >= lk->deadline)
			return lookup_fail(r, name, "DNS lookups took too "
			    "long");
		lk->sent++;
		n = lk->send(lk->arg, cur, type, lk->pkt, sizeof(lk->pkt));
		if (n < 0)
			return lookup_fail(r, name, "no answer from the DNS "
			    "servers");
		/* Longer than the buffer: what we have is cut, and reads
		 * as malformed. */
		if ((size_t)n > sizeof(lk->pkt))
			n = (int)sizeof(lk->pkt);
		if (dns_parse(lk->pkt, (size_t)n, cur, type, cnames, r) !=
		    DNS_CNAME)
			break;
		if (r->ttl < chain_ttl)
			chain_ttl = r->ttl;
		cnames = r->cnames;
		strlcpy(cur, r->name, sizeof(cur));
	}
	if ((r->status == DNS_OK || r->status == DNS_NODATA) &&
	    chain_ttl < r->ttl)
		r->ttl = chain_ttl;
	cache_put(lk->cache, type, name, lookup_now(lk), lookup_ttl(lk, r), r);
	return r->status;
}
