/*
 * frame.c: records of a type byte, a 4-byte big-endian length and a
 * payload (see frame.h and docs/protocols.md).
 *
 * Used on every pipe and in the spool's files. Writers append to a struct
 * buf; frame_read() reads one record through struct io. Every error is -1
 * with errno (EMSGSIZE over-length, EPROTO bad type byte, EPIPE EOF inside a
 * record); a type byte that is not a letter when *writing* is a bug: panic().
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "frame.h"
#include "log.h"

static int
frame_type_ok(int type)
{
	return (type >= 'A' && type <= 'Z') || (type >= 'a' && type <= 'z');
}

void
frame_hdr(char hdr[FRAME_HDR], int type, uint32_t len)
{
	hdr[0] = (char)type;
	hdr[1] = (char)(len >> 24);
	hdr[2] = (char)(len >> 16);
	hdr[3] = (char)(len >> 8);
	hdr[4] = (char)len;
}

int
frame_put(struct buf *out, int type, const void *payload, size_t len)
{
	char	 hdr[FRAME_HDR];

	if (!frame_type_ok(type))
		panic("frame_put: record type 0x%02x is not a letter", type);
	if (len > FRAME_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	/* Reserve first so a full buffer never holds half a record. */
	if (buf_reserve(out, FRAME_HDR + len) == -1)
		return -1;
	frame_hdr(hdr, type, (uint32_t)len);
	buf_add(out, hdr, FRAME_HDR);
	buf_add(out, payload, len);
	return 0;
}

int
frame_put_fieldv(struct buf *out, int type, const char *const *f, size_t n)
{
	char	 hdr[FRAME_HDR];
	size_t	 i, len = 0;

	if (!frame_type_ok(type))
		panic("frame_put: record type 0x%02x is not a letter", type);
	for (i = 0; i < n; i++) {
		len += strlen(f[i]) + 1;
		if (len > FRAME_MAX) {
			errno = EMSGSIZE;
			return -1;
		}
	}
	if (buf_reserve(out, FRAME_HDR + len) == -1)
		return -1;
	frame_hdr(hdr, type, (uint32_t)len);
	buf_add(out, hdr, FRAME_HDR);
	for (i = 0; i < n; i++)
		buf_add(out, f[i], strlen(f[i]) + 1);
	return 0;
}

static int
frame_put_fieldap(struct buf *out, int type, va_list ap)
{
	const char *f[FRAME_FIELDS_MAX], *s;
	size_t	 n = 0;

	while ((s = va_arg(ap, const char *)) != NULL) {
		if (n == FRAME_FIELDS_MAX)
			panic("frame_put_fields: more than %d fields",
			    FRAME_FIELDS_MAX);
		f[n++] = s;
	}
	return frame_put_fieldv(out, type, f, n);
}

int
frame_put_fields(struct buf *out, int type, ...)
{
	va_list	 ap;
	int	 r;

	va_start(ap, type);
	r = frame_put_fieldap(out, type, ap);
	va_end(ap);
	return r;
}

int
frame_send(struct io *io, int type, const void *payload, size_t len)
{
	return frame_put(&io->out, type, payload, len);
}

int
frame_send_fields(struct io *io, int type, ...)
{
	va_list	 ap;
	int	 r;

	va_start(ap, type);
	r = frame_put_fieldap(&io->out, type, ap);
	va_end(ap);
	return r;
}

int
frame_read(struct io *io, int *type, struct buf *payload, size_t max)
{
	unsigned char	 h[FRAME_HDR];
	size_t		 len;
	ssize_t		 r;

	if (max == 0)
		max = FRAME_MAX;
	if ((r = io_readn(io, h, FRAME_HDR)) <= 0)
		return (int)r;		/* 0: clean EOF between records */
	if (!frame_type_ok(h[0])) {
		errno = EPROTO;
		return -1;
	}
	len = (size_t)h[1] << 24 | (size_t)h[2] << 16 | (size_t)h[3] << 8 |
	    h[4];
	if (len > max) {
		errno = EMSGSIZE;
		return -1;
	}
	buf_reset(payload);
	if (buf_reserve(payload, len) == -1)
		return -1;
	if (len > 0) {
		r = io_readn(io, payload->data, len);
		if (r == 0)
			errno = EPIPE;
		if (r <= 0)
			return -1;
	}
	payload->len = len;
	payload->data[len] = '\0';
	*type = h[0];
	return 1;
}

int
frame_fields(const struct buf *payload, const char **f, size_t n)
{
	const char *p = payload->data, *nul;
	size_t	 left = payload->len, i;

	for (i = 0; i < n; i++) {
		if (left == 0 || (nul = memchr(p, '\0', left)) == NULL)
			return -1;	/* a missing field */
		f[i] = p;
		left -= (size_t)(nul - p) + 1;
		p = nul + 1;
	}
	return left == 0 ? 0 : -1;	/* bytes trailing the last field */
}

int
frame_datagram(const char *rec, size_t len, int want, struct buf *pay,
    const char **f, size_t n)
{
	const char	*p;
	size_t		 plen, used;
	int		 type;

	if (frame_parse(rec, len, &type, &p, &plen, &used) != 1 ||
	    used != len || type != want || buf_set(pay, p, plen) == -1)
		return -1;
	return frame_fields(pay, f, n);
}

int
frame_parse(const char *p, size_t len, int *type, const char **payload,
    size_t *plen, size_t *used)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t	 l;

	if (len < 1)
		return 0;
	if (!frame_type_ok(u[0]))
		return -1;
	if (len < FRAME_HDR)
		return 0;
	l = (size_t)u[1] << 24 | (size_t)u[2] << 16 | (size_t)u[3] << 8 | u[4];
	if (len - FRAME_HDR < l)
		return 0;
	*type = u[0];
	*payload = p + FRAME_HDR;
	*plen = l;
	*used = FRAME_HDR + l;
	return 1;
}
