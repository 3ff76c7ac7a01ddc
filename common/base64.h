/*
 * base64.h: RFC 4648 section 4 base64, the encoding of SMTP AUTH
 * (RFC 4954 4: every challenge and response is base64).
 *
 * Strict: the standard alphabet only, no blanks or line breaks, padding
 * required (the length is a multiple of 4), padding only at the end, and
 * the unused bits of the last group must be zero (RFC 4648 3.5), so that
 * each decoded value has exactly one encoding. Bounded: the caller names the
 * output size and a longer result is an error, never a truncation.
 */
#ifndef POSTERN_BASE64_H
#define POSTERN_BASE64_H

#include <stddef.h>

/* Decode len bytes at in into out (outsz bytes). Returns the decoded
 * length, or -1 when in is not valid base64 or does not fit. out is not
 * NUL-terminated; on -1 its contents are undefined (and were zeroed). */
long	 base64_decode(const char *in, size_t len, unsigned char *out,
	    size_t outsz);
/* Encode len bytes at in into out, NUL-terminated. The encoded length
 * (without the NUL), or -1 if outsz is too small. */
long	 base64_encode(const unsigned char *in, size_t len, char *out,
	    size_t outsz);

#endif
