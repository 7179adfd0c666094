/*
 * text.c: Text requests in the full feature phase (RFC 7143 11.10).
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

/*
 * Text: SendTargets in a normal session (RFC 7143 Appendix C): the empty
 * value or our own name answer our target; "All" MUST NOT be supported
 * in an operational session.  Other keys are not understood.  Requests
 * in C-bit pieces and answers longer than the initiator's
 * MaxRecvDataSegmentLength are handled by textx (src/textx.c), as in
 * discovery sessions.
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

/* The whole request is in: answer its keys.  0, or the Reject reason. */
static int
text_keys(struct conn *c)
{
	struct keys	*in = NULL, *out = NULL;
	const char	*data, *errstr;
	char		*buf = NULL;
	size_t		 len = 0;
	int		 rv = REJECT_OUT_OF_RESOURCES;

	data = textx_request(&c->conn_textx, &len);
	if ((in = keys_new()) == NULL || (out = keys_new()) == NULL)
		goto done;
	if (len > 0 && keys_load(in, data, len, &errstr) == -1) {
		log_warnx("%s: malformed text request: %s", c->conn_tag,
		    errstr);
		rv = REJECT_PROTOCOL_ERROR;
		goto done;
	}
	if (text_answer(c, in, out) == -1 || keys_save(out, &buf, &len) == -1)
		goto done;
	if (textx_answer(&c->conn_textx, buf, len) == -1) {
		log_warnx("%s: text answer of %zu bytes too long",
		    c->conn_tag, len);
		buf = NULL;
		goto done;
	}
	rv = 0;
done:
	if (rv != 0) {
		if (rv == REJECT_OUT_OF_RESOURCES)
			log_warnx("%s: text request: out of memory",
			    c->conn_tag);
		textx_clear(&c->conn_textx);
	}
	keys_free(in);
	keys_free(out);
	return (rv);
}

void
conn_text(struct conn *c)
{
	struct iscsi_text	*req = (struct iscsi_text *)&c->conn_rx_bhs;
	struct iscsi_text	*rsp;
	struct textx_piece	 p;
	struct txpdu		*tx;
	int			 reason = 0;

	if (!conn_cmdsn(c, be32toh(req->sn24),
	    (req->opcode & ISCSI_OP_IMMEDIATE) != 0))
		return;
	switch (textx_in(&c->conn_textx, be32toh(req->itt),
	    be32toh(req->ttt), req->flags, c->conn_rx_data,
	    pdu_data_len(&c->conn_rx_bhs))) {
	case TEXTX_ACK:
	case TEXTX_MORE:
		break;
	case TEXTX_KEYS:
		reason = text_keys(c);
		break;
	case TEXTX_BAD_TTT:
		log_warnx("%s: text request with TTT %#x continues nothing",
		    c->conn_tag, be32toh(req->ttt));
		reason = REJECT_INVALID_PDU_FIELD;
		break;
	case TEXTX_BAD:
		log_warnx("%s: text request: bad C/F bits, data in a "
		    "continuation, or over %u bytes", c->conn_tag,
		    TEXTX_REQ_MAX);
		reason = REJECT_PROTOCOL_ERROR;
		break;
	case TEXTX_NOMEM:
		reason = REJECT_OUT_OF_RESOURCES;
		break;
	}
	if (reason != 0) {
		conn_reject(c, reason, &c->conn_rx_bhs);
		return;
	}
	textx_out(&c->conn_textx, c->conn_p[P_MAX_XMIT_DSL], &p);
	if ((tx = conn_tx_new(c, ISCSI_OP_TEXT_RSP)) == NULL) {
		session_conn_close(c, "out of memory");
		return;
	}
	rsp = (struct iscsi_text *)&tx->tx_bhs;
	rsp->flags = p.tp_flags;
	memcpy(rsp->lun, req->lun, sizeof(rsp->lun));
	rsp->itt = req->itt;
	rsp->ttt = htobe32(p.tp_ttt);
	conn_tx_copy(c, tx, p.tp_data, p.tp_len, true);
}
