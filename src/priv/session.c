/*
 * session.c: the full feature phase (RFC 7143) on handed-off connections:
 * an incremental PDU reader, a bounded output queue written with writev,
 * the CmdSN window, SCSI commands with Data-In, immediate and unsolicited
 * data and R2Ts, NOP-Out, Text (SendTargets), Logout, task management,
 * and Reject for the rest.  SCSI execution is synchronous for now.
 *
 * Digests (RFC 7143 13.1): when HeaderDigest or DataDigest is CRC32C,
 * every PDU carries a CRC32C after BHS+AHS, and one after its padded data
 * segment when that is not empty.  They are checked on input (conn_read)
 * and computed once per output PDU into the txpdu itself (conn_tx_queue),
 * so that they cost no allocation and go out in the same writev.
 */
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <bsd/string.h>
#include <bsd/vis.h>
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "keys.h"
#include "log.h"
#include "param.h"
#include "pdu.h"
#include "util.h"
#include "priv/lun.h"
#include "priv/scsi.h"
#include "priv/session.h"

#define CONN_TXQ_HIGH	(1024 * 1024)	/* stop reading above this */
#define CONN_IOV_MAX	(5 * 32)	/* iovecs in one writev */
#define CONN_RX_BATCH	64		/* PDUs per readable event */
#define TASK_R2T_MAX	8		/* R2Ts we keep outstanding */
#define CONN_TX_CACHE	64		/* recycled output PDUs */
#define CONN_TAG_MAX	(ADDRSTRLEN + 4 * ISCSI_NAME_MAX + 4)
#define CONN_BUF_MAX	(64U * 1024 * 1024) /* task buffers of a conn */

/* TMF functions and responses (RFC 7143 11.5, 11.6). */
#define TMF_ABORT_TASK		1
#define TMF_ABORT_TASK_SET	2
#define TMF_CLEAR_ACA		3
#define TMF_CLEAR_TASK_SET	4
#define TMF_LUN_RESET		5
#define TMF_TARGET_WARM_RESET	6
#define TMF_TARGET_COLD_RESET	7
#define TMF_TASK_REASSIGN	8
#define TMF_RSP_COMPLETE	0
#define TMF_RSP_NO_TASK		1
#define TMF_RSP_NO_LUN		2
#define TMF_RSP_NO_REASSIGN	4
#define TMF_RSP_NOT_SUPPORTED	5

/* A reference-counted payload (Data-In data is shared by its PDUs). */
struct iobuf {
	uint32_t	 ib_refs;
	uint32_t	 ib_len;
	uint8_t		 ib_data[];
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

/* A SCSI command waiting for its Data-Out data. */
struct task {
	TAILQ_ENTRY(task)	 t_entry;
	uint32_t		 t_itt;
	uint8_t			 t_lun[8];
	uint64_t		 t_lun_id;
	uint8_t			 t_cdb[16];
	uint32_t		 t_edtl;
	struct iobuf		*t_buf;	/* NULL when failed */
	bool			 t_failed;	/* t_sc has the answer */
	bool			 t_read;	/* R bit: Data-In */
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

enum rx_state { RX_BHS, RX_AHS, RX_DATA };

struct conn {
	enum io_kind		 conn_kind;	/* IO_CONN: first */
	TAILQ_ENTRY(conn)	 conn_entry;	/* in r_conns or r_dead */
	TAILQ_ENTRY(conn)	 conn_sentry;	/* in sess_conns */
	struct io_reactor	*conn_r;
	struct session		*conn_sess;
	const uint32_t		*conn_p;	/* session parameters */
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
	size_t			 conn_rx_off;	/* of this part */
	size_t			 conn_rx_need;
	uint8_t			 conn_rx_ahs[255 * 4 + ISCSI_DIGEST_SIZE];
	uint8_t			*conn_rx_data;	/* data, pad, digest */
	bool			 conn_rx_ddig_bad; /* data digest error */
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
};

static const uint8_t	 zero_pad[4];

static void	conn_free_tasks(struct conn *);
static void	conn_read(struct conn *);
static void	conn_pdu(struct conn *);
static int	conn_write(struct conn *);
static void	conn_events_update(struct conn *);
static void	conn_reject(struct conn *, uint8_t,
		    const struct iscsi_bhs *);
static void	conn_scsi_cmd(struct conn *);
static void	conn_data_out(struct conn *);
static void	conn_nop_out(struct conn *);
static void	conn_text(struct conn *);
static void	conn_logout(struct conn *);
static void	conn_tmf(struct conn *);
static void	task_write_start(struct conn *, struct task *,
		    const struct iscsi_scsi_cmd *, uint32_t);
static void	task_r2t_send(struct conn *, struct task *);
static void	task_done(struct conn *, struct task *);
static void	task_free(struct conn *, struct task *);
static void	task_respond(struct conn *, struct task *, uint32_t);
static void	task_buf_drop(struct conn *, struct task *);

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

/*
 * Buffers.
 */
static struct iobuf *
iobuf_new(size_t len)
{
	struct iobuf	*ib;

	if ((ib = malloc(sizeof(*ib) + len)) == NULL)
		return (NULL);
	ib->ib_refs = 1;
	ib->ib_len = len;
	return (ib);
}

static void
iobuf_unref(struct iobuf *ib)
{
	if (ib != NULL && --ib->ib_refs == 0)
		free(ib);
}

/*
 * Sessions.
 */
struct session *
session_new(struct io_reactor *r, struct io_target *it,
    const struct msg_w_handoff *h, const uint32_t params[P__COUNT])
{
	struct session	*s;
	size_t		 i;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("session_new");
		return (NULL);
	}
	s->sess_target = it;
	s->sess_reactor = r;
	memcpy(s->sess_isid, h->isid, sizeof(s->sess_isid));
	s->sess_tsih = h->tsih;
	s->sess_id = 0;
	for (i = 0; i < sizeof(s->sess_isid); i++)
		s->sess_id = s->sess_id << 8 | s->sess_isid[i];
	s->sess_id = s->sess_id << 16 | s->sess_tsih;
	strlcpy(s->sess_initiator, h->initiator, sizeof(s->sess_initiator));
	memcpy(s->sess_params, params, sizeof(s->sess_params));
	s->sess_expcmdsn = h->cmdsn;
	TAILQ_INIT(&s->sess_conns);
	TAILQ_INSERT_TAIL(&it->it_sessions, s, sess_entry);
	it->it_nsessions++;
	log_debug(1, "session_create: %#llx", (unsigned long long)s->sess_id);
	return (s);
}

static void
session_free(struct io_reactor *r, struct session *s)
{
	struct io_target	*it = s->sess_target;

	log_debug(1, "session_remove: %#llx", (unsigned long long)s->sess_id);
	TAILQ_REMOVE(&it->it_sessions, s, sess_entry);
	it->it_nsessions--;
	io_tsih_release(r, s->sess_tsih);
	free(s);
}

void
session_close(struct session *s)
{
	struct conn	*c;

	/* The last connection's close frees the session. */
	while (s->sess_nconns > 1) {
		c = TAILQ_FIRST(&s->sess_conns);
		session_conn_close(c, NULL);
	}
	session_conn_close(TAILQ_FIRST(&s->sess_conns), NULL);
}

struct session *
session_find(struct io_target *it, const char *initiator,
    const uint8_t isid[6])
{
	struct session	*s;

	TAILQ_FOREACH(s, &it->it_sessions, sess_entry)
		if (memcmp(s->sess_isid, isid, sizeof(s->sess_isid)) == 0 &&
		    strcmp(s->sess_initiator, initiator) == 0)
			return (s);
	return (NULL);
}

struct session *
session_find_tsih(struct io_target *it, uint16_t tsih)
{
	struct session	*s;

	TAILQ_FOREACH(s, &it->it_sessions, sess_entry)
		if (s->sess_tsih == tsih)
			return (s);
	return (NULL);
}

/*
 * Connections.
 */
int
session_conn_add(struct session *s, int fd, uint16_t cid, uint32_t statsn,
    const struct sockaddr_storage *peer, const struct sockaddr_storage *local)
{
	struct epoll_event	 ev;
	struct conn		*c;
	char			 addr[ADDRSTRLEN];
	char			 vname[4 * ISCSI_NAME_MAX + 1];
	int			 one = 1;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->conn_rx_data = malloc(s->sess_params[P_MAX_RECV_DSL] + 3 +
	    ISCSI_DIGEST_SIZE)) == NULL) {
		log_warn("session_conn_add");
		goto fail;
	}
	c->conn_kind = IO_CONN;
	c->conn_r = s->sess_reactor;
	c->conn_sess = s;
	c->conn_p = s->sess_params;
	/*
	 * Digests are per connection in RFC 7143, but handoffs of added
	 * connections carry no parameters of their own yet: every
	 * connection uses what the session's leading connection negotiated.
	 */
	c->conn_hdig = s->sess_params[P_HEADER_DIGEST] == PARAM_DIGEST_CRC32C;
	c->conn_ddig = s->sess_params[P_DATA_DIGEST] == PARAM_DIGEST_CRC32C;
	c->conn_fd = fd;
	c->conn_cid = cid;
	c->conn_statsn = statsn;
	c->conn_ttt = 1;
	c->conn_local = *local;
	c->conn_rx_state = RX_BHS;
	c->conn_rx_need = ISCSI_BHS_SIZE;
	TAILQ_INIT(&c->conn_txq);
	TAILQ_INIT(&c->conn_txfree);
	TAILQ_INIT(&c->conn_tasks);
	addr_str((const struct sockaddr *)peer, 1, addr, sizeof(addr));
	strnvis(vname, s->sess_initiator, sizeof(vname), VIS_SAFE | VIS_OCTAL);
	snprintf(c->conn_tag, sizeof(c->conn_tag), "%s (%s)", addr, vname);

	if (set_nonblock(fd) == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1) {
		log_warn("%s: socket options", c->conn_tag);
		goto fail;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = c->conn_events = EPOLLIN;
	ev.data.ptr = c;
	if (epoll_ctl(c->conn_r->r_epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		log_warn("%s: epoll_ctl", c->conn_tag);
		goto fail;
	}
	TAILQ_INSERT_TAIL(&c->conn_r->r_conns, c, conn_entry);
	TAILQ_INSERT_TAIL(&s->sess_conns, c, conn_sentry);
	s->sess_nconns++;
	log_debug(1, "%s: full feature phase, cid %u session %#llx target %u",
	    c->conn_tag, cid, (unsigned long long)s->sess_id,
	    s->sess_target->it_lt->lt_tid);
	if (c->conn_hdig || c->conn_ddig)
		log_debug(1, "%s: digests: header %s, data %s", c->conn_tag,
		    c->conn_hdig ? "CRC32C" : "None",
		    c->conn_ddig ? "CRC32C" : "None");
	return (0);

fail:
	if (c != NULL)
		free(c->conn_rx_data);
	free(c);
	close(fd);
	if (s->sess_nconns == 0)
		session_free(s->sess_reactor, s);
	return (-1);
}

struct conn *
session_conn_next(struct conn *c)
{
	return (TAILQ_NEXT(c, conn_entry));
}

void
session_conn_close(struct conn *c, const char *why)
{
	struct io_reactor	*r = c->conn_r;
	struct session		*s = c->conn_sess;
	struct txpdu		*tx;

	if (c->conn_dead)
		return;
	c->conn_dead = true;
	if (why != NULL)
		log_warnx("%s: %s", c->conn_tag, why);
	log_info("%s: connection closed", c->conn_tag);
	log_debug(1, "close conn %u session %#llx target %u", c->conn_cid,
	    (unsigned long long)s->sess_id, s->sess_target->it_lt->lt_tid);
	epoll_ctl(r->r_epfd, EPOLL_CTL_DEL, c->conn_fd, NULL);
	close(c->conn_fd);
	c->conn_fd = -1;
	conn_free_tasks(c);
	while ((tx = TAILQ_FIRST(&c->conn_txq)) != NULL) {
		TAILQ_REMOVE(&c->conn_txq, tx, tx_entry);
		iobuf_unref(tx->tx_buf);
		free(tx);
	}
	while ((tx = TAILQ_FIRST(&c->conn_txfree)) != NULL) {
		TAILQ_REMOVE(&c->conn_txfree, tx, tx_entry);
		free(tx);
	}
	c->conn_tx_bytes = 0;
	free(c->conn_rx_data);
	c->conn_rx_data = NULL;
	TAILQ_REMOVE(&s->sess_conns, c, conn_sentry);
	c->conn_sess = NULL;
	TAILQ_REMOVE(&r->r_conns, c, conn_entry);
	TAILQ_INSERT_TAIL(&r->r_dead, c, conn_entry);
	if (--s->sess_nconns == 0)
		session_free(r, s);
}

void
session_reap(struct io_reactor *r)
{
	struct conn	*c;

	while ((c = TAILQ_FIRST(&r->r_dead)) != NULL) {
		TAILQ_REMOVE(&r->r_dead, c, conn_entry);
		free(c);
	}
}

bool
session_conn_flush(struct conn *c)
{
	if (c->conn_dead)
		return (true);
	c->conn_stop_rx = true;
	if (conn_write(c) == -1)
		return (true);
	conn_events_update(c);
	return (TAILQ_EMPTY(&c->conn_txq));
}

void
session_conn_event(struct conn *c, uint32_t events)
{
	if (c->conn_dead)
		return;
	if (events & (EPOLLERR | EPOLLHUP)) {
		session_conn_close(c, NULL);
		return;
	}
	if ((events & EPOLLOUT) && conn_write(c) == -1)
		return;
	if ((events & EPOLLIN) && !c->conn_stop_rx)
		conn_read(c);
	if (c->conn_dead)
		return;
	/* Try to send what this batch produced before waiting. */
	if (!TAILQ_EMPTY(&c->conn_txq) && conn_write(c) == -1)
		return;
	if (c->conn_logout && TAILQ_EMPTY(&c->conn_txq)) {
		if (c->conn_logout_sess)
			session_close(c->conn_sess);
		else
			session_conn_close(c, NULL);
		return;
	}
	conn_events_update(c);
}

static void
conn_events_update(struct conn *c)
{
	struct epoll_event	 ev;
	uint32_t		 want = 0;

	if (!c->conn_stop_rx && c->conn_tx_bytes < CONN_TXQ_HIGH)
		want |= EPOLLIN;
	if (!TAILQ_EMPTY(&c->conn_txq))
		want |= EPOLLOUT;
	if (want == c->conn_events)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = want;
	ev.data.ptr = c;
	if (epoll_ctl(c->conn_r->r_epfd, EPOLL_CTL_MOD, c->conn_fd, &ev) ==
	    -1) {
		session_conn_close(c, "epoll_ctl failed");
		return;
	}
	c->conn_events = want;
}

/*
 * Output queue.
 */
static struct txpdu *
conn_tx_new(struct conn *c, uint8_t opcode)
{
	struct txpdu	*tx;

	if ((tx = TAILQ_FIRST(&c->conn_txfree)) != NULL) {
		TAILQ_REMOVE(&c->conn_txfree, tx, tx_entry);
		c->conn_ntxfree--;
	} else if ((tx = malloc(sizeof(*tx))) == NULL) {
		log_warn("%s: output", c->conn_tag);
		return (NULL);
	}
	memset(&tx->tx_bhs, 0, sizeof(tx->tx_bhs));
	tx->tx_bhs.opcode = opcode;
	tx->tx_data = NULL;
	tx->tx_len = 0;
	tx->tx_buf = NULL;
	return (tx);
}

static void
conn_tx_recycle(struct conn *c, struct txpdu *tx)
{
	iobuf_unref(tx->tx_buf);
	tx->tx_buf = NULL;
	if (c->conn_ntxfree < CONN_TX_CACHE) {
		TAILQ_INSERT_HEAD(&c->conn_txfree, tx, tx_entry);
		c->conn_ntxfree++;
	} else
		free(tx);
}

/*
 * Attach data (a reference to ib, or NULL) and queue.  status: the PDU
 * carries a status and consumes a StatSN.
 */
static void
conn_tx_queue(struct conn *c, struct txpdu *tx, struct iobuf *ib,
    const uint8_t *data, uint32_t len, bool status)
{
	struct iscsi_bhs	*bhs = &tx->tx_bhs;

	if (ib != NULL)
		ib->ib_refs++;
	tx->tx_buf = ib;
	tx->tx_data = data;
	tx->tx_len = len;
	pdu_set_data_len(bhs, len);
	bhs->sn24 = htobe32(status ? c->conn_statsn++ : c->conn_statsn);
	bhs->sn28 = htobe32(c->conn_sess->sess_expcmdsn);
	bhs->sn32 = htobe32(conn_maxcmdsn(c));
	/* The header is final now (output PDUs carry no AHS). */
	if (c->conn_hdig)
		crc32c_put(tx->tx_hdig, crc32c(bhs, ISCSI_BHS_SIZE));
	if (c->conn_ddig && len > 0)
		crc32c_put(tx->tx_ddig, crc32c_update(crc32c(data, len),
		    zero_pad, pdu_padding(len)));
	TAILQ_INSERT_TAIL(&c->conn_txq, tx, tx_entry);
	c->conn_tx_bytes += ISCSI_BHS_SIZE + len;
}

/* Queue a PDU whose data is copied into a fresh buffer. */
static void
conn_tx_copy(struct conn *c, struct txpdu *tx, const void *data,
    uint32_t len, bool status)
{
	struct iobuf	*ib = NULL;

	if (len > 0) {
		if ((ib = iobuf_new(len)) == NULL) {
			conn_tx_recycle(c, tx);
			session_conn_close(c, "out of memory");
			return;
		}
		memcpy(ib->ib_data, data, len);
	}
	conn_tx_queue(c, tx, ib, ib != NULL ? ib->ib_data : NULL, len, status);
	iobuf_unref(ib);
}

/* Bytes of a queued PDU on the wire, digests included. */
static size_t
conn_tx_wire_len(const struct conn *c, const struct txpdu *tx)
{
	size_t	 n = ISCSI_BHS_SIZE + tx->tx_len + pdu_padding(tx->tx_len);

	if (c->conn_hdig)
		n += ISCSI_DIGEST_SIZE;
	if (c->conn_ddig && tx->tx_len > 0)
		n += ISCSI_DIGEST_SIZE;
	return (n);
}

/* Write what the socket takes: 0, or -1 when the connection closed. */
static int
conn_write(struct conn *c)
{
	struct iovec	 iov[CONN_IOV_MAX];
	struct txpdu	*tx;
	size_t		 skip, part, left;
	ssize_t		 n;
	int		 niov, k;

	while (!TAILQ_EMPTY(&c->conn_txq)) {
		niov = 0;
		skip = c->conn_tx_off;
		TAILQ_FOREACH(tx, &c->conn_txq, tx_entry) {
			const void	*base[5];
			size_t		 len[5];

			if (niov + 5 > CONN_IOV_MAX)
				break;
			base[0] = &tx->tx_bhs;
			len[0] = ISCSI_BHS_SIZE;
			base[1] = tx->tx_hdig;
			len[1] = c->conn_hdig ? ISCSI_DIGEST_SIZE : 0;
			base[2] = tx->tx_data;
			len[2] = tx->tx_len;
			base[3] = zero_pad;
			len[3] = pdu_padding(tx->tx_len);
			base[4] = tx->tx_ddig;
			len[4] = c->conn_ddig && tx->tx_len > 0 ?
			    ISCSI_DIGEST_SIZE : 0;
			for (k = 0; k < 5; k++) {
				if (skip >= len[k]) {
					skip -= len[k];
					continue;
				}
				iov[niov].iov_base = (uint8_t *)(uintptr_t)
				    base[k] + skip;
				iov[niov++].iov_len = len[k] - skip;
				skip = 0;
			}
		}
		n = writev(c->conn_fd, iov, niov);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return (0);
			log_debug(1, "%s: write: %s", c->conn_tag,
			    strerror(errno));
			session_conn_close(c, NULL);
			return (-1);
		}
		left = n;
		while ((tx = TAILQ_FIRST(&c->conn_txq)) != NULL) {
			part = conn_tx_wire_len(c, tx) - c->conn_tx_off;
			if (left < part) {
				c->conn_tx_off += left;
				break;
			}
			left -= part;
			c->conn_tx_off = 0;
			c->conn_tx_bytes -= ISCSI_BHS_SIZE + tx->tx_len;
			TAILQ_REMOVE(&c->conn_txq, tx, tx_entry);
			conn_tx_recycle(c, tx);
		}
	}
	return (0);
}

/*
 * Input: BHS, then AHS and header digest, then the data segment with its
 * padding and data digest.
 *
 * Digest errors at ErrorRecoveryLevel 0 (RFC 7143 7.8): a header digest
 * error makes every field of the header untrustworthy, DataSegmentLength
 * included, so where the next PDU starts is unknown: the connection is
 * dropped (the initiator recovers the session).  A data digest error
 * leaves the framing intact: the PDU is read whole, flagged, and
 * conn_pdu answers it with a Reject and discards it.
 */
static bool
conn_rx_hdig_ok(struct conn *c)
{
	size_t		 ahs = c->conn_rx_bhs.total_ahs_len * 4;
	uint32_t	 crc;

	crc = crc32c(&c->conn_rx_bhs, ISCSI_BHS_SIZE);
	crc = crc32c_update(crc, c->conn_rx_ahs, ahs);
	return (crc == crc32c_get(c->conn_rx_ahs + ahs));
}

static bool
conn_rx_ddig_ok(struct conn *c)
{
	size_t	 dlen = pdu_data_len(&c->conn_rx_bhs);
	size_t	 padded = dlen + pdu_padding(dlen);

	return (crc32c(c->conn_rx_data, padded) ==
	    crc32c_get(c->conn_rx_data + padded));
}

static void
conn_read(struct conn *c)
{
	struct iscsi_bhs	*bhs = &c->conn_rx_bhs;
	uint8_t			*dst;
	size_t			 dlen;
	ssize_t			 n;
	int			 npdu = 0;

	while (npdu < CONN_RX_BATCH && !c->conn_stop_rx &&
	    c->conn_tx_bytes < CONN_TXQ_HIGH) {
		switch (c->conn_rx_state) {
		case RX_BHS:
			dst = (uint8_t *)bhs;
			break;
		case RX_AHS:
			dst = c->conn_rx_ahs;
			break;
		default:
			dst = c->conn_rx_data;
			break;
		}
		if (c->conn_rx_need > 0) {
			n = read(c->conn_fd, dst + c->conn_rx_off,
			    c->conn_rx_need - c->conn_rx_off);
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1 && errno == EAGAIN)
				return;
			if (n <= 0) {
				if (n == -1)
					log_debug(1, "%s: read: %s",
					    c->conn_tag, strerror(errno));
				session_conn_close(c, NULL);
				return;
			}
			c->conn_rx_off += n;
			if (c->conn_rx_off < c->conn_rx_need)
				continue;
		}
		c->conn_rx_off = 0;
		switch (c->conn_rx_state) {
		case RX_BHS:
			c->conn_rx_state = RX_AHS;
			c->conn_rx_need = bhs->total_ahs_len * 4 +
			    (c->conn_hdig ? ISCSI_DIGEST_SIZE : 0);
			break;
		case RX_AHS:
			if (c->conn_hdig && !conn_rx_hdig_ok(c)) {
				session_conn_close(c, "header digest error");
				return;
			}
			dlen = pdu_data_len(bhs);
			if (dlen > c->conn_p[P_MAX_RECV_DSL]) {
				log_warnx("%s: %s: DataSegmentLength %zu "
				    "over MaxRecvDataSegmentLength %u",
				    c->conn_tag,
				    pdu_opcode_name(pdu_opcode(bhs)), dlen,
				    c->conn_p[P_MAX_RECV_DSL]);
				conn_reject(c, REJECT_PROTOCOL_ERROR, bhs);
				c->conn_stop_rx = true;
				c->conn_logout = true;
				return;
			}
			c->conn_rx_state = RX_DATA;
			c->conn_rx_need = dlen + pdu_padding(dlen);
			if (c->conn_ddig && dlen > 0)
				c->conn_rx_need += ISCSI_DIGEST_SIZE;
			break;
		case RX_DATA:
			c->conn_rx_ddig_bad = c->conn_ddig &&
			    pdu_data_len(bhs) > 0 && !conn_rx_ddig_ok(c);
			c->conn_rx_state = RX_BHS;
			c->conn_rx_need = ISCSI_BHS_SIZE;
			npdu++;
			conn_pdu(c);
			if (c->conn_dead)
				return;
			break;
		}
	}
}

/*
 * The CmdSN window (RFC 7143 4.2.2.1): 1 if the command is to be
 * processed, 0 if it is dropped.
 */
static int
conn_cmdsn(struct conn *c, uint32_t cmdsn, bool immediate)
{
	struct session	*s = c->conn_sess;

	if (immediate)
		return (1);
	if (sn_lt(cmdsn, s->sess_expcmdsn) || sn_gt(cmdsn, conn_maxcmdsn(c))) {
		log_warnx("%s: CmdSN %u outside the window %u-%u, dropped",
		    c->conn_tag, cmdsn, s->sess_expcmdsn, conn_maxcmdsn(c));
		return (0);
	}
	if (cmdsn != s->sess_expcmdsn)
		log_warnx("%s: CmdSN %u, expected %u", c->conn_tag, cmdsn,
		    s->sess_expcmdsn);
	s->sess_expcmdsn = cmdsn + 1;
	return (1);
}

static void
conn_pdu(struct conn *c)
{
	struct iscsi_bhs	*bhs = &c->conn_rx_bhs;
	int			 op = pdu_opcode(bhs);

	log_debug(2, "%s: %s itt %#x len %u", c->conn_tag,
	    pdu_opcode_name(op), be32toh(bhs->itt), pdu_data_len(bhs));
	if (c->conn_rx_ddig_bad) {
		log_warnx("%s: %s itt %#x: data digest error", c->conn_tag,
		    pdu_opcode_name(op), be32toh(bhs->itt));
		/*
		 * RFC 7143 7.8: Reject with reason Data-Digest-Error and
		 * discard the PDU.  A discarded SCSI Command is one that
		 * never arrived: no task, its CmdSN not taken, its
		 * immediate data gone; the initiator retries it or, at
		 * ErrorRecoveryLevel 0, recovers the session.  A Data-Out
		 * ends its task (conn_data_out).
		 */
		if (op != ISCSI_OP_DATA_OUT) {
			conn_reject(c, REJECT_DIGEST_ERROR, bhs);
			return;
		}
	}
	if (bhs->total_ahs_len != 0 && op != ISCSI_OP_SCSI_CMD) {
		/* AHS is defined for SCSI Command PDUs only. */
		conn_reject(c, REJECT_PROTOCOL_ERROR, bhs);
		return;
	}
	switch (op) {
	case ISCSI_OP_SCSI_CMD:
		conn_scsi_cmd(c);
		break;
	case ISCSI_OP_DATA_OUT:
		conn_data_out(c);
		break;
	case ISCSI_OP_NOP_OUT:
		conn_nop_out(c);
		break;
	case ISCSI_OP_TEXT_REQ:
		conn_text(c);
		break;
	case ISCSI_OP_LOGOUT_REQ:
		conn_logout(c);
		break;
	case ISCSI_OP_TMF_REQ:
		conn_tmf(c);
		break;
	case ISCSI_OP_SNACK_REQ:
		conn_reject(c, REJECT_SNACK_REJECT, bhs);
		break;
	default:
		log_warnx("%s: unsupported opcode %#x", c->conn_tag, op);
		conn_reject(c, REJECT_CMD_NOT_SUPPORTED, bhs);
		break;
	}
}

static void
conn_reject(struct conn *c, uint8_t reason, const struct iscsi_bhs *bad)
{
	struct iscsi_reject	*rj;
	struct txpdu		*tx;

	log_debug(1, "%s: reject %s, reason %#x", c->conn_tag,
	    pdu_opcode_name(pdu_opcode(bad)), reason);
	if ((tx = conn_tx_new(c, ISCSI_OP_REJECT)) == NULL) {
		session_conn_close(c, "out of memory");
		return;
	}
	rj = (struct iscsi_reject *)&tx->tx_bhs;
	rj->flags = ISCSI_FLAG_FINAL;
	rj->reason = reason;
	rj->ffffffff = htobe32(ISCSI_RESERVED_TAG);
	conn_tx_copy(c, tx, bad, ISCSI_BHS_SIZE, true);
}

/*
 * SCSI commands.
 */
static struct task *
conn_task_find(struct conn *c, uint32_t itt)
{
	struct task	*t;

	TAILQ_FOREACH(t, &c->conn_tasks, t_entry)
		if (t->t_itt == itt)
			return (t);
	return (NULL);
}

static void
task_buf_drop(struct conn *c, struct task *t)
{
	if (t->t_buf == NULL)
		return;
	c->conn_buf_bytes -= t->t_buf->ib_len;
	iobuf_unref(t->t_buf);
	t->t_buf = NULL;
}

static void
task_free(struct conn *c, struct task *t)
{
	TAILQ_REMOVE(&c->conn_tasks, t, t_entry);
	c->conn_ntasks--;
	task_buf_drop(c, t);
	free(t);
}

static void
conn_free_tasks(struct conn *c)
{
	struct task	*t;

	while ((t = TAILQ_FIRST(&c->conn_tasks)) != NULL)
		task_free(c, t);
}

/* Residual flags and count for a finished command. */
static uint8_t
task_residual(const struct task *t, uint32_t *res)
{
	uint32_t	 want = t->t_sc.sc_want_len;

	*res = 0;
	if (t->t_failed)
		return (0);
	if (want > t->t_edtl) {
		*res = want - t->t_edtl;
		return (ISCSI_RSP_OVERFLOW);
	}
	if (want < t->t_edtl) {
		*res = t->t_edtl - want;
		return (ISCSI_RSP_UNDERFLOW);
	}
	return (0);
}

/* SCSI Response: status, sense, residuals. */
static void
task_respond(struct conn *c, struct task *t, uint32_t expdatasn)
{
	struct iscsi_scsi_rsp	*rsp;
	struct txpdu		*tx;
	struct iobuf		*ib = NULL;
	uint32_t		 res, slen = t->t_sc.sc_sense_len;

	if ((tx = conn_tx_new(c, ISCSI_OP_SCSI_RSP)) == NULL) {
		session_conn_close(c, "out of memory");
		return;
	}
	rsp = (struct iscsi_scsi_rsp *)&tx->tx_bhs;
	rsp->flags = ISCSI_FLAG_FINAL | task_residual(t, &res);
	rsp->response = 0;
	rsp->status = t->t_sc.sc_status;
	rsp->itt = htobe32(t->t_itt);
	rsp->residual = htobe32(res);
	/* R2Ts or Data-In PDUs sent for the command (RFC 7143 11.4.8). */
	rsp->expdatasn = htobe32(expdatasn);
	if (slen > SCSI_SENSE_MAX)
		slen = SCSI_SENSE_MAX;
	if (slen > 0) {
		if ((ib = iobuf_new(2 + slen)) == NULL) {
			conn_tx_recycle(c, tx);
			session_conn_close(c, "out of memory");
			return;
		}
		ib->ib_data[0] = slen >> 8;
		ib->ib_data[1] = slen;
		memcpy(ib->ib_data + 2, t->t_sc.sc_sense, slen);
	}
	conn_tx_queue(c, tx, ib, ib != NULL ? ib->ib_data : NULL,
	    ib != NULL ? ib->ib_len : 0, true);
	iobuf_unref(ib);
}

/*
 * Data-In PDUs for bytes [0, xfer) of the task's buffer, in sequences of
 * at most MaxBurstLength (RFC 7143 13.14) and PDUs of at most
 * MaxRecvDataSegmentLength of the initiator; F ends each sequence.  When
 * the command succeeded without sense, the status rides on the last one.
 */
static uint32_t
task_data_in(struct conn *c, struct task *t, uint32_t xfer, bool status)
{
	struct iscsi_data_in	*din;
	struct txpdu		*tx;
	uint32_t		 off = 0, datasn = 0, seq = 0, len, res;
	uint32_t		 mxdsl = c->conn_p[P_MAX_XMIT_DSL];
	uint32_t		 burst = c->conn_p[P_MAX_BURST];
	bool			 last;

	while (off < xfer) {
		len = xfer - off;
		if (len > mxdsl)
			len = mxdsl;
		if (len > burst - seq)
			len = burst - seq;
		last = off + len == xfer;
		if ((tx = conn_tx_new(c, ISCSI_OP_DATA_IN)) == NULL) {
			session_conn_close(c, "out of memory");
			return (datasn);
		}
		din = (struct iscsi_data_in *)&tx->tx_bhs;
		memcpy(din->lun, t->t_lun, sizeof(din->lun));
		din->itt = htobe32(t->t_itt);
		din->ttt = htobe32(ISCSI_RESERVED_TAG);
		din->datasn = htobe32(datasn++);
		din->buffer_offset = htobe32(off);
		seq += len;
		if (last || seq == burst) {
			din->flags = ISCSI_FLAG_FINAL;
			seq = 0;
		}
		if (last && status) {
			din->flags |= ISCSI_DATAIN_STATUS |
			    task_residual(t, &res);
			din->status = t->t_sc.sc_status;
			din->residual = htobe32(res);
		}
		conn_tx_queue(c, tx, t->t_buf, t->t_buf->ib_data + off, len,
		    last && status);
		off += len;
	}
	return (datasn);
}

/* Execute a task whose data (if any) is all in, answer, free it. */
static void
task_done(struct conn *c, struct task *t)
{
	struct scsi_cmd	*sc = &t->t_sc;
	uint32_t	 xfer = 0, n;
	bool		 piggy;

	if (!t->t_failed) {
		sc->sc_target = c->conn_sess->sess_target->it_lt;
		sc->sc_lun = lun_find(sc->sc_target, t->t_lun_id);
		sc->sc_lun_id = t->t_lun_id;
		sc->sc_cdb = t->t_cdb;
		sc->sc_buf = t->t_buf != NULL ? t->t_buf->ib_data : NULL;
		sc->sc_buf_len = t->t_edtl;
		scsi_exec(sc);
		xfer = sc->sc_xfer_len;
		if (xfer > t->t_edtl)
			xfer = t->t_edtl;
	}
	if (t->t_buf != NULL && t->t_read && xfer > 0) {
		piggy = sc->sc_status == SCSI_STATUS_GOOD &&
		    sc->sc_sense_len == 0;
		n = task_data_in(c, t, xfer, piggy);
		if (!piggy && !c->conn_dead)
			task_respond(c, t, n);
	} else
		task_respond(c, t, t->t_r2tsn);
	if (!c->conn_dead)
		task_free(c, t);
}

static void
conn_scsi_cmd(struct conn *c)
{
	struct iscsi_scsi_cmd	*cmd = (void *)&c->conn_rx_bhs;
	struct task		*t;
	enum scsi_dir		 dir;
	uint32_t		 dlen = pdu_data_len(&c->conn_rx_bhs);
	bool			 rd, wr;

	if (!conn_cmdsn(c, be32toh(cmd->cmdsn),
	    (cmd->opcode & ISCSI_OP_IMMEDIATE) != 0))
		return;
	if (conn_task_find(c, be32toh(cmd->itt)) != NULL) {
		log_warnx("%s: ITT %#x already in use", c->conn_tag,
		    be32toh(cmd->itt));
		conn_reject(c, REJECT_TASK_IN_PROGRESS, &c->conn_rx_bhs);
		return;
	}
	if (c->conn_ntasks >= 2 * c->conn_p[P_QUEUED_COMMANDS] + 16) {
		session_conn_close(c, "too many tasks waiting for data");
		return;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		session_conn_close(c, "out of memory");
		return;
	}
	TAILQ_INSERT_TAIL(&c->conn_tasks, t, t_entry);
	c->conn_ntasks++;
	t->t_itt = be32toh(cmd->itt);
	memcpy(t->t_lun, cmd->lun, sizeof(t->t_lun));
	t->t_lun_id = pdu_lun_decode(cmd->lun);
	memcpy(t->t_cdb, cmd->cdb, sizeof(t->t_cdb));
	t->t_edtl = be32toh(cmd->edtl);
	rd = t->t_read = (cmd->flags & ISCSI_CMD_READ) != 0;
	wr = (cmd->flags & ISCSI_CMD_WRITE) != 0;
	dir = scsi_cdb_dir(t->t_cdb);

	if (cmd->total_ahs_len != 0) {
		/* Extended CDB and bidirectional AHS are not supported. */
		t->t_failed = true;
		scsi_sense(&t->t_sc, SKEY_ILLEGAL_REQUEST, 0x24, 0x00);
	} else if (t->t_edtl > 0 && ((rd && wr) ||
	    (dir == SCSI_DIR_WRITE && !wr))) {
		/*
		 * A write without Data-Out data would write garbage.  A read
		 * flagged otherwise runs and just sends no Data-In (libiscsi
		 * expects GOOD); unknown directions are left to scsi_exec.
		 */
		log_warnx("%s: CDB %#x does not match R/W flags %#x",
		    c->conn_tag, t->t_cdb[0], cmd->flags);
		t->t_failed = true;
		scsi_sense(&t->t_sc, SKEY_ILLEGAL_REQUEST, 0x24, 0x00);
	} else if (t->t_edtl > SCSI_MAX_XFER) {
		log_warnx("%s: Expected Data Transfer Length %u too large",
		    c->conn_tag, t->t_edtl);
		t->t_failed = true;
		scsi_sense(&t->t_sc, SKEY_ILLEGAL_REQUEST, 0x24, 0x00);
	} else if (t->t_edtl > 0 &&
	    (c->conn_buf_bytes + t->t_edtl > CONN_BUF_MAX ||
	    (t->t_buf = iobuf_new(t->t_edtl)) == NULL)) {
		/* Bounded memory: the initiator retries later. */
		t->t_failed = true;
		t->t_sc.sc_status = SCSI_STATUS_TASK_SET_FULL;
	} else
		c->conn_buf_bytes += t->t_edtl;
	if (wr || dlen > 0)
		task_write_start(c, t, cmd, dlen);
	else
		task_done(c, t);
}

/*
 * A write: take the immediate data, then wait for unsolicited Data-Out
 * (InitialR2T=No) until the F bit, then solicit the rest with R2Ts.  A
 * failed command takes and discards what the initiator may send
 * unsolicited, and then answers (RFC 7143 11.4.7.2 style draining).
 */
static void
task_write_start(struct conn *c, struct task *t,
    const struct iscsi_scsi_cmd *cmd, uint32_t dlen)
{
	uint32_t	 unsol;

	unsol = c->conn_p[P_FIRST_BURST];
	if (unsol > t->t_edtl)
		unsol = t->t_edtl;
	if (dlen > 0 && (!c->conn_p[P_IMMEDIATE_DATA] || dlen > unsol)) {
		log_warnx("%s: %u bytes of immediate data not allowed "
		    "(ImmediateData %s, FirstBurstLength %u, EDTL %u)",
		    c->conn_tag, dlen,
		    c->conn_p[P_IMMEDIATE_DATA] ? "Yes" : "No",
		    c->conn_p[P_FIRST_BURST], t->t_edtl);
		conn_reject(c, REJECT_PROTOCOL_ERROR, &c->conn_rx_bhs);
		task_free(c, t);
		return;
	}
	if (dlen > 0 && t->t_buf != NULL)
		memcpy(t->t_buf->ib_data, c->conn_rx_data, dlen);
	t->t_recv = dlen;
	t->t_unsol_next = dlen;
	t->t_unsol_end = c->conn_p[P_INITIAL_R2T] ? dlen : unsol;
	t->t_unsol_open = (cmd->flags & ISCSI_FLAG_FINAL) == 0 &&
	    !c->conn_p[P_INITIAL_R2T] && t->t_unsol_end > dlen;
	t->t_r2t_off = dlen;
	if (t->t_unsol_open)
		return;
	if (t->t_failed || t->t_recv == t->t_edtl)
		task_done(c, t);
	else
		task_r2t_send(c, t);
}

/* Solicit more data while R2Ts may be outstanding. */
static void
task_r2t_send(struct conn *c, struct task *t)
{
	struct iscsi_r2t	*r2t;
	struct txpdu		*tx;
	struct r2t		*r;
	uint32_t		 max = c->conn_p[P_MAX_OUTSTANDING_R2T], len;
	size_t			 i;

	if (max > TASK_R2T_MAX)
		max = TASK_R2T_MAX;
	while (t->t_nr2t < max && t->t_r2t_off < t->t_edtl) {
		for (i = 0; i < TASK_R2T_MAX && t->t_r2t[i].r_used; i++)
			;
		r = &t->t_r2t[i];
		len = t->t_edtl - t->t_r2t_off;
		if (len > c->conn_p[P_MAX_BURST])
			len = c->conn_p[P_MAX_BURST];
		if ((tx = conn_tx_new(c, ISCSI_OP_R2T)) == NULL) {
			session_conn_close(c, "out of memory");
			return;
		}
		memset(r, 0, sizeof(*r));
		r->r_used = true;
		r->r_ttt = c->conn_ttt++;
		if (c->conn_ttt == ISCSI_RESERVED_TAG)
			c->conn_ttt = 1;
		r->r_off = t->t_r2t_off;
		r->r_len = len;
		t->t_r2t_off += len;
		t->t_nr2t++;
		r2t = (struct iscsi_r2t *)&tx->tx_bhs;
		r2t->flags = ISCSI_FLAG_FINAL;
		memcpy(r2t->lun, t->t_lun, sizeof(r2t->lun));
		r2t->itt = htobe32(t->t_itt);
		r2t->ttt = htobe32(r->r_ttt);
		r2t->r2tsn = htobe32(t->t_r2tsn++);
		r2t->buffer_offset = htobe32(r->r_off);
		r2t->desired_len = htobe32(len);
		conn_tx_queue(c, tx, NULL, NULL, 0, false);
	}
}

/* Check a Data-Out against its burst; NULL r means unsolicited. */
static uint8_t
data_out_check(struct conn *c, struct task *t, struct r2t *r,
    uint32_t off, uint32_t len, uint32_t datasn)
{
	uint32_t	 start, end, next, sn;

	if (r == NULL) {
		start = 0;
		end = t->t_unsol_end;
		next = t->t_unsol_next;
		sn = t->t_unsol_datasn;
	} else {
		start = r->r_off;
		end = r->r_off + r->r_len;
		next = r->r_off + r->r_got;
		sn = r->r_datasn;
	}
	if (off < start || off > end || len > end - off) {
		log_warnx("%s: Data-Out ITT %#x offset %u length %u outside "
		    "%u-%u", c->conn_tag, t->t_itt, off, len, start, end);
		return (REJECT_INVALID_PDU_FIELD);
	}
	/* DataSN counts the PDUs of every burst; offsets may only come out
	 * of order with DataPDUInOrder=No. */
	if (datasn != sn || (c->conn_p[P_DATA_PDU_IN_ORDER] && off != next)) {
		log_warnx("%s: Data-Out ITT %#x out of order: offset %u "
		    "DataSN %u, expected %u and %u", c->conn_tag, t->t_itt,
		    off, datasn, next, sn);
		return (REJECT_PROTOCOL_ERROR);
	}
	return (0);
}

/*
 * A data transfer error ends the command, not the connection: the bad
 * Data-Out is rejected, the rest of its data is taken and discarded, and
 * the command ends in CHECK CONDITION (RFC 7143 11.17.1: a Reject never
 * terminates a task by itself, a response does).
 */
static void
task_fail(struct conn *c, struct task *t, uint8_t key, uint8_t asc,
    uint8_t ascq)
{
	if (t->t_failed)
		return;
	t->t_failed = true;
	scsi_sense(&t->t_sc, key, asc, ascq);
	task_buf_drop(c, t);
}

static void
conn_data_out(struct conn *c)
{
	struct iscsi_data_out	*d = (void *)&c->conn_rx_bhs;
	struct task		*t;
	struct r2t		*r = NULL;
	uint32_t		 ttt = be32toh(d->ttt);
	uint32_t		 off = be32toh(d->buffer_offset);
	uint32_t		 len = pdu_data_len(&c->conn_rx_bhs);
	uint32_t		 datasn = be32toh(d->datasn);
	bool			 final = (d->flags & ISCSI_FLAG_FINAL) != 0;
	uint8_t			 why;
	size_t			 i;

	if (c->conn_rx_ddig_bad) {
		conn_reject(c, REJECT_DIGEST_ERROR, &c->conn_rx_bhs);
		/*
		 * RFC 7143 7.8: at ErrorRecoveryLevel 0 a target that does
		 * not ask for the data again (a recovery R2T is ERL 1)
		 * terminates the task with CHECK CONDITION, "protocol
		 * service CRC error" (4.4.7.1: ABORTED COMMAND, 47h/05h).
		 * The task's buffer is dropped so that nothing of it is
		 * written; the rest of its data is taken and discarded as
		 * for any failed task, then the response goes out.  The
		 * header is good (it passed its own digest, or none was
		 * negotiated), so the bookkeeping below may use it.
		 */
		if ((t = conn_task_find(c, be32toh(d->itt))) == NULL)
			return;
		task_fail(c, t, SKEY_ABORTED_COMMAND, 0x47, 0x05);
	}
	if ((t = conn_task_find(c, be32toh(d->itt))) == NULL) {
		log_warnx("%s: Data-Out for unknown ITT %#x", c->conn_tag,
		    be32toh(d->itt));
		conn_reject(c, REJECT_INVALID_PDU_FIELD, &c->conn_rx_bhs);
		return;
	}
	if (ttt != ISCSI_RESERVED_TAG) {
		for (i = 0; i < TASK_R2T_MAX; i++)
			if (t->t_r2t[i].r_used && t->t_r2t[i].r_ttt == ttt) {
				r = &t->t_r2t[i];
				break;
			}
		if (r == NULL) {
			log_warnx("%s: Data-Out ITT %#x: unknown TTT %#x",
			    c->conn_tag, t->t_itt, ttt);
			conn_reject(c, REJECT_INVALID_PDU_FIELD,
			    &c->conn_rx_bhs);
			return;
		}
	} else if (!t->t_unsol_open) {
		log_warnx("%s: unsolicited Data-Out for ITT %#x not allowed",
		    c->conn_tag, t->t_itt);
		conn_reject(c, REJECT_PROTOCOL_ERROR, &c->conn_rx_bhs);
		return;
	}
	if (!t->t_failed &&
	    (why = data_out_check(c, t, r, off, len, datasn)) != 0) {
		conn_reject(c, why, &c->conn_rx_bhs);
		/* 4Bh/00h DATA PHASE ERROR */
		task_fail(c, t, SKEY_ABORTED_COMMAND, 0x4b, 0x00);
	}
	if (t->t_buf != NULL && len > 0)
		memcpy(t->t_buf->ib_data + off, c->conn_rx_data, len);
	t->t_recv += len;
	if (r == NULL) {
		t->t_unsol_next = t->t_failed ? t->t_unsol_next + len :
		    off + len;
		t->t_unsol_datasn++;
		if (final || t->t_unsol_next >= t->t_unsol_end) {
			t->t_unsol_open = false;
			if (t->t_unsol_next > t->t_r2t_off)
				t->t_r2t_off = t->t_unsol_next;
		}
	} else {
		r->r_got = t->t_failed ? r->r_got + len : off + len - r->r_off;
		r->r_datasn++;
		if (final || r->r_got >= r->r_len) {
			if (r->r_got != r->r_len && !t->t_failed) {
				log_warnx("%s: Data-Out ITT %#x: burst ended "
				    "at %u of %u bytes", c->conn_tag,
				    t->t_itt, r->r_got, r->r_len);
				conn_reject(c, REJECT_PROTOCOL_ERROR,
				    &c->conn_rx_bhs);
				task_fail(c, t, SKEY_ABORTED_COMMAND, 0x4b,
				    0x00);
			}
			r->r_used = false;
			t->t_nr2t--;
		}
	}
	if (t->t_unsol_open || t->t_nr2t > 0 ||
	    (!t->t_failed && t->t_r2t_off < t->t_edtl)) {
		if (!t->t_unsol_open && !t->t_failed)
			task_r2t_send(c, t);
		return;
	}
	task_done(c, t);
}

/*
 * NOP-Out: a ping with ITT != 0xffffffff is answered with its data.
 */
static void
conn_nop_out(struct conn *c)
{
	struct iscsi_nop	*nop = (struct iscsi_nop *)&c->conn_rx_bhs;
	struct iscsi_nop	*in;
	struct txpdu		*tx;
	uint32_t		 len = pdu_data_len(&c->conn_rx_bhs);
	bool			 imm;

	imm = (nop->opcode & ISCSI_OP_IMMEDIATE) != 0;
	if (nop->itt == htobe32(ISCSI_RESERVED_TAG)) {
		/* An answer to a NOP-In of ours (none sent yet). */
		return;
	}
	if (!conn_cmdsn(c, be32toh(nop->sn24), imm))
		return;
	if ((tx = conn_tx_new(c, ISCSI_OP_NOP_IN)) == NULL) {
		session_conn_close(c, "out of memory");
		return;
	}
	in = (struct iscsi_nop *)&tx->tx_bhs;
	in->flags = ISCSI_FLAG_FINAL;
	memcpy(in->lun, nop->lun, sizeof(in->lun));
	in->itt = nop->itt;
	in->ttt = htobe32(ISCSI_RESERVED_TAG);
	if (len > c->conn_p[P_MAX_XMIT_DSL])
		len = c->conn_p[P_MAX_XMIT_DSL];
	conn_tx_copy(c, tx, c->conn_rx_data, len, true);
}

/*
 * Text: SendTargets in a normal session (RFC 7143 Appendix C): the empty
 * value or our own name answer our target; "All" MUST NOT be supported
 * in an operational session.  Other keys are not understood.  Long
 * answers (C-bit continuation) come with a later issue: a normal
 * session's answer names one target and fits any MaxRecvDataSegmentLength.
 */
static int
text_answer(struct conn *c, const struct keys *in, struct keys *out)
{
	const struct lun_target	*lt = c->conn_sess->sess_target->it_lt;
	char			 addr[ADDRSTRLEN + 4];
	const char		*name, *v;
	size_t			 i;

	portal_str((struct sockaddr *)&c->conn_local, addr, sizeof(addr));
	for (i = 0; i < in->keys_n; i++) {
		name = in->keys_name[i];
		v = in->keys_value[i];
		if (strcmp(name, "SendTargets") != 0) {
			if (keys_add(out, name, "NotUnderstood") == -1)
				return (-1);
		} else if (strcmp(v, "All") == 0) {
			if (keys_add(out, name, "Reject") == -1)
				return (-1);
		} else if (v[0] == '\0' || strcmp(v, lt->lt_name) == 0) {
			if (keys_add(out, "TargetName", lt->lt_name) == -1 ||
			    keys_add(out, "TargetAddress", addr) == -1)
				return (-1);
		}
	}
	return (0);
}

static void
conn_text(struct conn *c)
{
	struct iscsi_text	*req = (struct iscsi_text *)&c->conn_rx_bhs;
	struct iscsi_text	*rsp;
	struct txpdu		*tx;
	struct keys		*in = NULL, *out = NULL;
	const char		*errstr;
	char			*buf = NULL;
	size_t			 len = 0, max;

	if (!conn_cmdsn(c, be32toh(req->sn24),
	    (req->opcode & ISCSI_OP_IMMEDIATE) != 0))
		return;
	if (req->flags & ISCSI_TEXT_C) {
		log_warnx("%s: text continuation not supported", c->conn_tag);
		conn_reject(c, REJECT_CMD_NOT_SUPPORTED, &c->conn_rx_bhs);
		return;
	}
	if ((in = keys_new()) == NULL || (out = keys_new()) == NULL)
		goto nomem;
	if (keys_load(in, (const char *)c->conn_rx_data,
	    pdu_data_len(&c->conn_rx_bhs), &errstr) == -1) {
		log_warnx("%s: malformed text request: %s", c->conn_tag,
		    errstr);
		conn_reject(c, REJECT_PROTOCOL_ERROR, &c->conn_rx_bhs);
		goto done;
	}
	if (text_answer(c, in, out) == -1 || keys_save(out, &buf, &len) == -1)
		goto nomem;
	max = c->conn_p[P_MAX_XMIT_DSL];
	if (len > max) {
		/* Cut at the last whole pair that fits. */
		while (len > max || (len > 0 && buf[len - 1] != '\0'))
			len--;
		log_warnx("%s: text response truncated to %zu bytes",
		    c->conn_tag, len);
	}
	if ((tx = conn_tx_new(c, ISCSI_OP_TEXT_RSP)) == NULL)
		goto nomem;
	rsp = (struct iscsi_text *)&tx->tx_bhs;
	rsp->flags = ISCSI_FLAG_FINAL;
	memcpy(rsp->lun, req->lun, sizeof(rsp->lun));
	rsp->itt = req->itt;
	rsp->ttt = htobe32(ISCSI_RESERVED_TAG);
	conn_tx_copy(c, tx, buf, len, true);
	goto done;
nomem:
	session_conn_close(c, "out of memory");
done:
	free(buf);
	keys_free(in);
	keys_free(out);
}

/*
 * Logout: answer, then close once the answer is out.
 */
static void
conn_logout(struct conn *c)
{
	struct iscsi_logout_req	*req =
				    (struct iscsi_logout_req *)&c->conn_rx_bhs;
	struct iscsi_logout_rsp	*rsp;
	struct txpdu		*tx;
	uint8_t			 reason = req->flags & 0x7f;
	uint8_t			 response = LOGOUT_RSP_OK;

	if (!conn_cmdsn(c, be32toh(req->cmdsn),
	    (req->opcode & ISCSI_OP_IMMEDIATE) != 0))
		return;
	switch (reason) {
	case LOGOUT_CLOSE_SESSION:
		c->conn_logout = c->conn_logout_sess = true;
		break;
	case LOGOUT_CLOSE_CONNECTION:
		if (be16toh(req->cid) != c->conn_cid)
			response = LOGOUT_RSP_CID_NOT_FOUND;
		else
			c->conn_logout = true;
		break;
	case LOGOUT_REMOVE_FOR_RECOVERY:
		response = LOGOUT_RSP_RECOVERY_UNSUPPORTED;
		break;
	default:
		log_warnx("%s: logout reason %u", c->conn_tag, reason);
		conn_reject(c, REJECT_PROTOCOL_ERROR, &c->conn_rx_bhs);
		return;
	}
	log_debug(1, "%s: logout reason %u, response %u", c->conn_tag,
	    reason, response);
	if ((tx = conn_tx_new(c, ISCSI_OP_LOGOUT_RSP)) == NULL) {
		session_conn_close(c, "out of memory");
		return;
	}
	rsp = (struct iscsi_logout_rsp *)&tx->tx_bhs;
	rsp->flags = ISCSI_FLAG_FINAL;
	rsp->response = response;
	rsp->itt = req->itt;
	rsp->time2wait = htobe16(c->conn_p[P_DEFAULT_TIME2WAIT]);
	rsp->time2retain = htobe16(c->conn_p[P_DEFAULT_TIME2RETAIN]);
	conn_tx_queue(c, tx, NULL, NULL, 0, true);
	if (c->conn_logout)
		c->conn_stop_rx = true;
}

/*
 * Task management (RFC 7143 11.5).  Only writes waiting for data can be
 * in progress while execution is synchronous.
 */
static uint8_t
conn_tmf_abort(struct conn *c, uint8_t fn, const struct iscsi_tmf_req *req)
{
	struct session	*s = c->conn_sess;
	struct conn	*o;
	struct task	*t, *next;
	uint64_t	 lun = pdu_lun_decode(req->lun);
	uint32_t	 rtt = be32toh(req->rtt), ref;

	if (fn == TMF_ABORT_TASK) {
		TAILQ_FOREACH(o, &s->sess_conns, conn_sentry)
			if ((t = conn_task_find(o, rtt)) != NULL) {
				log_debug(1, "%s: abort task %#x", c->conn_tag,
				    rtt);
				task_free(o, t);
				return (TMF_RSP_COMPLETE);
			}
		/* RFC 7143 11.5.1: a command that never arrived. */
		ref = be32toh(req->refcmdsn);
		if (!sn_lt(ref, s->sess_expcmdsn) &&
		    !sn_gt(ref, conn_maxcmdsn(c)) &&
		    sn_lt(ref, be32toh(req->cmdsn)))
			return (TMF_RSP_COMPLETE);
		return (TMF_RSP_NO_TASK);
	}
	if (fn != TMF_TARGET_WARM_RESET &&
	    lun_find(s->sess_target->it_lt, lun) == NULL)
		return (TMF_RSP_NO_LUN);
	TAILQ_FOREACH(o, &s->sess_conns, conn_sentry)
		for (t = TAILQ_FIRST(&o->conn_tasks); t != NULL; t = next) {
			next = TAILQ_NEXT(t, t_entry);
			if (fn == TMF_TARGET_WARM_RESET || t->t_lun_id == lun)
				task_free(o, t);
		}
	return (TMF_RSP_COMPLETE);
}

static void
conn_tmf(struct conn *c)
{
	struct iscsi_tmf_req	*req = (void *)&c->conn_rx_bhs;
	struct iscsi_tmf_rsp	*rsp;
	struct txpdu		*tx;
	uint8_t			 fn = req->function & 0x7f, response;

	if (!conn_cmdsn(c, be32toh(req->cmdsn),
	    (req->opcode & ISCSI_OP_IMMEDIATE) != 0))
		return;
	switch (fn) {
	case TMF_ABORT_TASK:
	case TMF_ABORT_TASK_SET:
	case TMF_CLEAR_TASK_SET:
	case TMF_LUN_RESET:
	case TMF_TARGET_WARM_RESET:
		response = conn_tmf_abort(c, fn, req);
		break;
	case TMF_TASK_REASSIGN:
		/* RFC 7143 11.5.1: ErrorRecoveryLevel < 2. */
		response = TMF_RSP_NO_REASSIGN;
		break;
	default:
		response = TMF_RSP_NOT_SUPPORTED;
		break;
	}
	log_debug(1, "%s: task management function %u: response %u",
	    c->conn_tag, fn, response);
	if ((tx = conn_tx_new(c, ISCSI_OP_TMF_RSP)) == NULL) {
		session_conn_close(c, "out of memory");
		return;
	}
	rsp = (struct iscsi_tmf_rsp *)&tx->tx_bhs;
	rsp->flags = ISCSI_FLAG_FINAL;
	rsp->response = response;
	rsp->itt = req->itt;
	conn_tx_queue(c, tx, NULL, NULL, 0, true);
}
