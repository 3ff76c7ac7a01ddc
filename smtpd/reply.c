/*
 * reply.c: every line smtpd sends to the client goes through here.
 *
 * Called by smtpd.c and session.c. A reply is only appended to the client's
 * output buffer: smtpd.c flushes it when it is about to wait for the client
 * (RFC 2920 PIPELINING), so a burst of pipelined commands is answered in
 * one write. Here, too, the 4xx/5xx replies are counted: at
 * smtpd_max_errors the session gets a 421 and ends, which is what stops a
 * client from probing addresses or burning our time for ever.
 *
 * Errors: a reply that cannot be buffered (the client stopped reading and
 * the buffer hit its ceiling) ends the session; nothing else fails.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "smtpd.h"

static void	reply_emit(struct session *, int, const char *, va_list)
		    __attribute__((format(printf, 3, 0)));

static void
reply_emit(struct session *s, int count, const char *fmt, va_list ap)
{
	char	 line[SMTPD_REPLY_MAX + 1];

	/* RFC 5321 4.5.3.1.5: 512 octets with CRLF; cut, never overflow. */
	vsnprintf(line, sizeof(line), fmt, ap);
	if (io_printf(&s->cout, "%s\r\n", line) == -1) {
		log_warn("client from [%s] does not read its replies", s->ip);
		s->quit = 1;
		return;
	}
	if (!count || (line[0] != '4' && line[0] != '5'))
		return;
	if (++s->errors >= s->conf->smtpd_max_errors && !s->quit)
		reply_close(s, "4.7.0", "too many errors");
}

void
reply(struct session *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	reply_emit(s, 1, fmt, ap);
	va_end(ap);
}

void
reply_nocount(struct session *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	reply_emit(s, 0, fmt, ap);
	va_end(ap);
}

void
reject(struct session *s, const char *verb, const char *to,
    const char *fmt, ...)
{
	char	 line[SMTPD_REPLY_MAX + 1];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* The addresses are formatted ones (addr.c lets no control byte
	 * through), never the client's raw text; log.c masks the rest. */
	if (to != NULL)
		log_info("reject: %s from [%s]: %s; from=<%s> to=<%s>", verb,
		    s->ip, line, s->sender, to);
	else if (s->in_mail)
		log_info("reject: %s from [%s]: %s; from=<%s>", verb, s->ip,
		    line, s->sender);
	else
		log_info("reject: %s from [%s]: %s", verb, s->ip, line);
	reply(s, "%s", line);
}

void
reply_close(struct session *s, const char *code, const char *what)
{
	/* RFC 5321 3.8: 421 and close, with the host name first; once. */
	if (s->quit)
		return;
	reply_nocount(s, "421 %s %s Error: %s", code, s->conf->hostname, what);
	log_info("%s after %s from [%s]", what, s->last, s->ip);
	s->quit = 1;
}

int
reply_text_valid(const char *t)
{
	size_t	 i;

	if ((t[0] != '4' && t[0] != '5') || t[1] < '0' || t[1] > '9' ||
	    t[2] < '0' || t[2] > '9' || t[3] != ' ')
		return 0;
	for (i = 4; t[i] != '\0'; i++)
		if (t[i] < 0x20 || t[i] > 0x7e || i >= SMTPD_REPLY_MAX)
			return 0;
	return 1;
}
