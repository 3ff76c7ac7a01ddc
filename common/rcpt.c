/*
 * rcpt.c: who is a recipient here (the rules are in rcpt.h).
 *
 * Called by enqueue at RCPT time and by qmgr at delivery time, each with its
 * own long-lived struct rcpt_tables (table.c reopens a rebuilt table by
 * itself). Assumes a parsed address (addr.c): no control characters, the
 * domain already lowercased.
 *
 * Any doubt is RCPT_TEMPFAIL, never RCPT_UNKNOWN: a table that cannot be
 * read, a passwd lookup that failed, or an operator's table entry that makes
 * no sense (a domain that is neither "local" nor "virtual", a mailbox path
 * that would leave virtual_mailbox_base). A temporary failure costs a retry;
 * a wrong "unknown" bounces mail, and a wrong path delivers it elsewhere.
 * The operator errors are logged with log_warn() so they get fixed.
 */
#include <errno.h>
#include <pwd.h>
#include <string.h>
#include <bsd/string.h>

#include "conf.h"
#include "log.h"
#include "rcpt.h"

void
rcpt_tables_init(struct rcpt_tables *t, const struct conf *conf)
{
	table_init(&t->domains, conf, "domains");
	table_init(&t->virtual, conf, "virtual");
}

void
rcpt_tables_close(struct rcpt_tables *t)
{
	table_close(&t->domains);
	table_close(&t->virtual);
}

int
rcpt_mailbox_valid(const char *s)
{
	const char	*c, *slash;
	size_t		 len;

	if (*s == '\0' || *s == '/' || strlen(s) >= PATH_MAX)
		return 0;
	/* Printable ASCII, no blank: it becomes a path, and is logged. */
	for (c = s; *c != '\0'; c++)
		if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f)
			return 0;
	/* Each component non-empty and not "." or ".."; a single trailing
	 * '/' is allowed (it marks a Maildir). */
	for (c = s; *c != '\0'; c = slash + 1) {
		slash = strchr(c, '/');
		len = slash != NULL ? (size_t)(slash - c) : strlen(c);
		if (len == 0)
			return 0;
		if ((len == 1 && c[0] == '.') ||
		    (len == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		if (slash == NULL || slash[1] == '\0')
			break;
	}
	return 1;
}

/* A local part that could name a system user: not quoted, printable ASCII,
 * no '/', not starting with '-' (an option to whatever sees it next). */
static int
user_name_ok(const struct addr *a)
{
	const char	*c;

	if (a->quoted || a->local[0] == '\0' || a->local[0] == '-')
		return 0;
	for (c = a->local; *c != '\0'; c++)
		if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f ||
		    *c == '/')
			return 0;
	return 1;
}

static enum rcpt_kind
rcpt_user(const struct addr *a, struct rcpt_route *r)
{
	struct passwd	*pw;
	char		 name[sizeof(r->user)];

	/* Linux user names are at most 32 bytes: a longer one is nobody. */
	if (!user_name_ok(a) ||
	    strlcpy(name, a->local, sizeof(name)) >= sizeof(name))
		return RCPT_UNKNOWN;
	addr_lower(name);
	errno = 0;
	if ((pw = getpwnam(name)) == NULL) {
		/* glibc reports "no such user" as errno 0 or one of these;
		 * anything else means the database could not be read. */
		if (errno == 0 || errno == ENOENT || errno == ESRCH ||
		    errno == EBADF || errno == EPERM)
			return RCPT_UNKNOWN;
		log_warn_errno("getpwnam(%s)", name);
		return RCPT_TEMPFAIL;
	}
	/* root reads mail through an alias, never as itself: a delivery
	 * never runs as uid 0 (lspawn refuses it too). */
	if (pw->pw_uid == 0)
		return RCPT_UNKNOWN;
	strlcpy(r->user, name, sizeof(r->user));
	return RCPT_USER;
}

enum rcpt_kind
rcpt_resolve(struct rcpt_tables *t, const struct addr *a,
    struct rcpt_route *r)
{
	struct buf	 val = BUF_INIT;
	char		 key[ADDR_TEXT_MAX];
	int		 local, found;

	memset(r, 0, sizeof(*r));
	r->kind = RCPT_UNKNOWN;
	if (a->null)
		return r->kind;

	/* 1. Is the domain ours, and how? */
	if (a->domain[0] == '\0')
		local = 1;	/* <postmaster>, RFC 5321 4.5.1 */
	else {
		found = table_lookup(&t->domains, a->domain, &val);
		if (found == -1) {
			log_warn_errno("table %s: lookup of %s",
			    t->domains.path, a->domain);
			r->kind = RCPT_TEMPFAIL;
			goto out;
		}
		if (found == 0) {
			r->kind = RCPT_REMOTE;
			goto out;
		}
		if (strcmp(buf_str(&val), "local") == 0)
			local = 1;
		else if (strcmp(buf_str(&val), "virtual") == 0)
			local = 0;
		else {
			log_warn("table %s: domain %s: value '%s' is neither "
			    "\"local\" nor \"virtual\"", t->domains.path,
			    a->domain, buf_str(&val));
			errno = EINVAL;
			r->kind = RCPT_TEMPFAIL;
			goto out;
		}
	}

	/* 2. A virtual mailbox for the whole address, in any of our
	 * domains. */
	if (addr_format(a, key, sizeof(key)) == -1) {
		errno = ENAMETOOLONG;	/* cannot happen: ADDR_TEXT_MAX */
		r->kind = RCPT_TEMPFAIL;
		goto out;
	}
	addr_lower(key);
	found = table_lookup(&t->virtual, key, &val);
	if (found == -1) {
		log_warn_errno("table %s: lookup of %s", t->virtual.path, key);
		r->kind = RCPT_TEMPFAIL;
		goto out;
	}
	if (found == 1) {
		if (!rcpt_mailbox_valid(buf_str(&val)) ||
		    strlcpy(r->mailbox, buf_str(&val), sizeof(r->mailbox)) >=
		    sizeof(r->mailbox)) {
			log_warn("table %s: %s: mailbox '%s' is not a safe "
			    "relative path (no leading '/', no '..', no '//')",
			    t->virtual.path, key, buf_str(&val));
			r->mailbox[0] = '\0';
			errno = EINVAL;
			r->kind = RCPT_TEMPFAIL;
			goto out;
		}
		r->kind = RCPT_VIRTUAL;
		goto out;
	}

	/* 3. A system user, in a local domain only. */
	r->kind = local ? rcpt_user(a, r) : RCPT_UNKNOWN;
out:
	buf_free(&val);
	return r->kind;
}
