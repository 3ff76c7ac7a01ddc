/*
 * cache.c: DNS answers kept for their TTL (see cache.h).
 *
 * Called by lookup.c only. A hash table of chains for finding an entry,
 * and a doubly linked list in insertion order for evicting the oldest one
 * when the table is full: both O(1). The bucket count is fixed when the
 * cache is made (a power of two, at most CACHE_BUCKETS_MAX, so that a huge
 * resolve_cache_entries costs memory only as entries come).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "cache.h"

#define CACHE_BUCKETS_MAX	65536

struct centry {
	struct centry	*hnext;		/* hash chain */
	struct centry	*older, *newer;	/* insertion order */
	time_t		 expires;
	int		 type;
	char		 key[DNS_NAME_MAX + 1];	/* lowercased */
	/* The result, less its fixed arrays: */
	enum dns_status	 status;
	const char	*why;
	uint32_t	 ttl;
	int		 soa;
	unsigned	 cnames;
	char		 name[DNS_NAME_MAX + 1];
	size_t		 nmxrr, nbadmx, nmx, naddr;
	struct dns_mx	*mx;
	struct dns_addr	*addr;
};

struct cache {
	size_t		  max, count, nbuckets;
	struct centry	**bucket;
	struct centry	 *oldest, *newest;
};

static uint32_t
cache_hash(int type, const char *key)
{
	uint32_t h = 2166136261U ^ (uint32_t)type;	/* FNV-1a */

	for (; *key != '\0'; key++) {
		h ^= (unsigned char)*key;
		h *= 16777619U;
	}
	return h;
}

struct cache *
cache_new(size_t max)
{
	struct cache	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->max = max;
	c->nbuckets = 16;
	while (c->nbuckets < max && c->nbuckets < CACHE_BUCKETS_MAX)
		c->nbuckets *= 2;
	if ((c->bucket = calloc(c->nbuckets, sizeof(*c->bucket))) == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

static void
centry_free(struct centry *e)
{
	free(e->mx);
	free(e->addr);
	free(e);
}

/* Take e out of its chain and of the age list, and free it. */
static void
cache_remove(struct cache *c, struct centry *e)
{
	struct centry	**pp;

	pp = &c->bucket[cache_hash(e->type, e->key) & (c->nbuckets - 1)];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	c->count--;
	centry_free(e);
}

void
cache_free(struct cache *c)
{
	if (c == NULL)
		return;
	while (c->oldest != NULL)
		cache_remove(c, c->oldest);
	free(c->bucket);
	free(c);
}

size_t
cache_count(const struct cache *c)
{
	return c != NULL ? c->count : 0;
}

static struct centry *
cache_find(struct cache *c, int type, const char *key)
{
	struct centry	*e;

	e = c->bucket[cache_hash(type, key) & (c->nbuckets - 1)];
	for (; e != NULL; e = e->hnext)
		if (e->type == type && strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

/* The key: the name in lower case; 0, or -1 for a name too long to be
 * one we asked about. */
static int
cache_key(const char *name, char key[DNS_NAME_MAX + 1])
{
	size_t i;

	if (strlcpy(key, name, DNS_NAME_MAX + 1) > DNS_NAME_MAX)
		return -1;
	for (i = 0; key[i] != '\0'; i++)
		if (key[i] >= 'A' && key[i] <= 'Z')
			key[i] = (char)(key[i] - 'A' + 'a');
	return 0;
}

int
cache_get(struct cache *c, int type, const char *name, time_t now,
    struct dns_result *r)
{
	struct centry	*e;
	char		 key[DNS_NAME_MAX + 1];

	if (c == NULL || c->max == 0 || cache_key(name, key) == -1 ||
	    (e = cache_find(c, type, key)) == NULL)
		return 0;
	if (e->expires <= now) {
		cache_remove(c, e);
		return 0;
	}
	r->status = e->status;
	r->why = e->why;
	/* What is left of the TTL, as a resolver's cache would say. */
	r->ttl = (uint32_t)(e->expires - now);
	r->soa = e->soa;
	r->cnames = e->cnames;
	strlcpy(r->name, e->name, sizeof(r->name));
	r->nmxrr = e->nmxrr;
	r->nbadmx = e->nbadmx;
	r->nmx = e->nmx;
	r->naddr = e->naddr;
	if (e->nmx > 0)
		memcpy(r->mx, e->mx, e->nmx * sizeof(*e->mx));
	if (e->naddr > 0)
		memcpy(r->addr, e->addr, e->naddr * sizeof(*e->addr));
	return 1;
}

void
cache_put(struct cache *c, int type, const char *name, time_t now,
    unsigned ttl, const struct dns_result *r)
{
	struct centry	*e, **head;
	char		 key[DNS_NAME_MAX + 1];

	if (c == NULL || c->max == 0 || ttl == 0 ||
	    cache_key(name, key) == -1)
		return;
	if ((e = cache_find(c, type, key)) != NULL)
		cache_remove(c, e);
	if (c->count >= c->max)
		cache_remove(c, c->oldest);
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return;
	if ((r->nmx > 0 && (e->mx = reallocarray(NULL, r->nmx,
	    sizeof(*e->mx))) == NULL) || (r->naddr > 0 &&
	    (e->addr = reallocarray(NULL, r->naddr,
	    sizeof(*e->addr))) == NULL)) {
		centry_free(e);
		return;
	}
	e->type = type;
	strlcpy(e->key, key, sizeof(e->key));
	e->expires = now + (time_t)ttl;
	e->status = r->status;
	e->why = r->why;
	e->ttl = r->ttl;
	e->soa = r->soa;
	e->cnames = r->cnames;
	strlcpy(e->name, r->name, sizeof(e->name));
	e->nmxrr = r->nmxrr;
	e->nbadmx = r->nbadmx;
	e->nmx = r->nmx;
	e->naddr = r->naddr;
	if (r->nmx > 0)
		memcpy(e->mx, r->mx, r->nmx * sizeof(*e->mx));
	if (r->naddr > 0)
		memcpy(e->addr, r->addr, r->naddr * sizeof(*e->addr));

	head = &c->bucket[cache_hash(type, key) & (c->nbuckets - 1)];
	e->hnext = *head;
	*head = e;
	e->older = c->newest;
	if (c->newest != NULL)
		c->newest->newer = e;
	else
		c->oldest = e;
	c->newest = e;
	c->count++;
}
