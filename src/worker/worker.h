/*
 * worker.h: one process per TCP connection: the login phase, discovery
 * sessions, and the handoff of a logged-in connection to io.
 */
#ifndef IETD_WORKER_H
#define IETD_WORKER_H

#include <sys/socket.h>

#include "conf.h"
#include "log.h"

/* Descriptor numbers the worker moves its two channels to. */
#define WORKER_CLIENT_FD	3
#define WORKER_CHAN_FD		4

/*
 * Runs in the forked child, after the parent's descriptors were closed:
 * sandbox, alarm(timeout), login, then handoff or discovery; never
 * returns.
 */
__dead void worker_main(int client_fd, int chan_fd, const struct conf *,
	    unsigned timeout, unsigned nofile,
	    const struct sockaddr_storage *peer);

#endif
