/*
 * task.c: SCSI commands in the full feature phase: Data-In, immediate and
 * unsolicited data, R2Ts and Data-Out checks, residuals and the SCSI
 * Response.  SCSI execution (scsi_exec) is synchronous, except for a
 * command that ends later (SANITIZE without IMMED): its task stays on
 * the connection's list, without a buffer, until scsi_exec's layer calls
 * task_complete; dropping it before (abort, connection closed) cancels
 * it there, so neither side keeps a pointer to the other.
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
#include <stddef.h>
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
#include "priv/reactor.h"
#include "priv/scsi.h"
#include "priv/session.h"
#include "priv/conn.h"

static void	task_write_start(struct conn *, struct task *,
		    const struct iscsi_scsi_cmd *, uint32_t);
static void	task_r2t_send(struct conn *, struct task *);
static void	task_done(struct conn *, struct task *);
static void	task_run(struct conn *, struct task *);
static void	task_run_piped(struct conn *, struct task *);
static void	task_finish(struct conn *, struct task *);
static void	task_unpend(struct session *, struct task *);
static void	task_respond(struct conn *, struct task *, uint32_t);
static void	task_buf_drop(struct conn *, struct task *);
static void	task_complete(struct scsi_cmd *);
static bool	task_pipe_session(const struct session *);
static struct iobuf *task_buf_get(struct conn *, uint32_t);

/*
 * Freed tasks wait here for the next command (per reactor thread,
 * bounded), linked through t_entry.tqe_next.
 */
#define TASK_CACHE	256
#define TASK_REF_MIN	(32 * 1024)	/* sendfile Data-In from here */
static __thread struct task	*task_cache;
static __thread unsigned	 task_ncached;

static struct task *
task_new(void)
{
	struct task	*t;

	if ((t = task_cache) == NULL)
		return (calloc(1, sizeof(*t)));
	task_cache = TAILQ_NEXT(t, t_entry);
	task_ncached--;
	memset(t, 0, sizeof(*t));
	return (t);
}

void
task_cache_free(void)
{
	struct task	*t;

	while ((t = task_cache) != NULL) {
		task_cache = TAILQ_NEXT(t, t_entry);
		free(t);
	}
	task_ncached = 0;
}

static void
task_release(struct task *t)
{
	if (task_ncached >= TASK_CACHE) {
		free(t);
		return;
	}
	TAILQ_NEXT(t, t_entry) = task_cache;
	task_cache = t;
	task_ncached++;
}

/*
 * SCSI commands.
 */
struct task *
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

void
task_free(struct conn *c, struct task *t)
{
	struct session	*s = c->conn_sess;
	bool		 keep = false;

	if (t->t_pending) {
		keep = scsi_cmd_cancel(&t->t_sc);
		task_unpend(s, t);
		/* What it held may run now, outside this close or abort. */
		c->conn_r->r_release = true;
	}
	if (t->t_held) {
		TAILQ_REMOVE(&s->sess_held, t, t_hentry);
		t->t_held = false;
	}
	TAILQ_REMOVE(&c->conn_tasks, t, t_entry);
	c->conn_ntasks--;
	if (keep) {
		/*
		 * An I/O thread still reads or writes the buffer: the task
		 * leaves the connection (and its buffer accounting) now and
		 * is freed when the I/O ends (task_complete).
		 */
		if (t->t_buf != NULL)
			c->conn_buf_bytes -= t->t_buf->ib_len;
		t->t_conn = NULL;
		t->t_orphan = true;
		return;
	}
	task_buf_drop(c, t);
	task_release(t);
}

void
conn_free_tasks(struct conn *c)
{
	struct task	*t;

	while ((t = TAILQ_FIRST(&c->conn_tasks)) != NULL)
		task_free(c, t);
	iobuf_unref(c->conn_rx_ib);
	c->conn_rx_ib = NULL;
}

static struct r2t *
task_r2t_find(struct task *t, uint32_t ttt)
{
	size_t	 i;

	for (i = 0; i < TASK_R2T_MAX; i++)
		if (t->t_r2t[i].r_used && t->t_r2t[i].r_ttt == ttt)
			return (&t->t_r2t[i]);
	return (NULL);
}

/*
 * Where the data of the PDU whose header was just read should land, so
 * that it is received only once: immediate data into a fresh buffer
 * that conn_scsi_cmd adopts as the task's, Data-Out at its offset in
 * its task's buffer.  The buffer is held (conn_rx_ib) until the PDU is
 * handled.  NULL: into conn_rx_data, as any other PDU.  Only what
 * conn_data_out would accept goes in place (a Data-Out it rejects
 * without failing the task must not touch the buffer); what it accepts
 * and then finds out of order fails the task, buffer and all.
 */
uint8_t *
conn_data_dest(struct conn *c)
{
	const struct iscsi_scsi_cmd	*cmd = (const void *)&c->conn_rx_bhs;
	const struct iscsi_data_out	*d = (const void *)&c->conn_rx_bhs;
	uint32_t			 len = pdu_data_len(&c->conn_rx_bhs);
	uint32_t			 edtl, off, ttt;
	struct task			*t;

	switch (pdu_opcode(&c->conn_rx_bhs)) {
	case ISCSI_OP_SCSI_CMD:
		edtl = be32toh(cmd->edtl);
		if ((cmd->flags & (ISCSI_CMD_READ | ISCSI_CMD_WRITE)) !=
		    ISCSI_CMD_WRITE || cmd->total_ahs_len != 0 ||
		    len > edtl || edtl > SCSI_MAX_XFER ||
		    c->conn_buf_bytes + edtl > CONN_BUF_MAX ||
		    (c->conn_rx_ib = iobuf_new(edtl)) == NULL)
			return (NULL);
		return (c->conn_rx_ib->ib_data);
	case ISCSI_OP_DATA_OUT:
		if ((t = conn_task_find(c, be32toh(d->itt))) == NULL ||
		    t->t_buf == NULL || t->t_failed)
			return (NULL);
		ttt = be32toh(d->ttt);
		if (ttt == ISCSI_RESERVED_TAG ? !t->t_unsol_open :
		    task_r2t_find(t, ttt) == NULL)
			return (NULL);
		off = be32toh(d->buffer_offset);
		if (off > t->t_buf->ib_len || len > t->t_buf->ib_len - off)
			return (NULL);
		t->t_buf->ib_refs++;
		c->conn_rx_ib = t->t_buf;
		return (t->t_buf->ib_data + off);
	}
	return (NULL);
}

/*
 * May the immediate data of the command whose header was just read wait
 * in the connection's pipe (conn.h), for sbc_read_write to splice into
 * its LUN's file?  All of a plain WRITE's data, long, whole words
 * (no pad) and no DataDigest, for a LUN whose writes are made in the
 * event loop, on a session of one connection (nothing is kept for its
 * CmdSN turn, cmdq.c).  conn_scsi_cmd and task_run check again and fetch
 * the data into a buffer when anything else is to be done with it.
 */
bool
conn_data_pipe_ok(struct conn *c)
{
	const struct iscsi_scsi_cmd	*cmd = (const void *)&c->conn_rx_bhs;
	uint32_t			 len = pdu_data_len(&c->conn_rx_bhs);
	const struct session		*s = c->conn_sess;
	const struct lun		*lun;

	if (pdu_opcode(&c->conn_rx_bhs) != ISCSI_OP_SCSI_CMD ||
	    (cmd->flags & (ISCSI_CMD_READ | ISCSI_CMD_WRITE)) !=
	    ISCSI_CMD_WRITE || cmd->total_ahs_len != 0 || c->conn_ddig ||
	    len < CONN_PIPE_MIN || len % 4 != 0 || len != be32toh(cmd->edtl) ||
	    !scsi_cdb_pipe_ok(cmd->cdb))
		return (false);
	if (s->sess_target == NULL || !task_pipe_session(s))
		return (false);
	lun = lun_find(s->sess_target->it_lt, pdu_lun_decode(cmd->lun));
	return (lun != NULL && lun_write_inloop(lun));
}

/* Piped data needs one connection, and no command kept for its turn. */
static bool
task_pipe_session(const struct session *s)
{
	return (s->sess_nconns + s->sess_hold == 1 &&
	    TAILQ_EMPTY(&s->sess_cmdq));
}

/* A piped task's data into its buffer after all; false: out of memory. */
static bool
task_unpipe(struct conn *c, struct task *t)
{
	t->t_piped = false;
	conn_rx_unpipe(c);
	if (c->conn_dead || (t->t_buf = task_buf_get(c, t->t_edtl)) == NULL)
		return (false);
	if (t->t_buf->ib_data != c->conn_rx_dst)
		memcpy(t->t_buf->ib_data, c->conn_rx_dst, t->t_edtl);
	c->conn_buf_bytes += t->t_edtl;
	return (true);
}

/* The task's buffer: the one immediate data went to, or a new one. */
static struct iobuf *
task_buf_get(struct conn *c, uint32_t len)
{
	struct iobuf	*ib = c->conn_rx_ib;

	if (ib != NULL && c->conn_rx_inplace && ib->ib_len == len &&
	    c->conn_rx_dst == ib->ib_data) {
		c->conn_rx_ib = NULL;
		return (ib);
	}
	return (iobuf_new(len));
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
		if (t->t_sc.sc_ref)
			conn_tx_queue_file(c, tx, t->t_sc.sc_lun,
			    t->t_sc.sc_ref_off + off, len, last && status);
		else
			conn_tx_queue(c, tx, t->t_buf, t->t_buf->ib_data +
			    off, len, last && status);
		off += len;
	}
	return (datasn);
}

/*
 * May a READ's Data-In go out straight from the backing store (sendfile)
 * rather than from a copy read at command time?  The socket then takes
 * the page cache's bytes when it sends them, so a write executed later
 * can show in a read's data that is still queued or in flight.  The
 * initiator cannot tell: it learns that the read completed from the
 * status, which follows the data on the same connection, so a command
 * it orders after the read reaches us after it has copied the data.
 * Only commands it did not order (SIMPLE or untagged) may see such a
 * write, which SAM allows for overlapping commands of that kind; an
 * ORDERED or HEAD OF QUEUE read, or one with a DataDigest to compute,
 * takes the copy.  A read error surfacing at send time closes the
 * connection instead of answering CHECK CONDITION.  Short reads take
 * the copy too: a pread and a share of one writev for many PDUs cost
 * less than a sendfile each.
 */
static bool
task_ref_ok(const struct conn *c, const struct task *t)
{
	return (t->t_read && !c->conn_ddig && t->t_attr <= 1 &&
	    t->t_edtl >= TASK_REF_MIN);
}

/*
 * Task attributes (SAM-5 8.6) once commands can end later (sc_pending):
 * an ORDERED command waits until every older command of the session has
 * ended, and every newer one waits for it, except HEAD OF QUEUE, which
 * runs at once.  Waiting commands are held on sess_held in arrival
 * order.  Per session rather than per LUN: stricter, never wrong.
 */
static bool
task_hold(struct conn *c, struct task *t)
{
	struct session	*s = c->conn_sess;

	if (t->t_attr == ISCSI_ATTR_HEAD)
		return (false);
	if (TAILQ_EMPTY(&s->sess_held) && s->sess_nordered == 0 &&
	    (t->t_attr != ISCSI_ATTR_ORDERED || s->sess_npending == 0))
		return (false);
	t->t_held = true;
	t->t_conn = c;
	TAILQ_INSERT_TAIL(&s->sess_held, t, t_hentry);
	return (true);
}

bool
task_held_runnable(const struct session *s)
{
	const struct task	*t = TAILQ_FIRST(&s->sess_held);

	return (t != NULL && s->sess_nordered == 0 &&
	    (t->t_attr != ISCSI_ATTR_ORDERED || s->sess_npending == 0));
}

void
task_release_held(struct session *s)
{
	struct task	*t;
	struct conn	*c;

	while (task_held_runnable(s)) {
		t = TAILQ_FIRST(&s->sess_held);
		if (!io_alone() && !scsi_cdb_parallel(t->t_cdb)) {
			/* It needs the other reactors stopped: at the end
			 * of the batch (session_reap), holding nothing. */
			t->t_conn->conn_r->r_release = true;
			t->t_conn->conn_r->r_release_alone = true;
			return;
		}
		TAILQ_REMOVE(&s->sess_held, t, t_hentry);
		t->t_held = false;
		c = t->t_conn;
		task_run(c, t);
		if (c->conn_dead) {
			/* The session may be gone with it: come back later. */
			c->conn_r->r_release = true;
			return;
		}
		if (conn_write(c) == 0)
			conn_events_update(c);
	}
}

static void
task_unpend(struct session *s, struct task *t)
{
	t->t_pending = false;
	s->sess_npending--;
	if (t->t_attr == ISCSI_ATTR_ORDERED)
		s->sess_nordered--;
}

/* A task whose data (if any) is all in: run it, or hold it. */
static void
task_done(struct conn *c, struct task *t)
{
	if (!task_hold(c, t))
		task_run(c, t);
	else if (t->t_piped && !task_unpipe(c, t) && !c->conn_dead) {
		t->t_failed = true;	/* it answers when it runs */
		t->t_sc.sc_status = SCSI_STATUS_TASK_SET_FULL;
	}
}

/*
 * Execute a task whose data waits in the pipe: sbc_read_write takes it
 * from there, or the command needs no data (an error); if it is kept
 * for later (sc_pending: parked behind its LUN's fence) the data goes
 * to its buffer now, since the pipe is the next command's.
 */
static void
task_run_piped(struct conn *c, struct task *t)
{
	struct scsi_cmd	*sc = &t->t_sc;

	if (sc->sc_lun == NULL || !lun_write_inloop(sc->sc_lun)) {
		if (!task_unpipe(c, t)) {
			if (!c->conn_dead)
				sc->sc_status = SCSI_STATUS_TASK_SET_FULL;
			return;
		}
		sc->sc_buf = t->t_buf->ib_data;
		scsi_exec(sc);
		return;
	}
	sc->sc_piped = true;
	sc->sc_pipe_fd = c->conn_pipe[0];
	scsi_exec(sc);
	if (!sc->sc_piped) {
		/* Taken: all of it, unless an error or a shorter transfer
		 * length left some for conn_read to drain. */
		t->t_piped = false;
		if (sc->sc_status == SCSI_STATUS_GOOD &&
		    sc->sc_xfer_len == t->t_edtl)
			c->conn_rx_piped = false;
		return;
	}
	sc->sc_piped = false;
	if (sc->sc_pending && task_unpipe(c, t))
		sc->sc_buf = t->t_buf->ib_data;
}

/* Execute a task, answer (now or through task_complete), free it. */
static void
task_run(struct conn *c, struct task *t)
{
	struct scsi_cmd	*sc = &t->t_sc;

	if (!t->t_failed) {
		sc->sc_nexus = &c->conn_sess->sess_nexus;
		sc->sc_target = c->conn_sess->sess_target->it_lt;
		sc->sc_lun = lun_find(sc->sc_target, t->t_lun_id);
		sc->sc_lun_id = t->t_lun_id;
		sc->sc_cdb = t->t_cdb;
		sc->sc_buf = t->t_buf != NULL ? t->t_buf->ib_data : NULL;
		sc->sc_buf_len = t->t_edtl;
		sc->sc_ref_ok = task_ref_ok(c, t);
		sc->sc_done = task_complete;
		if (t->t_piped)
			task_run_piped(c, t);
		else
			scsi_exec(sc);
		if (c->conn_dead)
			return;		/* the close freed the task */
		if (sc->sc_pending) {
			t->t_pending = true;
			t->t_conn = c;
			c->conn_sess->sess_npending++;
			if (t->t_attr == ISCSI_ATTR_ORDERED)
				c->conn_sess->sess_nordered++;
			return;
		}
	}
	task_finish(c, t);
}

/* A command executed: Data-In, SCSI Response, free the task. */
static void
task_finish(struct conn *c, struct task *t)
{
	struct scsi_cmd	*sc = &t->t_sc;
	uint32_t	 xfer = 0, n;
	bool		 piggy;

	if (!t->t_failed) {
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

/*
 * A pending command ended: answer as task_run would have, then run what
 * it held.  A task cancelled while its I/O ran (t_orphan) is only freed.
 */
static void
task_complete(struct scsi_cmd *sc)
{
	struct task	*t = (struct task *)(void *)((char *)sc -
			    offsetof(struct task, t_sc));
	struct conn	*c = t->t_conn;
	struct session	*s;

	if (t->t_orphan) {
		iobuf_unref(t->t_buf);
		task_release(t);
		return;
	}
	s = c->conn_sess;
	task_unpend(s, t);
	task_finish(c, t);
	if (c->conn_dead) {
		c->conn_r->r_release = true;
		return;			/* the close freed the task */
	}
	if (conn_write(c) == 0)
		conn_events_update(c);
	task_release_held(s);
}

void
conn_scsi_cmd(struct conn *c)
{
	struct iscsi_scsi_cmd	*cmd = (void *)&c->conn_rx_bhs;
	struct task		*t;
	enum scsi_dir		 dir;
	uint32_t		 dlen = pdu_data_len(&c->conn_rx_bhs);
	bool			 rd, wr;

	if (c->conn_rx_piped && !task_pipe_session(c->conn_sess)) {
		conn_rx_unpipe(c);	/* cmdq_defer may copy it */
		if (c->conn_dead)
			return;
	}
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
	if ((t = task_new()) == NULL) {
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
	t->t_attr = cmd->flags & ISCSI_CMD_ATTR_MASK;
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
	} else if (c->conn_rx_piped) {
		t->t_piped = true;	/* no buffer: its data is piped */
	} else if (t->t_edtl > 0 &&
	    (c->conn_buf_bytes + t->t_edtl > CONN_BUF_MAX ||
	    (t->t_buf = task_buf_get(c, t->t_edtl)) == NULL)) {
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
	if (dlen > 0 && t->t_buf != NULL && t->t_buf->ib_data != c->conn_rx_dst)
		memcpy(t->t_buf->ib_data, c->conn_rx_dst, dlen);
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

void
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
		if (conn_itt_aborted(c, be32toh(d->itt))) {
			/* In flight when its task was aborted. */
			log_debug(2, "%s: Data-Out for aborted ITT %#x dropped",
			    c->conn_tag, be32toh(d->itt));
			return;
		}
		if (cmdq_data_out(c))
			return;		/* its command waits for its turn */
		log_warnx("%s: Data-Out for unknown ITT %#x", c->conn_tag,
		    be32toh(d->itt));
		conn_reject(c, REJECT_INVALID_PDU_FIELD, &c->conn_rx_bhs);
		return;
	}
	if (ttt != ISCSI_RESERVED_TAG) {
		if ((r = task_r2t_find(t, ttt)) == NULL) {
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
	if (t->t_buf != NULL && len > 0 &&
	    t->t_buf->ib_data + off != c->conn_rx_dst)
		memcpy(t->t_buf->ib_data + off, c->conn_rx_dst, len);
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
