/*
 * worker.h: one process per TCP connection: the login phase, discovery
 * sessions, and the handoff of a logged-in connection to io.
 */
#ifndef IETD_WORKER_H
#define IETD_WORKER_H

#include <sys/socket.h>

#include "conf.h"
#include "log.h"
#include "util.h"

/* Descriptor numbers the worker moves its two channels to. */
#define WORKER_CLIENT_FD	3
#define WORKER_CHAN_FD		4

/*
 * The connection as the parent accepted it: the worker takes the
 * addresses and the log's address text from here instead of asking the
 * kernel and formatting them again.
 */
struct worker_conn {
	struct sockaddr_storage	 wc_peer;
	struct sockaddr_storage	 wc_local;
	char			 wc_addr[ADDRSTRLEN];	/* addr_str, port */
};

/*
 * Runs in the forked child, after the parent's descriptors were closed:
 * sandbox, alarm(timeout), login, then handoff or discovery; never
 * returns.
 */
__dead void worker_main(int client_fd, int chan_fd, const struct conf *,
	    unsigned timeout, unsigned nofile, const struct worker_conn *);

#endif
