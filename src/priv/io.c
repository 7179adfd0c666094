/*
 * io.c: the io process's event loop.  It takes worker channels from the
 * parent, judges MSG_W_ADMIT (TSIH allocation, reinstatement, MaxSessions)
 * and accepts a MSG_W_HANDOFF only when it matches a verdict io gave that
 * same channel (the OpenSSH monitor pattern).  Nothing a worker says is
 * trusted when io can check it: strings, target, parameters and the
 * handed-off socket itself.
 */
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include <bsd/string.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acl.h"
#include "conf.h"
#include "ipc.h"
#include "log.h"
#include "param.h"
#include "pdu.h"
#include "util.h"
#include "priv/auth.h"
#include "priv/io.h"
#include "priv/iopool.h"
#include "priv/reactor.h"
#include "priv/lun.h"
#include "priv/reload.h"
#include "priv/session.h"

#define IO_MAX_EVENTS		64
#define IO_FLUSH_MSEC		2000	/* shutdown: flush bound */
#define IO_LOGOUT_SEC		5	/* shutdown: wait for logouts */

/* io's end of one worker's channel, and the verdict io gave it. */
struct io_worker {
	enum io_kind		 w_kind;	/* IO_WORKER: first */
	TAILQ_ENTRY(io_worker)	 w_entry;
	int			 w_fd;
	uint32_t		 w_id;
	char			 w_addr[ADDRSTRLEN];
	struct sockaddr_storage	 w_peer;	/* as the parent accepted it */
	bool			 w_access_asked; /* ACCESS seen (once) */
	bool			 w_asked;	/* ADMIT seen (once) */
	bool			 w_admitted;	/* verdict: admitted */
	bool			 w_tsih_held;	/* w_tsih is ours */
	struct session		*w_sess;	/* held: adding a connection */
	bool			 w_later;	/* verdict waits for a handoff */
	struct msg_w_admit	 w_later_a;	/* ... of the session it adds to */
	uint8_t			 w_isid[6];
	uint16_t		 w_tsih;
	uint16_t		 w_cid;
	uint32_t		 w_tid;
	char			 w_initiator[ISCSI_NAME_MAX];
	struct auth_state	 w_auth;	/* CHAP verdict (auth.c) */
};
TAILQ_HEAD(io_workers, io_worker);

struct io_parent {
	enum io_kind		 p_kind;	/* IO_PARENT: first */
	int			 p_fd;
};

/* A timerfd that ticks once a second (NOP-In pings). */
struct io_timer {
	enum io_kind		 t_kind;	/* IO_TIMER: first */
	int			 t_fd;
};

struct io {
	struct io_reactor	 io_r;
	struct io_parent	 io_parent;
	struct io_timer		 io_timer;
	struct io_workers	 io_workers;
	struct io_workers	 io_dead;	/* freed after each batch */
	struct conf		*io_conf;
	bool			 io_stop;
};

static const struct ipc_rule io_parent_rules[] = {
	{ MSG_P_WORKER, sizeof(struct msg_p_worker),
	    sizeof(struct msg_p_worker), true },
	{ MSG_P_GONE, sizeof(struct msg_p_gone), sizeof(struct msg_p_gone),
	    false },
	{ MSG_P_SHUTDOWN, 0, 0, false },
	{ MSG_P_RELOAD, 0, 0, false },
};

static const struct ipc_rule io_worker_rules[] = {
	{ MSG_W_ADMIT, sizeof(struct msg_w_admit), sizeof(struct msg_w_admit),
	    false },
	{ MSG_W_HANDOFF, sizeof(struct msg_w_handoff),
	    sizeof(struct msg_w_handoff), true },
	{ MSG_W_AUTH_CHALLENGE, sizeof(struct msg_w_auth_challenge),
	    sizeof(struct msg_w_auth_challenge), false },
	{ MSG_W_AUTH_RESPONSE, sizeof(struct msg_w_auth_response),
	    sizeof(struct msg_w_auth_response), false },
	{ MSG_W_ACCESS, sizeof(struct msg_w_access),
	    sizeof(struct msg_w_access), false },
};

static void	io_init(struct io *, int, struct conf *, struct lun_table *);
static void	io_loop(struct io *);
static void	io_parent_event(struct io *);
static void	io_worker_new(struct io *, struct ipc_msg *);
static void	io_worker_drop(struct io *, struct io_worker *,
		    const char *);
static void	io_worker_drain(struct io *, struct io_worker *);
static int	io_worker_read(struct io *, struct io_worker *);
static void	io_admit(struct io *, struct io_worker *,
		    const struct msg_w_admit *);
static uint32_t	io_admit_judge(struct io *, struct io_worker *,
		    const struct msg_w_admit *, uint16_t *);
static uint32_t	io_admit_conn(struct io *, struct io_worker *,
		    struct io_target *, const struct msg_w_admit *, uint16_t *);
static struct session *io_admit_find(struct io *, struct io_target *,
		    const struct msg_w_admit *, bool *);
static struct io_worker *io_admit_lead(struct io *,
		    const struct msg_w_admit *);
static void	io_admit_retry(struct io *, uint16_t);

#define IO_ADMIT_LATER	0xffffffffU	/* no verdict yet (io_admit_find) */
static void	io_handoff_conn(struct io *, struct io_worker *,
		    const struct msg_w_handoff *, int, const uint32_t *,
		    struct sockaddr_storage *, struct sockaddr_storage *);
static void	io_auth(struct io *, struct io_worker *, struct ipc_msg *);
static void	io_access(struct io *, struct io_worker *, struct ipc_msg *);
static bool	io_access_ok(struct io *, struct io_worker *, const char *,
		    const char *, const struct sockaddr_storage *);
static void	io_handoff(struct io *, struct io_worker *,
		    struct ipc_msg *);
static int	io_handoff_check(struct io *, struct io_worker *,
		    const struct msg_w_handoff *, int,
		    struct sockaddr_storage *, struct sockaddr_storage *);
static bool	io_digest_ok(uint32_t, uint32_t);
static void	io_params_clamp(const uint32_t *, const uint32_t *,
		    uint32_t *);
static struct io_target *io_target_get(struct io *, uint32_t, const char *);
static int	io_tsih_alloc(uint16_t *);
static void	io_reap(struct io *);
static void	io_timer_init(struct io *);
static void	io_tick(struct io *);
static void	io_logout_all(struct io *);
static __dead void io_shutdown(struct io *);

/*
 * Each login allocates a struct conn (35 KiB) and a receive buffer of
 * MaxRecvDataSegmentLength (256 KiB by default), and each logout frees
 * them.  With glibc's sliding thresholds that moved the heap's break up
 * and down on every login (brk twice, page faults, and calloc clearing
 * fresh pages).  Fixed thresholds keep buffers up to IO_MMAP_MAX on the
 * heap and up to IO_TRIM_KEEP of free space at its top: io's resident
 * memory may stay up to that much above what it uses, and only pages
 * that were touched count.
 */
#define IO_MMAP_MAX	(1024 * 1024)
#define IO_TRIM_KEEP	(4 * 1024 * 1024)

static void
io_heap_init(void)
{
	if (mallopt(M_MMAP_THRESHOLD, IO_MMAP_MAX) != 1 ||
	    mallopt(M_TRIM_THRESHOLD, IO_TRIM_KEEP) != 1)
		log_warnx("io: mallopt failed; the heap keeps its defaults");
}

void
io_main(int parent_fd, struct conf *conf, struct lun_table *luns)
{
	struct io	*io;

	log_procinit("io");
	io_heap_init();
	if ((io = calloc(1, sizeof(*io))) == NULL)
		fatal("io: calloc");
	io_init(io, parent_fd, conf, luns);
	if (ipc_send(parent_fd, MSG_I_READY, 0, NULL, 0, -1) == -1)
		fatal("io: send ready");
	log_debug(1, "ready, %zu targets", io->io_r.r_ntargets);
	io_loop(io);
	io_shutdown(io);
}

static void
io_init(struct io *io, int parent_fd, struct conf *conf,
    struct lun_table *luns)
{
	struct io_reactor	*r = &io->io_r;
	struct epoll_event	 ev;
	size_t			 i;

	io->io_conf = conf;
	TAILQ_INIT(&io->io_workers);
	TAILQ_INIT(&io->io_dead);
	r->r_luns = luns;
	TAILQ_INIT(&r->r_conns);
	TAILQ_INIT(&r->r_dead);
	r->r_ntargets = luns->lt_ntargets;
	if ((r->r_targets = calloc(r->r_ntargets + 1,
	    sizeof(*r->r_targets))) == NULL)
		fatal("io: calloc");
	for (i = 0; i < r->r_ntargets; i++) {
		struct io_target *it = &r->r_targets[i];

		it->it_lt = &luns->lt_targets[i];
		it->it_ct = conf_target_find_tid(conf, it->it_lt->lt_tid);
		if (it->it_ct == NULL)
			fatalx("io: target %u not in the configuration",
			    it->it_lt->lt_tid);
		TAILQ_INIT(&it->it_sessions);
	}
	if ((r->r_epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("io: epoll_create1");
	io->io_parent.p_kind = IO_PARENT;
	io->io_parent.p_fd = parent_fd;
	if (set_nonblock(parent_fd) == -1)
		fatal("io: parent channel");
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &io->io_parent;
	if (epoll_ctl(r->r_epfd, EPOLL_CTL_ADD, parent_fd, &ev) == -1)
		fatal("io: epoll_ctl parent");
	io_timer_init(io);
	reactor_go(r);
}

static void
io_timer_init(struct io *io)
{
	struct itimerspec	 its;
	struct epoll_event	 ev;
	int			 fd;

	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd == -1)
		fatal("io: timerfd_create");
	memset(&its, 0, sizeof(its));
	its.it_interval.tv_sec = 1;
	its.it_value.tv_sec = 1;
	if (timerfd_settime(fd, 0, &its, NULL) == -1)
		fatal("io: timerfd_settime");
	io->io_timer.t_kind = IO_TIMER;
	io->io_timer.t_fd = fd;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &io->io_timer;
	if (epoll_ctl(io->io_r.r_epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
		fatal("io: epoll_ctl timer");
}

/* Once a second: every connection's NOP-In clock, on every reactor. */
static void
io_tick(struct io *io)
{
	uint64_t	 n;

	if (read(io->io_timer.t_fd, &n, sizeof(n)) != sizeof(n))
		return;
	io_exclusive();
	reactor_each_conn(session_conn_tick);
}

static void
io_loop(struct io *io)
{
	struct epoll_event	 evs[IO_MAX_EVENTS];
	int			 i, n, timeout;

	/* The main reactor's lock is held but while it waits (reactor.h). */
	while (!io->io_stop) {
		timeout = scsi_bg_timeout();
		pthread_mutex_unlock(&io->io_r.r_mtx);
		n = epoll_wait(io->io_r.r_epfd, evs, IO_MAX_EVENTS, timeout);
		pthread_mutex_lock(&io->io_r.r_mtx);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fatal("io: epoll_wait");
		}
		for (i = 0; i < n && !io->io_stop; i++) {
			enum io_kind	*kind = evs[i].data.ptr;

			switch (*kind) {
			case IO_PARENT:
				io_exclusive();
				io_parent_event(io);
				break;
			case IO_WORKER:
				io_exclusive();
				io_worker_read(io, (struct io_worker *)kind);
				break;
			case IO_TIMER:
				io_tick(io);
				break;
			default:
				reactor_event(kind, evs[i].events);
				break;
			}
		}
		/* A sanitize's next chunk: the main reactor paces them. */
		if (!io->io_stop && scsi_bg_timeout() == 0) {
			io_exclusive();
			scsi_bg_run();
		}
		io_reap(io);
		if (!io->io_stop)
			reactor_batch_end();
	}
}

/* Free what was closed during the last batch of events. */
static void
io_reap(struct io *io)
{
	struct io_worker	*w;

	while ((w = TAILQ_FIRST(&io->io_dead)) != NULL) {
		TAILQ_REMOVE(&io->io_dead, w, w_entry);
		free(w);
	}
	session_reap(&io->io_r);
}

static void
io_parent_event(struct io *io)
{
	struct ipc_msg		 m;
	struct io_worker	*w;
	int			 rv;

	rv = ipc_recv(io->io_parent.p_fd, io_parent_rules,
	    nitems(io_parent_rules), &m);
	if (rv == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (rv == 0) {
		log_debug(1, "parent channel closed");
		io->io_stop = true;
		return;
	}
	if (rv == -1)
		fatalx("io: bad record from the parent");
	switch (m.hdr.type) {
	case MSG_P_WORKER:
		io_worker_new(io, &m);
		break;
	case MSG_P_GONE:
		TAILQ_FOREACH(w, &io->io_workers, w_entry)
			if (w->w_id == m.hdr.peerid)
				break;
		if (w != NULL) {
			/* A handoff may still sit in its channel. */
			io_worker_drain(io, w);
			if (w->w_fd != -1)
				io_worker_drop(io, w, NULL);
		}
		break;
	case MSG_P_SHUTDOWN:
		log_debug(1, "shutdown requested");
		io->io_stop = true;
		break;
	case MSG_P_RELOAD:
		io_reload(&io->io_r, io->io_conf);
		break;
	}
}

static void
io_worker_new(struct io *io, struct ipc_msg *m)
{
	struct msg_p_worker	 pw;
	struct io_worker	*w;
	struct epoll_event	 ev;

	memcpy(&pw, m->data, sizeof(pw));
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		log_warn("worker %u", m->hdr.peerid);
		close(m->fd);
		return;
	}
	w->w_kind = IO_WORKER;
	w->w_fd = m->fd;
	w->w_id = m->hdr.peerid;
	memcpy(&w->w_peer, &pw.peer, sizeof(w->w_peer));
	addr_str((struct sockaddr *)&pw.peer, 1, w->w_addr, sizeof(w->w_addr));
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = w;
	if (set_nonblock(w->w_fd) == -1 ||
	    epoll_ctl(io->io_r.r_epfd, EPOLL_CTL_ADD, w->w_fd, &ev) == -1) {
		log_warn("worker %u", w->w_id);
		close(w->w_fd);
		free(w);
		return;
	}
	TAILQ_INSERT_TAIL(&io->io_workers, w, w_entry);
	log_debug(2, "worker %u for %s", w->w_id, w->w_addr);
}

/* Close a worker channel; a verdict not handed off frees its TSIH. */
static void
io_worker_drop(struct io *io, struct io_worker *w, const char *why)
{
	if (why != NULL)
		log_warnx("worker %u (%s): %s, dropping its channel",
		    w->w_id, w->w_addr, why);
	/* An admitted leading login (handed off or not) has w_tsih. */
	uint16_t	 lead = w->w_sess == NULL ? w->w_tsih : 0;

	if (w->w_tsih_held)
		io_tsih_release(w->w_tsih);
	w->w_tsih_held = false;
	if (w->w_sess != NULL)
		session_release(w->w_sess);
	w->w_sess = NULL;
	w->w_admitted = false;
	auth_clear(&w->w_auth);
	epoll_ctl(io->io_r.r_epfd, EPOLL_CTL_DEL, w->w_fd, NULL);
	close(w->w_fd);
	w->w_fd = -1;
	TAILQ_REMOVE(&io->io_workers, w, w_entry);
	TAILQ_INSERT_TAIL(&io->io_dead, w, w_entry);
	/* Logins adding a connection to its session may be judged now. */
	if (lead != 0)
		io_admit_retry(io, lead);
}

/* Read whatever records the worker left before it exited. */
static void
io_worker_drain(struct io *io, struct io_worker *w)
{
	int	 i;

	for (i = 0; i < 4 && w->w_fd != -1; i++)
		if (io_worker_read(io, w) != 1)
			break;
}

/* One record from a worker channel: 1 handled, 0 nothing left. */
static int
io_worker_read(struct io *io, struct io_worker *w)
{
	struct ipc_msg	 m;
	int		 rv;

	if (w->w_fd == -1)
		return (0);
	rv = ipc_recv(w->w_fd, io_worker_rules, nitems(io_worker_rules), &m);
	if (rv == -1 && (errno == EAGAIN || errno == EINTR))
		return (0);
	if (rv == 0) {
		io_worker_drop(io, w, NULL);
		return (0);
	}
	if (rv == -1) {
		io_worker_drop(io, w, "bad record");
		return (0);
	}
	switch (m.hdr.type) {
	case MSG_W_ADMIT: {
		struct msg_w_admit	 a;

		memcpy(&a, m.data, sizeof(a));
		io_admit(io, w, &a);
		break;
	}
	case MSG_W_HANDOFF:
		io_handoff(io, w, &m);
		break;
	case MSG_W_AUTH_CHALLENGE:
	case MSG_W_AUTH_RESPONSE:
		io_auth(io, w, &m);
		break;
	case MSG_W_ACCESS:
		io_access(io, w, &m);
		break;
	}
	return (1);
}

/* CHAP records: auth.c judges, io answers on the same channel. */
static void
io_auth(struct io *io, struct io_worker *w, struct ipc_msg *m)
{
	union {
		struct msg_w_auth_challenge	c;
		struct msg_w_auth_response	r;
	}		 in;
	union {
		struct msg_i_auth_challenge	c;
		struct msg_i_auth_response	r;
	}		 out;
	enum ipc_type	 type;
	size_t		 len;
	int		 rv;

	if (w->w_asked) {
		io_worker_drop(io, w, "CHAP after admission");
		return;
	}
	if (m->hdr.type == MSG_W_AUTH_CHALLENGE) {
		memcpy(&in.c, m->data, sizeof(in.c));
		rv = auth_challenge(io->io_conf, &w->w_auth, w->w_addr, &in.c,
		    &out.c);
		type = MSG_I_AUTH_CHALLENGE;
		len = sizeof(out.c);
	} else {
		memcpy(&in.r, m->data, sizeof(in.r));
		rv = auth_response(io->io_conf, &w->w_auth, w->w_addr, &in.r,
		    &out.r);
		type = MSG_I_AUTH_RESPONSE;
		len = sizeof(out.r);
	}
	explicit_bzero(&in, sizeof(in));
	if (rv == -1) {
		io_worker_drop(io, w, "malformed or repeated CHAP record");
		return;
	}
	rv = ipc_send(w->w_fd, type, w->w_id, &out, len, -1);
	explicit_bzero(&out, sizeof(out));
	if (rv == -1) {
		log_warn("worker %u: send CHAP answer", w->w_id);
		io_worker_drop(io, w, NULL);
	}
}

/*
 * The initiator access rules (acl.c), judged by io with the address the
 * parent accepted or the handed-off socket's own peer.
 */
static bool
io_access_ok(struct io *io, struct io_worker *w, const char *target,
    const char *initiator, const struct sockaddr_storage *peer)
{
	char	 why[512];

	if (acl_permits(io->io_conf->conf_acl, target, initiator,
	    (const struct sockaddr *)peer, why, sizeof(why))) {
		if (why[0] != '\0')
			log_debug(1, "worker %u: %s to %s %s", w->w_id,
			    initiator, target, why);
		return (true);
	}
	log_warnx("login by %s failed: access to %s %s, from %s", initiator,
	    target, why, w->w_addr);
	return (false);
}

/* MSG_W_ACCESS: the worker asks early, so a refusal comes at once. */
static void
io_access(struct io *io, struct io_worker *w, struct ipc_msg *m)
{
	struct msg_w_access	 a;
	struct msg_i_access	 v;

	memcpy(&a, m->data, sizeof(a));
	if (w->w_asked || w->w_access_asked ||
	    !ipc_str_ok(a.initiator, sizeof(a.initiator)) ||
	    !ipc_str_ok(a.target, sizeof(a.target))) {
		io_worker_drop(io, w, "repeated or malformed access request");
		return;
	}
	w->w_access_asked = true;
	memset(&v, 0, sizeof(v));
	if (io_target_get(io, a.tid, a.target) == NULL)
		v.status = LOGIN_TARGET_NOT_FOUND;
	else if (!io_access_ok(io, w, a.target, a.initiator, &w->w_peer))
		v.status = LOGIN_FORBIDDEN;
	if (ipc_send(w->w_fd, MSG_I_ACCESS, w->w_id, &v, sizeof(v), -1) ==
	    -1) {
		log_warn("worker %u: send access verdict", w->w_id);
		io_worker_drop(io, w, NULL);
	}
}

static struct io_target *
io_target_get(struct io *io, uint32_t tid, const char *name)
{
	size_t	 i;

	for (i = 0; i < io->io_r.r_ntargets; i++) {
		struct io_target *it = &io->io_r.r_targets[i];

		if (it->it_lt->lt_tid == tid)
			return (strcmp(it->it_lt->lt_name, name) == 0 ?
			    it : NULL);
	}
	return (NULL);
}

static void
io_admit(struct io *io, struct io_worker *w, const struct msg_w_admit *a)
{
	struct msg_i_admit	 v;
	uint16_t		 tsih = 0;

	if (w->w_asked) {
		io_worker_drop(io, w, "second admission request");
		return;
	}
	w->w_asked = true;
	if (!ipc_str_ok(a->initiator, sizeof(a->initiator)) ||
	    !ipc_str_ok(a->target, sizeof(a->target))) {
		io_worker_drop(io, w, "unterminated name");
		return;
	}
	memset(&v, 0, sizeof(v));
	v.status = io_admit_judge(io, w, a, &tsih);
	if (v.status == IO_ADMIT_LATER) {
		w->w_later = true;
		if (a != &w->w_later_a)
			memcpy(&w->w_later_a, a, sizeof(w->w_later_a));
		log_debug(1, "worker %u: admission waits for the handoff of "
		    "TSIH %u", w->w_id, a->tsih);
		return;
	}
	v.tsih = tsih;
	if (v.status == LOGIN_OK && w->w_sess != NULL)
		v.expcmdsn = w->w_sess->sess_expcmdsn;
	if (v.status == LOGIN_OK) {
		w->w_admitted = true;
		memcpy(w->w_isid, a->isid, sizeof(w->w_isid));
		w->w_tsih = tsih;
		w->w_cid = a->cid;
		w->w_tid = a->tid;
		strlcpy(w->w_initiator, a->initiator, sizeof(w->w_initiator));
	}
	if (ipc_send(w->w_fd, MSG_I_ADMIT, w->w_id, &v, sizeof(v), -1) == -1) {
		log_warn("worker %u: send verdict", w->w_id);
		io_worker_drop(io, w, NULL);
		return;
	}
	log_debug(1, "worker %u: admission of %s to %s: %#x, tsih %u",
	    w->w_id, w->w_initiator[0] ? w->w_initiator : "?", a->target,
	    v.status, tsih);
}

static uint32_t
io_admit_judge(struct io *io, struct io_worker *w,
    const struct msg_w_admit *a, uint16_t *tsih)
{
	struct io_target	*it;
	struct session		*s;
	struct io_worker	*o;
	uint32_t		 max, n;

	if ((it = io_target_get(io, a->tid, a->target)) == NULL) {
		log_warnx("worker %u: no target %u named %s", w->w_id,
		    a->tid, a->target);
		return (LOGIN_TARGET_NOT_FOUND);
	}
	if (!io_access_ok(io, w, a->target, a->initiator, &w->w_peer))
		return (LOGIN_FORBIDDEN);
	/* Only a session io authenticated itself (auth.c). */
	if (!auth_permits(io->io_conf, &w->w_auth, a->tid, a->initiator)) {
		log_warnx("login by %s failed: target %s requires CHAP and "
		    "io has no verdict for it (from %s)", a->initiator,
		    a->target, w->w_addr);
		return (LOGIN_AUTH_FAILED);
	}
	if (a->tsih != 0)
		return (io_admit_conn(io, w, it, a, tsih));
	/* RFC 7143 6.3.5: same initiator and ISID, TSIH 0. */
	if ((s = session_find(it, a->initiator, a->isid)) != NULL) {
		log_info("session reinstatement: closing session %#llx",
		    (unsigned long long)s->sess_id);
		session_close(s);
	}
	/*
	 * MaxSessions counts live sessions and admitted new sessions, but
	 * not one with this name and ISID: this login will replace it.
	 */
	n = it->it_nsessions;
	TAILQ_FOREACH(o, &io->io_workers, w_entry)
		if (o->w_tsih_held && o->w_tid == a->tid &&
		    (memcmp(o->w_isid, a->isid, sizeof(o->w_isid)) != 0 ||
		    strcmp(o->w_initiator, a->initiator) != 0))
			n++;
	max = it->it_ct->ct_params[P_MAX_SESSIONS];
	if (max != 0 && n >= max) {
		log_warnx("target %s: MaxSessions %u reached", a->target,
		    max);
		/* RFC 7143 11.13.5: 0302, insufficient session resources */
		return (LOGIN_OUT_OF_RESOURCES);
	}
	if (io_tsih_alloc(tsih) == -1) {
		log_warnx("no free TSIH");
		return (LOGIN_OUT_OF_RESOURCES);
	}
	w->w_tsih_held = true;
	return (LOGIN_OK);
}

/*
 * A login with a TSIH adds a connection to that session (RFC 7143 6.3.3)
 * or, with the CID of one of its connections, reinstates that connection
 * (6.3.4): the old one is closed now, its tasks dropped (ERL 0).  The
 * session is held until the handoff so that it outlives its last
 * connection meanwhile.
 */
/* The admitted leading login of the session a TSIH names, if pending. */
static struct io_worker *
io_admit_lead(struct io *io, const struct msg_w_admit *a)
{
	struct io_worker	*o;

	TAILQ_FOREACH(o, &io->io_workers, w_entry)
		if (o->w_tsih_held && o->w_tsih == a->tsih &&
		    o->w_tid == a->tid)
			return (o);
	return (NULL);
}

/*
 * The session a TSIH names.  Its leading login may be admitted with its
 * handoff still to come (the initiator adds a connection as soon as the
 * leading Login Response is out): read what that worker sent, and if
 * the handoff is not there yet, the verdict waits for it (*later).
 */
static struct session *
io_admit_find(struct io *io, struct io_target *it,
    const struct msg_w_admit *a, bool *later)
{
	struct session		*s;
	struct io_worker	*o;

	*later = false;
	if ((s = session_find_tsih(it, a->tsih)) != NULL)
		return (s);
	if ((o = io_admit_lead(io, a)) == NULL)
		return (NULL);
	io_worker_drain(io, o);
	if ((s = session_find_tsih(it, a->tsih)) != NULL)
		return (s);
	*later = io_admit_lead(io, a) != NULL;
	return (NULL);
}

/* A leading login has handed off or gone: judge who waited for it. */
static void
io_admit_retry(struct io *io, uint16_t tsih)
{
	struct io_worker	*x;

 again:
	TAILQ_FOREACH(x, &io->io_workers, w_entry)
		if (x->w_later && x->w_later_a.tsih == tsih) {
			x->w_later = false;
			x->w_asked = false;
			io_admit(io, x, &x->w_later_a);
			goto again;
		}
}

static uint32_t
io_admit_conn(struct io *io, struct io_worker *w, struct io_target *it,
    const struct msg_w_admit *a, uint16_t *tsih)
{
	struct session	*s;
	struct conn	*old;
	uint32_t	 max;
	bool		 later;

	s = io_admit_find(io, it, a, &later);
	if (later)
		return (IO_ADMIT_LATER);
	if (s == NULL || strcmp(s->sess_initiator, a->initiator) != 0 ||
	    memcmp(s->sess_isid, a->isid, sizeof(s->sess_isid)) != 0) {
		log_warnx("login by %s failed: no session with TSIH %u and "
		    "this ISID on %s (from %s)", a->initiator, a->tsih,
		    a->target, w->w_addr);
		return (LOGIN_SESSION_DOES_NOT_EXIST);
	}
	max = s->sess_params[P_MAX_CONNECTIONS];
	session_hold(s);
	if ((old = session_conn_find(s, a->cid)) != NULL) {
		log_info("connection reinstatement: closing cid %u of session "
		    "%#llx", a->cid, (unsigned long long)s->sess_id);
		session_conn_close(old, NULL);
	} else if (s->sess_nconns + s->sess_hold - 1 >= max) {
		session_release(s);
		log_warnx("login by %s failed: session %#llx has its "
		    "MaxConnections %u (from %s)", a->initiator,
		    (unsigned long long)s->sess_id, max, w->w_addr);
		return (LOGIN_TOO_MANY_CONNECTIONS);
	}
	w->w_sess = s;
	*tsih = a->tsih;
	return (LOGIN_OK);
}

/* TSIHs in use, across reactors: changed with every reactor stopped. */
static uint8_t	io_tsih_used[65536 / 8];
static uint16_t	io_tsih_next = 1;

static int
io_tsih_alloc(uint16_t *tsih)
{
	uint32_t	 i;
	uint16_t	 t;

	for (i = 0; i < 65536; i++) {
		t = io_tsih_next++;
		if (t == 0)
			continue;
		if ((io_tsih_used[t / 8] & (1U << (t % 8))) == 0) {
			io_tsih_used[t / 8] |= 1U << (t % 8);
			*tsih = t;
			return (0);
		}
	}
	return (-1);
}

void
io_tsih_release(uint16_t t)
{
	io_tsih_used[t / 8] &= ~(1U << (t % 8));
}

static void
io_handoff(struct io *io, struct io_worker *w, struct ipc_msg *m)
{
	struct msg_w_handoff	*h;
	struct sockaddr_storage	 peer, local;
	struct io_target	*it;
	struct session		*s;
	uint32_t		 params[P__COUNT];
	int			 fd = m->fd;

	if ((h = malloc(sizeof(*h))) == NULL) {
		log_warn("handoff");
		close(fd);
		io_worker_drop(io, w, NULL);
		return;
	}
	memcpy(h, m->data, sizeof(*h));
	if (io_handoff_check(io, w, h, fd, &peer, &local) == -1) {
		close(fd);
		free(h);
		return;
	}
	it = io_target_get(io, h->tid, h->target);
	if (!io_digest_ok(it->it_ct->ct_params[P_HEADER_DIGEST],
	    h->params[P_HEADER_DIGEST]) ||
	    !io_digest_ok(it->it_ct->ct_params[P_DATA_DIGEST],
	    h->params[P_DATA_DIGEST])) {
		close(fd);
		free(h);
		io_worker_drop(io, w, "handoff: digest not allowed by the "
		    "target's configuration");
		return;
	}
	io_params_clamp(it->it_ct->ct_params, h->params, params);
	if (w->w_sess != NULL) {
		io_handoff_conn(io, w, h, fd, params, &peer, &local);
		free(h);
		return;
	}
	/* A session with this name and ISID may have appeared since. */
	if ((s = session_find(it, h->initiator, h->isid)) != NULL) {
		log_info("session reinstatement: closing session %#llx",
		    (unsigned long long)s->sess_id);
		session_close(s);
	}
	if ((s = session_new(reactor_pick(), it, h, params)) == NULL) {
		close(fd);
		free(h);
		io_worker_drop(io, w, "cannot create the session");
		return;
	}
	/* The TSIH now belongs to the session. */
	w->w_tsih_held = false;
	w->w_admitted = false;
	session_conn_add(s, fd, h->cid, h->statsn, params, &peer, &local);
	free(h);
	/* Once: the worker has nothing more to say. */
	io_worker_drop(io, w, NULL);
}

/* An added or reinstated connection joins the session io admitted. */
static void
io_handoff_conn(struct io *io, struct io_worker *w,
    const struct msg_w_handoff *h, int fd, const uint32_t *params,
    struct sockaddr_storage *peer, struct sockaddr_storage *local)
{
	struct session	*s = w->w_sess;
	struct conn	*old;

	if (s->sess_ended) {
		close(fd);
		io_worker_drop(io, w, "handoff: the session ended during "
		    "the login");
		return;
	}
	/* Two logins with one CID: the later one wins (6.3.4). */
	if ((old = session_conn_find(s, h->cid)) != NULL)
		session_conn_close(old, "reinstated by a later login");
	session_conn_add(s, fd, h->cid, h->statsn, params, peer, local);
	/* Releases the session's hold. */
	io_worker_drop(io, w, NULL);
}

/* Everything a handoff must match; logs and drops the worker if not. */
static int
io_handoff_check(struct io *io, struct io_worker *w,
    const struct msg_w_handoff *h, int fd, struct sockaddr_storage *peer,
    struct sockaddr_storage *local)
{
	socklen_t	 len;
	int		 type;

	if (!w->w_admitted) {
		io_worker_drop(io, w, "handoff without admission");
		return (-1);
	}
	if (!ipc_str_ok(h->initiator, sizeof(h->initiator)) ||
	    !ipc_str_ok(h->target, sizeof(h->target))) {
		io_worker_drop(io, w, "handoff: unterminated name");
		return (-1);
	}
	if (memcmp(h->isid, w->w_isid, sizeof(h->isid)) != 0 ||
	    h->tsih != w->w_tsih || h->cid != w->w_cid ||
	    h->tid != w->w_tid ||
	    strcmp(h->initiator, w->w_initiator) != 0 ||
	    io_target_get(io, h->tid, h->target) == NULL) {
		io_worker_drop(io, w, "handoff does not match its admission");
		return (-1);
	}
	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
	    type != SOCK_STREAM) {
		io_worker_drop(io, w, "handoff: not a stream socket");
		return (-1);
	}
	len = sizeof(*peer);
	memset(peer, 0, sizeof(*peer));
	if (getpeername(fd, (struct sockaddr *)peer, &len) == -1 ||
	    (peer->ss_family != AF_INET && peer->ss_family != AF_INET6)) {
		io_worker_drop(io, w, "handoff: not a connected TCP socket");
		return (-1);
	}
	if (!io_access_ok(io, w, h->target, h->initiator, peer)) {
		io_worker_drop(io, w, "handoff: initiator not allowed from "
		    "the socket's address");
		return (-1);
	}
	len = sizeof(*local);
	memset(local, 0, sizeof(*local));
	if (getsockname(fd, (struct sockaddr *)local, &len) == -1) {
		io_worker_drop(io, w, "handoff: getsockname failed");
		return (-1);
	}
	return (0);
}

/* A negotiated digest is exactly one value, and one the target allows. */
static bool
io_digest_ok(uint32_t allowed, uint32_t chosen)
{
	return ((chosen == PARAM_DIGEST_NONE ||
	    chosen == PARAM_DIGEST_CRC32C) && (allowed & chosen) != 0);
}

static uint32_t
io_clamp(enum param_id id, uint32_t v, uint32_t lo, uint32_t hi)
{
	const struct param_def	*pd = param_def_get(id);

	if (pd != NULL) {
		if (lo < pd->pd_min)
			lo = pd->pd_min;
		if (hi > pd->pd_max)
			hi = pd->pd_max;
	}
	if (hi < lo)
		hi = lo;
	if (v < lo)
		return (lo);
	if (v > hi)
		return (hi);
	return (v);
}

/*
 * Re-derive every negotiated value within what the target's
 * configuration allows (c) from what the worker says (w).
 */
static void
io_params_clamp(const uint32_t *c, const uint32_t *w, uint32_t *p)
{
	p[P_HEADER_DIGEST] = w[P_HEADER_DIGEST];
	p[P_DATA_DIGEST] = w[P_DATA_DIGEST];
	p[P_MAX_CONNECTIONS] = io_clamp(P_MAX_CONNECTIONS,
	    w[P_MAX_CONNECTIONS], 1, c[P_MAX_CONNECTIONS]);
	p[P_INITIAL_R2T] = (w[P_INITIAL_R2T] || c[P_INITIAL_R2T]) ? 1 : 0;
	p[P_IMMEDIATE_DATA] = (w[P_IMMEDIATE_DATA] && c[P_IMMEDIATE_DATA]) ?
	    1 : 0;
	/* Declared by the target: exactly what is configured. */
	p[P_MAX_RECV_DSL] = io_clamp(P_MAX_RECV_DSL, c[P_MAX_RECV_DSL], 512,
	    (1U << 24) - 1);
	p[P_MAX_XMIT_DSL] = io_clamp(P_MAX_XMIT_DSL, w[P_MAX_XMIT_DSL], 512,
	    c[P_MAX_XMIT_DSL]);
	p[P_MAX_BURST] = io_clamp(P_MAX_BURST, w[P_MAX_BURST], 512,
	    c[P_MAX_BURST]);
	p[P_FIRST_BURST] = io_clamp(P_FIRST_BURST, w[P_FIRST_BURST], 512,
	    c[P_FIRST_BURST] < p[P_MAX_BURST] ? c[P_FIRST_BURST] :
	    p[P_MAX_BURST]);
	p[P_DEFAULT_TIME2WAIT] = io_clamp(P_DEFAULT_TIME2WAIT,
	    w[P_DEFAULT_TIME2WAIT], c[P_DEFAULT_TIME2WAIT], 3600);
	p[P_DEFAULT_TIME2RETAIN] = io_clamp(P_DEFAULT_TIME2RETAIN,
	    w[P_DEFAULT_TIME2RETAIN], 0, c[P_DEFAULT_TIME2RETAIN]);
	p[P_MAX_OUTSTANDING_R2T] = io_clamp(P_MAX_OUTSTANDING_R2T,
	    w[P_MAX_OUTSTANDING_R2T], 1, c[P_MAX_OUTSTANDING_R2T]);
	p[P_DATA_PDU_IN_ORDER] = (w[P_DATA_PDU_IN_ORDER] ||
	    c[P_DATA_PDU_IN_ORDER]) ? 1 : 0;
	p[P_DATA_SEQ_IN_ORDER] = (w[P_DATA_SEQ_IN_ORDER] ||
	    c[P_DATA_SEQ_IN_ORDER]) ? 1 : 0;
	p[P_ERROR_RECOVERY_LEVEL] = io_clamp(P_ERROR_RECOVERY_LEVEL,
	    w[P_ERROR_RECOVERY_LEVEL], 0, c[P_ERROR_RECOVERY_LEVEL]);
	p[P_IFMARKER] = 0;
	p[P_OFMARKER] = 0;
	p[P_PROTOCOL_LEVEL] = io_clamp(P_PROTOCOL_LEVEL, w[P_PROTOCOL_LEVEL],
	    0, c[P_PROTOCOL_LEVEL]);
	/* Configuration only: the worker has no say. */
	p[P_QUEUED_COMMANDS] = c[P_QUEUED_COMMANDS] == 0 ? 1 :
	    c[P_QUEUED_COMMANDS];
	p[P_NOP_INTERVAL] = c[P_NOP_INTERVAL];
	p[P_NOP_TIMEOUT] = c[P_NOP_TIMEOUT];
	p[P_MAX_SESSIONS] = c[P_MAX_SESSIONS];
}

static uint64_t
io_now_msec(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/*
 * Before a clean stop, ask every connection to log out (Async Message,
 * AsyncEvent 1) and serve them for up to IO_LOGOUT_SEC seconds while
 * the initiators finish what they have in flight and log out.
 */
static void
io_logout_all(struct io *io)
{
	struct io_reactor	*r = &io->io_r;
	struct epoll_event	 evs[IO_MAX_EVENTS];
	struct conn		*c, *next;
	uint64_t		 deadline, now;
	int			 i, n;

	if (TAILQ_EMPTY(&r->r_conns))
		return;
	log_info("asking every initiator to log out within %u seconds",
	    IO_LOGOUT_SEC);
	for (c = TAILQ_FIRST(&r->r_conns); c != NULL; c = next) {
		next = session_conn_next(c);
		session_conn_logout_request(c, IO_LOGOUT_SEC);
	}
	io_reap(io);
	deadline = io_now_msec() + IO_LOGOUT_SEC * 1000;
	while (!TAILQ_EMPTY(&r->r_conns) && (now = io_now_msec()) < deadline) {
		n = epoll_wait(r->r_epfd, evs, IO_MAX_EVENTS,
		    (int)(deadline - now));
		for (i = 0; i < n; i++) {
			enum io_kind	*kind = evs[i].data.ptr;

			if (*kind == IO_CONN)
				session_conn_event((struct conn *)kind,
				    evs[i].events);
			else if (*kind == IO_TIMER)
				io_tick(io);
			else if (*kind == IO_POOL || *kind == IO_WAKE)
				reactor_event(kind, evs[i].events);
		}
		io_reap(io);
	}
	if (!TAILQ_EMPTY(&r->r_conns))
		log_warnx("closing the connections that did not log out");
}

/*
 * Stop: no more handoffs, ask the initiators to log out, flush output
 * queues for a bounded time, close every connection, flush the backing
 * stores, free everything.
 */
static __dead void
io_shutdown(struct io *io)
{
	struct io_reactor	*r = &io->io_r;
	struct epoll_event	 evs[IO_MAX_EVENTS];
	struct io_worker	*w;
	struct conn		*c, *next;
	uint64_t		 deadline;
	bool			 pending;
	int			 i, n;

	log_debug(1, "shutting down");
	/* From here on the main reactor serves every connection alone. */
	reactor_stop();
	while ((w = TAILQ_FIRST(&io->io_workers)) != NULL)
		io_worker_drop(io, w, NULL);
	epoll_ctl(r->r_epfd, EPOLL_CTL_DEL, io->io_parent.p_fd, NULL);
	io_logout_all(io);
	deadline = io_now_msec() + IO_FLUSH_MSEC;
	for (;;) {
		pending = false;
		for (c = TAILQ_FIRST(&r->r_conns); c != NULL; c = next) {
			next = session_conn_next(c);
			if (!session_conn_flush(c))
				pending = true;
		}
		io_reap(io);
		if (!pending || io_now_msec() >= deadline)
			break;
		n = epoll_wait(r->r_epfd, evs, IO_MAX_EVENTS, 100);
		for (i = 0; i < n; i++) {
			enum io_kind	*kind = evs[i].data.ptr;

			/* Only writability matters now. */
			if (*kind == IO_CONN && (evs[i].events &
			    (EPOLLERR | EPOLLHUP)))
				session_conn_close((struct conn *)kind, NULL);
		}
	}
	while ((c = TAILQ_FIRST(&r->r_conns)) != NULL)
		session_conn_close(c, NULL);
	io_reap(io);
	scsi_bg_stop();
	/* Jobs still running hold a LUN's descriptor: let them end. */
	iopool_drain();
	close(r->r_epfd);
	close(io->io_timer.t_fd);
	close(io->io_parent.p_fd);
	if (lun_sync_all(r->r_luns) == -1)
		log_warnx("flushing backing stores failed");
	lun_table_free(r->r_luns);
	conf_free(io->io_conf);
	free(r->r_targets);
	free(io);
	log_debug(1, "exiting");
	exit(0);
}
