/*
 * slowfs: a FUSE file system of one file whose fsync the test holds, to
 * stand for a backing store that is slow to flush (an NFS server, a
 * busy array) without timing anything.
 *
 * usage: slowfs backing-file gate mountpoint
 *
 * The mount shows one file, /lun.img, whose reads, writes and size are
 * those of backing-file.  fsync and fdatasync of it first create
 * "gate.held", then wait for as long as the file "gate" exists (at most
 * 60 seconds), then flush backing-file and remove "gate.held"; while a
 * file "gate.fail" exists they fail with EIO instead of flushing.  Reads
 * likewise wait while "gate.reads" exists, with "gate.rheld" showing it
 * (a slow device under an O_DIRECT LUN), and writes while "gate.writes"
 * exists, with "gate.wheld" showing it.  A test
 * creates gate, starts something that flushes, waits for gate.held to
 * appear, checks what must still work meanwhile, and removes gate.
 * Runs in the foreground, multithreaded, until unmounted (fusermount3 -u
 * or umount) or killed.
 */
#define FUSE_USE_VERSION 31

#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fuse.h>

#define LUN_NAME	"/lun.img"
#define HOLD_MAX_MS	60000

static const char	*backing;
static char		 gate[4096], held[4096], failf[4096];
static char		 rgate[4096], rheld[4096];
static char		 wgate[4096], wheld[4096];
static int		 bfd = -1;

static int
sfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	memset(st, 0, sizeof(*st));
	if (strcmp(path, "/") == 0) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return (0);
	}
	if (strcmp(path, LUN_NAME) != 0)
		return (-ENOENT);
	if (fstat(bfd, st) == -1)
		return (-errno);
	return (0);
}

static int
sfs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
    struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	if (strcmp(path, "/") != 0)
		return (-ENOENT);
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	fill(buf, LUN_NAME + 1, NULL, 0, 0);
	return (0);
}

static int
sfs_open(const char *path, struct fuse_file_info *fi)
{
	if (strcmp(path, LUN_NAME) != 0)
		return (-ENOENT);
	fi->direct_io = 0;
	return (0);
}

/* Wait while the file g exists (at most HOLD_MAX_MS), showing it in h. */
static void
hold(const char *g, const char *h)
{
	struct timespec	 ts = { 0, 10 * 1000 * 1000 };
	int		 fd, ms;

	if (access(g, F_OK) != 0)
		return;
	if ((fd = open(h, O_WRONLY | O_CREAT, 0644)) != -1)
		close(fd);
	for (ms = 0; access(g, F_OK) == 0 && ms < HOLD_MAX_MS; ms += 10)
		nanosleep(&ts, NULL);
	unlink(h);
}

static int
sfs_read(const char *path, char *buf, size_t len, off_t off,
    struct fuse_file_info *fi)
{
	ssize_t	 n;

	hold(rgate, rheld);
	n = pread(bfd, buf, len, off);

	return (n == -1 ? -errno : (int)n);
}

static int
sfs_write(const char *path, const char *buf, size_t len, off_t off,
    struct fuse_file_info *fi)
{
	ssize_t	 n;

	hold(wgate, wheld);
	n = pwrite(bfd, buf, len, off);
	return (n == -1 ? -errno : (int)n);
}

static int
sfs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	struct timespec	 ts = { 0, 10 * 1000 * 1000 };
	int		 fd, ms;

	if ((fd = open(held, O_WRONLY | O_CREAT, 0644)) != -1)
		close(fd);
	for (ms = 0; access(gate, F_OK) == 0 && ms < HOLD_MAX_MS; ms += 10)
		nanosleep(&ts, NULL);
	unlink(held);
	if (access(failf, F_OK) == 0)
		return (-EIO);
	if ((datasync ? fdatasync(bfd) : fsync(bfd)) == -1)
		return (-errno);
	return (0);
}

static int
sfs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	return (ftruncate(bfd, size) == -1 ? -errno : 0);
}

static const struct fuse_operations sfs_ops = {
	.getattr	= sfs_getattr,
	.readdir	= sfs_readdir,
	.open		= sfs_open,
	.read		= sfs_read,
	.write		= sfs_write,
	.fsync		= sfs_fsync,
	.truncate	= sfs_truncate,
};

int
main(int argc, char *argv[])
{
	char	*fargv[] = { argv[0], "-f", "-o", "allow_other", NULL, NULL };

	if (argc != 4) {
		fprintf(stderr, "usage: slowfs backing-file gate mountpoint\n");
		return (2);
	}
	backing = argv[1];
	if ((bfd = open(backing, O_RDWR)) == -1) {
		perror(backing);
		return (1);
	}
	if (snprintf(gate, sizeof(gate), "%s", argv[2]) >= (int)sizeof(gate) ||
	    snprintf(held, sizeof(held), "%s.held", argv[2]) >=
	    (int)sizeof(held) ||
	    snprintf(failf, sizeof(failf), "%s.fail", argv[2]) >=
	    (int)sizeof(failf) ||
	    snprintf(rgate, sizeof(rgate), "%s.reads", argv[2]) >=
	    (int)sizeof(rgate) ||
	    snprintf(rheld, sizeof(rheld), "%s.rheld", argv[2]) >=
	    (int)sizeof(rheld) ||
	    snprintf(wgate, sizeof(wgate), "%s.writes", argv[2]) >=
	    (int)sizeof(wgate) ||
	    snprintf(wheld, sizeof(wheld), "%s.wheld", argv[2]) >=
	    (int)sizeof(wheld)) {
		fprintf(stderr, "slowfs: gate path too long\n");
		return (2);
	}
	fargv[4] = argv[3];
	return (fuse_main(5, fargv, &sfs_ops, NULL));
}
