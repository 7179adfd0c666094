/*
 * sesspdu: a scripted raw-PDU initiator that can hold several connections
 * at once, so that tests can log in twice with one ISID or TSIH (session
 * and connection reinstatement), add connections to a session (MC/S),
 * send commands out of CmdSN order across them, and push the login phase
 * past its limits.  libiscsi can do none of this.
 *
 * usage: sesspdu [-t seconds] host port target < script
 *
 * The script has one command per line (# starts a comment); <c> is a
 * connection slot 0-7.  All connections share one session state: the
 * ISID, the TSIH of the last successful login and the next CmdSN.
 *
 *	login <c> [isid=<12 hex>] [tsih=<n>|tsih=last] [cid=<n>]
 *	    [cmdsn=<n>] [pdus=<n>] [nkeys=<n>] [keylen=<n>]
 *	    [kprefix=<name>] [twice] [key=value ...]
 *		connect and log in to the full feature phase, starting in
 *		the operational stage (no authentication).  SessionType
 *		goes only on a leading login (TSIH 0).  pdus=n
 *		first sends n Login Requests that do not ask to transit;
 *		nkeys=n adds n keys named kprefix (X-ietd-test-) and a
 *		number, with keylen-byte values
 *		(in C-bit continuations when over 8192 bytes); twice sends
 *		the given keys again in the second request.  Prints
 *		"login <c> status=0x<ssss> tsih=<n>" and "key <c> <k>=<v>"
 *		for every key of the answers, then "window <c>
 *		expcmdsn=<n> maxcmdsn=<n>" of the last answer.  cmdsn=n
 *		puts n in the requests' CmdSN instead of the next one.
 *	write <c> <lba> <byte> [cmdsn|+k]
 *		WRITE(10) of one 512-byte block of <byte> as immediate
 *		data; CmdSN is the next one (which advances) unless given,
 *		+k is k after the next one (which stays).  Does not wait.
 *	write2 <c> <lba> <byte> [cmdsn|+k]
 *		the same for two blocks: the first as immediate data, the
 *		second in an unsolicited Data-Out.
 *	write2r <c> <lba> <byte> [cmdsn|+k]
 *		the same, but the command is final: the second block
 *		waits for an R2T, which is never answered.
 *	read <c> <lba> [cmdsn|+k]
 *		READ(10) of one block.  Does not wait.
 *	recv <c>
 *		read one PDU and print "recv <c> op=0x<oo> itt=<n>
 *		status=0x<ss> expcmdsn=<n> maxcmdsn=<n>"; a Data-In also
 *		prints "data <c> byte=0x<bb>" (its first byte), a Logout
 *		Response "logout <c> response=<n>"; or "recv <c> closed",
 *		"recv <c> timeout".
 *	quiet <c> <ms>
 *		"quiet <c> yes" if nothing arrives within ms, else "quiet
 *		<c> no" (the PDU is left unread).
 *	logout <c> <reason> <cid>
 *		an immediate Logout Request.  Does not wait.
 *	abort <c>
 *		an immediate ABORT TASK for the last command sent; its
 *		answer prints "tmf <c> response=<n>".
 *	close <c>
 *	waitlog <file> <n> <string>
 *		wait (up to -t) until the file has at least n lines with
 *		string (the rest of the line); prints "waitlog ok" or
 *		"waitlog timeout".
 *
 * Exit status 0 when the script ran (whatever the target answered), 1 on
 * a local error, 2 on a usage or script error.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <endian.h>
#include <err.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pdukit.h"

#define INITIATOR	"iqn.2026-11.org.ietd:regress-sesspdu"
#define NSLOTS		8
#define BLOCK		512
#define TEXT_MAX	(512 * 1024)
#define ARGS_MAX	64

static int		 timeout_ms = 10000;
static const char	*host, *port, *target;
static int		 fds[NSLOTS] = { -1, -1, -1, -1, -1, -1, -1, -1 };
static uint32_t		 expstatsn[NSLOTS];
static uint8_t		 isid[6] = { 0x80, 0x12, 0x34, 0x56, 0x00, 0x01 };
static uint16_t		 last_tsih;
static uint32_t		 cmdsn = 1, itt = 0x100;
static uint32_t		 last_itt, last_cmdsn;	/* the last command's */

/* One PDU; *data is malloc'd and NUL-terminated.  0, 1 closed, 2 timeout. */
static int
recv_pdu(int fd, struct iscsi_bhs *bhs, char **data, size_t *len)
{
	struct timespec dl;
	uint8_t *d;
	int rc;

	pk_deadline(&dl, timeout_ms);
	rc = pk_recv_pdu(fd, bhs, &d, len, SIZE_MAX, &dl);
	*data = (char *)d;
	return (rc == PK_CLOSED ? 1 : rc == PK_TIMEOUT ? 2 : 0);
}

static void
print_keys(int c, const char *data, size_t len)
{
	size_t i = 0;

	while (i < len) {
		if (data[i] != '\0')
			printf("key %d %s\n", c, data + i);
		i += strlen(data + i) + 1;
	}
}

static int
slot(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 0 || v >= NSLOTS)
		errx(2, "bad slot %s", s);
	return ((int)v);
}

static unsigned long
number(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (*s == '\0' || *end != '\0' || errno != 0)
		errx(2, "bad number %s", s);
	return (v);
}

struct login_opts {
	uint16_t	 tsih;
	uint16_t	 cid;
	uint32_t	 cmdsn;		/* CmdSN of the requests */
	unsigned	 pdus;
	unsigned	 nkeys;
	unsigned	 keylen;
	const char	*kprefix;	/* names of the nkeys keys */
	int		 twice;		/* given keys again in request 2 */
	size_t		 extra;		/* where the given keys start */
	char		*text;		/* the first request's keys */
	size_t		 len;
};

static void
text_add(struct login_opts *o, const char *kv)
{
	size_t n = strlen(kv) + 1;

	if (o->len + n > TEXT_MAX)
		errx(2, "login text too long");
	memcpy(o->text + o->len, kv, n);
	o->len += n;
}

static void
login_parse(struct login_opts *o, int argc, char **argv)
{
	char buf[ISCSI_NAME_MAX + 320], *v;
	unsigned i, k;
	int a;

	memset(o, 0, sizeof(*o));
	o->keylen = 8;
	o->kprefix = "X-ietd-test-";
	o->cmdsn = cmdsn;
	if ((o->text = malloc(TEXT_MAX)) == NULL)
		err(1, "malloc");
	for (a = 0; a < argc; a++) {
		if (strncmp(argv[a], "isid=", 5) == 0) {
			v = argv[a] + 5;
			if (strlen(v) != 12)
				errx(2, "isid needs 12 hex digits");
			for (i = 0; i < 6; i++) {
				if (sscanf(v + 2 * i, "%2x", &k) != 1)
					errx(2, "bad isid");
				isid[i] = (uint8_t)k;
			}
		} else if (strcmp(argv[a], "tsih=last") == 0)
			o->tsih = last_tsih;
		else if (strncmp(argv[a], "tsih=", 5) == 0)
			o->tsih = (uint16_t)number(argv[a] + 5);
		else if (strncmp(argv[a], "cid=", 4) == 0)
			o->cid = (uint16_t)number(argv[a] + 4);
		else if (strncmp(argv[a], "pdus=", 5) == 0)
			o->pdus = (unsigned)number(argv[a] + 5);
		else if (strncmp(argv[a], "nkeys=", 6) == 0)
			o->nkeys = (unsigned)number(argv[a] + 6);
		else if (strncmp(argv[a], "keylen=", 7) == 0)
			o->keylen = (unsigned)number(argv[a] + 7);
		else if (strncmp(argv[a], "kprefix=", 8) == 0)
			o->kprefix = argv[a] + 8;
		else if (strncmp(argv[a], "cmdsn=", 6) == 0)
			o->cmdsn = (uint32_t)number(argv[a] + 6);
		else if (strcmp(argv[a], "twice") == 0)
			o->twice = 1;
	}
	snprintf(buf, sizeof(buf), "InitiatorName=%s", INITIATOR);
	text_add(o, buf);
	if (o->tsih == 0)
		text_add(o, "SessionType=Normal");
	snprintf(buf, sizeof(buf), "TargetName=%s", target);
	text_add(o, buf);
	o->extra = o->len;
	for (a = 0; a < argc; a++)
		if (strchr(argv[a], '=') != NULL &&
		    strncmp(argv[a], "isid=", 5) != 0 &&
		    strncmp(argv[a], "tsih=", 5) != 0 &&
		    strncmp(argv[a], "cid=", 4) != 0 &&
		    strncmp(argv[a], "pdus=", 5) != 0 &&
		    strncmp(argv[a], "nkeys=", 6) != 0 &&
		    strncmp(argv[a], "keylen=", 7) != 0 &&
		    strncmp(argv[a], "cmdsn=", 6) != 0 &&
		    strncmp(argv[a], "kprefix=", 8) != 0)
			text_add(o, argv[a]);
	for (i = 0; i < o->nkeys; i++) {
		if (o->keylen > sizeof(buf) - 32)
			errx(2, "keylen too long");
		if (strlen(o->kprefix) > 56)
			errx(2, "kprefix too long");
		k = (unsigned)snprintf(buf, sizeof(buf), "%s%u=", o->kprefix,
		    i);
		memset(buf + k, 'v', o->keylen);
		buf[k + o->keylen] = '\0';
		text_add(o, buf);
	}
}

/*
 * One login request: text split into 8192-byte PDUs with the C bit (the
 * target answers each but the last with an empty response).  Returns
 * the final answer's BHS, or -1 when the connection ended first.
 */
/*
 * The target continues its answer (C bit): ask for each piece with an
 * empty Login Request, join them, print the keys once, and report how
 * many pieces came ("login N pieces=K").
 */
static int
login_answer_rest(int c, const struct login_opts *o, uint8_t flags,
    struct iscsi_login_rsp *rsp, char *text, size_t len)
{
	struct iscsi_login_req req;
	struct iscsi_bhs bhs;
	char *data;
	size_t dlen;
	unsigned pieces = 1;
	int rc;

	while (rsp->status_class == 0 && (rsp->flags & ISCSI_LOGIN_C)) {
		memset(&req, 0, sizeof(req));
		req.opcode = ISCSI_OP_LOGIN_REQ | ISCSI_OP_IMMEDIATE;
		req.flags = flags;
		memcpy(req.isid, isid, sizeof(isid));
		req.tsih = htobe16(o->tsih);
		req.itt = htobe32(itt);
		req.cid = htobe16(o->cid);
		req.cmdsn = htobe32(o->cmdsn);
		req.expstatsn = htobe32(expstatsn[c]);
		if (pk_send_pdu(fds[c], &req, "", 0) == -1 ||
		    (rc = recv_pdu(fds[c], &bhs, &data, &dlen)) != 0) {
			printf("login %d closed\n", c);
			free(text);
			return (-1);
		}
		memcpy(rsp, &bhs, sizeof(*rsp));
		expstatsn[c] = be32toh(rsp->statsn) + 1;
		if ((text = realloc(text, len + dlen + 1)) == NULL)
			err(1, "realloc");
		memcpy(text + len, data, dlen);
		len += dlen;
		text[len] = '\0';
		free(data);
		pieces++;
	}
	printf("login %d pieces=%u\n", c, pieces);
	print_keys(c, text, len);
	free(text);
	return (0);
}

static int
login_request(int c, const struct login_opts *o, const char *text,
    size_t len, uint8_t flags, struct iscsi_login_rsp *rsp)
{
	struct iscsi_login_req req;
	struct iscsi_bhs bhs;
	char *data;
	size_t off = 0, n, dlen;
	int rc;

	do {
		n = len - off > ISCSI_LOGIN_DATA_MAX ?
		    ISCSI_LOGIN_DATA_MAX : len - off;
		memset(&req, 0, sizeof(req));
		req.opcode = ISCSI_OP_LOGIN_REQ | ISCSI_OP_IMMEDIATE;
		req.flags = off + n < len ? (flags & 0x0c) | ISCSI_LOGIN_C :
		    flags;
		pk_put24(req.data_len, (uint32_t)n);
		memcpy(req.isid, isid, sizeof(isid));
		req.tsih = htobe16(o->tsih);
		req.itt = htobe32(itt);
		req.cid = htobe16(o->cid);
		req.cmdsn = htobe32(o->cmdsn);
		req.expstatsn = htobe32(expstatsn[c]);
		if (pk_send_pdu(fds[c], &req, text + off, n) == -1)
			return (-1);
		off += n;
		if ((rc = recv_pdu(fds[c], &bhs, &data, &dlen)) != 0) {
			printf("login %d %s\n", c,
			    rc == 1 ? "closed" : "timeout");
			return (-1);
		}
		memcpy(rsp, &bhs, sizeof(*rsp));
		expstatsn[c] = be32toh(rsp->statsn) + 1;
		if ((bhs.opcode & ISCSI_OP_MASK) == ISCSI_OP_LOGIN_RSP &&
		    rsp->status_class == 0 && off == len &&
		    (rsp->flags & ISCSI_LOGIN_C))
			return (login_answer_rest(c, o, flags, rsp, data,
			    dlen));
		print_keys(c, data, dlen);
		free(data);
		if ((bhs.opcode & ISCSI_OP_MASK) != ISCSI_OP_LOGIN_RSP ||
		    rsp->status_class != 0)
			return (0);
	} while (off < len);
	return (0);
}

static void
cmd_login(int c, int argc, char **argv)
{
	struct login_opts o;
	struct iscsi_login_rsp rsp;
	uint8_t stay = ISCSI_STAGE_OPERATIONAL << 2;
	uint8_t go = ISCSI_LOGIN_T | stay | ISCSI_STAGE_FULL;
	unsigned i;
	int r;

	login_parse(&o, argc, argv);
	if (fds[c] != -1)
		close(fds[c]);
	fds[c] = pk_xdial(host, port, PK_NODELAY);
	expstatsn[c] = 0;
	itt++;
	memset(&rsp, 0, sizeof(rsp));
	r = login_request(c, &o, o.text, o.len, o.pdus > 0 ? stay : go,
	    &rsp);
	for (i = 1; r == 0 && rsp.status_class == 0 && i <= o.pdus; i++)
		if (i == 1 && o.twice)
			r = login_request(c, &o, o.text + o.extra,
			    o.len - o.extra, i < o.pdus ? stay : go, &rsp);
		else
			r = login_request(c, &o, "", 0, i < o.pdus ? stay : go,
			    &rsp);
	/* Up to three more rounds until the target transits too. */
	for (i = 0; r == 0 && rsp.status_class == 0 && i < 3 &&
	    !((rsp.flags & ISCSI_LOGIN_T) &&
	    ISCSI_LOGIN_NSG(rsp.flags) == ISCSI_STAGE_FULL); i++)
		r = login_request(c, &o, "", 0, go, &rsp);
	free(o.text);
	if (r == -1)
		return;
	printf("login %d status=0x%02x%02x tsih=%u\n", c, rsp.status_class,
	    rsp.status_detail, be16toh(rsp.tsih));
	if (rsp.status_class == 0) {
		last_tsih = be16toh(rsp.tsih);
		cmdsn = be32toh(rsp.expcmdsn);
		printf("window %d expcmdsn=%u maxcmdsn=%u\n", c, cmdsn,
		    be32toh(rsp.maxcmdsn));
	}
}

/* The second block of a write2: unsolicited Data-Out, F bit. */
static int
send_data_out(int c, const uint8_t *block)
{
	struct iscsi_data_out d;

	memset(&d, 0, sizeof(d));
	d.opcode = ISCSI_OP_DATA_OUT;
	d.flags = ISCSI_FLAG_FINAL;
	pk_put24(d.data_len, BLOCK);
	d.itt = htobe32(itt);
	d.ttt = htobe32(ISCSI_RESERVED_TAG);
	d.expstatsn = htobe32(expstatsn[c]);
	d.buffer_offset = htobe32(BLOCK);
	return (pk_send_pdu(fds[c], &d, block, BLOCK));
}

/* write = 2: two blocks, the second by unsolicited Data-Out. */
static void
cmd_rw(int c, int write, int argc, char **argv)
{
	struct iscsi_scsi_cmd cmd;
	uint8_t block[BLOCK];
	uint32_t lba, sn;

	if (argc < (write ? 2 : 1))
		errx(2, "%s: missing arguments", write ? "write" : "read");
	lba = (uint32_t)number(argv[0]);
	if (argc <= (write ? 2 : 1))
		sn = cmdsn++;
	else if (argv[write ? 2 : 1][0] == '+')
		sn = cmdsn + (uint32_t)number(argv[write ? 2 : 1] + 1);
	else
		sn = (uint32_t)number(argv[write ? 2 : 1]);
	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = ISCSI_OP_SCSI_CMD;
	cmd.flags = (write == 2 ? 0 : ISCSI_FLAG_FINAL) |
	    (write ? ISCSI_CMD_WRITE : ISCSI_CMD_READ) | 1 /* simple */;
	cmd.itt = htobe32(++itt);
	last_itt = itt;
	last_cmdsn = sn;
	cmd.edtl = htobe32(write >= 2 ? 2 * BLOCK : BLOCK);
	cmd.cmdsn = htobe32(sn);
	cmd.expstatsn = htobe32(expstatsn[c]);
	cmd.cdb[0] = write ? 0x2a : 0x28;
	cmd.cdb[2] = lba >> 24;
	cmd.cdb[3] = lba >> 16;
	cmd.cdb[4] = lba >> 8;
	cmd.cdb[5] = lba;
	cmd.cdb[8] = write >= 2 ? 2 : 1;
	if (write) {
		memset(block, (int)number(argv[1]), sizeof(block));
		pk_put24(cmd.data_len, BLOCK);
	}
	if (pk_send_pdu(fds[c], &cmd, block, write ? BLOCK : 0) == -1 ||
	    (write == 2 && send_data_out(c, block) == -1))
		printf("%s %d closed\n", write ? "write" : "read", c);
	else
		printf("%s %d itt=%u cmdsn=%u\n", write ? "write" : "read", c,
		    itt, sn);
}

static void
cmd_recv(int c)
{
	struct iscsi_bhs bhs;
	char *data;
	size_t len;
	int rc, op;

	if ((rc = recv_pdu(fds[c], &bhs, &data, &len)) != 0) {
		printf("recv %d %s\n", c, rc == 1 ? "closed" : "timeout");
		return;
	}
	op = bhs.opcode & ISCSI_OP_MASK;
	if (op != ISCSI_OP_DATA_IN || (bhs.flags & ISCSI_DATAIN_STATUS))
		expstatsn[c] = be32toh(bhs.sn24) + 1;
	printf("recv %d op=0x%02x itt=%u status=0x%02x expcmdsn=%u "
	    "maxcmdsn=%u\n", c, op, be32toh(bhs.itt),
	    op == ISCSI_OP_SCSI_RSP || op == ISCSI_OP_DATA_IN ?
	    ((struct iscsi_scsi_rsp *)&bhs)->status : 0,
	    be32toh(bhs.sn28), be32toh(bhs.sn32));
	if (op == ISCSI_OP_DATA_IN && len > 0)
		printf("data %d byte=0x%02x\n", c, (uint8_t)data[0]);
	if (op == ISCSI_OP_TMF_RSP)
		printf("tmf %d response=%d\n", c, bhs.spec[0]);
	if (op == ISCSI_OP_LOGOUT_RSP)
		printf("logout %d response=%d\n", c,
		    ((struct iscsi_logout_rsp *)&bhs)->response);
	free(data);
}

static void
cmd_quiet(int c, const char *ms)
{
	struct pollfd pfd;
	int r;

	pfd.fd = fds[c];
	pfd.events = POLLIN;
	do
		r = poll(&pfd, 1, (int)number(ms));
	while (r == -1 && errno == EINTR);
	if (r == -1)
		err(1, "poll");
	printf("quiet %d %s\n", c, r == 0 ? "yes" : "no");
}

static void
cmd_logout(int c, const char *reason, const char *cid)
{
	struct iscsi_logout_req lo;

	memset(&lo, 0, sizeof(lo));
	lo.opcode = ISCSI_OP_LOGOUT_REQ | ISCSI_OP_IMMEDIATE;
	lo.flags = ISCSI_FLAG_FINAL | (uint8_t)number(reason);
	lo.itt = htobe32(++itt);
	lo.cid = htobe16((uint16_t)number(cid));
	lo.cmdsn = htobe32(cmdsn);
	lo.expstatsn = htobe32(expstatsn[c]);
	if (pk_send_pdu(fds[c], &lo, NULL, 0) == -1)
		printf("logout %d closed\n", c);
}

/* ABORT TASK for the last command, immediate. */
static void
cmd_abort(int c)
{
	struct iscsi_tmf_req t;

	memset(&t, 0, sizeof(t));
	t.opcode = ISCSI_OP_TMF_REQ | ISCSI_OP_IMMEDIATE;
	t.function = ISCSI_FLAG_FINAL | 1;
	t.itt = htobe32(++itt);
	t.rtt = htobe32(last_itt);
	t.cmdsn = htobe32(cmdsn);
	t.expstatsn = htobe32(expstatsn[c]);
	t.refcmdsn = htobe32(last_cmdsn);
	if (pk_send_pdu(fds[c], &t, NULL, 0) == -1)
		printf("abort %d closed\n", c);
}

static unsigned
count_lines(const char *file, const char *s)
{
	FILE *f;
	char line[4096];
	unsigned n = 0;

	if ((f = fopen(file, "r")) == NULL)
		return (0);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, s) != NULL)
			n++;
	fclose(f);
	return (n);
}

static void
cmd_waitlog(const char *file, const char *n, const char *s)
{
	unsigned want = (unsigned)number(n);
	int i;

	for (i = 0; i < timeout_ms / 50; i++) {
		if (count_lines(file, s) >= want) {
			printf("waitlog ok\n");
			return;
		}
		usleep(50000);
	}
	printf("waitlog timeout\n");
}

static void
run(int argc, char **argv)
{
	const char *cmd = argv[0];
	int i;

	if (strcmp(cmd, "waitlog") == 0) {
		if (argc < 4)
			errx(2, "waitlog file n string");
		/* The string is the rest of the line, blanks as one. */
		for (i = 3; i < argc; i++)
			if (i + 1 < argc)
				argv[i][strlen(argv[i])] = ' ';
		cmd_waitlog(argv[1], argv[2], argv[3]);
		return;
	}
	if (argc < 2)
		errx(2, "%s: no slot", cmd);
	if (strcmp(cmd, "login") == 0) {
		cmd_login(slot(argv[1]), argc - 2, argv + 2);
		return;
	}
	if (fds[slot(argv[1])] == -1)
		errx(2, "%s: slot %s is not connected", cmd, argv[1]);
	if (strcmp(cmd, "write") == 0)
		cmd_rw(slot(argv[1]), 1, argc - 2, argv + 2);
	else if (strcmp(cmd, "write2") == 0)
		cmd_rw(slot(argv[1]), 2, argc - 2, argv + 2);
	else if (strcmp(cmd, "write2r") == 0)
		cmd_rw(slot(argv[1]), 3, argc - 2, argv + 2);
	else if (strcmp(cmd, "read") == 0)
		cmd_rw(slot(argv[1]), 0, argc - 2, argv + 2);
	else if (strcmp(cmd, "recv") == 0)
		cmd_recv(slot(argv[1]));
	else if (strcmp(cmd, "quiet") == 0 && argc == 3)
		cmd_quiet(slot(argv[1]), argv[2]);
	else if (strcmp(cmd, "logout") == 0 && argc == 4)
		cmd_logout(slot(argv[1]), argv[2], argv[3]);
	else if (strcmp(cmd, "abort") == 0)
		cmd_abort(slot(argv[1]));
	else if (strcmp(cmd, "close") == 0) {
		close(fds[slot(argv[1])]);
		fds[slot(argv[1])] = -1;
	} else
		errx(2, "unknown command %s", cmd);
}

int
main(int argc, char *argv[])
{
	char line[1024], *args[ARGS_MAX], *p;
	char *end;
	long v;
	int ch, n;

	while ((ch = getopt(argc, argv, "t:")) != -1) {
		switch (ch) {
		case 't':
			v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v < 1 || v > 600)
				errx(2, "bad -t");
			timeout_ms = (int)v * 1000;
			break;
		default:
			errx(2, "usage: sesspdu [-t seconds] host port target");
		}
	}
	if (argc - optind != 3)
		errx(2, "usage: sesspdu [-t seconds] host port target");
	host = argv[optind];
	port = argv[optind + 1];
	target = argv[optind + 2];
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		if ((p = strchr(line, '#')) != NULL)
			*p = '\0';
		n = 0;
		for (p = strtok(line, " \t\n"); p != NULL && n < ARGS_MAX;
		    p = strtok(NULL, " \t\n"))
			args[n++] = p;
		if (n > 0)
			run(n, args);
	}
	return (0);
}
