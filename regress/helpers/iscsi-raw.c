/*
 * iscsi-raw: send one raw CDB to an iSCSI LUN and print how the target
 * answered, as sg_raw does for local disks (libiscsi, synchronous API).
 *
 * usage: iscsi-raw [-i initiator] [-s isid] [-o hex] [-r len] url cdb-byte ...
 *
 *	cdb-byte	the CDB, one hex byte per argument (or runs of hex
 *			digits: "2a 00" and "2a00" are the same); 6 to 16
 *			bytes
 *	-o hex		Data-Out: the bytes to send, in hex (blanks ignored)
 *	-r len		Data-In: expect up to len bytes
 *	-s qualifier	a fixed ISID (random OUI format, this qualifier),
 *			so that runs share one I_T nexus
 *
 * Prints "GOOD" and, with -r, "data <hex>" of what came back; or "sense
 * KEY/ASC/ASCQ" (hex), followed by "info <hex>" when the sense data has a
 * valid INFORMATION field and "sks <hex>" for a valid sense-key specific
 * field; or "status 0xNN".  Exits 0 for GOOD, 1 for any other status, 2
 * on a usage or connection error.
 */
#include <sys/types.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define DEFAULT_INITIATOR "iqn.2026-11.org.ietd:regress-raw"
#define MAX_DATA	(16 * 1024 * 1024)

static void
usage(void)
{
	fprintf(stderr, "usage: iscsi-raw [-i initiator] [-s isid] [-o hex] "
	    "[-r len] url cdb-byte ...\n");
	exit(2);
}

/* Append the hex digits of s to buf (at most max bytes); -1 if bad. */
static int
hex_append(const char *s, unsigned char *buf, size_t max, size_t *len)
{
	int	hi = -1, v;

	for (; *s != '\0'; s++) {
		if (isspace((unsigned char)*s) || *s == ':')
			continue;
		if (!isxdigit((unsigned char)*s))
			return (-1);
		v = isdigit((unsigned char)*s) ? *s - '0' :
		    tolower((unsigned char)*s) - 'a' + 10;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (*len >= max)
			return (-1);
		buf[(*len)++] = (unsigned char)(hi << 4 | v);
		hi = -1;
	}
	return (hi < 0 ? 0 : -1);
}

static void
print_sense(const struct scsi_task *task)
{
	const unsigned char	*s = task->datain.data;
	const unsigned char	*d;
	int			 n;

	printf("sense %x/%02x/%02x\n", task->sense.key,
	    (task->sense.ascq >> 8) & 0xff, task->sense.ascq & 0xff);
	/* libiscsi keeps the raw sense data after the 2-byte length. */
	if (s == NULL || task->datain.size < 4)
		return;
	s += 2;
	n = task->datain.size - 2;
	if ((s[0] & 0x7f) == 0x70 && n >= 18) {
		if (s[0] & 0x80)
			printf("info %02x%02x%02x%02x\n", s[3], s[4], s[5],
			    s[6]);
		if (s[15] & 0x80)
			printf("sks %02x%02x%02x\n", s[15], s[16], s[17]);
		return;
	}
	if ((s[0] & 0x7f) != 0x72)
		return;
	for (d = s + 8; d + 2 <= s + n && d + 2 + d[1] <= s + n;
	    d += 2 + d[1]) {
		if (d[0] == 0x00 && d[1] >= 10 && (d[2] & 0x80))
			printf("info %02x%02x%02x%02x%02x%02x%02x%02x\n",
			    d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11]);
		if (d[0] == 0x02 && d[1] >= 6 && (d[4] & 0x80))
			printf("sks %02x%02x%02x\n", d[4], d[5], d[6]);
	}
}

int
main(int argc, char **argv)
{
	struct iscsi_context	*iscsi;
	struct iscsi_url	*url;
	struct scsi_task	*task;
	struct iscsi_data	 out, *outp = NULL;
	const char		*initiator = DEFAULT_INITIATOR;
	unsigned char		*odata = NULL;
	size_t			 olen = 0, clen = 0, i;
	long			 rlen = -1, isid = -1;
	int			 ch, rc = 2;

	if ((odata = malloc(MAX_DATA)) == NULL)
		return (2);
	while ((ch = getopt(argc, argv, "i:o:r:s:")) != -1) {
		switch (ch) {
		case 'i':
			initiator = optarg;
			break;
		case 'o':
			if (hex_append(optarg, odata, MAX_DATA, &olen) == -1)
				usage();
			break;
		case 's':
			isid = strtol(optarg, NULL, 0);
			break;
		case 'r':
			rlen = strtol(optarg, NULL, 0);
			if (rlen < 0 || rlen > MAX_DATA)
				usage();
			break;
		default:
			usage();
		}
	}
	if (argc - optind < 2 || (olen > 0 && rlen >= 0))
		usage();
	if ((task = calloc(1, sizeof(*task))) == NULL)
		return (2);
	for (i = optind + 1; i < (size_t)argc; i++)
		if (hex_append(argv[i], task->cdb, sizeof(task->cdb),
		    &clen) == -1)
			usage();
	if (clen < 6)
		usage();
	task->cdb_size = (int)clen;
	if (olen > 0) {
		task->xfer_dir = SCSI_XFER_WRITE;
		task->expxferlen = (int)olen;
		out.data = odata;
		out.size = olen;
		outp = &out;
	} else if (rlen > 0) {
		task->xfer_dir = SCSI_XFER_READ;
		task->expxferlen = (int)rlen;
	} else
		task->xfer_dir = SCSI_XFER_NONE;

	if ((iscsi = iscsi_create_context(initiator)) == NULL)
		return (2);
	if ((url = iscsi_parse_full_url(iscsi, argv[optind])) == NULL) {
		fprintf(stderr, "iscsi-raw: %s\n", iscsi_get_error(iscsi));
		iscsi_destroy_context(iscsi);
		return (2);
	}
	iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
	if (isid >= 0)
		iscsi_set_isid_random(iscsi, 0x123456, (uint32_t)isid);
	/* A target that went away is an error, not a reason to retry
	 * forever (libiscsi's default). */
	iscsi_set_noautoreconnect(iscsi, 1);
	if (iscsi_full_connect_sync(iscsi, url->portal, url->lun) != 0) {
		fprintf(stderr, "iscsi-raw: %s\n", iscsi_get_error(iscsi));
		goto out;
	}
	if (iscsi_scsi_command_sync(iscsi, url->lun, task, outp) == NULL) {
		fprintf(stderr, "iscsi-raw: %s\n", iscsi_get_error(iscsi));
		goto logout;
	}
	if (task->status == SCSI_STATUS_GOOD) {
		printf("GOOD\n");
		if (rlen >= 0) {
			printf("data ");
			for (i = 0; i < (size_t)task->datain.size; i++)
				printf("%02x", task->datain.data[i]);
			printf("\n");
		}
		rc = 0;
	} else if (task->status == SCSI_STATUS_CHECK_CONDITION) {
		print_sense(task);
		rc = 1;
	} else {
		printf("status 0x%02x\n", task->status);
		rc = 1;
	}
logout:
	iscsi_logout_sync(iscsi);
out:
	scsi_free_scsi_task(task);
	free(odata);
	iscsi_destroy_url(url);
	iscsi_destroy_context(iscsi);
	return (rc);
}
