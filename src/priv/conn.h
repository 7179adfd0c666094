/*
 * conn.h: what the full feature phase modules of io share (internal to
 * src/priv): session.c (sessions, connections, the CmdSN window, PDU
 * dispatch, NOP-Out, Logout, Reject), cmdq.c (CmdSN order across
 * connections), wire.c (the PDU reader and the output queue), task.c
 * (SCSI commands and their data), text.c (Text requests) and tmf.c (task
 * management).  Everything else includes session.h.
 */
#ifndef IETD_CONN_H
#define IETD_CONN_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pdu.h"
#include "textx.h"
#include "util.h"
#include "priv/scsi.h"
#include "priv/session.h"

#define CONN_TXQ_HIGH	(1024 * 1024)	/* stop reading above this */
#define CONN_IOV_MAX	(5 * 32)	/* iovecs in one writev */
#define CONN_RX_BATCH	64		/* PDUs per readable event */
#define TASK_R2T_MAX	8		/* R2Ts we keep outstanding */
#define CONN_TX_CACHE	64		/* recycled output PDUs */
#define CONN_TAG_MAX	(ADDRSTRLEN + 4 * ISCSI_NAME_MAX + 4)
#define CONN_BUF_MAX	(64U * 1024 * 1024) /* task buffers of a conn */
#define CONN_ABORTED_MAX	32	/* ITTs of aborted tasks kept */
#define CONN_RXB_SIZE	(32 * 1024)	/* batched receive buffer */
#define CONN_RX_DIRECT	2048	/* data this long is read in place */
#define CONN_RX_FLUSH	(256 * 1024)	/* send answers after this input */
#define CONN_PIPE_MIN	(64 * 1024)	/* write data this long is piped */
#define CONN_PIPE_SIZE	(1024 * 1024)	/* asked of F_SETPIPE_SZ */

/*
 * A reference-counted payload (Data-In data is shared by its PDUs).
 * ib_data is page-aligned; buffers come from and go back to a bounded
 * per-thread cache of power-of-two sizes (wire.c).
 */
struct iobuf {
	uint32_t	 ib_refs;
	uint32_t	 ib_len;
	uint32_t	 ib_cap;
	uint8_t		*ib_data;
	struct iobuf	*ib_next;	/* in the cache */
};

/* One queued output PDU. */
struct txpdu {
	TAILQ_ENTRY(txpdu)	 tx_entry;
	struct iscsi_bhs	 tx_bhs;
	uint8_t			 tx_hdig[ISCSI_DIGEST_SIZE];
	uint8_t			 tx_ddig[ISCSI_DIGEST_SIZE];
	const uint8_t		*tx_data;
	uint32_t		 tx_len;
	struct iobuf		*tx_buf;	/* reference, or NULL */
	int			 tx_fd;		/* data from a file, or -1 */
	struct lun		*tx_lun;	/* ... of this LUN (a ref) */
	uint64_t		 tx_foff;	/* ... at this offset */
};
TAILQ_HEAD(txq, txpdu);

struct r2t {
	bool		 r_used;
	uint32_t	 r_ttt;
	uint32_t	 r_off;		/* Buffer Offset of the burst */
	uint32_t	 r_len;		/* Desired Data Transfer Len */
	uint32_t	 r_got;		/* bytes received in the burst */
	uint32_t	 r_datasn;	/* next DataSN expected */
};

/* A SCSI command waiting for its Data-Out data, or for its end
 * (t_pending: scsi_exec will call back, see task_complete). */
struct task {
	TAILQ_ENTRY(task)	 t_entry;
	struct conn		*t_conn;	/* while t_pending or t_held */
	bool			 t_pending;
	bool			 t_held;	/* on sess_held */
	bool			 t_orphan;	/* cancelled, its I/O still runs:
						   off every list, t_conn NULL */
	TAILQ_ENTRY(task)	 t_hentry;
	uint32_t		 t_itt;
	uint8_t			 t_lun[8];
	uint64_t		 t_lun_id;
	uint8_t			 t_cdb[16];
	uint32_t		 t_edtl;
	struct iobuf		*t_buf;	/* NULL when failed */
	bool			 t_failed;	/* t_sc has the answer */
	bool			 t_read;	/* R bit: Data-In */
	bool			 t_piped;	/* its data is in conn_pipe */
	uint8_t			 t_attr;	/* task attribute */
	uint32_t		 t_recv;	/* data bytes received */
	bool			 t_unsol_open;	/* unsolicited due */
	uint32_t		 t_unsol_end;	/* ... up to here */
	uint32_t		 t_unsol_next;	/* next offset */
	uint32_t		 t_unsol_datasn;
	uint32_t		 t_r2t_off;	/* next offset to solicit */
	uint32_t		 t_r2tsn;
	uint32_t		 t_nr2t;	/* outstanding */
	struct r2t		 t_r2t[TASK_R2T_MAX];
	struct scsi_cmd		 t_sc;
};
TAILQ_HEAD(task_list, task);

enum rx_state { RX_BHS, RX_DATA };	/* header (BHS, AHS, digest), data */

struct conn {
	enum io_kind		 conn_kind;	/* IO_CONN: first */
	TAILQ_ENTRY(conn)	 conn_entry;	/* in r_conns or r_dead */
	TAILQ_ENTRY(conn)	 conn_sentry;	/* in sess_conns */
	struct io_reactor	*conn_r;
	struct session		*conn_sess;
	const uint32_t		*conn_p;	/* conn_params */
	uint32_t		 conn_params[P__COUNT]; /* session's, with
						   this connection's digests
						   and segment lengths */
	int			 conn_fd;
	uint16_t		 conn_cid;
	uint32_t		 conn_statsn;	/* next StatSN */
	uint32_t		 conn_ttt;	/* next Target Transfer Tag */
	uint32_t		 conn_events;	/* epoll mask in effect */
	bool			 conn_dead;
	bool			 conn_stop_rx;	/* logout, shutdown */
	bool			 conn_logout;	/* close if flushed */
	bool			 conn_logout_sess; /* ... and the session */
	bool			 conn_hdig;	/* HeaderDigest=CRC32C */
	bool			 conn_ddig;	/* DataDigest=CRC32C */
	struct sockaddr_storage	 conn_local;
	char			 conn_tag[CONN_TAG_MAX];
	/* receive side */
	enum rx_state		 conn_rx_state;
	struct iscsi_bhs	 conn_rx_bhs;
	uint8_t			 conn_rx_ahs[255 * 4 + ISCSI_DIGEST_SIZE];
	uint8_t			*conn_rx_data;	/* data of other PDUs */
	uint8_t			*conn_rx_dst;	/* where this data goes */
	size_t			 conn_rx_dlen;	/* data bytes */
	size_t			 conn_rx_got;	/* of data and trailer */
	size_t			 conn_rx_tlen;	/* pad + data digest */
	uint8_t			 conn_rx_trail[8];
	bool			 conn_rx_inplace; /* data is in a task */
	struct iobuf		*conn_rx_ib;	/* immediate data's buffer */
	bool			 conn_rx_ddig_bad; /* data digest error */
	/*
	 * A WRITE's immediate data can wait in a pipe, taken from the
	 * socket with splice(2) without a copy, until sbc_read_write
	 * splices it into the LUN's file (one copy instead of two).
	 */
	bool			 conn_rx_piped;	/* this data is in conn_pipe */
	bool			 conn_rx_hdr_only; /* read no data with the
						   next header */
	bool			 conn_pipe_failed;
	int			 conn_pipe[2];	/* -1 until first needed */
	size_t			 conn_pipe_cap;
	size_t			 conn_rxb_head;	/* unparsed bytes ... */
	size_t			 conn_rxb_tail;	/* ... end here */
	uint8_t			 conn_rxb[CONN_RXB_SIZE];
	/* send side */
	struct txq		 conn_txq;
	struct txq		 conn_txfree;
	uint32_t		 conn_ntxfree;
	size_t			 conn_tx_bytes;	/* queued */
	size_t			 conn_tx_off;	/* head: sent */
	/* tasks */
	struct task_list	 conn_tasks;
	uint32_t		 conn_ntasks;
	size_t			 conn_buf_bytes; /* task buffers held */
	/* NOP-In pings (session_conn_tick) */
	bool			 conn_rx_seen;	/* bytes since the tick */
	bool			 conn_ping_out;	/* waiting for the answer */
	uint32_t		 conn_idle;	/* seconds without input */
	uint32_t		 conn_ping_ttt;
	uint32_t		 conn_ping_age;	/* seconds */
	struct textx		 conn_textx;	/* Text exchange */
	uint32_t		 conn_aborted[CONN_ABORTED_MAX]; /* ITTs */
	uint32_t		 conn_aborted_next;
	uint32_t		 conn_naborted;
};

/*
 * Serial number arithmetic (RFC 1982) on 32-bit sequence numbers.
 */
static inline bool
sn_lt(uint32_t a, uint32_t b)
{
	return (a != b && (int32_t)(a - b) < 0);
}

static inline bool
sn_gt(uint32_t a, uint32_t b)
{
	return (a != b && (int32_t)(a - b) > 0);
}

static inline uint32_t
conn_maxcmdsn(const struct conn *c)
{
	return (c->conn_sess->sess_expcmdsn + c->conn_p[P_QUEUED_COMMANDS] -
	    1);
}

/* wire.c */
struct iobuf	*iobuf_new(size_t);
void		 iobuf_unref(struct iobuf *);
/* The bounded per-thread buffer cache: its bound, a share of one for
 * all reactors; and emptied when a reactor thread ends. */
void		 iobuf_cache_share(unsigned threads);
void		 iobuf_cache_free(void);
void		 conn_events_update(struct conn *);
struct txpdu	*conn_tx_new(struct conn *, uint8_t opcode);
void		 conn_tx_recycle(struct conn *, struct txpdu *);
void		 conn_tx_queue(struct conn *, struct txpdu *, struct iobuf *,
		    const uint8_t *, uint32_t, bool status);
void		 conn_tx_queue_file(struct conn *, struct txpdu *,
		    struct lun *, uint64_t off, uint32_t, bool status);
void		 conn_tx_copy(struct conn *, struct txpdu *, const void *,
		    uint32_t, bool status);
int		 conn_write(struct conn *);
bool		 conn_rx_ready(const struct conn *);
void		 conn_read(struct conn *);
void		 conn_rx_unpipe(struct conn *);
void		 conn_pipe_close(struct conn *);

/* session.c */
int		 conn_cmdsn(struct conn *, uint32_t cmdsn, bool immediate);
void		 conn_pdu(struct conn *);
void		 conn_reject(struct conn *, uint8_t, const struct iscsi_bhs *);

/* cmdq.c */
int		 cmdq_defer(struct conn *, uint32_t cmdsn);
bool		 cmdq_data_out(struct conn *);
void		 cmdq_drain(struct session *);
void		 cmdq_purge_conn(struct session *, struct conn *);
#define CMDQ_ONE	0
#define CMDQ_LUN	1
#define CMDQ_ALL	2
int		 cmdq_abort(struct session *, uint32_t itt, uint64_t lun,
		    int scope);

/* task.c */
uint8_t		*conn_data_dest(struct conn *);
bool		 conn_data_pipe_ok(struct conn *);
void		 conn_scsi_cmd(struct conn *);
void		 conn_data_out(struct conn *);
struct task	*conn_task_find(struct conn *, uint32_t itt);
void		 task_cache_free(void);	/* a reactor thread ends */
void		 task_free(struct conn *, struct task *);
/* Held tasks (task attributes): can the first run, and run those that
 * can. */
bool		 task_held_runnable(const struct session *);
void		 task_release_held(struct session *);
void		 conn_free_tasks(struct conn *);

/* text.c */
void		 conn_text(struct conn *);

/* tmf.c */
void		 conn_tmf(struct conn *);
/* Was a task with this ITT aborted lately (its Data-Out is dropped)? */
bool		 conn_itt_aborted(const struct conn *, uint32_t itt);

#endif
