/*
 * parent.c: the unprivileged, chrooted parent.  It accepts connections,
 * makes each one's channel to io, forks one worker per connection (at
 * most maxproc alive; at the limit it stops polling the listening
 * sockets), kills workers that outlive the login timeout, reaps them and
 * tells io, and on SIGTERM/SIGINT shuts everything down in order.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>
#include <bsd/unistd.h>

#include "ipc.h"
#include "log.h"
#include "util.h"
#include "parent/parent.h"
#include "worker/worker.h"

#define KILL_GRACE	5	/* seconds past -t before SIGKILL */
#define IO_STOP_WAIT	30	/* seconds io may take to shut down */
#define CHILD_CHUNK	64	/* child table slots mapped at a time */

/* Signals a worker takes at their default action. */
static const int worker_signals[] = {
	SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGALRM,
};

struct child {
	LIST_ENTRY(child)	 c_entry;
	pid_t			 c_pid;
	uint32_t		 c_peerid;
	time_t			 c_start;
	int			 c_killed;
	char			 c_addr[ADDRSTRLEN];
};

struct parent {
	struct parent_config	*p_cfg;
	LIST_HEAD(, child)	 p_children;
	LIST_HEAD(, child)	 p_free;	/* unused child slots */
	unsigned		 p_nchildren;
	uint32_t		 p_next_peerid;
	int			 p_sigfd;
	int			 p_full_logged;
	int			 p_stopping;
	unsigned		 p_sigreset;	/* worker_signals[i] not at
						   SIG_DFL here: bit i */
	time_t			 p_stop_deadline;
};

static time_t
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec);
}

/*
 * The child table lives in pages that fork leaves out (MADV_DONTFORK):
 * no worker needs it, and a page that fork shares is write-protected in
 * the parent until its next store there faults and copies it.  Slots
 * come in chunks that stay mapped; released ones wait on p_free.
 */
static struct child *
child_new(struct parent *p)
{
	struct child	*c;
	size_t		 i, len = CHILD_CHUNK * sizeof(*c);

	if (LIST_EMPTY(&p->p_free)) {
		c = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (c == MAP_FAILED)
			return (NULL);
		if (madvise(c, len, MADV_DONTFORK) == -1) {
			munmap(c, len);
			return (NULL);
		}
		for (i = 0; i < CHILD_CHUNK; i++)
			LIST_INSERT_HEAD(&p->p_free, &c[i], c_entry);
	}
	c = LIST_FIRST(&p->p_free);
	LIST_REMOVE(c, c_entry);
	memset(c, 0, sizeof(*c));
	return (c);
}

static void
child_free(struct parent *p, struct child *c)
{
	LIST_INSERT_HEAD(&p->p_free, c, c_entry);
}

/*
 * In the new child: keep only the client and the channel, then work.
 * The child table is not mapped here (child_new).
 */
static __dead void
child_start(struct parent *p, int client, int chan,
    const struct msg_p_worker *mw, const char *addr)
{
	struct parent_config	*pc = p->p_cfg;
	struct worker_conn	 wc;
	struct sigaction	 sa;
	sigset_t		 mask;
	size_t			 i;

	for (i = 0; i < pc->pc_nlisten; i++)
		close(pc->pc_listen[i]);
	close(pc->pc_io_fd);
	close(p->p_sigfd);
	if (pc->pc_pidfile_fd != -1)
		close(pc->pc_pidfile_fd);
	/* A plain mask and sigaction: no other libc text to fault in. */
	if (p->p_sigreset != 0) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		for (i = 0; i < nitems(worker_signals); i++)
			if (p->p_sigreset & 1U << i)
				sigaction(worker_signals[i], &sa, NULL);
	}
	sigemptyset(&mask);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	memcpy(&wc.wc_peer, &mw->peer, sizeof(wc.wc_peer));
	memcpy(&wc.wc_local, &mw->local, sizeof(wc.wc_local));
	strlcpy(wc.wc_addr, addr, sizeof(wc.wc_addr));
	worker_main(client, chan, pc->pc_conf, pc->pc_timeout,
	    pc->pc_inflight, &wc);
}

static void
accept_one(struct parent *p, int lfd)
{
	struct parent_config	*pc = p->p_cfg;
	struct sockaddr_storage	 peer;
	struct msg_p_worker	 mw;
	struct child		*c;
	socklen_t		 len;
	pid_t			 pid;
	int			 fd, sv[2];
	char			 addr[ADDRSTRLEN];

	len = sizeof(peer);
	fd = accept4(lfd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("accept");
		return;
	}
	memset(&mw, 0, sizeof(mw));
	memcpy(&mw.peer, &peer, sizeof(peer));
	len = sizeof(mw.local);
	if (getsockname(fd, (struct sockaddr *)&mw.local, &len) == -1) {
		log_warn("getsockname");
		close(fd);
		return;
	}
	if ((c = child_new(p)) == NULL) {
		log_warn("child table");
		close(fd);
		return;
	}
	addr_str((struct sockaddr *)&peer, 1, addr, sizeof(addr));
	strlcpy(c->c_addr, addr, sizeof(c->c_addr));
	log_info("connection request from %s", addr);

	if (ipc_pair(sv) == -1) {
		log_warn("socketpair");
		goto fail;
	}
	if (++p->p_next_peerid == 0)
		p->p_next_peerid = 1;
	c->c_peerid = p->p_next_peerid;
	if (ipc_send(pc->pc_io_fd, MSG_P_WORKER, c->c_peerid, &mw,
	    sizeof(mw), sv[0]) == -1) {
		log_warn("ipc to io");
		close(sv[0]);
		close(sv[1]);
		goto fail;
	}
	close(sv[0]);
	/*
	 * _Fork, not fork: the parent runs one thread, so no lock can be
	 * held here, and it registers no atfork handlers.  fork would also
	 * take and release the malloc, stdio and loader locks around the
	 * call: stores, in pages the worker shares, that cost a
	 * copy-on-write fault each in the worker and in the parent.
	 */
	switch ((pid = _Fork())) {
	case -1:
		log_warn("fork");
		close(sv[1]);
		goto fail;
	case 0:
		child_start(p, fd, sv[1], &mw, addr);
	default:
		break;
	}
	close(sv[1]);
	close(fd);
	c->c_pid = pid;
	c->c_start = now();
	LIST_INSERT_HEAD(&p->p_children, c, c_entry);
	p->p_nchildren++;
	log_debug(1, "worker %d for %s (peer %u)", (int)pid, c->c_addr,
	    c->c_peerid);
	return;
fail:
	close(fd);
	child_free(p, c);
}

static void
reap_worker(struct parent *p, struct child *c, int status)
{
	struct msg_p_gone	 mg;
	struct parent_config	*pc = p->p_cfg;

	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		log_warnx("login timed out after %u seconds for %s",
		    pc->pc_timeout, c->c_addr);
	else if (c->c_killed)
		log_warnx("login timed out after %u seconds for %s "
		    "(worker killed)", pc->pc_timeout, c->c_addr);
	else if (WIFSIGNALED(status))
		log_warnx("worker for %s killed by signal %d", c->c_addr,
		    WTERMSIG(status));
	else if (WEXITSTATUS(status) != 0)
		log_debug(1, "worker for %s exited with status %d", c->c_addr,
		    WEXITSTATUS(status));
	/*
	 * io sees every worker's channel end (its records, then end of
	 * file) and drops what the worker left with it.  A worker that
	 * exited with 0 handed off, ended a discovery session or saw its
	 * initiator go: nothing more to tell io, and a record and a wake-up
	 * of io saved per login.  Any other end is told, as before.
	 */
	memset(&mg, 0, sizeof(mg));
	mg.status = status;
	if (!p->p_stopping && (!WIFEXITED(status) || WEXITSTATUS(status) != 0) &&
	    ipc_send(pc->pc_io_fd, MSG_P_GONE, c->c_peerid, &mg, sizeof(mg),
	    -1) == -1)
		log_warn("ipc to io");
	LIST_REMOVE(c, c_entry);
	child_free(p, c);
	p->p_nchildren--;
}

static __dead void
io_gone(struct parent *p, int status)
{
	struct child	*c;

	LIST_FOREACH(c, &p->p_children, c_entry)
		kill(c->c_pid, SIGKILL);
	if (p->p_stopping && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		log_info("ietd stopped");
		_exit(0);
	}
	if (WIFSIGNALED(status))
		fatalx("io process killed by signal %d", WTERMSIG(status));
	fatalx("io process exited with status %d", WEXITSTATUS(status));
}

static void
reap(struct parent *p)
{
	struct child	*c;
	pid_t		 pid;
	int		 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == p->p_cfg->pc_io_pid)
			io_gone(p, status);
		LIST_FOREACH(c, &p->p_children, c_entry)
			if (c->c_pid == pid)
				break;
		if (c != NULL)
			reap_worker(p, c, status);
	}
}

static void
stop(struct parent *p)
{
	struct parent_config	*pc = p->p_cfg;
	struct child		*c;
	size_t			 i;

	if (p->p_stopping)
		return;
	log_info("shutting down");
	p->p_stopping = 1;
	p->p_stop_deadline = now() + IO_STOP_WAIT;
	for (i = 0; i < pc->pc_nlisten; i++)
		close(pc->pc_listen[i]);
	pc->pc_nlisten = 0;
	LIST_FOREACH(c, &p->p_children, c_entry)
		kill(c->c_pid, SIGTERM);
	if (ipc_send(pc->pc_io_fd, MSG_P_SHUTDOWN, 0, NULL, 0, -1) == -1)
		log_warn("ipc to io");
}

/* The parent cannot read the configuration: io does the reload. */
static void
reload(struct parent *p)
{
	if (p->p_stopping)
		return;
	log_info("SIGHUP: reloading the configuration");
	if (ipc_send(p->p_cfg->pc_io_fd, MSG_P_RELOAD, 0, NULL, 0, -1) == -1)
		log_warn("ipc to io");
}

static __attribute__((noinline)) void
handle_signals(struct parent *p)
{
	struct signalfd_siginfo	 si[8];
	ssize_t			 n;
	size_t			 i;

	/*
	 * One read, for poll said there is something: reading on until
	 * EAGAIN would store errno, in a page that each fork has shared
	 * (and so a copy-on-write fault per login).  Signals beyond these
	 * eight make the next poll return at once.
	 */
	n = read(p->p_sigfd, si, sizeof(si));
	for (i = 0; n > 0 && i < (size_t)n / sizeof(si[0]); i++) {
		switch (si[i].ssi_signo) {
		case SIGCHLD:
			reap(p);
			break;
		case SIGTERM:
		case SIGINT:
			stop(p);
			break;
		case SIGHUP:
			reload(p);
			break;
		}
	}
}

/* The parent's -t backstop: a worker's own alarm should fire first. */
static void
check_timeouts(struct parent *p)
{
	struct child	*c;
	time_t		 t = now();

	if (p->p_cfg->pc_timeout == 0)
		return;
	LIST_FOREACH(c, &p->p_children, c_entry)
		if (!c->c_killed &&
		    t - c->c_start > p->p_cfg->pc_timeout + KILL_GRACE) {
			kill(c->c_pid, SIGKILL);
			c->c_killed = 1;
		}
}

static __attribute__((noinline)) void
io_readable(struct parent *p)
{
	static const struct ipc_rule rules[] = {
		{ MSG_I_READY, 0, 0, false },
	};
	struct ipc_msg	 m;
	int		 r;

	r = ipc_recv(p->p_cfg->pc_io_fd, rules, nitems(rules), &m);
	if (r == 0 || (r == -1 && errno != EAGAIN && errno != EINTR)) {
		/* io is gone: its SIGCHLD tells how; wait for it. */
		int	 status;

		if (waitpid(p->p_cfg->pc_io_pid, &status, 0) ==
		    p->p_cfg->pc_io_pid)
			io_gone(p, status);
		fatalx("lost the io process");
	}
}

static __attribute__((noinline)) void
wait_io_ready(struct parent *p)
{
	static const struct ipc_rule rules[] = {
		{ MSG_I_READY, 0, 0, false },
	};
	struct ipc_msg	 m;
	int		 status;

	if (ipc_recv(p->p_cfg->pc_io_fd, rules, nitems(rules), &m) == 1)
		return;
	if (waitpid(p->p_cfg->pc_io_pid, &status, 0) == p->p_cfg->pc_io_pid)
		io_gone(p, status);
	fatalx("io process failed to start");
}

/*
 * The dispositions a worker must put back (child_start), found once:
 * the parent never changes them (it takes signals from its signalfd),
 * and most are at the default already, so most workers skip the calls.
 */
static void
sigreset_init(struct parent *p)
{
	struct sigaction	 sa;
	size_t			 i;

	p->p_sigreset = 0;
	for (i = 0; i < nitems(worker_signals); i++)
		if (sigaction(worker_signals[i], NULL, &sa) == -1 ||
		    sa.sa_handler != SIG_DFL)
			p->p_sigreset |= 1U << i;
}

__dead void
parent_main(struct parent_config *pc)
{
	struct parent	 p;
	struct pollfd	 pfd[2 + 16];
	sigset_t	 mask;
	size_t		 i, n;
	int		 full, r;

	/*
	 * The parent ends with _exit: nothing is buffered (logs go out
	 * unbuffered), and LeakSanitizer's exit-time check cannot list the
	 * threads of a chrooted process (no /proc there).
	 */
	log_set_exit(_exit);
	memset(&p, 0, sizeof(p));
	p.p_cfg = pc;
	LIST_INIT(&p.p_children);
	LIST_INIT(&p.p_free);
	sigreset_init(&p);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1)
		fatal("sigprocmask");
	if ((p.p_sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) ==
	    -1)
		fatal("signalfd");
	wait_io_ready(&p);
	if (set_nonblock(pc->pc_io_fd) == -1)
		fatal("fcntl");
	log_debug(1, "parent ready");

	for (;;) {
		full = pc->pc_maxproc != 0 && p.p_nchildren >= pc->pc_maxproc;
		if (full && !p.p_full_logged) {
			log_warnx("maxproc limit of %u child processes hit; "
			    "waiting for children to exit", pc->pc_maxproc);
			p.p_full_logged = 1;
		} else if (!full)
			p.p_full_logged = 0;

		pfd[0].fd = p.p_sigfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = pc->pc_io_fd;
		pfd[1].events = POLLIN;
		n = 2;
		if (!full && !p.p_stopping)
			for (i = 0; i < pc->pc_nlisten && n < nitems(pfd); i++) {
				pfd[n].fd = pc->pc_listen[i];
				pfd[n++].events = POLLIN;
			}
		r = poll(pfd, n, p.p_nchildren > 0 || p.p_stopping ? 1000 : -1);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		if (pfd[0].revents & POLLIN)
			handle_signals(&p);
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))
			io_readable(&p);
		for (i = 2; i < n; i++)
			if (pfd[i].revents & POLLIN)
				accept_one(&p, pfd[i].fd);
		check_timeouts(&p);
		if (p.p_stopping && now() > p.p_stop_deadline) {
			log_warnx("io did not stop in %d seconds; killing it",
			    IO_STOP_WAIT);
			kill(pc->pc_io_pid, SIGKILL);
			p.p_stop_deadline = now() + IO_STOP_WAIT;
		}
	}
}
