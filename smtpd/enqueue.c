/*
 * enqueue.c: smtpd's side of the smtpd <-> enqueue socketpair (fd 3).
 *
 * Called by session.c and data.c. docs/protocols.md, "smtpd <-> enqueue",
 * is the contract: one request, then exactly one reply ('K' text or 'E'
 * reply), except 'D' which has none. Nothing is pipelined on this pipe, so a
 * reply always belongs to the request just sent.
 *
 * enqueue is trusted to be ours but checked all the same: a reply of
 * another type, with other than one field, too long, or a 'E' text that is
 * not a sendable SMTP reply line is a broken peer. A malformed 'E' text is
 * replaced by our own 451 (the request was refused either way); anything
 * else, and EOF or a timeout, means the queue is gone: -1, logged, and the
 * caller ends the session (session_queue_gone()).
 */
#include <errno.h>
#include <string.h>
#include <bsd/string.h>

#include "frame.h"
#include "log.h"
#include "smtpd.h"

int
enqueue_ask(struct session *s, int type, const char *const *f, size_t n)
{
	const char *field[1];
	int	 rtype, r;

	s->qtext[0] = '\0';
	if (frame_put_fieldv(&s->queue.out, type, f, n) == -1 ||
	    io_flush(&s->queue) == -1) {
		log_warn_errno("enqueue: sending '%c'", type);
		return -1;
	}
	r = frame_read(&s->queue, &rtype, &s->payload, ENQUEUE_REPLY_MAX);
	if (r == 0) {
		log_warn("enqueue: EOF after '%c'", type);
		return -1;
	}
	if (r == -1) {
		log_warn_errno("enqueue: reading the reply to '%c'", type);
		return -1;
	}
	if ((rtype != 'K' && rtype != 'E') ||
	    frame_fields(&s->payload, field, 1) == -1) {
		log_warn("enqueue: bad reply to '%c' (type '%c')", type,
		    rtype >= 0x21 && rtype <= 0x7e ? rtype : '?');
		return -1;
	}
	if (rtype == 'E' && !reply_text_valid(field[0])) {
		log_warn("enqueue: malformed reply text to '%c'", type);
		strlcpy(s->qtext, "451 4.3.0 Error: internal error",
		    sizeof(s->qtext));
		return 'E';
	}
	if (strlcpy(s->qtext, field[0], sizeof(s->qtext)) >=
	    sizeof(s->qtext)) {
		log_warn("enqueue: over-long reply to '%c'", type);
		return -1;
	}
	return rtype;
}

/*
 * 'D' records are sent once SMTPD_DATA_CHUNK octets are waiting; the last
 * one of a message goes out with the 'F' (or 'A') after it, in the same
 * write, and enqueue reads both at once. Every path after the message
 * bytes asks enqueue something (enqueue_ask() flushes) or ends the
 * session, so nothing waits here for long.
 */
static int
enqueue_data_flush(struct session *s)
{
	if (s->queue.out.len >= SMTPD_DATA_CHUNK &&
	    io_flush(&s->queue) == -1) {
		log_warn_errno("enqueue: sending 'D'");
		return -1;
	}
	return 0;
}

int
enqueue_data(struct session *s, const void *p, size_t len)
{
	if (frame_put(&s->queue.out, 'D', p, len) == -1) {
		log_warn_errno("enqueue: sending 'D'");
		return -1;
	}
	return enqueue_data_flush(s);
}

/*
 * DATA's bytes go straight into the 'D' record being built at the end of
 * the queue's output buffer, not into a chunk buffer copied into it later:
 * in a forked smtpd each page written is a copy-on-write fault, and the
 * chunk buffer cost two or three per message.
 */
struct buf *
enqueue_data_open(struct session *s)
{
	static const char hdr[FRAME_HDR];	/* set when closed */

	s->data_start = s->queue.out.len;
	if (buf_add(&s->queue.out, hdr, sizeof(hdr)) == -1)
		fatal_errno("enqueue: 'D' record");
	return &s->queue.out;
}

size_t
enqueue_data_pending(const struct session *s)
{
	return s->queue.out.len - s->data_start - FRAME_HDR;
}

void
enqueue_data_discard(struct session *s)
{
	buf_truncate(&s->queue.out, s->data_start + FRAME_HDR);
}

void
enqueue_data_cancel(struct session *s)
{
	buf_truncate(&s->queue.out, s->data_start);
}

int
enqueue_data_close(struct session *s)
{
	size_t	 len = enqueue_data_pending(s);

	if (len == 0) {
		enqueue_data_cancel(s);
		return 0;
	}
	if (len > FRAME_MAX) {
		errno = EMSGSIZE;
		log_warn_errno("enqueue: sending 'D'");
		return -1;
	}
	frame_hdr(s->queue.out.data + s->data_start, 'D', (uint32_t)len);
	return enqueue_data_flush(s);
}
