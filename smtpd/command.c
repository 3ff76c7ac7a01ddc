/*
 * command.c: one SMTP command line into a verb and its arguments, and the
 * arguments of MAIL, RCPT and EHLO/HELO into checked values.
 *
 * Called by smtpd.c (the line) and session.c (the arguments); the unit test
 * tests/unit/test_smtpd_command.c calls every function directly. Pure: no
 * I/O, no session state, nothing allocated. The input is untrusted client
 * text, already bounded by smtpd_command_line_limit; every function takes it
 * as it is and refuses what RFC 5321 does not allow, with the exact reply
 * line to send (no CRLF). What a reply echoes back of the client's text
 * (an unsupported parameter) has been checked to be printable ASCII first.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <bsd/string.h>

#include "smtpd.h"

static const struct {
	const char	*name;
	enum smtpd_verb	 verb;
} verbs[] = {
	{ "HELO", VERB_HELO }, { "EHLO", VERB_EHLO }, { "MAIL", VERB_MAIL },
	{ "RCPT", VERB_RCPT }, { "DATA", VERB_DATA }, { "RSET", VERB_RSET },
	{ "NOOP", VERB_NOOP }, { "QUIT", VERB_QUIT }, { "VRFY", VERB_VRFY },
	{ "EXPN", VERB_EXPN }, { "HELP", VERB_HELP }, { "SEND", VERB_SEND },
	{ "SAML", VERB_SAML }, { "SOML", VERB_SOML }, { "TURN", VERB_TURN },
	{ "STARTTLS", VERB_STARTTLS }, { "AUTH", VERB_AUTH },
	{ "BDAT", VERB_BDAT },
};

enum smtpd_verb
cmd_line_check(struct buf *line)
{
	/* RFC 5321 2.3.8 wants CRLF; a lone LF at the very end of a command
	 * is tolerated because it cannot be mistaken for anything (unlike
	 * in DATA, see data.c). */
	if (line->len > 0 && line->data[line->len - 1] == '\n')
		line->len--;
	if (line->len > 0 && line->data[line->len - 1] == '\r')
		line->len--;
	line->data[line->len] = '\0';
	if (memchr(line->data, '\0', line->len) != NULL)
		return VERB_NUL;
	/* A CR anywhere else would be a line ending to some other program
	 * that sees this text later (a log reader, a relay). */
	if (memchr(line->data, '\r', line->len) != NULL)
		return VERB_BADCR;
	return VERB_UNKNOWN;
}

void
cmd_parse(char *line, struct smtpd_cmd *cmd)
{
	size_t	 n, i;
	char	*sp;

	/* Trailing blanks: common from hand-typed and broken clients, and
	 * meaningless to every command. */
	n = strlen(line);
	while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
		line[--n] = '\0';
	cmd->verb = VERB_UNKNOWN;
	cmd->name = "";
	cmd->args = "";
	if (n == 0) {
		cmd->verb = VERB_EMPTY;
		return;
	}
	/* RFC 5321 4.1.1: verb SP arguments; verbs are case-insensitive. */
	if ((sp = strchr(line, ' ')) != NULL) {
		*sp = '\0';
		cmd->args = sp + 1;
	}
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcasecmp(line, verbs[i].name) == 0) {
			cmd->verb = verbs[i].verb;
			cmd->name = verbs[i].name;
			return;
		}
	}
}

/* RFC 5321 4.1.2: esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
static int
param_keyword_valid(const char *p, size_t n)
{
	size_t	 i;

	if (n == 0 || !isalnum((unsigned char)p[0]))
		return 0;
	for (i = 1; i < n; i++)
		if (!isalnum((unsigned char)p[i]) && p[i] != '-')
			return 0;
	return 1;
}

/* esmtp-value = 1*(%d33-60 / %d62-126): no blank, no '=', no control. */
static int
param_value_valid(const char *p, size_t n)
{
	size_t	 i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (p[i] < 33 || p[i] > 126 || p[i] == '=')
			return 0;
	return 1;
}

/* A decimal SIZE= value without overflow: RFC 1870 size-value = 1*20DIGIT. */
static int
param_size(const char *p, size_t n, long long *out)
{
	long long v = 0;
	size_t	 i;

	if (n == 0 || n > 20)
		return -1;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		if (v > (LLONG_MAX - (p[i] - '0')) / 10)
			v = LLONG_MAX;	/* larger than any limit */
		else
			v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return 0;
}

/*
 * "KW:<path>[ params]": kw ("FROM:" or "TO:") in any case, one optional SP
 * after the colon (RFC 5321 4.1.1.2 has none, but many clients send it),
 * then the path. On success *params points at "" or at the SP before the
 * first parameter. 0; -1 with *bad: 0 no "KW:" (a command syntax error),
 * 1 the path (an address syntax error).
 */
static int
path_split(const char *args, const char *kw, int flags, struct addr *a,
    const char **params, int *bad)
{
	size_t	 kwlen = strlen(kw);
	const char *p, *end, *why;

	if (strncasecmp(args, kw, kwlen) != 0) {
		*bad = 0;
		return -1;
	}
	p = args + kwlen;
	if (*p == ' ')
		p++;
	*bad = 1;
	if (*p != '<')
		return -1;
	if (addr_parse_path(p, strlen(p), flags, a, &end, &why) == -1)
		return -1;
	if (*end != '\0' && *end != ' ')
		return -1;	/* "<a@b>x": not a path followed by params */
	*params = end;
	return 0;
}

/*
 * Walk the parameters: returns 1 with the next one in key/keylen and
 * val/vallen (val NULL when there is no '='), 0 at the end, -1 on a syntax
 * error. Parameters are separated by one or more SP.
 */
static int
param_next(const char **pp, const char **key, size_t *keylen,
    const char **val, size_t *vallen)
{
	const char *p = *pp, *eq, *end;

	while (*p == ' ')
		p++;
	if (*p == '\0')
		return 0;
	end = strchr(p, ' ');
	if (end == NULL)
		end = p + strlen(p);
	*pp = end;
	*key = p;
	eq = memchr(p, '=', (size_t)(end - p));
	if (eq == NULL) {
		*keylen = (size_t)(end - p);
		*val = NULL;
		*vallen = 0;
	} else {
		*keylen = (size_t)(eq - p);
		*val = eq + 1;
		*vallen = (size_t)(end - eq - 1);
		if (!param_value_valid(*val, *vallen))
			return -1;
	}
	return param_keyword_valid(*key, *keylen) ? 1 : -1;
}

static int
keyis(const char *key, size_t len, const char *name)
{
	return strlen(name) == len && strncasecmp(key, name, len) == 0;
}

int
cmd_mail_args(const char *args, int esmtp, long long size_limit,
    struct smtpd_path *mp, char *reply, size_t replysz)
{
	const char *params, *key, *val;
	size_t	 keylen, vallen;
	int	 bad, r, seen_size = 0, seen_body = 0;

	memset(mp, 0, sizeof(*mp));
	/* ADDR_UTF8: SMTPUTF8 comes after the path; checked at the end. */
	if (path_split(args, "FROM:", ADDR_NULL_OK | ADDR_UTF8, &mp->addr,
	    &params, &bad) == -1) {
		strlcpy(reply, bad ? "501 5.1.7 Bad sender address syntax" :
		    "501 5.5.4 Syntax: MAIL FROM:<address>", replysz);
		return -1;
	}
	while ((r = param_next(&params, &key, &keylen, &val, &vallen)) != 0) {
		if (r == -1) {
			strlcpy(reply, "501 5.5.4 Syntax error in parameters",
			    replysz);
			return -1;
		}
		/* RFC 5321 4.1.1.2: parameters belong to extensions, and
		 * extensions to EHLO; RFC 1870 SIZE, RFC 6152 BODY. */
		if ((keyis(key, keylen, "SIZE") && seen_size) ||
		    (keyis(key, keylen, "BODY") && seen_body)) {
			strlcpy(reply, "501 5.5.4 Syntax error in parameters",
			    replysz);
			return -1;
		}
		if (esmtp && keyis(key, keylen, "SIZE")) {
			seen_size = 1;
			if (val == NULL || param_size(val, vallen,
			    &mp->size) == -1) {
				strlcpy(reply, "501 5.5.4 Bad SIZE parameter "
				    "syntax", replysz);
				return -1;
			}
			/* RFC 1870 6.1: refuse now what we will refuse
			 * after the data anyway. */
			if (size_limit > 0 && mp->size > size_limit) {
				strlcpy(reply, "552 5.3.4 Message size exceeds "
				    "fixed limit", replysz);
				return -1;
			}
		} else if (esmtp && keyis(key, keylen, "BODY") &&
		    val != NULL && (keyis(val, vallen, "7BIT") ||
		    keyis(val, vallen, "8BITMIME"))) {
			seen_body = 1;
			mp->body8 = keyis(val, vallen, "8BITMIME");
		} else if (esmtp && (r = param_mail_ext(key, keylen, val,
		    vallen, mp, reply, replysz)) != 0) {
			if (r == -1)		/* SMTPUTF8, RET, ENVID */
				return -1;
		} else {
			/* Checked above: printable ASCII, no blank. */
			snprintf(reply, replysz,
			    "555 5.5.4 Unsupported option: %.*s",
			    (int)(keylen + (val ? vallen + 1 : 0)), key);
			return -1;
		}
	}
	if (addr_format(&mp->addr, mp->text, sizeof(mp->text)) == -1) {
		strlcpy(reply, "501 5.1.7 Bad sender address syntax", replysz);
		return -1;
	}
	/* RFC 6531 3.6, RFC 3463 5.6.7: a UTF-8 address only in a
	 * transaction that said SMTPUTF8. */
	if (!mp->utf8 && !param_ascii(mp->text)) {
		strlcpy(reply, "553 5.6.7 Error: UTF-8 address requires "
		    "SMTPUTF8", replysz);
		return -1;
	}
	return 0;
}

int
cmd_rcpt_args(const char *args, struct smtpd_path *rp, char *reply,
    size_t replysz)
{
	return cmd_rcpt_params(args, 1, 0, rp, reply, replysz);
}

int
cmd_rcpt_params(const char *args, int esmtp, int utf8,
    struct smtpd_path *rp, char *reply, size_t replysz)
{
	const char *params, *key, *val;
	size_t	 keylen, vallen;
	int	 bad, r;

	memset(rp, 0, sizeof(*rp));
	/* RFC 5321 4.5.1: <postmaster> without a domain must be accepted. */
	if (path_split(args, "TO:", ADDR_POSTMASTER | ADDR_UTF8, &rp->addr,
	    &params, &bad) == -1) {
		strlcpy(reply, bad ? "501 5.1.3 Bad recipient address syntax" :
		    "501 5.5.4 Syntax: RCPT TO:<address>", replysz);
		return -1;
	}
	while ((r = param_next(&params, &key, &keylen, &val, &vallen)) != 0) {
		if (r == -1) {
			strlcpy(reply, "501 5.5.4 Syntax error in parameters",
			    replysz);
			return -1;
		}
		/* RFC 3461 4.1, 4.2: NOTIFY and ORCPT, after EHLO only. */
		if (esmtp && (r = param_rcpt_ext(key, keylen, val, vallen, rp,
		    reply, replysz)) != 0) {
			if (r == -1)
				return -1;
			continue;
		}
		snprintf(reply, replysz, "555 5.5.4 Unsupported option: %.*s",
		    (int)(keylen + (val ? vallen + 1 : 0)), key);
		return -1;
	}
	if (addr_format(&rp->addr, rp->text, sizeof(rp->text)) == -1) {
		strlcpy(reply, "501 5.1.3 Bad recipient address syntax",
		    replysz);
		return -1;
	}
	/* RFC 6531 3.6, RFC 3463 5.6.7 */
	if (!utf8 && !param_ascii(rp->text)) {
		strlcpy(reply, "553 5.6.7 Error: UTF-8 address requires "
		    "SMTPUTF8", replysz);
		return -1;
	}
	return 0;
}

int
cmd_helo_valid(const char *name)
{
	char	 copy[ADDR_DOMAIN_MAX + 1];
	size_t	 i;

	if (addr_domain_valid(name, 1, 0))
		return 1;
	/* Windows machines put '_' in host names and say so in EHLO; mail
	 * is not lost over that (RFC 5321 4.1.4 does not let a server refuse
	 * mail over what EHLO claims), so '_' counts as a letter here.
	 * Address literals are left alone. */
	if (name[0] == '[' || strchr(name, '_') == NULL)
		return 0;
	if (strlcpy(copy, name, sizeof(copy)) >= sizeof(copy))
		return 0;
	for (i = 0; copy[i] != '\0'; i++)
		if (copy[i] == '_')
			copy[i] = 'x';
	return addr_domain_valid(copy, 0, 0);
}
