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
 * Decided per target here: an unknown name (D 5.1.1); a remote address is
 * a final target of kind 'r', delivered through rspawn. A duplicate final target is
 * delivered once. The outcomes of all targets fold into the recipient's:
 * all K -> K; any Z -> Z (the whole expansion is tried again on the next
 * pass, so targets that had it get it again: at-least-once,
 * docs/design-notes.md); otherwise D with the first failure's text.
 *
 * A user's ~/.forward is expanded here too (qmgr_alias_forward()): lspawn's
 * child reads it as the user and answers 'F' with its targets instead of
 * delivering; they replace that user's job in the recipient's group (made
 * then if the recipient was a plain user), with three differences: commands
 * and files run as the forwarding user, not alias_user; the user's own
 * name written straight in the user's .forward is the mailbox (kind 'm',
 * as "\user" is everywhere); and a user whose .forward is already on the
 * chain (a -> b -> a, or a's .forward -> an alias -> a) refuses the
 * forwarding user's delivery with D 5.4.6. A target given out once in a
 * group (an alias's or a .forward's) is not given out again.
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

struct expand {
	struct qmgr	*q;
	struct qmsg	*m;
	const char	*rcpt;		/* the original recipient */
	int		 postmaster;	/* it is postmaster: defer, not bounce */
	const char	*forwarder;	/* a .forward's user; NULL: an alias */
	const char	*fwd;		/* the .forward users so far, the
					 * forwarder last, '\n'-separated */
	const char	*what;		/* "alias" or ".forward", for texts */
	struct qgroup	*group;		/* targets given out already, or NULL */
	const char	*chain[CHAIN_MAX];	/* aliases and includes open */
	int		 depth;
	size_t		 seen;		/* targets looked at */
	struct qfinal	*finals;
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

/* A target decided here (unknown, bad syntax). */
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
		decided(e, target, 'D', "5.1.1", "%s target <%s>: user "
		    "unknown", e->what, target);
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

/* user among the .forward users of this chain? */
static int
fwd_has(const char *fwd, const char *user)
{
	size_t		 n = strlen(user);
	const char	*p = fwd;

	while (p != NULL) {
		if (strncmp(p, user, n) == 0 && (p[n] == '\n' ||
		    p[n] == '\0'))
			return 1;
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return 0;
}

/* "forward loop: a -> b -> list -> a": the .forward users, then the
 * aliases open now, then the user reached again. */
static void
refuse_forward_loop(struct expand *e, const char *user)
{
	struct buf	 path = BUF_INIT;
	const char	*p;
	int		 i;

	for (p = e->fwd; *p != '\0'; p++)
		if (*p == '\n' ? buf_adds(&path, " -> ") == -1 :
		    buf_addc(&path, *p) == -1)
			fatal("out of memory");
	for (i = 0; i < e->depth; i++)
		if (buf_adds(&path, " -> ") == -1 ||
		    buf_adds(&path, e->chain[i]) == -1)
			fatal("out of memory");
	if (buf_adds(&path, " -> ") == -1 || buf_adds(&path, user) == -1)
		fatal("out of memory");
	refuse(e, 'D', "5.4.6", "forward loop: %s", buf_str(&path));
	buf_free(&path);
}

static int
final_same(const struct qfinal *f, char kind, const char *target,
    const char *as)
{
	return f->kind == kind && strcmp(f->target, target) == 0 &&
	    strcmp(f->as, as) == 0;
}

/* A final target, once per recipient: in this expansion, and in the
 * group's earlier ones (an alias and a .forward naming the same user). */
static void
final_add(struct expand *e, char kind, const char *target)
{
	struct passwd	*pw;
	const char	*as = "";
	size_t		 i;

	if (e->forwarder != NULL && kind == 'u' && fwd_has(e->fwd, target)) {
		/* The user's own name, straight in the user's .forward
		 * ("bob: \bob, bob@elsewhere" written as "bob,
		 * bob@elsewhere"): the mailbox. Any other way back to a
		 * .forward of this chain goes round for ever. */
		if (strcmp(target, e->forwarder) == 0 && e->depth == 0)
			kind = 'm';
		else {
			refuse_forward_loop(e, target);
			return;
		}
	}
	if (kind == 'f' || kind == 'p')
		/* A .forward's commands and files run as its user. */
		as = e->forwarder != NULL ? e->forwarder :
		    e->q->conf.alias_user;
	for (i = 0; i < e->nfinals; i++)
		if (final_same(&e->finals[i], kind, target, as))
			return;
	for (i = 0; e->group != NULL && i < e->group->nfinals; i++)
		if (final_same(&e->group->finals[i], kind, target, as))
			return;
	if ((kind == 'f' || kind == 'p') && e->forwarder == NULL) {
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
	e->finals[e->nfinals].as = qmgr_xstrdup(as);
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
		/* "\user": the user's own mailbox, never an alias again,
		 * nor the user's .forward (sendmail's way to write "bob:
		 * \bob, bob@elsewhere"): kind 'm'. */
		switch (rcpt_resolve_user(t + 1, &r)) {
		case RCPT_USER:
			final_add(e, 'm', r.user);
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
			decided(e, t, 'D', "5.1.3", "%s target <%s>: %s",
			    e->what, t, why);
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
		final_add(e, 'r', t);	/* through rspawn (qmgr_dest.c) */
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

/* Fold an outcome into the group's, which keeps its own copy of the text. */
static void
group_fold(struct qgroup *g, char status, const char *code, const char *text)
{
	struct buf	 gt = BUF_INIT;

	if (buf_set(&gt, g->text, strlen(g->text)) == -1)
		fatal("out of memory");
	fold(&g->status, g->code, sizeof(g->code), &gt, status, code, text);
	free(g->text);
	g->text = qmgr_xstrdup(buf_str(&gt));
	buf_free(&gt);
}

static void
group_remember(struct qgroup *g, char kind, const char *target,
    const char *as)
{
	g->finals = reallocarray(g->finals, g->nfinals + 1,
	    sizeof(*g->finals));
	if (g->finals == NULL)
		fatal("out of memory");
	g->finals[g->nfinals].kind = kind;
	g->finals[g->nfinals].target = qmgr_xstrdup(target);
	g->finals[g->nfinals].as = qmgr_xstrdup(as);
	g->nfinals++;
}

/* One job per final target of e, in group g, for recipient index. */
static void
group_jobs(struct qmgr *q, struct expand *e, struct qgroup *g, size_t index)
{
	struct qjob	*j;
	size_t		 i;

	for (i = 0; i < e->nfinals; i++) {
		group_remember(g, e->finals[i].kind, e->finals[i].target,
		    e->finals[i].as);
		j = qmgr_xcalloc(1, sizeof(*j));
		j->msg = e->m;
		j->index = index;
		j->rcpt = qmgr_xstrdup(e->rcpt);
		j->kind = e->finals[i].kind;
		j->target = e->finals[i].target;
		e->finals[i].target = NULL;
		if (e->finals[i].as[0] != '\0')
			j->as = qmgr_xstrdup(e->finals[i].as);
		/* A user reached through a .forward carries the chain, so
		 * that the user's own .forward can tell a loop. */
		if (j->kind == 'u' && e->fwd != NULL)
			j->fwd = qmgr_xstrdup(e->fwd);
		j->group = g;
		g->pending++;
		qmgr_job_add(q, j);
	}
}

static void
expand_free(struct expand *e)
{
	size_t	 i;

	for (i = 0; i < e->nfinals; i++) {
		free(e->finals[i].target);
		free(e->finals[i].as);
	}
	free(e->finals);
	buf_free(&e->text);
}

void
qmgr_group_free(struct qgroup *g)
{
	size_t	 i;

	for (i = 0; i < g->nfinals; i++) {
		free(g->finals[i].target);
		free(g->finals[i].as);
	}
	free(g->finals);
	free(g->text);
	free(g);
}

int
qmgr_alias_expand(struct qmgr *q, struct qmsg *m, size_t index,
    const char *rcpt, const struct rcpt_route *route, char *status,
    char *code, char **text)
{
	struct expand	 e;
	struct qgroup	*g;
	int		 queued = 0;

	memset(&e, 0, sizeof(e));
	e.q = q;
	e.m = m;
	e.rcpt = rcpt;
	e.postmaster = strcmp(route->alias, "postmaster") == 0;
	e.what = "alias";
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
		g->status = e.status;
		strlcpy(g->code, e.code, sizeof(g->code));
		if (e.status == 'K')
			(void)buf_setf(&e.text, "delivered to %zu alias "
			    "target%s", e.nfinals, e.nfinals == 1 ? "" : "s");
		g->text = qmgr_xstrdup(buf_str(&e.text));
		group_jobs(q, &e, g, index);
		queued = 1;
	}
	expand_free(&e);
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
	group_fold(g, *status, *code, buf_str(&t));
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

/*
 * Targets as lspawn sent them, "a\n|cmd\n/file", into NUL-ended ones as
 * expand_list() takes them. 0, or -1 when they break the protocol.
 */
static int
forward_list(const char *targets, struct buf *list)
{
	size_t	 len = strlen(targets), i;

	if (!alias_forward_valid(targets, len) ||
	    buf_set(list, targets, len + 1) == -1)
		return -1;
	for (i = 0; i < len; i++)
		if (list->data[i] == '\n')
			list->data[i] = '\0';
	return 0;
}

void
qmgr_alias_forward(struct qmgr *q, struct qjob *j, const char *targets)
{
	struct expand	 e;
	struct buf	 list = BUF_INIT, fwd = BUF_INIT;
	struct qgroup	*g;
	const char	*p;
	int		 users = 1;

	if (j->kind != 'u') {
		log_warn("%s: lspawn sent .forward targets for <%s>, a "
		    "delivery of kind %c", j->msg->id, j->rcpt, j->kind);
		qmgr_msg_outcome(q, j, 'Z', "4.3.0", "unexpected .forward "
		    "answer from lspawn");
		return;
	}
	if (forward_list(targets, &list) == -1) {
		/* lspawn checked them; if they are bad all the same, the
		 * mail goes where it would without a .forward. */
		log_warn("%s: malformed .forward targets of %s from lspawn; "
		    "delivering <%s> to the mailbox", j->msg->id, j->target,
		    j->rcpt);
		buf_free(&list);
		j->kind = 'm';
		qmgr_job_add(q, j);
		return;
	}
	if (j->fwd != NULL && (buf_adds(&fwd, j->fwd) == -1 ||
	    buf_addc(&fwd, '\n') == -1))
		fatal("out of memory");
	if (buf_adds(&fwd, j->target) == -1)
		fatal("out of memory");
	for (p = buf_str(&fwd); *p != '\0'; p++)
		users += *p == '\n';

	memset(&e, 0, sizeof(e));
	e.q = q;
	e.m = j->msg;
	e.rcpt = j->rcpt;
	e.forwarder = j->target;
	e.fwd = buf_str(&fwd);
	e.what = ".forward";
	e.group = j->group;
	e.status = 'K';
	strlcpy(e.code, "2.0.0", sizeof(e.code));
	buf_init(&e.text, 0);

	if (users > q->conf.alias_max_depth)
		refuse(&e, 'D', "5.4.6", "forwarded through more than %d "
		    ".forward files (alias_max_depth)",
		    q->conf.alias_max_depth);
	else
		expand_list(&e, list.data, list.len);
	log_info("%s: to=<%s>, orig_to=<%s>, relay=local, forwarded by "
	    "~%s/.forward to %zu target%s%s", j->msg->id, j->target, j->rcpt,
	    j->target, e.nfinals, e.nfinals == 1 ? "" : "s",
	    e.abort ? " (refused)" : "");

	if (e.abort || (e.nfinals == 0 && e.status != 'K'))
		/* A loop, or nothing deliverable: the forwarding user's
		 * delivery fails with it, folded into the recipient's. */
		qmgr_msg_outcome(q, j, e.status, e.code, buf_str(&e.text));
	else if (e.nfinals == 0)
		/* Every target has the message already (an alias gave it
		 * to them too): nothing more to do. */
		qmgr_msg_outcome(q, j, 'K', "2.0.0", "forwarded to targets "
		    "that have the message already");
	else {
		if ((g = j->group) == NULL) {
			/* A plain user's delivery becomes a group: the
			 * targets' outcomes fold into the recipient's one
			 * record, as an alias's do. Nothing is written to
			 * state/ for the 'F' itself. */
			g = qmgr_xcalloc(1, sizeof(*g));
			g->status = 'K';
			strlcpy(g->code, "2.0.0", sizeof(g->code));
			g->text = qmgr_xstrdup("delivered to .forward targets");
			/* The forwarder's plain delivery counts as given
			 * out: "\user" is 'm', another kind. */
			group_remember(g, 'u', j->target, "");
			g->pending = 1;		/* j, until replaced */
			j->group = g;
		}
		if (e.status != 'K')
			group_fold(g, e.status, e.code, buf_str(&e.text));
		group_jobs(q, &e, g, j->index);
		g->pending--;			/* j is replaced by them */
		qmgr_job_free(j);
	}
	expand_free(&e);
	buf_free(&list);
	buf_free(&fwd);
}
