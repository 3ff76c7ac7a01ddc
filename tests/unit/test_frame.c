/*
 * test_frame.c: common/frame.c: round trips, field counts, trailing bytes,
 * torn records, over-length records, frame_parse on memory.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "harness.h"

/* Write b's bytes into a pipe and return the read end (closed writer). */
static int
pipe_of(const struct buf *b)
{
	int	 p[2];

	if (pipe(p) == -1)
		return -1;
	if (b->len > 0 && write(p[1], b->data, b->len) != (ssize_t)b->len)
		return -1;
	close(p[1]);
	return p[0];
}

static void
test_round_trip(void)
{
	struct buf	 out = BUF_INIT, pl = BUF_INIT;
	struct io	 io;
	const char	*f[3];
	int		 fd, type;

	CHECK(frame_put_fields(&out, 'M', "a@b.c", "8BITMIME", "0",
	    (char *)NULL) == 0);
	CHECK(frame_put(&out, 'D', "raw\0bytes", 9) == 0);
	CHECK(frame_put(&out, 'B', NULL, 0) == 0);
	CHECK(frame_put_fields(&out, 'K', "", (char *)NULL) == 0);
	fd = pipe_of(&out);
	io_init(&io, fd, 1000, 0);
	CHECK(frame_read(&io, &type, &pl, 0) == 1 && type == 'M');
	CHECK(frame_fields(&pl, f, 3) == 0);
	CHECK_STR(f[0], "a@b.c");
	CHECK_STR(f[1], "8BITMIME");
	CHECK_STR(f[2], "0");
	/* the wrong number of fields, either way */
	CHECK(frame_fields(&pl, f, 2) == -1);
	CHECK(frame_fields(&pl, f, 0) == -1);
	CHECK(frame_read(&io, &type, &pl, 0) == 1 && type == 'D');
	CHECK(pl.len == 9 && memcmp(pl.data, "raw\0bytes", 9) == 0);
	/* bytes after the last NUL: "raw\0" then "bytes" trails */
	CHECK(frame_fields(&pl, f, 1) == -1);
	CHECK(frame_fields(&pl, f, 2) == -1);
	CHECK(frame_read(&io, &type, &pl, 0) == 1 && type == 'B');
	CHECK(pl.len == 0 && frame_fields(&pl, f, 0) == 0);
	CHECK(frame_fields(&pl, f, 1) == -1);
	CHECK(frame_read(&io, &type, &pl, 0) == 1 && type == 'K');
	CHECK(frame_fields(&pl, f, 1) == 0 && f[0][0] == '\0');
	CHECK(frame_read(&io, &type, &pl, 0) == 0);	/* clean EOF */
	io_free(&io);
	close(fd);
	buf_free(&out);
	buf_free(&pl);
}

static void
test_bad(void)
{
	struct buf	 out = BUF_INIT, pl = BUF_INIT, big = BUF_INIT;
	struct io	 io;
	char		 hdr[FRAME_HDR];
	int		 fd, type;

	/* torn: the header promises 10 bytes, 4 arrive, then EOF */
	frame_hdr(hdr, 'R', 10);
	buf_add(&out, hdr, FRAME_HDR);
	buf_add(&out, "abcd", 4);
	fd = pipe_of(&out);
	io_init(&io, fd, 1000, 0);
	errno = 0;
	CHECK(frame_read(&io, &type, &pl, 0) == -1 && errno == EPIPE);
	io_free(&io);
	close(fd);

	/* torn inside the header */
	buf_set(&out, "R\0\0", 3);
	fd = pipe_of(&out);
	io_init(&io, fd, 1000, 0);
	CHECK(frame_read(&io, &type, &pl, 0) == -1 && errno == EPIPE);
	io_free(&io);
	close(fd);

	/* over-length: more than the reader's max, and than FRAME_MAX */
	buf_reset(&out);
	CHECK(frame_put(&out, 'R', "0123456789", 10) == 0);
	frame_hdr(hdr, 'D', FRAME_MAX + 1);
	buf_add(&out, hdr, FRAME_HDR);
	fd = pipe_of(&out);
	io_init(&io, fd, 1000, 0);
	CHECK(frame_read(&io, &type, &pl, 9) == -1 && errno == EMSGSIZE);
	io_free(&io);
	close(fd);
	buf_reset(&out);
	buf_add(&out, hdr, FRAME_HDR);
	fd = pipe_of(&out);
	io_init(&io, fd, 1000, 0);
	CHECK(frame_read(&io, &type, &pl, 0) == -1 && errno == EMSGSIZE);
	io_free(&io);
	close(fd);

	/* a type byte that is not a letter */
	buf_set(&out, "\x01\0\0\0\0", 5);
	fd = pipe_of(&out);
	io_init(&io, fd, 1000, 0);
	CHECK(frame_read(&io, &type, &pl, 0) == -1 && errno == EPROTO);
	io_free(&io);
	close(fd);

	/* the writer refuses an over-long record and leaves out as it was */
	buf_reset(&out);
	buf_reserve(&big, FRAME_MAX + 1);
	memset(big.data, 'x', FRAME_MAX + 1);
	big.len = FRAME_MAX + 1;
	CHECK(frame_put(&out, 'D', big.data, big.len) == -1 &&
	    errno == EMSGSIZE && out.len == 0);
	CHECK(frame_put(&out, 'D', big.data, FRAME_MAX) == 0 &&
	    out.len == FRAME_HDR + FRAME_MAX);
	/* and a full buffer never gets half a record */
	buf_free(&out);
	buf_init(&out, 8);
	CHECK(frame_put(&out, 'D', "1234", 4) == -1 && out.len == 0);

	/* a big record through a small input buffer */
	buf_free(&out);
	buf_init(&out, 0);
	CHECK(frame_put(&out, 'D', big.data, FRAME_MAX) == 0);
	{
		int	 p[2];
		pid_t	 pid;

		CHECK(pipe(p) == 0);
		if ((pid = fork()) == 0) {
			close(p[0]);
			_exit(write(p[1], out.data, out.len) ==
			    (ssize_t)out.len ? 0 : 1);
		}
		close(p[1]);
		io_init(&io, p[0], 2000, 1024);
		CHECK(frame_read(&io, &type, &pl, 0) == 1 &&
		    pl.len == FRAME_MAX && pl.data[FRAME_MAX - 1] == 'x');
		io_free(&io);
		close(p[0]);
	}
	buf_free(&out);
	buf_free(&pl);
	buf_free(&big);
}

static void
test_parse(void)
{
	struct buf	 out = BUF_INIT;
	const char	*pl;
	size_t		 plen, used;
	int		 type;

	CHECK(frame_put_fields(&out, 'O', "0", "K", "2.0.0", "ok",
	    (char *)NULL) == 0);
	CHECK(frame_parse(out.data, out.len, &type, &pl, &plen, &used) == 1);
	CHECK(type == 'O' && plen == 13 && used == out.len);
	CHECK(frame_parse(out.data, out.len - 1, &type, &pl, &plen,
	    &used) == 0);
	CHECK(frame_parse(out.data, 3, &type, &pl, &plen, &used) == 0);
	CHECK(frame_parse(out.data, 0, &type, &pl, &plen, &used) == 0);
	CHECK(frame_parse("\n\0\0\0\0", 5, &type, &pl, &plen, &used) == -1);
	buf_free(&out);
}

/* One datagram, one record: sessiond's and master's records. */
static void
test_datagram(void)
{
	struct buf	 out = BUF_INIT, pay = BUF_INIT;
	const char	*f[3];

	CHECK(frame_put_fields(&out, 'S', "7", "127.0.0.1", "",
	    (char *)NULL) == 0);
	CHECK(frame_datagram(out.data, out.len, 'S', &pay, f, 3) == 0);
	CHECK(strcmp(f[0], "7") == 0 && strcmp(f[1], "127.0.0.1") == 0 &&
	    f[2][0] == '\0');
	CHECK(frame_datagram(out.data, out.len, 'X', &pay, f, 3) == -1);
	CHECK(frame_datagram(out.data, out.len, 'S', &pay, f, 2) == -1);
	CHECK(frame_datagram(out.data, out.len - 1, 'S', &pay, f, 3) == -1);
	CHECK(frame_datagram(out.data, 0, 'S', &pay, f, 3) == -1);
	/* a second record glued on is not one datagram */
	CHECK(frame_put_fields(&out, 'S', "8", "", "", (char *)NULL) == 0);
	CHECK(frame_datagram(out.data, out.len, 'S', &pay, f, 3) == -1);
	buf_free(&out);
	buf_free(&pay);
}

int
main(void)
{
	test_round_trip();
	test_bad();
	test_parse();
	test_datagram();
	return harness_done();
}
