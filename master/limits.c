/*
 * limits.c: per-client-address limits, checked by master when it accepts a
 * connection, before any fork (DESIGN.md: "every limit has a number and a
 * config key"; issue 3: sessions per client address, new connections per
 * client address per minute).
 *
 *   smtpd_max_sessions_per_client     sessions from one address at once
 *   smtpd_max_connections_per_minute  connections from one address in a
 *                                     fixed 60-second window that starts
 *                                     with its first connection; refused
 *                                     ones count too, so a client that
 *                                     hammers stays refused until it stops
 *
 * Clients in smtpd_client_limit_exceptions (CIDR list; loopback by
 * default) are never counted.
 *
 * Called by session.c: limits_admit() for every accepted connection,
 * limits_release() when both halves of a session have exited (or its start
 * failed). The address is the key; an IPv4 address is stored IPv4-mapped,
 * so both families share one table.
 *
 * Memory is bounded: LIMITS_SLOTS entries (32 bytes each), allocated on the
 * first connection; a flood from many addresses cannot grow master, which
 * must stay small because it forks for every connection. An address not in
 * the table takes a free entry, else the least recently seen one that has
 * no live session (its rate window is forgotten: the price of the bound).
 * An entry with a live session is never evicted, so the session counts stay
 * exact; only when every entry has one (smtpd_max_sessions far above
 * LIMITS_SLOTS) is a new address let in uncounted.
 *
 * Errors: none reach the caller; a failed allocation lets everyone in,
 * once logged (master must keep accepting mail).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "log.h"
#include "master.h"

#define LIMITS_SLOTS	4096
#define LIMITS_WINDOW	60	/* seconds: "per minute" */

struct limits_slot {
	unsigned char	 addr[16];	/* IPv6, or IPv4-mapped */
	uint32_t	 sessions;	/* live sessions */
	uint32_t	 conns;		/* connections in this window */
	uint32_t	 window;	/* window start (s, monotonic) */
	uint32_t	 seen;		/* last connection (s, monotonic) */
};

static struct limits_slot	*limits_tab;
static size_t			 limits_used;	/* slots ever taken, in order */
static int			 limits_nomem;

/* The address as 16 bytes; 0, or -1 when it is neither IPv4 nor IPv6. */
static int
limits_key(const struct sockaddr_storage *ss, unsigned char key[16])
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

	if (ss->ss_family == AF_INET6) {
		memcpy(key, &s6->sin6_addr, 16);
		return 0;
	}
	if (ss->ss_family == AF_INET) {
		memset(key, 0, 10);
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &s4->sin_addr, 4);
		return 0;
	}
	return -1;
}

/* The entry for key: found, or taken (free or evicted). -1: no room. */
static int
limits_find(const unsigned char key[16])
{
	size_t	 i;
	int	 victim = -1;

	for (i = 0; i < limits_used; i++) {
		if (memcmp(limits_tab[i].addr, key, 16) == 0)
			return (int)i;
		if (limits_tab[i].sessions == 0 && (victim == -1 ||
		    limits_tab[i].seen < limits_tab[victim].seen))
			victim = (int)i;
	}
	if (limits_used < LIMITS_SLOTS)
		victim = (int)limits_used++;
	if (victim == -1)
		return -1;
	memset(&limits_tab[victim], 0, sizeof(limits_tab[victim]));
	memcpy(limits_tab[victim].addr, key, 16);
	return victim;
}

static int
limits_exempt(const char *list, const struct sockaddr_storage *ss)
{
	struct cidr	 a;

	if (cidr_from_sockaddr((const struct sockaddr *)ss, &a) == -1)
		return 0;
	return cidr_list_match(list, &a, NULL, NULL) == 1;
}

enum limits_verdict
limits_admit(const struct master *m, const struct sockaddr_storage *ss,
    int *slot)
{
	struct limits_slot *e;
	unsigned char	 key[16];
	uint32_t	 now = (uint32_t)(now_ms() / 1000);
	int		 i;

	*slot = -1;
	/* Trusted networks (loopback by default, like Postfix's mynetworks
	 * exemption): local programs and monitoring are never throttled. */
	if (limits_exempt(m->conf->smtpd_client_limit_exceptions, ss))
		return LIMITS_OK;
	if (limits_tab == NULL && !limits_nomem &&
	    (limits_tab = calloc(LIMITS_SLOTS, sizeof(*limits_tab))) == NULL) {
		log_warn_errno("per-client limits table: not enforced");
		limits_nomem = 1;
	}
	if (limits_tab == NULL || limits_key(ss, key) == -1 ||
	    (i = limits_find(key)) == -1)
		return LIMITS_OK;
	e = &limits_tab[i];
	e->seen = now;
	if (e->conns == 0 || now - e->window >= LIMITS_WINDOW) {
		e->window = now;
		e->conns = 0;
	}
	if (e->conns < UINT32_MAX)
		e->conns++;
	if (e->conns > (uint32_t)m->conf->smtpd_max_connections_per_minute)
		return LIMITS_RATE;
	if (e->sessions >= (uint32_t)m->conf->smtpd_max_sessions_per_client)
		return LIMITS_SESSIONS;
	e->sessions++;
	*slot = i;
	return LIMITS_OK;
}

void
limits_release(int slot)
{
	if (slot < 0 || limits_tab == NULL || (size_t)slot >= limits_used)
		return;
	if (limits_tab[slot].sessions == 0)
		panic("limits_release: slot %d has no session", slot);
	limits_tab[slot].sessions--;
}
