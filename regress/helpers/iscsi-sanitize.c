/*
 * iscsi-sanitize: start a SANITIZE OVERWRITE on an iSCSI LUN, or look at
 * a LUN while one runs (libiscsi, synchronous API).
 *
 * usage: iscsi-sanitize [-I] [-b bs] [-p byte] [-i initiator] url
 *	      iscsi-sanitize -t | -r [-d] | -R [-i initiator] url
 *
 *	(default)	SANITIZE OVERWRITE, one pass, every block filled with
 *			byte (-p, default 0x5a); -I sets IMMED.  Waits for
 *			the status.  The pattern is one block, of the size
 *			READ CAPACITY(16) reports, or -b bs (no READ
 *			CAPACITY, which fails while a sanitize runs).
 *	-t		TEST UNIT READY
 *	-r		REQUEST SENSE (-d: descriptor format); the sense
 *			data it returns is printed as sense of the command
 *	-R		READ(16) of block 0
 *
 * Prints "GOOD" or "sense KEY/ASC/ASCQ" (hex), followed by
 * " progress N" when the sense key specific field is valid (for NOT
 * READY: the progress indication, 0-65535).  Exits 0 for GOOD (and for
 * -r), 1 for another status, 2 on a usage or connection error.
 */
#include <sys/types.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define DEFAULT_INITIATOR "iqn.2026-11.org.ietd:regress-sanitize"

static int
result(struct iscsi_context *iscsi, struct scsi_task *task)
{
	int	rc = 1;

	if (task == NULL) {
		fprintf(stderr, "iscsi-sanitize: %s\n",
		    iscsi_get_error(iscsi));
		return (2);
	}
	if (task->status == SCSI_STATUS_GOOD) {
		printf("GOOD\n");
		rc = 0;
	} else if (task->status == SCSI_STATUS_CHECK_CONDITION) {
		printf("sense %x/%02x/%02x", task->sense.key,
		    (task->sense.ascq >> 8) & 0xff, task->sense.ascq & 0xff);
		if (task->sense.sense_specific)
			printf(" progress %u", task->sense.field_pointer);
		printf("\n");
	} else
		printf("status 0x%02x\n", task->status);
	scsi_free_scsi_task(task);
	return (rc);
}

/* REQUEST SENSE: print the returned sense data, fixed or descriptor. */
static int
request_sense(struct iscsi_context *iscsi, int lun, bool desc)
{
	struct scsi_task	*task;
	const uint8_t		*d, *p = NULL;
	unsigned char		 cdb[6];
	int			 n;

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x03;
	cdb[1] = desc ? 0x01 : 0;
	cdb[4] = 252;
	if ((task = scsi_create_task(6, cdb, SCSI_XFER_READ, 252)) == NULL)
		return (2);
	if (iscsi_scsi_command_sync(iscsi, lun, task, NULL) == NULL ||
	    task->status != SCSI_STATUS_GOOD) {
		fprintf(stderr, "iscsi-sanitize: REQUEST SENSE failed\n");
		scsi_free_scsi_task(task);
		return (2);
	}
	d = task->datain.data;
	n = task->datain.size;
	if (n >= 8 && (d[0] & 0x7f) == 0x72) {
		printf("sense %x/%02x/%02x", d[1] & 0x0f, d[2], d[3]);
		if (n >= 16 && d[8] == 0x02 && d[9] == 0x06)
			p = d + 12;
	} else if (n >= 14 && (d[0] & 0x7f) == 0x70) {
		printf("sense %x/%02x/%02x", d[2] & 0x0f, d[12], d[13]);
		if (n >= 18)
			p = d + 15;
	} else {
		fprintf(stderr, "iscsi-sanitize: bad sense data\n");
		scsi_free_scsi_task(task);
		return (2);
	}
	if (p != NULL && (p[0] & 0x80))
		printf(" progress %u", (unsigned)(p[1] << 8 | p[2]));
	printf("\n");
	scsi_free_scsi_task(task);
	return (0);
}

static int
sanitize(struct iscsi_context *iscsi, int lun, int immed, int byte,
    uint32_t bs)
{
	struct scsi_task	*task;
	struct scsi_readcapacity16 *rc16;
	struct iscsi_data	 data;

	if (bs != 0)
		goto send;
	task = iscsi_readcapacity16_sync(iscsi, lun);
	if (task == NULL || task->status != SCSI_STATUS_GOOD ||
	    (rc16 = scsi_datain_unmarshall(task)) == NULL) {
		fprintf(stderr, "iscsi-sanitize: READ CAPACITY(16) failed\n");
		return (2);
	}
	bs = rc16->block_length;
	scsi_free_scsi_task(task);
send:
	data.size = bs + 4;
	if ((data.data = malloc(data.size)) == NULL)
		return (2);
	data.data[0] = 0x01;		/* OVERWRITE COUNT 1 */
	data.data[1] = 0;
	data.data[2] = bs >> 8;
	data.data[3] = bs & 0xff;
	memset(data.data + 4, byte, bs);
	task = iscsi_sanitize_sync(iscsi, lun, immed, 0,
	    SCSI_SANITIZE_OVERWRITE, data.size, &data);
	free(data.data);
	return (result(iscsi, task));
}

static void
usage(void)
{
	fprintf(stderr, "usage: iscsi-sanitize [-dIRrt] [-b bs] [-p byte] "
	    "[-i initiator] url\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct iscsi_context	*iscsi;
	struct iscsi_url	*url;
	const char		*initiator = DEFAULT_INITIATOR;
	int			 ch, mode = 's', immed = 0, byte = 0x5a, rc;
	uint32_t		 bs = 0;
	bool			 desc = false;

	while ((ch = getopt(argc, argv, "b:di:Ip:Rrt")) != -1) {
		switch (ch) {
		case 'b':
			bs = (uint32_t)strtoul(optarg, NULL, 0);
			if (bs < 512 || bs > 4096)
				usage();
			break;
		case 'd':
			desc = true;
			break;
		case 'i':
			initiator = optarg;
			break;
		case 'I':
			immed = 1;
			break;
		case 'p':
			byte = (int)strtol(optarg, NULL, 0) & 0xff;
			break;
		case 'R':
		case 'r':
		case 't':
			mode = ch;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 1)
		usage();
	if ((iscsi = iscsi_create_context(initiator)) == NULL)
		return (2);
	if ((url = iscsi_parse_full_url(iscsi, argv[optind])) == NULL) {
		fprintf(stderr, "iscsi-sanitize: %s\n",
		    iscsi_get_error(iscsi));
		iscsi_destroy_context(iscsi);
		return (2);
	}
	iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
	/* A target that went away is an error, not a reason to retry
	 * forever (libiscsi's default). */
	iscsi_set_noautoreconnect(iscsi, 1);
	if (iscsi_full_connect_sync(iscsi, url->portal, url->lun) != 0) {
		fprintf(stderr, "iscsi-sanitize: %s\n",
		    iscsi_get_error(iscsi));
		rc = 2;
		goto out;
	}
	switch (mode) {
	case 't':
		rc = result(iscsi, iscsi_testunitready_sync(iscsi, url->lun));
		break;
	case 'r':
		rc = request_sense(iscsi, url->lun, desc);
		break;
	case 'R':
		rc = result(iscsi, iscsi_read16_sync(iscsi, url->lun, 0, 512,
		    512, 0, 0, 0, 0, 0));
		break;
	default:
		rc = sanitize(iscsi, url->lun, immed, byte, bs);
		break;
	}
	iscsi_logout_sync(iscsi);
out:
	iscsi_destroy_url(url);
	iscsi_destroy_context(iscsi);
	return (rc);
}
