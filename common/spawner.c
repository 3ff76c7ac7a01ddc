/*
 * spawner.c: signals, control socket and first descriptors of lspawn(8)
 * and rspawn(8) (spawner.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "fdpass.h"
#include "log.h"
#include "spawner.h"

volatile sig_atomic_t spawner_got_chld, spawner_got_hup, spawner_got_term;
static int spawner_pipe[2] = { -1, -1 };

static void
spawner_signal(int sig)
{
	int saved = errno;
	ssize_t n;

	if (sig == SIGCHLD)
		spawner_got_chld = 1;
	else if (sig == SIGHUP)
		spawner_got_hup = 1;
	else if (sig == SIGTERM)
		spawner_got_term = 1;
	/* A full pipe already holds a wake-up: nothing is lost. */
	n = write(spawner_pipe[1], "", 1);
	(void)n;
	errno = saved;
}

int
spawner_signals(void)
{
	struct sigaction sa;

	if (pipe2(spawner_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
		fatal_errno("self-pipe");
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = spawner_signal;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return spawner_pipe[0];
}

void
spawner_drain(void)
{
	char drain[64];

	while (read(spawner_pipe[0], drain, sizeof(drain)) > 0)
		;
}

void
spawner_child(void)
{
	close(spawner_pipe[0]);
	close(spawner_pipe[1]);
	spawner_pipe[0] = spawner_pipe[1] = -1;
}

struct timespec
spawner_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts;
}

void
spawner_nonblock(int fd)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
		fatal_errno("fcntl");
}

void
spawner_stdfds(void)
{
	int fd;

	while ((fd = open("/dev/null", O_RDWR)) != -1 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
}

int
spawner_control(int ctl)
{
	char tag = 0;
	int fd;

	fd = fd_recv(ctl, &tag);
	if (fd == -2) {
		log_info("master went away, exiting");
		exit(0);
	}
	if (fd == -1)
		fatal_errno("control socket");
	if (tag != 'P') {
		log_warn("control socket: unexpected tag 0x%02x",
		    (unsigned char)tag);
		close(fd);
		return -1;
	}
	spawner_nonblock(fd);
	return fd;
}

const char *
spawner_start(int argc, char *argv[], const char *name, struct conf *c)
{
	struct buf	 err = BUF_INIT;
	const char	*confdir = CONFDIR_DEFAULT;
	int		 ch;

	spawner_stdfds();
	log_init(name, 0);
	while ((ch = getopt(argc, argv, "c:")) != -1) {
		if (ch != 'c')
			break;
		confdir = optarg;
	}
	if (ch != -1 || optind != argc) {
		fprintf(stderr, "usage: %s [-c confdir]\n", name);
		exit(64);
	}
	buf_init(&err, 4096);
	if (conf_load(c, confdir, &err) == -1)
		fatal("%s", buf_str(&err));
	buf_free(&err);
	return confdir;
}
