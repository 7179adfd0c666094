/*
 * parent.h: the unprivileged parent: accept loop, one worker per
 * connection (at most maxproc), login timeouts, reaping, shutdown.
 */
#ifndef IETD_PARENT_H
#define IETD_PARENT_H

#include <sys/types.h>
#include <stddef.h>

#include "conf.h"
#include "log.h"

struct parent_config {
	int		 pc_io_fd;	/* channel to io */
	pid_t		 pc_io_pid;
	int		*pc_listen;	/* listening sockets */
	size_t		 pc_nlisten;
	unsigned	 pc_maxproc;	/* 0: no limit */
	unsigned	 pc_timeout;	/* seconds, 0: none */
	int		 pc_pidfile_fd;	/* closed in workers */
	unsigned	 pc_inflight;	/* fds that may be in flight to io */
	struct conf	*pc_conf;	/* without secrets */
};

__dead void parent_main(struct parent_config *);

#endif
