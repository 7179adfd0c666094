/*
 * test_log: the foreground log line (its head, the peer and the message,
 * formatted without stdio for %s/%d/%u/%zu/%% and with vsnprintf for
 * anything else), fmt_uint and the process title.  The log goes to
 * stderr, which this test points at a pipe and reads back.
 */

#include <sys/types.h>

#include <limits.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/stdlib.h>

#include "log.h"
#include "util.h"

#include "check.h"

static int	 logpipe[2];

/* The next line written to stderr, without its newline. */
static char *
line(void)
{
	static char	 buf[4096];
	size_t		 n = 0;

	while (n < sizeof(buf) - 1 && read(logpipe[0], buf + n, 1) == 1 &&
	    buf[n] != '\n')
		n++;
	buf[n] = '\0';
	return (buf);
}

static int
matches(const char *s, const char *re)
{
	regex_t	 r;
	int	 rc;

	if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0)
		return (0);
	rc = regexec(&r, s, 0, NULL, 0);
	regfree(&r);
	return (rc == 0);
}

/* The message after the head "hh:mm:ss.mmm ietd[pid] proc: ". */
static const char *
msg(const char *l)
{
	const char	*p = strstr(l, "] test: ");

	return (p != NULL ? p + strlen("] test: ") : "");
}

static void
test_head(void)
{
	char	 re[128];
	char	*l;

	log_info("plain");
	l = line();
	snprintf(re, sizeof(re), "^[0-2][0-9]:[0-5][0-9]:[0-5][0-9]\\."
	    "[0-9]{3} ietd\\[%d\\] test: plain$", (int)getpid());
	CHECK(matches(l, re));
}

static void
test_simple(void)
{
	size_t	 z = 123456789;

	log_info("a %s b %d c %u d %zu e %%", "str", -42, 4000000000U, z);
	CHECK(strcmp(msg(line()), "a str b -42 c 4000000000 d 123456789 "
	    "e %") == 0);
	log_info("%d %d %u", INT_MIN, 0, 0U);
	CHECK(strcmp(msg(line()), "-2147483648 0 0") == 0);
	log_info("%s%s", "", "x");
	CHECK(strcmp(msg(line()), "x") == 0);
}

/* Widths, flags, %x, %ld...: vsnprintf formats those. */
static void
test_fallback(void)
{
	log_info("status %#06x, %-4s|, %ld, %3d, %c", 0x0201, "ab", -7L, 5,
	    'q');
	CHECK(strcmp(msg(line()), "status 0x0201, ab  |, -7,   5, q") == 0);
	log_info("%s then %llx", "first", 0xabcULL);
	CHECK(strcmp(msg(line()), "first then abc") == 0);
}

/* A message longer than the buffer is cut, never overrun. */
static void
test_long(void)
{
	char	*big;
	const char *m;

	if ((big = malloc(5000)) == NULL)
		return;
	memset(big, 'x', 4999);
	big[4999] = '\0';
	log_info("%s", big);
	m = msg(line());
	CHECK(strlen(m) == 2047 && strspn(m, "x") == 2047);
	log_info("%s %d", big, 1);
	m = msg(line());
	CHECK(strlen(m) == 2047);
	free(big);
}

static void
test_peer(void)
{
	const char *l;

	log_setpeer("10.0.0.1:3260", "iqn.x:y");
	log_info("hello %u", 1U);
	l = line();
	CHECK(strstr(l, "] test: 10.0.0.1:3260 (iqn.x:y): hello 1") != NULL);
	log_setpeer("10.0.0.1:3260", NULL);
	log_info("hi");
	CHECK(strstr(line(), "] test: 10.0.0.1:3260: hi") != NULL);
	log_setpeer(NULL, NULL);
}

static void
test_fmt_uint(void)
{
	char	 buf[21];

	CHECK(strcmp(fmt_uint(buf, 0), "0") == 0);
	CHECK(strcmp(fmt_uint(buf, 262144), "262144") == 0);
	CHECK(strcmp(fmt_uint(buf, UINT64_MAX), "18446744073709551615") == 0);
}

/* A fake argument area: "./ietd", "-f", then two environment strings. */
static void
test_proctitle(void)
{
	char	 area[] = "./ietd\0-f\0A=1\0B=22";
	char	*argv[] = { area, area + 7, NULL };
	char	*envp[] = { area + 10, area + 14, NULL };
	size_t	 len = sizeof(area);
	const char *p = getprogname();
	char	 want[64];

	proctitle_init(2, argv, envp);
	proctitle_set("io", NULL);
	snprintf(want, sizeof(want), "%s: io", p);
	CHECK(strncmp(area, want, len - 1) == 0);
	/* Nothing of the old arguments is left past the title. */
	if (strlen(want) < len) {
		size_t	 i;
		int	 clean = 1;

		for (i = strlen(want) + 1; i < len; i++)
			if (area[i] != '\0' && !(i == 6 && area[i] == '.'))
				clean = 0;
		CHECK(clean);
	}
	proctitle_set("login ", "1.2.3.4:5");
	/* Cut to the area: never past its end. */
	CHECK(area[len - 1] == '\0');
	CHECK(strncmp(area, want, strlen(p)) == 0);
}

int
main(void)
{
	if (pipe(logpipe) == -1 || dup2(logpipe[1], STDERR_FILENO) == -1)
		return (2);
	log_init(1, 0);
	log_procinit("test");
	test_head();
	test_simple();
	test_fallback();
	test_long();
	test_peer();
	test_fmt_uint();
	test_proctitle();
	fprintf(stdout, "%d checks, %d failed\n", checks, failures);
	return (failures != 0);
}
