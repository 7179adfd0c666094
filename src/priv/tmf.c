/*
 * tmf.c: task management functions (RFC 7143 11.5, 11.6).
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

void
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
