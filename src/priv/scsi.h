/*
 * scsi.h: SCSI command execution (SPC-4, SBC-4) for one command, knowing
 * nothing of iSCSI: the caller hands over the CDB and a buffer that
 * holds the Data-Out data (write) or receives the Data-In data (read).
 */
#ifndef IETD_SCSI_H
#define IETD_SCSI_H

#include <stdbool.h>
#include <stdint.h>

#include "lun.h"

#define SCSI_SENSE_MAX		252
#define SCSI_MAX_XFER		(8U * 1024 * 1024)	/* largest buffer */

/* Status codes. */
#define SCSI_STATUS_GOOD		0x00
#define SCSI_STATUS_CHECK_CONDITION	0x02
#define SCSI_STATUS_BUSY		0x08
#define SCSI_STATUS_RESERVATION_CONFLICT 0x18
#define SCSI_STATUS_TASK_SET_FULL	0x28
#define SCSI_STATUS_TASK_ABORTED	0x40

/* Sense keys. */
#define SKEY_NO_SENSE		0x0
#define SKEY_NOT_READY		0x2
#define SKEY_MEDIUM_ERROR	0x3
#define SKEY_HARDWARE_ERROR	0x4
#define SKEY_ILLEGAL_REQUEST	0x5
#define SKEY_UNIT_ATTENTION	0x6
#define SKEY_DATA_PROTECT	0x7
#define SKEY_ABORTED_COMMAND	0xb
#define SKEY_MISCOMPARE		0xe

/* Direction the CDB implies, for the transport. */
enum scsi_dir { SCSI_DIR_NONE, SCSI_DIR_READ, SCSI_DIR_WRITE };

struct scsi_cmd {
	/* in */
	const struct lun_target	*sc_target;
	struct lun	*sc_lun;	/* NULL: no such LUN (sc_lun_id) */
	uint64_t	 sc_lun_id;
	const uint8_t	*sc_cdb;	/* 16 bytes (shorter CDBs zero-padded) */
	uint8_t		*sc_buf;	/* Data-Out data, or Data-In buffer */
	uint32_t	 sc_buf_len;	/* Expected Data Transfer Length */
	/* out */
	uint32_t	 sc_want_len;	/* bytes the command would move with an
					   unlimited buffer (residual math) */
	uint32_t	 sc_xfer_len;	/* bytes moved: min(want, buf_len) */
	uint8_t		 sc_status;
	uint8_t		 sc_sense[SCSI_SENSE_MAX];
	uint32_t	 sc_sense_len;	/* 0 if no sense data */
};

/* Direction implied by a CDB opcode (used to sanity-check R/W bits). */
enum scsi_dir scsi_cdb_dir(const uint8_t *cdb);
/* Execute one command synchronously; always sets status (and sense). */
void	scsi_exec(struct scsi_cmd *);
/* Fill fixed-format sense (key, asc, ascq) into cmd; status CHECK CONDITION. */
void	scsi_sense(struct scsi_cmd *, uint8_t key, uint8_t asc, uint8_t ascq);

#endif
