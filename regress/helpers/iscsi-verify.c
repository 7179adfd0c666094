/*
 * iscsi-verify: write a deterministic pattern to a range of blocks of an
 * iSCSI LUN, read it back and compare (libiscsi, synchronous API).
 *
 * usage: iscsi-verify [-RrSwX] [-C 10|16] [-c blocks] [-i initiator]
 *	      [-l lba] [-n blocks] [-s seed] iscsi://host:port/target/lun
 *        iscsi-verify -F file [-B blocksize] [-l lba] [-n blocks] [-s seed]
 *
 *	(default)	write the pattern, then read it back and compare
 *	-r		verify only (e.g. after a daemon restart)
 *	-R		read only, without comparing (e.g. a nullio LUN)
 *	-w		write only
 *	-S		SYNCHRONIZE CACHE(10) after writing
 *	-X		do not check the range against READ CAPACITY(16):
 *			send commands past the end (which must fail)
 *	-F file		verify the pattern in a local file (a backing store)
 *			instead of over iSCSI; -B gives its block size (512)
 *	-C 10|16	use READ/WRITE(10) or (16) (default 16)
 *	-c blocks	blocks per command (default 64)
 *	-l lba		first block (default 0)
 *	-n blocks	number of blocks (default 1024)
 *	-s seed		pattern seed (default 1)
 *
 * Every block carries its LBA and seed in its first 16 bytes and a
 * pseudo-random tail, so misplaced, stale and torn writes all show.
 * Exits 0 when everything matched, 1 on any mismatch or error, 2 on a
 * usage error.
 */
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define DEFAULT_INITIATOR "iqn.2026-11.org.ietd:regress-verify"

struct opts {
	bool		 do_write;
	bool		 do_read;
	bool		 sync;
	bool		 compare;
	bool		 no_range_check;
	int		 cdb;
	uint32_t	 per_cmd;
	uint64_t	 lba;
	uint64_t	 count;
	uint64_t	 seed;
	uint32_t	 blocksize;
	const char	*initiator;
	const char	*file;
	const char	*url;
};

static uint64_t
splitmix64(uint64_t *s)
{
	uint64_t z;

	z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31));
}

static void
put64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = v >> (56 - 8 * i);
}

/* The expected content of block lba. */
static void
fill_block(uint8_t *buf, uint32_t bs, uint64_t seed, uint64_t lba)
{
	uint64_t s, v;
	uint32_t i;

	s = seed * 0x2545f4914f6cdd1dULL ^ lba;
	put64(buf, lba);
	put64(buf + 8, seed);
	for (i = 16; i + 8 <= bs; i += 8) {
		v = splitmix64(&s);
		put64(buf + i, v);
	}
}

static void
fill(uint8_t *buf, uint32_t bs, uint64_t seed, uint64_t lba, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		fill_block(buf + (size_t)i * bs, bs, seed, lba + i);
}

/* 0 if got matches the pattern for blocks lba..lba+n-1. */
static int
compare(const uint8_t *got, uint8_t *want, uint32_t bs, uint64_t seed,
    uint64_t lba, uint32_t n)
{
	size_t i, len;

	len = (size_t)n * bs;
	fill(want, bs, seed, lba, n);
	if (memcmp(got, want, len) == 0)
		return (0);
	for (i = 0; i < len; i++)
		if (got[i] != want[i])
			break;
	fprintf(stderr, "iscsi-verify: mismatch at lba %" PRIu64
	    " byte %zu: expected 0x%02x, got 0x%02x\n",
	    lba + i / bs, i % bs, want[i], got[i]);
	return (-1);
}

static void
task_error(struct iscsi_context *iscsi, struct scsi_task *task,
    const char *what, uint64_t lba)
{
	if (task == NULL)
		fprintf(stderr, "iscsi-verify: %s at lba %" PRIu64 ": %s\n",
		    what, lba, iscsi_get_error(iscsi));
	else if (task->status == SCSI_STATUS_CHECK_CONDITION)
		fprintf(stderr, "iscsi-verify: %s at lba %" PRIu64
		    ": CHECK CONDITION %s (0x%x) %s (0x%04x)\n", what, lba,
		    scsi_sense_key_str(task->sense.key), task->sense.key,
		    scsi_sense_ascq_str(task->sense.ascq), task->sense.ascq);
	else
		fprintf(stderr, "iscsi-verify: %s at lba %" PRIu64
		    ": status 0x%x: %s\n", what, lba, task->status,
		    iscsi_get_error(iscsi));
}

static int
read_capacity(struct iscsi_context *iscsi, int lun, uint32_t *bs,
    uint64_t *nblocks)
{
	struct scsi_task *task;
	struct scsi_readcapacity16 *rc16;

	task = iscsi_readcapacity16_sync(iscsi, lun);
	if (task == NULL || task->status != SCSI_STATUS_GOOD) {
		task_error(iscsi, task, "READ CAPACITY(16)", 0);
		if (task != NULL)
			scsi_free_scsi_task(task);
		return (-1);
	}
	rc16 = scsi_datain_unmarshall(task);
	if (rc16 == NULL) {
		fprintf(stderr, "iscsi-verify: bad READ CAPACITY(16) data\n");
		scsi_free_scsi_task(task);
		return (-1);
	}
	*bs = rc16->block_length;
	*nblocks = rc16->returned_lba + 1;
	scsi_free_scsi_task(task);
	if (*bs < 512 || *bs > 65536 || (*bs & (*bs - 1)) != 0) {
		fprintf(stderr, "iscsi-verify: odd block length %u\n", *bs);
		return (-1);
	}
	return (0);
}

static int
write_range(struct iscsi_context *iscsi, int lun, const struct opts *o,
    uint8_t *buf)
{
	struct scsi_task *task;
	uint64_t lba, end;
	uint32_t n;

	end = o->lba + o->count;
	for (lba = o->lba; lba < end; lba += n) {
		n = end - lba < o->per_cmd ? (uint32_t)(end - lba) : o->per_cmd;
		fill(buf, o->blocksize, o->seed, lba, n);
		if (o->cdb == 10)
			task = iscsi_write10_sync(iscsi, lun, (uint32_t)lba,
			    buf, n * o->blocksize, o->blocksize, 0, 0, 0, 0, 0);
		else
			task = iscsi_write16_sync(iscsi, lun, lba, buf,
			    n * o->blocksize, o->blocksize, 0, 0, 0, 0, 0);
		if (task == NULL || task->status != SCSI_STATUS_GOOD) {
			task_error(iscsi, task, "WRITE", lba);
			if (task != NULL)
				scsi_free_scsi_task(task);
			return (-1);
		}
		scsi_free_scsi_task(task);
	}
	if (o->sync) {
		task = iscsi_synchronizecache10_sync(iscsi, lun, 0, 0, 0, 0);
		if (task == NULL || task->status != SCSI_STATUS_GOOD) {
			task_error(iscsi, task, "SYNCHRONIZE CACHE", 0);
			if (task != NULL)
				scsi_free_scsi_task(task);
			return (-1);
		}
		scsi_free_scsi_task(task);
	}
	printf("wrote %" PRIu64 " blocks of %u bytes at lba %" PRIu64
	    " (seed %" PRIu64 ")\n", o->count, o->blocksize, o->lba, o->seed);
	return (0);
}

static int
verify_range(struct iscsi_context *iscsi, int lun, const struct opts *o,
    uint8_t *want)
{
	struct scsi_task *task;
	uint64_t lba, end;
	uint32_t n;
	int rc;

	end = o->lba + o->count;
	for (lba = o->lba; lba < end; lba += n) {
		n = end - lba < o->per_cmd ? (uint32_t)(end - lba) : o->per_cmd;
		if (o->cdb == 10)
			task = iscsi_read10_sync(iscsi, lun, (uint32_t)lba,
			    n * o->blocksize, o->blocksize, 0, 0, 0, 0, 0);
		else
			task = iscsi_read16_sync(iscsi, lun, lba,
			    n * o->blocksize, o->blocksize, 0, 0, 0, 0, 0);
		if (task == NULL || task->status != SCSI_STATUS_GOOD) {
			task_error(iscsi, task, "READ", lba);
			if (task != NULL)
				scsi_free_scsi_task(task);
			return (-1);
		}
		if (task->datain.size != (int)(n * o->blocksize)) {
			fprintf(stderr, "iscsi-verify: READ at lba %" PRIu64
			    ": got %d bytes, expected %u\n", lba,
			    task->datain.size, n * o->blocksize);
			scsi_free_scsi_task(task);
			return (-1);
		}
		rc = 0;
		if (o->compare)
			rc = compare(task->datain.data, want, o->blocksize,
			    o->seed, lba, n);
		scsi_free_scsi_task(task);
		if (rc != 0)
			return (-1);
	}
	printf("%s %" PRIu64 " blocks of %u bytes at lba %" PRIu64
	    " (seed %" PRIu64 ")\n", o->compare ? "verified" : "read",
	    o->count, o->blocksize, o->lba, o->seed);
	return (0);
}

static int
run_iscsi(struct opts *o)
{
	struct iscsi_context *iscsi;
	struct iscsi_url *url;
	uint8_t *buf;
	uint64_t nblocks;
	int lun, rc = -1;

	iscsi = iscsi_create_context(o->initiator);
	if (iscsi == NULL)
		errx(1, "cannot create an iSCSI context");
	url = iscsi_parse_full_url(iscsi, o->url);
	if (url == NULL) {
		fprintf(stderr, "iscsi-verify: %s\n", iscsi_get_error(iscsi));
		iscsi_destroy_context(iscsi);
		return (-1);
	}
	lun = url->lun;
	iscsi_set_targetname(iscsi, url->target);
	iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
	/* A target that went away is an error, not a reason to retry
	 * forever at full speed (libiscsi's default). */
	iscsi_set_noautoreconnect(iscsi, 1);
	iscsi_set_header_digest(iscsi, ISCSI_HEADER_DIGEST_NONE);
	if (iscsi_full_connect_sync(iscsi, url->portal, lun) != 0) {
		fprintf(stderr, "iscsi-verify: login to %s failed: %s\n",
		    o->url, iscsi_get_error(iscsi));
		goto out;
	}
	if (read_capacity(iscsi, lun, &o->blocksize, &nblocks) != 0)
		goto logout;
	if (!o->no_range_check &&
	    (o->lba > nblocks || o->count > nblocks - o->lba)) {
		fprintf(stderr, "iscsi-verify: blocks %" PRIu64 "..%" PRIu64
		    " are past the end (%" PRIu64 " blocks)\n", o->lba,
		    o->lba + o->count - 1, nblocks);
		goto logout;
	}
	if (o->cdb == 10 && o->lba + o->count > UINT32_MAX) {
		fprintf(stderr, "iscsi-verify: lba too large for -C 10\n");
		goto logout;
	}
	buf = malloc((size_t)o->per_cmd * o->blocksize);
	if (buf == NULL)
		err(1, "malloc");
	rc = 0;
	if (o->do_write && write_range(iscsi, lun, o, buf) != 0)
		rc = -1;
	if (rc == 0 && o->do_read && verify_range(iscsi, lun, o, buf) != 0)
		rc = -1;
	free(buf);
logout:
	if (iscsi_logout_sync(iscsi) != 0 && rc == 0) {
		fprintf(stderr, "iscsi-verify: logout failed: %s\n",
		    iscsi_get_error(iscsi));
		rc = -1;
	}
out:
	iscsi_destroy_url(url);
	iscsi_destroy_context(iscsi);
	return (rc);
}

static int
run_file(const struct opts *o)
{
	uint8_t *got, *want;
	size_t len;
	uint64_t lba, end;
	uint32_t n;
	ssize_t r;
	int fd, rc = 0;

	if ((fd = open(o->file, O_RDONLY)) == -1)
		err(1, "%s", o->file);
	len = (size_t)o->per_cmd * o->blocksize;
	if ((got = malloc(len)) == NULL || (want = malloc(len)) == NULL)
		err(1, "malloc");
	end = o->lba + o->count;
	for (lba = o->lba; lba < end && rc == 0; lba += n) {
		n = end - lba < o->per_cmd ? (uint32_t)(end - lba) : o->per_cmd;
		r = pread(fd, got, (size_t)n * o->blocksize,
		    (off_t)(lba * o->blocksize));
		if (r == -1)
			err(1, "%s: read", o->file);
		if ((size_t)r != (size_t)n * o->blocksize) {
			fprintf(stderr, "iscsi-verify: %s: short read at lba %"
			    PRIu64 "\n", o->file, lba);
			rc = -1;
			break;
		}
		rc = compare(got, want, o->blocksize, o->seed, lba, n);
	}
	if (rc == 0)
		printf("verified %" PRIu64 " blocks of %u bytes at lba %"
		    PRIu64 " (seed %" PRIu64 ") in %s\n", o->count,
		    o->blocksize, o->lba, o->seed, o->file);
	free(got);
	free(want);
	close(fd);
	return (rc);
}

static uint64_t
number(const char *s, const char *what, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (*s == '\0' || *s == '-' || *end != '\0' || errno != 0 ||
	    v < min || v > max)
		errx(2, "%s: bad value %s", what, s);
	return (v);
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: iscsi-verify [-RrSwX] [-C 10|16] [-c blocks] "
	    "[-i initiator] [-l lba] [-n blocks]\n"
	    "           [-s seed] iscsi://host:port/target/lun\n"
	    "       iscsi-verify -F file [-B blocksize] [-l lba] "
	    "[-n blocks] [-s seed]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct opts o;
	int ch;

	memset(&o, 0, sizeof(o));
	o.do_write = o.do_read = o.compare = true;
	o.cdb = 16;
	o.per_cmd = 64;
	o.count = 1024;
	o.seed = 1;
	o.blocksize = 512;
	o.initiator = DEFAULT_INITIATOR;
	while ((ch = getopt(argc, argv, "B:C:F:RSXc:i:l:n:rs:w")) != -1) {
		switch (ch) {
		case 'B':
			o.blocksize = number(optarg, "-B", 512, 65536);
			break;
		case 'C':
			o.cdb = number(optarg, "-C", 10, 16);
			if (o.cdb != 10 && o.cdb != 16)
				usage();
			break;
		case 'F':
			o.file = optarg;
			break;
		case 'R':
			o.do_write = o.compare = false;
			break;
		case 'S':
			o.sync = true;
			break;
		case 'X':
			o.no_range_check = true;
			break;
		case 'c':
			o.per_cmd = number(optarg, "-c", 1, 65535);
			break;
		case 'i':
			o.initiator = optarg;
			break;
		case 'l':
			o.lba = number(optarg, "-l", 0, UINT64_MAX / 2);
			break;
		case 'n':
			o.count = number(optarg, "-n", 1, UINT32_MAX);
			break;
		case 'r':
			o.do_write = false;
			break;
		case 's':
			o.seed = number(optarg, "-s", 0, UINT64_MAX);
			break;
		case 'w':
			o.do_read = false;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (!o.do_write && !o.do_read)
		usage();
	if (o.file != NULL) {
		if (argc != 0)
			usage();
		return (run_file(&o) == 0 ? 0 : 1);
	}
	if (argc != 1)
		usage();
	o.url = argv[0];
	return (run_iscsi(&o) == 0 ? 0 : 1);
}
