/*
 * log.c: syslog (LOG_DAEMON) when daemonized, stderr with -f.  Level 0
 * messages of ietd(8) are log_info and always logged; levels 1 and 2 are
 * log_debug and need -d/-l.  Peer text is escaped with vis(3).
 */
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
static void	(*log_exit)(int) = exit;

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

void
log_setpeer(const char *addr, const char *initiator)
{
	char	 vaddr[4 * 64 + 1], vname[4 * 224 + 1];

	if (addr == NULL) {
		log_peer[0] = '\0';
		return;
	}
	strnvis(vaddr, addr, sizeof(vaddr), VIS_SAFE | VIS_OCTAL);
	if (initiator != NULL && initiator[0] != '\0') {
		strnvis(vname, initiator, sizeof(vname), VIS_SAFE | VIS_OCTAL);
		snprintf(log_peer, sizeof(log_peer), "%s (%s): ", vaddr, vname);
	} else
		snprintf(log_peer, sizeof(log_peer), "%s: ", vaddr);
}

static void
vlog(int pri, const char *fmt, va_list ap)
{
	char	 msg[2048];
	int	 saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_foreground) {
		struct timespec	 ts;
		struct tm	 tm;
		char		 tbuf[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ld ietd[%d] %s: %s%s\n", tbuf,
		    ts.tv_nsec / 1000000, (int)getpid(), log_proc, log_peer,
		    msg);
		fflush(stderr);
	} else
		syslog(pri, "%s: %s%s", log_proc, log_peer, msg);
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
