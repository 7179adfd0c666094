/*
 * login.h: state of one connection's login phase (worker only).
 */
#ifndef IETD_LOGIN_H
#define IETD_LOGIN_H

#include <sys/socket.h>
#include <stdbool.h>
#include <stdint.h>

#include "chap.h"
#include "conf.h"
#include "keys.h"
#include "param.h"
#include "pdu.h"

#define LOGIN_PDUS_MAX		32	/* login requests in one login phase */
#define LOGIN_TEXT_MAX		65536	/* keys across C-bit continuations */

/* The security stage: where the CHAP exchange stands. */
enum login_auth {
	AUTH_START,		/* no AuthMethod yet */
	AUTH_WANT_A,		/* AuthMethod=CHAP answered: CHAP_A next */
	AUTH_WANT_R,		/* challenge sent: CHAP_N/CHAP_R next */
	AUTH_DONE,		/* authenticated by io, or None allowed */
};

struct login {
	int			 l_fd;		/* the initiator's socket */
	int			 l_chan;	/* channel to io */
	const struct conf	*l_conf;
	struct sockaddr_storage	 l_local;
	struct sockaddr_storage	 l_peer;	/* as the parent accepted it */
	char			 l_addr[64];	/* peer, for the log */
	struct conf_target	*l_target;	/* NULL for discovery */
	bool			 l_discovery;
	bool			 l_chap;	/* IncomingUser: CHAP required */
	bool			 l_access_pending; /* io's verdict unread */
	enum login_auth		 l_auth;
	char			 l_chap_user[CHAP_NAME_MAX];
	char			 l_initiator[ISCSI_NAME_MAX];
	uint8_t			 l_isid[6];
	uint16_t		 l_tsih;
	uint16_t		 l_cid;
	uint32_t		 l_itt;
	uint32_t		 l_cmdsn;	/* ExpCmdSN */
	uint32_t		 l_statsn;	/* next StatSN to send */
	uint32_t		 l_window;	/* QueuedCommands */
	int			 l_stage;	/* current stage (CSG) */
	unsigned		 l_npdus;
	struct param_neg	 l_neg;
};

/* login_run's answer when the initiator closed the connection. */
#define LOGIN_CLOSED		-2

/*
 * Runs the login phase: 0 once the Full Feature Phase is reached, -1 if
 * the login failed (the reject was sent and logged), LOGIN_CLOSED if the
 * initiator went away.  The worker exits on anything but 0.
 */
int	login_run(struct login *);
/* Send a Login Response with a failure status, log why; returns -1. */
int	login_fail(struct login *, const struct pdu *req, int status,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void	login_send(struct login *, struct pdu *);

/* discovery.c: the Full Feature Phase of a discovery session. */
__dead void discovery_run(struct login *);

#endif
