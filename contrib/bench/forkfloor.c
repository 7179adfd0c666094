/*
 * forkfloor: the CPU one fork per login costs on this machine, before any
 * login work.  It forks empty children (each only calls _exit) and reaps
 * them for -t seconds, and prints the CPU time of the parent and its
 * reaped children per fork:
 *
 *	forks=N cpu_us_per_fork=F parent_us=P child_us=C
 *
 * It is built and linked like ietd (libc the only shared library, every
 * symbol bound at start-up), so its memory map has about as many
 * mappings as ietd's parent (23 against 25) and a fork copies about as
 * much.  make bench prints it beside the login rate: no login can cost
 * ietd less than this.
 */
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double
tv_us(const struct timeval *tv)
{
	return (double)tv->tv_sec * 1e6 + (double)tv->tv_usec;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char *argv[])
{
	struct rusage	 self, kids;
	double		 end, secs = 2;
	long		 n = 0;
	pid_t		 pid;
	int		 ch, st;

	while ((ch = getopt(argc, argv, "t:")) != -1) {
		switch (ch) {
		case 't':
			secs = atof(optarg);
			if (secs <= 0)
				errx(1, "-t: seconds must be positive");
			break;
		default:
			fprintf(stderr, "usage: forkfloor [-t seconds]\n");
			return 1;
		}
	}
	end = now_s() + secs;
	do {
		if ((pid = fork()) == -1)
			err(1, "fork");
		if (pid == 0)
			_exit(0);
		if (waitpid(pid, &st, 0) == -1)
			err(1, "waitpid");
		n++;
	} while (now_s() < end);
	if (getrusage(RUSAGE_SELF, &self) == -1 ||
	    getrusage(RUSAGE_CHILDREN, &kids) == -1)
		err(1, "getrusage");
	printf("forks=%ld cpu_us_per_fork=%.1f parent_us=%.1f child_us=%.1f\n",
	    n, (tv_us(&self.ru_utime) + tv_us(&self.ru_stime) +
	    tv_us(&kids.ru_utime) + tv_us(&kids.ru_stime)) / (double)n,
	    (tv_us(&self.ru_utime) + tv_us(&self.ru_stime)) / (double)n,
	    (tv_us(&kids.ru_utime) + tv_us(&kids.ru_stime)) / (double)n);
	return 0;
}
