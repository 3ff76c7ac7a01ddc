/*
 * enqueue_policy.c: who may send what through us. The relay table, the
 * access table and the senders table, judged by enqueue for its one
 * session (docs/tables.md has their formats).
 *
 * Called by enqueue.c: policy_mail() at 'M', policy_rcpt() at 'R' before
 * the recipient is resolved, policy_relay() at 'R' for a recipient that is
 * not ours (RCPT_REMOTE). Each returns 0 to let the command through, or 1
 * with the whole SMTP reply line in out (enqueue sends it as 'E').
 *
 * Rules:
 *  - RFC 2821 7.7 and DESIGN.md: a recipient in a domain that is not ours
 *    is accepted only from a client in the relay table (IPv4/IPv6 address
 *    or CIDR prefix, common/cidr.c) or from an authenticated session
 *    (RFC 4954 via enqueue_auth.c); else 550 5.7.1 Relay access denied.
 *    A local submission (client "") is trusted.
 *  - access: "client:IP" exactly, then "client:CIDR" keys in file order,
 *    at 'M'; then "helo:NAME", "sender:ADDR", "sender:@DOMAIN" at 'M';
 *    "rcpt:ADDR", "rcpt:@DOMAIN" at 'R'. First match wins. "OK" ends the
 *    search for that check; "OK" for the client exempts the session from
 *    every later access check (never from relay control). "REJECT [text]"
 *    is 550 5.7.1 (RFC 2821 appendix: policy refusals are 550).
 *  - senders: an authenticated MAIL FROM must be listed for the login:
 *    key the sender or "@domain" (first match wins), value the logins.
 *    553 5.7.1 (RFC 4954 7: the address is "not owned by user").
 *
 * The client's verdicts (relay and access) are computed once per session
 * on first need, from one pass over the table (table_scan()); every lookup
 * stat()s the table's file, so a rebuilt table is seen at once, even by a
 * worker that kept the handle from an earlier session. Any doubt is a
 * temporary failure (451 4.3.0), never a pass: a table that cannot be read
 * or an entry that makes no sense is logged and the client is asked to
 * retry. An operator error must not open the relay.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <bsd/string.h>

#include "addr.h"
#include "log.h"
#include "enqueue.h"

/* REJECT text: printable ASCII, at most this long, so the reply line
 * stays under RFC 5321 4.5.3.1.5's 512 octets. */
#define ACCESS_TEXT_MAX	200
#define KEY_MAX		(ADDR_TEXT_MAX + 16)

enum verdict { V_NONE, V_OK, V_REJECT, V_ERROR };

void
policy_tables_init(struct policy_tables *t, const struct conf *conf)
{
	table_init(&t->relay, conf, "relay");
	table_init(&t->access, conf, "access");
	table_init(&t->senders, conf, "senders");
}

void
policy_tables_close(struct policy_tables *t)
{
	table_close(&t->relay);
	table_close(&t->access);
	table_close(&t->senders);
}

/* A session's policy state, none of it from the session before. */
void
policy_init(struct policy *p, struct policy_tables *t, const char *client)
{
	memset(p, 0, sizeof(*p));
	p->t = t;
	strlcpy(p->client, client, sizeof(p->client));
	p->local = client[0] == '\0';
	/* The client address came from master (-a), checked by
	 * enqueue_check_client(); it always parses. */
	if (!p->local && cidr_parse(client, strlen(client), &p->addr) == -1)
		fatal("client address %s does not parse", client);
	p->relay_ok = -1;
	p->client_verdict = -1;
}

/* "OK" or "REJECT [text]" into *text (the reply text). */
static enum verdict
access_value(struct policy *p, const char *key, const char *v, char *text,
    size_t textsz)
{
	size_t	 i;

	if (strcasecmp(v, "OK") == 0)
		return V_OK;
	if (strncasecmp(v, "REJECT", 6) == 0 && (v[6] == '\0' ||
	    v[6] == ' ' || v[6] == '\t')) {
		for (v += 6; *v == ' ' || *v == '\t'; v++)
			;
		if (*v == '\0')
			v = "Access denied";
		for (i = 0; v[i] != '\0'; i++)
			if ((unsigned char)v[i] < 0x20 ||
			    (unsigned char)v[i] > 0x7e)
				break;
		if (v[i] == '\0' && i <= ACCESS_TEXT_MAX) {
			strlcpy(text, v, textsz);
			return V_REJECT;
		}
	}
	log_warn("table %s: %s: value is not \"OK\" or \"REJECT [text]\" "
	    "(printable ASCII, at most %d bytes)", p->t->access.path, key,
	    ACCESS_TEXT_MAX);
	return V_ERROR;
}

static enum verdict
access_lookup(struct policy *p, const char *key, char *text, size_t textsz)
{
	struct buf	 v = BUF_INIT;
	enum verdict	 r;
	int		 found;

	found = table_lookup(&p->t->access, key, &v);
	if (found == -1) {
		log_warn_errno("table %s: lookup of %s", p->t->access.path, key);
		r = V_ERROR;
	} else if (found == 0)
		r = V_NONE;
	else
		r = access_value(p, key, buf_str(&v), text, textsz);
	buf_free(&v);
	return r;
}

/* "PREFIX:addr", then "PREFIX:@domain" (the address lowercased). */
static enum verdict
access_address(struct policy *p, const char *prefix, const char *address,
    char *text, size_t textsz)
{
	char		 key[KEY_MAX];
	const char	*at;
	enum verdict	 r;

	if (address[0] == '\0')
		return V_NONE;		/* the null sender: no key */
	snprintf(key, sizeof(key), "%s:%s", prefix, address);
	addr_lower(key);
	if ((r = access_lookup(p, key, text, textsz)) != V_NONE)
		return r;
	if ((at = strrchr(address, '@')) == NULL)
		return V_NONE;		/* <postmaster> */
	snprintf(key, sizeof(key), "%s:%s", prefix, at);
	addr_lower(key);
	return access_lookup(p, key, text, textsz);
}

struct client_scan {
	struct policy	*p;
	enum verdict	 r;
	char		*text;
	size_t		 textsz;
};

/* table_scan() callback: the first client:CIDR key that holds us. */
static int
client_scan_one(void *arg, const char *key, const char *value)
{
	struct client_scan	*cs = arg;
	struct cidr		 net;

	if (cs->r != V_NONE || strncmp(key, "client:", 7) != 0)
		return 0;
	if (cidr_parse(key + 7, strlen(key + 7), &net) == -1) {
		log_warn("table %s: key %s: not an IP address or CIDR prefix",
		    cs->p->t->access.path, key);
		cs->r = V_ERROR;
		return 0;
	}
	if (cidr_match(&net, &cs->p->addr))
		cs->r = access_value(cs->p, key, value, cs->text, cs->textsz);
	return 0;
}

/* The client's access verdict: once per session (the text kept). */
static enum verdict
access_client(struct policy *p)
{
	struct client_scan	 cs;
	char			 key[KEY_MAX];
	enum verdict		 r;

	if (p->client_verdict != -1)
		return (enum verdict)p->client_verdict;
	if (p->local)
		r = V_NONE;
	else {
		snprintf(key, sizeof(key), "client:%s", p->client);
		addr_lower(key);	/* IPv6 hex digits */
		r = access_lookup(p, key, p->client_text,
		    sizeof(p->client_text));
		if (r == V_NONE) {
			cs.p = p;
			cs.r = V_NONE;
			cs.text = p->client_text;
			cs.textsz = sizeof(p->client_text);
			if (table_scan(&p->t->access, client_scan_one, &cs) ==
			    -1) {
				log_warn_errno("table %s: read",
				    p->t->access.path);
				cs.r = V_ERROR;
			}
			r = cs.r;
		}
	}
	if (r != V_ERROR)	/* an error is retried at the next MAIL */
		p->client_verdict = (int)r;
	return r;
}

/* 0 for V_NONE and V_OK; else 1 and the reply line in out. */
static int
verdict_reply(enum verdict r, const char *text, char *out, size_t outsz)
{
	if (r == V_REJECT) {
		snprintf(out, outsz, "550 5.7.1 %s", text);
		return 1;
	}
	if (r == V_ERROR) {
		snprintf(out, outsz, "451 4.3.0 Temporary lookup failure");
		return 1;
	}
	return 0;
}

/* Is login in the blank- or comma-separated list? */
static int
login_listed(const char *list, const char *login)
{
	size_t	 n = strlen(login), k;

	while (*list != '\0') {
		list += strspn(list, " \t,");
		k = strcspn(list, " \t,");
		if (k == n && k > 0 && strncasecmp(list, login, n) == 0)
			return 1;
		list += k;
	}
	return 0;
}

/* The senders table: 0 the login owns sender, 1 refused (out set). */
static int
sender_owned(struct policy *p, const char *sender, char *out, size_t outsz)
{
	struct buf	 v = BUF_INIT;
	char		 key[KEY_MAX];
	const char	*at;
	int		 found, rc = 0;

	if (sender[0] == '\0')
		return 0;	/* <>: bounces are nobody's address */
	strlcpy(key, sender, sizeof(key));
	addr_lower(key);
	found = table_lookup(&p->t->senders, key, &v);
	if (found == 0 && (at = strrchr(sender, '@')) != NULL) {
		strlcpy(key, at, sizeof(key));
		addr_lower(key);
		found = table_lookup(&p->t->senders, key, &v);
	}
	if (found == -1) {
		log_warn_errno("table %s: lookup of %s", p->t->senders.path, key);
		rc = verdict_reply(V_ERROR, "", out, outsz);
	} else if (found == 0 || !login_listed(buf_str(&v), p->login)) {
		log_info("sender not owned: login=%s, from=<%s>, client=[%s]",
		    p->login, sender, p->client);
		if (enqueue_check_ascii(sender))
			snprintf(out, outsz, "553 5.7.1 <%s>: Sender address "
			    "rejected: not owned by user %s", sender,
			    p->login);
		else
			snprintf(out, outsz, "553 5.7.1 Sender address "
			    "rejected: not owned by user %s", p->login);
		rc = 1;
	}
	buf_free(&v);
	return rc;
}

int
policy_mail(struct policy *p, const char *helo, const char *sender,
    char *out, size_t outsz)
{
	char		 key[KEY_MAX], text[ACCESS_TEXT_MAX + 1];
	enum verdict	 r;

	r = access_client(p);
	if (r == V_REJECT)
		return verdict_reply(r, p->client_text, out, outsz);
	if (r == V_ERROR)
		return verdict_reply(r, "", out, outsz);
	if (r != V_OK) {
		snprintf(key, sizeof(key), "helo:%s", helo);
		addr_lower(key);
		r = access_lookup(p, key, text, sizeof(text));
		if (r == V_REJECT || r == V_ERROR)
			return verdict_reply(r, text, out, outsz);
		r = access_address(p, "sender", sender, text, sizeof(text));
		if (r == V_REJECT || r == V_ERROR)
			return verdict_reply(r, text, out, outsz);
	}
	if (p->login[0] != '\0')
		return sender_owned(p, sender, out, outsz);
	return 0;
}

int
policy_rcpt(struct policy *p, const char *rcpt, char *out, size_t outsz)
{
	char		 text[ACCESS_TEXT_MAX + 1];
	enum verdict	 r;

	/* access_client() ran at 'M'; its verdict is kept. */
	if (p->client_verdict == V_OK)
		return 0;
	r = access_address(p, "rcpt", rcpt, text, sizeof(text));
	return verdict_reply(r, text, out, outsz);
}

/* table_scan() callback for the relay table: any key that holds us. */
static int
relay_scan_one(void *arg, const char *key, const char *value)
{
	struct policy	*p = arg;
	struct cidr	 net;

	(void)value;
	if (cidr_parse(key, strlen(key), &net) == -1) {
		/* Logged once per session; the other entries still count
		 * (a typo must not close the relay for everyone listed). */
		log_warn("table %s: key %s: not an IP address or CIDR prefix;"
		    " ignored", p->t->relay.path, key);
		return 0;
	}
	if (cidr_match(&net, &p->addr))
		p->relay_ok = 1;
	return 0;
}

int
policy_relay(struct policy *p, const char *rcpt, char *out, size_t outsz)
{
	if (p->login[0] != '\0' || p->local)
		return 0;
	if (p->relay_ok == -1) {
		p->relay_ok = 0;
		if (table_scan(&p->t->relay, relay_scan_one, p) == -1) {
			log_warn_errno("table %s: read", p->t->relay.path);
			p->relay_ok = -1;	/* try again next time */
			if (enqueue_check_ascii(rcpt))
				snprintf(out, outsz, "451 4.3.0 <%s>: "
				    "Temporary lookup failure", rcpt);
			else
				snprintf(out, outsz, "451 4.3.0 Temporary "
				    "lookup failure");
			return 1;
		}
	}
	if (p->relay_ok == 1)
		return 0;
	/* RFC 2821 7.1 and appendix B: 550, not 554 or a 4xx. */
	if (enqueue_check_ascii(rcpt))
		snprintf(out, outsz, "550 5.7.1 <%s>: Relay access denied",
		    rcpt);
	else
		snprintf(out, outsz, "550 5.7.1 Relay access denied");
	return 1;
}
