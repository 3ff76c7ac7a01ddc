/*
 * base64.c: RFC 4648 base64 decoding and encoding (rules in base64.h).
 *
 * Called by smtpd for the AUTH exchange (RFC 4954): the input is client
 * text, of any bytes and any length, already bounded by the line limit.
 * Nothing is allocated; every write into out is checked against outsz
 * before it happens. The output may be a password: on failure what was
 * written is zeroed with explicit_bzero() so no half-decoded secret is
 * left for the caller to forget.
 */
#include <string.h>
#include <bsd/string.h>

#include "base64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of c, or -1 for a byte outside the alphabet. */
static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long
base64_decode(const char *in, size_t len, unsigned char *out, size_t outsz)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t	 i, n = 0, pad;
	int	 v[4], k;

	if (len % 4 != 0)
		goto bad;
	for (i = 0; i < len; i += 4) {
		/* "=" only in the last group: one or two of them, last. */
		pad = 0;
		if (i + 4 == len) {
			if (p[i + 3] == '=')
				pad++;
			if (p[i + 2] == '=') {
				if (pad == 0)
					goto bad;
				pad++;
			}
		}
		for (k = 0; k < 4; k++) {
			if (k >= 4 - (int)pad) {
				v[k] = 0;
				continue;
			}
			if ((v[k] = b64_value(p[i + (size_t)k])) == -1)
				goto bad;
		}
		/* RFC 4648 3.5: the bits padding drops must be zero. */
		if ((pad == 1 && (v[2] & 0x03) != 0) ||
		    (pad == 2 && (v[1] & 0x0f) != 0))
			goto bad;
		if (n + 3 - pad > outsz)
			goto bad;
		out[n++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[n++] = (unsigned char)((v[1] & 0x0f) << 4 | v[2] >> 2);
		if (pad < 1)
			out[n++] = (unsigned char)((v[2] & 0x03) << 6 | v[3]);
	}
	return (long)n;
bad:
	explicit_bzero(out, n);
	return -1;
}

long
base64_encode(const unsigned char *in, size_t len, char *out, size_t outsz)
{
	size_t	 i, n = 0;
	unsigned v;

	if (outsz == 0 || (len + 2) / 3 * 4 >= outsz)
		return -1;
	for (i = 0; i < len; i += 3) {
		v = (unsigned)in[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[n++] = alphabet[v >> 18 & 0x3f];
		out[n++] = alphabet[v >> 12 & 0x3f];
		out[n++] = i + 1 < len ? alphabet[v >> 6 & 0x3f] : '=';
		out[n++] = i + 2 < len ? alphabet[v & 0x3f] : '=';
	}
	out[n] = '\0';
	return (long)n;
}
