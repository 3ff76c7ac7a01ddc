/*
 * test_remote_data.c: the message as the remote client sends it after DATA
 * (common/smtp_data.c): LF to CRLF, a lone CR to CRLF, CR LF kept as one
 * line end, dot-stuffing (RFC 5321 4.5.2), the final CRLF when missing,
 * the empty message, and the same bytes whatever the split of the input;
 * then smtp_data_send() from a file at an offset (pread: the descriptor's
 * offset is not moved) and from a file too short.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "io.h"
#include "smtp_data.h"
#include "harness.h"

/* msg converted in pieces of step bytes (0: at once), with the end. */
static void
check_conv(const char *msg, const char *want, size_t step)
{
	struct smtp_data d;
	struct buf out = BUF_INIT;
	size_t n = strlen(msg), i, k;

	buf_init(&out, 0);
	smtp_data_init(&d);
	for (i = 0; i < n; i += k) {
		k = step == 0 || step > n - i ? n - i : step;
		CHECK(smtp_data_conv(&d, msg + i, k, &out) == 0);
	}
	CHECK(smtp_data_end(&d, &out) == 0);
	CHECK_STR(buf_str(&out), want);
	buf_free(&out);
}

static void
check(const char *msg, const char *want)
{
	size_t step;

	for (step = 0; step < 5; step++)
		check_conv(msg, want, step);
}

static void
test_conv(void)
{
	check("Subject: x\n\nbody\n", "Subject: x\r\n\r\nbody\r\n.\r\n");
	check(".\n..x\nmid.dle\n.", "..\r\n...x\r\nmid.dle\r\n..\r\n.\r\n");
	check("no final newline", "no final newline\r\n.\r\n");
	check("", ".\r\n");
	check("\n", "\r\n.\r\n");
	check("lone\rcr", "lone\r\ncr\r\n.\r\n");
	check("crlf\r\nkept\r\n", "crlf\r\nkept\r\n.\r\n");
	check("two\r\rcrs\n", "two\r\n\r\ncrs\r\n.\r\n");
	check("ends in cr\r", "ends in cr\r\n.\r\n");
	check("\r.dot after cr\n", "\r\n..dot after cr\r\n.\r\n");
	check("a\n.\nb\n", "a\r\n..\r\nb\r\n.\r\n");
	check("8bit caf\xc3\xa9\n", "8bit caf\xc3\xa9\r\n.\r\n");
	/* a full buffer is an error, not a cut message */
	{
		struct smtp_data d;
		struct buf out = BUF_INIT;

		buf_init(&out, 4);
		smtp_data_init(&d);
		CHECK(smtp_data_conv(&d, "abcdefgh\n", 9, &out) == -1);
		buf_free(&out);
	}
}

/* What smtp_data_send() puts on a socket for len bytes at off of f. */
static int
sent(int f, off_t off, off_t len, char *out, size_t outsz)
{
	struct io io;
	int s[2], rc;
	ssize_t n;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) == -1)
		return -99;
	io_init(&io, s[0], 2000, 4096);
	rc = smtp_data_send(&io, f, off, len);
	io_free(&io);
	close(s[0]);
	n = read(s[1], out, outsz - 1);
	out[n > 0 ? n : 0] = '\0';
	close(s[1]);
	return rc;
}

static void
test_send(void)
{
	static const char file[] = "ENVELOPE.dot\nline\rtwo";
	char out[256];
	int f = memfd_create("qf", 0);

	CHECK(f != -1 && write(f, file, sizeof(file) - 1) ==
	    (ssize_t)sizeof(file) - 1);
	CHECK(lseek(f, 3, SEEK_SET) == 3);
	CHECK(sent(f, 8, (off_t)sizeof(file) - 1 - 8, out, sizeof(out)) == 0);
	CHECK_STR(out, "..dot\r\nline\r\ntwo\r\n.\r\n");
	CHECK(lseek(f, 0, SEEK_CUR) == 3);	/* not moved */
	/* fewer bytes than announced: -2, no final dot */
	CHECK(sent(f, 8, 100, out, sizeof(out)) == -2);
	CHECK(strstr(out, "\r\n.\r\n") == NULL);
	close(f);
}

int
main(void)
{
	test_conv();
	test_send();
	return harness_done();
}
