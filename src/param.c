/*
 * param.c: the operational key table (RFC 7143 section 13, RFC 7144
 * section 2.1 for iSCSIProtocolLevel) and login negotiation against it.
 * Section numbers in comments are those of RFC 7143 unless noted.
 */

#include <sys/types.h>

#include <bsd/stdlib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "keys.h"
#include "param.h"
#include "pdu.h"
#include "util.h"

#define DSL_MIN		512
#define DSL_MAX		16777215	/* 2^24 - 1 */
#define DIGEST_ALL	(PARAM_DIGEST_NONE | PARAM_DIGEST_CRC32C)
#define PROTOCOL_LEVEL	1		/* we implement RFC 7143 (level 1) */
#define INITIATOR_MRDSL	8192		/* 13.12 default, until declared */

/*
 * One row per key, indexed by enum param_id.  Columns: name, id, scope,
 * result rule, RFC default (the value when the key is never sent), ietd
 * default (modern and fast, see DESIGN.md), minimum, maximum, leading
 * only.  The session-wide keys are LO (13.2, 13.10, 13.11, 13.13-13.20).
 */
static const struct param_def param_table[P__COUNT] = {
	/*
	 * Digests: by default the target accepts both, so the initiator's
	 * order decides (it is the one paying for them), in normal and in
	 * discovery sessions alike.
	 */
	[P_HEADER_DIGEST] = { "HeaderDigest", P_HEADER_DIGEST,
	    PS_CONNECTION, PT_DIGEST, PARAM_DIGEST_NONE, DIGEST_ALL,
	    PARAM_DIGEST_NONE, DIGEST_ALL, false },
	[P_DATA_DIGEST] = { "DataDigest", P_DATA_DIGEST,
	    PS_CONNECTION, PT_DIGEST, PARAM_DIGEST_NONE, DIGEST_ALL,
	    PARAM_DIGEST_NONE, DIGEST_ALL, false },
	[P_MAX_CONNECTIONS] = { "MaxConnections", P_MAX_CONNECTIONS,
	    PS_SESSION, PT_NUM_MIN, 1, 1, 1, 65535, true },
	[P_INITIAL_R2T] = { "InitialR2T", P_INITIAL_R2T,
	    PS_SESSION, PT_BOOL_OR, 1, 0, 0, 1, true },
	[P_IMMEDIATE_DATA] = { "ImmediateData", P_IMMEDIATE_DATA,
	    PS_SESSION, PT_BOOL_AND, 1, 1, 0, 1, true },
	[P_MAX_RECV_DSL] = { "MaxRecvDataSegmentLength", P_MAX_RECV_DSL,
	    PS_CONNECTION, PT_NUM_DECL, 8192, 262144, DSL_MIN, DSL_MAX,
	    false },
	[P_MAX_XMIT_DSL] = { "MaxXmitDataSegmentLength", P_MAX_XMIT_DSL,
	    PS_CONF, PT_CONF, 8192, 262144, DSL_MIN, DSL_MAX, false },
	[P_MAX_BURST] = { "MaxBurstLength", P_MAX_BURST,
	    PS_SESSION, PT_NUM_MIN, 262144, 262144, DSL_MIN, DSL_MAX, true },
	/*
	 * FirstBurstLength must not exceed MaxBurstLength (13.14).  ietd's
	 * default equals its MaxBurstLength (allowed: "not exceed"), so with
	 * ImmediateData=Yes and InitialR2T=No a write up to 256 KiB needs
	 * no R2T.  param_negotiate clamps the result to MaxBurstLength.
	 */
	[P_FIRST_BURST] = { "FirstBurstLength", P_FIRST_BURST,
	    PS_SESSION, PT_NUM_MIN, 65536, 262144, DSL_MIN, DSL_MAX, true },
	[P_DEFAULT_TIME2WAIT] = { "DefaultTime2Wait", P_DEFAULT_TIME2WAIT,
	    PS_SESSION, PT_NUM_MAX, 2, 2, 0, 3600, true },
	[P_DEFAULT_TIME2RETAIN] = { "DefaultTime2Retain",
	    P_DEFAULT_TIME2RETAIN,
	    PS_SESSION, PT_NUM_MIN, 20, 20, 0, 3600, true },
	[P_MAX_OUTSTANDING_R2T] = { "MaxOutstandingR2T",
	    P_MAX_OUTSTANDING_R2T,
	    PS_SESSION, PT_NUM_MIN, 1, 1, 1, 65535, true },
	[P_DATA_PDU_IN_ORDER] = { "DataPDUInOrder", P_DATA_PDU_IN_ORDER,
	    PS_SESSION, PT_BOOL_OR, 1, 1, 0, 1, true },
	[P_DATA_SEQ_IN_ORDER] = { "DataSequenceInOrder", P_DATA_SEQ_IN_ORDER,
	    PS_SESSION, PT_BOOL_OR, 1, 1, 0, 1, true },
	[P_ERROR_RECOVERY_LEVEL] = { "ErrorRecoveryLevel",
	    P_ERROR_RECOVERY_LEVEL,
	    PS_SESSION, PT_NUM_MIN, 0, 0, 0, 2, true },
	/* Markers are not implemented: AND with our No is always No. */
	[P_IFMARKER] = { "IFMarker", P_IFMARKER,
	    PS_CONNECTION, PT_BOOL_AND, 0, 0, 0, 1, false },
	[P_OFMARKER] = { "OFMarker", P_OFMARKER,
	    PS_CONNECTION, PT_BOOL_AND, 0, 0, 0, 1, false },
	/*
	 * RFC 7144 2.1: 0-31, result Minimum, LO; 1 is RFC 7143, the most
	 * we implement.  An initiator that never sends the key claims no
	 * level, so the result stays 0 until it does.
	 */
	[P_PROTOCOL_LEVEL] = { "iSCSIProtocolLevel", P_PROTOCOL_LEVEL,
	    PS_SESSION, PT_NUM_MIN, 0, PROTOCOL_LEVEL, 0, 31, true },
	/* ietd.conf only, never negotiated. */
	[P_QUEUED_COMMANDS] = { "QueuedCommands", P_QUEUED_COMMANDS,
	    PS_CONF, PT_CONF, 32, 32, 1, 2048, false },
	/* NOP-In pings: LIO's defaults, so that a vanished initiator
	 * (and whatever it reserved) is let go within a minute. */
	[P_NOP_INTERVAL] = { "NOPInterval", P_NOP_INTERVAL,
	    PS_CONF, PT_CONF, 15, 15, 0, 3600, false },
	[P_NOP_TIMEOUT] = { "NOPTimeout", P_NOP_TIMEOUT,
	    PS_CONF, PT_CONF, 30, 30, 0, 3600, false },
	[P_MAX_SESSIONS] = { "MaxSessions", P_MAX_SESSIONS,
	    PS_CONF, PT_CONF, 0, 0, 0, 65535, false },
};

static const char *const reserved_values[] = {
	"Reject", "Irrelevant", "NotUnderstood"
};

static void	conf_range(const struct param_def *, uint32_t *, uint32_t *);
static int	conf_digest(const char *, uint32_t *);
static bool	discovery_irrelevant(enum param_id);
static int	parse_number(const char *, uint64_t *);
static int	parse_bool(const char *, uint32_t *);
static bool	list_has(const char *, const char *);
static int	answer(struct keys *, const char *, const char *, int *,
		    const char **);
static int	answer_uint(struct keys *, const char *, uint32_t, int *,
		    const char **);
static int	neg_fail(int *, const char **, const char *);
static int	neg_other(struct param_neg *, const char *, const char *,
		    struct keys *, int *, const char **);
static int	neg_digest(struct param_neg *, const struct param_def *,
		    const char *, struct keys *, int *, const char **);
static int	neg_number(struct param_neg *, const struct param_def *,
		    const char *, struct keys *, int *, const char **);
static int	neg_key(struct param_neg *, const char *, const char *,
		    struct keys *, int *, const char **);
static int	declare_mrdsl(struct param_neg *, struct keys *, int *,
		    const char **);

const struct param_def *
param_def_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < P__COUNT; i++)
		if (strcmp(param_table[i].pd_name, name) == 0)
			return (&param_table[i]);
	return (NULL);
}

const struct param_def *
param_def_get(enum param_id id)
{
	if ((unsigned int)id >= P__COUNT)
		return (NULL);
	return (&param_table[id]);
}

void
param_conf_defaults(uint32_t conf[P__COUNT])
{
	size_t	 i;

	for (i = 0; i < P__COUNT; i++)
		conf[i] = param_table[i].pd_ietd_default;
}

/* What ietd.conf may set, which is narrower than the wire range. */
static void
conf_range(const struct param_def *pd, uint32_t *min, uint32_t *max)
{
	*min = pd->pd_min;
	*max = pd->pd_max;
	switch (pd->pd_id) {
	case P_PROTOCOL_LEVEL:
		*max = PROTOCOL_LEVEL;
		break;
	case P_IFMARKER:
	case P_OFMARKER:
		*max = 0;
		break;
	default:
		break;
	}
}

/* "None", "CRC32C" or a comma-separated list of them, any case. */
static int
conf_digest(const char *value, uint32_t *mask)
{
	const char	*p = value, *comma;
	size_t		 len;

	*mask = 0;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 4 && strncasecmp(p, "None", 4) == 0)
			*mask |= PARAM_DIGEST_NONE;
		else if (len == 6 && strncasecmp(p, "CRC32C", 6) == 0)
			*mask |= PARAM_DIGEST_CRC32C;
		else
			return (-1);
		if (comma == NULL)
			return (0);
		p = comma + 1;
	}
}

int
param_conf_set(uint32_t conf[P__COUNT], const char *name, const char *value,
    const char **errstr)
{
	static char		 rangebuf[64];
	const struct param_def	*pd = NULL;
	const char		*e;
	uint32_t		 min, max, v;
	size_t			 i;

	for (i = 0; i < P__COUNT; i++)
		if (strcasecmp(param_table[i].pd_name, name) == 0)
			pd = &param_table[i];
	if (pd == NULL) {
		*errstr = "unknown key";
		return (-1);
	}
	conf_range(pd, &min, &max);
	switch (pd->pd_type) {
	case PT_DIGEST:
		if (conf_digest(value, &v) == -1) {
			*errstr = "invalid value";
			return (-1);
		}
		break;
	case PT_BOOL_AND:
	case PT_BOOL_OR:
		if (strcasecmp(value, "Yes") == 0)
			v = 1;
		else if (strcasecmp(value, "No") == 0)
			v = 0;
		else {
			*errstr = "invalid value";
			return (-1);
		}
		if (v > max) {
			*errstr = "not supported";
			return (-1);
		}
		break;
	default:
		/* libbsd's strtonum does not always set errno: use e. */
		v = strtonum(value, min, max, &e);
		if (e != NULL) {
			if (strcmp(e, "too small") != 0 &&
			    strcmp(e, "too large") != 0) {
				*errstr = "invalid value";
				return (-1);
			}
			(void)snprintf(rangebuf, sizeof(rangebuf),
			    "out of range (%u-%u)", min, max);
			*errstr = rangebuf;
			return (-1);
		}
		break;
	}
	conf[pd->pd_id] = v;
	*errstr = NULL;
	return (0);
}

void
param_neg_init(struct param_neg *pn, const uint32_t conf[P__COUNT],
    bool discovery, bool leading)
{
	const struct param_def	*pd;
	uint32_t		 min, max;
	size_t			 i;

	memset(pn, 0, sizeof(*pn));
	pn->pn_discovery = discovery;
	pn->pn_leading = leading;
	/* Re-clamp: conf may have crossed a process boundary. */
	for (i = 0; i < P__COUNT; i++) {
		pd = &param_table[i];
		conf_range(pd, &min, &max);
		pn->pn_conf[i] = conf[i];
		if (pd->pd_type == PT_DIGEST) {
			pn->pn_conf[i] &= DIGEST_ALL;
			if (pn->pn_conf[i] == 0)
				pn->pn_conf[i] = PARAM_DIGEST_NONE;
		} else if (pn->pn_conf[i] < min)
			pn->pn_conf[i] = min;
		else if (pn->pn_conf[i] > max)
			pn->pn_conf[i] = max;
		if (pd->pd_scope == PS_CONF)
			pn->pn_result[i] = pn->pn_conf[i];
		else
			pn->pn_result[i] = pd->pd_rfc_default;
	}
	/* We accept what we will declare. */
	pn->pn_result[P_MAX_RECV_DSL] = pn->pn_conf[P_MAX_RECV_DSL];
	/* We may send what the initiator accepts until it declares. */
	pn->pn_result[P_MAX_XMIT_DSL] = INITIATOR_MRDSL;
	if (pn->pn_conf[P_MAX_XMIT_DSL] < INITIATOR_MRDSL)
		pn->pn_result[P_MAX_XMIT_DSL] = pn->pn_conf[P_MAX_XMIT_DSL];
}

/* 13.x "Irrelevant when: SessionType=Discovery". */
static bool
discovery_irrelevant(enum param_id id)
{
	switch (id) {
	case P_MAX_CONNECTIONS:
	case P_INITIAL_R2T:
	case P_IMMEDIATE_DATA:
	case P_MAX_BURST:
	case P_FIRST_BURST:
	case P_MAX_OUTSTANDING_R2T:
	case P_DATA_PDU_IN_ORDER:
	case P_DATA_SEQ_IN_ORDER:
		return (true);
	default:
		return (false);
	}
}

/*
 * 6.1: a numerical-value is a decimal-constant (a single 0, or a digit
 * 1-9 followed by digits) or a hex-constant ("0x" or "0X" followed by hex
 * digits), less than 2^64.  Anything else is not a number.
 */
static int
parse_number(const char *s, uint64_t *v)
{
	uint64_t	 n = 0;
	unsigned int	 d;
	int		 base = 10;
	const char	*p = s;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	} else if (p[0] == '0' && p[1] != '\0')
		return (-1);		/* no leading zeros */
	if (*p == '\0')
		return (-1);
	for (; *p != '\0'; p++) {
		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			return (-1);
		if (n > (UINT64_MAX - d) / base)
			return (-1);
		n = n * base + d;
	}
	*v = n;
	return (0);
}

/* 6.1: boolean-value is exactly "Yes" or "No". */
static int
parse_bool(const char *s, uint32_t *v)
{
	if (strcmp(s, "Yes") == 0)
		*v = 1;
	else if (strcmp(s, "No") == 0)
		*v = 0;
	else
		return (-1);
	return (0);
}

/* Is item one of the values of the comma-separated list? */
static bool
list_has(const char *list, const char *item)
{
	size_t	 len = strlen(item);
	const char *p = list, *comma;

	for (;;) {
		comma = strchr(p, ',');
		if ((comma != NULL ? (size_t)(comma - p) : strlen(p)) == len &&
		    strncmp(p, item, len) == 0)
			return (true);
		if (comma == NULL)
			return (false);
		p = comma + 1;
	}
}

static int
neg_fail(int *status, const char **errstr, const char *why)
{
	*status = LOGIN_INITIATOR_ERROR;
	*errstr = why;
	return (-1);
}

static int
answer(struct keys *out, const char *name, const char *value, int *status,
    const char **errstr)
{
	if (keys_add(out, name, value) == -1) {
		*status = LOGIN_OUT_OF_RESOURCES;
		*errstr = "cannot add key to the login response";
		return (-1);
	}
	return (0);
}

static int
answer_uint(struct keys *out, const char *name, uint32_t v, int *status,
    const char **errstr)
{
	char	 buf[21];

	return (answer(out, name, fmt_uint(buf, v), status, errstr));
}

static int
declare_mrdsl(struct param_neg *pn, struct keys *out, int *status,
    const char **errstr)
{
	if (pn->pn_declared_mrdsl)
		return (0);
	pn->pn_declared_mrdsl = true;
	return (answer_uint(out, param_table[P_MAX_RECV_DSL].pd_name,
	    pn->pn_conf[P_MAX_RECV_DSL], status, errstr));
}

/*
 * Keys outside the table.  Markers were removed from iSCSI by RFC 7143
 * and ours are always No, so their intervals are Irrelevant.  TaskReporting
 * (13.23) is a list whose default, RFC3720, is all we do.  Everything
 * else, X- and X# extension keys included, is NotUnderstood (6.2).
 */
static int
neg_other(struct param_neg *pn, const char *name, const char *value,
    struct keys *out, int *status, const char **errstr)
{
	const char	*v;

	if (strcmp(name, "IFMarkInt") == 0 || strcmp(name, "OFMarkInt") == 0)
		v = "Irrelevant";
	else if (strcmp(name, "TaskReporting") == 0) {
		if (pn->pn_discovery)
			v = "Irrelevant";
		else if (!pn->pn_leading)
			return (neg_fail(status, errstr,
			    "leading-only key on a non-leading connection"));
		else
			v = list_has(value, "RFC3720") ? "RFC3720" : "Reject";
	} else
		v = "NotUnderstood";
	return (answer(out, name, v, status, errstr));
}

/*
 * 6.2.1: the acceptor takes the first value of the initiator's list that
 * it supports, ignores values it does not understand, and answers Reject
 * when none is acceptable; the key then keeps its current value (6.2).
 */
static int
neg_digest(struct param_neg *pn, const struct param_def *pd,
    const char *value, struct keys *out, int *status, const char **errstr)
{
	const char	*p = value, *comma;
	uint32_t	 bit;
	size_t		 len;

	for (;;) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		bit = 0;
		if (len == 4 && strncmp(p, "None", 4) == 0)
			bit = PARAM_DIGEST_NONE;
		else if (len == 6 && strncmp(p, "CRC32C", 6) == 0)
			bit = PARAM_DIGEST_CRC32C;
		if ((bit & pn->pn_conf[pd->pd_id]) != 0) {
			pn->pn_result[pd->pd_id] = bit;
			return (answer(out, pd->pd_name,
			    bit == PARAM_DIGEST_NONE ? "None" : "CRC32C",
			    status, errstr));
		}
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return (answer(out, pd->pd_name, "Reject", status, errstr));
}

/*
 * Numbers and booleans.  6.2.2: "Proposing a value not admissible (e.g.,
 * not within the specified bounds) MAY be answered with the constant
 * Reject"; we do, for malformed values too, and the key keeps its
 * current value.  MaxRecvDataSegmentLength is a declaration with no
 * answer to carry a Reject, so a bad one fails the login.
 */
static int
neg_number(struct param_neg *pn, const struct param_def *pd,
    const char *value, struct keys *out, int *status, const char **errstr)
{
	enum param_id	 id = pd->pd_id;
	uint64_t	 n;
	uint32_t	 v, conf = pn->pn_conf[id];
	bool		 isbool;

	isbool = pd->pd_type == PT_BOOL_AND || pd->pd_type == PT_BOOL_OR;
	if (isbool) {
		if (parse_bool(value, &v) == -1)
			return (answer(out, pd->pd_name, "Reject", status,
			    errstr));
	} else {
		if (parse_number(value, &n) == -1 || n < pd->pd_min ||
		    n > pd->pd_max) {
			if (pd->pd_type == PT_NUM_DECL)
				return (neg_fail(status, errstr,
				    "invalid MaxRecvDataSegmentLength"));
			return (answer(out, pd->pd_name, "Reject", status,
			    errstr));
		}
		v = n;
	}

	switch (pd->pd_type) {
	case PT_BOOL_AND:
		v = v && conf;
		break;
	case PT_BOOL_OR:
		v = v || conf;
		break;
	case PT_NUM_MIN:
		v = v < conf ? v : conf;
		/* 13.14: FirstBurstLength MUST NOT exceed MaxBurstLength. */
		if (id == P_FIRST_BURST && v > pn->pn_result[P_MAX_BURST])
			v = pn->pn_result[P_MAX_BURST];
		break;
	case PT_NUM_MAX:
		v = v > conf ? v : conf;
		break;
	case PT_NUM_DECL:
		/* 13.12: the initiator's limit is what we may send. */
		conf = pn->pn_conf[P_MAX_XMIT_DSL];
		pn->pn_result[P_MAX_XMIT_DSL] = v < conf ? v : conf;
		return (declare_mrdsl(pn, out, status, errstr));
	default:
		return (neg_fail(status, errstr, "internal error"));
	}
	pn->pn_result[id] = v;
	if (isbool)
		return (answer(out, pd->pd_name, v ? "Yes" : "No", status,
		    errstr));
	return (answer_uint(out, pd->pd_name, v, status, errstr));
}

static int
neg_key(struct param_neg *pn, const char *name, const char *value,
    struct keys *out, int *status, const char **errstr)
{
	const struct param_def	*pd;
	enum param_id		 id;
	size_t			 i;

	/* 6.2: the reserved constants are never proposed values. */
	for (i = 0; i < sizeof(reserved_values) / sizeof(reserved_values[0]);
	    i++)
		if (strcmp(value, reserved_values[i]) == 0)
			return (neg_fail(status, errstr,
			    "reserved constant proposed as a value"));

	pd = param_def_find(name);
	if (pd == NULL || pd->pd_type == PT_CONF)
		return (neg_other(pn, name, value, out, status, errstr));
	id = pd->pd_id;

	/*
	 * 6.3: an attempt to renegotiate or redeclare a key MUST be answered
	 * with a Login reject (initiator error).
	 */
	if (pn->pn_seen[id])
		return (neg_fail(status, errstr, "key negotiated twice"));
	pn->pn_seen[id] = true;
	if (pd->pd_leading_only && !pn->pn_leading)
		return (neg_fail(status, errstr,
		    "leading-only key on a non-leading connection"));
	if (pn->pn_discovery && discovery_irrelevant(id))
		return (answer(out, name, "Irrelevant", status, errstr));
	/* 13.14: FirstBurstLength is Irrelevant when InitialR2T=Yes and
	 * ImmediateData=No. */
	if (id == P_FIRST_BURST && pn->pn_result[P_INITIAL_R2T] &&
	    !pn->pn_result[P_IMMEDIATE_DATA])
		return (answer(out, name, "Irrelevant", status, errstr));

	if (pd->pd_type == PT_DIGEST)
		return (neg_digest(pn, pd, value, out, status, errstr));
	return (neg_number(pn, pd, value, out, status, errstr));
}

/*
 * FirstBurstLength is answered last so that its answer sees the
 * MaxBurstLength, InitialR2T and ImmediateData of the same request.
 */
int
param_negotiate(struct param_neg *pn, struct keys *in, struct keys *out,
    int *status, const char **errstr)
{
	const char	*first = param_table[P_FIRST_BURST].pd_name;
	size_t		 i;
	int		 pass;

	*status = LOGIN_OK;
	*errstr = NULL;
	for (pass = 0; pass < 2; pass++) {
		i = 0;
		while (i < in->keys_n) {
			if (pass == 0 &&
			    strcmp(in->keys_name[i], first) == 0) {
				i++;
				continue;
			}
			if (neg_key(pn, in->keys_name[i], in->keys_value[i],
			    out, status, errstr) == -1)
				return (-1);
			keys_delete(in, in->keys_name[i]);
		}
	}
	if (declare_mrdsl(pn, out, status, errstr) == -1)
		return (-1);
	/* 13.14 again: MaxBurstLength may have come after FirstBurstLength. */
	if (pn->pn_result[P_FIRST_BURST] > pn->pn_result[P_MAX_BURST])
		pn->pn_result[P_FIRST_BURST] = pn->pn_result[P_MAX_BURST];
	return (0);
}
