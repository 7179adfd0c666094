/*
 * ipc.h: typed records over SOCK_SEQPACKET socketpairs, with at most one
 * file descriptor riding on the record that describes it (SCM_RIGHTS).
 * Every receiver checks each record against a table of allowed types,
 * senders, sizes and fd-carrying (ipc_recv); a mismatch drops the peer.
 */
#ifndef IETD_IPC_H
#define IETD_IPC_H

#include <sys/socket.h>
#include <stdbool.h>
#include <stdint.h>

#include "chap.h"
#include "param.h"
#include "pdu.h"

#define IPC_MAX		4096		/* largest record, header included */

enum ipc_type {
	MSG_NONE = 0,
	/* parent -> io */
	MSG_P_WORKER,		/* + fd: io's end of a new worker channel */
	MSG_P_GONE,		/* a worker has exited */
	MSG_P_SHUTDOWN,		/* stop: log out sessions, flush, exit */
	MSG_P_RELOAD,		/* SIGHUP: re-read the LUNs (reload.c) */
	/* worker -> io */
	MSG_W_ADMIT,		/* may this login become a session? */
	MSG_W_HANDOFF,		/* + fd: the logged-in connection */
	/* io -> worker */
	MSG_I_ADMIT,		/* verdict and TSIH */
	/* io -> parent */
	MSG_I_READY,		/* io is up (start-up handshake) */
	/* worker -> io, io -> worker: CHAP, judged by io */
	MSG_W_AUTH_CHALLENGE,	/* CHAP_A offered: make our challenge */
	MSG_I_AUTH_CHALLENGE,	/* algorithm, identifier, challenge */
	MSG_W_AUTH_RESPONSE,	/* CHAP_N, CHAP_R (+ CHAP_I, CHAP_C) */
	MSG_I_AUTH_RESPONSE,	/* verdict (+ CHAP_N, CHAP_R for mutual) */
	/* worker -> io, io -> worker: initiator access, judged by io */
	MSG_W_ACCESS,		/* may this initiator reach this target? */
	MSG_I_ACCESS,		/* verdict */
	MSG__COUNT
};

enum ipc_role { ROLE_STARTUP, ROLE_PARENT, ROLE_WORKER, ROLE_IO };

struct ipc_hdr {
	uint32_t	type;
	uint32_t	len;		/* payload bytes after the header */
	uint32_t	peerid;		/* worker id, 0 for none */
	uint32_t	flags;
};

struct msg_p_worker {
	struct sockaddr_storage	peer;		/* as accept(2) gave it */
	struct sockaddr_storage	local;		/* getsockname of the client */
};

struct msg_p_gone {
	int32_t		status;		/* wait(2) status */
};

struct msg_w_admit {
	uint8_t		isid[6];
	uint16_t	tsih;		/* 0: new session */
	uint16_t	cid;
	uint16_t	pad;
	uint32_t	tid;		/* target id from the worker's conf */
	char		initiator[ISCSI_NAME_MAX];
	char		target[ISCSI_NAME_MAX];
};

struct msg_i_admit {
	uint32_t	status;		/* LOGIN_* (0 = admitted) */
	uint16_t	tsih;		/* assigned when admitted */
	uint16_t	pad;
	uint32_t	expcmdsn;	/* added connection: the session's */
};

struct msg_w_handoff {
	uint8_t		isid[6];
	uint16_t	tsih;		/* as returned by MSG_I_ADMIT */
	uint16_t	cid;
	uint16_t	pad;
	uint32_t	tid;
	uint32_t	cmdsn;		/* ExpCmdSN: next CmdSN expected */
	uint32_t	statsn;		/* next StatSN to send */
	uint32_t	params[P__COUNT];	/* negotiated (param.h) */
	char		initiator[ISCSI_NAME_MAX];
	char		target[ISCSI_NAME_MAX];
};

/* tid 0: a discovery session (global IncomingUser). */
struct msg_w_auth_challenge {
	uint32_t	tid;
	uint32_t	nalgs;		/* entries of algs in use */
	uint8_t		algs[CHAP_ALGS_MAX];	/* the initiator's CHAP_A */
	char		initiator[ISCSI_NAME_MAX];
	char		target[ISCSI_NAME_MAX];	/* "" for discovery */
};

struct msg_i_auth_challenge {
	uint32_t	status;		/* LOGIN_OK or LOGIN_AUTH_FAILED */
	uint32_t	alg;		/* CHAP_A */
	uint32_t	id;		/* CHAP_I */
	uint32_t	challen;
	uint8_t		chal[CHAP_DIGEST_MAX];	/* CHAP_C */
};

#define AUTH_MUTUAL	0x1		/* CHAP_I and CHAP_C came too */

struct msg_w_auth_response {
	uint32_t	flags;		/* AUTH_* */
	uint32_t	id;		/* the initiator's CHAP_I (mutual) */
	uint32_t	resplen;
	uint32_t	challen;
	char		name[CHAP_NAME_MAX];	/* CHAP_N */
	uint8_t		resp[CHAP_DIGEST_MAX];	/* CHAP_R */
	uint8_t		chal[CHAP_CHALLENGE_MAX];	/* initiator's CHAP_C */
};

struct msg_i_auth_response {
	uint32_t	status;		/* LOGIN_OK or LOGIN_AUTH_FAILED */
	uint32_t	resplen;	/* mutual: our CHAP_R */
	char		name[CHAP_NAME_MAX];	/* mutual: our CHAP_N */
	uint8_t		resp[CHAP_DIGEST_MAX];
};

/* Asked once, as soon as the first Login Request names the target. */
struct msg_w_access {
	uint32_t	tid;
	char		initiator[ISCSI_NAME_MAX];
	char		target[ISCSI_NAME_MAX];
};

struct msg_i_access {
	uint32_t	status;		/* LOGIN_OK, LOGIN_FORBIDDEN, ... */
};

/* One row of a receiver's table. */
struct ipc_rule {
	enum ipc_type	ir_type;
	uint32_t	ir_min;		/* payload size bounds */
	uint32_t	ir_max;
	bool		ir_fd;		/* must carry exactly one fd */
};

struct ipc_msg {
	struct ipc_hdr	hdr;
	uint8_t		data[IPC_MAX - sizeof(struct ipc_hdr)];
	int		fd;		/* -1 if none */
};

/* socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC). */
int	ipc_pair(int sv[2]);
/* Send one record; fd < 0 for none.  0 or -1 (errno). */
int	ipc_send(int sock, enum ipc_type, uint32_t peerid, const void *,
	    size_t, int fd);
/*
 * Receive one record and check it against rules[nrules].  Returns 1 with
 * *msg filled, 0 on EOF, -1 on error or a record the table refuses (the
 * reason is logged, any fd received is closed).  EAGAIN: -1, errno set.
 */
int	ipc_recv(int sock, const struct ipc_rule *, size_t nrules,
	    struct ipc_msg *);
/* Copy a NUL-terminated string field, verifying termination. */
bool	ipc_str_ok(const char *field, size_t size);

#endif
