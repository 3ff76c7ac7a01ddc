/*
 * bdat.c: CHUNKING (RFC 3030): "BDAT <size> [LAST]" and the octets that
 * follow it.
 *
 * Called from the dispatch switch in smtpd.c (smtpd_bdat); the unit test
 * tests/unit/test_smtpd_data.c drives bdat_args(), bdat_feed() and
 * bdat_end() directly. A chunk is exactly <size> octets after the command
 * line: no dot-stuffing, no end-of-data line. It is read in pieces of at
 * most SMTPD_DATA_CHUNK as it arrives and handed to enqueue in 'D'
 * records, never held whole, so a chunk of any size costs one buffer.
 *
 * Line endings: the queue stores LF line ends (DESIGN.md), so CRLF becomes
 * LF, also when the CR ends one chunk and the LF starts the next. A bare LF
 * is taken as a line end, in both smtpd_bare_newline modes: BDAT is framed
 * by its length, not by any line, so no sequence of octets in a chunk can
 * end the message or start a command, and "\n.\n" inside a chunk is text
 * like any other (the SMTP smuggling of DATA needs an end-of-data line to
 * disagree about, and BDAT has none). Storing it as LF is exactly what a
 * CRLF would have become. A bare CR is different: it reaches no line end
 * in the queue and could become one in the next program that reads the
 * message, so it is refused (550 5.5.2) under smtpd_bare_newline = reject
 * and made a line end under normalize, as in DATA (data.c).
 * A NUL, a line longer than smtpd_text_line_limit and a message larger
 * than message_size_limit are refused as in DATA.
 *
 * Replies (RFC 3030 2 and 4): a chunk that is not LAST gets
 * "250 2.0.0 <n> octets received"; LAST commits like DATA ("250 2.0.0 Ok:
 * queued as ID"). The first problem gets its reply at once, every later
 * chunk of the transaction is read and thrown away and gets the same
 * reply, and LAST (or RSET) abandons the transaction. A chunk outside a
 * transaction (no MAIL, a refused MAIL, no RCPT) is read and thrown away,
 * then answered 503, so the session stays in step with the client. Only a
 * BDAT whose size cannot be read at all ends the session: where its octets
 * end is unknown, and reading them as commands would be smuggling.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <bsd/string.h>

#include "log.h"
#include "smtpd.h"

void
bdat_init(struct bdat_state *b, size_t line_limit, long long size_limit,
    int normalize)
{
	memset(b, 0, sizeof(*b));
	b->line_limit = line_limit;
	b->size_limit = size_limit;
	b->normalize = normalize;
	b->problem = DATA_OK;
}

static void
bdat_problem(struct bdat_state *b, enum data_problem p)
{
	if (b->problem == DATA_OK)
		b->problem = p;
}

/* A line end: stored as LF. */
static int
bdat_eol(struct bdat_state *b, struct buf *out)
{
	b->linelen = 0;
	return buf_addc(out, '\n');
}

int
bdat_feed(struct bdat_state *b, const char *p, size_t n, struct buf *out)
{
	size_t	 i = 0, start;

	b->size += (long long)n;
	if (b->size_limit > 0 && b->size > b->size_limit)
		bdat_problem(b, DATA_SIZE);
	while (i < n && b->problem == DATA_OK) {
		if (b->cr) {
			/* The CR held back from the octet before. */
			b->cr = 0;
			if (p[i] == '\n') {
				if (bdat_eol(b, out) == -1)
					return -1;
				i++;
				continue;
			}
			if (!b->normalize) {
				bdat_problem(b, DATA_BARE);
				break;
			}
			if (bdat_eol(b, out) == -1)
				return -1;
		}
		if (p[i] == '\r') {
			b->cr = 1;
			i++;
			continue;
		}
		if (p[i] == '\n') {		/* bare LF: see above */
			if (bdat_eol(b, out) == -1)
				return -1;
			i++;
			continue;
		}
		if (p[i] == '\0') {
			bdat_problem(b, DATA_NUL);
			break;
		}
		for (start = i; i < n && p[i] != '\r' && p[i] != '\n' &&
		    p[i] != '\0'; i++)
			;
		/* RFC 5321 4.5.3.1.6: the limit counts the CRLF. */
		b->linelen += i - start;
		if (b->linelen + 2 > b->line_limit) {
			bdat_problem(b, DATA_LONG);
			break;
		}
		if (buf_add(out, p + start, i - start) == -1)
			return -1;
	}
	return 0;
}

int
bdat_end(struct bdat_state *b, struct buf *out)
{
	if (!b->cr)
		return 0;
	b->cr = 0;
	if (b->problem != DATA_OK)
		return 0;
	if (!b->normalize) {
		bdat_problem(b, DATA_BARE);
		return 0;
	}
	return bdat_eol(b, out);
}

int
bdat_args(const char *args, long long *size, int *last)
{
	long long v = 0;
	size_t	 i;

	/* RFC 3030 4: bdat-cmd = "BDAT" SP chunk-size [SP end-marker],
	 * chunk-size = 1*DIGIT, end-marker = "LAST". At most 18 digits:
	 * any size a long long holds, and more than any client sends. */
	for (i = 0; args[i] >= '0' && args[i] <= '9'; i++) {
		if (i >= 18)
			return -1;
		v = v * 10 + (args[i] - '0');
	}
	if (i == 0 || (args[i] != '\0' && args[i] != ' '))
		return -1;
	*size = v;
	*last = 0;
	if (args[i] == '\0')
		return 0;
	if (strcasecmp(args + i + 1, "LAST") == 0) {
		*last = 1;
		return 0;
	}
	return 1;
}

/*
 * Read size octets of chunk from the client, in pieces of at most
 * SMTPD_DATA_CHUNK; with keep, each piece goes through bdat_feed() and on
 * to enqueue while there is no problem, else it is thrown away. Before
 * waiting for the client, the replies it may wait for go out (RFC 2920).
 */
static enum data_result
bdat_read(struct session *s, long long size, int keep)
{
	struct buf	 out;
	enum data_result res = DATA_DONE;
	size_t		 n;
	ssize_t		 r;
	int		 saved = s->cin.timeout_ms;

	buf_init(&out, SMTPD_DATA_CHUNK + 1);
	s->cin.timeout_ms = s->conf->smtpd_data_timeout_seconds * 1000;
	while (size > 0) {
		if (s->cin.in.len == 0) {
			if (s->cout.out.len > 0 && io_flush(&s->cout) == -1) {
				res = DATA_LOST;
				break;
			}
			if (s->cin.eof || (r = io_fill(&s->cin)) == 0) {
				res = DATA_LOST;
				break;
			}
			if (r < 0) {
				res = errno == ETIMEDOUT ? DATA_TIMEOUT :
				    DATA_LOST;
				break;
			}
		}
		n = s->cin.in.len;
		if (n > SMTPD_DATA_CHUNK)
			n = SMTPD_DATA_CHUNK;
		if ((long long)n > size)
			n = (size_t)size;
		if (keep) {
			if (bdat_feed(&s->bdat_st, s->cin.in.data, n,
			    &out) == -1)
				panic("bdat_feed: buffer too small");
			if (s->bdat_st.problem == DATA_OK && out.len > 0 &&
			    enqueue_data(s, out.data, out.len) == -1) {
				res = DATA_QUEUE_GONE;
				break;
			}
			buf_reset(&out);
		}
		buf_consume(&s->cin.in, n);
		size -= (long long)n;
	}
	s->cin.timeout_ms = saved;
	buf_free(&out);
	return res;
}

/* The chunk could not be read to its end: what the session does now. */
static void
bdat_lost(struct session *s, enum data_result res)
{
	switch (res) {
	case DATA_LOST:
		log_info("lost connection after BDAT from [%s]", s->ip);
		s->quit = 1;
		break;
	case DATA_TIMEOUT:
		reply_close(s, "4.4.2", "timeout exceeded");
		break;
	case DATA_QUEUE_GONE:
		session_queue_gone(s, 0);
		break;
	case DATA_DONE:
		break;
	}
}

/* A chunk outside a transaction, or with bad arguments: its octets are
 * read and dropped, then the refusal; the session stays in step. */
static void
bdat_refuse(struct session *s, long long size, const char *line)
{
	enum data_result res;

	if ((res = bdat_read(s, size, 0)) != DATA_DONE) {
		bdat_lost(s, res);
		return;
	}
	reject(s, "BDAT", NULL, "%s", line);
}

/* The last chunk of a good message: the end of the text, then DATA's
 * commit and reply. */
static void
bdat_commit(struct session *s)
{
	struct buf	 out;
	int		 r;

	buf_init(&out, 4);
	if (bdat_end(&s->bdat_st, &out) == -1)
		panic("bdat_end: buffer too small");
	r = s->bdat_st.problem == DATA_OK && out.len > 0 ?
	    enqueue_data(s, out.data, out.len) : 0;
	buf_free(&out);
	if (r == -1) {
		session_queue_gone(s, 0);
		return;
	}
	smtpd_data_end(s, DATA_DONE, s->bdat_st.problem);
}

void
smtpd_bdat(struct session *s, const struct smtpd_cmd *cmd)
{
	enum data_result res;
	long long	 size;
	size_t		 limit = (size_t)s->conf->smtpd_text_line_limit;
	int		 last, r, failed_before;

	if ((r = bdat_args(cmd->args, &size, &last)) == -1) {
		reply(s, "501 5.5.4 Syntax: BDAT size [LAST]");
		reply_close(s, "4.5.4", "BDAT without a readable size");
		return;
	}
	if (r == 1) {
		/* RFC 3030 2: after a failed chunk the transaction is
		 * over; drop it now so no later chunk can leave a hole. */
		if (session_abandon(s) == -1) {
			session_queue_gone(s, 0);
			return;
		}
		bdat_refuse(s, size, "501 5.5.4 Syntax: BDAT size [LAST]");
		return;
	}
	if (!s->in_mail) {
		bdat_refuse(s, size, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (!s->rcpt_tried) {
		bdat_refuse(s, size, "503 5.5.1 Error: need RCPT command");
		return;
	}
	if (s->nrcpt == 0) {
		/* RFC 5321 3.3, as for DATA */
		bdat_refuse(s, size, "554 5.5.1 Error: no valid recipients");
		return;
	}
	if (!s->bdat) {
		s->bdat = 1;
		bdat_init(&s->bdat_st, limit, s->conf->message_size_limit,
		    strcmp(s->conf->smtpd_bare_newline, "normalize") == 0);
	}
	failed_before = s->bdat_fail[0] != '\0';
	if (!failed_before && !s->bdat_open) {
		/* The first chunk: enqueue creates the queue file. */
		if ((r = enqueue_ask(s, 'B', NULL, 0)) == -1) {
			session_queue_gone(s, 0);
			return;
		}
		if (r == 'E')
			strlcpy(s->bdat_fail, s->qtext, sizeof(s->bdat_fail));
		else
			s->bdat_open = 1;
	}
	res = bdat_read(s, size, s->bdat_fail[0] == '\0');
	if (res != DATA_DONE) {
		bdat_lost(s, res);
		return;
	}
	if (s->bdat_fail[0] == '\0' && last) {
		bdat_commit(s);
		return;
	}
	if (s->bdat_fail[0] == '\0' && s->bdat_st.problem != DATA_OK)
		data_problem_reply(s->bdat_st.problem, limit, s->bdat_fail,
		    sizeof(s->bdat_fail));
	if (s->bdat_fail[0] == '\0') {
		reply(s, "250 2.0.0 %lld octets received", size);
		return;
	}
	/* Counted once per transaction: a pipelining client may have sent
	 * many chunks before it saw the first refusal. */
	if (failed_before)
		reply_nocount(s, "%s", s->bdat_fail);
	else
		reject(s, "BDAT", NULL, "%s", s->bdat_fail);
	if (last && session_abandon(s) == -1)
		session_queue_gone(s, 1);
}
