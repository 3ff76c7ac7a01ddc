/*
 * lmtp: a local delivery agent that hands the message to an LMTP server
 * (RFC 2033), Dovecot's say, instead of writing the Maildir itself
 * (docs/protocols.md, "lspawn -> delivery agent"; docs/man/lmtp.8).
 *
 * Job: one message, one recipient, one LMTP transaction to
 * lmtp_destination; the server's answer becomes the one 'O' record lspawn
 * waits for: 2xx K, 4xx Z, 5xx D, with the server's enhanced code and its
 * text quoted; an unreachable or silent server is Z 4.4.1 / 4.4.2, so the
 * message waits in the queue until the server is back. It is what
 * local_agent names to swap Postern's built-in Maildir writer for Dovecot,
 * and it proves the agent contract is all a replacement needs.
 *
 * Privileges: already the recipient when it starts (lspawn dropped to the
 * user's uid, gid and groups before execve()); needs nothing but to read
 * postern.conf and to connect to the server. It refuses to run as root,
 * like local(8): no delivery ever runs as uid 0.
 *
 * Pipes: fd 0 holds the message alone, at its first byte; exactly SIZE
 * bytes are read. fd 1 gets one 'O' record (status, code, text). The LMTP
 * socket is its own. Arguments: -c CONFDIR -f SENDER -a RECIPIENT
 * -d MAILDIR -n SIZE (MAILDIR is not used: the server decides where mail
 * goes). Exit 0 when a record was written (whatever it says), 64 for bad
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

#include "buf.h"
#include "conf.h"
#include "lmtp_client.h"
#include "log.h"
#include "agent_args.h"
#include "outcome.h"

#define LMTP_EX_TEMP	75

int
main(int argc, char *argv[])
{
	struct agent_args a;
	struct buf err = BUF_INIT;
	struct lmtp_dest dest;
	struct conf conf;
	struct outcome o;

	log_init("lmtp", 0);
	fatal_exit_code = LMTP_EX_TEMP;
	agent_args_parse(argc, argv, "lmtp", &a);

	buf_init(&err, 1024);
	if (geteuid() == 0 || getuid() == 0)
		outcome_set(&o, 'Z', "4.3.0", "lmtp must not run as root");
	else if (conf_load(&conf, a.confdir, &err) == -1)
		/* RFC 3463 X.3.5: system incorrectly configured. */
		outcome_set(&o, 'Z', "4.3.5", "lmtp: %s", buf_str(&err));
	else if (lmtp_dest_parse(conf.lmtp_destination, &dest) == -1)
		outcome_set(&o, 'Z', "4.3.5", "lmtp: lmtp_destination '%s' is "
		    "not unix:/path or inet:host:port", conf.lmtp_destination);
	else
		lmtp_deliver(&dest, conf.lmtp_timeout_seconds * 1000, 0,
		    (off_t)a.size, conf.hostname, a.sender, a.rcpt, &o);
	buf_free(&err);
	if (o.status != 'K')
		log_warn("to=<%s>: %c %s %s", a.rcpt, o.status, o.code, o.text);
	if (outcome_write(1, &o) == -1) {
		log_warn_errno("cannot write the outcome record");
		return LMTP_EX_TEMP;
	}
	return 0;
}
