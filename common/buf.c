/*
 * buf.c: the one growable byte buffer (see buf.h).
 *
 * Used by every module for every variable-length string. A buffer never grows
 * past its ceiling: such an operation fails with -1 and errno EMSGSIZE and
 * leaves the contents as they were. Running out of memory is fatal(): no
 * program of ours can do anything useful without it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "buf.h"
#include "log.h"

static size_t
buf_ceiling(const struct buf *b)
{
	return b->max ? b->max : BUF_MAX_DEFAULT;
}

void
buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void
buf_free(struct buf *b)
{
	/* Buffers hold AUTH secrets and message text: wipe before free. */
	if (b->data != NULL) {
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

int
buf_reserve(struct buf *b, size_t more)
{
	size_t	 need, ncap, ceil = buf_ceiling(b);
	char	*p;

	if (more > ceil || b->len > ceil - more) {
		errno = EMSGSIZE;
		return -1;
	}
	need = b->len + more + 1;	/* + the NUL */
	if (need <= b->cap)
		return 0;
	/* Double, but never allocate much beyond what the ceiling allows. */
	ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (ncap > ceil + 1 && need <= ceil + 1)
		ncap = ceil + 1;
	if ((p = realloc(b->data, ncap)) == NULL)
		fatal("out of memory");
	b->data = p;
	b->cap = ncap;
	b->data[b->len] = '\0';
	return 0;
}

int
buf_add(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) == -1)
		return -1;
	if (n > 0)
		memmove(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
buf_adds(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int
buf_addc(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
}

int
buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
	va_list	 aq;
	int	 n;
	size_t	 room;

	if (buf_reserve(b, 0) == -1)
		return -1;
	room = b->cap - b->len;
	va_copy(aq, ap);
	n = vsnprintf(b->data + b->len, room, fmt, aq);
	va_end(aq);
	if (n < 0) {
		b->data[b->len] = '\0';
		return -1;
	}
	if ((size_t)n >= room) {
		/* Did not fit: grow to the exact size and format again. */
		b->data[b->len] = '\0';
		if (buf_reserve(b, (size_t)n) == -1)
			return -1;
		n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		if (n < 0 || (size_t)n >= b->cap - b->len) {
			b->data[b->len] = '\0';
			return -1;
		}
	} else if (b->len + (size_t)n > buf_ceiling(b)) {
		b->data[b->len] = '\0';
		errno = EMSGSIZE;
		return -1;
	}
	b->len += (size_t)n;
	return 0;
}

int
buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 r;

	va_start(ap, fmt);
	r = buf_vaddf(b, fmt, ap);
	va_end(ap);
	return r;
}

int
buf_set(struct buf *b, const void *p, size_t n)
{
	buf_reset(b);
	return buf_add(b, p, n);
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

void
buf_truncate(struct buf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->data[len] = '\0';
	}
}

const char *
buf_str(const struct buf *b)
{
	return b->data != NULL ? b->data : "";
}

int
buf_setf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 rc;

	if (b == NULL)
		return 0;
	buf_reset(b);
	va_start(ap, fmt);
	rc = buf_vaddf(b, fmt, ap);
	va_end(ap);
	return rc;
}
