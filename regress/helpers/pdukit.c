/*
 * pdukit: the socket and PDU plumbing the raw-PDU test clients share.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <endian.h>
#include <err.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pdukit.h"

/*
 * Connect to host:port.  Returns the socket, or -1 with errno set (or
 * *gai set to the getaddrinfo() error, when gai is not NULL).
 */
int
pk_dial(const char *host, const char *port, int opts, int *gai)
{
	struct addrinfo	 hints, *res, *ai;
	int		 fd = -1, e, one = 1, rcvbuf = 8192;

	if (gai != NULL)
		*gai = 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
		if (gai != NULL)
			*gai = e;
		return (-1);
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype, 0)) == -1)
			continue;
		/* Small, so that the target's output queue backs up. */
		if (opts & PK_SMALLRCV)
			(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
			    sizeof(rcvbuf));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		e = errno;
		close(fd);
		errno = e;
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd != -1 && (opts & PK_NODELAY))
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	return (fd);
}

/* pk_dial(), or exit with the reason. */
int
pk_xdial(const char *host, const char *port, int opts)
{
	int		 fd, e;

	if ((fd = pk_dial(host, port, opts, &e)) == -1 && e != 0)
		errx(1, "%s:%s: %s", host, port, gai_strerror(e));
	if (fd == -1)
		err(1, "connect to %s:%s", host, port);
	return (fd);
}

/* Write all of buf: 0, or -1 (the target closed; no SIGPIPE). */
int
pk_send_all(int fd, const void *buf, size_t len)
{
	const uint8_t	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return (-1);
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

/* A PDU without digests: the BHS as it is, then data padded to 4. */
int
pk_send_pdu(int fd, const void *bhs, const void *data, size_t len)
{
	static const uint8_t	 zero[4];

	if (pk_send_all(fd, bhs, ISCSI_BHS_SIZE) == -1 ||
	    (len > 0 && pk_send_all(fd, data, len) == -1) ||
	    pk_send_all(fd, zero, pdu_padding(len)) == -1)
		return (-1);
	return (0);
}

/* *dl: ms milliseconds from now. */
void
pk_deadline(struct timespec *dl, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, dl);
	dl->tv_sec += ms / 1000;
	dl->tv_nsec += (long)(ms % 1000) * 1000000;
	if (dl->tv_nsec >= 1000000000) {
		dl->tv_sec++;
		dl->tv_nsec -= 1000000000;
	}
}

/*
 * Read exactly len bytes before *dl: 0, PK_CLOSED (errno 0 on EOF, else
 * the read error) or PK_TIMEOUT.
 */
int
pk_read_full(int fd, void *buf, size_t len, const struct timespec *dl)
{
	struct pollfd	 pfd;
	struct timespec	 now;
	uint8_t		*p = buf;
	ssize_t		 n;
	long		 ms;

	while (len > 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (dl->tv_sec - now.tv_sec) * 1000 +
		    (dl->tv_nsec - now.tv_nsec) / 1000000;
		if (ms <= 0)
			return (PK_TIMEOUT);
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)ms) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "poll");
		}
		if (pfd.revents == 0)
			continue;
		n = read(fd, p, len);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == 0)
			errno = 0;
		if (n <= 0)
			return (PK_CLOSED);
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

/* pk_read_full() within ms milliseconds from now. */
int
pk_read_ms(int fd, void *buf, size_t len, int ms)
{
	struct timespec	 dl;

	pk_deadline(&dl, ms);
	return (pk_read_full(fd, buf, len, &dl));
}

/*
 * Read one PDU without digests before *dl: the BHS into *bhs, its AHS
 * skipped, its data segment (NUL-terminated, padding dropped) into a
 * malloc'd *data of *len bytes.  A segment over max is PK_CLOSED.
 * Returns 0, PK_CLOSED or PK_TIMEOUT; on error *data is NULL.
 */
int
pk_recv_pdu(int fd, struct iscsi_bhs *bhs, uint8_t **data, size_t *len,
    size_t max, const struct timespec *dl)
{
	size_t		 ahs, dlen, pad;
	uint8_t		*buf;
	int		 rc;

	*data = NULL;
	*len = 0;
	if ((rc = pk_read_full(fd, bhs, ISCSI_BHS_SIZE, dl)) != 0)
		return (rc);
	ahs = (size_t)bhs->total_ahs_len * 4;
	dlen = pdu_data_len(bhs);
	if (dlen > max)
		return (PK_CLOSED);
	pad = pdu_padding(dlen);
	if ((buf = calloc(1, ahs + dlen + pad + 1)) == NULL)
		err(1, "calloc");
	if ((rc = pk_read_full(fd, buf, ahs + dlen + pad, dl)) != 0) {
		free(buf);
		return (rc);
	}
	memmove(buf, buf + ahs, dlen);
	buf[dlen] = '\0';
	*data = buf;
	*len = dlen;
	return (0);
}

void
pk_put24(uint8_t dst[3], uint32_t v)
{
	dst[0] = v >> 16;
	dst[1] = v >> 8;
	dst[2] = v;
}

/*
 * A Login Request with T=1 from stage csg to the next one (security to
 * operational, operational to full feature), ISID 0x80 0 0 pid isid5.
 */
void
pk_login_req(struct iscsi_login_req *q, int csg, uint8_t isid5, uint32_t itt,
    uint32_t cmdsn, uint32_t expstatsn)
{
	memset(q, 0, sizeof(*q));
	q->opcode = ISCSI_OP_LOGIN_REQ | ISCSI_OP_IMMEDIATE;
	q->flags = ISCSI_LOGIN_T | csg << 2 |
	    (csg == ISCSI_STAGE_SECURITY ? ISCSI_STAGE_OPERATIONAL :
	    ISCSI_STAGE_FULL);
	q->isid[0] = 0x80;
	q->isid[3] = getpid() >> 8;
	q->isid[4] = getpid();
	q->isid[5] = isid5;
	q->itt = htobe32(itt);
	q->cmdsn = htobe32(cmdsn);
	q->expstatsn = htobe32(expstatsn);
}
