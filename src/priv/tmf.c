/*
 * tmf.c: task management functions (RFC 7143 11.5, 11.6; SAM-5 7).
 *
 * Scope: ABORT TASK and ABORT TASK SET reach the asking session's tasks;
 * CLEAR TASK SET (TST 000b: one task set for every I_T nexus) and
 * LOGICAL UNIT RESET every session's tasks on the LUN; the target resets
 * every session's tasks of the target, and TARGET COLD RESET then closes
 * every session of the target.  The SCSI side (reservations released,
 * unit attentions for the other nexuses) is scsi_lun_reset,
 * scsi_target_reset and scsi_tasks_cleared.
 *
 * Ordering (RFC 7143 4.2.3.5): an aborted task never gets a SCSI
 * Response, and the TMF response goes out after every response queued
 * before it.  A task on a connection's list either waits for Data-Out
 * or its command is pending (scsi_cmd_cancel): a SANITIZE goes on
 * without its command, as SBC-4 wants; a read or flush on an I/O thread
 * ends unheard; a write on an I/O thread is taken back before it starts,
 * or fences its LUN until it has landed (bgio.c, scsi.c), so that no
 * later command sees the medium without it.  Nothing of an aborted task
 * is in the output queue, so the TMF response queued after freeing them
 * keeps the order.
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
#include "priv/conn.h"

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

/*
 * Which tasks a function aborts (SAM-5 7, RFC 7143 11.5.1): the tasks of
 * one session (ABORT TASK SET) or of every session of the target (CLEAR
 * TASK SET with TST 000b, the resets), on one LUN or on all of them.
 */
struct tmf_scope {
	const struct session	*ts_sess;	/* NULL: every session */
	bool			 ts_all_luns;
	uint64_t		 ts_lun;
	struct lun		*ts_clear;	/* CLEAR TASK SET: tell the
						   other nexuses it hit */
};

/*
 * Remember the ITT of an aborted task for a while: the initiator may
 * still have Data-Out for it in flight, which is then discarded quietly
 * instead of being rejected as naming no task.
 */
static void
tmf_aborted_note(struct conn *c, uint32_t itt)
{
	c->conn_aborted[c->conn_aborted_next] = itt;
	c->conn_aborted_next = (c->conn_aborted_next + 1) % CONN_ABORTED_MAX;
	c->conn_naborted++;
}

bool
conn_itt_aborted(const struct conn *c, uint32_t itt)
{
	size_t	 i, n = c->conn_naborted;

	if (n > CONN_ABORTED_MAX)
		n = CONN_ABORTED_MAX;
	for (i = 0; i < n; i++)
		if (c->conn_aborted[i] == itt)
			return (true);
	return (false);
}

/*
 * Abort a task: it is dropped and no SCSI Response will ever be sent for
 * it, nor has any been queued.  The responses of the commands that ended
 * before it are queued already, so the TMF response queued next goes out
 * after them (RFC 7143 4.2.3.5 response fence).
 */
static void
tmf_abort(struct conn *o, struct task *t, const char *fn)
{
	log_debug(1, "%s: %s: task %#x (lun %llu) aborted", o->conn_tag, fn,
	    t->t_itt, (unsigned long long)t->t_lun_id);
	tmf_aborted_note(o, t->t_itt);
	task_free(o, t);
}

/* Abort the tasks of one connection within the scope: how many. */
static uint32_t
tmf_abort_conn(struct conn *o, const struct tmf_scope *sc, const char *fn)
{
	struct task	*t, *next;
	uint32_t	 n = 0;

	for (t = TAILQ_FIRST(&o->conn_tasks); t != NULL; t = next) {
		next = TAILQ_NEXT(t, t_entry);
		if (sc->ts_all_luns || t->t_lun_id == sc->ts_lun) {
			tmf_abort(o, t, fn);
			n++;
		}
	}
	return (n);
}

/* Abort within the scope in every session of the target it reaches. */
static void
tmf_abort_scope(struct conn *c, const struct tmf_scope *sc, const char *fn)
{
	struct io_target	*it = c->conn_sess->sess_target;
	struct session		*s;
	struct conn		*o;
	uint32_t		 n;

	TAILQ_FOREACH(s, &it->it_sessions, sess_entry) {
		if (sc->ts_sess != NULL && s != sc->ts_sess)
			continue;
		/* Commands still waiting their turn (cmdq.c) too. */
		n = cmdq_abort(s, 0, sc->ts_lun, sc->ts_all_luns ? CMDQ_ALL :
		    CMDQ_LUN);
		TAILQ_FOREACH(o, &s->sess_conns, conn_sentry)
			n += tmf_abort_conn(o, sc, fn);
		if (n == 0 || s == c->conn_sess)
			continue;
		log_info("%s: %s aborted %u tasks of session %#llx",
		    c->conn_tag, fn, n, (unsigned long long)s->sess_id);
		/* SAM-5 7.4 with TAS 0: COMMANDS CLEARED BY ANOTHER
		 * INITIATOR for the nexus whose tasks went. */
		if (sc->ts_clear != NULL)
			scsi_tasks_cleared(sc->ts_clear, &s->sess_nexus);
	}
}

/*
 * ABORT TASK (RFC 7143 11.5.1): the task of this session with ITT RTT.
 * A task that does not exist but whose RefCmdSN is in the window and
 * before the TMF's own CmdSN never arrived: that CmdSN is taken as
 * received (a late copy is then out of the window) and the function is
 * complete; otherwise the task does not exist.
 */
static uint8_t
tmf_abort_task(struct conn *c, const struct iscsi_tmf_req *req)
{
	struct session	*s = c->conn_sess;
	struct conn	*o;
	struct task	*t;
	uint32_t	 rtt = be32toh(req->rtt), ref;

	TAILQ_FOREACH(o, &s->sess_conns, conn_sentry)
		if ((t = conn_task_find(o, rtt)) != NULL) {
			tmf_abort(o, t, "abort task");
			return (TMF_RSP_COMPLETE);
		}
	if (cmdq_abort(s, rtt, 0, CMDQ_ONE) > 0)
		return (TMF_RSP_COMPLETE);	/* it was waiting its turn */
	ref = be32toh(req->refcmdsn);
	if (!sn_lt(ref, s->sess_expcmdsn) && !sn_gt(ref, conn_maxcmdsn(c)) &&
	    sn_lt(ref, be32toh(req->cmdsn))) {
		if (ref == s->sess_expcmdsn)
			s->sess_expcmdsn++;
		log_debug(1, "%s: abort task %#x: CmdSN %u taken as received",
		    c->conn_tag, rtt, ref);
		return (TMF_RSP_COMPLETE);
	}
	log_debug(1, "%s: abort task %#x: no such task", c->conn_tag, rtt);
	return (TMF_RSP_NO_TASK);
}

/* Functions on one LUN: ABORT TASK SET, CLEAR TASK SET, LU RESET, ... */
static uint8_t
tmf_lun(struct conn *c, uint8_t fn, const struct iscsi_tmf_req *req)
{
	struct session		*s = c->conn_sess;
	struct tmf_scope	 sc;
	struct lun		*lun;

	memset(&sc, 0, sizeof(sc));
	sc.ts_lun = pdu_lun_decode(req->lun);
	if ((lun = lun_find(s->sess_target->it_lt, sc.ts_lun)) == NULL) {
		log_warnx("%s: task management function %u: no LUN %llu",
		    c->conn_tag, fn, (unsigned long long)sc.ts_lun);
		return (TMF_RSP_NO_LUN);
	}
	switch (fn) {
	case TMF_ABORT_TASK_SET:
		sc.ts_sess = s;
		tmf_abort_scope(c, &sc, "abort task set");
		break;
	case TMF_CLEAR_TASK_SET:
		sc.ts_clear = lun;
		tmf_abort_scope(c, &sc, "clear task set");
		break;
	case TMF_LUN_RESET:
		log_info("%s: logical unit reset of LUN %llu", c->conn_tag,
		    (unsigned long long)sc.ts_lun);
		tmf_abort_scope(c, &sc, "logical unit reset");
		/* Reservations released, 29h/03h for every nexus. */
		scsi_lun_reset(lun, &s->sess_nexus);
		break;
	case TMF_CLEAR_ACA:
		/* NACA is not supported: no ACA condition to clear. */
		break;
	}
	return (TMF_RSP_COMPLETE);
}

/*
 * TARGET WARM RESET and TARGET COLD RESET: every task of every session
 * of the target.  A cold reset then closes every session of the target:
 * the others at once, this one when its TMF response is out (RFC 7143
 * 11.5.1).
 */
static uint8_t
tmf_target_reset(struct conn *c, bool cold)
{
	struct io_target	*it = c->conn_sess->sess_target;
	struct tmf_scope	 sc;

	memset(&sc, 0, sizeof(sc));
	sc.ts_all_luns = true;
	log_info("%s: target %s reset of %s", c->conn_tag, cold ? "cold" :
	    "warm", it->it_lt->lt_name);
	tmf_abort_scope(c, &sc, cold ? "target cold reset" :
	    "target warm reset");
	scsi_target_reset(it->it_lt, &c->conn_sess->sess_nexus, cold);
	return (TMF_RSP_COMPLETE);
}

/* After the answer to a cold reset is queued: end the sessions. */
static void
tmf_cold_reset_close(struct conn *c)
{
	struct io_target	*it = c->conn_sess->sess_target;
	struct session		*s, *next;

	for (s = TAILQ_FIRST(&it->it_sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, sess_entry);
		if (s == c->conn_sess)
			continue;
		log_info("target cold reset: closing session %#llx",
		    (unsigned long long)s->sess_id);
		session_close(s);
	}
	c->conn_stop_rx = true;
	c->conn_logout = c->conn_logout_sess = true;
}

static void
tmf_respond(struct conn *c, const struct iscsi_tmf_req *req,
    uint8_t response)
{
	struct iscsi_tmf_rsp	*rsp;
	struct txpdu		*tx;

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

void
conn_tmf(struct conn *c)
{
	struct iscsi_tmf_req	*req = (void *)&c->conn_rx_bhs;
	uint8_t			 fn = req->function & 0x7f, response;

	if (!conn_cmdsn(c, be32toh(req->cmdsn),
	    (req->opcode & ISCSI_OP_IMMEDIATE) != 0))
		return;
	switch (fn) {
	case TMF_ABORT_TASK:
		response = tmf_abort_task(c, req);
		break;
	case TMF_ABORT_TASK_SET:
	case TMF_CLEAR_ACA:
	case TMF_CLEAR_TASK_SET:
	case TMF_LUN_RESET:
		response = tmf_lun(c, fn, req);
		break;
	case TMF_TARGET_WARM_RESET:
	case TMF_TARGET_COLD_RESET:
		response = tmf_target_reset(c, fn == TMF_TARGET_COLD_RESET);
		break;
	case TMF_TASK_REASSIGN:
		/*
		 * RFC 7143 11.5.1: at ErrorRecoveryLevel < 2 the answer is
		 * "task allegiance reassignment not supported"; connection
		 * recovery is not implemented at level 2 either.
		 */
		response = TMF_RSP_NO_REASSIGN;
		break;
	default:
		log_warnx("%s: task management function %u not supported",
		    c->conn_tag, fn);
		response = TMF_RSP_NOT_SUPPORTED;
		break;
	}
	log_debug(1, "%s: task management function %u: response %u",
	    c->conn_tag, fn, response);
	tmf_respond(c, req, response);
	if (fn == TMF_TARGET_COLD_RESET && !c->conn_dead)
		tmf_cold_reset_close(c);
}
