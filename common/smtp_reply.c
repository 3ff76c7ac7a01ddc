/*
 * smtp_reply.c: an SMTP server's reply, read and checked (smtp_reply.h).
 *
 * Called by the remote SMTP client and by lmtp(8); pure except for
 * smtp_reply_read(), which only reads from its struct io. Nothing here
 * logs or exits: a reply that is not one is SMTP_REPLY_BAD and the caller
 * says which command it answered.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <bsd/string.h>

#include "buf.h"
#include "io.h"
#include "smtp_reply.h"

void
smtp_reply_init(struct smtp_reply *r, int flags)
{
	memset(r, 0, sizeof(*r));
	r->flags = flags;
}

static int
smtp_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 3463 2: "class.subject.detail", subject and detail 1 to 3 digits;
 * the length of the code at s, or 0 when s does not start with one that
 * ends at a blank or at the end of the text. */
static size_t
smtp_enhanced_len(const char *s, size_t len)
{
	size_t i = 0, part, digits;

	if (len < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') ||
	    s[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (digits = 0; i < len && smtp_digit(s[i]); i++)
			digits++;
		if (digits < 1 || digits > 3)
			return 0;
		if (part == 0) {
			if (i >= len || s[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < len && s[i] != ' ')
		return 0;
	return i;
}

int
smtp_code_valid(char status, const char *code)
{
	char class;
	size_t n = strlen(code);

	switch (status) {
	case 'K': class = '2'; break;
	case 'Z': class = '4'; break;
	case 'D': class = '5'; break;
	default: return 0;
	}
	return code[0] == class && smtp_enhanced_len(code, n) == n;
}

int
smtp_ehlo_keyword(const char *text, size_t len, unsigned long long *size)
{
	static const struct { const char *kw; int bit; } kws[] = {
		{ "8BITMIME", SMTP_EXT_8BITMIME },
		{ "SMTPUTF8", SMTP_EXT_SMTPUTF8 },
		{ "PIPELINING", SMTP_EXT_PIPELINING },
		{ "STARTTLS", SMTP_EXT_STARTTLS },
		{ "DSN", SMTP_EXT_DSN },
		{ "SIZE", SMTP_EXT_SIZE },
	};
	unsigned long long n = 0;
	size_t i, k, kl;

	for (i = 0; i < sizeof(kws) / sizeof(kws[0]); i++) {
		kl = strlen(kws[i].kw);
		if (len < kl || strncasecmp(text, kws[i].kw, kl) != 0 ||
		    (len > kl && text[kl] != ' '))
			continue;
		if (kws[i].bit == SMTP_EXT_SIZE && size != NULL) {
			/* RFC 1870 4: "SIZE" alone, or "SIZE n"; 0 or no
			 * number means no fixed limit. A number we cannot
			 * hold is taken as none: the server decides. */
			*size = 0;
			for (k = kl + 1; k < len && smtp_digit(text[k]); k++) {
				if (n > (~0ULL - 9) / 10) {
					n = 0;
					break;
				}
				n = n * 10 + (unsigned)(text[k] - '0');
			}
			if (k == len)
				*size = n;
		}
		return kws[i].bit;
	}
	return 0;
}

/* Append len bytes to the kept text, cut to what fits. */
static void
smtp_text_add(struct smtp_reply *r, const char *p, size_t len)
{
	if (len > sizeof(r->text) - 1 - r->len)
		len = sizeof(r->text) - 1 - r->len;
	memcpy(r->text + r->len, p, len);
	r->len += len;
	r->text[r->len] = '\0';
}

int
smtp_reply_line(struct smtp_reply *r, const char *p, size_t len)
{
	char line[SMTP_REPLY_LINE_MAX];
	const char *t;
	size_t i, tl, el;
	int code;

	if (r->done || r->lines >= SMTP_REPLY_LINES_MAX)
		return SMTP_REPLY_BAD;
	/* RFC 5321 2.3.8: CRLF; a bare LF is tolerated. */
	if (len > 0 && p[len - 1] == '\r')
		len--;
	if (len > sizeof(line))
		return SMTP_REPLY_BAD;
	/* RFC 5321 4.2: three digits, then a blank (last line), a hyphen
	 * (more follow), or nothing; the first digit 1 to 5 (4.2.1). */
	if (len < 3 || p[0] < '1' || p[0] > '5' || !smtp_digit(p[1]) ||
	    !smtp_digit(p[2]))
		return SMTP_REPLY_BAD;
	code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	if (r->lines > 0 && code != r->code)
		return SMTP_REPLY_BAD;
	if (len > 3 && p[3] != ' ' && p[3] != '-')
		return SMTP_REPLY_BAD;
	/* The text goes into logs, the state file and bounces: no control
	 * byte of the server's survives (or, strict, is accepted). */
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c >= 0x20 && c != 0x7f) {
			line[i] = p[i];
			continue;
		}
		if (r->flags == SMTP_REPLY_STRICT && c != '\t')
			return SMTP_REPLY_BAD;
		line[i] = r->flags == SMTP_REPLY_STRICT ? ' ' : '?';
	}
	r->code = code;
	r->done = len == 3 || line[3] == ' ';
	t = len > 4 ? line + 4 : line + len;
	tl = len > 4 ? len - 4 : 0;
	if (r->lines == 0) {
		if ((el = smtp_enhanced_len(t, tl)) > 0 &&
		    el < sizeof(r->enhanced)) {
			memcpy(r->enhanced, t, el);
			r->enhanced[el] = '\0';
		}
	} else
		r->ext |= smtp_ehlo_keyword(t, tl, &r->size);
	if (r->lines > 0 && r->len > 0)
		smtp_text_add(r, " ", 1);
	/* Each line with its code, as the server wrote it (sanitised). */
	smtp_text_add(r, line, len);
	while (r->len > 0 && r->text[r->len - 1] == ' ')
		r->text[--r->len] = '\0';
	r->lines++;
	return SMTP_REPLY_OK;
}

int
smtp_reply_read(struct io *io, struct smtp_reply *r, int flags)
{
	struct buf line = BUF_INIT;
	int rc, ret = SMTP_REPLY_BAD;

	smtp_reply_init(r, flags);
	buf_init(&line, SMTP_REPLY_LINE_MAX + 2);
	while (!r->done) {
		rc = io_getline(io, &line, SMTP_REPLY_LINE_MAX + 2);
		if (rc == IO_LINE_LONG)
			goto out;
		if (rc != IO_LINE_OK) {
			if (rc != IO_LINE_ERR)
				errno = ECONNRESET;	/* EOF: the server left */
			ret = SMTP_REPLY_IO;
			goto out;
		}
		if (smtp_reply_line(r, line.data, line.len - 1) != SMTP_REPLY_OK)
			goto out;
	}
	ret = SMTP_REPLY_OK;
out:
	buf_free(&line);
	return ret;
}

char
smtp_reply_status(const struct smtp_reply *r)
{
	switch (r->code / 100) {
	case 2: return 'K';
	case 4: return 'Z';
	case 5: return 'D';
	default: return 0;
	}
}

int
smtp_reply_enhanced(const struct smtp_reply *r, char *code, size_t codesz)
{
	char status = smtp_reply_status(r);

	if (status == 0)
		return -1;
	/* RFC 2034: the server's own code is more precise than ours;
	 * without one of the right class, the class alone (RFC 3463 3.1). */
	if (r->enhanced[0] != '\0' && smtp_code_valid(status, r->enhanced))
		strlcpy(code, r->enhanced, codesz);
	else
		snprintf(code, codesz, "%c.0.0", r->code / 100 + '0');
	return 0;
}
