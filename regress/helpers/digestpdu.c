/*
 * digestpdu: an iSCSI initiator made of hand-built PDUs that negotiates
 * CRC32C header and data digests, checks the digests of every PDU it
 * receives with its own CRC32C (a table built here, independent of the
 * daemon's), and can corrupt the digests of what it sends.
 *
 * usage: digestpdu [-t seconds] [-o offer] host port target case
 *
 * -o offer	the value offered for both HeaderDigest and DataDigest
 *		(default CRC32C); the session uses what the target answers
 *
 * cases (target is ignored by discovery):
 *	io		normal session: NOP-Out ping with 5 bytes of data,
 *			WRITE(10) of 16 KiB as immediate data, READ(10) of
 *			it back (several Data-In PDUs), Logout
 *	bad-data	normal session: a good WRITE(10) of 8 KiB; a NOP-Out,
 *			then a WRITE(10) with immediate data, each with a
 *			corrupt data digest; a WRITE(10) whose solicited
 *			Data-Out has a corrupt data digest; READ(10) back;
 *			a NOP-Out ping; Logout
 *	big		normal session with a small receive buffer: WRITE(10)
 *			of 1 MiB by R2Ts, then READ(10) of it (128 Data-In
 *			PDUs), read slowly so that the target's writes stop
 *			and resume inside PDUs and digests
 *	bad-header	normal session: a NOP-Out with a corrupt header
 *			digest, then waits for the target to close
 *	discovery	discovery session: SendTargets=All, Logout
 *
 * Output, one line per event, for regress/digest.bats to assert on:
 *	login header=CRC32C data=CRC32C
 *	reject reason=0x02 opcode=0x00
 *	response itt=0x.. status=0x02 sense=0b/47/05
 *	nop ok | write ok | read ok | read unchanged | logout ok
 *	text TargetName=...
 *	closed			the target closed the connection
 *	error: ...		anything unexpected (bad digest received, ...)
 * Exit status 0 when the case ran to its end, 1 otherwise, 2 on usage.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netdb.h>
#include <poll.h>

#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>

#include "pdukit.h"

#define INITIATOR	"iqn.2026-11.org.ietd:digestpdu"
#define BLOCK		512
#define DATA_MAX	(256 * 1024)

static uint32_t		 crc_table[256];
static int		 hdig, ddig;	/* digests in use */
static int		 timeout_ms = 10000;
static const char	*offer = "CRC32C";
static const char	*target;
static uint32_t		 cmdsn = 1, statsn;
static uint32_t		 itt_next = 0x100;
static int		 slow;		/* pause before reading Data-In */

/* A received PDU. */
struct rx {
	struct iscsi_bhs bhs;
	uint8_t		*data;
	size_t		 len;
};

static void
crc_init(void)
{
	uint32_t	 c;
	int		 i, k;

	for (i = 0; i < 256; i++) {
		c = i;
		for (k = 0; k < 8; k++)
			c = (c >> 1) ^ ((c & 1) ? 0x82f63b78U : 0);
		crc_table[i] = c;
	}
}

/* CRC32C register update; start with 0xffffffff, finish with ~. */
static uint32_t
crc_run(uint32_t c, const void *buf, size_t len)
{
	const uint8_t	*p = buf;

	while (len-- > 0)
		c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return (c);
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static uint32_t
get_le32(const uint8_t *p)
{
	return ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
	    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

/*
 * Send one PDU with the digests in use (login PDUs: none).  corrupt: 1
 * flips a bit of the header digest, 2 of the data digest.
 */
static int
send_pdu(int fd, struct iscsi_bhs *bhs, const void *data, size_t len,
    int login, int corrupt)
{
	static uint8_t	 buf[ISCSI_BHS_SIZE + 4 + DATA_MAX + 8];
	size_t		 off = 0, pad = pdu_padding(len);
	uint32_t	 c;

	if (len > DATA_MAX)
		return (-1);
	pdu_set_data_len(bhs, len);
	memcpy(buf, bhs, ISCSI_BHS_SIZE);
	off = ISCSI_BHS_SIZE;
	if (hdig && !login) {
		c = ~crc_run(0xffffffff, buf, ISCSI_BHS_SIZE);
		put_le32(buf + off, corrupt == 1 ? c ^ 0x100 : c);
		off += 4;
	}
	if (len > 0) {
		memcpy(buf + off, data, len);
		memset(buf + off + len, 0, pad);
		if (ddig && !login) {
			c = ~crc_run(0xffffffff, buf + off, len + pad);
			put_le32(buf + off + len + pad,
			    corrupt == 2 ? c ^ 0x8000 : c);
			off += 4;
		}
		off += len + pad;
	}
	return (pk_send_all(fd, buf, off));
}

/*
 * Receive one PDU and check its digests.  0; -1 closed; -2 timeout;
 * -3 a digest was wrong (printed).
 */
static int
recv_pdu(int fd, struct rx *rx, int login)
{
	uint8_t		 dig[4], pad[4];
	size_t		 ahs, padlen;
	uint8_t		 ahsbuf[255 * 4];
	uint32_t	 c;
	int		 r;

	memset(rx, 0, sizeof(*rx));
	if ((r = pk_read_ms(fd, &rx->bhs, ISCSI_BHS_SIZE, timeout_ms)) != 0)
		return (r);
	ahs = rx->bhs.total_ahs_len * 4;
	if (ahs > 0 && (r = pk_read_ms(fd, ahsbuf, ahs, timeout_ms)) != 0)
		return (r);
	if (hdig && !login) {
		if ((r = pk_read_ms(fd, dig, 4, timeout_ms)) != 0)
			return (r);
		c = crc_run(0xffffffff, &rx->bhs, ISCSI_BHS_SIZE);
		c = ~crc_run(c, ahsbuf, ahs);
		if (c != get_le32(dig)) {
			printf("error: bad header digest from the target\n");
			return (-3);
		}
	}
	rx->len = pdu_data_len(&rx->bhs);
	if (rx->len > DATA_MAX) {
		printf("error: DataSegmentLength %zu\n", rx->len);
		return (-3);
	}
	if (rx->len == 0)
		return (0);
	padlen = pdu_padding(rx->len);
	if ((rx->data = malloc(rx->len + 1)) == NULL)
		return (-1);
	if ((r = pk_read_ms(fd, rx->data, rx->len, timeout_ms)) != 0 ||
	    (padlen > 0 && (r = pk_read_ms(fd, pad, padlen, timeout_ms)) != 0))
		return (r);
	rx->data[rx->len] = '\0';
	if (ddig && !login) {
		if ((r = pk_read_ms(fd, dig, 4, timeout_ms)) != 0)
			return (r);
		c = crc_run(0xffffffff, rx->data, rx->len);
		c = ~crc_run(c, pad, padlen);
		if (c != get_le32(dig)) {
			printf("error: bad data digest from the target\n");
			return (-3);
		}
	}
	return (0);
}

static void
rx_free(struct rx *rx)
{
	free(rx->data);
	rx->data = NULL;
}

/* Keep the sequence numbers of a response. */
static void
rx_sn(const struct rx *rx)
{
	int	 op = pdu_opcode(&rx->bhs);

	if (op != ISCSI_OP_DATA_IN && op != ISCSI_OP_R2T)
		statsn = be32toh(rx->bhs.sn24) + 1;
	cmdsn = be32toh(rx->bhs.sn28);
}

/* Append key=value\0 to buf. */
static size_t
kv(char *buf, size_t off, size_t size, const char *k, const char *v)
{
	int	 n;

	n = snprintf(buf + off, size - off, "%s=%s", k, v);
	if (n < 0 || (size_t)n >= size - off)
		return (off);
	return (off + n + 1);
}

/* Find key in a text answer. */
static const char *
key_find(const struct rx *rx, const char *key)
{
	size_t	 i = 0, kl = strlen(key);

	while (i < rx->len) {
		const char *p = (const char *)rx->data + i;

		if (strncmp(p, key, kl) == 0 && p[kl] == '=')
			return (p + kl + 1);
		i += strlen(p) + 1;
	}
	return (NULL);
}

/* Login: security stage, then operational with the digest keys. */
static int
login(int fd, int discovery)
{
	struct iscsi_login_req	 q;
	struct iscsi_login_rsp	*r;
	struct rx		 rx;
	char			 keys[1024];
	const char		*h, *d;
	size_t			 len = 0;
	int			 csg;

	for (csg = ISCSI_STAGE_SECURITY; csg <= ISCSI_STAGE_OPERATIONAL;
	    csg++) {
		len = 0;
		if (csg == ISCSI_STAGE_SECURITY) {
			len = kv(keys, len, sizeof(keys), "InitiatorName",
			    INITIATOR);
			len = kv(keys, len, sizeof(keys), "SessionType",
			    discovery ? "Discovery" : "Normal");
			if (!discovery)
				len = kv(keys, len, sizeof(keys),
				    "TargetName", target);
			len = kv(keys, len, sizeof(keys), "AuthMethod", "None");
		} else {
			len = kv(keys, len, sizeof(keys), "HeaderDigest",
			    offer);
			len = kv(keys, len, sizeof(keys), "DataDigest", offer);
			len = kv(keys, len, sizeof(keys), "InitialR2T", "Yes");
			len = kv(keys, len, sizeof(keys), "ImmediateData",
			    "Yes");
			len = kv(keys, len, sizeof(keys),
			    "MaxRecvDataSegmentLength", "8192");
			len = kv(keys, len, sizeof(keys), "ErrorRecoveryLevel",
			    "0");
		}
		pk_login_req(&q, csg, 0x44, 1, cmdsn, statsn);
		if (send_pdu(fd, (struct iscsi_bhs *)&q, keys, len, 1, 0) ||
		    recv_pdu(fd, &rx, 1) != 0) {
			printf("error: login failed\n");
			return (-1);
		}
		r = (struct iscsi_login_rsp *)&rx.bhs;
		if (pdu_opcode(&rx.bhs) != ISCSI_OP_LOGIN_RSP ||
		    r->status_class != 0 || !(r->flags & ISCSI_LOGIN_T)) {
			printf("error: login status %#x/%#x\n",
			    r->status_class, r->status_detail);
			rx_free(&rx);
			return (-1);
		}
		statsn = be32toh(r->statsn) + 1;
		cmdsn = be32toh(r->expcmdsn);
		if (csg == ISCSI_STAGE_OPERATIONAL) {
			h = key_find(&rx, "HeaderDigest");
			d = key_find(&rx, "DataDigest");
			printf("login header=%s data=%s\n", h ? h : "-",
			    d ? d : "-");
			hdig = h != NULL && strcmp(h, "CRC32C") == 0;
			ddig = d != NULL && strcmp(d, "CRC32C") == 0;
		}
		rx_free(&rx);
	}
	return (0);
}

/* A NOP-Out ping with data; corrupt as in send_pdu. */
static int
nop(int fd, int corrupt)
{
	struct iscsi_nop	 q;

	memset(&q, 0, sizeof(q));
	q.opcode = ISCSI_OP_NOP_OUT | ISCSI_OP_IMMEDIATE;
	q.flags = ISCSI_FLAG_FINAL;
	q.itt = htobe32(itt_next++);
	q.ttt = htobe32(ISCSI_RESERVED_TAG);
	q.sn24 = htobe32(cmdsn);
	q.sn28 = htobe32(statsn);
	return (send_pdu(fd, (struct iscsi_bhs *)&q, "hello", 5, 0, corrupt));
}

/* Receive the next PDU that is not a NOP-In of the target's own. */
static int
next(int fd, struct rx *rx)
{
	int	 r;

	for (;;) {
		if ((r = recv_pdu(fd, rx, 0)) != 0) {
			if (r == -1)
				printf("closed\n");
			else if (r == -2)
				printf("error: timeout\n");
			return (r);
		}
		rx_sn(rx);
		if (pdu_opcode(&rx->bhs) == ISCSI_OP_NOP_IN &&
		    rx->bhs.itt == htobe32(ISCSI_RESERVED_TAG)) {
			rx_free(rx);
			continue;
		}
		if (pdu_opcode(&rx->bhs) == ISCSI_OP_REJECT)
			printf("reject reason=0x%02x opcode=0x%02x\n",
			    ((struct iscsi_reject *)&rx->bhs)->reason,
			    rx->len >= 1 ? rx->data[0] & ISCSI_OP_MASK : 0xff);
		return (0);
	}
}

static int
nop_check(int fd)
{
	struct rx	 rx;

	if (nop(fd, 0) != 0 || next(fd, &rx) != 0)
		return (-1);
	if (pdu_opcode(&rx.bhs) != ISCSI_OP_NOP_IN || rx.len != 5 ||
	    memcmp(rx.data, "hello", 5) != 0) {
		printf("error: bad NOP-In\n");
		rx_free(&rx);
		return (-1);
	}
	printf("nop ok\n");
	rx_free(&rx);
	return (0);
}

/* A READ(10) or WRITE(10) command of len bytes at lba. */
static void
cdb10(struct iscsi_scsi_cmd *q, int write, uint32_t lba, uint32_t len)
{
	memset(q, 0, sizeof(*q));
	q->opcode = ISCSI_OP_SCSI_CMD;
	q->flags = ISCSI_FLAG_FINAL | (write ? ISCSI_CMD_WRITE :
	    ISCSI_CMD_READ) | 1;	/* simple task */
	q->itt = htobe32(itt_next++);
	q->edtl = htobe32(len);
	q->cmdsn = htobe32(cmdsn);
	q->expstatsn = htobe32(statsn);
	q->cdb[0] = write ? 0x2a : 0x28;
	q->cdb[2] = lba >> 24;
	q->cdb[3] = lba >> 16;
	q->cdb[4] = lba >> 8;
	q->cdb[5] = lba;
	q->cdb[7] = (len / BLOCK) >> 8;
	q->cdb[8] = len / BLOCK;
}

/* Print a SCSI Response; 0 if GOOD. */
static int
response(const struct rx *rx)
{
	const struct iscsi_scsi_rsp *r = (const void *)&rx->bhs;
	const uint8_t	*s = rx->data;

	if (pdu_opcode(&rx->bhs) != ISCSI_OP_SCSI_RSP) {
		printf("error: opcode %#04x instead of a SCSI Response\n",
		    pdu_opcode(&rx->bhs));
		return (-1);
	}
	if (r->status == 0 && r->response == 0)
		return (0);
	if (rx->len >= 2 + 14)
		printf("response itt=%#x status=%#04x sense=%02x/%02x/%02x\n",
		    be32toh(r->itt), r->status, s[2 + 2] & 0xf, s[2 + 12],
		    s[2 + 13]);
	else
		printf("response itt=%#x status=%#04x\n", be32toh(r->itt),
		    r->status);
	return (1);
}

/* WRITE(10) with all data immediate; corrupt as in send_pdu. */
static int
write_imm(int fd, uint32_t lba, const uint8_t *buf, uint32_t len,
    int corrupt)
{
	struct iscsi_scsi_cmd	 q;
	struct rx		 rx;
	int			 r;

	cdb10(&q, 1, lba, len);
	if (send_pdu(fd, (struct iscsi_bhs *)&q, buf, len, 0, corrupt) != 0 ||
	    next(fd, &rx) != 0)
		return (-1);
	if (corrupt) {
		/* Discarded: no response comes for it. */
		r = pdu_opcode(&rx.bhs) == ISCSI_OP_REJECT ? 0 : -1;
		rx_free(&rx);
		return (r);
	}
	r = response(&rx);
	rx_free(&rx);
	if (r == 0)
		printf("write ok\n");
	return (r);
}

/* WRITE(10) without immediate data: R2T, then one Data-Out per R2T. */
static int
write_r2t(int fd, uint32_t lba, const uint8_t *buf, uint32_t len,
    int corrupt)
{
	struct iscsi_scsi_cmd	 q;
	struct iscsi_data_out	 d;
	struct iscsi_r2t	*r2t;
	struct rx		 rx;
	uint32_t		 off, dl;
	int			 r;

	cdb10(&q, 1, lba, len);
	if (send_pdu(fd, (struct iscsi_bhs *)&q, NULL, 0, 0, 0) != 0)
		return (-1);
	for (;;) {
		if (next(fd, &rx) != 0)
			return (-1);
		if (pdu_opcode(&rx.bhs) == ISCSI_OP_REJECT) {
			rx_free(&rx);
			continue;
		}
		if (pdu_opcode(&rx.bhs) != ISCSI_OP_R2T)
			break;
		r2t = (struct iscsi_r2t *)&rx.bhs;
		off = be32toh(r2t->buffer_offset);
		dl = be32toh(r2t->desired_len);
		if (off > len || dl > len - off || dl > DATA_MAX) {
			printf("error: R2T %u+%u\n", off, dl);
			rx_free(&rx);
			return (-1);
		}
		memset(&d, 0, sizeof(d));
		d.opcode = ISCSI_OP_DATA_OUT;
		d.flags = ISCSI_FLAG_FINAL;
		d.itt = q.itt;
		d.ttt = r2t->ttt;
		d.expstatsn = htobe32(statsn);
		d.buffer_offset = htobe32(off);
		rx_free(&rx);
		if (send_pdu(fd, (struct iscsi_bhs *)&d, buf + off, dl, 0,
		    corrupt) != 0)
			return (-1);
	}
	r = response(&rx);
	rx_free(&rx);
	if (r == 0)
		printf("write ok\n");
	return (r);
}

/* READ(10) into buf, Data-In by Data-In. */
static int
read10(int fd, uint32_t lba, uint8_t *buf, uint32_t len)
{
	struct iscsi_scsi_cmd	 q;
	struct iscsi_data_in	*d;
	struct rx		 rx;
	uint32_t		 off, got = 0;
	int			 r, status = 0;

	cdb10(&q, 0, lba, len);
	if (send_pdu(fd, (struct iscsi_bhs *)&q, NULL, 0, 0, 0) != 0)
		return (-1);
	while (!status) {
		if (slow && got % (64 * 1024) == 0)
			usleep(20000);
		if (next(fd, &rx) != 0)
			return (-1);
		if (pdu_opcode(&rx.bhs) != ISCSI_OP_DATA_IN) {
			r = response(&rx);
			rx_free(&rx);
			if (r != 0)
				return (r);
			break;
		}
		d = (struct iscsi_data_in *)&rx.bhs;
		off = be32toh(d->buffer_offset);
		if (off > len || rx.len > len - off) {
			printf("error: Data-In %u+%zu\n", off, rx.len);
			rx_free(&rx);
			return (-1);
		}
		memcpy(buf + off, rx.data, rx.len);
		got += rx.len;
		if (d->flags & ISCSI_DATAIN_STATUS) {
			status = 1;
			if (d->status != 0) {
				printf("error: read status %#x\n", d->status);
				rx_free(&rx);
				return (-1);
			}
		}
		rx_free(&rx);
	}
	if (got != len) {
		printf("error: read %u of %u bytes\n", got, len);
		return (-1);
	}
	return (0);
}

static int
logout(int fd)
{
	struct iscsi_logout_req	 q;
	struct rx		 rx;
	int			 ok;

	memset(&q, 0, sizeof(q));
	q.opcode = ISCSI_OP_LOGOUT_REQ | ISCSI_OP_IMMEDIATE;
	q.flags = ISCSI_FLAG_FINAL | LOGOUT_CLOSE_SESSION;
	q.itt = htobe32(itt_next++);
	q.cmdsn = htobe32(cmdsn);
	q.expstatsn = htobe32(statsn);
	if (send_pdu(fd, (struct iscsi_bhs *)&q, NULL, 0, 0, 0) != 0 ||
	    next(fd, &rx) != 0)
		return (-1);
	ok = pdu_opcode(&rx.bhs) == ISCSI_OP_LOGOUT_RSP &&
	    ((struct iscsi_logout_rsp *)&rx.bhs)->response == 0;
	rx_free(&rx);
	if (!ok)
		return (-1);
	printf("logout ok\n");
	return (0);
}

static void
fill(uint8_t *buf, size_t len, unsigned seed)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 131 + seed * 7 + (i >> 9));
}

static int
case_io(int fd)
{
	static uint8_t	 out[16384], in[16384];

	if (login(fd, 0) != 0 || nop_check(fd) != 0)
		return (-1);
	fill(out, sizeof(out), getpid());
	if (write_imm(fd, 100, out, sizeof(out), 0) != 0 ||
	    read10(fd, 100, in, sizeof(in)) != 0)
		return (-1);
	if (memcmp(in, out, sizeof(in)) != 0) {
		printf("error: read back other data\n");
		return (-1);
	}
	printf("read ok\n");
	return (logout(fd));
}

static int
case_bad_data(int fd)
{
	static uint8_t	 a[8192], b[8192], in[8192];
	struct rx	 rx;
	int		 r;

	if (login(fd, 0) != 0)
		return (-1);
	fill(a, sizeof(a), 1);
	fill(b, sizeof(b), 2);
	if (write_imm(fd, 200, a, sizeof(a), 0) != 0)
		return (-1);
	/* A NOP-Out with a bad data digest: Reject, no NOP-In. */
	if (nop(fd, 2) != 0 || next(fd, &rx) != 0)
		return (-1);
	r = pdu_opcode(&rx.bhs) == ISCSI_OP_REJECT;
	rx_free(&rx);
	if (!r) {
		printf("error: no Reject for the NOP-Out\n");
		return (-1);
	}
	/* Immediate data with a bad digest: the command is discarded. */
	if (write_imm(fd, 200, b, sizeof(b), 2) != 0)
		return (-1);
	/* A Data-Out with a bad digest: Reject, then CHECK CONDITION. */
	if (write_r2t(fd, 200, b, sizeof(b), 2) != 1)
		return (-1);
	if (read10(fd, 200, in, sizeof(in)) != 0)
		return (-1);
	if (memcmp(in, a, sizeof(in)) != 0) {
		printf("error: corrupt data was written\n");
		return (-1);
	}
	printf("read unchanged\n");
	/* The connection goes on, with the same data by R2T this time. */
	if (nop_check(fd) != 0 || write_r2t(fd, 200, b, sizeof(b), 0) != 0 ||
	    read10(fd, 200, in, sizeof(in)) != 0 ||
	    memcmp(in, b, sizeof(in)) != 0)
		return (-1);
	printf("read ok\n");
	return (logout(fd));
}

static int
case_big(int fd)
{
	static uint8_t	 out[1024 * 1024], in[1024 * 1024];

	if (login(fd, 0) != 0)
		return (-1);
	fill(out, sizeof(out), getpid());
	if (write_r2t(fd, 1000, out, sizeof(out), 0) != 0)
		return (-1);
	slow = 1;
	if (read10(fd, 1000, in, sizeof(in)) != 0)
		return (-1);
	if (memcmp(in, out, sizeof(in)) != 0) {
		printf("error: read back other data\n");
		return (-1);
	}
	printf("read ok\n");
	return (logout(fd));
}

static int
case_bad_header(int fd)
{
	struct rx	 rx;
	int		 r;

	if (login(fd, 0) != 0 || nop_check(fd) != 0)
		return (-1);
	if (nop(fd, 1) != 0)
		return (-1);
	/* Nothing may come back but the end of the connection. */
	r = next(fd, &rx);
	if (r == 0) {
		printf("error: opcode %#04x after a bad header digest\n",
		    pdu_opcode(&rx.bhs));
		rx_free(&rx);
	}
	return (r == -1 ? 0 : -1);
}

static int
case_discovery(int fd)
{
	struct iscsi_text	 q;
	struct rx		 rx;
	size_t			 i;

	if (login(fd, 1) != 0)
		return (-1);
	memset(&q, 0, sizeof(q));
	q.opcode = ISCSI_OP_TEXT_REQ | ISCSI_OP_IMMEDIATE;
	q.flags = ISCSI_FLAG_FINAL;
	q.itt = htobe32(itt_next++);
	q.ttt = htobe32(ISCSI_RESERVED_TAG);
	q.sn24 = htobe32(cmdsn);
	q.sn28 = htobe32(statsn);
	if (send_pdu(fd, (struct iscsi_bhs *)&q, "SendTargets=All", 16, 0,
	    0) != 0 || next(fd, &rx) != 0)
		return (-1);
	if (pdu_opcode(&rx.bhs) != ISCSI_OP_TEXT_RSP) {
		rx_free(&rx);
		return (-1);
	}
	for (i = 0; i < rx.len; i += strlen((char *)rx.data + i) + 1)
		printf("text %s\n", (char *)rx.data + i);
	rx_free(&rx);
	return (logout(fd));
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: digestpdu [-t seconds] [-o offer] host port "
	    "target io|bad-data|big|bad-header|discovery\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	const char	*c;
	int		 ch, fd, r;

	while ((ch = getopt(argc, argv, "o:t:")) != -1) {
		switch (ch) {
		case 'o':
			offer = optarg;
			break;
		case 't':
			timeout_ms = strtonum(optarg, 1, 3600, NULL) * 1000;
			if (timeout_ms == 0)
				usage();
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 4)
		usage();
	target = argv[2];
	c = argv[3];
	crc_init();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((fd = pk_dial(argv[0], argv[1], PK_SMALLRCV, NULL)) == -1) {
		printf("error: cannot connect\n");
		return (1);
	}
	if (strcmp(c, "io") == 0)
		r = case_io(fd);
	else if (strcmp(c, "bad-data") == 0)
		r = case_bad_data(fd);
	else if (strcmp(c, "big") == 0)
		r = case_big(fd);
	else if (strcmp(c, "bad-header") == 0)
		r = case_bad_header(fd);
	else if (strcmp(c, "discovery") == 0)
		r = case_discovery(fd);
	else
		usage();
	close(fd);
	return (r == 0 ? 0 : 1);
}
