/*
 * fuzz_command.c: libFuzzer harness for smtpd/command.c, the parsing of
 * every line a client sends outside DATA.
 *
 * Input: one options byte, then a client's side of a session: lines ending
 * in '\n' (a last line without one is fed too, as the tolerated lone LF
 * would not be there). Bit 0 of the options byte says whether EHLO was
 * used (parameters allowed), bits 1-2 choose message_size_limit. A line
 * longer than the default smtpd_command_line_limit (512) is skipped: smtpd's
 * reader never hands one to command.c (it answers VERB_LONG itself).
 *
 * Each line goes through cmd_line_check() and, when clean, cmd_parse();
 * then its arguments, whatever the verb, through cmd_mail_args(),
 * cmd_rcpt_args() and cmd_helo_valid(), so every input exercises all of
 * them. Properties:
 *  - cmd_line_check() cuts only the CRLF/LF ending, and answers VERB_NUL
 *    exactly when a NUL is left, VERB_BADCR exactly when a CR is;
 *  - cmd_parse(): the verb's name is a command's name (case aside), the
 *    arguments lie inside the line with no trailing blank;
 *  - MAIL/RCPT: on success the formatted address parses back to the same
 *    address (it goes to enqueue and into the queue file; re-read with
 *    ADDR_UTF8, which SMTPUTF8 may allow), holds no CR, LF
 *    or NUL, SIZE is not negative and not over the limit; on failure the
 *    reply is a well-formed permanent SMTP reply (5yz SP printable ASCII,
 *    within the reply length limit), which smtpd sends as it is;
 *  - cmd_helo_valid() accepts every valid domain or address literal.
 */
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "buf.h"
#include "fuzz.h"
#include "../../smtpd/smtpd.h"

#define LINE_LIMIT	512	/* smtpd_command_line_limit's default */

static const long long size_limits[4] = { 0, 1, 10240000, 1LL << 40 };

static void
check_reply(const char *reply, size_t replysz)
{
	size_t	 n = strnlen(reply, replysz), i;

	FUZZ_CHECK(n < replysz && n <= SMTPD_REPLY_MAX);
	FUZZ_CHECK(n >= 4 && reply[0] == '5' && reply[1] >= '0' &&
	    reply[1] <= '5' && reply[2] >= '0' && reply[2] <= '9' &&
	    reply[3] == ' ');
	for (i = 0; i < n; i++)
		FUZZ_CHECK(reply[i] >= 0x20 && reply[i] < 0x7f);
}

/* A parsed path's formatted text is the address it came from. */
static void
check_path(const struct smtpd_path *p, int flags)
{
	struct addr	 b;
	const char	*why;
	size_t		 n = strnlen(p->text, sizeof(p->text));

	FUZZ_CHECK(n < sizeof(p->text));
	FUZZ_CHECK(strpbrk(p->text, "\r\n") == NULL);
	FUZZ_CHECK(addr_parse_mailbox(p->text, flags, &b, &why) == 0);
	FUZZ_CHECK(b.null == p->addr.null && b.literal == p->addr.literal &&
	    strcmp(b.local, p->addr.local) == 0 &&
	    strcmp(b.domain, p->addr.domain) == 0);
}

static void
one_line(const char *p, size_t n, int esmtp, long long size_limit)
{
	struct buf	 line = BUF_INIT;
	struct smtpd_cmd cmd;
	struct smtpd_path path;
	enum smtpd_verb	 v;
	char		 reply[SMTPD_REPLY_MAX + 1];
	size_t		 want, i;

	buf_init(&line, LINE_LIMIT + 1);
	FUZZ_CHECK(buf_set(&line, p, n) == 0);
	v = cmd_line_check(&line);

	/* Only the line ending is cut. */
	want = n;
	if (want > 0 && p[want - 1] == '\n')
		want--;
	if (want > 0 && p[want - 1] == '\r')
		want--;
	FUZZ_CHECK(line.len == want && memcmp(line.data, p, want) == 0);
	FUZZ_CHECK(line.data[line.len] == '\0');
	if (memchr(p, '\0', want) != NULL)
		FUZZ_CHECK(v == VERB_NUL);
	else if (memchr(p, '\r', want) != NULL)
		FUZZ_CHECK(v == VERB_BADCR);
	else
		FUZZ_CHECK(v == VERB_UNKNOWN);
	if (v != VERB_UNKNOWN) {
		buf_free(&line);
		return;
	}

	cmd_parse(line.data, &cmd);
	FUZZ_CHECK(cmd.name != NULL && cmd.args != NULL);
	if (cmd.verb == VERB_EMPTY || cmd.verb == VERB_UNKNOWN)
		FUZZ_CHECK(cmd.name[0] == '\0');
	else {
		FUZZ_CHECK(cmd.verb > VERB_UNKNOWN);
		FUZZ_CHECK(strcasecmp(line.data, cmd.name) == 0);
	}
	if (cmd.args[0] != '\0') {
		size_t an = strlen(cmd.args);

		FUZZ_CHECK(cmd.args > line.data &&
		    cmd.args + an <= line.data + line.len);
		FUZZ_CHECK(cmd.args[an - 1] != ' ' &&
		    cmd.args[an - 1] != '\t');
	}

	/* Every argument parser on these arguments, whatever the verb. */
	memset(reply, 'x', sizeof(reply));
	if (cmd_mail_args(cmd.args, esmtp, size_limit, &path, reply,
	    sizeof(reply)) == 0) {
		check_path(&path, ADDR_NULL_OK | ADDR_UTF8);
		FUZZ_CHECK(path.size >= 0);
		FUZZ_CHECK(size_limit == 0 || path.size <= size_limit);
		FUZZ_CHECK(esmtp || (path.size == 0 && path.body8 == 0));
	} else
		check_reply(reply, sizeof(reply));
	memset(reply, 'x', sizeof(reply));
	if (cmd_rcpt_args(cmd.args, &path, reply, sizeof(reply)) == 0) {
		check_path(&path, ADDR_POSTMASTER | ADDR_UTF8);
		FUZZ_CHECK(!path.addr.null);
	} else
		check_reply(reply, sizeof(reply));
	if (addr_domain_valid(cmd.args, 1, 0))
		FUZZ_CHECK(cmd_helo_valid(cmd.args) == 1);
	if (cmd_helo_valid(cmd.args)) {
		/* What we put in Received: and the queue file's H. */
		FUZZ_CHECK(strlen(cmd.args) <= ADDR_DOMAIN_MAX);
		for (i = 0; cmd.args[i] != '\0'; i++)
			FUZZ_CHECK(cmd.args[i] > ' ' && cmd.args[i] < 0x7f);
	}
	buf_free(&line);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*p, *end, *nl;
	int		 esmtp;
	long long	 size_limit;
	size_t		 n;

	if (size < 1)
		return 0;
	esmtp = data[0] & 1;
	size_limit = size_limits[(data[0] >> 1) & 3];
	p = (const char *)data + 1;
	end = (const char *)data + size;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		if (n <= LINE_LIMIT)
			one_line(p, n, esmtp, size_limit);
		p += n;
	}
	return 0;
}
