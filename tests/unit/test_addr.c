/*
 * test_addr.c: addr.c against RFC 5321 4.1.2, valid and invalid paths, each
 * with the exact result: local part, domain, flags and the formatted form,
 * or the exact reason for a refusal. The OpenSMTPD CVE-2020-7247 family is
 * here: what must be refused is refused, and what RFC 5321 allows (a quoted
 * ";sleep 66;", a backquote in atext) parses and round-trips exactly, so
 * that safety never rests on the parser refusing valid addresses.
 */
#include <string.h>
#include <bsd/string.h>

#include "addr.h"
#include "harness.h"

/* A path that must parse: fields, formatted form, end right after '>'
 * (or at rest, when the input has parameters after the path). */
static void
ok_full(const char *in, int flags, const char *local, const char *domain,
    int quoted, int literal, const char *formatted, const char *rest)
{
	struct addr	 a;
	const char	*end = NULL, *why = NULL;
	char		 out[ADDR_TEXT_MAX];
	int		 rc;

	rc = addr_parse_path(in, strlen(in), flags, &a, &end, &why);
	if (rc != 0)
		fprintf(stderr, "parse of %s failed: %s\n", in, why);
	CHECK(rc == 0);
	if (rc != 0)
		return;
	CHECK_STR(a.local, local);
	CHECK_STR(a.domain, domain);
	CHECK(a.quoted == quoted);
	CHECK(a.literal == literal);
	CHECK(a.null == 0);
	CHECK(addr_format(&a, out, sizeof(out)) == 0);
	CHECK_STR(out, formatted);
	CHECK_STR(end, rest);
	/* What addr_format() wrote parses back to the same address: that is
	 * how addresses travel over the pipes and in the queue file. */
	{
		struct addr	 b;

		CHECK(addr_parse_mailbox(out, flags, &b, &why) == 0);
		CHECK_STR(b.local, a.local);
		CHECK_STR(b.domain, a.domain);
		CHECK(b.literal == a.literal);
	}
}

static void
ok(const char *in, int flags, const char *local, const char *domain,
    int quoted, int literal, const char *formatted)
{
	ok_full(in, flags, local, domain, quoted, literal, formatted, "");
}

static void
bad_n(const char *in, size_t len, int flags, const char *why_want)
{
	struct addr	 a;
	const char	*end = NULL, *why = NULL;
	int		 rc;

	rc = addr_parse_path(in, len, flags, &a, &end, &why);
	if (rc != -1)
		fprintf(stderr, "parse of %.*s should have failed\n",
		    (int)len, in);
	CHECK(rc == -1);
	if (rc == -1)
		CHECK_STR(why, why_want);
}

static void
bad(const char *in, int flags, const char *why_want)
{
	bad_n(in, strlen(in), flags, why_want);
}

static void
test_valid(void)
{
	ok("<user@example.org>", 0, "user", "example.org", 0, 0,
	    "user@example.org");
	ok("<first.last@example.org>", 0, "first.last", "example.org", 0, 0,
	    "first.last@example.org");
	ok("<user+tag@example.org>", 0, "user+tag", "example.org", 0, 0,
	    "user+tag@example.org");
	ok("<User@EXAMPLE.Org>", 0, "User", "example.org", 0, 0,
	    "User@example.org");
	ok("<u@localhost>", 0, "u", "localhost", 0, 0, "u@localhost");
	ok("<u@a-b.example>", 0, "u", "a-b.example", 0, 0, "u@a-b.example");
	ok("<u@1.2.3.4>", 0, "u", "1.2.3.4", 0, 0, "u@1.2.3.4");
	ok("<u@xn--bcher-kva.example>", 0, "u", "xn--bcher-kva.example", 0, 0,
	    "u@xn--bcher-kva.example");
	ok("<!#$%&'*+-/=?^_`{|}~@x.org>", 0, "!#$%&'*+-/=?^_`{|}~", "x.org",
	    0, 0, "!#$%&'*+-/=?^_`{|}~@x.org");

	/* Quoted strings: kept unquoted, re-quoted on output. */
	ok("<\"john doe\"@example.org>", 0, "john doe", "example.org", 1, 0,
	    "\"john doe\"@example.org");
	ok("<\"a@b%c\"@example.org>", 0, "a@b%c", "example.org", 1, 0,
	    "\"a@b%c\"@example.org");
	ok("<\"say \\\"hi\\\"\"@example.org>", 0, "say \"hi\"",
	    "example.org", 1, 0, "\"say \\\"hi\\\"\"@example.org");
	ok("<\"back\\\\slash\"@x.org>", 0, "back\\slash", "x.org", 1, 0,
	    "\"back\\\\slash\"@x.org");
	ok("<\"abc\"@x.org>", 0, "abc", "x.org", 1, 0, "abc@x.org");
	ok("<\"a..b\"@x.org>", 0, "a..b", "x.org", 1, 0, "\"a..b\"@x.org");
	ok("<\" \"@x.org>", 0, " ", "x.org", 1, 0, "\" \"@x.org");
	ok("<\"\\a\"@x.org>", 0, "a", "x.org", 1, 0, "a@x.org");

	/* Source routes: accepted, dropped (RFC 5321 4.1.2, appendix C). */
	ok("<@a.org,@b.org:u@c.org>", 0, "u", "c.org", 0, 0, "u@c.org");
	ok("<@a.org:u@c.org>", 0, "u", "c.org", 0, 0, "u@c.org");

	/* Address literals, RFC 5321 4.1.3. */
	ok("<u@[127.0.0.1]>", 0, "u", "[127.0.0.1]", 0, 1, "u@[127.0.0.1]");
	ok("<u@[IPv6:2001:db8::1]>", 0, "u", "[IPv6:2001:db8::1]", 0, 1,
	    "u@[IPv6:2001:db8::1]");
	ok("<u@[ipv6:2001:DB8::1]>", 0, "u", "[IPv6:2001:db8::1]", 0, 1,
	    "u@[IPv6:2001:db8::1]");
	ok("<u@[IPv6:::ffff:192.0.2.1]>", 0, "u", "[IPv6:::ffff:192.0.2.1]",
	    0, 1, "u@[IPv6:::ffff:192.0.2.1]");
	ok("<u@[x-tag:some-text]>", 0, "u", "[x-tag:some-text]", 0, 1,
	    "u@[x-tag:some-text]");

	/* Parameters after the path; end points at them. */
	ok_full("<a@b.org> SIZE=100", 0, "a", "b.org", 0, 0, "a@b.org",
	    " SIZE=100");
	ok_full("<\"x>y\"@b.org> BODY=8BITMIME", 0, "x>y", "b.org", 1, 0,
	    "\"x>y\"@b.org", " BODY=8BITMIME");
}

static void
test_special(void)
{
	struct addr	 a;
	const char	*end, *why;
	char		 out[ADDR_TEXT_MAX];
	const char	*in;

	in = "<> SIZE=10";
	CHECK(addr_parse_path(in, strlen(in), ADDR_NULL_OK, &a, &end,
	    &why) == 0);
	CHECK(a.null == 1);
	CHECK_STR(a.local, "");
	CHECK_STR(a.domain, "");
	CHECK_STR(end, " SIZE=10");
	CHECK(addr_format(&a, out, sizeof(out)) == 0);
	CHECK_STR(out, "");
	bad("<>", 0, "empty address");
	bad("<>", ADDR_POSTMASTER, "empty address");

	in = "<PostMaster>";
	CHECK(addr_parse_path(in, strlen(in), ADDR_POSTMASTER, &a, &end,
	    &why) == 0);
	CHECK_STR(a.local, "postmaster");
	CHECK_STR(a.domain, "");
	CHECK(a.null == 0);
	CHECK(*end == '\0');
	CHECK(addr_format(&a, out, sizeof(out)) == 0);
	CHECK_STR(out, "postmaster");
	bad("<postmaster>", 0, "missing '@' and domain");
	bad("<postmaster>", ADDR_NULL_OK, "missing '@' and domain");
	bad("<user>", ADDR_POSTMASTER, "missing '@' and domain");
	/* With a domain, postmaster is an ordinary address. */
	ok("<Postmaster@Example.org>", ADDR_POSTMASTER, "Postmaster",
	    "example.org", 0, 0, "Postmaster@example.org");

	/* addr_format with no room. */
	CHECK(addr_parse_path("<user@x.org>", 12, 0, &a, &end, &why) == 0);
	CHECK(addr_format(&a, out, 10) == -1);
	CHECK(addr_format(&a, out, 10 + 1) == 0);	/* exactly fits */
	CHECK_STR(out, "user@x.org");
	CHECK(addr_format(&a, out, 0) == -1);
}

static void
test_syntax(void)
{
	bad("", 0, "missing '<'");
	bad("user@example.org", 0, "missing '<'");
	bad("user@example.org>", 0, "missing '<'");
	bad("<user@example.org", 0, "missing '>'");
	bad("<user@>", 0, "empty domain");
	bad("<user@", 0, "empty domain");
	bad("<@example.org>", 0, "invalid source route");
	bad("<@a.org,u@c.org>", 0, "invalid source route");
	bad("<@a.org:>", 0, "empty local part");
	bad("<@-a.org:u@c.org>", 0, "domain label starts with a hyphen");
	bad("<user>", 0, "missing '@' and domain");
	bad("<.user@x.org>", 0, "local part starts with a dot");
	bad("<user.@x.org>", 0, "local part ends with a dot");
	bad("<us..er@x.org>", 0, "consecutive dots in local part");
	bad("<user@.x.org>", 0, "domain starts with a dot");
	bad("<user@x..org>", 0, "consecutive dots in domain");
	bad("<user@x.org.>", 0, "domain ends with a dot");
	bad("<a@-b.org>", 0, "domain label starts with a hyphen");
	bad("<a@b-.org>", 0, "domain label ends with a hyphen");
	bad("<a@b_c.org>", 0, "invalid character in domain");
	bad("<a b@x.org>", 0, "invalid character in local part");
	bad("< a@x.org>", 0, "invalid character in local part");
	bad("<a@x.org >", 0, "invalid character in domain");
	bad("<\"unterminated@x.org>", 0, "unterminated quoted string");
	bad("<\"\"@x.org>", 0, "empty local part");
	bad("<\"a\"b@x.org>", 0, "invalid character in local part");
	bad("<a(comment)@x.org>", 0, "invalid character in local part");
	bad("<a@b@x.org>", 0, "invalid character in domain");
}

static void
test_literals(void)
{
	bad("<u@[300.1.1.1]>", 0, "invalid IPv4 address literal");
	bad("<u@[1.2.3]>", 0, "invalid IPv4 address literal");
	bad("<u@[01.2.3.4]>", 0, "invalid IPv4 address literal");
	bad("<u@[IPv6:zz::1]>", 0, "invalid IPv6 address literal");
	bad("<u@[IPv6:1.2.3.4]>", 0, "invalid IPv6 address literal");
	bad("<u@[127.0.0.1>", 0, "missing ']'");
	bad("<u@[]>", 0, "empty address literal");
	bad("<u@[tag:]>", 0, "empty address literal");
	bad("<u@[tag-:x]>", 0, "invalid address literal tag");
	bad("<u@[:x]>", 0, "invalid address literal tag");
	bad("<u@[bad tag:x]>", 0, "invalid character in address literal");
	bad("<u@[a\\]b]>", 0, "invalid character in address literal");
	bad("<u@[127.0.0.1]x>", 0, "invalid character after address literal");
}

/* OpenSMTPD CVE-2020-7247 and relatives: shell metacharacters. */
static void
test_cve_family(void)
{
	bad("<;sleep 66;>", 0, "invalid character in local part");
	bad("<;sleep 66;@example.org>", 0, "invalid character in local part");
	bad("<$(id)@x.org>", 0, "invalid character in local part");
	bad("<a@b;c>", 0, "invalid character in domain");
	bad("<a@b|c>", 0, "invalid character in domain");
	bad("<a@b`id`>", 0, "invalid character in domain");
	bad("<a@b.org;touch x>", 0, "invalid character in domain");
	bad("<user@[127.0.0.1];touch x>", 0,
	    "invalid character after address literal");
	bad("<user@x.org\r\nRCPT TO:<v@y.org>>", 0,
	    "invalid character in domain");
	/* Valid by RFC 5321, so they must parse and come out as they went
	 * in: whoever uses them must not pass them to a shell. */
	ok("<\";sleep 66;\"@example.org>", 0, ";sleep 66;", "example.org", 1,
	    0, "\";sleep 66;\"@example.org");
	ok("<`id`@example.org>", 0, "`id`", "example.org", 0, 0,
	    "`id`@example.org");
	ok("<|cmd@x.org>", 0, "|cmd", "x.org", 0, 0, "|cmd@x.org");
	ok("<$HOME@x.org>", 0, "$HOME", "x.org", 0, 0, "$HOME@x.org");
	ok("<\"$(id)\"@x.org>", 0, "$(id)", "x.org", 1, 0,
	    "\"$(id)\"@x.org");
}

/* NUL, CR, LF, TAB and other controls: never, quoted or not. */
static void
test_controls(void)
{
	bad_n("<a\0b@x.org>", 11, 0, "invalid character in local part");
	bad_n("<a@x\0.org>", 10, 0, "invalid character in domain");
	bad("<a\rb@x.org>", 0, "invalid character in local part");
	bad("<a\nb@x.org>", 0, "invalid character in local part");
	bad("<a\tb@x.org>", 0, "invalid character in local part");
	bad("<a@x.org\r>", 0, "invalid character in domain");
	bad_n("<\"a\0b\"@x.org>", 13, 0, "invalid character in local part");
	bad("<\"a\rb\"@x.org>", 0, "invalid character in local part");
	bad("<\"a\nb\"@x.org>", 0, "invalid character in local part");
	bad("<\"a\tb\"@x.org>", 0, "invalid character in local part");
	bad("<\"a\x7f\"@x.org>", 0, "invalid character in local part");
	/* quoted-pairSMTP is %d92 %d32-126: no escaped controls. */
	bad("<\"a\\\rb\"@x.org>", 0, "invalid character in local part");
	bad("<\"a\\\nb\"@x.org>", 0, "invalid character in local part");
	bad_n("<\"a\\\0b\"@x.org>", 14, 0, "invalid character in local part");
	bad("<u@[1.2.3.4\r]>", 0, "invalid character in address literal");
}

static void
test_utf8(void)
{
	ok("<j\xc3\xb6s\xc3\xa9@ex\xc3\xa4mple.org>", ADDR_UTF8,
	    "j\xc3\xb6s\xc3\xa9", "ex\xc3\xa4mple.org", 0, 0,
	    "j\xc3\xb6s\xc3\xa9@ex\xc3\xa4mple.org");
	ok("<\"\xe2\x82\xac \xf0\x9f\x98\x80\"@x.org>", ADDR_UTF8,
	    "\xe2\x82\xac \xf0\x9f\x98\x80", "x.org", 1, 0,
	    "\"\xe2\x82\xac \xf0\x9f\x98\x80\"@x.org");
	/* Uppercase non-ASCII is left alone: only ASCII is lowercased. */
	ok("<u@\xc3\x84.ORG>", ADDR_UTF8, "u", "\xc3\x84.org", 0, 0,
	    "u@\xc3\x84.org");
	bad("<j\xc3\xb6s@x.org>", 0, "non-ASCII character in local part");
	bad("<u@ex\xc3\xa4mple.org>", 0, "non-ASCII character in domain");
	bad("<\"j\xc3\xb6s\"@x.org>", 0, "non-ASCII character in local part");
	/* overlong '/' */
	bad("<a\xc0\xaf@x.org>", ADDR_UTF8, "invalid UTF-8 in local part");
	/* overlong 3-byte */
	bad("<a\xe0\x80\xaf@x.org>", ADDR_UTF8, "invalid UTF-8 in local part");
	/* lone continuation byte */
	bad("<a\x80@x.org>", ADDR_UTF8, "invalid UTF-8 in local part");
	/* surrogate U+D800 */
	bad("<a\xed\xa0\x80@x.org>", ADDR_UTF8, "invalid UTF-8 in local part");
	/* past U+10FFFF */
	bad("<a\xf4\x90\x80\x80@x.org>", ADDR_UTF8,
	    "invalid UTF-8 in local part");
	/* truncated sequence */
	bad("<a\xc3@x.org>", ADDR_UTF8, "invalid UTF-8 in local part");
	bad("<u@x\xc3.org>", ADDR_UTF8, "invalid UTF-8 in domain");
	bad("<\"a\xff\"@x.org>", ADDR_UTF8, "invalid UTF-8 in local part");
}

static void
test_lengths(void)
{
	char	 local[80], label[80], in[600], want[600], dom[300];
	size_t	 i;

	/* RFC 5321 4.5.3.1.1: 64 octets of local part. */
	memset(local, 'l', 64);
	local[64] = '\0';
	snprintf(in, sizeof(in), "<%s@x.org>", local);
	snprintf(want, sizeof(want), "%s@x.org", local);
	ok(in, 0, local, "x.org", 0, 0, want);
	local[64] = 'l';
	local[65] = '\0';
	snprintf(in, sizeof(in), "<%s@x.org>", local);
	bad(in, 0, "local part too long");
	/* Quoted: 62 octets inside the quotes is 64 on the wire. */
	memset(local, 'q', 62);
	local[62] = '\0';
	snprintf(in, sizeof(in), "<\"%s\"@x.org>", local);
	snprintf(want, sizeof(want), "%s@x.org", local);
	ok(in, 0, local, "x.org", 1, 0, want);
	snprintf(in, sizeof(in), "<\"%sq\"@x.org>", local);
	bad(in, 0, "local part too long");

	/* RFC 1035: 63-octet labels. */
	memset(label, 'd', 63);
	label[63] = '\0';
	snprintf(in, sizeof(in), "<u@%s.org>", label);
	snprintf(dom, sizeof(dom), "%s.org", label);
	snprintf(want, sizeof(want), "u@%s", dom);
	ok(in, 0, "u", dom, 0, 0, want);
	label[63] = 'd';
	label[64] = '\0';
	snprintf(in, sizeof(in), "<u@%s.org>", label);
	bad(in, 0, "domain label too long");

	/* A 255-octet domain: valid alone, too long for a path. */
	dom[0] = '\0';
	for (i = 0; i < 4; i++) {
		memset(label, 'a' + (int)i, 63);
		label[63] = '\0';
		strlcat(dom, label, sizeof(dom));
		strlcat(dom, i < 3 ? "." : "", sizeof(dom));
	}
	CHECK(strlen(dom) == 255);
	CHECK(addr_domain_valid(dom, 0, 0) == 1);
	strlcat(dom, "x", sizeof(dom));
	CHECK(addr_domain_valid(dom, 0, 0) == 0);	/* 256 */
	dom[255] = '\0';
	snprintf(in, sizeof(in), "<u@%s>", dom);
	bad(in, 0, "address too long");
	/* RFC 5321 4.5.3.1.3: a path of exactly 256 octets is fine, 257
	 * is not: "<" + "u@" + 252 + ">" = 256. */
	dom[252] = '\0';
	snprintf(in, sizeof(in), "<u@%s>", dom);
	CHECK(strlen(in) == 256);
	snprintf(want, sizeof(want), "u@%s", dom);
	ok(in, 0, "u", dom, 0, 0, want);
	snprintf(in, sizeof(in), "<uu@%s>", dom);
	bad(in, 0, "address too long");
}

static void
test_mailbox(void)
{
	struct addr	 a;
	const char	*why;
	char		 out[ADDR_TEXT_MAX];

	CHECK(addr_parse_mailbox("Bob@Example.ORG", 0, &a, &why) == 0);
	CHECK_STR(a.local, "Bob");
	CHECK_STR(a.domain, "example.org");
	CHECK(addr_parse_mailbox("\"a b\"@x.org", 0, &a, &why) == 0);
	CHECK_STR(a.local, "a b");
	CHECK(a.quoted == 1);
	CHECK(addr_format(&a, out, sizeof(out)) == 0);
	CHECK_STR(out, "\"a b\"@x.org");
	/* round trip of the format */
	CHECK(addr_parse_mailbox(out, 0, &a, &why) == 0);
	CHECK_STR(a.local, "a b");
	CHECK(addr_parse_mailbox("", ADDR_NULL_OK, &a, &why) == 0);
	CHECK(a.null == 1);
	CHECK(addr_parse_mailbox("", 0, &a, &why) == -1);
	CHECK_STR(why, "empty local part");
	CHECK(addr_parse_mailbox("postmaster", ADDR_POSTMASTER, &a, &why) ==
	    0);
	CHECK_STR(a.local, "postmaster");
	CHECK_STR(a.domain, "");
	CHECK(addr_parse_mailbox("postmaster", 0, &a, &why) == -1);
	CHECK(addr_parse_mailbox("<u@x.org>", 0, &a, &why) == -1);
	CHECK_STR(why, "invalid character in local part");
	CHECK(addr_parse_mailbox("u@x.org>", 0, &a, &why) == -1);
	CHECK_STR(why, "invalid character in domain");
	CHECK(addr_parse_mailbox("u@x.org\n", 0, &a, &why) == -1);
	CHECK(addr_parse_mailbox("u@[IPv6:::1]", 0, &a, &why) == 0);
	CHECK_STR(a.domain, "[IPv6:::1]");
	CHECK(a.literal == 1);
	CHECK(addr_parse_mailbox("u@[IPv6:::1] ", 0, &a, &why) == -1);
	CHECK_STR(why, "invalid character after address literal");
}

static void
test_domain_valid(void)
{
	CHECK(addr_domain_valid("mail.example.org", 0, 0) == 1);
	CHECK(addr_domain_valid("localhost", 0, 0) == 1);
	CHECK(addr_domain_valid("[127.0.0.1]", 1, 0) == 1);
	CHECK(addr_domain_valid("[127.0.0.1]", 0, 0) == 0);
	CHECK(addr_domain_valid("[IPv6:::1]", 1, 0) == 1);
	CHECK(addr_domain_valid("[300.0.0.1]", 1, 0) == 0);
	CHECK(addr_domain_valid("[127.0.0.1]x", 1, 0) == 0);
	CHECK(addr_domain_valid("exa_mple.org", 0, 0) == 0);
	CHECK(addr_domain_valid("", 0, 0) == 0);
	CHECK(addr_domain_valid("a.", 0, 0) == 0);
	CHECK(addr_domain_valid(".a", 0, 0) == 0);
	CHECK(addr_domain_valid("a b", 0, 0) == 0);
	CHECK(addr_domain_valid("b\xc3\xbc" "cher.example", 1, 1) == 1);
	CHECK(addr_domain_valid("b\xc3\xbc" "cher.example", 1, 0) == 0);
	CHECK(addr_domain_valid("EXAMPLE.ORG", 0, 0) == 1);
}

static void
test_lower(void)
{
	char	 s[] = "MiXeD@Example.ORG\xc3\x84";

	addr_lower(s);
	CHECK_STR(s, "mixed@example.org\xc3\x84");
}

int
main(void)
{
	test_valid();
	test_special();
	test_syntax();
	test_literals();
	test_cve_family();
	test_controls();
	test_utf8();
	test_lengths();
	test_mailbox();
	test_domain_valid();
	test_lower();
	return harness_done();
}
