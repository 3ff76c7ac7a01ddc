/*
 * io.h: buffered I/O on one file descriptor, every wait bounded by a deadline.
 *
 * Used for the SMTP socket, for every pipe between programs, and (from the
 * STARTTLS work on) over TLS: all reads and writes go through io_rawread()
 * and io_rawwrite(), which a TLS layer replaces by setting the hooks.
 * Each blocking operation waits at most timeout_ms (poll()); past it the call
 * fails with errno ETIMEDOUT. The input buffer is bounded by in.max so a peer
 * that never sends a newline costs us at most that much memory.
 *
 * Return conventions: >0 or 0 for success as documented per function, -1 on
 * error with errno set (ETIMEDOUT for a deadline, EPIPE/ECONNRESET etc.).
 */
#ifndef POSTERN_IO_H
#define POSTERN_IO_H

#include <sys/types.h>
#include <signal.h>
#include "buf.h"

struct io;
typedef ssize_t (*io_read_fn)(struct io *, void *, size_t);
typedef ssize_t (*io_write_fn)(struct io *, const void *, size_t);
typedef int (*io_pending_fn)(struct io *);

struct io {
	int		 fd;
	int		 timeout_ms;	/* per blocking wait; <0 waits forever */
	int		 eof;		/* peer closed its side */
	int		 nosock;	/* fd is a pipe: write(2), not send() */
	struct buf	 in;		/* read, not yet consumed */
	struct buf	 out;		/* written, not yet flushed */
	io_read_fn	 readfn;	/* NULL: read(2) */
	io_write_fn	 writefn;	/* NULL: write(2) */
	/* NULL, or: >0 when readfn has bytes for us without touching the fd
	 * (TLS: decrypted bytes held inside OpenSSL, SSL_pending), so no
	 * poll() comes before the read; the fd may well be silent. */
	io_pending_fn	 pendingfn;
	/* NULL, or the signal mask while waiting for input (ppoll()): a
	 * signal kept blocked otherwise is taken only there (enqueue's
	 * SIGTERM), without a sigprocmask() pair around each read. */
	const sigset_t	*wait_sigmask;
	void		*ctx;		/* for the hooks (the SSL *) */
};

enum io_line {
	IO_LINE_OK = 1,		/* line (with its LF) is in *line */
	IO_LINE_EOF = 0,	/* clean EOF before any byte of a line */
	IO_LINE_ERR = -1,	/* error or timeout, errno set */
	IO_LINE_LONG = -2,	/* longer than max: *line holds the first max
				 * bytes; the rest up to and including the LF
				 * was read and thrown away */
	IO_LINE_PARTIAL = -3	/* EOF in the middle of a line */
};

void	 io_init(struct io *, int fd, int timeout_ms, size_t in_max);
void	 io_free(struct io *);	/* frees buffers, does not close fd */
/* Read what is available (waits for at least one byte): >0 bytes, 0 EOF,
 * -1 error. The bytes are appended to io->in. */
ssize_t	 io_fill(struct io *);
/* Line up to and including '\n' into line (replacing its contents). */
int	 io_getline(struct io *, struct buf *line, size_t max);
/* Exactly n bytes into p: returns n, 0 on EOF before the first byte, -1 on
 * error or EOF in the middle (errno EPIPE). */
ssize_t	 io_readn(struct io *, void *p, size_t n);
size_t	 io_pending(const struct io *);	/* bytes already buffered in */
int	 io_write(struct io *, const void *, size_t);	/* buffers only */
int	 io_puts(struct io *, const char *);
int	 io_printf(struct io *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 io_flush(struct io *);		/* 0, or -1 with errno */
/* Milliseconds on the monotonic clock (a clock step cannot stretch or cut
 * a timeout): every deadline of Postern's I/O is one of these. */
long long io_now_ms(void);
/* Wait up to timeout_ms for the fd to become readable; 1, 0 timeout, -1. */
int	 io_wait_readable(struct io *, int timeout_ms);

#endif
