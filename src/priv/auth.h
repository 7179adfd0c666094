/*
 * auth.h: CHAP judged by io (the OpenSSH monitor pattern).  io alone
 * holds the secrets: it makes each challenge, judges each response,
 * answers the initiator's challenge for mutual CHAP, and keeps a verdict
 * per worker channel that MSG_W_ADMIT must match.
 */
#ifndef IETD_AUTH_H
#define IETD_AUTH_H

#include <sys/queue.h>
#include <stdbool.h>
#include <stdint.h>

#include "chap.h"
#include "conf.h"
#include "ipc.h"

/* What io knows of one worker's CHAP exchange; part of its io_worker. */
struct auth_state {
	TAILQ_ENTRY(auth_state)	 as_entry;	/* live challenges */
	bool			 as_asked;	/* challenge made (once) */
	bool			 as_live;	/* challenge not used yet */
	bool			 as_ok;		/* verdict: authenticated */
	uint32_t		 as_tid;	/* 0: discovery */
	int			 as_alg;
	uint8_t			 as_id;
	uint32_t		 as_challen;
	uint8_t			 as_chal[CHAP_DIGEST_MAX];
	char			 as_initiator[ISCSI_NAME_MAX];
	char			 as_user[CHAP_NAME_MAX];
};

/* Does this target (0: discovery) require CHAP? */
bool	auth_required(const struct conf *, uint32_t tid);
/*
 * MSG_W_AUTH_CHALLENGE: fill the answer.  -1 if the worker broke the
 * protocol (its channel is to be dropped), else 0.
 */
int	auth_challenge(const struct conf *, struct auth_state *,
	    const char *addr, const struct msg_w_auth_challenge *,
	    struct msg_i_auth_challenge *);
/* MSG_W_AUTH_RESPONSE: judge it and fill the answer.  -1 or 0 as above. */
int	auth_response(const struct conf *, struct auth_state *,
	    const char *addr, const struct msg_w_auth_response *,
	    struct msg_i_auth_response *);
/* May this initiator log in to tid, by io's own verdict? */
bool	auth_permits(const struct conf *, const struct auth_state *,
	    uint32_t tid, const char *initiator);
/* Forget the exchange (the worker is gone): no verdict, no challenge. */
void	auth_clear(struct auth_state *);

#endif
