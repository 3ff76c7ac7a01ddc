/*
 * data.c: the message text after "354", from the client to enqueue.
 *
 * Called by session.c (data_receive) after enqueue accepted 'B'; the unit
 * test drives data_line() and data_getline() directly. Three layers:
 *
 *  data_getline  reads one line, however long, keeping at most max octets
 *                of it: a long line costs no memory, and we still learn
 *                how it ended (CRLF or a bare LF), which decides whether
 *                the next line can end the data;
 *  data_line     the state machine: end of data, dot-unstuffing, CRLF to
 *                LF, and the first problem with the text;
 *  data_receive  the pump: lines in, 'D' records of up to 64 KiB out.
 *
 * The end of the data is a line that is exactly ".\r\n" and follows a line
 * that ended in CRLF (RFC 5321 4.1.1.4 and 2.3.8: <CRLF>.<CRLF>). Nothing
 * else ends it: not "\n.\n", not "\n.\r\n", not "\r.\r\n". A server that
 * ends on any of them while the client's relay did not is how "SMTP
 * smuggling" (2023) hides a second message, with forged envelope, inside
 * the first. A bare CR or LF makes the whole message refused, but the
 * reading goes on to the real end so that the reply comes where the client
 * expects it and nothing of the text is ever read as a command.
 *
 * With smtpd_bare_newline = normalize the message is taken instead: a bare
 * LF is a line end (stored as LF, like every line end in the queue), and a
 * bare CR is made one too, not dropped: text from old Mac clients keeps
 * its lines, and no lone CR reaches the queue, where a later relay or
 * reader could take it for a line end. The end is still only CRLF.CRLF:
 * "\n.\n" and "\r.\r\n" are message text in both modes, which is what
 * keeps smuggling impossible in both. For the same reason a leading dot is
 * removed only from a line that follows a CRLF (RFC 5321 4.5.2 stuffs the
 * lines of which CRLF.CRLF is one): the "." of "\n.\n" stays a ".".
 *
 * Errors: a problem with the text (bare CR/LF, NUL, long line, size) is
 * remembered and the rest of the message thrown away; the client's EOF or
 * timeout and enqueue's failure are returned to the caller.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bsd/string.h>

#include "log.h"
#include "smtpd.h"

void
data_init(struct data_state *d, size_t line_limit, long long size_limit)
{
	memset(d, 0, sizeof(*d));
	d->line_limit = line_limit;
	d->size_limit = size_limit;
	d->crlf = 1;		/* the DATA command's line ended */
	d->problem = DATA_OK;
}

static void
data_problem(struct data_state *d, enum data_problem p)
{
	if (d->problem == DATA_OK)
		d->problem = p;
}

int
data_line(struct data_state *d, const char *line, size_t len, int toolong,
    struct buf *out)
{
	int	 ends_crlf, dot, bare, after_crlf;
	size_t	 text, i;

	ends_crlf = len >= 2 && line[len - 2] == '\r' && line[len - 1] == '\n';
	if (d->crlf && len == 3 && memcmp(line, ".\r\n", 3) == 0)
		return 1;
	after_crlf = d->crlf;
	d->crlf = ends_crlf;
	if (toolong) {
		data_problem(d, DATA_LONG);
		return 0;
	}
	/* Without its ending; a line always ends in '\n' (data_getline). */
	text = len - (ends_crlf ? 2 : 1);
	dot = len > 0 && line[0] == '.' && after_crlf;
	bare = !ends_crlf || memchr(line, '\r', text) != NULL;
	if (bare && !d->normalize)
		data_problem(d, DATA_BARE);
	if (memchr(line, '\0', len) != NULL)
		data_problem(d, DATA_NUL);
	/* RFC 5321 4.5.3.1.6: 1000 octets with the CRLF, "not counting the
	 * leading dot duplicated for transparency". */
	if (len - (size_t)dot > d->line_limit)
		data_problem(d, DATA_LONG);
	d->size += (long long)len;
	if (d->size_limit > 0 && d->size > d->size_limit)
		data_problem(d, DATA_SIZE);
	if (d->problem != DATA_OK)
		return 0;
	/* RFC 5321 4.5.2: drop the first of a line's leading dots. The
	 * spool keeps LF line endings (DESIGN.md, the queue file). */
	if (buf_add(out, line + dot, text - (size_t)dot) == -1 ||
	    buf_addc(out, '\n') == -1)
		return -1;
	if (bare) {
		/* normalize: each CR still in the text was a bare one. */
		for (i = out->len - (text - (size_t)dot) - 1; i < out->len;
		    i++)
			if (out->data[i] == '\r')
				out->data[i] = '\n';
	}
	return 0;
}

int
data_getline(struct io *in, struct io *out, struct buf *line, size_t max,
    int *toolong)
{
	char	*nl, last = '\0';
	size_t	 n;
	ssize_t	 r;

	buf_reset(line);
	*toolong = 0;
	for (;;) {
		if (in->in.len == 0) {
			/* About to wait: whatever the client waits for
			 * must be on its way first. */
			if (out != NULL && out->out.len > 0 &&
			    io_flush(out) == -1)
				return -1;
			if (in->eof)
				return 0;
			if ((r = io_fill(in)) <= 0)
				return (int)r;
		}
		nl = memchr(in->in.data, '\n', in->in.len);
		n = nl != NULL ? (size_t)(nl - in->in.data) + 1 : in->in.len;
		if (!*toolong && line->len + n > max) {
			*toolong = 1;
			buf_reset(line);
		}
		if (*toolong) {
			/* Keep only how the line ends: "\r\n" or "\n". */
			if (nl != NULL) {
				if ((n >= 2 ? nl[-1] : last) == '\r')
					buf_addc(line, '\r');
				buf_addc(line, '\n');
			}
		} else if (buf_add(line, in->in.data, n) == -1)
			return -1;
		last = in->in.data[n - 1];
		buf_consume(&in->in, n);
		if (nl != NULL)
			return 1;
	}
}

void
data_problem_reply(enum data_problem p, size_t line_limit, char *out,
    size_t outsz)
{
	switch (p) {
	case DATA_BARE:
		strlcpy(out, "550 5.5.2 Error: bare <CR> or <LF> in message",
		    outsz);
		break;
	case DATA_NUL:
		strlcpy(out, "550 5.6.0 Error: NUL byte in message", outsz);
		break;
	case DATA_LONG:
		snprintf(out, outsz, "552 5.3.4 Error: message line longer "
		    "than %zu octets", line_limit);
		break;
	case DATA_SIZE:
		strlcpy(out, "552 5.3.4 Error: message size exceeds fixed "
		    "limit", outsz);
		break;
	case DATA_OK:
		strlcpy(out, "250 2.0.0 Ok", outsz);
		break;
	}
}

enum data_result
data_receive(struct session *s, enum data_problem *problem)
{
	struct data_state d;
	struct buf	*out;
	enum data_result res = DATA_DONE;
	int		 toolong, r, queue_ok = 1, saved = s->cin.timeout_ms;
	size_t		 limit = (size_t)s->conf->smtpd_text_line_limit;

	data_init(&d, limit, s->conf->message_size_limit);
	d.normalize = strcmp(s->conf->smtpd_bare_newline, "normalize") == 0;
	out = enqueue_data_open(s);
	s->cin.timeout_ms = s->conf->smtpd_data_timeout_seconds * 1000;
	for (;;) {
		/* +1: a stuffed dot does not count (data_line). */
		r = data_getline(&s->cin, &s->cout, &s->line, limit + 1,
		    &toolong);
		if (r <= 0) {
			res = r == -1 && errno == ETIMEDOUT ? DATA_TIMEOUT :
			    DATA_LOST;
			break;
		}
		r = data_line(&d, s->line.data, s->line.len, toolong, out);
		if (r == -1)
			panic("data_line: the queue's output buffer is full");
		if (r == 1)
			break;
		if (d.problem != DATA_OK || !queue_ok)
			enqueue_data_discard(s);	/* nothing more goes out */
		else if (enqueue_data_pending(s) >= SMTPD_DATA_CHUNK) {
			if (enqueue_data_close(s) == -1)
				queue_ok = 0;
			out = enqueue_data_open(s);
		}
	}
	if (res == DATA_DONE && d.problem == DATA_OK && queue_ok) {
		if (enqueue_data_close(s) == -1)
			queue_ok = 0;
	} else
		enqueue_data_cancel(s);
	if (res == DATA_DONE && !queue_ok)
		res = DATA_QUEUE_GONE;
	s->cin.timeout_ms = saved;
	*problem = d.problem;
	return res;
}
