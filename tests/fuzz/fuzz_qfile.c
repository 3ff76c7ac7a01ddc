/*
 * fuzz_qfile.c: libFuzzer harness for common/qfile.c's reader.
 *
 * Input: the bytes of a queue file, written to a memfd and read with
 * qfile_read() as qmgr, lspawn's children and "postern queue" read a file
 * from the spool (which anyone who got the spool's uid could have written:
 * the reader is the last line of defence, DESIGN.md). Properties:
 *  - QFILE_CORRUPT always comes with a reason; QFILE_IOERR never happens on
 *    a memfd;
 *  - an accepted file's envelope is within bounds: at least one and at
 *    most QFILE_RCPT_MAX recipients, every address parses, nothing holds
 *    CR or LF; the message lies inside the file and the Z record ends it;
 *  - the accepted envelope is one the writer accepts too, and writing it
 *    with the message (qfile_begin/qfile_body/qfile_finish) into a second
 *    memfd gives a file that reads back to the same envelope and message:
 *    what the reader lets through can travel on unchanged.
 */
#include <sys/mman.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "frame.h"
#include "fuzz.h"
#include "qfile.h"
#include "spool.h"

static int
mem_file(const void *p, size_t n)
{
	int	 fd = memfd_create("fuzz_qfile", 0);

	FUZZ_CHECK(fd != -1);
	FUZZ_CHECK(n == 0 || write(fd, p, n) == (ssize_t)n);
	return fd;
}

static void
check_env(const struct qenv *env, size_t size)
{
	struct addr	 a;
	const char	*why;
	size_t		 i;

	FUZZ_CHECK(env->arrival >= 0);
	FUZZ_CHECK(spool_id_valid(env->id));
	FUZZ_CHECK(env->nrcpt >= 1 && env->nrcpt <= QFILE_RCPT_MAX);
	FUZZ_CHECK(env->sender[0] == '\0' ||
	    addr_parse_mailbox(env->sender, ADDR_UTF8, &a, &why) == 0);
	FUZZ_CHECK(strpbrk(env->sender, "\r\n") == NULL);
	FUZZ_CHECK(strpbrk(env->helo, "\r\n ") == NULL && env->helo[0]);
	for (i = 0; i < env->nrcpt; i++) {
		FUZZ_CHECK(strpbrk(env->rcpt[i], "\r\n") == NULL);
		FUZZ_CHECK(addr_parse_mailbox(env->rcpt[i],
		    ADDR_UTF8 | ADDR_POSTMASTER, &a, &why) == 0);
	}
	FUZZ_CHECK(env->msg_off > QFILE_MAGIC_LEN && env->msg_len >= 0);
	/* The message, then a Z header and at least one digit. */
	FUZZ_CHECK((size_t)(env->msg_off + env->msg_len) + FRAME_HDR + 1 <=
	    size);
}

static int
same_env(const struct qenv *a, const struct qenv *b)
{
	size_t	 i;

	if (a->arrival != b->arrival || strcmp(a->id, b->id) != 0 ||
	    strcmp(a->client, b->client) != 0 ||
	    strcmp(a->helo, b->helo) != 0 ||
	    strcmp(a->proto, b->proto) != 0 ||
	    strcmp(a->sender, b->sender) != 0 ||
	    strcmp(a->body, b->body) != 0 || a->nrcpt != b->nrcpt ||
	    a->msg_len != b->msg_len)
		return 0;
	/* RFC 3461 / 6531 fields: they go into bounces and onto the wire. */
	if (strcmp(a->envid, b->envid) != 0 || strcmp(a->ret, b->ret) != 0 ||
	    a->smtputf8 != b->smtputf8)
		return 0;
	for (i = 0; i < a->nrcpt; i++) {
		if (strcmp(a->rcpt[i], b->rcpt[i]) != 0)
			return 0;
		if (a->dsn != NULL && b->dsn != NULL &&
		    (strcmp(a->dsn[i].notify, b->dsn[i].notify) != 0 ||
		    strcmp(a->dsn[i].orcpt, b->dsn[i].orcpt) != 0))
			return 0;
	}
	return 1;
}

/* Write env and the message again; read it back. */
static void
rewrite(const struct qenv *env, const uint8_t *data)
{
	struct qfile_writer w;
	struct qenv	 back;
	struct buf	 err = BUF_INIT;
	char		*msg;
	int		 fd;

	fd = memfd_create("fuzz_qfile_w", 0);
	FUZZ_CHECK(fd != -1);
	FUZZ_CHECK(qfile_begin(&w, fd, env) == 0);
	FUZZ_CHECK(qfile_body(&w, data + env->msg_off,
	    (size_t)env->msg_len) == 0);
	FUZZ_CHECK(qfile_finish(&w) == 0);
	qfile_writer_free(&w);
	buf_init(&err, 0);
	if (qfile_read(fd, &back, &err) != QFILE_OK) {
		fprintf(stderr, "rewritten file refused: %s\n",
		    buf_str(&err));
		FUZZ_CHECK(!"a rewritten file reads back");
	}
	FUZZ_CHECK(same_env(env, &back));
	msg = malloc((size_t)back.msg_len + 1);
	FUZZ_CHECK(msg != NULL);
	FUZZ_CHECK(pread(fd, msg, (size_t)back.msg_len, back.msg_off) ==
	    (ssize_t)back.msg_len);
	FUZZ_CHECK(back.msg_len == 0 || memcmp(msg, data + env->msg_off,
	    (size_t)back.msg_len) == 0);
	free(msg);
	qenv_free(&back);
	buf_free(&err);
	close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qenv	 env;
	struct buf	 err = BUF_INIT;
	int		 fd, r;

	fd = mem_file(data, size);
	buf_init(&err, 0);
	r = qfile_read(fd, &env, &err);
	close(fd);
	FUZZ_CHECK(r == QFILE_OK || r == QFILE_CORRUPT);
	if (r == QFILE_CORRUPT) {
		FUZZ_CHECK(err.len > 0);
		FUZZ_CHECK(env.rcpt == NULL && env.nrcpt == 0);
	} else {
		check_env(&env, size);
		rewrite(&env, data);
		qenv_free(&env);
	}
	buf_free(&err);
	return 0;
}
