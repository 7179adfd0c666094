/*
 * util.h: small helpers shared by every role.
 */
#ifndef IETD_UTIL_H
#define IETD_UTIL_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* Fatal on failure: only for start-up and the worker. */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
char	*xstrdup(const char *);
/* 32 bits from getrandom(2): no generator to seed in each worker. */
uint32_t xrandom32(void);

/*
 * Process titles without stdio: proctitle_init (before libbsd's
 * setproctitle_init moves the arguments and environment away) finds the
 * area ps(1) shows; proctitle_set writes "ietd: <a><b>" there.
 */
void	 proctitle_init(int argc, char **argv, char **envp);
void	 proctitle_set(const char *a, const char *b);
/* v in decimal, NUL-terminated: at most 21 bytes of buf.  Returns buf. */
char	*fmt_uint(char *buf, unsigned long long v);

int	 set_nonblock(int fd);
/* "1.2.3.4:3260" or "[::1]:3260" (with_port) / "1.2.3.4" or "::1". */
const char *addr_str(const struct sockaddr *, int with_port, char *, size_t);
#define ADDRSTRLEN	64
/* A TargetAddress value: "1.2.3.4:3260,1" (portal group tag 1). */
const char *portal_str(const struct sockaddr *, char *, size_t);

/* Big-endian fields of PDUs and CDBs, at any alignment. */
static inline uint16_t
get_be16(const uint8_t *p)
{
	return ((uint16_t)(p[0] << 8 | p[1]));
}

static inline uint32_t
get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3]);
}

static inline uint64_t
get_be64(const uint8_t *p)
{
	return ((uint64_t)get_be32(p) << 32 | get_be32(p + 4));
}

static inline void
put_be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static inline void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static inline void
put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, v >> 32);
	put_be32(p + 4, (uint32_t)v);
}

static inline uint32_t
get_be24(const uint8_t *p)
{
	return ((uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]);
}

static inline void
put_be24(uint8_t *p, uint32_t v)
{
	p[0] = v >> 16;
	p[1] = v >> 8;
	p[2] = v;
}

#endif
