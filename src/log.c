/*
 * log.c: syslog (LOG_DAEMON) when daemonized, stderr with -f.  Level 0
 * messages of ietd(8) are log_info and always logged; levels 1 and 2 are
 * log_debug and need -d/-l.  Peer text is escaped with vis(3).
 */
#include <sys/uio.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>
#include <bsd/vis.h>

#include "log.h"

static int	 log_foreground = 1;
static int	 log_verbose;
static char	 log_proc[32] = "ietd";
static char	 log_peer[1280];
/* Of the process that last named itself: glibc asks the kernel each time. */
static pid_t	 log_pid;
static void	(*log_exit)(int) = exit;
/* The UTC offset of [log_tz_from, log_tz_from + LOG_TZ_SPAN). */
#define LOG_TZ_SPAN	900
static time_t	 log_tz_from = -1;
static long	 log_tz_off;

void
log_init(int foreground, int facility)
{
	log_foreground = foreground;
	if (!foreground)
		openlog("ietd", LOG_PID | LOG_NDELAY, facility);
	tzset();
}

void
log_procinit(const char *name)
{
	if (name != NULL)
		strlcpy(log_proc, name, sizeof(log_proc));
	log_pid = getpid();
}

void
log_set_exit(void (*fn)(int))
{
	log_exit = fn;
}

void
log_setverbose(int level)
{
	log_verbose = level;
}

int
log_getverbose(void)
{
	return (log_verbose);
}

/*
 * strnvis(3) with VIS_SAFE | VIS_OCTAL keeps printable ASCII but the
 * backslash as it is: such text (addresses, and the initiator names the
 * login accepts) is copied without vis's multibyte conversions, which
 * would be the only users of their code in a worker.
 */
static void
peer_vis(char *dst, size_t size, const char *src)
{
	const unsigned char	*p;

	for (p = (const unsigned char *)src; *p != '\0'; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '\\')
			break;
	if (*p == '\0' && (size_t)((const char *)p - src) < size)
		memcpy(dst, src, (const char *)p - src + 1);
	else
		strnvis(dst, src, size, VIS_SAFE | VIS_OCTAL);
}

void
log_setpeer(const char *addr, const char *initiator)
{
	char	 vaddr[4 * 64 + 1], vname[4 * 224 + 1];

	if (addr == NULL) {
		log_peer[0] = '\0';
		return;
	}
	peer_vis(vaddr, sizeof(vaddr), addr);
	if (initiator != NULL && initiator[0] != '\0') {
		peer_vis(vname, sizeof(vname), initiator);
		snprintf(log_peer, sizeof(log_peer), "%s (%s): ", vaddr, vname);
	} else
		snprintf(log_peer, sizeof(log_peer), "%s: ", vaddr);
}

/*
 * Seconds since local midnight.  localtime_r takes libc's time zone lock
 * and rewrites its state at every call: stores that, after each fork,
 * are copy-on-write faults in the parent and again in the worker.  The
 * offset from UTC changes only at a transition, and transitions fall on
 * a quarter hour of UTC (offsets are multiples of 15 minutes), so the
 * offset found once serves its whole quarter hour; a worker only reads
 * what the parent found.
 */
static long
log_daysec(time_t t)
{
	struct tm	 tm;
	long		 s;

	if (log_tz_from == -1 || t < log_tz_from ||
	    t >= log_tz_from + LOG_TZ_SPAN) {
		localtime_r(&t, &tm);
		log_tz_off = tm.tm_gmtoff;
		log_tz_from = t - t % LOG_TZ_SPAN;
		return (tm.tm_hour * 3600L + tm.tm_min * 60L + tm.tm_sec);
	}
	s = (long)((t + log_tz_off) % 86400);
	return (s < 0 ? s + 86400 : s);
}

/* All of iov out on fd, as one write when the system allows. */
static void
write_all(int fd, struct iovec *iov, int iovcnt)
{
	ssize_t	 n;

	while (iovcnt > 0) {
		if ((n = writev(fd, iov, iovcnt)) == -1) {
			if (errno == EINTR)
				continue;
			return;
		}
		while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
			n -= iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= n;
		}
	}
}

/*
 * The foreground line goes out in one writev(2), not through stdio: an
 * unbuffered stderr would format it again in an 8 KiB stack buffer, and
 * every worker (a fork of the parent) logs at least one line.
 */
static void
vlog(int pri, const char *fmt, va_list ap)
{
	char	 msg[2048];
	int	 saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_foreground) {
		struct timespec	 ts;
		struct iovec	 iov[4];
		char		 head[128];
		long		 s;
		int		 n;

		clock_gettime(CLOCK_REALTIME, &ts);
		s = log_daysec(ts.tv_sec);
		n = snprintf(head, sizeof(head), "%02ld:%02ld:%02ld.%03ld "
		    "ietd[%d] %s: ", s / 3600, s / 60 % 60, s % 60,
		    ts.tv_nsec / 1000000,
		    (int)(log_pid != 0 ? log_pid : getpid()), log_proc);
		iov[0].iov_base = head;
		iov[0].iov_len = n > 0 && (size_t)n < sizeof(head) ? n : 0;
		iov[1].iov_base = log_peer;
		iov[1].iov_len = strlen(log_peer);
		iov[2].iov_base = msg;
		iov[2].iov_len = strlen(msg);
		iov[3].iov_base = "\n";
		iov[3].iov_len = 1;
		write_all(STDERR_FILENO, iov, 4);
	} else
		syslog(pri, "%s: %s%s", log_proc, log_peer, msg);
	/* Only if it changed: errno shares a page with what fork shares. */
	if (errno != saved)
		errno = saved;
}

static void
vlog_errno(int pri, int err, const char *fmt, va_list ap)
{
	char	 buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (err != 0)
		log_warnx("%s: %s", buf, strerror(err));
	else
		log_warnx("%s", buf);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 err = errno;

	va_start(ap, fmt);
	vlog_errno(LOG_WARNING, err, fmt, ap);
	va_end(ap);
	errno = err;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(int level, const char *fmt, ...)
{
	va_list	 ap;

	if (level > log_verbose)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

/* IET's level-2 dump: 16 bytes a line, hex then printable characters. */
void
log_hexdump(int level, const char *label, const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	char			 hex[16 * 3 + 1], txt[17];
	size_t			 i, j;

	if (level > log_verbose)
		return;
	log_debug(level, "%s: (%zu bytes)", label, len);
	for (i = 0; i < len; i += 16) {
		for (j = 0; j < 16 && i + j < len; j++) {
			snprintf(hex + j * 3, 4, "%02x ", p[i + j]);
			txt[j] = p[i + j] >= 0x20 && p[i + j] < 0x7f ?
			    p[i + j] : '.';
		}
		hex[j * 3] = '\0';
		txt[j] = '\0';
		log_debug(level, "%-48s %.16s", hex, txt);
	}
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 err = errno;

	va_start(ap, fmt);
	vlog_errno(LOG_CRIT, err, fmt, ap);
	va_end(ap);
	log_exit(1);
	abort();
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	log_exit(1);
	abort();
}
