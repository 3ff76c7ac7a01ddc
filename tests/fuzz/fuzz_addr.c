/*
 * fuzz_addr.c: libFuzzer harness for common/addr.c.
 *
 * Input: one flags byte (its low three bits are ADDR_NULL_OK, ADDR_UTF8,
 * ADDR_POSTMASTER, so every combination is reached), then the text. The
 * text is parsed as a Path (addr_parse_path, with the length given: bytes
 * after it are never looked at), as a Mailbox (addr_parse_mailbox, up to
 * the first NUL, as a C string from a table would be) and as an EHLO domain.
 *
 * Properties, for every address that parses:
 *  - the parsed fields are bounded and NUL-terminated, hold no control
 *    character, no NUL, CR, LF or DEL, and no byte >= 0x80 without
 *    ADDR_UTF8; the domain has no upper-case ASCII;
 *  - *end lies inside the input, right after a '>';
 *  - addr_format() fits ADDR_TEXT_MAX, and what it writes parses back
 *    (as a Mailbox, and inside "<>" as a Path) to the same local part,
 *    domain and literal flag: that is how addresses travel between smtpd,
 *    enqueue, the queue file and qmgr, so a difference would be an address
 *    that changes on the way.
 */
#include <string.h>

#include "addr.h"
#include "fuzz.h"

static void
check_fields(const struct addr *a, int flags)
{
	const unsigned char *p;
	size_t	 nl, nd;

	nl = strnlen(a->local, sizeof(a->local));
	nd = strnlen(a->domain, sizeof(a->domain));
	FUZZ_CHECK(nl <= ADDR_LOCAL_MAX && nd <= ADDR_DOMAIN_MAX);
	if (a->null) {
		FUZZ_CHECK(flags & ADDR_NULL_OK);
		FUZZ_CHECK(nl == 0 && nd == 0);
		return;
	}
	FUZZ_CHECK(nl > 0);
	/* Only <postmaster> may lack a domain. */
	if (nd == 0) {
		FUZZ_CHECK(flags & ADDR_POSTMASTER);
		FUZZ_CHECK(strcmp(a->local, "postmaster") == 0);
	}
	for (p = (const unsigned char *)a->local; *p != '\0'; p++) {
		FUZZ_CHECK(*p >= 0x20 && *p != 0x7f);
		FUZZ_CHECK(*p < 0x80 || (flags & ADDR_UTF8));
	}
	for (p = (const unsigned char *)a->domain; *p != '\0'; p++) {
		FUZZ_CHECK(*p > 0x20 && *p != 0x7f);
		FUZZ_CHECK(*p < 0x80 || (flags & ADDR_UTF8));
		/* Address literals keep their "IPv6:" tag's case. */
		FUZZ_CHECK(a->literal || !(*p >= 'A' && *p <= 'Z'));
	}
	FUZZ_CHECK(!a->literal || (a->domain[0] == '[' &&
	    a->domain[nd - 1] == ']'));
}

static int
same(const struct addr *a, const struct addr *b)
{
	return a->null == b->null && a->literal == b->literal &&
	    strcmp(a->local, b->local) == 0 &&
	    strcmp(a->domain, b->domain) == 0;
}

/* What addr_format() writes parses back to the same address. */
static void
round_trip(const struct addr *a, int flags)
{
	char		 out[ADDR_TEXT_MAX], path[ADDR_TEXT_MAX + 2];
	struct addr	 b;
	const char	*why = NULL, *end = NULL;
	size_t		 n;

	FUZZ_CHECK(addr_format(a, out, sizeof(out)) == 0);
	n = strlen(out);
	FUZZ_CHECK(n < ADDR_TEXT_MAX);
	FUZZ_CHECK(memchr(out, '\r', n) == NULL &&
	    memchr(out, '\n', n) == NULL);
	/* A too-small buffer is refused, never overrun (ASan watches). */
	{
		char	 small[8];

		if (n >= sizeof(small))
			FUZZ_CHECK(addr_format(a, small, sizeof(small)) == -1);
	}
	if (addr_parse_mailbox(out, flags, &b, &why) != 0) {
		fprintf(stderr, "formatted [%s] does not parse: %s\n", out,
		    why);
		FUZZ_CHECK(!"formatted address re-parses");
	}
	FUZZ_CHECK(same(a, &b));
	if (a->null)
		return;
	path[0] = '<';
	memcpy(path + 1, out, n);
	path[n + 1] = '>';
	if (addr_parse_path(path, n + 2, flags, &b, &end, &why) != 0) {
		fprintf(stderr, "<%s> does not parse as a path: %s\n", out,
		    why);
		FUZZ_CHECK(!"formatted path re-parses");
	}
	FUZZ_CHECK(end == path + n + 2);
	FUZZ_CHECK(same(a, &b));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct addr	 a;
	const char	*s, *end, *why;
	char		 str[1024];
	int		 flags;
	size_t		 len;

	if (size < 1)
		return 0;
	flags = data[0] & (ADDR_NULL_OK | ADDR_UTF8 | ADDR_POSTMASTER);
	s = (const char *)data + 1;
	len = size - 1;

	/* A path, length-bounded: the parser must not read past len. */
	end = why = NULL;
	if (addr_parse_path(s, len, flags, &a, &end, &why) == 0) {
		FUZZ_CHECK(end > s && end <= s + len && end[-1] == '>');
		/* RFC 5321 4.5.3.1.3, source route included. */
		FUZZ_CHECK((size_t)(end - s) <= ADDR_PATH_MAX);
		check_fields(&a, flags);
		round_trip(&a, flags);
	} else
		FUZZ_CHECK(why != NULL && *why != '\0');

	/* The same bytes as a C string: a Mailbox, and an EHLO name. */
	if (len >= sizeof(str))
		return 0;
	memcpy(str, s, len);
	str[len] = '\0';
	why = NULL;
	if (addr_parse_mailbox(str, flags, &a, &why) == 0) {
		check_fields(&a, flags);
		round_trip(&a, flags);
	} else
		FUZZ_CHECK(why != NULL && *why != '\0');
	if (addr_domain_valid(str, 1, flags & ADDR_UTF8) &&
	    strlen(str) + 4 <= ADDR_PATH_MAX) {
		/* An EHLO name that is valid is the domain of an address
		 * (when "<u@...>" stays within the path limit). */
		char	 mb[1024 + 3];

		memcpy(mb, "u@", 2);
		memcpy(mb + 2, str, strlen(str) + 1);
		FUZZ_CHECK(addr_parse_mailbox(mb, flags, &a, &why) == 0);
		check_fields(&a, flags);
	}
	return 0;
}
