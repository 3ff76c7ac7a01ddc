/*
 * qfile.c: the queue file (see qfile.h and docs/protocols.md, "The queue
 * file").
 *
 * enqueue writes it with qfile_begin/qfile_body/qfile_finish; qmgr, lspawn's
 * children and "postern queue" read it with qfile_read(). Every envelope
 * value is checked on write (a bad value is -1 EINVAL: a bug upstream) and
 * again on read, so a file that was torn, truncated or tampered with is
 * QFILE_CORRUPT (the caller moves it to corrupt/) and never half-trusted.
 * Writer errors are -1 with errno; reader I/O errors are QFILE_IOERR.
 */
#include <sys/stat.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "frame.h"
#include "log.h"
#include "qfile.h"

#define QFILE_CHUNK	(64 * 1024)	/* fewer, larger write(2)s */
#define QFILE_ENV_MAX	4096		/* an envelope record's payload */
/* The envelope's records before the first R: the first QFILE_REQUIRED
 * of them always, the rest (RFC 3461 ENVID and RET, RFC 6531 SMTPUTF8)
 * when the client gave them, and N on qmgr's own reports. Then R, each
 * with at most one D, then M Z. */
#define QFILE_ORDER	"TICHPSBEFUN"
#define QFILE_REQUIRED	7

void
qenv_init(struct qenv *env)
{
	memset(env, 0, sizeof(*env));
	env->rcpt = NULL;
}

void
qenv_free(struct qenv *env)
{
	free(env->rcpt);
	free(env->dsn);
	env->rcpt = NULL;
	env->dsn = NULL;
	env->nrcpt = 0;
}

int
qenv_add_rcpt(struct qenv *env, const char *rcpt)
{
	void	*p;
	size_t	 n = env->nrcpt;

	if (n >= QFILE_RCPT_MAX || strlen(rcpt) >= ADDR_TEXT_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	/* Capacity is the next power of two: grow when n is 0 or one. */
	if (n == 0 || (n & (n - 1)) == 0) {
		p = reallocarray(env->rcpt, n ? n * 2 : 1,
		    sizeof(*env->rcpt));
		if (p == NULL)
			fatal("out of memory");
		env->rcpt = p;
		p = reallocarray(env->dsn, n ? n * 2 : 1, sizeof(*env->dsn));
		if (p == NULL)
			fatal("out of memory");
		env->dsn = p;
	}
	strlcpy(env->rcpt[n], rcpt, sizeof(env->rcpt[n]));
	memset(&env->dsn[n], 0, sizeof(env->dsn[n]));
	env->nrcpt++;
	return 0;
}

int
qenv_set_dsn(struct qenv *env, const char *notify, const char *orcpt)
{
	struct qrcpt_dsn *d;

	/* Canonical values only (xtext.h): what a reader will accept. */
	if (env->nrcpt == 0 || env->dsn == NULL ||
	    (*notify != '\0' && !dsn_notify_valid(notify)) ||
	    (*orcpt != '\0' && !dsn_orcpt_valid(orcpt))) {
		errno = EINVAL;
		return -1;
	}
	d = &env->dsn[env->nrcpt - 1];
	strlcpy(d->notify, notify, sizeof(d->notify));
	strlcpy(d->orcpt, orcpt, sizeof(d->orcpt));
	return 0;
}

/* Value checks, shared by the writer and the reader. Each returns NULL when
 * the value is good, or why it is not. */

static const char *
check_helo(const char *s)
{
	size_t	 i;

	/* Printable ASCII without blanks: a domain or an address literal,
	 * with the sloppiness (e.g. '_') real clients show in HELO. */
	for (i = 0; s[i] != '\0'; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return "bad HELO name";
	return i >= 1 && i <= ADDR_DOMAIN_MAX ? NULL : "bad HELO name";
}

static const char *
check_client(const char *s)
{
	unsigned char	 a[16];

	if (*s == '\0')
		return NULL;		/* local submission */
	if (strlen(s) < sizeof(((struct qenv *)0)->client) &&
	    (inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1))
		return NULL;
	return "bad client address";
}

static const char *
check_proto(const char *s)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9')))
			return "bad protocol";
	return i >= 1 && i <= 15 ? NULL : "bad protocol";
}

static const char *
check_body(const char *s)
{
	/* RFC 6152: the BODY= values we accept. */
	if (strcmp(s, "7BIT") == 0 || strcmp(s, "8BITMIME") == 0)
		return NULL;
	return "bad body type";
}

static const char *
check_addr(const char *s, int rcpt)
{
	struct addr	 a;
	const char	*why;

	if (!rcpt && *s == '\0')
		return NULL;		/* the null reverse-path */
	if (strlen(s) >= ADDR_TEXT_MAX || strpbrk(s, "\r\n") != NULL)
		return rcpt ? "bad recipient address" :
		    "bad sender address";
	/* RFC 5321 4.5.1: <postmaster> alone is a valid recipient. */
	if (addr_parse_mailbox(s, rcpt ? ADDR_UTF8 | ADDR_POSTMASTER :
	    ADDR_UTF8, &a, &why) == -1)
		return rcpt ? "bad recipient address" : "bad sender address";
	return NULL;
}

static const char *
check_env(const struct qenv *env)
{
	const char	*why;
	size_t		 i;

	if (env->arrival < 0)
		return "bad arrival time";
	if (!spool_id_valid(env->id))
		return "bad queue ID";
	if ((why = check_client(env->client)) != NULL ||
	    (why = check_helo(env->helo)) != NULL ||
	    (why = check_proto(env->proto)) != NULL ||
	    (why = check_addr(env->sender, 0)) != NULL ||
	    (why = check_body(env->body)) != NULL)
		return why;
	if (env->envid[0] != '\0' && !dsn_envid_stored_valid(env->envid))
		return "bad ENVID";
	if (env->ret[0] != '\0' && !dsn_ret_valid(env->ret))
		return "bad RET";
	if (env->smtputf8 != 0 && env->smtputf8 != 1)
		return "bad SMTPUTF8";
	/* Only a null-sender message can be one of our reports. */
	if (env->notice < QFILE_NOTICE_NONE ||
	    env->notice > QFILE_NOTICE_DOUBLE ||
	    (env->notice != QFILE_NOTICE_NONE && env->sender[0] != '\0'))
		return "bad notice record";
	if (env->nrcpt < 1 || env->nrcpt > QFILE_RCPT_MAX)
		return "bad recipient count";
	for (i = 0; i < env->nrcpt; i++) {
		if ((why = check_addr(env->rcpt[i], 1)) != NULL)
			return why;
		if (env->dsn != NULL &&
		    ((env->dsn[i].notify[0] != '\0' &&
		    !dsn_notify_valid(env->dsn[i].notify)) ||
		    (env->dsn[i].orcpt[0] != '\0' &&
		    !dsn_orcpt_valid(env->dsn[i].orcpt))))
			return "bad DSN record";
	}
	return NULL;
}

/* The writer. */

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t	 r;

	while (n > 0) {
		if ((r = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int
qfile_flush(struct qfile_writer *w)
{
	if (write_all(w->fd, w->out.data, w->out.len) == -1)
		return -1;
	buf_reset(&w->out);
	return 0;
}

static int
put_str(struct buf *out, int type, const char *s)
{
	return frame_put(out, type, s, strlen(s));
}

int
qfile_begin(struct qfile_writer *w, int fd, const struct qenv *env)
{
	char	 num[32];
	size_t	 i;
	int	 r;

	w->fd = fd;
	w->mhdr_off = 0;
	w->msg_len = 0;
	buf_init(&w->out, 0);
	if (check_env(env) != NULL) {
		errno = EINVAL;
		return -1;
	}
	r = snprintf(num, sizeof(num), "%lld", env->arrival);
	if (r < 0 || (size_t)r >= sizeof(num)) {
		errno = EINVAL;
		return -1;
	}
	if (buf_add(&w->out, QFILE_MAGIC, QFILE_MAGIC_LEN) == -1 ||
	    put_str(&w->out, 'T', num) == -1 ||
	    put_str(&w->out, 'I', env->id) == -1 ||
	    put_str(&w->out, 'C', env->client) == -1 ||
	    put_str(&w->out, 'H', env->helo) == -1 ||
	    put_str(&w->out, 'P', env->proto) == -1 ||
	    put_str(&w->out, 'S', env->sender) == -1 ||
	    put_str(&w->out, 'B', env->body) == -1)
		return -1;
	/* The optional records are written only when they say something,
	 * so a file without DSN or SMTPUTF8 is byte for byte what it was. */
	if ((env->envid[0] != '\0' && put_str(&w->out, 'E', env->envid) == -1) ||
	    (env->ret[0] != '\0' && put_str(&w->out, 'F', env->ret) == -1) ||
	    (env->smtputf8 && put_str(&w->out, 'U', "1") == -1) ||
	    (env->notice != QFILE_NOTICE_NONE && put_str(&w->out, 'N',
	    env->notice == QFILE_NOTICE_BOUNCE ? "1" : "2") == -1))
		return -1;
	for (i = 0; i < env->nrcpt; i++) {
		if (put_str(&w->out, 'R', env->rcpt[i]) == -1)
			return -1;
		/* Two NUL-ended fields: neither value can hold a NUL
		 * (check_env), so neither can reach into the other. */
		if (env->dsn != NULL && (env->dsn[i].notify[0] != '\0' ||
		    env->dsn[i].orcpt[0] != '\0') &&
		    frame_put_fields(&w->out, 'D', env->dsn[i].notify,
		    env->dsn[i].orcpt, (const char *)NULL) == -1)
			return -1;
	}
	/* The file starts at offset 0 (a fresh tmp/ file). The 'M' length is
	 * 0 until qfile_finish(): a torn file's M never reaches its Z. */
	w->mhdr_off = (off_t)w->out.len;
	return frame_put(&w->out, 'M', "", 0);
}

int
qfile_body(struct qfile_writer *w, const void *p, size_t n)
{
	/* The length field is 32 bits (frame.h). */
	if ((uint64_t)w->msg_len + n > UINT32_MAX) {
		errno = EFBIG;
		return -1;
	}
	if (buf_add(&w->out, p, n) == -1)
		return -1;
	w->msg_len += (off_t)n;
	if (w->out.len >= QFILE_CHUNK)
		return qfile_flush(w);
	return 0;
}

int
qfile_finish(struct qfile_writer *w)
{
	char	 num[32], hdr[FRAME_HDR];
	int	 r;
	ssize_t	 n;

	r = snprintf(num, sizeof(num), "%lld", (long long)w->msg_len);
	if (r < 0 || (size_t)r >= sizeof(num) ||
	    put_str(&w->out, 'Z', num) == -1 || qfile_flush(w) == -1)
		return -1;
	frame_hdr(hdr, 'M', (uint32_t)w->msg_len);
	do
		n = pwrite(w->fd, hdr + 1, 4, w->mhdr_off + 1);
	while (n == -1 && errno == EINTR);
	if (n != 4) {
		if (n >= 0)
			errno = EIO;
		return -1;
	}
	return 0;
}

void
qfile_writer_free(struct qfile_writer *w)
{
	buf_free(&w->out);
}

/* The reader. */

/*
 * The file as the reader sees it: its size, and one window of it read
 * ahead, so that an envelope of small records costs one pread(), not two
 * per record (qmgr and every delivery read each queue file; bench/
 * README.md, optimisation 11).
 */
struct qreader {
	int		 fd;
	off_t		 size;
	off_t		 base;		/* file offset of win[0] */
	size_t		 len;		/* bytes valid in win */
	unsigned char	 win[4096];
};

/* Exactly n bytes at off (pread: the offset does not move): 0,
 * QFILE_CORRUPT when the file is shorter, QFILE_IOERR. */
static int
pread_full(int fd, void *p, size_t n, off_t off)
{
	ssize_t	 r;
	size_t	 got = 0;

	while (got < n) {
		r = pread(fd, (char *)p + got, n - got, off + (off_t)got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return QFILE_IOERR;
		if (r == 0)
			return QFILE_CORRUPT;
		got += (size_t)r;
	}
	return QFILE_OK;
}

/* n bytes at off, from the window when it holds them; else the window is
 * read again from off, as far as the file and the window go. */
static int
read_at(struct qreader *rd, void *p, size_t n, off_t off)
{
	size_t	 want;
	int	 r;

	if (off >= rd->base && off - rd->base <= (off_t)rd->len &&
	    n <= rd->len - (size_t)(off - rd->base)) {
		memcpy(p, rd->win + (off - rd->base), n);
		return QFILE_OK;
	}
	if (n > sizeof(rd->win) || off >= rd->size)
		return pread_full(rd->fd, p, n, off);
	want = sizeof(rd->win);
	if (rd->size - off < (off_t)want)
		want = (size_t)(rd->size - off);
	if (want < n)
		want = n;	/* past EOF: pread_full says so */
	rd->len = 0;
	if ((r = pread_full(rd->fd, rd->win, want, off)) != QFILE_OK)
		return r;
	rd->base = off;
	rd->len = want;
	memcpy(p, rd->win, n);
	return QFILE_OK;
}

static int
corrupt(struct buf *err, const char *why)
{
	if (err != NULL)
		buf_set(err, why, strlen(why));
	return QFILE_CORRUPT;
}

/* Strict decimal: digits only, no sign, no blanks, no overflow. */
static int
parse_decimal(const char *s, long long *out)
{
	long long v = 0;
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 18)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (i == 0)
		return -1;
	*out = v;
	return 0;
}

/* Check one envelope value and store it. NULL or why it is bad. */
static const char *
env_store(struct qenv *env, int type, const char *v)
{
	const char	*why = NULL;

	switch (type) {
	case 'T':
		if (parse_decimal(v, &env->arrival) == -1)
			return "bad arrival time";
		return NULL;
	case 'I':
		if (!spool_id_valid(v))
			return "bad queue ID";
		strlcpy(env->id, v, sizeof(env->id));
		return NULL;
	case 'C':
		if ((why = check_client(v)) == NULL)
			strlcpy(env->client, v, sizeof(env->client));
		return why;
	case 'H':
		if ((why = check_helo(v)) == NULL)
			strlcpy(env->helo, v, sizeof(env->helo));
		return why;
	case 'P':
		if ((why = check_proto(v)) == NULL)
			strlcpy(env->proto, v, sizeof(env->proto));
		return why;
	case 'S':
		if ((why = check_addr(v, 0)) == NULL)
			strlcpy(env->sender, v, sizeof(env->sender));
		return why;
	case 'B':
		if ((why = check_body(v)) == NULL)
			strlcpy(env->body, v, sizeof(env->body));
		return why;
	case 'E':
		if (!dsn_envid_stored_valid(v))
			return "bad ENVID";
		strlcpy(env->envid, v, sizeof(env->envid));
		return NULL;
	case 'F':
		if (!dsn_ret_valid(v))
			return "bad RET";
		strlcpy(env->ret, v, sizeof(env->ret));
		return NULL;
	case 'U':
		/* Present means yes; any other value than "1" is damage. */
		if (strcmp(v, "1") != 0)
			return "bad SMTPUTF8 record";
		env->smtputf8 = 1;
		return NULL;
	case 'N':
		/* S came before (QFILE_ORDER): a report has the null sender. */
		if (strcmp(v, "1") != 0 && strcmp(v, "2") != 0)
			return "bad notice record";
		if (env->sender[0] != '\0')
			return "notice record with a sender";
		env->notice = v[0] - '0';
		return NULL;
	case 'R':
		if ((why = check_addr(v, 1)) != NULL)
			return why;
		if (qenv_add_rcpt(env, v) == -1)
			return "too many recipients";
		return NULL;
	}
	return "unknown record";
}

/*
 * Whether a record of this type may come here: NULL (and *pos moved on),
 * or why not. *pos indexes QFILE_ORDER: the next envelope record that may
 * come; seen holds those that came; last is the previous record's type.
 * An optional record may be skipped, a required one never; after the
 * first R only R and D may follow, and a D only right after its R.
 */
static const char *
env_order(int type, size_t *pos, char *seen, int last)
{
	const char	*p;
	size_t		 i, j;

	if (type == 'R') {
		if (*pos < QFILE_REQUIRED)
			return "record out of order";
		*pos = sizeof(QFILE_ORDER) - 1;
		return NULL;
	}
	if (type == 'D')
		return last == 'R' ? NULL : last == 'D' ? "repeated record" :
		    "record out of order";
	if (type == 0 || (p = strchr(QFILE_ORDER, type)) == NULL)
		return type == 'Z' ? "record out of order" : "unknown record";
	if (strchr(seen, type) != NULL)
		return "repeated record";
	i = (size_t)(p - QFILE_ORDER);
	if (i < *pos)
		return "record out of order";
	for (j = *pos; j < i; j++)
		if (j < QFILE_REQUIRED)
			return "record out of order";
	seen[strlen(seen)] = (char)type;
	*pos = i + 1;
	return NULL;
}

/* 'D': notify NUL orcpt NUL, exactly (docs/protocols.md). */
static const char *
env_store_dsn(struct qenv *env, const char *v, size_t len)
{
	const char	*nul, *orcpt;

	if (len < 2 || v[len - 1] != '\0' ||
	    (nul = memchr(v, '\0', len)) == v + len - 1)
		return "bad DSN record";
	orcpt = nul + 1;
	if (memchr(orcpt, '\0', len - (size_t)(orcpt - v)) != v + len - 1)
		return "bad DSN record";
	/* The writer leaves out a D that says nothing. */
	if (*v == '\0' && *orcpt == '\0')
		return "bad DSN record";
	if (qenv_set_dsn(env, v, orcpt) == -1)
		return "bad DSN record";
	return NULL;
}

static int
read_envelope(struct qreader *rd, struct qenv *env, off_t *off,
    struct buf *err)
{
	unsigned char	 h[FRAME_HDR];
	char		 v[QFILE_ENV_MAX + 1], seen[sizeof(QFILE_ORDER)] = "";
	const char	*why;
	size_t		 pos = 0, len;
	int		 r, type, last = 0;

	for (;;) {
		if (*off + FRAME_HDR > rd->size)
			return corrupt(err, "envelope ends before M record");
		if ((r = read_at(rd, h, FRAME_HDR, *off)) != QFILE_OK)
			return r;
		type = h[0];
		len = (size_t)h[1] << 24 | (size_t)h[2] << 16 |
		    (size_t)h[3] << 8 | h[4];
		if (type == 'M' && env->nrcpt > 0)
			return QFILE_OK;	/* *off is the M header */
		if (type == 'M')
			return corrupt(err, pos >= QFILE_REQUIRED ?
			    "no recipients" : "record out of order");
		if ((why = env_order(type, &pos, seen, last)) != NULL)
			return corrupt(err, why);
		last = type;
		if (len > QFILE_ENV_MAX)
			return corrupt(err, "envelope record too long");
		if (*off + FRAME_HDR + (off_t)len > rd->size)
			return corrupt(err, "envelope record runs past EOF");
		if ((r = read_at(rd, v, len, *off + FRAME_HDR)) != QFILE_OK)
			return r;
		v[len] = '\0';
		if (type == 'D')
			why = env_store_dsn(env, v, len);
		else if (memchr(v, '\0', len) != NULL)
			why = "NUL in envelope value";
		else
			why = env_store(env, type, v);
		if (why != NULL)
			return corrupt(err, why);
		*off += FRAME_HDR + (off_t)len;
	}
}

/* M header at off; the message and a Z that ends the file must follow. */
static int
read_trailer(struct qreader *rd, struct qenv *env, off_t off,
    struct buf *err)
{
	off_t		 size = rd->size;
	unsigned char	 h[FRAME_HDR];
	char		 v[32];
	long long	 zlen;
	size_t		 len;
	int		 r;

	if ((r = read_at(rd, h, FRAME_HDR, off)) != QFILE_OK)
		return r;
	env->msg_off = off + FRAME_HDR;
	env->msg_len = (off_t)((size_t)h[1] << 24 | (size_t)h[2] << 16 |
	    (size_t)h[3] << 8 | h[4]);
	off = env->msg_off + env->msg_len;
	if (off > size)
		return corrupt(err, "message runs past EOF");
	if (off + FRAME_HDR > size)
		return corrupt(err, "missing Z record");
	if ((r = read_at(rd, h, FRAME_HDR, off)) != QFILE_OK)
		return r;
	if (h[0] != 'Z')
		return corrupt(err, "missing Z record");
	len = (size_t)h[1] << 24 | (size_t)h[2] << 16 | (size_t)h[3] << 8 |
	    h[4];
	if (len >= sizeof(v) || off + FRAME_HDR + (off_t)len > size)
		return corrupt(err, "bad Z record");
	if (off + FRAME_HDR + (off_t)len < size)
		return corrupt(err, "bytes after Z record");
	if ((r = read_at(rd, v, len, off + FRAME_HDR)) != QFILE_OK)
		return r;
	v[len] = '\0';
	if (memchr(v, '\0', len) != NULL || parse_decimal(v, &zlen) == -1 ||
	    zlen != (long long)env->msg_len)
		return corrupt(err, "Z length does not match M");
	return QFILE_OK;
}

int
qfile_read(int fd, struct qenv *env, struct buf *err)
{
	struct qreader	 rd;
	struct stat	 st;
	char		 magic[QFILE_MAGIC_LEN];
	off_t		 off = QFILE_MAGIC_LEN;
	int		 r;

	/* Any previous contents are dropped, not freed: see qfile.h. */
	qenv_init(env);
	if (err != NULL)
		buf_reset(err);
	if (fstat(fd, &st) == -1)
		return QFILE_IOERR;
	rd.fd = fd;
	rd.size = st.st_size;
	rd.base = 0;
	rd.len = 0;
	r = read_at(&rd, magic, QFILE_MAGIC_LEN, 0);
	if (r == QFILE_OK && memcmp(magic, QFILE_MAGIC, QFILE_MAGIC_LEN) != 0)
		r = QFILE_CORRUPT;
	if (r == QFILE_CORRUPT)
		r = corrupt(err, "bad magic");
	if (r == QFILE_OK)
		r = read_envelope(&rd, env, &off, err);
	if (r == QFILE_OK)
		r = read_trailer(&rd, env, off, err);
	if (r == QFILE_CORRUPT && err != NULL && err->len == 0)
		corrupt(err, "file shorter than its records");
	if (r != QFILE_OK)
		qenv_free(env);
	return r;
}
