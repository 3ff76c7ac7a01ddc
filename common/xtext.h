/*
 * xtext.h: RFC 3461 xtext, and the DSN parameter values built from it
 * (ENVID, RET, NOTIFY, ORCPT), checked the same way by smtpd (the client's
 * text), enqueue (smtpd's records) and qfile.c (the queue file).
 *
 * Values are kept as the client sent them, xtext-encoded: every byte of an
 * encoded value is printable ASCII without blank, "+" only as "+HH", so a
 * stored value can never hold a NUL, CR, LF or blank, and a DSN (the bounce
 * code) decodes it with xtext_decode() when it writes one. Keyword values
 * (RET, NOTIFY, the ORCPT addr-type) are kept in a canonical spelling, so
 * a reader needs to know only one.
 *
 * Every function is pure: no allocation, no I/O, no logging.
 */
#ifndef POSTERN_XTEXT_H
#define POSTERN_XTEXT_H

#include <stddef.h>

/* RFC 3461 4.4: ENVID is at most 100 octets before xtext encoding. */
#define DSN_ENVID_MAX		100
#define DSN_ENVID_XTEXT_MAX	(DSN_ENVID_MAX * 3)	/* all "+HH" */
/* The whole ORCPT value "addr-type;xtext" as sent: our bound, ample for
 * an address of RFC 5321's 256 octets even with every octet encoded. */
#define DSN_ORCPT_MAX		800
/* "SUCCESS,FAILURE,DELAY" and its NUL. */
#define DSN_NOTIFY_MAX		24

/* Decode n octets of xtext (RFC 3461 4: xchar is "!".."~" but "+" and
 * "="; "+" is followed by two upper-case hex digits) into out, which gets
 * a NUL. The decoded length in *outlen (may be NULL). 0, or -1 when the
 * text is not xtext or does not fit in outsz. */
int	 xtext_decode(const char *s, size_t n, char *out, size_t outsz,
	    size_t *outlen);

/* ENVID= (RFC 3461 4.4): xtext whose decoding is 1 to 100 octets of
 * printable ASCII. 1 or 0. */
int	 dsn_envid_valid(const char *s, size_t n);
/* RET= (RFC 3461 4.3): FULL or HDRS in any case; the canonical upper-case
 * word into out ("FULL", "HDRS"). 0 or -1. */
int	 dsn_ret_canon(const char *s, size_t n, char *out, size_t outsz);
/* NOTIFY= (RFC 3461 4.1): NEVER, or a comma list of SUCCESS, FAILURE and
 * DELAY, each at most once, in any case. Canonical: upper case, NEVER
 * alone or the words in the order SUCCESS,FAILURE,DELAY. 0 or -1. */
int	 dsn_notify_canon(const char *s, size_t n, char *out, size_t outsz);
/* ORCPT= (RFC 3461 4.2, RFC 6533 3): "rfc822;" xtext decoding to
 * printable ASCII, or "utf-8;" utf-8-addr-xtext (ASCII, with \x{HEX} for
 * each non-ASCII character); the addr-type in any case. Canonical: the
 * addr-type in lower case, the rest as sent. 0 or -1. */
int	 dsn_orcpt_canon(const char *s, size_t n, char *out, size_t outsz);

/* The canonical forms, as stored: 1 if s is exactly what the _canon
 * function makes of some valid input, else 0. "" is not valid. */
int	 dsn_ret_valid(const char *s);
int	 dsn_notify_valid(const char *s);
int	 dsn_orcpt_valid(const char *s);
/* ENVID as stored: dsn_envid_valid() of the whole string. */
int	 dsn_envid_stored_valid(const char *s);

#endif
