/*
 * headers.c: the header block of a message handed to sendmail(8), and the
 * addresses in its To, Cc and Bcc fields (sendmail -t).
 *
 * Called by sendmail.c, and by tests/unit/test_sendmail_headers.c. Pure
 * functions: no I/O, no global state; -1 with errno ENOMEM (or a reason in
 * *why for an address) on failure.
 *
 * Rules:
 *  - RFC 5322 2.2: a field is a name of printable ASCII but ':' and blanks,
 *    ':', a value; a line starting with a blank continues (folds) the field
 *    before it. obs-syntax (RFC 5322 4.5) blanks before the colon are
 *    accepted. The block ends at the first empty line or at the first line
 *    that is neither (which then starts the body, as Postfix's cleanup does).
 *  - RFC 5322 3.4 address-list, for -t: mailboxes, name-addr with a display
 *    name (quoted or not, encoded words left alone and dropped), comments
 *    (nested, with quoted-pairs) anywhere, groups "name: a@b, c@d;" whose
 *    members are all recipients (RFC 2821 appendix B), an empty group
 *    "undisclosed-recipients:;" that adds nobody, source routes in angle
 *    brackets (RFC 5321 4.1.2 obs) reduced to the mailbox. A name without
 *    '@' is a local user: qualified with the host name.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "sendmail.h"

void
headers_init(struct headers *hs)
{
	memset(hs, 0, sizeof(*hs));
}

void
headers_free(struct headers *hs)
{
	size_t	 i;

	for (i = 0; i < hs->n; i++)
		free(hs->h[i].text);
	free(hs->h);
	memset(hs, 0, sizeof(*hs));
}

static int
headers_push(struct headers *hs, const char *p, size_t len, size_t namelen)
{
	struct hdr	*v;
	char		*t;

	if (hs->n == hs->cap) {
		if ((v = reallocarray(hs->h, hs->cap ? hs->cap * 2 : 16,
		    sizeof(*v))) == NULL)
			return -1;
		hs->h = v;
		hs->cap = hs->cap ? hs->cap * 2 : 16;
	}
	if ((t = strndup(p, len)) == NULL)
		return -1;
	hs->h[hs->n].text = t;
	hs->h[hs->n].namelen = namelen;
	hs->n++;
	return 0;
}

/* The length of the field name at p (len bytes of line), 0 if the line is
 * not a field. */
static size_t
field_name(const char *p, size_t len)
{
	size_t	 i, n;

	for (i = 0; i < len && p[i] > ' ' && p[i] < 127 && p[i] != ':'; i++)
		;
	if (i == 0)
		return 0;
	for (n = i; n < len && (p[n] == ' ' || p[n] == '\t'); n++)
		;
	return n < len && p[n] == ':' ? i : 0;
}

int
headers_parse(struct headers *hs, const char *msg, size_t len, size_t *body)
{
	size_t	 pos = 0, ll, nl, name;
	const char *p, *e;
	char	*t;

	while (pos < len) {
		p = msg + pos;
		e = memchr(p, '\n', len - pos);
		ll = e != NULL ? (size_t)(e - p) : len - pos;
		nl = e != NULL ? ll + 1 : ll;
		if (ll == 0 || (ll == 1 && p[0] == '\r')) {
			*body = pos + nl;	/* the empty line is neither */
			return 0;
		}
		if ((p[0] == ' ' || p[0] == '\t') && hs->n > 0) {
			/* RFC 5322 2.2.3: a fold of the field before. */
			size_t	 old = strlen(hs->h[hs->n - 1].text);

			if ((t = realloc(hs->h[hs->n - 1].text, old + ll + 2)) ==
			    NULL)
				return -1;
			t[old] = '\n';
			memcpy(t + old + 1, p, ll);
			t[old + 1 + ll] = '\0';
			hs->h[hs->n - 1].text = t;
		} else if ((name = field_name(p, ll)) > 0) {
			if (headers_push(hs, p, ll, name) == -1)
				return -1;
		} else
			break;		/* not a field: the body starts here */
		pos += nl;
	}
	*body = pos;
	return 0;
}

static int
is_named(const struct hdr *h, const char *name)
{
	return strlen(name) == h->namelen &&
	    strncasecmp(h->text, name, h->namelen) == 0;
}

int
headers_has(const struct headers *hs, const char *name)
{
	size_t	 i;

	for (i = 0; i < hs->n; i++)
		if (is_named(&hs->h[i], name))
			return 1;
	return 0;
}

size_t
headers_remove(struct headers *hs, const char *name)
{
	size_t	 i, j = 0, gone = 0;

	for (i = 0; i < hs->n; i++) {
		if (is_named(&hs->h[i], name)) {
			free(hs->h[i].text);
			gone++;
		} else
			hs->h[j++] = hs->h[i];
	}
	hs->n = j;
	return gone;
}

int
headers_add(struct headers *hs, const char *text)
{
	size_t	 name = field_name(text, strlen(text));

	if (name == 0) {
		errno = EINVAL;
		return -1;
	}
	return headers_push(hs, text, strlen(text), name);
}

void
headers_value(const struct headers *hs, size_t i, struct buf *out)
{
	const char	*p = strchr(hs->h[i].text, ':') + 1;

	buf_reset(out);
	for (; *p != '\0'; p++)
		buf_addc(out, *p == '\n' || *p == '\r' || *p == '\t' ? ' ' :
		    *p);
	buf_adds(out, "");	/* NUL-terminated even when empty */
}

void
alist_init(struct alist *l)
{
	memset(l, 0, sizeof(*l));
}

void
alist_free(struct alist *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		free(l->a[i]);
	free(l->a);
	memset(l, 0, sizeof(*l));
}

int
alist_add(struct alist *l, const char *spec, const char *domain,
    const char **why)
{
	struct buf	 q = BUF_INIT;
	struct addr	 a;
	char		 text[ADDR_TEXT_MAX], **v;
	const char	*at, *quote;
	size_t		 i;

	/* A local part alone (no '@' after any quoted part): a local user. */
	at = strrchr(spec, '@');
	quote = strrchr(spec, '"');
	if (buf_adds(&q, spec) == -1 || ((at == NULL || (quote != NULL &&
	    quote > at)) && buf_addf(&q, "@%s", domain) == -1)) {
		buf_free(&q);
		*why = "out of memory";
		return -1;
	}
	if (addr_parse_mailbox(buf_str(&q), ADDR_UTF8, &a, why) == -1) {
		buf_free(&q);
		return -1;
	}
	buf_free(&q);
	if (addr_format(&a, text, sizeof(text)) == -1) {
		*why = "address too long";
		return -1;
	}
	for (i = 0; i < l->n; i++)
		if (strcmp(l->a[i], text) == 0)
			return 0;
	if (l->n == l->cap) {
		if ((v = reallocarray(l->a, l->cap ? l->cap * 2 : 8,
		    sizeof(*v))) == NULL) {
			*why = "out of memory";
			return -1;
		}
		l->a = v;
		l->cap = l->cap ? l->cap * 2 : 8;
	}
	if ((l->a[l->n] = strdup(text)) == NULL) {
		*why = "out of memory";
		return -1;
	}
	l->n++;
	return 0;
}

/* Blanks kept between words (so "John Smith" is not taken for an address)
 * but not around '@' and '.' (RFC 5322 4.4 obs-local-part, obs-domain). */
static void
spec_tidy(struct buf *b)
{
	size_t	 i, j = 0;
	char	*s = b->data;

	if (s == NULL)
		return;
	for (i = 0; i < b->len; i++) {
		if (s[i] == ' ' && (j == 0 || i + 1 == b->len ||
		    s[j - 1] == '@' || s[j - 1] == '.' || s[i + 1] == '@' ||
		    s[i + 1] == '.' || s[i + 1] == ' '))
			continue;
		s[j++] = s[i];
	}
	b->len = j;
	s[j] = '\0';
}

/* The address gathered so far, if any, into l. */
static int
alist_flush(struct alist *l, struct buf *cur, struct buf *ang, int got_angle,
    const char *domain, struct buf *bad, const char **why)
{
	struct buf	*b = got_angle ? ang : cur;
	const char	*s, *colon;
	int		 r = 0;

	spec_tidy(b);
	s = buf_str(b);
	/* RFC 5321 4.1.2 obs source route "<@a,@b:user@c>": the mailbox. */
	if (got_angle && s[0] == '@' && (colon = strchr(s, ':')) != NULL)
		s = colon + 1;
	if (s[0] != '\0' && alist_add(l, s, domain, why) == -1) {
		buf_setf(bad, "%s", s);
		r = -1;
	}
	buf_reset(cur);
	buf_reset(ang);
	return r;
}

int
alist_parse(struct alist *l, const char *v, const char *domain,
    struct buf *bad, const char **why)
{
	struct buf	 cur = BUF_INIT, ang = BUF_INIT, *b;
	int		 in_angle = 0, got_angle = 0, depth, r = -1;
	const char	*p;

	for (p = v;; p++) {
		b = in_angle ? &ang : &cur;
		if (*p == '\0' || (!in_angle && (*p == ',' || *p == ';'))) {
			if (*p == '\0' && in_angle) {
				*why = "missing '>'";
				buf_setf(bad, "<%s", buf_str(&ang));
				goto out;
			}
			if (alist_flush(l, &cur, &ang, got_angle, domain, bad,
			    why) == -1)
				goto out;
			got_angle = 0;
			if (*p == '\0')
				break;
			continue;
		}
		switch (*p) {
		case '(':	/* RFC 5322 3.2.2: a comment is a blank */
			for (depth = 1, p++; *p != '\0' && depth > 0; p++) {
				if (*p == '\\' && p[1] != '\0')
					p++;
				else if (*p == '(')
					depth++;
				else if (*p == ')')
					depth--;
			}
			if (depth > 0) {
				*why = "unterminated comment";
				buf_setf(bad, "%s", v);
				goto out;
			}
			p--;
			buf_addc(b, ' ');
			break;
		case '"':	/* a quoted string, kept as written */
			buf_addc(b, '"');
			for (p++; *p != '\0' && *p != '"'; p++) {
				if (*p == '\\' && p[1] != '\0')
					buf_addc(b, *p++);
				buf_addc(b, *p);
			}
			if (*p == '\0') {
				*why = "unterminated quoted string";
				buf_setf(bad, "%s", v);
				goto out;
			}
			buf_addc(b, '"');
			break;
		case '[':	/* a domain literal, kept as written */
			for (; *p != '\0' && *p != ']'; p++)
				buf_addc(b, *p);
			if (*p == '\0') {
				*why = "missing ']'";
				buf_setf(bad, "%s", v);
				goto out;
			}
			buf_addc(b, ']');
			break;
		case '<':
			if (in_angle) {
				*why = "'<' inside '<>'";
				buf_setf(bad, "%s", v);
				goto out;
			}
			in_angle = got_angle = 1;
			buf_reset(&ang);
			break;
		case '>':
			if (!in_angle) {
				*why = "'>' without '<'";
				buf_setf(bad, "%s", v);
				goto out;
			}
			in_angle = 0;
			break;
		case ':':
			if (in_angle)
				buf_addc(b, ':');
			else		/* a group's display name: dropped */
				buf_reset(&cur);
			break;
		case ' ':
		case '\t':
		case '\r':
		case '\n':
			buf_addc(b, ' ');
			break;
		default:
			buf_addc(b, *p);
		}
	}
	r = 0;
out:
	buf_free(&cur);
	buf_free(&ang);
	return r;
}

int
headers_recipients(const struct headers *hs, const char *domain,
    struct alist *out, struct buf *bad, const char **why)
{
	static const char *const dest[] = { "To", "Cc", "Bcc" };
	struct buf	 val = BUF_INIT;
	size_t		 i, k;
	int		 r = 0;

	for (i = 0; i < hs->n && r == 0; i++)
		for (k = 0; k < sizeof(dest) / sizeof(dest[0]); k++)
			if (is_named(&hs->h[i], dest[k])) {
				headers_value(hs, i, &val);
				r = alist_parse(out, buf_str(&val), domain,
				    bad, why);
				break;
			}
	buf_free(&val);
	return r;
}
