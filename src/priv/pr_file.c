/*
 * pr_file.c: the APTPL state of persistent reservations (SPC-4 5.13.4),
 * one text file per LUN in the state directory (ietd.conf StateDir,
 * default /var/lib/ietd), named "<target>,<lun>.pr" with every byte of
 * the target name outside [A-Za-z0-9.:-] written as %XX:
 *
 *	# ietd persistent reservations: APTPL state
 *	version 1
 *	generation <n>
 *	register <key> <all_tg_pt 0|1> <TransportID>
 *	reservation <type> <TransportID of the holder | all>
 *	end
 *
 * <key> is 0x and 16 hex digits, a TransportID "name" or
 * "name,i,0x<isid>".  A write goes to "<file>.tmp", is fsync'd, renamed
 * over the file and the directory fsync'd: after a crash the file is the
 * old state or the new one, never a mix.  A LUN whose state is no longer
 * APTPL has its file removed the same way.
 *
 * At start-up, as root and before any session, every configured LUN's
 * file is loaded.  A file that cannot be read or parsed stops ietd with
 * "file:line: what is wrong": starting without it would silently drop
 * reservations a cluster relies on to fence a node.  Move it aside to
 * start without it.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "log.h"
#include "priv/pr.h"

#define PR_FILE_VERSION	1
#define PR_FILE_LINE	(ISCSI_NAME_MAX + 128)

static char	*state_dir;

/* "<dir>/<target>,<lun>.pr" into buf; -1 if it does not fit. */
static int
file_name(const char *target, uint32_t lun, char *buf, size_t len)
{
	static const char	 hex[] = "0123456789ABCDEF";
	char			 t[3 * ISCSI_NAME_MAX + 1], *q = t;
	const unsigned char	*p;
	int			 n;

	for (p = (const unsigned char *)target; *p != '\0' &&
	    q < t + sizeof(t) - 4; p++) {
		if (isalnum(*p) || *p == '.' || *p == ':' || *p == '-')
			*q++ = *p;
		else {
			*q++ = '%';
			*q++ = hex[*p >> 4];
			*q++ = hex[*p & 0x0f];
		}
	}
	*q = '\0';
	n = snprintf(buf, len, "%s/%s,%u.pr", state_dir, t, lun);
	return (n < 0 || (size_t)n >= len ? -1 : 0);
}

static void
tid_str(const struct pr_reg *rg, char *buf, size_t len)
{
	static const uint8_t	any[6];

	if (memcmp(rg->pg_isid, any, 6) == 0)
		strlcpy(buf, rg->pg_name, len);
	else
		snprintf(buf, len, "%s,i,0x%02x%02x%02x%02x%02x%02x",
		    rg->pg_name, rg->pg_isid[0], rg->pg_isid[1],
		    rg->pg_isid[2], rg->pg_isid[3], rg->pg_isid[4],
		    rg->pg_isid[5]);
}

/* The file's text; NULL when out of memory. */
static char *
state_text(const struct lun_state *st)
{
	char	*buf, tid[ISCSI_NAME_MAX + 32];
	size_t	 len = 128 + st->ls_nregs * (sizeof(tid) + 64), off;
	size_t	 i;

	if ((buf = malloc(len)) == NULL)
		return (NULL);
	off = snprintf(buf, len, "# ietd persistent reservations: APTPL "
	    "state\nversion %d\ngeneration %" PRIu32 "\n", PR_FILE_VERSION,
	    st->ls_generation);
	for (i = 0; i < st->ls_nregs; i++) {
		tid_str(&st->ls_regs[i], tid, sizeof(tid));
		off += snprintf(buf + off, len - off,
		    "register 0x%016" PRIx64 " %d %s\n",
		    st->ls_regs[i].pg_key, st->ls_regs[i].pg_all_tg_pt, tid);
	}
	if (st->ls_resvd) {
		if (st->ls_holder < 0)
			strlcpy(tid, "all", sizeof(tid));
		else
			tid_str(&st->ls_regs[st->ls_holder], tid, sizeof(tid));
		off += snprintf(buf + off, len - off, "reservation %u %s\n",
		    st->ls_type, tid);
	}
	snprintf(buf + off, len - off, "end\n");
	return (buf);
}

static int
sync_dir(void)
{
	int	fd, rv;

	if ((fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		log_warn("%s", state_dir);
		return (-1);
	}
	if ((rv = fsync(fd)) == -1)
		log_warn("%s: fsync", state_dir);
	close(fd);
	return (rv);
}

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		p += n;
		len -= n;
	}
	return (0);
}

static int
write_atomic(const char *path, const char *text)
{
	char	tmp[PATH_MAX];
	int	fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >=
	    sizeof(tmp)) {
		log_warnx("%s: name too long", path);
		return (-1);
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		log_warn("%s", tmp);
		return (-1);
	}
	if (write_all(fd, text, strlen(text)) == -1 || fsync(fd) == -1) {
		log_warn("%s", tmp);
		close(fd);
		unlink(tmp);
		return (-1);
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		log_warn("%s", tmp);
		unlink(tmp);
		return (-1);
	}
	return (sync_dir());
}

int
pr_file_save(struct lun *lun, struct lun_state *st,
    const struct lun_target *lt)
{
	char	*text;
	int	 rv;

	if (state_dir == NULL || lt == NULL) {
		log_warnx("lun %u: APTPL: no state directory", lun->lun_id);
		return (-1);
	}
	if (st->ls_file == NULL) {
		if ((st->ls_file = malloc(PATH_MAX)) == NULL) {
			log_warn("APTPL");
			return (-1);
		}
		if (file_name(lt->lt_name, lun->lun_id, st->ls_file,
		    PATH_MAX) == -1) {
			log_warnx("%s: lun %u: state file name too long",
			    lt->lt_name, lun->lun_id);
			free(st->ls_file);
			st->ls_file = NULL;
			return (-1);
		}
	}
	if (!st->ls_aptpl) {
		if (unlink(st->ls_file) == -1 && errno != ENOENT) {
			log_warn("%s", st->ls_file);
			return (-1);
		}
		return (sync_dir());
	}
	if ((text = state_text(st)) == NULL) {
		log_warn("APTPL");
		return (-1);
	}
	rv = write_atomic(st->ls_file, text);
	free(text);
	if (rv == 0)
		log_debug(1, "%s: saved", st->ls_file);
	return (rv);
}

/*
 * Loading.
 */
struct load {
	const char	*ld_path;
	int		 ld_line;
	struct lun_state *ld_st;
	bool		 ld_version, ld_end;
};

static int
load_err(struct load *ld, const char *what)
{
	log_warnx("%s:%d: %s", ld->ld_path, ld->ld_line, what);
	return (-1);
}

/* A TransportID string into rg (name and ISID); -1 if malformed. */
static int
tid_parse(const char *s, struct pr_reg *rg)
{
	const char	*comma;
	unsigned int	 b;
	size_t		 i;

	memset(rg, 0, sizeof(*rg));
	if ((comma = strchr(s, ',')) == NULL) {
		if (*s == '\0' || strlcpy(rg->pg_name, s,
		    sizeof(rg->pg_name)) >= sizeof(rg->pg_name))
			return (-1);
		return (0);
	}
	if (comma == s || (size_t)(comma - s) >= sizeof(rg->pg_name) ||
	    strlen(comma) != 17 || strncmp(comma, ",i,0x", 5) != 0)
		return (-1);
	memcpy(rg->pg_name, s, comma - s);
	for (i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)comma[5 + 2 * i]) ||
		    !isxdigit((unsigned char)comma[6 + 2 * i]) ||
		    sscanf(comma + 5 + 2 * i, "%2x", &b) != 1)
			return (-1);
		rg->pg_isid[i] = b;
	}
	if (memcmp(rg->pg_isid, "\0\0\0\0\0\0", 6) == 0)
		return (-1);
	return (0);
}

static int
parse_u64(const char *s, int base, uint64_t max, uint64_t *v)
{
	char	*end;

	if (*s == '\0' || *s == '-' || *s == '+' || isspace((unsigned char)*s))
		return (-1);
	errno = 0;
	*v = strtoull(s, &end, base);
	return (errno != 0 || *end != '\0' || *v > max ? -1 : 0);
}

static int
load_register(struct load *ld, char **w, int n)
{
	struct lun_state	*st = ld->ld_st;
	struct pr_reg		 rg, *regs;
	uint64_t		 v;
	size_t			 i;

	if (n != 4)
		return (load_err(ld, "register: want key, all_tg_pt and "
		    "TransportID"));
	if (tid_parse(w[3], &rg) == -1)
		return (load_err(ld, "register: bad TransportID"));
	if (strncmp(w[1], "0x", 2) != 0 || strlen(w[1]) != 18 ||
	    parse_u64(w[1] + 2, 16, UINT64_MAX, &rg.pg_key) == -1 ||
	    rg.pg_key == 0)
		return (load_err(ld, "register: bad key"));
	if (parse_u64(w[2], 10, 1, &v) == -1)
		return (load_err(ld, "register: all_tg_pt is not 0 or 1"));
	rg.pg_all_tg_pt = v;
	for (i = 0; i < st->ls_nregs; i++)
		if (strcmp(st->ls_regs[i].pg_name, rg.pg_name) == 0 &&
		    memcmp(st->ls_regs[i].pg_isid, rg.pg_isid, 6) == 0)
			return (load_err(ld, "register: registered twice"));
	if (st->ls_nregs == PR_REG_MAX)
		return (load_err(ld, "register: too many registrations"));
	if ((regs = reallocarray(st->ls_regs, st->ls_nregs + 1,
	    sizeof(*regs))) == NULL)
		return (load_err(ld, strerror(errno)));
	st->ls_regs = regs;
	regs[st->ls_nregs++] = rg;
	return (0);
}

static int
load_reservation(struct load *ld, char **w, int n)
{
	struct lun_state	*st = ld->ld_st;
	struct pr_reg		 rg;
	uint64_t		 t;
	size_t			 i;
	bool			 ar;

	if (n != 3)
		return (load_err(ld, "reservation: want type and holder"));
	if (st->ls_resvd)
		return (load_err(ld, "reservation: given twice"));
	if (parse_u64(w[1], 10, 15, &t) == -1 || (t != PR_TYPE_WE &&
	    t != PR_TYPE_EA && t != PR_TYPE_WE_RO && t != PR_TYPE_EA_RO &&
	    t != PR_TYPE_WE_AR && t != PR_TYPE_EA_AR))
		return (load_err(ld, "reservation: bad type"));
	ar = t == PR_TYPE_WE_AR || t == PR_TYPE_EA_AR;
	st->ls_holder = -1;
	if (ar) {
		if (strcmp(w[2], "all") != 0 || st->ls_nregs == 0)
			return (load_err(ld, "reservation: an all registrants "
			    "type is held by \"all\" registrants"));
	} else {
		if (tid_parse(w[2], &rg) == -1)
			return (load_err(ld, "reservation: bad TransportID"));
		for (i = 0; i < st->ls_nregs; i++)
			if (strcmp(st->ls_regs[i].pg_name, rg.pg_name) == 0 &&
			    memcmp(st->ls_regs[i].pg_isid, rg.pg_isid, 6) == 0)
				st->ls_holder = (int)i;
		if (st->ls_holder < 0)
			return (load_err(ld, "reservation: the holder is not "
			    "registered"));
	}
	st->ls_resvd = true;
	st->ls_type = t;
	return (0);
}

/* Split line into at most max words at spaces. */
static int
split(char *line, char **w, int max)
{
	int	n = 0;
	char	*p;

	while ((p = strsep(&line, " ")) != NULL) {
		if (*p == '\0')
			continue;
		if (n == max)
			return (max + 1);
		w[n++] = p;
	}
	return (n);
}

static int
load_line(struct load *ld, char *line)
{
	char		*w[5];
	uint64_t	 v;
	int		 n;

	if (line[0] == '#' || line[0] == '\0')
		return (0);
	if (ld->ld_end)
		return (load_err(ld, "text after \"end\""));
	if ((n = split(line, w, 4)) > 4)
		return (load_err(ld, "too many words"));
	if (n == 0)
		return (0);
	if (!ld->ld_version) {
		if (n != 2 || strcmp(w[0], "version") != 0 ||
		    parse_u64(w[1], 10, INT_MAX, &v) == -1 ||
		    v != PR_FILE_VERSION)
			return (load_err(ld, "want \"version 1\" first"));
		ld->ld_version = true;
		return (0);
	}
	if (strcmp(w[0], "generation") == 0 && n == 2) {
		if (parse_u64(w[1], 10, UINT32_MAX, &v) == -1)
			return (load_err(ld, "bad generation"));
		ld->ld_st->ls_generation = v;
		return (0);
	}
	if (strcmp(w[0], "register") == 0)
		return (load_register(ld, w, n));
	if (strcmp(w[0], "reservation") == 0)
		return (load_reservation(ld, w, n));
	if (strcmp(w[0], "end") == 0 && n == 1) {
		ld->ld_end = true;
		return (0);
	}
	return (load_err(ld, "unknown line"));
}

static int
load_text(struct load *ld, char *text)
{
	char	*line;

	while ((line = strsep(&text, "\n")) != NULL) {
		ld->ld_line++;
		if (text == NULL && *line == '\0')
			break;
		if (strlen(line) > PR_FILE_LINE)
			return (load_err(ld, "line too long"));
		if (load_line(ld, line) == -1)
			return (-1);
	}
	if (!ld->ld_end)
		return (load_err(ld, "truncated: no \"end\" line"));
	return (0);
}

/* Read a whole small file; NULL with *missing set if it is not there. */
static char *
read_file(const char *path, bool *missing)
{
	struct stat	 sb;
	char		*buf;
	ssize_t		 n;
	size_t		 max = PR_FILE_MAX;
	int		 fd;

	*missing = false;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			*missing = true;
		else
			log_warn("%s", path);
		return (NULL);
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    (size_t)sb.st_size > max) {
		log_warnx("%s: not a regular file of at most %zu bytes", path,
		    max);
		close(fd);
		return (NULL);
	}
	if ((buf = calloc(1, sb.st_size + 1)) == NULL ||
	    (n = read(fd, buf, sb.st_size)) != sb.st_size) {
		log_warn("%s: read", path);
		free(buf);
		close(fd);
		return (NULL);
	}
	close(fd);
	if (memchr(buf, '\0', sb.st_size) != NULL) {
		log_warnx("%s: NUL byte in the file", path);
		free(buf);
		return (NULL);
	}
	return (buf);
}

static int
load_lun(const struct lun_target *lt, struct lun *lun)
{
	struct lun_state	*st;
	struct load		 ld;
	char			 path[PATH_MAX], tmp[PATH_MAX + 8], *text;
	bool			 missing;
	int			 rv;

	if (file_name(lt->lt_name, lun->lun_id, path, sizeof(path)) == -1) {
		log_warnx("%s: lun %u: state file name too long", lt->lt_name,
		    lun->lun_id);
		return (-1);
	}
	/* A write interrupted by a crash left its temporary file. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (unlink(tmp) == 0)
		log_info("%s: removed an unfinished write", tmp);
	if ((text = read_file(path, &missing)) == NULL)
		return (missing ? 0 : -1);
	if ((st = lun_state_get(lun)) == NULL) {
		free(text);
		return (-1);
	}
	memset(&ld, 0, sizeof(ld));
	ld.ld_path = path;
	ld.ld_st = st;
	rv = load_text(&ld, text);
	free(text);
	if (rv == -1)
		return (-1);
	st->ls_aptpl = true;
	atomic_store(&st->ls_guarded, st->ls_nregs > 0);
	if ((st->ls_file = strdup(path)) == NULL)
		return (-1);
	log_info("%s: %zu registration(s), %s", path, st->ls_nregs,
	    st->ls_resvd ? "reserved" : "not reserved");
	return (0);
}

int
pr_file_load(const struct lun_target *lt, struct lun *lun)
{
	if (state_dir == NULL)
		return (0);
	return (load_lun(lt, lun));
}

/* mkdir -p, the last component 0700. */
static int
make_dir(const char *dir)
{
	char	 buf[PATH_MAX], *p;

	if (strlcpy(buf, dir, sizeof(buf)) >= sizeof(buf)) {
		log_warnx("%s: name too long", dir);
		return (-1);
	}
	for (p = buf + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST) {
			log_warn("%s", buf);
			return (-1);
		}
		*p = '/';
	}
	if (mkdir(buf, 0700) == -1 && errno != EEXIST) {
		log_warn("%s", buf);
		return (-1);
	}
	return (0);
}

int
pr_file_init(struct lun_table *tab, const char *dir)
{
	struct stat	sb;
	size_t		i, j;

	free(state_dir);
	if ((state_dir = strdup(dir)) == NULL) {
		log_warn("state directory");
		return (-1);
	}
	if (make_dir(dir) == -1)
		return (-1);
	if (stat(dir, &sb) == -1) {
		log_warn("%s", dir);
		return (-1);
	}
	if (!S_ISDIR(sb.st_mode)) {
		log_warnx("%s: not a directory", dir);
		return (-1);
	}
	for (i = 0; i < tab->lt_ntargets; i++)
		for (j = 0; j < tab->lt_targets[i].lt_nluns; j++)
			if (load_lun(&tab->lt_targets[i],
			    tab->lt_targets[i].lt_luns[j]) == -1)
				return (-1);
	return (0);
}
