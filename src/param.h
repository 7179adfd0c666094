/*
 * param.h: the negotiation table (RFC 7143 section 13), one row per key:
 * {name, scope, type, default, min, max, result rule}.  Values are kept as
 * uint32_t in arrays indexed by enum param_id so that a whole negotiated
 * set can cross the IPC channel as a fixed-size array.
 */
#ifndef IETD_PARAM_H
#define IETD_PARAM_H

#include <stdbool.h>
#include <stdint.h>

struct keys;

enum param_id {
	P_HEADER_DIGEST,		/* PARAM_DIGEST_* bit mask allowed / result */
	P_DATA_DIGEST,
	P_MAX_CONNECTIONS,
	P_INITIAL_R2T,			/* 0/1 */
	P_IMMEDIATE_DATA,		/* 0/1 */
	P_MAX_RECV_DSL,			/* what the target accepts (declared) */
	P_MAX_XMIT_DSL,			/* what the target sends (initiator's
					   MaxRecvDataSegmentLength, clamped by
					   config MaxXmitDataSegmentLength) */
	P_MAX_BURST,
	P_FIRST_BURST,
	P_DEFAULT_TIME2WAIT,
	P_DEFAULT_TIME2RETAIN,
	P_MAX_OUTSTANDING_R2T,
	P_DATA_PDU_IN_ORDER,		/* 0/1 */
	P_DATA_SEQ_IN_ORDER,		/* 0/1 */
	P_ERROR_RECOVERY_LEVEL,
	P_IFMARKER,			/* always 0 */
	P_OFMARKER,			/* always 0 */
	P_PROTOCOL_LEVEL,		/* iSCSIProtocolLevel (RFC 7144) */
	/* ietd.conf-only settings that ride along with the set: */
	P_QUEUED_COMMANDS,		/* CmdSN window (QueuedCommands) */
	P_NOP_INTERVAL,			/* seconds, 0 = off */
	P_NOP_TIMEOUT,			/* seconds */
	P_MAX_SESSIONS,			/* 0 = no limit */
	P__COUNT
};

#define PARAM_DIGEST_NONE	0x1
#define PARAM_DIGEST_CRC32C	0x2

enum param_type {
	PT_BOOL_AND,		/* result: both Yes */
	PT_BOOL_OR,		/* result: either Yes */
	PT_NUM_MIN,		/* result: the smaller */
	PT_NUM_MAX,		/* result: the larger */
	PT_NUM_DECL,		/* declarative number (MaxRecvDataSegmentLength) */
	PT_DIGEST,		/* list of None/CRC32C */
	PT_CONF		/* configuration only, never on the wire */
};

enum param_scope { PS_SESSION, PS_CONNECTION, PS_CONF };

struct param_def {
	const char	*pd_name;	/* key as on the wire and in ietd.conf */
	enum param_id	 pd_id;
	enum param_scope pd_scope;
	enum param_type	 pd_type;
	uint32_t	 pd_rfc_default; /* value when the key is never sent */
	uint32_t	 pd_ietd_default; /* ietd's configured default */
	uint32_t	 pd_min;
	uint32_t	 pd_max;
	bool		 pd_leading_only; /* LO: only on the leading connection */
};

const struct param_def *param_def_find(const char *name);
const struct param_def *param_def_get(enum param_id);

/* Fill with ietd's defaults (modern: ImmediateData Yes, InitialR2T No,
 * 256 KiB segments and bursts). */
void	param_conf_defaults(uint32_t conf[P__COUNT]);
/* Set one key from ietd.conf ("Yes"/"No", numbers, "None"/"CRC32C" lists).
 * Returns 0, or -1 with *errstr ("unknown key", "invalid value", "out of
 * range (min-max)"). */
int	param_conf_set(uint32_t conf[P__COUNT], const char *name,
	    const char *value, const char **errstr);

/* State of one login's operational negotiation. */
struct param_neg {
	uint32_t	 pn_conf[P__COUNT];	/* target's configured values */
	uint32_t	 pn_result[P__COUNT];	/* negotiated so far (starts at RFC defaults) */
	bool		 pn_seen[P__COUNT];	/* initiator has sent this key */
	bool		 pn_declared_mrdsl;	/* we sent our MaxRecvDataSegmentLength */
	bool		 pn_discovery;		/* SessionType=Discovery */
	bool		 pn_leading;		/* leading connection (TSIH 0) */
};

void	param_neg_init(struct param_neg *, const uint32_t conf[P__COUNT],
	    bool discovery, bool leading);
/*
 * Answer every key of `in' that is an operational key of the table:
 * negotiate it, add the answer to `out', and delete it from `in'.  Keys
 * that are not in the table get "NotUnderstood"; keys irrelevant to this
 * session type get "Irrelevant"; malformed or out-of-range values get
 * "Reject" where RFC 7143 allows, otherwise the function returns -1 with
 * *status set to a LOGIN_* code and *errstr to a reason for the log.
 * Declarative login keys (InitiatorName, TargetName, SessionType,
 * AuthMethod, CHAP_*, InitiatorAlias, TargetAlias, TargetAddress,
 * TargetPortalGroupTag) must have been removed from `in' by the caller.
 * The first call also declares the target's MaxRecvDataSegmentLength.
 */
int	param_negotiate(struct param_neg *, struct keys *in, struct keys *out,
	    int *status, const char **errstr);

#endif
