/*
 * test_rcpt.c: rcpt_resolve() against domains and virtual tables built with
 * table_build() in a temporary directory, and the system's passwd database
 * ("nobody" and "root" are expected to exist; checks that need them skip
 * when they do not). Operator errors in the tables must be temporary
 * failures, never a delivery and never "unknown user".
 */
#include <dirent.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bsd/string.h>

#include "addr.h"
#include "alias.h"
#include "conf.h"
#include "log.h"
#include "rcpt.h"
#include "table.h"
#include "harness.h"

static char	 dir[] = "/tmp/test_rcpt.XXXXXX";

static void
build(const char *name, const char *text)
{
	char		 src[PATH_MAX], dst[PATH_MAX];
	struct buf	 err = BUF_INIT;
	FILE		*f;

	snprintf(src, sizeof(src), "%s/%s", dir, name);
	snprintf(dst, sizeof(dst), "%s/%s.cdb", dir, name);
	if ((f = fopen(src, "w")) == NULL ||
	    fwrite(text, 1, strlen(text), f) != strlen(text) ||
	    fclose(f) != 0) {
		perror(src);
		exit(2);
	}
	if (table_build(src, dst, &err) == -1) {
		fprintf(stderr, "table_build: %s\n", buf_str(&err));
		exit(2);
	}
	buf_free(&err);
}

/* Resolve the path text; return the kind, route in *r. */
static enum rcpt_kind
resolve(struct rcpt_tables *t, const char *path, struct rcpt_route *r)
{
	struct addr	 a;
	const char	*end, *why;

	if (addr_parse_path(path, strlen(path), ADDR_POSTMASTER, &a, &end,
	    &why) == -1) {
		fprintf(stderr, "%s: %s\n", path, why);
		return (enum rcpt_kind)-1;
	}
	return rcpt_resolve(t, &a, r);
}

static void
remove_dir(void)
{
	DIR		*d;
	struct dirent	*e;
	char		 path[PATH_MAX];

	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static void
test_mailbox_valid(void)
{
	CHECK(rcpt_mailbox_valid("example.org/info/") == 1);
	CHECK(rcpt_mailbox_valid("example.org/info") == 1);
	CHECK(rcpt_mailbox_valid("a") == 1);
	CHECK(rcpt_mailbox_valid("a.b/..c/d..") == 1);
	CHECK(rcpt_mailbox_valid("") == 0);
	CHECK(rcpt_mailbox_valid("/") == 0);
	CHECK(rcpt_mailbox_valid("/etc/passwd") == 0);
	CHECK(rcpt_mailbox_valid("../x") == 0);
	CHECK(rcpt_mailbox_valid("a/../../x") == 0);
	CHECK(rcpt_mailbox_valid("a/..") == 0);
	CHECK(rcpt_mailbox_valid("a/../") == 0);
	CHECK(rcpt_mailbox_valid("a/./b") == 0);
	CHECK(rcpt_mailbox_valid("./a") == 0);
	CHECK(rcpt_mailbox_valid("a//b") == 0);
	CHECK(rcpt_mailbox_valid("a//") == 0);
	CHECK(rcpt_mailbox_valid("a b") == 0);
	CHECK(rcpt_mailbox_valid("a\nb") == 0);
	CHECK(rcpt_mailbox_valid("a\x7f") == 0);
	CHECK(rcpt_mailbox_valid("caf\xc3\xa9/") == 0);
}

/* Aliases, sub-addressing and catch-alls (issue 5). */
static void
test_aliases(struct conf *conf)
{
	struct rcpt_tables	 t;
	struct rcpt_route	 r;
	struct passwd		*pw;
	char			 src[PATH_MAX], dst[PATH_MAX];
	struct buf		 err = BUF_INIT;
	FILE			*f;

	strlcpy(conf->recipient_delimiter, "+-", sizeof(conf->recipient_delimiter));
	rcpt_tables_init(&t, conf);
	build("domains", "example.org local\nvirt.example virtual\n");
	build("virtual", "info@virt.example virt.example/info/\n"
	    "@virt.example virt.example/all/\n"
	    "exact+x@virt.example virt.example/exact/\n");
	snprintf(src, sizeof(src), "%s/aliases", dir);
	snprintf(dst, sizeof(dst), "%s/aliases.cdb", dir);
	f = fopen(src, "w");
	CHECK(f != NULL);
	fputs("# comment\nStaff: a, b\n  c\nnobody: \\nobody\n", f);
	fclose(f);
	CHECK(alias_build(src, dst, &err) == 0);

	CHECK(resolve(&t, "<staff@example.org>", &r) == RCPT_ALIAS);
	CHECK_STR(r.alias, "staff");
	CHECK(resolve(&t, "<STAFF+list@example.org>", &r) == RCPT_ALIAS);
	CHECK_STR(r.alias, "staff");
	CHECK(resolve(&t, "<staff-list@example.org>", &r) == RCPT_ALIAS);
	CHECK(resolve(&t, "<staff@virt.example>", &r) == RCPT_VIRTUAL);
	CHECK_STR(r.mailbox, "virt.example/all/");	/* catch-all */
	CHECK(resolve(&t, "<info+x@virt.example>", &r) == RCPT_VIRTUAL);
	CHECK_STR(r.mailbox, "virt.example/info/");
	CHECK(resolve(&t, "<exact+x@virt.example>", &r) == RCPT_VIRTUAL);
	CHECK_STR(r.mailbox, "virt.example/exact/");
	CHECK(resolve(&t, "<+x@example.org>", &r) == RCPT_UNKNOWN);
	/* The alias wins over the user of the same name. */
	CHECK(resolve(&t, "<nobody@example.org>", &r) == RCPT_ALIAS);
	pw = getpwnam("nobody");
	if (pw != NULL && pw->pw_uid != 0) {
		CHECK(rcpt_resolve_user("nobody", &r) == RCPT_USER);
		CHECK_STR(r.user, "nobody");
	}
	CHECK(rcpt_resolve_user("root", &r) == RCPT_UNKNOWN);
	/* Sub-addressing off. */
	conf->recipient_delimiter[0] = '\0';
	CHECK(resolve(&t, "<staff+list@example.org>", &r) == RCPT_UNKNOWN);
	CHECK(resolve(&t, "<postmaster+x@example.org>", &r) == RCPT_UNKNOWN);
	CHECK(resolve(&t, "<PostMaster@example.org>", &r) == RCPT_ALIAS);
	buf_free(&err);
	rcpt_tables_close(&t);
}

int
main(void)
{
	struct conf		 conf;
	struct rcpt_tables	 t;
	struct rcpt_route	 r;
	struct passwd		*pw;

	log_init("test_rcpt", 1);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	memset(&conf, 0, sizeof(conf));
	strlcpy(conf.confdir, dir, sizeof(conf.confdir));

	test_mailbox_valid();

	/* No tables at all: nothing is ours, nothing is an error. */
	rcpt_tables_init(&t, &conf);
	CHECK(resolve(&t, "<u@example.org>", &r) == RCPT_REMOTE);
	/* <postmaster> is local even then; no system user by that name on a
	 * test machine, and postmaster reaches root through aliases. */
	if (getpwnam("postmaster") == NULL) {
		/* RFC 5321 4.5.1: accepted anyway; qmgr defers it. */
		CHECK(resolve(&t, "<Postmaster>", &r) == RCPT_ALIAS);
		CHECK_STR(r.alias, "postmaster");
	}

	build("domains",
	    "example.org local\n"
	    "Virt.Example virtual\n"
	    "odd.example bogus\n");
	build("virtual",
	    "info@virt.example virt.example/info/\n"
	    "nobody@example.org example.org/nobody/\n"
	    "evil@virt.example ../../etc/\n"
	    "abs@virt.example /var/mail/x/\n"
	    "dots@virt.example a//b/\n"
	    "\"a;b\"@virt.example virt.example/ab/\n");

	/* Virtual hits, the key lowercased. */
	CHECK(resolve(&t, "<info@virt.example>", &r) == RCPT_VIRTUAL);
	CHECK(r.kind == RCPT_VIRTUAL);
	CHECK_STR(r.mailbox, "virt.example/info/");
	CHECK(resolve(&t, "<INFO@Virt.EXAMPLE>", &r) == RCPT_VIRTUAL);
	CHECK_STR(r.mailbox, "virt.example/info/");
	/* A quoted local part: looked up in its formatted, quoted form (a
	 * key of the text table cannot hold a blank). */
	CHECK(resolve(&t, "<\"a;b\"@virt.example>", &r) == RCPT_VIRTUAL);
	CHECK_STR(r.mailbox, "virt.example/ab/");
	/* The virtual table wins in a local domain too. */
	CHECK(resolve(&t, "<nobody@example.org>", &r) == RCPT_VIRTUAL);
	CHECK_STR(r.mailbox, "example.org/nobody/");
	/* In a virtual domain, nobody else exists, system users included. */
	CHECK(resolve(&t, "<other@virt.example>", &r) == RCPT_UNKNOWN);
	CHECK(resolve(&t, "<nobody@virt.example>", &r) == RCPT_UNKNOWN);

	/* Unsafe mailbox paths are the operator's error: try later. */
	CHECK(resolve(&t, "<evil@virt.example>", &r) == RCPT_TEMPFAIL);
	CHECK_STR(r.mailbox, "");
	CHECK(resolve(&t, "<abs@virt.example>", &r) == RCPT_TEMPFAIL);
	CHECK(resolve(&t, "<dots@virt.example>", &r) == RCPT_TEMPFAIL);
	/* A domain that is neither local nor virtual: the same. */
	CHECK(resolve(&t, "<u@odd.example>", &r) == RCPT_TEMPFAIL);

	/* Remote. */
	CHECK(resolve(&t, "<u@elsewhere.example>", &r) == RCPT_REMOTE);
	CHECK(resolve(&t, "<u@sub.example.org>", &r) == RCPT_REMOTE);
	CHECK(resolve(&t, "<u@[192.0.2.1]>", &r) == RCPT_REMOTE);

	/* System users in a local domain. */
	pw = getpwnam("nobody");
	if (pw != NULL && pw->pw_uid != 0) {
		build("virtual", "info@virt.example virt.example/info/\n");
		CHECK(resolve(&t, "<nobody@example.org>", &r) == RCPT_USER);
		CHECK_STR(r.user, "nobody");
		CHECK(resolve(&t, "<NoBody@Example.ORG>", &r) == RCPT_USER);
		CHECK_STR(r.user, "nobody");
		/* quoted: never a system user */
		CHECK(resolve(&t, "<\"nobody\"@example.org>", &r) ==
		    RCPT_UNKNOWN);
	} else
		printf("skip: no user nobody\n");
	pw = getpwnam("root");
	if (pw != NULL && pw->pw_uid == 0)
		CHECK(resolve(&t, "<root@example.org>", &r) == RCPT_UNKNOWN);
	else
		printf("skip: no user root with uid 0\n");
	CHECK(resolve(&t, "<no-such-user-xyzzy@example.org>", &r) ==
	    RCPT_UNKNOWN);
	CHECK(resolve(&t, "<a/b@example.org>", &r) == RCPT_UNKNOWN);
	CHECK(resolve(&t, "<-nobody@example.org>", &r) == RCPT_UNKNOWN);

	/* Tables rebuilt in place are seen by the same handles. */
	build("domains", "example.org local\nnew.example virtual\n");
	build("virtual", "x@new.example new.example/x/\n");
	CHECK(resolve(&t, "<info@virt.example>", &r) == RCPT_REMOTE);
	CHECK(resolve(&t, "<x@new.example>", &r) == RCPT_VIRTUAL);
	CHECK_STR(r.mailbox, "new.example/x/");

	/* A table that cannot be read: temporary failure. */
	{
		char p[PATH_MAX];
		FILE *f;

		snprintf(p, sizeof(p), "%s/virtual.cdb", dir);
		unlink(p);
		f = fopen(p, "w");
		if (f != NULL) {
			fputs("garbage", f);
			fclose(f);
		}
		CHECK(resolve(&t, "<x@new.example>", &r) == RCPT_TEMPFAIL);
	}

	test_aliases(&conf);

	rcpt_tables_close(&t);
	remove_dir();
	return harness_done();
}
