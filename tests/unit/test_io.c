/*
 * test_io.c: common/io.c over pipes and socketpairs: lines split across
 * reads, over-long lines, partial lines at EOF, exact reads, flushing to a
 * vanished peer, the deadline, and a read hook holding bytes of its own
 * (pendingfn: TLS's SSL_pending) on a silent fd.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "io.h"
#include "harness.h"

/* A child that writes its pieces with pauses between, then closes. */
static pid_t
writer(int fd, const char *const *pieces)
{
	pid_t	 pid = fork();

	if (pid == 0) {
		for (; *pieces != NULL; pieces++) {
			if (write(fd, *pieces, strlen(*pieces)) == -1)
				_exit(1);
			usleep(30000);
		}
		_exit(0);
	}
	return pid;
}

static void
test_lines(void)
{
	const char *const pieces[] = { "hel", "lo\nwor", "ld\n", "tail", NULL };
	struct io	 io;
	struct buf	 line = BUF_INIT;
	int		 p[2];
	pid_t		 pid;

	CHECK(pipe(p) == 0);
	pid = writer(p[1], pieces);
	close(p[1]);
	io_init(&io, p[0], 5000, 1024);
	CHECK(io_getline(&io, &line, 100) == IO_LINE_OK);
	CHECK_STR(buf_str(&line), "hello\n");
	CHECK(io_getline(&io, &line, 100) == IO_LINE_OK);
	CHECK_STR(buf_str(&line), "world\n");
	CHECK(io_getline(&io, &line, 100) == IO_LINE_PARTIAL);
	CHECK_STR(buf_str(&line), "tail");
	CHECK(io_getline(&io, &line, 100) == IO_LINE_EOF);
	CHECK(line.len == 0);
	waitpid(pid, NULL, 0);
	io_free(&io);
	buf_free(&line);
	close(p[0]);
}

static void
test_long(void)
{
	struct io	 io;
	struct buf	 line = BUF_INIT, msg = BUF_INIT;
	int		 p[2], i;

	/* A 5000-byte line through a 64-byte input buffer: refused, its
	 * first 10 bytes kept, the rest dropped, the next line intact. */
	for (i = 0; i < 5000; i++)
		buf_addc(&msg, (char)('a' + i % 26));
	buf_adds(&msg, "\nnext\n0123456789\n");
	CHECK(pipe(p) == 0);
	CHECK(write(p[1], msg.data, msg.len) == (ssize_t)msg.len);
	close(p[1]);
	io_init(&io, p[0], 5000, 64);
	CHECK(io_getline(&io, &line, 10) == IO_LINE_LONG);
	CHECK_STR(buf_str(&line), "abcdefghij");
	CHECK(io.in.cap <= 65);
	CHECK(io_getline(&io, &line, 10) == IO_LINE_OK);
	CHECK_STR(buf_str(&line), "next\n");
	/* 11 bytes with the LF: one too many for 10 */
	CHECK(io_getline(&io, &line, 10) == IO_LINE_LONG);
	CHECK_STR(buf_str(&line), "0123456789");
	CHECK(io_getline(&io, &line, 10) == IO_LINE_EOF);
	io_free(&io);
	buf_free(&line);
	buf_free(&msg);
	close(p[0]);
}

static void
test_readn_timeout(void)
{
	struct io	 io;
	struct timespec	 t0, t1;
	char		 b[8];
	int		 p[2];
	long		 ms;

	CHECK(pipe(p) == 0);
	io_init(&io, p[0], 150, 1024);
	CHECK(write(p[1], "abc", 3) == 3);
	CHECK(io_readn(&io, b, 2) == 2 && memcmp(b, "ab", 2) == 0);
	CHECK(io_pending(&io) == 1);
	CHECK(io_wait_readable(&io, 0) == 1);	/* buffered counts */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	errno = 0;
	CHECK(io_readn(&io, b, 4) == -1 && errno == ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK(ms >= 140 && ms < 1000);
	buf_reset(&io.in);
	CHECK(io_wait_readable(&io, 50) == 0);
	CHECK(write(p[1], "xy", 2) == 2);
	CHECK(io_wait_readable(&io, 50) == 1);
	close(p[1]);
	/* EOF in the middle of an exact read */
	CHECK(io_readn(&io, b, 4) == -1 && errno == EPIPE);
	CHECK(io_readn(&io, b, 4) == 0);
	io_free(&io);
	close(p[0]);
}

static void
test_write(void)
{
	struct io	 w, r;
	struct buf	 line = BUF_INIT;
	int		 sp[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
	io_init(&w, sp[0], 1000, 0);
	io_init(&r, sp[1], 1000, 1024);
	CHECK(io_puts(&w, "220 ") == 0);
	CHECK(io_printf(&w, "%s %d\r\n", "ready", 5) == 0);
	CHECK(io_write(&w, "x\n", 2) == 0);
	CHECK(io_flush(&w) == 0 && w.out.len == 0);
	CHECK(io_getline(&r, &line, 100) == IO_LINE_OK);
	CHECK_STR(buf_str(&line), "220 ready 5\r\n");
	CHECK(io_getline(&r, &line, 100) == IO_LINE_OK);
	CHECK_STR(buf_str(&line), "x\n");
	/* The peer is gone: EPIPE, and no SIGPIPE kills us (MSG_NOSIGNAL). */
	close(sp[1]);
	CHECK(io_puts(&w, "bye\r\n") == 0);
	CHECK(io_flush(&w) == -1 && errno == EPIPE);
	io_free(&w);
	io_free(&r);
	close(sp[0]);
	buf_free(&line);
}

static void
test_write_timeout(void)
{
	struct io	 w;
	static char	 chunk[65536];
	int		 sp[2], i, r = 0;

	/* Nobody reads: the flush must give up at its deadline. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
	io_init(&w, sp[0], 100, 0);
	for (i = 0; i < 64; i++)
		io_write(&w, chunk, sizeof(chunk));
	errno = 0;
	r = io_flush(&w);
	CHECK(r == -1 && errno == ETIMEDOUT);
	CHECK(w.out.len > 0 && w.out.len < 64 * sizeof(chunk));
	io_free(&w);
	close(sp[0]);
	close(sp[1]);
}

/* A stand-in for TLS: the bytes live inside the "library", which hands
 * out at most 4 per read, as SSL_read hands out one record at a time. */
struct fake_tls {
	const char	*data;
	size_t		 left;
};

static ssize_t
fake_read(struct io *io, void *p, size_t n)
{
	struct fake_tls	*f = io->ctx;

	if (n > 4)
		n = 4;
	if (n > f->left)
		n = f->left;
	memcpy(p, f->data, n);
	f->data += n;
	f->left -= n;
	return (ssize_t)n;
}

static int
fake_pending(struct io *io)
{
	return (int)((struct fake_tls *)io->ctx)->left;
}

static void
test_pending_hook(void)
{
	struct fake_tls	 f = { "hello\nworld\n", 12 };
	struct io	 io;
	struct buf	 line = BUF_INIT;
	struct timespec	 t0, t1;
	long		 ms;
	int		 p[2];

	/* The pipe stays silent (its writer open): a poll() before each
	 * read would wait out the 2 s deadline for bytes already held. */
	CHECK(pipe(p) == 0);
	io_init(&io, p[0], 2000, 1024);
	io.readfn = fake_read;
	io.pendingfn = fake_pending;
	io.ctx = &f;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(io_wait_readable(&io, 2000) == 1);
	CHECK(io_getline(&io, &line, 100) == IO_LINE_OK);
	CHECK_STR(buf_str(&line), "hello\n");
	CHECK(io_getline(&io, &line, 100) == IO_LINE_OK);
	CHECK_STR(buf_str(&line), "world\n");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK(ms < 1000);
	/* Nothing held any more: now it is the fd's turn, and it times out. */
	io.timeout_ms = 50;
	errno = 0;
	CHECK(io_getline(&io, &line, 100) == IO_LINE_ERR && errno == ETIMEDOUT);
	io_free(&io);
	buf_free(&line);
	close(p[0]);
	close(p[1]);
}

int
main(void)
{
	signal(SIGPIPE, SIG_DFL);	/* prove MSG_NOSIGNAL does its job */
	test_lines();
	test_long();
	test_readn_timeout();
	test_write();
	test_write_timeout();
	test_pending_hook();
	return harness_done();
}
