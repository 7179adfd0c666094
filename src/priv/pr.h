/*
 * pr.h: the state a logical unit shares between I_T nexuses (internal to
 * src/priv): pending unit attentions per nexus (ua.c), the SCSI-2
 * reservation and SPC-4 persistent reservations (pr.c), and the APTPL
 * state file (pr_file.c).
 *
 * Every session's commands touch it, and io may run several reactor
 * threads, so each LUN's state has its own mutex.  READ and WRITE do not
 * take it: they look at two atomic counters (unit attentions pending,
 * reservations or registrations present) and go on when both are zero.
 */
#ifndef IETD_PR_H
#define IETD_PR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "pdu.h"
#include "priv/lun.h"
#include "priv/scsi.h"

#define UA_MAX		8	/* pending unit attentions per nexus */
#define PR_REG_MAX	128	/* registrations per LUN */

/* Unit attention additional sense codes (SPC-4 annex F). */
#define UA_POWER_ON_RESET	0x2900	/* POWER ON, RESET, OR BUS DEVICE
					   RESET OCCURRED */
#define UA_POWER_ON		0x2901	/* POWER ON OCCURRED */
#define UA_LUN_RESET		0x2903	/* BUS DEVICE RESET FUNCTION OCCURRED */
#define UA_MODE_CHANGED		0x2a01	/* MODE PARAMETERS CHANGED */
#define UA_CAPACITY_CHANGED	0x2a09	/* CAPACITY DATA HAS CHANGED */
#define UA_LUNS_CHANGED		0x3f0e	/* REPORTED LUNS DATA HAS CHANGED */
#define UA_RES_PREEMPTED	0x2a03	/* RESERVATIONS PREEMPTED */
#define UA_RES_RELEASED		0x2a04	/* RESERVATIONS RELEASED */
#define UA_REG_PREEMPTED	0x2a05	/* REGISTRATIONS PREEMPTED */
#define UA_CMDS_CLEARED		0x2f00	/* COMMANDS CLEARED BY ANOTHER
					   INITIATOR */

/* Persistent reservation types (SPC-4 table 173). */
#define PR_TYPE_WE		0x1
#define PR_TYPE_EA		0x3
#define PR_TYPE_WE_RO		0x5
#define PR_TYPE_EA_RO		0x6
#define PR_TYPE_WE_AR		0x7
#define PR_TYPE_EA_AR		0x8

/* The pending unit attentions of one I_T nexus for one LUN. */
struct ua_slot {
	uint64_t	 us_nx;			/* nx_id */
	uint8_t		 us_n;
	uint16_t	 us_q[UA_MAX];		/* ASC << 8 | ASCQ, oldest first */
};

/* One registered I_T nexus: initiator port and key (the target port is
 * always relative port 1, TPGT 1). */
struct pr_reg {
	char		 pg_name[ISCSI_NAME_MAX];
	uint8_t		 pg_isid[6];
	bool		 pg_all_tg_pt;
	uint64_t	 pg_key;
};

struct lun_state {
	pthread_mutex_t	 ls_mtx;
	atomic_uint	 ls_ua_pending;		/* sum of us_n over slots */
	atomic_uint	 ls_guarded;		/* SCSI-2 reserved or any
						   registration */
	struct ua_slot	*ls_slots;
	size_t		 ls_nslots;
	/* SCSI-2 RESERVE: the holder's nx_id, 0 if none. */
	uint64_t	 ls_res2;
	/* Persistent reservations (SPC-4 5.13). */
	uint32_t	 ls_generation;
	struct pr_reg	*ls_regs;
	size_t		 ls_nregs;
	bool		 ls_resvd;
	uint8_t		 ls_type;
	int		 ls_holder;		/* index in ls_regs; -1 for the
						   all registrants types */
	bool		 ls_aptpl;
	char		*ls_file;		/* APTPL state file name */
};

/* ua.c */
/* The state of lun, created if need be; NULL only when out of memory. */
struct lun_state *lun_state_get(struct lun *);
/* The state if it exists (never creates). */
struct lun_state *lun_state_peek(const struct lun *);
void	lun_state_free(struct lun *);
/* Establish a unit attention for every nexus of the LUN but skip (by
 * nx_id; 0: none skipped).  Locked by the caller. */
void	ua_post_all(struct lun_state *, uint64_t skip, uint16_t code);
/* Establish one for the nexuses whose initiator port is name/isid. */
void	ua_post_port(struct lun_state *, const char *, const uint8_t *,
	    uint16_t);
/* Before a command runs: report a pending unit attention (false: the
 * command is done, with CHECK CONDITION). */
bool	ua_check(struct scsi_cmd *);
/* REQUEST SENSE: take the oldest pending unit attention into sense data
 * (returns true and fills d, 18 or 8 bytes as desc says). */
bool	ua_take_sense(struct scsi_cmd *, bool desc, uint8_t *d,
	    uint32_t *len);
/* MODE SELECT changed the parameters: tell every other nexus. */
void	ua_mode_changed(struct scsi_cmd *);
/* A reload: a slot on lun for every live nexus of lt (a LUN just put in
 * lt); a condition for every nexus of one LUN, or of every LUN of lt. */
void	ua_lun_added(const struct lun_target *, struct lun *);
void	ua_post_lun(struct lun *, uint16_t code);
void	ua_post_target(const struct lun_target *, uint16_t code);
/* REPORT LUNS: clear REPORTED LUNS DATA HAS CHANGED for its nexus on
 * every LUN of the target (SPC-4 6.33). */
void	ua_clear_luns_changed(const struct scsi_cmd *);

/* pr.c */
bool	pr_check(struct scsi_cmd *);	/* false: RESERVATION CONFLICT */
void	pr_release_nexus(struct lun_state *, uint64_t nx);	/* locked */
void	pr_in(struct scsi_cmd *);
void	pr_out(struct scsi_cmd *);
void	pr_reserve(struct scsi_cmd *);
void	pr_release(struct scsi_cmd *);
bool	pr_nexus_is(const struct pr_reg *, const struct scsi_nexus *);

/* pr_file.c */
#define PR_FILE_MAX	(1024 * 1024)	/* bytes of one state file, at most */
/* At start-up, as root: make the directory, load every state file.
 * -1 (logged as "file: what is wrong") if one cannot be loaded. */
int	pr_file_init(struct lun_table *, const char *dir);
/* A LUN added by a reload: load its state file as start-up does. */
int	pr_file_load(const struct lun_target *, struct lun *);
/* Write the LUN's APTPL state (or remove it); locked by the caller.
 * -1 (logged) if it could not be made durable. */
int	pr_file_save(struct lun *, struct lun_state *,
	    const struct lun_target *);

#endif
