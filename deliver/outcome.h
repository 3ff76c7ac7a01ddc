/*
 * outcome.h: the one-recipient result of a local delivery, and the 'O'
 * record that carries it from a delivery agent to lspawn
 * (docs/protocols.md, "lspawn -> delivery agent").
 *
 * An agent (lspawn's built-in child, or local(8)) fills a struct outcome and
 * writes it with outcome_write() as one record: 'O' with the fields status,
 * code, text. lspawn reads the bytes back with outcome_parse(), which accepts
 * exactly one well-formed record and nothing after it, so an agent that dies
 * in the middle of its answer is told apart from one that answered.
 */
#ifndef POSTERN_OUTCOME_H
#define POSTERN_OUTCOME_H

#include <stddef.h>
#include "qstate.h"

#define OUTCOME_CODE_MAX	16
#define OUTCOME_TEXT_MAX	QSTATE_TEXT_MAX	/* what the state file keeps */

struct outcome {
	char	 status;			/* 'K', 'Z' or 'D' */
	char	 code[OUTCOME_CODE_MAX];	/* RFC 3463, "4.3.0" */
	char	 text[OUTCOME_TEXT_MAX];	/* one line, for log and bounce */
};

/* Fill o; the text is formatted and cut to fit, CR/LF/NUL become blanks. */
void	 outcome_set(struct outcome *o, char status, const char *code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Write o to fd as one 'O' record. 0, or -1 with errno. */
int	 outcome_write(int fd, const struct outcome *o);
/* Parse len bytes that must be exactly one 'O' record of three fields with
 * a known status and an RFC 3463 code of the matching class. 0 or -1. */
int	 outcome_parse(const char *p, size_t len, struct outcome *o);
/* An RFC 3463 code "class.subject.detail" whose class matches status. */
int	 outcome_code_valid(char status, const char *code);

#endif
