/*
 * pr.c: reservations.  SCSI-2 RESERVE and RELEASE (SPC-2 7.21, 7.11), and
 * SPC-4 persistent reservations (5.13, 6.15 PERSISTENT RESERVE IN, 6.16
 * PERSISTENT RESERVE OUT) with all six types, ALL_TG_PT, SPEC_I_PT and
 * APTPL (written by pr_file.c).
 *
 * An I_T nexus is registered by its initiator port, "name,i,0x<isid>"
 * (RFC 7143 and SPC-4 7.6.4.6); a registration made with an iSCSI
 * TransportID of format 00h (a name without ISID) stands for every
 * initiator port of that name.  ietd has one target port per target
 * (relative target port 1), so ALL_TG_PT is recorded and reported but
 * registers nothing more.
 *
 * The two kinds of reservation exclude each other as SPC-4 5.13.3 says
 * for a device server with CRH 0: while any I_T nexus is registered,
 * RESERVE and RELEASE get RESERVATION CONFLICT; while a SCSI-2
 * reservation is held, PERSISTENT RESERVE IN and OUT do.
 *
 * Commands run one at a time per LUN state mutex; a PERSISTENT RESERVE
 * OUT that changes the state of an APTPL LUN is applied, written to the
 * state file, and only then answered GOOD: if the file cannot be made
 * durable the change is undone and the command fails with INSUFFICIENT
 * REGISTRATION RESOURCES.  Unit attentions the command raises are posted
 * after that, so that an undone change raises none.
 */

#include <sys/types.h>

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "log.h"
#include "util.h"
#include "priv/pr.h"
#include "priv/scsi.h"
#include "priv/scsi_impl.h"

/* PERSISTENT RESERVE IN service actions. */
#define PRI_READ_KEYS		0x00
#define PRI_READ_RESERVATION	0x01
#define PRI_REPORT_CAPS		0x02
#define PRI_READ_FULL_STATUS	0x03
/* PERSISTENT RESERVE OUT service actions. */
#define PRO_REGISTER		0x00
#define PRO_RESERVE		0x01
#define PRO_RELEASE		0x02
#define PRO_CLEAR		0x03
#define PRO_PREEMPT		0x04
#define PRO_PREEMPT_ABORT	0x05
#define PRO_REGISTER_IGNORE	0x06
#define PRO_REGISTER_MOVE	0x07

/* Parameter list byte 20. */
#define PRP_SPEC_I_PT		0x08
#define PRP_ALL_TG_PT		0x04
#define PRP_APTPL		0x01

#define ASC_INVALID_RELEASE	0x26	/* ASCQ 04h */
#define ASC_INSUFF_REG_RES	0x55	/* ASCQ 04h */

#define PR_TID_MAX		(4 + 256)	/* one iSCSI TransportID */

/* A unit attention to post once the command's change is kept. */
struct pr_ua {
	struct pr_reg	 pu_port;
	uint16_t	 pu_code;
};

/* One PERSISTENT RESERVE OUT, decoded. */
struct pr_op {
	struct scsi_cmd	*po_cmd;
	struct lun_state *po_st;
	int		 po_me;		/* registration of the nexus, or -1 */
	uint8_t		 po_sa, po_scope, po_type;
	uint64_t	 po_key, po_sakey;
	uint8_t		 po_flags;	/* byte 20 (REGISTER AND MOVE: 17) */
	const uint8_t	*po_tids;	/* TransportIDs (SPEC_I_PT, MOVE) */
	uint32_t	 po_tidlen;
	bool		 po_changed;
	bool		 po_gen;	/* bump PRgeneration */
	struct pr_ua	*po_ua;
	size_t		 po_nua;
};

/*
 * Small predicates.
 */
static bool
type_valid(uint8_t t)
{
	return (t == PR_TYPE_WE || t == PR_TYPE_EA || t == PR_TYPE_WE_RO ||
	    t == PR_TYPE_EA_RO || t == PR_TYPE_WE_AR || t == PR_TYPE_EA_AR);
}

static bool
type_ar(uint8_t t)
{
	return (t == PR_TYPE_WE_AR || t == PR_TYPE_EA_AR);
}

static bool
type_ro(uint8_t t)
{
	return (t == PR_TYPE_WE_RO || t == PR_TYPE_EA_RO);
}

static bool
type_we(uint8_t t)
{
	return (t == PR_TYPE_WE || t == PR_TYPE_WE_RO || t == PR_TYPE_WE_AR);
}

bool
pr_nexus_is(const struct pr_reg *rg, const struct scsi_nexus *nx)
{
	static const uint8_t	any[6];

	return (strcmp(rg->pg_name, nx->nx_initiator) == 0 &&
	    (memcmp(rg->pg_isid, any, 6) == 0 ||
	    memcmp(rg->pg_isid, nx->nx_isid, 6) == 0));
}

static bool
reg_same(const struct pr_reg *a, const struct pr_reg *b)
{
	return (strcmp(a->pg_name, b->pg_name) == 0 &&
	    memcmp(a->pg_isid, b->pg_isid, 6) == 0);
}

static int
reg_find(const struct lun_state *st, const struct scsi_nexus *nx)
{
	size_t	i;

	for (i = 0; i < st->ls_nregs; i++)
		if (pr_nexus_is(&st->ls_regs[i], nx))
			return ((int)i);
	return (-1);
}

static bool
is_holder(const struct lun_state *st, int reg)
{
	if (!st->ls_resvd || reg < 0)
		return (false);
	return (type_ar(st->ls_type) || st->ls_holder == reg);
}

static void
guard_update(struct lun_state *st)
{
	atomic_store(&st->ls_guarded, st->ls_res2 != 0 || st->ls_nregs > 0 ||
	    st->ls_resvd);
}

static void
conflict(struct scsi_cmd *cmd)
{
	scsi_status_only(cmd, SCSI_STATUS_RESERVATION_CONFLICT);
}

/*
 * Which commands a reservation lets through (SPC-4 table 47, SBC-4
 * table 13).  ALLOW: every nexus; READ: every nexus under the Write
 * Exclusive types; WRITE: only holders (and registrants of the RO and AR
 * types).  A command not named here is a WRITE: new commands conflict
 * until someone decides otherwise.
 */
enum pr_class { PRC_ALLOW, PRC_READ, PRC_WRITE };

static enum pr_class
pr_class(const uint8_t *cdb)
{
	switch (cdb[0]) {
	case OP_INQUIRY:
	case OP_REPORT_LUNS:
	case OP_REQUEST_SENSE:
	case OP_TEST_UNIT_READY:
	case OP_READ_CAPACITY_10:
	case OP_PR_IN:
	case OP_PR_OUT:
	case OP_RESERVE_6:
	case OP_RESERVE_10:
	case OP_RELEASE_6:
	case OP_RELEASE_10:
	case 0x4d:			/* LOG SENSE */
		return (PRC_ALLOW);
	case OP_SERVICE_ACTION_IN_16:
		return ((cdb[1] & 0x1f) == SAI_READ_CAPACITY_16 ? PRC_ALLOW :
		    PRC_READ);
	case OP_MAINTENANCE_IN:
		return ((cdb[1] & 0x1f) == 0x0a ? PRC_ALLOW : PRC_READ);
	case OP_READ_6:
	case OP_READ_10:
	case OP_READ_12:
	case OP_READ_16:
	case OP_VERIFY_10:
	case OP_VERIFY_12:
	case OP_VERIFY_16:
	case OP_MODE_SENSE_6:
	case OP_MODE_SENSE_10:
	case OP_READ_DEFECT_10:
	case OP_READ_DEFECT_12:
	case OP_PREFETCH_10:
	case OP_PREFETCH_16:
	case 0x1c:			/* RECEIVE DIAGNOSTIC RESULTS */
	case 0x3c:			/* READ BUFFER */
	case 0x84:			/* RECEIVE COPY RESULTS */
		return (PRC_READ);
	default:
		return (PRC_WRITE);
	}
}

static bool
pr_allowed(const struct lun_state *st, const struct scsi_nexus *nx,
    const uint8_t *cdb)
{
	enum pr_class	cls = pr_class(cdb);
	int		reg;

	if (st->ls_res2 != 0) {
		/* SPC-4 5.13.3, CRH 0. */
		if (cdb[0] == OP_PR_IN || cdb[0] == OP_PR_OUT)
			return (false);
		if (st->ls_res2 == nx->nx_id)
			return (true);
		/* SPC-2 5.5.1: others may ask who and what, and RELEASE. */
		switch (cdb[0]) {
		case OP_INQUIRY:
		case OP_REPORT_LUNS:
		case OP_REQUEST_SENSE:
		case OP_RELEASE_6:
		case OP_RELEASE_10:
			return (true);
		default:
			return (false);
		}
	}
	if (!st->ls_resvd || cls == PRC_ALLOW)
		return (true);
	reg = reg_find(st, nx);
	if (is_holder(st, reg))
		return (true);
	if (reg >= 0 && (type_ro(st->ls_type) || type_ar(st->ls_type)))
		return (true);
	return (cls == PRC_READ && type_we(st->ls_type));
}

/* Before a command runs: false if it ends in RESERVATION CONFLICT. */
bool
pr_check(struct scsi_cmd *cmd)
{
	struct lun_state	*st;
	bool			 ok;

	if (cmd->sc_lun == NULL || cmd->sc_nexus == NULL ||
	    (st = lun_state_peek(cmd->sc_lun)) == NULL ||
	    atomic_load_explicit(&st->ls_guarded, memory_order_relaxed) == 0)
		return (true);
	pthread_mutex_lock(&st->ls_mtx);
	ok = pr_allowed(st, cmd->sc_nexus, cmd->sc_cdb);
	pthread_mutex_unlock(&st->ls_mtx);
	if (!ok) {
		log_debug(2, "lun %u: opcode 0x%02x: reservation conflict",
		    cmd->sc_lun->lun_id, cmd->sc_cdb[0]);
		conflict(cmd);
	}
	return (ok);
}

/*
 * SCSI-2 RESERVE(6)/(10) and RELEASE(6)/(10), whole LU only (third-party
 * reservations and extents are refused by the CDB usage data).
 */
void
pr_reserve(struct scsi_cmd *cmd)
{
	struct lun_state	*st;
	uint64_t		 me;
	bool			 ok;

	if (cmd->sc_nexus == NULL || (st = lun_state_get(cmd->sc_lun)) ==
	    NULL) {
		scsi_sense(cmd, SKEY_HARDWARE_ERROR, 0x44, 0);
		return;
	}
	me = cmd->sc_nexus->nx_id;
	pthread_mutex_lock(&st->ls_mtx);
	ok = st->ls_nregs == 0 && !st->ls_resvd &&
	    (st->ls_res2 == 0 || st->ls_res2 == me);
	if (ok) {
		st->ls_res2 = me;
		guard_update(st);
	}
	pthread_mutex_unlock(&st->ls_mtx);
	if (ok)
		scsi_good(cmd);
	else
		conflict(cmd);
}

void
pr_release(struct scsi_cmd *cmd)
{
	struct lun_state	*st;
	bool			 ok = true;

	if (cmd->sc_nexus == NULL ||
	    (st = lun_state_peek(cmd->sc_lun)) == NULL) {
		scsi_good(cmd);
		return;
	}
	pthread_mutex_lock(&st->ls_mtx);
	if (st->ls_nregs > 0 || st->ls_resvd)
		ok = false;
	else
		pr_release_nexus(st, cmd->sc_nexus->nx_id);
	pthread_mutex_unlock(&st->ls_mtx);
	if (ok)
		scsi_good(cmd);	/* not the holder: GOOD, nothing released */
	else
		conflict(cmd);
}

/* Release the SCSI-2 reservation of nexus nx (0: whoever holds it). */
void
pr_release_nexus(struct lun_state *st, uint64_t nx)
{
	if (st->ls_res2 != 0 && (nx == 0 || st->ls_res2 == nx)) {
		st->ls_res2 = 0;
		guard_update(st);
	}
}

/*
 * iSCSI TransportIDs (SPC-4 7.6.4.6): format 00h "name", format 01h
 * "name,i,0x<12 hex digits>", NUL-terminated and padded to 4 bytes.
 */
static size_t
tid_put(const struct pr_reg *rg, uint8_t *p)
{
	static const uint8_t	 any[6];
	char			 s[ISCSI_NAME_MAX + 32];
	size_t			 n, len;

	if (memcmp(rg->pg_isid, any, 6) == 0) {
		n = strlcpy(s, rg->pg_name, sizeof(s));
		p[0] = 0x05;
	} else {
		n = snprintf(s, sizeof(s), "%s,i,0x%02x%02x%02x%02x%02x%02x",
		    rg->pg_name, rg->pg_isid[0], rg->pg_isid[1],
		    rg->pg_isid[2], rg->pg_isid[3], rg->pg_isid[4],
		    rg->pg_isid[5]);
		p[0] = 0x40 | 0x05;
	}
	len = (n + 1 + 3) & ~(size_t)3;
	p[1] = 0;
	put_be16(p + 2, len);
	memset(p + 4, 0, len);
	memcpy(p + 4, s, n);
	return (4 + len);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	return (-1);
}

/*
 * Parse one TransportID at p (at most left bytes) into rg; returns its
 * length, or 0 if it is malformed.  The ISID of format 00h is zero.
 */
static size_t
tid_get(const uint8_t *p, size_t left, struct pr_reg *rg)
{
	const char	*s, *comma;
	size_t		 len, n, i;
	int		 fmt, hi, lo;

	if (left < 4 || (p[0] & 0x0f) != 0x05 || (p[0] & 0x30) != 0)
		return (0);
	fmt = p[0] >> 6;
	len = get_be16(p + 2);
	if (len < 4 || len % 4 != 0 || 4 + len > left)
		return (0);
	s = (const char *)p + 4;
	if ((n = strnlen(s, len)) == len || n == 0)
		return (0);
	memset(rg, 0, sizeof(*rg));
	if (fmt == 0) {
		if (n >= ISCSI_NAME_MAX || memchr(s, ',', n) != NULL)
			return (0);
		memcpy(rg->pg_name, s, n);
		return (4 + len);
	}
	if (fmt != 1 || (comma = memchr(s, ',', n)) == NULL ||
	    (size_t)(comma - s) >= ISCSI_NAME_MAX || comma == s ||
	    strlen(comma) != 3 + 2 + 12 || strncasecmp(comma, ",i,0x", 5) != 0)
		return (0);
	memcpy(rg->pg_name, s, comma - s);
	for (i = 0; i < 6; i++) {
		hi = hexval((unsigned char)comma[5 + 2 * i]);
		lo = hexval((unsigned char)comma[6 + 2 * i]);
		if (hi < 0 || lo < 0)
			return (0);
		rg->pg_isid[i] = hi << 4 | lo;
	}
	return (4 + len);
}

/*
 * PERSISTENT RESERVE IN
 */
static uint32_t
prin_read_keys(const struct lun_state *st, uint8_t *d)
{
	size_t	i;

	put_be32(d, st->ls_generation);
	put_be32(d + 4, st->ls_nregs * 8);
	for (i = 0; i < st->ls_nregs; i++)
		put_be64(d + 8 + 8 * i, st->ls_regs[i].pg_key);
	return (8 + st->ls_nregs * 8);
}

static uint32_t
prin_read_reservation(const struct lun_state *st, uint8_t *d)
{
	put_be32(d, st->ls_generation);
	if (!st->ls_resvd)
		return (8);
	put_be32(d + 4, 16);
	/* The all registrants types have no one key (SPC-4 6.15.3.3). */
	if (!type_ar(st->ls_type))
		put_be64(d + 8, st->ls_regs[st->ls_holder].pg_key);
	d[21] = st->ls_type;		/* SCOPE 0: LU_SCOPE */
	return (24);
}

static uint32_t
prin_report_caps(const struct lun_state *st, uint8_t *d)
{
	put_be16(d, 8);
	/* SIP_C, ATP_C, PTPL_C; CRH 0 (see above). */
	d[2] = 0x08 | 0x04 | 0x01;
	/*
	 * TMV; ALLOW COMMANDS 010b: TEST UNIT READY through every type,
	 * MODE SENSE, READ BUFFER, RECEIVE DIAGNOSTIC RESULTS, REPORT
	 * SUPPORTED OPERATION CODES, REPORT SUPPORTED TMFs and READ DEFECT
	 * DATA through Write Exclusive (pr_class); PTPL_A.
	 */
	d[3] = 0x80 | 0x20 | (st->ls_aptpl ? 0x01 : 0);
	d[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02;  /* WE_AR EA_RO WE_RO EA WE */
	d[5] = 0x01;				/* EA_AR */
	return (8);
}

static uint32_t
prin_full_status(const struct lun_state *st, uint8_t *d)
{
	uint8_t	*p = d + 8;
	size_t	 i, n;

	put_be32(d, st->ls_generation);
	for (i = 0; i < st->ls_nregs; i++) {
		memset(p, 0, 24);
		put_be64(p, st->ls_regs[i].pg_key);
		if (st->ls_regs[i].pg_all_tg_pt)
			p[12] |= 0x02;
		if (is_holder(st, (int)i)) {
			p[12] |= 0x01;	/* R_HOLDER */
			p[13] = st->ls_type;
		}
		put_be16(p + 18, 1);	/* RELATIVE TARGET PORT IDENTIFIER */
		n = tid_put(&st->ls_regs[i], p + 24);
		put_be32(p + 20, n);
		p += 24 + n;
	}
	put_be32(d + 4, (uint32_t)(p - d - 8));
	return ((uint32_t)(p - d));
}

void
pr_in(struct scsi_cmd *cmd)
{
	struct lun_state	*st;
	uint8_t			*d;
	uint32_t		 len, alloc;

	alloc = get_be16(cmd->sc_cdb + 7);
	if ((st = lun_state_get(cmd->sc_lun)) == NULL ||
	    (d = calloc(1, 8 + PR_REG_MAX * (24 + PR_TID_MAX))) == NULL) {
		scsi_sense(cmd, SKEY_HARDWARE_ERROR, 0x44, 0);
		return;
	}
	pthread_mutex_lock(&st->ls_mtx);
	switch (cmd->sc_cdb[1] & 0x1f) {
	case PRI_READ_KEYS:
		len = prin_read_keys(st, d);
		break;
	case PRI_READ_RESERVATION:
		len = prin_read_reservation(st, d);
		break;
	case PRI_REPORT_CAPS:
		len = prin_report_caps(st, d);
		break;
	default:
		len = prin_full_status(st, d);
		break;
	}
	pthread_mutex_unlock(&st->ls_mtx);
	scsi_datain(cmd, d, len, alloc);
	free(d);
}

/*
 * PERSISTENT RESERVE OUT
 */
static void
op_ua(struct pr_op *po, const struct pr_reg *rg, uint16_t code)
{
	if (po->po_nua == PR_REG_MAX + 1)
		return;
	po->po_ua[po->po_nua].pu_port = *rg;
	po->po_ua[po->po_nua++].pu_code = code;
}

/* Every registrant but the nexus of the command. */
static void
op_ua_others(struct pr_op *po, uint16_t code)
{
	struct lun_state	*st = po->po_st;
	size_t			 i;

	for (i = 0; i < st->ls_nregs; i++)
		if (!pr_nexus_is(&st->ls_regs[i], po->po_cmd->sc_nexus))
			op_ua(po, &st->ls_regs[i], code);
}

static void
res_drop(struct lun_state *st)
{
	st->ls_resvd = false;
	st->ls_type = 0;
	st->ls_holder = -1;
}

/*
 * Remove registration i.  The holder of a reservation of a type other
 * than all registrants loses it (SPC-4 5.13.11.2); an
 * all registrants reservation goes with the last registrant.
 */
static void
reg_del(struct pr_op *po, size_t i)
{
	struct lun_state	*st = po->po_st;

	if (st->ls_resvd && !type_ar(st->ls_type) &&
	    st->ls_holder == (int)i)
		res_drop(st);
	st->ls_regs[i] = st->ls_regs[--st->ls_nregs];
	if (st->ls_holder == (int)st->ls_nregs)
		st->ls_holder = (int)i;
	if (po->po_me == (int)i)
		po->po_me = -1;
	else if (po->po_me == (int)st->ls_nregs)
		po->po_me = (int)i;
	if (st->ls_nregs == 0)
		res_drop(st);
	po->po_changed = po->po_gen = true;
}

static int
reg_add(struct pr_op *po, const struct pr_reg *rg)
{
	struct lun_state	*st = po->po_st;
	struct pr_reg		*regs;

	if (st->ls_nregs == PR_REG_MAX) {
		scsi_sense(po->po_cmd, SKEY_ILLEGAL_REQUEST, ASC_INSUFF_REG_RES,
		    0x04);
		return (-1);
	}
	if ((regs = reallocarray(st->ls_regs, st->ls_nregs + 1,
	    sizeof(*regs))) == NULL) {
		log_warn("persistent reservations");
		scsi_sense(po->po_cmd, SKEY_ILLEGAL_REQUEST, ASC_INSUFF_REG_RES,
		    0x04);
		return (-1);
	}
	st->ls_regs = regs;
	regs[st->ls_nregs++] = *rg;
	po->po_changed = po->po_gen = true;
	return (0);
}

/* The unregistering of the command's own nexus (REGISTER with key 0). */
static void
unregister_me(struct pr_op *po)
{
	struct lun_state	*st = po->po_st;
	bool			 ro_holder;

	ro_holder = is_holder(st, po->po_me) && type_ro(st->ls_type);
	reg_del(po, po->po_me);
	/* SPC-4 5.13.11.2: a registrants only reservation released. */
	if (ro_holder)
		op_ua_others(po, UA_RES_RELEASED);
}

/* SPEC_I_PT: register every initiator port the TransportIDs name. */
static int
register_tids(struct pr_op *po)
{
	struct lun_state	*st = po->po_st;
	struct pr_reg		 rg;
	size_t			 off, n, i, first = st->ls_nregs;

	for (off = 0; off < po->po_tidlen; off += n) {
		if ((n = tid_get(po->po_tids + off, po->po_tidlen - off,
		    &rg)) == 0)
			goto bad;
		for (i = 0; i < st->ls_nregs; i++)
			if (reg_same(&st->ls_regs[i], &rg))
				goto bad;
		rg.pg_key = po->po_sakey;
		rg.pg_all_tg_pt = (po->po_flags & PRP_ALL_TG_PT) != 0;
		if (reg_add(po, &rg) == -1)
			return (-1);
	}
	return (0);
bad:
	/* The whole command fails: drop what it added so far. */
	st->ls_nregs = first;
	scsi_invalid_param(po->po_cmd, 28 + off, -1);
	return (-1);
}

static int
pro_register(struct pr_op *po, bool ignore)
{
	struct lun_state	*st = po->po_st;
	struct scsi_cmd		*cmd = po->po_cmd;
	struct pr_reg		 rg;

	if (po->po_me < 0) {
		if (!ignore && po->po_key != 0)
			return (1);
		if (po->po_sakey == 0)
			return (0);		/* nothing to do: GOOD */
		memset(&rg, 0, sizeof(rg));
		strlcpy(rg.pg_name, cmd->sc_nexus->nx_initiator,
		    sizeof(rg.pg_name));
		memcpy(rg.pg_isid, cmd->sc_nexus->nx_isid, 6);
		rg.pg_key = po->po_sakey;
		rg.pg_all_tg_pt = (po->po_flags & PRP_ALL_TG_PT) != 0;
		if (reg_add(po, &rg) == -1)
			return (-1);
		if ((po->po_flags & PRP_SPEC_I_PT) && register_tids(po) == -1)
			return (-1);
	} else {
		if (!ignore && po->po_key != st->ls_regs[po->po_me].pg_key)
			return (1);
		if (po->po_flags & PRP_SPEC_I_PT) {
			scsi_invalid_param(cmd, 20, 3);
			return (-1);
		}
		if (po->po_sakey == 0)
			unregister_me(po);
		else {
			st->ls_regs[po->po_me].pg_key = po->po_sakey;
			po->po_changed = po->po_gen = true;
		}
	}
	st->ls_aptpl = (po->po_flags & PRP_APTPL) != 0;
	po->po_changed = true;
	return (0);
}

static int
pro_reserve(struct pr_op *po)
{
	struct lun_state	*st = po->po_st;

	if (st->ls_resvd) {
		/* The holder asking again for the same: GOOD, no change. */
		if (is_holder(st, po->po_me) && st->ls_type == po->po_type)
			return (0);
		return (1);
	}
	st->ls_resvd = true;
	st->ls_type = po->po_type;
	st->ls_holder = type_ar(po->po_type) ? -1 : po->po_me;
	po->po_changed = true;
	return (0);
}

static int
pro_release(struct pr_op *po)
{
	struct lun_state	*st = po->po_st;
	uint8_t			 type = st->ls_type;

	if (!st->ls_resvd || !is_holder(st, po->po_me))
		return (0);
	if (po->po_type != type) {
		scsi_sense(po->po_cmd, SKEY_ILLEGAL_REQUEST,
		    ASC_INVALID_RELEASE, 0x04);
		return (-1);
	}
	res_drop(st);
	po->po_changed = true;
	/* SPC-4 5.13.11.2.2: other registrants learn of it, except for
	 * the Write Exclusive and Exclusive Access types. */
	if (type != PR_TYPE_WE && type != PR_TYPE_EA)
		op_ua_others(po, UA_RES_RELEASED);
	return (0);
}

static int
pro_clear(struct pr_op *po)
{
	struct lun_state	*st = po->po_st;

	op_ua_others(po, UA_RES_PREEMPTED);
	st->ls_nregs = 0;
	res_drop(st);
	po->po_me = -1;
	po->po_changed = po->po_gen = true;
	return (0);
}

/* Remove every registration with key (but never the command's own when
 * spare_me); returns how many went. */
static size_t
remove_key(struct pr_op *po, uint64_t key, bool spare_me)
{
	struct lun_state	*st = po->po_st;
	size_t			 i, n = 0;

	for (i = st->ls_nregs; i-- > 0; ) {
		if (st->ls_regs[i].pg_key != key ||
		    (spare_me && (int)i == po->po_me))
			continue;
		if ((int)i != po->po_me)
			op_ua(po, &st->ls_regs[i], UA_REG_PREEMPTED);
		reg_del(po, i);
		n++;
	}
	return (n);
}

static int
pro_preempt(struct pr_op *po)
{
	struct lun_state	*st = po->po_st;
	size_t			 i;
	bool			 changed;

	if (st->ls_resvd && type_ar(st->ls_type) && po->po_sakey == 0) {
		/* SPC-4 5.13.11.4.3: take over, everyone else goes. */
		for (i = st->ls_nregs; i-- > 0; )
			if ((int)i != po->po_me) {
				op_ua(po, &st->ls_regs[i], UA_REG_PREEMPTED);
				reg_del(po, i);
			}
		st->ls_resvd = true;
		st->ls_type = po->po_type;
		st->ls_holder = type_ar(po->po_type) ? -1 : po->po_me;
		po->po_changed = po->po_gen = true;
		return (0);
	}
	if (!st->ls_resvd || type_ar(st->ls_type) ||
	    st->ls_regs[st->ls_holder].pg_key != po->po_sakey) {
		/* Preempt registrations only (SPC-4 5.13.11.4.2). */
		if (po->po_sakey == 0) {
			scsi_invalid_param(po->po_cmd, 8, -1);
			return (-1);
		}
		return (remove_key(po, po->po_sakey, false) == 0 ? 1 : 0);
	}
	/* The holder is preempted: the reservation moves to us. */
	changed = st->ls_type != po->po_type;
	remove_key(po, po->po_sakey, true);
	st->ls_resvd = true;
	st->ls_type = po->po_type;
	st->ls_holder = type_ar(po->po_type) ? -1 : po->po_me;
	if (changed)
		op_ua_others(po, UA_RES_RELEASED);
	po->po_changed = po->po_gen = true;
	return (0);
}

static int
pro_register_move(struct pr_op *po)
{
	struct lun_state	*st = po->po_st;
	struct scsi_cmd		*cmd = po->po_cmd;
	struct pr_reg		 rg;
	size_t			 n, i;
	int			 dst = -1;

	if (!st->ls_resvd || type_ar(st->ls_type) ||
	    !is_holder(st, po->po_me))
		return (1);
	if (po->po_sakey == 0) {
		scsi_invalid_param(cmd, 8, -1);
		return (-1);
	}
	if ((n = tid_get(po->po_tids, po->po_tidlen, &rg)) == 0 ||
	    n != po->po_tidlen || memcmp(rg.pg_isid, "\0\0\0\0\0\0", 6) == 0) {
		scsi_invalid_param(cmd, 24, -1);
		return (-1);
	}
	if (reg_same(&rg, &st->ls_regs[po->po_me])) {
		scsi_invalid_param(cmd, 24, -1);
		return (-1);
	}
	for (i = 0; i < st->ls_nregs; i++)
		if (reg_same(&st->ls_regs[i], &rg))
			dst = (int)i;
	if (dst < 0) {
		rg.pg_key = po->po_sakey;
		if (reg_add(po, &rg) == -1)
			return (-1);
		dst = (int)st->ls_nregs - 1;
	} else
		st->ls_regs[dst].pg_key = po->po_sakey;
	st->ls_holder = dst;
	if (po->po_flags & 0x02)			/* UNREG */
		reg_del(po, po->po_me);
	st->ls_aptpl = (po->po_flags & PRP_APTPL) != 0;
	po->po_changed = po->po_gen = true;
	return (0);
}

/* The parameter list of REGISTER AND MOVE (SPC-4 6.16.4). */
static int
pro_decode_move(struct pr_op *po, const uint8_t *p, uint32_t plen)
{
	struct scsi_cmd	*cmd = po->po_cmd;

	po->po_flags = p[17];
	po->po_tidlen = get_be32(p + 20);
	po->po_tids = p + 24;
	if ((uint64_t)24 + po->po_tidlen != plen) {
		scsi_param_list_length(cmd);
		return (-1);
	}
	if (p[17] & ~0x03) {			/* UNREG, APTPL */
		scsi_invalid_param(cmd, 17, -1);
		return (-1);
	}
	if (get_be16(p + 18) != 1) {		/* our one target port */
		scsi_invalid_param(cmd, 18, -1);
		return (-1);
	}
	return (0);
}

/* The basic parameter list (SPC-4 6.16.3), with SPEC_I_PT TransportIDs. */
static int
pro_decode_basic(struct pr_op *po, const uint8_t *p, uint32_t plen)
{
	struct scsi_cmd	*cmd = po->po_cmd;

	po->po_flags = p[20];
	if (p[20] & ~(PRP_SPEC_I_PT | PRP_ALL_TG_PT | PRP_APTPL)) {
		scsi_invalid_param(cmd, 20, -1);
		return (-1);
	}
	if ((p[20] & PRP_SPEC_I_PT) && po->po_sa != PRO_REGISTER) {
		scsi_invalid_param(cmd, 20, 3);
		return (-1);
	}
	if (!(p[20] & PRP_SPEC_I_PT)) {
		if (plen != 24) {
			scsi_param_list_length(cmd);
			return (-1);
		}
		return (0);
	}
	if (plen < 28 || (uint64_t)28 + get_be32(p + 24) != plen) {
		scsi_param_list_length(cmd);
		return (-1);
	}
	po->po_tidlen = get_be32(p + 24);
	po->po_tids = p + 28;
	return (0);
}

/* Check the CDB and the parameter list; 0, or -1 with sense set. */
static int
pro_decode(struct pr_op *po)
{
	struct scsi_cmd	*cmd = po->po_cmd;
	const uint8_t	*cdb = cmd->sc_cdb, *p = cmd->sc_buf;
	uint32_t	 plen;

	po->po_sa = cdb[1] & 0x1f;
	po->po_scope = cdb[2] >> 4;
	po->po_type = cdb[2] & 0x0f;
	plen = get_be32(cdb + 5);
	cmd->sc_want_len = plen;
	cmd->sc_xfer_len = MIN(plen, cmd->sc_buf_len);
	if (plen < 24 || cmd->sc_xfer_len < plen) {
		scsi_param_list_length(cmd);
		return (-1);
	}
	switch (po->po_sa) {
	case PRO_RESERVE:
	case PRO_RELEASE:
	case PRO_PREEMPT:
	case PRO_PREEMPT_ABORT:
		if (po->po_scope != 0) {
			scsi_invalid_field(cmd, 2, 7);
			return (-1);
		}
		if (!type_valid(po->po_type)) {
			scsi_invalid_field(cmd, 2, 3);
			return (-1);
		}
		break;
	}
	po->po_key = get_be64(p);
	po->po_sakey = get_be64(p + 8);
	if (po->po_sa == PRO_REGISTER_MOVE)
		return (pro_decode_move(po, p, plen));
	return (pro_decode_basic(po, p, plen));
}

/* Run the service action: 0 done (GOOD), 1 RESERVATION CONFLICT, -1
 * failed with sense set. */
static int
pro_run(struct pr_op *po)
{
	struct lun_state	*st = po->po_st;

	if (po->po_sa != PRO_REGISTER && po->po_sa != PRO_REGISTER_IGNORE) {
		/* SPC-4 5.13.5: only a registrant with its own key. */
		if (po->po_me < 0 ||
		    st->ls_regs[po->po_me].pg_key != po->po_key)
			return (1);
	}
	switch (po->po_sa) {
	case PRO_REGISTER:
		return (pro_register(po, false));
	case PRO_REGISTER_IGNORE:
		return (pro_register(po, true));
	case PRO_RESERVE:
		return (pro_reserve(po));
	case PRO_RELEASE:
		return (pro_release(po));
	case PRO_CLEAR:
		return (pro_clear(po));
	case PRO_PREEMPT:
	case PRO_PREEMPT_ABORT:
		/*
		 * Execution is synchronous: the preempted nexuses have no
		 * command in progress to abort, and the writes still
		 * waiting for their data meet the new reservation.
		 */
		return (pro_preempt(po));
	default:
		return (pro_register_move(po));
	}
}

/* The state a PERSISTENT RESERVE OUT can change, to undo it. */
struct pr_saved {
	struct pr_reg	*sv_regs;
	size_t		 sv_nregs;
	uint32_t	 sv_generation;
	bool		 sv_resvd, sv_aptpl;
	uint8_t		 sv_type;
	int		 sv_holder;
};

static int
state_save(const struct lun_state *st, struct pr_saved *sv)
{
	sv->sv_nregs = st->ls_nregs;
	sv->sv_generation = st->ls_generation;
	sv->sv_resvd = st->ls_resvd;
	sv->sv_aptpl = st->ls_aptpl;
	sv->sv_type = st->ls_type;
	sv->sv_holder = st->ls_holder;
	sv->sv_regs = NULL;
	if (st->ls_nregs == 0)
		return (0);
	if ((sv->sv_regs = calloc(st->ls_nregs, sizeof(*sv->sv_regs))) ==
	    NULL)
		return (-1);
	memcpy(sv->sv_regs, st->ls_regs, st->ls_nregs * sizeof(*sv->sv_regs));
	return (0);
}

static void
state_restore(struct lun_state *st, const struct pr_saved *sv)
{
	if (sv->sv_nregs > 0)
		memcpy(st->ls_regs, sv->sv_regs,
		    sv->sv_nregs * sizeof(*sv->sv_regs));
	st->ls_nregs = sv->sv_nregs;
	st->ls_generation = sv->sv_generation;
	st->ls_resvd = sv->sv_resvd;
	st->ls_aptpl = sv->sv_aptpl;
	st->ls_type = sv->sv_type;
	st->ls_holder = sv->sv_holder;
}

/*
 * Apply, persist, then answer; the registrations array never shrinks
 * below what state_restore copies back (reg_add only grows it).
 */
static void
pro_locked(struct pr_op *po)
{
	struct lun_state	*st = po->po_st;
	struct scsi_cmd		*cmd = po->po_cmd;
	struct pr_saved		 sv;
	size_t			 i;
	int			 rv;

	if (state_save(st, &sv) == -1) {
		scsi_sense(cmd, SKEY_ILLEGAL_REQUEST, ASC_INSUFF_REG_RES, 0x04);
		return;
	}
	po->po_me = reg_find(st, cmd->sc_nexus);
	rv = pro_run(po);
	if (rv == 0 && po->po_changed) {
		if (po->po_gen)
			st->ls_generation++;
		if ((st->ls_aptpl || sv.sv_aptpl) &&
		    pr_file_save(cmd->sc_lun, st, cmd->sc_target) == -1) {
			scsi_sense(cmd, SKEY_ILLEGAL_REQUEST,
			    ASC_INSUFF_REG_RES, 0x04);
			rv = -1;
		}
	}
	if (rv != 0) {
		state_restore(st, &sv);
		po->po_nua = 0;
	}
	guard_update(st);
	for (i = 0; i < po->po_nua; i++)
		ua_post_port(st, po->po_ua[i].pu_port.pg_name,
		    memcmp(po->po_ua[i].pu_port.pg_isid, "\0\0\0\0\0\0", 6) ?
		    po->po_ua[i].pu_port.pg_isid : NULL,
		    po->po_ua[i].pu_code);
	free(sv.sv_regs);
	if (rv == 1)
		conflict(cmd);
	else if (rv == 0)
		scsi_good(cmd);
}

void
pr_out(struct scsi_cmd *cmd)
{
	struct lun_state	*st;
	struct pr_op		 po;

	memset(&po, 0, sizeof(po));
	po.po_cmd = cmd;
	if (pro_decode(&po) == -1)
		return;
	if (cmd->sc_nexus == NULL || (st = lun_state_get(cmd->sc_lun)) ==
	    NULL || (po.po_ua = calloc(PR_REG_MAX + 1,
	    sizeof(*po.po_ua))) == NULL) {
		scsi_sense(cmd, SKEY_ILLEGAL_REQUEST, ASC_INSUFF_REG_RES, 0x04);
		return;
	}
	po.po_st = st;
	pthread_mutex_lock(&st->ls_mtx);
	pro_locked(&po);
	pthread_mutex_unlock(&st->ls_mtx);
	free(po.po_ua);
	log_debug(1, "lun %u: persistent reserve out %#x by %s: status %#x",
	    cmd->sc_lun->lun_id, po.po_sa, cmd->sc_nexus->nx_initiator,
	    cmd->sc_status);
}
