/*
 * conf_lun.c: the parameters of an ietd.conf(5) Lun line, for conf.c.
 */

#include <sys/types.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "conf_lun.h"
#include "util.h"

/* Where the Lun line is, for "file:line: message". */
struct lun_ctx {
	const char	*lx_file;
	int		 lx_line;
	int		*lx_errors;
};

static void	lun_err(struct lun_ctx *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
lun_err(struct lun_ctx *lx, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	conf_vlog(lx->lx_file, lx->lx_line, 1, fmt, ap);
	va_end(ap);
	(*lx->lx_errors)++;
}

/*
 * Lun <n> Path=<path>,Type=fileio|blockio|nullio[,IOMode=wb|wt|ro]
 *     [,BlockSize=512|4096][,ScsiId=<id>][,ScsiSN=<sn>][,Sectors=<n>]
 *     [,Thin=auto|yes|no][,SanitizeRate=<MiB/s>]
 * Parameters are separated by commas; IET allowed no blanks, ietd also
 * takes blanks as separators.
 */

#define LP_PATH		0x01
#define LP_TYPE		0x02
#define LP_IOMODE	0x04
#define LP_BLOCKSIZE	0x08
#define LP_SCSIID	0x10
#define LP_SCSISN	0x20
#define LP_SECTORS	0x40
#define LP_THIN		0x80
#define LP_SANITIZE_RATE 0x100

static const struct {
	const char	*lp_name;
	int		 lp_flag;
} lun_params[] = {
	{ "Path", LP_PATH },
	{ "Type", LP_TYPE },
	{ "IOMode", LP_IOMODE },
	{ "BlockSize", LP_BLOCKSIZE },
	{ "ScsiId", LP_SCSIID },
	{ "ScsiSN", LP_SCSISN },
	{ "Sectors", LP_SECTORS },
	{ "Thin", LP_THIN },
	{ "SanitizeRate", LP_SANITIZE_RATE },
};

static int
lun_param(struct lun_ctx *lx, struct conf_lun *cl, int *seen, char *item)
{
	const char	*errstr, *pname;
	char		*val;
	size_t		 i;
	int		 flag;

	if ((val = strchr(item, '=')) == NULL) {
		lun_err(lx, "Lun %u: %s: expected "
		    "<parameter>=<value>", cl->cl_id, item);
		return (0);
	}
	*val++ = '\0';
	for (i = 0; i < nitems(lun_params); i++)
		if (strcasecmp(item, lun_params[i].lp_name) == 0)
			break;
	if (i == nitems(lun_params)) {
		lun_err(lx, "Lun %u: unknown parameter %s",
		    cl->cl_id, item);
		return (0);
	}
	flag = lun_params[i].lp_flag;
	pname = lun_params[i].lp_name;
	if (*seen & flag) {
		lun_err(lx, "Lun %u: %s given twice",
		    cl->cl_id, pname);
		return (0);
	}
	*seen |= flag;
	if (*val == '\0') {
		lun_err(lx, "Lun %u: %s: empty value",
		    cl->cl_id, pname);
		return (0);
	}

	switch (flag) {
	case LP_PATH:
		if (*val != '/')
			lun_err(lx, "Lun %u: Path %s: not an "
			    "absolute path", cl->cl_id, val);
		else if (strlen(val) >= PATH_MAX)
			lun_err(lx, "Lun %u: Path is too long",
			    cl->cl_id);
		else if ((cl->cl_path = strdup(val)) == NULL)
			return (-1);
		break;
	case LP_TYPE:
		if (strcasecmp(val, "fileio") == 0)
			cl->cl_type = LUN_FILEIO;
		else if (strcasecmp(val, "blockio") == 0)
			cl->cl_type = LUN_BLOCKIO;
		else if (strcasecmp(val, "nullio") == 0)
			cl->cl_type = LUN_NULLIO;
		else
			lun_err(lx, "Lun %u: Type %s: expected "
			    "fileio, blockio or nullio", cl->cl_id, val);
		break;
	case LP_IOMODE:
		if (strcasecmp(val, "wb") == 0)
			cl->cl_iomode = IOMODE_WB;
		else if (strcasecmp(val, "wt") == 0)
			cl->cl_iomode = IOMODE_WT;
		else if (strcasecmp(val, "ro") == 0)
			cl->cl_iomode = IOMODE_RO;
		else
			lun_err(lx, "Lun %u: IOMode %s: expected "
			    "wb, wt or ro", cl->cl_id, val);
		break;
	case LP_BLOCKSIZE:
		if (strcmp(val, "512") == 0)
			cl->cl_blocksize = 512;
		else if (strcmp(val, "4096") == 0)
			cl->cl_blocksize = 4096;
		else
			lun_err(lx, "Lun %u: BlockSize %s: "
			    "expected 512 or 4096", cl->cl_id, val);
		break;
	case LP_SCSIID:
	case LP_SCSISN:
		if (strlen(val) > (flag == LP_SCSIID ? SCSI_ID_MAX :
		    SCSI_SN_MAX))
			lun_err(lx, "Lun %u: %s is too long "
			    "(at most %d characters)", cl->cl_id, pname,
			    flag == LP_SCSIID ? SCSI_ID_MAX : SCSI_SN_MAX);
		else if (!conf_printable(val))
			lun_err(lx, "Lun %u: %s contains a "
			    "control character", cl->cl_id, pname);
		else if (flag == LP_SCSIID)
			(void)strlcpy(cl->cl_scsi_id, val,
			    sizeof(cl->cl_scsi_id));
		else
			(void)strlcpy(cl->cl_scsi_sn, val,
			    sizeof(cl->cl_scsi_sn));
		break;
	case LP_SECTORS:
		/* Keep sectors * 4096 within an off_t. */
		cl->cl_sectors = strtonum(val, 1, LLONG_MAX / 4096, &errstr);
		if (errstr != NULL)
			lun_err(lx, "Lun %u: Sectors %s is %s",
			    cl->cl_id, val, errstr);
		break;
	case LP_THIN:
		if (strcasecmp(val, "auto") == 0)
			cl->cl_thin = THIN_AUTO;
		else if (strcasecmp(val, "yes") == 0)
			cl->cl_thin = THIN_YES;
		else if (strcasecmp(val, "no") == 0)
			cl->cl_thin = THIN_NO;
		else
			lun_err(lx, "Lun %u: Thin %s: expected "
			    "auto, yes or no", cl->cl_id, val);
		break;
	case LP_SANITIZE_RATE:
		cl->cl_sanitize_rate = strtonum(val, 0,
		    CONF_SANITIZE_RATE_MAX, &errstr);
		if (errstr != NULL)
			lun_err(lx, "Lun %u: SanitizeRate %s is %s (0-%d "
			    "MiB per second)", cl->cl_id, val, errstr,
			    CONF_SANITIZE_RATE_MAX);
		break;
	}
	return (0);
}

int
conf_lun_params(struct conf_lun *cl, char *const *argv, int argc,
    const char *file, int line, int *errors)
{
	struct lun_ctx	 lx = { file, line, errors };
	char		*item, *list;
	int		 i, seen = 0;

	cl->cl_type = LUN_FILEIO;		/* IET's default */
	cl->cl_iomode = IOMODE_WB;	/* IET's was wt; see ietd.conf(5) */
	cl->cl_blocksize = 512;
	for (i = 0; i < argc; i++) {
		list = argv[i];
		while ((item = strsep(&list, ",")) != NULL) {
			if (*item == '\0')
				continue;
			if (lun_param(&lx, cl, &seen, item) == -1)
				return (-1);
		}
	}
	if ((seen & LP_SECTORS) && cl->cl_type != LUN_NULLIO)
		lun_err(&lx, "Lun %u: Sectors is only valid with "
		    "Type=nullio", cl->cl_id);
	return (0);
}
