/*
 * cmdq.c: command ordering across the connections of a session (RFC 7143
 * 3.2.2.1, 4.2.2.1).  CmdSN, ExpCmdSN and MaxCmdSN are session-wide, and
 * the target delivers non-immediate commands in CmdSN order whatever
 * connection they came on.  A command that arrives ahead of ExpCmdSN
 * (inside the window) is copied here, with any unsolicited Data-Out that
 * follows it on its connection, and is replayed through conn_pdu once
 * every command before it has been taken.  A session with a single
 * connection keeps nothing (conn_cmdsn): there a gap can only be CmdSNs
 * the initiator skipped.  The queue is bounded by the window
 * (QueuedCommands) and by CMDQ_BYTES_MAX of copied data.  A connection
 * that closes takes its queued commands with it (ERL 0).  A replay runs on another connection of the session than the one whose
 * event brought the turn: all connections of a session must be served
 * by one reactor (thread).
 */
#include <sys/queue.h>

#include <endian.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pdu.h"
#include "priv/session.h"
#include "priv/conn.h"

#define CMDQ_BYTES_MAX	(16U * 1024 * 1024)	/* kept data, per session */

struct queued_cmd {
	TAILQ_ENTRY(queued_cmd)	 qc_entry;
	struct conn		*qc_conn;
	uint32_t		 qc_cmdsn;
	struct iscsi_bhs	 qc_bhs;
	uint8_t			*qc_data;	/* never NULL */
	uint32_t		 qc_len;
	bool			 qc_aborted;	/* by a TMF */
	struct cmd_queue	 qc_data_out;	/* Data-Out after it */
};

static size_t	cmdq_bytes(const struct session *);
static struct queued_cmd *cmdq_copy(struct conn *);
static void	cmdq_free_one(struct session *, struct queued_cmd *);
static void	cmdq_replay(struct conn *, struct queued_cmd *);

static size_t
cmdq_bytes(const struct session *s)
{
	return (s->sess_cmdq_bytes);
}

/*
 * A copy of the PDU just read on c: its data is where the reader put it
 * (conn_rx_dst, maybe a buffer read in place, which goes back to its
 * cache once the PDU is handled).
 */
static struct queued_cmd *
cmdq_copy(struct conn *c)
{
	struct session		*s = c->conn_sess;
	struct queued_cmd	*q;
	uint32_t		 len = c->conn_rx_dlen;

	if (cmdq_bytes(s) + len > CMDQ_BYTES_MAX) {
		log_warnx("%s: %zu bytes of commands already wait for "
		    "their turn", c->conn_tag, cmdq_bytes(s));
		return (NULL);
	}
	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    (q->qc_data = malloc(len + 1)) == NULL) {
		log_warn("%s: queue a command", c->conn_tag);
		free(q);
		return (NULL);
	}
	q->qc_conn = c;
	q->qc_bhs = c->conn_rx_bhs;
	q->qc_len = len;
	if (len > 0)
		memcpy(q->qc_data, c->conn_rx_dst, len);
	TAILQ_INIT(&q->qc_data_out);
	s->sess_cmdq_bytes += len;
	return (q);
}

/*
 * A command with CmdSN ahead of ExpCmdSN: keep it until its turn.
 * Always returns 0 (the caller goes on as if it had been dropped); a
 * command that cannot be kept is dropped with a log line, as one
 * outside the window would be.
 */
int
cmdq_defer(struct conn *c, uint32_t cmdsn)
{
	struct session		*s = c->conn_sess;
	struct queued_cmd	*q, *at;

	TAILQ_FOREACH(at, &s->sess_cmdq, qc_entry) {
		if (at->qc_cmdsn == cmdsn) {
			log_warnx("%s: CmdSN %u already queued, dropped",
			    c->conn_tag, cmdsn);
			return (0);
		}
		if (sn_gt(at->qc_cmdsn, cmdsn))
			break;
	}
	if ((q = cmdq_copy(c)) == NULL) {
		log_warnx("%s: CmdSN %u (expected %u) dropped", c->conn_tag,
		    cmdsn, s->sess_expcmdsn);
		return (0);
	}
	q->qc_cmdsn = cmdsn;
	if (at != NULL)
		TAILQ_INSERT_BEFORE(at, q, qc_entry);
	else
		TAILQ_INSERT_TAIL(&s->sess_cmdq, q, qc_entry);
	s->sess_ncmdq++;
	log_debug(1, "%s: CmdSN %u queued until ExpCmdSN %u reaches it",
	    c->conn_tag, cmdsn, s->sess_expcmdsn);
	return (0);
}

/* A Data-Out for no task: true if it belongs to a queued command. */
bool
cmdq_data_out(struct conn *c)
{
	struct session		*s = c->conn_sess;
	struct queued_cmd	*q, *d;

	TAILQ_FOREACH(q, &s->sess_cmdq, qc_entry)
		if (q->qc_conn == c && q->qc_bhs.itt == c->conn_rx_bhs.itt)
			break;
	if (q == NULL)
		return (false);
	if ((d = cmdq_copy(c)) == NULL) {
		/* The command could not be run right: end the connection. */
		session_conn_close(c, "cannot queue Data-Out");
		return (true);
	}
	TAILQ_INSERT_TAIL(&q->qc_data_out, d, qc_entry);
	return (true);
}

static void
cmdq_free_one(struct session *s, struct queued_cmd *q)
{
	struct queued_cmd	*d;

	while ((d = TAILQ_FIRST(&q->qc_data_out)) != NULL) {
		TAILQ_REMOVE(&q->qc_data_out, d, qc_entry);
		cmdq_free_one(s, d);
	}
	s->sess_cmdq_bytes -= q->qc_len;
	free(q->qc_data);
	free(q);
}

/* What the reader of a connection holds of the PDU it is reading. */
struct cmdq_rx {
	struct iscsi_bhs	 bhs;
	uint8_t			*data;
	uint8_t			*dst;
	size_t			 dlen;
	bool			 inplace;
	struct iobuf		*ib;
	bool			 bad;
};

/*
 * Run a kept PDU as if it had just been read on c, its data in
 * conn_rx_data (not in place).  c may be in the middle of reading
 * another PDU: what its reader holds is put aside and given back.
 */
static void
cmdq_replay(struct conn *c, struct queued_cmd *q)
{
	struct cmdq_rx	 rx = {
		c->conn_rx_bhs, c->conn_rx_data, c->conn_rx_dst,
		c->conn_rx_dlen, c->conn_rx_inplace, c->conn_rx_ib,
		c->conn_rx_ddig_bad
	};

	c->conn_rx_bhs = q->qc_bhs;
	c->conn_rx_data = c->conn_rx_dst = q->qc_data;
	c->conn_rx_dlen = q->qc_len;
	c->conn_rx_inplace = false;
	c->conn_rx_ib = NULL;
	c->conn_rx_ddig_bad = false;
	conn_pdu(c);
	if (c->conn_dead) {
		/* session_conn_close freed q's buffer as its own. */
		q->qc_data = NULL;
		free(rx.data);
		iobuf_unref(rx.ib);
		return;
	}
	iobuf_unref(c->conn_rx_ib);
	c->conn_rx_bhs = rx.bhs;
	c->conn_rx_data = rx.data;
	c->conn_rx_dst = rx.dst;
	c->conn_rx_dlen = rx.dlen;
	c->conn_rx_inplace = rx.inplace;
	c->conn_rx_ib = rx.ib;
	c->conn_rx_ddig_bad = rx.bad;
	/* c may not be the connection with the event: have it write. */
	conn_events_update(c);
}

/* Run every kept command whose turn has come. */
void
cmdq_drain(struct session *s)
{
	struct queued_cmd	*q, *d;
	struct conn		*c;

	if (s->sess_draining)
		return;
	s->sess_draining = true;
	session_hold(s);
	while ((q = TAILQ_FIRST(&s->sess_cmdq)) != NULL &&
	    !sn_gt(q->qc_cmdsn, s->sess_expcmdsn)) {
		TAILQ_REMOVE(&s->sess_cmdq, q, qc_entry);
		s->sess_ncmdq--;
		c = q->qc_conn;
		if (q->qc_aborted) {
			/* Aborted while waiting: its CmdSN is taken. */
			if (q->qc_cmdsn == s->sess_expcmdsn)
				s->sess_expcmdsn++;
			cmdq_free_one(s, q);
			continue;
		}
		log_debug(1, "%s: CmdSN %u runs now", c->conn_tag,
		    q->qc_cmdsn);
		cmdq_replay(c, q);
		while (!c->conn_dead &&
		    (d = TAILQ_FIRST(&q->qc_data_out)) != NULL) {
			TAILQ_REMOVE(&q->qc_data_out, d, qc_entry);
			cmdq_replay(c, d);
			cmdq_free_one(s, d);
		}
		cmdq_free_one(s, q);
	}
	s->sess_draining = false;
	session_release(s);
}

/* A connection closes: its kept commands go with it. */
void
cmdq_purge_conn(struct session *s, struct conn *c)
{
	struct queued_cmd	*q, *next;

	for (q = TAILQ_FIRST(&s->sess_cmdq); q != NULL; q = next) {
		next = TAILQ_NEXT(q, qc_entry);
		if (c != NULL && q->qc_conn != c)
			continue;
		TAILQ_REMOVE(&s->sess_cmdq, q, qc_entry);
		s->sess_ncmdq--;
		cmdq_free_one(s, q);
	}
}

/*
 * Task management: abort kept SCSI commands, the one with this ITT
 * (CMDQ_ONE), those for this LUN (CMDQ_LUN) or all (CMDQ_ALL).  An
 * aborted command never runs, but its CmdSN still counts when its turn
 * comes, so that the commands after it are not held up.  Returns how
 * many were aborted.
 */
int
cmdq_abort(struct session *s, uint32_t itt, uint64_t lun, int scope)
{
	struct queued_cmd	*q;
	int			 n = 0;

	TAILQ_FOREACH(q, &s->sess_cmdq, qc_entry) {
		if (q->qc_aborted ||
		    pdu_opcode(&q->qc_bhs) != ISCSI_OP_SCSI_CMD)
			continue;
		if ((scope == CMDQ_ONE && be32toh(q->qc_bhs.itt) != itt) ||
		    (scope == CMDQ_LUN &&
		    pdu_lun_decode(q->qc_bhs.lun) != lun))
			continue;
		log_debug(1, "%s: CmdSN %u (itt %#x) aborted while waiting",
		    q->qc_conn->conn_tag, q->qc_cmdsn,
		    be32toh(q->qc_bhs.itt));
		q->qc_aborted = true;
		n++;
	}
	return (n);
}
