/*
 * sbc.c: the SBC-4 block commands: READ, WRITE, VERIFY, WRITE AND VERIFY,
 * ORWRITE, COMPARE AND WRITE, WRITE SAME, UNMAP, GET LBA STATUS, READ
 * CAPACITY, SYNCHRONIZE CACHE, PRE-FETCH, READ DEFECT DATA, START STOP
 * UNIT and PREVENT ALLOW MEDIUM REMOVAL.  scsi.c dispatches to them once
 * the CDB has passed the command table's checks.
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
#include "priv/scsi_impl.h"

#define VERIFY_CHUNK		(64U * 1024)
#define WS_CHUNK		(1024U * 1024)

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

/* Out of memory for a moment: the initiator retries. */
static void
busy(struct scsi_cmd *cmd)
{
	scsi_status_only(cmd, SCSI_STATUS_BUSY);
}

/* A write done: answer, after a flush if FUA or the LUN asks for one. */
static void
sbc_write_done(struct scsi_cmd *cmd, bool fua)
{
	if (fua || lun_write_syncs(cmd->sc_lun))
		bgio_flush(cmd);
	else
		scsi_good(cmd);
}

/* The medium's bytes [off, off + len) in a new buffer, or NULL with the
 * answer set (BUSY, or MEDIUM ERROR logged as what). */
static uint8_t *
read_blocks(struct scsi_cmd *cmd, uint64_t off, uint32_t len,
    const char *what)
{
	uint8_t	*b;

	if ((b = malloc(len)) == NULL) {
		busy(cmd);
		return (NULL);
	}
	if (lun_read(cmd->sc_lun, b, len, off) == -1) {
		log_warn("%s: %s", cmd->sc_lun->lun_path, what);
		free(b);
		scsi_sense(cmd, SKEY_MEDIUM_ERROR, ASC_READ_ERROR, 0);
		return (NULL);
	}
	return (b);
}

static void
lba_out_of_range(struct scsi_cmd *cmd)
{
	scsi_sense(cmd, SKEY_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
}

static bool
range_ok(const struct lun *lun, uint64_t lba, uint64_t nblocks)
{
	return (lba <= lun->lun_nblocks && nblocks <= lun->lun_nblocks - lba);
}

void
sbc_start_stop_unit(struct scsi_cmd *cmd)
{
	/* Always started; nothing to load, eject or power down. */
	scsi_good(cmd);
}

/*
 * PREVENT ALLOW MEDIUM REMOVAL.  Our medium is not removable (RMB 0), so
 * preventing removal is trivially satisfied: GOOD for PREVENT 00b and
 * 01b, as IET did (some initiators send it to every disk).  10b and 11b
 * concern medium changers: INVALID FIELD IN CDB.
 */
void
sbc_prevent_allow(struct scsi_cmd *cmd)
{
	if (cmd->sc_cdb[4] & 0x02) {
		scsi_invalid_field(cmd, 4, 1);
		return;
	}
	scsi_good(cmd);
}

void
sbc_read_capacity_10(struct scsi_cmd *cmd)
{
	const uint8_t		*cdb = cmd->sc_cdb;
	const struct lun	*lun = cmd->sc_lun;
	uint8_t			 d[8];
	uint64_t		 last;

	/* PMI 0 with an LBA is invalid (SBC-3; obsolete in SBC-4). */
	if (!(cdb[8] & 0x01) && get_be32(cdb + 2) != 0) {
		scsi_invalid_field(cmd, 2, -1);
		return;
	}
	last = lun->lun_nblocks - 1;
	put_be32(d, last > 0xfffffffeULL ? 0xffffffffU : (uint32_t)last);
	put_be32(d + 4, lun->lun_blocksize);
	scsi_datain(cmd, d, sizeof(d), sizeof(d));
}

void
sbc_read_capacity_16(struct scsi_cmd *cmd)
{
	const uint8_t		*cdb = cmd->sc_cdb;
	const struct lun	*lun = cmd->sc_lun;
	uint8_t			 d[32];

	if (!(cdb[14] & 0x01) && get_be64(cdb + 2) != 0) {
		scsi_invalid_field(cmd, 2, -1);
		return;
	}
	memset(d, 0, sizeof(d));
	put_be64(d, lun->lun_nblocks - 1);
	put_be32(d + 8, lun->lun_blocksize);
	/* No protection; LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT. */
	d[13] = lun->lun_pbexp & 0x0f;
	/* LBPME, LBPRZ; LOWEST ALIGNED LOGICAL BLOCK ADDRESS 0. */
	if (lun->lun_thin)
		d[14] = 0x80 | (lun->lun_lbprz ? 0x40 : 0);
	scsi_datain(cmd, d, sizeof(d), get_be32(cdb + 10));
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

/*
 * LOGICAL BLOCK ADDRESS and block count where SBC-4 puts them in every
 * 10-, 12- and 16-byte CDB that has both; returns the CDB byte of the
 * count (for the sense-key specific field pointer).
 */
static unsigned int
lba_len(const uint8_t *cdb, uint64_t *lba, uint32_t *nblocks)
{
	switch (scsi_cdb_len(cdb[0])) {
	case 10:
		*lba = get_be32(cdb + 2);
		*nblocks = get_be16(cdb + 7);
		return (7);
	case 12:
		*lba = get_be32(cdb + 2);
		*nblocks = get_be32(cdb + 6);
		return (6);
	default:
		*lba = get_be64(cdb + 2);
		*nblocks = get_be32(cdb + 10);
		return (10);
	}
}

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
	default:
		rw->lenbyte = lba_len(cdb, &rw->lba, &rw->nblocks);
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

void
sbc_read_write(struct scsi_cmd *cmd)
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
	if (rw.nblocks > scsi_max_xfer_blocks(lun)) {
		scsi_invalid_field(cmd, rw.lenbyte, -1);
		return;
	}
	want = rw.nblocks * lun->lun_blocksize;
	off = rw.lba * lun->lun_blocksize;
	cmd->sc_want_len = want;
	cmd->sc_xfer_len = MIN(want, cmd->sc_buf_len);
	if (!rw.write) {
		if (bgio_read(cmd, off))
			return;
		if (cmd->sc_xfer_len > 0 &&
		    lun_read_datain(lun, cmd, cmd->sc_xfer_len, off) == -1) {
			log_warn("%s: read", lun->lun_path);
			scsi_sense(cmd, SKEY_MEDIUM_ERROR, ASC_READ_ERROR, 0);
			return;
		}
		scsi_good(cmd);
		return;
	}
	/* The data waits in a pipe (task.c): into the file, one copy. */
	if (cmd->sc_piped) {
		cmd->sc_piped = false;
		if (cmd->sc_xfer_len > 0 && lun_write_pipe(lun,
		    cmd->sc_pipe_fd, cmd->sc_xfer_len, off) == -1) {
			scsi_write_error(cmd, "write");
			return;
		}
		sbc_write_done(cmd, rw.fua);
		return;
	}
	/* Not fetched from its pipe (out of memory): the initiator retries. */
	if (cmd->sc_buf == NULL && cmd->sc_xfer_len > 0) {
		busy(cmd);
		return;
	}
	/* EDTL short of the transfer length: write only what we have. */
	if (!rw.bytchk && bgio_write(cmd, off, rw.fua ||
	    lun_write_syncs(lun)))
		return;
	if (cmd->sc_xfer_len > 0 &&
	    lun_write_nosync(lun, cmd->sc_buf, cmd->sc_xfer_len, off) == -1) {
		scsi_write_error(cmd, "write");
		return;
	}
	/* WRITE AND VERIFY, BYTCHK 1: read the medium back and compare. */
	if (rw.bytchk && cmd->sc_xfer_len > 0 &&
	    verify_compare(cmd, off, cmd->sc_xfer_len, 1) == -1)
		return;
	sbc_write_done(cmd, rw.fua);
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
		busy(cmd);
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
			scsi_sense_info(cmd, done + i);
			free(b);
			return (-1);
		}
	}
	free(b);
	return (0);
}

void
sbc_verify(struct scsi_cmd *cmd)
{
	const uint8_t	*cdb = cmd->sc_cdb;
	struct lun	*lun = cmd->sc_lun;
	uint64_t	 lba, total;
	uint32_t	 nblocks, want;
	unsigned int	 lenbyte;
	int		 bytchk;

	lenbyte = lba_len(cdb, &lba, &nblocks);
	bytchk = (cdb[1] >> 1) & 0x03;
	if (cdb[1] & 0xe0) {		/* VRPROTECT */
		scsi_invalid_field(cmd, 1, 7);
		return;
	}
	if (bytchk == 2) {
		scsi_invalid_field(cmd, 1, 2);
		return;
	}
	if (!range_ok(lun, lba, nblocks)) {
		lba_out_of_range(cmd);
		return;
	}
	if (bytchk == 0 || nblocks == 0) {
		scsi_good(cmd);
		return;
	}
	if (nblocks > scsi_max_xfer_blocks(lun)) {
		scsi_invalid_field(cmd, lenbyte, -1);
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
	scsi_good(cmd);
}

void
sbc_sync_cache(struct scsi_cmd *cmd)
{
	const uint8_t	*cdb = cmd->sc_cdb;
	struct lun	*lun = cmd->sc_lun;
	uint64_t	 lba;
	uint32_t	 nblocks;

	(void)lba_len(cdb, &lba, &nblocks);
	/* NUMBER OF LOGICAL BLOCKS 0: through the last LBA. */
	if (!range_ok(lun, lba, nblocks)) {
		lba_out_of_range(cmd);
		return;
	}
	/* IMMED is honoured by syncing before status anyway. */
	bgio_flush(cmd);
}

/*
 * PRE-FETCH (10, 16).  The page cache is asked to read the range ahead;
 * since it may drop pages at any time we cannot promise the blocks stay
 * cached, so the answer is GOOD, never CONDITION MET (SBC-4 5.8: GOOD
 * when the cache cannot hold them all).
 */
void
sbc_prefetch(struct scsi_cmd *cmd)
{
	const uint8_t	*cdb = cmd->sc_cdb;
	struct lun	*lun = cmd->sc_lun;
	uint64_t	 lba;
	uint32_t	 nblocks;

	(void)lba_len(cdb, &lba, &nblocks);
	if (!range_ok(lun, lba, nblocks)) {
		lba_out_of_range(cmd);
		return;
	}
	/* 0 blocks: through the last LBA. */
	if (nblocks == 0)
		nblocks = lun->lun_nblocks - lba;
	lun_prefetch(lun, lba * lun->lun_blocksize,
	    (uint64_t)nblocks * lun->lun_blocksize);
	scsi_good(cmd);
}

/*
 * READ DEFECT DATA (10, 12): a virtual disk has no defects.  The lists
 * asked for are reported valid and empty, in the format asked for.
 */
void
sbc_read_defect(struct scsi_cmd *cmd)
{
	const uint8_t	*cdb = cmd->sc_cdb;
	uint8_t		 d[8];

	memset(d, 0, sizeof(d));
	if (cdb[0] == OP_READ_DEFECT_10) {
		d[1] = cdb[2] & 0x1f;	/* PLISTV, GLISTV, LIST FORMAT */
		scsi_datain(cmd, d, 4, get_be16(cdb + 7));
		return;
	}
	d[1] = cdb[1] & 0x1f;
	scsi_datain(cmd, d, 8, get_be32(cdb + 6));
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
 * of the range.  With UNMAP on a thin LUN the range is deallocated
 * instead, whatever the block holds: SBC-4 lets the device server either
 * write the block or unmap each LBA, initiators (Linux, ESXi) send zeroes
 * with it, and libiscsi's UnmapUntilEnd expects the blocks to read back
 * as zeroes (LBPRZ) after sending 0xff.  UNMAP on a fully provisioned
 * LUN is refused (LBPWS and LBPWS10 are 0 there).  ANCHOR is not
 * supported (ANC_SUP 0), so the command table refuses it.
 */
void
sbc_write_same(struct scsi_cmd *cmd)
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

	lenbyte = lba_len(cdb, &lba, &nblocks);
	if (cdb[0] == OP_WRITE_SAME_16)
		ndob = (cdb[1] & 0x01) != 0;
	if (write_protected(cmd))
		return;
	/* LBPWS and LBPWS10 are 0 on a fully provisioned LUN. */
	if (unmap && !lun->lun_thin) {
		scsi_invalid_field(cmd, 1, 3);
		return;
	}
	if (!range_ok(lun, lba, nblocks) ||
	    (nblocks == 0 && lba == lun->lun_nblocks)) {
		lba_out_of_range(cmd);
		return;
	}
	/* WSNZ is 0: 0 blocks is "to the end", within the limit. */
	if (nblocks == 0 &&
	    lun->lun_nblocks - lba <= scsi_max_xfer_blocks(lun))
		nblocks = (uint32_t)(lun->lun_nblocks - lba);
	if (nblocks == 0 || nblocks > scsi_max_xfer_blocks(lun)) {
		scsi_invalid_field(cmd, lenbyte, -1);
		return;
	}
	if (!ndob) {
		cmd->sc_want_len = bs;
		cmd->sc_xfer_len = MIN(bs, cmd->sc_buf_len);
		if (cmd->sc_buf_len != bs) {
			/* One block of Data-Out, no more and no less. */
			scsi_invalid_field(cmd, lenbyte, -1);
			return;
		}
	} else if ((blk = zero = calloc(1, bs)) == NULL) {
		busy(cmd);
		return;
	}
	off = lba * bs;
	len = (uint64_t)nblocks * bs;
	if (unmap)
		rv = lun_unmap(lun, off, len);
	else
		rv = write_repeated(lun, blk, off, len);
	free(zero);
	if (rv == -1) {
		scsi_write_error(cmd, unmap ? "write same (unmap)" :
		    "write same");
		return;
	}
	scsi_good(cmd);
}

/*
 * UNMAP (SBC-4 5.32), thin LUNs only (the command table refuses it
 * elsewhere).  Every descriptor is checked before any block is
 * deallocated, so a bad list changes nothing.
 */
void
sbc_unmap(struct scsi_cmd *cmd)
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
		scsi_good(cmd);		/* not an error (SBC-4) */
		return;
	}
	if (plen < 8 || cmd->sc_xfer_len < plen) {
		scsi_param_list_length(cmd);
		return;
	}
	bdlen = get_be16(d + 2);
	if (get_be16(d) < 6 || get_be16(d) > plen - 2 || bdlen > plen - 8) {
		scsi_param_list_length(cmd);
		return;
	}
	/* A truncated last descriptor is ignored. */
	n = bdlen / 16;
	if (n > MAX_UNMAP_DESC) {
		scsi_invalid_param(cmd, 2, -1);
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
				scsi_write_error(cmd, "unmap");
				return;
			}
		}
	scsi_good(cmd);
}

/*
 * GET LBA STATUS (SERVICE ACTION IN(16) 12h): the extents from the
 * starting LBA on, mapped or deallocated, as many as the allocation
 * length holds.  A block partly holding data counts as mapped.
 */
#define LBAS_MAX_DESC	1024

void
sbc_get_lba_status(struct scsi_cmd *cmd)
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
	scsi_datain(cmd, d, 8 + n * 16, alloc);
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
compare_and_write_locked(struct scsi_cmd *cmd)
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
		scsi_invalid_field(cmd, 13, -1);
		return;
	}
	len = n * lun->lun_blocksize;
	cmd->sc_want_len = 2 * len;
	cmd->sc_xfer_len = MIN(2 * len, cmd->sc_buf_len);
	/* The Data-Out buffer must hold both halves, no more. */
	if (cmd->sc_buf_len != 2 * len) {
		scsi_invalid_field(cmd, 13, -1);
		return;
	}
	if (n == 0) {
		scsi_good(cmd);
		return;
	}
	off = lba * lun->lun_blocksize;
	if ((b = read_blocks(cmd, off, len, "compare and write")) == NULL)
		return;
	for (i = 0; i < len && b[i] == cmd->sc_buf[i]; i++)
		;
	free(b);
	if (i < len) {
		scsi_sense(cmd, SKEY_MISCOMPARE, ASC_MISCOMPARE, 0);
		scsi_sense_info(cmd, i);
		return;
	}
	if (lun_write_nosync(lun, cmd->sc_buf + len, len, off) == -1) {
		scsi_write_error(cmd, "compare and write");
		return;
	}
	sbc_write_done(cmd, cdb[1] & 0x08);
}

/*
 * ORWRITE(16): each block becomes the OR of the medium and the Data-Out
 * data.  Atomic for the same reason as COMPARE AND WRITE.
 */
static void
orwrite_locked(struct scsi_cmd *cmd)
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
	if (n > scsi_max_xfer_blocks(lun)) {
		scsi_invalid_field(cmd, 10, -1);
		return;
	}
	cmd->sc_want_len = n * lun->lun_blocksize;
	len = cmd->sc_xfer_len = MIN(cmd->sc_want_len, cmd->sc_buf_len);
	if (len == 0) {
		scsi_good(cmd);
		return;
	}
	off = lba * lun->lun_blocksize;
	if ((b = read_blocks(cmd, off, len, "orwrite")) == NULL)
		return;
	for (i = 0; i < len; i++)
		b[i] |= cmd->sc_buf[i];
	if (lun_write_nosync(lun, b, len, off) == -1) {
		free(b);
		scsi_write_error(cmd, "orwrite");
		return;
	}
	free(b);
	sbc_write_done(cmd, cdb[1] & 0x08);
}

/*
 * WRITE ATOMIC(16).  The write is atomic against every other command:
 * io runs each command to completion, one at a time (an io with several
 * threads must lock the range, as for COMPARE AND WRITE).  It is all or
 * nothing against running out of space: the blocks of a thin file are
 * allocated before the first byte is written, so ENOSPC leaves the LUN
 * untouched.  Like any write it is durable after FUA or SYNCHRONIZE
 * CACHE; ietd(8) says what a power failure in between may leave.
 */
static void
write_atomic_locked(struct scsi_cmd *cmd)
{
	const uint8_t	*cdb = cmd->sc_cdb;
	struct lun	*lun = cmd->sc_lun;
	uint64_t	 lba, off;
	uint32_t	 n, len;

	lba = get_be64(cdb + 2);
	n = get_be16(cdb + 12);
	if (write_protected(cmd))
		return;
	if (!range_ok(lun, lba, n)) {
		lba_out_of_range(cmd);
		return;
	}
	if (n > MAX_ATOMIC_BLOCKS(lun)) {
		scsi_invalid_field(cmd, 12, -1);
		return;
	}
	len = n * lun->lun_blocksize;
	cmd->sc_want_len = len;
	cmd->sc_xfer_len = MIN(len, cmd->sc_buf_len);
	if (n == 0) {
		scsi_good(cmd);
		return;
	}
	/* All or nothing: a short Data-Out is not written at all. */
	if (cmd->sc_buf_len < len) {
		scsi_invalid_field(cmd, 12, -1);
		return;
	}
	off = lba * lun->lun_blocksize;
	if (lun_reserve(lun, off, len) == -1 ||
	    lun_write_nosync(lun, cmd->sc_buf, len, off) == -1) {
		scsi_write_error(cmd, "write atomic");
		return;
	}
	sbc_write_done(cmd, cdb[1] & 0x08);
}

/*
 * SANITIZE (SBC-4 5.30).  OVERWRITE writes the initialization pattern to
 * every block, OVERWRITE COUNT times (inverted on every other pass with
 * INVERT), then flushes: a background job of the LUN (sanitize.c), which
 * answers the command when it ends, or at once with IMMED.  BLOCK
 * ERASE, offered on thin LUNs only, deallocates every block (holes read
 * as zeroes, WABEREQ 01b) with one hole punch or discard, before status.
 * There is no CRYPTOGRAPHIC ERASE: ietd encrypts nothing, so there is no
 * key to change.  If a sanitize fails, medium access commands fail with
 * SANITIZE COMMAND FAILED until a sanitize succeeds or EXIT FAILURE MODE
 * is sent.
 */
static void
sanitize_overwrite(struct scsi_cmd *cmd, uint32_t plen)
{
	const uint8_t	*d = cmd->sc_buf;
	uint32_t	 ipl, count;

	count = d[0] & 0x1f;
	if (d[0] & 0x60) {			/* TEST */
		scsi_invalid_param(cmd, 0, 6);
		return;
	}
	if (count == 0) {
		scsi_invalid_param(cmd, 0, 4);
		return;
	}
	ipl = get_be16(d + 2);
	if (ipl == 0 || ipl > cmd->sc_lun->lun_blocksize || ipl > plen - 4) {
		scsi_invalid_param(cmd, 2, -1);
		return;
	}
	sanitize_start(cmd, d + 4, ipl, count, (d[0] & 0x80) != 0,
	    (cmd->sc_cdb[1] & 0x80) != 0);
}

void
sbc_sanitize(struct scsi_cmd *cmd)
{
	const uint8_t	*cdb = cmd->sc_cdb;
	struct lun	*lun = cmd->sc_lun;
	uint32_t	 plen, sa = cdb[1] & 0x1f;

	plen = get_be16(cdb + 7);
	cmd->sc_want_len = plen;
	cmd->sc_xfer_len = MIN(plen, cmd->sc_buf_len);
	/* OVERWRITE takes 5 to block size + 4 bytes, the others none. */
	if (sa == SA_SANITIZE_OVERWRITE ? plen < 5 ||
	    plen > lun->lun_blocksize + 4 : plen != 0) {
		scsi_invalid_field(cmd, 7, -1);
		return;
	}
	if (sa == SA_SANITIZE_EXIT_FAIL) {
		lun->lun_sanitize_failed = false;
		scsi_good(cmd);
		return;
	}
	if (write_protected(cmd))
		return;
	if (cmd->sc_xfer_len < plen) {
		scsi_param_list_length(cmd);
		return;
	}
	if (sa == SA_SANITIZE_OVERWRITE) {
		sanitize_overwrite(cmd, plen);
		return;
	}
	if (lun_unmap(lun, 0, lun->lun_nblocks *
	    (uint64_t)lun->lun_blocksize) == -1) {
		lun->lun_sanitize_failed = true;
		scsi_write_error(cmd, "sanitize block erase");
		return;
	}
	log_info("%s: sanitized (block erase)", lun->lun_path[0] != '\0' ?
	    lun->lun_path : "nullio");
	lun->lun_sanitize_failed = false;
	scsi_good(cmd);
}

/*
 * After a failed sanitize only commands that do not touch the medium run:
 * identification, sense, mode pages, reports, and SANITIZE itself.
 */
bool
sbc_sanitize_failed(struct scsi_cmd *cmd)
{
	if (cmd->sc_lun == NULL || !cmd->sc_lun->lun_sanitize_failed)
		return (false);
	switch (cmd->sc_cdb[0]) {
	case OP_INQUIRY:
	case OP_REPORT_LUNS:
	case OP_REQUEST_SENSE:
	case OP_SANITIZE:
	case OP_MAINTENANCE_IN:
	case OP_MODE_SENSE_6:
	case OP_MODE_SENSE_10:
	case OP_READ_CAPACITY_10:
	case OP_SERVICE_ACTION_IN_16:
		return (false);
	}
	scsi_sense(cmd, SKEY_MEDIUM_ERROR, ASC_MEDIUM_FORMAT,
	    ASCQ_SANITIZE_FAILED);
	return (true);
}

/*
 * COMPARE AND WRITE, ORWRITE and WRITE ATOMIC read and write as one: the
 * I/O threads' reads and writes of the LUN (bgio.c) wait meanwhile.
 */
void
sbc_compare_and_write(struct scsi_cmd *cmd)
{
	lun_exclusive(cmd->sc_lun);
	compare_and_write_locked(cmd);
	lun_exclusive_end(cmd->sc_lun);
}

void
sbc_orwrite(struct scsi_cmd *cmd)
{
	lun_exclusive(cmd->sc_lun);
	orwrite_locked(cmd);
	lun_exclusive_end(cmd->sc_lun);
}

void
sbc_write_atomic(struct scsi_cmd *cmd)
{
	lun_exclusive(cmd->sc_lun);
	write_atomic_locked(cmd);
	lun_exclusive_end(cmd->sc_lun);
}
