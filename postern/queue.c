/*
 * queue.c: "postern queue", and what the queue operations (queue_ops.c)
 * share with it: entering the spool and the selection options.
 *
 *   postern queue [--json] [FILTER...] [ID...]
 *   FILTER: --sender ADDR  --recipient ADDR  --domain DOM
 *           --older AGE  --younger AGE  --error TEXT      (all must hold)
 *   AGE: seconds, or a number with s, m, h or d
 *
 * The listing itself is common/qlist.c and qlist_print.c, so that mailq
 * (sendmail -bp) prints the same thing. This file only reads the spool:
 * run beside a working qmgr it shows a consistent picture of each message
 * (a queue file never changes; state/ID only grows), not of the whole
 * queue at one instant.
 *
 * Exit: 0; 1 an ID named is not in the queue; 64 usage; 69 the spool
 * cannot be entered; 77 permission denied (run it as root or as the
 * instance's owner).
 */
#include <sys/types.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "qlist.h"
#include "spool.h"
#include "postern.h"
#include "queue.h"

/* "90", "90s", "15m", "2h", "3d" in seconds, or -1. */
static long long
age_parse(const char *s)
{
	char		*end;
	long long	 v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || v < 0 || v > 100LL * 365 * 86400)
		return -1;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		v *= 60;
		break;
	case 'h':
		v *= 3600;
		break;
	case 'd':
		v *= 86400;
		break;
	default:
		return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	return v;
}

int
queue_args(int argc, char **argv, struct queue_opts *o, int ops)
{
	enum { O_JSON = 1, O_SENDER, O_RCPT, O_DOMAIN, O_OLDER, O_YOUNGER,
	    O_ERROR, O_ALL, O_WAIT };
	static const struct option longopts[] = {
		{ "json",	no_argument,		NULL, O_JSON },
		{ "sender",	required_argument,	NULL, O_SENDER },
		{ "recipient",	required_argument,	NULL, O_RCPT },
		{ "domain",	required_argument,	NULL, O_DOMAIN },
		{ "older",	required_argument,	NULL, O_OLDER },
		{ "younger",	required_argument,	NULL, O_YOUNGER },
		{ "error",	required_argument,	NULL, O_ERROR },
		{ "all",	no_argument,		NULL, O_ALL },
		{ "wait",	required_argument,	NULL, O_WAIT },
		{ NULL,		0,			NULL, 0 }
	};
	int	 ch;

	memset(o, 0, sizeof(*o));
	qlist_filter_init(&o->f);
	o->wait = QUEUE_WAIT_DEFAULT;
	optind = 0;			/* a fresh scan of the command's args */
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case O_JSON:
			if (ops)
				goto usage;
			o->json = 1;
			break;
		case O_SENDER:
			o->f.sender = optarg;
			break;
		case O_RCPT:
			o->f.rcpt = optarg;
			break;
		case O_DOMAIN:
			o->f.domain = optarg;
			break;
		case O_OLDER:
			if ((o->f.older = age_parse(optarg)) == -1)
				goto usage;
			break;
		case O_YOUNGER:
			if ((o->f.younger = age_parse(optarg)) == -1)
				goto usage;
			break;
		case O_ERROR:
			o->f.error = optarg;
			break;
		case O_ALL:
			if (!ops)
				goto usage;
			o->all = 1;
			break;
		case O_WAIT:
			if (!ops || (o->wait = age_parse(optarg)) == -1)
				goto usage;
			break;
		default:
			goto usage;
		}
		o->nfilters += ch != O_JSON && ch != O_WAIT;
	}
	o->ids = argv + optind;
	o->nids = (size_t)(argc - optind);
	for (size_t i = 0; i < o->nids; i++)
		if (!spool_id_valid(o->ids[i])) {
			complain("\"%s\" is not a queue ID", o->ids[i]);
			return EX_USAGE;
		}
	if (ops && o->nids == 0 && o->nfilters == 0) {
		complain("%s: name queue IDs, filters, or --all", argv[0]);
		return EX_USAGE;
	}
	if (ops && o->nids > 0 && o->nfilters > 0) {
		complain("%s: queue IDs or filters, not both", argv[0]);
		return EX_USAGE;
	}
	return 0;
usage:
	complain("usage: postern %s %s[--sender ADDR] [--recipient ADDR] "
	    "[--domain DOM] [--older AGE] [--younger AGE] [--error TEXT]%s "
	    "[ID ...]", argv[0], ops ? "" : "[--json] ",
	    ops ? " [--all] [--wait SECONDS]" : "");
	return EX_USAGE;
}

/* Load the config and make the spool our cwd (qfile, qstate and spool.h
 * paths are relative to it). Exits on failure. */
void
queue_enter(struct conf *c, const char *confdir)
{
	conf_load_or_exit(c, confdir);
	if (chdir(c->spool_directory) == -1) {
		complain("%s: %s", c->spool_directory, strerror(errno));
		exit(errno == EACCES ? EX_NOPERM : EX_UNAVAILABLE);
	}
	if (access(SPOOL_NEW, R_OK | X_OK) == -1) {
		complain("%s/%s: %s (run \"postern setup\"; the spool is "
		    "readable by root and queue_user only)",
		    c->spool_directory, SPOOL_NEW, strerror(errno));
		exit(errno == EACCES ? EX_NOPERM : EX_UNAVAILABLE);
	}
}

int
cmd_queue(const char *confdir, int argc, char **argv)
{
	struct queue_opts o;
	struct qlist_msg m;
	struct qlist	 l;
	struct conf	 c;
	time_t		 now;
	size_t		 i;
	int		 rc = 0, r;

	if ((r = queue_args(argc, argv, &o, 0)) != 0)
		return r;
	queue_enter(&c, confdir);
	now = time(NULL);
	if (o.nids == 0) {
		if (qlist_read(&l, &o.f, NULL, now) == -1) {
			complain("reading %s: %s", c.spool_directory,
			    strerror(errno));
			return EX_IOERR;
		}
	} else {
		/* Named messages, each wherever it is (filters apply too). */
		memset(&l, 0, sizeof(l));
		if ((l.msg = calloc(o.nids, sizeof(*l.msg))) == NULL) {
			complain("out of memory");
			return EX_OSERR;
		}
		for (i = 0; i < o.nids; i++) {
			if ((r = qlist_find(o.ids[i], &m)) == 1) {
				if (qlist_match(&o.f, &m, now))
					l.msg[l.n++] = m;
				else
					qlist_msg_free(&m);
				continue;
			}
			complain("%s: %s", o.ids[i], r == 0 ?
			    "no such message in the queue" : strerror(errno));
			rc = 1;
		}
	}
	if (o.json)
		qlist_print_json(stdout, &l, now);
	else
		qlist_print(stdout, &l, now);
	qlist_free(&l);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		complain("standard output: %s", strerror(errno));
		return EX_IOERR;
	}
	return rc;
}
