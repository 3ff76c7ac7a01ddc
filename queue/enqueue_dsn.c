/*
 * enqueue_dsn.c: the DSN (RFC 3461) and SMTPUTF8 (RFC 6531) fields of
 * smtpd's 'M' and 'R' records, checked before they enter an envelope.
 *
 * Called by enqueue.c's mail_start() and rcpt_add(). smtpd checked the
 * client's parameters already (smtpd/params.c) and sends them canonical;
 * enqueue checks again with the same code (common/xtext.c) because smtpd
 * faces the network and must be assumed taken over: a value that fails is
 * a protocol error and ends the session, never something to repair. An
 * address with UTF-8 in a transaction whose MAIL did not say SMTPUTF8 is
 * such an error too: smtpd answers those 553 5.6.7 itself.
 */
#include <string.h>

#include "enqueue.h"
#include "xtext.h"

const char *
enqueue_check_dsn_mail(const char *envid, const char *ret,
    const char *smtputf8, const char *sender)
{
	if (envid[0] != '\0' && !dsn_envid_stored_valid(envid))
		return "bad ENVID";
	if (ret[0] != '\0' && !dsn_ret_valid(ret))
		return "bad RET";
	if (strcmp(smtputf8, "0") != 0 && strcmp(smtputf8, "1") != 0)
		return "bad SMTPUTF8 flag";
	if (smtputf8[0] == '0' && !enqueue_check_ascii(sender))
		return "UTF-8 sender without SMTPUTF8";
	return NULL;
}

const char *
enqueue_check_dsn_rcpt(const char *rcpt, const char *notify,
    const char *orcpt, int smtputf8)
{
	if (notify[0] != '\0' && !dsn_notify_valid(notify))
		return "bad NOTIFY";
	if (orcpt[0] != '\0' && !dsn_orcpt_valid(orcpt))
		return "bad ORCPT";
	if (!smtputf8 && !enqueue_check_ascii(rcpt))
		return "UTF-8 recipient without SMTPUTF8";
	return NULL;
}

int
enqueue_add_rcpt(struct qenv *env, const char *rcpt, const char *notify,
    const char *orcpt)
{
	if (qenv_add_rcpt(env, rcpt) == -1)
		return -1;
	/* Checked by enqueue_check_dsn_rcpt(): cannot fail here. */
	if (qenv_set_dsn(env, notify, orcpt) == -1)
		return -1;
	return 0;
}
