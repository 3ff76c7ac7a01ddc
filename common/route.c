/*
 * route.c: route values and the lookup walk of the routes and tls_policy
 * tables (route.h). makemap checks every value with the same parser qmgr
 * uses, so a table that compiled is a table qmgr understands.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bsd/string.h>

#include "route.h"

void
route_default(const char *domain, struct route *r)
{
	r->mode = domain[0] == '[' ? 'a' : 'm';
	strlcpy(r->name, domain, sizeof(r->name));
	r->port = 25;
}

/* A host name as RFC 1123 allows: LDH labels of 1..63, 253 in all. */
static int
hostname_ok(const char *s, size_t len)
{
	size_t	 i, label = 0;

	if (len == 0 || len > 253)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum(c) && c != '-')
			return 0;
		if (c == '-' && label == 0)
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0 && s[len - 1] != '-';
}

/* "[...]" contents: an IPv4 address, "IPv6:..." or a bare IPv6 address
 * (made "IPv6:..."), or a host name. 1 literal, 0 host name, -1 bad. */
static int
bracket_parse(const char *s, size_t len, struct route *r)
{
	char		 tmp[ADDR_DOMAIN_MAX + 1];
	unsigned char	 bin[16];

	if (len == 0 || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (inet_pton(AF_INET, tmp, bin) == 1) {
		snprintf(r->name, sizeof(r->name), "[%s]", tmp);
		return 1;
	}
	if (strncasecmp(tmp, "ipv6:", 5) == 0 &&
	    inet_pton(AF_INET6, tmp + 5, bin) == 1) {
		snprintf(r->name, sizeof(r->name), "[IPv6:%s]", tmp + 5);
		return 1;
	}
	if (inet_pton(AF_INET6, tmp, bin) == 1) {
		snprintf(r->name, sizeof(r->name), "[IPv6:%s]", tmp);
		return 1;
	}
	if (!hostname_ok(tmp, len))
		return -1;
	strlcpy(r->name, tmp, sizeof(r->name));
	return 0;
}

int
route_parse(const char *v, struct route *r, const char **why)
{
	const char	*host, *end, *colon;
	char		*e;
	long		 port;
	size_t		 len;

	r->port = 25;
	if (v[0] == '[') {
		if ((end = strchr(v, ']')) == NULL) {
			*why = "no ']' after '['";
			return -1;
		}
		if (bracket_parse(v + 1, (size_t)(end - v - 1), r) == -1) {
			*why = "not a host name or an address inside [ ]";
			return -1;
		}
		r->mode = 'a';
		colon = end + 1;
		if (*colon != '\0' && *colon != ':') {
			*why = "text after ']' (want \":port\")";
			return -1;
		}
	} else {
		host = v;
		colon = strchr(v, ':');
		len = colon != NULL ? (size_t)(colon - v) : strlen(v);
		if (!hostname_ok(host, len) || len >= sizeof(r->name)) {
			*why = "not a host name (use [address] for an address)";
			return -1;
		}
		memcpy(r->name, host, len);
		r->name[len] = '\0';
		r->mode = 'm';
		if (colon == NULL)
			colon = v + len;
	}
	if (*colon == ':') {
		errno = 0;
		port = strtol(colon + 1, &e, 10);
		if (!isdigit((unsigned char)colon[1]) || *e != '\0' ||
		    errno != 0 || port < 1 || port > 65535) {
			*why = "port is not a number from 1 to 65535";
			return -1;
		}
		r->port = (int)port;
	}
	for (e = r->name; *e != '\0'; e++)
		if (r->name[0] != '[')
			*e = (char)tolower((unsigned char)*e);
	return 0;
}

/* Keys: a domain, ".parent" (its subdomains), "*" (all the rest), or an
 * address literal. */
static int
key_check(const char *key, const char **why)
{
	struct route	 r;
	const char	*d = key[0] == '.' ? key + 1 : key;

	if (strcmp(key, "*") == 0)
		return 0;
	if (key[0] == '[') {
		if (route_parse(key, &r, why) == -1 || key[strlen(key) - 1] !=
		    ']') {
			*why = "bad address literal key";
			return -1;
		}
		return 0;
	}
	if (!hostname_ok(d, strlen(d))) {
		*why = "key is not a domain, .domain, [literal] or *";
		return -1;
	}
	return 0;
}

int
route_check(const char *key, const char *value, const char **why)
{
	struct route	 r;

	if (key_check(key, why) == -1)
		return -1;
	return route_parse(value, &r, why);
}

int
tls_policy_check(const char *key, const char *value, const char **why)
{
	static const char *const levels[] = { "none", "may", "encrypt",
	    "verify" };
	size_t	 i;

	if (key_check(key, why) == -1)
		return -1;
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcmp(value, levels[i]) == 0)
			return 0;
	*why = "level is not none, may, encrypt or verify";
	return -1;
}

int
route_lookup(struct table *t, const char *domain, struct buf *value)
{
	char		 key[ADDR_DOMAIN_MAX + 2];
	const char	*p;
	int		 rc;

	if ((rc = table_lookup(t, domain, value)) != 0)
		return rc;
	if (domain[0] != '[')
		for (p = strchr(domain, '.'); p != NULL;
		    p = strchr(p + 1, '.')) {
			if (strlcpy(key, p, sizeof(key)) >= sizeof(key))
				break;
			if ((rc = table_lookup(t, key, value)) != 0)
				return rc;
		}
	return table_lookup(t, "*", value);
}
