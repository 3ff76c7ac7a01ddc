/*
 * outcome.c: build, write and check the 'O' record a delivery agent answers
 * with. Shared by lspawn (both its built-in child and the parent that
 * relays an agent's answer to qmgr) and by local(8).
 *
 * The text ends up in the state file, in qmgr's log line and quoted in a
 * bounce, so it is kept to one line here, before it ever leaves the agent.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bsd/string.h>

#include "buf.h"
#include "frame.h"
#include "outcome.h"
#include "smtp_reply.h"

/* Control characters would split a log line or a bounce's text. */
static void
outcome_clean(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

void
outcome_set(struct outcome *o, char status, const char *code,
    const char *fmt, ...)
{
	va_list ap;

	o->status = status;
	strlcpy(o->code, code, sizeof(o->code));
	va_start(ap, fmt);
	/* Truncation is wanted: the state file keeps OUTCOME_TEXT_MAX. */
	(void)vsnprintf(o->text, sizeof(o->text), fmt, ap);
	va_end(ap);
	outcome_clean(o->text);
}

int
outcome_write(int fd, const struct outcome *o)
{
	struct buf b = BUF_INIT;
	char status[2] = { o->status, '\0' };
	size_t off = 0;
	ssize_t n;
	int rc = 0;

	buf_init(&b, FRAME_HDR + FRAME_MAX);
	if (frame_put_fields(&b, 'O', status, o->code, o->text,
	    (char *)NULL) == -1) {
		buf_free(&b);
		return -1;
	}
	/* One record, far below PIPE_BUF's bigger cousins: a few writes at
	 * most, and the reader waits for all of it. */
	while (off < b.len) {
		n = write(fd, b.data + off, b.len - off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			rc = -1;
			break;
		}
		off += (size_t)n;
	}
	buf_free(&b);
	return rc;
}

int
outcome_code_valid(char status, const char *code)
{
	return smtp_code_valid(status, code);
}

int
outcome_parse(const char *p, size_t len, struct outcome *o)
{
	struct buf payload = BUF_INIT;
	const char *f[3], *pl;
	size_t plen, used;
	int type, rc = -1;

	if (frame_parse(p, len, &type, &pl, &plen, &used) != 1 ||
	    type != 'O' || used != len || plen > FRAME_MAX)
		return -1;
	buf_init(&payload, FRAME_MAX);
	if (buf_set(&payload, pl, plen) == -1 ||
	    frame_fields(&payload, f, 3) == -1)
		goto out;
	if (strlen(f[0]) != 1 || !outcome_code_valid(f[0][0], f[1]))
		goto out;
	o->status = f[0][0];
	strlcpy(o->code, f[1], sizeof(o->code));
	strlcpy(o->text, f[2], sizeof(o->text));
	outcome_clean(o->text);
	rc = 0;
out:
	buf_free(&payload);
	return rc;
}
