/*
 * sandbox.c: privilege drop for each role (STYLE.md section 4).  Every
 * step is checked and any failure is fatal: ietd fails closed.
 *
 * seccomp filters come with a later issue; they belong at the end of
 * each sandbox_*() function below, after PR_SET_NO_NEW_PRIVS.
 */
#include <sys/types.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <string.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
/*
 * AddressSanitizer builds (make check runs one): LeakSanitizer needs to
 * clone a tracer at exit, so RLIMIT_NPROC stays unset there, and it reads
 * /proc/self/maps, which it caches when told a sandbox is coming.
 */
#define SANITIZER_BUILD	1
#define sandbox_notify()	__sanitizer_sandbox_on_notify(NULL)
#elif defined(__SANITIZE_THREAD__)
/* ThreadSanitizer builds (by hand, for io's reactors): the same. */
#include <sanitizer/common_interface_defs.h>
#define SANITIZER_BUILD	1
#define sandbox_notify()	__sanitizer_sandbox_on_notify(NULL)
#else
#define SANITIZER_BUILD	0
#define sandbox_notify()	do { } while (0)
#endif

#include "log.h"
#include "sandbox.h"
#include "util.h"

static void
set_limit(int resource, rlim_t value, const char *name)
{
	struct rlimit	 rl;

	rl.rlim_cur = rl.rlim_max = value;
	if (setrlimit(resource, &rl) == -1)
		fatal("setrlimit %s", name);
}

void
sandbox_chroot_prepare(const char *dir)
{
	struct stat	 sb;
	struct dirent	*de;
	DIR		*d;

	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		fatal("%s", dir);
	if (lstat(dir, &sb) == -1)
		fatal("%s", dir);
	if (!S_ISDIR(sb.st_mode) || sb.st_uid != 0 ||
	    (sb.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		fatalx("%s: must be a directory owned by root and not "
		    "writable by group or others", dir);
	if ((d = opendir(dir)) == NULL)
		fatal("%s", dir);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			fatalx("%s: must be empty (found %s)", dir, de->d_name);
	closedir(d);
}

/* setgroups, setresgid, setresuid, then prove the old ids are gone. */
static void
drop_ids(uid_t uid, gid_t gid)
{
	uid_t	 ru, eu, su;
	gid_t	 rg, eg, sg;

	if (uid == 0)
		fatalx("refusing to run as uid 0");
	if (setgroups(1, &gid) == -1)
		fatal("setgroups");
	if (setresgid(gid, gid, gid) == -1)
		fatal("setresgid");
	if (setresuid(uid, uid, uid) == -1)
		fatal("setresuid");
	if (getresuid(&ru, &eu, &su) == -1 || getresgid(&rg, &eg, &sg) == -1)
		fatal("getresuid");
	if (ru != uid || eu != uid || su != uid ||
	    rg != gid || eg != gid || sg != gid)
		fatalx("privilege drop did not take (uid %u/%u/%u gid %u/%u/%u)",
		    ru, eu, su, rg, eg, sg);
	if (setuid(0) != -1 || seteuid(0) != -1)
		fatalx("could regain uid 0 after dropping privileges");
	if (gid != 0 && (setgid(0) != -1 || setegid(0) != -1))
		fatalx("could regain gid 0 after dropping privileges");
}

/* Keep exactly `keep' (permitted and effective), nothing inheritable. */
static void
set_caps(const cap_value_t *keep, int nkeep)
{
	cap_t		 caps;
	cap_flag_value_t v;
	int		 i;

	if ((caps = cap_init()) == NULL)
		fatal("cap_init");
	if (nkeep > 0 &&
	    (cap_set_flag(caps, CAP_PERMITTED, nkeep, keep, CAP_SET) == -1 ||
	    cap_set_flag(caps, CAP_EFFECTIVE, nkeep, keep, CAP_SET) == -1))
		fatal("cap_set_flag");
	if (cap_set_proc(caps) == -1)
		fatal("cap_set_proc");
	cap_free(caps);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 &&
	    errno != EINVAL)
		fatal("PR_CAP_AMBIENT_CLEAR_ALL");

	/* Verify: nothing but `keep' anywhere. */
	if ((caps = cap_get_proc()) == NULL)
		fatal("cap_get_proc");
	for (i = 0; i <= CAP_LAST_CAP; i++) {
		int	 k, want = 0;

		for (k = 0; k < nkeep; k++)
			if (keep[k] == i)
				want = 1;
		if (cap_get_flag(caps, i, CAP_EFFECTIVE, &v) == -1)
			continue;	/* capability unknown to libcap */
		if ((v == CAP_SET) != want)
			fatalx("capability %d still set after drop", i);
		if (cap_get_flag(caps, i, CAP_INHERITABLE, &v) == 0 &&
		    v == CAP_SET)
			fatalx("inheritable capability %d after drop", i);
	}
	cap_free(caps);
}

/* Remove every capability but `keep' from the bounding set (as root). */
static void
bound_caps(const cap_value_t *keep, int nkeep)
{
	int	 i, k, want;

	for (i = 0; i <= CAP_LAST_CAP; i++) {
		want = 0;
		for (k = 0; k < nkeep; k++)
			if (keep[k] == i)
				want = 1;
		if (!want && prctl(PR_CAPBSET_DROP, i, 0, 0, 0) == -1 &&
		    errno != EINVAL)
			fatal("PR_CAPBSET_DROP %d", i);
	}
}

/*
 * FSIZE 0 stops a role from growing any file it holds open, but a
 * foreground daemon whose stderr is a regular file (ietd -f 2>log) must
 * keep logging there.  The roles cannot create files in any case (empty
 * chroot or no write access, no capabilities).
 */
static void
limit_fsize(rlim_t value, rlim_t hard)
{
	struct stat	 sb;
	struct rlimit	 rl;

	if (fstat(STDERR_FILENO, &sb) == 0 && S_ISREG(sb.st_mode))
		return;
	rl.rlim_cur = value;
	rl.rlim_max = hard;
	if (setrlimit(RLIMIT_FSIZE, &rl) == -1)
		fatal("setrlimit FSIZE");
}

/*
 * io's soft limit is the largest LUN and its hard limit none, so that a
 * reload can make room for a LUN that grew or was added (io keeps no
 * capability to raise a hard limit).  The soft limit still stops a
 * write past every LUN's end.
 */
int
sandbox_io_fsize(uint64_t bytes)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_FSIZE, &rl) == -1) {
		log_warn("getrlimit FSIZE");
		return (-1);
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= bytes)
		return (0);
	if (rl.rlim_max != RLIM_INFINITY && bytes > rl.rlim_max) {
		log_warnx("FSIZE: %llu bytes are over the hard limit",
		    (unsigned long long)bytes);
		return (-1);
	}
	rl.rlim_cur = bytes;
	if (setrlimit(RLIMIT_FSIZE, &rl) == -1) {
		log_warn("setrlimit FSIZE");
		return (-1);
	}
	return (0);
}

static void
common_tail(void)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("PR_SET_DUMPABLE");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("PR_SET_NO_NEW_PRIVS");
}

void
sandbox_parent(uid_t uid, gid_t gid, const char *chroot_dir, unsigned nofile)
{
	sandbox_notify();
	if (chroot(chroot_dir) == -1)
		fatal("chroot %s", chroot_dir);
	if (chdir("/") == -1)
		fatal("chdir /");
	bound_caps(NULL, 0);
	drop_ids(uid, gid);
	set_caps(NULL, 0);
	limit_fsize(0, 0);
	set_limit(RLIMIT_NOFILE, nofile, "NOFILE");
	set_limit(RLIMIT_CORE, 0, "CORE");
	common_tail();
}

void
sandbox_worker(unsigned nofile)
{
	struct __user_cap_header_struct	 hdr;
	struct __user_cap_data_struct	 d[_LINUX_CAPABILITY_U32S_3];
	size_t				 i;

	/*
	 * Inherited from the parent: ids, chroot, no caps, no_new_privs (a
	 * task flag fork copies), PR_SET_DUMPABLE 0 (a flag of the memory
	 * map fork copies) and RLIMIT_FSIZE (what limit_fsize would decide
	 * here, it decided for the parent), so none of them costs a system
	 * call per login again; regress/privsep.bats checks them on a live
	 * worker.  The capability sets are read with one capget(2), not
	 * libcap's allocations and text form: every one of their bits must
	 * be clear.
	 */
	memset(&hdr, 0, sizeof(hdr));
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	if (capget(&hdr, d) == -1)
		fatal("capget");
	for (i = 0; i < nitems(d); i++)
		if (d[i].effective != 0 || d[i].permitted != 0 ||
		    d[i].inheritable != 0)
			fatalx("worker holds capabilities: word %zu "
			    "effective %#x permitted %#x inheritable %#x", i,
			    d[i].effective, d[i].permitted, d[i].inheritable);
	if (getuid() == 0 || geteuid() == 0)
		fatalx("worker runs as root");
	if (!SANITIZER_BUILD)
		set_limit(RLIMIT_NPROC, 0, "NPROC");
	/*
	 * The worker opens nothing, but Linux counts the descriptors a user
	 * has in flight over Unix sockets against the sender's NOFILE
	 * (ETOOMANYREFS past it), and every worker of a busy daemon hands
	 * its socket to io at about the same time: the caller sizes the
	 * limit for that.  seccomp (a later issue) forbids opening.
	 */
	set_limit(RLIMIT_NOFILE, nofile, "NOFILE");
}

void
sandbox_io(uid_t uid, gid_t gid, uint64_t max_lun_bytes, void (*threads)(void))
{
	static const cap_value_t keep[] = {
		CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_NET_BIND_SERVICE
	};
	struct rlimit	 rl;

	sandbox_notify();
	/* Room for many connections, raised while still root. */
	rl.rlim_cur = rl.rlim_max = 65536;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
		if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
			fatal("getrlimit");
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			fatal("setrlimit NOFILE");
	}
	bound_caps(keep, nitems(keep));
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == -1)
		fatal("PR_SET_KEEPCAPS");
	drop_ids(uid, gid);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) == -1)
		fatal("PR_SET_KEEPCAPS");
	set_caps(keep, nitems(keep));
	/*
	 * FSIZE caps the write offset: at least the largest LUN.  Threads
	 * start after the per-thread steps (credentials and no_new_privs
	 * are per thread in Linux); rlimits are per process, so NPROC 0
	 * then stops io and its threads from making any more tasks.
	 */
	limit_fsize(max_lun_bytes > 0 ? max_lun_bytes : 1, RLIM_INFINITY);
	set_limit(RLIMIT_CORE, 0, "CORE");
	common_tail();
	if (threads != NULL)
		threads();
	if (!SANITIZER_BUILD)
		set_limit(RLIMIT_NPROC, 0, "NPROC");
}
