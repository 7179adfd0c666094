/*
 * bgio.c: the backing store calls of SCSI commands that run on io's I/O
 * threads (iopool.h), so that a slow disk or file server delays only the
 * commands that wait for it: flushes (SYNCHRONIZE CACHE, FUA, write-
 * through LUNs); reads and writes of O_DIRECT (blockio) LUNs, which
 * always wait for the device; and reads and writes of file LUNs that
 * would wait (RWF_NOWAIT says EAGAIN, or the file system cannot tell:
 * ext4's writes, NFS, FUSE), while a file on tmpfs is memory and never
 * waits.
 *
 * A job owns a duplicate of the LUN's descriptor, so that it stays valid
 * and names the same file however long the job waits for a thread, and a
 * reference to the LUN.  A cancelled job (ABORT TASK, a lost session)
 * that no thread has started is taken back.  Otherwise a flush ends
 * unheard; a read still fills the command's buffer and a write still
 * reads it, so the transport keeps the command until sc_done
 * (bgio_cancel returns true).  A write must also have no effect after
 * its abort is answered: its LUN is fenced until it ends (scsi.c), which
 * parks every later command for the LUN meanwhile, from any initiator.
 */
#include <sys/types.h>

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "priv/iopool.h"
#include "priv/reactor.h"
#include "priv/scsi.h"
#include "priv/scsi_impl.h"

enum bg_kind { BG_FLUSH, BG_READ, BG_WRITE };

struct bgio {
	struct iopool_job	 b_job;
	enum bg_kind		 b_kind;
	struct lun		*b_lun;		/* a reference (lun_ref) */
	int			 b_fd;		/* a dup of its lun_fd */
	struct scsi_cmd		*b_cmd;
	bool			 b_cancelled;
	bool			 b_fence;	/* a cancelled write fences b_lun */
	uint8_t			*b_buf;
	size_t			 b_len;
	uint64_t		 b_off;
	void			*b_own;		/* b_buf, an aligned bounce buffer
						   of an O_DIRECT LUN's job */
	bool			 b_sync;	/* write: then fdatasync */
	const char		*b_failed;	/* write: the call that did */
};

/* On an I/O thread: the flush, or the whole read, or -1 with errno. */
static int
bg_flush(struct iopool_job *j)
{
	struct bgio	*b = j->iop_arg;

	return (lun_fd_sync(b->b_fd));
}

static int
bg_read(struct iopool_job *j)
{
	struct bgio	*b = j->iop_arg;
	int		 rv, serrno;

	pthread_rwlock_rdlock(&b->b_lun->lun_rw);
	rv = lun_fd_read(b->b_fd, b->b_buf, b->b_len, b->b_off);
	serrno = errno;
	pthread_rwlock_unlock(&b->b_lun->lun_rw);
	errno = serrno;
	return (rv);
}

static int
bg_write(struct iopool_job *j)
{
	struct bgio	*b = j->iop_arg;
	int		 rv, serrno;

	pthread_rwlock_rdlock(&b->b_lun->lun_rw);
	b->b_failed = "write";
	rv = lun_fd_write(b->b_fd, b->b_buf, b->b_len, b->b_off);
	if (rv == 0 && b->b_sync) {
		b->b_failed = "fdatasync";
		rv = lun_fd_sync(b->b_fd);
	}
	serrno = errno;
	pthread_rwlock_unlock(&b->b_lun->lun_rw);
	errno = serrno;
	return (rv);
}

/* The answer of a job that ended (err: 0 or its errno). */
static void
bg_answer(struct scsi_cmd *cmd, const struct bgio *b, int err)
{
	errno = err;
	if (err == 0)
		scsi_good(cmd);
	else if (b->b_kind == BG_FLUSH)
		scsi_write_error(cmd, "fdatasync");
	else if (b->b_kind == BG_WRITE)
		scsi_write_error(cmd, b->b_failed);
	else {
		log_warn("%s: read", b->b_lun->lun_path);
		scsi_sense(cmd, SKEY_MEDIUM_ERROR, ASC_READ_ERROR, 0);
	}
}

static void
bg_done(struct iopool_job *j)
{
	struct bgio	*b = j->iop_arg;
	struct scsi_cmd	*cmd;
	struct lun	*lun = b->b_lun;
	bool		 fence;

	/*
	 * Only a READ or WRITE that nobody cancelled ends alongside the
	 * other reactors (reactor.h); a cancel may come meanwhile, so the
	 * job is read again after.
	 */
	if (b->b_cancelled || b->b_cmd == NULL ||
	    !scsi_cdb_parallel(b->b_cmd->sc_cdb))
		io_exclusive();
	cmd = b->b_cmd;
	fence = b->b_fence;

	close(b->b_fd);
	if (cmd != NULL) {
		cmd->sc_job = NULL;
		cmd->sc_pending = false;
		/* A read through an aligned buffer: into the command's. */
		if (!b->b_cancelled && b->b_kind == BG_READ &&
		    b->b_own != NULL && j->iop_err == 0)
			memcpy(cmd->sc_buf, b->b_own, b->b_len);
		if (!b->b_cancelled)	/* else only sc_done, which frees */
			bg_answer(cmd, b, j->iop_err);
		cmd->sc_done(cmd);
	}
	free(b->b_own);
	free(b);
	if (fence && --lun->lun_fence == 0) {
		log_debug(1, "%s: the aborted write has landed", lun->lun_path);
		scsi_fence_lifted(lun);
	}
	/* Last: the command used the LUN (a reload may have removed it). */
	lun_unref(lun);
}

/* A job for cmd's LUN, with its own descriptor; NULL: do it at once. */
static struct bgio *
bg_new(struct scsi_cmd *cmd, enum bg_kind kind)
{
	struct bgio	*b;

	if (cmd->sc_done == NULL || iopool_fd() == -1 ||
	    (b = calloc(1, sizeof(*b))) == NULL)
		return (NULL);
	if ((b->b_fd = fcntl(cmd->sc_lun->lun_fd, F_DUPFD_CLOEXEC, 0)) ==
	    -1) {
		free(b);
		return (NULL);
	}
	b->b_kind = kind;
	b->b_lun = cmd->sc_lun;
	b->b_cmd = cmd;
	b->b_job.iop_done = bg_done;
	b->b_job.iop_arg = b;
	return (b);
}

static void
bg_submit(struct scsi_cmd *cmd, struct bgio *b)
{
	lun_ref(b->b_lun);
	cmd->sc_job = b;
	cmd->sc_pending = true;
	iopool_submit(&b->b_job);
}

void
bgio_flush(struct scsi_cmd *cmd)
{
	struct lun	*lun = cmd->sc_lun;
	struct bgio	*b;

	if (lun->lun_fd == -1 || lun->lun_readonly) {
		scsi_good(cmd);
		return;
	}
	if ((b = bg_new(cmd, BG_FLUSH)) == NULL) {
		if (lun_sync(lun) == -1)
			scsi_write_error(cmd, "fdatasync");
		else
			scsi_good(cmd);
		return;
	}
	b->b_job.iop_fn = bg_flush;
	bg_submit(cmd, b);
}

/* Read [buf, +len) at off on an I/O thread, answered as READ; own: an
 * aligned buffer to read into instead, copied to buf at the end. */
static bool
bg_read_start(struct scsi_cmd *cmd, uint8_t *buf, size_t len, uint64_t off,
    void *own)
{
	struct bgio	*b;

	if ((b = bg_new(cmd, BG_READ)) == NULL) {
		free(own);
		return (false);
	}
	b->b_job.iop_fn = bg_read;
	b->b_buf = own != NULL ? own : buf;
	b->b_own = own;
	b->b_len = len;
	b->b_off = off;
	bg_submit(cmd, b);
	return (true);
}

/*
 * A whole-block O_DIRECT transfer whose buffer is not aligned (a short
 * one in a small buffer): an aligned bounce buffer, a copy of buf for a
 * write, or NULL (then done at once, as lun.c does, read-modify-write).
 */
static void *
bg_aligned(const struct lun *lun, const void *buf, size_t len, uint64_t off,
    bool copy)
{
	void	*b;

	if (!lun->lun_direct || (uintptr_t)buf % lun->lun_align == 0 ||
	    len % lun->lun_align != 0 || off % lun->lun_align != 0 ||
	    posix_memalign(&b, lun->lun_align, len) != 0)
		return (NULL);
	return (copy ? memcpy(b, buf, len) : b);
}

/*
 * O_DIRECT LUNs always wait for the device: aligned reads go to a
 * thread.  A file LUN is asked first without waiting (RWF_NOWAIT): what
 * the page cache can serve is read at once, the rest on a thread; a read
 * that would be sent from the file (sendfile) is, if the page cache holds
 * all of it.  False: do it at once, as without threads.
 */
bool
bgio_read(struct scsi_cmd *cmd, uint64_t off)
{
	struct lun	*lun = cmd->sc_lun;
	size_t		 len = cmd->sc_xfer_len;
	void		*own;

	if (lun->lun_fd == -1 || len == 0 || cmd->sc_done == NULL ||
	    iopool_fd() == -1)
		return (false);
	if (lun->lun_direct) {
		if (lun_aligned(lun, cmd->sc_buf, len, off))
			return (bg_read_start(cmd, cmd->sc_buf, len, off,
			    NULL));
		own = bg_aligned(lun, cmd->sc_buf, len, off, false);
		return (own != NULL && bg_read_start(cmd, cmd->sc_buf, len,
		    off, own));
	}
	if (cmd->sc_ref_ok && lun_cached(lun, off, len))
		return (false);
	if (lun_read_nowait(lun, cmd->sc_buf, len, off) == 0) {
		scsi_good(cmd);
		return (true);
	}
	if (errno == EAGAIN)
		return (bg_read_start(cmd, cmd->sc_buf, len, off, NULL));
	log_warn("%s: read", lun->lun_path);
	scsi_sense(cmd, SKEY_MEDIUM_ERROR, ASC_READ_ERROR, 0);
	return (true);
}

/* Write [buf, +len) at off on an I/O thread, then answer as WRITE; own:
 * buf is an aligned copy for the job to free. */
static bool
bg_write_start(struct scsi_cmd *cmd, const uint8_t *buf, size_t len,
    uint64_t off, bool sync, void *own)
{
	struct bgio	*b;

	if ((b = bg_new(cmd, BG_WRITE)) == NULL)
		return (false);
	b->b_job.iop_fn = bg_write;
	b->b_buf = (uint8_t *)(uintptr_t)buf;
	b->b_len = len;
	b->b_off = off;
	b->b_sync = sync;
	b->b_own = own;
	bg_submit(cmd, b);
	return (true);
}

/* The WRITE's answer once all of it is written: GOOD, or after a flush. */
static void
bg_written(struct scsi_cmd *cmd, bool sync)
{
	if (sync)
		bgio_flush(cmd);
	else
		scsi_good(cmd);
}

/*
 * WRITE: what can be written without waiting is, at once; the rest on a
 * thread; sync: then flush (FUA, write-through).  False: nothing was
 * done, write it at once, as without threads.
 */
bool
bgio_write(struct scsi_cmd *cmd, uint64_t off, bool sync)
{
	struct lun	*lun = cmd->sc_lun;
	const uint8_t	*buf = cmd->sc_buf;
	size_t		 len = cmd->sc_xfer_len, done;
	void		*own;

	if (lun->lun_fd == -1 || lun->lun_memory || len == 0 ||
	    cmd->sc_done == NULL || iopool_fd() == -1)
		return (false);
	if ((own = bg_aligned(lun, buf, len, off, true)) != NULL)
		buf = own;
	if (lun_write_nowait(lun, buf, len, off, &done) == 0) {
		free(own);
		bg_written(cmd, sync);
		return (true);
	}
	if (errno != EAGAIN) {
		free(own);
		scsi_write_error(cmd, "write");
		return (true);
	}
	if (bg_write_start(cmd, buf + done, len - done, off + done, sync,
	    own))
		return (true);
	/* No job (out of memory, descriptors): the rest at once. */
	if (lun_fd_write(lun->lun_fd, buf + done, len - done, off + done) ==
	    -1)
		scsi_write_error(cmd, "write");
	else
		bg_written(cmd, sync);
	free(own);
	return (true);
}

bool
bgio_cancel(struct scsi_cmd *cmd)
{
	struct bgio	*b = cmd->sc_job;

	cmd->sc_job = NULL;
	b->b_cmd = NULL;
	if (iopool_withdraw(&b->b_job))
		return (false);		/* it never ran, and is freed */
	if (b->b_kind == BG_FLUSH)
		return (false);		/* it ends unheard */
	b->b_cmd = cmd;
	b->b_cancelled = true;
	if (b->b_kind == BG_WRITE) {
		log_debug(1, "%s: a write of an aborted command still runs: "
		    "the LUN's commands wait for it", b->b_lun->lun_path);
		b->b_fence = true;
		b->b_lun->lun_fence++;
	}
	return (true);
}
