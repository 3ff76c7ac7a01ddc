/*
 * fuzz_reply.c: libFuzzer harness for common/smtp_reply.c (an SMTP
 * server's reply as the remote client and lmtp(8) read it, and the EHLO
 * keywords) and common/smtp_data.c (the message as the client sends it).
 *
 * Input: the bytes a hostile server sends. They are read two ways that
 * must agree: line by line from memory with smtp_reply_line(), and from a
 * file descriptor (a memfd) through struct io with smtp_reply_read(), as
 * the client reads its socket. Properties (the CVE-2020-8794 lesson: no
 * reply line, however short or strange, is read past its end):
 *  - a reply is OK only when complete; its code is 100..599 and every
 *    line starts with it; the text is NUL-terminated, len long, at most
 *    SMTP_REPLY_TEXT_MAX - 1 bytes, holds no byte below 0x20 nor 0x7f
 *    when sanitised, and starts with the code;
 *  - the enhanced code is "" or an RFC 3463 code of some class, and
 *    smtp_reply_enhanced() gives one of the reply's own class;
 *  - strict and sanitising readings agree except where a control byte
 *    made the strict one BAD;
 *  - smtp_ehlo_keyword() returns 0 or one known bit;
 *  - the same bytes as a message: the DATA that smtp_data_conv() and
 *    smtp_data_end() make has no bare CR or LF, ends with ".CRLF", and
 *    holds "CRLF.CRLF" only at its end.
 */
#include <sys/mman.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "fuzz.h"
#include "io.h"
#include "smtp_data.h"
#include "smtp_reply.h"

static void
check_reply(const struct smtp_reply *r, int flags)
{
	char code[SMTP_ENHANCED_MAX];
	size_t i;

	FUZZ_CHECK(r->done && r->lines >= 1 &&
	    r->lines <= SMTP_REPLY_LINES_MAX);
	FUZZ_CHECK(r->code >= 100 && r->code <= 599);
	FUZZ_CHECK(r->len == strlen(r->text) &&
	    r->len < SMTP_REPLY_TEXT_MAX);
	FUZZ_CHECK(r->len >= 3 && r->text[0] == '0' + r->code / 100);
	for (i = 0; i < r->len; i++)
		FUZZ_CHECK((unsigned char)r->text[i] >= 0x20 &&
		    r->text[i] != 0x7f);
	(void)flags;
	if (r->enhanced[0] != '\0')
		FUZZ_CHECK(smtp_code_valid('K', r->enhanced) ||
		    smtp_code_valid('Z', r->enhanced) ||
		    smtp_code_valid('D', r->enhanced));
	if (smtp_reply_status(r) != 0) {
		FUZZ_CHECK(smtp_reply_enhanced(r, code, sizeof(code)) == 0);
		FUZZ_CHECK(smtp_code_valid(smtp_reply_status(r), code));
	} else
		FUZZ_CHECK(smtp_reply_enhanced(r, code, sizeof(code)) == -1);
}

/* The reply from memory, line by line: OK, BAD, or IO (incomplete). */
static int
from_memory(const char *p, size_t size, int flags, struct smtp_reply *r)
{
	const char *nl;
	size_t off = 0, len;
	int rc;

	smtp_reply_init(r, flags);
	while (off < size) {
		nl = memchr(p + off, '\n', size - off);
		if (nl == NULL)
			return SMTP_REPLY_IO;
		len = (size_t)(nl - (p + off));
		/* io_getline() refuses what is longer than it keeps. */
		if (len + 1 > SMTP_REPLY_LINE_MAX + 2)
			return SMTP_REPLY_BAD;
		rc = smtp_reply_line(r, p + off, len);
		FUZZ_CHECK(rc == SMTP_REPLY_OK || rc == SMTP_REPLY_BAD);
		if (rc == SMTP_REPLY_BAD)
			return rc;
		off += len + 1;
		if (r->done)
			return SMTP_REPLY_OK;
	}
	return SMTP_REPLY_IO;
}

static int
from_fd(const uint8_t *data, size_t size, int flags, struct smtp_reply *r)
{
	struct io io;
	int fd, rc;

	fd = memfd_create("fuzz_reply", 0);
	FUZZ_CHECK(fd != -1);
	FUZZ_CHECK(size == 0 || write(fd, data, size) == (ssize_t)size);
	FUZZ_CHECK(lseek(fd, 0, SEEK_SET) == 0);
	io_init(&io, fd, 1000, 4 * SMTP_REPLY_LINE_MAX);
	rc = smtp_reply_read(&io, r, flags);
	io_free(&io);
	close(fd);
	return rc;
}

static void
check_data(const char *p, size_t size)
{
	struct smtp_data d;
	struct buf out = BUF_INIT;
	size_t i;
	const char *end;

	buf_init(&out, 0);
	smtp_data_init(&d);
	/* In two pieces, as reads would split it. */
	FUZZ_CHECK(smtp_data_conv(&d, p, size / 2, &out) == 0);
	FUZZ_CHECK(smtp_data_conv(&d, p + size / 2, size - size / 2,
	    &out) == 0);
	FUZZ_CHECK(smtp_data_end(&d, &out) == 0);
	FUZZ_CHECK(out.len >= 3);
	FUZZ_CHECK(memcmp(out.data + out.len - 3, ".\r\n", 3) == 0);
	FUZZ_CHECK(out.len == 3 || (out.len >= 5 &&
	    memcmp(out.data + out.len - 5, "\r\n.\r\n", 5) == 0));
	for (i = 0; i < out.len; i++) {
		if (out.data[i] == '\r')
			FUZZ_CHECK(i + 1 < out.len && out.data[i + 1] == '\n');
		if (out.data[i] == '\n')
			FUZZ_CHECK(i > 0 && out.data[i - 1] == '\r');
	}
	end = memmem(out.data, out.len, "\r\n.\r\n", 5);
	FUZZ_CHECK(end == NULL || end == out.data + out.len - 5);
	FUZZ_CHECK(out.len < 3 || memcmp(out.data, ".\r\n", 3) != 0 ||
	    out.len == 3);
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct smtp_reply m, f, strict;
	unsigned long long sz;
	size_t off, len, i;
	const char *nl;
	int rm, rf, rs, bit;

	rm = from_memory(p, size, SMTP_REPLY_SANITISE, &m);
	rf = from_fd(data, size, SMTP_REPLY_SANITISE, &f);
	/* The two readings agree: same verdict, same reply. */
	FUZZ_CHECK(rm == rf);
	if (rm == SMTP_REPLY_OK) {
		check_reply(&m, SMTP_REPLY_SANITISE);
		FUZZ_CHECK(m.code == f.code && m.lines == f.lines &&
		    m.ext == f.ext && m.size == f.size);
		FUZZ_CHECK(strcmp(m.text, f.text) == 0 &&
		    strcmp(m.enhanced, f.enhanced) == 0);
	}
	rs = from_memory(p, size, SMTP_REPLY_STRICT, &strict);
	if (rs == SMTP_REPLY_OK) {
		/* strict accepts less, never more */
		FUZZ_CHECK(rm == SMTP_REPLY_OK && strict.code == m.code &&
		    strict.lines == m.lines);
		for (i = 0; i < strict.len; i++)
			FUZZ_CHECK((unsigned char)strict.text[i] >= 0x20 &&
			    strict.text[i] != 0x7f);
	}
	/* Each line as an EHLO keyword. */
	for (off = 0; off < size; off = (size_t)(nl - p) + 1) {
		nl = memchr(p + off, '\n', size - off);
		len = nl != NULL ? (size_t)(nl - (p + off)) : size - off;
		bit = smtp_ehlo_keyword(p + off, len, &sz);
		FUZZ_CHECK(bit == 0 || bit == SMTP_EXT_8BITMIME ||
		    bit == SMTP_EXT_SMTPUTF8 || bit == SMTP_EXT_PIPELINING ||
		    bit == SMTP_EXT_STARTTLS || bit == SMTP_EXT_DSN ||
		    bit == SMTP_EXT_SIZE);
		if (nl == NULL)
			break;
	}
	check_data(p, size);
	return 0;
}
