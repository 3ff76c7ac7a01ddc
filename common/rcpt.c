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
 *
 * Sub-addressing (user+detail, RFC 5233's "detail"): every lookup is made
 * with the whole local part first, then with its base, so an entry for
 * "user+list" can still be made on purpose. The recipient itself is never
 * rewritten: the caller keeps the full address (Delivered-To: shows it).
 */
#include <errno.h>
#include <pwd.h>
#include <string.h>
#include <strings.h>
#include <bsd/string.h>

#include "conf.h"
#include "log.h"
#include "rcpt.h"

void
rcpt_tables_init(struct rcpt_tables *t, const struct conf *conf)
{
	table_init(&t->domains, conf, "domains");
	table_init(&t->virtual, conf, "virtual");
	table_init(&t->aliases, conf, "aliases");
	t->conf = conf;
}

void
rcpt_tables_close(struct rcpt_tables *t)
{
	table_close(&t->domains);
	table_close(&t->virtual);
	table_close(&t->aliases);
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
user_name_ok(const char *s)
{
	const char	*c;

	if (s[0] == '\0' || s[0] == '-')
		return 0;
	for (c = s; *c != '\0'; c++)
		if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f ||
		    *c == '/')
			return 0;
	return 1;
}

enum rcpt_kind
rcpt_resolve_user(const char *local, struct rcpt_route *r)
{
	struct passwd	*pw;
	char		 name[sizeof(r->user)];

	/* Linux user names are at most 32 bytes: a longer one is nobody. */
	if (!user_name_ok(local) ||
	    strlcpy(name, local, sizeof(name)) >= sizeof(name))
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
	r->kind = RCPT_USER;
	return RCPT_USER;
}

/* Where a +detail starts in a's local part, or NULL: at the first
 * recipient_delimiter character, unless it is the first character (a
 * local part "+x" has no base) or the part is quoted. */
static const char *
detail_start(const struct rcpt_tables *t, const struct addr *a)
{
	const char	*delim, *p;

	if (t->conf == NULL || a->quoted)
		return NULL;
	delim = t->conf->recipient_delimiter;
	if (delim[0] == '\0')
		return NULL;
	p = a->local + strcspn(a->local, delim);
	if (*p == '\0' || p == a->local)
		return NULL;
	return p;
}

/* The virtual table, key as given (lowercased by the caller). */
static enum rcpt_kind
virtual_lookup(struct rcpt_tables *t, const char *key, struct rcpt_route *r)
{
	struct buf	 val = BUF_INIT;
	enum rcpt_kind	 k = RCPT_UNKNOWN;
	int		 found;

	found = table_lookup(&t->virtual, key, &val);
	if (found == -1) {
		log_warn_errno("table %s: lookup of %s", t->virtual.path, key);
		k = RCPT_TEMPFAIL;
	} else if (found == 1) {
		if (!rcpt_mailbox_valid(buf_str(&val)) ||
		    strlcpy(r->mailbox, buf_str(&val), sizeof(r->mailbox)) >=
		    sizeof(r->mailbox)) {
			log_warn("table %s: %s: mailbox '%s' is not a safe "
			    "relative path (no leading '/', no '..', no '//')",
			    t->virtual.path, key, buf_str(&val));
			r->mailbox[0] = '\0';
			errno = EINVAL;
			k = RCPT_TEMPFAIL;
		} else
			k = RCPT_VIRTUAL;
	}
	buf_free(&val);
	return k;
}

static enum rcpt_kind
virtual_addr(struct rcpt_tables *t, const struct addr *a,
    struct rcpt_route *r)
{
	char	 key[ADDR_TEXT_MAX];

	if (addr_format(a, key, sizeof(key)) == -1) {
		errno = ENAMETOOLONG;	/* cannot happen: ADDR_TEXT_MAX */
		return RCPT_TEMPFAIL;
	}
	addr_lower(key);
	return virtual_lookup(t, key, r);
}

/* The aliases table, for an unquoted local part. */
static enum rcpt_kind
alias_lookup(struct rcpt_tables *t, const char *local, struct rcpt_route *r)
{
	struct buf	 val = BUF_INIT;
	char		 name[sizeof(r->alias)];
	int		 found;

	if (strlcpy(name, local, sizeof(name)) >= sizeof(name))
		return RCPT_UNKNOWN;
	addr_lower(name);
	found = table_lookup(&t->aliases, name, &val);
	buf_free(&val);
	if (found == -1) {
		log_warn_errno("table %s: lookup of %s", t->aliases.path,
		    name);
		return RCPT_TEMPFAIL;
	}
	if (found == 0)
		return RCPT_UNKNOWN;
	strlcpy(r->alias, name, sizeof(r->alias));
	return RCPT_ALIAS;
}

enum rcpt_kind
rcpt_resolve(struct rcpt_tables *t, const struct addr *a,
    struct rcpt_route *r)
{
	struct buf	 val = BUF_INIT;
	struct addr	 base;
	const char	*d;
	char		 key[ADDR_DOMAIN_MAX + 2];
	enum rcpt_kind	 k;
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
	base = *a;
	if ((d = detail_start(t, a)) != NULL)
		base.local[d - a->local] = '\0';

	/* 2. A virtual mailbox for the whole address, in any of our
	 * domains, then for the address without its detail. */
	if (a->domain[0] != '\0') {
		if ((k = virtual_addr(t, a, r)) != RCPT_UNKNOWN ||
		    (d != NULL && (k = virtual_addr(t, &base, r)) !=
		    RCPT_UNKNOWN)) {
			r->kind = k;
			goto out;
		}
	}

	/* 3 and 4. An alias, then a system user, in a local domain only. */
	if (local && !a->quoted) {
		if ((k = alias_lookup(t, a->local, r)) != RCPT_UNKNOWN ||
		    (d != NULL && (k = alias_lookup(t, base.local, r)) !=
		    RCPT_UNKNOWN) ||
		    (k = rcpt_resolve_user(a->local, r)) != RCPT_UNKNOWN ||
		    (d != NULL && (k = rcpt_resolve_user(base.local, r)) !=
		    RCPT_UNKNOWN)) {
			r->kind = k;
			goto out;
		}
	}

	/* 5. The domain's catch-all, when nothing more exact exists. */
	if (a->domain[0] != '\0') {
		key[0] = '@';
		strlcpy(key + 1, a->domain, sizeof(key) - 1);
		addr_lower(key);
		if ((k = virtual_lookup(t, key, r)) != RCPT_UNKNOWN) {
			r->kind = k;
			goto out;
		}
	}

	/* 6. RFC 5321 4.5.1: postmaster is always accepted; qmgr defers it
	 * with a clear log line until it leads somewhere. */
	if (local && !a->quoted && strcasecmp(base.local, "postmaster") == 0) {
		strlcpy(r->alias, "postmaster", sizeof(r->alias));
		r->kind = RCPT_ALIAS;
		goto out;
	}
	r->kind = RCPT_UNKNOWN;
out:
	buf_free(&val);
	return r->kind;
}
