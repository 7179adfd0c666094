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
