/*
 * xtext.c: RFC 3461 xtext and the DSN parameter values (see xtext.h).
 *
 * Called by smtpd (command.c, on the client's MAIL and RCPT parameters),
 * by enqueue (on smtpd's 'M' and 'R' records: smtpd faces the network and
 * is not trusted) and by qfile.c (on the queue file, written and read).
 * One set of rules in one place, so the three can never disagree about
 * what may be stored. Each check is strict: a value that is not exactly
 * what the RFC's grammar allows is refused, never repaired.
 */
#include <string.h>
#include <strings.h>
#include <bsd/string.h>

#include "xtext.h"

static int
hexval(int c, int upper_only)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (!upper_only && c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
xtext_decode(const char *s, size_t n, char *out, size_t outsz,
    size_t *outlen)
{
	size_t	 i, o = 0;
	int	 c, h1, h2;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '+') {
			/* RFC 3461 4: hexchar = "+" 2(%x30-39 / %x41-46),
			 * upper case only. */
			if (i + 2 >= n)
				return -1;
			if ((h1 = hexval((unsigned char)s[i + 1], 1)) == -1 ||
			    (h2 = hexval((unsigned char)s[i + 2], 1)) == -1)
				return -1;
			c = h1 * 16 + h2;
			if (c == 0)
				return -1;	/* never a NUL in a value */
			i += 2;
		} else if (c < 33 || c > 126 || c == '=')
			return -1;	/* xchar: "!".."~" but "+" and "=" */
		if (o + 1 >= outsz)
			return -1;
		out[o++] = (char)c;
	}
	if (outsz == 0)
		return -1;
	out[o] = '\0';
	if (outlen != NULL)
		*outlen = o;
	return 0;
}

int
dsn_envid_valid(const char *s, size_t n)
{
	char	 v[DSN_ENVID_MAX + 1];
	size_t	 len, i;

	if (n == 0 || n > DSN_ENVID_XTEXT_MAX ||
	    xtext_decode(s, n, v, sizeof(v), &len) == -1 || len == 0)
		return 0;
	/* RFC 3461 4.4: "printable (graphic) US-ASCII characters". */
	for (i = 0; i < len; i++)
		if (v[i] < 33 || v[i] > 126)
			return 0;
	return 1;
}

static int
word_is(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && strncasecmp(s, w, n) == 0;
}

int
dsn_ret_canon(const char *s, size_t n, char *out, size_t outsz)
{
	const char	*w;

	/* RFC 3461 4.3: ret-value = "FULL" / "HDRS" */
	if (word_is(s, n, "FULL"))
		w = "FULL";
	else if (word_is(s, n, "HDRS"))
		w = "HDRS";
	else
		return -1;
	return strlcpy(out, w, outsz) < outsz ? 0 : -1;
}

int
dsn_notify_canon(const char *s, size_t n, char *out, size_t outsz)
{
	static const char *const words[] = { "SUCCESS", "FAILURE", "DELAY" };
	size_t	 i, j, len;
	unsigned seen = 0;
	int	 never = 0;

	/* RFC 3461 4.1: "NEVER" / 1#notify-list-element, where the list
	 * has no blanks here (an esmtp-value holds none) and no element
	 * twice; NEVER "MUST NOT" be combined with the others. */
	if (n == 0)
		return -1;
	for (i = 0; i <= n; i = j + 1) {
		for (j = i; j < n && s[j] != ','; j++)
			;
		len = j - i;
		if (word_is(s + i, len, "NEVER")) {
			if (never || seen)
				return -1;
			never = 1;
			continue;
		}
		if (never)
			return -1;
		if (word_is(s + i, len, "SUCCESS") && !(seen & 1))
			seen |= 1;
		else if (word_is(s + i, len, "FAILURE") && !(seen & 2))
			seen |= 2;
		else if (word_is(s + i, len, "DELAY") && !(seen & 4))
			seen |= 4;
		else
			return -1;	/* unknown, empty or repeated */
	}
	if (outsz == 0)
		return -1;
	out[0] = '\0';
	if (never)
		return strlcpy(out, "NEVER", outsz) < outsz ? 0 : -1;
	for (i = 0; i < 3; i++) {
		if (!(seen & (1u << i)))
			continue;
		if ((out[0] != '\0' && strlcat(out, ",", outsz) >= outsz) ||
		    strlcat(out, words[i], outsz) >= outsz)
			return -1;
	}
	return 0;
}

/* RFC 6533 3: utf-8-addr-xtext = 1*(QCHAR / EmbeddedUnicodeChar); QCHAR
 * is "!".."~" but "+", "=" and "\"; EmbeddedUnicodeChar is "\x{HEX}" with
 * 2 to 6 hex digits naming a Unicode scalar value. The raw UTF-8 form
 * (utf-8-addr-unitext) is not taken: an esmtp-value here is ASCII. */
static int
utf8_addr_xtext_valid(const char *s, size_t n)
{
	size_t	 i, k;
	unsigned long cp;
	int	 h;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '\\') {
			if (i + 3 >= n || s[i + 1] != 'x' || s[i + 2] != '{')
				return 0;
			cp = 0;
			for (k = i + 3; k < n && s[k] != '}'; k++) {
				h = hexval((unsigned char)s[k], 0);
				if (h == -1 || k - (i + 3) >= 6)
					return 0;
				cp = cp * 16 + (unsigned long)h;
			}
			if (k >= n || k - (i + 3) < 2 || cp > 0x10FFFF ||
			    (cp >= 0xD800 && cp <= 0xDFFF))
				return 0;
			i = k;
			continue;
		}
		if (s[i] < 33 || s[i] > 126 || s[i] == '+' || s[i] == '=')
			return 0;
	}
	return 1;
}

int
dsn_orcpt_canon(const char *s, size_t n, char *out, size_t outsz)
{
	char		 v[DSN_ORCPT_MAX + 1];
	const char	*semi, *type;
	size_t		 tlen, len, i;

	if (n == 0 || n > DSN_ORCPT_MAX ||
	    (semi = memchr(s, ';', n)) == NULL)
		return -1;
	tlen = (size_t)(semi - s);
	/* RFC 3461 4.2: orcpt-parameter = "ORCPT=" addr-type ";" xtext */
	if (word_is(s, tlen, "rfc822")) {
		type = "rfc822";
		if (xtext_decode(semi + 1, n - tlen - 1, v, sizeof(v),
		    &len) == -1 || len == 0)
			return -1;
		/* "printable (graphic and white space) characters from the
		 * US-ASCII repertoire" (RFC 3461 4.2). */
		for (i = 0; i < len; i++)
			if (v[i] < 32 || v[i] > 126)
				return -1;
	} else if (word_is(s, tlen, "utf-8")) {
		type = "utf-8";
		if (!utf8_addr_xtext_valid(semi + 1, n - tlen - 1))
			return -1;
	} else
		return -1;
	/* type is as long as what it replaces: the result is n octets. */
	if (n + 1 > outsz)
		return -1;
	memcpy(out, type, tlen);
	memcpy(out + tlen, semi, n - tlen);
	out[n] = '\0';
	return 0;
}

/* A stored value is valid when canonicalising it changes nothing. */
static int
canon_same(int (*canon)(const char *, size_t, char *, size_t),
    const char *s)
{
	char	 out[DSN_ORCPT_MAX + 1];
	size_t	 n = strlen(s);

	return n > 0 && n <= DSN_ORCPT_MAX &&
	    canon(s, n, out, sizeof(out)) == 0 && strcmp(out, s) == 0;
}

int
dsn_ret_valid(const char *s)
{
	return canon_same(dsn_ret_canon, s);
}

int
dsn_notify_valid(const char *s)
{
	return canon_same(dsn_notify_canon, s);
}

int
dsn_orcpt_valid(const char *s)
{
	return canon_same(dsn_orcpt_canon, s);
}

int
dsn_envid_stored_valid(const char *s)
{
	return dsn_envid_valid(s, strlen(s));
}
