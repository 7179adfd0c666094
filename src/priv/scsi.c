/*
 * scsi.c: SCSI command execution for direct-access block devices: the
 * command table and dispatch, CDB checks and sense data.  The SPC-4
 * primary commands are in spc.c, the SBC-4 block commands in sbc.c.
 *
 * The transport hands over the CDB and one buffer of sc_buf_len bytes
 * (the iSCSI Expected Data Transfer Length, already capped).  Every
 * handler computes sc_want_len, the bytes the command would move with an
 * unlimited buffer, and moves sc_xfer_len = min(sc_want_len, sc_buf_len)
 * bytes; the transport derives residuals from the two.  Nothing here
 * reads or writes sc_buf past sc_buf_len, and every length in the CDB is
 * treated as untrusted.
 */

#include <sys/types.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "priv/pr.h"
#include "priv/scsi.h"
#include "priv/scsi_impl.h"

/* CONTROL byte. */
#define CONTROL_NACA		0x04
#define CONTROL_LINK		0x01	/* obsolete, never supported */

#define DESC_SENSE_LEN		8

/*
 * The command table.  scsi_exec dispatches with it, checks every CDB
 * against so_usage (the CDB USAGE DATA of SPC-4 6.35: a bit is set for
 * each CDB bit the command honours; anything else is reserved or
 * unsupported and answered with INVALID FIELD IN CDB), and REPORT
 * SUPPORTED OPERATION CODES is generated from it, so the report cannot
 * disagree with what is executed.  For a command with service actions,
 * so_usage[1] holds the service action, as SPC-4 wants it reported.
 * so_ok, when set, says whether the LUN supports the command at all.
 */
#define SO_NOLUN	0x01	/* runs without a configured LUN */
#define SO_SA		0x02	/* has service actions (CDB byte 1) */

struct scsi_op {
	uint8_t	  so_op;
	uint8_t	  so_flags;
	uint8_t	  so_sa;
	void	(*so_fn)(struct scsi_cmd *);
	bool	(*so_ok)(const struct lun *);
	uint8_t	  so_usage[16];
};

static void	op_report_opcodes(struct scsi_cmd *);
static void	op_report_tmf(struct scsi_cmd *);
static bool	lun_is_thin(const struct lun *);
static bool	scsi_park(struct scsi_cmd *);

#define FF4	0xff, 0xff, 0xff, 0xff
#define FF8	FF4, FF4

static const struct scsi_op scsi_ops[] = {
	{ OP_TEST_UNIT_READY, 0, 0, spc_test_unit_ready, NULL,
	    { 0x00, 0, 0, 0, 0, 0 } },
	{ OP_REQUEST_SENSE, SO_NOLUN, 0, spc_request_sense, NULL,
	    { 0x03, 0x01, 0, 0, 0xff, 0 } },
	{ OP_READ_6, 0, 0, sbc_read_write, NULL,
	    { 0x08, 0x1f, 0xff, 0xff, 0xff, 0 } },
	{ OP_WRITE_6, 0, 0, sbc_read_write, NULL,
	    { 0x0a, 0x1f, 0xff, 0xff, 0xff, 0 } },
	{ OP_INQUIRY, SO_NOLUN, 0, spc_inquiry, NULL,
	    { 0x12, 0x01, 0xff, 0xff, 0xff, 0 } },
	{ OP_MODE_SELECT_6, 0, 0, spc_mode_select, NULL,
	    { 0x15, 0x11, 0, 0, 0xff, 0 } },
	{ OP_RESERVE_6, 0, 0, pr_reserve, NULL,
	    { 0x16, 0, 0, 0, 0, 0 } },
	{ OP_RELEASE_6, 0, 0, pr_release, NULL,
	    { 0x17, 0, 0, 0, 0, 0 } },
	{ OP_MODE_SENSE_6, 0, 0, spc_mode_sense, NULL,
	    { 0x1a, 0x08, 0xff, 0xff, 0xff, 0 } },
	{ OP_START_STOP_UNIT, 0, 0, sbc_start_stop_unit, NULL,
	    { 0x1b, 0x01, 0, 0x0f, 0xf7, 0 } },
	{ OP_PREVENT_ALLOW, 0, 0, sbc_prevent_allow, NULL,
	    { 0x1e, 0, 0, 0, 0x03, 0 } },
	{ OP_READ_CAPACITY_10, 0, 0, sbc_read_capacity_10, NULL,
	    { 0x25, 0, FF4, 0, 0, 0x01, 0 } },
	{ OP_READ_10, 0, 0, sbc_read_write, NULL,
	    { 0x28, 0x1a, FF4, 0x1f, 0xff, 0xff, 0 } },
	{ OP_WRITE_10, 0, 0, sbc_read_write, NULL,
	    { 0x2a, 0x1a, FF4, 0x1f, 0xff, 0xff, 0 } },
	{ OP_WRITE_VERIFY_10, 0, 0, sbc_read_write, NULL,
	    { 0x2e, 0x12, FF4, 0x1f, 0xff, 0xff, 0 } },
	{ OP_VERIFY_10, 0, 0, sbc_verify, NULL,
	    { 0x2f, 0x16, FF4, 0x1f, 0xff, 0xff, 0 } },
	{ OP_PREFETCH_10, 0, 0, sbc_prefetch, NULL,
	    { 0x34, 0x02, FF4, 0x1f, 0xff, 0xff, 0 } },
	{ OP_SYNC_CACHE_10, 0, 0, sbc_sync_cache, NULL,
	    { 0x35, 0x02, FF4, 0x1f, 0xff, 0xff, 0 } },
	{ OP_READ_DEFECT_10, 0, 0, sbc_read_defect, NULL,
	    { 0x37, 0, 0x1f, 0, 0, 0, 0, 0xff, 0xff, 0 } },
	{ OP_WRITE_SAME_10, 0, 0, sbc_write_same, NULL,
	    { 0x41, 0x08, FF4, 0x1f, 0xff, 0xff, 0 } },
	{ OP_UNMAP, 0, 0, sbc_unmap, lun_is_thin,
	    { 0x42, 0, 0, 0, 0, 0, 0x1f, 0xff, 0xff, 0 } },
	{ OP_SANITIZE, SO_SA, SA_SANITIZE_OVERWRITE, sbc_sanitize, NULL,
	    { 0x48, 0xa0 | SA_SANITIZE_OVERWRITE, 0, 0, 0, 0, 0, 0xff, 0xff,
	    0 } },
	{ OP_SANITIZE, SO_SA, SA_SANITIZE_BLOCK_ERASE, sbc_sanitize,
	    lun_is_thin, { 0x48, 0xa0 | SA_SANITIZE_BLOCK_ERASE, 0, 0, 0, 0,
	    0, 0xff, 0xff, 0 } },
	{ OP_SANITIZE, SO_SA, SA_SANITIZE_EXIT_FAIL, sbc_sanitize, NULL,
	    { 0x48, 0xa0 | SA_SANITIZE_EXIT_FAIL, 0, 0, 0, 0, 0, 0xff, 0xff,
	    0 } },
	{ OP_MODE_SELECT_10, 0, 0, spc_mode_select, NULL,
	    { 0x55, 0x11, 0, 0, 0, 0, 0, 0xff, 0xff, 0 } },
	{ OP_RESERVE_10, 0, 0, pr_reserve, NULL,
	    { 0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0 } },
	{ OP_RELEASE_10, 0, 0, pr_release, NULL,
	    { 0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0 } },
	{ OP_MODE_SENSE_10, 0, 0, spc_mode_sense, NULL,
	    { 0x5a, 0x18, 0xff, 0xff, 0, 0, 0, 0xff, 0xff, 0 } },
	{ OP_PR_IN, SO_SA, 0x00, pr_in, NULL,
	    { 0x5e, 0x00, 0, 0, 0, 0, 0, 0xff, 0xff, 0 } },
	{ OP_PR_IN, SO_SA, 0x01, pr_in, NULL,
	    { 0x5e, 0x01, 0, 0, 0, 0, 0, 0xff, 0xff, 0 } },
	{ OP_PR_IN, SO_SA, 0x02, pr_in, NULL,
	    { 0x5e, 0x02, 0, 0, 0, 0, 0, 0xff, 0xff, 0 } },
	{ OP_PR_IN, SO_SA, 0x03, pr_in, NULL,
	    { 0x5e, 0x03, 0, 0, 0, 0, 0, 0xff, 0xff, 0 } },
	{ OP_PR_OUT, SO_SA, 0x00, pr_out, NULL,
	    { 0x5f, 0x00, 0xff, 0, 0, FF4, 0 } },
	{ OP_PR_OUT, SO_SA, 0x01, pr_out, NULL,
	    { 0x5f, 0x01, 0xff, 0, 0, FF4, 0 } },
	{ OP_PR_OUT, SO_SA, 0x02, pr_out, NULL,
	    { 0x5f, 0x02, 0xff, 0, 0, FF4, 0 } },
	{ OP_PR_OUT, SO_SA, 0x03, pr_out, NULL,
	    { 0x5f, 0x03, 0xff, 0, 0, FF4, 0 } },
	{ OP_PR_OUT, SO_SA, 0x04, pr_out, NULL,
	    { 0x5f, 0x04, 0xff, 0, 0, FF4, 0 } },
	{ OP_PR_OUT, SO_SA, 0x05, pr_out, NULL,
	    { 0x5f, 0x05, 0xff, 0, 0, FF4, 0 } },
	{ OP_PR_OUT, SO_SA, 0x06, pr_out, NULL,
	    { 0x5f, 0x06, 0xff, 0, 0, FF4, 0 } },
	{ OP_PR_OUT, SO_SA, 0x07, pr_out, NULL,
	    { 0x5f, 0x07, 0xff, 0, 0, FF4, 0 } },
	{ OP_EXTENDED_COPY, SO_SA, 0x00, xcopy_extended_copy, NULL,
	    { 0x83, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, FF4, 0, 0 } },
	{ OP_RECEIVE_COPY_RES, SO_SA, 0x00, xcopy_receive_copy_results, NULL,
	    { 0x84, 0x00, 0xff, 0, 0, 0, 0, 0, 0, 0, FF4, 0, 0 } },
	{ OP_RECEIVE_COPY_RES, SO_SA, 0x03, xcopy_receive_copy_results, NULL,
	    { 0x84, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, FF4, 0, 0 } },
	{ OP_READ_16, 0, 0, sbc_read_write, NULL,
	    { 0x88, 0x1a, FF8, FF4, 0x1f, 0 } },
	{ OP_COMPARE_AND_WRITE, 0, 0, sbc_compare_and_write, NULL,
	    { 0x89, 0x1a, FF8, 0, 0, 0, 0xff, 0x1f, 0 } },
	{ OP_WRITE_16, 0, 0, sbc_read_write, NULL,
	    { 0x8a, 0x1a, FF8, FF4, 0x1f, 0 } },
	{ OP_ORWRITE_16, 0, 0, sbc_orwrite, NULL,
	    { 0x8b, 0x1a, FF8, FF4, 0x1f, 0 } },
	{ OP_WRITE_VERIFY_16, 0, 0, sbc_read_write, NULL,
	    { 0x8e, 0x12, FF8, FF4, 0x1f, 0 } },
	{ OP_VERIFY_16, 0, 0, sbc_verify, NULL,
	    { 0x8f, 0x16, FF8, FF4, 0x1f, 0 } },
	{ OP_PREFETCH_16, 0, 0, sbc_prefetch, NULL,
	    { 0x90, 0x02, FF8, FF4, 0x1f, 0 } },
	{ OP_SYNC_CACHE_16, 0, 0, sbc_sync_cache, NULL,
	    { 0x91, 0x02, FF8, FF4, 0x1f, 0 } },
	{ OP_WRITE_SAME_16, 0, 0, sbc_write_same, NULL,
	    { 0x93, 0x09, FF8, FF4, 0x1f, 0 } },
	{ OP_WRITE_ATOMIC_16, 0, 0, sbc_write_atomic, NULL,
	    { 0x9c, 0x18, FF8, 0, 0, 0xff, 0xff, 0x1f, 0 } },
	{ OP_SERVICE_ACTION_IN_16, SO_SA, SAI_READ_CAPACITY_16,
	    sbc_read_capacity_16, NULL,
	    { 0x9e, SAI_READ_CAPACITY_16, FF8, FF4, 0x01, 0 } },
	{ OP_SERVICE_ACTION_IN_16, SO_SA, SAI_GET_LBA_STATUS,
	    sbc_get_lba_status, NULL,
	    { 0x9e, SAI_GET_LBA_STATUS, FF8, FF4, 0, 0 } },
	{ OP_REPORT_LUNS, SO_NOLUN, 0, spc_report_luns, NULL,
	    { 0xa0, 0, 0xff, 0, 0, 0, FF4, 0, 0 } },
	{ OP_MAINTENANCE_IN, SO_SA, MI_REPORT_TPG, spc_report_tpg, NULL,
	    { 0xa3, 0xe0 | MI_REPORT_TPG, 0, 0, 0, 0, FF4, 0, 0 } },
	{ OP_MAINTENANCE_IN, SO_SA, MI_REPORT_OPCODES, op_report_opcodes,
	    NULL, { 0xa3, MI_REPORT_OPCODES, 0x87, 0xff, 0xff, 0xff, FF4,
	    0, 0 } },
	{ OP_MAINTENANCE_IN, SO_SA, MI_REPORT_TMF, op_report_tmf, NULL,
	    { 0xa3, MI_REPORT_TMF, 0, 0, 0, 0, FF4, 0, 0 } },
	{ OP_READ_12, 0, 0, sbc_read_write, NULL,
	    { 0xa8, 0x1a, FF4, FF4, 0x1f, 0 } },
	{ OP_WRITE_12, 0, 0, sbc_read_write, NULL,
	    { 0xaa, 0x1a, FF4, FF4, 0x1f, 0 } },
	{ OP_WRITE_VERIFY_12, 0, 0, sbc_read_write, NULL,
	    { 0xae, 0x12, FF4, FF4, 0x1f, 0 } },
	{ OP_VERIFY_12, 0, 0, sbc_verify, NULL,
	    { 0xaf, 0x16, FF4, FF4, 0x1f, 0 } },
	{ OP_READ_DEFECT_12, 0, 0, sbc_read_defect, NULL,
	    { 0xb7, 0x1f, FF4, FF4, 0, 0 } },
};
#define NOPS	(sizeof(scsi_ops) / sizeof(scsi_ops[0]))

/* CDB length from the group code of the operation code. */
size_t
scsi_cdb_len(uint8_t op)
{
	switch (op >> 5) {
	case 0:
		return (6);
	case 1:
	case 2:
		return (10);
	case 4:
		return (16);
	case 5:
		return (12);
	default:
		return (16);
	}
}

enum scsi_dir
scsi_cdb_dir(const uint8_t *cdb)
{
	switch (cdb[0]) {
	case OP_READ_6:
	case OP_READ_10:
	case OP_READ_12:
	case OP_READ_16:
	case OP_REQUEST_SENSE:
	case OP_INQUIRY:
	case OP_MODE_SENSE_6:
	case OP_MODE_SENSE_10:
	case OP_READ_CAPACITY_10:
	case OP_SERVICE_ACTION_IN_16:
	case OP_REPORT_LUNS:
	case OP_MAINTENANCE_IN:
	case OP_READ_DEFECT_10:
	case OP_READ_DEFECT_12:
	case OP_PR_IN:
	case OP_RECEIVE_COPY_RES:
		return (SCSI_DIR_READ);
	case OP_WRITE_6:
	case OP_WRITE_10:
	case OP_WRITE_12:
	case OP_WRITE_16:
	case OP_WRITE_VERIFY_10:
	case OP_WRITE_VERIFY_12:
	case OP_WRITE_VERIFY_16:
	case OP_COMPARE_AND_WRITE:
	case OP_ORWRITE_16:
	case OP_WRITE_ATOMIC_16:
	case OP_WRITE_SAME_10:
	case OP_UNMAP:
	case OP_SANITIZE:
	case OP_EXTENDED_COPY:
	case OP_MODE_SELECT_6:
	case OP_MODE_SELECT_10:
	case OP_PR_OUT:
		return (SCSI_DIR_WRITE);
	case OP_WRITE_SAME_16:
		/* NDOB: no Data-Out buffer. */
		return ((cdb[1] & 0x01) != 0 ? SCSI_DIR_NONE : SCSI_DIR_WRITE);
	case OP_VERIFY_10:
	case OP_VERIFY_12:
	case OP_VERIFY_16:
		/* BYTCHK != 0: the data to compare comes as Data-Out. */
		return ((cdb[1] & 0x06) != 0 ? SCSI_DIR_WRITE : SCSI_DIR_NONE);
	default:
		return (SCSI_DIR_NONE);
	}
}

/*
 * Sense data, fixed format (70h) or, when the LUN's control mode page has
 * D_SENSE set, descriptor format (72h).  A command that ends in CHECK
 * CONDITION moves no data, so both lengths are reset: the transport then
 * reports the whole EDTL as underflow residual.
 */
void
scsi_sense(struct scsi_cmd *cmd, uint8_t key, uint8_t asc, uint8_t ascq)
{
	uint8_t	*s = cmd->sc_sense;

	if (cmd->sc_lun != NULL && cmd->sc_lun->lun_dsense) {
		memset(s, 0, DESC_SENSE_LEN);
		s[0] = 0x72;		/* current error, descriptor format */
		s[1] = key & 0x0f;
		s[2] = asc;
		s[3] = ascq;
		cmd->sc_sense_len = DESC_SENSE_LEN;
	} else {
		memset(s, 0, FIXED_SENSE_LEN);
		s[0] = 0x70;		/* current error, fixed format */
		s[2] = key & 0x0f;
		s[7] = FIXED_SENSE_LEN - 8;	/* ADDITIONAL SENSE LENGTH */
		s[12] = asc;
		s[13] = ascq;
		cmd->sc_sense_len = FIXED_SENSE_LEN;
	}
	cmd->sc_status = SCSI_STATUS_CHECK_CONDITION;
	cmd->sc_want_len = 0;
	cmd->sc_xfer_len = 0;
}

static bool
sense_is_desc(const struct scsi_cmd *cmd)
{
	return ((cmd->sc_sense[0] & 0x7f) == 0x72);
}

/* Append one sense data descriptor; returns it, zeroed. */
static uint8_t *
sense_desc(struct scsi_cmd *cmd, uint8_t type, uint8_t addlen)
{
	uint8_t	*d = cmd->sc_sense + cmd->sc_sense_len;

	memset(d, 0, 2 + addlen);
	d[0] = type;
	d[1] = addlen;
	cmd->sc_sense_len += 2 + addlen;
	cmd->sc_sense[7] += 2 + addlen;
	return (d);
}

/* INFORMATION, with the VALID bit. */
void
scsi_sense_info(struct scsi_cmd *cmd, uint64_t info)
{
	uint8_t	*d;

	if (sense_is_desc(cmd)) {
		d = sense_desc(cmd, 0x00, 0x0a);
		d[2] = 0x80;
		put_be64(d + 4, info);
		return;
	}
	cmd->sc_sense[0] |= 0x80;
	put_be32(cmd->sc_sense + 3, (uint32_t)info);
}

/* SENSE KEY SPECIFIC: the field pointer (SPC-4 4.5.2.4.2). */
static void
sense_field(struct scsi_cmd *cmd, bool cdb, unsigned int byte, int bit)
{
	uint8_t	*p, b0;

	b0 = 0x80 | (cdb ? 0x40 : 0);	/* SKSV, C/D */
	if (bit >= 0)
		b0 |= 0x08 | (bit & 0x07);	/* BPV, BIT POINTER */
	if (sense_is_desc(cmd))
		p = sense_desc(cmd, 0x02, 0x06) + 4;
	else
		p = cmd->sc_sense + 15;
	p[0] = b0;
	put_be16(p + 1, byte);
}

/* ILLEGAL REQUEST, INVALID FIELD IN CDB, pointing at byte (and bit). */
void
scsi_invalid_field(struct scsi_cmd *cmd, unsigned int byte, int bit)
{
	scsi_sense(cmd, SKEY_ILLEGAL_REQUEST, ASC_INVALID_FIELD_CDB, 0);
	sense_field(cmd, true, byte, bit);
}

/* ILLEGAL REQUEST, INVALID FIELD IN PARAMETER LIST. */
void
scsi_invalid_param(struct scsi_cmd *cmd, unsigned int byte, int bit)
{
	scsi_sense(cmd, SKEY_ILLEGAL_REQUEST, ASC_INVALID_FIELD_PARAM, 0);
	sense_field(cmd, false, byte, bit);
}

void
scsi_param_list_length(struct scsi_cmd *cmd)
{
	scsi_sense(cmd, SKEY_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH, 0);
}

/*
 * A failed write (errno set by lun.c): a thin LUN out of space becomes
 * write protected for want of space (SBC-4 4.7.3.7); anything else is
 * a medium error.
 */
void
scsi_write_error(struct scsi_cmd *cmd, const char *what)
{
	struct lun	*lun = cmd->sc_lun;

	if (errno == ENOSPC && lun->lun_thin) {
		log_warnx("%s: %s: out of space", lun->lun_path, what);
		scsi_sense(cmd, SKEY_DATA_PROTECT, ASC_WRITE_PROTECTED,
		    ASCQ_SPACE_ALLOC_FAILED);
		return;
	}
	log_warn("%s: %s", lun->lun_path, what);
	scsi_sense(cmd, SKEY_MEDIUM_ERROR, ASC_WRITE_ERROR, 0);
}

void
scsi_good(struct scsi_cmd *cmd)
{
	cmd->sc_status = SCSI_STATUS_GOOD;
	cmd->sc_sense_len = 0;
}

/* A status that carries neither sense nor data (BUSY, RESERVATION
 * CONFLICT). */
void
scsi_status_only(struct scsi_cmd *cmd, uint8_t status)
{
	cmd->sc_status = status;
	cmd->sc_sense_len = 0;
	cmd->sc_want_len = 0;
	cmd->sc_xfer_len = 0;
}

/* Return len bytes of data, at most alloc (the ALLOCATION LENGTH). */
void
scsi_datain(struct scsi_cmd *cmd, const uint8_t *data, uint32_t len,
    uint32_t alloc)
{
	cmd->sc_want_len = MIN(len, alloc);
	cmd->sc_xfer_len = MIN(cmd->sc_want_len, cmd->sc_buf_len);
	if (cmd->sc_xfer_len > 0)
		memcpy(cmd->sc_buf, data, cmd->sc_xfer_len);
	scsi_good(cmd);
}

uint32_t
scsi_max_xfer_blocks(const struct lun *lun)
{
	return (SCSI_MAX_XFER / lun->lun_blocksize);
}

static bool
lun_is_thin(const struct lun *lun)
{
	return (lun->lun_thin);
}

/* The table entry for opcode (and service action); NULL if none. */
static const struct scsi_op *
op_find(uint8_t opcode, uint8_t sa, bool *known)
{
	size_t	i;

	*known = false;
	for (i = 0; i < NOPS; i++) {
		if (scsi_ops[i].so_op != opcode)
			continue;
		*known = true;
		if (!(scsi_ops[i].so_flags & SO_SA) || scsi_ops[i].so_sa == sa)
			return (&scsi_ops[i]);
	}
	return (NULL);
}

/*
 * Every CDB bit outside the usage data is reserved or unsupported.  The
 * field pointer names the highest bad bit, moved up to the top of the
 * unsupported field it lies in.
 */
static bool
cdb_fields_ok(struct scsi_cmd *cmd, const struct scsi_op *op)
{
	const uint8_t	*cdb = cmd->sc_cdb;
	size_t		 len = scsi_cdb_len(op->so_op), i;
	uint8_t		 mask, bad;
	int		 bit;

	for (i = 1; i + 1 < len; i++) {
		mask = op->so_usage[i];
		if (i == 1 && (op->so_flags & SO_SA))
			mask |= 0x1f;
		if ((bad = cdb[i] & ~mask) == 0)
			continue;
		for (bit = 7; !(bad & (1 << bit)); bit--)
			;
		while (bit < 7 && !(mask & (1 << (bit + 1))))
			bit++;
		scsi_invalid_field(cmd, i, bit);
		return (false);
	}
	return (true);
}

void
scsi_exec(struct scsi_cmd *cmd)
{
	const struct scsi_op	*op;
	const uint8_t		*cdb = cmd->sc_cdb;
	size_t			 i;
	bool			 known;

	cmd->sc_status = SCSI_STATUS_GOOD;
	cmd->sc_sense_len = 0;
	cmd->sc_want_len = 0;
	cmd->sc_xfer_len = 0;
	cmd->sc_ref = false;
	cmd->sc_pending = false;
	cmd->sc_job = NULL;
	if (scsi_park(cmd))
		return;

	op = op_find(cdb[0], cdb[1] & 0x1f, &known);
	/*
	 * SPC-4 5.11: for a LUN that is not configured only INQUIRY,
	 * REPORT LUNS and REQUEST SENSE are processed.
	 */
	if (cmd->sc_lun == NULL && (op == NULL ||
	    !(op->so_flags & SO_NOLUN))) {
		scsi_sense(cmd, SKEY_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED,
		    0);
		return;
	}
	if (op == NULL && known) {
		scsi_invalid_field(cmd, 1, 4);	/* SERVICE ACTION */
		return;
	}
	if (op != NULL && (op->so_flags & SO_SA) && op->so_ok != NULL &&
	    !op->so_ok(cmd->sc_lun)) {
		scsi_invalid_field(cmd, 1, 4);	/* not for this LUN */
		return;
	}
	if (op == NULL || (op->so_ok != NULL && !op->so_ok(cmd->sc_lun))) {
		log_debug(2, "scsi: unsupported opcode 0x%02x", cdb[0]);
		scsi_sense(cmd, SKEY_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
		return;
	}
	/* We support neither ACA nor linked commands. */
	i = scsi_cdb_len(cdb[0]) - 1;
	if (cdb[i] & CONTROL_NACA) {
		scsi_invalid_field(cmd, i, 2);
		return;
	}
	if (cdb[i] & CONTROL_LINK) {
		scsi_invalid_field(cmd, i, 0);
		return;
	}
	if (!cdb_fields_ok(cmd, op))
		return;
	/* SAM-5 5.14 and SPC-4 5.13: unit attention, then reservations. */
	if (!ua_check(cmd) || !pr_check(cmd) || sbc_sanitize_busy(cmd) ||
	    sbc_sanitize_failed(cmd))
		return;
	op->so_fn(cmd);
}

/*
 * REPORT SUPPORTED OPERATION CODES (MAINTENANCE IN 0Ch), from the command
 * table.  RCTD adds a command timeouts descriptor with no timeouts
 * (0: not specified).
 */
static bool
op_supported(const struct scsi_op *op, const struct lun *lun)
{
	return (op->so_ok == NULL || op->so_ok(lun));
}

static bool
op_has_sa(uint8_t opcode)
{
	size_t	i;

	for (i = 0; i < NOPS; i++)
		if (scsi_ops[i].so_op == opcode)
			return ((scsi_ops[i].so_flags & SO_SA) != 0);
	return (false);
}

/* The one_command parameter data for op (NULL: not supported). */
static void
rsoc_one(struct scsi_cmd *cmd, const struct scsi_op *op, bool rctd,
    uint32_t alloc)
{
	uint8_t	 d[4 + 16 + 12];
	size_t	 len;

	memset(d, 0, sizeof(d));
	if (op == NULL || !op_supported(op, cmd->sc_lun)) {
		d[1] = 0x01;		/* SUPPORT: not supported */
		scsi_datain(cmd, d, 4, alloc);
		return;
	}
	len = scsi_cdb_len(op->so_op);
	d[1] = 0x03 | (rctd ? 0x80 : 0);	/* SUPPORT: standard; CTDP */
	put_be16(d + 2, len);
	memcpy(d + 4, op->so_usage, len);
	if (rctd)
		put_be16(d + 4 + len, 0x0a);
	scsi_datain(cmd, d, 4 + len + (rctd ? 12 : 0), alloc);
}

static void
op_report_opcodes(struct scsi_cmd *cmd)
{
	const uint8_t		*cdb = cmd->sc_cdb;
	const struct scsi_op	*op;
	uint8_t			 d[4 + NOPS * 20], *p;
	uint32_t		 alloc;
	uint16_t		 sa;
	size_t			 i;
	bool			 rctd = (cdb[2] & 0x80) != 0, known, hassa;

	alloc = get_be32(cdb + 6);
	sa = get_be16(cdb + 4);
	hassa = op_has_sa(cdb[3]);
	switch (cdb[2] & 0x07) {
	case 0:				/* all commands */
		break;
	case 1:				/* an opcode without service actions */
		if (hassa) {
			scsi_invalid_field(cmd, 2, 2);
			return;
		}
		rsoc_one(cmd, op_find(cdb[3], 0, &known), rctd, alloc);
		return;
	case 2:				/* an opcode with a service action */
		if (!hassa && op_find(cdb[3], 0, &known) != NULL) {
			scsi_invalid_field(cmd, 2, 2);
			return;
		}
		/* FALLTHROUGH */
	case 3:				/* either, as the opcode has it */
		if (hassa)
			op = sa <= 0x1f ? op_find(cdb[3], sa, &known) : NULL;
		else
			op = sa == 0 ? op_find(cdb[3], 0, &known) : NULL;
		rsoc_one(cmd, op, rctd, alloc);
		return;
	default:
		scsi_invalid_field(cmd, 2, 2);
		return;
	}
	p = d + 4;
	for (i = 0; i < NOPS; i++) {
		op = &scsi_ops[i];
		if (!op_supported(op, cmd->sc_lun))
			continue;
		memset(p, 0, rctd ? 20 : 8);
		p[0] = op->so_op;
		if (op->so_flags & SO_SA) {
			put_be16(p + 2, op->so_sa);
			p[5] |= 0x01;		/* SERVACTV */
		}
		put_be16(p + 6, scsi_cdb_len(op->so_op));
		if (rctd) {
			p[5] |= 0x02;		/* CTDP */
			put_be16(p + 8, 0x0a);
		}
		p += rctd ? 20 : 8;
	}
	put_be32(d, (uint32_t)(p - d - 4));
	scsi_datain(cmd, d, (uint32_t)(p - d), alloc);
}

/*
 * REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS (MAINTENANCE IN 0Dh): what
 * session.c answers with FUNCTION COMPLETE: ABORT TASK, ABORT TASK SET,
 * CLEAR TASK SET, LOGICAL UNIT RESET and TARGET WARM RESET (TRS).
 */
static void
op_report_tmf(struct scsi_cmd *cmd)
{
	uint8_t		d[4];
	uint32_t	alloc;

	alloc = get_be32(cmd->sc_cdb + 6);
	if (alloc < 4) {
		scsi_invalid_field(cmd, 6, -1);
		return;
	}
	memset(d, 0, sizeof(d));
	d[0] = 0x80 | 0x40 | 0x10 | 0x08 | 0x02;	/* ATS ATSS CTSS LURS TRS */
	scsi_datain(cmd, d, sizeof(d), alloc);
}

/*
 * The fence of a LUN (lun_fence): an I/O thread still runs the write of
 * a command that was aborted, or whose session went.  Every command for
 * the LUN that can wait (sc_done) is parked until that write has landed,
 * so that nothing that comes after the abort, from any initiator, reads
 * the medium before the write reached it or is overwritten by it: the
 * abort is answered at once, and io never waits for the device.
 */
/*
 * The fence rises and falls with every reactor stopped (io_exclusive:
 * an abort, a close, the write's end), so a reactor reads it under its
 * own lock; but reactors park commands at once, hence park_mtx.
 */
static pthread_mutex_t	park_mtx = PTHREAD_MUTEX_INITIALIZER;

static bool
scsi_park(struct scsi_cmd *cmd)
{
	struct lun	*lun = cmd->sc_lun;

	if (lun == NULL || lun->lun_fence == 0 || cmd->sc_done == NULL)
		return (false);
	cmd->sc_parked = true;
	cmd->sc_pending = true;
	pthread_mutex_lock(&park_mtx);
	TAILQ_INSERT_TAIL(&lun_ref(lun)->lun_parked, cmd, sc_pentry);
	pthread_mutex_unlock(&park_mtx);
	return (true);
}

static void
scsi_unpark(struct scsi_cmd *cmd)
{
	pthread_mutex_lock(&park_mtx);
	TAILQ_REMOVE(&cmd->sc_lun->lun_parked, cmd, sc_pentry);
	pthread_mutex_unlock(&park_mtx);
	cmd->sc_parked = false;
	cmd->sc_pending = false;
}

/*
 * Commands that a reactor runs without stopping the others: their
 * execution reads the LUN's configuration, takes the LUN state's lock
 * for unit attentions and reservations (ua.c, pr.c), parks behind a
 * fence, and changes nothing else that another session can see.  Every
 * other command runs with every reactor stopped (io_exclusive).
 */
bool
scsi_cdb_parallel(const uint8_t *cdb)
{
	switch (cdb[0]) {
	case OP_TEST_UNIT_READY:
	case OP_READ_6:
	case OP_READ_10:
	case OP_READ_12:
	case OP_READ_16:
		return (true);
	default:
		return (scsi_cdb_pipe_ok(cdb));
	}
}

/* The plain WRITEs: sbc_read_write splices their data (sc_piped). */
bool
scsi_cdb_pipe_ok(const uint8_t *cdb)
{
	switch (cdb[0]) {
	case OP_WRITE_6:
	case OP_WRITE_10:
	case OP_WRITE_12:
	case OP_WRITE_16:
		return (true);
	default:
		return (false);
	}
}

void
scsi_fence_lifted(struct lun *lun)
{
	struct scsi_cmd	*cmd;

	/* The caller holds a reference: lun outlives the loop.  Every
	 * reactor is stopped: nothing parks meanwhile. */
	while (lun->lun_fence == 0 &&
	    (cmd = TAILQ_FIRST(&lun->lun_parked)) != NULL) {
		scsi_unpark(cmd);
		lun_unref(lun);
		scsi_exec(cmd);
		if (!cmd->sc_pending)
			cmd->sc_done(cmd);
	}
}

bool
scsi_cmd_cancel(struct scsi_cmd *cmd)
{
	bool	keep = false;

	if (cmd->sc_parked) {
		scsi_unpark(cmd);
		lun_unref(cmd->sc_lun);
	} else if (cmd->sc_job != NULL)
		keep = bgio_cancel(cmd);
	else
		sanitize_cancel(cmd);
	cmd->sc_pending = false;
	return (keep);
}
