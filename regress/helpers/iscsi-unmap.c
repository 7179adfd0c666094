/*
 * iscsi-unmap: deallocate, or write, a range of blocks of an iSCSI LUN
 * and print how the target answered (libiscsi, synchronous API).
 *
 * usage: iscsi-unmap [-Ww] [-c blocks] [-i initiator] -l lba -n blocks
 *	      iscsi://host:port/target/lun
 *
 *	(default)	one UNMAP with one descriptor for the range
 *	-W		WRITE SAME(16) with UNMAP and a block of zeroes,
 *			-c blocks per command
 *	-w		WRITE(16) of non-zero data, -c blocks per command
 *			(default 64), stopping at the first failure
 *
 * Prints "GOOD", or "sense KEY/ASC/ASCQ" (hex) of the failed command.
 * Exits 0 when every command succeeded, 1 when one failed, 2 on a usage
 * or connection error.
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

#define DEFAULT_INITIATOR "iqn.2026-11.org.ietd:regress-unmap"

static int
result(struct iscsi_context *iscsi, struct scsi_task *task)
{
	int	rc;

	if (task == NULL) {
		fprintf(stderr, "iscsi-unmap: %s\n", iscsi_get_error(iscsi));
		return (2);
	}
	if (task->status == SCSI_STATUS_GOOD) {
		scsi_free_scsi_task(task);
		return (0);
	}
	if (task->status == SCSI_STATUS_CHECK_CONDITION) {
		printf("sense %x/%02x/%02x\n", task->sense.key,
		    (task->sense.ascq >> 8) & 0xff, task->sense.ascq & 0xff);
		rc = 1;
	} else {
		printf("status 0x%02x\n", task->status);
		rc = 1;
	}
	scsi_free_scsi_task(task);
	return (rc);
}

static void
usage(void)
{
	fprintf(stderr, "usage: iscsi-unmap [-Ww] [-c blocks] "
	    "[-i initiator] -l lba -n blocks url\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct iscsi_context	*iscsi;
	struct iscsi_url	*url;
	struct unmap_list	 ul;
	struct scsi_task	*task;
	struct scsi_readcapacity16 *rc16;
	const char		*initiator = DEFAULT_INITIATOR;
	unsigned char		*data = NULL;
	uint64_t		 lba = UINT64_MAX, n = 0, done, chunk, per = 64;
	uint32_t		 bs;
	int			 ch, mode = 'u', rc = 0;

	while ((ch = getopt(argc, argv, "c:i:l:n:Ww")) != -1) {
		switch (ch) {
		case 'c':
			per = strtoull(optarg, NULL, 0);
			break;
		case 'i':
			initiator = optarg;
			break;
		case 'l':
			lba = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			n = strtoull(optarg, NULL, 0);
			break;
		case 'W':
		case 'w':
			mode = ch;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 1 || lba == UINT64_MAX || n == 0 || per == 0 ||
	    per > 4096)
		usage();

	if ((iscsi = iscsi_create_context(initiator)) == NULL)
		return (2);
	if ((url = iscsi_parse_full_url(iscsi, argv[optind])) == NULL) {
		fprintf(stderr, "iscsi-unmap: %s\n", iscsi_get_error(iscsi));
		iscsi_destroy_context(iscsi);
		return (2);
	}
	iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
	/* A target that went away is an error, not a reason to retry
	 * forever (libiscsi's default). */
	iscsi_set_noautoreconnect(iscsi, 1);
	if (iscsi_full_connect_sync(iscsi, url->portal, url->lun) != 0) {
		fprintf(stderr, "iscsi-unmap: %s\n", iscsi_get_error(iscsi));
		rc = 2;
		goto out;
	}
	task = iscsi_readcapacity16_sync(iscsi, url->lun);
	if (task == NULL || task->status != SCSI_STATUS_GOOD ||
	    (rc16 = scsi_datain_unmarshall(task)) == NULL) {
		fprintf(stderr, "iscsi-unmap: READ CAPACITY(16) failed\n");
		rc = 2;
		goto logout;
	}
	bs = rc16->block_length;
	scsi_free_scsi_task(task);

	if (mode == 'u') {
		ul.lba = lba;
		ul.num = (uint32_t)n;
		rc = result(iscsi, iscsi_unmap_sync(iscsi, url->lun, 0, 0,
		    &ul, 1));
		goto logout;
	}
	if ((data = calloc(per, bs)) == NULL) {
		rc = 2;
		goto logout;
	}
	if (mode == 'w')
		memset(data, 0xa5, per * bs);
	for (done = 0; done < n && rc == 0; done += chunk) {
		chunk = n - done < per ? n - done : per;
		if (mode == 'W')
			task = iscsi_writesame16_sync(iscsi, url->lun,
			    lba + done, data, bs, (uint32_t)chunk, 0, 1, 0, 0);
		else
			task = iscsi_write16_sync(iscsi, url->lun, lba + done,
			    data, (uint32_t)(chunk * bs), (int)bs, 0, 0, 0, 0,
			    0);
		rc = result(iscsi, task);
	}
logout:
	if (rc == 0)
		printf("GOOD\n");
	iscsi_logout_sync(iscsi);
out:
	free(data);
	iscsi_destroy_url(url);
	iscsi_destroy_context(iscsi);
	return (rc);
}
