/*
 * util.c: allocation that cannot fail (start-up and worker only), socket
 * helpers and address formatting.
 */
#include <sys/random.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>

#include "log.h"
#include "util.h"

void *
xmalloc(size_t n)
{
	void	*p;

	if ((p = malloc(n == 0 ? 1 : n)) == NULL)
		fatal("malloc");
	return (p);
}

void *
xcalloc(size_t n, size_t size)
{
	void	*p;

	if ((p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size)) == NULL)
		fatal("calloc");
	return (p);
}

char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		fatal("strdup");
	return (p);
}

/*
 * A worker draws one or two numbers in its life: a getrandom(2) each is
 * cheaper than arc4random's generator, which a fresh process seeds and
 * maps pages for.
 */
uint32_t
xrandom32(void)
{
	uint32_t	 v;
	ssize_t		 n;

	while ((n = getrandom(&v, sizeof(v), 0)) != (ssize_t)sizeof(v))
		if (n != -1 || errno != EINTR)
			fatal("getrandom");
	return (v);
}

/*
 * The title area: argv[0] and whatever argument and environment strings
 * follow it without a gap.  pt_nul is where argv[0] ended.
 */
#define PT_TITLE_MAX	255
static struct {
	char	*pt_base;
	char	*pt_end;
	char	*pt_nul;
	int	 pt_cleared;
} pt;

void
proctitle_init(int argc, char **argv, char **envp)
{
	char	*end;
	int	 i;

	if (argc < 1 || argv[0] == NULL)
		return;
	pt.pt_base = argv[0];
	pt.pt_nul = end = argv[0] + strlen(argv[0]);
	end++;
	for (i = 1; i < argc; i++)
		if (argv[i] == end)
			end = argv[i] + strlen(argv[i]) + 1;
	for (i = 0; envp != NULL && envp[i] != NULL; i++)
		if (envp[i] == end)
			end = envp[i] + strlen(envp[i]) + 1;
	pt.pt_end = end;
}

/*
 * Like setproctitle(3) of libbsd, whose area this is: the first call
 * clears the whole area, later ones what a title can cover.  A title
 * shorter than argv[0] was leaves a '.' where argv[0] ended, so that
 * Linux reads the title to its first NUL rather than the whole
 * argument area.  A worker sets its title with this and no stdio: that
 * is text and stack pages it would otherwise fault in.
 */
void
proctitle_set(const char *a, const char *b)
{
	const char	*parts[] = { getprogname(), ": ", a, b };
	size_t		 area, room, len = 0, n, i;
	char		*nul;

	if (pt.pt_base == NULL)
		return;
	area = pt.pt_end - pt.pt_base;
	room = area < PT_TITLE_MAX + 1 ? area : PT_TITLE_MAX + 1;
	memset(pt.pt_base, 0, pt.pt_cleared ? room : area);
	pt.pt_cleared = 1;
	for (i = 0; i < nitems(parts); i++) {
		if (parts[i] == NULL)
			continue;
		n = strlen(parts[i]);
		if (n > room - 1 - len)
			n = room - 1 - len;
		memcpy(pt.pt_base + len, parts[i], n);
		len += n;
	}
	nul = pt.pt_base + len;
	if (nul < pt.pt_nul)
		*pt.pt_nul = '.';
	else if (nul == pt.pt_nul && nul + 1 < pt.pt_end) {
		*pt.pt_nul = ' ';
		nul[1] = '\0';
	}
}

char *
fmt_uint(char *buf, unsigned long long v)
{
	char	 tmp[21];
	size_t	 n = 0, i;

	do {
		tmp[n++] = '0' + v % 10;
		v /= 10;
	} while (v != 0);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\0';
	return (buf);
}

int
set_nonblock(int fd)
{
	int	 flags;

	if ((flags = fcntl(fd, F_GETFL)) == -1)
		return (-1);
	return (fcntl(fd, F_SETFL, flags | O_NONBLOCK));
}

const char *
addr_str(const struct sockaddr *sa, int with_port, char *buf, size_t len)
{
	char	 host[INET6_ADDRSTRLEN];
	int	 port;

	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *sin = (const void *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		port = ntohs(sin->sin_port);
		if (with_port)
			snprintf(buf, len, "%s:%d", host, port);
		else
			snprintf(buf, len, "%s", host);
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		port = ntohs(sin6->sin6_port);
		if (with_port)
			snprintf(buf, len, "[%s]:%d", host, port);
		else
			snprintf(buf, len, "%s", host);
		break;
	}
	default:
		snprintf(buf, len, "(family %d)", sa->sa_family);
		break;
	}
	return (buf);
}

const char *
portal_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char	 a[ADDRSTRLEN];

	snprintf(buf, len, "%s,1", addr_str(sa, 1, a, sizeof(a)));
	return (buf);
}
