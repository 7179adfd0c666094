/*
 * sandbox.h: one function per role.  Only main.c and sandbox.c change
 * credentials, capabilities, rlimits or (later) seccomp.
 */
#ifndef IETD_SANDBOX_H
#define IETD_SANDBOX_H

#include <sys/types.h>
#include <stdint.h>

#define IETD_CHROOT	"/run/ietd"

/* Make sure dir exists, is a root-owned directory not writable by others. */
void	sandbox_chroot_prepare(const char *dir);
/* Parent: chroot, drop to uid/gid, no capabilities, FSIZE 0. */
void	sandbox_parent(uid_t, gid_t, const char *chroot_dir, unsigned nofile);
/* Worker (already unprivileged, inherits the chroot): tightest limits;
 * nofile covers the descriptors in flight to io (see sandbox.c). */
void	sandbox_worker(unsigned nofile);
/*
 * io: drop to uid/gid keeping only the storage capabilities.  threads,
 * if not NULL, starts io's threads once every per-thread restriction
 * (ids, capabilities, bounding set, no_new_privs) is in place and before
 * NPROC 0 forbids new tasks, so they are born as confined as io.
 */
void	sandbox_io(uid_t, gid_t, uint64_t max_lun_bytes, void (*threads)(void));
/* io, on a reload that grows a LUN: raise its FSIZE to at least bytes.
 * 0, or -1 (logged). */
int	sandbox_io_fsize(uint64_t bytes);

#endif
