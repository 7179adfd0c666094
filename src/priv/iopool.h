/*
 * iopool.h: a few threads of io that run the backing-store calls that
 * can block for long (fdatasync of a big dirty cache, a slow NFS server
 * or array), so that the reactor keeps serving every other command,
 * LUN and session meanwhile.
 *
 * The threads only make the system call: a job is handed over with
 * iopool_submit and its iop_done runs later on the thread that submitted
 * it, from iopool_reap, when that thread's completion queue's eventfd
 * (iopool_fd) is readable.  Each reactor thread has its own completion
 * queue (iopool_attach); a thread that attached none uses the pool's
 * first.  Nothing else is shared between the threads and the reactors.
 * Without a pool (iopool_start not called, or it failed) iopool_submit
 * runs the call at once and iop_done before it returns.
 */
#ifndef IETD_IOPOOL_H
#define IETD_IOPOOL_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stdint.h>

struct iopool_cq;

struct iopool_job {
	TAILQ_ENTRY(iopool_job)	 iop_entry;
	bool			 iop_queued;	/* the pool's */
	/* On a thread: 0, or -1 with errno. */
	int			(*iop_fn)(struct iopool_job *);
	int			 iop_err;	/* out: 0 or errno */
	void			(*iop_done)(struct iopool_job *);
	void			*iop_arg;	/* the submitter's */
	struct iopool_cq	*iop_cq;	/* where it completes */
};

/* How many threads iopool_start starts (Wthreads); before it. */
void	iopool_size(unsigned);
/* Start the threads (io calls this from its sandbox, see sandbox_io). */
void	iopool_start(void);
/*
 * A completion queue for another reactor thread (NULL: out of
 * descriptors or memory, logged), and the queue the calling thread's
 * jobs complete to from now on.
 */
struct iopool_cq *iopool_cq_new(void);
void	iopool_attach(struct iopool_cq *);
int	iopool_cq_fd(const struct iopool_cq *);
/* The calling thread's eventfd to poll for completions, or -1 without a
 * pool. */
int	iopool_fd(void);
void	iopool_submit(struct iopool_job *);
/*
 * Take back a job that no thread has started: its iop_done runs at once,
 * with iop_err ECANCELED, and this returns true.  False: its call runs,
 * or has run, and iop_done will come from iopool_reap.
 */
bool	iopool_withdraw(struct iopool_job *);
/* Run the iop_done of every finished job of the calling thread's queue,
 * or of cq. */
void	iopool_reap(void);
void	iopool_reap_cq(struct iopool_cq *);
/* Wait for every job submitted and reap it, whichever queue it completes
 * to (io's shutdown, once the other reactors have stopped). */
void	iopool_drain(void);

#endif
