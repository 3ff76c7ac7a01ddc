/*
 * smtpd: the SMTP server for one connection (RFC 5321).
 *
 * Its job: speak SMTP to one client, check every command's syntax, and hand
 * each envelope and message to enqueue, which alone decides who is a
 * recipient here and alone writes the spool. smtpd answers the client with
 * what enqueue says.
 *
 * This file is the standalone program's main(): master execs it only
 * while sessiond is not running (sessiond forks the same session code,
 * smtpd_run.c, without exec), and a developer can run it by hand.
 *
 * Its privileges: started as root (or as the developer, in "make
 * run"); before it reads a single byte from the client it chroots into
 * smtpd_chroot_directory, an empty directory, and becomes smtpd_user for
 * good (priv_drop()). From then on it opens no file and holds nothing worth
 * stealing: the network-facing process can write nothing on disk
 * (DESIGN.md, the invariants).
 *
 * Its pipes:
 *   fd 0, fd 1  the client's TCP connection (read from 0, write to 1);
 *   fd 2        stderr: log lines when master runs in the foreground;
 *   fd 3        the socketpair to this session's enqueue, framed records
 *               (docs/protocols.md, "smtpd <-> enqueue").
 *
 * Usage: smtpd [-c CONFDIR] [-l smtp|submission|smtps|local]: -l names the
 * listener master accepted the connection on (smtps: TLS before the
 * greeting, RFC 8314; local: sendmail's Unix socket, where enqueue knows
 * the user from the kernel, so no AUTH, no TLS and no pregreet wait).
 * Exit codes (docs/man/smtpd.8): 0 the session ended (QUIT, the client
 * left, a timeout, too many errors); 64 bad usage; 75 the environment is
 * wrong (the config, the privilege drop, fd 3, or enqueue went away
 * during the session).
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bsd/string.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "priv.h"
#include "smtpd.h"
#include "nolsan.h"

#define EX_USAGE	64
#define EX_TEMPFAIL	75

/*
 * Load the time zone before chroot (no zoneinfo inside), for syslog()'s
 * time stamps: localtime_r() reads it once per process image. Only this
 * exec'd program needs it; sessiond loads it once for all the smtpds it
 * forks (bench/README.md, optimisation 3).
 */
static void
tz_load(void)
{
	time_t		 now = time(NULL);
	struct tm	 tm;

	(void)localtime_r(&now, &tm);
}

static void
usage(void)
{
	fprintf(stderr, "usage: smtpd [-c confdir] "
	    "[-l smtp|submission|smtps|local]\n");
	exit(EX_USAGE);
}

int
main(int argc, char *argv[])
{
	struct conf	 conf;
	struct buf	 err = BUF_INIT;
	const char	*confdir = CONFDIR_DEFAULT;
	int		 ch;
	enum listener	 listener = LISTEN_SMTP;

	log_init("smtpd", 0);
	while ((ch = getopt(argc, argv, "c:l:")) != -1) {
		switch (ch) {
		case 'c':
			confdir = optarg;
			break;
		case 'l':
			if (smtpd_listener(optarg, &listener) == -1)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (conf_load(&conf, confdir, &err) == -1)
		fatal("%s", buf_str(&err));
	buf_free(&err);
	/* The key is root's and outside the chroot: load it now. */
	starttls_init(&conf);
	tz_load();
	return smtpd_run(&conf, listener, NULL);
}
