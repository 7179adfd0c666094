/*
 * scsi.c: SCSI command execution for direct-access block devices
 * (SPC-4 primary commands, SBC-4 block commands).
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
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "priv/scsi.h"

/* Operation codes. */
#define OP_TEST_UNIT_READY	0x00
#define OP_REQUEST_SENSE	0x03
#define OP_READ_6		0x08
#define OP_WRITE_6		0x0a
#define OP_INQUIRY		0x12
#define OP_MODE_SELECT_6	0x15
#define OP_MODE_SENSE_6		0x1a
#define OP_START_STOP_UNIT	0x1b
#define OP_PREVENT_ALLOW	0x1e
#define OP_READ_CAPACITY_10	0x25
#define OP_READ_10		0x28
#define OP_WRITE_10		0x2a
#define OP_WRITE_VERIFY_10	0x2e
#define OP_VERIFY_10		0x2f
#define OP_PREFETCH_10		0x34
#define OP_SYNC_CACHE_10	0x35
#define OP_READ_DEFECT_10	0x37
#define OP_WRITE_SAME_10	0x41
#define OP_UNMAP		0x42
#define OP_MODE_SELECT_10	0x55
#define OP_MODE_SENSE_10	0x5a
#define OP_READ_16		0x88
#define OP_COMPARE_AND_WRITE	0x89
#define OP_WRITE_16		0x8a
#define OP_ORWRITE_16		0x8b
#define OP_WRITE_VERIFY_16	0x8e
#define OP_VERIFY_16		0x8f
#define OP_PREFETCH_16		0x90
#define OP_SYNC_CACHE_16	0x91
#define OP_WRITE_SAME_16	0x93
#define OP_SERVICE_ACTION_IN_16	0x9e
#define OP_REPORT_LUNS		0xa0
#define OP_MAINTENANCE_IN	0xa3
#define OP_READ_12		0xa8
#define OP_WRITE_12		0xaa
#define OP_WRITE_VERIFY_12	0xae
#define OP_VERIFY_12		0xaf
#define OP_READ_DEFECT_12	0xb7

#define SAI_READ_CAPACITY_16	0x10
#define SAI_GET_LBA_STATUS	0x12
#define MI_REPORT_OPCODES	0x0c
#define MI_REPORT_TMF		0x0d

/* Additional sense codes (ASCQ 0 for all of them). */
#define ASC_NONE		0x00
#define ASC_WRITE_ERROR		0x0c
#define ASC_READ_ERROR		0x11
#define ASC_PARAM_LIST_LENGTH	0x1a
#define ASC_MISCOMPARE		0x1d
#define ASC_INVALID_OPCODE	0x20
#define ASC_LBA_OUT_OF_RANGE	0x21
#define ASC_INVALID_FIELD_CDB	0x24
#define ASC_LUN_NOT_SUPPORTED	0x25
#define ASC_INVALID_FIELD_PARAM	0x26
#define ASC_WRITE_PROTECTED	0x27	/* ASCQ 0; 02h: software (SWP), 07h:
					   space allocation failed */
#define ASCQ_SOFTWARE_WP	0x02
#define ASCQ_SPACE_ALLOC_FAILED	0x07
#define ASC_SAVING_NOT_SUPP	0x39

/* CONTROL byte. */
#define CONTROL_NACA		0x04
#define CONTROL_LINK		0x01	/* obsolete, never supported */

#define FIXED_SENSE_LEN		18
#define DESC_SENSE_LEN		8
#define VERIFY_CHUNK		(64U * 1024)

/* Limits reported in the Block Limits VPD page and enforced. */
#define MAX_CAW_BLOCKS		255	/* COMPARE AND WRITE */
#define MAX_UNMAP_DESC		256	/* UNMAP block descriptors */
#define MAX_UNMAP_BLOCKS	0xffffffffU	/* per descriptor */
#define WS_CHUNK		(1024U * 1024)

/*
 * Standard INQUIRY identification.  The vendor stays "IET" on purpose:
 * existing IET users' multipath.conf and initiator quirk tables match
 * vendor "IET" and product "VIRTUAL-DISK", and switching to ietd must not
 * change how their hosts treat the disks.
 */
#define INQ_VENDOR		"IET     "		/* 8 */
#define INQ_PRODUCT		"VIRTUAL-DISK    "	/* 16 */
#define INQ_REVISION		"0001"			/* 4 */
#define INQ_STD_LEN		74

#define MIN(a, b)		((a) < (b) ? (a) : (b))

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

static void	op_test_unit_ready(struct scsi_cmd *);
static void	op_request_sense(struct scsi_cmd *);
static void	op_inquiry(struct scsi_cmd *);
static void	op_mode_select(struct scsi_cmd *);
static void	op_mode_sense(struct scsi_cmd *);
static void	op_start_stop_unit(struct scsi_cmd *);
static void	op_prevent_allow(struct scsi_cmd *);
static void	op_read_capacity_10(struct scsi_cmd *);
static void	op_read_capacity_16(struct scsi_cmd *);
static void	op_get_lba_status(struct scsi_cmd *);
static void	op_read_write(struct scsi_cmd *);
static void	op_verify(struct scsi_cmd *);
static void	op_sync_cache(struct scsi_cmd *);
static void	op_prefetch(struct scsi_cmd *);
static void	op_read_defect(struct scsi_cmd *);
static void	op_write_same(struct scsi_cmd *);
static void	op_unmap(struct scsi_cmd *);
static void	op_compare_and_write(struct scsi_cmd *);
static void	op_orwrite(struct scsi_cmd *);
static void	op_report_luns(struct scsi_cmd *);
static void	op_report_opcodes(struct scsi_cmd *);
static void	op_report_tmf(struct scsi_cmd *);
static bool	lun_is_thin(const struct lun *);

#define FF4	0xff, 0xff, 0xff, 0xff
#define FF8	FF4, FF4

static const struct scsi_op scsi_ops[] = {
	{ OP_TEST_UNIT_READY, 0, 0, op_test_unit_ready, NULL,
	    { 0x00, 0, 0, 0, 0, 0 } },
	{ OP_REQUEST_SENSE, SO_NOLUN, 0, op_request_sense, NULL,
	    { 0x03, 0x01, 0, 0, 0xff, 0 } },
	{ OP_READ_6, 0, 0, op_read_write, NULL,
	    { 0x08, 0x1f, 0xff, 0xff, 0xff, 0 } },
	{ OP_WRITE_6, 0, 0, op_read_write, NULL,
	    { 0x0a, 0x1f, 0xff, 0xff, 0xff, 0 } },
	{ OP_INQUIRY, SO_NOLUN, 0, op_inquiry, NULL,
	    { 0x12, 0x01, 0xff, 0xff, 0xff, 0 } },
	{ OP_MODE_SELECT_6, 0, 0, op_mode_select, NULL,
	    { 0x15, 0x11, 0, 0, 0xff, 0 } },
	{ OP_MODE_SENSE_6, 0, 0, op_mode_sense, NULL,
	    { 0x1a, 0x08, 0xff, 0xff, 0xff, 0 } },
	{ OP_START_STOP_UNIT, 0, 0, op_start_stop_unit, NULL,
	    { 0x1b, 0x01, 0, 0x0f, 0xf7, 0 } },
	{ OP_PREVENT_ALLOW, 0, 0, op_prevent_allow, NULL,
	    { 0x1e, 0, 0, 0, 0x03, 0 } },
	{ OP_READ_CAPACITY_10, 0, 0, op_read_capacity_10, NULL,
	    { 0x25, 0, FF4, 0, 0, 0x01, 0 } },
	{ OP_READ_10, 0, 0, op_read_write, NULL,
	    { 0x28, 0x1a, FF4, 0x1f, 0xff, 0xff, 0 } },
	{ OP_WRITE_10, 0, 0, op_read_write, NULL,
	    { 0x2a, 0x1a, FF4, 0x1f, 0xff, 0xff, 0 } },
	{ OP_WRITE_VERIFY_10, 0, 0, op_read_write, NULL,
	    { 0x2e, 0x12, FF4, 0x1f, 0xff, 0xff, 0 } },
	{ OP_VERIFY_10, 0, 0, op_verify, NULL,
	    { 0x2f, 0x16, FF4, 0x1f, 0xff, 0xff, 0 } },
	{ OP_PREFETCH_10, 0, 0, op_prefetch, NULL,
	    { 0x34, 0x02, FF4, 0x1f, 0xff, 0xff, 0 } },
	{ OP_SYNC_CACHE_10, 0, 0, op_sync_cache, NULL,
	    { 0x35, 0x02, FF4, 0x1f, 0xff, 0xff, 0 } },
	{ OP_READ_DEFECT_10, 0, 0, op_read_defect, NULL,
	    { 0x37, 0, 0x1f, 0, 0, 0, 0, 0xff, 0xff, 0 } },
	{ OP_WRITE_SAME_10, 0, 0, op_write_same, NULL,
	    { 0x41, 0x08, FF4, 0x1f, 0xff, 0xff, 0 } },
	{ OP_UNMAP, 0, 0, op_unmap, lun_is_thin,
	    { 0x42, 0, 0, 0, 0, 0, 0x1f, 0xff, 0xff, 0 } },
	{ OP_MODE_SELECT_10, 0, 0, op_mode_select, NULL,
	    { 0x55, 0x11, 0, 0, 0, 0, 0, 0xff, 0xff, 0 } },
	{ OP_MODE_SENSE_10, 0, 0, op_mode_sense, NULL,
	    { 0x5a, 0x18, 0xff, 0xff, 0, 0, 0, 0xff, 0xff, 0 } },
	{ OP_READ_16, 0, 0, op_read_write, NULL,
	    { 0x88, 0x1a, FF8, FF4, 0x1f, 0 } },
	{ OP_COMPARE_AND_WRITE, 0, 0, op_compare_and_write, NULL,
	    { 0x89, 0x1a, FF8, 0, 0, 0, 0xff, 0x1f, 0 } },
	{ OP_WRITE_16, 0, 0, op_read_write, NULL,
	    { 0x8a, 0x1a, FF8, FF4, 0x1f, 0 } },
	{ OP_ORWRITE_16, 0, 0, op_orwrite, NULL,
	    { 0x8b, 0x1a, FF8, FF4, 0x1f, 0 } },
	{ OP_WRITE_VERIFY_16, 0, 0, op_read_write, NULL,
	    { 0x8e, 0x12, FF8, FF4, 0x1f, 0 } },
	{ OP_VERIFY_16, 0, 0, op_verify, NULL,
	    { 0x8f, 0x16, FF8, FF4, 0x1f, 0 } },
	{ OP_PREFETCH_16, 0, 0, op_prefetch, NULL,
	    { 0x90, 0x02, FF8, FF4, 0x1f, 0 } },
	{ OP_SYNC_CACHE_16, 0, 0, op_sync_cache, NULL,
	    { 0x91, 0x02, FF8, FF4, 0x1f, 0 } },
	{ OP_WRITE_SAME_16, 0, 0, op_write_same, NULL,
	    { 0x93, 0x09, FF8, FF4, 0x1f, 0 } },
	{ OP_SERVICE_ACTION_IN_16, SO_SA, SAI_READ_CAPACITY_16,
	    op_read_capacity_16, NULL,
	    { 0x9e, SAI_READ_CAPACITY_16, FF8, FF4, 0x01, 0 } },
	{ OP_SERVICE_ACTION_IN_16, SO_SA, SAI_GET_LBA_STATUS,
	    op_get_lba_status, NULL,
	    { 0x9e, SAI_GET_LBA_STATUS, FF8, FF4, 0, 0 } },
	{ OP_REPORT_LUNS, SO_NOLUN, 0, op_report_luns, NULL,
	    { 0xa0, 0, 0xff, 0, 0, 0, FF4, 0, 0 } },
	{ OP_MAINTENANCE_IN, SO_SA, MI_REPORT_OPCODES, op_report_opcodes,
	    NULL, { 0xa3, MI_REPORT_OPCODES, 0x87, 0xff, 0xff, 0xff, FF4,
	    0, 0 } },
	{ OP_MAINTENANCE_IN, SO_SA, MI_REPORT_TMF, op_report_tmf, NULL,
	    { 0xa3, MI_REPORT_TMF, 0, 0, 0, 0, FF4, 0, 0 } },
	{ OP_READ_12, 0, 0, op_read_write, NULL,
	    { 0xa8, 0x1a, FF4, FF4, 0x1f, 0 } },
	{ OP_WRITE_12, 0, 0, op_read_write, NULL,
	    { 0xaa, 0x1a, FF4, FF4, 0x1f, 0 } },
	{ OP_WRITE_VERIFY_12, 0, 0, op_read_write, NULL,
	    { 0xae, 0x12, FF4, FF4, 0x1f, 0 } },
	{ OP_VERIFY_12, 0, 0, op_verify, NULL,
	    { 0xaf, 0x16, FF4, FF4, 0x1f, 0 } },
	{ OP_READ_DEFECT_12, 0, 0, op_read_defect, NULL,
	    { 0xb7, 0x1f, FF4, FF4, 0, 0 } },
};
#define NOPS	(sizeof(scsi_ops) / sizeof(scsi_ops[0]))

/* CDB length from the group code of the operation code. */
static size_t
cdb_len(uint8_t op)
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
	case OP_WRITE_SAME_10:
	case OP_UNMAP:
	case OP_MODE_SELECT_6:
	case OP_MODE_SELECT_10:
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
static void
sense_info(struct scsi_cmd *cmd, uint64_t info)
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
static void
invalid_field(struct scsi_cmd *cmd, unsigned int byte, int bit)
{
	scsi_sense(cmd, SKEY_ILLEGAL_REQUEST, ASC_INVALID_FIELD_CDB, 0);
	sense_field(cmd, true, byte, bit);
}

/* ILLEGAL REQUEST, INVALID FIELD IN PARAMETER LIST. */
static void
invalid_param(struct scsi_cmd *cmd, unsigned int byte, int bit)
{
	scsi_sense(cmd, SKEY_ILLEGAL_REQUEST, ASC_INVALID_FIELD_PARAM, 0);
	sense_field(cmd, false, byte, bit);
}

static void
param_list_length(struct scsi_cmd *cmd)
{
	scsi_sense(cmd, SKEY_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH, 0);
}

/* Software write protect and read-only LUNs refuse every write. */
static bool
write_protected(struct scsi_cmd *cmd)
{
	if (cmd->sc_lun->lun_readonly) {
		scsi_sense(cmd, SKEY_DATA_PROTECT, ASC_WRITE_PROTECTED, 0);
		return (true);
	}
	if (cmd->sc_lun->lun_swp) {
		scsi_sense(cmd, SKEY_DATA_PROTECT, ASC_WRITE_PROTECTED,
		    ASCQ_SOFTWARE_WP);
		return (true);
	}
	return (false);
}

/*
 * A failed write (errno set by lun.c): a thin LUN out of space becomes
 * write protected for want of space (SBC-4 4.7.3.7); anything else is
 * a medium error.
 */
static void
write_error(struct scsi_cmd *cmd, const char *what)
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

/* Out of memory for a moment: the initiator retries. */
static void
busy(struct scsi_cmd *cmd)
{
	cmd->sc_status = SCSI_STATUS_BUSY;
	cmd->sc_sense_len = 0;
	cmd->sc_want_len = 0;
	cmd->sc_xfer_len = 0;
}

static void
lba_out_of_range(struct scsi_cmd *cmd)
{
	scsi_sense(cmd, SKEY_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
}

static void
good(struct scsi_cmd *cmd)
{
	cmd->sc_status = SCSI_STATUS_GOOD;
	cmd->sc_sense_len = 0;
}

/* Return len bytes of data, at most alloc (the ALLOCATION LENGTH). */
static void
datain(struct scsi_cmd *cmd, const uint8_t *data, uint32_t len,
    uint32_t alloc)
{
	cmd->sc_want_len = MIN(len, alloc);
	cmd->sc_xfer_len = MIN(cmd->sc_want_len, cmd->sc_buf_len);
	if (cmd->sc_xfer_len > 0)
		memcpy(cmd->sc_buf, data, cmd->sc_xfer_len);
	good(cmd);
}

static bool
range_ok(const struct lun *lun, uint64_t lba, uint64_t nblocks)
{
	return (lba <= lun->lun_nblocks && nblocks <= lun->lun_nblocks - lba);
}

static uint32_t
max_xfer_blocks(const struct lun *lun)
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
	size_t		 len = cdb_len(op->so_op), i;
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
		invalid_field(cmd, i, bit);
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
		invalid_field(cmd, 1, 4);	/* SERVICE ACTION */
		return;
	}
	if (op == NULL || (op->so_ok != NULL && !op->so_ok(cmd->sc_lun))) {
		log_debug(2, "scsi: unsupported opcode 0x%02x", cdb[0]);
		scsi_sense(cmd, SKEY_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
		return;
	}
	/* We support neither ACA nor linked commands. */
	i = cdb_len(cdb[0]) - 1;
	if (cdb[i] & CONTROL_NACA) {
		invalid_field(cmd, i, 2);
		return;
	}
	if (cdb[i] & CONTROL_LINK) {
		invalid_field(cmd, i, 0);
		return;
	}
	if (!cdb_fields_ok(cmd, op))
		return;
	op->so_fn(cmd);
}

static void
op_test_unit_ready(struct scsi_cmd *cmd)
{
	good(cmd);
}

/*
 * REQUEST SENSE.  Sense is never left pending (we report it with the
 * status, autosense), so this returns NO SENSE, in descriptor format when
 * DESC is set (trivial for NO SENSE).  For a LUN that is not configured
 * SPC-4 5.11 wants LOGICAL UNIT NOT SUPPORTED as parameter data, GOOD.
 */
static void
op_request_sense(struct scsi_cmd *cmd)
{
	const uint8_t	*cdb = cmd->sc_cdb;
	uint8_t		 d[FIXED_SENSE_LEN];
	uint8_t		 key = SKEY_NO_SENSE, asc = ASC_NONE;

	if (cdb[1] & 0xfe) {
		invalid_field(cmd, 1, -1);
		return;
	}
	if (cmd->sc_lun == NULL) {
		key = SKEY_ILLEGAL_REQUEST;
		asc = ASC_LUN_NOT_SUPPORTED;
	}
	memset(d, 0, sizeof(d));
	if (cdb[1] & 0x01) {
		d[0] = 0x72;		/* current, descriptor format */
		d[1] = key;
		d[2] = asc;
		datain(cmd, d, 8, cdb[4]);
		return;
	}
	d[0] = 0x70;
	d[2] = key;
	d[7] = FIXED_SENSE_LEN - 8;
	d[12] = asc;
	datain(cmd, d, FIXED_SENSE_LEN, cdb[4]);
}

/*
 * INQUIRY
 */
static uint32_t
inq_standard(const struct scsi_cmd *cmd, uint8_t *d)
{
	memset(d, 0, INQ_STD_LEN);
	/* Peripheral qualifier 011b, type 1Fh: no device at this LUN. */
	d[0] = cmd->sc_lun != NULL ? 0x00 : 0x7f;
	d[2] = 0x06;			/* VERSION: SPC-4 */
	d[3] = 0x10 | 0x02;		/* HISUP, RESPONSE DATA FORMAT 2 */
	d[4] = INQ_STD_LEN - 5;		/* ADDITIONAL LENGTH */
	d[7] = 0x02;			/* CMDQUE */
	memcpy(d + 8, INQ_VENDOR, 8);
	memcpy(d + 16, INQ_PRODUCT, 16);
	memcpy(d + 32, INQ_REVISION, 4);
	/* Version descriptors (SPC-4 table 30). */
	put_be16(d + 58, 0x00a0);	/* SAM-5 */
	put_be16(d + 60, 0x0960);	/* iSCSI */
	put_be16(d + 62, 0x0460);	/* SPC-4 */
	put_be16(d + 64, 0x04c0);	/* SBC-3 */
	return (INQ_STD_LEN);
}

static const uint8_t vpd_pages[] = { 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2 };

static uint32_t
vpd_supported(uint8_t *d)
{
	d[3] = sizeof(vpd_pages);
	memcpy(d + 4, vpd_pages, sizeof(vpd_pages));
	return (4 + sizeof(vpd_pages));
}

static uint32_t
vpd_serial(const struct scsi_cmd *cmd, uint8_t *d)
{
	size_t	n;

	n = strnlen(cmd->sc_lun->lun_scsi_sn, SCSI_SN_MAX);
	d[3] = n;
	memcpy(d + 4, cmd->sc_lun->lun_scsi_sn, n);
	return (4 + n);
}

/* One designation descriptor header; returns the next free byte. */
static uint8_t *
desig(uint8_t *p, uint8_t proto_codeset, uint8_t piv_assoc_type,
    const void *id, size_t len)
{
	p[0] = proto_codeset;
	p[1] = piv_assoc_type;
	p[2] = 0;
	p[3] = len;
	memcpy(p + 4, id, len);
	return (p + 4 + len);
}

static uint32_t
vpd_devid(const struct scsi_cmd *cmd, uint8_t *d)
{
	const struct lun	*lun = cmd->sc_lun;
	uint8_t			 buf[260], *p = d + 4;
	size_t			 n;

	/* T10 vendor ID based: vendor + ScsiId, ASCII, LU. */
	n = strnlen(lun->lun_scsi_id, SCSI_ID_MAX);
	memcpy(buf, INQ_VENDOR, 8);
	memcpy(buf + 8, lun->lun_scsi_id, n);
	p = desig(p, 0x02, 0x01, buf, 8 + n);
	/* NAA (type 3, locally assigned), binary, LU. */
	p = desig(p, 0x01, 0x03, lun->lun_naa, sizeof(lun->lun_naa));
	/* iSCSI, PIV: relative target port 1, target port group 1. */
	memset(buf, 0, 4);
	put_be16(buf + 2, 1);
	p = desig(p, 0x51, 0x80 | 0x10 | 0x04, buf, 4);
	p = desig(p, 0x51, 0x80 | 0x10 | 0x05, buf, 4);
	/* SCSI name string of the target device: UTF-8, NUL-padded to 4. */
	if (cmd->sc_target != NULL && cmd->sc_target->lt_name != NULL) {
		n = strnlen(cmd->sc_target->lt_name, 223);
		memset(buf, 0, sizeof(buf));
		memcpy(buf, cmd->sc_target->lt_name, n);
		n = (n + 4) & ~(size_t)3;
		p = desig(p, 0x53, 0x80 | 0x20 | 0x08, buf, n);
	}
	n = p - d;
	put_be16(d + 2, n - 4);
	return (n);
}

static uint32_t
vpd_block_limits(const struct scsi_cmd *cmd, uint8_t *d)
{
	const struct lun	*lun = cmd->sc_lun;
	uint32_t		 gran;

	put_be16(d + 2, 0x3c);
	/* OPTIMAL TRANSFER LENGTH GRANULARITY: 4 KiB, the page size. */
	gran = lun->lun_blocksize < 4096 ? 4096 / lun->lun_blocksize : 1;
	put_be16(d + 6, gran);
	put_be32(d + 8, max_xfer_blocks(lun));	/* MAXIMUM TRANSFER LENGTH */
	put_be32(d + 12, max_xfer_blocks(lun));	/* OPTIMAL TRANSFER LENGTH */
	d[4] = 0x01;		/* WSNZ: WRITE SAME of 0 blocks is refused */
	d[5] = MAX_CAW_BLOCKS;	/* MAXIMUM COMPARE AND WRITE LENGTH */
	if (lun->lun_thin) {
		put_be32(d + 20, MAX_UNMAP_BLOCKS);
		put_be32(d + 24, MAX_UNMAP_DESC);
		put_be32(d + 28, lun->lun_unmap_gran);
		put_be32(d + 32, 0x80000000U);	/* UGAVALID, alignment 0 */
	}
	/*
	 * MAXIMUM WRITE SAME LENGTH: that of a transfer, so that a WRITE
	 * SAME holds the (single-threaded) io no longer than a WRITE can.
	 */
	put_be64(d + 36, max_xfer_blocks(lun));
	return (4 + 0x3c);
}

/*
 * Logical Block Provisioning: only what lun.c probed to work.  LBPU,
 * LBPWS and LBPWS10: UNMAP and WRITE SAME with UNMAP deallocate; LBPRZ:
 * deallocated blocks read as zeroes; provisioning type thin.
 */
static uint32_t
vpd_lbp(const struct scsi_cmd *cmd, uint8_t *d)
{
	const struct lun	*lun = cmd->sc_lun;

	put_be16(d + 2, 4);
	if (lun->lun_thin) {
		d[5] = 0x80 | 0x40 | 0x20;
		if (lun->lun_lbprz)
			d[5] |= 0x04;	/* LBPRZ 001b */
		d[6] = 0x02;		/* PROVISIONING TYPE: thin */
	}
	return (8);
}

static uint32_t
vpd_block_dev_char(uint8_t *d)
{
	/* MEDIUM ROTATION RATE 0: not reported (we cannot know). */
	put_be16(d + 2, 0x3c);
	return (4 + 0x3c);
}

static void
op_inquiry(struct scsi_cmd *cmd)
{
	const uint8_t	*cdb = cmd->sc_cdb;
	uint8_t		 d[512];
	uint32_t	 alloc, len;

	alloc = get_be16(cdb + 3);
	if (cdb[1] & 0xfe) {		/* CMDDT (obsolete) and reserved */
		invalid_field(cmd, 1, -1);
		return;
	}
	if (!(cdb[1] & 0x01)) {
		if (cdb[2] != 0) {
			invalid_field(cmd, 2, -1);
			return;
		}
		len = inq_standard(cmd, d);
		datain(cmd, d, len, alloc);
		return;
	}
	if (cmd->sc_lun == NULL) {
		scsi_sense(cmd, SKEY_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED,
		    0);
		return;
	}
	memset(d, 0, sizeof(d));
	d[0] = 0x00;			/* direct access block device */
	d[1] = cdb[2];
	switch (cdb[2]) {
	case 0x00:
		len = vpd_supported(d);
		break;
	case 0x80:
		len = vpd_serial(cmd, d);
		break;
	case 0x83:
		len = vpd_devid(cmd, d);
		break;
	case 0xb0:
		len = vpd_block_limits(cmd, d);
		break;
	case 0xb1:
		len = vpd_block_dev_char(d);
		break;
	case 0xb2:
		len = vpd_lbp(cmd, d);
		break;
	default:
		invalid_field(cmd, 2, -1);
		return;
	}
	datain(cmd, d, len, alloc);
}

/*
 * MODE SENSE(6) and (10), MODE SELECT(6) and (10).  The changeable
 * parameters live in struct lun, in memory only (no saved values):
 * caching WCE, control D_SENSE and SWP.  The unit attention MODE
 * PARAMETERS CHANGED for the other I_T nexuses needs per-nexus state and
 * is not raised yet.
 */
#define PC_CURRENT	0
#define PC_CHANGEABLE	1
#define PC_DEFAULT	2
#define PC_SAVED	3

#define MP_CACHING_LEN	20
#define MP_CONTROL_LEN	12
#define MP_IEC_LEN	12

static size_t
mpage_caching(const struct lun *lun, int pc, uint8_t *p)
{
	memset(p, 0, MP_CACHING_LEN);
	p[0] = 0x08;
	p[1] = MP_CACHING_LEN - 2;
	if (pc == PC_CHANGEABLE)
		p[2] = 0x04;		/* WCE */
	else if (pc == PC_DEFAULT ? !lun->lun_wt : lun->lun_wce)
		p[2] = 0x04;		/* WCE; RCD stays 0 */
	return (MP_CACHING_LEN);
}

static size_t
mpage_control(const struct lun *lun, int pc, uint8_t *p)
{
	memset(p, 0, MP_CONTROL_LEN);
	p[0] = 0x0a;
	p[1] = MP_CONTROL_LEN - 2;
	if (pc == PC_CHANGEABLE) {
		p[2] = 0x04;		/* D_SENSE */
		p[4] = 0x08;		/* SWP */
		return (MP_CONTROL_LEN);
	}
	p[2] = 0x02;		/* GLTSD: no log parameters are saved */
	p[3] = 0x10;		/* QUEUE ALGORITHM MODIFIER 1: unrestricted */
	if (pc == PC_CURRENT && lun->lun_dsense)
		p[2] |= 0x04;
	if (pc == PC_CURRENT && lun->lun_swp)
		p[4] |= 0x08;
	return (MP_CONTROL_LEN);
}

static size_t
mpage_iec(int pc, uint8_t *p)
{
	memset(p, 0, MP_IEC_LEN);
	p[0] = 0x1c;
	p[1] = MP_IEC_LEN - 2;
	if (pc != PC_CHANGEABLE)
		p[2] = 0x08;	/* DEXCPT: no informational exceptions */
	return (MP_IEC_LEN);
}

/* Append the requested page(s); 0 if the page is not supported. */
static size_t
mpages(const struct lun *lun, int page, int subpage, int pc, uint8_t *p)
{
	size_t	n = 0;

	if (page == 0x3f) {
		if (subpage != 0x00 && subpage != 0xff)
			return (0);
		n += mpage_caching(lun, pc, p + n);
		n += mpage_control(lun, pc, p + n);
		n += mpage_iec(pc, p + n);
		return (n);
	}
	if (subpage != 0)
		return (0);
	switch (page) {
	case 0x08:
		return (mpage_caching(lun, pc, p));
	case 0x0a:
		return (mpage_control(lun, pc, p));
	case 0x1c:
		return (mpage_iec(pc, p));
	default:
		return (0);
	}
}

static void
op_mode_sense(struct scsi_cmd *cmd)
{
	const uint8_t		*cdb = cmd->sc_cdb;
	const struct lun	*lun = cmd->sc_lun;
	uint8_t			 d[256], *bd;
	bool			 ten = cdb[0] == OP_MODE_SENSE_10;
	bool			 dbd, llbaa;
	size_t			 hlen, bdlen, plen, len;
	uint32_t		 alloc;
	int			 pc;

	if (cdb[1] & (ten ? 0xe7 : 0xf7)) {
		invalid_field(cmd, 1, -1);
		return;
	}
	dbd = (cdb[1] & 0x08) != 0;
	llbaa = ten && (cdb[1] & 0x10) != 0;
	pc = cdb[2] >> 6;
	alloc = ten ? get_be16(cdb + 7) : cdb[4];
	if (pc == PC_SAVED) {
		scsi_sense(cmd, SKEY_ILLEGAL_REQUEST, ASC_SAVING_NOT_SUPP, 0);
		return;
	}

	memset(d, 0, sizeof(d));
	hlen = ten ? 8 : 4;
	bdlen = dbd ? 0 : (llbaa ? 16 : 8);
	plen = mpages(lun, cdb[2] & 0x3f, cdb[3], pc, d + hlen + bdlen);
	if (plen == 0) {
		invalid_field(cmd, 2, -1);
		return;
	}
	len = hlen + bdlen + plen;

	/* Block descriptor: all zero when asking for changeable values. */
	bd = d + hlen;
	if (bdlen == 8 && pc != PC_CHANGEABLE) {
		put_be32(bd, lun->lun_nblocks > UINT32_MAX ? UINT32_MAX :
		    (uint32_t)lun->lun_nblocks);
		put_be32(bd + 4, lun->lun_blocksize);	/* byte 4 is 0 */
	} else if (bdlen == 16 && pc != PC_CHANGEABLE) {
		put_be64(bd, lun->lun_nblocks);
		put_be32(bd + 12, lun->lun_blocksize);
	}

	/* Header: DEVICE-SPECIFIC PARAMETER has WP and DPOFUA. */
	if (ten) {
		put_be16(d, len - 2);
		d[3] = (lun->lun_readonly || lun->lun_swp ? 0x80 : 0) | 0x10;
		d[4] = llbaa && bdlen == 16 ? 0x01 : 0;	/* LONGLBA */
		put_be16(d + 6, bdlen);
	} else {
		d[0] = len - 1;
		d[2] = (lun->lun_readonly || lun->lun_swp ? 0x80 : 0) | 0x10;
		d[3] = bdlen;
	}
	datain(cmd, d, len, alloc);
}

/*
 * MODE SELECT: the whole parameter list is checked before anything is
 * applied.  A page must have our length, and every bit that differs
 * from the current value must be changeable; the field pointer names
 * the offending byte of the parameter list.
 */
static int
mode_select_page(struct scsi_cmd *cmd, const uint8_t *pg, size_t off,
    size_t left, struct lun *nl)
{
	uint8_t	 cur[MP_CACHING_LEN], chg[MP_CACHING_LEN];
	size_t	 len, i;

	if (left < 2) {
		param_list_length(cmd);
		return (-1);
	}
	if (pg[0] & 0x40) {		/* SPF: no subpages are supported */
		invalid_param(cmd, off, 6);
		return (-1);
	}
	switch (pg[0] & 0x3f) {
	case 0x08:
		len = mpage_caching(nl, PC_CURRENT, cur);
		mpage_caching(nl, PC_CHANGEABLE, chg);
		break;
	case 0x0a:
		len = mpage_control(nl, PC_CURRENT, cur);
		mpage_control(nl, PC_CHANGEABLE, chg);
		break;
	case 0x1c:
		len = mpage_iec(PC_CURRENT, cur);
		mpage_iec(PC_CHANGEABLE, chg);
		break;
	default:
		invalid_param(cmd, off, 5);
		return (-1);
	}
	if (pg[1] != len - 2) {
		invalid_param(cmd, off + 1, -1);
		return (-1);
	}
	if (left < len) {
		param_list_length(cmd);
		return (-1);
	}
	for (i = 2; i < len; i++)
		if ((pg[i] ^ cur[i]) & ~chg[i]) {
			invalid_param(cmd, off + i, -1);
			return (-1);
		}
	switch (pg[0] & 0x3f) {
	case 0x08:
		nl->lun_wce = (pg[2] & 0x04) != 0;
		break;
	case 0x0a:
		nl->lun_dsense = (pg[2] & 0x04) != 0;
		nl->lun_swp = (pg[4] & 0x08) != 0;
		break;
	}
	return ((int)len);
}

static void
op_mode_select(struct scsi_cmd *cmd)
{
	const uint8_t	*cdb = cmd->sc_cdb, *d = cmd->sc_buf;
	struct lun	*lun = cmd->sc_lun, nl;
	bool		 ten = cdb[0] == OP_MODE_SELECT_10;
	size_t		 plen, hlen, bdlen, off;
	int		 n;

	plen = ten ? get_be16(cdb + 7) : cdb[4];
	if (plen > 0 && !(cdb[1] & 0x10)) {	/* PF 0: vendor format */
		invalid_field(cmd, 1, 4);
		return;
	}
	if (cdb[1] & 0x01) {			/* SP: nothing is saved */
		invalid_field(cmd, 1, 0);
		return;
	}
	cmd->sc_want_len = plen;
	cmd->sc_xfer_len = MIN(plen, cmd->sc_buf_len);
	if (plen == 0) {
		good(cmd);
		return;
	}
	hlen = ten ? 8 : 4;
	if (cmd->sc_xfer_len < plen || plen < hlen) {
		param_list_length(cmd);
		return;
	}
	/* MODE DATA LENGTH is reserved here; MEDIUM TYPE must be 0. */
	if ((ten ? get_be16(d) : d[0]) != 0 || d[ten ? 2 : 1] != 0) {
		invalid_param(cmd, ten ? 2 : 1, -1);
		return;
	}
	if (ten && (d[4] & 0xfe)) {
		invalid_param(cmd, 4, -1);
		return;
	}
	bdlen = ten ? get_be16(d + 6) : d[3];
	if (bdlen != 0 && bdlen != (ten && (d[4] & 0x01) ? 16U : 8U)) {
		invalid_param(cmd, ten ? 6 : 3, -1);
		return;
	}
	if (hlen + bdlen > plen) {
		param_list_length(cmd);
		return;
	}
	/* The block length cannot be changed. */
	if (bdlen != 0 && get_be32(d + hlen + bdlen - 4) !=
	    lun->lun_blocksize) {
		invalid_param(cmd, hlen + bdlen - 4, -1);
		return;
	}
	nl = *lun;
	for (off = hlen + bdlen; off < plen; off += n)
		if ((n = mode_select_page(cmd, d + off, off, plen - off,
		    &nl)) == -1)
			return;
	/* Write-through from now on: flush what the cache holds. */
	if (lun->lun_wce && !nl.lun_wce && lun_sync(lun) == -1) {
		write_error(cmd, "fdatasync");
		return;
	}
	lun->lun_wce = nl.lun_wce;
	lun->lun_dsense = nl.lun_dsense;
	lun->lun_swp = nl.lun_swp;
	good(cmd);
}

static void
op_start_stop_unit(struct scsi_cmd *cmd)
{
	/* Always started; nothing to load, eject or power down. */
	good(cmd);
}

/*
 * PREVENT ALLOW MEDIUM REMOVAL.  Our medium is not removable (RMB 0), so
 * preventing removal is trivially satisfied: GOOD for PREVENT 00b and
 * 01b, as IET did (some initiators send it to every disk).  10b and 11b
 * concern medium changers: INVALID FIELD IN CDB.
 */
static void
op_prevent_allow(struct scsi_cmd *cmd)
{
	if (cmd->sc_cdb[4] & 0x02) {
		invalid_field(cmd, 4, 1);
		return;
	}
	good(cmd);
}

static void
op_read_capacity_10(struct scsi_cmd *cmd)
{
	const uint8_t		*cdb = cmd->sc_cdb;
	const struct lun	*lun = cmd->sc_lun;
	uint8_t			 d[8];
	uint64_t		 last;

	/* PMI 0 with an LBA is invalid (SBC-3; obsolete in SBC-4). */
	if (!(cdb[8] & 0x01) && get_be32(cdb + 2) != 0) {
		invalid_field(cmd, 2, -1);
		return;
	}
	last = lun->lun_nblocks - 1;
	put_be32(d, last > 0xfffffffeULL ? 0xffffffffU : (uint32_t)last);
	put_be32(d + 4, lun->lun_blocksize);
	datain(cmd, d, sizeof(d), sizeof(d));
}

static void
op_read_capacity_16(struct scsi_cmd *cmd)
{
	const uint8_t		*cdb = cmd->sc_cdb;
	const struct lun	*lun = cmd->sc_lun;
	uint8_t			 d[32];

	if (!(cdb[14] & 0x01) && get_be64(cdb + 2) != 0) {
		invalid_field(cmd, 2, -1);
		return;
	}
	memset(d, 0, sizeof(d));
	put_be64(d, lun->lun_nblocks - 1);
	put_be32(d + 8, lun->lun_blocksize);
	/* No protection, physical = logical block; LBPME, LBPRZ. */
	if (lun->lun_thin)
		d[14] = 0x80 | (lun->lun_lbprz ? 0x40 : 0);
	datain(cmd, d, sizeof(d), get_be32(cdb + 10));
}

/*
 * READ and WRITE (6, 10, 12, 16), WRITE AND VERIFY (10, 12, 16).
 */
struct rw {
	uint64_t	lba;
	uint32_t	nblocks;
	unsigned int	lenbyte;	/* CDB byte of TRANSFER LENGTH */
	bool		fua;
	bool		write;
	bool		bytchk;		/* WRITE AND VERIFY: compare after */
};

static void
rw_decode(const uint8_t *cdb, struct rw *rw)
{
	memset(rw, 0, sizeof(*rw));
	switch (cdb[0]) {
	case OP_READ_6:
	case OP_WRITE_6:
		rw->lba = (uint64_t)(cdb[1] & 0x1f) << 16 | get_be16(cdb + 2);
		rw->nblocks = cdb[4] == 0 ? 256 : cdb[4];
		rw->lenbyte = 4;
		rw->write = cdb[0] == OP_WRITE_6;
		return;
	case OP_READ_10:
	case OP_WRITE_10:
	case OP_WRITE_VERIFY_10:
		rw->lba = get_be32(cdb + 2);
		rw->nblocks = get_be16(cdb + 7);
		rw->lenbyte = 7;
		break;
	case OP_READ_12:
	case OP_WRITE_12:
	case OP_WRITE_VERIFY_12:
		rw->lba = get_be32(cdb + 2);
		rw->nblocks = get_be32(cdb + 6);
		rw->lenbyte = 6;
		break;
	default:
		rw->lba = get_be64(cdb + 2);
		rw->nblocks = get_be32(cdb + 10);
		rw->lenbyte = 10;
		break;
	}
	rw->write = scsi_cdb_dir(cdb) == SCSI_DIR_WRITE;
	if (cdb[0] == OP_WRITE_VERIFY_10 || cdb[0] == OP_WRITE_VERIFY_12 ||
	    cdb[0] == OP_WRITE_VERIFY_16)
		rw->bytchk = (cdb[1] & 0x02) != 0;	/* FUA is implied */
	else
		rw->fua = (cdb[1] & 0x08) != 0;
}

static int	verify_compare(struct scsi_cmd *, uint64_t, uint64_t, int);

static void
op_read_write(struct scsi_cmd *cmd)
{
	struct lun	*lun = cmd->sc_lun;
	struct rw	 rw;
	uint64_t	 off;
	uint32_t	 want;

	rw_decode(cmd->sc_cdb, &rw);
	if (rw.write && write_protected(cmd))
		return;
	if (!range_ok(lun, rw.lba, rw.nblocks)) {
		lba_out_of_range(cmd);
		return;
	}
	if (rw.nblocks > max_xfer_blocks(lun)) {
		invalid_field(cmd, rw.lenbyte, -1);
		return;
	}
	want = rw.nblocks * lun->lun_blocksize;
	off = rw.lba * lun->lun_blocksize;
	cmd->sc_want_len = want;
	cmd->sc_xfer_len = MIN(want, cmd->sc_buf_len);
	if (!rw.write) {
		if (cmd->sc_xfer_len > 0 &&
		    lun_read(lun, cmd->sc_buf, cmd->sc_xfer_len, off) == -1) {
			log_warn("%s: read", lun->lun_path);
			scsi_sense(cmd, SKEY_MEDIUM_ERROR, ASC_READ_ERROR, 0);
			return;
		}
		good(cmd);
		return;
	}
	/* EDTL short of the transfer length: write only what we have. */
	if (cmd->sc_xfer_len > 0 &&
	    lun_write(lun, cmd->sc_buf, cmd->sc_xfer_len, off) == -1) {
		write_error(cmd, "write");
		return;
	}
	if (rw.fua && !lun->lun_wt && lun_sync(lun) == -1) {
		write_error(cmd, "fdatasync");
		return;
	}
	/* WRITE AND VERIFY, BYTCHK 1: read the medium back and compare. */
	if (rw.bytchk && cmd->sc_xfer_len > 0 &&
	    verify_compare(cmd, off, cmd->sc_xfer_len, 1) == -1)
		return;
	good(cmd);
}

/*
 * VERIFY (10, 12, 16).  BYTCHK 00b: range check only (the medium has no
 * checksums to verify).  01b: compare the Data-Out data with the medium.
 * 11b: compare one block of Data-Out data with every block.
 */
static int
verify_compare(struct scsi_cmd *cmd, uint64_t off, uint64_t total,
    int bytchk)
{
	struct lun	*lun = cmd->sc_lun;
	uint8_t		*b;
	uint64_t	 done, j;
	uint32_t	 bs = lun->lun_blocksize, i, chunk;

	if ((b = malloc(VERIFY_CHUNK)) == NULL) {
		cmd->sc_status = SCSI_STATUS_BUSY;
		cmd->sc_sense_len = 0;
		cmd->sc_want_len = cmd->sc_xfer_len = 0;
		return (-1);
	}
	for (done = 0; done < total; done += chunk) {
		chunk = (uint32_t)MIN(total - done, (uint64_t)VERIFY_CHUNK);
		if (lun_read(lun, b, chunk, off + done) == -1) {
			log_warn("%s: verify", lun->lun_path);
			scsi_sense(cmd, SKEY_MEDIUM_ERROR, ASC_READ_ERROR, 0);
			free(b);
			return (-1);
		}
		for (i = 0; i < chunk; i++) {
			j = bytchk == 1 ? done + i : (done + i) % bs;
			if (j >= cmd->sc_xfer_len)
				continue;	/* no Data-Out for it */
			if (b[i] == cmd->sc_buf[j])
				continue;
			scsi_sense(cmd, SKEY_MISCOMPARE, ASC_MISCOMPARE, 0);
			/* INFORMATION: offset of the first miscompare. */
			sense_info(cmd, done + i);
			free(b);
			return (-1);
		}
	}
	free(b);
	return (0);
}

static void
op_verify(struct scsi_cmd *cmd)
{
	const uint8_t	*cdb = cmd->sc_cdb;
	struct lun	*lun = cmd->sc_lun;
	uint64_t	 lba, total;
	uint32_t	 nblocks, want;
	unsigned int	 lenbyte;
	int		 bytchk;

	if (cdb[0] == OP_VERIFY_16) {
		lba = get_be64(cdb + 2);
		nblocks = get_be32(cdb + 10);
		lenbyte = 10;
	} else if (cdb[0] == OP_VERIFY_12) {
		lba = get_be32(cdb + 2);
		nblocks = get_be32(cdb + 6);
		lenbyte = 6;
	} else {
		lba = get_be32(cdb + 2);
		nblocks = get_be16(cdb + 7);
		lenbyte = 7;
	}
	bytchk = (cdb[1] >> 1) & 0x03;
	if (cdb[1] & 0xe0) {		/* VRPROTECT */
		invalid_field(cmd, 1, 7);
		return;
	}
	if (bytchk == 2) {
		invalid_field(cmd, 1, 2);
		return;
	}
	if (!range_ok(lun, lba, nblocks)) {
		lba_out_of_range(cmd);
		return;
	}
	if (bytchk == 0 || nblocks == 0) {
		good(cmd);
		return;
	}
	if (nblocks > max_xfer_blocks(lun)) {
		invalid_field(cmd, lenbyte, -1);
		return;
	}
	want = bytchk == 1 ? nblocks * lun->lun_blocksize :
	    lun->lun_blocksize;
	cmd->sc_want_len = want;
	cmd->sc_xfer_len = MIN(want, cmd->sc_buf_len);
	total = bytchk == 1 ? cmd->sc_xfer_len :
	    (uint64_t)nblocks * lun->lun_blocksize;
	if (verify_compare(cmd, lba * lun->lun_blocksize, total,
	    bytchk) == -1)
		return;
	good(cmd);
}

static void
op_sync_cache(struct scsi_cmd *cmd)
{
	const uint8_t	*cdb = cmd->sc_cdb;
	struct lun	*lun = cmd->sc_lun;
	uint64_t	 lba;
	uint32_t	 nblocks;

	if (cdb[0] == OP_SYNC_CACHE_16) {
		lba = get_be64(cdb + 2);
		nblocks = get_be32(cdb + 10);
	} else {
		lba = get_be32(cdb + 2);
		nblocks = get_be16(cdb + 7);
	}
	/* NUMBER OF LOGICAL BLOCKS 0: through the last LBA. */
	if (!range_ok(lun, lba, nblocks)) {
		lba_out_of_range(cmd);
		return;
	}
	/* IMMED is honoured by syncing before status anyway. */
	if (lun_sync(lun) == -1) {
		log_warn("%s: fdatasync", lun->lun_path);
		scsi_sense(cmd, SKEY_MEDIUM_ERROR, ASC_WRITE_ERROR, 0);
		return;
	}
	good(cmd);
}

/*
 * REPORT LUNS.  The list can hold up to CONF_LUN_MAX entries, so it is
 * written straight into sc_buf, clipped to the allocation length and to
 * sc_buf_len.
 */
static void
put_clipped(struct scsi_cmd *cmd, uint32_t off, const uint8_t *src,
    uint32_t len)
{
	uint32_t	lim;

	lim = MIN(cmd->sc_want_len, cmd->sc_buf_len);
	if (off >= lim)
		return;
	memcpy(cmd->sc_buf + off, src, MIN(len, lim - off));
}

static void
op_report_luns(struct scsi_cmd *cmd)
{
	const uint8_t			*cdb = cmd->sc_cdb;
	const struct lun_target		*lt = cmd->sc_target;
	uint8_t				 e[8];
	uint32_t			 alloc, n, i, id, listlen;

	alloc = get_be32(cdb + 6);
	switch (cdb[2]) {
	case 0x00:			/* all LUNs but well-known ones */
	case 0x02:			/* all LUNs */
		n = lt != NULL ? (uint32_t)lt->lt_nluns : 0;
		break;
	case 0x01:			/* well-known LUNs only: none */
		n = 0;
		break;
	default:
		invalid_field(cmd, 2, -1);
		return;
	}
	if (alloc < 16) {
		invalid_field(cmd, 6, -1);
		return;
	}
	listlen = n * 8;
	cmd->sc_want_len = MIN(8 + listlen, alloc);
	cmd->sc_xfer_len = MIN(cmd->sc_want_len, cmd->sc_buf_len);

	memset(e, 0, sizeof(e));
	put_be32(e, listlen);
	put_clipped(cmd, 0, e, 8);
	for (i = 0; i < n; i++) {
		id = lt->lt_luns[i].lun_id;
		memset(e, 0, sizeof(e));
		/* Peripheral device addressing below 256, flat above. */
		if (id < 256) {
			e[1] = id;
		} else {
			e[0] = 0x40 | ((id >> 8) & 0x3f);
			e[1] = id;
		}
		put_clipped(cmd, 8 + i * 8, e, 8);
	}
	good(cmd);
}

/*
 * PRE-FETCH (10, 16).  The page cache is asked to read the range ahead;
 * since it may drop pages at any time we cannot promise the blocks stay
 * cached, so the answer is GOOD, never CONDITION MET (SBC-4 5.8: GOOD
 * when the cache cannot hold them all).
 */
static void
op_prefetch(struct scsi_cmd *cmd)
{
	const uint8_t	*cdb = cmd->sc_cdb;
	struct lun	*lun = cmd->sc_lun;
	uint64_t	 lba;
	uint32_t	 nblocks;

	if (cdb[0] == OP_PREFETCH_16) {
		lba = get_be64(cdb + 2);
		nblocks = get_be32(cdb + 10);
	} else {
		lba = get_be32(cdb + 2);
		nblocks = get_be16(cdb + 7);
	}
	if (!range_ok(lun, lba, nblocks)) {
		lba_out_of_range(cmd);
		return;
	}
	/* 0 blocks: through the last LBA. */
	if (nblocks == 0)
		nblocks = lun->lun_nblocks - lba;
	lun_prefetch(lun, lba * lun->lun_blocksize,
	    (uint64_t)nblocks * lun->lun_blocksize);
	good(cmd);
}

/*
 * READ DEFECT DATA (10, 12): a virtual disk has no defects.  The lists
 * asked for are reported valid and empty, in the format asked for.
 */
static void
op_read_defect(struct scsi_cmd *cmd)
{
	const uint8_t	*cdb = cmd->sc_cdb;
	uint8_t		 d[8];

	memset(d, 0, sizeof(d));
	if (cdb[0] == OP_READ_DEFECT_10) {
		d[1] = cdb[2] & 0x1f;	/* PLISTV, GLISTV, LIST FORMAT */
		datain(cmd, d, 4, get_be16(cdb + 7));
		return;
	}
	d[1] = cdb[1] & 0x1f;
	datain(cmd, d, 8, get_be32(cdb + 6));
}

static bool
all_zero(const uint8_t *p, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if (p[i] != 0)
			return (false);
	return (true);
}

/* Write the block at blk to every block of [off, off + len). */
static int
write_repeated(struct lun *lun, const uint8_t *blk, uint64_t off,
    uint64_t len)
{
	uint8_t		*b;
	uint32_t	 bs = lun->lun_blocksize, i, chunk;
	int		 rv = 0;

	chunk = (uint32_t)MIN(len, (uint64_t)WS_CHUNK);
	if ((b = malloc(chunk)) == NULL)
		return (-1);
	for (i = 0; i < chunk; i += bs)
		memcpy(b + i, blk, bs);
	while (len > 0 && rv == 0) {
		chunk = (uint32_t)MIN(len, (uint64_t)WS_CHUNK);
		rv = lun_write(lun, b, chunk, off);
		off += chunk;
		len -= chunk;
	}
	free(b);
	return (rv);
}

/*
 * WRITE SAME (10, 16).  A plain WRITE SAME writes the block to every LBA
 * of the range.  With UNMAP on a thin LUN whose deallocated blocks read
 * as zeroes, a block of zeroes (or NDOB, no Data-Out buffer) deallocates
 * the range instead; any other data is written, so what is read back is
 * always what was sent.  ANCHOR is not supported (ANC_SUP 0), so the
 * command table refuses it.
 */
static void
op_write_same(struct scsi_cmd *cmd)
{
	const uint8_t	*cdb = cmd->sc_cdb;
	struct lun	*lun = cmd->sc_lun;
	const uint8_t	*blk = cmd->sc_buf;
	uint8_t		*zero = NULL;
	uint64_t	 lba, off, len;
	uint32_t	 nblocks, bs = lun->lun_blocksize;
	unsigned int	 lenbyte;
	bool		 unmap = (cdb[1] & 0x08) != 0, ndob = false;
	int		 rv;

	if (cdb[0] == OP_WRITE_SAME_16) {
		lba = get_be64(cdb + 2);
		nblocks = get_be32(cdb + 10);
		lenbyte = 10;
		ndob = (cdb[1] & 0x01) != 0;
	} else {
		lba = get_be32(cdb + 2);
		nblocks = get_be16(cdb + 7);
		lenbyte = 7;
	}
	if (write_protected(cmd))
		return;
	if (!range_ok(lun, lba, nblocks)) {
		lba_out_of_range(cmd);
		return;
	}
	/* WSNZ is set: 0 blocks is not "to the end". */
	if (nblocks == 0 || nblocks > max_xfer_blocks(lun)) {
		invalid_field(cmd, lenbyte, -1);
		return;
	}
	if (!ndob) {
		cmd->sc_want_len = bs;
		cmd->sc_xfer_len = MIN(bs, cmd->sc_buf_len);
		if (cmd->sc_buf_len != bs) {
			/* One block of Data-Out, no more and no less. */
			invalid_field(cmd, lenbyte, -1);
			return;
		}
	} else if ((blk = zero = calloc(1, bs)) == NULL) {
		busy(cmd);
		return;
	}
	off = lba * bs;
	len = (uint64_t)nblocks * bs;
	if (unmap && lun->lun_thin && lun->lun_lbprz && all_zero(blk, bs))
		rv = lun_unmap(lun, off, len);
	else
		rv = write_repeated(lun, blk, off, len);
	free(zero);
	if (rv == -1) {
		write_error(cmd, unmap ? "write same (unmap)" : "write same");
		return;
	}
	good(cmd);
}

/*
 * UNMAP (SBC-4 5.32), thin LUNs only (the command table refuses it
 * elsewhere).  Every descriptor is checked before any block is
 * deallocated, so a bad list changes nothing.
 */
static void
op_unmap(struct scsi_cmd *cmd)
{
	const uint8_t	*cdb = cmd->sc_cdb, *d = cmd->sc_buf, *p;
	struct lun	*lun = cmd->sc_lun;
	uint32_t	 plen, bdlen, n, i, cnt;
	uint64_t	 lba;
	int		 pass;

	plen = get_be16(cdb + 7);
	cmd->sc_want_len = plen;
	cmd->sc_xfer_len = MIN(plen, cmd->sc_buf_len);
	if (write_protected(cmd))
		return;
	if (plen == 0) {
		good(cmd);		/* not an error (SBC-4) */
		return;
	}
	if (plen < 8 || cmd->sc_xfer_len < plen) {
		param_list_length(cmd);
		return;
	}
	bdlen = get_be16(d + 2);
	if (get_be16(d) < 6 || get_be16(d) > plen - 2 || bdlen > plen - 8) {
		param_list_length(cmd);
		return;
	}
	/* A truncated last descriptor is ignored. */
	n = bdlen / 16;
	if (n > MAX_UNMAP_DESC) {
		invalid_param(cmd, 2, -1);
		return;
	}
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < n; i++) {
			p = d + 8 + i * 16;
			lba = get_be64(p);
			cnt = get_be32(p + 8);
			if (pass == 0 && !range_ok(lun, lba, cnt)) {
				lba_out_of_range(cmd);
				return;
			}
			if (pass == 1 && lun_unmap(lun, lba *
			    lun->lun_blocksize, (uint64_t)cnt *
			    lun->lun_blocksize) == -1) {
				write_error(cmd, "unmap");
				return;
			}
		}
	good(cmd);
}

/*
 * GET LBA STATUS (SERVICE ACTION IN(16) 12h): the extents from the
 * starting LBA on, mapped or deallocated, as many as the allocation
 * length holds.  A block partly holding data counts as mapped.
 */
#define LBAS_MAX_DESC	1024

static void
op_get_lba_status(struct scsi_cmd *cmd)
{
	const uint8_t	*cdb = cmd->sc_cdb;
	struct lun	*lun = cmd->sc_lun;
	uint8_t		*d;
	uint64_t	 lba, end, off, len, last;
	uint32_t	 alloc, n, bs = lun->lun_blocksize;
	bool		 mapped;

	lba = get_be64(cdb + 2);
	alloc = get_be32(cdb + 10);
	if (lba >= lun->lun_nblocks) {
		lba_out_of_range(cmd);
		return;
	}
	if ((d = calloc(1, 8 + LBAS_MAX_DESC * 16)) == NULL) {
		busy(cmd);
		return;
	}
	end = lun->lun_nblocks;
	for (n = 0; lba < end && n < LBAS_MAX_DESC &&
	    (n == 0 || 8 + (n + 1) * 16 <= alloc); n++) {
		off = lba * bs;
		if (lun_extent(lun, off, &mapped, &len) == -1) {
			log_warn("%s: get lba status", lun->lun_path);
			free(d);
			scsi_sense(cmd, SKEY_MEDIUM_ERROR, ASC_READ_ERROR, 0);
			return;
		}
		if (mapped)
			last = (off + len + bs - 1) / bs;
		else if ((last = (off + len) / bs) <= lba) {
			/* A hole smaller than a block: the block is mapped. */
			mapped = true;
			last = lba + 1;
		}
		if (last > end)
			last = end;
		if (last - lba > UINT32_MAX)
			last = lba + UINT32_MAX;
		put_be64(d + 8 + n * 16, lba);
		put_be32(d + 8 + n * 16 + 8, (uint32_t)(last - lba));
		d[8 + n * 16 + 12] = mapped ? 0 : 1;
		lba = last;
	}
	put_be32(d, 4 + n * 16);
	datain(cmd, d, 8 + n * 16, alloc);
	free(d);
}

/*
 * COMPARE AND WRITE: the Data-Out buffer holds the verify data, then the
 * write data, NUMBER OF LOGICAL BLOCKS each.  It is atomic against every
 * other writer because io is single-threaded and runs each command to
 * completion; an io with several threads must lock the LBA range from
 * the read to the write.
 */
static void
op_compare_and_write(struct scsi_cmd *cmd)
{
	const uint8_t	*cdb = cmd->sc_cdb;
	struct lun	*lun = cmd->sc_lun;
	uint8_t		*b;
	uint64_t	 lba, off;
	uint32_t	 n, len, i;

	lba = get_be64(cdb + 2);
	n = cdb[13];
	if (write_protected(cmd))
		return;
	if (!range_ok(lun, lba, n)) {
		lba_out_of_range(cmd);
		return;
	}
	if (n > MAX_CAW_BLOCKS) {
		invalid_field(cmd, 13, -1);
		return;
	}
	len = n * lun->lun_blocksize;
	cmd->sc_want_len = 2 * len;
	cmd->sc_xfer_len = MIN(2 * len, cmd->sc_buf_len);
	/* The Data-Out buffer must hold both halves, no more. */
	if (cmd->sc_buf_len != 2 * len) {
		invalid_field(cmd, 13, -1);
		return;
	}
	if (n == 0) {
		good(cmd);
		return;
	}
	off = lba * lun->lun_blocksize;
	if ((b = malloc(len)) == NULL) {
		busy(cmd);
		return;
	}
	if (lun_read(lun, b, len, off) == -1) {
		log_warn("%s: compare and write", lun->lun_path);
		free(b);
		scsi_sense(cmd, SKEY_MEDIUM_ERROR, ASC_READ_ERROR, 0);
		return;
	}
	for (i = 0; i < len && b[i] == cmd->sc_buf[i]; i++)
		;
	free(b);
	if (i < len) {
		scsi_sense(cmd, SKEY_MISCOMPARE, ASC_MISCOMPARE, 0);
		sense_info(cmd, i);
		return;
	}
	if (lun_write(lun, cmd->sc_buf + len, len, off) == -1) {
		write_error(cmd, "compare and write");
		return;
	}
	if ((cdb[1] & 0x08) && !lun->lun_wt && lun_sync(lun) == -1) {
		write_error(cmd, "fdatasync");
		return;
	}
	good(cmd);
}

/*
 * ORWRITE(16): each block becomes the OR of the medium and the Data-Out
 * data.  Atomic for the same reason as COMPARE AND WRITE.
 */
static void
op_orwrite(struct scsi_cmd *cmd)
{
	const uint8_t	*cdb = cmd->sc_cdb;
	struct lun	*lun = cmd->sc_lun;
	uint8_t		*b;
	uint64_t	 lba, off;
	uint32_t	 n, len, i;

	lba = get_be64(cdb + 2);
	n = get_be32(cdb + 10);
	if (write_protected(cmd))
		return;
	if (!range_ok(lun, lba, n)) {
		lba_out_of_range(cmd);
		return;
	}
	if (n > max_xfer_blocks(lun)) {
		invalid_field(cmd, 10, -1);
		return;
	}
	cmd->sc_want_len = n * lun->lun_blocksize;
	len = cmd->sc_xfer_len = MIN(cmd->sc_want_len, cmd->sc_buf_len);
	if (len == 0) {
		good(cmd);
		return;
	}
	off = lba * lun->lun_blocksize;
	if ((b = malloc(len)) == NULL) {
		busy(cmd);
		return;
	}
	if (lun_read(lun, b, len, off) == -1) {
		log_warn("%s: orwrite", lun->lun_path);
		free(b);
		scsi_sense(cmd, SKEY_MEDIUM_ERROR, ASC_READ_ERROR, 0);
		return;
	}
	for (i = 0; i < len; i++)
		b[i] |= cmd->sc_buf[i];
	if (lun_write(lun, b, len, off) == -1) {
		free(b);
		write_error(cmd, "orwrite");
		return;
	}
	free(b);
	if ((cdb[1] & 0x08) && !lun->lun_wt && lun_sync(lun) == -1) {
		write_error(cmd, "fdatasync");
		return;
	}
	good(cmd);
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
		datain(cmd, d, 4, alloc);
		return;
	}
	len = cdb_len(op->so_op);
	d[1] = 0x03 | (rctd ? 0x80 : 0);	/* SUPPORT: standard; CTDP */
	put_be16(d + 2, len);
	memcpy(d + 4, op->so_usage, len);
	if (rctd)
		put_be16(d + 4 + len, 0x0a);
	datain(cmd, d, 4 + len + (rctd ? 12 : 0), alloc);
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
			invalid_field(cmd, 2, 2);
			return;
		}
		rsoc_one(cmd, op_find(cdb[3], 0, &known), rctd, alloc);
		return;
	case 2:				/* an opcode with a service action */
		if (!hassa && op_find(cdb[3], 0, &known) != NULL) {
			invalid_field(cmd, 2, 2);
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
		invalid_field(cmd, 2, 2);
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
		put_be16(p + 6, cdb_len(op->so_op));
		if (rctd) {
			p[5] |= 0x02;		/* CTDP */
			put_be16(p + 8, 0x0a);
		}
		p += rctd ? 20 : 8;
	}
	put_be32(d, (uint32_t)(p - d - 4));
	datain(cmd, d, (uint32_t)(p - d), alloc);
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
		invalid_field(cmd, 6, -1);
		return;
	}
	memset(d, 0, sizeof(d));
	d[0] = 0x80 | 0x40 | 0x10 | 0x08 | 0x02;	/* ATS ATSS CTSS LURS TRS */
	datain(cmd, d, sizeof(d), alloc);
}
