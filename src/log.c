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
#include "util.h"

static int	 log_foreground = 1;
static int	 log_verbose;
static char	 log_proc[32] = "ietd";
static char	 log_peer[1280];
/* Of the process that last named itself: glibc asks the kernel each time. */
static pid_t	 log_pid;
static void	(*log_exit)(int) = exit;
/* The UTC offset of [log_tz_from, log_tz_from + LOG_TZ_SPAN), per thread
 * (io's reactors log at once). */
#define LOG_TZ_SPAN	900
static __thread time_t	 log_tz_from = -1;
static __thread long	 log_tz_off;

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
	strlcpy(log_peer, vaddr, sizeof(log_peer));
	if (initiator != NULL && initiator[0] != '\0') {
		peer_vis(vname, sizeof(vname), initiator);
		strlcat(log_peer, " (", sizeof(log_peer));
		strlcat(log_peer, vname, sizeof(log_peer));
		strlcat(log_peer, ")", sizeof(log_peer));
	}
	strlcat(log_peer, ": ", sizeof(log_peer));
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
 * fmt with ap into buf, for the conversions log lines use most: %s, %d,
 * %u, %zu and %%.  -1 at anything else (a flag, a width, another
 * conversion), and the caller formats with vsnprintf instead.  Every
 * worker logs a line or two: this way they bring in none of stdio's
 * text, tables and stack.
 */
static int
fmt_simple(char *buf, size_t size, const char *fmt, va_list ap)
{
	const char	*s;
	char		 num[22];
	size_t		 len = 0, n;
	long long	 d;

	for (; *fmt != '\0'; fmt++) {
		if (*fmt != '%') {
			if (len + 1 < size)
				buf[len++] = *fmt;
			continue;
		}
		switch (*++fmt) {
		case '%':
			s = "%";
			break;
		case 's':
			if ((s = va_arg(ap, const char *)) == NULL)
				s = "(null)";
			break;
		case 'd':
			d = va_arg(ap, int);
			num[0] = '-';
			fmt_uint(num + (d < 0), d < 0 ? -(unsigned long long)d :
			    (unsigned long long)d);
			s = num;
			break;
		case 'u':
			s = fmt_uint(num, va_arg(ap, unsigned));
			break;
		case 'z':
			if (fmt[1] != 'u')
				return (-1);
			fmt++;
			s = fmt_uint(num, va_arg(ap, size_t));
			break;
		default:
			return (-1);
		}
		n = strlen(s);
		if (n > size - 1 - len)
			n = size - 1 - len;
		memcpy(buf + len, s, n);
		len += n;
	}
	buf[len] = '\0';
	return (0);
}

/* "hh:mm:ss.mmm ietd[pid] proc: " into head (128 bytes); its length. */
static size_t
log_head(char *head)
{
	struct timespec	 ts;
	long		 s, f[4];
	char		 num[22];
	size_t		 i, n = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	s = log_daysec(ts.tv_sec);
	f[0] = s / 3600;
	f[1] = s / 60 % 60;
	f[2] = s % 60;
	f[3] = ts.tv_nsec / 1000000;
	for (i = 0; i < 4; i++) {
		if (i == 3 && f[i] < 100)
			head[n++] = '0';
		if (f[i] < 10)
			head[n++] = '0';
		fmt_uint(head + n, f[i]);
		n += strlen(head + n);
		head[n++] = i < 2 ? ':' : i == 2 ? '.' : ' ';
	}
	head[n] = '\0';
	strlcat(head, "ietd[", 128);
	strlcat(head, fmt_uint(num, log_pid != 0 ? log_pid : getpid()), 128);
	strlcat(head, "] ", 128);
	strlcat(head, log_proc, 128);
	n = strlcat(head, ": ", 128);
	return (n < 128 ? n : 127);
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
	va_list	 aq;

	va_copy(aq, ap);
	if (fmt_simple(msg, sizeof(msg), fmt, aq) == -1)
		vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(aq);
	if (log_foreground) {
		struct iovec	 iov[4];
		char		 head[128];

		iov[0].iov_base = head;
		iov[0].iov_len = log_head(head);
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
