/*
 * params.c: the MAIL and RCPT parameters of SMTPUTF8 (RFC 6531) and DSN
 * (RFC 3461): SMTPUTF8, RET=, ENVID= on MAIL; NOTIFY=, ORCPT= on RCPT.
 *
 * Called by command.c's parameter loops (only after EHLO: parameters
 * belong to extensions, RFC 5321 4.1.1.2), and through them by the unit
 * tests and the fuzzer. Pure: no I/O, no session state. Each value is
 * checked with xtext.c, the same code enqueue and the queue file use, and
 * kept in its canonical form in struct smtpd_path for the 'M' and 'R'
 * records. A parameter given twice is refused: RFC 3461 4.1-4.4 and RFC
 * 6531 3.4 allow each at most once, and "the last one wins" would let one
 * program in a chain see a different value from the next.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <bsd/string.h>

#include "smtpd.h"

static int
is(const char *key, size_t len, const char *name)
{
	return strlen(name) == len && strncasecmp(key, name, len) == 0;
}

static int
bad(char *reply, size_t replysz, const char *what, int repeated)
{
	snprintf(reply, replysz, repeated ? "501 5.5.4 Repeated %s parameter" :
	    "501 5.5.4 Bad %s parameter syntax", what);
	return -1;
}

int
param_mail_ext(const char *key, size_t keylen, const char *val,
    size_t vallen, struct smtpd_path *p, char *reply, size_t replysz)
{
	if (is(key, keylen, "SMTPUTF8")) {
		/* RFC 6531 3.4: "SMTPUTF8" has no value. */
		if (p->utf8)
			return bad(reply, replysz, "SMTPUTF8", 1);
		if (val != NULL)
			return bad(reply, replysz, "SMTPUTF8", 0);
		p->utf8 = 1;
		return 1;
	}
	if (is(key, keylen, "RET")) {
		if (p->ret[0] != '\0')
			return bad(reply, replysz, "RET", 1);
		if (val == NULL || dsn_ret_canon(val, vallen, p->ret,
		    sizeof(p->ret)) == -1)
			return bad(reply, replysz, "RET", 0);
		return 1;
	}
	if (is(key, keylen, "ENVID")) {
		if (p->envid[0] != '\0')
			return bad(reply, replysz, "ENVID", 1);
		/* RFC 3461 4.4: xtext, at most 100 octets decoded; kept as
		 * sent (xtext.h says why). */
		if (val == NULL || !dsn_envid_valid(val, vallen) ||
		    vallen >= sizeof(p->envid))
			return bad(reply, replysz, "ENVID", 0);
		memcpy(p->envid, val, vallen);
		p->envid[vallen] = '\0';
		return 1;
	}
	return 0;
}

int
param_rcpt_ext(const char *key, size_t keylen, const char *val,
    size_t vallen, struct smtpd_path *p, char *reply, size_t replysz)
{
	if (is(key, keylen, "NOTIFY")) {
		if (p->notify[0] != '\0')
			return bad(reply, replysz, "NOTIFY", 1);
		if (val == NULL || dsn_notify_canon(val, vallen, p->notify,
		    sizeof(p->notify)) == -1) {
			p->notify[0] = '\0';
			return bad(reply, replysz, "NOTIFY", 0);
		}
		return 1;
	}
	if (is(key, keylen, "ORCPT")) {
		if (p->orcpt[0] != '\0')
			return bad(reply, replysz, "ORCPT", 1);
		if (val == NULL || dsn_orcpt_canon(val, vallen, p->orcpt,
		    sizeof(p->orcpt)) == -1) {
			p->orcpt[0] = '\0';
			return bad(reply, replysz, "ORCPT", 0);
		}
		return 1;
	}
	return 0;
}

int
param_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}
