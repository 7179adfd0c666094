/*
 * session.h: sessions and full feature phase connections of the io
 * process (internal to src/priv).  io.c owns the reactor, admission and
 * handoffs; session.c owns what happens on a connection once handed off.
 * Every piece of per-connection state lives in struct conn, so that a
 * connection can later live on any reactor thread.
 */
#ifndef IETD_SESSION_H
#define IETD_SESSION_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "ipc.h"
#include "param.h"
#include "pdu.h"
#include "util.h"
#include "priv/lun.h"
#include "priv/scsi.h"

/* What an epoll event's data.ptr points at: every such struct starts
 * with this tag. */
enum io_kind { IO_PARENT, IO_WORKER, IO_CONN, IO_TIMER, IO_POOL, IO_WAKE };

struct conn;
struct session;
struct task;
TAILQ_HEAD(task_hold, task);
struct queued_cmd;
TAILQ_HEAD(conn_list, conn);
TAILQ_HEAD(cmd_queue, queued_cmd);
TAILQ_HEAD(session_list, session);

/* Per-target state of the io process. */
struct io_target {
	struct lun_target	*it_lt;
	const struct conf_target *it_ct;
	struct session_list	 it_sessions;
	uint32_t		 it_nsessions;
};

/*
 * One reactor: a thread, its epoll set and the sessions it serves
 * (reactor.h).  io_reactor 0 is io's main thread, which also takes the
 * parent's and the workers' channels.  The targets and LUNs are every
 * reactor's.
 */
struct io_reactor {
	int			 r_epfd;
	pthread_mutex_t		 r_mtx;		/* held while it runs */
	unsigned		 r_idx;
	struct lun_table	*r_luns;
	struct io_target	*r_targets;	/* one per lun_table entry */
	size_t			 r_ntargets;
	struct conn_list	 r_conns;	/* every live connection */
	struct conn_list	 r_dead;	/* freed after a batch */
	uint32_t		 r_nconns;	/* in r_conns */
	bool			 r_release;	/* a session's held tasks
						   may run (task_release_held) */
	bool			 r_release_alone; /* ... one needs io_exclusive */
};

struct session {
	TAILQ_ENTRY(session)	 sess_entry;	/* in it_sessions */
	struct io_reactor	*sess_reactor;
	struct io_target	*sess_target;
	uint8_t			 sess_isid[6];
	uint16_t		 sess_tsih;
	uint64_t		 sess_id;	/* ISID << 16 | TSIH */
	struct scsi_nexus	 sess_nexus;	/* the I_T nexus for SCSI */
	char			 sess_initiator[ISCSI_NAME_MAX];
	uint32_t		 sess_params[P__COUNT];
	uint32_t		 sess_expcmdsn;
	struct conn_list	 sess_conns;
	uint32_t		 sess_nconns;
	/* Logins adding a connection (io.c holds the session for each). */
	uint32_t		 sess_hold;
	bool			 sess_ended;	/* off the target, TSIH free */
	/* Commands that came ahead of ExpCmdSN (MC/S), by CmdSN. */
	struct cmd_queue	 sess_cmdq;
	uint32_t		 sess_ncmdq;
	size_t			 sess_cmdq_bytes;
	bool			 sess_draining;
	/* Commands that end later, and those task attributes hold behind
	 * them (task.c). */
	uint32_t		 sess_npending;
	uint32_t		 sess_nordered;	/* ORDERED ones among them */
	struct task_hold	 sess_held;
};

/* An eventfd in a reactor's epoll set: its wakeup, or its I/O threads'
 * completions (rf_cq; NULL: the calling thread's). */
struct iopool_cq;
struct reactor_fd {
	enum io_kind		 rf_kind;	/* IO_WAKE or IO_POOL: first */
	int			 rf_fd;
	struct iopool_cq	*rf_cq;
};

/*
 * reactor.c, for io.c (reactor_size and reactor_threads are in io.h):
 * once the main reactor is set up, let the threads run.  Each event of
 * the main loop that is not io's own goes to reactor_event, and each
 * batch ends with reactor_batch_end.  A new session goes to
 * reactor_pick's reactor.  Shutdown stops the threads and gives their
 * connections to the main reactor.
 */
void	reactor_go(struct io_reactor *);
void	reactor_event(enum io_kind *, uint32_t events);
void	reactor_batch_end(void);
struct io_reactor *reactor_pick(void);
void	reactor_each_conn(void (*)(struct conn *));
void	reactor_stop(void);

/* TSIH bookkeeping (io.c). */
void	io_tsih_release(uint16_t);

/* session.c */
struct session *session_new(struct io_reactor *, struct io_target *,
	    const struct msg_w_handoff *, const uint32_t params[P__COUNT]);
/* Close every connection of the session, which frees it. */
void	session_close(struct session *);
/*
 * A login adding a connection holds the session: it outlives the loss of
 * its last connection (connection reinstatement) until the handoff or
 * the worker's end releases it.
 */
void	session_hold(struct session *);
void	session_release(struct session *);
/* The connection of the session with this CID, or NULL. */
struct conn *session_conn_find(struct session *, uint16_t cid);
struct session *session_find(struct io_target *, const char *initiator,
	    const uint8_t isid[6]);
struct session *session_find_tsih(struct io_target *, uint16_t tsih);
/*
 * Start the full feature phase on a handed-off socket; the connection
 * takes the per-connection keys (digests, data segment lengths) from
 * `params' and the rest from the session.  0, or -1 (logged) with the fd
 * closed; a session left without connections is freed.
 */
int	session_conn_add(struct session *, int fd, uint16_t cid,
	    uint32_t statsn, const uint32_t params[P__COUNT],
	    const struct sockaddr_storage *peer,
	    const struct sockaddr_storage *local);
/* An epoll event for a connection. */
void	session_conn_event(struct conn *, uint32_t events);
/* Once a second: NOP-In pings of idle connections, and their timeout. */
void	session_conn_tick(struct conn *);
/*
 * Shutdown: ask the initiator to log out within secs seconds (Async
 * Message, AsyncEvent 1); the connection keeps being served meanwhile.
 */
void	session_conn_logout_request(struct conn *, uint16_t secs);
/* Shutdown: try to write out what is queued; true when all is sent. */
bool	session_conn_flush(struct conn *);
void	session_conn_close(struct conn *, const char *why);
struct conn *session_conn_next(struct conn *);	/* in r_conns */
/* The per-thread caches of tasks and buffers: how many reactors share
 * their bound, and a reactor thread's end (which empties its own). */
void	session_threads(unsigned reactors);
void	session_thread_end(void);
/* Shutdown: reactor m takes over every connection (and session) of r. */
void	session_adopt(struct io_reactor *m, struct io_reactor *r);
/* Free connections closed during the last batch of events. */
void	session_reap(struct io_reactor *);

#endif
