/*
 * ietd-load: an iSCSI load generator for make bench (libiscsi, async API).
 *
 * usage: ietd-load [-m read|write|mixed|fill] [-p random|sequential]
 *	      [-b bytes] [-q depth] [-s sessions] [-t seconds] [-x percent]
 *	      [-P pid[,pid...]] [-l label] url
 *        ietd-load -L clients [-t seconds] [-P pid[,pid...]] [-l label] url
 *
 *	-m	read, write, mixed (-x percent reads, default 50) or fill
 *		(one sequential write pass over the whole LUN)
 *	-p	random (aligned to -b) or sequential (default random)
 *	-b	bytes per command, a multiple of 4096 (default 4096)
 *	-q	commands outstanding per session (default 1)
 *	-s	sessions, each its own context, all polled together (default 1)
 *	-t	seconds of load (default 5)
 *	-L	login rate: this many clients in parallel log in and out
 *		(TCP connect, Login, Logout, close) for -t seconds
 *	-P	pids of the target whose CPU time (utime + stime, plus that of
 *		their reaped children) is divided by the I/Os (or logins)
 *	-l	a label printed with the result
 *
 * Every 4 KiB chunk of the LUN carries a stamp: a magic number, its chunk
 * number, the run id and write sequence number of the run that wrote it,
 * and a check word derived from those, at its start and again in its last
 * eight bytes, so that misplaced, stale and torn writes all show.  Reads
 * check the stamps of everything they read (the LUN must have been
 * filled with -m fill first); a run that wrote ends with a verify pass
 * that reads the whole LUN back and requires each chunk it wrote to carry
 * exactly its own run id and last sequence number.  Any mismatch, SCSI
 * error or lost connection fails the run.
 *
 * Output: one line of key=value pairs on stdout; client_busy is the
 * generator's own CPU time over the run in cores (it is one thread, so
 * near 1.00 it, not the target, sets the pace).  Exit status 0 when all
 * went well, 1 on any error or mismatch, 2 on a usage error, 130 when
 * stopped by SIGINT or SIGTERM.
 */
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define LOAD_CHUNK	4096
#define LOAD_MAGIC	UINT64_C(0x49455444204c4f44)	/* "IETD LOD" */
#define LOAD_VERIFY_BS	(256 * 1024)
#define LOAD_MAXPIDS	8
#define LOAD_HIST	1024
#define LOAD_DRAIN_SEC	30
#define LOAD_MAXERR	5

enum load_mode { M_READ, M_WRITE, M_MIXED, M_FILL };

struct load_sess;

struct load_slot {
	struct load_sess	*sl_sess;
	unsigned char		*sl_buf;
	struct scsi_iovec	 sl_iov;
	uint64_t		 sl_chunk;	/* first chunk */
	uint32_t		 sl_nchunk;
	uint32_t		 sl_seq;	/* write sequence, 0 on reads */
	bool			 sl_write;
	bool			 sl_busy;
	struct timespec		 sl_t0;
};

struct load_sess {
	struct iscsi_context	*ss_ctx;
	struct load_slot	*ss_slots;
	int			 ss_lun;
};

struct load_stats {
	uint64_t	st_ios;
	uint64_t	st_bytes;
	uint64_t	st_lat_ns;
	uint64_t	st_hist[LOAD_HIST];
};

/* Everything a run needs, in one place. */
static struct {
	enum load_mode	 mode;
	bool		 random;
	bool		 issuing;	/* new commands may start */
	bool		 once;		/* stop at the end of the LUN */
	bool		 measure;	/* record latencies */
	bool		 verifying;	/* final pass: exact stamps */
	uint32_t	 bs;		/* bytes per command, this phase */
	int		 qd;
	int		 nsess;
	int		 readpct;
	uint64_t	 nchunks;	/* LUN size in chunks */
	uint32_t	 blocksize;	/* LUN logical block size */
	uint64_t	 seqpos;	/* next chunk, sequential */
	uint64_t	 rng;
	uint64_t	 runid;
	uint32_t	 wseq;
	uint32_t	*lastseq;	/* per chunk: our last write, 0 none */
	uint8_t		*inflight;	/* per chunk: commands in flight */
	int		 outstanding;
	uint64_t	 errors;
	uint64_t	 mismatches;
	uint64_t	 verified;	/* chunks checked */
	struct load_sess *sess;
	struct load_stats stats;
	pid_t		 pids[LOAD_MAXPIDS];
	int		 npids;
} L;

static volatile sig_atomic_t	load_interrupted;

static void
load_usage(void)
{
	fprintf(stderr, "usage: ietd-load [-m read|write|mixed|fill] "
	    "[-p random|sequential] [-b bytes]\n"
	    "\t[-q depth] [-s sessions] [-t seconds] [-x percent] "
	    "[-P pid,...] [-l label] url\n"
	    "       ietd-load -L clients [-t seconds] [-P pid,...] "
	    "[-l label] url\n");
	exit(2);
}

static void
load_onsignal(int sig)
{
	load_interrupted = 1;
}

static uint64_t
load_now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec);
}

static uint64_t
load_rand(void)
{
	/* xorshift64* */
	L.rng ^= L.rng >> 12;
	L.rng ^= L.rng << 25;
	L.rng ^= L.rng >> 27;
	return (L.rng * UINT64_C(2685821657736338717));
}

/*
 * Histogram of latencies in ns: 16 linear sub-buckets per power of two,
 * so every bucket is within 1/16 of its value.
 */
static int
load_hist_idx(uint64_t v)
{
	int	msb;

	if (v < 16)
		return ((int)v);
	msb = 63 - __builtin_clzll(v);
	return ((msb - 3) * 16 + (int)((v >> (msb - 4)) & 15));
}

static uint64_t
load_hist_mid(int idx)
{
	int		msb;
	uint64_t	lo;

	if (idx < 16)
		return ((uint64_t)idx);
	msb = idx / 16 + 3;
	lo = (uint64_t)(16 + idx % 16) << (msb - 4);
	return (lo + ((UINT64_C(1) << (msb - 4)) >> 1));
}

static uint64_t
load_hist_pct(const struct load_stats *st, double pct)
{
	uint64_t	want, seen;
	int		i;

	if (st->st_ios == 0)
		return (0);
	want = (uint64_t)((double)st->st_ios * pct / 100.0);
	if (want == 0)
		want = 1;
	seen = 0;
	for (i = 0; i < LOAD_HIST; i++) {
		seen += st->st_hist[i];
		if (seen >= want)
			return (load_hist_mid(i));
	}
	return (load_hist_mid(LOAD_HIST - 1));
}

static void
load_record(uint64_t t0, uint64_t bytes)
{
	uint64_t	lat;

	if (!L.measure)
		return;
	lat = load_now_ns() - t0;
	L.stats.st_ios++;
	L.stats.st_bytes += bytes;
	L.stats.st_lat_ns += lat;
	L.stats.st_hist[load_hist_idx(lat)]++;
}

/* CPU time, in clock ticks, of the -P pids and their reaped children. */
static int
load_cpu_ticks(uint64_t *ticks)
{
	char		 path[64], buf[1024], *p, *tok, *save;
	FILE		*fp;
	uint64_t	 sum;
	size_t		 n;
	int		 i, field;

	sum = 0;
	for (i = 0; i < L.npids; i++) {
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)L.pids[i]);
		if ((fp = fopen(path, "r")) == NULL)
			return (-1);
		n = fread(buf, 1, sizeof(buf) - 1, fp);
		fclose(fp);
		buf[n] = '\0';
		if ((p = strrchr(buf, ')')) == NULL)
			return (-1);
		/* After the comm: field 3 (state) onward; 14-17 are times. */
		field = 3;
		for (tok = strtok_r(p + 1, " ", &save); tok != NULL;
		    tok = strtok_r(NULL, " ", &save), field++) {
			if (field >= 14 && field <= 17)
				sum += strtoull(tok, NULL, 10);
			if (field == 17)
				break;
		}
		if (field != 17)
			return (-1);
	}
	*ticks = sum;
	return (0);
}

static uint64_t
load_check_word(uint64_t chunk, uint64_t runid, uint64_t seq)
{
	uint64_t	h;

	h = LOAD_MAGIC ^ (chunk * UINT64_C(0x9e3779b97f4a7c15));
	h ^= runid + UINT64_C(0xbf58476d1ce4e5b9) + (h << 6) + (h >> 2);
	h ^= seq + UINT64_C(0x94d049bb133111eb) + (h << 6) + (h >> 2);
	return (h);
}

static void
load_stamp(unsigned char *p, uint64_t chunk, uint32_t seq)
{
	uint64_t	w[5];

	w[0] = LOAD_MAGIC;
	w[1] = chunk;
	w[2] = L.runid;
	w[3] = seq;
	w[4] = load_check_word(chunk, L.runid, seq);
	memcpy(p, w, sizeof(w));
	memcpy(p + LOAD_CHUNK - 8, &w[4], 8);
}

static void
load_mismatch(uint64_t chunk, const char *why)
{
	if (L.mismatches++ < LOAD_MAXERR)
		warnx("chunk %" PRIu64 " (byte %" PRIu64 "): %s", chunk,
		    chunk * LOAD_CHUNK, why);
}

/* Check the stamps of a buffer read from chunk onward. */
static void
load_verify(const unsigned char *p, uint64_t chunk, uint32_t nchunk)
{
	uint64_t	w[5], tail;
	uint32_t	i;

	for (i = 0; i < nchunk; i++, chunk++, p += LOAD_CHUNK) {
		L.verified++;
		memcpy(w, p, sizeof(w));
		memcpy(&tail, p + LOAD_CHUNK - 8, 8);
		if (w[0] != LOAD_MAGIC) {
			load_mismatch(chunk, "no stamp (LUN not filled?)");
			continue;
		}
		if (w[1] != chunk) {
			load_mismatch(chunk, "stamp of another chunk");
			continue;
		}
		if (w[4] != load_check_word(w[1], w[2], w[3]) || tail != w[4]) {
			load_mismatch(chunk, "corrupt or torn stamp");
			continue;
		}
		if (L.lastseq[chunk] != 0 && (w[2] != L.runid ||
		    w[3] != L.lastseq[chunk]))
			load_mismatch(chunk, "stale data: not our last write");
		else if (L.verifying && L.lastseq[chunk] == 0 &&
		    w[2] == L.runid)
			load_mismatch(chunk, "our run id on a chunk never "
			    "written");
	}
}

static bool
load_busy(uint64_t chunk, uint32_t n)
{
	uint32_t	i;

	for (i = 0; i < n; i++)
		if (L.inflight[chunk + i] != 0)
			return (true);
	return (false);
}

static void	load_submit(struct load_slot *);

static void
load_done(struct iscsi_context *ctx, int status, void *data, void *priv)
{
	struct scsi_task	*task = data;
	struct load_slot	*sl = priv;
	uint64_t		 t0;
	uint32_t		 i;

	L.outstanding--;
	sl->sl_busy = false;
	for (i = 0; i < sl->sl_nchunk; i++)
		L.inflight[sl->sl_chunk + i]--;
	if (status != SCSI_STATUS_GOOD) {
		if (L.errors++ < LOAD_MAXERR)
			warnx("%s at chunk %" PRIu64 ": status 0x%x: %s",
			    sl->sl_write ? "write" : "read", sl->sl_chunk,
			    status, iscsi_get_error(ctx));
	} else if (task->residual_status != SCSI_RESIDUAL_NO_RESIDUAL &&
	    task->residual != 0) {
		if (L.errors++ < LOAD_MAXERR)
			warnx("chunk %" PRIu64 ": residual %zu", sl->sl_chunk,
			    task->residual);
	} else {
		if (sl->sl_write) {
			for (i = 0; i < sl->sl_nchunk; i++)
				L.lastseq[sl->sl_chunk + i] = sl->sl_seq;
		} else
			load_verify(sl->sl_buf, sl->sl_chunk, sl->sl_nchunk);
		t0 = (uint64_t)sl->sl_t0.tv_sec * 1000000000 +
		    (uint64_t)sl->sl_t0.tv_nsec;
		load_record(t0, (uint64_t)sl->sl_nchunk * LOAD_CHUNK);
	}
	scsi_free_scsi_task(task);
	if (L.issuing && L.errors == 0)
		load_submit(sl);
}

/* Pick the next range; false if none is free right now. */
static bool
load_pick(uint64_t *chunk, uint32_t n)
{
	uint64_t	slots, c;
	int		tries;

	if (L.random) {
		slots = L.nchunks / n;
		for (tries = 0; tries < 8; tries++) {
			c = load_rand() % slots * n;
			if (!load_busy(c, n)) {
				*chunk = c;
				return (true);
			}
		}
		return (false);
	}
	c = L.seqpos;
	if (c + n > L.nchunks) {
		if (L.once) {
			L.issuing = false;
			return (false);
		}
		c = 0;
	}
	if (load_busy(c, n))
		return (false);
	L.seqpos = c + n;
	*chunk = c;
	return (true);
}

static void
load_submit(struct load_slot *sl)
{
	struct load_sess	*ss = sl->sl_sess;
	struct scsi_task	*task;
	uint64_t		 chunk, lba;
	uint32_t		 n, i, nblk;
	bool			 wr;

	n = L.bs / LOAD_CHUNK;
	if (!load_pick(&chunk, n))
		return;
	if (L.mode == M_MIXED && !L.verifying)
		wr = (int)(load_rand() % 100) >= L.readpct;
	else
		wr = (L.mode == M_WRITE || L.mode == M_FILL) && !L.verifying;
	sl->sl_chunk = chunk;
	sl->sl_nchunk = n;
	sl->sl_write = wr;
	sl->sl_seq = 0;
	lba = chunk * (LOAD_CHUNK / L.blocksize);
	nblk = L.bs;
	if (wr) {
		sl->sl_seq = ++L.wseq;
		for (i = 0; i < n; i++)
			load_stamp(sl->sl_buf + (size_t)i * LOAD_CHUNK,
			    chunk + i, sl->sl_seq);
	}
	clock_gettime(CLOCK_MONOTONIC, &sl->sl_t0);
	if (wr)
		task = iscsi_write16_task(ss->ss_ctx, ss->ss_lun, lba,
		    sl->sl_buf, nblk, (int)L.blocksize, 0, 0, 0, 0, 0,
		    load_done, sl);
	else {
		sl->sl_iov.iov_base = sl->sl_buf;
		sl->sl_iov.iov_len = nblk;
		task = iscsi_read16_iov_task(ss->ss_ctx, ss->ss_lun, lba,
		    nblk, (int)L.blocksize, 0, 0, 0, 0, 0, load_done, sl,
		    &sl->sl_iov, 1);
	}
	if (task == NULL) {
		if (L.errors++ < LOAD_MAXERR)
			warnx("cannot queue a command: %s",
			    iscsi_get_error(ss->ss_ctx));
		return;
	}
	for (i = 0; i < n; i++)
		L.inflight[chunk + i]++;
	sl->sl_busy = true;
	L.outstanding++;
}

static struct iscsi_context *
load_context(const char *tag, int n, const struct iscsi_url *u)
{
	struct iscsi_context	*ctx;
	char			 name[256];

	snprintf(name, sizeof(name), "iqn.2026-11.org.ietd:load.%d.%s%d",
	    (int)getpid(), tag, n);
	if ((ctx = iscsi_create_context(name)) == NULL)
		errx(1, "iscsi_create_context failed");
	if (iscsi_set_targetname(ctx, u->target) != 0 ||
	    iscsi_set_session_type(ctx, ISCSI_SESSION_NORMAL) != 0 ||
	    iscsi_set_header_digest(ctx, ISCSI_HEADER_DIGEST_NONE) != 0 ||
	    iscsi_set_immediate_data(ctx, ISCSI_IMMEDIATE_DATA_YES) != 0 ||
	    iscsi_set_initial_r2t(ctx, ISCSI_INITIAL_R2T_NO) != 0)
		errx(1, "cannot set session parameters: %s",
		    iscsi_get_error(ctx));
	iscsi_set_noautoreconnect(ctx, 1);
	return (ctx);
}

/*
 * Poll every context once (NULLs are skipped).  A context whose service
 * failed is replaced by NULL in ctxs; returns how many failed.
 */
static int
load_poll(struct iscsi_context **ctxs, struct pollfd *pfd, int n)
{
	int	i, ev, failed;

	for (i = 0; i < n; i++) {
		pfd[i].fd = -1;
		pfd[i].events = 0;
		pfd[i].revents = 0;
		if (ctxs[i] == NULL)
			continue;
		ev = iscsi_which_events(ctxs[i]);
		if (ev == 0)
			continue;
		pfd[i].fd = iscsi_get_fd(ctxs[i]);
		pfd[i].events = (short)ev;
	}
	if (poll(pfd, (nfds_t)n, 100) == -1) {
		if (errno == EINTR)
			return (0);
		err(1, "poll");
	}
	failed = 0;
	for (i = 0; i < n; i++) {
		if (ctxs[i] == NULL || pfd[i].revents == 0)
			continue;
		if (iscsi_service(ctxs[i], pfd[i].revents) != 0) {
			ctxs[i] = NULL;
			failed++;
		}
	}
	return (failed);
}

/* Run one phase until its deadline (0: until once-through) and drain. */
static void
load_phase(struct iscsi_context **ctxs, struct pollfd *pfd, uint64_t end)
{
	uint64_t	now, drain_end;
	int		s, q;

	L.issuing = true;
	drain_end = 0;
	for (;;) {
		now = load_now_ns();
		if (L.issuing && (load_interrupted || L.errors != 0 ||
		    L.mismatches != 0 || (end != 0 && now >= end)))
			L.issuing = false;
		if (!L.issuing && drain_end == 0)
			drain_end = now + (uint64_t)LOAD_DRAIN_SEC * 1000000000;
		if (!L.issuing && L.outstanding == 0)
			break;
		if (drain_end != 0 && now >= drain_end) {
			warnx("%d commands still outstanding after %d s",
			    L.outstanding, LOAD_DRAIN_SEC);
			L.errors++;
			break;
		}
		/* Slots that found no free range last time try again. */
		for (s = 0; L.issuing && s < L.nsess; s++)
			for (q = 0; L.issuing && q < L.qd; q++)
				if (!L.sess[s].ss_slots[q].sl_busy)
					load_submit(&L.sess[s].ss_slots[q]);
		if (load_poll(ctxs, pfd, L.nsess) != 0) {
			for (s = 0; s < L.nsess; s++)
				if (ctxs[s] == NULL)
					warnx("session %d: %s", s,
					    iscsi_get_error(L.sess[s].ss_ctx));
			L.errors++;
			break;
		}
	}
}

static void
load_capacity(struct load_sess *ss)
{
	struct scsi_task		*task;
	struct scsi_readcapacity16	*rc;

	task = iscsi_readcapacity16_sync(ss->ss_ctx, ss->ss_lun);
	if (task == NULL || task->status != SCSI_STATUS_GOOD ||
	    (rc = scsi_datain_unmarshall(task)) == NULL)
		errx(1, "READ CAPACITY(16): %s", iscsi_get_error(ss->ss_ctx));
	L.blocksize = rc->block_length;
	if (L.blocksize == 0 || L.blocksize > LOAD_CHUNK ||
	    LOAD_CHUNK % L.blocksize != 0)
		errx(1, "block size %u does not divide %d", L.blocksize,
		    LOAD_CHUNK);
	L.nchunks = (rc->returned_lba + 1) * L.blocksize / LOAD_CHUNK;
	scsi_free_scsi_task(task);
	if (L.nchunks < LOAD_VERIFY_BS / LOAD_CHUNK)
		errx(1, "LUN too small");
}

/* CPU time this process used, in ns (user and system). */
static uint64_t
load_self_ns(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == -1)
		err(1, "clock_gettime");
	return ((uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec);
}

/*
 * client_busy is the load generator's own CPU time over the run, in
 * cores: near 1.00 the client (one thread) is what limits the run.
 */
static void
load_report(const char *label, const char *what, double secs,
    uint64_t ticks, uint64_t self_ns)
{
	const struct load_stats	*st = &L.stats;
	double			 cpu_us;
	long			 hz;

	hz = sysconf(_SC_CLK_TCK);
	cpu_us = -1;
	if (L.npids > 0 && st->st_ios > 0 && hz > 0)
		cpu_us = (double)ticks * 1e6 / (double)hz / (double)st->st_ios;
	printf("label=%s %s secs=%.2f ios=%" PRIu64 " iops=%.0f mbps=%.1f "
	    "avg_us=%.1f p99_us=%.1f cpu_us_per_io=%.1f client_busy=%.2f "
	    "verified=%" PRIu64 " errors=%" PRIu64 " mismatches=%" PRIu64 "\n",
	    label, what, secs, st->st_ios, (double)st->st_ios / secs,
	    (double)st->st_bytes / secs / 1e6,
	    st->st_ios ? (double)st->st_lat_ns / (double)st->st_ios / 1e3 : 0,
	    (double)load_hist_pct(st, 99.0) / 1e3, cpu_us,
	    secs > 0 ? (double)self_ns / 1e9 / secs : 0, L.verified,
	    L.errors, L.mismatches);
}

/* Login rate: each client connects, logs in, logs out, closes, again. */
enum load_cstate { C_IDLE, C_CONNECT, C_LOGIN, C_LOGOUT, C_DONE };

struct load_client {
	struct iscsi_context	*cl_ctx;
	enum load_cstate	 cl_state;
	uint64_t		 cl_t0;
	int			 cl_n;
};

static void
load_client_fail(struct load_client *cl, const char *step, int status)
{
	if (L.errors++ < LOAD_MAXERR)
		warnx("client %d: %s: status 0x%x: %s", cl->cl_n, step, status,
		    iscsi_get_error(cl->cl_ctx));
	cl->cl_state = C_DONE;
}

static void
load_logout_cb(struct iscsi_context *ctx, int status, void *d, void *priv)
{
	struct load_client	*cl = priv;

	if (cl->cl_state != C_LOGOUT)
		return;
	if (status != SCSI_STATUS_GOOD) {
		load_client_fail(cl, "logout", status);
		return;
	}
	load_record(cl->cl_t0, 0);
	cl->cl_state = C_DONE;
}

static void
load_login_cb(struct iscsi_context *ctx, int status, void *d, void *priv)
{
	struct load_client	*cl = priv;

	if (cl->cl_state != C_LOGIN)
		return;
	if (status != SCSI_STATUS_GOOD) {
		load_client_fail(cl, "login", status);
		return;
	}
	cl->cl_state = C_LOGOUT;
	if (iscsi_logout_async(ctx, load_logout_cb, cl) != 0)
		load_client_fail(cl, "logout", -1);
}

static void
load_connect_cb(struct iscsi_context *ctx, int status, void *d, void *priv)
{
	struct load_client	*cl = priv;

	if (cl->cl_state != C_CONNECT)
		return;	/* the second call, at teardown */
	if (status != SCSI_STATUS_GOOD) {
		load_client_fail(cl, "connect", status);
		return;
	}
	cl->cl_state = C_LOGIN;
	if (iscsi_login_async(ctx, load_login_cb, cl) != 0)
		load_client_fail(cl, "login", -1);
}

static void
load_logins(int nclients, const struct iscsi_url *u, uint64_t end)
{
	struct load_client	*cl;
	struct iscsi_context	**ctxs;
	struct pollfd		*pfd;
	uint64_t		 now, drain_end;
	int			 i, active;

	if ((cl = calloc((size_t)nclients, sizeof(*cl))) == NULL ||
	    (ctxs = calloc((size_t)nclients, sizeof(*ctxs))) == NULL ||
	    (pfd = calloc((size_t)nclients, sizeof(*pfd))) == NULL)
		err(1, "calloc");
	drain_end = 0;
	for (;;) {
		now = load_now_ns();
		if (drain_end == 0 && (now >= end || load_interrupted ||
		    L.errors != 0))
			drain_end = now + (uint64_t)LOAD_DRAIN_SEC * 1000000000;
		active = 0;
		for (i = 0; i < nclients; i++) {
			if (cl[i].cl_state == C_DONE) {
				iscsi_destroy_context(cl[i].cl_ctx);
				cl[i].cl_ctx = NULL;
				cl[i].cl_state = C_IDLE;
			}
			if (cl[i].cl_state == C_IDLE && drain_end == 0) {
				cl[i].cl_n = i;
				cl[i].cl_ctx = load_context("c", i, u);
				cl[i].cl_t0 = load_now_ns();
				cl[i].cl_state = C_CONNECT;
				if (iscsi_connect_async(cl[i].cl_ctx,
				    u->portal, load_connect_cb, &cl[i]) != 0)
					load_client_fail(&cl[i], "connect", -1);
			}
			ctxs[i] = cl[i].cl_ctx;
			if (cl[i].cl_state != C_IDLE)
				active++;
		}
		if (drain_end != 0 && active == 0)
			break;
		if (drain_end != 0 && now >= drain_end) {
			warnx("clients still busy after %d s", LOAD_DRAIN_SEC);
			L.errors++;
			break;
		}
		if (load_poll(ctxs, pfd, nclients) == 0)
			continue;
		/* A connection may close right after its Logout Response. */
		for (i = 0; i < nclients; i++)
			if (ctxs[i] == NULL && cl[i].cl_ctx != NULL &&
			    cl[i].cl_state != C_DONE)
				load_client_fail(&cl[i], "connection", -1);
	}
	free(pfd);
	free(ctxs);
	free(cl);
}

static void
load_parse_pids(const char *arg)
{
	char		*copy, *tok, *save;
	const char	*errstr;

	if ((copy = strdup(arg)) == NULL)
		err(1, "strdup");
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (L.npids == LOAD_MAXPIDS)
			errx(2, "-P: at most %d pids", LOAD_MAXPIDS);
		L.pids[L.npids++] = (pid_t)strtonum(tok, 1, INT_MAX, &errstr);
		if (errstr != NULL)
			errx(2, "-P %s: %s", tok, errstr);
	}
	free(copy);
}

static long long
load_num(const char *arg, long long lo, long long hi, const char *what)
{
	const char	*errstr;
	long long	 v;

	v = strtonum(arg, lo, hi, &errstr);
	if (errstr != NULL)
		errx(2, "%s %s: %s", what, arg, errstr);
	return (v);
}

static void
load_setup(const struct iscsi_url *u)
{
	size_t	bufsz;
	int	s, q;

	if ((L.sess = calloc((size_t)L.nsess, sizeof(*L.sess))) == NULL)
		err(1, "calloc");
	bufsz = L.bs > LOAD_VERIFY_BS ? L.bs : LOAD_VERIFY_BS;
	for (s = 0; s < L.nsess; s++) {
		L.sess[s].ss_lun = u->lun;
		L.sess[s].ss_ctx = load_context("s", s, u);
		if (iscsi_full_connect_sync(L.sess[s].ss_ctx, u->portal,
		    u->lun) != 0)
			errx(1, "session %d: login to %s: %s", s, u->portal,
			    iscsi_get_error(L.sess[s].ss_ctx));
		if ((L.sess[s].ss_slots = calloc((size_t)L.qd,
		    sizeof(struct load_slot))) == NULL)
			err(1, "calloc");
		for (q = 0; q < L.qd; q++) {
			L.sess[s].ss_slots[q].sl_sess = &L.sess[s];
			if ((L.sess[s].ss_slots[q].sl_buf =
			    aligned_alloc(LOAD_CHUNK, bufsz)) == NULL)
				err(1, "aligned_alloc");
			memset(L.sess[s].ss_slots[q].sl_buf, 0xa5, bufsz);
		}
	}
	load_capacity(&L.sess[0]);
	if (L.bs / LOAD_CHUNK > L.nchunks)
		errx(1, "-b is larger than the LUN");
	if ((L.lastseq = calloc(L.nchunks, sizeof(*L.lastseq))) == NULL ||
	    (L.inflight = calloc(L.nchunks, sizeof(*L.inflight))) == NULL)
		err(1, "calloc");
}

static void
load_teardown(void)
{
	int	s, q;

	for (s = 0; s < L.nsess; s++) {
		if (L.errors == 0)
			(void)iscsi_logout_sync(L.sess[s].ss_ctx);
		iscsi_destroy_context(L.sess[s].ss_ctx);
		for (q = 0; q < L.qd; q++)
			free(L.sess[s].ss_slots[q].sl_buf);
		free(L.sess[s].ss_slots);
	}
	free(L.sess);
	free(L.lastseq);
	free(L.inflight);
}

/* The I/O run: measured load, then for writers the verify pass. */
static void
load_io(const struct iscsi_url *u, int secs, const char *label)
{
	struct iscsi_context	**ctxs;
	struct pollfd		*pfd;
	uint64_t		 t0, t1, c0, c1, self;
	char			 what[160];
	int			 s;

	load_setup(u);
	if ((ctxs = calloc((size_t)L.nsess, sizeof(*ctxs))) == NULL ||
	    (pfd = calloc((size_t)L.nsess, sizeof(*pfd))) == NULL)
		err(1, "calloc");
	for (s = 0; s < L.nsess; s++)
		ctxs[s] = L.sess[s].ss_ctx;
	L.once = L.mode == M_FILL;
	L.measure = true;
	c0 = c1 = 0;
	if (L.npids > 0 && load_cpu_ticks(&c0) == -1)
		errx(1, "cannot read /proc/<pid>/stat of -P");
	self = load_self_ns();
	t0 = load_now_ns();
	load_phase(ctxs, pfd, L.mode == M_FILL ? 0 :
	    t0 + (uint64_t)secs * 1000000000);
	t1 = load_now_ns();
	self = load_self_ns() - self;
	if (L.npids > 0 && load_cpu_ticks(&c1) == -1)
		errx(1, "cannot read /proc/<pid>/stat of -P");
	L.measure = false;
	snprintf(what, sizeof(what), "mode=%s pattern=%s bs=%u qd=%d "
	    "sessions=%d", L.mode == M_READ ? "read" : L.mode == M_WRITE ?
	    "write" : L.mode == M_MIXED ? "mixed" : "fill",
	    L.random ? "random" : "sequential", L.bs, L.qd, L.nsess);
	if (L.mode != M_READ && L.errors == 0 && L.mismatches == 0 &&
	    !load_interrupted) {
		/* Read the whole LUN back, in big sequential commands. */
		L.verifying = true;
		L.once = true;
		L.random = false;
		L.seqpos = 0;
		L.bs = LOAD_VERIFY_BS;
		L.verified = 0;
		load_phase(ctxs, pfd, 0);
		if (L.seqpos != L.nchunks - L.nchunks %
		    (LOAD_VERIFY_BS / LOAD_CHUNK) && L.errors == 0 &&
		    L.mismatches == 0 && !load_interrupted) {
			warnx("verify pass stopped early");
			L.errors++;
		}
	}
	load_report(label, what, (double)(t1 - t0) / 1e9, c1 - c0, self);
	free(pfd);
	free(ctxs);
	load_teardown();
}

int
main(int argc, char *argv[])
{
	struct iscsi_context	*tmp;
	struct iscsi_url	*u;
	const char		*label = "-";
	uint64_t		 t0, t1, c0, c1, self;
	char			 what[64];
	int			 ch, secs = 5, clients = 0;

	L.mode = M_READ;
	L.random = true;
	L.bs = LOAD_CHUNK;
	L.qd = 1;
	L.nsess = 1;
	L.readpct = 50;
	while ((ch = getopt(argc, argv, "b:L:l:m:P:p:q:s:t:x:")) != -1) {
		switch (ch) {
		case 'b':
			L.bs = (uint32_t)load_num(optarg, LOAD_CHUNK,
			    16 * 1024 * 1024, "-b");
			if (L.bs % LOAD_CHUNK != 0)
				errx(2, "-b must be a multiple of %d",
				    LOAD_CHUNK);
			break;
		case 'L':
			clients = (int)load_num(optarg, 1, 1024, "-L");
			break;
		case 'l':
			label = optarg;
			break;
		case 'm':
			if (strcmp(optarg, "read") == 0)
				L.mode = M_READ;
			else if (strcmp(optarg, "write") == 0)
				L.mode = M_WRITE;
			else if (strcmp(optarg, "mixed") == 0)
				L.mode = M_MIXED;
			else if (strcmp(optarg, "fill") == 0)
				L.mode = M_FILL;
			else
				load_usage();
			break;
		case 'P':
			load_parse_pids(optarg);
			break;
		case 'p':
			if (strcmp(optarg, "random") == 0)
				L.random = true;
			else if (strcmp(optarg, "sequential") == 0)
				L.random = false;
			else
				load_usage();
			break;
		case 'q':
			L.qd = (int)load_num(optarg, 1, 1024, "-q");
			break;
		case 's':
			L.nsess = (int)load_num(optarg, 1, 1024, "-s");
			break;
		case 't':
			secs = (int)load_num(optarg, 1, 86400, "-t");
			break;
		case 'x':
			L.readpct = (int)load_num(optarg, 0, 100, "-x");
			break;
		default:
			load_usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		load_usage();
	if (L.mode == M_FILL)
		L.random = false;

	signal(SIGINT, load_onsignal);
	signal(SIGTERM, load_onsignal);
	signal(SIGPIPE, SIG_IGN);
	L.rng = load_now_ns() ^ ((uint64_t)getpid() << 32) ^
	    UINT64_C(0x2545f4914f6cdd1d);
	L.runid = load_rand() | 1;

	if ((tmp = iscsi_create_context("iqn.2026-11.org.ietd:load")) == NULL)
		errx(1, "iscsi_create_context failed");
	if ((u = iscsi_parse_full_url(tmp, argv[0])) == NULL)
		errx(2, "%s: %s", argv[0], iscsi_get_error(tmp));

	if (clients > 0) {
		L.measure = true;
		c0 = c1 = 0;
		if (L.npids > 0 && load_cpu_ticks(&c0) == -1)
			errx(1, "cannot read /proc/<pid>/stat of -P");
		self = load_self_ns();
		t0 = load_now_ns();
		load_logins(clients, u, t0 + (uint64_t)secs * 1000000000);
		t1 = load_now_ns();
		self = load_self_ns() - self;
		if (L.npids > 0 && load_cpu_ticks(&c1) == -1)
			errx(1, "cannot read /proc/<pid>/stat of -P");
		snprintf(what, sizeof(what), "mode=login clients=%d", clients);
		load_report(label, what, (double)(t1 - t0) / 1e9, c1 - c0,
		    self);
	} else
		load_io(u, secs, label);

	iscsi_destroy_url(u);
	iscsi_destroy_context(tmp);
	if (load_interrupted)
		return (130);
	return (L.errors != 0 || L.mismatches != 0 ? 1 : 0);
}
