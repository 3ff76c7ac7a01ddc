/*
 * io.c: buffered I/O on one descriptor, every wait bounded (see io.h).
 *
 * Used by smtpd for the client socket and by every program for its pipes.
 * Each public call computes one deadline from CLOCK_MONOTONIC when it starts
 * (a clock step cannot stretch or cut a timeout) and every poll() inside it
 * waits only for the time left. Errors are -1 with errno: ETIMEDOUT past the
 * deadline, EMSGSIZE when the input buffer is full, else the system's.
 *
 * All bytes go through io_rawread()/io_rawwrite(), which a TLS layer replaces
 * with io->readfn/io->writefn. The poll() for readiness is done here, on
 * the fd, before the hook is called, except when io->pendingfn says the
 * hook already holds bytes: TLS keeps decrypted bytes inside OpenSSL
 * (SSL_pending) once a record is read, and polling the then silent fd
 * would wait for the deadline with the client's command in hand.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "io.h"

#define IO_READ_CHUNK	8192

long long
io_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Deadline in ms on the monotonic clock; -1 means none. */
static long long
io_deadline(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : io_now_ms() + timeout_ms;
}

/* Wait for events until the deadline: 1 ready, -1 error (ETIMEDOUT).
 * mask: NULL, or the signal mask to wait with (ppoll()). */
static int
io_poll(int fd, short events, long long deadline, const sigset_t *mask)
{
	struct pollfd	 pfd;
	struct timespec	 ts;
	long long	 left;
	int		 r;

	for (;;) {
		left = -1;
		if (deadline >= 0) {
			left = deadline - io_now_ms();
			if (left < 0)
				left = 0;
		}
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		if (mask != NULL) {
			ts.tv_sec = left / 1000;
			ts.tv_nsec = (left % 1000) * 1000000;
			r = ppoll(&pfd, 1, left < 0 ? NULL : &ts, mask);
		} else
			r = poll(&pfd, 1, (int)left);
		if (r > 0)
			return 1;	/* POLLHUP/POLLERR: the read says what */
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

static ssize_t
io_rawread(struct io *io, void *p, size_t n)
{
	if (io->readfn != NULL)
		return io->readfn(io, p, n);
	return read(io->fd, p, n);
}

static ssize_t
io_rawwrite(struct io *io, const void *p, size_t n)
{
	ssize_t	 r;

	if (io->writefn != NULL)
		return io->writefn(io, p, n);
	if (io->nosock)
		return write(io->fd, p, n);
	/* MSG_NOSIGNAL: a vanished client is EPIPE, never a SIGPIPE death.
	 * MSG_DONTWAIT: never block past the deadline on a full socket. */
	r = send(io->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (r == -1 && errno == ENOTSOCK) {
		/* A pipe, whose write(2) can block: from now on io_flush()
		 * waits for room first. */
		io->nosock = 1;
		errno = EAGAIN;
	}
	return r;
}

void
io_init(struct io *io, int fd, int timeout_ms, size_t in_max)
{
	io->fd = fd;
	io->timeout_ms = timeout_ms;
	io->eof = 0;
	io->nosock = 0;
	buf_init(&io->in, in_max);
	buf_init(&io->out, 0);
	io->readfn = NULL;
	io->writefn = NULL;
	io->pendingfn = NULL;
	io->wait_sigmask = NULL;
	io->ctx = NULL;
}

/* Bytes the read hook can hand over without waiting on the fd. */
static int
io_hook_pending(struct io *io)
{
	return io->pendingfn != NULL && io->pendingfn(io) > 0;
}

void
io_free(struct io *io)
{
	buf_free(&io->in);
	buf_free(&io->out);
}

static ssize_t
io_fill_until(struct io *io, long long deadline)
{
	size_t	 ceil = io->in.max ? io->in.max : BUF_MAX_DEFAULT;
	size_t	 chunk = IO_READ_CHUNK;
	ssize_t	 r;

	if (io->in.len >= ceil) {
		errno = EMSGSIZE;
		return -1;
	}
	if (chunk > ceil - io->in.len)
		chunk = ceil - io->in.len;
	if (buf_reserve(&io->in, chunk) == -1)
		return -1;
	for (;;) {
		if (!io_hook_pending(io) &&
		    io_poll(io->fd, POLLIN, deadline, io->wait_sigmask) == -1)
			return -1;
		r = io_rawread(io, io->in.data + io->in.len, chunk);
		if (r > 0) {
			io->in.len += (size_t)r;
			io->in.data[io->in.len] = '\0';
			return r;
		}
		if (r == 0) {
			io->eof = 1;
			return 0;
		}
		if (errno != EINTR && errno != EAGAIN)
			return -1;
	}
}

ssize_t
io_fill(struct io *io)
{
	return io_fill_until(io, io_deadline(io->timeout_ms));
}

/*
 * The line is gathered into *line as it arrives, so a line split across
 * reads costs nothing extra, and a line longer than max keeps only its first
 * max bytes: the rest is read and dropped, never buffered (RFC 5321
 * 4.5.3.1.4 and 4.5.3.1.6 let us refuse such a line, not store it).
 */
int
io_getline(struct io *io, struct buf *line, size_t max)
{
	long long deadline = io_deadline(io->timeout_ms);
	size_t	 total = 0, take, n;
	char	*nl;
	ssize_t	 r;

	if (max == 0)
		max = io->in.max ? io->in.max : BUF_MAX_DEFAULT;
	buf_reset(line);
	for (;;) {
		nl = io->in.len ? memchr(io->in.data, '\n', io->in.len) : NULL;
		n = nl ? (size_t)(nl - io->in.data) + 1 : io->in.len;
		take = line->len < max ? max - line->len : 0;
		if (take > n)
			take = n;
		if (take > 0 && buf_add(line, io->in.data, take) == -1)
			return IO_LINE_ERR;
		total += n;
		buf_consume(&io->in, n);
		if (nl != NULL)
			return total > max ? IO_LINE_LONG : IO_LINE_OK;
		if (io->eof)
			r = 0;
		else
			r = io_fill_until(io, deadline);
		if (r == -1)
			return IO_LINE_ERR;
		if (r == 0) {
			if (total == 0)
				return IO_LINE_EOF;
			return IO_LINE_PARTIAL;
		}
	}
}

ssize_t
io_readn(struct io *io, void *p, size_t n)
{
	long long deadline = io_deadline(io->timeout_ms);
	size_t	 got = 0, take;
	ssize_t	 r;

	while (got < n) {
		if (io->in.len == 0) {
			r = io->eof ? 0 : io_fill_until(io, deadline);
			if (r == -1)
				return -1;
			if (r == 0) {
				if (got == 0)
					return 0;
				errno = EPIPE;
				return -1;
			}
		}
		take = n - got < io->in.len ? n - got : io->in.len;
		memcpy((char *)p + got, io->in.data, take);
		buf_consume(&io->in, take);
		got += take;
	}
	return (ssize_t)n;
}

size_t
io_pending(const struct io *io)
{
	return io->in.len;
}

int
io_write(struct io *io, const void *p, size_t n)
{
	return buf_add(&io->out, p, n);
}

int
io_puts(struct io *io, const char *s)
{
	return buf_adds(&io->out, s);
}

int
io_printf(struct io *io, const char *fmt, ...)
{
	va_list	 ap;
	int	 r;

	va_start(ap, fmt);
	r = buf_vaddf(&io->out, fmt, ap);
	va_end(ap);
	return r;
}

int
io_flush(struct io *io)
{
	long long deadline = io_deadline(io->timeout_ms);
	size_t	 done = 0;
	ssize_t	 r;
	int	 full = 0;

	while (done < io->out.len) {
		/* A socket is written at once, and polled only when it is
		 * full (EAGAIN): send() with MSG_DONTWAIT cannot block, and
		 * there is nearly always room, so a poll() first was one
		 * syscall per flush for nothing. A pipe's write(2) and a hook
		 * (TLS) could block: they wait for room first. */
		if ((full || io->nosock || io->writefn != NULL) &&
		    io_poll(io->fd, POLLOUT, deadline, NULL) == -1)
			break;
		r = io_rawwrite(io, io->out.data + done, io->out.len - done);
		full = 0;
		if (r > 0)
			done += (size_t)r;
		else if (r == 0) {
			errno = EPIPE;
			break;
		} else if (errno == EAGAIN)
			full = 1;
		else if (errno != EINTR)
			break;
	}
	/* Keep what was not written, so the caller sees an exact state. */
	buf_consume(&io->out, done);
	return io->out.len == 0 ? 0 : -1;
}

int
io_wait_readable(struct io *io, int timeout_ms)
{
	if (io->in.len > 0 || io_hook_pending(io))
		return 1;	/* buffered bytes are readable now */
	if (io_poll(io->fd, POLLIN, io_deadline(timeout_ms),
	    io->wait_sigmask) == 1)
		return 1;
	return errno == ETIMEDOUT ? 0 : -1;
}
