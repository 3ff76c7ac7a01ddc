/*
 * sendmail.h: what the files of sendmail(8) share.
 *
 * sendmail.c  main(): arguments, the modes (-bm -bs -bp -bi -q), exit codes
 * headers.c   the message's header block: parsing, -t recipients (RFC 5322
 *             address lists with groups), Bcc removal, the added headers
 *             (pure functions, unit-tested by tests/unit/test_sendmail_*)
 * client.c    the SMTP conversation with master's local socket, each
 *             reply mapped to a sysexits.h code
 */
#ifndef POSTERN_SENDMAIL_H
#define POSTERN_SENDMAIL_H

#include <stddef.h>
#include "buf.h"

/* ---- headers.c ---- */

/* One header field, folded lines and all, without its final LF. */
struct hdr {
	char	*text;		/* "Name: value\n\tmore" (LF inside folds) */
	size_t	 namelen;	/* bytes of "Name" */
};

struct headers {
	struct hdr	*h;
	size_t		 n, cap;
};

/* A list of addresses (formatted, qualified, each once). */
struct alist {
	char	**a;
	size_t	  n, cap;
};

void	 headers_init(struct headers *);
void	 headers_free(struct headers *);
/*
 * Split msg (LF line endings) into its header block and body: *body is the
 * offset of the first body byte. The empty line between them is not part
 * of either. A line that is neither a header field nor a fold ends the
 * header block and starts the body (it is kept). 0, or -1 (ENOMEM).
 */
int	 headers_parse(struct headers *, const char *msg, size_t len,
	    size_t *body);
/* Is there a field called name (case-insensitive)? */
int	 headers_has(const struct headers *, const char *name);
/* Remove every field called name; how many were removed. */
size_t	 headers_remove(struct headers *, const char *name);
/* Append a field "Name: value" (text as given). 0 or -1. */
int	 headers_add(struct headers *, const char *text);
/* The value of field i, unfolded (CR/LF/TAB made blanks) into out. */
void	 headers_value(const struct headers *, size_t i, struct buf *out);

void	 alist_init(struct alist *);
void	 alist_free(struct alist *);
/* Add one address (an addr-spec as written): qualified with @domain when
 * it has none, checked with addr_parse_mailbox(), formatted, and added
 * unless already there. 0, or -1 with *why. */
int	 alist_add(struct alist *, const char *spec, const char *domain,
	    const char **why);
/*
 * RFC 5322 3.4 address-list: mailboxes ("Name <a@b>", "a@b (comment)",
 * "\"quoted name\" <a@b>") and groups ("undisclosed: a@b, c@d;"), with
 * comments and quoted strings, each address added with alist_add().
 * Display names (encoded words too) are dropped. 0, or -1 with *why and
 * the offending address in bad.
 */
int	 alist_parse(struct alist *, const char *value, const char *domain,
	    struct buf *bad, const char **why);
/* Every To, Cc and Bcc field's addresses into out (sendmail -t). */
int	 headers_recipients(const struct headers *, const char *domain,
	    struct alist *out, struct buf *bad, const char **why);

/* ---- client.c ---- */

struct client {
	int		 fd;		/* the local socket */
	int		 verbose;	/* -v: the dialogue on stderr */
	struct buf	 in;		/* read, not yet used */
	char		 reply[1024];	/* the last reply's last line */
	int		 code;		/* its code */
};

/* Connect to the socket at path and read the greeting. 0, or a sysexits
 * code with the reason on stderr. */
int	 client_open(struct client *, const char *path, int verbose);
/* Send one command line (CRLF added), read the reply: its code, or -1
 * when the connection broke (the reason is in c->reply). */
int	 client_cmd(struct client *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Send n bytes as they are. 0 or -1. */
int	 client_write(struct client *, const char *, size_t);
/* Read one reply: its code, or -1. */
int	 client_reply(struct client *);
void	 client_close(struct client *);
/* The sysexits.h code for an SMTP reply (RFC 3463 detail where given). */
int	 client_exit_code(int code, const char *reply);

#endif
