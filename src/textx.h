/*
 * textx.h: one Text Request/Response exchange (RFC 7143 11.10, 11.11),
 * shared by discovery sessions (worker) and normal sessions (io): a
 * request that arrives in C-bit pieces is joined, and an answer longer
 * than the initiator's MaxRecvDataSegmentLength goes out in pieces, each
 * asked for by an empty Text Request carrying the Target Transfer Tag
 * of the piece before.  No PDU I/O and no key knowledge here.
 */
#ifndef IETD_TEXTX_H
#define IETD_TEXTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TEXTX_REQ_MAX	65536		/* joined request data */
#define TEXTX_ANS_MAX	(1024 * 1024)	/* answer data */

enum textx_phase { TEXTX_IDLE, TEXTX_REQUEST, TEXTX_ANSWER };

struct textx {
	enum textx_phase	 tx_phase;
	uint32_t		 tx_itt;
	uint32_t		 tx_ttt;	/* tag of the last piece out */
	uint32_t		 tx_ttt_next;
	char			*tx_req;
	size_t			 tx_reqlen;
	char			*tx_ans;
	size_t			 tx_anslen;
	size_t			 tx_ansoff;
};

/* What textx_in made of a Text Request. */
enum textx_step {
	TEXTX_ACK,	/* a C-bit piece kept: answer with textx_out */
	TEXTX_KEYS,	/* the request is whole: textx_request, then
			   textx_answer, then textx_out */
	TEXTX_MORE,	/* the next piece of the answer: textx_out */
	TEXTX_BAD_TTT,	/* a TTT that continues nothing: Reject 0x09 */
	TEXTX_BAD,	/* C with F, data in a continuation, too big:
			   Reject 0x04 */
	TEXTX_NOMEM
};

/* One piece of the answer to send. */
struct textx_piece {
	const char	*tp_data;
	size_t		 tp_len;
	uint8_t		 tp_flags;	/* ISCSI_FLAG_FINAL or ISCSI_TEXT_C */
	uint32_t	 tp_ttt;	/* host order; reserved when final */
};

void	textx_init(struct textx *, uint32_t ttt_seed);
void	textx_clear(struct textx *);
/* A Text Request: its ITT and TTT (host order), flags and data. */
enum textx_step textx_in(struct textx *, uint32_t itt, uint32_t ttt,
	    uint8_t flags, const void *data, size_t len);
/* The whole request (after TEXTX_KEYS). */
const char *textx_request(const struct textx *, size_t *len);
/* Take the answer (malloc'd, freed by textx): 0, or -1 if too big. */
int	textx_answer(struct textx *, char *data, size_t len);
/* The next Text Response, at most max bytes of data. */
void	textx_out(struct textx *, size_t max, struct textx_piece *);

#endif
