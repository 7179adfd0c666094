/*
 * session.c: sessions and their connections in the full feature phase
 * (RFC 7143): adding and closing connections, epoll events, the CmdSN
 * window, dispatch of every input PDU, NOP-Out, Logout and Reject.  The
 * PDU reader and output queue are in wire.c, SCSI commands in task.c,
 * Text in text.c and task management in tmf.c.
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
#include "priv/reactor.h"
#include "priv/scsi.h"
#include "priv/session.h"
#include "priv/conn.h"

static uint64_t	nexus_last;	/* I_T nexus ids, never reused */

static void	conn_nop_out(struct conn *);
static void	conn_logout(struct conn *);

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
	s->sess_nexus.nx_id = ++nexus_last;
	s->sess_nexus.nx_target = it->it_lt;
	strlcpy(s->sess_nexus.nx_initiator, h->initiator,
	    sizeof(s->sess_nexus.nx_initiator));
	memcpy(s->sess_nexus.nx_isid, s->sess_isid, sizeof(s->sess_isid));
	memcpy(s->sess_params, params, sizeof(s->sess_params));
	s->sess_expcmdsn = h->cmdsn;
	TAILQ_INIT(&s->sess_conns);
	TAILQ_INIT(&s->sess_cmdq);
	TAILQ_INIT(&s->sess_held);
	TAILQ_INSERT_TAIL(&it->it_sessions, s, sess_entry);
	it->it_nsessions++;
	scsi_nexus_begin(&s->sess_nexus);
	log_debug(1, "session_create: %#llx on reactor %u",
	    (unsigned long long)s->sess_id, r->r_idx);
	return (s);
}

/* Off the target's list: no login finds it, its TSIH is free again. */
static void
session_end(struct session *s)
{
	struct io_target	*it = s->sess_target;

	if (s->sess_ended)
		return;
	s->sess_ended = true;
	log_debug(1, "session_remove: %#llx", (unsigned long long)s->sess_id);
	TAILQ_REMOVE(&it->it_sessions, s, sess_entry);
	it->it_nsessions--;
	io_tsih_release(s->sess_tsih);
	scsi_nexus_end(&s->sess_nexus);
}

static void
session_free(struct session *s)
{
	session_end(s);
	cmdq_purge_conn(s, NULL);
	free(s);
}

void
session_close(struct session *s)
{
	struct conn	*c;

	io_exclusive();
	/* A login adding a connection will find the session ended. */
	session_hold(s);
	session_end(s);
	while ((c = TAILQ_FIRST(&s->sess_conns)) != NULL)
		session_conn_close(c, NULL);
	session_release(s);
}

void
session_hold(struct session *s)
{
	s->sess_hold++;
}

void
session_release(struct session *s)
{
	if (--s->sess_hold == 0 && s->sess_nconns == 0)
		session_free(s);
}

struct conn *
session_conn_find(struct session *s, uint16_t cid)
{
	struct conn	*c;

	TAILQ_FOREACH(c, &s->sess_conns, conn_sentry)
		if (c->conn_cid == cid)
			return (c);
	return (NULL);
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
    const uint32_t params[P__COUNT], const struct sockaddr_storage *peer,
    const struct sockaddr_storage *local)
{
	struct epoll_event	 ev;
	struct conn		*c;
	char			 addr[ADDRSTRLEN];
	char			 vname[4 * ISCSI_NAME_MAX + 1];
	int			 one = 1;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->conn_rx_data = malloc(params[P_MAX_RECV_DSL] + 3 +
	    ISCSI_DIGEST_SIZE)) == NULL) {
		log_warn("session_conn_add");
		goto fail;
	}
	c->conn_kind = IO_CONN;
	c->conn_pipe[0] = c->conn_pipe[1] = -1;
	c->conn_r = s->sess_reactor;
	c->conn_sess = s;
	/* RFC 7143 13: digests and segment lengths are per connection. */
	memcpy(c->conn_params, s->sess_params, sizeof(c->conn_params));
	c->conn_params[P_HEADER_DIGEST] = params[P_HEADER_DIGEST];
	c->conn_params[P_DATA_DIGEST] = params[P_DATA_DIGEST];
	c->conn_params[P_MAX_RECV_DSL] = params[P_MAX_RECV_DSL];
	c->conn_params[P_MAX_XMIT_DSL] = params[P_MAX_XMIT_DSL];
	c->conn_p = c->conn_params;
	c->conn_hdig = c->conn_p[P_HEADER_DIGEST] == PARAM_DIGEST_CRC32C;
	c->conn_ddig = c->conn_p[P_DATA_DIGEST] == PARAM_DIGEST_CRC32C;
	c->conn_fd = fd;
	c->conn_cid = cid;
	c->conn_statsn = statsn;
	c->conn_ttt = 1;
	c->conn_local = *local;
	c->conn_rx_state = RX_BHS;
	TAILQ_INIT(&c->conn_txq);
	TAILQ_INIT(&c->conn_txfree);
	TAILQ_INIT(&c->conn_tasks);
	textx_init(&c->conn_textx, 0x10000);
	c->conn_rx_seen = true;		/* the login: idle from the next tick */
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
	c->conn_r->r_nconns++;
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
	if (s->sess_nconns == 0 && s->sess_hold == 0)
		session_free(s);
	return (-1);
}

struct conn *
session_conn_next(struct conn *c)
{
	return (TAILQ_NEXT(c, conn_entry));
}

void
session_threads(unsigned n)
{
	iobuf_cache_share(n);
}

void
session_thread_end(void)
{
	iobuf_cache_free();
	task_cache_free();
}

static void
session_conn_move(struct conn *c, struct io_reactor *r)
{
	struct epoll_event	 ev;

	epoll_ctl(c->conn_r->r_epfd, EPOLL_CTL_DEL, c->conn_fd, NULL);
	TAILQ_REMOVE(&c->conn_r->r_conns, c, conn_entry);
	c->conn_r->r_nconns--;
	c->conn_r = r;
	c->conn_sess->sess_reactor = r;
	TAILQ_INSERT_TAIL(&r->r_conns, c, conn_entry);
	r->r_nconns++;
	memset(&ev, 0, sizeof(ev));
	ev.events = c->conn_events;
	ev.data.ptr = c;
	if (epoll_ctl(r->r_epfd, EPOLL_CTL_ADD, c->conn_fd, &ev) == -1)
		session_conn_close(c, "epoll_ctl failed");
}

void
session_adopt(struct io_reactor *m, struct io_reactor *r)
{
	struct conn	*c;

	while ((c = TAILQ_FIRST(&r->r_conns)) != NULL)
		session_conn_move(c, m);
	TAILQ_CONCAT(&m->r_dead, &r->r_dead, conn_entry);
	m->r_release |= r->r_release;
}

void
session_conn_close(struct conn *c, const char *why)
{
	struct io_reactor	*r = c->conn_r;
	struct session		*s = c->conn_sess;
	struct txpdu		*tx;

	if (c->conn_dead)
		return;
	/* Its tasks, the fence, the session's end: others may see them. */
	io_exclusive();
	if (c->conn_dead)
		return;			/* closed meanwhile */
	c->conn_dead = true;
	if (why != NULL)
		log_warnx("%s: %s", c->conn_tag, why);
	log_info("%s: connection closed", c->conn_tag);
	log_debug(1, "close conn %u session %#llx target %u", c->conn_cid,
	    (unsigned long long)s->sess_id, s->sess_target->it_lt->lt_tid);
	epoll_ctl(r->r_epfd, EPOLL_CTL_DEL, c->conn_fd, NULL);
	close(c->conn_fd);
	c->conn_fd = -1;
	conn_pipe_close(c);
	conn_free_tasks(c);
	textx_clear(&c->conn_textx);
	cmdq_purge_conn(s, c);
	while ((tx = TAILQ_FIRST(&c->conn_txq)) != NULL) {
		TAILQ_REMOVE(&c->conn_txq, tx, tx_entry);
		iobuf_unref(tx->tx_buf);
		lun_unref(tx->tx_lun);
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
	r->r_nconns--;
	TAILQ_INSERT_TAIL(&r->r_dead, c, conn_entry);
	if (--s->sess_nconns == 0 && s->sess_hold == 0)
		session_free(s);
	else if (s->sess_nconns > 0 && !s->sess_ended)
		log_info("session %#llx goes on with %u connection%s",
		    (unsigned long long)s->sess_id, s->sess_nconns,
		    s->sess_nconns == 1 ? "" : "s");
}

void
session_reap(struct io_reactor *r)
{
	struct conn	*c;

	/* Running a held task may close connections: start over each time
	 * (each pass runs or frees at least one). */
	while (r->r_release) {
		if (r->r_release_alone) {
			io_exclusive();		/* holding nothing: may */
			r->r_release_alone = false;
		}
		r->r_release = false;
		TAILQ_FOREACH(c, &r->r_conns, conn_entry)
			if (!c->conn_dead && c->conn_sess != NULL &&
			    task_held_runnable(c->conn_sess)) {
				task_release_held(c->conn_sess);
				r->r_release = true;
				break;
			}
	}

	while ((c = TAILQ_FIRST(&r->r_dead)) != NULL) {
		TAILQ_REMOVE(&r->r_dead, c, conn_entry);
		free(c);
	}
}

/*
 * RFC 7143 11.9.1: AsyncEvent 1, "target requests Logout": the
 * initiator logs out (close the connection or the session) within
 * Parameter3 seconds.  Commands that still come are served, so that an
 * initiator may flush its caches before it logs out.
 */
void
session_conn_logout_request(struct conn *c, uint16_t secs)
{
	struct iscsi_async	*a;
	struct txpdu		*tx;

	if (c->conn_dead || c->conn_stop_rx)
		return;
	if ((tx = conn_tx_new(c, ISCSI_OP_ASYNC)) == NULL) {
		session_conn_close(c, "out of memory");
		return;
	}
	a = (struct iscsi_async *)&tx->tx_bhs;
	a->flags = ISCSI_FLAG_FINAL;
	a->ffffffff = htobe32(ISCSI_RESERVED_TAG);
	a->event = 1;
	a->param1 = 0;
	a->param2 = 0;
	a->param3 = htobe16(secs);
	conn_tx_queue(c, tx, NULL, NULL, 0, true);
	log_debug(1, "%s: asking for a logout within %u seconds",
	    c->conn_tag, secs);
	if (conn_write(c) == 0)
		conn_events_update(c);
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
	if ((events & EPOLLIN || conn_rx_ready(c)) && !c->conn_stop_rx)
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

/*
 * The CmdSN window (RFC 7143 4.2.2.1): 1 if the command is to be
 * processed, 0 if it is dropped.
 */
int
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
	/*
	 * Ahead of its turn.  With several connections (an admitted one
	 * on its way from its worker counts: it holds the session) the
	 * ones before may be on another: keep it (cmdq.c).  On a single
	 * connection nothing can overtake, so the initiator skipped them
	 * (a PDU we rejected, or a discarded one): it runs now.
	 */
	if (cmdsn != s->sess_expcmdsn) {
		if (s->sess_nconns + s->sess_hold > 1 ||
		    !TAILQ_EMPTY(&s->sess_cmdq))
			return (cmdq_defer(c, cmdsn));
		log_warnx("%s: CmdSN %u, expected %u", c->conn_tag, cmdsn,
		    s->sess_expcmdsn);
	}
	s->sess_expcmdsn = cmdsn + 1;
	return (1);
}

/*
 * Can this PDU be handled without stopping the other reactors
 * (reactor.h)?  Commands kept for their turn (cmdq.c) run after it, so
 * they count too.
 */
static bool
conn_pdu_parallel(struct conn *c, int op)
{
	const struct iscsi_scsi_cmd	*cmd;
	const struct task		*t;

	if (io_alone())
		return (true);
	if (!TAILQ_EMPTY(&c->conn_sess->sess_cmdq))
		return (false);
	switch (op) {
	case ISCSI_OP_NOP_OUT:
		return (true);
	case ISCSI_OP_SCSI_CMD:
		cmd = (const struct iscsi_scsi_cmd *)&c->conn_rx_bhs;
		return (scsi_cdb_parallel(cmd->cdb));
	case ISCSI_OP_DATA_OUT:
		t = conn_task_find(c, be32toh(c->conn_rx_bhs.itt));
		return (t == NULL || scsi_cdb_parallel(t->t_cdb));
	default:
		return (false);
	}
}

void
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
	if (!conn_pdu_parallel(c, op)) {
		io_exclusive();
		if (c->conn_dead)
			return;		/* closed meanwhile */
	}
	if (bhs->total_ahs_len != 0 && op != ISCSI_OP_SCSI_CMD) {
		/* AHS is defined for SCSI Command PDUs only. */
		conn_reject(c, REJECT_PROTOCOL_ERROR, bhs);
		return;
	}
	if (bhs->itt == htobe32(ISCSI_RESERVED_TAG) &&
	    op != ISCSI_OP_NOP_OUT && op != ISCSI_OP_SNACK_REQ) {
		/* RFC 7143 11.1: 0xffffffff is only for NOP-Out. */
		log_warnx("%s: %s with the reserved ITT", c->conn_tag,
		    pdu_opcode_name(op));
		conn_reject(c, REJECT_INVALID_PDU_FIELD, bhs);
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
		/*
		 * SNACK is for ErrorRecoveryLevel > 0: at level 0 it is a
		 * protocol error; above, a SNACK we cannot honour (no PDU
		 * is kept for retransmission) gets "SNACK Reject".
		 */
		log_warnx("%s: SNACK at ErrorRecoveryLevel %u rejected",
		    c->conn_tag, c->conn_p[P_ERROR_RECOVERY_LEVEL]);
		conn_reject(c, c->conn_p[P_ERROR_RECOVERY_LEVEL] == 0 ?
		    REJECT_PROTOCOL_ERROR : REJECT_SNACK_REJECT, bhs);
		break;
	case ISCSI_OP_LOGIN_REQ:
		log_warnx("%s: Login Request in the full feature phase",
		    c->conn_tag);
		conn_reject(c, REJECT_PROTOCOL_ERROR, bhs);
		break;
	default:
		log_warnx("%s: unsupported opcode %#x", c->conn_tag, op);
		conn_reject(c, REJECT_CMD_NOT_SUPPORTED, bhs);
		break;
	}
	/* Commands kept for their turn (cmdq.c) may run now. */
	if (!c->conn_dead && !TAILQ_EMPTY(&c->conn_sess->sess_cmdq))
		cmdq_drain(c->conn_sess);
}

void
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
 * NOP-In pings (RFC 7143 11.19): after NOPInterval seconds without a
 * byte from the initiator, a NOP-In with a Target Transfer Tag asks for
 * a NOP-Out; without one within NOPTimeout seconds (NOPInterval when
 * NOPTimeout is 0) the initiator is taken as gone: the connection is
 * closed and its tasks with it.  Called once a second.
 */
static void
conn_ping(struct conn *c)
{
	struct iscsi_nop	*in;
	struct txpdu		*tx;

	if ((tx = conn_tx_new(c, ISCSI_OP_NOP_IN)) == NULL) {
		session_conn_close(c, "out of memory");
		return;
	}
	c->conn_ping_ttt = c->conn_ttt++;
	if (c->conn_ttt == ISCSI_RESERVED_TAG)
		c->conn_ttt = 1;
	c->conn_ping_out = true;
	c->conn_ping_age = 0;
	in = (struct iscsi_nop *)&tx->tx_bhs;
	in->flags = ISCSI_FLAG_FINAL;
	in->itt = htobe32(ISCSI_RESERVED_TAG);
	in->ttt = htobe32(c->conn_ping_ttt);
	/* StatSN is not advanced by a NOP-In that asks for an answer. */
	conn_tx_queue(c, tx, NULL, NULL, 0, false);
	log_debug(1, "%s: idle %u seconds, NOP-In ping ttt %#x", c->conn_tag,
	    c->conn_idle, c->conn_ping_ttt);
	if (conn_write(c) == 0)
		conn_events_update(c);
}

void
session_conn_tick(struct conn *c)
{
	uint32_t	 interval = c->conn_p[P_NOP_INTERVAL];
	uint32_t	 timeout = c->conn_p[P_NOP_TIMEOUT];
	char		 why[96];

	if (c->conn_dead || interval == 0)
		return;
	if (c->conn_rx_seen)
		c->conn_idle = 0;
	else
		c->conn_idle++;
	c->conn_rx_seen = false;
	if (c->conn_ping_out) {
		if (timeout == 0)
			timeout = interval;
		if (++c->conn_ping_age >= timeout) {
			snprintf(why, sizeof(why), "no answer to NOP-In "
			    "ping within %u seconds", timeout);
			session_conn_close(c, why);
		}
		return;
	}
	if (c->conn_idle >= interval && !c->conn_stop_rx)
		conn_ping(c);
}

/*
 * NOP-Out: a ping with ITT != 0xffffffff is answered with its data; one
 * with ITT 0xffffffff answers a ping of ours (by its TTT) or wants none.
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
		if (c->conn_ping_out &&
		    nop->ttt == htobe32(c->conn_ping_ttt)) {
			log_debug(2, "%s: answer to ping ttt %#x",
			    c->conn_tag, c->conn_ping_ttt);
			c->conn_ping_out = false;
		} else if (nop->ttt != htobe32(ISCSI_RESERVED_TAG))
			log_debug(1, "%s: NOP-Out for unknown ttt %#x "
			    "ignored", c->conn_tag, be32toh(nop->ttt));
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
 * Logout "close the connection" (RFC 7143 11.14.1): this connection is
 * closed once the answer is out; another connection of the session,
 * named by its CID, is closed at once (its tasks end with it at
 * ErrorRecoveryLevel 0).
 */
static uint8_t
conn_logout_cid(struct conn *c, uint16_t cid)
{
	struct conn	*o;

	if (cid == c->conn_cid) {
		c->conn_logout = true;
		return (LOGOUT_RSP_OK);
	}
	TAILQ_FOREACH(o, &c->conn_sess->sess_conns, conn_sentry)
		if (o->conn_cid == cid && !o->conn_dead) {
			log_info("%s: logout of cid %u", c->conn_tag, cid);
			session_conn_close(o, NULL);
			return (LOGOUT_RSP_OK);
		}
	log_warnx("%s: logout of cid %u: no such connection", c->conn_tag,
	    cid);
	return (LOGOUT_RSP_CID_NOT_FOUND);
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
		response = conn_logout_cid(c, be16toh(req->cid));
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
