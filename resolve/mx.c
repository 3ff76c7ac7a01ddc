/*
 * mx.c: where mail for a domain goes (RFC 5321 5.1), see mx.h.
 *
 * Called by resolve.c for each 'Q', and by the unit tests with a lookup
 * whose packets are made by hand. The rules, in the order they apply:
 *
 *  - a domain literal is used as it is, no DNS (RFC 5321 5.1);
 *  - a name that is not a host name is refused before any query (D 5.1.2);
 *  - MX: NXDOMAIN is D 5.1.2; a failure to get an answer Z 4.4.3 (never
 *    the implicit MX: RFC 5321 5.1 falls back only on an empty answer);
 *    a lone MX whose target is "." is the null MX of RFC 7505, D 5.1.10;
 *    targets that are not host names are left out (none left: D 5.4.4);
 *    no MX at all is the implicit MX, the domain itself at preference 0;
 *  - the loop-back rule (RFC 5321 5.1: "the SMTP client MUST ... discard
 *    ... any MX RRs with preference ... at or above" its own): a target
 *    that is our hostname takes itself and every record at the same or a
 *    worse preference away, and nothing left is D 5.4.6;
 *  - the hosts, best preference first, equal ones shuffled (RFC 5321 5.1
 *    asks for the randomisation), each one's IPv6 addresses then its IPv4
 *    ones, until resolve_address_limit lines. A host whose addresses
 *    cannot be had now is skipped; when no host gave an address, a
 *    temporary failure of any of them makes the answer Z 4.4.3, else it
 *    is D 5.4.4.
 */
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "literal.h"
#include "mx.h"

/* What looking up one host's addresses came to. */
enum mx_found { MX_FOUND, MX_NONE, MX_NXDOMAIN, MX_TEMP };

/* A name as it may go into a text: a query's name may be any bytes. */
static const char *
mx_printable(const char *in, char *out, size_t outsz)
{
	size_t i;

	for (i = 0; in[i] != '\0' && i + 1 < outsz; i++)
		out[i] = (unsigned char)in[i] < 0x20 ||
		    (unsigned char)in[i] >= 0x7f || in[i] == ' ' ? '?' : in[i];
	out[i] = '\0';
	if (in[i] != '\0' && outsz > 4)
		strlcpy(out + outsz - 4, "...", 4);
	return out;
}

static int
mx_cmp(const void *a, const void *b)
{
	const struct dns_mx *x = a, *y = b;

	return x->pref < y->pref ? -1 : x->pref > y->pref;
}

void
mx_order(struct dns_mx *mx, size_t n)
{
	struct dns_mx	 t;
	size_t		 i, j, k;

	qsort(mx, n, sizeof(*mx), mx_cmp);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && mx[j].pref == mx[i].pref; j++)
			;
		/* Fisher-Yates over mx[i..j). */
		for (k = j - 1; k > i; k--) {
			size_t r = i +
			    arc4random_uniform((uint32_t)(k - i + 1));

			t = mx[k];
			mx[k] = mx[r];
			mx[r] = t;
		}
	}
}

size_t
mx_loopback(struct dns_mx *mx, size_t n, const char *self)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcasecmp(mx[i].host, self) == 0)
			break;
	if (i == n)
		return n;
	/* Sorted: everything from the first record at this preference. */
	while (i > 0 && mx[i - 1].pref == mx[i].pref)
		i--;
	return i;
}

/*
 * Add host's addresses to a: IPv6 first, then IPv4, each family only when
 * inet_protocols has it. why gets the first failure's text.
 */
static enum mx_found
mx_addrs(struct lookup *lk, struct answer *a, unsigned pref,
    const char *host, char *why, size_t whysz)
{
	static const struct { int fam, type; const char *name; } q[] = {
		{ ANSWER_IPV6, DNS_T_AAAA, "AAAA" },
		{ ANSWER_IPV4, DNS_T_A, "A" },
	};
	struct dns_result r;
	size_t	 i, k;
	int	 found = 0, temp = 0, nx = 0, bad = 0;

	for (i = 0; i < sizeof(q) / sizeof(q[0]) && !nx && !bad; i++) {
		if ((a->families & q[i].fam) == 0)
			continue;
		switch (lookup_run(lk, host, q[i].type, &r)) {
		case DNS_OK:
			found = 1;
			for (k = 0; k < r.naddr; k++)
				answer_add(a, pref, host, &r.addr[k]);
			continue;
		case DNS_NXDOMAIN:
			/* The name is not there: no other type will be. */
			nx = 1;
			break;
		case DNS_NODATA:
			break;
		case DNS_BADNAME:
			bad = 1;	/* a CNAME to no host: D 5.4.4 */
			break;
		default:
			temp = 1;
			break;
		}
		if (why[0] == '\0')
			snprintf(why, whysz, "%s lookup for %s: %s", q[i].name,
			    host, r.why);
	}
	if (found)
		return MX_FOUND;
	if (temp)
		return MX_TEMP;
	if (why[0] == '\0')
		snprintf(why, whysz, "%s: no address (inet_protocols)", host);
	return nx ? MX_NXDOMAIN : MX_NONE;
}

/* Mode 'a', and the implicit MX: one host at preference 0. */
static void
mx_host(struct lookup *lk, const char *name, const char *host,
    struct answer *a)
{
	char why[ANSWER_TEXT_MAX] = "";

	switch (mx_addrs(lk, a, 0, host, why, sizeof(why))) {
	case MX_FOUND:
		break;
	case MX_TEMP:
		answer_set(a, 'Z', "4.4.3", "%s: %s", name, why);
		break;
	case MX_NXDOMAIN:
		answer_set(a, 'D', "5.1.2", "%s: host not found: %s", name,
		    why);
		break;
	case MX_NONE:
		answer_set(a, 'D', "5.4.4", "%s: no address record: %s", name,
		    why);
		break;
	}
}

/* The MX records of a domain, in the order they are tried. */
static void
mx_hosts(struct lookup *lk, const char *self, const char *name,
    struct dns_result *r, struct answer *a)
{
	char	 why[ANSWER_TEXT_MAX] = "";
	size_t	 i, n = 0;
	int	 temp = 0;

	/* RFC 7505 3: a null MX is the domain's only MX. */
	if (r->nmxrr == 1 && r->nmx == 1 && r->mx[0].host[0] == '\0') {
		answer_set(a, 'D', "5.1.10", "%s: domain does not accept mail "
		    "(null MX, RFC 7505)", name);
		return;
	}
	for (i = 0; i < r->nmx; i++)
		if (r->mx[i].host[0] != '\0')
			r->mx[n++] = r->mx[i];
	if (n == 0) {
		answer_set(a, 'D', "5.4.4", "MX lookup for %s: no MX target "
		    "is a host name", name);
		return;
	}
	mx_order(r->mx, n);
	if ((n = mx_loopback(r->mx, n, self)) == 0) {
		answer_set(a, 'D', "5.4.6", "mail for %s loops back to myself",
		    name);
		return;
	}
	for (i = 0; i < n && !answer_full(a); i++)
		if (mx_addrs(lk, a, r->mx[i].pref, r->mx[i].host, why,
		    sizeof(why)) == MX_TEMP)
			temp = 1;
	if (a->n > 0) {
		/* A host skipped for now is worth a word in the log. */
		if (temp)
			strlcpy(a->text, why, sizeof(a->text));
		return;
	}
	if (temp)
		answer_set(a, 'Z', "4.4.3", "%s: no MX host address yet: %s",
		    name, why);
	else
		answer_set(a, 'D', "5.4.4", "%s: no MX host has an address: %s",
		    name, why);
}

void
mx_resolve(struct lookup *lk, const char *self, int mode, const char *name,
    struct answer *a)
{
	struct dns_result r;
	struct dns_addr	 lit;
	char		 pr[128];

	switch (literal_parse(name, &lit)) {
	case 1:
		if (!answer_add(a, 0, name, &lit))
			answer_set(a, 'D', "5.4.4", "%s: IPv%d is not in "
			    "inet_protocols", name,
			    lit.family == AF_INET6 ? 6 : 4);
		return;
	case -1:
		answer_set(a, 'D', "5.1.2", "%s: not a usable address literal",
		    mx_printable(name, pr, sizeof(pr)));
		return;
	}
	if (!dns_hostname_valid(name)) {
		answer_set(a, 'D', "5.1.2", "%s: not a valid domain name",
		    mx_printable(name, pr, sizeof(pr)));
		return;
	}
	if (mode == 'a') {
		mx_host(lk, name, name, a);
		return;
	}
	switch (lookup_run(lk, name, DNS_T_MX, &r)) {
	case DNS_OK:
		mx_hosts(lk, self, name, &r, a);
		break;
	case DNS_NODATA:
		/* RFC 5321 5.1: the implicit MX, the domain itself (the
		 * end of its CNAME chain), preference 0. */
		if (strcasecmp(r.name, self) == 0 ||
		    strcasecmp(name, self) == 0)
			answer_set(a, 'D', "5.4.6", "mail for %s loops back "
			    "to myself", name);
		else
			mx_host(lk, name, r.name, a);
		break;
	case DNS_NXDOMAIN:
		answer_set(a, 'D', "5.1.2", "MX lookup for %s: %s", name,
		    r.why);
		break;
	case DNS_BADNAME:
		answer_set(a, 'D', "5.4.4", "MX lookup for %s: %s", name,
		    r.why);
		break;
	default:
		answer_set(a, 'Z', "4.4.3", "MX lookup for %s: %s", name,
		    r.why);
		break;
	}
}
