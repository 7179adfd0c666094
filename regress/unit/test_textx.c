/*
 * test_textx: one Text exchange (src/textx.c): requests in C-bit pieces,
 * answers cut to MaxRecvDataSegmentLength, the TTT rules and the limits.
 * Prints one line per failed check, exits 1 if any failed.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdu.h"
#include "textx.h"

#include "check.h"

#define F	ISCSI_FLAG_FINAL
#define C	ISCSI_TEXT_C
#define NONE	ISCSI_RESERVED_TAG

static void
test_single(void)
{
	struct textx		 x;
	struct textx_piece	 p;
	const char		*req;
	char			*ans;
	size_t			 len;

	textx_init(&x, 7);
	CHECK(textx_in(&x, 1, NONE, F, "A=1", 4) == TEXTX_KEYS);
	req = textx_request(&x, &len);
	CHECK(len == 4 && memcmp(req, "A=1", 4) == 0);
	ans = strdup("A=NotUnderstood");
	CHECK(textx_answer(&x, ans, strlen(ans) + 1) == 0);
	textx_out(&x, 512, &p);
	CHECK(p.tp_flags == F && p.tp_ttt == NONE && p.tp_len == 16);
	CHECK(memcmp(p.tp_data, "A=NotUnderstood", 16) == 0);
	/* Done: a continuation of it now names nothing. */
	CHECK(textx_in(&x, 1, 7, F, NULL, 0) == TEXTX_BAD_TTT);
	textx_clear(&x);
}

static void
test_request_pieces(void)
{
	struct textx		 x;
	struct textx_piece	 p;
	const char		*req;
	size_t			 len;
	uint32_t		 ttt;

	textx_init(&x, 100);
	CHECK(textx_in(&x, 5, NONE, C, "AB=", 3) == TEXTX_ACK);
	textx_out(&x, 512, &p);
	CHECK(p.tp_flags == 0 && p.tp_len == 0 && p.tp_ttt == 100);
	ttt = p.tp_ttt;
	/* The next piece must carry that tag and the same ITT. */
	CHECK(textx_in(&x, 5, ttt + 1, F, "1", 2) == TEXTX_BAD_TTT);
	CHECK(textx_in(&x, 6, ttt, F, "1", 2) == TEXTX_BAD_TTT);
	CHECK(textx_in(&x, 5, ttt, C, "1", 1) == TEXTX_ACK);
	textx_out(&x, 512, &p);
	CHECK(p.tp_ttt == 101);
	CHECK(textx_in(&x, 5, p.tp_ttt, F, "2", 2) == TEXTX_KEYS);
	req = textx_request(&x, &len);
	CHECK(len == 6 && memcmp(req, "AB=12", 6) == 0);
	/* C with F is a protocol error and ends the exchange. */
	CHECK(textx_in(&x, 5, NONE, C | F, "X=1", 4) == TEXTX_BAD);
	CHECK(x.tx_phase == TEXTX_IDLE);
	textx_clear(&x);
}

static void
test_answer_pieces(void)
{
	struct textx		 x;
	struct textx_piece	 p;
	char			*ans;
	size_t			 got = 0;
	int			 n = 0;

	textx_init(&x, NONE);	/* the tag after the reserved one is 0 */
	CHECK(textx_in(&x, 9, NONE, F, "K=V", 4) == TEXTX_KEYS);
	if ((ans = malloc(1300)) == NULL)
		exit(2);
	memset(ans, 'a', 1300);
	CHECK(textx_answer(&x, ans, 1300) == 0);
	textx_out(&x, 512, &p);
	CHECK(p.tp_flags == C && p.tp_len == 512 && p.tp_ttt == 0);
	got += p.tp_len;
	/* Data in a continuation is a protocol error. */
	CHECK(textx_in(&x, 9, p.tp_ttt, F, "K=V", 4) == TEXTX_BAD);
	/* Start over: a new request with the reserved tag. */
	CHECK(textx_in(&x, 9, NONE, F, "K=V", 4) == TEXTX_KEYS);
	if ((ans = malloc(1300)) == NULL)
		exit(2);
	memset(ans, 'a', 1300);
	CHECK(textx_answer(&x, ans, 1300) == 0);
	got = 0;
	for (;;) {
		textx_out(&x, 512, &p);
		got += p.tp_len;
		n++;
		if (p.tp_flags == F)
			break;
		CHECK(p.tp_flags == C && p.tp_ttt != NONE);
		CHECK(textx_in(&x, 9, p.tp_ttt, F, NULL, 0) == TEXTX_MORE);
		if (n > 10)
			break;
	}
	CHECK(n == 3 && got == 1300 && p.tp_ttt == NONE);
	textx_clear(&x);
}

static void
test_limits(void)
{
	struct textx		 x;
	static char		 big[TEXTX_REQ_MAX];
	char			*ans;

	textx_init(&x, 1);
	memset(big, 'b', sizeof(big));
	CHECK(textx_in(&x, 2, NONE, C, big, sizeof(big)) == TEXTX_ACK);
	CHECK(textx_in(&x, 2, 1, F, "x", 1) == TEXTX_BAD_TTT);
	CHECK(textx_in(&x, 2, NONE, C, big, sizeof(big) - 1) == TEXTX_ACK);
	textx_out(&x, 512, &(struct textx_piece){ 0 });
	CHECK(textx_in(&x, 2, x.tx_ttt, F, "xy", 2) == TEXTX_BAD);
	CHECK(x.tx_phase == TEXTX_IDLE && x.tx_req == NULL);
	CHECK(textx_in(&x, 3, NONE, F, "K=V", 4) == TEXTX_KEYS);
	if ((ans = calloc(1, TEXTX_ANS_MAX + 1)) == NULL)
		exit(2);
	CHECK(textx_answer(&x, ans, TEXTX_ANS_MAX + 1) == -1);
	textx_clear(&x);
}

int
main(void)
{
	test_single();
	test_request_pieces();
	test_answer_pieces();
	test_limits();
	if (failures > 0) {
		printf("test_textx: %d of %d checks failed\n", failures,
		    checks);
		return (1);
	}
	printf("test_textx: %d checks passed\n", checks);
	return (0);
}
