/*
 * cache.h: DNS answers kept for their TTL, at most a fixed number of them.
 *
 * One entry per lookup (query type, name): the parsed result of lookup.c,
 * copied into memory of its exact size, so that an MX answer shared by
 * thousands of domains (a hosting provider's) is asked for once per TTL.
 * The key's name is compared case-insensitively (RFC 4343).
 *
 * Bounded by resolve_cache_entries: when full, the oldest entry goes
 * (insertion order, which is close to expiry order since TTLs are capped).
 * An expired entry is dropped when it is next looked at. Time is passed in
 * (seconds of CLOCK_MONOTONIC) so that the tests can move it.
 */
#ifndef POSTERN_CACHE_H
#define POSTERN_CACHE_H

#include <stddef.h>
#include <time.h>

#include "dns.h"

struct cache;

/* A cache of at most max entries; max 0 keeps nothing. */
struct cache	*cache_new(size_t max);
void		 cache_free(struct cache *);
/* 1 and *r filled when (type, name) is there and alive at now, else 0. */
int		 cache_get(struct cache *, int type, const char *name,
		    time_t now, struct dns_result *r);
/* Keep r for ttl seconds from now (ttl 0: not kept), replacing an older
 * answer to the same question. Out of memory: not kept. */
void		 cache_put(struct cache *, int type, const char *name,
		    time_t now, unsigned ttl, const struct dns_result *r);
size_t		 cache_count(const struct cache *);

#endif
