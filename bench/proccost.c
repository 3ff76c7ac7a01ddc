/*
 * proccost: what this machine charges for the three things Postern's
 * design buys its isolation with, so that bench.py's table says why the
 * same code ranks differently on other machines (bench/README.md, "What
 * the machine charges"). Not part of Postern; never installed.
 *
 *   fault       a first write to a page of anonymous memory: each new
 *               process pays it for every page it touches
 *   fork        fork(), _exit() in the child, waitpid(): a process with
 *               a small address space, made and ended
 *   roundtrip   one byte to another process over a pipe and one byte back
 *               (two context switches): each hand-off between Postern's
 *               programs is one
 *   syscall     the cheapest system call there is (getppid()): a message
 *               costs Postern about 200 of them, not all this cheap
 *
 * Prints "fault_us fork_us roundtrip_us syscall_us" (medians of 5
 * rounds) on one line. No privilege, no files; runs in a second or two.
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define ROUNDS		5
#define PAGES		2000
#define FORKS		100
#define TRIPS		2000
#define CALLS		100000

static double
now_us(void)
{
	struct timespec	 t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static double
fault_us(void)
{
	size_t		 len = (size_t)PAGES * 4096, i;
	volatile char	*p;
	double		 t;

	if ((p = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) == MAP_FAILED)
		fatal_errno("mmap");
	t = now_us();
	for (i = 0; i < len; i += 4096)
		p[i] = 1;
	t = now_us() - t;
	munmap((void *)p, len);
	return t / PAGES;
}

static double
fork_us(void)
{
	double	 t;
	pid_t	 pid;
	int	 i;

	t = now_us();
	for (i = 0; i < FORKS; i++) {
		if ((pid = fork()) == -1)
			fatal_errno("fork");
		if (pid == 0)
			_exit(0);
		if (waitpid(pid, NULL, 0) == -1)
			fatal_errno("waitpid");
	}
	return (now_us() - t) / FORKS;
}

static double
roundtrip_us(void)
{
	int	 there[2], back[2], i;
	char	 c = 'x';
	double	 t;
	pid_t	 pid;

	if (pipe(there) == -1 || pipe(back) == -1)
		fatal_errno("pipe");
	if ((pid = fork()) == -1)
		fatal_errno("fork");
	if (pid == 0) {
		close(there[1]);
		close(back[0]);
		while (read(there[0], &c, 1) == 1)
			if (write(back[1], &c, 1) != 1)
				_exit(1);
		_exit(0);
	}
	close(there[0]);
	close(back[1]);
	t = now_us();
	for (i = 0; i < TRIPS; i++)
		if (write(there[1], &c, 1) != 1 || read(back[0], &c, 1) != 1)
			fatal_errno("pipe round trip");
	t = now_us() - t;
	close(there[1]);	/* the child's read sees EOF */
	waitpid(pid, NULL, 0);
	close(back[0]);
	return t / TRIPS;
}

static double
syscall_us(void)
{
	double	 t;
	int	 i;

	t = now_us();
	for (i = 0; i < CALLS; i++)
		(void)getppid();
	return (now_us() - t) / CALLS;
}

static int
cmp(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double (*fn)(void))
{
	double	 v[ROUNDS];
	int	 i;

	for (i = 0; i < ROUNDS; i++)
		v[i] = fn();
	qsort(v, ROUNDS, sizeof(v[0]), cmp);
	return v[ROUNDS / 2];
}

int
main(void)
{
	double	 f, k, r, c;

	log_init("proccost", 1);
	f = median(fault_us);
	k = median(fork_us);
	r = median(roundtrip_us);
	c = median(syscall_us);
	printf("%.2f %.1f %.2f %.2f\n", f, k, r, c);
	return 0;
}
