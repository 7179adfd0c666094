/*
 * spc.c: the SPC-4 primary commands of a direct-access block device:
 * TEST UNIT READY, REQUEST SENSE, INQUIRY and its VPD pages, MODE SENSE
 * and MODE SELECT with their mode pages, REPORT LUNS.  scsi.c dispatches
 * to them once the CDB has passed the command table's checks.
 */

#include <sys/types.h>

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "util.h"
#include "priv/pr.h"
#include "priv/scsi.h"
#include "priv/scsi_impl.h"


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

void
spc_test_unit_ready(struct scsi_cmd *cmd)
{
	scsi_good(cmd);
}

/*
 * REQUEST SENSE.  Sense is never left pending (we report it with the
 * status, autosense), so this returns a pending unit attention, which it
 * clears (SAM-5 5.14), or else NO SENSE, in descriptor
 * format when DESC is set.  For a LUN that is not configured SPC-4 5.11
 * wants LOGICAL UNIT NOT SUPPORTED as parameter data, GOOD.
 */
void
spc_request_sense(struct scsi_cmd *cmd)
{
	const uint8_t	*cdb = cmd->sc_cdb;
	uint8_t		 d[FIXED_SENSE_LEN];
	uint8_t		 key = SKEY_NO_SENSE, asc = ASC_NONE;
	uint32_t	 len;

	if (cdb[1] & 0xfe) {
		scsi_invalid_field(cmd, 1, -1);
		return;
	}
	if (ua_take_sense(cmd, cdb[1] & 0x01, d, &len)) {
		scsi_datain(cmd, d, len, cdb[4]);
		return;
	}
	if (cmd->sc_lun != NULL && cmd->sc_lun->lun_sanitize != NULL) {
		/* SANITIZE IN PROGRESS, with how far it is (SBC-4 4.11.2) */
		len = sanitize_sense(cmd->sc_lun, cdb[1] & 0x01, d);
		scsi_datain(cmd, d, len, cdb[4]);
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
		scsi_datain(cmd, d, 8, cdb[4]);
		return;
	}
	d[0] = 0x70;
	d[2] = key;
	d[7] = FIXED_SENSE_LEN - 8;
	d[12] = asc;
	scsi_datain(cmd, d, FIXED_SENSE_LEN, cdb[4]);
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
	d[5] = 0x10;	/* TPGS 01b: implicit ALUA, REPORT TARGET PORT GROUPS */
	d[5] |= 0x08;	/* 3PC: a copy manager (EXTENDED COPY, xcopy.c) */
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

static const uint8_t vpd_pages[] = {
	0x00, 0x80, 0x83, 0x86, 0x8f, 0xb0, 0xb1, 0xb2
};

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

/*
 * Extended INQUIRY Data (SPC-4 7.8.7): no protection information; SIMPLE
 * and ORDERED task attributes (io runs commands one at a time, in
 * order); V_SUP when the LUN has a volatile cache (IOMode=wb), which
 * SYNCHRONIZE CACHE and FUA flush.
 */
static uint32_t
vpd_ext_inquiry(const struct scsi_cmd *cmd, uint8_t *d)
{
	put_be16(d + 2, 0x3c);
	d[5] = 0x02 | 0x01;		/* ORDSUP, SIMPSUP */
	if (!cmd->sc_lun->lun_wt)
		d[6] = 0x01;		/* V_SUP */
	return (4 + 0x3c);
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
	/* MAXIMUM TRANSFER LENGTH, OPTIMAL TRANSFER LENGTH */
	put_be32(d + 8, scsi_max_xfer_blocks(lun));
	put_be32(d + 12, scsi_max_xfer_blocks(lun));
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
	put_be64(d + 36, scsi_max_xfer_blocks(lun));
	/*
	 * WRITE ATOMIC(16): MAXIMUM ATOMIC TRANSFER LENGTH; no alignment,
	 * granularity or atomic boundary.  See sbc_write_atomic.
	 */
	put_be32(d + 44, MAX_ATOMIC_BLOCKS(lun));
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
vpd_block_dev_char(const struct lun *lun, uint8_t *d)
{
	/* MEDIUM ROTATION RATE 0: not reported (we cannot know). */
	put_be16(d + 2, 0x3c);
	/* WABEREQ 01b: a read after SANITIZE BLOCK ERASE (thin LUNs
	 * only) returns GOOD and the deallocated blocks' data. */
	if (lun->lun_thin)
		d[7] = 0x40;
	return (4 + 0x3c);
}

void
spc_inquiry(struct scsi_cmd *cmd)
{
	const uint8_t	*cdb = cmd->sc_cdb;
	uint8_t		 d[512];
	uint32_t	 alloc, len;

	alloc = get_be16(cdb + 3);
	if (cdb[1] & 0xfe) {		/* CMDDT (obsolete) and reserved */
		scsi_invalid_field(cmd, 1, -1);
		return;
	}
	if (!(cdb[1] & 0x01)) {
		if (cdb[2] != 0) {
			scsi_invalid_field(cmd, 2, -1);
			return;
		}
		len = inq_standard(cmd, d);
		scsi_datain(cmd, d, len, alloc);
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
	case 0x86:
		len = vpd_ext_inquiry(cmd, d);
		break;
	case 0x8f:
		len = xcopy_vpd(d);
		break;
	case 0xb0:
		len = vpd_block_limits(cmd, d);
		break;
	case 0xb1:
		len = vpd_block_dev_char(cmd->sc_lun, d);
		break;
	case 0xb2:
		len = vpd_lbp(cmd, d);
		break;
	default:
		scsi_invalid_field(cmd, 2, -1);
		return;
	}
	scsi_datain(cmd, d, len, alloc);
}

/*
 * MODE SENSE(6) and (10), MODE SELECT(6) and (10).  The changeable
 * parameters live in struct lun, in memory only (no saved values):
 * caching WCE, control D_SENSE and SWP, shared by every I_T nexus: a
 * change raises MODE PARAMETERS CHANGED for the other nexuses.
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

/*
 * Informational exceptions control: ietd has no failure prediction, so
 * no exception is ever reported, whatever the initiator asks for; the
 * page keeps what MODE SELECT sets (PERF, EWASC, DEXCPT, LOGERR, MRIE,
 * INTERVAL TIMER, REPORT COUNT) so that it reads back.  TEST, which
 * would ask for a test exception, is not changeable.
 */
#define IEC_CHG_BYTE2	(0x80 | 0x10 | 0x08 | 0x01)
#define IEC_CHG_MRIE	0x0f

static size_t
mpage_iec(const struct lun *lun, int pc, uint8_t *p)
{
	memset(p, 0, MP_IEC_LEN);
	p[0] = 0x1c;
	p[1] = MP_IEC_LEN - 2;
	if (pc == PC_CHANGEABLE) {
		p[2] = IEC_CHG_BYTE2;
		p[3] = IEC_CHG_MRIE;
		memset(p + 4, 0xff, 8);
	} else if (pc == PC_DEFAULT)
		p[2] = 0x08;	/* DEXCPT */
	else
		memcpy(p + 2, lun->lun_iec, sizeof(lun->lun_iec));
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
		n += mpage_iec(lun, pc, p + n);
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
		return (mpage_iec(lun, pc, p));
	default:
		return (0);
	}
}

void
spc_mode_sense(struct scsi_cmd *cmd)
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
		scsi_invalid_field(cmd, 1, -1);
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
		scsi_invalid_field(cmd, 2, -1);
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
	scsi_datain(cmd, d, len, alloc);
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
		scsi_param_list_length(cmd);
		return (-1);
	}
	if (pg[0] & 0x40) {		/* SPF: no subpages are supported */
		scsi_invalid_param(cmd, off, 6);
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
		len = mpage_iec(nl, PC_CURRENT, cur);
		mpage_iec(nl, PC_CHANGEABLE, chg);
		break;
	default:
		scsi_invalid_param(cmd, off, 5);
		return (-1);
	}
	if (pg[1] != len - 2) {
		scsi_invalid_param(cmd, off + 1, -1);
		return (-1);
	}
	if (left < len) {
		scsi_param_list_length(cmd);
		return (-1);
	}
	for (i = 2; i < len; i++)
		if ((pg[i] ^ cur[i]) & ~chg[i]) {
			scsi_invalid_param(cmd, off + i, -1);
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
	case 0x1c:
		if ((pg[3] & 0x0f) > 6) {	/* MRIE 7h-Fh: reserved */
			scsi_invalid_param(cmd, off + 3, 3);
			return (-1);
		}
		memcpy(nl->lun_iec, pg + 2, sizeof(nl->lun_iec));
		break;
	}
	return ((int)len);
}

void
spc_mode_select(struct scsi_cmd *cmd)
{
	const uint8_t	*cdb = cmd->sc_cdb, *d = cmd->sc_buf;
	struct lun	*lun = cmd->sc_lun, nl;
	bool		 ten = cdb[0] == OP_MODE_SELECT_10;
	size_t		 plen, hlen, bdlen, off;
	int		 n;

	plen = ten ? get_be16(cdb + 7) : cdb[4];
	if (plen > 0 && !(cdb[1] & 0x10)) {	/* PF 0: vendor format */
		scsi_invalid_field(cmd, 1, 4);
		return;
	}
	if (cdb[1] & 0x01) {			/* SP: nothing is saved */
		scsi_invalid_field(cmd, 1, 0);
		return;
	}
	cmd->sc_want_len = plen;
	cmd->sc_xfer_len = MIN(plen, cmd->sc_buf_len);
	if (plen == 0) {
		scsi_good(cmd);
		return;
	}
	hlen = ten ? 8 : 4;
	if (cmd->sc_xfer_len < plen || plen < hlen) {
		scsi_param_list_length(cmd);
		return;
	}
	/* MODE DATA LENGTH is reserved here; MEDIUM TYPE must be 0. */
	if ((ten ? get_be16(d) : d[0]) != 0 || d[ten ? 2 : 1] != 0) {
		scsi_invalid_param(cmd, ten ? 2 : 1, -1);
		return;
	}
	if (ten && (d[4] & 0xfe)) {
		scsi_invalid_param(cmd, 4, -1);
		return;
	}
	bdlen = ten ? get_be16(d + 6) : d[3];
	if (bdlen != 0 && bdlen != (ten && (d[4] & 0x01) ? 16U : 8U)) {
		scsi_invalid_param(cmd, ten ? 6 : 3, -1);
		return;
	}
	if (hlen + bdlen > plen) {
		scsi_param_list_length(cmd);
		return;
	}
	/* The block length cannot be changed. */
	if (bdlen != 0 && get_be32(d + hlen + bdlen - 4) !=
	    lun->lun_blocksize) {
		scsi_invalid_param(cmd, hlen + bdlen - 4, -1);
		return;
	}
	nl = *lun;
	for (off = hlen + bdlen; off < plen; off += n)
		if ((n = mode_select_page(cmd, d + off, off, plen - off,
		    &nl)) == -1)
			return;
	/* Write-through from now on: flush what the cache holds. */
	if (lun->lun_wce && !nl.lun_wce && lun_sync(lun) == -1) {
		scsi_write_error(cmd, "fdatasync");
		return;
	}
	if (lun->lun_wce != nl.lun_wce || lun->lun_dsense != nl.lun_dsense ||
	    lun->lun_swp != nl.lun_swp)
		ua_mode_changed(cmd);
	lun->lun_wce = nl.lun_wce;
	lun->lun_dsense = nl.lun_dsense;
	lun->lun_swp = nl.lun_swp;
	memcpy(lun->lun_iec, nl.lun_iec, sizeof(lun->lun_iec));
	scsi_good(cmd);
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

void
spc_report_luns(struct scsi_cmd *cmd)
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
		scsi_invalid_field(cmd, 2, -1);
		return;
	}
	if (alloc < 16) {
		scsi_invalid_field(cmd, 6, -1);
		return;
	}
	listlen = n * 8;
	cmd->sc_want_len = MIN(8 + listlen, alloc);
	cmd->sc_xfer_len = MIN(cmd->sc_want_len, cmd->sc_buf_len);

	memset(e, 0, sizeof(e));
	put_be32(e, listlen);
	put_clipped(cmd, 0, e, 8);
	for (i = 0; i < n; i++) {
		id = lt->lt_luns[i]->lun_id;
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
	ua_clear_luns_changed(cmd);
	scsi_good(cmd);
}

/*
 * REPORT TARGET PORT GROUPS (MAINTENANCE IN 0Ah): one target port group
 * (1), active/optimized, the only state supported, holding the one
 * target port (relative port 1) of VPD page 0x83.  PARAMETER DATA
 * FORMAT 001b adds the extended header (no implicit transition time).
 */
void
spc_report_tpg(struct scsi_cmd *cmd)
{
	const uint8_t	*cdb = cmd->sc_cdb;
	uint8_t		 d[8 + 8 + 4], *p;
	bool		 ext;

	if ((cdb[1] >> 5) > 1) {
		scsi_invalid_field(cmd, 1, 7);
		return;
	}
	ext = (cdb[1] >> 5) == 1;
	memset(d, 0, sizeof(d));
	p = d + (ext ? 8 : 4);
	p[0] = 0x80 | 0x00;		/* PREF; state 0: active/optimized */
	p[1] = 0x01;			/* AO_SUP */
	put_be16(p + 2, 1);		/* TARGET PORT GROUP */
	p[7] = 1;			/* TARGET PORT COUNT */
	put_be16(p + 10, 1);		/* RELATIVE TARGET PORT IDENTIFIER */
	p += 12;
	put_be32(d, (uint32_t)(p - d - 4));
	if (ext)
		d[4] = 0x10;		/* FORMAT TYPE 001b */
	scsi_datain(cmd, d, (uint32_t)(p - d), get_be32(cdb + 6));
}
