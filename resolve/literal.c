/*
 * literal.c: a domain literal as a destination (see literal.h).
 *
 * Called by mx.c before any DNS: "[192.0.2.1]" and "[IPv6:...]" name an
 * address, not a host, and RFC 5321 5.1 has them used as they are. The
 * address is checked by inet_pton(), which takes only the dotted quad for
 * IPv4 (no "1.2.3" or octal forms) and no zone index for IPv6. The "IPv6"
 * tag is matched without regard to case, as addr.c does.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "literal.h"

#define LITERAL_MAX	64	/* "[IPv6:" + the longest IPv6 text + "]" */

int
literal_parse(const char *name, struct dns_addr *addr)
{
	char	 text[LITERAL_MAX];
	size_t	 len = strlen(name);

	if (len == 0 || name[0] != '[')
		return 0;
	if (len < 3 || len - 2 >= sizeof(text) || name[len - 1] != ']')
		return -1;
	memcpy(text, name + 1, len - 2);
	text[len - 2] = '\0';
	memset(addr, 0, sizeof(*addr));
	if (strncasecmp(text, "IPv6:", 5) == 0) {
		addr->family = AF_INET6;
		return inet_pton(AF_INET6, text + 5, addr->a) == 1 ? 1 : -1;
	}
	addr->family = AF_INET;
	return inet_pton(AF_INET, text, addr->a) == 1 ? 1 : -1;
}
