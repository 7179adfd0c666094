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
#define OP_MODE_SENSE_6		0x1a
#define OP_START_STOP_UNIT	0x1b
#define OP_PREVENT_ALLOW	0x1e
#define OP_READ_CAPACITY_10	0x25
#define OP_READ_10		0x28
#define OP_WRITE_10		0x2a
#define OP_VERIFY_10		0x2f
#define OP_SYNC_CACHE_10	0x35
#define OP_MODE_SENSE_10	0x5a
#define OP_READ_16		0x88
#define OP_WRITE_16		0x8a
#define OP_VERIFY_16		0x8f
#define OP_SYNC_CACHE_16	0x91
#define OP_SERVICE_ACTION_IN_16	0x9e
#define OP_REPORT_LUNS		0xa0
#define OP_READ_12		0xa8
#define OP_WRITE_12		0xaa
#define OP_VERIFY_12		0xaf

#define SAI_READ_CAPACITY_16	0x10

/* Additional sense codes (ASCQ 0 for all of them). */
#define ASC_NONE		0x00
#define ASC_WRITE_ERROR		0x0c
#define ASC_READ_ERROR		0x11
#define ASC_MISCOMPARE		0x1d
#define ASC_INVALID_OPCODE	0x20
#define ASC_LBA_OUT_OF_RANGE	0x21
#define ASC_INVALID_FIELD_CDB	0x24
#define ASC_LUN_NOT_SUPPORTED	0x25
#define ASC_WRITE_PROTECTED	0x27
#define ASC_SAVING_NOT_SUPP	0x39

/* CONTROL byte. */
#define CONTROL_NACA		0x04
#define CONTROL_LINK		0x01	/* obsolete, never supported */

#define FIXED_SENSE_LEN		18
#define VERIFY_CHUNK		(64U * 1024)

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

struct scsi_op {
	uint8_t	  so_op;
	bool	  so_nolun;	/* runs without a configured LUN */
	void	(*so_fn)(struct scsi_cmd *);
};

static void	op_test_unit_ready(struct scsi_cmd *);
static void	op_request_sense(struct scsi_cmd *);
static void	op_inquiry(struct scsi_cmd *);
static void	op_mode_sense(struct scsi_cmd *);
static void	op_start_stop_unit(struct scsi_cmd *);
static void	op_prevent_allow(struct scsi_cmd *);
static void	op_read_capacity_10(struct scsi_cmd *);
static void	op_service_action_in_16(struct scsi_cmd *);
static void	op_read_write(struct scsi_cmd *);
static void	op_verify(struct scsi_cmd *);
static void	op_sync_cache(struct scsi_cmd *);
static void	op_report_luns(struct scsi_cmd *);

static const struct scsi_op scsi_ops[] = {
	{ OP_TEST_UNIT_READY,		false,	op_test_unit_ready },
	{ OP_REQUEST_SENSE,		true,	op_request_sense },
	{ OP_READ_6,			false,	op_read_write },
	{ OP_WRITE_6,			false,	op_read_write },
	{ OP_INQUIRY,			true,	op_inquiry },
	{ OP_MODE_SENSE_6,		false,	op_mode_sense },
	{ OP_START_STOP_UNIT,		false,	op_start_stop_unit },
	{ OP_PREVENT_ALLOW,		false,	op_prevent_allow },
	{ OP_READ_CAPACITY_10,		false,	op_read_capacity_10 },
	{ OP_READ_10,			false,	op_read_write },
	{ OP_WRITE_10,			false,	op_read_write },
	{ OP_VERIFY_10,			false,	op_verify },
	{ OP_SYNC_CACHE_10,		false,	op_sync_cache },
	{ OP_MODE_SENSE_10,		false,	op_mode_sense },
	{ OP_READ_16,			false,	op_read_write },
	{ OP_WRITE_16,			false,	op_read_write },
	{ OP_VERIFY_16,			false,	op_verify },
	{ OP_SYNC_CACHE_16,		false,	op_sync_cache },
	{ OP_SERVICE_ACTION_IN_16,	false,	op_service_action_in_16 },
	{ OP_REPORT_LUNS,		true,	op_report_luns },
	{ OP_READ_12,			false,	op_read_write },
	{ OP_WRITE_12,			false,	op_read_write },
	{ OP_VERIFY_12,			false,	op_verify },
};

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
		return (SCSI_DIR_READ);
	case OP_WRITE_6:
	case OP_WRITE_10:
	case OP_WRITE_12:
	case OP_WRITE_16:
		return (SCSI_DIR_WRITE);
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
 * Fixed-format sense.  A command that ends in CHECK CONDITION moves no
 * data, so both lengths are reset: the transport then reports the whole
 * EDTL as underflow residual.
 */
void
scsi_sense(struct scsi_cmd *cmd, uint8_t key, uint8_t asc, uint8_t ascq)
{
	uint8_t	*s = cmd->sc_sense;

	memset(s, 0, FIXED_SENSE_LEN);
	s[0] = 0x70;			/* current error, fixed format */
	s[2] = key & 0x0f;
	s[7] = FIXED_SENSE_LEN - 8;	/* ADDITIONAL SENSE LENGTH: 10 */
	s[12] = asc;
	s[13] = ascq;
	cmd->sc_sense_len = FIXED_SENSE_LEN;
	cmd->sc_status = SCSI_STATUS_CHECK_CONDITION;
	cmd->sc_want_len = 0;
	cmd->sc_xfer_len = 0;
}

/*
 * ILLEGAL REQUEST, INVALID FIELD IN CDB with the sense-key specific field
 * pointer (SPC-4 4.5.2.4.2): byte of the CDB, and the bit when bit >= 0.
 */
static void
invalid_field(struct scsi_cmd *cmd, unsigned int byte, int bit)
{
	uint8_t	*s = cmd->sc_sense;

	scsi_sense(cmd, SKEY_ILLEGAL_REQUEST, ASC_INVALID_FIELD_CDB, 0);
	s[15] = 0x80 | 0x40;		/* SKSV, C/D: the error is in the CDB */
	if (bit >= 0)
		s[15] |= 0x08 | (bit & 0x07);	/* BPV, BIT POINTER */
	put_be16(s + 16, byte);
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

void
scsi_exec(struct scsi_cmd *cmd)
{
	const struct scsi_op	*op = NULL;
	const uint8_t		*cdb = cmd->sc_cdb;
	size_t			 i;

	cmd->sc_status = SCSI_STATUS_GOOD;
	cmd->sc_sense_len = 0;
	cmd->sc_want_len = 0;
	cmd->sc_xfer_len = 0;

	for (i = 0; i < sizeof(scsi_ops) / sizeof(scsi_ops[0]); i++)
		if (scsi_ops[i].so_op == cdb[0]) {
			op = &scsi_ops[i];
			break;
		}
	/*
	 * SPC-4 5.11: for a LUN that is not configured only INQUIRY,
	 * REPORT LUNS and REQUEST SENSE are processed.
	 */
	if (cmd->sc_lun == NULL && (op == NULL || !op->so_nolun)) {
		scsi_sense(cmd, SKEY_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED,
		    0);
		return;
	}
	if (op == NULL) {
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

static const uint8_t vpd_pages[] = { 0x00, 0x80, 0x83, 0xb0, 0xb1 };

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
	/* No UNMAP, WRITE SAME, ATOMIC: all those fields stay 0. */
	return (4 + 0x3c);
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
	default:
		invalid_field(cmd, 2, -1);
		return;
	}
	datain(cmd, d, len, alloc);
}

/*
 * MODE SENSE(6) and (10).  No MODE SELECT yet: nothing is changeable and
 * the default values are the current ones.
 */
#define PC_CURRENT	0
#define PC_CHANGEABLE	1
#define PC_DEFAULT	2
#define PC_SAVED	3

static size_t
mpage_caching(const struct lun *lun, int pc, uint8_t *p)
{
	memset(p, 0, 20);
	p[0] = 0x08;
	p[1] = 0x12;
	if (pc != PC_CHANGEABLE && !lun->lun_wt)
		p[2] = 0x04;		/* WCE; RCD stays 0 */
	return (20);
}

static size_t
mpage_control(int pc, uint8_t *p)
{
	memset(p, 0, 12);
	p[0] = 0x0a;
	p[1] = 0x0a;
	if (pc == PC_CHANGEABLE)
		return (12);
	p[2] = 0x02;		/* GLTSD: no log parameters are saved */
	p[3] = 0x10;		/* QUEUE ALGORITHM MODIFIER 1: unrestricted */
	return (12);
}

static size_t
mpage_iec(int pc, uint8_t *p)
{
	memset(p, 0, 12);
	p[0] = 0x1c;
	p[1] = 0x0a;
	if (pc != PC_CHANGEABLE)
		p[2] = 0x08;	/* DEXCPT: no informational exceptions */
	return (12);
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
		n += mpage_control(pc, p + n);
		n += mpage_iec(pc, p + n);
		return (n);
	}
	if (subpage != 0)
		return (0);
	switch (page) {
	case 0x08:
		return (mpage_caching(lun, pc, p));
	case 0x0a:
		return (mpage_control(pc, p));
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
		d[3] = (lun->lun_readonly ? 0x80 : 0) | 0x10;
		d[4] = llbaa && bdlen == 16 ? 0x01 : 0;	/* LONGLBA */
		put_be16(d + 6, bdlen);
	} else {
		d[0] = len - 1;
		d[2] = (lun->lun_readonly ? 0x80 : 0) | 0x10;
		d[3] = bdlen;
	}
	datain(cmd, d, len, alloc);
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
op_service_action_in_16(struct scsi_cmd *cmd)
{
	const uint8_t		*cdb = cmd->sc_cdb;
	const struct lun	*lun = cmd->sc_lun;
	uint8_t			 d[32];

	if ((cdb[1] & 0x1f) != SAI_READ_CAPACITY_16) {
		invalid_field(cmd, 1, 4);
		return;
	}
	if (cdb[1] & 0xe0) {
		invalid_field(cmd, 1, -1);
		return;
	}
	if (!(cdb[14] & 0x01) && get_be64(cdb + 2) != 0) {
		invalid_field(cmd, 2, -1);
		return;
	}
	memset(d, 0, sizeof(d));
	put_be64(d, lun->lun_nblocks - 1);
	put_be32(d + 8, lun->lun_blocksize);
	/* No protection, no thin provisioning, physical = logical block. */
	datain(cmd, d, sizeof(d), get_be32(cdb + 10));
}

/*
 * READ and WRITE (6, 10, 12, 16).
 */
struct rw {
	uint64_t	lba;
	uint32_t	nblocks;
	unsigned int	lenbyte;	/* CDB byte of TRANSFER LENGTH */
	bool		fua;
	bool		write;
};

static int
rw_decode(struct scsi_cmd *cmd, struct rw *rw)
{
	const uint8_t	*cdb = cmd->sc_cdb;

	memset(rw, 0, sizeof(*rw));
	switch (cdb[0]) {
	case OP_READ_6:
	case OP_WRITE_6:
		rw->lba = (uint64_t)(cdb[1] & 0x1f) << 16 | get_be16(cdb + 2);
		rw->nblocks = cdb[4] == 0 ? 256 : cdb[4];
		rw->lenbyte = 4;
		rw->write = cdb[0] == OP_WRITE_6;
		return (0);
	case OP_READ_10:
	case OP_WRITE_10:
		rw->lba = get_be32(cdb + 2);
		rw->nblocks = get_be16(cdb + 7);
		rw->lenbyte = 7;
		break;
	case OP_READ_12:
	case OP_WRITE_12:
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
	rw->write = cdb[0] == OP_WRITE_10 || cdb[0] == OP_WRITE_12 ||
	    cdb[0] == OP_WRITE_16;
	/* RDPROTECT/WRPROTECT: no protection information. */
	if (cdb[1] & 0xe0) {
		invalid_field(cmd, 1, 7);
		return (-1);
	}
	rw->fua = (cdb[1] & 0x08) != 0;
	return (0);
}

static void
op_read_write(struct scsi_cmd *cmd)
{
	struct lun	*lun = cmd->sc_lun;
	struct rw	 rw;
	uint64_t	 off;
	uint32_t	 want;

	if (rw_decode(cmd, &rw) == -1)
		return;
	if (rw.write && lun->lun_readonly) {
		scsi_sense(cmd, SKEY_DATA_PROTECT, ASC_WRITE_PROTECTED, 0);
		return;
	}
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
		/* ENOSPC is a write error too for now. */
		log_warn("%s: write", lun->lun_path);
		scsi_sense(cmd, SKEY_MEDIUM_ERROR, ASC_WRITE_ERROR, 0);
		return;
	}
	if (rw.fua && !lun->lun_wt && lun_sync(lun) == -1) {
		log_warn("%s: fdatasync", lun->lun_path);
		scsi_sense(cmd, SKEY_MEDIUM_ERROR, ASC_WRITE_ERROR, 0);
		return;
	}
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
			cmd->sc_sense[0] |= 0x80;
			put_be32(cmd->sc_sense + 3, (uint32_t)(done + i));
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
