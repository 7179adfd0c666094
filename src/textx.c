/*
 * textx.c: one Text Request/Response exchange (RFC 7143 11.10, 11.11).
 *
 * A request with the C bit is a piece of a longer one: it is kept and
 * acknowledged with an empty response (F 0, a fresh Target Transfer
 * Tag), and the next piece must carry that tag.  Once the request is
 * whole its keys are answered; an answer longer than the initiator's
 * MaxRecvDataSegmentLength is cut into pieces with the C bit (F 0 and a
 * fresh tag), each asked for by an empty request carrying the tag of the
 * piece before; the last one has F 1 and the reserved tag.  A request
 * with the reserved tag starts over, dropping whatever was going on.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pdu.h"
#include "textx.h"

void
textx_init(struct textx *x, uint32_t ttt_seed)
{
	memset(x, 0, sizeof(*x));
	x->tx_phase = TEXTX_IDLE;
	x->tx_ttt = ISCSI_RESERVED_TAG;
	x->tx_ttt_next = ttt_seed;
}

void
textx_clear(struct textx *x)
{
	free(x->tx_req);
	free(x->tx_ans);
	x->tx_req = x->tx_ans = NULL;
	x->tx_reqlen = x->tx_anslen = x->tx_ansoff = 0;
	x->tx_phase = TEXTX_IDLE;
	x->tx_ttt = ISCSI_RESERVED_TAG;
}

static int
textx_append(struct textx *x, const void *data, size_t len)
{
	char	*p;

	if (x->tx_reqlen + len > TEXTX_REQ_MAX)
		return (-1);
	if (len == 0)
		return (0);
	if ((p = realloc(x->tx_req, x->tx_reqlen + len)) == NULL)
		return (-2);
	memcpy(p + x->tx_reqlen, data, len);
	x->tx_req = p;
	x->tx_reqlen += len;
	return (0);
}

enum textx_step
textx_in(struct textx *x, uint32_t itt, uint32_t ttt, uint8_t flags,
    const void *data, size_t len)
{
	bool	 more = (flags & ISCSI_TEXT_C) != 0;
	int	 rv;

	if (more && (flags & ISCSI_FLAG_FINAL)) {
		textx_clear(x);
		return (TEXTX_BAD);
	}
	if (ttt == ISCSI_RESERVED_TAG) {
		textx_clear(x);
		x->tx_itt = itt;
		x->tx_phase = TEXTX_REQUEST;
	} else if (x->tx_phase == TEXTX_IDLE || itt != x->tx_itt ||
	    ttt != x->tx_ttt)
		return (TEXTX_BAD_TTT);
	else if (x->tx_phase == TEXTX_ANSWER) {
		/* An empty request asks for the next piece. */
		if (len > 0 || more) {
			textx_clear(x);
			return (TEXTX_BAD);
		}
		return (TEXTX_MORE);
	}
	if ((rv = textx_append(x, data, len)) != 0) {
		textx_clear(x);
		return (rv == -1 ? TEXTX_BAD : TEXTX_NOMEM);
	}
	return (more ? TEXTX_ACK : TEXTX_KEYS);
}

const char *
textx_request(const struct textx *x, size_t *len)
{
	*len = x->tx_reqlen;
	return (x->tx_req);
}

int
textx_answer(struct textx *x, char *data, size_t len)
{
	free(x->tx_req);
	x->tx_req = NULL;
	x->tx_reqlen = 0;
	free(x->tx_ans);
	x->tx_ans = data;
	x->tx_anslen = len;
	x->tx_ansoff = 0;
	x->tx_phase = TEXTX_ANSWER;
	return (len > TEXTX_ANS_MAX ? -1 : 0);
}

static uint32_t
textx_tag(struct textx *x)
{
	if (x->tx_ttt_next == ISCSI_RESERVED_TAG)
		x->tx_ttt_next = 0;
	x->tx_ttt = x->tx_ttt_next++;
	return (x->tx_ttt);
}

void
textx_out(struct textx *x, size_t max, struct textx_piece *p)
{
	size_t	 left;

	memset(p, 0, sizeof(*p));
	p->tp_ttt = ISCSI_RESERVED_TAG;
	if (x->tx_phase == TEXTX_REQUEST) {
		/* Acknowledge a piece of the request. */
		p->tp_ttt = textx_tag(x);
		return;
	}
	if (x->tx_phase != TEXTX_ANSWER) {
		p->tp_flags = ISCSI_FLAG_FINAL;
		return;
	}
	left = x->tx_anslen - x->tx_ansoff;
	p->tp_data = x->tx_ans != NULL ? x->tx_ans + x->tx_ansoff : NULL;
	if (left > max) {
		p->tp_len = max;
		p->tp_flags = ISCSI_TEXT_C;
		p->tp_ttt = textx_tag(x);
	} else {
		/* The last piece; its data lives until the next request. */
		p->tp_len = left;
		p->tp_flags = ISCSI_FLAG_FINAL;
		x->tx_phase = TEXTX_IDLE;
		x->tx_ttt = ISCSI_RESERVED_TAG;
	}
	x->tx_ansoff += p->tp_len;
}
