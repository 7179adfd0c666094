/*
 * conf_lun.h: what conf.c and conf_lun.c (the parameters of a Lun line)
 * share.  Internal to the ietd.conf(5) parser; everything else includes
 * conf.h.
 */
#ifndef IETD_CONF_LUN_H
#define IETD_CONF_LUN_H

#include <stdarg.h>
#include <stdbool.h>

#include "conf.h"

/*
 * Fill cl (its cl_id set) from the words after "Lun <n>": defaults, then
 * each Name=value.  Each error is logged as "file:line: message" and
 * counted in *errors; -1 only when out of memory.
 */
int	conf_lun_params(struct conf_lun *, char *const *argv, int argc,
	    const char *file, int line, int *errors);

/* conf.c */
void	conf_vlog(const char *file, int line, int error, const char *fmt,
	    va_list);
bool	conf_printable(const char *);

#endif
