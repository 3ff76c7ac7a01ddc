/*
 * agent_args.h: the command line of an external local delivery agent
 * (docs/protocols.md, "lspawn -> delivery agent"), parsed in one place for
 * every agent Postern ships (local, lmtp).
 */
#ifndef POSTERN_AGENT_ARGS_H
#define POSTERN_AGENT_ARGS_H

struct agent_args {
	const char	*confdir;	/* -c, CONFDIR_DEFAULT when absent */
	const char	*sender;	/* -f, "" for the null sender */
	const char	*rcpt;		/* -a */
	const char	*maildir;	/* -d */
	long long	 size;		/* -n, message octets on fd 0 */
};

/* Fill a from argv. A bad command line is logged as "why; usage: NAME ..."
 * and the program exits with EX_USAGE (64): lspawn turns that into a
 * temporary failure naming the agent. */
void	 agent_args_parse(int argc, char *argv[], const char *name,
	    struct agent_args *a);

#endif
