/*
 * scsi.h: SCSI command execution (SPC-4, SBC-4) for one command, knowing
 * nothing of iSCSI: the caller hands over the CDB and a buffer that
 * holds the Data-Out data (write) or receives the Data-In data (read).
 */
#ifndef IETD_SCSI_H
#define IETD_SCSI_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stdint.h>

#include "lun.h"
#include "pdu.h"

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

/*
 * The I_T nexus a command arrives on (SAM-5 4.7): the initiator port is
 * the iSCSI initiator name with the session's ISID ("name,i,0x<isid>"),
 * the target port is the target with TPGT 1 (relative target port 1).
 * The transport keeps one per session and announces its beginning and
 * end; nx_id is unique for the life of io and never reused.
 */
struct scsi_nexus {
	uint64_t		 nx_id;
	const struct lun_target	*nx_target;
	char			 nx_initiator[ISCSI_NAME_MAX];
	uint8_t			 nx_isid[6];
};

struct scsi_cmd {
	/* in */
	const struct scsi_nexus	*sc_nexus;
	const struct lun_target	*sc_target;
	struct lun	*sc_lun;	/* NULL: no such LUN (sc_lun_id) */
	uint64_t	 sc_lun_id;
	const uint8_t	*sc_cdb;	/* 16 bytes (shorter CDBs zero-padded) */
	uint8_t		*sc_buf;	/* Data-Out data, or Data-In buffer */
	uint32_t	 sc_buf_len;	/* Expected Data Transfer Length */
	bool		 sc_ref_ok;	/* Data-In may stay in the backing
					   store (lun_read_datain) */
	/* A WRITE's Data-Out data is not in sc_buf (NULL) but waits in the
	 * pipe sc_pipe_fd: sbc_read_write splices it into the LUN's file
	 * and clears sc_piped; a command that fails before leaves both for
	 * the caller to drain.  Only for a plain WRITE (scsi_cdb_pipe_ok)
	 * to a LUN whose writes lun_write_inloop allows. */
	bool		 sc_piped;
	int		 sc_pipe_fd;
	/* A command may end later (sc_pending): then this is called with
	 * the outputs set.  NULL: the caller cannot wait, and scsi_exec
	 * finishes every command before it returns. */
	void		(*sc_done)(struct scsi_cmd *);
	/* out */
	uint32_t	 sc_want_len;	/* bytes the command would move with an
					   unlimited buffer (residual math) */
	uint32_t	 sc_xfer_len;	/* bytes moved: min(want, buf_len) */
	uint8_t		 sc_status;
	uint8_t		 sc_sense[SCSI_SENSE_MAX];
	uint32_t	 sc_sense_len;	/* 0 if no sense data */
	bool		 sc_ref;	/* Data-In is [sc_ref_off, +xfer_len)
					   of sc_lun's file, not in sc_buf */
	uint64_t	 sc_ref_off;
	bool		 sc_pending;	/* answer comes through sc_done */
	void		*sc_job;	/* its work on an I/O thread (bgio.c) */
	bool		 sc_parked;	/* on its LUN's lun_parked */
	TAILQ_ENTRY(scsi_cmd) sc_pentry;
};

/* Direction implied by a CDB opcode (used to sanity-check R/W bits). */
enum scsi_dir scsi_cdb_dir(const uint8_t *cdb);
/*
 * Execute one command: sets status (and sense), or sc_pending when the
 * command ends later (SANITIZE without IMMED, I/O on an I/O thread, or
 * parked behind its LUN's fence) and sc_done will be called.  The caller must keep cmd
 * until then, or scsi_cmd_cancel it (abort, lost session): the command
 * is not answered; the work it started goes on.  If scsi_cmd_cancel
 * returns true, that work still uses cmd and its buffer: the caller
 * keeps both until sc_done is called (then it only frees them).
 */
void	scsi_exec(struct scsi_cmd *);
/* May a reactor run this command without stopping the others? */
bool	scsi_cdb_parallel(const uint8_t *cdb);
/* May this command's Data-Out data wait in a pipe (sc_piped)? */
bool	scsi_cdb_pipe_ok(const uint8_t *cdb);
bool	scsi_cmd_cancel(struct scsi_cmd *);
/*
 * Background work of the logical units (a sanitize): how many ms the
 * reactor may sleep before it calls scsi_bg_run (-1: no work), and, when
 * io stops, scsi_bg_stop ends what is unfinished.
 */
int	scsi_bg_timeout(void);
void	scsi_bg_run(void);
void	scsi_bg_stop(void);
/*
 * I_T nexus life (called by the transport when a session begins and
 * ends): per-nexus state such as pending unit attentions is set up and
 * dropped; a SCSI-2 reservation the nexus holds is released when it
 * ends; persistent reservation registrations stay (SPC-4 5.13).
 */
void	scsi_nexus_begin(const struct scsi_nexus *);
void	scsi_nexus_end(const struct scsi_nexus *);
/*
 * The effects of task management on logical units (SAM-5 7), for the
 * transport's TMF handler, after it has aborted the tasks itself.  A
 * LOGICAL UNIT RESET or target reset releases SCSI-2 reservations and
 * raises the reset unit attention (29h/xx) for the I_T nexuses it
 * reaches; aborting tasks of other nexuses raises COMMANDS CLEARED BY
 * ANOTHER INITIATOR (2Fh/00h) for them.  by: the nexus that asked.
 */
void	scsi_lun_reset(struct lun *, const struct scsi_nexus *by);
void	scsi_target_reset(const struct lun_target *,
	    const struct scsi_nexus *by, bool cold);
void	scsi_tasks_cleared(struct lun *, const struct scsi_nexus *victim);

/* Fill fixed-format sense (key, asc, ascq) into cmd; status CHECK CONDITION. */
void	scsi_sense(struct scsi_cmd *, uint8_t key, uint8_t asc, uint8_t ascq);

#endif
