/*
 * log.h: logging for every role (syslog LOG_DAEMON, or stderr in the
 * foreground).  Levels follow ietd(8): level 0 messages are always
 * logged (log_info), level 1 and 2 only with -d/-l 1 or 2 (log_debug).
 */
#ifndef IETD_LOG_H
#define IETD_LOG_H

#include <stdarg.h>
#include <stddef.h>

#ifndef __dead
#define __dead __attribute__((__noreturn__))
#endif

void	log_init(int foreground, int facility);
void	log_procinit(const char *name);
/* What fatal() calls: exit by default; the worker uses _exit. */
void	log_set_exit(void (*)(int));
void	log_setverbose(int level);
int	log_getverbose(void);
/* Prefix every later message with "<addr> (<initiator>): "; NULL clears. */
void	log_setpeer(const char *addr, const char *initiator);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(int level, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* Hex and text lines of a buffer, at debug level `level' (IET's "BHS:"). */
void	log_hexdump(int level, const char *label, const void *, size_t);
__dead void fatal(const char *, ...) __attribute__((format(printf, 1, 2)));
__dead void fatalx(const char *, ...) __attribute__((format(printf, 1, 2)));

#endif
