/*
 * qmgr_alias.c: expanding an alias recipient into its final targets, at
 * delivery time, against the tables as they are then (DESIGN.md: a rebuilt
 * table is seen without a restart).
 *
 * Called by qmgr_msg.c for a recipient that rcpt_resolve() found in the
 * aliases table (RCPT_ALIAS). The alias's targets (common/alias.h) are
 * expanded recursively: a name or address goes through rcpt_resolve()
 * again (another alias, a virtual mailbox, a system user, a remote
 * address), "\user" is the system user itself, ":include:/path" is read
 * now and expanded in turn, "|command" and "/file" are final and run as
 * alias_user (kinds 'p' and 'f' of the lspawn protocol,
 * docs/protocols.md). Each final target becomes one job for the original
 * recipient's index, with the original address for Delivered-To:.
 *
 * Refused as a whole, nothing delivered (the recipient's outcome is decided
 * here): an alias that reaches itself (D 5.4.6 "alias loop: a -> b -> a"),
 * nesting deeper than alias_max_depth (D 5.4.6), more than
 * alias_max_targets targets looked at (D 5.5.3), a table or :include: file
 * that cannot be read or is wrong, or an alias_user that does not exist or
 * is root (Z 4.3.0: the operator's to fix, the mail waits).
 *
 * Decided per target here: an unknown name (D 5.1.1) and a remote address
 * (Z 4.4.0 until remote delivery exists). A duplicate final target is
 * delivered once. The outcomes of all targets fold into the recipient's:
 * all K -> K; any Z -> Z (the whole expansion is tried again on the next
 * pass, so targets that had it get it again: at-least-once,
 * docs/design-notes.md); otherwise D with the first failure's text.
 *
 * RFC 5321 4.5.1: postmaster must be accepted. A postmaster whose chain
 * ends nowhere (no alias for root, which is never delivered to as uid 0)
 * is deferred, not bounced, with a log line that says what to add.
 */
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bsd/string.h>

#include "addr.h"
#include "alias.h"
#include "buf.h"
#include "log.h"
#include "rcpt.h"
#include "qmgr.h"

/* conf.c caps alias_max_depth at 100; the chain holds one more. */
#define CHAIN_MAX	101

struct final {
	char		 kind;
	char		*target;
};

struct expand {
	struct qmgr	*q;
	struct qmsg	*m;
	const char	*rcpt;		/* the original recipient */
	int		 postmaster;	/* it is postmaster: defer, not bounce */
	const char	*chain[CHAIN_MAX];	/* aliases and includes open */
	int		 depth;
	size_t		 seen;		/* targets looked at */
	struct final	*finals;
	size_t		 nfinals, cap;
	int		 abort;		/* refused as a whole */
	char		 status;	/* folded so far, or the refusal */
	char		 code[16];
	struct buf	 text;
};

static void	 expand_alias(struct expand *, const char *name);
static void	 expand_list(struct expand *, const char *data, size_t len);
static void	 expand_target(struct expand *, const char *t);

static void
target_log(const struct qmsg *m, const char *rcpt, char kind,
    const char *target, char status, const char *code, const char *text)
{
	long long	 delay;

	delay = (long long)time(NULL) - m->arrival;
	if (delay < 0)
		delay = 0;
	log_info("%s: to=<%s%s>, orig_to=<%s>, relay=local, delay=%lld, "
	    "status=%s (%s %s)", m->id, kind == 'p' ? "|" : "", target, rcpt,
	    delay, status == 'K' ? "sent" : status == 'D' ? "bounced" :
	    "deferred", code, text);
}

/* Fold one target's outcome into the recipient's: Z beats D beats K, and
 * the first of each kind keeps its text. */
static void
fold(char *gstatus, char *gcode, size_t codesz, struct buf *gtext,
    char status, const char *code, const char *text)
{
	if (status == 'K' || *gstatus == 'Z' || (status == 'D' &&
	    *gstatus == 'D'))
		return;
	*gstatus = status;
	strlcpy(gcode, code, codesz);
	if (buf_set(gtext, text, strlen(text)) == -1)
		fatal("out of memory");
}

static void
decided(struct expand *e, const char *target, char status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* A target decided here (unknown, remote). */
static void
decided(struct expand *e, const char *target, char status, const char *code,
    const char *fmt, ...)
{
	struct buf	 text = BUF_INIT;
	va_list		 ap;

	va_start(ap, fmt);
	if (buf_vaddf(&text, fmt, ap) == -1)
		fatal("out of memory");
	va_end(ap);
	target_log(e->m, e->rcpt, 'u', target, status, code, buf_str(&text));
	fold(&e->status, e->code, sizeof(e->code), &e->text, status, code,
	    buf_str(&text));
	buf_free(&text);
}

static void
refuse(struct expand *e, char status, const char *code, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

/* The whole expansion is refused: nothing of it is delivered. */
static void
refuse(struct expand *e, char status, const char *code, const char *fmt,
    ...)
{
	va_list		 ap;

	if (e->abort)
		return;
	e->abort = 1;
	e->status = status;
	strlcpy(e->code, code, sizeof(e->code));
	buf_reset(&e->text);
	va_start(ap, fmt);
	if (buf_vaddf(&e->text, fmt, ap) == -1)
		fatal("out of memory");
	va_end(ap);
}

/* Names nobody: a bounce, except for postmaster (RFC 5321 4.5.1). */
static void
unknown(struct expand *e, const char *target)
{
	if (e->postmaster) {
		log_warn("%s: postmaster mail cannot be delivered: <%s> "
		    "leads nowhere (no alias, no user, or root, which is "
		    "never delivered to); give it an alias in aliases and "
		    "run \"postern newaliases\"; the mail waits until then",
		    e->m->id, target);
		decided(e, target, 'Z', "4.3.0", "postmaster alias chain "
		    "ends at <%s>, which cannot be delivered to", target);
	} else
		decided(e, target, 'D', "5.1.1", "alias target <%s>: user "
		    "unknown", target);
}

static int
chain_has(const struct expand *e, const char *name)
{
	int	 i;

	for (i = 0; i < e->depth; i++)
		if (strcmp(e->chain[i], name) == 0)
			return 1;
	return 0;
}

/* "alias loop: a -> b -> a" */
static void
refuse_loop(struct expand *e, const char *name)
{
	struct buf	 path = BUF_INIT;
	int		 i;

	for (i = 0; i < e->depth; i++)
		if (buf_adds(&path, e->chain[i]) == -1 ||
		    buf_adds(&path, " -> ") == -1)
			fatal("out of memory");
	if (buf_adds(&path, name) == -1)
		fatal("out of memory");
	refuse(e, 'D', "5.4.6", "alias loop: %s", buf_str(&path));
	buf_free(&path);
}

/* Enter name (an alias or an include) on the chain: 0, or -1 refused. */
static int
chain_push(struct expand *e, const char *name)
{
	if (chain_has(e, name)) {
		refuse_loop(e, name);
		return -1;
	}
	if (e->depth >= e->q->conf.alias_max_depth || e->depth >= CHAIN_MAX) {
		refuse(e, 'D', "5.4.6", "alias expansion nested more than %d "
		    "deep (alias_max_depth)", e->q->conf.alias_max_depth);
		return -1;
	}
	e->chain[e->depth++] = name;
	return 0;
}

/* A final target, once. */
static void
final_add(struct expand *e, char kind, const char *target)
{
	struct passwd	*pw;
	size_t		 i;

	for (i = 0; i < e->nfinals; i++)
		if (e->finals[i].kind == kind &&
		    strcmp(e->finals[i].target, target) == 0)
			return;
	if (kind == 'f' || kind == 'p') {
		/* lspawn refuses uid 0 too; this says why, and waits. */
		errno = 0;
		pw = getpwnam(e->q->conf.alias_user);
		if (pw == NULL || pw->pw_uid == 0) {
			log_warn("%s: alias_user \"%s\" %s: the alias targets "
			    "of <%s> wait", e->m->id, e->q->conf.alias_user,
			    pw == NULL ? "does not exist" : "is root",
			    e->rcpt);
			refuse(e, 'Z', "4.3.0", "alias_user %s cannot run "
			    "alias commands and files",
			    e->q->conf.alias_user);
			return;
		}
	}
	if (e->nfinals == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 8;
		e->finals = reallocarray(e->finals, e->cap,
		    sizeof(*e->finals));
		if (e->finals == NULL)
			fatal("out of memory");
	}
	e->finals[e->nfinals].kind = kind;
	e->finals[e->nfinals].target = qmgr_xstrdup(target);
	e->nfinals++;
}

static void
expand_alias(struct expand *e, const char *name)
{
	struct buf	 val = BUF_INIT;
	int		 found;

	if (chain_push(e, name) == -1)
		return;
	found = table_lookup(&e->q->tables.aliases, name, &val);
	if (found == -1) {
		log_warn_errno("%s: table %s: lookup of %s", e->m->id,
		    e->q->tables.aliases.path, name);
		refuse(e, 'Z', "4.3.0", "temporary lookup failure");
	} else if (found == 0)
		/* The table changed since RCPT, or postmaster without an
		 * alias (rcpt.h, step 6). */
		unknown(e, name);
	else
		expand_list(e, val.data, val.len);
	e->depth--;
	buf_free(&val);
}

static void
expand_include(struct expand *e, const char *t)
{
	struct buf	 list = BUF_INIT, err = BUF_INIT;
	const char	*path = t + strlen(ALIAS_INCLUDE_PREFIX);
	int		 rc;

	if (chain_push(e, t) == -1)
		return;
	rc = alias_include_read(path, &list, &err);
	if (rc == -1) {
		log_warn_errno("%s: alias target %s: cannot read %s",
		    e->m->id, t, path);
		refuse(e, 'Z', "4.3.0", "cannot read include file %s", path);
	} else if (rc == -2) {
		log_warn("%s: alias target %s: %s", e->m->id, t,
		    buf_str(&err));
		refuse(e, 'Z', "4.3.0", "bad include file: %s", buf_str(&err));
	} else
		expand_list(e, list.data, list.len);
	e->depth--;
	buf_free(&list);
	buf_free(&err);
}

/* targets: NUL-terminated strings back to back (alias.h). */
static void
expand_list(struct expand *e, const char *data, size_t len)
{
	const char	*p = data, *end = data + len, *nul;

	while (p < end && !e->abort) {
		if ((nul = memchr(p, '\0', (size_t)(end - p))) == NULL) {
			/* Not made by alias_build(): the operator's to fix. */
			refuse(e, 'Z', "4.3.0", "aliases table: malformed "
			    "value (run \"postern newaliases\")");
			return;
		}
		expand_target(e, p);
		p = nul + 1;
	}
}

static void
expand_target(struct expand *e, const char *t)
{
	struct rcpt_route r;
	struct addr	 a;
	const char	*why;

	if (++e->seen > (size_t)e->q->conf.alias_max_targets) {
		refuse(e, 'D', "5.5.3", "alias expands to more than %d "
		    "targets (alias_max_targets)", e->q->conf.alias_max_targets);
		return;
	}
	if (t[0] == '|') {
		final_add(e, 'p', t + 1);
		return;
	}
	if (t[0] == '/') {
		final_add(e, 'f', t);
		return;
	}
	if (strncmp(t, ALIAS_INCLUDE_PREFIX, strlen(ALIAS_INCLUDE_PREFIX))
	    == 0) {
		expand_include(e, t);
		return;
	}
	memset(&r, 0, sizeof(r));
	if (t[0] == '\\') {
		/* "\user": the user's own mailbox, never an alias again
		 * (sendmail's way to write "bob: \bob, bob@elsewhere"). */
		switch (rcpt_resolve_user(t + 1, &r)) {
		case RCPT_USER:
			final_add(e, 'u', r.user);
			break;
		case RCPT_UNKNOWN:
			unknown(e, t + 1);
			break;
		default:
			refuse(e, 'Z', "4.3.0", "temporary lookup failure");
			break;
		}
		return;
	}
	memset(&a, 0, sizeof(a));
	if (strchr(t, '@') != NULL) {
		if (addr_parse_mailbox(t, ADDR_UTF8, &a, &why) == -1) {
			decided(e, t, 'D', "5.1.3", "alias target <%s>: %s",
			    t, why);
			return;
		}
	} else if (strlcpy(a.local, t, sizeof(a.local)) >= sizeof(a.local)) {
		unknown(e, t);
		return;
	}
	/* A bare name has an empty domain: local (rcpt.h, step 1). */
	switch (rcpt_resolve(&e->q->tables, &a, &r)) {
	case RCPT_ALIAS:
		expand_alias(e, r.alias);
		break;
	case RCPT_USER:
		final_add(e, 'u', r.user);
		break;
	case RCPT_VIRTUAL:
		final_add(e, 'v', r.mailbox);
		break;
	case RCPT_REMOTE:
		/* Remote delivery (rspawn) is not written yet. */
		decided(e, t, 'Z', "4.4.0", "alias target <%s>: remote "
		    "delivery is not available yet", t);
		break;
	case RCPT_UNKNOWN:
		unknown(e, t);
		break;
	case RCPT_TEMPFAIL:
	default:
		refuse(e, 'Z', "4.3.0", "temporary lookup failure");
		break;
	}
}

int
qmgr_alias_expand(struct qmgr *q, struct qmsg *m, size_t index,
    const char *rcpt, const struct rcpt_route *route, char *status,
    char *code, char **text)
{
	struct expand	 e;
	struct qgroup	*g;
	struct qjob	*j;
	size_t		 i;
	int		 queued = 0;

	memset(&e, 0, sizeof(e));
	e.q = q;
	e.m = m;
	e.rcpt = rcpt;
	e.postmaster = strcmp(route->alias, "postmaster") == 0;
	e.status = 'K';
	strlcpy(e.code, "2.0.0", sizeof(e.code));
	buf_init(&e.text, 0);

	expand_alias(&e, route->alias);

	if (!e.abort && e.nfinals == 0 && e.status == 'K')
		/* An empty :include: file: nobody to give it to. Bounced
		 * rather than dropped, so the sender learns of it. */
		refuse(&e, 'D', "5.1.1", "alias %s expands to no target",
		    route->alias);
	if (e.abort || e.nfinals == 0) {
		*status = e.status;
		strlcpy(code, e.code, 16);
		*text = qmgr_xstrdup(buf_str(&e.text));
	} else {
		g = qmgr_xcalloc(1, sizeof(*g));
		g->pending = e.nfinals;
		g->status = e.status;
		strlcpy(g->code, e.code, sizeof(g->code));
		if (e.status == 'K')
			(void)buf_setf(&e.text, "delivered to %zu alias "
			    "target%s", e.nfinals, e.nfinals == 1 ? "" : "s");
		g->text = qmgr_xstrdup(buf_str(&e.text));
		for (i = 0; i < e.nfinals; i++) {
			j = qmgr_xcalloc(1, sizeof(*j));
			j->msg = m;
			j->index = index;
			j->rcpt = qmgr_xstrdup(rcpt);
			j->kind = e.finals[i].kind;
			j->target = e.finals[i].target;
			e.finals[i].target = NULL;
			if (j->kind == 'f' || j->kind == 'p')
				j->as = qmgr_xstrdup(q->conf.alias_user);
			j->group = g;
			qmgr_job_add(q, j);
		}
		queued = 1;
	}
	for (i = 0; i < e.nfinals; i++)
		free(e.finals[i].target);
	free(e.finals);
	buf_free(&e.text);
	return queued;
}

int
qmgr_alias_job_done(struct qjob *j, char *status, const char **code,
    const char **text)
{
	struct qgroup	*g = j->group;
	struct buf	 t = BUF_INIT;

	target_log(j->msg, j->rcpt, j->kind, j->target, *status, *code,
	    *text);
	if (*status != 'K') {
		/* The recipient's text names the target that failed. */
		if (buf_setf(&t, "%s%s: %s", j->kind == 'p' ? "|" : "",
		    j->target, *text) == -1)
			fatal("out of memory");
	} else if (buf_set(&t, g->text, strlen(g->text)) == -1)
		fatal("out of memory");
	{
		struct buf	 gt = BUF_INIT;

		if (buf_set(&gt, g->text, strlen(g->text)) == -1)
			fatal("out of memory");
		fold(&g->status, g->code, sizeof(g->code), &gt, *status,
		    *code, buf_str(&t));
		free(g->text);
		g->text = qmgr_xstrdup(buf_str(&gt));
		buf_free(&gt);
	}
	buf_free(&t);
	if (--g->pending > 0) {
		qmgr_job_free(j);
		return 0;
	}
	*status = g->status;
	*code = g->code;
	*text = g->text;
	return 1;
}
