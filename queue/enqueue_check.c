/*
 * enqueue_check.c: the checks a value from smtpd (or from master's -a) must
 * pass before enqueue puts it into an envelope.
 *
 * smtpd has already checked these values against the client's command;
 * enqueue checks again because smtpd is the network-facing process and must
 * be assumed compromised: a value that fails here means smtpd is broken,
 * and enqueue ends the session (a protocol error), never "repairs" the
 * value. Each function returns 1 when the value is acceptable, 0 when not;
 * none of them logs. Addresses are checked with addr_parse_mailbox() by the
 * caller; these are the other fields of 'M' and the client address.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "enqueue.h"

/* RFC 6152: the only BODY= values we announce (8BITMIME) and the default. */
int
enqueue_check_body(const char *s)
{
	return strcmp(s, "7BIT") == 0 || strcmp(s, "8BITMIME") == 0;
}

/*
 * The declared SIZE= (RFC 1870), "0" if none: plain decimal digits only
 * (no sign, no blanks: strtoll would take both), at most 18 digits so that
 * it always fits a long long.
 */
int
enqueue_check_size(const char *s, long long *out)
{
	long long	 v = 0;
	size_t		 i;

	if (s[0] == '\0' || strlen(s) > 18)
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 1;
}

/*
 * The EHLO/HELO argument goes into our Received: line (RFC 5321 4.4,
 * "from" clause). Printable ASCII without blanks, 1 to 255 octets (the
 * Domain limit of RFC 5321 4.5.3.1.2): no blank means it cannot fake a
 * "by" clause, no control character means it cannot end the header line.
 */
int
enqueue_check_helo(const char *s)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return i >= 1 && i <= 255;
}

/* The "with" protocol (RFC 5321 4.4, the IANA mail-parameters registry of
 * RFC 3848 and later): capitals and digits, 1 to 15 of them. */
int
enqueue_check_proto(const char *s)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' &&
		    s[i] <= '9')))
			return 0;
	return i >= 1 && i <= 15;
}

/* master's -a: "" for a local submission, else a numeric IPv4 or IPv6
 * address exactly as inet_pton() reads it (no scope suffix, no port). */
int
enqueue_check_client(const char *s)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;

	if (s[0] == '\0')
		return 1;
	if (strlen(s) >= INET6_ADDRSTRLEN)
		return 0;
	return inet_pton(AF_INET, s, &a4) == 1 ||
	    inet_pton(AF_INET6, s, &a6) == 1;
}

/* smtpd relays an 'E' reply only if it is printable ASCII
 * (docs/protocols.md); an address with UTF-8 (RFC 6531) must not go in. */
int
enqueue_check_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}
