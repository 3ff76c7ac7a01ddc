/*
 * qlist.c: read the spool into a list of messages, and filter it
 * (qlist.h). Called by "postern queue" and its operations, and meant for
 * mailq: nothing here writes, moves or locks anything, so it can run
 * beside a working qmgr. A file that vanishes between readdir() and open()
 * was moved by qmgr (or an operator) meanwhile and is simply not listed;
 * one that moved from new/ to active/ may be missed for this one listing,
 * which is the price of never locking qmgr out.
 */
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <bsd/string.h>

#include "buf.h"
#include "qfile.h"
#include "qlist.h"
#include "qstate.h"
#include "spool.h"

static const char *const all_dirs[] = { SPOOL_NEW, SPOOL_ACTIVE,
    SPOOL_DEFERRED, SPOOL_HOLD, SPOOL_CORRUPT, NULL };

void
qlist_filter_init(struct qlist_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->older = f->younger = -1;
}

int
qlist_filter_envelope(const struct qlist_filter *f)
{
	return f->sender != NULL || f->rcpt != NULL || f->domain != NULL ||
	    f->error != NULL;
}

static const char *
domain_of(const char *addr)
{
	const char	*at = strrchr(addr, '@');

	return at == NULL ? "" : at + 1;
}

int
qlist_match(const struct qlist_filter *f, const struct qlist_msg *m,
    time_t now)
{
	long long	 age = (long long)now - m->arrival;
	const char	*s;
	size_t		 i;
	int		 hit;

	if (f == NULL)
		return 1;
	if (f->older >= 0 && age < f->older)
		return 0;
	if (f->younger >= 0 && age >= f->younger)
		return 0;
	if (!qlist_filter_envelope(f))
		return 1;
	if (m->corrupt || m->sender == NULL)
		return 0;
	if (f->sender != NULL) {
		s = strcmp(f->sender, "<>") == 0 ? "" : f->sender;
		if (strcasecmp(s, m->sender) != 0)
			return 0;
	}
	if (f->rcpt != NULL) {
		for (hit = 0, i = 0; i < m->nrcpt && !hit; i++)
			hit = strcasecmp(f->rcpt, m->rcpt[i].addr) == 0;
		if (!hit)
			return 0;
	}
	if (f->domain != NULL) {
		for (hit = 0, i = 0; i < m->nrcpt && !hit; i++)
			hit = strcasecmp(f->domain,
			    domain_of(m->rcpt[i].addr)) == 0;
		if (!hit)
			return 0;
	}
	if (f->error != NULL) {
		/* Only a recipient still waiting has a "last error": the
		 * text of a delivered one is its success reply. */
		for (hit = 0, i = 0; i < m->nrcpt && !hit; i++)
			hit = m->rcpt[i].status != 'K' &&
			    m->rcpt[i].status != 0 &&
			    (strcasestr(m->rcpt[i].text, f->error) != NULL ||
			    strstr(m->rcpt[i].code, f->error) != NULL);
		if (!hit)
			return 0;
	}
	return 1;
}

static char *
xstrdup(const char *s)
{
	return strdup(s);
}

void
qlist_msg_free(struct qlist_msg *m)
{
	size_t	 i;

	for (i = 0; i < m->nrcpt && m->rcpt != NULL; i++) {
		free(m->rcpt[i].addr);
		free(m->rcpt[i].text);
	}
	free(m->rcpt);
	free(m->sender);
	free(m->reason);
	memset(m, 0, sizeof(*m));
}

void
qlist_free(struct qlist *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		qlist_msg_free(&l->msg[i]);
	free(l->msg);
	memset(l, 0, sizeof(*l));
}

/*
 * Read dir/name into m. 1 read (possibly as corrupt), 0 gone meanwhile,
 * -1 out of memory or an I/O error (errno).
 */
static int
msg_load(const char *dir, const char *name, struct qlist_msg *m)
{
	struct qenv	 env;
	struct qstate_rcpt *st = NULL;
	struct buf	 err = BUF_INIT;
	struct stat	 sb;
	char		 path[PATH_MAX];
	size_t		 i;
	int		 fd, rc, r = -1;

	memset(m, 0, sizeof(*m));
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path) || strlcpy(m->id, name, sizeof(m->id)) >=
	    sizeof(m->id))
		return 0;		/* not a name Postern makes */
	m->queue = dir;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return 0;
	}
	m->mtime = sb.st_mtime;
	m->size = (long long)sb.st_size;
	m->arrival = (long long)sb.st_mtime;
	qenv_init(&env);
	rc = qfile_read(fd, &env, &err);
	close(fd);
	if (rc == QFILE_IOERR)
		goto out;
	if (rc == QFILE_CORRUPT || strcmp(dir, SPOOL_CORRUPT) == 0) {
		m->corrupt = 1;
		m->reason = xstrdup(rc == QFILE_CORRUPT ? buf_str(&err) :
		    "moved to corrupt/ by qmgr");
		if (m->reason == NULL)
			goto out;
		if (rc == QFILE_CORRUPT) {
			r = 1;
			goto out;
		}
	}
	m->size = (long long)env.msg_len;
	m->arrival = env.arrival;
	if ((m->sender = xstrdup(env.sender)) == NULL ||
	    (m->rcpt = calloc(env.nrcpt, sizeof(*m->rcpt))) == NULL ||
	    (st = calloc(env.nrcpt, sizeof(*st))) == NULL)
		goto out;
	m->nrcpt = env.nrcpt;
	/* No state file is no outcome yet; a bad one is shown as that too
	 * (qstate_read() warned): the listing must not fail over it. */
	if (!m->corrupt && qstate_read(name, st, env.nrcpt) == -1)
		memset(st, 0, env.nrcpt * sizeof(*st));
	for (i = 0; i < env.nrcpt; i++) {
		if ((m->rcpt[i].addr = xstrdup(env.rcpt[i])) == NULL ||
		    (m->rcpt[i].text = xstrdup(st[i].text)) == NULL)
			goto out;
		m->rcpt[i].status = st[i].status;
		strlcpy(m->rcpt[i].code, st[i].code, sizeof(m->rcpt[i].code));
	}
	r = 1;
out:
	if (r == -1)
		qlist_msg_free(m);
	free(st);
	qenv_free(&env);
	buf_free(&err);
	return r;
}

static int
list_add(struct qlist *l, struct qlist_msg *m)
{
	struct qlist_msg *p;
	size_t		 cap;

	if (l->n == l->cap) {
		cap = l->cap == 0 ? 16 : l->cap * 2;
		if ((p = reallocarray(l->msg, cap, sizeof(*p))) == NULL)
			return -1;
		l->msg = p;
		l->cap = cap;
	}
	l->msg[l->n++] = *m;
	return 0;
}

static int
by_arrival(const void *a, const void *b)
{
	const struct qlist_msg *x = a, *y = b;

	if (x->arrival != y->arrival)
		return x->arrival < y->arrival ? -1 : 1;
	return strcmp(x->id, y->id);
}

int
qlist_read(struct qlist *l, const struct qlist_filter *f,
    const char *const *dirs, time_t now)
{
	struct qlist_msg m;
	struct dirent	*de;
	DIR		*d;
	size_t		 i;
	int		 r, saved;

	memset(l, 0, sizeof(*l));
	for (i = 0; (dirs != NULL ? dirs : all_dirs)[i] != NULL; i++) {
		const char *dir = (dirs != NULL ? dirs : all_dirs)[i];

		if ((d = opendir(dir)) == NULL) {
			if (errno == ENOENT)
				continue;	/* an older spool */
			return -1;
		}
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			/* Outside corrupt/, qmgr never parses a name that
			 * is not an ID (it moves it to corrupt/): neither do
			 * we. */
			if (strcmp(dir, SPOOL_CORRUPT) != 0 &&
			    !spool_id_valid(de->d_name))
				continue;
			if ((r = msg_load(dir, de->d_name, &m)) == 0)
				continue;
			if (r == -1 && errno != ENOMEM)
				continue;	/* unreadable: skip it */
			if (r == -1 || (qlist_match(f, &m, now) &&
			    list_add(l, &m) == -1)) {
				saved = errno;
				qlist_msg_free(&m);
				closedir(d);
				errno = saved;
				return -1;
			}
			if (!qlist_match(f, &m, now))
				qlist_msg_free(&m);
		}
		closedir(d);
	}
	if (l->n > 1)
		qsort(l->msg, l->n, sizeof(l->msg[0]), by_arrival);
	return 0;
}

int
qlist_find(const char *id, struct qlist_msg *m)
{
	size_t	 i;
	int	 r;

	if (!spool_id_valid(id))
		return 0;
	/* active/ last: a message qmgr takes while we look moves from new/
	 * or deferred/ to active/, the order we look in. */
	for (i = 0; all_dirs[i] != NULL; i++) {
		if (strcmp(all_dirs[i], SPOOL_ACTIVE) == 0)
			continue;
		if ((r = msg_load(all_dirs[i], id, m)) != 0)
			return r;
	}
	return msg_load(SPOOL_ACTIVE, id, m);
}
