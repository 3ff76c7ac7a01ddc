/*
 * pipe.h: deliver one message to a command ("|command" aliases, kind 'p').
 *
 * Called by lspawn's child, already running as the alias's alias_user
 * (never root). The command text comes only from the operator's aliases
 * table, through qmgr: nothing from the network or the envelope is ever
 * part of it; the envelope reaches the command only as environment values.
 */
#ifndef POSTERN_PIPE_H
#define POSTERN_PIPE_H

#include <sys/types.h>
#include "outcome.h"

#define PIPE_ARGV_MAX	64		/* words of a command without a shell */
#define PIPE_OUTPUT_MAX	4096		/* output kept for the reason text */

struct pipe_how {
	const char	*user;		/* USER, LOGNAME */
	const char	*home;		/* HOME, and the command's cwd */
	const char	*shell;		/* SHELL (informational only) */
	const char	*delimiter;	/* splits EXTENSION off the local part */
	int		 timeout_seconds;
};

/*
 * Run command with its words as argv, through execve() (or "/bin/sh -c
 * command" when it holds shell metacharacters), stdin the message with
 * "Return-Path:" and "Delivered-To:" first, stdout and stderr captured,
 * killed with its process group after timeout_seconds. The exit status
 * gives the outcome (pipe.c has the table). 0 with o = K 2.0.0, or -1.
 */
int	 pipe_deliver(int msgfd, off_t size, const char *sender,
	    const char *recipient, const char *command,
	    const struct pipe_how *, struct outcome *o);
/* 1 when the command line asks for a shell (pipe.c says which bytes). */
int	 pipe_needs_shell(const char *command);

#endif
