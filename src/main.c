/*
 * main.c: options, start-up as root, and the split into the three roles
 * (DESIGN.md): io keeps the storage, the parent accepts and forks a
 * worker per login.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <bsd/libutil.h>
#include <bsd/stdlib.h>
#include <bsd/unistd.h>

#include "chap.h"
#include "conf.h"
#include "crc32c.h"
#include "ipc.h"
#include "log.h"
#include "sandbox.h"
#include "util.h"
#include "parent/parent.h"
#include "priv/io.h"
#include "priv/iopool.h"
#include "priv/lun.h"
#include "priv/pr.h"

#define IETD_CONF	"/etc/ietd.conf"
#define IETD_PIDFILE	"/var/run/ietd.pid"
#define IETD_PORT	"3260"
#define LISTEN_MAX	16

extern char	**environ;

struct options {
	const char	*conf_path;
	const char	*pidfile;
	const char	*address;	/* NULL: all addresses */
	const char	*port;
	const char	*user;
	const char	*group;
	int		 debug;
	int		 foreground;
	int		 configtest;
	unsigned	 maxproc;
	unsigned	 timeout;
};

static struct pidfh	*pfh;

static const struct option longopts[] = {
	{ "address",	required_argument,	NULL,	'a' },
	{ "config",	required_argument,	NULL,	'c' },
	{ "debug",	required_argument,	NULL,	'd' },
	{ "foreground",	no_argument,		NULL,	'f' },
	{ "gid",	required_argument,	NULL,	'g' },
	{ "help",	no_argument,		NULL,	'h' },
	{ "port",	required_argument,	NULL,	'p' },
	{ "uid",	required_argument,	NULL,	'u' },
	{ NULL,		0,			NULL,	0 }
};

static void
usage(FILE *fp, int status)
{
	fprintf(fp, "usage: ietd [-fhn] [-a address] [-c configfile] "
	    "[-d debuglevel] [-g gid]\n"
	    "            [-l loglevel] [-m maxproc] [-P pidfile] [-p port] "
	    "[-t seconds] [-u uid]\n");
	exit(status);
}

static long long
number(const char *arg, const char *what, long long min, long long max)
{
	const char	*errstr;
	long long	 n;

	n = strtonum(arg, min, max, &errstr);
	if (errstr != NULL) {
		fprintf(stderr, "ietd: %s %s: %s (%lld-%lld)\n", what, arg,
		    errstr, min, max);
		usage(stderr, 1);
	}
	return (n);
}

static void
parse_options(int argc, char **argv, struct options *o)
{
	int	 ch;

	memset(o, 0, sizeof(*o));
	o->conf_path = IETD_CONF;
	o->pidfile = IETD_PIDFILE;
	o->port = IETD_PORT;
	o->maxproc = 30;
	o->timeout = 60;
	while ((ch = getopt_long(argc, argv, "a:c:d:fg:hl:m:nP:p:t:u:",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			o->address = optarg;
			break;
		case 'c':
			o->conf_path = optarg;
			break;
		case 'd':
			o->debug = number(optarg, "debug level", 0, 2);
			break;
		case 'f':
			o->foreground = 1;
			break;
		case 'g':
			o->group = optarg;
			break;
		case 'h':
			usage(stdout, 0);
			break;
		case 'l':
			o->debug = number(optarg, "log level", 0, 2);
			break;
		case 'm':
			o->maxproc = number(optarg, "maxproc", 0, 65535);
			break;
		case 'n':
			o->configtest = 1;
			break;
		case 'P':
			o->pidfile = optarg;
			break;
		case 'p':
			number(optarg, "port", 1, 65535);
			o->port = optarg;
			break;
		case 't':
			o->timeout = number(optarg, "timeout", 0, 86400);
			break;
		case 'u':
			o->user = optarg;
			break;
		default:
			usage(stderr, 1);
		}
	}
	if (optind != argc)
		usage(stderr, 1);
}

/* -u/-g: a name or a number; default user ietd, else nobody. */
static void
resolve_ids(const struct options *o, uid_t *uid, gid_t *gid)
{
	struct passwd	*pw = NULL;
	struct group	*gr;
	const char	*errstr;

	if (o->user == NULL) {
		if ((pw = getpwnam("ietd")) == NULL &&
		    (pw = getpwnam("nobody")) == NULL)
			fatalx("no user ietd or nobody: use -u");
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
	} else if ((pw = getpwnam(o->user)) != NULL) {
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
	} else {
		*uid = strtonum(o->user, 1, UINT32_MAX - 1, &errstr);
		if (errstr != NULL)
			fatalx("unknown user %s", o->user);
		if ((pw = getpwuid(*uid)) != NULL)
			*gid = pw->pw_gid;
		else if (o->group == NULL)
			fatalx("uid %s has no passwd entry: use -g", o->user);
	}
	if (o->group != NULL) {
		if ((gr = getgrnam(o->group)) != NULL)
			*gid = gr->gr_gid;
		else {
			*gid = strtonum(o->group, 0, UINT32_MAX - 1, &errstr);
			if (errstr != NULL)
				fatalx("unknown group %s", o->group);
		}
	}
	if (*uid == 0)
		fatalx("refusing to run as uid 0: use -u");
}

/*
 * The lookups in a child of their own: the NSS modules a lookup loads
 * (libnss_systemd and its libraries, for a user not in /etc/passwd)
 * stay mapped for good, and every fork of the parent (one per login)
 * copies each mapping.  The child writes the two ids back, or says why
 * not on stderr and exits 1.
 */
static void
resolve_ids_apart(const struct options *o, uid_t *uid, gid_t *gid)
{
	uint32_t	 ids[2];
	ssize_t		 n;
	pid_t		 pid;
	int		 fd[2], status;

	if (pipe2(fd, O_CLOEXEC) == -1)
		fatal("pipe");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		close(fd[0]);
		resolve_ids(o, uid, gid);
		ids[0] = *uid;
		ids[1] = *gid;
		_exit(write(fd[1], ids, sizeof(ids)) == sizeof(ids) ? 0 : 1);
	}
	close(fd[1]);
	do {
		n = read(fd[0], ids, sizeof(ids));
	} while (n == -1 && errno == EINTR);
	close(fd[0]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			fatal("waitpid");
	if (n != sizeof(ids) || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		exit(1);
	*uid = ids[0];
	*gid = ids[1];
}

static int
listen_one(const struct addrinfo *ai)
{
	char	 buf[ADDRSTRLEN];
	int	 fd, on = 1;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, ai->ai_protocol);
	if (fd == -1) {
		if (errno == EAFNOSUPPORT)
			return (-2);
		fatalx("unable to create server socket (%s)!",
		    strerror(errno));
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		fatalx("unable to set SO_REUSEADDR on server socket (%s)!",
		    strerror(errno));
	if (ai->ai_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1)
		fatalx("unable to set IPV6_V6ONLY on server socket (%s)!",
		    strerror(errno));
	/* Accepted sockets inherit it: the workers need no call of their own. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == -1)
		fatalx("unable to set TCP_NODELAY on server socket (%s)!",
		    strerror(errno));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1)
		fatalx("unable to bind server socket (%s)! (%s)",
		    strerror(errno), addr_str(ai->ai_addr, 1, buf,
		    sizeof(buf)));
	if (listen(fd, SOMAXCONN) == -1)
		fatalx("unable to listen to server socket (%s)!",
		    strerror(errno));
	log_debug(1, "listening on %s", addr_str(ai->ai_addr, 1, buf,
	    sizeof(buf)));
	return (fd);
}

static size_t
open_listeners(const struct options *o, int *fds)
{
	struct addrinfo	 hints, *res, *ai;
	size_t		 n = 0;
	int		 error, fd;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((error = getaddrinfo(o->address, o->port, &hints, &res)) != 0)
		fatalx("%s: %s", o->address ? o->address : "*",
		    gai_strerror(error));
	for (ai = res; ai != NULL && n < LISTEN_MAX; ai = ai->ai_next) {
		if ((fd = listen_one(ai)) == -2)
			continue;
		fds[n++] = fd;
	}
	freeaddrinfo(res);
	if (n == 0)
		fatalx("unable to create server socket (no usable address)!");
	return (n);
}

static uint64_t
largest_lun(const struct lun_table *lt)
{
	uint64_t	 max = 0, sz;
	size_t		 i, j;

	for (i = 0; i < lt->lt_ntargets; i++)
		for (j = 0; j < lt->lt_targets[i].lt_nluns; j++) {
			const struct lun *l = lt->lt_targets[i].lt_luns[j];

			if (l->lun_fd == -1)
				continue;
			sz = l->lun_nblocks * l->lun_blocksize;
			if (sz > max)
				max = sz;
		}
	return (max);
}

/* io reads the file again on SIGHUP, after daemon(3) went to "/". */
static void
conf_path_absolute(struct conf *conf)
{
	char	*abs;

	if (conf->conf_path[0] == '/' ||
	    (abs = realpath(conf->conf_path, NULL)) == NULL)
		return;
	free(conf->conf_path);
	conf->conf_path = abs;
}

static void
remove_pidfile(void)
{
	if (pfh != NULL)
		pidfile_remove(pfh);
}

/* The io child: keep the storage, drop the rest, serve sessions. */
static __dead void
start_io(int fd, int *listen, size_t nlisten, struct conf *conf,
    struct lun_table *luns, uid_t uid, gid_t gid)
{
	sigset_t	 mask;
	const char	*errstr;
	size_t		 i;

	for (i = 0; i < nlisten; i++)
		close(listen[i]);
	/* The parent orchestrates shutdown; a terminal's ^C is for it. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);
	sigemptyset(&mask);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	/* io removes the pidfile as the last one standing (see ietd(8)). */
	atexit(remove_pidfile);
	log_procinit("io");
	proctitle_set("io", NULL);
	/* CHAP is io's alone: libcrypto is loaded here, not linked. */
	if (chap_crypto_load(&errstr) == -1)
		fatalx("cannot load libcrypto: %s", errstr);
	/* So are ISA-L's digests (crc32c.c). */
	if (crc32c_load(&errstr) == -1)
		fatalx("cannot load libisal: %s", errstr);
	iopool_size(conf_io_threads(conf));
	reactor_size(conf_reactors(conf));
	/* FSIZE also bounds the APTPL state files (a few KiB each). */
	sandbox_io(uid, gid, largest_lun(luns) > PR_FILE_MAX ?
	    largest_lun(luns) : PR_FILE_MAX, reactor_threads);
	io_main(fd, conf, luns);
}

static __dead void
start_parent(struct options *o, int fd, pid_t io_pid, int *listen,
    size_t nlisten, struct conf *conf, uid_t uid, gid_t gid)
{
	struct parent_config	 pc;
	unsigned		 inflight;

	/* The parent holds no secrets and no backing stores. */
	conf_scrub_secrets(conf);
	log_procinit("parent");
	proctitle_set("parent", NULL);
	/*
	 * Descriptors of ietd's user in flight to io at once: one per
	 * accepted connection from the parent and one per handoff from a
	 * worker, at most two per live worker.  Linux refuses to pass more
	 * than the sender's NOFILE (see sandbox.c).
	 */
	inflight = o->maxproc != 0 ? 2 * o->maxproc + 16 : 4096;
	sandbox_parent(uid, gid, IETD_CHROOT, nlisten + 64 + inflight);
	memset(&pc, 0, sizeof(pc));
	pc.pc_io_fd = fd;
	pc.pc_io_pid = io_pid;
	pc.pc_listen = listen;
	pc.pc_nlisten = nlisten;
	pc.pc_maxproc = o->maxproc;
	pc.pc_timeout = o->timeout;
	pc.pc_pidfile_fd = pidfile_fileno(pfh);
	pc.pc_inflight = inflight;
	pc.pc_conf = conf;
	parent_main(&pc);
}

int
main(int argc, char **argv)
{
	struct options		 o;
	struct conf		*conf;
	struct lun_table	*luns;
	int			 listen[LISTEN_MAX], sv[2];
	size_t			 nlisten;
	pid_t			 otherpid, pid;
	uid_t			 uid;
	gid_t			 gid;

	/* Whatever our caller left open is not ours to pass to workers. */
	closefrom(STDERR_FILENO + 1);
	proctitle_init(argc, argv, environ);
	setproctitle_init(argc, argv, environ);
	parse_options(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN);
	log_init(1, LOG_DAEMON);
	log_setverbose(o.debug);

	if ((conf = conf_parse(o.conf_path)) == NULL || conf_verify(conf) == -1)
		exit(1);
	if (o.configtest) {
		fprintf(stderr, "%s: configuration OK\n", o.conf_path);
		exit(0);
	}
	if (geteuid() != 0)
		fatalx("must be started as root");
	resolve_ids_apart(&o, &uid, &gid);

	if ((pfh = pidfile_open(o.pidfile, 0644, &otherpid)) == NULL) {
		if (errno == EEXIST)
			fatalx("unable to lock pid file %s: ietd already "
			    "running as pid %d", o.pidfile, (int)otherpid);
		fatal("unable to create pid file %s", o.pidfile);
	}
	nlisten = open_listeners(&o, listen);
	if ((luns = lun_table_open(conf)) == NULL)
		exit(1);
	/* Persistent reservations with APTPL, before any session. */
	if (pr_file_init(luns, conf->conf_state_dir != NULL ?
	    conf->conf_state_dir : CONF_STATE_DIR) == -1)
		exit(1);
	sandbox_chroot_prepare(IETD_CHROOT);
	conf_path_absolute(conf);

	if (!o.foreground) {
		if (daemon(0, 0) == -1)
			fatal("starting daemon failed");
		log_init(0, LOG_DAEMON);
	}
	if (pidfile_write(pfh) == -1)
		fatal("unable to write pid file");
	log_info("ietd starting: %u target(s), maxproc %u, timeout %u",
	    conf->conf_ntargets, o.maxproc, o.timeout);

	if (ipc_pair(sv) == -1)
		fatal("socketpair");
	switch ((pid = fork())) {
	case -1:
		fatal("fork");
	case 0:
		close(sv[0]);
		start_io(sv[1], listen, nlisten, conf, luns, uid, gid);
	default:
		break;
	}
	close(sv[1]);
	lun_table_free(luns);
	start_parent(&o, sv[0], pid, listen, nlisten, conf, uid, gid);
}
