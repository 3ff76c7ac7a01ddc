/*
 * addr.h: RFC 5321 4.1.2 paths and mailboxes, parsed exactly.
 *
 * Path      = "<" [ A-d-l ":" ] Mailbox ">"     (the source route is
 *             accepted and thrown away: RFC 5321 4.1.2, RFC 2821 C)
 * Mailbox   = Local-part "@" ( Domain / address-literal )
 * Local-part= Dot-string / Quoted-string        (at most 64 octets)
 * Domain    = sub-domain *("." sub-domain)      (at most 255 octets)
 * address-literal = "[" IPv4 / "IPv6:" IPv6 / tag ":" text "]"
 *
 * Nothing is guessed: no missing brackets, no trailing dots, no "user" without
 * a domain except <postmaster> (RFC 5321 4.5.1) when ADDR_POSTMASTER is
 * given. Control characters, NUL, CR and LF are never accepted, even inside
 * quotes. With ADDR_UTF8 (SMTPUTF8, RFC 6531) UTF-8 sequences are allowed in
 * the local part and the domain; they are checked to be well-formed.
 *
 * The parsed address is canonical: domain lowercased (ASCII), a quoted local
 * part kept unquoted in .local with .quoted set; addr_format() re-quotes it
 * when it is not a valid dot-string. The path limit of 256 octets holds.
 */
#ifndef POSTERN_ADDR_H
#define POSTERN_ADDR_H

#include <stddef.h>

#define ADDR_LOCAL_MAX	64
#define ADDR_DOMAIN_MAX	255
#define ADDR_PATH_MAX	256		/* RFC 5321 4.5.3.1.3, with <> */
#define ADDR_TEXT_MAX	(ADDR_PATH_MAX * 2 + 4)	/* formatted, quotes doubled */

#define ADDR_NULL_OK	0x01	/* "<>" is valid (reverse-path) */
#define ADDR_UTF8	0x02	/* RFC 6531 UTF-8 allowed */
#define ADDR_POSTMASTER	0x04	/* "<postmaster>" without domain is valid */

struct addr {
	int	 null;				/* the "<>" reverse-path */
	int	 quoted;			/* local part was quoted */
	int	 literal;			/* domain is [address-literal] */
	char	 local[ADDR_LOCAL_MAX + 1];	/* unquoted */
	char	 domain[ADDR_DOMAIN_MAX + 1];	/* lowercased; "" for
						 * postmaster and null */
};

/* Parse a Path at s (s[0] must be '<'), len bytes available. On success 0,
 * *end points past the '>'. On failure -1 and *why is a short English reason
 * fit for a 501 reply. */
int	 addr_parse_path(const char *s, size_t len, int flags, struct addr *,
	    const char **end, const char **why);
/* Parse a whole string as a Mailbox (no brackets), e.g. from a table or a
 * command line. 0 or -1 with *why. */
int	 addr_parse_mailbox(const char *s, int flags, struct addr *,
	    const char **why);
/* "local@domain" (local re-quoted when needed); "" for the null path;
 * "postmaster" alone when the domain is empty. -1 if outsz is too small. */
int	 addr_format(const struct addr *, char *out, size_t outsz);
/* A Domain (or, with literal_ok, an address-literal): EHLO arguments. */
int	 addr_domain_valid(const char *s, int literal_ok, int utf8_ok);
/* Lowercase ASCII in place (table keys). */
void	 addr_lower(char *s);

#endif
