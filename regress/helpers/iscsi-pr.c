/*
 * iscsi-pr: drive reservations and unit attentions of one iSCSI LUN from
 * two sessions with different initiator names (libiscsi, synchronous).
 *
 * usage: iscsi-pr [-i name1] [-I name2] url step ...
 *
 * Each step is one argument, "[N:]op [arg ...]", run in order on session
 * N (1 or 2, default 1).  A session logs in when first used (libiscsi's
 * full connect, which clears the unit attentions of a new login with
 * TEST UNIT READY) with the ISID 0x80000N000000, so that a session of
 * a later run is the same I_T nexus.  Ops:
 *
 *	tur, read, write		TEST UNIT READY, READ(10) and WRITE(10)
 *					of block 0
 *	reserve, release		RESERVE(6), RELEASE(6)
 *	reserve10, release10		RESERVE(10), RELEASE(10)
 *	register KEY SAKEY [FLAGS [TID ...]]
 *	ignore SAKEY [FLAGS]		REGISTER (AND IGNORE EXISTING KEY);
 *					FLAGS: "-" or letters a (APTPL),
 *					t (ALL_TG_PT); TIDs set SPEC_I_PT
 *	pr-reserve KEY TYPE		PR OUT RESERVE
 *	pr-release KEY TYPE		PR OUT RELEASE
 *	clear KEY
 *	preempt KEY SAKEY TYPE, preempt-abort KEY SAKEY TYPE
 *	move KEY SAKEY TID [unreg]	REGISTER AND MOVE
 *	raw SA BYTE2 [HEX]		PERSISTENT RESERVE OUT with CDB byte 2
 *					(scope and type) and the parameter
 *					list given in hex (its length too)
 *	keys				READ KEYS: "gen=G KEY ..."
 *	resv				READ RESERVATION: "gen=G type=T key=K"
 *					or "gen=G none"
 *	caps				REPORT CAPABILITIES, 8 bytes in hex
 *	status				READ FULL STATUS: "KEY a=ALL_TG_PT
 *					h=R_HOLDER type=T rtp=R TID" each
 *	wce 0|1				MODE SELECT(6) of the caching page
 *	sense				REQUEST SENSE: "sense K/ASC/ASCQ"
 *	logout				log the session out
 *	lun-reset, warm-reset		LOGICAL UNIT RESET, TARGET WARM RESET
 *					("N op: GOOD" or "N op: failed")
 *
 * TIDs are "name" (format 00h) or "name,i,0x<isid>" (01h); KEY is a
 * number (0x for hex), TYPE the PR type code.  Prints one line per step:
 * "N op: GOOD [data]", "N op: CONFLICT", "N op: sense K/ASC/ASCQ" (hex)
 * or "N op: status 0xSS".  Exits 0 when every step ran (whatever its
 * status), 2 on a usage or connection error.
 */
#include <sys/types.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define NAME1	"iqn.2026-11.org.ietd:regress-pr-1"
#define NAME2	"iqn.2026-11.org.ietd:regress-pr-2"
#define MAXARGS	16

static struct iscsi_context	*sess[3];
static const char		*names[3] = { NULL, NAME1, NAME2 };
static struct iscsi_context	*urlctx;	/* owns url */
static struct iscsi_url		*url;

static void
put_be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, v >> 16);
	put_be16(p + 2, v);
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, v >> 32);
	put_be32(p + 4, v);
}

static uint32_t
get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]);
}

static uint64_t
get_be64(const uint8_t *p)
{
	return ((uint64_t)get_be32(p) << 32 | get_be32(p + 4));
}

static void
die(const char *what, struct iscsi_context *iscsi)
{
	fprintf(stderr, "iscsi-pr: %s: %s\n", what,
	    iscsi != NULL ? iscsi_get_error(iscsi) : "failed");
	exit(2);
}

static struct iscsi_context *
session(int n)
{
	struct iscsi_context	*iscsi;

	if (sess[n] != NULL)
		return (sess[n]);
	if ((iscsi = iscsi_create_context(names[n])) == NULL)
		die("iscsi_create_context", NULL);
	iscsi_set_targetname(iscsi, url->target);
	iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(iscsi, ISCSI_HEADER_DIGEST_NONE);
	/* A target that went away is an error, not a reason to retry
	 * forever (libiscsi's default). */
	iscsi_set_noautoreconnect(iscsi, 1);
	iscsi_set_isid_random(iscsi, n << 16, 0);
	if (iscsi_full_connect_sync(iscsi, url->portal, url->lun) != 0)
		die("login", iscsi);
	return (sess[n] = iscsi);
}

/* Run one CDB; print the status; returns the task if GOOD. */
static struct scsi_task *
run(int n, const char *op, uint8_t *cdb, int cdblen, int dir, int xfer,
    uint8_t *out, size_t outlen)
{
	struct iscsi_context	*iscsi = session(n);
	struct scsi_task	*task;
	struct iscsi_data	 d, *dp = NULL;

	if ((task = scsi_create_task(cdblen, cdb, dir, xfer)) == NULL)
		die("scsi_create_task", NULL);
	if (out != NULL) {
		d.data = out;
		d.size = outlen;
		dp = &d;
	}
	if (iscsi_scsi_command_sync(iscsi, url->lun, task, dp) == NULL)
		die(op, iscsi);
	printf("%d %s: ", n, op);
	switch (task->status) {
	case SCSI_STATUS_GOOD:
		printf("GOOD");
		return (task);
	case SCSI_STATUS_RESERVATION_CONFLICT:
		printf("CONFLICT\n");
		break;
	case SCSI_STATUS_CHECK_CONDITION:
		printf("sense %x/%02x/%02x\n", task->sense.key,
		    (task->sense.ascq >> 8) & 0xff, task->sense.ascq & 0xff);
		break;
	default:
		printf("status 0x%02x\n", task->status);
		break;
	}
	scsi_free_scsi_task(task);
	return (NULL);
}

static void
done(struct scsi_task *task)
{
	if (task != NULL) {
		printf("\n");
		scsi_free_scsi_task(task);
	}
}

static uint64_t
num(const char *s)
{
	char		*end;
	uint64_t	 v;

	v = strtoull(s, &end, 0);
	if (*s == '\0' || *end != '\0') {
		fprintf(stderr, "iscsi-pr: bad number %s\n", s);
		exit(2);
	}
	return (v);
}

/* An iSCSI TransportID for s; returns its length. */
static size_t
tid(const char *s, uint8_t *p)
{
	size_t	n = strlen(s), len = (n + 1 + 3) & ~(size_t)3;

	memset(p, 0, 4 + len);
	p[0] = (strchr(s, ',') != NULL ? 0x40 : 0) | 0x05;
	put_be16(p + 2, len);
	memcpy(p + 4, s, n);
	return (4 + len);
}

static void
pr_out(int n, const char *op, int sa, int type, uint8_t *p, size_t len)
{
	uint8_t	cdb[10];

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x5f;
	cdb[1] = sa;
	cdb[2] = type;
	put_be32(cdb + 5, len);
	done(run(n, op, cdb, 10, SCSI_XFER_WRITE, len, p, len));
}

/* REGISTER (sa 0) or REGISTER AND IGNORE EXISTING KEY (sa 6). */
static void
pr_register(int n, const char *op, int sa, char **av, int ac)
{
	uint8_t	p[24 + 4 + MAXARGS * 264];
	size_t	len = 24, tl = 0;
	int	i = sa == 0 ? 2 : 1;

	memset(p, 0, sizeof(p));
	if (sa == 0)
		put_be64(p, num(av[0]));
	put_be64(p + 8, num(av[i - 1]));
	if (ac > i) {
		if (strchr(av[i], 'a') != NULL)
			p[20] |= 0x01;
		if (strchr(av[i], 't') != NULL)
			p[20] |= 0x04;
	}
	if (ac > i + 1) {
		p[20] |= 0x08;
		for (i++; i < ac; i++)
			tl += tid(av[i], p + 28 + tl);
		put_be32(p + 24, tl);
		len = 28 + tl;
	}
	pr_out(n, op, sa, 0, p, len);
}

static void
pr_in(int n, const char *op, int sa)
{
	struct scsi_task	*t;
	uint8_t			 cdb[10], *d;
	uint32_t		 len, i, dl;

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x5e;
	cdb[1] = sa;
	put_be16(cdb + 7, 8192);
	if ((t = run(n, op, cdb, 10, SCSI_XFER_READ, 8192, NULL, 0)) ==
	    NULL)
		return;
	d = t->datain.data;
	len = t->datain.size;
	if (sa == 2) {
		for (i = 0; i < len && i < 8; i++)
			printf(" %02x", d[i]);
	} else if (len >= 8) {
		printf(" gen=%u", get_be32(d));
		dl = get_be32(d + 4);
		if (dl > len - 8)
			dl = len - 8;
		if (sa == 0)
			for (i = 0; i + 8 <= dl; i += 8)
				printf(" 0x%" PRIx64, get_be64(d + 8 + i));
		else if (sa == 1 && dl >= 16)
			printf(" type=%u key=0x%" PRIx64, d[21] & 0x0f,
			    get_be64(d + 8));
		else if (sa == 1)
			printf(" none");
		else
			for (i = 0; i + 24 <= dl; ) {
				uint32_t tl = get_be32(d + 8 + i + 20);
				printf("\n  0x%" PRIx64 " a=%d h=%d type=%u "
				    "rtp=%u %.*s", get_be64(d + 8 + i),
				    (d[8 + i + 12] >> 1) & 1,
				    d[8 + i + 12] & 1, d[8 + i + 13] & 0x0f,
				    d[8 + i + 18] << 8 | d[8 + i + 19],
				    (int)(tl > 4 ? tl - 4 : 0),
				    (const char *)d + 8 + i + 28);
				i += 24 + tl;
			}
	}
	done(t);
}

static void
wce(int n, int on)
{
	struct scsi_task	*t;
	uint8_t			 cdb[6], p[4 + 20];

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x1a;			/* MODE SENSE(6), DBD, caching */
	cdb[1] = 0x08;
	cdb[2] = 0x08;
	cdb[4] = sizeof(p);
	if ((t = run(n, "modesense", cdb, 6, SCSI_XFER_READ, sizeof(p),
	    NULL, 0)) == NULL)
		return;
	printf("\n");
	if (t->datain.size < (int)sizeof(p)) {
		fprintf(stderr, "iscsi-pr: short MODE SENSE\n");
		exit(2);
	}
	memcpy(p, t->datain.data, sizeof(p));
	scsi_free_scsi_task(t);
	p[0] = 0;			/* MODE DATA LENGTH: reserved */
	p[2] = 0;
	p[4] &= 0x7f;			/* PS */
	p[6] = (p[6] & ~0x04) | (on ? 0x04 : 0);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x15;			/* MODE SELECT(6), PF */
	cdb[1] = 0x10;
	cdb[4] = sizeof(p);
	done(run(n, "wce", cdb, 6, SCSI_XFER_WRITE, sizeof(p), p,
	    sizeof(p)));
}

static void
simple(int n, const char *op, uint8_t c0, int cdblen, int dir, int xfer)
{
	struct scsi_task	*t;
	uint8_t			 cdb[16], blk[512];

	memset(cdb, 0, sizeof(cdb));
	memset(blk, 0x5a, sizeof(blk));
	cdb[0] = c0;
	if (c0 == 0x28 || c0 == 0x2a)
		cdb[8] = 1;
	if (c0 == 0x03)
		cdb[4] = 18;
	t = run(n, op, cdb, cdblen, dir, xfer, dir == SCSI_XFER_WRITE ?
	    blk : NULL, sizeof(blk));
	if (t != NULL && c0 == 0x03 && t->datain.size >= 14)
		printf(" sense %x/%02x/%02x", t->datain.data[2] & 0x0f,
		    t->datain.data[12], t->datain.data[13]);
	done(t);
}

static void
raw(int n, const char *op, char **av, int ac)
{
	uint8_t		 p[1024];
	size_t		 len = 0;
	const char	*h = ac > 2 ? av[2] : "";
	unsigned int	 b;

	while (h[0] != '\0' && h[1] != '\0' && len < sizeof(p)) {
		if (sscanf(h, "%2x", &b) != 1) {
			fprintf(stderr, "iscsi-pr: bad hex %s\n", h);
			exit(2);
		}
		p[len++] = b;
		h += 2;
	}
	pr_out(n, op, num(av[0]), num(av[1]), p, len);
}

/* The steps: one function each, with the arguments after the op. */
static void
op_simple(int n, const char *op, char **av, int ac)
{
	static const struct {
		const char	*name;
		uint8_t		 opcode;
		int		 cdblen, dir, xfer;
	} t[] = {
		{ "tur", 0x00, 6, SCSI_XFER_NONE, 0 },
		{ "read", 0x28, 10, SCSI_XFER_READ, 512 },
		{ "write", 0x2a, 10, SCSI_XFER_WRITE, 512 },
		{ "sense", 0x03, 6, SCSI_XFER_READ, 18 },
		{ "reserve", 0x16, 6, SCSI_XFER_NONE, 0 },
		{ "release", 0x17, 6, SCSI_XFER_NONE, 0 },
		{ "reserve10", 0x56, 10, SCSI_XFER_NONE, 0 },
		{ "release10", 0x57, 10, SCSI_XFER_NONE, 0 },
	};
	size_t	i;

	for (i = 0; strcmp(t[i].name, op) != 0; i++)
		;
	simple(n, op, t[i].opcode, t[i].cdblen, t[i].dir, t[i].xfer);
}

static void
op_register(int n, const char *op, char **av, int ac)
{
	pr_register(n, op, strcmp(op, "register") == 0 ? 0 : 6, av, ac);
}

/* pr-reserve, pr-release, clear, preempt, preempt-abort */
static void
op_keys(int n, const char *op, char **av, int ac)
{
	uint8_t	p[24];
	int	sa, type = 0;

	memset(p, 0, sizeof(p));
	put_be64(p, num(av[0]));
	if (strcmp(op, "clear") == 0)
		sa = 3;
	else if (strncmp(op, "pr-", 3) == 0) {
		sa = strcmp(op, "pr-reserve") == 0 ? 1 : 2;
		type = num(av[1]);
	} else {
		sa = strcmp(op, "preempt") == 0 ? 4 : 5;
		put_be64(p + 8, num(av[1]));
		type = num(av[2]);
	}
	pr_out(n, op, sa, type, p, sizeof(p));
}

static void
op_move(int n, const char *op, char **av, int ac)
{
	uint8_t	p[24 + 264];
	size_t	tl;

	memset(p, 0, sizeof(p));
	put_be64(p, num(av[0]));
	put_be64(p + 8, num(av[1]));
	if (ac > 3 && strcmp(av[3], "unreg") == 0)
		p[17] = 0x02;
	put_be16(p + 18, 1);
	tl = tid(av[2], p + 24);
	put_be32(p + 20, tl);
	pr_out(n, op, 7, 0, p, 24 + tl);
}

static void
op_in(int n, const char *op, char **av, int ac)
{
	static const char	*sa[] = { "keys", "resv", "caps", "status" };
	int			 i;

	for (i = 0; strcmp(sa[i], op) != 0; i++)
		;
	pr_in(n, op, i);
}

static void
op_wce(int n, const char *op, char **av, int ac)
{
	wce(n, num(av[0]) != 0);
}

static void
op_reset(int n, const char *op, char **av, int ac)
{
	int	rc;

	if (strcmp(op, "lun-reset") == 0)
		rc = iscsi_task_mgmt_lun_reset_sync(session(n), url->lun);
	else
		rc = iscsi_task_mgmt_target_warm_reset_sync(session(n));
	printf("%d %s: %s\n", n, op, rc == 0 ? "GOOD" : "failed");
}

static void
op_logout(int n, const char *op, char **av, int ac)
{
	if (sess[n] != NULL) {
		iscsi_logout_sync(sess[n]);
		iscsi_destroy_context(sess[n]);
		sess[n] = NULL;
	}
	printf("%d logout: GOOD\n", n);
}

static const struct {
	const char	*name;
	int		 minargs;
	void		(*fn)(int, const char *, char **, int);
} ops[] = {
	{ "tur", 0, op_simple }, { "read", 0, op_simple },
	{ "write", 0, op_simple }, { "sense", 0, op_simple },
	{ "reserve", 0, op_simple }, { "release", 0, op_simple },
	{ "reserve10", 0, op_simple }, { "release10", 0, op_simple },
	{ "register", 2, op_register }, { "ignore", 1, op_register },
	{ "pr-reserve", 2, op_keys }, { "pr-release", 2, op_keys },
	{ "clear", 1, op_keys }, { "preempt", 3, op_keys },
	{ "preempt-abort", 3, op_keys }, { "move", 3, op_move },
	{ "raw", 2, raw }, { "keys", 0, op_in }, { "resv", 0, op_in },
	{ "caps", 0, op_in }, { "status", 0, op_in }, { "wce", 1, op_wce },
	{ "lun-reset", 0, op_reset }, { "warm-reset", 0, op_reset },
	{ "logout", 0, op_logout },
};

static void
step(char *s)
{
	char	*av[MAXARGS + 1], *op, *w;
	int	 n = 1, ac = 0;
	size_t	 i;

	if (s[0] >= '1' && s[0] <= '2' && s[1] == ':') {
		n = s[0] - '0';
		s += 2;
	}
	op = strsep(&s, " ");
	while ((w = strsep(&s, " ")) != NULL && ac < MAXARGS)
		if (*w != '\0')
			av[ac++] = w;
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(ops[i].name, op) == 0 && ac >= ops[i].minargs) {
			ops[i].fn(n, op, av, ac);
			fflush(stdout);
			return;
		}
	fprintf(stderr, "iscsi-pr: bad step \"%s\"\n", op);
	exit(2);
}

int
main(int argc, char **argv)
{
	int	ch, i;

	while ((ch = getopt(argc, argv, "i:I:")) != -1) {
		switch (ch) {
		case 'i':
			names[1] = optarg;
			break;
		case 'I':
			names[2] = optarg;
			break;
		default:
			fprintf(stderr, "usage: iscsi-pr [-i name1] "
			    "[-I name2] url step ...\n");
			return (2);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return (2);
	if ((urlctx = iscsi_create_context(NAME1)) == NULL ||
	    (url = iscsi_parse_full_url(urlctx, argv[0])) == NULL)
		die("bad url", urlctx);
	for (i = 1; i < argc; i++)
		step(argv[i]);
	for (i = 1; i <= 2; i++)
		if (sess[i] != NULL) {
			iscsi_logout_sync(sess[i]);
			iscsi_destroy_context(sess[i]);
		}
	iscsi_destroy_url(url);
	iscsi_destroy_context(urlctx);
	return (0);
}
