/*
 * reactor.c: io's reactor threads (reactor.h).
 *
 * Reactor 0 is io's main thread (io.c's loop); the others are threads
 * started before io's sandbox forbids new tasks (sandbox_io), which wait
 * until io_init has set up the targets, LUNs and the main reactor.  Each
 * serves the sessions reactor_pick gave it, with its own epoll set, its
 * own completion queue of the I/O threads (iopool.h) and an eventfd that
 * wakes it.  A thread holds its reactor's lock except while it waits for
 * events; io_exclusive takes every reactor's lock (one caller at a time,
 * in index order), so it waits for each to finish its batch or reach an
 * io_exclusive of its own, where it holds nothing.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/queue.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "priv/io.h"
#include "priv/iopool.h"
#include "priv/reactor.h"
#include "priv/session.h"

#define RT_MAX_EVENTS	64

struct reactor {
	struct io_reactor	 rt_r;		/* first */
	pthread_t		 rt_tid;
	bool			 rt_stop;
	struct reactor_fd	 rt_wake;
	struct reactor_fd	 rt_pool;
};

static struct {
	struct io_reactor	*all[CONF_REACTORS_MAX];
	unsigned		 n;		/* running, all[0] is main */
	unsigned		 want;		/* IOThreads */
	unsigned		 next;		/* reactor_pick's first look */
	pthread_mutex_t		 x_mtx;		/* one io_exclusive at once */
	pthread_mutex_t		 go_mtx;
	pthread_cond_t		 go_cv;
	bool			 go;
	struct reactor_fd	 main_wake;
	struct reactor_fd	 main_pool;
} rs = {
	.n = 1,
	.want = 1,
	.x_mtx = PTHREAD_MUTEX_INITIALIZER,
	.go_mtx = PTHREAD_MUTEX_INITIALIZER,
	.go_cv = PTHREAD_COND_INITIALIZER,
};

static __thread struct io_reactor *self;
static __thread bool alone;

static void	*rt_main(void *);
static int	 rt_add_fd(struct io_reactor *, struct reactor_fd *,
		    enum io_kind, int, struct iopool_cq *);

static int
rt_wake_fd(unsigned i)
{
	return (i == 0 ? rs.main_wake.rf_fd :
	    ((struct reactor *)rs.all[i])->rt_wake.rf_fd);
}

void
reactor_size(unsigned n)
{
	rs.want = n < 1 ? 1 : n > CONF_REACTORS_MAX ? CONF_REACTORS_MAX : n;
}

/* One more reactor thread, waiting for reactor_go; NULL if not. */
static struct reactor *
rt_new(unsigned idx, const pthread_attr_t *attr)
{
	struct reactor	*rt;
	int		 fd = -1;

	if ((rt = calloc(1, sizeof(*rt))) == NULL) {
		log_warn("io: reactor %u", idx);
		return (NULL);
	}
	rt->rt_r.r_idx = idx;
	TAILQ_INIT(&rt->rt_r.r_conns);
	TAILQ_INIT(&rt->rt_r.r_dead);
	pthread_mutex_init(&rt->rt_r.r_mtx, NULL);
	if ((rt->rt_r.r_epfd = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    rt_add_fd(&rt->rt_r, &rt->rt_wake, IO_WAKE, fd, NULL) == -1 ||
	    (iopool_fd() != -1 && ((rt->rt_pool.rf_cq = iopool_cq_new()) ==
	    NULL || rt_add_fd(&rt->rt_r, &rt->rt_pool, IO_POOL,
	    iopool_cq_fd(rt->rt_pool.rf_cq), rt->rt_pool.rf_cq) == -1))) {
		log_warn("io: reactor %u", idx);
		goto fail;
	}
	if ((errno = pthread_create(&rt->rt_tid, attr, rt_main, rt)) != 0) {
		log_warn("io: reactor %u: pthread_create", idx);
		goto fail;
	}
	return (rt);
fail:
	/* A completion queue made stays the pool's, unused. */
	if (fd != -1)
		close(fd);
	if (rt->rt_r.r_epfd != -1)
		close(rt->rt_r.r_epfd);
	free(rt);
	return (NULL);
}

void
reactor_threads(void)
{
	pthread_attr_t	 attr;
	sigset_t	 all, old;
	struct reactor	*rt;
	unsigned	 i;

	iopool_start();
	/* Signals are the main thread's: the reactors block them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	for (i = 1; i < rs.want; i++) {
		if ((rt = rt_new(i, &attr)) == NULL)
			break;
		rs.all[i] = &rt->rt_r;
	}
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	rs.n = i;
	if (rs.n < rs.want)
		log_warnx("io: %u of %u reactor threads started", rs.n,
		    rs.want);
}

void
reactor_go(struct io_reactor *m)
{
	unsigned	 i;
	int		 fd;

	m->r_idx = 0;
	pthread_mutex_init(&m->r_mtx, NULL);
	if ((fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    rt_add_fd(m, &rs.main_wake, IO_WAKE, fd, NULL) == -1)
		fatal("io: main reactor's eventfd");
	if (iopool_fd() != -1 && rt_add_fd(m, &rs.main_pool, IO_POOL,
	    iopool_fd(), NULL) == -1)
		fatal("io: epoll_ctl I/O threads");
	rs.all[0] = m;
	session_threads(rs.n);
	for (i = 1; i < rs.n; i++) {
		rs.all[i]->r_luns = m->r_luns;
		rs.all[i]->r_targets = m->r_targets;
		rs.all[i]->r_ntargets = m->r_ntargets;
	}
	self = m;
	pthread_mutex_lock(&m->r_mtx);
	pthread_mutex_lock(&rs.go_mtx);
	rs.go = true;
	pthread_cond_broadcast(&rs.go_cv);
	pthread_mutex_unlock(&rs.go_mtx);
	log_debug(1, "io: %u reactor thread%s", rs.n, rs.n == 1 ? "" : "s");
}

static int
rt_add_fd(struct io_reactor *r, struct reactor_fd *rf, enum io_kind kind,
    int fd, struct iopool_cq *cq)
{
	struct epoll_event	 ev;

	rf->rf_kind = kind;
	rf->rf_fd = fd;
	rf->rf_cq = cq;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = rf;
	return (epoll_ctl(r->r_epfd, EPOLL_CTL_ADD, fd, &ev));
}

static void *
rt_main(void *arg)
{
	struct reactor		*rt = arg;
	struct io_reactor	*r = &rt->rt_r;
	struct epoll_event	 evs[RT_MAX_EVENTS];
	int			 i, n;

	pthread_mutex_lock(&rs.go_mtx);
	while (!rs.go)
		pthread_cond_wait(&rs.go_cv, &rs.go_mtx);
	pthread_mutex_unlock(&rs.go_mtx);
	/* What ps -L and /proc/<io>/task/<tid>/comm show. */
	pthread_setname_np(pthread_self(), "ietd-reactor");
	self = r;
	iopool_attach(rt->rt_pool.rf_cq);
	pthread_mutex_lock(&r->r_mtx);
	while (!rt->rt_stop) {
		pthread_mutex_unlock(&r->r_mtx);
		n = epoll_wait(r->r_epfd, evs, RT_MAX_EVENTS, -1);
		pthread_mutex_lock(&r->r_mtx);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fatal("io: epoll_wait");
		}
		for (i = 0; i < n && !rt->rt_stop; i++)
			reactor_event(evs[i].data.ptr, evs[i].events);
		session_reap(r);
		reactor_batch_end();
	}
	pthread_mutex_unlock(&r->r_mtx);
	session_thread_end();
	return (NULL);
}

void
reactor_event(enum io_kind *kind, uint32_t events)
{
	struct reactor_fd	*rf = (struct reactor_fd *)kind;
	uint64_t		 n;

	switch (*kind) {
	case IO_CONN:
		session_conn_event((struct conn *)kind, events);
		break;
	case IO_POOL:
		if (rf->rf_cq != NULL)
			iopool_reap_cq(rf->rf_cq);
		else
			iopool_reap();
		break;
	case IO_WAKE:
		if (read(rf->rf_fd, &n, sizeof(n)) == -1 && errno != EAGAIN)
			log_warn("io: reactor eventfd");
		break;
	default:
		break;
	}
}

void
io_exclusive(void)
{
	unsigned	 i;

	if (alone || rs.n <= 1)
		return;
	pthread_mutex_unlock(&self->r_mtx);
	pthread_mutex_lock(&rs.x_mtx);
	for (i = 0; i < rs.n; i++)
		pthread_mutex_lock(&rs.all[i]->r_mtx);
	alone = true;
}

bool
io_alone(void)
{
	return (alone || rs.n <= 1);
}

void
reactor_batch_end(void)
{
	uint64_t	 one = 1;
	unsigned	 i;

	if (!alone)
		return;
	alone = false;
	for (i = 0; i < rs.n; i++) {
		if (rs.all[i] == self)
			continue;
		/*
		 * Wake a reactor whose held tasks may run now (a task of
		 * its was aborted), and the main one, which paces the
		 * background jobs this batch may have started.
		 */
		if ((i == 0 || rs.all[i]->r_release) &&
		    write(rt_wake_fd(i), &one, sizeof(one)) == -1)
			log_warn("io: waking reactor %u", i);
		pthread_mutex_unlock(&rs.all[i]->r_mtx);
	}
	pthread_mutex_unlock(&rs.x_mtx);
}

struct io_reactor *
reactor_pick(void)
{
	struct io_reactor	*best = NULL, *r;
	unsigned		 i;

	for (i = 0; i < rs.n; i++) {
		r = rs.all[(rs.next + i) % rs.n];
		if (best == NULL || r->r_nconns < best->r_nconns)
			best = r;
	}
	rs.next = (best->r_idx + 1) % rs.n;
	return (best);
}

void
reactor_each_conn(void (*fn)(struct conn *))
{
	struct conn	*c, *next;
	unsigned	 i;

	for (i = 0; i < rs.n; i++)
		for (c = TAILQ_FIRST(&rs.all[i]->r_conns); c != NULL;
		    c = next) {
			next = session_conn_next(c);
			fn(c);
		}
}

/* Shutdown: the main reactor takes over r's connections and jobs. */
static void
rt_adopt(struct io_reactor *m, struct reactor *rt)
{
	struct io_reactor	*r = &rt->rt_r;
	struct epoll_event	 ev;

	session_adopt(m, r);
	if (rt->rt_pool.rf_cq != NULL) {
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.ptr = &rt->rt_pool;
		if (epoll_ctl(m->r_epfd, EPOLL_CTL_ADD, rt->rt_pool.rf_fd,
		    &ev) == -1)
			log_warn("io: epoll_ctl reactor %u's jobs", r->r_idx);
	}
	close(r->r_epfd);
	close(rt->rt_wake.rf_fd);
}

void
reactor_stop(void)
{
	struct io_reactor	*m = rs.all[0];
	struct reactor		*rt;
	uint64_t		 one = 1;
	unsigned		 i, n = rs.n;

	if (n <= 1)
		return;
	io_exclusive();
	for (i = 1; i < n; i++) {
		rt = (struct reactor *)rs.all[i];
		rt->rt_stop = true;
		if (write(rt->rt_wake.rf_fd, &one, sizeof(one)) == -1)
			log_warn("io: stopping reactor %u", i);
	}
	reactor_batch_end();
	/* A reactor may finish its batch with an io_exclusive: let it. */
	pthread_mutex_unlock(&m->r_mtx);
	for (i = 1; i < n; i++)
		pthread_join(((struct reactor *)rs.all[i])->rt_tid, NULL);
	pthread_mutex_lock(&m->r_mtx);
	rs.n = 1;
	for (i = 1; i < n; i++)
		rt_adopt(m, (struct reactor *)rs.all[i]);
	log_debug(1, "io: reactor threads stopped");
}
