/*
 * test_smtpd_data.c: the message text in both smtpd_bare_newline modes
 * (data.c's line state machine with normalize set or not) and CHUNKING's
 * octet state machine (bdat.c): what is stored, what is refused, and that
 * nothing but CRLF.CRLF ever ends DATA.
 *
 * Links every smtpd file but smtpd.c, and libcommon.a. No I/O: the text is
 * cut into lines here as data_getline() would cut it (at each LF).
 */
#include <string.h>

#include "harness.h"
#include "../../smtpd/smtpd.h"

/* Feed text line by line. Returns the offset just past the end-of-data
 * line, or -1 when the text ran out first; out gets the message. */
static long
feed(const char *text, int normalize, struct data_state *d, struct buf *out)
{
	size_t	 len = strlen(text), i = 0, n;
	const char *nl;

	data_init(d, 1000, 0);
	d->normalize = normalize;
	buf_reset(out);
	while (i < len) {
		nl = memchr(text + i, '\n', len - i);
		if (nl == NULL)
			return -1;
		n = (size_t)(nl - (text + i)) + 1;
		if (data_line(d, text + i, n, 0, out) == 1)
			return (long)(i + n);
		i += n;
	}
	return -1;
}

static void
test_data_modes(void)
{
	struct data_state d;
	struct buf	 out = BUF_INIT;
	const char	*smuggle = "a\r\nfirst\n.\nMAIL FROM:<evil@x>\r\n"
	    "b\r\n\r.\r\nc\r\n.\r\n";

	/* reject: the whole message is refused, the end is the real one */
	CHECK(feed(smuggle, 0, &d, &out) == (long)strlen(smuggle));
	CHECK(d.problem == DATA_BARE);
	/* normalize: taken, bare LF and bare CR are line ends, and the
	 * end is still only CRLF.CRLF: "\n.\n" is text, its dot kept */
	CHECK(feed(smuggle, 1, &d, &out) == (long)strlen(smuggle));
	CHECK(d.problem == DATA_OK);
	CHECK_STR(buf_str(&out), "a\nfirst\n.\nMAIL FROM:<evil@x>\nb\n\n.\n"
	    "c\n");
	/* "\n.\r\n" does not end it either */
	CHECK(feed("x\n.\r\ny\r\n.\r\n", 1, &d, &out) == 11);
	CHECK_STR(buf_str(&out), "x\n.\ny\n");
	/* a bare-LF message without a real end never ends */
	CHECK(feed("Subject: x\n\nbody\n.\n", 1, &d, &out) == -1);
	CHECK_STR(buf_str(&out), "Subject: x\n\nbody\n.\n");
	/* dot-unstuffing after CRLF lines is unchanged by the mode */
	CHECK(feed("..a\r\n.b\r\n.\r\n", 1, &d, &out) == 12);
	CHECK_STR(buf_str(&out), ".a\nb\n");
	/* a bare CR inside a line, and one before the CRLF */
	CHECK(feed("a\rb\r\r\n.\r\n", 1, &d, &out) == 9);
	CHECK_STR(buf_str(&out), "a\nb\n\n");
	CHECK(feed("a\rb\r\n.\r\n", 0, &d, &out) == 8);
	CHECK(d.problem == DATA_BARE);
	/* the other problems still count in normalize mode */
	data_init(&d, 1000, 0);
	d.normalize = 1;
	CHECK(data_line(&d, "a\0b\n", 4, 0, &out) == 0);
	CHECK(d.problem == DATA_NUL);
	buf_free(&out);
}

/* Feed the chunks (NULL-ended), then the end. */
static enum data_problem
chunks(const char *const *c, const size_t *lens, int normalize,
    long long size_limit, struct buf *out)
{
	struct bdat_state b;
	size_t	 i;

	bdat_init(&b, 20, size_limit, normalize);
	buf_reset(out);
	for (i = 0; c[i] != NULL; i++)
		CHECK(bdat_feed(&b, c[i], lens ? lens[i] : strlen(c[i]),
		    out) == 0);
	CHECK(bdat_end(&b, out) == 0);
	return b.problem;
}

static void
test_bdat_feed(void)
{
	struct buf	 out = BUF_INIT;
	const char	*a[] = { "Subject: x\r\n\r\nline 1\r", "\nline 2\r\n",
			    ".\r\n", NULL };
	const char	*b[] = { "x\n.\ny\r\n", NULL };
	const char	*c[] = { "x\ry\r\n", NULL };
	const char	*d[] = { "x\r", NULL };
	const char	*e[] = { "", NULL };
	const char	*f[] = { "12345678901234567", "8\r\n", NULL };
	const char	*g[] = { "123456789012345678", "9\r\n", NULL };
	const char	*h[] = { "ab", "c\0d", NULL };
	const size_t	 hl[] = { 2, 3 };
	const char	*k[] = { "0123456789", "0123456789", NULL };

	/* CRLF split across chunks; no unstuffing, no end line */
	CHECK(chunks(a, NULL, 0, 0, &out) == DATA_OK);
	CHECK_STR(buf_str(&out), "Subject: x\n\nline 1\nline 2\n.\n");
	/* a bare LF is a line end in both modes */
	CHECK(chunks(b, NULL, 0, 0, &out) == DATA_OK);
	CHECK_STR(buf_str(&out), "x\n.\ny\n");
	/* a bare CR: refused, or a line end */
	CHECK(chunks(c, NULL, 0, 0, &out) == DATA_BARE);
	CHECK(chunks(c, NULL, 1, 0, &out) == DATA_OK);
	CHECK_STR(buf_str(&out), "x\ny\n");
	CHECK(chunks(d, NULL, 0, 0, &out) == DATA_BARE);	/* at the end */
	CHECK(chunks(d, NULL, 1, 0, &out) == DATA_OK);
	CHECK_STR(buf_str(&out), "x\n");
	/* "BDAT 0 LAST" alone: an empty message */
	CHECK(chunks(e, NULL, 0, 0, &out) == DATA_OK);
	CHECK(out.len == 0);
	/* the line limit (20 with the CRLF) across chunks */
	CHECK(chunks(f, NULL, 0, 0, &out) == DATA_OK);
	CHECK(chunks(g, NULL, 0, 0, &out) == DATA_LONG);
	CHECK(chunks(h, hl, 0, 0, &out) == DATA_NUL);
	/* message_size_limit counts every octet of every chunk */
	CHECK(chunks(k, NULL, 0, 20, &out) == DATA_LONG);
	CHECK(chunks(k, NULL, 0, 19, &out) == DATA_SIZE);
	buf_free(&out);
}

static void
test_bdat_args(void)
{
	long long size;
	int	 last;

	CHECK(bdat_args("100", &size, &last) == 0 && size == 100 && !last);
	CHECK(bdat_args("0 LAST", &size, &last) == 0 && size == 0 && last);
	CHECK(bdat_args("7 last", &size, &last) == 0 && size == 7 && last);
	CHECK(bdat_args("7 LASTX", &size, &last) == 1 && size == 7);
	CHECK(bdat_args("7 LAST x", &size, &last) == 1);
	CHECK(bdat_args("7  LAST", &size, &last) == 1);
	CHECK(bdat_args("", &size, &last) == -1);
	CHECK(bdat_args("LAST", &size, &last) == -1);
	CHECK(bdat_args("-1", &size, &last) == -1);
	CHECK(bdat_args("1x", &size, &last) == -1);
	CHECK(bdat_args("999999999999999999", &size, &last) == 0);
	CHECK(bdat_args("9999999999999999999", &size, &last) == -1);
}

int
main(void)
{
	test_data_modes();
	test_bdat_feed();
	test_bdat_args();
	return harness_done();
}
