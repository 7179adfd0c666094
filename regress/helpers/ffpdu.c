/*
 * ffpdu: a scripted iSCSI initiator made of hand-built PDUs for the full
 * feature phase.  It logs in to a normal session, then runs its steps in
 * order and prints one line for every PDU the target sends, so that
 * regress/ffp.bats can assert on what came back and in which order.
 *
 * usage: ffpdu [-t seconds] [-m mrdsl] [-k Key=Value]... host port target
 *	      step...
 *
 * A target of "-" makes a discovery session (then only text, nop,
 * logout and the receiving steps make sense).
 *
 * -t	how long a step waits for an answer (default 10 s)
 * -m	the MaxRecvDataSegmentLength we declare (default 8192)
 * -k	an operational key to offer instead of the default one (InitialR2T
 *	Yes, ImmediateData Yes, MaxBurstLength 262144, FirstBurstLength
 *	65536, MaxOutstandingR2T 1, ErrorRecoveryLevel 0, digests None)
 *
 * Steps (fields separated by ':'; numbers in C syntax):
 *	session:N		use session N (0-3), logging it in first (each
 *				session has its own ISID)
 *	imm			the next command goes as an immediate one
 *	cmdsn:D			the next non-immediate command carries CmdSN
 *				+ D (D may be negative) and does not advance it
 *	skip			a CmdSN is used up without sending anything (a
 *				command lost on the way)
 *	lun:N			LUN of the next commands (default 0)
 *	attr:N			task attribute of the next commands (default
 *				1, SIMPLE; 2 ORDERED, 3 HEAD OF QUEUE)
 *	sync:ITT		SYNCHRONIZE CACHE(10) of the whole LUN
 *	read:ITT:LBA:N[:EDTL]	READ(10) of N 512-byte blocks, Expected Data
 *				Transfer Length EDTL (default N * 512)
 *	write:ITT:LBA:N[:IMM]	WRITE(10) of N blocks with IMM bytes of
 *				immediate data (default 0), F set; the data is
 *				a pattern seeded by ITT; prints its hash
 *	data:ITT[:how]		Data-Out for every R2T received for ITT; how:
 *				badsn (wrong DataSN), badoff (offset past the
 *				burst), badttt (unknown TTT; the R2T stays to
 *				be answered), short (F bit after half of the
 *				burst)
 *	unsol:ITT:OFF:LEN[:F]	an unsolicited Data-Out (TTT 0xffffffff)
 *	tmf:ITT:FN[:RTT[:REF]]	Task Management Function FN (immediate) on the
 *				current LUN, RefCmdSN REF (default: the CmdSN of
 *				command RTT)
 *	nop:ITT			NOP-Out ping with 4 bytes of data
 *	op:0xNN[:ITT]		a bare PDU with that opcode (non-immediate)
 *	text:ITT:N[:PIECE]	a Text Request of N unknown keys (X-...) sent
 *				in C-bit pieces of PIECE bytes (default: one
 *				PDU); pieces and answers are continued as RFC
 *				7143 11.10 says; prints the keys answered
 *	textkey:ITT:K=V		a Text Request with one key; prints the
 *				answer's keys ("key K=V")
 *	textttt:ITT:TTT		an empty Text Request continuing TTT
 *	logout:REASON[:CID]	Logout Request; waits for its answer
 *	recv:N			print the next N PDUs
 *	until:OP		print PDUs until one with opcode OP (e.g. 0x32)
 *	idle:S			print what comes for S seconds, or until the
 *				target closes
 *	silent			stop answering the target's NOP-In pings
 *	sleep:MS
 *	sn			print "sn cmdsn=.. expcmdsn=.. maxcmdsn=.."
 *
 * Output lines (prefixed "sN " for sessions other than 0):
 *	login ok tsih=N
 *	rsp itt=0x.. status=0x.. response=0x.. flags=0x.. residual=N [sense=K/ASC/ASCQ]
 *	datain itt=0x.. datasn=N off=N len=N flags=0x..
 *	readdata itt=0x.. hash=XXXXXXXX	(when a read ends)
 *	writedata itt=0x.. hash=XXXXXXXX	(when a write is sent)
 *	r2t itt=0x.. off=N len=N r2tsn=N
 *	tmf itt=0x.. response=N
 *	reject reason=0x.. opcode=0x.. itt=0x..
 *	nopin itt=0x.. len=N
 *	ping ttt=0x.. answered|ignored
 *	text itt=0x.. flags=0x.. len=N ttt=0x..
 *	textkeys n=N notunderstood=N
 *	logout response=N time2wait=N time2retain=N
 *	async event=N param1=N param2=N param3=N
 *	closed | quiet		the target closed | nothing came (idle)
 *	error: ...		anything unexpected (bad StatSN, timeout...)
 * Exit status 0 when every step ran, 1 otherwise, 2 on usage errors.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netdb.h>
#include <poll.h>

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pdukit.h"

#define INITIATOR	"iqn.2026-11.org.ietd:ffpdu"
#define BLOCK		512
#define NSESS		4
#define NCMD		64
#define NR2T		64
#define DATA_MAX	(16 * 1024 * 1024)
#define KEYS_LEN	4096

struct cmd {
	uint32_t	 itt;
	uint32_t	 cmdsn;
	uint32_t	 len;
	int		 write;
	uint8_t		*buf;	/* data (write) or received (read) */
	uint32_t	 got;
	int		 used;
};

struct r2t {
	uint32_t	 itt, ttt, off, len;
	int		 used;
};

struct sess {
	int		 fd;
	uint32_t	 cmdsn, statsn, expcmdsn, maxcmdsn;
	int		 statsn_known;
	uint32_t	 target_mrdsl;
	struct cmd	 cmds[NCMD];
	struct r2t	 r2ts[NR2T];
	uint32_t	 text_ttt;	/* continuation tag of the last answer */
	uint8_t		 text_flags;
	char		*text_ans;	/* joined Text Response data */
	size_t		 text_anslen;
};

struct rx {
	struct iscsi_bhs bhs;
	uint8_t		*data;
	size_t		 len;
};

static struct sess	 sessions[NSESS];
static struct sess	*S;
static int		 cur;
static const char	*host, *port, *target;
static int		 timeout_ms = 10000;
static uint32_t		 our_mrdsl = 8192;
static const char	*kopts[32];
static int		 nkopts;
static int		 next_imm, cmdsn_delta_set, silent;
static int32_t		 cmdsn_delta;
static uint8_t		 cur_lun;
static uint8_t		 cur_attr = 1;	/* SIMPLE */

static void
out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
out(const char *fmt, ...)
{
	va_list	 ap;

	if (cur != 0)
		printf("s%d ", cur);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static uint32_t
hash(const uint8_t *p, size_t len)
{
	uint32_t	 h = 2166136261U;

	while (len-- > 0)
		h = (h ^ *p++) * 16777619U;
	return (h);
}

static int
send_pdu(struct iscsi_bhs *bhs, const void *data, size_t len)
{
	pdu_set_data_len(bhs, len);
	if (pk_send_pdu(S->fd, bhs, data, len) == -1) {
		out("error: send failed");
		return (-1);
	}
	return (0);
}

static int
recv_pdu(struct rx *rx, const struct timespec *dl)
{
	memset(rx, 0, sizeof(*rx));
	return (pk_recv_pdu(S->fd, &rx->bhs, &rx->data, &rx->len, DATA_MAX,
	    dl));
}

static struct cmd *
cmd_find(uint32_t itt)
{
	int	 i;

	for (i = 0; i < NCMD; i++)
		if (S->cmds[i].used && S->cmds[i].itt == itt)
			return (&S->cmds[i]);
	return (NULL);
}

static struct cmd *
cmd_new(uint32_t itt)
{
	struct cmd	*c;
	int		 i;

	if ((c = cmd_find(itt)) != NULL) {
		free(c->buf);
		memset(c, 0, sizeof(*c));
	}
	for (i = 0; c == NULL && i < NCMD; i++)
		if (!S->cmds[i].used)
			c = &S->cmds[i];
	if (c == NULL) {
		fprintf(stderr, "ffpdu: too many commands\n");
		exit(1);
	}
	c->used = 1;
	c->itt = itt;
	return (c);
}

/* Sequence numbers of a PDU from the target; StatSN must not jump. */
static void
rx_sn(const struct rx *rx)
{
	int		 op = pdu_opcode(&rx->bhs);
	uint32_t	 sn = be32toh(rx->bhs.sn24);
	int		 status = 1;

	if (op == ISCSI_OP_R2T)
		status = 0;
	if (op == ISCSI_OP_DATA_IN &&
	    !(rx->bhs.flags & ISCSI_DATAIN_STATUS))
		status = 0;
	if (op == ISCSI_OP_NOP_IN && rx->bhs.itt == ISCSI_RESERVED_TAG)
		status = 0;
	if (S->statsn_known && sn != S->statsn &&
	    (status || op == ISCSI_OP_NOP_IN))
		out("error: StatSN %u, expected %u", sn, S->statsn);
	if (status) {
		S->statsn = sn + 1;
		S->statsn_known = 1;
	}
	S->expcmdsn = be32toh(rx->bhs.sn28);
	S->maxcmdsn = be32toh(rx->bhs.sn32);
}

static void
answer_ping(const struct rx *rx)
{
	struct iscsi_nop	 q;

	memset(&q, 0, sizeof(q));
	q.opcode = ISCSI_OP_NOP_OUT | ISCSI_OP_IMMEDIATE;
	q.flags = ISCSI_FLAG_FINAL;
	memcpy(q.lun, rx->bhs.lun, sizeof(q.lun));
	q.itt = ISCSI_RESERVED_TAG;
	q.ttt = rx->bhs.ttt;
	q.sn24 = htobe32(S->cmdsn);
	q.sn28 = htobe32(S->statsn);
	send_pdu((struct iscsi_bhs *)&q, NULL, 0);
}

static void
print_rsp(const struct rx *rx)
{
	const struct iscsi_scsi_rsp	*r = (const void *)&rx->bhs;
	char				 sense[32] = "";

	if (rx->len >= 2 + 14)
		snprintf(sense, sizeof(sense), " sense=%x/%02x/%02x",
		    rx->data[4] & 0xf, rx->data[14], rx->data[15]);
	out("rsp itt=0x%x status=0x%02x response=0x%02x flags=0x%02x "
	    "residual=%u%s", be32toh(r->itt), r->status, r->response,
	    r->flags, be32toh(r->residual), sense);
}

static void
read_done(uint32_t itt)
{
	struct cmd	*c;

	if ((c = cmd_find(itt)) == NULL || c->write || c->buf == NULL)
		return;
	out("readdata itt=0x%x hash=%08x", itt, hash(c->buf, c->len));
}

static void
on_datain(const struct rx *rx)
{
	const struct iscsi_data_in	*d = (const void *)&rx->bhs;
	struct cmd			*c;
	uint32_t			 off = be32toh(d->buffer_offset);

	out("datain itt=0x%x datasn=%u off=%u len=%zu flags=0x%02x",
	    be32toh(d->itt), be32toh(d->datasn), off, rx->len, d->flags);
	c = cmd_find(be32toh(d->itt));
	if (c != NULL && !c->write && c->buf != NULL && off <= c->len &&
	    rx->len <= c->len - off)
		memcpy(c->buf + off, rx->data, rx->len);
	if (d->flags & ISCSI_DATAIN_STATUS) {
		out("rsp itt=0x%x status=0x%02x response=0x00 flags=0x%02x "
		    "residual=%u", be32toh(d->itt), d->status, d->flags,
		    be32toh(d->residual));
		read_done(be32toh(d->itt));
	}
}

static void
on_r2t(const struct rx *rx)
{
	const struct iscsi_r2t	*r = (const void *)&rx->bhs;
	int			 i;

	out("r2t itt=0x%x off=%u len=%u r2tsn=%u", be32toh(r->itt),
	    be32toh(r->buffer_offset), be32toh(r->desired_len),
	    be32toh(r->r2tsn));
	for (i = 0; i < NR2T; i++)
		if (!S->r2ts[i].used) {
			S->r2ts[i].used = 1;
			S->r2ts[i].itt = be32toh(r->itt);
			S->r2ts[i].ttt = r->ttt;	/* wire order */
			S->r2ts[i].off = be32toh(r->buffer_offset);
			S->r2ts[i].len = be32toh(r->desired_len);
			return;
		}
}

static void
on_text(const struct rx *rx)
{
	char	*p;

	out("text itt=0x%x flags=0x%02x len=%zu ttt=0x%x", be32toh(rx->bhs.itt),
	    rx->bhs.flags, rx->len, be32toh(rx->bhs.ttt));
	S->text_ttt = rx->bhs.ttt;
	S->text_flags = rx->bhs.flags;
	if ((p = realloc(S->text_ans, S->text_anslen + rx->len + 1)) == NULL)
		exit(1);
	S->text_ans = p;
	memcpy(p + S->text_anslen, rx->data, rx->len);
	S->text_anslen += rx->len;
	p[S->text_anslen] = '\0';
}

/* Print one PDU and do what it needs (answer pings, keep R2Ts...). */
static int
handle(const struct rx *rx)
{
	const struct iscsi_bhs	*b = &rx->bhs;
	int			 op = pdu_opcode(b);

	rx_sn(rx);
	switch (op) {
	case ISCSI_OP_SCSI_RSP:
		print_rsp(rx);
		read_done(be32toh(b->itt));
		break;
	case ISCSI_OP_DATA_IN:
		on_datain(rx);
		break;
	case ISCSI_OP_R2T:
		on_r2t(rx);
		break;
	case ISCSI_OP_TMF_RSP:
		out("tmf itt=0x%x response=%u", be32toh(b->itt),
		    ((const struct iscsi_tmf_rsp *)b)->response);
		break;
	case ISCSI_OP_REJECT:
		out("reject reason=0x%02x opcode=0x%02x itt=0x%x",
		    ((const struct iscsi_reject *)b)->reason,
		    rx->len >= ISCSI_BHS_SIZE ? rx->data[0] & ISCSI_OP_MASK :
		    0xff, rx->len >= ISCSI_BHS_SIZE ?
		    be32toh(((const struct iscsi_bhs *)rx->data)->itt) : 0);
		break;
	case ISCSI_OP_NOP_IN:
		if (b->itt == ISCSI_RESERVED_TAG) {
			out("ping ttt=0x%x %s", be32toh(b->ttt), silent ?
			    "ignored" : "answered");
			if (!silent && b->ttt != ISCSI_RESERVED_TAG)
				answer_ping(rx);
		} else
			out("nopin itt=0x%x len=%zu", be32toh(b->itt), rx->len);
		break;
	case ISCSI_OP_TEXT_RSP:
		on_text(rx);
		break;
	case ISCSI_OP_LOGOUT_RSP: {
		const struct iscsi_logout_rsp *l = (const void *)b;

		out("logout response=%u time2wait=%u time2retain=%u",
		    l->response, be16toh(l->time2wait),
		    be16toh(l->time2retain));
		break;
	}
	case ISCSI_OP_ASYNC: {
		const struct iscsi_async *a = (const void *)b;

		out("async event=%u param1=%u param2=%u param3=%u", a->event,
		    be16toh(a->param1), be16toh(a->param2),
		    be16toh(a->param3));
		break;
	}
	default:
		out("pdu opcode=0x%02x itt=0x%x", op, be32toh(b->itt));
		break;
	}
	return (op);
}

/*
 * Receive and handle PDUs until one with opcode want (-1: any) and,
 * when itt is not the reserved tag, that ITT.  0, -1 closed, -2 timeout.
 */
static int
wait_for(int want, uint32_t itt, int ms)
{
	struct timespec	 dl;
	struct rx	 rx;
	int		 r, op;

	pk_deadline(&dl, ms);
	for (;;) {
		if ((r = recv_pdu(&rx, &dl)) != 0) {
			if (r == -1)
				out("closed");
			else if (want != 0x100)
				out("error: timeout waiting for opcode 0x%02x",
				    want);
			return (r);
		}
		op = handle(&rx);
		free(rx.data);
		if ((want == -1 || op == want) && (itt == ISCSI_RESERVED_TAG ||
		    be32toh(rx.bhs.itt) == itt))
			return (0);
		/* A status in a Data-In ends a command like a response. */
		if (want == ISCSI_OP_SCSI_RSP && op == ISCSI_OP_DATA_IN &&
		    (rx.bhs.flags & ISCSI_DATAIN_STATUS) &&
		    (itt == ISCSI_RESERVED_TAG || be32toh(rx.bhs.itt) == itt))
			return (0);
	}
}

/* Append key=value\0. */
static size_t
kv(char *buf, size_t off, const char *k, const char *v)
{
	int	 n;

	n = snprintf(buf + off, KEYS_LEN - off, "%s=%s", k, v);
	if (n < 0 || (size_t)n >= KEYS_LEN - off)
		return (off);
	return (off + n + 1);
}

/* A default operational key unless -k names it. */
static size_t
kv_op(char *buf, size_t off, const char *k, const char *v)
{
	size_t	 kl = strlen(k);
	int	 i;

	for (i = 0; i < nkopts; i++)
		if (strncmp(kopts[i], k, kl) == 0 && kopts[i][kl] == '=')
			return (off);
	return (kv(buf, off, k, v));
}

static const char *
key_find(const uint8_t *data, size_t len, const char *key)
{
	size_t	 i = 0, kl = strlen(key);

	while (i < len) {
		const char *p = (const char *)data + i;

		if (strncmp(p, key, kl) == 0 && p[kl] == '=')
			return (p + kl + 1);
		i += strlen(p) + 1;
	}
	return (NULL);
}

static size_t
op_keys(char *keys)
{
	char	 v[32];
	size_t	 len = 0;
	int	 i;

	len = kv_op(keys, len, "HeaderDigest", "None");
	len = kv_op(keys, len, "DataDigest", "None");
	len = kv_op(keys, len, "InitialR2T", "Yes");
	len = kv_op(keys, len, "ImmediateData", "Yes");
	snprintf(v, sizeof(v), "%u", our_mrdsl);
	len = kv_op(keys, len, "MaxRecvDataSegmentLength", v);
	len = kv_op(keys, len, "MaxBurstLength", "262144");
	len = kv_op(keys, len, "FirstBurstLength", "65536");
	len = kv_op(keys, len, "MaxOutstandingR2T", "1");
	len = kv_op(keys, len, "ErrorRecoveryLevel", "0");
	for (i = 0; i < nkopts && len + strlen(kopts[i]) + 1 < KEYS_LEN;
	    i++) {
		memcpy(keys + len, kopts[i], strlen(kopts[i]) + 1);
		len += strlen(kopts[i]) + 1;
	}
	return (len);
}

static int
login(void)
{
	struct iscsi_login_req	 q;
	struct iscsi_login_rsp	*r;
	struct timespec		 dl;
	struct rx		 rx;
	char			 keys[KEYS_LEN];
	const char		*v;
	size_t			 len;
	int			 csg = ISCSI_STAGE_SECURITY, round;

	if ((S->fd = pk_dial(host, port, 0, NULL)) == -1) {
		out("error: cannot connect");
		return (-1);
	}
	S->cmdsn = 1;
	S->target_mrdsl = 8192;
	for (round = 0; round < 6; round++) {
		len = 0;
		if (csg == ISCSI_STAGE_SECURITY) {
			len = kv(keys, len, "InitiatorName", INITIATOR);
			if (strcmp(target, "-") == 0)
				len = kv(keys, len, "SessionType",
				    "Discovery");
			else {
				len = kv(keys, len, "SessionType", "Normal");
				len = kv(keys, len, "TargetName", target);
			}
			len = kv(keys, len, "AuthMethod", "None");
		} else if (round <= 1)
			len = op_keys(keys);
		pk_login_req(&q, csg, 0x50 + cur, 0x7f000000 + round, S->cmdsn,
		    S->statsn);
		pk_deadline(&dl, timeout_ms);
		if (send_pdu((struct iscsi_bhs *)&q, keys, len) != 0 ||
		    recv_pdu(&rx, &dl) != 0) {
			out("error: login failed");
			return (-1);
		}
		r = (struct iscsi_login_rsp *)&rx.bhs;
		if (pdu_opcode(&rx.bhs) != ISCSI_OP_LOGIN_RSP ||
		    r->status_class != 0) {
			out("error: login status 0x%02x/0x%02x",
			    r->status_class, r->status_detail);
			free(rx.data);
			return (-1);
		}
		S->statsn = be32toh(r->statsn) + 1;
		S->statsn_known = 1;
		S->cmdsn = be32toh(r->expcmdsn);
		S->expcmdsn = be32toh(r->expcmdsn);
		S->maxcmdsn = be32toh(r->maxcmdsn);
		v = key_find(rx.data, rx.len, "MaxRecvDataSegmentLength");
		if (v != NULL)
			S->target_mrdsl = strtoul(v, NULL, 10);
		if (r->flags & ISCSI_LOGIN_T)
			csg = ISCSI_LOGIN_NSG(r->flags);
		free(rx.data);
		if (csg == ISCSI_STAGE_FULL) {
			out("login ok tsih=%u", be16toh(r->tsih));
			return (0);
		}
	}
	out("error: login did not end");
	return (-1);
}

/* CmdSN for the next request: immediate ones do not advance it. */
static uint32_t
take_cmdsn(uint8_t *opcode)
{
	uint32_t	 sn = S->cmdsn;

	if (next_imm) {
		*opcode |= ISCSI_OP_IMMEDIATE;
		next_imm = 0;
		return (sn);
	}
	if (cmdsn_delta_set) {
		cmdsn_delta_set = 0;
		return (sn + cmdsn_delta);
	}
	S->cmdsn++;
	return (sn);
}

static void
pattern(uint8_t *buf, uint32_t len, uint32_t seed)
{
	uint32_t	 i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 131 + i / BLOCK * 7 + i);
}

static int
scsi_rw(int write, uint32_t itt, uint32_t lba, uint32_t n, uint32_t imm,
    uint32_t edtl)
{
	struct iscsi_scsi_cmd	 q;
	struct cmd		*c;
	uint32_t		 len = edtl != 0 ? edtl : n * BLOCK;

	c = cmd_new(itt);
	c->write = write;
	c->len = len;
	if ((c->buf = calloc(1, len + 1)) == NULL)
		return (-1);
	if (imm > len)
		imm = len;
	memset(&q, 0, sizeof(q));
	q.opcode = ISCSI_OP_SCSI_CMD;
	q.flags = ISCSI_FLAG_FINAL | (write ? ISCSI_CMD_WRITE :
	    ISCSI_CMD_READ) | cur_attr;
	q.lun[1] = cur_lun;
	q.itt = htobe32(itt);
	q.edtl = htobe32(len);
	c->cmdsn = take_cmdsn(&q.opcode);
	q.cmdsn = htobe32(c->cmdsn);
	q.expstatsn = htobe32(S->statsn);
	q.cdb[0] = write ? 0x2a : 0x28;
	q.cdb[2] = lba >> 24;
	q.cdb[3] = lba >> 16;
	q.cdb[4] = lba >> 8;
	q.cdb[5] = lba;
	q.cdb[7] = n >> 8;
	q.cdb[8] = n;
	if (write) {
		pattern(c->buf, len, itt);
		out("writedata itt=0x%x hash=%08x", itt, hash(c->buf, len));
	}
	return (send_pdu((struct iscsi_bhs *)&q, c->buf, write ? imm : 0));
}

/* SYNCHRONIZE CACHE(10) of the whole LUN: no data either way. */
static int
sync_cache(uint32_t itt)
{
	struct iscsi_scsi_cmd	 q;
	struct cmd		*c;

	c = cmd_new(itt);
	memset(&q, 0, sizeof(q));
	q.opcode = ISCSI_OP_SCSI_CMD;
	q.flags = ISCSI_FLAG_FINAL | cur_attr;
	q.lun[1] = cur_lun;
	q.itt = htobe32(itt);
	c->cmdsn = take_cmdsn(&q.opcode);
	q.cmdsn = htobe32(c->cmdsn);
	q.expstatsn = htobe32(S->statsn);
	q.cdb[0] = 0x35;
	return (send_pdu((struct iscsi_bhs *)&q, NULL, 0));
}

static int
data_out_pdu(uint32_t itt, uint32_t ttt_wire, uint32_t off, uint32_t len,
    uint32_t datasn, int final)
{
	struct iscsi_data_out	 d;
	struct cmd		*c = cmd_find(itt);
	static uint8_t		 junk[DATA_MAX];
	const uint8_t		*p = junk;

	memset(&d, 0, sizeof(d));
	d.opcode = ISCSI_OP_DATA_OUT;
	d.flags = final ? ISCSI_FLAG_FINAL : 0;
	d.lun[1] = cur_lun;
	d.itt = htobe32(itt);
	d.ttt = ttt_wire;
	d.expstatsn = htobe32(S->statsn);
	d.datasn = htobe32(datasn);
	d.buffer_offset = htobe32(off);
	if (c != NULL && c->buf != NULL && off <= c->len &&
	    len <= c->len - off)
		p = c->buf + off;
	if (len > DATA_MAX)
		return (-1);
	return (send_pdu((struct iscsi_bhs *)&d, p, len));
}

/* Answer the R2Ts of itt. */
static int
data_step(uint32_t itt, const char *how)
{
	struct r2t	*r;
	uint32_t	 off, end, len, sn, ttt;
	int		 i, final;

	for (i = 0; i < NR2T; i++) {
		r = &S->r2ts[i];
		if (!r->used || r->itt != itt)
			continue;
		/* A bad TTT leaves the R2T to be answered later. */
		r->used = strcmp(how, "badttt") == 0;
		ttt = r->used ? htobe32(0x7ffffff0) : r->ttt;
		end = r->off + r->len;
		if (strcmp(how, "short") == 0)
			end = r->off + r->len / 2;
		for (off = r->off, sn = 0; off < end; off += len, sn++) {
			len = end - off;
			if (len > S->target_mrdsl)
				len = S->target_mrdsl;
			final = off + len == end;
			if (strcmp(how, "badsn") == 0 && sn == 0)
				sn = 5;
			if (data_out_pdu(itt, ttt, strcmp(how, "badoff") == 0 ?
			    off + r->len : off, len, sn, final) != 0)
				return (-1);
		}
	}
	return (0);
}

static int
tmf_step(uint32_t itt, uint8_t fn, uint32_t rtt, const char *ref)
{
	struct iscsi_tmf_req	 q;
	struct cmd		*c;

	memset(&q, 0, sizeof(q));
	q.opcode = ISCSI_OP_TMF_REQ | ISCSI_OP_IMMEDIATE;
	q.function = 0x80 | fn;
	q.lun[1] = cur_lun;
	q.itt = htobe32(itt);
	q.rtt = htobe32(fn == 1 ? rtt : ISCSI_RESERVED_TAG);
	q.cmdsn = htobe32(S->cmdsn);
	q.expstatsn = htobe32(S->statsn);
	if (ref != NULL)
		q.refcmdsn = htobe32(strtoul(ref, NULL, 0));
	else if ((c = cmd_find(rtt)) != NULL)
		q.refcmdsn = htobe32(c->cmdsn);
	return (send_pdu((struct iscsi_bhs *)&q, NULL, 0));
}

static int
nop_step(uint32_t itt)
{
	struct iscsi_nop	 q;

	memset(&q, 0, sizeof(q));
	q.opcode = ISCSI_OP_NOP_OUT;
	q.flags = ISCSI_FLAG_FINAL;
	q.itt = htobe32(itt);
	q.ttt = ISCSI_RESERVED_TAG;
	q.sn24 = htobe32(take_cmdsn(&q.opcode));
	q.sn28 = htobe32(S->statsn);
	return (send_pdu((struct iscsi_bhs *)&q, "ping", 4));
}

static int
op_step(uint8_t op, uint32_t itt)
{
	struct iscsi_bhs	 b;

	memset(&b, 0, sizeof(b));
	b.opcode = op;
	b.flags = ISCSI_FLAG_FINAL;
	b.itt = htobe32(itt);
	b.ttt = ISCSI_RESERVED_TAG;
	b.sn24 = htobe32(take_cmdsn(&b.opcode));
	b.sn28 = htobe32(S->statsn);
	return (send_pdu(&b, NULL, 0));
}

static int
text_pdu(uint32_t itt, uint32_t ttt_wire, uint8_t flags, const char *data,
    size_t len)
{
	struct iscsi_text	 q;

	memset(&q, 0, sizeof(q));
	q.opcode = ISCSI_OP_TEXT_REQ;
	q.flags = flags;
	q.itt = htobe32(itt);
	q.ttt = ttt_wire;
	q.sn24 = htobe32(take_cmdsn(&q.opcode));
	q.sn28 = htobe32(S->statsn);
	return (send_pdu((struct iscsi_bhs *)&q, data, len));
}

/* Count (and print, if asked) the keys of the joined answer. */
static void
text_summary(int print)
{
	size_t	 i = 0, n = 0, nu = 0;

	while (i < S->text_anslen) {
		const char *p = S->text_ans + i;

		if (*p != '\0') {
			n++;
			if (print)
				out("key %s", p);
			if (strstr(p, "=NotUnderstood") != NULL)
				nu++;
		}
		i += strlen(p) + 1;
	}
	out("textkeys n=%zu notunderstood=%zu", n, nu);
	free(S->text_ans);
	S->text_ans = NULL;
	S->text_anslen = 0;
}

/* A whole Text exchange: request pieces, then answer pieces. */
static int
text_exchange(uint32_t itt, const char *req, size_t len, size_t piece,
    int print)
{
	size_t	 off = 0, n;
	uint32_t ttt = ISCSI_RESERVED_TAG;
	int	 more;

	free(S->text_ans);
	S->text_ans = NULL;
	S->text_anslen = 0;
	if (piece == 0)
		piece = len;
	do {
		n = len - off > piece ? piece : len - off;
		more = off + n < len;
		if (text_pdu(itt, ttt, more ? ISCSI_TEXT_C : ISCSI_FLAG_FINAL,
		    req + off, n) != 0 ||
		    wait_for(ISCSI_OP_TEXT_RSP, itt, timeout_ms) != 0)
			return (-1);
		off += n;
		ttt = S->text_ttt;
		if (more && (S->text_flags & ISCSI_FLAG_FINAL)) {
			out("error: final answer to a C-bit piece");
			return (-1);
		}
	} while (more);
	while (!(S->text_flags & ISCSI_FLAG_FINAL)) {
		if (S->text_ttt == ISCSI_RESERVED_TAG) {
			out("error: non-final Text Response without a TTT");
			return (-1);
		}
		if (text_pdu(itt, S->text_ttt, ISCSI_FLAG_FINAL, NULL, 0) ||
		    wait_for(ISCSI_OP_TEXT_RSP, itt, timeout_ms) != 0)
			return (-1);
	}
	text_summary(print);
	return (0);
}

static int
text_step(uint32_t itt, int nkeys, size_t piece)
{
	char	*req;
	size_t	 len = 0;
	int	 i, rc;

	if ((req = malloc((size_t)nkeys * 64 + 1)) == NULL)
		return (-1);
	for (i = 0; i < nkeys; i++)
		len += sprintf(req + len, "X-org.ietd.regress-%04d=value-%04d",
		    i, i) + 1;
	rc = text_exchange(itt, req, len, piece, 0);
	free(req);
	return (rc);
}

static int
logout_step(uint8_t reason, uint16_t cid)
{
	struct iscsi_logout_req	 q;

	memset(&q, 0, sizeof(q));
	q.opcode = ISCSI_OP_LOGOUT_REQ | ISCSI_OP_IMMEDIATE;
	q.flags = ISCSI_FLAG_FINAL | reason;
	q.itt = htobe32(0x7e000000);
	q.cid = htobe16(cid);
	q.cmdsn = htobe32(S->cmdsn);
	q.expstatsn = htobe32(S->statsn);
	if (send_pdu((struct iscsi_bhs *)&q, NULL, 0) != 0)
		return (-1);
	return (wait_for(ISCSI_OP_LOGOUT_RSP, ISCSI_RESERVED_TAG,
	    timeout_ms));
}

static int
use_session(int n)
{
	if (n < 0 || n >= NSESS)
		return (-1);
	cur = n;
	S = &sessions[n];
	if (S->fd > 0)
		return (0);
	return (login());
}

static uint32_t
num(const char *s)
{
	return (s == NULL ? 0 : (uint32_t)strtoul(s, NULL, 0));
}

static int
step(char *st)
{
	char	*f[6] = { NULL };
	int	 n = 0, rc = 0;
	char	*p = st;

	while (n < 6 && (f[n] = strsep(&p, ":")) != NULL)
		n++;
	if (strcmp(f[0], "session") == 0)
		rc = use_session(num(f[1]));
	else if (strcmp(f[0], "imm") == 0)
		next_imm = 1;
	else if (strcmp(f[0], "cmdsn") == 0) {
		cmdsn_delta_set = 1;
		cmdsn_delta = (int32_t)strtol(f[1], NULL, 0);
	} else if (strcmp(f[0], "skip") == 0)
		S->cmdsn++;
	else if (strcmp(f[0], "lun") == 0)
		cur_lun = num(f[1]);
	else if (strcmp(f[0], "attr") == 0 && n >= 2)
		cur_attr = num(f[1]) & 0x07;
	else if (strcmp(f[0], "sync") == 0 && n >= 2)
		rc = sync_cache(num(f[1]));
	else if (strcmp(f[0], "read") == 0 && n >= 4)
		rc = scsi_rw(0, num(f[1]), num(f[2]), num(f[3]), 0,
		    num(f[4]));
	else if (strcmp(f[0], "write") == 0 && n >= 4)
		rc = scsi_rw(1, num(f[1]), num(f[2]), num(f[3]), num(f[4]), 0);
	else if (strcmp(f[0], "data") == 0 && n >= 2)
		rc = data_step(num(f[1]), f[2] != NULL ? f[2] : "");
	else if (strcmp(f[0], "unsol") == 0 && n >= 4)
		rc = data_out_pdu(num(f[1]), ISCSI_RESERVED_TAG, num(f[2]),
		    num(f[3]), 0, f[4] != NULL && num(f[4]));
	else if (strcmp(f[0], "tmf") == 0 && n >= 3)
		rc = tmf_step(num(f[1]), num(f[2]), f[3] != NULL ?
		    num(f[3]) : ISCSI_RESERVED_TAG, f[3] != NULL ? f[4] : NULL);
	else if (strcmp(f[0], "nop") == 0 && n >= 2)
		rc = nop_step(num(f[1]));
	else if (strcmp(f[0], "op") == 0 && n >= 2)
		rc = op_step(num(f[1]), f[2] != NULL ? num(f[2]) : 0x99);
	else if (strcmp(f[0], "text") == 0 && n >= 3)
		rc = text_step(num(f[1]), num(f[2]), num(f[3]));
	else if (strcmp(f[0], "textkey") == 0 && n >= 3)
		rc = text_exchange(num(f[1]), f[2], strlen(f[2]) + 1, 0, 1);
	else if (strcmp(f[0], "textttt") == 0 && n >= 3)
		rc = text_pdu(num(f[1]), htobe32(num(f[2])), ISCSI_FLAG_FINAL,
		    NULL, 0);
	else if (strcmp(f[0], "logout") == 0 && n >= 2)
		rc = logout_step(num(f[1]), num(f[2]));
	else if (strcmp(f[0], "recv") == 0 && n >= 2) {
		uint32_t i;

		for (i = 0; i < num(f[1]) && rc == 0; i++)
			rc = wait_for(-1, ISCSI_RESERVED_TAG, timeout_ms);
	} else if (strcmp(f[0], "until") == 0 && n >= 2)
		rc = wait_for(num(f[1]), ISCSI_RESERVED_TAG, timeout_ms);
	else if (strcmp(f[0], "idle") == 0 && n >= 2) {
		rc = wait_for(0x100, ISCSI_RESERVED_TAG, num(f[1]) * 1000);
		if (rc == -2)
			out("quiet");
		rc = 0;
	} else if (strcmp(f[0], "silent") == 0)
		silent = 1;
	else if (strcmp(f[0], "sleep") == 0 && n >= 2)
		usleep(num(f[1]) * 1000);
	else if (strcmp(f[0], "sn") == 0)
		out("sn cmdsn=%u expcmdsn=%u maxcmdsn=%u", S->cmdsn,
		    S->expcmdsn, S->maxcmdsn);
	else {
		fprintf(stderr, "ffpdu: bad step %s\n", st);
		exit(2);
	}
	return (rc);
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: ffpdu [-t seconds] [-m mrdsl] "
	    "[-k Key=Value]... host port target step...\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	int	 ch, i;

	while ((ch = getopt(argc, argv, "k:m:t:")) != -1) {
		switch (ch) {
		case 'k':
			if (nkopts == (int)(sizeof(kopts) / sizeof(kopts[0])))
				usage();
			kopts[nkopts++] = optarg;
			break;
		case 'm':
			our_mrdsl = num(optarg);
			break;
		case 't':
			timeout_ms = (int)num(optarg) * 1000;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 3 || timeout_ms <= 0 || our_mrdsl < 512)
		usage();
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	host = argv[0];
	port = argv[1];
	target = argv[2];
	if (use_session(0) != 0)
		return (1);
	for (i = 3; i < argc; i++)
		if (step(argv[i]) != 0)
			return (1);
	return (0);
}
