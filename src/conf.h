/*
 * conf.h: ietd.conf(5) (IET syntax).  conf_parse builds struct conf and
 * reports every error as "file:line: message"; conf_verify checks the
 * whole (duplicate targets or LUNs, missing Path, ...).
 */
#ifndef IETD_CONF_H
#define IETD_CONF_H

#include <sys/queue.h>
#include <stdbool.h>
#include <stdint.h>

#include "acl.h"
#include "param.h"

#define CONF_LUN_MAX	16384		/* LUN numbers 0..16383 */
#define CONF_SANITIZE_RATE_MAX 1048576	/* SanitizeRate: MiB/s */
#define SCSI_ID_MAX	24		/* ScsiId: up to 24 characters */
#define SCSI_SN_MAX	16		/* ScsiSN: up to 16 characters */
#define CONF_CHAP_ALGS	4		/* CHAPAlgorithms: MD5 .. SHA3-256 */
#define CONF_STATE_DIR	"/var/lib/ietd"	/* StateDir default */

enum lun_type { LUN_FILEIO, LUN_BLOCKIO, LUN_NULLIO };
enum lun_iomode { IOMODE_WB, IOMODE_WT, IOMODE_RO };
enum lun_thin { THIN_AUTO, THIN_NO, THIN_YES };

struct conf_user {
	TAILQ_ENTRY(conf_user)	 cu_entry;
	char			*cu_name;
	char			*cu_secret;	/* scrubbed in the parent */
	int			 cu_line;
};
TAILQ_HEAD(conf_users, conf_user);

struct conf_lun {
	TAILQ_ENTRY(conf_lun)	 cl_entry;
	uint32_t		 cl_id;
	enum lun_type		 cl_type;
	enum lun_iomode		 cl_iomode;
	enum lun_thin		 cl_thin;	/* Thin=; auto by default */
	char			*cl_path;	/* NULL for nullio */
	uint32_t		 cl_blocksize;	/* 512 (default) or 4096 */
	uint64_t		 cl_sectors;	/* nullio size; 0 = default */
	uint32_t		 cl_sanitize_rate; /* MiB/s; 0 = unpaced */
	char			 cl_scsi_id[SCSI_ID_MAX + 1];	/* "" = derive */
	char			 cl_scsi_sn[SCSI_SN_MAX + 1];	/* "" = derive */
	int			 cl_line;
};
TAILQ_HEAD(conf_luns, conf_lun);

struct conf_target {
	TAILQ_ENTRY(conf_target) ct_entry;
	uint32_t		 ct_tid;	/* 1, 2, ... in file order */
	char			*ct_name;
	char			*ct_alias;	/* NULL if none */
	struct conf_luns	 ct_luns;
	struct conf_users	 ct_in_users;	/* IncomingUser */
	struct conf_users	 ct_out_users;	/* OutgoingUser (at most one) */
	uint32_t		 ct_params[P__COUNT];
	int			 ct_chap_order[CONF_CHAP_ALGS];
	uint32_t		 ct_nchap_order;	/* 0: the global one */
	uint32_t		 ct_wthreads;	/* Wthreads; 0: not given */
	int			 ct_line;
};
TAILQ_HEAD(conf_targets, conf_target);

struct conf {
	char			*conf_path;
	struct conf_targets	 conf_targets;
	struct conf_users	 conf_in_users;		/* discovery */
	struct conf_users	 conf_out_users;	/* discovery */
	uint32_t		 conf_ntargets;
	struct acl		*conf_acl;	/* InitiatorAllow/Deny, files */
	int			 conf_chap_order[CONF_CHAP_ALGS];
	uint32_t		 conf_nchap_order;	/* 0: strongest first */
	char			*conf_state_dir;	/* StateDir; NULL:
							   CONF_STATE_DIR */
	uint32_t		 conf_reactors;		/* IOThreads; 0: not
							   given */
};

/*
 * NULL on error; each error has been logged as "file:line: message".
 * Also reads initiators.allow and initiators.deny from the directory of
 * path (see ietd.conf(5)).
 */
struct conf	*conf_parse(const char *path);
/* Same, from a string (used by tests and fuzzers); name is for messages. */
struct conf	*conf_parse_buf(const char *name, const char *buf, size_t len);
/* 0 if the whole configuration is consistent, -1 (errors logged). */
int		 conf_verify(struct conf *);
void		 conf_free(struct conf *);
/* explicit_bzero every secret (the parent and workers keep none). */
void		 conf_scrub_secrets(struct conf *);
struct conf_target *conf_target_find(const struct conf *, const char *name);
struct conf_target *conf_target_find_tid(const struct conf *, uint32_t tid);
/*
 * io's I/O threads (Wthreads): one pool for all targets, as large as the
 * largest Wthreads of any, or CONF_WTHREADS_DEFAULT (IET's default).
 */
#define CONF_WTHREADS_DEFAULT	8
#define CONF_WTHREADS_MAX	128
uint32_t	 conf_io_threads(const struct conf *);
/*
 * io's reactor threads (IOThreads), each serving whole sessions: as
 * given, or one per online CPU, at most CONF_REACTORS_MAX.
 */
#define CONF_REACTORS_MAX	64
uint32_t	 conf_reactors(const struct conf *);
/* The CHAP algorithm order for a target (tid 0: discovery); 0 if none. */
size_t		 conf_chap_order(const struct conf *, uint32_t tid,
		    const int **order);

#endif
