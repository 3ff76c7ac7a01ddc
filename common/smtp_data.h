/*
 * smtp_data.h: a queue file's message as an SMTP or LMTP client sends it
 * after DATA (RFC 5321 4.5.2, 2.3.8).
 *
 * The queue keeps the message with LF line endings. On the wire every LF
 * becomes CRLF, a CR not followed by LF becomes CRLF too (so no bare CR or
 * LF ever leaves: RFC 5321 2.3.8, and the SMTP smuggling lesson of 2023), a
 * CR LF pair is one line end, a line that starts with "." gets another,
 * a CRLF is added when the message does not end with a line end, and
 * ".CRLF" ends the data.
 *
 * Called by deliver/remote_session.c and deliver/lmtp_client.c; the
 * converter is pure (smtp_data_conv()), so a unit test and a fuzzer can
 * check its bytes without a socket.
 */
#ifndef POSTERN_SMTP_DATA_H
#define POSTERN_SMTP_DATA_H

#include <sys/types.h>
#include "buf.h"
#include "io.h"

struct smtp_data {
	int	 bol;		/* at the start of a line */
	int	 cr;		/* the last byte was a CR, not yet sent */
};

void	 smtp_data_init(struct smtp_data *);
/* Convert n bytes of the message into out. 0, or -1 when out is full. */
int	 smtp_data_conv(struct smtp_data *, const char *in, size_t n,
	    struct buf *out);
/* The end: a CRLF if the last line had none, then ".CRLF". 0 or -1. */
int	 smtp_data_end(struct smtp_data *, struct buf *out);
/* Send len bytes of fd from offset off (pread: the descriptor's offset is
 * shared with whoever passed it; off -1: read() from where it is) to io,
 * converted, with the final ".", flushing in pieces, each bounded by
 * io->timeout_ms. 0; -1 on a network error (errno); -2 when fd gave fewer
 * than len bytes or failed. */
int	 smtp_data_send(struct io *, int fd, off_t off, off_t len);

#endif
