/*
 * agent_args.c: parse "AGENT -c CONFDIR -f SENDER -a RECIPIENT -d MAILDIR
 * -n SIZE", the contract lspawn runs every external agent with. Called
 * first thing by local's and lmtp's main(); exits 64 on a bad command line.
 */
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>
#include <bsd/stdlib.h>

#include "conf.h"
#include "log.h"
#include "agent_args.h"

#define AGENT_EX_USAGE	64	/* sysexits.h EX_USAGE */

static void	agent_usage(const char *, const char *) __attribute__((noreturn));

static void
agent_usage(const char *name, const char *why)
{
	log_warn("%s; usage: %s [-c confdir] -f sender -a recipient "
	    "-d maildir -n size", why, name);
	exit(AGENT_EX_USAGE);
}

void
agent_args_parse(int argc, char *argv[], const char *name,
    struct agent_args *a)
{
	const char	*errstr;
	int		 ch;

	a->confdir = CONFDIR_DEFAULT;
	a->sender = a->rcpt = a->maildir = NULL;
	a->size = -1;
	while ((ch = getopt(argc, argv, "c:f:a:d:n:")) != -1) {
		switch (ch) {
		case 'c':
			a->confdir = optarg;
			break;
		case 'f':
			a->sender = optarg;
			break;
		case 'a':
			a->rcpt = optarg;
			break;
		case 'd':
			a->maildir = optarg;
			break;
		case 'n':
			a->size = strtonum(optarg, 0, LLONG_MAX, &errstr);
			if (errstr != NULL)
				agent_usage(name, "bad size");
			break;
		default:
			agent_usage(name, "unknown option");
		}
	}
	if (optind != argc)
		agent_usage(name, "extra arguments");
	if (a->sender == NULL || a->rcpt == NULL || a->maildir == NULL ||
	    a->size < 0)
		agent_usage(name, "missing argument");
	/* A relative path would be taken from whatever cwd lspawn left. */
	if (a->maildir[0] != '/')
		agent_usage(name, "maildir must be an absolute path");
}
