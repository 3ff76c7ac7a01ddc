/*
 * qlist_print.c: a queue listing (qlist.h) for people and for programs.
 *
 * qlist_print(): one block per message, mailq style:
 *   ID[mark]  SIZE  ARRIVAL  AGE  <sender>
 *     (queue NAME[, next attempt in N s][, corrupt: REASON])
 *     <rcpt>  STATUS[: CODE TEXT]
 * mark: '*' active (being delivered), '!' on hold, '-' deferred, ' ' new,
 * '#' corrupt. STATUS: pending, deferred, delivered, failed.
 *
 * qlist_print_json(): one JSON array, one object per message (the fields
 * are listed in docs/man/postern.8). The writer is ours, ten lines: every
 * string goes through json_str(), which escapes '"', '\\' and every
 * control character, and passes other bytes (UTF-8 addresses, RFC 6531) as
 * they are. A byte sequence that is not UTF-8 cannot come from the queue
 * file (its values are checked on read) except in an outcome text, so such
 * bytes are written as \u00XX to keep the output valid JSON.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "qlist.h"

static const char *
status_word(char s)
{
	switch (s) {
	case 'K':
		return "delivered";
	case 'D':
		return "failed";
	case 'Z':
		return "deferred";
	default:
		return "pending";
	}
}

static char
queue_mark(const struct qlist_msg *m)
{
	if (m->corrupt)
		return '#';
	if (strcmp(m->queue, SPOOL_ACTIVE) == 0)
		return '*';
	if (strcmp(m->queue, SPOOL_HOLD) == 0)
		return '!';
	if (strcmp(m->queue, SPOOL_DEFERRED) == 0)
		return '-';
	return ' ';
}

/* "42s", "5m", "3h", "2d": an age at a glance. */
static void
fmt_age(char *out, size_t sz, long long s)
{
	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(out, sz, "%llds", s);
	else if (s < 7200)
		snprintf(out, sz, "%lldm", s / 60);
	else if (s < 172800)
		snprintf(out, sz, "%lldh", s / 3600);
	else
		snprintf(out, sz, "%lldd", s / 86400);
}

void
qlist_print(FILE *fp, const struct qlist *l, time_t now)
{
	const struct qlist_msg *m;
	char		 when[64], age[32];
	struct tm	 tm;
	time_t		 t;
	long long	 total = 0;
	size_t		 i, j;

	if (l->n == 0) {
		fprintf(fp, "Mail queue is empty\n");
		return;
	}
	for (i = 0; i < l->n; i++) {
		m = &l->msg[i];
		t = (time_t)m->arrival;
		if (localtime_r(&t, &tm) == NULL ||
		    strftime(when, sizeof(when), "%a %b %e %H:%M:%S", &tm) == 0)
			when[0] = '\0';
		fmt_age(age, sizeof(age), (long long)now - m->arrival);
		fprintf(fp, "%s%c %8lld  %s  %4s  <%s>\n", m->id,
		    queue_mark(m), m->size, when, age,
		    m->sender != NULL ? m->sender : "?");
		fprintf(fp, "    (queue %s", m->queue);
		if (strcmp(m->queue, SPOOL_DEFERRED) == 0 && !m->corrupt)
			fprintf(fp, ", next attempt in %llds",
			    m->mtime > now ? (long long)(m->mtime - now) : 0LL);
		if (m->corrupt)
			fprintf(fp, ", corrupt: %s", m->reason);
		fprintf(fp, ")\n");
		for (j = 0; j < m->nrcpt; j++) {
			fprintf(fp, "    <%s>  %s", m->rcpt[j].addr,
			    status_word(m->rcpt[j].status));
			if (m->rcpt[j].status != 0)
				fprintf(fp, ": %s %s", m->rcpt[j].code,
				    m->rcpt[j].text);
			fputc('\n', fp);
		}
		fputc('\n', fp);
		total += m->size;
	}
	fprintf(fp, "-- %lld bytes in %zu message%s\n", total, l->n,
	    l->n == 1 ? "" : "s");
}

/* Length of the UTF-8 sequence at p, or 0 when it is not one. */
static size_t
utf8_len(const unsigned char *p)
{
	size_t	 n, i;

	if (*p >= 0xc2 && *p <= 0xdf)
		n = 2;
	else if (*p >= 0xe0 && *p <= 0xef)
		n = 3;
	else if (*p >= 0xf0 && *p <= 0xf4)
		n = 4;
	else
		return 0;
	for (i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)	/* the NUL ends it too */
			return 0;
	return n;
}

static void
json_str(FILE *fp, const char *s)
{
	const unsigned char *p;
	size_t		 n;

	fputc('"', fp);
	for (p = (const unsigned char *)(s != NULL ? s : ""); *p != '\0';
	    p++) {
		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(fp, "\\u%04x", *p);
		else if (*p < 0x80)
			fputc(*p, fp);
		else if ((n = utf8_len(p)) > 0) {
			fwrite(p, 1, n, fp);
			p += n - 1;
		} else
			/* not UTF-8: keep it visible, keep the JSON valid */
			fprintf(fp, "\\u%04x", *p);
	}
	fputc('"', fp);
}

void
qlist_print_json(FILE *fp, const struct qlist *l, time_t now)
{
	const struct qlist_msg *m;
	size_t		 i, j;

	fputc('[', fp);
	for (i = 0; i < l->n; i++) {
		m = &l->msg[i];
		fprintf(fp, "%s\n{\"id\": ", i > 0 ? "," : "");
		json_str(fp, m->id);
		fprintf(fp, ", \"queue\": ");
		json_str(fp, m->queue);
		fprintf(fp, ", \"size\": %lld, \"arrival\": %lld, "
		    "\"age\": %lld, ", m->size, m->arrival,
		    (long long)now - m->arrival);
		if (strcmp(m->queue, SPOOL_DEFERRED) == 0 && !m->corrupt)
			fprintf(fp, "\"next_attempt\": %lld, ",
			    (long long)m->mtime);
		else
			fprintf(fp, "\"next_attempt\": null, ");
		fprintf(fp, "\"corrupt\": %s, \"reason\": ",
		    m->corrupt ? "true" : "false");
		if (m->reason != NULL)
			json_str(fp, m->reason);
		else
			fprintf(fp, "null");
		fprintf(fp, ", \"sender\": ");
		if (m->sender != NULL)
			json_str(fp, m->sender);
		else
			fprintf(fp, "null");
		fprintf(fp, ", \"recipients\": [");
		for (j = 0; j < m->nrcpt; j++) {
			fprintf(fp, "%s{\"address\": ", j > 0 ? ", " : "");
			json_str(fp, m->rcpt[j].addr);
			fprintf(fp, ", \"status\": \"%s\", \"code\": ",
			    status_word(m->rcpt[j].status));
			json_str(fp, m->rcpt[j].code);
			fprintf(fp, ", \"text\": ");
			json_str(fp, m->rcpt[j].text);
			fputc('}', fp);
		}
		fprintf(fp, "]}");
	}
	fprintf(fp, "%s]\n", l->n > 0 ? "\n" : "");
}
