/*
 * rawpdu: connect to an iSCSI portal, send one hand-made first PDU and
 * print what comes back, so that tests can assert on how a target treats
 * malformed input before login.
 *
 * usage: rawpdu [-t seconds] host port case [value]
 *
 * cases:
 *	login		a valid discovery Login Request (security stage, T=1,
 *			NSG=operational): the positive control
 *	scsi-cmd	a SCSI Command (READ(10) of LUN 0) before any login
 *	unknown-op	a PDU with a reserved initiator opcode (0x0e)
 *	nop-out		a NOP-Out before any login
 *	big-login	a Login Request whose DataSegmentLength (65536) is over
 *			the 8192 bytes allowed in the login phase, followed
 *			by that much data
 *	bad-version	a Login Request with VersionMin 0x10 (unsupported)
 *	no-initiator	a Login Request without an InitiatorName key
 *	no-nul		a Login Request whose text data lacks the final NUL
 *	truncated	the first 20 bytes of a Login Request, then a
 *			half-close
 *	bad-ahs		a Login Request with TotalAHSLength 255 and no AHS
 *	normal-login [target]
 *			a valid Login Request for a normal session to target
 *			(without TargetName if none is given)
 *	sendtargets [value]
 *			a whole discovery session: login to the full feature
 *			phase, Text Request SendTargets=<value> (default All),
 *			Logout; prints "text <key>=<value>" for every key of
 *			the answer and "logout response=<n>"
 *
 * Output, one line per PDU received (followed by "text key=value" lines
 * for the keys of a Login or Text Response), then how the connection ended:
 *	pdu opcode=0x23 login status-class=0x02 status-detail=0x07 t=0 nsg=0
 *	pdu opcode=0x3f reject reason=0x04
 *	pdu opcode=0x..
 *	closed			the target closed (EOF or reset)
 *	open			nothing more within -t seconds (default 10)
 * Exit status 0 when the case was sent and the answer read, 1 on a local
 * error (cannot connect, ...), 2 on a usage error.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <arpa/inet.h>
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

#define INITIATOR	"iqn.2026-11.org.ietd:regress-rawpdu"
#define BIG_DATA_LEN	65536

static int timeout_ms = 10000;
/* normal-login: the TargetName to ask for ("" for none); NULL: discovery. */
static const char *normal_target;

/*
 * Login keys: InitiatorName (unless with_initiator is 0), SessionType,
 * TargetName for a normal session (unless target is NULL), AuthMethod.
 */
static size_t
login_keys(char *buf, size_t size, int with_initiator)
{
	size_t len = 0;
	int n;

	if (with_initiator) {
		n = snprintf(buf, size, "InitiatorName=%s", INITIATOR);
		len = (size_t)n + 1;
	}
	if (normal_target == NULL) {
		n = snprintf(buf + len, size - len, "SessionType=Discovery");
		len += (size_t)n + 1;
	} else {
		n = snprintf(buf + len, size - len, "SessionType=Normal");
		len += (size_t)n + 1;
		if (*normal_target != '\0') {
			n = snprintf(buf + len, size - len, "TargetName=%s",
			    normal_target);
			len += (size_t)n + 1;
		}
	}
	n = snprintf(buf + len, size - len, "AuthMethod=None");
	len += (size_t)n + 1;
	return (len);
}

static void
login_bhs(struct iscsi_login_req *req, uint32_t data_len)
{
	memset(req, 0, sizeof(*req));
	req->opcode = ISCSI_OP_LOGIN_REQ | ISCSI_OP_IMMEDIATE;
	req->flags = ISCSI_LOGIN_T |
	    (ISCSI_STAGE_SECURITY << 2) | ISCSI_STAGE_OPERATIONAL;
	req->version_max = 0;
	req->version_min = 0;
	pk_put24(req->data_len, data_len);
	req->isid[0] = 0x80;		/* random ISID format */
	req->isid[5] = 0x42;
	req->itt = htobe32(1);
	req->cid = htobe16(0);
	req->cmdsn = htobe32(1);
	req->expstatsn = htobe32(0);
}

/* One login PDU: BHS, keys (optionally without the last NUL), padding. */
static int
send_login(int fd, int with_initiator, int drop_nul, uint8_t vmin)
{
	struct iscsi_login_req req;
	char keys[512];
	uint8_t pdu[sizeof(req) + sizeof(keys) + 4];
	size_t len, total;

	memset(keys, 0, sizeof(keys));
	len = login_keys(keys, sizeof(keys), with_initiator);
	if (drop_nul)
		len--;
	login_bhs(&req, (uint32_t)len);
	req.version_min = vmin;
	req.version_max = vmin;
	memset(pdu, 0, sizeof(pdu));
	memcpy(pdu, &req, sizeof(req));
	memcpy(pdu + sizeof(req), keys, len);
	total = sizeof(req) + len + pdu_padding(len);
	return (pk_send_all(fd, pdu, total));
}

static int
send_scsi_cmd(int fd)
{
	struct iscsi_scsi_cmd cmd;

	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = ISCSI_OP_SCSI_CMD;
	cmd.flags = ISCSI_FLAG_FINAL | ISCSI_CMD_READ | 1;	/* SIMPLE */
	cmd.itt = htobe32(1);
	cmd.edtl = htobe32(512);
	cmd.cmdsn = htobe32(1);
	cmd.cdb[0] = 0x28;	/* READ(10) */
	cmd.cdb[8] = 1;		/* one block at LBA 0 */
	return (pk_send_all(fd, &cmd, sizeof(cmd)));
}

static int
send_bare(int fd, uint8_t opcode)
{
	struct iscsi_bhs bhs;

	memset(&bhs, 0, sizeof(bhs));
	bhs.opcode = opcode | ISCSI_OP_IMMEDIATE;
	bhs.flags = ISCSI_FLAG_FINAL;
	bhs.itt = htobe32(1);
	bhs.ttt = htobe32(ISCSI_RESERVED_TAG);
	bhs.sn24 = htobe32(1);
	return (pk_send_all(fd, &bhs, sizeof(bhs)));
}

static int
send_big_login(int fd)
{
	struct iscsi_login_req req;
	uint8_t *data;
	size_t len;
	int rc;

	if ((data = calloc(1, BIG_DATA_LEN)) == NULL)
		err(1, "calloc");
	len = login_keys((char *)data, BIG_DATA_LEN, 1);
	(void)len;
	login_bhs(&req, BIG_DATA_LEN);
	if (pk_send_all(fd, &req, sizeof(req)) == -1) {
		free(data);
		return (-1);
	}
	/* The target may close before reading it all: that is fine. */
	rc = pk_send_all(fd, data, BIG_DATA_LEN);
	(void)rc;
	free(data);
	return (0);
}

static int
send_truncated(int fd)
{
	struct iscsi_login_req req;

	login_bhs(&req, 0);
	if (pk_send_all(fd, &req, 20) == -1)
		return (-1);
	shutdown(fd, SHUT_WR);
	return (0);
}

static int
send_bad_ahs(int fd)
{
	struct iscsi_login_req req;

	login_bhs(&req, 0);
	req.total_ahs_len = 255;
	return (pk_send_all(fd, &req, sizeof(req)));
}

static void
print_pdu(const struct iscsi_bhs *bhs)
{
	const struct iscsi_login_rsp *lr;
	const struct iscsi_reject *rj;
	int op = bhs->opcode & ISCSI_OP_MASK;

	switch (op) {
	case ISCSI_OP_LOGIN_RSP:
		lr = (const struct iscsi_login_rsp *)bhs;
		printf("pdu opcode=0x%02x login status-class=0x%02x "
		    "status-detail=0x%02x t=%d nsg=%d\n", op, lr->status_class,
		    lr->status_detail, (lr->flags & ISCSI_LOGIN_T) != 0,
		    ISCSI_LOGIN_NSG(lr->flags));
		break;
	case ISCSI_OP_REJECT:
		rj = (const struct iscsi_reject *)bhs;
		printf("pdu opcode=0x%02x reject reason=0x%02x\n", op,
		    rj->reason);
		break;
	default:
		printf("pdu opcode=0x%02x\n", op);
		break;
	}
}

static void
shorten(struct timespec *deadline, time_t secs)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec + secs < deadline->tv_sec) {
		deadline->tv_sec = now.tv_sec + secs;
		deadline->tv_nsec = now.tv_nsec;
	}
}


/*
 * Read one PDU: BHS into *bhs, data segment (NUL-terminated, without
 * padding) into a malloc'd *data.  Returns 0, 1 on EOF or reset, 2 on
 * timeout.
 */
static int
recv_pdu(int fd, struct iscsi_bhs *bhs, char **data, size_t *len,
    const struct timespec *deadline)
{
	uint8_t *d;
	int rc;

	rc = pk_recv_pdu(fd, bhs, &d, len, SIZE_MAX, deadline);
	*data = (char *)d;
	return (rc == PK_CLOSED ? 1 : rc == PK_TIMEOUT ? 2 : 0);
}

static void
print_keys(const char *data, size_t len)
{
	size_t i = 0;

	while (i < len) {
		if (data[i] != '\0')
			printf("text %s\n", data + i);
		i += strlen(data + i) + 1;
	}
}

/* A discovery session: login, SendTargets=<value>, logout. */
static int
discovery(int fd, const char *value)
{
	struct iscsi_login_req req;
	struct iscsi_login_rsp *lr;
	struct iscsi_text tx;
	struct iscsi_logout_req lo;
	struct iscsi_bhs bhs;
	struct timespec deadline;
	char keys[512], *data;
	uint8_t pdu[sizeof(req) + sizeof(keys) + 4];
	size_t klen, len;
	uint32_t cmdsn = 1, statsn = 0;
	int csg = ISCSI_STAGE_SECURITY, round, n;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	memset(keys, 0, sizeof(keys));
	klen = login_keys(keys, sizeof(keys), 1);
	for (round = 0; round < 4; round++) {
		login_bhs(&req, (uint32_t)klen);
		req.flags = ISCSI_LOGIN_T | (csg << 2) | ISCSI_STAGE_FULL;
		req.cmdsn = htobe32(cmdsn);
		req.expstatsn = htobe32(statsn);
		memset(pdu, 0, sizeof(pdu));
		memcpy(pdu, &req, sizeof(req));
		memcpy(pdu + sizeof(req), keys, klen);
		if (pk_send_all(fd, pdu,
		    sizeof(req) + klen + pdu_padding(klen)))
			return (-1);
		if (recv_pdu(fd, &bhs, &data, &len, &deadline) != 0)
			return (-1);
		free(data);
		print_pdu(&bhs);
		lr = (struct iscsi_login_rsp *)&bhs;
		if ((bhs.opcode & ISCSI_OP_MASK) != ISCSI_OP_LOGIN_RSP ||
		    lr->status_class != 0)
			return (-1);
		statsn = be32toh(lr->statsn) + 1;
		if ((lr->flags & ISCSI_LOGIN_T) != 0) {
			csg = ISCSI_LOGIN_NSG(lr->flags);
			if (csg == ISCSI_STAGE_FULL)
				break;
		}
		klen = 0;	/* everything has been offered */
	}
	if (csg != ISCSI_STAGE_FULL)
		return (-1);

	n = snprintf(keys, sizeof(keys), "SendTargets=%s", value);
	klen = (size_t)n + 1;
	memset(&tx, 0, sizeof(tx));
	tx.opcode = ISCSI_OP_TEXT_REQ | ISCSI_OP_IMMEDIATE;
	tx.flags = ISCSI_FLAG_FINAL;
	pk_put24(tx.data_len, (uint32_t)klen);
	tx.itt = htobe32(2);
	tx.ttt = htobe32(ISCSI_RESERVED_TAG);
	tx.sn24 = htobe32(cmdsn);
	tx.sn28 = htobe32(statsn);
	memset(pdu, 0, sizeof(pdu));
	memcpy(pdu, &tx, sizeof(tx));
	memcpy(pdu + sizeof(tx), keys, klen);
	if (pk_send_all(fd, pdu, sizeof(tx) + klen + pdu_padding(klen)) == -1)
		return (-1);
	if (recv_pdu(fd, &bhs, &data, &len, &deadline) != 0)
		return (-1);
	print_pdu(&bhs);
	if ((bhs.opcode & ISCSI_OP_MASK) == ISCSI_OP_TEXT_RSP)
		print_keys(data, len);
	free(data);
	statsn = be32toh(bhs.sn24) + 1;

	memset(&lo, 0, sizeof(lo));
	lo.opcode = ISCSI_OP_LOGOUT_REQ | ISCSI_OP_IMMEDIATE;
	lo.flags = ISCSI_FLAG_FINAL | LOGOUT_CLOSE_SESSION;
	lo.itt = htobe32(3);
	lo.cmdsn = htobe32(cmdsn);
	lo.expstatsn = htobe32(statsn);
	if (pk_send_all(fd, &lo, sizeof(lo)) == -1)
		return (-1);
	if (recv_pdu(fd, &bhs, &data, &len, &deadline) != 0)
		return (-1);
	free(data);
	print_pdu(&bhs);
	if ((bhs.opcode & ISCSI_OP_MASK) == ISCSI_OP_LOGOUT_RSP)
		printf("logout response=%d\n",
		    ((struct iscsi_logout_rsp *)&bhs)->response);
	return (0);
}

/* Print every PDU, with login and text keys, until a close or silence. */
static void
read_answers(int fd)
{
	struct iscsi_bhs bhs;
	struct timespec deadline;
	char *data;
	size_t len;
	int rc = 0, npdu, op;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	for (npdu = 0; npdu < 16; npdu++) {
		rc = recv_pdu(fd, &bhs, &data, &len, &deadline);
		if (rc != 0)
			break;
		print_pdu(&bhs);
		op = bhs.opcode & ISCSI_OP_MASK;
		if (op == ISCSI_OP_LOGIN_RSP || op == ISCSI_OP_TEXT_RSP)
			print_keys(data, len);
		free(data);
		fflush(stdout);
		/* After an answer, only wait a little for the close. */
		if (npdu == 0)
			shorten(&deadline, 2);
	}
	if (npdu == 16)
		rc = 2;
	printf("%s\n", rc == 1 ? "closed" : "open");
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: rawpdu [-t seconds] host port case [value]\n"
	    "cases: login scsi-cmd unknown-op nop-out big-login bad-version\n"
	    "       no-initiator no-nul truncated bad-ahs normal-login\n"
	    "       sendtargets\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	const char *c;
	char *end;
	long v;
	int ch, fd, rc;

	while ((ch = getopt(argc, argv, "t:")) != -1) {
		switch (ch) {
		case 't':
			v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v < 1 || v > 600)
				usage();
			timeout_ms = (int)v * 1000;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 3 && !(argc == 4 && (strcmp(argv[2], "sendtargets") == 0 ||
	    strcmp(argv[2], "normal-login") == 0)))
		usage();
	signal(SIGPIPE, SIG_IGN);
	c = argv[2];
	fd = pk_xdial(argv[0], argv[1], 0);
	if (strcmp(c, "sendtargets") == 0) {
		rc = discovery(fd, argc == 4 ? argv[3] : "All");
		close(fd);
		return (rc == 0 ? 0 : 1);
	}
	if (strcmp(c, "normal-login") == 0) {
		normal_target = argc == 4 ? argv[3] : "";
		rc = send_login(fd, 1, 0, 0);
	} else if (strcmp(c, "login") == 0)
		rc = send_login(fd, 1, 0, 0);
	else if (strcmp(c, "scsi-cmd") == 0)
		rc = send_scsi_cmd(fd);
	else if (strcmp(c, "unknown-op") == 0)
		rc = send_bare(fd, 0x0e);
	else if (strcmp(c, "nop-out") == 0)
		rc = send_bare(fd, ISCSI_OP_NOP_OUT);
	else if (strcmp(c, "big-login") == 0)
		rc = send_big_login(fd);
	else if (strcmp(c, "bad-version") == 0)
		rc = send_login(fd, 1, 0, 0x10);
	else if (strcmp(c, "no-initiator") == 0)
		rc = send_login(fd, 0, 0, 0);
	else if (strcmp(c, "no-nul") == 0)
		rc = send_login(fd, 1, 1, 0);
	else if (strcmp(c, "truncated") == 0)
		rc = send_truncated(fd);
	else if (strcmp(c, "bad-ahs") == 0)
		rc = send_bad_ahs(fd);
	else
		usage();
	if (rc == -1) {
		/* Closed before we finished sending: still an answer. */
		printf("closed\n");
		close(fd);
		return (0);
	}
	read_answers(fd);
	close(fd);
	return (0);
}
