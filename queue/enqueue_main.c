/*
 * enqueue_main.c: the standalone enqueue program's main(): its arguments
 * and config, then enqueue.c's enqueue_run() on fd 3.
 *
 * master execs it (with smtpd) for a session when sessiond is not running;
 * sessiond forks the same code without exec. Job, privileges and pipes are
 * enqueue.c's header: started by master as queue_user, cwd the spool,
 * "enqueue -c CONFDIR -a CLIENTIP" (or -a "" -u UID for a local
 * submission), fd 3 the socketpair to smtpd, fd 0/1 /dev/null.
 */
#include <stdlib.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "enqueue.h"

int
main(int argc, char **argv)
{
	struct conf	*c;
	struct buf	 err = BUF_INIT;
	const char	*confdir = CONFDIR_DEFAULT, *arg_client = NULL;
	const char	*arg_uid = NULL;
	int		 ch;

	log_init("enqueue", 0);
	while ((ch = getopt(argc, argv, "a:c:u:")) != -1) {
		switch (ch) {
		case 'a':
			arg_client = optarg;
			break;
		case 'u':
			arg_uid = optarg;
			break;
		case 'c':
			confdir = optarg;
			break;
		default:
			enqueue_usage();
		}
	}
	if (optind != argc || arg_client == NULL)
		enqueue_usage();
	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal_errno("calloc");
	if (conf_load(c, confdir, &err) == -1)
		fatal("%s", buf_str(&err));
	buf_free(&err);
	enqueue_run(c, 3, arg_client, arg_uid);
}
