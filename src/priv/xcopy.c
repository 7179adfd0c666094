/*
 * xcopy.c: EXTENDED COPY (LID1) and RECEIVE COPY RESULTS (SPC-4 6.4,
 * 6.22): the copy manager of io, for copies from block device to block
 * device (segment descriptor 02h) within and between the LUNs of the
 * target, named by the NAA designator of their VPD page 0x83 in
 * identification descriptor target descriptors (E4h).  This is what
 * VMware's VAAI "full copy" sends.  Copies to or from another target's
 * LUNs would need proof that the initiator may use that target (a
 * session to it); until the I_T nexus registry gives that, they are
 * refused as unreachable.
 *
 * A copy runs to its end before io reads the next command, like every
 * other command, so its segments are atomic against other writers and
 * nobody sees it in progress.  Results are held per I_T nexus and list
 * identifier (LIST ID USAGE 00b) for RECEIVE COPY RESULTS.
 */

#include <sys/types.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "log.h"
#include "util.h"
#include "priv/scsi.h"
#include "priv/scsi_impl.h"

#define XC_HDR_LEN		16
#define XC_TGT_LEN		32	/* an E4h target descriptor */
#define XC_SEG_B2B_LEN		28	/* a 02h segment descriptor */
#define XC_DESC_IDENT		0xe4
#define XC_SEG_B2B		0x02
#define XC_MAX_TGT		16
#define XC_MAX_SEG		64
#define XC_MAX_DESC_LIST	(XC_MAX_TGT * XC_TGT_LEN + \
				 XC_MAX_SEG * XC_SEG_B2B_LEN)
#define XC_MAX_SEG_BYTES	(32U << 20)	/* MAXIMUM SEGMENT LENGTH */
#define XC_CHUNK		(1U << 20)
#define XC_HELD			32	/* results held, all nexuses */

/* Sense data of the copy manager (SPC-4 table 5xx). */
#define SKEY_COPY_ABORTED	0x0a
#define ASC_COPY_TARGET		0x08	/* 04h: unreachable copy target */
#define ASC_TOO_MANY_TGT	0x26	/* 06h target, 08h segment descr. */
#define ASCQ_TOO_MANY_TGT	0x06
#define ASCQ_UNSUPP_TGT		0x07
#define ASCQ_TOO_MANY_SEG	0x08
#define ASCQ_UNSUPP_SEG		0x09

/* RECEIVE COPY RESULTS service actions. */
#define RCR_COPY_STATUS		0x00
#define RCR_OP_PARAMS		0x03

/*
 * Held results belong to the I_T nexus (SPC-4 6.4.1): the initiator
 * port (name and ISID) and the target port, which outlive a session, so
 * that an initiator that logs in again with its ISID finds them.
 */
struct xc_held {
	bool		xh_used;
	const struct lun_target *xh_target;
	char		xh_init[ISCSI_NAME_MAX];
	uint8_t		xh_isid[6];
	uint8_t		xh_list_id;
	uint8_t		xh_status;	/* 01h good, 02h with errors */
	uint16_t	xh_segments;
	uint64_t	xh_bytes;
	uint64_t	xh_age;
};

static struct xc_held	xc_held[XC_HELD];
static uint64_t		xc_clock;

struct xc_list {
	const uint8_t	*xl_tgt;	/* target descriptors */
	size_t		 xl_ntgt;
	const uint8_t	*xl_seg;	/* segment descriptors */
	size_t		 xl_seglen;
	uint16_t	 xl_done;	/* segments processed */
	uint64_t	 xl_bytes;	/* bytes copied */
};

static void
copy_aborted(struct scsi_cmd *cmd, uint8_t asc, uint8_t ascq)
{
	scsi_sense(cmd, SKEY_COPY_ABORTED, asc, ascq);
}

static bool
xc_mine(const struct xc_held *h, const struct scsi_cmd *cmd,
    uint8_t list_id)
{
	const struct scsi_nexus	*nx = cmd->sc_nexus;

	return (h->xh_used && h->xh_list_id == list_id &&
	    h->xh_target == cmd->sc_target && (nx == NULL ||
	    (strcmp(h->xh_init, nx->nx_initiator) == 0 &&
	    memcmp(h->xh_isid, nx->nx_isid, sizeof(h->xh_isid)) == 0)));
}

static void
xc_hold(const struct scsi_cmd *cmd, uint8_t list_id, uint8_t status,
    const struct xc_list *xl)
{
	const struct scsi_nexus	*nx = cmd->sc_nexus;
	struct xc_held		*h, *old = &xc_held[0];
	size_t			 i;

	for (i = 0; i < XC_HELD; i++) {
		h = &xc_held[i];
		if (xc_mine(h, cmd, list_id))
			break;
		if (h->xh_age < old->xh_age)
			old = h;
	}
	if (i == XC_HELD)
		h = old;	/* the oldest (or a free one) goes */
	memset(h, 0, sizeof(*h));
	h->xh_used = true;
	h->xh_target = cmd->sc_target;
	if (nx != NULL) {
		strlcpy(h->xh_init, nx->nx_initiator, sizeof(h->xh_init));
		memcpy(h->xh_isid, nx->nx_isid, sizeof(h->xh_isid));
	}
	h->xh_list_id = list_id;
	h->xh_status = status;
	h->xh_segments = xl->xl_done;
	h->xh_bytes = xl->xl_bytes;
	h->xh_age = ++xc_clock;
}

/*
 * The LUN an identification descriptor target descriptor names: an NAA
 * designator (code set binary, association LU) equal to one of ours.
 * Only LUNs of the target the command came to are reachable: a LUN of
 * another target may be closed to this initiator (ACLs, CHAP), and a
 * copy must not read or write past that.  A LUN being sanitized is not
 * ready, so not reachable either.
 */
static struct lun *
xc_target(const struct scsi_cmd *cmd, const uint8_t *td)
{
	const uint8_t	*dd = td + 4;
	struct lun	*lun;

	if ((dd[0] & 0x0f) != 0x01 || (dd[1] & 0x30) != 0 ||
	    (dd[1] & 0x0f) != 0x03 || dd[3] != 8)
		return (NULL);
	if ((lun = lun_find_naa(dd + 4)) == NULL ||
	    lun_find(cmd->sc_target, lun->lun_id) != lun ||
	    lun->lun_sanitize != NULL)
		return (NULL);
	return (lun);
}

/* Read, then write, one segment; in chunks, backwards if it overlaps. */
static int
xc_move(struct scsi_cmd *cmd, struct lun *src, uint64_t soff,
    struct lun *dst, uint64_t doff, uint64_t len)
{
	uint8_t		*b;
	uint64_t	 done, n, at;
	bool		 back;

	back = src == dst && doff > soff && doff < soff + len;
	if ((b = malloc(XC_CHUNK)) == NULL) {
		copy_aborted(cmd, ASC_NONE, 0);
		return (-1);
	}
	for (done = 0; done < len; done += n) {
		n = MIN(len - done, (uint64_t)XC_CHUNK);
		at = back ? len - done - n : done;
		if (lun_read(src, b, n, soff + at) == -1) {
			log_warn("%s: extended copy: read", src->lun_path);
			free(b);
			scsi_sense(cmd, SKEY_MEDIUM_ERROR, ASC_READ_ERROR, 0);
			return (-1);
		}
		if (lun_write(dst, b, n, doff + at) == -1) {
			free(b);
			cmd->sc_lun = dst;	/* the error is the target's */
			scsi_write_error(cmd, "extended copy");
			return (-1);
		}
	}
	free(b);
	return (0);
}

/* One block device to block device segment descriptor (02h). */
static int
xc_segment(struct scsi_cmd *cmd, struct xc_list *xl, const uint8_t *sd)
{
	struct lun	*src, *dst;
	uint64_t	 slba, dlba, len;
	uint32_t	 si, di, n;

	si = get_be16(sd + 4);
	di = get_be16(sd + 6);
	if (si >= xl->xl_ntgt || di >= xl->xl_ntgt ||
	    (src = xc_target(cmd, xl->xl_tgt + si * XC_TGT_LEN)) == NULL ||
	    (dst = xc_target(cmd, xl->xl_tgt + di * XC_TGT_LEN)) == NULL) {
		copy_aborted(cmd, ASC_COPY_TARGET, 0x04);
		return (-1);
	}
	n = get_be16(sd + 10);
	slba = get_be64(sd + 12);
	dlba = get_be64(sd + 20);
	/* DC: the count is in destination blocks. */
	len = (uint64_t)n * ((sd[1] & 0x02) ? dst->lun_blocksize :
	    src->lun_blocksize);
	if (len % src->lun_blocksize != 0 || len % dst->lun_blocksize != 0 ||
	    len > XC_MAX_SEG_BYTES) {
		copy_aborted(cmd, ASC_NONE, 0);
		return (-1);
	}
	if (slba > src->lun_nblocks || len / src->lun_blocksize >
	    src->lun_nblocks - slba || dlba > dst->lun_nblocks ||
	    len / dst->lun_blocksize > dst->lun_nblocks - dlba) {
		copy_aborted(cmd, ASC_NONE, 0);
		return (-1);
	}
	if (dst->lun_readonly || dst->lun_swp) {
		copy_aborted(cmd, ASC_WRITE_PROTECTED, dst->lun_swp ?
		    ASCQ_SOFTWARE_WP : 0);
		return (-1);
	}
	if (xc_move(cmd, src, slba * src->lun_blocksize, dst,
	    dlba * dst->lun_blocksize, len) == -1)
		return (-1);
	xl->xl_done++;
	xl->xl_bytes += len;
	return (0);
}

/* Check every descriptor before copying anything. */
static int
xc_check(struct scsi_cmd *cmd, struct xc_list *xl)
{
	const uint8_t	*p;
	size_t		 i, off, nseg, dlen;

	for (i = 0; i < xl->xl_ntgt; i++) {
		p = xl->xl_tgt + i * XC_TGT_LEN;
		if (p[0] != XC_DESC_IDENT) {
			scsi_sense(cmd, SKEY_ILLEGAL_REQUEST, ASC_TOO_MANY_TGT,
			    ASCQ_UNSUPP_TGT);
			return (-1);
		}
	}
	if (xl->xl_ntgt > XC_MAX_TGT) {
		scsi_sense(cmd, SKEY_ILLEGAL_REQUEST, ASC_TOO_MANY_TGT,
		    ASCQ_TOO_MANY_TGT);
		return (-1);
	}
	for (off = 0, nseg = 0; off < xl->xl_seglen; off += dlen, nseg++) {
		p = xl->xl_seg + off;
		if (xl->xl_seglen - off < 4 || (dlen = get_be16(p + 2) + 4) >
		    xl->xl_seglen - off) {
			scsi_param_list_length(cmd);
			return (-1);
		}
		if (p[0] != XC_SEG_B2B) {
			scsi_sense(cmd, SKEY_ILLEGAL_REQUEST, ASC_TOO_MANY_TGT,
			    ASCQ_UNSUPP_SEG);
			return (-1);
		}
		if (dlen != XC_SEG_B2B_LEN) {
			scsi_param_list_length(cmd);
			return (-1);
		}
	}
	if (nseg > XC_MAX_SEG) {
		scsi_sense(cmd, SKEY_ILLEGAL_REQUEST, ASC_TOO_MANY_TGT,
		    ASCQ_TOO_MANY_SEG);
		return (-1);
	}
	return (0);
}

void
xcopy_extended_copy(struct scsi_cmd *cmd)
{
	const uint8_t	*d = cmd->sc_buf;
	struct lun	*lun = cmd->sc_lun;
	struct xc_list	 xl;
	uint32_t	 plen, tlen, slen, ilen;
	size_t		 off;
	uint8_t		 usage;
	int		 rv = 0;

	plen = get_be32(cmd->sc_cdb + 10);
	cmd->sc_want_len = plen;
	cmd->sc_xfer_len = MIN(plen, cmd->sc_buf_len);
	if (plen == 0) {
		scsi_good(cmd);		/* no copy (SPC-4 6.4.1) */
		return;
	}
	if (plen < XC_HDR_LEN || cmd->sc_xfer_len < plen) {
		scsi_param_list_length(cmd);
		return;
	}
	usage = (d[1] >> 3) & 0x03;
	tlen = get_be16(d + 2);
	slen = get_be32(d + 8);
	ilen = get_be32(d + 12);
	if (tlen + (uint64_t)slen > XC_MAX_DESC_LIST ||
	    XC_HDR_LEN + (uint64_t)tlen + slen + ilen > plen ||
	    tlen % XC_TGT_LEN != 0) {
		scsi_param_list_length(cmd);
		return;
	}
	if (usage == 0x01 || (usage == 0x03 && d[0] != 0)) {
		scsi_invalid_param(cmd, usage == 0x01 ? 1 : 0, -1);
		return;
	}
	memset(&xl, 0, sizeof(xl));
	xl.xl_tgt = d + XC_HDR_LEN;
	xl.xl_ntgt = tlen / XC_TGT_LEN;
	xl.xl_seg = d + XC_HDR_LEN + tlen;
	xl.xl_seglen = slen;
	if (xc_check(cmd, &xl) == -1)
		return;
	for (off = 0; off < slen && rv == 0; off += XC_SEG_B2B_LEN)
		rv = xc_segment(cmd, &xl, xl.xl_seg + off);
	cmd->sc_lun = lun;		/* xc_move may have lent it out */
	if (usage == 0x00)
		xc_hold(cmd, d[0], rv == 0 ? 0x01 : 0x02, &xl);
	if (rv == 0)
		scsi_good(cmd);
}

/* OPERATING PARAMETERS: the limits xc_check enforces. */
static void
rcr_op_params(struct scsi_cmd *cmd, uint32_t alloc)
{
	uint8_t	d[44 + 2];

	memset(d, 0, sizeof(d));
	put_be32(d, sizeof(d) - 4);
	d[4] = 0x01;				/* SNLID: LID1 only */
	put_be16(d + 8, XC_MAX_TGT);
	put_be16(d + 10, XC_MAX_SEG);
	put_be32(d + 12, XC_MAX_DESC_LIST);
	put_be32(d + 16, XC_MAX_SEG_BYTES);
	/* No inline data, no held data, no streams. */
	put_be16(d + 34, 1);			/* TOTAL CONCURRENT COPIES */
	d[36] = 1;				/* MAXIMUM CONCURRENT COPIES */
	d[37] = 9;				/* DATA SEGMENT GRANULARITY */
	d[43] = 2;
	d[44] = XC_SEG_B2B;
	d[45] = XC_DESC_IDENT;
	scsi_datain(cmd, d, sizeof(d), alloc);
}

/*
 * The Third-party Copy VPD page (0x8F, SPC-4 7.8.17), which a device
 * server with 3PC set shall return: the same limits as OPERATING
 * PARAMETERS, as descriptors.  Each descriptor is padded to a multiple
 * of four bytes.  Returns the page's length; d holds at least
 * XCOPY_VPD_MAX bytes.
 */
static uint8_t *
tpc_desc(uint8_t *p, uint16_t type, uint16_t len)
{
	len = (uint16_t)((len + 3) & ~3U);
	put_be16(p, type);
	put_be16(p + 2, len);
	return (p + 4 + len);
}

uint32_t
xcopy_vpd(uint8_t *d)
{
	static const uint8_t cmds[] = {
		0x83, 1, 0x00,			/* EXTENDED COPY (LID1) */
		0x84, 2, RCR_COPY_STATUS, RCR_OP_PARAMS	/* RECEIVE COPY RESULTS */
	};
	static const uint8_t descs[] = { XC_SEG_B2B, XC_DESC_IDENT };
	uint8_t	*p = d + 4;

	memset(d, 0, XCOPY_VPD_MAX);
	d[1] = 0x8f;
	/* Supported Commands. */
	p[4] = sizeof(cmds);
	memcpy(p + 5, cmds, sizeof(cmds));
	p = tpc_desc(p, 0x0001, 1 + sizeof(cmds));
	/* Parameter Data. */
	put_be16(p + 8, XC_MAX_TGT);
	put_be16(p + 10, XC_MAX_SEG);
	put_be32(p + 12, XC_MAX_DESC_LIST);
	put_be32(p + 16, 0);			/* no inline data */
	p = tpc_desc(p, 0x0004, 28);
	/* Supported Descriptors. */
	p[4] = sizeof(descs);
	memcpy(p + 5, descs, sizeof(descs));
	p = tpc_desc(p, 0x0008, 1 + sizeof(descs));
	/* General Copy Operations. */
	put_be32(p + 4, 1);			/* TOTAL CONCURRENT COPIES */
	put_be32(p + 8, 1);		/* MAXIMUM IDENTIFIED CONCURRENT COPIES */
	put_be32(p + 12, XC_MAX_SEG_BYTES);	/* MAXIMUM SEGMENT LENGTH */
	p[16] = 9;				/* DATA SEGMENT GRANULARITY */
	p[17] = 0;				/* INLINE DATA GRANULARITY */
	p = tpc_desc(p, 0x8001, 32);
	put_be16(d + 2, (uint16_t)(p - d - 4));
	return ((uint32_t)(p - d));
}

/* COPY STATUS of a copy this I_T nexus ran with LIST ID USAGE 00b. */
static void
rcr_copy_status(struct scsi_cmd *cmd, uint32_t alloc)
{
	const struct xc_held	*h;
	uint8_t			 d[12];
	uint64_t		 n;
	size_t			 i;

	for (i = 0; i < XC_HELD; i++)
		if (xc_mine(&xc_held[i], cmd, cmd->sc_cdb[2]))
			break;
	if (i == XC_HELD) {
		scsi_invalid_field(cmd, 2, -1);		/* LIST IDENTIFIER */
		return;
	}
	h = &xc_held[i];
	memset(d, 0, sizeof(d));
	put_be32(d, sizeof(d) - 4);
	d[4] = h->xh_status;
	put_be16(d + 5, h->xh_segments);
	n = h->xh_bytes;
	if (n > UINT32_MAX) {
		d[7] = 0x02;			/* TRANSFER COUNT in MiB */
		n >>= 20;
	}
	put_be32(d + 8, (uint32_t)n);
	scsi_datain(cmd, d, sizeof(d), alloc);
}

void
xcopy_receive_copy_results(struct scsi_cmd *cmd)
{
	uint32_t	alloc = get_be32(cmd->sc_cdb + 10);

	if ((cmd->sc_cdb[1] & 0x1f) == RCR_OP_PARAMS) {
		if (cmd->sc_cdb[2] != 0) {
			scsi_invalid_field(cmd, 2, -1);
			return;
		}
		rcr_op_params(cmd, alloc);
	} else
		rcr_copy_status(cmd, alloc);
}
