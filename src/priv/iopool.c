/*
 * iopool.c: the io process's blocking-call threads (see iopool.h).
 *
 * Queues under one mutex: jobs to run (a condition variable wakes the
 * threads) and, one per reactor thread, jobs done (an eventfd wakes that
 * reactor).  A thread
 * touches only the job it took; the submitter owns the job again once
 * iop_done runs.  Whether a job is still queued (iop_queued) changes
 * under the mutex too, so that iopool_withdraw can take it back.  The
 * threads live as long as io: its exit ends them.
 */
#include <sys/eventfd.h>
#include <poll.h>
#include <sys/queue.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "priv/iopool.h"

TAILQ_HEAD(iop_list, iopool_job);

/* Where jobs complete: done is the pool's (mtx), busy its reactor's. */
struct iopool_cq {
	struct iop_list		 cq_done;
	int			 cq_efd;
	unsigned		 cq_busy;	/* submitted - reaped */
	struct iopool_cq	*cq_next;	/* every queue, for drain */
};

static struct {
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cv;
	struct iop_list	 todo;
	struct iopool_cq first;		/* the main thread's */
	struct iopool_cq *cqs;		/* every queue, first the last */
	unsigned	 size;		/* threads to start */
	bool		 on;
} pool = {
	.mtx = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
	.todo = TAILQ_HEAD_INITIALIZER(pool.todo),
	.first = { TAILQ_HEAD_INITIALIZER(pool.first.cq_done), -1, 0, NULL },
	.cqs = &pool.first,
	.size = CONF_WTHREADS_DEFAULT,
};

static __thread struct iopool_cq *iop_self;

static struct iopool_cq *
iop_cq(void)
{
	return (iop_self != NULL ? iop_self : &pool.first);
}

static void
iop_run(struct iopool_job *j)
{
	j->iop_err = j->iop_fn(j) == -1 ? (errno != 0 ? errno : EIO) : 0;
}

static void *
iop_thread(void *arg)
{
	struct iopool_job	*j;
	struct iopool_cq	*cq;
	uint64_t		 one = 1;
	bool			 wake;

	pthread_setname_np(pthread_self(), "ietd-iothread");
	for (;;) {
		pthread_mutex_lock(&pool.mtx);
		while ((j = TAILQ_FIRST(&pool.todo)) == NULL)
			pthread_cond_wait(&pool.cv, &pool.mtx);
		TAILQ_REMOVE(&pool.todo, j, iop_entry);
		j->iop_queued = false;
		pthread_mutex_unlock(&pool.mtx);
		iop_run(j);
		pthread_mutex_lock(&pool.mtx);
		/*
		 * Wake the reactor for the first job done only: it reads the
		 * eventfd before it takes the list, so whatever follows the
		 * first before it takes the list goes with it.
		 */
		cq = j->iop_cq;
		wake = TAILQ_EMPTY(&cq->cq_done);
		TAILQ_INSERT_TAIL(&cq->cq_done, j, iop_entry);
		pthread_mutex_unlock(&pool.mtx);
		/* A full counter (never, 2^64 - 2) would only delay a wakeup. */
		if (wake && write(cq->cq_efd, &one, sizeof(one)) == -1)
			continue;
	}
	return (NULL);
}

void
iopool_size(unsigned n)
{
	pool.size = n;
}

void
iopool_start(void)
{
	pthread_attr_t	 attr;
	pthread_t	 t;
	sigset_t	 all, old;
	int		 i, started = 0;

	if ((pool.first.cq_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) ==
	    -1) {
		log_warn("io: eventfd: backing I/O stays synchronous");
		return;
	}
	/* Signals are the reactor's: the threads block them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (i = 0; i < (int)pool.size; i++) {
		if ((errno = pthread_create(&t, &attr, iop_thread, NULL)) != 0) {
			log_warn("io: pthread_create");
			break;
		}
		started++;
	}
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (started == 0) {
		close(pool.first.cq_efd);
		pool.first.cq_efd = -1;
		log_warnx("io: no I/O threads: backing I/O stays synchronous");
		return;
	}
	pool.on = true;
	if ((unsigned)started < pool.size)
		log_warnx("io: %d of %u I/O threads started", started,
		    pool.size);
	log_debug(1, "io: %d I/O threads", started);
}

struct iopool_cq *
iopool_cq_new(void)
{
	struct iopool_cq	*cq;

	if (!pool.on)
		return (NULL);
	if ((cq = calloc(1, sizeof(*cq))) == NULL) {
		log_warn("io: completion queue");
		return (NULL);
	}
	TAILQ_INIT(&cq->cq_done);
	if ((cq->cq_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		log_warn("io: eventfd");
		free(cq);
		return (NULL);
	}
	cq->cq_next = pool.cqs;
	pool.cqs = cq;
	return (cq);
}

void
iopool_attach(struct iopool_cq *cq)
{
	iop_self = cq;
}

int
iopool_cq_fd(const struct iopool_cq *cq)
{
	return (cq->cq_efd);
}

int
iopool_fd(void)
{
	return (pool.on ? iop_cq()->cq_efd : -1);
}

void
iopool_submit(struct iopool_job *j)
{
	if (!pool.on) {
		iop_run(j);
		j->iop_done(j);
		return;
	}
	j->iop_cq = iop_cq();
	j->iop_cq->cq_busy++;
	pthread_mutex_lock(&pool.mtx);
	j->iop_queued = true;
	TAILQ_INSERT_TAIL(&pool.todo, j, iop_entry);
	pthread_cond_signal(&pool.cv);
	pthread_mutex_unlock(&pool.mtx);
}

bool
iopool_withdraw(struct iopool_job *j)
{
	bool	 queued;

	if (!pool.on)
		return (false);		/* it ran in iopool_submit */
	pthread_mutex_lock(&pool.mtx);
	if ((queued = j->iop_queued)) {
		TAILQ_REMOVE(&pool.todo, j, iop_entry);
		j->iop_queued = false;
	}
	pthread_mutex_unlock(&pool.mtx);
	if (queued) {
		j->iop_cq->cq_busy--;
		j->iop_err = ECANCELED;
		j->iop_done(j);
	}
	return (queued);
}

void
iopool_reap(void)
{
	iopool_reap_cq(iop_cq());
}

void
iopool_reap_cq(struct iopool_cq *cq)
{
	struct iop_list		 done = TAILQ_HEAD_INITIALIZER(done);
	struct iopool_job	*j;
	uint64_t		 n;

	if (!pool.on)
		return;
	if (read(cq->cq_efd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_warn("io: I/O threads' eventfd");
	pthread_mutex_lock(&pool.mtx);
	TAILQ_CONCAT(&done, &cq->cq_done, iop_entry);
	pthread_mutex_unlock(&pool.mtx);
	while ((j = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, j, iop_entry);
		cq->cq_busy--;
		j->iop_done(j);
	}
}

static unsigned
iop_busy(void)
{
	struct iopool_cq	*cq;
	unsigned		 n = 0;

	for (cq = pool.cqs; cq != NULL; cq = cq->cq_next)
		n += cq->cq_busy;
	return (n);
}

void
iopool_drain(void)
{
	struct iopool_cq	*cq;
	struct pollfd		 pfd;
	unsigned		 busy;

	if (pool.on && (busy = iop_busy()) > 0)
		log_info("waiting for %u backing store operation(s) to end",
		    busy);
	while (pool.on && iop_busy() > 0) {
		for (cq = pool.cqs; cq != NULL; cq = cq->cq_next) {
			if (cq->cq_busy == 0)
				continue;
			pfd.fd = cq->cq_efd;
			pfd.events = POLLIN;
			if (poll(&pfd, 1, 100) == -1 && errno != EINTR) {
				log_warn("io: waiting for the I/O threads");
				return;
			}
			iopool_reap_cq(cq);
		}
	}
}
