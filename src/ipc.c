/*
 * ipc.c: typed records over SOCK_SEQPACKET socketpairs.  One record per
 * datagram; a descriptor rides on the record that describes it.  The
 * receiver's table decides what it accepts: type, payload size, and
 * whether exactly one fd must come with it.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "util.h"

int
ipc_pair(int sv[2])
{
	return (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv));
}

int
ipc_send(int sock, enum ipc_type type, uint32_t peerid, const void *data,
    size_t len, int fd)
{
	struct ipc_hdr	 hdr;
	struct iovec	 iov[2];
	struct msghdr	 msg;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	}		 cmsgbuf;
	struct cmsghdr	*cmsg;
	ssize_t		 n;

	if (len > IPC_MAX - sizeof(hdr)) {
		errno = EMSGSIZE;
		return (-1);
	}
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = len;
	hdr.peerid = peerid;
	iov[0].iov_base = &hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = (void *)(uintptr_t)data;
	iov[1].iov_len = len;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = len > 0 ? 2 : 1;
	if (fd >= 0) {
		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = sizeof(cmsgbuf.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return (-1);
	if ((size_t)n != sizeof(hdr) + len) {
		errno = EMSGSIZE;
		return (-1);
	}
	return (0);
}

static const char *
ipc_type_name(uint32_t type)
{
	static const char *names[MSG__COUNT] = {
		[MSG_NONE] = "none",
		[MSG_P_WORKER] = "P_WORKER",
		[MSG_P_GONE] = "P_GONE",
		[MSG_P_SHUTDOWN] = "P_SHUTDOWN",
		[MSG_P_RELOAD] = "P_RELOAD",
		[MSG_W_ADMIT] = "W_ADMIT",
		[MSG_W_HANDOFF] = "W_HANDOFF",
		[MSG_I_ADMIT] = "I_ADMIT",
		[MSG_I_READY] = "I_READY",
		[MSG_W_AUTH_CHALLENGE] = "W_AUTH_CHALLENGE",
		[MSG_I_AUTH_CHALLENGE] = "I_AUTH_CHALLENGE",
		[MSG_W_AUTH_RESPONSE] = "W_AUTH_RESPONSE",
		[MSG_I_AUTH_RESPONSE] = "I_AUTH_RESPONSE",
		[MSG_W_ACCESS] = "W_ACCESS",
		[MSG_I_ACCESS] = "I_ACCESS",
	};

	if (type < MSG__COUNT && names[type] != NULL)
		return (names[type]);
	return ("unknown");
}

int
ipc_recv(int sock, const struct ipc_rule *rules, size_t nrules,
    struct ipc_msg *m)
{
	struct iovec	 iov;
	struct msghdr	 msg;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * 4)];
	}		 cmsgbuf;
	struct cmsghdr	*cmsg;
	const struct ipc_rule *r = NULL;
	ssize_t		 n;
	size_t		 i, nfds = 0;
	int		 fds[4];

	m->fd = -1;
	iov.iov_base = m;
	iov.iov_len = sizeof(m->hdr) + sizeof(m->data);
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	do {
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return (-1);
	if (n == 0)
		return (0);

	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		size_t	 k, cnt;

		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (k = 0; k < cnt && nfds < nitems(fds); k++)
			memcpy(&fds[nfds++], CMSG_DATA(cmsg) + k * sizeof(int),
			    sizeof(int));
	}

	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		log_warnx("ipc: truncated record");
		goto bad;
	}
	if ((size_t)n < sizeof(m->hdr)) {
		log_warnx("ipc: short record (%zd bytes)", n);
		goto bad;
	}
	for (i = 0; i < nrules; i++)
		if (rules[i].ir_type == m->hdr.type) {
			r = &rules[i];
			break;
		}
	if (r == NULL) {
		log_warnx("ipc: unexpected record type %u (%s)", m->hdr.type,
		    ipc_type_name(m->hdr.type));
		goto bad;
	}
	if (m->hdr.len != (size_t)n - sizeof(m->hdr) ||
	    m->hdr.len < r->ir_min || m->hdr.len > r->ir_max) {
		log_warnx("ipc: %s: bad length %u", ipc_type_name(m->hdr.type),
		    m->hdr.len);
		goto bad;
	}
	if (nfds != (r->ir_fd ? 1U : 0U)) {
		log_warnx("ipc: %s: %zu descriptors", ipc_type_name(m->hdr.type),
		    nfds);
		goto bad;
	}
	if (nfds == 1)
		m->fd = fds[0];
	return (1);

bad:
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	m->fd = -1;
	errno = EBADMSG;
	return (-1);
}

bool
ipc_str_ok(const char *field, size_t size)
{
	return (memchr(field, '\0', size) != NULL);
}
