/*
 * iscsi-hold: one iSCSI session kept open across steps, so that a test
 * can change the target in between (a reload) and see what the same
 * I_T nexus gets afterwards (libiscsi, synchronous).
 *
 * usage: iscsi-hold [-i initiator] url step ...
 *
 * The session logs in to the url's target and LUN (libiscsi's full
 * connect, which clears a new login's unit attentions); each step is one
 * argument:
 *
 *	lun N		address LUN N from now on
 *	tur		TEST UNIT READY
 *	cap		READ CAPACITY(16): "cap: GOOD blocks=N bs=B"
 *	read LBA N	READ(16) of N blocks: "read: GOOD <first 8 bytes in
 *			hex>"
 *	write LBA N HH	WRITE(16) of N blocks, every byte 0xHH
 *	writelong LBA N HH LEN
 *			the same WRITE(16), with LEN bytes of data (its
 *			Expected Data Transfer Length): "writelong: ..."
 *	luns		REPORT LUNS: "luns: GOOD <lun> ..."
 *	wait FILE	create FILE.ready, then wait (answering NOP-Ins) until
 *			FILE.go exists, at most 60 s
 *	readloop FILE N	READ(16) of N blocks at LBA 0, again and again, until
 *			FILE exists or a read is not GOOD: "readloop: <count>
 *			GOOD" and the status of the last one; FILE.ready is
 *			created after the first read
 *
 * Each step prints one line: "op: GOOD [data]", "op: sense K/ASC/ASCQ"
 * (hex) or "op: status 0xSS".  Exits 0 when every step ran (whatever its
 * status), 2 on a usage or connection error.
 */
#include <sys/stat.h>

#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define DEFAULT_INITIATOR "iqn.2026-11.org.ietd:regress-hold"
#define WAIT_SEC	60
#define XFER_MAX	(8 * 1024 * 1024)

static struct iscsi_context	*iscsi;
static int			 cur_lun;
static uint32_t			 blocksize = 512;

static void
die(const char *what)
{
	fprintf(stderr, "iscsi-hold: %s: %s\n", what,
	    iscsi != NULL ? iscsi_get_error(iscsi) : "failed");
	exit(2);
}

/* Print "op: " and the status; true if GOOD (the line is left open). */
static bool
status(const char *op, struct scsi_task *task)
{
	if (task == NULL)
		die(op);
	printf("%s: ", op);
	switch (task->status) {
	case SCSI_STATUS_GOOD:
		printf("GOOD");
		return (true);
	case SCSI_STATUS_CHECK_CONDITION:
		printf("sense %x/%02x/%02x\n", task->sense.key,
		    (task->sense.ascq >> 8) & 0xff, task->sense.ascq & 0xff);
		break;
	default:
		printf("status 0x%02x\n", task->status);
		break;
	}
	return (false);
}

static uint64_t
number(const char *s)
{
	char	*end;
	uint64_t v;

	v = strtoull(s, &end, 0);
	if (*s == '\0' || *end != '\0') {
		fprintf(stderr, "iscsi-hold: bad number \"%s\"\n", s);
		exit(2);
	}
	return (v);
}

static bool
exists(const char *path, const char *suffix)
{
	char		name[4096];
	struct stat	sb;

	snprintf(name, sizeof(name), "%s%s", path, suffix);
	return (stat(name, &sb) == 0);
}

static void
touch(const char *path, const char *suffix)
{
	char	 name[4096];
	FILE	*f;

	snprintf(name, sizeof(name), "%s%s", path, suffix);
	if ((f = fopen(name, "w")) == NULL) {
		perror(name);
		exit(2);
	}
	fclose(f);
}

static void
op_cap(void)
{
	struct scsi_task		*task;
	struct scsi_readcapacity16	*rc;

	task = iscsi_readcapacity16_sync(iscsi, cur_lun);
	if (status("cap", task)) {
		if ((rc = scsi_datain_unmarshall(task)) == NULL)
			die("cap: unmarshall");
		blocksize = rc->block_length;
		printf(" blocks=%" PRIu64 " bs=%u\n", rc->returned_lba + 1,
		    rc->block_length);
	}
	scsi_free_scsi_task(task);
}

static bool
op_read(const char *op, uint64_t lba, uint32_t n, bool quiet)
{
	struct scsi_task	*task;
	bool			 good;
	int			 i;

	if ((uint64_t)n * blocksize > XFER_MAX)
		die("read: too long");
	task = iscsi_read16_sync(iscsi, cur_lun, lba, n * blocksize,
	    blocksize, 0, 0, 0, 0, 0);
	if (task == NULL)
		die(op);
	good = task->status == SCSI_STATUS_GOOD;
	if (!quiet || !good) {
		status(op, task);
		if (good) {
			for (i = 0; i < 8 && i < task->datain.size; i++)
				printf("%s%02x", i == 0 ? " " : "",
				    task->datain.data[i]);
			printf("\n");
		}
	}
	scsi_free_scsi_task(task);
	return (good);
}

/* WRITE(16) of n blocks at lba carrying len bytes of byte (its EDTL);
 * the answer is printed as op's. */
static void
op_write(const char *op, uint64_t lba, uint32_t n, uint8_t byte,
    uint64_t len)
{
	struct scsi_task	*task;
	struct iscsi_data	 d;
	uint8_t			*buf;

	if (len > XFER_MAX || len == 0 || (buf = malloc(len)) == NULL)
		die("write: too long");
	memset(buf, byte, len);
	if ((task = scsi_cdb_write16(lba, n * blocksize, blocksize, 0, 0, 0,
	    0, 0)) == NULL)
		die("write: cdb");
	task->expxferlen = (int)len;
	d.data = buf;
	d.size = len;
	if (iscsi_scsi_command_sync(iscsi, cur_lun, task, &d) == NULL)
		die(op);
	if (status(op, task))
		printf("\n");
	scsi_free_scsi_task(task);
	free(buf);
}

static void
op_luns(void)
{
	struct scsi_task		*task;
	struct scsi_reportluns_list	*list;
	uint32_t			 i;

	task = iscsi_reportluns_sync(iscsi, 0, 4096);
	if (status("luns", task)) {
		if ((list = scsi_datain_unmarshall(task)) == NULL)
			die("luns: unmarshall");
		for (i = 0; i < list->num; i++)
			printf(" %u", list->luns[i]);
		printf("\n");
	}
	scsi_free_scsi_task(task);
}

/* Keep the session alive (NOP-In answers) until FILE.go exists. */
static void
op_wait(const char *file)
{
	struct pollfd	pfd;
	time_t		end = time(NULL) + WAIT_SEC;

	touch(file, ".ready");
	while (!exists(file, ".go")) {
		if (time(NULL) > end) {
			fprintf(stderr, "iscsi-hold: %s.go never came\n",
			    file);
			exit(2);
		}
		pfd.fd = iscsi_get_fd(iscsi);
		pfd.events = iscsi_which_events(iscsi);
		if (poll(&pfd, 1, 50) == -1)
			die("poll");
		if (pfd.revents != 0 && iscsi_service(iscsi, pfd.revents) < 0)
			die("service");
	}
	printf("wait: GOOD\n");
}

static void
op_readloop(const char *file, uint32_t n)
{
	uint64_t	count = 0;

	while (!exists(file, "")) {
		if (!op_read("readloop", 0, n, true))
			break;
		if (count++ == 0)
			touch(file, ".ready");
	}
	printf("readloop: %" PRIu64 " GOOD\n", count);
}

static const struct {
	const char	*name;
	int		 nargs;
} ops[] = {
	{ "lun", 1 }, { "tur", 0 }, { "cap", 0 }, { "read", 2 },
	{ "write", 3 }, { "luns", 0 }, { "wait", 1 }, { "readloop", 2 },
	{ "writelong", 4 },
};

static void
op_tur(void)
{
	struct scsi_task	*task;

	task = iscsi_testunitready_sync(iscsi, cur_lun);
	if (status("tur", task))
		printf("\n");
	scsi_free_scsi_task(task);
}

/* Run the step at argv[0]; how many arguments it took, itself too. */
static int
step(int argc, char **argv)
{
	const char	*op = argv[0];
	size_t		 k;

	for (k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
		if (strcmp(ops[k].name, op) == 0)
			break;
	if (k == sizeof(ops) / sizeof(ops[0]) || ops[k].nargs >= argc) {
		fprintf(stderr, "iscsi-hold: bad step \"%s\"\n", op);
		exit(2);
	}
	if (strcmp(op, "lun") == 0)
		cur_lun = (int)number(argv[1]);
	else if (strcmp(op, "tur") == 0)
		op_tur();
	else if (strcmp(op, "cap") == 0)
		op_cap();
	else if (strcmp(op, "read") == 0)
		op_read("read", number(argv[1]), (uint32_t)number(argv[2]),
		    false);
	else if (strcmp(op, "write") == 0)
		op_write(op, number(argv[1]), (uint32_t)number(argv[2]),
		    (uint8_t)number(argv[3]),
		    (uint64_t)number(argv[2]) * blocksize);
	else if (strcmp(op, "writelong") == 0)
		op_write(op, number(argv[1]), (uint32_t)number(argv[2]),
		    (uint8_t)number(argv[3]), number(argv[4]));
	else if (strcmp(op, "luns") == 0)
		op_luns();
	else if (strcmp(op, "wait") == 0)
		op_wait(argv[1]);
	else
		op_readloop(argv[1], (uint32_t)number(argv[2]));
	fflush(stdout);
	return (1 + ops[k].nargs);
}

int
main(int argc, char **argv)
{
	struct iscsi_url	*url;
	const char		*name = DEFAULT_INITIATOR;
	int			 ch, i;

	while ((ch = getopt(argc, argv, "i:")) != -1) {
		switch (ch) {
		case 'i':
			name = optarg;
			break;
		default:
			fprintf(stderr, "usage: iscsi-hold [-i initiator] "
			    "url step ...\n");
			return (2);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return (2);
	if ((iscsi = iscsi_create_context(name)) == NULL)
		die("iscsi_create_context");
	if ((url = iscsi_parse_full_url(iscsi, argv[0])) == NULL)
		die("bad url");
	/* A target that went away is an error, not a reason to retry
	 * forever (libiscsi's default). */
	iscsi_set_noautoreconnect(iscsi, 1);
	iscsi_set_targetname(iscsi, url->target);
	iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(iscsi, ISCSI_HEADER_DIGEST_NONE);
	cur_lun = url->lun;
	if (iscsi_full_connect_sync(iscsi, url->portal, url->lun) != 0)
		die("login");
	for (i = 1; i < argc;)
		i += step(argc - i, argv + i);
	iscsi_logout_sync(iscsi);
	iscsi_destroy_url(url);
	iscsi_destroy_context(iscsi);
	return (0);
}
