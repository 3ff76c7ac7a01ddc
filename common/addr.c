/*
 * addr.c: RFC 5321 4.1.2 paths and mailboxes, parsed exactly.
 *
 * Called by smtpd (MAIL FROM / RCPT TO arguments, EHLO names), by enqueue
 * and the queue file reader (addresses handed over a pipe are checked
 * again), by sendmail and by rcpt.c. The grammar is the one in addr.h; the
 * parser never guesses: what RFC 5321 does not allow is refused with a short
 * English reason (fit for a 501 reply), and nothing outside the grammar ever
 * reaches .local or .domain. In particular no control character, NUL, CR or
 * LF can be part of a parsed address, quoted or not: that is what keeps an
 * address from forging an envelope record or reaching a shell in a form it
 * was not written in (OpenSMTPD CVE-2020-7247 was an unquoted ';').
 *
 * Assumes nothing about its input: lengths are given, bytes may be anything.
 * Returns 0 / -1 with *why; never allocates, never logs.
 *
 * Two choices the RFC leaves open, made here:
 *  - an empty quoted local part ("") is refused: the grammar allows it, but
 *    no mailbox is named that way and every consumer would read it as a
 *    missing local part;
 *  - addr_parse_mailbox("") with ADDR_NULL_OK is the null path, the inverse
 *    of addr_format() for it.
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>
#include <bsd/string.h>

#include "addr.h"

/* RFC 5322 3.2.3 atext, as RFC 5321 4.1.2 Atom uses it. */
static int
is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static int
is_letdig(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* RFC 5321 4.1.2 qtextSMTP: %d32-33 / %d35-91 / %d93-126 */
static int
is_qtext(unsigned char c)
{
	return c == 32 || c == 33 || (c >= 35 && c <= 91) ||
	    (c >= 93 && c <= 126);
}

/* RFC 5321 4.1.3 dcontent: %d33-90 / %d94-126 */
static int
is_dcontent(unsigned char c)
{
	return (c >= 33 && c <= 90) || (c >= 94 && c <= 126);
}

/*
 * Length of the well-formed UTF-8 sequence at p (RFC 3629 section 4, the
 * table every RFC 6531 UTF8-non-ascii refers to), or 0: no overlong forms,
 * no surrogates, nothing past U+10FFFF, no lone continuation bytes.
 */
static size_t
utf8_seq(const unsigned char *p, size_t avail)
{
	unsigned char	 c = p[0], lo = 0x80, hi = 0xbf;
	size_t		 n, i;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (c == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;	/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;	/* past U+10FFFF */
	} else
		return 0;
	if (avail < n)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

void
addr_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/*
 * Dot-string = Atom *("." Atom) at s[*pos..len). Stops at the first byte that
 * is neither atext nor '.'; the caller decides whether that byte may end it.
 * Copies into out (outsz > the 64-octet limit, checked here).
 */
static int
parse_dot_string(const unsigned char *s, size_t len, size_t *pos, int flags,
    char *out, size_t outsz, const char **why)
{
	size_t	 p = *pos, n = 0, k;
	int	 atom_len = 0;

	while (p < len) {
		unsigned char c = s[p];

		if (c == '.') {
			if (atom_len == 0) {
				*why = n == 0 ? "local part starts with a dot" :
				    "consecutive dots in local part";
				return -1;
			}
			atom_len = 0;
			k = 1;
		} else if (is_atext(c)) {
			atom_len++;
			k = 1;
		} else if (c >= 0x80 && (flags & ADDR_UTF8)) {
			/* RFC 6531 3.3: atext =/ UTF8-non-ascii */
			if ((k = utf8_seq(s + p, len - p)) == 0) {
				*why = "invalid UTF-8 in local part";
				return -1;
			}
			atom_len++;
		} else if (c >= 0x80) {
			*why = "non-ASCII character in local part";
			return -1;
		} else
			break;
		if (n + k > ADDR_LOCAL_MAX) {
			*why = "local part too long";
			return -1;
		}
		memcpy(out + n, s + p, k);
		n += k;
		p += k;
	}
	if (n == 0) {
		*why = p < len && s[p] != '>' && s[p] != '@' ?
		    "invalid character in local part" : "empty local part";
		return -1;
	}
	if (atom_len == 0) {
		*why = "local part ends with a dot";
		return -1;
	}
	out[n] = '\0';
	(void)outsz;
	*pos = p;
	return 0;
}

/*
 * Quoted-string at s[*pos] == '"'. The 64-octet limit of RFC 5321 4.5.3.1.1
 * counts the local part as sent, quotes and backslashes included; what is
 * stored is shorter, so it always fits.
 */
static int
parse_quoted(const unsigned char *s, size_t len, size_t *pos, int flags,
    char *out, const char **why)
{
	size_t	 p = *pos + 1, n = 0, k;

	for (;;) {
		unsigned char c;

		if (p >= len) {
			*why = "unterminated quoted string";
			return -1;
		}
		c = s[p];
		if (c == '"')
			break;
		if (c == '\\') {
			/* RFC 5321 4.1.2 quoted-pairSMTP: %d92 %d32-126 */
			if (p + 1 >= len) {
				*why = "unterminated quoted string";
				return -1;
			}
			c = s[p + 1];
			if (c < 32 || c > 126) {
				*why = "invalid character in local part";
				return -1;
			}
			out[n++] = (char)c;
			p += 2;
		} else if (is_qtext(c)) {
			out[n++] = (char)c;
			p++;
		} else if (c >= 0x80 && (flags & ADDR_UTF8)) {
			/* RFC 6531 3.3: qtextSMTP =/ UTF8-non-ascii */
			if ((k = utf8_seq(s + p, len - p)) == 0) {
				*why = "invalid UTF-8 in local part";
				return -1;
			}
			memcpy(out + n, s + p, k);
			n += k;
			p += k;
		} else if (c >= 0x80) {
			*why = "non-ASCII character in local part";
			return -1;
		} else {
			*why = "invalid character in local part";
			return -1;
		}
		/* p - *pos: wire octets so far, opening quote included; one
		 * more for the closing quote. */
		if (p - *pos + 1 > ADDR_LOCAL_MAX) {
			*why = "local part too long";
			return -1;
		}
	}
	p++;			/* closing quote */
	if (n == 0) {
		*why = "empty local part";
		return -1;
	}
	out[n] = '\0';
	*pos = p;
	return 0;
}

/*
 * Domain = sub-domain *("." sub-domain), sub-domain = Let-dig [Ldh-str]
 * (RFC 5321 4.1.2), or with ADDR_UTF8 a U-label (RFC 6531 3.3). Labels at
 * most 63 octets (RFC 1035 2.3.4; for a U-label the octets of its UTF-8
 * form, which is stricter than the A-label's limit), the whole at most 255
 * octets (RFC 5321 4.5.3.1.2). Stops at the first byte that cannot be part of
 * a domain; the caller checks what that byte is.
 */
static int
parse_domain(const unsigned char *s, size_t len, size_t *pos, int utf8,
    char *out, const char **why)
{
	size_t	 p = *pos, n = 0, label = 0, k;
	int	 last_hyphen = 0;

	for (;;) {
		unsigned char c = p < len ? s[p] : '\0';

		if (p < len && (is_letdig(c) || c == '-')) {
			if (c == '-' && label == 0) {
				*why = "domain label starts with a hyphen";
				return -1;
			}
			last_hyphen = c == '-';
			k = 1;
		} else if (p < len && c >= 0x80 && utf8) {
			if ((k = utf8_seq(s + p, len - p)) == 0) {
				*why = "invalid UTF-8 in domain";
				return -1;
			}
			last_hyphen = 0;
		} else if (p < len && c >= 0x80) {
			*why = "non-ASCII character in domain";
			return -1;
		} else {
			/* '.' or the end of the domain: close the label. */
			if (label == 0) {
				if (n == 0 && c != '.')
					*why = "empty domain";
				else if (n == 0)
					*why = "domain starts with a dot";
				else if (c == '.')
					*why = "consecutive dots in domain";
				else
					*why = "domain ends with a dot";
				return -1;
			}
			if (last_hyphen) {
				*why = "domain label ends with a hyphen";
				return -1;
			}
			if (c != '.')
				break;
			label = 0;
			k = 1;
			last_hyphen = 0;
			if (n + 1 > ADDR_DOMAIN_MAX) {
				*why = "domain too long";
				return -1;
			}
			out[n++] = '.';
			p++;
			continue;
		}
		if (label + k > 63) {
			*why = "domain label too long";
			return -1;
		}
		if (n + k > ADDR_DOMAIN_MAX) {
			*why = "domain too long";
			return -1;
		}
		memcpy(out + n, s + p, k);
		n += k;
		label += k;
		p += k;
	}
	out[n] = '\0';
	addr_lower(out);
	*pos = p;
	return 0;
}

/* out = "[" tag text "]"; the caller has checked that it fits. */
static void
bracket(char *out, const char *tag, const char *text)
{
	strlcpy(out, "[", ADDR_DOMAIN_MAX + 1);
	strlcat(out, tag, ADDR_DOMAIN_MAX + 1);
	strlcat(out, text, ADDR_DOMAIN_MAX + 1);
	strlcat(out, "]", ADDR_DOMAIN_MAX + 1);
}

/*
 * address-literal at s[*pos] == '[' (RFC 5321 4.1.3): IPv4, "IPv6:" IPv6,
 * or General-address-literal (Standardized-tag ":" 1*dcontent). Each IP form
 * is checked by inet_pton(), which refuses leading zeros and octets > 255.
 * A tag spelled "IPv6" must hold a valid IPv6 address: it cannot slip past
 * as a general literal. Stored with its brackets; an IPv6 one as
 * "[IPv6:" + the address in lowercase.
 */
static int
parse_literal(const unsigned char *s, size_t len, size_t *pos, char *out,
    const char **why)
{
	char		 text[ADDR_DOMAIN_MAX + 1];
	unsigned char	 bin[16];
	size_t		 p = *pos + 1, n = 0, i;
	const char	*colon;

	while (p < len && s[p] != ']') {
		if (!is_dcontent(s[p])) {
			*why = "invalid character in address literal";
			return -1;
		}
		if (n + 2 >= ADDR_DOMAIN_MAX) {	/* room for "[]" */
			*why = "address literal too long";
			return -1;
		}
		text[n++] = (char)s[p++];
	}
	if (p >= len) {
		*why = "missing ']'";
		return -1;
	}
	text[n] = '\0';
	p++;
	if (n == 0) {
		*why = "empty address literal";
		return -1;
	}
	if ((colon = strchr(text, ':')) == NULL) {
		if (inet_pton(AF_INET, text, bin) != 1) {
			*why = "invalid IPv4 address literal";
			return -1;
		}
		bracket(out, "", text);
	} else if (colon - text == 4 && strncasecmp(text, "IPv6", 4) == 0) {
		if (inet_pton(AF_INET6, colon + 1, bin) != 1) {
			*why = "invalid IPv6 address literal";
			return -1;
		}
		addr_lower(text);
		bracket(out, "IPv6:", colon + 1);
	} else {
		/* Standardized-tag = Ldh-str: letters, digits, hyphens, ending
		 * in a letter or digit; dcontent after the colon. */
		size_t taglen = (size_t)(colon - text);

		if (taglen == 0 || !is_letdig((unsigned char)text[taglen - 1])) {
			*why = "invalid address literal tag";
			return -1;
		}
		for (i = 0; i < taglen; i++)
			if (!is_letdig((unsigned char)text[i]) &&
			    text[i] != '-') {
				*why = "invalid address literal tag";
				return -1;
			}
		if (colon[1] == '\0') {
			*why = "empty address literal";
			return -1;
		}
		bracket(out, "", text);
	}
	*pos = p;
	return 0;
}

/*
 * Mailbox = Local-part "@" ( Domain / address-literal ) at s[*pos..len).
 * Stops after the domain; the caller checks the byte that follows.
 */
static int
parse_mailbox(const unsigned char *s, size_t len, size_t *pos, int flags,
    struct addr *a, const char **why)
{
	size_t	 p = *pos;

	if (p < len && s[p] == '"') {
		if (parse_quoted(s, len, &p, flags, a->local, why) == -1)
			return -1;
		a->quoted = 1;
	} else {
		if (p < len && s[p] == '@') {
			*why = "empty local part";
			return -1;
		}
		if (parse_dot_string(s, len, &p, flags, a->local,
		    sizeof(a->local), why) == -1)
			return -1;
	}
	if (p >= len || s[p] == '>') {
		*why = "missing '@' and domain";
		return -1;
	}
	if (s[p] != '@') {
		*why = s[p] >= 0x80 ? "non-ASCII character in local part" :
		    "invalid character in local part";
		return -1;
	}
	p++;
	if (p < len && s[p] == '[') {
		if (parse_literal(s, len, &p, a->domain, why) == -1)
			return -1;
		a->literal = 1;
	} else if (parse_domain(s, len, &p, flags & ADDR_UTF8, a->domain,
	    why) == -1)
		return -1;
	*pos = p;
	return 0;
}

static int
is_postmaster(const unsigned char *s, size_t len)
{
	return len >= 10 && strncasecmp((const char *)s, "postmaster", 10) == 0;
}

int
addr_parse_path(const char *str, size_t len, int flags, struct addr *a,
    const char **end, const char **why)
{
	const unsigned char	*s = (const unsigned char *)str;
	char			 route[ADDR_DOMAIN_MAX + 1];
	size_t			 p;

	memset(a, 0, sizeof(*a));
	if (len == 0 || s[0] != '<') {
		*why = "missing '<'";
		return -1;
	}
	p = 1;
	if (p < len && s[p] == '>') {
		if (!(flags & ADDR_NULL_OK)) {
			*why = "empty address";
			return -1;
		}
		a->null = 1;
		*end = str + p + 1;
		return 0;
	}
	/* RFC 5321 4.5.1: <Postmaster> without a domain, any case. */
	if ((flags & ADDR_POSTMASTER) && is_postmaster(s + p, len - p) &&
	    p + 10 < len && s[p + 10] == '>') {
		strlcpy(a->local, "postmaster", sizeof(a->local));
		*end = str + p + 11;
		return 0;
	}
	/* A-d-l = At-domain *( "," At-domain ): RFC 5321 4.1.2 and
	 * appendix C (RFC 2821 appendix C): accepted, checked, and thrown
	 * away. */
	if (p < len && s[p] == '@') {
		for (;;) {
			p++;		/* the '@' */
			if (parse_domain(s, len, &p, flags & ADDR_UTF8,
			    route, why) == -1)
				return -1;
			if (p < len && s[p] == ',' && p + 1 < len &&
			    s[p + 1] == '@') {
				p++;
				continue;
			}
			if (p < len && s[p] == ':') {
				p++;
				break;
			}
			*why = "invalid source route";
			return -1;
		}
	}
	if (parse_mailbox(s, len, &p, flags, a, why) == -1)
		return -1;
	if (p >= len) {
		*why = "missing '>'";
		return -1;
	}
	if (s[p] != '>') {
		if (a->literal)
			*why = "invalid character after address literal";
		else
			*why = s[p] >= 0x80 ? "non-ASCII character in domain" :
			    "invalid character in domain";
		return -1;
	}
	p++;
	/* RFC 5321 4.5.3.1.3: 256 octets, punctuation included. */
	if (p > ADDR_PATH_MAX) {
		*why = "address too long";
		return -1;
	}
	*end = str + p;
	return 0;
}

int
addr_parse_mailbox(const char *str, int flags, struct addr *a,
    const char **why)
{
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 len = strlen(str), p = 0;

	memset(a, 0, sizeof(*a));
	if (len == 0 && (flags & ADDR_NULL_OK)) {
		a->null = 1;
		return 0;
	}
	if ((flags & ADDR_POSTMASTER) && len == 10 && is_postmaster(s, len)) {
		strlcpy(a->local, "postmaster", sizeof(a->local));
		return 0;
	}
	if (parse_mailbox(s, len, &p, flags, a, why) == -1)
		return -1;
	if (p != len) {
		if (a->literal)
			*why = "invalid character after address literal";
		else
			*why = s[p] >= 0x80 ? "non-ASCII character in domain" :
			    "invalid character in domain";
		return -1;
	}
	/* The same 256-octet path limit, without the two brackets. */
	if (len + 2 > ADDR_PATH_MAX) {
		*why = "address too long";
		return -1;
	}
	return 0;
}

/* Whether a stored local part can go out without quotes: a Dot-string.
 * Bytes >= 0x80 were checked as UTF-8 when parsed, and only with ADDR_UTF8,
 * so they are atext here (RFC 6531 3.3). */
static int
is_dot_string(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	int			 prev_dot = 1;

	if (*p == '\0')
		return 0;
	for (; *p != '\0'; p++) {
		if (*p == '.') {
			if (prev_dot)
				return 0;
			prev_dot = 1;
		} else if (is_atext(*p) || *p >= 0x80)
			prev_dot = 0;
		else
			return 0;
	}
	return !prev_dot;
}

int
addr_format(const struct addr *a, char *out, size_t outsz)
{
	size_t	 n = 0;
	const char *p;

#define PUT(c) do {							\
	if (n + 1 >= outsz)						\
		return -1;						\
	out[n++] = (c);							\
} while (0)

	if (outsz == 0)
		return -1;
	if (a->null) {
		out[0] = '\0';
		return 0;
	}
	if (is_dot_string(a->local)) {
		for (p = a->local; *p != '\0'; p++)
			PUT(*p);
	} else {
		/* RFC 5321 4.1.2: quoted-pairSMTP for '"' and '\'; every
		 * other stored byte is qtextSMTP (or UTF-8). */
		PUT('"');
		for (p = a->local; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				PUT('\\');
			PUT(*p);
		}
		PUT('"');
	}
	if (a->domain[0] != '\0') {
		PUT('@');
		for (p = a->domain; *p != '\0'; p++)
			PUT(*p);
	}
	out[n] = '\0';
	return 0;
#undef PUT
}

int
addr_domain_valid(const char *str, int literal_ok, int utf8_ok)
{
	const unsigned char	*s = (const unsigned char *)str;
	char			 out[ADDR_DOMAIN_MAX + 1];
	const char		*why;
	size_t			 len = strlen(str), p = 0;

	if (len > 0 && s[0] == '[') {
		if (!literal_ok)
			return 0;
		if (parse_literal(s, len, &p, out, &why) == -1)
			return 0;
	} else if (parse_domain(s, len, &p, utf8_ok, out, &why) == -1)
		return 0;
	return p == len;
}
