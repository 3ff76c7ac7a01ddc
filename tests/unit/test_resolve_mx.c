/*
 * test_resolve_mx.c: resolve/mx.c, lookup.c, cache.c and answer.c, the
 * whole answer to a query short of the socket: a fake recursive server
 * (fake_send) answers from a zone table with packets made by dnspkt.h,
 * and each test checks the exact hosts field qmgr would get, or the exact
 * status and code. RFC 5321 5.1 (order, shuffle, implicit MX, loop-back),
 * RFC 7505 (null MX), CNAMEs, literals, inet_protocols, the address limit,
 * and the cache: what is kept, for how long, and what is not.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <bsd/string.h>

#include "buf.h"
#include "../../resolve/answer.h"
#include "../../resolve/cache.h"
#include "../../resolve/dns.h"
#include "../../resolve/lookup.h"
#include "../../resolve/mx.h"
#include "harness.h"
#include "dnspkt.h"

/* The zone: data is "PREF HOST" for MX, the address for A and AAAA, the
 * target for CNAME. A name with no record at all does not exist. */
struct zrr {
	const char	*owner;
	int		 type;
	unsigned	 ttl;
	const char	*data;
};

static const struct zrr *zone;
static size_t		 nzone;
static const char	*servfail = "";	/* names answered with SERVFAIL */
static const char	*silent = "";	/* names never answered (-1) */
static int		 chase = 1;	/* follow CNAMEs like a resolver */
static unsigned		 soa_min = 600;
static time_t		 fake_now = 1000;
static unsigned		 sent_aaaa;

static int
listed(const char *list, const char *name)
{
	char buf[512], *p, *save = NULL;

	strlcpy(buf, list, sizeof(buf));
	for (p = strtok_r(buf, " ", &save); p; p = strtok_r(NULL, " ", &save))
		if (strcasecmp(p, name) == 0)
			return 1;
	return 0;
}

static int
exists(const char *name)
{
	size_t i;

	for (i = 0; i < nzone; i++)
		if (strcasecmp(zone[i].owner, name) == 0)
			return 1;
	return 0;
}

static int
fake_send(void *arg, const char *name, int type, unsigned char *ans,
    size_t size)
{
	static struct pkt p;
	char	 cur[300];
	size_t	 i;
	int	 hops, found = 0, cname;

	(void)arg;
	if (type == DNS_T_AAAA)
		sent_aaaa++;
	if (listed(silent, name))
		return -1;
	pkt_start(&p, name, (unsigned)type, listed(servfail, name) ? 2 : 0);
	if (listed(servfail, name))
		goto out;
	strlcpy(cur, name, sizeof(cur));
	for (hops = 0; hops < 20; hops++) {
		cname = 0;
		for (i = 0; i < nzone; i++)
			if (zone[i].type == DNS_T_CNAME &&
			    strcasecmp(zone[i].owner, cur) == 0) {
				pkt_cname(&p, cur, zone[i].ttl, zone[i].data);
				strlcpy(cur, zone[i].data, sizeof(cur));
				cname = 1;
				break;
			}
		if (!cname || !chase)
			break;
	}
	if (!chase && hops == 0 && cname)
		goto out;	/* the CNAME alone: the client asks again */
	for (i = 0; i < nzone; i++) {
		if (zone[i].type != type || strcasecmp(zone[i].owner, cur))
			continue;
		found = 1;
		if (type == DNS_T_MX) {
			char host[300];
			unsigned pref;

			if (sscanf(zone[i].data, "%u %299s", &pref, host) != 2)
				strlcpy(host, "", sizeof(host)), pref = 0;
			pkt_mx(&p, cur, zone[i].ttl, pref,
			    strcmp(host, ".") == 0 ? "" : host);
		} else
			pkt_a(&p, cur, zone[i].ttl, zone[i].data);
	}
	if (!found && !exists(cur)) {
		p.b[3] = (p.b[3] & 0xf0) | 3;
		pkt_soa(&p, "example.org", 3600, soa_min);
	} else if (!found)
		pkt_soa(&p, "example.org", 3600, soa_min);
out:
	if (p.len > size)
		return -1;
	memcpy(ans, p.b, p.len);
	return (int)p.len;
}

static time_t
fake_clock(void)
{
	return fake_now;
}

static struct lookup	lk;
static struct answer	ans;
static struct buf	hosts;

/* Reset everything but the zone; a cache of the given size. */
static void
setup(size_t entries)
{
	cache_free(lk.cache);
	memset(&lk, 0, sizeof(lk));
	lk.send = fake_send;
	lk.clock = fake_clock;
	lk.cache = cache_new(entries);
	lk.cache_max_seconds = 3600;
	servfail = silent = "";
	chase = 1;
	soa_min = 600;
	sent_aaaa = 0;
}

#define ZONE(z)	(zone = (z), nzone = sizeof(z) / sizeof((z)[0]))

/* Ask; return the hosts field (port 25), status and code in ans. */
static const char *
ask_full(const char *self, int mode, const char *name, int fam,
    size_t limit, const char *port)
{
	answer_init(&ans, fam, limit);
	mx_resolve(&lk, self, mode, name, &ans);
	CHECK(answer_format(&ans, port, &hosts) == 0);
	return buf_str(&hosts);
}

static const char *
ask(int mode, const char *name)
{
	return ask_full("me.example.net", mode, name,
	    ANSWER_IPV4 | ANSWER_IPV6, 10, "25");
}

#define CHECK_ANS(st, want) do {					\
	CHECK(ans.status == (st));					\
	CHECK_STR(ans.code, (want));					\
	if (ans.status != (st))						\
		fprintf(stderr, "  got %c %s %s\n", ans.status,		\
		    ans.code, ans.text);				\
} while (0)

static const struct zrr z_basic[] = {
	{ "example.org", DNS_T_MX, 3600, "20 mx2.example.org" },
	{ "example.org", DNS_T_MX, 3600, "10 mx1.example.org" },
	{ "example.org", DNS_T_MX, 3600, "30 mx3.example.org" },
	{ "mx1.example.org", DNS_T_A, 300, "192.0.2.10" },
	{ "mx1.example.org", DNS_T_AAAA, 300, "2001:db8::10" },
	{ "mx2.example.org", DNS_T_A, 300, "192.0.2.20" },
	{ "mx3.example.org", DNS_T_A, 300, "192.0.2.30" },
	{ "mx3.example.org", DNS_T_A, 300, "192.0.2.31" },
	{ "noaddr.example.org", DNS_T_MX, 60, "10 nothing.example.org" },
	{ "implicit.example.org", DNS_T_A, 60, "192.0.2.99" },
	{ "implicit.example.org", DNS_T_AAAA, 60, "2001:db8::99" },
	{ "empty.example.org", DNS_T_CNAME, 60, "void.example.org" },
	{ "void.example.org", 99, 60, "" },	/* exists, nothing useful */
	{ "null.example.org", DNS_T_MX, 86400, "0 ." },
	{ "halfnull.example.org", DNS_T_MX, 60, "0 ." },
	{ "halfnull.example.org", DNS_T_MX, 60, "10 mx1.example.org" },
	{ "badmx.example.org", DNS_T_MX, 60, "10 bad_name.example.org" },
	{ "badmx.example.org", DNS_T_MX, 60, "20 192.0.2.1" },
	{ "somebad.example.org", DNS_T_MX, 60, "10 bad_name.example.org" },
	{ "somebad.example.org", DNS_T_MX, 60, "20 mx2.example.org" },
};

/* RFC 5321 5.1 order and the exact line format. */
static void
test_order_format(void)
{
	setup(100);
	ZONE(z_basic);
	CHECK_STR(ask('m', "example.org"),
	    "10 mx1.example.org 2001:db8::10 25\n"
	    "10 mx1.example.org 192.0.2.10 25\n"
	    "20 mx2.example.org 192.0.2.20 25\n"
	    "30 mx3.example.org 192.0.2.30 25\n"
	    "30 mx3.example.org 192.0.2.31 25");
	CHECK_ANS('K', "2.0.0");
	/* The port is the query's; the name's case does not matter. */
	CHECK_STR(ask_full("me.example.net", 'm', "EXAMPLE.org",
	    ANSWER_IPV4 | ANSWER_IPV6, 2, "2525"),
	    "10 mx1.example.org 2001:db8::10 2525\n"
	    "10 mx1.example.org 192.0.2.10 2525");
	/* Mode a: the host's own addresses, preference 0. */
	CHECK_STR(ask('a', "mx1.example.org"),
	    "0 mx1.example.org 2001:db8::10 25\n"
	    "0 mx1.example.org 192.0.2.10 25");
}

static void
test_limit_protocols(void)
{
	setup(100);
	ZONE(z_basic);
	/* At most resolve_address_limit lines; no host beyond is asked. */
	CHECK_STR(ask_full("me.example.net", 'm', "example.org",
	    ANSWER_IPV4 | ANSWER_IPV6, 3, "25"),
	    "10 mx1.example.org 2001:db8::10 25\n"
	    "10 mx1.example.org 192.0.2.10 25\n"
	    "20 mx2.example.org 192.0.2.20 25");
	CHECK_STR(ask_full("me.example.net", 'm', "example.org",
	    ANSWER_IPV4 | ANSWER_IPV6, 1, "25"),
	    "10 mx1.example.org 2001:db8::10 25");

	/* inet_protocols = ipv4: no IPv6 line, and no AAAA asked. */
	setup(0);
	CHECK_STR(ask_full("me.example.net", 'm', "example.org",
	    ANSWER_IPV4, 10, "25"),
	    "10 mx1.example.org 192.0.2.10 25\n"
	    "20 mx2.example.org 192.0.2.20 25\n"
	    "30 mx3.example.org 192.0.2.30 25\n"
	    "30 mx3.example.org 192.0.2.31 25");
	CHECK(sent_aaaa == 0);
	/* ipv6 alone: the hosts without AAAA are left out. */
	CHECK_STR(ask_full("me.example.net", 'm', "example.org",
	    ANSWER_IPV6, 10, "25"), "10 mx1.example.org 2001:db8::10 25");
	CHECK_STR(ask_full("me.example.net", 'm', "noaddr.example.org",
	    ANSWER_IPV6, 10, "25"), "");
	CHECK_ANS('D', "5.4.4");

	CHECK(answer_families("all") == (ANSWER_IPV4 | ANSWER_IPV6));
	CHECK(answer_families("ipv4") == ANSWER_IPV4);
	CHECK(answer_families("ipv6") == ANSWER_IPV6);
	CHECK(answer_families("both") == 0);
}

/* Equal preferences are shuffled, each order seen; unequal never. */
static void
test_shuffle(void)
{
	static const struct zrr z[] = {
		{ "eq.example.org", DNS_T_MX, 60, "10 a.example.org" },
		{ "eq.example.org", DNS_T_MX, 60, "10 b.example.org" },
		{ "eq.example.org", DNS_T_MX, 60, "5 first.example.org" },
		{ "eq.example.org", DNS_T_MX, 60, "20 last.example.org" },
		{ "a.example.org", DNS_T_A, 60, "192.0.2.1" },
		{ "b.example.org", DNS_T_A, 60, "192.0.2.2" },
		{ "first.example.org", DNS_T_A, 60, "192.0.2.5" },
		{ "last.example.org", DNS_T_A, 60, "192.0.2.20" },
	};
	struct dns_mx mx[6];
	int ab = 0, ba = 0, other = 0, i, j, seen[3][3];
	const char *h;

	setup(100);	/* cached: the shuffle is made per answer still */
	ZONE(z);
	for (i = 0; i < 200; i++) {
		h = ask('m', "eq.example.org");
		if (strcmp(h, "5 first.example.org 192.0.2.5 25\n"
		    "10 a.example.org 192.0.2.1 25\n"
		    "10 b.example.org 192.0.2.2 25\n"
		    "20 last.example.org 192.0.2.20 25") == 0)
			ab++;
		else if (strcmp(h, "5 first.example.org 192.0.2.5 25\n"
		    "10 b.example.org 192.0.2.2 25\n"
		    "10 a.example.org 192.0.2.1 25\n"
		    "20 last.example.org 192.0.2.20 25") == 0)
			ba++;
		else
			other++;
	}
	CHECK(ab > 20 && ba > 20 && other == 0);

	/* mx_order() directly: three equal, every one in every place. */
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < 600; i++) {
		memset(mx, 0, sizeof(mx));
		mx[0].pref = 30;
		strlcpy(mx[0].host, "z", sizeof(mx[0].host));
		for (j = 1; j <= 3; j++) {
			mx[j].pref = 10;
			mx[j].host[0] = (char)('a' + j - 1);
		}
		mx[4].pref = 0;
		strlcpy(mx[4].host, "first", sizeof(mx[4].host));
		mx_order(mx, 5);
		CHECK(strcmp(mx[0].host, "first") == 0 &&
		    strcmp(mx[4].host, "z") == 0);
		for (j = 1; j <= 3; j++)
			seen[mx[j].host[0] - 'a'][j - 1]++;
	}
	for (i = 0; i < 3; i++)
		for (j = 0; j < 3; j++)
			CHECK(seen[i][j] > 100);
}

static void
test_implicit_null(void)
{
	setup(100);
	ZONE(z_basic);
	/* No MX: the domain itself, preference 0, IPv6 first. */
	CHECK_STR(ask('m', "implicit.example.org"),
	    "0 implicit.example.org 2001:db8::99 25\n"
	    "0 implicit.example.org 192.0.2.99 25");
	CHECK_ANS('K', "2.0.0");
	/* No MX, no address. */
	CHECK_STR(ask('m', "empty.example.org"), "");
	CHECK_ANS('D', "5.4.4");
	/* NXDOMAIN. */
	CHECK_STR(ask('m', "nx.example.org"), "");
	CHECK_ANS('D', "5.1.2");
	CHECK(strstr(ans.text, "nx.example.org") != NULL);
	CHECK(strstr(ans.text, "NXDOMAIN") != NULL);
	/* Null MX: permanent, and no address asked for. */
	lk.sent = 0;
	CHECK_STR(ask('m', "null.example.org"), "");
	CHECK_ANS('D', "5.1.10");
	CHECK(lk.sent == 1);
	/* "." beside a real MX is no null MX: the "." is left out. */
	CHECK_STR(ask('m', "halfnull.example.org"),
	    "10 mx1.example.org 2001:db8::10 25\n"
	    "10 mx1.example.org 192.0.2.10 25");
	/* The one MX host has no address: D 5.4.4. */
	CHECK_STR(ask('m', "noaddr.example.org"), "");
	CHECK_ANS('D', "5.4.4");
	/* MX targets that are not host names. */
	CHECK_STR(ask('m', "badmx.example.org"), "");
	CHECK_ANS('D', "5.4.4");
	CHECK_STR(ask('m', "somebad.example.org"),
	    "20 mx2.example.org 192.0.2.20 25");
	/* Mode a: NXDOMAIN, and a host without address. */
	CHECK_STR(ask('a', "nx.example.org"), "");
	CHECK_ANS('D', "5.1.2");
	CHECK_STR(ask('a', "void.example.org"), "");
	CHECK_ANS('D', "5.4.4");
}

static void
test_temporary(void)
{
	static const struct zrr z[] = {
		{ "example.org", DNS_T_MX, 60, "10 mx1.example.org" },
		{ "example.org", DNS_T_MX, 60, "20 mx2.example.org" },
		{ "mx1.example.org", DNS_T_A, 60, "192.0.2.10" },
		{ "mx2.example.org", DNS_T_A, 60, "192.0.2.20" },
		{ "gone.example.org", DNS_T_MX, 60, "10 nx1.example.org" },
	};

	setup(100);
	ZONE(z);
	servfail = "example.org";
	CHECK_STR(ask('m', "example.org"), "");
	CHECK_ANS('Z', "4.4.3");
	CHECK(strstr(ans.text, "SERVFAIL") != NULL);
	/* Not cached: the next query asks again, and now gets it. */
	servfail = "";
	lk.sent = 0;
	CHECK_STR(ask('m', "example.org"),
	    "10 mx1.example.org 192.0.2.10 25\n"
	    "20 mx2.example.org 192.0.2.20 25");
	CHECK(lk.sent > 0);

	/* No answer at all (a timeout). */
	setup(100);
	silent = "example.org";
	CHECK_STR(ask('m', "example.org"), "");
	CHECK_ANS('Z', "4.4.3");
	/* An MX host whose lookup fails now is skipped... */
	setup(100);
	servfail = "mx1.example.org";
	CHECK_STR(ask('m', "example.org"), "20 mx2.example.org 192.0.2.20 25");
	CHECK_ANS('K', "2.0.0");
	CHECK(strstr(ans.text, "mx1.example.org") != NULL);
	/* ... and when every one fails, the answer is Z, not D. */
	setup(100);
	servfail = "mx1.example.org mx2.example.org";
	CHECK_STR(ask('m', "example.org"), "");
	CHECK_ANS('Z', "4.4.3");
	setup(100);
	silent = "mx1.example.org";
	servfail = "mx2.example.org";
	CHECK_STR(ask('m', "example.org"), "");
	CHECK_ANS('Z', "4.4.3");
	/* An MX host that does not exist is no temporary failure. */
	CHECK_STR(ask('m', "gone.example.org"), "");
	CHECK_ANS('D', "5.4.4");
	/* Mode a, SERVFAIL. */
	setup(100);
	servfail = "mx1.example.org";
	CHECK_STR(ask('a', "mx1.example.org"), "");
	CHECK_ANS('Z', "4.4.3");

	/* Past the query's deadline nothing more is sent. */
	setup(100);
	lk.deadline = fake_now;
	CHECK_STR(ask('m', "example.org"), "");
	CHECK_ANS('Z', "4.4.3");
	CHECK(lk.sent == 0);
}

static void
test_loopback(void)
{
	static const struct zrr z[] = {
		{ "example.org", DNS_T_MX, 60, "10 mx1.example.org" },
		{ "example.org", DNS_T_MX, 60, "20 me.example.net" },
		{ "example.org", DNS_T_MX, 60, "20 mx2.example.org" },
		{ "example.org", DNS_T_MX, 60, "30 mx3.example.org" },
		{ "mx1.example.org", DNS_T_A, 60, "192.0.2.10" },
		{ "mx2.example.org", DNS_T_A, 60, "192.0.2.20" },
		{ "mx3.example.org", DNS_T_A, 60, "192.0.2.30" },
		{ "me.example.net", DNS_T_A, 60, "192.0.2.99" },
		{ "primary.example.org", DNS_T_MX, 60, "10 ME.Example.NET" },
		{ "primary.example.org", DNS_T_MX, 60, "20 mx2.example.org" },
		{ "self.example.org", DNS_T_CNAME, 60, "me.example.net" },
	};
	struct dns_mx mx[3];

	setup(100);
	ZONE(z);
	/* We are at 20: only what is better than us is left. */
	CHECK_STR(ask('m', "example.org"), "10 mx1.example.org 192.0.2.10 25");
	/* We are the best (case does not matter): it loops. */
	CHECK_STR(ask('m', "primary.example.org"), "");
	CHECK_ANS('D', "5.4.6");
	CHECK(strstr(ans.text, "loops back to myself") != NULL);
	/* The implicit MX is us, by name or through a CNAME. */
	CHECK_STR(ask('m', "me.example.net"), "");
	CHECK_ANS('D', "5.4.6");
	CHECK_STR(ask('m', "self.example.org"), "");
	CHECK_ANS('D', "5.4.6");
	/* Somebody else's hostname: everything stays. */
	CHECK_STR(ask_full("other.example.net", 'm', "primary.example.org",
	    ANSWER_IPV4, 10, "25"),
	    "10 ME.Example.NET 192.0.2.99 25\n"
	    "20 mx2.example.org 192.0.2.20 25");
	/* Mode a asks for a host, not where mail goes: no rule. */
	CHECK_STR(ask('a', "me.example.net"), "0 me.example.net 192.0.2.99 25");

	/* mx_loopback() directly. */
	memset(mx, 0, sizeof(mx));
	mx[0].pref = 10;
	strlcpy(mx[0].host, "a", sizeof(mx[0].host));
	mx[1].pref = 10;
	strlcpy(mx[1].host, "self", sizeof(mx[1].host));
	mx[2].pref = 20;
	strlcpy(mx[2].host, "b", sizeof(mx[2].host));
	CHECK(mx_loopback(mx, 3, "SELF") == 0);
	CHECK(mx_loopback(mx, 3, "b") == 2);
	CHECK(mx_loopback(mx, 3, "nobody") == 3);
}

static void
test_cname(void)
{
	static const struct zrr z[] = {
		{ "alias.example.org", DNS_T_CNAME, 60, "example.org" },
		{ "example.org", DNS_T_MX, 60, "10 mxalias.example.org" },
		{ "mxalias.example.org", DNS_T_CNAME, 60, "mx1.example.org" },
		{ "mx1.example.org", DNS_T_A, 60, "192.0.2.10" },
		{ "impl.example.org", DNS_T_CNAME, 60, "host.example.org" },
		{ "host.example.org", DNS_T_A, 60, "192.0.2.77" },
		{ "loop1.example.org", DNS_T_CNAME, 60, "loop2.example.org" },
		{ "loop2.example.org", DNS_T_CNAME, 60, "loop1.example.org" },
		{ "bad.example.org", DNS_T_CNAME, 60, "bad_t.example.org" },
		{ "bad_t.example.org", DNS_T_MX, 60, "10 mx1.example.org" },
		{ "mxbad.example.org", DNS_T_MX, 60, "10 bad.example.org" },
	};
	int pass;

	/* Once with a server that follows CNAMEs, once with one that gives
	 * only the CNAME and lets us ask again. */
	for (pass = 0; pass < 2; pass++) {
		setup(0);
		ZONE(z);
		chase = pass == 0;
		/* The MX host keeps its name (a CNAME'd MX works). */
		CHECK_STR(ask('m', "alias.example.org"),
		    "10 mxalias.example.org 192.0.2.10 25");
		/* The implicit MX is the end of the domain's chain. */
		CHECK_STR(ask('m', "impl.example.org"),
		    "0 host.example.org 192.0.2.77 25");
		CHECK_STR(ask('m', "loop1.example.org"), "");
		CHECK_ANS('Z', "4.4.3");
		CHECK(strstr(ans.text, "CNAME") != NULL);
		CHECK_STR(ask('m', "bad.example.org"), "");
		CHECK_ANS('D', "5.4.4");
		CHECK_STR(ask('m', "mxbad.example.org"), "");
		CHECK_ANS('D', "5.4.4");
		CHECK_STR(ask('a', "loop1.example.org"), "");
		CHECK_ANS('Z', "4.4.3");
	}
}

static void
test_literal_names(void)
{
	static const char *bad[] = {
		"", "exa mple.org", "a..b", "-a.org", "example.org.",
		"192.0.2.1", "b\xc3\xbc" "cher.example", "x\ny.org", "a\tb",
		"[300.1.1.1]", "[x-tag:text]", "[192.0.2.1", "[]",
	};
	char long_name[400];
	size_t i;

	setup(100);
	ZONE(z_basic);
	CHECK_STR(ask('m', "[192.0.2.1]"), "0 [192.0.2.1] 192.0.2.1 25");
	CHECK_ANS('K', "2.0.0");
	CHECK_STR(ask('a', "[IPv6:2001:DB8::1]"),
	    "0 [IPv6:2001:DB8::1] 2001:db8::1 25");
	CHECK(lk.sent == 0);
	CHECK_STR(ask_full("me.example.net", 'm', "[IPv6:2001:db8::1]",
	    ANSWER_IPV4, 10, "25"), "");
	CHECK_ANS('D', "5.4.4");
	CHECK_STR(ask_full("me.example.net", 'm', "[192.0.2.1]",
	    ANSWER_IPV6, 10, "25"), "");
	CHECK_ANS('D', "5.4.4");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_STR(ask(i % 2 ? 'a' : 'm', bad[i]), "");
		CHECK_ANS('D', "5.1.2");
		/* The text never carries a control byte. */
		CHECK(strchr(ans.text, '\n') == NULL &&
		    strchr(ans.text, '\t') == NULL);
	}
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	CHECK_STR(ask('m', long_name), "");
	CHECK_ANS('D', "5.1.2");
	CHECK(strlen(ans.text) < 200);
	CHECK(lk.sent == 0);	/* none of them was asked for */
}

static void
test_cache(void)
{
	static const struct zrr z[] = {
		{ "example.org", DNS_T_MX, 300, "10 mx1.example.org" },
		{ "mx1.example.org", DNS_T_A, 100, "192.0.2.10" },
		{ "shared.example.com", DNS_T_MX, 300, "10 mx1.example.org" },
		{ "null.example.org", DNS_T_MX, 50, "0 ." },
	};
	struct dns_result r;
	struct cache *c;

	setup(100);
	ZONE(z);
	ask('m', "example.org");
	CHECK(lk.sent == 3);		/* MX, AAAA, A */
	CHECK(cache_count(lk.cache) == 3);
	ask('m', "example.org");
	CHECK(lk.sent == 3);		/* all from the cache */
	/* Another domain with the same MX host: only its MX is asked. */
	ask('m', "shared.example.com");
	CHECK(lk.sent == 4);
	/* The A record lives 100 s, the MX 300 s. */
	fake_now += 100;
	ask('m', "example.org");
	CHECK(lk.sent == 5);		/* A again (AAAA is negative, 600 s) */
	CHECK_STR(buf_str(&hosts), "10 mx1.example.org 192.0.2.10 25");
	fake_now += 200;
	ask('m', "example.org");
	CHECK(lk.sent == 7);		/* the MX, and the A again */
	/* NXDOMAIN: for the SOA minimum. */
	soa_min = 30;
	ask('m', "nx.example.org");
	CHECK(lk.sent == 8);
	ask('m', "nx.example.org");
	CHECK(lk.sent == 8);
	CHECK_ANS('D', "5.1.2");
	fake_now += 30;
	ask('m', "nx.example.org");
	CHECK(lk.sent == 9);
	/* A null MX, for its record's TTL: no new query within it. */
	ask('m', "null.example.org");
	ask('m', "null.example.org");
	CHECK(lk.sent == 10);
	CHECK_ANS('D', "5.1.10");
	/* resolve_cache_max_seconds caps every TTL. */
	setup(100);
	lk.cache_max_seconds = 10;
	ask('m', "example.org");
	CHECK(lk.sent == 3);
	fake_now += 10;
	ask('m', "example.org");
	CHECK(lk.sent == 6);
	/* 0: nothing kept. */
	setup(100);
	lk.cache_max_seconds = 0;
	ask('m', "example.org");
	ask('m', "example.org");
	CHECK(lk.sent == 6);
	CHECK(cache_count(lk.cache) == 0);

	/* cache.c directly: bounded, the oldest goes first, case-blind. */
	c = cache_new(2);
	memset(&r, 0, sizeof(r));
	r.status = DNS_OK;
	r.naddr = 1;
	r.addr[0].family = AF_INET;
	strlcpy(r.name, "a.example", sizeof(r.name));
	cache_put(c, DNS_T_A, "a.example", 0, 100, &r);
	cache_put(c, DNS_T_A, "b.example", 0, 100, &r);
	CHECK(cache_count(c) == 2);
	CHECK(cache_get(c, DNS_T_A, "A.EXAMPLE", 50, &r) == 1);
	CHECK(cache_get(c, DNS_T_AAAA, "a.example", 50, &r) == 0);
	cache_put(c, DNS_T_A, "c.example", 0, 100, &r);
	CHECK(cache_count(c) == 2);
	CHECK(cache_get(c, DNS_T_A, "a.example", 50, &r) == 0);
	CHECK(cache_get(c, DNS_T_A, "b.example", 50, &r) == 1);
	CHECK(r.ttl == 50);		/* what is left of it */
	CHECK(cache_get(c, DNS_T_A, "c.example", 100, &r) == 0);
	CHECK(cache_count(c) == 1);	/* the expired one went */
	cache_put(c, DNS_T_A, "d.example", 0, 0, &r);	/* TTL 0 */
	CHECK(cache_get(c, DNS_T_A, "d.example", 0, &r) == 0);
	cache_free(c);
	c = cache_new(0);
	cache_put(c, DNS_T_A, "a.example", 0, 100, &r);
	CHECK(cache_count(c) == 0);
	cache_free(c);
}

int
main(void)
{
	buf_init(&hosts, 1 << 20);
	test_order_format();
	test_limit_protocols();
	test_shuffle();
	test_implicit_null();
	test_temporary();
	test_loopback();
	test_cname();
	test_literal_names();
	test_cache();
	cache_free(lk.cache);
	buf_free(&hosts);
	return harness_done();
}
