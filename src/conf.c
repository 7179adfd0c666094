/*
 * conf.c: the ietd.conf(5) parser (IET syntax).
 *
 * The file is read whole, split into physical lines, joined into logical
 * lines (a trailing backslash continues a line), cut into words and
 * dispatched through keywords[].  Session keys are not in the table: they
 * go to param_conf_set(), which owns their names, values and ranges.
 * Every error is logged as "file:line: message" and parsing goes on, so
 * that one run reports as many mistakes as possible; conf_parse then
 * returns NULL.  conf_verify checks what needs the whole file.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>
#include <bsd/vis.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "acl.h"
#include "chap.h"
#include "conf.h"
#include "conf_lun.h"
#include "log.h"
#include "param.h"
#include "util.h"

#define CONF_LINE_MAX	4096		/* bytes in one (logical) line */
#define CONF_FILE_MAX	(16 * 1024 * 1024)
#define CONF_WORDS_MAX	32		/* words in one line */
#define CONF_NAME_MAX	223		/* RFC 7143 iSCSI name length */
#define CONF_ALIAS_MAX	255		/* TargetAlias: a text value */
#define CONF_USER_MAX	255		/* CHAP_N */
#define CONF_SECRET_MAX	255
#define CONF_SECRET_MIN	12		/* RFC 7143 section 12.1.3: 96 bits */

struct words {
	int		 w_argc;
	char		*w_argv[CONF_WORDS_MAX];
	const char	*w_rest[CONF_WORDS_MAX];  /* line from word i on */
};

struct parse {
	struct conf		*ps_conf;
	struct conf_target	*ps_target;	/* current Target block */
	const char		*ps_name;
	int			 ps_line;
	int			 ps_errors;
	uint32_t		 ps_tid;
};

#define KW_GLOBAL	0x1
#define KW_TARGET	0x2

struct keyword {
	const char	*kw_name;
	int		 kw_where;
	int		 kw_minargs;	/* not counting the keyword */
	int		 kw_maxargs;	/* -1: no limit */
	const char	*kw_usage;
	int		(*kw_fn)(struct parse *, const struct keyword *,
			    const struct words *);
};

static int	kw_target(struct parse *, const struct keyword *,
		    const struct words *);
static int	kw_user(struct parse *, const struct keyword *,
		    const struct words *);
static int	kw_alias(struct parse *, const struct keyword *,
		    const struct words *);
static int	kw_lun(struct parse *, const struct keyword *,
		    const struct words *);
static int	kw_type(struct parse *, const struct keyword *,
		    const struct words *);
static int	kw_ignored(struct parse *, const struct keyword *,
		    const struct words *);
static int	kw_acl(struct parse *, const struct keyword *,
		    const struct words *);
static int	kw_chap_algs(struct parse *, const struct keyword *,
		    const struct words *);
static int	kw_statedir(struct parse *, const struct keyword *,
		    const struct words *);
static int	kw_wthreads(struct parse *, const struct keyword *,
		    const struct words *);
static int	kw_iothreads(struct parse *, const struct keyword *,
		    const struct words *);

/*
 * IET's keywords.  The iSNS keywords are accepted so that IET
 * configurations still load, and ignored with a warning.
 */
static const struct keyword keywords[] = {
	{ "Target", KW_GLOBAL | KW_TARGET, 1, 1, "Target <name>",
	    kw_target },
	{ "IncomingUser", KW_GLOBAL | KW_TARGET, 2, 2,
	    "IncomingUser <name> <secret>", kw_user },
	{ "OutgoingUser", KW_GLOBAL | KW_TARGET, 2, 2,
	    "OutgoingUser <name> <secret>", kw_user },
	{ "Alias", KW_TARGET, 1, -1, "Alias <text>", kw_alias },
	{ "Lun", KW_TARGET, 2, -1,
	    "Lun <n> Path=<path>,Type=fileio|blockio|nullio[,...]", kw_lun },
	{ "Type", KW_TARGET, 1, 1, "Type 0", kw_type },
	{ "InitiatorAllow", KW_GLOBAL | KW_TARGET, 1, -1,
	    "InitiatorAllow <name|address[/prefix]|regex|ALL>[, ...]",
	    kw_acl },
	{ "InitiatorDeny", KW_GLOBAL | KW_TARGET, 1, -1,
	    "InitiatorDeny <name|address[/prefix]|regex|ALL>[, ...]",
	    kw_acl },
	{ "CHAPAlgorithms", KW_GLOBAL | KW_TARGET, 1, -1,
	    "CHAPAlgorithms <SHA3-256|SHA-256|SHA-1|MD5>[,...]",
	    kw_chap_algs },
	{ "Wthreads", KW_TARGET, 1, 1, "Wthreads <1-128>", kw_wthreads },
	{ "IOThreads", KW_GLOBAL, 1, 1, "IOThreads <1-64>", kw_iothreads },
	{ "StateDir", KW_GLOBAL, 1, 1, "StateDir <absolute path>",
	    kw_statedir },
	{ "iSNSServer", KW_GLOBAL, 1, 1, "iSNSServer <address>",
	    kw_ignored },
	{ "iSNSAccessControl", KW_GLOBAL, 1, 1, "iSNSAccessControl Yes|No",
	    kw_ignored },
};

static void	conf_err(struct parse *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	conf_warn(struct parse *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/* Messages quote the file: escape what a terminal would interpret. */
void
conf_vlog(const char *name, int line, int error, const char *fmt, va_list ap)
{
	char	 raw[512], msg[4 * sizeof(raw) + 1];

	(void)vsnprintf(raw, sizeof(raw), fmt, ap);
	(void)strnvis(msg, raw, sizeof(msg), VIS_OCTAL | VIS_CSTYLE |
	    VIS_TAB | VIS_NL | VIS_NOSLASH);
	if (line > 0)
		log_warnx("%s:%d: %s%s", name, line,
		    error ? "" : "warning: ", msg);
	else
		log_warnx("%s: %s%s", name, error ? "" : "warning: ", msg);
}

static void
conf_err(struct parse *ps, int line, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	conf_vlog(ps->ps_name, line, 1, fmt, ap);
	va_end(ap);
	ps->ps_errors++;
}

static void
conf_warn(struct parse *ps, int line, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	conf_vlog(ps->ps_name, line, 0, fmt, ap);
	va_end(ap);
}

/*
 * Memory.
 */

static void
conf_freestr(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void
conf_users_free(struct conf_users *users)
{
	struct conf_user	*cu;

	while ((cu = TAILQ_FIRST(users)) != NULL) {
		TAILQ_REMOVE(users, cu, cu_entry);
		free(cu->cu_name);
		conf_freestr(cu->cu_secret);
		free(cu);
	}
}

static void
conf_target_free(struct conf_target *ct)
{
	struct conf_lun		*cl;

	while ((cl = TAILQ_FIRST(&ct->ct_luns)) != NULL) {
		TAILQ_REMOVE(&ct->ct_luns, cl, cl_entry);
		free(cl->cl_path);
		free(cl);
	}
	conf_users_free(&ct->ct_in_users);
	conf_users_free(&ct->ct_out_users);
	free(ct->ct_name);
	free(ct->ct_alias);
	free(ct);
}

void
conf_free(struct conf *conf)
{
	struct conf_target	*ct;

	if (conf == NULL)
		return;
	while ((ct = TAILQ_FIRST(&conf->conf_targets)) != NULL) {
		TAILQ_REMOVE(&conf->conf_targets, ct, ct_entry);
		conf_target_free(ct);
	}
	conf_users_free(&conf->conf_in_users);
	conf_users_free(&conf->conf_out_users);
	acl_free(conf->conf_acl);
	free(conf->conf_path);
	free(conf->conf_state_dir);
	free(conf);
}

static struct conf *
conf_new(const char *name)
{
	struct conf	*conf;

	if ((conf = calloc(1, sizeof(*conf))) == NULL)
		return (NULL);
	TAILQ_INIT(&conf->conf_targets);
	TAILQ_INIT(&conf->conf_in_users);
	TAILQ_INIT(&conf->conf_out_users);
	if ((conf->conf_path = strdup(name)) == NULL ||
	    (conf->conf_acl = acl_new()) == NULL) {
		free(conf->conf_path);
		free(conf);
		return (NULL);
	}
	return (conf);
}

/*
 * Values.
 */

static const char *
conf_visc(int c, char *buf, size_t len)
{
	if (isprint((unsigned char)c))
		(void)snprintf(buf, len, "'%c'", c);
	else
		(void)snprintf(buf, len, "0x%02x", (unsigned char)c);
	return (buf);
}

static bool
conf_ishex(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return (false);
	return (s[n] == '\0');
}

/*
 * Check an iSCSI name (RFC 3720 3.2.6, RFC 3722, RFC 3980).  The name is
 * folded to lower case first, as RFC 3722's stringprep profile does; the
 * caller warns when that changed it.  Returns NULL, or what is wrong.
 */
static const char *
conf_name_check(char *name, bool *folded, char *why, size_t whylen)
{
	size_t	 i, len;
	char	 cbuf[8];
	char	*p;

	*folded = false;
	len = strlen(name);
	if (len == 0)
		return ("empty target name");
	if (len > CONF_NAME_MAX) {
		(void)snprintf(why, whylen,
		    "target name is too long (%zu bytes, at most %d)",
		    len, CONF_NAME_MAX);
		return (why);
	}
	for (i = 0; i < len; i++) {
		if (isupper((unsigned char)name[i])) {
			name[i] = tolower((unsigned char)name[i]);
			*folded = true;
		}
		if (!islower((unsigned char)name[i]) &&
		    !isdigit((unsigned char)name[i]) &&
		    name[i] != '-' && name[i] != '.' && name[i] != ':') {
			(void)snprintf(why, whylen,
			    "invalid character %s in target name",
			    conf_visc(name[i], cbuf, sizeof(cbuf)));
			return (why);
		}
	}
	if (strncmp(name, "eui.", 4) == 0) {
		if (!conf_ishex(name + 4, 16))
			return ("eui. name needs exactly 16 hex digits");
		return (NULL);
	}
	if (strncmp(name, "naa.", 4) == 0) {
		if (!conf_ishex(name + 4, 16) && !conf_ishex(name + 4, 32))
			return ("naa. name needs 16 or 32 hex digits");
		return (NULL);
	}
	if (strncmp(name, "iqn.", 4) != 0)
		return ("target name must begin with iqn., eui. or naa.");
	/* iqn.yyyy-mm.naming-authority[:unique] */
	p = name + 4;
	for (i = 0; i < 7; i++)
		if (i == 4 ? p[i] != '-' : !isdigit((unsigned char)p[i]))
			break;
	if (i < 7 || p[7] != '.' ||
	    (p[5] - '0') * 10 + (p[6] - '0') < 1 ||
	    (p[5] - '0') * 10 + (p[6] - '0') > 12)
		return ("iqn. name needs a date (iqn.yyyy-mm.)");
	p += 8;
	if (*p == '\0' || *p == ':' || *p == '.')
		return ("iqn. name needs a naming authority after the date");
	return (NULL);
}

bool
conf_printable(const char *s)
{
	for (; *s != '\0'; s++)
		if (!isprint((unsigned char)*s))
			return (false);
	return (true);
}

/*
 * Keywords.
 */

static int
kw_target(struct parse *ps, const struct keyword *kw, const struct words *w)
{
	struct conf_target	*ct;
	const char		*errstr;
	char			 why[128];
	bool			 folded;

	if ((ct = calloc(1, sizeof(*ct))) == NULL)
		return (-1);
	TAILQ_INIT(&ct->ct_luns);
	TAILQ_INIT(&ct->ct_in_users);
	TAILQ_INIT(&ct->ct_out_users);
	if ((ct->ct_name = strdup(w->w_argv[1])) == NULL) {
		free(ct);
		return (-1);
	}
	ct->ct_tid = ++ps->ps_tid;
	ct->ct_line = ps->ps_line;
	param_conf_defaults(ct->ct_params);
	/* A broken name still opens a block, so that its lines parse. */
	TAILQ_INSERT_TAIL(&ps->ps_conf->conf_targets, ct, ct_entry);
	ps->ps_conf->conf_ntargets++;
	ps->ps_target = ct;

	errstr = conf_name_check(ct->ct_name, &folded, why, sizeof(why));
	if (errstr != NULL)
		conf_err(ps, ps->ps_line, "%s: %s", w->w_argv[1], errstr);
	else if (folded)
		conf_warn(ps, ps->ps_line, "target name %s folded to %s",
		    w->w_argv[1], ct->ct_name);
	return (0);
}

static int
kw_user(struct parse *ps, const struct keyword *kw, const struct words *w)
{
	struct conf_users	*list;
	struct conf_user	*cu;
	const char		*name = w->w_argv[1], *secret = w->w_argv[2];
	bool			 in;

	in = strcasecmp(kw->kw_name, "IncomingUser") == 0;
	if (ps->ps_target != NULL)
		list = in ? &ps->ps_target->ct_in_users :
		    &ps->ps_target->ct_out_users;
	else
		list = in ? &ps->ps_conf->conf_in_users :
		    &ps->ps_conf->conf_out_users;

	if (strlen(name) > CONF_USER_MAX) {
		conf_err(ps, ps->ps_line, "%s: user name is too long "
		    "(at most %d bytes)", kw->kw_name, CONF_USER_MAX);
		return (0);
	}
	if (strlen(secret) > CONF_SECRET_MAX) {
		conf_err(ps, ps->ps_line, "%s %s: secret is too long "
		    "(at most %d bytes)", kw->kw_name, name, CONF_SECRET_MAX);
		return (0);
	}
	if (!in && (cu = TAILQ_FIRST(list)) != NULL) {
		conf_err(ps, ps->ps_line, "OutgoingUser: only one allowed "
		    "per %s (already given at line %d)",
		    ps->ps_target != NULL ? "target" : "discovery",
		    cu->cu_line);
		return (0);
	}
	if (strlen(secret) < CONF_SECRET_MIN)
		conf_warn(ps, ps->ps_line, "%s %s: secret is shorter than "
		    "%d bytes; many initiators refuse it", kw->kw_name, name,
		    CONF_SECRET_MIN);

	if ((cu = calloc(1, sizeof(*cu))) == NULL)
		return (-1);
	if ((cu->cu_name = strdup(name)) == NULL ||
	    (cu->cu_secret = strdup(secret)) == NULL) {
		free(cu->cu_name);
		free(cu);
		return (-1);
	}
	cu->cu_line = ps->ps_line;
	TAILQ_INSERT_TAIL(list, cu, cu_entry);
	return (0);
}

static int
kw_alias(struct parse *ps, const struct keyword *kw, const struct words *w)
{
	struct conf_target	*ct = ps->ps_target;
	const char		*text = w->w_rest[1];
	size_t			 len;

	/* The alias is the rest of the line, spaces included. */
	len = strlen(text);
	while (len > 0 && isspace((unsigned char)text[len - 1]))
		len--;
	if (len > CONF_ALIAS_MAX) {
		conf_err(ps, ps->ps_line, "Alias is too long "
		    "(at most %d bytes)", CONF_ALIAS_MAX);
		return (0);
	}
	if (ct->ct_alias != NULL) {
		conf_err(ps, ps->ps_line, "Alias given twice for target %s",
		    ct->ct_name);
		return (0);
	}
	if ((ct->ct_alias = strndup(text, len)) == NULL)
		return (-1);
	if (!conf_printable(ct->ct_alias))
		conf_err(ps, ps->ps_line, "Alias contains a control "
		    "character");
	return (0);
}

static int
kw_type(struct parse *ps, const struct keyword *kw, const struct words *w)
{
	/* IET's target Type (SCSI device type): only disks exist here. */
	if (strcmp(w->w_argv[1], "0") != 0)
		conf_err(ps, ps->ps_line, "Type %s: only Type 0 (disk) is "
		    "supported", w->w_argv[1]);
	return (0);
}

static int
kw_ignored(struct parse *ps, const struct keyword *kw,
    const struct words *w)
{
	conf_warn(ps, ps->ps_line, "%s is not supported by ietd and is "
	    "ignored", kw->kw_name);
	return (0);
}

/* StateDir: where persistent reservations with APTPL are kept. */
static int
kw_statedir(struct parse *ps, const struct keyword *kw,
    const struct words *w)
{
	const char	*dir = w->w_argv[1];

	if (ps->ps_conf->conf_state_dir != NULL) {
		conf_err(ps, ps->ps_line, "StateDir given twice");
		return (0);
	}
	if (dir[0] != '/' || strlen(dir) > 1024 || !conf_printable(dir)) {
		conf_err(ps, ps->ps_line, "StateDir %s: want an absolute path "
		    "of printable characters, at most 1024 bytes", dir);
		return (0);
	}
	if ((ps->ps_conf->conf_state_dir = strdup(dir)) == NULL)
		return (-1);
	return (0);
}

/* "<keyword> <n>": a thread count from 1 to max, into *out (0 if bad). */
static void
kw_count(struct parse *ps, const struct keyword *kw, const struct words *w,
    int max, uint32_t *out)
{
	const char	*errstr;

	*out = strtonum(w->w_argv[1], 1, max, &errstr);
	if (errstr != NULL)
		conf_err(ps, ps->ps_line, "%s %s: %s (want 1 to %d)",
		    kw->kw_name, w->w_argv[1], errstr, max);
}

/* Wthreads <n>: I/O threads, as IET's per-target worker threads. */
static int
kw_wthreads(struct parse *ps, const struct keyword *kw,
    const struct words *w)
{
	kw_count(ps, kw, w, CONF_WTHREADS_MAX, &ps->ps_target->ct_wthreads);
	return (0);
}

/* IOThreads <n>: io's reactor threads. */
static int
kw_iothreads(struct parse *ps, const struct keyword *kw,
    const struct words *w)
{
	if (ps->ps_conf->conf_reactors != 0) {
		conf_err(ps, ps->ps_line, "IOThreads given twice");
		return (0);
	}
	kw_count(ps, kw, w, CONF_REACTORS_MAX, &ps->ps_conf->conf_reactors);
	return (0);
}

uint32_t
conf_reactors(const struct conf *conf)
{
	long	 n;

	if (conf->conf_reactors != 0)
		return (conf->conf_reactors);
	if ((n = sysconf(_SC_NPROCESSORS_ONLN)) < 1)
		n = 1;
	return (n > CONF_REACTORS_MAX ? CONF_REACTORS_MAX : (uint32_t)n);
}

uint32_t
conf_io_threads(const struct conf *conf)
{
	const struct conf_target	*ct;
	uint32_t			 n = 0;

	TAILQ_FOREACH(ct, &conf->conf_targets, ct_entry)
		if (ct->ct_wthreads > n)
			n = ct->ct_wthreads;
	return (n != 0 ? n : CONF_WTHREADS_DEFAULT);
}

/*
 * InitiatorAllow / InitiatorDeny <entry>[, <entry>...]: a rule for the
 * current target, or for every target before the first one (acl.c).
 */
static int
kw_acl(struct parse *ps, const struct keyword *kw, const struct words *w)
{
	char	 list[CONF_LINE_MAX + 1], why[256];
	int	 i;

	list[0] = '\0';
	for (i = 1; i < w->w_argc; i++) {
		(void)strlcat(list, w->w_argv[i], sizeof(list));
		(void)strlcat(list, " ", sizeof(list));
	}
	if (acl_add(ps->ps_conf->conf_acl,
	    strcasecmp(kw->kw_name, "InitiatorAllow") == 0,
	    ps->ps_target != NULL ? ps->ps_target->ct_name : NULL, list,
	    ps->ps_name, ps->ps_line, why, sizeof(why)) == -1)
		conf_err(ps, ps->ps_line, "%s: %s", kw->kw_name, why);
	return (0);
}

/* CHAPAlgorithms <alg>[,<alg>...]: the order CHAP_A is chosen by. */
static int
kw_chap_algs(struct parse *ps, const struct keyword *kw,
    const struct words *w)
{
	struct conf_target	*ct = ps->ps_target;
	uint32_t		*np, n = 0, j;
	int			*dst, alg, i;
	char			*p, *tok;

	dst = ct != NULL ? ct->ct_chap_order : ps->ps_conf->conf_chap_order;
	np = ct != NULL ? &ct->ct_nchap_order :
	    &ps->ps_conf->conf_nchap_order;
	if (*np != 0) {
		conf_err(ps, ps->ps_line, "CHAPAlgorithms given twice");
		return (0);
	}
	for (i = 1; i < w->w_argc; i++)
		for (p = w->w_argv[i]; (tok = strsep(&p, ",")) != NULL;) {
			if (*tok == '\0')
				continue;
			if ((alg = chap_alg_byname(tok)) == -1) {
				conf_err(ps, ps->ps_line, "CHAPAlgorithms: "
				    "unknown algorithm %s (expected SHA3-256, "
				    "SHA-256, SHA-1 or MD5)", tok);
				return (0);
			}
			for (j = 0; j < n && dst[j] != alg; j++)
				;
			if (j < n) {
				conf_err(ps, ps->ps_line, "CHAPAlgorithms: "
				    "%s given twice", chap_alg_name(alg));
				return (0);
			}
			dst[n++] = alg;
		}
	if (n == 0)
		conf_err(ps, ps->ps_line, "CHAPAlgorithms: no algorithm");
	*np = n;
	return (0);
}

static int
kw_lun(struct parse *ps, const struct keyword *kw, const struct words *w)
{
	struct conf_lun	*cl;
	const char	*errstr;

	if ((cl = calloc(1, sizeof(*cl))) == NULL)
		return (-1);
	cl->cl_line = ps->ps_line;
	TAILQ_INSERT_TAIL(&ps->ps_target->ct_luns, cl, cl_entry);
	cl->cl_id = strtonum(w->w_argv[1], 0, CONF_LUN_MAX - 1, &errstr);
	if (errstr != NULL) {
		conf_err(ps, ps->ps_line, "Lun %s: LUN number is %s "
		    "(0-%d)", w->w_argv[1], errstr, CONF_LUN_MAX - 1);
		return (0);
	}
	return (conf_lun_params(cl, w->w_argv + 2, w->w_argc - 2,
	    ps->ps_name, ps->ps_line, &ps->ps_errors));
}

/*
 * Session keys (HeaderDigest, MaxBurstLength, ...): names, values and
 * ranges belong to param.c.  Returns false if `key' is not one.
 */
static bool
conf_session_key(struct parse *ps, const struct words *w)
{
	const struct param_def	*pd = NULL;
	const char		*errstr = NULL;
	int			 i;

	for (i = 0; i < P__COUNT; i++) {
		pd = param_def_get(i);
		if (pd != NULL && pd->pd_name != NULL &&
		    strcasecmp(pd->pd_name, w->w_argv[0]) == 0)
			break;
	}
	if (i == P__COUNT)
		return (false);
	if (ps->ps_target == NULL) {
		/* IET had session keys only per target. */
		conf_err(ps, ps->ps_line, "%s is only valid inside a Target "
		    "block", pd->pd_name);
		return (true);
	}
	if (w->w_argc != 2) {
		conf_err(ps, ps->ps_line, "%s: %s (usage: %s <value>)",
		    pd->pd_name, w->w_argc < 2 ? "missing value" :
		    "too many arguments", pd->pd_name);
		return (true);
	}
	if (param_conf_set(ps->ps_target->ct_params, pd->pd_name,
	    w->w_argv[1], &errstr) == -1) {
		if (errstr != NULL && strcmp(errstr, "unknown key") == 0)
			return (false);
		conf_err(ps, ps->ps_line, "%s %s: %s", pd->pd_name,
		    w->w_argv[1], errstr != NULL ? errstr : "invalid value");
	}
	return (true);
}

/*
 * Lines.
 */

static int
conf_split(struct parse *ps, char *tok, const char *raw, struct words *w)
{
	char	*p = tok;

	w->w_argc = 0;
	for (;;) {
		while (*p != '\0' && isspace((unsigned char)*p))
			p++;
		if (*p == '\0' || *p == '#')	/* '#' starts a comment */
			break;
		if (w->w_argc == CONF_WORDS_MAX) {
			conf_err(ps, ps->ps_line, "too many words (at most "
			    "%d)", CONF_WORDS_MAX);
			return (-1);
		}
		w->w_argv[w->w_argc] = p;
		w->w_rest[w->w_argc] = raw + (p - tok);
		w->w_argc++;
		while (*p != '\0' && !isspace((unsigned char)*p))
			p++;
		if (*p != '\0')
			*p++ = '\0';
	}
	return (0);
}

/* One logical line, NUL-terminated. */
static int
conf_line(struct parse *ps, const char *raw)
{
	const struct keyword	*kw = NULL;
	struct words		 w;
	char			 tok[CONF_LINE_MAX + 1];
	size_t			 i, len;
	int			 rv = 0;

	len = strlen(raw);
	memcpy(tok, raw, len + 1);
	if (conf_split(ps, tok, raw, &w) == -1 || w.w_argc == 0)
		goto out;

	for (i = 0; i < nitems(keywords); i++)
		if (strcasecmp(w.w_argv[0], keywords[i].kw_name) == 0) {
			kw = &keywords[i];
			break;
		}
	if (kw == NULL) {
		if (!conf_session_key(ps, &w))
			conf_err(ps, ps->ps_line, "unknown keyword %s",
			    w.w_argv[0]);
		goto out;
	}
	if (ps->ps_target == NULL && !(kw->kw_where & KW_GLOBAL)) {
		conf_err(ps, ps->ps_line, "%s is only valid inside a Target "
		    "block", kw->kw_name);
		goto out;
	}
	if (ps->ps_target != NULL && !(kw->kw_where & KW_TARGET)) {
		conf_err(ps, ps->ps_line, "%s is only valid before the "
		    "first Target", kw->kw_name);
		goto out;
	}
	if (w.w_argc - 1 < kw->kw_minargs ||
	    (kw->kw_maxargs != -1 && w.w_argc - 1 > kw->kw_maxargs)) {
		conf_err(ps, ps->ps_line, "%s: %s (usage: %s)", kw->kw_name,
		    w.w_argc - 1 < kw->kw_minargs ? "missing argument" :
		    "too many arguments", kw->kw_usage);
		goto out;
	}
	rv = kw->kw_fn(ps, kw, &w);
	if (rv == -1)
		conf_err(ps, ps->ps_line, "out of memory");
out:
	explicit_bzero(tok, len);		/* may hold a secret */
	return (rv);
}

/* A line whose first non-blank character is '#'. */
static bool
conf_comment(const char *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n && isspace((unsigned char)p[i]); i++)
		;
	return (i < n && p[i] == '#');
}

struct conf *
conf_parse_buf(const char *name, const char *buf, size_t len)
{
	struct parse	 ps;
	char		 logical[CONF_LINE_MAX + 1];
	const char	*p, *nl;
	size_t		 pos = 0, n, llen = 0;
	int		 line = 0, start = 0;
	bool		 cont, skip = false, oom = false;

	memset(&ps, 0, sizeof(ps));
	ps.ps_name = name;
	if ((ps.ps_conf = conf_new(name)) == NULL) {
		log_warnx("%s: out of memory", name);
		return (NULL);
	}

	while (pos < len) {
		line++;
		p = buf + pos;
		nl = memchr(p, '\n', len - pos);
		n = nl != NULL ? (size_t)(nl - p) : len - pos;
		pos += n + (nl != NULL);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (llen == 0 && !skip)
			start = line;
		if (memchr(p, '\0', n) != NULL) {
			conf_err(&ps, line, "line contains a NUL byte");
			skip = true;
		} else if (n > CONF_LINE_MAX) {
			conf_err(&ps, line, "line is too long (more than %d "
			    "bytes)", CONF_LINE_MAX);
			skip = true;
		}
		if (skip) {
			/* Drop the whole logical line this belongs to. */
			cont = n > 0 && p[n - 1] == '\\';
			llen = 0;
			skip = cont;
			continue;
		}
		if (conf_comment(p, n))
			continue;
		cont = n > 0 && p[n - 1] == '\\';
		if (cont)
			n--;
		if (llen + n + cont > CONF_LINE_MAX) {
			conf_err(&ps, start, "line is too long (more than %d "
			    "bytes)", CONF_LINE_MAX);
			llen = 0;
			skip = cont;
			continue;
		}
		memcpy(logical + llen, p, n);
		llen += n;
		if (cont) {
			logical[llen++] = ' ';
			continue;
		}
		ps.ps_line = start;
		logical[llen] = '\0';
		llen = 0;
		if (conf_line(&ps, logical) == -1) {
			oom = true;
			break;
		}
	}
	if (llen > 0 && !oom) {
		/* A backslash on the last line. */
		ps.ps_line = start;
		logical[llen] = '\0';
		(void)conf_line(&ps, logical);
	}
	explicit_bzero(logical, sizeof(logical));

	if (ps.ps_errors > 0) {
		conf_free(ps.ps_conf);
		return (NULL);
	}
	return (ps.ps_conf);
}

/* IET's initiators.allow and initiators.deny, next to the file. */
static int
conf_acl_files(struct acl *acl, const char *path)
{
	char		 file[PATH_MAX];
	const char	*slash;
	int		 dirlen, errors;

	if ((slash = strrchr(path, '/')) != NULL)
		dirlen = slash - path + 1;
	else
		dirlen = 0;
	if ((size_t)snprintf(file, sizeof(file), "%.*sinitiators.allow",
	    dirlen, path) >= sizeof(file)) {
		log_warnx("%s: path is too long", path);
		return (1);
	}
	errors = acl_load(acl, file, true);
	(void)snprintf(file, sizeof(file), "%.*sinitiators.deny", dirlen,
	    path);
	return (errors + acl_load(acl, file, false));
}

struct conf *
conf_parse(const char *path)
{
	struct acl	*acl;
	struct conf	*conf;
	struct stat	 st;
	char		*buf;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;

	/* O_NONBLOCK: a FIFO must not hang us before the S_ISREG check. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd == -1) {
		log_warn("%s", path);
		return (NULL);
	}
	if (fstat(fd, &st) == -1) {
		log_warn("%s", path);
		close(fd);
		return (NULL);
	}
	if (!S_ISREG(st.st_mode)) {
		log_warnx("%s: not a regular file", path);
		close(fd);
		return (NULL);
	}
	if (st.st_mode & (S_IRGRP | S_IROTH))
		log_warnx("%s: warning: readable by group or others, but it "
		    "may hold CHAP secrets (chmod 600 it)", path);
	if (st.st_size > CONF_FILE_MAX) {
		log_warnx("%s: file is too large (more than %d bytes)", path,
		    CONF_FILE_MAX);
		close(fd);
		return (NULL);
	}
	if ((buf = malloc(st.st_size + 1)) == NULL) {
		log_warnx("%s: out of memory", path);
		close(fd);
		return (NULL);
	}
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, st.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			log_warn("%s: read", path);
			freezero(buf, st.st_size + 1);
			close(fd);
			return (NULL);
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	conf = conf_parse_buf(path, buf, len);
	freezero(buf, st.st_size + 1);		/* it held the secrets */
	if (conf == NULL) {
		/* Report the files' errors too, in one run. */
		if ((acl = acl_new()) != NULL)
			(void)conf_acl_files(acl, path);
		acl_free(acl);
		return (NULL);
	}
	if (conf_acl_files(conf->conf_acl, path) > 0) {
		conf_free(conf);
		return (NULL);
	}
	return (conf);
}

/*
 * Checks on the whole configuration.
 */

static int
conf_verify_users(const struct conf *conf, const struct conf_users *users,
    const char *what)
{
	const struct conf_user	*cu, *cu2;
	int			 errors = 0;

	TAILQ_FOREACH(cu, users, cu_entry) {
		if (cu->cu_name == NULL || cu->cu_name[0] == '\0' ||
		    cu->cu_secret == NULL || cu->cu_secret[0] == '\0') {
			log_warnx("%s:%d: %s: empty user name or secret",
			    conf->conf_path, cu->cu_line, what);
			errors++;
			continue;
		}
		for (cu2 = TAILQ_FIRST(users); cu2 != cu;
		    cu2 = TAILQ_NEXT(cu2, cu_entry))
			if (cu2->cu_name != NULL &&
			    strcmp(cu2->cu_name, cu->cu_name) == 0) {
				log_warnx("%s:%d: %s %s already configured "
				    "at line %d", conf->conf_path, cu->cu_line,
				    what, cu->cu_name, cu2->cu_line);
				errors++;
				break;
			}
	}
	return (errors);
}

static int
conf_verify_luns(const struct conf *conf, const struct conf_target *ct)
{
	const struct conf_lun	*cl, *cl2;
	const char		*path = conf->conf_path;
	int			 errors = 0;

	TAILQ_FOREACH(cl, &ct->ct_luns, cl_entry) {
		for (cl2 = TAILQ_FIRST(&ct->ct_luns); cl2 != cl;
		    cl2 = TAILQ_NEXT(cl2, cl_entry))
			if (cl2->cl_id == cl->cl_id) {
				/* IET's wording */
				log_warnx("%s:%d: lun %u:%u already "
				    "configured", path, cl->cl_line,
				    ct->ct_tid, cl->cl_id);
				errors++;
				break;
			}
		if (cl->cl_type == LUN_NULLIO && cl->cl_path != NULL) {
			log_warnx("%s:%d: Lun %u: Path is not valid with "
			    "Type=nullio", path, cl->cl_line, cl->cl_id);
			errors++;
		}
		if (cl->cl_type != LUN_NULLIO && cl->cl_path == NULL) {
			log_warnx("%s:%d: Lun %u: Path missing (needed with "
			    "Type=%s)", path, cl->cl_line, cl->cl_id,
			    cl->cl_type == LUN_FILEIO ? "fileio" : "blockio");
			errors++;
		}
		if (cl->cl_blocksize != 512 && cl->cl_blocksize != 4096) {
			log_warnx("%s:%d: Lun %u: BlockSize %u: expected 512 "
			    "or 4096", path, cl->cl_line, cl->cl_id,
			    cl->cl_blocksize);
			errors++;
		}
	}
	return (errors);
}

/* A rule for a target name that is not configured: a warning. */
static void
conf_verify_acl(const struct conf *conf)
{
	const struct acl_rule	*ar;

	TAILQ_FOREACH(ar, &conf->conf_acl->acl_rules, ar_entry)
		if (ar->ar_target.ap_kind == ACL_NAME &&
		    conf_target_find(conf, ar->ar_target.ap_text) == NULL)
			log_warnx("%s:%d: warning: no target named %s",
			    ar->ar_file, ar->ar_line, ar->ar_target.ap_text);
}

int
conf_verify(struct conf *conf)
{
	const struct conf_target *ct, *ct2;
	const char		*path = conf->conf_path;
	int			 errors = 0;

	errors += conf_verify_users(conf, &conf->conf_in_users,
	    "IncomingUser");
	errors += conf_verify_users(conf, &conf->conf_out_users,
	    "OutgoingUser");
	TAILQ_FOREACH(ct, &conf->conf_targets, ct_entry) {
		for (ct2 = TAILQ_FIRST(&conf->conf_targets); ct2 != ct;
		    ct2 = TAILQ_NEXT(ct2, ct_entry))
			if (strcasecmp(ct2->ct_name, ct->ct_name) == 0) {
				log_warnx("%s:%d: target %s already "
				    "configured at line %d", path,
				    ct->ct_line, ct->ct_name, ct2->ct_line);
				errors++;
				break;
			}
		if (TAILQ_EMPTY(&ct->ct_luns))
			log_warnx("%s:%d: warning: target %s has no LUNs",
			    path, ct->ct_line, ct->ct_name);
		errors += conf_verify_luns(conf, ct);
		errors += conf_verify_users(conf, &ct->ct_in_users,
		    "IncomingUser");
		errors += conf_verify_users(conf, &ct->ct_out_users,
		    "OutgoingUser");
		if (ct->ct_params[P_FIRST_BURST] >
		    ct->ct_params[P_MAX_BURST]) {
			log_warnx("%s:%d: target %s: FirstBurstLength %u "
			    "exceeds MaxBurstLength %u", path, ct->ct_line,
			    ct->ct_name, ct->ct_params[P_FIRST_BURST],
			    ct->ct_params[P_MAX_BURST]);
			errors++;
		}
	}
	conf_verify_acl(conf);
	return (errors > 0 ? -1 : 0);
}

static void
conf_scrub_users(struct conf_users *users)
{
	struct conf_user	*cu;

	TAILQ_FOREACH(cu, users, cu_entry)
		if (cu->cu_secret != NULL)
			explicit_bzero(cu->cu_secret, strlen(cu->cu_secret));
}

void
conf_scrub_secrets(struct conf *conf)
{
	struct conf_target	*ct;

	conf_scrub_users(&conf->conf_in_users);
	conf_scrub_users(&conf->conf_out_users);
	TAILQ_FOREACH(ct, &conf->conf_targets, ct_entry) {
		conf_scrub_users(&ct->ct_in_users);
		conf_scrub_users(&ct->ct_out_users);
	}
}

struct conf_target *
conf_target_find(const struct conf *conf, const char *name)
{
	struct conf_target	*ct;

	/*
	 * Names are kept folded to lower case (RFC 3722), so name is folded
	 * here, ASCII only as strcasecmp in the C locale: by hand, because
	 * a worker looks its target up and strcasecmp's code and locale
	 * table are two more pages for each one to fault in.
	 */
	TAILQ_FOREACH(ct, &conf->conf_targets, ct_entry) {
		const char	*a = ct->ct_name, *b = name;

		while (*a != '\0' && *a == (*b >= 'A' && *b <= 'Z' ?
		    *b - 'A' + 'a' : *b)) {
			a++;
			b++;
		}
		if (*a == '\0' && *b == '\0')
			return (ct);
	}
	return (NULL);
}

struct conf_target *
conf_target_find_tid(const struct conf *conf, uint32_t tid)
{
	struct conf_target	*ct;

	TAILQ_FOREACH(ct, &conf->conf_targets, ct_entry)
		if (ct->ct_tid == tid)
			return (ct);
	return (NULL);
}

size_t
conf_chap_order(const struct conf *conf, uint32_t tid, const int **order)
{
	const struct conf_target	*ct;

	if (tid != 0 && (ct = conf_target_find_tid(conf, tid)) != NULL &&
	    ct->ct_nchap_order != 0) {
		*order = ct->ct_chap_order;
		return (ct->ct_nchap_order);
	}
	*order = conf->conf_nchap_order != 0 ? conf->conf_chap_order : NULL;
	return (conf->conf_nchap_order);
}
