/*
 * io.h: the privileged I/O process: accepts worker channels from the
 * parent, admits sessions, takes handed-off connections and runs the full
 * feature phase over them.
 */
#ifndef IETD_IO_H
#define IETD_IO_H

#include "conf.h"
#include "log.h"
#include "priv/lun.h"

/*
 * Before sandbox_io: how many reactor threads (IOThreads), and the
 * sandbox's callback, which starts the I/O threads (iopool.h) and the
 * reactor threads before io may make no more tasks (reactor.c).
 */
void	reactor_size(unsigned);
void	reactor_threads(void);

/*
 * Runs the io role until MSG_P_SHUTDOWN (or the parent's channel closes):
 * then asks sessions to end, flushes every backing store and exits 0.
 * Called after sandbox_io().
 */
__dead void io_main(int parent_fd, struct conf *, struct lun_table *);

#endif
