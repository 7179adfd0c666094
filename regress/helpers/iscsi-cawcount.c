/*
 * iscsi-cawcount: count up a 64-bit counter kept in one block of an
 * iSCSI LUN with COMPARE AND WRITE, as several initiators that share a
 * disk (VMFS's ATS locking) do.  Run several at once, each in its own
 * session: if COMPARE AND WRITE is atomic, no increment is lost.
 *
 * usage: iscsi-cawcount [-i initiator] [-l lba] -n count url
 *
 * Each round reads the block, then COMPARE AND WRITEs it with the counter
 * (the first 8 bytes, big-endian) plus one; a MISCOMPARE means another
 * session got there first, and the round is retried.  Prints "done N
 * retries R" and exits 0 after N increments, 1 on any other answer, 2 on
 * a usage or connection error.
 */
#include <sys/types.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define DEFAULT_INITIATOR "iqn.2026-11.org.ietd:regress-cawcount"
#define BS_MAX		4096
#define RETRY_MAX	100000

static uint64_t
get64(const unsigned char *p)
{
	uint64_t	v = 0;
	int		i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return (v);
}

static void
put64(unsigned char *p, uint64_t v)
{
	int	i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = v & 0xff;
}

int
main(int argc, char **argv)
{
	struct iscsi_context	*iscsi;
	struct iscsi_url	*url;
	struct scsi_task	*task;
	struct scsi_readcapacity16 *rc16;
	const char		*initiator = DEFAULT_INITIATOR;
	unsigned char		 buf[2 * BS_MAX];
	uint64_t		 lba = 0, n = 0, done = 0, retries = 0;
	uint32_t		 bs;
	int			 ch, rc = 2;

	while ((ch = getopt(argc, argv, "i:l:n:")) != -1) {
		switch (ch) {
		case 'i':
			initiator = optarg;
			break;
		case 'l':
			lba = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			n = strtoull(optarg, NULL, 0);
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 1 || n == 0) {
usage:
		fprintf(stderr, "usage: iscsi-cawcount [-i initiator] "
		    "[-l lba] -n count url\n");
		return (2);
	}
	if ((iscsi = iscsi_create_context(initiator)) == NULL)
		return (2);
	if ((url = iscsi_parse_full_url(iscsi, argv[optind])) == NULL) {
		fprintf(stderr, "iscsi-cawcount: %s\n", iscsi_get_error(iscsi));
		iscsi_destroy_context(iscsi);
		return (2);
	}
	iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
	/* A target that went away is an error, not a reason to retry
	 * forever (libiscsi's default). */
	iscsi_set_noautoreconnect(iscsi, 1);
	if (iscsi_full_connect_sync(iscsi, url->portal, url->lun) != 0) {
		fprintf(stderr, "iscsi-cawcount: %s\n", iscsi_get_error(iscsi));
		goto out;
	}
	task = iscsi_readcapacity16_sync(iscsi, url->lun);
	if (task == NULL || task->status != SCSI_STATUS_GOOD ||
	    (rc16 = scsi_datain_unmarshall(task)) == NULL ||
	    rc16->block_length > BS_MAX) {
		fprintf(stderr, "iscsi-cawcount: READ CAPACITY(16) failed\n");
		goto logout;
	}
	bs = rc16->block_length;
	scsi_free_scsi_task(task);

	rc = 1;
	while (done < n && retries < RETRY_MAX) {
		task = iscsi_read16_sync(iscsi, url->lun, lba, bs, bs, 0, 0,
		    0, 0, 0);
		if (task == NULL || task->status != SCSI_STATUS_GOOD ||
		    task->datain.size != (int)bs) {
			fprintf(stderr, "iscsi-cawcount: READ(16) failed\n");
			goto logout;
		}
		memcpy(buf, task->datain.data, bs);
		scsi_free_scsi_task(task);
		memcpy(buf + bs, buf, bs);
		put64(buf + bs, get64(buf) + 1);
		task = iscsi_compareandwrite_sync(iscsi, url->lun, lba, buf,
		    2 * bs, bs, 0, 0, 0, 0, 0);
		if (task == NULL) {
			fprintf(stderr, "iscsi-cawcount: %s\n",
			    iscsi_get_error(iscsi));
			goto logout;
		}
		if (task->status == SCSI_STATUS_GOOD)
			done++;
		else if (task->status == SCSI_STATUS_CHECK_CONDITION &&
		    task->sense.key == SCSI_SENSE_MISCOMPARE)
			retries++;
		else {
			printf("sense %x/%02x/%02x\n", task->sense.key,
			    (task->sense.ascq >> 8) & 0xff,
			    task->sense.ascq & 0xff);
			scsi_free_scsi_task(task);
			goto logout;
		}
		scsi_free_scsi_task(task);
	}
	printf("done %" PRIu64 " retries %" PRIu64 "\n", done, retries);
	if (done == n)
		rc = 0;
logout:
	iscsi_logout_sync(iscsi);
out:
	iscsi_destroy_url(url);
	iscsi_destroy_context(iscsi);
	return (rc);
}
