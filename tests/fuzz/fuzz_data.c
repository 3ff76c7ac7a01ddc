/*
 * fuzz_data.c: libFuzzer harness for smtpd/data.c's DATA line state
 * machine (data_init/data_line), driven as data_receive() drives it.
 *
 * Input: one options byte (bits 0-1 choose smtpd_text_line_limit, bits 2-3
 * message_size_limit, bit 4 smtpd_bare_newline = normalize, bits 5-7 how
 * BDAT chunks are cut), then what the client sends after the 354. It is cut
 * into lines the way data_getline() cuts them: at each LF, a line longer
 * than limit + 1 octets replaced by its ending alone with toolong set, and a
 * last line without LF dropped (the client went away inside it). Message
 * bytes are collected into a chunk buffer of data_receive()'s size, emptied
 * whenever it passes SMTPD_DATA_CHUNK, and into a second buffer that keeps
 * them all for the checks.
 *
 * The checks restate RFC 5321 over the whole text, not line by line as
 * data.c does, so that the two readings must agree:
 *  - the data ends at the first ".\r\n" that starts the text or follows
 *    "\r\n" (4.1.1.4), and nowhere else: no "\n.\n", "\r.\r\n" or
 *    "\n.\r\n" ends it (SMTP smuggling);
 *  - a message is accepted (DATA_OK) exactly when the text before that end
 *    has no bare CR, no bare LF, no NUL, no line longer than the limit
 *    (a stuffed dot not counted, 4.5.3.1.6) and is not over the size limit;
 *    when only one of those is wrong, that is the problem reported;
 *  - an accepted message is the text with CRLF made LF and the first dot
 *    of each line removed (4.5.2), byte for byte;
 *  - in normalize mode, no bare CR or LF is a problem: each becomes a line
 *    end, and a dot is unstuffed only at the start of a line that follows
 *    a CRLF (the "." of "\n.\n" stays);
 *  - data_line() never says the chunk buffer is too small (-1).
 *
 * The same bytes are then the octets of BDAT chunks (bdat.c, RFC 3030),
 * cut at the sizes the options choose, and once more in one piece: the
 * outcome may not depend on where the chunks were cut (a CRLF split
 * across two chunks is still one line end; only which of two problems is
 * named first may differ, when one is the size), an accepted message is the
 * text with CRLF (and in normalize mode a lone CR) made LF, and a problem
 * reported is one the text has.
 */
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "../../smtpd/smtpd.h"

static const size_t line_limits[4] = { 1000, 3, 16, 100 };
static const long long size_limits[4] = { 0, 1, 200, 64 * 1024 };

/* The problems RFC 5321 finds in text[0..n), one bit per enum value;
 * normalize: bare CR and LF are none. */
static unsigned
problems(const char *t, size_t n, size_t limit, long long size_limit,
    int normalize)
{
	unsigned set = 0;
	size_t	 i, start = 0, len;
	int	 after_crlf = 1;

	for (i = 0; i < n; i++) {
		if (t[i] == '\0')
			set |= 1u << DATA_NUL;
		if (t[i] == '\r' && (i + 1 >= n || t[i + 1] != '\n') &&
		    !normalize)
			set |= 1u << DATA_BARE;
		if (t[i] == '\n') {
			if ((i == 0 || t[i - 1] != '\r') && !normalize)
				set |= 1u << DATA_BARE;
			len = i + 1 - start;
			if (t[start] == '.' && after_crlf)
				len--;
			if (len > limit)
				set |= 1u << DATA_LONG;
			after_crlf = i > start && t[i - 1] == '\r';
			start = i + 1;
		}
	}
	if (size_limit > 0 && (long long)n > size_limit)
		set |= 1u << DATA_SIZE;
	return set;
}

/* Chunk sizes, by option: one octet at a time up to one piece. */
static const size_t cuts[8] = { 1, 2, 3, 7, 64, 1000, 4096, SIZE_MAX };

/* Feed text as BDAT chunks of at most cut octets (each at most a
 * SMTPD_DATA_CHUNK piece, as bdat_read() reads them); the message into
 * all, the problem returned. */
static enum data_problem
bdat_run(const char *text, size_t n, size_t limit, long long size_limit,
    int normalize, size_t cut, struct buf *all)
{
	struct bdat_state b;
	struct buf	 out = BUF_INIT;
	size_t		 off, k;

	bdat_init(&b, limit, size_limit, normalize);
	buf_init(&out, SMTPD_DATA_CHUNK + 1);
	for (off = 0; off < n; off += k) {
		k = n - off;
		if (k > cut)
			k = cut;
		if (k > SMTPD_DATA_CHUNK)
			k = SMTPD_DATA_CHUNK;
		FUZZ_CHECK(bdat_feed(&b, text + off, k, &out) == 0);
		FUZZ_CHECK(out.len <= k + 1);
		if (b.problem == DATA_OK)
			FUZZ_CHECK(buf_add(all, out.data, out.len) == 0);
		buf_reset(&out);
	}
	FUZZ_CHECK(bdat_end(&b, &out) == 0);
	if (b.problem == DATA_OK)
		FUZZ_CHECK(buf_add(all, out.data, out.len) == 0);
	FUZZ_CHECK(b.size == (long long)n);
	buf_free(&out);
	return b.problem;
}

static void
bdat_check(const char *text, size_t n, size_t limit, long long size_limit,
    int normalize, int cutopt)
{
	struct buf	 cut = BUF_INIT, whole = BUF_INIT, want = BUF_INIT;
	enum data_problem pc, pw;
	unsigned	 set = 0;
	size_t		 i, line = 0;

	buf_init(&cut, 0);
	buf_init(&whole, 0);
	buf_init(&want, 0);
	pc = bdat_run(text, n, limit, size_limit, normalize, cuts[cutopt],
	    &cut);
	pw = bdat_run(text, n, limit, size_limit, normalize, SIZE_MAX,
	    &whole);
	/* Where the chunks were cut changes nothing, but for which problem
	 * comes first: bdat_feed() counts a piece's size before it looks
	 * at its octets, so a bigger piece can find SIZE before a problem
	 * that lies earlier in the text. Refused either way, with a 552. */
	FUZZ_CHECK((pc == DATA_OK) == (pw == DATA_OK));
	FUZZ_CHECK(pc == pw || pc == DATA_SIZE || pw == DATA_SIZE);
	if (pc == DATA_OK)
		FUZZ_CHECK(cut.len == whole.len && (cut.len == 0 ||
		    memcmp(cut.data, whole.data, cut.len) == 0));

	/* RFC 3030 over the whole text: CRLF and LF end lines, a CR alone
	 * is bare (a line end when normalizing); the limit counts a CRLF. */
	for (i = 0; i < n; i++) {
		if (text[i] == '\0')
			set |= 1u << DATA_NUL;
		if (text[i] == '\r' && i + 1 < n && text[i + 1] == '\n')
			continue;	/* the LF ends the line */
		if (text[i] == '\r' && !normalize)
			set |= 1u << DATA_BARE;
		if (text[i] == '\r' || text[i] == '\n') {
			FUZZ_CHECK(buf_addc(&want, '\n') == 0);
			line = 0;
			continue;
		}
		FUZZ_CHECK(buf_addc(&want, text[i]) == 0);
		if (++line + 2 > limit)
			set |= 1u << DATA_LONG;
	}
	if (size_limit > 0 && (long long)n > size_limit)
		set |= 1u << DATA_SIZE;
	if (set == 0) {
		FUZZ_CHECK(pc == DATA_OK);
		FUZZ_CHECK(want.len == cut.len && (cut.len == 0 ||
		    memcmp(want.data, cut.data, cut.len) == 0));
	} else
		FUZZ_CHECK(pc != DATA_OK && (set & (1u << pc)));
	buf_free(&cut);
	buf_free(&whole);
	buf_free(&want);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct data_state d;
	struct buf	 chunk = BUF_INIT, all = BUF_INIT, want = BUF_INIT;
	const char	*text, *p, *end, *nl;
	char		 ending[2];
	size_t		 limit, n, i, endoff = 0, start;
	long long	 size_limit;
	unsigned	 set;
	int		 r, ended = 0, normalize, after_crlf;

	if (size < 1)
		return 0;
	limit = line_limits[data[0] & 3];
	size_limit = size_limits[(data[0] >> 2) & 3];
	normalize = (data[0] >> 4) & 1;
	text = (const char *)data + 1;
	end = (const char *)data + size;
	bdat_check(text, size - 1, limit, size_limit, normalize,
	    (data[0] >> 5) & 7);

	data_init(&d, limit, size_limit);
	d.normalize = normalize;
	buf_init(&chunk, SMTPD_DATA_CHUNK + limit + 2);
	buf_init(&all, 0);
	for (p = text; p < end; p += n) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			break;		/* EOF inside a line: never fed */
		n = (size_t)(nl - p) + 1;
		if (n > limit + 1) {
			/* data_getline() keeps only how it ended. */
			size_t k = 0;

			if (n >= 2 && nl[-1] == '\r')
				ending[k++] = '\r';
			ending[k++] = '\n';
			r = data_line(&d, ending, k, 1, &chunk);
		} else
			r = data_line(&d, p, n, 0, &chunk);
		FUZZ_CHECK(r == 0 || r == 1);
		if (r == 1) {
			ended = 1;
			endoff = (size_t)(p - text);
			break;
		}
		if (d.problem != DATA_OK)
			buf_reset(&chunk);
		else if (chunk.len >= SMTPD_DATA_CHUNK) {
			FUZZ_CHECK(buf_add(&all, chunk.data, chunk.len) == 0);
			buf_reset(&chunk);
		}
	}
	FUZZ_CHECK(buf_add(&all, chunk.data, chunk.len) == 0);

	/* Where RFC 5321 says the data ends. */
	for (i = 0; i + 3 <= (size_t)(end - text); i++)
		if (memcmp(text + i, ".\r\n", 3) == 0 &&
		    (i == 0 || (i >= 2 && text[i - 2] == '\r' &&
		    text[i - 1] == '\n')))
			break;
	if (i + 3 <= (size_t)(end - text)) {
		FUZZ_CHECK(ended && endoff == i);
	} else
		FUZZ_CHECK(!ended);
	if (!ended) {
		buf_free(&chunk);
		buf_free(&all);
		return 0;
	}

	set = problems(text, endoff, limit, size_limit, normalize);
	if (set == 0)
		FUZZ_CHECK(d.problem == DATA_OK);
	else {
		FUZZ_CHECK(d.problem != DATA_OK);
		FUZZ_CHECK(set & (1u << d.problem));
	}
	if (d.problem == DATA_OK) {
		/* CRLF to LF, the first leading dot of each line after a
		 * CRLF dropped; normalize: bare LF ends a line, a bare CR
		 * becomes one. */
		buf_init(&want, 0);
		after_crlf = 1;
		for (start = 0, i = 0; i < endoff; i++) {
			if (text[i] != '\n')
				continue;
			p = text + start;
			n = i - start;	/* without the LF */
			if (n > 0 && p[n - 1] == '\r')
				n--;
			if (n > 0 && p[0] == '.' && after_crlf) {
				p++;
				n--;
			}
			size_t from = want.len, k;

			FUZZ_CHECK(buf_add(&want, p, n) == 0 &&
			    buf_addc(&want, '\n') == 0);
			for (k = from; k < want.len; k++)
				if (want.data[k] == '\r')
					want.data[k] = '\n';
			after_crlf = i > start && text[i - 1] == '\r';
			start = i + 1;
		}
		FUZZ_CHECK(want.len == all.len && (all.len == 0 ||
		    memcmp(want.data, all.data, all.len) == 0));
		FUZZ_CHECK(memchr(all.data, '\r', all.len) == NULL);
		FUZZ_CHECK(d.size == (long long)endoff);
		buf_free(&want);
	}
	buf_free(&chunk);
	buf_free(&all);
	return 0;
}
