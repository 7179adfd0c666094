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

void
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
