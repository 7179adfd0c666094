/*
 * discovery.c: the Full Feature Phase of a discovery session, run in the
 * worker: Text Requests with SendTargets (answers longer than the
 * initiator's MaxRecvDataSegmentLength go out in C-bit pieces), NOP-Out,
 * and Logout.  Anything else is rejected.  Every PDU after the final
 * Login Response carries the digests negotiated (RFC 7143 13.1): a
 * header digest error ends the session, since where the next PDU starts
 * is unknown; a data digest error is answered with a Reject (reason
 * 0x02) and the PDU is discarded (RFC 7143 7.8), which leaves nothing
 * to clean up in a discovery session.
 */
#include <sys/types.h>

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include "acl.h"
#include "log.h"
#include "textx.h"
#include "util.h"
#include "worker/login.h"

#define DISC_TEXT_MAX	TEXTX_ANS_MAX	/* SendTargets answer */

struct text_buf {
	char	*tb_data;
	size_t	 tb_len;
	size_t	 tb_cap;
};

static int
tb_add(struct text_buf *tb, const char *key, const char *value)
{
	size_t	 need = strlen(key) + 1 + strlen(value) + 1;
	char	*p;

	if (tb->tb_len + need > DISC_TEXT_MAX)
		return (-1);
	if (tb->tb_len + need > tb->tb_cap) {
		size_t	 cap = tb->tb_cap ? tb->tb_cap * 2 : 1024;

		while (cap < tb->tb_len + need)
			cap *= 2;
		if ((p = realloc(tb->tb_data, cap)) == NULL)
			fatal("realloc");
		tb->tb_data = p;
		tb->tb_cap = cap;
	}
	snprintf(tb->tb_data + tb->tb_len, need, "%s=%s", key, value);
	tb->tb_len += need;
	return (0);
}

static void
sendtargets(const struct login *l, const char *value, struct text_buf *tb)
{
	struct conf_target	*t;
	char			 addr[ADDRSTRLEN + 8];

	/* TargetAddress: the portal the initiator used. */
	portal_str((const struct sockaddr *)&l->l_local, addr, sizeof(addr));
	TAILQ_FOREACH(t, &l->l_conf->conf_targets, ct_entry) {
		if (strcmp(value, "All") != 0 && strcmp(value, t->ct_name) != 0)
			continue;
		/* Only the targets this initiator may reach (acl.c). */
		if (!acl_permits(l->l_conf->conf_acl, t->ct_name,
		    l->l_initiator, (const struct sockaddr *)&l->l_peer, NULL,
		    0)) {
			log_debug(1, "SendTargets: %s not listed (access "
			    "rules)", t->ct_name);
			continue;
		}
		if (tb_add(tb, "TargetName", t->ct_name) == -1 ||
		    tb_add(tb, "TargetAddress", addr) == -1) {
			log_warnx("SendTargets answer over %d bytes; "
			    "truncated", DISC_TEXT_MAX);
			return;
		}
	}
}

/* The PDU_DIGEST_* flags negotiated for this connection. */
static int
digests(const struct login *l)
{
	int	 d = 0;

	if (l->l_neg.pn_result[P_HEADER_DIGEST] == PARAM_DIGEST_CRC32C)
		d |= PDU_DIGEST_HEADER;
	if (l->l_neg.pn_result[P_DATA_DIGEST] == PARAM_DIGEST_CRC32C)
		d |= PDU_DIGEST_DATA;
	return (d);
}

static void
send_pdu(struct login *l, struct pdu *p)
{
	int	 d = digests(l);

	if (d == 0)
		login_send(l, p);
	else if (pdu_write_digest(l->l_fd, p, d) == -1) {
		if (errno == EPIPE || errno == ECONNRESET)
			_exit(0);
		fatal("write");
	}
	pdu_free(p);
}

static void
reject(struct login *l, const struct pdu *req, int reason)
{
	struct iscsi_reject	*r;
	struct pdu		 rsp;

	pdu_init(&rsp);
	r = (void *)&rsp.bhs;
	r->opcode = ISCSI_OP_REJECT;
	r->flags = ISCSI_FLAG_FINAL;
	r->reason = reason;
	r->ffffffff = ISCSI_RESERVED_TAG;
	r->statsn = htobe32(l->l_statsn++);
	r->expcmdsn = htobe32(l->l_cmdsn);
	r->maxcmdsn = htobe32(l->l_cmdsn + l->l_window - 1);
	if (pdu_set_data(&rsp, &req->bhs, sizeof(req->bhs)) == -1)
		fatal("pdu_set_data");
	log_warnx("rejecting %s in a discovery session (reason %#x)",
	    pdu_opcode_name(pdu_opcode(&req->bhs)), reason);
	send_pdu(l, &rsp);
}

/* CmdSN of a non-immediate request must be ExpCmdSN (one at a time). */
static void
cmdsn(struct login *l, const struct pdu *req)
{
	uint32_t	 sn = be32toh(req->bhs.sn24);

	if (req->bhs.opcode & ISCSI_OP_IMMEDIATE)
		return;
	if (sn != l->l_cmdsn)
		log_debug(1, "exp_cmd_sn: %u,%u", l->l_cmdsn, sn);
	l->l_cmdsn = sn + 1;
}

/*
 * Text Request: the exchange (C-bit pieces both ways) is textx's; the
 * answer to SendTargets and NotUnderstood for the rest is ours.
 */
static int
text_answer(struct login *l, struct textx *x)
{
	struct text_buf	 tb;
	struct keys	*in;
	const char	*errstr, *data;
	size_t		 i, len;

	memset(&tb, 0, sizeof(tb));
	data = textx_request(x, &len);
	if ((in = keys_new()) == NULL)
		fatal("keys_new");
	if (len > 0 && keys_load(in, data, len, &errstr) == -1) {
		log_warnx("malformed Text Request: %s", errstr);
		keys_free(in);
		return (-1);
	}
	for (i = 0; i < in->keys_n; i++) {
		if (strcmp(in->keys_name[i], "SendTargets") == 0)
			sendtargets(l, in->keys_value[i], &tb);
		else if (tb_add(&tb, in->keys_name[i], "NotUnderstood") == -1)
			break;
	}
	keys_free(in);
	textx_answer(x, tb.tb_data, tb.tb_len);
	return (0);
}

static void
text_request(struct login *l, struct pdu *req, struct textx *x)
{
	struct iscsi_text	*q = (void *)&req->bhs, *r;
	struct textx_piece	 p;
	struct pdu		 rsp;

	cmdsn(l, req);
	switch (textx_in(x, be32toh(q->itt), be32toh(q->ttt), q->flags,
	    req->data, req->data_len)) {
	case TEXTX_ACK:
	case TEXTX_MORE:
		break;
	case TEXTX_KEYS:
		if (text_answer(l, x) == -1) {
			textx_clear(x);
			reject(l, req, REJECT_PROTOCOL_ERROR);
			return;
		}
		break;
	case TEXTX_BAD_TTT:
		reject(l, req, REJECT_INVALID_PDU_FIELD);
		return;
	case TEXTX_BAD:
		reject(l, req, REJECT_PROTOCOL_ERROR);
		return;
	case TEXTX_NOMEM:
		fatal("text request");
	}
	textx_out(x, l->l_neg.pn_result[P_MAX_XMIT_DSL], &p);
	pdu_init(&rsp);
	r = (void *)&rsp.bhs;
	r->opcode = ISCSI_OP_TEXT_RSP;
	r->flags = p.tp_flags;
	memcpy(r->lun, q->lun, sizeof(r->lun));
	r->itt = q->itt;
	r->ttt = htobe32(p.tp_ttt);
	if (p.tp_len > 0 && pdu_set_data(&rsp, p.tp_data, p.tp_len) == -1)
		fatal("pdu_set_data");
	r->sn24 = htobe32(l->l_statsn++);
	r->sn28 = htobe32(l->l_cmdsn);
	r->maxcmdsn = htobe32(l->l_cmdsn + l->l_window - 1);
	send_pdu(l, &rsp);
}

static void
nop_out(struct login *l, struct pdu *req)
{
	struct iscsi_nop	*q = (void *)&req->bhs, *r;
	struct pdu		 rsp;

	cmdsn(l, req);
	if (q->itt == ISCSI_RESERVED_TAG)
		return;
	pdu_init(&rsp);
	r = (void *)&rsp.bhs;
	r->opcode = ISCSI_OP_NOP_IN;
	r->flags = ISCSI_FLAG_FINAL;
	memcpy(r->lun, q->lun, sizeof(r->lun));
	r->itt = q->itt;
	r->ttt = ISCSI_RESERVED_TAG;
	r->sn24 = htobe32(l->l_statsn++);
	r->sn28 = htobe32(l->l_cmdsn);
	r->maxcmdsn = htobe32(l->l_cmdsn + l->l_window - 1);
	if (req->data_len > 0 &&
	    pdu_set_data(&rsp, req->data, req->data_len) == -1)
		fatal("pdu_set_data");
	send_pdu(l, &rsp);
}

static __dead void
logout(struct login *l, struct pdu *req)
{
	struct iscsi_logout_req	*q = (void *)&req->bhs;
	struct iscsi_logout_rsp	*r;
	struct pdu		 rsp;

	cmdsn(l, req);
	pdu_init(&rsp);
	r = (void *)&rsp.bhs;
	r->opcode = ISCSI_OP_LOGOUT_RSP;
	r->flags = ISCSI_FLAG_FINAL;
	r->response = (q->flags & 0x7f) == LOGOUT_REMOVE_FOR_RECOVERY ?
	    LOGOUT_RSP_RECOVERY_UNSUPPORTED : LOGOUT_RSP_OK;
	r->itt = q->itt;
	r->statsn = htobe32(l->l_statsn++);
	r->expcmdsn = htobe32(l->l_cmdsn);
	r->maxcmdsn = htobe32(l->l_cmdsn + l->l_window - 1);
	r->time2wait = htobe16(l->l_neg.pn_result[P_DEFAULT_TIME2WAIT]);
	r->time2retain = htobe16(l->l_neg.pn_result[P_DEFAULT_TIME2RETAIN]);
	send_pdu(l, &rsp);
	log_info("connection closed");
	_exit(0);
}

__dead void
discovery_run(struct login *l)
{
	struct textx		 ts;
	struct pdu		 req;
	size_t			 max;
	int			 r;

	textx_init(&ts, xrandom32() & 0x7fffffff);
	max = l->l_neg.pn_result[P_MAX_RECV_DSL];
	if (digests(l) != 0)
		log_debug(1, "digests: header %s, data %s",
		    digests(l) & PDU_DIGEST_HEADER ? "CRC32C" : "None",
		    digests(l) & PDU_DIGEST_DATA ? "CRC32C" : "None");
	for (;;) {
		pdu_init(&req);
		r = pdu_read_digest(l->l_fd, &req, max, digests(l));
		if (r == PDU_ERR_EOF || (r == PDU_ERR_IO && errno == ECONNRESET)) {
			log_info("connection closed");
			_exit(0);
		}
		if (r == PDU_ERR_HDIGEST)
			fatalx("%s: header digest error; closing",
			    pdu_opcode_name(pdu_opcode(&req.bhs)));
		if (r == PDU_ERR_DDIGEST) {
			log_warnx("%s: data digest error",
			    pdu_opcode_name(pdu_opcode(&req.bhs)));
			reject(l, &req, REJECT_DIGEST_ERROR);
			pdu_free(&req);
			continue;
		}
		if (r == PDU_ERR_TOOBIG) {
			reject(l, &req, REJECT_PROTOCOL_ERROR);
			log_warnx("DataSegmentLength %u over %zu; closing",
			    pdu_data_len(&req.bhs), max);
			_exit(1);
		}
		if (r != 0)
			fatal("read");
		switch (pdu_opcode(&req.bhs)) {
		case ISCSI_OP_TEXT_REQ:
			text_request(l, &req, &ts);
			break;
		case ISCSI_OP_NOP_OUT:
			nop_out(l, &req);
			break;
		case ISCSI_OP_LOGOUT_REQ:
			logout(l, &req);
		default:
			reject(l, &req, REJECT_CMD_NOT_SUPPORTED);
			break;
		}
		pdu_free(&req);
	}
}
