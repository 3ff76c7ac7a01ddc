/*
 * enqueue_local.c: who a local submission (sendmail(8)) comes from, and
 * what envelope sender it may use.
 *
 * Called by enqueue.c: local_init() once, for "-u UID" (master read the
 * uid from the socket with SO_PEERCRED; smtpd and the client never say
 * it), local_sender() at every 'M'.
 *
 * Rule (issue 5, DESIGN.md "sendmail -t ... takes the return path from the
 * submitting user's identity"): the envelope sender of a local user is
 * LOGIN@hostname, whatever MAIL FROM (sendmail -f) said, the null sender
 * included; root, and the users listed in sendmail_trusted_users ("*" for
 * all), keep the sender they give. A uid with no passwd entry cannot be
 * named, and its mail is refused (local_init() returns -1 and MAIL gets a
 * 550).
 */
#include <sys/types.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bsd/string.h>

#include "addr.h"
#include "conf.h"
#include "log.h"
#include "enqueue.h"

#define LOCAL_SEP	" \t,"

static struct {
	int	 on;		/* -u given */
	int	 named;		/* the uid has a login */
	int	 trusted;	/* may choose the sender */
	unsigned long uid;
	char	 login[ADDR_LOCAL_MAX + 1];
	char	 sender[ADDR_TEXT_MAX];	/* LOGIN@hostname, formatted */
} local;

/* 1 when login is in list (blank/comma separated; "*" is everyone). */
static int
local_listed(const char *list, const char *login)
{
	char	 copy[1024], *tok, *save = NULL;

	strlcpy(copy, list, sizeof(copy));
	for (tok = strtok_r(copy, LOCAL_SEP, &save); tok != NULL;
	    tok = strtok_r(NULL, LOCAL_SEP, &save))
		if (strcmp(tok, "*") == 0 || strcmp(tok, login) == 0)
			return 1;
	return 0;
}

/* No local submitter: a pooled worker's next session starts clean. */
void
local_reset(void)
{
	explicit_bzero(&local, sizeof(local));
}

int
local_init(const char *arg, const struct conf *c)
{
	struct passwd	*pw;
	struct addr	 a;
	const char	*why;
	char		*end, text[ADDR_TEXT_MAX + CONF_STR_MAX];

	errno = 0;
	local.uid = strtoul(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 ||
	    local.uid > (unsigned long)(uid_t)-1)
		return -1;
	local.on = 1;
	errno = 0;
	if ((pw = getpwuid((uid_t)local.uid)) == NULL) {
		log_warn("local submission from uid %lu: no such user%s",
		    local.uid, errno != 0 ? " (passwd unreadable)" : "");
		return 0;
	}
	/* The login becomes the local part of an address: it must be one. */
	if (strlcpy(local.login, pw->pw_name, sizeof(local.login)) >=
	    sizeof(local.login) ||
	    (size_t)snprintf(text, sizeof(text), "%s@%s", pw->pw_name,
	    c->hostname) >= sizeof(text) ||
	    addr_parse_mailbox(text, 0, &a, &why) == -1 ||
	    addr_format(&a, local.sender, sizeof(local.sender)) == -1) {
		log_warn("local submission from uid %lu: login %s cannot be "
		    "an address", local.uid, pw->pw_name);
		return 0;
	}
	local.named = 1;
	local.trusted = local.uid == 0 ||
	    local_listed(c->sendmail_trusted_users, local.login);
	return 0;
}

int
local_on(void)
{
	return local.on;
}

const char *
local_who(char *out, size_t outsz)
{
	if (!local.on)
		return NULL;
	if (local.named)
		snprintf(out, outsz, "%s, uid %lu", local.login, local.uid);
	else
		snprintf(out, outsz, "uid %lu", local.uid);
	return out;
}

int
local_sender(char *sender, size_t sendersz, char *reply, size_t replysz)
{
	if (!local.on)
		return 0;
	if (!local.named) {
		snprintf(reply, replysz, "550 5.7.1 Error: uid %lu has no "
		    "login name", local.uid);
		return 1;
	}
	if (local.trusted)
		return 0;
	strlcpy(sender, local.sender, sendersz);
	return 0;
}
