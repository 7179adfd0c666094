/*
 * test_pdu: PDU framing.  Whole PDUs, truncated PDUs, over-long data
 * segments, AHS checks, short reads, EINTR and partial writes, over
 * socketpairs and pipes; header and data digests, and both kinds of
 * digest error.  Prints one line per failed check, exits 1 if any failed.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "pdu.h"

#include "check.h"

static void	pair(int[2]);
static void	put(int, const void *, size_t);
static size_t	drain(int, uint8_t *, size_t);
static void	mkbhs(struct iscsi_bhs *, uint8_t, uint32_t, uint8_t);
static void	on_alarm(int);
static void	test_lun(void);
static void	test_inline(void);
static void	test_read_whole(void);
static void	test_read_truncated(void);
static void	test_read_toobig(void);
static void	test_read_ahs(void);
static void	test_read_slow(void);
static void	test_read_errors(void);
static void	test_write(void);
static void	test_write_large(void);
static void	test_write_pipe(void);
static void	test_write_invalid(void);
static void	test_set_data(void);
static void	test_names(void);
static void	test_digest_write(void);
static void	test_digest_roundtrip(void);
static void	test_digest_errors(void);

static void
pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
		perror("socketpair");
		exit(2);
	}
}

static void
put(int fd, const void *buf, size_t len)
{
	if (write(fd, buf, len) != (ssize_t)len) {
		perror("write");
		exit(2);
	}
}

/* Read whatever is buffered, without blocking. */
static size_t
drain(int fd, uint8_t *buf, size_t len)
{
	ssize_t	 n;
	size_t	 got = 0;

	while (got < len) {
		n = recv(fd, buf + got, len - got, MSG_DONTWAIT);
		if (n <= 0)
			break;
		got += n;
	}
	return (got);
}

static void
mkbhs(struct iscsi_bhs *bhs, uint8_t op, uint32_t dlen, uint8_t ahswords)
{
	memset(bhs, 0, sizeof(*bhs));
	bhs->opcode = op;
	bhs->flags = ISCSI_FLAG_FINAL;
	bhs->total_ahs_len = ahswords;
	pdu_set_data_len(bhs, dlen);
	bhs->itt = 0x12345678;
}

static void
on_alarm(int sig)
{
	(void)sig;
}

static void
test_lun(void)
{
	uint8_t	 lun[8];
	uint64_t n;
	static const uint64_t ok[] = { 0, 1, 7, 255, 256, 1000, 16383 };
	size_t	 i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		pdu_lun_encode(lun, ok[i]);
		CHECK(pdu_lun_decode(lun) == ok[i]);
	}
	pdu_lun_encode(lun, 5);
	CHECK(lun[0] == 0 && lun[1] == 5);
	pdu_lun_encode(lun, 300);
	CHECK(lun[0] == (0x40 | 1) && lun[1] == 44);
	CHECK(lun[2] == 0 && lun[7] == 0);

	/* Flat space addressing of a small LUN decodes too. */
	memset(lun, 0, 8);
	lun[0] = 0x40;
	lun[1] = 5;
	CHECK(pdu_lun_decode(lun) == 5);
	memset(lun, 0, 8);
	lun[0] = 0x7f;
	lun[1] = 0xff;
	CHECK(pdu_lun_decode(lun) == 16383);

	/* Not single level, other bus, other methods. */
	memset(lun, 0, 8);
	lun[1] = 1;
	lun[2] = 1;
	CHECK(pdu_lun_decode(lun) == UINT64_MAX);
	memset(lun, 0, 8);
	lun[7] = 1;
	CHECK(pdu_lun_decode(lun) == UINT64_MAX);
	memset(lun, 0, 8);
	lun[0] = 0x01;		/* peripheral, bus 1 */
	CHECK(pdu_lun_decode(lun) == UINT64_MAX);
	memset(lun, 0, 8);
	lun[0] = 0x80;		/* logical unit addressing */
	CHECK(pdu_lun_decode(lun) == UINT64_MAX);
	memset(lun, 0, 8);
	lun[0] = 0xc0;		/* extended */
	CHECK(pdu_lun_decode(lun) == UINT64_MAX);

	/* Too large to encode at one level. */
	pdu_lun_encode(lun, 16384);
	n = pdu_lun_decode(lun);
	CHECK(n == UINT64_MAX);
	pdu_lun_encode(lun, UINT64_MAX - 1);
	CHECK(pdu_lun_decode(lun) == UINT64_MAX);
}

static void
test_inline(void)
{
	struct iscsi_bhs bhs;

	CHECK(sizeof(struct iscsi_bhs) == ISCSI_BHS_SIZE);
	CHECK(sizeof(struct iscsi_login_req) == ISCSI_BHS_SIZE);
	CHECK(sizeof(struct iscsi_scsi_cmd) == ISCSI_BHS_SIZE);
	CHECK(sizeof(struct iscsi_async) == ISCSI_BHS_SIZE);
	memset(&bhs, 0, sizeof(bhs));
	pdu_set_data_len(&bhs, 0xabcdef);
	CHECK(bhs.data_len[0] == 0xab && bhs.data_len[2] == 0xef);
	CHECK(pdu_data_len(&bhs) == 0xabcdef);
	CHECK(pdu_padding(0) == 0);
	CHECK(pdu_padding(1) == 3);
	CHECK(pdu_padding(4) == 0);
	CHECK(pdu_padding(7) == 1);
	bhs.opcode = ISCSI_OP_IMMEDIATE | ISCSI_OP_SCSI_CMD;
	CHECK(pdu_opcode(&bhs) == ISCSI_OP_SCSI_CMD);
}

static void
test_read_whole(void)
{
	struct iscsi_bhs bhs;
	struct pdu	 pdu;
	uint8_t		 buf[256], rest[16];
	int		 sv[2];

	pair(sv);
	/* PDU 1: 5 data bytes, 3 padding; PDU 2: no data; then a marker. */
	mkbhs(&bhs, ISCSI_OP_TEXT_REQ, 5, 0);
	memcpy(buf, &bhs, 48);
	memcpy(buf + 48, "a=b\0\0\0\0\0", 8);
	put(sv[1], buf, 56);
	mkbhs(&bhs, ISCSI_OP_NOP_OUT, 0, 0);
	put(sv[1], &bhs, 48);
	put(sv[1], "MARK", 4);

	CHECK(pdu_read(sv[0], &pdu, 8192) == 0);
	CHECK(pdu_opcode(&pdu.bhs) == ISCSI_OP_TEXT_REQ);
	CHECK(pdu.bhs.itt == 0x12345678);
	CHECK(pdu.data_len == 5);
	CHECK(pdu.data != NULL && memcmp(pdu.data, "a=b\0\0", 5) == 0);
	CHECK(pdu.ahs == NULL && pdu.ahs_len == 0);
	pdu_free(&pdu);
	CHECK(pdu.data == NULL && pdu.data_len == 0);

	CHECK(pdu_read(sv[0], &pdu, 8192) == 0);
	CHECK(pdu_opcode(&pdu.bhs) == ISCSI_OP_NOP_OUT);
	CHECK(pdu.data == NULL && pdu.data_len == 0);
	pdu_free(&pdu);

	/* Nothing beyond the two PDUs was consumed. */
	CHECK(drain(sv[0], rest, sizeof(rest)) == 4);
	CHECK(memcmp(rest, "MARK", 4) == 0);

	/* Data a multiple of four: no padding expected. */
	mkbhs(&bhs, ISCSI_OP_DATA_OUT, 8, 0);
	put(sv[1], &bhs, 48);
	put(sv[1], "12345678MARK", 12);
	CHECK(pdu_read(sv[0], &pdu, 8) == 0);
	CHECK(pdu.data_len == 8 && memcmp(pdu.data, "12345678", 8) == 0);
	pdu_free(&pdu);
	CHECK(drain(sv[0], rest, sizeof(rest)) == 4);

	/* Clean EOF between PDUs. */
	close(sv[1]);
	CHECK(pdu_read(sv[0], &pdu, 8192) == PDU_ERR_EOF);
	close(sv[0]);
}

static void
test_read_truncated(void)
{
	struct iscsi_bhs bhs;
	struct pdu	 pdu;
	uint8_t		 buf[128];
	size_t		 cut[] = { 1, 20, 47, 48, 50, 52, 53, 55 };
	size_t		 i;
	int		 sv[2];

	/* A PDU with 4 AHS bytes and 5 data bytes: 48 + 4 + 5 + 3 = 60. */
	mkbhs(&bhs, ISCSI_OP_SCSI_CMD, 5, 1);
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &bhs, 48);
	buf[49] = 1;		/* AHSLength 1 */
	buf[50] = 1;		/* AHSType */
	memcpy(buf + 52, "hello", 5);
	for (i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
		pair(sv);
		put(sv[1], buf, cut[i]);
		close(sv[1]);
		CHECK(pdu_read(sv[0], &pdu, 8192) == PDU_ERR_EOF);
		CHECK(pdu.data == NULL && pdu.ahs == NULL);
		close(sv[0]);
	}
	/* Only the padding missing. */
	pair(sv);
	put(sv[1], buf, 58);
	close(sv[1]);
	CHECK(pdu_read(sv[0], &pdu, 8192) == PDU_ERR_EOF);
	close(sv[0]);
	/* All of it. */
	pair(sv);
	put(sv[1], buf, 60);
	close(sv[1]);
	CHECK(pdu_read(sv[0], &pdu, 8192) == 0);
	CHECK(pdu.ahs_len == 4 && pdu.ahs != NULL && pdu.ahs[2] == 1);
	CHECK(pdu.data_len == 5 && memcmp(pdu.data, "hello", 5) == 0);
	pdu_free(&pdu);
	close(sv[0]);

	/* Empty stream. */
	pair(sv);
	close(sv[1]);
	CHECK(pdu_read(sv[0], &pdu, 8192) == PDU_ERR_EOF);
	close(sv[0]);
}

static void
test_read_toobig(void)
{
	struct iscsi_bhs bhs;
	struct pdu	 pdu;
	uint8_t		 rest[16];
	int		 sv[2];

	pair(sv);
	mkbhs(&bhs, ISCSI_OP_LOGIN_REQ, 8193, 0);
	put(sv[1], &bhs, 48);
	put(sv[1], "DATA", 4);
	CHECK(pdu_read(sv[0], &pdu, 8192) == PDU_ERR_TOOBIG);
	CHECK(pdu_opcode(&pdu.bhs) == ISCSI_OP_LOGIN_REQ);
	CHECK(pdu_data_len(&pdu.bhs) == 8193);
	CHECK(pdu.data == NULL && pdu.data_len == 0);
	/* The data segment was left unread. */
	CHECK(drain(sv[0], rest, sizeof(rest)) == 4);
	pdu_free(&pdu);

	/* The largest 24-bit length against a zero limit. */
	mkbhs(&bhs, ISCSI_OP_SCSI_CMD, 0xffffff, 0);
	put(sv[1], &bhs, 48);
	CHECK(pdu_read(sv[0], &pdu, 0) == PDU_ERR_TOOBIG);
	CHECK(pdu.data == NULL);

	/* Exactly max_data is fine. */
	mkbhs(&bhs, ISCSI_OP_TEXT_REQ, 4, 0);
	put(sv[1], &bhs, 48);
	put(sv[1], "k=v", 4);
	CHECK(pdu_read(sv[0], &pdu, 4) == 0);
	CHECK(pdu.data_len == 4);
	pdu_free(&pdu);
	close(sv[0]);
	close(sv[1]);
}

static void
test_read_ahs(void)
{
	struct iscsi_bhs bhs;
	struct pdu	 pdu;
	uint8_t		 ahs[64];
	int		 sv[2];

	pair(sv);
	/* Two AHSs: 17-byte extended CDB (3 + 17 = 20), 5-byte bidi (8). */
	mkbhs(&bhs, ISCSI_OP_SCSI_CMD, 0, 7);
	memset(ahs, 0, sizeof(ahs));
	ahs[1] = 17;
	ahs[2] = 1;
	ahs[21] = 5;
	ahs[22] = 2;
	put(sv[1], &bhs, 48);
	put(sv[1], ahs, 28);
	CHECK(pdu_read(sv[0], &pdu, 0) == 0);
	CHECK(pdu.ahs_len == 28);
	pdu_free(&pdu);

	/* AHSLength runs past TotalAHSLength. */
	mkbhs(&bhs, ISCSI_OP_SCSI_CMD, 0, 1);
	memset(ahs, 0, sizeof(ahs));
	ahs[1] = 100;
	put(sv[1], &bhs, 48);
	put(sv[1], ahs, 4);
	CHECK(pdu_read(sv[0], &pdu, 0) == PDU_ERR_AHS);
	CHECK(pdu.ahs == NULL && pdu.ahs_len == 0);

	/* Zero AHSLength. */
	mkbhs(&bhs, ISCSI_OP_SCSI_CMD, 0, 1);
	memset(ahs, 0, sizeof(ahs));
	put(sv[1], &bhs, 48);
	put(sv[1], ahs, 4);
	CHECK(pdu_read(sv[0], &pdu, 0) == PDU_ERR_AHS);

	/* Second AHS does not fit. */
	mkbhs(&bhs, ISCSI_OP_SCSI_CMD, 0, 2);
	memset(ahs, 0, sizeof(ahs));
	ahs[1] = 1;
	ahs[5] = 2;
	put(sv[1], &bhs, 48);
	put(sv[1], ahs, 8);
	CHECK(pdu_read(sv[0], &pdu, 0) == PDU_ERR_AHS);

	/* The largest AHS (255 words) with one AHS of 1017 bytes. */
	{
		uint8_t	big[1020];

		memset(big, 0, sizeof(big));
		big[0] = 1017 >> 8;
		big[1] = 1017 & 0xff;
		mkbhs(&bhs, ISCSI_OP_SCSI_CMD, 0, 255);
		put(sv[1], &bhs, 48);
		put(sv[1], big, sizeof(big));
		CHECK(pdu_read(sv[0], &pdu, 0) == 0);
		CHECK(pdu.ahs_len == 1020);
		pdu_free(&pdu);
	}
	close(sv[0]);
	close(sv[1]);
}

/* A writer that sends one byte at a time, slowly; EINTR on the way. */
static void
test_read_slow(void)
{
	struct sigaction sa;
	struct itimerval it;
	struct iscsi_bhs bhs;
	struct pdu	 pdu;
	uint8_t		 buf[64];
	pid_t		 pid;
	size_t		 i;
	int		 sv[2], st;

	mkbhs(&bhs, ISCSI_OP_TEXT_REQ, 6, 0);
	memcpy(buf, &bhs, 48);
	memcpy(buf + 48, "ab=cd\0\0\0", 8);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;	/* no SA_RESTART: reads see EINTR */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) == -1)
		exit(2);

	pair(sv);
	if ((pid = fork()) == -1)
		exit(2);
	if (pid == 0) {
		close(sv[0]);
		for (i = 0; i < 56; i++) {
			if (i % 8 == 0)
				usleep(20000);
			put(sv[1], buf + i, 1);
		}
		_exit(0);
	}
	close(sv[1]);
	memset(&it, 0, sizeof(it));
	it.it_value.tv_usec = 5000;
	it.it_interval.tv_usec = 5000;
	setitimer(ITIMER_REAL, &it, NULL);
	CHECK(pdu_read(sv[0], &pdu, 8192) == 0);
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	CHECK(pdu.data_len == 6 && memcmp(pdu.data, "ab=cd", 6) == 0);
	pdu_free(&pdu);
	CHECK(pdu_read(sv[0], &pdu, 8192) == PDU_ERR_EOF);
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(sv[0]);
}

static void
test_read_errors(void)
{
	struct pdu	 pdu;
	int		 fds[2];

	CHECK(pdu_read(-1, &pdu, 8192) == PDU_ERR_IO);
	/* A write-only end. */
	if (pipe(fds) == -1)
		exit(2);
	CHECK(pdu_read(fds[1], &pdu, 8192) == PDU_ERR_IO);
	close(fds[0]);
	close(fds[1]);
}

static void
test_write(void)
{
	struct pdu	 pdu, back;
	uint8_t		 raw[128], ahs[4] = { 0, 1, 1, 0 };
	int		 sv[2];

	pair(sv);
	pdu_init(&pdu);
	pdu.bhs.opcode = ISCSI_OP_LOGIN_RSP;
	pdu.bhs.flags = ISCSI_FLAG_FINAL;
	pdu.bhs.itt = 0xdeadbeef;
	pdu.ahs = ahs;
	pdu.ahs_len = 4;
	pdu.data = (uint8_t *)"x=yz\0";
	pdu.data_len = 5;
	/* pdu_write takes lengths from the struct, not the BHS. */
	CHECK(pdu_write(sv[0], &pdu) == 0);
	CHECK(drain(sv[1], raw, sizeof(raw)) == 60);
	CHECK(raw[0] == ISCSI_OP_LOGIN_RSP);
	CHECK(raw[4] == 1);
	CHECK(raw[5] == 0 && raw[6] == 0 && raw[7] == 5);
	CHECK(memcmp(raw + 48, ahs, 4) == 0);
	CHECK(memcmp(raw + 52, "x=yz\0", 5) == 0);
	CHECK(raw[57] == 0 && raw[58] == 0 && raw[59] == 0);

	/* Round trip. */
	CHECK(pdu_write(sv[0], &pdu) == 0);
	CHECK(pdu_read(sv[1], &back, 8192) == 0);
	CHECK(back.bhs.itt == 0xdeadbeef);
	CHECK(back.ahs_len == 4 && memcmp(back.ahs, ahs, 4) == 0);
	CHECK(back.data_len == 5 && memcmp(back.data, "x=yz\0", 5) == 0);
	pdu_free(&back);

	/* Header only. */
	pdu_init(&pdu);
	pdu.bhs.opcode = ISCSI_OP_NOP_IN;
	CHECK(pdu_write(sv[0], &pdu) == 0);
	CHECK(drain(sv[1], raw, sizeof(raw)) == 48);

	/* Peer gone: an error, not SIGPIPE. */
	close(sv[1]);
	errno = 0;
	CHECK(pdu_write(sv[0], &pdu) == -1 && errno == EPIPE);
	close(sv[0]);
}

/*
 * 4 MiB through a small socket buffer to a slow reader while a timer
 * interrupts the sender: partial writes, resumed mid-iovec.
 */
static void
test_write_large(void)
{
	struct itimerval it;
	struct pdu	 pdu, back;
	size_t		 len = 4 * 1024 * 1024 + 3, i;
	uint8_t		*data;
	pid_t		 pid;
	int		 sv[2], st, sz = 4096, ok;

	if ((data = malloc(len)) == NULL)
		exit(2);
	for (i = 0; i < len; i++)
		data[i] = i * 7 + 1;
	pair(sv);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if ((pid = fork()) == -1)
		exit(2);
	if (pid == 0) {
		close(sv[0]);
		usleep(100000);
		ok = pdu_read(sv[1], &back, len) == 0 &&
		    back.data_len == len &&
		    memcmp(back.data, data, len) == 0;
		_exit(ok ? 0 : 1);
	}
	close(sv[1]);
	pdu_init(&pdu);
	pdu.bhs.opcode = ISCSI_OP_DATA_IN;
	pdu.data = data;
	pdu.data_len = len;
	memset(&it, 0, sizeof(it));
	it.it_value.tv_usec = 1000;
	it.it_interval.tv_usec = 1000;
	setitimer(ITIMER_REAL, &it, NULL);	/* on_alarm is installed */
	CHECK(pdu_write(sv[0], &pdu) == 0);
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(sv[0]);
	free(data);
}

static void
test_write_pipe(void)
{
	struct pdu	 pdu, back;
	int		 fds[2];

	if (pipe(fds) == -1)
		exit(2);
	pdu_init(&pdu);
	pdu.bhs.opcode = ISCSI_OP_TEXT_RSP;
	CHECK(pdu_set_data(&pdu, "TargetName=iqn.x", 17) == 0);
	CHECK(pdu_write(fds[1], &pdu) == 0);
	CHECK(pdu_read(fds[0], &back, 8192) == 0);
	CHECK(back.data_len == 17 &&
	    memcmp(back.data, "TargetName=iqn.x", 17) == 0);
	pdu_free(&back);
	pdu_free(&pdu);
	close(fds[0]);
	close(fds[1]);
}

static void
test_write_invalid(void)
{
	struct pdu	 pdu;
	uint8_t		 ahs[8] = { 0 };

	pdu_init(&pdu);
	pdu.ahs = ahs;
	pdu.ahs_len = 3;
	errno = 0;
	CHECK(pdu_write(1, &pdu) == -1 && errno == EINVAL);
	pdu.ahs_len = 1024;
	CHECK(pdu_write(1, &pdu) == -1 && errno == EINVAL);
	pdu.ahs = NULL;
	pdu.ahs_len = 4;
	CHECK(pdu_write(1, &pdu) == -1 && errno == EINVAL);
	pdu_init(&pdu);
	pdu.data = (uint8_t *)ahs;
	pdu.data_len = 0x1000000;
	CHECK(pdu_write(1, &pdu) == -1 && errno == EINVAL);
	pdu.data = NULL;
	pdu.data_len = 1;
	CHECK(pdu_write(1, &pdu) == -1 && errno == EINVAL);
	pdu_init(&pdu);
	CHECK(pdu_write(-1, &pdu) == -1 && errno == EBADF);
}

static void
test_set_data(void)
{
	struct pdu	 pdu;
	char		 buf[8] = "abcdefg";

	pdu_init(&pdu);
	CHECK(pdu_set_data(&pdu, buf, 7) == 0);
	buf[0] = 'X';
	CHECK(pdu.data_len == 7 && memcmp(pdu.data, "abcdefg", 7) == 0);
	CHECK(pdu_data_len(&pdu.bhs) == 7);
	CHECK(pdu_set_data(&pdu, "zz", 2) == 0);
	CHECK(pdu.data_len == 2 && pdu_data_len(&pdu.bhs) == 2);
	CHECK(pdu_set_data(&pdu, NULL, 0) == 0);
	CHECK(pdu.data == NULL && pdu.data_len == 0);
	CHECK(pdu_data_len(&pdu.bhs) == 0);
	CHECK(pdu_set_data(&pdu, NULL, 3) == -1);
	CHECK(pdu_set_data(&pdu, buf, 0x1000000) == -1 && errno == EINVAL);
	pdu_free(&pdu);
	pdu_free(&pdu);		/* twice is harmless */
}

static void
test_names(void)
{
	CHECK(strcmp(pdu_opcode_name(ISCSI_OP_LOGIN_REQ),
	    "Login Request") == 0);
	CHECK(strcmp(pdu_opcode_name(ISCSI_OP_SCSI_CMD | ISCSI_OP_IMMEDIATE),
	    "SCSI Command") == 0);
	CHECK(strcmp(pdu_opcode_name(ISCSI_OP_REJECT), "Reject") == 0);
	CHECK(strcmp(pdu_opcode_name(ISCSI_OP_R2T), "Ready To Transfer") ==
	    0);
	CHECK(strcmp(pdu_opcode_name(0x1e), "unknown opcode") == 0);
}

/* The wire form: digests after BHS+AHS and after the padded data. */
static void
test_digest_write(void)
{
	struct pdu	 p;
	uint8_t		 ahs[8] = { 0, 5, 1, 'a', 'b', 'c', 'd', 'e' };
	uint8_t		 buf[256];
	int		 sv[2];
	size_t		 n;

	pair(sv);
	pdu_init(&p);
	mkbhs(&p.bhs, ISCSI_OP_SCSI_CMD, 0, 0);
	CHECK(pdu_set_data(&p, "xyz", 3) == 0);
	CHECK(pdu_write_digest(sv[0], &p, PDU_DIGEST_HEADER |
	    PDU_DIGEST_DATA) == 0);
	n = drain(sv[1], buf, sizeof(buf));
	CHECK(n == 48 + 4 + 3 + 1 + 4);
	CHECK(crc32c_get(buf + 48) == crc32c(buf, 48));
	CHECK(memcmp(buf + 52, "xyz\0", 4) == 0);
	CHECK(crc32c_get(buf + 56) == crc32c(buf + 52, 4));

	/* Header digest only; the header digest covers the AHS. */
	p.ahs = ahs;
	p.ahs_len = sizeof(ahs);
	CHECK(pdu_write_digest(sv[0], &p, PDU_DIGEST_HEADER) == 0);
	n = drain(sv[1], buf, sizeof(buf));
	CHECK(n == 48 + 8 + 4 + 4);
	CHECK(buf[4] == 2);
	CHECK(crc32c_get(buf + 56) == crc32c(buf, 56));
	p.ahs = NULL;
	p.ahs_len = 0;

	/* Data digest only, and none for an empty data segment. */
	CHECK(pdu_write_digest(sv[0], &p, PDU_DIGEST_DATA) == 0);
	n = drain(sv[1], buf, sizeof(buf));
	CHECK(n == 48 + 4 + 4 && crc32c_get(buf + 52) == crc32c(buf + 48, 4));
	CHECK(pdu_set_data(&p, NULL, 0) == 0);
	CHECK(pdu_write_digest(sv[0], &p, PDU_DIGEST_DATA) == 0);
	CHECK(drain(sv[1], buf, sizeof(buf)) == 48);
	CHECK(pdu_write_digest(sv[0], &p, PDU_DIGEST_HEADER |
	    PDU_DIGEST_DATA) == 0);
	CHECK(drain(sv[1], buf, sizeof(buf)) == 52);
	/* No flags: exactly pdu_write. */
	CHECK(pdu_write_digest(sv[0], &p, 0) == 0);
	CHECK(drain(sv[1], buf, sizeof(buf)) == 48);
	pdu_free(&p);
	close(sv[0]);
	close(sv[1]);
}

static void
test_digest_roundtrip(void)
{
	static const size_t lens[] = { 0, 1, 2, 3, 4, 5, 4096, 65537 };
	struct pdu	 p, q;
	uint8_t		*data;
	size_t		 i;
	int		 sv[2], f, rv;
	pid_t		 pid;

	if ((data = malloc(65537)) == NULL)
		exit(2);
	for (i = 0; i < 65537; i++)
		data[i] = i * 7 + 3;
	for (f = 0; f < 4; f++)
		for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			pair(sv);
			pdu_init(&p);
			mkbhs(&p.bhs, ISCSI_OP_DATA_OUT, 0, 0);
			CHECK(pdu_set_data(&p, data, lens[i]) == 0);
			/* Large PDUs do not fit the socket buffer. */
			if ((pid = fork()) == 0)
				_exit(pdu_write_digest(sv[0], &p, f) == 0 ?
				    0 : 1);
			rv = pdu_read_digest(sv[1], &q, 70000, f);
			CHECK(rv == 0);
			CHECK(rv == 0 && q.data_len == lens[i] &&
			    (lens[i] == 0 ||
			    memcmp(q.data, data, lens[i]) == 0));
			waitpid(pid, &rv, 0);
			CHECK(WIFEXITED(rv) && WEXITSTATUS(rv) == 0);
			/* Nothing left over: framing is exact. */
			CHECK(drain(sv[1], data + 65536, 1) == 0);
			pdu_free(&p);
			pdu_free(&q);
			close(sv[0]);
			close(sv[1]);
		}
	free(data);
}

/*
 * Flip one byte of a digested PDU on the wire and read it back: the
 * header or data digest error comes back as its own error, and after a
 * data digest error the next PDU is read intact.
 */
static void
test_digest_errors(void)
{
	const int	 both = PDU_DIGEST_HEADER | PDU_DIGEST_DATA;
	struct pdu	 p, q;
	uint8_t		 wire[128];
	size_t		 n, i;
	int		 sv[2];

	pair(sv);
	pdu_init(&p);
	mkbhs(&p.bhs, ISCSI_OP_TEXT_REQ, 0, 0);
	CHECK(pdu_set_data(&p, "Key=Value", 10) == 0);	/* 2 bytes pad */
	CHECK(pdu_write_digest(sv[0], &p, both) == 0);
	n = drain(sv[1], wire, sizeof(wire));
	CHECK(n == 48 + 4 + 12 + 4);

	/* The good bytes read back. */
	put(sv[0], wire, n);
	CHECK(pdu_read_digest(sv[1], &q, 8192, both) == 0 &&
	    q.data_len == 10 && strcmp((char *)q.data, "Key=Value") == 0);
	pdu_free(&q);

	/*
	 * Every byte of header or header digest: PDU_ERR_HDIGEST.  A
	 * TotalAHSLength of 4 words takes 16 more bytes before the digest.
	 */
	for (i = 0; i < 52; i++) {
		wire[i] ^= i == 4 ? 0x04 : 0x10;
		put(sv[0], wire, n);
		if (i == 4)
			put(sv[0], wire + 100, 16);
		CHECK(pdu_read_digest(sv[1], &q, 8192, both) ==
		    PDU_ERR_HDIGEST);
		pdu_free(&q);
		drain(sv[1], wire + 100, 28);
		wire[i] ^= i == 4 ? 0x04 : 0x10;
	}
	/* Data, padding or data digest: PDU_ERR_DDIGEST, framing kept. */
	for (i = 52; i < n; i++) {
		wire[i] ^= 0x01;
		put(sv[0], wire, n);
		wire[i] ^= 0x01;
		put(sv[0], wire, n);
		CHECK(pdu_read_digest(sv[1], &q, 8192, both) ==
		    PDU_ERR_DDIGEST);
		CHECK(q.data == NULL && q.data_len == 0 &&
		    q.bhs.opcode == ISCSI_OP_TEXT_REQ &&
		    q.bhs.itt == 0x12345678);
		pdu_free(&q);
		CHECK(pdu_read_digest(sv[1], &q, 8192, both) == 0 &&
		    q.data_len == 10);
		pdu_free(&q);
	}
	/* A wrong data digest goes unnoticed if only headers digest. */
	wire[n - 1] ^= 0xff;
	put(sv[0], wire, n - 4);
	CHECK(pdu_read_digest(sv[1], &q, 8192, PDU_DIGEST_HEADER) == 0);
	pdu_free(&q);
	wire[n - 1] ^= 0xff;

	/* Over max_data is TOOBIG only once the header digest is good. */
	put(sv[0], wire, n);
	CHECK(pdu_read_digest(sv[1], &q, 8, both) == PDU_ERR_TOOBIG &&
	    pdu_data_len(&q.bhs) == 10);
	pdu_free(&q);
	drain(sv[1], wire + 100, 28);
	wire[6] ^= 0x01;			/* DataSegmentLength */
	put(sv[0], wire, n);
	CHECK(pdu_read_digest(sv[1], &q, 8, both) == PDU_ERR_HDIGEST);
	pdu_free(&q);
	wire[6] ^= 0x01;
	drain(sv[1], wire + 100, 28);

	/* Truncated digests: EOF. */
	put(sv[0], wire, 50);
	shutdown(sv[0], SHUT_WR);
	CHECK(pdu_read_digest(sv[1], &q, 8192, both) == PDU_ERR_EOF);
	pdu_free(&q);
	pdu_free(&p);
	close(sv[0]);
	close(sv[1]);
}

int
main(void)
{
	test_lun();
	test_inline();
	test_read_whole();
	test_read_truncated();
	test_read_toobig();
	test_read_ahs();
	test_read_slow();
	test_read_errors();
	test_write();
	test_write_large();
	test_write_pipe();
	test_write_invalid();
	test_set_data();
	test_names();
	test_digest_write();
	test_digest_roundtrip();
	test_digest_errors();
	if (failures > 0) {
		printf("test_pdu: %d of %d checks failed\n", failures, checks);
		return (1);
	}
	printf("test_pdu: %d checks passed\n", checks);
	return (0);
}
