/*
 * smtp_data.c: the message after DATA, LF to CRLF and dot-stuffed
 * (smtp_data.h). Called by the remote SMTP client and by lmtp(8).
 */
#include <errno.h>
#include <unistd.h>

#include "buf.h"
#include "io.h"
#include "smtp_data.h"

/* Flush to the socket in pieces of about this size: memory stays bounded
 * whatever the message size, and each piece has its own deadline. */
#define SMTP_DATA_FLUSH_AT	65536

void
smtp_data_init(struct smtp_data *d)
{
	d->bol = 1;
	d->cr = 0;
}

int
smtp_data_conv(struct smtp_data *d, const char *in, size_t n,
    struct buf *out)
{
	size_t i, start;

	for (i = 0; i < n; ) {
		if (d->cr) {
			/* A CR ends its line, with or without an LF. */
			d->cr = 0;
			d->bol = 1;
			if (buf_add(out, "\r\n", 2) == -1)
				return -1;
			if (in[i] == '\n') {
				i++;
				continue;
			}
		}
		if (in[i] == '\r' || in[i] == '\n') {
			if (in[i] == '\r')
				d->cr = 1;
			else {
				if (buf_add(out, "\r\n", 2) == -1)
					return -1;
				d->bol = 1;
			}
			i++;
			continue;
		}
		/* RFC 5321 4.5.2: a line that starts with a dot gets
		 * another, so that only ".CRLF" ends the data. */
		if (d->bol && in[i] == '.' && buf_addc(out, '.') == -1)
			return -1;
		d->bol = 0;
		for (start = i; i < n && in[i] != '\r' && in[i] != '\n'; i++)
			;
		if (buf_add(out, in + start, i - start) == -1)
			return -1;
	}
	return 0;
}

int
smtp_data_end(struct smtp_data *d, struct buf *out)
{
	if ((d->cr || !d->bol) && buf_add(out, "\r\n", 2) == -1)
		return -1;
	d->cr = 0;
	d->bol = 1;
	return buf_add(out, ".\r\n", 3);
}

int
smtp_data_send(struct io *io, int fd, off_t off, off_t len)
{
	struct smtp_data d;
	char in[16384];
	off_t left = len;
	ssize_t n;

	smtp_data_init(&d);
	while (left > 0) {
		n = left < (off_t)sizeof(in) ? (size_t)left : sizeof(in);
		n = off < 0 ? read(fd, in, (size_t)n) :
		    pread(fd, in, (size_t)n, off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -2;
		left -= n;
		if (off >= 0)
			off += n;
		if (smtp_data_conv(&d, in, (size_t)n, &io->out) == -1)
			return -1;
		if (io->out.len >= SMTP_DATA_FLUSH_AT && io_flush(io) == -1)
			return -1;
	}
	if (smtp_data_end(&d, &io->out) == -1 || io_flush(io) == -1)
		return -1;
	return 0;
}
