/*
 * iopool.c: the io process's blocking-call threads (see iopool.h).
 *
 * Two queues under one mutex: jobs to run (a condition variable wakes
 * the threads) and jobs done (an eventfd wakes the reactor).  A thread
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
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "priv/iopool.h"

TAILQ_HEAD(iop_list, iopool_job);

static struct {
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cv;
	struct iop_list	 todo;
	struct iop_list	 done;
	int		 efd;
	unsigned	 busy;		/* reactor side: submitted - reaped */
	unsigned	 size;		/* threads to start */
	bool		 on;
} pool = {
	.mtx = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
	.todo = TAILQ_HEAD_INITIALIZER(pool.todo),
	.done = TAILQ_HEAD_INITIALIZER(pool.done),
	.efd = -1,
	.size = CONF_WTHREADS_DEFAULT,
};

static void
iop_run(struct iopool_job *j)
{
	j->iop_err = j->iop_fn(j) == -1 ? (errno != 0 ? errno : EIO) : 0;
}

static void *
iop_thread(void *arg)
{
	struct iopool_job	*j;
	uint64_t		 one = 1;
	bool			 wake;

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
		wake = TAILQ_EMPTY(&pool.done);
		TAILQ_INSERT_TAIL(&pool.done, j, iop_entry);
		pthread_mutex_unlock(&pool.mtx);
		/* A full counter (never, 2^64 - 2) would only delay a wakeup. */
		if (wake && write(pool.efd, &one, sizeof(one)) == -1)
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

	if ((pool.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
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
		close(pool.efd);
		pool.efd = -1;
		log_warnx("io: no I/O threads: backing I/O stays synchronous");
		return;
	}
	pool.on = true;
	if ((unsigned)started < pool.size)
		log_warnx("io: %d of %u I/O threads started", started,
		    pool.size);
	log_debug(1, "io: %d I/O threads", started);
}

int
iopool_fd(void)
{
	return (pool.on ? pool.efd : -1);
}

void
iopool_submit(struct iopool_job *j)
{
	pool.busy++;
	if (!pool.on) {
		iop_run(j);
		pool.busy--;
		j->iop_done(j);
		return;
	}
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
		pool.busy--;
		j->iop_err = ECANCELED;
		j->iop_done(j);
	}
	return (queued);
}

void
iopool_reap(void)
{
	struct iop_list		 done = TAILQ_HEAD_INITIALIZER(done);
	struct iopool_job	*j;
	uint64_t		 n;

	if (!pool.on)
		return;
	if (read(pool.efd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_warn("io: I/O threads' eventfd");
	pthread_mutex_lock(&pool.mtx);
	TAILQ_CONCAT(&done, &pool.done, iop_entry);
	pthread_mutex_unlock(&pool.mtx);
	while ((j = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, j, iop_entry);
		pool.busy--;
		j->iop_done(j);
	}
}

void
iopool_drain(void)
{
	struct pollfd	 pfd;

	if (pool.on && pool.busy > 0)
		log_info("waiting for %u backing store operation(s) to end",
		    pool.busy);
	while (pool.on && pool.busy > 0) {
		pfd.fd = pool.efd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, -1) == -1 && errno != EINTR) {
			log_warn("io: waiting for the I/O threads");
			return;
		}
		iopool_reap();
	}
}
