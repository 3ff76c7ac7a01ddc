/*
 * frame.h: the record framing of every pipe and of the spool's files.
 *
 * A record is: one type byte (an ASCII letter), a 4-byte big-endian length,
 * then exactly that many payload bytes. Records never carry newline-delimited
 * text, so nothing a client sends can end a record early or start a new one.
 * Payloads that hold several values are "fields": each field is a string
 * ended by a NUL byte, and a reader asks for exactly the number of fields it
 * expects: a missing field, an extra field or trailing bytes after the last
 * NUL make the record invalid (frame_fields() returns -1).
 *
 * FRAME_MAX bounds a pipe record; the queue file's message record is the one
 * record allowed to be larger, and qfile.c reads it as a stream.
 * docs/protocols.md lists every record type of every pipe.
 */
#ifndef POSTERN_FRAME_H
#define POSTERN_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "io.h"

#define FRAME_HDR	5
#define FRAME_MAX	(256 * 1024)
#define FRAME_FIELDS_MAX 16

/* Append a record to out. -1 (EMSGSIZE) if len > FRAME_MAX or out is full. */
int	 frame_put(struct buf *out, int type, const void *payload, size_t len);
/* Append a record whose payload is the NULL-terminated list of strings,
 * each with its NUL. A string holding no NUL of its own is the caller's
 * duty (addresses and texts never do: smtpd refuses NUL). */
int	 frame_put_fields(struct buf *out, int type, ...)
	    __attribute__((sentinel));
int	 frame_put_fieldv(struct buf *out, int type, const char *const *f,
	    size_t n);
/* The same, into io->out (not flushed). */
int	 frame_send(struct io *, int type, const void *payload, size_t len);
int	 frame_send_fields(struct io *, int type, ...)
	    __attribute__((sentinel));
/* Read one record. 1: *type and payload set; 0: clean EOF between records;
 * -1: error, timeout, EOF inside a record, or length > max (errno EMSGSIZE).
 * max 0 means FRAME_MAX. */
int	 frame_read(struct io *, int *type, struct buf *payload, size_t max);
/* Split payload into exactly n NUL-terminated fields (pointers into it).
 * 0 on success, -1 if the count differs or bytes trail. */
int	 frame_fields(const struct buf *payload, const char **f, size_t n);
/* Parse one record from memory. 1: complete (*plen, *payload set, *used =
 * header+payload); 0: incomplete (a torn tail); -1: bad type byte. */
int	 frame_parse(const char *p, size_t len, int *type,
	    const char **payload, size_t *plen, size_t *used);
/* A datagram (SOCK_SEQPACKET: master <-> sessiond <-> its workers) that
 * is exactly one record of type want with exactly n fields; the fields
 * point into pay. 0, or -1 for anything else. */
int	 frame_datagram(const char *rec, size_t len, int want, struct buf *pay,
	    const char **f, size_t n);
void	 frame_hdr(char hdr[FRAME_HDR], int type, uint32_t len);

#endif
