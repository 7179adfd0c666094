/*
 * worker.c: the per-connection process.  It runs in the strictest
 * sandbox with a hard alarm(-t): SIGALRM is left at SIG_DFL, so a login
 * that takes too long simply ends, and the parent logs it.
 */
#include <sys/socket.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "ipc.h"
#include "log.h"
#include "sandbox.h"
#include "util.h"
#include "worker/login.h"
#include "worker/worker.h"

/*
 * Move the two descriptors to fixed numbers, whatever they were: the
 * channel out of the client's way first if it sits there, then each to
 * its place (two calls each, when they are elsewhere, as they are).
 */
static void
fixed_fds(int client, int chan)
{
	if (chan == WORKER_CLIENT_FD) {
		if ((chan = fcntl(chan, F_DUPFD_CLOEXEC, 10)) == -1)
			fatal("fcntl");
		close(WORKER_CLIENT_FD);
	}
	if (client != WORKER_CLIENT_FD) {
		if (dup2(client, WORKER_CLIENT_FD) == -1)
			fatal("dup2");
		close(client);
	}
	if (chan != WORKER_CHAN_FD) {
		if (dup2(chan, WORKER_CHAN_FD) == -1)
			fatal("dup2");
		close(chan);
	}
}

static __dead void
handoff(struct login *l)
{
	struct msg_w_handoff	 m;

	memset(&m, 0, sizeof(m));
	memcpy(m.isid, l->l_isid, sizeof(m.isid));
	m.tsih = l->l_tsih;
	m.cid = l->l_cid;
	m.tid = l->l_target->ct_tid;
	m.cmdsn = l->l_cmdsn;
	m.statsn = l->l_statsn;
	memcpy(m.params, l->l_neg.pn_result, sizeof(m.params));
	strlcpy(m.initiator, l->l_initiator, sizeof(m.initiator));
	strlcpy(m.target, l->l_target->ct_name, sizeof(m.target));
	if (ipc_send(l->l_chan, MSG_W_HANDOFF, 0, &m, sizeof(m), l->l_fd) == -1)
		fatal("handoff to io");
	log_debug(1, "conn_take_fd: %u %u %#llx %d", m.cid, m.statsn,
	    (unsigned long long)((uint64_t)m.isid[0] << 40 |
	    (uint64_t)m.isid[1] << 32 | (uint64_t)m.isid[2] << 24 |
	    (uint64_t)m.isid[3] << 16 | (uint64_t)m.isid[4] << 8 |
	    m.isid[5]) << 16 | m.tsih, l->l_fd);
	_exit(0);
}

__dead void
worker_main(int client_fd, int chan_fd, const struct conf *conf,
    unsigned timeout, unsigned nofile, const struct worker_conn *wc)
{
	struct login	 l;

	log_set_exit(_exit);
	log_procinit("worker");
	fixed_fds(client_fd, chan_fd);

	memset(&l, 0, sizeof(l));
	l.l_fd = WORKER_CLIENT_FD;
	l.l_chan = WORKER_CHAN_FD;
	l.l_conf = conf;
	l.l_window = 1;
	memcpy(&l.l_peer, &wc->wc_peer, sizeof(l.l_peer));
	memcpy(&l.l_local, &wc->wc_local, sizeof(l.l_local));
	strlcpy(l.l_addr, wc->wc_addr, sizeof(l.l_addr));
	log_setpeer(l.l_addr, NULL);

	sandbox_worker(nofile);
	/* The title says "sandboxed and logging in" (regress waits for it). */
	proctitle_set("login ", l.l_addr);
	if (timeout > 0)
		alarm(timeout);

	switch (login_run(&l)) {
	case 0:
		break;
	case LOGIN_CLOSED:
		_exit(0);
	default:
		_exit(1);
	}
	if (l.l_discovery)
		discovery_run(&l);
	handoff(&l);
}
