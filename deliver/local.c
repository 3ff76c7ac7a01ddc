/*
 * local: the standalone local delivery agent (docs/protocols.md,
 * "lspawn -> delivery agent").
 *
 * Job: deliver one message for one recipient into a Maildir, with the same
 * code lspawn's built-in agent uses (maildir.c). It exists so that the
 * agent can be run, tested and replaced on its own: local_agent in
 * postern.conf names it, or anything that speaks the same protocol.
 *
 * Privileges: already the recipient when it starts (lspawn dropped to the
 * user's uid, gid and groups before execve()). It refuses to run as root:
 * no mail is ever written as uid 0.
 *
 * Pipes: fd 0 holds the message, positioned at its first byte (the queue
 * file itself); exactly SIZE bytes are read. fd 1 gets one 'O' record
 * (status, code, text). Arguments: -f SENDER -a RECIPIENT -d MAILDIR
 * -n SIZE. Exit 0 when a record was written (whatever it says), 64 for bad
 * arguments, 75 when no record could be written.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "conf.h"
#include "log.h"
#include "maildir.h"
#include "agent_args.h"
#include "outcome.h"

#define LOCAL_EX_TEMP	75

int
main(int argc, char *argv[])
{
	struct agent_args a;
	char host[CONF_STR_MAX];
	struct outcome o;

	log_init("local", 0);
	fatal_exit_code = LOCAL_EX_TEMP;
	/* -c CONFDIR is accepted and unused: local needs nothing of
	 * postern.conf that lspawn did not resolve. */
	agent_args_parse(argc, argv, "local", &a);

	if (geteuid() == 0 || getuid() == 0)
		outcome_set(&o, 'Z', "4.3.0", "local must not run as root");
	else {
		/* The name goes into the Maildir file name only; a machine
		 * without one still gets its mail. */
		if (gethostname(host, sizeof(host)) == -1 || host[0] == '\0')
			strlcpy(host, "localhost", sizeof(host));
		host[sizeof(host) - 1] = '\0';
		maildir_deliver(0, (off_t)a.size, a.sender, a.rcpt, a.maildir, host,
		    &o);
	}
	if (o.status != 'K')
		log_warn("to=<%s>, maildir=%s: %c %s %s", a.rcpt, a.maildir,
		    o.status, o.code, o.text);
	if (outcome_write(1, &o) == -1) {
		log_warn_errno("cannot write the outcome record");
		return LOCAL_EX_TEMP;
	}
	return 0;
}
