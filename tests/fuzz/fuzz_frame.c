/*
 * fuzz_frame.c: libFuzzer harness for common/frame.c, the record framing
 * of every pipe and spool file.
 *
 * Input: a byte stream as a peer might write it on a pipe. It is read two
 * ways that must agree: from memory with frame_parse(), record after
 * record, and from a file descriptor (a memfd) with frame_read() through
 * struct io, as every program reads its pipe. Properties:
 *  - frame_parse(): a complete record lies inside the input (used = header
 *    + payload), its type is a letter; an incomplete one really is (fewer
 *    bytes than its header says); -1 only for a bad type byte;
 *  - frame_read() returns the same records in the same order, and stops
 *    where frame_parse() stops: clean EOF exactly at a record boundary, an
 *    error for a bad type, a torn tail or a record over FRAME_MAX;
 *  - frame_fields(): for each record, exactly one field count n succeeds
 *    (the number of NULs, when the payload ends in one), and the fields
 *    cover the payload; frame_put_fieldv() of those fields writes the
 *    same record back byte for byte, as frame_put() does of any payload.
 */
#include <sys/mman.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "frame.h"
#include "fuzz.h"
#include "io.h"

static void
check_fields(int type, const char *payload, size_t plen)
{
	struct buf	 b = BUF_INIT, out = BUF_INIT;
	const char	*f[FRAME_FIELDS_MAX + 1];
	size_t		 n, nuls = 0, i;
	int		 ok = -1;

	for (i = 0; i < plen; i++)
		nuls += payload[i] == '\0';
	buf_init(&b, 0);
	FUZZ_CHECK(buf_set(&b, payload, plen) == 0);
	for (n = 0; n <= FRAME_FIELDS_MAX; n++) {
		if (frame_fields(&b, f, n) != 0)
			continue;
		FUZZ_CHECK(ok == -1);	/* one n only */
		ok = (int)n;
		FUZZ_CHECK(n == nuls);
		FUZZ_CHECK(plen == 0 ? n == 0 : payload[plen - 1] == '\0');
		/* Written again from its fields: the same record. */
		if (plen <= FRAME_MAX) {
			buf_init(&out, 0);
			FUZZ_CHECK(frame_put_fieldv(&out, type, f, n) == 0);
			FUZZ_CHECK(out.len == FRAME_HDR + plen);
			FUZZ_CHECK(plen == 0 || memcmp(out.data + FRAME_HDR,
			    payload, plen) == 0);
			buf_free(&out);
		}
	}
	if (ok == -1 && nuls <= FRAME_FIELDS_MAX)
		FUZZ_CHECK(plen > 0 && payload[plen - 1] != '\0');
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*p = (const char *)data, *payload;
	struct buf	 rec = BUF_INIT, put = BUF_INIT;
	struct io	 io;
	size_t		 off = 0, plen, used;
	int		 fd, type, rtype, r, rr;

	fd = memfd_create("fuzz_frame", 0);
	FUZZ_CHECK(fd != -1);
	FUZZ_CHECK(size == 0 || write(fd, data, size) == (ssize_t)size);
	FUZZ_CHECK(lseek(fd, 0, SEEK_SET) == 0);
	io_init(&io, fd, 1000, 0);
	buf_init(&rec, 0);

	for (;;) {
		r = frame_parse(p + off, size - off, &type, &payload, &plen,
		    &used);
		rr = frame_read(&io, &rtype, &rec, 0);
		if (r == 1) {
			FUZZ_CHECK(used == FRAME_HDR + plen &&
			    used <= size - off);
			FUZZ_CHECK(payload == p + off + FRAME_HDR);
			FUZZ_CHECK((type >= 'A' && type <= 'Z') ||
			    (type >= 'a' && type <= 'z'));
			if (plen > FRAME_MAX) {
				/* Only the queue file's M may be longer;
				 * a pipe reader refuses it. */
				FUZZ_CHECK(rr == -1 && errno == EMSGSIZE);
				break;
			}
			FUZZ_CHECK(rr == 1 && rtype == type &&
			    rec.len == plen);
			FUZZ_CHECK(plen == 0 ||
			    memcmp(rec.data, payload, plen) == 0);
			/* frame_put() writes the very same bytes. */
			buf_init(&put, 0);
			FUZZ_CHECK(frame_put(&put, type, payload, plen) == 0);
			FUZZ_CHECK(put.len == used &&
			    memcmp(put.data, p + off, used) == 0);
			buf_free(&put);
			check_fields(type, payload, plen);
			off += used;
			continue;
		}
		if (r == 0 && off == size) {
			FUZZ_CHECK(rr == 0);	/* EOF between records */
			break;
		}
		if (r == 0) {
			/* A torn tail: fewer bytes than the header says. */
			FUZZ_CHECK(size - off < FRAME_HDR ||
			    ((size_t)(unsigned char)p[off + 1] << 24 |
			    (size_t)(unsigned char)p[off + 2] << 16 |
			    (size_t)(unsigned char)p[off + 3] << 8 |
			    (unsigned char)p[off + 4]) > size - off - FRAME_HDR);
			FUZZ_CHECK(rr == -1);
			break;
		}
		FUZZ_CHECK(r == -1);
		/* frame_read() wants the whole header before it looks at
		 * the type: a bad type in a torn header is EOF inside it. */
		FUZZ_CHECK(rr == -1 &&
		    (errno == EPROTO || size - off < FRAME_HDR));
		break;
	}
	io_free(&io);
	buf_free(&rec);
	close(fd);
	return 0;
}
