/*
 * test_qfile.c: common/qfile.c: a written file reads back exactly; every
 * kind of damage is QFILE_CORRUPT with a reason; the writer refuses values
 * that could forge a field.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bsd/string.h>

#include "frame.h"
#include "qfile.h"
#include "harness.h"

static char	 path[] = "/tmp/test_qfile.XXXXXX";

static void
good_env(struct qenv *env)
{
	qenv_init(env);
	env->arrival = 1700000000;
	strlcpy(env->id, "06553F1000A1B2C3D4E5F0A1B", sizeof(env->id));
	strlcpy(env->client, "2001:db8::1", sizeof(env->client));
	strlcpy(env->helo, "mail_host.example.org", sizeof(env->helo));
	strlcpy(env->proto, "ESMTP", sizeof(env->proto));
	strlcpy(env->sender, "alice@example.org", sizeof(env->sender));
	strlcpy(env->body, "8BITMIME", sizeof(env->body));
	qenv_add_rcpt(env, "bob@example.net");
	qenv_add_rcpt(env, "postmaster");
}

/* Write n bytes as the whole file and read it back. */
static int
read_bytes(const void *p, size_t n, struct qenv *env, struct buf *err)
{
	int	 fd, r;

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || write(fd, p, n) != (ssize_t)n)
		return 99;
	r = qfile_read(fd, env, err);
	close(fd);
	return r;
}

static void
test_round_trip(void)
{
	struct qenv		 env, got;
	struct qfile_writer	 w;
	struct buf		 err = BUF_INIT, msg = BUF_INIT;
	char			*back;
	size_t			 i;
	int			 fd;

	good_env(&env);
	/* a message bigger than one write chunk, in odd pieces */
	for (i = 0; i < 200000; i++)
		buf_addc(&msg, i % 80 == 79 ? '\n' : (char)('a' + i % 26));
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd != -1);
	CHECK(qfile_begin(&w, fd, &env) == 0);
	for (i = 0; i < msg.len; i += 7777)
		CHECK(qfile_body(&w, msg.data + i,
		    msg.len - i < 7777 ? msg.len - i : 7777) == 0);
	CHECK(qfile_finish(&w) == 0);
	qfile_writer_free(&w);

	qenv_init(&got);
	CHECK(qfile_read(fd, &got, &err) == QFILE_OK);
	CHECK(got.arrival == 1700000000);
	CHECK_STR(got.id, env.id);
	CHECK_STR(got.client, "2001:db8::1");
	CHECK_STR(got.helo, "mail_host.example.org");
	CHECK_STR(got.proto, "ESMTP");
	CHECK_STR(got.sender, "alice@example.org");
	CHECK_STR(got.body, "8BITMIME");
	CHECK(got.nrcpt == 2);
	CHECK_STR(got.rcpt[0], "bob@example.net");
	CHECK_STR(got.rcpt[1], "postmaster");
	CHECK(got.msg_len == (off_t)msg.len);
	back = malloc(msg.len);
	CHECK(pread(fd, back, msg.len, got.msg_off) == (ssize_t)msg.len);
	CHECK(memcmp(back, msg.data, msg.len) == 0);
	free(back);
	qenv_free(&got);
	close(fd);

	/* null sender, local client, empty message */
	strlcpy(env.sender, "", sizeof(env.sender));
	strlcpy(env.client, "", sizeof(env.client));
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(qfile_begin(&w, fd, &env) == 0 && qfile_finish(&w) == 0);
	qfile_writer_free(&w);
	CHECK(qfile_read(fd, &got, &err) == QFILE_OK);
	CHECK_STR(got.sender, "");
	CHECK(got.msg_len == 0);
	qenv_free(&got);
	close(fd);
	qenv_free(&env);
	buf_free(&err);
	buf_free(&msg);
}

static void
test_writer_refuses(void)
{
	struct qenv		 env;
	struct qfile_writer	 w;
	int			 fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	good_env(&env);
	strlcpy(env.helo, "evil\r\nR", sizeof(env.helo));
	CHECK(qfile_begin(&w, fd, &env) == -1 && errno == EINVAL);
	qfile_writer_free(&w);
	qenv_free(&env);
	good_env(&env);
	strlcpy(env.sender, "a@b.c\nR\0", sizeof(env.sender));
	CHECK(qfile_begin(&w, fd, &env) == -1 && errno == EINVAL);
	qfile_writer_free(&w);
	strlcpy(env.sender, "a@b.c", sizeof(env.sender));
	strlcpy(env.proto, "esmtp", sizeof(env.proto));
	CHECK(qfile_begin(&w, fd, &env) == -1 && errno == EINVAL);
	qfile_writer_free(&w);
	strlcpy(env.proto, "ESMTP", sizeof(env.proto));
	strlcpy(env.client, "1.2.3.4.5", sizeof(env.client));
	CHECK(qfile_begin(&w, fd, &env) == -1 && errno == EINVAL);
	qfile_writer_free(&w);
	strlcpy(env.client, "192.0.2.1", sizeof(env.client));
	env.nrcpt = 0;
	CHECK(qfile_begin(&w, fd, &env) == -1 && errno == EINVAL);
	qfile_writer_free(&w);
	env.nrcpt = 2;
	CHECK(qfile_begin(&w, fd, &env) == 0);
	qfile_writer_free(&w);
	qenv_free(&env);
	close(fd);
}

/* Build a file record by record; NULL value ends the list. type 0 is raw
 * bytes. */
struct rec {
	int		 type;
	const char	*v;
};

static const struct rec good[] = {
	{ 'T', "1700000000" }, { 'I', "06553F1000A1B2C3D4E5F0A1B" },
	{ 'C', "192.0.2.7" }, { 'H', "client.example" }, { 'P', "SMTP" },
	{ 'S', "a@example.org" }, { 'B', "7BIT" }, { 'R', "b@example.org" },
	{ 'M', "hello\n" }, { 'Z', "6" }, { 0, NULL }
};

static void
build(struct buf *b, const char *magic, const struct rec *r)
{
	char	 nul[256];
	size_t	 i;

	buf_reset(b);
	buf_adds(b, magic);
	for (; r->v != NULL; r++) {
		if (r->type == 0)
			buf_adds(b, r->v);
		else if (r->type == 'D') {
			/* '|' stands for the NUL that ends each field */
			for (i = 0; r->v[i] != '\0' && i < sizeof(nul); i++)
				nul[i] = r->v[i] == '|' ? '\0' : r->v[i];
			frame_put(b, 'D', nul, i);
		} else
			frame_put(b, r->type, r->v, strlen(r->v));
	}
}

static const struct rec good_dsn[] = {
	{ 'T', "1700000000" }, { 'I', "06553F1000A1B2C3D4E5F0A1B" },
	{ 'C', "192.0.2.7" }, { 'H', "client.example" }, { 'P', "UTF8SMTP" },
	{ 'S', "a@example.org" }, { 'B', "8BITMIME" }, { 'E', "QQ+2B1" },
	{ 'F', "HDRS" }, { 'U', "1" }, { 'R', "b@example.org" },
	{ 'D', "SUCCESS,FAILURE|rfc822;b@example.org|" },
	{ 'R', "j\xc3\xb6rg@example.org" }, { 'D', "NEVER||" },
	{ 'R', "c@example.org" },
	{ 'M', "hello\n" }, { 'Z', "6" }, { 0, NULL }
};

static int variant_of(const struct rec *, int, int, const char *, int,
    struct buf *);

/* good[] with record i replaced by (type, v); type -1 drops it; with
 * insert set the new record goes before record i instead. */
static int
variant(int i, int type, const char *v, int insert, struct buf *err)
{
	return variant_of(good, i, type, v, insert, err);
}

static int
dvariant(int i, int type, const char *v, int insert, struct buf *err)
{
	return variant_of(good_dsn, i, type, v, insert, err);
}

static int
variant_of(const struct rec *base, int i, int type, const char *v,
    int insert, struct buf *err)
{
	struct rec	 r[24];
	struct buf	 b = BUF_INIT;
	struct qenv	 env;
	int		 n = 0, k, res;

	for (k = 0; base[k].v != NULL; k++) {
		if (k == i && insert)
			r[n++] = (struct rec){ type, v };
		if (k == i && !insert) {
			if (type != -1)
				r[n++] = (struct rec){ type, v };
		} else
			r[n++] = base[k];
	}
	if (i == k)
		r[n++] = (struct rec){ type, v };
	r[n] = (struct rec){ 0, NULL };
	build(&b, QFILE_MAGIC, r);
	res = read_bytes(b.data, b.len, &env, err);
	if (res == QFILE_OK)
		qenv_free(&env);
	buf_free(&b);
	return res;
}

#define CORRUPT(call, why) do {						\
	buf_reset(&err);						\
	CHECK((call) == QFILE_CORRUPT);					\
	CHECK(strstr(buf_str(&err), (why)) != NULL);			\
} while (0)

static void
test_corrupt(void)
{
	struct buf	 b = BUF_INIT, err = BUF_INIT;
	struct qenv	 env;
	char		 hdr[FRAME_HDR];

	CHECK(variant(99, -1, "", 0, &err) == QFILE_OK);	/* baseline */
	build(&b, "POSTERN2\n", good);
	CORRUPT(read_bytes(b.data, b.len, &env, &err), "bad magic");
	CORRUPT(read_bytes("POST", 4, &env, &err), "bad magic");
	CORRUPT(read_bytes("", 0, &env, &err), "bad magic");

	CORRUPT(variant(9, -1, "", 0, &err), "missing Z");	/* no Z */
	CORRUPT(variant(10, 'X', "1", 0, &err), "bytes after Z");
	CORRUPT(variant(10, 'Z', "6", 0, &err), "bytes after Z");
	CORRUPT(variant(10, 0, "\n", 0, &err), "bytes after Z");
	CORRUPT(variant(9, 'Z', "7", 0, &err), "Z length");
	CORRUPT(variant(9, 'Z', "6x", 0, &err), "Z length");
	CORRUPT(variant(9, 'Z', "", 0, &err), "Z length");
	CORRUPT(variant(9, 'Q', "6", 0, &err), "missing Z");

	CORRUPT(variant(1, 'T', "1700000000", 1, &err), "repeated");
	CORRUPT(variant(5, 'P', "SMTP", 1, &err), "repeated");
	CORRUPT(variant(8, 'S', "x@example.org", 1, &err), "repeated");
	CORRUPT(variant(3, 'X', "hi", 1, &err), "unknown record");
	CORRUPT(variant(3, 'Z', "6", 1, &err), "out of order");
	CORRUPT(variant(0, 'I', "06553F1000A1B2C3D4E5F0A1B", 1, &err),
	    "out of order");
	CORRUPT(variant(2, -1, "", 0, &err), "out of order");	/* no C */

	CORRUPT(variant(5, 'S', "not an address", 0, &err),
	    "bad sender");
	CORRUPT(variant(5, 'S', "postmaster", 0, &err), "bad sender");
	CORRUPT(variant(7, 'R', "b@example.org>", 0, &err),
	    "bad recipient");
	CORRUPT(variant(7, 'R', "", 0, &err), "bad recipient");
	CORRUPT(variant(8, 'R', "c@exa\nmple.org", 1, &err),
	    "bad recipient");
	CORRUPT(variant(0, 'T', "17000x", 0, &err), "arrival time");
	CORRUPT(variant(0, 'T', "-5", 0, &err), "arrival time");
	CORRUPT(variant(0, 'T', "", 0, &err), "arrival time");
	CORRUPT(variant(1, 'I', "../../etc/passwd", 0, &err), "queue ID");
	CORRUPT(variant(2, 'C', "not-an-ip", 0, &err), "client");
	CORRUPT(variant(3, 'H', "two words", 0, &err), "HELO");
	CORRUPT(variant(4, 'P', "smtp", 0, &err), "protocol");
	CORRUPT(variant(6, 'B', "BINARYMIME", 0, &err), "body");
	CORRUPT(variant(7, -1, "", 0, &err), "no recipients");

	/* a NUL inside a value */
	buf_reset(&b);
	buf_adds(&b, QFILE_MAGIC);
	frame_put(&b, 'T', "17\0", 3);
	CORRUPT(read_bytes(b.data, b.len, &env, &err), "NUL");

	/* M longer than the rest of the file */
	build(&b, QFILE_MAGIC, good);
	b.len -= (FRAME_HDR + 1) + 6;		/* drop Z and M's payload */
	buf_add(&b, "hel", 3);			/* M says 6, 3 are there */
	CORRUPT(read_bytes(b.data, b.len, &env, &err), "past EOF");
	/* an M length never patched (torn before qfile_finish's pwrite) */
	build(&b, QFILE_MAGIC, good);
	memset(b.data + b.len - (FRAME_HDR + 1) - 6 - 4, 0, 4);
	CORRUPT(read_bytes(b.data, b.len, &env, &err), "missing Z");
	/* a file cut in the envelope */
	build(&b, QFILE_MAGIC, good);
	CORRUPT(read_bytes(b.data, 40, &env, &err), "");
	CORRUPT(read_bytes(b.data, QFILE_MAGIC_LEN, &env, &err),
	    "envelope ends");
	/* a huge envelope record */
	buf_reset(&b);
	buf_adds(&b, QFILE_MAGIC);
	frame_hdr(hdr, 'T', 1 << 20);
	buf_add(&b, hdr, FRAME_HDR);
	CORRUPT(read_bytes(b.data, b.len, &env, &err), "too long");
	buf_free(&b);
	buf_free(&err);
}

/* DSN (RFC 3461) and SMTPUTF8 (RFC 6531): the optional records. */
static void
test_dsn_round_trip(void)
{
	struct qenv		 env, got;
	struct qfile_writer	 w;
	struct buf		 err = BUF_INIT;
	int			 fd;

	good_env(&env);
	strlcpy(env.envid, "QQ+2B314", sizeof(env.envid));
	strlcpy(env.ret, "FULL", sizeof(env.ret));
	env.smtputf8 = 1;
	CHECK(qenv_set_dsn(&env, "NEVER", "") == 0);	/* postmaster */
	CHECK(qenv_add_rcpt(&env, "j\xc3\xb6rg@example.net") == 0);
	CHECK(qenv_set_dsn(&env, "SUCCESS,DELAY",
	    "utf-8;j\\x{F6}rg@example.net") == 0);
	CHECK(qenv_add_rcpt(&env, "c@example.net") == 0);
	CHECK(qenv_set_dsn(&env, "delay", "") == -1);	/* not canonical */
	CHECK(qenv_set_dsn(&env, "", "rfc822;a b") == -1);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(qfile_begin(&w, fd, &env) == 0 && qfile_finish(&w) == 0);
	qfile_writer_free(&w);
	CHECK(qfile_read(fd, &got, &err) == QFILE_OK);
	CHECK_STR(got.envid, "QQ+2B314");
	CHECK_STR(got.ret, "FULL");
	CHECK(got.smtputf8 == 1);
	CHECK(got.nrcpt == 4);
	CHECK_STR(got.rcpt[0], "bob@example.net");
	CHECK_STR(got.dsn[0].notify, "");
	CHECK_STR(got.dsn[0].orcpt, "");
	CHECK_STR(got.dsn[1].notify, "NEVER");
	CHECK_STR(got.dsn[2].notify, "SUCCESS,DELAY");
	CHECK_STR(got.dsn[2].orcpt, "utf-8;j\\x{F6}rg@example.net");
	CHECK_STR(got.dsn[3].notify, "");
	qenv_free(&got);
	close(fd);

	/* the writer refuses what the reader would */
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	strlcpy(env.envid, "a b", sizeof(env.envid));
	CHECK(qfile_begin(&w, fd, &env) == -1 && errno == EINVAL);
	qfile_writer_free(&w);
	strlcpy(env.envid, "", sizeof(env.envid));
	strlcpy(env.ret, "hdrs", sizeof(env.ret));
	CHECK(qfile_begin(&w, fd, &env) == -1 && errno == EINVAL);
	qfile_writer_free(&w);
	strlcpy(env.ret, "", sizeof(env.ret));
	strlcpy(env.dsn[3].notify, "NEVER\nR", sizeof(env.dsn[3].notify));
	CHECK(qfile_begin(&w, fd, &env) == -1 && errno == EINVAL);
	qfile_writer_free(&w);
	strlcpy(env.dsn[3].notify, "", sizeof(env.dsn[3].notify));
	strlcpy(env.dsn[3].orcpt, "rfc822;a+0Ab", sizeof(env.dsn[3].orcpt));
	CHECK(qfile_begin(&w, fd, &env) == -1 && errno == EINVAL);
	qfile_writer_free(&w);
	strlcpy(env.dsn[3].orcpt, "", sizeof(env.dsn[3].orcpt));
	env.smtputf8 = 2;
	CHECK(qfile_begin(&w, fd, &env) == -1 && errno == EINVAL);
	qfile_writer_free(&w);
	env.smtputf8 = 0;
	CHECK(qfile_begin(&w, fd, &env) == 0);
	qfile_writer_free(&w);
	close(fd);
	qenv_free(&env);
	buf_free(&err);
}

static void
test_dsn_corrupt(void)
{
	struct buf	 err = BUF_INIT;

	CHECK(dvariant(99, -1, "", 0, &err) == QFILE_OK);	/* baseline */
	/* each optional record may be missing */
	CHECK(dvariant(7, -1, "", 0, &err) == QFILE_OK);
	CHECK(dvariant(8, -1, "", 0, &err) == QFILE_OK);
	CHECK(dvariant(9, -1, "", 0, &err) == QFILE_OK);
	CHECK(dvariant(11, -1, "", 0, &err) == QFILE_OK);
	/* but never twice, out of order, or after the first R */
	CORRUPT(dvariant(8, 'E', "x", 1, &err), "repeated");
	CORRUPT(dvariant(10, 'U', "1", 1, &err), "repeated");
	CORRUPT(dvariant(7, 'F', "FULL", 1, &err), "out of order");
	CORRUPT(dvariant(7, 'U', "1", 1, &err), "out of order");
	CORRUPT(dvariant(12, 'F', "FULL", 1, &err), "repeated");
	CORRUPT(variant(8, 'E', "x", 1, &err), "out of order");	/* after R */
	CORRUPT(variant(8, 'U', "1", 1, &err), "out of order");	/* after R */
	/* a D only right after its R, and once */
	CORRUPT(dvariant(10, 'D', "NEVER||", 1, &err), "out of order");
	CORRUPT(dvariant(12, 'D', "NEVER||", 1, &err), "repeated");
	CORRUPT(dvariant(14, 'D', "NEVER||", 1, &err), "repeated");
	CHECK(dvariant(15, 'D', "NEVER||", 1, &err) == QFILE_OK);
	CORRUPT(dvariant(16, 'D', "NEVER||", 1, &err), "missing Z");
	/* bad values */
	CORRUPT(dvariant(7, 'E', "a b", 0, &err), "ENVID");
	CORRUPT(dvariant(7, 'E', "a+0A", 0, &err), "ENVID");
	CORRUPT(dvariant(7, 'E', "", 0, &err), "ENVID");
	CORRUPT(dvariant(8, 'F', "hdrs", 0, &err), "RET");
	CORRUPT(dvariant(8, 'F', "", 0, &err), "RET");
	CORRUPT(dvariant(9, 'U', "0", 0, &err), "SMTPUTF8");
	CORRUPT(dvariant(9, 'U', "", 0, &err), "SMTPUTF8");
	CORRUPT(dvariant(11, 'D', "NEVER|", 0, &err), "DSN");	/* 1 field */
	CORRUPT(dvariant(11, 'D', "NEVER|||", 0, &err), "DSN");	/* 3 */
	CORRUPT(dvariant(11, 'D', "NEVER|x", 0, &err), "DSN");	/* trailing */
	CORRUPT(dvariant(11, 'D', "||", 0, &err), "DSN");	/* empty */
	CORRUPT(dvariant(11, 'D', "SOMETIMES||", 0, &err), "DSN");
	CORRUPT(dvariant(11, 'D', "|rfc822;a+0D+0Ab|", 0, &err), "DSN");
	CORRUPT(dvariant(11, 'D', "|x400;b|", 0, &err), "DSN");
	CORRUPT(dvariant(11, 'D', "", 0, &err), "DSN");
	buf_free(&err);
}

/* 'N' (qmgr's own reports): written, read back, and refused with a
 * sender, twice, or with another value. */
static void
test_notice(void)
{
	struct qenv		 env, got;
	struct qfile_writer	 w;
	struct buf		 err = BUF_INIT;
	int			 fd;

	good_env(&env);
	env.notice = QFILE_NOTICE_BOUNCE;
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd != -1 && qfile_begin(&w, fd, &env) == -1);	/* a sender */
	close(fd);
	env.sender[0] = '\0';
	env.notice = QFILE_NOTICE_DOUBLE;
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd != -1 && qfile_begin(&w, fd, &env) == 0);
	CHECK(qfile_body(&w, "x\n", 2) == 0 && qfile_finish(&w) == 0);
	qfile_writer_free(&w);
	qenv_init(&got);
	CHECK(qfile_read(fd, &got, &err) == QFILE_OK);
	CHECK(got.notice == QFILE_NOTICE_DOUBLE && got.sender[0] == '\0');
	close(fd);
	qenv_free(&got);
	env.notice = 3;
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd != -1 && qfile_begin(&w, fd, &env) == -1);
	close(fd);
	qenv_free(&env);
	buf_free(&err);
}

/* Write env with a one-line body and read it back: 1 when every
 * recipient comes back exactly. */
static int
round_trip_rcpts(const struct qenv *env, int fd)
{
	struct qenv		 got;
	struct qfile_writer	 w;
	struct buf		 err = BUF_INIT;
	size_t			 i;
	int			 ok;

	if (ftruncate(fd, 0) == -1 || lseek(fd, 0, SEEK_SET) == -1 ||
	    qfile_begin(&w, fd, env) == -1)
		return 0;
	ok = qfile_body(&w, "body\n", 5) == 0 && qfile_finish(&w) == 0;
	qfile_writer_free(&w);
	qenv_init(&got);
	ok = ok && qfile_read(fd, &got, &err) == QFILE_OK &&
	    got.nrcpt == env->nrcpt && got.msg_len == 5;
	for (i = 0; ok && i < env->nrcpt; i++)
		ok = strcmp(got.rcpt[i], env->rcpt[i]) == 0;
	qenv_free(&got);
	buf_free(&err);
	return ok;
}

/*
 * The reader reads ahead one window (4096 bytes) at a time. An envelope of
 * many recipients reads back exactly however its records fall on the
 * window's edges: the first recipient's length is stepped through 120
 * values, so that the record straddling the first edge starts at every
 * offset before it, header and value (ASan sees any read past the window).
 * The same file cut short anywhere in its envelope is QFILE_CORRUPT, never
 * a record made of stale window bytes.
 */
static void
test_read_window(void)
{
	struct qenv	 env, got;
	struct buf	 err = BUF_INIT, file = BUF_INIT;
	char		 rcpt[300], x[64];
	size_t		 i, shift, cut, bad = 0;
	ssize_t		 k;
	int		 fd;

	memset(x, 'x', sizeof(x));
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd != -1);
	for (shift = 0; shift < 120; shift++) {
		good_env(&env);
		/* local parts up to 64 bytes, labels up to 63 */
		snprintf(rcpt, sizeof(rcpt), "v%.*s@d%.*s.example.org",
		    (int)(shift < 60 ? shift : 60), x,
		    (int)(shift < 60 ? 0 : shift - 60), x);
		if (qenv_add_rcpt(&env, rcpt) != 0)
			bad++;
		for (i = 0; i < 120; i++) {
			snprintf(rcpt, sizeof(rcpt), "r%zu%.*s@d%.*s.example.org",
			    i, (int)(i * 7 % 55), x, (int)(i * 13 % 60), x);
			if (qenv_add_rcpt(&env, rcpt) != 0)
				bad++;
		}
		if (!round_trip_rcpts(&env, fd))
			bad++;
		qenv_free(&env);
	}
	CHECK(bad == 0);

	/* The last file cut short at every offset near the windows' edges
	 * and at a stride elsewhere. */
	CHECK(buf_reserve(&file, 65536) == 0);
	k = pread(fd, file.data, 65536, 0);
	CHECK(k > 2 * 4096);	/* the envelope spans windows */
	file.len = k > 0 ? (size_t)k : 0;
	close(fd);
	for (cut = 8; cut + 20 < file.len; cut += cut % 4096 < 3900 ? 97 : 1)
		if (read_bytes(file.data, cut, &got, &err) != QFILE_CORRUPT)
			bad++;
	CHECK(bad == 0);
	buf_free(&err);
	buf_free(&file);
}

int
main(void)
{
	int	 fd = mkstemp(path);

	if (fd == -1)
		return 2;
	close(fd);
	test_round_trip();
	test_writer_refuses();
	test_corrupt();
	test_dsn_round_trip();
	test_dsn_corrupt();
	test_notice();
	test_read_window();
	unlink(path);
	return harness_done();
}
