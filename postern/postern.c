/*
 * postern: the operator's command.
 *
 * Job: start, stop, reload and ask about a running instance (through master
 * and its pid file), set an instance up (users, spool, chroot), compile
 * tables, check the configuration. See postern(8).
 *
 * Privileges: those of the caller. "setup" wants root to create users and
 * hand directories to them (without root it creates what it can, owned by
 * the caller, and says so); "start" and "run" start master as the caller.
 * postern is never installed setuid.
 *
 * Pipes: none. It talks to master only by signals (SIGTERM, SIGHUP) to the
 * pid that holds the lock on pid_file, and starts master with execv.
 *
 * Usage: postern [-c CONFDIR] COMMAND [ARGS]
 * Exit: 0 success; 1 "makemap": the table has an error, "start": master
 * could not start; 3 "status": not running; 64 usage; 67 "setup": a user is
 * missing; 69 a program or service is unavailable; 73 "setup" could not
 * create something; 75 temporary failure; 77 permission denied; 78
 * configuration error. postern(8) lists them per command.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "postern.h"

static const struct command {
	const char	*name;
	int		(*fn)(const char *, int, char **);
	const char	*args;
} commands[] = {
	{ "run",	cmd_run,	"" },
	{ "start",	cmd_start,	"" },
	{ "stop",	cmd_stop,	"" },
	{ "status",	cmd_status,	"" },
	{ "reload",	cmd_reload,	"" },
	{ "setup",	cmd_setup,	"" },
	{ "makemap",	cmd_makemap,	" NAME" },
	{ "newaliases",	cmd_newaliases,	"" },
	{ "check",	cmd_check,	" [-v]" },
	{ "queue",	cmd_queue,	" [--json] [filters] [ID ...]" },
	{ "flush",	cmd_flush,	"" },
	{ "hold",	cmd_hold,	" [--wait S] filters | --all | ID ..." },
	{ "release",	cmd_release,	" filters | --all | ID ..." },
	{ "delete",	cmd_delete,	" [--wait S] filters | --all | ID ..." },
	{ "requeue",	cmd_requeue,	" filters | --all | ID ..." },
};

static void __attribute__((noreturn))
usage(void)
{
	size_t	 i;

	fprintf(stderr, "usage: postern [-c confdir] command [args]\n"
	    "commands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(stderr, "  %s%s\n", commands[i].name, commands[i].args);
	exit(EX_USAGE);
}

void
say(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

void
complain(const char *fmt, ...)
{
	va_list	 ap;

	fflush(stdout);
	fputs("postern: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The configuration, or its "file:line: what" and exit 78 (EX_CONFIG). */
void
conf_load_or_exit(struct conf *c, const char *confdir)
{
	struct buf	 err = BUF_INIT;

	if (conf_load(c, confdir, &err) == -1) {
		complain("%s", buf_str(&err));
		exit(EX_CONFIG);
	}
	buf_free(&err);
}

int
main(int argc, char *argv[])
{
	const char	*confdir = CONFDIR_DEFAULT;
	size_t		 i;
	int		 ch;

	log_init("postern", 1);
	/* "+": stop at the command; its own options are its business. */
	while ((ch = getopt(argc, argv, "+c:")) != -1)
		switch (ch) {
		case 'c':
			confdir = optarg;
			break;
		default:
			usage();
		}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			return commands[i].fn(confdir, argc, argv);
	complain("unknown command \"%s\"", argv[0]);
	usage();
}
