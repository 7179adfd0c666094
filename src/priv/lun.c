/*
 * lun.c: backing stores of the io process (fileio, blockio, nullio).
 *
 * lun_table_open runs once at start-up, as root, and opens every LUN of
 * every configured target.  Afterwards only a reload (reload.c) changes
 * the table: it adds and removes LUNs (lun_new, lun_target_add and
 * lun_target_remove) and updates sizes; see lun.h for who owns a LUN.
 * The I/O is plain synchronous pread/pwrite/fdatasync.
 */

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <linux/falloc.h>	/* FALLOC_FL_PUNCH_HOLE */
#include <linux/fs.h>		/* BLKGETSIZE64, BLKDISCARD */
#include <linux/magic.h>	/* TMPFS_MAGIC, RAMFS_MAGIC */
#include <sys/vfs.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>
#include <sha2.h>

#include "log.h"
#include "priv/lun.h"
#include "priv/pr.h"
#include "priv/scsi.h"

/* Size of a nullio LUN whose configuration gives no Sectors. */
#define LUN_NULLIO_DEFAULT_BYTES	(64ULL << 30)
#define LUN_BLOCKSIZE_DEFAULT		512U

static bool	lun_in_memory(int);
static bool	lun_nowait_reads(int);
static int	lun_open(const struct conf *, const struct conf_target *,
		    const struct conf_lun *, struct lun *);
static int	lun_open_backing(const struct conf *, const struct conf_lun *,
		    struct lun *);
static void	lun_probe_thin(struct lun *, const struct stat *);
static void	lun_probe_physical(struct lun *, const struct stat *);
static int	lun_direct_setup(const struct conf *, const struct conf_lun *,
		    struct lun *, int);
static void	lun_naa_derive(const char *, uint32_t, uint8_t *);
static int	lun_cmp(const void *, const void *);
static void	lun_target_close(struct lun_target *);

/* The table opened last, which io serves (lun_find_naa). */
static struct lun_table	*lun_table_current;

struct lun_table *
lun_table_open(const struct conf *conf)
{
	struct lun_table	*tab;
	struct lun_target	*lt;
	struct conf_target	*ct;
	struct conf_lun		*cl;
	size_t			 ntargets, nluns;

	if ((tab = calloc(1, sizeof(*tab))) == NULL) {
		log_warn("lun table");
		return (NULL);
	}
	ntargets = 0;
	TAILQ_FOREACH(ct, &conf->conf_targets, ct_entry)
		ntargets++;
	if (ntargets > 0 &&
	    (tab->lt_targets = calloc(ntargets, sizeof(*lt))) == NULL) {
		log_warn("lun table");
		goto fail;
	}

	TAILQ_FOREACH(ct, &conf->conf_targets, ct_entry) {
		lt = &tab->lt_targets[tab->lt_ntargets];
		lt->lt_tid = ct->ct_tid;
		if ((lt->lt_name = strdup(ct->ct_name)) == NULL) {
			log_warn("lun table");
			goto fail;
		}
		tab->lt_ntargets++;

		nluns = 0;
		TAILQ_FOREACH(cl, &ct->ct_luns, cl_entry)
			nluns++;
		if (nluns == 0)
			continue;
		if ((lt->lt_luns = calloc(nluns, sizeof(*lt->lt_luns))) ==
		    NULL) {
			log_warn("lun table");
			goto fail;
		}
		/* lt_nluns counts opened LUNs only, so that a failure
		 * closes exactly what was opened. */
		TAILQ_FOREACH(cl, &ct->ct_luns, cl_entry) {
			if ((lt->lt_luns[lt->lt_nluns] = lun_new(conf, ct,
			    cl)) == NULL)
				goto fail;
			lt->lt_nluns++;
		}
		qsort(lt->lt_luns, lt->lt_nluns, sizeof(*lt->lt_luns),
		    lun_cmp);
	}
	lun_table_current = tab;
	return (tab);

fail:
	lun_table_free(tab);
	return (NULL);
}

void
lun_table_free(struct lun_table *tab)
{
	size_t	i;

	if (tab == NULL)
		return;
	if (tab == lun_table_current)
		lun_table_current = NULL;
	for (i = 0; i < tab->lt_ntargets; i++)
		lun_target_close(&tab->lt_targets[i]);
	free(tab->lt_targets);
	free(tab);
}

static void
lun_target_close(struct lun_target *lt)
{
	size_t	i;

	for (i = 0; i < lt->lt_nluns; i++)
		lun_unref(lt->lt_luns[i]);
	free(lt->lt_luns);
	free(lt->lt_name);
	lt->lt_luns = NULL;
	lt->lt_name = NULL;
	lt->lt_nluns = 0;
}

static int
lun_cmp(const void *a, const void *b)
{
	const struct lun	*la = *(struct lun * const *)a;
	const struct lun	*lb = *(struct lun * const *)b;

	if (la->lun_id < lb->lun_id)
		return (-1);
	return (la->lun_id > lb->lun_id);
}

struct lun *
lun_new(const struct conf *conf, const struct conf_target *ct,
    const struct conf_lun *cl)
{
	struct lun	*lun;

	if ((lun = calloc(1, sizeof(*lun))) == NULL) {
		log_warn("%s:%d: lun %u", conf->conf_path, cl->cl_line,
		    cl->cl_id);
		return (NULL);
	}
	if (lun_open(conf, ct, cl, lun) == -1) {
		free(lun);
		return (NULL);
	}
	if ((errno = pthread_rwlock_init(&lun->lun_rw, NULL)) != 0) {
		log_warn("%s:%d: lun %u", conf->conf_path, cl->cl_line,
		    cl->cl_id);
		if (lun->lun_fd != -1)
			close(lun->lun_fd);
		lun_state_free(lun);
		free(lun);
		return (NULL);
	}
	lun->lun_refs = 1;
	return (lun);
}

/* Reactor threads take and drop references at once: atomically. */
struct lun *
lun_ref(struct lun *lun)
{
	__atomic_add_fetch(&lun->lun_refs, 1, __ATOMIC_RELAXED);
	return (lun);
}

void
lun_unref(struct lun *lun)
{
	if (lun == NULL ||
	    __atomic_sub_fetch(&lun->lun_refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	if (lun->lun_fd != -1)
		close(lun->lun_fd);
	lun_state_free(lun);
	pthread_rwlock_destroy(&lun->lun_rw);
	free(lun);
}

int
lun_target_add(struct lun_target *lt, struct lun *lun)
{
	struct lun	**v;
	size_t		  i;

	if ((v = reallocarray(lt->lt_luns, lt->lt_nluns + 1,
	    sizeof(*v))) == NULL)
		return (-1);
	lt->lt_luns = v;
	for (i = lt->lt_nluns; i > 0 && v[i - 1]->lun_id > lun->lun_id; i--)
		v[i] = v[i - 1];
	v[i] = lun;
	lt->lt_nluns++;
	return (0);
}

void
lun_target_remove(struct lun_target *lt, struct lun *lun)
{
	size_t	i;

	for (i = 0; i < lt->lt_nluns; i++)
		if (lt->lt_luns[i] == lun)
			break;
	if (i == lt->lt_nluns)
		return;
	memmove(&lt->lt_luns[i], &lt->lt_luns[i + 1],
	    (lt->lt_nluns - i - 1) * sizeof(*lt->lt_luns));
	lt->lt_nluns--;
}

int
lun_size(const struct lun *lun, const struct conf_lun *cl,
    uint64_t *nblocks)
{
	struct stat	st;
	uint64_t	size;

	if (lun->lun_fd == -1) {
		*nblocks = cl->cl_sectors != 0 ? cl->cl_sectors :
		    LUN_NULLIO_DEFAULT_BYTES / lun->lun_blocksize;
		if (*nblocks > INT64_MAX / lun->lun_blocksize) {
			errno = EFBIG;
			return (-1);
		}
		return (0);
	}
	if (fstat(lun->lun_fd, &st) == -1)
		return (-1);
	if (lun->lun_blockdev) {
		if (ioctl(lun->lun_fd, BLKGETSIZE64, &size) == -1)
			return (-1);
	} else
		size = (uint64_t)st.st_size;
	*nblocks = size / lun->lun_blocksize;
	return (0);
}

static int
lun_open(const struct conf *conf, const struct conf_target *ct,
    const struct conf_lun *cl, struct lun *lun)
{
	const char	*what;

	memset(lun, 0, sizeof(*lun));
	TAILQ_INIT(&lun->lun_parked);
	lun->lun_cl = *cl;
	lun->lun_cl.cl_path = NULL;
	memset(&lun->lun_cl.cl_entry, 0, sizeof(lun->lun_cl.cl_entry));
	lun->lun_fd = -1;
	lun->lun_id = cl->cl_id;
	lun->lun_type = cl->cl_type;
	lun->lun_align = 1;
	lun->lun_readonly = cl->cl_iomode == IOMODE_RO;
	lun->lun_wt = cl->cl_iomode == IOMODE_WT;
	lun->lun_wce = !lun->lun_wt;
	lun->lun_iec[0] = 0x08;		/* DEXCPT: no exceptions reported */
	lun->lun_blocksize = cl->cl_blocksize != 0 ? cl->cl_blocksize :
	    LUN_BLOCKSIZE_DEFAULT;
	what = cl->cl_path != NULL ? cl->cl_path : "nullio";

	if (lun->lun_blocksize < 512 || lun->lun_blocksize > 4096 ||
	    (lun->lun_blocksize & (lun->lun_blocksize - 1)) != 0) {
		log_warnx("%s:%d: %s: invalid block size %u", conf->conf_path,
		    cl->cl_line, what, lun->lun_blocksize);
		return (-1);
	}

	if (cl->cl_type == LUN_NULLIO) {
		/* cl_sectors counts blocks of the LUN's block size. */
		lun->lun_nblocks = cl->cl_sectors != 0 ? cl->cl_sectors :
		    LUN_NULLIO_DEFAULT_BYTES / lun->lun_blocksize;
		/* Byte offsets must fit an off_t. */
		if (lun->lun_nblocks > INT64_MAX / lun->lun_blocksize) {
			log_warnx("%s:%d: nullio: %s", conf->conf_path,
			    cl->cl_line, strerror(EFBIG));
			return (-1);
		}
		if (cl->cl_thin == THIN_YES) {
			log_warnx("%s:%d: nullio: Thin=yes, but nullio has no "
			    "blocks to deallocate", conf->conf_path,
			    cl->cl_line);
			return (-1);
		}
	} else {
		if (cl->cl_path == NULL || cl->cl_path[0] == '\0') {
			log_warnx("%s:%d: lun %u: no Path", conf->conf_path,
			    cl->cl_line, cl->cl_id);
			return (-1);
		}
		if (strlcpy(lun->lun_path, cl->cl_path,
		    sizeof(lun->lun_path)) >= sizeof(lun->lun_path)) {
			log_warnx("%s:%d: %s: %s", conf->conf_path,
			    cl->cl_line, cl->cl_path, strerror(ENAMETOOLONG));
			return (-1);
		}
		if (lun_open_backing(conf, cl, lun) == -1)
			return (-1);
	}

	/* Defaults stable across restarts of the same configuration. */
	if (cl->cl_scsi_sn[0] != '\0')
		strlcpy(lun->lun_scsi_sn, cl->cl_scsi_sn,
		    sizeof(lun->lun_scsi_sn));
	else
		snprintf(lun->lun_scsi_sn, sizeof(lun->lun_scsi_sn),
		    "%04x%04x", ct->ct_tid, cl->cl_id);
	if (cl->cl_scsi_id[0] != '\0')
		strlcpy(lun->lun_scsi_id, cl->cl_scsi_id,
		    sizeof(lun->lun_scsi_id));
	else
		snprintf(lun->lun_scsi_id, sizeof(lun->lun_scsi_id),
		    "%08x%08x", ct->ct_tid, cl->cl_id);
	lun_naa_derive(ct->ct_name, cl->cl_id, lun->lun_naa);
	return (0);
}

/*
 * fileio and blockio.  blockio is the same buffered code path as fileio
 * for now; O_DIRECT (and the alignment it needs) comes with a later issue.
 */
static int
lun_open_backing(const struct conf *conf, const struct conf_lun *cl,
    struct lun *lun)
{
	struct stat	 st;
	uint64_t	 size;
	int		 fd, flags, serrno;

	flags = lun->lun_readonly ? O_RDONLY : O_RDWR;
	if ((fd = open(cl->cl_path, flags | O_CLOEXEC)) == -1)
		goto syserr;
	if (fstat(fd, &st) == -1)
		goto syserr;
	if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
		lun->lun_memory = lun_in_memory(fd);
		lun->lun_no_nowait = !lun_nowait_reads(fd);
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &size) == -1)
			goto syserr;
		lun->lun_blockdev = true;
	} else {
		log_warnx("%s:%d: %s: not a regular file or block device",
		    conf->conf_path, cl->cl_line, cl->cl_path);
		close(fd);
		return (-1);
	}
	if (size < lun->lun_blocksize) {
		log_warnx("%s:%d: %s: smaller than one block (%llu bytes)",
		    conf->conf_path, cl->cl_line, cl->cl_path,
		    (unsigned long long)size);
		close(fd);
		return (-1);
	}
	if (cl->cl_type == LUN_BLOCKIO &&
	    lun_direct_setup(conf, cl, lun, fd) == -1) {
		close(fd);
		return (-1);
	}
	lun->lun_fd = fd;
	lun->lun_nblocks = size / lun->lun_blocksize;
	lun_probe_physical(lun, &st);
	if (cl->cl_thin != THIN_NO)
		lun_probe_thin(lun, &st);
	if (cl->cl_thin == THIN_YES && !lun->lun_thin) {
		log_warnx("%s:%d: %s: Thin=yes, but blocks cannot be "
		    "deallocated here", conf->conf_path, cl->cl_line,
		    cl->cl_path);
		close(fd);
		lun->lun_fd = -1;
		return (-1);
	}
	return (0);

syserr:
	serrno = errno;
	log_warnx("%s:%d: %s: %s", conf->conf_path, cl->cl_line,
	    cl->cl_path, strerror(serrno));
	if (fd != -1)
		close(fd);
	return (-1);
}

/*
 * blockio bypasses the page cache: O_DIRECT, with the alignment the
 * device (BLKSSZGET) or the filesystem (statx STATX_DIOALIGN) asks for.
 * A LUN whose blocks are smaller than that alignment cannot work.
 */
static int
lun_direct_setup(const struct conf *conf, const struct conf_lun *cl,
    struct lun *lun, int fd)
{
	struct statx	stx;
	int		ssz = 0, fl;
	uint32_t	align;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_DIRECT) == -1) {
		log_warnx("%s:%d: %s: blockio needs O_DIRECT: %s (use "
		    "Type=fileio)", conf->conf_path, cl->cl_line, cl->cl_path,
		    strerror(errno));
		return (-1);
	}
	align = lun->lun_blocksize;	/* safe where nothing is known */
	if (lun->lun_blockdev) {
		if (ioctl(fd, BLKSSZGET, &ssz) == 0 && ssz > 0)
			align = (uint32_t)ssz;
	} else if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align > 0)
		align = stx.stx_dio_offset_align > stx.stx_dio_mem_align ?
		    stx.stx_dio_offset_align : stx.stx_dio_mem_align;
	if (align > lun->lun_blocksize || (align & (align - 1)) != 0) {
		log_warnx("%s:%d: %s: BlockSize %u is smaller than the %u "
		    "bytes direct I/O must be aligned to", conf->conf_path,
		    cl->cl_line, cl->cl_path, lun->lun_blocksize, align);
		return (-1);
	}
	lun->lun_direct = true;
	lun->lun_align = align;
	return (0);
}

/*
 * The physical block: what the backing store writes without reading
 * first.  A block device says (BLKPBSZGET); for a file it is the
 * filesystem's block (st_blksize), at most 4 KiB: a 512-byte LUN on a
 * 4 KiB filesystem has 8 logical blocks per physical block.
 */
#define LUN_PHYS_MAX	4096U

static void
lun_probe_physical(struct lun *lun, const struct stat *st)
{
	unsigned int	pbs = 0;
	uint32_t	n;

	if (lun->lun_blockdev) {
		if (ioctl(lun->lun_fd, BLKPBSZGET, &pbs) == -1)
			pbs = 0;
	} else if (st->st_blksize > 0)
		pbs = (unsigned int)st->st_blksize;
	if (pbs > LUN_PHYS_MAX)
		pbs = LUN_PHYS_MAX;
	lun->lun_pbexp = 0;
	if (pbs <= lun->lun_blocksize || (pbs & (pbs - 1)) != 0)
		return;
	for (n = pbs / lun->lun_blocksize; n > 1; n >>= 1)
		lun->lun_pbexp++;
}

/*
 * Thin provisioning is advertised only where deallocation really works.
 * A regular file: punch a hole past its end, which changes nothing but
 * fails with EOPNOTSUPP on filesystems without FALLOC_FL_PUNCH_HOLE;
 * holes read as zeroes.  A block device: a discard of zero bytes, which
 * fails with EOPNOTSUPP when the device cannot discard; discarded blocks
 * need not read as zeroes, so LBPRZ stays off.  Read-only LUNs and
 * nullio never deallocate anything.
 */
static void
lun_probe_thin(struct lun *lun, const struct stat *st)
{
	uint64_t	range[2];
	uint32_t	gran;

	lun->lun_unmap_gran = 1;
	if (lun->lun_readonly)
		return;
	if (lun->lun_blockdev) {
		range[0] = 0;
		range[1] = 0;
		lun->lun_thin = ioctl(lun->lun_fd, BLKDISCARD, range) == 0;
		return;
	}
	if (fallocate(lun->lun_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	    st->st_size, lun->lun_blocksize) == -1)
		return;
	lun->lun_thin = true;
	lun->lun_lbprz = true;
	gran = st->st_blksize > 0 ? (uint32_t)st->st_blksize : 1;
	if (gran > lun->lun_blocksize)
		lun->lun_unmap_gran = gran / lun->lun_blocksize;
}

/*
 * NAA type 3 (locally assigned) designator: the top nibble is 3 and the
 * other 60 bits come from SHA-256("<target name>\0<lun, 4 bytes BE>"), so
 * no IEEE OUI is needed and the value survives restarts.  libmd's
 * SHA-256 (libbsd's companion, linked into ietd): the LUN table is
 * opened before the parent forks off, and libcrypto is io's alone
 * (chap.c).
 */
static void
lun_naa_derive(const char *name, uint32_t id, uint8_t *naa)
{
	SHA2_CTX	 ctx;
	uint8_t		 md[SHA256_DIGEST_LENGTH], idb[4];

	idb[0] = id >> 24;
	idb[1] = id >> 16;
	idb[2] = id >> 8;
	idb[3] = id;
	SHA256Init(&ctx);
	SHA256Update(&ctx, (const uint8_t *)name, strlen(name) + 1);
	SHA256Update(&ctx, idb, sizeof(idb));
	SHA256Final(md, &ctx);
	memcpy(naa, md, 8);
	naa[0] = 0x30 | (naa[0] & 0x0f);
}

struct lun_target *
lun_target_find(const struct lun_table *tab, uint32_t tid)
{
	size_t	i;

	if (tab == NULL)
		return (NULL);
	for (i = 0; i < tab->lt_ntargets; i++)
		if (tab->lt_targets[i].lt_tid == tid)
			return (&tab->lt_targets[i]);
	return (NULL);
}

struct lun *
lun_find(const struct lun_target *lt, uint64_t id)
{
	size_t	lo, hi, mid;

	if (lt == NULL)
		return (NULL);
	lo = 0;
	hi = lt->lt_nluns;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (lt->lt_luns[mid]->lun_id == id)
			return (lt->lt_luns[mid]);
		if (lt->lt_luns[mid]->lun_id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (NULL);
}

struct lun *
lun_find_naa(const uint8_t *naa)
{
	struct lun_table	*tab = lun_table_current;
	size_t			 i, j;

	if (tab == NULL)
		return (NULL);
	for (i = 0; i < tab->lt_ntargets; i++)
		for (j = 0; j < tab->lt_targets[i].lt_nluns; j++)
			if (memcmp(tab->lt_targets[i].lt_luns[j]->lun_naa,
			    naa, 8) == 0)
				return (tab->lt_targets[i].lt_luns[j]);
	return (NULL);
}

/* True if [off, off + len) lies inside the LUN. */
static int
lun_range_ok(const struct lun *lun, size_t len, uint64_t off)
{
	uint64_t	size;

	size = lun->lun_nblocks * lun->lun_blocksize;
	return (off <= size && len <= size - off);
}

bool
lun_aligned(const struct lun *lun, const void *buf, size_t len,
    uint64_t off)
{
	return ((uintptr_t)buf % lun->lun_align == 0 &&
	    len % lun->lun_align == 0 && off % lun->lun_align == 0);
}

static int	lun_pread(struct lun *, void *, size_t, uint64_t);
static int	lun_pwrite(struct lun *, const void *, size_t, uint64_t);

/*
 * O_DIRECT I/O that is not aligned: through an aligned bounce buffer
 * covering the whole alignment units, read first (and, for a write,
 * modified and written back).
 */
static int
lun_bounce(struct lun *lun, void *rbuf, const void *wbuf, size_t len,
    uint64_t off)
{
	void		*b;
	uint64_t	 start, end;
	size_t		 n;
	int		 rv, serrno;

	start = off - off % lun->lun_align;
	end = off + len;
	if (end % lun->lun_align != 0)
		end += lun->lun_align - end % lun->lun_align;
	n = (size_t)(end - start);
	if ((errno = posix_memalign(&b, lun->lun_align, n)) != 0)
		return (-1);
	/* A write needs the old data only in the units it covers partly. */
	rv = 0;
	if (rbuf != NULL)
		rv = lun_pread(lun, b, n, start);
	else {
		if (start != off)
			rv = lun_pread(lun, b, lun->lun_align, start);
		if (rv == 0 && end != off + len && (n > lun->lun_align ||
		    start == off))
			rv = lun_pread(lun, (uint8_t *)b + n - lun->lun_align,
			    lun->lun_align, end - lun->lun_align);
	}
	if (rv == 0 && rbuf != NULL)
		memcpy(rbuf, (uint8_t *)b + (off - start), len);
	else if (rv == 0) {
		memcpy((uint8_t *)b + (off - start), wbuf, len);
		rv = lun_pwrite(lun, b, n, start);
	}
	serrno = errno;
	free(b);
	errno = serrno;
	return (rv);
}

int
lun_read(struct lun *lun, void *buf, size_t len, uint64_t off)
{
	if (!lun_range_ok(lun, len, off)) {
		errno = EINVAL;
		return (-1);
	}
	if (lun->lun_fd == -1) {
		memset(buf, 0, len);
		return (0);
	}
	if (lun->lun_direct && !lun_aligned(lun, buf, len, off))
		return (lun_bounce(lun, buf, NULL, len, off));
	return (lun_pread(lun, buf, len, off));
}

static int
lun_pread(struct lun *lun, void *buf, size_t len, uint64_t off)
{
	return (lun_fd_read(lun->lun_fd, buf, len, off));
}

int
lun_fd_read(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t	*p = buf;
	ssize_t	 n;

	while (len > 0) {
		n = pread(fd, p, len, (off_t)off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (n == 0) {
			/* The backing file shrank under us. */
			errno = EIO;
			return (-1);
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return (0);
}

int
lun_read_datain(struct lun *lun, struct scsi_cmd *cmd, size_t len,
    uint64_t off)
{
	if (cmd->sc_ref_ok && lun->lun_fd != -1 &&
	    lun_range_ok(lun, len, off)) {
		cmd->sc_ref = true;
		cmd->sc_ref_off = off;
		return (0);
	}
	return (lun_read(lun, cmd->sc_buf, len, off));
}

bool
lun_write_syncs(const struct lun *lun)
{
	return (lun->lun_wt || !lun->lun_wce);
}

int
lun_write(struct lun *lun, const void *buf, size_t len, uint64_t off)
{
	if (lun_write_nosync(lun, buf, len, off) == -1)
		return (-1);
	return (lun_write_syncs(lun) ? lun_sync(lun) : 0);
}

int
lun_write_nosync(struct lun *lun, const void *buf, size_t len, uint64_t off)
{
	int	rv;

	if (lun->lun_readonly) {
		errno = EROFS;
		return (-1);
	}
	if (!lun_range_ok(lun, len, off)) {
		errno = EINVAL;
		return (-1);
	}
	if (lun->lun_fd == -1)
		return (0);
	if (lun->lun_direct && !lun_aligned(lun, buf, len, off))
		rv = lun_bounce(lun, NULL, buf, len, off);
	else
		rv = lun_pwrite(lun, buf, len, off);
	return (rv);
}

static int
lun_pwrite(struct lun *lun, const void *buf, size_t len, uint64_t off)
{
	return (lun_fd_write(lun->lun_fd, buf, len, off));
}

int
lun_fd_write(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = pwrite(fd, p, len, (off_t)off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (n == 0) {
			errno = ENOSPC;
			return (-1);
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return (0);
}

int
lun_sync(struct lun *lun)
{
	if (lun->lun_fd == -1 || lun->lun_readonly)
		return (0);
	return (lun_fd_sync(lun->lun_fd));
}

int
lun_fd_sync(int fd)
{
	while (fdatasync(fd) == -1) {
		if (errno != EINTR)
			return (-1);
	}
	return (0);
}

int
lun_reserve(struct lun *lun, uint64_t off, uint64_t len)
{
	if (!lun_range_ok(lun, len, off)) {
		errno = EINVAL;
		return (-1);
	}
	if (!lun->lun_thin || lun->lun_blockdev || len == 0)
		return (0);
	while (fallocate(lun->lun_fd, FALLOC_FL_KEEP_SIZE, (off_t)off,
	    (off_t)len) == -1) {
		if (errno == EOPNOTSUPP)
			return (0);	/* the write itself will tell */
		if (errno != EINTR)
			return (-1);
	}
	return (0);
}

int
lun_unmap(struct lun *lun, uint64_t off, uint64_t len)
{
	uint64_t	range[2];

	if (!lun->lun_thin) {
		errno = EOPNOTSUPP;
		return (-1);
	}
	if (!lun_range_ok(lun, len, off)) {
		errno = EINVAL;
		return (-1);
	}
	if (len == 0)
		return (0);
	if (lun->lun_blockdev) {
		range[0] = off;
		range[1] = len;
		return (ioctl(lun->lun_fd, BLKDISCARD, range));
	}
	return (fallocate(lun->lun_fd, FALLOC_FL_PUNCH_HOLE |
	    FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len));
}

/*
 * Regular files of a thin LUN tell mapped from deallocated extents with
 * SEEK_DATA and SEEK_HOLE; everything else is mapped throughout.
 */
int
lun_extent(struct lun *lun, uint64_t off, bool *mapped, uint64_t *len)
{
	uint64_t	size;
	off_t		data, hole;

	size = lun->lun_nblocks * lun->lun_blocksize;
	if (off >= size) {
		errno = EINVAL;
		return (-1);
	}
	*mapped = true;
	*len = size - off;
	if (!lun->lun_thin || lun->lun_blockdev)
		return (0);
	data = lseek(lun->lun_fd, (off_t)off, SEEK_DATA);
	if (data == -1 && errno != ENXIO)
		return (-1);
	if (data == -1 || (uint64_t)data >= size) {
		*mapped = false;	/* a hole up to the end */
		return (0);
	}
	if ((uint64_t)data > off) {
		*mapped = false;
		*len = (uint64_t)data - off;
		return (0);
	}
	if ((hole = lseek(lun->lun_fd, (off_t)off, SEEK_HOLE)) == -1)
		return (-1);
	if ((uint64_t)hole < size)
		*len = (uint64_t)hole - off;
	return (0);
}

void
lun_prefetch(struct lun *lun, uint64_t off, uint64_t len)
{
	if (lun->lun_fd == -1 || len == 0)
		return;
	(void)posix_fadvise(lun->lun_fd, (off_t)off, (off_t)len,
	    POSIX_FADV_WILLNEED);
}

int
lun_sync_all(struct lun_table *tab)
{
	size_t	i, j;
	int	rv = 0;

	if (tab == NULL)
		return (0);
	for (i = 0; i < tab->lt_ntargets; i++)
		for (j = 0; j < tab->lt_targets[i].lt_nluns; j++)
			if (lun_sync(tab->lt_targets[i].lt_luns[j]) == -1)
				rv = -1;
	return (rv);
}

void
lun_exclusive(struct lun *lun)
{
	if (lun != NULL)
		pthread_rwlock_wrlock(&lun->lun_rw);
}

void
lun_exclusive_end(struct lun *lun)
{
	if (lun != NULL)
		pthread_rwlock_unlock(&lun->lun_rw);
}

/* A file on tmpfs or ramfs: its I/O never waits for a device. */
static bool
lun_in_memory(int fd)
{
	struct statfs	 sf;

	return (fstatfs(fd, &sf) == 0 && ((unsigned long)sf.f_type ==
	    TMPFS_MAGIC || (unsigned long)sf.f_type == RAMFS_MAGIC));
}

int
lun_read_nowait(struct lun *lun, void *buf, size_t len, uint64_t off)
{
	struct iovec	 iov = { buf, len };
	ssize_t		 n;

	if (lun->lun_fd == -1 || lun->lun_direct || lun->lun_memory ||
	    !lun_range_ok(lun, len, off))
		return (lun_read(lun, buf, len, off));
	if (__atomic_load_n(&lun->lun_no_nowait, __ATOMIC_RELAXED)) {
		errno = EAGAIN;
		return (-1);
	}
	do
		n = preadv2(lun->lun_fd, &iov, 1, (off_t)off, RWF_NOWAIT);
	while (n == -1 && errno == EINTR);
	if (n == (ssize_t)len)
		return (0);
	/* NFS and FUSE cannot tell: every read of theirs goes to a thread. */
	if (n == -1 && errno == EOPNOTSUPP) {
		__atomic_store_n(&lun->lun_no_nowait, true, __ATOMIC_RELAXED);
		errno = EAGAIN;
	}
	if (n >= 0)
		errno = EAGAIN;		/* part of it: a thread does it all */
	return (-1);
}

int
lun_write_nowait(struct lun *lun, const void *buf, size_t len, uint64_t off,
    size_t *done)
{
	struct iovec	 iov = { (void *)(uintptr_t)buf, len };
	ssize_t		 n;

	*done = 0;
	if (lun->lun_fd == -1 || lun->lun_memory || lun->lun_readonly ||
	    !lun_range_ok(lun, len, off) || (lun->lun_direct &&
	    !lun_aligned(lun, buf, len, off)))
		return (lun_write_nosync(lun, buf, len, off));
	if (!lun->lun_direct &&
	    !__atomic_load_n(&lun->lun_no_nowait_write, __ATOMIC_RELAXED)) {
		do
			n = pwritev2(lun->lun_fd, &iov, 1, (off_t)off,
			    RWF_NOWAIT);
		while (n == -1 && errno == EINTR);
		if (n == (ssize_t)len)
			return (0);
		if (n >= 0) {
			*done = (size_t)n;	/* a thread does the rest */
			errno = EAGAIN;
		}
		if (n >= 0 || errno != EOPNOTSUPP)
			return (-1);	/* EAGAIN: it would wait; or failed */
		__atomic_store_n(&lun->lun_no_nowait_write, true,
		    __ATOMIC_RELAXED);
	}
	/*
	 * The file system cannot say whether a write would wait.  A local
	 * one (ext4, which can for reads) writes into the page cache and
	 * waits only when writeback falls behind: at once, as before the
	 * threads, since a thread would double the CPU time of a small
	 * write.  A remote one (NFS, FUSE, SMB: not for reads either) may
	 * wait for its server, and an O_DIRECT LUN for its device: on a
	 * thread.
	 */
	if (!lun->lun_direct &&
	    !__atomic_load_n(&lun->lun_no_nowait, __ATOMIC_RELAXED))
		return (lun_write_nosync(lun, buf, len, off));
	errno = EAGAIN;
	return (-1);
}

bool
lun_write_inloop(const struct lun *lun)
{
	if (lun->lun_fd == -1 || lun->lun_readonly || lun->lun_direct)
		return (false);
	return (lun->lun_memory ||
	    (__atomic_load_n(&lun->lun_no_nowait_write, __ATOMIC_RELAXED) &&
	    !__atomic_load_n(&lun->lun_no_nowait, __ATOMIC_RELAXED)));
}

int
lun_write_pipe(struct lun *lun, int pipefd, size_t len, uint64_t off)
{
	loff_t	 at = (loff_t)off;
	ssize_t	 n;

	if (lun->lun_readonly || !lun_range_ok(lun, len, off)) {
		errno = lun->lun_readonly ? EROFS : EINVAL;
		return (-1);
	}
	while (len > 0) {
		n = splice(pipefd, NULL, lun->lun_fd, &at, len, SPLICE_F_MOVE);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (n == 0) {
			errno = ENOSPC;
			return (-1);
		}
		len -= (size_t)n;
	}
	return (0);
}

/* Can the file system say that a read would wait (RWF_NOWAIT)?  NFS,
 * FUSE and SMB cannot. */
static bool
lun_nowait_reads(int fd)
{
	struct iovec	 iov;
	char		 c;

	iov.iov_base = &c;
	iov.iov_len = 1;
	return (preadv2(fd, &iov, 1, 0, RWF_NOWAIT) != -1 ||
	    errno != EOPNOTSUPP);
}

/* cachestat(2), Linux 6.5; not in Debian 12's headers. */
#ifndef SYS_cachestat
#define SYS_cachestat	451
#endif
struct lun_cachestat_range {
	uint64_t	off;
	uint64_t	len;
};
struct lun_cachestat {
	uint64_t	nr_cache;
	uint64_t	nr_dirty;
	uint64_t	nr_writeback;
	uint64_t	nr_evicted;
	uint64_t	nr_recently_evicted;
};

bool
lun_cached(struct lun *lun, uint64_t off, size_t len)
{
	static bool			 unknown;
	struct lun_cachestat_range	 r;
	struct lun_cachestat		 cs;
	long				 pg = sysconf(_SC_PAGESIZE);
	uint64_t			 first, last;

	if (unknown || lun->lun_fd == -1 || lun->lun_memory || len == 0 ||
	    pg <= 0)
		return (true);
	first = off / (uint64_t)pg;
	last = (off + len - 1) / (uint64_t)pg;
	r.off = first * (uint64_t)pg;
	r.len = (last - first + 1) * (uint64_t)pg;
	if (syscall(SYS_cachestat, lun->lun_fd, &r, &cs, 0) == -1) {
		if (errno == ENOSYS || errno == EPERM)
			unknown = true;
		return (true);
	}
	return (cs.nr_cache >= last - first + 1);
}
