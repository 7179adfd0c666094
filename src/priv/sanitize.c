/*
 * sanitize.c: the sanitize operation of SANITIZE OVERWRITE (SBC-4 4.11,
 * 5.30) as a background job of the logical unit.  sbc.c checks the
 * command and hands over the pattern; the job writes it in chunks of
 * SANITIZE_CHUNK bytes, one chunk at a time between the reactor's
 * events, so that the other LUNs and sessions keep being served, paced
 * by the LUN's SanitizeRate (MiB/s; 0: as fast as the store takes it).
 * The reactor asks scsi_bg_timeout how long it may sleep and calls
 * scsi_bg_run when it wakes: no thread, no spinning.  Each chunk goes
 * through lun_write (write-through LUNs sync it at once); the whole
 * medium is made durable with one fdatasync at the end, before status.
 *
 * While the job runs, the LUN answers only INQUIRY, REPORT LUNS and
 * REQUEST SENSE (SBC-4 4.11.2); everything else ends in NOT READY,
 * SANITIZE IN PROGRESS with the progress indication, which REQUEST SENSE
 * also returns.  The job belongs to the LUN, not to the command that
 * started it: aborting that command (ABORT TASK, ABORT TASK SET, CLEAR
 * TASK SET, LOGICAL UNIT RESET, target resets) or losing its session
 * only detaches it (scsi_cmd_cancel, sanitize_cancel) and the sanitize goes on.  With
 * IMMED 0 the command completes when the job ends (sc_done); with IMMED
 * 1, at once.  A failure leaves the LUN in the sanitize failed state
 * (sbc_sanitize_failed), as does a job that io's shutdown stops.
 */

#include <sys/types.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "util.h"
#include "priv/scsi.h"
#include "priv/scsi_impl.h"

#define SANITIZE_CHUNK		(1024U * 1024)
#define ASC_NOT_READY		0x04
#define ASCQ_SANITIZE_IN_PROGRESS 0x1b

struct sanitize_job {
	struct sanitize_job	*sj_next;
	struct lun		*sj_lun;
	struct scsi_cmd		*sj_cmd;	/* waiting for the end */
	uint8_t			*sj_pat;	/* the pattern */
	uint32_t		 sj_ipl;
	bool			 sj_invert;
	uint32_t		 sj_passes;	/* OVERWRITE COUNT */
	uint32_t		 sj_pass;
	uint8_t			*sj_buf;	/* a chunk of it */
	uint32_t		 sj_chunk;
	uint64_t		 sj_size;	/* bytes per pass */
	uint64_t		 sj_off;	/* next offset in this pass */
	uint64_t		 sj_done;	/* bytes written, every pass */
	uint64_t		 sj_start;	/* msec, monotonic */
	uint64_t		 sj_rate;	/* bytes/s, 0: unpaced */
};

/* io has one reactor thread: the jobs are its own. */
static struct sanitize_job	*sanitize_jobs;

static uint64_t
now_msec(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static const char *
lun_name(const struct lun *lun)
{
	return (lun->lun_path[0] != '\0' ? lun->lun_path : "nullio");
}

/* The pattern of pass n, repeated over one chunk (INVERT: every other
 * pass inverted). */
static void
job_fill(struct sanitize_job *j)
{
	uint32_t	 bs = j->sj_lun->lun_blocksize, i;
	uint8_t		 x = j->sj_invert && (j->sj_pass & 1) ? 0xff : 0;

	for (i = 0; i < j->sj_chunk; i++)
		j->sj_buf[i] = j->sj_pat[(i % bs) % j->sj_ipl] ^ x;
}

static void
job_free(struct sanitize_job *j)
{
	struct sanitize_job	**p;

	for (p = &sanitize_jobs; *p != NULL; p = &(*p)->sj_next)
		if (*p == j) {
			*p = j->sj_next;
			break;
		}
	j->sj_lun->lun_sanitize = NULL;
	j->sj_lun->lun_bg--;
	lun_unref(j->sj_lun);
	free(j->sj_buf);
	free(j->sj_pat);
	free(j);
}

/* The job ends (err 0: done and durable); its command, if any, too. */
static void
job_end(struct sanitize_job *j, int err)
{
	struct scsi_cmd	*cmd = j->sj_cmd;
	struct lun	*lun = j->sj_lun;

	lun->lun_sanitize_failed = err != 0;
	if (err == 0)
		log_info("%s: sanitized (overwrite, %u pass%s)", lun_name(lun),
		    j->sj_passes, j->sj_passes == 1 ? "" : "es");
	else if (cmd == NULL)
		log_warnx("%s: sanitize overwrite: %s", lun_name(lun),
		    strerror(err));
	lun_ref(lun);			/* for the answer */
	job_free(j);
	if (cmd != NULL) {
		cmd->sc_pending = false;
		if (err == 0)
			scsi_good(cmd);
		else {
			errno = err;
			scsi_write_error(cmd, "sanitize overwrite");
		}
		if (cmd->sc_done != NULL)
			cmd->sc_done(cmd);
	}
	lun_unref(lun);
}

/* Write the next chunk; at the end of the last pass, sync and end. */
static void
job_step(struct sanitize_job *j)
{
	struct lun	*lun = j->sj_lun;
	uint32_t	 len;

	/* A reload may have resized the LUN: the pass covers it as it is. */
	j->sj_size = lun->lun_nblocks * (uint64_t)lun->lun_blocksize;
	if (j->sj_off < j->sj_size) {
		len = (uint32_t)MIN((uint64_t)j->sj_chunk,
		    j->sj_size - j->sj_off);
		if (lun_write(lun, j->sj_buf, len, j->sj_off) == -1) {
			job_end(j, errno != 0 ? errno : EIO);
			return;
		}
		j->sj_off += len;
		j->sj_done += len;
		if (j->sj_off < j->sj_size)
			return;
	}
	j->sj_off = 0;
	if (++j->sj_pass < j->sj_passes) {
		job_fill(j);
		return;
	}
	job_end(j, lun_sync(lun) == -1 ? (errno != 0 ? errno : EIO) : 0);
}

/* When the job's next chunk is due (msec), by its rate. */
static uint64_t
job_due(const struct sanitize_job *j)
{
	if (j->sj_rate == 0)
		return (0);
	return (j->sj_start + j->sj_done * 1000 / j->sj_rate);
}

/*
 * Start overwriting the LUN with the pattern pat[0, ipl), passes times.
 * Called by sbc_sanitize with the parameter list checked.  The command
 * is answered at once (immed, or a LUN with nothing to write), or later
 * through sc_done; a caller without sc_done gets the whole sanitize done
 * before this returns.
 */
void
sanitize_start(struct scsi_cmd *cmd, const uint8_t *pat, uint32_t ipl,
    uint32_t passes, bool invert, bool immed)
{
	struct lun		*lun = cmd->sc_lun;
	struct sanitize_job	*j;

	if (lun->lun_fd == -1) {	/* nullio: nothing to overwrite */
		log_info("%s: sanitized (overwrite)", lun_name(lun));
		lun->lun_sanitize_failed = false;
		scsi_good(cmd);
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->sj_pat = malloc(ipl)) == NULL) {
		free(j);
		scsi_status_only(cmd, SCSI_STATUS_BUSY);
		return;
	}
	j->sj_lun = lun;
	j->sj_size = lun->lun_nblocks * (uint64_t)lun->lun_blocksize;
	j->sj_chunk = (uint32_t)MIN((uint64_t)SANITIZE_CHUNK, j->sj_size);
	if (posix_memalign((void **)&j->sj_buf, lun->lun_align < 4096 ?
	    4096 : lun->lun_align, j->sj_chunk) != 0) {
		free(j->sj_pat);
		free(j);
		scsi_status_only(cmd, SCSI_STATUS_BUSY);
		return;
	}
	memcpy(j->sj_pat, pat, ipl);
	j->sj_ipl = ipl;
	j->sj_passes = passes;
	j->sj_invert = invert;
	j->sj_rate = (uint64_t)lun->lun_cl.cl_sanitize_rate * 1024 * 1024;
	j->sj_start = now_msec();
	job_fill(j);
	j->sj_next = sanitize_jobs;
	sanitize_jobs = j;
	lun->lun_sanitize = j;
	lun_ref(lun)->lun_bg++;		/* a reload keeps it (lun.h) */
	log_info("%s: sanitize overwrite started (%u pass%s%s)",
	    lun_name(lun), passes, passes == 1 ? "" : "es",
	    immed ? ", immediate" : "");
	if (cmd->sc_done == NULL) {
		j->sj_cmd = cmd;
		while (lun->lun_sanitize == j)
			job_step(j);
		return;
	}
	if (immed) {
		scsi_good(cmd);
		return;
	}
	j->sj_cmd = cmd;
	cmd->sc_pending = true;
}

/* The transport drops a pending command: the job goes on without it. */
void
sanitize_cancel(struct scsi_cmd *cmd)
{
	struct sanitize_job	*j;

	for (j = sanitize_jobs; j != NULL; j = j->sj_next)
		if (j->sj_cmd == cmd) {
			j->sj_cmd = NULL;
			cmd->sc_pending = false;
			log_info("%s: sanitize goes on without its command",
			    lun_name(j->sj_lun));
		}
}

int
scsi_bg_timeout(void)
{
	struct sanitize_job	*j;
	uint64_t		 now, due, min = UINT64_MAX;

	if (sanitize_jobs == NULL)
		return (-1);
	now = now_msec();
	for (j = sanitize_jobs; j != NULL; j = j->sj_next) {
		if ((due = job_due(j)) <= now)
			return (0);
		if (due < min)
			min = due;
	}
	return (min - now > 1000 ? 1000 : (int)(min - now));
}

/* One chunk of every job that is due. */
void
scsi_bg_run(void)
{
	struct sanitize_job	*j, *next;
	uint64_t		 now;

	if (sanitize_jobs == NULL)
		return;
	now = now_msec();
	for (j = sanitize_jobs; j != NULL; j = next) {
		next = j->sj_next;
		if (job_due(j) <= now)
			job_step(j);
	}
}

/* io stops: unfinished jobs end, their LUNs in the failed state. */
void
scsi_bg_stop(void)
{
	struct sanitize_job	*j;

	while ((j = sanitize_jobs) != NULL) {
		log_warnx("%s: sanitize stopped by shutdown at %u%%: the LUN "
		    "is left in the sanitize failed state", lun_name(j->sj_lun),
		    (unsigned)(sanitize_progress(j->sj_lun) * 100ULL / 65536));
		j->sj_lun->lun_sanitize_failed = true;
		j->sj_cmd = NULL;
		job_free(j);
	}
}

/* Progress of the LUN's sanitize, 0 to 65535 (SPC-4 4.5.2.4.4). */
uint16_t
sanitize_progress(const struct lun *lun)
{
	const struct sanitize_job	*j = lun->lun_sanitize;
	uint64_t			 total;

	if (j == NULL)
		return (0);
	total = j->sj_size * j->sj_passes;
	if (total == 0)
		return (0);
	return ((uint16_t)MIN(j->sj_done * 65536 / total, 65535));
}

/*
 * NOT READY, SANITIZE IN PROGRESS with the progress indication in the
 * sense-key-specific field, into d (at least FIXED_SENSE_LEN bytes),
 * fixed or descriptor format; its length.
 */
uint32_t
sanitize_sense(const struct lun *lun, bool desc, uint8_t *d)
{
	uint8_t	*p;

	memset(d, 0, FIXED_SENSE_LEN);
	if (desc) {
		d[0] = 0x72;
		d[1] = SKEY_NOT_READY;
		d[2] = ASC_NOT_READY;
		d[3] = ASCQ_SANITIZE_IN_PROGRESS;
		d[7] = 8;			/* one descriptor */
		d[8] = 0x02;			/* sense key specific */
		d[9] = 0x06;
		p = d + 12;
	} else {
		d[0] = 0x70;
		d[2] = SKEY_NOT_READY;
		d[7] = FIXED_SENSE_LEN - 8;
		d[12] = ASC_NOT_READY;
		d[13] = ASCQ_SANITIZE_IN_PROGRESS;
		p = d + 15;
	}
	p[0] = 0x80;				/* SKSV */
	put_be16(p + 1, sanitize_progress(lun));
	return (desc ? 16 : FIXED_SENSE_LEN);
}

/*
 * While a sanitize runs, only INQUIRY, REPORT LUNS and REQUEST SENSE are
 * processed (SBC-4 4.11.2); the rest ends in NOT READY, SANITIZE IN
 * PROGRESS.  true when cmd was answered so.
 */
bool
sbc_sanitize_busy(struct scsi_cmd *cmd)
{
	struct lun	*lun = cmd->sc_lun;

	if (lun == NULL || lun->lun_sanitize == NULL)
		return (false);
	switch (cmd->sc_cdb[0]) {
	case OP_INQUIRY:
	case OP_REPORT_LUNS:
	case OP_REQUEST_SENSE:
		return (false);
	}
	scsi_sense(cmd, SKEY_NOT_READY, ASC_NOT_READY,
	    ASCQ_SANITIZE_IN_PROGRESS);
	cmd->sc_sense_len = sanitize_sense(lun, lun->lun_dsense,
	    cmd->sc_sense);
	return (true);
}
