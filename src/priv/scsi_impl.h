/*
 * scsi_impl.h: what scsi.c (dispatch, sense), spc.c (SPC-4 commands) and
 * sbc.c (SBC-4 commands) share.  Internal to src/priv/; everything else
 * includes scsi.h.
 */
#ifndef IETD_SCSI_IMPL_H
#define IETD_SCSI_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "priv/scsi.h"

/* Operation codes. */
#define OP_TEST_UNIT_READY	0x00
#define OP_REQUEST_SENSE	0x03
#define OP_READ_6		0x08
#define OP_WRITE_6		0x0a
#define OP_INQUIRY		0x12
#define OP_MODE_SELECT_6	0x15
#define OP_RESERVE_6		0x16
#define OP_RELEASE_6		0x17
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
#define OP_SANITIZE		0x48
#define OP_MODE_SELECT_10	0x55
#define OP_RESERVE_10		0x56
#define OP_RELEASE_10		0x57
#define OP_MODE_SENSE_10	0x5a
#define OP_PR_IN		0x5e
#define OP_PR_OUT		0x5f
#define OP_READ_16		0x88
#define OP_COMPARE_AND_WRITE	0x89
#define OP_WRITE_16		0x8a
#define OP_ORWRITE_16		0x8b
#define OP_WRITE_VERIFY_16	0x8e
#define OP_VERIFY_16		0x8f
#define OP_PREFETCH_16		0x90
#define OP_SYNC_CACHE_16	0x91
#define OP_WRITE_SAME_16	0x93
#define OP_WRITE_ATOMIC_16	0x9c
#define OP_SERVICE_ACTION_IN_16	0x9e
#define OP_EXTENDED_COPY	0x83
#define OP_RECEIVE_COPY_RES	0x84
#define OP_REPORT_LUNS		0xa0
#define OP_MAINTENANCE_IN	0xa3
#define OP_READ_12		0xa8
#define OP_WRITE_12		0xaa
#define OP_WRITE_VERIFY_12	0xae
#define OP_VERIFY_12		0xaf
#define OP_READ_DEFECT_12	0xb7

#define SAI_READ_CAPACITY_16	0x10
#define SAI_GET_LBA_STATUS	0x12
#define MI_REPORT_TPG		0x0a
#define MI_REPORT_OPCODES	0x0c
#define MI_REPORT_TMF		0x0d
#define SA_SANITIZE_OVERWRITE	0x01
#define SA_SANITIZE_BLOCK_ERASE	0x02
#define SA_SANITIZE_EXIT_FAIL	0x1f

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
#define ASC_MEDIUM_FORMAT	0x31	/* ASCQ 03h: sanitize failed */
#define ASCQ_SANITIZE_FAILED	0x03

#define FIXED_SENSE_LEN		18

/* Limits reported in the Block Limits VPD page and enforced. */
#define MAX_CAW_BLOCKS		255	/* COMPARE AND WRITE */
#define MAX_UNMAP_DESC		256	/* UNMAP block descriptors */
#define MAX_UNMAP_BLOCKS	0xffffffffU	/* per descriptor */
/* WRITE ATOMIC(16): TRANSFER LENGTH has 16 bits. */
#define MAX_ATOMIC_BLOCKS(l)	MIN(scsi_max_xfer_blocks(l), 0xffffU)

#define MIN(a, b)		((a) < (b) ? (a) : (b))

/* scsi.c: sense data and the small helpers every handler uses. */
void	 scsi_sense_info(struct scsi_cmd *, uint64_t);
void	 scsi_invalid_field(struct scsi_cmd *, unsigned int, int);
void	 scsi_invalid_param(struct scsi_cmd *, unsigned int, int);
void	 scsi_param_list_length(struct scsi_cmd *);
void	 scsi_write_error(struct scsi_cmd *, const char *);
void	 scsi_good(struct scsi_cmd *);
void	 scsi_status_only(struct scsi_cmd *, uint8_t);
void	 scsi_datain(struct scsi_cmd *, const uint8_t *, uint32_t, uint32_t);
uint32_t scsi_max_xfer_blocks(const struct lun *);

/* spc.c: SPC-4 device-wide commands. */
void	spc_test_unit_ready(struct scsi_cmd *);
void	spc_request_sense(struct scsi_cmd *);
void	spc_inquiry(struct scsi_cmd *);
void	spc_mode_select(struct scsi_cmd *);
void	spc_mode_sense(struct scsi_cmd *);
void	spc_report_luns(struct scsi_cmd *);
void	spc_report_tpg(struct scsi_cmd *);

/* sbc.c: SBC-4 block commands. */
void	sbc_start_stop_unit(struct scsi_cmd *);
void	sbc_prevent_allow(struct scsi_cmd *);
void	sbc_read_capacity_10(struct scsi_cmd *);
void	sbc_read_capacity_16(struct scsi_cmd *);
void	sbc_get_lba_status(struct scsi_cmd *);
void	sbc_read_write(struct scsi_cmd *);
void	sbc_verify(struct scsi_cmd *);
void	sbc_sync_cache(struct scsi_cmd *);
void	sbc_prefetch(struct scsi_cmd *);
void	sbc_read_defect(struct scsi_cmd *);
void	sbc_write_same(struct scsi_cmd *);
void	sbc_unmap(struct scsi_cmd *);
void	sbc_compare_and_write(struct scsi_cmd *);
void	sbc_orwrite(struct scsi_cmd *);
void	sbc_write_atomic(struct scsi_cmd *);
void	sbc_sanitize(struct scsi_cmd *);
bool	sbc_sanitize_failed(struct scsi_cmd *);

/* sanitize.c: the sanitize operation, in the background. */
void	 sanitize_start(struct scsi_cmd *, const uint8_t *pat, uint32_t ipl,
	    uint32_t passes, bool invert, bool immed);
uint16_t sanitize_progress(const struct lun *);
uint32_t sanitize_sense(const struct lun *, bool desc, uint8_t *);
bool	 sbc_sanitize_busy(struct scsi_cmd *);
void	 sanitize_cancel(struct scsi_cmd *);

/*
 * bgio.c: the backing store calls of a command that run on an I/O thread
 * (iopool.h) when the transport can wait (sc_done): the command is then
 * sc_pending and answered through sc_done.  bgio_flush makes the LUN
 * durable and answers GOOD (or MEDIUM ERROR).  bgio_read does what READ
 * does with [off, off + sc_xfer_len) when the backing store would make
 * io wait: true when the command is answered or pending; false: do it at
 * once (no thread, or a read to be sent from the page cache).
 * bgio_write likewise writes sc_buf there, then flushes if sync.
 * bgio_cancel: true if the command's memory must stay until sc_done (a
 * read or write that runs); a running write also fences its LUN until
 * it ends, and then bgio calls scsi_fence_lifted (scsi.c), which runs
 * the commands parked meanwhile.
 */
void	bgio_flush(struct scsi_cmd *);
bool	bgio_read(struct scsi_cmd *, uint64_t off);
bool	bgio_write(struct scsi_cmd *, uint64_t off, bool sync);
bool	bgio_cancel(struct scsi_cmd *);
void	scsi_fence_lifted(struct lun *);

/* xcopy.c: the copy manager. */
void	xcopy_extended_copy(struct scsi_cmd *);
void	xcopy_receive_copy_results(struct scsi_cmd *);
#define XCOPY_VPD_MAX	128
uint32_t xcopy_vpd(uint8_t *);

/* CDB length (6, 10, 12 or 16) from the operation code's group. */
size_t	scsi_cdb_len(uint8_t);

#endif
