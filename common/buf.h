/*
 * buf.h: the one growable byte buffer of Postern.
 *
 * Every variable-length byte string in every program lives in a struct buf.
 * A buffer has a hard ceiling (max): growth past it fails with -1 and errno
 * EMSGSIZE instead of eating memory, which is how every limit in the code
 * (line length, message size, record size) is enforced in one place.
 * data is always NUL-terminated (the NUL is not counted in len) so that a
 * buffer holding text can be handed to string functions; binary contents
 * may hold NULs of their own.
 *
 * Allocation failure is fatal() (the environment, not a bug).
 */
#ifndef POSTERN_BUF_H
#define POSTERN_BUF_H

#include <stddef.h>
#include <stdarg.h>

struct buf {
	char	*data;		/* NULL until first growth; then NUL-terminated */
	size_t	 len;		/* bytes in use, not counting the NUL */
	size_t	 cap;		/* bytes allocated */
	size_t	 max;		/* ceiling for len; 0 means BUF_MAX_DEFAULT */
};

#define BUF_MAX_DEFAULT	((size_t)1 << 30)
#define BUF_INIT	{ NULL, 0, 0, 0 }

void	 buf_init(struct buf *, size_t max);
void	 buf_free(struct buf *);	/* explicit_bzero()s, then frees */
void	 buf_reset(struct buf *);	/* len = 0, keeps the memory */
int	 buf_reserve(struct buf *, size_t more);	/* -1 EMSGSIZE past max */
int	 buf_add(struct buf *, const void *, size_t);
int	 buf_adds(struct buf *, const char *);
int	 buf_addc(struct buf *, char);
int	 buf_addf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 buf_vaddf(struct buf *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
int	 buf_set(struct buf *, const void *, size_t);	/* reset + add */
/* reset + addf: the "what went wrong" buffers of conf.c, table.c...;
 * a NULL buffer is allowed and ignored (the caller wants no text). */
int	 buf_setf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 buf_consume(struct buf *, size_t n);	/* drop n bytes at the front */
void	 buf_truncate(struct buf *, size_t len);	/* drop all past len */
const char *buf_str(const struct buf *);	/* "" when empty, never NULL */

#endif
