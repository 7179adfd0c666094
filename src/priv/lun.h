/*
 * lun.h: backing stores of the io process (fileio, blockio, nullio).
 * lun_table_open runs at start-up, as root, before the roles split; io
 * inherits the table and the parent frees its copy (closing the fds).
 *
 * Ownership: each struct lun is allocated alone and counts references
 * (lun_refs).  Its target's table holds one while the LUN is configured;
 * whatever outlives the command that found the LUN with lun_find takes
 * its own with lun_ref: Data-In queued for sendfile(2) from lun_fd (one
 * per output PDU, wire.c), background work (which also counts itself
 * in lun_bg), a job on an I/O thread (bgio.c) and a command parked
 * behind the LUN's fence (scsi.c).  A command that runs synchronously
 * needs none.  A reload
 * (reload.c) that removes a LUN takes it out of lt_luns, so lun_find no
 * longer finds it, and drops the table's reference; the last lun_unref
 * closes the fd and frees the LUN and its shared state (unit attentions,
 * reservations).  A LUN with background work (lun_bg > 0) is not
 * removed: the reload says so and leaves it configured.  The counts are
 * plain integers: io runs one thread, and the reload runs in it between
 * two events.
 */
#ifndef IETD_LUN_H
#define IETD_LUN_H

#include <sys/queue.h>

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

struct lun_state;
struct sanitize_job;
struct scsi_cmd;

struct lun {
	uint32_t	 lun_refs;		/* see above */
	uint32_t	 lun_bg;		/* background operations */
	/*
	 * The fence: writes of cancelled (aborted) commands that an I/O
	 * thread still runs, and the commands parked until none is left
	 * (scsi.c, bgio.c).
	 */
	uint32_t	 lun_fence;
	TAILQ_HEAD(, scsi_cmd) lun_parked;
	uint32_t	 lun_id;
	enum lun_type	 lun_type;
	int		 lun_fd;		/* -1 for nullio */
	bool		 lun_readonly;		/* IOMode=ro */
	bool		 lun_wt;		/* IOMode=wt: sync after writes */
	bool		 lun_blockdev;		/* backing store is a block device */
	/*
	 * blockio: O_DIRECT.  Buffers, offsets and lengths of lun_read and
	 * lun_write that are multiples of lun_align go straight to the
	 * device; others through an aligned bounce buffer (so a transport
	 * that allocates with posix_memalign(lun_align) saves a copy).
	 */
	bool		 lun_direct;
	uint32_t	 lun_align;		/* 1 unless lun_direct */
	uint32_t	 lun_blocksize;
	uint8_t		 lun_pbexp;		/* physical block: 2^n blocks */
	uint64_t	 lun_nblocks;
	char		 lun_path[4096];	/* "" for nullio */
	char		 lun_scsi_id[SCSI_ID_MAX + 1];	/* VPD 0x83 T10 id */
	char		 lun_scsi_sn[SCSI_SN_MAX + 1];	/* VPD 0x80 */
	uint8_t		 lun_naa[8];		/* NAA-3 (locally assigned), stable */
	/* Thin provisioning, probed at open (lun_unmap works). */
	bool		 lun_thin;
	bool		 lun_lbprz;		/* deallocated blocks read zeroes */
	uint32_t	 lun_unmap_gran;	/* optimal unmap granularity, blocks */
	/* Mode parameters, in memory only (MODE SELECT). */
	bool		 lun_wce;		/* caching page WCE; 0: write-through */
	bool		 lun_dsense;		/* control page D_SENSE */
	bool		 lun_swp;		/* control page SWP */
	/* Reservations and unit attentions (pr.h), shared by sessions. */
	struct lun_state *lun_st;
	uint8_t		 lun_iec[10];		/* informational exceptions
						   page, bytes 2-11 */
	bool		 lun_sanitize_failed;	/* until EXIT FAILURE MODE */
	/* Its Lun line as opened (cl_path NULL: see lun_path), which a
	 * reload compares with the line it reads. */
	struct conf_lun	 lun_cl;
	struct sanitize_job *lun_sanitize;	/* running (sanitize.c) */
	/*
	 * The lock the I/O threads' reads and writes (bgio.c) share and
	 * that commands which must be atomic against them (COMPARE AND
	 * WRITE, ORWRITE, WRITE ATOMIC) take alone (lun_exclusive).  Each
	 * job holds a reference to the LUN while it runs.
	 */
	pthread_rwlock_t lun_rw;
	bool		 lun_memory;		/* a file on tmpfs or ramfs */
	bool		 lun_no_nowait;		/* RWF_NOWAIT read: EOPNOTSUPP */
	bool		 lun_no_nowait_write;	/* and write */
};

struct lun_target {
	uint32_t	 lt_tid;
	char		*lt_name;
	struct lun	**lt_luns;		/* sorted by lun_id */
	size_t		 lt_nluns;
};

struct lun_table {
	struct lun_target *lt_targets;
	size_t		   lt_ntargets;
};

/* Open every LUN of every target.  NULL on error, logged as
 * "file:line: path: reason". */
struct lun_table *lun_table_open(const struct conf *);
void	lun_table_free(struct lun_table *);	/* drops the table's refs */
/* Open one LUN of a target as start-up does; NULL on error, logged as
 * "file:line: path: reason".  The caller holds the one reference. */
struct lun *lun_new(const struct conf *, const struct conf_target *,
	    const struct conf_lun *);
struct lun *lun_ref(struct lun *);
void	lun_unref(struct lun *);	/* the last one closes and frees */
/* Put lun into lt_luns (taking over the caller's reference) or take it
 * out (the caller then owns the table's reference).  -1: no memory. */
int	lun_target_add(struct lun_target *, struct lun *);
void	lun_target_remove(struct lun_target *, struct lun *);
/* The size of the backing store now, in blocks of the LUN (nullio: the
 * configured Sectors).  -1 (errno) if it cannot be read. */
int	lun_size(const struct lun *, const struct conf_lun *,
	    uint64_t *nblocks);
struct lun_target *lun_target_find(const struct lun_table *, uint32_t tid);
struct lun *lun_find(const struct lun_target *, uint64_t lun_id);
/* The LUN of any target whose NAA designator (VPD 0x83) is naa[8], in
 * the table io serves; for the copy manager. */
struct lun *lun_find_naa(const uint8_t *naa);

/* Byte-addressed I/O; 0 or -1 with errno (EIO, ENOSPC, ...). */
int	lun_read(struct lun *, void *, size_t len, uint64_t off);
int	lun_write(struct lun *, const void *, size_t len, uint64_t off);
/* lun_write without the flush a write-through LUN (IOMode=wt, or WCE 0)
 * needs after every write; lun_write_syncs says whether it does. */
int	lun_write_nosync(struct lun *, const void *, size_t len, uint64_t off);
bool	lun_write_syncs(const struct lun *);
/* Can this I/O go straight to an O_DIRECT LUN (no bounce buffer)? */
bool	lun_aligned(const struct lun *, const void *, size_t len, uint64_t off);
/*
 * Read without waiting for a disk: 0 when done, or -1 with errno EAGAIN
 * (it would wait: hand it to an I/O thread) or another error.  A file on
 * tmpfs is memory: the read is done at once.  A store that cannot tell
 * (NFS and FUSE answer RWF_NOWAIT with EOPNOTSUPP) always gets EAGAIN.
 * lun_cached: does the page cache hold all of the range (true when the
 * kernel cannot say: no cachestat(2))?
 */
int	lun_read_nowait(struct lun *, void *, size_t len, uint64_t off);
/*
 * lun_write_nosync likewise: 0 when done, or -1 with errno EAGAIN and
 * *done bytes written (a thread writes the rest, which an O_DIRECT LUN
 * always leaves to one), or another error.  Unaligned O_DIRECT writes
 * (read, modify, write) and writes to tmpfs are done at once.
 */
int	lun_write_nowait(struct lun *, const void *, size_t len, uint64_t off,
	    size_t *done);
bool	lun_cached(struct lun *, uint64_t off, size_t len);
/*
 * Are the LUN's writes made at once in the event loop (tmpfs, and a
 * local file system that cannot say whether a write would wait)?  Then
 * lun_write_pipe may take their data from a pipe: splice(2) moves it
 * from there into the file, one copy fewer than pwrite from a buffer.
 */
bool	lun_write_inloop(const struct lun *);
int	lun_write_pipe(struct lun *, int pipefd, size_t len, uint64_t off);
/*
 * The whole of [off, off + len) of a descriptor of a backing store (EIO
 * if it ends first; a write ENOSPC if nothing more goes in), and its
 * fdatasync; for the I/O threads, which hold
 * their own descriptor (bgio.c).
 */
int	lun_fd_read(int fd, void *, size_t len, uint64_t off);
int	lun_fd_write(int fd, const void *, size_t len, uint64_t off);
int	lun_fd_sync(int fd);
/* Hold off the I/O threads' reads and writes of the LUN (see lun_rw). */
void	lun_exclusive(struct lun *);
void	lun_exclusive_end(struct lun *);
/*
 * A READ's Data-In: when the caller allows it (sc_ref_ok) and the LUN
 * has a backing file, only note where the data is (sc_ref) so that it
 * is sent straight from there; otherwise lun_read into sc_buf.
 */
struct scsi_cmd;
int	lun_read_datain(struct lun *, struct scsi_cmd *, size_t len,
	    uint64_t off);
int	lun_sync(struct lun *);
/* Allocate [off, off + len) of a thin file LUN ahead of a write that
 * must not fail halfway for want of space (ENOSPC); else a no-op. */
int	lun_reserve(struct lun *, uint64_t off, uint64_t len);
/* Deallocate [off, off + len) of a thin LUN (hole punch or discard). */
int	lun_unmap(struct lun *, uint64_t off, uint64_t len);
/* From off: is the extent mapped, and how many bytes long is it. */
int	lun_extent(struct lun *, uint64_t off, bool *mapped, uint64_t *len);
/* Hint that [off, off + len) will be read soon. */
void	lun_prefetch(struct lun *, uint64_t off, uint64_t len);
int	lun_sync_all(struct lun_table *);

#endif
